//! Authentication and authorisation: passwords, sessions, API keys, CSRF, permissions,
//! and the request guards that are the only way to obtain a change [`Proof`].

pub mod guards;
pub mod password;
pub mod permissions;
pub mod proof;
pub mod session;

pub use guards::{need, Allowed, Change, FormChange, MetricsReader, SessionForm};
pub use proof::{Actor, Proof, Via};
pub use session::Caller;

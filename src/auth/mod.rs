//! Authentication, for requests: sign-in with throttling, sessions, API keys, CSRF, and
//! the request guards that are the only makers of a request's change proof
//! ([`crate::access::Proof::for_request`]).

pub mod guards;
pub mod key_cache;
pub mod session;

pub use guards::{need, Allowed, Change, FormChange, MetricsReader, SessionForm};
pub use session::Caller;

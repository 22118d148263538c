//! HTTP below `auth`, shared by the pages, the API and the request guards: errors as
//! responses ([`respond`]), request bodies read with limits and deadlines ([`body`]),
//! and Octopus's one space in paths ([`space`]).

pub mod body;
pub mod respond;
pub mod space;

pub use respond::*;
pub use space::*;

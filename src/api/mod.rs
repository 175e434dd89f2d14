//! The gRPC layer: tonic services that convert a request, call the domain, map the error and convert the
//! response — nothing else.

pub mod consolidation;
pub mod convert;
pub mod error;
pub mod raw_body;
pub mod submissions;
pub mod units;

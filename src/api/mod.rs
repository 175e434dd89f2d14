//! The gRPC layer: tonic services that convert a request, call the domain, map the error and convert the
//! response — nothing else. Authentication is one tower layer here (`auth`): a token or client certificate
//! becomes a principal in the request's extensions; the domain decides what it may do.

pub mod audit;
pub mod auth;
pub mod budgets;
pub mod codec;
pub mod consolidation;
pub mod convert;
pub mod error;
pub mod guard;
pub mod health;
pub mod observe;
#[cfg(test)]
mod pipeline_fuzz;
pub mod publication;
pub mod review;
pub mod submissions;
pub mod tokens;
pub mod units;

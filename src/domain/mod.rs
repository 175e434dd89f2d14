//! The domain: the pure model and its rules — disclosures, units, taxonomies, rules and validation, consolidation
//! arithmetic, who may do what (access), the review chain's transitions, the audit chain's hashing, tokens and
//! signatures. Nothing here knows gRPC, SQL or the store (a test checks it); the use cases in `service` combine
//! it with the store, the API converts wire messages into these types and the store persists them.

pub mod access;
pub mod audit;
pub mod budget;
pub mod catalogue;
pub mod consolidation;
pub mod disclosure;
pub mod error;
pub mod evaluation;
pub mod facts;
pub mod ids;
pub mod money;
pub mod registry;
pub mod review;
pub mod rules;
pub mod scoring;
pub mod signing;
pub mod submission;
pub mod taxonomy;
pub mod tokens;
pub mod unit;
pub mod validation;

//! The domain: disclosures, units, taxonomies, rules and validation; who may do what (access, tokens), the review
//! chain, the audit trail and signatures. Nothing here knows gRPC or SQL; the API converts wire messages into
//! these types and the store persists them.

pub mod access;
pub mod audit;
pub mod budget;
pub mod catalogue;
pub mod consolidation;
pub mod disclosure;
pub mod error;
pub mod evaluation;
pub mod events;
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

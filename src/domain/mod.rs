//! The domain: disclosures, units, taxonomies, rules and validation. Nothing here knows gRPC or SQL; the API
//! converts wire messages into these types and the store persists them.

pub mod budget;
pub mod consolidation;
pub mod disclosure;
pub mod error;
pub mod evaluation;
pub mod facts;
pub mod ids;
pub mod money;
pub mod registry;
pub mod rules;
pub mod scoring;
pub mod submission;
pub mod taxonomy;
pub mod unit;
pub mod validation;

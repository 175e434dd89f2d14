//! The use cases: what a caller asks of juesuan, carried out by combining the pure domain with the store — submit
//! and read versions, review, register units, budgets, tokens, the audit trail, the event feed, and the
//! consolidation kept current (with its checkpoints). The API and the CLI call these; these call `domain` and
//! `store`, never the other way round.

pub mod access;
pub mod audit;
pub mod budget;
pub mod consolidation;
pub mod error;
pub mod events;
pub mod publication;
pub mod registry;
pub mod review;
pub mod submission;
pub mod tokens;

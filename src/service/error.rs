//! The use cases' errors. The API maps each variant to one gRPC status (`api::error`); nothing here knows gRPC.

use crate::{
    domain::{access::Denied, error::FieldViolation},
    store::StoreError,
};

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is malformed or refers to what does not exist; nothing was changed.
    #[error("invalid request: {}", summarize(.0))]
    InvalidArgument(Vec<FieldViolation>),
    #[error("{what} {key} not found")]
    NotFound { what: &'static str, key: String },
    /// The caller may not do what it asked; says who asked what.
    #[error(transparent)]
    PermissionDenied(#[from] Denied),
    /// The request conflicts with what is stored (e.g. an idempotency key reused for another disclosure).
    /// The caller's credential stopped working during a long call (a watch): revoked, expired, or the service
    /// no longer enrolled.
    #[error(transparent)]
    Unauthenticated(#[from] crate::domain::tokens::AuthError),
    #[error("{0}")]
    AlreadyExists(String),
    /// The request is well-formed but the system is not in a state to accept it.
    #[error("{0}")]
    FailedPrecondition(String),
    /// An answer would need figures beyond the range the service computes exactly; says which.
    #[error("{0}")]
    OutOfRange(String),
    /// A shared resource is used up (e.g. open watches); a retry later may succeed.
    #[error("{0}")]
    Exhausted(String),
    /// Stored data no longer matches what the audit chain recorded of it (bytes swapped or damaged): it is not
    /// served, and the operator restores it.
    #[error("{0}")]
    DataLoss(String),
    #[error("storage failed")]
    Store(#[from] StoreError),
    /// A defect or a failed background task: the caller learns nothing of it, the log everything.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> ServiceError {
        ServiceError::InvalidArgument(vec![FieldViolation::new(field, description)])
    }
}

fn summarize(violations: &[FieldViolation]) -> String {
    match violations {
        [] => "no details".to_owned(),
        [one] => one.to_string(),
        [first, rest @ ..] => format!("{first} (and {} more)", rest.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_summarizes_all_violations() {
        let err = ServiceError::InvalidArgument(vec![
            FieldViolation::new("a", "first"),
            FieldViolation::new("b", "second"),
        ]);
        assert_eq!(err.to_string(), "invalid request: a: first (and 1 more)");
    }
}

//! The one mapping from domain errors to gRPC statuses. INVALID_ARGUMENT carries every field violation as
//! `google.rpc.BadRequest` details; INTERNAL says nothing of the cause to the caller, and logs all of it.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{
    access::Principal,
    error::{DomainError, FieldViolation},
};

/// The principal the authentication layer put on a request. A request without one reached a protected service
/// without going through the layer: refused, never served anonymously.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("no credentials"))
}

/// An error with all of its causes, for the log.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut chain = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        chain.push_str(": ");
        chain.push_str(&next.to_string());
        cause = next.source();
    }
    chain
}

/// Field violations under a request path ("disclosure", "unit"), as an INVALID_ARGUMENT status.
pub fn invalid_argument(violations: Vec<FieldViolation>, under: &str) -> Status {
    DomainError::InvalidArgument(violations.into_iter().map(|v| v.under(under)).collect()).into()
}

impl From<DomainError> for Status {
    fn from(error: DomainError) -> Status {
        match error {
            DomainError::InvalidArgument(violations) => {
                let message = DomainError::InvalidArgument(violations.clone()).to_string();
                let mut details = ErrorDetails::new();
                for violation in violations {
                    details.add_bad_request_violation(violation.field, violation.description);
                }
                Status::with_error_details(Code::InvalidArgument, message, details)
            }
            DomainError::NotFound { .. } => Status::not_found(error.to_string()),
            DomainError::PermissionDenied(denied) => Status::permission_denied(denied.to_string()),
            DomainError::AlreadyExists(message) => Status::already_exists(message),
            DomainError::FailedPrecondition(message) => Status::failed_precondition(message),
            DomainError::Store(source) => {
                tracing::error!(error = %chain(&source), "request failed in the store");
                Status::internal("internal error; the server's log has the cause")
            }
            DomainError::Internal(cause) => {
                tracing::error!(error = %cause, "request failed");
                Status::internal("internal error; the server's log has the cause")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn invalid_arguments_carry_bad_request_details() {
        let status = invalid_argument(
            vec![FieldViolation::new("cover.fiscal_year", "out of range")],
            "disclosure",
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let bad_request = details.bad_request().expect("BadRequest details");
        assert_eq!(
            bad_request.field_violations[0].field,
            "disclosure.cover.fiscal_year"
        );
        assert_eq!(bad_request.field_violations[0].description, "out of range");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status: Status =
            DomainError::Store(StoreError::Corrupt("secret path /var/x".into())).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
        let status: Status = DomainError::Internal("task panicked at /src/secret.rs".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn every_kind_has_its_code() {
        let cases = [
            (
                DomainError::NotFound {
                    what: "unit",
                    key: "x".into(),
                },
                Code::NotFound,
            ),
            (DomainError::AlreadyExists("k".into()), Code::AlreadyExists),
            (
                DomainError::FailedPrecondition("p".into()),
                Code::FailedPrecondition,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }
}

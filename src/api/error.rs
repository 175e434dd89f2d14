//! The one mapping from domain errors to gRPC statuses. INVALID_ARGUMENT carries every field violation as
//! `google.rpc.BadRequest` details; INTERNAL says nothing of the cause to the caller, and logs all of it.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::domain::{access::Principal, error::FieldViolation};
use crate::service::error::ServiceError;

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
    ServiceError::InvalidArgument(violations.into_iter().map(|v| v.under(under)).collect()).into()
}

/// Field violations put into an error's details; beyond them, the message says how many more there are.
pub const MAX_VIOLATIONS: usize = 20;
/// Bytes (UTF-8) of a field path or a description kept in an error's details.
const MAX_TEXT_BYTES: usize = 180;
/// Bytes (UTF-8) of a status message; percent-encoded, a Chinese character takes nine.
const MAX_MESSAGE_BYTES: usize = 300;

/// A text as an error may carry it: one line, at most `max` bytes of UTF-8, cut at a character. Errors must stay
/// far below the 16 KiB a client accepts in trailers, whatever the input, and never carry unbounded input.
fn bounded(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            out.push('…');
            return out;
        }
        out.push(c);
    }
    out
}

impl From<ServiceError> for Status {
    fn from(error: ServiceError) -> Status {
        let message = |text: &str| bounded(text, MAX_MESSAGE_BYTES);
        match error {
            ServiceError::InvalidArgument(violations) => {
                let violations: Vec<FieldViolation> = violations
                    .into_iter()
                    .map(|v| FieldViolation {
                        field: bounded(&v.field, MAX_TEXT_BYTES),
                        description: bounded(&v.description, MAX_TEXT_BYTES),
                    })
                    .collect();
                // "invalid request: FIELD: WHAT (and N more)", counting all of them; the count survives the cut.
                let more = match violations.len() {
                    0 | 1 => String::new(),
                    n => format!(" (and {} more)", n - 1),
                };
                let first =
                    ServiceError::InvalidArgument(violations.iter().take(1).cloned().collect())
                        .to_string();
                let text = format!("{}{more}", bounded(&first, MAX_MESSAGE_BYTES - more.len()));
                let mut details = ErrorDetails::new();
                for violation in violations.into_iter().take(MAX_VIOLATIONS) {
                    details.add_bad_request_violation(violation.field, violation.description);
                }
                Status::with_error_details(Code::InvalidArgument, text, details)
            }
            ServiceError::NotFound { .. } => Status::not_found(message(&error.to_string())),
            ServiceError::PermissionDenied(denied) => {
                Status::permission_denied(message(&denied.to_string()))
            }
            ServiceError::Unauthenticated(reason) => {
                Status::unauthenticated(message(&reason.to_string()))
            }
            ServiceError::AlreadyExists(text) => Status::already_exists(message(&text)),
            ServiceError::FailedPrecondition(text) => Status::failed_precondition(message(&text)),
            ServiceError::OutOfRange(text) => Status::out_of_range(message(&text)),
            ServiceError::Exhausted(text) => Status::resource_exhausted(message(&text)),
            ServiceError::DataLoss(text) => {
                tracing::error!(problem = %text, "stored data does not match the audit chain");
                Status::data_loss(message(&text))
            }
            ServiceError::Store(source) if source.is_unavailable() => {
                tracing::warn!(error = %chain(&source), "the store is unavailable");
                Status::unavailable("the database is unavailable; retry later")
            }
            ServiceError::Store(source) => {
                tracing::error!(error = %chain(&source), "request failed in the store");
                Status::internal("internal error; the server's log has the cause")
            }
            ServiceError::Internal(cause) => {
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
    fn errors_stay_small_whatever_the_input() {
        let violations: Vec<FieldViolation> = (0..5_000)
            .map(|i| {
                FieldViolation::new(
                    format!("tables[0].rows[{i}].{}", "栏".repeat(4_000)),
                    format!("bad\nvalue {}", "九".repeat(10_000)),
                )
            })
            .collect();
        let status: Status = ServiceError::InvalidArgument(violations).into();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert!(!status.message().contains('\n'));
        assert!(
            status.message().ends_with("(and 4999 more)"),
            "{}",
            status.message()
        );
        assert!(status.message().len() <= MAX_MESSAGE_BYTES + 3);
        let details = status.get_error_details();
        let listed = &details.bad_request().unwrap().field_violations;
        assert_eq!(listed.len(), MAX_VIOLATIONS);
        assert!(listed.iter().all(|v| v.field.len() <= MAX_TEXT_BYTES + 3));
        // Everything the client receives fits far inside a default client's 16 KiB of trailers.
        let http = status.into_http::<tonic::body::Body>();
        let size: usize = http
            .headers()
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(size < 16 * 1024, "{size} bytes of trailers");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let status: Status =
            ServiceError::Store(StoreError::Corrupt("secret path /var/x".into())).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
        let status: Status =
            ServiceError::Internal("task panicked at /src/secret.rs".into()).into();
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("secret"));
    }

    #[test]
    fn every_kind_has_its_code() {
        let cases = [
            (
                ServiceError::NotFound {
                    what: "unit",
                    key: "x".into(),
                },
                Code::NotFound,
            ),
            (ServiceError::AlreadyExists("k".into()), Code::AlreadyExists),
            (
                ServiceError::FailedPrecondition("p".into()),
                Code::FailedPrecondition,
            ),
        ];
        for (error, code) in cases {
            assert_eq!(Status::from(error).code(), code);
        }
    }
}

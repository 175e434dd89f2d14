//! The domain's errors. The API maps each variant to one gRPC status (`api::error`); nothing here knows gRPC.

use std::fmt;

use crate::{domain::access::Denied, store::StoreError};

/// A field of a request that cannot be accepted, with its path (proto field names, indexes in brackets:
/// "disclosure.tables[2].rows[5].code") and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: impl Into<String>, description: impl Into<String>) -> FieldViolation {
        FieldViolation {
            field: field.into(),
            description: description.into(),
        }
    }

    /// The same violation under a parent path: "code" under "tables[2]" is "tables[2].code".
    pub fn under(mut self, parent: &str) -> FieldViolation {
        self.field = match (parent.is_empty(), self.field.is_empty()) {
            (true, _) => self.field,
            (false, true) => parent.to_owned(),
            (false, false) => format!("{parent}.{}", self.field),
        };
        self
    }
}

/// A field path built only when a violation needs it: conversions walk every field of a large message, and
/// formatting "tables[3].rows[5].cells[2].value" for each valid cell would cost more than the checks.
#[derive(Clone, Copy)]
pub struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    name: &'a str,
    index: Option<usize>,
}

impl<'a> Path<'a> {
    pub const ROOT: Path<'static> = Path {
        parent: None,
        name: "",
        index: None,
    };

    /// `parent.name`.
    pub fn field(&'a self, name: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            index: None,
        }
    }

    /// `parent.name[index]`.
    pub fn item(&'a self, name: &'a str, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            name,
            index: Some(index),
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut wrote_parent = false;
        if let Some(parent) = self.parent {
            let rendered = parent.to_string();
            if !rendered.is_empty() {
                f.write_str(&rendered)?;
                wrote_parent = true;
            }
        }
        if !self.name.is_empty() {
            if wrote_parent {
                f.write_str(".")?;
            }
            f.write_str(self.name)?;
        }
        if let Some(index) = self.index {
            write!(f, "[{index}]")?;
        }
        Ok(())
    }
}

impl fmt::Display for FieldViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.description)
        } else {
            write!(f, "{}: {}", self.field, self.description)
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
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

impl DomainError {
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> DomainError {
        DomainError::InvalidArgument(vec![FieldViolation::new(field, description)])
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
    fn violations_nest_under_parent_paths() {
        let v = FieldViolation::new("code", "bad")
            .under("tables[2]")
            .under("disclosure");
        assert_eq!(v.field, "disclosure.tables[2].code");
        assert_eq!(
            FieldViolation::new("", "empty").under("disclosure").field,
            "disclosure"
        );
    }

    #[test]
    fn paths_render_only_what_was_walked() {
        let root = Path::ROOT;
        let tables = root.item("tables", 3);
        let rows = tables.item("rows", 5);
        assert_eq!(rows.field("code").to_string(), "tables[3].rows[5].code");
        assert_eq!(
            root.field("cover").field("unit_code").to_string(),
            "cover.unit_code"
        );
        assert_eq!(root.to_string(), "");
    }

    #[test]
    fn the_message_summarizes_all_violations() {
        let err = DomainError::InvalidArgument(vec![
            FieldViolation::new("a", "first"),
            FieldViolation::new("b", "second"),
        ]);
        assert_eq!(err.to_string(), "invalid request: a: first (and 1 more)");
    }
}

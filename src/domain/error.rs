//! Field violations: what in a request or a document cannot be accepted, by its path. The use cases gather
//! them into `service::error::ServiceError::InvalidArgument`.

use std::fmt;

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
}

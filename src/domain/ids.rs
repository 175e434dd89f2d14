//! Identifiers that arrive as text or numbers and are checked once, at the edge (parse, don't validate).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::money::excerpt;

/// Earliest fiscal year the service accepts: the 政府收支分类 reform year; nothing older is disclosed this way.
pub const FIRST_FISCAL_YEAR: u32 = 2007;
/// Latest fiscal year the service accepts, far enough ahead for budget systems that push next year's budgets.
pub const LAST_FISCAL_YEAR: u32 = 2100;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("fiscal year {0} is out of range {FIRST_FISCAL_YEAR}..={LAST_FISCAL_YEAR}")]
    YearOutOfRange(u32),
    #[error("is empty")]
    Empty,
    #[error("\"{0}\" is too long (at most {1} characters)")]
    TooLong(String, usize),
    #[error("\"{0}\" may contain only ASCII letters, digits, '-', '_' and '.'")]
    BadUnitCode(String),
    #[error("\"{0}\" is not a 6-digit administrative division code")]
    BadRegionCode(String),
    #[error("must be printable ASCII without spaces")]
    BadIdempotencyKey,
}

/// A fiscal (calendar) year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct FiscalYear(u32);

impl TryFrom<u32> for FiscalYear {
    type Error = IdError;

    fn try_from(year: u32) -> Result<FiscalYear, IdError> {
        FiscalYear::new(year)
    }
}

impl From<FiscalYear> for u32 {
    fn from(year: FiscalYear) -> u32 {
        year.0
    }
}

impl FiscalYear {
    pub fn new(year: u32) -> Result<FiscalYear, IdError> {
        if (FIRST_FISCAL_YEAR..=LAST_FISCAL_YEAR).contains(&year) {
            Ok(FiscalYear(year))
        } else {
            Err(IdError::YearOutOfRange(year))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }

    pub fn previous(self) -> Option<FiscalYear> {
        FiscalYear::new(self.0 - 1).ok()
    }
}

impl fmt::Display for FiscalYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A unit's code (单位代码): 1–32 characters of ASCII letters, digits, '-', '_' or '.'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UnitCode(String);

impl UnitCode {
    pub const MAX_LEN: usize = 32;

    pub fn parse(text: &str) -> Result<UnitCode, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(IdError::TooLong(excerpt(text), Self::MAX_LEN));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(IdError::BadUnitCode(excerpt(text)));
        }
        Ok(UnitCode(text.to_owned()))
    }

    /// Parses an optional code: the empty string means "none".
    pub fn parse_optional(text: &str) -> Result<Option<UnitCode>, IdError> {
        if text.is_empty() {
            Ok(None)
        } else {
            UnitCode::parse(text).map(Some)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UnitCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 财政区划: a 6-digit administrative division code such as "652300".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RegionCode(String);

impl RegionCode {
    pub fn parse(text: &str) -> Result<RegionCode, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::BadRegionCode(excerpt(text)));
        }
        Ok(RegionCode(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RegionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client-chosen key that makes a submission safe to retry: 1–128 printable ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 128;

    pub fn parse(text: &str) -> Result<IdempotencyKey, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(IdError::TooLong(excerpt(text), Self::MAX_LEN));
        }
        if !text.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(IdError::BadIdempotencyKey);
        }
        Ok(IdempotencyKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_years_outside_the_range_are_refused() {
        assert!(FiscalYear::new(2024).is_ok());
        assert_eq!(FiscalYear::new(1999), Err(IdError::YearOutOfRange(1999)));
        assert_eq!(FiscalYear::new(0), Err(IdError::YearOutOfRange(0)));
        assert!(FiscalYear::new(LAST_FISCAL_YEAR + 1).is_err());
        assert_eq!(
            FiscalYear::new(2024).unwrap().previous().unwrap().get(),
            2023
        );
    }

    #[test]
    fn unit_codes_are_short_plain_ascii() {
        assert!(UnitCode::parse("652300-001").is_ok());
        assert_eq!(UnitCode::parse(""), Err(IdError::Empty));
        assert!(matches!(
            UnitCode::parse("融媒体"),
            Err(IdError::BadUnitCode(_))
        ));
        assert!(matches!(
            UnitCode::parse("a b"),
            Err(IdError::BadUnitCode(_))
        ));
        assert!(matches!(
            UnitCode::parse(&"x".repeat(33)),
            Err(IdError::TooLong(..))
        ));
        assert_eq!(UnitCode::parse_optional("").unwrap(), None);
    }

    #[test]
    fn region_codes_have_six_digits() {
        assert!(RegionCode::parse("652300").is_ok());
        assert!(RegionCode::parse("65230").is_err());
        assert!(RegionCode::parse("65230a").is_err());
        assert_eq!(RegionCode::parse(""), Err(IdError::Empty));
    }

    #[test]
    fn idempotency_keys_are_printable() {
        assert!(IdempotencyKey::parse("2f1c7a3e-9b0d-4e55-8a60-0c1d2e3f4a5b").is_ok());
        assert_eq!(
            IdempotencyKey::parse("a key"),
            Err(IdError::BadIdempotencyKey)
        );
        assert_eq!(IdempotencyKey::parse(""), Err(IdError::Empty));
        assert!(IdempotencyKey::parse(&"k".repeat(129)).is_err());
    }
}

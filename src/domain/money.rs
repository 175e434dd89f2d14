//! Money and precision: decimal values as disclosed, and the intervals they stand for.
//!
//! A disclosed figure is rounded: "8190.84" (万元, two decimals) stands for every value in
//! [8190.835, 8190.845]. Identities between rounded figures are therefore checked on intervals (XBRL Calculations
//! 1.1): they hold when the interval computed from the parts overlaps the interval of the stated total. Counts are
//! exact and stand for themselves.
//!
//! Nothing here uses floats: values are `rust_decimal::Decimal`, which keeps the scale the submitter used.

use std::{fmt, str::FromStr};

use rust_decimal::Decimal;

/// Most digits a value may have (rust_decimal holds 28–29 significant digits; we keep one in reserve so that
/// sums of many values cannot overflow).
const MAX_DIGITS: usize = 26;

/// Why a text is not a decimal value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseValueError {
    #[error("is empty; write a number such as \"0.00\"")]
    Empty,
    #[error("\"{0}\" is not a plain decimal number: use digits, an optional leading '-' and an optional '.' (no thousands separators, exponents or signs such as '+')")]
    Malformed(String),
    #[error("\"{0}\" has more than {MAX_DIGITS} digits")]
    TooLong(String),
}

/// A decimal value exactly as disclosed, with its precision (its number of decimals) kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Value(Decimal);

impl TryFrom<String> for Value {
    type Error = ParseValueError;

    fn try_from(text: String) -> Result<Value, ParseValueError> {
        text.parse()
    }
}

impl From<Value> for String {
    fn from(value: Value) -> String {
        value.to_string()
    }
}

impl Value {
    pub const ZERO: Value = Value(Decimal::ZERO);

    /// The value as a decimal (with the disclosed scale).
    pub fn decimal(self) -> Decimal {
        self.0
    }

    /// Number of decimals as disclosed: 2 for "8190.84", 0 for "269".
    pub fn scale(self) -> u32 {
        self.0.scale()
    }

    pub fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    /// The interval this value stands for when it is a rounded figure: ± half a unit of its last decimal.
    pub fn rounded_interval(self) -> Interval {
        let half_ulp = Decimal::new(5, self.scale() + 1);
        Interval {
            lo: self.0 - half_ulp,
            hi: self.0 + half_ulp,
            nominal: self.0,
        }
    }

    /// The interval of an exact figure (a count): the value itself.
    pub fn exact_interval(self) -> Interval {
        Interval::exact(self.0)
    }

    /// Builds a value from a decimal that was computed (not disclosed).
    pub fn from_decimal(value: Decimal) -> Value {
        Value(value)
    }

    pub fn from_count(count: i64) -> Value {
        Value(Decimal::from(count))
    }
}

impl FromStr for Value {
    type Err = ParseValueError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ParseValueError::Empty);
        }
        let digits = text.strip_prefix('-').unwrap_or(text);
        let (int_part, frac_part) = match digits.split_once('.') {
            Some((int_part, frac_part)) => (int_part, Some(frac_part)),
            None => (digits, None),
        };
        let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(int_part) || frac_part.is_some_and(|f| !all_digits(f)) {
            return Err(ParseValueError::Malformed(text.to_owned()));
        }
        if int_part.len() + frac_part.map_or(0, str::len) > MAX_DIGITS {
            return Err(ParseValueError::TooLong(text.to_owned()));
        }
        Decimal::from_str_exact(text)
            .map(Value)
            .map_err(|_| ParseValueError::TooLong(text.to_owned()))
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A closed interval [lo, hi] of possible true values, with the nominal value it was computed from (what the
/// figures say when taken at face value; used to report "expected" and "difference").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    pub lo: Decimal,
    pub hi: Decimal,
    pub nominal: Decimal,
}

impl Interval {
    pub fn exact(value: Decimal) -> Interval {
        Interval {
            lo: value,
            hi: value,
            nominal: value,
        }
    }

    pub fn zero() -> Interval {
        Interval::exact(Decimal::ZERO)
    }

    /// Whether some true value lies in both intervals: the rounding-aware "equals".
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.lo <= other.hi && other.lo <= self.hi
    }

    /// Whether some value of `self` can be ≤ some value of `other`: the rounding-aware "≤".
    pub fn may_be_le(&self, other: &Interval) -> bool {
        self.lo <= other.hi
    }

    /// Whether some value of `self` can be < some value of `other`: the rounding-aware "<".
    pub fn may_be_lt(&self, other: &Interval) -> bool {
        self.lo < other.hi
    }

    pub fn checked_add(&self, other: &Interval) -> Option<Interval> {
        Some(Interval {
            lo: self.lo.checked_add(other.lo)?,
            hi: self.hi.checked_add(other.hi)?,
            nominal: self.nominal.checked_add(other.nominal)?,
        })
    }

    pub fn checked_sub(&self, other: &Interval) -> Option<Interval> {
        Some(Interval {
            lo: self.lo.checked_sub(other.hi)?,
            hi: self.hi.checked_sub(other.lo)?,
            nominal: self.nominal.checked_sub(other.nominal)?,
        })
    }

    pub fn checked_mul(&self, other: &Interval) -> Option<Interval> {
        let products = [
            self.lo.checked_mul(other.lo)?,
            self.lo.checked_mul(other.hi)?,
            self.hi.checked_mul(other.lo)?,
            self.hi.checked_mul(other.hi)?,
        ];
        Some(Interval {
            lo: products.iter().copied().min()?,
            hi: products.iter().copied().max()?,
            nominal: self.nominal.checked_mul(other.nominal)?,
        })
    }

    /// Division; `None` when the divisor's interval contains zero (the quotient is unbounded) or on overflow.
    pub fn checked_div(&self, other: &Interval) -> Option<Interval> {
        if other.lo <= Decimal::ZERO && other.hi >= Decimal::ZERO {
            return None;
        }
        let quotients = [
            self.lo.checked_div(other.lo)?,
            self.lo.checked_div(other.hi)?,
            self.hi.checked_div(other.lo)?,
            self.hi.checked_div(other.hi)?,
        ];
        Some(Interval {
            lo: quotients.iter().copied().min()?,
            hi: quotients.iter().copied().max()?,
            nominal: self.nominal.checked_div(other.nominal)?,
        })
    }

    pub fn scale_by(&self, factor: Decimal) -> Option<Interval> {
        self.checked_mul(&Interval::exact(factor))
    }

    /// The interval of min(self, other), taken bound by bound.
    pub fn min(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.min(other.hi),
            nominal: self.nominal.min(other.nominal),
        }
    }

    /// The interval of max(self, other), taken bound by bound.
    pub fn max(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.max(other.lo),
            hi: self.hi.max(other.hi),
            nominal: self.nominal.max(other.nominal),
        }
    }
}

/// Rounds a computed value for display at the precision of the figure it is compared with, so that "expected"
/// reads like a disclosed figure ("8190.83", not "8190.8300000").
pub fn round_for_display(value: Decimal, scale: u32) -> Decimal {
    value.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        text.parse().unwrap()
    }

    #[test]
    fn keeps_the_disclosed_precision() {
        assert_eq!(v("8190.80").scale(), 2);
        assert_eq!(v("8190.8").scale(), 1);
        assert_eq!(v("269").scale(), 0);
        assert_eq!(v("8190.80").to_string(), "8190.80");
        assert_eq!(v("-12.5").to_string(), "-12.5");
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in ["1,2", "NaN", "1e5", "--3", "+3", "1.", ".5", " 1", "1 ", "１２", "0x10", "-", "1.2.3"] {
            assert!(
                matches!(bad.parse::<Value>(), Err(ParseValueError::Malformed(_))),
                "{bad:?} was accepted"
            );
        }
        assert_eq!("".parse::<Value>(), Err(ParseValueError::Empty));
        assert!(matches!(
            "1234567890123456789012345678".parse::<Value>(),
            Err(ParseValueError::TooLong(_))
        ));
    }

    #[test]
    fn a_rounded_value_stands_for_half_a_unit_either_side() {
        let interval = v("8190.84").rounded_interval();
        assert_eq!(interval.lo, v("8190.835").decimal());
        assert_eq!(interval.hi, v("8190.845").decimal());
        let interval = v("269").rounded_interval();
        assert_eq!((interval.lo, interval.hi), (v("268.5").decimal(), v("269.5").decimal()));
        assert_eq!(v("269").exact_interval().lo, v("269").decimal());
    }

    fn sum(parts: &[&str]) -> Interval {
        parts.iter().fold(Interval::zero(), |acc, p| {
            acc.checked_add(&v(p).rounded_interval()).unwrap()
        })
    }

    #[test]
    fn parts_off_by_one_cent_from_rounding_are_consistent() {
        // The reference disclosure: 7,070.64 + 892.66 + 227.53 = 8,190.83, stated as 8,190.84.
        let parts = sum(&["7070.64", "892.66", "227.53"]);
        assert_eq!(parts.nominal, v("8190.83").decimal());
        assert!(v("8190.84").rounded_interval().overlaps(&parts));
    }

    #[test]
    fn a_whole_unit_off_is_not_rounding() {
        // The reference's narrative says 7,974.18 where the funds rows add to 7,973.18.
        let parts = sum(&["31.20", "7039.44", "902.54"]);
        assert_eq!(parts.nominal, v("7973.18").decimal());
        assert!(!v("7974.18").rounded_interval().overlaps(&parts));
        assert!(v("7973.19").rounded_interval().overlaps(&parts));
    }

    #[test]
    fn subtraction_and_division_widen_correctly() {
        let a = v("10.0").rounded_interval(); // [9.95, 10.05]
        let b = v("4.0").rounded_interval(); // [3.95, 4.05]
        let diff = a.checked_sub(&b).unwrap();
        assert_eq!((diff.lo, diff.hi), (v("5.90").decimal(), v("6.10").decimal()));
        let ratio = a.checked_div(&b).unwrap();
        assert!(ratio.lo < v("2.5").decimal() && ratio.hi > v("2.5").decimal());
        assert!(a.checked_div(&v("0.0").rounded_interval()).is_none());
    }

    #[test]
    fn rate_within_rounding_matches_stated_percentage() {
        // 执行率 92.73% = 7,973.18 / 8,597.83 at two decimals of a percent.
        let rate = v("7973.18")
            .rounded_interval()
            .checked_div(&v("8597.83").rounded_interval())
            .unwrap()
            .scale_by(Decimal::ONE_HUNDRED)
            .unwrap();
        assert!(v("92.73").rounded_interval().overlaps(&rate));
        assert!(!v("92.83").rounded_interval().overlaps(&rate));
    }

    #[test]
    fn ordering_checks_allow_rounding() {
        let a = v("10.00").rounded_interval();
        let b = v("9.99").rounded_interval();
        assert!(a.may_be_le(&b)); // 9.995 ≤ 9.995
        assert!(!v("10.01").rounded_interval().may_be_le(&b));
    }

    #[test]
    fn display_rounding_is_half_away_from_zero() {
        assert_eq!(round_for_display(v("8190.835").decimal(), 2).to_string(), "8190.84");
        assert_eq!(round_for_display(v("-0.005").decimal(), 2).to_string(), "-0.01");
    }
}

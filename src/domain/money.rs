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

/// Most digits before the decimal point: 10^15 is a thousand times the yearly budget of the largest province in
/// 元, and leaves the exact fixed-point arithmetic of checks and consolidation room for sums of many figures.
pub const MAX_INTEGER_DIGITS: usize = 15;

/// Most decimals a value may have: 万元 to the fen needs 6; percentages 2–4.
pub const MAX_DECIMALS: usize = 8;

/// The largest amount a figure may state, in 元 (a figure in 万元 may state a ten-thousandth of it): what a
/// province's totals reach, with a thousandfold margin. Amounts are added in fen, and this keeps any one figure
/// far inside 64 bits.
pub const MAX_AMOUNT_YUAN: u64 = 1_000_000_000_000_000;

/// Why a text is not a decimal value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseValueError {
    #[error("is empty; write a number such as \"0.00\"")]
    Empty,
    #[error(
        "\"{0}\" is not a plain decimal number: use digits, an optional leading '-' and an optional '.' (no thousands separators, exponents or signs such as '+')"
    )]
    Malformed(String),
    #[error(
        "\"{0}\" has more than {MAX_INTEGER_DIGITS} digits before the decimal point (at most 10^15, beyond any budget)"
    )]
    TooLong(String),
    #[error("\"{0}\" has more than {MAX_DECIMALS} decimals")]
    TooPrecise(String),
}

/// A decimal value exactly as disclosed, with its precision (its number of decimals) kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Value(Decimal);

/// Written as its text (`Display`), without a `String` for each value: a unit's figures are a few thousand values,
/// serialized into every stored version, and the decimal type's own formatting with an allocation each was most of
/// that serialization.
impl serde::Serialize for Value {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buffer = [0u8; PLAIN_TEXT_BYTES];
        match self.plain_text(&mut buffer) {
            Some(text) => serializer.serialize_str(text),
            None => serializer.serialize_str(&self.to_string()),
        }
    }
}

/// Room for the text of any value whose digits fit 64 bits: a sign, "0.", 28 decimals at most and 20 digits.
const PLAIN_TEXT_BYTES: usize = 52;

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

    /// Whether |value| > `limit`, in integers: the decimal type's comparison rescales one side first, and every
    /// amount a disclosure states is compared with the largest it may state.
    pub fn magnitude_exceeds(self, limit: u64) -> bool {
        let mantissa = self.0.mantissa().unsigned_abs();
        // A bound beyond 128 bits is beyond any mantissa (96 bits).
        u128::from(limit)
            .checked_mul(10u128.pow(self.0.scale()))
            .is_some_and(|bound| mantissa > bound)
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
        Interval::rounded(self.0, self.scale())
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

    /// Appends the value's text (`Display`) to `out`.
    pub fn push_text(self, out: &mut String) {
        let mut buffer = [0u8; PLAIN_TEXT_BYTES];
        match self.plain_text(&mut buffer) {
            Some(text) => out.push_str(text),
            None => {
                use std::fmt::Write;
                // Writing into a String cannot fail.
                let _ = write!(out, "{self}");
            }
        }
    }

    /// The value's text, as `Display` writes it, formatted into `buffer`; `None` for digits beyond 64 bits or a
    /// negative zero, which `Display` is left to write.
    fn plain_text(self, buffer: &mut [u8; PLAIN_TEXT_BYTES]) -> Option<&str> {
        let negative = self.0.is_sign_negative();
        let mantissa = u64::try_from(self.0.mantissa().unsigned_abs()).ok()?;
        if negative && mantissa == 0 {
            return None;
        }
        let scale = self.0.scale() as usize;
        // itoa writes the digits two at a time from a table: a digit at a time was most of writing a unit's
        // figures as text.
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(mantissa).as_bytes();
        let mut text = Text { buffer, len: 0 };
        if negative {
            text.push(b"-");
        }
        match digits.len().checked_sub(scale) {
            Some(whole) if whole > 0 => {
                text.push(&digits[..whole]);
                if scale > 0 {
                    text.push(b".");
                    text.push(&digits[whole..]);
                }
            }
            // All digits are decimals: "0." and the zeros before them.
            _ => {
                text.push(b"0");
                if scale > 0 {
                    text.push(b".");
                    for _ in digits.len()..scale {
                        text.push(b"0");
                    }
                    text.push(digits);
                }
            }
        }
        let len = text.len;
        std::str::from_utf8(&buffer[..len]).ok()
    }
}

/// A value's text as it is written into a fixed buffer.
struct Text<'a> {
    buffer: &'a mut [u8; PLAIN_TEXT_BYTES],
    len: usize,
}

impl Text<'_> {
    fn push(&mut self, bytes: &[u8]) {
        self.buffer[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

impl FromStr for Value {
    type Err = ParseValueError;

    /// One pass over the bytes for the values disclosures are made of: each of a disclosure's thousands of values
    /// is parsed on every submission, and splitting, checking and then re-parsing the text cost several times
    /// this. Anything unusual (an error, a negative zero, leading zeros beyond the digit limit) is left to
    /// [`parse_checked`], which decides it as before.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        /// 10^15: an integer part this large has more than [`MAX_INTEGER_DIGITS`] significant digits.
        const INTEGER_LIMIT: u64 = 1_000_000_000_000_000;
        let bytes = text.as_bytes();
        let negative = bytes.first() == Some(&b'-');
        let mut mantissa: u64 = 0;
        let (mut int_digits, mut decimals) = (0usize, 0usize);
        let mut point = false;
        for &b in &bytes[usize::from(negative)..] {
            let digit = b.wrapping_sub(b'0');
            if digit < 10 {
                // Past this the next digit could overflow: only texts that are too long or too precise get here.
                if mantissa >= u64::MAX / 10 - 1 {
                    return parse_checked(text);
                }
                mantissa = mantissa * 10 + u64::from(digit);
                if point {
                    decimals += 1;
                } else {
                    int_digits += 1;
                }
            } else if b == b'.' && !point && int_digits > 0 && mantissa < INTEGER_LIMIT {
                point = true;
            } else {
                return parse_checked(text);
            }
        }
        let unusual = int_digits == 0
            || int_digits > MAX_INTEGER_DIGITS + MAX_DECIMALS
            || (point && decimals == 0)
            || (!point && mantissa >= INTEGER_LIMIT)
            || decimals > MAX_DECIMALS
            || (negative && mantissa == 0);
        if unusual {
            return parse_checked(text);
        }
        // The mantissa fits in 64 bits here; a decimal keeps 96.
        Ok(Value(Decimal::from_parts(
            mantissa as u32,
            (mantissa >> 32) as u32,
            0,
            negative,
            decimals as u32,
        )))
    }
}

/// Parses a value by checking its parts and then the decimal type's own parser: the reference for what
/// [`Value::from_str`] accepts, and what decides every text its fast path does not.
fn parse_checked(text: &str) -> Result<Value, ParseValueError> {
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
        return Err(ParseValueError::Malformed(excerpt(text)));
    }
    // Leading zeros do not make a number larger.
    let significant = int_part.trim_start_matches('0');
    if significant.len() > MAX_INTEGER_DIGITS {
        return Err(ParseValueError::TooLong(excerpt(text)));
    }
    if frac_part.map_or(0, str::len) > MAX_DECIMALS {
        return Err(ParseValueError::TooPrecise(excerpt(text)));
    }
    if int_part.len() > MAX_INTEGER_DIGITS + MAX_DECIMALS {
        return Err(ParseValueError::Malformed(excerpt(text)));
    }
    Decimal::from_str_exact(text)
        .map(Value)
        .map_err(|_| ParseValueError::TooLong(excerpt(text)))
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Fixed-point units per 1: intervals are computed in exact integers of 10⁻⁹ (a disclosed value has at most
/// [`MAX_DECIMALS`] decimals, so its half-unit is exact), with division and multiplication rounded outward so
/// that an interval always contains every value it may stand for.
const UNITS: i128 = 1_000_000_000;
const UNIT_SCALE: u32 = 9;

/// Powers of ten up to 10²⁸ (the largest Decimal scale), computed once at compile time.
const POW10: [i128; 29] = {
    let mut table = [1i128; 29];
    let mut i = 1;
    while i < 29 {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

fn to_units(value: Decimal) -> Option<i128> {
    let scale = value.scale();
    let mantissa = value.mantissa();
    if scale <= UNIT_SCALE {
        let factor = POW10[(UNIT_SCALE - scale) as usize];
        // A figure's digits fit 64 bits, and 64 × 30 bits cannot overflow: one widening multiplication, where a
        // checked 128-bit one is a call (every cell a rule reads comes through here).
        match i64::try_from(mantissa) {
            Ok(small) => Some(widening_mul(small, factor as i64)),
            Err(_) => mantissa.checked_mul(factor),
        }
    } else {
        // Literals in rules may be written finer than 10⁻⁹; round them to the nearest unit.
        let divisor = POW10[(scale - UNIT_SCALE) as usize];
        Some((mantissa + mantissa.signum() * divisor / 2) / divisor)
    }
}

/// Fixed-point units back to a decimal. A decimal holds 96 bits of mantissa: a sum beyond that at 9 decimals is
/// shown with fewer decimals (rounded), and only a value beyond 7.9·10^28 — which no bounded input reaches — shows
/// as the largest decimal rather than failing.
fn from_units(units: i128) -> Decimal {
    for dropped in 0..=UNIT_SCALE {
        let divisor = POW10[dropped as usize];
        let scaled = if dropped == 0 {
            Some(units)
        } else {
            round_div(units, divisor)
        };
        if let Some(Ok(value)) =
            scaled.map(|m| Decimal::try_from_i128_with_scale(m, UNIT_SCALE - dropped))
        {
            return value.normalize();
        }
    }
    if units < 0 {
        Decimal::MIN
    } else {
        Decimal::MAX
    }
}

/// A text as a violation may echo it: whole when short, else its first characters and its length, so that an
/// error never carries unbounded input.
pub fn excerpt(text: &str) -> String {
    const SHOWN: usize = 24;
    let count = text.chars().count();
    if count <= SHOWN {
        text.to_owned()
    } else {
        let head: String = text.chars().take(SHOWN).collect();
        format!("{head}… ({count} characters)")
    }
}

/// The product of two 64-bit numbers, which always fits 128 bits.
fn widening_mul(a: i64, b: i64) -> i128 {
    i128::from(a) * i128::from(b)
}

/// |a| ÷ D and its remainder for a constant divisor below 2³², by 32-bit limbs: each step divides a number below
/// 2⁶⁴ by the constant, which the compiler turns into a multiplication, where a 128-bit division is a call with
/// a hardware divide. Products of fixed-point figures are divided by the unit this way.
fn div_rem_by_constant<const D: u64>(a: u128) -> (u128, u64) {
    const { assert!(D > 0 && D < 1 << 32) };
    let mut quotient: u128 = 0;
    let mut remainder: u64 = 0;
    for shift in [96, 64, 32, 0] {
        // remainder < D < 2³², so the step's dividend fits 64 bits and its quotient 32.
        let step = (remainder << 32) | ((a >> shift) as u64 & 0xFFFF_FFFF);
        quotient |= u128::from(step / D) << shift;
        remainder = step % D;
    }
    (quotient, remainder)
}

/// Truncating quotient and remainder (as `/` and `%`) by a constant divisor below 2³².
fn div_rem_signed_by_constant<const D: u64>(a: i128) -> (i128, i128) {
    let (q, r) = div_rem_by_constant::<D>(a.unsigned_abs());
    // q ≤ 2¹²⁷ / D and r < D: both fit.
    let (q, r) = (q as i128, i128::from(r));
    if a < 0 { (-q, -r) } else { (q, r) }
}

/// Quotient and remainder, in 64 bits when both fit (128-bit division is several times slower, and most
/// figures of a disclosure fit); by multiplications for the two divisors of fixed-point products.
fn div_rem(a: i128, b: i128) -> Option<(i128, i128)> {
    if b == UNITS {
        return Some(div_rem_signed_by_constant::<{ UNITS as u64 }>(a));
    }
    if b == 2 * UNITS {
        return Some(div_rem_signed_by_constant::<{ 2 * UNITS as u64 }>(a));
    }
    if let (Ok(a64), Ok(b64)) = (i64::try_from(a), i64::try_from(b)) {
        let q = a64.checked_div(b64)?;
        return Some((i128::from(q), i128::from(a64 - q * b64)));
    }
    let q = a.checked_div(b)?;
    Some((q, a - q * b))
}

fn floor_div(a: i128, b: i128) -> Option<i128> {
    let (q, r) = div_rem(a, b)?;
    Some(if r != 0 && ((a < 0) != (b < 0)) {
        q - 1
    } else {
        q
    })
}

fn ceil_div(a: i128, b: i128) -> Option<i128> {
    let (q, r) = div_rem(a, b)?;
    Some(if r != 0 && ((a < 0) == (b < 0)) {
        q + 1
    } else {
        q
    })
}

fn round_div(a: i128, b: i128) -> Option<i128> {
    let twice = a.checked_mul(2)?;
    let q = floor_div(twice + b.signum() * b.abs(), 2 * b)?;
    Some(q)
}

/// An interval of possible true values between `lo` and `hi`, with the nominal value it was computed from (what
/// the figures say when taken at face value; used to report "expected" and "difference").
///
/// A bound may be open. A figure rounded half away from zero stands for a half-open interval: 8,190.84 is every
/// value in [8,190.835, 8,190.845), since 8,190.845 itself is written 8,190.85; so a sum that reaches a figure's
/// open end exactly is a difference, not a rounding. Sums and negations keep which ends are open; products and
/// quotients close them (a wider interval can only find fewer differences, never a false one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interval {
    lo: i128,
    hi: i128,
    nominal: i128,
    /// Which bounds are open: [`OPEN_LO`], [`OPEN_HI`].
    open: u8,
}

/// The lower bound is not a possible value.
const OPEN_LO: u8 = 1;
/// The upper bound is not a possible value.
const OPEN_HI: u8 = 2;

/// An interval whose bounds fit 64 bits.
struct Narrow {
    lo: i64,
    hi: i64,
    nominal: i64,
}

impl Interval {
    /// The interval of one exact value. Values finer than 10⁻⁹ are rounded to the nearest 10⁻⁹; values too large
    /// for the fixed point (beyond 10²⁹) saturate, which no disclosure reaches.
    pub fn exact(value: Decimal) -> Interval {
        let units = to_units(value).unwrap_or(if value.is_sign_negative() {
            i128::MIN / 4
        } else {
            i128::MAX / 4
        });
        Interval {
            lo: units,
            hi: units,
            nominal: units,
            open: 0,
        }
    }

    /// The interval a figure stands for when rounded at `scale` decimals: ± half a unit of that decimal.
    /// Rounding is half away from zero, so the end away from zero is open: [x − h, x + h) for a positive figure,
    /// (x − h, x + h] for a negative one, (−h, h) for zero.
    pub fn rounded(value: Decimal, scale: u32) -> Interval {
        let centre = Interval::exact(value).nominal;
        let half = 5 * POW10[UNIT_SCALE.saturating_sub(scale + 1) as usize];
        let open = match centre.signum() {
            1 => OPEN_HI,
            -1 => OPEN_LO,
            _ => OPEN_LO | OPEN_HI,
        };
        Interval {
            lo: centre - half,
            hi: centre + half,
            nominal: centre,
            open,
        }
    }

    fn lo_open(&self) -> bool {
        self.open & OPEN_LO != 0
    }

    fn hi_open(&self) -> bool {
        self.open & OPEN_HI != 0
    }

    /// An interval from its bounds and the value at face value (lo ≤ nominal ≤ hi).
    pub fn from_bounds(lo: Decimal, nominal: Decimal, hi: Decimal) -> Interval {
        let (lo, nominal, hi) = (
            Interval::exact(lo).lo,
            Interval::exact(nominal).lo,
            Interval::exact(hi).lo,
        );
        Interval {
            lo: lo.min(nominal),
            hi: hi.max(nominal),
            nominal,
            open: 0,
        }
    }

    pub fn zero() -> Interval {
        Interval {
            lo: 0,
            hi: 0,
            nominal: 0,
            open: 0,
        }
    }

    /// An exact whole number, without going through a Decimal.
    pub const fn whole(n: i64) -> Interval {
        let units = n as i128 * UNITS;
        Interval {
            lo: units,
            hi: units,
            nominal: units,
            open: 0,
        }
    }

    pub fn lo(&self) -> Decimal {
        from_units(self.lo)
    }

    pub fn hi(&self) -> Decimal {
        from_units(self.hi)
    }

    /// The value the figures say at face value.
    pub fn nominal(&self) -> Decimal {
        from_units(self.nominal)
    }

    /// A single exact value.
    pub fn is_point(&self) -> bool {
        self.lo == self.hi
    }

    pub fn contains_zero(&self) -> bool {
        self.lo <= 0 && self.hi >= 0
    }

    /// Whether some true value lies in both intervals: the rounding-aware "equals". Intervals that only touch
    /// where one of them is open have no value in common.
    pub fn overlaps(&self, other: &Interval) -> bool {
        self.may_be_le(other) && other.may_be_le(self)
    }

    /// Whether some value of `self` can be ≤ some value of `other`: the rounding-aware "≤".
    pub fn may_be_le(&self, other: &Interval) -> bool {
        self.lo < other.hi || (self.lo == other.hi && !self.lo_open() && !other.hi_open())
    }

    /// Whether some value of `self` can be < some value of `other`: the rounding-aware "<".
    pub fn may_be_lt(&self, other: &Interval) -> bool {
        self.lo < other.hi
    }

    /// Whether every value of `self` is ≤ every value of `other`.
    pub fn surely_le(&self, other: &Interval) -> bool {
        self.hi <= other.lo
    }

    /// Whether every value of `self` is < every value of `other`.
    pub fn surely_lt(&self, other: &Interval) -> bool {
        self.hi < other.lo || (self.hi == other.lo && (self.hi_open() || other.lo_open()))
    }

    pub fn neg(&self) -> Interval {
        Interval {
            lo: -self.hi,
            hi: -self.lo,
            nominal: -self.nominal,
            open: (if self.hi_open() { OPEN_LO } else { 0 })
                | (if self.lo_open() { OPEN_HI } else { 0 }),
        }
    }

    pub fn abs(&self) -> Interval {
        if self.lo > 0 || (self.lo == 0 && !self.lo_open()) {
            *self
        } else if self.hi <= 0 {
            self.neg()
        } else {
            Interval {
                lo: 0,
                hi: self.hi.max(-self.lo),
                nominal: self.nominal.abs(),
                open: 0,
            }
        }
    }

    /// A sum's bound is open when either bound it adds is.
    pub fn checked_add(&self, other: &Interval) -> Option<Interval> {
        Some(Interval {
            lo: self.lo.checked_add(other.lo)?,
            hi: self.hi.checked_add(other.hi)?,
            nominal: self.nominal.checked_add(other.nominal)?,
            open: self.open | other.open,
        })
    }

    pub fn checked_sub(&self, other: &Interval) -> Option<Interval> {
        self.checked_add(&other.neg())
    }

    pub fn checked_mul(&self, other: &Interval) -> Option<Interval> {
        if let (Some(a), Some(b)) = (self.as_i64(), other.as_i64()) {
            // Bounds that fit 64 bits multiply without overflow, each in one instruction.
            let products = [
                widening_mul(a.lo, b.lo),
                widening_mul(a.lo, b.hi),
                widening_mul(a.hi, b.lo),
                widening_mul(a.hi, b.hi),
            ];
            let (min, max) = (*products.iter().min()?, *products.iter().max()?);
            return Some(Interval {
                lo: floor_div(min, UNITS)?,
                hi: ceil_div(max, UNITS)?,
                nominal: round_div(widening_mul(a.nominal, b.nominal), UNITS)?,
                open: 0,
            });
        }
        self.checked_mul_wide(other)
    }

    /// Multiplication of any bounds, each product checked.
    fn checked_mul_wide(&self, other: &Interval) -> Option<Interval> {
        let products = [
            self.lo.checked_mul(other.lo)?,
            self.lo.checked_mul(other.hi)?,
            self.hi.checked_mul(other.lo)?,
            self.hi.checked_mul(other.hi)?,
        ];
        let (min, max) = (*products.iter().min()?, *products.iter().max()?);
        Some(Interval {
            lo: floor_div(min, UNITS)?,
            hi: ceil_div(max, UNITS)?,
            nominal: round_div(self.nominal.checked_mul(other.nominal)?, UNITS)?,
            open: 0,
        })
    }

    /// The bounds and nominal value as 64-bit numbers, when they all fit (figures up to 9.2·10⁹ at 10⁻⁹).
    fn as_i64(&self) -> Option<Narrow> {
        Some(Narrow {
            lo: i64::try_from(self.lo).ok()?,
            hi: i64::try_from(self.hi).ok()?,
            nominal: i64::try_from(self.nominal).ok()?,
        })
    }

    /// Division; `None` when the divisor's interval contains zero (the quotient is unbounded) or on overflow.
    pub fn checked_div(&self, other: &Interval) -> Option<Interval> {
        if other.contains_zero() {
            return None;
        }
        if other.hi < 0 {
            // a / b = (−a) / (−b), with a positive divisor.
            return self.neg().checked_div(&other.neg());
        }
        if let Some(whole) = other.positive_whole_number() {
            // By an exact whole number (a target of 1000篇, the 100 of a percentage): the fixed-point scale cancels,
            // so each bound is divided as it is, in 64 bits when it fits, with no widening and no 128-bit division.
            return Some(Interval {
                lo: floor_div(self.lo, whole)?,
                hi: ceil_div(self.hi, whole)?,
                nominal: round_div(self.nominal, whole)?,
                open: 0,
            });
        }
        self.checked_div_by_positive(other)
    }

    /// An exact whole number above zero, as itself (not in fixed-point units).
    fn positive_whole_number(&self) -> Option<i128> {
        if !self.is_point() || self.lo <= 0 {
            return None;
        }
        let (whole, fraction) = div_rem_signed_by_constant::<{ UNITS as u64 }>(self.lo);
        (fraction == 0).then_some(whole)
    }

    /// Division by an interval of positive values: the bounds come from two quotients, chosen by the dividend's
    /// sign.
    fn checked_div_by_positive(&self, other: &Interval) -> Option<Interval> {
        let (lo_num, lo_den, hi_num, hi_den) = if self.lo >= 0 {
            (self.lo, other.hi, self.hi, other.lo)
        } else if self.hi <= 0 {
            (self.lo, other.lo, self.hi, other.hi)
        } else {
            (self.lo, other.lo, self.hi, other.lo)
        };
        Some(Interval {
            lo: floor_div(lo_num.checked_mul(UNITS)?, lo_den)?,
            hi: ceil_div(hi_num.checked_mul(UNITS)?, hi_den)?,
            nominal: if other.nominal == 0 {
                0
            } else {
                round_div(self.nominal.checked_mul(UNITS)?, other.nominal)?
            },
            open: 0,
        })
    }

    pub fn scale_by(&self, factor: Decimal) -> Option<Interval> {
        self.checked_mul(&Interval::exact(factor))
    }

    /// As a percentage: × 100, exactly.
    pub fn percent(&self) -> Option<Interval> {
        Some(Interval {
            lo: self.lo.checked_mul(100)?,
            hi: self.hi.checked_mul(100)?,
            nominal: self.nominal.checked_mul(100)?,
            open: self.open,
        })
    }

    /// The interval of min(self, other), taken bound by bound.
    pub fn min(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.min(other.hi),
            nominal: self.nominal.min(other.nominal),
            open: 0,
        }
    }

    /// The smallest interval holding both, at `self`'s nominal value.
    pub fn hull(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
            nominal: self.nominal,
            open: 0,
        }
    }

    /// The interval of max(self, other), taken bound by bound.
    pub fn max(&self, other: &Interval) -> Interval {
        Interval {
            lo: self.lo.max(other.lo),
            hi: self.hi.max(other.hi),
            nominal: self.nominal.max(other.nominal),
            open: 0,
        }
    }
}

/// Rounds a computed value for display at the precision of the figure it is compared with, so that "expected"
/// reads like a disclosed figure ("8190.83", not "8190.8300000").
pub fn round_for_display(value: Decimal, scale: u32) -> Decimal {
    let mut rounded =
        value.round_dp_with_strategy(scale, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(scale);
    rounded
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Value {
        text.parse().unwrap()
    }

    /// Values of any sign and scale, with digits within 64 bits or beyond them.
    fn any_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        (any::<i64>(), any::<bool>(), 0u32..=28).prop_map(|(mantissa, wide, scale)| {
            let mantissa = if wide {
                i128::from(mantissa) * 1_000_000_007
            } else {
                i128::from(mantissa)
            };
            Value::from_decimal(Decimal::from_i128_with_scale(mantissa, scale))
        })
    }

    /// The interval of three values in any order: the least, the middle as nominal, the greatest.
    fn interval_of(mut values: [i128; 3]) -> Interval {
        values.sort_unstable();
        Interval {
            lo: values[0],
            nominal: values[1],
            hi: values[2],
            open: 0,
        }
    }

    #[test]
    fn a_rounded_figure_stands_for_a_half_open_interval() {
        // 10.00 stands for [9.995, 10.005): 10.005 itself is written 10.01.
        let ten = v("10.00").rounded_interval();
        assert!(ten.overlaps(&v("10.004999").exact_interval()));
        assert!(ten.overlaps(&v("9.995").exact_interval()));
        assert!(!ten.overlaps(&v("10.005").exact_interval()));
        // Two stated figures a cent apart touch only at an open end: a difference.
        assert!(!ten.overlaps(&v("10.01").rounded_interval()));
        assert!(!v("10.01").rounded_interval().overlaps(&ten));
        // Negative figures round away from zero too: −10.00 stands for (−10.005, −9.995].
        let minus = v("-10.00").rounded_interval();
        assert!(minus.overlaps(&v("-9.995").exact_interval()));
        assert!(!minus.overlaps(&v("-10.005").exact_interval()));
        // Zero: (−0.005, 0.005).
        let zero = v("0.00").rounded_interval();
        assert!(!zero.overlaps(&v("0.005").exact_interval()));
        assert!(!zero.overlaps(&v("-0.005").exact_interval()));
        // A sum keeps the open ends: 5.00 + 5.00 is [9.99, 10.01), which 10.01 (from 10.005) does not reach.
        let sum = v("5.00")
            .rounded_interval()
            .checked_add(&v("5.00").rounded_interval())
            .unwrap();
        assert!(!sum.overlaps(&v("10.01").exact_interval()));
        assert!(sum.overlaps(&v("9.99").exact_interval()));
        assert!(sum.overlaps(&v("10.01").rounded_interval()));
        // Comparisons: ≤ fails only when no value of the first can be ≤ any of the second.
        assert!(!v("10.01").rounded_interval().may_be_le(&ten));
        assert!(ten.surely_lt(&v("10.01").rounded_interval()));
        assert!(!ten.surely_lt(&v("10.00").rounded_interval()));
    }

    #[test]
    fn keeps_the_disclosed_precision() {
        assert_eq!(v("8190.80").scale(), 2);
        assert_eq!(v("8190.8").scale(), 1);
        assert_eq!(v("269").scale(), 0);
        assert_eq!(v("8190.80").to_string(), "8190.80");
        assert_eq!(v("-12.5").to_string(), "-12.5");
    }

    proptest::proptest! {
        /// Division by a constant in 32-bit limbs is 128-bit division, quotient and remainder, for every sign.
        #[test]
        fn division_by_the_unit_is_128_bit_division(a in proptest::prelude::any::<i128>()) {
            proptest::prop_assert_eq!(div_rem_signed_by_constant::<1_000_000_000>(a), (a / UNITS, a % UNITS));
            proptest::prop_assert_eq!(
                div_rem_signed_by_constant::<2_000_000_000>(a),
                (a / (2 * UNITS), a % (2 * UNITS))
            );
        }

        /// Multiplying bounds that fit 64 bits gives what the checked multiplication gives.
        #[test]
        fn narrow_multiplication_is_the_checked_one(
            bounds in proptest::collection::vec(proptest::prelude::any::<i64>(), 6),
            shift in 0u32..40,
        ) {
            let narrowed = |b: &[i64]| interval_of([b[0], b[1], b[2]].map(|n| i128::from(n >> shift)));
            let (x, y) = (narrowed(&bounds[..3]), narrowed(&bounds[3..]));
            proptest::prop_assert_eq!(x.checked_mul(&y), x.checked_mul_wide(&y));
        }
    }

    proptest::proptest! {
        /// The magnitude test in integers is the decimal comparison.
        #[test]
        fn magnitude_exceeds_is_the_decimal_comparison(
            value in any_value(),
            limit in proptest::prelude::any::<u64>(),
        ) {
            let limit = limit >> (limit % 64);
            proptest::prop_assert_eq!(
                value.magnitude_exceeds(limit),
                value.decimal().abs() > Decimal::from(limit)
            );
        }
    }

    proptest::proptest! {
        /// The text appended without formatting machinery is `Display`'s, and what serialization writes.
        #[test]
        fn pushed_text_is_the_display_text(value in any_value()) {
            let mut text = String::from("x");
            value.push_text(&mut text);
            proptest::prop_assert_eq!(&text[1..], value.to_string());
            proptest::prop_assert_eq!(serde_json::to_string(&value).unwrap(), format!("\"{value}\""));
        }
    }

    #[test]
    fn magnitudes_at_the_limit() {
        // The largest amount in 万元.
        let limit = MAX_AMOUNT_YUAN / 10_000;
        assert!(!v("100000000000").magnitude_exceeds(limit));
        assert!(!v("-100000000000.000000").magnitude_exceeds(limit));
        assert!(v("100000000000.01").magnitude_exceeds(limit));
        assert!(v("-100000000001").magnitude_exceeds(limit));
        let tiny = |m: i64| Value::from_decimal(Decimal::new(m, 28));
        assert!(tiny(1).magnitude_exceeds(0));
        assert!(!tiny(0).magnitude_exceeds(0));
        assert!(!tiny(i64::MAX).magnitude_exceeds(1));
    }

    proptest::proptest! {
        /// Dividing by an exact whole number without the fixed-point scale gives what the general division gives
        /// (wherever the general one does not overflow its widening).
        #[test]
        fn division_by_a_whole_number_is_the_general_division(
            bounds in proptest::collection::vec(-(1i128 << 90)..(1i128 << 90), 3),
            whole in 1i64..=10_000_000,
        ) {
            let x = interval_of([bounds[0], bounds[1], bounds[2]]);
            let divisor = Interval::whole(whole);
            proptest::prop_assert_eq!(x.checked_div(&divisor), x.checked_div_by_positive(&divisor));
            let negative = Interval::whole(-whole);
            proptest::prop_assert_eq!(x.checked_div(&negative), x.neg().checked_div_by_positive(&divisor));
        }
    }

    #[test]
    fn only_exact_positive_whole_numbers_take_the_short_division() {
        assert_eq!(Interval::whole(100).positive_whole_number(), Some(100));
        assert_eq!(Interval::whole(-100).positive_whole_number(), None);
        assert_eq!(v("0.5").exact_interval().positive_whole_number(), None);
        assert_eq!(v("100").rounded_interval().positive_whole_number(), None);
        // 1 ÷ 3, rounded outward and to the nearest 10⁻⁹.
        let third = Interval::whole(1).checked_div(&Interval::whole(3)).unwrap();
        assert_eq!(third.lo().to_string(), "0.333333333");
        assert_eq!(third.hi().to_string(), "0.333333334");
        assert_eq!(third.nominal().to_string(), "0.333333333");
    }

    #[test]
    fn edges_of_the_constant_division() {
        for a in [
            0,
            1,
            -1,
            UNITS - 1,
            UNITS,
            -UNITS,
            i128::MAX,
            i128::MIN,
            i128::MIN + 1,
            i128::from(u64::MAX),
        ] {
            assert_eq!(
                div_rem_signed_by_constant::<1_000_000_000>(a),
                (a / UNITS, a % UNITS),
                "{a}"
            );
        }
        // One cent times one cent, rounded outward and to nearest at 10⁻⁹.
        let cent = v("0.01").exact_interval();
        assert_eq!(
            cent.checked_mul(&cent).unwrap().nominal().to_string(),
            "0.0001"
        );
        let third = Interval::exact(Decimal::ONE)
            .checked_div(&Interval::whole(3))
            .unwrap();
        let product = third.checked_mul(&Interval::whole(3)).unwrap();
        assert!(product.lo() <= Decimal::ONE && Decimal::ONE <= product.hi());
    }

    #[test]
    fn a_hull_holds_both_intervals_at_the_first_nominal() {
        let capped = Interval::whole(100);
        let ratio = v("106.67").rounded_interval();
        let hull = capped.hull(&ratio);
        assert_eq!(hull.lo(), Decimal::from(100));
        assert_eq!(hull.hi().to_string(), "106.675");
        assert_eq!(hull.nominal(), Decimal::from(100));
        assert!(hull.overlaps(&v("103").exact_interval()));
        assert!(!hull.overlaps(&v("99.9").exact_interval()));
    }

    #[test]
    fn the_fast_parse_agrees_at_the_limits() {
        let zeros = |n: usize| "0".repeat(n);
        for text in [
            "0".to_owned(),
            "-0".into(),
            "-0.00".into(),
            "-12.50".into(),
            "999999999999999.99999999".into(),
            "-999999999999999.99999999".into(),
            "1000000000000000".into(),
            "999999999999999".into(),
            "0.12345678".into(),
            "0.123456789".into(),
            format!("{}1.5", zeros(22)),
            format!("{}1.5", zeros(23)),
            format!("{}.1", zeros(23)),
            format!("{}.1", zeros(24)),
            format!("1.{}", zeros(30)),
            "18446744073709551616".into(),
        ] {
            let fast = text.parse::<Value>();
            assert_eq!(fast, parse_checked(&text), "{text}");
            if let Ok(value) = fast {
                assert_eq!(value.to_string(), parse_checked(&text).unwrap().to_string());
            }
        }
    }

    proptest::proptest! {
        /// The one-pass parser gives what checking the parts and the decimal type's parser give: the same value
        /// with the same scale, or the same error.
        #[test]
        fn the_fast_parse_is_the_checked_parse(text in "-?[0-9]{0,26}(\\.[0-9]{0,10})?|[-0-9.,e+ ]{0,12}") {
            let fast = text.parse::<Value>();
            let checked = parse_checked(&text);
            proptest::prop_assert_eq!(&fast, &checked);
            if let (Ok(fast), Ok(checked)) = (fast, checked) {
                proptest::prop_assert_eq!(fast.to_string(), checked.to_string());
                proptest::prop_assert_eq!(fast.scale(), checked.scale());
            }
        }
    }

    proptest::proptest! {
        /// A value serializes to its `Display` text, whatever its digits, sign and scale.
        #[test]
        fn a_value_serializes_as_it_displays(value in any_value()) {
            let json = serde_json::to_string(&value).unwrap();
            proptest::prop_assert_eq!(json, format!("\"{value}\""));
        }
    }

    #[test]
    fn values_serialize_as_disclosed() {
        for text in [
            "0",
            "0.00",
            "12.50",
            "-3.2",
            "0.05",
            "-0.001",
            "8190.84",
            "999999999999999.99",
        ] {
            let value: Value = text.parse().unwrap();
            assert_eq!(
                serde_json::to_string(&value).unwrap(),
                format!("\"{text}\"")
            );
        }
        let negative_zero = Value::from_decimal(-Decimal::new(0, 2));
        assert_eq!(
            serde_json::to_string(&negative_zero).unwrap(),
            format!("\"{negative_zero}\"")
        );
        let mut text = String::new();
        negative_zero.push_text(&mut text);
        assert_eq!(text, negative_zero.to_string());
    }

    #[test]
    fn rejects_malformed_text() {
        for bad in [
            "1,2", "NaN", "1e5", "--3", "+3", "1.", ".5", " 1", "1 ", "１２", "0x10", "-", "1.2.3",
        ] {
            assert!(
                matches!(bad.parse::<Value>(), Err(ParseValueError::Malformed(_))),
                "{bad:?} was accepted"
            );
        }
        assert_eq!("".parse::<Value>(), Err(ParseValueError::Empty));
        assert!(matches!(
            "1234567890123456".parse::<Value>(),
            Err(ParseValueError::TooLong(_))
        ));
        assert!(matches!(
            "99999999999999999999".parse::<Value>(),
            Err(ParseValueError::TooLong(_))
        ));
        assert_eq!(
            "999999999999999.99999999"
                .parse::<Value>()
                .unwrap()
                .to_string(),
            "999999999999999.99999999"
        );
        assert!("000000000000000001.5".parse::<Value>().is_ok());
        assert!(matches!(
            "0".repeat(40).parse::<Value>(),
            Err(ParseValueError::Malformed(_))
        ));
        // A long malformed text is echoed only in part.
        let long = "x".repeat(5_000);
        let message = long.parse::<Value>().unwrap_err().to_string();
        assert!(message.len() < 250, "{message}");
        assert!(message.contains("(5000 characters)"));
        assert!(matches!(
            "0.123456789".parse::<Value>(),
            Err(ParseValueError::TooPrecise(_))
        ));
    }

    #[test]
    fn a_rounded_value_stands_for_half_a_unit_either_side() {
        let interval = v("8190.84").rounded_interval();
        assert_eq!(interval.lo(), v("8190.835").decimal());
        assert_eq!(interval.hi(), v("8190.845").decimal());
        let interval = v("269").rounded_interval();
        assert_eq!(
            (interval.lo(), interval.hi()),
            (v("268.5").decimal(), v("269.5").decimal())
        );
        assert_eq!(v("269").exact_interval().lo(), v("269").decimal());
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
        assert_eq!(parts.nominal(), v("8190.83").decimal());
        assert!(v("8190.84").rounded_interval().overlaps(&parts));
    }

    #[test]
    fn a_whole_unit_off_is_not_rounding() {
        // The reference's narrative says 7,974.18 where the funds rows add to 7,973.18.
        let parts = sum(&["31.20", "7039.44", "902.54"]);
        assert_eq!(parts.nominal(), v("7973.18").decimal());
        assert!(!v("7974.18").rounded_interval().overlaps(&parts));
        assert!(v("7973.19").rounded_interval().overlaps(&parts));
    }

    #[test]
    fn subtraction_and_division_widen_correctly() {
        let a = v("10.0").rounded_interval(); // [9.95, 10.05]
        let b = v("4.0").rounded_interval(); // [3.95, 4.05]
        let diff = a.checked_sub(&b).unwrap();
        assert_eq!(
            (diff.lo(), diff.hi()),
            (v("5.90").decimal(), v("6.10").decimal())
        );
        let ratio = a.checked_div(&b).unwrap();
        assert!(ratio.lo() < v("2.5").decimal() && ratio.hi() > v("2.5").decimal());
        // Outward rounding: 1/3 is inside [lo, hi] although neither bound is exact.
        let third = Interval::exact(Decimal::ONE)
            .checked_div(&Interval::exact(Decimal::from(3)))
            .unwrap();
        assert!(
            third.lo() * Decimal::from(3) <= Decimal::ONE
                && third.hi() * Decimal::from(3) >= Decimal::ONE
        );
        assert!(!third.is_point());
        let negative = Interval::exact(-Decimal::ONE)
            .checked_div(&Interval::exact(Decimal::from(3)))
            .unwrap();
        assert!(
            negative.lo() * Decimal::from(3) <= -Decimal::ONE
                && negative.hi() * Decimal::from(3) >= -Decimal::ONE
        );
        // Every sign combination contains the quotients of its bounds.
        for (a, b) in [
            ("-4.0", "2.0"),
            ("4.0", "-2.0"),
            ("-4.0", "-2.0"),
            ("0.0", "2.0"),
            ("0.04", "2.0"),
        ] {
            let (a, b) = (v(a).rounded_interval(), v(b).rounded_interval());
            let q = a.checked_div(&b).unwrap();
            for x in [a.lo(), a.hi()] {
                for y in [b.lo(), b.hi()] {
                    let exact = x / y;
                    assert!(
                        q.lo() <= exact && exact <= q.hi(),
                        "{x}/{y} = {exact} outside {q:?}"
                    );
                }
            }
        }
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
        // 10.00 ≥ 9.995 > every value 9.99 stands for (9.995 itself would be written 10.00).
        assert!(!a.may_be_le(&b));
        assert!(a.may_be_le(&v("9.995").exact_interval()));
        assert!(a.may_be_le(&v("9.999").rounded_interval()));
        assert!(!v("10.01").rounded_interval().may_be_le(&b));
    }

    #[test]
    fn signs_and_bounds() {
        let i = v("-2.0").rounded_interval();
        assert_eq!(
            (i.abs().lo(), i.abs().hi()),
            (v("1.95").decimal(), v("2.05").decimal())
        );
        assert!(v("0.00").rounded_interval().contains_zero());
        assert!(v("1").exact_interval().surely_le(&v("1").exact_interval()));
        assert!(
            !v("1.0")
                .rounded_interval()
                .surely_le(&v("1.0").rounded_interval())
        );
        let fine = Decimal::from_str_exact("0.1234567891").unwrap();
        assert_eq!(
            Interval::exact(fine).lo(),
            Decimal::from_str_exact("0.123456789").unwrap()
        );
    }

    #[test]
    fn the_largest_figures_never_overflow_the_arithmetic() {
        let max = v("999999999999999.99999999");
        let mut sum = Interval::zero();
        for _ in 0..100_000 {
            sum = sum.checked_add(&max.rounded_interval()).unwrap();
        }
        // Their sum is beyond 96 bits at 9 decimals, and still shows exactly.
        assert_eq!(sum.nominal(), max.decimal() * Decimal::from(100_000));
        // Products of the largest figures leave the fixed point: refused, not wrapped.
        assert!(
            max.rounded_interval()
                .checked_mul(&max.rounded_interval())
                .is_none()
        );
        let huge = Interval::exact(Decimal::MAX);
        assert_eq!(
            huge.checked_add(&huge).map(|i| i.nominal() > Decimal::ZERO),
            Some(true)
        );
    }

    #[test]
    fn display_rounding_is_half_away_from_zero() {
        assert_eq!(
            round_for_display(v("8190.835").decimal(), 2).to_string(),
            "8190.84"
        );
        assert_eq!(
            round_for_display(v("-0.005").decimal(), 2).to_string(),
            "-0.01"
        );
    }
}

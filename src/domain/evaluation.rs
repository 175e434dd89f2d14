//! Performance self-evaluations (绩效自评): the unit's overall evaluation and its project evaluations, as facts.
//! How they are scored is the scoring policy's business (`scoring`); how they are checked, the rules'.

use crate::domain::money::Value;

/// Where a row of evaluation funds comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FundsSource {
    /// 年度资金总额 / 合计.
    Total,
    /// 当年财政拨款.
    CurrentAppropriation,
    /// 上年结转.
    PriorYearCarryover,
    /// 其他资金.
    Other,
    /// 上级资金.
    Superior,
    /// 本级资金.
    SameLevel,
}

impl FundsSource {
    pub const ALL: [FundsSource; 6] = [
        FundsSource::Total,
        FundsSource::CurrentAppropriation,
        FundsSource::PriorYearCarryover,
        FundsSource::Other,
        FundsSource::Superior,
        FundsSource::SameLevel,
    ];

    /// The row code rules use for this source.
    pub fn code(self) -> &'static str {
        match self {
            FundsSource::Total => "total",
            FundsSource::CurrentAppropriation => "current_appropriation",
            FundsSource::PriorYearCarryover => "prior_year_carryover",
            FundsSource::Other => "other",
            FundsSource::Superior => "superior",
            FundsSource::SameLevel => "same_level",
        }
    }

    pub fn from_code(code: &str) -> Option<FundsSource> {
        FundsSource::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A funds row of an evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct FundsRow {
    pub source: FundsSource,
    pub label: String,
    pub initial_budget: Option<Value>,
    pub full_year_budget: Option<Value>,
    pub executed: Option<Value>,
    pub weight: Option<Value>,
    pub execution_rate: Option<Value>,
    pub score: Option<Value>,
}

/// The columns of funds rows, by the codes rules use.
pub const FUNDS_COLUMNS: [&str; 6] = [
    "initial_budget",
    "full_year_budget",
    "executed",
    "weight",
    "execution_rate",
    "score",
];

impl FundsRow {
    pub fn column(&self, index: usize) -> Option<Value> {
        match index {
            0 => self.initial_budget,
            1 => self.full_year_budget,
            2 => self.executed,
            3 => self.weight,
            4 => self.execution_rate,
            5 => self.score,
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparator {
    Ge,
    Le,
    Eq,
    Gt,
    Lt,
    Qualitative,
}

impl Comparator {
    pub fn symbol(self) -> &'static str {
        match self {
            Comparator::Ge => "≥",
            Comparator::Le => "≤",
            Comparator::Eq => "=",
            Comparator::Gt => ">",
            Comparator::Lt => "<",
            Comparator::Qualitative => "定性",
        }
    }
}

/// A calendar date, or a month when the day is not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateSpec {
    pub year: i32,
    pub month: u32,
    pub day: Option<u32>,
}

impl DateSpec {
    /// Parses "YYYY-MM-DD" or "YYYY-MM", checking that the date exists.
    pub fn parse(text: &str) -> Option<DateSpec> {
        let mut parts = text.split('-');
        let year: i32 = parts.next()?.parse().ok()?;
        let month: u32 = parts.next()?.parse().ok()?;
        let day: Option<u32> = match parts.next() {
            Some(day) => Some(day.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() || !(1..=12).contains(&month) || !(1900..=2200).contains(&year) {
            return None;
        }
        if let Some(day) = day
            && (day == 0 || day > days_in_month(year, month))
        {
            return None;
        }
        Some(DateSpec { year, month, day })
    }

    /// Days since 1970-01-01 of the date (of the month's last day when only the month is given, which is when a
    /// "by month M" target ends).
    pub fn day_number(self) -> i64 {
        let day = self
            .day
            .unwrap_or_else(|| days_in_month(self.year, self.month));
        days_from_civil(self.year, self.month, day)
    }
}

impl std::fmt::Display for DateSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.day {
            Some(day) => write!(f, "{:04}-{:02}-{:02}", self.year, self.month, day),
            None => write!(f, "{:04}-{:02}", self.year, self.month),
        }
    }
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(year) => 29,
        _ => 28,
    }
}

/// Howard Hinnant's days-from-civil: days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// What a measure's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum MeasureValue {
    /// A number with a unit of count or money.
    Number {
        value: Value,
        unit: String,
    },
    /// A percentage (98 for 98%).
    Percent(Value),
    Date(DateSpec),
    /// A duration with its time unit (天, 小时, 年, 月).
    Duration {
        value: Value,
        unit: String,
    },
    /// A qualitative statement.
    Text(String),
}

impl MeasureValue {
    /// The kind's name, for messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            MeasureValue::Number { .. } => "数值",
            MeasureValue::Percent(_) => "百分比",
            MeasureValue::Date(_) => "日期",
            MeasureValue::Duration { .. } => "时长",
            MeasureValue::Text(_) => "定性描述",
        }
    }
}

/// A target or actual value of an indicator.
#[derive(Debug, Clone, PartialEq)]
pub struct Measure {
    pub raw: String,
    pub comparator: Option<Comparator>,
    pub value: Option<MeasureValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScoringRule {
    /// 按照完成比例赋分.
    Proportional,
    /// 按评判等级赋分.
    Graded,
    /// 直接赋分.
    Direct,
    /// 满意度赋分.
    Satisfaction,
}

impl ScoringRule {
    pub fn name(self) -> &'static str {
        match self {
            ScoringRule::Proportional => "按照完成比例赋分",
            ScoringRule::Graded => "按评判等级赋分",
            ScoringRule::Direct => "直接赋分",
            ScoringRule::Satisfaction => "满意度赋分",
        }
    }
}

/// A performance indicator (三级指标).
#[derive(Debug, Clone, PartialEq)]
pub struct Indicator {
    pub level1: String,
    pub level2: String,
    pub name: String,
    pub weight: Option<Value>,
    pub target: Option<Measure>,
    pub actual: Option<Measure>,
    pub completion_rate: Option<Value>,
    pub score: Option<Value>,
    pub scoring_rule: Option<ScoringRule>,
    /// 偏差原因分析及改进措施, as written (the text checks read the rates and figures it states).
    pub deviation_reason: String,
}

/// The columns of indicators, by the codes rules use.
pub const INDICATOR_COLUMNS: [&str; 3] = ["weight", "completion_rate", "score"];

impl Indicator {
    pub fn column(&self, index: usize) -> Option<Value> {
        match index {
            0 => self.weight,
            1 => self.completion_rate,
            2 => self.score,
            _ => None,
        }
    }
}

/// A self-evaluation: the unit's overall one or a project's.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The project's name; `None` for the unit's overall evaluation.
    pub project: Option<String>,
    pub funds: Vec<FundsRow>,
    /// 年度总体目标 · 预期目标 and 实际完成情况, as written (the narrative checks read the figures they state).
    pub goal_expected: String,
    pub goal_actual: String,
    pub indicators: Vec<Indicator>,
    /// 总分 weight as stated.
    pub total_weight: Option<Value>,
    /// 总分 score as stated.
    pub total_score: Option<Value>,
}

/// The columns of an evaluation's summary row ("total"), by the codes rules use.
pub const SUMMARY_COLUMNS: [&str; 2] = ["weight", "score"];

impl Evaluation {
    pub fn funds_row(&self, source: FundsSource) -> Option<&FundsRow> {
        self.funds.iter().find(|row| row.source == source)
    }

    pub fn summary(&self, index: usize) -> Option<Value> {
        match index {
            0 => self.total_weight,
            1 => self.total_score,
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_and_order() {
        let a = DateSpec::parse("2024-08-21").unwrap();
        let b = DateSpec::parse("2024-08-31").unwrap();
        let month = DateSpec::parse("2024-08").unwrap();
        assert_eq!(b.day_number() - a.day_number(), 10);
        assert_eq!(
            month.day_number(),
            b.day_number(),
            "a month target ends on its last day"
        );
        assert_eq!(
            DateSpec::parse("1970-01-01").map(DateSpec::day_number),
            Some(0)
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!(DateSpec::parse("2024-02-30").is_none());
        assert!(DateSpec::parse("2023-02-29").is_none());
        assert!(DateSpec::parse("2024-02-29").is_some());
        assert!(DateSpec::parse("2024-13").is_none());
        assert!(DateSpec::parse("2024/08/01").is_none());
        assert_eq!(
            DateSpec::parse("2024-08-01").unwrap().to_string(),
            "2024-08-01"
        );
    }

    #[test]
    fn day_numbers_match_the_calendar() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            days_from_civil(2024, 12, 31) - days_from_civil(2024, 1, 1),
            365
        );
    }
}

impl Measure {
    /// Reads a measure as printed in a self-evaluation table: ">=248期", "<=3.84万元", "=100%", "2024年8月31日前",
    /// "2024年8月", "<=270天", "长期坚持".
    pub fn parse(raw: &str) -> Measure {
        let text = raw.trim();
        let mut comparator = None;
        let mut rest = text;
        for (prefix, c) in [
            (">=", Comparator::Ge),
            ("<=", Comparator::Le),
            ("≥", Comparator::Ge),
            ("≤", Comparator::Le),
            (">", Comparator::Gt),
            ("<", Comparator::Lt),
            ("=", Comparator::Eq),
        ] {
            if let Some(after) = rest.strip_prefix(prefix) {
                comparator = Some(c);
                rest = after.trim();
                break;
            }
        }
        if let Some((date, before)) = parse_chinese_date(rest) {
            return Measure {
                raw: raw.to_owned(),
                comparator: Some(if before {
                    Comparator::Le
                } else {
                    comparator.unwrap_or(Comparator::Eq)
                }),
                value: Some(MeasureValue::Date(date)),
            };
        }
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits > 0
            && let Ok(value) = rest[..digits].parse::<Value>()
        {
            let unit = rest[digits..].trim().to_owned();
            let value = match unit.as_str() {
                "%" => MeasureValue::Percent(value),
                "天" | "小时" | "年" | "个月" | "日" => {
                    MeasureValue::Duration { value, unit }
                }
                _ => MeasureValue::Number { value, unit },
            };
            return Measure {
                raw: raw.to_owned(),
                comparator: Some(comparator.unwrap_or(Comparator::Eq)),
                value: Some(value),
            };
        }
        Measure {
            raw: raw.to_owned(),
            comparator: Some(Comparator::Qualitative),
            value: Some(MeasureValue::Text(rest.to_owned())),
        }
    }
}

/// "2024年8月31日", "2024年8月", optionally followed by "前" (by that date) or "份".
fn parse_chinese_date(text: &str) -> Option<(DateSpec, bool)> {
    let (year, rest) = text.split_once('年')?;
    let (month, rest) = rest.split_once('月')?;
    let (day, rest) = match rest.split_once('日') {
        Some((day, rest)) => (Some(day), rest),
        None => (None, rest),
    };
    let before = match rest.trim() {
        "" | "份" => false,
        "前" => true,
        _ => return None,
    };
    let mut spec = format!(
        "{:04}-{:02}",
        year.trim().parse::<u32>().ok()?,
        month.trim().parse::<u32>().ok()?
    );
    if let Some(day) = day {
        spec.push_str(&format!("-{:02}", day.trim().parse::<u32>().ok()?));
    }
    DateSpec::parse(&spec).map(|date| (date, before))
}

#[cfg(test)]
mod measure_tests {
    use super::*;

    fn value(raw: &str) -> (Option<Comparator>, Option<MeasureValue>) {
        let m = Measure::parse(raw);
        (m.comparator, m.value)
    }

    #[test]
    fn reads_numbers_percentages_durations_dates_and_text() {
        assert_eq!(
            value(">=248期"),
            (
                Some(Comparator::Ge),
                Some(MeasureValue::Number {
                    value: "248".parse().unwrap(),
                    unit: "期".into()
                })
            )
        );
        assert_eq!(
            value("=100%"),
            (
                Some(Comparator::Eq),
                Some(MeasureValue::Percent("100".parse().unwrap()))
            )
        );
        assert_eq!(
            value("<=270天"),
            (
                Some(Comparator::Le),
                Some(MeasureValue::Duration {
                    value: "270".parse().unwrap(),
                    unit: "天".into()
                })
            )
        );
        assert_eq!(
            value("2024年8月31日前"),
            (
                Some(Comparator::Le),
                Some(MeasureValue::Date(DateSpec::parse("2024-08-31").unwrap()))
            )
        );
        assert_eq!(
            value("=2024年8月"),
            (
                Some(Comparator::Eq),
                Some(MeasureValue::Date(DateSpec::parse("2024-08").unwrap()))
            )
        );
        assert_eq!(
            value("长期坚持"),
            (
                Some(Comparator::Qualitative),
                Some(MeasureValue::Text("长期坚持".into()))
            )
        );
        assert_eq!(
            value("每月25日前").1,
            Some(MeasureValue::Text("每月25日前".into()))
        );
    }
}

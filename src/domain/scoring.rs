//! The scoring policy of self-evaluations (赋分规则) — declared per region and year in `scoring.toml` — and the
//! recomputation of completion rates and scores from an indicator's target and actual value.
//!
//! A target is a promise stated exactly ("≤5万元" means five, not anything that rounds to five), so however it is
//! printed ("5" or "5.00") the verdict is the same; an actual value is a measurement, rounded to its last decimal,
//! and so is a stated score. A recomputed score is therefore an interval, and a stated score is consistent when it
//! falls in that interval at its own precision.

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use crate::domain::{
    evaluation::{Comparator, Evaluation, FundsSource, Indicator, MeasureValue, ScoringRule},
    money::{Interval, Value},
    validation::Severity,
};

/// How the execution score (预算执行率得分) follows from the execution rate.
#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionMethod {
    /// weight × min(rate, 100%).
    Proportional,
    /// Zero at or below `zero_at` percent, full weight at `full_at` percent or above, linear between
    /// (e.g. 新疆: (执行率 − 60%) / 40% × 分值).
    Linear { zero_at: Decimal, full_at: Decimal },
    /// Steps: (the rate at or above which, the percent of the weight earned), highest first; below the last
    /// step nothing.
    Stepped(Vec<(Decimal, Decimal)>),
}

/// How a ≤ target (a cost or a duration) that is exceeded is scored under 按照完成比例赋分.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverLimit {
    /// weight × max(0, 2 − actual/target): the excess is deducted.
    Deduct,
    /// weight × target/actual.
    Ratio,
    /// Nothing: a limit exceeded earns no score.
    Zero,
}

/// The completion rate units state for a target exceeded (actual above a ≥ or = target) or a limit kept (a ≤
/// target met).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AboveTarget {
    /// Counted at 100%: the common practice (96% against ≥90% is stated 100%; 0% against ≤1% too).
    Capped,
    /// actual ÷ target as it is (106.67%).
    Actual,
    /// Either, as units of the region state both: anything from 100% to actual ÷ target.
    Either,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScoringPolicy {
    /// The severity of a recomputed value that differs from the stated one.
    pub mismatch_severity: Severity,
    /// Scores are stated to at least this many decimals (tables drop trailing zeros: "9.8" is 9.80).
    pub score_decimals: u32,
    pub execution: ExecutionMethod,
    /// The execution score's weight (分值) the region sets: the execution-score check runs against it even when
    /// the weight a table states is wrong.
    pub execution_weight: Decimal,
    /// The completion rate stated for a target exceeded.
    pub above_target: AboveTarget,
    /// Completion counted at most, in percent, for ≥ and = targets.
    pub completion_cap: Decimal,
    pub over_limit: OverLimit,
    /// 按评判等级赋分 grades: statement of the actual value → percent of the weight.
    pub grades: BTreeMap<String, Decimal>,
    /// 直接赋分: percent of the weight when the target is not met.
    pub direct_unmet: Decimal,
    /// Units the region counts as the same measure ("篇" and "条" of articles): groups of names.
    pub equivalent_units: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    mismatch_severity: String,
    score_decimals: u32,
    #[serde(default)]
    units: RawUnits,
    completion: RawCompletion,
    execution: RawExecution,
    proportional: RawProportional,
    graded: RawGraded,
    direct: RawDirect,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawUnits {
    #[serde(default)]
    equivalent: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCompletion {
    above_target: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExecution {
    weight: Decimal,
    method: String,
    zero_at: Option<Decimal>,
    full_at: Option<Decimal>,
    steps: Option<Vec<(Decimal, Decimal)>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProportional {
    completion_cap: Decimal,
    over_limit: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGraded {
    grades: BTreeMap<String, Decimal>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirect {
    unmet: Decimal,
}

impl ScoringPolicy {
    /// Parses `scoring.toml`; the error is a message (the loader adds file and position).
    pub fn from_toml(
        text: &str,
    ) -> Result<ScoringPolicy, (Option<std::ops::Range<usize>>, String)> {
        let raw: RawPolicy =
            toml::from_str(text).map_err(|e| (e.span(), e.message().trim().to_owned()))?;
        let at = |key: &str| text.find(key).map(|i| i..i + key.len());
        let mismatch_severity = Severity::parse(&raw.mismatch_severity).ok_or_else(|| {
            (
                at("mismatch_severity"),
                "mismatch_severity is error, warning or info".to_owned(),
            )
        })?;
        let execution = match raw.execution.method.as_str() {
            "proportional" => ExecutionMethod::Proportional,
            "stepped" => {
                let mut steps = raw.execution.steps.clone().unwrap_or_default();
                steps.sort_by_key(|(rate, _)| std::cmp::Reverse(*rate));
                if steps.is_empty()
                    || steps.iter().any(|(rate, share)| {
                        rate.is_sign_negative() || *share > Decimal::ONE_HUNDRED
                    })
                {
                    return Err((
                        at("method"),
                        "the stepped method needs steps = [[rate, percent of the weight], …] with rates ≥ 0 and \
                         percents ≤ 100"
                            .to_owned(),
                    ));
                }
                ExecutionMethod::Stepped(steps)
            }
            "linear" => match (raw.execution.zero_at, raw.execution.full_at) {
                (Some(zero_at), Some(full_at)) if zero_at < full_at => {
                    ExecutionMethod::Linear { zero_at, full_at }
                }
                _ => {
                    return Err((
                        at("method"),
                        "the linear method needs zero_at < full_at (percent)".to_owned(),
                    ));
                }
            },
            other => {
                return Err((
                    at("method"),
                    format!(
                        "unknown execution method \"{other}\" (proportional, linear or stepped)"
                    ),
                ));
            }
        };
        let over_limit = match raw.proportional.over_limit.as_str() {
            "deduct" => OverLimit::Deduct,
            "ratio" => OverLimit::Ratio,
            "zero" => OverLimit::Zero,
            other => {
                return Err((
                    at("over_limit"),
                    format!("unknown over_limit \"{other}\" (deduct, ratio or zero)"),
                ));
            }
        };
        let above_target = match raw.completion.above_target.as_str() {
            "capped" => AboveTarget::Capped,
            "actual" => AboveTarget::Actual,
            "either" => AboveTarget::Either,
            other => {
                return Err((
                    at("above_target"),
                    format!("unknown above_target \"{other}\" (capped, actual or either)"),
                ));
            }
        };
        if raw.execution.weight <= Decimal::ZERO || raw.execution.weight > Decimal::ONE_HUNDRED {
            return Err((
                at("weight"),
                "the execution weight is more than 0 and at most 100".to_owned(),
            ));
        }
        if raw.score_decimals > 6 {
            return Err((
                at("score_decimals"),
                "score_decimals is at most 6".to_owned(),
            ));
        }
        Ok(ScoringPolicy {
            mismatch_severity,
            score_decimals: raw.score_decimals,
            execution,
            execution_weight: raw.execution.weight,
            above_target,
            completion_cap: raw.proportional.completion_cap,
            over_limit,
            grades: raw.graded.grades,
            direct_unmet: raw.direct.unmet,
            // Kept as stems, so that a unit is compared with them as it is.
            equivalent_units: raw
                .units
                .equivalent
                .iter()
                .map(|group| group.iter().map(|u| unit_stem(u).to_owned()).collect())
                .collect(),
        })
    }

    /// The interval a stated score stands for: at its own precision, but at least `score_decimals`.
    pub fn score_interval(&self, score: Value) -> Interval {
        Interval::rounded(score.decimal(), score.scale().max(self.score_decimals))
    }

    /// The execution score of an evaluation, from its total funds row's 执行数 / 全年预算数, out of the declared
    /// execution weight (not the one the table states, which may itself be wrong).
    pub fn execution_score(&self, evaluation: &Evaluation) -> Option<Interval> {
        let total = evaluation.funds_row(FundsSource::Total)?;
        let weight = Interval::exact(self.execution_weight);
        let rate = total
            .executed?
            .rounded_interval()
            .checked_div(&total.full_year_budget?.rounded_interval())?
            .percent()?;
        let hundred = Interval::whole(100);
        let share = match &self.execution {
            ExecutionMethod::Proportional => rate.min(&hundred),
            ExecutionMethod::Linear { zero_at, full_at } => {
                let zero = Interval::exact(*zero_at);
                let span = Interval::exact(*full_at - *zero_at);
                rate.min(&Interval::exact(*full_at))
                    .checked_sub(&zero)?
                    .max(&Interval::zero())
                    .checked_div(&span)?
                    .percent()?
            }
            ExecutionMethod::Stepped(steps) => {
                // The step a rate reaches; a rate whose interval straddles a threshold could be either step.
                let step = |rate: Decimal| {
                    steps
                        .iter()
                        .find(|(threshold, _)| rate >= *threshold)
                        .map_or(Decimal::ZERO, |(_, share)| *share)
                };
                Interval::from_bounds(step(rate.lo()), step(rate.nominal()), step(rate.hi()))
            }
        };
        weight.checked_mul(&share)?.checked_div(&hundred)
    }

    /// Everything the policy says of an indicator, computed once: the rules ask for completion, score and
    /// comparability of every indicator, and recomputing each from the measures would repeat the work.
    pub fn assess(&self, indicator: &Indicator) -> Assessment {
        let kinds_match = self.kinds_match(indicator);
        let comparison = self.comparison_of_kinds(indicator, kinds_match);
        Assessment {
            kinds_match,
            comparable: matches!(
                comparison,
                Some(Comparison::Ratio { .. } | Comparison::Met(_))
            ),
            completion: comparison.as_ref().and_then(|c| self.completion_of(c)),
            expected_score: comparison
                .as_ref()
                .and_then(|c| self.score_of(indicator, c)),
        }
    }

    /// The completion rate (percent) the unit should state: actual / target × 100 for comparable numbers; 100 or
    /// 0 for a date target met or missed; the grade for a qualitative actual value.
    pub fn completion(&self, indicator: &Indicator) -> Option<Interval> {
        self.assess(indicator).completion
    }

    /// The score under the policy, or `None` when it cannot be recomputed (no weight, no rule, values that
    /// cannot be compared).
    pub fn expected_score(&self, indicator: &Indicator) -> Option<Interval> {
        self.assess(indicator).expected_score
    }

    fn completion_of(&self, comparison: &Comparison<'_>) -> Option<Interval> {
        match comparison {
            Comparison::Ratio {
                ratio,
                met,
                upper_limit,
            } => {
                let hundred = Interval::whole(100);
                // What "done" is stated as: a target exceeded, or a limit kept, counts as 100% where the region
                // says so.
                let capped = if *upper_limit {
                    if *met { hundred } else { *ratio }
                } else {
                    ratio.min(&hundred)
                };
                Some(match self.above_target {
                    AboveTarget::Capped => capped,
                    AboveTarget::Actual => *ratio,
                    AboveTarget::Either => capped.hull(ratio),
                })
            }
            Comparison::Met(met) => Some(if *met {
                Interval::whole(100)
            } else {
                Interval::zero()
            }),
            Comparison::Grade(grade) => self.grades.get(*grade).map(|g| Interval::exact(*g)),
        }
    }

    fn score_of(&self, indicator: &Indicator, comparison: &Comparison<'_>) -> Option<Interval> {
        let weight = indicator.weight?.exact_interval();
        let rule = indicator.scoring_rule?;
        let hundred = Interval::whole(100);
        let share = match (rule, comparison) {
            (_, Comparison::Grade(grade)) => Interval::exact(*self.grades.get(*grade)?),
            (_, Comparison::Met(met)) => Interval::exact(if *met {
                Decimal::ONE_HUNDRED
            } else {
                self.direct_unmet
            }),
            (ScoringRule::Direct | ScoringRule::Graded, Comparison::Ratio { met, .. }) => {
                Interval::exact(if *met {
                    Decimal::ONE_HUNDRED
                } else {
                    self.direct_unmet
                })
            }
            (
                ScoringRule::Proportional | ScoringRule::Satisfaction,
                Comparison::Ratio {
                    ratio,
                    met,
                    upper_limit,
                },
            ) => {
                if *upper_limit {
                    if *met {
                        hundred
                    } else {
                        match self.over_limit {
                            OverLimit::Deduct => Interval::whole(200)
                                .checked_sub(ratio)?
                                .max(&Interval::zero()),
                            OverLimit::Ratio => {
                                hundred.checked_mul(&hundred)?.checked_div(ratio)?
                            }
                            OverLimit::Zero => Interval::zero(),
                        }
                    }
                } else {
                    ratio
                        .min(&Interval::exact(self.completion_cap))
                        .min(&hundred)
                }
            }
        };
        weight.checked_mul(&share)?.checked_div(&hundred)
    }
}

/// What the policy makes of one indicator.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Assessment {
    /// Target and actual are of the same kind and unit (`None` when either is missing).
    pub kinds_match: Option<bool>,
    /// Target and actual can be compared as numbers or dates.
    pub comparable: bool,
    pub completion: Option<Interval>,
    pub expected_score: Option<Interval>,
}

/// How an indicator's actual value compares with its target.
enum Comparison<'i> {
    /// Numbers of the same kind and unit: actual / target × 100, whether the target is met, and whether the target
    /// is an upper limit (≤, <).
    Ratio {
        ratio: Interval,
        met: bool,
        upper_limit: bool,
    },
    /// Dates: whether the target is met.
    Met(bool),
    /// A qualitative actual value: its statement, to be graded.
    Grade(&'i str),
}

impl ScoringPolicy {
    /// Units that name the same thing: "万" and "万元", and the groups the policy declares the same measure.
    pub fn same_unit(&self, a: &str, b: &str) -> bool {
        // Most comparisons are of one unit written alike: the groups are looked up only when the stems differ.
        let (a, b) = (unit_stem(a), unit_stem(b));
        a == b || self.group_key(a) == self.group_key(b)
    }

    /// What a unit is compared by: its stem ("万元" and "万" are "万"), or the first of the group the policy
    /// declares it the same measure as ("条" is "篇").
    pub fn unit_key<'u>(&'u self, unit: &'u str) -> &'u str {
        self.group_key(unit_stem(unit))
    }

    /// The first unit of the group a stem is in, or the stem itself.
    fn group_key<'u>(&'u self, stem: &'u str) -> &'u str {
        self.equivalent_units
            .iter()
            .find(|group| group.iter().any(|u| u == stem))
            .and_then(|group| group.first())
            .map_or(stem, String::as_str)
    }

    /// Whether target and actual are of the same kind (and, for numbers and durations, the same unit).
    pub fn kinds_match(&self, indicator: &Indicator) -> Option<bool> {
        let target = indicator.target.as_ref()?.value.as_ref()?;
        let actual = indicator.actual.as_ref()?.value.as_ref()?;
        Some(match (target, actual) {
            (MeasureValue::Number { unit: a, .. }, MeasureValue::Number { unit: b, .. })
            | (MeasureValue::Duration { unit: a, .. }, MeasureValue::Duration { unit: b, .. }) => {
                self.same_unit(a, b)
            }
            (MeasureValue::Text(_), _) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        })
    }

    /// Whether target and actual can be compared as numbers or dates.
    pub fn comparable(&self, indicator: &Indicator) -> bool {
        matches!(
            self.comparison(indicator),
            Some(Comparison::Ratio { .. } | Comparison::Met(_))
        )
    }

    fn comparison<'i>(&self, indicator: &'i Indicator) -> Option<Comparison<'i>> {
        self.comparison_of_kinds(indicator, self.kinds_match(indicator))
    }

    /// The comparison, given whether target and actual are of one kind (which `assess` reports as well).
    fn comparison_of_kinds<'i>(
        &self,
        indicator: &'i Indicator,
        kinds_match: Option<bool>,
    ) -> Option<Comparison<'i>> {
        let target = indicator.target.as_ref()?;
        let actual = indicator.actual.as_ref()?.value.as_ref()?;
        if let MeasureValue::Text(statement) = actual {
            return Some(Comparison::Grade(statement));
        }
        if !kinds_match? {
            return None;
        }
        let comparator = target.comparator.unwrap_or(Comparator::Eq);
        let upper_limit = matches!(comparator, Comparator::Le | Comparator::Lt);
        match (target.value.as_ref()?, actual) {
            (MeasureValue::Date(t), MeasureValue::Date(a)) => {
                // A date known to the day meets a month target when it falls in or before that month.
                let (t, a) = (t.day_number(), a.day_number());
                Some(Comparison::Met(match comparator {
                    Comparator::Le | Comparator::Eq => a <= t,
                    Comparator::Lt => a < t,
                    Comparator::Ge => a >= t,
                    Comparator::Gt => a > t,
                    Comparator::Qualitative => return None,
                }))
            }
            (target_value, actual_value) => {
                // The target is a promise stated exactly; the actual value a rounded measurement.
                let t = exact_number_of(target_value)?;
                let a = number_of(actual_value)?;
                let met = match comparator {
                    Comparator::Ge | Comparator::Eq => t.may_be_le(&a),
                    Comparator::Gt => t.may_be_lt(&a),
                    Comparator::Le => a.may_be_le(&t),
                    Comparator::Lt => a.may_be_lt(&t),
                    Comparator::Qualitative => return None,
                };
                let ratio = if t.contains_zero() {
                    // A target of zero ("差错率 ≤ 0%") has no ratio: met is full, missed is nothing.
                    return Some(Comparison::Met(met));
                } else {
                    a.checked_div(&t)?.percent()?
                };
                Some(Comparison::Ratio {
                    ratio,
                    met,
                    upper_limit,
                })
            }
        }
    }
}

/// A unit without surrounding blanks and without 元 ("万元" and "万" are one unit).
fn unit_stem(unit: &str) -> &str {
    let bytes = unit.as_bytes();
    let start = bytes.iter().position(|b| *b != b' ').unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| *b != b' ')
        .map_or(start, |e| e + 1);
    // Only ASCII blanks are cut, so both ends are on character boundaries.
    let unit = &unit[start..end];
    // '元' is E5 85 83 in UTF-8; compared as bytes, which a char pattern does not compile to.
    match unit.as_bytes() {
        [.., 0xE5, 0x85, 0x83] => &unit[..unit.len() - 3],
        _ => unit,
    }
}

fn number_of(value: &MeasureValue) -> Option<Interval> {
    match value {
        MeasureValue::Number { value, .. }
        | MeasureValue::Duration { value, .. }
        | MeasureValue::Percent(value) => Some(value.rounded_interval()),
        _ => None,
    }
}

fn exact_number_of(value: &MeasureValue) -> Option<Interval> {
    match value {
        MeasureValue::Number { value, .. }
        | MeasureValue::Duration { value, .. }
        | MeasureValue::Percent(value) => Some(value.exact_interval()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::evaluation::{DateSpec, Measure};

    /// The policy the tests score under; `with` changes lines of it.
    const POLICY: &str = r#"
mismatch_severity = "warning"
score_decimals = 2
[completion]
above_target = "capped"
[execution]
weight = 10
method = "linear"
zero_at = 60
full_at = 100
steps = [[100, 100], [90, 80], [80, 60]]
[proportional]
completion_cap = 100
over_limit = "deduct"
[graded]
grades = { "达到预期指标" = 100, "部分达到预期指标" = 60 }
[direct]
unmet = 0
"#;

    pub(crate) fn policy() -> ScoringPolicy {
        ScoringPolicy::from_toml(POLICY).unwrap()
    }

    #[test]
    fn units_compare_by_stem_and_declared_group() {
        let mut policy = policy();
        policy.equivalent_units = vec![vec!["篇".into(), "条".into()]];
        assert!(policy.same_unit("万元", "万"));
        assert!(policy.same_unit(" 万元 ", "万"));
        assert!(policy.same_unit("元", ""));
        assert!(policy.same_unit("条", "篇"));
        assert!(policy.same_unit("篇", "条"));
        assert!(!policy.same_unit("篇", "次"));
        assert!(!policy.same_unit("万元", "元"));
        assert!(!policy.same_unit("元元", "元"));
        assert_eq!(policy.unit_key("条"), "篇");
        assert_eq!(policy.unit_key(" 万元"), "万");
        assert_eq!(policy.unit_key("次"), "次");
    }

    fn number(comparator: Comparator, value: &str, unit: &str) -> Measure {
        Measure {
            raw: format!("{value}{unit}"),
            comparator: Some(comparator),
            value: Some(MeasureValue::Number {
                value: value.parse().unwrap(),
                unit: unit.into(),
            }),
        }
    }

    fn indicator(weight: &str, target: Measure, actual: Measure, rule: ScoringRule) -> Indicator {
        Indicator {
            level1: "产出指标".into(),
            level2: "数量指标".into(),
            name: "x".into(),
            weight: Some(weight.parse().unwrap()),
            target: Some(target),
            actual: Some(actual),
            completion_rate: None,
            score: None,
            scoring_rule: Some(rule),
            deviation_reason: String::new(),
        }
    }

    fn stated(policy: &ScoringPolicy, score: &str, expected: Option<Interval>) -> bool {
        policy
            .score_interval(score.parse().unwrap())
            .overlaps(&expected.unwrap())
    }

    #[test]
    fn a_cost_over_its_limit_loses_the_excess() {
        // 访贫问苦成本: ≤ 3.84万元, actual 3.86万元, weight 10, stated 100.5% and 9.95.
        let p = policy();
        let i = indicator(
            "10",
            number(Comparator::Le, "3.84", "万元"),
            number(Comparator::Eq, "3.86", "万元"),
            ScoringRule::Proportional,
        );
        assert!(
            p.score_interval("100.5".parse().unwrap())
                .overlaps(&p.completion(&i).unwrap())
                || {
                    // completion is stated at one decimal: 100.52 → 100.5
                    "100.5"
                        .parse::<Value>()
                        .unwrap()
                        .rounded_interval()
                        .overlaps(&p.completion(&i).unwrap())
                }
        );
        assert!(stated(&p, "9.95", p.expected_score(&i)));
        assert!(!stated(&p, "10", p.expected_score(&i)));
    }

    #[test]
    fn a_cost_under_its_limit_earns_the_full_weight() {
        // 实事好事成双: ≤ 3.25, actual 3.23: met, full 10 (the reference states 9.84).
        let p = policy();
        let i = indicator(
            "10",
            number(Comparator::Le, "3.25", "万元"),
            number(Comparator::Eq, "3.23", "万元"),
            ScoringRule::Proportional,
        );
        assert!(stated(&p, "10", p.expected_score(&i)));
        assert!(!stated(&p, "9.84", p.expected_score(&i)));
    }

    #[test]
    fn an_at_least_target_scores_in_proportion_and_is_capped() {
        let p = policy();
        // 设备采购数量: ≥ 45件, actual 41件, weight 15 → 13.67 (the reference states 11.63).
        let i = indicator(
            "15",
            number(Comparator::Ge, "45", "件"),
            number(Comparator::Eq, "41", "件"),
            ScoringRule::Proportional,
        );
        let expected = p.expected_score(&i).unwrap();
        assert!(
            expected.lo() < "13.67".parse().unwrap() && expected.hi() > "13.66".parse().unwrap(),
            "{expected:?}"
        );
        let over = indicator(
            "10",
            number(Comparator::Ge, "310", "期"),
            number(Comparator::Eq, "314", "期"),
            ScoringRule::Proportional,
        );
        assert!(stated(&p, "10", p.expected_score(&over)));
    }

    #[test]
    fn a_date_target_is_met_or_missed() {
        let p = policy();
        let date = |c, d: &str| Measure {
            raw: d.into(),
            comparator: Some(c),
            value: Some(MeasureValue::Date(DateSpec::parse(d).unwrap())),
        };
        let late = indicator(
            "10",
            date(Comparator::Eq, "2024-10-03"),
            date(Comparator::Eq, "2024-10-23"),
            ScoringRule::Proportional,
        );
        assert!(stated(&p, "0", p.expected_score(&late)));
        let in_month = indicator(
            "10",
            date(Comparator::Le, "2024-08"),
            date(Comparator::Eq, "2024-08-23"),
            ScoringRule::Direct,
        );
        assert!(stated(&p, "10", p.expected_score(&in_month)));
    }

    #[test]
    fn a_date_where_days_were_promised_is_a_kind_mismatch() {
        let actual = Measure {
            raw: "2024年7月5日".into(),
            comparator: None,
            value: Some(MeasureValue::Date(DateSpec::parse("2024-07-05").unwrap())),
        };
        let i = indicator(
            "10",
            number(Comparator::Le, "300", "天"),
            actual,
            ScoringRule::Proportional,
        );
        assert_eq!(policy().kinds_match(&i), Some(false));
        assert!(!policy().comparable(&i));
        assert!(policy().expected_score(&i).is_none());
    }

    #[test]
    fn qualitative_actual_values_are_graded() {
        let p = policy();
        let text = |t: &str| Measure {
            raw: t.into(),
            comparator: Some(Comparator::Qualitative),
            value: Some(MeasureValue::Text(t.into())),
        };
        let i = indicator(
            "30",
            text("长期坚持"),
            text("达到预期指标"),
            ScoringRule::Graded,
        );
        assert!(stated(&p, "30", p.expected_score(&i)));
        let partly = indicator(
            "30",
            text("长期坚持"),
            text("部分达到预期指标"),
            ScoringRule::Graded,
        );
        assert!(stated(&p, "18", p.expected_score(&partly)));
        let unknown_grade = indicator("30", text("长期坚持"), text("很好"), ScoringRule::Graded);
        assert!(p.expected_score(&unknown_grade).is_none());
    }

    #[test]
    fn the_linear_execution_score_matches_the_region() {
        // 89.51% → (89.51 − 60) / 40 × 10 = 7.38, as the reference's 技术运维管理平台 states.
        let p = policy();
        let evaluation = Evaluation {
            project: Some("p".into()),
            goal_expected: String::new(),
            goal_actual: String::new(),
            funds: vec![crate::domain::evaluation::FundsRow {
                source: FundsSource::Total,
                label: "年度资金总额".into(),
                initial_budget: None,
                full_year_budget: Some("43.00".parse().unwrap()),
                executed: Some("38.49".parse().unwrap()),
                weight: Some("10".parse().unwrap()),
                execution_rate: None,
                score: None,
            }],
            indicators: vec![],
            total_weight: None,
            total_score: None,
        };
        let score = p.execution_score(&evaluation).unwrap();
        assert!(
            p.score_interval("7.38".parse().unwrap()).overlaps(&score),
            "{score:?}"
        );
        assert!(!p.score_interval("8.95".parse().unwrap()).overlaps(&score));
    }

    fn with(policy_text: &[(&str, &str)]) -> ScoringPolicy {
        let mut text = POLICY.to_owned();
        for (from, to) in policy_text {
            assert!(text.contains(from), "{from}");
            text = text.replace(from, to);
        }
        ScoringPolicy::from_toml(&text).unwrap()
    }

    #[test]
    fn a_limit_is_exact_and_only_the_actual_is_rounded() {
        // ≤ 5万元 is five. 5.4 (5.35–5.45) over it: 2 − 1.08 → 9.2 of 10 under "deduct", never 10.
        let p = policy();
        let over = |actual: &str| {
            indicator(
                "10",
                number(Comparator::Le, "5", "万元"),
                number(Comparator::Eq, actual, "万元"),
                ScoringRule::Proportional,
            )
        };
        assert!(stated(&p, "9.2", p.expected_score(&over("5.4"))));
        assert!(!stated(&p, "10", p.expected_score(&over("5.4"))));
        // 5.6 (5.55–5.65) gives 8.7 to 8.9: neither 7.5 nor 9.9 is right any more.
        let expected = p.expected_score(&over("5.6"));
        assert!(stated(&p, "8.8", expected));
        assert!(!stated(&p, "7.5", expected));
        assert!(!stated(&p, "9.9", expected));
        // 5 itself keeps the limit, and so does 4.96.
        assert!(stated(&p, "10", p.expected_score(&over("5"))));
        assert!(stated(&p, "10", p.expected_score(&over("4.96"))));
    }

    #[test]
    fn completion_above_the_target_follows_the_declared_convention() {
        // 96 against ≥ 90: capped says 100%, actual says 106.67%, either accepts both.
        let i = indicator(
            "10",
            number(Comparator::Ge, "90", "%"),
            number(Comparator::Eq, "96", "%"),
            ScoringRule::Proportional,
        );
        let states = |p: &ScoringPolicy, rate: &str| stated(p, rate, p.completion(&i));
        let capped = with(&[]);
        assert!(states(&capped, "100") && !states(&capped, "106.67"));
        let actual = with(&[("\"capped\"", "\"actual\"")]);
        assert!(!states(&actual, "100") && states(&actual, "106.67"));
        let either = with(&[("\"capped\"", "\"either\"")]);
        assert!(states(&either, "100") && states(&either, "106.67"));
        assert!(!states(&either, "90"));
        // The score is capped at the weight whatever the completion convention.
        assert!(stated(&either, "10", either.expected_score(&i)));
    }

    #[test]
    fn an_exceeded_limit_scores_nothing_under_zero() {
        let p = with(&[("\"deduct\"", "\"zero\"")]);
        let i = indicator(
            "10",
            number(Comparator::Le, "5", "万元"),
            number(Comparator::Eq, "5.4", "万元"),
            ScoringRule::Proportional,
        );
        assert!(stated(&p, "0", p.expected_score(&i)));
        assert!(!stated(&p, "9.2", p.expected_score(&i)));
    }

    fn evaluation_with(budget: &str, executed: &str, stated_weight: &str) -> Evaluation {
        Evaluation {
            project: Some("p".into()),
            goal_expected: String::new(),
            goal_actual: String::new(),
            funds: vec![crate::domain::evaluation::FundsRow {
                source: FundsSource::Total,
                label: "年度资金总额".into(),
                initial_budget: None,
                full_year_budget: Some(budget.parse().unwrap()),
                executed: Some(executed.parse().unwrap()),
                weight: Some(stated_weight.parse().unwrap()),
                execution_rate: None,
                score: None,
            }],
            indicators: vec![],
            total_weight: None,
            total_score: None,
        }
    }

    #[test]
    fn a_stepped_execution_score_takes_the_highest_step_reached() {
        let p = with(&[("\"linear\"", "\"stepped\"")]);
        let score = |executed: &str| p.execution_score(&evaluation_with("100", executed, "10"));
        assert!(stated(&p, "10", score("100")));
        assert!(stated(&p, "8", score("95")));
        assert!(stated(&p, "6", score("85")));
        assert!(stated(&p, "0", score("70")));
        assert!(!stated(&p, "7", score("85")));
        // 90.00 of 100.00, both rounded: the rate may be just under 90%, so either step is right.
        let straddling = p
            .execution_score(&evaluation_with("100.00", "90.00", "10"))
            .unwrap();
        assert!(p.score_interval("8".parse().unwrap()).overlaps(&straddling));
    }

    #[test]
    fn the_execution_score_uses_the_declared_weight_not_the_stated_one() {
        // The reference's 国密 project states 74.56 as its execution weight; its score is still out of 10.
        let p = policy();
        let score = p.execution_score(&evaluation_with("100", "100", "74.56"));
        assert!(stated(&p, "10", score));
        assert!(!stated(&p, "74.56", score));
        let proportional = with(&[("\"linear\"", "\"proportional\"")]);
        assert!(stated(
            &proportional,
            "9.5",
            proportional.execution_score(&evaluation_with("100", "95", "10"))
        ));
    }

    proptest::proptest! {
        /// How a target's number is printed ("5", "5.0", "5.00") never changes a verdict.
        #[test]
        fn the_verdict_does_not_depend_on_how_a_target_is_printed(
            target_units in 1u32..100_000,
            actual_units in 0u32..200_000,
            extra_zeros in 1usize..4,
            comparator in proptest::sample::select(vec![Comparator::Le, Comparator::Ge, Comparator::Eq, Comparator::Lt, Comparator::Gt]),
            rule in proptest::sample::select(vec![ScoringRule::Proportional, ScoringRule::Direct]),
            above in proptest::sample::select(vec!["capped", "actual", "either"]),
            over in proptest::sample::select(vec!["deduct", "ratio", "zero"]),
        ) {
            let p = with(&[("\"capped\"", &format!("\"{above}\"")), ("\"deduct\"", &format!("\"{over}\""))]);
            let target = Decimal::new(i64::from(target_units), 2).normalize().to_string();
            let padded = if target.contains('.') {
                format!("{target}{}", "0".repeat(extra_zeros))
            } else {
                format!("{target}.{}", "0".repeat(extra_zeros))
            };
            let actual = Decimal::new(i64::from(actual_units), 2).to_string();
            let assess = |printed: &str| {
                p.assess(&indicator("10", number(comparator, printed, "万元"), number(Comparator::Eq, &actual, "万元"), rule))
            };
            proptest::prop_assert_eq!(assess(&target), assess(&padded));
        }
    }

    #[test]
    fn bad_policies_are_refused() {
        let bad = "mismatch_severity = \"loud\"\nscore_decimals = 2\n[completion]\nabove_target = \"capped\"\n[execution]\nweight = 10\nmethod = \"linear\"\nzero_at = 60\nfull_at = 100\n[proportional]\ncompletion_cap = 100\nover_limit = \"deduct\"\n[graded]\ngrades = {}\n[direct]\nunmet = 0\n";
        let (span, message) = ScoringPolicy::from_toml(bad).unwrap_err();
        assert!(message.contains("mismatch_severity"));
        assert_eq!(span.map(|s| s.start), Some(0));
    }
}

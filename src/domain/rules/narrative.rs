//! Narrative checks: the figures the 公开说明 states ("本年收入8,190.84万元", "占86.32%", "增加1,220.67万元，增长
//! 16.55%", "预决算差异率31.98%") read from the text and checked against the tables, rounding-aware, and
//! against last year's figures when the store has them. Which phrase means which figure is data
//! (`narrative.toml`); so are the checks' ids, severities and messages.

use std::collections::HashMap;

use rust_decimal::Decimal;
use serde::Deserialize;

use super::{
    RuleSet,
    ast::Expr,
    eval::{Context, evaluate_last_year, evaluate_number},
    parser::{DefinitionTable, parse_expression},
};
use crate::domain::{
    disclosure::{AmountUnit, Disclosure},
    money::{Interval, Value, round_for_display},
    taxonomy::{Taxonomy, TaxonomyError, load::SourceFile},
    validation::{CellRef, Finding, Report, Severity},
};

/// One kind of narrative check, with its rule id, severity and message.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckKind {
    pub id: String,
    pub severity: Severity,
    /// Placeholders: {section} {label} {provided} {expected} {difference} {unit} {change} {rate}.
    pub message: String,
    pub description: String,
}

/// A phrase of a section whose stated figure must agree with an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    pub section: String,
    /// Normalized (ASCII punctuation), as matched.
    pub label: String,
    pub value: Expr,
    pub unit: String,
    pub share_of: Option<Expr>,
    pub line: usize,
}

/// Phrases made from a code list: "文化旅游体育与传媒支出(类)新闻出版电影(款)出版发行(项)" → a table's row.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedPhrases {
    pub section: String,
    pub table: usize,
    pub column: usize,
    pub share_of: Option<Expr>,
    /// Normalized label → code.
    pub labels: HashMap<String, String>,
    /// The suffixes that end a label, e.g. "(类)", "(项)".
    pub markers: Vec<String>,
    /// Words between the label and the figure, e.g. ":支出决算数为".
    pub connector: String,
    pub line: usize,
}

/// "…年初预算数X万元，决算数Y万元，预决算差异率Z%": the rate against (Y − X) / X, X against the budget.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetVariance {
    pub section: String,
    pub label: String,
    pub budget: Expr,
    pub actual: Expr,
    pub line: usize,
}

/// What a label found in a section's text stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Phrase(usize),
    /// A level marker of generated phrases: (generated index).
    Marker(usize),
    Budget(usize),
}

/// All labels of one section in one automaton, so that a text is read once whatever the number of phrases.
#[derive(Debug, Clone)]
struct SectionMatcher {
    automaton: aho_corasick::AhoCorasick,
    targets: Vec<Target>,
}

#[derive(Debug, Clone)]
pub struct NarrativeChecks {
    pub amount: CheckKind,
    pub share: CheckKind,
    pub change: CheckKind,
    pub year_over_year: CheckKind,
    pub budget_rate: CheckKind,
    pub budget_figure: CheckKind,
    pub phrases: Vec<Phrase>,
    pub generated: Vec<GeneratedPhrases>,
    pub budget_variances: Vec<BudgetVariance>,
    matchers: HashMap<String, SectionMatcher>,
}

impl PartialEq for NarrativeChecks {
    fn eq(&self, other: &NarrativeChecks) -> bool {
        // The matchers are derived from the rest.
        self.kinds() == other.kinds()
            && self.phrases == other.phrases
            && self.generated == other.generated
            && self.budget_variances == other.budget_variances
    }
}

impl NarrativeChecks {
    pub fn kinds(&self) -> [&CheckKind; 6] {
        [
            &self.amount,
            &self.share,
            &self.change,
            &self.year_over_year,
            &self.budget_rate,
            &self.budget_figure,
        ]
    }
}

/// Full-width punctuation as ASCII, so that "（类）" and "(类)", "：" and ":" match alike.
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for (i, c) in text.char_indices() {
        let ascii = match c {
            '（' => '(',
            '）' => ')',
            '：' => ':',
            '，' => ',',
            '；' => ';',
            '　' => ' ',
            _ => continue,
        };
        out.push_str(&text[copied..i]);
        out.push(ascii);
        copied = i + c.len_utf8();
    }
    out.push_str(&text[copied..]);
    out
}

// ---- loading ----

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNarrative {
    checks: RawChecks,
    #[serde(default)]
    phrase: Vec<RawPhrase>,
    #[serde(default)]
    generated: Vec<RawGenerated>,
    #[serde(default)]
    budget_variance: Vec<RawBudgetVariance>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    amount: RawKind,
    share: RawKind,
    change: RawKind,
    year_over_year: RawKind,
    budget_rate: RawKind,
    budget_figure: RawKind,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKind {
    id: String,
    severity: toml::Spanned<String>,
    message: String,
    description: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPhrase {
    section: toml::Spanned<String>,
    label: String,
    value: toml::Spanned<String>,
    #[serde(default = "default_unit")]
    unit: String,
    share_of: Option<toml::Spanned<String>>,
}

fn default_unit() -> String {
    "万元".to_owned()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGenerated {
    section: toml::Spanned<String>,
    table: toml::Spanned<String>,
    column: String,
    levels: Vec<u8>,
    /// The suffix after each level's name, e.g. ["(类)", "(款)", "(项)"].
    suffixes: Vec<String>,
    #[serde(default)]
    connector: String,
    share_of: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBudgetVariance {
    section: toml::Spanned<String>,
    label: String,
    budget: toml::Spanned<String>,
    actual: toml::Spanned<String>,
}

/// Sections phrases may name: the taxonomy's narrative sections and the evaluations' goal texts.
fn section_exists(taxonomy: &Taxonomy, key: &str) -> bool {
    taxonomy.narrative_section(key).is_some()
        || key == "unit_evaluation.goal_actual"
        || key == "unit_evaluation.goal_expected"
}

pub(super) fn load(
    file: &SourceFile,
    taxonomy: &Taxonomy,
    definitions: &mut DefinitionTable,
) -> Result<NarrativeChecks, TaxonomyError> {
    let raw: RawNarrative = file.parse_toml()?;
    let relative = "narrative.toml";
    let expression = |spanned: &toml::Spanned<String>, definitions: &mut DefinitionTable| {
        // The expression's offsets are inside the string; +1 skips the opening quote.
        parse_expression(spanned.get_ref(), relative, taxonomy, definitions).map_err(|e| {
            file.error_at(
                spanned.span().start + 1 + e.offset..spanned.span().end,
                e.message,
            )
        })
    };
    let section = |spanned: &toml::Spanned<String>| {
        if section_exists(taxonomy, spanned.get_ref()) {
            Ok(spanned.get_ref().clone())
        } else {
            Err(file.error_at(
                spanned.span(),
                format!(
                    "no narrative section \"{}\" in taxonomy.toml",
                    spanned.get_ref()
                ),
            ))
        }
    };
    let kind = |raw: RawKind| -> Result<CheckKind, TaxonomyError> {
        let severity = Severity::parse(raw.severity.get_ref()).ok_or_else(|| {
            file.error_at(raw.severity.span(), "severity is error, warning or info")
        })?;
        Ok(CheckKind {
            id: raw.id,
            severity,
            message: raw.message,
            description: raw.description,
        })
    };
    let line_of = |span: std::ops::Range<usize>| file.position(span.start).0;

    let mut phrases = Vec::new();
    for p in raw.phrase {
        phrases.push(Phrase {
            section: section(&p.section)?,
            label: normalize(&p.label),
            value: expression(&p.value, definitions)?,
            unit: normalize(&p.unit),
            share_of: p
                .share_of
                .as_ref()
                .map(|s| expression(s, definitions))
                .transpose()?,
            line: line_of(p.section.span()),
        });
    }
    let mut generated = Vec::new();
    for g in raw.generated {
        let Some(table) = taxonomy.table_index(g.table.get_ref()) else {
            return Err(file.error_at(
                g.table.span(),
                format!("unknown table \"{}\"", g.table.get_ref()),
            ));
        };
        let def = &taxonomy.tables[table];
        let Some(list) = taxonomy.code_list_of(def) else {
            return Err(file.error_at(
                g.table.span(),
                format!("table {} has no code-list rows", def.code),
            ));
        };
        let Some(column) = def.column_index(&g.column) else {
            return Err(file.error_at(
                g.table.span(),
                format!("table {} has no column \"{}\"", def.code, g.column),
            ));
        };
        if g.suffixes.len() != list.level_digits.len() {
            return Err(file.error_at(
                g.table.span(),
                format!(
                    "suffixes needs one entry per level of {} ({})",
                    list.name,
                    list.level_digits.len()
                ),
            ));
        }
        let suffixes: Vec<String> = g.suffixes.iter().map(|s| normalize(s)).collect();
        let mut labels = HashMap::new();
        for (code, entry) in &list.entries {
            if !g.levels.contains(&entry.level) {
                continue;
            }
            // The label names every level from 类 down: ancestors first.
            let mut parts = Vec::new();
            let mut current: Option<&str> = Some(code);
            while let Some(c) = current {
                let e = list.get(c).expect("ancestors of listed codes are listed");
                parts.push(format!(
                    "{}{}",
                    normalize(&e.name),
                    suffixes[e.level as usize - 1]
                ));
                current = list.parent_of(c);
            }
            parts.reverse();
            labels.insert(parts.concat(), code.clone());
        }
        let markers = g
            .levels
            .iter()
            .map(|&l| suffixes[l as usize - 1].clone())
            .collect();
        generated.push(GeneratedPhrases {
            section: section(&g.section)?,
            table,
            column,
            share_of: g
                .share_of
                .as_ref()
                .map(|s| expression(s, definitions))
                .transpose()?,
            labels,
            markers,
            connector: normalize(&g.connector),
            line: line_of(g.section.span()),
        });
    }
    let mut budget_variances = Vec::new();
    for b in raw.budget_variance {
        budget_variances.push(BudgetVariance {
            section: section(&b.section)?,
            label: normalize(&b.label),
            budget: expression(&b.budget, definitions)?,
            actual: expression(&b.actual, definitions)?,
            line: line_of(b.section.span()),
        });
    }
    let mut patterns: HashMap<String, (Vec<String>, Vec<Target>)> = HashMap::new();
    for (i, phrase) in phrases.iter().enumerate() {
        let entry = patterns.entry(phrase.section.clone()).or_default();
        entry.0.push(phrase.label.clone());
        entry.1.push(Target::Phrase(i));
    }
    for (i, generated) in generated.iter().enumerate() {
        let entry = patterns.entry(generated.section.clone()).or_default();
        for marker in &generated.markers {
            entry.0.push(marker.clone());
            entry.1.push(Target::Marker(i));
        }
    }
    for (i, variance) in budget_variances.iter().enumerate() {
        let entry = patterns.entry(variance.section.clone()).or_default();
        entry.0.push(variance.label.clone());
        entry.1.push(Target::Budget(i));
    }
    let mut matchers = HashMap::new();
    for (section, (labels, targets)) in patterns {
        // Leftmost-longest: where labels overlap, the longer one is meant ("公务用车购置费全年预算数" rather than
        // "公务用车购置费" followed by words). A DFA, built once at start-up, reads each text in one pass.
        let automaton = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            .match_kind(aho_corasick::MatchKind::LeftmostLongest)
            .build(&labels)
            .map_err(|e| {
                file.error(format!(
                    "the labels of section {section} cannot be matched: {e}"
                ))
            })?;
        matchers.insert(section, SectionMatcher { automaton, targets });
    }
    Ok(NarrativeChecks {
        matchers,
        amount: kind(raw.checks.amount)?,
        share: kind(raw.checks.share)?,
        change: kind(raw.checks.change)?,
        year_over_year: kind(raw.checks.year_over_year)?,
        budget_rate: kind(raw.checks.budget_rate)?,
        budget_figure: kind(raw.checks.budget_figure)?,
        phrases,
        generated,
        budget_variances,
    })
}

// ---- reading statements ----

/// A figure as written: its value and the text it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stated {
    value: Value,
}

/// What follows a label: its figure, and the share, change and rate stated with it.
#[derive(Debug, Default, Clone, PartialEq)]
struct Statement {
    amount: Option<Stated>,
    share: Option<Stated>,
    /// Signed: 减少 is negative.
    change: Option<Stated>,
    /// Signed: 下降 is negative.
    rate: Option<Stated>,
}

/// Reads a number written with optional thousands separators: "8,190.84", "406.99", "269".
fn read_number(text: &str) -> Option<(Value, usize)> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut digits = String::new();
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        digits.push(bytes[i] as char);
        i += 1;
    }
    if digits.is_empty() {
        return None;
    }
    // ",ddd" groups continue the number; any other comma ends it.
    while i + 3 < bytes.len()
        && bytes[i] == b','
        && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        && !bytes.get(i + 4).is_some_and(u8::is_ascii_digit)
    {
        digits.push_str(&text[i + 1..i + 4]);
        i += 4;
    }
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        digits.push('.');
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(bytes[i] as char);
            i += 1;
        }
    }
    digits.parse().ok().map(|value| (value, i))
}

/// Skips what may stand between a label and its figure: "为", "是", ":", spaces and a parenthesis
/// ("使用非财政拨款结余(含专用结余)0.00万元").
fn skip_connector(text: &str) -> &str {
    let mut rest = text;
    loop {
        let before = rest.len();
        rest = rest.trim_start_matches([' ', ':', '为', '是']);
        if rest.starts_with('(')
            && let Some(close) = rest.find(')')
            && close < 60
        {
            rest = &rest[close + 1..];
        }
        if rest.len() == before {
            return rest;
        }
    }
}

const CHANGE_LEADS: [&str; 5] = [
    "与上年相比,",
    "与上年相比",
    "比上年决算",
    "比上年",
    "较上年",
];

/// Reads the statement after a label. Items after the figure belong to it until something else starts; a
/// sentence that begins "与上年相比" continues the previous one.
fn read_statement(text: &str, unit: &str) -> Statement {
    let mut statement = Statement::default();
    let mut rest = skip_connector(text);
    if let Some((value, used)) = read_number(rest)
        && rest[used..].starts_with(unit)
    {
        statement.amount = Some(Stated { value });
        rest = &rest[used + unit.len()..];
    }
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if let Some(after) = rest.strip_prefix('。').or_else(|| rest.strip_prefix(';')) {
            if CHANGE_LEADS.iter().any(|lead| after.starts_with(lead)) && statement.change.is_none()
            {
                rest = after;
                continue;
            }
            break;
        }
        if let Some(after) = CHANGE_LEADS.iter().find_map(|lead| rest.strip_prefix(lead)) {
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix('占') {
            // "占86.32%", "占本年支出合计的88.68%": the first number after 占, if a percentage.
            let digit = after.find(|c: char| c.is_ascii_digit());
            match digit {
                Some(d) if after[..d].chars().count() <= 20 => match read_number(&after[d..]) {
                    Some((value, used)) if after[d + used..].starts_with('%') => {
                        statement.share.get_or_insert(Stated { value });
                        rest = &after[d + used + 1..];
                        continue;
                    }
                    _ => break,
                },
                _ => break,
            }
        }
        let signed = |prefix: &str,
                      negative: bool,
                      suffix: &str,
                      rest: &str|
         -> Option<(Stated, usize)> {
            let after = rest.strip_prefix(prefix)?;
            let (value, used) = read_number(after)?;
            let after_number = &after[used..];
            let unit_len = if suffix.is_empty() {
                after_number
                    .chars()
                    .take_while(|c| {
                        !c.is_ascii_punctuation() && *c != '。' && *c != ',' && !c.is_ascii_digit()
                    })
                    .take(3)
                    .map(char::len_utf8)
                    .sum()
            } else if after_number.starts_with(suffix) {
                suffix.len()
            } else {
                return None;
            };
            let value = if negative {
                Value::from_decimal(-value.decimal())
            } else {
                value
            };
            Some((Stated { value }, prefix.len() + used + unit_len))
        };
        if let Some((stated, used)) =
            signed("增加", false, "", rest).or_else(|| signed("减少", true, "", rest))
        {
            statement.change.get_or_insert(stated);
            rest = &rest[used..];
            continue;
        }
        if let Some((stated, used)) =
            signed("增长", false, "%", rest).or_else(|| signed("下降", true, "%", rest))
        {
            statement.rate.get_or_insert(stated);
            rest = &rest[used..];
            continue;
        }
        break;
    }
    statement
}

// ---- checking ----

struct Checker<'a> {
    checks: &'a NarrativeChecks,
    rules: &'a RuleSet,
    taxonomy: &'a Taxonomy,
    disclosure: &'a Disclosure,
    context: Context<'a>,
    report: &'a mut Report,
}

fn render(kind: &CheckKind, fill: &[(&str, String)]) -> String {
    let mut message = kind.message.clone();
    for (name, value) in fill {
        message = message.replace(&format!("{{{name}}}"), value);
    }
    message
}

fn percent(interval: Interval) -> Option<Interval> {
    interval.percent()
}

impl Checker<'_> {
    /// The expression's value in 万元 (what narratives state) when `unit` is 万元 and the tables are in 元.
    fn value(&self, expr: &Expr, unit: &str) -> Option<Interval> {
        let (value, _) = evaluate_number(
            self.rules,
            self.taxonomy,
            self.disclosure,
            self.context,
            expr,
            false,
        );
        value.and_then(|v| self.in_stated_unit(v, unit))
    }

    /// The cells an expression reads, for a finding (evaluated again only when a check fails).
    fn cells(&self, expr: &Expr) -> Vec<CellRef> {
        evaluate_number(
            self.rules,
            self.taxonomy,
            self.disclosure,
            self.context,
            expr,
            true,
        )
        .1
    }

    fn in_stated_unit(&self, value: Interval, unit: &str) -> Option<Interval> {
        if unit == "万元" && self.disclosure.cover.amount_unit == AmountUnit::Yuan {
            value.checked_div(&Interval::exact(Decimal::from(10_000)))
        } else {
            Some(value)
        }
    }

    fn stated_interval(stated: Stated, unit: &str) -> Interval {
        // Counts of people, vehicles, projects are exact; money and percentages are rounded figures.
        if ["人", "辆", "个", "台(套)"].contains(&unit) {
            stated.value.exact_interval()
        } else {
            stated.value.rounded_interval()
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        kind: &CheckKind,
        section: &str,
        label: &str,
        provided: Value,
        expected: Interval,
        mut cells: Vec<CellRef>,
        fill: &[(&str, String)],
    ) {
        let expected_shown = round_for_display(expected.nominal(), provided.scale().max(2));
        let difference = provided.decimal().checked_sub(expected_shown);
        let title = match section {
            "unit_evaluation.goal_actual" => "单位整体支出绩效自评表·实际完成情况".to_owned(),
            "unit_evaluation.goal_expected" => "单位整体支出绩效自评表·预期目标".to_owned(),
            _ => self
                .taxonomy
                .narrative_section(section)
                .map_or_else(|| section.to_owned(), |s| s.title.clone()),
        };
        let mut all = vec![
            ("section", title),
            ("label", label.to_owned()),
            ("provided", provided.to_string()),
            ("expected", expected_shown.to_string()),
            (
                "difference",
                difference.map(|d| d.to_string()).unwrap_or_default(),
            ),
        ];
        all.extend(fill.iter().cloned());
        cells.insert(
            0,
            CellRef {
                table: "NARRATIVE".into(),
                row: section.to_owned(),
                column: label.to_owned(),
                unit: None,
            },
        );
        self.report.findings.push(Finding {
            rule_id: kind.id.clone(),
            severity: kind.severity,
            message: render(kind, &all),
            cells,
            provided: Some(provided.decimal()),
            expected: Some(expected_shown),
            difference,
            project: None,
            indicator: None,
            key: String::new(),
            explanation: None,
        });
    }

    fn compare(&mut self, holds: bool) -> bool {
        self.report.checks_evaluated += 1;
        holds
    }

    /// Every check a statement allows for a figure (`value`) and its share base.
    fn check_statement(
        &mut self,
        section: &str,
        label: &str,
        unit: &str,
        statement: &Statement,
        value_expr: &Expr,
        share_of: Option<&Expr>,
    ) {
        let checks = self.checks;
        let Some(value) = self.value(value_expr, unit) else {
            if statement.amount.is_some() {
                self.report.checks_not_evaluated += 1;
            }
            return;
        };
        if let Some(amount) = statement.amount {
            let stated = Self::stated_interval(amount, unit);
            if !self.compare(stated.overlaps(&value)) {
                let cells = self.cells(value_expr);
                self.finding(
                    &checks.amount,
                    section,
                    label,
                    amount.value,
                    value,
                    cells,
                    &[("unit", unit.to_owned())],
                );
            }
        }
        if let (Some(share), Some(base)) = (statement.share, share_of) {
            match self
                .value(base, unit)
                .and_then(|b| value.checked_div(&b))
                .and_then(percent)
            {
                Some(expected) => {
                    if !self.compare(share.value.rounded_interval().overlaps(&expected)) {
                        let mut cells = self.cells(value_expr);
                        cells.extend(self.cells(base));
                        self.finding(
                            &checks.share,
                            section,
                            label,
                            share.value,
                            expected,
                            cells,
                            &[("unit", "%".into())],
                        );
                    }
                }
                None => self.report.checks_not_evaluated += 1,
            }
        }
        if let (Some(change), Some(rate)) = (statement.change, statement.rate) {
            // Last year = this year − change; rate = change / last year. When last year was zero the rate is
            // undefined, and only "0" with no change is consistent; nothing to check.
            let change_interval = Self::stated_interval(change, unit);
            let last = value.checked_sub(&change_interval);
            if let Some(expected) = last
                .and_then(|last| change_interval.checked_div(&last))
                .and_then(percent)
                && !self.compare(rate.value.rounded_interval().overlaps(&expected))
            {
                let cells = self.cells(value_expr);
                self.finding(
                    &checks.change,
                    section,
                    label,
                    rate.value,
                    expected,
                    cells,
                    &[
                        ("change", change.value.to_string()),
                        ("unit", unit.to_owned()),
                    ],
                );
            }
        }
        if let Some(change) = statement.change
            && let Some(last) =
                evaluate_last_year(self.rules, self.taxonomy, self.context, value_expr)
                    .and_then(|last| self.in_stated_unit(last, unit))
            && let Some(expected) = value.checked_sub(&last)
            && !self.compare(Self::stated_interval(change, unit).overlaps(&expected))
        {
            let cells = self.cells(value_expr);
            self.finding(
                &checks.year_over_year,
                section,
                label,
                change.value,
                expected,
                cells,
                &[
                    ("unit", unit.to_owned()),
                    (
                        "last_year",
                        round_for_display(last.nominal(), 2).to_string(),
                    ),
                ],
            );
        }
    }

    /// One "…年初预算数X万元，决算数Y万元，预决算差异率Z%" after the label, whose statement starts at `start`.
    fn check_budget_variance(&mut self, variance: &BudgetVariance, text: &str, start: usize) {
        let checks = self.checks;
        let sentence_end = text[start..]
            .find(['。', ';'])
            .map_or(text.len(), |e| start + e);
        let sentence = skip_connector(&text[start..sentence_end]);
        let Some((budget, used)) = read_number(sentence) else {
            return;
        };
        let after_budget = &sentence[used..];
        let actual = after_budget
            .find("决算数")
            .and_then(|i| read_number(skip_connector(&after_budget[i + "决算数".len()..])));
        let rate = sentence.find("预决算差异率").and_then(|i| {
            let after = skip_connector(&sentence[i + "预决算差异率".len()..]);
            read_number(after).filter(|(_, used)| after[*used..].starts_with('%'))
        });
        if let Some(expected) = self.value(&variance.budget, "万元")
            && !self.compare(budget.rounded_interval().overlaps(&expected))
        {
            let cells = self.cells(&variance.budget);
            self.finding(
                &checks.budget_figure,
                &variance.section,
                &variance.label,
                budget,
                expected,
                cells,
                &[("unit", "万元".into())],
            );
        }
        if let (Some((actual, _)), Some((rate, _))) = (actual, rate) {
            let b = budget.rounded_interval();
            let a = actual.rounded_interval();
            // A zero budget has no rate; a stated 0.00% with no spending is consistent.
            if let Some(expected) = a
                .checked_sub(&b)
                .and_then(|d| d.checked_div(&b))
                .and_then(percent)
                && !self.compare(rate.rounded_interval().overlaps(&expected))
            {
                let cells = self.cells(&variance.actual);
                self.finding(
                    &checks.budget_rate,
                    &variance.section,
                    "预决算差异率",
                    rate,
                    expected,
                    cells,
                    &[("unit", "%".into())],
                );
            }
        }
    }
}

/// The narrative texts of a disclosure by section key (its sections and the unit evaluation's goal texts),
/// normalized, for the sections that have phrases.
fn texts<'d>(disclosure: &'d Disclosure, checks: &NarrativeChecks) -> Vec<(&'d str, String)> {
    let mut raw: Vec<(&str, &str)> = disclosure
        .narrative
        .iter()
        .map(|s| (s.key.as_str(), s.text.as_str()))
        .collect();
    if let Some(unit) = &disclosure.unit_evaluation {
        raw.push(("unit_evaluation.goal_expected", &unit.goal_expected));
        raw.push(("unit_evaluation.goal_actual", &unit.goal_actual));
    }
    raw.into_iter()
        .filter(|(key, _)| checks.matchers.contains_key(*key))
        .map(|(key, text)| (key, normalize(text)))
        .collect()
}

/// Where the label ending at `end` starts: after the last sentence or clause boundary, and after list
/// numbering such as "4.".
fn label_start(text: &str, end: usize) -> usize {
    let head = &text[..end];
    let mut start = head.rfind(['\n', '。', ';', ',', ':']).map_or(0, |i| {
        i + head[i..].chars().next().map_or(1, char::len_utf8)
    });
    let rest = &text[start..end];
    let numbering = rest.bytes().take_while(|b| b.is_ascii_digit()).count();
    if numbering > 0 && (rest[numbering..].starts_with('.') || rest[numbering..].starts_with('、'))
    {
        start += numbering + rest[numbering..].chars().next().map_or(0, char::len_utf8);
    }
    start
}

pub(super) fn run(
    rules: &RuleSet,
    taxonomy: &Taxonomy,
    disclosure: &Disclosure,
    context: Context<'_>,
    report: &mut Report,
) {
    let Some(narrative) = &rules.narrative else {
        return;
    };
    let texts = texts(disclosure, narrative);
    let mut checker = Checker {
        checks: narrative,
        rules,
        taxonomy,
        disclosure,
        context,
        report,
    };
    for (key, text) in &texts {
        let Some(matcher) = narrative.matchers.get(*key) else {
            continue;
        };
        for found in matcher.automaton.find_iter(text.as_str()) {
            let end = found.end();
            match matcher.targets[found.pattern().as_usize()] {
                Target::Phrase(i) => {
                    let phrase = &narrative.phrases[i];
                    let statement = read_statement(&text[end..], &phrase.unit);
                    if statement != Statement::default() {
                        checker.check_statement(
                            key,
                            &phrase.label,
                            &phrase.unit,
                            &statement,
                            &phrase.value,
                            phrase.share_of.as_ref(),
                        );
                    }
                }
                Target::Marker(g) => {
                    let generated = &narrative.generated[g];
                    let start = label_start(text, end);
                    let Some(code) = generated.labels.get(&text[start..end]) else {
                        continue;
                    };
                    let after = &text[end..];
                    let statement = read_statement(
                        after
                            .strip_prefix(generated.connector.as_str())
                            .unwrap_or(after),
                        "万元",
                    );
                    if statement == Statement::default() {
                        continue;
                    }
                    let value = Expr::Cell(super::ast::CellRef {
                        table: super::ast::TableRef::Table(generated.table),
                        rows: super::ast::RowSel::Code(code.clone()),
                        col: super::ast::ColSel::Index(generated.column),
                    });
                    checker.check_statement(
                        key,
                        &text[start..end],
                        "万元",
                        &statement,
                        &value,
                        generated.share_of.as_ref(),
                    );
                }
                Target::Budget(b) => {
                    checker.check_budget_variance(&narrative.budget_variances[b], text, end)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Option<Stated> {
        Some(Stated {
            value: text.parse().unwrap(),
        })
    }

    #[test]
    fn normalizes_full_width_punctuation_only() {
        assert_eq!(
            normalize("收入（含专用）：8,190.84万元，占；"),
            "收入(含专用):8,190.84万元,占;"
        );
        assert_eq!(normalize("plain"), "plain");
    }

    #[test]
    fn reads_a_figure_with_its_share() {
        let text = normalize("7,070.64万元，占86.32%；上级补助收入0.00万元，占0.00%");
        let statement = read_statement(&text, "万元");
        assert_eq!(statement.amount, v("7070.64"));
        assert_eq!(statement.share, v("86.32"));
        assert_eq!(statement.change, None);
    }

    #[test]
    fn reads_changes_and_rates_with_their_signs() {
        // What follows "…宗教事务(项):支出决算数为" once the connector is stripped.
        let text =
            normalize("0.00万元，比上年决算减少3.00万元，下降100.00%,主要原因是：本年未安排");
        let statement = read_statement(&text, "万元");
        assert_eq!(statement.amount, v("0.00"));
        assert_eq!(statement.change, v("-3.00"));
        assert_eq!(statement.rate, v("-100.00"));

        let continued = normalize(
            "7,070.64万元，占本年支出合计的88.68%。与上年相比，增加962.13万元，增长15.75%，主要原因",
        );
        let statement = read_statement(&continued, "万元");
        assert_eq!(statement.share, v("88.68"));
        assert_eq!(statement.change, v("962.13"));
        assert_eq!(statement.rate, v("15.75"));

        let people = normalize("170人，减少11人；离休人员0人");
        let statement = read_statement(&people, "人");
        assert_eq!((statement.amount, statement.change), (v("170"), v("-11")));
    }

    #[test]
    fn skips_parentheses_and_connectors_but_not_words() {
        let text = normalize("（含专用结余）0.00万元，年初结转和结余406.99万元");
        assert_eq!(read_statement(&text, "万元").amount, v("0.00"));
        let text = normalize("全年预算数0.00万元");
        assert_eq!(read_statement(&text, "万元"), Statement::default());
        assert_eq!(
            read_statement("为7974.18万元,总预算", "万元").amount,
            v("7974.18")
        );
        assert_eq!(
            read_statement("8辆,价值296.94万元", "万元"),
            Statement::default()
        );
    }

    #[test]
    fn numbers_keep_their_precision_and_stop_at_separators() {
        assert_eq!(
            read_number("1,220.67万元").map(|(v, _)| v.to_string()),
            Some("1220.67".into())
        );
        assert_eq!(
            read_number("5,2").map(|(v, u)| (v.to_string(), u)),
            Some(("5".into(), 1))
        );
        assert_eq!(
            read_number("100.00%").map(|(v, _)| v.to_string()),
            Some("100.00".into())
        );
        assert!(read_number("万元").is_none());
    }

    #[test]
    fn labels_start_after_numbering() {
        let text = normalize("（二）结构\n1.文化旅游体育与传媒支出(类)7,057.75万元");
        let end = text.find("(类)").unwrap() + "(类)".len();
        assert_eq!(
            &text[label_start(&text, end)..end],
            "文化旅游体育与传媒支出(类)"
        );
    }
}

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
    /// The budget a completion rate ("完成预算的100%") is of.
    pub budget: Option<Expr>,
    pub line: usize,
}

/// Other names of lines: "收入合计", "总收入", "本年度收入合计" for 本年收入合计. A name may stand for several lines
/// ("总收入" is 收入总计 in some texts and 本年收入合计 in others): the stated figure is read as the first line
/// it agrees with, and checked against the first when it agrees with none.
#[derive(Debug, Clone, PartialEq)]
pub struct Alias {
    pub section: String,
    /// The names as written (normalized).
    pub forms: Vec<String>,
    /// The phrases it may stand for, most likely first.
    pub phrases: Vec<usize>,
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
    /// A parallel form naming several phrases at once ("收、支总计各为…").
    Parallel(usize),
    /// Another name of one or more phrases.
    Alias(usize),
    /// The name of another line that contains a label ("政府性基金预算财政拨款收入" contains "财政拨款收入"):
    /// matched so that the label inside it is not read as its own.
    Other,
}

/// Several phrases named at once and given their figures in order: "收入总计、支出总计分别为A、B万元",
/// "收、支总计各是A、B万元", "均为A万元".
#[derive(Debug, Clone, PartialEq)]
pub struct Parallel {
    pub section: String,
    /// The forms as written (normalized).
    pub forms: Vec<String>,
    /// The phrases, in the order their figures come.
    pub phrases: Vec<usize>,
    pub line: usize,
}

/// All labels of one section in one automaton, so that a text is read once whatever the number of phrases.
#[derive(Debug, Clone)]
struct SectionMatcher {
    automaton: aho_corasick::AhoCorasick,
    targets: Vec<Target>,
}

#[derive(Debug, Clone)]
pub struct NarrativeChecks {
    /// The file, relative to the taxonomy root ("2024/narrative.toml").
    pub origin: String,
    pub amount: CheckKind,
    pub share: CheckKind,
    pub change: CheckKind,
    pub year_over_year: CheckKind,
    pub budget_rate: CheckKind,
    pub budget_figure: CheckKind,
    /// A stated completion rate against the figure and its budget; `None` when the year's file has none.
    pub completion: Option<CheckKind>,
    /// Parts ("其中…") that add up to more than their whole.
    pub parts: Option<CheckKind>,
    /// Two or more parts that add up to less than their whole: a part may be unnamed.
    pub parts_short: Option<CheckKind>,
    pub phrases: Vec<Phrase>,
    pub generated: Vec<GeneratedPhrases>,
    pub budget_variances: Vec<BudgetVariance>,
    pub parallels: Vec<Parallel>,
    pub aliases: Vec<Alias>,
    matchers: HashMap<String, SectionMatcher>,
}

impl PartialEq for NarrativeChecks {
    fn eq(&self, other: &NarrativeChecks) -> bool {
        // The matchers are derived from the rest.
        self.kinds() == other.kinds()
            && self.phrases == other.phrases
            && self.generated == other.generated
            && self.budget_variances == other.budget_variances
            && self.parallels == other.parallels
            && self.aliases == other.aliases
    }
}

impl NarrativeChecks {
    pub fn kinds(&self) -> Vec<&CheckKind> {
        let mut kinds = vec![
            &self.amount,
            &self.share,
            &self.change,
            &self.year_over_year,
            &self.budget_rate,
            &self.budget_figure,
        ];
        kinds.extend(
            [&self.completion, &self.parts, &self.parts_short]
                .into_iter()
                .flatten(),
        );
        kinds
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each zero byte of a word; the lowest one set is exact (higher ones may be borrows), and the
/// lowest is all a search needs.
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGH
}

/// The lead bytes E2, E3 and EF of the three-byte characters that are punctuation, full-width forms and
/// quotation marks, in a word.
fn wide_punctuation_leads(word: u64) -> u64 {
    zero_bytes((word ^ (ONES * 0xE2)) & (ONES * 0xFE)) | zero_bytes(word ^ (ONES * 0xEF))
}

/// The first byte from `from` that `in_word` marks (the high bit of each such byte of a little-endian word, exact
/// for the lowest) and `is_one` accepts, eight bytes at a time: most bytes of a Chinese text are none of those a
/// reading looks for, and testing them one by one cost more than the rest of the reading. `bytes.len()` when
/// there is none.
#[inline(always)]
fn find_byte(
    bytes: &[u8],
    from: usize,
    in_word: impl Fn(u64) -> u64,
    is_one: impl Fn(u8) -> bool,
) -> usize {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let found = in_word(u64::from_le_bytes(chunk.try_into().expect("eight bytes")));
        if found != 0 {
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let at = at.min(bytes.len());
    bytes[at..]
        .iter()
        .position(|&b| is_one(b))
        .map_or(bytes.len(), |i| at + i)
}

/// The first byte from `from` that may be a digit or a clause end: an ASCII byte below '@' (digits and the ASCII
/// punctuation) or the lead byte of a three-byte punctuation mark. Both are always at a character boundary.
pub(super) fn next_candidate(bytes: &[u8], from: usize) -> usize {
    find_byte(
        bytes,
        from,
        |word| word.wrapping_sub(ONES * 0x40) & !word & HIGH | wide_punctuation_leads(word),
        |b| b < 0x40 || matches!(b, 0xE2 | 0xE3 | 0xEF),
    )
}

/// The first byte from `from` that normalizing may change: an ASCII quotation mark, or the lead byte of a
/// three-byte punctuation mark or full-width form.
fn next_to_normalize(bytes: &[u8], from: usize) -> usize {
    find_byte(
        bytes,
        from,
        |word| {
            zero_bytes(word ^ (ONES * u64::from(b'"')))
                | zero_bytes(word ^ (ONES * u64::from(b'\'')))
                | wide_punctuation_leads(word)
        },
        |b| matches!(b, b'"' | b'\'' | 0xE2 | 0xE3 | 0xEF),
    )
}

/// One form for what units and regions write differently: full-width punctuation, digits, "％" and minus signs
/// ("－", "−") as ASCII, so that "（类）" and "(类)", "：" and ":", "１２％" and "12%", "−20%" and "-20%" match
/// alike; quotation marks dropped, so that "“三公”经费" and "三公经费" do.
pub fn normalize(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    // Runs of bytes that stay are copied whole; only the characters above are decoded. Every one of them is
    // an ASCII quotation mark or three bytes in UTF-8 starting with 0xE2, 0xE3 or 0xEF, which
    // `next_to_normalize` jumps to.
    let mut run = 0;
    let mut i = 0;
    loop {
        i = next_to_normalize(bytes, i);
        if i >= bytes.len() {
            break;
        }
        let b = bytes[i];
        let (replacement, width) = match b {
            b'"' | b'\'' => (None, 1),
            0xE2 | 0xE3 | 0xEF if i + 2 < bytes.len() => {
                let c = u32::from(b & 0x0F) << 12
                    | u32::from(bytes[i + 1] & 0x3F) << 6
                    | u32::from(bytes[i + 2] & 0x3F);
                match char::from_u32(c) {
                    Some('（') => (Some('('), 3),
                    Some('）') => (Some(')'), 3),
                    Some('：') => (Some(':'), 3),
                    Some('，') => (Some(','), 3),
                    Some('；') => (Some(';'), 3),
                    Some('　') => (Some(' '), 3),
                    Some('％') => (Some('%'), 3),
                    Some('．') => (Some('.'), 3),
                    Some('－' | '−') => (Some('-'), 3),
                    Some(d @ '０'..='９') => {
                        (Some(char::from(b'0' + (d as u32 - '０' as u32) as u8)), 3)
                    }
                    Some('“' | '”' | '‘' | '’' | '「' | '」') => (None, 3),
                    _ => {
                        i += 3;
                        continue;
                    }
                }
            }
            // Only the bytes above are found, and a three-byte character always has its two bytes after it; this
            // steps over anything else rather than trusting that.
            _ => {
                i += 1;
                continue;
            }
        };
        out.push_str(&text[run..i]);
        if let Some(r) = replacement {
            out.push(r);
        }
        i += width;
        run = i;
    }
    out.push_str(&text[run..]);
    out
}

/// Words that give a reason.
const REASONS: [&str; 5] = ["原因", "由于", "因为", "系因", "主要是"];

/// Whether a text has a sentence that names every word (as normalized) and gives a reason: "国有资产占用情况中
/// 固定资产车辆8辆，与公务用车保有量差异原因是：单位业务用车…" explains the vehicles against 公务用车保有量.
pub fn explains(text: &str, words: &[&str]) -> bool {
    let text = normalize(text);
    let words: Vec<String> = words.iter().map(|w| normalize(w)).collect();
    text.split(['。', ';', '!', '?', '\n']).any(|sentence| {
        words.iter().all(|w| sentence.contains(w.as_str()))
            && REASONS.iter().any(|r| sentence.contains(r))
    })
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
    #[serde(default)]
    parallel: Vec<RawParallel>,
    #[serde(default)]
    alias: Vec<RawAlias>,
    /// Names of lines that contain a label but mean another line; table lines and code names are known already.
    #[serde(default)]
    other_names: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlias {
    section: toml::Spanned<String>,
    forms: Vec<String>,
    labels: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParallel {
    section: toml::Spanned<String>,
    forms: Vec<String>,
    labels: Vec<String>,
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
    completion: Option<RawKind>,
    parts: Option<RawKind>,
    parts_short: Option<RawKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawKind {
    id: String,
    severity: toml::Spanned<String>,
    message: String,
    description: String,
}

/// A check kind as a year's file declares it (id, severity, message, description).
pub(super) fn check_kind(file: &SourceFile, raw: RawKind) -> Result<CheckKind, TaxonomyError> {
    let severity = Severity::parse(raw.severity.get_ref())
        .ok_or_else(|| file.error_at(raw.severity.span(), "severity is error, warning or info"))?;
    Ok(CheckKind {
        id: raw.id,
        severity,
        message: raw.message,
        description: raw.description,
    })
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
    budget: Option<toml::Spanned<String>>,
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
    let kind = |raw: RawKind| check_kind(file, raw);
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
            budget: p
                .budget
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
        for (code, entry) in list.entries() {
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
    let mut parallels = Vec::new();
    for p in raw.parallel {
        let section = section(&p.section)?;
        let mut indices = Vec::new();
        for label in &p.labels {
            let label = normalize(label);
            let index = phrases
                .iter()
                .position(|ph| ph.section == section && ph.label == label)
                .ok_or_else(|| {
                    file.error_at(
                        p.section.span(),
                        format!(
                            "no phrase \"{label}\" in section {section} for this parallel form"
                        ),
                    )
                })?;
            indices.push(index);
        }
        parallels.push(Parallel {
            section,
            forms: p.forms.iter().map(|f| normalize(f)).collect(),
            phrases: indices,
            line: line_of(p.section.span()),
        });
    }
    let mut aliases = Vec::new();
    for a in raw.alias {
        let section = section(&a.section)?;
        if let Some(taken) = a.forms.iter().map(|f| normalize(f)).find(|form| {
            phrases
                .iter()
                .any(|ph| ph.section == section && &ph.label == form)
        }) {
            return Err(file.error_at(
                a.section.span(),
                format!("\"{taken}\" is already a label of section {section}"),
            ));
        }
        let mut indices = Vec::new();
        for label in &a.labels {
            let label = normalize(label);
            let index = phrases
                .iter()
                .position(|ph| ph.section == section && ph.label == label)
                .ok_or_else(|| {
                    file.error_at(
                        a.section.span(),
                        format!("no phrase \"{label}\" in section {section} for this alias"),
                    )
                })?;
            indices.push(index);
        }
        if indices.is_empty() || a.forms.is_empty() {
            return Err(file.error_at(
                a.section.span(),
                "an alias needs forms and the labels they stand for",
            ));
        }
        aliases.push(Alias {
            section,
            forms: a.forms.iter().map(|f| normalize(f)).collect(),
            phrases: indices,
            line: line_of(a.section.span()),
        });
    }
    // Every name a text may use for a line: table lines, code names, every section's labels, and the names the
    // file adds. A label is read only where the text does not name a longer line that contains it.
    let mut names: Vec<String> = taxonomy
        .tables
        .iter()
        .flat_map(|t| t.lines.iter().map(|l| normalize(&l.name)))
        .chain(
            taxonomy
                .code_lists
                .values()
                .flat_map(|l| l.entries().values().map(|e| normalize(&e.name))),
        )
        .chain(phrases.iter().map(|p| p.label.clone()))
        .chain(budget_variances.iter().map(|b| b.label.clone()))
        .chain(raw.other_names.iter().map(|n| normalize(n)))
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
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
    for (i, parallel) in parallels.iter().enumerate() {
        let entry = patterns.entry(parallel.section.clone()).or_default();
        for form in &parallel.forms {
            entry.0.push(form.clone());
            entry.1.push(Target::Parallel(i));
        }
    }
    for (i, alias) in aliases.iter().enumerate() {
        let entry = patterns.entry(alias.section.clone()).or_default();
        for form in &alias.forms {
            entry.0.push(form.clone());
            entry.1.push(Target::Alias(i));
        }
    }
    for (labels, targets) in patterns.values_mut() {
        for name in &names {
            // A name that is a label (or a marker) of the section is that label; only longer names of other
            // lines block it. The label with a word that names its own figure after it ("本年收入合计" for
            // "本年收入") is the same line, read through the connector.
            let same_line = |label: &String| {
                name.strip_prefix(label.as_str())
                    .is_some_and(|rest| SAME_LINE_SUFFIXES.contains(&rest))
            };
            let other_line = |label: &String| name.contains(label.as_str()) && !same_line(label);
            // A name that is some label with a word naming its own figure ("本年支出合计") is read through that
            // label, even where a shorter label ("支出合计") is inside it.
            if !labels.contains(name)
                && !labels.iter().any(same_line)
                && labels.iter().any(other_line)
            {
                labels.push(name.clone());
                targets.push(Target::Other);
            }
        }
    }
    let mut matchers = HashMap::new();
    for (section, (labels, targets)) in patterns {
        // Leftmost-longest: where labels overlap, the longer one is meant ("公务用车购置费全年预算数" rather than
        // "公务用车购置费" followed by words). A DFA, built once at start-up, reads each text in one pass.
        let automaton = aho_corasick::AhoCorasick::builder()
            .kind(Some(aho_corasick::AhoCorasickKind::DFA))
            // No prefilter: its "rare" bytes are UTF-8 lead bytes, which Chinese text has every third byte, so
            // it would stop the DFA at nearly every character.
            .prefilter(false)
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
        origin: String::new(),
        matchers,
        amount: kind(raw.checks.amount)?,
        share: kind(raw.checks.share)?,
        change: kind(raw.checks.change)?,
        year_over_year: kind(raw.checks.year_over_year)?,
        budget_rate: kind(raw.checks.budget_rate)?,
        budget_figure: kind(raw.checks.budget_figure)?,
        completion: raw.checks.completion.map(kind).transpose()?,
        parts: raw.checks.parts.map(kind).transpose()?,
        parts_short: raw.checks.parts_short.map(kind).transpose()?,
        phrases,
        generated,
        budget_variances,
        parallels,
        aliases,
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
    /// "完成预算的100%": the figure as a percentage of its budget.
    completion: Option<Stated>,
    /// "持平": no change, and so no rate to check against it.
    flat: bool,
    /// Figures read but not taken: in another unit than the phrase's, or otherwise uncertain.
    unsure: u32,
    /// Where the amount starts in the text read.
    amount_at: Option<usize>,
}

impl Statement {
    /// Whether it states anything to check.
    fn states_something(&self) -> bool {
        self.amount.is_some()
            || self.share.is_some()
            || self.change.is_some()
            || self.rate.is_some()
            || self.completion.is_some()
    }
}

/// Reads a number written with optional thousands separators: "8,190.84", "406.99", "269".
pub(super) fn read_number(text: &str) -> Option<(Value, usize)> {
    /// The digits and point of a number, without its separators, on the stack: a value has at most
    /// `MAX_INTEGER_DIGITS + MAX_DECIMALS` digits, and a longer run is no value.
    struct Digits {
        bytes: [u8; 32],
        len: usize,
        overflow: bool,
    }
    impl Digits {
        fn push(&mut self, byte: u8) {
            match self.bytes.get_mut(self.len) {
                Some(slot) => {
                    *slot = byte;
                    self.len += 1;
                }
                None => self.overflow = true,
            }
        }
    }
    let bytes = text.as_bytes();
    let mut digits = Digits {
        bytes: [0; 32],
        len: 0,
        overflow: false,
    };
    let mut i = 0;
    while i < bytes.len() && bytes[i].is_ascii_digit() {
        digits.push(bytes[i]);
        i += 1;
    }
    if i == 0 {
        return None;
    }
    // ",ddd" groups continue the number; any other comma ends it.
    while i + 3 < bytes.len()
        && bytes[i] == b','
        && bytes[i + 1..i + 4].iter().all(u8::is_ascii_digit)
        && !bytes.get(i + 4).is_some_and(u8::is_ascii_digit)
    {
        bytes[i + 1..i + 4].iter().for_each(|b| digits.push(*b));
        i += 4;
    }
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        digits.push(b'.');
        i += 1;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(bytes[i]);
            i += 1;
        }
    }
    if digits.overflow {
        return None;
    }
    let digits = std::str::from_utf8(&digits.bytes[..digits.len]).ok()?;
    digits.parse().ok().map(|value| (value, i))
}

/// Words that may stand between a label and its figure, longest first (a connector followed by "为" is two of
/// them). "合计" and "决算" (数) name the line's own figure: "本年收入合计8,190.84万元", "基本支出决算为3,740.26万元".
const CONNECTORS: [&str; 11] = [
    "共计",
    "合计",
    "决算数",
    "决算",
    "总计为",
    "达到",
    "为",
    "是",
    "达",
    ":",
    " ",
];

/// What a name may add to a line's label and still name that line: connectors that name the line's own figure.
const SAME_LINE_SUFFIXES: [&str; 3] = ["合计", "决算数", "决算"];

/// Skips what may stand between a label and its figure: "为", "是", "共计", ":", spaces and a parenthesis
/// ("使用非财政拨款结余(含专用结余)0.00万元").
fn skip_connector(text: &str) -> &str {
    let mut rest = text;
    loop {
        let before = rest.len();
        if let Some(after) = CONNECTORS.iter().find_map(|c| rest.strip_prefix(c)) {
            rest = after;
        }
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

/// What opens a comparison with last year, longest first: "与上年相比,", "比上年决算", "较2023年", "同比".
fn change_lead(text: &str) -> Option<&str> {
    const LEADS: [&str; 14] = [
        "与上年相比,",
        "与上年相比",
        "与上年度相比,",
        "与上年度相比",
        "比上年决算",
        "比上年度",
        "较上年决算",
        "较上年度",
        "比上年",
        "较上年",
        "较去年",
        "同比",
        // "与上年持平"
        "与上年度",
        "与上年",
    ];
    if let Some(after) = LEADS.iter().find_map(|lead| text.strip_prefix(lead)) {
        return Some(after);
    }
    // "较2023年", "比2023年决算", "与2023年相比": a year named instead of "上年".
    for lead in ["较", "比", "与"] {
        let Some(after) = text.strip_prefix(lead) else {
            continue;
        };
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 4 && after[4..].starts_with('年') {
            let mut rest = &after[4 + '年'.len_utf8()..];
            for tail in ["度", "决算", "相比,", "相比"] {
                rest = rest.strip_prefix(tail).unwrap_or(rest);
            }
            return Some(rest);
        }
    }
    None
}

/// A figure followed by its unit, in the unit a phrase states (万元 also read from 元: 81,908,400.00元 is
/// 8,190.84000000 万元, keeping the precision it was written with). `None` when no figure; `Some(Err)` when a
/// figure stands there in another unit, which cannot be compared with certainty.
fn read_figure(text: &str, unit: &str) -> Option<Result<(Value, usize), ()>> {
    let (value, used) = read_number(text)?;
    let after = text[used..].trim_start_matches(' ');
    let skipped = text.len() - used - after.len();
    if after.starts_with(unit) {
        return Some(Ok((value, used + skipped + unit.len())));
    }
    if unit == "万元" && after.starts_with('元') {
        let decimal = value.decimal();
        let scaled = rust_decimal::Decimal::try_from_i128_with_scale(
            decimal.mantissa(),
            decimal.scale() + 4,
        );
        return Some(match scaled {
            Ok(scaled) => Ok((
                Value::from_decimal(scaled),
                used + skipped + '元'.len_utf8(),
            )),
            Err(_) => Err(()),
        });
    }
    Some(Err(()))
}

/// [`read_figure`] with an optional leading minus.
fn read_signed_figure(text: &str, unit: &str) -> Option<Result<(Value, usize), ()>> {
    match text.strip_prefix('-') {
        Some(rest) => {
            read_figure(rest, unit).map(|read| read.map(|(value, used)| (negated(value), used + 1)))
        }
        None => read_figure(text, unit),
    }
}

/// A share at the start of `text` ("占86.32%", "占本年支出合计的88.68%", "所占比重为86.32%"): its value and the
/// bytes read. `None` when `text` does not open with a share or no percentage follows (the statement ends there).
fn read_share(text: &str) -> Option<(Value, usize)> {
    const SHARE_WORDS: [&str; 6] = ["所占比重为", "所占比重", "占比为", "占比", "比重为", "比重"];
    if let Some(after) = SHARE_WORDS.iter().find_map(|w| text.strip_prefix(w)) {
        let figure = skip_connector(after);
        let (value, used) = read_percent(figure)?;
        return Some((value, text.len() - figure.len() + used));
    }
    // The first number after 占, if a percentage, within a few words ("占本年支出合计的").
    let after = text.strip_prefix('占')?;
    let digit = after.find(|c: char| c.is_ascii_digit())?;
    if after[..digit].chars().count() > 20 {
        return None;
    }
    let (value, used) = read_percent(&after[digit..])?;
    Some((value, text.len() - after.len() + digit + used))
}

/// A percentage: a number followed by "%".
fn read_percent(text: &str) -> Option<(Value, usize)> {
    let (value, used) = read_number(text)?;
    text[used..].starts_with('%').then_some((value, used + 1))
}

/// A number with an optional leading minus ("-20.00", normalized from "－" and "−").
pub(super) fn read_signed_number(text: &str) -> Option<(Value, usize)> {
    match text.strip_prefix('-') {
        Some(rest) => read_number(rest).map(|(value, used)| (negated(value), used + 1)),
        None => read_number(text),
    }
}

/// A signed percentage: "-20.00%".
fn read_signed_percent(text: &str) -> Option<(Value, usize)> {
    let (value, used) = read_signed_number(text)?;
    text[used..].starts_with('%').then_some((value, used + 1))
}

fn negated(value: Value) -> Value {
    Value::from_decimal(-value.decimal())
}

/// Units whose figures are counted, not measured: compared exactly and shown as whole numbers ("171 人").
const COUNT_UNITS: [&str; 13] = [
    "台(套)", "人次", "批次", "人", "辆", "个", "台", "套", "次", "项", "篇", "件", "家",
];

fn is_count_unit(unit: &str) -> bool {
    COUNT_UNITS.contains(&unit)
}

/// The key of a project self-evaluation's text: "project.3.goal_actual" → (3, "goal_actual").
fn project_text_key(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix("project.")?;
    let (position, part) = rest.split_once('.')?;
    Some((position.parse().ok()?, part))
}

/// A figure with whatever unit follows it: 万元 (元 read as 万元, exactly), a count, or 平方米. `None` for a number
/// without one of those (a percentage, a year, a code).
fn read_any_figure(text: &str) -> Option<(Value, &'static str, usize)> {
    let (value, used) = read_number(text)?;
    let after = text[used..].trim_start_matches(' ');
    let skipped = text.len() - used - after.len();
    if let Some(Ok((value, used))) = read_figure(text, "万元").filter(|read| read.is_ok()) {
        return Some((value, "万元", used));
    }
    for unit in COUNT_UNITS.iter().chain(&["平方米"]) {
        if after.starts_with(unit) {
            return Some((value, unit, used + skipped + unit.len()));
        }
    }
    None
}

/// Which way a verb of change goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Up,
    /// 减少, 下降, 降低: the figure after it is a fall, whether or not it is written with a minus.
    Down,
    /// 增减, 变动: the figure's own sign says.
    AsWritten,
}

impl Direction {
    fn apply(self, value: Value) -> Value {
        match self {
            Direction::Up | Direction::AsWritten => value,
            Direction::Down if value.decimal().is_sign_negative() => value,
            Direction::Down => negated(value),
        }
    }
}

/// Verbs of a change and their direction; after them a figure in the phrase's unit is a change, a percentage a
/// rate. A figure may carry its own minus ("增长-5.00%" is a fall of 5%).
const CHANGE_VERBS: [(&str, Direction); 24] = [
    ("增长率为", Direction::Up),
    ("增长率", Direction::Up),
    ("下降率为", Direction::Down),
    ("下降率", Direction::Down),
    ("增减率为", Direction::AsWritten),
    ("增减率", Direction::AsWritten),
    ("变动率为", Direction::AsWritten),
    ("变动率", Direction::AsWritten),
    ("变化率为", Direction::AsWritten),
    ("变化率", Direction::AsWritten),
    ("增幅为", Direction::Up),
    ("增幅", Direction::Up),
    ("降幅为", Direction::Down),
    ("降幅", Direction::Down),
    ("增减额为", Direction::AsWritten),
    ("增减", Direction::AsWritten),
    ("变动额为", Direction::AsWritten),
    ("变动", Direction::AsWritten),
    ("增加", Direction::Up),
    ("增长", Direction::Up),
    ("上升", Direction::Up),
    ("减少", Direction::Down),
    ("下降", Direction::Down),
    ("降低", Direction::Down),
];

/// A budget-completion rate at the start of `text`: "完成预算的100%", "为年初预算的98.50%", "占全年预算数的
/// 101.2%", "预算完成率为99%". `None` when `text` does not open with one (a share of something else is not).
fn read_completion(text: &str) -> Option<(Value, usize)> {
    const RATE_WORDS: [&str; 4] = ["预算完成率为", "预算完成率", "预算执行率为", "预算执行率"];
    if let Some(after) = RATE_WORDS.iter().find_map(|w| text.strip_prefix(w)) {
        let figure = skip_connector(after);
        let (value, used) = read_percent(figure)?;
        return Some((value, text.len() - figure.len() + used));
    }
    let mut rest = ["完成了", "完成", "达到", "为", "占", "是"]
        .iter()
        .find_map(|w| text.strip_prefix(w))?;
    for qualifier in ["年初", "全年", "调整后", "调整"] {
        if let Some(after) = rest.strip_prefix(qualifier) {
            rest = after;
            break;
        }
    }
    rest = rest.strip_prefix("预算")?;
    rest = rest.strip_prefix("数").unwrap_or(rest);
    rest = rest.strip_prefix("的").unwrap_or(rest);
    let (value, used) = read_percent(rest)?;
    Some((value, text.len() - rest.len() + used))
}

/// Reads the statement after a label. Items after the figure belong to it until something else starts; a
/// sentence that begins with a comparison with last year ("与上年相比…") continues the previous one. What is
/// read but cannot be taken with certainty (a figure in another unit) is counted in `unsure`.
fn read_statement(text: &str, unit: &str) -> Statement {
    let mut statement = Statement::default();
    let mut rest = skip_connector(text);
    match read_figure(rest, unit) {
        Some(Ok((value, used))) => {
            statement.amount = Some(Stated { value });
            statement.amount_at = Some(text.len() - rest.len());
            rest = &rest[used..];
        }
        Some(Err(())) => {
            statement.unsure += 1;
            return statement;
        }
        None => {}
    }
    loop {
        rest = rest.trim_start_matches([',', ' ', '、']);
        // A sentence ends what its subject says: a figure of the next sentence is never this label's, even one
        // that opens with a comparison ("。与上年相比，增加…" may well be another line's). A clause after ";" that
        // compares with last year continues the statement.
        if let Some(after) = rest.strip_prefix(';') {
            if change_lead(after).is_some()
                && statement.change.is_none()
                && statement.rate.is_none()
            {
                rest = after;
                continue;
            }
            break;
        }
        if let Some(after) = change_lead(rest) {
            rest = after;
            continue;
        }
        if let Some(after) = rest.strip_prefix("持平") {
            // Unchanged: a change of zero, to the fen.
            statement.change.get_or_insert(Stated {
                value: Value::from_decimal(Decimal::new(0, 2)),
            });
            statement.flat = true;
            rest = after;
            continue;
        }
        // Before a share: "占年初预算的98%" is a completion rate, not a share of a total.
        if let Some((value, used)) = read_completion(rest) {
            statement.completion.get_or_insert(Stated { value });
            rest = &rest[used..];
            continue;
        }
        if let Some((value, used)) = read_share(rest) {
            statement.share.get_or_insert(Stated { value });
            rest = &rest[used..];
            continue;
        }
        // "7,070.64万元(占86.32%)": a share in parentheses, taken only when the parenthesis closes right after it
        // (a parenthesis of other lines' figures is not this line's).
        if let Some(inner) = rest.strip_prefix('(')
            && let Some((value, used)) = read_share(inner)
            && let Some(after) = inner[used..].strip_prefix(')')
        {
            statement.share.get_or_insert(Stated { value });
            rest = after;
            continue;
        }
        if let Some((verb, direction)) = CHANGE_VERBS.iter().find(|(v, _)| rest.starts_with(v)) {
            let after = skip_connector(&rest[verb.len()..]);
            if let Some((value, used)) = read_signed_percent(after) {
                let value = direction.apply(value);
                statement.rate.get_or_insert(Stated { value });
                rest = &after[used..];
                continue;
            }
            match read_signed_figure(after, unit) {
                Some(Ok((value, used))) => {
                    let value = direction.apply(value);
                    statement.change.get_or_insert(Stated { value });
                    rest = &after[used..];
                    continue;
                }
                Some(Err(())) => {
                    statement.unsure += 1;
                    break;
                }
                None => break,
            }
        }
        break;
    }
    statement
}

/// The figures of a parallel statement ("各为A、B万元", "分别增长x%、y%", "均为A万元"), one per label; `None`
/// when it does not give exactly as many as there are labels (or one for all, after 均 or 都).
fn read_parallel(text: &str, unit: &str, labels: usize) -> Option<Vec<Statement>> {
    const DISTRIBUTIVE: [&str; 10] = [
        "分别为",
        "分别是",
        "分别",
        "各为",
        "各是",
        "各",
        "均为",
        "均是",
        "都为",
        "都是",
    ];
    let mut statements = vec![Statement::default(); labels];
    let mut rest = skip_connector(text);
    let read_list = |rest: &str, percent: bool| -> Option<(Vec<Value>, usize)> {
        let mut values = Vec::new();
        let mut at = 0;
        loop {
            let piece = &rest[at..];
            // The unit may follow each figure or only the last.
            let (value, used) = read_number(piece)?;
            let mut used = used;
            let after = &piece[used..];
            if percent {
                if let Some(stripped) = after.strip_prefix('%') {
                    used += piece[used..].len() - stripped.len();
                }
            } else if after.starts_with(unit) {
                used += unit.len();
            } else if unit == "万元" && after.starts_with('元') {
                return None;
            }
            values.push(value);
            at += used;
            let next = &rest[at..];
            let separator = ["、", ",", "和", "与"].iter().find_map(|s| {
                next.strip_prefix(s)
                    .filter(|n| n.starts_with(|c: char| c.is_ascii_digit()))
                    .map(|n| next.len() - n.len())
            });
            match separator {
                Some(skip) => at += skip,
                None => {
                    let closed = if percent {
                        rest[..at].ends_with('%')
                    } else {
                        rest[..at].ends_with(unit)
                    };
                    return closed.then_some((values, at));
                }
            }
        }
    };
    let fit = |values: Vec<Value>, all: bool| -> Option<Vec<Value>> {
        match (values.len(), all) {
            (1, true) => Some(vec![values[0]; labels]),
            (n, false) if n == labels => Some(values),
            _ => None,
        }
    };
    let word = DISTRIBUTIVE.iter().find(|w| rest.starts_with(*w))?;
    let all = word.starts_with('均') || word.starts_with('都');
    rest = skip_connector(&rest[word.len()..]);
    let (amounts, used) = read_list(rest, false)?;
    let amounts = fit(amounts, all)?;
    for (statement, value) in statements.iter_mut().zip(amounts) {
        statement.amount = Some(Stated { value });
    }
    rest = &rest[used..];
    // A comparison with last year, distributed the same way: "与上年相比各增加a、b万元，分别增长x%、y%".
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        rest = rest.strip_prefix('。').unwrap_or(rest);
        if let Some(after) = change_lead(rest) {
            rest = after.trim_start_matches([',', ' ']);
            continue;
        }
        let Some(word) = DISTRIBUTIVE.iter().find(|w| rest.starts_with(*w)) else {
            break;
        };
        let all = word.starts_with('均') || word.starts_with('都');
        let after_word = &rest[word.len()..];
        let Some((verb, direction)) = CHANGE_VERBS.iter().find(|(v, _)| after_word.starts_with(v))
        else {
            break;
        };
        let list = skip_connector(&after_word[verb.len()..]);
        let percent = read_percent(list).is_some()
            || read_number(list).is_some_and(|(_, u)| !list[u..].starts_with(unit));
        let Some((values, used)) = read_list(list, percent) else {
            break;
        };
        let Some(values) = fit(values, all) else {
            break;
        };
        for (statement, value) in statements.iter_mut().zip(values) {
            let stated = Stated {
                value: direction.apply(value),
            };
            if percent {
                statement.rate.get_or_insert(stated);
            } else {
                statement.change.get_or_insert(stated);
            }
        }
        rest = &list[used..];
    }
    Some(statements)
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

/// A check's message with its `{name}` placeholders filled, in one pass: a filled value is never read again, so
/// a sentence quoted from a text that happens to hold "{actual}" stays as written. A placeholder without a value
/// stays as it is.
pub(super) fn render(kind: &CheckKind, fill: &[(&str, String)]) -> String {
    fill_placeholders(&kind.message, fill)
}

/// A built-in check's message with its placeholders filled (as [`render`] does for a year's check kinds).
pub(super) fn fill_message(template: &str, fill: &[(&str, String)]) -> String {
    fill_placeholders(template, fill)
}

fn fill_placeholders(template: &str, fill: &[(&str, String)]) -> String {
    let mut out =
        String::with_capacity(template.len() + fill.iter().map(|(_, v)| v.len()).sum::<usize>());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            fill.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, value)| (value, close))
        });
        match value {
            Some((value, close)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
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
        if is_count_unit(unit) {
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
        // Counts as whole numbers ("171 人"), amounts and rates with two decimals in the unit the text states,
        // whatever precision a figure written in 元 took on when read as 万元.
        let unit = fill
            .iter()
            .find(|(name, _)| *name == "unit")
            .map_or("", |(_, u)| u.as_str());
        let scale = if is_count_unit(unit) { 0 } else { 2 };
        let provided_shown = round_for_display(provided.decimal(), scale);
        let expected_shown = round_for_display(expected.nominal(), scale);
        let difference = provided_shown.checked_sub(expected_shown);
        let title = self.section_title(section);
        let mut all = vec![
            ("section", title),
            ("label", label.to_owned()),
            ("provided", provided_shown.to_string()),
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
            provided: Some(provided_shown),
            expected: Some(expected_shown),
            difference,
            project: None,
            indicator: None,
            key: String::new(),
            explanation: None,
        });
    }

    /// A section's title as a reader knows it; for a self-evaluation's text, the table and the project.
    fn section_title(&self, section: &str) -> String {
        match section {
            "unit_evaluation.goal_actual" => "单位整体支出绩效自评表·实际完成情况".to_owned(),
            "unit_evaluation.goal_expected" => "单位整体支出绩效自评表·预期目标".to_owned(),
            _ => {
                if let Some((position, part)) = project_text_key(section) {
                    let name = self
                        .disclosure
                        .project_evaluations
                        .get(position.wrapping_sub(1))
                        .and_then(|e| e.project.clone())
                        .unwrap_or_default();
                    let part = match part {
                        "goal_expected" => "预期目标",
                        "goal_actual" => "实际完成情况",
                        _ => "偏差原因",
                    };
                    return format!("项目支出绩效自评表（{name}）·{part}");
                }
                self.taxonomy
                    .narrative_section(section)
                    .map_or_else(|| section.to_owned(), |s| s.title.clone())
            }
        }
    }

    fn compare(&mut self, holds: bool) -> bool {
        self.report.checks_evaluated += 1;
        holds
    }

    /// Every check a statement allows for a figure (`value`), its share base and its budget.
    #[allow(clippy::too_many_arguments)]
    fn check_statement(
        &mut self,
        section: &str,
        label: &str,
        unit: &str,
        statement: &Statement,
        value_expr: &Expr,
        share_of: Option<&Expr>,
        budget: Option<&Expr>,
    ) {
        let checks = self.checks;
        let Some(value) = self.value(value_expr, unit) else {
            if statement.amount.is_some() {
                self.report.checks_not_evaluated += 1;
            }
            // A change and its rate agree with each other whatever the tables hold: this year is then the
            // figure the text states.
            if let Some(amount) = statement.amount {
                let this_year = Self::stated_interval(amount, unit);
                self.check_change_rate(section, label, unit, statement, this_year, Vec::new());
            }
            return;
        };
        if let Some(completion) = statement.completion {
            match budget
                .and_then(|b| self.value(b, unit))
                .and_then(|b| value.checked_div(&b))
                .and_then(percent)
            {
                Some(expected) if checks.completion.is_some() => {
                    if !self.compare(completion.value.rounded_interval().overlaps(&expected)) {
                        let mut cells = self.cells(value_expr);
                        if let Some(budget) = budget {
                            cells.extend(self.cells(budget));
                        }
                        let kind = checks.completion.as_ref().expect("checked above");
                        self.finding(
                            kind,
                            section,
                            label,
                            completion.value,
                            expected,
                            cells,
                            &[("unit", "%".into())],
                        );
                    }
                }
                _ => self.report.checks_not_evaluated += 1,
            }
        }
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
        if statement.change.is_some() && statement.rate.is_some() {
            let cells = self.cells(value_expr);
            self.check_change_rate(section, label, unit, statement, value, cells);
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

    /// A stated change and rate against each other: last year = this year − change, rate = change ÷ last year.
    /// When last year was zero the rate is undefined (a rate on a zero base is not computed): nothing to check.
    fn check_change_rate(
        &mut self,
        section: &str,
        label: &str,
        unit: &str,
        statement: &Statement,
        this_year: Interval,
        cells: Vec<CellRef>,
    ) {
        let (Some(change), Some(rate)) = (statement.change, statement.rate) else {
            return;
        };
        let change_interval = Self::stated_interval(change, unit);
        let last = this_year.checked_sub(&change_interval);
        if let Some(expected) = last
            .and_then(|last| change_interval.checked_div(&last))
            .and_then(percent)
            && !self.compare(rate.value.rounded_interval().overlaps(&expected))
        {
            let shown = round_for_display(
                change.value.decimal(),
                if is_count_unit(unit) { 0 } else { 2 },
            );
            self.finding(
                &self.checks.change,
                section,
                label,
                rate.value,
                expected,
                cells,
                &[("change", shown.to_string()), ("unit", unit.to_owned())],
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
        // The rate keeps its sign: "-20.00%" is spending below the budget.
        let rate = sentence.find("预决算差异率").and_then(|i| {
            let after = skip_connector(&sentence[i + "预决算差异率".len()..]);
            read_signed_percent(after)
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
        // "…完成年初预算的98.50%": the 决算数 as a percentage of the 预算数 the sentence states.
        if let (Some((actual, _)), Some(completion), Some(kind)) =
            (actual, find_completion(sentence), &checks.completion)
        {
            let b = budget.rounded_interval();
            if let Some(expected) = actual.rounded_interval().checked_div(&b).and_then(percent)
                && !self.compare(completion.rounded_interval().overlaps(&expected))
            {
                let cells = self.cells(&variance.actual);
                self.finding(
                    kind,
                    &variance.section,
                    &variance.label,
                    completion,
                    expected,
                    cells,
                    &[("unit", "%".into())],
                );
            }
        }
    }
}

/// The first budget-completion rate of a sentence ("完成年初预算的98.50%"), wherever it is.
fn find_completion(sentence: &str) -> Option<Value> {
    sentence
        .char_indices()
        .filter(|(_, c)| ['完', '为', '占', '达', '是', '预'].contains(c))
        .find_map(|(i, _)| read_completion(&sentence[i..]))
        .map(|(value, _)| value)
}

/// Every text the narrative checks read, normalized, by key: the 公开说明's sections, the unit's overall
/// self-evaluation's goal texts ("unit_evaluation.goal_expected", ".goal_actual"), and each project's goal texts
/// and deviation notes ("project.3.goal_actual", "project.3.deviation"). Labelled phrases are looked for in those
/// with phrases; every one is read for wholes and their parts and for changes with their rates.
fn texts(disclosure: &Disclosure) -> Vec<(String, String)> {
    let mut raw: Vec<(String, String)> = disclosure
        .narrative
        .iter()
        .map(|s| (s.key.clone(), s.text.clone()))
        .collect();
    if let Some(unit) = &disclosure.unit_evaluation {
        raw.push((
            "unit_evaluation.goal_expected".into(),
            unit.goal_expected.clone(),
        ));
        raw.push((
            "unit_evaluation.goal_actual".into(),
            unit.goal_actual.clone(),
        ));
    }
    for (i, project) in disclosure.project_evaluations.iter().enumerate() {
        let position = i + 1;
        raw.push((
            format!("project.{position}.goal_expected"),
            project.goal_expected.clone(),
        ));
        raw.push((
            format!("project.{position}.goal_actual"),
            project.goal_actual.clone(),
        ));
        let notes: Vec<&str> = project
            .indicators
            .iter()
            .map(|i| i.deviation_reason.trim())
            .filter(|n| !n.is_empty())
            .collect();
        if !notes.is_empty() {
            raw.push((format!("project.{position}.deviation"), notes.join("\n")));
        }
    }
    raw.into_iter()
        .filter(|(_, text)| !text.trim().is_empty())
        .map(|(key, text)| (key, normalize(&text)))
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
    let texts = texts(disclosure);
    let mut checker = Checker {
        checks: narrative,
        rules,
        taxonomy,
        disclosure,
        context,
        report,
    };
    let first_finding = checker.report.findings.len();
    for (key, text) in &texts {
        // Where the amounts read through a label start: the generic reading of changes leaves them alone.
        let mut read_at = std::collections::HashSet::new();
        if let Some(matcher) = narrative.matchers.get(key.as_str()) {
            checker.read_labels(matcher, key, text, &mut read_at);
        }
        checker.check_changes(key, text, &read_at);
        checker.check_parts(key, text);
    }
    // A statement said twice (in two sections, or twice in one) is one finding. Kept in one pass: a long text
    // may say the same thing thousands of times.
    let mut seen = std::collections::HashSet::new();
    let repeated: Vec<Finding> = checker.report.findings.split_off(first_finding);
    checker.report.findings.extend(
        repeated
            .into_iter()
            .filter(|f| seen.insert((f.rule_id.clone(), f.message.clone()))),
    );
}

/// Words that open a list of details of the figure before them, not parts that add up to it.
const DETAIL_WORDS: [&str; 8] = [
    "主要包括",
    "包括",
    "主要用于",
    "用于",
    "主要为",
    "主要是",
    "主要有",
    "含",
];

/// How far before 其中 its whole is looked for, and how far after it its parts: a whole and its list are a
/// sentence of a few clauses, and a bound keeps the reading of a long text linear.
const WHOLE_WINDOW: usize = 240;
const PARTS_WINDOW: usize = 1200;
/// How far back the words of a figure's clause are read.
const CLAUSE_WINDOW: usize = 120;

/// The first character boundary of `text` at or after `at` (its length when beyond it).
fn char_boundary_at_or_after(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at += 1;
    }
    at
}

/// Words of a clause that restates a total.
const TOTAL_WORDS: [&str; 4] = ["合计", "共计", "总计", "累计"];

/// Whether a part's clause restates the total of the parts before it ("合计4.00万元", "以上三项合计…") rather
/// than naming a line whose name ends in 合计 ("本年支出合计").
fn restates_a_total(clause: &str) -> bool {
    let label = clause_label(clause);
    TOTAL_WORDS.iter().any(|word| {
        label.strip_suffix(word).is_some_and(|head| {
            head.chars().count() <= 2 || head.starts_with("以上") || head.starts_with("上述")
        })
    })
}

/// A figure of a text: its value in its unit, where it is, whether it states a change (after 增加, 减少 …), and
/// the words of its clause before it.
#[derive(Debug, Clone)]
struct TextFigure<'t> {
    value: Value,
    unit: &'static str,
    start: usize,
    end: usize,
    change: bool,
    clause: &'t str,
}

impl TextFigure<'_> {
    /// What the figure stands for, at most as precise as `finest` decimals: a text that restates figures of
    /// tables kept in 万元 in 元 ("81,908,400.00元") is no more precise than the tables were.
    fn interval(&self, finest: u32) -> Interval {
        if is_count_unit(self.unit) {
            self.value.exact_interval()
        } else {
            Interval::rounded(self.value.decimal(), self.value.scale().min(finest))
        }
    }
}

/// The figures with a unit in `text[from..to]`, in order.
fn figures_in(text: &str, from: usize, to: usize) -> Vec<TextFigure<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        at = next_candidate(bytes, at);
        if at >= to {
            break;
        }
        let starts_number = bytes[at].is_ascii_digit()
            && (at == 0 || !matches!(bytes[at - 1], b'0'..=b'9' | b'.' | b',' | b'-'));
        if !starts_number {
            at += 1;
            continue;
        }
        let Some((value, unit, used)) = read_any_figure(&text[at..to]) else {
            at += read_number(&text[at..]).map_or(1, |(_, used)| used.max(1));
            continue;
        };
        // A clause is read back no further than CLAUSE_WINDOW: a text without separators stays linear to read.
        let back = char_boundary_at_or_after(text, at.saturating_sub(CLAUSE_WINDOW).max(from));
        let head = &text[back..at];
        let clause_start = head
            .rfind([',', ';', ':', '、', '。', '\n', '(', ')'])
            .map_or(back, |i| {
                back + i + head[i..].chars().next().map_or(1, char::len_utf8)
            });
        let clause = &text[clause_start..at];
        let change = CHANGE_VERBS.iter().any(|(verb, _)| clause.contains(verb))
            || change_lead_anywhere(clause);
        out.push(TextFigure {
            value,
            unit,
            start: at,
            end: at + used,
            change,
            clause,
        });
        at += used;
    }
    out
}

/// Whether a clause compares with last year somewhere in it ("比上年", "同比" …).
fn change_lead_anywhere(clause: &str) -> bool {
    ["上年", "同比", "去年"].iter().any(|w| clause.contains(w))
}

/// The words of a clause as a label: without list numbering and surrounding spaces, at most 30 characters.
fn clause_label(clause: &str) -> String {
    let trimmed = clause.trim();
    let numbering = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let trimmed = if numbering > 0
        && (trimmed[numbering..].starts_with('.') || trimmed[numbering..].starts_with('、'))
    {
        &trimmed[numbering
            + trimmed[numbering..]
                .chars()
                .next()
                .map_or(0, char::len_utf8)..]
    } else {
        trimmed
    };
    let trimmed = skip_connector_back(trimmed);
    trimmed
        .chars()
        .rev()
        .take(30)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect()
}

/// A label without the connector words before its figure ("本年收入为" → "本年收入").
fn skip_connector_back(label: &str) -> &str {
    let mut label = label.trim_end();
    loop {
        let before = label.len();
        for connector in CONNECTORS {
            if let Some(stripped) = label.strip_suffix(connector) {
                if !stripped.is_empty() {
                    label = stripped;
                }
                break;
            }
        }
        if label.len() == before {
            return label;
        }
    }
}

impl Checker<'_> {
    /// Reads the labels of a section (phrases, aliases, generated rows, budget variances, parallel forms) and
    /// checks what each states; records where their amounts start.
    fn read_labels(
        &mut self,
        matcher: &SectionMatcher,
        key: &str,
        text: &str,
        read_at: &mut std::collections::HashSet<usize>,
    ) {
        let narrative = self.checks;
        for found in matcher.automaton.find_iter(text) {
            let end = found.end();
            match matcher.targets[found.pattern().as_usize()] {
                Target::Phrase(i) => {
                    let phrase = &narrative.phrases[i];
                    let statement = read_statement(&text[end..], &phrase.unit);
                    self.report.checks_not_evaluated += statement.unsure;
                    if let Some(at) = statement.amount_at {
                        read_at.insert(end + at);
                    }
                    if statement.states_something() {
                        self.check_statement(
                            key,
                            &phrase.label,
                            &phrase.unit,
                            &statement,
                            &phrase.value,
                            phrase.share_of.as_ref(),
                            phrase.budget.as_ref(),
                        );
                    }
                }
                Target::Alias(a) => {
                    let alias = &narrative.aliases[a];
                    let unit = &narrative.phrases[alias.phrases[0]].unit;
                    let statement = read_statement(&text[end..], unit);
                    self.report.checks_not_evaluated += statement.unsure;
                    if let Some(at) = statement.amount_at {
                        read_at.insert(end + at);
                    }
                    if !statement.states_something() {
                        continue;
                    }
                    // The line the stated figure agrees with, else the most likely one.
                    let chosen = statement
                        .amount
                        .and_then(|amount| {
                            alias.phrases.iter().copied().find(|&i| {
                                let phrase = &narrative.phrases[i];
                                self.value(&phrase.value, &phrase.unit)
                                    .is_some_and(|value| {
                                        Self::stated_interval(amount, &phrase.unit).overlaps(&value)
                                    })
                            })
                        })
                        .unwrap_or(alias.phrases[0]);
                    let phrase = &narrative.phrases[chosen];
                    self.check_statement(
                        key,
                        &text[found.start()..end],
                        &phrase.unit,
                        &statement,
                        &phrase.value,
                        phrase.share_of.as_ref(),
                        phrase.budget.as_ref(),
                    );
                }
                Target::Parallel(p) => {
                    let parallel = &narrative.parallels[p];
                    let unit = &narrative.phrases[parallel.phrases[0]].unit;
                    match read_parallel(&text[end..], unit, parallel.phrases.len()) {
                        Some(statements) => {
                            for (&i, statement) in parallel.phrases.iter().zip(&statements) {
                                let phrase = &narrative.phrases[i];
                                self.check_statement(
                                    key,
                                    &phrase.label,
                                    &phrase.unit,
                                    statement,
                                    &phrase.value,
                                    phrase.share_of.as_ref(),
                                    phrase.budget.as_ref(),
                                );
                            }
                        }
                        // Named together but not given in a form read with certainty: nothing is checked.
                        None => self.report.checks_not_evaluated += 1,
                    }
                }
                Target::Marker(g) => {
                    let generated = &narrative.generated[g];
                    let start = label_start(text, end);
                    let Some(code) = generated.labels.get(&text[start..end]) else {
                        continue;
                    };
                    let after = &text[end..];
                    let read = after
                        .strip_prefix(generated.connector.as_str())
                        .unwrap_or(after);
                    let statement = read_statement(read, "万元");
                    self.report.checks_not_evaluated += statement.unsure;
                    if let Some(at) = statement.amount_at {
                        read_at.insert(end + (after.len() - read.len()) + at);
                    }
                    if !statement.states_something() {
                        continue;
                    }
                    let value = Expr::Cell(super::ast::CellRef {
                        table: super::ast::TableRef::Table(generated.table),
                        rows: super::ast::RowSel::Code(code.clone()),
                        col: super::ast::ColSel::Index(generated.column),
                    });
                    let budget = Expr::Call(super::ast::Func::Budget, vec![value.clone()]);
                    self.check_statement(
                        key,
                        &text[start..end],
                        "万元",
                        &statement,
                        &value,
                        generated.share_of.as_ref(),
                        Some(&budget),
                    );
                }
                Target::Budget(b) => {
                    self.check_budget_variance(&narrative.budget_variances[b], text, end)
                }
                // Another line's name: its figure is not a label's.
                Target::Other => {}
            }
        }
    }

    /// "X万元，…增加C万元，增长R%" anywhere, whatever line X is: the rate must be C ÷ (X − C), which needs no
    /// table. Figures already read through a label were checked with it.
    fn check_changes(&mut self, key: &str, text: &str, read_at: &std::collections::HashSet<usize>) {
        for figure in figures_in(text, 0, text.len()) {
            if figure.change || read_at.contains(&figure.start) || figure.unit == "平方米" {
                continue;
            }
            let statement = read_statement(&text[figure.start..], figure.unit);
            let (Some(amount), Some(_), Some(_)) =
                (statement.amount, statement.change, statement.rate)
            else {
                continue;
            };
            let this_year = Self::stated_interval(amount, figure.unit);
            let label = clause_label(figure.clause);
            self.check_change_rate(key, &label, figure.unit, &statement, this_year, Vec::new());
        }
    }

    /// "A万元，其中：B万元，C万元，D万元" (or "其中B、C、D分别为…") anywhere: the parts cannot add up to more than
    /// the whole, and two or more parts that add up to less leave a part unnamed. A list of details ("主要包括…")
    /// is not a list of parts; where details are mixed into a list without ";", only an excess is certain.
    fn check_parts(&mut self, key: &str, text: &str) {
        let (Some(excess_kind), short_kind) = (&self.checks.parts, &self.checks.parts_short) else {
            return;
        };
        let mut from = 0;
        while let Some(found) = text[from..].find("其中") {
            let at = from + found;
            from = at + "其中".len();
            let mut region_start = from;
            while let Some(c) = text[region_start..]
                .chars()
                .next()
                .filter(|c| [':', ',', ' '].contains(c))
            {
                region_start += c.len_utf8();
            }
            // A list of parts is a few clauses long: reading no further than PARTS_WINDOW keeps a text of many
            // 其中 without a full stop linear to read.
            let window_end = char_boundary_at_or_after(text, region_start + PARTS_WINDOW);
            let sentence_end = text[region_start..window_end]
                .find(['。', '\n'])
                .map_or(window_end, |e| region_start + e);
            let region_end = text[region_start..sentence_end]
                .find("其中")
                .map_or(sentence_end, |e| region_start + e);
            let introduces_details = DETAIL_WORDS
                .iter()
                .any(|w| text[region_start..region_end].starts_with(w));
            // The whole: in this sentence before 其中, or in the previous one when 其中 opens a sentence.
            let before = text[..at].trim_end_matches([',', ' ', ':']);
            let whole_end = if before.ends_with('。') || before.ends_with('\n') {
                before.len() - before.chars().next_back().map_or(0, char::len_utf8)
            } else {
                at
            };
            let window_start =
                char_boundary_at_or_after(text, whole_end.saturating_sub(WHOLE_WINDOW));
            let whole_start =
                text[window_start..whole_end]
                    .rfind(['。', '\n'])
                    .map_or(window_start, |i| {
                        let at = window_start + i;
                        at + text[at..].chars().next().map_or(1, char::len_utf8)
                    });
            let figures = figures_in(text, region_start, region_end);
            let mut parts: Vec<&TextFigure> = Vec::new();
            let mut uncertain = introduces_details;
            let distributive = ["分别为", "分别是", "分别"].iter().find_map(|w| {
                text[region_start..region_end]
                    .find(w)
                    .map(|i| region_start + i)
            });
            if let Some(word_at) = distributive {
                parts.extend(figures.iter().filter(|f| f.start > word_at));
            } else {
                let semicolons = text[region_start..region_end].contains(';');
                let mut in_details = false;
                let mut last_end = region_start;
                for figure in &figures {
                    // A ";" ends a part with its details; a detail word since the last one opens details.
                    let between = &text[last_end..figure.start];
                    if between.contains(';') {
                        in_details = false;
                    }
                    let since = between.rsplit(';').next().unwrap_or(between);
                    if DETAIL_WORDS.iter().any(|w| since.contains(w)) {
                        in_details = true;
                    }
                    last_end = figure.end;
                    if in_details {
                        uncertain |= !semicolons;
                        continue;
                    }
                    if restates_a_total(figure.clause) {
                        continue;
                    }
                    let kind_of_parts = parts.first().map_or(figure.change, |p| p.change);
                    if figure.change != kind_of_parts {
                        continue;
                    }
                    if clause_label(figure.clause).is_empty() {
                        uncertain = true;
                        continue;
                    }
                    parts.push(figure);
                }
            }
            // Cut short by the next 其中: the figure just before it is that list's whole, not a part of this one.
            if region_end < sentence_end
                && let Some(last) = parts.last()
                && figures.iter().all(|f| f.start <= last.start)
            {
                parts.pop();
                uncertain = true;
            }
            let Some(first) = parts.first() else {
                continue;
            };
            if parts.iter().any(|p| p.unit != first.unit) {
                continue;
            }
            let whole = figures_in(text, whole_start, whole_end)
                .into_iter()
                .rev()
                .find(|f| {
                    f.change == first.change && f.unit == first.unit && !f.clause.contains("其中")
                });
            let Some(whole) = whole else {
                continue;
            };
            // Figures in 万元 are no finer than the tables': two decimals of 万元, or the fen of tables kept in 元.
            let finest = match self.disclosure.cover.amount_unit {
                AmountUnit::TenThousandYuan => 2,
                AmountUnit::Yuan => 6,
            };
            let Some(sum) = parts.iter().try_fold(Interval::zero(), |sum, p| {
                sum.checked_add(&p.interval(finest))
            }) else {
                continue;
            };
            self.report.checks_evaluated += 1;
            let whole_interval = whole.interval(finest);
            let kind = if !sum.may_be_le(&whole_interval) {
                Some(excess_kind)
            } else if parts.len() >= 2 && !uncertain && !whole_interval.may_be_le(&sum) {
                short_kind.as_ref()
            } else {
                None
            };
            let Some(kind) = kind else {
                continue;
            };
            let names: Vec<String> = parts.iter().map(|p| clause_label(p.clause)).collect();
            let kind = kind.clone();
            self.finding(
                &kind,
                key,
                &clause_label(whole.clause),
                Value::from_decimal(sum.nominal()),
                whole_interval,
                Vec::new(),
                &[("unit", first.unit.to_owned()), ("parts", names.join("、"))],
            );
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
    fn placeholders_are_filled_once() {
        let fill = [
            ("sentence", "写「{actual}」".to_owned()),
            ("actual", "98%".to_owned()),
        ];
        assert_eq!(
            fill_placeholders("{project}：{sentence}，实际值「{actual}」{", &fill),
            "{project}：写「{actual}」，实际值「98%」{"
        );
        assert_eq!(fill_placeholders("", &fill), "");
        assert_eq!(fill_placeholders("{}{{actual}}", &fill), "{}{98%}");
    }

    #[test]
    fn an_explanation_names_the_things_and_gives_a_reason_in_one_sentence() {
        let text = "公务用车保有量0辆。国有资产占用情况中固定资产车辆8辆，与公务用车保有量差异原因是：单位业务用车。";
        assert!(explains(text, &["保有量", "车辆"]));
        // The words in one sentence and the reason in another are no explanation.
        assert!(!explains(
            "公务用车保有量0辆，固定资产车辆8辆。原因见附表。",
            &["保有量", "车辆"]
        ));
        assert!(!explains(text, &["保有量", "房屋"]));
    }

    #[test]
    fn normalizes_full_width_punctuation_only() {
        assert_eq!(
            normalize("收入（含专用）：8,190.84万元，占；"),
            "收入(含专用):8,190.84万元,占;"
        );
        assert_eq!(normalize("plain"), "plain");
        assert_eq!(
            normalize("“三公”经费１２．５％　「x」'y' — ①"),
            "三公经费12.5% xy — ①"
        );
    }

    proptest::proptest! {
        /// The byte-level normalization is the character mapping it stands for.
        #[test]
        fn normalization_is_the_character_mapping(text in "[a-z0-9 （）：，；　％．０-９－−“”‘’\"'「」收入万元—①\\u{10000}]{0,40}") {
            let expected: String = text
                .chars()
                .filter_map(|c| match c {
                    '（' => Some('('),
                    '）' => Some(')'),
                    '：' => Some(':'),
                    '，' => Some(','),
                    '；' => Some(';'),
                    '　' => Some(' '),
                    '％' => Some('%'),
                    '．' => Some('.'),
                    '－' | '−' => Some('-'),
                    '０'..='９' => Some(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
                    '“' | '”' | '‘' | '’' | '"' | '\'' | '「' | '」' => None,
                    other => Some(other),
                })
                .collect();
            proptest::prop_assert_eq!(normalize(&text), expected);
        }
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
            "7,070.64万元，占本年支出合计的88.68%；与上年相比，增加962.13万元，增长15.75%，主要原因",
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
        // A figure in another unit is not taken, and is counted as not evaluated.
        let other_unit = read_statement("8辆,价值296.94万元", "万元");
        assert!(!other_unit.states_something());
        assert_eq!(other_unit.unsure, 1);
    }

    #[test]
    fn reads_the_lines_own_figure_through_heji_and_juesuan() {
        // What follows the label "本年收入", "一般公共预算财政拨款支出" or "基本支出".
        assert_eq!(
            read_statement("合计8,190.84万元,其中", "万元").amount,
            v("8190.84")
        );
        assert_eq!(
            read_statement("决算为7,070.64万元,占本年支出的88.68%", "万元").share,
            v("88.68")
        );
        assert_eq!(
            read_statement("决算数3,740.26万元", "万元").amount,
            v("3740.26")
        );
        // A comparison with the budget is not a figure of the line: nothing is read.
        assert_eq!(
            read_statement("决算数比年初预算增加1,713.34万元", "万元"),
            Statement::default()
        );
    }

    #[test]
    fn a_share_in_parentheses_is_the_lines_only_when_it_closes_there() {
        let text = normalize("7,070.64万元（占86.32%），事业收入");
        let statement = read_statement(&text, "万元");
        assert_eq!(
            (statement.amount, statement.share),
            (v("7070.64"), v("86.32"))
        );
        let text = normalize("7,070.64万元（占比86.32%）");
        assert_eq!(read_statement(&text, "万元").share, v("86.32"));
        // A parenthesis about something else, or one that goes on after the share: no share is taken.
        let text = normalize("7,070.64万元（上年为6,108.51万元），占86.32%");
        assert_eq!(read_statement(&text, "万元").share, None);
        let text = normalize("7,070.64万元（占86.32%，主要为一般公共预算）");
        assert_eq!(read_statement(&text, "万元").share, None);
        // The share after a parenthesis that closes another line's figure is not this line's.
        let text = normalize("0万元），占86.32%");
        assert_eq!(read_statement(&text, "万元").share, None);
    }

    #[test]
    fn parallel_statements_give_each_label_its_figure() {
        let text = normalize(
            "各是8,597.83万元、8,597.84万元,与上年相比各增加1.00万元、2.00万元,分别增长0.01%、0.02%。",
        );
        let statements = read_parallel(&text, "万元", 2).unwrap();
        assert_eq!(statements[0].amount, v("8597.83"));
        assert_eq!(statements[1].amount, v("8597.84"));
        assert_eq!(statements[1].change, v("2.00"));
        assert_eq!(statements[1].rate, v("0.02"));
        let all = read_parallel("均为100.00万元。", "万元", 2).unwrap();
        assert_eq!((all[0].amount, all[1].amount), (v("100.00"), v("100.00")));
        // One figure without 均, or a figure in another unit: not read.
        assert!(read_parallel("各为100.00万元。", "万元", 2).is_none());
        assert!(read_parallel("各为100.00元、200.00元。", "万元", 2).is_none());
        assert!(read_parallel("100.00万元、200.00万元。", "万元", 2).is_none());
    }

    #[test]
    fn comparisons_with_last_year_are_worded_many_ways() {
        for lead in [
            "较上年",
            "比上年决算",
            "与上年相比,",
            "同比",
            "较2023年",
            "比2023年度",
            "与2023年相比",
        ] {
            let text = format!("100.00万元,{lead}增加10.00万元,增长11.11%");
            let statement = read_statement(&text, "万元");
            assert_eq!(statement.change, v("10.00"), "{lead}");
            assert_eq!(statement.rate, v("11.11"), "{lead}");
        }
        let rate_only = read_statement("100.00万元,比上年减少10.00%", "万元");
        assert_eq!((rate_only.change, rate_only.rate), (None, v("-10.00")));
        let flat = read_statement("100.00万元,与上年持平", "万元");
        assert!(flat.flat);
        assert_eq!(flat.change, v("0.00"));
        let yuan = read_statement("1,000,000.00元,比上年增加10,000.00元", "万元");
        assert_eq!(yuan.amount, v("100.00000000"));
        assert_eq!(yuan.change, v("1.00000000"));
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
        // The longest number a value may be, and runs beyond what any value holds.
        let longest = "00000000000000000000001.12345678";
        assert_eq!(
            read_number(longest).map(|(v, u)| (v.to_string(), u)),
            Some(("1.12345678".into(), 32))
        );
        assert!(read_number(&"9".repeat(40)).is_none());
        assert!(read_number("1.123456789").is_none());
    }

    /// The narrative findings of a disclosure with these table cells ((table, row, column, value)) and these
    /// sections' texts: the sentences are this test's own, not the reference's.
    fn narrative_findings(
        cells: &[(&str, &str, &str, &str)],
        texts: &[(&str, &str)],
    ) -> Vec<Finding> {
        use crate::domain::disclosure::{Completeness, NarrativeSection, test_support};
        let taxonomy = crate::domain::taxonomy::test_support::year(2024);
        let mut tables: Vec<&str> = cells.iter().map(|(t, _, _, _)| *t).collect();
        tables.dedup();
        let drafts = tables
            .iter()
            .map(|table| {
                let rows: Vec<(&str, &str, &str)> = cells
                    .iter()
                    .filter(|(t, _, _, _)| t == table)
                    .map(|(_, row, column, value)| (*row, *column, *value))
                    .collect();
                test_support::table(table, Completeness::Complete, &rows)
            })
            .collect();
        let mut draft = test_support::draft(2024, drafts);
        for (key, text) in texts {
            draft.narrative.push(NarrativeSection {
                key: (*key).into(),
                title: String::new(),
                text: (*text).into(),
            });
        }
        let disclosure = draft.resolve(&taxonomy).unwrap();
        let mut report = Report::new(disclosure.cover.fiscal_year);
        run(
            &taxonomy.rules,
            &taxonomy,
            &disclosure,
            Context::default(),
            &mut report,
        );
        report.findings
    }

    fn ids(findings: &[Finding]) -> Vec<&str> {
        findings.iter().map(|f| f.rule_id.as_str()).collect()
    }

    fn errors(findings: &[Finding]) -> Vec<&Finding> {
        findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect()
    }

    #[test]
    fn totals_are_read_under_the_names_units_give_them() {
        let cells = [
            ("T01", "income_total", "amount", "100.00"),
            ("T01", "income_grand_total", "amount", "120.00"),
            ("T01", "expenditure_total", "amount", "90.00"),
        ];
        for text in [
            "本年度收入合计100.00万元，本年度支出合计90.00万元。",
            "2024年总收入120.00万元，总支出90.00万元。",
            "收入合计100.00万元，支出合计90.00万元。",
            "本年收入合计100.00万元，本年支出合计90.00万元。",
        ] {
            let findings = narrative_findings(&cells, &[("income_expenditure", text)]);
            assert!(errors(&findings).is_empty(), "{text}: {findings:?}");
        }
        let findings =
            narrative_findings(&cells, &[("income_expenditure", "收入合计101.00万元。")]);
        assert_eq!(ids(&findings), ["NAR-AMOUNT"]);
        assert_eq!(
            (findings[0].provided, findings[0].expected),
            (Some(Decimal::new(10100, 2)), Some(Decimal::new(10000, 2)))
        );
        // In the income section, 总收入 is the section's total.
        let findings = narrative_findings(&cells, &[("income", "总收入99.00万元。")]);
        assert_eq!(ids(&findings), ["NAR-AMOUNT"]);
    }

    #[test]
    fn falls_are_negative_however_they_are_written() {
        let statement = read_statement("100.00万元,比上年减少10.00万元,下降9.09%", "万元");
        assert_eq!(
            (statement.change, statement.rate),
            (v("-10.00"), v("-9.09"))
        );
        let statement = read_statement("100.00万元,比上年增减-10.00万元,增减率为-9.09%", "万元");
        assert_eq!(
            (statement.change, statement.rate),
            (v("-10.00"), v("-9.09"))
        );
        // 下降 with a minus is still a fall, not a rise.
        let statement = read_statement(&normalize("100.00万元，比上年下降－9.09％"), "万元");
        assert_eq!(statement.rate, v("-9.09"));
        let cells = [("T05", "total", "total", "100.00")];
        let consistent = narrative_findings(
            &cells,
            &[(
                "general_budget",
                "一般公共预算财政拨款支出100.00万元，比上年减少10.00万元，下降9.09%。",
            )],
        );
        assert!(errors(&consistent).is_empty(), "{consistent:?}");
        let inconsistent = narrative_findings(
            &cells,
            &[(
                "general_budget",
                "一般公共预算财政拨款支出100.00万元，比上年减少10.00万元，增长9.09%。",
            )],
        );
        assert_eq!(ids(&inconsistent), ["NAR-CHANGE"]);
        assert_eq!(inconsistent[0].expected, Some(Decimal::new(-909, 2)));
        // The budget variance rate keeps its sign.
        let variance = "年初预算数125.00万元，决算数100.00万元，预决算差异率-20.00%。";
        assert!(narrative_findings(&cells, &[("general_budget", variance)]).is_empty());
        let wrong_sign = narrative_findings(
            &cells,
            &[(
                "general_budget",
                "年初预算数125.00万元，决算数100.00万元，预决算差异率20.00%。",
            )],
        );
        assert_eq!(ids(&wrong_sign), ["NAR-BUDGET-RATE"]);
        assert_eq!(
            (wrong_sign[0].provided, wrong_sign[0].expected),
            (Some(Decimal::new(2000, 2)), Some(Decimal::new(-2000, 2)))
        );
    }

    #[test]
    fn a_change_is_checked_against_its_rate_without_any_table() {
        for (text, fires) in [
            (
                "全年培训经费150.00万元，比上年增加50.00万元，增长50.00%。",
                false,
            ),
            (
                "全年培训经费150.00万元，比上年增加50.00万元，增长33.33%。",
                true,
            ),
            ("下乡演出场次120次，较上年减少30次，下降20.00%。", false),
            ("下乡演出场次120次，较上年减少30次，下降25.00%。", true),
        ] {
            let findings = narrative_findings(&[], &[("performance", text)]);
            assert_eq!(
                ids(&findings) == ["NAR-CHANGE"],
                fires,
                "{text}: {findings:?}"
            );
        }
        // A rate on a zero base is not computed.
        let zero_base = narrative_findings(
            &[],
            &[(
                "performance",
                "培训经费50.00万元，比上年增加50.00万元，增长100.00%。",
            )],
        );
        assert!(zero_base.is_empty(), "{zero_base:?}");
    }

    #[test]
    fn a_completion_rate_is_a_share_of_the_budget_not_of_a_total() {
        assert_eq!(
            read_completion("完成预算的100%").map(|(v, _)| v.to_string()),
            Some("100".into())
        );
        assert_eq!(
            read_completion("为年初预算的98.50%,").map(|(v, u)| (v.to_string(), u)),
            Some(("98.50".into(), "为年初预算的98.50%".len()))
        );
        assert!(read_completion("占本年支出的10%").is_none());
        let statement = read_statement("4.00万元,占年初预算的80.00%", "万元");
        assert_eq!((statement.share, statement.completion), (None, v("80.00")));
        let cells = [
            ("T09", "total", "budget", "5.00"),
            ("T09", "total", "final", "4.00"),
        ];
        for (text, fires) in [
            ("三公经费支出4.00万元，完成预算的80.00%。", false),
            ("三公经费支出4.00万元，为年初预算的80%。", false),
            ("三公经费支出4.00万元，完成预算的100%。", true),
        ] {
            let findings = narrative_findings(&cells, &[("three_public", text)]);
            assert_eq!(
                ids(&findings) == ["NAR-COMPLETION"],
                fires,
                "{text}: {findings:?}"
            );
        }
    }

    #[test]
    fn parts_add_up_to_their_whole() {
        let cells = [
            ("T03", "total", "total", "100.00"),
            ("T03", "total", "basic", "60.00"),
            ("T03", "total", "project", "40.00"),
        ];
        let consistent = [
            "本年支出100.00万元，其中：基本支出60.00万元，占60.00%；项目支出40.00万元，占40.00%。",
            "本年支出100.00万元。其中：基本支出60.00万元，项目支出40.00万元。",
            "本年支出100.00万元，比上年增加20.00万元，增长25.00%，其中：基本支出60.00万元，项目支出40.00万元。",
            // One part alone may be an example rather than the list.
            "本年支出100.00万元，其中基本支出60.00万元。",
            // Details after 主要包括 are not parts.
            "本年支出100.00万元，其中：基本支出60.00万元，主要包括人员经费50.00万元、公用经费10.00万元；项目支出40.00万元。",
            // The same in 元, restating figures of tables kept in 万元.
            "本年支出1,000,000.00元，其中：基本支出600,000.00元，项目支出400,000.00元。",
        ];
        for text in consistent {
            let findings = narrative_findings(&cells, &[("expenditure", text)]);
            assert!(findings.is_empty(), "{text}: {findings:?}");
        }
        let excess = narrative_findings(
            &[],
            &[(
                "performance",
                "项目资金100.00万元，其中：财政资金80.00万元，其他资金30.00万元。",
            )],
        );
        assert_eq!(ids(&excess), ["NAR-PARTS"]);
        assert_eq!(
            (excess[0].provided, excess[0].expected),
            (Some(Decimal::new(11000, 2)), Some(Decimal::new(10000, 2)))
        );
        assert!(
            excess[0].message.contains("财政资金、其他资金"),
            "{}",
            excess[0].message
        );
        let listed = narrative_findings(
            &[],
            &[(
                "performance",
                "三公经费4.00万元，其中因公出国（境）费、公务用车运行维护费、公务接待费分别为0.00万元、3.00万元、2.00万元。",
            )],
        );
        assert_eq!(ids(&listed), ["NAR-PARTS"]);
        let short = narrative_findings(
            &[],
            &[(
                "performance",
                "项目资金100.00万元，其中：财政资金60.00万元，其他资金30.00万元。",
            )],
        );
        assert_eq!(ids(&short), ["NAR-PARTS-SHORT"]);
        assert_eq!(short[0].severity, Severity::Warning);
        // Counts too: 171 people are 150 + 1 + 20.
        let staff = narrative_findings(
            &[],
            &[(
                "performance",
                "实有人数171人，其中：在职人员150人，离休人员1人，退休人员21人。",
            )],
        );
        assert_eq!(ids(&staff), ["NAR-PARTS"]);
        assert!(staff[0].message.contains("171人"), "{}", staff[0].message);
    }

    #[test]
    fn a_figure_of_the_next_sentence_is_never_the_previous_subjects() {
        let statement = read_statement("100.00万元。与上年相比,增加20.00万元,增长10.00%", "万元");
        assert_eq!((statement.change, statement.rate), (None, None));
        let statement = read_statement("100.00万元;与上年相比,增加20.00万元,增长25.00%", "万元");
        assert_eq!((statement.change, statement.rate), (v("20.00"), v("25.00")));
        let cells = [("T05", "total", "total", "100.00")];
        let findings = narrative_findings(
            &cells,
            &[(
                "general_budget",
                "一般公共预算财政拨款支出100.00万元。与上年相比，项目经费增加20.00万元，增长10.00%。",
            )],
        );
        assert!(findings.is_empty(), "{findings:?}");
    }

    #[test]
    fn counts_are_compared_exactly_and_shown_whole() {
        use crate::domain::disclosure::{SectionFact, test_support};
        let taxonomy = crate::domain::taxonomy::test_support::year(2024);
        let findings_for = |text: &str| {
            let mut draft = test_support::draft(2024, Vec::new());
            draft.section_facts.push(SectionFact {
                section: "three_public_counts",
                field: "vehicles_held",
                value: "4".parse().unwrap(),
            });
            draft
                .narrative
                .push(crate::domain::disclosure::NarrativeSection {
                    key: "three_public".into(),
                    title: String::new(),
                    text: text.into(),
                });
            let disclosure = draft.resolve(&taxonomy).unwrap();
            let mut report = Report::new(disclosure.cover.fiscal_year);
            run(
                &taxonomy.rules,
                &taxonomy,
                &disclosure,
                Context::default(),
                &mut report,
            );
            report.findings
        };
        let consistent = findings_for("公务用车保有量4辆。");
        assert!(consistent.is_empty(), "{consistent:?}");
        let findings = findings_for("公务用车保有量3辆。");
        assert_eq!(ids(&findings), ["NAR-AMOUNT"]);
        assert_eq!(findings[0].severity, Severity::Error);
        assert!(
            findings[0].message.contains(" 3辆"),
            "{}",
            findings[0].message
        );
        assert!(
            findings[0].message.contains(" 4辆"),
            "{}",
            findings[0].message
        );
        assert!(
            !findings[0].message.contains(".00"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_figure_in_yuan_is_shown_with_two_decimals_of_wan_yuan() {
        let cells = [("T01", "income_total", "amount", "100.00")];
        let findings = narrative_findings(
            &cells,
            &[("income_expenditure", "本年收入合计1,020,000.00元。")],
        );
        assert_eq!(ids(&findings), ["NAR-AMOUNT"]);
        assert!(
            findings[0].message.contains("102.00万元"),
            "{}",
            findings[0].message
        );
        assert!(
            !findings[0].message.contains("102.000000"),
            "{}",
            findings[0].message
        );
    }

    #[test]
    fn a_figure_on_the_open_end_of_the_rounding_is_a_difference() {
        let cells = [("T01", "income_total", "amount", "100.00")];
        let near = narrative_findings(
            &cells,
            &[("income_expenditure", "本年收入合计100.004万元。")],
        );
        assert!(near.is_empty(), "{near:?}");
        let boundary = narrative_findings(
            &cells,
            &[("income_expenditure", "本年收入合计100.01万元。")],
        );
        assert_eq!(ids(&boundary), ["NAR-AMOUNT"]);
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

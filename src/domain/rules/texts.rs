//! A self-evaluation's texts against its own tables: the quantities, rates, durations, dates and amounts that the
//! 年度目标 and 实际完成情况 texts and the indicators' deviation notes (偏差原因) state, read and checked against the
//! indicator table and the funds block.
//!
//! Texts are free prose, worded differently by every unit, so reading them is guessing; a false warning costs a
//! reviewer time. A figure is therefore checked only when it can be placed with certainty — its unit is an
//! indicator's, the words around it name that indicator and no other as well, it is not approximate, not a total —
//! and is counted as not evaluated otherwise. Which words mean what is data (`evaluation-texts.toml`).

use std::{collections::BTreeMap, rc::Rc};

use serde::Deserialize;

use super::narrative::{
    CheckKind, RawKind, check_kind, next_candidate, normalize, read_number, render,
};
use crate::domain::{
    disclosure::Disclosure,
    evaluation::{DateSpec, Evaluation, FundsSource, Indicator, MeasureValue},
    money::{Interval, Value, round_for_display},
    scoring::ScoringPolicy,
    taxonomy::{TaxonomyError, load::SourceFile},
    validation::{CellRef, Finding, Report},
};

/// The checks of a year's `evaluation-texts.toml`.
#[derive(Debug, Clone)]
pub struct TextChecks {
    /// The file, relative to the taxonomy root ("2024/evaluation-texts.toml").
    pub origin: String,
    /// A goal's figure against the target of the indicator it names.
    pub goal: CheckKind,
    /// A 实际完成情况 figure against the actual value of the indicator it names.
    pub achieved: CheckKind,
    /// A deviation note's rate or actual figure against its indicator's actual value.
    pub deviation: CheckKind,
    /// The cost indicators' actual values together against the project's 全年执行数.
    pub cost: CheckKind,
    words: Words,
    /// The generic and bounding words, to leave out of an indicator's name.
    masker: Masker,
    /// The words whose presence before a figure decides what it is, found in one pass.
    lexicon: Lexicon,
}

impl PartialEq for TextChecks {
    fn eq(&self, other: &TextChecks) -> bool {
        // The masker is derived from the words.
        self.origin == other.origin && self.kinds() == other.kinds() && self.words == other.words
    }
}

impl TextChecks {
    pub fn kinds(&self) -> [&CheckKind; 4] {
        [&self.goal, &self.achieved, &self.deviation, &self.cost]
    }
}

/// The words that decide what a figure in a text is; see `evaluation-texts.toml`. All normalized.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Words {
    generic: Vec<String>,
    approximate_before: Vec<String>,
    approximate_after: Vec<String>,
    bounds: Vec<String>,
    totals: Vec<String>,
    plans: Vec<String>,
    negations: Vec<String>,
    other_rates: Vec<String>,
    actual_leads: Vec<String>,
    report_dates: Vec<String>,
    completion_words: Vec<String>,
    cost_levels: Vec<String>,
    per_unit: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTexts {
    checks: RawChecks,
    words: Words,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChecks {
    goal: RawKind,
    achieved: RawKind,
    deviation: RawKind,
    cost: RawKind,
}

pub(super) fn load(file: &SourceFile) -> Result<TextChecks, TaxonomyError> {
    let raw: RawTexts = file.parse_toml()?;
    let mut words = raw.words;
    for list in [
        &mut words.generic,
        &mut words.approximate_before,
        &mut words.approximate_after,
        &mut words.bounds,
        &mut words.totals,
        &mut words.plans,
        &mut words.negations,
        &mut words.other_rates,
        &mut words.actual_leads,
        &mut words.report_dates,
        &mut words.completion_words,
        &mut words.cost_levels,
        &mut words.per_unit,
    ] {
        for word in list.iter_mut() {
            *word = normalize(word.trim());
        }
        list.retain(|w| !w.is_empty());
        // Longest first, so that a longer word is removed or matched before a word it contains.
        list.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    }
    let masker = Masker::new(words.generic.iter().chain(&words.bounds));
    let lexicon = Lexicon::new(&words)
        .map_err(|e| file.error(format!("the words cannot be matched: {e}")))?;
    Ok(TextChecks {
        origin: String::new(),
        masker,
        lexicon,
        goal: check_kind(file, raw.checks.goal)?,
        achieved: check_kind(file, raw.checks.achieved)?,
        deviation: check_kind(file, raw.checks.deviation)?,
        cost: check_kind(file, raw.checks.cost)?,
        words,
    })
}

// ---- reading figures ----

/// What a figure states.
#[derive(Debug, Clone, PartialEq)]
enum Stated {
    /// A number with its unit as written ("%" for a percentage).
    Number {
        value: Value,
        unit: String,
    },
    Date(DateSpec),
}

/// A figure of a text, with the words around it (slices of the normalized text).
#[derive(Debug, Clone, PartialEq)]
struct Figure<'t> {
    stated: Stated,
    /// The clause it stands in, as shown in a finding.
    clause: &'t str,
    /// The pieces of the clause's words, figures left out: the words that may name the indicator.
    context: Rc<Pieces>,
    /// The clause's words before the figure.
    lead: &'t str,
    /// What is counted, right after the unit ("采购45件设备" → "设备"), up to the next conjunction.
    object: &'t str,
    approximate: bool,
}

/// A text as the checks read it: as written, unless it writes figures in full-width forms (１２．５％), which are
/// read after normalization. Full-width punctuation ends clauses either way; quotation marks are not words.
fn readable(text: &str) -> std::borrow::Cow<'_, str> {
    // Full-width digits, ％ and ． are U+FF05, U+FF0E and U+FF10..U+FF19: EF BC 85 / 8E / 90..99 in UTF-8.
    // Found from their lead byte with memchr: most texts have none, and looking at every window of three bytes
    // cost more than the rest of reading a text without figures.
    let bytes = text.as_bytes();
    let full_width_figure = memchr::memchr_iter(0xEF, bytes).any(|i| {
        bytes.get(i + 1) == Some(&0xBC)
            && bytes
                .get(i + 2)
                .is_some_and(|b| matches!(b, 0x85 | 0x8E | 0x90..=0x99))
    });
    if full_width_figure {
        std::borrow::Cow::Owned(normalize(text))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// Letters and digits of any script. The CJK unified ideographs (most characters of these texts) are answered
/// from their range: the general Unicode lookup costs tens of instructions a character.
fn is_word_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric()
    } else if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
        true
    } else {
        c.is_alphanumeric()
    }
}

/// The byte length of the clause end at `offset` (a sentence end, or a comma that is not a thousands separator),
/// or 0. Every clause end is one ASCII byte or one of a few three-byte characters, so the text is read as bytes.
fn clause_end_at(bytes: &[u8], offset: usize) -> usize {
    match bytes[offset] {
        b',' => {
            let thousands = offset > 0
                && bytes[offset - 1].is_ascii_digit()
                && bytes.get(offset + 1).is_some_and(u8::is_ascii_digit);
            usize::from(!thousands)
        }
        b';' | b':' | b'!' | b'?' | b'\n' | b'\r' => 1,
        // 。 (E3 80 82), ● (E2 97 8F), and ！ ， ： ； ？ (EF BC 81 / 8C / 9A / 9B / 9F).
        0xE2 | 0xE3 | 0xEF => match bytes.get(offset..offset + 3) {
            Some(
                [0xE3, 0x80, 0x82]
                | [0xE2, 0x97, 0x8F]
                | [0xEF, 0xBC, 0x81 | 0x8C | 0x9A | 0x9B | 0x9F],
            ) => 3,
            _ => 0,
        },
        _ => 0,
    }
}

const PLAIN: u8 = 0;
const DIGIT: u8 = 1;
const MAY_END_CLAUSE: u8 = 2;

/// What a byte `next_candidate` stops at is for the clause scan: a digit, maybe a clause end (to be confirmed by
/// [`clause_end_at`]), or neither (a blank, '%', '.', another E2/E3/EF character).
const BYTE_CLASS: [u8; 256] = {
    let mut class = [PLAIN; 256];
    let mut digit = b'0';
    while digit <= b'9' {
        class[digit as usize] = DIGIT;
        digit += 1;
    }
    let ends = [b',', b';', b':', b'!', b'?', b'\n', b'\r', 0xE2, 0xE3, 0xEF];
    let mut i = 0;
    while i < ends.len() {
        class[ends[i] as usize] = MAY_END_CLAUSE;
        i += 1;
    }
    class
};

/// The clauses of a text that have a digit, in one pass over its bytes: the words of a clause are read only when
/// it has a figure.
fn clauses_with_digits(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut at = 0;
    std::iter::from_fn(move || {
        let mut has_digit = false;
        loop {
            at = next_candidate(bytes, at);
            if at == bytes.len() {
                break;
            }
            let end = match BYTE_CLASS[usize::from(bytes[at])] {
                PLAIN => 0,
                DIGIT => {
                    has_digit = true;
                    0
                }
                _ => clause_end_at(bytes, at),
            };
            if end == 0 {
                at += 1;
                continue;
            }
            let clause = &text[start..at];
            at += end;
            start = at;
            if has_digit {
                return Some(clause);
            }
        }
        if has_digit {
            let clause = &text[start..];
            start = bytes.len();
            return Some(clause);
        }
        None
    })
}

/// "2024年8月31日", "2024年8月", with "前" after it or not: the date and the bytes it takes.
fn read_date(text: &str) -> Option<(DateSpec, usize)> {
    let year_digits = text.bytes().take_while(u8::is_ascii_digit).count();
    if year_digits != 4 || !text[4..].starts_with('年') {
        return None;
    }
    let rest = &text[4 + '年'.len_utf8()..];
    let month_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    if month_digits == 0 || month_digits > 2 || !rest[month_digits..].starts_with('月') {
        return None;
    }
    let mut used = 4 + '年'.len_utf8() + month_digits + '月'.len_utf8();
    let after_month = &text[used..];
    let day_digits = after_month.bytes().take_while(u8::is_ascii_digit).count();
    let mut day = None;
    if (1..=2).contains(&day_digits) && after_month[day_digits..].starts_with(['日', '号']) {
        day = Some(&after_month[..day_digits]);
        used += day_digits + '日'.len_utf8();
    }
    let year: i32 = text[..4].parse().ok()?;
    let month: u32 = rest[..month_digits].parse().ok()?;
    let spec = match day {
        Some(day) => format!("{year:04}-{month:02}-{:02}", day.parse::<u32>().ok()?),
        None => format!("{year:04}-{month:02}"),
    };
    Some((DateSpec::parse(&spec)?, used))
}

fn strip_any<'t>(text: &'t str, words: &[String]) -> Option<&'t str> {
    words.iter().find_map(|w| text.strip_prefix(w.as_str()))
}

fn ends_with_any(text: &str, words: &[String]) -> bool {
    words.iter().any(|w| text.ends_with(w.as_str()))
}

/// The figures of a normalized text whose unit is one of `units` (longest first), and its dates.
fn read_figures<'t>(normalized: &'t str, units: &[&str], words: &Words) -> Vec<Figure<'t>> {
    let mut figures = Vec::new();
    if !normalized.bytes().any(|b| b.is_ascii_digit()) {
        return figures;
    }
    for clause in clauses_with_digits(normalized) {
        // (start, end) of every figure-like run, to leave them out of the context.
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut found: Vec<(usize, usize, Stated, bool)> = Vec::new();
        let bytes = clause.as_bytes();
        let mut i = 0;
        while i < clause.len() {
            if !bytes[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let part_of_code = i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'.' | b'-' | b'/' | b'_'));
            if part_of_code {
                // The rest of the code ("CM198", "MPEG4").
                while i < clause.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                continue;
            }
            let rest = &clause[i..];
            if let Some((date, used)) = read_date(rest) {
                let mut end = i + used;
                if clause[end..].starts_with('前') {
                    end += '前'.len_utf8();
                }
                spans.push((i, end));
                let report_date = ends_with_any(clause[..i].trim_end(), &words.report_dates);
                if !report_date {
                    found.push((i, end, Stated::Date(date), false));
                }
                i = end;
                continue;
            }
            let Some((value, used)) = read_number(rest) else {
                i += 1;
                continue;
            };
            let after = &rest[used..];
            // "2024年": a year, not a duration of 2024 years.
            if used == 4 && after.starts_with('年') {
                spans.push((i, i + used + '年'.len_utf8()));
                i += used + '年'.len_utf8();
                continue;
            }
            let trimmed = after.trim_start_matches(' ');
            let Some(unit) = units.iter().find(|u| trimmed.starts_with(**u)) else {
                spans.push((i, i + used));
                i += used;
                continue;
            };
            let end = i + used + (after.len() - trimmed.len()) + unit.len();
            let approximate = ends_with_any(clause[..i].trim_end(), &words.approximate_before)
                || strip_any(&clause[end..], &words.approximate_after).is_some();
            spans.push((i, end));
            found.push((
                i,
                end,
                Stated::Number {
                    value,
                    unit: if *unit == "％" { "%" } else { unit }.to_owned(),
                },
                approximate,
            ));
            i = end;
        }
        if found.is_empty() {
            continue;
        }
        let context = Rc::new(Pieces::of_words(clause, &spans, None));
        for (start, end, stated, approximate) in found {
            let mut after = &clause[end..];
            while let Some(rest) = strip_any(after, &words.bounds) {
                after = rest;
            }
            let object_end = after
                .char_indices()
                .find(|&(_, c)| {
                    !is_word_char(c) || matches!(c, '及' | '和' | '与' | '的' | '并' | '或' | '等')
                })
                .map_or(after.len(), |(i, _)| i);
            let next_figure = after
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(after.len());
            figures.push(Figure {
                stated,
                clause: clause.trim(),
                context: context.clone(),
                lead: &clause[..start],
                object: &after[..object_end.min(next_figure)],
                approximate,
            });
        }
    }
    figures
}

// ---- placing figures ----

/// The two-character pieces of a text's words, sorted: what names an indicator is the pieces its name shares
/// with the words around a figure.
#[derive(Debug, Clone, PartialEq, Default)]
struct Pieces(Vec<u64>);

/// A text's characters with their byte offsets, and whether each is hidden from the pieces.
type Scratch = (Vec<(usize, char)>, Vec<bool>);

impl Pieces {
    /// The pieces of `text`'s words, never across punctuation, the byte ranges in `skip` (figures) or a word of
    /// `masker` (the generic words).
    fn of_words(text: &str, skip: &[(usize, usize)], masker: Option<&Masker>) -> Pieces {
        thread_local! {
            // The characters and whether each is hidden: kept between calls, as they are made for every clause
            // and name of a disclosure.
            static SCRATCH: std::cell::RefCell<Scratch> =
                const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        let Some(masker) = masker else {
            return Pieces::of_clause(text, skip);
        };
        SCRATCH.with_borrow_mut(|(chars, hidden)| {
            chars.clear();
            chars.extend(text.char_indices());
            hidden.clear();
            hidden.extend(chars.iter().map(|&(offset, c)| {
                !is_word_char(c) || skip.iter().any(|&(s, e)| s <= offset && offset < e)
            }));
            masker.mask(chars, hidden);
            let mut out: Vec<u64> = chars
                .windows(2)
                .zip(hidden.windows(2))
                .filter(|(_, h)| !h[0] && !h[1])
                .map(|(w, _)| pair(w[0].1, w[1].1))
                .collect();
            out.sort_unstable();
            out.dedup();
            Pieces(out)
        })
    }

    /// The pieces of a clause's words outside the figures in `skip` (in text order): without a masker, each pair
    /// of neighbouring characters is decided as it is read, with no characters kept.
    fn of_clause(text: &str, skip: &[(usize, usize)]) -> Pieces {
        let mut out = Vec::with_capacity(text.len() / 3);
        let mut spans = skip.iter().peekable();
        let mut previous: Option<char> = None;
        for (offset, c) in text.char_indices() {
            while spans.next_if(|&&(_, end)| end <= offset).is_some() {}
            let skipped = spans.peek().is_some_and(|&&(start, _)| start <= offset);
            let visible = is_word_char(c) && !skipped;
            if let (Some(before), true) = (previous, visible) {
                out.push(pair(before, c));
            }
            previous = visible.then_some(c);
        }
        out.sort_unstable();
        out.dedup();
        Pieces(out)
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn shared(&self, other: &Pieces) -> usize {
        self.0
            .iter()
            .filter(|p| other.0.binary_search(p).is_ok())
            .count()
    }
}

/// The lists of words a lead may have, as bits.
const PLANS: u8 = 1;
const NEGATIONS: u8 = 2;
const TOTALS: u8 = 4;
const COMPLETION: u8 = 8;
const OTHER_RATES: u8 = 16;
const ACTUAL_LEADS: u8 = 32;

/// The words of the lists above in one automaton: which lists a text has words of, in one pass.
#[derive(Debug, Clone)]
struct Lexicon {
    automaton: aho_corasick::AhoCorasick,
    /// The lists each pattern is in.
    lists: Vec<u8>,
}

impl Lexicon {
    fn new(words: &Words) -> Result<Lexicon, aho_corasick::BuildError> {
        let mut patterns: Vec<&str> = Vec::new();
        let mut lists: Vec<u8> = Vec::new();
        for (list, bit) in [
            (&words.plans, PLANS),
            (&words.negations, NEGATIONS),
            (&words.totals, TOTALS),
            (&words.completion_words, COMPLETION),
            (&words.other_rates, OTHER_RATES),
            (&words.actual_leads, ACTUAL_LEADS),
        ] {
            for word in list {
                match patterns.iter().position(|p| *p == word.as_str()) {
                    Some(i) => lists[i] |= bit,
                    None => {
                        patterns.push(word);
                        lists.push(bit);
                    }
                }
            }
        }
        Ok(Lexicon {
            // A DFA without a prefilter: the prefilter's "rare" bytes are UTF-8 lead bytes, common in Chinese.
            automaton: aho_corasick::AhoCorasick::builder()
                .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                .prefilter(false)
                .build(&patterns)?,
            lists,
        })
    }

    /// The lists `text` has a word of.
    fn lists_in(&self, text: &str) -> u8 {
        self.automaton
            .find_overlapping_iter(text)
            .fold(0, |found, m| found | self.lists[m.pattern().as_usize()])
    }
}

fn pair(a: char, b: char) -> u64 {
    (u64::from(a as u32) << 32) | u64::from(b as u32)
}

/// Words to leave out of a name: the two-character ones as pairs (most generic words), the others as they are.
#[derive(Debug, Clone, PartialEq)]
struct Masker {
    pairs: Vec<u64>,
    others: Vec<Vec<char>>,
}

impl Masker {
    fn new<'w>(words: impl Iterator<Item = &'w String>) -> Masker {
        let mut pairs = Vec::new();
        let mut others = Vec::new();
        for word in words {
            let chars: Vec<char> = word.chars().collect();
            match chars.as_slice() {
                [a, b] => pairs.push(pair(*a, *b)),
                [] => {}
                _ => others.push(chars),
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        Masker { pairs, others }
    }

    /// Marks the characters of every word found.
    fn mask(&self, chars: &[(usize, char)], hidden: &mut [bool]) {
        for i in 0..chars.len() {
            if i + 1 < chars.len()
                && self
                    .pairs
                    .binary_search(&pair(chars[i].1, chars[i + 1].1))
                    .is_ok()
            {
                hidden[i] = true;
                hidden[i + 1] = true;
            }
            for word in &self.others {
                if chars.len() - i >= word.len()
                    && word.iter().zip(&chars[i..]).all(|(w, (_, c))| w == c)
                {
                    hidden[i..i + word.len()].iter_mut().for_each(|h| *h = true);
                }
            }
        }
    }
}

/// The unit keys of what is not a unit: dates and percentages (no unit has a blank in it).
const DATE_KEY: &str = " date";
const PERCENT_KEY: &str = " %";

/// The unit key of each indicator's measure on a side, to find the indicators a figure may be about.
fn unit_keys<'e>(
    policy: &'e ScoringPolicy,
    evaluation: &'e Evaluation,
    side: Side,
) -> Vec<Option<&'e str>> {
    evaluation
        .indicators
        .iter()
        .map(|indicator| match measure(indicator, side)? {
            MeasureValue::Date(_) => Some(DATE_KEY),
            MeasureValue::Percent(_) => Some(PERCENT_KEY),
            MeasureValue::Number { unit, .. } | MeasureValue::Duration { unit, .. } => {
                Some(policy.unit_key(unit))
            }
            MeasureValue::Text(_) => None,
        })
        .collect()
}

/// How a figure was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The indicator (its index) the figure is about, with certainty.
    Indicator(usize),
    /// Indicators of its kind exist, but which one it is about (or whether any) is not certain.
    Unsure,
    /// No indicator measures anything like it: not a figure for these checks.
    Nothing,
}

/// How strongly a figure's words name an indicator: (pieces in common, pieces of the name), or `None` when they do
/// not name it with certainty.
fn naming(figure: &Figure<'_>, name: &Pieces, object: &Pieces) -> Option<(usize, usize)> {
    if name.is_empty() {
        return None;
    }
    let hits = name.shared(&figure.context);
    let needed = name.len().min(2);
    if hits < needed || hits * 3 < name.len() {
        return None;
    }
    // Something counted right after the unit must be what the indicator counts: "保障3个人才工作室" is not about
    // 保障部室数量.
    if !object.is_empty() && object.shared(name) == 0 {
        return None;
    }
    Some((hits, name.len()))
}

// ---- checking ----

/// Which side of an indicator a text speaks of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Target,
    Actual,
}

struct Checker<'a> {
    checks: &'a TextChecks,
    policy: &'a ScoringPolicy,
    report: &'a mut Report,
}

/// Runs the text checks on every self-evaluation of a disclosure.
pub(super) fn run(
    checks: &TextChecks,
    policy: &ScoringPolicy,
    disclosure: &Disclosure,
    report: &mut Report,
) {
    let mut checker = Checker {
        checks,
        policy,
        report,
    };
    let evaluations = disclosure.unit_evaluation.iter().map(|e| (0, e)).chain(
        disclosure
            .project_evaluations
            .iter()
            .enumerate()
            .map(|(i, e)| (i + 1, e)),
    );
    for (position, evaluation) in evaluations {
        // The pieces of each indicator's name, made when a figure first needs them and kept for both texts.
        let mut names = vec![None; evaluation.indicators.len()];
        checker.check_text(position, evaluation, Side::Target, &mut names);
        checker.check_text(position, evaluation, Side::Actual, &mut names);
        for (index, indicator) in evaluation.indicators.iter().enumerate() {
            checker.check_deviation(position, evaluation, index, indicator);
        }
        checker.check_cost(position, evaluation);
    }
}

fn measure(indicator: &Indicator, side: Side) -> Option<&MeasureValue> {
    match side {
        Side::Target => indicator.target.as_ref()?.value.as_ref(),
        Side::Actual => indicator.actual.as_ref()?.value.as_ref(),
    }
}

fn raw_measure(indicator: &Indicator, side: Side) -> &str {
    match side {
        Side::Target => indicator.target.as_ref().map_or("", |m| m.raw.as_str()),
        Side::Actual => indicator.actual.as_ref().map_or("", |m| m.raw.as_str()),
    }
}

/// A clause as a finding shows it: at most 40 characters, the figure's side kept.
fn shown_clause(clause: &str) -> String {
    const SHOWN: usize = 40;
    let count = clause.chars().count();
    if count <= SHOWN {
        clause.to_owned()
    } else {
        let head: String = clause.chars().take(SHOWN).collect();
        format!("{head}…")
    }
}

impl Checker<'_> {
    /// The units a side's measures use, longest first, "%" when any is a percentage (from their keys).
    fn units<'e>(
        &'e self,
        evaluation: &'e Evaluation,
        keys: &[Option<&str>],
        side: Side,
    ) -> Vec<&'e str> {
        let mut units: Vec<&str> = Vec::new();
        for (indicator, key) in evaluation.indicators.iter().zip(keys) {
            match (measure(indicator, side), key) {
                (
                    Some(MeasureValue::Number { unit, .. } | MeasureValue::Duration { unit, .. }),
                    Some(key),
                ) => {
                    units.push(unit.trim());
                    // The units the policy counts as the same measure ("篇" and "条").
                    if let Some(group) = self
                        .policy
                        .equivalent_units
                        .iter()
                        .find(|g| g.first().is_some_and(|f| self.policy.unit_key(f) == *key))
                    {
                        units.extend(group.iter().map(|u| u.trim()));
                    }
                    if *key == "万" {
                        units.extend(["万元", "万"]);
                    }
                }
                (Some(MeasureValue::Percent(_)), _) => units.extend(["%", "％"]),
                _ => {}
            }
        }
        units.retain(|u| !u.is_empty());
        units.sort_unstable_by_key(|u| (std::cmp::Reverse(u.len()), *u));
        units.dedup();
        units
    }

    fn is_money(&self, unit: &str) -> bool {
        self.policy.same_unit(unit, "万元") || unit == "元"
    }

    /// The indicator a figure is about, among those whose measure on `side` is of its kind.
    fn place(
        &self,
        figure: &Figure<'_>,
        evaluation: &Evaluation,
        side: Side,
        names: &mut [Option<Pieces>],
        keys: &[Option<&str>],
    ) -> Placement {
        let key = match &figure.stated {
            Stated::Date(_) => DATE_KEY,
            Stated::Number { unit, .. } if unit == "%" => PERCENT_KEY,
            Stated::Number { unit, .. } => self.policy.unit_key(unit),
        };
        let candidates: Vec<usize> = keys
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == Some(key))
            .map(|(i, _)| i)
            .collect();
        if candidates.is_empty() {
            return Placement::Nothing;
        }
        if figure.approximate {
            return Placement::Unsure;
        }
        let lead = self.checks.lexicon.lists_in(figure.lead);
        if side == Side::Actual && lead & (PLANS | NEGATIONS) != 0 {
            return Placement::Unsure;
        }
        if let Stated::Number { unit, .. } = &figure.stated
            && self.is_money(unit)
            && lead & TOTALS != 0
        {
            return Placement::Unsure;
        }
        if let Stated::Date(_) = figure.stated {
            // A date names no indicator by its words ("项目完成时间" is all generic): one date indicator and a clause
            // about finishing.
            return if candidates.len() == 1
                && self.checks.lexicon.lists_in(figure.clause) & COMPLETION != 0
            {
                Placement::Indicator(candidates[0])
            } else {
                Placement::Unsure
            };
        }
        let object = Pieces::of_words(figure.object, &[], Some(&self.checks.masker));
        let mut scored: Vec<((usize, usize), usize)> = Vec::new();
        for &i in &candidates {
            let name = names[i].get_or_insert_with(|| {
                Pieces::of_words(
                    evaluation.indicators[i].name.trim(),
                    &[],
                    Some(&self.checks.masker),
                )
            });
            if let Some(score) = naming(figure, name, &object) {
                scored.push((score, i));
            }
        }
        // The most pieces in common, then the shortest name (the more of it named); a tie is not certain.
        scored.sort_by(|a, b| b.0.0.cmp(&a.0.0).then(a.0.1.cmp(&b.0.1)));
        match scored.as_slice() {
            [] => Placement::Unsure,
            [(_, i)] => Placement::Indicator(*i),
            [(best, i), (second, _), ..] if best != second => Placement::Indicator(*i),
            _ => Placement::Unsure,
        }
    }

    /// Totals of an evaluation a money figure may state instead of a cost indicator's: its funds and the sum of
    /// its cost indicators.
    fn totals(&self, evaluation: &Evaluation, side: Side) -> Vec<Interval> {
        let mut totals = Vec::new();
        if let Some(row) = evaluation.funds_row(FundsSource::Total) {
            totals.extend(
                [row.initial_budget, row.full_year_budget, row.executed]
                    .into_iter()
                    .flatten()
                    .map(Value::rounded_interval),
            );
        }
        let mut sum = Interval::zero();
        let mut any = false;
        for indicator in &evaluation.indicators {
            if let Some(MeasureValue::Number { value, unit }) = measure(indicator, side)
                && self.policy.same_unit(unit, "万元")
                && let Some(next) = sum.checked_add(&match side {
                    Side::Target => value.exact_interval(),
                    Side::Actual => value.rounded_interval(),
                })
            {
                sum = next;
                any = true;
            }
        }
        if any {
            totals.push(sum);
        }
        totals
    }

    /// The goal (side Target) or 实际完成情况 (side Actual) text against the indicators.
    fn check_text(
        &mut self,
        position: usize,
        evaluation: &Evaluation,
        side: Side,
        names: &mut [Option<Pieces>],
    ) {
        let text = match side {
            Side::Target => &evaluation.goal_expected,
            Side::Actual => &evaluation.goal_actual,
        };
        if text.trim().is_empty() {
            return;
        }
        let keys = unit_keys(self.policy, evaluation, side);
        let units = self.units(evaluation, &keys, side);
        let readable = readable(text);
        let figures = read_figures(&readable, &units, &self.checks.words);
        if figures.is_empty() {
            return;
        }
        let mut placed: BTreeMap<usize, Vec<Figure>> = BTreeMap::new();
        for figure in figures {
            match self.place(&figure, evaluation, side, names, &keys) {
                Placement::Indicator(i) => placed.entry(i).or_default().push(figure),
                Placement::Unsure => self.report.checks_not_evaluated += 1,
                Placement::Nothing => {}
            }
        }
        let totals = self.totals(evaluation, side);
        for (index, figures) in placed {
            let indicator = &evaluation.indicators[index];
            let Some(value) = measure(indicator, side) else {
                continue;
            };
            // Several figures for one indicator must agree among themselves to say anything.
            let agree = figures
                .windows(2)
                .all(|w| stated_agree(&w[0].stated, &w[1].stated));
            if !agree {
                self.report.checks_not_evaluated += 1;
                continue;
            }
            let figure = &figures[0];
            if let Stated::Number {
                value: stated,
                unit,
            } = &figure.stated
                && self.is_money(unit)
                && totals
                    .iter()
                    .any(|t| t.overlaps(&stated.rounded_interval()))
                && !stated_matches(&figure.stated, value, side)
            {
                // The figure is a total of the project, not this cost.
                self.report.checks_not_evaluated += 1;
                continue;
            }
            self.report.checks_evaluated += 1;
            if !stated_matches(&figure.stated, value, side) {
                let kind = match side {
                    Side::Target => &self.checks.goal,
                    Side::Actual => &self.checks.achieved,
                };
                let column = match side {
                    Side::Target => "target",
                    Side::Actual => "actual",
                };
                let text_column = match side {
                    Side::Target => "expected",
                    Side::Actual => "actual",
                };
                let cells = vec![
                    evaluation_cell(position, format!("indicator.{}", index + 1), column),
                    evaluation_cell(position, "goal".into(), text_column),
                ];
                self.finding(
                    kind,
                    position,
                    evaluation,
                    indicator,
                    figure,
                    value,
                    raw_measure(indicator, side),
                    cells,
                );
            }
        }
    }

    /// An indicator's deviation note: a rate it states ("…合格率为98%") or an actual figure ("实际…41件") against
    /// the indicator's actual value.
    fn check_deviation(
        &mut self,
        position: usize,
        evaluation: &Evaluation,
        index: usize,
        indicator: &Indicator,
    ) {
        if indicator.deviation_reason.trim().is_empty() {
            return;
        }
        let words = &self.checks.words;
        let Some(actual) = measure(indicator, Side::Actual) else {
            return;
        };
        let units = match actual {
            MeasureValue::Percent(_) => vec!["%", "％"],
            MeasureValue::Number { unit, .. } | MeasureValue::Duration { unit, .. } => {
                vec![unit.trim()]
            }
            _ => return,
        };
        let mut stated: Vec<Figure> = Vec::new();
        let readable = readable(&indicator.deviation_reason);
        for figure in read_figures(&readable, &units, words) {
            let Stated::Number { unit, .. } = &figure.stated else {
                continue;
            };
            let lead = figure.lead;
            let lists = self.checks.lexicon.lists_in(lead);
            let about_actual = if unit == "%" {
                // A rate: the rate's own noun before it, not a rate of something else.
                (lead.contains('率') || lead.contains('度')) && lists & OTHER_RATES == 0
            } else {
                lists & ACTUAL_LEADS != 0
            };
            if !about_actual {
                continue;
            }
            if figure.approximate || lists & (PLANS | NEGATIONS) != 0 {
                self.report.checks_not_evaluated += 1;
                continue;
            }
            stated.push(figure);
        }
        let Some(figure) = stated.first() else {
            return;
        };
        if !stated
            .windows(2)
            .all(|w| stated_agree(&w[0].stated, &w[1].stated))
        {
            self.report.checks_not_evaluated += 1;
            return;
        }
        self.report.checks_evaluated += 1;
        if !stated_matches(&figure.stated, actual, Side::Actual) {
            let row = format!("indicator.{}", index + 1);
            let cells = vec![
                evaluation_cell(position, row.clone(), "actual"),
                evaluation_cell(position, row, "deviation_reason"),
            ];
            let kind = &self.checks.deviation;
            self.finding(
                kind,
                position,
                evaluation,
                indicator,
                figure,
                actual,
                raw_measure(indicator, Side::Actual),
                cells,
            );
        }
    }

    /// The cost indicators' actual values together (in 万元, not per unit) against the project's 全年执行数: equal,
    /// within rounding.
    fn check_cost(&mut self, position: usize, evaluation: &Evaluation) {
        let words = &self.checks.words;
        let Some(executed) = evaluation
            .funds_row(FundsSource::Total)
            .and_then(|row| row.executed)
        else {
            return;
        };
        let mut sum = Interval::zero();
        let mut shown = rust_decimal::Decimal::ZERO;
        let mut cells = Vec::new();
        for (index, indicator) in evaluation.indicators.iter().enumerate() {
            let level = indicator.level1.trim();
            let name = indicator.name.trim();
            if !words.cost_levels.iter().any(|l| l == level)
                || words.per_unit.iter().any(|p| name.starts_with(p.as_str()))
            {
                continue;
            }
            let Some(MeasureValue::Number { value, unit }) = measure(indicator, Side::Actual)
            else {
                continue;
            };
            if !self.policy.same_unit(unit, "万元") {
                continue;
            }
            let Some(next) = sum.checked_add(&value.rounded_interval()) else {
                return;
            };
            sum = next;
            shown += value.decimal();
            cells.push(evaluation_cell(
                position,
                format!("indicator.{}", index + 1),
                "actual",
            ));
        }
        if cells.is_empty() {
            return;
        }
        self.report.checks_evaluated += 1;
        // Both ways: cost indicators that add up to less than what was spent leave spending without a cost,
        // as ones that add up to more claim a cost nothing was spent on.
        if sum.overlaps(&executed.rounded_interval()) {
            return;
        }
        cells.insert(
            0,
            evaluation_cell(position, "funds.total".into(), "executed"),
        );
        let kind = &self.checks.cost;
        let project = project_name(evaluation);
        let difference = shown - executed.decimal();
        self.report.findings.push(Finding {
            rule_id: kind.id.clone(),
            severity: kind.severity,
            message: render(
                kind,
                &[
                    ("project", project),
                    ("provided", shown.to_string()),
                    ("expected", executed.to_string()),
                    ("difference", difference.to_string()),
                ],
            ),
            cells,
            provided: Some(shown),
            expected: Some(executed.decimal()),
            difference: Some(difference),
            project: project_of(position, evaluation),
            indicator: None,
            key: String::new(),
            explanation: None,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn finding(
        &mut self,
        kind: &CheckKind,
        position: usize,
        evaluation: &Evaluation,
        indicator: &Indicator,
        figure: &Figure,
        value: &MeasureValue,
        raw: &str,
        cells: Vec<CellRef>,
    ) {
        let (provided, expected) = match (&figure.stated, value) {
            (
                Stated::Number { value: stated, .. },
                MeasureValue::Number { value, .. }
                | MeasureValue::Duration { value, .. }
                | MeasureValue::Percent(value),
            ) => (
                Some(stated.decimal()),
                Some(round_for_display(value.decimal(), value.scale())),
            ),
            _ => (None, None),
        };
        let difference = provided.zip(expected).map(|(p, e)| p - e);
        let fill = [
            ("project", project_name(evaluation)),
            ("indicator", indicator.name.clone()),
            ("sentence", shown_clause(figure.clause)),
            ("target", raw_measure(indicator, Side::Target).to_owned()),
            ("actual", raw_measure(indicator, Side::Actual).to_owned()),
            ("measure", raw.to_owned()),
            (
                "provided",
                provided.map(|p| p.to_string()).unwrap_or_default(),
            ),
            (
                "expected",
                expected.map(|e| e.to_string()).unwrap_or_default(),
            ),
        ];
        self.report.findings.push(Finding {
            rule_id: kind.id.clone(),
            severity: kind.severity,
            message: render(kind, &fill),
            cells,
            provided,
            expected,
            difference,
            project: project_of(position, evaluation),
            indicator: Some(indicator.name.clone()),
            key: String::new(),
            explanation: None,
        });
    }
}

fn project_name(evaluation: &Evaluation) -> String {
    evaluation
        .project
        .clone()
        .unwrap_or_else(|| "单位整体".into())
}

fn project_of(position: usize, evaluation: &Evaluation) -> Option<(usize, String)> {
    (position > 0).then(|| (position, project_name(evaluation)))
}

fn evaluation_cell(position: usize, row: String, column: &str) -> CellRef {
    CellRef {
        table: if position == 0 { "EVAL" } else { "PROJ" }.into(),
        row,
        column: column.to_owned(),
        unit: None,
    }
}

/// Whether two figures stated for one indicator can be the same.
fn stated_agree(a: &Stated, b: &Stated) -> bool {
    match (a, b) {
        (Stated::Number { value: a, .. }, Stated::Number { value: b, .. }) => {
            a.rounded_interval().overlaps(&b.rounded_interval())
        }
        (Stated::Date(a), Stated::Date(b)) => dates_agree(*a, *b),
        _ => false,
    }
}

/// Dates agree to the day when both give it, to the month otherwise.
fn dates_agree(a: DateSpec, b: DateSpec) -> bool {
    match (a.day, b.day) {
        (Some(_), Some(_)) => a == b,
        _ => (a.year, a.month) == (b.year, b.month),
    }
}

/// Whether a text's figure can be the indicator's value: a target is exact, an actual value and the text's figure
/// are rounded to their last decimal.
fn stated_matches(stated: &Stated, value: &MeasureValue, side: Side) -> bool {
    match (stated, value) {
        (Stated::Date(a), MeasureValue::Date(b)) => dates_agree(*a, *b),
        (
            Stated::Number { value: stated, .. },
            MeasureValue::Number { value, .. }
            | MeasureValue::Duration { value, .. }
            | MeasureValue::Percent(value),
        ) => {
            let table = match side {
                Side::Target => value.exact_interval(),
                Side::Actual => value.rounded_interval(),
            };
            stated.rounded_interval().overlaps(&table)
        }
        // Placed only on measures of its kind.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The clauses as they were first found, character by character: what the byte scan must agree with.
    /// Where clauses end: a figure's words are those of its clause.
    fn is_clause_end(c: char) -> bool {
        matches!(
            c,
            '。' | ';' | ':' | '!' | '?' | '；' | '：' | '！' | '？' | '，' | '\n' | '\r' | '●'
        )
    }

    /// Whether the character at `offset` ends a clause: a sentence end, or a comma that is not a thousands separator.
    fn ends_clause(text: &str, offset: usize, c: char) -> bool {
        if c == ',' {
            let bytes = text.as_bytes();
            let thousands = offset > 0
                && bytes[offset - 1].is_ascii_digit()
                && bytes.get(offset + 1).is_some_and(u8::is_ascii_digit);
            return !thousands;
        }
        is_clause_end(c)
    }

    fn clauses_by_characters(text: &str) -> Vec<&str> {
        let bytes = text.as_bytes();
        let mut cursor = 0;
        let mut clauses = Vec::new();
        while let Some(found) = bytes[cursor..].iter().position(u8::is_ascii_digit) {
            let digit = cursor + found;
            let start = text[..digit]
                .char_indices()
                .rev()
                .find(|&(i, c)| ends_clause(text, i, c))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let end = text[digit..]
                .char_indices()
                .find(|&(i, c)| ends_clause(text, digit + i, c))
                .map_or(text.len(), |(i, _)| digit + i);
            clauses.push(&text[start..end]);
            cursor = end;
        }
        clauses
    }

    #[test]
    fn clauses_are_cut_at_sentence_ends_and_commas_that_separate_nothing() {
        let text = "共采购1,200台设备，完成率98%。未完成●剩余3项;其余";
        assert_eq!(
            clauses_with_digits(text).collect::<Vec<_>>(),
            ["共采购1,200台设备", "完成率98%", "剩余3项"]
        );
        assert_eq!(
            clauses_with_digits(text).collect::<Vec<_>>(),
            clauses_by_characters(text)
        );
    }

    /// The pieces of a text's words as first made: every character kept, then each neighbouring pair decided.
    /// That is the masker's path, and a masker of no words hides nothing more.
    fn pieces_by_characters(text: &str, skip: &[(usize, usize)]) -> Pieces {
        Pieces::of_words(text, skip, Some(&Masker::new(std::iter::empty())))
    }

    proptest::proptest! {
        /// A clause's pieces made as it is read are those made from all its characters, whatever figures are
        /// left out.
        #[test]
        fn pieces_made_in_one_pass_are_those_made_from_every_character(
            text in "[0-9a-c万元件，。 采购设备台]{0,30}",
            cuts in proptest::collection::vec((0usize..30, 0usize..4), 0..4)
        ) {
            let offsets: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let mut skip: Vec<(usize, usize)> = Vec::new();
            let mut next_free = 0;
            let mut sorted = cuts.clone();
            sorted.sort_unstable();
            for (start, length) in sorted {
                let start = start.max(next_free);
                let end = (start + length + 1).min(offsets.len() - 1);
                if start < end {
                    skip.push((offsets[start], offsets[end]));
                    next_free = end;
                }
            }
            proptest::prop_assert_eq!(Pieces::of_clause(&text, &skip), pieces_by_characters(&text, &skip));
        }
    }

    proptest::proptest! {
        /// Eight bytes at a time find the byte one at a time would.
        #[test]
        fn candidates_found_by_words_are_those_found_byte_by_byte(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::u8::ANY,
                    proptest::sample::select(vec![b'0', b'9', b'/', b':', b'?', b'@', 0x3F, 0x40, 0x7F, 0x80, 0xE1, 0xE2, 0xE3, 0xE4, 0xEE, 0xEF, 0xF0, 0xFF]),
                ],
                0..40,
            ),
            from in 0usize..40,
        ) {
            let from = from.min(bytes.len());
            let expected = bytes[from..]
                .iter()
                .position(|&b| b < 0x40 || matches!(b, 0xE2 | 0xE3 | 0xEF))
                .map_or(bytes.len(), |i| from + i);
            proptest::prop_assert_eq!(next_candidate(&bytes, from), expected);
        }
    }

    proptest::proptest! {
        /// Reading the bytes finds the clauses reading the characters found.
        #[test]
        fn clauses_read_as_bytes_are_those_read_as_characters(
            text in "[0-9a,.;:!?\\n\\r。，；：！？●、万元％“”\u{10000}]{0,40}"
        ) {
            proptest::prop_assert_eq!(
                clauses_with_digits(&text).collect::<Vec<_>>(),
                clauses_by_characters(&text)
            );
        }
    }
    use crate::domain::evaluation::Measure;

    fn words() -> Words {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("taxonomy/2024/evaluation-texts.toml");
        load(&SourceFile::read(&path).unwrap()).unwrap().words
    }

    fn numbers(text: &str, units: &[&str]) -> Vec<(String, bool)> {
        let readable = readable(text);
        read_figures(&readable, units, &words())
            .into_iter()
            .map(|f| match f.stated {
                Stated::Number { value, unit } => (format!("{value}{unit}"), f.approximate),
                Stated::Date(d) => (d.to_string(), f.approximate),
            })
            .collect()
    }

    #[test]
    fn texts_with_full_width_figures_are_read_normalized() {
        assert!(
            matches!(readable("完成率９８％，"), std::borrow::Cow::Owned(t) if t == "完成率98%,")
        );
        assert!(matches!(readable("１２．５"), std::borrow::Cow::Owned(t) if t == "12.5"));
        // Full-width punctuation alone (EF BC 8C) and a lead byte at the very end leave the text as written.
        assert!(matches!(
            readable("完成，良好"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            readable("采购45件"),
            std::borrow::Cow::Borrowed(_)
        ));
        assert!(matches!(
            readable("ab\u{FF00}"),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn word_characters_are_the_alphanumeric_ones() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            assert_eq!(is_word_char(c), c.is_alphanumeric(), "{c:?}");
        }
    }

    #[test]
    fn figures_are_read_with_their_units_and_approximations() {
        assert_eq!(
            numbers(
                "计划参加3场讲座，参加2次采风活动，完成率达到100%。",
                &["场", "次", "%"]
            ),
            vec![
                ("3场".into(), false),
                ("2次".into(), false),
                ("100%".into(), false)
            ]
        );
        // Years are not durations, codes are not figures, approximations are marked.
        assert_eq!(
            numbers(
                "2024年约5场，CM198硬盘4台，70多场，1.8万余份，10万+作品",
                &["场", "台", "万份", "万"]
            ),
            vec![
                ("5场".into(), true),
                ("4台".into(), false),
                ("1.8万".into(), true),
                ("10万".into(), true)
            ]
        );
        assert_eq!(
            numbers("截至2024年12月31日，项目预计2024年8月31日前完成", &[]),
            vec![("2024-08-31".into(), false)]
        );
        assert_eq!(
            numbers("共计1,400盘磁带", &["盘"]),
            vec![("1400盘".into(), false)]
        );
    }

    fn indicator(name: &str, target: &str, actual: &str) -> Indicator {
        Indicator {
            level1: "产出指标".into(),
            level2: "数量指标".into(),
            name: name.into(),
            weight: None,
            target: Some(Measure::parse(target)),
            actual: Some(Measure::parse(actual)),
            completion_rate: None,
            score: None,
            scoring_rule: None,
            deviation_reason: String::new(),
        }
    }

    fn placed(text: &str, indicators: &[Indicator]) -> Vec<Placement> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy/2024");
        let checks = load(&SourceFile::read(&path.join("evaluation-texts.toml")).unwrap()).unwrap();
        let policy =
            ScoringPolicy::from_toml(&std::fs::read_to_string(path.join("scoring.toml")).unwrap())
                .unwrap();
        let mut report = Report::new(crate::domain::ids::FiscalYear::new(2024).unwrap());
        let checker = Checker {
            checks: &checks,
            policy: &policy,
            report: &mut report,
        };
        let evaluation = Evaluation {
            project: Some("p".into()),
            funds: vec![],
            goal_expected: text.into(),
            goal_actual: String::new(),
            indicators: indicators.to_vec(),
            total_weight: None,
            total_score: None,
        };
        let keys = unit_keys(&policy, &evaluation, Side::Target);
        let units = checker.units(&evaluation, &keys, Side::Target);
        let normalized = normalize(text);
        let mut names = vec![None; indicators.len()];
        read_figures(&normalized, &units, &checks.words)
            .iter()
            .map(|f| checker.place(f, &evaluation, Side::Target, &mut names, &keys))
            .collect()
    }

    #[test]
    fn a_figure_is_placed_where_its_words_name_one_indicator() {
        let indicators = [
            indicator("参加讲座次数", ">=3场", "=3场"),
            indicator("参加采风活动次数", ">=2场", "=2场"),
            indicator("保障部室数量", "=4个", "=4个"),
        ];
        assert_eq!(
            placed("计划参加3场讲座，参加2场采风活动", &indicators),
            vec![Placement::Indicator(0), Placement::Indicator(1)]
        );
        // What is counted after the unit is another thing than the indicator's.
        assert_eq!(
            placed("保障3个人才工作室及一个部室", &indicators),
            vec![Placement::Unsure]
        );
        assert_eq!(
            placed("保障4个部室", &indicators),
            vec![Placement::Indicator(2)]
        );
        // Words that name neither: unsure; a unit no indicator has is not read.
        assert_eq!(placed("举办5场晚会", &indicators), vec![Placement::Unsure]);
        assert_eq!(placed("印制44版特刊", &indicators), vec![]);
    }

    #[test]
    fn one_shared_word_is_not_enough() {
        // "维护" names every maintenance indicator; "5个专业项目进行维护" is not about 场地设备维护数量.
        let indicators = [indicator("场地设备维护数量", ">=2个", "=2个")];
        assert_eq!(
            placed("需要对安装在传媒大厦的5个专业项目进行维护", &indicators),
            vec![Placement::Unsure]
        );
    }

    #[test]
    fn a_total_is_not_a_cost() {
        let indicators = [
            indicator("电视剧购置成本", "<=26万元", "=26万元"),
            indicator("广播剧购置成本", "<=14万元", "=14万元"),
        ];
        assert_eq!(
            placed("广播电视节目购置费总计40万元用于购置电视剧", &indicators),
            vec![Placement::Unsure]
        );
    }
}

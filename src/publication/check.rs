//! Checking a published document (部门决算公开) as the supervising department and the finance bureau do by hand:
//! is every section and table there, are the unit and the year named alike throughout, do the comparison words
//! agree with the figures they compare, do the printed tables balance, does the text agree with the tables, and
//! (given the accepted figures) is every printed figure the accepted one. Each check is PASS, FAIL or UNCERTAIN
//! with its evidence and where it is; what could not be read is listed apart as 未能检查, never counted as passed.
//!
//! Sections are found by their titles whatever their numbering; tables by their titles and headers through the
//! workbook importer (which knows the layouts units print), never by position. The table and narrative checks are
//! the validator's own rules run on the figures read from the document.

use std::{collections::BTreeMap, sync::Arc};

use rust_decimal::Decimal;
use serde::Serialize;

use super::{
    evaluations::ReadEvaluations,
    read::{Content, Format, ReadBlock, ReadDocument},
    with_thousands,
};
use crate::{
    api::convert,
    domain::{
        disclosure::{AmountUnit, Disclosure, NarrativeSection},
        ids::FiscalYear,
        rules::Context,
        submission::resolve,
        taxonomy::{ColumnKind, Taxonomies, Taxonomy, publication::Section},
        validation::{Severity, validate},
    },
    pb, workbook,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Pass,
    Fail,
    Uncertain,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Uncertain => "UNCERTAIN",
        }
    }
}

/// What a check looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Aspect {
    Completeness,
    Naming,
    Wording,
    Tables,
    Narrative,
    Evaluations,
    Accepted,
}

impl Aspect {
    /// As on the wire: completeness, naming, wording, tables, narrative, accepted.
    pub fn key(self) -> &'static str {
        match self {
            Aspect::Completeness => "completeness",
            Aspect::Naming => "naming",
            Aspect::Wording => "wording",
            Aspect::Tables => "tables",
            Aspect::Narrative => "narrative",
            Aspect::Evaluations => "evaluations",
            Aspect::Accepted => "accepted",
        }
    }

    /// From its key.
    pub fn from_key(key: &str) -> Option<Aspect> {
        [
            Aspect::Completeness,
            Aspect::Naming,
            Aspect::Wording,
            Aspect::Tables,
            Aspect::Narrative,
            Aspect::Evaluations,
            Aspect::Accepted,
        ]
        .into_iter()
        .find(|a| a.key() == key)
    }

    pub fn name(self) -> &'static str {
        match self {
            Aspect::Completeness => "完整性",
            Aspect::Naming => "名称与日期",
            Aspect::Wording => "比较用词",
            Aspect::Tables => "报表勾稽",
            Aspect::Narrative => "说明与报表",
            Aspect::Evaluations => "绩效自评表",
            Aspect::Accepted => "与已审核决算",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    pub aspect: Aspect,
    pub outcome: Outcome,
    pub what: String,
    /// The quoted sentence or table row.
    pub evidence: Option<String>,
    /// Where: 第N段, 第N页, 第N个表格.
    pub at: Option<String>,
}

/// Something the checker could not read, and so did not check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unchecked {
    pub what: String,
    pub why: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckReport {
    pub format: Format,
    pub unit_name: Option<String>,
    pub fiscal_year: u32,
    pub checks: Vec<Check>,
    pub unchecked: Vec<Unchecked>,
}

impl CheckReport {
    pub fn count(&self, outcome: Outcome) -> usize {
        self.checks.iter().filter(|c| c.outcome == outcome).count()
    }

    pub fn failed(&self) -> bool {
        self.count(Outcome::Fail) > 0
    }
}

/// The accepted figures a document is checked against.
pub struct Accepted<'a> {
    pub disclosure: &'a Disclosure,
    /// Last year's accepted disclosure, for the changes the text states.
    pub last_year: Option<&'a Disclosure>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckError {
    #[error(
        "states no year in its title (such as 2024年度部门决算): check it against the accepted figures to name it"
    )]
    NoYear,
    #[error("is of {0}, a year without a taxonomy")]
    NoTaxonomy(u32),
    #[error("is of {0}, whose taxonomy has no publication.toml to say what the document holds")]
    NoStructure(u32),
}

/// Longest stretch of text quoted as evidence, in characters.
const EVIDENCE_CHARS: usize = 120;

/// `text` cut to [`EVIDENCE_CHARS`] around byte offset `at` (a sentence, not the whole paragraph).
fn quote(text: &str, at: usize) -> String {
    let at = (0..=at.min(text.len()))
        .rev()
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(0);
    let start = text[..at].rfind(['。', '；', '\n']).map_or(0, |i| {
        i + text[i..].chars().next().map_or(1, char::len_utf8)
    });
    let end = text[at..]
        .find('。')
        .map_or(text.len(), |i| at + i + '。'.len_utf8());
    let sentence = &text[start..end];
    if sentence.chars().count() <= EVIDENCE_CHARS {
        sentence.to_owned()
    } else {
        let cut: String = sentence.chars().take(EVIDENCE_CHARS).collect();
        format!("{cut}…")
    }
}

/// A heading's words without numbering, punctuation, or the trailing 情况说明: "十、其他重要事项的情况说明" and
/// "（十）其他重要事项情况" are both "其他重要事项". 单位 and 部门 are one word here: units title their
/// document either way.
fn title_core(text: &str) -> String {
    let mut s: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && !"“”\"《》<>：:、.．,，()（）[]【】".contains(*c))
        .collect();
    // Numbering: 第一部分, 一, 十二, 1, (一) (the parentheses are gone already).
    if let Some(rest) = s.strip_prefix('第')
        && let Some(i) = rest.find("部分")
        && rest[..i].chars().all(is_numeral)
    {
        s = rest[i + "部分".len()..].to_owned();
    }
    let numbering = s.chars().take_while(|c| is_numeral(*c)).count();
    s = s.chars().skip(numbering).collect();
    s = s.replace("单位", "部门");
    for suffix in ["的情况说明", "情况说明", "的说明", "说明", "情况"] {
        if let Some(stripped) = s.strip_suffix(suffix) {
            s = stripped.to_owned();
            break;
        }
    }
    s
}

fn is_numeral(c: char) -> bool {
    c.is_ascii_digit() || "一二三四五六七八九十".contains(c)
}

/// The unit and the year of a title such as "昌吉州融媒体中心2024年度部门决算".
fn title_of(text: &str) -> Option<(String, u32)> {
    if !text.contains("决算") {
        return None;
    }
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(4)).find_map(|i| {
        let digits = &bytes[i..i + 4];
        if !digits.iter().all(u8::is_ascii_digit) || !text[i + 4..].starts_with('年') {
            return None;
        }
        if i > 0 && bytes[i - 1].is_ascii_digit() {
            return None;
        }
        let year: u32 = text[i..i + 4].parse().ok()?;
        let unit = text[..i].trim().trim_start_matches("关于").trim();
        Some((unit.to_owned(), year))
    })
}

/// A paragraph of the document with its place and index among the blocks.
struct Paragraph<'d> {
    block: usize,
    text: &'d str,
    at: &'d str,
}

/// Where a section of the year's structure was found, and the text under it.
struct Found<'d> {
    at: &'d str,
    text: Vec<&'d Paragraph<'d>>,
}

/// Checks `document`; with `accepted`, also every figure against the accepted version.
pub fn check(
    taxonomies: &Taxonomies,
    document: &ReadDocument,
    accepted: Option<Accepted<'_>>,
) -> Result<CheckReport, CheckError> {
    let paragraphs: Vec<Paragraph<'_>> = document
        .blocks
        .iter()
        .enumerate()
        .filter_map(|(block, b)| match &b.content {
            Content::Paragraph(text) => Some(Paragraph {
                block,
                text,
                at: &b.at,
            }),
            Content::Table(_) => None,
        })
        .collect();
    let title = paragraphs.iter().take(12).find_map(|p| title_of(p.text));
    let year = match (&accepted, &title) {
        (Some(a), _) => a.disclosure.cover.fiscal_year.get(),
        (None, Some((_, year))) => *year,
        (None, None) => return Err(CheckError::NoYear),
    };
    let fiscal_year = FiscalYear::new(year).map_err(|_| CheckError::NoTaxonomy(year))?;
    let taxonomy = taxonomies
        .get(fiscal_year)
        .ok_or(CheckError::NoTaxonomy(year))?
        .clone();
    let structure = taxonomy
        .publication
        .as_ref()
        .ok_or(CheckError::NoStructure(year))?;
    let unit_name = match (&accepted, &title) {
        (Some(a), _) => Some(a.disclosure.cover.unit_name.clone()),
        (None, Some((unit, _))) if !unit.is_empty() => Some(unit.clone()),
        _ => None,
    };
    let mut checker = Checker {
        taxonomies,
        taxonomy: &taxonomy,
        document,
        paragraphs: &paragraphs,
        year,
        unit_name: unit_name.clone(),
        checks: Vec::new(),
        unchecked: Vec::new(),
        evaluation_tables: Vec::new(),
    };
    let evaluation_tables: Vec<&ReadBlock> = document
        .blocks
        .iter()
        .filter(|b| match &b.content {
            // A self-evaluation's title, or (a table continued after a break) its funds or indicators header.
            Content::Table(rows) => rows.iter().take(3).any(|r| {
                let joined = r.concat();
                joined.contains("绩效自评表")
                    || (joined.contains("一级指标") && joined.contains("三级指标"))
                    || (joined.contains("全年预算数") && joined.contains("全年执行数"))
            }),
            Content::Paragraph(_) => false,
        })
        .collect();
    let evaluations = super::evaluations::read(
        &evaluation_tables
            .iter()
            .filter_map(|b| match &b.content {
                Content::Table(rows) => Some(rows),
                Content::Paragraph(_) => None,
            })
            .collect::<Vec<_>>(),
    );
    checker.evaluation_tables = evaluation_tables.iter().map(|b| b.at.clone()).collect();
    checker.title(title.as_ref());
    let sections = checker.sections(structure);
    let tables = checker.tables(accepted.as_ref());
    checker.naming();
    checker.wording();
    checker.narrative(&sections, tables.as_ref(), accepted.as_ref(), evaluations);
    Ok(CheckReport {
        format: document.format,
        unit_name,
        fiscal_year: year,
        checks: checker.checks,
        unchecked: checker.unchecked,
    })
}

struct Checker<'a, 'd> {
    taxonomies: &'a Taxonomies,
    taxonomy: &'a Arc<Taxonomy>,
    document: &'d ReadDocument,
    paragraphs: &'d [Paragraph<'d>],
    year: u32,
    unit_name: Option<String>,
    checks: Vec<Check>,
    unchecked: Vec<Unchecked>,
    /// Where the self-evaluation tables are: read as self-evaluations, not as the nine tables.
    evaluation_tables: Vec<String>,
}

/// The tables read from the document: the disclosure they make and which of the year's tables they are.
struct ReadTables {
    disclosure: Disclosure,
    /// Table index → where it was read.
    read: BTreeMap<usize, String>,
}

impl<'d> Checker<'_, 'd> {
    fn add(
        &mut self,
        aspect: Aspect,
        outcome: Outcome,
        what: impl Into<String>,
        evidence: Option<String>,
        at: Option<&str>,
    ) {
        self.checks.push(Check {
            aspect,
            outcome,
            what: what.into(),
            evidence,
            at: at.map(str::to_owned),
        });
    }

    fn unchecked(&mut self, what: impl Into<String>, why: impl Into<String>) {
        self.unchecked.push(Unchecked {
            what: what.into(),
            why: why.into(),
        });
    }

    fn title(&mut self, title: Option<&(String, u32)>) {
        let Some((unit, year)) = title else {
            self.unchecked("文档标题", "前几段中没有“××单位××××年度部门决算”式的标题");
            return;
        };
        let at = self
            .paragraphs
            .iter()
            .take(12)
            .find(|p| title_of(p.text).is_some())
            .map(|p| p.at);
        let evidence = at
            .and_then(|at| self.paragraphs.iter().find(|p| p.at == at))
            .map(|p| quote(p.text, 0));
        if *year != self.year {
            self.add(
                Aspect::Naming,
                Outcome::Fail,
                format!("标题写{year}年度，决算为{}年度", self.year),
                evidence.clone(),
                at,
            );
        }
        match &self.unit_name {
            Some(name) if unit.is_empty() => self.add(
                Aspect::Naming,
                Outcome::Uncertain,
                format!("标题未写单位名称（应为{name}）"),
                evidence,
                at,
            ),
            Some(name) if !same_name(unit, name) => self.add(
                Aspect::Naming,
                Outcome::Fail,
                format!("标题写单位“{unit}”，决算单位为“{name}”"),
                evidence,
                at,
            ),
            _ => self.add(
                Aspect::Naming,
                Outcome::Pass,
                format!("标题：{unit}{year}年度"),
                evidence,
                at,
            ),
        }
    }

    /// Finds each section of the year's structure by its title; a missing one FAILs.
    fn sections(
        &mut self,
        structure: &crate::domain::taxonomy::publication::Publication,
    ) -> BTreeMap<String, Found<'d>> {
        // Every title the document may have as a heading: parts and sections, each with its narrative key.
        let mut titles: Vec<(String, String, Option<&Section>)> = Vec::new();
        for part in &structure.parts {
            titles.push((title_core(&part.title), part.title.clone(), None));
            for section in part.sections.iter() {
                titles.push((
                    title_core(&section.title),
                    section.title.clone(),
                    Some(section),
                ));
                for sub in &section.subsections {
                    titles.push((title_core(&sub.title), sub.title.clone(), Some(sub)));
                }
            }
        }
        let mut found: BTreeMap<String, Found<'d>> = BTreeMap::new();
        let mut current: Option<String> = None;
        let paragraphs = self.paragraphs;
        for paragraph in paragraphs {
            let heading = (paragraph.text.chars().count() <= 40 && !paragraph.text.ends_with('。'))
                .then(|| {
                    let core = title_core(paragraph.text);
                    titles
                        .iter()
                        .filter(|(title, _, _)| !title.is_empty() && core.contains(title.as_str()))
                        .filter(|(title, _, _)| core.chars().count() <= title.chars().count() + 8)
                        .max_by_key(|(title, _, _)| title.len())
                })
                .flatten();
            match heading {
                Some((_, name, _)) => {
                    let entry = found.entry(name.clone()).or_insert(Found {
                        at: paragraph.at,
                        text: Vec::new(),
                    });
                    // A contents page names the sections before the text does: the heading that has text
                    // under it is the one that counts.
                    if entry.text.is_empty() {
                        entry.at = paragraph.at;
                    }
                    current = Some(name.clone());
                }
                None => {
                    let next_is_table = self
                        .document
                        .blocks
                        .get(paragraph.block + 1)
                        .is_some_and(|b| matches!(b.content, Content::Table(_)));
                    if let Some(name) = &current
                        && !next_is_table
                        && let Some(entry) = found.get_mut(name)
                    {
                        entry.text.push(paragraph);
                    }
                }
            }
        }
        for part in &structure.parts {
            let headings = std::iter::once(&part.title).chain(part.sections.iter().flat_map(|s| {
                std::iter::once(&s.title).chain(s.subsections.iter().map(|t| &t.title))
            }));
            for title in headings {
                if part.evaluations
                    && !found.contains_key(title)
                    && !self.evaluation_tables.is_empty()
                {
                    // Units attach the self-evaluations without a heading of their own.
                    let at = self.evaluation_tables[0].clone();
                    self.add(
                        Aspect::Completeness,
                        Outcome::Pass,
                        format!("有绩效自评表（{}个表格）", self.evaluation_tables.len()),
                        None,
                        Some(&at),
                    );
                    continue;
                }
                match found.get(title) {
                    Some(f) => self.add(
                        Aspect::Completeness,
                        Outcome::Pass,
                        format!("有“{title}”"),
                        None,
                        Some(f.at),
                    ),
                    None => self.add(
                        Aspect::Completeness,
                        Outcome::Fail,
                        format!("缺少“{title}”"),
                        None,
                        None,
                    ),
                }
            }
        }
        // Sections by narrative key, for the narrative checks.
        let mut by_key = BTreeMap::new();
        for section in structure.sections() {
            if let (Some(key), Some(f)) = (&section.narrative, found.remove(&section.title)) {
                by_key.insert(key.clone(), f);
            }
        }
        by_key
    }

    /// Reads the document's tables and checks that each of the year's tables is there (or its empty
    /// statement), then their balances and cross-table identities, and against the accepted figures.
    fn tables(&mut self, accepted: Option<&Accepted<'_>>) -> Option<ReadTables> {
        let taxonomy = self.taxonomy.clone();
        let structure = taxonomy.publication.as_ref()?;
        // Each table with the lines printed above it (title, 编制单位, 金额单位) as its first rows.
        let mut given: Vec<(String, Vec<Vec<String>>)> = Vec::new();
        for (i, block) in self.document.blocks.iter().enumerate() {
            let Content::Table(rows) = &block.content else {
                continue;
            };
            let mut above: Vec<Vec<String>> = self.document.blocks[..i]
                .iter()
                .rev()
                .take(3)
                .map_while(|b| match &b.content {
                    Content::Paragraph(text) if text.chars().count() <= 80 => {
                        Some(vec![text.clone()])
                    }
                    _ => None,
                })
                .collect();
            above.reverse();
            above.extend(rows.iter().cloned());
            given.push((block.at.clone(), above));
        }
        let unit_code = accepted.map_or_else(
            || "DOCUMENT".to_owned(),
            |a| a.disclosure.cover.unit_code.as_str().to_owned(),
        );
        let imported = self.import(&given, &unit_code);
        let read_tables = imported.and_then(|(imported, places)| {
            let mut pb_disclosure = imported.disclosure;
            pb_disclosure.cover.get_or_insert_default().unit_name =
                self.unit_name.clone().unwrap_or_default();
            let draft = convert::disclosure_draft(pb_disclosure).ok()?;
            let (_, disclosure) = resolve(self.taxonomies, draft).ok()?;
            let read = disclosure
                .tables
                .iter()
                .enumerate()
                .filter(|(_, t)| t.is_some())
                .filter_map(|(i, _)| {
                    places
                        .get(&taxonomy.tables[i].code)
                        .map(|at| (i, at.clone()))
                })
                .collect();
            Some(ReadTables { disclosure, read })
        });
        let all_text: String = self
            .paragraphs
            .iter()
            .map(|p| p.text)
            .collect::<Vec<_>>()
            .join("\n");
        let attached = ["见附表", "见附件", "详见附表", "附表"]
            .iter()
            .any(|w| all_text.contains(w));
        for (index, table) in taxonomy.tables.iter().enumerate() {
            if table.section.is_some() {
                continue;
            }
            let name = super::table_title(table);
            if let Some(at) = read_tables.as_ref().and_then(|r| r.read.get(&index)) {
                self.add(
                    Aspect::Completeness,
                    Outcome::Pass,
                    format!("有{name}"),
                    None,
                    Some(at),
                );
                continue;
            }
            let statement = structure.empty_statement(&table.code);
            let says_empty = self.paragraphs.iter().find(|p| {
                p.text.contains(statement)
                    || (p.text.contains("空表") && names_table(&taxonomy, index, p.text))
            });
            match says_empty {
                Some(p) => self.add(
                    Aspect::Completeness,
                    Outcome::Pass,
                    format!("{name}为空表，有说明"),
                    Some(quote(p.text, 0)),
                    Some(p.at),
                ),
                None if attached => self.unchecked(name, "文档说明报表见附表，附表不在本文件中"),
                None => self.add(
                    Aspect::Completeness,
                    Outcome::Fail,
                    format!("缺少{name}（无表，也无空表说明）"),
                    None,
                    None,
                ),
            }
        }
        if let Some(read) = &read_tables {
            self.table_rules(read);
            if let Some(accepted) = accepted {
                self.against(read, accepted.disclosure);
            }
        }
        read_tables
    }

    /// The document's tables through the workbook importer: tables it cannot read are left out (and listed as
    /// 未能检查) and the rest read again. Returns the import and where each table code was read.
    fn import(
        &mut self,
        given: &[(String, Vec<Vec<String>>)],
        unit_code: &str,
    ) -> Option<(workbook::Imported, BTreeMap<String, String>)> {
        if given.is_empty() {
            return None;
        }
        let mut options = workbook::ImportOptions {
            unit_code: Some(unit_code.to_owned()),
            fiscal_year: Some(self.year),
            amount_unit: None,
            from_document: true,
        };
        let mut kept: Vec<(String, Vec<Vec<String>>)> = given.to_vec();
        let mut others: Vec<String> = Vec::new();
        let result = self.import_rounds(given, &mut kept, &mut others, &mut options);
        others.retain(|at| !self.evaluation_tables.contains(at));
        if !others.is_empty() {
            self.unchecked(
                format!("{}个其他表格", others.len()),
                format!(
                    "不是九张报表之一（如绩效自评表），其数字未核对：{}",
                    others
                        .iter()
                        .take(5)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("、")
                        + if others.len() > 5 { "等" } else { "" }
                ),
            );
        }
        result
    }

    fn import_rounds(
        &mut self,
        given: &[(String, Vec<Vec<String>>)],
        kept: &mut Vec<(String, Vec<Vec<String>>)>,
        others: &mut Vec<String>,
        options: &mut workbook::ImportOptions,
    ) -> Option<(workbook::Imported, BTreeMap<String, String>)> {
        // Each round leaves out at least one table, so this ends.
        for _ in 0..=given.len() + 1 {
            match workbook::read_text_tables(self.taxonomies, kept, options) {
                Ok(imported) => {
                    let mut places = BTreeMap::new();
                    for source in &imported.sources {
                        let sheet = source.at.split('!').next().unwrap_or_default();
                        places
                            .entry(source.table.clone())
                            .or_insert_with(|| sheet.to_owned());
                    }
                    return Some((imported, places));
                }
                Err(problems) => {
                    let mut dropped = false;
                    for problem in &problems {
                        let sheet = problem.at.split('!').next().unwrap_or_default();
                        let position = kept.iter().position(|(name, _)| name == sheet);
                        if let Some(i) = position
                            && (problem.reason.contains("none of the year's tables")
                                || self.evaluation_tables.contains(&kept[i].0))
                        {
                            // Not one of the nine (a self-evaluation, a list of projects): counted below.
                            others.push(kept.remove(i).0);
                            dropped = true;
                        } else if let Some(i) = position {
                            self.unchecked(
                                format!("{}的表格", kept[i].0),
                                format!("{}：{}", problem.at, problem.reason),
                            );
                            kept.remove(i);
                            dropped = true;
                        } else if problem.reason.contains("amount unit")
                            && options.amount_unit.is_none()
                        {
                            self.add(
                                Aspect::Tables,
                                Outcome::Uncertain,
                                "报表未写金额单位，按万元读取",
                                None,
                                None,
                            );
                            options.amount_unit = Some(workbook::MoneyUnit::TenThousandYuan);
                            dropped = true;
                        }
                    }
                    if !dropped {
                        for problem in problems {
                            self.unchecked("报表", format!("{}：{}", problem.at, problem.reason));
                        }
                        return None;
                    }
                    if kept.is_empty() {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// The validator's table rules on the figures as printed: each error a FAIL, each warning UNCERTAIN.
    fn table_rules(&mut self, read: &ReadTables) {
        let report = validate(self.taxonomy, &read.disclosure, Context::default());
        let narrative_ids = narrative_ids(self.taxonomy);
        let read_codes: Vec<&str> = read
            .read
            .keys()
            .map(|i| self.taxonomy.tables[*i].code.as_str())
            .collect();
        let mut failed = 0;
        for finding in &report.findings {
            if narrative_ids.contains(&finding.rule_id.as_str())
                || finding.cells.is_empty()
                || !finding
                    .cells
                    .iter()
                    .all(|c| read_codes.contains(&c.table.as_str()))
            {
                continue;
            }
            let Some(outcome) = outcome_of(finding.severity) else {
                continue;
            };
            failed += 1;
            let at = finding
                .cells
                .first()
                .and_then(|c| self.taxonomy.table_index(&c.table))
                .and_then(|i| read.read.get(&i))
                .cloned();
            self.add(
                Aspect::Tables,
                outcome,
                said_by(finding),
                None,
                at.as_deref(),
            );
        }
        if failed == 0 {
            self.add(
                Aspect::Tables,
                Outcome::Pass,
                format!(
                    "印出的{}张表平衡，表间关系成立（{}项检查）",
                    read.read.len(),
                    report.checks_evaluated
                ),
                None,
                None,
            );
        }
    }

    /// Every printed figure against the accepted version's, in the printed precision.
    fn against(&mut self, read: &ReadTables, accepted: &Disclosure) {
        let taxonomy = self.taxonomy.clone();
        let mut differing = 0;
        let mut compared = 0;
        for (&index, at) in &read.read {
            let table = &taxonomy.tables[index];
            let printed = read.disclosure.table(index);
            let kept = accepted.table(index);
            let mut codes: Vec<&String> = printed.iter().flat_map(|t| t.rows.keys()).collect();
            codes.extend(kept.iter().flat_map(|t| t.rows.keys()));
            codes.sort();
            codes.dedup();
            for code in codes {
                for (c, column) in table.columns.iter().enumerate() {
                    let value = |data: Option<&crate::domain::disclosure::TableData>,
                                 scale: bool| {
                        let v = data
                            .and_then(|t| t.rows.get(code))
                            .and_then(|r| r.cells.get(c).copied().flatten())
                            .map(|v| v.decimal())
                            .unwrap_or_default();
                        if scale && column.kind == ColumnKind::Amount {
                            v / Decimal::from(10_000)
                        } else {
                            v
                        }
                    };
                    let places = if matches!(column.kind, ColumnKind::Count | ColumnKind::Change) {
                        0
                    } else {
                        2
                    };
                    let shown = |v: Decimal| crate::domain::money::round_for_display(v, places);
                    let printed_value = shown(value(printed, false));
                    let accepted_value =
                        shown(value(kept, accepted.cover.amount_unit == AmountUnit::Yuan));
                    compared += 1;
                    if printed_value != accepted_value {
                        differing += 1;
                        let row = taxonomy.row_name(table, code).unwrap_or(code);
                        self.add(
                            Aspect::Accepted,
                            Outcome::Fail,
                            format!(
                                "{} · {} · {}：文档印 {}，已审核决算为 {}",
                                super::table_title(table),
                                row,
                                column.name,
                                with_thousands(&printed_value.to_string()),
                                with_thousands(&accepted_value.to_string())
                            ),
                            None,
                            Some(at),
                        );
                    }
                }
            }
        }
        if differing == 0 {
            self.add(
                Aspect::Accepted,
                Outcome::Pass,
                format!("印出的{compared}个表格数与已审核决算一致"),
                None,
                None,
            );
        }
    }

    /// The unit's name in every 编制单位, the year in every 截至…12月31日 and every heading; placeholders and
    /// template alternatives left in the text.
    fn naming(&mut self) {
        let mut names_ok = 0;
        let mut dates_ok = 0;
        let texts: Vec<(String, String)> = self
            .document
            .blocks
            .iter()
            .flat_map(|b| match &b.content {
                Content::Paragraph(text) => vec![(text.clone(), b.at.clone())],
                Content::Table(rows) => rows
                    .iter()
                    .take(4)
                    .map(|row| (row.join(" "), b.at.clone()))
                    .collect(),
            })
            .collect();
        for (text, at) in &texts {
            let mut rest = text.as_str();
            while let Some(i) = rest.find("编制单位") {
                let after = rest[i + "编制单位".len()..].trim_start_matches([':', '：', ' ']);
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '金')
                    .unwrap_or(after.len());
                let named = &after[..end];
                match &self.unit_name {
                    Some(name) if !named.is_empty() && !same_name(named, name) => self.add(
                        Aspect::Naming,
                        Outcome::Fail,
                        format!("编制单位写“{}”，应为“{name}”", excerpt(named)),
                        Some(quote(text, i)),
                        Some(at),
                    ),
                    _ => names_ok += 1,
                }
                rest = &after[end..];
            }
            let mut offset = 0;
            while let Some(i) = text[offset..].find("截至") {
                let start = offset + i;
                let after = &text[start + "截至".len()..];
                if let Some(year) = after.get(..4).and_then(|y| y.parse::<u32>().ok())
                    && after[4..].starts_with("年12月31日")
                {
                    if year == self.year {
                        dates_ok += 1;
                    } else {
                        self.add(
                            Aspect::Naming,
                            Outcome::Fail,
                            format!("截至{year}年12月31日：决算为{}年度", self.year),
                            Some(quote(text, start)),
                            Some(at),
                        );
                    }
                }
                offset = start + "截至".len();
            }
            for placeholder in ["【请填写", "XXX", "xxx", "×××", "＊＊＊", "***"] {
                if let Some(i) = text.find(placeholder) {
                    self.add(
                        Aspect::Naming,
                        Outcome::Fail,
                        "留有未填写的占位符",
                        Some(quote(text, i)),
                        Some(at),
                    );
                    break;
                }
            }
            for (a, b) in ALTERNATIVES {
                for form in [
                    format!("{a}（{b}）"),
                    format!("{a}({b})"),
                    format!("{a}/{b}"),
                    format!("{a}／{b}"),
                ] {
                    if let Some(i) = text.find(&form) {
                        self.add(
                            Aspect::Naming,
                            Outcome::Fail,
                            format!("留有模板的备选用词“{form}”，未选定"),
                            Some(quote(text, i)),
                            Some(at),
                        );
                    }
                }
            }
        }
        if names_ok > 0 {
            self.add(
                Aspect::Naming,
                Outcome::Pass,
                format!("{names_ok}处编制单位与单位名称一致"),
                None,
                None,
            );
        }
        if dates_ok > 0 {
            self.add(
                Aspect::Naming,
                Outcome::Pass,
                format!("{dates_ok}处“截至{}年12月31日”与年度一致", self.year),
                None,
                None,
            );
        }
    }

    /// Comparison words against the figures they compare, sentence by sentence.
    fn wording(&mut self) {
        let mut agreed = 0;
        let paragraphs = self.paragraphs;
        for paragraph in paragraphs {
            for (start, sentence) in sentences(paragraph.text) {
                for finding in compare_words(sentence) {
                    match finding {
                        Word::Agrees => agreed += 1,
                        Word::Disagrees(what, at) => self.add(
                            Aspect::Wording,
                            Outcome::Fail,
                            what,
                            Some(quote(paragraph.text, start + at)),
                            Some(paragraph.at),
                        ),
                        Word::ZeroBase(what, at) => self.add(
                            Aspect::Wording,
                            Outcome::Uncertain,
                            what,
                            Some(quote(paragraph.text, start + at)),
                            Some(paragraph.at),
                        ),
                    }
                }
            }
        }
        self.add(
            Aspect::Wording,
            Outcome::Pass,
            format!("{agreed}处比较用词与所比较的数字一致"),
            None,
            None,
        );
    }

    /// The validator's narrative checks on the document's text, against the accepted tables when given, else the
    /// tables read from the document; without either, only the checks the text answers alone (changes against
    /// their rates, budget variances, parts against their whole).
    fn narrative(
        &mut self,
        sections: &BTreeMap<String, Found<'d>>,
        read: Option<&ReadTables>,
        accepted: Option<&Accepted<'_>>,
        evaluations: ReadEvaluations,
    ) {
        let taxonomy = self.taxonomy.clone();
        let evaluated = evaluations.unit.is_some() || !evaluations.projects.is_empty();
        let narrative: Vec<NarrativeSection> = sections
            .iter()
            .filter(|(_, f)| !f.text.is_empty())
            .map(|(key, f)| NarrativeSection {
                key: key.clone(),
                title: taxonomy
                    .narrative_section(key)
                    .map_or_else(|| key.clone(), |n| n.title.clone()),
                text: f.text.iter().map(|p| p.text).collect::<Vec<_>>().join("\n"),
            })
            .collect();
        if narrative.is_empty() && !evaluated {
            self.unchecked("决算情况说明", "文档中找不到有文字的说明各节");
            return;
        }
        let mut disclosure = match (accepted, read) {
            (Some(a), _) => a.disclosure.clone(),
            (None, Some(r)) => r.disclosure.clone(),
            (None, None) => {
                // No figures to check the text against: a disclosure of the text alone.
                let draft = convert::disclosure_draft(pb::Disclosure {
                    cover: Some(self.document_cover()),
                    narrative: narrative
                        .iter()
                        .map(|n| pb::NarrativeSection {
                            key: n.key.clone(),
                            title: n.title.clone(),
                            text: n.text.clone(),
                        })
                        .collect(),
                    unit_evaluation: evaluations.unit.clone(),
                    project_evaluations: evaluations.projects.clone(),
                    ..Default::default()
                });
                match draft.and_then(|d| resolve(self.taxonomies, d)) {
                    Ok((_, d)) => d,
                    Err(violations) => {
                        self.unchecked(
                            "决算情况说明",
                            violations
                                .first()
                                .map_or_else(String::new, ToString::to_string),
                        );
                        return;
                    }
                }
            }
        };
        if accepted.is_none() && read.is_none() {
            self.unchecked(
                "说明中的数字与报表的核对",
                "文档中没有可读的报表：只核对说明自身的增减额与增减率、预决算差异率和分项之和",
            );
        }
        disclosure.narrative = narrative;
        if evaluated && (accepted.is_some() || read.is_some()) {
            // The document's own self-evaluations, not the accepted version's, are what it is checked on (without
            // any, the accepted ones give the figures its 预算绩效 section states).
            let (unit, projects) = self.converted_evaluations(&evaluations);
            disclosure.unit_evaluation = unit;
            disclosure.project_evaluations = projects;
        }
        let context = Context {
            last_year: accepted.and_then(|a| a.last_year),
            ..Default::default()
        };
        let report = validate(&taxonomy, &disclosure, context);
        let ids = narrative_ids(&taxonomy);
        let mut failed = 0;
        let mut evaluation_findings = 0;
        for finding in &report.findings {
            let about_evaluation = finding.project.is_some()
                || finding.cells.iter().any(|c| c.table.starts_with("EVAL"));
            if about_evaluation && evaluated {
                let Some(outcome) = outcome_of(finding.severity) else {
                    continue;
                };
                evaluation_findings += 1;
                self.add(Aspect::Evaluations, outcome, said_by(finding), None, None);
                continue;
            }
            if !ids.contains(&finding.rule_id.as_str()) {
                continue;
            }
            let section = finding
                .cells
                .iter()
                .find_map(|c| {
                    sections
                        .get(c.row.as_str())
                        .or_else(|| sections.get(c.column.as_str()))
                })
                .or_else(|| {
                    sections
                        .iter()
                        .find(|(key, _)| {
                            taxonomy.narrative_section(key).is_some_and(|n| {
                                finding.message.contains(&format!("「{}", n.title))
                            })
                        })
                        .map(|(_, f)| f)
                });
            let evidence = section.and_then(|s| {
                let provided = finding.provided?;
                let forms = [with_thousands(&provided.to_string()), provided.to_string()];
                s.text.iter().find_map(|p| {
                    forms
                        .iter()
                        .find_map(|f| p.text.find(f.as_str()))
                        .map(|i| (quote(p.text, i), p.at))
                })
            });
            let Some(outcome) = outcome_of(finding.severity) else {
                continue;
            };
            failed += 1;
            self.add(
                Aspect::Narrative,
                outcome,
                said_by(finding),
                evidence.as_ref().map(|(q, _)| q.clone()),
                evidence.map(|(_, at)| at).or(section.map(|s| s.at)),
            );
        }
        if evaluated && evaluation_findings == 0 {
            self.add(
                Aspect::Evaluations,
                Outcome::Pass,
                format!(
                    "{}份绩效自评表的分值、得分和文字与其数字一致",
                    usize::from(evaluations.unit.is_some()) + evaluations.projects.len()
                ),
                None,
                None,
            );
        }
        if failed == 0 && !disclosure.narrative.is_empty() {
            self.add(
                Aspect::Narrative,
                Outcome::Pass,
                format!(
                    "说明中的数字与{}一致（{}节）",
                    if accepted.is_some() {
                        "已审核决算"
                    } else if read.is_some() {
                        "文档中的报表"
                    } else {
                        "其自身"
                    },
                    disclosure.narrative.len()
                ),
                None,
                None,
            );
        }
    }
}

impl Checker<'_, '_> {
    /// The cover of a disclosure made of the document alone: the document's unit and year, in 万元 as printed.
    fn document_cover(&self) -> pb::Cover {
        pb::Cover {
            unit_code: "DOCUMENT".into(),
            unit_name: self.unit_name.clone().unwrap_or_default(),
            fiscal_year: self.year,
            report_type: pb::ReportType::Single as i32,
            amount_unit: pb::AmountUnit::TenThousandYuan as i32,
            ..Default::default()
        }
    }

    /// The document's self-evaluations in the domain's terms (through the same conversion as a submission's).
    fn converted_evaluations(
        &self,
        evaluations: &ReadEvaluations,
    ) -> (
        Option<crate::domain::evaluation::Evaluation>,
        Vec<crate::domain::evaluation::Evaluation>,
    ) {
        if evaluations.unit.is_none() && evaluations.projects.is_empty() {
            return (None, Vec::new());
        }
        let draft = convert::disclosure_draft(pb::Disclosure {
            cover: Some(self.document_cover()),
            unit_evaluation: evaluations.unit.clone(),
            project_evaluations: evaluations.projects.clone(),
            ..Default::default()
        });
        match draft.and_then(|d| resolve(self.taxonomies, d)) {
            Ok((_, d)) => (d.unit_evaluation, d.project_evaluations),
            Err(_) => (None, Vec::new()),
        }
    }
}

/// A validator's finding as a check's outcome: an error FAILs, a warning is UNCERTAIN, a notice is not reported.
fn outcome_of(severity: Severity) -> Option<Outcome> {
    match severity {
        Severity::Error => Some(Outcome::Fail),
        Severity::Warning => Some(Outcome::Uncertain),
        _ => None,
    }
}

/// What a finding says, led by its rule: "NAR-AMOUNT：「收入决算情况说明」写…".
fn said_by(finding: &crate::domain::validation::Finding) -> String {
    format!("{}：{}", finding.rule_id, finding.message)
}

/// Words a template offers as alternatives, of which the writer must keep one.
const ALTERNATIVES: [(&str, &str); 6] = [
    ("增加", "减少"),
    ("增长", "下降"),
    ("上升", "下降"),
    ("大于", "小于"),
    ("高于", "低于"),
    ("节约", "超支"),
];

fn narrative_ids(taxonomy: &Taxonomy) -> Vec<&str> {
    taxonomy
        .rules
        .narrative
        .as_ref()
        .map(|n| n.kinds().iter().map(|k| k.id.as_str()).collect())
        .unwrap_or_default()
}

/// Whether `text` names table `index` by its name or short name, and not only as part of a longer table's name
/// ("支出决算表" inside "政府性基金预算财政拨款收入支出决算表" names the longer one).
fn names_table(taxonomy: &Taxonomy, index: usize, text: &str) -> bool {
    let table = &taxonomy.tables[index];
    // What may stand before a table's name: the start, punctuation, or a word that is not part of a name.
    let starts_a_name = |start: usize| {
        text[..start]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric()) || "《“本无的该此即故为和及与".contains(c))
    };
    std::iter::once(&table.name)
        .chain(&table.aliases)
        .filter(|name| !name.is_empty())
        .any(|name| {
            text.match_indices(name.as_str())
                .any(|(start, _)| starts_a_name(start))
        })
}

/// Two spellings of a unit's name: equal once spaces and the parentheses' width are set aside.
fn same_name(a: &str, b: &str) -> bool {
    let plain = |s: &str| -> String {
        s.chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '（' => '(',
                '）' => ')',
                c => c,
            })
            .collect()
    };
    plain(a) == plain(b)
}

fn excerpt(text: &str) -> String {
    crate::domain::money::excerpt(text)
}

/// The sentences of a paragraph with their byte offsets.
fn sentences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(c, '。' | '；' | ';') {
            out.push((start, &text[start..i]));
            start = i + c.len_utf8();
        }
    }
    if start < text.len() {
        out.push((start, &text[start..]));
    }
    out
}

/// What a comparison word says against its figures.
#[derive(Debug, PartialEq)]
enum Word {
    Agrees,
    /// What disagrees, and the byte offset in the sentence.
    Disagrees(String, usize),
    /// A rate stated on a zero base.
    ZeroBase(String, usize),
}

/// The first figure (digits, commas, a point, a sign) in `text`, with its byte range.
fn figure_in(text: &str) -> Option<(Decimal, usize, usize)> {
    let start = text.find(|c: char| c.is_ascii_digit() || c == '-')?;
    let end = text[start..]
        .find(|c: char| !(c.is_ascii_digit() || c == ',' || c == '.' || c == '-'))
        .map_or(text.len(), |e| start + e);
    let number: String = text[start..end].chars().filter(|c| *c != ',').collect();
    let number = number.trim_end_matches('.');
    number.parse().ok().map(|v| (v, start, end))
}

/// The figure right after `word` (within a few characters), and the byte offset of `word`.
fn figure_after(sentence: &str, word: &str) -> Option<(Decimal, usize)> {
    let i = sentence.find(word)?;
    let after = &sentence[i + word.len()..];
    let (value, start, _) = figure_in(after)?;
    (after[..start].chars().count() <= 4).then_some((value, i))
}

/// The comparison words of one sentence against its figures:
/// - 决算数 against 预算数 called 大于 / 小于 / 等于 / 持平 (and synonyms);
/// - a change called 增加 with a rate called 下降 (or the other way round);
/// - 持平 beside a change that is not zero;
/// - a rate of change on a zero base (a figure that grew by all of itself).
fn compare_words(sentence: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let budget = figure_after(sentence, "预算数").or_else(|| figure_after(sentence, "预算"));
    let actual = figure_after(sentence, "决算数");
    if let (Some((budget, _)), Some((actual, _))) = (budget, actual) {
        let words: [(&str, std::cmp::Ordering); 8] = [
            ("大于", std::cmp::Ordering::Greater),
            ("高于", std::cmp::Ordering::Greater),
            ("超过", std::cmp::Ordering::Greater),
            ("小于", std::cmp::Ordering::Less),
            ("低于", std::cmp::Ordering::Less),
            ("少于", std::cmp::Ordering::Less),
            ("等于", std::cmp::Ordering::Equal),
            ("持平", std::cmp::Ordering::Equal),
        ];
        if let Some((word, ordering, at)) = words
            .iter()
            .find_map(|(w, o)| sentence.find(w).map(|at| (*w, *o, at)))
        {
            if actual.cmp(&budget) == ordering {
                out.push(Word::Agrees);
            } else {
                out.push(Word::Disagrees(
                    format!(
                        "决算数{}与预算数{}相比，说“{word}”",
                        with_thousands(&actual.to_string()),
                        with_thousands(&budget.to_string())
                    ),
                    at,
                ));
            }
        }
    }
    let amount_word = ["增加", "减少"]
        .iter()
        .filter_map(|w| figure_after(sentence, w).map(|(v, at)| (*w, v, at)))
        .min_by_key(|(_, _, at)| *at);
    let rate_word = ["增长", "下降"]
        .iter()
        .filter_map(|w| figure_after(sentence, w).map(|(v, at)| (*w, v, at)))
        .min_by_key(|(_, _, at)| *at);
    if let (Some((amount, change, _)), Some((rate, rate_value, at))) = (amount_word, rate_word) {
        let agrees = (amount == "增加") == (rate == "增长");
        if agrees || change.is_zero() || rate_value.is_zero() {
            out.push(Word::Agrees);
        } else {
            out.push(Word::Disagrees(
                format!("增减额说“{amount}”，增减率说“{rate}”"),
                at,
            ));
        }
        // "决算数为A万元，…增加A万元，增长100%": last year was nothing.
        let this_year = figure_after(sentence, "决算数为")
            .or_else(|| figure_after(sentence, "支出"))
            .map(|(v, _)| v);
        if amount == "增加" && !change.is_zero() && this_year == Some(change) {
            out.push(Word::ZeroBase(
                format!("上年为零，增长率{rate_value}%无从计算"),
                at,
            ));
        }
    }
    if let Some(at) = sentence.find("持平")
        && let Some((word, change, _)) = amount_word
        && !change.is_zero()
    {
        out.push(Word::Disagrees(
            format!("说“持平”，却{word}{}", with_thousands(&change.to_string())),
            at,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_are_matched_whatever_their_numbering() {
        assert_eq!(title_core("十、其他重要事项的情况说明"), "其他重要事项");
        assert_eq!(title_core("（十）其他重要事项情况"), "其他重要事项");
        assert_eq!(title_core("第一部分 单位概况"), "部门概况");
        assert_eq!(title_core("第一部分 部门概况"), "部门概况");
        assert_eq!(
            title_core("九、财政拨款“三公”经费支出决算情况说明"),
            "财政拨款三公经费支出决算"
        );
    }

    #[test]
    fn the_title_names_the_unit_and_the_year() {
        assert_eq!(
            title_of("昌吉州融媒体中心2024年度部门决算"),
            Some(("昌吉州融媒体中心".to_owned(), 2024))
        );
        assert_eq!(title_of("2024年度部门决算"), Some((String::new(), 2024)));
        assert_eq!(title_of("第一部分 部门概况"), None);
    }

    #[test]
    fn comparison_words_must_agree_with_their_figures() {
        assert_eq!(
            compare_words("全年预算数10.00万元，决算数8.00万元，决算数小于预算数"),
            [Word::Agrees]
        );
        assert!(matches!(
            compare_words("全年预算数10.00万元，决算数8.00万元，决算数大于预算数")[..],
            [Word::Disagrees(..)]
        ));
        assert!(matches!(
            compare_words("比上年增加5.00万元，下降3.00%")[..],
            [Word::Disagrees(..)]
        ));
        assert_eq!(
            compare_words("比上年减少5.00万元，下降3.00%"),
            [Word::Agrees]
        );
        assert!(
            compare_words("支出决算数为5.00万元，比上年决算增加5.00万元，增长100.00%")
                .iter()
                .any(|w| matches!(w, Word::ZeroBase(..)))
        );
        assert!(
            compare_words("与上年持平，增加3.00万元")
                .iter()
                .any(|w| matches!(w, Word::Disagrees(..)))
        );
    }

    #[test]
    fn evidence_is_the_sentence_around_the_figure() {
        let text = "第一句。本年收入8,190.84万元，其中：财政拨款收入7,070.64万元。第三句。";
        let at = text.find("7,070").unwrap();
        assert_eq!(
            quote(text, at),
            "本年收入8,190.84万元，其中：财政拨款收入7,070.64万元。"
        );
    }
}

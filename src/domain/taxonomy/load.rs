//! Reading a taxonomy directory. Every problem is reported with the file, the line and column, and what is wrong,
//! so that whoever edits the data can fix it without reading code.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    fmt,
    ops::Range,
    path::{Path, PathBuf},
};

use serde::Deserialize;
use toml::Spanned;

use super::{
    CodeEntry, CodeList, CodeRows, ColumnDef, ColumnKind, LineDef, NarrativeDef, TableDef,
    Taxonomies, Taxonomy, files::TaxonomyFiles,
};
use crate::domain::{disclosure::SECTIONS, ids::FiscalYear, rules::RuleSet};

/// A taxonomy file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct TaxonomyError {
    pub file: PathBuf,
    /// 1-based line and column, when the problem has a place in the file.
    pub position: Option<(usize, usize)>,
    pub message: String,
}

impl fmt::Display for TaxonomyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some((line, column)) => write!(
                f,
                "{}:{line}:{column}: {}",
                self.file.display(),
                self.message
            ),
            None => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// A file's text, kept to turn byte offsets into lines and columns.
pub(crate) struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    /// Reads a file from disk (tests; the loader reads through `TaxonomyFiles`).
    #[cfg(test)]
    pub fn read(path: &Path) -> Result<SourceFile, TaxonomyError> {
        let text = std::fs::read_to_string(path).map_err(|e| TaxonomyError {
            file: path.to_owned(),
            position: None,
            message: format!("cannot read: {e}"),
        })?;
        Ok(SourceFile {
            path: path.to_owned(),
            text,
        })
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn position(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }

    pub fn error_at(&self, span: Range<usize>, message: impl Into<String>) -> TaxonomyError {
        TaxonomyError {
            file: self.path.clone(),
            position: Some(self.position(span.start)),
            message: message.into(),
        }
    }

    pub fn error_at_line(&self, line: usize, message: impl Into<String>) -> TaxonomyError {
        TaxonomyError {
            file: self.path.clone(),
            position: Some((line, 1)),
            message: message.into(),
        }
    }

    pub fn error(&self, message: impl Into<String>) -> TaxonomyError {
        TaxonomyError {
            file: self.path.clone(),
            position: None,
            message: message.into(),
        }
    }

    pub fn parse_toml<T: serde::de::DeserializeOwned>(&self) -> Result<T, TaxonomyError> {
        toml::from_str(&self.text).map_err(|e| TaxonomyError {
            file: self.path.clone(),
            position: e.span().map(|span| self.position(span.start)),
            message: e.message().trim().to_owned(),
        })
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTaxonomy {
    fiscal_year: Spanned<u32>,
    name: String,
    /// The year whose files and declarations this year takes where it has none of its own.
    extends: Option<Spanned<u32>>,
    code_lists: Option<BTreeMap<String, RawCodeList>>,
    /// Changes to inherited code lists: list key → a file of "+ code name", "- code", "~ code name" lines.
    #[serde(default)]
    code_list_changes: BTreeMap<String, Spanned<String>>,
    narrative: Option<Vec<RawNarrative>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeList {
    file: Spanned<String>,
    name: String,
    levels: Spanned<Vec<usize>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNarrative {
    key: Spanned<String>,
    title: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTables {
    tables: Vec<RawTable>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    code: Spanned<String>,
    name: String,
    #[serde(default)]
    aliases: Vec<Spanned<String>>,
    /// Other titles the printed table goes by (部门收支总表 …), for recognising it in a workbook.
    #[serde(default)]
    titles: Vec<String>,
    /// Printed totals of lines kept (收入总计 of 公开04): read and listed, not kept.
    #[serde(default)]
    sums: Vec<String>,
    codes: Option<Spanned<RawCodeRows>>,
    columns: Vec<RawColumn>,
    #[serde(default)]
    lines: Vec<RawLine>,
    section: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCodeRows {
    list: String,
    levels: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawColumn {
    code: Spanned<String>,
    name: String,
    kind: Spanned<String>,
    #[serde(default)]
    aliases: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine {
    code: Spanned<String>,
    name: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, Spanned<String>>,
}

/// Loads every year directory of a taxonomy tree.
pub(super) fn load_all(files: &TaxonomyFiles) -> Result<Taxonomies, TaxonomyError> {
    let root = files.root();
    let mut year_dirs = Vec::new();
    for name in files.list(root) {
        let path = root.join(&name);
        if files.is_dir(&path) && name.len() == 4 && name.bytes().all(|b| b.is_ascii_digit()) {
            year_dirs.push((name.parse::<u32>().expect("four digits"), path));
        }
    }
    if year_dirs.is_empty() {
        return Err(TaxonomyError {
            file: root.to_owned(),
            position: None,
            message: "no fiscal-year directory (such as 2024/) found".into(),
        });
    }
    year_dirs.sort();
    let taxonomies = year_dirs
        .into_iter()
        .map(|(year, dir)| load_year(files, year, &dir))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Taxonomies::from_taxonomies(taxonomies))
}

/// The directories a year's files are looked up in: its own first, then those of the years it extends.
#[derive(Debug, Clone)]
pub(crate) struct Sources<'a> {
    pub files: &'a TaxonomyFiles,
    pub dirs: Vec<PathBuf>,
}

impl Sources<'_> {
    /// The first of the directories that has the file.
    pub fn find(&self, relative: &str) -> Option<PathBuf> {
        self.dirs
            .iter()
            .map(|d| d.join(relative))
            .find(|p| self.files.exists(p))
    }

    /// A file of the tree (a path `find` or `require` gave).
    pub fn read(&self, path: &Path) -> Result<SourceFile, TaxonomyError> {
        self.files.read(path)
    }

    /// Like `find`, but a missing file is an error naming where it was looked for.
    pub fn require(&self, relative: &str) -> Result<PathBuf, TaxonomyError> {
        self.find(relative).ok_or_else(|| TaxonomyError {
            file: self.dirs[0].join(relative),
            position: None,
            message: if self.dirs.len() > 1 {
                format!(
                    "missing here and in the years it extends ({})",
                    self.dirs.len() - 1
                )
            } else {
                "missing".to_owned()
            },
        })
    }

    /// The `*.<extension>` files of a subdirectory across the chain, by file name: a year's own file replaces an
    /// extended year's file of the same name. In file-name order.
    pub fn files(
        &self,
        subdirectory: &str,
        extension: &str,
    ) -> Result<Vec<(String, PathBuf)>, TaxonomyError> {
        let mut by_name: BTreeMap<String, PathBuf> = BTreeMap::new();
        for dir in self.dirs.iter().rev() {
            let path = dir.join(subdirectory);
            for name in self.files.list(&path) {
                let file = path.join(&name);
                if file.extension().is_some_and(|ext| ext == extension) && !self.files.is_dir(&file)
                {
                    by_name.insert(name, file);
                }
            }
        }
        Ok(by_name.into_iter().collect())
    }
}

/// A year's `taxonomy.toml` and those of the years it extends, own first.
fn read_chain(
    files: &TaxonomyFiles,
    dir_year: u32,
    dir: &Path,
) -> Result<Vec<(SourceFile, RawTaxonomy)>, TaxonomyError> {
    let mut chain: Vec<(SourceFile, RawTaxonomy)> = Vec::new();
    let mut year = dir_year;
    let mut current = dir.to_owned();
    loop {
        let file = files.read(&current.join("taxonomy.toml"))?;
        let raw: RawTaxonomy = file.parse_toml()?;
        if *raw.fiscal_year.get_ref() != year {
            return Err(file.error_at(
                raw.fiscal_year.span(),
                format!(
                    "fiscal_year is {} but the directory is {year}/",
                    raw.fiscal_year.get_ref()
                ),
            ));
        }
        let extends = raw.extends.as_ref().map(|e| (*e.get_ref(), e.span()));
        chain.push((file, raw));
        let Some((parent, span)) = extends else {
            return Ok(chain);
        };
        let (file, _) = chain.last().expect("just pushed");
        if chain
            .iter()
            .any(|(_, r)| *r.fiscal_year.get_ref() == parent)
        {
            let years: Vec<String> = chain
                .iter()
                .map(|(_, r)| r.fiscal_year.get_ref().to_string())
                .collect();
            return Err(file.error_at(
                span,
                format!("extends makes a cycle: {} → {parent}", years.join(" → ")),
            ));
        }
        let next = current.parent().map(|root| root.join(parent.to_string()));
        match next {
            Some(next) if files.exists(&next.join("taxonomy.toml")) => {
                year = parent;
                current = next;
            }
            _ => {
                return Err(file.error_at(
                    span,
                    format!("extends {parent}, but there is no {parent}/ taxonomy beside it"),
                ));
            }
        }
    }
}

/// Loads one `<root>/<year>/` directory.
pub(super) fn load_year(
    files: &TaxonomyFiles,
    dir_year: u32,
    dir: &Path,
) -> Result<Taxonomy, TaxonomyError> {
    let chain = read_chain(files, dir_year, dir)?;
    let sources = Sources {
        files,
        dirs: chain
            .iter()
            .map(|(file, _)| {
                file.path
                    .parent()
                    .expect("a file in a directory")
                    .to_owned()
            })
            .collect(),
    };
    let (main, raw) = &chain[0];
    let fiscal_year = FiscalYear::new(dir_year)
        .map_err(|e| main.error_at(raw.fiscal_year.span(), e.to_string()))?;

    // Declarations a year does not make are those of the nearest year it extends that makes them.
    let (lists_file, raw_lists) = chain
        .iter()
        .find_map(|(file, raw)| raw.code_lists.as_ref().map(|lists| (file, lists)))
        .map_or((main, None), |(file, lists)| (file, Some(lists)));
    let mut code_lists = BTreeMap::new();
    for (key, list) in raw_lists.into_iter().flatten() {
        let loaded = load_code_list(lists_file, &sources, key, list)?;
        code_lists.insert(key.clone(), loaded);
    }
    for (key, changes) in &raw.code_list_changes {
        let Some(list) = code_lists.get_mut(key) else {
            return Err(main.error_at(changes.span(), format!("no code list \"{key}\" to change")));
        };
        let path = sources
            .require(changes.get_ref())
            .map_err(|e| main.error_at(changes.span(), e.to_string()))?;
        apply_code_changes(&sources.read(&path)?, list)?;
    }

    let (narrative_file, raw_narrative) = chain
        .iter()
        .find_map(|(file, raw)| raw.narrative.as_ref().map(|n| (file, n)))
        .map_or((main, None), |(file, n)| (file, Some(n)));
    let mut narrative = Vec::new();
    let mut narrative_keys = HashSet::new();
    for section in raw_narrative.into_iter().flatten() {
        if !narrative_keys.insert(section.key.get_ref().clone()) {
            return Err(narrative_file.error_at(
                section.key.span(),
                format!(
                    "narrative section \"{}\" is defined twice",
                    section.key.get_ref()
                ),
            ));
        }
        narrative.push(NarrativeDef {
            key: section.key.get_ref().clone(),
            title: section.title.clone(),
        });
    }

    let tables_file = sources.read(&sources.require("tables.toml")?)?;
    let raw_tables: RawTables = tables_file.parse_toml()?;
    let (tables, table_lookup) = load_tables(&tables_file, raw_tables, &code_lists)?;

    let scoring = RuleSet::load_scoring(&sources)?;
    let mut taxonomy = Taxonomy {
        fiscal_year,
        name: raw.name.clone(),
        dir: dir.to_owned(),
        sources: sources.dirs.clone(),
        code_lists,
        tables,
        narrative,
        rules: RuleSet::placeholder(scoring.clone()),
        eliminations: None,
        publication: None,
        table_lookup,
    };
    // Rules name tables, rows and columns, so they are compiled against the layouts loaded above.
    taxonomy.rules = RuleSet::load(&taxonomy, &sources, scoring)?;
    taxonomy.eliminations = super::eliminations::load(&taxonomy, &sources)?;
    taxonomy.publication = super::publication::load(&taxonomy, &sources)?;
    Ok(taxonomy)
}

/// Applies a changes file to a code list: "+<TAB>code<TAB>name" adds, "-<TAB>code[<TAB>replacement]" removes
/// (with its descendants' absence checked; the replacement, when given, must be listed once every change is
/// applied), "~<TAB>code<TAB>name" renames, ">"<TAB>old<TAB>new<TAB>name" moves a code (removes the old, adds the
/// new with its name, the old replaced by the new).
fn apply_code_changes(file: &SourceFile, list: &mut CodeList) -> Result<(), TaxonomyError> {
    let mut replacements: Vec<(usize, String, String)> = Vec::new();
    for (index, line) in file.text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('\t');
        let (op, code) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("").trim(),
        );
        let name = parts.next().map(str::trim).unwrap_or("");
        let Some(level) = list.level_of_shape(code) else {
            return Err(file.error_at_line(
                line_no,
                format!("\"{code}\" is not a code of {:?} digits", list.level_digits),
            ));
        };
        match op {
            "+" => {
                if name.is_empty() {
                    return Err(
                        file.error_at_line(line_no, format!("code {code} is added without a name"))
                    );
                }
                if let Some(parent) = list.parent_of(code)
                    && !list.contains(parent)
                {
                    return Err(file.error_at_line(
                        line_no,
                        format!("code {code} is added without its parent {parent}"),
                    ));
                }
                let entry = CodeEntry {
                    name: name.to_owned(),
                    level,
                };
                if !list.insert(code, entry) {
                    return Err(file.error_at_line(
                        line_no,
                        format!("code {code} is added but already listed"),
                    ));
                }
            }
            "-" | ">" => {
                if !list.remove(code) {
                    return Err(file
                        .error_at_line(line_no, format!("code {code} is removed but not listed")));
                }
                let replacement = (!name.is_empty()).then_some(name);
                if let Some(replacement) = replacement {
                    replacements.push((line_no, code.to_owned(), replacement.to_owned()));
                }
                list.mark_removed(code, replacement);
                if op == ">" {
                    let new_name = parts.next().map(str::trim).unwrap_or("");
                    let (Some(new_level), false) = (list.level_of_shape(name), new_name.is_empty())
                    else {
                        return Err(file.error_at_line(
                            line_no,
                            format!("a move of {code} is \">\"<TAB>old<TAB>new<TAB>new name"),
                        ));
                    };
                    if !list.contains(name) {
                        list.insert(
                            name,
                            CodeEntry {
                                name: new_name.to_owned(),
                                level: new_level,
                            },
                        );
                    }
                }
                if let Some((child, _)) = list
                    .entries()
                    .range(code.to_owned()..)
                    .find(|(c, _)| c.starts_with(code))
                {
                    return Err(file.error_at_line(
                        line_no,
                        format!("code {code} is removed but {child} under it is not"),
                    ));
                }
            }
            "~" => {
                if name.is_empty() && list.contains(code) {
                    return Err(file
                        .error_at_line(line_no, format!("code {code} is renamed without a name")));
                }
                if !list.rename(code, name) {
                    return Err(file
                        .error_at_line(line_no, format!("code {code} is renamed but not listed")));
                }
            }
            other => {
                return Err(file.error_at_line(
                    line_no,
                    format!(
                        "\"{other}\" is not a change: start the line with +, -, ~ or > and a TAB"
                    ),
                ));
            }
        }
    }
    for (line_no, code, replacement) in replacements {
        if !list.contains(&replacement) {
            return Err(file.error_at_line(
                line_no,
                format!("code {code} is replaced by {replacement}, which is not listed"),
            ));
        }
    }
    Ok(())
}

fn load_code_list(
    main: &SourceFile,
    sources: &Sources,
    key: &str,
    raw: &RawCodeList,
) -> Result<CodeList, TaxonomyError> {
    let levels = raw.levels.get_ref();
    if levels.is_empty() || levels.windows(2).any(|w| w[0] >= w[1]) || levels[0] == 0 {
        return Err(main.error_at(
            raw.levels.span(),
            "levels must be increasing digit counts, such as [3, 5, 7]",
        ));
    }
    let file = sources
        .require(raw.file.get_ref())
        .and_then(|path| sources.read(&path))
        .map_err(|e| main.error_at(raw.file.span(), e.to_string()))?;
    let mut list = CodeList::new(key.to_owned(), raw.name.clone(), levels.clone());
    for (index, line) in file.text.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((code, name)) = line.split_once('\t') else {
            return Err(file.error_at_line(line_no, "expected code<TAB>name"));
        };
        let code = code.trim();
        let name = name.trim();
        let Some(level) = list.level_of_shape(code) else {
            return Err(file.error_at_line(
                line_no,
                format!("\"{code}\" is not a code of {:?} digits", list.level_digits),
            ));
        };
        if name.is_empty() {
            return Err(file.error_at_line(line_no, format!("code {code} has no name")));
        }
        if let Some(parent) = list.parent_of(code)
            && !list.contains(parent)
        {
            return Err(file.error_at_line(
                line_no,
                format!("code {code} comes before (or without) its parent {parent}"),
            ));
        }
        let entry = CodeEntry {
            name: name.to_owned(),
            level,
        };
        if !list.insert(code, entry) {
            return Err(file.error_at_line(line_no, format!("code {code} is listed twice")));
        }
    }
    if list.entries().is_empty() {
        return Err(file.error("the code list is empty"));
    }
    Ok(list)
}

fn load_tables(
    file: &SourceFile,
    raw: RawTables,
    code_lists: &BTreeMap<String, CodeList>,
) -> Result<(Vec<TableDef>, HashMap<String, usize>), TaxonomyError> {
    let mut tables = Vec::new();
    let mut lookup: HashMap<String, usize> = HashMap::new();
    let mut sections_seen = HashSet::new();
    for raw_table in raw.tables {
        let index = tables.len();
        let code = raw_table.code.get_ref().clone();
        if code.is_empty() || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(file.error_at(
                raw_table.code.span(),
                "a table code is ASCII letters, digits and '_'",
            ));
        }
        for name in std::iter::once(&raw_table.code).chain(&raw_table.aliases) {
            if let Some(&other) = lookup.get(name.get_ref()) {
                let other: &TableDef = &tables[other];
                return Err(file.error_at(
                    name.span(),
                    format!("\"{}\" already names table {}", name.get_ref(), other.code),
                ));
            }
            lookup.insert(name.get_ref().clone(), index);
        }

        let mut columns: Vec<ColumnDef> = Vec::new();
        for column in raw_table.columns {
            let Some(kind) = ColumnKind::parse(column.kind.get_ref()) else {
                return Err(file.error_at(
                    column.kind.span(),
                    format!(
                        "unknown column kind \"{}\" (amount, area, count, change or percent)",
                        column.kind.get_ref()
                    ),
                ));
            };
            if columns.iter().any(|c| &c.code == column.code.get_ref()) {
                return Err(file.error_at(
                    column.code.span(),
                    format!(
                        "column \"{}\" is defined twice in {code}",
                        column.code.get_ref()
                    ),
                ));
            }
            columns.push(ColumnDef {
                code: column.code.into_inner(),
                name: column.name,
                kind,
                aliases: column.aliases,
            });
        }
        if columns.is_empty() {
            return Err(file.error_at(
                raw_table.code.span(),
                format!("table {code} has no columns"),
            ));
        }

        let codes = match raw_table.codes {
            None => None,
            Some(spanned) => {
                let span = spanned.span();
                let rows = spanned.into_inner();
                let Some(list) = code_lists.get(&rows.list) else {
                    return Err(file.error_at(
                        span,
                        format!("unknown code list \"{}\" (see taxonomy.toml)", rows.list),
                    ));
                };
                if rows.levels.is_empty()
                    || rows
                        .levels
                        .iter()
                        .any(|&l| l == 0 || l as usize > list.level_digits.len())
                {
                    return Err(file.error_at(
                        span,
                        format!(
                            "levels must be between 1 and {} for code list \"{}\"",
                            list.level_digits.len(),
                            rows.list
                        ),
                    ));
                }
                Some(CodeRows {
                    list: rows.list,
                    levels: rows.levels,
                })
            }
        };

        let section = raw_table.section.as_ref().map(|s| s.get_ref().clone());
        let section_fields: Option<&[&str]> = match &raw_table.section {
            None => None,
            Some(spanned) => {
                let Some(known) = SECTIONS.iter().find(|s| s.name == spanned.get_ref()) else {
                    let names: Vec<&str> = SECTIONS.iter().map(|s| s.name).collect();
                    return Err(file.error_at(
                        spanned.span(),
                        format!(
                            "unknown section \"{}\" (one of: {})",
                            spanned.get_ref(),
                            names.join(", ")
                        ),
                    ));
                };
                if !sections_seen.insert(known.name) {
                    return Err(file.error_at(
                        spanned.span(),
                        format!("section \"{}\" is mapped by two tables", known.name),
                    ));
                }
                if codes.is_some() {
                    return Err(
                        file.error_at(spanned.span(), "a section table cannot have code-list rows")
                    );
                }
                Some(known.fields)
            }
        };

        let mut lines: Vec<LineDef> = Vec::new();
        let mut mapped_fields: HashSet<String> = HashSet::new();
        for line in raw_table.lines {
            let line_code = line.code.get_ref();
            if line_code.is_empty()
                || line_code.bytes().all(|b| b.is_ascii_digit())
                || !line_code
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(file.error_at(
                    line.code.span(),
                    "a line code is lowercase ASCII letters, digits and '_', and not all digits (digits are classification codes)",
                ));
            }
            if lines.iter().any(|l| &l.code == line_code) {
                return Err(file.error_at(
                    line.code.span(),
                    format!("line \"{line_code}\" is defined twice in {code}"),
                ));
            }
            let mut fields = Vec::new();
            for (column_code, field) in line.fields {
                let Some(fields_allowed) = section_fields else {
                    return Err(
                        file.error_at(field.span(), "fields are only for tables with a section")
                    );
                };
                let Some(column_index) = columns.iter().position(|c| c.code == column_code) else {
                    return Err(file.error_at(
                        field.span(),
                        format!("table {code} has no column \"{column_code}\""),
                    ));
                };
                if !fields_allowed.contains(&field.get_ref().as_str()) {
                    return Err(file.error_at(
                        field.span(),
                        format!(
                            "section \"{}\" has no field \"{}\" (fields: {})",
                            section.as_deref().unwrap_or_default(),
                            field.get_ref(),
                            fields_allowed.join(", ")
                        ),
                    ));
                }
                if !mapped_fields.insert(field.get_ref().clone()) {
                    return Err(file.error_at(
                        field.span(),
                        format!("field \"{}\" is mapped twice", field.get_ref()),
                    ));
                }
                fields.push((column_index, field.into_inner()));
            }
            lines.push(LineDef {
                code: line.code.into_inner(),
                name: line.name,
                aliases: line.aliases,
                fields,
            });
        }
        if let (Some(fields_allowed), Some(spanned)) = (section_fields, &raw_table.section) {
            // Every field of the section must land in a cell, or submitted data would be silently dropped.
            let unmapped: Vec<&str> = fields_allowed
                .iter()
                .copied()
                .filter(|f| !mapped_fields.contains(*f))
                .collect();
            if !unmapped.is_empty() {
                return Err(file.error_at(
                    spanned.span(),
                    format!(
                        "fields of section \"{}\" not mapped to any cell: {}",
                        spanned.get_ref(),
                        unmapped.join(", ")
                    ),
                ));
            }
        }
        if lines.is_empty() && codes.is_none() {
            return Err(file.error_at(
                raw_table.code.span(),
                format!("table {code} has neither lines nor code rows"),
            ));
        }

        tables.push(TableDef {
            code,
            name: raw_table.name,
            aliases: raw_table
                .aliases
                .into_iter()
                .map(Spanned::into_inner)
                .collect(),
            titles: raw_table.titles,
            sums: raw_table.sums,
            columns,
            lines,
            codes,
            section,
        });
    }
    Ok((tables, lookup))
}

/// Loads `dir` (a year directory) the way the service loads a `--taxonomy-dir`.
#[cfg(test)]
fn load_year_on_disk(year: u32, dir: &Path) -> Result<Taxonomy, TaxonomyError> {
    let files = TaxonomyFiles::read_dir(dir.parent().expect("a year directory has a parent"))?;
    load_year(&files, year, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::taxonomy::{RowCodeProblem, test_support};

    #[test]
    fn the_shipped_2024_taxonomy_loads() {
        let taxonomy = test_support::year(2024);
        assert_eq!(taxonomy.fiscal_year.get(), 2024);
        let t05 = taxonomy.table("公开05").expect("alias resolves");
        assert_eq!(t05.code, "T05");
        assert_eq!(taxonomy.check_row_code(t05, "2070605"), Ok(()));
        assert_eq!(taxonomy.check_row_code(t05, "total"), Ok(()));
        assert_eq!(
            taxonomy.check_row_code(t05, "2070698"),
            Err(RowCodeProblem::NotInCodeList)
        );
        assert_eq!(
            taxonomy.check_row_code(t05, "income_total"),
            Err(RowCodeProblem::Unknown)
        );
        let t01 = taxonomy.table("T01").unwrap();
        assert_eq!(
            taxonomy.check_row_code(t01, "20706"),
            Err(RowCodeProblem::LevelNotReported(2))
        );
        assert_eq!(taxonomy.row_name(t05, "2070605"), Some("出版发行"));
    }

    /// Writes a minimal taxonomy directory, with `edit` applied to tables.toml, and loads it.
    fn load_with(tables_toml: &str, functional: &str) -> Result<Taxonomy, TaxonomyError> {
        let dir = tempfile::tempdir().unwrap();
        let year_dir = dir.path().join("2024");
        std::fs::create_dir_all(year_dir.join("codes")).unwrap();
        std::fs::write(
            year_dir.join("taxonomy.toml"),
            "fiscal_year = 2024\nname = \"t\"\n[code_lists.functional]\nfile = \"codes/f.tsv\"\nname = \"f\"\nlevels = [3, 5, 7]\n",
        )
        .unwrap();
        std::fs::write(year_dir.join("codes/f.tsv"), functional).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy/2024/scoring.toml");
        std::fs::copy(shipped, year_dir.join("scoring.toml")).unwrap();
        std::fs::create_dir_all(year_dir.join("rules")).unwrap();
        std::fs::write(year_dir.join("tables.toml"), tables_toml).unwrap();
        load_year_on_disk(2024, &year_dir).map_err(|mut e| {
            // Report paths relative to the temporary directory so that tests can compare them.
            e.file = e.file.strip_prefix(&year_dir).unwrap_or(&e.file).to_owned();
            e
        })
    }

    const GOOD_TABLE: &str = "[[tables]]\ncode = \"T05\"\nname = \"x\"\ncodes = { list = \"functional\", levels = [1, 2, 3] }\ncolumns = [{ code = \"total\", name = \"合计\", kind = \"amount\" }]\n";

    #[test]
    fn a_minimal_taxonomy_loads() {
        let taxonomy = load_with(GOOD_TABLE, "207\t文化\n20706\t新闻\n").unwrap();
        assert_eq!(taxonomy.tables.len(), 1);
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let err = load_with("[[tables]]\ncode = \"T05\nname = \"x\"\n", "207\tx\n").unwrap_err();
        assert_eq!(err.file, Path::new("tables.toml"));
        assert_eq!(err.position.map(|p| p.0), Some(2), "{err}");
    }

    #[test]
    fn a_bad_reference_names_its_line() {
        let bad = GOOD_TABLE.replace("\"functional\"", "\"funktional\"");
        let err = load_with(&bad, "207\tx\n").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(4), "{err}");
        assert!(
            err.message.contains("unknown code list \"funktional\""),
            "{err}"
        );

        let bad = GOOD_TABLE.replace("kind = \"amount\"", "kind = \"money\"");
        let err = load_with(&bad, "207\tx\n").unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(5), "{err}");
        assert!(err.message.contains("unknown column kind"), "{err}");
    }

    #[test]
    fn a_code_without_its_parent_is_refused_at_its_line() {
        let err = load_with(GOOD_TABLE, "207\tx\n2070605\ty\n").unwrap_err();
        assert_eq!(err.file, Path::new("codes/f.tsv"));
        assert_eq!(err.position, Some((2, 1)));
        assert!(err.message.contains("parent 20706"), "{err}");
        let err = load_with(GOOD_TABLE, "207\tx\n207\ty\n").unwrap_err();
        assert!(err.message.contains("listed twice"), "{err}");
    }

    #[test]
    fn a_section_field_left_unmapped_is_refused() {
        let table = "[[tables]]\ncode = \"OPEX\"\nname = \"x\"\nsection = \"operating_expenses\"\ncolumns = [{ code = \"amount\", name = \"a\", kind = \"amount\" }]\nlines = [{ code = \"agency_operating\", name = \"a\", fields = { amount = \"agency_operating\" } }]\n";
        let err = load_with(table, "207\tx\n").unwrap_err();
        assert!(
            err.message
                .contains("not mapped to any cell: public_expenses"),
            "{err}"
        );
    }

    #[test]
    fn the_directory_year_must_match_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let year_dir = dir.path().join("2025");
        std::fs::create_dir_all(&year_dir).unwrap();
        std::fs::write(
            year_dir.join("taxonomy.toml"),
            "fiscal_year = 2024\nname = \"t\"\n",
        )
        .unwrap();
        let err = load_year_on_disk(2025, &year_dir).unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(1));
        assert!(err.message.contains("directory is 2025/"), "{err}");
    }
}

#[cfg(test)]
mod year_tests {
    use super::*;
    use crate::domain::taxonomy::{RowCodeProblem, test_support};

    #[test]
    fn the_2025_taxonomy_is_2024_with_its_changes() {
        let y2024 = test_support::year(2024);
        let y2025 = test_support::year(2025);
        assert_eq!(y2025.sources.len(), 2, "2025 extends 2024");
        let t05 = |t: &Taxonomy| t.table("T05").unwrap().clone();
        // Added in 2025 by 财预〔2025〕41号.
        assert_eq!(y2025.check_row_code(&t05(&y2025), "2170404"), Ok(()));
        assert_eq!(
            y2024.check_row_code(&t05(&y2024), "2170404"),
            Err(RowCodeProblem::NotInCodeList)
        );
        assert_eq!(y2025.check_row_code(&t05(&y2025), "2080102"), Ok(()));
        assert!(y2025.rules.rule("T09-YOY-001").is_some());
        assert!(y2024.rules.rule("T09-YOY-001").is_none());
        assert_eq!(y2025.rules.rules.len(), y2024.rules.rules.len() + 2);
        assert!(
            y2025
                .rules
                .rule("T01-BAL-001")
                .unwrap()
                .origin
                .file
                .starts_with("2024/")
        );
    }

    fn write(dir: &Path, relative: &str, text: &str) {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// A root with the shipped 2024 copied, and a 2025 with the given taxonomy.toml and files.
    fn root_with_2025(taxonomy_toml: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy/2024");
        for relative in [
            "taxonomy.toml",
            "tables.toml",
            "scoring.toml",
            "narrative.toml",
            "codes/functional.tsv",
            "codes/economic.tsv",
        ] {
            write(
                &root.path().join("2024"),
                relative,
                &std::fs::read_to_string(shipped.join(relative)).unwrap(),
            );
        }
        write(
            &root.path().join("2024"),
            "rules/00-definitions.rules",
            &std::fs::read_to_string(shipped.join("rules/00-definitions.rules")).unwrap(),
        );
        write(&root.path().join("2025"), "taxonomy.toml", taxonomy_toml);
        for (relative, text) in files {
            write(&root.path().join("2025"), relative, text);
        }
        root
    }

    #[test]
    fn an_extends_cycle_is_refused_at_its_line() {
        let root = root_with_2025("fiscal_year = 2025\nname = \"x\"\nextends = 2024\n", &[]);
        let main_2024 = root.path().join("2024/taxonomy.toml");
        let text = std::fs::read_to_string(&main_2024).unwrap().replace(
            "fiscal_year = 2024\n",
            "fiscal_year = 2024\nextends = 2025\n",
        );
        std::fs::write(&main_2024, text).unwrap();
        let err = load_year_on_disk(2025, &root.path().join("2025")).unwrap_err();
        assert!(err.message.contains("cycle: 2025 → 2024 → 2025"), "{err}");
        assert!(err.file.ends_with("2024/taxonomy.toml"), "{err}");
    }

    #[test]
    fn removed_and_moved_codes_name_their_replacements_and_carry_last_years_figures() {
        use crate::domain::{
            disclosure::{CellState, test_support::cover},
            facts::{Facts, TableFacts},
            money::Value,
        };
        let root = root_with_2025(
            "fiscal_year = 2025\nname = \"x\"\nextends = 2024\n[code_list_changes]\nfunctional = \"codes/changes.tsv\"\n",
            &[(
                "codes/changes.tsv",
                "-\t2070605\t2070699\n>\t2070606\t2070609\t版权管理与保护\n~\t2070601\t行政运行（新闻出版）\n-\t2070607\n",
            )],
        );
        let y2025 = load_year_on_disk(2025, &root.path().join("2025")).unwrap();
        let list = &y2025.code_lists["functional"];
        assert_eq!(list.removal("2070605"), Some(Some("2070699")));
        assert_eq!(list.removal("2070606"), Some(Some("2070609")));
        assert_eq!(list.removal("2070607"), Some(None));
        assert_eq!(list.removal("2070601"), None, "a rename is not a removal");
        assert_eq!(list.get("2070609").unwrap().name, "版权管理与保护");
        assert_eq!(list.get("2070601").unwrap().name, "行政运行（新闻出版）");

        // Last year's figures, read under this year's codes: a removed code's amount joins its replacement's.
        let amount = |v: &str| BTreeMap::from([("total".to_owned(), v.parse::<Value>().unwrap())]);
        let last_year = Facts {
            tables: BTreeMap::from([(
                "T05".to_owned(),
                TableFacts {
                    partial: false,
                    declared_empty: false,
                    rows: BTreeMap::from([
                        ("2070601".to_owned(), amount("1.00")),
                        ("2070605".to_owned(), amount("3.00")),
                        ("2070606".to_owned(), amount("4.00")),
                        ("2070607".to_owned(), amount("6.00")),
                        ("2070699".to_owned(), amount("5.00")),
                    ]),
                },
            )]),
            ..Default::default()
        };
        let read = last_year.to_disclosure(&y2025, cover(2025));
        let t05 = y2025.table_index("T05").unwrap();
        let total = y2025.tables[t05].column_index("total").unwrap();
        let cell = |row: &str| read.cell(t05, row, total);
        let given = |v: &str| CellState::Given(v.parse().unwrap());
        assert_eq!(cell("2070601"), given("1.00"));
        assert_eq!(cell("2070699"), given("8.00"));
        assert_eq!(cell("2070609"), given("4.00"));
        assert_eq!(cell("2070605"), CellState::Blank);
        assert_eq!(cell("2070606"), CellState::Blank);
        assert_eq!(
            cell("2070607"),
            given("6.00"),
            "a code removed without a replacement keeps last year's figure under its own code"
        );
    }

    #[test]
    fn a_bad_code_change_is_refused_at_its_line() {
        let root = root_with_2025(
            "fiscal_year = 2025\nname = \"x\"\nextends = 2024\n[code_list_changes]\nfunctional = \"codes/changes.tsv\"\n",
            &[(
                "codes/changes.tsv",
                "# header\n+\t2070698\t新项\n-\t2079998\n",
            )],
        );
        let err = load_year_on_disk(2025, &root.path().join("2025")).unwrap_err();
        assert_eq!(err.position, Some((3, 1)), "{err}");
        assert!(err.message.contains("removed but not listed"), "{err}");
    }

    #[test]
    fn a_year_file_replaces_the_extended_years_file_of_the_same_name() {
        let replacement = "define fiscal_income = T01[income_gpb]\ndefine income_sources = fiscal_income\ndefine extra = T01[income_total]\n";
        let root = root_with_2025(
            "fiscal_year = 2025\nname = \"x\"\nextends = 2024\n",
            &[("rules/00-definitions.rules", replacement)],
        );
        let taxonomy = load_year_on_disk(2025, &root.path().join("2025")).unwrap();
        assert_eq!(taxonomy.rules.definitions.len(), 3);
        assert!(taxonomy.rules.definitions.iter().any(|d| d.name == "extra"));
        let inherited = load_year_on_disk(2024, &root.path().join("2024")).unwrap();
        assert_eq!(
            inherited.rules.definitions.len(),
            2,
            "2024 keeps its own file"
        );
    }
}

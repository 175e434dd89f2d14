//! The taxonomy of a fiscal year: table layouts, code lists and narrative sections (and, built on these, rules,
//! eliminations and the scoring policy). Loaded from `taxonomy/<year>/` at start-up; a bad file stops the
//! service with its file, line and what is wrong.

pub mod codes;
pub mod eliminations;
pub mod files;
pub(crate) mod load;
pub mod publication;

pub use files::TaxonomyFiles;

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::Arc,
};

pub use codes::{CodeEntry, CodeList};
pub use load::TaxonomyError;

use crate::domain::{ids::FiscalYear, rules::RuleSet};

/// What a column holds, which decides how its cells are compared and whether they may be summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Money in the disclosure's amount unit; rounded; additive.
    Amount,
    /// Square metres; rounded; additive.
    Area,
    /// An exact whole number; additive.
    Count,
    /// An exact signed whole number (a stated change); additive.
    Change,
    /// A rounded percentage; never summed.
    Percent,
}

impl ColumnKind {
    pub fn parse(text: &str) -> Option<ColumnKind> {
        Some(match text {
            "amount" => ColumnKind::Amount,
            "area" => ColumnKind::Area,
            "count" => ColumnKind::Count,
            "change" => ColumnKind::Change,
            "percent" => ColumnKind::Percent,
            _ => return None,
        })
    }

    /// Whether consolidation may add this column's cells.
    pub fn is_additive(self) -> bool {
        !matches!(self, ColumnKind::Percent)
    }

    /// Whether a cell is an exact figure (a count) rather than a rounded one.
    pub fn is_exact(self) -> bool {
        matches!(self, ColumnKind::Count | ColumnKind::Change)
    }

    /// Whether a cell must be a whole number.
    pub fn is_whole(self) -> bool {
        self.is_exact()
    }
}

#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub code: String,
    pub name: String,
    pub kind: ColumnKind,
    /// Other headers the column is printed under (金额, 决算数 …), for reading a workbook.
    pub aliases: Vec<String>,
}

/// A fixed line of a table layout (as opposed to a row drawn from a code list).
#[derive(Debug, Clone)]
pub struct LineDef {
    pub code: String,
    pub name: String,
    /// Other labels the line is printed as (人员经费合计 …), for reading a workbook.
    pub aliases: Vec<String>,
    /// For section tables: which field of the section fills which column of this line.
    pub fields: Vec<(usize, String)>,
}

/// The code-list rows a table may have.
#[derive(Debug, Clone)]
pub struct CodeRows {
    pub list: String,
    /// Allowed levels, 1-based.
    pub levels: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct TableDef {
    pub code: String,
    pub name: String,
    pub aliases: Vec<String>,
    /// Other titles the printed table goes by, for recognising it in a workbook.
    pub titles: Vec<String>,
    /// Printed totals of the lines kept (收入总计 …): a workbook's figure there is listed, not kept.
    pub sums: Vec<String>,
    pub columns: Vec<ColumnDef>,
    pub lines: Vec<LineDef>,
    pub codes: Option<CodeRows>,
    /// For a table filled from a typed section of the disclosure: the section's name.
    pub section: Option<String>,
}

impl TableDef {
    pub fn column_index(&self, code: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.code == code)
    }

    pub fn line(&self, code: &str) -> Option<&LineDef> {
        self.lines.iter().find(|l| l.code == code)
    }
}

#[derive(Debug, Clone)]
pub struct NarrativeDef {
    pub key: String,
    pub title: String,
}

/// Why a row code does not belong to a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowCodeProblem {
    /// Not a line of the layout and not shaped like a code of the table's code list.
    Unknown,
    /// Shaped like a classification code, but not in the year's code list.
    NotInCodeList,
    /// In the code list, but at a level the table does not report.
    LevelNotReported(u8),
}

/// How a row stands against its table (see [`Taxonomy::row_code_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    Line,
    Listed,
    /// Shaped like a code of the table's list at a level it reports, but not in the year's list.
    Unlisted,
}

/// A fiscal year's taxonomy.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub fiscal_year: FiscalYear,
    pub name: String,
    pub dir: PathBuf,
    /// The directories files were taken from: this year's, then those of the years it extends.
    pub sources: Vec<PathBuf>,
    pub code_lists: BTreeMap<String, CodeList>,
    pub tables: Vec<TableDef>,
    pub narrative: Vec<NarrativeDef>,
    /// The year's rules, definitions and scoring policy.
    pub rules: RuleSet,
    /// What consolidation eliminates and recomputes (`eliminations.toml`); `None` when the year has none.
    pub eliminations: Option<eliminations::Eliminations>,
    /// The public document's structure (`publication.toml`); `None` when the year has none.
    pub publication: Option<publication::Publication>,
    table_lookup: HashMap<String, usize>,
}

impl Taxonomy {
    /// Finds a table by its code or any of its aliases.
    pub fn table_index(&self, code_or_alias: &str) -> Option<usize> {
        self.table_lookup.get(code_or_alias).copied()
    }

    pub fn table(&self, code_or_alias: &str) -> Option<&TableDef> {
        self.table_index(code_or_alias).map(|i| &self.tables[i])
    }

    /// A file of the taxonomy relative to the taxonomy root ("2024/rules/10-tables.rules"), so that a file a year
    /// inherits shows the year it comes from.
    pub fn relative_path(&self, path: &std::path::Path) -> String {
        let root = self.dir.parent().unwrap_or(&self.dir);
        path.strip_prefix(root)
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    pub fn narrative_section(&self, key: &str) -> Option<&NarrativeDef> {
        self.narrative.iter().find(|n| n.key == key)
    }

    /// How a row a disclosure gives stands against a table: a line, a listed code, or a well-formed code the
    /// year's list does not have (a unit may use a code the list lacks: it is read, and a finding names it).
    pub fn row_code_status(
        &self,
        table: &TableDef,
        code: &str,
    ) -> Result<RowStatus, RowCodeProblem> {
        match self.check_row_code(table, code) {
            Ok(()) => Ok(if table.line(code).is_some() {
                RowStatus::Line
            } else {
                RowStatus::Listed
            }),
            Err(RowCodeProblem::NotInCodeList) => {
                let rows = table.codes.as_ref().ok_or(RowCodeProblem::Unknown)?;
                let list = &self.code_lists[&rows.list];
                let level = list.level_of_shape(code).ok_or(RowCodeProblem::Unknown)?;
                if !rows.levels.contains(&level) {
                    return Err(RowCodeProblem::LevelNotReported(level));
                }
                Ok(RowStatus::Unlisted)
            }
            Err(problem) => Err(problem),
        }
    }

    /// Checks that a row code belongs to a table: a line of its layout, or a code of its list at a reported level.
    pub fn check_row_code(&self, table: &TableDef, code: &str) -> Result<(), RowCodeProblem> {
        // The code list first: most rows of a coded table are codes, and the lines are searched one by one.
        if let Some(rows) = &table.codes {
            let list = &self.code_lists[&rows.list];
            if let Some(level) = list.level_of(code) {
                return if rows.levels.contains(&level) || table.line(code).is_some() {
                    Ok(())
                } else {
                    Err(RowCodeProblem::LevelNotReported(level))
                };
            }
        }
        if table.line(code).is_some() {
            return Ok(());
        }
        let Some(rows) = &table.codes else {
            return Err(RowCodeProblem::Unknown);
        };
        let list = &self.code_lists[&rows.list];
        if list.level_of_shape(code).is_none() {
            return Err(RowCodeProblem::Unknown);
        }
        let level = list.level_of(code).ok_or(RowCodeProblem::NotInCodeList)?;
        if rows.levels.contains(&level) {
            Ok(())
        } else {
            Err(RowCodeProblem::LevelNotReported(level))
        }
    }

    /// The code list a table's coded rows come from.
    pub fn code_list_of(&self, table: &TableDef) -> Option<&CodeList> {
        table
            .codes
            .as_ref()
            .map(|rows| &self.code_lists[&rows.list])
    }

    /// The row's name from the layout or the code list.
    pub fn row_name<'a>(&'a self, table: &'a TableDef, code: &str) -> Option<&'a str> {
        if let Some(line) = table.line(code) {
            return Some(&line.name);
        }
        self.code_list_of(table)?.get(code).map(|e| e.name.as_str())
    }
}

/// The taxonomies of every fiscal year the service knows.
#[derive(Debug, Clone, Default)]
pub struct Taxonomies {
    by_year: BTreeMap<FiscalYear, Arc<Taxonomy>>,
}

impl Taxonomies {
    /// Loads every `<root>/<year>/` directory.
    pub fn load(root: &Path) -> Result<Taxonomies, TaxonomyError> {
        load::load_all(&TaxonomyFiles::read_dir(root)?)
    }

    /// Loads the taxonomies built into the binary (every year of `taxonomy/` when it was built).
    pub fn built_in() -> Result<Taxonomies, TaxonomyError> {
        load::load_all(&TaxonomyFiles::built_in())
    }

    /// `--taxonomy-dir` when given, else the built-in taxonomies.
    pub fn load_or_built_in(dir: Option<&Path>) -> Result<Taxonomies, TaxonomyError> {
        match dir {
            Some(dir) => Taxonomies::load(dir),
            None => Taxonomies::built_in(),
        }
    }

    pub fn from_taxonomies(taxonomies: impl IntoIterator<Item = Taxonomy>) -> Taxonomies {
        Taxonomies {
            by_year: taxonomies
                .into_iter()
                .map(|t| (t.fiscal_year, Arc::new(t)))
                .collect(),
        }
    }

    pub fn get(&self, year: FiscalYear) -> Option<&Arc<Taxonomy>> {
        self.by_year.get(&year)
    }

    pub fn years(&self) -> impl Iterator<Item = FiscalYear> + '_ {
        self.by_year.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<Taxonomy>> {
        self.by_year.values()
    }

    /// The years as text for messages: "2024, 2025".
    pub fn years_list(&self) -> String {
        let years: Vec<String> = self.years().map(|y| y.to_string()).collect();
        if years.is_empty() {
            "none".to_owned()
        } else {
            years.join(", ")
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    /// The taxonomies shipped in `taxonomy/`, for unit tests.
    pub fn shipped() -> Taxonomies {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy");
        Taxonomies::load(&root).unwrap_or_else(|e| panic!("shipped taxonomy does not load: {e}"))
    }

    pub fn year(year: u32) -> Arc<Taxonomy> {
        shipped()
            .get(FiscalYear::new(year).unwrap())
            .cloned()
            .unwrap_or_else(|| panic!("no shipped taxonomy for {year}"))
    }
}

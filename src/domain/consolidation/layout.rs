//! Every additive cell of a year's tables numbered densely, and the fixed-point integers consolidation adds:
//! amounts in fen (0.01 元) whatever unit a disclosure used, areas in 0.01 m², counts as they are. Integers make
//! sums exact, so an incremental update and a full recompute agree to the last fen.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::domain::{
    disclosure::AmountUnit,
    facts::Facts,
    money::Value,
    taxonomy::{ColumnKind, TableDef, Taxonomy, eliminations::CellPattern},
};

fn taxonomy_kinds(def: &TableDef) -> Vec<ColumnKind> {
    def.columns.iter().map(|c| c.kind).collect()
}

pub type CellId = u32;

/// Where a cell is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellKey {
    pub table: usize,
    pub row: String,
    pub column: usize,
}

/// The additive cells of a taxonomy, numbered: every line of every table, and the classification codes the
/// figures counted so far use. A year's code list has more than a thousand 项, of which a region uses a few
/// hundred: a row is added when a figure first needs it (in every table that reports the code's level), so the
/// dense vectors of consolidation hold the codes in use, and a code the list lacks is carried like any other.
#[derive(Debug, Clone)]
pub struct CellLayout {
    pub cells: Vec<CellKey>,
    /// Per table: row code → the id of its first additive column, and each column's offset from it.
    rows: Vec<HashMap<String, CellId>>,
    offsets: Vec<Vec<Option<u32>>>,
    kinds: Vec<ColumnKind>,
    /// Per table with coded rows: its code list's key, the levels it reports and the list's digits per level.
    coded: Vec<Option<CodedRows>>,
    /// Per table: the kind of each column.
    column_kinds: Vec<Vec<ColumnKind>>,
    /// The code rows added after the lines, in the order they came: (code list, code). Adding them again in this
    /// order to a new layout gives the same numbering (what a snapshot relies on).
    pub code_rows: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
struct CodedRows {
    list: String,
    levels: Vec<u8>,
    digits: Vec<usize>,
}

impl CodedRows {
    fn takes(&self, list: &str, code: &str) -> bool {
        self.list == list
            && code.bytes().all(|b| b.is_ascii_digit())
            && self
                .digits
                .iter()
                .position(|&d| d == code.len())
                .is_some_and(|level| self.levels.contains(&(level as u8 + 1)))
    }
}

impl CellLayout {
    /// The lines of every table; code rows come with [`CellLayout::add_code`].
    pub fn new(taxonomy: &Taxonomy) -> CellLayout {
        let mut layout = CellLayout {
            cells: Vec::new(),
            rows: Vec::new(),
            offsets: Vec::new(),
            kinds: Vec::new(),
            coded: Vec::new(),
            column_kinds: Vec::new(),
            code_rows: Vec::new(),
        };
        for def in &taxonomy.tables {
            let mut table_offsets = Vec::new();
            let mut additive = 0u32;
            for column in &def.columns {
                if column.kind.is_additive() {
                    table_offsets.push(Some(additive));
                    additive += 1;
                } else {
                    table_offsets.push(None);
                }
            }
            layout.offsets.push(table_offsets);
            layout.rows.push(HashMap::new());
            layout.column_kinds.push(taxonomy_kinds(def));
            layout.coded.push(def.codes.as_ref().and_then(|rows| {
                let list = taxonomy.code_lists.get(&rows.list)?;
                Some(CodedRows {
                    list: rows.list.clone(),
                    levels: rows.levels.clone(),
                    digits: list.level_digits.clone(),
                })
            }));
        }
        for (t, def) in taxonomy.tables.iter().enumerate() {
            for line in &def.lines {
                layout.add_row(t, &line.code);
            }
        }
        layout
    }

    /// The same layout grown by `code_rows` (a snapshot's), in their order.
    pub fn with_code_rows(taxonomy: &Taxonomy, code_rows: &[(String, String)]) -> CellLayout {
        let mut layout = CellLayout::new(taxonomy);
        for (list, code) in code_rows {
            layout.add_code(list, code);
        }
        layout
    }

    fn add_row(&mut self, table: usize, code: &str) -> bool {
        if self.rows[table].contains_key(code) {
            return false;
        }
        self.rows[table].insert(code.to_owned(), self.cells.len() as CellId);
        for column in 0..self.column_kinds[table].len() {
            let kind = self.column_kinds[table][column];
            if kind.is_additive() {
                self.cells.push(CellKey {
                    table,
                    row: code.to_owned(),
                    column,
                });
                self.kinds.push(kind);
            }
        }
        true
    }

    /// Adds a code's row to every table whose rows come from `list` at the code's level; whether the layout grew.
    pub fn add_code(&mut self, list: &str, code: &str) -> bool {
        let tables: Vec<usize> = (0..self.coded.len())
            .filter(|&t| self.coded[t].as_ref().is_some_and(|c| c.takes(list, code)))
            .collect();
        let mut grew = false;
        for table in tables {
            grew |= self.add_row(table, code);
        }
        if grew {
            self.code_rows.push((list.to_owned(), code.to_owned()));
        }
        grew
    }

    /// The code rows a counted version's figures use that the layout lacks, each once: (code list, code).
    pub fn missing_codes(&self, taxonomy: &Taxonomy, facts: &Facts) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        let mut seen: std::collections::HashSet<(&str, &str)> = std::collections::HashSet::new();
        for (code, table) in &facts.tables {
            let Some(index) = taxonomy.table_index(code) else {
                continue;
            };
            let Some(coded) = &self.coded[index] else {
                continue;
            };
            for row in table.rows.keys() {
                if !self.rows[index].contains_key(row)
                    && coded.takes(&coded.list, row)
                    && seen.insert((coded.list.as_str(), row.as_str()))
                {
                    out.push((coded.list.clone(), row.clone()));
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.cells.len()
    }

    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }

    /// The id of an additive cell.
    pub fn id(&self, table: usize, row: &str, column: usize) -> Option<CellId> {
        let base = *self.rows.get(table)?.get(row)?;
        let offset = (*self.offsets[table].get(column)?)?;
        Some(base + offset)
    }

    /// The rows of a table, by code, with their first cell id.
    pub fn rows(&self, table: usize) -> impl Iterator<Item = &String> {
        self.rows[table].keys()
    }

    pub fn kind(&self, id: CellId) -> ColumnKind {
        self.kinds[id as usize]
    }

    /// The cells a pattern names, with the row each one is on (for "*": every row of the table).
    pub fn expand(&self, pattern: &CellPattern) -> Vec<(String, CellId)> {
        match &pattern.row {
            Some(row) => self
                .id(pattern.table, row, pattern.column)
                .map(|id| (row.clone(), id))
                .into_iter()
                .collect(),
            None => self.rows[pattern.table]
                .keys()
                .filter_map(|row| {
                    self.id(pattern.table, row, pattern.column)
                        .map(|id| (row.clone(), id))
                })
                .collect(),
        }
    }
}

/// How many integer units one unit of a disclosed figure is worth.
pub fn factor(kind: ColumnKind, unit: AmountUnit) -> i64 {
    match kind {
        ColumnKind::Amount => match unit {
            AmountUnit::TenThousandYuan => 1_000_000,
            AmountUnit::Yuan => 100,
        },
        ColumnKind::Area => 100,
        ColumnKind::Count | ColumnKind::Change | ColumnKind::Percent => 1,
    }
}

/// A disclosed figure in integer units, and whether that was exact (a figure finer than a fen is rounded to the
/// nearest fen, half away from zero).
pub fn to_units(value: Value, factor: i64) -> (i64, bool) {
    let scaled = value.decimal() * Decimal::from(factor);
    let rounded =
        scaled.round_dp_with_strategy(0, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let units = i64::try_from(rounded.mantissa()).unwrap_or(if scaled.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    });
    (units, rounded == scaled)
}

/// Half a unit of a figure's last decimal, in integer units, rounded up: what rounding may have moved it.
pub fn half_ulp(value: Value, factor: i64) -> i64 {
    let half = Decimal::new(5, value.scale() + 1) * Decimal::from(factor);
    i64::try_from(half.ceil().mantissa()).unwrap_or(i64::MAX)
}

/// Integer units back to a figure in a unit (e.g. fen → 万元), exactly. Takes 128 bits so that a sum of 64-bit
/// figures can be shown; anything beyond a decimal's 96 bits (no sum of bounded figures reaches it) saturates.
pub fn from_units(units: impl Into<i128>, factor: i64) -> Decimal {
    let units = units.into();
    let digits = factor.trailing_zeros_decimal();
    let mut value = Decimal::try_from_i128_with_scale(units, digits).unwrap_or(if units < 0 {
        Decimal::MIN
    } else {
        Decimal::MAX
    });
    value = value.normalize();
    if value.scale() < 2 && factor > 1 {
        value.rescale(2);
    }
    value
}

trait DecimalDigits {
    fn trailing_zeros_decimal(self) -> u32;
}

impl DecimalDigits for i64 {
    /// 1_000_000 → 6: the factors are powers of ten.
    fn trailing_zeros_decimal(self) -> u32 {
        let mut n = self;
        let mut digits = 0;
        while n > 1 && n % 10 == 0 {
            n /= 10;
            digits += 1;
        }
        digits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::test_support;

    #[test]
    fn every_additive_cell_has_one_id() {
        let taxonomy = test_support::year(2024);
        let mut layout = CellLayout::new(&taxonomy);
        let t05 = taxonomy.table_index("T05").unwrap();
        let lines = layout.len();
        assert_eq!(layout.id(t05, "2070605", 0), None, "codes come when used");
        assert!(layout.add_code("functional", "2070605"));
        assert!(!layout.add_code("functional", "2070605"));
        // Every table of the functional list that reports 项 got the row: T02, T03, T05, T07, T08.
        let t02 = taxonomy.table_index("T02").unwrap();
        assert!(layout.id(t02, "2070605", 0).is_some());
        let t01 = taxonomy.table_index("T01").unwrap();
        assert_eq!(layout.id(t01, "2070605", 0), None, "T01 reports only 类");
        assert!(layout.add_code("functional", "207"));
        assert!(layout.id(t01, "207", 0).is_some());
        // A code the list lacks is carried too; a malformed one is not.
        assert!(layout.add_code("functional", "2070698"));
        assert!(!layout.add_code("functional", "20706981"));
        assert_eq!(layout.code_rows.len(), 3);
        let again = CellLayout::with_code_rows(&taxonomy, &layout.code_rows);
        assert_eq!(
            again.cells, layout.cells,
            "the same rows in the same order number alike"
        );
        assert!(layout.len() > lines);
        let total = layout.id(t05, "2070605", 0).unwrap();
        assert_eq!(
            layout.cells[total as usize],
            CellKey {
                table: t05,
                row: "2070605".into(),
                column: 0
            }
        );
        let proc = taxonomy.table_index("PROC").unwrap();
        let share = taxonomy.tables[proc].column_index("share").unwrap();
        assert_eq!(
            layout.id(proc, "sme", share),
            None,
            "percentages are not summed"
        );
    }

    #[test]
    fn figures_become_fen_and_back() {
        let v: Value = "8190.84".parse().unwrap();
        assert_eq!(to_units(v, 1_000_000), (8_190_840_000, true));
        assert_eq!(
            from_units(8_190_840_000i64, 1_000_000).to_string(),
            "8190.84"
        );
        assert_eq!(
            from_units(8_190_840_001i64, 1_000_000).to_string(),
            "8190.840001"
        );
        assert_eq!(to_units("1.234".parse().unwrap(), 100), (123, false));
        assert_eq!(half_ulp(v, 1_000_000), 5_000, "0.005 万元 is 50 元");
        assert_eq!(
            half_ulp("269".parse().unwrap(), 1),
            1,
            "half a person rounds up to one"
        );
    }
}

//! Every additive cell of a year's tables numbered densely, and the fixed-point integers consolidation adds:
//! amounts in fen (0.01 元) whatever unit a disclosure used, areas in 0.01 m², counts as they are. Integers make
//! sums exact, so an incremental update and a full recompute agree to the last fen.

use std::collections::HashMap;

use rust_decimal::Decimal;

use crate::domain::{
    disclosure::AmountUnit,
    money::Value,
    taxonomy::{ColumnKind, Taxonomy, eliminations::CellPattern},
};

pub type CellId = u32;

/// Where a cell is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellKey {
    pub table: usize,
    pub row: String,
    pub column: usize,
}

/// The additive cells of a taxonomy, numbered.
#[derive(Debug, Clone)]
pub struct CellLayout {
    pub cells: Vec<CellKey>,
    /// Per table: row code → the id of its first additive column, and each column's offset from it.
    rows: Vec<HashMap<String, CellId>>,
    offsets: Vec<Vec<Option<u32>>>,
    kinds: Vec<ColumnKind>,
}

impl CellLayout {
    pub fn new(taxonomy: &Taxonomy) -> CellLayout {
        let mut cells = Vec::new();
        let mut rows = Vec::new();
        let mut offsets = Vec::new();
        let mut kinds = Vec::new();
        for (t, def) in taxonomy.tables.iter().enumerate() {
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
            let mut codes: Vec<String> = def.lines.iter().map(|l| l.code.clone()).collect();
            if let Some(list) = taxonomy.code_list_of(def) {
                let levels = &def.codes.as_ref().expect("a code list").levels;
                codes.extend(
                    list.entries()
                        .iter()
                        .filter(|(_, e)| levels.contains(&e.level))
                        .map(|(c, _)| c.clone()),
                );
            }
            let mut table_rows = HashMap::new();
            for code in codes {
                table_rows.insert(code.clone(), cells.len() as CellId);
                for (c, column) in def.columns.iter().enumerate() {
                    if column.kind.is_additive() {
                        cells.push(CellKey {
                            table: t,
                            row: code.clone(),
                            column: c,
                        });
                        kinds.push(column.kind);
                    }
                }
            }
            rows.push(table_rows);
            offsets.push(table_offsets);
        }
        CellLayout {
            cells,
            rows,
            offsets,
            kinds,
        }
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
        let layout = CellLayout::new(&taxonomy);
        let t05 = taxonomy.table_index("T05").unwrap();
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
        assert!(
            layout.len() > 5_000 && layout.len() < 20_000,
            "{}",
            layout.len()
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

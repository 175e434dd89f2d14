//! The figures of a resolved disclosure keyed by codes, not by a taxonomy's positions: what is kept beside a
//! version's exact bytes so that later work (year-over-year checks, consolidation) reads them without decoding
//! wire messages, and across taxonomy years whose layouts differ.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    disclosure::{AmountUnit, Completeness, Cover, Disclosure, RowData, TableData},
    money::Value,
    taxonomy::Taxonomy,
};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableFacts {
    pub partial: bool,
    pub declared_empty: bool,
    /// row code → column code → value.
    pub rows: BTreeMap<String, BTreeMap<String, Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    /// The unit the amounts are in.
    #[serde(default)]
    pub amount_unit: AmountUnit,
    /// table code → table.
    pub tables: BTreeMap<String, TableFacts>,
}

impl Facts {
    pub fn from_disclosure(disclosure: &Disclosure, taxonomy: &Taxonomy) -> Facts {
        let mut tables = BTreeMap::new();
        for (index, data) in disclosure.tables.iter().enumerate() {
            let Some(data) = data else { continue };
            let def = &taxonomy.tables[index];
            let rows = data
                .rows
                .iter()
                .map(|(code, row)| {
                    let cells = row
                        .cells
                        .iter()
                        .enumerate()
                        .filter_map(|(c, value)| value.map(|v| (def.columns[c].code.clone(), v)))
                        .collect();
                    (code.clone(), cells)
                })
                .collect();
            tables.insert(
                def.code.clone(),
                TableFacts {
                    partial: data.completeness == Completeness::Partial,
                    declared_empty: data.declared_empty,
                    rows,
                },
            );
        }
        Facts {
            amount_unit: disclosure.cover.amount_unit,
            tables,
        }
    }

    /// The figures as a disclosure under `taxonomy` (which may be another year's): tables, rows and columns the
    /// taxonomy does not have are left out, so rules read them as unknown.
    pub fn to_disclosure(&self, taxonomy: &Taxonomy, cover: Cover) -> Disclosure {
        let mut tables: Vec<Option<TableData>> = vec![None; taxonomy.tables.len()];
        for (code, facts) in &self.tables {
            let Some(index) = taxonomy.table_index(code) else {
                continue;
            };
            let def = &taxonomy.tables[index];
            let rows = facts
                .rows
                .iter()
                .filter(|(row, _)| taxonomy.check_row_code(def, row).is_ok())
                .map(|(row, cells)| {
                    let mut values = vec![None; def.columns.len()];
                    for (column, value) in cells {
                        if let Some(c) = def.column_index(column) {
                            values[c] = Some(*value);
                        }
                    }
                    (
                        row.clone(),
                        RowData {
                            label: String::new(),
                            cells: values,
                        },
                    )
                })
                .collect();
            tables[index] = Some(TableData {
                completeness: if facts.partial {
                    Completeness::Partial
                } else {
                    Completeness::Complete
                },
                declared_empty: facts.declared_empty,
                rows,
            });
        }
        Disclosure {
            cover,
            tables,
            narrative: Vec::new(),
            unit_evaluation: None,
            project_evaluations: Vec::new(),
        }
    }

    pub fn get(&self, table: &str, row: &str, column: &str) -> Option<Value> {
        self.tables.get(table)?.rows.get(row)?.get(column).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        disclosure::{
            CellState,
            test_support::{draft, table},
        },
        taxonomy::test_support,
    };

    #[test]
    fn facts_round_trip_through_codes() {
        let taxonomy = test_support::year(2024);
        let disclosure = draft(
            2024,
            vec![
                table(
                    "T05",
                    Completeness::Complete,
                    &[
                        ("2070605", "total", "6588.51"),
                        ("total", "total", "6588.51"),
                    ],
                ),
                table(
                    "T06",
                    Completeness::Partial,
                    &[("public", "amount", "48.77")],
                ),
            ],
        )
        .resolve(&taxonomy)
        .unwrap();
        let facts = Facts::from_disclosure(&disclosure, &taxonomy);
        assert_eq!(
            facts.get("T05", "2070605", "total"),
            Some("6588.51".parse().unwrap())
        );
        let json = serde_json::to_string(&facts).unwrap();
        assert!(
            json.contains("\"6588.51\""),
            "values stay decimal strings: {json}"
        );
        let back: Facts = serde_json::from_str(&json).unwrap();
        let rebuilt = back.to_disclosure(&taxonomy, disclosure.cover.clone());
        assert_eq!(
            rebuilt.tables,
            disclosure
                .tables
                .iter()
                .map(|t| t.clone().map(|mut t| {
                    t.rows.values_mut().for_each(|r| r.label.clear());
                    t
                }))
                .collect::<Vec<_>>()
        );
        let t06 = taxonomy.table_index("T06").unwrap();
        assert_eq!(rebuilt.cell(t06, "personnel", 0), CellState::Unknown);
    }
}

//! The figures of a resolved disclosure keyed by codes, not by a taxonomy's positions: what is kept beside a
//! version's exact bytes so that later work (year-over-year checks, consolidation) reads them without decoding
//! wire messages, and across taxonomy years whose layouts differ.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    disclosure::{AmountUnit, Completeness, Cover, Disclosure, RowData, TableData},
    money::Value,
    taxonomy::{TableDef, Taxonomy},
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
    /// taxonomy does not have are left out, so rules read them as unknown. A row under a code the taxonomy's
    /// change list replaced (renamed, moved) is read under the code that replaced it — so that last year's
    /// figures compare with this year's — added to what that code already has.
    pub fn to_disclosure(&self, taxonomy: &Taxonomy, cover: Cover) -> Disclosure {
        let mut tables: Vec<Option<TableData>> = vec![None; taxonomy.tables.len()];
        for (code, facts) in &self.tables {
            let Some(index) = taxonomy.table_index(code) else {
                continue;
            };
            let def = &taxonomy.tables[index];
            let list = taxonomy.code_list_of(def);
            let mut rows: std::collections::BTreeMap<String, RowData> =
                std::collections::BTreeMap::new();
            for (row, cells) in &facts.rows {
                let row = match list.and_then(|l| l.removal(row)) {
                    Some(Some(replacement)) => replacement,
                    _ => row.as_str(),
                };
                if taxonomy.row_code_status(def, row).is_err() {
                    continue;
                }
                let data = rows.entry(row.to_owned()).or_insert_with(|| RowData {
                    label: String::new(),
                    cells: vec![None; def.columns.len()],
                });
                for (column, value) in cells {
                    if let Some(c) = def.column_index(column) {
                        data.cells[c] = Some(match data.cells[c] {
                            Some(before) => Value::from_decimal(before.decimal() + value.decimal()),
                            None => *value,
                        });
                    }
                }
            }
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

/// A version's [`Facts`] as the JSON text kept beside its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactsJson(String);

impl FactsJson {
    /// The text of [`Facts::from_disclosure`] serialized, written straight from the disclosure. Every submission's
    /// figures are written and few are read back: building the maps of codes and then serializing them was 12 % of
    /// the server's instructions for a synthetic submission, half as much as its rule checks.
    pub fn of(disclosure: &Disclosure, taxonomy: &Taxonomy) -> FactsJson {
        let mut out = String::new();
        out.push_str("{\"amount_unit\":");
        out.push_str(match disclosure.cover.amount_unit {
            AmountUnit::Yuan => "\"Yuan\"",
            AmountUnit::TenThousandYuan => "\"TenThousandYuan\"",
        });
        out.push_str(",\"tables\":{");
        // Maps are written in code order, as a BTreeMap serializes.
        let mut tables: Vec<(&TableDef, &TableData)> = disclosure
            .tables
            .iter()
            .zip(&taxonomy.tables)
            .filter_map(|(data, def)| Some((def, data.as_ref()?)))
            .collect();
        tables.sort_unstable_by(|a, b| a.0.code.cmp(&b.0.code));
        // About what a row's code and a figure take, so that the text is not copied as it grows.
        out.reserve(
            tables
                .iter()
                .map(|(def, data)| data.rows.len() * (16 + 16 * def.columns.len()))
                .sum(),
        );
        // A table's columns in code order, each with its key (`"code":"`) escaped once, in `keys`.
        let (mut order, mut columns, mut keys) = (Vec::new(), Vec::new(), String::new());
        for (t, (def, data)) in tables.into_iter().enumerate() {
            if t > 0 {
                out.push(',');
            }
            push_json_string(&mut out, &def.code);
            out.push_str(":{\"partial\":");
            out.push_str(bool_text(data.completeness == Completeness::Partial));
            out.push_str(",\"declared_empty\":");
            out.push_str(bool_text(data.declared_empty));
            out.push_str(",\"rows\":{");
            order.clear();
            order.extend(0..def.columns.len());
            order.sort_unstable_by(|&a: &usize, &b: &usize| {
                def.columns[a].code.cmp(&def.columns[b].code)
            });
            columns.clear();
            keys.clear();
            for &c in &order {
                let start = keys.len();
                push_json_string(&mut keys, &def.columns[c].code);
                // A value's text is digits, a point and a sign: nothing to escape.
                keys.push_str(":\"");
                columns.push((c, start..keys.len()));
            }
            for (r, (code, row)) in data.rows.iter().enumerate() {
                if r > 0 {
                    out.push(',');
                }
                push_json_string(&mut out, code);
                out.push_str(":{");
                let mut first = true;
                for (c, key) in &columns {
                    let Some(Some(value)) = row.cells.get(*c) else {
                        continue;
                    };
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&keys[key.clone()]);
                    value.push_text(&mut out);
                    out.push('"');
                }
                out.push('}');
            }
            out.push_str("}}");
        }
        out.push_str("}}");
        FactsJson(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn parse(&self) -> serde_json::Result<Facts> {
        serde_json::from_str(&self.0)
    }
}

impl From<&Facts> for FactsJson {
    fn from(facts: &Facts) -> FactsJson {
        // Keys and values are strings and the flags booleans: serializing cannot fail.
        FactsJson(serde_json::to_string(facts).expect("facts serialize to JSON"))
    }
}

fn bool_text(flag: bool) -> &'static str {
    if flag { "true" } else { "false" }
}

/// Appends `text` as a JSON string. Codes need no escapes; anything else is escaped as serde_json escapes it.
fn push_json_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push('"');
        out.push_str(text);
        out.push('"');
    } else {
        out.push_str(&serde_json::to_string(text).expect("a string serializes to JSON"));
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

    /// A resolved disclosure of a complete T05 with `t05` beside its total, and a partial T06 stating `public`.
    fn resolved(taxonomy: &Taxonomy, t05: &[(&str, &str, &str)], public: &str) -> Disclosure {
        let mut t05 = t05.to_vec();
        t05.push(("total", "total", "6588.51"));
        draft(
            2024,
            vec![
                table("T05", Completeness::Complete, &t05),
                table(
                    "T06",
                    Completeness::Partial,
                    &[("public", "amount", public)],
                ),
            ],
        )
        .resolve(taxonomy)
        .unwrap()
    }

    #[test]
    fn facts_round_trip_through_codes() {
        let taxonomy = test_support::year(2024);
        let disclosure = resolved(&taxonomy, &[("2070605", "total", "6588.51")], "48.77");
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

    #[test]
    fn the_written_text_is_the_serialized_facts() {
        let taxonomy = test_support::year(2024);
        let mut disclosure = resolved(
            &taxonomy,
            &[
                ("2070605", "total", "6588.51"),
                ("2070605", "basic", "6000"),
            ],
            "-0.5",
        );
        let serialized = |d: &Disclosure| FactsJson::from(&Facts::from_disclosure(d, &taxonomy));
        let written = FactsJson::of(&disclosure, &taxonomy);
        assert_eq!(written, serialized(&disclosure));
        assert_eq!(
            written.parse().unwrap(),
            Facts::from_disclosure(&disclosure, &taxonomy)
        );

        // Codes that need escapes (a resolved disclosure has none) and the other amount unit.
        disclosure.cover.amount_unit = AmountUnit::Yuan;
        let t05 = taxonomy.table_index("T05").unwrap();
        let t05 = disclosure.tables[t05].as_mut().unwrap();
        t05.declared_empty = true;
        let row = t05.rows["2070605"].clone();
        t05.rows.insert("a\"b\\c\n\u{1}é".into(), row.clone());
        t05.rows.insert(
            String::new(),
            RowData {
                label: String::new(),
                cells: vec![None; row.cells.len()],
            },
        );
        let written = FactsJson::of(&disclosure, &taxonomy);
        assert!(
            written.as_str().contains(r#""a\"b\\c\n\u0001é":{"#),
            "{}",
            written.as_str()
        );
        assert_eq!(written, serialized(&disclosure));
    }
}

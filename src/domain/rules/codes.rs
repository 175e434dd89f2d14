//! The codes check: classification codes a disclosure uses that the year's code list does not have.
//!
//! A unit may use a well-formed code the list lacks — a 项 its region added, a code the shipped list misses — and
//! its figures are read, summed in the hierarchy and consolidated like any other; the check names the code so
//! that a reviewer confirms it (WARNING). A code whose 类 does not exist cannot be placed (ERROR), nor one the year's
//! change list removed (ERROR, naming the code that replaced it where the list says so).

use std::collections::BTreeMap;

use crate::domain::{
    catalogue::{BuiltInCheck, REMOVED_CODE, UNKNOWN_CLASS_CODE, UNLISTED_CODE},
    disclosure::Disclosure,
    taxonomy::{RowStatus, Taxonomy},
    validation::{CellRef, Finding, Report},
};

/// What is wrong with one code, with the tables and names it was given under.
struct Use<'d> {
    check: &'static BuiltInCheck,
    fill: Vec<(&'static str, String)>,
    cells: Vec<CellRef>,
    name: &'d str,
}

pub(super) fn run(taxonomy: &Taxonomy, disclosure: &Disclosure, report: &mut Report) {
    let mut uses: BTreeMap<String, Use<'_>> = BTreeMap::new();
    for (index, data) in disclosure.tables.iter().enumerate() {
        let Some(data) = data else { continue };
        let def = &taxonomy.tables[index];
        let Some(list) = taxonomy.code_list_of(def) else {
            continue;
        };
        for (code, row) in &data.rows {
            if taxonomy.row_code_status(def, code) != Ok(RowStatus::Unlisted) {
                continue;
            }
            report.checks_evaluated += 1;
            let cell = CellRef {
                table: def.code.clone(),
                row: code.clone(),
                column: String::new(),
                unit: None,
            };
            if let Some(existing) = uses.get_mut(code) {
                existing.cells.push(cell);
                if existing.name.is_empty() {
                    existing.name = row.label.as_str();
                }
                continue;
            }
            let year = taxonomy.fiscal_year.to_string();
            let mut fill = vec![
                ("code", code.clone()),
                ("list", list.name.clone()),
                ("year", year),
            ];
            let check = match (list.removal(code), list.class_of(code)) {
                (Some(replacement), _) => {
                    fill.push((
                        "replacement",
                        replacement.map_or_else(
                            || "请按当年科目表改用其他科目".to_owned(),
                            |r| {
                                let name = list.get(r).map_or("", |e| e.name.as_str());
                                format!("改用 {r} {name}")
                            },
                        ),
                    ));
                    &REMOVED_CODE
                }
                (None, Some(class)) if !list.contains(class) => {
                    fill.push(("class", class.to_owned()));
                    &UNKNOWN_CLASS_CODE
                }
                (None, _) => {
                    // The nearest listed ancestor, for the message.
                    let mut parent = list.parent_of(code);
                    while let Some(p) = parent
                        && !list.contains(p)
                    {
                        parent = list.parent_of(p);
                    }
                    let parent = parent.map_or_else(String::new, |p| {
                        format!("{p} {}", list.get(p).map_or("", |e| e.name.as_str()))
                    });
                    fill.push(("parent", parent));
                    &UNLISTED_CODE
                }
            };
            uses.insert(
                code.clone(),
                Use {
                    check,
                    fill,
                    cells: vec![cell],
                    name: row.label.as_str(),
                },
            );
        }
    }
    for (_, found) in uses {
        let mut fill = found.fill;
        fill.push((
            "name",
            if found.name.trim().is_empty() {
                "（未给名称）".to_owned()
            } else {
                found.name.trim().to_owned()
            },
        ));
        let tables: Vec<&str> = found.cells.iter().map(|c| c.table.as_str()).collect();
        fill.push(("tables", tables.join("、")));
        report.findings.push(Finding {
            rule_id: found.check.id.to_owned(),
            severity: found.check.severity,
            message: super::narrative::fill_message(found.check.message, &fill),
            cells: found.cells,
            provided: None,
            expected: None,
            difference: None,
            project: None,
            indicator: None,
            key: String::new(),
            explanation: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        disclosure::{Completeness, test_support},
        taxonomy::test_support as taxonomies,
    };

    fn findings(rows: &[(&str, &str)]) -> Vec<Finding> {
        let taxonomy = taxonomies::year(2024);
        let mut cells: Vec<(&str, &str, &str)> = Vec::new();
        for (code, value) in rows {
            cells.push((code, "total", value));
        }
        let mut table = test_support::table("T05", Completeness::Complete, &cells);
        for (row, (_, _)) in table.rows.iter_mut().zip(rows) {
            row.label = format!("单位填写的{}", row.code);
        }
        let disclosure = test_support::draft(2024, vec![table])
            .resolve(&taxonomy)
            .unwrap();
        let mut report = Report::new(disclosure.cover.fiscal_year);
        run(&taxonomy, &disclosure, &mut report);
        report.findings
    }

    #[test]
    fn an_unlisted_code_under_a_listed_class_is_read_with_a_warning() {
        let found = findings(&[("208", "10.00"), ("20801", "10.00"), ("2080188", "10.00")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule_id, "CODE-UNLISTED");
        assert_eq!(
            found[0].severity,
            crate::domain::validation::Severity::Warning
        );
        assert!(found[0].message.contains("2080188"), "{}", found[0].message);
        assert!(
            found[0].message.contains("单位填写的2080188"),
            "{}",
            found[0].message
        );
        assert!(found[0].message.contains("20801"), "{}", found[0].message);
        // Listed codes say nothing.
        assert!(findings(&[("208", "10.00"), ("20801", "10.00"), ("2080102", "10.00")]).is_empty());
    }

    #[test]
    fn a_code_of_no_class_is_an_error() {
        let found = findings(&[("298", "1.00")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].rule_id, "CODE-UNKNOWN-CLASS");
        assert_eq!(
            found[0].severity,
            crate::domain::validation::Severity::Error
        );
    }

    #[test]
    fn a_malformed_code_is_refused_with_its_shape() {
        let taxonomy = taxonomies::year(2024);
        let table = test_support::table(
            "T05",
            Completeness::Complete,
            &[("20801022", "total", "1.00")],
        );
        let refused = test_support::draft(2024, vec![table])
            .resolve(&taxonomy)
            .unwrap_err();
        assert!(
            refused.iter().any(|v| v.description.contains("malformed")),
            "{refused:?}"
        );
    }
}

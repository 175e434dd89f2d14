//! Budget figures (年初预算数 / 全年预算数) of a unit and year, as a budget system gives them, keyed by the
//! taxonomy's codes. Rules compare them with the final accounts (预决算差异率).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    error::FieldViolation,
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    money::{Value, excerpt},
    taxonomy::Taxonomy,
};

/// Budget figures by (table, row, column) code.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BudgetFigures {
    figures: BTreeMap<String, Value>,
}

fn key(table: &str, row: &str, column: &str) -> String {
    format!("{table}|{row}|{column}")
}

impl BudgetFigures {
    pub fn insert(&mut self, table: &str, row: &str, column: &str, value: Value) {
        self.figures.insert(key(table, row, column), value);
    }

    pub fn get(&self, table: &str, row: &str, column: &str) -> Option<Value> {
        self.figures.get(&key(table, row, column)).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.figures.is_empty()
    }
}

impl BudgetFigures {
    /// Every figure as (table, row, column, value), in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str, &str, Value)> {
        self.figures.iter().filter_map(|(key, value)| {
            let mut parts = key.splitn(3, '|');
            Some((parts.next()?, parts.next()?, parts.next()?, *value))
        })
    }

    pub fn len(&self) -> usize {
        self.figures.len()
    }
}

/// Most figures one put may carry: a unit's whole budget is a few thousand cells at most.
pub const MAX_BUDGET_FIGURES: usize = 20_000;

/// One figure as a budget system sends it, before it is checked against the year's taxonomy.
#[derive(Debug, Clone)]
pub struct BudgetCell<'a> {
    pub table: &'a str,
    pub row: &'a str,
    pub column: &'a str,
    /// The amount as written; `None` when it was left out.
    pub value: Option<&'a str>,
}

/// The figures of a put, each addressing a cell of the year's taxonomy once with a well-formed amount; else every
/// problem with its field path (`figures[3].row`).
pub fn budget_figures(
    taxonomy: &Taxonomy,
    cells: &[BudgetCell<'_>],
) -> Result<BudgetFigures, Vec<FieldViolation>> {
    let mut violations = Vec::new();
    if cells.is_empty() {
        return Err(vec![FieldViolation::new(
            "figures",
            "is empty: a budget has at least one figure",
        )]);
    }
    if cells.len() > MAX_BUDGET_FIGURES {
        return Err(vec![FieldViolation::new(
            "figures",
            format!("has more than {MAX_BUDGET_FIGURES} figures"),
        )]);
    }
    let mut figures = BudgetFigures::default();
    for (i, cell) in cells.iter().enumerate() {
        let path = |field: &str| format!("figures[{i}].{field}");
        let Some(table) = taxonomy.table(cell.table) else {
            violations.push(FieldViolation::new(
                path("table"),
                format!(
                    "{:?} is not a table of {}",
                    excerpt(cell.table),
                    taxonomy.fiscal_year
                ),
            ));
            continue;
        };
        let mut known = true;
        if taxonomy.row_name(table, cell.row).is_none() {
            violations.push(FieldViolation::new(
                path("row"),
                format!("{:?} is not a row of {}", excerpt(cell.row), table.code),
            ));
            known = false;
        }
        if table.column_index(cell.column).is_none() {
            violations.push(FieldViolation::new(
                path("column"),
                format!(
                    "{:?} is not a column of {}",
                    excerpt(cell.column),
                    table.code
                ),
            ));
            known = false;
        }
        let value = match cell.value.map(str::parse::<Value>) {
            None => {
                violations.push(FieldViolation::new(path("value"), "is missing"));
                continue;
            }
            Some(Err(e)) => {
                violations.push(FieldViolation::new(path("value"), e.to_string()));
                continue;
            }
            Some(Ok(value)) => value,
        };
        if !known {
            continue;
        }
        if figures.get(&table.code, cell.row, cell.column).is_some() {
            violations.push(FieldViolation::new(
                path("row"),
                format!("{}/{}/{} is given twice", table.code, cell.row, cell.column),
            ));
            continue;
        }
        figures.insert(&table.code, cell.row, cell.column, value);
    }
    if violations.is_empty() {
        Ok(figures)
    } else {
        Err(violations)
    }
}

/// A version of budget figures to store.
#[derive(Debug, Clone)]
pub struct NewBudget {
    pub unit_code: UnitCode,
    pub fiscal_year: FiscalYear,
    pub idempotency_key: IdempotencyKey,
    pub figures: BudgetFigures,
    pub put_by: String,
    pub put_at_ms: i64,
}

/// A stored version of a unit's budget figures.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredBudget {
    pub unit_code: UnitCode,
    pub fiscal_year: FiscalYear,
    pub version: u32,
    pub idempotency_key: String,
    pub figures: BudgetFigures,
    pub put_by: String,
    pub put_at_ms: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::test_support;

    fn cell<'a>(table: &'a str, row: &'a str, column: &'a str, value: &'a str) -> BudgetCell<'a> {
        BudgetCell {
            table,
            row,
            column,
            value: Some(value),
        }
    }

    #[test]
    fn figures_address_cells_of_the_years_taxonomy_once() {
        let taxonomy = test_support::year(2024);
        let figures = budget_figures(
            &taxonomy,
            &[
                cell("T05", "total", "total", "5357.30"),
                cell("T04", "total", "expenditure", "12"),
            ],
        )
        .unwrap();
        assert_eq!(figures.len(), 2);
        // The precision as written survives.
        assert_eq!(
            figures.get("T05", "total", "total").unwrap().to_string(),
            "5357.30"
        );
        let listed: Vec<_> = figures.iter().map(|(t, r, c, _)| (t, r, c)).collect();
        assert_eq!(
            listed,
            [("T04", "total", "expenditure"), ("T05", "total", "total")]
        );
    }

    #[test]
    fn every_problem_is_named_by_its_path_and_none_is_echoed_whole() {
        let taxonomy = test_support::year(2024);
        let long = "行".repeat(5_000);
        let mut missing = cell("T05", "total", "total", "");
        missing.value = None;
        let refused = budget_figures(
            &taxonomy,
            &[
                cell("T99", "total", "total", "1"),
                cell("T05", &long, "nope", "1"),
                cell("T05", "total", "total", "1e5"),
                missing,
                cell("T05", "total", "total", "1"),
                cell("T05", "total", "total", "2"),
            ],
        )
        .unwrap_err();
        let fields: Vec<&str> = refused.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "figures[0].table",
                "figures[1].row",
                "figures[1].column",
                "figures[2].value",
                "figures[3].value",
                "figures[5].row"
            ]
        );
        assert!(refused.iter().all(|v| v.description.len() < 300));
        assert_eq!(
            budget_figures(&taxonomy, &[]).unwrap_err()[0].field,
            "figures"
        );
        let too_many = vec![cell("T05", "total", "total", "1"); MAX_BUDGET_FIGURES + 1];
        let refused = budget_figures(&taxonomy, &too_many).unwrap_err();
        assert_eq!(refused.len(), 1, "refused before any cell is checked");
    }
}

//! Budget figures (年初预算数 / 全年预算数) of a unit and year, as a budget system gives them, keyed by the
//! taxonomy's codes. Rules compare them with the final accounts (预决算差异率).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::money::Value;

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

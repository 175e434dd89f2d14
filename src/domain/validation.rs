//! Validation: running a year's rules on a disclosure and reporting findings (DESIGN §3). A finding names its
//! rule, severity, message, the cells involved, the value provided, the value expected and the difference.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{disclosure::Disclosure, ids::FiscalYear, rules::Context, taxonomy::Taxonomy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Severity {
    /// A balance or logic identity is broken: blocks acceptance.
    Error,
    /// A reasonableness check failed: needs a written explanation.
    Warning,
    /// Advice.
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// A cell a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CellRef {
    pub table: String,
    pub row: String,
    pub column: String,
}

impl std::fmt::Display for CellRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}[{}, {}]", self.table, self.row, self.column)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub rule_id: String,
    pub severity: Severity,
    pub message: String,
    pub cells: Vec<CellRef>,
    pub provided: Option<Decimal>,
    pub expected: Option<Decimal>,
    pub difference: Option<Decimal>,
    /// Position (from 1) and name of the project evaluation the finding is about.
    pub project: Option<(usize, String)>,
    /// The indicator's name (三级指标).
    pub indicator: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub fiscal_year: FiscalYear,
    pub findings: Vec<Finding>,
    pub checks_evaluated: u32,
    pub checks_not_evaluated: u32,
}

impl Report {
    pub fn new(fiscal_year: FiscalYear) -> Report {
        Report {
            fiscal_year,
            findings: Vec::new(),
            checks_evaluated: 0,
            checks_not_evaluated: 0,
        }
    }

    /// Orders findings errors first; within a severity, in the order the rules ran (table order).
    pub fn finish(&mut self) {
        self.findings.sort_by_key(|f| f.severity);
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Validates a resolved disclosure against its year's taxonomy.
pub fn validate(taxonomy: &Taxonomy, disclosure: &Disclosure, context: Context<'_>) -> Report {
    taxonomy.rules.run(taxonomy, disclosure, context)
}

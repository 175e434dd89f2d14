//! Validation: running a year's rules on a disclosure and reporting findings (docs/design.md §3). A finding names its
//! rule, severity, message, the cells involved, the value provided, the value expected and the difference.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::domain::{
    disclosure::Disclosure, error::FieldViolation, ids::FiscalYear, rules::Context,
    taxonomy::Taxonomy,
};

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
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellRef {
    pub table: String,
    pub row: String,
    pub column: String,
    /// The unit whose disclosure the cell is of, when a finding spans several units (consolidation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

/// Removes repeated cells, keeping each where it first appears: a finding names the cells its check read, and a
/// check may read a cell twice. Positions are sorted rather than the cells copied into a set: each cell is three
/// strings, and the copies were a measurable part of making a finding.
pub fn dedup_cells(cells: &mut Vec<CellRef>) {
    if cells.len() < 2 {
        return;
    }
    let mut order: Vec<usize> = (0..cells.len()).collect();
    order.sort_by(|&a, &b| cells[a].cmp(&cells[b]).then(a.cmp(&b)));
    let mut repeated = vec![false; cells.len()];
    for pair in order.windows(2) {
        if cells[pair[0]] == cells[pair[1]] {
            repeated[pair[1]] = true;
        }
    }
    let mut position = 0;
    cells.retain(|_| {
        position += 1;
        !repeated[position - 1]
    });
}

impl std::fmt::Display for CellRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(unit) = &self.unit {
            write!(f, "{unit}:")?;
        }
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
    /// A key that names this finding stably across versions: the same rule on the same cells (and project and
    /// indicator) has the same key, whatever the figures. Explanations refer to findings by it.
    #[serde(default)]
    pub key: String,
    /// The unit's written explanation (WARNING and INFO only).
    #[serde(default)]
    pub explanation: Option<String>,
}

impl Finding {
    fn compute_key(&self) -> String {
        use sm3::{Digest, Sm3};
        // The bytes hashed are those keys have always been made of (explanations stored with earlier versions
        // name findings by them); they are laid out in one buffer rather than formatted piece by piece.
        let mut bytes: Vec<u8> = Vec::with_capacity(64 + 48 * self.cells.len());
        bytes.extend_from_slice(self.rule_id.as_bytes());
        for cell in &self.cells {
            for (lead, part) in [(b'|', &cell.table), (0x1f, &cell.row), (0x1f, &cell.column)] {
                bytes.push(lead);
                bytes.extend_from_slice(part.as_bytes());
            }
        }
        if let Some((position, name)) = &self.project {
            bytes.extend_from_slice(b"|p");
            bytes.extend_from_slice(position.to_string().as_bytes());
            bytes.push(0x1f);
            bytes.extend_from_slice(name.as_bytes());
        }
        if let Some(indicator) = &self.indicator {
            bytes.extend_from_slice(b"|i");
            bytes.extend_from_slice(indicator.as_bytes());
        }
        hex::encode(&Sm3::digest(&bytes)[..8])
    }
}

/// Most characters an explanation may have.
pub const MAX_EXPLANATION_CHARS: usize = 4000;

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
        for finding in &mut self.findings {
            finding.key = finding.compute_key();
        }
    }

    /// WARNING findings without an explanation: acceptance needs none left.
    pub fn unexplained_warnings(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Warning && f.explanation.is_none())
            .count()
    }

    /// Checks explanations (finding key → text) against the findings, without applying them: each must name a
    /// finding of this report that is not an ERROR, and say something. Paths are "explanations[KEY]".
    pub fn check_explanations<'e>(
        &self,
        explanations: impl IntoIterator<Item = (&'e str, &'e str)>,
    ) -> Result<(), Vec<FieldViolation>> {
        let mut violations = Vec::new();
        for (key, text) in explanations {
            let field = format!("explanations[{key}]");
            let chars = text.trim().chars().count();
            match self.findings.iter().find(|f| f.key == key) {
                None => violations.push(FieldViolation::new(
                    field,
                    format!("there is no finding {key} in this version"),
                )),
                Some(f) if f.severity == Severity::Error => violations.push(FieldViolation::new(
                    field,
                    format!(
                        "finding {key} ({}) is an ERROR: errors are corrected, not explained",
                        f.rule_id
                    ),
                )),
                Some(_) if chars == 0 => {
                    violations.push(FieldViolation::new(field, "the explanation is empty"))
                }
                Some(_) if chars > MAX_EXPLANATION_CHARS => violations.push(FieldViolation::new(
                    field,
                    format!(
                        "the explanation has {chars} characters; at most {MAX_EXPLANATION_CHARS}"
                    ),
                )),
                Some(_) => {}
            }
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(violations)
        }
    }

    /// Attaches explanations (already checked) to their findings.
    pub fn apply_explanations<'e>(
        &mut self,
        explanations: impl IntoIterator<Item = (&'e str, &'e str)>,
    ) {
        for (key, text) in explanations {
            if let Some(finding) = self.findings.iter_mut().find(|f| f.key == key) {
                finding.explanation = Some(text.trim().to_owned());
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_cells_are_dropped_where_they_repeat() {
        let cell = |row: &str| CellRef {
            table: "T01".into(),
            row: row.into(),
            column: "total".into(),
            unit: None,
        };
        let mut cells = vec![
            cell("b"),
            cell("a"),
            cell("b"),
            cell("c"),
            cell("a"),
            cell("b"),
        ];
        dedup_cells(&mut cells);
        assert_eq!(cells, vec![cell("b"), cell("a"), cell("c")]);
        let mut one = vec![cell("x")];
        dedup_cells(&mut one);
        assert_eq!(one, vec![cell("x")]);
    }

    fn finding(project: Option<(usize, &str)>, indicator: Option<&str>) -> Finding {
        let cell = |table: &str, row: &str, column: &str| CellRef {
            table: table.into(),
            row: row.into(),
            column: column.into(),
            unit: None,
        };
        Finding {
            rule_id: "EV-S-002".into(),
            severity: Severity::Warning,
            message: "m".into(),
            cells: vec![
                cell("PROJ", "indicator.3", "score"),
                cell("PROJ", "indicator.3", "weight"),
            ],
            provided: None,
            expected: None,
            difference: None,
            project: project.map(|(p, n)| (p, n.to_owned())),
            indicator: indicator.map(str::to_owned),
            key: String::new(),
            explanation: None,
        }
    }

    /// How keys were first made: each piece formatted and hashed in turn.
    fn key_as_first_made(f: &Finding) -> String {
        use sm3::{Digest, Sm3};
        let mut hasher = Sm3::new();
        hasher.update(f.rule_id.as_bytes());
        for cell in &f.cells {
            hasher.update(
                format!("|{}\u{1f}{}\u{1f}{}", cell.table, cell.row, cell.column).as_bytes(),
            );
        }
        if let Some((position, name)) = &f.project {
            hasher.update(format!("|p{position}\u{1f}{name}").as_bytes());
        }
        if let Some(indicator) = &f.indicator {
            hasher.update(format!("|i{indicator}").as_bytes());
        }
        hex::encode(&hasher.finalize()[..8])
    }

    #[test]
    fn finding_keys_stay_what_stored_explanations_name() {
        for f in [
            finding(Some((12, "乡村振兴项目")), Some("培训人次")),
            finding(None, None),
            finding(Some((1, "")), None),
        ] {
            assert_eq!(f.compute_key(), key_as_first_made(&f));
        }
        assert_ne!(
            finding(Some((12, "乡村振兴项目")), None).compute_key(),
            finding(Some((1, "2乡村振兴项目")), None).compute_key()
        );
    }
}

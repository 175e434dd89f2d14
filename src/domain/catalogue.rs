//! The one catalogue of a year's checks: every id a finding can carry — declared rules, rules generated from the
//! code lists, the narrative checks, the self-evaluation text checks, the elimination pairs and the consolidation's
//! comparison of a reported 汇总表 — with where it is defined. `rules list`, `rules show`, `rules catalogue`, the
//! serve log and the README all count from here, so they cannot disagree.

use crate::domain::{
    rules::{SeveritySpec, narrative::CheckKind},
    taxonomy::Taxonomy,
    validation::Severity,
};

/// A check written in code rather than in a year's files.
pub struct BuiltInCheck {
    pub id: &'static str,
    pub severity: Severity,
    /// Placeholders: {cell} {provided} {expected} {difference}.
    pub message: &'static str,
    pub description: &'static str,
    /// Where it lives, for `rules show`.
    pub defined_in: &'static str,
}

/// A department's own 汇总表 against the consolidation computed from its units.
pub const REPORTED_COMPARISON: BuiltInCheck = BuiltInCheck {
    id: "CONS-CMP-001",
    severity: Severity::Error,
    message: "汇总表 {cell} 报 {provided}，按所属单位决算汇总（含抵销）应为 {expected}（差 {difference}），超出舍入误差",
    description: "CompareReported: a cell of a department's reported 汇总表 equals the consolidation computed from its units' accepted \
                  单户表 (with eliminations), within the rounding of the figures added.",
    defined_in: "the consolidation service (src/domain/consolidation)",
};

/// A transfer inside a consolidated group that the two sides do not match in full: the matched part is eliminated
/// from both sides, the rest stays in the consolidated figures and is named.
pub const UNMATCHED_ELIMINATION: BuiltInCheck = BuiltInCheck {
    id: "CONS-ELIM-001",
    severity: Severity::Warning,
    message: "{payer} {pair}：付款方填报 {provided}，已计入的收款方合计 {expected}，未抵销差额 {difference} 保留在汇总数中（{reason}）",
    description: "GetConsolidated: a transfer inside a consolidated group (上级补助收入 ↔ 对附属单位补助支出, 上缴上级支出 ↔ 附属单位上缴收入) \
                  is eliminated only as far as both sides state it and count; what one side states beyond the other \
                  stays in the 汇总表 as 未抵销差额 and is named, beyond rounding, with both units and the reason.",
    defined_in: "the consolidation service (src/domain/consolidation)",
};

/// A well-formed classification code the year's list does not have, under a 类 it has: read, summed and
/// consolidated like any other, and named so that a reviewer confirms it.
pub const UNLISTED_CODE: BuiltInCheck = BuiltInCheck {
    id: "CODE-UNLISTED",
    severity: Severity::Warning,
    message: "{tables} 科目 {code}「{name}」不在{year}年{list}中（上级科目 {parent} 已列入）：请确认编码与名称",
    description: "A 款 or 项 whose parent is listed but which the year's code list lacks: its figures are read, the \
                  hierarchy sums still apply and consolidation carries it; the code and the name the unit gave are \
                  named.",
    defined_in: "the codes check (src/domain/rules/codes.rs)",
};

/// A code whose 类 does not exist in the year's list.
pub const UNKNOWN_CLASS_CODE: BuiltInCheck = BuiltInCheck {
    id: "CODE-UNKNOWN-CLASS",
    severity: Severity::Error,
    message: "{tables} 科目 {code}「{name}」的类 {class} 不在{year}年{list}中",
    description: "A classification code whose 类 (its first level) the year's code list does not have.",
    defined_in: "the codes check (src/domain/rules/codes.rs)",
};

/// A code the year's change list removed.
pub const REMOVED_CODE: BuiltInCheck = BuiltInCheck {
    id: "CODE-REMOVED",
    severity: Severity::Error,
    message: "{tables} 科目 {code}「{name}」在{year}年{list}中已取消：{replacement}",
    description: "A classification code the year's change list removed, used in the year after its removal; the \
                  code that replaced it is named where the change list says so.",
    defined_in: "the codes check (src/domain/rules/codes.rs)",
};

/// The checks written in code, in the order the catalogue lists them.
pub const BUILT_IN: [&BuiltInCheck; 5] = [
    &UNLISTED_CODE,
    &UNKNOWN_CLASS_CODE,
    &REMOVED_CODE,
    &REPORTED_COMPARISON,
    &UNMATCHED_ELIMINATION,
];

/// What kind of check an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EntryKind {
    /// A rule of a `rules/*.rules` file.
    Declared,
    /// A rule generated from a directive (the code hierarchies): one per coded table.
    Generated,
    /// A kind of narrative check (`narrative.toml`).
    Narrative,
    /// A check of the self-evaluation texts (`evaluation-texts.toml`).
    Text,
    /// An elimination pair of consolidation (`eliminations.toml`).
    Elimination,
    /// A check in code.
    BuiltIn,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::Declared => "declared",
            EntryKind::Generated => "generated",
            EntryKind::Narrative => "narrative",
            EntryKind::Text => "self-evaluation text",
            EntryKind::Elimination => "elimination",
            EntryKind::BuiltIn => "built in",
        }
    }
}

/// One id of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub id: String,
    pub kind: EntryKind,
    /// "error", "warning", "info", or "warning (scoring policy)" for rules whose severity the policy sets.
    pub severity: String,
    pub message: String,
    /// What it checks: the rule's text, the directive, or a description.
    pub check: String,
    /// The file relative to the taxonomy root ("2024/rules/10-tables.rules"), or where a built-in check lives.
    pub file: String,
    /// 0 when not known.
    pub line: usize,
    /// The year whose directory the file is in, when it is not the entry's year: the entry is inherited.
    pub inherited_from: Option<u32>,
}

impl Entry {
    /// "2024/rules/10-tables.rules:152", "2024/narrative.toml".
    pub fn location(&self) -> String {
        if self.line > 0 {
            format!("{}:{}", self.file, self.line)
        } else {
            self.file.clone()
        }
    }
}

/// The severity of a rule as shown: the policy's for rules whose severity the scoring policy sets.
pub fn severity_name(taxonomy: &Taxonomy, spec: SeveritySpec) -> String {
    match spec {
        SeveritySpec::Fixed(severity) => severity.name().to_owned(),
        SeveritySpec::Policy => format!(
            "{} (scoring policy)",
            taxonomy.rules.scoring.mismatch_severity.name()
        ),
    }
}

fn year_of(file: &str, year: u32) -> Option<u32> {
    let first: u32 = file.split(['/', '\\']).next()?.parse().ok()?;
    (first != year).then_some(first)
}

fn kind_entry(kind: &CheckKind, entry_kind: EntryKind, file: &str, year: u32) -> Entry {
    Entry {
        id: kind.id.clone(),
        kind: entry_kind,
        severity: kind.severity.name().to_owned(),
        message: kind.message.clone(),
        check: kind.description.clone(),
        file: file.to_owned(),
        line: 0,
        inherited_from: year_of(file, year),
    }
}

/// Every id a finding of the year can carry, in the order the checks run.
pub fn entries(taxonomy: &Taxonomy) -> Vec<Entry> {
    let year = taxonomy.fiscal_year.get();
    let rules = &taxonomy.rules;
    let mut out: Vec<Entry> = rules
        .rules
        .iter()
        .map(|rule| Entry {
            id: rule.id.clone(),
            kind: if rule.origin.generated {
                EntryKind::Generated
            } else {
                EntryKind::Declared
            },
            severity: severity_name(taxonomy, rule.severity),
            message: rule.message.source.clone(),
            check: rule.origin.text.clone(),
            file: rule.origin.file.clone(),
            line: rule.origin.line,
            inherited_from: year_of(&rule.origin.file, year),
        })
        .collect();
    if let Some(narrative) = &rules.narrative {
        out.extend(
            narrative
                .kinds()
                .iter()
                .map(|k| kind_entry(k, EntryKind::Narrative, &narrative.origin, year)),
        );
    }
    if let Some(texts) = &rules.texts {
        out.extend(
            texts
                .kinds()
                .iter()
                .map(|k| kind_entry(k, EntryKind::Text, &texts.origin, year)),
        );
    }
    if let Some(eliminations) = &taxonomy.eliminations {
        out.extend(eliminations.pairs.iter().map(|pair| Entry {
            id: pair.id.clone(),
            kind: EntryKind::Elimination,
            severity: pair.severity.name().to_owned(),
            message: pair.message.clone(),
            check: format!(
                "{}: what a payer reports against the sum of what the units it pays report, where the two meet",
                pair.name
            ),
            file: eliminations.origin.clone(),
            line: pair.line,
            inherited_from: year_of(&eliminations.origin, year),
        }));
    }
    out.extend(BUILT_IN.iter().map(|built_in| Entry {
        id: built_in.id.to_owned(),
        kind: EntryKind::BuiltIn,
        severity: built_in.severity.name().to_owned(),
        message: built_in.message.to_owned(),
        check: built_in.description.to_owned(),
        file: built_in.defined_in.to_owned(),
        line: 0,
        inherited_from: None,
    }));
    out
}

/// The entries an id names: the entry of that id, or — for a family name such as "HIER" — every entry of the
/// family ("HIER-T02", "HIER-T03", …).
pub fn lookup<'e>(entries: &'e [Entry], id: &str) -> Vec<&'e Entry> {
    let exact: Vec<&Entry> = entries.iter().filter(|e| e.id == id).collect();
    if !exact.is_empty() {
        return exact;
    }
    let family = format!("{id}-");
    entries
        .iter()
        .filter(|e| e.id.starts_with(&family))
        .collect()
}

/// Counts by kind, for a one-line summary: "119 checks: 101 declared, 6 generated, …".
pub fn summary(entries: &[Entry]) -> String {
    let count = |kind| entries.iter().filter(|e| e.kind == kind).count();
    format!(
        "{} checks: {} declared rules, {} generated from the code lists, {} kinds of narrative check, {} checks of \
         self-evaluation texts, {} elimination pairs, {} built in",
        entries.len(),
        count(EntryKind::Declared),
        count(EntryKind::Generated),
        count(EntryKind::Narrative),
        count(EntryKind::Text),
        count(EntryKind::Elimination),
        count(EntryKind::BuiltIn)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::taxonomy::test_support;

    #[test]
    fn every_id_a_finding_can_carry_is_in_the_catalogue() {
        let taxonomy = test_support::year(2024);
        let entries = entries(&taxonomy);
        for id in taxonomy.rules.ids() {
            assert_eq!(lookup(&entries, id).len(), 1, "{id}");
        }
        for id in [
            "EL-SUBSIDY",
            "EL-REMIT",
            "CONS-CMP-001",
            "CONS-ELIM-001",
            "NAR-AMOUNT",
            "EV-G-001",
        ] {
            assert_eq!(lookup(&entries, id).len(), 1, "{id}");
        }
        // A generated family answers by its name.
        assert_eq!(lookup(&entries, "HIER").len(), 6);
        let mut ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), entries.len(), "an id is listed twice");
    }

    #[test]
    fn a_2025_check_from_a_2024_file_says_it_is_inherited() {
        let taxonomy = test_support::year(2025);
        let entries = entries(&taxonomy);
        let inherited = lookup(&entries, "T01-BAL-001")[0];
        assert_eq!(inherited.inherited_from, Some(2024));
        assert!(inherited.file.starts_with("2024/"), "{}", inherited.file);
        let own: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.file.starts_with("2025/"))
            .collect();
        assert!(!own.is_empty());
        assert!(own.iter().all(|e| e.inherited_from.is_none()));
        assert_eq!(lookup(&entries, "NAR-AMOUNT")[0].inherited_from, Some(2024));
    }
}

//! The unit registry's rules: every year's tree a record would change must stay a forest of well-nested nodes
//! (`check_forest`). Registering and reading units is the use case `service::registry`.

use std::collections::HashMap;

use crate::domain::{
    error::FieldViolation,
    ids::{FiscalYear, UnitCode},
    unit::Unit,
};

/// A unit's signing key as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyView {
    pub unit: UnitCode,
    pub public_key: Option<Vec<u8>>,
}

/// Most levels a year's tree may have, root included: a province → prefecture → county → township of regions,
/// departments and their sub-departments, units and their subordinate units fit with room to spare.
pub const MAX_TREE_LEVELS: usize = 16;

/// The record of each unit that applies to a year, among all records.
fn year_view(records: &[Unit], year: FiscalYear) -> HashMap<&UnitCode, &Unit> {
    let mut view: HashMap<&UnitCode, &Unit> = HashMap::new();
    for record in records.iter().filter(|r| r.valid_from <= year) {
        match view.get(&record.code) {
            Some(existing) if existing.valid_from >= record.valid_from => {}
            _ => {
                view.insert(&record.code, record);
            }
        }
    }
    view.retain(|_, r| r.covers(year));
    view
}

/// Whether a child region's code lies inside its parent region's: 652301 (a county) inside 652300 (a
/// prefecture) inside 650000 (a province), as administrative division codes nest.
fn region_within(child: &str, parent: &str) -> bool {
    let mut prefix = parent;
    while let Some(shorter) = prefix.strip_suffix("00") {
        prefix = shorter;
    }
    child != parent && child.starts_with(prefix)
}

/// What is wrong with a record's place in one year's tree: its parent (registered, of a kind that may have it,
/// in its region), a cycle through it, the tree's depth, and its children's places under it.
fn check_year(
    view: &HashMap<&UnitCode, &Unit>,
    subject: &Unit,
    year: FiscalYear,
) -> Vec<FieldViolation> {
    let mut violations = Vec::new();
    let kind = |u: &Unit| {
        if u.is_region {
            "a fiscal region"
        } else if u.is_department {
            "a department"
        } else {
            "a unit"
        }
    };
    // Whether `child` may sit under `parent`: kinds and regions.
    let placement = |child: &Unit, parent: &Unit| -> Option<String> {
        if child.is_region && !parent.is_region {
            return Some(format!(
                "{} is {}, and a fiscal region sits only under a fiscal region",
                parent.code,
                kind(parent)
            ));
        }
        if child.is_department && !(parent.is_region || parent.is_department) {
            return Some(format!(
                "{} is {}, and a department sits only under a region or a department",
                parent.code,
                kind(parent)
            ));
        }
        if child.is_region {
            if !region_within(child.fiscal_region.as_str(), parent.fiscal_region.as_str()) {
                return Some(format!(
                    "region {} is not inside {}'s region {}",
                    child.fiscal_region, parent.code, parent.fiscal_region
                ));
            }
        } else if child.fiscal_region != parent.fiscal_region {
            return Some(format!(
                "{} is in fiscal region {}, not {}",
                parent.code, parent.fiscal_region, child.fiscal_region
            ));
        }
        None
    };
    if let Some(parent_code) = &subject.parent {
        match view.get(parent_code) {
            None => violations.push(FieldViolation::new(
                "parent_code",
                format!(
                    "unit {parent_code} is not registered for {year}; register the parent first"
                ),
            )),
            Some(parent) => {
                if let Some(problem) = placement(subject, parent) {
                    violations.push(FieldViolation::new(
                        "parent_code",
                        format!("in {year}, {problem}"),
                    ));
                }
                // Up from the parent: a cycle comes back to the subject; the levels above it count too.
                let mut path = vec![subject.code.as_str(), parent_code.as_str()];
                let mut current = parent;
                let mut levels_above = 1;
                while let Some(next) = current.parent.as_ref() {
                    if next == &subject.code {
                        path.push(next.as_str());
                        violations.push(FieldViolation::new(
                            "parent_code",
                            format!(
                                "{parent_code} would make a cycle in the {year} tree: {}",
                                path.join(" → ")
                            ),
                        ));
                        return violations;
                    }
                    let Some(up) = view.get(next) else { break };
                    levels_above += 1;
                    path.push(next.as_str());
                    current = up;
                    if levels_above > MAX_TREE_LEVELS {
                        // A cycle above, not through the subject: the store holds one already.
                        break;
                    }
                }
                let below = levels_below(view, &subject.code);
                let levels = levels_above + below;
                if levels > MAX_TREE_LEVELS {
                    violations.push(FieldViolation::new(
                        "parent_code",
                        format!(
                            "the {year} tree would be {levels} levels deep through {}; at most {MAX_TREE_LEVELS}",
                            subject.code
                        ),
                    ));
                }
            }
        }
    }
    for child in view
        .values()
        .filter(|u| u.parent.as_ref() == Some(&subject.code))
    {
        if let Some(problem) = placement(child, subject) {
            violations.push(FieldViolation::new(
                "",
                format!(
                    "in {year}, {} is registered under it, but {problem}",
                    child.code
                ),
            ));
        }
    }
    violations
}

/// In a year a record no longer covers: the units registered under it would have no parent.
fn orphans(
    view: &HashMap<&UnitCode, &Unit>,
    subject: &Unit,
    year: FiscalYear,
) -> Vec<FieldViolation> {
    view.values()
        .filter(|u| u.parent.as_ref() == Some(&subject.code))
        .map(|child| {
            FieldViolation::new(
                "valid_to_year",
                format!(
                    "in {year}, {} is registered under {}, which this record would end",
                    child.code, subject.code
                ),
            )
        })
        .collect()
}

/// Levels in a unit's subtree, the unit included (1 for a leaf).
fn levels_below(view: &HashMap<&UnitCode, &Unit>, root: &UnitCode) -> usize {
    let mut children: HashMap<&UnitCode, Vec<&UnitCode>> = HashMap::new();
    for unit in view.values() {
        if let Some(parent) = &unit.parent {
            children.entry(parent).or_default().push(&unit.code);
        }
    }
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    let mut seen = std::collections::HashSet::new();
    while let Some((code, level)) = stack.pop() {
        if !seen.insert(code) || level > MAX_TREE_LEVELS + 1 {
            continue;
        }
        deepest = deepest.max(level);
        for child in children.get(code).into_iter().flatten() {
            stack.push((child, level + 1));
        }
    }
    deepest
}

/// Checks a record against every year it affects, given every record the store holds (the record's own
/// predecessor with the same code and first year replaced by it): the years from its first year up to the next
/// record of the unit, or to its last year, at each year where any record begins or ends — the tree changes
/// only there. The registry calls this inside the transaction that writes the record, so two registrations
/// cannot each pass and together make a cycle.
pub fn check_forest(records: &[Unit], subject: &Unit) -> Vec<FieldViolation> {
    let replaced = records
        .iter()
        .find(|r| r.code == subject.code && r.valid_from == subject.valid_from);
    let mut all: Vec<Unit> = records
        .iter()
        .filter(|r| !(r.code == subject.code && r.valid_from == subject.valid_from))
        .cloned()
        .collect();
    all.push(subject.clone());
    let next_own = all
        .iter()
        .filter(|r| r.code == subject.code && r.valid_from > subject.valid_from)
        .map(|r| r.valid_from.get())
        .min();
    let span_end = |valid_to: Option<FiscalYear>| match (valid_to, next_own) {
        (Some(to), Some(next)) => to.get().min(next - 1),
        (Some(to), None) => to.get(),
        (None, Some(next)) => next - 1,
        (None, None) => u32::MAX,
    };
    // The years the record covers, and those the record it replaces covered: a shorter span ends the unit there.
    let last = span_end(subject.valid_to).max(replaced.map_or(0, |r| span_end(r.valid_to)));
    let first = subject.valid_from.get();
    let mut years: Vec<u32> = vec![first];
    for record in &all {
        years.push(record.valid_from.get());
        if let Some(to) = record.valid_to {
            years.push(to.get().saturating_add(1));
        }
    }
    years.retain(|y| (first..=last).contains(y));
    years.sort_unstable();
    years.dedup();
    let mut violations: Vec<FieldViolation> = Vec::new();
    for year in years {
        let Ok(year) = FiscalYear::new(year) else {
            continue;
        };
        let view = year_view(&all, year);
        let found = if view.contains_key(&subject.code) {
            check_year(&view, subject, year)
        } else {
            orphans(&view, subject, year)
        };
        for violation in found {
            // Once per problem: the same wrong parent shows in every year it lasts.
            if !violations.iter().any(|v| {
                v.field == violation.field && same_problem(&v.description, &violation.description)
            }) {
                violations.push(violation);
            }
        }
    }
    violations
}

/// Whether two descriptions say the same thing of different years ("in 2024, …" and "in 2026, …").
fn same_problem(a: &str, b: &str) -> bool {
    let strip = |t: &str| -> String { t.chars().filter(|c| !c.is_ascii_digit()).collect() };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ids::RegionCode,
        unit::{BudgetLevel, UnitType},
    };

    fn year(y: u32) -> FiscalYear {
        FiscalYear::new(y).unwrap()
    }

    /// A record: kind "region", "department" or "unit".
    fn record(code: &str, parent: Option<&str>, kind: &str, region: &str, from: u32) -> Unit {
        Unit {
            code: UnitCode::parse(code).unwrap(),
            name: code.to_owned(),
            valid_from: year(from),
            valid_to: None,
            budget_level: BudgetLevel::County,
            unit_type: (kind != "region").then_some(UnitType::Administrative),
            parent: parent.map(|p| UnitCode::parse(p).unwrap()),
            supervising_department: None,
            fiscal_region: RegionCode::parse(region).unwrap(),
            is_department: kind == "department",
            is_region: kind == "region",
        }
    }

    fn problems(records: &[Unit], subject: &Unit) -> Vec<String> {
        check_forest(records, subject)
            .into_iter()
            .map(|v| v.description)
            .collect()
    }

    #[test]
    fn a_cycle_is_refused_in_any_year_it_would_appear() {
        let mut records = vec![
            record("CA", None, "department", "652300", 2024),
            record("CB", None, "department", "652300", 2024),
        ];
        // From 2025, CA sits under CB.
        let moved = record("CA", Some("CB"), "department", "652300", 2025);
        assert!(problems(&records, &moved).is_empty());
        records.push(moved);
        // CB under CA from 2024 holds in 2024 but closes a cycle in 2025.
        let found = problems(
            &records,
            &record("CB", Some("CA"), "department", "652300", 2024),
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("cycle in the 2025 tree: CB → CA → CB"),
            "{found:?}"
        );
        // Limited to 2024, it would leave CA without its parent in 2025.
        let mut only_2024 = record("CB", Some("CA"), "department", "652300", 2024);
        only_2024.valid_to = Some(year(2024));
        let found = problems(&records, &only_2024);
        assert!(
            found[0].contains("in 2025, CA is registered under CB"),
            "{found:?}"
        );
        // Once CA's 2025 record hangs elsewhere, it is fine.
        records.push(record("CC", None, "department", "652300", 2024));
        records.retain(|r| !(r.code.as_str() == "CA" && r.valid_from == year(2025)));
        records.push(record("CA", Some("CC"), "department", "652300", 2025));
        assert!(problems(&records, &only_2024).is_empty());
    }

    #[test]
    fn sixteen_levels_are_enough_and_seventeen_are_refused() {
        let mut records = vec![record("L1", None, "department", "652300", 2024)];
        for level in 2..=MAX_TREE_LEVELS {
            let unit = record(
                &format!("L{level}"),
                Some(&format!("L{}", level - 1)),
                "department",
                "652300",
                2024,
            );
            assert!(problems(&records, &unit).is_empty(), "level {level}");
            records.push(unit);
        }
        let too_deep = record("L17", Some("L16"), "unit", "652300", 2024);
        let found = problems(&records, &too_deep);
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("17 levels deep"), "{found:?}");
        // Hanging a deep subtree under a new root is measured the same way.
        let new_root = record("TOP", None, "department", "652300", 2024);
        records.push(new_root);
        let rehung = record("L1", Some("TOP"), "department", "652300", 2024);
        assert!(problems(&records, &rehung)[0].contains("17 levels deep"));
    }

    #[test]
    fn kinds_and_regions_must_fit() {
        let records = vec![
            record("652300", None, "region", "652300", 2024),
            record("D", Some("652300"), "department", "652300", 2024),
            record("U", Some("D"), "unit", "652300", 2024),
        ];
        let fine = [
            record("652301", Some("652300"), "region", "652301", 2024),
            record("U2", Some("U"), "unit", "652300", 2024),
            record("D2", Some("D"), "department", "652300", 2024),
        ];
        for unit in &fine {
            assert!(problems(&records, unit).is_empty(), "{}", unit.code);
        }
        let refused = [
            (
                record("D3", Some("U"), "department", "652300", 2024),
                "sits only under a region or a department",
            ),
            (
                record("652302", Some("D"), "region", "652302", 2024),
                "sits only under a fiscal region",
            ),
            (
                record("U3", Some("D"), "unit", "652800", 2024),
                "is in fiscal region 652300, not 652800",
            ),
            (
                record("652800", Some("652300"), "region", "652800", 2024),
                "is not inside",
            ),
        ];
        for (unit, says) in refused {
            let found = problems(&records, &unit);
            assert!(
                found.iter().any(|p| p.contains(says)),
                "{}: {found:?}",
                unit.code
            );
        }
        // A department turned into a plain unit while a department sits under it.
        let mut records = records;
        records.push(record("D4", Some("D"), "department", "652300", 2024));
        let demoted = record("D", Some("652300"), "unit", "652300", 2024);
        let found = problems(&records, &demoted);
        assert!(
            found
                .iter()
                .any(|p| p.contains("D4 is registered under it")),
            "{found:?}"
        );
    }

    #[test]
    fn a_parent_must_exist_in_every_year_the_record_covers() {
        let mut parent = record("P", None, "department", "652300", 2024);
        parent.valid_to = Some(year(2025));
        let records = vec![parent];
        let child = record("C", Some("P"), "unit", "652300", 2024);
        let found = problems(&records, &child);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("not registered for 2026"), "{found:?}");
        let mut bounded = child.clone();
        bounded.valid_to = Some(year(2025));
        assert!(problems(&records, &bounded).is_empty());
    }

    #[test]
    fn region_codes_nest_as_administrative_divisions_do() {
        assert!(region_within("652301", "652300"));
        assert!(region_within("652300", "650000"));
        assert!(region_within("652301", "650000"));
        assert!(!region_within("652300", "652300"));
        assert!(!region_within("652800", "652300"));
        assert!(!region_within("660000", "650000"));
    }
}

//! The unit registry: registering units for spans of years, and reading one year's tree.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    domain::{
        consolidation::service::Consolidations,
        error::{DomainError, FieldViolation},
        ids::{FiscalYear, UnitCode},
        unit::Unit,
    },
    store::{Store, UnitUpsert},
};

/// A unit of a listed subtree, with its depth below the listing's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeNode {
    pub unit: Unit,
    pub depth: u32,
}

#[derive(Clone)]
pub struct Registry {
    store: Arc<dyn Store>,
    consolidations: Arc<Consolidations>,
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, consolidations: Arc<Consolidations>) -> Registry {
        Registry {
            store,
            consolidations,
        }
    }

    /// Registers a unit record. Returns the record and whether it was already registered exactly so.
    pub async fn register(&self, unit: Unit) -> Result<(Unit, bool), DomainError> {
        let mut violations = unit.check();
        let year = unit.valid_from;
        if let Some(parent) = &unit.parent {
            match self.store.unit(parent, year).await? {
                None => violations.push(FieldViolation::new(
                    "parent_code",
                    format!(
                        "unit {parent} is not registered for {year}; register the parent first"
                    ),
                )),
                Some(_) => {
                    if let Some(cycle) = self.cycle_through(&unit.code, parent, year).await? {
                        violations.push(FieldViolation::new(
                            "parent_code",
                            format!("{parent} would make a cycle in the {year} tree: {cycle}"),
                        ));
                    }
                }
            }
        }
        if let Some(department) = &unit.supervising_department {
            match self.store.unit(department, year).await? {
                None => violations.push(FieldViolation::new(
                    "supervising_department_code",
                    format!("unit {department} is not registered for {year}"),
                )),
                Some(found) if !found.is_department => violations.push(FieldViolation::new(
                    "supervising_department_code",
                    format!("unit {department} is not registered as a department (主管部门)"),
                )),
                Some(_) => {}
            }
        }
        if !violations.is_empty() {
            return Err(DomainError::InvalidArgument(violations));
        }
        let outcome = self.store.upsert_unit(&unit).await?;
        if outcome != UnitUpsert::Unchanged {
            // A unit added or moved changes the trees consolidation keeps.
            self.consolidations.on_unit_registered(&unit).await?;
        }
        Ok((unit, outcome == UnitUpsert::Unchanged))
    }

    /// Walks up from `parent`; returns the path if it reaches `code`.
    async fn cycle_through(
        &self,
        code: &UnitCode,
        parent: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<String>, DomainError> {
        let mut path = vec![code.to_string(), parent.to_string()];
        let mut current = parent.clone();
        // A tree deeper than this is a cycle the store already holds; stop rather than loop.
        for _ in 0..64 {
            let Some(unit) = self.store.unit(&current, year).await? else {
                return Ok(None);
            };
            let Some(next) = unit.parent else {
                return Ok(None);
            };
            path.push(next.to_string());
            if &next == code {
                return Ok(Some(path.join(" → ")));
            }
            current = next;
        }
        Ok(Some(path.join(" → ")))
    }

    pub async fn get(&self, code: &UnitCode, year: FiscalYear) -> Result<Unit, DomainError> {
        self.store
            .unit(code, year)
            .await?
            .ok_or_else(|| DomainError::NotFound {
                what: "unit",
                key: format!("{code} (fiscal year {year})"),
            })
    }

    /// A unit and all of its descendants in one year's tree, depth first (siblings by code); every unit of the
    /// year when `root` is `None`.
    pub async fn subtree(
        &self,
        root: Option<&UnitCode>,
        year: FiscalYear,
    ) -> Result<Vec<TreeNode>, DomainError> {
        let units = self.store.units_for_year(year).await?;
        let by_code: BTreeMap<UnitCode, Unit> =
            units.into_iter().map(|u| (u.code.clone(), u)).collect();
        let mut children: BTreeMap<&UnitCode, Vec<&UnitCode>> = BTreeMap::new();
        let mut roots: Vec<&UnitCode> = Vec::new();
        for unit in by_code.values() {
            match unit.parent.as_ref().filter(|p| by_code.contains_key(*p)) {
                Some(parent) => children.entry(parent).or_default().push(&unit.code),
                None => roots.push(&unit.code),
            }
        }
        let starts: Vec<&UnitCode> = match root {
            Some(code) => {
                let Some((code, _)) = by_code.get_key_value(code) else {
                    return Err(DomainError::NotFound {
                        what: "unit",
                        key: format!("{code} (fiscal year {year})"),
                    });
                };
                vec![code]
            }
            None => roots,
        };
        let mut out = Vec::new();
        let mut stack: Vec<(&UnitCode, u32)> = starts.into_iter().rev().map(|c| (c, 0)).collect();
        while let Some((code, depth)) = stack.pop() {
            out.push(TreeNode {
                unit: by_code[code].clone(),
                depth,
            });
            if let Some(kids) = children.get(code) {
                stack.extend(kids.iter().rev().map(|c| (*c, depth + 1)));
            }
        }
        Ok(out)
    }
}

//! The unit registry as a use case: registering and moving units (each checked against every year's forest),
//! reading the tree, and the units' signing keys.

use crate::domain::registry::{SigningKeyView, check_forest};
use crate::service::consolidation::Consolidations;
use crate::service::error::ServiceError;
use crate::{
    domain::{
        access::{Ask, Lineage, Principal, decide},
        audit::{Action, NewEvent},
        error::FieldViolation,
        ids::{FiscalYear, UnitCode},
        signing,
        unit::Unit,
    },
    store::{Store, UnitUpsert},
};
use std::{collections::BTreeMap, sync::Arc};

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

    /// A unit and its ancestors in a year's tree (empty when the unit is not registered for the year).
    pub async fn lineage(
        &self,
        code: &UnitCode,
        year: FiscalYear,
    ) -> Result<Lineage, ServiceError> {
        crate::service::access::lineage(self.store.as_ref(), code, year).await
    }

    /// Registers a unit record. Returns the record and whether it was already registered exactly so.
    pub async fn register(
        &self,
        actor: &Principal,
        unit: Unit,
    ) -> Result<(Unit, bool), ServiceError> {
        let year = unit.valid_from;
        let parent = match &unit.parent {
            Some(parent) => Some(self.lineage(parent, year).await?),
            None => None,
        };
        let existing = self.lineage(&unit.code, year).await?;
        let existing = (!existing.chain.is_empty()).then_some(existing);
        decide(
            actor,
            &Ask::Register {
                parent: parent.as_ref(),
                existing: existing.as_ref(),
            },
        )?;
        let mut violations = unit.check();
        // The parent's absence is told with the other problems at once; its place in every year's tree is
        // checked where the record is written (`check_forest`).
        if let (Some(parent_code), Some(parent)) = (&unit.parent, &parent)
            && parent.chain.is_empty()
        {
            violations.push(FieldViolation::new(
                "parent_code",
                format!(
                    "unit {parent_code} is not registered for {year}; register the parent first"
                ),
            ));
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
            return Err(ServiceError::InvalidArgument(violations));
        }
        let event = NewEvent::new(actor, Action::UnitRegistered)
            .about(&unit.code, Some(year))
            .detail(format!(
                "{} parent:{} region:{}{}{}",
                unit.name,
                unit.parent.as_ref().map_or("-", UnitCode::as_str),
                unit.fiscal_region,
                if unit.is_department {
                    " department"
                } else {
                    ""
                },
                if unit.is_region { " region" } else { "" }
            ));
        let rule = |records: &[Unit]| -> Result<(), Vec<FieldViolation>> {
            let violations = check_forest(records, &unit);
            if violations.is_empty() {
                Ok(())
            } else {
                Err(violations)
            }
        };
        let outcome = self
            .store
            .upsert_unit(&unit, Some(&rule), event)
            .await?
            .map_err(ServiceError::InvalidArgument)?;
        if outcome != UnitUpsert::Unchanged {
            // A unit added or moved changes the trees consolidation keeps.
            self.consolidations.on_unit_registered(&unit).await?;
        }
        Ok((unit, outcome == UnitUpsert::Unchanged))
    }

    /// A unit as registered for a year, for a caller who may read it.
    pub async fn get(
        &self,
        actor: &Principal,
        code: &UnitCode,
        year: FiscalYear,
    ) -> Result<Unit, ServiceError> {
        let lineage = self.lineage(code, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        lineage
            .chain
            .into_iter()
            .next()
            .ok_or_else(|| ServiceError::NotFound {
                what: "unit",
                key: format!("{code} (fiscal year {year})"),
            })
    }

    /// A subtree of a year's tree (every unit when `root` is `None`), for a caller who may read it.
    pub async fn list(
        &self,
        actor: &Principal,
        root: Option<&UnitCode>,
        year: FiscalYear,
    ) -> Result<Vec<TreeNode>, ServiceError> {
        match root {
            Some(code) => {
                let lineage = self.lineage(code, year).await?;
                decide(actor, &Ask::Read(&lineage))?;
            }
            None => decide(actor, &Ask::ReadEverything)?,
        }
        self.subtree(root, year).await
    }

    /// Sets or clears a unit's SM2 signing key.
    pub async fn set_signing_key(
        &self,
        actor: &Principal,
        code: &UnitCode,
        key: Option<&[u8]>,
    ) -> Result<SigningKeyView, ServiceError> {
        let records = self.store.unit_records(code).await?;
        let Some(latest) = records.last() else {
            // Nobody but an administrator learns whether the unit exists.
            decide(actor, &Ask::ManageTokens)?;
            return Err(ServiceError::NotFound {
                what: "unit",
                key: code.to_string(),
            });
        };
        let lineage = self.lineage(code, latest.valid_from).await?;
        let current = self.store.signing_key(code).await?;
        decide(
            actor,
            &Ask::SetSigningKey {
                unit: &lineage,
                replacing: current.is_some(),
            },
        )?;
        let key = key
            .map(signing::parse_public_key)
            .transpose()
            .map_err(|e| ServiceError::invalid("public_key", e.to_string()))?;
        let event = NewEvent::new(actor, Action::SigningKeySet)
            .about(code, None)
            .detail(match &key {
                Some(key) => format!("sm3:{}", signing::fingerprint(key)),
                None => "cleared".to_owned(),
            });
        self.store
            .set_signing_key(code, key.as_deref(), event)
            .await?;
        Ok(SigningKeyView {
            unit: code.clone(),
            public_key: key,
        })
    }

    /// The codes of a subtree of a year's tree, the root included.
    pub async fn subtree_codes(
        &self,
        root: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<UnitCode>, ServiceError> {
        Ok(self
            .subtree(Some(root), year)
            .await?
            .into_iter()
            .map(|n| n.unit.code)
            .collect())
    }

    /// A unit and all of its descendants in one year's tree, depth first (siblings by code); every unit of the
    /// year when `root` is `None`.
    pub async fn subtree(
        &self,
        root: Option<&UnitCode>,
        year: FiscalYear,
    ) -> Result<Vec<TreeNode>, ServiceError> {
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
                    return Err(ServiceError::NotFound {
                        what: "unit",
                        key: format!("{code} (fiscal year {year})"),
                    });
                };
                vec![code]
            }
            None => roots,
        };
        let mut out = Vec::new();
        // A cycle in stored records (which registration refuses, but a store may hold from before) must not make
        // the walk endless: each unit is listed once.
        let mut listed: std::collections::HashSet<&UnitCode> = std::collections::HashSet::new();
        let mut stack: Vec<(&UnitCode, u32)> = starts.into_iter().rev().map(|c| (c, 0)).collect();
        while let Some((code, depth)) = stack.pop() {
            if !listed.insert(code) {
                continue;
            }
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

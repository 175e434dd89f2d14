//! Budgets as a use case: a budget system stores a unit's 预算数 for a year, checked against the year's taxonomy,
//! and the stored budgets are read back.

use crate::domain::budget::{BudgetCell, NewBudget, StoredBudget, budget_figures};
use crate::service::error::ServiceError;
use crate::{
    domain::{
        access::{Ask, Principal, decide},
        audit::{Action, NewEvent, now_ms},
        ids::{FiscalYear, IdempotencyKey, UnitCode},
        taxonomy::Taxonomies,
    },
    store::{BudgetInsert, Store},
};
use std::sync::Arc;

/// Budget systems' figures: put as versions (services only), read by whoever may read the unit.
#[derive(Clone)]
pub struct Budgets {
    store: Arc<dyn Store>,
    taxonomies: Arc<Taxonomies>,
}

impl Budgets {
    pub fn new(store: Arc<dyn Store>, taxonomies: Arc<Taxonomies>) -> Budgets {
        Budgets { store, taxonomies }
    }

    /// Stores a new version of a unit's figures, or returns the version the key already made (`true`) when the
    /// figures are the same.
    pub async fn put(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        key: IdempotencyKey,
        cells: &[BudgetCell<'_>],
    ) -> Result<(StoredBudget, bool), ServiceError> {
        let lineage = crate::service::access::lineage(self.store.as_ref(), unit, year).await?;
        decide(actor, &Ask::PutBudget(&lineage))?;
        // Only those who may put any unit's budget get here, so saying that a unit does not exist tells them
        // nothing they may not know.
        if lineage.chain.is_empty() {
            return Err(ServiceError::NotFound {
                what: "unit",
                key: format!("{unit} (fiscal year {year})"),
            });
        }
        let taxonomy = self.taxonomies.get(year).ok_or_else(|| {
            ServiceError::invalid(
                "fiscal_year",
                format!(
                    "there is no taxonomy for fiscal year {year} (years with one: {})",
                    self.taxonomies.years_list()
                ),
            )
        })?;
        let figures = budget_figures(taxonomy, cells).map_err(ServiceError::InvalidArgument)?;
        let new = NewBudget {
            unit_code: unit.clone(),
            fiscal_year: year,
            idempotency_key: key,
            figures,
            put_by: actor.to_string(),
            put_at_ms: now_ms(),
        };
        let event = NewEvent::new(actor, Action::BudgetPut)
            .about(unit, Some(year))
            .detail(format!(
                "key {} figures {}",
                new.idempotency_key.as_str(),
                new.figures.len()
            ));
        match self.store.insert_budget(&new, event).await? {
            BudgetInsert::Inserted(stored) => Ok((stored, false)),
            BudgetInsert::KeyTaken(stored) if stored.figures == new.figures => Ok((stored, true)),
            BudgetInsert::KeyTaken(stored) => Err(ServiceError::AlreadyExists(format!(
                "idempotency key {} was used for version {} of {unit}/{year} with other figures",
                stored.idempotency_key, stored.version
            ))),
        }
    }

    /// A version of a unit's figures (the latest when `version` is `None`).
    pub async fn get(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<StoredBudget, ServiceError> {
        let lineage = crate::service::access::lineage(self.store.as_ref(), unit, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        self.store
            .budget_version(unit, year, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "budget",
                key: match version {
                    Some(version) => format!("{unit}/{year} version {version}"),
                    None => format!("{unit}/{year}"),
                },
            })
    }
}

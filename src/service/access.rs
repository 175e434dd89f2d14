//! Reading what authorization decides on from the store: a unit's lineage in a year's tree.

use crate::{
    domain::{
        access::{Lineage, MAX_DEPTH},
        ids::{FiscalYear, UnitCode},
        unit::Unit,
    },
    service::error::ServiceError,
    store::Store,
};

/// Reads a unit's lineage in a year's tree from the store.
pub async fn lineage(
    store: &dyn Store,
    code: &UnitCode,
    year: FiscalYear,
) -> Result<Lineage, ServiceError> {
    let mut chain: Vec<Unit> = Vec::new();
    let mut next = Some(code.clone());
    while let Some(current) = next.take() {
        if chain.len() >= MAX_DEPTH || chain.iter().any(|u| u.code == current) {
            break;
        }
        let Some(unit) = store.unit(&current, year).await? else {
            break;
        };
        next = unit.parent.clone();
        chain.push(unit);
    }
    Ok(Lineage {
        subject: code.clone(),
        year,
        chain,
    })
}

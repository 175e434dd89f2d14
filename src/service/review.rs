//! The review chain as a use case: accept, return, revert, lock and unlock through the store, each decided by the
//! rules of `domain::review`, and the queue and status a reviewer reads.

use crate::domain::review::{
    Decision, LockRecord, MAX_REASON_CHARS, Refusal, ReviewSnapshot, transition,
};
use crate::service::consolidation::Consolidations;
use crate::service::error::ServiceError;
use crate::service::registry::Registry;
use crate::{
    domain::{
        access::{Ask, Lineage, Principal, decide},
        audit::{Action, NewEvent},
        disclosure::ReportType,
        ids::{FiscalYear, UnitCode},
        submission::SubmissionState,
        unit::Unit,
        validation::Severity,
    },
    store::{Store, SubmissionStatus},
};
use std::{collections::HashSet, sync::Arc};

/// Where a unit's disclosure of one report type stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearStatus {
    pub unit: UnitCode,
    pub fiscal_year: FiscalYear,
    pub report_type: ReportType,
    pub current: Option<(u32, SubmissionState)>,
    pub accepted: Option<u32>,
    pub lock: Option<LockRecord>,
}

/// A version waiting for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVersion {
    pub unit: Unit,
    pub version: u32,
    pub report_type: ReportType,
    pub submitted_at_ms: i64,
    pub warnings: u32,
    pub unexplained_warnings: u32,
    pub reviewer_node: Option<UnitCode>,
}

/// A lock's state after a lock or unlock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockOutcome {
    pub node: UnitCode,
    pub fiscal_year: FiscalYear,
    pub lock: Option<LockRecord>,
    pub units: u32,
    pub units_accepted: u32,
    pub audit_seq: u64,
}

fn reason_text(field: &str, text: &str, required: bool) -> Result<String, ServiceError> {
    let text = text.trim();
    if required && text.is_empty() {
        return Err(ServiceError::invalid(field, "is required: say why"));
    }
    if text.chars().count() > MAX_REASON_CHARS {
        return Err(ServiceError::invalid(
            field,
            format!("is longer than {MAX_REASON_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// The review chain as a service.
#[derive(Clone)]
pub struct Reviews {
    store: Arc<dyn Store>,
    registry: Registry,
    consolidations: Arc<Consolidations>,
}

impl Reviews {
    pub fn new(
        store: Arc<dyn Store>,
        registry: Registry,
        consolidations: Arc<Consolidations>,
    ) -> Reviews {
        Reviews {
            store,
            registry,
            consolidations,
        }
    }

    /// Applies a reviewer's decision on a version.
    pub async fn decide(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        decision: Decision<'_>,
        comment: &str,
    ) -> Result<(YearStatus, u64), ServiceError> {
        let lineage = self.registry.lineage(unit, year).await?;
        decide(actor, &Ask::Review(&lineage))?;
        if version == 0 {
            return Err(ServiceError::invalid(
                "version",
                "name the version you reviewed (1 or more)",
            ));
        }
        let (action, reason) = match decision {
            Decision::Accept => (Action::Accept, reason_text("comment", comment, false)?),
            Decision::Return { reason } => (Action::Return, reason_text("reason", reason, true)?),
            Decision::Revert => (Action::Revert, reason_text("reason", comment, true)?),
        };
        let decision = match decision {
            Decision::Return { .. } => Decision::Return { reason: &reason },
            other => other,
        };
        let event = NewEvent::new(actor, action)
            .about(unit, Some(year))
            .version(version)
            .reason(reason.clone());
        let rule = move |snapshot: &ReviewSnapshot| transition(decision, version, snapshot);
        let (transition, report_type, seq) = self
            .store
            .review(unit, year, version, &lineage.codes(), &rule, event)
            .await??;
        if report_type == ReportType::Single && transition.accepted.is_some() {
            self.consolidations.on_counted(unit, year).await?;
        }
        let status = self.status(unit, year, report_type, &lineage).await?;
        tracing::info!(unit = %unit, year = %year, version, action = action.code(), actor = %actor, "review");
        Ok((status, seq))
    }

    /// Where a unit's disclosure of a report type stands.
    pub async fn status(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
        lineage: &Lineage,
    ) -> Result<YearStatus, ServiceError> {
        let pointers = self.store.pointers(unit, year, report_type).await?;
        let lock = self.store.lock_covering(year, &lineage.codes()).await?;
        Ok(YearStatus {
            unit: unit.clone(),
            fiscal_year: year,
            report_type,
            current: pointers.current,
            accepted: pointers.accepted,
            lock,
        })
    }

    /// Locks a node's subtree for the year.
    pub async fn lock(
        &self,
        actor: &Principal,
        node: &UnitCode,
        year: FiscalYear,
        comment: &str,
    ) -> Result<LockOutcome, ServiceError> {
        let lineage = self.registry.lineage(node, year).await?;
        decide(actor, &Ask::Lock(&lineage))?;
        let comment = reason_text("comment", comment, false)?;
        if lineage.chain.is_empty() {
            return Err(ServiceError::NotFound {
                what: "node",
                key: format!("{node} (fiscal year {year})"),
            });
        }
        let taxonomies = self.consolidations.taxonomies();
        if taxonomies.get(year).is_none() {
            return Err(ServiceError::FailedPrecondition(format!(
                "fiscal year {year} has no taxonomy (years with one: {}): no disclosure of it can be checked or \
                 accepted, so there is nothing to lock",
                taxonomies.years_list()
            )));
        }
        let locker = actor
            .unit_code()
            .cloned()
            .ok_or_else(|| ServiceError::Internal("a lock by a non-tree principal".into()))?;
        let subtree: HashSet<UnitCode> = self
            .registry
            .subtree_codes(node, year)
            .await?
            .into_iter()
            .collect();
        let record = LockRecord {
            node: node.clone(),
            fiscal_year: year,
            locked_by_node: locker,
            locked_by: actor.to_string(),
            locked_at_ms: crate::domain::audit::now_ms(),
        };
        let rule = |existing: Option<&LockRecord>, pending: &[UnitCode]| -> Result<(), Refusal> {
            if let Some(lock) = existing {
                return Err(Refusal::Precondition(format!(
                    "{node} is already locked for {year} (by {})",
                    lock.locked_by_node
                )));
            }
            let waiting: Vec<&UnitCode> = pending.iter().filter(|u| subtree.contains(*u)).collect();
            if !waiting.is_empty() {
                let shown: Vec<String> = waiting.iter().take(5).map(|u| u.to_string()).collect();
                return Err(Refusal::Precondition(format!(
                    "{} unit(s) of the subtree have a version pending review ({}{}); accept or return them first",
                    waiting.len(),
                    shown.join(", "),
                    if waiting.len() > 5 { ", …" } else { "" }
                )));
            }
            Ok(())
        };
        let event = NewEvent::new(actor, Action::Lock)
            .about(node, Some(year))
            .reason(comment);
        let seq = self.store.lock(&record, &rule, event).await??;
        self.lock_outcome(node, year, Some(record), seq, &subtree)
            .await
    }

    /// Unlocks a node's subtree; only a reviewer at the locking node or above may.
    pub async fn unlock(
        &self,
        actor: &Principal,
        node: &UnitCode,
        year: FiscalYear,
        reason: &str,
    ) -> Result<LockOutcome, ServiceError> {
        let lineage = self.registry.lineage(node, year).await?;
        // Whoever may not even lock here learns nothing of the lock.
        decide(actor, &Ask::Lock(&lineage))?;
        let lock = self.store.lock_of(node, year).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(format!("{node} is not locked for {year}"))
        })?;
        let locker = self.registry.lineage(&lock.locked_by_node, year).await?;
        decide(actor, &Ask::Unlock { locked_by: &locker })?;
        let reason = reason_text("reason", reason, true)?;
        let event = NewEvent::new(actor, Action::Unlock)
            .about(node, Some(year))
            .reason(reason)
            .detail(format!("locked by {}", lock.locked_by_node));
        let seq = self.store.unlock(node, year, event).await?.ok_or_else(|| {
            ServiceError::FailedPrecondition(format!("{node} is not locked for {year}"))
        })?;
        let subtree: HashSet<UnitCode> = self
            .registry
            .subtree_codes(node, year)
            .await?
            .into_iter()
            .collect();
        self.lock_outcome(node, year, None, seq, &subtree).await
    }

    async fn lock_outcome(
        &self,
        node: &UnitCode,
        year: FiscalYear,
        lock: Option<LockRecord>,
        audit_seq: u64,
        subtree: &HashSet<UnitCode>,
    ) -> Result<LockOutcome, ServiceError> {
        let units = self.registry.subtree(Some(node), year).await?;
        let expected: Vec<&Unit> = units
            .iter()
            .map(|n| &n.unit)
            .filter(|u| !u.is_region && subtree.contains(&u.code))
            .collect();
        let statuses = self.store.submission_statuses(year).await?;
        let accepted = statuses
            .iter()
            .filter(|s| subtree.contains(&s.unit_code) && s.counted_version.is_some())
            .count();
        Ok(LockOutcome {
            node: node.clone(),
            fiscal_year: year,
            lock,
            units: expected.len() as u32,
            units_accepted: accepted as u32,
            audit_seq,
        })
    }

    /// The versions of a subtree waiting for review, depth first.
    pub async fn pending(
        &self,
        actor: &Principal,
        node: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<PendingVersion>, ServiceError> {
        let lineage = self.registry.lineage(node, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        let units = self.registry.subtree(Some(node), year).await?;
        let statuses: std::collections::HashMap<UnitCode, SubmissionStatus> = self
            .store
            .submission_statuses(year)
            .await?
            .into_iter()
            .map(|s| (s.unit_code.clone(), s))
            .collect();
        let mut out = Vec::new();
        for tree_node in units {
            let Some(status) = statuses.get(&tree_node.unit.code) else {
                continue;
            };
            for (report_type, version, state) in &status.current {
                if *state != SubmissionState::PendingReview {
                    continue;
                }
                let Some(stored) = self
                    .store
                    .submission(&tree_node.unit.code, year, Some(*version))
                    .await?
                else {
                    continue;
                };
                out.push(PendingVersion {
                    reviewer_node: tree_node.unit.parent.clone(),
                    unit: tree_node.unit.clone(),
                    version: *version,
                    report_type: *report_type,
                    submitted_at_ms: stored.submitted_at_ms,
                    warnings: stored.report.count(Severity::Warning) as u32,
                    unexplained_warnings: stored.report.unexplained_warnings() as u32,
                });
            }
        }
        Ok(out)
    }
}

impl From<Refusal> for ServiceError {
    fn from(refusal: Refusal) -> ServiceError {
        match refusal {
            Refusal::NotFound(key) => ServiceError::NotFound {
                what: "version",
                key,
            },
            Refusal::Precondition(message) => ServiceError::FailedPrecondition(message),
        }
    }
}

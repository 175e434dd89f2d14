//! Reading and verifying the audit trail through the store: pages of events for a subtree, the chain verified
//! from its start with every stored version's bytes, and signed heads.

use crate::domain::audit::{
    DEFAULT_PAGE, Event, GENESIS, KeptHead, MAX_PAGE, SignedHead, Verification, Verifier,
    head_message,
};
use crate::service::error::ServiceError;
use crate::{
    domain::{
        access::{Ask, Principal, decide},
        ids::{FiscalYear, UnitCode},
    },
    store::{EventFilter, Store},
};
use std::{collections::HashSet, sync::Arc};

/// A read of the trail.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// A node whose subtree's events are read (with the year); `None` for all events.
    pub node: Option<UnitCode>,
    pub fiscal_year: Option<FiscalYear>,
    pub actor_contains: Option<String>,
    pub after_seq: u64,
    pub limit: u32,
}

/// Reading and verifying the trail.
#[derive(Clone)]
pub struct AuditTrail {
    store: Arc<dyn Store>,
    /// The server's SM2 key, which signs the heads it gives out.
    signer: Option<Arc<sm2::dsa::SigningKey>>,
}

impl AuditTrail {
    pub fn new(store: Arc<dyn Store>) -> AuditTrail {
        AuditTrail {
            store,
            signer: None,
        }
    }

    /// A trail that signs the heads it gives out with this key.
    pub fn with_signer(mut self, key: Arc<sm2::dsa::SigningKey>) -> AuditTrail {
        self.signer = Some(key);
        self
    }

    /// The chain's head, signed (administrators).
    pub async fn head(&self, actor: &Principal) -> Result<SignedHead, ServiceError> {
        decide(actor, &Ask::VerifyAudit)?;
        self.head_unchecked().await
    }

    /// The chain's head, signed, for `juesuan audit head` reading the store itself.
    pub async fn head_unchecked(&self) -> Result<SignedHead, ServiceError> {
        let key = self.signer.as_ref().ok_or_else(|| {
            ServiceError::FailedPrecondition(
                "this server has no signing key for audit heads".into(),
            )
        })?;
        let seq = self.store.last_event_seq().await?;
        let hash = if seq == 0 {
            GENESIS
        } else {
            self.store
                .audit_events(&EventFilter {
                    after_seq: seq - 1,
                    limit: 1,
                    ..EventFilter::default()
                })
                .await?
                .first()
                .map(|e| e.hash)
                .ok_or_else(|| ServiceError::Internal(format!("event {seq} vanished")))?
        };
        Ok(SignedHead {
            seq,
            hash,
            signature: crate::domain::signing::sign(key, &head_message(seq, &hash)),
            public_key: crate::domain::signing::public_key_of(key),
        })
    }

    /// Events in chain order, and the seq to read on from when there may be more.
    pub async fn list(
        &self,
        actor: &Principal,
        query: EventQuery,
    ) -> Result<(Vec<Event>, Option<u64>), ServiceError> {
        let limit = match query.limit {
            0 => DEFAULT_PAGE,
            n if n > MAX_PAGE => {
                return Err(ServiceError::invalid(
                    "limit",
                    format!("is more than {MAX_PAGE}"),
                ));
            }
            n => n,
        };
        let subtree: Option<HashSet<UnitCode>> = match (&query.node, query.fiscal_year) {
            (Some(node), Some(year)) => {
                let lineage =
                    crate::service::access::lineage(self.store.as_ref(), node, year).await?;
                decide(actor, &Ask::Read(&lineage))?;
                let units = self.store.units_for_year(year).await?;
                Some(subtree_of(node, &units))
            }
            (Some(_), None) => {
                return Err(ServiceError::invalid(
                    "fiscal_year",
                    "is required with node_code: the subtree is a year's",
                ));
            }
            (None, _) => {
                decide(actor, &Ask::ReadEverything)?;
                None
            }
        };
        let mut out = Vec::new();
        let mut after = query.after_seq;
        // Events outside the subtree are skipped, so a page is read in batches until it is full or the trail ends.
        loop {
            let batch = self
                .store
                .audit_events(&EventFilter {
                    fiscal_year: query.fiscal_year,
                    actor_contains: query.actor_contains.clone(),
                    after_seq: after,
                    limit: MAX_PAGE,
                })
                .await?;
            let exhausted = batch.len() < MAX_PAGE as usize;
            for event in batch {
                after = event.seq;
                let inside = match (&subtree, &event.event.unit) {
                    (None, _) => true,
                    (Some(codes), Some(unit)) => codes.contains(unit),
                    (Some(_), None) => false,
                };
                if inside {
                    out.push(event);
                    if out.len() == limit as usize {
                        return Ok((out, Some(after)));
                    }
                }
            }
            if exhausted {
                return Ok((out, None));
            }
        }
    }

    /// Recomputes the whole chain and every stored version's digest (administrators).
    pub async fn verify(
        &self,
        actor: &Principal,
        kept: Option<KeptHead>,
    ) -> Result<Verification, ServiceError> {
        decide(actor, &Ask::VerifyAudit)?;
        self.verify_unchecked(kept).await
    }

    /// Recomputes the whole chain, then the SM3 digest of every stored version from its stored bytes against the
    /// digest its submission event sealed into the chain: a version whose bytes were swapped for others is named.
    /// For `juesuan audit verify` reading the store itself.
    pub async fn verify_unchecked(
        &self,
        kept: Option<KeptHead>,
    ) -> Result<Verification, ServiceError> {
        let mut verifier = Verifier::against(kept);
        self.store
            .audit_chain(&mut |event| verifier.push(&event))
            .await?;
        let mut damaged = Vec::new();
        let mut checked = 0;
        self.store
            .version_contents(&mut |content| {
                checked += 1;
                damaged.extend(verifier.check_content(&content));
                true
            })
            .await?;
        let mut verification = verifier.finish();
        verification.versions_checked = checked;
        verification.damaged = damaged;
        Ok(verification)
    }
}

/// The codes of a node's subtree among a year's units.
pub(crate) fn subtree_of(
    root: &UnitCode,
    units: &[crate::domain::unit::Unit],
) -> HashSet<UnitCode> {
    let mut children: std::collections::HashMap<&UnitCode, Vec<&UnitCode>> =
        std::collections::HashMap::new();
    for unit in units {
        if let Some(parent) = &unit.parent {
            children.entry(parent).or_default().push(&unit.code);
        }
    }
    let mut out = HashSet::new();
    let mut stack = vec![root];
    while let Some(code) = stack.pop() {
        if out.insert(code.clone())
            && let Some(kids) = children.get(code)
        {
            stack.extend(kids.iter().copied());
        }
    }
    out
}

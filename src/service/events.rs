//! Following a subtree's events as they happen (`Events.Watch`): the audit chain read from a cursor, the events
//! of the subtree's units for the year passed on in chain order, then each new one. The cursor is the event's place
//! in the chain, so a watcher that reconnects with the last cursor it received misses nothing and sees nothing
//! twice, on any replica.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use tokio::sync::{Semaphore, mpsc};

use crate::service::audit::subtree_of;
use crate::service::error::ServiceError;
use crate::service::tokens::{AuthenticationFailure, still_authenticated};
use crate::{
    domain::{
        access::{Ask, Principal, decide},
        audit::{Action, Event},
        ids::{FiscalYear, UnitCode},
    },
    store::{EventFilter, Store},
};

/// Watches served at once: each holds a task and reads the store while it waits.
pub const MAX_WATCHES: usize = 256;
/// Watches one principal (a unit's role, a service, the administrators) may hold at once, so that one reader
/// cannot take every slot.
pub const MAX_WATCHES_PER_PRINCIPAL: usize = 8;
/// How often an idle watch looks for new events: the most a new event waits to be sent.
pub const POLL_EVERY: Duration = Duration::from_millis(200);
/// Events read from the store at a time.
const BATCH: u32 = 500;
/// How often a watch checks that its caller may still watch (token live, node still readable): the longest a
/// revoked token or a moved unit keeps receiving events.
pub const RECHECK_EVERY: Duration = Duration::from_secs(1);

/// An event of the watched subtree.
#[derive(Debug, Clone)]
pub struct WatchedEvent {
    pub event: Event,
    /// A version was accepted or reverted: what the node's consolidation counts changed.
    pub consolidation_changed: bool,
}

#[derive(Clone)]
pub struct EventFeed {
    store: Arc<dyn Store>,
    watches: Arc<Semaphore>,
    /// Open watches by principal (its kind: "unit:…/reviewer", "service:…", "admin").
    by_principal: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    per_principal: usize,
}

/// A principal's hold on one of its watch slots, given back when the watch ends.
struct PrincipalSlot {
    counts: Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>,
    key: String,
}

impl Drop for PrincipalSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

impl EventFeed {
    pub fn new(store: Arc<dyn Store>) -> EventFeed {
        EventFeed::with_limits(store, MAX_WATCHES, MAX_WATCHES_PER_PRINCIPAL)
    }

    /// A feed serving at most `total` watches at once, at most `per_principal` of them to one principal.
    pub fn with_limits(store: Arc<dyn Store>, total: usize, per_principal: usize) -> EventFeed {
        EventFeed {
            store,
            watches: Arc::new(Semaphore::new(total)),
            by_principal: Arc::default(),
            per_principal: per_principal.max(1),
        }
    }

    /// Takes one of a principal's slots, or says the principal holds all of its own.
    fn principal_slot(&self, actor: &Principal) -> Result<PrincipalSlot, ServiceError> {
        let key = actor.kind.to_string();
        let mut counts = self.by_principal.lock().unwrap_or_else(|e| e.into_inner());
        let count = counts.entry(key.clone()).or_default();
        if *count >= self.per_principal {
            return Err(ServiceError::Exhausted(format!(
                "{key} has {} watches open, the most one caller may hold; close one or retry later",
                self.per_principal
            )));
        }
        *count += 1;
        Ok(PrincipalSlot {
            counts: self.by_principal.clone(),
            key,
        })
    }

    /// Starts watching `node`'s subtree for `year` after `cursor`, for those who may read the node. The events come
    /// on the receiver until it is dropped; an error ends the watch.
    pub async fn watch(
        &self,
        actor: &Principal,
        node: &UnitCode,
        year: FiscalYear,
        cursor: u64,
    ) -> Result<mpsc::Receiver<Result<WatchedEvent, ServiceError>>, ServiceError> {
        let lineage = crate::service::access::lineage(self.store.as_ref(), node, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        // A cursor beyond the chain's head names an event that does not exist (a cursor of another deployment, a
        // typo): said at once rather than waited on.
        let head = self.store.last_event_seq().await?;
        if cursor > head {
            return Err(ServiceError::OutOfRange(format!(
                "after_seq {cursor} is beyond the last event of the audit chain ({head}); resume from a cursor this \
                 service gave, or 0"
            )));
        }
        let slot = self.principal_slot(actor)?;
        let permit = self.watches.clone().try_acquire_owned().map_err(|_| {
            ServiceError::Exhausted(
                "every watch slot of the service is taken; retry later".to_owned(),
            )
        })?;
        let (sender, receiver) = mpsc::channel(64);
        let store = self.store.clone();
        let node = node.clone();
        let actor = actor.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _slot = slot;
            let watch = Watch {
                store: store.as_ref(),
                actor: &actor,
                node: &node,
                year,
            };
            if let Err(error) = follow(&watch, cursor, &sender).await {
                let _ = sender.send(Err(error)).await;
            }
        });
        Ok(receiver)
    }
}

/// What a running watch follows, and for whom.
struct Watch<'a> {
    store: &'a dyn Store,
    actor: &'a Principal,
    node: &'a UnitCode,
    year: FiscalYear,
}

impl Watch<'_> {
    /// The caller may still watch: an error ends the watch with it.
    async fn recheck(&self) -> Result<(), ServiceError> {
        still_authenticated(self.store, self.actor)
            .await
            .map_err(|failure| match failure {
                AuthenticationFailure::Credential(reason) => ServiceError::Unauthenticated(reason),
                AuthenticationFailure::Store(error) => ServiceError::Store(error),
            })?;
        let lineage = crate::service::access::lineage(self.store, self.node, self.year).await?;
        decide(self.actor, &Ask::Read(&lineage))?;
        Ok(())
    }
}

/// Sends the subtree's events after `cursor` until the receiver is dropped, or the caller may no longer watch.
async fn follow(
    watch: &Watch<'_>,
    mut cursor: u64,
    sender: &mpsc::Sender<Result<WatchedEvent, ServiceError>>,
) -> Result<(), ServiceError> {
    let Watch {
        store, node, year, ..
    } = *watch;
    let mut checked = Instant::now();
    let mut subtree: HashSet<UnitCode> = subtree_of(node, &store.units_for_year(year).await?);
    loop {
        if checked.elapsed() >= RECHECK_EVERY {
            watch.recheck().await?;
            checked = Instant::now();
        }
        let batch = store
            .audit_events(&EventFilter {
                after_seq: cursor,
                limit: BATCH,
                ..EventFilter::default()
            })
            .await?;
        let exhausted = batch.len() < BATCH as usize;
        for event in batch {
            cursor = event.seq;
            let action = event.event.action.as_str();
            // A unit registered for this year (or before, still in force) may join or leave the subtree.
            if action == Action::UnitRegistered.code()
                && event.event.fiscal_year.is_some_and(|from| from <= year)
            {
                subtree = subtree_of(node, &store.units_for_year(year).await?);
            }
            let inside = event.event.fiscal_year == Some(year)
                && event
                    .event
                    .unit
                    .as_ref()
                    .is_some_and(|unit| subtree.contains(unit));
            if !inside {
                continue;
            }
            let consolidation_changed =
                action == Action::Accept.code() || action == Action::Revert.code();
            let watched = WatchedEvent {
                event,
                consolidation_changed,
            };
            if sender.send(Ok(watched)).await.is_err() {
                return Ok(()); // the watcher went away
            }
        }
        if exhausted {
            tokio::select! {
                () = sender.closed() => return Ok(()),
                () = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    }
}

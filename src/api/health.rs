//! What the gRPC health service says, and why: every service (and the server, "") serves while the store
//! answers; Consolidation also waits for its warm-up; `juesuan.Liveness` serves while the process answers at all. A monitor pings the store every second, so that a probe sees NOT_SERVING while the
//! database is down (calls then get UNAVAILABLE) and SERVING again once it is back, without a restart.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tonic_health::{ServingStatus, server::HealthReporter};

use crate::{
    api::{
        audit::AuditService,
        budgets::{BudgetsService, EventsService},
        consolidation::ConsolidationService,
        review::ReviewService,
        submissions::SubmissionsService,
        tokens::TokensService,
        units::UnitRegistryService,
    },
    pb::{
        audit_server::AuditServer, budgets_server::BudgetsServer,
        consolidation_server::ConsolidationServer, events_server::EventsServer,
        review_server::ReviewServer, submissions_server::SubmissionsServer,
        tokens_server::TokensServer, unit_registry_server::UnitRegistryServer,
    },
    store::Store,
};

/// The health name that only says the process answers, whatever the store does: for liveness probes, which
/// should restart a hung process, not every replica while the database is away.
pub const LIVENESS_SERVICE: &str = "juesuan.Liveness";

/// How often the store is pinged, and how long a ping may take before the store counts as down.
const PING_EVERY: Duration = Duration::from_secs(1);
const PING_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Clone)]
pub struct HealthBoard {
    reporter: HealthReporter,
    store_up: Arc<AtomicBool>,
    consolidation_warm: Arc<AtomicBool>,
}

impl HealthBoard {
    /// Starts with the store up and consolidation cold.
    pub async fn new(reporter: HealthReporter) -> HealthBoard {
        let board = HealthBoard {
            reporter,
            store_up: Arc::new(AtomicBool::new(true)),
            consolidation_warm: Arc::new(AtomicBool::new(false)),
        };
        board.publish().await;
        board
    }

    pub async fn consolidation_warmed(&self) {
        self.consolidation_warm.store(true, Ordering::SeqCst);
        self.publish().await;
    }

    /// Records whether the store answered; says so in the log and to probes when that changes.
    pub async fn store_answered(&self, up: bool) {
        if self.store_up.swap(up, Ordering::SeqCst) == up {
            return;
        }
        if up {
            tracing::info!("the store answers again; serving");
        } else {
            tracing::warn!("the store does not answer; health says NOT_SERVING until it does");
        }
        self.publish().await;
    }

    async fn publish(&self) {
        let status = |serving: bool| {
            if serving {
                ServingStatus::Serving
            } else {
                ServingStatus::NotServing
            }
        };
        let up = self.store_up.load(Ordering::SeqCst);
        let warm = self.consolidation_warm.load(Ordering::SeqCst);
        let reporter = &self.reporter;
        reporter
            .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
            .await;
        reporter.set_service_status("", status(up)).await;
        for (service, serving) in [
            (
                service_name::<UnitRegistryServer<UnitRegistryService>>(),
                up,
            ),
            (service_name::<SubmissionsServer<SubmissionsService>>(), up),
            (service_name::<ReviewServer<ReviewService>>(), up),
            (service_name::<AuditServer<AuditService>>(), up),
            (service_name::<TokensServer<TokensService>>(), up),
            (service_name::<BudgetsServer<BudgetsService>>(), up),
            (service_name::<EventsServer<EventsService>>(), up),
            (
                service_name::<ConsolidationServer<ConsolidationService>>(),
                up && warm,
            ),
        ] {
            reporter.set_service_status(service, status(serving)).await;
        }
    }

    /// Pings the store until `stop` resolves.
    pub async fn monitor(self, store: Arc<dyn Store>, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(PING_EVERY) => {}
            }
            let answered = matches!(
                tokio::time::timeout(PING_TIMEOUT, store.ping()).await,
                Ok(Ok(()))
            );
            self.store_answered(answered).await;
        }
    }
}

fn service_name<S: tonic::server::NamedService>() -> &'static str {
    S::NAME
}

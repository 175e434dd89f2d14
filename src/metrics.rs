//! Prometheus metrics for operators: calls and their latency by RPC and status code, findings by rule, and the size
//! of the consolidation state, served as OpenMetrics text on `--metrics-listen` (`GET /metrics`).
//!
//! Labels are bounded: an RPC label is one of the methods the service declares (anything else a client sends is
//! counted as "other"), a rule label one of the taxonomy's rule ids, so no client can grow the registry.

use std::{
    collections::HashSet,
    sync::{Arc, atomic::AtomicI64},
};

use prometheus_client::{
    encoding::EncodeLabelSet,
    metrics::{counter::Counter, family::Family, gauge::Gauge, histogram::Histogram},
    registry::Registry,
};

use crate::domain::validation::Report;
use crate::service::consolidation::Consolidations;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    rpc: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RpcLabels {
    rpc: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    rule: String,
    severity: String,
}

/// The service's metrics. Cheap to clone (handles to one registry).
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    methods: Arc<HashSet<String>>,
    calls: Family<CallLabels, Counter>,
    latency: Family<RpcLabels, Histogram>,
    findings: Family<FindingLabels, Counter>,
    store_latency: Family<OperationLabels, Histogram>,
    consolidation_bytes: Gauge<i64, AtomicI64>,
}

impl Metrics {
    /// Metrics for a service whose RPCs are `methods` (paths such as "/juesuan.v1.Submissions/Validate").
    pub fn new(methods: impl IntoIterator<Item = String>) -> Metrics {
        let mut registry = Registry::with_prefix("juesuan");
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "rpc_calls",
            "Calls answered, by RPC and gRPC status code",
            calls.clone(),
        );
        // 0.25 ms to about 8 s: a validation takes about a millisecond, a first consolidation of a large year
        // seconds.
        let latency = Family::<RpcLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.000_25, 2.0, 16,
            ))
        });
        registry.register(
            "rpc_duration_seconds",
            "Time from a call's arrival to its response headers, by RPC",
            latency.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings reported by Validate and Submit, by rule and severity",
            findings.clone(),
        );
        // 50 µs to about 1.6 s: a keyed read takes well under a millisecond, a year's counted figures seconds.
        let store_latency = Family::<OperationLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
                0.000_05, 2.0, 16,
            ))
        });
        registry.register(
            "store_duration_seconds",
            "Time each store operation took (SQLite or PostgreSQL), by operation",
            store_latency.clone(),
        );
        let consolidation_bytes = Gauge::<i64, AtomicI64>::default();
        registry.register(
            "consolidation_state_bytes",
            "Memory held by the consolidation state of the years built so far",
            consolidation_bytes.clone(),
        );
        Metrics {
            registry: Arc::new(registry),
            methods: Arc::new(methods.into_iter().collect()),
            calls,
            latency,
            findings,
            store_latency,
            consolidation_bytes,
        }
    }

    /// What a [`TimedStore`](crate::store::TimedStore) reports each operation's duration to.
    pub fn store_observer(&self) -> crate::store::StoreObserver {
        let store_latency = self.store_latency.clone();
        Arc::new(move |operation, duration| {
            store_latency
                .get_or_create(&OperationLabels { operation })
                .observe(duration.as_secs_f64());
        })
    }

    /// The label of a request path: the path when it is a declared RPC, else "other".
    pub fn rpc_label(&self, path: &str) -> String {
        if self.methods.contains(path) {
            path.to_owned()
        } else {
            "other".to_owned()
        }
    }

    pub fn observe_call(&self, rpc: &str, code: &str, seconds: f64) {
        self.calls
            .get_or_create(&CallLabels {
                rpc: rpc.to_owned(),
                code: code.to_owned(),
            })
            .inc();
        self.latency
            .get_or_create(&RpcLabels {
                rpc: rpc.to_owned(),
            })
            .observe(seconds);
    }

    pub fn count_findings(&self, report: &Report) {
        for finding in &report.findings {
            self.findings
                .get_or_create(&FindingLabels {
                    rule: finding.rule_id.clone(),
                    severity: finding.severity.name().to_owned(),
                })
                .inc();
        }
    }

    /// The metrics as OpenMetrics text.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String does not fail");
        text
    }
}

/// The content type of [`Metrics::encode`]'s text.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves `GET /metrics` until `shutdown` resolves. The consolidation gauge is read at each scrape.
pub async fn serve(
    listener: tokio::net::TcpListener,
    metrics: Metrics,
    consolidations: Arc<Consolidations>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::{Router, http::header, routing::get};
    let scrape = move || {
        let metrics = metrics.clone();
        let consolidations = consolidations.clone();
        async move {
            let bytes = consolidations.state_bytes().await;
            metrics
                .consolidation_bytes
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
            ([(header::CONTENT_TYPE, CONTENT_TYPE)], metrics.encode())
        }
    };
    let router = Router::new().route("/metrics", get(scrape));
    tracing::info!(address = ?listener.local_addr().ok(), "serving metrics");
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_is_not_a_declared_rpc_is_counted_as_other() {
        let metrics = Metrics::new(["/juesuan.v1.Submissions/Validate".to_owned()]);
        let validate = metrics.rpc_label("/juesuan.v1.Submissions/Validate");
        let unknown = metrics.rpc_label("/juesuan.v1.Submissions/Anything");
        metrics.observe_call(&validate, "OK", 0.001);
        metrics.observe_call(&unknown, "UNIMPLEMENTED", 0.001);
        metrics.observe_call(&unknown, "UNIMPLEMENTED", 0.001);
        let text = metrics.encode();
        assert!(
            text.contains(
                r#"juesuan_rpc_calls_total{rpc="/juesuan.v1.Submissions/Validate",code="OK"} 1"#
            ),
            "{text}"
        );
        assert!(
            text.contains(r#"juesuan_rpc_calls_total{rpc="other",code="UNIMPLEMENTED"} 2"#),
            "{text}"
        );
        assert!(!text.contains("Anything"), "{text}");
    }
}

//! Building the application and serving it: [`App::open`] loads the taxonomies and opens the store; [`run`]
//! serves gRPC on a listener until `shutdown` resolves ([`run_with`] adds the plain health port and the metrics
//! port), warms the consolidation state as it starts, and at the stop lets in-flight calls finish, writes the
//! consolidation snapshots and closes the store.

use std::{future::Future, net::SocketAddr, sync::Arc};

use tokio::net::TcpListener;
use tonic::transport::{Certificate, Identity, Server, ServerTlsConfig, server::TcpIncoming};

use crate::service::audit::AuditTrail;
use crate::service::budget::Budgets;
use crate::service::consolidation::Consolidations;
use crate::service::error::ServiceError;
use crate::service::events::EventFeed;
use crate::service::registry::Registry;
use crate::service::review::Reviews;
use crate::service::submission::Limits;
use crate::service::submission::Submissions;
use crate::service::tokens::Tokens;
use crate::{
    api::{
        audit::AuditService,
        auth::AuthenticateLayer,
        budgets::{BudgetsService, EventsService},
        consolidation::ConsolidationService,
        guard::{GuardLayer, SUBMIT_OVERHEAD_BYTES},
        health::HealthBoard,
        observe::ObserveLayer,
        review::ReviewService,
        submissions::SubmissionsService,
        tokens::TokensService,
        units::UnitRegistryService,
    },
    configuration::{CheckpointPolicy, DatabaseUrl, Settings, TlsSettings},
    domain::taxonomy::{Taxonomies, TaxonomyError},
    metrics::Metrics,
    pb,
    store::{self, Store, StoreError, TimedStore},
};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("the taxonomy cannot be used: {0}")]
    Taxonomy(#[from] TaxonomyError),
    #[error("the store cannot be opened")]
    Store(#[from] StoreError),
    #[error("the audit-head signing key {path} cannot be used: {reason}")]
    AuditKey {
        path: std::path::PathBuf,
        reason: String,
    },
    #[error("the first administrator token cannot be made")]
    Bootstrap(#[source] ServiceError),
    #[error("the gRPC server failed")]
    Transport(#[from] tonic::transport::Error),
    #[error("cannot read {path}")]
    TlsFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the web console's TLS cannot be set up: {0}")]
    WebTls(String),
    #[error("reflection cannot be set up")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// Everything the services share.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub taxonomies: Arc<Taxonomies>,
    pub limits: Limits,
    /// The server's SM2 key, which signs the audit chain's heads.
    pub audit_key: Arc<sm2::dsa::SigningKey>,
    /// The server's TLS set-up, read when the app opens so that a bad file stops the start, not the first call.
    pub tls: Option<ServerTlsConfig>,
    /// The same certificate and key for the web console.
    pub web_tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    pub checkpoint: CheckpointPolicy,
}

/// The server's TLS configuration from its PEM files: its identity and, for mutual TLS, the CA that signs
/// service principals' client certificates (optional for clients: token callers need none).
fn tls_config(tls: &TlsSettings) -> Result<ServerTlsConfig, StartupError> {
    let read = |path: &std::path::Path| {
        std::fs::read(path).map_err(|source| StartupError::TlsFile {
            path: path.to_owned(),
            source,
        })
    };
    let mut config =
        ServerTlsConfig::new().identity(Identity::from_pem(read(&tls.cert)?, read(&tls.key)?));
    if let Some(ca) = &tls.client_ca {
        config = config
            .client_ca_root(Certificate::from_pem(read(ca)?))
            .client_auth_optional(true);
    }
    Ok(config)
}

impl App {
    pub async fn open(settings: &Settings) -> Result<App, StartupError> {
        let taxonomies = Taxonomies::load_or_built_in(settings.taxonomy_dir.as_deref())?;
        for taxonomy in taxonomies.iter() {
            tracing::info!(
                year = %taxonomy.fiscal_year,
                tables = taxonomy.tables.len(),
                checks = crate::domain::catalogue::entries(taxonomy).len(),
                dir = %taxonomy.dir.display(),
                "taxonomy loaded"
            );
        }
        let store = store::open(
            &settings.data_dir,
            settings.database_url.as_ref().map(DatabaseUrl::expose),
        )
        .await?;
        match &settings.database_url {
            None => {
                tracing::info!(data_dir = %settings.data_dir.display(), "SQLite store opened")
            }
            Some(url) => tracing::info!(database = %url, "PostgreSQL store opened"),
        }
        if let Some(path) = Tokens::new(store.clone())
            .bootstrap_admin(&settings.data_dir)
            .await
            .map_err(StartupError::Bootstrap)?
        {
            tracing::warn!(
                path = %path.display(),
                "first start: an administrator token was written here (readable by its owner only); the CLI \
                 reads it with --token-file, JUESUAN_TOKEN_FILE or, by default, from ./data"
            );
        }
        let tls = settings.tls.as_ref().map(tls_config).transpose()?;
        let web_tls = match &settings.tls {
            Some(tls) => Some(
                crate::web::tls::server_config(&tls.cert, &tls.key)
                    .map_err(StartupError::WebTls)?,
            ),
            None => None,
        };
        let audit_key = Arc::new(load_or_make_audit_key(settings)?);
        Ok(App {
            store,
            taxonomies: Arc::new(taxonomies),
            limits: settings.limits,
            audit_key,
            tls,
            web_tls,
            checkpoint: settings.checkpoint,
        })
    }
}

/// The server's audit-head key: the file `--audit-key` names (which must exist), or the data directory's, made
/// (readable by its owner only) at the first start.
pub fn load_or_make_audit_key(settings: &Settings) -> Result<sm2::dsa::SigningKey, StartupError> {
    let given = settings.audit_key.is_some();
    let path = settings
        .audit_key
        .clone()
        .unwrap_or_else(|| settings.data_dir.join(crate::configuration::AUDIT_KEY_FILE));
    let bad = |reason: String| StartupError::AuditKey {
        path: path.clone(),
        reason,
    };
    match std::fs::read(&path) {
        Ok(text) => {
            crate::domain::signing::parse_private_key(&text).map_err(|e| bad(e.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !given => {
            let (private, public) = crate::domain::signing::generate();
            crate::service::tokens::write_secret_file(&path, &hex::encode(&private))
                .map_err(|e| bad(e.to_string()))?;
            tracing::info!(
                path = %path.display(),
                fingerprint = %crate::domain::signing::fingerprint(&public),
                "first start: the key that signs audit heads was made"
            );
            crate::domain::signing::parse_private_key(hex::encode(&private).as_bytes())
                .map_err(|e| bad(e.to_string()))
        }
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Where the server listens: the gRPC port, and optionally a plain port with only the health service (for probes
/// that cannot speak TLS, such as Kubernetes' gRPC probes) and the metrics port.
pub struct Listeners {
    pub grpc: TcpListener,
    pub health: Option<TcpListener>,
    pub metrics: Option<TcpListener>,
    pub web: Option<TcpListener>,
}

impl Listeners {
    /// Binds the addresses of the settings.
    pub async fn bind(settings: &Settings) -> Result<Listeners, String> {
        async fn bind(address: SocketAddr, what: &str) -> Result<TcpListener, String> {
            TcpListener::bind(address)
                .await
                .map_err(|e| format!("cannot listen on {address} ({what}): {e}"))
        }
        Ok(Listeners {
            grpc: bind(settings.listen, "gRPC").await?,
            health: match settings.health_listen {
                Some(address) => Some(bind(address, "health").await?),
                None => None,
            },
            metrics: match settings.metrics_listen {
                Some(address) => Some(bind(address, "metrics").await?),
                None => None,
            },
            web: match settings.web_listen {
                Some(address) => Some(bind(address, "web console").await?),
                None => None,
            },
        })
    }
}

/// The paths of every RPC the server declares, for the metrics' bounded labels.
fn declared_methods() -> Vec<String> {
    let mut methods = vec![
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo".to_owned(),
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo".to_owned(),
    ];
    for set in [
        pb::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
    ] {
        let Ok(pool) = prost_reflect::DescriptorPool::decode(set) else {
            continue;
        };
        for service in pool.services() {
            for method in service.methods() {
                methods.push(format!("/{}/{}", service.full_name(), method.name()));
            }
        }
    }
    methods
}

/// Serves until `shutdown` resolves. In-flight calls finish before this returns; the consolidation snapshots are
/// written, and the store is closed last.
pub async fn run(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    let listeners = Listeners {
        grpc: listener,
        health: None,
        metrics: None,
        web: None,
    };
    run_with(listeners, app, shutdown).await
}

/// [`run`] with the health and metrics ports as well.
pub async fn run_with(
    listeners: Listeners,
    app: App,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), StartupError> {
    let listener = listeners.grpc;
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    // Every service serves while the store answers; Consolidation once its years are warm (below).
    let health = HealthBoard::new(health_reporter).await;
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()?;

    // The guard has bounded the request before tonic decodes it; tonic's own limit must not be the tighter one.
    let request_limit = app
        .limits
        .max_disclosure_bytes
        .saturating_add(SUBMIT_OVERHEAD_BYTES)
        .saturating_add(1024);
    let metrics = Metrics::new(declared_methods());
    // Every operation the services ask of the store is timed for the metrics.
    let store = TimedStore::wrap(app.store.clone(), metrics.store_observer());
    let consolidations = Arc::new(
        Consolidations::new(store.clone(), app.taxonomies.clone())
            .with_checkpoint_after(app.checkpoint.after_changes),
    );
    // Kept for the metrics port and for the snapshots written at the stop.
    let consolidations_kept = consolidations.clone();
    // Every year's state is built now rather than on its first request (from the stop's snapshot when it is exact,
    // else from the store: seconds for a large year after a crash). Requests that come first wait for the same
    // build; health tells probes when consolidation is ready.
    let warm_up = {
        let consolidations = consolidations.clone();
        let years: Vec<_> = app.taxonomies.years().collect();
        let health = health.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            for year in years {
                if let Err(error) = consolidations.year(year).await {
                    tracing::warn!(year = %year, error = %crate::api::error::chain(&error), "consolidation not warmed; built on first use");
                }
            }
            tracing::info!(
                millis = started.elapsed().as_millis() as u64,
                "consolidation warm"
            );
            health.consolidation_warmed().await;
        })
    };
    let registry = Registry::new(store.clone(), consolidations.clone());
    let submissions = Submissions::new(
        store.clone(),
        app.taxonomies.clone(),
        app.limits,
        registry.clone(),
    );
    let reviews = Reviews::new(store.clone(), registry.clone(), consolidations.clone());
    let publications =
        crate::service::publication::Publications::new(store.clone(), submissions.clone());
    // The console calls the very use cases the gRPC services call.
    let console_services = crate::web::Services {
        publications: publications.clone(),
        submissions: submissions.clone(),
        reviews: reviews.clone(),
        consolidations: consolidations.clone(),
        registry: registry.clone(),
        taxonomies: app.taxonomies.clone(),
    };
    let tokens = Tokens::new(store.clone());
    let budgets_server = pb::budgets_server::BudgetsServer::new(BudgetsService::new(Budgets::new(
        store.clone(),
        app.taxonomies.clone(),
    )));
    let events_server =
        pb::events_server::EventsServer::new(EventsService::new(EventFeed::with_limits(
            store.clone(),
            crate::service::events::MAX_WATCHES,
            app.limits.max_watches_per_principal,
        )));
    let review_server = pb::review_server::ReviewServer::new(ReviewService::new(reviews));
    let audit_server = pb::audit_server::AuditServer::new(AuditService::new(
        AuditTrail::new(store.clone()).with_signer(app.audit_key.clone()),
    ));
    let tokens_server = pb::tokens_server::TokensServer::new(TokensService::new(tokens.clone()));
    let units_server =
        pb::unit_registry_server::UnitRegistryServer::new(UnitRegistryService::new(registry));
    let consolidation_server = pb::consolidation_server::ConsolidationServer::new(
        ConsolidationService::new(consolidations),
    );
    // A document to check is bounded by the use case (16 MiB); the message may carry it and its name.
    let publications_server = pb::publications_server::PublicationsServer::new(
        crate::api::publication::PublicationsService::new(publications),
    )
    .max_decoding_message_size(crate::publication::read::MAX_DOCUMENT_BYTES + 64 * 1024)
    .max_encoding_message_size(64 * 1024 * 1024);
    let submissions_server = pb::submissions_server::SubmissionsServer::new(
        SubmissionsService::new(submissions, metrics.clone()),
    )
    .max_decoding_message_size(request_limit);

    // One shutdown for every port: the side servers stop when the gRPC server is told to.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop_signal = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };
    let mut side_servers = tokio::task::JoinSet::new();
    side_servers.spawn(health.clone().monitor(store.clone(), stop_signal()));
    if let Some(listener) = listeners.health {
        tracing::info!(address = ?listener.local_addr().ok(), "serving gRPC health (plain, no data)");
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let health_only = Server::builder()
            .add_service(health_service.clone())
            .serve_with_incoming_shutdown(incoming, stop_signal());
        side_servers.spawn(async move {
            if let Err(error) = health_only.await {
                tracing::error!(error = %error, "the health port failed");
            }
        });
    }
    if !app.checkpoint.every.is_zero() {
        side_servers.spawn(keep_checkpointing(
            consolidations_kept.clone(),
            app.checkpoint.every,
            stop_signal(),
        ));
    }
    if let Some(listener) = listeners.web {
        let address = listener.local_addr().ok();
        let tls = app.web_tls.clone();
        tracing::info!(address = ?address, tls = tls.is_some(), "serving the web console");
        let console = crate::web::Console::new(store.clone(), console_services, tls.is_some());
        let served = crate::web::serve(listener, console, tls, stop_signal());
        side_servers.spawn(async move {
            if let Err(error) = served.await {
                tracing::error!(error = %error, "the web console failed");
            }
        });
    }
    if let Some(listener) = listeners.metrics {
        let served = crate::metrics::serve(
            listener,
            metrics.clone(),
            consolidations_kept.clone(),
            stop_signal(),
        );
        side_servers.spawn(async move {
            if let Err(error) = served.await {
                tracing::error!(error = %error, "the metrics port failed");
            }
        });
    }

    let address = listener.local_addr().ok();
    let mut builder = Server::builder();
    if let Some(tls) = app.tls.clone() {
        builder = builder.tls_config(tls)?;
    }
    tracing::info!(address = ?address, tls = app.tls.is_some(), "serving gRPC");
    // Without TCP_NODELAY, a response of several segments waits for the client's delayed ACK (Nagle): 40 ms a
    // call on Linux.
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let result = builder
        .layer(ObserveLayer { metrics })
        .layer(AuthenticateLayer { tokens })
        .layer(GuardLayer {
            max_disclosure_bytes: app.limits.max_disclosure_bytes,
        })
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(units_server)
        .add_service(submissions_server)
        .add_service(publications_server)
        .add_service(consolidation_server)
        .add_service(review_server)
        .add_service(audit_server)
        .add_service(tokens_server)
        .add_service(budgets_server)
        .add_service(events_server)
        .serve_with_incoming_shutdown(incoming, async {
            shutdown.await;
            let _ = stop.send(true);
        })
        .await;
    // Whatever ended the gRPC server ends the side ports too.
    let _ = stop.send(true);
    // A stop during the warm-up waits for it: the snapshots below are written from the states it builds.
    let _ = warm_up.await;
    while side_servers.join_next().await.is_some() {}
    // No call is under way now: the states are the store's, and the next start can begin from them.
    let started = std::time::Instant::now();
    match consolidations_kept.write_snapshots().await {
        Ok(0) => {}
        Ok(years) => tracing::info!(
            years,
            millis = started.elapsed().as_millis() as u64,
            "consolidation snapshots written"
        ),
        Err(error) => {
            tracing::warn!(error = %error, "consolidation snapshots not written; the next start rebuilds")
        }
    }
    app.store.close().await;
    tracing::info!("stopped; store closed");
    result.map_err(StartupError::from)
}

/// Checkpoints the consolidation state every `every` while something changed, and sooner when bulk work asks,
/// until `stop`; the stop's own snapshot follows.
async fn keep_checkpointing(
    consolidations: Arc<Consolidations>,
    every: std::time::Duration,
    stop: impl Future<Output = ()> + Send,
) {
    tokio::pin!(stop);
    let mut interval = tokio::time::interval(every);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        tokio::select! {
            () = &mut stop => break,
            _ = interval.tick() => {}
            () = consolidations.checkpoint_wanted() => {}
        }
        if consolidations.changes_since_checkpoint() == 0 {
            continue;
        }
        let started = std::time::Instant::now();
        match consolidations.checkpoint().await {
            Ok(written) => {
                for year in written {
                    tracing::info!(
                        year = %year.year,
                        marker = year.marker,
                        bytes = year.bytes,
                        millis = started.elapsed().as_millis() as u64,
                        "consolidation checkpoint written"
                    );
                }
            }
            Err(error) => tracing::warn!(
                error = %crate::api::error::chain(&error),
                "consolidation checkpoint not written; the next one tries again"
            ),
        }
    }
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed when this is called, not when the
/// future is first polled: a signal that arrives while the server is still starting is not lost (and does not
/// kill the process with the default action).
pub fn shutdown_signal() -> std::io::Result<impl Future<Output = ()> + Send> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt())?;
        let mut terminate = signal(SignalKind::terminate())?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => tracing::info!("SIGINT received; finishing in-flight calls"),
                _ = terminate.recv() => tracing::info!("SIGTERM received; finishing in-flight calls"),
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
            tracing::info!("interrupt received; finishing in-flight calls");
        })
    }
}

//! Spawning the server as the binary does, on an ephemeral port, and clients for it.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::Mutex,
};

use juesuan::{
    cli::client::{Conn, WithToken},
    configuration::{DatabaseUrl, Settings, TlsSettings},
    domain::tokens::ADMIN_TOKEN_FILE,
    pb::{
        self, review_client::ReviewClient, submissions_client::SubmissionsClient,
        tokens_client::TokensClient, unit_registry_client::UnitRegistryClient,
    },
    service::submission::Limits,
    startup::{self, App},
};
use tempfile::TempDir;
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::Channel;

pub const UNIT: &str = "652300101";
pub const DEPARTMENT: &str = "652300001";

pub struct TestApp {
    pub address: String,
    /// The web console's address (host:port); it is not served under TLS.
    pub web: String,
    pub data_dir: TempDir,
    /// The PostgreSQL database served (`None`: the SQLite file in `data_dir`).
    pub database_url: Option<String>,
    /// The administrator token the first start wrote into the data directory.
    pub admin_token: String,
    /// Tokens issued so far, by (unit, role).
    tokens: Mutex<HashMap<(String, i32), String>>,
    shutdown: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<Result<(), startup::StartupError>>>,
}

/// The store a test binary runs the suite against: `tests/api` runs it on SQLite, `tests/api_postgres` the same
/// modules on PostgreSQL (each binary's `STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub fn backend() -> Backend {
    crate::STORE
}

/// The PostgreSQL database of a test's data directory (named after its path, so that a restart over the same
/// directory finds the same database), created on first use on the server JUESUAN_TEST_DATABASE_URL names; `None`
/// on SQLite.
///
/// Without that variable the PostgreSQL half cannot run: the first test to ask says so on the terminal and ends
/// the test binary successfully (libtest has no "skipped"), so that a developer's plain `cargo test` runs the
/// SQLite half and reports the other as skipped.
pub async fn database_for(dir: &Path) -> Option<String> {
    if backend() == Backend::Sqlite {
        return None;
    }
    let Ok(server) = std::env::var("JUESUAN_TEST_DATABASE_URL") else {
        use std::io::Write;
        // Said once: the tests that get here after the first wait for the exit.
        static SAYING: Mutex<()> = Mutex::new(());
        let _saying = SAYING.lock();
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: the PostgreSQL half of the end-to-end suite (JUESUAN_TEST_DATABASE_URL is not set; \
             `source .ci/postgres.sh` starts a server and sets it, as .ci/run does)"
        );
        std::process::exit(0);
    };
    let name = format!(
        "juesuan_test_{}",
        &hex::encode(<sm3::Sm3 as sm3::Digest>::digest(
            dir.to_string_lossy().as_bytes()
        ))[..24]
    );
    let pool = sqlx::PgPool::connect(&server)
        .await
        .expect("the test PostgreSQL server is reachable");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&pool)
        .await
        .expect("pg_database");
    if exists.is_none() {
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .expect("create the test database");
    }
    pool.close().await;
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    Some(format!("{base}/{name}"))
}

/// Runs `$body` with `$pool` a pool on a data directory's store (its SQLite file, or its PostgreSQL database), and
/// closes the pool after.
macro_rules! with_store_pool {
    ($dir:expr, |$pool:ident| $body:expr) => {
        match database_for($dir).await {
            None => {
                let options = sqlx::sqlite::SqliteConnectOptions::new()
                    .filename($dir.join(juesuan::store::DATABASE_FILE));
                let $pool = sqlx::SqlitePool::connect_with(options)
                    .await
                    .expect("open the store file");
                let out = $body;
                $pool.close().await;
                out
            }
            Some(url) => {
                let $pool = sqlx::PgPool::connect(&url)
                    .await
                    .expect("the test database");
                let out = $body;
                $pool.close().await;
                out
            }
        }
    };
}

/// One number from the store of a data directory, read directly (not through the service); SQL both stores
/// understand.
pub async fn store_i64(dir: &Path, sql: &str) -> i64 {
    with_store_pool!(dir, |pool| sqlx::query_scalar(sqlx::AssertSqlSafe(
        sql.to_owned()
    ))
    .fetch_one(&pool)
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}")))
}

/// Runs a statement on the store of a data directory directly, as someone with access to the database could;
/// returns the rows it changed.
pub async fn store_execute(dir: &Path, sql: &str) -> u64 {
    with_store_pool!(dir, |pool| sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .rows_affected())
}

pub fn taxonomy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy")
}

pub fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2024.json")
}

/// The reference disclosure (the fixture), parsed from its JSON mapping.
pub fn reference() -> pb::Disclosure {
    let text = std::fs::read_to_string(fixture_path()).expect("fixture is readable");
    juesuan::cli::json::from_json("Disclosure", &text).expect("fixture parses")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(TempDir::new().expect("temp dir"), Limits::default()).await
    }

    /// Serves on a fresh port over an existing data directory (to test restarts).
    pub async fn spawn_with(data_dir: TempDir, limits: Limits) -> TestApp {
        TestApp::spawn_configured(data_dir, limits, None).await
    }

    /// Serves with TLS (the address is then https://).
    pub async fn spawn_tls(tls: TlsSettings) -> TestApp {
        TestApp::spawn_configured(
            TempDir::new().expect("temp dir"),
            Limits::default(),
            Some(tls),
        )
        .await
    }

    /// Another server on the same PostgreSQL database, with a data directory of its own: a replica.
    pub async fn replica(&self) -> TestApp {
        let url = self
            .database_url
            .clone()
            .expect("replicas share a PostgreSQL database");
        let mut replica = TestApp::spawn_on(url).await;
        replica.admin_token = self.admin_token.clone();
        replica
    }

    /// Serves the PostgreSQL database at `url`.
    pub async fn spawn_on(url: String) -> TestApp {
        TestApp::start(
            TempDir::new().expect("temp dir"),
            Some(url),
            Limits::default(),
            None,
        )
        .await
    }

    /// Serves with the taxonomy tree at `taxonomy` instead of the shipped one.
    pub async fn spawn_with_taxonomy(taxonomy: &Path) -> TestApp {
        let data_dir = TempDir::new().expect("temp dir");
        let url = database_for(data_dir.path()).await;
        TestApp::start_with(data_dir, url, Limits::default(), None, taxonomy.to_owned()).await
    }

    async fn spawn_configured(
        data_dir: TempDir,
        limits: Limits,
        tls: Option<TlsSettings>,
    ) -> TestApp {
        let url = database_for(data_dir.path()).await;
        TestApp::start(data_dir, url, limits, tls).await
    }

    async fn start(
        data_dir: TempDir,
        database_url: Option<String>,
        limits: Limits,
        tls: Option<TlsSettings>,
    ) -> TestApp {
        TestApp::start_with(data_dir, database_url, limits, tls, taxonomy_dir()).await
    }

    async fn start_with(
        data_dir: TempDir,
        database_url: Option<String>,
        limits: Limits,
        tls: Option<TlsSettings>,
        taxonomy: PathBuf,
    ) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let scheme = if tls.is_some() { "https" } else { "http" };
        let address = format!(
            "{scheme}://{}",
            listener.local_addr().expect("local address")
        );
        let settings = Settings {
            listen: listener.local_addr().expect("local address"),
            data_dir: data_dir.path().to_owned(),
            database_url: database_url
                .as_deref()
                .map(|url| DatabaseUrl::parse(url).expect("a PostgreSQL URL")),
            taxonomy_dir: Some(taxonomy),
            health_listen: None,
            metrics_listen: None,
            web_listen: None,
            limits,
            tls,
            insecure: false,
            audit_key: None,
            checkpoint: Default::default(),
        };
        let app = App::open(&settings).await.expect("app opens");
        let (tx, rx) = oneshot::channel::<()>();
        let web_listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let web = web_listener
            .local_addr()
            .expect("local address")
            .to_string();
        let listeners = startup::Listeners {
            grpc: listener,
            health: None,
            metrics: None,
            web: Some(web_listener),
        };
        let handle = tokio::spawn(startup::run_with(listeners, app, async {
            let _ = rx.await;
        }));
        // A replica finds tokens in the database and writes none; `replica` gives it the first server's.
        let admin_token = std::fs::read_to_string(data_dir.path().join(ADMIN_TOKEN_FILE))
            .map(|token| token.trim().to_owned())
            .unwrap_or_default();
        TestApp {
            address,
            web,
            data_dir,
            database_url,
            admin_token,
            tokens: Mutex::new(HashMap::new()),
            shutdown: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops gracefully (in-flight calls finish, the store closes) and hands back the data directory.
    pub async fn stop(mut self) -> TempDir {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
        let dir = TempDir::new().expect("temp dir");
        std::mem::replace(&mut self.data_dir, dir)
    }

    /// A connection without credentials.
    pub async fn anonymous(&self) -> Channel {
        Channel::from_shared(self.address.clone())
            .expect("address")
            .connect()
            .await
            .expect("server reachable")
    }

    /// A connection calling with a token.
    pub async fn as_token(&self, token: &str) -> Conn {
        Conn::with_token(self.anonymous().await, token).expect("a header-safe token")
    }

    /// A connection calling as the administrator.
    pub async fn channel(&self) -> Conn {
        self.as_token(&self.admin_token).await
    }

    /// A token for a unit and role, issued by the administrator on first use.
    pub async fn token(&self, unit: &str, role: pb::Role) -> String {
        let key = (unit.to_owned(), role as i32);
        if let Some(token) = self.tokens.lock().unwrap().get(&key) {
            return token.clone();
        }
        let token = TokensClient::new(self.channel().await)
            .issue_token(pb::IssueTokenRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                        unit_code: unit.into(),
                        role: role as i32,
                    })),
                }),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("a token for {unit}: {s:?}"))
            .into_inner()
            .secret;
        self.tokens.lock().unwrap().insert(key, token.clone());
        token
    }

    pub async fn units(&self) -> UnitRegistryClient<Conn> {
        UnitRegistryClient::new(self.channel().await)
    }

    /// The Submissions service as the administrator (reads everything, submits nothing).
    pub async fn submissions(&self) -> SubmissionsClient<Conn> {
        Self::large(SubmissionsClient::new(self.channel().await))
    }

    fn large(client: SubmissionsClient<Conn>) -> SubmissionsClient<Conn> {
        client
            .max_decoding_message_size(64 * 1024 * 1024)
            .max_encoding_message_size(64 * 1024 * 1024)
    }

    /// The Submissions service as a unit's submitter.
    pub async fn submitter(&self, unit: &str) -> SubmissionsClient<Conn> {
        let token = self.token(unit, pb::Role::Submitter).await;
        Self::large(SubmissionsClient::new(self.as_token(&token).await))
    }

    /// The Budgets service as a budget system (a service principal).
    pub async fn budget_system(&self) -> pb::budgets_client::BudgetsClient<Conn> {
        let secret = TokensClient::new(self.channel().await)
            .issue_token(pb::IssueTokenRequest {
                principal: Some(pb::Principal {
                    kind: Some(pb::principal::Kind::ServiceName("budget-system".into())),
                }),
                ..Default::default()
            })
            .await
            .expect("a service token")
            .into_inner()
            .secret;
        pb::budgets_client::BudgetsClient::new(self.as_token(&secret).await)
    }

    /// The Review service as a node's reviewer.
    pub async fn reviewer(&self, node: &str) -> ReviewClient<Conn> {
        let token = self.token(node, pb::Role::Reviewer).await;
        ReviewClient::new(self.as_token(&token).await)
    }

    /// Accepts a unit's version as a reviewer of its parent.
    pub async fn accept(&self, parent: &str, unit: &str, version: u32) -> pb::ReviewResponse {
        self.reviewer(parent)
            .await
            .accept(pb::AcceptRequest {
                unit_code: unit.into(),
                fiscal_year: 2024,
                version,
                comment: String::new(),
            })
            .await
            .unwrap_or_else(|s| panic!("accepting {unit} v{version}: {s:?}"))
            .into_inner()
    }

    /// Registers the reference unit's department and the unit itself.
    pub async fn register_reference_units(&self) {
        let mut units = self.units().await;
        for unit in [department(), reference_unit()] {
            units
                .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
                .await
                .expect("registers");
        }
    }

    /// Rows of a table of the store, read directly (not through the service).
    pub async fn count_rows(&self, table: &str) -> i64 {
        let query = match table {
            "submissions" => "SELECT count(*) FROM submissions",
            "units" => "SELECT count(*) FROM units",
            "current_versions" => "SELECT count(*) FROM current_versions",
            "audit_events" => "SELECT count(*) FROM audit_events",
            other => panic!("no such table {other}"),
        };
        store_i64(self.data_dir.path(), query).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub fn department() -> pb::Unit {
    pb::Unit {
        code: DEPARTMENT.into(),
        name: "昌吉州党委宣传部".into(),
        valid_from_year: 2024,
        budget_level: pb::BudgetLevel::Prefecture as i32,
        unit_type: pb::UnitType::Administrative as i32,
        fiscal_region_code: "652300".into(),
        is_department: true,
        ..Default::default()
    }
}

pub fn reference_unit() -> pb::Unit {
    pb::Unit {
        code: UNIT.into(),
        name: "昌吉州融媒体中心".into(),
        valid_from_year: 2024,
        budget_level: pb::BudgetLevel::Prefecture as i32,
        unit_type: pb::UnitType::PublicInstitutionClass2 as i32,
        parent_code: DEPARTMENT.into(),
        supervising_department_code: DEPARTMENT.into(),
        fiscal_region_code: "652300".into(),
        ..Default::default()
    }
}

/// Registers the reference unit and its department through an administrator's connection and returns a new
/// submitter token of the unit.
pub async fn reference_submitter(admin: Conn) -> String {
    let mut units = UnitRegistryClient::new(admin.clone());
    for unit in [department(), reference_unit()] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
            .await
            .expect("registers");
    }
    TokensClient::new(admin)
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                    unit_code: UNIT.into(),
                    role: pb::Role::Submitter as i32,
                })),
            }),
            expires_at: None,
            label: "a test's submitter".into(),
        })
        .await
        .expect("token")
        .into_inner()
        .secret
}

pub fn submit_request(key: &str, disclosure: pb::Disclosure) -> pb::SubmitRequest {
    pb::SubmitRequest {
        idempotency_key: key.into(),
        disclosure: Some(disclosure),
        ..Default::default()
    }
}

/// The field paths of an INVALID_ARGUMENT status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    status
        .get_error_details()
        .bad_request()
        .expect("BadRequest details")
        .field_violations
        .iter()
        .map(|v| v.field.clone())
        .collect()
}

/// The real binary serving a data directory in its own process (as deployed: built-in taxonomy, JSON logs);
/// killed (SIGKILL) when dropped.
pub struct BinaryServer {
    child: std::process::Child,
    pub address: String,
    /// The server's log lines, as it writes them.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl BinaryServer {
    /// Serves the data directory's store (on PostgreSQL, the directory's test database).
    pub async fn start(data_dir: &std::path::Path) -> BinaryServer {
        BinaryServer::start_with(data_dir, &[]).await
    }

    /// [`BinaryServer::start`] with more flags of `juesuan serve`.
    pub async fn start_with(data_dir: &std::path::Path, flags: &[&str]) -> BinaryServer {
        use std::io::BufRead;
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"));
        command
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(["--web-listen", "127.0.0.1:0"])
            .args(flags)
            .arg("--data-dir")
            .arg(data_dir)
            .env_remove("JUESUAN_DATABASE_URL");
        if let Some(url) = database_for(data_dir).await {
            command.env("JUESUAN_DATABASE_URL", url);
        }
        let mut child = command
            .env("JUESUAN_LOG", "info")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("juesuan starts");
        let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
        // Every log line is kept (the warm-up may log before the server says it serves), and the pipe is read to
        // its end: a closed pipe would fail the server's writes.
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let serving = lines
            .by_ref()
            .map_while(Result::ok)
            .inspect(|line| log.lock().unwrap().push(line.clone()))
            .find(|line| line.contains("serving gRPC"))
            .expect("the server logs that it serves");
        let kept = log.clone();
        std::thread::spawn(move || {
            lines
                .map_while(Result::ok)
                .for_each(|line| kept.lock().unwrap().push(line))
        });
        let serving: serde_json::Value = serde_json::from_str(&serving).unwrap();
        // "Some(127.0.0.1:PORT)"
        let address = serving["address"]
            .as_str()
            .unwrap()
            .trim_start_matches("Some(")
            .trim_end_matches(')')
            .to_owned();
        BinaryServer {
            child,
            address: format!("http://{address}"),
            log,
        }
    }

    /// The first log line (JSON) whose message is `message`, waiting up to `within` for it.
    pub async fn wait_for_log(
        &self,
        message: &str,
        within: std::time::Duration,
    ) -> serde_json::Value {
        self.wait_for_log_where(message, |_| true, within).await
    }

    /// The first log line (JSON) whose message is `message` and that `fits`, waiting up to `within` for it.
    pub async fn wait_for_log_where(
        &self,
        message: &str,
        fits: impl Fn(&serde_json::Value) -> bool,
        within: std::time::Duration,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + within;
        loop {
            let found = self.log.lock().unwrap().iter().find_map(|line| {
                let log: serde_json::Value = serde_json::from_str(line).ok()?;
                ((log["message"] == message || log["fields"]["message"] == message) && fits(&log))
                    .then_some(log)
            });
            if let Some(log) = found {
                return log;
            }
            if std::time::Instant::now() > deadline {
                panic!(
                    "the server did not log {message:?} within {within:?}; it logged {:#?}",
                    self.log.lock().unwrap()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn as_token(&self, token: &str) -> juesuan::cli::client::Conn {
        use juesuan::cli::client::WithToken;
        let channel = tonic::transport::Channel::from_shared(self.address.clone())
            .unwrap()
            .connect()
            .await
            .expect("server reachable");
        juesuan::cli::client::Conn::with_token(channel, token).unwrap()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BinaryServer {
    fn drop(&mut self) {
        self.kill();
    }
}

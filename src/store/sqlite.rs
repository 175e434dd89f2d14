//! The embedded store: one SQLite file in the data directory, in WAL mode; a write is answered only once its
//! commit is on disk (an fsync shared by the writers of the moment, `group_sync`), so that an acknowledged
//! submission survives a crash.
//!
//! Every write runs in a `BEGIN IMMEDIATE` transaction: it takes SQLite's one write lock before it reads what its
//! decision depends on, so that concurrent writers are serialized and none decides on a state another is about
//! to change (a deferred transaction that reads first and writes later may instead fail to upgrade its lock).

use std::{path::Path, sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Sqlite, Transaction,
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
        SqliteRow, SqliteSynchronous,
    },
};

use super::{
    BudgetInsert, EventFilter, LockRule, Pointers, RegistrationRule, ReviewRule, Store, StoreError,
    SubmissionInsert, SubmissionStatus, SubmitRule, TokenRevoke, UnitUpsert,
    cache::ReadCache,
    group_sync::GroupSync,
    rows::{
        budget_from_row, code_of, columns_for, compress, compress_json, content_of, corrupt,
        event_from_row, hash_of, json_from_bytes, json_of, lock_from_row, read_accepted_facts,
        report_type_of, select_submissions, state_of, submission_from_row, token_from_row,
        unit_columns, unit_from_row, version_of,
    },
};
use crate::domain::{
    access::PrincipalKind,
    audit::{self, Event, NewEvent},
    budget::{NewBudget, StoredBudget},
    disclosure::ReportType,
    error::FieldViolation,
    facts::Facts,
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    review::{LockRecord, Refusal, ReviewSnapshot, Transition, VersionSummary},
    submission::{NewSubmission, StoredSubmission, SubmissionState},
    tokens::TokenRecord,
    unit::{Unit, UnitType},
    validation::Report,
};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "juesuan.sqlite3";

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The one connection that writes, behind the turns of the writers (see [`Tx`]). SQLite lets one connection
    /// write at a time anyway; keeping every write on the same connection keeps its page cache, which a connection
    /// drops whenever another one has written. Held outside a pool, so that no ping runs when it is given back.
    writer: Arc<tokio::sync::Mutex<Writer>>,
    /// The data directory, where snapshots are kept beside the database.
    data_dir: Arc<std::path::PathBuf>,
    /// The fsyncs that make commits durable, shared by concurrent writers.
    group_sync: Arc<GroupSync>,
    /// Unit records by (code, year), as `unit` answers; shared by the clones, which write the same database.
    units: Arc<ReadCache<(UnitCode, FiscalYear), Option<Unit>>>,
    /// Tokens by id, as `token` answers.
    tokens: Arc<ReadCache<String, Option<TokenRecord>>>,
    /// Signing keys by unit, as `signing_key` answers.
    signing_keys: Arc<ReadCache<UnitCode, Option<Vec<u8>>>>,
    /// The latest budget of a unit and year, as `budget_version(…, None)` answers.
    budgets: Arc<ReadCache<(UnitCode, FiscalYear), Option<StoredBudget>>>,
    /// Accepted figures, as `accepted_facts` answers: every check of a disclosure reads last year's. A few
    /// thousand at most, since a unit's figures are tens of KiB in memory.
    accepted_facts: Arc<ReadCache<ReportOf, Option<Arc<Facts>>>>,
}

/// A unit's report of one type for one year.
type ReportOf = (UnitCode, FiscalYear, ReportType);

/// Accepted figures kept in memory at most (see `SqliteStore::accepted_facts`).
const ACCEPTED_FACTS_KEPT: usize = 2_048;

/// A transaction: a read one from the pool, or a write one on the writer connection, which holding it is this
/// process's turn to write. Writers take turns here, in the order they asked, before `BEGIN IMMEDIATE`: left to
/// SQLite, a writer that finds the lock taken sleeps in its busy handler for 1, 2, 5 … up to 100 ms at a time and
/// misses the moment the lock frees, which under 32 concurrent submissions put the p99 in the hundreds of
/// milliseconds. Another process writing the same file still waits in the busy handler.
enum Tx {
    Read(Transaction<'static, Sqlite>),
    Write(WriteTx),
}

/// The one connection that writes, and whether a write transaction on it was abandoned open.
struct Writer {
    /// `None` once the store is closed.
    connection: Option<SqliteConnection>,
    /// A write transaction's future was dropped with its transaction open (its caller went away): the next writer
    /// rolls it back first.
    abandoned: bool,
}

/// A write transaction begun and ended by statements (`BEGIN IMMEDIATE`, `COMMIT`) on the writer connection
/// rather than by sqlx's transaction calls. sqlx makes each begin and commit a hand-off to the connection's thread
/// that waits for an acknowledgement back, two round trips each, all inside the write lock that every writer
/// waits for; as statements they are one, and a submission sends its `BEGIN` with its first query and its `COMMIT`
/// with its last ([`SqliteStore::insert_submission`]).
struct WriteTx {
    writer: tokio::sync::OwnedMutexGuard<Writer>,
    /// Begun and not yet committed or rolled back.
    open: bool,
}

impl WriteTx {
    fn connection(&mut self) -> &mut SqliteConnection {
        self.writer
            .connection
            .as_mut()
            .expect("a write transaction is only made on an open store")
    }

    /// Ends the transaction with `statement` (`COMMIT` or `ROLLBACK`).
    async fn end(&mut self, statement: &'static str) -> Result<(), sqlx::Error> {
        sqlx::query(statement).execute(self.connection()).await?;
        self.open = false;
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.open {
            self.writer.abandoned = true;
        }
    }
}

impl Tx {
    async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Read(transaction) => transaction.commit().await,
            Tx::Write(mut write) => write.end("COMMIT").await,
        }
    }

    async fn rollback(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Read(transaction) => transaction.rollback().await,
            Tx::Write(mut write) => write.end("ROLLBACK").await,
        }
    }
}

impl std::ops::Deref for Tx {
    type Target = SqliteConnection;
    fn deref(&self) -> &SqliteConnection {
        match self {
            Tx::Read(transaction) => transaction,
            Tx::Write(write) => write
                .writer
                .connection
                .as_ref()
                .expect("a write transaction is only made on an open store"),
        }
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        match self {
            Tx::Read(transaction) => transaction,
            Tx::Write(write) => write.connection(),
        }
    }
}

/// Page cache of each connection, in KiB (SQLite's `cache_size` when negative); nine connections at most, eight
/// that read and the one that writes.
const CACHE_KIB_PER_CONNECTION: u32 = 16 * 1024;

impl SqliteStore {
    /// Opens (creating if needed) the database in `data_dir` and brings its schema up to date.
    pub async fn open(data_dir: &Path) -> Result<SqliteStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DATABASE_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // Commits do not wait for the disk inside the write lock; `commit` waits for a shared fsync after it.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // Each connection keeps 16 MiB of pages rather than SQLite's 2 MiB, so that reads under load come from
            // it rather than through a read call. (Mapping the file instead cost more: a database that grows with
            // every submission is unmapped and mapped again at every write.)
            .pragma("cache_size", format!("-{}", CACHE_KIB_PER_CONNECTION));
        // No ping before a connection is handed out (sqlx's default for pools of network connections): a
        // connection to a file in this process does not go stale, and the ping was one more round trip to the
        // connection's thread for every transaction.
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        let writer = <SqliteConnection as sqlx::Connection>::connect_with(&options).await?;
        Ok(SqliteStore {
            pool,
            writer: Arc::new(tokio::sync::Mutex::new(Writer {
                connection: Some(writer),
                abandoned: false,
            })),
            data_dir: Arc::new(data_dir.to_owned()),
            group_sync: Arc::new(GroupSync::new(
                data_dir.join(format!("{DATABASE_FILE}-wal")),
            )),
            units: Arc::new(ReadCache::new()),
            tokens: Arc::new(ReadCache::new()),
            signing_keys: Arc::new(ReadCache::new()),
            budgets: Arc::new(ReadCache::new()),
            accepted_facts: Arc::new(ReadCache::with_capacity(ACCEPTED_FACTS_KEPT)),
        })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Where a snapshot named `name` lives: `<data dir>/snapshots/<name>`.
    fn snapshot_path(&self, name: &str) -> Result<std::path::PathBuf, StoreError> {
        let acceptable = !name.is_empty()
            && name.len() <= 100
            && !name.starts_with('.')
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if !acceptable {
            return Err(StoreError::Corrupt(format!("snapshot name {name:?}")));
        }
        Ok(self.data_dir.join("snapshots").join(name))
    }

    /// A write transaction holding the database's write lock from its first statement.
    async fn begin_write(&self) -> Result<Tx, StoreError> {
        let mut write = self.writer_turn().await?;
        // Open before the statement is sent: a caller that goes away while it runs leaves it begun.
        write.open = true;
        sqlx::query("BEGIN IMMEDIATE")
            .execute(write.connection())
            .await?;
        Ok(Tx::Write(write))
    }

    /// This process's turn on the writer connection, no transaction begun: the caller begins one with its first
    /// statement and sets `open` before it sends it.
    async fn writer_turn(&self) -> Result<WriteTx, StoreError> {
        let mut writer = self.writer.clone().lock_owned().await;
        let Writer {
            connection,
            abandoned,
        } = &mut *writer;
        let Some(connection) = connection.as_mut() else {
            return Err(sqlx::Error::PoolClosed.into());
        };
        if *abandoned {
            // The statements of the abandoned transaction ran in order before this one; its COMMIT may have too,
            // and then there is nothing to roll back.
            if let Err(e) = sqlx::query("ROLLBACK").execute(&mut *connection).await {
                tracing::debug!(error = %e, "rolling back an abandoned write transaction");
            }
            *abandoned = false;
        }
        Ok(WriteTx {
            writer,
            open: false,
        })
    }

    /// A read transaction: one consistent view, no turn to write.
    async fn begin_read(&self) -> Result<Tx, StoreError> {
        Ok(Tx::Read(self.pool.begin().await?))
    }

    /// Commits, releasing the write lock, and returns once the commit is on disk (shared fsyncs: `group_sync`).
    async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        tx.commit().await?;
        self.durable().await
    }

    /// Returns once every commit made so far is on disk.
    async fn durable(&self) -> Result<(), StoreError> {
        self.group_sync
            .committed()
            .await
            .map_err(|source| StoreError::DataDir {
                path: self.data_dir.join(DATABASE_FILE),
                source,
            })
    }
}

/// The rows of a new version: the submission, its report type's current version, and its audit event.
macro_rules! insert_submission_sql {
    () => {
        concat!(
            "INSERT INTO submissions (unit_code, fiscal_year, version, state, idempotency_key, content_sm3, content, \
                                      content_encoding, content_len, report_json, facts_json, json_encoding, \
                                      submitted_at_ms, report_type, submitted_by, signature) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?); ",
            upsert_current_sql!(),
            "; ",
            insert_event_sql!()
        )
    };
}

/// A JSON array of codes, for `IN (SELECT value FROM json_each(?))`: lists of any length in a fixed statement.
fn json_list(codes: &[UnitCode]) -> String {
    serde_json::to_string(&codes.iter().map(UnitCode::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}

columns_for!(SqliteRow);

/// Appends an event to the chain inside a write transaction; returns its seq.
async fn insert_token_row(tx: &mut Tx, token: &TokenRecord) -> Result<(), StoreError> {
    let (kind, unit, role, service) = match &token.principal {
        PrincipalKind::Admin => ("admin", None, None, None),
        PrincipalKind::Service { name } => ("service", None, None, Some(name.as_str())),
        PrincipalKind::Unit { code, role } => {
            ("unit", Some(code.as_str()), Some(role.code()), None)
        }
    };
    sqlx::query(
        "INSERT INTO tokens (id, secret_sm3, kind, unit_code, role, service_name, label, issued_at_ms, \
                             issued_by, expires_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&token.id)
    .bind(token.secret_sm3.as_slice())
    .bind(kind)
    .bind(unit)
    .bind(role)
    .bind(service)
    .bind(&token.label)
    .bind(token.issued_at_ms)
    .bind(&token.issued_by)
    .bind(token.expires_at_ms)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The columns of an audit event, in the order [`bind_event`] binds them.
macro_rules! insert_event_sql {
    () => {
        "INSERT INTO audit_events (seq, at_ms, actor, action, unit_code, fiscal_year, version, reason, detail, \
                                   prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    };
}

/// The audit chain's last event as read (seq, hash), for the next event to link to.
fn audit_head(head: Option<(i64, Vec<u8>)>) -> Result<Option<(u64, [u8; 32])>, StoreError> {
    head.map(|(seq, hash)| {
        Ok((
            u64::try_from(seq).map_err(|_| corrupt("audit seq"))?,
            hash_of(hash, "audit hash")?,
        ))
    })
    .transpose()
}

/// Binds a sealed event's columns onto a statement, in the order of `insert_event_sql!`.
fn bind_event<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    sealed: &audit::Event,
) -> Result<sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>, StoreError> {
    let e = &sealed.event;
    Ok(query
        .bind(i64::try_from(sealed.seq).map_err(|_| corrupt("audit seq"))?)
        .bind(e.at_ms)
        .bind(&e.actor)
        .bind(&e.action)
        .bind(e.unit.as_ref().map(UnitCode::as_str))
        .bind(e.fiscal_year.map(|y| i64::from(y.get())))
        .bind(e.version.map(i64::from))
        .bind(&e.reason)
        .bind(&e.detail)
        .bind(sealed.prev_hash.as_slice())
        .bind(sealed.hash.as_slice()))
}

async fn append_event(tx: &mut Tx, event: NewEvent) -> Result<u64, StoreError> {
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let sealed = audit::seal(audit_head(head)?, event);
    bind_event(sqlx::query(insert_event_sql!()), &sealed)?
        .execute(&mut **tx)
        .await?;
    Ok(sealed.seq)
}

/// A lock on any node of a lineage, read inside a transaction or on the pool.
async fn lock_on<'e, E: sqlx::Executor<'e, Database = Sqlite>>(
    executor: E,
    year: FiscalYear,
    lineage: &[UnitCode],
) -> Result<Option<LockRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms FROM locks \
         WHERE fiscal_year = ? AND node_code IN (SELECT value FROM json_each(?)) \
         ORDER BY locked_at_ms LIMIT 1",
    )
    .bind(i64::from(year.get()))
    .bind(json_list(lineage))
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(lock_from_row).transpose()
}

/// The current and accepted versions of a report type and the versions ever accepted, as columns of a statement
/// whose `?1`, `?2` and `?3` are the unit, year and report type and whose FROM ends with `pointer_joins!()`.
/// Read with [`pointers_of`].
macro_rules! pointer_columns {
    () => {
        "c.version AS current_version, s.state AS current_state, \
         (SELECT version FROM accepted_versions \
           WHERE unit_code = ?1 AND fiscal_year = ?2 AND report_type = ?3) AS accepted_version, \
         (SELECT json_group_array(version) FROM submissions \
           WHERE unit_code = ?1 AND fiscal_year = ?2 AND report_type = ?3 AND state = 'accepted') AS ever_accepted"
    };
}

/// The joins `pointer_columns!()` reads, to follow `FROM (SELECT 1)`.
macro_rules! pointer_joins {
    () => {
        " LEFT JOIN current_versions c \
            ON c.unit_code = ?1 AND c.fiscal_year = ?2 AND c.report_type = ?3 \
          LEFT JOIN submissions s \
            ON s.unit_code = c.unit_code AND s.fiscal_year = c.fiscal_year AND s.version = c.version"
    };
}

/// The current version and its state, the accepted version, and every version ever accepted, in order.
type PointerSnapshot = (Option<(u32, SubmissionState)>, Option<u32>, Vec<u32>);

/// Reads the columns of `pointer_columns!()`.
fn pointers_of(row: &SqliteRow) -> Result<PointerSnapshot, StoreError> {
    use sqlx::Row;
    let current_version: Option<i64> = row.try_get("current_version")?;
    let current_state: Option<String> = row.try_get("current_state")?;
    let accepted: Option<i64> = row.try_get("accepted_version")?;
    let ever: String = row.try_get("ever_accepted")?;
    let current = match (current_version, current_state) {
        (Some(version), Some(state)) => Some((version_of(version)?, state_of(&state)?)),
        (None, None) => None,
        _ => return Err(corrupt("current version without its submission")),
    };
    let mut ever: Vec<i64> =
        serde_json::from_str(&ever).map_err(|_| corrupt("accepted versions list"))?;
    ever.sort_unstable();
    Ok((
        current,
        accepted.map(version_of).transpose()?,
        ever.into_iter().map(version_of).collect::<Result<_, _>>()?,
    ))
}

/// The current and accepted versions of a report type, and the versions ever accepted, inside a transaction.
async fn snapshot_pointers(
    tx: &mut Tx,
    unit: &UnitCode,
    year: i64,
    report_type: ReportType,
) -> Result<PointerSnapshot, StoreError> {
    // One statement rather than three: each is a round trip to SQLite's thread, and in a write transaction the
    // write lock is held across them.
    let row = sqlx::query(concat!(
        "SELECT ",
        pointer_columns!(),
        " FROM (SELECT 1)",
        pointer_joins!()
    ))
    .bind(unit.as_str())
    .bind(year)
    .bind(report_type.code())
    .fetch_one(&mut **tx)
    .await?;
    pointers_of(&row)
}

/// Points a report type's current version at a version: unit, year, report type, version.
macro_rules! upsert_current_sql {
    () => {
        "INSERT INTO current_versions (unit_code, fiscal_year, report_type, version) VALUES (?, ?, ?, ?) \
         ON CONFLICT (unit_code, fiscal_year, report_type) DO UPDATE SET version = excluded.version"
    };
}

/// Sets a pointer (current or accepted version) of a report type, or removes it.
async fn set_pointer(
    tx: &mut Tx,
    table: Pointer,
    unit: &UnitCode,
    year: i64,
    report_type: ReportType,
    version: Option<u32>,
) -> Result<(), StoreError> {
    let (upsert, delete) = match table {
        Pointer::Current => (
            upsert_current_sql!(),
            "DELETE FROM current_versions WHERE unit_code = ? AND fiscal_year = ? AND report_type = ?",
        ),
        Pointer::Accepted => (
            "INSERT INTO accepted_versions (unit_code, fiscal_year, report_type, version) VALUES (?, ?, ?, ?) \
             ON CONFLICT (unit_code, fiscal_year, report_type) DO UPDATE SET version = excluded.version",
            "DELETE FROM accepted_versions WHERE unit_code = ? AND fiscal_year = ? AND report_type = ?",
        ),
    };
    let query = match version {
        Some(version) => sqlx::query(upsert)
            .bind(unit.as_str())
            .bind(year)
            .bind(report_type.code())
            .bind(i64::from(version)),
        None => sqlx::query(delete)
            .bind(unit.as_str())
            .bind(year)
            .bind(report_type.code()),
    };
    query.execute(&mut **tx).await?;
    Ok(())
}

#[derive(Clone, Copy)]
enum Pointer {
    Current,
    Accepted,
}

impl SqliteStore {
    async fn fetch_submission(
        &self,
        sql: &'static str,
        bind: Vec<Bind<'_>>,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let mut query = sqlx::query(sql);
        for value in bind {
            query = match value {
                Bind::Text(text) => query.bind(text),
                Bind::Int(int) => query.bind(int),
            };
        }
        let Some(row) = query.fetch_optional(&self.pool).await? else {
            return Ok(None);
        };
        let content = content_of(&row)?;
        let facts_json = json_of(&row, "facts_json")?;
        let facts: Facts =
            serde_json::from_str(&facts_json).map_err(|e| corrupt(format!("facts: {e}")))?;
        let mut submission = submission_from_row(&row, Some((content, facts)))?;
        self.attach_explanations(&mut submission).await?;
        Ok(Some(submission))
    }

    /// Puts a version's explanations on its report's findings.
    async fn attach_explanations(
        &self,
        submission: &mut StoredSubmission,
    ) -> Result<(), StoreError> {
        let rows = explanations_of(
            &self.pool,
            &submission.unit_code,
            i64::from(submission.fiscal_year.get()),
            submission.version,
        )
        .await?;
        submission
            .report
            .apply_explanations(rows.iter().map(|(k, t)| (k.as_str(), t.as_str())));
        Ok(())
    }
}

async fn explanations_of<'e, E: sqlx::Executor<'e, Database = Sqlite>>(
    executor: E,
    unit: &UnitCode,
    year: i64,
    version: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT finding_key, text FROM explanations WHERE unit_code = ? AND fiscal_year = ? AND version = ?",
    )
    .bind(unit.as_str())
    .bind(year)
    .bind(i64::from(version))
    .fetch_all(executor)
    .await?)
}

enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_unit(
        &self,
        unit: &Unit,
        rule: Option<&RegistrationRule<'_>>,
        event: NewEvent,
    ) -> Result<Result<UnitUpsert, Vec<FieldViolation>>, StoreError> {
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(concat!(
            "SELECT ",
            unit_columns!(),
            " FROM units WHERE code = ? AND valid_from = ?"
        ))
        .bind(unit.code.as_str())
        .bind(i64::from(unit.valid_from.get()))
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match existing {
            Some(row) if unit_from_row(&row)? == *unit => return Ok(Ok(UnitUpsert::Unchanged)),
            Some(_) => UnitUpsert::Replaced,
            None => UnitUpsert::Inserted,
        };
        if let Some(rule) = rule {
            let rows = sqlx::query(concat!("SELECT ", unit_columns!(), " FROM units"))
                .fetch_all(&mut *tx)
                .await?;
            let records = rows
                .iter()
                .map(unit_from_row)
                .collect::<Result<Vec<_>, _>>()?;
            if let Err(violations) = rule(&records) {
                tx.rollback().await?;
                return Ok(Err(violations));
            }
        }
        sqlx::query(concat!(
            "INSERT OR REPLACE INTO units (",
            unit_columns!(),
            ", registered_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        ))
        .bind(unit.code.as_str())
        .bind(i64::from(unit.valid_from.get()))
        .bind(unit.valid_to.map(|y| i64::from(y.get())))
        .bind(&unit.name)
        .bind(unit.budget_level.code())
        .bind(unit.unit_type.map(UnitType::code))
        .bind(unit.parent.as_ref().map(UnitCode::as_str))
        .bind(unit.supervising_department.as_ref().map(UnitCode::as_str))
        .bind(unit.fiscal_region.as_str())
        .bind(unit.is_department)
        .bind(unit.is_region)
        .bind(event.at_ms)
        .execute(&mut *tx)
        .await?;
        append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        self.units.invalidate();
        Ok(Ok(outcome))
    }

    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError> {
        let read = async {
            let row = sqlx::query(concat!(
                "SELECT ",
                unit_columns!(),
                " FROM units WHERE code = ? AND valid_from <= ? ORDER BY valid_from DESC LIMIT 1"
            ))
            .bind(code.as_str())
            .bind(i64::from(year.get()))
            .fetch_optional(&self.pool)
            .await?;
            let unit = row.as_ref().map(unit_from_row).transpose()?;
            Ok(unit.filter(|u| u.covers(year)))
        };
        self.units.get_or_read((code.clone(), year), read).await
    }

    async fn unit_records(&self, code: &UnitCode) -> Result<Vec<Unit>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            unit_columns!(),
            " FROM units WHERE code = ? ORDER BY valid_from"
        ))
        .bind(code.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(unit_from_row).collect()
    }

    async fn units_for_year(&self, year: FiscalYear) -> Result<Vec<Unit>, StoreError> {
        // The latest record starting at or before the year, per code; then only those still valid that year.
        let rows = sqlx::query(concat!(
            "SELECT ",
            unit_columns!(),
            " FROM units u WHERE valid_from = \
               (SELECT max(valid_from) FROM units v WHERE v.code = u.code AND v.valid_from <= ?1) \
             ORDER BY code"
        ))
        .bind(i64::from(year.get()))
        .fetch_all(&self.pool)
        .await?;
        let mut units = Vec::with_capacity(rows.len());
        for row in &rows {
            let unit = unit_from_row(row)?;
            if unit.covers(year) {
                units.push(unit);
            }
        }
        Ok(units)
    }

    async fn signing_key(&self, unit: &UnitCode) -> Result<Option<Vec<u8>>, StoreError> {
        let read = async {
            Ok(
                sqlx::query_scalar("SELECT public_key FROM signing_keys WHERE unit_code = ?")
                    .bind(unit.as_str())
                    .fetch_optional(&self.pool)
                    .await?,
            )
        };
        self.signing_keys.get_or_read(unit.clone(), read).await
    }

    async fn set_signing_key(
        &self,
        unit: &UnitCode,
        key: Option<&[u8]>,
        event: NewEvent,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        match key {
            Some(key) => {
                sqlx::query(
                    "INSERT INTO signing_keys (unit_code, public_key, set_at_ms) VALUES (?, ?, ?) \
                     ON CONFLICT (unit_code) DO UPDATE SET public_key = excluded.public_key, \
                                                           set_at_ms = excluded.set_at_ms",
                )
                .bind(unit.as_str())
                .bind(key)
                .bind(event.at_ms)
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM signing_keys WHERE unit_code = ?")
                    .bind(unit.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        self.signing_keys.invalidate();
        Ok(seq)
    }

    async fn submission_by_key(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(
                ", s.content, s.content_encoding, s.facts_json",
                "s.unit_code = ? AND s.fiscal_year = ? AND s.idempotency_key = ?"
            ),
            vec![
                Bind::Text(unit.as_str()),
                Bind::Int(i64::from(year.get())),
                Bind::Text(key.as_str()),
            ],
        )
        .await
    }

    async fn insert_submission(
        &self,
        new: NewSubmission,
        lineage: &[UnitCode],
        rule: &SubmitRule<'_>,
        event: NewEvent,
    ) -> Result<SubmissionInsert, StoreError> {
        let report_json =
            serde_json::to_string(&new.report).map_err(|e| corrupt(format!("report: {e}")))?;
        // Compressed before the write lock is taken: the lock serializes every writer.
        let (stored_content, encoding) = compress(&new.content);
        let json = compress_json(report_json, new.facts.as_str());
        let year = i64::from(new.fiscal_year.get());
        // The transaction's BEGIN goes with the decision's query and its COMMIT with the rows: each query is a
        // round trip to SQLite's thread, and the write lock is held across them all. The decision reads whether
        // the key is taken, the version this one would be, the pointers, a lock on the lineage and the audit
        // chain's head.
        let mut write = self.writer_turn().await?;
        write.open = true;
        let row = sqlx::query(concat!(
            "BEGIN IMMEDIATE; SELECT ",
            pointer_columns!(),
            ", (SELECT version FROM submissions \
                 WHERE unit_code = ?1 AND fiscal_year = ?2 AND idempotency_key = ?4) AS taken, \
               (SELECT coalesce(max(version), 0) + 1 FROM submissions \
                 WHERE unit_code = ?1 AND fiscal_year = ?2) AS next_version, \
               l.node_code, l.fiscal_year, l.locked_by_node, l.locked_by, l.locked_at_ms, \
               a.seq AS audit_seq, a.hash AS audit_hash \
             FROM (SELECT 1)",
            pointer_joins!(),
            " LEFT JOIN (SELECT node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms FROM locks \
                          WHERE fiscal_year = ?2 AND node_code IN (SELECT value FROM json_each(?5)) \
                          ORDER BY locked_at_ms LIMIT 1) l ON 1 \
              LEFT JOIN (SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1) a ON 1"
        ))
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(new.report_type.code())
        .bind(new.idempotency_key.as_str())
        .bind(json_list(lineage))
        .fetch_one(write.connection())
        .await?;
        let mut tx = Tx::Write(write);
        let taken: Option<i64> = sqlx::Row::try_get(&row, "taken")?;
        if taken.is_some() {
            tx.rollback().await?;
            let existing = self
                .submission_by_key(&new.unit_code, new.fiscal_year, &new.idempotency_key)
                .await?
                .ok_or_else(|| corrupt("idempotency key conflict without a submission"))?;
            return Ok(SubmissionInsert::KeyTaken(existing));
        }
        let next: i64 = sqlx::Row::try_get(&row, "next_version")?;
        let (current, accepted, accepted_versions) = pointers_of(&row)?;
        let locked: Option<String> = sqlx::Row::try_get(&row, "node_code")?;
        let snapshot = ReviewSnapshot {
            target: None,
            current,
            accepted,
            accepted_versions,
            lock: locked.map(|_| lock_from_row(&row)).transpose()?,
        };
        if let Err(refusal) = rule(&snapshot) {
            tx.rollback().await?;
            return Ok(SubmissionInsert::Refused(refusal));
        }
        let version = version_of(next)?;
        let head = audit_head(
            sqlx::Row::try_get::<Option<i64>, _>(&row, "audit_seq")?.zip(sqlx::Row::try_get::<
                Option<Vec<u8>>,
                _,
            >(
                &row, "audit_hash"
            )?),
        )?;
        let sealed = audit::seal(head, event.version(version));
        // Committed with the rows unless explanations follow them.
        let rows_sql = if new.explanations.is_empty() {
            concat!(insert_submission_sql!(), "; COMMIT")
        } else {
            insert_submission_sql!()
        };
        let rows = sqlx::query(rows_sql)
            .bind(new.unit_code.as_str())
            .bind(year)
            .bind(next)
            .bind(new.state.code())
            .bind(new.idempotency_key.as_str())
            .bind(&new.content_sm3)
            .bind(stored_content.as_ref())
            .bind(encoding)
            .bind(new.content.len() as i64)
            .bind(json.report.as_slice())
            .bind(json.facts.as_slice())
            .bind(json.encoding)
            .bind(new.submitted_at_ms)
            .bind(new.report_type.code())
            .bind(&new.submitted_by)
            .bind(new.signature.as_deref())
            // the current version
            .bind(new.unit_code.as_str())
            .bind(year)
            .bind(new.report_type.code())
            .bind(next);
        bind_event(rows, &sealed)?.execute(&mut *tx).await?;
        if new.explanations.is_empty() {
            if let Tx::Write(write) = &mut tx {
                write.open = false;
            }
            // The turn to write is given back before waiting for the disk (shared fsyncs: `group_sync`).
            drop(tx);
            self.durable().await?;
            return Ok(SubmissionInsert::Inserted(new.stored(version)));
        }
        for (key, text) in &new.explanations {
            sqlx::query(
                "INSERT INTO explanations (unit_code, fiscal_year, version, finding_key, text, explained_at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(new.unit_code.as_str())
            .bind(year)
            .bind(next)
            .bind(key)
            .bind(text)
            .bind(new.submitted_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await?;
        Ok(SubmissionInsert::Inserted(new.stored(version)))
    }

    async fn submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let year = i64::from(year.get());
        match version {
            Some(version) => {
                self.fetch_submission(
                    select_submissions!(
                        ", s.content, s.content_encoding, s.facts_json",
                        "s.unit_code = ? AND s.fiscal_year = ? AND s.version = ?"
                    ),
                    vec![
                        Bind::Text(unit.as_str()),
                        Bind::Int(year),
                        Bind::Int(i64::from(version)),
                    ],
                )
                .await
            }
            None => {
                self.fetch_submission(
                    select_submissions!(
                        ", s.content, s.content_encoding, s.facts_json",
                        "s.unit_code = ? AND s.fiscal_year = ? AND c.version IS NOT NULL \
                         ORDER BY s.report_type != 'single', s.version DESC LIMIT 1"
                    ),
                    vec![Bind::Text(unit.as_str()), Bind::Int(year)],
                )
                .await
            }
        }
    }

    async fn current_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(
                ", s.content, s.content_encoding, s.facts_json",
                "s.unit_code = ? AND s.fiscal_year = ? AND s.report_type = ? AND c.version IS NOT NULL"
            ),
            vec![
                Bind::Text(unit.as_str()),
                Bind::Int(i64::from(year.get())),
                Bind::Text(report_type.code()),
            ],
        )
        .await
    }

    async fn submissions(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, StoreError> {
        let rows = sqlx::query(select_submissions!(
            "",
            "s.unit_code = ? AND s.fiscal_year = ? ORDER BY s.version"
        ))
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .fetch_all(&self.pool)
        .await?;
        let mut submissions = rows
            .iter()
            .map(|row| submission_from_row(row, None))
            .collect::<Result<Vec<_>, _>>()?;
        for submission in &mut submissions {
            self.attach_explanations(submission).await?;
        }
        Ok(submissions)
    }

    async fn put_explanations(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        explanations: &[(String, String)],
        lineage: &[UnitCode],
        event: NewEvent,
    ) -> Result<Option<LockRecord>, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(lock) = lock_on(&mut *tx, year, lineage).await? {
            tx.rollback().await?;
            return Ok(Some(lock));
        }
        for (key, text) in explanations {
            sqlx::query(
                "INSERT INTO explanations (unit_code, fiscal_year, version, finding_key, text, explained_at_ms) \
                 VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (unit_code, fiscal_year, version, finding_key) \
                 DO UPDATE SET text = excluded.text, explained_at_ms = excluded.explained_at_ms",
            )
            .bind(unit.as_str())
            .bind(i64::from(year.get()))
            .bind(i64::from(version))
            .bind(key)
            .bind(text)
            .bind(event.at_ms)
            .execute(&mut *tx)
            .await?;
        }
        append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        Ok(None)
    }

    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(
                ", s.content, s.content_encoding, s.facts_json",
                "s.unit_code = ? AND s.fiscal_year = ? AND s.report_type = ? AND s.state != 'rejected_by_rules' \
                 ORDER BY s.version DESC LIMIT 1"
            ),
            vec![
                Bind::Text(unit.as_str()),
                Bind::Int(i64::from(year.get())),
                Bind::Text(report_type.code()),
            ],
        )
        .await
    }

    async fn accepted_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(
                ", s.content, s.content_encoding, s.facts_json",
                "s.unit_code = ?1 AND s.fiscal_year = ?2 AND s.report_type = ?3 AND s.version = \
                   (SELECT a.version FROM accepted_versions a WHERE a.unit_code = ?1 AND a.fiscal_year = ?2 \
                      AND a.report_type = ?3)"
            ),
            vec![
                Bind::Text(unit.as_str()),
                Bind::Int(i64::from(year.get())),
                Bind::Text(report_type.code()),
            ],
        )
        .await
    }

    async fn accepted_facts(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<Arc<Facts>>, StoreError> {
        let read = read_accepted_facts(&self.pool, unit, year, report_type);
        self.accepted_facts
            .get_or_read((unit.clone(), year, report_type), read)
            .await
    }

    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query_as::<_, (String, i64, String, Vec<u8>)>(
            "SELECT s.unit_code, s.version, s.json_encoding, s.facts_json FROM accepted_versions a \
             JOIN submissions s ON s.unit_code = a.unit_code AND s.fiscal_year = a.fiscal_year \
                               AND s.version = a.version \
             WHERE a.fiscal_year = ?1 AND a.report_type = ?2",
        )
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let (unit, version, encoding, stored) = row?;
            let code = code_of(&unit, "counted facts")?;
            let json = json_from_bytes(&encoding, "facts_json", stored)?;
            let facts: Facts = serde_json::from_str(&json)
                .map_err(|e| corrupt(format!("facts of {unit} v{version}: {e}")))?;
            each(code, version_of(version)?, facts);
        }
        Ok(())
    }

    async fn counted_facts_json_of(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        units: &[UnitCode],
        each: &mut (dyn FnMut(UnitCode, u32, String) + Send),
    ) -> Result<(), StoreError> {
        let codes = serde_json::to_string(&units.iter().map(UnitCode::as_str).collect::<Vec<_>>())
            .map_err(|e| corrupt(format!("unit codes: {e}")))?;
        let mut rows = sqlx::query_as::<_, (String, i64, String, Vec<u8>)>(
            "SELECT s.unit_code, s.version, s.json_encoding, s.facts_json FROM accepted_versions a \
             JOIN submissions s ON s.unit_code = a.unit_code AND s.fiscal_year = a.fiscal_year \
                               AND s.version = a.version \
             WHERE a.fiscal_year = ?1 AND a.report_type = ?2 \
               AND a.unit_code IN (SELECT value FROM json_each(?3))",
        )
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .bind(codes)
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let (unit, version, encoding, stored) = row?;
            let code = code_of(&unit, "counted facts")?;
            let json = json_from_bytes(&encoding, "facts_json", stored)?;
            each(code, version_of(version)?, json);
        }
        Ok(())
    }

    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError> {
        let year = i64::from(year.get());
        // Each list comes back as one text, a line per row: the driver hands rows over one by one from its worker
        // thread (a few µs each), which for a region's 10,000 units was three quarters of the time of the
        // console's region page; the same rows joined in SQLite are one hand-over. Codes are ASCII letters,
        // digits and `-_.`, so spaces and line breaks separate the fields and rows.
        let (totals_text,): (Option<String>,) = sqlx::query_as(
            "SELECT group_concat(unit_code || ' ' || n || ' ' || latest || ' ' || at, char(10)) FROM \
             (SELECT unit_code, count(*) AS n, max(version) AS latest, max(submitted_at_ms) AS at \
              FROM submissions WHERE fiscal_year = ? GROUP BY unit_code)",
        )
        .bind(year)
        .fetch_one(&self.pool)
        .await?;
        let (currents_text,): (Option<String>,) = sqlx::query_as(
            "SELECT group_concat(c.unit_code || ' ' || c.report_type || ' ' || c.version || ' ' || s.state, char(10)) \
             FROM current_versions c \
             JOIN submissions s ON s.unit_code = c.unit_code AND s.fiscal_year = c.fiscal_year \
                               AND s.version = c.version \
             WHERE c.fiscal_year = ?",
        )
        .bind(year)
        .fetch_one(&self.pool)
        .await?;
        let fields = |line: &str, n: usize| -> Result<Vec<String>, StoreError> {
            let parts: Vec<String> = line.split(' ').map(str::to_owned).collect();
            if parts.len() == n {
                Ok(parts)
            } else {
                Err(super::rows::corrupt(format!(
                    "status row \"{}\"",
                    line.chars().take(80).collect::<String>()
                )))
            }
        };
        let number = |text: &str| -> Result<i64, StoreError> {
            text.parse().map_err(|_| {
                super::rows::corrupt(format!(
                    "status number {}",
                    text.chars().take(20).collect::<String>()
                ))
            })
        };
        let mut totals: Vec<(String, i64, i64, i64)> = Vec::new();
        for line in totals_text.as_deref().unwrap_or_default().lines() {
            let [unit, n, latest, at]: [String; 4] =
                fields(line, 4)?.try_into().expect("four fields");
            totals.push((unit, number(&n)?, number(&latest)?, number(&at)?));
        }
        totals.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut currents: Vec<(String, String, i64, String)> = Vec::new();
        for line in currents_text.as_deref().unwrap_or_default().lines() {
            let [unit, report_type, version, state]: [String; 4] =
                fields(line, 4)?.try_into().expect("four fields");
            currents.push((unit, report_type, number(&version)?, state));
        }
        currents.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let (accepted_text,): (Option<String>,) = sqlx::query_as(
            "SELECT group_concat(unit_code || ' ' || version, char(10)) FROM accepted_versions \
             WHERE fiscal_year = ? AND report_type = 'single'",
        )
        .bind(year)
        .fetch_one(&self.pool)
        .await?;
        let mut accepted: Vec<(String, i64)> = Vec::new();
        for line in accepted_text.as_deref().unwrap_or_default().lines() {
            let [unit, version]: [String; 2] = fields(line, 2)?.try_into().expect("two fields");
            accepted.push((unit, number(&version)?));
        }
        let mut current_by_unit: std::collections::HashMap<
            String,
            Vec<(ReportType, u32, SubmissionState)>,
        > = std::collections::HashMap::new();
        for (unit, report_type, version, state) in currents {
            current_by_unit.entry(unit).or_default().push((
                report_type_of(&report_type)?,
                version_of(version)?,
                state_of(&state)?,
            ));
        }
        let accepted: std::collections::HashMap<String, i64> = accepted.into_iter().collect();
        totals
            .into_iter()
            .map(|(unit, versions, latest, at)| {
                Ok(SubmissionStatus {
                    unit_code: code_of(&unit, "status")?,
                    versions: u32::try_from(versions).unwrap_or(0),
                    latest_version: version_of(latest)?,
                    latest_at_ms: at,
                    current: current_by_unit.remove(&unit).unwrap_or_default(),
                    counted_version: accepted.get(&unit).copied().map(version_of).transpose()?,
                })
            })
            .collect()
    }

    async fn pointers(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Pointers, StoreError> {
        let mut tx = self.begin_read().await?;
        let (current, accepted, _) =
            snapshot_pointers(&mut tx, unit, i64::from(year.get()), report_type).await?;
        self.commit(tx).await?;
        Ok(Pointers { current, accepted })
    }

    async fn review(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        lineage: &[UnitCode],
        rule: &ReviewRule<'_>,
        event: NewEvent,
    ) -> Result<Result<(Transition, ReportType, u64), Refusal>, StoreError> {
        let year_number = i64::from(year.get());
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, String, Vec<u8>)> = sqlx::query_as(
            "SELECT report_type, state, json_encoding, report_json FROM submissions \
             WHERE unit_code = ? AND fiscal_year = ? AND version = ?",
        )
        .bind(unit.as_str())
        .bind(year_number)
        .bind(i64::from(version))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((report_type, state, encoding, stored_report)) = row else {
            tx.rollback().await?;
            return Ok(Err(Refusal::NotFound(format!(
                "{unit}/{year} version {version}"
            ))));
        };
        let report_type = report_type_of(&report_type)?;
        let report_json = json_from_bytes(&encoding, "report_json", stored_report)?;
        let mut report: Report = serde_json::from_str(&report_json)
            .map_err(|e| corrupt(format!("report of {unit}/{year} v{version}: {e}")))?;
        let explained = explanations_of(&mut *tx, unit, year_number, version).await?;
        report.apply_explanations(explained.iter().map(|(k, t)| (k.as_str(), t.as_str())));
        let (current, accepted, accepted_versions) =
            snapshot_pointers(&mut tx, unit, year_number, report_type).await?;
        let snapshot = ReviewSnapshot {
            target: Some(VersionSummary {
                version,
                report_type,
                state: state_of(&state)?,
                report,
            }),
            current,
            accepted,
            accepted_versions,
            lock: lock_on(&mut *tx, year, lineage).await?,
        };
        let transition = match rule(&snapshot) {
            Ok(transition) => transition,
            Err(refusal) => {
                tx.rollback().await?;
                return Ok(Err(refusal));
            }
        };
        if let Some(state) = transition.state {
            sqlx::query(
                "UPDATE submissions SET state = ?, review_reason = coalesce(?, review_reason) \
                 WHERE unit_code = ? AND fiscal_year = ? AND version = ?",
            )
            .bind(state.code())
            .bind(transition.review_reason.as_deref())
            .bind(unit.as_str())
            .bind(year_number)
            .bind(i64::from(version))
            .execute(&mut *tx)
            .await?;
        }
        if let Some(current) = transition.current {
            set_pointer(
                &mut tx,
                Pointer::Current,
                unit,
                year_number,
                report_type,
                Some(current),
            )
            .await?;
        }
        if let Some(accepted) = transition.accepted {
            set_pointer(
                &mut tx,
                Pointer::Accepted,
                unit,
                year_number,
                report_type,
                accepted,
            )
            .await?;
        }
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        if transition.accepted.is_some() {
            self.accepted_facts.invalidate();
        }
        Ok(Ok((transition, report_type, seq)))
    }

    async fn lock(
        &self,
        lock: &LockRecord,
        rule: &LockRule<'_>,
        event: NewEvent,
    ) -> Result<Result<u64, Refusal>, StoreError> {
        let year = i64::from(lock.fiscal_year.get());
        let mut tx = self.begin_write().await?;
        let existing = sqlx::query(
            "SELECT node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms FROM locks \
             WHERE node_code = ? AND fiscal_year = ?",
        )
        .bind(lock.node.as_str())
        .bind(year)
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(lock_from_row)
        .transpose()?;
        let pending: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT c.unit_code FROM current_versions c JOIN submissions s \
               ON s.unit_code = c.unit_code AND s.fiscal_year = c.fiscal_year AND s.version = c.version \
             WHERE c.fiscal_year = ? AND s.state = 'pending_review' ORDER BY c.unit_code",
        )
        .bind(year)
        .fetch_all(&mut *tx)
        .await?;
        let pending = pending
            .iter()
            .map(|c| code_of(c, "pending"))
            .collect::<Result<Vec<_>, _>>()?;
        if let Err(refusal) = rule(existing.as_ref(), &pending) {
            tx.rollback().await?;
            return Ok(Err(refusal));
        }
        sqlx::query(
            "INSERT INTO locks (node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(lock.node.as_str())
        .bind(year)
        .bind(lock.locked_by_node.as_str())
        .bind(&lock.locked_by)
        .bind(lock.locked_at_ms)
        .execute(&mut *tx)
        .await?;
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        Ok(Ok(seq))
    }

    async fn unlock(
        &self,
        node: &UnitCode,
        year: FiscalYear,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError> {
        let mut tx = self.begin_write().await?;
        let removed = sqlx::query("DELETE FROM locks WHERE node_code = ? AND fiscal_year = ?")
            .bind(node.as_str())
            .bind(i64::from(year.get()))
            .execute(&mut *tx)
            .await?;
        if removed.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        Ok(Some(seq))
    }

    async fn lock_of(
        &self,
        node: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<LockRecord>, StoreError> {
        lock_on(&self.pool, year, std::slice::from_ref(node)).await
    }

    async fn lock_covering(
        &self,
        year: FiscalYear,
        lineage: &[UnitCode],
    ) -> Result<Option<LockRecord>, StoreError> {
        lock_on(&self.pool, year, lineage).await
    }

    async fn locks(&self, year: FiscalYear) -> Result<Vec<LockRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms FROM locks \
             WHERE fiscal_year = ? ORDER BY node_code",
        )
        .bind(i64::from(year.get()))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lock_from_row).collect()
    }

    async fn insert_budget(
        &self,
        new: &NewBudget,
        event: NewEvent,
    ) -> Result<BudgetInsert, StoreError> {
        let json =
            serde_json::to_string(&new.figures).map_err(|e| corrupt(format!("budget: {e}")))?;
        let year = i64::from(new.fiscal_year.get());
        let mut tx = self.begin_write().await?;
        let taken = sqlx::query(
            "SELECT * FROM budget_versions WHERE unit_code = ? AND fiscal_year = ? AND idempotency_key = ?",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(new.idempotency_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(row) = taken {
            tx.rollback().await?;
            return Ok(BudgetInsert::KeyTaken(budget_from_row(&row)?));
        }
        let next: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) + 1 FROM budget_versions WHERE unit_code = ? AND fiscal_year = ?",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_of(next)?;
        sqlx::query(
            "INSERT INTO budget_versions (unit_code, fiscal_year, version, idempotency_key, figures_json, put_by, \
                                          put_at_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(next)
        .bind(new.idempotency_key.as_str())
        .bind(&json)
        .bind(&new.put_by)
        .bind(new.put_at_ms)
        .execute(&mut *tx)
        .await?;
        append_event(&mut tx, event.version(version)).await?;
        self.commit(tx).await?;
        self.budgets.invalidate();
        Ok(BudgetInsert::Inserted(StoredBudget {
            unit_code: new.unit_code.clone(),
            fiscal_year: new.fiscal_year,
            version,
            idempotency_key: new.idempotency_key.as_str().to_owned(),
            figures: new.figures.clone(),
            put_by: new.put_by.clone(),
            put_at_ms: new.put_at_ms,
        }))
    }

    async fn budget_version(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredBudget>, StoreError> {
        let read = async {
            let row = sqlx::query(
                "SELECT * FROM budget_versions WHERE unit_code = ?1 AND fiscal_year = ?2 \
                   AND (?3 = 0 OR version = ?3) ORDER BY version DESC LIMIT 1",
            )
            .bind(unit.as_str())
            .bind(i64::from(year.get()))
            .bind(i64::from(version.unwrap_or(0)))
            .fetch_optional(&self.pool)
            .await?;
            row.as_ref().map(budget_from_row).transpose()
        };
        match version {
            // The latest is what every check of a disclosure reads.
            None => self.budgets.get_or_read((unit.clone(), year), read).await,
            Some(_) => read.await,
        }
    }

    async fn token_count(&self) -> Result<u64, StoreError> {
        let count: i64 = sqlx::query_scalar("SELECT count(*) FROM tokens")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    async fn insert_token(&self, token: &TokenRecord, event: NewEvent) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        insert_token_row(&mut tx, token).await?;
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        self.tokens.invalidate();
        Ok(seq)
    }

    async fn insert_first_token(
        &self,
        token: &TokenRecord,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError> {
        // Counted inside the write transaction: two servers starting together on an empty store serialize here,
        // and the second finds the first one's token.
        let mut tx = self.begin_write().await?;
        let existing: i64 = sqlx::query_scalar("SELECT count(*) FROM tokens")
            .fetch_one(&mut *tx)
            .await?;
        if existing > 0 {
            return Ok(None);
        }
        insert_token_row(&mut tx, token).await?;
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        self.tokens.invalidate();
        Ok(Some(seq))
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let read = async {
            let row = sqlx::query("SELECT * FROM tokens WHERE id = ?")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(token_from_row).transpose()
        };
        self.tokens.get_or_read(id.to_owned(), read).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY issued_at_ms, id")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn revoke_token(
        &self,
        id: &str,
        at_ms: i64,
        by: &str,
        event: NewEvent,
    ) -> Result<TokenRevoke, StoreError> {
        let mut tx = self.begin_write().await?;
        let Some(row) = sqlx::query("SELECT * FROM tokens WHERE id = ?")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.rollback().await?;
            return Ok(TokenRevoke::NotFound);
        };
        let mut record = token_from_row(&row)?;
        if record.revoked_at_ms.is_some() {
            tx.rollback().await?;
            return Ok(TokenRevoke::AlreadyRevoked(record));
        }
        sqlx::query("UPDATE tokens SET revoked_at_ms = ?, revoked_by = ? WHERE id = ?")
            .bind(at_ms)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        self.tokens.invalidate();
        record.revoked_at_ms = Some(at_ms);
        record.revoked_by = Some(by.to_owned());
        Ok(TokenRevoke::Revoked(record))
    }

    async fn audit_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE seq > ?1 AND (?2 IS NULL OR fiscal_year = ?2) \
               AND (?3 IS NULL OR instr(actor, ?3) > 0) ORDER BY seq LIMIT ?4",
        )
        .bind(i64::try_from(filter.after_seq).unwrap_or(i64::MAX))
        .bind(filter.fiscal_year.map(|y| i64::from(y.get())))
        .bind(filter.actor_contains.as_deref())
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }

    async fn audit_chain(
        &self,
        each: &mut (dyn FnMut(Event) -> bool + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq").fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            if !each(event_from_row(&row?)?) {
                break;
            }
        }
        Ok(())
    }

    async fn submission_event_detail(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT detail FROM audit_events WHERE unit_code = ?1 AND fiscal_year = ?2 AND version = ?3 \
             AND action = 'submission' ORDER BY seq LIMIT 1",
        )
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .bind(i64::from(version))
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn version_contents(
        &self,
        each: &mut (dyn FnMut(super::StoredContent) -> bool + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query(
            "SELECT unit_code, fiscal_year, version, content_sm3, content, content_encoding, content_len \
             FROM submissions ORDER BY fiscal_year, unit_code, version",
        )
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let row = row?;
            use super::rows::Columns;
            let unit: String = row.text("unit_code")?;
            let content = super::StoredContent {
                unit_code: code_of(&unit, "submission")?,
                fiscal_year: super::rows::year_of(row.int("fiscal_year")?, "submission")?,
                version: version_of(row.int("version")?)?,
                content_sm3: row.text("content_sm3")?,
                content: content_of(&row).map_err(|e| e.to_string()),
            };
            if !each(content) {
                break;
            }
        }
        Ok(())
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT max(seq) FROM audit_events")
            .fetch_one(&self.pool)
            .await?;
        Ok(seq.map_or(0, |s| s.max(0) as u64))
    }

    async fn write_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let path = self.snapshot_path(name)?;
        let previous = self.snapshot_path(&format!("{name}.previous"))?;
        tokio::task::spawn_blocking(move || write_keeping_previous(&path, &previous, &bytes))
            .await
            .map_err(|e| StoreError::Corrupt(format!("writing a snapshot: {e}")))?
            .map_err(|source| StoreError::Snapshot {
                name: name.to_owned(),
                source,
            })
    }

    async fn read_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.snapshot_path(name)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Snapshot {
                name: name.to_owned(),
                source,
            }),
        }
    }

    async fn close(&self) {
        if let Some(writer) = self.writer.lock().await.connection.take()
            && let Err(e) = sqlx::Connection::close(writer).await
        {
            tracing::warn!(error = %e, "closing the writer connection");
        }
        self.pool.close().await;
    }
}

/// Writes a file so that a crash leaves the old one or the new one, and keeps the old one under `previous`: a
/// temporary file, synced; the old file renamed to `previous`; the temporary renamed into place; the directory
/// synced. A crash between the two renames leaves only `previous`, which a reader then uses.
fn write_keeping_previous(path: &Path, previous: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let directory = path.parent().expect("a snapshot path has a directory");
    std::fs::create_dir_all(directory)?;
    let temporary = path.with_extension("partial");
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    match std::fs::rename(path, previous) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::rename(&temporary, path)?;
    std::fs::File::open(directory)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A snapshot written over another keeps the one it replaces under `<name>.previous`, for when the newer one
    /// turns out damaged; a third write drops the first.
    #[tokio::test]
    async fn a_snapshot_keeps_the_one_it_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        for bytes in [b"first".to_vec(), b"second".to_vec(), b"third".to_vec()] {
            store
                .write_snapshot("consolidation-2024.snapshot", bytes)
                .await
                .unwrap();
        }
        let read = |name: &'static str| store.read_snapshot(name);
        assert_eq!(
            read("consolidation-2024.snapshot").await.unwrap(),
            Some(b"third".to_vec())
        );
        assert_eq!(
            read("consolidation-2024.snapshot.previous").await.unwrap(),
            Some(b"second".to_vec())
        );
        assert!(
            !dir.path()
                .join("snapshots/consolidation-2024.partial")
                .exists()
        );
    }

    /// A write transaction whose caller goes away mid-way (its future dropped) leaves the writer connection inside
    /// the transaction; the next writer rolls it back before beginning its own.
    #[tokio::test]
    async fn an_abandoned_write_transaction_is_rolled_back_by_the_next_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let mut abandoned = store.begin_write().await.unwrap();
        sqlx::query("CREATE TABLE probe (x INTEGER)")
            .execute(&mut *abandoned)
            .await
            .unwrap();
        drop(abandoned);
        assert!(store.writer.lock().await.abandoned);

        let mut next = store.begin_write().await.unwrap();
        sqlx::query("CREATE TABLE kept (x INTEGER)")
            .execute(&mut *next)
            .await
            .unwrap();
        store.commit(next).await.unwrap();
        let tables: Vec<(String,)> = sqlx::query_as(
            "SELECT name FROM sqlite_master WHERE name IN ('probe', 'kept') ORDER BY name",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(tables, [("kept".to_owned(),)]);
        assert!(!store.writer.lock().await.abandoned);
        store.close().await;
        assert!(
            store.begin_write().await.is_err(),
            "a closed store writes nothing"
        );
    }
}

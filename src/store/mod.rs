//! Persistence behind one interface, [`Store`]. The embedded default is SQLite (`sqlite`), a file in the data
//! directory; a PostgreSQL implementation for replicated deployments implements the same trait.
//!
//! Every method that changes something takes the audit event that records the change and appends it to the SM3
//! chain in the same transaction: a change is never stored without its event, nor an event without its change.
//! Decisions that depend on the stored state (a review, a lock, a submission against an expected version) take
//! the domain's rule as a function and run it on what the transaction reads, so that concurrent callers are
//! serialized by the database, not by luck.

mod cache;
mod encoding;
mod group_sync;
mod postgres;
mod rows;
mod sqlite;
mod timed;

use std::{path::Path, sync::Arc};

use async_trait::async_trait;

pub use postgres::PgStore;
pub use sqlite::{DATABASE_FILE, SqliteStore};
pub use timed::{StoreObserver, TimedStore};

use crate::domain::{
    audit::{Event, NewEvent},
    budget::{BudgetFigures, NewBudget, StoredBudget},
    disclosure::ReportType,
    error::FieldViolation,
    facts::Facts,
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    review::{LockRecord, Refusal, ReviewSnapshot, Transition},
    submission::{NewSubmission, StoredSubmission, SubmissionState},
    tokens::TokenRecord,
    unit::Unit,
};

/// Opens the store a deployment names: PostgreSQL when a database URL is given, else the SQLite file in
/// `data_dir`. The data directory is created either way (it also keeps the first administrator token).
pub async fn open(
    data_dir: &Path,
    database_url: Option<&str>,
) -> Result<Arc<dyn Store>, StoreError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
        path: data_dir.to_owned(),
        source,
    })?;
    Ok(match database_url {
        None => Arc::new(SqliteStore::open(data_dir).await?),
        Some(url) => Arc::new(PgStore::open(url).await?),
    })
}

/// Opens a PostgreSQL database alone, with no data directory (`juesuan audit verify --database-url`).
pub async fn open_database(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Ok(Arc::new(PgStore::open(database_url).await?))
}

pub use crate::domain::audit::StoredContent;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// The database server could not be reached when the store was opened. The cause is the client library's
    /// text, which names no secret (the URL's password is not part of it).
    #[error("cannot connect to the PostgreSQL database {target}: {cause}")]
    Connect { target: String, cause: String },
    #[error("database migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("cannot prepare the data directory {path}")]
    DataDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read or write the snapshot {name}")]
    Snapshot {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// Whether the database could not be reached or went away (a retry later may succeed), as opposed to a
    /// statement that failed on a database that answered.
    pub fn is_unavailable(&self) -> bool {
        if matches!(self, StoreError::Connect { .. }) {
            return true;
        }
        let StoreError::Database(error) = self else {
            return false;
        };
        match error {
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // PostgreSQL's connection exceptions (08…) and shutdowns (57P01–57P03).
            sqlx::Error::Database(database) => database
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        }
    }
}

/// Where a unit's submissions for a year stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionStatus {
    pub unit_code: UnitCode,
    pub versions: u32,
    pub latest_version: u32,
    pub latest_at_ms: i64,
    /// The current version of each report type submitted, with its state.
    pub current: Vec<(ReportType, u32, SubmissionState)>,
    /// The accepted 单户表 version: the one consolidation counts.
    pub counted_version: Option<u32>,
}

impl SubmissionStatus {
    /// The current 单户表 version and its state.
    pub fn current_single(&self) -> Option<(u32, SubmissionState)> {
        self.current
            .iter()
            .find(|(t, _, _)| *t == ReportType::Single)
            .map(|(_, v, s)| (*v, *s))
    }
}

/// The current and accepted versions of a unit's report type for a year.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pointers {
    pub current: Option<(u32, SubmissionState)>,
    pub accepted: Option<u32>,
}

/// What registering a unit record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitUpsert {
    Inserted,
    Replaced,
    Unchanged,
}

/// What storing a new submission did.
#[derive(Debug)]
pub enum SubmissionInsert {
    Inserted(StoredSubmission),
    /// Another submission of the unit and year already holds the idempotency key (a concurrent retry won).
    KeyTaken(StoredSubmission),
    /// The domain's rule refused it on the state the transaction read (a lock, another current version).
    Refused(Refusal),
}

/// What storing a budget version did.
#[derive(Debug)]
pub enum BudgetInsert {
    Inserted(StoredBudget),
    /// The key was used before for the unit and year: the version it made.
    KeyTaken(StoredBudget),
}

/// What revoking a token did.
#[derive(Debug)]
pub enum TokenRevoke {
    Revoked(TokenRecord),
    AlreadyRevoked(TokenRecord),
    NotFound,
}

/// Which audit events to read, in chain order.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub fiscal_year: Option<FiscalYear>,
    pub actor_contains: Option<String>,
    pub after_seq: u64,
    pub limit: u32,
}

/// The rule a review decision is made by, on what its transaction reads: what the decision changes (and the
/// version's report type), or why not.
pub type ReviewRule<'a> = dyn Fn(&ReviewSnapshot) -> Result<Transition, Refusal> + Send + Sync + 'a;
/// The rule a unit record is registered by, on every unit record stored (the record's place in every year's tree).
pub type RegistrationRule<'a> =
    dyn Fn(&[Unit]) -> Result<(), Vec<FieldViolation>> + Send + Sync + 'a;
/// The rule a submission is stored by (locks, the expected current version).
pub type SubmitRule<'a> = dyn Fn(&ReviewSnapshot) -> Result<(), Refusal> + Send + Sync + 'a;
/// The rule a lock is set by, given the node's existing lock and the units of the year with a version pending
/// review.
pub type LockRule<'a> =
    dyn Fn(Option<&LockRecord>, &[UnitCode]) -> Result<(), Refusal> + Send + Sync + 'a;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Whether other servers may write this store too (replicas on one database): state derived from it in
    /// memory must then catch up with changes it did not make.
    fn shared(&self) -> bool {
        false
    }

    /// Answers whether the database can be reached now (health).
    async fn ping(&self) -> Result<(), StoreError>;

    // --- units

    /// Registers a unit record, replacing the record of the same code and valid_from, if `rule` allows it on
    /// every unit record the transaction reads (the forest checks); the event is appended only when something
    /// changed.
    async fn upsert_unit(
        &self,
        unit: &Unit,
        rule: Option<&RegistrationRule<'_>>,
        event: NewEvent,
    ) -> Result<Result<UnitUpsert, Vec<FieldViolation>>, StoreError>;

    /// The record of a unit that applies to a year.
    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError>;

    /// Every record of a unit, by valid_from.
    async fn unit_records(&self, code: &UnitCode) -> Result<Vec<Unit>, StoreError>;

    /// Every unit record that applies to a year.
    async fn units_for_year(&self, year: FiscalYear) -> Result<Vec<Unit>, StoreError>;

    /// The SM2 public key a unit signs with (SEC1 bytes).
    async fn signing_key(&self, unit: &UnitCode) -> Result<Option<Vec<u8>>, StoreError>;

    /// Sets (or with `None` clears) a unit's signing key.
    async fn set_signing_key(
        &self,
        unit: &UnitCode,
        key: Option<&[u8]>,
        event: NewEvent,
    ) -> Result<u64, StoreError>;

    // --- submissions

    /// The submission a unit made for a year with an idempotency key, with its content.
    async fn submission_by_key(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// Stores a new version (numbered after the unit's last one for the year) with the explanations given with
    /// it and makes it current for its report type — if `rule` allows it on the state read in the transaction
    /// (`lineage`: the unit and its ancestors, whose locks apply).
    async fn insert_submission(
        &self,
        new: NewSubmission,
        lineage: &[UnitCode],
        rule: &SubmitRule<'_>,
        event: NewEvent,
    ) -> Result<SubmissionInsert, StoreError>;

    /// One version with its content; `None` as version means the current 单户表 (or, when there is none, the
    /// current version of another report type).
    async fn submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// The current version of a report type, with content.
    async fn current_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// Every version of a unit's disclosure for a year, oldest first, without content.
    async fn submissions(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, StoreError>;

    /// The latest version of a report type without ERROR findings, with content and facts.
    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// The accepted version of a report type, with content and facts.
    async fn accepted_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// The figures of the accepted version of a report type, which the next year's disclosure is checked against.
    /// Shared: a store may keep them for the next call.
    async fn accepted_facts(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<Arc<Facts>>, StoreError>;

    /// For every unit of a year: its accepted version of a report type and its figures, handed to `each` one at
    /// a time — a region's figures are never all in memory at once.
    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError>;

    /// For the named units only (those a checkpoint's later changes name): the accepted version and its figures as
    /// the JSON text they are kept in, for the caller to parse on as many threads as it has; a unit without an
    /// accepted version is left out.
    async fn counted_facts_json_of(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        units: &[UnitCode],
        each: &mut (dyn FnMut(UnitCode, u32, String) + Send),
    ) -> Result<(), StoreError>;

    /// For every unit that submitted for a year: how many versions, the latest, the current ones, the one that
    /// counts.
    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError>;

    /// Records explanations (finding key → text) of a version's findings, replacing earlier ones of the same keys,
    /// unless a lock on the lineage forbids it (then the lock is returned and nothing changes).
    async fn put_explanations(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        explanations: &[(String, String)],
        lineage: &[UnitCode],
        event: NewEvent,
    ) -> Result<Option<LockRecord>, StoreError>;

    // --- review

    /// The current and accepted versions of a unit's report type.
    async fn pointers(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Pointers, StoreError>;

    /// Applies a review decision on a version if `rule` allows it on the state read in the transaction. Returns
    /// what changed, the version's report type and the event's seq.
    async fn review(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        lineage: &[UnitCode],
        rule: &ReviewRule<'_>,
        event: NewEvent,
    ) -> Result<Result<(Transition, ReportType, u64), Refusal>, StoreError>;

    /// Sets a lock if `rule` allows it; returns the event's seq.
    async fn lock(
        &self,
        lock: &LockRecord,
        rule: &LockRule<'_>,
        event: NewEvent,
    ) -> Result<Result<u64, Refusal>, StoreError>;

    /// Removes a node's lock; `None` when it had none.
    async fn unlock(
        &self,
        node: &UnitCode,
        year: FiscalYear,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError>;

    /// The lock set on a node for a year.
    async fn lock_of(
        &self,
        node: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<LockRecord>, StoreError>;

    /// A lock on any of these nodes (a unit's lineage) for a year.
    async fn lock_covering(
        &self,
        year: FiscalYear,
        lineage: &[UnitCode],
    ) -> Result<Option<LockRecord>, StoreError>;

    /// Every lock of a year.
    async fn locks(&self, year: FiscalYear) -> Result<Vec<LockRecord>, StoreError>;

    // --- budgets

    /// Sets the budget figures of a unit and year (replacing earlier ones).
    /// Stores a new version of a unit's budget figures, numbered after the last, unless the key has been used for
    /// the unit and year (then that version, whatever its figures).
    async fn insert_budget(
        &self,
        new: &NewBudget,
        event: NewEvent,
    ) -> Result<BudgetInsert, StoreError>;

    /// A version of a unit's budget figures; the latest when `version` is `None`.
    async fn budget_version(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredBudget>, StoreError>;

    /// The latest budget figures of a unit and year, which the budget-versus-final rules read.
    async fn budget(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<BudgetFigures>, StoreError> {
        Ok(self
            .budget_version(unit, year, None)
            .await?
            .map(|stored| stored.figures))
    }

    // --- tokens

    async fn token_count(&self) -> Result<u64, StoreError>;

    async fn insert_token(&self, token: &TokenRecord, event: NewEvent) -> Result<u64, StoreError>;

    /// Inserts the token only when the store has none yet (the first start's administrator), atomically: `None`
    /// when another got there first.
    async fn insert_first_token(
        &self,
        token: &TokenRecord,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError>;

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    async fn revoke_token(
        &self,
        id: &str,
        at_ms: i64,
        by: &str,
        event: NewEvent,
    ) -> Result<TokenRevoke, StoreError>;

    // --- audit

    /// Events in chain order, filtered.
    async fn audit_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError>;

    /// Every event in chain order, handed to `each` until it returns false.
    async fn audit_chain(
        &self,
        each: &mut (dyn FnMut(Event) -> bool + Send),
    ) -> Result<(), StoreError>;

    /// The detail of the audit event that recorded a version's submission (it names the SM3 digest of the bytes
    /// received, "sm3:…"); `None` when no event records it.
    async fn submission_event_detail(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
    ) -> Result<Option<String>, StoreError>;

    /// Every stored version's bytes with the digest its row records, by year, unit and version, handed to `each`
    /// until it returns false: what `audit verify` checks against the chain.
    async fn version_contents(
        &self,
        each: &mut (dyn FnMut(StoredContent) -> bool + Send),
    ) -> Result<(), StoreError>;

    /// The sequence number of the last audit event (0 when there is none): every change that moves a consolidated
    /// figure appends one, so it tells whether anything changed since.
    async fn last_event_seq(&self) -> Result<u64, StoreError>;

    // --- snapshots of derived state (rebuildable from the rest, so losing one costs only time)

    /// Keeps a snapshot under `name` (letters, digits, '-', '.'), replacing the one before atomically; the one it
    /// replaces is kept under `<name>.previous`, for when the newer one turns out damaged.
    async fn write_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError>;

    /// The snapshot kept under `name`, if any.
    async fn read_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Waits for pending writes and closes the database.
    async fn close(&self);
}

//! Persistence behind one interface, [`Store`]. The embedded default is SQLite (`sqlite`), a file in the data
//! directory; a PostgreSQL implementation for replicated deployments implements the same trait.

mod sqlite;

use async_trait::async_trait;

pub use sqlite::{DATABASE_FILE, SqliteStore};

use crate::domain::{
    budget::BudgetFigures,
    disclosure::ReportType,
    facts::Facts,
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    submission::{NewSubmission, StoredSubmission, SubmissionState},
    unit::Unit,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
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
}

/// Where a unit's submissions for a year stand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmissionStatus {
    pub unit_code: UnitCode,
    pub versions: u32,
    pub latest_version: u32,
    pub latest_state: SubmissionState,
    pub latest_at_ms: i64,
    /// The latest 单户表 version without ERROR findings: the one consolidation counts.
    pub counted_version: Option<u32>,
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
    /// Another submission already holds the idempotency key (a concurrent retry won the race).
    KeyTaken(StoredSubmission),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Registers a unit record, replacing the record of the same code and valid_from.
    async fn upsert_unit(&self, unit: &Unit) -> Result<UnitUpsert, StoreError>;

    /// The record of a unit that applies to a year.
    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError>;

    /// Every unit record that applies to a year.
    async fn units_for_year(&self, year: FiscalYear) -> Result<Vec<Unit>, StoreError>;

    /// The submission made with an idempotency key, with its content.
    async fn submission_by_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// Stores a new version (numbered after the unit's last one for the year), with the explanations given with
    /// it, and makes it current, atomically.
    async fn insert_submission(&self, new: NewSubmission) -> Result<SubmissionInsert, StoreError>;

    /// One version with its content; `None` as version means the current one.
    async fn submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// Every version of a unit's disclosure for a year, oldest first, without content.
    async fn submissions(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, StoreError>;

    /// The latest version of a report type without ERROR findings, with content and facts (the figures that
    /// count until the review workflow decides acceptance).
    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError>;

    /// For every unit of a year: its latest version without ERROR findings of a report type, and its figures,
    /// handed to `each` one at a time — a region's figures are never all in memory at once.
    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError>;

    /// For every unit that submitted for a year: how many versions, the latest, and the one that counts.
    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError>;

    /// Records explanations (finding key → text) of a version's findings, replacing earlier ones of the same keys.
    async fn put_explanations(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
        explanations: &[(String, String)],
    ) -> Result<(), StoreError>;

    /// Sets the budget figures of a unit and year (replacing earlier ones).
    async fn put_budget(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        figures: &BudgetFigures,
    ) -> Result<(), StoreError>;

    /// The budget figures of a unit and year, if a budget system gave them.
    async fn budget(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<BudgetFigures>, StoreError>;

    /// Waits for pending writes and closes the database.
    async fn close(&self);
}

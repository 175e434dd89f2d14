//! The embedded store: one SQLite file in the data directory, in WAL mode with full fsync, so that an
//! acknowledged submission survives a crash.

use std::{path::Path, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Row,
    sqlite::{
        SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
};

use super::{Store, StoreError, SubmissionInsert, SubmissionStatus, UnitUpsert};
use crate::domain::{
    budget::BudgetFigures,
    disclosure::ReportType,
    facts::Facts,
    ids::{FiscalYear, IdempotencyKey, RegionCode, UnitCode},
    submission::{NewSubmission, StoredSubmission, SubmissionState},
    unit::{BudgetLevel, Unit, UnitType},
    validation::Report,
};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "juesuan.sqlite3";

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

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
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(SqliteStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// The columns of a unit record, as a literal so that queries stay `&'static str` (sqlx refuses built strings
/// unless asserted safe; these are all fixed).
macro_rules! unit_columns {
    () => {
        "code, valid_from, valid_to, name, budget_level, unit_type, parent_code, supervising_code, region_code, \
         is_department, is_region"
    };
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

fn unit_from_row(row: &SqliteRow) -> Result<Unit, StoreError> {
    let code: String = row.try_get("code")?;
    let year = |value: i64| {
        u32::try_from(value)
            .ok()
            .and_then(|y| FiscalYear::new(y).ok())
            .ok_or_else(|| corrupt(format!("unit {code}: year {value}")))
    };
    let optional_code = |value: Option<String>| -> Result<Option<UnitCode>, StoreError> {
        value
            .map(|v| UnitCode::parse(&v).map_err(|e| corrupt(format!("unit {code}: {e}"))))
            .transpose()
    };
    let valid_to: Option<i64> = row.try_get("valid_to")?;
    let budget_level: String = row.try_get("budget_level")?;
    let unit_type: Option<String> = row.try_get("unit_type")?;
    let region: String = row.try_get("region_code")?;
    Ok(Unit {
        code: UnitCode::parse(&code).map_err(|e| corrupt(format!("unit code {code}: {e}")))?,
        name: row.try_get("name")?,
        valid_from: year(row.try_get("valid_from")?)?,
        valid_to: valid_to.map(year).transpose()?,
        budget_level: BudgetLevel::from_code(&budget_level)
            .ok_or_else(|| corrupt(format!("unit {code}: budget level {budget_level}")))?,
        unit_type: unit_type
            .map(|t| {
                UnitType::from_code(&t)
                    .ok_or_else(|| corrupt(format!("unit {code}: unit type {t}")))
            })
            .transpose()?,
        parent: optional_code(row.try_get("parent_code")?)?,
        supervising_department: optional_code(row.try_get("supervising_code")?)?,
        fiscal_region: RegionCode::parse(&region)
            .map_err(|e| corrupt(format!("unit {code}: {e}")))?,
        is_department: row.try_get("is_department")?,
        is_region: row.try_get("is_region")?,
    })
}

/// A query of submissions with their current flag, filtered by `$filter`; `$extra` adds columns.
macro_rules! select_submissions {
    ($extra:literal, $filter:literal) => {
        concat!(
            "SELECT s.unit_code, s.fiscal_year, s.report_type, s.version, s.state, s.idempotency_key, s.content_sm3, \
                    length(s.content) AS content_len, s.report_json, s.submitted_at_ms, \
                    (c.version IS NOT NULL) AS current",
            $extra,
            " FROM submissions s \
             LEFT JOIN current_submissions c ON c.unit_code = s.unit_code AND c.fiscal_year = s.fiscal_year \
                                             AND c.version = s.version \
             WHERE ",
            $filter
        )
    };
}

fn submission_from_row(
    row: &SqliteRow,
    content: Option<(Vec<u8>, Facts)>,
) -> Result<StoredSubmission, StoreError> {
    let unit: String = row.try_get("unit_code")?;
    let year: i64 = row.try_get("fiscal_year")?;
    let version: i64 = row.try_get("version")?;
    let state: String = row.try_get("state")?;
    let report_type: String = row.try_get("report_type")?;
    let report_json: String = row.try_get("report_json")?;
    let content_len: i64 = row.try_get("content_len")?;
    let report: Report = serde_json::from_str(&report_json)
        .map_err(|e| corrupt(format!("report of {unit}/{year} v{version}: {e}")))?;
    Ok(StoredSubmission {
        unit_code: UnitCode::parse(&unit)
            .map_err(|e| corrupt(format!("submission unit {unit}: {e}")))?,
        fiscal_year: u32::try_from(year)
            .ok()
            .and_then(|y| FiscalYear::new(y).ok())
            .ok_or_else(|| corrupt(format!("submission year {year}")))?,
        report_type: ReportType::from_code(&report_type)
            .ok_or_else(|| corrupt(format!("report type {report_type}")))?,
        version: u32::try_from(version).map_err(|_| corrupt(format!("version {version}")))?,
        state: SubmissionState::from_code(&state)
            .ok_or_else(|| corrupt(format!("state {state}")))?,
        current: row.try_get("current")?,
        idempotency_key: row.try_get("idempotency_key")?,
        content_sm3: row.try_get("content_sm3")?,
        content_len: u64::try_from(content_len).unwrap_or(0),
        facts: content.as_ref().map(|(_, facts)| facts.clone()),
        content: content.map(|(bytes, _)| bytes),
        report,
        submitted_at_ms: row.try_get("submitted_at_ms")?,
    })
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
        let content: Vec<u8> = row.try_get("content")?;
        let facts_json: String = row.try_get("facts_json")?;
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
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT finding_key, text FROM explanations WHERE unit_code = ? AND fiscal_year = ? AND version = ?",
        )
        .bind(submission.unit_code.as_str())
        .bind(i64::from(submission.fiscal_year.get()))
        .bind(i64::from(submission.version))
        .fetch_all(&self.pool)
        .await?;
        submission
            .report
            .apply_explanations(rows.iter().map(|(k, t)| (k.as_str(), t.as_str())));
        Ok(())
    }
}

enum Bind<'a> {
    Text(&'a str),
    Int(i64),
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_unit(&self, unit: &Unit) -> Result<UnitUpsert, StoreError> {
        let mut tx = self.pool.begin().await?;
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
            Some(row) if unit_from_row(&row)? == *unit => return Ok(UnitUpsert::Unchanged),
            Some(_) => UnitUpsert::Replaced,
            None => UnitUpsert::Inserted,
        };
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
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError> {
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

    async fn submission_by_key(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(", s.content, s.facts_json", "s.idempotency_key = ?"),
            vec![Bind::Text(key.as_str())],
        )
        .await
    }

    async fn insert_submission(&self, new: NewSubmission) -> Result<SubmissionInsert, StoreError> {
        let report_json =
            serde_json::to_string(&new.report).map_err(|e| corrupt(format!("report: {e}")))?;
        let facts_json =
            serde_json::to_string(&new.facts).map_err(|e| corrupt(format!("facts: {e}")))?;
        let year = i64::from(new.fiscal_year.get());
        let mut tx = self.pool.begin().await?;
        // Taking the write lock first (a no-op write) serializes version numbering between writers.
        sqlx::query("UPDATE current_submissions SET version = version WHERE 0")
            .execute(&mut *tx)
            .await?;
        let next: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) + 1 FROM submissions WHERE unit_code = ? AND fiscal_year = ?",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .fetch_one(&mut *tx)
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO submissions (unit_code, fiscal_year, version, state, idempotency_key, content_sm3, content, \
                                      report_json, facts_json, submitted_at_ms, report_type) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (idempotency_key) DO NOTHING",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(next)
        .bind(new.state.code())
        .bind(new.idempotency_key.as_str())
        .bind(&new.content_sm3)
        .bind(&new.content)
        .bind(&report_json)
        .bind(&facts_json)
        .bind(new.submitted_at_ms)
        .bind(new.report_type.code())
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 0 {
            tx.rollback().await?;
            let existing = self
                .submission_by_key(&new.idempotency_key)
                .await?
                .ok_or_else(|| corrupt("idempotency key conflict without a submission"))?;
            return Ok(SubmissionInsert::KeyTaken(existing));
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
        sqlx::query(
            "INSERT INTO current_submissions (unit_code, fiscal_year, version) VALUES (?, ?, ?) \
             ON CONFLICT (unit_code, fiscal_year) DO UPDATE SET version = excluded.version",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(next)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(SubmissionInsert::Inserted(StoredSubmission {
            unit_code: new.unit_code,
            fiscal_year: new.fiscal_year,
            report_type: new.report_type,
            version: u32::try_from(next).map_err(|_| corrupt(format!("version {next}")))?,
            state: new.state,
            current: true,
            idempotency_key: new.idempotency_key.as_str().to_owned(),
            content_sm3: new.content_sm3,
            content_len: new.content.len() as u64,
            content: Some(new.content),
            facts: Some(new.facts),
            report: new.report,
            submitted_at_ms: new.submitted_at_ms,
        }))
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
                        ", s.content, s.facts_json",
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
                        ", s.content, s.facts_json",
                        "s.unit_code = ? AND s.fiscal_year = ? AND c.version IS NOT NULL"
                    ),
                    vec![Bind::Text(unit.as_str()), Bind::Int(year)],
                )
                .await
            }
        }
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
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let now = now_ms();
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
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.fetch_submission(
            select_submissions!(
                ", s.content, s.facts_json",
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

    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT s.unit_code, s.version, s.facts_json FROM submissions s \
             WHERE s.fiscal_year = ?1 AND s.report_type = ?2 AND s.version = \
               (SELECT max(v.version) FROM submissions v WHERE v.unit_code = s.unit_code \
                  AND v.fiscal_year = ?1 AND v.report_type = ?2 AND v.state != 'rejected_by_rules')",
        )
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let (unit, version, json) = row?;
            let code = UnitCode::parse(&unit).map_err(|e| corrupt(format!("unit {unit}: {e}")))?;
            let facts: Facts = serde_json::from_str(&json)
                .map_err(|e| corrupt(format!("facts of {unit} v{version}: {e}")))?;
            each(code, u32::try_from(version).unwrap_or(0), facts);
        }
        Ok(())
    }

    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError> {
        let rows: Vec<(String, i64, i64, String, i64, Option<i64>)> = sqlx::query_as(
            "SELECT s.unit_code, count(*), max(s.version), \
               (SELECT l.state FROM submissions l WHERE l.unit_code = s.unit_code AND l.fiscal_year = s.fiscal_year \
                ORDER BY l.version DESC LIMIT 1), \
               max(s.submitted_at_ms), \
               max(CASE WHEN s.state != 'rejected_by_rules' AND s.report_type = 'single' THEN s.version END) \
             FROM submissions s WHERE s.fiscal_year = ? GROUP BY s.unit_code",
        )
        .bind(i64::from(year.get()))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(unit, versions, latest, state, at, counted)| {
                Ok(SubmissionStatus {
                    unit_code: UnitCode::parse(&unit)
                        .map_err(|e| corrupt(format!("unit {unit}: {e}")))?,
                    versions: u32::try_from(versions).unwrap_or(0),
                    latest_version: u32::try_from(latest).unwrap_or(0),
                    latest_state: SubmissionState::from_code(&state)
                        .ok_or_else(|| corrupt(format!("state {state}")))?,
                    latest_at_ms: at,
                    counted_version: counted.and_then(|v| u32::try_from(v).ok()),
                })
            })
            .collect()
    }

    async fn put_budget(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        figures: &BudgetFigures,
    ) -> Result<(), StoreError> {
        let json = serde_json::to_string(figures).map_err(|e| corrupt(format!("budget: {e}")))?;
        sqlx::query(
            "INSERT INTO budgets (unit_code, fiscal_year, figures_json, updated_at_ms) VALUES (?, ?, ?, ?) \
             ON CONFLICT (unit_code, fiscal_year) DO UPDATE SET figures_json = excluded.figures_json, \
                                                              updated_at_ms = excluded.updated_at_ms",
        )
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .bind(json)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn budget(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<BudgetFigures>, StoreError> {
        let json: Option<String> = sqlx::query_scalar(
            "SELECT figures_json FROM budgets WHERE unit_code = ? AND fiscal_year = ?",
        )
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .fetch_optional(&self.pool)
        .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| corrupt(format!("budget of {unit}/{year}: {e}")))
        })
        .transpose()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

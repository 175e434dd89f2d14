//! The replicated deployments' store: PostgreSQL, shared by every replica. Same tables and meanings as the SQLite
//! store (`migrations/postgres`), and the same decisions taken inside the transactions.
//!
//! Every write transaction first takes one transaction-scoped advisory lock (`WRITE_LOCK`), the counterpart of
//! SQLite's `BEGIN IMMEDIATE`: writers from any replica are serialized before they read what their decision depends
//! on, and the audit chain, whose every event names the hash of the one before, gets its next link from exactly one
//! writer at a time. Reads take no lock. A commit is durable when PostgreSQL answers it (synchronous_commit).
//!
//! Nothing is cached here: another replica may change any row, and a revoked token must stop working everywhere at
//! once. Consolidation snapshots live in the `snapshots` table, so any replica can start from them.

use std::{sync::Arc, time::Duration};

use async_trait::async_trait;
use sqlx::{
    Postgres, Row, Transaction,
    postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow},
};

use super::{
    BudgetInsert, EventFilter, LockRule, Pointers, RegistrationRule, ReviewRule, Store, StoreError,
    SubmissionInsert, SubmissionStatus, SubmitRule, TokenRevoke, UnitUpsert,
    rows::{
        budget_from_row, code_of, columns_for, compress, content_of, corrupt, event_from_row,
        hash_of, lock_from_row, read_accepted_facts, report_type_of, select_submissions, state_of,
        submission_from_row, token_from_row, unit_columns, unit_from_row, version_of,
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

/// The key of the advisory lock every write transaction holds ("juesuan" in ASCII, as a number).
const WRITE_LOCK: i64 = 0x6A_7565_7375_616E;

/// How long a call waits for a connection before it is answered UNAVAILABLE (the database is down or saturated).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

type Tx = Transaction<'static, Postgres>;

impl PgStore {
    /// Connects to the database at `url` (postgres://…) and brings its schema up to date. The server does not
    /// start without its database (the migrations need it); once started, it rides out an outage (health says
    /// NOT_SERVING, calls get UNAVAILABLE) and reconnects when the database is back.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options: PgConnectOptions = url.parse()?;
        // One connection first, so that a server that cannot be reached is said once, with its cause, rather
        // than as a pool that timed out.
        let target = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or("")
        );
        let first = tokio::time::timeout(
            ACQUIRE_TIMEOUT,
            <sqlx::PgConnection as sqlx::Connection>::connect_with(&options),
        )
        .await
        .map_err(|_| StoreError::Connect {
            target: target.clone(),
            cause: format!("no answer within {} s", ACQUIRE_TIMEOUT.as_secs()),
        })?;
        let first: sqlx::PgConnection = first.map_err(|e| StoreError::Connect {
            target: target.clone(),
            cause: e.to_string(),
        })?;
        sqlx::Connection::close(first).await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options.application_name("juesuan"))
            .await?;
        // Replicas starting together: the migrator's own advisory lock lets one of them migrate.
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(PgStore { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A write transaction holding the store's write lock from its first statement.
    async fn begin_write(&self) -> Result<Tx, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    /// Commits, releasing the write lock; PostgreSQL answers once the commit is durable.
    async fn commit(&self, tx: Tx) -> Result<(), StoreError> {
        tx.commit().await?;
        Ok(())
    }
}

columns_for!(PgRow);

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
                             issued_by, expires_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
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

async fn append_event(tx: &mut Tx, event: NewEvent) -> Result<u64, StoreError> {
    let head: Option<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&mut **tx)
            .await?;
    let prev = head
        .map(|(seq, hash)| {
            Ok::<_, StoreError>((
                u64::try_from(seq).map_err(|_| corrupt("audit seq"))?,
                hash_of(hash, "audit hash")?,
            ))
        })
        .transpose()?;
    let sealed = audit::seal(prev, event);
    let e = &sealed.event;
    sqlx::query(
        "INSERT INTO audit_events (seq, at_ms, actor, action, unit_code, fiscal_year, version, reason, detail, \
                                   prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
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
    .bind(sealed.hash.as_slice())
    .execute(&mut **tx)
    .await?;
    Ok(sealed.seq)
}

/// A lock on any node of a lineage, read inside a transaction or on the pool.
async fn lock_on<'e, E: sqlx::Executor<'e, Database = Postgres>>(
    executor: E,
    year: FiscalYear,
    lineage: &[UnitCode],
) -> Result<Option<LockRecord>, StoreError> {
    let row = sqlx::query(
        "SELECT node_code, fiscal_year, locked_by_node, locked_by, locked_at_ms FROM locks \
         WHERE fiscal_year = $1 AND node_code = ANY($2) \
         ORDER BY locked_at_ms LIMIT 1",
    )
    .bind(i64::from(year.get()))
    .bind(lineage.iter().map(UnitCode::as_str).collect::<Vec<_>>())
    .fetch_optional(executor)
    .await?;
    row.as_ref().map(lock_from_row).transpose()
}

/// The current and accepted versions of a report type, and the versions ever accepted, inside a transaction.
async fn snapshot_pointers(
    tx: &mut Tx,
    unit: &UnitCode,
    year: i64,
    report_type: ReportType,
) -> Result<(Option<(u32, SubmissionState)>, Option<u32>, Vec<u32>), StoreError> {
    let current: Option<(i64, String)> = sqlx::query_as(
        "SELECT c.version, s.state FROM current_versions c JOIN submissions s \
           ON s.unit_code = c.unit_code AND s.fiscal_year = c.fiscal_year AND s.version = c.version \
         WHERE c.unit_code = $1 AND c.fiscal_year = $2 AND c.report_type = $3",
    )
    .bind(unit.as_str())
    .bind(year)
    .bind(report_type.code())
    .fetch_optional(&mut **tx)
    .await?;
    let accepted: Option<i64> = sqlx::query_scalar(
        "SELECT version FROM accepted_versions WHERE unit_code = $1 AND fiscal_year = $2 AND report_type = $3",
    )
    .bind(unit.as_str())
    .bind(year)
    .bind(report_type.code())
    .fetch_optional(&mut **tx)
    .await?;
    let ever: Vec<i64> = sqlx::query_scalar(
        "SELECT version FROM submissions WHERE unit_code = $1 AND fiscal_year = $2 AND report_type = $3 \
           AND state = 'accepted' ORDER BY version",
    )
    .bind(unit.as_str())
    .bind(year)
    .bind(report_type.code())
    .fetch_all(&mut **tx)
    .await?;
    Ok((
        current
            .map(|(v, s)| Ok::<_, StoreError>((version_of(v)?, state_of(&s)?)))
            .transpose()?,
        accepted.map(version_of).transpose()?,
        ever.into_iter().map(version_of).collect::<Result<_, _>>()?,
    ))
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
            "INSERT INTO current_versions (unit_code, fiscal_year, report_type, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (unit_code, fiscal_year, report_type) DO UPDATE SET version = excluded.version",
            "DELETE FROM current_versions WHERE unit_code = $1 AND fiscal_year = $2 AND report_type = $3",
        ),
        Pointer::Accepted => (
            "INSERT INTO accepted_versions (unit_code, fiscal_year, report_type, version) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (unit_code, fiscal_year, report_type) DO UPDATE SET version = excluded.version",
            "DELETE FROM accepted_versions WHERE unit_code = $1 AND fiscal_year = $2 AND report_type = $3",
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

impl PgStore {
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

async fn explanations_of<'e, E: sqlx::Executor<'e, Database = Postgres>>(
    executor: E,
    unit: &UnitCode,
    year: i64,
    version: u32,
) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT finding_key, text FROM explanations WHERE unit_code = $1 AND fiscal_year = $2 AND version = $3",
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
impl Store for PgStore {
    fn shared(&self) -> bool {
        true
    }

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
            " FROM units WHERE code = $1 AND valid_from = $2"
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
            "INSERT INTO units (",
            unit_columns!(),
            ", registered_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (code, valid_from) DO UPDATE SET valid_to = excluded.valid_to, name = excluded.name, \
               budget_level = excluded.budget_level, unit_type = excluded.unit_type, \
               parent_code = excluded.parent_code, supervising_code = excluded.supervising_code, \
               region_code = excluded.region_code, is_department = excluded.is_department, \
               is_region = excluded.is_region, registered_at_ms = excluded.registered_at_ms"
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
        Ok(Ok(outcome))
    }

    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            unit_columns!(),
            " FROM units WHERE code = $1 AND valid_from <= $2 ORDER BY valid_from DESC LIMIT 1"
        ))
        .bind(code.as_str())
        .bind(i64::from(year.get()))
        .fetch_optional(&self.pool)
        .await?;
        let unit = row.as_ref().map(unit_from_row).transpose()?;
        Ok(unit.filter(|u| u.covers(year)))
    }

    async fn unit_records(&self, code: &UnitCode) -> Result<Vec<Unit>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            unit_columns!(),
            " FROM units WHERE code = $1 ORDER BY valid_from"
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
               (SELECT max(valid_from) FROM units v WHERE v.code = u.code AND v.valid_from <= $1) \
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
        Ok(
            sqlx::query_scalar("SELECT public_key FROM signing_keys WHERE unit_code = $1")
                .bind(unit.as_str())
                .fetch_optional(&self.pool)
                .await?,
        )
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
                    "INSERT INTO signing_keys (unit_code, public_key, set_at_ms) VALUES ($1, $2, $3) \
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
                sqlx::query("DELETE FROM signing_keys WHERE unit_code = $1")
                    .bind(unit.as_str())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let seq = append_event(&mut tx, event).await?;
        self.commit(tx).await?;
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
                "s.unit_code = $1 AND s.fiscal_year = $2 AND s.idempotency_key = $3"
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
        let year = i64::from(new.fiscal_year.get());
        let mut tx = self.begin_write().await?;
        let taken: Option<i64> = sqlx::query_scalar(
            "SELECT version FROM submissions WHERE unit_code = $1 AND fiscal_year = $2 AND idempotency_key = $3",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(new.idempotency_key.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        if taken.is_some() {
            tx.rollback().await?;
            let existing = self
                .submission_by_key(&new.unit_code, new.fiscal_year, &new.idempotency_key)
                .await?
                .ok_or_else(|| corrupt("idempotency key conflict without a submission"))?;
            return Ok(SubmissionInsert::KeyTaken(existing));
        }
        let (current, accepted, accepted_versions) =
            snapshot_pointers(&mut tx, &new.unit_code, year, new.report_type).await?;
        let snapshot = ReviewSnapshot {
            target: None,
            current,
            accepted,
            accepted_versions,
            lock: lock_on(&mut *tx, new.fiscal_year, lineage).await?,
        };
        if let Err(refusal) = rule(&snapshot) {
            tx.rollback().await?;
            return Ok(SubmissionInsert::Refused(refusal));
        }
        let next: i64 = sqlx::query_scalar(
            "SELECT coalesce(max(version), 0) + 1 FROM submissions WHERE unit_code = $1 AND fiscal_year = $2",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_of(next)?;
        sqlx::query(
            "INSERT INTO submissions (unit_code, fiscal_year, version, state, idempotency_key, content_sm3, content, \
                                      content_encoding, content_len, report_json, facts_json, submitted_at_ms, \
                                      report_type, submitted_by, signature) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .bind(next)
        .bind(new.state.code())
        .bind(new.idempotency_key.as_str())
        .bind(&new.content_sm3)
        .bind(stored_content.as_ref())
        .bind(encoding)
        .bind(new.content.len() as i64)
        .bind(&report_json)
        .bind(new.facts.as_str())
        .bind(new.submitted_at_ms)
        .bind(new.report_type.code())
        .bind(&new.submitted_by)
        .bind(new.signature.as_deref())
        .execute(&mut *tx)
        .await?;
        for (key, text) in &new.explanations {
            sqlx::query(
                "INSERT INTO explanations (unit_code, fiscal_year, version, finding_key, text, explained_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
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
        set_pointer(
            &mut tx,
            Pointer::Current,
            &new.unit_code,
            year,
            new.report_type,
            Some(version),
        )
        .await?;
        append_event(&mut tx, event.version(version)).await?;
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
                        "s.unit_code = $1 AND s.fiscal_year = $2 AND s.version = $3"
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
                        "s.unit_code = $1 AND s.fiscal_year = $2 AND c.version IS NOT NULL \
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
                "s.unit_code = $1 AND s.fiscal_year = $2 AND s.report_type = $3 AND c.version IS NOT NULL"
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
            "s.unit_code = $1 AND s.fiscal_year = $2 ORDER BY s.version"
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
                 VALUES ($1, $2, $3, $4, $5, $6) \
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
                "s.unit_code = $1 AND s.fiscal_year = $2 AND s.report_type = $3 AND s.state != 'rejected_by_rules' \
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
                "s.unit_code = $1 AND s.fiscal_year = $2 AND s.report_type = $3 AND s.version = \
                   (SELECT a.version FROM accepted_versions a WHERE a.unit_code = $1 AND a.fiscal_year = $2 \
                      AND a.report_type = $3)"
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
        // Not kept between calls: another replica may accept a version meanwhile.
        read_accepted_facts(&self.pool, unit, year, report_type).await
    }

    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError> {
        let mut rows = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT s.unit_code, s.version, s.facts_json FROM accepted_versions a \
             JOIN submissions s ON s.unit_code = a.unit_code AND s.fiscal_year = a.fiscal_year \
                               AND s.version = a.version \
             WHERE a.fiscal_year = $1 AND a.report_type = $2",
        )
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let (unit, version, json) = row?;
            let code = code_of(&unit, "counted facts")?;
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
        let codes: Vec<&str> = units.iter().map(UnitCode::as_str).collect();
        let mut rows = sqlx::query_as::<_, (String, i64, String)>(
            "SELECT s.unit_code, s.version, s.facts_json FROM accepted_versions a \
             JOIN submissions s ON s.unit_code = a.unit_code AND s.fiscal_year = a.fiscal_year \
                               AND s.version = a.version \
             WHERE a.fiscal_year = $1 AND a.report_type = $2 AND a.unit_code = ANY($3)",
        )
        .bind(i64::from(year.get()))
        .bind(report_type.code())
        .bind(codes)
        .fetch(&self.pool);
        while let Some(row) = tokio_stream::StreamExt::next(&mut rows).await {
            let (unit, version, json) = row?;
            let code = code_of(&unit, "counted facts")?;
            each(code, version_of(version)?, json);
        }
        Ok(())
    }

    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError> {
        let year = i64::from(year.get());
        let totals: Vec<(String, i64, i64, i64)> = sqlx::query_as(
            "SELECT unit_code, count(*), max(version), max(submitted_at_ms) FROM submissions \
             WHERE fiscal_year = $1 GROUP BY unit_code ORDER BY unit_code",
        )
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let currents: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT c.unit_code, c.report_type, c.version, s.state FROM current_versions c \
             JOIN submissions s ON s.unit_code = c.unit_code AND s.fiscal_year = c.fiscal_year \
                               AND s.version = c.version \
             WHERE c.fiscal_year = $1 ORDER BY c.unit_code, c.report_type",
        )
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
        let accepted: Vec<(String, i64)> = sqlx::query_as(
            "SELECT unit_code, version FROM accepted_versions WHERE fiscal_year = $1 AND report_type = 'single'",
        )
        .bind(year)
        .fetch_all(&self.pool)
        .await?;
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
        let mut tx = self.pool.begin().await?;
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
        let row: Option<(String, String, String)> = sqlx::query_as(
            "SELECT report_type, state, report_json FROM submissions \
             WHERE unit_code = $1 AND fiscal_year = $2 AND version = $3",
        )
        .bind(unit.as_str())
        .bind(year_number)
        .bind(i64::from(version))
        .fetch_optional(&mut *tx)
        .await?;
        let Some((report_type, state, report_json)) = row else {
            tx.rollback().await?;
            return Ok(Err(Refusal::NotFound(format!(
                "{unit}/{year} version {version}"
            ))));
        };
        let report_type = report_type_of(&report_type)?;
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
                "UPDATE submissions SET state = $1, review_reason = coalesce($2, review_reason) \
                 WHERE unit_code = $3 AND fiscal_year = $4 AND version = $5",
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
             WHERE node_code = $1 AND fiscal_year = $2",
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
             WHERE c.fiscal_year = $1 AND s.state = 'pending_review' ORDER BY c.unit_code",
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
             VALUES ($1, $2, $3, $4, $5)",
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
        let removed = sqlx::query("DELETE FROM locks WHERE node_code = $1 AND fiscal_year = $2")
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
             WHERE fiscal_year = $1 ORDER BY node_code",
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
            "SELECT * FROM budget_versions WHERE unit_code = $1 AND fiscal_year = $2 AND idempotency_key = $3",
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
            "SELECT coalesce(max(version), 0) + 1 FROM budget_versions WHERE unit_code = $1 AND fiscal_year = $2",
        )
        .bind(new.unit_code.as_str())
        .bind(year)
        .fetch_one(&mut *tx)
        .await?;
        let version = version_of(next)?;
        sqlx::query(
            "INSERT INTO budget_versions (unit_code, fiscal_year, version, idempotency_key, figures_json, put_by, \
                                          put_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)",
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
        let row = sqlx::query(
            "SELECT * FROM budget_versions WHERE unit_code = $1 AND fiscal_year = $2 \
               AND ($3 = 0 OR version = $3) ORDER BY version DESC LIMIT 1",
        )
        .bind(unit.as_str())
        .bind(i64::from(year.get()))
        .bind(i64::from(version.unwrap_or(0)))
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(budget_from_row).transpose()
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
        Ok(Some(seq))
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(token_from_row).transpose()
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
        let Some(row) = sqlx::query("SELECT * FROM tokens WHERE id = $1")
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
        sqlx::query("UPDATE tokens SET revoked_at_ms = $1, revoked_by = $2 WHERE id = $3")
            .bind(at_ms)
            .bind(by)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_event(&mut tx, event).await?;
        self.commit(tx).await?;
        record.revoked_at_ms = Some(at_ms);
        record.revoked_by = Some(by.to_owned());
        Ok(TokenRevoke::Revoked(record))
    }

    async fn audit_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE seq > $1 AND ($2 IS NULL OR fiscal_year = $2) \
               AND ($3 IS NULL OR strpos(actor, $3) > 0) ORDER BY seq LIMIT $4",
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
            "SELECT detail FROM audit_events WHERE unit_code = $1 AND fiscal_year = $2 AND version = $3 \
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
        // One transaction: the row it replaces becomes `<name>.previous`, the new one takes the name.
        let previous = format!("{name}.previous");
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM snapshots WHERE name = $1")
            .bind(&previous)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE snapshots SET name = $2 WHERE name = $1")
            .bind(name)
            .bind(&previous)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO snapshots (name, bytes, written_at_ms) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(bytes)
            .bind(audit::now_ms())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn read_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT bytes FROM snapshots WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

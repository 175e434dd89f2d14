//! Store latency for the operators' metrics: [`TimedStore`] wraps any store and reports how long each of its
//! operations took, by operation name, to an observer (the metrics registry's histogram). The store itself knows
//! nothing of metrics; the wrapper is put around it where the server is assembled.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use super::{
    BudgetInsert, EventFilter, LockRule, Pointers, RegistrationRule, ReviewRule, Store, StoreError,
    SubmissionInsert, SubmissionStatus, SubmitRule, TokenRevoke, UnitUpsert,
};
use crate::domain::{
    audit::{Event, NewEvent},
    budget::{NewBudget, StoredBudget},
    disclosure::ReportType,
    error::FieldViolation,
    facts::Facts,
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    review::{LockRecord, Refusal, Transition},
    submission::{NewSubmission, StoredSubmission},
    tokens::TokenRecord,
    unit::Unit,
};

/// Receives each operation's name (a fixed name per method, so labels stay bounded) and duration.
pub type StoreObserver = Arc<dyn Fn(&'static str, Duration) + Send + Sync>;

pub struct TimedStore {
    inner: Arc<dyn Store>,
    observe: StoreObserver,
}

impl TimedStore {
    pub fn wrap(inner: Arc<dyn Store>, observe: StoreObserver) -> Arc<dyn Store> {
        Arc::new(TimedStore { inner, observe })
    }

    /// Awaits one operation of the inner store and reports how long it took.
    async fn timed<T>(
        &self,
        operation: &'static str,
        call: impl std::future::Future<Output = T>,
    ) -> T {
        let started = Instant::now();
        let result = call.await;
        (self.observe)(operation, started.elapsed());
        result
    }
}

#[async_trait]
impl Store for TimedStore {
    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.timed("ping", self.inner.ping()).await
    }

    async fn upsert_unit(
        &self,
        unit: &Unit,
        rule: Option<&RegistrationRule<'_>>,
        event: NewEvent,
    ) -> Result<Result<UnitUpsert, Vec<FieldViolation>>, StoreError> {
        self.timed("upsert_unit", self.inner.upsert_unit(unit, rule, event))
            .await
    }

    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError> {
        self.timed("unit", self.inner.unit(code, year)).await
    }

    async fn unit_records(&self, code: &UnitCode) -> Result<Vec<Unit>, StoreError> {
        self.timed("unit_records", self.inner.unit_records(code))
            .await
    }

    async fn units_for_year(&self, year: FiscalYear) -> Result<Vec<Unit>, StoreError> {
        self.timed("units_for_year", self.inner.units_for_year(year))
            .await
    }

    async fn signing_key(&self, unit: &UnitCode) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed("signing_key", self.inner.signing_key(unit))
            .await
    }

    async fn set_signing_key(
        &self,
        unit: &UnitCode,
        key: Option<&[u8]>,
        event: NewEvent,
    ) -> Result<u64, StoreError> {
        self.timed(
            "set_signing_key",
            self.inner.set_signing_key(unit, key, event),
        )
        .await
    }

    async fn submission_by_key(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.timed(
            "submission_by_key",
            self.inner.submission_by_key(unit, year, key),
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
        self.timed(
            "insert_submission",
            self.inner.insert_submission(new, lineage, rule, event),
        )
        .await
    }

    async fn submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.timed("submission", self.inner.submission(unit, year, version))
            .await
    }

    async fn current_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.timed(
            "current_submission",
            self.inner.current_submission(unit, year, report_type),
        )
        .await
    }

    async fn submissions(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, StoreError> {
        self.timed("submissions", self.inner.submissions(unit, year))
            .await
    }

    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.timed(
            "latest_valid_submission",
            self.inner.latest_valid_submission(unit, year, report_type),
        )
        .await
    }

    async fn accepted_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        self.timed(
            "accepted_submission",
            self.inner.accepted_submission(unit, year, report_type),
        )
        .await
    }

    async fn accepted_facts(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<Arc<Facts>>, StoreError> {
        self.timed(
            "accepted_facts",
            self.inner.accepted_facts(unit, year, report_type),
        )
        .await
    }

    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError> {
        self.timed(
            "counted_facts",
            self.inner.counted_facts(year, report_type, each),
        )
        .await
    }

    async fn counted_facts_json_of(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        units: &[UnitCode],
        each: &mut (dyn FnMut(UnitCode, u32, String) + Send),
    ) -> Result<(), StoreError> {
        self.timed(
            "counted_facts_json_of",
            self.inner
                .counted_facts_json_of(year, report_type, units, each),
        )
        .await
    }

    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError> {
        self.timed("submission_statuses", self.inner.submission_statuses(year))
            .await
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
        self.timed(
            "put_explanations",
            self.inner
                .put_explanations(unit, year, version, explanations, lineage, event),
        )
        .await
    }

    async fn pointers(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Pointers, StoreError> {
        self.timed("pointers", self.inner.pointers(unit, year, report_type))
            .await
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
        self.timed(
            "review",
            self.inner.review(unit, year, version, lineage, rule, event),
        )
        .await
    }

    async fn lock(
        &self,
        lock: &LockRecord,
        rule: &LockRule<'_>,
        event: NewEvent,
    ) -> Result<Result<u64, Refusal>, StoreError> {
        self.timed("lock", self.inner.lock(lock, rule, event)).await
    }

    async fn unlock(
        &self,
        node: &UnitCode,
        year: FiscalYear,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError> {
        self.timed("unlock", self.inner.unlock(node, year, event))
            .await
    }

    async fn lock_of(
        &self,
        node: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<LockRecord>, StoreError> {
        self.timed("lock_of", self.inner.lock_of(node, year)).await
    }

    async fn lock_covering(
        &self,
        year: FiscalYear,
        lineage: &[UnitCode],
    ) -> Result<Option<LockRecord>, StoreError> {
        self.timed("lock_covering", self.inner.lock_covering(year, lineage))
            .await
    }

    async fn locks(&self, year: FiscalYear) -> Result<Vec<LockRecord>, StoreError> {
        self.timed("locks", self.inner.locks(year)).await
    }

    async fn insert_budget(
        &self,
        new: &NewBudget,
        event: NewEvent,
    ) -> Result<BudgetInsert, StoreError> {
        self.timed("insert_budget", self.inner.insert_budget(new, event))
            .await
    }

    async fn budget_version(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredBudget>, StoreError> {
        self.timed(
            "budget_version",
            self.inner.budget_version(unit, year, version),
        )
        .await
    }

    async fn token_count(&self) -> Result<u64, StoreError> {
        self.timed("token_count", self.inner.token_count()).await
    }

    async fn insert_token(&self, token: &TokenRecord, event: NewEvent) -> Result<u64, StoreError> {
        self.timed("insert_token", self.inner.insert_token(token, event))
            .await
    }

    async fn insert_first_token(
        &self,
        token: &TokenRecord,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError> {
        self.timed(
            "insert_first_token",
            self.inner.insert_first_token(token, event),
        )
        .await
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.timed("token", self.inner.token(id)).await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.timed("tokens", self.inner.tokens()).await
    }

    async fn revoke_token(
        &self,
        id: &str,
        at_ms: i64,
        by: &str,
        event: NewEvent,
    ) -> Result<TokenRevoke, StoreError> {
        self.timed(
            "revoke_token",
            self.inner.revoke_token(id, at_ms, by, event),
        )
        .await
    }

    async fn audit_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        self.timed("audit_events", self.inner.audit_events(filter))
            .await
    }

    async fn audit_chain(
        &self,
        each: &mut (dyn FnMut(Event) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.timed("audit_chain", self.inner.audit_chain(each))
            .await
    }

    async fn submission_event_detail(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: u32,
    ) -> Result<Option<String>, StoreError> {
        self.timed(
            "submission_event_detail",
            self.inner.submission_event_detail(unit, year, version),
        )
        .await
    }

    async fn version_contents(
        &self,
        each: &mut (dyn FnMut(super::StoredContent) -> bool + Send),
    ) -> Result<(), StoreError> {
        self.timed("version_contents", self.inner.version_contents(each))
            .await
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        self.timed("last_event_seq", self.inner.last_event_seq())
            .await
    }

    async fn write_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.timed("write_snapshot", self.inner.write_snapshot(name, bytes))
            .await
    }

    async fn read_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.timed("read_snapshot", self.inner.read_snapshot(name))
            .await
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

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
}

#[async_trait]
impl Store for TimedStore {
    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.ping().await;
        (self.observe)("ping", started.elapsed());
        result
    }

    async fn upsert_unit(
        &self,
        unit: &Unit,
        rule: Option<&RegistrationRule<'_>>,
        event: NewEvent,
    ) -> Result<Result<UnitUpsert, Vec<FieldViolation>>, StoreError> {
        let started = Instant::now();
        let result = self.inner.upsert_unit(unit, rule, event).await;
        (self.observe)("upsert_unit", started.elapsed());
        result
    }

    async fn unit(&self, code: &UnitCode, year: FiscalYear) -> Result<Option<Unit>, StoreError> {
        let started = Instant::now();
        let result = self.inner.unit(code, year).await;
        (self.observe)("unit", started.elapsed());
        result
    }

    async fn unit_records(&self, code: &UnitCode) -> Result<Vec<Unit>, StoreError> {
        let started = Instant::now();
        let result = self.inner.unit_records(code).await;
        (self.observe)("unit_records", started.elapsed());
        result
    }

    async fn units_for_year(&self, year: FiscalYear) -> Result<Vec<Unit>, StoreError> {
        let started = Instant::now();
        let result = self.inner.units_for_year(year).await;
        (self.observe)("units_for_year", started.elapsed());
        result
    }

    async fn signing_key(&self, unit: &UnitCode) -> Result<Option<Vec<u8>>, StoreError> {
        let started = Instant::now();
        let result = self.inner.signing_key(unit).await;
        (self.observe)("signing_key", started.elapsed());
        result
    }

    async fn set_signing_key(
        &self,
        unit: &UnitCode,
        key: Option<&[u8]>,
        event: NewEvent,
    ) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.set_signing_key(unit, key, event).await;
        (self.observe)("set_signing_key", started.elapsed());
        result
    }

    async fn submission_by_key(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        key: &IdempotencyKey,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self.inner.submission_by_key(unit, year, key).await;
        (self.observe)("submission_by_key", started.elapsed());
        result
    }

    async fn insert_submission(
        &self,
        new: NewSubmission,
        lineage: &[UnitCode],
        rule: &SubmitRule<'_>,
        event: NewEvent,
    ) -> Result<SubmissionInsert, StoreError> {
        let started = Instant::now();
        let result = self
            .inner
            .insert_submission(new, lineage, rule, event)
            .await;
        (self.observe)("insert_submission", started.elapsed());
        result
    }

    async fn submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self.inner.submission(unit, year, version).await;
        (self.observe)("submission", started.elapsed());
        result
    }

    async fn current_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self.inner.current_submission(unit, year, report_type).await;
        (self.observe)("current_submission", started.elapsed());
        result
    }

    async fn submissions(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self.inner.submissions(unit, year).await;
        (self.observe)("submissions", started.elapsed());
        result
    }

    async fn latest_valid_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self
            .inner
            .latest_valid_submission(unit, year, report_type)
            .await;
        (self.observe)("latest_valid_submission", started.elapsed());
        result
    }

    async fn accepted_submission(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Option<StoredSubmission>, StoreError> {
        let started = Instant::now();
        let result = self
            .inner
            .accepted_submission(unit, year, report_type)
            .await;
        (self.observe)("accepted_submission", started.elapsed());
        result
    }

    async fn counted_facts(
        &self,
        year: FiscalYear,
        report_type: ReportType,
        each: &mut (dyn FnMut(UnitCode, u32, Facts) + Send),
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.counted_facts(year, report_type, each).await;
        (self.observe)("counted_facts", started.elapsed());
        result
    }

    async fn submission_statuses(
        &self,
        year: FiscalYear,
    ) -> Result<Vec<SubmissionStatus>, StoreError> {
        let started = Instant::now();
        let result = self.inner.submission_statuses(year).await;
        (self.observe)("submission_statuses", started.elapsed());
        result
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
        let started = Instant::now();
        let result = self
            .inner
            .put_explanations(unit, year, version, explanations, lineage, event)
            .await;
        (self.observe)("put_explanations", started.elapsed());
        result
    }

    async fn pointers(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        report_type: ReportType,
    ) -> Result<Pointers, StoreError> {
        let started = Instant::now();
        let result = self.inner.pointers(unit, year, report_type).await;
        (self.observe)("pointers", started.elapsed());
        result
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
        let started = Instant::now();
        let result = self
            .inner
            .review(unit, year, version, lineage, rule, event)
            .await;
        (self.observe)("review", started.elapsed());
        result
    }

    async fn lock(
        &self,
        lock: &LockRecord,
        rule: &LockRule<'_>,
        event: NewEvent,
    ) -> Result<Result<u64, Refusal>, StoreError> {
        let started = Instant::now();
        let result = self.inner.lock(lock, rule, event).await;
        (self.observe)("lock", started.elapsed());
        result
    }

    async fn unlock(
        &self,
        node: &UnitCode,
        year: FiscalYear,
        event: NewEvent,
    ) -> Result<Option<u64>, StoreError> {
        let started = Instant::now();
        let result = self.inner.unlock(node, year, event).await;
        (self.observe)("unlock", started.elapsed());
        result
    }

    async fn lock_of(
        &self,
        node: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<LockRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.lock_of(node, year).await;
        (self.observe)("lock_of", started.elapsed());
        result
    }

    async fn lock_covering(
        &self,
        year: FiscalYear,
        lineage: &[UnitCode],
    ) -> Result<Option<LockRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.lock_covering(year, lineage).await;
        (self.observe)("lock_covering", started.elapsed());
        result
    }

    async fn locks(&self, year: FiscalYear) -> Result<Vec<LockRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.locks(year).await;
        (self.observe)("locks", started.elapsed());
        result
    }

    async fn insert_budget(
        &self,
        new: &NewBudget,
        event: NewEvent,
    ) -> Result<BudgetInsert, StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_budget(new, event).await;
        (self.observe)("insert_budget", started.elapsed());
        result
    }

    async fn budget_version(
        &self,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
    ) -> Result<Option<StoredBudget>, StoreError> {
        let started = Instant::now();
        let result = self.inner.budget_version(unit, year, version).await;
        (self.observe)("budget_version", started.elapsed());
        result
    }

    async fn token_count(&self) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.token_count().await;
        (self.observe)("token_count", started.elapsed());
        result
    }

    async fn insert_token(&self, token: &TokenRecord, event: NewEvent) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.insert_token(token, event).await;
        (self.observe)("insert_token", started.elapsed());
        result
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.token(id).await;
        (self.observe)("token", started.elapsed());
        result
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let started = Instant::now();
        let result = self.inner.tokens().await;
        (self.observe)("tokens", started.elapsed());
        result
    }

    async fn revoke_token(
        &self,
        id: &str,
        at_ms: i64,
        by: &str,
        event: NewEvent,
    ) -> Result<TokenRevoke, StoreError> {
        let started = Instant::now();
        let result = self.inner.revoke_token(id, at_ms, by, event).await;
        (self.observe)("revoke_token", started.elapsed());
        result
    }

    async fn audit_events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let started = Instant::now();
        let result = self.inner.audit_events(filter).await;
        (self.observe)("audit_events", started.elapsed());
        result
    }

    async fn audit_chain(
        &self,
        each: &mut (dyn FnMut(Event) -> bool + Send),
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.audit_chain(each).await;
        (self.observe)("audit_chain", started.elapsed());
        result
    }

    async fn last_event_seq(&self) -> Result<u64, StoreError> {
        let started = Instant::now();
        let result = self.inner.last_event_seq().await;
        (self.observe)("last_event_seq", started.elapsed());
        result
    }

    async fn write_snapshot(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        let started = Instant::now();
        let result = self.inner.write_snapshot(name, bytes).await;
        (self.observe)("write_snapshot", started.elapsed());
        result
    }

    async fn read_snapshot(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let started = Instant::now();
        let result = self.inner.read_snapshot(name).await;
        (self.observe)("read_snapshot", started.elapsed());
        result
    }

    async fn close(&self) {
        self.inner.close().await
    }
}

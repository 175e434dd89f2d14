//! Submission as a use case: a unit's disclosure validated, stored as a new version with its findings and
//! event, read back, compared and explained.

use crate::domain::submission::{
    NewSubmission, StoredSubmission, SubmissionState, content_digest, resolve,
};
use crate::service::error::ServiceError;
use crate::service::registry::Registry;
use crate::{
    domain::{
        access::{Ask, Principal, decide},
        audit::{Action, NewEvent, now_ms},
        disclosure::{Disclosure, DisclosureDraft, ReportType},
        error::FieldViolation,
        facts::FactsJson,
        ids::{FiscalYear, IdempotencyKey, UnitCode},
        review::{ReviewSnapshot, may_submit},
        rules::Context,
        signing,
        taxonomy::{Taxonomies, Taxonomy},
        validation::{Report, validate},
    },
    store::{Store, SubmissionInsert},
};
use std::{collections::BTreeMap, sync::Arc};

/// Limits on what a caller may send and hold: a submission's size, open event watches.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest encoded disclosure accepted.
    pub max_disclosure_bytes: usize,
    /// Event watches one principal may hold open at once (`Events.Watch`).
    pub max_watches_per_principal: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        // The reference disclosure (nine tables, 33 project evaluations, full narrative) encodes to about 150 KB;
        // 8 MiB leaves room for a department's 汇总表 with every code row, and stops a runaway client.
        Limits {
            max_disclosure_bytes: 8 * 1024 * 1024,
            max_watches_per_principal: super::events::MAX_WATCHES_PER_PRINCIPAL,
        }
    }
}

/// A disclosure checked: its report, and the disclosure as resolved against its year's taxonomy.
struct Checked {
    report: Report,
    taxonomy: Arc<Taxonomy>,
    disclosure: Disclosure,
}

/// A submission as asked for: the disclosure (resolved draft and exact bytes) and what comes with it.
#[derive(Debug, Clone)]
pub struct SubmitCall {
    pub key: IdempotencyKey,
    pub draft: DisclosureDraft,
    /// The disclosure's bytes exactly as received: what is stored, digested and signed.
    pub content: Vec<u8>,
    pub explanations: BTreeMap<String, String>,
    /// The version the client believes is current (0: none); `None` when it does not say.
    pub expected_current: Option<u32>,
    /// An SM2 signature over `content`; required when the unit has a signing key.
    pub signature: Option<Vec<u8>>,
}

#[derive(Clone)]
pub struct Submissions {
    store: Arc<dyn Store>,
    taxonomies: Arc<Taxonomies>,
    limits: Limits,
    registry: Registry,
}

impl Submissions {
    pub fn new(
        store: Arc<dyn Store>,
        taxonomies: Arc<Taxonomies>,
        limits: Limits,
        registry: Registry,
    ) -> Submissions {
        Submissions {
            store,
            taxonomies,
            limits,
            registry,
        }
    }

    pub fn taxonomies(&self) -> &Arc<Taxonomies> {
        &self.taxonomies
    }

    /// Checks size, taxonomy, registry and codes, then runs the rules. Nothing is stored. The caller must be
    /// able to read the unit the cover names.
    pub async fn validate(
        &self,
        actor: &Principal,
        draft: DisclosureDraft,
        size: usize,
    ) -> Result<Report, ServiceError> {
        let lineage = self
            .registry
            .lineage(&draft.cover.unit_code, draft.cover.fiscal_year)
            .await?;
        decide(actor, &Ask::Read(&lineage))?;
        self.check(draft, size).await.map(|checked| checked.report)
    }

    /// Validation, with what it read: a submission stores the figures of the resolved disclosure, a validation
    /// alone does not need them (making them is a tenth of a typical unit's validation).
    async fn check(&self, draft: DisclosureDraft, size: usize) -> Result<Checked, ServiceError> {
        if size > self.limits.max_disclosure_bytes {
            return Err(ServiceError::invalid(
                "",
                format!(
                    "the disclosure is {size} bytes; the limit is {} bytes",
                    self.limits.max_disclosure_bytes
                ),
            ));
        }
        let mut violations = self.check_cover_against_registry(&draft).await?;
        let resolved = resolve(&self.taxonomies, draft);
        let (taxonomy, disclosure) = match resolved {
            Ok(resolved) if violations.is_empty() => resolved,
            Ok(_) => return Err(ServiceError::InvalidArgument(violations)),
            Err(more) => {
                violations.extend(more);
                return Err(ServiceError::InvalidArgument(violations));
            }
        };
        let cover = &disclosure.cover;
        // Last year's figures that count (the accepted version), read under this year's layouts.
        let last_year = match cover.fiscal_year.previous() {
            Some(previous) => self
                .store
                .accepted_facts(&cover.unit_code, previous, cover.report_type)
                .await?
                .map(|facts| facts.to_disclosure(&taxonomy, cover.clone())),
            None => None,
        };
        let budget = self
            .store
            .budget(&cover.unit_code, cover.fiscal_year)
            .await?;
        let context = Context {
            last_year: last_year.as_ref(),
            budget: budget.as_ref(),
            ..Default::default()
        };
        let report = validate(&taxonomy, &disclosure, context);
        Ok(Checked {
            report,
            taxonomy,
            disclosure,
        })
    }

    /// The cover must name a unit registered for the year, and agree with the registry on its place in the tree.
    async fn check_cover_against_registry(
        &self,
        draft: &DisclosureDraft,
    ) -> Result<Vec<FieldViolation>, ServiceError> {
        let cover = &draft.cover;
        let year = cover.fiscal_year;
        let Some(unit) = self.store.unit(&cover.unit_code, year).await? else {
            return Ok(vec![FieldViolation::new(
                "cover.unit_code",
                format!(
                    "unit {} is not registered for fiscal year {year}",
                    cover.unit_code
                ),
            )]);
        };
        let mut violations = Vec::new();
        let show =
            |code: Option<&UnitCode>| code.map_or_else(|| "none".to_owned(), |c| c.to_string());
        if cover.parent_unit_code.is_some() && cover.parent_unit_code != unit.parent {
            violations.push(FieldViolation::new(
                "cover.parent_unit_code",
                format!(
                    "the registry has {} as the parent of {} in {year}, not {}",
                    show(unit.parent.as_ref()),
                    unit.code,
                    show(cover.parent_unit_code.as_ref())
                ),
            ));
        }
        if cover.supervising_department_code.is_some()
            && cover.supervising_department_code != unit.supervising_department
        {
            violations.push(FieldViolation::new(
                "cover.supervising_department_code",
                format!(
                    "the registry has {} as the supervising department of {} in {year}",
                    show(unit.supervising_department.as_ref()),
                    unit.code
                ),
            ));
        }
        if let Some(region) = &cover.fiscal_region_code
            && region != &unit.fiscal_region
        {
            violations.push(FieldViolation::new(
                "cover.fiscal_region_code",
                format!(
                    "the registry has {} as the fiscal region of {}",
                    unit.fiscal_region, unit.code
                ),
            ));
        }
        if unit.is_region {
            violations.push(FieldViolation::new(
                "cover.unit_code",
                format!(
                    "{} is a fiscal region node, which has no disclosure of its own",
                    unit.code
                ),
            ));
        }
        Ok(violations)
    }

    /// The signature a submission must carry: none when the unit has no key, a valid one when it has.
    async fn check_signature(
        &self,
        unit: &UnitCode,
        content: &[u8],
        signature: Option<&[u8]>,
    ) -> Result<(), ServiceError> {
        let key = self.store.signing_key(unit).await?;
        match (key, signature) {
            (None, None) => Ok(()),
            (None, Some(_)) => Err(ServiceError::invalid(
                "signature",
                format!(
                    "unit {unit} has no signing key registered; register one (SetSigningKey) or send no signature"
                ),
            )),
            (Some(_), None) => Err(ServiceError::invalid(
                "signature",
                format!(
                    "unit {unit} signs its submissions: an SM2 signature over the disclosure's bytes is required"
                ),
            )),
            (Some(key), Some(signature)) => signing::verify(&key, content, signature)
                .map_err(|e| ServiceError::invalid("signature", e.to_string())),
        }
    }

    /// Stores a disclosure as a new version; a retry with the same key returns the version the first call made.
    /// Returns the version and whether this call was a replay.
    pub async fn submit(
        &self,
        actor: &Principal,
        call: SubmitCall,
    ) -> Result<(StoredSubmission, bool), ServiceError> {
        let SubmitCall {
            key,
            draft,
            content,
            explanations,
            expected_current,
            signature,
        } = call;
        let unit_code = draft.cover.unit_code.clone();
        let fiscal_year = draft.cover.fiscal_year;
        let lineage = self.registry.lineage(&unit_code, fiscal_year).await?;
        decide(actor, &Ask::Submit(&lineage))?;
        let digest = content_digest(&content);
        let report_type = draft.cover.report_type;
        // A retry of a stored submission is answered with the stored version. The insert finds a taken key in
        // the same statement that decides the version, so the common call (a new key) asks the store once; a
        // retry is validated again on the way. A retry that fails on the way (its signing key rotated since,
        // say) is still a retry: the key is looked up then, before the failure is reported.
        let checked = async {
            self.check_signature(&unit_code, &content, signature.as_deref())
                .await?;
            let Checked {
                mut report,
                taxonomy,
                disclosure,
            } = self.check(draft, content.len()).await?;
            let facts = FactsJson::of(&disclosure, &taxonomy);
            let given = || explanations.iter().map(|(k, t)| (k.as_str(), t.as_str()));
            report
                .check_explanations(given())
                .map_err(ServiceError::InvalidArgument)?;
            report.apply_explanations(given());
            Ok::<_, ServiceError>((report, facts))
        }
        .await;
        let (report, facts) = match checked {
            Ok(checked) => checked,
            Err(refusal) => {
                return match self
                    .store
                    .submission_by_key(&unit_code, fiscal_year, &key)
                    .await?
                {
                    Some(existing) => replay(existing, &digest, &key),
                    None => Err(refusal),
                };
            }
        };
        let state = if report.has_errors() {
            SubmissionState::RejectedByRules
        } else {
            SubmissionState::PendingReview
        };
        let event = NewEvent::new(actor, Action::Submission)
            .about(&unit_code, Some(fiscal_year))
            .detail(format!(
                "{} sm3:{digest} {} key:{}{}",
                report_type.code(),
                state.code(),
                key.as_str(),
                if signature.is_some() { " signed" } else { "" }
            ));
        let new = NewSubmission {
            unit_code,
            fiscal_year,
            report_type,
            idempotency_key: key.clone(),
            content_sm3: digest.clone(),
            content,
            report,
            facts,
            explanations: explanations
                .iter()
                .map(|(k, t)| (k.clone(), t.trim().to_owned()))
                .collect(),
            state,
            submitted_at_ms: now_ms(),
            submitted_by: actor.to_string(),
            signature,
        };
        let rule = move |snapshot: &ReviewSnapshot| may_submit(expected_current, snapshot);
        match self
            .store
            .insert_submission(new, &lineage.codes(), &rule, event)
            .await?
        {
            SubmissionInsert::Inserted(stored) => Ok((stored, false)),
            SubmissionInsert::KeyTaken(existing) => replay(existing, &digest, &key),
            SubmissionInsert::Refused(refusal) => Err(refusal.into()),
        }
    }

    /// One version (the current one of a report type when `version` is `None`).
    pub async fn get(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
        report_type: ReportType,
    ) -> Result<StoredSubmission, ServiceError> {
        let lineage = self.registry.lineage(unit, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        let found = match version {
            Some(_) => self.store.submission(unit, year, version).await?,
            None => {
                self.store
                    .current_submission(unit, year, report_type)
                    .await?
            }
        };
        let stored = found.ok_or_else(|| ServiceError::NotFound {
            what: "submission",
            key: match version {
                Some(v) => format!("{unit}/{year} version {v}"),
                None => format!("{unit}/{year} (no {} submitted)", report_type.name()),
            },
        })?;
        self.check_integrity(&stored).await?;
        Ok(stored)
    }

    /// A version read back is served only when its bytes are those the audit chain recorded: their SM3 digest
    /// equals the digest of its row and the digest its submission event sealed into the chain. Bytes swapped for
    /// other bytes (with the row's digest rewritten to match) are DATA_LOSS, never served.
    async fn check_integrity(&self, stored: &StoredSubmission) -> Result<(), ServiceError> {
        let Some(content) = &stored.content else {
            return Ok(());
        };
        let actual = content_digest(content);
        let recorded = self
            .store
            .submission_event_detail(&stored.unit_code, stored.fiscal_year, stored.version)
            .await?;
        let sealed = recorded
            .as_deref()
            .and_then(crate::domain::audit::recorded_digest);
        if actual == stored.content_sm3 && sealed == Some(actual.as_str()) {
            return Ok(());
        }
        Err(ServiceError::DataLoss(format!(
            "version {} of {}/{} is not served: its stored bytes do not match the digest the audit chain recorded \
             when it was submitted; `juesuan audit verify` lists every such version, and it must be restored from a \
             backup",
            stored.version, stored.unit_code, stored.fiscal_year
        )))
    }

    pub async fn list(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Vec<StoredSubmission>, ServiceError> {
        let lineage = self.registry.lineage(unit, year).await?;
        decide(actor, &Ask::Read(&lineage))?;
        Ok(self.store.submissions(unit, year).await?)
    }

    /// Explains findings of a stored version (the current 单户表 when `version` is `None`); ERROR findings cannot
    /// be explained, nor anything in a locked year. Returns the version with its explanations.
    pub async fn explain(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        version: Option<u32>,
        explanations: &BTreeMap<String, String>,
    ) -> Result<StoredSubmission, ServiceError> {
        let lineage = self.registry.lineage(unit, year).await?;
        decide(actor, &Ask::Submit(&lineage))?;
        if explanations.is_empty() {
            return Err(ServiceError::invalid(
                "explanations",
                "give at least one explanation",
            ));
        }
        let stored = self
            .get(actor, unit, year, version, ReportType::Single)
            .await?;
        let given = || explanations.iter().map(|(k, t)| (k.as_str(), t.as_str()));
        stored
            .report
            .check_explanations(given())
            .map_err(ServiceError::InvalidArgument)?;
        let rows: Vec<(String, String)> = explanations
            .iter()
            .map(|(k, t)| (k.clone(), t.trim().to_owned()))
            .collect();
        let event = NewEvent::new(actor, Action::Explanation)
            .about(unit, Some(year))
            .version(stored.version)
            .detail(
                rows.iter()
                    .map(|(k, _)| k.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
        if let Some(lock) = self
            .store
            .put_explanations(unit, year, stored.version, &rows, &lineage.codes(), event)
            .await?
        {
            return Err(ServiceError::FailedPrecondition(format!(
                "the {year} year of {unit} is locked (封账) by {}; nothing can be explained until it is unlocked",
                lock.locked_by_node
            )));
        }
        self.get(actor, unit, year, Some(stored.version), ReportType::Single)
            .await
    }
}

/// A retried call: the same key must carry the same disclosure.
fn replay(
    existing: StoredSubmission,
    digest: &str,
    key: &IdempotencyKey,
) -> Result<(StoredSubmission, bool), ServiceError> {
    if existing.content_sm3 == digest {
        Ok((existing, true))
    } else {
        Err(ServiceError::AlreadyExists(format!(
            "idempotency key \"{}\" was already used by this unit for a different disclosure (version {}); use a \
             new key for a new submission",
            key.as_str(),
            existing.version
        )))
    }
}

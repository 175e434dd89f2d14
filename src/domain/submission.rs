//! Submitted versions as records: their states, what a new version holds and what a stored one is, the SM3
//! digest of the bytes received, and validation with nothing but the taxonomies (`validate_offline`). Storing
//! and reading versions is the use case `service::submission`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sm3::{Digest, Sm3};

use crate::domain::{
    disclosure::{Disclosure, DisclosureDraft, ReportType},
    error::FieldViolation,
    facts::{Facts, FactsJson},
    ids::{FiscalYear, IdempotencyKey, UnitCode},
    rules::Context,
    taxonomy::{Taxonomies, Taxonomy},
    validation::{Report, validate},
};

/// Where a stored version stands: validation's verdict, then the review chain's (see `review`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SubmissionState {
    /// Validation found an ERROR.
    RejectedByRules,
    /// Validation found no ERROR; waiting for review.
    PendingReview,
    /// A reviewer returned it with a reason.
    Returned,
    /// A reviewer accepted it.
    Accepted,
}

impl SubmissionState {
    pub const ALL: [SubmissionState; 4] = [
        SubmissionState::RejectedByRules,
        SubmissionState::PendingReview,
        SubmissionState::Returned,
        SubmissionState::Accepted,
    ];

    pub fn code(self) -> &'static str {
        match self {
            SubmissionState::RejectedByRules => "rejected_by_rules",
            SubmissionState::PendingReview => "pending_review",
            SubmissionState::Returned => "returned",
            SubmissionState::Accepted => "accepted",
        }
    }

    pub fn from_code(code: &str) -> Option<SubmissionState> {
        SubmissionState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            SubmissionState::RejectedByRules => "rejected by the rules",
            SubmissionState::PendingReview => "pending review",
            SubmissionState::Returned => "returned",
            SubmissionState::Accepted => "accepted",
        }
    }
}

/// A version about to be stored.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub unit_code: UnitCode,
    pub fiscal_year: FiscalYear,
    pub report_type: ReportType,
    pub idempotency_key: IdempotencyKey,
    pub content_sm3: String,
    pub content: Vec<u8>,
    pub report: Report,
    /// The figures, as the text kept (written once, read by later work).
    pub facts: FactsJson,
    /// Explanations given with the submission (finding key → text), already applied to `report`.
    pub explanations: Vec<(String, String)>,
    pub state: SubmissionState,
    pub submitted_at_ms: i64,
    /// The principal that submitted it, as the audit trail names it.
    pub submitted_by: String,
    /// The verified SM2 signature, when the unit signs.
    pub signature: Option<Vec<u8>>,
}

impl NewSubmission {
    /// The version as stored under `version`, the current one of its report type, as a store answers an insert.
    pub fn stored(self, version: u32) -> StoredSubmission {
        StoredSubmission {
            unit_code: self.unit_code,
            fiscal_year: self.fiscal_year,
            report_type: self.report_type,
            version,
            state: self.state,
            current: true,
            idempotency_key: self.idempotency_key.as_str().to_owned(),
            content_sm3: self.content_sm3,
            content_len: self.content.len() as u64,
            content: Some(self.content),
            // Written as text and never built: whoever needs them reads the version.
            facts: None,
            report: self.report,
            submitted_at_ms: self.submitted_at_ms,
            submitted_by: self.submitted_by,
            signature: self.signature,
            review_reason: None,
        }
    }
}

/// A stored version.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSubmission {
    pub unit_code: UnitCode,
    pub fiscal_year: FiscalYear,
    pub report_type: ReportType,
    pub version: u32,
    pub state: SubmissionState,
    pub current: bool,
    pub idempotency_key: String,
    pub content_sm3: String,
    pub content_len: u64,
    /// The disclosure's bytes as received; `None` in listings.
    pub content: Option<Vec<u8>>,
    /// The figures by codes; loaded with the content by reads (an insert's answer leaves them out).
    pub facts: Option<Facts>,
    pub report: Report,
    pub submitted_at_ms: i64,
    pub submitted_by: String,
    pub signature: Option<Vec<u8>>,
    /// The reason of the last review decision that gave one (a return).
    pub review_reason: Option<String>,
}

/// SM3 digest (hex) of a disclosure's bytes.
pub fn content_digest(bytes: &[u8]) -> String {
    hex::encode(Sm3::digest(bytes))
}

/// Resolves a draft against its year's taxonomy and validates it, with nothing but the taxonomies: what
/// `juesuan validate FILE` does offline. Violations have paths relative to the disclosure.
pub fn validate_offline(
    taxonomies: &Taxonomies,
    draft: DisclosureDraft,
) -> Result<(Arc<Taxonomy>, Disclosure, Report), Vec<FieldViolation>> {
    let (taxonomy, disclosure) = resolve(taxonomies, draft)?;
    let report = validate(&taxonomy, &disclosure, Context::default());
    Ok((taxonomy, disclosure, report))
}

/// Resolves a draft against its year's taxonomy (codes, aliases, amounts) without validating it.
pub fn resolve(
    taxonomies: &Taxonomies,
    draft: DisclosureDraft,
) -> Result<(Arc<Taxonomy>, Disclosure), Vec<FieldViolation>> {
    let year = draft.cover.fiscal_year;
    let Some(taxonomy) = taxonomies.get(year) else {
        return Err(vec![FieldViolation::new(
            "cover.fiscal_year",
            format!(
                "there is no taxonomy for fiscal year {year} (years with one: {})",
                taxonomies.years_list()
            ),
        )]);
    };
    let disclosure = draft.resolve(taxonomy)?;
    Ok((taxonomy.clone(), disclosure))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_digest_is_sm3() {
        // GB/T 32905-2016 example 1: SM3("abc").
        assert_eq!(
            content_digest(b"abc"),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
    }

    #[test]
    fn states_round_trip() {
        for state in SubmissionState::ALL {
            assert_eq!(SubmissionState::from_code(state.code()), Some(state));
        }
    }
}

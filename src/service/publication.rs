//! The public document as use cases: written from a unit's accepted version (with last year's accepted version
//! for the changes), and a published document checked — on its own, or against a unit's accepted figures.

use std::sync::Arc;

use crate::{
    api::convert,
    domain::{
        access::{Ask, Principal, decide},
        disclosure::{Disclosure, ReportType},
        ids::{FiscalYear, UnitCode},
        submission::{StoredSubmission, SubmissionState, resolve},
        taxonomy::{Taxonomies, Taxonomy},
    },
    pb,
    publication::{
        self,
        check::{Accepted, CheckReport, check},
        read::{MAX_DOCUMENT_BYTES, read},
    },
    service::{error::ServiceError, submission::Submissions},
    store::Store,
};

/// The formats the document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentFormat {
    Docx,
    Html,
}

impl DocumentFormat {
    pub fn extension(self) -> &'static str {
        match self {
            DocumentFormat::Docx => "docx",
            DocumentFormat::Html => "html",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            DocumentFormat::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            DocumentFormat::Html => "text/html; charset=utf-8",
        }
    }
}

/// A document written, with what it was written from.
pub struct Published {
    pub bytes: Vec<u8>,
    pub file_name: String,
    pub accepted_version: u32,
    pub with_last_year: bool,
    /// Paragraphs a person must still write (【请填写：…】).
    pub placeholders: usize,
}

/// A document checked, and the accepted version it was checked against (if any).
pub struct Checked {
    pub report: CheckReport,
    pub accepted_version: Option<u32>,
}

#[derive(Clone)]
pub struct Publications {
    store: Arc<dyn Store>,
    submissions: Submissions,
    taxonomies: Arc<Taxonomies>,
}

impl Publications {
    pub fn new(store: Arc<dyn Store>, submissions: Submissions) -> Publications {
        let taxonomies = submissions.taxonomies().clone();
        Publications {
            store,
            submissions,
            taxonomies,
        }
    }

    /// The unit's latest accepted 单户表 of the year, resolved; `None` when no version was accepted.
    async fn accepted(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
    ) -> Result<Option<(u32, Arc<Taxonomy>, Disclosure)>, ServiceError> {
        let versions = self.submissions.list(actor, unit, year).await?;
        let Some(version) = versions
            .iter()
            .filter(|v| v.state == SubmissionState::Accepted && v.report_type == ReportType::Single)
            .map(|v| v.version)
            .max()
        else {
            return Ok(None);
        };
        let stored = self
            .submissions
            .get(actor, unit, year, Some(version), ReportType::Single)
            .await?;
        let (taxonomy, disclosure) = self.resolved(&stored)?;
        Ok(Some((version, taxonomy, disclosure)))
    }

    fn resolved(
        &self,
        stored: &StoredSubmission,
    ) -> Result<(Arc<Taxonomy>, Disclosure), ServiceError> {
        let bytes = stored
            .content
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("a version was read without its bytes".into()))?;
        let given: pb::Disclosure = prost::Message::decode(bytes)
            .map_err(|e| ServiceError::Internal(format!("stored version does not decode: {e}")))?;
        let draft = convert::disclosure_draft(given).map_err(ServiceError::InvalidArgument)?;
        resolve(&self.taxonomies, draft).map_err(ServiceError::InvalidArgument)
    }

    /// Last year's accepted figures read under this year's layouts (as validation reads them); `None` when
    /// there are none. The caller has been allowed to read the unit this year.
    async fn last_year(
        &self,
        disclosure: &Disclosure,
        taxonomy: &Taxonomy,
    ) -> Result<Option<Disclosure>, ServiceError> {
        let cover = &disclosure.cover;
        let Some(previous) = cover.fiscal_year.previous() else {
            return Ok(None);
        };
        Ok(self
            .store
            .accepted_facts(&cover.unit_code, previous, cover.report_type)
            .await?
            .map(|facts| facts.to_disclosure(taxonomy, cover.clone())))
    }

    /// The unit's public document of the year from its accepted version: for readers of the unit.
    pub async fn publish(
        &self,
        actor: &Principal,
        unit: &UnitCode,
        year: FiscalYear,
        format: DocumentFormat,
    ) -> Result<Published, ServiceError> {
        let (version, taxonomy, disclosure) =
            self.accepted(actor, unit, year).await?.ok_or_else(|| {
                ServiceError::FailedPrecondition(format!(
                    "{unit} has no accepted version for {year}: the public document is written from accepted figures"
                ))
            })?;
        let last = self.last_year(&disclosure, &taxonomy).await?;
        let document = publication::compose(&taxonomy, &disclosure, last.as_ref())
            .map_err(|e| ServiceError::FailedPrecondition(e.to_string()))?;
        let bytes = match format {
            DocumentFormat::Html => publication::html::write(&document).into_bytes(),
            DocumentFormat::Docx => publication::docx::write(&document)
                .map_err(|e| ServiceError::Internal(format!("writing the document: {e}")))?,
        };
        Ok(Published {
            bytes,
            file_name: format!("{unit}-{year}-部门决算公开.{}", format.extension()),
            accepted_version: version,
            with_last_year: last.is_some(),
            placeholders: document.placeholders(),
        })
    }

    /// Checks a published document: on its own for anyone signed in; against `against`'s accepted version (and
    /// last year's) for readers of that unit.
    pub async fn check(
        &self,
        actor: &Principal,
        file_name: &str,
        bytes: &[u8],
        against: Option<(UnitCode, FiscalYear)>,
    ) -> Result<Checked, ServiceError> {
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(ServiceError::invalid(
                "document",
                format!("is larger than {MAX_DOCUMENT_BYTES} bytes"),
            ));
        }
        let accepted = match &against {
            Some((unit, year)) => {
                let (version, taxonomy, disclosure) =
                    self.accepted(actor, unit, *year).await?.ok_or_else(|| {
                        ServiceError::FailedPrecondition(format!(
                            "{unit} has no accepted version for {year} to check the document against"
                        ))
                    })?;
                let last = self.last_year(&disclosure, &taxonomy).await?;
                Some((version, disclosure, last))
            }
            None => {
                decide(actor, &Ask::CheckDocument)?;
                None
            }
        };
        let taxonomies = self.taxonomies.clone();
        let file_name = file_name.to_owned();
        let bytes = bytes.to_vec();
        // Reading and checking a document is seconds of CPU at most, off the async workers.
        let report = tokio::task::spawn_blocking(move || {
            let document = read(&file_name, &bytes)
                .map_err(|e| ServiceError::invalid("document", e.to_string()))?;
            check(
                &taxonomies,
                &document,
                accepted.as_ref().map(|(_, disclosure, last)| Accepted {
                    disclosure,
                    last_year: last.as_ref(),
                }),
            )
            .map(|report| (report, accepted.map(|(v, _, _)| v)))
            .map_err(|e| ServiceError::invalid("document", e.to_string()))
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("the check stopped: {e}")))??;
        Ok(Checked {
            report: report.0,
            accepted_version: report.1,
        })
    }
}

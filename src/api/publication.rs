//! `juesuan.v1.Publications`: the public document written from accepted figures, and a published one checked.

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::{
    pb,
    publication::check::{CheckReport, Outcome, Unchecked},
    service::publication::{DocumentFormat, Publications},
};

pub struct PublicationsService {
    publications: Publications,
}

impl PublicationsService {
    pub fn new(publications: Publications) -> PublicationsService {
        PublicationsService { publications }
    }
}

fn outcome_to_pb(outcome: Outcome) -> pb::CheckOutcome {
    match outcome {
        Outcome::Pass => pb::CheckOutcome::Pass,
        Outcome::Fail => pb::CheckOutcome::Fail,
        Outcome::Uncertain => pb::CheckOutcome::Uncertain,
    }
}

/// A check's report on the wire (also what the CLI prints and writes as JSON).
pub fn report_to_pb(
    report: CheckReport,
    accepted_version: Option<u32>,
) -> pb::CheckPublicationResponse {
    pb::CheckPublicationResponse {
        format: report.format.name().to_owned(),
        unit_name: report.unit_name.unwrap_or_default(),
        fiscal_year: report.fiscal_year,
        checks: report
            .checks
            .into_iter()
            .map(|c| pb::PublicationCheck {
                aspect: c.aspect.key().to_owned(),
                outcome: outcome_to_pb(c.outcome) as i32,
                what: c.what,
                evidence: c.evidence.unwrap_or_default(),
                at: c.at.unwrap_or_default(),
            })
            .collect(),
        unchecked: report
            .unchecked
            .into_iter()
            .map(|Unchecked { what, why }| pb::UncheckedPart { what, why })
            .collect(),
        accepted_version: accepted_version.unwrap_or(0),
    }
}

#[tonic::async_trait]
impl pb::publications_server::Publications for PublicationsService {
    async fn publish_disclosure(
        &self,
        request: Request<pb::PublishDisclosureRequest>,
    ) -> Result<Response<pb::PublishDisclosureResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let format = match pb::DocumentFormat::try_from(request.format) {
            Ok(pb::DocumentFormat::Html) => DocumentFormat::Html,
            _ => DocumentFormat::Docx,
        };
        let published = self
            .publications
            .publish(&actor, &unit, year, format)
            .await?;
        Ok(Response::new(pb::PublishDisclosureResponse {
            document: published.bytes,
            file_name: published.file_name,
            content_type: format.content_type().to_owned(),
            accepted_version: published.accepted_version,
            with_last_year: published.with_last_year,
            placeholders: published.placeholders as u32,
        }))
    }

    async fn check_publication(
        &self,
        request: Request<pb::CheckPublicationRequest>,
    ) -> Result<Response<pb::CheckPublicationResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let against = if request.unit_code.is_empty() && request.fiscal_year == 0 {
            None
        } else {
            Some(
                convert::unit_and_year(&request.unit_code, request.fiscal_year)
                    .map_err(|v| invalid_argument(v, ""))?,
            )
        };
        let file_name = crate::domain::money::excerpt(&request.file_name);
        let checked = self
            .publications
            .check(&actor, &file_name, &request.document, against)
            .await?;
        Ok(Response::new(report_to_pb(
            checked.report,
            checked.accepted_version,
        )))
    }
}

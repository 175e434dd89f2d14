//! `juesuan.v1.Submissions`.

use prost::Message;
use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
    guard::RawDisclosure,
};
use crate::service::error::ServiceError;
use crate::service::submission::{Submissions, SubmitCall};
use crate::{
    domain::{error::FieldViolation, ids::IdempotencyKey},
    metrics::Metrics,
    pb,
};

pub struct SubmissionsService {
    submissions: Submissions,
    metrics: Metrics,
}

impl SubmissionsService {
    pub fn new(submissions: Submissions, metrics: Metrics) -> SubmissionsService {
        SubmissionsService {
            submissions,
            metrics,
        }
    }
}

/// Domain violations are about the disclosure; other errors map as they are.
fn under_disclosure(error: ServiceError) -> Status {
    match error {
        ServiceError::InvalidArgument(v) => invalid_argument(v, "disclosure"),
        other => other.into(),
    }
}

fn required_disclosure(disclosure: Option<pb::Disclosure>) -> Result<pb::Disclosure, Status> {
    disclosure
        .ok_or_else(|| invalid_argument(vec![FieldViolation::new("disclosure", "is required")], ""))
}

#[tonic::async_trait]
impl pb::submissions_server::Submissions for SubmissionsService {
    async fn validate(
        &self,
        request: Request<pb::ValidateRequest>,
    ) -> Result<Response<pb::ValidateResponse>, Status> {
        let actor = principal(&request)?;
        let size = request
            .extensions()
            .get::<RawDisclosure>()
            .map(|raw| raw.0.len());
        let disclosure = required_disclosure(request.into_inner().disclosure)?;
        let size = size.unwrap_or_else(|| disclosure.encoded_len());
        let draft =
            convert::disclosure_draft(disclosure).map_err(|v| invalid_argument(v, "disclosure"))?;
        let report = self
            .submissions
            .validate(&actor, draft, size)
            .await
            .map_err(under_disclosure)?;
        self.metrics.count_findings(&report);
        Ok(Response::new(pb::ValidateResponse {
            report: Some(convert::report_to_pb(&report)),
        }))
    }

    async fn submit(
        &self,
        request: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitResponse>, Status> {
        let actor = principal(&request)?;
        let raw = request.extensions().get::<RawDisclosure>().cloned();
        let request = request.into_inner();
        let key = IdempotencyKey::parse(&request.idempotency_key).map_err(|e| {
            invalid_argument(
                vec![FieldViolation::new("idempotency_key", e.to_string())],
                "",
            )
        })?;
        let disclosure = required_disclosure(request.disclosure)?;
        // The bytes exactly as the client sent them (captured by the raw-body layer); without the layer (the
        // service called in-process), the disclosure's encoding.
        let bytes = match raw {
            Some(raw) => raw.0.to_vec(),
            None => disclosure.encode_to_vec(),
        };
        let draft =
            convert::disclosure_draft(disclosure).map_err(|v| invalid_argument(v, "disclosure"))?;
        let call = SubmitCall {
            key,
            draft,
            content: bytes,
            explanations: request.explanations.into_iter().collect(),
            expected_current: request.expected_current_version,
            signature: (!request.signature.is_empty()).then_some(request.signature),
        };
        let (stored, replayed) =
            self.submissions
                .submit(&actor, call)
                .await
                .map_err(|e| match e {
                    // Explanation problems are about the request's explanations, not the disclosure.
                    ServiceError::InvalidArgument(v)
                        if v.iter().all(|x| {
                            x.field.starts_with("explanations[") || x.field == "signature"
                        }) =>
                    {
                        invalid_argument(v, "")
                    }
                    other => under_disclosure(other),
                })?;
        if !replayed {
            self.metrics.count_findings(&stored.report);
        }
        tracing::info!(
            unit = %stored.unit_code,
            year = %stored.fiscal_year,
            version = stored.version,
            replayed,
            actor = %actor,
            errors = stored.report.count(crate::domain::validation::Severity::Error),
            "submission"
        );
        Ok(Response::new(pb::SubmitResponse {
            submission: Some(to_pb(&stored, false)?),
            replayed,
        }))
    }

    async fn get_submission(
        &self,
        request: Request<pb::GetSubmissionRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let report_type = convert::report_type(request.report_type, "report_type")
            .map_err(|v| invalid_argument(v, ""))?;
        let version = (request.version != 0).then_some(request.version);
        let stored = self
            .submissions
            .get(&actor, &unit, year, version, report_type)
            .await?;
        Ok(Response::new(to_pb(&stored, request.include_disclosure)?))
    }

    async fn list_submissions(
        &self,
        request: Request<pb::ListSubmissionsRequest>,
    ) -> Result<Response<pb::ListSubmissionsResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let versions = self.submissions.list(&actor, &unit, year).await?;
        Ok(Response::new(pb::ListSubmissionsResponse {
            submissions: versions
                .iter()
                .map(|s| to_pb(s, false))
                .collect::<Result<_, _>>()?,
        }))
    }

    async fn explain_findings(
        &self,
        request: Request<pb::ExplainFindingsRequest>,
    ) -> Result<Response<pb::Submission>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (unit, year) = convert::unit_and_year(&request.unit_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let version = (request.version != 0).then_some(request.version);
        let explanations = request.explanations.into_iter().collect();
        let stored = self
            .submissions
            .explain(&actor, &unit, year, version, &explanations)
            .await?;
        Ok(Response::new(to_pb(&stored, false)?))
    }
}

fn to_pb(
    stored: &crate::domain::submission::StoredSubmission,
    include_disclosure: bool,
) -> Result<pb::Submission, Status> {
    convert::submission_to_pb(stored, include_disclosure).map_err(|e| {
        tracing::error!(unit = %stored.unit_code, version = stored.version, error = %e, "stored disclosure does not decode");
        Status::internal("internal error; the server's log has the cause")
    })
}

//! `juesuan.v1.Review`.

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::service::review::Reviews;
use crate::{domain::review::Decision, pb};

pub struct ReviewService {
    reviews: Reviews,
}

impl ReviewService {
    pub fn new(reviews: Reviews) -> ReviewService {
        ReviewService { reviews }
    }

    async fn decide(
        &self,
        request: Request<(String, u32, u32)>,
        decision: Decision<'_>,
        comment: &str,
    ) -> Result<Response<pb::ReviewResponse>, Status> {
        let actor = principal(&request)?;
        let (unit, year, version) = request.into_inner();
        let (unit, year) =
            convert::unit_and_year(&unit, year).map_err(|v| invalid_argument(v, ""))?;
        let (status, audit_seq) = self
            .reviews
            .decide(&actor, &unit, year, version, decision, comment)
            .await?;
        Ok(Response::new(pb::ReviewResponse {
            status: Some(convert::year_status_to_pb(&status)),
            audit_seq,
        }))
    }
}

/// The request's subject, keeping the extensions (the principal) with it.
fn subject<T>(
    request: Request<T>,
    of: impl FnOnce(&T) -> (String, u32, u32),
) -> (Request<(String, u32, u32)>, T) {
    let (metadata, extensions, message) = request.into_parts();
    let key = of(&message);
    (Request::from_parts(metadata, extensions, key), message)
}

#[tonic::async_trait]
impl pb::review_server::Review for ReviewService {
    async fn accept(
        &self,
        request: Request<pb::AcceptRequest>,
    ) -> Result<Response<pb::ReviewResponse>, Status> {
        let (request, message) =
            subject(request, |m| (m.unit_code.clone(), m.fiscal_year, m.version));
        self.decide(request, Decision::Accept, &message.comment)
            .await
    }

    async fn r#return(
        &self,
        request: Request<pb::ReturnRequest>,
    ) -> Result<Response<pb::ReviewResponse>, Status> {
        let (request, message) =
            subject(request, |m| (m.unit_code.clone(), m.fiscal_year, m.version));
        self.decide(
            request,
            Decision::Return {
                reason: &message.reason,
            },
            "",
        )
        .await
    }

    async fn revert(
        &self,
        request: Request<pb::RevertRequest>,
    ) -> Result<Response<pb::ReviewResponse>, Status> {
        let (request, message) =
            subject(request, |m| (m.unit_code.clone(), m.fiscal_year, m.version));
        self.decide(request, Decision::Revert, &message.reason)
            .await
    }

    async fn lock(
        &self,
        request: Request<pb::LockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = convert::unit_and_year(&request.node_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let outcome = self
            .reviews
            .lock(&actor, &node, year, &request.comment)
            .await?;
        Ok(Response::new(convert::lock_outcome_to_pb(&outcome)))
    }

    async fn unlock(
        &self,
        request: Request<pb::UnlockRequest>,
    ) -> Result<Response<pb::LockResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = convert::unit_and_year(&request.node_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let outcome = self
            .reviews
            .unlock(&actor, &node, year, &request.reason)
            .await?;
        Ok(Response::new(convert::lock_outcome_to_pb(&outcome)))
    }

    async fn list_pending(
        &self,
        request: Request<pb::ListPendingRequest>,
    ) -> Result<Response<pb::ListPendingResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let (node, year) = convert::unit_and_year(&request.node_code, request.fiscal_year)
            .map_err(|v| invalid_argument(v, ""))?;
        let pending = self.reviews.pending(&actor, &node, year).await?;
        Ok(Response::new(pb::ListPendingResponse {
            pending: pending.iter().map(convert::pending_to_pb).collect(),
        }))
    }
}

//! `juesuan.v1.Audit`.

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::pb;
use crate::service::audit::{AuditTrail, EventQuery};

pub struct AuditService {
    trail: AuditTrail,
}

impl AuditService {
    pub fn new(trail: AuditTrail) -> AuditService {
        AuditService { trail }
    }
}

#[tonic::async_trait]
impl pb::audit_server::Audit for AuditService {
    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let node = convert::optional_code(&request.node_code, "node_code")
            .map_err(|v| invalid_argument(v, ""))?;
        let fiscal_year = match request.fiscal_year {
            0 => None,
            year => Some(
                convert::fiscal_year(year, "fiscal_year").map_err(|v| invalid_argument(v, ""))?,
            ),
        };
        let actor_contains = (!request.actor.is_empty()).then_some(request.actor);
        let (events, next) = self
            .trail
            .list(
                &actor,
                EventQuery {
                    node,
                    fiscal_year,
                    actor_contains,
                    after_seq: request.after_seq,
                    limit: request.limit,
                },
            )
            .await?;
        Ok(Response::new(pb::ListEventsResponse {
            events: events.iter().map(convert::event_to_pb).collect(),
            next_after_seq: next.unwrap_or(0),
        }))
    }

    async fn verify_chain(
        &self,
        request: Request<pb::VerifyChainRequest>,
    ) -> Result<Response<pb::VerifyChainResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let kept = convert::kept_head(request.kept_head_seq, &request.kept_head_hash)
            .map_err(|v| invalid_argument(v, ""))?;
        let verdict = self.trail.verify(&actor, kept).await?;
        Ok(Response::new(convert::verification_to_pb(&verdict)))
    }

    async fn get_head(
        &self,
        request: Request<pb::GetHeadRequest>,
    ) -> Result<Response<pb::ChainHead>, Status> {
        let actor = principal(&request)?;
        let head = self.trail.head(&actor).await?;
        Ok(Response::new(convert::head_to_pb(&head)))
    }
}

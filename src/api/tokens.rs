//! `juesuan.v1.Tokens`.

use tonic::{Request, Response, Status};

use super::{
    convert,
    error::{invalid_argument, principal},
};
use crate::pb;
use crate::service::tokens::Tokens;

pub struct TokensService {
    tokens: Tokens,
}

impl TokensService {
    pub fn new(tokens: Tokens) -> TokensService {
        TokensService { tokens }
    }
}

#[tonic::async_trait]
impl pb::tokens_server::Tokens for TokensService {
    async fn issue_token(
        &self,
        request: Request<pb::IssueTokenRequest>,
    ) -> Result<Response<pb::IssueTokenResponse>, Status> {
        let actor = principal(&request)?;
        let request = request.into_inner();
        let kind = convert::principal_kind(request.principal.as_ref())
            .map_err(|v| invalid_argument(v, ""))?;
        let expires = match &request.expires_at {
            Some(t) => Some(
                convert::timestamp_ms(t, "expires_at")
                    .map_err(|violation| invalid_argument(vec![violation], ""))?,
            ),
            None => None,
        };
        let issued = self
            .tokens
            .issue(&actor, kind, expires, &request.label)
            .await?;
        Ok(Response::new(pb::IssueTokenResponse {
            token: Some(convert::token_to_pb(&issued.record)),
            secret: issued.bearer,
        }))
    }

    async fn list_tokens(
        &self,
        request: Request<pb::ListTokensRequest>,
    ) -> Result<Response<pb::ListTokensResponse>, Status> {
        let actor = principal(&request)?;
        let tokens = self.tokens.list(&actor).await?;
        Ok(Response::new(pb::ListTokensResponse {
            tokens: tokens.iter().map(convert::token_to_pb).collect(),
        }))
    }

    async fn revoke_token(
        &self,
        request: Request<pb::RevokeTokenRequest>,
    ) -> Result<Response<pb::Token>, Status> {
        let actor = principal(&request)?;
        let record = self.tokens.revoke(&actor, &request.into_inner().id).await?;
        Ok(Response::new(convert::token_to_pb(&record)))
    }

    async fn who_am_i(
        &self,
        request: Request<pb::WhoAmIRequest>,
    ) -> Result<Response<pb::WhoAmIResponse>, Status> {
        let actor = principal(&request)?;
        self.tokens.who_am_i(&actor)?;
        Ok(Response::new(pb::WhoAmIResponse {
            principal: Some(convert::principal_kind_to_pb(&actor.kind)),
            token_id: actor.credential,
        }))
    }
}

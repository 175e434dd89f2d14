//! Authentication as a tower layer: every call of a `juesuan.v1` service must carry `authorization: Bearer
//! <token>` (or come over mutual TLS with a client certificate naming an enrolled service); the layer turns it
//! into a [`Principal`] in the request's extensions, or answers UNAUTHENTICATED before the service sees the call.
//! Health and reflection stay open: probes and tools need no token, and they reveal nothing of the data.
//!
//! What the principal may then do is not decided here but by the domain's one policy (`domain::access`), which
//! every service method consults with the subject of its request.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use tonic::{Status, body::Body, server::NamedService};
use tower::{Layer, Service};

use crate::domain::{access::Principal, tokens::AuthError};
use crate::service::tokens::{AuthenticationFailure, Tokens};

/// The prefix of the paths that need a principal.
const PROTECTED: &str = "/juesuan.v1.";

#[derive(Clone)]
pub struct AuthenticateLayer {
    pub tokens: Tokens,
}

impl<S> Layer<S> for AuthenticateLayer {
    type Service = Authenticate<S>;

    fn layer(&self, inner: S) -> Authenticate<S> {
        Authenticate {
            inner,
            tokens: self.tokens.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Authenticate<S> {
    inner: S,
    tokens: Tokens,
}

impl<S: NamedService> NamedService for Authenticate<S> {
    const NAME: &'static str = S::NAME;
}

/// The common name of the client certificate a connection presented, which the TLS handshake verified against
/// `--client-ca`; `None` without mutual TLS.
fn client_certificate_name(request: &http::Request<Body>) -> Option<String> {
    use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
    let certificates = request
        .extensions()
        .get::<TlsConnectInfo<TcpConnectInfo>>()?
        .peer_certs()?;
    let (_, certificate) = x509_parser::parse_x509_certificate(certificates.first()?).ok()?;
    let name = certificate
        .subject()
        .iter_common_name()
        .next()?
        .as_str()
        .ok()?
        .to_owned();
    Some(name)
}

impl<S> Service<http::Request<Body>> for Authenticate<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        if !request.uri().path().starts_with(PROTECTED) {
            return Box::pin(self.inner.call(request));
        }
        // The clone that was polled ready serves this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let tokens = self.tokens.clone();
        let credentials = Credentials::of(&request);
        Box::pin(async move {
            match authenticate(&tokens, credentials).await {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(status) => Ok(status.into_http()),
            }
        })
    }
}

/// What a request presents: the authorization header's bearer token, or a verified certificate's name.
enum Credentials {
    Bearer(String),
    Certificate(String),
    Malformed,
    Missing,
}

impl Credentials {
    fn of(request: &http::Request<Body>) -> Credentials {
        match request.headers().get(http::header::AUTHORIZATION) {
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|v| {
                    v.strip_prefix("Bearer ")
                        .or_else(|| v.strip_prefix("bearer "))
                })
                .map_or(Credentials::Malformed, |t| {
                    Credentials::Bearer(t.trim().to_owned())
                }),
            None => match client_certificate_name(request) {
                Some(name) => Credentials::Certificate(name),
                None => Credentials::Missing,
            },
        }
    }
}

async fn authenticate(tokens: &Tokens, credentials: Credentials) -> Result<Principal, Status> {
    let outcome = match credentials {
        Credentials::Bearer(bearer) => tokens.authenticate(&bearer).await,
        Credentials::Certificate(name) => tokens.authenticate_service(&name).await,
        Credentials::Malformed => Err(AuthError::Malformed.into()),
        Credentials::Missing => Err(AuthError::Missing.into()),
    };
    outcome.map_err(|failure| match failure {
        AuthenticationFailure::Credential(e) => Status::unauthenticated(e.to_string()),
        AuthenticationFailure::Store(e) => {
            tracing::error!(error = %crate::api::error::chain(&e), "authentication failed in the store");
            Status::unavailable("the service cannot check credentials right now; try again")
        }
    })
}

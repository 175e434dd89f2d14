//! Every call, observed in one place: a request id (the caller's `x-request-id` when it is a short token, else a
//! new one) on every log line the call makes and on the response, one access-log line per call with its RPC,
//! status code and duration, and the call and latency metrics.
//!
//! This is the outermost layer, so calls refused by authentication or the guard are observed too. The status code
//! is read from the response headers: where a unary call fails, tonic sends the status there (trailers-only); a
//! response without one succeeded, as the service has no streaming calls whose status comes after their messages.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::atomic::{AtomicU64, Ordering},
    task::{Context, Poll},
    time::Instant,
};

use tonic::{body::Body, server::NamedService};
use tower::{Layer, Service};
use tracing::Instrument;

use crate::metrics::Metrics;

const REQUEST_ID: &str = "x-request-id";
/// The longest caller-given request id kept; a longer or odd one is replaced, so logs never carry client junk.
const MAX_REQUEST_ID: usize = 64;

#[derive(Clone)]
pub struct ObserveLayer {
    pub metrics: Metrics,
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            metrics: self.metrics.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    metrics: Metrics,
}

impl<S: NamedService> NamedService for Observe<S> {
    const NAME: &'static str = S::NAME;
}

/// A process-unique id: a random start so that ids of two replicas or two runs do not collide, then a counter.
fn new_request_id() -> String {
    static NEXT: std::sync::OnceLock<AtomicU64> = std::sync::OnceLock::new();
    let next = NEXT.get_or_init(|| {
        let mut seed = [0u8; 8];
        // Without randomness the ids are still unique within the process.
        let _ = getrandom::fill(&mut seed);
        AtomicU64::new(u64::from_le_bytes(seed) >> 16)
    });
    format!("{:012x}", next.fetch_add(1, Ordering::Relaxed))
}

/// The caller's request id when it is short and made of token characters.
fn given_request_id(request: &http::Request<Body>) -> Option<String> {
    let value = request.headers().get(REQUEST_ID)?.to_str().ok()?;
    let acceptable = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    acceptable.then(|| value.to_owned())
}

/// The status code's name ("OK", "INVALID_ARGUMENT") from the response headers.
fn status_code(response: &http::Response<Body>) -> &'static str {
    let code = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<i32>().ok())
        .map_or(tonic::Code::Ok, tonic::Code::from_i32);
    code_name(code)
}

fn code_name(code: tonic::Code) -> &'static str {
    use tonic::Code::*;
    match code {
        Ok => "OK",
        Cancelled => "CANCELLED",
        Unknown => "UNKNOWN",
        InvalidArgument => "INVALID_ARGUMENT",
        DeadlineExceeded => "DEADLINE_EXCEEDED",
        NotFound => "NOT_FOUND",
        AlreadyExists => "ALREADY_EXISTS",
        PermissionDenied => "PERMISSION_DENIED",
        ResourceExhausted => "RESOURCE_EXHAUSTED",
        FailedPrecondition => "FAILED_PRECONDITION",
        Aborted => "ABORTED",
        OutOfRange => "OUT_OF_RANGE",
        Unimplemented => "UNIMPLEMENTED",
        Internal => "INTERNAL",
        Unavailable => "UNAVAILABLE",
        DataLoss => "DATA_LOSS",
        Unauthenticated => "UNAUTHENTICATED",
    }
}

impl<S> Service<http::Request<Body>> for Observe<S>
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

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let metrics = self.metrics.clone();
        let rpc = metrics.rpc_label(request.uri().path());
        let request_id = given_request_id(&request).unwrap_or_else(new_request_id);
        let span = tracing::info_span!("rpc", request_id = %request_id);
        let started = Instant::now();
        Box::pin(
            async move {
                let Ok(mut response) = inner.call(request).await;
                let seconds = started.elapsed().as_secs_f64();
                let code = status_code(&response);
                metrics.observe_call(&rpc, code, seconds);
                if rpc.starts_with("/grpc.") {
                    // Probes and tools call every few seconds; their lines would drown the calls that matter.
                    tracing::debug!(rpc = %rpc, code, millis = (seconds * 1e6).round() / 1e3, "call");
                } else {
                    tracing::info!(rpc = %rpc, code, millis = (seconds * 1e6).round() / 1e3, "call");
                }
                if let Ok(value) = http::HeaderValue::from_str(&request_id) {
                    response.headers_mut().insert(REQUEST_ID, value);
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with_id(id: &str) -> http::Request<Body> {
        http::Request::builder()
            .header(REQUEST_ID, id)
            .body(Body::empty())
            .unwrap()
    }

    #[test]
    fn a_short_token_id_is_kept_and_anything_else_replaced() {
        assert_eq!(
            given_request_id(&request_with_id("lb-7f3a.42")).as_deref(),
            Some("lb-7f3a.42")
        );
        assert_eq!(given_request_id(&request_with_id(&"a".repeat(65))), None);
        assert_eq!(given_request_id(&request_with_id("a b")), None);
        assert_eq!(given_request_id(&request_with_id("")), None);
    }

    #[test]
    fn new_ids_do_not_repeat() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| new_request_id()).collect();
        assert_eq!(ids.len(), 1000);
    }

    #[test]
    fn the_status_comes_from_the_headers_and_is_ok_without_one() {
        let failed = http::Response::builder()
            .header("grpc-status", "3")
            .body(Body::empty())
            .unwrap();
        assert_eq!(status_code(&failed), "INVALID_ARGUMENT");
        let succeeded = http::Response::builder().body(Body::empty()).unwrap();
        assert_eq!(status_code(&succeeded), "OK");
    }
}

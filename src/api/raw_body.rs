//! A tower layer in front of `Submissions` that keeps the disclosure's bytes exactly as the client sent them
//! (what is stored, digested and, later, signed — a re-encoding would drop fields of a newer schema and break a
//! signature), and refuses an oversized request with INVALID_ARGUMENT before buffering more of it.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use tonic::{Status, body::Body, server::NamedService};
use tower::{Layer, Service};

use super::error::invalid_argument;
use crate::domain::error::FieldViolation;

/// The encoded `Disclosure` of a Submit or Validate request, as received.
#[derive(Debug, Clone)]
pub struct RawDisclosure(pub Bytes);

#[derive(Debug, Clone, Copy)]
pub struct CaptureDisclosureLayer {
    /// Largest request body buffered; beyond it the request is refused.
    pub limit: usize,
}

impl<S> Layer<S> for CaptureDisclosureLayer {
    type Service = CaptureDisclosure<S>;

    fn layer(&self, inner: S) -> CaptureDisclosure<S> {
        CaptureDisclosure {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct CaptureDisclosure<S> {
    inner: S,
    limit: usize,
}

impl<S: NamedService> NamedService for CaptureDisclosure<S> {
    const NAME: &'static str = S::NAME;
}

/// The number of the `Disclosure` field in the request of a method, for the methods that carry one.
fn disclosure_field(path: &str) -> Option<u64> {
    match path {
        "/juesuan.v1.Submissions/Submit" => Some(2),
        "/juesuan.v1.Submissions/Validate" => Some(1),
        _ => None,
    }
}

impl<S> Service<http::Request<Body>> for CaptureDisclosure<S>
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
        let Some(field) = disclosure_field(request.uri().path()) else {
            return Box::pin(self.inner.call(request));
        };
        // The clone that was polled ready serves this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let collected = match Limited::new(body, limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                    let status = invalid_argument(
                        vec![FieldViolation::new(
                            "disclosure",
                            format!("the request is larger than {limit} bytes"),
                        )],
                        "",
                    );
                    return Ok(status.into_http());
                }
                Err(error) => return Ok(Status::from_error(error).into_http()),
            };
            if let Some(raw) =
                unary_message(&collected).and_then(|message| field_bytes(message, field))
            {
                parts.extensions.insert(RawDisclosure(raw));
            }
            let request = http::Request::from_parts(parts, Body::new(Full::new(collected)));
            inner.call(request).await
        })
    }
}

/// The message of a body holding exactly one uncompressed gRPC frame.
fn unary_message(body: &[u8]) -> Option<&[u8]> {
    let (&compressed, rest) = body.split_first()?;
    if compressed != 0 || rest.len() < 4 {
        return None;
    }
    let length = u32::from_be_bytes(rest[..4].try_into().ok()?) as usize;
    let message = rest.get(4..4 + length)?;
    (rest.len() == 4 + length).then_some(message)
}

/// The bytes of a length-delimited field of an encoded message; several occurrences merge by concatenation, as
/// protobuf defines.
fn field_bytes(mut message: &[u8], wanted: u64) -> Option<Bytes> {
    let mut out = BytesMut::new();
    let mut found = false;
    while message.has_remaining() {
        let key = prost::encoding::decode_varint(&mut message).ok()?;
        let (number, wire_type) = (key >> 3, key & 7);
        match wire_type {
            0 => {
                prost::encoding::decode_varint(&mut message).ok()?;
            }
            1 => message = message.get(8..)?,
            5 => message = message.get(4..)?,
            2 => {
                let length =
                    usize::try_from(prost::encoding::decode_varint(&mut message).ok()?).ok()?;
                let value = message.get(..length)?;
                if number == wanted {
                    out.extend_from_slice(value);
                    found = true;
                }
                message = &message[length..];
            }
            _ => return None,
        }
    }
    found.then(|| out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb;
    use prost::Message;

    #[test]
    fn finds_the_disclosure_inside_a_submit_request() {
        let disclosure = pb::Disclosure {
            cover: Some(pb::Cover {
                unit_code: "652300101".into(),
                fiscal_year: 2024,
                ..Default::default()
            }),
            ..Default::default()
        };
        let request = pb::SubmitRequest {
            idempotency_key: "k-1".into(),
            disclosure: Some(disclosure.clone()),
            ..Default::default()
        };
        let mut frame = vec![0u8];
        let encoded = request.encode_to_vec();
        frame.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
        frame.extend_from_slice(&encoded);
        let raw = field_bytes(unary_message(&frame).unwrap(), 2).unwrap();
        assert_eq!(raw.as_ref(), disclosure.encode_to_vec().as_slice());
        assert!(field_bytes(unary_message(&frame).unwrap(), 7).is_none());
    }

    #[test]
    fn refuses_frames_it_cannot_read() {
        assert!(unary_message(&[1, 0, 0, 0, 0]).is_none(), "compressed");
        assert!(unary_message(&[0, 0, 0, 0, 5, 1]).is_none(), "truncated");
        assert!(
            field_bytes(&[0x0b], 1).is_none(),
            "groups are not supported"
        );
    }
}

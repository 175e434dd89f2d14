//! The request guard: a tower layer in front of every `juesuan.v1` service that bounds what a call may cost
//! before tonic decodes it.
//!
//! Protobuf decoding amplifies: an empty repeated message is two bytes on the wire and a hundred in memory, so a
//! megabyte of them is a hundred megabytes decoded, and the conversions after that multiply it again. The guard
//! reads the body up to a size limit, unwraps gzip with the same limit, and walks the encoded message against the
//! contract's descriptors (compiled once into a table of fields per message) — counting every repeated field
//! against its limit, measuring every string, checking its UTF-8, refusing groups and malformed encodings —
//! without allocating per element. Only then does the call reach the service. Every refusal is INVALID_ARGUMENT
//! with the path of the field at fault.
//!
//! For Submit and Validate it also keeps the disclosure's bytes exactly as the client sent them (what is stored,
//! digested and signed: a re-encoding would drop fields of a newer schema and break a signature).

use std::{
    convert::Infallible,
    future::Future,
    io::Read,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use prost_reflect::{Kind, MessageDescriptor};
use tonic::{Status, body::Body, server::NamedService};
use tower::{Layer, Service};

use super::error::invalid_argument;
use crate::{domain::error::FieldViolation, pb};

/// The encoded `Disclosure` of a Submit or Validate request, as received.
#[derive(Debug, Clone)]
pub struct RawDisclosure(pub Bytes);

/// Elements a repeated field may have when the table below does not say.
pub const DEFAULT_MAX_ITEMS: usize = 1_000;
/// Bytes a string or bytes field may have when the table below does not say.
pub const DEFAULT_MAX_BYTES: usize = 16 * 1024;
/// Sub-messages one request may hold in all (every cell, decimal, row, indicator and measure is one): a
/// department's 汇总表 with every code row holds about 12,000; the reference disclosure about 6,000.
pub const MAX_MESSAGES: usize = 50_000;
/// Bytes a request other than Submit, Validate and CheckPublication may have.
pub const MAX_SMALL_REQUEST_BYTES: usize = 4 * 1024 * 1024;
/// Room a Submit request has beyond its disclosure: the idempotency key, a signature and the explanations.
pub const SUBMIT_OVERHEAD_BYTES: usize = 2 * 1024 * 1024;

/// The limits of the fields that differ from the defaults: (full field name, most elements or bytes). A real
/// disclosure reaches none of them; they exist to bound memory and work.
pub const FIELD_LIMITS: &[(&str, usize)] = &[
    ("juesuan.v1.Disclosure.tables", 30),
    ("juesuan.v1.Table.rows", 3_000),
    ("juesuan.v1.Row.cells", 40),
    ("juesuan.v1.Disclosure.narrative", 200),
    ("juesuan.v1.NarrativeSection.text", 200 * 1024),
    ("juesuan.v1.Disclosure.project_evaluations", 1_000),
    ("juesuan.v1.ProjectEvaluation.indicators", 200),
    ("juesuan.v1.UnitEvaluation.indicators", 200),
    ("juesuan.v1.ProjectEvaluation.funds", 50),
    ("juesuan.v1.UnitEvaluation.funds", 50),
    ("juesuan.v1.ProjectEvaluation.goal_expected", 64 * 1024),
    ("juesuan.v1.ProjectEvaluation.goal_actual", 64 * 1024),
    ("juesuan.v1.UnitEvaluation.goal_expected", 64 * 1024),
    ("juesuan.v1.UnitEvaluation.goal_actual", 64 * 1024),
    ("juesuan.v1.SubmitRequest.explanations", 500),
    ("juesuan.v1.ExplainFindingsRequest.explanations", 500),
    ("juesuan.v1.GetConsolidatedRequest.tables", 50),
    (
        "juesuan.v1.PutBudgetRequest.figures",
        crate::domain::budget::MAX_BUDGET_FIGURES,
    ),
    (
        "juesuan.v1.CheckPublicationRequest.document",
        crate::publication::read::MAX_DOCUMENT_BYTES,
    ),
];

/// Requests that carry a document (bytes, not a disclosure) and may be as large as it: the input message, and
/// the field a too-large body is blamed on.
const DOCUMENT_REQUESTS: [(&str, &str); 1] = [("juesuan.v1.CheckPublicationRequest", "document")];

/// The most elements (repeated fields) or bytes (strings and bytes) a field may have.
pub fn field_limit(full_name: &str) -> usize {
    FIELD_LIMITS
        .iter()
        .find(|(name, _)| *name == full_name)
        .map(|(_, limit)| *limit)
        .unwrap_or(usize::MAX)
}

fn limit_for(field: &prost_reflect::FieldDescriptor) -> usize {
    match field_limit(field.full_name()) {
        usize::MAX if field.is_list() || field.is_map() => DEFAULT_MAX_ITEMS,
        usize::MAX => DEFAULT_MAX_BYTES,
        limit => limit,
    }
}

/// What the scan needs to know of a field, read from the descriptors once: asking the descriptor pool for each
/// field of each element cost more than the rest of the walk.
#[derive(Debug)]
struct FieldPlan {
    name: String,
    kind: FieldKind,
    /// A repeated field or a map: its limit counts elements.
    repeated: bool,
    /// Elements of a repeated field, or bytes of a string or bytes field.
    limit: usize,
    /// The wire types the field may come with, as bits (1 << wire type).
    wire_types: u8,
}

#[derive(Debug, Clone, Copy)]
enum FieldKind {
    /// A message, by its index in the plan.
    Message(usize),
    String,
    Bytes,
    /// A number, a bool or an enum.
    Scalar,
}

/// The fields of one message by number (numbers in these contracts are small, so a dense table).
#[derive(Debug, Default)]
struct MessagePlan {
    fields: Vec<Option<FieldPlan>>,
}

/// Every message of the contract, compiled for the scan.
#[derive(Debug)]
struct Plan {
    messages: Vec<MessagePlan>,
    by_name: std::collections::HashMap<String, usize>,
}

/// The field numbers the dense tables hold; a contract field beyond it would be a mistake the plan's test finds.
const MAX_PLANNED_FIELD: u32 = 256;

impl Plan {
    fn of_pool(pool: &prost_reflect::DescriptorPool) -> Plan {
        let by_name: std::collections::HashMap<String, usize> = pool
            .all_messages()
            .enumerate()
            .map(|(i, m)| (m.full_name().to_owned(), i))
            .collect();
        let messages = pool
            .all_messages()
            .map(|message| {
                let mut fields: Vec<Option<FieldPlan>> = Vec::new();
                for field in message.fields() {
                    let number = field.number();
                    if number > MAX_PLANNED_FIELD {
                        continue;
                    }
                    let kind = match field.kind() {
                        Kind::Message(inner) => FieldKind::Message(by_name[inner.full_name()]),
                        Kind::String => FieldKind::String,
                        Kind::Bytes => FieldKind::Bytes,
                        _ => FieldKind::Scalar,
                    };
                    let natural = natural_wire_type(&field.kind());
                    let packable = field.is_list() && natural != 2;
                    let plan = FieldPlan {
                        name: field.name().to_owned(),
                        kind,
                        repeated: field.is_list() || field.is_map(),
                        limit: limit_for(&field),
                        wire_types: (1 << natural) | if packable { 1 << 2 } else { 0 },
                    };
                    let slot = number as usize;
                    if fields.len() <= slot {
                        fields.resize_with(slot + 1, || None);
                    }
                    fields[slot] = Some(plan);
                }
                MessagePlan { fields }
            })
            .collect();
        Plan { messages, by_name }
    }

    /// The plan of the contract this binary serves, made on first use.
    fn get() -> &'static Plan {
        static PLAN: std::sync::OnceLock<Plan> = std::sync::OnceLock::new();
        PLAN.get_or_init(|| Plan::of_pool(pb::descriptor_pool()))
    }
}

/// The wire type a field of this kind is written with when not packed.
fn natural_wire_type(kind: &Kind) -> u8 {
    match kind {
        Kind::Message(_) | Kind::String | Kind::Bytes => 2,
        Kind::Double | Kind::Fixed64 | Kind::Sfixed64 => 1,
        Kind::Float | Kind::Fixed32 | Kind::Sfixed32 => 5,
        Kind::Int32
        | Kind::Int64
        | Kind::Uint32
        | Kind::Uint64
        | Kind::Sint32
        | Kind::Sint64
        | Kind::Bool
        | Kind::Enum(_) => 0,
    }
}

/// Why an encoded message is refused: the field's path relative to the message, and what is wrong.
type Refusal = FieldViolation;

/// Occurrences of each repeated field so far in one message, by field number. A message has a few repeated fields,
/// so they are counted in place; more than that spill to the heap (an allocation for each of a disclosure's hundreds
/// of rows was most of what counting cost).
#[derive(Default)]
struct Occurrences {
    inline: [(u32, usize); 4],
    used: usize,
    spilled: Vec<(u32, usize)>,
}

impl Occurrences {
    /// Counts one more occurrence of field `number`; returns how many there are now.
    fn add(&mut self, number: u32) -> usize {
        let slot = match self.inline[..self.used]
            .iter_mut()
            .chain(self.spilled.iter_mut())
            .position(|(n, _)| *n == number)
        {
            Some(i) if i < self.used => &mut self.inline[i],
            Some(i) => &mut self.spilled[i - self.used],
            None if self.used < self.inline.len() => {
                self.inline[self.used] = (number, 0);
                self.used += 1;
                &mut self.inline[self.used - 1]
            }
            None => {
                self.spilled.push((number, 0));
                self.spilled.last_mut().expect("just pushed")
            }
        };
        slot.1 += 1;
        slot.1
    }
}

/// Walks an encoded message against its descriptor. `budget` counts the sub-messages left.
fn scan(
    plan: &Plan,
    message: usize,
    mut bytes: &[u8],
    depth: usize,
    budget: &mut usize,
) -> Result<(), Refusal> {
    let fields = &plan.messages[message].fields;
    let mut counts = Occurrences::default();
    while bytes.has_remaining() {
        let key = prost::encoding::decode_varint(&mut bytes)
            .map_err(|_| Refusal::new("", "the message is truncated or not protobuf"))?;
        // Protobuf keys are 32 bits: a field number up to 2^29 − 1 and a wire type.
        let Ok(key32) = u32::try_from(key) else {
            return Err(Refusal::new(
                "",
                "the message is not protobuf (a key beyond 32 bits)",
            ));
        };
        let (number, wire_type) = (key32 >> 3, u64::from(key32 & 7));
        if number == 0 {
            return Err(Refusal::new(
                "",
                "the message is not protobuf (field number 0)",
            ));
        }
        let field = fields.get(number as usize).and_then(Option::as_ref);
        // The field's name, made only for a refusal: most fields of a request pass, and a String for each cost
        // an allocation per cell.
        let name = || field.map_or_else(|| format!("#{number}"), |f| f.name.clone());
        let index = match field {
            Some(f) if f.repeated => {
                let count = counts.add(number);
                let limit = f.limit;
                if count > limit {
                    return Err(Refusal::new(
                        name(),
                        format!("has more than {limit} elements; that is beyond any disclosure"),
                    ));
                }
                Some(count - 1)
            }
            _ => None,
        };
        let path = || match index {
            Some(i) => format!("{}[{i}]", name()),
            None => name(),
        };
        if matches!(wire_type, 3 | 4) {
            return Err(Refusal::new(
                path(),
                "uses a protobuf group, which these contracts do not have",
            ));
        }
        // A known field must come with the wire type of its kind, or prost would refuse it later (INTERNAL).
        if let Some(field) = field
            && field.wire_types & (1 << wire_type) == 0
        {
            return Err(Refusal::new(
                path(),
                "is encoded with the wrong wire type for its kind",
            ));
        }
        match wire_type {
            0 => {
                prost::encoding::decode_varint(&mut bytes)
                    .map_err(|_| Refusal::new(path(), "a number is truncated"))?;
            }
            1 | 5 => {
                let width = if wire_type == 1 { 8 } else { 4 };
                if bytes.remaining() < width {
                    return Err(Refusal::new(path(), "a number is truncated"));
                }
                bytes.advance(width);
            }
            2 => {
                let length = prost::encoding::decode_varint(&mut bytes)
                    .ok()
                    .and_then(|l| usize::try_from(l).ok())
                    .filter(|l| *l <= bytes.remaining())
                    .ok_or_else(|| {
                        Refusal::new(path(), "its length runs past the end of the message")
                    })?;
                let value = &bytes[..length];
                bytes.advance(length);
                let Some(field) = field else { continue };
                match field.kind {
                    FieldKind::Message(inner) => {
                        if depth >= 32 {
                            return Err(Refusal::new(path(), "is nested too deeply"));
                        }
                        *budget = budget.checked_sub(1).ok_or_else(|| {
                            Refusal::new(
                                path(),
                                format!(
                                    "the request holds more than {MAX_MESSAGES} messages in all"
                                ),
                            )
                        })?;
                        scan(plan, inner, value, depth + 1, budget)
                            .map_err(|inner| inner.under(&path()))?;
                    }
                    FieldKind::String => {
                        // A repeated string's limit is its element count; each string has the default size.
                        let bytes_limit = if field.repeated {
                            DEFAULT_MAX_BYTES
                        } else {
                            field.limit
                        };
                        if length > bytes_limit {
                            return Err(Refusal::new(
                                path(),
                                format!("is {length} bytes long; at most {bytes_limit}"),
                            ));
                        }
                        // Validated with SIMD: the strings of a disclosure are mostly Chinese text, which the
                        // standard library's check walks a character at a time (half of this scan's work). Most
                        // strings by count are short codes and figures, which the ASCII test settles in a few
                        // word-sized steps, where the validator's set-up for a short input is most of its cost.
                        if !value.is_ascii() && simdutf8::basic::from_utf8(value).is_err() {
                            return Err(Refusal::new(path(), "is not valid UTF-8 text"));
                        }
                    }
                    FieldKind::Bytes => {
                        let limit = if field.repeated {
                            DEFAULT_MAX_BYTES
                        } else {
                            field.limit
                        };
                        if length > limit {
                            return Err(Refusal::new(
                                path(),
                                format!("is {length} bytes long; at most {limit}"),
                            ));
                        }
                    }
                    // A packed repeated scalar: its bytes are bounded by the request's size.
                    FieldKind::Scalar => {}
                }
            }
            3 | 4 => {
                return Err(Refusal::new(
                    path(),
                    "uses a protobuf group, which these contracts do not have",
                ));
            }
            _ => {
                return Err(Refusal::new(
                    path(),
                    "the message is not protobuf (bad wire type)",
                ));
            }
        }
    }
    Ok(())
}

/// Checks an encoded request message of a method against the contract.
pub fn check_message(input: &MessageDescriptor, message: &[u8]) -> Result<(), FieldViolation> {
    let mut budget = MAX_MESSAGES;
    let plan = Plan::get();
    let Some(&index) = plan.by_name.get(input.full_name()) else {
        // Every request message is in the contract's pool; one that is not cannot be checked, so it is refused.
        return Err(Refusal::new("", "is not a message of this contract"));
    };
    scan(plan, index, message, 0, &mut budget)
}

/// The bytes of a length-delimited field of an encoded message; several occurrences merge by concatenation, as
/// protobuf defines. Called on a message the scan accepted.
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

/// What the guard needs to know of a method.
struct Method {
    input: MessageDescriptor,
    /// The number of the `Disclosure` field, for Submit and Validate.
    disclosure_field: Option<u64>,
    /// The largest body accepted.
    limit: usize,
    /// The field a too-large body is blamed on: the request's first message field, if any.
    main_field: String,
}

#[derive(Debug, Clone, Copy)]
pub struct GuardLayer {
    /// Largest encoded disclosure accepted (Submit, Validate).
    pub max_disclosure_bytes: usize,
}

impl GuardLayer {
    fn method(&self, path: &str) -> Option<Method> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        let service = pb::descriptor_pool().get_service_by_name(service)?;
        let method = service.methods().find(|m| m.name() == method)?;
        let input = method.input();
        let disclosure_field = input
            .fields()
            .find(|f| matches!(f.kind(), Kind::Message(m) if m.full_name() == "juesuan.v1.Disclosure"))
            .map(|f| u64::from(f.number()));
        let document = DOCUMENT_REQUESTS
            .iter()
            .find(|(name, _)| *name == input.full_name());
        let main_field = match document {
            Some((_, field)) => (*field).to_owned(),
            None => input
                .fields()
                .find(|f| matches!(f.kind(), Kind::Message(_)))
                .map(|f| f.name().to_owned())
                .unwrap_or_default(),
        };
        let limit = match (disclosure_field, document) {
            (Some(_), _) => self
                .max_disclosure_bytes
                .saturating_add(SUBMIT_OVERHEAD_BYTES),
            (None, Some(_)) => crate::publication::read::MAX_DOCUMENT_BYTES + SUBMIT_OVERHEAD_BYTES,
            (None, None) => MAX_SMALL_REQUEST_BYTES,
        };
        Some(Method {
            input,
            disclosure_field,
            limit,
            main_field,
        })
    }
}

impl<S> Layer<S> for GuardLayer {
    type Service = Guard<S>;

    fn layer(&self, inner: S) -> Guard<S> {
        Guard {
            inner,
            config: *self,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Guard<S> {
    inner: S,
    config: GuardLayer,
}

impl<S: NamedService> NamedService for Guard<S> {
    const NAME: &'static str = S::NAME;
}

fn refuse(violation: FieldViolation) -> http::Response<Body> {
    invalid_argument(vec![violation], "").into_http()
}

/// The one message of a unary body, inflated when the client compressed it.
fn unframe(body: &[u8], gzip: bool, limit: usize) -> Result<Vec<u8>, Box<http::Response<Body>>> {
    let malformed = || {
        Box::new(refuse(FieldViolation::new(
            "",
            "the request is not one complete gRPC message",
        )))
    };
    let (&compressed, rest) = body.split_first().ok_or_else(malformed)?;
    if rest.len() < 4 {
        return Err(malformed());
    }
    let length = u32::from_be_bytes(rest[..4].try_into().map_err(|_| malformed())?) as usize;
    let message = rest.get(4..4 + length).ok_or_else(malformed)?;
    if rest.len() != 4 + length {
        return Err(malformed());
    }
    match (compressed, gzip) {
        (0, _) => Ok(message.to_vec()),
        (1, true) => {
            // Read one byte past the limit: a compression bomb stops there, not in memory.
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(message)
                .take(limit as u64 + 1)
                .read_to_end(&mut inflated)
                .map_err(|_| {
                    Box::new(refuse(FieldViolation::new(
                        "",
                        "the request is marked gzip but does not inflate",
                    )))
                })?;
            if inflated.len() > limit {
                return Err(Box::new(refuse(FieldViolation::new(
                    "",
                    format!("the request inflates to more than {limit} bytes"),
                ))));
            }
            Ok(inflated)
        }
        _ => Err(Box::new(
            Status::unimplemented("the request's compression is not supported; use gzip or none")
                .into_http(),
        )),
    }
}

impl<S> Service<http::Request<Body>> for Guard<S>
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
        let Some(method) = self.config.method(request.uri().path()) else {
            // Health, reflection, and unknown methods (which tonic answers UNIMPLEMENTED).
            return Box::pin(self.inner.call(request));
        };
        // The clone that was polled ready serves this call (tower's usual dance).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let max_disclosure = self.config.max_disclosure_bytes;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let collected = match Limited::new(body, method.limit).collect().await {
                Ok(collected) => collected.to_bytes(),
                Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => {
                    let what = match method.disclosure_field {
                        Some(_) => format!(
                            "the request is larger than {} bytes (a disclosure of at most {max_disclosure} bytes \
                             and {SUBMIT_OVERHEAD_BYTES} bytes for the rest)",
                            method.limit
                        ),
                        None => format!("the request is larger than {} bytes", method.limit),
                    };
                    return Ok(refuse(FieldViolation::new(method.main_field.clone(), what)));
                }
                Err(error) => return Ok(Status::from_error(error).into_http()),
            };
            let gzip = parts
                .headers
                .get("grpc-encoding")
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
            let message = match unframe(&collected, gzip, method.limit) {
                Ok(message) => message,
                Err(response) => return Ok(*response),
            };
            if let Err(violation) = check_message(&method.input, &message) {
                return Ok(refuse(violation));
            }
            if let Some(number) = method.disclosure_field
                && let Some(raw) = field_bytes(&message, number)
            {
                if raw.len() > max_disclosure {
                    return Ok(refuse(FieldViolation::new(
                        "disclosure",
                        format!(
                            "is {} bytes; the limit is {max_disclosure} bytes",
                            raw.len()
                        ),
                    )));
                }
                parts.extensions.insert(RawDisclosure(raw));
            }
            // Onward as one uncompressed frame: tonic decodes what was checked.
            parts.headers.remove("grpc-encoding");
            let mut frame = BytesMut::with_capacity(5 + message.len());
            frame.extend_from_slice(&[0]);
            frame.extend_from_slice(&(message.len() as u32).to_be_bytes());
            frame.extend_from_slice(&message);
            let request = http::Request::from_parts(parts, Body::new(Full::new(frame.freeze())));
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn occurrences_are_counted_per_field_in_place_and_beyond() {
        let mut counts = Occurrences::default();
        // More distinct fields than are counted in place, each several times, interleaved.
        for round in 1..=3 {
            for number in 1..=7u32 {
                assert_eq!(counts.add(number * 10), round, "field {number}");
            }
        }
        assert_eq!(counts.used, 4);
        assert_eq!(counts.spilled.len(), 3);
    }
    use prost::Message;

    /// The compiled plan says of every field of the contract what its descriptor says, and no field is beyond the
    /// dense tables (it would be scanned as unknown, without its limits).
    #[test]
    fn the_plan_is_the_contract() {
        let pool = pb::descriptor_pool();
        let plan = Plan::get();
        let mut fields = 0;
        for message in pool.all_messages() {
            let planned = &plan.messages[plan.by_name[message.full_name()]];
            for field in message.fields() {
                assert!(field.number() <= MAX_PLANNED_FIELD, "{}", field.full_name());
                let f = planned.fields[field.number() as usize]
                    .as_ref()
                    .expect("planned");
                assert_eq!(f.name, field.name());
                assert_eq!(f.repeated, field.is_list() || field.is_map());
                assert_eq!(f.limit, limit_for(&field), "{}", field.full_name());
                let natural = natural_wire_type(&field.kind());
                for wire_type in 0..8u8 {
                    let fits =
                        wire_type == natural || (wire_type == 2 && field.is_list() && natural != 2);
                    assert_eq!(
                        f.wire_types & (1 << wire_type) != 0,
                        fits,
                        "{}",
                        field.full_name()
                    );
                }
                match (f.kind, field.kind()) {
                    (FieldKind::Message(i), Kind::Message(inner)) => {
                        assert_eq!(i, plan.by_name[inner.full_name()])
                    }
                    (FieldKind::String, Kind::String) | (FieldKind::Bytes, Kind::Bytes) => {}
                    (FieldKind::Scalar, kind) => assert!(!matches!(
                        kind,
                        Kind::Message(_) | Kind::String | Kind::Bytes
                    )),
                    (planned, kind) => panic!("{}: {planned:?} for {kind:?}", field.full_name()),
                }
                fields += 1;
            }
        }
        assert!(fields > 100, "{fields} fields");
    }

    fn descriptor(name: &str) -> MessageDescriptor {
        pb::descriptor_pool()
            .get_message_by_name(&format!("juesuan.v1.{name}"))
            .unwrap()
    }

    fn check(name: &str, bytes: &[u8]) -> Result<(), FieldViolation> {
        check_message(&descriptor(name), bytes)
    }

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
        let encoded = request.encode_to_vec();
        assert_eq!(check("SubmitRequest", &encoded), Ok(()));
        let raw = field_bytes(&encoded, 2).unwrap();
        assert_eq!(raw.as_ref(), disclosure.encode_to_vec().as_slice());
        assert!(field_bytes(&encoded, 7).is_none());
    }

    #[test]
    fn counts_are_bounded_with_the_field_path() {
        let many = pb::Disclosure {
            narrative: vec![pb::NarrativeSection::default(); 201],
            ..Default::default()
        };
        let refused = check("Disclosure", &many.encode_to_vec()).unwrap_err();
        assert_eq!(refused.field, "narrative");
        assert!(refused.description.contains("more than 200"));
        let rows = pb::Disclosure {
            tables: vec![pb::Table {
                rows: vec![pb::Row::default(); 3_001],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            check("Disclosure", &rows.encode_to_vec())
                .unwrap_err()
                .field,
            "tables[0].rows"
        );
        let long = pb::Disclosure {
            cover: Some(pb::Cover {
                unit_name: "名".repeat(10_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(
            check("Disclosure", &long.encode_to_vec())
                .unwrap_err()
                .field,
            "cover.unit_name"
        );
    }

    #[test]
    fn malformed_encodings_are_refused_not_decoded() {
        // Invalid UTF-8 in cover.unit_code (field 1 of Cover, field 1 of Disclosure).
        let cover = [0x0a, 0x02, 0xff, 0xfe];
        let mut disclosure = vec![0x0a, cover.len() as u8];
        disclosure.extend_from_slice(&cover);
        let refused = check("Disclosure", &disclosure).unwrap_err();
        assert_eq!(refused.field, "cover.unit_code");
        assert!(refused.description.contains("UTF-8"));
        // A group, nested 5,000 deep.
        let groups: Vec<u8> = std::iter::repeat_n(0x0b_u8, 5_000).collect();
        assert!(
            check("Disclosure", &groups)
                .unwrap_err()
                .description
                .contains("group")
        );
        // Truncated: a length that runs past the end.
        assert!(check("Disclosure", &[0x12, 0x7f, 0x01]).is_err());
        // A varint that never ends.
        assert!(check("Disclosure", &[0x08, 0xff, 0xff]).is_err());
        // Field number 0.
        assert!(check("Disclosure", &[0x02, 0x00]).is_err());
        // Unknown fields are skipped, not refused (a newer client's fields).
        assert_eq!(check("Disclosure", &[0xf8, 0x07, 0x01]), Ok(()));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig {
            cases: std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(512),
            ..proptest::prelude::ProptestConfig::default()
        })]

        /// Whatever bytes arrive, the guard answers, and what it lets through decodes: tonic never meets a
        /// message it cannot decode (which it would answer INTERNAL).
        #[test]
        fn what_the_guard_accepts_decodes(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            for name in ["ValidateRequest", "SubmitRequest", "RegisterUnitRequest", "ExplainFindingsRequest"] {
                if check(name, &bytes).is_ok() {
                    let decoded = match name {
                        "ValidateRequest" => pb::ValidateRequest::decode(bytes.as_slice()).map(|_| ()),
                        "SubmitRequest" => pb::SubmitRequest::decode(bytes.as_slice()).map(|_| ()),
                        "RegisterUnitRequest" => pb::RegisterUnitRequest::decode(bytes.as_slice()).map(|_| ()),
                        _ => pb::ExplainFindingsRequest::decode(bytes.as_slice()).map(|_| ()),
                    };
                    proptest::prop_assert!(decoded.is_ok(), "{name} accepted but does not decode: {decoded:?}");
                }
            }
        }

        /// Real messages with bytes flipped: still answered, and decodable when accepted.
        #[test]
        fn mutated_real_requests_are_answered(flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..8)) {
            let mut bytes = pb::ValidateRequest {
                disclosure: Some(pb::Disclosure {
                    cover: Some(pb::Cover { unit_code: "652300101".into(), fiscal_year: 2024, ..Default::default() }),
                    tables: vec![pb::Table {
                        code: "T01".into(),
                        rows: vec![pb::Row {
                            code: "income_total".into(),
                            cells: vec![pb::Cell { column: "amount".into(), value: Some(pb::Decimal { value: "8190.84".into() }) }],
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    narrative: vec![pb::NarrativeSection { key: "income".into(), title: "收入".into(), text: "本年收入8190.84万元".into() }],
                    ..Default::default()
                }),
            }
            .encode_to_vec();
            for (at, value) in flips {
                let at = at % bytes.len();
                bytes[at] = value;
            }
            if check("ValidateRequest", &bytes).is_ok() {
                proptest::prop_assert!(pb::ValidateRequest::decode(bytes.as_slice()).is_ok());
            }
        }
    }

    #[test]
    fn every_limit_names_a_field_of_the_contract() {
        for (name, _) in FIELD_LIMITS {
            let (message, field) = name.rsplit_once('.').unwrap();
            let descriptor = pb::descriptor_pool()
                .get_message_by_name(message)
                .unwrap_or_else(|| panic!("{name}: no message {message}"));
            assert!(
                descriptor.get_field_by_name(field).is_some(),
                "{name}: no field {field}"
            );
        }
    }

    #[test]
    fn frames_are_read_whole_and_gzip_is_bounded() {
        assert!(unframe(&[], false, 10).is_err());
        assert!(
            unframe(&[0, 0, 0, 0, 5, 1], false, 10).is_err(),
            "truncated"
        );
        assert!(
            unframe(&[0, 0, 0, 0, 1, 1, 2], false, 10).is_err(),
            "trailing bytes"
        );
        assert_eq!(unframe(&[0, 0, 0, 0, 1, 7], false, 10).unwrap(), [7]);
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, &[0u8; 1_000_000]).unwrap();
        let bomb = encoder.finish().unwrap();
        let mut frame = vec![1];
        frame.extend_from_slice(&(bomb.len() as u32).to_be_bytes());
        frame.extend_from_slice(&bomb);
        assert!(
            unframe(&frame, true, 1_000).is_err(),
            "a bomb stops at the limit"
        );
        assert_eq!(unframe(&frame, true, 1_000_000).unwrap().len(), 1_000_000);
        assert!(
            unframe(&frame, false, 1_000_000).is_err(),
            "compressed but not gzip"
        );
    }
}

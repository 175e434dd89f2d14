//! `juesuan bench submit`: load on a running service over gRPC, as budget units make it. It registers a synthetic
//! prefecture (idempotently, so a second run reuses it), issues each unit a submitter token, draws distinct
//! realistic disclosures for them, and then calls Validate and Submit from N concurrent streams for a fixed time,
//! reporting calls per second and p50/p99/max latency — at concurrency 1 and at N, as one client and as load.
//! Every submission is distinct (its own idempotency key and figures), so each one is validated, stored durably and
//! counted; a call that fails is counted by its status code, never as a success.
//!
//! The client shares the machine with the server, so it does as little as a load generator can: each disclosure is
//! encoded once when it is drawn, and a call sends those bytes behind its own idempotency key, as h2load sends a
//! prepared body. Cloning and encoding a disclosure for every call was about half of the client's CPU. Responses are
//! not decoded: a call's outcome is its gRPC status.
//!
//! Each phase also reports what a call cost in CPU time: the client's own, and the server's when `--server-pid`
//! names it on this machine. Their sum says how many calls a second the machine's cores could serve at all, which is
//! the ceiling any throughput figure measured on it sits under.

use std::{
    collections::BTreeMap,
    path::PathBuf,
    process::ExitCode,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::{BufMut, Bytes};
use clap::{Args, ValueEnum};
use prost::Message;
use tonic::{
    Status,
    codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder},
    transport::Channel,
};

use super::cpu::{CpuTime, calls_per_second_allowed};
use crate::cli::{
    SizeArgs,
    client::{Conn, ServerArgs, WithToken},
    sayln,
};
use crate::{
    pb,
    synthetic::{Prefecture, Rng, Role, Spec},
};

#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Concurrent streams of the loaded phases (the unloaded phases use one).
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Which calls to measure.
    #[arg(long, value_enum, default_value_t = Calls::Both)]
    calls: Calls,
    /// A disclosure file (proto JSON) to send instead of the synthetic ones: every unit sends it under its own
    /// code, so its size and findings are what is measured (e.g. the reference disclosure).
    #[arg(long)]
    disclosure: Option<PathBuf>,
    /// HTTP/2 connections the streams share.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// The server's process id, when it runs on this machine: each phase then reports the server's CPU time a
    /// call beside the client's, and the calls a second this machine's cores could serve at that cost.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The synthetic prefecture whose units submit (default: 1 county, 4 departments of 50 units).
    #[command(flatten)]
    size: SizeArgs,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Calls {
    Validate,
    Submit,
    Both,
}

/// Distinct disclosures drawn per unit; a unit cycles through its own.
const VARIANTS_PER_UNIT: usize = 4;

pub async fn run(args: SubmitArgs) -> Result<ExitCode, String> {
    if !(1..=1024).contains(&args.concurrency) {
        return Err("--concurrency must be between 1 and 1024".into());
    }
    if !(1..=3600).contains(&args.duration) {
        return Err("--duration must be between 1 and 3600 seconds".into());
    }
    if !(1..=64).contains(&args.connections) {
        return Err("--connections must be between 1 and 64".into());
    }
    if let Some(pid) = args.server_pid
        && CpuTime::of_process(pid).is_none()
    {
        return Err(format!(
            "--server-pid {pid}: no such process on this machine (its CPU time is read from /proc)"
        ));
    }
    let spec = args.size.spec(Spec::load())?;
    let admin = args.server.connect().await?;
    let template = match &args.disclosure {
        Some(path) => Some(crate::cli::read_disclosure(path)?),
        None => None,
    };
    eprintln!(
        "preparing: registering {} units, issuing tokens, drawing disclosures",
        spec.unit_count()
    );
    let workload = prepare(&spec, admin, template.as_ref()).await?;
    let channels = connect_all(&args.server, args.connections).await?;
    let workload = Arc::new(workload);
    let template_size = workload.units.first().map_or(0, |u| u.disclosures[0].len());
    sayln!(
        "juesuan bench submit: {} units, {} distinct disclosures of about {} KiB ({}), {} s a phase, {} connection(s)",
        workload.units.len(),
        workload.units.len() * VARIANTS_PER_UNIT,
        template_size / 1024,
        if args.disclosure.is_some() {
            "the given file under each unit's code"
        } else {
            "synthetic"
        },
        args.duration,
        channels.len()
    );
    sayln!(
        "\n| call | streams | calls | per second | p50 | p99 | max | failed |\n|---|---|---|---|---|---|---|---|"
    );
    let mut phases = Vec::new();
    if args.calls != Calls::Submit {
        phases.push((Kind::Validate, 1));
        phases.push((Kind::Validate, args.concurrency));
    }
    if args.calls != Calls::Validate {
        phases.push((Kind::Submit, 1));
        phases.push((Kind::Submit, args.concurrency));
    }
    let mut any_failed = false;
    let mut costs = Vec::new();
    for (kind, streams) in phases {
        let (client, server) = (
            CpuTime::of_self(),
            args.server_pid.and_then(CpuTime::of_process),
        );
        let result = phase(
            kind,
            streams,
            Duration::from_secs(args.duration),
            &channels,
            &workload,
        )
        .await;
        let calls = result.latencies.len();
        let used =
            |before: Option<CpuTime>, now: Option<CpuTime>| now?.since(before?).per_call(calls);
        costs.push(PhaseCost {
            kind,
            streams,
            client: used(client, CpuTime::of_self()),
            server: used(server, args.server_pid.and_then(CpuTime::of_process)),
        });
        any_failed |= !result.failures.is_empty();
        sayln!("{}", result.row(kind, streams));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    sayln!(
        "\n| call | streams | server CPU a call (user + system) | client CPU a call | calls/s {cores} core(s) allow at that cost |\n|---|---|---|---|---|"
    );
    for cost in &costs {
        sayln!("{}", cost.row(cores));
    }
    if args.server_pid.is_none() {
        sayln!("(give --server-pid when the server runs on this machine to measure its CPU time)");
    }
    Ok(if any_failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Clone, Copy)]
enum Kind {
    Validate,
    Submit,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Validate => "Validate",
            Kind::Submit => "Submit",
        }
    }
}

struct BenchUnit {
    token: String,
    /// The unit's disclosures, each encoded (a `juesuan.v1.Disclosure` message).
    disclosures: Vec<Bytes>,
}

struct Workload {
    units: Vec<BenchUnit>,
    /// Distinguishes this run's idempotency keys from an earlier run's on the same server.
    run: String,
    next_key: AtomicUsize,
}

async fn prepare(
    spec: &Spec,
    admin: Conn,
    template: Option<&pb::Disclosure>,
) -> Result<Workload, String> {
    let prefecture = Prefecture::new(*spec);
    let nodes = &prefecture.nodes;
    let mut registry = pb::unit_registry_client::UnitRegistryClient::new(admin.clone());
    crate::cli::demo::register_prefecture(&mut registry, &prefecture).await?;
    let mut tokens = pb::tokens_client::TokensClient::new(admin);
    let mut rng = Rng::new(spec.seed ^ 0x5eed);
    let mut units = Vec::new();
    for (index, node) in nodes.iter().enumerate() {
        if node.role != Role::Unit {
            continue;
        }
        let token = crate::cli::demo::issue_unit_token(
            &mut tokens,
            &node.code,
            pb::Role::Submitter,
            "juesuan bench submit",
        )
        .await?;
        let disclosures = (0..VARIANTS_PER_UNIT)
            .map(|_| {
                let synthetic = prefecture.resubmission(&mut rng, index);
                match template {
                    // The file's tables under the synthetic unit's cover (its code, parent, department).
                    Some(template) => pb::Disclosure {
                        cover: synthetic.cover,
                        ..template.clone()
                    },
                    None => synthetic,
                }
                .encode_to_vec()
                .into()
            })
            .collect();
        units.push(BenchUnit { token, disclosures });
    }
    let mut seed = [0u8; 6];
    let _ = getrandom::fill(&mut seed);
    Ok(Workload {
        units,
        run: hex::encode(seed),
        next_key: AtomicUsize::new(0),
    })
}

/// A request as its encoded bytes: the fields before the disclosure, then the disclosure as encoded when drawn.
struct Prepared {
    head: Vec<u8>,
    disclosure: Bytes,
}

impl Prepared {
    /// `ValidateRequest { disclosure }`: the disclosure is its field 1.
    fn validate(disclosure: Bytes) -> Prepared {
        let mut head = Vec::with_capacity(8);
        put_message_field(&mut head, 1, disclosure.len());
        Prepared { head, disclosure }
    }

    /// `SubmitRequest { idempotency_key, disclosure }`: the key is field 1 and the disclosure field 2, in the
    /// order prost writes them, so the bytes are those of the request encoded whole.
    fn submit(idempotency_key: &str, disclosure: Bytes) -> Prepared {
        let key_only = pb::SubmitRequest {
            idempotency_key: idempotency_key.to_owned(),
            ..Default::default()
        };
        let mut head = Vec::with_capacity(key_only.encoded_len() + 8);
        key_only
            .encode(&mut head)
            .expect("a Vec grows to any length");
        put_message_field(&mut head, 2, disclosure.len());
        Prepared { head, disclosure }
    }

    #[cfg(test)]
    fn bytes(&self) -> Vec<u8> {
        [self.head.as_slice(), &self.disclosure].concat()
    }
}

/// The key and length of an embedded message field.
fn put_message_field(out: &mut Vec<u8>, field: u32, length: usize) {
    prost::encoding::encode_key(field, prost::encoding::WireType::LengthDelimited, out);
    prost::encoding::encode_varint(length as u64, out);
}

/// Sends a prepared request; the response is read and dropped.
async fn call(conn: Conn, kind: Kind, request: Prepared) -> Result<(), Status> {
    let mut grpc = tonic::client::Grpc::new(conn).max_decoding_message_size(64 * 1024 * 1024);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let path = match kind {
        Kind::Validate => "/juesuan.v1.Submissions/Validate",
        Kind::Submit => "/juesuan.v1.Submissions/Submit",
    };
    grpc.unary(
        tonic::Request::new(request),
        http::uri::PathAndQuery::from_static(path),
        PreparedCodec,
    )
    .await
    .map(|_| ())
}

/// Writes a prepared request's bytes as they are, and reads any response without decoding it.
#[derive(Clone, Copy, Default)]
struct PreparedCodec;

impl Codec for PreparedCodec {
    type Encode = Prepared;
    type Decode = ();
    type Encoder = PreparedCodec;
    type Decoder = PreparedCodec;

    fn encoder(&mut self) -> PreparedCodec {
        PreparedCodec
    }

    fn decoder(&mut self) -> PreparedCodec {
        PreparedCodec
    }
}

impl Encoder for PreparedCodec {
    type Item = Prepared;
    type Error = Status;

    fn encode(&mut self, item: Prepared, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item.head);
        dst.put_slice(&item.disclosure);
        Ok(())
    }
}

impl Decoder for PreparedCodec {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        use bytes::Buf;
        buf.advance(buf.remaining());
        Ok(Some(()))
    }
}

async fn connect_all(server: &ServerArgs, count: usize) -> Result<Vec<Channel>, String> {
    let mut channels = Vec::new();
    for _ in 0..count {
        // A fresh connection each: the streams are spread over them as a load balancer would.
        channels.push(server.channel().await?);
    }
    Ok(channels)
}

struct PhaseResult {
    latencies: Vec<Duration>,
    failures: BTreeMap<String, usize>,
    elapsed: Duration,
}

impl PhaseResult {
    fn row(&self, kind: Kind, streams: usize) -> String {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let quantile = |q: f64| -> String {
            if sorted.is_empty() {
                return "–".into();
            }
            let index = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
            millis(sorted[index])
        };
        let failed: usize = self.failures.values().sum();
        let failures = if failed == 0 {
            "0".to_owned()
        } else {
            self.failures
                .iter()
                .map(|(code, n)| format!("{n} {code}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "| {} | {streams} | {} | {:.0} | {} | {} | {} | {failures} |",
            kind.name(),
            sorted.len(),
            sorted.len() as f64 / self.elapsed.as_secs_f64(),
            quantile(0.50),
            quantile(0.99),
            sorted.last().map_or("–".into(), |d| millis(*d)),
        )
    }
}

fn millis(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1e3)
}

/// What a phase's successful calls cost in CPU time, each; the server's when its process was given.
struct PhaseCost {
    kind: Kind,
    streams: usize,
    client: Option<CpuTime>,
    server: Option<CpuTime>,
}

impl PhaseCost {
    /// The table row. Times are whole clock ticks (10 ms) of the phase divided among its calls.
    fn row(&self, cores: usize) -> String {
        let ms = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1e3);
        let server = self.server.map_or("–".into(), |s| {
            format!("{} ms ({} + {})", ms(s.total()), ms(s.user), ms(s.system))
        });
        let client = self
            .client
            .map_or("–".into(), |c| format!("{} ms", ms(c.total())));
        let allowed = match (self.server, self.client) {
            (Some(server), Some(client)) => {
                calls_per_second_allowed(cores, server.total() + client.total())
                    .map_or("–".into(), |n| format!("{n:.0}"))
            }
            _ => "–".into(),
        };
        format!(
            "| {} | {} | {server} | {client} | {allowed} |",
            self.kind.name(),
            self.streams
        )
    }
}

/// `streams` workers call for `duration`, each on the next unit in turn; only successful calls count.
async fn phase(
    kind: Kind,
    streams: usize,
    duration: Duration,
    channels: &[Channel],
    workload: &Arc<Workload>,
) -> PhaseResult {
    let stop = Arc::new(AtomicBool::new(false));
    let next_unit = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..streams {
        let channel = channels[worker % channels.len()].clone();
        let workload = workload.clone();
        let stop = stop.clone();
        let next_unit = next_unit.clone();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut failures: BTreeMap<String, usize> = BTreeMap::new();
            while !stop.load(Ordering::Relaxed) {
                let turn = next_unit.fetch_add(1, Ordering::Relaxed);
                let unit = &workload.units[turn % workload.units.len()];
                let disclosure = unit.disclosures
                    [(turn / workload.units.len()) % unit.disclosures.len()]
                .clone();
                let conn = match Conn::with_token(channel.clone(), &unit.token) {
                    Ok(conn) => conn,
                    Err(e) => {
                        *failures.entry(e).or_default() += 1;
                        continue;
                    }
                };
                let call_started = Instant::now();
                let request = match kind {
                    Kind::Validate => Prepared::validate(disclosure),
                    Kind::Submit => {
                        let key = workload.next_key.fetch_add(1, Ordering::Relaxed);
                        Prepared::submit(&format!("bench-{}-{key}", workload.run), disclosure)
                    }
                };
                let outcome = call(conn, kind, request).await;
                match outcome {
                    Ok(()) => latencies.push(call_started.elapsed()),
                    Err(status) => {
                        *failures.entry(format!("{:?}", status.code())).or_default() += 1;
                    }
                }
            }
            (latencies, failures)
        });
    }
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    let mut result = PhaseResult {
        latencies: Vec::new(),
        failures: BTreeMap::new(),
        elapsed: Duration::ZERO,
    };
    while let Some(joined) = workers.join_next().await {
        if let Ok((latencies, failures)) = joined {
            result.latencies.extend(latencies);
            for (code, n) in failures {
                *result.failures.entry(code).or_default() += n;
            }
        }
    }
    // The calls in flight when the time was up finished after it; they count, and so does their time.
    result.elapsed = started.elapsed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn disclosure() -> pb::Disclosure {
        Prefecture::load_sample()
    }

    #[test]
    fn a_prepared_request_is_the_request_encoded_whole() {
        let encoded: Bytes = disclosure().encode_to_vec().into();
        let submit = pb::SubmitRequest {
            idempotency_key: "bench-0a1b2c-17".into(),
            disclosure: Some(disclosure()),
            ..Default::default()
        };
        assert_eq!(
            Prepared::submit("bench-0a1b2c-17", encoded.clone()).bytes(),
            submit.encode_to_vec()
        );
        let validate = pb::ValidateRequest {
            disclosure: Some(disclosure()),
        };
        assert_eq!(
            Prepared::validate(encoded).bytes(),
            validate.encode_to_vec()
        );
    }
}

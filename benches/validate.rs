//! Validating the reference disclosure (nine tables, 33 project evaluations, full narrative) end to end in the
//! domain layer: wire message → draft → resolved against the 2024 taxonomy → every rule and narrative check.
//! Target: median ≤ 100 µs on a 2-core machine (issues 3 and 9; the README says why this machine does not reach it).
//! Throughput is reported in disclosures per second.
//! Beside it: the same from the encoded bytes (`from_bytes`), a typical unit's disclosure of the load benchmark
//! (`synthetic_unit`), the finding keys alone (`finding_keys`, a fixed part of the end-to-end figure), and the rules
//! alone.

use std::{hint::black_box, path::Path};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use juesuan::{
    api::convert,
    domain::{
        rules::Context, submission::validate_offline, taxonomy::Taxonomies, validation::validate,
    },
    pb,
};
use prost::Message;

/// The allocator the `juesuan` binary runs with, so that the figures are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn reference() -> pb::Disclosure {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference-2024.json");
    let text = std::fs::read_to_string(path).expect("fixture");
    juesuan::cli::json::from_json("Disclosure", &text).expect("fixture parses")
}

fn bench_validate(c: &mut Criterion) {
    let taxonomies = Taxonomies::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy"))
        .expect("taxonomy");
    let disclosure = reference();
    // Everything a Validate call computes from the decoded message: convert (moving its strings), resolve, check.
    let validate_message = |disclosure: pb::Disclosure| {
        let draft = convert::disclosure_draft(black_box(disclosure)).expect("converts");
        let (_, _, report) = validate_offline(&taxonomies, draft).expect("resolves");
        black_box(report.findings.len())
    };
    let mut group = c.benchmark_group("validate_reference");
    group.throughput(Throughput::Elements(1));
    // From the decoded message, which the conversion takes by value as the service's handlers give it: the copy
    // each iteration starts from is made outside the timing.
    group.bench_function("end_to_end", |b| {
        b.iter_batched(
            || disclosure.clone(),
            validate_message,
            BatchSize::SmallInput,
        )
    });
    // From the bytes a client sends: decoding the message as well, all that a Validate call computes before
    // its answer is encoded.
    let bytes = disclosure.encode_to_vec();
    group.bench_function("from_bytes", |b| {
        b.iter(|| {
            validate_message(pb::Disclosure::decode(black_box(bytes.as_slice())).expect("decodes"))
        })
    });
    // A unit's disclosure as `juesuan bench submit` sends it: about 140 rows, no self-evaluation texts.
    let sample = juesuan::synthetic::Prefecture::load_sample();
    group.bench_function("synthetic_unit", |b| {
        b.iter_batched(|| sample.clone(), validate_message, BatchSize::SmallInput)
    });
    // The rules alone, on an already resolved disclosure: what the engine itself costs.
    let draft = convert::disclosure_draft(disclosure).expect("converts");
    let (taxonomy, resolved, report) = validate_offline(&taxonomies, draft).expect("resolves");
    // The finding keys alone (SM3 of each finding's rule, cells, project and indicator, as stored explanations
    // name them): a part of the end-to-end figure that no engine can remove, since the keys may not change.
    group.bench_function("finding_keys", |b| {
        b.iter_batched(
            || report.clone(),
            // The report is handed back, so that dropping it falls outside the timing.
            |mut report| {
                report.finish();
                report
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("rules_only", |b| {
        b.iter(|| {
            black_box(
                validate(&taxonomy, black_box(&resolved), Context::default())
                    .findings
                    .len(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);

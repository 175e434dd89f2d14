//! Runs the reference validation in a loop, for a profiler (`perf record`, `valgrind --tool=callgrind`).
//!
//!     cargo run --release --example profile_validate -- [ROUNDS] [rules|synthetic]
//!
//! With "rules", only the rules run (on an already resolved disclosure). With "synthetic", the disclosure is a
//! unit's of the prefecture `juesuan bench submit` loads (20 项 rows) instead of the reference.

use std::path::Path;

use juesuan::{
    api::convert,
    domain::{
        rules::Context, submission::validate_offline, taxonomy::Taxonomies, validation::validate,
    },
    synthetic::Prefecture,
};

/// The allocator the `juesuan` binary runs with, so that a profile's allocation costs are the service's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let taxonomies = Taxonomies::load(&root.join("taxonomy")).expect("taxonomy");
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let mode = args.next();
    let rules_only = mode.as_deref() == Some("rules");
    let disclosure: juesuan::pb::Disclosure = if mode.as_deref() == Some("synthetic") {
        Prefecture::load_sample()
    } else {
        let text = std::fs::read_to_string(root.join("tests/fixtures/reference-2024.json"))
            .expect("fixture");
        juesuan::cli::json::from_json("Disclosure", &text).expect("parses")
    };
    let (taxonomy, resolved, _) = validate_offline(
        &taxonomies,
        convert::disclosure_draft(disclosure.clone()).expect("converts"),
    )
    .expect("resolves");
    let mut findings = 0;
    for _ in 0..rounds {
        if rules_only {
            findings += validate(&taxonomy, &resolved, Context::default())
                .findings
                .len();
        } else {
            // The copy is made outside the collected functions, as the service's decoder makes the message.
            let draft = convert::disclosure_draft(disclosure.clone()).expect("converts");
            let (_, _, report) = validate_offline(&taxonomies, draft).expect("resolves");
            findings += report.findings.len();
        }
    }
    println!("{findings} findings in {rounds} rounds");
}

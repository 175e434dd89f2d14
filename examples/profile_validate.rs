//! Runs the reference validation in a loop, for a profiler (`perf record`, `valgrind --tool=callgrind`).
//!
//!     cargo run --release --example profile_validate -- [ROUNDS] [rules]
//!
//! With "rules", only the rules run (on an already resolved disclosure).

use std::path::Path;

use juesuan::{
    api::convert,
    domain::{
        rules::Context, submission::validate_offline, taxonomy::Taxonomies, validation::validate,
    },
};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let taxonomies = Taxonomies::load(&root.join("taxonomy")).expect("taxonomy");
    let text =
        std::fs::read_to_string(root.join("tests/fixtures/reference-2024.json")).expect("fixture");
    let disclosure: juesuan::pb::Disclosure =
        juesuan::cli::json::from_json("Disclosure", &text).expect("parses");
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let rules_only = args.next().as_deref() == Some("rules");
    let (taxonomy, resolved, _) = validate_offline(
        &taxonomies,
        convert::disclosure_draft(&disclosure).expect("converts"),
    )
    .expect("resolves");
    let mut findings = 0;
    for _ in 0..rounds {
        if rules_only {
            findings += validate(&taxonomy, &resolved, Context::default())
                .findings
                .len();
        } else {
            let draft = convert::disclosure_draft(&disclosure).expect("converts");
            let (_, _, report) = validate_offline(&taxonomies, draft).expect("resolves");
            findings += report.findings.len();
        }
    }
    println!("{findings} findings in {rounds} rounds");
}

//! The server's memory under eight concurrent worst-case requests: the real binary in its own process, its peak
//! resident memory (VmHWM) read from /proc after the requests, against a stated bound. Memory, unlike time, does
//! not depend on how busy a shared machine is.

use juesuan::{cli::client::Conn, pb};
use tempfile::TempDir;

use crate::helpers::{BinaryServer, department, reference, reference_unit};

/// The bound stated in docs/performance.md: peak resident memory of the server after eight concurrent worst-case
/// requests of each kind below.
const BOUND_MIB: u64 = 512;

/// The real binary on a data directory of its own, and its administrator token.
struct Server {
    process: BinaryServer,
    admin: String,
    _data: TempDir,
}

async fn start() -> Server {
    let data = TempDir::new().unwrap();
    let process = BinaryServer::start(data.path()).await;
    let admin = std::fs::read_to_string(data.path().join("admin.token"))
        .unwrap()
        .trim()
        .to_owned();
    Server {
        process,
        admin,
        _data: data,
    }
}

fn peak_resident_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib / 1024
}

async fn conn(server: &Server, token: &str) -> Conn {
    server.process.as_token(token).await
}

/// The requests a hostile client would choose to make a server grow, each as large as the limits allow.
fn worst_cases() -> Vec<(&'static str, pb::Disclosure)> {
    let base = reference();
    let cell = |column: &str, value: &str| pb::Cell {
        column: column.into(),
        value: Some(pb::Decimal {
            value: value.into(),
        }),
    };
    // Every cell a violation, about as many cells as the guard lets through: 500 rows of 40 malformed cells.
    let violations = pb::Disclosure {
        tables: vec![pb::Table {
            code: "T02".into(),
            rows: (0..500)
                .map(|r| pb::Row {
                    code: format!("{r}"),
                    cells: vec![cell("total", "x"); 40],
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..base.clone()
    };
    // As many indicators as the limits allow, every one of them wrong.
    let template = base.project_evaluations[0].clone();
    let indicator = template.indicators[0].clone();
    let evaluations = pb::Disclosure {
        project_evaluations: (0..50)
            .map(|p| pb::ProjectEvaluation {
                name: format!("项目{p}"),
                indicators: vec![
                    pb::Indicator {
                        score: Some(pb::Decimal {
                            value: "99.99".into()
                        }),
                        ..indicator.clone()
                    };
                    100
                ],
                ..template.clone()
            })
            .collect(),
        ..base.clone()
    };
    // Long narrative texts full of figures the checks read.
    let phrase = "本年收入8190.84万元，其中：财政拨款收入7070.64万元，占86.32%；";
    let narrative = pb::Disclosure {
        narrative: base
            .narrative
            .iter()
            .map(|s| pb::NarrativeSection {
                text: phrase.repeat(2_000),
                ..s.clone()
            })
            .collect(),
        ..base.clone()
    };
    vec![
        ("every cell a violation", violations),
        ("every indicator wrong", evaluations),
        ("long narrative", narrative),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_worst_case_requests_stay_within_the_bound() {
    let server = start().await;
    let admin = conn(&server, &server.admin).await;
    let mut units = pb::unit_registry_client::UnitRegistryClient::new(admin.clone());
    for unit in [department(), reference_unit()] {
        units
            .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
            .await
            .unwrap();
    }
    let token = pb::tokens_client::TokensClient::new(admin)
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                    unit_code: "652300101".into(),
                    role: pb::Role::Submitter as i32,
                })),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .secret;
    let client = pb::submissions_client::SubmissionsClient::new(conn(&server, &token).await)
        .max_encoding_message_size(64 << 20)
        .max_decoding_message_size(64 << 20);
    let before = peak_resident_mib(server.process.pid());
    let mut seen = Vec::new();
    for (kind, disclosure) in worst_cases() {
        let mut calls = tokio::task::JoinSet::new();
        // Four dry runs and four submissions (which also store the report and the figures).
        for i in 0..8 {
            let mut client = client.clone();
            let disclosure = disclosure.clone();
            let kind = kind.replace(' ', "-");
            calls.spawn(async move {
                let result = if i % 2 == 0 {
                    client
                        .validate(pb::ValidateRequest {
                            disclosure: Some(disclosure),
                        })
                        .await
                        .map(|_| ())
                } else {
                    client
                        .submit(crate::helpers::submit_request(
                            &format!("worst-{kind}-{i}"),
                            disclosure,
                        ))
                        .await
                        .map(|_| ())
                };
                result.map_err(|s| format!("{:?}: {}", s.code(), s.message()))
            });
        }
        let mut codes = Vec::new();
        while let Some(result) = calls.join_next().await {
            codes.push(result.unwrap());
        }

        // Every call answered, whether with a report or a refusal.
        assert_eq!(codes.len(), 8, "{kind}");
        codes.dedup();
        let peak = peak_resident_mib(server.process.pid());
        seen.push(format!("{kind}: {codes:?}, peak {peak} MiB"));
        assert!(
            peak < BOUND_MIB,
            "{kind}: peak resident {peak} MiB ≥ {BOUND_MIB} MiB (before: {before} MiB)\n{}",
            seen.join("\n")
        );
    }
    eprintln!("before {before} MiB; {}", seen.join("; "));
    // Still serving.
    let ok = client
        .clone()
        .validate(pb::ValidateRequest {
            disclosure: Some(reference()),
        })
        .await;
    assert!(ok.is_ok());
}

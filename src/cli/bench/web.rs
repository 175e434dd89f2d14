//! `juesuan bench web`: the console's server time per page on the P10k region. The workload is generated into a
//! SQLite store as `bench consolidation` does; one unit then submits a version with an error through the real
//! use case, so that its page has findings to show. Each page is asked of the console's router in process (no
//! socket: server time only), with an administrator's session, and its body read whole; the first request of each
//! page is not counted.

use std::{process::ExitCode, sync::Arc, time::Instant};

use axum::{body::Body, http::Request};
use clap::Args;
use tower::ServiceExt;

use super::{Timings, WorkDir, generate, millis};
use crate::{
    api::convert,
    cli::{SizeArgs, TaxonomyArgs, output::thousands, sayln},
    domain::{
        access::{Principal, PrincipalKind, Role as AccessRole},
        ids::{FiscalYear, IdempotencyKey, UnitCode},
    },
    service::{
        consolidation::Consolidations,
        registry::Registry,
        review::Reviews,
        submission::{Limits, Submissions, SubmitCall},
    },
    store::{SqliteStore, Store},
    synthetic::{Role, Spec},
    web::{Console, Services, router},
};

/// The target of issue 28: every page within this server time at P10k.
const TARGET_MS: f64 = 100.0;

#[derive(Args)]
pub struct WebArgs {
    #[command(flatten)]
    size: SizeArgs,
    /// Requests of each page to time.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Directory for the scratch store (default: a new directory under the system's temporary directory, removed
    /// afterwards).
    #[arg(long)]
    work_dir: Option<std::path::PathBuf>,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
}

pub async fn run(args: WebArgs) -> Result<ExitCode, String> {
    if args.runs == 0 {
        return Err("--runs must be at least 1".into());
    }
    let spec = args.size.spec(Spec::p10k())?;
    let year = FiscalYear::new(spec.fiscal_year).map_err(|e| e.to_string())?;
    let taxonomies = args.taxonomy.load()?;
    let work = WorkDir::new(args.work_dir.clone())?;
    let dir = work.path.join("store");
    if dir.join(crate::store::DATABASE_FILE).exists() {
        return Err(format!(
            "{} already holds a store; name an empty --work-dir",
            dir.display()
        ));
    }
    let sqlite = SqliteStore::open(&dir)
        .await
        .map_err(|e| crate::cli::error_chain(&e))?;
    let workload = generate(spec, &taxonomies, Some(&sqlite)).await?;
    let nodes = &workload.prefecture.nodes;
    let first = |role: Role| nodes.iter().position(|n| n.role == role);
    let (Some(department), Some(unit)) = (first(Role::Department), first(Role::Unit)) else {
        return Err("the workload has no department or no unit; give a larger size".into());
    };
    // The department with the most units: the longest drill-down below a department.
    let widest = (0..nodes.len())
        .filter(|&i| nodes[i].role == Role::Department)
        .max_by_key(|&i| nodes.iter().filter(|n| n.parent == Some(i)).count())
        .unwrap_or(department);

    let store: Arc<dyn Store> = Arc::new(sqlite);
    let taxonomies = Arc::new(taxonomies);
    let consolidations = Arc::new(Consolidations::new(store.clone(), taxonomies.clone()));
    let started = Instant::now();
    consolidations
        .year(year)
        .await
        .map_err(|e| crate::cli::error_chain(&e))?;
    sayln!(
        "workload: {} nodes, {} disclosures stored; consolidation state built in {}",
        thousands(nodes.len()),
        thousands(workload.disclosures),
        millis(started.elapsed())
    );
    let registry = Registry::new(store.clone(), consolidations.clone());
    let submissions = Submissions::new(
        store.clone(),
        taxonomies.clone(),
        Limits::default(),
        registry.clone(),
    );
    let reviews = Reviews::new(store.clone(), registry.clone(), consolidations.clone());

    // One unit submits a version whose 本年收入合计 is 1 off its parts: its page has findings to render.
    let unit_code = UnitCode::parse(&nodes[unit].code).map_err(|e| e.to_string())?;
    let (_, mut disclosure) = workload
        .prefecture
        .disclosures()
        .find(|(index, _)| *index == unit)
        .ok_or("the unit's disclosure was not generated")?;
    let total = disclosure
        .tables
        .iter_mut()
        .find(|t| t.code == "T01")
        .and_then(|t| t.rows.iter_mut().find(|r| r.code == "income_total"))
        .and_then(|r| r.cells.first_mut())
        .and_then(|c| c.value.as_mut())
        .ok_or("the unit's disclosure has no 本年收入合计")?;
    let value: rust_decimal::Decimal = total
        .value
        .parse()
        .map_err(|_| "a figure that does not parse")?;
    total.value = (value + rust_decimal::Decimal::ONE).to_string();
    let content = prost::Message::encode_to_vec(&disclosure);
    let draft = convert::disclosure_draft(disclosure).map_err(|v| format!("{v:?}"))?;
    let submitter = Principal {
        kind: PrincipalKind::Unit {
            code: unit_code.clone(),
            role: AccessRole::Submitter,
        },
        credential: Principal::system().credential,
    };
    let (stored, _) = submissions
        .submit(
            &submitter,
            SubmitCall {
                key: IdempotencyKey::parse("bench-web-findings").map_err(|e| e.to_string())?,
                draft,
                content,
                explanations: Default::default(),
                expected_current: None,
                signature: None,
            },
        )
        .await
        .map_err(|e| crate::cli::error_chain(&e))?;

    let kept = consolidations.clone();
    let console = Console::new(
        store.clone(),
        Services {
            publications: crate::service::publication::Publications::new(
                store.clone(),
                submissions.clone(),
            ),
            submissions,
            reviews,
            consolidations,
            registry,
            taxonomies,
        },
        false,
    );
    let cookie = console.open_session(Principal::system());
    let app = router(console);
    let root = &nodes[0].code;
    let pages = [
        (
            "tree: the region's units, statuses and counts",
            format!("/region/{root}/{year}"),
        ),
        (
            "consolidated table: the region's 公开05 with its findings and charts",
            format!("/region/{root}/{year}/consolidated/T05"),
        ),
        (
            "drill-down: the region's 本年收入合计",
            format!("/region/{root}/{year}/cell/T01/income_total/amount"),
        ),
        (
            "drill-down: the widest department's 本年收入合计",
            format!(
                "/region/{}/{year}/cell/T01/income_total/amount",
                nodes[widest].code
            ),
        ),
        (
            "findings: a unit's page with its version's findings",
            format!("/units/{unit_code}/{year}"),
        ),
        (
            "table: the unit's 公开05 with a cell lit",
            format!(
                "/units/{unit_code}/{year}/tables/T05?version={}&row=201&col=total",
                stored.version
            ),
        ),
    ];
    sayln!(
        "{} runs per page after one unmeasured; server time (router in process, body read whole); target ≤ {TARGET_MS} ms",
        args.runs
    );
    let mut over = 0;
    for (name, path) in &pages {
        let mut timings = Vec::with_capacity(args.runs);
        let mut bytes = 0;
        for run in 0..=args.runs {
            let request = Request::get(path.as_str())
                .header("cookie", &cookie)
                .body(Body::empty())
                .map_err(|e| e.to_string())?;
            let started = Instant::now();
            let response = app
                .clone()
                .oneshot(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .map_err(|e| e.to_string())?;
            let elapsed = started.elapsed();
            if status != axum::http::StatusCode::OK {
                return Err(format!(
                    "{path} answered {status}: {}",
                    String::from_utf8_lossy(&body)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ));
            }
            bytes = body.len();
            if run > 0 {
                timings.push(elapsed);
            }
        }
        let timings = Timings::new(timings);
        let median_ms = timings.median().as_secs_f64() * 1e3;
        if median_ms > TARGET_MS {
            over += 1;
        }
        sayln!(
            "{name} ({path}, {} KB): {}{}",
            bytes / 1024,
            timings.summary(),
            if median_ms > TARGET_MS {
                "  — OVER the target"
            } else {
                ""
            }
        );
    }
    // What the two largest pages spend in their use case, beside rendering: where time would be saved.
    let admin = Principal::system();
    let root_code = UnitCode::parse(root).map_err(|e| e.to_string())?;
    let mut completeness = Vec::new();
    let mut consolidated = Vec::new();
    for _ in 0..args.runs {
        let started = Instant::now();
        kept.completeness(&admin, &root_code, year)
            .await
            .map_err(|e| crate::cli::error_chain(&e))?;
        completeness.push(started.elapsed());
        let started = Instant::now();
        kept.consolidated(
            &admin,
            &root_code,
            year,
            &["T05".to_owned(), "T01".to_owned(), "T09".to_owned()],
            crate::domain::disclosure::AmountUnit::TenThousandYuan,
        )
        .await
        .map_err(|e| crate::cli::error_chain(&e))?;
        consolidated.push(started.elapsed());
    }
    sayln!(
        "of which the use cases: the region's completeness {}; its consolidated 公开05, 01 and 09 {}",
        Timings::new(completeness).summary(),
        Timings::new(consolidated).summary()
    );
    sayln!(
        "{} of {} pages within {TARGET_MS} ms at the median",
        pages.len() - over,
        pages.len()
    );
    Ok(ExitCode::SUCCESS)
}

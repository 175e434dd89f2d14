//! `juesuan demo`: serves a data directory filled with a synthetic prefecture, so that a newcomer sees
//! consolidation in a minute. The service starts first, then the demo registers the tree and submits the
//! disclosures over gRPC like any client would — what is shown is what a real deployment does.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::Args;

use super::{SizeArgs, TaxonomyArgs, error_chain, sayln, status_message};
use crate::{
    configuration::{self, Settings},
    domain::{ids::FiscalYear, submission::Limits},
    pb, startup,
    synthetic::{self, MISMATCH, Prefecture, Role, Spec},
    telemetry,
};

/// Where the demo's data goes unless told otherwise.
pub const DEFAULT_DEMO_DIR: &str = "juesuan-demo";

#[derive(Args)]
pub struct DemoArgs {
    /// Directory of the demo's store; must not hold units for the year yet.
    #[arg(long, default_value = DEFAULT_DEMO_DIR)]
    data_dir: PathBuf,
    /// Address to serve on.
    #[arg(long, default_value = configuration::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Fill the directory and stop, instead of serving it (`juesuan serve --data-dir DIR` serves it later).
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    size: SizeArgs,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
}

pub async fn run(args: DemoArgs) -> Result<ExitCode, String> {
    telemetry::init(telemetry::LogFormat::Text, "warn");
    let spec = args.size.spec(Spec::demo())?;
    let year = FiscalYear::new(spec.fiscal_year).map_err(|e| e.to_string())?;
    let settings = Settings {
        listen: args.listen,
        data_dir: args.data_dir.clone(),
        taxonomy_dir: args
            .taxonomy
            .taxonomy_dir
            .clone()
            .unwrap_or_else(configuration::default_taxonomy_dir),
        limits: Limits::default(),
    };
    let signal =
        startup::shutdown_signal().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let app = startup::App::open(&settings)
        .await
        .map_err(|e| error_chain(&e))?;
    let registered = app
        .store
        .units_for_year(year)
        .await
        .map_err(|e| error_chain(&e))?;
    if !registered.is_empty() {
        app.store.close().await;
        return Err(format!(
            "{dir} already holds {n} unit(s) for {year}; serve it with `juesuan serve --data-dir {dir}`, or give \
             the demo an empty --data-dir",
            dir = args.data_dir.display(),
            n = registered.len()
        ));
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| {
            format!(
                "cannot listen on {}: {e} (try --listen 127.0.0.1:0)",
                args.listen
            )
        })?;
    let address = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        tokio::select! {
            _ = signal => {}
            _ = stopped => {}
        }
    };
    let server = tokio::spawn(startup::run(listener, app, shutdown));

    let filled = fill(&spec, &format!("http://{address}")).await;
    let summary = match filled {
        Ok(summary) => summary,
        Err(message) => {
            let _ = stop.send(());
            let _ = server.await;
            return Err(message);
        }
    };
    print_summary(&spec, &args, address, &summary);
    if args.no_serve {
        let _ = stop.send(());
    } else {
        sayln!(
            "\nServing on {address} until Ctrl-C; the data stays in {dir} (`juesuan serve --data-dir {dir}` \
             serves it again).",
            dir = args.data_dir.display()
        );
    }
    match server.await {
        Ok(result) => result.map_err(|e| error_chain(&e))?,
        Err(e) => return Err(format!("the server task failed: {e}")),
    }
    Ok(ExitCode::SUCCESS)
}

/// What the demo did.
struct Summary {
    prefecture: Prefecture,
    submitted: usize,
    rejected_findings: Vec<String>,
}

/// Registers the prefecture's tree and submits its disclosures, except those the scenario leaves out.
async fn fill(spec: &Spec, server: &str) -> Result<Summary, String> {
    let channel = tonic::transport::Channel::from_shared(server.to_owned())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot reach the demo's own server at {server}: {e}"))?;
    let mut registry = pb::unit_registry_client::UnitRegistryClient::new(channel.clone());
    let mut submissions = pb::submissions_client::SubmissionsClient::new(channel);
    let prefecture = Prefecture::new(*spec).with_mistakes();
    let nodes = &prefecture.nodes;
    for index in 0..nodes.len() {
        registry
            .register_unit(pb::RegisterUnitRequest {
                unit: Some(synthetic::unit(spec, nodes, index)),
            })
            .await
            .map_err(|s| format!("registering {}: {}", nodes[index].code, status_message(s)))?;
    }
    eprintln!("registered {} units", nodes.len());

    let mut submitted: usize = 0;
    let mut rejected_findings = Vec::new();
    let total = prefecture.expected() - prefecture.scenario.never_submitted.len();
    for (index, disclosure) in prefecture.disclosures() {
        let code = &nodes[index].code;
        let response = submissions
            .submit(pb::SubmitRequest {
                idempotency_key: format!("demo-{}-{code}", spec.fiscal_year),
                disclosure: Some(disclosure),
                explanations: Default::default(),
            })
            .await
            .map_err(|s| format!("submitting {code}: {}", status_message(s)))?
            .into_inner();
        let report = response
            .submission
            .and_then(|s| s.report)
            .unwrap_or_default();
        rejected_findings.extend(
            report
                .findings
                .iter()
                .filter(|f| f.severity == pb::Severity::Error as i32)
                .map(|f| format!("{code} {}: {}", f.rule_id, f.message)),
        );
        submitted += 1;
        if submitted.is_multiple_of(20) || submitted == total {
            eprint!("\rsubmitted {submitted}/{total} disclosures");
        }
    }
    eprintln!();
    Ok(Summary {
        prefecture,
        submitted,
        rejected_findings,
    })
}

fn print_summary(spec: &Spec, args: &DemoArgs, address: SocketAddr, summary: &Summary) {
    let nodes = &summary.prefecture.nodes;
    let scenario = &summary.prefecture.scenario;
    let count = |role| nodes.iter().filter(|n| n.role == role).count();
    let region = &nodes[0];
    sayln!(
        "\njuesuan demo: {} ({}) in {}, fiscal year {}",
        region.name,
        region.code,
        args.data_dir.display(),
        spec.fiscal_year
    );
    sayln!(
        "  registered {} nodes: 1 region → {} counties → {} departments (主管部门) → {} units",
        nodes.len(),
        count(Role::County),
        count(Role::Department),
        count(Role::Unit)
    );
    sayln!(
        "  submitted {} single-unit disclosures (单户表); units receive 上级补助收入 from their department and pay \
         上缴上级支出 to it, which consolidation eliminates at the department",
        summary.submitted
    );
    let name = |i: usize| format!("{} {}", nodes[i].code, nodes[i].name);
    for &i in &scenario.never_submitted {
        sayln!("  left out on purpose: {} never submitted", name(i));
    }
    if let Some(i) = scenario.rejected {
        sayln!("  broken on purpose: {} — rejected by the rules:", name(i));
        for finding in &summary.rejected_findings {
            sayln!("    {finding}");
        }
    }
    if let Some(i) = scenario.mismatched_department {
        sayln!(
            "  wrong on purpose: {} reports {} 万元 more 对附属单位补助支出 than its units' 上级补助收入",
            name(i),
            synthetic::wan(MISMATCH)
        );
    }
    // `juesuan serve` listens on the default address; the demo's own server wherever it was told to.
    let server = if args.no_serve || args.listen.to_string() == configuration::DEFAULT_LISTEN {
        String::new()
    } else {
        format!(" --server http://{address}")
    };
    let department = nodes
        .iter()
        .find(|n| n.role == Role::Department)
        .map_or(region.code.as_str(), |n| n.code.as_str());
    let year = spec.fiscal_year;
    let region = &region.code;
    if args.no_serve {
        sayln!(
            "\nServe it with `juesuan serve --data-dir {}`, then try:",
            args.data_dir.display()
        );
    } else {
        sayln!("\nTry, in another terminal:");
    }
    sayln!("  juesuan consolidated --node {region} --year {year} --table T01{server}");
    sayln!(
        "      the region's 收入支出决算总表: its counties' consolidations, transfers inside the region eliminated"
    );
    sayln!(
        "  juesuan consolidated --node {region} --year {year} --explain T01:income_total:amount --depth 3{server}"
    );
    sayln!(
        "      one cell taken apart: counties → departments → units, and the eliminations at each level"
    );
    sayln!("  juesuan consolidated --node {region} --year {year} --completeness --missing{server}");
    sayln!("      who is missing: never submitted, or rejected by the rules");
    sayln!("  juesuan consolidated --node {department} --year {year} --table T03{server}");
    sayln!(
        "      a department's 汇总表, its 调整表 and the elimination finding its subsidies raise"
    );
}

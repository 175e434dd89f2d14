//! `juesuan demo`: serves a data directory filled with a synthetic prefecture, so that a newcomer sees
//! consolidation in a minute. The service starts first, then the demo registers the tree and submits the
//! disclosures over gRPC like any client would — what is shown is what a real deployment does.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::Args;

use super::{
    SizeArgs, TaxonomyArgs,
    client::{Conn, WithToken},
    error_chain, sayln, status_message,
};
use crate::service::submission::Limits;
use crate::service::tokens::write_secret_file;
use crate::{
    configuration::{self, Settings},
    domain::{ids::FiscalYear, tokens::ADMIN_TOKEN_FILE},
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
    /// Address of the web console.
    #[arg(long, default_value = configuration::DEFAULT_WEB_LISTEN)]
    web_listen: SocketAddr,
    /// Serve no web console.
    #[arg(long)]
    no_web: bool,
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
        database_url: None,
        taxonomy_dir: args.taxonomy.taxonomy_dir.clone(),
        health_listen: None,
        metrics_listen: None,
        // Bound below, after the demo's data is in place; given here so that the transport check sees it.
        web_listen: (!args.no_serve && !args.no_web).then_some(args.web_listen),
        limits: Limits::default(),
        tls: None,
        insecure: false,
        audit_key: None,
        checkpoint: Default::default(),
    };
    settings.check_transport()?;
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
    let web = if args.no_serve || args.no_web {
        None
    } else {
        Some(
            tokio::net::TcpListener::bind(args.web_listen)
                .await
                .map_err(|e| {
                    format!(
                        "cannot listen on {} for the web console: {e} (try --web-listen 127.0.0.1:0, or --no-web)",
                        args.web_listen
                    )
                })?,
        )
    };
    let web_address = web.as_ref().and_then(|l| l.local_addr().ok());
    let listeners = startup::Listeners {
        grpc: listener,
        health: None,
        metrics: None,
        web,
    };
    let server = tokio::spawn(startup::run_with(listeners, app, shutdown));

    let filled = fill(&spec, &format!("http://{address}"), &args.data_dir).await;
    let summary = match filled {
        Ok(summary) => summary,
        Err(message) => {
            let _ = stop.send(());
            let _ = server.await;
            return Err(message);
        }
    };
    print_summary(&spec, &args, address, web_address, &summary);
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
    accepted: usize,
    rejected_findings: Vec<String>,
    /// The token files written for the newcomer: (file name, who it is).
    token_files: Vec<(String, String)>,
}

/// The reason the demo's reviewer returns a disclosure with.
const RETURN_REASON: &str = "项目支出与上年相比变动较大，请补充说明原因后重新报送";

/// Registers the prefecture's tree, issues the tokens its principals need, submits the disclosures (each unit
/// with its own submitter token), and walks the review chain: reviewers accept what is pending, return one
/// unit's disclosure with a reason, and lock one department.
async fn fill(spec: &Spec, server: &str, data_dir: &Path) -> Result<Summary, String> {
    let channel = tonic::transport::Channel::from_shared(server.to_owned())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("cannot reach the demo's own server at {server}: {e}"))?;
    let admin_token = std::fs::read_to_string(data_dir.join(ADMIN_TOKEN_FILE))
        .map_err(|e| format!("cannot read the demo's administrator token: {e}"))?;
    let admin = with_token(&channel, admin_token.trim())?;
    let mut registry = pb::unit_registry_client::UnitRegistryClient::new(admin.clone());
    let mut tokens = pb::tokens_client::TokensClient::new(admin);
    let prefecture = Prefecture::new(*spec).with_mistakes();
    let nodes = &prefecture.nodes;
    register_prefecture(&mut registry, &prefecture).await?;
    eprintln!("registered {} units", nodes.len());

    // Every node that submits gets a submitter token; every node with children a reviewer token.
    let mut issue = async |index: usize, role: pb::Role| -> Result<String, String> {
        issue_unit_token(&mut tokens, &nodes[index].code, role, "juesuan demo").await
    };
    let mut submitters: HashMap<usize, String> = HashMap::new();
    let mut reviewers: HashMap<usize, String> = HashMap::new();
    for (index, node) in nodes.iter().enumerate() {
        if matches!(node.role, Role::Department | Role::Unit) {
            submitters.insert(index, issue(index, pb::Role::Submitter).await?);
        }
        if node.role != Role::Unit {
            reviewers.insert(index, issue(index, pb::Role::Reviewer).await?);
        }
    }
    eprintln!(
        "issued {} submitter and {} reviewer tokens",
        submitters.len(),
        reviewers.len()
    );

    let mut submitted: usize = 0;
    let mut rejected_findings = Vec::new();
    let mut pending: Vec<(usize, u32)> = Vec::new();
    let total = prefecture.expected() - prefecture.scenario.never_submitted.len();
    let mut progress = super::progress::Progress::new("submitting disclosures", total);
    for (index, disclosure) in prefecture.disclosures() {
        let code = &nodes[index].code;
        let mut submissions = pb::submissions_client::SubmissionsClient::new(with_token(
            &channel,
            &submitters[&index],
        )?);
        let response = submissions
            .submit(pb::SubmitRequest {
                idempotency_key: format!("demo-{}-{code}", spec.fiscal_year),
                disclosure: Some(disclosure),
                explanations: Default::default(),
                expected_current_version: Some(0),
                signature: Vec::new(),
            })
            .await
            .map_err(|s| format!("submitting {code}: {}", status_message(s)))?
            .into_inner();
        let submission = response.submission.unwrap_or_default();
        let report = submission.report.clone().unwrap_or_default();
        rejected_findings.extend(
            report
                .findings
                .iter()
                .filter(|f| f.severity == pb::Severity::Error as i32)
                .map(|f| format!("{code} {}: {}", f.rule_id, f.message)),
        );
        // A WARNING needs the unit's written answer before its reviewer may accept.
        let warnings: HashMap<String, String> = report
            .findings
            .iter()
            .filter(|f| f.severity == pb::Severity::Warning as i32)
            .map(|f| (f.key.clone(), "合成数据，已核实".to_owned()))
            .collect();
        if !warnings.is_empty() {
            submissions
                .explain_findings(pb::ExplainFindingsRequest {
                    unit_code: code.clone(),
                    fiscal_year: spec.fiscal_year,
                    version: submission.version,
                    explanations: warnings,
                })
                .await
                .map_err(|s| format!("explaining {code}'s warnings: {}", status_message(s)))?;
        }
        if submission.state == pb::SubmissionState::PendingReview as i32 {
            pending.push((index, submission.version));
        }
        submitted += 1;
        progress.inc();
    }
    progress.finish();

    // Each version is decided by a reviewer of its parent.
    let mut accepted = 0;
    for &(index, version) in &pending {
        let parent = nodes[index]
            .parent
            .ok_or("a submitting node has a parent")?;
        let mut review =
            pb::review_client::ReviewClient::new(with_token(&channel, &reviewers[&parent])?);
        let code = nodes[index].code.clone();
        if prefecture.scenario.returned == Some(index) {
            review
                .r#return(pb::ReturnRequest {
                    unit_code: code.clone(),
                    fiscal_year: spec.fiscal_year,
                    version,
                    reason: RETURN_REASON.into(),
                })
                .await
                .map_err(|s| format!("returning {code}: {}", status_message(s)))?;
        } else {
            review
                .accept(pb::AcceptRequest {
                    unit_code: code.clone(),
                    fiscal_year: spec.fiscal_year,
                    version,
                    comment: String::new(),
                })
                .await
                .map_err(|s| format!("accepting {code}: {}", status_message(s)))?;
            accepted += 1;
        }
    }
    eprintln!("reviewed {} versions: {accepted} accepted", pending.len());
    if let Some(department) = prefecture.scenario.locked_department {
        let mut review =
            pb::review_client::ReviewClient::new(with_token(&channel, &reviewers[&department])?);
        review
            .lock(pb::LockRequest {
                node_code: nodes[department].code.clone(),
                fiscal_year: spec.fiscal_year,
                comment: "本部门决算审核完毕，封账".into(),
            })
            .await
            .map_err(|s| format!("locking {}: {}", nodes[department].code, status_message(s)))?;
    }

    // Token files for the newcomer, beside the administrator's.
    let mut token_files = Vec::new();
    let mut keep = |file: &str, who: String, token: &str| -> Result<(), String> {
        write_secret_file(&data_dir.join(file), token)
            .map_err(|e| format!("cannot write {file}: {e}"))?;
        token_files.push((file.to_owned(), who));
        Ok(())
    };
    keep(
        REGION_TOKEN,
        format!("{} {} reviewer", nodes[0].code, nodes[0].name),
        &reviewers[&0],
    )?;
    if let Some(unit) = prefecture.scenario.returned {
        let parent = nodes[unit].parent.ok_or("a unit has a parent")?;
        keep(
            "unit-submitter.token",
            format!(
                "{} {} submitter (its disclosure was returned)",
                nodes[unit].code, nodes[unit].name
            ),
            &submitters[&unit],
        )?;
        keep(
            "department-reviewer.token",
            format!("{} {} reviewer", nodes[parent].code, nodes[parent].name),
            &reviewers[&parent],
        )?;
    }
    Ok(Summary {
        prefecture,
        submitted,
        accepted,
        rejected_findings,
        token_files,
    })
}

/// The region reviewer's token file, which the printed commands use.
const REGION_TOKEN: &str = "region-reviewer.token";

/// Registers every node of a synthetic prefecture, parents first (registering a record again changes nothing).
pub(super) async fn register_prefecture(
    registry: &mut pb::unit_registry_client::UnitRegistryClient<Conn>,
    prefecture: &Prefecture,
) -> Result<(), String> {
    let nodes = &prefecture.nodes;
    for index in 0..nodes.len() {
        registry
            .register_unit(pb::RegisterUnitRequest {
                unit: Some(synthetic::unit(&prefecture.spec, nodes, index)),
            })
            .await
            .map_err(|s| format!("registering {}: {}", nodes[index].code, status_message(s)))?;
    }
    Ok(())
}

/// Issues a unit's token in a role and returns its secret.
pub(super) async fn issue_unit_token(
    tokens: &mut pb::tokens_client::TokensClient<Conn>,
    unit: &str,
    role: pb::Role,
    label: &str,
) -> Result<String, String> {
    let response = tokens
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                    unit_code: unit.to_owned(),
                    role: role as i32,
                })),
            }),
            expires_at: None,
            label: label.to_owned(),
        })
        .await
        .map_err(|s| format!("issuing a token for {unit}: {}", status_message(s)))?;
    Ok(response.into_inner().secret)
}

fn with_token(channel: &tonic::transport::Channel, token: &str) -> Result<Conn, String> {
    Conn::with_token(channel.clone(), token)
}

fn print_summary(
    spec: &Spec,
    args: &DemoArgs,
    address: SocketAddr,
    web_address: Option<SocketAddr>,
    summary: &Summary,
) {
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
    sayln!(
        "  reviewed: each department's reviewer accepted its units, each county's reviewer its departments — {} \
         accepted (only accepted versions count in consolidation)",
        summary.accepted
    );
    if let Some(i) = scenario.returned {
        sayln!("  returned: {} — 「{RETURN_REASON}」", name(i));
    }
    if let Some(i) = scenario.locked_department {
        sayln!(
            "  locked (封账): {} and its units; none of them can submit until it is unlocked",
            name(i)
        );
    }
    let dir = args.data_dir.display();
    sayln!("  tokens for you, in {dir} (readable by you only):");
    sayln!("    {ADMIN_TOKEN_FILE}  the administrator (registers units, issues tokens)");
    for (file, who) in &summary.token_files {
        sayln!("    {file}  {who}");
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
    if let Some(web) = web_address {
        sayln!("  open http://{web}/ and sign in with the token in {dir}/{REGION_TOKEN}");
        sayln!(
            "      the web console, as the region's reviewer (or with unit-submitter.token, as a unit)"
        );
    }
    sayln!("  export JUESUAN_TOKEN_FILE={dir}/{REGION_TOKEN}");
    sayln!("      call as the region's reviewer (the commands below read the subtree it may read)");
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
    sayln!("      who does not count: never submitted, rejected by the rules, returned");
    sayln!("  juesuan consolidated --node {department} --year {year} --table T03{server}");
    sayln!(
        "      a department's 汇总表, its 调整表 and the elimination finding its subsidies raise"
    );
    if let Some(unit) = scenario.returned {
        let code = &nodes[unit].code;
        sayln!(
            "  juesuan submissions list --unit {code} --year {year} --token-file {dir}/unit-submitter.token{server}"
        );
        sayln!(
            "      the returned unit sees its version and the reviewer's reason; it fixes and submits again"
        );
    }
    sayln!("  juesuan audit list --node {region} --year {year}{server}");
    sayln!(
        "      every submission, decision and lock in the region, each event chained to the last with SM3"
    );
    sayln!("  JUESUAN_TOKEN_FILE={dir}/{ADMIN_TOKEN_FILE} juesuan audit verify{server}");
    sayln!("      the administrator recomputes the chain and names the first broken link, if any");
}

//! `juesuan bench`: measurements on this machine, reported as medians, ratios and throughput (never asserted:
//! shared machines are noisy). `juesuan bench consolidation` builds the P10k workload (docs/design.md §7) with the
//! synthetic generator and measures the full rollup, the incremental update after one unit resubmits, the same
//! rollup as SQL in SQLite (closure table + GROUP BY), the state's memory, and the rebuild from the store that a
//! restart does. Every figure is checked against another way of computing it before it is reported.

mod cpu;
mod submit;
mod web;

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use clap::{Args, Subcommand};
use sqlx::{
    Row,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::cli::{SizeArgs, TaxonomyArgs, output::thousands, progress::Progress, sayln};
use crate::service::consolidation::{Consolidations, counted_figures};
use crate::{
    api::convert,
    domain::{
        access::Principal,
        audit::{Action, NewEvent},
        consolidation::{
            layout::CellLayout,
            state::{NodeId, Removals, YearState},
        },
        disclosure::ReportType,
        facts::{Facts, FactsJson},
        ids::{FiscalYear, IdempotencyKey, UnitCode},
        review::{Decision, transition},
        submission::{NewSubmission, SubmissionState, content_digest},
        taxonomy::{Taxonomies, Taxonomy},
        validation::Report,
    },
    store::{SqliteStore, Store, SubmissionInsert},
    synthetic::{self, Prefecture, Rng, Role, Spec},
};

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Full and incremental rollup of a synthetic prefecture (P10k by default: 9,720 units, about 1,000 cells
    /// each, 4 levels), the same rollup as SQL in SQLite, the state's memory, and the rebuild after a restart.
    Consolidation(ConsolidationArgs),
    /// Load a running service with Validate and Submit calls from many units: calls per second and p50/p99/max
    /// latency at one stream and at --concurrency streams.
    Submit(submit::SubmitArgs),
    /// The web console's server time per page on the P10k region: the tree, a consolidated table, drill-downs, a
    /// unit's findings and a table.
    Web(web::WebArgs),
}

#[derive(Args)]
pub struct ConsolidationArgs {
    #[command(flatten)]
    size: SizeArgs,
    /// Full rollups to time.
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Single-unit resubmissions to time.
    #[arg(long, default_value_t = 200)]
    updates: usize,
    /// SQL rollups to time (0 skips the SQL baseline).
    #[arg(long, default_value_t = 3)]
    sql_runs: usize,
    /// A province (P100k): 90 counties of the P10k's shape, 97,200 units, with the province's targets. The size
    /// flags still override.
    #[arg(long)]
    province: bool,
    /// Skip storing the workload and timing the rebuild a restart does.
    #[arg(long)]
    skip_rebuild: bool,
    /// Directory for the scratch databases (default: a new directory under the system's temporary directory,
    /// removed afterwards).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
}

pub async fn run(command: BenchCommand) -> Result<ExitCode, String> {
    match command {
        BenchCommand::Consolidation(args) => consolidation(args).await,
        BenchCommand::Submit(args) => submit::run(args).await,
        BenchCommand::Web(args) => web::run(args).await,
    }
}

/// A scratch directory, removed when dropped unless the user named it.
struct WorkDir {
    path: PathBuf,
    remove: bool,
}

impl WorkDir {
    fn new(requested: Option<PathBuf>) -> Result<WorkDir, String> {
        let (path, remove) = match requested {
            Some(path) => (path, false),
            None => (
                std::env::temp_dir().join(format!("juesuan-bench-{}", std::process::id())),
                true,
            ),
        };
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        Ok(WorkDir { path, remove })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        if self.remove {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Durations, summarized.
struct Timings(Vec<Duration>);

impl Timings {
    fn new(mut durations: Vec<Duration>) -> Timings {
        durations.sort();
        Timings(durations)
    }

    fn quantile(&self, q: f64) -> Duration {
        let index = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[index]
    }

    fn median(&self) -> Duration {
        self.quantile(0.5)
    }

    fn summary(&self) -> String {
        format!(
            "median {}  min {}  p90 {}  max {}",
            millis(self.median()),
            millis(self.0[0]),
            millis(self.quantile(0.9)),
            millis(self.0[self.0.len() - 1])
        )
    }
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1.0 {
        format!("{ms:.3} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.0} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The process's peak and current resident memory (Linux), in bytes.
fn resident_memory() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .map(|kb| kb * 1024)
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// The generated prefecture, as the consolidation state and (optionally) as a store holding its versions.
struct Workload {
    prefecture: Prefecture,
    taxonomy: Arc<Taxonomy>,
    state: YearState,
    disclosures: usize,
    cells: usize,
    generated_in: Duration,
}

async fn generate(
    spec: Spec,
    taxonomies: &Taxonomies,
    store: Option<&SqliteStore>,
) -> Result<Workload, String> {
    let started = Instant::now();
    let year = FiscalYear::new(spec.fiscal_year).map_err(|e| e.to_string())?;
    let taxonomy = taxonomies
        .get(year)
        .cloned()
        .ok_or_else(|| format!("there is no taxonomy for fiscal year {year}"))?;
    let layout = Arc::new(CellLayout::new(&taxonomy));
    let removals = Arc::new(Removals::new(&layout, taxonomy.eliminations.as_ref()));
    let mut state = YearState::new(layout.clone(), removals);
    let prefecture = Prefecture::new(spec);
    for (index, node) in prefecture.nodes.iter().enumerate() {
        let unit = convert::unit_from_pb(&synthetic::unit(&spec, &prefecture.nodes, index))
            .map_err(|v| format!("the generator made an invalid unit: {v:?}"))?;
        let id = state.add_node(unit.code.clone(), None);
        if let Some(parent) = node.parent {
            state.load_parent(id, parent);
        }
        if let Some(store) = store {
            let event = NewEvent::new(&Principal::system(), Action::UnitRegistered)
                .about(&unit.code, Some(year));
            // The generator's tree is well formed by construction: no forest check per unit.
            store
                .upsert_unit(&unit, None, event)
                .await
                .map_err(|e| e.to_string())?
                .map_err(|v| format!("the generator made a unit the store refuses: {v:?}"))?;
        }
    }
    let total = prefecture.expected();
    let mut progress = Progress::new("generating disclosures", total);
    let (mut disclosures, mut cells) = (0, 0);
    for (index, disclosure) in prefecture.disclosures() {
        // The stored bytes are encoded before the facts take the message.
        let content = store.map(|_| prost::Message::encode_to_vec(&disclosure));
        let facts = synthetic::facts(taxonomies, disclosure)?;
        let own = counted_figures(&mut state, &taxonomy, 1, &facts);
        cells += own.len();
        state.load_own(index, Some(own));
        if let (Some(store), Some(content)) = (store, content) {
            let code = state.nodes[index].code.clone();
            let key = format!("bench-{}", prefecture.nodes[index].code);
            store_accepted(store, &code, year, &key, content, &facts).await?;
        }
        disclosures += 1;
        progress.set(disclosures as u64);
    }
    Ok(Workload {
        prefecture,
        taxonomy,
        state,
        disclosures,
        cells,
        generated_in: started.elapsed(),
    })
}

/// Stores a version of a unit's disclosure and accepts it as a reviewer would (only accepted versions count),
/// with the audit events the service would write.
async fn store_accepted(
    store: &dyn Store,
    code: &UnitCode,
    year: FiscalYear,
    key: &str,
    content: Vec<u8>,
    facts: &Facts,
) -> Result<u32, String> {
    let event = |action| NewEvent::new(&Principal::system(), action).about(code, Some(year));
    let inserted = store
        .insert_submission(
            NewSubmission {
                unit_code: code.clone(),
                fiscal_year: year,
                report_type: ReportType::Single,
                idempotency_key: IdempotencyKey::parse(key).map_err(|e| e.to_string())?,
                content_sm3: content_digest(&content),
                content,
                report: Report::new(year),
                facts: FactsJson::from(facts),
                explanations: Vec::new(),
                state: SubmissionState::PendingReview,
                submitted_at_ms: 0,
                submitted_by: Principal::system().to_string(),
                signature: None,
            },
            &[],
            &|_| Ok(()),
            event(Action::Submission),
        )
        .await
        .map_err(|e| crate::cli::error_chain(&e))?;
    let SubmissionInsert::Inserted(stored) = inserted else {
        return Err(format!(
            "the store refused the workload's version of {code}"
        ));
    };
    store
        .review(
            code,
            year,
            stored.version,
            &[],
            &|snapshot| transition(Decision::Accept, stored.version, snapshot),
            event(Action::Accept),
        )
        .await
        .map_err(|e| crate::cli::error_chain(&e))?
        .map_err(|refusal| {
            format!("the workload's version of {code} was not accepted: {refusal:?}")
        })?;
    Ok(stored.version)
}

/// Versions accepted after the last checkpoint before the benchmark's crash.
const CRASH_UPDATES: usize = 1000;

/// Every internal node's consolidated figures, for comparing two ways of computing them.
fn internal_figures(state: &YearState) -> Vec<(NodeId, Vec<(u32, i64)>)> {
    (0..state.nodes.len())
        .filter(|n| state.is_internal(*n))
        .map(|n| (n, state.consolidated(n)))
        .collect()
}

/// [`internal_figures`] by each cell's table, row and column rather than its number: two states that grew their
/// layouts by the same code rows in another order number those cells differently.
fn keyed_figures(state: &YearState) -> Vec<(NodeId, KeyedCells)> {
    internal_figures(state)
        .into_iter()
        .map(|(node, cells)| {
            let keyed = cells
                .into_iter()
                .map(|(id, value)| {
                    let key = &state.layout.cells[id as usize];
                    ((key.table, key.row.clone(), key.column), value)
                })
                .collect();
            (node, keyed)
        })
        .collect()
}

type KeyedCells = std::collections::BTreeMap<(usize, String, usize), i64>;

async fn consolidation(args: ConsolidationArgs) -> Result<ExitCode, String> {
    let (base, rollup_target, restart_target, crash_target) = if args.province {
        (
            Spec {
                counties: 90,
                ..Spec::p10k()
            },
            "200 ms",
            "5 s",
            "5 s",
        )
    } else {
        (Spec::p10k(), "40 ms", "1 s", "0.5 s")
    };
    let spec = args.size.spec(base)?;
    if args.runs == 0 || args.updates == 0 {
        return Err("--runs and --updates must be at least 1".into());
    }
    let taxonomies = args.taxonomy.load()?;
    let work = WorkDir::new(args.work_dir.clone())?;
    let store = if args.skip_rebuild {
        None
    } else {
        let dir = work.path.join("store");
        if dir.join(crate::store::DATABASE_FILE).exists() {
            return Err(format!(
                "{} already holds a store; name an empty --work-dir",
                dir.display()
            ));
        }
        Some(
            SqliteStore::open(&dir)
                .await
                .map_err(|e| crate::cli::error_chain(&e))?,
        )
    };

    let mut workload = generate(spec, &taxonomies, store.as_ref()).await?;
    let count = |role| {
        workload
            .prefecture
            .nodes
            .iter()
            .filter(|n| n.role == role)
            .count()
    };
    sayln!(
        "workload: 1 region → {} → {} departments → {} units; {} disclosures, {} non-zero cells \
         ({} per disclosure), layout of {} cells; generated in {:.1} s{}",
        match count(Role::County) {
            1 => "1 county".to_owned(),
            n => format!("{n} counties"),
        },
        thousands(count(Role::Department)),
        thousands(count(Role::Unit)),
        thousands(workload.disclosures),
        thousands(workload.cells),
        thousands(workload.cells / workload.disclosures.max(1)),
        thousands(workload.state.layout.len()),
        workload.generated_in.as_secs_f64(),
        if store.is_some() { " (and stored)" } else { "" }
    );

    // Full rollup: on every core (what the service does), then on one.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut rollup = |threads: usize| {
        let mut timings = Vec::with_capacity(args.runs);
        for _ in 0..args.runs {
            let started = Instant::now();
            workload.state.full_recompute_with(threads);
            timings.push(started.elapsed());
        }
        Timings::new(timings)
    };
    let full = rollup(cores);
    let single = rollup(1);
    let internal = internal_figures(&workload.state);
    sayln!(
        "full rollup, in memory, {cores} thread(s) ({} runs): {}  — target ≤ {rollup_target}",
        args.runs,
        full.summary()
    );
    sayln!(
        "  on one thread: {}; {:.0} M cells/s",
        single.summary(),
        workload.cells as f64 / single.median().as_secs_f64() / 1e6
    );
    let memory = workload.state.memory_bytes() as u64;
    let resident = resident_memory();

    // Incremental: one unit resubmits; its ancestors change by the difference.
    let nodes = &workload.prefecture.nodes;
    let units: Vec<usize> = (0..nodes.len())
        .filter(|i| nodes[*i].role == Role::Unit)
        .collect();
    let mut rng = Rng::new(spec.seed ^ 0xABCD);
    let mut incremental = Vec::with_capacity(args.updates);
    let mut converted = Vec::with_capacity(args.updates);
    for update in 0..args.updates {
        let index = units[rng.below(units.len() as u64) as usize];
        let started = Instant::now();
        let disclosure = workload.prefecture.resubmission(&mut rng, index);
        let facts = synthetic::facts(&taxonomies, disclosure)?;
        let own = counted_figures(
            &mut workload.state,
            &workload.taxonomy,
            2 + update as u32,
            &facts,
        );
        converted.push(started.elapsed());
        let started = Instant::now();
        workload.state.set_own(index, Some(own));
        incremental.push(started.elapsed());
    }
    let incremental = Timings::new(incremental);
    sayln!(
        "incremental update, one unit resubmits ({} updates): {}  — target ≤ 1 ms",
        args.updates,
        incremental.summary()
    );
    sayln!(
        "  reading the new version's figures before that (resolve + cells): median {}",
        millis(Timings::new(converted).median())
    );
    let mut check = workload.state.clone();
    check.full_recompute();
    let after_updates = internal_figures(&workload.state);
    if internal_figures(&check) != after_updates {
        return Err(
            "the incremental state differs from a full recompute — a defect; please report it"
                .into(),
        );
    }
    sayln!(
        "  incremental == full recompute: exact, {} consolidated nodes compared",
        thousands(after_updates.len())
    );
    drop(check);

    if args.sql_runs > 0 {
        // The SQL baseline rolls up the state as the updates left it.
        let sql = sql_rollup(&work.path, &workload.state, args.sql_runs).await?;
        if sql.figures != after_updates {
            return Err(
                "the SQL rollup differs from the in-memory one — a defect; please report it".into(),
            );
        }
        sayln!(
            "same rollup as SQL in SQLite, closure table + GROUP BY ({} runs): {}",
            args.sql_runs,
            sql.timings.summary()
        );
        sayln!(
            "  SQL == in memory: exact, {} consolidated nodes compared; loading {} rows took {:.1} s",
            thousands(sql.figures.len()),
            thousands(sql.rows_loaded),
            sql.load_time.as_secs_f64()
        );
        let median = sql.timings.median().as_secs_f64();
        sayln!(
            "  ratio SQL / in memory (medians): {:.0}× ({:.0}× against the in-memory rollup on one thread)",
            median / full.median().as_secs_f64(),
            median / single.median().as_secs_f64()
        );
    }

    sayln!(
        "memory: consolidated state {} (the counted figures, 13 bytes a cell, and a dense vector for each of \
         the {} consolidated nodes)",
        mib(memory),
        thousands(internal.len())
    );
    if let Some((peak, current)) = resident {
        sayln!(
            "  process resident after the first rollup: {} (peak so far {}, generator included)",
            mib(current),
            mib(peak)
        );
    }

    if let Some(store) = store {
        let store: Arc<dyn Store> = Arc::new(store);
        let year = FiscalYear::new(spec.fiscal_year).map_err(|e| e.to_string())?;
        let consolidations = Consolidations::new(store.clone(), Arc::new(taxonomies));
        let started = Instant::now();
        let data = consolidations
            .year(year)
            .await
            .map_err(|e| crate::cli::error_chain(&e))?;
        let rebuilt_in = started.elapsed();
        let rebuilt = internal_figures(&data.read().await.state);
        if rebuilt != internal {
            return Err(
                "the state rebuilt from the store differs — a defect; please report it".into(),
            );
        }
        let bytes = std::fs::metadata(work.path.join("store").join(crate::store::DATABASE_FILE))
            .map(|m| m.len())
            .unwrap_or(0);
        sayln!(
            "restart: rebuilding the state from the store ({} counted versions, database {}) took {:.1} s; \
             rebuilt == computed: exact",
            thousands(workload.disclosures),
            mib(bytes),
            rebuilt_in.as_secs_f64()
        );
        sayln!("  {}", phases(&data.read().await.build_phases));

        // The clean stop writes a snapshot; the next start reads it instead of every counted version.
        let started = Instant::now();
        consolidations
            .write_snapshots()
            .await
            .map_err(|e| crate::cli::error_chain(&e))?;
        let written_in = started.elapsed();
        let snapshot_bytes = std::fs::metadata(
            work.path
                .join("store")
                .join("snapshots")
                .join(crate::domain::consolidation::snapshot::name(year)),
        )
        .map(|m| m.len())
        .unwrap_or(0);
        let restarted = Consolidations::new(store.clone(), consolidations.taxonomies().clone());
        let started = Instant::now();
        let data = restarted
            .year(year)
            .await
            .map_err(|e| crate::cli::error_chain(&e))?;
        let restored_in = started.elapsed();
        let data = data.read().await;
        if !data.from_snapshot {
            return Err("the restart did not use the snapshot it was given — a defect".into());
        }
        if internal_figures(&data.state) != internal {
            return Err(
                "the state restored from the snapshot differs — a defect; please report it".into(),
            );
        }
        sayln!(
            "restart from the snapshot a clean stop writes ({}, written in {:.2} s): first consolidated state in \
             {:.2} s — target ≤ {restart_target}; restored == computed: exact",
            mib(snapshot_bytes),
            written_in.as_secs_f64(),
            restored_in.as_secs_f64()
        );
        sayln!("  {}", phases(&data.build_phases));
        drop(data);

        // A crash: after the last checkpoint (the stop's snapshot, as the running service's checkpoint would be),
        // units resubmit and their versions are accepted; then the process dies without writing anything. The
        // next start loads the checkpoint and replays only the versions counted since.
        let mut rng = Rng::new(spec.seed ^ 0xC4A5);
        let mut resubmitted = std::collections::HashSet::new();
        let mut progress = Progress::new("accepting versions after the checkpoint", CRASH_UPDATES);
        for update in 0..CRASH_UPDATES {
            let index = units[rng.below(units.len() as u64) as usize];
            let code = workload.state.nodes[index].code.clone();
            let disclosure = workload.prefecture.resubmission(&mut rng, index);
            let content = prost::Message::encode_to_vec(&disclosure);
            let facts = synthetic::facts(consolidations.taxonomies(), disclosure)?;
            let key = format!("bench-crash-{update}");
            store_accepted(store.as_ref(), &code, year, &key, content, &facts).await?;
            restarted
                .on_counted(&code, year)
                .await
                .map_err(|e| crate::cli::error_chain(&e))?;
            resubmitted.insert(code);
            progress.inc();
        }
        progress.finish();
        let before_crash = keyed_figures(
            &restarted
                .year(year)
                .await
                .map_err(|e| crate::cli::error_chain(&e))?
                .read()
                .await
                .state,
        );
        drop(restarted);
        let recovered = Consolidations::new(store.clone(), consolidations.taxonomies().clone());
        let started = Instant::now();
        let data = recovered
            .year(year)
            .await
            .map_err(|e| crate::cli::error_chain(&e))?;
        let recovered_in = started.elapsed();
        let data = data.read().await;
        if !data.from_snapshot || data.replayed != resubmitted.len() {
            return Err(format!(
                "the restart after a crash replayed {} units from {}, not the {} that changed — a defect",
                data.replayed,
                if data.from_snapshot {
                    "a checkpoint"
                } else {
                    "no checkpoint"
                },
                resubmitted.len()
            ));
        }
        if keyed_figures(&data.state) != before_crash {
            return Err(
                "the state recovered after a crash differs from the one before it — a defect; please report it"
                    .into(),
            );
        }
        sayln!(
            "restart after a crash (checkpoint + {} accepted versions after it, {} units replayed): first \
             consolidated state in {:.2} s — target ≤ {crash_target}; recovered == before the crash: exact",
            thousands(CRASH_UPDATES),
            thousands(resubmitted.len()),
            recovered_in.as_secs_f64()
        );
        sayln!("  {}", phases(&data.build_phases));
        store.close().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Where a build's time went, as one line.
fn phases(phases: &crate::service::consolidation::BuildPhases) -> String {
    let replay = if phases.replay.is_zero() {
        String::new()
    } else {
        format!(
            " (of which the replay after the checkpoint {:.2} s)",
            phases.replay.as_secs_f64()
        )
    };
    format!(
        "of which: registry and tree {:.2} s, counted figures {:.2} s{replay}, rollup {:.2} s",
        phases.tree.as_secs_f64(),
        phases.figures.as_secs_f64(),
        phases.rollup.as_secs_f64()
    )
}

/// What the SQL baseline measured.
struct SqlRollup {
    timings: Timings,
    /// The last run's figures of every consolidated node, as `internal_figures` lists them.
    figures: Vec<(NodeId, Vec<(u32, i64)>)>,
    rows_loaded: usize,
    load_time: Duration,
}

/// The rollup as SQL: a closure table (ancestor, descendant, depth) over the consolidated nodes, each node's
/// contributions to itself and to its ancestors, and one GROUP BY.
async fn sql_rollup(dir: &Path, state: &YearState, runs: usize) -> Result<SqlRollup, String> {
    let path = dir.join("rollup.sqlite3");
    let _ = std::fs::remove_file(&path);
    // A scratch database: durability costs nothing to the query measured.
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let sql_error = |e: sqlx::Error| format!("SQL baseline: {e}");
    for statement in [
        "CREATE TABLE closure (ancestor INTEGER NOT NULL, descendant INTEGER NOT NULL, depth INTEGER NOT NULL, \
         PRIMARY KEY (ancestor, descendant)) WITHOUT ROWID",
        "CREATE TABLE contributions (node INTEGER NOT NULL, cell INTEGER NOT NULL, self_value INTEGER NOT NULL, \
         up_value INTEGER NOT NULL, PRIMARY KEY (node, cell)) WITHOUT ROWID",
    ] {
        sqlx::query(statement)
            .execute(&pool)
            .await
            .map_err(sql_error)?;
    }

    let started = Instant::now();
    let mut rows = 0;
    // Rows go in as JSON arrays of a few thousand, through one static statement each.
    let mut closure = Vec::new();
    for node in 0..state.nodes.len() {
        if state.is_internal(node) {
            closure.push(format!("[{node},{node},0]"));
        }
        for (depth, ancestor) in state.ancestors(node).into_iter().enumerate() {
            closure.push(format!("[{ancestor},{node},{}]", depth + 1));
        }
    }
    for chunk in closure.chunks(5_000) {
        sqlx::query("INSERT INTO closure SELECT value->>0, value->>1, value->>2 FROM json_each(?)")
            .bind(format!("[{}]", chunk.join(",")))
            .execute(&pool)
            .await
            .map_err(sql_error)?;
    }
    rows += closure.len();
    let mut batch = Vec::with_capacity(5_000);
    let mut progress = Progress::new("loading the SQL baseline, nodes", state.nodes.len());
    for node in 0..state.nodes.len() {
        progress.inc();
        let (self_vec, up_vec) = state.contributions(node);
        // Both vectors are sorted by cell: merge them into (cell, self, up) rows.
        let (mut i, mut j) = (0, 0);
        while i < self_vec.len() || j < up_vec.len() {
            let (cell, s, u) = match (self_vec.get(i), up_vec.get(j)) {
                (Some(&(a, s)), Some(&(b, u))) if a == b => {
                    i += 1;
                    j += 1;
                    (a, s, u)
                }
                (Some(&(a, s)), Some(&(b, _))) if a < b => {
                    i += 1;
                    (a, s, 0)
                }
                (Some(&(a, s)), None) => {
                    i += 1;
                    (a, s, 0)
                }
                (_, Some(&(b, u))) => {
                    j += 1;
                    (b, 0, u)
                }
                (None, None) => unreachable!(),
            };
            batch.push(format!("[{node},{cell},{s},{u}]"));
            if batch.len() == 5_000 {
                insert_contributions(&pool, &batch).await?;
                rows += batch.len();
                batch.clear();
            }
        }
    }
    insert_contributions(&pool, &batch).await?;
    rows += batch.len();
    progress.finish();
    sqlx::query("ANALYZE")
        .execute(&pool)
        .await
        .map_err(sql_error)?;
    let load_time = started.elapsed();

    let mut timings = Vec::with_capacity(runs);
    let mut figures: Vec<(NodeId, Vec<(u32, i64)>)> = Vec::new();
    for run in 0..runs {
        let started = Instant::now();
        let result = sqlx::query(
            "SELECT c.ancestor, v.cell, \
                    SUM(CASE WHEN c.depth = 0 THEN v.self_value ELSE v.up_value END) AS value \
             FROM closure c JOIN contributions v ON v.node = c.descendant \
             GROUP BY c.ancestor, v.cell \
             ORDER BY c.ancestor, v.cell",
        )
        .fetch_all(&pool)
        .await
        .map_err(sql_error)?;
        timings.push(started.elapsed());
        eprintln!(
            "SQL rollup {}/{runs}: {}",
            run + 1,
            millis(timings[timings.len() - 1])
        );
        figures.clear();
        for row in result {
            let (node, cell, value): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
            if value == 0 {
                continue;
            }
            let node = node as NodeId;
            match figures.last_mut() {
                Some((last, cells)) if *last == node => cells.push((cell as u32, value)),
                _ => figures.push((node, vec![(cell as u32, value)])),
            }
        }
    }
    pool.close().await;
    let _ = std::fs::remove_file(&path);
    // Nodes whose figures are all zero have no rows; the in-memory list has them with no cells.
    let mut all: Vec<(NodeId, Vec<(u32, i64)>)> = (0..state.nodes.len())
        .filter(|n| state.is_internal(*n))
        .map(|n| (n, Vec::new()))
        .collect();
    for (node, cells) in figures {
        if let Ok(i) = all.binary_search_by_key(&node, |(n, _)| *n) {
            all[i].1 = cells;
        }
    }
    Ok(SqlRollup {
        timings: Timings::new(timings),
        figures: all,
        rows_loaded: rows,
        load_time,
    })
}

async fn insert_contributions(pool: &sqlx::SqlitePool, batch: &[String]) -> Result<(), String> {
    if batch.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO contributions SELECT value->>0, value->>1, value->>2, value->>3 FROM json_each(?)",
    )
    .bind(format!("[{}]", batch.join(",")))
    .execute(pool)
    .await
    .map_err(|e| format!("SQL baseline: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timings_pick_quantiles_from_sorted_durations() {
        let t = Timings::new([5, 1, 3, 2, 4].map(Duration::from_millis).to_vec());
        assert_eq!(t.median(), Duration::from_millis(3));
        assert_eq!(t.quantile(0.0), Duration::from_millis(1));
        assert_eq!(t.quantile(1.0), Duration::from_millis(5));
    }

    #[test]
    fn counts_are_grouped_by_thousands() {
        assert_eq!(thousands(9_720), "9,720");
        assert_eq!(thousands(10_261_000), "10,261,000");
        assert_eq!(thousands(999), "999");
    }
}

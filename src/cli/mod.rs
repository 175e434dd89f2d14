//! The `juesuan` command: `serve` runs the service; the other subcommands are its clients (over gRPC) or work
//! offline on files (`validate`, `rules`).

mod access;
mod bench;
mod budgets;
mod bulk;
pub mod client;
mod consolidated;
mod demo;
pub mod json;
pub mod output;
mod progress;
mod publication;
mod review;
mod rules;
mod taxonomy;

pub(crate) use client::{ServerArgs, status_message};

/// Writes to stdout; when the reader has gone (`juesuan rules list | head`), stops quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(error) = write!(std::io::stdout().lock(), $($arg)*) {
            if error.kind() == std::io::ErrorKind::BrokenPipe {
                std::process::exit(0);
            }
            eprintln!("error: cannot write the output: {error}");
            std::process::exit(2);
        }
    }};
}

/// `say!` with a newline.
macro_rules! sayln {
    ($($arg:tt)*) => {{
        $crate::cli::say!($($arg)*);
        $crate::cli::say!("\n");
    }};
}
pub(crate) use {say, sayln};

use std::{net::SocketAddr, path::PathBuf, process::ExitCode};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::service::submission::Limits;
use crate::{
    api::convert,
    configuration::{self, Settings},
    domain::{
        submission::validate_offline,
        taxonomy::Taxonomies,
        unit::{BudgetLevel, UnitType},
    },
    pb, startup, telemetry,
};

#[derive(Parser)]
#[command(
    name = "juesuan",
    version,
    about = "部门决算: departmental final accounts — submit, check, consolidate"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gRPC service (embedded SQLite store in the data directory, or PostgreSQL with --database-url).
    Serve(ServeArgs),
    /// Check a disclosure file offline against its year's taxonomy; nothing is sent or stored.
    /// Exits 1 when there is an ERROR finding, 2 when the file cannot be read as a disclosure.
    Validate {
        /// The disclosure, in the proto JSON mapping of juesuan.v1.Disclosure.
        file: PathBuf,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Submit a disclosure file to a running service and print its findings; given a directory, submit every
    /// .xlsx and .json file in it and print a summary of what was taken and what was refused.
    Submit {
        /// The disclosure: a standard workbook (.xlsx) or the proto JSON mapping of juesuan.v1.Disclosure; or a
        /// directory of them.
        file: PathBuf,
        /// With a directory: submit each unit's file with the token in DIR/<unit code>.token when there is one.
        #[arg(long)]
        token_dir: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        /// Key that makes the submission safe to retry; default: the file's SM3 digest, so that submitting the
        /// same file twice makes one version.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// Explain a WARNING finding, by the key a dry run (`juesuan validate`) printed: KEY=TEXT. Repeatable.
        #[arg(long = "explain", value_parser = parse_explanation)]
        explanations: Vec<(String, String)>,
        /// Submit only if this version is current (0: only if none is): of two concurrent submissions against
        /// one version, one is refused instead of silently replacing the other.
        #[arg(long)]
        expected_version: Option<u32>,
        /// Sign the disclosure's bytes with this SM2 private key (64 hex digits; `juesuan keys generate`).
        #[arg(long)]
        sign_key: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Write the year's blank workbook (a cover and 公开01–09, laid out from the taxonomy) to fill in Excel.
    Template {
        #[arg(long)]
        year: u32,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Read a filled workbook into a disclosure file (proto JSON): our template, or the tables as units publish
    /// them (.xlsx, .xls, .ods; or a .csv per table, given together). Tables are found by their titles and
    /// headers; every problem is named by sheet and cell, and nothing is written unless every figure reads.
    /// Given a directory, read every workbook in it into the directory -o names, with a summary.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(short = 'o', long)]
        output: PathBuf,
        /// The unit, for a workbook without a cover (封面).
        #[arg(long)]
        unit: Option<String>,
        /// The fiscal year, for a workbook that states none.
        #[arg(long)]
        year: Option<u32>,
        /// The amount unit (万元, 千元 or 元), for a workbook that states none.
        #[arg(long, value_parser = parse_money_unit)]
        amount_unit: Option<crate::workbook::MoneyUnit>,
        /// Print where every figure was read (sheet and cell), and write the same beside the output as
        /// OUTPUT.sources.json.
        #[arg(long)]
        report: bool,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Write a stored version of --unit (the current one unless --version) as the standard workbook with its
    /// findings on a sheet of their own, linked to their cells; or --node's consolidation (汇总表, 调整表,
    /// elimination findings and the completeness of its subtree).
    Export {
        #[arg(long, required_unless_present = "node", conflicts_with = "node")]
        unit: Option<String>,
        #[arg(long)]
        node: Option<String>,
        #[arg(long)]
        year: u32,
        #[arg(long, default_value_t = 0)]
        version: u32,
        #[arg(short = 'o', long)]
        output: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Draft the 公开说明 from a disclosure's figures (offline): every figure the year's narrative phrases name,
    /// with shares and, given last year's disclosure, the changes and rates, and a marked placeholder where a
    /// person must write the reasons. The figures pass the narrative checks by construction.
    Narrative {
        /// The disclosure (.xlsx or proto JSON); or, with --unit and --year, a stored version read from the service
        /// with last year's accepted version for the changes.
        #[arg(required_unless_present = "unit")]
        file: Option<PathBuf>,
        /// Last year's disclosure of the unit, for the changes on last year (with FILE).
        #[arg(long, requires = "file")]
        last_year: Option<PathBuf>,
        #[arg(long, conflicts_with = "file", requires = "year")]
        unit: Option<String>,
        #[arg(long)]
        year: Option<u32>,
        /// With --unit: the version (0: the current one).
        #[arg(long, default_value_t = 0)]
        version: u32,
        #[command(flatten)]
        server: ServerArgs,
        /// md: the sections as Markdown; json: the disclosure with its narrative replaced by the draft, ready to
        /// review and submit.
        #[arg(long, value_enum, default_value_t = DraftFormat::Md)]
        format: DraftFormat,
        /// Write the draft here (required for docx) instead of to stdout.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        taxonomy: TaxonomyArgs,
    },
    /// Write the public document (部门决算公开) of a disclosure: every part and section of the year's structure in
    /// order, the 决算情况说明 drafted from the figures with 【请填写：…】 where a person writes the reasons, the
    /// 名词解释, and the nine tables (an empty one replaced by its statement). OUTPUT ends in .html or .docx.
    Publish(publication::PublishArgs),
    /// Check a published document (部门决算公开) — .docx, .html, .txt or a PDF with a text layer — or a directory
    /// of them: every section and table present, the unit and year named alike, comparison words against their
    /// figures, the printed tables' balances, the text against the tables, and with --against (or --unit/--year)
    /// every figure against the accepted one. Exit 0: nothing FAILs; 1: something does; 2: a document cannot be
    /// read.
    CheckPublication(publication::CheckPublicationArgs),
    /// Register and look up units.
    #[command(subcommand)]
    Units(UnitsCommand),
    /// List and read submitted versions.
    #[command(subcommand)]
    Submissions(SubmissionsCommand),
    /// The review chain: pending versions, accept, return, revert, lock, unlock.
    #[command(subcommand)]
    Review(review::ReviewCommand),
    /// Issue, list and revoke tokens; who am I.
    #[command(subcommand)]
    Tokens(access::TokensCommand),
    /// SM2 signing keys: generate a pair, register a unit's public key.
    #[command(subcommand)]
    Keys(access::KeysCommand),
    /// The audit trail: list events, verify the SM3 chain.
    #[command(subcommand)]
    Audit(review::AuditCommand),
    /// Budget figures (年初预算数) as budget systems put them: put a version, read one.
    #[command(subcommand)]
    Budgets(budgets::BudgetsCommand),
    /// Follow a subtree's events as they happen, resumable by cursor.
    #[command(subcommand)]
    Events(budgets::EventsCommand),
    /// List and show the rules of a fiscal year's taxonomy (offline).
    #[command(subcommand)]
    Rules(rules::RulesCommand),
    /// A year's classification code lists: load the ministry's list, compare years, write one out (offline).
    #[command(subcommand)]
    Taxonomy(taxonomy::TaxonomyCommand),
    /// A node's consolidated tables (汇总表), a cell explained, who is missing, or reported-vs-computed.
    ///
    /// From a running service: the node's own figures plus its children's consolidations, less the transfers
    /// inside the group (调整表); --explain takes one cell apart down the tree, --completeness lists every unit
    /// of the subtree with where its disclosure stands, --compare-reported checks the 汇总表 the node submitted.
    Consolidated(consolidated::ConsolidatedArgs),
    /// Serve a synthetic prefecture, to try consolidation in a minute.
    ///
    /// Fills an empty data directory with a region, its counties, their departments and the departments' units
    /// (default: 3 counties, 4 departments each, 5 units per department, 20 项 rows per disclosure), with
    /// transfers that consolidation eliminates and a few mistakes on purpose, then serves it and prints the
    /// commands to try.
    Demo(demo::DemoArgs),
    /// Measure on this machine (medians, ratios, throughput).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Ask a server's health port whether it serves: exit 0 serving, 1 not serving, 2 unreachable (for container
    /// health checks).
    Health {
        /// The plain health port (`serve --health-listen`), or the gRPC port when it has no TLS.
        #[arg(long, default_value = "http://127.0.0.1:8081")]
        server: String,
    },
}

/// The size of a synthetic prefecture; what is not given keeps the command's default.
#[derive(Args)]
pub(crate) struct SizeArgs {
    /// Counties (区县) in the prefecture (1–99).
    #[arg(long)]
    counties: Option<usize>,
    /// Supervising departments (主管部门) per county (1–999).
    #[arg(long)]
    departments: Option<usize>,
    /// Budget units per department (1–999).
    #[arg(long)]
    units: Option<usize>,
    /// 项 rows per disclosure (1–60), about 17 non-zero cells each with their 类 and 款 rows.
    #[arg(long)]
    items: Option<usize>,
    /// Seed of the generator: the same seed makes the same prefecture.
    #[arg(long)]
    seed: Option<u64>,
}

impl SizeArgs {
    pub(crate) fn spec(
        &self,
        base: crate::synthetic::Spec,
    ) -> Result<crate::synthetic::Spec, String> {
        let within = |value: Option<usize>, default: usize, max: usize, flag: &str| {
            let value = value.unwrap_or(default);
            if (1..=max).contains(&value) {
                Ok(value)
            } else {
                Err(format!("--{flag} must be between 1 and {max}, not {value}"))
            }
        };
        Ok(crate::synthetic::Spec {
            counties: within(self.counties, base.counties, 99, "counties")?,
            departments_per_county: within(
                self.departments,
                base.departments_per_county,
                999,
                "departments",
            )?,
            units_per_department: within(self.units, base.units_per_department, 999, "units")?,
            items_per_unit: within(self.items, base.items_per_unit, 60, "items")?,
            seed: self.seed.unwrap_or(base.seed),
            ..base
        })
    }
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "JUESUAN_LISTEN", default_value = configuration::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Directory of the embedded store (created if missing).
    #[arg(long, env = "JUESUAN_DATA_DIR", default_value = configuration::DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// PostgreSQL instead of the embedded store, for replicas sharing one database
    /// (postgres://user:password@host:5432/database). The data directory then keeps only the first
    /// administrator token.
    #[arg(long, env = "JUESUAN_DATABASE_URL", value_parser = configuration::DatabaseUrl::parse, hide_env_values = true)]
    database_url: Option<configuration::DatabaseUrl>,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
    /// Also serve gRPC health alone, without TLS, on this address: for probes that cannot speak TLS (Kubernetes'
    /// gRPC probes). It answers nothing but health.
    #[arg(long, env = "JUESUAN_HEALTH_LISTEN")]
    health_listen: Option<SocketAddr>,
    /// Serve Prometheus metrics (GET /metrics) on this address.
    #[arg(long, env = "JUESUAN_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Serve the web console (sign-in with the same tokens) on this address.
    #[arg(long, env = "JUESUAN_WEB_LISTEN", default_value = configuration::DEFAULT_WEB_LISTEN)]
    web_listen: SocketAddr,
    /// Serve no web console.
    #[arg(long, env = "JUESUAN_NO_WEB")]
    no_web: bool,
    /// Largest disclosure accepted, in bytes.
    #[arg(long, env = "JUESUAN_MAX_DISCLOSURE_BYTES", default_value_t = Limits::default().max_disclosure_bytes)]
    max_disclosure_bytes: usize,
    /// Event watches (`Events.Watch`) one caller may hold open at once; the service serves 256 in all.
    #[arg(long, env = "JUESUAN_MAX_WATCHES_PER_PRINCIPAL", default_value_t = Limits::default().max_watches_per_principal, value_parser = parse_watch_limit)]
    max_watches_per_principal: usize,
    /// The server's TLS certificate (PEM); with --tls-key, the port speaks TLS.
    #[arg(long, env = "JUESUAN_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The server's TLS private key (PEM).
    #[arg(long, env = "JUESUAN_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The CA (PEM) that signs client certificates: a client presenting one whose common name is an enrolled
    /// service (`juesuan tokens issue --service NAME`) is that service, without a token (mutual TLS).
    #[arg(long, env = "JUESUAN_CLIENT_CA", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Serve without TLS on a non-loopback address: only behind a proxy that terminates TLS.
    #[arg(long, env = "JUESUAN_INSECURE")]
    insecure: bool,
    /// The SM2 key (64 hex digits) that signs the audit chain's heads (`juesuan audit head`); by default
    /// audit-head.sm2 in the data directory, made at the first start. Give replicas the same file.
    #[arg(long, env = "JUESUAN_AUDIT_KEY")]
    audit_key: Option<PathBuf>,
    /// Seconds between checkpoints of the consolidation state while serving (only when something changed); after
    /// a crash the next start loads the latest and replays what came after it. 0: only at a clean stop.
    #[arg(long, env = "JUESUAN_CHECKPOINT_EVERY", default_value_t = configuration::DEFAULT_CHECKPOINT_SECONDS)]
    checkpoint_every: u64,
    /// Checkpoint as soon as this many changes (accepts, returns, reverts, registrations) were applied, without
    /// waiting for the interval.
    #[arg(long, env = "JUESUAN_CHECKPOINT_AFTER", default_value_t = configuration::CheckpointPolicy::default().after_changes, value_parser = clap::value_parser!(u64).range(1..))]
    checkpoint_after: u64,
    /// Log format on stderr (filter with JUESUAN_LOG or RUST_LOG, e.g. "juesuan=debug").
    #[arg(long, env = "JUESUAN_LOG_FORMAT", value_enum, default_value_t = telemetry::LogFormat::Text)]
    log_format: telemetry::LogFormat,
}

#[derive(Args)]
pub(crate) struct TaxonomyArgs {
    /// Directory of the fiscal-year taxonomies, instead of those built into the binary (every year shipped).
    #[arg(long, env = "JUESUAN_TAXONOMY_DIR")]
    taxonomy_dir: Option<PathBuf>,
}

impl TaxonomyArgs {
    pub(crate) fn load(&self) -> Result<Taxonomies, String> {
        Taxonomies::load_or_built_in(self.taxonomy_dir.as_deref())
            .map_err(|e| format!("the taxonomy cannot be used: {e}"))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DraftFormat {
    /// For people.
    Md,
    /// The disclosure in the proto JSON mapping, its narrative drafted.
    Json,
    /// A Word document: the title, each section's heading and text (with -o).
    Docx,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// For people.
    Table,
    /// The proto JSON mapping.
    Json,
}

#[derive(Subcommand)]
enum UnitsCommand {
    /// Register a unit (or re-register it: a record with the same --from-year is replaced).
    Register(RegisterArgs),
    /// Show a unit as registered for a year.
    Get {
        code: String,
        #[arg(long)]
        year: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// List a subtree of a year's tree (every unit when --root is not given).
    List {
        #[arg(long)]
        root: Option<String>,
        #[arg(long)]
        year: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Args)]
struct RegisterArgs {
    /// Unit code (单位代码).
    #[arg(long)]
    code: String,
    /// Unit name.
    #[arg(long)]
    name: String,
    /// First fiscal year the record applies to.
    #[arg(long)]
    from_year: u32,
    /// Last fiscal year the record applies to (default: open-ended).
    #[arg(long)]
    to_year: Option<u32>,
    /// 预算级次: central, provincial, prefecture, county, township.
    #[arg(long, value_parser = parse_level)]
    level: BudgetLevel,
    /// 单位类型: administrative, public_institution_class_1, public_institution_class_2,
    /// public_institution_commercial, enterprise, other (may be left out for a region node).
    #[arg(long = "type", value_parser = parse_unit_type)]
    unit_type: Option<UnitType>,
    /// Parent node in the consolidation tree.
    #[arg(long)]
    parent: Option<String>,
    /// Supervising department (主管部门).
    #[arg(long)]
    supervising_department: Option<String>,
    /// 财政区划, six digits (e.g. 652300).
    #[arg(long)]
    region: String,
    /// The unit is a supervising department (主管部门).
    #[arg(long)]
    department: bool,
    /// The node is a fiscal region (财政区划) with no disclosure of its own.
    #[arg(long)]
    region_node: bool,
    #[command(flatten)]
    server: ServerArgs,
}

fn parse_level(text: &str) -> Result<BudgetLevel, String> {
    BudgetLevel::from_code(text).ok_or_else(|| {
        let all: Vec<&str> = BudgetLevel::ALL.iter().map(|l| l.code()).collect();
        format!("one of {}", all.join(", "))
    })
}

fn parse_unit_type(text: &str) -> Result<UnitType, String> {
    UnitType::from_code(text).ok_or_else(|| {
        let all: Vec<&str> = UnitType::ALL.iter().map(|t| t.code()).collect();
        format!("one of {}", all.join(", "))
    })
}

#[derive(Subcommand)]
enum SubmissionsCommand {
    /// List the versions of a unit's disclosure for a year.
    List {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show one version's findings (the current version unless --version is given).
    Get {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[arg(long)]
        version: Option<u32>,
        /// Print the disclosure too (JSON only).
        #[arg(long)]
        include_disclosure: bool,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Explain WARNING findings of a stored version (the current one unless --version is given).
    Explain {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[arg(long)]
        version: Option<u32>,
        /// KEY=TEXT, the key as printed with the finding. Repeatable.
        #[arg(long = "explain", value_parser = parse_explanation, required = true)]
        explanations: Vec<(String, String)>,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

fn parse_explanation(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, explanation)) if !key.trim().is_empty() && !explanation.trim().is_empty() => {
            Ok((key.trim().to_owned(), explanation.trim().to_owned()))
        }
        _ => Err("write KEY=TEXT, with the finding's key and the explanation".to_owned()),
    }
}

/// Runs the command line; the exit code says how it went.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// Largest disclosure file read: its JSON is larger than the encoded message the service limits, by a few times.
const MAX_DISCLOSURE_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Whether a file is a workbook (.xlsx or .ods, a zip archive; .xls, an OLE file) rather than proto JSON.
fn is_workbook(file: &std::path::Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(256);
    std::fs::File::open(file)
        .and_then(|f| f.take(256).read_to_end(&mut head))
        .is_ok_and(|_| crate::workbook::Format::sniff(&head).is_some())
}

/// 万元, 千元 or 元 (or wan, thousand, yuan).
fn parse_money_unit(text: &str) -> Result<crate::workbook::MoneyUnit, String> {
    crate::workbook::MoneyUnit::parse(text).ok_or_else(|| "is one of 万元, 千元, 元".to_owned())
}

/// Reads workbooks or CSV files as one workbook, or says every problem, each with its sheet and cell.
fn import_files(
    files: &[PathBuf],
    taxonomies: &Taxonomies,
    options: &crate::workbook::ImportOptions,
) -> Result<crate::workbook::Imported, String> {
    if files.len() > 64 {
        return Err(format!(
            "{} files given; an import takes at most 64",
            files.len()
        ));
    }
    let mut parts = Vec::with_capacity(files.len());
    for file in files {
        let size = std::fs::metadata(file)
            .map_err(|e| format!("cannot read {}: {e}", file.display()))?
            .len();
        if size > crate::workbook::MAX_WORKBOOK_BYTES {
            return Err(format!(
                "{} is {size} bytes; a workbook may have at most {}",
                file.display(),
                crate::workbook::MAX_WORKBOOK_BYTES
            ));
        }
        let bytes =
            std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        parts.push((name, bytes));
    }
    crate::workbook::read_files(taxonomies, &parts, options).map_err(|problems| {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        let mut message = format!(
            "{} cannot be read whole; nothing was taken from it ({} problem{}):",
            names.join(", "),
            problems.len(),
            if problems.len() == 1 { "" } else { "s" }
        );
        for problem in &problems {
            message.push_str(&format!("\n  {problem}"));
        }
        message
    })
}

/// Every figure kept with the cell it was read from, table by table, then the printed figures not kept.
fn print_sources(imported: &crate::workbook::Imported) {
    sayln!("表\t行\t栏\t万元\t单元格\t原值");
    for source in &imported.sources {
        sayln!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            source.table_name,
            source.row_name,
            source.column_name,
            source.value,
            source.at,
            source.printed
        );
    }
    for (at, why) in &imported.not_kept {
        sayln!("not kept: {at}: {why}");
    }
}

/// A disclosure from a standard workbook, or every problem in it, each with its sheet and cell.
fn read_workbook(
    file: &std::path::Path,
    taxonomies: &Taxonomies,
) -> Result<pb::Disclosure, String> {
    import_files(
        &[file.to_path_buf()],
        taxonomies,
        &crate::workbook::ImportOptions::default(),
    )
    .map(|imported| imported.disclosure)
}

/// A disclosure file: proto JSON, or a standard workbook (read with the built-in taxonomies unless given).
fn read_disclosure(file: &PathBuf) -> Result<pb::Disclosure, String> {
    if is_workbook(file) {
        let taxonomies =
            Taxonomies::built_in().map_err(|e| format!("the taxonomy cannot be used: {e}"))?;
        return read_workbook(file, &taxonomies);
    }
    let size = std::fs::metadata(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?
        .len();
    if size > MAX_DISCLOSURE_FILE_BYTES {
        return Err(format!(
            "{} is {size} bytes; a disclosure file may have at most {MAX_DISCLOSURE_FILE_BYTES}",
            file.display()
        ));
    }
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let disclosure: pb::Disclosure =
        json::from_json("Disclosure", &text).map_err(|e| format!("{}: {e}", file.display()))?;
    let descriptor = pb::descriptor_pool()
        .get_message_by_name("juesuan.v1.Disclosure")
        .ok_or("the contract has no Disclosure")?;
    crate::api::guard::check_message(&descriptor, &prost::Message::encode_to_vec(&disclosure))
        .map_err(|v| violations_message(file, vec![v]))?;
    Ok(disclosure)
}

/// The unit's latest budget figures as the budget system gave them, when it gave any.
async fn budget_of(
    server: &ServerArgs,
    unit: &str,
    year: u32,
) -> Result<Option<crate::domain::budget::BudgetFigures>, String> {
    let response = pb::budgets_client::BudgetsClient::new(server.connect().await?)
        .get_budget(pb::GetBudgetRequest {
            unit_code: unit.to_owned(),
            fiscal_year: year,
            version: 0,
        })
        .await;
    let budget = match response {
        Ok(response) => response.into_inner().budget.unwrap_or_default(),
        Err(status) if status.code() == tonic::Code::NotFound => return Ok(None),
        Err(status) => return Err(status_message(status)),
    };
    let mut figures = crate::domain::budget::BudgetFigures::default();
    for figure in &budget.figures {
        let value = figure
            .value
            .as_ref()
            .and_then(|v| v.value.parse().ok())
            .ok_or("the service sent a budget figure that is not a number")?;
        figures.insert(&figure.table, &figure.row, &figure.column, value);
    }
    Ok(Some(figures))
}

/// A stored version of a unit (the current one for version 0) and the unit's accepted version of the year before,
/// when there is one.
async fn stored_with_last_year(
    server: &ServerArgs,
    unit: &str,
    year: u32,
    version: u32,
) -> Result<(pb::Disclosure, Option<pb::Disclosure>), String> {
    let mut client = pb::submissions_client::SubmissionsClient::new(server.connect().await?)
        .max_decoding_message_size(64 * 1024 * 1024);
    let reader = client.clone();
    let get = |year: u32, version: u32| {
        let mut client = reader.clone();
        let unit = unit.to_owned();
        async move {
            client
                .get_submission(pb::GetSubmissionRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                    include_disclosure: true,
                    ..Default::default()
                })
                .await
                .map_err(status_message)
                .map(|r| r.into_inner().disclosure)
        }
    };
    let given = get(year, version)
        .await?
        .ok_or("the service sent no disclosure")?;
    let accepted_last_year = client
        .list_submissions(pb::ListSubmissionsRequest {
            unit_code: unit.to_owned(),
            fiscal_year: year - 1,
        })
        .await
        .map(|r| r.into_inner().submissions)
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s.state == pb::SubmissionState::Accepted as i32)
        .map(|s| s.version)
        .max();
    let last = match accepted_last_year {
        Some(version) => get(year - 1, version).await?,
        None => None,
    };
    Ok((given, last))
}

/// Writes a file the command makes (replacing one there), saying which file could not be written.
fn write_new_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn print_report(report: &pb::ValidationReport, format: Format) -> ExitCode {
    match format {
        Format::Table => say!("{}", output::report(report)),
        Format::Json => sayln!("{}", json::to_json("ValidationReport", report)),
    }
    if report.error_count > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

async fn dispatch(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Validate {
            file,
            taxonomy,
            format,
        } => {
            let taxonomies = taxonomy.load()?;
            let disclosure = if is_workbook(&file) {
                read_workbook(&file, &taxonomies)?
            } else {
                read_disclosure(&file)?
            };
            let draft =
                convert::disclosure_draft(disclosure).map_err(|v| violations_message(&file, v))?;
            let (_, _, report) =
                validate_offline(&taxonomies, draft).map_err(|v| violations_message(&file, v))?;
            Ok(print_report(&convert::report_to_pb(&report), format))
        }
        Command::Submit {
            file,
            token_dir,
            server,
            idempotency_key,
            explanations,
            expected_version,
            sign_key,
            format,
        } => {
            if file.is_dir() {
                if idempotency_key.is_some()
                    || !explanations.is_empty()
                    || expected_version.is_some()
                    || sign_key.is_some()
                {
                    return Err("a directory is submitted file by file with each file's SM3 as its key: \
                                --idempotency-key, --explain, --expected-version and --sign-key name one file"
                        .into());
                }
                return bulk::submit_dir(&file, &server, token_dir.as_deref()).await;
            }
            let disclosure = read_disclosure(&file)?;
            // The bytes the service receives are this encoding, so the signature covers exactly them.
            let encoded = prost::Message::encode_to_vec(&disclosure);
            let key = idempotency_key.unwrap_or_else(|| {
                format!(
                    "sm3:{}",
                    crate::domain::submission::content_digest(&encoded)
                )
            });
            let signature = match sign_key {
                Some(path) => {
                    let text = std::fs::read(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let key = crate::domain::signing::parse_private_key(&text)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    crate::domain::signing::sign(&key, &encoded)
                }
                None => Vec::new(),
            };
            let mut client =
                pb::submissions_client::SubmissionsClient::new(server.connect().await?);
            let response = client
                .submit(pb::SubmitRequest {
                    idempotency_key: key,
                    disclosure: Some(disclosure),
                    explanations: explanations.into_iter().collect(),
                    expected_current_version: expected_version,
                    signature,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            let submission = response.submission.unwrap_or_default();
            if format == Format::Table {
                sayln!(
                    "{} {}/{} version {} ({}){}",
                    if response.replayed {
                        "already submitted:"
                    } else {
                        "submitted:"
                    },
                    submission.unit_code,
                    submission.fiscal_year,
                    submission.version,
                    state_name(submission.state),
                    if response.replayed {
                        " — the same idempotency key made it before"
                    } else {
                        ""
                    }
                );
            }
            Ok(print_report(&submission.report.unwrap_or_default(), format))
        }
        Command::Units(command) => units(command).await,
        Command::Submissions(command) => submissions(command).await,
        Command::Rules(command) => rules::run(command),
        Command::Taxonomy(command) => taxonomy::run(command),
        Command::Review(command) => review::run(command).await,
        Command::Tokens(command) => access::tokens(command).await,
        Command::Keys(command) => access::keys(command).await,
        Command::Audit(command) => review::audit(command).await,
        Command::Budgets(command) => budgets::budgets(command).await,
        Command::Narrative {
            file,
            last_year,
            unit,
            year,
            version,
            server,
            format,
            output,
            taxonomy,
        } => {
            if format == DraftFormat::Docx && output.is_none() {
                return Err("--format docx writes a file: give -o FILE.docx".into());
            }
            let taxonomies = taxonomy.load()?;
            let read = |path: &PathBuf| -> Result<pb::Disclosure, String> {
                if is_workbook(path) {
                    read_workbook(path, &taxonomies)
                } else {
                    read_disclosure(path)
                }
            };
            let resolve = |path: &PathBuf, given: &pb::Disclosure| {
                // A copy: the given disclosure is what the drafted narrative is written into.
                let draft = convert::disclosure_draft(given.clone())
                    .map_err(|v| violations_message(path, v))?;
                crate::domain::submission::resolve(&taxonomies, draft)
                    .map_err(|v| violations_message(path, v))
            };
            let mut budget = None;
            let (file, given, last_given) = match (file, unit) {
                (Some(file), _) => {
                    let given = read(&file)?;
                    let last = match &last_year {
                        Some(path) => Some((path.clone(), read(path)?)),
                        None => None,
                    };
                    (file, given, last)
                }
                (None, Some(unit)) => {
                    let year = year.ok_or("--year")?;
                    let (given, last) =
                        stored_with_last_year(&server, &unit, year, version).await?;
                    budget = budget_of(&server, &unit, year).await?;
                    let name = PathBuf::from(format!("{unit}/{year}"));
                    (name.clone(), given, last.map(|l| (name, l)))
                }
                (None, None) => return Err("give FILE, or --unit and --year".into()),
            };
            let (year_taxonomy, disclosure) = resolve(&file, &given)?;
            let last = match &last_given {
                Some((path, last)) => match resolve(path, last) {
                    Ok((_, last)) => Some(last),
                    Err(e) => {
                        eprintln!(
                            "last year's figures cannot be used, so no change is stated: {e}"
                        );
                        None
                    }
                },
                None => None,
            };
            let sections = crate::domain::rules::draft::draft_narrative(
                &year_taxonomy,
                &disclosure,
                crate::domain::rules::Context {
                    last_year: last.as_ref(),
                    budget: budget.as_ref(),
                    ..Default::default()
                },
            );
            let title = format!(
                "{} {}年度部门决算公开说明（草稿）",
                disclosure.cover.unit_name, disclosure.cover.fiscal_year
            );
            let bytes: Vec<u8> = match format {
                DraftFormat::Md => {
                    let mut text = format!("# {title}\n\n");
                    for section in &sections {
                        text.push_str(&format!("## {}\n\n{}\n\n", section.title, section.text));
                    }
                    text.into_bytes()
                }
                DraftFormat::Json => {
                    let mut drafted = given;
                    drafted.narrative = sections
                        .iter()
                        .map(|s| pb::NarrativeSection {
                            key: s.key.clone(),
                            title: s.title.clone(),
                            text: s.text.clone(),
                        })
                        .collect();
                    format!("{}\n", json::to_json("Disclosure", &drafted)).into_bytes()
                }
                DraftFormat::Docx => {
                    use docx_rs::{Docx, Paragraph, Run};
                    let mut document = Docx::new().add_paragraph(
                        Paragraph::new().add_run(Run::new().add_text(&title).bold().size(32)),
                    );
                    for section in &sections {
                        document = document
                            .add_paragraph(
                                Paragraph::new()
                                    .add_run(Run::new().add_text(&section.title).bold().size(28)),
                            )
                            .add_paragraph(
                                Paragraph::new().add_run(Run::new().add_text(&section.text)),
                            );
                    }
                    let mut buffer = std::io::Cursor::new(Vec::new());
                    document
                        .build()
                        .pack(&mut buffer)
                        .map_err(|e| format!("the document cannot be written: {e}"))?;
                    buffer.into_inner()
                }
            };
            match output {
                Some(path) => {
                    write_new_file(&path, &bytes)?;
                    eprintln!("the draft is in {}", path.display());
                }
                None => say!("{}", String::from_utf8_lossy(&bytes)),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish(args) => publication::publish(args).await,
        Command::CheckPublication(args) => publication::check_publication(args).await,
        Command::Template {
            year,
            output,
            taxonomy,
        } => {
            let taxonomies = taxonomy.load()?;
            let year =
                crate::domain::ids::FiscalYear::new(year).map_err(|e| format!("--year: {e}"))?;
            let taxonomy = taxonomies.get(year).ok_or_else(|| {
                format!(
                    "--year: no taxonomy for {year} (years with one: {})",
                    taxonomies.years_list()
                )
            })?;
            let bytes = crate::workbook::write(taxonomy, None).map_err(|e| error_chain(&e))?;
            write_new_file(&output, &bytes)?;
            sayln!("{year}'s blank workbook is in {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Import {
            files,
            output,
            unit,
            year,
            amount_unit,
            report,
            taxonomy,
        } => {
            let taxonomies = taxonomy.load()?;
            let options = crate::workbook::ImportOptions {
                unit_code: unit,
                fiscal_year: year,
                amount_unit,
                ..Default::default()
            };
            if let [dir] = files.as_slice()
                && dir.is_dir()
            {
                return bulk::import_dir(dir, &output, &taxonomies, &options);
            }
            let imported = import_files(&files, &taxonomies, &options)?;
            let disclosure = &imported.disclosure;
            write_new_file(&output, json::to_json("Disclosure", disclosure).as_bytes())?;
            if report {
                print_sources(&imported);
                let sources = output.with_extension("sources.json");
                let text = serde_json::to_string_pretty(&imported.sources)
                    .map_err(|e| format!("the sources do not encode: {e}"))?;
                write_new_file(&sources, text.as_bytes())?;
                sayln!("where each figure came from: {}", sources.display());
            }
            let figures: usize = disclosure
                .tables
                .iter()
                .map(|t| t.rows.iter().map(|r| r.cells.len()).sum::<usize>())
                .sum();
            sayln!(
                "{} tables of {} ({} figures, read in {}{}) into {}",
                disclosure.tables.len(),
                disclosure
                    .cover
                    .as_ref()
                    .map_or("", |c| c.unit_code.as_str()),
                figures,
                imported.amount_unit.name(),
                if imported.amount_unit == crate::workbook::MoneyUnit::TenThousandYuan {
                    ""
                } else {
                    ", kept in 万元"
                },
                output.display()
            );
            for (at, what) in &imported.notices {
                sayln!(
                    "check: {at}: {what} (the workbook disagrees with itself; nothing was read wrong)"
                );
            }
            if !imported.not_kept.is_empty() {
                sayln!(
                    "{} printed figures are sums or repeats of figures kept, and not kept themselves{}",
                    imported.not_kept.len(),
                    if report {
                        " (listed above)"
                    } else {
                        " (--report lists them)"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Export {
            unit,
            node,
            year,
            version,
            output,
            server,
            taxonomy,
        } => {
            let taxonomies = taxonomy.load()?;
            let fiscal_year =
                crate::domain::ids::FiscalYear::new(year).map_err(|e| format!("--year: {e}"))?;
            let taxonomy = taxonomies
                .get(fiscal_year)
                .ok_or_else(|| format!("--year: no taxonomy for {fiscal_year}"))?;
            if let Some(node) = node {
                let conn = server.connect().await?;
                let mut consolidation = pb::consolidation_client::ConsolidationClient::new(conn)
                    .max_decoding_message_size(64 * 1024 * 1024);
                let report = consolidation
                    .get_consolidated(pb::GetConsolidatedRequest {
                        node_code: node.clone(),
                        fiscal_year: year,
                        ..Default::default()
                    })
                    .await
                    .map_err(status_message)?
                    .into_inner();
                let completeness = consolidation
                    .get_completeness(pb::GetCompletenessRequest {
                        node_code: node.clone(),
                        fiscal_year: year,
                    })
                    .await
                    .map_err(status_message)?
                    .into_inner();
                let bytes = crate::workbook::write_consolidated(taxonomy, &report, &completeness)
                    .map_err(|e| error_chain(&e))?;
                write_new_file(&output, &bytes)?;
                sayln!(
                    "{node}'s consolidation ({} of {} units counted) is in {}",
                    report.units_counted,
                    report.units_expected,
                    output.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            let unit = unit.ok_or("--unit or --node")?;
            let stored = pb::submissions_client::SubmissionsClient::new(server.connect().await?)
                .max_decoding_message_size(64 * 1024 * 1024)
                .get_submission(pb::GetSubmissionRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                    include_disclosure: true,
                    ..Default::default()
                })
                .await
                .map_err(status_message)?
                .into_inner();
            let disclosure = stored.disclosure.ok_or("the service sent no disclosure")?;
            let findings = stored.report.map(|r| r.findings).unwrap_or_default();
            let bytes = crate::workbook::write_with_findings(taxonomy, &disclosure, &findings)
                .map_err(|e| error_chain(&e))?;
            write_new_file(&output, &bytes)?;
            sayln!("version {} is in {}", stored.version, output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Events(command) => budgets::events(command).await,
        Command::Consolidated(args) => consolidated::run(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Bench(command) => bench::run(command).await,
        Command::Health { server } => health(&server).await,
    }
}

/// One grpc.health.v1 check of the whole server, within five seconds.
async fn health(server: &str) -> Result<ExitCode, String> {
    use tonic_health::pb::{
        HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
    };
    let endpoint = tonic::transport::Endpoint::from_shared(server.to_owned())
        .map_err(|_| format!("--server {server:?} is not a URL such as http://127.0.0.1:8081"))?
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(5));
    let channel = endpoint
        .connect()
        .await
        .map_err(|e| format!("cannot reach {server}: {e}"))?;
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map_err(|e| format!("{server} did not answer the health check: {}", e.message()))?
        .into_inner()
        .status;
    if status == ServingStatus::Serving as i32 {
        println!("serving");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("not serving");
        Ok(ExitCode::from(1))
    }
}

fn violations_message(
    file: &std::path::Path,
    violations: Vec<crate::domain::error::FieldViolation>,
) -> String {
    const SHOWN: usize = 20;
    let mut message = format!("{} is not a valid disclosure:", file.display());
    let total = violations.len();
    for violation in violations.into_iter().take(SHOWN) {
        message.push_str(&format!("\n  {}", violation.under("disclosure")));
    }
    if total > SHOWN {
        message.push_str(&format!("\n  … and {} more problem(s)", total - SHOWN));
    }
    message
}

pub(crate) fn state_name(state: i32) -> &'static str {
    match pb::SubmissionState::try_from(state) {
        Ok(pb::SubmissionState::RejectedByRules) => "rejected by rules",
        Ok(pb::SubmissionState::PendingReview) => "pending review",
        Ok(pb::SubmissionState::Returned) => "returned",
        Ok(pb::SubmissionState::Accepted) => "accepted",
        _ => "unknown state",
    }
}

/// Watches per caller: at least one, at most every slot the service has.
fn parse_watch_limit(text: &str) -> Result<usize, String> {
    let total = crate::service::events::MAX_WATCHES;
    match text.parse::<usize>() {
        Ok(n) if (1..=total).contains(&n) => Ok(n),
        _ => Err(format!("give a whole number from 1 to {total}")),
    }
}

async fn serve(args: ServeArgs) -> Result<ExitCode, String> {
    telemetry::init(args.log_format, "info");
    let settings = Settings {
        listen: args.listen,
        data_dir: args.data_dir,
        database_url: args.database_url,
        taxonomy_dir: args.taxonomy.taxonomy_dir,
        health_listen: args.health_listen,
        metrics_listen: args.metrics_listen,
        web_listen: (!args.no_web).then_some(args.web_listen),
        limits: Limits {
            max_disclosure_bytes: args.max_disclosure_bytes,
            max_watches_per_principal: args.max_watches_per_principal,
        },
        tls: match (args.tls_cert, args.tls_key) {
            (Some(cert), Some(key)) => Some(configuration::TlsSettings {
                cert,
                key,
                client_ca: args.client_ca,
            }),
            _ => None,
        },
        insecure: args.insecure,
        audit_key: args.audit_key,
        checkpoint: configuration::CheckpointPolicy {
            every: std::time::Duration::from_secs(args.checkpoint_every),
            after_changes: args.checkpoint_after,
        },
    };
    settings.check_transport()?;
    let shutdown =
        startup::shutdown_signal().map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let app = startup::App::open(&settings)
        .await
        .map_err(|e| error_chain(&e))?;
    let listeners = startup::Listeners::bind(&settings).await?;
    startup::run_with(listeners, app, shutdown)
        .await
        .map_err(|e| error_chain(&e))?;
    Ok(ExitCode::SUCCESS)
}

/// An error with all of its causes, for the terminal.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        message.push_str(": ");
        message.push_str(&next.to_string());
        cause = next.source();
    }
    message
}

fn unit_line(unit: &pb::Unit, depth: usize) -> String {
    let mut roles = Vec::new();
    if unit.is_department {
        roles.push("主管部门");
    }
    if unit.is_region {
        roles.push("财政区划");
    }
    format!(
        "{}{}  {}  [{}–{}] region {}{}{}",
        "  ".repeat(depth),
        unit.code,
        unit.name,
        unit.valid_from_year,
        if unit.valid_to_year == 0 {
            String::new()
        } else {
            unit.valid_to_year.to_string()
        },
        unit.fiscal_region_code,
        if unit.parent_code.is_empty() {
            String::new()
        } else {
            format!(" parent {}", unit.parent_code)
        },
        if roles.is_empty() {
            String::new()
        } else {
            format!(" ({})", roles.join(", "))
        },
    )
}

async fn units(command: UnitsCommand) -> Result<ExitCode, String> {
    match command {
        UnitsCommand::Register(args) => {
            let unit = pb::Unit {
                code: args.code,
                name: args.name,
                valid_from_year: args.from_year,
                valid_to_year: args.to_year.unwrap_or(0),
                budget_level: level_to_pb(args.level) as i32,
                unit_type: args.unit_type.map_or(0, |t| type_to_pb(t) as i32),
                parent_code: args.parent.unwrap_or_default(),
                supervising_department_code: args.supervising_department.unwrap_or_default(),
                fiscal_region_code: args.region,
                is_department: args.department,
                is_region: args.region_node,
            };
            let mut client =
                pb::unit_registry_client::UnitRegistryClient::new(args.server.connect().await?);
            let response = client
                .register_unit(pb::RegisterUnitRequest { unit: Some(unit) })
                .await
                .map_err(status_message)?
                .into_inner();
            let unit = response.unit.unwrap_or_default();
            sayln!(
                "{} {}",
                if response.unchanged {
                    "already registered:"
                } else {
                    "registered:"
                },
                unit_line(&unit, 0)
            );
            Ok(ExitCode::SUCCESS)
        }
        UnitsCommand::Get {
            code,
            year,
            server,
            format,
        } => {
            let mut client =
                pb::unit_registry_client::UnitRegistryClient::new(server.connect().await?);
            let unit = client
                .get_unit(pb::GetUnitRequest {
                    code,
                    fiscal_year: year,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            match format {
                Format::Table => sayln!("{}", unit_line(&unit, 0)),
                Format::Json => sayln!("{}", json::to_json("Unit", &unit)),
            }
            Ok(ExitCode::SUCCESS)
        }
        UnitsCommand::List {
            root,
            year,
            server,
            format,
        } => {
            let mut client =
                pb::unit_registry_client::UnitRegistryClient::new(server.connect().await?);
            let response = client
                .list_units(pb::ListUnitsRequest {
                    root_code: root.unwrap_or_default(),
                    fiscal_year: year,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            match format {
                Format::Table => {
                    for node in &response.units {
                        sayln!(
                            "{}",
                            unit_line(
                                node.unit.as_ref().unwrap_or(&pb::Unit::default()),
                                node.depth as usize
                            )
                        );
                    }
                    sayln!("{} unit(s)", response.units.len());
                }
                Format::Json => sayln!("{}", json::to_json("ListUnitsResponse", &response)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn level_to_pb(level: BudgetLevel) -> pb::BudgetLevel {
    match level {
        BudgetLevel::Central => pb::BudgetLevel::Central,
        BudgetLevel::Provincial => pb::BudgetLevel::Provincial,
        BudgetLevel::Prefecture => pb::BudgetLevel::Prefecture,
        BudgetLevel::County => pb::BudgetLevel::County,
        BudgetLevel::Township => pb::BudgetLevel::Township,
    }
}

fn type_to_pb(kind: UnitType) -> pb::UnitType {
    match kind {
        UnitType::Administrative => pb::UnitType::Administrative,
        UnitType::PublicInstitutionClass1 => pb::UnitType::PublicInstitutionClass1,
        UnitType::PublicInstitutionClass2 => pb::UnitType::PublicInstitutionClass2,
        UnitType::PublicInstitutionCommercial => pb::UnitType::PublicInstitutionCommercial,
        UnitType::Enterprise => pb::UnitType::Enterprise,
        UnitType::Other => pb::UnitType::Other,
    }
}

fn submission_line(s: &pb::Submission) -> String {
    let report = s.report.clone().unwrap_or_default();
    let mut line = format!(
        "v{}{}  {}  {} error(s) {} warning(s) ({} unexplained)  {} bytes  sm3 {}…  key {}  by {}{}",
        s.version,
        if s.current { " (current)" } else { "" },
        state_name(s.state),
        report.error_count,
        report.warning_count,
        report.unexplained_warning_count,
        s.content_bytes,
        s.content_sm3.get(..16).unwrap_or(&s.content_sm3),
        s.idempotency_key,
        s.submitted_by,
        if s.signature.is_empty() {
            ""
        } else {
            "  SM2-signed"
        }
    );
    if !s.review_reason.is_empty() {
        line.push_str(&format!("\n    returned: {}", s.review_reason));
    }
    line
}

/// A stored version: its summary line and findings, or its JSON mapping.
fn print_submission(submission: &pb::Submission, format: Format) {
    match format {
        Format::Table => {
            sayln!("{}", submission_line(submission));
            say!(
                "{}",
                output::report(&submission.report.clone().unwrap_or_default())
            );
        }
        Format::Json => sayln!("{}", json::to_json("Submission", submission)),
    }
}

async fn submissions(command: SubmissionsCommand) -> Result<ExitCode, String> {
    match command {
        SubmissionsCommand::List {
            unit,
            year,
            server,
            format,
        } => {
            let mut client =
                pb::submissions_client::SubmissionsClient::new(server.connect().await?);
            let response = client
                .list_submissions(pb::ListSubmissionsRequest {
                    unit_code: unit,
                    fiscal_year: year,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            match format {
                Format::Table => {
                    for s in &response.submissions {
                        sayln!("{}", submission_line(s));
                    }
                    sayln!("{} version(s)", response.submissions.len());
                }
                Format::Json => sayln!("{}", json::to_json("ListSubmissionsResponse", &response)),
            }
            Ok(ExitCode::SUCCESS)
        }
        SubmissionsCommand::Get {
            unit,
            year,
            version,
            include_disclosure,
            server,
            format,
        } => {
            let mut client =
                pb::submissions_client::SubmissionsClient::new(server.connect().await?);
            let submission = client
                .get_submission(pb::GetSubmissionRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version: version.unwrap_or(0),
                    include_disclosure,
                    report_type: 0,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print_submission(&submission, format);
            Ok(ExitCode::SUCCESS)
        }
        SubmissionsCommand::Explain {
            unit,
            year,
            version,
            explanations,
            server,
            format,
        } => {
            let mut client =
                pb::submissions_client::SubmissionsClient::new(server.connect().await?);
            let submission = client
                .explain_findings(pb::ExplainFindingsRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version: version.unwrap_or(0),
                    explanations: explanations.into_iter().collect(),
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print_submission(&submission, format);
            Ok(ExitCode::SUCCESS)
        }
    }
}

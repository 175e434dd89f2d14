//! `juesuan publish` and `juesuan check-publication`: the public document written from a disclosure file or a
//! unit's accepted version in the service, and published documents checked (one, or a directory of them with one
//! summary table).

use std::{path::PathBuf, process::ExitCode};

use super::{
    Format, TaxonomyArgs, client::ServerArgs, client::status_message, is_workbook, json,
    read_disclosure, read_workbook, sayln, violations_message, write_new_file,
};
use crate::{
    api::{convert, publication::report_to_pb},
    domain::disclosure::Disclosure,
    pb,
    publication::{
        self,
        check::{Accepted, Aspect, check},
        read::{MAX_DOCUMENT_BYTES, read},
    },
};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The disclosure (.xlsx or proto JSON); or, with --unit and --year, the unit's accepted version in the
    /// service, with last year's accepted version for the changes.
    #[arg(required_unless_present = "unit")]
    file: Option<PathBuf>,
    /// Last year's disclosure of the unit, for the changes on last year (with FILE).
    #[arg(long, requires = "file")]
    last_year: Option<PathBuf>,
    #[arg(long, conflicts_with = "file", requires = "year")]
    unit: Option<String>,
    #[arg(long)]
    year: Option<u32>,
    /// The document to write: .html or .docx.
    #[arg(short = 'o', long)]
    output: PathBuf,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
}

#[derive(clap::Args)]
pub struct CheckPublicationArgs {
    /// A published document (.docx, .html, .txt, or a PDF with a text layer), or a directory of them.
    path: PathBuf,
    /// Check every printed figure against this disclosure (.xlsx or proto JSON) as the accepted one.
    #[arg(long, conflicts_with = "unit")]
    against: Option<PathBuf>,
    /// With --against: last year's disclosure, for the changes the text states.
    #[arg(long, requires = "against")]
    last_year: Option<PathBuf>,
    /// Check against this unit's accepted version in the service (with --year).
    #[arg(long, requires = "year")]
    unit: Option<String>,
    #[arg(long, requires = "unit")]
    year: Option<u32>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    server: ServerArgs,
    #[command(flatten)]
    taxonomy: TaxonomyArgs,
}

pub async fn publish(args: PublishArgs) -> Result<ExitCode, String> {
    let html = match args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("html" | "htm") => true,
        Some("docx") => false,
        _ => return Err("-o names the document to write: it ends in .html or .docx".into()),
    };
    if let (Some(unit), Some(year)) = (&args.unit, args.year) {
        let mut client =
            pb::publications_client::PublicationsClient::new(args.server.connect().await?)
                .max_decoding_message_size(64 * 1024 * 1024);
        let published = client
            .publish_disclosure(pb::PublishDisclosureRequest {
                unit_code: unit.clone(),
                fiscal_year: year,
                format: if html {
                    pb::DocumentFormat::Html
                } else {
                    pb::DocumentFormat::Docx
                } as i32,
            })
            .await
            .map_err(status_message)?
            .into_inner();
        write_new_file(&args.output, &published.document)?;
        sayln!(
            "{} is written from accepted version {}{} ({} paragraph(s) with 【请填写：…】 for a person to write)",
            args.output.display(),
            published.accepted_version,
            if published.with_last_year {
                ", with last year's for the changes"
            } else {
                "; last year has no accepted version, so no changes are stated"
            },
            published.placeholders
        );
        return Ok(ExitCode::SUCCESS);
    }
    let file = args
        .file
        .as_ref()
        .ok_or("give a disclosure file, or --unit and --year")?;
    let taxonomies = args.taxonomy.load()?;
    let (year_taxonomy, disclosure) = resolved(&taxonomies, file)?;
    let last = match &args.last_year {
        Some(path) => Some(resolved(&taxonomies, path)?.1),
        None => None,
    };
    let document = publication::compose(&year_taxonomy, &disclosure, last.as_ref())
        .map_err(|e| e.to_string())?;
    let bytes = if html {
        publication::html::write(&document).into_bytes()
    } else {
        publication::docx::write(&document)?
    };
    write_new_file(&args.output, &bytes)?;
    sayln!(
        "{} is in {} ({} parts, {} headings; {} paragraph(s) with 【请填写：…】 for a person to write)",
        document.title,
        args.output.display(),
        document.parts.len(),
        document.outline().len() - document.parts.len(),
        document.placeholders()
    );
    Ok(ExitCode::SUCCESS)
}

/// A disclosure file read and resolved against its year's taxonomy.
fn resolved(
    taxonomies: &crate::domain::taxonomy::Taxonomies,
    path: &PathBuf,
) -> Result<
    (
        std::sync::Arc<crate::domain::taxonomy::Taxonomy>,
        Disclosure,
    ),
    String,
> {
    let given = if is_workbook(path) {
        read_workbook(path, taxonomies)?
    } else {
        read_disclosure(path)?
    };
    let draft = convert::disclosure_draft(given).map_err(|v| violations_message(path, v))?;
    crate::domain::submission::resolve(taxonomies, draft).map_err(|v| violations_message(path, v))
}

/// The documents a directory holds, in name order.
fn documents_in(dir: &std::path::Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension()
                    .and_then(|e| e.to_str())
                    .map(str::to_ascii_lowercase)
                    .is_some_and(|e| matches!(e.as_str(), "docx" | "html" | "htm" | "txt" | "pdf"))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// One document's outcome: its report, or why it could not be read.
type Outcome = Result<pb::CheckPublicationResponse, String>;

pub async fn check_publication(args: CheckPublicationArgs) -> Result<ExitCode, String> {
    let files = if args.path.is_dir() {
        documents_in(&args.path)?
    } else {
        vec![args.path.clone()]
    };
    if files.is_empty() {
        return Err(format!(
            "{} holds no .docx, .html, .txt or .pdf document",
            args.path.display()
        ));
    }
    let taxonomies = args.taxonomy.load()?;
    let against = match &args.against {
        Some(path) => Some(resolved(&taxonomies, path)?.1),
        None => None,
    };
    let last_year = match &args.last_year {
        Some(path) => Some(resolved(&taxonomies, path)?.1),
        None => None,
    };
    let mut client = match &args.unit {
        Some(_) => Some(
            pb::publications_client::PublicationsClient::new(args.server.connect().await?)
                .max_encoding_message_size(MAX_DOCUMENT_BYTES + 64 * 1024),
        ),
        None => None,
    };
    let mut outcomes: Vec<(PathBuf, Outcome)> = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = match std::fs::metadata(file) {
            Ok(m) if m.len() > MAX_DOCUMENT_BYTES as u64 => {
                Err(format!("is larger than {MAX_DOCUMENT_BYTES} bytes"))
            }
            _ => std::fs::read(file).map_err(|e| format!("cannot be read: {e}")),
        };
        let outcome: Outcome = match (bytes, client.as_mut()) {
            (Err(e), _) => Err(e),
            (Ok(bytes), Some(client)) => client
                .check_publication(pb::CheckPublicationRequest {
                    document: bytes,
                    file_name: name,
                    unit_code: args.unit.clone().unwrap_or_default(),
                    fiscal_year: args.year.unwrap_or_default(),
                })
                .await
                .map(|r| r.into_inner())
                .map_err(status_message),
            (Ok(bytes), None) => read(&name, &bytes)
                .map_err(|e| e.to_string())
                .and_then(|document| {
                    check(
                        &taxonomies,
                        &document,
                        against.as_ref().map(|disclosure| Accepted {
                            disclosure,
                            last_year: last_year.as_ref(),
                        }),
                    )
                    .map_err(|e| e.to_string())
                })
                .map(|report| report_to_pb(report, None)),
        };
        outcomes.push((file.clone(), outcome));
    }
    match args.format {
        Format::Json => {
            let items: Vec<String> = outcomes
                .iter()
                .map(|(file, outcome)| match outcome {
                    Ok(report) => format!(
                        "{{\"file\":{},\"report\":{}}}",
                        serde_json::Value::String(file.display().to_string()),
                        json::to_json("CheckPublicationResponse", report)
                    ),
                    Err(why) => format!(
                        "{{\"file\":{},\"unreadable\":{}}}",
                        serde_json::Value::String(file.display().to_string()),
                        serde_json::Value::String(why.clone())
                    ),
                })
                .collect();
            if args.path.is_dir() {
                sayln!("[{}]", items.join(","));
            } else {
                sayln!("{}", items.join(""));
            }
        }
        Format::Table => {
            for (file, outcome) in &outcomes {
                print_one(file, outcome);
            }
            if args.path.is_dir() {
                print_summary(&outcomes);
            }
        }
    }
    let unreadable = outcomes.iter().any(|(_, o)| o.is_err());
    let failed = outcomes.iter().any(|(_, o)| {
        o.as_ref().is_ok_and(|r| {
            r.checks
                .iter()
                .any(|c| c.outcome == pb::CheckOutcome::Fail as i32)
        })
    });
    Ok(if unreadable {
        ExitCode::from(2)
    } else if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn outcome_name(outcome: i32) -> &'static str {
    match pb::CheckOutcome::try_from(outcome) {
        Ok(pb::CheckOutcome::Pass) => "PASS",
        Ok(pb::CheckOutcome::Fail) => "FAIL",
        Ok(pb::CheckOutcome::Uncertain) => "UNCERTAIN",
        _ => "?",
    }
}

fn counts(report: &pb::CheckPublicationResponse) -> [usize; 3] {
    [
        pb::CheckOutcome::Pass,
        pb::CheckOutcome::Fail,
        pb::CheckOutcome::Uncertain,
    ]
    .map(|o| {
        report
            .checks
            .iter()
            .filter(|c| c.outcome == o as i32)
            .count()
    })
}

fn print_one(file: &std::path::Path, outcome: &Outcome) {
    let report = match outcome {
        Ok(report) => report,
        Err(why) => {
            sayln!("{}: cannot be checked: {why}", file.display());
            return;
        }
    };
    sayln!(
        "{}: {} {}年度 · {}{}",
        file.display(),
        if report.unit_name.is_empty() {
            "（单位名称未知）"
        } else {
            &report.unit_name
        },
        report.fiscal_year,
        report.format,
        if report.accepted_version > 0 {
            format!(" · 对照已审核第{}版", report.accepted_version)
        } else {
            String::new()
        }
    );
    for check in &report.checks {
        let aspect: &str = match Aspect::from_key(&check.aspect) {
            Some(aspect) => aspect.name(),
            None => &check.aspect,
        };
        sayln!(
            "  {:<9} {:<8} {}",
            outcome_name(check.outcome),
            aspect,
            check.what
        );
        if !check.evidence.is_empty() || !check.at.is_empty() {
            sayln!(
                "  {:<9} {:<8} {}{}",
                "",
                "",
                if check.evidence.is_empty() {
                    String::new()
                } else {
                    format!("「{}」", check.evidence)
                },
                if check.at.is_empty() {
                    String::new()
                } else {
                    format!(" 〔{}〕", check.at)
                }
            );
        }
    }
    if !report.unchecked.is_empty() {
        sayln!("  未能检查（不计为通过）:");
        for part in &report.unchecked {
            sayln!("    - {}：{}", part.what, part.why);
        }
    }
    let [pass, fail, uncertain] = counts(report);
    sayln!(
        "  PASS {pass} · FAIL {fail} · UNCERTAIN {uncertain} · 未能检查 {}",
        report.unchecked.len()
    );
    sayln!("");
}

fn print_summary(outcomes: &[(PathBuf, Outcome)]) {
    sayln!(
        "FILE                             UNIT                     YEAR  PASS  FAIL  UNCERTAIN  未能检查"
    );
    for (file, outcome) in outcomes {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        match outcome {
            Ok(report) => {
                let [pass, fail, uncertain] = counts(report);
                sayln!(
                    "{:<32} {:<24} {:<5} {:>4}  {:>4}  {:>9}  {:>8}",
                    name,
                    report.unit_name,
                    report.fiscal_year,
                    pass,
                    fail,
                    uncertain,
                    report.unchecked.len()
                );
            }
            Err(why) => sayln!("{name:<32} cannot be checked: {why}"),
        }
    }
}

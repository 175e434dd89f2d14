//! A directory of disclosures at once — `juesuan submit DIR` and `juesuan import DIR -o OUT` — with a progress bar
//! (drawn only when stderr is a terminal) and a summary of what was taken and what was refused, and why.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use super::{
    ServerArgs, import_files, json, progress::Progress, read_disclosure, sayln, state_name,
    status_message,
};
use crate::{domain::taxonomy::Taxonomies, pb};

/// Most files one run takes: a province's units are about 100,000.
const MAX_FILES: usize = 200_000;

/// The disclosure files of a directory (.xlsx and .json), in name order.
pub(super) fn files_in(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        let wanted = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("xlsx") || e.eq_ignore_ascii_case("json"));
        if wanted && path.is_file() {
            files.push(path);
            if files.len() > MAX_FILES {
                return Err(format!(
                    "{} holds more than {MAX_FILES} disclosure files; split it",
                    dir.display()
                ));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(format!("{} holds no .xlsx or .json files", dir.display()));
    }
    Ok(files)
}

/// What became of one file: its unit and what was done, or why not.
struct Outcome {
    file: String,
    unit: String,
    result: Result<String, String>,
}

fn progress(total: usize) -> Progress {
    Progress::new("files", total)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// A refusal in one line: a workbook's first problem (the file is named in its row), else the message's first
/// line, with how many more there are.
fn reason(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let rest: Vec<&str> = lines.map(str::trim).collect();
    let (shown, more) = if first.contains("nothing was taken from it")
        && first.ends_with(':')
        && !rest.is_empty()
    {
        (rest[0], rest.len() - 1)
    } else {
        (first, rest.len())
    };
    match more {
        0 => shown.to_owned(),
        n => format!("{shown} (and {n} more)"),
    }
}

/// Prints the summary; exits 1 when any file was refused.
fn summarize(outcomes: &[Outcome], done: &str) -> ExitCode {
    sayln!("| file | unit | result |");
    sayln!("|---|---|---|");
    for outcome in outcomes {
        let result = match &outcome.result {
            Ok(what) => what.clone(),
            Err(why) => format!("REFUSED: {why}"),
        };
        sayln!("| {} | {} | {} |", outcome.file, outcome.unit, result);
    }
    let refused = outcomes.iter().filter(|o| o.result.is_err()).count();
    sayln!(
        "{} {done}, {refused} refused, of {} files",
        outcomes.len() - refused,
        outcomes.len()
    );
    if refused == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Submits every disclosure of `dir`, each with its unit's token from `token_dir/<unit code>.token` when there is
/// one (a bureau submitting on its units' behalf), else with the caller's.
pub(super) async fn submit_dir(
    dir: &Path,
    server: &ServerArgs,
    token_dir: Option<&Path>,
) -> Result<ExitCode, String> {
    let files = files_in(dir)?;
    let mut bar = progress(files.len());
    let mut outcomes = Vec::with_capacity(files.len());
    for path in &files {
        bar.set_message(file_name(path));
        let mut unit = String::new();
        let result = async {
            let disclosure = read_disclosure(path)?;
            unit = disclosure
                .cover
                .as_ref()
                .map_or_else(String::new, |c| c.unit_code.clone());
            let mut server = server.clone();
            if let Some(token_dir) = token_dir {
                let token_file = token_dir.join(format!("{unit}.token"));
                if unit.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && token_file.is_file()
                {
                    server.token_file = Some(token_file);
                }
            }
            let encoded = prost::Message::encode_to_vec(&disclosure);
            let response = pb::submissions_client::SubmissionsClient::new(server.connect().await?)
                .max_encoding_message_size(64 * 1024 * 1024)
                .max_decoding_message_size(64 * 1024 * 1024)
                .submit(pb::SubmitRequest {
                    idempotency_key: format!(
                        "sm3:{}",
                        crate::domain::submission::content_digest(&encoded)
                    ),
                    disclosure: Some(disclosure),
                    ..Default::default()
                })
                .await
                .map_err(status_message)?
                .into_inner();
            let submission = response.submission.unwrap_or_default();
            let report = submission.report.unwrap_or_default();
            Ok::<_, String>(format!(
                "{}version {} ({}), {} errors, {} warnings",
                if response.replayed {
                    "already submitted: "
                } else {
                    ""
                },
                submission.version,
                state_name(submission.state),
                report.error_count,
                report.warning_count
            ))
        }
        .await;
        outcomes.push(Outcome {
            file: file_name(path),
            unit,
            result: result.map_err(|e| reason(&e)),
        });
        bar.inc();
    }
    bar.finish();
    Ok(summarize(&outcomes, "submitted"))
}

/// Reads every workbook of `dir` into `out_dir/<name>.json`; writes none for a workbook that does not read whole.
pub(super) fn import_dir(
    dir: &Path,
    out_dir: &Path,
    taxonomies: &Taxonomies,
    options: &crate::workbook::ImportOptions,
) -> Result<ExitCode, String> {
    let files: Vec<PathBuf> = files_in(dir)?
        .into_iter()
        .filter(|p| {
            p.extension().is_some_and(|e| {
                ["xlsx", "xls", "ods"]
                    .iter()
                    .any(|known| e.eq_ignore_ascii_case(known))
            })
        })
        .collect();
    std::fs::create_dir_all(out_dir)
        .map_err(|e| format!("cannot make {}: {e}", out_dir.display()))?;
    let mut bar = progress(files.len());
    let mut outcomes = Vec::with_capacity(files.len());
    for path in &files {
        bar.set_message(file_name(path));
        let mut unit = String::new();
        let result =
            import_files(std::slice::from_ref(path), taxonomies, options).and_then(|imported| {
                let disclosure = imported.disclosure;
                unit = disclosure
                    .cover
                    .as_ref()
                    .map_or_else(String::new, |c| c.unit_code.clone());
                let target =
                    out_dir.join(path.with_extension("json").file_name().unwrap_or_default());
                std::fs::write(&target, json::to_json("Disclosure", &disclosure))
                    .map_err(|e| format!("cannot write {}: {e}", target.display()))?;
                Ok(format!(
                    "{} tables → {}",
                    disclosure.tables.len(),
                    file_name(&target)
                ))
            });
        outcomes.push(Outcome {
            file: file_name(path),
            unit,
            result: result.map_err(|e| reason(&e)),
        });
        bar.inc();
    }
    bar.finish();
    Ok(summarize(&outcomes, "imported"))
}

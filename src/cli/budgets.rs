//! `juesuan budgets …` (a budget system's figures, put and read) and `juesuan events watch` (a subtree's events as
//! they happen, resumable by cursor).

use std::{path::PathBuf, process::ExitCode};

use clap::Subcommand;

use super::{Format, ServerArgs, json, sayln, status_message};
use crate::pb;

#[derive(Subcommand)]
pub enum BudgetsCommand {
    /// Put a unit's budget figures (年初预算数) as a new version: FILE is the proto JSON mapping of
    /// juesuan.v1.PutBudgetRequest (unit_code, fiscal_year, figures [{table, row, column, value}]). Needs a
    /// service principal's token (a budget system's).
    Put {
        file: PathBuf,
        /// Key that makes the put safe to retry; default: the key in the file, else the file's SM3 digest.
        #[arg(long)]
        idempotency_key: Option<String>,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show a unit's budget figures for a year: the latest version, or --version.
    Get {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[arg(long, default_value_t = 0)]
        version: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

#[derive(Subcommand)]
pub enum EventsCommand {
    /// Follow a node's subtree for a year: every event after --after, then each new one as it happens, with its
    /// cursor (Ctrl-C stops; give the last cursor as --after to go on from there).
    Watch {
        #[arg(long)]
        node: String,
        #[arg(long)]
        year: u32,
        /// The last cursor received before (0: from the beginning).
        #[arg(long, default_value_t = 0)]
        after: u64,
        #[command(flatten)]
        server: ServerArgs,
        /// Table: one line per event; json: one WatchEvent per line.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

fn print_budget(budget: &pb::Budget, format: Format) {
    match format {
        Format::Json => sayln!("{}", json::to_json("Budget", budget)),
        Format::Table => {
            sayln!(
                "{} {} version {} (key {}, put by {})",
                budget.unit_code,
                budget.fiscal_year,
                budget.version,
                budget.idempotency_key,
                budget.put_by
            );
            for figure in &budget.figures {
                sayln!(
                    "  {}/{}/{}  {}",
                    figure.table,
                    figure.row,
                    figure.column,
                    figure.value.as_ref().map_or("", |v| v.value.as_str())
                );
            }
        }
    }
}

pub async fn budgets(command: BudgetsCommand) -> Result<ExitCode, String> {
    match command {
        BudgetsCommand::Put {
            file,
            idempotency_key,
            server,
            format,
        } => {
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let text = String::from_utf8(bytes)
                .map_err(|_| format!("{} is not UTF-8 text", file.display()))?;
            let mut request: pb::PutBudgetRequest = json::from_json("PutBudgetRequest", &text)
                .map_err(|e| format!("{} is not a PutBudgetRequest: {e}", file.display()))?;
            if let Some(key) = idempotency_key {
                request.idempotency_key = key;
            } else if request.idempotency_key.is_empty() {
                request.idempotency_key = format!(
                    "sm3:{}",
                    crate::domain::submission::content_digest(text.as_bytes())
                );
            }
            let response = pb::budgets_client::BudgetsClient::new(server.connect().await?)
                .put_budget(request)
                .await
                .map_err(status_message)?
                .into_inner();
            let budget = response.budget.unwrap_or_default();
            if response.replayed && format == Format::Table {
                sayln!("already put with this key: nothing new stored");
            }
            print_budget(&budget, format);
            Ok(ExitCode::SUCCESS)
        }
        BudgetsCommand::Get {
            unit,
            year,
            version,
            server,
            format,
        } => {
            let response = pb::budgets_client::BudgetsClient::new(server.connect().await?)
                .get_budget(pb::GetBudgetRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            print_budget(&response.budget.unwrap_or_default(), format);
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn events(command: EventsCommand) -> Result<ExitCode, String> {
    let EventsCommand::Watch {
        node,
        year,
        after,
        server,
        format,
    } = command;
    let mut stream = pb::events_client::EventsClient::new(server.connect().await?)
        .watch(pb::WatchRequest {
            node_code: node,
            fiscal_year: year,
            after_cursor: after,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    loop {
        match stream.message().await {
            Ok(Some(watched)) => match format {
                Format::Json => sayln!("{}", json::to_json("WatchEvent", &watched)),
                Format::Table => {
                    let event = watched.event.unwrap_or_default();
                    sayln!(
                        "cursor {}  {}  {}  {}{}  {}{}",
                        watched.cursor,
                        event
                            .at
                            .as_ref()
                            .map_or_else(String::new, super::output::timestamp),
                        event.action,
                        event.unit_code,
                        match event.version {
                            0 => String::new(),
                            version => format!(" v{version}"),
                        },
                        event.actor,
                        if watched.consolidation_changed {
                            "  (consolidation changed)"
                        } else {
                            ""
                        }
                    );
                }
            },
            Ok(None) => return Ok(ExitCode::SUCCESS),
            Err(status) => return Err(status_message(status)),
        }
    }
}

//! `juesuan review …` (the review chain) and `juesuan audit …` (the SM3-chained audit trail).

use std::{path::PathBuf, process::ExitCode};

use clap::Subcommand;

use super::{Format, ServerArgs, json, sayln, state_name, status_message};
use crate::service::audit::AuditTrail;
use crate::{domain::audit::KeptHead, pb};

#[derive(Subcommand)]
pub enum ReviewCommand {
    /// The versions of a node's subtree waiting for review.
    Pending {
        #[arg(long)]
        node: String,
        #[arg(long)]
        year: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Accept (审核通过) a unit's current version: a reviewer of the unit's parent. Refused while it has an
    /// ERROR or an unexplained WARNING.
    Accept {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        /// The version you reviewed (it must still be the current one).
        #[arg(long)]
        version: u32,
        /// A note for the audit trail.
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Return (退回) a unit's current version with the reason, which the unit reads.
    Return {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[arg(long)]
        version: u32,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Make an earlier accepted version current and counted again (nothing is deleted).
    Revert {
        #[arg(long)]
        unit: String,
        #[arg(long)]
        year: u32,
        #[arg(long)]
        version: u32,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Lock (封账) a node's subtree for the year: no submission or review decision in it until unlocked.
    Lock {
        #[arg(long)]
        node: String,
        #[arg(long)]
        year: u32,
        #[arg(long, default_value = "")]
        comment: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Unlock a node's subtree: a reviewer at the node that locked it, or above; a reason is required.
    Unlock {
        #[arg(long)]
        node: String,
        #[arg(long)]
        year: u32,
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

fn status_line(status: &pb::YearStatus) -> String {
    format!(
        "{}/{}: current version {} ({}), accepted version {}{}",
        status.unit_code,
        status.fiscal_year,
        status.current_version,
        state_name(status.current_state),
        match status.accepted_version {
            0 => "none".to_owned(),
            v => v.to_string(),
        },
        if status.locked {
            format!(", locked at {}", status.locked_at_node)
        } else {
            String::new()
        }
    )
}

fn lock_line(lock: &pb::LockResponse) -> String {
    format!(
        "{}/{}: {}; {} of {} unit(s) in the subtree have an accepted version (audit event {})",
        lock.node_code,
        lock.fiscal_year,
        if lock.locked {
            format!("locked by {}", lock.locked_by_node)
        } else {
            "unlocked".to_owned()
        },
        lock.units_accepted,
        lock.units,
        lock.audit_seq
    )
}

pub async fn run(command: ReviewCommand) -> Result<ExitCode, String> {
    let client = |server: ServerArgs| async move {
        Ok::<_, String>(pb::review_client::ReviewClient::new(
            server.connect().await?,
        ))
    };
    let decided = |response: pb::ReviewResponse, what: &str| {
        sayln!(
            "{what}: {} (audit event {})",
            status_line(&response.status.unwrap_or_default()),
            response.audit_seq
        );
        Ok(ExitCode::SUCCESS)
    };
    match command {
        ReviewCommand::Pending {
            node,
            year,
            server,
            format,
        } => {
            let response = client(server)
                .await?
                .list_pending(pb::ListPendingRequest {
                    node_code: node,
                    fiscal_year: year,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            match format {
                Format::Table => {
                    for p in &response.pending {
                        let unit = p.unit.clone().unwrap_or_default();
                        sayln!(
                            "{}  {}  v{}  {} warning(s), {} unexplained{}  reviewed by {}",
                            unit.code,
                            unit.name,
                            p.version,
                            p.warning_count,
                            p.unexplained_warning_count,
                            if p.unexplained_warning_count == 0 {
                                " — ready to accept"
                            } else {
                                ""
                            },
                            p.reviewer_node
                        );
                    }
                    sayln!("{} version(s) pending review", response.pending.len());
                }
                Format::Json => sayln!("{}", json::to_json("ListPendingResponse", &response)),
            }
            Ok(ExitCode::SUCCESS)
        }
        ReviewCommand::Accept {
            unit,
            year,
            version,
            comment,
            server,
        } => {
            let response = client(server)
                .await?
                .accept(pb::AcceptRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                    comment,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            decided(response, "accepted")
        }
        ReviewCommand::Return {
            unit,
            year,
            version,
            reason,
            server,
        } => {
            let response = client(server)
                .await?
                .r#return(pb::ReturnRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                    reason,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            decided(response, "returned")
        }
        ReviewCommand::Revert {
            unit,
            year,
            version,
            reason,
            server,
        } => {
            let response = client(server)
                .await?
                .revert(pb::RevertRequest {
                    unit_code: unit,
                    fiscal_year: year,
                    version,
                    reason,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            decided(response, "reverted")
        }
        ReviewCommand::Lock {
            node,
            year,
            comment,
            server,
        } => {
            let response = client(server)
                .await?
                .lock(pb::LockRequest {
                    node_code: node,
                    fiscal_year: year,
                    comment,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            sayln!("{}", lock_line(&response));
            Ok(ExitCode::SUCCESS)
        }
        ReviewCommand::Unlock {
            node,
            year,
            reason,
            server,
        } => {
            let response = client(server)
                .await?
                .unlock(pb::UnlockRequest {
                    node_code: node,
                    fiscal_year: year,
                    reason,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            sayln!("{}", lock_line(&response));
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Events in chain order: a node's subtree's (with --node and --year), or all of them (administrators).
    List {
        #[arg(long)]
        node: Option<String>,
        #[arg(long)]
        year: Option<u32>,
        /// Only events whose actor contains this text (e.g. a unit code or a token id).
        #[arg(long)]
        actor: Option<String>,
        /// Only the events of this unit (its own, not its subtree's).
        #[arg(long)]
        unit: Option<String>,
        /// Start after this event.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many events (1–1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Recompute the SM3 chain and name the first broken link, then recompute every stored version's digest
    /// from its stored bytes against the digest its submission event sealed into the chain; exits 1 when
    /// anything does not hold. Asks the service (administrators), or reads the store itself: --data-dir for the
    /// SQLite file (the service may be stopped), --database-url for PostgreSQL.
    Verify {
        #[arg(long, conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
        /// Read this PostgreSQL database itself.
        #[arg(long, value_parser = crate::configuration::DatabaseUrl::parse)]
        database_url: Option<crate::configuration::DatabaseUrl>,
        /// A head kept earlier, as `juesuan audit head` prints it: the chain must still reach it, unchanged.
        #[arg(long, value_name = "SEQ:DIGEST", value_parser = KeptHead::parse)]
        head: Option<KeptHead>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The chain's head (its last event's seq and hash), signed with the server's SM2 key: keep the line it
    /// prints elsewhere (a log, a ticket, a signed note); `audit verify --head SEQ:DIGEST` later shows whether the
    /// chain was cut short or rewritten since. Asks the service (administrators), or reads the store itself.
    Head {
        #[arg(long, conflicts_with = "database_url")]
        data_dir: Option<PathBuf>,
        /// Read this PostgreSQL database itself (with --audit-key).
        #[arg(long, value_parser = crate::configuration::DatabaseUrl::parse, requires = "audit_key")]
        database_url: Option<crate::configuration::DatabaseUrl>,
        /// Reading the store itself: the key that signs (default: audit-head.sm2 in --data-dir).
        #[arg(long)]
        audit_key: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
}

/// Opens the store an offline audit command names: the SQLite file of a data directory, or a PostgreSQL database.
async fn open_store(
    data_dir: Option<&std::path::Path>,
    database_url: Option<&crate::configuration::DatabaseUrl>,
) -> Result<Option<std::sync::Arc<dyn crate::store::Store>>, String> {
    match (data_dir, database_url) {
        (_, Some(url)) => crate::store::open_database(url.expose())
            .await
            .map(Some)
            .map_err(|e| super::error_chain(&e)),
        (Some(dir), None) => crate::store::open(dir, None)
            .await
            .map(Some)
            .map_err(|e| super::error_chain(&e)),
        (None, None) => Ok(None),
    }
}

fn verdict(response: &pb::VerifyChainResponse) -> ExitCode {
    if response.first_broken_seq == 0 {
        sayln!(
            "the audit chain is intact: {} event(s); head {}:{}",
            response.events,
            response.head_seq,
            response.head_hash
        );
    } else {
        sayln!(
            "the audit chain is BROKEN at event {}: {}",
            response.first_broken_seq,
            response.problem
        );
        sayln!(
            "events before {} verify; that event and every one after it cannot be trusted",
            response.first_broken_seq
        );
    }
    if !response.head_problem.is_empty() {
        sayln!("the kept head does NOT hold: {}", response.head_problem);
    }
    sayln!(
        "stored versions checked against the digests the chain recorded: {}; damaged: {}",
        response.versions_checked,
        response.damaged_versions.len()
    );
    for damaged in &response.damaged_versions {
        sayln!(
            "  {}/{} version {}: {} — it is not served (DATA_LOSS) until it is restored from a backup",
            damaged.unit_code,
            damaged.fiscal_year,
            damaged.version,
            damaged.problem
        );
    }
    if response.intact {
        sayln!(
            "keep the head elsewhere (`juesuan audit head` signs it): a later `audit verify --head SEQ:DIGEST` shows a chain cut short or rewritten"
        );
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

pub async fn audit(command: AuditCommand) -> Result<ExitCode, String> {
    match command {
        AuditCommand::List {
            node,
            year,
            actor,
            unit,
            after,
            limit,
            server,
            format,
        } => {
            let mut client = pb::audit_client::AuditClient::new(server.connect().await?);
            let response = client
                .list_events(pb::ListEventsRequest {
                    node_code: node.unwrap_or_default(),
                    fiscal_year: year.unwrap_or(0),
                    actor: actor.unwrap_or_default(),
                    after_seq: after,
                    limit,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            let events: Vec<&pb::AuditEvent> = response
                .events
                .iter()
                .filter(|e| unit.as_ref().is_none_or(|u| &e.unit_code == u))
                .collect();
            match format {
                Format::Table => {
                    for e in &events {
                        sayln!(
                            "#{} {}  {}  {}  {}{}{}{}{}",
                            e.seq,
                            e.at.as_ref()
                                .map_or_else(String::new, super::output::timestamp),
                            e.actor,
                            e.action,
                            e.unit_code,
                            if e.fiscal_year == 0 {
                                String::new()
                            } else {
                                format!("/{}", e.fiscal_year)
                            },
                            if e.version == 0 {
                                String::new()
                            } else {
                                format!(" v{}", e.version)
                            },
                            if e.reason.is_empty() {
                                String::new()
                            } else {
                                format!("  «{}»", e.reason)
                            },
                            if e.detail.is_empty() {
                                String::new()
                            } else {
                                format!("  {}", e.detail)
                            }
                        );
                    }
                    sayln!("{} event(s)", events.len());
                    if response.next_after_seq != 0 {
                        sayln!("more: --after {}", response.next_after_seq);
                    }
                }
                Format::Json => sayln!("{}", json::to_json("ListEventsResponse", &response)),
            }
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify {
            data_dir,
            database_url,
            head,
            server,
        } => {
            let response = match open_store(data_dir.as_deref(), database_url.as_ref()).await? {
                Some(store) => {
                    let verification = AuditTrail::new(store.clone())
                        .verify_unchecked(head)
                        .await
                        .map_err(|e| e.to_string());
                    store.close().await;
                    crate::api::convert::verification_to_pb(&verification?)
                }
                None => {
                    let mut client = pb::audit_client::AuditClient::new(server.connect().await?);
                    client
                        .verify_chain(pb::VerifyChainRequest {
                            kept_head_seq: head.map_or(0, |h| h.seq),
                            kept_head_hash: head.map(|h| hex::encode(h.hash)).unwrap_or_default(),
                        })
                        .await
                        .map_err(status_message)?
                        .into_inner()
                }
            };
            Ok(verdict(&response))
        }
        AuditCommand::Head {
            data_dir,
            database_url,
            audit_key,
            server,
            format,
        } => {
            let head = match open_store(data_dir.as_deref(), database_url.as_ref()).await? {
                Some(store) => {
                    let path = audit_key.unwrap_or_else(|| {
                        data_dir
                            .clone()
                            .unwrap_or_default()
                            .join(crate::configuration::AUDIT_KEY_FILE)
                    });
                    let text = std::fs::read(&path).map_err(|e| {
                        format!("cannot read the audit key {}: {e}", path.display())
                    })?;
                    let key = crate::domain::signing::parse_private_key(&text)
                        .map_err(|e| format!("the audit key {} {e}", path.display()))?;
                    let head = AuditTrail::new(store.clone())
                        .with_signer(std::sync::Arc::new(key))
                        .head_unchecked()
                        .await
                        .map_err(|e| e.to_string());
                    store.close().await;
                    crate::api::convert::head_to_pb(&head?)
                }
                None => pb::audit_client::AuditClient::new(server.connect().await?)
                    .get_head(pb::GetHeadRequest {})
                    .await
                    .map_err(status_message)?
                    .into_inner(),
            };
            match format {
                Format::Table => {
                    sayln!("{}:{}", head.seq, head.hash);
                    sayln!(
                        "signed (SM2, over \"juesuan-audit-head-v1\" ‖ seq ‖ hash) by the server key {}: {}",
                        head.public_key_fingerprint,
                        head.signature
                    );
                    sayln!(
                        "keep these lines elsewhere; later: juesuan audit verify --head {}:{}",
                        head.seq,
                        head.hash
                    );
                }
                Format::Json => sayln!("{}", json::to_json("ChainHead", &head)),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

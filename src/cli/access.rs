//! `juesuan tokens …` and `juesuan keys …`: principals' tokens and units' SM2 signing keys.

use std::{path::PathBuf, process::ExitCode};

use clap::{Args, Subcommand, ValueEnum};

use super::{Format, ServerArgs, json, sayln, status_message};
use crate::service::tokens::write_secret_file;
use crate::{domain::signing, pb};

#[derive(Subcommand)]
pub enum TokensCommand {
    /// Issue a token: for a unit with a role, a named service, or an administrator. The token is printed (or
    /// written with -o) this once; only its hash is kept.
    Issue(IssueArgs),
    /// List every token (without secrets).
    List {
        #[command(flatten)]
        server: ServerArgs,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Revoke a token by its id; it stops working at once.
    Revoke {
        id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Who the token you call with stands for.
    Whoami {
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Submits and explains its own unit's disclosures.
    Submitter,
    /// Reads the node's subtree.
    Reader,
    /// Reviews direct subordinates, locks the subtree (a department or region).
    Reviewer,
}

#[derive(Args)]
pub struct IssueArgs {
    /// The unit the token acts for (with --role).
    #[arg(long, requires = "role", conflicts_with_all = ["service", "admin"])]
    unit: Option<String>,
    /// The role at the unit.
    #[arg(long, value_enum)]
    role: Option<RoleArg>,
    /// A service principal (a budget system) by name.
    #[arg(long, conflicts_with = "admin")]
    service: Option<String>,
    /// An administrator token.
    #[arg(long)]
    admin: bool,
    /// When it stops working: a duration (90d, 12h, 30m) or a date (2026-12-31, UTC midnight).
    #[arg(long, value_parser = parse_expiry)]
    expires: Option<i64>,
    /// A note of what the token is for.
    #[arg(long, default_value = "")]
    label: String,
    /// Write the token to this file (readable by its owner only) instead of printing it.
    #[arg(short = 'o', long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Milliseconds since the epoch of an expiry given as a duration from now or a date.
fn parse_expiry(text: &str) -> Result<i64, String> {
    let now = crate::domain::audit::now_ms();
    let unit_ms = |suffix: char| match suffix {
        'd' => Some(86_400_000i64),
        'h' => Some(3_600_000),
        'm' => Some(60_000),
        _ => None,
    };
    if let Some(last) = text.chars().last()
        && let Some(ms) = unit_ms(last)
        && let Ok(n) = text[..text.len() - 1].parse::<i64>()
        && n > 0
    {
        return n
            .checked_mul(ms)
            .and_then(|d| now.checked_add(d))
            .ok_or_else(|| "too far in the future".to_owned());
    }
    let parts: Vec<&str> = text.split('-').collect();
    if let [y, m, d] = parts.as_slice()
        && let (Ok(y), Ok(m), Ok(d)) = (y.parse::<i64>(), m.parse::<u32>(), d.parse::<u32>())
        && (1970..=9999).contains(&y)
        && (1..=12).contains(&m)
        && (1..=31).contains(&d)
    {
        return Ok(days_from_civil(y, m, d) * 86_400_000);
    }
    Err("write a duration (90d, 12h, 30m) or a date (2026-12-31)".to_owned())
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn principal_line(principal: Option<&pb::Principal>) -> String {
    match principal.and_then(|p| p.kind.as_ref()) {
        Some(pb::principal::Kind::Admin(_)) => "admin".to_owned(),
        Some(pb::principal::Kind::ServiceName(name)) => format!("service {name}"),
        Some(pb::principal::Kind::Unit(unit)) => {
            let role = match pb::Role::try_from(unit.role) {
                Ok(pb::Role::Submitter) => "submitter",
                Ok(pb::Role::Reader) => "reader",
                Ok(pb::Role::Reviewer) => "reviewer",
                _ => "?",
            };
            format!("{} {role}", unit.unit_code)
        }
        None => "?".to_owned(),
    }
}

fn token_line(t: &pb::Token) -> String {
    use super::output::timestamp;
    let state = if let Some(at) = &t.revoked_at {
        format!("revoked {} by {}", timestamp(at), t.revoked_by)
    } else if let Some(at) = &t.expires_at {
        format!("expires {}", timestamp(at))
    } else {
        "no expiry".to_owned()
    };
    format!(
        "{}  {}  issued {} by {}  {}{}",
        t.id,
        principal_line(t.principal.as_ref()),
        t.issued_at.as_ref().map_or_else(String::new, timestamp),
        t.issued_by,
        state,
        if t.label.is_empty() {
            String::new()
        } else {
            format!("  — {}", t.label)
        }
    )
}

pub async fn tokens(command: TokensCommand) -> Result<ExitCode, String> {
    match command {
        TokensCommand::Issue(args) => {
            let kind = match (&args.unit, args.role, &args.service, args.admin) {
                (Some(unit), Some(role), None, false) => {
                    pb::principal::Kind::Unit(pb::UnitPrincipal {
                        unit_code: unit.clone(),
                        role: match role {
                            RoleArg::Submitter => pb::Role::Submitter,
                            RoleArg::Reader => pb::Role::Reader,
                            RoleArg::Reviewer => pb::Role::Reviewer,
                        } as i32,
                    })
                }
                (None, None, Some(name), false) => pb::principal::Kind::ServiceName(name.clone()),
                (None, None, None, true) => pb::principal::Kind::Admin(true),
                _ => {
                    return Err(
                        "say who the token is for: --unit CODE --role ROLE, --service NAME, or --admin"
                            .to_owned(),
                    );
                }
            };
            let mut client = pb::tokens_client::TokensClient::new(args.server.connect().await?);
            let response = client
                .issue_token(pb::IssueTokenRequest {
                    principal: Some(pb::Principal { kind: Some(kind) }),
                    expires_at: args.expires.map(|ms| prost_types::Timestamp {
                        seconds: ms.div_euclid(1000),
                        nanos: 0,
                    }),
                    label: args.label,
                })
                .await
                .map_err(status_message)?
                .into_inner();
            let token = response.token.unwrap_or_default();
            match args.output {
                Some(path) => {
                    write_secret_file(&path, &response.secret)
                        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                    sayln!("issued: {}", token_line(&token));
                    sayln!(
                        "the token is in {} (readable by you only); use it with --token-file {0} or \
                         JUESUAN_TOKEN_FILE={0}",
                        path.display()
                    );
                }
                None => {
                    eprintln!("issued: {}", token_line(&token));
                    eprintln!("the token (shown this once; only its hash is kept):");
                    sayln!("{}", response.secret);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::List { server, format } => {
            let mut client = pb::tokens_client::TokensClient::new(server.connect().await?);
            let response = client
                .list_tokens(pb::ListTokensRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            match format {
                Format::Table => {
                    for token in &response.tokens {
                        sayln!("{}", token_line(token));
                    }
                    sayln!("{} token(s)", response.tokens.len());
                }
                Format::Json => sayln!("{}", json::to_json("ListTokensResponse", &response)),
            }
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Revoke { id, server } => {
            let mut client = pb::tokens_client::TokensClient::new(server.connect().await?);
            let token = client
                .revoke_token(pb::RevokeTokenRequest { id })
                .await
                .map_err(status_message)?
                .into_inner();
            sayln!("revoked: {}", token_line(&token));
            Ok(ExitCode::SUCCESS)
        }
        TokensCommand::Whoami { server } => {
            let mut client = pb::tokens_client::TokensClient::new(server.connect().await?);
            let me = client
                .who_am_i(pb::WhoAmIRequest {})
                .await
                .map_err(status_message)?
                .into_inner();
            sayln!(
                "{} (credential {})",
                principal_line(me.principal.as_ref()),
                me.token_id
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Generate an SM2 key pair: the private key (64 hex digits) goes to a file readable by you only; the
    /// public key is printed, to register with `juesuan keys register`.
    Generate {
        /// Where to write the private key.
        #[arg(short = 'o', long)]
        output: PathBuf,
    },
    /// Register a unit's SM2 public key: from then on, its submissions must be signed (`submit --sign-key`).
    Register {
        #[arg(long)]
        unit: String,
        /// The public key, hex (SEC1: 130 digits starting 04).
        #[arg(
            long,
            conflicts_with = "private_key",
            required_unless_present = "private_key"
        )]
        public_key: Option<String>,
        /// Or derive it from the private key file `keys generate` wrote.
        #[arg(long)]
        private_key: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Clear a unit's signing key (an administrator or a reviewer of its region).
    Clear {
        #[arg(long)]
        unit: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

pub async fn keys(command: KeysCommand) -> Result<ExitCode, String> {
    let (unit, public_key, server) = match command {
        KeysCommand::Generate { output } => {
            let (private, public) = signing::generate();
            write_secret_file(&output, &hex::encode(private))
                .map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            sayln!(
                "private key written to {} (readable by you only)",
                output.display()
            );
            sayln!("public key: {}", hex::encode(&public));
            sayln!("fingerprint (SM3): {}", signing::fingerprint(&public));
            return Ok(ExitCode::SUCCESS);
        }
        KeysCommand::Register {
            unit,
            public_key,
            private_key,
            server,
        } => {
            let key = match (public_key, private_key) {
                (Some(hex_key), _) => {
                    hex::decode(hex_key.trim()).map_err(|_| "--public-key is not hex".to_owned())?
                }
                (None, Some(path)) => {
                    let text = std::fs::read(&path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                    let key = signing::parse_private_key(&text)
                        .map_err(|e| format!("{}: {e}", path.display()))?;
                    signing::public_key_of(&key)
                }
                (None, None) => return Err("give --public-key or --private-key".to_owned()),
            };
            (unit, key, server)
        }
        KeysCommand::Clear { unit, server } => (unit, Vec::new(), server),
    };
    let mut client = pb::unit_registry_client::UnitRegistryClient::new(server.connect().await?);
    let key = client
        .set_signing_key(pb::SetSigningKeyRequest {
            unit_code: unit,
            public_key,
        })
        .await
        .map_err(status_message)?
        .into_inner();
    if key.public_key.is_empty() {
        sayln!(
            "{}: no signing key; submissions need no signature",
            key.unit_code
        );
    } else {
        sayln!(
            "{}: signing key registered (fingerprint {}); every submission must now be signed",
            key.unit_code,
            key.fingerprint
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiries_parse_as_durations_or_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(
            parse_expiry("2026-12-31").unwrap(),
            days_from_civil(2026, 12, 31) * 86_400_000
        );
        let in_a_day = parse_expiry("1d").unwrap() - crate::domain::audit::now_ms();
        assert!((86_390_000..=86_400_000).contains(&in_a_day));
        for bad in ["", "d", "-1d", "1y", "2026-13-01", "tomorrow"] {
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
    }
}

//! Settings of `juesuan serve`, from flags or the environment (JUESUAN_*), with defaults that run on a fresh
//! machine with nothing else installed.

use std::{net::SocketAddr, path::PathBuf, time::Duration};

use crate::service::submission::Limits;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
/// Where the web console listens unless told otherwise: this machine only.
pub const DEFAULT_WEB_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_DATA_DIR: &str = "data";

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The PostgreSQL database shared by replicas; `None` keeps the embedded SQLite store in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    /// A directory of taxonomies instead of those built into the binary.
    pub taxonomy_dir: Option<PathBuf>,
    /// A plain port serving only gRPC health, for probes that cannot speak TLS.
    pub health_listen: Option<SocketAddr>,
    /// The Prometheus metrics port (`GET /metrics`).
    pub metrics_listen: Option<SocketAddr>,
    /// The web console's address; `None` serves no console.
    pub web_listen: Option<SocketAddr>,
    pub limits: Limits,
    /// TLS for the gRPC port; `None` serves plain HTTP/2 (loopback only, unless `insecure`).
    pub tls: Option<TlsSettings>,
    /// Serve without TLS on a non-loopback address (behind a proxy that terminates TLS).
    pub insecure: bool,
    /// The server's SM2 key (64 hex digits) that signs the audit chain's heads; `None`: `AUDIT_KEY_FILE` in the
    /// data directory, made at the first start. Replicas sharing a database are given the same file.
    pub audit_key: Option<PathBuf>,
    /// When the running service checkpoints its consolidation state, so that a crash costs a replay of what came
    /// after the checkpoint rather than a rebuild from every stored version.
    pub checkpoint: CheckpointPolicy,
}

/// When consolidation checkpoints are written while the service runs (a clean stop always writes one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckpointPolicy {
    /// At most this long after a change; zero writes checkpoints only at a clean stop.
    pub every: Duration,
    /// And as soon as this many changes (accepts, returns, reverts, registrations) have been applied: bulk work
    /// does not wait for the interval.
    pub after_changes: u64,
}

impl Default for CheckpointPolicy {
    fn default() -> CheckpointPolicy {
        CheckpointPolicy {
            every: Duration::from_secs(DEFAULT_CHECKPOINT_SECONDS),
            after_changes: crate::service::consolidation::DEFAULT_CHECKPOINT_AFTER_CHANGES,
        }
    }
}

pub const DEFAULT_CHECKPOINT_SECONDS: u64 = 60;

/// The file in the data directory that holds the server's audit-head signing key when no other is given.
pub const AUDIT_KEY_FILE: &str = "audit-head.sm2";

/// The server's certificate and key (PEM), and the CA that signs the client certificates of service principals
/// (mutual TLS), if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl Settings {
    /// Refuses to serve bearer tokens and disclosures in clear text over a network: without TLS, only a loopback
    /// address, unless the operator says a proxy in front terminates TLS (`--insecure`).
    pub fn check_transport(&self) -> Result<(), String> {
        if self.tls.is_none() && !self.insecure && !self.listen.ip().is_loopback() {
            return Err(format!(
                "refusing to listen on {} without TLS: bearer tokens and disclosures would cross the network in \
                 clear text. Give --tls-cert and --tls-key, or --insecure when a proxy in front of juesuan \
                 terminates TLS",
                self.listen
            ));
        }
        // The console's session cookies and sign-in tokens are as secret: it serves TLS with the gRPC listener's
        // certificate, or stays on this machine, or sits behind a proxy that terminates TLS.
        if let Some(web) = self.web_listen
            && self.tls.is_none()
            && !self.insecure
            && !web.ip().is_loopback()
        {
            return Err(format!(
                "refusing to serve the web console on {web} without TLS: sign-in tokens and session cookies would \
                 cross the network in clear text. Give --tls-cert and --tls-key (the console uses them too), keep it \
                 on 127.0.0.1, give --no-web, or --insecure when a proxy in front of juesuan terminates TLS"
            ));
        }
        Ok(())
    }
}

/// A PostgreSQL connection URL (`postgres://` or `postgresql://`). It may carry a password, so it is never
/// printed whole: Debug and Display show the scheme, host and database only.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    pub fn parse(text: &str) -> Result<DatabaseUrl, String> {
        let text = text.trim();
        let Some(rest) = ["postgres://", "postgresql://"]
            .iter()
            .find_map(|scheme| text.strip_prefix(scheme))
        else {
            return Err(
                "the database URL must start with postgres:// or postgresql:// (leave it out for the embedded \
                 SQLite store)"
                    .to_owned(),
            );
        };
        if rest.is_empty() || text.len() > 2048 || text.chars().any(char::is_control) {
            return Err("the database URL names no server, or is not a URL".to_owned());
        }
        Ok(DatabaseUrl(text.to_owned()))
    }

    /// The URL itself, for connecting (never for logs).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `postgres://host:port/database`, without the user, password or parameters.
    pub fn redacted(&self) -> String {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
        let rest = rest.split_once('?').map_or(rest, |(before, _)| before);
        format!("{scheme}://{rest}")
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DatabaseUrl({})", self.redacted())
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(listen: &str) -> Settings {
        Settings {
            listen: listen.parse().unwrap(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            database_url: None,
            taxonomy_dir: None,
            health_listen: None,
            metrics_listen: None,
            web_listen: None,
            limits: Limits::default(),
            tls: None,
            insecure: false,
            audit_key: None,
            checkpoint: CheckpointPolicy::default(),
        }
    }

    #[test]
    fn plain_text_stays_on_loopback_unless_told_otherwise() {
        assert!(settings("127.0.0.1:50051").check_transport().is_ok());
        assert!(settings("[::1]:50051").check_transport().is_ok());
        let open = settings("0.0.0.0:50051");
        let refused = open.check_transport().unwrap_err();
        assert!(refused.contains("without TLS") && refused.contains("--insecure"));
        let mut proxied = open.clone();
        proxied.insecure = true;
        assert!(proxied.check_transport().is_ok());
        // The web console likewise: loopback, or behind a proxy.
        let mut console = settings("127.0.0.1:50051");
        console.web_listen = Some("127.0.0.1:8080".parse().unwrap());
        assert!(console.check_transport().is_ok());
        console.web_listen = Some("0.0.0.0:8080".parse().unwrap());
        assert!(
            console
                .check_transport()
                .unwrap_err()
                .contains("web console")
        );
        console.insecure = true;
        assert!(console.check_transport().is_ok());
        let mut tls = open;
        tls.tls = Some(TlsSettings {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: None,
        });
        assert!(tls.check_transport().is_ok());
    }

    #[test]
    fn a_database_url_is_postgres_and_never_shows_its_password() {
        let url = DatabaseUrl::parse(
            "postgres://juesuan:s3cret@db.internal:5432/juesuan?sslmode=require",
        )
        .unwrap();
        assert_eq!(url.redacted(), "postgres://db.internal:5432/juesuan");
        assert!(!format!("{url:?} {url}").contains("s3cret"));
        assert!(url.expose().contains("s3cret"));
        assert!(DatabaseUrl::parse("postgresql://localhost/j").is_ok());
        for bad in [
            "",
            "mysql://x/y",
            "postgres://",
            "data/juesuan.sqlite3",
            "postgres://a\nb",
        ] {
            assert!(DatabaseUrl::parse(bad).is_err(), "{bad:?}");
        }
    }
}

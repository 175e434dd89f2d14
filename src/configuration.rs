//! Settings of `juesuan serve`, from flags or the environment (JUESUAN_*), with defaults that run on a fresh
//! machine with nothing else installed.

use std::{net::SocketAddr, path::PathBuf};

use crate::domain::submission::Limits;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:50051";
pub const DEFAULT_DATA_DIR: &str = "data";

#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// A directory of taxonomies instead of those built into the binary.
    pub taxonomy_dir: Option<PathBuf>,
    /// A plain port serving only gRPC health, for probes that cannot speak TLS.
    pub health_listen: Option<SocketAddr>,
    /// The Prometheus metrics port (`GET /metrics`).
    pub metrics_listen: Option<SocketAddr>,
    pub limits: Limits,
    /// TLS for the gRPC port; `None` serves plain HTTP/2 (loopback only, unless `insecure`).
    pub tls: Option<TlsSettings>,
    /// Serve without TLS on a non-loopback address (behind a proxy that terminates TLS).
    pub insecure: bool,
}

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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(listen: &str) -> Settings {
        Settings {
            listen: listen.parse().unwrap(),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            taxonomy_dir: None,
            health_listen: None,
            metrics_listen: None,
            limits: Limits::default(),
            tls: None,
            insecure: false,
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
        let mut tls = open;
        tls.tls = Some(TlsSettings {
            cert: "c.pem".into(),
            key: "k.pem".into(),
            client_ca: None,
        });
        assert!(tls.check_transport().is_ok());
    }
}

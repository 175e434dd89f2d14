//! Reaching a running service: its address, the caller's token, TLS, and errors told in words.
//!
//! The token comes from `--token-file`, else `JUESUAN_TOKEN`, else `JUESUAN_TOKEN_FILE`, else the administrator
//! token the service wrote on its first start into its data directory (`$JUESUAN_DATA_DIR` or `./data`), so that
//! the README's walk works on a fresh checkout without setting anything.

use std::path::{Path, PathBuf};

use clap::Args;
use tonic::{
    metadata::MetadataValue,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::{configuration, domain::tokens::ADMIN_TOKEN_FILE};

/// A channel that adds the caller's bearer token to every call.
pub type Conn = InterceptedService<Channel, Bearer>;

/// Building a [`Conn`] for a known token (the demo calls as many principals).
pub trait WithToken: Sized {
    fn with_token(channel: Channel, token: &str) -> Result<Self, String>;
}

impl WithToken for Conn {
    fn with_token(channel: Channel, token: &str) -> Result<Conn, String> {
        Ok(InterceptedService::new(
            channel,
            Bearer(Some(header(token)?)),
        ))
    }
}

fn header(token: &str) -> Result<MetadataValue<tonic::metadata::Ascii>, String> {
    format!("Bearer {}", token.trim())
        .parse()
        .map_err(|_| "the token holds characters a header cannot carry".to_owned())
}

#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<tonic::metadata::Ascii>>);

impl Bearer {
    /// No credentials at all.
    pub fn none() -> Bearer {
        Bearer(None)
    }
}

impl tonic::service::Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

#[derive(Args, Clone)]
pub struct ServerArgs {
    /// The service's address (https:// for TLS).
    #[arg(long, env = "JUESUAN_SERVER", default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// A file holding the bearer token to call with (default: JUESUAN_TOKEN, then JUESUAN_TOKEN_FILE, then the
    /// administrator token in ./data/admin.token when it is readable).
    #[arg(long)]
    pub token_file: Option<PathBuf>,
    /// The CA certificate (PEM) that signed the service's TLS certificate.
    #[arg(long, env = "JUESUAN_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM) for mutual TLS, with --client-key.
    #[arg(long, env = "JUESUAN_CLIENT_CERT", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(long, env = "JUESUAN_CLIENT_KEY", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))
}

/// The bearer token to call with, and where it came from.
fn token(explicit: Option<&Path>) -> Result<Option<String>, String> {
    let from_file = |path: &Path| -> Result<String, String> {
        let text = String::from_utf8(read(path, "token file")?)
            .map_err(|_| format!("the token file {} is not text", path.display()))?;
        Ok(text.trim().to_owned())
    };
    if let Some(path) = explicit {
        return from_file(path).map(Some);
    }
    if let Ok(token) = std::env::var("JUESUAN_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(Some(token.trim().to_owned()));
    }
    if let Ok(path) = std::env::var("JUESUAN_TOKEN_FILE")
        && !path.is_empty()
    {
        return from_file(Path::new(&path)).map(Some);
    }
    let data_dir = std::env::var("JUESUAN_DATA_DIR")
        .unwrap_or_else(|_| configuration::DEFAULT_DATA_DIR.to_owned());
    let default = Path::new(&data_dir).join(ADMIN_TOKEN_FILE);
    Ok(std::fs::read_to_string(default)
        .ok()
        .map(|t| t.trim().to_owned()))
}

impl ServerArgs {
    /// A connection calling with the token the arguments name.
    pub async fn connect(&self) -> Result<Conn, String> {
        let channel = self.channel().await?;
        let bearer = token(self.token_file.as_deref())?
            .map(|t| header(&t))
            .transpose()?;
        Ok(InterceptedService::new(channel, Bearer(bearer)))
    }

    /// A connection without credentials (each call brings its own).
    pub async fn channel(&self) -> Result<Channel, String> {
        let mut endpoint = Channel::from_shared(self.server.clone())
            .map_err(|e| format!("bad server address {}: {e}", self.server))?;
        if self.server.starts_with("https://") || self.ca_cert.is_some() {
            let mut tls = ClientTlsConfig::new();
            match &self.ca_cert {
                Some(path) => {
                    tls = tls.ca_certificate(Certificate::from_pem(read(path, "CA certificate")?))
                }
                None => tls = tls.with_native_roots(),
            }
            if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
                tls = tls.identity(Identity::from_pem(
                    read(cert, "client certificate")?,
                    read(key, "client key")?,
                ));
            }
            endpoint = endpoint
                .tls_config(tls)
                .map_err(|e| format!("cannot set up TLS for {}: {e}", self.server))?;
        }
        let channel = endpoint.connect().await.map_err(|e| {
            format!(
                "cannot reach {}: {} (is `juesuan serve` running?)",
                self.server,
                super::error_chain(&e)
            )
        })?;
        Ok(channel)
    }
}

/// A refused call told for people: what went wrong in words, each field at fault once, no gRPC code names.
pub fn status_message(status: tonic::Status) -> String {
    use tonic::Code;
    use tonic_types::StatusExt;
    let violations = status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.clone())
        .unwrap_or_default();
    if !violations.is_empty() {
        let mut message = String::from("the request was refused:");
        for violation in &violations {
            message.push_str(&format!(
                "\n  {}: {}",
                violation.field, violation.description
            ));
        }
        // The message ends "(and N more)" when there were N + 1 problems; the details list the first of them.
        let total = status
            .message()
            .rsplit_once("(and ")
            .and_then(|(_, rest)| rest.strip_suffix(" more)"))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .map(|more| more + 1);
        if let Some(total) = total.filter(|t| *t > violations.len()) {
            message.push_str(&format!(
                "\n  … and {} more problem(s) not listed",
                total - violations.len()
            ));
        }
        return message;
    }
    let text = status.message();
    match status.code() {
        Code::Unauthenticated => format!(
            "not authenticated: {text} (give a token with --token-file, JUESUAN_TOKEN or JUESUAN_TOKEN_FILE)"
        ),
        Code::PermissionDenied => format!("not allowed: {text}"),
        Code::NotFound => format!("not found: {text}"),
        Code::AlreadyExists => format!("already exists: {text}"),
        Code::FailedPrecondition => format!("refused: {text}"),
        Code::Unavailable => format!("the service is unavailable: {text}"),
        Code::DeadlineExceeded => "the service did not answer in time".to_owned(),
        Code::Internal => format!("the service failed: {text}"),
        _ => text.to_owned(),
    }
}

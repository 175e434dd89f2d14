//! TLS on the gRPC port with rustls, and mutual TLS for service principals; plain text only on loopback.

use std::path::Path;

use juesuan::{
    cli::client::{Bearer, Conn, WithToken},
    configuration::TlsSettings,
    pb,
};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use tempfile::TempDir;
use tonic::{
    Code,
    service::interceptor::InterceptedService,
    transport::{Certificate, Channel, ClientTlsConfig, Identity},
};

use crate::helpers::TestApp;

/// A test CA, the server's certificate for localhost, and client certificates named as services.
struct Pki {
    dir: TempDir,
    ca_pem: String,
}

impl Pki {
    fn new() -> Pki {
        let dir = TempDir::new().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "juesuan test CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&server_key, &issuer)
            .unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.path().join("server.key"), server_key.serialize_pem()).unwrap();
        for name in ["budget-system", "stranger"] {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.signed_by(&key, &issuer).unwrap();
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem()).unwrap();
        }
        Pki {
            ca_pem: ca.pem(),
            dir,
        }
    }

    fn path(&self, file: &str) -> std::path::PathBuf {
        self.dir.path().join(file)
    }

    fn settings(&self) -> TlsSettings {
        TlsSettings {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: Some(self.path("ca.pem")),
        }
    }

    async fn channel(&self, app: &TestApp, client: Option<&str>) -> Channel {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca_pem))
            .domain_name("localhost");
        if let Some(name) = client {
            let read = |f: String| std::fs::read(self.path(&f)).unwrap();
            tls = tls.identity(Identity::from_pem(
                read(format!("{name}.pem")),
                read(format!("{name}.key")),
            ));
        }
        Channel::from_shared(app.address.clone())
            .unwrap()
            .tls_config(tls)
            .unwrap()
            .connect()
            .await
            .expect("a TLS connection")
    }
}

async fn who(conn: Conn) -> Result<pb::WhoAmIResponse, tonic::Status> {
    pb::tokens_client::TokensClient::new(conn)
        .who_am_i(pb::WhoAmIRequest {})
        .await
        .map(tonic::Response::into_inner)
}

#[tokio::test]
async fn tokens_over_tls_and_services_by_client_certificate() {
    let pki = Pki::new();
    let app = TestApp::spawn_tls(pki.settings()).await;
    assert!(app.address.starts_with("https://"));

    // A bearer token over TLS.
    let admin = Conn::with_token(pki.channel(&app, None).await, &app.admin_token).unwrap();
    let me = who(admin.clone())
        .await
        .expect("the administrator over TLS");
    assert_eq!(
        me.principal.unwrap().kind,
        Some(pb::principal::Kind::Admin(true))
    );

    // A plain-text client cannot talk to the TLS port.
    let plain = Channel::from_shared(app.address.replace("https://", "http://"))
        .unwrap()
        .connect()
        .await;
    if let Ok(plain) = plain {
        let refused = who(Conn::with_token(plain, &app.admin_token).unwrap()).await;
        assert!(refused.is_err());
    }

    // A client certificate names a service only once the service is enrolled.
    let as_service = |channel| InterceptedService::new(channel, Bearer::none());
    let before = who(as_service(pki.channel(&app, Some("budget-system")).await))
        .await
        .unwrap_err();
    assert_eq!(before.code(), Code::Unauthenticated);
    pb::tokens_client::TokensClient::new(admin)
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::ServiceName("budget-system".into())),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let service = who(as_service(pki.channel(&app, Some("budget-system")).await))
        .await
        .expect("the enrolled service by its certificate");
    assert_eq!(
        service.principal.unwrap().kind,
        Some(pb::principal::Kind::ServiceName("budget-system".into()))
    );
    assert_eq!(service.token_id, "tls:budget-system");
    let stranger = who(as_service(pki.channel(&app, Some("stranger")).await))
        .await
        .unwrap_err();
    assert_eq!(stranger.code(), Code::Unauthenticated);
    // Without a certificate or a token: unauthenticated.
    let nobody = who(as_service(pki.channel(&app, None).await))
        .await
        .unwrap_err();
    assert_eq!(nobody.code(), Code::Unauthenticated);
}

/// One HTTP/1.1 GET over TLS to the console, trusting the test CA; returns the response's head.
async fn console_get_over_tls(pki: &Pki, address: &str, path: &str) -> String {
    use rustls_pki_types::{CertificateDer, ServerName, pem::PemObject};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::{TlsConnector, rustls};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).unwrap())
        .unwrap();
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(address).await.unwrap();
    let mut tls = TlsConnector::from(std::sync::Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the console's handshake with the gRPC certificate");
    tls.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut raw = Vec::new();
    let _ = tls.read_to_end(&mut raw).await;
    let raw = String::from_utf8_lossy(&raw).into_owned();
    raw.split("\r\n\r\n").next().unwrap().to_owned()
}

#[tokio::test]
async fn the_console_speaks_tls_with_the_grpc_certificate_and_marks_cookies_secure() {
    let pki = Pki::new();
    let app = TestApp::spawn_tls(pki.settings()).await;
    let head = console_get_over_tls(&pki, &app.web, "/signin").await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let cookie = head
        .lines()
        .find(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie: juesuan_signin=")
        })
        .unwrap_or_else(|| panic!("no sign-in cookie: {head}"));
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    // Plain HTTP to the TLS port gets no page.
    let plain = crate::web_client::try_request(&app.web, "GET", "/signin", "", "").await;
    assert!(plain.is_none_or(|reply| reply.status != 200));
}

#[test]
fn the_binary_refuses_plain_text_beyond_loopback() {
    let data_dir = TempDir::new().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args([
            "serve",
            "--web-listen",
            "127.0.0.1:0",
            "--listen",
            "0.0.0.0:0",
            "--data-dir",
        ])
        .arg(data_dir.path())
        .arg("--taxonomy-dir")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("without TLS"), "{stderr}");
    assert!(stderr.contains("--insecure"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

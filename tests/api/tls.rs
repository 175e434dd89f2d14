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

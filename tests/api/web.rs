//! The web console through the real binary: `juesuan serve` serves it beside gRPC; sign-in takes the API's
//! tokens, a session is a strict cookie, every POST needs its CSRF token, every response carries the security
//! headers, sign-in attempts are limited, and sign-out or revoking the token ends the session. Requests are
//! plain HTTP/1.1 over a socket, so that every header is what the server sent.

use juesuan::domain::tokens::ADMIN_TOKEN_FILE;

use crate::{
    helpers::BinaryServer,
    web_client::{encode, request, sign_in},
};

async fn console(server: &BinaryServer) -> String {
    let log = server
        .wait_for_log(
            "serving the web console",
            std::time::Duration::from_secs(10),
        )
        .await;
    log["fields"]["address"]
        .as_str()
        .or(log["address"].as_str())
        .unwrap()
        .trim_start_matches("Some(")
        .trim_end_matches(')')
        .to_owned()
}

fn cli(server: &BinaryServer, token: &str, args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(args)
        .env("JUESUAN_SERVER", &server.address)
        .env("JUESUAN_TOKEN", token)
        .env_remove("JUESUAN_TOKEN_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_signs_in_with_a_token_and_guards_its_session() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = BinaryServer::start(data_dir.path()).await;
    let address = console(&server).await;
    let admin = std::fs::read_to_string(data_dir.path().join(ADMIN_TOKEN_FILE))
        .unwrap()
        .trim()
        .to_owned();

    // Every response carries the security headers; signed out, the start page sends to sign-in.
    let start = request(&address, "GET", "/", "", "").await;
    assert_eq!(start.status, 303);
    assert_eq!(start.header("location"), Some("/signin"));
    for reply in [&start, &request(&address, "GET", "/signin", "", "").await] {
        let policy = reply.header("content-security-policy").unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }

    // A sign-in without the form's CSRF token, or with a wrong token, is refused without echoing it.
    let form = request(&address, "GET", "/signin", "", "").await;
    let refused = request(
        &address,
        "POST",
        "/signin",
        "",
        &format!("csrf={}&token={}", form.csrf(), encode(&admin)),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert!(refused.cookie("juesuan_session").is_none());
    let (none, wrong) = sign_in(&address, "juesuan_not-a-token-<script>").await;
    assert!(none.is_none());
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("<script>") && !wrong.body.contains("not-a-token"));

    // The administrator signs in: a strict cookie, the start page names who it is.
    let (session, signed_in) = sign_in(&address, &admin).await;
    assert_eq!(signed_in.status, 303);
    assert_eq!(signed_in.header("location"), Some("/"));
    let cookie = signed_in
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("juesuan_session="))
        .unwrap()
        .to_owned();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "no TLS, no Secure flag: {cookie}"
    );
    let session = session.unwrap();
    let home = request(&address, "GET", "/", &session, "").await;
    assert_eq!(home.status, 200);
    assert!(home.body.contains("系统管理员"), "{}", home.body);

    // The authorization matrix of the routes: (method, path, signed in?) → status.
    let matrix: [(&str, &str, bool, u16); 8] = [
        ("GET", "/", false, 303),
        ("GET", "/", true, 200),
        ("GET", "/signin", false, 200),
        ("GET", "/console.css", false, 200),
        ("GET", "/no-such-page", true, 404),
        ("POST", "/signout", false, 303),
        ("POST", "/signin", false, 403),
        ("POST", "/signout", true, 403),
    ];
    for (method, path, signed, status) in matrix {
        let cookie = if signed { session.as_str() } else { "" };
        let reply = request(&address, method, path, cookie, "csrf=wrong&token=x").await;
        assert_eq!(reply.status, status, "{method} {path} signed in: {signed}");
    }

    // Sign-out needs the session's CSRF token, and ends the session.
    let csrf = home.csrf();
    let out = request(
        &address,
        "POST",
        "/signout",
        &session,
        &format!("csrf={csrf}"),
    )
    .await;
    assert_eq!(out.status, 303);
    assert!(out.cookie("juesuan_session").is_some_and(|v| v.is_empty()));
    assert_eq!(
        request(&address, "GET", "/", &session, "").await.status,
        303
    );

    // Revoking the token ends its sessions at the next request.
    let issued = cli(
        &server,
        &admin,
        &["tokens", "issue", "--admin", "--label", "console"],
    );
    let second = issued
        .split_whitespace()
        .find(|w| w.starts_with("juesuan_"))
        .unwrap()
        .to_owned();
    let (session, _) = sign_in(&address, &second).await;
    let session = session.unwrap();
    assert_eq!(
        request(&address, "GET", "/", &session, "").await.status,
        200
    );
    let id = second
        .trim_start_matches("juesuan_")
        .split('_')
        .next()
        .unwrap();
    cli(&server, &admin, &["tokens", "revoke", id]);
    assert_eq!(
        request(&address, "GET", "/", &session, "").await.status,
        303
    );

    // A budget system's token is for the API, not the console.
    let issued = cli(
        &server,
        &admin,
        &["tokens", "issue", "--service", "budget-system"],
    );
    let service = issued
        .split_whitespace()
        .find(|w| w.starts_with("juesuan_"))
        .unwrap()
        .to_owned();
    let (none, refused) = sign_in(&address, &service).await;
    assert!(none.is_none());
    assert_eq!(refused.status, 403);

    // Sign-in attempts from one address are limited: after ten in a minute, 429.
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(sign_in(&address, "juesuan_wrong").await.1.status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

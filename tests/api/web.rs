//! The web console through the real binary: `juesuan serve` serves it beside gRPC; sign-in takes the API's
//! tokens, a session is a strict cookie, every POST needs its CSRF token, every response carries the security
//! headers, sign-in attempts are limited, and sign-out or revoking the token ends the session. Requests are
//! plain HTTP/1.1 over a socket, so that every header is what the server sent.

use std::io::{Read, Write};

use juesuan::domain::tokens::ADMIN_TOKEN_FILE;

use crate::helpers::BinaryServer;

/// A response: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name=` in a Set-Cookie header.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            c.split(';')
                .next()?
                .strip_prefix(&format!("{name}="))
                .map(str::to_owned)
        })
    }

    /// The value of the form's hidden csrf field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[at..at + 64].to_owned()
    }
}

fn request(address: &str, method: &str, path: &str, cookie: &str, form: &str) -> Reply {
    let mut stream = std::net::TcpStream::connect(address).expect("the console listens");
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        text.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        text.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            form.len()
        ));
    }
    text.push_str("\r\n");
    text.push_str(form);
    stream.write_all(text.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

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

/// Signs in with `token`; returns the session cookie ("juesuan_session=…") and the reply.
fn sign_in(address: &str, token: &str) -> (Option<String>, Reply) {
    let form = request(address, "GET", "/signin", "", "");
    let csrf = form.csrf();
    let pre = format!("juesuan_signin={}", form.cookie("juesuan_signin").unwrap());
    let reply = request(
        address,
        "POST",
        "/signin",
        &pre,
        &format!("csrf={csrf}&token={}", encode(token)),
    );
    let session = reply
        .cookie("juesuan_session")
        .map(|id| format!("juesuan_session={id}"));
    (session, reply)
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
    let start = request(&address, "GET", "/", "", "");
    assert_eq!(start.status, 303);
    assert_eq!(start.header("location"), Some("/signin"));
    for reply in [&start, &request(&address, "GET", "/signin", "", "")] {
        let policy = reply.header("content-security-policy").unwrap();
        assert!(policy.contains("default-src 'none'") && policy.contains("frame-ancestors 'none'"));
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"));
    }

    // A sign-in without the form's CSRF token, or with a wrong token, is refused without echoing it.
    let form = request(&address, "GET", "/signin", "", "");
    let refused = request(
        &address,
        "POST",
        "/signin",
        "",
        &format!("csrf={}&token={}", form.csrf(), encode(&admin)),
    );
    assert_eq!(refused.status, 403);
    assert!(refused.cookie("juesuan_session").is_none());
    let (none, wrong) = sign_in(&address, "juesuan_not-a-token-<script>");
    assert!(none.is_none());
    assert_eq!(wrong.status, 401);
    assert!(!wrong.body.contains("<script>") && !wrong.body.contains("not-a-token"));

    // The administrator signs in: a strict cookie, the start page names who it is.
    let (session, signed_in) = sign_in(&address, &admin);
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
    let home = request(&address, "GET", "/", &session, "");
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
        let reply = request(&address, method, path, cookie, "csrf=wrong&token=x");
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
    );
    assert_eq!(out.status, 303);
    assert!(out.cookie("juesuan_session").is_some_and(|v| v.is_empty()));
    assert_eq!(request(&address, "GET", "/", &session, "").status, 303);

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
    let (session, _) = sign_in(&address, &second);
    let session = session.unwrap();
    assert_eq!(request(&address, "GET", "/", &session, "").status, 200);
    let id = second
        .trim_start_matches("juesuan_")
        .split('_')
        .next()
        .unwrap();
    cli(&server, &admin, &["tokens", "revoke", id]);
    assert_eq!(request(&address, "GET", "/", &session, "").status, 303);

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
    let (none, refused) = sign_in(&address, &service);
    assert!(none.is_none());
    assert_eq!(refused.status, 403);

    // Sign-in attempts from one address are limited: after ten in a minute, 429.
    let statuses: Vec<u16> = (0..12)
        .map(|_| sign_in(&address, "juesuan_wrong").1.status)
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
}

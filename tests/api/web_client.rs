//! A plain HTTP/1.1 client for the console's tests: every header is what the server sent, cookies are handled
//! by hand, so that their flags can be checked.

/// A response: status, headers (lower-case names), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == "set-cookie")
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of `name=` in a Set-Cookie header.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies().iter().find_map(|c| {
            c.split(';')
                .next()?
                .strip_prefix(&format!("{name}="))
                .map(str::to_owned)
        })
    }

    /// The value of the form's hidden csrf field.
    pub fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field")
            + 19;
        self.body[at..at + 64].to_owned()
    }
}

/// A GET, or a POST of a urlencoded form.
pub async fn request(address: &str, method: &str, path: &str, cookie: &str, form: &str) -> Reply {
    send(
        address,
        method,
        path,
        cookie,
        "application/x-www-form-urlencoded",
        form.as_bytes(),
    )
    .await
}

/// A GET or form POST that may get no HTTP answer at all (a TLS port spoken to in plain text).
pub async fn try_request(
    address: &str,
    method: &str,
    path: &str,
    cookie: &str,
    form: &str,
) -> Option<Reply> {
    let address = address.to_owned();
    let (method, path, cookie, form) = (
        method.to_owned(),
        path.to_owned(),
        cookie.to_owned(),
        form.to_owned(),
    );
    tokio::time::timeout(std::time::Duration::from_secs(15), async move {
        tokio::spawn(async move { request(&address, &method, &path, &cookie, &form).await })
            .await
            .ok()
    })
    .await
    .ok()
    .flatten()
}

/// A POST of `fields` and one file as multipart/form-data.
pub async fn post_multipart(
    address: &str,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    file: (&str, &[u8]),
) -> Reply {
    let boundary = "juesuan-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n",
            file.0
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.1);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    send(
        address,
        "POST",
        path,
        cookie,
        &format!("multipart/form-data; boundary={boundary}"),
        &body,
    )
    .await
}

async fn send(
    address: &str,
    method: &str,
    path: &str,
    cookie: &str,
    content_type: &str,
    body: &[u8],
) -> Reply {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(address)
        .await
        .expect("the console listens");
    let mut text = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    if !cookie.is_empty() {
        text.push_str(&format!("Cookie: {cookie}\r\n"));
    }
    if method == "POST" {
        text.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    text.push_str("\r\n");
    let mut bytes = text.into_bytes();
    bytes.extend_from_slice(body);
    stream.write_all(&bytes).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
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

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Signs in with `token`; returns the session cookie ("juesuan_session=…") and the reply.
pub async fn sign_in(address: &str, token: &str) -> (Option<String>, Reply) {
    let form = request(address, "GET", "/signin", "", "").await;
    let csrf = form.csrf();
    let pre = format!("juesuan_signin={}", form.cookie("juesuan_signin").unwrap());
    let reply = request(
        address,
        "POST",
        "/signin",
        &pre,
        &format!("csrf={csrf}&token={}", encode(token)),
    )
    .await;
    let session = reply
        .cookie("juesuan_session")
        .map(|id| format!("juesuan_session={id}"));
    (session, reply)
}

//! The web console (网页端), served by the same binary beside gRPC: HTML pages over the same use cases and the
//! same authorization policy, never a second path to the store. Each handler converts the request, asks the
//! policy and the service layer, and renders a page ([`pages`]); sessions are in [`session`].
//!
//! Every response carries a strict Content-Security-Policy (no script, no inline style, no framing), and
//! `X-Content-Type-Options: nosniff`; every POST carries its session's CSRF token; sign-in attempts are limited
//! per client address.

pub mod pages;
mod publication;
mod region;
mod render;
mod review;
pub mod session;
pub mod tls;
mod unit;

use std::{
    collections::HashMap,
    future::Future,
    net::{IpAddr, SocketAddr},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Form, Router,
    extract::{ConnectInfo, DefaultBodyLimit, FromRequestParts, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    middleware::{self, Next},
    response::{Html, IntoResponse, Redirect, Response},
    routing::{get, post},
};
use serde::Deserialize;
use tokio::net::TcpListener;

use crate::{
    domain::{
        access::{Ask, PrincipalKind, decide},
        ids::{FiscalYear, UnitCode},
        taxonomy::Taxonomies,
    },
    service::{
        consolidation::Consolidations,
        error::ServiceError,
        registry::Registry,
        review::Reviews,
        submission::Submissions,
        tokens::{Tokens, still_authenticated},
    },
    store::Store,
};
use session::Sessions;

/// The cookie that carries the sign-in form's CSRF token before there is a session.
const SIGN_IN_COOKIE: &str = "juesuan_signin";
/// Sign-in attempts one client address may make per window.
const SIGN_IN_ATTEMPTS: u32 = 10;
const SIGN_IN_WINDOW: Duration = Duration::from_secs(60);
/// Client addresses whose attempts are remembered at once.
const MAX_TRACKED_ADDRESSES: usize = 4096;
/// Largest form accepted: a sign-in or sign-out form is well under a kilobyte.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// The policy every page answers with: scripts and plug-ins never, styles from the console only, forms posted to
/// the console only, never framed.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The use cases the pages call: the very instances the gRPC services call, so that the console and the API see
/// one consolidation state and one policy.
#[derive(Clone)]
pub struct Services {
    pub submissions: Submissions,
    pub reviews: Reviews,
    pub consolidations: Arc<Consolidations>,
    pub registry: Registry,
    pub taxonomies: Arc<Taxonomies>,
    pub publications: crate::service::publication::Publications,
}

/// What the console's handlers share.
#[derive(Clone)]
pub struct Console {
    tokens: Tokens,
    store: Arc<dyn Store>,
    services: Services,
    sessions: Sessions,
    attempts: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
    /// Served over TLS: cookies are marked Secure.
    secure: bool,
}

impl Console {
    pub fn new(store: Arc<dyn Store>, services: Services, secure: bool) -> Console {
        Console {
            tokens: Tokens::new(store.clone()),
            store,
            services,
            sessions: Sessions::default(),
            attempts: Arc::default(),
            secure,
        }
    }

    /// Opens a session for `principal` without a sign-in (for the benchmark, which times pages, not sign-ins);
    /// returns the Cookie header value that carries it.
    pub fn open_session(&self, principal: crate::domain::access::Principal) -> String {
        format!("{}={}", session::COOKIE, self.sessions.open(principal))
    }

    /// Counts an attempt of `address`; false when it has used its attempts for the window.
    fn may_attempt(&self, address: IpAddr) -> bool {
        let now = Instant::now();
        let mut attempts = self.attempts.lock().expect("attempts lock");
        if attempts.len() >= MAX_TRACKED_ADDRESSES {
            attempts.retain(|_, (since, _)| now.duration_since(*since) < SIGN_IN_WINDOW);
            if attempts.len() >= MAX_TRACKED_ADDRESSES {
                attempts.clear();
            }
        }
        let entry = attempts.entry(address).or_insert((now, 0));
        if now.duration_since(entry.0) >= SIGN_IN_WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= SIGN_IN_ATTEMPTS
    }
}

/// The console's routes.
pub fn router(console: Console) -> Router {
    Router::new()
        .merge(unit::routes())
        .merge(review::routes())
        .merge(region::routes())
        .merge(publication::routes())
        .route("/", get(home))
        .route("/signin", get(sign_in_page).post(sign_in))
        .route("/signout", post(sign_out))
        .route("/console.css", get(stylesheet))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
        .layer(middleware::from_fn(security_headers))
        .with_state(console)
}

/// Serves the console on `listener` until `shutdown` resolves; over TLS with `tls` (the console's cookies are then
/// Secure).
pub async fn serve(
    listener: TcpListener,
    console: Console,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let service = router(console).into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        None => {
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .await
        }
        // `tap_io` gives any listener whose address is a SocketAddr the client's address as connect info.
        Some(config) => {
            axum::serve(
                tls::TlsListener::new(listener, config)?.tap_io(|_| {}),
                service,
            )
            .with_graceful_shutdown(shutdown)
            .await
        }
    }
}

async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn page(status: StatusCode, markup: maud::Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|part| part.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The request's live session whose principal's token still holds, with its id; `None` signs the caller out.
async fn session_of(console: &Console, headers: &HeaderMap) -> Option<(String, session::Session)> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(session::id_from)?
        .to_owned();
    let session = console.sessions.touch(&id)?;
    // A revoked or expired token ends its sessions at the next request.
    if still_authenticated(console.store.as_ref(), &session.principal)
        .await
        .is_err()
    {
        console.sessions.close(&id);
        return None;
    }
    Some((id, session))
}

async fn home(State(console): State<Console>, signed: SignedIn) -> Result<Response, WebError> {
    let principal = &signed.session.principal;
    let mut places = Vec::new();
    for year in console.services.taxonomies.years() {
        match &principal.kind {
            PrincipalKind::Unit { code, .. } => {
                let lineage = console.services.registry.lineage(code, year).await?;
                if let Some(unit) = lineage.chain.first() {
                    places.push(pages::Place {
                        unit: unit.clone(),
                        year,
                    });
                }
            }
            // An administrator starts from the roots of each year's tree.
            _ => {
                for unit in console.store.units_for_year(year).await? {
                    if unit.parent.is_none() {
                        places.push(pages::Place { unit, year });
                    }
                }
            }
        }
    }
    Ok(page(StatusCode::OK, pages::home(&signed.frame(), &places)))
}

/// The sign-in form, with a fresh CSRF token in a short-lived cookie and the form (double submit).
async fn sign_in_page(State(console): State<Console>) -> Response {
    sign_in_form(&console, StatusCode::OK, None)
}

fn sign_in_form(console: &Console, status: StatusCode, message: Option<&str>) -> Response {
    let csrf = session::random_id();
    let mut response = page(status, pages::sign_in(&csrf, message));
    let cookie = format!(
        "{SIGN_IN_COOKIE}={csrf}; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=600{}",
        if console.secure { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    csrf: String,
}

async fn sign_in(
    State(console): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Response {
    if !console.may_attempt(peer.ip()) {
        return sign_in_form(
            &console,
            StatusCode::TOO_MANY_REQUESTS,
            Some("登录尝试过多，请一分钟后再试。"),
        );
    }
    let expected = cookie_value(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if expected.is_empty() || !session::same(expected, &form.csrf) {
        return sign_in_form(
            &console,
            StatusCode::FORBIDDEN,
            Some("登录表单已过期，请重新登录。"),
        );
    }
    let principal = match console.tokens.authenticate(form.token.trim()).await {
        Ok(principal) => principal,
        Err(failure) => {
            tracing::info!(peer = %peer.ip(), reason = %failure, "console sign-in refused");
            return sign_in_form(
                &console,
                StatusCode::UNAUTHORIZED,
                Some("令牌无效、已过期或已撤销。"),
            );
        }
    };
    if decide(&principal, &Ask::SignInToConsole).is_err() {
        return sign_in_form(
            &console,
            StatusCode::FORBIDDEN,
            Some("系统对接令牌不能登录控制台，请使用个人令牌。"),
        );
    }
    tracing::info!(principal = %principal, "console sign-in");
    let id = console.sessions.open(principal);
    let mut response = Redirect::to("/").into_response();
    for cookie in [
        session::cookie(&id, console.secure),
        format!("{SIGN_IN_COOKIE}=; Path=/signin; HttpOnly; SameSite=Strict; Max-Age=0"),
    ] {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

#[derive(Deserialize)]
struct SignOut {
    csrf: String,
}

async fn sign_out(
    State(console): State<Console>,
    headers: HeaderMap,
    Form(form): Form<SignOut>,
) -> Response {
    let Some((id, session)) = session_of(&console, &headers).await else {
        return Redirect::to("/signin").into_response();
    };
    if !session::same(&session.csrf, &form.csrf) {
        return page(
            StatusCode::FORBIDDEN,
            pages::refusal("请求被拒绝", "表单已过期（CSRF 校验失败），请返回重试。"),
        );
    }
    console.sessions.close(&id);
    let mut response = Redirect::to("/signin").into_response();
    if let Ok(value) = HeaderValue::from_str(&session::cleared(console.secure)) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        pages::STYLESHEET,
    )
        .into_response()
}

async fn not_found() -> Response {
    page(
        StatusCode::NOT_FOUND,
        pages::refusal("未找到", "没有这个页面。"),
    )
}

/// A request from a live session; a request without one is sent to the sign-in page and gets nothing else.
pub struct SignedIn {
    pub session: session::Session,
}

impl SignedIn {
    /// What every signed-in page's frame shows: who, and the form to sign out.
    fn frame(&self) -> pages::Frame<'_> {
        pages::Frame {
            principal: &self.session.principal,
            csrf: &self.session.csrf,
        }
    }

    /// Refuses a POST whose form does not carry this session's CSRF token.
    fn check_csrf(&self, given: &str) -> Result<(), WebError> {
        if session::same(&self.session.csrf, given) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

impl FromRequestParts<Console> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, console: &Console) -> Result<Self, Response> {
        match session_of(console, &parts.headers).await {
            Some((_, session)) => Ok(SignedIn { session }),
            None => Err(Redirect::to("/signin").into_response()),
        }
    }
}

/// An upload form as read: its CSRF token, its short text fields, and the file (its lower-cased name and bytes).
#[derive(Default)]
struct Upload {
    csrf: String,
    fields: Vec<(String, String)>,
    file: Option<(String, bytes::Bytes)>,
}

impl Upload {
    /// Reads a multipart form; the body limit of the route bounds it.
    async fn read(mut multipart: axum::extract::Multipart) -> Result<Upload, WebError> {
        let mut upload = Upload::default();
        let broken = |_| WebError::field("file", "the upload did not arrive whole");
        while let Some(field) = multipart.next_field().await.map_err(broken)? {
            match field.name().map(str::to_owned).as_deref() {
                Some("csrf") => upload.csrf = field.text().await.map_err(broken)?,
                Some("file") => {
                    let name = field.file_name().unwrap_or_default().to_lowercase();
                    upload.file = Some((name, field.bytes().await.map_err(broken)?));
                }
                Some(name) => {
                    let value = field.text().await.map_err(broken)?;
                    upload
                        .fields
                        .push((name.to_owned(), value.trim().to_owned()));
                }
                None => {}
            }
        }
        Ok(upload)
    }

    fn field(&self, name: &str) -> &str {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Why a page was not served, as the person sees it: short, naming the field, never echoing what was sent.
#[derive(Debug)]
pub enum WebError {
    Service(ServiceError),
    /// A path, query or form field that does not parse.
    Field {
        field: &'static str,
        message: String,
    },
    /// A POST without its session's CSRF token.
    Csrf,
}

impl From<ServiceError> for WebError {
    fn from(error: ServiceError) -> WebError {
        WebError::Service(error)
    }
}

impl From<crate::store::StoreError> for WebError {
    fn from(error: crate::store::StoreError) -> WebError {
        WebError::Service(error.into())
    }
}

impl WebError {
    fn field(field: &'static str, message: impl Into<String>) -> WebError {
        WebError::Field {
            field,
            message: message.into(),
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            WebError::Csrf => (
                StatusCode::FORBIDDEN,
                "请求被拒绝",
                "表单已过期（CSRF 校验失败），请返回重试。".to_owned(),
            ),
            WebError::Field { field, message } => (
                StatusCode::BAD_REQUEST,
                "请求有误",
                format!("{field}: {message}"),
            ),
            WebError::Service(error) => match error {
                ServiceError::InvalidArgument(violations) => (
                    StatusCode::BAD_REQUEST,
                    "请求有误",
                    violations
                        .first()
                        .map_or_else(|| "请求有误".to_owned(), ToString::to_string),
                ),
                ServiceError::NotFound { what, key } => (
                    StatusCode::NOT_FOUND,
                    "未找到",
                    format!("没有 {what} {key}"),
                ),
                // Whoever may not see a unit learns nothing of it, not even whether it exists.
                ServiceError::PermissionDenied(denied) => {
                    tracing::info!(denied = %denied, "console request refused");
                    (
                        StatusCode::FORBIDDEN,
                        "无权访问",
                        "该单位或操作不在您的权限范围内。".to_owned(),
                    )
                }
                ServiceError::Unauthenticated(_) => {
                    return Redirect::to("/signin").into_response();
                }
                ServiceError::AlreadyExists(message)
                | ServiceError::FailedPrecondition(message)
                | ServiceError::OutOfRange(message)
                | ServiceError::Exhausted(message) => (StatusCode::CONFLICT, "未能完成", message),
                ServiceError::DataLoss(message) => {
                    (StatusCode::INTERNAL_SERVER_ERROR, "数据不可用", message)
                }
                error @ (ServiceError::Store(_) | ServiceError::Internal(_)) => {
                    tracing::error!(error = %crate::api::error::chain(&error), "console request failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "服务内部错误",
                        "服务内部错误，已记录日志；请稍后再试。".to_owned(),
                    )
                }
            },
        };
        page(status, pages::refusal(title, &message))
    }
}

/// A unit code and fiscal year from a path.
fn unit_and_year(code: &str, year: &str) -> Result<(UnitCode, FiscalYear), WebError> {
    let code = UnitCode::parse(code).map_err(|e| WebError::field("unit", e.to_string()))?;
    let year = year
        .parse::<u32>()
        .ok()
        .and_then(|y| FiscalYear::new(y).ok())
        .ok_or_else(|| WebError::field("year", "is not a fiscal year the service keeps"))?;
    Ok((code, year))
}

/// A page's query string, parsed; one that does not parse is named, never echoed.
fn query<T>(
    query: Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>,
) -> Result<T, WebError> {
    query
        .map(|axum::extract::Query(q)| q)
        .map_err(|_| WebError::field("query", "does not parse"))
}

/// A 303 to `location`: after a POST, the browser fetches the page anew.
fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

//! The console's sessions: a random id in a cookie, the principal and a CSRF token kept on the server, with an idle
//! and an absolute lifetime. Kept in memory: a restart signs everyone out, which costs a sign-in and keeps no
//! session a stolen disk could replay. Every request re-checks the principal's token (`still_authenticated`), so a
//! revoked token ends its sessions at once.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use crate::domain::access::Principal;

/// The cookie that carries the session's id.
pub const COOKIE: &str = "juesuan_session";
/// A session unused this long ends.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// A session ends this long after sign-in, used or not.
pub const ABSOLUTE: Duration = Duration::from_secs(12 * 60 * 60);
/// Most sessions kept: beyond it the oldest ends (a bound on what sign-ins can make the server hold).
pub const MAX_SESSIONS: usize = 10_000;

#[derive(Clone)]
pub struct Session {
    pub principal: Principal,
    /// The token every form of the session carries, checked on POST.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

#[derive(Clone, Default)]
pub struct Sessions {
    inner: Arc<Mutex<HashMap<String, Session>>>,
}

/// 256 random bits as 64 hex digits.
pub fn random_id() -> String {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).expect("the system's random source works");
    hex::encode(bytes)
}

impl Sessions {
    /// A new session for `principal`; returns its id.
    pub fn open(&self, principal: Principal) -> String {
        let id = random_id();
        let now = Instant::now();
        let mut sessions = self.inner.lock().expect("sessions lock");
        sessions.retain(|_, s| alive(s, now));
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.created)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                principal,
                csrf: random_id(),
                created: now,
                last_seen: now,
            },
        );
        id
    }

    /// The live session of `id`, marked as used now; `None` when unknown or expired (and then forgotten).
    pub fn touch(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let mut sessions = self.inner.lock().expect("sessions lock");
        let session = sessions.get_mut(id)?;
        if !alive(session, now) {
            sessions.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    pub fn close(&self, id: &str) {
        self.inner.lock().expect("sessions lock").remove(id);
    }
}

fn alive(session: &Session, now: Instant) -> bool {
    now.duration_since(session.last_seen) < IDLE && now.duration_since(session.created) < ABSOLUTE
}

/// The session cookie: HttpOnly, SameSite=Strict, Secure when served over TLS, for the whole console.
pub fn cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ABSOLUTE.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The cookie that ends the session in the browser.
pub fn cleared(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The session id a request's Cookie header carries, when it is shaped like one.
pub fn id_from(cookie_header: &str) -> Option<&str> {
    cookie_header
        .split(';')
        .filter_map(|part| part.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
        .filter(|value| value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Constant-time equality of two tokens (a CSRF token compared byte by byte would leak its prefix by timing).
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lives_until_signed_out_and_its_cookie_is_strict() {
        let sessions = Sessions::default();
        let id = sessions.open(Principal::system());
        assert_eq!(id.len(), 64);
        assert!(sessions.touch(&id).is_some());
        sessions.close(&id);
        assert!(sessions.touch(&id).is_none());
        let cookie = cookie(&id, true);
        for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
            assert!(cookie.contains(part), "{cookie}");
        }
        assert!(!super::cookie(&id, false).contains("Secure"));
        assert_eq!(id_from(&format!("a=b; {COOKIE}={id}")), Some(id.as_str()));
        assert_eq!(id_from(&format!("{COOKIE}=short")), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    }
}

//! Bearer tokens: issued to principals, shown once, stored only as a hash, optionally expiring, revocable.
//!
//! A token reads `juesuan_<id>_<secret>`: a 12-hex-digit public id, by which the store finds the record, and 256
//! random bits of secret (64 hex digits), of which only the SM3 hash is kept and compared in constant time. The
//! prefix makes a leaked token easy to find with a secret scanner.

use sm3::{Digest, Sm3};

use crate::domain::{
    access::{Principal, PrincipalKind},
    audit::{Action, NewEvent, now_ms},
};

const PREFIX: &str = "juesuan_";
pub const ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;
/// Longest label kept with a token.
pub const MAX_LABEL_CHARS: usize = 200;
/// The file of the first administrator token, in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// A token as stored: everything but the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub id: String,
    pub secret_sm3: [u8; 32],
    pub principal: PrincipalKind,
    pub label: String,
    pub issued_at_ms: i64,
    pub issued_by: String,
    pub expires_at_ms: Option<i64>,
    pub revoked_at_ms: Option<i64>,
    pub revoked_by: Option<String>,
}

impl TokenRecord {
    /// Whether the token works at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.revoked_at_ms.is_none() && self.expires_at_ms.is_none_or(|at| now_ms < at)
    }

    /// Why the token does not work at `now_ms`, if it does not: revoked comes before expired.
    pub fn check_live(&self, now_ms: i64) -> Result<(), AuthError> {
        if self.revoked_at_ms.is_some() {
            Err(AuthError::Revoked)
        } else if !self.is_live(now_ms) {
            Err(AuthError::Expired)
        } else {
            Ok(())
        }
    }
}

/// A newly issued token: the record, and the bearer text given to the principal this once.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub record: TokenRecord,
    pub bearer: String,
}

/// Why a presented credential does not authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no credentials: send `authorization: Bearer <token>`")]
    Missing,
    #[error("the token is malformed (expected juesuan_<id>_<secret>)")]
    Malformed,
    #[error("the token is not known")]
    Unknown,
    #[error("the token has expired")]
    Expired,
    #[error("the token was revoked")]
    Revoked,
    #[error("the client certificate names no enrolled service")]
    UnknownService,
}

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

pub fn hash_secret(secret: &[u8]) -> [u8; 32] {
    Sm3::digest(secret).into()
}

/// The id and secret of a bearer text.
pub fn parse_bearer(text: &str) -> Result<(&str, [u8; SECRET_BYTES]), AuthError> {
    let rest = text.strip_prefix(PREFIX).ok_or(AuthError::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(AuthError::Malformed)?;
    if id.len() != ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Malformed);
    }
    let mut bytes = [0u8; SECRET_BYTES];
    hex::decode_to_slice(secret, &mut bytes).map_err(|_| AuthError::Malformed)?;
    Ok((id, bytes))
}

/// A new token's record and bearer text, and the event that records its issue.
pub fn new_token(
    actor: &Principal,
    principal: PrincipalKind,
    label: &str,
    expires_at_ms: Option<i64>,
) -> Result<(IssuedToken, NewEvent), getrandom::Error> {
    let id = hex::encode(random_bytes::<ID_BYTES>()?);
    let secret = random_bytes::<SECRET_BYTES>()?;
    let record = TokenRecord {
        id: id.clone(),
        secret_sm3: hash_secret(&secret),
        principal,
        label: label.to_owned(),
        issued_at_ms: now_ms(),
        issued_by: actor.to_string(),
        expires_at_ms,
        revoked_at_ms: None,
        revoked_by: None,
    };
    let event = NewEvent::new(actor, Action::TokenIssued).detail(format!(
        "token {id} for {}{}",
        record.principal,
        expires_at_ms.map_or(String::new(), |at| format!(", expires at {at} ms"))
    ));
    let issued = IssuedToken {
        bearer: format!("{PREFIX}{id}_{}", hex::encode(secret)),
        record,
    };
    Ok((issued, event))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_texts_parse_strictly() {
        let secret = "ab".repeat(32);
        let text = format!("juesuan_0123456789ab_{secret}");
        let (id, bytes) = parse_bearer(&text).unwrap();
        assert_eq!(id, "0123456789ab");
        assert_eq!(bytes, [0xab; 32]);
        for bad in [
            "",
            "Bearer x",
            "juesuan_",
            &format!("juesuan_0123456789a_{secret}"),
            &format!("juesuan_0123456789ag_{secret}"),
            "juesuan_0123456789ab_abcd",
            &format!("juesuan_0123456789ab_{secret}00"),
            &format!("other_0123456789ab_{secret}"),
        ] {
            assert_eq!(parse_bearer(bad).err(), Some(AuthError::Malformed), "{bad}");
        }
    }

    #[test]
    fn liveness_follows_expiry_and_revocation() {
        let mut record = TokenRecord {
            id: "x".into(),
            secret_sm3: [0; 32],
            principal: PrincipalKind::Admin,
            label: String::new(),
            issued_at_ms: 0,
            issued_by: "system".into(),
            expires_at_ms: Some(100),
            revoked_at_ms: None,
            revoked_by: None,
        };
        assert!(record.is_live(99));
        assert!(!record.is_live(100));
        record.expires_at_ms = None;
        assert!(record.is_live(i64::MAX));
        record.revoked_at_ms = Some(5);
        assert!(!record.is_live(0));
    }

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = random_bytes::<32>().unwrap();
        let b = random_bytes::<32>().unwrap();
        assert_ne!(a, b);
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(hash_secret(&a), hash_secret(&a));
    }
}

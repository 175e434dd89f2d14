//! Bearer tokens: issued to principals, shown once, stored only as a hash, optionally expiring, revocable.
//!
//! A token reads `juesuan_<id>_<secret>`: a 12-hex-digit public id, by which the store finds the record, and 256
//! random bits of secret (64 hex digits), of which only the SM3 hash is kept and compared in constant time. The
//! prefix makes a leaked token easy to find with a secret scanner.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};

use sm3::{Digest, Sm3};
use subtle::ConstantTimeEq;

use crate::{
    domain::{
        access::{Ask, Principal, PrincipalKind, Role, ServiceName, decide},
        audit::{Action, NewEvent, now_ms},
        error::DomainError,
        ids::UnitCode,
    },
    store::{Store, TokenRevoke},
};

const PREFIX: &str = "juesuan_";
const ID_BYTES: usize = 6;
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

fn random_bytes<const N: usize>() -> Result<[u8; N], DomainError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| DomainError::Internal(format!("the system's random source failed: {e}")))?;
    Ok(bytes)
}

fn hash_secret(secret: &[u8]) -> [u8; 32] {
    Sm3::digest(secret).into()
}

/// The id and secret of a bearer text.
fn parse_bearer(text: &str) -> Result<(&str, [u8; SECRET_BYTES]), AuthError> {
    let rest = text.strip_prefix(PREFIX).ok_or(AuthError::Malformed)?;
    let (id, secret) = rest.split_once('_').ok_or(AuthError::Malformed)?;
    if id.len() != ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AuthError::Malformed);
    }
    let mut bytes = [0u8; SECRET_BYTES];
    hex::decode_to_slice(secret, &mut bytes).map_err(|_| AuthError::Malformed)?;
    Ok((id, bytes))
}

/// Checks a unit principal against the registry when its token is issued: the unit must be registered, a
/// reviewer must be a department or a region, and a submitter a unit that discloses.
async fn check_unit_principal(
    store: &dyn Store,
    code: &UnitCode,
    role: Role,
) -> Result<(), DomainError> {
    let records = store.unit_records(code).await?;
    let Some(latest) = records.last() else {
        return Err(DomainError::invalid(
            "principal.unit.unit_code",
            format!("unit {code} is not registered"),
        ));
    };
    let fits = match role {
        Role::Reviewer => records.iter().any(|u| u.is_department || u.is_region),
        Role::Submitter => records.iter().any(|u| !u.is_region),
        Role::Reader => true,
    };
    if !fits {
        let what = if latest.is_region {
            "a fiscal region node, which has no disclosure to submit"
        } else {
            "neither a department nor a region, so it has nobody to review"
        };
        return Err(DomainError::invalid(
            "principal.unit.role",
            format!("{code} is {what}"),
        ));
    }
    Ok(())
}

/// Issuing, listing, revoking and checking tokens.
#[derive(Clone)]
pub struct Tokens {
    store: Arc<dyn Store>,
}

impl Tokens {
    pub fn new(store: Arc<dyn Store>) -> Tokens {
        Tokens { store }
    }

    /// The principal a bearer text stands for.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthenticationFailure> {
        let (id, secret) = parse_bearer(bearer)?;
        let record = self
            .store
            .token(id)
            .await
            .map_err(AuthenticationFailure::Store)?
            .ok_or(AuthError::Unknown)?;
        // Constant time, so that the comparison says nothing of how much of a guess was right.
        if !bool::from(hash_secret(&secret).ct_eq(&record.secret_sm3)) {
            return Err(AuthError::Unknown.into());
        }
        record.check_live(now_ms())?;
        Ok(Principal {
            kind: record.principal,
            credential: record.id,
        })
    }

    /// The service principal a verified client certificate names: a service with at least one live token.
    pub async fn authenticate_service(
        &self,
        name: &str,
    ) -> Result<Principal, AuthenticationFailure> {
        let name = ServiceName::parse(name).map_err(|_| AuthError::UnknownService)?;
        if !service_enrolled(self.store.as_ref(), &name).await? {
            return Err(AuthError::UnknownService.into());
        }
        Ok(Principal {
            credential: format!("tls:{name}"),
            kind: PrincipalKind::Service { name },
        })
    }

    /// Who the caller is: anyone authenticated may ask.
    pub fn who_am_i(&self, actor: &Principal) -> Result<(), DomainError> {
        decide(actor, &Ask::WhoAmI)?;
        Ok(())
    }

    /// Issues a token for a principal.
    pub async fn issue(
        &self,
        actor: &Principal,
        principal: PrincipalKind,
        expires_at_ms: Option<i64>,
        label: &str,
    ) -> Result<IssuedToken, DomainError> {
        decide(actor, &Ask::ManageTokens)?;
        let label = label.trim();
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(DomainError::invalid(
                "label",
                format!("is longer than {MAX_LABEL_CHARS} characters"),
            ));
        }
        if let Some(at) = expires_at_ms
            && at <= now_ms()
        {
            return Err(DomainError::invalid("expires_at", "is in the past"));
        }
        if let PrincipalKind::Unit { code, role } = &principal {
            check_unit_principal(self.store.as_ref(), code, *role).await?;
        }
        let (issued, event) = new_token(actor, principal, label, expires_at_ms)?;
        self.store.insert_token(&issued.record, event).await?;
        Ok(issued)
    }

    pub async fn list(&self, actor: &Principal) -> Result<Vec<TokenRecord>, DomainError> {
        decide(actor, &Ask::ManageTokens)?;
        let mut tokens = self.store.tokens().await?;
        tokens.sort_by(|a, b| b.issued_at_ms.cmp(&a.issued_at_ms).then(a.id.cmp(&b.id)));
        Ok(tokens)
    }

    pub async fn revoke(&self, actor: &Principal, id: &str) -> Result<TokenRecord, DomainError> {
        decide(actor, &Ask::ManageTokens)?;
        if id.len() != ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DomainError::invalid(
                "id",
                format!("is not a token id ({} hex digits)", ID_BYTES * 2),
            ));
        }
        let event = NewEvent::new(actor, Action::TokenRevoked).detail(format!("token {id}"));
        match self
            .store
            .revoke_token(id, now_ms(), &actor.to_string(), event)
            .await?
        {
            TokenRevoke::Revoked(record) => Ok(record),
            TokenRevoke::AlreadyRevoked(_) => Err(DomainError::FailedPrecondition(format!(
                "token {id} is already revoked"
            ))),
            TokenRevoke::NotFound => Err(DomainError::NotFound {
                what: "token",
                key: id.to_owned(),
            }),
        }
    }

    /// On the first start over an empty store, issues an administrator token and writes it to
    /// `<data_dir>/admin.token`, readable by the owner only. Returns the file's path when it did.
    pub async fn bootstrap_admin(&self, data_dir: &Path) -> Result<Option<PathBuf>, DomainError> {
        if self.store.token_count().await? > 0 {
            return Ok(None);
        }
        let (issued, event) = new_token(
            &Principal::system(),
            PrincipalKind::Admin,
            "first administrator, made at the first start",
            None,
        )?;
        // Another server starting on the same store at the same moment may have issued it.
        if self
            .store
            .insert_first_token(&issued.record, event)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        let path = data_dir.join(ADMIN_TOKEN_FILE);
        write_secret_file(&path, &issued.bearer)
            .map_err(|e| DomainError::Internal(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(path))
    }
}

/// A new token's record and bearer text, and the event that records its issue.
fn new_token(
    actor: &Principal,
    principal: PrincipalKind,
    label: &str,
    expires_at_ms: Option<i64>,
) -> Result<(IssuedToken, NewEvent), DomainError> {
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

async fn service_enrolled(
    store: &dyn Store,
    name: &ServiceName,
) -> Result<bool, AuthenticationFailure> {
    let now = now_ms();
    Ok(store
        .tokens()
        .await
        .map_err(AuthenticationFailure::Store)?
        .into_iter()
        .any(|t| t.is_live(now) && t.principal == PrincipalKind::Service { name: name.clone() }))
}

/// Whether a principal authenticated at the start of a long call (a watch) would still be now: its token neither
/// revoked nor expired, its service still enrolled. The service itself always is.
pub async fn still_authenticated(
    store: &dyn Store,
    principal: &Principal,
) -> Result<(), AuthenticationFailure> {
    if principal.credential == Principal::system().credential {
        return Ok(());
    }
    if principal.credential.starts_with("tls:") {
        let PrincipalKind::Service { name } = &principal.kind else {
            return Err(AuthError::UnknownService.into());
        };
        return if service_enrolled(store, name).await? {
            Ok(())
        } else {
            Err(AuthError::UnknownService.into())
        };
    }
    let record = store
        .token(&principal.credential)
        .await
        .map_err(AuthenticationFailure::Store)?
        .ok_or(AuthError::Unknown)?;
    record.check_live(now_ms())?;
    // A token's principal never changes; a record that says otherwise is not the token the call began with.
    if record.principal != principal.kind {
        return Err(AuthError::Unknown.into());
    }
    Ok(())
}

/// Writes a token to a new file readable and writable by its owner only (replacing any file there).
pub fn write_secret_file(path: &Path, bearer: &str) -> std::io::Result<()> {
    let _ = std::fs::remove_file(path);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    writeln!(file, "{bearer}")?;
    file.sync_all()
}

/// Why authentication failed: the credential, or the store behind it.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationFailure {
    #[error(transparent)]
    Credential(#[from] AuthError),
    #[error("the token store failed")]
    Store(#[source] crate::store::StoreError),
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

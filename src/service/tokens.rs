//! Tokens as a use case: issuing, listing and revoking them through the store, authenticating a bearer text or
//! a client certificate, and the administrator's first token.

use crate::domain::tokens::{
    ADMIN_TOKEN_FILE, AuthError, ID_BYTES, IssuedToken, MAX_LABEL_CHARS, TokenRecord, hash_secret,
    new_token, parse_bearer,
};
use crate::service::error::ServiceError;
use crate::{
    domain::{
        access::{Ask, Principal, PrincipalKind, Role, ServiceName, decide},
        audit::{Action, NewEvent, now_ms},
        ids::UnitCode,
    },
    store::{Store, TokenRevoke},
};
use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::Arc,
};
use subtle::ConstantTimeEq;

/// Checks a unit principal against the registry when its token is issued: the unit must be registered, a
/// reviewer must be a department or a region, and a submitter a unit that discloses.
async fn check_unit_principal(
    store: &dyn Store,
    code: &UnitCode,
    role: Role,
) -> Result<(), ServiceError> {
    let records = store.unit_records(code).await?;
    let Some(latest) = records.last() else {
        return Err(ServiceError::invalid(
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
        return Err(ServiceError::invalid(
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
    pub fn who_am_i(&self, actor: &Principal) -> Result<(), ServiceError> {
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
    ) -> Result<IssuedToken, ServiceError> {
        decide(actor, &Ask::ManageTokens)?;
        let label = label.trim();
        if label.chars().count() > MAX_LABEL_CHARS {
            return Err(ServiceError::invalid(
                "label",
                format!("is longer than {MAX_LABEL_CHARS} characters"),
            ));
        }
        if let Some(at) = expires_at_ms
            && at <= now_ms()
        {
            return Err(ServiceError::invalid("expires_at", "is in the past"));
        }
        if let PrincipalKind::Unit { code, role } = &principal {
            check_unit_principal(self.store.as_ref(), code, *role).await?;
        }
        let (issued, event) =
            new_token(actor, principal, label, expires_at_ms).map_err(random_source_failed)?;
        self.store.insert_token(&issued.record, event).await?;
        Ok(issued)
    }

    pub async fn list(&self, actor: &Principal) -> Result<Vec<TokenRecord>, ServiceError> {
        decide(actor, &Ask::ManageTokens)?;
        let mut tokens = self.store.tokens().await?;
        tokens.sort_by(|a, b| b.issued_at_ms.cmp(&a.issued_at_ms).then(a.id.cmp(&b.id)));
        Ok(tokens)
    }

    pub async fn revoke(&self, actor: &Principal, id: &str) -> Result<TokenRecord, ServiceError> {
        decide(actor, &Ask::ManageTokens)?;
        if id.len() != ID_BYTES * 2 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ServiceError::invalid(
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
            TokenRevoke::AlreadyRevoked(_) => Err(ServiceError::FailedPrecondition(format!(
                "token {id} is already revoked"
            ))),
            TokenRevoke::NotFound => Err(ServiceError::NotFound {
                what: "token",
                key: id.to_owned(),
            }),
        }
    }

    /// On the first start over an empty store, issues an administrator token and writes it to
    /// `<data_dir>/admin.token`, readable by the owner only. Returns the file's path when it did.
    pub async fn bootstrap_admin(&self, data_dir: &Path) -> Result<Option<PathBuf>, ServiceError> {
        if self.store.token_count().await? > 0 {
            return Ok(None);
        }
        let (issued, event) = new_token(
            &Principal::system(),
            PrincipalKind::Admin,
            "first administrator, made at the first start",
            None,
        )
        .map_err(random_source_failed)?;
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
            .map_err(|e| ServiceError::Internal(format!("cannot write {}: {e}", path.display())))?;
        Ok(Some(path))
    }
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

fn random_source_failed(error: getrandom::Error) -> ServiceError {
    ServiceError::Internal(format!("the system's random source failed: {error}"))
}

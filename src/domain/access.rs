//! Who may do what: principals, and the one authorization policy every RPC goes through.
//!
//! A principal is a node of a fiscal year's unit tree with a role, a named service (a budget system), or an
//! administrator. What a tree principal may do depends on where its node stands in the year's tree relative to
//! the unit asked about — its [`Lineage`] — so the same token may read a unit in one year and not in another. The
//! policy ([`decide`]) is a pure function of the principal, what is asked ([`Ask`]) and the lineages involved; the
//! domain services load the lineages and call it before anything else. docs/access.md has the table in words.

use std::fmt;

use crate::domain::{
    ids::{FiscalYear, UnitCode},
    unit::Unit,
};

/// Deepest lineage walked: a chain longer than this is a cycle the store holds, and the walk stops there.
pub const MAX_DEPTH: usize = 64;

/// What a tree principal may do at its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Submits and explains its own unit's disclosures, and reads them.
    Submitter,
    /// Reads its node's subtree.
    Reader,
    /// Reads the subtree, reviews its direct subordinates, locks and unlocks the subtree; at a region node, also
    /// registers units in the region.
    Reviewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Submitter, Role::Reader, Role::Reviewer];

    pub fn code(self) -> &'static str {
        match self {
            Role::Submitter => "submitter",
            Role::Reader => "reader",
            Role::Reviewer => "reviewer",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.code() == code)
    }
}

/// Who a token stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalKind {
    Unit { code: UnitCode, role: Role },
    Service { name: ServiceName },
    Admin,
}

/// An authenticated caller: who, and by which credential (for the audit trail and denials).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub kind: PrincipalKind,
    /// The token's id, or "tls:<name>" for a client certificate, or "system" for what the service does itself.
    pub credential: String,
}

impl Principal {
    /// The service itself (the first start's admin token is issued by it).
    pub fn system() -> Principal {
        Principal {
            kind: PrincipalKind::Admin,
            credential: "system".to_owned(),
        }
    }

    pub fn unit_code(&self) -> Option<&UnitCode> {
        match &self.kind {
            PrincipalKind::Unit { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl fmt::Display for PrincipalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrincipalKind::Unit { code, role } => write!(f, "unit:{code}/{}", role.code()),
            PrincipalKind::Service { name } => write!(f, "service:{name}"),
            PrincipalKind::Admin => f.write_str("admin"),
        }
    }
}

/// "unit:652300101/submitter token:3f9a1c0b7d2e": how the audit trail and denials name a caller.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.credential == "system" {
            return f.write_str("system");
        }
        write!(f, "{} {}", self.kind, credential_label(&self.credential))
    }
}

fn credential_label(credential: &str) -> String {
    if credential.starts_with("tls:") {
        credential.to_owned()
    } else {
        format!("token:{credential}")
    }
}

/// A service principal's name: 1–64 characters of ASCII letters, digits, '-', '_' or '.'.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceName(String);

impl ServiceName {
    pub const MAX_LEN: usize = 64;

    pub fn parse(text: &str) -> Result<ServiceName, String> {
        if text.is_empty() {
            return Err("is empty".to_owned());
        }
        if text.len() > Self::MAX_LEN {
            return Err(format!("is longer than {} characters", Self::MAX_LEN));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err("may contain only ASCII letters, digits, '-', '_' and '.'".to_owned());
        }
        Ok(ServiceName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ServiceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A unit and its ancestors in one year's tree: `chain[0]` is the unit, `chain[1]` its parent, and so on to the
/// root. Empty when the unit is not registered for the year (nobody but administrators and services can then be
/// allowed anything about it, and they learn that it does not exist from the domain, not from the policy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lineage {
    pub subject: UnitCode,
    pub year: FiscalYear,
    pub chain: Vec<Unit>,
}

impl Lineage {
    /// Whether `node` is the unit or one of its ancestors.
    pub fn is_within(&self, node: &UnitCode) -> bool {
        self.chain.iter().any(|u| &u.code == node)
    }

    pub fn parent(&self) -> Option<&Unit> {
        self.chain.get(1)
    }

    pub fn codes(&self) -> Vec<UnitCode> {
        self.chain.iter().map(|u| u.code.clone()).collect()
    }
}

/// What an RPC asks to do, with the lineages the decision needs.
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    /// Read a unit's (or a node's subtree's) data: registry record, submissions, findings, consolidation,
    /// completeness, pending versions, audit events; a dry-run validation of its disclosure.
    Read(&'a Lineage),
    /// Read what is not one subtree's: every unit of a year, every audit event.
    ReadEverything,
    /// Submit or explain a unit's own disclosure.
    Submit(&'a Lineage),
    /// Accept, return or revert a unit's version: for the reviewers of its parent.
    Review(&'a Lineage),
    /// Lock a node's subtree for the year.
    Lock(&'a Lineage),
    /// Unlock a node's subtree: for the reviewers of the node that locked it, or above.
    Unlock { locked_by: &'a Lineage },
    /// Register a unit record under a parent (none: a root), replacing the record the unit has now, if any.
    Register {
        parent: Option<&'a Lineage>,
        existing: Option<&'a Lineage>,
    },
    /// Set a unit's signing key; `replacing` when it has one.
    SetSigningKey { unit: &'a Lineage, replacing: bool },
    /// Put a unit's budget figures (年初预算): for budget systems, as service principals.
    PutBudget(&'a Lineage),
    /// Issue, list or revoke tokens.
    ManageTokens,
    /// Recompute the audit chain.
    VerifyAudit,
    /// Say who the caller is.
    WhoAmI,
    /// Sign in to the web console: for people (units' staff, administrators), not for budget systems.
    SignInToConsole,
    /// Check a published document on its own (no stored figures read): anyone signed in.
    CheckDocument,
}

impl Ask<'_> {
    /// What was asked, in words, for a denial.
    fn describe(&self) -> String {
        let year = |l: &Lineage| format!("{} in {}", l.subject, l.year);
        match self {
            Ask::Read(l) => format!("read {}", year(l)),
            Ask::ReadEverything => "read every unit's data".to_owned(),
            Ask::Submit(l) => format!("submit for {}", year(l)),
            Ask::PutBudget(l) => format!("put the budget of {}", year(l)),
            Ask::Review(l) => format!("review {}", year(l)),
            Ask::Lock(l) => format!("lock {}", year(l)),
            Ask::Unlock { locked_by } => {
                format!("unlock a lock set by {}", year(locked_by))
            }
            Ask::Register { parent, .. } => match parent {
                Some(p) => format!("register a unit under {}", year(p)),
                None => "register a root node".to_owned(),
            },
            Ask::SetSigningKey { unit, replacing } => format!(
                "{} the signing key of {}",
                if *replacing { "replace" } else { "set" },
                unit.subject
            ),
            Ask::ManageTokens => "manage tokens".to_owned(),
            Ask::VerifyAudit => "verify the audit chain".to_owned(),
            Ask::WhoAmI => "ask who it is".to_owned(),
            Ask::CheckDocument => "check a published document".to_owned(),
            Ask::SignInToConsole => "sign in to the web console".to_owned(),
        }
    }
}

/// A refused request: who asked what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{who} may not {what}")]
pub struct Denied {
    pub who: String,
    pub what: String,
}

/// The policy. `Ok` means the principal may do what it asks; what it asks may still fail for other reasons.
pub fn decide(principal: &Principal, ask: &Ask<'_>) -> Result<(), Denied> {
    if allowed(&principal.kind, ask) {
        Ok(())
    } else {
        Err(Denied {
            who: principal.to_string(),
            what: ask.describe(),
        })
    }
}

fn allowed(kind: &PrincipalKind, ask: &Ask<'_>) -> bool {
    match kind {
        PrincipalKind::Admin => matches!(
            ask,
            Ask::Read(_)
                | Ask::ReadEverything
                | Ask::Register { .. }
                | Ask::SetSigningKey { .. }
                | Ask::ManageTokens
                | Ask::VerifyAudit
                | Ask::WhoAmI
                | Ask::SignInToConsole
                | Ask::CheckDocument
        ),
        PrincipalKind::Service { .. } => matches!(
            ask,
            Ask::Read(_)
                | Ask::ReadEverything
                | Ask::PutBudget(_)
                | Ask::WhoAmI
                | Ask::CheckDocument
        ),
        PrincipalKind::Unit { code, role } => unit_allowed(code, *role, ask),
    }
}

fn unit_allowed(node: &UnitCode, role: Role, ask: &Ask<'_>) -> bool {
    let is_self = |l: &Lineage| l.chain.first().is_some_and(|u| &u.code == node);
    // The principal's own record in the lineage: its node must be registered for the year to act in it.
    let own_record = |l: &Lineage| l.chain.iter().find(|u| &u.code == node).cloned();
    match ask {
        Ask::WhoAmI | Ask::SignInToConsole | Ask::CheckDocument => true,
        Ask::Read(l) => match role {
            Role::Submitter => is_self(l),
            Role::Reader | Role::Reviewer => l.is_within(node),
        },
        Ask::Submit(l) => role == Role::Submitter && is_self(l),
        Ask::Review(l) => role == Role::Reviewer && l.parent().is_some_and(|p| &p.code == node),
        Ask::Lock(l) => role == Role::Reviewer && l.is_within(node),
        Ask::Unlock { locked_by } => role == Role::Reviewer && locked_by.is_within(node),
        Ask::Register { parent, existing } => {
            // A region's reviewers register units inside the region: the new parent, and the record being
            // replaced, must both be in the region node's subtree.
            let in_region = |l: &Lineage| own_record(l).is_some_and(|u| u.is_region);
            role == Role::Reviewer
                && parent.is_some_and(in_region)
                && existing.is_none_or(in_region)
        }
        Ask::SetSigningKey { unit, replacing } => match role {
            // A unit sets its first key itself; replacing one needs someone who can vouch for the new key.
            Role::Submitter => is_self(unit) && !replacing,
            Role::Reviewer => own_record(unit).is_some_and(|u| u.is_region),
            Role::Reader => false,
        },
        Ask::ReadEverything | Ask::PutBudget(_) | Ask::ManageTokens | Ask::VerifyAudit => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        ids::RegionCode,
        unit::{BudgetLevel, UnitType},
    };

    fn unit(code: &str, parent: Option<&str>, region: bool, department: bool) -> Unit {
        Unit {
            code: UnitCode::parse(code).unwrap(),
            name: code.to_owned(),
            valid_from: FiscalYear::new(2024).unwrap(),
            valid_to: None,
            budget_level: BudgetLevel::Prefecture,
            unit_type: (!region).then_some(UnitType::Administrative),
            parent: parent.map(|p| UnitCode::parse(p).unwrap()),
            supervising_department: None,
            fiscal_region: RegionCode::parse("652300").unwrap(),
            is_department: department,
            is_region: region,
        }
    }

    /// R (region) → G (department) → D (department) → U.
    fn lineage_of_u() -> Lineage {
        Lineage {
            subject: UnitCode::parse("U").unwrap(),
            year: FiscalYear::new(2024).unwrap(),
            chain: vec![
                unit("U", Some("D"), false, false),
                unit("D", Some("G"), false, true),
                unit("G", Some("R"), false, true),
                unit("R", None, true, false),
            ],
        }
    }

    fn principal(code: &str, role: Role) -> Principal {
        Principal {
            kind: PrincipalKind::Unit {
                code: UnitCode::parse(code).unwrap(),
                role,
            },
            credential: "t1".into(),
        }
    }

    #[test]
    fn a_unit_submits_and_reads_only_its_own() {
        let l = lineage_of_u();
        assert!(decide(&principal("U", Role::Submitter), &Ask::Submit(&l)).is_ok());
        assert!(decide(&principal("U", Role::Submitter), &Ask::Read(&l)).is_ok());
        assert!(decide(&principal("U", Role::Reader), &Ask::Submit(&l)).is_err());
        assert!(decide(&principal("S", Role::Submitter), &Ask::Submit(&l)).is_err());
        assert!(decide(&principal("D", Role::Submitter), &Ask::Read(&l)).is_err());
    }

    #[test]
    fn a_department_reads_its_subtree_and_reviews_only_direct_subordinates() {
        let l = lineage_of_u();
        assert!(decide(&principal("D", Role::Reviewer), &Ask::Review(&l)).is_ok());
        assert!(decide(&principal("G", Role::Reviewer), &Ask::Read(&l)).is_ok());
        assert!(decide(&principal("G", Role::Reviewer), &Ask::Review(&l)).is_err());
        assert!(decide(&principal("D", Role::Reader), &Ask::Review(&l)).is_err());
        assert!(decide(&principal("D", Role::Reviewer), &Ask::Submit(&l)).is_err());
        assert!(decide(&principal("G", Role::Reviewer), &Ask::Lock(&l)).is_ok());
    }

    #[test]
    fn unlocking_needs_the_lockers_level_or_above() {
        let mut locked_by = lineage_of_u();
        locked_by.chain.remove(0);
        locked_by.subject = UnitCode::parse("D").unwrap();
        let ask = Ask::Unlock {
            locked_by: &locked_by,
        };
        assert!(decide(&principal("D", Role::Reviewer), &ask).is_ok());
        assert!(decide(&principal("R", Role::Reviewer), &ask).is_ok());
        assert!(decide(&principal("U", Role::Reviewer), &ask).is_err());
    }

    #[test]
    fn registration_stays_inside_the_region() {
        let parent = lineage_of_u();
        let elsewhere = Lineage {
            chain: vec![unit("X", None, true, false)],
            ..lineage_of_u()
        };
        let reviewer = principal("R", Role::Reviewer);
        let ask = |existing| Ask::Register {
            parent: Some(&parent),
            existing,
        };
        assert!(decide(&reviewer, &ask(None)).is_ok());
        assert!(decide(&reviewer, &ask(Some(&parent))).is_ok());
        assert!(decide(&reviewer, &ask(Some(&elsewhere))).is_err());
        assert!(decide(&principal("D", Role::Reviewer), &ask(None)).is_err());
        let root = Ask::Register {
            parent: None,
            existing: None,
        };
        assert!(decide(&reviewer, &root).is_err());
        assert!(decide(&Principal::system(), &root).is_ok());
    }

    #[test]
    fn services_and_admins_read_but_do_not_submit_or_review() {
        let l = lineage_of_u();
        let service = Principal {
            kind: PrincipalKind::Service {
                name: ServiceName::parse("budget").unwrap(),
            },
            credential: "t2".into(),
        };
        for p in [&service, &Principal::system()] {
            assert!(decide(p, &Ask::Read(&l)).is_ok());
            assert!(decide(p, &Ask::ReadEverything).is_ok());
            assert!(decide(p, &Ask::Submit(&l)).is_err());
            assert!(decide(p, &Ask::Review(&l)).is_err());
        }
        assert!(decide(&service, &Ask::ManageTokens).is_err());
        // Budget figures come from budget systems alone: not the administrator, not the unit or its reviewers.
        assert!(decide(&service, &Ask::PutBudget(&l)).is_ok());
        assert!(decide(&Principal::system(), &Ask::PutBudget(&l)).is_err());
        for role in [Role::Submitter, Role::Reader, Role::Reviewer] {
            assert!(decide(&principal("U", role), &Ask::PutBudget(&l)).is_err());
            assert!(decide(&principal("D", role), &Ask::PutBudget(&l)).is_err());
        }
    }

    #[test]
    fn an_unregistered_subject_is_nobodys_to_read() {
        let empty = Lineage {
            chain: Vec::new(),
            ..lineage_of_u()
        };
        let denied = decide(&principal("U", Role::Submitter), &Ask::Read(&empty)).unwrap_err();
        assert_eq!(
            denied.to_string(),
            "unit:U/submitter token:t1 may not read U in 2024"
        );
    }
}

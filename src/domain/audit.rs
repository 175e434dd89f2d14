//! The audit trail: append-only events chained with SM3.
//!
//! Every change a caller makes — a submission, an explanation, a review decision, a lock, a unit registration, a
//! signing key, a token issued or revoked — is recorded as an event in the same transaction as the change itself
//! (the store does that; see `Store`). Each event's hash is `SM3(previous hash ‖ canonical bytes)`, so changing,
//! removing or reordering any stored event breaks every link after it, and [`verify`] names the first broken
//! one. The canonical bytes ([`canonical_bytes`]) are a fixed, documented encoding (docs/audit.md), not a
//! serializer's output, so the chain can be recomputed by anyone with the rows.

use sm3::{Digest, Sm3};

use crate::domain::{
    access::Principal,
    ids::{FiscalYear, UnitCode},
};

/// Most events one read returns.
pub const MAX_PAGE: u32 = 1000;
/// Events one read returns when the caller does not say.
pub const DEFAULT_PAGE: u32 = 100;

/// The hash the first event links to.
pub const GENESIS: [u8; 32] = [0; 32];

/// Tags the encoding, so that a later change of it cannot be confused with this one.
const DOMAIN_TAG: &[u8] = b"juesuan-audit-v1";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Submission,
    Explanation,
    Accept,
    Return,
    Revert,
    Lock,
    Unlock,
    UnitRegistered,
    SigningKeySet,
    TokenIssued,
    TokenRevoked,
    BudgetPut,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::Submission,
        Action::Explanation,
        Action::Accept,
        Action::Return,
        Action::Revert,
        Action::Lock,
        Action::Unlock,
        Action::UnitRegistered,
        Action::SigningKeySet,
        Action::TokenIssued,
        Action::TokenRevoked,
        Action::BudgetPut,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Action::Submission => "submission",
            Action::Explanation => "explanation",
            Action::Accept => "review.accept",
            Action::Return => "review.return",
            Action::Revert => "review.revert",
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::UnitRegistered => "unit.register",
            Action::SigningKeySet => "signing_key.set",
            Action::TokenIssued => "token.issue",
            Action::TokenRevoked => "token.revoke",
            Action::BudgetPut => "budget.put",
        }
    }
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub at_ms: i64,
    pub actor: String,
    pub action: String,
    pub unit: Option<UnitCode>,
    pub fiscal_year: Option<FiscalYear>,
    pub version: Option<u32>,
    pub reason: String,
    pub detail: String,
}

impl NewEvent {
    pub fn new(actor: &Principal, action: Action) -> NewEvent {
        NewEvent {
            at_ms: now_ms(),
            actor: actor.to_string(),
            action: action.code().to_owned(),
            unit: None,
            fiscal_year: None,
            version: None,
            reason: String::new(),
            detail: String::new(),
        }
    }

    pub fn about(mut self, unit: &UnitCode, year: Option<FiscalYear>) -> NewEvent {
        self.unit = Some(unit.clone());
        self.fiscal_year = year;
        self
    }

    pub fn version(mut self, version: u32) -> NewEvent {
        self.version = Some(version);
        self
    }

    pub fn reason(mut self, reason: impl Into<String>) -> NewEvent {
        self.reason = reason.into();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> NewEvent {
        self.detail = detail.into();
        self
    }
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub seq: u64,
    pub event: NewEvent,
    pub prev_hash: [u8; 32],
    pub hash: [u8; 32],
}

/// The bytes an event's hash covers: the tag, then seq (u64), time (i64), year (u32, 0 for none) and version (u32,
/// 0 for none) big-endian, then actor, action, unit, reason and detail, each as a u32 big-endian byte length and
/// its UTF-8 bytes.
pub fn canonical_bytes(seq: u64, event: &NewEvent) -> Vec<u8> {
    let texts = [
        event.actor.as_str(),
        event.action.as_str(),
        event.unit.as_ref().map_or("", UnitCode::as_str),
        event.reason.as_str(),
        event.detail.as_str(),
    ];
    let mut out = Vec::with_capacity(
        DOMAIN_TAG.len() + 24 + texts.iter().map(|t| 4 + t.len()).sum::<usize>(),
    );
    out.extend_from_slice(DOMAIN_TAG);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&event.at_ms.to_be_bytes());
    out.extend_from_slice(&event.fiscal_year.map_or(0, FiscalYear::get).to_be_bytes());
    out.extend_from_slice(&event.version.unwrap_or(0).to_be_bytes());
    for text in texts {
        // Texts are bounded far below 4 GiB by the requests that carry them.
        out.extend_from_slice(&u32::try_from(text.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(text.as_bytes());
    }
    out
}

/// `SM3(prev ‖ canonical bytes)`.
pub fn chain_hash(prev: &[u8; 32], seq: u64, event: &NewEvent) -> [u8; 32] {
    let mut hasher = Sm3::new();
    hasher.update(prev);
    hasher.update(canonical_bytes(seq, event));
    hasher.finalize().into()
}

/// Seals an event as the successor of `prev` (the previous event's seq and hash; `None` for the first).
pub fn seal(prev: Option<(u64, [u8; 32])>, event: NewEvent) -> Event {
    let (prev_seq, prev_hash) = prev.unwrap_or((0, GENESIS));
    let seq = prev_seq + 1;
    let hash = chain_hash(&prev_hash, seq, &event);
    Event {
        seq,
        event,
        prev_hash,
        hash,
    }
}

/// The SM3 digest (hex) a submission event's detail records of the bytes received: its "sm3:…" word.
pub fn recorded_digest(detail: &str) -> Option<&str> {
    detail
        .split_whitespace()
        .find_map(|word| word.strip_prefix("sm3:"))
        .filter(|digest| digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The chain's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub events: u64,
    /// The first broken link: its seq and what is wrong.
    pub broken: Option<(u64, String)>,
    pub head: [u8; 32],
    /// The seq of the last event that verified.
    pub head_seq: u64,
    /// What the check against a head kept elsewhere found, when one was given and it does not hold.
    pub head_problem: Option<String>,
    /// Stored versions checked against the digest their submission event recorded.
    pub versions_checked: u64,
    /// Stored versions whose bytes are not those the chain recorded.
    pub damaged: Vec<DamagedVersion>,
}

impl Verification {
    /// Whether everything holds: the chain, the kept head, every stored version's bytes.
    pub fn intact(&self) -> bool {
        self.broken.is_none() && self.head_problem.is_none() && self.damaged.is_empty()
    }
}

/// A stored version whose bytes do not match the chain's record of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DamagedVersion {
    pub unit: UnitCode,
    pub fiscal_year: FiscalYear,
    pub version: u32,
    pub problem: String,
}

/// A head of the chain kept elsewhere (`seq:digest`, as `juesuan audit head` prints it): a later verification
/// that does not reach it, or reaches another hash there, shows the chain was cut short or rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeptHead {
    pub seq: u64,
    pub hash: [u8; 32],
}

impl KeptHead {
    /// "1234:<64 hex digits>".
    pub fn parse(text: &str) -> Result<KeptHead, String> {
        let (seq, hash) = text
            .trim()
            .split_once(':')
            .ok_or("write SEQ:DIGEST, as `juesuan audit head` prints it")?;
        let seq: u64 = seq
            .parse()
            .map_err(|_| "SEQ is the event's number, e.g. 1234".to_owned())?;
        let bytes = hex::decode(hash).map_err(|_| "DIGEST is 64 hex digits".to_owned())?;
        let hash: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "DIGEST is 64 hex digits".to_owned())?;
        if seq == 0 {
            return Err("SEQ starts at 1".to_owned());
        }
        Ok(KeptHead { seq, hash })
    }
}

/// Recomputes a chain, events in ascending seq: each must follow the previous one, link to its hash, and hash to
/// what it says. Stops at the first broken link. Keeps the digest each submission event recorded, for the check
/// of the stored versions, and checks the head kept elsewhere, if given.
#[derive(Debug)]
pub struct Verifier {
    expected_seq: u64,
    prev: [u8; 32],
    events: u64,
    broken: Option<(u64, String)>,
    kept: Option<KeptHead>,
    head_problem: Option<String>,
    recorded: std::collections::HashMap<(UnitCode, FiscalYear, u32), String>,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier {
            expected_seq: 1,
            prev: GENESIS,
            events: 0,
            broken: None,
            kept: None,
            head_problem: None,
            recorded: std::collections::HashMap::new(),
        }
    }
}

impl Verifier {
    /// A verifier that also checks a head kept elsewhere.
    pub fn against(kept: Option<KeptHead>) -> Verifier {
        Verifier {
            kept,
            ..Verifier::default()
        }
    }

    /// Checks the next event; returns false once a link is broken (the rest need not be read).
    pub fn push(&mut self, event: &Event) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.events += 1;
        let problem = if event.seq != self.expected_seq {
            Some(format!(
                "event {} follows event {}: an event is missing or was moved",
                event.seq,
                self.expected_seq - 1
            ))
        } else if event.prev_hash != self.prev {
            Some("its link to the previous event does not match that event's hash".to_owned())
        } else if chain_hash(&event.prev_hash, event.seq, &event.event) != event.hash {
            Some("its content does not hash to its stored hash: the event was changed".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.broken = Some((event.seq, problem));
            return false;
        }
        if let Some(kept) = self.kept
            && kept.seq == event.seq
            && kept.hash != event.hash
        {
            self.head_problem = Some(format!(
                "event {} hashes to {}, not to the head kept for it ({}): the chain was rewritten at or before it",
                event.seq,
                hex::encode(event.hash),
                hex::encode(kept.hash)
            ));
        }
        if event.event.action == Action::Submission.code()
            && let (Some(unit), Some(year), Some(version)) = (
                &event.event.unit,
                event.event.fiscal_year,
                event.event.version,
            )
            && let Some(digest) = recorded_digest(&event.event.detail)
        {
            self.recorded
                .insert((unit.clone(), year, version), digest.to_owned());
        }
        self.expected_seq = event.seq + 1;
        self.prev = event.hash;
        true
    }

    /// Checks one stored version's bytes against the digest its submission event recorded (and its row's).
    pub fn check_content(&self, content: &StoredContent) -> Option<DamagedVersion> {
        let key = (
            content.unit_code.clone(),
            content.fiscal_year,
            content.version,
        );
        let problem = match (&content.content, self.recorded.get(&key)) {
            (Err(why), _) => format!("its stored bytes cannot be read back: {why}"),
            (Ok(_), None) if self.broken.is_some() => return None,
            (Ok(_), None) => "no submission event of the chain records it".to_owned(),
            (Ok(bytes), Some(recorded)) => {
                let actual = hex::encode(Sm3::digest(bytes));
                if &actual != recorded {
                    format!(
                        "its stored bytes hash to {actual}, not to the digest its submission event recorded ({recorded}): \
                         they were replaced"
                    )
                } else if actual != content.content_sm3 {
                    format!(
                        "its row records the digest {}, not that of its bytes ({actual})",
                        content.content_sm3
                    )
                } else {
                    return None;
                }
            }
        };
        Some(DamagedVersion {
            unit: content.unit_code.clone(),
            fiscal_year: content.fiscal_year,
            version: content.version,
            problem,
        })
    }

    pub fn finish(self) -> Verification {
        let head_seq = self.expected_seq - 1;
        let mut head_problem = self.head_problem;
        if let Some(kept) = self.kept
            && head_problem.is_none()
            && self.broken.is_none()
            && head_seq < kept.seq
        {
            head_problem = Some(format!(
                "the chain ends at event {head_seq}, before the head kept for event {}: events were cut off",
                kept.seq
            ));
        }
        Verification {
            events: self.events,
            broken: self.broken,
            head: self.prev,
            head_seq,
            head_problem,
            versions_checked: 0,
            damaged: Vec::new(),
        }
    }
}

/// The bytes a signed head covers: the tag, the seq (u64 big-endian) and the event's hash.
pub fn head_message(seq: u64, hash: &[u8; 32]) -> Vec<u8> {
    let mut message = b"juesuan-audit-head-v1".to_vec();
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message
}

/// The chain's head, signed with the server's SM2 key: what an operator keeps elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHead {
    pub seq: u64,
    pub hash: [u8; 32],
    /// SM2 over [`head_message`], 64 bytes r‖s.
    pub signature: Vec<u8>,
    /// The server's public key (SEC1, uncompressed).
    pub public_key: Vec<u8>,
}

/// Verifies a whole chain held in memory.
pub fn verify<'a>(events: impl IntoIterator<Item = &'a Event>) -> Verification {
    let mut verifier = Verifier::default();
    for event in events {
        if !verifier.push(event) {
            break;
        }
    }
    verifier.finish()
}

/// A stored version's bytes, as the store's `version_contents` reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredContent {
    pub unit_code: UnitCode,
    pub fiscal_year: FiscalYear,
    pub version: u32,
    /// The digest the version's row records.
    pub content_sm3: String,
    /// The bytes as received, or why they cannot be read back (damaged compression, a wrong length).
    pub content: Result<Vec<u8>, String>,
}

/// The calendar date (year, month, day) of a count of days since 1970-01-01 (Howard Hinnant's civil-from-days):
/// what every printed time is made of, without a date library.
pub fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(month <= 2), month, day)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: i64) -> NewEvent {
        NewEvent {
            at_ms: 1_700_000_000_000 + n,
            actor: "admin token:abc".into(),
            action: Action::Submission.code().into(),
            unit: Some(UnitCode::parse("652300101").unwrap()),
            fiscal_year: Some(FiscalYear::new(2024).unwrap()),
            version: Some(n as u32),
            reason: String::new(),
            detail: format!("sm3:{n}"),
        }
    }

    fn chain(n: i64) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for i in 1..=n {
            let prev = out.last().map(|e| (e.seq, e.hash));
            out.push(seal(prev, event(i)));
        }
        out
    }

    #[test]
    fn an_untouched_chain_verifies() {
        let events = chain(5);
        let verdict = verify(&events);
        assert_eq!(verdict.events, 5);
        assert_eq!(verdict.broken, None);
        assert_eq!(verdict.head, events[4].hash);
        assert_eq!(events[0].prev_hash, GENESIS);
    }

    #[test]
    fn a_changed_event_is_named() {
        let mut events = chain(5);
        events[2].event.reason = "edited".into();
        let verdict = verify(&events);
        assert_eq!(verdict.broken.as_ref().map(|b| b.0), Some(3));
        assert!(verdict.broken.unwrap().1.contains("was changed"));
    }

    #[test]
    fn a_removed_or_rehashed_event_is_named() {
        let mut events = chain(5);
        events.remove(1);
        assert_eq!(verify(&events).broken.map(|b| b.0), Some(3));

        // Recomputing a changed event's own hash does not help: the next link breaks.
        let mut events = chain(5);
        events[1].event.detail = "forged".into();
        events[1].hash = chain_hash(&events[1].prev_hash, 2, &events[1].event);
        assert_eq!(verify(&events).broken.map(|b| b.0), Some(3));
    }

    #[test]
    fn the_encoding_is_fixed() {
        // Changing the encoding breaks every stored chain: this pins it.
        let bytes = canonical_bytes(7, &event(1));
        assert_eq!(&bytes[..16], b"juesuan-audit-v1");
        assert_eq!(&bytes[16..24], &7u64.to_be_bytes());
        assert_eq!(
            hex::encode(chain_hash(&GENESIS, 1, &event(1))),
            hex::encode({
                let mut h = Sm3::new();
                h.update(GENESIS);
                h.update(canonical_bytes(1, &event(1)));
                <[u8; 32]>::from(h.finalize())
            })
        );
        // Field boundaries are unambiguous: moving a byte from one text to the next changes the bytes.
        let mut a = event(1);
        let mut b = event(1);
        a.reason = "ab".into();
        a.detail = "c".into();
        b.reason = "a".into();
        b.detail = "bc".into();
        assert_ne!(canonical_bytes(1, &a), canonical_bytes(1, &b));
    }
}

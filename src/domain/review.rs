//! The review chain of a unit's disclosure for a year: submitted → rejected by rules | pending review → returned
//! (with a reason) | accepted → locked.
//!
//! The rules are pure functions of a [`ReviewSnapshot`] — what the store reads inside the transaction that then
//! writes the decision — so that two reviewers, or a reviewer and a resubmitting unit, cannot both act on the same
//! state: whoever commits second sees the first one's change and is refused. Every decision is an audit event.
//!
//! Each report type (单户表, 汇总表) of a unit has its own current version and its own accepted version; the
//! accepted 单户表 is what consolidation counts. Locks (封账) are on a node and cover its subtree for the year.

use crate::domain::{
    disclosure::ReportType,
    ids::{FiscalYear, UnitCode},
    submission::SubmissionState,
    validation::{Report, Severity},
};

/// Longest reason or comment kept with a decision.
pub const MAX_REASON_CHARS: usize = 2000;

/// A lock on a node's subtree for a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockRecord {
    pub node: UnitCode,
    pub fiscal_year: FiscalYear,
    /// The node of the reviewer who locked it: unlocking needs a reviewer there or above.
    pub locked_by_node: UnitCode,
    pub locked_by: String,
    pub locked_at_ms: i64,
}

/// A version as a decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSummary {
    pub version: u32,
    pub report_type: ReportType,
    pub state: SubmissionState,
    /// Its findings, with the explanations given so far.
    pub report: Report,
}

/// What a decision (or a submission) is made against, read in the transaction that writes it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReviewSnapshot {
    /// The version the decision names (none for a submission).
    pub target: Option<VersionSummary>,
    /// The current version of the report type, with its state.
    pub current: Option<(u32, SubmissionState)>,
    /// The accepted version of the report type (the one that counts).
    pub accepted: Option<u32>,
    /// Every version of the report type in state accepted, ascending.
    pub accepted_versions: Vec<u32>,
    /// A lock on the unit or one of its ancestors.
    pub lock: Option<LockRecord>,
}

/// What a decision changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub version: u32,
    /// The version's new state, when it changes.
    pub state: Option<SubmissionState>,
    /// The reason recorded on the version (a return's).
    pub review_reason: Option<String>,
    /// The new current version of the report type, when it changes.
    pub current: Option<u32>,
    /// The new accepted version of the report type, when it changes (`Some(None)`: none any more).
    pub accepted: Option<Option<u32>>,
}

/// Why a decision or a submission cannot be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound(String),
    /// The state does not allow it; the text says why and what to do.
    Precondition(String),
}

/// A reviewer's decision on a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    Accept,
    Return { reason: &'a str },
    Revert,
}

fn locked(lock: &LockRecord) -> Refusal {
    Refusal::Precondition(format!(
        "the {} year of {} is locked (封账) by {}; a reviewer there or above must unlock it first",
        lock.fiscal_year, lock.node, lock.locked_by_node
    ))
}

fn not_current(version: u32, current: Option<(u32, SubmissionState)>) -> Refusal {
    Refusal::Precondition(match current {
        Some((c, _)) => format!(
            "version {version} is not the current version (version {c} is); review the current one"
        ),
        None => format!("version {version} is not current"),
    })
}

/// The rule of the review chain: what a decision on `version` changes, or why it cannot be made.
pub fn transition(
    decision: Decision<'_>,
    version: u32,
    snapshot: &ReviewSnapshot,
) -> Result<Transition, Refusal> {
    let target = snapshot
        .target
        .as_ref()
        .ok_or_else(|| Refusal::NotFound(format!("version {version}")))?;
    if let Some(lock) = &snapshot.lock {
        return Err(locked(lock));
    }
    let is_current = snapshot.current.is_some_and(|(c, _)| c == version);
    let unchanged = Transition {
        version,
        state: None,
        review_reason: None,
        current: None,
        accepted: None,
    };
    match decision {
        Decision::Accept => {
            if !is_current {
                return Err(not_current(version, snapshot.current));
            }
            match target.state {
                SubmissionState::PendingReview => {}
                SubmissionState::Accepted => {
                    return Err(Refusal::Precondition(format!(
                        "version {version} is already accepted"
                    )));
                }
                SubmissionState::Returned => {
                    return Err(Refusal::Precondition(format!(
                        "version {version} was returned to the unit; it must submit again"
                    )));
                }
                SubmissionState::RejectedByRules => {
                    return Err(Refusal::Precondition(format!(
                        "version {version} was rejected by the rules and cannot be accepted"
                    )));
                }
            }
            let errors = target.report.count(Severity::Error);
            if errors > 0 {
                return Err(Refusal::Precondition(format!(
                    "version {version} has {errors} ERROR finding(s), which block acceptance"
                )));
            }
            let unexplained = target.report.unexplained_warnings();
            if unexplained > 0 {
                return Err(Refusal::Precondition(format!(
                    "version {version} has {unexplained} WARNING finding(s) without an explanation; the unit must \
                     explain them (ExplainFindings) before it can be accepted"
                )));
            }
            Ok(Transition {
                state: Some(SubmissionState::Accepted),
                accepted: Some(Some(version)),
                ..unchanged
            })
        }
        Decision::Return { reason } => {
            if !is_current {
                return Err(not_current(version, snapshot.current));
            }
            if !matches!(
                target.state,
                SubmissionState::PendingReview | SubmissionState::Accepted
            ) {
                return Err(Refusal::Precondition(format!(
                    "version {version} is {}; only a version pending review or accepted can be returned",
                    target.state.describe()
                )));
            }
            // Returning the accepted version withdraws the acceptance: the previous accepted version counts again.
            let accepted = (snapshot.accepted == Some(version)).then(|| {
                snapshot
                    .accepted_versions
                    .iter()
                    .copied()
                    .filter(|v| *v != version)
                    .max()
            });
            Ok(Transition {
                state: Some(SubmissionState::Returned),
                review_reason: Some(reason.to_owned()),
                accepted,
                ..unchanged
            })
        }
        Decision::Revert => {
            if target.state != SubmissionState::Accepted {
                return Err(Refusal::Precondition(format!(
                    "version {version} is {}; only an earlier accepted version can be made current again",
                    target.state.describe()
                )));
            }
            if is_current && snapshot.accepted == Some(version) {
                return Err(Refusal::Precondition(format!(
                    "version {version} is already current and accepted"
                )));
            }
            Ok(Transition {
                current: Some(version),
                accepted: Some(Some(version)),
                ..unchanged
            })
        }
    }
}

/// Whether a new version may be stored: not in a locked year, and on the version the client expects (when it
/// says which).
pub fn may_submit(expected_current: Option<u32>, snapshot: &ReviewSnapshot) -> Result<(), Refusal> {
    if let Some(lock) = &snapshot.lock {
        return Err(locked(lock));
    }
    if let Some(expected) = expected_current {
        let current = snapshot.current.map_or(0, |(c, _)| c);
        if current != expected {
            return Err(Refusal::Precondition(format!(
                "the current version is {}, not {expected} as expected: another submission came first; read it and \
                 submit again",
                if current == 0 {
                    "none".to_owned()
                } else {
                    current.to_string()
                }
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::validation::Finding;

    fn summary(version: u32, state: SubmissionState) -> VersionSummary {
        VersionSummary {
            version,
            report_type: ReportType::Single,
            state,
            report: Report::new(FiscalYear::new(2024).unwrap()),
        }
    }

    fn snapshot(target: VersionSummary, current: u32) -> ReviewSnapshot {
        ReviewSnapshot {
            current: Some((current, target.state)),
            target: Some(target),
            ..ReviewSnapshot::default()
        }
    }

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule_id: "X".into(),
            severity,
            message: "m".into(),
            cells: Vec::new(),
            provided: None,
            expected: None,
            difference: None,
            project: None,
            indicator: None,
            key: "k".into(),
            explanation: None,
        }
    }

    #[test]
    fn the_happy_path_accepts_the_current_pending_version() {
        let s = snapshot(summary(2, SubmissionState::PendingReview), 2);
        let t = transition(Decision::Accept, 2, &s).unwrap();
        assert_eq!(t.state, Some(SubmissionState::Accepted));
        assert_eq!(t.accepted, Some(Some(2)));
        assert_eq!(t.current, None);
    }

    #[test]
    fn acceptance_is_refused_with_its_reason() {
        let refused = |s: &ReviewSnapshot, v| match transition(Decision::Accept, v, s) {
            Err(Refusal::Precondition(m)) => m,
            other => panic!("{other:?}"),
        };
        let mut s = snapshot(summary(2, SubmissionState::PendingReview), 3);
        assert!(refused(&s, 2).contains("not the current version (version 3 is)"));
        s.current = Some((2, SubmissionState::PendingReview));
        s.target
            .as_mut()
            .unwrap()
            .report
            .findings
            .push(finding(Severity::Error));
        assert!(refused(&s, 2).contains("1 ERROR finding"));
        s.target.as_mut().unwrap().report.findings[0] = finding(Severity::Warning);
        assert!(refused(&s, 2).contains("without an explanation"));
        s.target.as_mut().unwrap().report.findings[0].explanation = Some("因为".into());
        assert!(transition(Decision::Accept, 2, &s).is_ok());
        for state in [
            SubmissionState::Returned,
            SubmissionState::Accepted,
            SubmissionState::RejectedByRules,
        ] {
            let s = snapshot(summary(2, state), 2);
            assert!(transition(Decision::Accept, 2, &s).is_err(), "{state:?}");
        }
        assert_eq!(
            transition(Decision::Accept, 9, &ReviewSnapshot::default()),
            Err(Refusal::NotFound("version 9".into()))
        );
    }

    #[test]
    fn a_lock_blocks_every_decision_and_every_submission() {
        let mut s = snapshot(summary(2, SubmissionState::PendingReview), 2);
        s.lock = Some(LockRecord {
            node: UnitCode::parse("D").unwrap(),
            fiscal_year: FiscalYear::new(2024).unwrap(),
            locked_by_node: UnitCode::parse("D").unwrap(),
            locked_by: "x".into(),
            locked_at_ms: 0,
        });
        for d in [
            Decision::Accept,
            Decision::Return { reason: "r" },
            Decision::Revert,
        ] {
            let Err(Refusal::Precondition(m)) = transition(d, 2, &s) else {
                panic!()
            };
            assert!(m.contains("locked"), "{m}");
        }
        assert!(may_submit(None, &s).is_err());
    }

    #[test]
    fn returning_the_accepted_version_restores_the_previous_one() {
        let mut s = snapshot(summary(3, SubmissionState::Accepted), 3);
        s.accepted = Some(3);
        s.accepted_versions = vec![1, 3];
        let t = transition(
            Decision::Return {
                reason: "数字有误"
            },
            3,
            &s,
        )
        .unwrap();
        assert_eq!(t.state, Some(SubmissionState::Returned));
        assert_eq!(t.accepted, Some(Some(1)));
        assert_eq!(t.review_reason.as_deref(), Some("数字有误"));
        // A pending version's return leaves the accepted one alone.
        let s = snapshot(summary(4, SubmissionState::PendingReview), 4);
        assert_eq!(
            transition(Decision::Return { reason: "r" }, 4, &s)
                .unwrap()
                .accepted,
            None
        );
    }

    #[test]
    fn revert_makes_an_earlier_accepted_version_current() {
        let mut s = snapshot(summary(1, SubmissionState::Accepted), 3);
        s.accepted = Some(2);
        let t = transition(Decision::Revert, 1, &s).unwrap();
        assert_eq!((t.current, t.accepted), (Some(1), Some(Some(1))));
        let s = snapshot(summary(1, SubmissionState::Returned), 3);
        assert!(transition(Decision::Revert, 1, &s).is_err());
    }

    #[test]
    fn an_expected_version_must_be_current() {
        let mut s = ReviewSnapshot::default();
        assert!(may_submit(Some(0), &s).is_ok());
        assert!(may_submit(Some(1), &s).is_err());
        s.current = Some((1, SubmissionState::PendingReview));
        assert!(may_submit(Some(1), &s).is_ok());
        assert!(may_submit(Some(0), &s).is_err());
        assert!(may_submit(None, &s).is_ok());
    }
}

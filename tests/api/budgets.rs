//! Budget systems service to service: budgets put as versions, idempotent by key and refused with field paths,
//! and the subtree's events followed with a cursor that resumes exactly where a watcher left off.

use std::time::Duration;

use juesuan::pb;
use tokio_stream::StreamExt;
use tonic::Code;

use crate::{
    helpers::{DEPARTMENT, TestApp, UNIT, submit_request, violated_fields},
    review::explain_all,
    submissions::corrected_reference as reference,
};

fn figure(table: &str, row: &str, column: &str, value: &str) -> pb::BudgetFigure {
    pb::BudgetFigure {
        table: table.into(),
        row: row.into(),
        column: column.into(),
        value: Some(pb::Decimal {
            value: value.into(),
        }),
    }
}

fn put(key: &str, figures: Vec<pb::BudgetFigure>) -> pb::PutBudgetRequest {
    pb::PutBudgetRequest {
        idempotency_key: key.into(),
        unit_code: UNIT.into(),
        fiscal_year: 2024,
        figures,
    }
}

#[tokio::test]
async fn budgets_are_versions_idempotent_by_key_and_refused_with_field_paths() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut budgets = app.budget_system().await;

    let first = budgets
        .put_budget(put("b-1", vec![figure("T05", "total", "total", "5357.30")]))
        .await
        .expect("v1")
        .into_inner();
    assert!(!first.replayed);
    let v1 = first.budget.unwrap();
    assert_eq!((v1.version, v1.put_by.starts_with("service:")), (1, true));

    // A retry is the same version; the key with other figures is a conflict, and stores nothing.
    let retry = budgets
        .put_budget(put("b-1", vec![figure("T05", "total", "total", "5357.30")]))
        .await
        .expect("retry")
        .into_inner();
    assert!(retry.replayed);
    assert_eq!(retry.budget.unwrap().version, 1);
    let conflict = budgets
        .put_budget(put("b-1", vec![figure("T05", "total", "total", "1.00")]))
        .await
        .unwrap_err();
    assert_eq!(conflict.code(), Code::AlreadyExists, "{conflict:?}");

    let second = budgets
        .put_budget(put(
            "b-2",
            vec![
                figure("T05", "total", "total", "6000.00"),
                figure("T04", "total", "expenditure", "6000.00"),
            ],
        ))
        .await
        .expect("v2")
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(second.version, 2);

    // Read back: the latest by default, an earlier version by number, the precision as written.
    let reader = pb::budgets_client::BudgetsClient::new(
        app.as_token(&app.token(DEPARTMENT, pb::Role::Reviewer).await)
            .await,
    );
    let latest = reader
        .clone()
        .get_budget(pb::GetBudgetRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 0,
        })
        .await
        .expect("latest")
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(latest, second);
    let earlier = reader
        .clone()
        .get_budget(pb::GetBudgetRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
        })
        .await
        .expect("v1")
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(
        earlier.figures,
        [figure("T05", "total", "total", "5357.30")]
    );

    // Every problem at once, each at its path; nothing stored.
    let refused = budgets
        .put_budget(put(
            "b-3",
            vec![
                figure("T99", "total", "total", "1.00"),
                figure("T05", "no-such-row", "total", "1.00"),
                figure("T05", "total", "total", "1,00"),
                figure("T05", "total", "total", "2.00"),
                figure("T05", "total", "total", "3.00"),
            ],
        ))
        .await
        .unwrap_err();
    assert_eq!(
        violated_fields(&refused),
        [
            "figures[0].table",
            "figures[1].row",
            "figures[2].value",
            "figures[4].row"
        ]
    );
    assert!(refused.message().len() < 300, "{}", refused.message());
    let empty = budgets.put_budget(put("b-4", vec![])).await.unwrap_err();
    assert_eq!(violated_fields(&empty), ["figures"]);
    let latest_after = reader
        .clone()
        .get_budget(pb::GetBudgetRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 0,
        })
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap();
    assert_eq!(latest_after.version, 2);
}

/// Receives `count` events from a watch, each within 10 s.
async fn next_events(
    stream: &mut tonic::Streaming<pb::WatchEvent>,
    count: usize,
) -> Vec<pb::WatchEvent> {
    let mut events = Vec::new();
    while events.len() < count {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("an event within 10 s")
            .expect("the stream goes on")
            .expect("an event, not an error");
        events.push(event);
    }
    events
}

#[tokio::test]
async fn a_watch_resumed_from_its_last_cursor_misses_nothing_and_repeats_nothing() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let watcher = || async {
        pb::events_client::EventsClient::new(
            app.as_token(&app.token(DEPARTMENT, pb::Role::Reviewer).await)
                .await,
        )
    };
    let watch = |after_cursor: u64| pb::WatchRequest {
        node_code: DEPARTMENT.into(),
        fiscal_year: 2024,
        after_cursor,
    };
    let mut stream = watcher()
        .await
        .watch(watch(0))
        .await
        .expect("watching")
        .into_inner();
    // The registrations so far: the department and the unit.
    let registered = next_events(&mut stream, 2).await;
    assert!(
        registered
            .iter()
            .all(|e| e.event.as_ref().unwrap().action == "unit.register")
    );

    // A submission, its warnings explained and its acceptance arrive as they happen; the acceptance changed the
    // consolidation.
    let submission = app
        .submitter(UNIT)
        .await
        .submit(submit_request("watch-1", reference()))
        .await
        .expect("submitted")
        .into_inner()
        .submission
        .unwrap();
    explain_all(&app, &submission).await;
    app.accept(DEPARTMENT, UNIT, submission.version).await;
    let live = next_events(&mut stream, 3).await;
    let actions: Vec<&str> = live
        .iter()
        .map(|e| e.event.as_ref().unwrap().action.as_str())
        .collect();
    assert_eq!(actions, ["submission", "explanation", "review.accept"]);
    assert_eq!(
        live.iter()
            .map(|e| e.consolidation_changed)
            .collect::<Vec<_>>(),
        [false, false, true]
    );
    let last_cursor = live[2].cursor;
    drop(stream);

    // While nobody watches: a budget put and a second submission.
    app.budget_system()
        .await
        .put_budget(put(
            "watch-b",
            vec![figure("T05", "total", "total", "1.00")],
        ))
        .await
        .expect("budget");
    let mut changed = reference();
    changed.narrative.pop();
    app.submitter(UNIT)
        .await
        .submit(submit_request("watch-2", changed))
        .await
        .expect("second");

    // Resumed from the last cursor: exactly those two, in order, then nothing more.
    let mut resumed = watcher()
        .await
        .watch(watch(last_cursor))
        .await
        .expect("resumed")
        .into_inner();
    let missed = next_events(&mut resumed, 2).await;
    let actions: Vec<&str> = missed
        .iter()
        .map(|e| e.event.as_ref().unwrap().action.as_str())
        .collect();
    assert_eq!(actions, ["budget.put", "submission"]);
    assert!(missed[0].cursor > last_cursor && missed[1].cursor > missed[0].cursor);
    let quiet = tokio::time::timeout(Duration::from_millis(700), resumed.next()).await;
    assert!(quiet.is_err(), "nothing else: {quiet:?}");

    let cursors: Vec<u64> = registered
        .iter()
        .chain(&live)
        .chain(&missed)
        .map(|e| e.cursor)
        .collect();
    let mut sorted = cursors.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, cursors, "strictly increasing, none twice");
}

#[tokio::test]
async fn a_watch_ends_unauthenticated_soon_after_its_token_is_revoked() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let issued = pb::tokens_client::TokensClient::new(app.channel().await)
        .issue_token(pb::IssueTokenRequest {
            principal: Some(pb::Principal {
                kind: Some(pb::principal::Kind::Unit(pb::UnitPrincipal {
                    unit_code: DEPARTMENT.into(),
                    role: pb::Role::Reviewer as i32,
                })),
            }),
            ..Default::default()
        })
        .await
        .expect("issued")
        .into_inner();
    let mut stream = pb::events_client::EventsClient::new(app.as_token(&issued.secret).await)
        .watch(pb::WatchRequest {
            node_code: DEPARTMENT.into(),
            fiscal_year: 2024,
            after_cursor: 0,
        })
        .await
        .expect("watching")
        .into_inner();
    next_events(&mut stream, 2).await;

    pb::tokens_client::TokensClient::new(app.channel().await)
        .revoke_token(pb::RevokeTokenRequest {
            id: issued.token.unwrap().id,
        })
        .await
        .expect("revoked");
    // Nothing happens in the subtree meanwhile: the watch ends on its own recheck, not on an event.
    let ended = tokio::time::timeout(Duration::from_secs(10), stream.next());
    let status = ended
        .await
        .expect("the watch ends within 10 s")
        .expect("with a status, not silently")
        .expect_err("an error, not an event");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("revoked"), "{status:?}");
}

/// The answers a client gets where it used to get a silent wait, a clamp or the wrong code: a budget of a unit
/// that does not exist, a watch from beyond the head, more watches than one caller may hold.
#[tokio::test]
async fn unknown_units_cursors_beyond_the_head_and_one_caller_with_many_watches_get_clear_answers()
{
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut budgets = app.budget_system().await;
    let mut request = put("nobody", vec![figure("T05", "total", "total", "1.00")]);
    request.unit_code = "999999999".into();
    let missing = budgets.put_budget(request).await.expect_err("no such unit");
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    assert!(missing.message().contains("999999999"), "{missing:?}");

    let reviewer = app.token(DEPARTMENT, pb::Role::Reviewer).await;
    let watch = |after_cursor: u64| pb::WatchRequest {
        node_code: DEPARTMENT.into(),
        fiscal_year: 2024,
        after_cursor,
    };
    let beyond = pb::events_client::EventsClient::new(app.as_token(&reviewer).await)
        .watch(watch(1_000_000))
        .await
        .expect_err("a cursor beyond the head");
    assert_eq!(beyond.code(), Code::OutOfRange, "{beyond:?}");
    assert!(beyond.message().contains("1000000"), "{beyond:?}");

    // One caller holds eight watches at most; the ninth is refused, another caller still gets one, and a slot
    // freed is a slot again.
    let mut open = Vec::new();
    for _ in 0..8 {
        open.push(
            pb::events_client::EventsClient::new(app.as_token(&reviewer).await)
                .watch(watch(0))
                .await
                .expect("within the caller's share")
                .into_inner(),
        );
    }
    let ninth = pb::events_client::EventsClient::new(app.as_token(&reviewer).await)
        .watch(watch(0))
        .await
        .expect_err("beyond the caller's share");
    assert_eq!(ninth.code(), Code::ResourceExhausted, "{ninth:?}");
    let other = app.token(UNIT, pb::Role::Submitter).await;
    let mut theirs = pb::events_client::EventsClient::new(app.as_token(&other).await)
        .watch(pb::WatchRequest {
            node_code: UNIT.into(),
            fiscal_year: 2024,
            after_cursor: 0,
        })
        .await
        .expect("another caller's own share")
        .into_inner();
    next_events(&mut theirs, 1).await;
    drop(open.pop());
    // The slot comes back when the server notices the stream is gone.
    let mut freed = None;
    for _ in 0..50 {
        match pb::events_client::EventsClient::new(app.as_token(&reviewer).await)
            .watch(watch(0))
            .await
        {
            Ok(stream) => {
                freed = Some(stream);
                break;
            }
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    assert!(freed.is_some(), "a closed watch frees its slot");
}

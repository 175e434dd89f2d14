use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use juesuan::{domain::submission::Limits, pb};

use crate::helpers::{TestApp, UNIT, reference, submit_request};

#[tokio::test]
async fn everything_is_still_there_after_a_restart() {
    let app = TestApp::spawn().await;
    app.register_reference_units().await;
    let mut client = app.submitter(UNIT).await;
    let first = client
        .submit(submit_request("before-restart-1", reference()))
        .await
        .expect("v1")
        .into_inner()
        .submission
        .unwrap();
    let mut changed = reference();
    changed.narrative.pop();
    client
        .submit(submit_request("before-restart-2", changed))
        .await
        .expect("v2");
    drop(client);

    // The exact bytes are kept compressed: smaller in the file, their length as received recorded beside them.
    let (stored, received, encoding): (i64, i64, String) = {
        let path = app.data_dir.path().join(juesuan::store::DATABASE_FILE);
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(path);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        let row = sqlx::query_as(
            "SELECT length(content), content_len, content_encoding FROM submissions WHERE version = 1",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        pool.close().await;
        row
    };
    assert_eq!(encoding, "deflate");
    assert_eq!(received as usize, prost::Message::encoded_len(&reference()));
    assert!(
        stored * 2 < received,
        "{stored} stored bytes for {received} received"
    );

    let data_dir = app.stop().await;
    let app = TestApp::spawn_with(data_dir, Limits::default()).await;
    let mut client = app.submitter(UNIT).await;
    let listed = client
        .list_submissions(pb::ListSubmissionsRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed
            .submissions
            .iter()
            .map(|s| s.version)
            .collect::<Vec<_>>(),
        [1, 2]
    );
    let v1 = client
        .get_submission(pb::GetSubmissionRequest {
            unit_code: UNIT.into(),
            fiscal_year: 2024,
            version: 1,
            include_disclosure: true,
            ..Default::default()
        })
        .await
        .expect("v1")
        .into_inner();
    assert_eq!(v1.content_sm3, first.content_sm3);
    assert_eq!(v1.report, first.report);
    assert_eq!(v1.disclosure.unwrap(), reference());
    // The idempotency key still works across the restart.
    let replay = client
        .submit(submit_request("before-restart-1", reference()))
        .await
        .expect("replay")
        .into_inner();
    assert!(replay.replayed);
    assert_eq!(replay.submission.unwrap().version, 1);
    let unit = app
        .units()
        .await
        .get_unit(pb::GetUnitRequest {
            code: UNIT.into(),
            fiscal_year: 2024,
        })
        .await
        .expect("unit survives")
        .into_inner();
    assert_eq!(unit.name, "昌吉州融媒体中心");
}

/// The real binary, run as a copied binary would be (in a directory with no taxonomy beside it, none given): it
/// serves the taxonomies built into it, logs where it listens, and on SIGTERM finishes and closes the store, exiting
/// 0.
#[test]
fn the_binary_serves_its_built_in_taxonomy_and_stops_cleanly_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .arg("--data-dir")
        .arg(data_dir.path())
        .current_dir(data_dir.path())
        .env_remove("JUESUAN_TAXONOMY_DIR")
        .env("JUESUAN_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("juesuan starts");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut taxonomy_dirs = Vec::new();
    let serving = lines
        .by_ref()
        .map_while(Result::ok)
        .inspect(|line| {
            if let Ok(log) = serde_json::from_str::<serde_json::Value>(line)
                && let Some(dir) = log["dir"].as_str()
            {
                taxonomy_dirs.push(dir.to_owned());
            }
        })
        .find(|line| line.contains("serving gRPC"))
        .expect("the server logs that it serves");
    if taxonomy_dirs != ["built-in/2024", "built-in/2025"] {
        let _ = child.kill();
        panic!("the taxonomies loaded were {taxonomy_dirs:?}, not the built-in 2024 and 2025");
    }
    let log: serde_json::Value = serde_json::from_str(&serving).expect("JSON log line");
    assert_eq!(log["level"], "INFO");
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let exit = child.wait().expect("exits");
    assert!(exit.success(), "exit status {exit:?}; log: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("SIGTERM received")),
        "{rest:?}"
    );
    assert!(rest.iter().any(|l| l.contains("store closed")), "{rest:?}");
    assert!(data_dir.path().join(juesuan::store::DATABASE_FILE).exists());
}

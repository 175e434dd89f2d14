use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
};

use juesuan::{pb, service::submission::Limits};

use crate::helpers::{
    Backend, BinaryServer, TestApp, UNIT, backend, reference, store_i64, submit_request,
};

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
    let second = client
        .submit(submit_request("before-restart-2", changed.clone()))
        .await
        .expect("v2")
        .into_inner()
        .submission
        .unwrap();
    drop(client);

    // The exact bytes are kept compressed: smaller in the file, their length as received recorded beside them.
    let dir = app.data_dir.path();
    let stored = store_i64(
        dir,
        "SELECT CAST(length(content) AS BIGINT) FROM submissions WHERE version = 1",
    )
    .await;
    let received = store_i64(dir, "SELECT content_len FROM submissions WHERE version = 1").await;
    let compressed = store_i64(
        dir,
        "SELECT count(*) FROM submissions WHERE version = 1 AND content_encoding = 'zstd'",
    )
    .await;
    assert_eq!(compressed, 1, "version 1 is kept in zstd");
    assert_eq!(received as usize, prost::Message::encoded_len(&reference()));
    assert!(
        stored * 2 < received,
        "{stored} stored bytes for {received} received"
    );

    if backend() == Backend::Sqlite {
        json_is_kept_compressed_and_older_rows_still_read(dir).await;
    }

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
    // Both versions read back whole; their rows were rewritten as rows were kept before (version 1's content
    // deflated, version 2's JSON as text), and read the same.
    for (version, submitted, disclosure) in [(1, &first, reference()), (2, &second, changed)] {
        let read = client
            .get_submission(pb::GetSubmissionRequest {
                unit_code: UNIT.into(),
                fiscal_year: 2024,
                version,
                include_disclosure: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("v{version}: {e}"))
            .into_inner();
        assert_eq!(read.content_sm3, submitted.content_sm3);
        assert_eq!(read.report, submitted.report);
        assert_eq!(read.disclosure.unwrap(), disclosure);
    }
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

/// The embedded store keeps a version's report and figures JSON in zstd (PostgreSQL compresses them itself). Rows
/// written before are made here for the caller to read back: version 1's content deflated, as rows were kept before
/// zstd, and version 2's JSON as text, as rows were kept before the JSON was compressed.
async fn json_is_kept_compressed_and_older_rows_still_read(dir: &std::path::Path) {
    use std::io::Write;
    let compressed = store_i64(
        dir,
        "SELECT count(*) FROM submissions WHERE json_encoding = 'zstd'",
    )
    .await;
    assert_eq!(compressed, 2, "both versions keep their JSON in zstd");
    let options =
        sqlx::sqlite::SqliteConnectOptions::new().filename(dir.join(juesuan::store::DATABASE_FILE));
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    let (report, facts): (Vec<u8>, Vec<u8>) =
        sqlx::query_as("SELECT report_json, facts_json FROM submissions WHERE version = 2")
            .fetch_one(&pool)
            .await
            .unwrap();
    let decompress = |stored: &[u8]| {
        String::from_utf8(zstd::decode_all(stored).expect("zstd JSON")).expect("UTF-8 JSON")
    };
    let (report, facts) = (decompress(&report), decompress(&facts));
    assert!(report.starts_with('{') && facts.starts_with('{'));
    let stored = store_i64(
        dir,
        "SELECT length(report_json) + length(facts_json) FROM submissions WHERE version = 2",
    )
    .await;
    assert!(
        report.len() + facts.len() > 2 * stored as usize,
        "compressed JSON is less than half the text"
    );
    let mut deflated = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    deflated
        .write_all(&prost::Message::encode_to_vec(&reference()))
        .unwrap();
    sqlx::query(
        "UPDATE submissions SET content = ?, content_encoding = 'deflate' WHERE version = 1",
    )
    .bind(deflated.finish().unwrap())
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "UPDATE submissions SET report_json = ?, facts_json = ?, json_encoding = 'identity' \
         WHERE version = 2",
    )
    .bind(&report)
    .bind(&facts)
    .execute(&pool)
    .await
    .unwrap();
    pool.close().await;
}

/// The real binary, run as a copied binary would be (in a directory with no taxonomy beside it, none given): it
/// serves the taxonomies built into it, logs where it listens, and on SIGTERM finishes and closes the store, exiting
/// 0.
#[test]
fn the_binary_serves_its_built_in_taxonomy_and_stops_cleanly_on_sigterm() {
    let data_dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_juesuan"))
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(["--web-listen", "127.0.0.1:0"])
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

/// SIGKILL during a burst of submissions loses none that was acknowledged: after a restart each one is there,
/// with the bytes that were sent (its SM3 digest) and its disclosure as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acknowledged_submission_is_lost_when_the_server_is_killed() {
    use std::sync::{Arc, Mutex};

    use juesuan::domain::tokens::ADMIN_TOKEN_FILE;

    let data_dir = tempfile::tempdir().unwrap();
    let mut served = BinaryServer::start(data_dir.path()).await;
    let admin_token = std::fs::read_to_string(data_dir.path().join(ADMIN_TOKEN_FILE)).unwrap();
    let admin = served.as_token(admin_token.trim()).await;
    let submitter = crate::helpers::reference_submitter(admin).await;

    // Four streams submit distinct disclosures (a narrative line differs) until the server is gone.
    /// A submission the server answered: its key, version, SM3 digest and the disclosure sent.
    type Acknowledged = (String, u32, String, pb::Disclosure);
    let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::default();
    let mut streams = tokio::task::JoinSet::new();
    for stream in 0..4 {
        let conn = served.as_token(&submitter).await;
        let acknowledged = acknowledged.clone();
        streams.spawn(async move {
            let mut client = pb::submissions_client::SubmissionsClient::new(conn);
            for n in 0.. {
                let key = format!("kill-{stream}-{n}");
                let mut disclosure = reference();
                disclosure.narrative[0]
                    .text
                    .push_str(&format!("（第{stream}-{n}次）"));
                match client
                    .submit(submit_request(&key, disclosure.clone()))
                    .await
                {
                    Ok(response) => {
                        let submission = response.into_inner().submission.unwrap();
                        acknowledged.lock().unwrap().push((
                            key,
                            submission.version,
                            submission.content_sm3,
                            disclosure,
                        ));
                    }
                    Err(_) => return n,
                }
            }
            unreachable!()
        });
    }
    // Kill once a few have been acknowledged, so that the kill lands inside the burst.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while acknowledged.lock().unwrap().len() < 20 {
        assert!(
            std::time::Instant::now() < deadline,
            "no submissions acknowledged"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    served.kill();
    while streams.join_next().await.is_some() {}
    let acknowledged = acknowledged.lock().unwrap().clone();

    let served = BinaryServer::start(data_dir.path()).await;
    let mut client =
        pb::submissions_client::SubmissionsClient::new(served.as_token(&submitter).await);
    for (key, version, sm3, disclosure) in &acknowledged {
        let stored = client
            .get_submission(pb::GetSubmissionRequest {
                unit_code: UNIT.into(),
                fiscal_year: 2024,
                version: *version,
                include_disclosure: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|s| panic!("{key} v{version} acknowledged, then lost: {s:?}"))
            .into_inner();
        assert_eq!(&stored.content_sm3, sm3, "{key}");
        assert_eq!(stored.disclosure.as_ref(), Some(disclosure), "{key}");
    }
    // Versions stay linear: the acknowledged ones are distinct.
    let mut versions: Vec<u32> = acknowledged.iter().map(|a| a.1).collect();
    versions.sort_unstable();
    versions.dedup();
    assert_eq!(versions.len(), acknowledged.len());
}

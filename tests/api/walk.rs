//! The README's path by hand with the reference disclosure, and the steps of its roles, command by command through the real binary against
//! a served data directory: the administrator's token found in the data directory, tokens issued to files, the
//! unit's submissions, the reviewer's refusal and return, the audit trail, and an SM2-signed submission.

use std::{path::Path, process::Output};

use tempfile::TempDir;

use crate::helpers::TestApp;

struct Walk<'a> {
    app: &'a TestApp,
    /// Where the walk's token and key files go (the README's working directory).
    work: TempDir,
}

impl Walk<'_> {
    /// `juesuan ARGS` with the README's environment: the data directory the CLI finds the administrator's token
    /// in, and the token file exported at that point of the walk.
    async fn run(&self, token_file: Option<&str>, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_juesuan"));
        command
            .args(args)
            .current_dir(self.work.path())
            .env("JUESUAN_SERVER", &self.app.address)
            .env("JUESUAN_DATA_DIR", self.app.data_dir.path())
            .env(
                "JUESUAN_TAXONOMY_DIR",
                Path::new(env!("CARGO_MANIFEST_DIR")).join("taxonomy"),
            )
            .env_remove("JUESUAN_TOKEN");
        match token_file {
            Some(file) => command.env("JUESUAN_TOKEN_FILE", file),
            None => command.env_remove("JUESUAN_TOKEN_FILE"),
        };
        command.output().await.expect("the binary runs")
    }

    async fn ok(&self, token_file: Option<&str>, args: &[&str]) -> String {
        let output = self.run(token_file, args).await;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "juesuan {args:?} failed:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        text
    }
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_walk_works_as_written() {
    let app = TestApp::spawn().await;
    let walk = Walk {
        app: &app,
        work: TempDir::new().unwrap(),
    };
    let (reference, corrected) = (
        fixture("reference-2024.json"),
        fixture("reference-2024-corrected.json"),
    );
    // As the administrator, from the token the first start wrote into the data directory.
    walk.ok(
        None,
        &[
            "units",
            "register",
            "--code",
            "652300001",
            "--name",
            "昌吉州党委宣传部",
            "--from-year",
            "2024",
            "--level",
            "prefecture",
            "--type",
            "administrative",
            "--region",
            "652300",
            "--department",
        ],
    )
    .await;
    walk.ok(
        None,
        &[
            "units",
            "register",
            "--code",
            "652300101",
            "--name",
            "昌吉州融媒体中心",
            "--from-year",
            "2024",
            "--level",
            "prefecture",
            "--type",
            "public_institution_class_2",
            "--region",
            "652300",
            "--parent",
            "652300001",
            "--supervising-department",
            "652300001",
        ],
    )
    .await;
    let issued = walk
        .ok(
            None,
            &[
                "tokens",
                "issue",
                "--unit",
                "652300101",
                "--role",
                "submitter",
                "-o",
                "unit.token",
            ],
        )
        .await;
    assert!(issued.contains("readable by you only"), "{issued}");
    walk.ok(
        None,
        &[
            "tokens",
            "issue",
            "--unit",
            "652300001",
            "--role",
            "reviewer",
            "-o",
            "reviewer.token",
        ],
    )
    .await;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(walk.work.path().join("unit.token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let dry = walk.run(None, &["validate", &reference]).await;
    assert_eq!(dry.status.code(), Some(1), "an ERROR exits 1");

    // The unit's accountant.
    let unit = Some("unit.token");
    let v1 = walk.run(unit, &["submit", &reference]).await;
    let v1_text = String::from_utf8_lossy(&v1.stdout);
    assert_eq!(v1.status.code(), Some(1), "{v1_text}");
    assert!(
        v1_text.contains("version 1 (rejected by rules)"),
        "{v1_text}"
    );
    let again =
        String::from_utf8_lossy(&walk.run(unit, &["submit", &reference]).await.stdout).into_owned();
    assert!(
        again.contains("already submitted: 652300101/2024 version 1"),
        "{again}"
    );
    let v2 = walk.ok(unit, &["submit", &corrected]).await;
    assert!(v2.contains("version 2 (pending review)"), "{v2}");
    let listed = walk
        .ok(
            unit,
            &[
                "submissions",
                "list",
                "--unit",
                "652300101",
                "--year",
                "2024",
            ],
        )
        .await;
    assert!(listed.contains("2 version(s)"), "{listed}");

    // The department's reviewer.
    let reviewer = "reviewer.token";
    let pending = walk
        .ok(
            unit,
            &[
                "review",
                "pending",
                "--node",
                "652300001",
                "--year",
                "2024",
                "--token-file",
                reviewer,
            ],
        )
        .await;
    assert!(
        pending.contains("652300101") && pending.contains("v2"),
        "{pending}"
    );
    let accept = walk
        .run(
            unit,
            &[
                "review",
                "accept",
                "--unit",
                "652300101",
                "--year",
                "2024",
                "--version",
                "2",
                "--token-file",
                reviewer,
            ],
        )
        .await;
    assert_eq!(accept.status.code(), Some(2));
    let refusal = String::from_utf8_lossy(&accept.stderr);
    assert!(refusal.contains("without an explanation"), "{refusal}");
    assert_eq!(
        refusal.matches("without an explanation").count(),
        1,
        "said once: {refusal}"
    );
    assert!(!refusal.contains("FailedPrecondition"), "{refusal}");
    walk.ok(
        unit,
        &[
            "review",
            "return",
            "--unit",
            "652300101",
            "--year",
            "2024",
            "--version",
            "2",
            "--token-file",
            reviewer,
            "--reason",
            "请对绩效自评的预警逐条说明",
        ],
    )
    .await;
    let listed = walk
        .ok(
            unit,
            &[
                "submissions",
                "list",
                "--unit",
                "652300101",
                "--year",
                "2024",
            ],
        )
        .await;
    assert!(
        listed.contains("returned: 请对绩效自评的预警逐条说明"),
        "{listed}"
    );

    // A refused submission is told once, in words, field by field.
    let bad = walk.work.path().join("bad.json");
    let text =
        std::fs::read_to_string(&corrected)
            .unwrap()
            .replacen("\"8190.84\"", "\"8,190.84\"", 1);
    std::fs::write(&bad, text).unwrap();
    let refused = walk
        .run(
            unit,
            &["submit", bad.to_str().unwrap(), "--idempotency-key", "bad"],
        )
        .await;
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.starts_with("error: the request was refused:"),
        "{stderr}"
    );
    assert_eq!(
        stderr.matches("is not a plain decimal number").count(),
        1,
        "{stderr}"
    );
    assert!(!stderr.contains("InvalidArgument"), "{stderr}");

    // The unit cannot act as its reviewer.
    let denied = walk
        .run(
            unit,
            &[
                "review",
                "accept",
                "--unit",
                "652300101",
                "--year",
                "2024",
                "--version",
                "2",
            ],
        )
        .await;
    assert!(String::from_utf8_lossy(&denied.stderr).contains("not allowed"));

    let admin = app.data_dir.path().join("admin.token");
    let admin = Some(admin.to_str().unwrap());
    let events = walk.ok(admin, &["audit", "list"]).await;
    for action in [
        "unit.register",
        "token.issue",
        "submission",
        "review.return",
    ] {
        assert!(events.contains(action), "{action} in {events}");
    }
    let verified = walk.ok(admin, &["audit", "verify"]).await;
    assert!(verified.contains("the audit chain is intact"), "{verified}");

    // Signatures, as the README's trust section shows them.
    let key = walk.ok(None, &["keys", "generate", "-o", "unit.sm2"]).await;
    assert!(key.contains("public key: 04"), "{key}");
    walk.ok(
        unit,
        &[
            "keys",
            "register",
            "--unit",
            "652300101",
            "--private-key",
            "unit.sm2",
        ],
    )
    .await;
    let unsigned = walk
        .run(
            unit,
            &["submit", &corrected, "--idempotency-key", "unsigned"],
        )
        .await;
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unsigned.stderr).contains("signature"));
    let signed = walk
        .ok(
            unit,
            &[
                "submit",
                &corrected,
                "--idempotency-key",
                "signed",
                "--sign-key",
                "unit.sm2",
            ],
        )
        .await;
    assert!(signed.contains("version 3 (pending review)"), "{signed}");
    let listed = walk
        .ok(
            unit,
            &[
                "submissions",
                "list",
                "--unit",
                "652300101",
                "--year",
                "2024",
            ],
        )
        .await;
    assert!(listed.contains("SM2-signed"), "{listed}");
    let whoami = walk.ok(unit, &["tokens", "whoami"]).await;
    assert!(whoami.starts_with("652300101 submitter"), "{whoami}");
}

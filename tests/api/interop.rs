//! An independent client: Python grpcio with stubs generated from proto/ at test time.
//!
//! The Python packages (tests/interop/requirements.txt) come from JUESUAN_PYTHON when set (.ci/run installs them
//! there), else from a virtual environment this test creates under target/ on first use.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use crate::helpers::{TestApp, fixture_path};

fn has_packages(python: &Path) -> bool {
    Command::new(python)
        .args([
            "-c",
            "import grpc, grpc_tools, grpc_reflection, google.rpc.error_details_pb2",
        ])
        .output()
        .is_ok_and(|out| out.status.success())
}

/// A Python with the client's packages, installing them into target/py-interop when none has them.
fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Ok(configured) = std::env::var("JUESUAN_PYTHON") {
        let configured = PathBuf::from(configured);
        assert!(
            has_packages(&configured),
            "JUESUAN_PYTHON={} lacks the packages of tests/interop/requirements.txt",
            configured.display()
        );
        return configured;
    }
    let venv = root.join("target/py-interop");
    let venv_python = venv.join("bin/python");
    if has_packages(&venv_python) {
        return venv_python;
    }
    let created = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 runs (needed for the interop test)");
    assert!(created.success(), "python3 -m venv failed");
    let installed = Command::new(&venv_python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(root.join("tests/interop/requirements.txt"))
        .status()
        .expect("pip runs");
    assert!(
        installed.success(),
        "pip install of tests/interop/requirements.txt failed"
    );
    venv_python
}

#[tokio::test]
async fn a_python_grpcio_client_submits_and_reads_findings() {
    let python = tokio::task::spawn_blocking(python)
        .await
        .expect("python setup");
    let app = TestApp::spawn().await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = tokio::process::Command::new(&python)
        .arg(root.join("tests/interop/client.py"))
        .arg(&address)
        .arg(root.join("proto"))
        .arg(fixture_path())
        .arg(&app.admin_token)
        .output()
        .await
        .expect("the client runs");
    assert!(
        output.status.success(),
        "client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("the client prints JSON");
    assert_eq!(seen["version"], 1);
    assert_eq!(seen["state"], "SUBMISSION_STATE_REJECTED_BY_RULES");
    assert_eq!(
        seen["error_rules"],
        serde_json::json!(["EV-W-001", "EV-X-002", "NAR-AMOUNT"])
    );
    assert!(seen["warning_count"].as_u64().unwrap() > 10, "{seen}");
    // Decimals arrive as strings with their precision.
    assert_eq!(seen["first_provided"], "164.56");
    assert_eq!(seen["first_expected"], "100.00");
    assert_eq!(seen["bad_code"], "INVALID_ARGUMENT");
    assert_eq!(seen["anonymous_code"], "UNAUTHENTICATED");
    assert!(
        seen["submitted_by"]
            .as_str()
            .unwrap()
            .starts_with("unit:652300101/submitter token:"),
        "{seen}"
    );
    assert_eq!(
        seen["bad_fields"],
        serde_json::json!(["disclosure.tables[0].rows[0].cells[0].value"])
    );
    let services = seen["services"].as_array().unwrap();
    for expected in [
        "juesuan.v1.Submissions",
        "juesuan.v1.UnitRegistry",
        "grpc.health.v1.Health",
    ] {
        assert!(
            services.iter().any(|s| s == expected),
            "{expected} not in {services:?}"
        );
    }
    assert_eq!(app.count_rows("submissions").await, 1);
}

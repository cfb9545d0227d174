//! The real `larder` binary: configuration errors, the setup code in the
//! log, JSON logs with request ids.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

const BIN: &str = env!("CARGO_BIN_EXE_larder");

#[test]
fn a_wrong_setting_stops_start_up_and_names_the_variable() {
    for (var, value, expected) in [
        (
            "LARDER_LISTEN",
            "localhost",
            "LARDER_LISTEN: expected an address and port such as 127.0.0.1:3000",
        ),
        (
            "DATABASE_URL",
            "mysql://u:hunter2@db/larder",
            "DATABASE_URL: expected a sqlite:// or postgres:// URL, got “mysql://u:***@db/larder”",
        ),
        (
            "LARDER_LOG_FORMAT",
            "yaml",
            "LARDER_LOG_FORMAT: expected pretty or json, got “yaml”",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(BIN)
            .env("LARDER_DATA_DIR", dir.path())
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(expected), "{var}: {stderr}");
        assert!(!stderr.contains("hunter2"));
    }
}

#[tokio::test]
async fn first_start_prints_a_setup_code_that_opens_setup_and_logs_carry_request_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .env("LARDER_DATA_DIR", dir.path())
        .env("LARDER_LISTEN", "127.0.0.1:0")
        .env("LARDER_METRICS_LISTEN", "127.0.0.1:0")
        .env("LARDER_LOG_FORMAT", "json")
        .env_remove("DATABASE_URL")
        .env_remove("LARDER_SETUP_CODE")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let json: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|_| panic!("a JSON log line: {line}"));
            if tx.send(json).is_err() {
                break;
            }
        }
    });
    let next_line = |deadline: Instant| {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    };

    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut code, mut addr) = (None, None);
    while code.is_none() || addr.is_none() {
        let line = next_line(deadline).expect("the server logs its setup code and address");
        let message = line["message"].as_str().unwrap_or_default();
        if let Some(rest) = message.split("setup code ").nth(1) {
            code = Some(rest[..14].to_string());
        }
        if message == "Larder is listening" {
            addr = Some(line["addr"].as_str().unwrap().to_string());
        }
    }
    assert!(
        dir.path().join("larder.db").exists(),
        "the database is created under the data directory"
    );
    let (code, base) = (code.unwrap(), format!("http://{}", addr.unwrap()));

    let c = reqwest::Client::new();
    let res = c
        .post(format!("{base}/api/setup"))
        .form(&[
            ("code", code.as_str()),
            ("name", "Ada"),
            ("email", "ada@college.example"),
            ("password", "correct horse battery"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();

    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    loop {
        let line = next_line(deadline).expect("the request is logged with its id");
        if line["span"]["request_id"] == request_id.as_str() {
            seen.push(line["message"].as_str().unwrap_or_default().to_string());
            if seen.iter().any(|m| m == "finished processing request") {
                break;
            }
        }
    }
    assert!(seen.iter().any(|m| m == "first admin created"), "{seen:?}");
    child.kill().unwrap();
    child.wait().unwrap();
}

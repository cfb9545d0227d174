//! Crash test: clients stream movements at the real binary over HTTP, the
//! server is killed with SIGKILL mid-stream and restarted on the same
//! database. Every acknowledged movement must be there, projections must
//! match the ledger, and every consumer must resume without applying an
//! event twice.

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::Value;
use sqlx::Connection;

use crate::helpers::*;

const BIN: &str = env!("CARGO_BIN_EXE_larder");
const ADMIN: (&str, &str) = ("crash@college.example", "correct horse battery");

fn launch(database_url: &str, data_dir: &std::path::Path, port: u16) -> Child {
    Command::new(BIN)
        .env("DATABASE_URL", database_url)
        .env("LARDER_DATA_DIR", data_dir)
        .env("LARDER_SITE_ROOT", data_dir.join("site"))
        .env("LARDER_LISTEN", format!("127.0.0.1:{port}"))
        .env("LARDER_METRICS_LISTEN", "off")
        .env("LARDER_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
        .env("LARDER_ADMIN_EMAIL", ADMIN.0)
        .env("LARDER_ADMIN_PASSWORD", ADMIN.1)
        .env("LARDER_LOG", "warn")
        // Eight clients on one loopback address stream as fast as the
        // server answers: more than the default per-address allowance
        // (1200 a minute) on a fast machine, and a 429 is not what this
        // test is about.
        .env("LARDER_RATE_LIMIT_PER_ADDRESS", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the larder binary starts")
}

async fn wait_ready(base: &str) {
    let c = client();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(r) = c.get(format!("{base}/readyz")).send().await {
            if r.status() == StatusCode::OK {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not become ready");
}

async fn call(
    c: &Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<(StatusCode, Value), reqwest::Error> {
    let r = c
        .post(format!("{base}/api/{endpoint}"))
        .form(form)
        .send()
        .await?;
    let status = r.status();
    let body = r.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn must(c: &Client, base: &str, endpoint: &str, form: &[(&str, &str)]) -> Value {
    let (status, body) = call(c, base, endpoint, form).await.unwrap();
    assert_eq!(status, StatusCode::OK, "{endpoint}: {body:?}");
    body
}

async fn scalar(url: &str, sql: &str) -> i64 {
    let mut conn = sqlx::AnyConnection::connect(url).await.unwrap();
    let v: i64 = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
    conn.close().await.ok();
    v
}

async fn crash_and_recover(backend: Backend) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = launch(&url, dir.path(), port);
    wait_ready(&base).await;

    let admin = client();
    must(
        &admin,
        &base,
        "sign_in",
        &[("email", ADMIN.0), ("password", ADMIN.1)],
    )
    .await;
    let org = must(
        &admin,
        &base,
        "create_organization",
        &[("name", "Crash College")],
    )
    .await;
    let org = org.as_str().unwrap();
    let campus = must(
        &admin,
        &base,
        "create_campus",
        &[("organization", org), ("name", "Main")],
    )
    .await;
    let pantry = must(
        &admin,
        &base,
        "create_pantry",
        &[("campus", campus.as_str().unwrap()), ("name", "Pantry")],
    )
    .await;
    let other = must(
        &admin,
        &base,
        "create_pantry",
        &[("campus", campus.as_str().unwrap()), ("name", "Annex")],
    )
    .await;
    let (pantry, other) = (
        pantry.as_str().unwrap().to_string(),
        other.as_str().unwrap().to_string(),
    );
    let product = must(
        &admin,
        &base,
        "create_product",
        &[
            ("organization", org),
            ("name", "Beans"),
            ("category", "Canned"),
        ],
    )
    .await;
    let product = product.as_str().unwrap().to_string();
    must(
        &admin,
        &base,
        "receive",
        &[
            ("pantry", &pantry),
            ("product", &product),
            ("quantity", "1000000"),
            ("best_before", "2031-01-01"),
        ],
    )
    .await;

    // Eight clients stream movements; the ids of acknowledged ones are kept.
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut clients = Vec::new();
    for i in 0..8 {
        let (admin, base, pantry, other, product, acked) = (
            admin.clone(),
            base.clone(),
            pantry.clone(),
            other.clone(),
            product.clone(),
            acknowledged.clone(),
        );
        clients.push(tokio::spawn(async move {
            for n in 0.. {
                let (endpoint, extra): (&str, Vec<(&str, &str)>) = match (i + n) % 4 {
                    0 => ("receive", vec![("best_before", "2030-06-01")]),
                    1 => ("transfer", vec![("to", other.as_str())]),
                    _ => ("distribute", vec![]),
                };
                let mut form = vec![
                    ("pantry", pantry.as_str()),
                    ("product", product.as_str()),
                    ("quantity", "1"),
                ];
                form.extend(extra);
                match call(&admin, &base, endpoint, &form).await {
                    Ok((StatusCode::OK, body)) => acked
                        .lock()
                        .unwrap()
                        .push(body["movement_id"].as_str().unwrap().to_string()),
                    Ok((status, body)) => panic!("{endpoint} refused: {status} {body:?}"),
                    // The server is gone: stop.
                    Err(_) => return,
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before_kill = acknowledged.lock().unwrap().len();
    assert!(
        before_kill > 20,
        "only {before_kill} movements before the kill"
    );
    server.kill().expect("SIGKILL"); // Child::kill sends SIGKILL on Unix.
    server.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acked = acknowledged.lock().unwrap().clone();
    eprintln!(
        "{} movements acknowledged, {before_kill} of them 1.5 s in",
        acked.len()
    );

    let mut server = launch(&url, dir.path(), port);
    wait_ready(&base).await;
    // Every acknowledged movement survived.
    let ids = acked
        .iter()
        .map(|id| format!("'{id}'"))
        .collect::<Vec<_>>()
        .join(",");
    let found = scalar(
        &url,
        &format!("select count(*) from movements where id in ({ids})"),
    )
    .await;
    assert_eq!(
        found as usize,
        acked.len(),
        "acknowledged movements lost in the crash"
    );
    // Projections match the ledger and the lots, for both pantries.
    for p in [&pantry, &other] {
        let on_hand = scalar(
            &url,
            &format!("select on_hand from stock_levels where pantry_id = '{p}'"),
        )
        .await;
        let ledger = scalar(
            &url,
            &format!("select cast(sum(quantity) as bigint) from movements where pantry_id = '{p}'"),
        )
        .await;
        let lots = scalar(
            &url,
            &format!("select cast(sum(quantity) as bigint) from lots where pantry_id = '{p}'"),
        )
        .await;
        assert_eq!((on_hand, lots), (ledger, ledger), "pantry {p}");
    }
    // The organization-wide projection matches the ledger too.
    let organization = scalar(
        &url,
        "select cast(sum(on_hand) as bigint) from organization_stock",
    )
    .await;
    let ledger = scalar(&url, "select cast(sum(quantity) as bigint) from movements").await;
    assert_eq!(organization, ledger, "organization stock vs the ledger");
    // One event per movement (transfers write one per pantry).
    let movements = scalar(&url, "select count(*) from movements").await;
    let events = scalar(&url, "select count(*) from events where type like 'Stock%'").await;
    assert_eq!(events, movements);

    // The durable consumer catches up from its checkpoint: once it reaches
    // the head its rollup equals the ledger exactly, so no event counted twice.
    let head = scalar(&url, "select max(seq) from events").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let position = scalar(
            &url,
            "select last_seq from consumer_checkpoints where consumer = 'daily-flows'",
        )
        .await;
        if position == head {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "daily-flows stuck at {position} of {head}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for kind in ["received", "distributed", "transferred"] {
        let rollup = scalar(&url, &format!("select cast(coalesce(sum(quantity), 0) as bigint) from daily_flows where kind = '{kind}'")).await;
        let ledger = scalar(&url, &format!("select cast(coalesce(sum(quantity), 0) as bigint) from movements where kind = '{kind}'")).await;
        let counted = scalar(&url, &format!("select cast(coalesce(sum(movements), 0) as bigint) from daily_flows where kind = '{kind}'")).await;
        let rows = scalar(
            &url,
            &format!("select count(*) from movements where kind = '{kind}'"),
        )
        .await;
        assert_eq!((rollup, counted), (ledger, rows), "{kind}");
    }

    // The in-memory consumers start at the head: a live page sees the next
    // movement first, not a replay of the old ones.
    let admin = client();
    must(
        &admin,
        &base,
        "sign_in",
        &[("email", ADMIN.0), ("password", ADMIN.1)],
    )
    .await;
    let mut live = admin
        .get(format!("{base}/live/pantries/{pantry}"))
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    must(
        &admin,
        &base,
        "distribute",
        &[
            ("pantry", &pantry),
            ("product", &product),
            ("quantity", "1"),
        ],
    )
    .await;
    let newest = scalar(&url, "select max(seq) from events").await;
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), live.chunk())
            .await
            .expect("a live event")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        text.contains(&format!("id: {newest}\n")),
        "first live event after restart: {text}"
    );

    server.kill().ok();
    server.wait().ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_movements_survive_sigkill_sqlite() {
    crash_and_recover(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_movements_survive_sigkill_postgres() {
    crash_and_recover(Backend::Postgres).await;
}

//! A supplier's catalog fetched from its web address, against a server
//! the test runs on loopback: a good file, a slow server, 500 then
//! success, 503 every time, a 404 (not tried again), oversized bodies
//! (announced and streamed), malformed rows, and a redirect to the cloud
//! metadata address; a name that resolves to loopback when loopback is
//! not allowed; and the schedule, run once however many processes ask.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::clock::ManualClock;
use axum::extract::{Path, State};
use axum::http::StatusCode as AxumStatus;
use axum::response::{IntoResponse, Response};
use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::product;
use crate::on_both_databases;

on_both_databases!(
    a_catalog_is_fetched_with_retries_limits_and_refusals,
    a_scheduled_sync_runs_once_across_processes,
);

const BEANS_GTIN: &str = "4006381333931";

/// The supplier's web server: each path answers one way; `hits` counts
/// requests per path.
#[derive(Clone, Default)]
struct Supplier {
    hits: Arc<std::sync::Mutex<std::collections::HashMap<String, u32>>>,
    flaky: Arc<AtomicU32>,
}

impl Supplier {
    fn hits(&self, path: &str) -> u32 {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn good_csv() -> String {
    format!("sku,description,barcode,pack_size,price,available\nBN-24,Beans case,{BEANS_GTIN},24,18.40,yes\nRC-10,Rice sack,,10,12.00,yes\n")
}

async fn answer(State(s): State<Supplier>, Path(path): Path<String>) -> Response {
    *s.hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    match path.as_str() {
        "good.csv" => good_csv().into_response(),
        "cheaper.csv" => good_csv().replace("18.40", "17.90").into_response(),
        "slow.csv" => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            good_csv().into_response()
        }
        "flaky.csv" => {
            if s.flaky.fetch_add(1, Ordering::SeqCst) == 0 {
                AxumStatus::INTERNAL_SERVER_ERROR.into_response()
            } else {
                good_csv().replace("18.40", "19.00").into_response()
            }
        }
        "down.csv" => AxumStatus::SERVICE_UNAVAILABLE.into_response(),
        "big.csv" => "sku\n".repeat(1_600_000).into_response(),
        "big-streamed.csv" => {
            let chunks = (0..700).map(|_| Ok::<_, std::io::Error>(vec![b'x'; 10_000]));
            axum::body::Body::from_stream(futures::stream::iter(chunks)).into_response()
        }
        "bad.csv" => "sku,pack_size,price\nBN-24,24,cheap\n".into_response(),
        "to-metadata" => (
            AxumStatus::FOUND,
            [("location", "http://169.254.169.254/latest/meta-data/")],
        )
            .into_response(),
        _ => AxumStatus::NOT_FOUND.into_response(),
    }
}

async fn start_supplier() -> (Supplier, String) {
    let supplier = Supplier::default();
    let router = axum::Router::new()
        .route("/{path}", axum::routing::get(answer))
        .with_state(supplier.clone());
    (supplier, serve_on_loopback(router).await)
}

/// Loopback allowed (the test's supplier lives there), short timeouts and
/// waits, and the scheduler left to the test.
const FETCH: &[(&str, &str)] = &[
    ("LARDER_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32"),
    ("LARDER_SUPPLIER_SYNC_TIMEOUT_SECONDS", "1"),
    ("LARDER_SUPPLIER_SYNC_ATTEMPTS", "3"),
    ("LARDER_SUPPLIER_SYNC_RETRY_MS", "50"),
    ("LARDER_JOB_CHECK_SECONDS", "3600"),
];

async fn new_supplier(app: &TestApp, c: &reqwest::Client, org: &str) -> String {
    app.create(
        c,
        "save_supplier",
        &[("organization", org), ("name", "Metro Wholesale")],
    )
    .await
}

async fn a_catalog_is_fetched_with_retries_limits_and_refusals(backend: Backend) {
    let (web, base) = start_supplier().await;
    let app = spawn_with(backend, FETCH).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[("barcodes", BEANS_GTIN)]).await;
    let metro = new_supplier(&app, &admin, &p.org).await;
    let set = |url: String, schedule: &'static str| {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            app.call(
                admin,
                "save_supplier_feed",
                &[("supplier", &metro), ("url", &url), ("schedule", schedule)],
            )
            .await
        }
    };
    let sync = || {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            let r = app
                .call(admin, "sync_supplier_now", &[("supplier", &metro)])
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    let price = || {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            let d = app.call(admin, "supplier", &[("id", &metro)]).await;
            let items = d.body["items"].as_array().unwrap().clone();
            items
                .iter()
                .find(|i| i["sku"] == "BN-24")
                .map(|i| i["price_cents"].clone())
        }
    };

    // Addresses and schedules are checked when saved.
    for (url, schedule, field, says) in [
        (
            "ftp://supplier.example/c.csv".to_string(),
            "",
            "url",
            "Only http and https",
        ),
        (
            "http://169.254.169.254/latest/meta-data".into(),
            "",
            "url",
            "private or local",
        ),
        (
            "http://10.0.0.7/catalog.csv".into(),
            "",
            "url",
            "private or local",
        ),
        (
            format!("{base}/good.csv"),
            "every night",
            "schedule",
            "minute hour day month weekday",
        ),
    ] {
        let r = set(url.clone(), schedule).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{url}: {:?}",
            r.body
        );
        assert!(r.message().contains(says), "{url}: {}", r.message());
    }
    assert_eq!(app.count("select count(*) from supplier_feeds").await, 0);
    let r = app
        .call(&admin, "sync_supplier_now", &[("supplier", &metro)])
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "url"),
        "{:?}",
        r.body
    );

    // A good file: items in, beans tied by barcode, the schedule shown.
    let r = set(format!("{base}/good.csv"), "0 2 * * *").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = app.call(&admin, "supplier", &[("id", &metro)]).await;
    assert_eq!(d.body["feed"]["url"], format!("{base}/good.csv"));
    assert!(
        d.body["feed"]["schedule_text"]
            .as_str()
            .unwrap()
            .contains("02:00"),
        "{:?}",
        d.body["feed"]
    );
    assert!(
        d.body["feed"]["next_run"].as_str().is_some(),
        "{:?}",
        d.body["feed"]
    );
    let r = sync().await;
    assert_eq!(
        (r["status"].as_str(), r["new"].as_i64()),
        (Some("done"), Some(2)),
        "{r:?}"
    );
    let d = app.call(&admin, "supplier", &[("id", &metro)]).await;
    let bn = d.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sku"] == "BN-24")
        .unwrap()
        .clone();
    assert_eq!(bn["product_id"], beans.as_str());

    // 500, then success: tried again, and the second answer lands.
    set(format!("{base}/flaky.csv"), "").await;
    let r = sync().await;
    assert_eq!(
        (r["status"].as_str(), r["price_changed"].as_i64()),
        (Some("done"), Some(1)),
        "{r:?}"
    );
    assert_eq!(web.hits("flaky.csv"), 2);
    assert_eq!(price().await, Some(Value::from(1900)));

    // Failures change nothing and say why; only 5xx and timeouts are
    // tried again.
    for (path, says, tries) in [
        ("down.csv", "503 Service Unavailable (3 tries)", 3),
        ("missing.csv", "404 Not Found", 1),
        ("slow.csv", "did not answer in time (3 tries)", 3),
        ("big.csv", "over 5 MB", 1),
        ("big-streamed.csv", "over 5 MB", 1),
        ("bad.csv", "1 row needs fixing", 1),
        (
            "to-metadata",
            "169.254.169.254 is a private or local address",
            1,
        ),
    ] {
        set(format!("{base}/{path}"), "").await;
        let r = sync().await;
        assert_eq!(r["status"], "failed", "{path}: {r:?}");
        assert!(
            r["message"].as_str().unwrap().contains(says),
            "{path}: {r:?}"
        );
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .starts_with("Nothing changed"),
            "{path}: {r:?}"
        );
        assert_eq!(web.hits(path), tries, "{path}");
        assert_eq!(
            price().await,
            Some(Value::from(1900)),
            "{path} changed nothing"
        );
    }
    let bad = app.call(&admin, "supplier", &[("id", &metro)]).await;
    assert_eq!(bad.body["items"].as_array().unwrap().len(), 2);

    // Every sync is in the history, and each failure raised its event.
    let history = app
        .call(&admin, "supplier_syncs", &[("supplier", &metro)])
        .await;
    let rows = history.body.as_array().unwrap();
    assert_eq!(rows.len(), 9, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r["status"] == "failed").count(), 7);
    assert!(rows
        .iter()
        .any(|r| r["source"] == format!("{base}/down.csv")));
    assert_eq!(
        app.count("select count(*) from events where type = 'SupplierSyncFailed'")
            .await,
        7
    );

    // A name that points at loopback is refused when loopback is not
    // allowed: the address looks public, the lookup says otherwise.
    let strict = spawn_with(backend, &[("LARDER_SUPPLIER_SYNC_ATTEMPTS", "1")]).await;
    let admin2 = strict.setup_admin().await;
    let p2 = build_places(&strict, &admin2).await;
    let other = new_supplier(&strict, &admin2, &p2.org).await;
    let port = base.rsplit(':').next().unwrap();
    let r = strict
        .call(
            &admin2,
            "save_supplier_feed",
            &[
                ("supplier", &other),
                ("url", &format!("http://localhost:{port}/good.csv")),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let before = web.hits("good.csv");
    let r = strict
        .call(&admin2, "sync_supplier_now", &[("supplier", &other)])
        .await;
    assert_eq!(r.body["status"], "failed", "{:?}", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("localhost is a private or local address"),
        "{:?}",
        r.body
    );
    assert_eq!(web.hits("good.csv"), before, "nothing reached the server");
    // An empty address stops fetching.
    let r = strict
        .call(
            &admin2,
            "save_supplier_feed",
            &[("supplier", &other), ("url", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(strict.count("select count(*) from supplier_feeds").await, 0);
}

async fn a_scheduled_sync_runs_once_across_processes(backend: Backend) {
    let (web, base) = start_supplier().await;
    // 23:00 UTC on 1 December 2026 (the organization's zone is UTC).
    let clock = ManualClock::at(1_796_166_000_000);
    let app = spawn_with_clock(backend, FETCH, clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let metro = new_supplier(&app, &admin, &p.org).await;
    let r = app
        .call(
            &admin,
            "save_supplier_feed",
            &[
                ("supplier", &metro),
                ("url", &format!("{base}/good.csv")),
                ("schedule", "0 2 * * *"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let d = app.call(&admin, "supplier", &[("id", &metro)]).await;
    assert_eq!(d.body["feed"]["next_run"], "2026-12-02 02:00 UTC");
    let state = &app.server.state;
    let run = app::purchasing::feed::run_due;

    // Not due before 02:00.
    assert_eq!(run(state, "one").await.unwrap(), 0);
    assert_eq!(web.hits("good.csv"), 0);

    // Past 02:00, two processes look at once: one of them syncs.
    clock.advance(Duration::from_secs(3 * 3600 + 60));
    let (a, b) = tokio::join!(run(state, "one"), run(state, "two"));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    assert_eq!(web.hits("good.csv"), 1);
    let d = app.call(&admin, "supplier", &[("id", &metro)]).await;
    assert_eq!(d.body["feed"]["next_run"], "2026-12-03 02:00 UTC");
    assert_eq!(d.body["items"].as_array().unwrap().len(), 2);
    // Scheduled syncs are nobody's doing in the audit log.
    assert_eq!(
        app.count("select count(*) from events where type = 'SupplierCatalogUpdated' and actor_id is null").await,
        1
    );
    assert_eq!(
        run(state, "one").await.unwrap(),
        0,
        "not due again until tomorrow"
    );

    // While a slow sync holds the supplier, nobody else syncs it.
    app.sql(&format!(
        "update supplier_feeds set url = '{base}/slow.csv', next_run_at = 0"
    ))
    .await;
    let background = {
        let state = state.clone();
        tokio::spawn(async move { app::purchasing::feed::run_due(&state, "one").await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let r = app
        .call(&admin, "sync_supplier_now", &[("supplier", &metro)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(
        r.message().contains("being synced right now"),
        "{}",
        r.message()
    );
    assert_eq!(background.await.unwrap().unwrap(), 1);
    assert_eq!(web.hits("slow.csv"), 3);
    // The claim is released: the next one may sync.
    app.sql(&format!(
        "update supplier_feeds set url = '{base}/cheaper.csv'"
    ))
    .await;
    let r = app
        .call(&admin, "sync_supplier_now", &[("supplier", &metro)])
        .await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (StatusCode::OK, Some("done")),
        "{:?}",
        r.body
    );
    assert_eq!(r.body["price_changed"], 1);
}

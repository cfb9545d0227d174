//! Heavy reads on a PostgreSQL read replica: a primary and a streaming
//! replica started here (`pg_basebackup -R`), Larder given both URLs.

use app::clock::ManualClock;
use reqwest::{Client, StatusCode};

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, product};
use crate::pg_pair::PgPair;

/// 2026-11-20 12:00 UTC: the 20th wherever the pantry is.
const NOON: i64 = 1_795_176_000_000;
const DAY: &str = "2026-11-20";

/// Units handed out on [`DAY`], as the usage report counts them.
async fn handed_out(app: &TestApp, c: &Client, pantry: &str) -> i64 {
    let scope = format!("pantry:{pantry}");
    let r = app
        .call(
            c,
            "usage_report",
            &[
                ("scope", &scope),
                ("from", DAY),
                ("to", DAY),
                ("group", "day"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "usage_report: {:?}", r.body);
    r.body["totals"]["items"].as_i64().unwrap()
}

/// What `/readyz` says of the replica.
async fn replica_state(app: &TestApp) -> String {
    let r = reqwest::get(format!("{}/readyz", app.base)).await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a replica never makes a replica unready"
    );
    let body: serde_json::Value = r.json().await.unwrap();
    body["replica"].as_str().unwrap_or_default().to_string()
}

async fn wait_for_replica_state(app: &TestApp, wanted: &str) {
    let mut seen = String::new();
    for _ in 0..100 {
        seen = replica_state(app).await;
        if seen == wanted {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("readyz said replica {seen:?}, not {wanted:?}, for 10 s");
}

#[tokio::test]
async fn reports_read_the_replica_and_move_to_the_primary_when_it_lags_or_goes() {
    let mut pg = PgPair::start().await;
    let clock = ManualClock::at(NOON);
    let (primary, replica) = (pg.primary_url(), pg.replica_url());
    // This replica may be half a minute behind; the one beside it, a second.
    let app = spawn_with_clock(
        Backend::Postgres,
        &[
            ("DATABASE_URL", &primary),
            ("LARDER_DATABASE_REPLICA_URL", &replica),
            ("LARDER_DATABASE_REPLICA_MAX_LAG", "30"),
        ],
        clock.clone(),
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "20", &[]).await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "3", &[]).await;
    drained(&app).await;
    pg.caught_up().await;
    wait_for_replica_state(&app, "in use").await;
    assert_eq!(handed_out(&app, &admin, &p.main).await, 3);

    let strict = spawn_beside_changed(
        &app,
        &[("LARDER_DATABASE_REPLICA_MAX_LAG", "1")],
        clock.clone(),
    )
    .await;
    // Cookies know no ports: the admin's session works on both.
    wait_for_replica_state(&strict, "in use").await;

    // The replica stops replaying; the primary moves on.
    pg.on_replica("select pg_wal_replay_pause()").await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    drained(&app).await;
    // The report reads the replica, which has not seen the second
    // distribution: proof the read went there.
    assert_eq!(handed_out(&app, &admin, &p.main).await, 3);
    // More than a second behind: the strict replica's reads go to the
    // primary, and its readiness says why.
    wait_for_replica_state(&strict, "lagging; reads on the primary").await;
    assert_eq!(handed_out(&strict, &admin, &p.main).await, 5);
    assert_eq!(replica_state(&app).await, "in use");

    // Replay resumes: the replica catches up and both read it again.
    pg.on_replica("select pg_wal_replay_resume()").await;
    pg.caught_up().await;
    wait_for_replica_state(&strict, "in use").await;
    assert_eq!(handed_out(&app, &admin, &p.main).await, 5);

    // The replica goes away: reports come from the primary, nothing fails
    // once the watcher has seen it (within a second).
    pg.stop_replica();
    wait_for_replica_state(&app, "unreachable; reads on the primary").await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    drained(&app).await;
    assert_eq!(handed_out(&app, &admin, &p.main).await, 6);
    let m = app.metrics().await;
    assert_eq!(metric(&m, "larder_db_replica_in_use"), 0.0, "{m}");

    // Back: it streams what it missed and is used again.
    pg.resume_replica();
    pg.caught_up().await;
    wait_for_replica_state(&app, "in use").await;
    assert_eq!(handed_out(&app, &admin, &p.main).await, 6);
    let m = app.metrics().await;
    assert_eq!(metric(&m, "larder_db_replica_in_use"), 1.0, "{m}");
}

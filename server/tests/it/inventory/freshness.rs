//! What readers see stays fresh: the stock checker's cache until a movement
//! lands, the live stream of a pantry's movements, and two servers on one
//! database never writing from a stale memory.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

use super::{drained, ledger, movement, ok_movement, on_hand, product};

on_both_databases!(
    the_stock_checker_caches_until_a_movement_lands,
    a_live_stream_tells_viewers_of_a_pantry_about_its_movements,
    two_servers_on_one_database_never_write_from_a_stale_memory,
);

async fn the_stock_checker_caches_until_a_movement_lands(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("unit_weight_g", "425")],
    )
    .await;
    let rice = product(
        &app,
        &admin,
        &p.org,
        "Rice",
        &[("unit", "kg"), ("category", "Dry goods")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "4",
        &[("best_before", "2020-01-01")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.library, &rice, "2.5", &[]).await;
    let r = app
        .call(
            &admin,
            "set_minimum",
            &[("pantry", &p.main), ("product", &beans), ("minimum", "10")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let overview = |scope: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .call(admin, "stock_overview", &[("scope", &scope)])
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    // Answers computed while an event is in flight are not kept; start
    // from a quiet log so the hits below are predictable.
    drained(&app).await;
    let org = overview(format!("organization:{}", p.org)).await;
    let cats: Vec<(String, i64, i64)> = org["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap().into(),
                c["units"].as_i64().unwrap(),
                c["weight_g"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cats,
        vec![
            ("Canned goods".into(), 4, 1700),
            ("Dry goods".into(), 0, 2500)
        ]
    );
    assert_eq!(org["low_stock_total"], 1);
    assert_eq!(org["expiring_total"], 1);
    // The window is the caller's to choose, within reason.
    let r = app
        .call(
            &admin,
            "stock_overview",
            &[("scope", &format!("pantry:{}", p.main)), ("days", "400")],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "days")
    );
    let r = app
        .call(
            &admin,
            "stock_overview",
            &[("scope", &format!("pantry:{}", p.main)), ("days", "30")],
        )
        .await;
    assert_eq!(
        (
            r.body["expiring_days"].as_i64(),
            r.body["expiring_total"].as_i64()
        ),
        (Some(30), Some(1))
    );
    let campus = overview(format!("campus:{}", p.campus)).await;
    assert_eq!(campus["categories"], org["categories"]);
    let library = overview(format!("pantry:{}", p.library)).await;
    assert_eq!(library["categories"].as_array().unwrap().len(), 1);
    let hits = |text: &str| -> i64 {
        text.lines()
            .find(|l| l.starts_with("larder_cache_requests_total{cache=\"stock\",result=\"hit\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    let before = hits(&app.metrics().await);
    assert_eq!(overview(format!("organization:{}", p.org)).await, org);
    assert_eq!(hits(&app.metrics().await), before + 1);
    // A movement at one pantry makes the answers covering it stale…
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    let org = overview(format!("organization:{}", p.org)).await;
    assert_eq!(org["categories"][0]["units"], 3);
    // …but not the other pantry's.
    drained(&app).await;
    overview(format!("pantry:{}", p.library)).await;
    assert_eq!(hits(&app.metrics().await), before + 2);
    // The inventory list: filters and badges.
    let list = |filter: &'static str| {
        let (app, admin, main) = (&app, &admin, p.main.clone());
        async move {
            app.call(admin, "stock", &[("pantry", &main), ("filter", filter)])
                .await
                .body
        }
    };
    let low = list("low").await;
    assert_eq!(
        (low["total"].as_i64(), low["rows"][0]["low"].as_bool()),
        (Some(1), Some(true))
    );
    let expiring = list("expiring").await;
    assert_eq!(expiring["rows"][0]["expired"], 3);
    assert_eq!(list("all").await["total"], 2);
    assert_eq!(list("in_stock").await["total"], 1);
    // A catalog change reaches cached lists too.
    let r = app
        .call(
            &admin,
            "update_product",
            &[
                ("id", &beans),
                ("name", "Black beans, canned"),
                ("category", "Canned goods"),
                ("unit", "each"),
                ("unit_weight_g", "425"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list("low").await["rows"][0]["name"], "Black beans, canned");
}

async fn a_live_stream_tells_viewers_of_a_pantry_about_its_movements(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    let anonymous = app
        .get(&client(), &format!("/live/pantries/{}", p.main))
        .await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.library),
        )
        .await;
    assert_eq!(
        app.get(&staff, &format!("/live/pantries/{}", p.main))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let mut res = admin
        .get(format!("{}/live/pantries/{}", app.base, p.main))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    // A movement elsewhere is not sent; one here is.
    ok_movement(&app, &admin, "receive", &p.library, &beans, "2", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "7", &[]).await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains("\"on_hand\":7") {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: stock"), "{text}");
    assert!(!text.contains("\"on_hand\":2"), "{text}");
    assert!(text.contains(&beans), "{text}");
}

/// Each server's movement writer remembers the stock rows it wrote and
/// writes the next batch from memory. A second server writing the same
/// stock makes that memory stale: the first must notice, read afresh, and
/// neither lose the other's movements nor refuse on stock it no longer
/// knows about.
async fn two_servers_on_one_database_never_write_from_a_stale_memory(backend: Backend) {
    use std::sync::atomic::Ordering::Relaxed;
    let a = spawn_app(backend).await;
    let admin = a.setup_admin().await;
    let p = build_places(&a, &admin).await;
    let beans = product(&a, &admin, &p.org, "Black beans", &[]).await;
    let b = spawn_beside(&a).await;
    let dated = [("best_before", "2031-01-01")];
    let on_hand_after = |r: Value| r["on_hand"].as_i64().unwrap();
    let stats = |app: &TestApp| {
        let s = app.server.state.writer.stats();
        (s.remembered.load(Relaxed), s.stale.load(Relaxed))
    };

    ok_movement(&a, &admin, "receive", &p.main, &beans, "10", &dated).await;
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    assert_eq!(on_hand_after(r), 9);
    assert_eq!(
        stats(&a),
        (1, 0),
        "the second movement is written from memory"
    );

    // The other server takes 2; the first's memory still says 9.
    let r = ok_movement(&b, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    assert_eq!(on_hand_after(r), 7);
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "3", &[]).await;
    assert_eq!(on_hand_after(r), 4, "the stale memory is not written");
    assert_eq!(stats(&a), (1, 1));
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    assert_eq!(on_hand_after(r), 3);
    assert_eq!(stats(&a), (2, 1), "the memory is good again after the read");

    // The other server adds 10; the first remembers 3 but must not refuse 8.
    let r = ok_movement(&b, &admin, "receive", &p.main, &beans, "10", &dated).await;
    assert_eq!(on_hand_after(r), 13);
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "8", &[]).await;
    assert_eq!(on_hand_after(r), 5);
    assert_eq!(stats(&a), (2, 2));
    // A refusal from memory holds when the memory does.
    let r = movement(&a, &admin, "distribute", &p.main, &beans, "6", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(stats(&a), (3, 2));

    assert_eq!(on_hand(&a, &p.main, &beans).await, 5);
    assert_eq!(ledger(&a, &p.main, &beans).await, 5);
    assert_eq!(
        a.count(&format!(
            "select cast(coalesce(sum(quantity), 0) as bigint) from lots where product_id = '{beans}'"
        ))
        .await,
        5
    );
    assert_eq!(
        a.count("select count(*) from events where type in ('StockReceived', 'StockDistributed')")
            .await,
        7
    );
    // Both servers run the daily reports' consumer on the one log: each
    // movement is counted once, whichever got to it first.
    drained(&a).await;
    drained(&b).await;
    reports_match_the_ledger(&a).await;
}

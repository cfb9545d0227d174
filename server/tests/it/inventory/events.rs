//! The event pipeline: every movement writes an event that consumers apply
//! once; an event a consumer keeps failing on is parked and can be
//! retried.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

use super::{drained, ok_movement, product};

on_both_databases!(
    every_movement_writes_an_event_that_consumers_apply_once,
    an_event_a_consumer_keeps_failing_on_is_parked_and_can_be_retried,
);

async fn every_movement_writes_an_event_that_consumers_apply_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "10",
        &[("best_before", "2030-01-01")],
    )
    .await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "3", &[]).await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    ok_movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "1",
        &[("to", &p.library)],
    )
    .await;
    assert_eq!(app.count("select count(*) from movements").await, 5);
    assert_eq!(
        app.count("select count(*) from events where type like 'Stock%'")
            .await,
        5
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'ProductCreated'")
            .await,
        1
    );
    let e: (String, i64, String, String) = sqlx::query_as(
        "select type, version, payload, pantry_id from events where type = 'StockReceived'",
    )
    .fetch_one(app.server.state.db.pool())
    .await
    .unwrap();
    let payload: Value = serde_json::from_str(&e.2).unwrap();
    assert_eq!(
        (e.0.as_str(), e.1, e.3.as_str()),
        ("StockReceived", 1, p.main.as_str())
    );
    assert_eq!(
        (
            payload["quantity"].as_i64(),
            payload["on_hand"].as_i64(),
            payload["lots"][0]["best_before"].as_str()
        ),
        (Some(10), Some(10), Some("2030-01-01"))
    );
    drained(&app).await;
    // The durable consumer's rollup equals the ledger, per kind.
    let flows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "select kind, quantity, movements from daily_flows where pantry_id = '{}' order by kind",
        p.main
    ))
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        flows,
        vec![
            ("distributed".into(), -5, 2),
            ("received".into(), 10, 1),
            ("transferred".into(), -1, 1)
        ]
    );
    // Every event reached it: the movements, the product and the places.
    let all = app.count("select count(*) from events").await;
    assert_eq!(all, 11);
    let text = app.metrics().await;
    assert!(
        text.contains(&format!(
            "larder_events_delivered_total{{consumer=\"daily-flows\"}} {all}"
        )),
        "{text}"
    );
}

async fn an_event_a_consumer_keeps_failing_on_is_parked_and_can_be_retried(backend: Backend) {
    let app = spawn_with(
        backend,
        &[
            ("LARDER_EVENT_MAX_ATTEMPTS", "3"),
            ("LARDER_EVENT_RETRY_MS", "20"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    drained(&app).await;
    // The rollup's table goes missing: its consumer cannot apply events.
    app.sql("alter table daily_flows rename to daily_flows_away")
        .await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "4", &[]).await;
    let mut parked = 0;
    for _ in 0..200 {
        parked = app
            .count("select count(*) from dead_letters where resolved_at is null")
            .await;
        if parked > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(parked, 1, "the failing event was not parked");
    assert_eq!(app.count("select attempts from dead_letters").await, 3);
    let view = app
        .call(&admin, "events_admin", &[("organization", &p.org)])
        .await;
    assert_eq!(view.status, StatusCode::OK, "{:?}", view.body);
    assert_eq!(view.body["parked"][0]["consumer"], "daily-flows");
    assert_eq!(view.body["parked"][0]["event_type"], "StockReceived");
    let id = view.body["parked"][0]["id"].as_str().unwrap().to_string();
    // Retrying while the table is still away fails again, and says why.
    let r = app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert!(
        r.body["FailedAgain"]
            .as_str()
            .unwrap_or("")
            .contains("daily_flows"),
        "{:?}",
        r.body
    );
    // Staff may not retry.
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    assert_eq!(
        app.call(&staff, "retry_parked_event", &[("id", &id)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.sql("alter table daily_flows_away rename to daily_flows")
        .await;
    // The consumer went on past the parked event: later events apply.
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    drained(&app).await;
    assert_eq!(
        app.count("select count(*) from daily_flows where kind = 'received'")
            .await,
        0
    );
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'distributed'")
            .await,
        -1
    );
    let r = app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert_eq!(r.body, Value::from("Delivered"));
    assert_eq!(
        app.count("select count(*) from dead_letters where resolved_at is null")
            .await,
        0
    );
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'received'")
            .await,
        4
    );
    // Retrying a delivered event again changes nothing.
    app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'received'")
            .await,
        4
    );
    let text = app.metrics().await;
    assert!(
        text.contains("larder_events_parked_total{consumer=\"daily-flows\"} 1"),
        "{text}"
    );
}

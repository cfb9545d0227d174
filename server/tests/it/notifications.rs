//! The notification centre: events reach the managers they concern (and
//! not the staff), each person's preference keeps a kind out, an event
//! delivered again notifies nobody twice, marking read, and nobody reads
//! or marks another person's notifications.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{drained, product};
use crate::on_both_databases;

on_both_databases!(notifications_reach_the_right_people_once);

async fn centre(app: &TestApp, c: &reqwest::Client) -> Value {
    let r = app.call(c, "notifications", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

fn titles(centre: &Value) -> Vec<String> {
    centre["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect()
}

/// A catalog file with a bad row: the sync fails.
pub async fn bad_file(app: &TestApp, admin: &reqwest::Client, metro: String) {
    let r = app
        .call_json(
            admin,
            "import_supplier_catalog",
            &json!({"supplier": metro, "name": "bad.csv", "text": "sku,price\nA,cheap\n"}),
        )
        .await;
    assert_eq!(r.body["status"], "failed", "{:?}", r.body);
}

async fn notifications_reach_the_right_people_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let manager = app
        .join(
            &admin,
            "kim@college.example",
            "manager",
            &format!("pantry:{}", p.main),
        )
        .await;
    let staff = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    let metro = app
        .create(
            &admin,
            "save_supplier",
            &[("organization", &p.org), ("name", "Metro Wholesale")],
        )
        .await;
    // A failed sync: every manager of the organization, not the staff.
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    for c in [&admin, &manager] {
        let n = centre(&app, c).await;
        assert_eq!(
            titles(&n),
            vec!["The catalog sync of Metro Wholesale failed"]
        );
        assert_eq!(n["unread"], 1);
        assert_eq!(n["notifications"][0]["link"], format!("/suppliers/{metro}"));
        assert!(n["notifications"][0]["body"]
            .as_str()
            .unwrap()
            .contains("1 row needs fixing"));
    }
    assert_eq!(
        centre(&app, &staff).await["notifications"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Kim turns failed syncs off: the next one reaches only the admin.
    let r = app
        .call(
            &manager,
            "save_notification_preferences",
            &[("sync_failed", "off"), ("order_received", "in_app")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let prefs = app.call(&manager, "notification_preferences", &[]).await;
    let channels = prefs.body["channels"].to_string();
    assert!(
        channels.contains(r#"["sync_failed","off"]"#)
            && channels.contains(r#"["urgent_issue","both"]"#),
        "{channels}"
    );
    let r = app
        .call(
            &manager,
            "save_notification_preferences",
            &[("sync_failed", "loudly")],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "sync_failed"),
        "{:?}",
        r.body
    );
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    assert_eq!(centre(&app, &admin).await["unread"], 2);
    assert_eq!(centre(&app, &manager).await["unread"], 1);

    // An order received reaches the pantry's managers.
    let item = app
        .create(
            &admin,
            "save_supplier_item",
            &[
                ("supplier", &metro),
                ("sku", "BN-24"),
                ("product", &beans),
                ("pack_size", "24"),
            ],
        )
        .await;
    let order = app
        .create(
            &admin,
            "create_purchase_order",
            &[("pantry", &p.main), ("supplier", &metro)],
        )
        .await;
    app.call(
        &admin,
        "set_order_line",
        &[("order", &order), ("item", &item), ("packs", "1")],
    )
    .await;
    assert_eq!(
        app.call(&admin, "submit_purchase_order", &[("order", &order)])
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call_json(
            &admin,
            "receive_purchase_order",
            &json!({"order": order, "lines": [{"product": beans, "quantity": "24"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    let kim = centre(&app, &manager).await;
    assert_eq!(titles(&kim)[0], "PO-0001 from Metro Wholesale was received");
    assert_eq!(kim["notifications"][0]["link"], format!("/orders/{order}"));
    assert_eq!(kim["unread"], 2);

    // Every event delivered to the notifier again: nobody is told twice.
    let before = app.count("select count(*) from notifications").await;
    app.sql("update consumer_checkpoints set last_seq = 0 where consumer = 'notifier'")
        .await;
    let again = spawn_beside(&app).await;
    drained(&again).await;
    assert_eq!(
        app.count("select count(*) from notifications").await,
        before
    );

    // Marking read: one, then all; someone else's is not found.
    let first = kim["notifications"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .call(&staff, "mark_notifications_read", &[("id", &first)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = app
        .call(&manager, "mark_notifications_read", &[("id", &first)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let kim = centre(&app, &manager).await;
    assert_eq!(
        (
            kim["unread"].as_i64(),
            kim["notifications"][0]["read"].as_bool()
        ),
        (Some(1), Some(true))
    );
    assert_eq!(
        app.call(&manager, "unread_notifications", &[]).await.body,
        1
    );
    app.call(&manager, "mark_notifications_read", &[]).await;
    assert_eq!(
        app.call(&manager, "unread_notifications", &[]).await.body,
        0
    );
    // The admin's are untouched.
    assert_eq!(app.call(&admin, "unread_notifications", &[]).await.body, 3);
    drop(again);
}

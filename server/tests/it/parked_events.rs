//! Events a part of Larder keeps failing on: the analyser raises one issue
//! for the organization's admins, the notifier tells them (not the
//! managers), accepting retries the events and says so when they still
//! fail, and a retry from the events page closes the issue by itself.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, product};
use crate::on_both_databases;

on_both_databases!(parked_events_reach_the_admins_and_accepting_retries_them);

/// The organization's open issue about parked events, once the analyser
/// has raised it.
async fn parked_issue(app: &TestApp, c: &reqwest::Client, org: &str) -> Option<Value> {
    let r = app
        .call(c, "organization_stock_issues", &[("organization", org)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["open"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["kind"] == "parked_events")
        .cloned()
}

async fn raised(app: &TestApp, c: &reqwest::Client, org: &str) -> Value {
    for _ in 0..200 {
        if let Some(i) = parked_issue(app, c, org).await {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no issue about the parked event was raised");
}

async fn parked_events_reach_the_admins_and_accepting_retries_them(backend: Backend) {
    let app = spawn_with(
        backend,
        &[
            ("LARDER_EVENT_MAX_ATTEMPTS", "2"),
            ("LARDER_EVENT_RETRY_MS", "20"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let manager = app
        .join(
            &admin,
            "kim@college.example",
            "manager",
            &format!("organization:{}", p.org),
        )
        .await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    drained(&app).await;
    assert!(parked_issue(&app, &admin, &p.org).await.is_none());

    // The daily reports' table goes missing: their consumer parks the
    // receipt's event.
    app.sql("alter table daily_flows rename to daily_flows_away")
        .await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "4", &[]).await;
    let issue = raised(&app, &admin, &p.org).await;
    assert_eq!(
        issue["title"],
        "1 event could not be processed and was set aside"
    );
    let explanation = issue["explanation"].as_str().unwrap();
    assert!(
        explanation.contains("the daily reports (1)") && explanation.contains("daily_flows"),
        "{explanation}"
    );
    assert_eq!(issue["proposal"]["kind"], "retry_parked");
    let id = issue["id"].as_str().unwrap().to_string();

    // The admin is told, once; the manager neither sees the issue nor is
    // told.
    drained(&app).await;
    let told = app.call(&admin, "notifications", &[]).await.body;
    let parked: Vec<&Value> = told["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["kind"] == "parked_events")
        .collect();
    assert_eq!(parked.len(), 1, "{told:?}");
    assert_eq!(
        parked[0]["link"],
        format!("/organizations/{}/issues", p.org).as_str()
    );
    assert!(parked_issue(&app, &manager, &p.org).await.is_none());
    let m = app.call(&manager, "notifications", &[]).await.body;
    assert!(
        !m["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "parked_events"),
        "{m:?}"
    );
    // Nor may the manager accept it.
    let r = app
        .call(&manager, "accept_stock_issue", &[("issue", &id)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // Accepting while the cause is still there: it says so, and the issue
    // stays open.
    let r = app
        .call(&admin, "accept_stock_issue", &[("issue", &id)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(
        r.body.to_string().contains("1 of 1 still fails"),
        "{:?}",
        r.body
    );
    assert_eq!(
        parked_issue(&app, &admin, &p.org).await.unwrap()["id"],
        id.as_str()
    );

    // Mended, accepting retries it: the receipt reaches the reports.
    app.sql("alter table daily_flows_away rename to daily_flows")
        .await;
    let r = app
        .call(&admin, "accept_stock_issue", &[("issue", &id)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["message"], "Retried: 1 event went through.");
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
    drained(&app).await;
    assert!(parked_issue(&app, &admin, &p.org).await.is_none());

    // Broken again: a new issue. Retried from the events page instead, the
    // issue closes by itself.
    app.sql("alter table daily_flows rename to daily_flows_away")
        .await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    let again = raised(&app, &admin, &p.org).await;
    assert_ne!(again["id"], id.as_str());
    app.sql("alter table daily_flows_away rename to daily_flows")
        .await;
    let view = app
        .call(&admin, "events_admin", &[("organization", &p.org)])
        .await;
    let dead = view.body["parked"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .call(&admin, "retry_parked_event", &[("id", &dead)])
        .await;
    assert_eq!(r.body, Value::from("Delivered"));
    drained(&app).await;
    assert!(parked_issue(&app, &admin, &p.org).await.is_none());
    assert_eq!(
        app.count(&format!(
            "select count(*) from stock_issues where id = '{}' and status = 'resolved'",
            again["id"].as_str().unwrap()
        ))
        .await,
        1
    );
    // One EventParked per parking, one ParkedEventDelivered per retry that
    // went through.
    assert_eq!(
        app.count("select count(*) from events where type = 'EventParked'")
            .await,
        2
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'ParkedEventDelivered'")
            .await,
        2
    );
}

//! The stock issue analyser end to end, on a fixed clock: a real forecast
//! says rice runs out before the next delivery, the analyser raises one
//! urgent issue with an order proposed, a redelivery of every event
//! changes nothing, accepting drafts the order, submitting and receiving
//! it fills the shelf and nothing is raised again; a supplier's price jump
//! raises an organization issue; dismissing needs a reason.

use std::time::Duration;

use app::clock::ManualClock;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, on_hand, product};
use crate::on_both_databases;

on_both_databases!(an_urgent_issue_becomes_an_order_that_fills_the_shelf);

/// 2026-11-20 12:00 UTC, a Friday.
const NOON: i64 = 1_795_176_000_000;
const DAY: i64 = 86_400_000;
const WEEK: [i64; 7] = [3, 6, 7, 6, 8, 9, 2];

async fn finished_run(app: &TestApp, c: &reqwest::Client, pantry: &str) {
    for _ in 0..600 {
        let r = app.call(c, "forecast_run", &[("pantry", pantry)]).await;
        let status = r.body["status"].as_str().unwrap_or("");
        if status == "done" || status == "failed" {
            assert_eq!(status, "done", "{:?}", r.body);
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the forecast run did not finish in a minute");
}

async fn issues(app: &TestApp, c: &reqwest::Client, pantry: &str) -> Value {
    let r = app.call(c, "stock_issues", &[("pantry", pantry)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn an_urgent_issue_becomes_an_order_that_fills_the_shelf(backend: Backend) {
    let clock = ManualClock::at(NOON);
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &rice, "20", &[]).await;
    // Metro takes orders on Mondays and Thursdays and delivers five days
    // later: ordered Monday the 23rd, rice arrives Saturday the 28th.
    let metro = app
        .create(
            &admin,
            "save_supplier",
            &[
                ("organization", &p.org),
                ("name", "Metro Wholesale"),
                ("lead_time_days", "5"),
                ("order_days", "Mon, Thu"),
            ],
        )
        .await;
    let item = app
        .create(
            &admin,
            "save_supplier_item",
            &[
                ("supplier", &metro),
                ("sku", "RC-10"),
                ("description", "Rice, case of 10"),
                ("product", &rice),
                ("pack_size", "10"),
                ("price", "12.00"),
            ],
        )
        .await;

    // 120 days of rice going out, about 41 a week; the import's forecast
    // run makes the forecast the analyser reads.
    let mut csv = String::from("date,product,quantity,pantry\n");
    for t in 0..120i64 {
        let day = time::OffsetDateTime::from_unix_timestamp((NOON - (120 - t) * DAY) / 1000)
            .unwrap()
            .date();
        csv.push_str(&format!(
            "{day},Rice,{},Main Pantry\n",
            WEEK[t as usize % 7] + (t * 7919 % 5) - 2
        ));
    }
    let res = admin
        .post(format!(
            "{}/api/v1/usage/import?organization={}&name=history.csv",
            app.base, p.org
        ))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    finished_run(&app, &admin, &p.main).await;
    drained(&app).await;

    // One urgent issue, explained, with an order proposed.
    let list = issues(&app, &admin, &p.main).await;
    let open = list["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let issue = &open[0];
    assert_eq!(
        (issue["kind"].as_str(), issue["severity"].as_str()),
        (Some("stockout"), Some("urgent")),
        "{issue:?}"
    );
    let title = issue["title"].as_str().unwrap();
    assert!(
        title.starts_with("Rice will run out at Main Pantry"),
        "{title}"
    );
    let explanation = issue["explanation"].as_str().unwrap();
    assert!(
        explanation
            .contains("before the next delivery from Metro Wholesale could arrive (Sat 28 Nov)"),
        "{explanation}"
    );
    let proposal = &issue["proposal"];
    assert_eq!(
        (proposal["kind"].as_str(), proposal["item_id"].as_str()),
        (Some("draft_order"), Some(item.as_str())),
        "{proposal:?}"
    );
    assert!(proposal["packs"].as_i64().unwrap() >= 3, "{proposal:?}");
    let numbers = issue["numbers"].to_string();
    assert!(
        numbers.contains("On hand") && numbers.contains("\"20\""),
        "{numbers}"
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'StockIssueRaised'")
            .await,
        1
    );
    let issue_id = issue["id"].as_str().unwrap().to_string();

    // More rice goes out: the same issue, not a second one.
    ok_movement(&app, &admin, "distribute", &p.main, &rice, "2", &[]).await;
    drained(&app).await;
    let list = issues(&app, &admin, &p.main).await;
    assert_eq!(list["open"].as_array().unwrap().len(), 1);
    assert_eq!(list["open"][0]["id"], issue_id.as_str());
    assert!(
        list["open"][0]["numbers"].to_string().contains("\"18\""),
        "{:?}",
        list["open"][0]["numbers"]
    );
    // The proposal follows the stock: what accepting will draft.
    let packs = list["open"][0]["proposal"]["packs"].as_i64().unwrap();

    // Every event delivered again (a second process from the analyser's
    // checkpoint at the start): nothing new is raised or changed.
    let before: (i64, i64) = (
        app.count("select count(*) from stock_issues").await,
        app.count("select max(updated_at) from stock_issues").await,
    );
    app.sql("update consumer_checkpoints set last_seq = 0 where consumer = 'stock-analyser'")
        .await;
    let again = spawn_beside_with_clock(&app, clock.clone()).await;
    drained(&again).await;
    assert_eq!(
        (
            app.count("select count(*) from stock_issues").await,
            app.count("select max(updated_at) from stock_issues").await,
        ),
        before
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'StockIssueRaised'")
            .await,
        1
    );

    // Dismissing needs a reason; a viewer cannot act.
    let r = app
        .call(
            &admin,
            "dismiss_stock_issue",
            &[("issue", &issue_id), ("reason", " ")],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        "{:?}",
        r.body
    );
    let viewer = app
        .join(
            &admin,
            "viewer@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let seen = issues(&app, &viewer, &p.main).await;
    assert_eq!(
        (
            seen["open"].as_array().unwrap().len(),
            seen["can_act"].as_bool()
        ),
        (1, Some(false))
    );
    let r = app
        .call(&viewer, "accept_stock_issue", &[("issue", &issue_id)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // Accepting drafts the order with the proposed packs.
    let r = app
        .call(&admin, "accept_stock_issue", &[("issue", &issue_id)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let order = r.body["order_id"].as_str().unwrap().to_string();
    let o = app.call(&admin, "purchase_order", &[("id", &order)]).await;
    assert_eq!(o.body["status"], "draft", "{:?}", o.body);
    assert_eq!(o.body["lines"][0]["packs"], packs, "{:?}", o.body);
    let r = app
        .call(&admin, "accept_stock_issue", &[("issue", &issue_id)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "accepted once: {:?}",
        r.body
    );
    let list = issues(&app, &admin, &p.main).await;
    assert!(list["open"].as_array().unwrap().is_empty(), "{list:?}");
    assert_eq!(list["closed"][0]["status"], "accepted");
    assert_eq!(list["closed"][0]["order_id"], order.as_str());

    // The draft holds it: rice going out raises nothing new.
    ok_movement(&app, &admin, "distribute", &p.main, &rice, "1", &[]).await;
    drained(&app).await;
    assert!(issues(&app, &admin, &p.main).await["open"]
        .as_array()
        .unwrap()
        .is_empty());

    // Submitted and received: the shelf fills, and nothing is raised.
    let r = app
        .call(&admin, "submit_purchase_order", &[("order", &order)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let received = (packs * 10).to_string();
    let r = app
        .call_json(
            &admin,
            "receive_purchase_order",
            &json!({"order": order, "lines": [{"product": rice, "quantity": received}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, &p.main, &rice).await, 17 + packs * 10);
    drained(&app).await;
    assert!(issues(&app, &admin, &p.main).await["open"]
        .as_array()
        .unwrap()
        .is_empty());

    // A price jump past the threshold in a sync: an organization issue.
    let sync = |price: &'static str| {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            let text =
                format!("sku,description,pack_size,price\nRC-10,\"Rice, case of 10\",10,{price}\n");
            let r = app
                .call_json(
                    admin,
                    "import_supplier_catalog",
                    &json!({"supplier": metro, "name": "prices.csv", "text": text}),
                )
                .await;
            assert_eq!(r.body["status"], "done", "{:?}", r.body);
        }
    };
    sync("15.00").await;
    drained(&app).await;
    let r = app
        .call(
            &admin,
            "organization_stock_issues",
            &[("organization", &p.org)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let open = r.body["open"].as_array().unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(
        (
            open[0]["kind"].as_str(),
            open[0]["severity"].as_str(),
            open[0]["title"].as_str()
        ),
        (
            Some("price_change"),
            Some("warning"),
            Some("Metro Wholesale raised the price of RC-10 Rice, case of 10 by 25%")
        )
    );
    // A small change raises nothing more.
    sync("15.50").await;
    drained(&app).await;
    assert_eq!(
        app.count("select count(*) from stock_issues where kind = 'price_change'")
            .await,
        1
    );
    // The pantry's staff do not see the organization's prices.
    let staff = app
        .join(
            &admin,
            "staff@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = app
        .call(
            &staff,
            "organization_stock_issues",
            &[("organization", &p.org)],
        )
        .await;
    assert_eq!(r.body["open"].as_array().unwrap().len(), 0, "{:?}", r.body);
    // Dismissed with a reason, it is closed with who and why.
    let price_issue = open[0]["id"].as_str().unwrap();
    let r = app
        .call(
            &admin,
            "dismiss_stock_issue",
            &[
                ("issue", price_issue),
                ("reason", "Agreed with Metro for the year"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.count("select count(*) from stock_issues where status = 'dismissed' and dismiss_reason = 'Agreed with Metro for the year'").await,
        1
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'StockIssueDismissed'")
            .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'StockIssueAccepted'")
            .await,
        1
    );
    drop(again);
}

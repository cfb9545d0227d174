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

on_both_databases!(
    an_urgent_issue_becomes_an_order_that_fills_the_shelf,
    the_advisor_adds_words_and_never_stands_in_the_way,
);

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

/// How the test's model answers.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Good,
    Slow,
    Malformed,
}

#[derive(Clone)]
struct FakeModel {
    mode: std::sync::Arc<std::sync::Mutex<Mode>>,
    prompts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

async fn completions(
    axum::extract::State(m): axum::extract::State<FakeModel>,
    axum::Json(body): axum::Json<Value>,
) -> axum::Json<Value> {
    let prompt = body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    m.prompts.lock().unwrap().push(prompt);
    let mode = *m.mode.lock().unwrap();
    let content = match mode {
        Mode::Good => json!({"advice": "Ask Metro   whether the new price holds for a year;\nSouth Wholesale may be cheaper."}).to_string(),
        Mode::Slow => {
            tokio::time::sleep(Duration::from_secs(4)).await;
            json!({"advice": "too late"}).to_string()
        }
        Mode::Malformed => "I think you should order more rice!".to_string(),
    };
    axum::Json(
        json!({"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}),
    )
}

async fn the_advisor_adds_words_and_never_stands_in_the_way(backend: Backend) {
    let model = FakeModel {
        mode: std::sync::Arc::new(std::sync::Mutex::new(Mode::Good)),
        prompts: Default::default(),
    };
    let router = axum::Router::new()
        .route("/v1/chat/completions", axum::routing::post(completions))
        .with_state(model.clone());
    let url = format!("{}/v1", serve_on_loopback(router).await);
    let app = spawn_with(
        backend,
        &[
            ("LARDER_VISION_LLM_URL", url.as_str()),
            ("LARDER_VISION_LLM_MODEL", "advisor"),
            ("LARDER_VISION_LLM_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let metro = app
        .create(
            &admin,
            "save_supplier",
            &[("organization", &p.org), ("name", "Metro Wholesale")],
        )
        .await;
    // Three items; each sync below moves one price by half, raising one
    // price issue while the model answers well, slowly, or in prose.
    let catalog = |prices: [&str; 3]| {
        format!(
            "sku,description,pack_size,price\nA-1,Beans,24,{}\nB-1,Rice,10,{}\nC-1,Oil,6,{}\n",
            prices[0], prices[1], prices[2]
        )
    };
    let sync = |text: String| {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            let r = app
                .call_json(
                    admin,
                    "import_supplier_catalog",
                    &json!({"supplier": metro, "name": "c.csv", "text": text}),
                )
                .await;
            assert_eq!(r.body["status"], "done", "{:?}", r.body);
        }
    };
    let advice_of = |sku: &'static str| {
        let app = &app;
        async move {
            let rows: Vec<(Option<String>,)> = sqlx::query_as(&format!(
                "select advice from stock_issues where title like '%{sku}%'"
            ))
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
            assert_eq!(rows.len(), 1, "one issue for {sku}");
            rows[0].0.clone()
        }
    };
    let wait_for_prompts = |n: usize| {
        let model = model.clone();
        async move {
            for _ in 0..200 {
                if model.prompts.lock().unwrap().len() >= n {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("the model was not asked");
        }
    };
    sync(catalog(["10.00", "10.00", "10.00"])).await;

    // A good answer: kept as the issue's advice, its spaces tidied.
    sync(catalog(["15.00", "10.00", "10.00"])).await;
    wait_for_prompts(1).await;
    let mut advice = None;
    for _ in 0..200 {
        advice = advice_of("A-1").await;
        if advice.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        advice.as_deref(),
        Some("Ask Metro whether the new price holds for a year; South Wholesale may be cheaper.")
    );
    let prompt = model.prompts.lock().unwrap()[0].clone();
    assert!(
        prompt.contains("Metro Wholesale raised the price of A-1 Beans by 50%"),
        "{prompt}"
    );
    assert!(prompt.contains("Was: 10.00; Now: 15.00"), "{prompt}");
    let r = app
        .call(
            &admin,
            "organization_stock_issues",
            &[("organization", &p.org)],
        )
        .await;
    assert!(
        r.body
            .to_string()
            .contains("South Wholesale may be cheaper"),
        "{:?}",
        r.body
    );

    // Slow, then nonsense: the issue is raised all the same, without
    // advice, and the analyser goes on (the next sync's issue arrives).
    *model.mode.lock().unwrap() = Mode::Slow;
    sync(catalog(["15.00", "15.00", "10.00"])).await;
    wait_for_prompts(2).await;
    *model.mode.lock().unwrap() = Mode::Malformed;
    sync(catalog(["15.00", "15.00", "15.00"])).await;
    wait_for_prompts(3).await;
    drained(&app).await;
    assert_eq!(
        app.count("select count(*) from stock_issues where status = 'open'")
            .await,
        3
    );
    // Past the slow answer's second and the model's one-second timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(advice_of("B-1").await, None);
    assert_eq!(advice_of("C-1").await, None);
}

//! Forecasting end to end: history in, forecasts made in the background
//! (after an import, on request, nightly), read through the API and the
//! reports, with what to order.

use std::time::Duration;

use app::clock::ManualClock;
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    an_import_brings_forecasts_and_what_to_order,
    forecasts_are_made_nightly_once_and_a_stopped_run_is_taken_over,
);

/// 2026-11-20 12:00 UTC (04:00 in California).
const NOON: i64 = 1_795_176_000_000;
const DAY: i64 = 86_400_000;

/// Rice goes out every day with a weekly pattern (about 41 a week).
const WEEK: [i64; 7] = [3, 6, 7, 6, 8, 9, 2];

fn rice_on(t: i64) -> i64 {
    WEEK[t as usize % 7] + (t * 7919 % 5) - 2
}

/// Sends a request; its status and its body (JSON, or the text).
async fn send(request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let res = request.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(app: &TestApp, c: &Client, path: &str) -> (StatusCode, Value) {
    send(c.get(format!("{}{path}", app.base))).await
}

async fn post(app: &TestApp, c: &Client, path: &str) -> (StatusCode, Value) {
    send(c.post(format!("{}{path}", app.base))).await
}

/// Waits for the pantry's latest run to finish; returns it.
async fn finished_run(app: &TestApp, c: &Client, pantry: &str) -> Value {
    for _ in 0..600 {
        let r = app.call(c, "forecast_run", &[("pantry", pantry)]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        let status = r.body["status"].as_str().unwrap_or("");
        if status == "done" || status == "failed" {
            return r.body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the forecast run did not finish in a minute");
}

async fn an_import_brings_forecasts_and_what_to_order(backend: Backend) {
    let clock = ManualClock::at(NOON);
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &rice, "20", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "50", &[]).await;

    // Nothing forecast yet: said in words, not an error.
    let (status, f) = get(
        &app,
        &admin,
        &format!("/api/v1/forecasts/{rice}?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{f:?}");
    assert_eq!(f["status"], "none");
    assert!(f["message"].as_str().unwrap().contains("No forecast yet"));

    // 120 days of rice up to yesterday, 10 days of beans.
    let mut csv = String::from("date,product,quantity,pantry\n");
    for t in 0..120 {
        let day = time::OffsetDateTime::from_unix_timestamp((NOON - (120 - t) * DAY) / 1000)
            .unwrap()
            .date();
        csv.push_str(&format!("{day},Rice,{},Main Pantry\n", rice_on(t)));
        if t >= 110 {
            csv.push_str(&format!("{day},Beans,2,Main Pantry\n"));
        }
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
    // The import's event queues a run for the pantry, which the worker makes.
    let run = finished_run(&app, &admin, &p.main).await;
    assert_eq!(
        (run["status"].as_str(), run["reason"].as_str()),
        (Some("done"), Some("import")),
        "{run:?}"
    );
    assert_eq!(run["products_total"], 2);
    assert_eq!(run["products_done"], 2);
    drained(&app).await;
    assert_eq!(
        app.count("select count(*) from events where type = 'ForecastsGenerated'")
            .await,
        1
    );

    let (status, f) = get(
        &app,
        &admin,
        &format!("/api/v1/forecasts/{rice}?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{f:?}");
    assert_eq!(f["status"], "ok", "{f:?}");
    assert_eq!(f["history_days"], 120);
    let points = f["points"].as_array().unwrap();
    assert_eq!(points.len(), 28);
    let mut total = 0.0;
    for p in points {
        let v = |k: &str| p[k].as_f64().unwrap();
        assert!(v("lo95") >= 0.0 && v("lo95") <= v("lo80") && v("lo80") <= v("mean"));
        assert!(v("mean") <= v("hi80") && v("hi80") <= v("hi95"), "{p:?}");
        total += v("mean");
    }
    // The true mean is 41 a week; four weeks of it within a tenth.
    let truth: f64 = (120..148).map(|t| rice_on(t) as f64).sum();
    assert!(
        (total - truth).abs() < truth * 0.1,
        "forecast {total}, truth {truth}"
    );
    // The chart's history: the last 56 days as imported, oldest first.
    let history: Vec<f64> = f["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["quantity"].as_f64().unwrap())
        .collect();
    let imported: Vec<f64> = (64..120).map(|t| rice_on(t) as f64).collect();
    assert_eq!(history, imported);
    // The documented endpoint: the same forecast, its days as dates.
    let (status, v1) = get(
        &app,
        &admin,
        &format!("/api/v1/pantries/{}/forecasts/{rice}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v1:?}");
    let days = v1["days"].as_array().unwrap();
    assert_eq!(days.len(), points.len());
    assert_eq!(days[0]["date"], f["first_day"], "{v1:?}");
    let first = time::Date::parse(
        f["first_day"].as_str().unwrap(),
        &time::format_description::well_known::Iso8601::DATE,
    )
    .unwrap();
    assert_eq!(
        days[27]["date"].as_str().unwrap(),
        (first + time::Duration::days(27)).to_string()
    );
    for (d, p) in days.iter().zip(points) {
        assert_eq!((&d["mean"], &d["hi95"]), (&p["mean"], &p["hi95"]));
    }
    assert_eq!(v1["history"], f["history"]);
    assert_eq!(v1["model"], f["model"]);
    assert_eq!(
        v1["recommendation"]["order_quantity"],
        f["recommendation"]["order_quantity"]
    );

    // How it was chosen: every model's backtest, the winner marked.
    let (status, a) = get(
        &app,
        &admin,
        &format!("/api/v1/forecasts/{rice}/accuracy?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{a:?}");
    let models = a["models"].as_array().unwrap();
    assert!(models.len() >= 5, "{a:?}");
    let chosen: Vec<&Value> = models.iter().filter(|m| m["chosen"] == true).collect();
    assert_eq!(chosen.len(), 1);
    assert_eq!(chosen[0]["model"], a["model"]);
    assert!(a["accuracy"]["mase"].as_f64().unwrap() < 1.5, "{a:?}");
    assert_eq!(a["accuracy"]["windows"], 3);

    // Over the campus and the organization: the pantries summed, on request.
    for q in [
        format!("campus={}", p.campus),
        format!("organization={}", p.org),
    ] {
        let (status, c) = get(&app, &admin, &format!("/api/v1/forecasts/{rice}?{q}")).await;
        assert_eq!(status, StatusCode::OK, "{c:?}");
        assert_eq!(
            (c["status"].as_str(), c["pantries"].as_i64()),
            (Some("ok"), Some(2)),
            "{c:?}"
        );
        assert_eq!(c["history_days"], 120);
        let sum: f64 = c["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["mean"].as_f64().unwrap())
            .sum();
        assert!((sum - truth).abs() < truth * 0.1, "{sum} {truth}");
    }

    // What to order: 20 rice on hand is below a week's lead time of use.
    let (status, r) = get(
        &app,
        &admin,
        &format!(
            "/api/v1/reports/inventory-recommendations?pantry={}",
            p.main
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r:?}");
    let order = r["order"].as_array().unwrap();
    assert_eq!(order.len(), 1, "{r:?}");
    assert_eq!(order[0]["product_id"], rice.as_str());
    let quantity = order[0]["order_quantity"].as_f64().unwrap();
    // Up to two weeks of use plus safety stock, less the 20 on hand.
    assert!(quantity > 50.0 && quantity < 120.0, "{quantity}");
    assert_eq!(quantity, quantity.round());
    assert_eq!(order[0]["order_by"], "2026-11-20");
    let reason = order[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("/week, 20 on hand, lead time 7 days → order"),
        "{reason}"
    );
    let without = r["without"].as_array().unwrap();
    assert_eq!(without.len(), 1);
    assert_eq!(without[0][0], "Beans");
    assert!(
        without[0][1]
            .as_str()
            .unwrap()
            .contains("needs 21 days, has 10"),
        "{without:?}"
    );
    // The documented endpoint says the same, in its own flat shape.
    let (status, v1) = get(
        &app,
        &admin,
        &format!("/api/v1/pantries/{}/recommendations", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{v1:?}");
    assert_eq!(v1["order"][0]["product_id"], rice.as_str());
    assert_eq!(v1["order"][0]["order_quantity"].as_f64(), Some(quantity));
    assert_eq!(v1["order"][0]["order_by"], "2026-11-20");
    assert_eq!(v1["order"][0]["reason"], order[0]["reason"]);
    assert_eq!(v1["without_forecast"][0]["product_name"], "Beans");
    assert_eq!(v1["lead_time_days"], 7);
    assert!(v1["forecast_run"].is_string(), "{v1:?}");

    // Drafting orders from this: rice goes to the supplier that sells it,
    // at the cheaper pack per unit, rounded up to whole packs.
    let metro = app
        .create(
            &admin,
            "save_supplier",
            &[("organization", &p.org), ("name", "Metro")],
        )
        .await;
    for (sku, size, price) in [("RC-6", "6", "9.00"), ("RC-4", "4", "5.00")] {
        let r = app
            .call(
                &admin,
                "save_supplier_item",
                &[
                    ("supplier", &metro),
                    ("sku", sku),
                    ("product", &rice),
                    ("pack_size", size),
                    ("price", price),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let d = app
        .call(&admin, "draft_purchase_orders", &[("pantry", &p.main)])
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    assert_eq!(
        d.body["orders"].as_array().map(Vec::len),
        Some(1),
        "{:?}",
        d.body
    );
    let drafted = d.body["orders"][0][0].as_str().unwrap().to_string();
    let o = app
        .call(&admin, "purchase_order", &[("id", &drafted)])
        .await;
    let packs = (quantity / 4.0).ceil() as i64;
    assert_eq!(
        (
            o.body["lines"][0]["sku"].as_str(),
            o.body["lines"][0]["packs"].as_i64()
        ),
        (Some("RC-4"), Some(packs)),
        "{:?}",
        o.body
    );
    // A draft is not on order yet; once submitted it is, and what to order
    // drops by it.
    let rice_line = |r: &Value| {
        r["order"]
            .as_array()
            .unwrap()
            .iter()
            .chain(r["enough"].as_array().unwrap())
            .find(|l| l["product_id"] == rice.as_str())
            .cloned()
            .unwrap()
    };
    let recommendations = || {
        let (app, admin, main) = (&app, &admin, p.main.clone());
        async move {
            get(
                app,
                admin,
                &format!("/api/v1/reports/inventory-recommendations?pantry={main}"),
            )
            .await
            .1
        }
    };
    assert_eq!(rice_line(&recommendations().await)["on_order"], 0.0);
    let r = app
        .call(&admin, "submit_purchase_order", &[("order", &drafted)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let after = rice_line(&recommendations().await);
    assert_eq!(
        after["on_order"].as_f64(),
        Some((packs * 4) as f64),
        "{after:?}"
    );
    assert!(
        after["order_quantity"].as_f64().unwrap() < quantity,
        "{after:?}"
    );
    assert!(
        after["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{} on order", packs * 4)),
        "{after:?}"
    );
    // Cancelled, it is no longer expected.
    let r = app
        .call(&admin, "cancel_purchase_order", &[("order", &drafted)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let back = rice_line(&recommendations().await);
    assert_eq!(
        (back["on_order"].as_f64(), back["order_quantity"].as_f64()),
        (Some(0.0), Some(quantity))
    );

    // A longer lead time asks for more, at once.
    let s = app
        .call(
            &admin,
            "save_forecast_settings",
            &[
                ("pantry", &p.main),
                ("horizon_days", "28"),
                ("lead_time_days", "14"),
                ("review_days", "7"),
                ("service_level", "95"),
            ],
        )
        .await;
    assert_eq!(s.status, StatusCode::OK, "{:?}", s.body);
    let (_, r2) = get(
        &app,
        &admin,
        &format!(
            "/api/v1/reports/inventory-recommendations?pantry={}",
            p.main
        ),
    )
    .await;
    assert!(
        r2["order"][0]["order_quantity"].as_f64().unwrap() > quantity + 30.0,
        "{r2:?}"
    );
    // Bad settings change nothing.
    let bad = app
        .call(
            &admin,
            "save_forecast_settings",
            &[
                ("pantry", &p.main),
                ("horizon_days", "a month"),
                ("lead_time_days", "14"),
                ("review_days", "7"),
                ("service_level", "95"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.field(), "horizon_days");
    assert!(
        bad.message().contains("“a month” is not"),
        "{}",
        bad.message()
    );
    assert_eq!(
        app.count("select lead_time_days from forecast_settings")
            .await,
        14
    );

    // The summary: rice forecast, beans waiting for history.
    let (status, s) = get(
        &app,
        &admin,
        &format!("/api/v1/reports/forecast-summary?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{s:?}");
    let rows = s["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0]["product_name"].as_str(), rows[0]["status"].as_str()),
        (Some("Rice"), Some("ok"))
    );
    assert!((rows[0]["horizon_total"].as_f64().unwrap() - total).abs() < 1e-6);
    assert_eq!(rows[1]["status"], "not_enough_history");
    let (status, list) = get(
        &app,
        &admin,
        &format!("/api/v1/pantries/{}/forecasts", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{list:?}");
    let products = list["products"].as_array().unwrap();
    assert_eq!(
        (
            products[0]["product_id"].as_str(),
            products[1]["status"].as_str()
        ),
        (Some(rice.as_str()), Some("not_enough_history"))
    );
    assert_eq!(products[0]["horizon_total"], rows[0]["horizon_total"]);
    assert!(list["run"]["id"].is_string(), "{list:?}");

    // Asking twice queues one run; viewers read but cannot ask.
    let (status, first) = post(
        &app,
        &admin,
        &format!("/api/v1/forecasts/generate?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first:?}");
    let (status, _) = post(
        &app,
        &admin,
        &format!("/api/v1/forecasts/generate?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        app.count("select count(*) from forecast_runs where status = 'queued'")
            .await
            <= 1
    );
    assert_eq!(
        finished_run(&app, &admin, &p.main).await["reason"],
        "requested"
    );
    // Through the documented endpoint, with keys: a read-write key asks, a
    // read-only one is told it can only read.
    let key = |access: &'static str| {
        let (app, admin, main) = (&app, &admin, p.main.clone());
        async move {
            let r = app
                .call(
                    admin,
                    "create_api_key",
                    &[
                        ("scope", &format!("pantry:{main}")),
                        ("name", "Planner"),
                        ("access", access),
                    ],
                )
                .await;
            r.body["key"].as_str().unwrap().to_string()
        }
    };
    let runs = format!("{}/api/v1/pantries/{}/forecasts/runs", app.base, p.main);
    let (status, run) = send(client().post(&runs).bearer_auth(key("read_write").await)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run:?}");
    assert_eq!(run["reason"], "requested");
    let (status, e) = send(client().post(&runs).bearer_auth(key("read").await)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("can only read"),
        "{e:?}"
    );
    finished_run(&app, &admin, &p.main).await;
    let viewer = app
        .join(
            &admin,
            "viewer@example.org",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let (status, _) = post(
        &app,
        &viewer,
        &format!("/api/v1/forecasts/generate?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = get(
        &app,
        &viewer,
        &format!("/api/v1/forecasts/{rice}?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Not a member of the library pantry: it does not exist for them.
    let (status, _) = get(
        &app,
        &viewer,
        &format!("/api/v1/reports/forecast-summary?pantry={}", p.library),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad requests: said, specifically.
    let (status, e) = get(&app, &admin, &format!("/api/v1/forecasts/{rice}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(e["error"]["field"], "pantry", "{e:?}");
    assert_eq!(e["error"]["code"], "invalid");
    let (status, _) = get(
        &app,
        &admin,
        &format!("/api/v1/forecasts/not-a-product?pantry={}", p.main),
    )
    .await;
    assert!(
        status == StatusCode::NOT_FOUND || status == StatusCode::UNPROCESSABLE_ENTITY,
        "{status}"
    );
    let (status, _) = get(
        &app,
        &admin,
        &format!("/api/v1/forecasts/{rice}?pantry={}", uuid::Uuid::now_v7()),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let anonymous = client();
    let (status, _) = get(
        &app,
        &anonymous,
        &format!("/api/v1/forecasts/{rice}?pantry={}", p.main),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // The pages render for people.
    for path in [
        format!("/pantries/{}/forecasts", p.main),
        format!("/pantries/{}/forecasts/{rice}", p.main),
        format!("/pantries/{}/recommendations", p.main),
    ] {
        let (status, html) = app.get(&admin, &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            html.contains("forecast-chart") || html.contains("What to order"),
            "{path}"
        );
    }
    let (_, html) = app
        .get(&admin, &format!("/pantries/{}/recommendations", p.main))
        .await;
    assert!(html.contains("Rice") && html.contains("Not enough history (needs 21 days, has 10)"));
}

async fn forecasts_are_made_nightly_once_and_a_stopped_run_is_taken_over(backend: Backend) {
    // 01:30 in UTC, the organization's zone.
    let night = NOON - 10 * 3_600_000 - 30 * 60_000;
    let clock = ManualClock::at(night);
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let db = &app.server.state.db;
    use app::forecasts::run::{queue_nightly, run_next};
    assert_eq!(queue_nightly(db, night).await.unwrap(), 0, "not yet 02:00");
    let two = night + 30 * 60_000;
    assert_eq!(queue_nightly(db, two).await.unwrap(), 2, "each pantry once");
    assert_eq!(
        queue_nightly(db, two + 3_600_000).await.unwrap(),
        0,
        "not twice a night"
    );
    // The scheduled job wakes the worker; called by hand here, so do we.
    let wake = &app.server.state.forecast_wake;
    wake.notify_one();
    finished_run(&app, &admin, &p.main).await;
    finished_run(&app, &admin, &p.library).await;
    assert_eq!(
        app.count(
            "select count(*) from forecast_runs where reason = 'scheduled' and status = 'done'"
        )
        .await,
        2
    );
    // The next night, again.
    assert_eq!(queue_nightly(db, two + DAY).await.unwrap(), 2);
    wake.notify_one();
    finished_run(&app, &admin, &p.main).await;
    finished_run(&app, &admin, &p.library).await;

    // Finished runs are forgotten after thirty days, unless a forecast
    // came from them.
    app.sql(&format!(
        "insert into forecast_runs (id, organization_id, pantry_id, reason, status, created_at, finished_at) \
         values ('0190a000-0000-7000-8000-0000000000aa', '{}', '{}', 'scheduled', 'done', 0, 0)",
        p.org, p.main
    ))
    .await;
    let runs = app.count("select count(*) from forecast_runs").await;
    queue_nightly(db, two + DAY + 3_600_000).await.unwrap();
    assert_eq!(
        app.count("select count(*) from forecast_runs").await,
        runs - 1
    );
    assert_eq!(
        app.count(
            "select count(*) from forecast_runs where id = '0190a000-0000-7000-8000-0000000000aa'"
        )
        .await,
        0
    );

    // A run whose worker stopped (no heartbeat for ten minutes) is taken
    // over and finished.
    clock.set(two + DAY);
    app.sql(&format!(
        "insert into forecast_runs (id, organization_id, pantry_id, reason, status, created_at, started_at, heartbeat_at) \
         values ('0190a000-0000-7000-8000-000000000001', '{}', '{}', 'requested', 'running', {t}, {t}, {t})",
        p.org,
        p.main,
        t = two + DAY - 600_000
    ))
    .await;
    // Another worker may be quicker than this call; either way it is done.
    let _ = run_next(db, app.server.state.clock.as_ref()).await.unwrap();
    for _ in 0..600 {
        if app.count("select count(*) from forecast_runs where id = '0190a000-0000-7000-8000-000000000001' and status = 'done'").await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the stopped run was not taken over");
}

//! API keys and `/api/v1`: a key reads and writes only its own place, only
//! as its access allows, stops working the moment it is revoked; pages
//! follow cursors; errors have one shape; the rate limits answer 429 with
//! `Retry-After`; the OpenAPI document describes what the server does.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    keys_read_and_write_only_their_place_and_stop_when_revoked,
    distributions_of_a_period_page_by_cursor,
    the_catalog_and_a_pantrys_stock_read_page_by_page,
    visits_and_what_to_order_read_with_a_key,
    bad_requests_get_one_error_shape_and_change_nothing,
    every_state_changing_request_is_limited_per_address,
);

pub(crate) async fn make_key(
    app: &TestApp,
    admin: &Client,
    scope: &str,
    access: &str,
) -> (String, String) {
    let r = app
        .call(
            admin,
            "create_api_key",
            &[
                ("scope", scope),
                ("name", "Till export"),
                ("access", access),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (
        r.body["key"].as_str().unwrap().to_string(),
        r.body["id"].as_str().unwrap().to_string(),
    )
}

async fn api(
    app: &TestApp,
    key: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = client()
        .request(method, format!("{}{path}", app.base))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(app: &TestApp, key: &str, path: &str) -> (StatusCode, Value) {
    api(app, key, reqwest::Method::GET, path, None).await
}

async fn keys_read_and_write_only_their_place_and_stop_when_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "10",
        &[("best_before", "2027-03-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.library,
        &rice,
        "4",
        &[("best_before", "2027-03-01")],
    )
    .await;

    let (read, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read").await;
    // Only the hash is kept.
    assert_eq!(
        app.count(&format!(
            "select count(*) from api_keys where token_hash = '{read}'"
        ))
        .await,
        0
    );
    assert!(read.starts_with("lk_"));

    // Its pantry, yes; the sibling pantry is as good as not there.
    let (s, body) = get(
        &app,
        &read,
        &format!("/api/v1/pantries/{}/movements", p.main),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body:?}");
    assert_eq!(body["movements"].as_array().unwrap().len(), 1);
    assert_eq!(body["movements"][0]["quantity"], 10);
    let (s, body) = get(
        &app,
        &read,
        &format!("/api/v1/pantries/{}/movements", p.library),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{body:?}");
    assert_eq!(body["error"]["code"], "not_found");
    let (s, body) = get(&app, &read, "/api/v1/organizations").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(body["organizations"][0]["id"], p.org.as_str());
    let (_, body) = get(
        &app,
        &read,
        &format!("/api/v1/organizations/{}/places", p.org),
    )
    .await;
    let places: Vec<&str> = body["places"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        places.contains(&p.main.as_str()) && !places.contains(&p.library.as_str()),
        "{places:?}"
    );

    // A read key cannot write, and says so; nothing moves.
    let take = json!({"product_id": rice, "kind": "distributed", "quantity": 2});
    let path = format!("/api/v1/pantries/{}/movements", p.main);
    let (s, body) = api(
        &app,
        &read,
        reqwest::Method::POST,
        &path,
        Some(take.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body:?}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("can only read"));
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 10);

    // A read-write key records the movement, in the key's name.
    let (write, write_id) = make_key(
        &app,
        &admin,
        &format!("organization:{}", p.org),
        "read_write",
    )
    .await;
    let (s, body) = api(
        &app,
        &write,
        reqwest::Method::POST,
        &path,
        Some(take.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body:?}");
    assert_eq!(body["on_hand"], 8);
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 8);
    let used = app
        .count(&format!(
            "select count(*) from api_keys where id = '{write_id}' and last_used_at is not null"
        ))
        .await;
    assert_eq!(used, 1);

    // Revoked: refused on the very next request.
    let r = app
        .call(&admin, "revoke_api_key", &[("id", &write_id)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let (s, body) = api(&app, &write, reqwest::Method::POST, &path, Some(take)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body:?}");
    assert_eq!(body["error"]["code"], "unauthenticated");
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 8);
    let (s, _) = get(&app, "lk_made-up", "/api/v1/organizations").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // Keys are an admin's to make: a manager cannot, nor can a key.
    let manager = app
        .join(
            &admin,
            "max@college.example",
            "manager",
            &format!("organization:{}", p.org),
        )
        .await;
    let r = app
        .call(
            &manager,
            "create_api_key",
            &[
                ("scope", &format!("organization:{}", p.org)),
                ("name", "Mine"),
                ("access", "read"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app
        .call(&manager, "api_keys", &[("organization", &p.org)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(&admin, "api_keys", &[("organization", &p.org)])
        .await;
    assert_eq!(r.body["keys"].as_array().unwrap().len(), 2);
    assert!(
        r.body["keys"].to_string().find("lk_").is_some(),
        "the prefix is listed"
    );
    assert!(
        !r.body.to_string().contains(&read),
        "the key itself never is"
    );
}

async fn distributions_of_a_period_page_by_cursor(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "50",
        &[("best_before", "2027-03-01")],
    )
    .await;
    for _ in 0..7 {
        ok_movement(&app, &admin, "distribute", &p.main, &rice, "1", &[]).await;
    }
    let (key, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read").await;
    let mut seen = Vec::new();
    let mut path = format!(
        "/api/v1/pantries/{}/movements?kind=distributed&since=2000-01-01T00:00:00Z&limit=3",
        p.main
    );
    let mut pages = 0;
    loop {
        let (s, body) = get(&app, &key, &path).await;
        assert_eq!(s, StatusCode::OK, "{body:?}");
        pages += 1;
        for m in body["movements"].as_array().unwrap() {
            assert_eq!(m["kind"], "distributed");
            assert_eq!(m["quantity"], -1);
            seen.push(m["id"].as_str().unwrap().to_string());
        }
        match body["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/api/v1/pantries/{}/movements?kind=distributed&limit=3&cursor={c}",
                    p.main
                )
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "each distribution once");
    // A period that ended before they happened is empty.
    let (_, body) = get(
        &app,
        &key,
        &format!(
            "/api/v1/pantries/{}/movements?until=2000-01-01T00:00:00Z",
            p.main
        ),
    )
    .await;
    assert_eq!(body["movements"].as_array().unwrap().len(), 0);
    assert!(body.get("next_cursor").is_none());
}

/// Follows `next_cursor` from `first` to the end; every page's `field`.
async fn all_pages(app: &TestApp, key: &str, first: &str, field: &str) -> (usize, Vec<Value>) {
    let (mut pages, mut rows) = (0, Vec::new());
    let mut path = first.to_string();
    loop {
        let (s, body) = get(app, key, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {body:?}");
        pages += 1;
        rows.extend(body[field].as_array().unwrap().iter().cloned());
        match body["next_cursor"].as_str() {
            Some(c) => {
                let sep = if first.contains('?') { '&' } else { '?' };
                path = format!("{first}{sep}cursor={c}");
            }
            None => return (pages, rows),
        }
    }
}

async fn the_catalog_and_a_pantrys_stock_read_page_by_page(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    let flour = product(
        &app,
        &admin,
        &p.org,
        "Flour",
        &[("unit", "kg"), ("category", "Baking")],
    )
    .await;
    for i in 0..53 {
        product(&app, &admin, &p.org, &format!("Tin {i:02}"), &[]).await;
    }
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "10",
        &[("best_before", "2027-03-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &flour,
        "2.5",
        &[("best_before", "2027-05-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.library,
        &rice,
        "4",
        &[("best_before", "2027-03-01")],
    )
    .await;
    let (key, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read").await;

    // The whole catalog, once each, over two pages of 50.
    let (pages, products) = all_pages(
        &app,
        &key,
        &format!("/api/v1/organizations/{}/products", p.org),
        "products",
    )
    .await;
    assert_eq!(pages, 2);
    let mut ids: Vec<&str> = products.iter().map(|p| p["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 55, "each product once");
    let f = products.iter().find(|p| p["id"] == flour.as_str()).unwrap();
    assert_eq!(
        (f["unit"].as_str(), f["parts_per_unit"].as_i64()),
        (Some("kg"), Some(1000))
    );
    let (_, body) = get(
        &app,
        &key,
        &format!("/api/v1/organizations/{}/products?q=flo", p.org),
    )
    .await;
    assert_eq!(body["products"].as_array().unwrap().len(), 1);
    assert!(body.get("next_cursor").is_none());

    // What the pantry holds: its own stock only, in parts and as read.
    let (pages, stock) = all_pages(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/stock", p.main),
        "stock",
    )
    .await;
    assert_eq!(pages, 1);
    assert_eq!(stock.len(), 2, "{stock:?}");
    let row = |id: &str| {
        stock
            .iter()
            .find(|r| r["product_id"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(row(&rice)["on_hand"], 10);
    assert_eq!(row(&flour)["on_hand"], 2500);
    assert_eq!(row(&flour)["on_hand_text"], "2.5 kg");
    assert_eq!(row(&flour)["next_best_before"], "2027-05-01");
    let (pages, all) = all_pages(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/stock?filter=all", p.main),
        "stock",
    )
    .await;
    assert_eq!((pages, all.len()), (2, 55));

    // Wrong filters and cursors are named; another pantry is not the key's.
    let (s, body) = get(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/stock?filter=most", p.main),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "filter");
    let movement_cursor = {
        let (_, b) = get(
            &app,
            &key,
            &format!("/api/v1/pantries/{}/movements?limit=1", p.main),
        )
        .await;
        b["next_cursor"].as_str().unwrap().to_string()
    };
    let (s, body) = get(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/stock?cursor={movement_cursor}", p.main),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["field"], "cursor");
    let (s, body) = get(&app, &key, &format!("/api/v1/pantries/{}/stock", p.library)).await;
    assert!(
        matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{s} {body:?}"
    );
    assert!(!body.to_string().contains("\"on_hand\""));
}

async fn visits_and_what_to_order_read_with_a_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    for id in [&rice, &beans] {
        ok_movement(
            &app,
            &admin,
            "receive",
            &p.main,
            id,
            "30",
            &[("best_before", "2027-03-01")],
        )
        .await;
    }
    for (adults, client) in [("2", "CARD-0001"), ("1", "CARD-0002"), ("", "")] {
        let r = app
            .call_json(
                &admin,
                "record_visit",
                &json!({"visit": {
                    "pantry": p.main,
                    "adults": adults,
                    "children": "1",
                    "client_ref": client,
                    "note": "asked about baby formula",
                    "lines": [{"product": rice, "quantity": "2"}, {"product": beans, "quantity": "1"}],
                }}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let (key, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read").await;

    let (pages, visits) = all_pages(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/visits?limit=2", p.main),
        "visits",
    )
    .await;
    assert_eq!((pages, visits.len()), (2, 3));
    assert_eq!(visits[0]["adults"], 2);
    assert_eq!(visits[0]["children"], 1);
    assert!(visits[2]["adults"].is_null());
    let lines = visits[0]["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    let rice_line = lines
        .iter()
        .find(|l| l["product_id"] == rice.as_str())
        .unwrap();
    assert_eq!(rice_line["quantity"], 2);
    // Client references and notes stay on the visit's own page.
    let text = serde_json::to_string(&visits).unwrap();
    assert!(
        !text.contains("CARD-0001") && !text.contains("baby formula"),
        "{text}"
    );
    let (_, body) = get(
        &app,
        &key,
        &format!(
            "/api/v1/pantries/{}/visits?since=2100-01-01T00:00:00Z",
            p.main
        ),
    )
    .await;
    assert_eq!(body["visits"].as_array().unwrap().len(), 0);
    let (s, body) = get(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/visits", p.library),
    )
    .await;
    assert!(
        matches!(s, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{s} {body:?}"
    );

    // What to order, before any forecast: nothing yet, no run (the lines
    // themselves are checked against a real forecast in forecasts.rs).
    let (s, body) = get(
        &app,
        &key,
        &format!("/api/v1/pantries/{}/recommendations", p.main),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body:?}");
    assert_eq!(body["pantry_name"], "Main Pantry");
    for list in ["order", "enough", "without_forecast"] {
        assert_eq!(
            body[list].as_array().map(Vec::len),
            Some(0),
            "{list}: {body:?}"
        );
    }
    assert!(body.get("forecast_run").is_none(), "{body:?}");
    let (s, body) = get(&app, &key, "/api/v1/pantries/not-an-id/recommendations").await;
    assert!(
        s.is_client_error() && body["error"]["code"].is_string(),
        "{s} {body:?}"
    );

    // A till records a visit with a read-write key: the stock goes out at
    // once and the visit reads back; the read-only key may not.
    let visits = format!("/api/v1/pantries/{}/visits", p.main);
    let visit = json!({
        "lines": [{"product_id": rice, "quantity": 3}],
        "adults": 1, "seniors": 2, "client_ref": "CARD-0009",
    });
    let (s, body) = api(
        &app,
        &key,
        reqwest::Method::POST,
        &visits,
        Some(visit.clone()),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{body:?}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("can only read"));
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 24);
    let (till, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read_write").await;
    let (s, body) = api(&app, &till, reqwest::Method::POST, &visits, Some(visit)).await;
    assert_eq!(s, StatusCode::CREATED, "{body:?}");
    assert!(
        body["summary"].as_str().unwrap().contains("Rice"),
        "{body:?}"
    );
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 21);
    let (_, page) = get(&app, &key, &format!("{visits}?limit=500")).await;
    let last = page["visits"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(
        (&last["id"], &last["seniors"]),
        (&body["visit_id"], &json!(2))
    );
    // Bad visits are refused, specifically, and take nothing.
    for (bad, status, field) in [
        (
            json!({"lines": [{"product_id": rice, "quantity": 500}]}),
            StatusCode::CONFLICT,
            "lines",
        ),
        (
            json!({"lines": [{"product_id": rice, "quantity": 1.5}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "lines",
        ),
        (
            json!({"lines": [{"product_id": "rice", "quantity": 1}]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_id",
        ),
        (
            json!({"lines": [{"product_id": rice, "quantity": 1}], "adults": -1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "adults",
        ),
    ] {
        let (s, body) = api(
            &app,
            &till,
            reqwest::Method::POST,
            &visits,
            Some(bad.clone()),
        )
        .await;
        assert_eq!(
            (s, body["error"]["field"].as_str()),
            (status, Some(field)),
            "{bad}: {body:?}"
        );
    }
    let (s, body) = api(
        &app,
        &till,
        reqwest::Method::POST,
        &visits,
        Some(json!({"lines": "rice"})),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body:?}");
    assert_eq!(crate::inventory::on_hand(&app, &p.main, &rice).await, 21);
}

async fn bad_requests_get_one_error_shape_and_change_nothing(backend: Backend) {
    let app = spawn_with(backend, &[("LARDER_RATE_LIMIT_PER_KEY", "25")]).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    let (key, _) = make_key(&app, &admin, &format!("pantry:{}", p.main), "read_write").await;
    let list = format!("/api/v1/pantries/{}/movements", p.main);
    for (query, field) in [
        ("?since=yesterday", "since"),
        ("?kind=stolen", "kind"),
        ("?limit=0", "limit"),
        ("?cursor=%%%", "cursor"),
    ] {
        let (s, body) = get(&app, &key, &format!("{list}{query}")).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body:?}");
        assert_eq!(body["error"]["code"], "invalid");
        assert_eq!(body["error"]["field"], field, "{query}");
        assert!(!body["error"]["message"].as_str().unwrap().is_empty());
    }
    for (body, status, field) in [
        (
            json!({"product_id": rice, "kind": "distributed", "quantity": 1}),
            StatusCode::CONFLICT,
            None,
        ),
        (
            json!({"product_id": rice, "kind": "received", "quantity": 0}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("quantity"),
        ),
        (
            json!({"product_id": rice, "kind": "transferred", "quantity": 1}),
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("kind"),
        ),
        (json!({"kind": "received"}), StatusCode::BAD_REQUEST, None),
    ] {
        let (s, reply) = api(&app, &key, reqwest::Method::POST, &list, Some(body.clone())).await;
        assert_eq!(s, status, "{body}: {reply:?}");
        assert!(reply["error"]["code"].is_string(), "{reply:?}");
        if let Some(f) = field {
            assert_eq!(reply["error"]["field"], f, "{reply:?}");
        }
    }
    assert_eq!(app.count("select count(*) from movements").await, 0);

    // The key's quota (25 a minute here) runs out: 429, Retry-After, and
    // the same error shape.
    let mut refused = None;
    for _ in 0..40 {
        let res = client()
            .get(format!("{}/api/v1/organizations", app.base))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        if res.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(res);
            break;
        }
    }
    let res = refused.expect("the key is limited");
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");

    // The document is public, OpenAPI 3.1, and names every route served.
    let doc: Value = client()
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/api/v1/organizations",
        "/api/v1/pantries/{pantry_id}/movements",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["paths"]["/api/v1/pantries/{pantry_id}/movements"]["post"].is_object());
}

async fn every_state_changing_request_is_limited_per_address(backend: Backend) {
    let app = spawn_with(backend, &[("LARDER_RATE_LIMIT_PER_ADDRESS", "8")]).await;
    let c = client();
    // Pages and files (GET) are not counted.
    for _ in 0..12 {
        assert_eq!(app.get(&c, "/healthz").await.0, StatusCode::OK);
    }
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(app.call(&c, "session", &[]).await);
    }
    let limited: Vec<_> = statuses
        .iter()
        .filter(|r| r.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count(),
        8
    );
    assert_eq!(limited.len(), 4);
    // A server function's refusal is in the shape forms read.
    assert_eq!(limited[0].kind(), "too_many_requests");
    assert!(
        limited[0].message().contains("Wait"),
        "{}",
        limited[0].message()
    );
    assert!(limited[0].headers.contains_key("retry-after"));
}

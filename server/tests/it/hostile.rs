//! What a hostile client tried, each kept as a regression test: inputs
//! that grew caches and metrics without bound, numbers that wrapped, a
//! throttle that could be reset or turned against the account's owner, a
//! live stream that outlived its session.

use std::time::Duration;

use futures::StreamExt as _;
use reqwest::{Method, StatusCode};

use crate::helpers::*;
use crate::inventory::{movement, ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    search_and_paging_inputs_are_bounded,
    made_up_methods_share_one_metrics_label_and_metrics_are_not_public,
    quantities_and_weights_are_checked_not_wrapped,
    a_live_stream_ends_with_its_session_and_its_membership,
    the_sign_in_throttle_believes_only_listed_proxies_and_never_locks_the_owner_out,
    photo_uploads_in_flight_are_bounded_and_photos_are_served_sandboxed,
    one_history_import_at_a_time_and_its_error_file_defuses_formulas,
);

/// Every list's search text, filter and page: over-long, control
/// characters, or a page whose offset would overflow, each a 422 naming
/// the field (these were 200 with megabytes cached, or 500 from the
/// database).
async fn search_and_paging_inputs_are_bounded(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let viewer = app
        .join(
            &admin,
            "vi@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let huge = "x".repeat(1 << 20);
    let long = "ri".repeat(30_000);
    let max_page = i64::MAX.to_string();
    let stock = |field: &'static str, value: String| {
        let (app, viewer, pantry) = (&app, &viewer, p.main.clone());
        async move {
            app.call(
                viewer,
                "stock",
                &[("pantry", pantry.as_str()), (field, value.as_str())],
            )
            .await
        }
    };
    for (field, value) in [
        ("category", huge.clone()),
        ("q", long.clone()),
        ("q", "rice\0".to_string()),
        ("page", max_page.clone()),
    ] {
        let r = stock(field, value).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{field}: {:?}",
            r.body
        );
    }
    for (field, value) in [
        ("q", long.as_str()),
        ("q", "a\0b"),
        ("page", max_page.as_str()),
    ] {
        let r = app
            .call(
                &admin,
                "products",
                &[("organization", p.org.as_str()), (field, value)],
            )
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "products {field}: {:?}",
            r.body
        );
    }
    let r = app
        .call(
            &admin,
            "visits",
            &[("pantry", p.main.as_str()), ("page", &max_page)],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "page")
    );
    // The longest search allowed still works, and what it leaves in the
    // cache does not grow with the length of what was asked.
    let ok = stock("category", "c".repeat(200)).await;
    assert_eq!(ok.status, StatusCode::OK, "{:?}", ok.body);
    let before = app.server.state.stock_cache.bytes();
    for i in 0..50 {
        let r = stock("category", format!("{i:03}{}", "c".repeat(197))).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let per_answer = (app.server.state.stock_cache.bytes() - before) / 50;
    assert!(
        per_answer < 2_000,
        "{per_answer} bytes cached per empty answer"
    );
}

/// Requests with made-up methods once each added a label set to
/// `/metrics`; and `/metrics` was open to anyone on the app's address.
async fn made_up_methods_share_one_metrics_label_and_metrics_are_not_public(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = client();
    for i in 0..200 {
        let method = Method::from_bytes(format!("HOSTILE{i}").as_bytes()).unwrap();
        let res = c
            .request(method, format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
    let text = app.metrics().await;
    assert!(!text.contains("HOSTILE"), "made-up methods became labels");
    assert!(
        text.contains(
            r#"larder_http_requests_total{method="other",route="/healthz",status="405"} 200"#
        ),
        "{text}"
    );
    // Not on the app's address without a token.
    let (status, _) = app.get(&c, "/metrics").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let token = "a-metrics-token-for-tests";
    let guarded = spawn_with(backend, &[("LARDER_METRICS_TOKEN", token)]).await;
    let url = format!("{}/metrics", guarded.base);
    let res = c.get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = c
        .get(&url)
        .bearer_auth("wrong-token-of-some-length")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = c.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("larder_http_requests_total"));
}

/// A receipt's weight once wrapped to a negative number, and stock piled
/// up until `on_hand` wrapped in Rust: now each is a 422 with the largest
/// value allowed, and nothing is stored.
async fn quantities_and_weights_are_checked_not_wrapped(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let heavy = product(
        &app,
        &admin,
        &p.org,
        "Pallet",
        &[("unit_weight_g", "1000000")],
    )
    .await;
    let r = movement(&app, &admin, "receive", &p.main, &heavy, "10000000000", &[]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "quantity"),
        "{:?}",
        r.body
    );
    assert!(r.message().contains("1000000000"), "{}", r.message());
    // Within the quantity limit, but a weight no receipt can hold.
    let r = movement(&app, &admin, "receive", &p.main, &heavy, "1000000000", &[]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "quantity"),
        "{:?}",
        r.body
    );
    assert!(
        r.message().contains("record it in parts"),
        "{}",
        r.message()
    );
    assert_eq!(app.count("select count(*) from movements").await, 0);
    assert_eq!(
        app.count("select count(*) from events where type like 'Stock%'")
            .await,
        0
    );

    // A pantry's stock of one product stops at its maximum.
    let grain = product(&app, &admin, &p.org, "Grain", &[("unit", "each")]).await;
    let receipts = futures::stream::iter(0..1000)
        .map(|_| ok_movement(&app, &admin, "receive", &p.main, &grain, "1000000000", &[]))
        .buffer_unordered(8)
        .count()
        .await;
    assert_eq!(receipts, 1000);
    let r = movement(&app, &admin, "receive", &p.main, &grain, "1", &[]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "quantity"),
        "{:?}",
        r.body
    );
    assert!(
        r.message().contains("at most 1000000000000"),
        "{}",
        r.message()
    );
    assert_eq!(
        crate::inventory::on_hand(&app, &p.main, &grain).await,
        1_000_000_000_000
    );
    // The donors page adds up weights without wrapping either.
    let weights = app
        .count("select count(*) from movements where weight_g < 0")
        .await;
    assert_eq!(weights, 0);
}

/// An open live stream kept delivering stock events after its session
/// signed out, and would after a membership was removed.
async fn a_live_stream_ends_with_its_session_and_its_membership(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    let path = format!("{}/live/pantries/{}", app.base, p.main);

    // Ends when the session signs out.
    let viewer = app
        .join(
            &admin,
            "vi@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let stream = viewer.get(&path).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let r = app.call(&viewer, "sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    ok_movement(&app, &admin, "receive", &p.main, &beans, "3", &[]).await;
    let text = read_until_closed(stream).await;
    assert!(
        !text.contains("\"on_hand\":3"),
        "delivered after sign-out: {text}"
    );

    // Ends when the membership goes (here by hand: removing members is a
    // later issue's screen).
    let other = app
        .join(
            &admin,
            "vo@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let mut stream = other.get(&path).send().await.unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    ok_movement(&app, &admin, "receive", &p.main, &beans, "4", &[]).await;
    let mut text = String::new();
    while !text.contains("\"on_hand\":7") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), stream.chunk())
            .await
            .expect("an event while still a member")
            .unwrap()
            .expect("the stream is open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    app.sql(
        "delete from memberships where user_id = (select id from users where email_key = 'vo@college.example')",
    )
    .await;
    let text = read_until_closed(stream).await;
    assert!(
        !text.contains("\"on_hand\":"),
        "delivered after removal: {text}"
    );
    let _ = ok_movement(&app, &admin, "receive", &p.main, &beans, "1", &[]).await;
}

/// Reads a stream until the server ends it; fails if that takes longer
/// than the re-check interval plus the caller cache's lifetime.
async fn read_until_closed(mut stream: reqwest::Response) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Err(_) => panic!("the stream stayed open: {text}"),
            Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            Ok(_) => return text,
        }
    }
}

/// `X-Forwarded-For` from any loopback client reset the per-address limit;
/// five wrong passwords locked the owner out for 15 minutes.
async fn the_sign_in_throttle_believes_only_listed_proxies_and_never_locks_the_owner_out(
    backend: Backend,
) {
    let app = spawn_app(backend).await;
    let _admin = app.setup_admin().await;
    let sign_in = |base: String,
                   email: String,
                   password: &'static str,
                   forwarded: Option<String>| {
        async move {
            let mut req = client()
                .post(format!("{base}/api/sign_in"))
                .form(&[("email", email.as_str()), ("password", password)]);
            if let Some(f) = forwarded {
                req = req.header("x-forwarded-for", f);
            }
            let res = req.send().await.unwrap();
            let retry = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            (res.status(), retry)
        }
    };
    // A made-up X-Forwarded-For per request does not make a new client.
    for i in 0..30 {
        let (status, _) = sign_in(
            app.base.clone(),
            format!("nobody{i}@example.org"),
            "wrong password",
            Some(format!("203.0.113.{i}")),
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let (status, _) = sign_in(
        app.base.clone(),
        "nobody99@example.org".into(),
        "wrong password",
        Some("198.51.100.1".into()),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "the forwarded address reset the limit"
    );

    // The owner is slowed down by seconds, never shut out for long: five
    // wrong passwords (from a proxy we trust, so each address is real),
    // then the right one.
    let proxied = spawn_with(backend, &[("LARDER_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let _admin = proxied.setup_admin().await;
    let owner = "ada@college.example".to_string();
    let mut refused = None;
    for i in 0..5 {
        let (status, retry) = sign_in(
            proxied.base.clone(),
            owner.clone(),
            "wrong password",
            Some(format!("203.0.113.{i}")),
        )
        .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = retry;
            tokio::time::sleep(Duration::from_secs(retry.unwrap_or(1))).await;
        }
    }
    let (status, retry) = sign_in(
        proxied.base.clone(),
        owner.clone(),
        "correct horse battery",
        Some("192.0.2.50".into()),
    )
    .await;
    let status = if status == StatusCode::TOO_MANY_REQUESTS {
        let wait = retry.expect("a 429 says when to come back");
        assert!(wait <= 30, "the owner was told to wait {wait} s");
        refused = Some(wait);
        tokio::time::sleep(Duration::from_secs(wait)).await;
        sign_in(
            proxied.base.clone(),
            owner.clone(),
            "correct horse battery",
            Some("192.0.2.50".into()),
        )
        .await
        .0
    } else {
        status
    };
    assert_eq!(status, StatusCode::OK);
    assert!(
        refused.is_some(),
        "five failures in a row were not slowed down at all"
    );
}

/// Sixteen parallel 24 MB uploads once buffered 500 MB; photos were
/// served without Content-Disposition or a sandboxing policy.
async fn photo_uploads_in_flight_are_bounded_and_photos_are_served_sandboxed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    // Two uploads that declare 25 MB each and then send nothing hold
    // most of the 64 MB received at once.
    let mut senders = Vec::new();
    let mut slow = Vec::new();
    for _ in 0..2 {
        let (tx, rx) = futures::channel::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
        senders.push(tx);
        let req = admin
            .post(format!("{}/intakes/{intake}/photos", app.base))
            .header("content-type", "image/jpeg")
            .header("content-length", (25 * 1024 * 1024).to_string())
            .body(reqwest::Body::wrap_stream(rx));
        slow.push(tokio::spawn(req.send()));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = std::time::Instant::now();
    let third = crate::photos::upload(
        &app,
        &admin,
        &intake,
        vec![0u8; 20 * 1024 * 1024],
        "image/jpeg",
    )
    .await;
    assert_eq!(
        third.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        third.body
    );
    assert_eq!(third.headers["retry-after"], "5");
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "answered before waiting for room"
    );
    drop(senders);
    for s in slow {
        let _ = s.await;
    }
    // With room again, a real photo goes in, and comes back as an image
    // that cannot run anything.
    let bytes = crate::photos::photo(320, 240, &[]);
    let r = crate::photos::upload(&app, &admin, &intake, bytes, "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    for path in [
        format!("/photos/{id}/photo"),
        format!("/photos/{id}/thumbnail.jpg"),
    ] {
        let res = admin
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let h = res.headers();
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("inline; filename=\"photo-"),
            "{h:?}"
        );
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("sandbox") && csp.contains("default-src 'none'"),
            "{csp}"
        );
    }
}

/// Four of six simultaneous imports ran though only one may; the error
/// file echoed `=HYPERLINK(…)` for a spreadsheet to run.
async fn one_history_import_at_a_time_and_its_error_file_defuses_formulas(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    product(&app, &admin, &p.org, "Rice", &[]).await;
    let mut big = String::from("date,product,quantity\n");
    for i in 0..20_000 {
        big.push_str(&format!(
            "2025-{:02}-{:02},Rice,{}\n",
            1 + i % 12,
            1 + i % 28,
            1 + i % 5
        ));
    }
    let send = |body: String| {
        let (app, admin, org) = (&app, &admin, p.org.clone());
        async move {
            admin
                .post(format!(
                    "{}/api/v1/usage/import?organization={org}&name=h.csv",
                    app.base
                ))
                .header("content-type", "text/csv")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    let statuses = futures::future::join_all((0..6).map(|_| send(big.clone()))).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let busy = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((ok, busy), (1, 5), "{statuses:?}");
    // The database itself refuses a second running import.
    assert_eq!(
        app.count("select count(*) from usage_imports where status = 'running'")
            .await,
        0
    );

    let evil = "date,product,quantity\n=HYPERLINK(\"http://evil.example\"),Rice,1\n";
    let res = admin
        .post(format!(
            "{}/api/v1/usage/import?organization={}&name=e.csv",
            app.base, p.org
        ))
        .header("content-type", "text/csv")
        .body(evil)
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = res.json().await.unwrap();
    let url = body["errors_url"]
        .as_str()
        .expect("an error file")
        .to_string();
    let (status, errors) = app.get(&admin, &url).await;
    assert_eq!(status, StatusCode::OK);
    let line = errors.lines().nth(1).expect("one bad row");
    assert!(line.contains(",\"'=HYPERLINK("), "{line}");
    assert!(
        !line.contains(",\"=HYPERLINK") && !line.contains(",=HYPERLINK"),
        "{line}"
    );
}

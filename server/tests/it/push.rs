//! Web Push against a push service the test runs on loopback: the payload
//! decrypts with the subscriber's keys (RFC 8291) and carries the
//! notification; the VAPID header names the instance's key; a 503 is
//! tried again; a 410 removes the subscription; an event delivered again
//! pushes nothing twice; bad subscriptions are refused. A daily digest
//! holds a person's pushes and sends them as one at seven.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::Value;
use web_push_native::{p256, Auth};

use crate::helpers::*;
use crate::inventory::drained;
use crate::notifications::bad_file;
use crate::on_both_databases;

on_both_databases!(
    pushes_arrive_encrypted_once_and_gone_subscriptions_go,
    a_daily_digest_holds_the_pushes_until_seven_in_the_morning
);

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// What the push service received, per subscription path.
#[derive(Clone, Default)]
struct PushService {
    received: Arc<Mutex<HashMap<String, Vec<(HeaderMap, Vec<u8>)>>>>,
    /// Requests per path, answered or not.
    hits: Arc<Mutex<HashMap<String, u32>>>,
}

async fn push(
    State(s): State<PushService>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> AxumStatus {
    let hit = {
        let mut hits = s.hits.lock().unwrap();
        let n = hits.entry(path.clone()).or_default();
        *n += 1;
        *n
    };
    let status = match path.as_str() {
        "gone" => AxumStatus::GONE,
        "flaky" if hit == 1 => AxumStatus::SERVICE_UNAVAILABLE,
        _ => AxumStatus::CREATED,
    };
    if status == AxumStatus::CREATED {
        s.received
            .lock()
            .unwrap()
            .entry(path)
            .or_default()
            .push((headers, body.to_vec()));
    }
    status
}

/// A browser's subscription keys.
struct Subscriber {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Subscriber {
    fn new(seed: u8) -> Self {
        let mut bytes = [seed; 32];
        bytes[0] = 0x42;
        Self {
            secret: p256::SecretKey::from_slice(&bytes).unwrap(),
            auth: [seed ^ 0x5a; 16],
        }
    }

    fn form(&self, endpoint: &str) -> Vec<(String, String)> {
        vec![
            ("endpoint".into(), endpoint.into()),
            (
                "p256dh".into(),
                B64.encode(self.secret.public_key().to_sec1_bytes()),
            ),
            ("auth".into(), B64.encode(self.auth)),
        ]
    }

    fn open(&self, body: &[u8]) -> Value {
        let plain = web_push_native::decrypt(
            body.to_vec(),
            &self.secret,
            &Auth::clone_from_slice(&self.auth),
        )
        .expect("the payload decrypts with the subscriber's keys");
        serde_json::from_slice(&plain).unwrap()
    }
}

async fn pushes_arrive_encrypted_once_and_gone_subscriptions_go(backend: Backend) {
    let service = PushService::default();
    let router = axum::Router::new()
        .route("/push/{path}", axum::routing::post(push))
        .with_state(service.clone());
    let base = format!("{}/push", serve_on_loopback(router).await);
    let app = spawn_with(
        backend,
        &[
            ("LARDER_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32"),
            ("LARDER_PUSH_RETRY_MS", "50"),
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
    let key = app.call(&admin, "push_public_key", &[]).await;
    assert_eq!(key.status, StatusCode::OK, "{:?}", key.body);
    let public = key.body.as_str().unwrap().to_string();
    assert_eq!(
        B64.decode(&public).unwrap().len(),
        65,
        "an uncompressed P-256 point"
    );

    let send = |form: Vec<(String, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let form: Vec<(&str, &str)> =
                form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            app.call(admin, "subscribe_push", &form).await
        }
    };
    let subscribe = |who: &Subscriber, path: &str| send(who.form(&format!("{base}/{path}")));
    // Bad subscriptions are refused, each saying which part.
    let phone = Subscriber::new(1);
    let mut bad = phone.form("http://10.0.0.9/push/x");
    let r = send(bad.clone()).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "endpoint"),
        "{:?}",
        r.body
    );
    bad[0].1 = format!("{base}/ok");
    bad[1].1 = B64.encode([4u8; 65]);
    let r = send(bad.clone()).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "p256dh"),
        "{:?}",
        r.body
    );

    // Three browsers: a good one, one whose push service fails once, one
    // whose service has forgotten it.
    let (laptop, old) = (Subscriber::new(2), Subscriber::new(3));
    for (who, path) in [(&phone, "ok"), (&laptop, "flaky"), (&old, "gone")] {
        let r = subscribe(who, path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    assert_eq!(
        app.count("select count(*) from push_subscriptions").await,
        3
    );

    // A failed sync notifies the admin: pushed to each browser.
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    let arrived = |path: &'static str, n: usize| {
        let service = service.clone();
        async move {
            for _ in 0..400 {
                if service
                    .received
                    .lock()
                    .unwrap()
                    .get(path)
                    .map_or(0, Vec::len)
                    >= n
                {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
            panic!("no push reached {path}");
        }
    };
    arrived("ok", 1).await;
    arrived("flaky", 1).await;
    let (headers, body) = service.received.lock().unwrap()["ok"][0].clone();
    let message = phone.open(&body);
    assert_eq!(
        message["title"],
        "The catalog sync of Metro Wholesale failed"
    );
    assert_eq!(message["link"], format!("/suppliers/{metro}"));
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .contains("1 row needs fixing"),
        "{message:?}"
    );
    assert_eq!(headers["content-encoding"], "aes128gcm");
    let vapid = headers["authorization"].to_str().unwrap();
    assert!(
        vapid.starts_with("vapid t=") && vapid.ends_with(&format!("k={public}")),
        "{vapid}"
    );
    // The laptop's push was tried again after the 503, and decrypts too.
    assert_eq!(service.hits.lock().unwrap()["flaky"], 2);
    let (_, body) = service.received.lock().unwrap()["flaky"][0].clone();
    assert_eq!(
        laptop.open(&body)["title"],
        "The catalog sync of Metro Wholesale failed"
    );
    // The forgotten subscription is removed.
    for _ in 0..200 {
        if app.count("select count(*) from push_subscriptions").await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        app.count("select count(*) from push_subscriptions").await,
        2
    );
    assert_eq!(
        app.count("select count(*) from push_deliveries where status = 'waiting'")
            .await,
        0
    );

    // Every event delivered to the notifier again: nothing is pushed twice.
    app.sql("update consumer_checkpoints set last_seq = 0 where consumer = 'notifier'")
        .await;
    let again = spawn_beside(&app).await;
    drained(&again).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(service.received.lock().unwrap()["ok"].len(), 1);
    assert_eq!(service.hits.lock().unwrap()["ok"], 1);

    // Push off for failed syncs: the next one is only in Larder.
    let r = app
        .call(
            &admin,
            "save_notification_preferences",
            &[("sync_failed", "in_app")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(service.hits.lock().unwrap()["ok"], 1);
    assert_eq!(app.call(&admin, "unread_notifications", &[]).await.body, 2);
    // The page asks whether this browser's subscription is the signed-in
    // person's; it is not someone else's.
    let ok = format!("{base}/ok");
    let subscribed = |c: &reqwest::Client| {
        let (app, ok) = (&app, ok.clone());
        let c = c.clone();
        async move {
            app.call(&c, "push_subscribed", &[("endpoint", &ok)])
                .await
                .body
        }
    };
    assert_eq!(subscribed(&admin).await, true);
    let other = app
        .join(
            &admin,
            "kim@college.example",
            "manager",
            &format!("organization:{}", p.org),
        )
        .await;
    assert_eq!(subscribed(&other).await, false);
    // Turning push off in a browser forgets it.
    let r = app
        .call(
            &admin,
            "unsubscribe_push",
            &[("endpoint", &format!("{base}/ok"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.count("select count(*) from push_subscriptions").await,
        1
    );
    assert_eq!(subscribed(&admin).await, false);
    drop(again);
}

async fn a_daily_digest_holds_the_pushes_until_seven_in_the_morning(backend: Backend) {
    let service = PushService::default();
    let router = axum::Router::new()
        .route("/push/{path}", axum::routing::post(push))
        .with_state(service.clone());
    let base = format!("{}/push", serve_on_loopback(router).await);
    // 05:00 UTC on 2 December 2026 (the organization's zone is UTC).
    let clock = app::clock::ManualClock::at(1_796_187_600_000);
    let app = spawn_with_clock(
        backend,
        &[
            ("LARDER_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32"),
            // The digest's own task stays out of the way: the test runs it.
            ("LARDER_JOB_CHECK_SECONDS", "3600"),
        ],
        clock.clone(),
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
    let phone = Subscriber::new(3);
    let form = phone.form(&format!("{base}/digest"));
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        app.call(&admin, "subscribe_push", &form).await.status,
        StatusCode::OK
    );
    let r = app
        .call(
            &admin,
            "save_notification_preferences",
            &[("daily_digest", "on")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let received = |service: &PushService| {
        service
            .received
            .lock()
            .unwrap()
            .get("digest")
            .cloned()
            .unwrap_or_default()
    };

    // Two failures overnight: in Larder at once, pushed not yet.
    bad_file(&app, &admin, metro.clone()).await;
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    assert_eq!(app.call(&admin, "unread_notifications", &[]).await.body, 2);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(received(&service).is_empty());
    assert_eq!(app.count("select count(*) from digest_items").await, 2);
    let state = &app.server.state;
    let send = app::notifications::digest::send_due;
    assert_eq!(send(state).await.unwrap(), 0, "not before seven");

    // Past seven, two processes look at once: one digest goes.
    clock.advance(Duration::from_secs(2 * 3600 + 60));
    let (a, b) = tokio::join!(send(state), send(state));
    assert_eq!(a.unwrap() + b.unwrap(), 1);
    let mut digest = Vec::new();
    for _ in 0..100 {
        digest = received(&service);
        if !digest.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(digest.len(), 1);
    let message = phone.open(&digest[0].1);
    assert_eq!(message["title"], "Larder: 2 things since your last digest");
    assert_eq!(
        message["body"],
        "The catalog sync of Metro Wholesale failed; The catalog sync of Metro Wholesale failed."
    );
    assert_eq!(message["link"], "/notifications");
    assert_eq!(app.count("select count(*) from digest_items").await, 0);

    // Another failure the same day waits for tomorrow's digest.
    bad_file(&app, &admin, metro.clone()).await;
    drained(&app).await;
    assert_eq!(app.count("select count(*) from digest_items").await, 1);
    assert_eq!(send(state).await.unwrap(), 0);
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(send(state).await.unwrap(), 1);
    for _ in 0..100 {
        if received(&service).len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = received(&service);
    assert_eq!(all.len(), 2);
    assert_eq!(
        phone.open(&all[1].1)["title"],
        "Larder: 1 thing since your last digest"
    );

    // Signing out of the session push was turned on in forgets this
    // browser: a shared computer does not show the last person's pushes.
    assert_eq!(
        app.count("select count(*) from push_subscriptions").await,
        1
    );
    let r = app.call(&admin, "sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.count("select count(*) from push_subscriptions").await,
        0
    );
}

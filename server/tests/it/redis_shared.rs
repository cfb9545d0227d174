//! Replicas sharing through a real Redis server (Debian's, started by the
//! test): the sign-in throttle and an API key's quota count across
//! replicas, a sign-out on one replica is honoured by the other at once,
//! and while Redis is away every replica goes on, counting alone.

use reqwest::StatusCode;

use crate::helpers::*;

const ADMIN_EMAIL: &str = "ada@college.example";

async fn wrong_password(app: &TestApp) -> StatusCode {
    app.call(
        &client(),
        "sign_in",
        &[("email", ADMIN_EMAIL), ("password", "wrong password")],
    )
    .await
    .status
}

async fn api_get(app: &TestApp, key: &str, path: &str) -> StatusCode {
    client()
        .get(format!("{}{path}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_the_throttle_the_limits_and_sign_outs_through_redis() {
    let mut redis = RedisServer::start().await;
    let a = spawn_with(
        Backend::Postgres,
        &[
            ("LARDER_REDIS_URL", &redis.url),
            ("LARDER_RATE_LIMIT_PER_KEY", "4"),
        ],
    )
    .await;
    let b = spawn_beside(&a).await;
    let admin = a.setup_admin().await;
    let p = build_places(&a, &admin).await;
    let (status, body) = a.get(&client(), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"limits\":\"redis\""), "{body}");

    // Five failures in a row, spread over both replicas: the next attempt
    // waits, on either. (Each replica alone saw too few to slow down.)
    for app in [&a, &b, &a, &b, &a] {
        assert_eq!(wrong_password(app).await, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(wrong_password(&b).await, StatusCode::TOO_MANY_REQUESTS);

    // An API key's quota (4 a minute) is one count across replicas.
    let (key, _) =
        crate::identity::api::make_key(&a, &admin, &format!("pantry:{}", p.main), "read").await;
    let path = format!("/api/v1/pantries/{}/stock", p.main);
    for app in [&a, &b, &a, &b] {
        assert_eq!(api_get(app, &key, &path).await, StatusCode::OK);
    }
    assert_eq!(
        api_get(&b, &key, &path).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        api_get(&a, &key, &path).await,
        StatusCode::TOO_MANY_REQUESTS
    );

    // A session used on B (and cached there) ends on B the moment it is
    // signed out through A, not when B's cache would have let it go.
    let staff = a
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    assert_eq!(
        b.call(&staff, "notifications", &[]).await.status,
        StatusCode::OK
    );
    assert_eq!(a.call(&staff, "sign_out", &[]).await.status, StatusCode::OK);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    loop {
        let status = b.call(&staff, "notifications", &[]).await.status;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "B still served a signed-out session: {status}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(metric(&b.metrics().await, "larder_redis_forgets_received_total") >= 1.0);

    // Redis goes away: every request still gets an answer, each replica
    // counts alone, readiness says so and stays ready.
    redis.stop();
    for app in [&a, &b] {
        let (status, body) = app.get(&client(), "/readyz").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.contains("redis unreachable"), "{body}");
        assert_eq!(
            app.call(&admin, "notifications", &[]).await.status,
            StatusCode::OK
        );
    }
    for _ in 0..4 {
        assert_eq!(api_get(&b, &key, &path).await, StatusCode::OK);
    }
    assert_eq!(
        api_get(&b, &key, &path).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert!(metric(&b.metrics().await, "larder_redis_fallbacks_total") >= 1.0);

    // Back: shared again (the key's count there has run out already).
    redis.resume().await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, body) = a.get(&client(), "/readyz").await;
        if body.contains("\"limits\":\"redis\"") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{body}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(api_get(&a, &key, &path).await, StatusCode::OK);
}

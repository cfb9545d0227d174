//! The sign-in pool's admin screens against moto's Cognito emulator on
//! loopback, driven through Larder's real AWS SDK client.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(the_site_admin_manages_the_pool_and_aws_errors_read_plainly);

impl Moto {
    /// One Cognito call, as the AWS JSON protocol sends it (moto checks no
    /// signature; the credential scope tells it the service).
    async fn call(&self, action: &str, body: Value) -> Value {
        let res = reqwest::Client::new()
            .post(&self.url)
            .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{action}"))
            .header("content-type", "application/x-amz-json-1.1")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_success(),
            "{action}: {}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }
}

/// A pool user by username. (moto's "resend invitation" makes the user
/// afresh without their attributes, so later looks go by username.)
fn user<'a>(pool: &'a Value, username: &str) -> &'a Value {
    pool["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {pool:?}"))
}

async fn the_site_admin_manages_the_pool_and_aws_errors_read_plainly(backend: Backend) {
    let moto = Moto::start().await;
    let pool_id = moto
        .call("CreateUserPool", json!({"PoolName": "larder"}))
        .await["UserPool"]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    for group in ["pantry-staff", "coordinators"] {
        moto.call(
            "CreateGroup",
            json!({"UserPoolId": pool_id, "GroupName": group}),
        )
        .await;
    }
    moto.call(
        "AdminCreateUser",
        json!({
            "UserPoolId": pool_id,
            "Username": "gia",
            "UserAttributes": [{"Name": "email", "Value": "gia@college.example"}, {"Name": "name", "Value": "Gia"}],
        }),
    )
    .await;
    let app = spawn_with(
        backend,
        &[
            ("LARDER_COGNITO_USER_POOL_ID", &pool_id),
            ("LARDER_COGNITO_REGION", "us-east-1"),
            ("LARDER_COGNITO_ENDPOINT_URL", &moto.url),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;

    let pool = app.call(&admin, "pool", &[]).await;
    assert_eq!(pool.status, StatusCode::OK, "{:?}", pool.body);
    let gia = user(&pool.body, "gia");
    assert_eq!(gia["email"], "gia@college.example");
    assert_eq!(gia["name"], "Gia");
    assert_eq!(gia["status"], "FORCE_CHANGE_PASSWORD");
    assert_eq!(gia["enabled"], true);
    let mut groups: Vec<&str> = pool.body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_str().unwrap())
        .collect();
    groups.sort();
    assert_eq!(groups, ["coordinators", "pantry-staff"]);

    // Into a group and out again, as AWS then reports it.
    let r = app
        .call(
            &admin,
            "pool_group",
            &[
                ("username", "gia"),
                ("group", "pantry-staff"),
                ("add", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let pool = app.call(&admin, "pool", &[]).await;
    assert_eq!(user(&pool.body, "gia")["groups"], json!(["pantry-staff"]));
    let r = app
        .call(
            &admin,
            "pool_group",
            &[
                ("username", "gia"),
                ("group", "pantry-staff"),
                ("add", "false"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        user(&app.call(&admin, "pool", &[]).await.body, "gia")["groups"],
        json!([])
    );

    // Disabled, then enabled again; the invitation sent again.
    let r = app
        .call(
            &admin,
            "pool_enabled",
            &[("username", "gia"), ("enabled", "false")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        user(&app.call(&admin, "pool", &[]).await.body, "gia")["enabled"],
        false
    );
    app.call(
        &admin,
        "pool_enabled",
        &[("username", "gia"), ("enabled", "true")],
    )
    .await;
    assert_eq!(
        user(&app.call(&admin, "pool", &[]).await.body, "gia")["enabled"],
        true
    );
    let r = app
        .call(&admin, "pool_resend", &[("username", "gia")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // AWS's refusals, in words.
    let r = app
        .call(
            &admin,
            "pool_group",
            &[
                ("username", "nobody"),
                ("group", "pantry-staff"),
                ("add", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert!(
        r.message().contains("not in the user pool"),
        "{}",
        r.message()
    );
    let r = app
        .call(
            &admin,
            "pool_group",
            &[
                ("username", "gia"),
                ("group", "no-such-group"),
                ("add", "true"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert!(r.message().contains("does not exist"), "{}", r.message());

    // Only the site administrator.
    let p = build_places(&app, &admin).await;
    let org_admin = app
        .join(
            &admin,
            "oda@college.example",
            "admin",
            &format!("organization:{}", p.org),
        )
        .await;
    assert_eq!(
        app.call(&org_admin, "pool", &[]).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .call(
            &org_admin,
            "pool_enabled",
            &[("username", "gia"), ("enabled", "false")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        user(&app.call(&admin, "pool", &[]).await.body, "gia")["enabled"],
        true
    );

    // A pool id AWS does not know.
    let wrong = spawn_with(
        backend,
        &[
            ("LARDER_COGNITO_USER_POOL_ID", "us-east-1_NoSuchPool"),
            ("LARDER_COGNITO_REGION", "us-east-1"),
            ("LARDER_COGNITO_ENDPOINT_URL", &moto.url),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
    .await;
    let r = wrong.call(&wrong.setup_admin().await, "pool", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert!(r.message().contains("does not exist"), "{}", r.message());
    // And none at all.
    let none = spawn_app(backend).await;
    let r = none.call(&none.setup_admin().await, "pool", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.message().contains("LARDER_COGNITO_USER_POOL_ID"),
        "{}",
        r.message()
    );
}

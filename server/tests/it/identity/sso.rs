//! Single sign-on against the test issuer: the whole redirect dance, the
//! accounts it signs in to, and each way an answer is refused.

use reqwest::{Client, StatusCode};

use super::issuer::{Behaviour, Issuer};
use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    sso_signs_in_by_invitation_or_verified_email_only,
    sso_refuses_bad_tokens_states_and_codes,
);

fn browser() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_string()
}

/// The app's own address for a URL under the public URL.
fn local(app: &TestApp, url: &str) -> String {
    format!("{}{}", app.base, url.trim_start_matches(PUBLIC_URL))
}

/// Goes to the pool and back; returns the callback URL (on this app).
async fn to_pool_and_back(app: &TestApp, b: &Client) -> String {
    let res = b
        .get(format!("{}/auth/sso?next=/account", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "{:?}",
        res.text().await
    );
    let authorize = location(&res);
    let res = b.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "the issuer approves");
    local(app, &location(&res))
}

/// Follows the callback; returns where Larder sent the browser.
async fn callback(b: &Client, url: &str) -> String {
    let res = b.get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    location(&res)
}

async fn sso(app: &TestApp) -> (Client, String) {
    let b = browser();
    let back = to_pool_and_back(app, &b).await;
    let landed = callback(&b, &back).await;
    (b, landed)
}

async fn spawn(backend: Backend, issuer: &Issuer) -> TestApp {
    let env = issuer.env();
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    spawn_with(backend, &vars).await
}

async fn sso_signs_in_by_invitation_or_verified_email_only(backend: Backend) {
    let issuer = Issuer::start().await;
    let app = spawn(backend, &issuer).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let session = app.call(&client(), "session", &[]).await;
    assert_eq!(session.body["sso_label"], "Sign in with Google");

    // Nobody invited this address, and sign-up is closed: no account.
    issuer.behave(Behaviour::person("google-gia", "gia@college.example"));
    let (_, landed) = sso(&app).await;
    assert_eq!(landed, "/sign-in?sso=no_account");
    assert_eq!(app.count("select count(*) from users").await, 1);

    // Invited: the sign-in creates the account and accepts the invitation.
    app.invite(
        &admin,
        "Gia@College.example",
        "staff",
        &format!("pantry:{}", p.main),
    )
    .await;
    let (gia, landed) = sso(&app).await;
    assert_eq!(landed, "/account", "back where the sign-in started");
    let me = app.call(&gia, "account", &[]).await;
    assert_eq!(me.status, StatusCode::OK, "{:?}", me.body);
    assert_eq!(me.body["me"]["email"], "gia@college.example");
    assert_eq!(
        me.body["organizations"][0]["roles"][0]
            .as_str()
            .unwrap()
            .starts_with("Staff"),
        true
    );
    assert!(me.body["sign_in_methods"].to_string().contains("Google"));
    assert_eq!(
        app.call(&gia, "pantry", &[("id", &p.main)]).await.status,
        StatusCode::OK
    );
    // No password works for an account made by single sign-on.
    let r = app
        .call(
            &client(),
            "sign_in",
            &[("email", "gia@college.example"), ("password", "!")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The same subject again: the same account, linked by subject.
    issuer.behave(Behaviour {
        email: "gia.renamed@college.example".into(),
        ..Behaviour::person("google-gia", "gia@college.example")
    });
    let (again, _) = sso(&app).await;
    assert_eq!(
        app.call(&again, "account", &[]).await.body["me"]["email"],
        "gia@college.example"
    );
    assert_eq!(app.count("select count(*) from users").await, 2);

    // An existing local account links by verified email only.
    issuer.behave(Behaviour {
        email_verified: false,
        ..Behaviour::person("google-ada", "ada@college.example")
    });
    let (_, landed) = sso(&app).await;
    assert_eq!(landed, "/sign-in?sso=unverified");
    issuer.behave(Behaviour::person("google-ada", "ada@college.example"));
    let (ada, _) = sso(&app).await;
    assert_eq!(
        app.call(&ada, "account", &[]).await.body["me"]["is_site_admin"],
        true
    );
    assert_eq!(app.count("select count(*) from oidc_identities").await, 2);

    // Signing out of a single sign-on session also ends the pool's.
    let out = app.call(&ada, "sign_out", &[]).await;
    assert_eq!(out.status, StatusCode::OK);
    let logout = out
        .body
        .as_str()
        .expect("the pool's logout address")
        .to_string();
    assert!(
        logout.starts_with(&format!("{}/logout?client_id=", issuer.base)),
        "{logout}"
    );
    assert!(
        logout.contains("logout_uri=http%3A%2F%2Flarder.test%2Fsign-in"),
        "{logout}"
    );
    assert_eq!(
        app.call(&ada, "account", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // A password session's sign-out stays local.
    assert_eq!(
        app.call(&admin, "sign_out", &[]).await.body,
        serde_json::Value::Null
    );
    assert_eq!(
        app.count("select count(*) from sign_ins where method = 'oidc' and succeeded = 1")
            .await,
        3
    );
}

async fn sso_refuses_bad_tokens_states_and_codes(backend: Backend) {
    let issuer = Issuer::start().await;
    let app = spawn(backend, &issuer).await;
    let admin = app.setup_admin().await;
    let _ = admin;
    let ada = || Behaviour::person("google-ada", "ada@college.example");
    let cases: Vec<(Behaviour, &str)> = vec![
        (
            Behaviour {
                stranger_key: true,
                ..ada()
            },
            "signature",
        ),
        (
            Behaviour {
                audience: "someone-else".into(),
                ..ada()
            },
            "audience",
        ),
        (
            Behaviour {
                expires_in: -3600,
                ..ada()
            },
            "expired",
        ),
        (
            Behaviour {
                token_use: "access".into(),
                ..ada()
            },
            "token",
        ),
        (
            Behaviour {
                nonce: Some("a-replayed-token".into()),
                ..ada()
            },
            "token",
        ),
    ];
    for (behaviour, code) in cases {
        issuer.behave(behaviour.clone());
        let (b, landed) = sso(&app).await;
        assert_eq!(landed, format!("/sign-in?sso={code}"), "{behaviour:?}");
        assert_eq!(
            app.call(&b, "account", &[]).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app.count("select count(*) from sessions").await,
        1,
        "only the admin's"
    );

    // A good sign-in; then its callback once more (a replayed state), and
    // its code with a fresh state (a reused code): both refused.
    issuer.behave(ada());
    let b = browser();
    let back = to_pool_and_back(&app, &b).await;
    assert_eq!(callback(&b, &back).await, "/account");
    assert_eq!(callback(&b, &back).await, "/sign-in?sso=state");
    let fresh = to_pool_and_back(&app, &b).await;
    let code = back
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let fresh_code = fresh
        .split("code=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let reused = fresh.replace(fresh_code, code);
    assert_eq!(callback(&b, &reused).await, "/sign-in?sso=code");

    // A callback in another browser than the one that started: refused.
    let started = browser();
    let back = to_pool_and_back(&app, &started).await;
    assert_eq!(callback(&browser(), &back).await, "/sign-in?sso=state");

    // The pool refusing (the person cancelled): said so.
    let b = browser();
    let back = to_pool_and_back(&app, &b).await;
    let state = back.split("state=").nth(1).unwrap();
    let cancelled = format!(
        "{}/auth/callback?error=access_denied&state={state}",
        app.base
    );
    assert_eq!(callback(&b, &cancelled).await, "/sign-in?sso=provider");

    // An unknown key id fetches the keys again, at most once a minute.
    let before = issuer.jwks_fetches();
    issuer.behave(Behaviour {
        kid: "rotated-key".into(),
        ..ada()
    });
    assert_eq!(sso(&app).await.1, "/sign-in?sso=signature");
    assert_eq!(sso(&app).await.1, "/sign-in?sso=signature");
    assert!(
        issuer.jwks_fetches() - before <= 1,
        "{} fetches",
        issuer.jwks_fetches() - before
    );
    // The known key still works without a fetch.
    issuer.behave(ada());
    let fetched = issuer.jwks_fetches();
    assert_eq!(sso(&app).await.1, "/account");
    assert_eq!(issuer.jwks_fetches(), fetched);
}

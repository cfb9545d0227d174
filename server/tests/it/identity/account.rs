//! One's own account: password changes end the other sessions, "sign out
//! everywhere else", an admin's one-time reset link, sign-in records, and
//! a session token the server chose at every sign-in.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    a_password_change_needs_the_current_one_and_ends_other_sessions,
    an_admin_reset_link_works_once_for_a_day,
    every_sign_in_gets_a_fresh_token_and_a_record,
);

const PASSWORD: &str = "correct horse battery";

async fn a_password_change_needs_the_current_one_and_ends_other_sessions(backend: Backend) {
    let app = spawn_app(backend).await;
    let here = app.setup_admin().await;
    let laptop = app.sign_in("ada@college.example", PASSWORD).await;
    let r = app.call(&here, "account", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let sessions = r.body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    assert_eq!(r.body["me"]["email"], "ada@college.example");

    let r = app
        .call(
            &here,
            "change_password",
            &[
                ("current", "wrong password here"),
                ("password", "a new long password"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field(), "current");
    let r = app
        .call(
            &here,
            "change_password",
            &[("current", PASSWORD), ("password", "short")],
        )
        .await;
    assert_eq!(r.field(), "password");
    // Neither changed anything: the laptop is still signed in.
    assert_eq!(
        app.call(&laptop, "account", &[]).await.status,
        StatusCode::OK
    );

    let r = app
        .call(
            &here,
            "change_password",
            &[("current", PASSWORD), ("password", "a new long password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.call(&laptop, "account", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.call(&here, "account", &[]).await.status, StatusCode::OK);
    let old = app
        .call(
            &client(),
            "sign_in",
            &[("email", "ada@college.example"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(old.status, StatusCode::UNPROCESSABLE_ENTITY);
    let phone = app
        .sign_in("ada@college.example", "a new long password")
        .await;

    // Sign out everywhere else: the phone goes, this browser stays.
    let r = app.call(&here, "sign_out_elsewhere", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, 1);
    assert_eq!(
        app.call(&phone, "account", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.call(&here, "account", &[]).await.status, StatusCode::OK);

    // The name is one's own to change, and checked.
    let r = app.call(&here, "rename_me", &[("name", "  ")]).await;
    assert_eq!(r.field(), "name");
    let r = app
        .call(&here, "rename_me", &[("name", "Ada Lovelace")])
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        app.call(&here, "account", &[]).await.body["me"]["display_name"],
        "Ada Lovelace"
    );
}

async fn an_admin_reset_link_works_once_for_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let people = app
        .call(&admin, "people", &[("organization", &p.org)])
        .await;
    let membership = |email: &str| {
        people.body["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .unwrap()["membership_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let sam_id = membership("sam@college.example");
    // Staff cannot make links for others.
    let r = app
        .call(
            &sam,
            "create_reset_link",
            &[("membership", &membership("ada@college.example"))],
        )
        .await;
    assert!(
        matches!(r.status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
        "{:?}",
        r.body
    );

    let r = app
        .call(&admin, "create_reset_link", &[("membership", &sam_id)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let token = r.body["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        app.count(&format!(
            "select count(*) from password_resets where token_hash = '{token}'"
        ))
        .await,
        0
    );

    let offer = app
        .call(&client(), "password_reset", &[("token", &token)])
        .await;
    assert_eq!(offer.body["email"], "sam@college.example");
    let stranger = client();
    let r = app
        .call(
            &stranger,
            "reset_password",
            &[("token", &token), ("password", "short")],
        )
        .await;
    assert_eq!(r.field(), "password");
    let r = app
        .call(
            &stranger,
            "reset_password",
            &[("token", &token), ("password", "a brand new password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // The one who followed the link is signed in; Sam's old session is over.
    assert_eq!(
        app.call(&stranger, "account", &[]).await.body["me"]["email"],
        "sam@college.example"
    );
    assert_eq!(
        app.call(&sam, "account", &[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.sign_in("sam@college.example", "a brand new password")
        .await;

    // Once only.
    let r = app
        .call(
            &client(),
            "reset_password",
            &[("token", &token), ("password", "another new password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.message().contains("used or has expired"),
        "{}",
        r.message()
    );
    // And for a day only.
    let r = app
        .call(&admin, "create_reset_link", &[("membership", &sam_id)])
        .await;
    let late = r.body["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    app.sql("update password_resets set expires_at = 1 where used_at is null")
        .await;
    let r = app
        .call(
            &client(),
            "reset_password",
            &[("token", &late), ("password", "another new password")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    app.sign_in("sam@college.example", "a brand new password")
        .await;
}

async fn every_sign_in_gets_a_fresh_token_and_a_record(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    // A token planted before sign-in (session fixation) is never adopted.
    let planted = "planted-token-chosen-by-someone-else-0000000";
    let res = client()
        .post(format!("{}/api/sign_in", app.base))
        .header("cookie", format!("larder_session={planted}"))
        .form(&[("email", "ada@college.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.starts_with("larder_session="), "{cookie}");
    assert!(!cookie.contains(planted));
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let failed = app
        .call(
            &client(),
            "sign_in",
            &[
                ("email", "ada@college.example"),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);
    app.call(
        &client(),
        "sign_in",
        &[
            ("email", "nobody@college.example"),
            ("password", "not the password"),
        ],
    )
    .await;
    assert_eq!(app.count("select count(*) from sign_ins where succeeded = 1 and method = 'password' and user_id is not null").await, 1);
    assert_eq!(
        app.count("select count(*) from sign_ins where succeeded = 0 and user_id is not null")
            .await,
        1
    );
    assert_eq!(app.count("select count(*) from sign_ins where succeeded = 0 and user_id is null and email = 'nobody@college.example'").await, 1);
    assert_eq!(
        app.count("select count(*) from sign_ins where client_ip = '127.0.0.1'")
            .await,
        3
    );
}

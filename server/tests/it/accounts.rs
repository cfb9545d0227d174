//! First-start setup, signing in and out, sessions, throttling and
//! invitations.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    setup_creates_the_first_admin_once_and_checks_every_field,
    the_first_admin_can_come_from_configuration,
    sign_in_failures_are_specific_and_throttled,
    sessions_expire_and_signing_out_ends_them,
    invitations_work_once_for_the_invited_address,
    an_existing_account_joins_by_signing_in,
    open_sign_up_is_off_unless_configured,
);

async fn open_sign_up_is_off_unless_configured(backend: Backend) {
    let form = [
        ("name", "Pat"),
        ("email", "pat@college.example"),
        ("password", "a long password"),
    ];
    let closed = spawn_app(backend).await;
    closed.setup_admin().await;
    let r = closed.call(&client(), "sign_up", &form).await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::FORBIDDEN,
            "Sign-up is closed on this Larder. Ask an admin for an invitation."
        )
    );
    assert_eq!(closed.count("select count(*) from users").await, 1);
    assert!(!closed
        .get(&client(), "/sign-in")
        .await
        .1
        .contains(r#"href="/sign-up""#));

    let open = spawn_with(backend, &[("LARDER_OPEN_SIGNUP", "true")]).await;
    let early = open.call(&client(), "sign_up", &form).await;
    assert_eq!(
        early.status,
        StatusCode::FORBIDDEN,
        "the first account still comes from setup"
    );
    open.setup_admin().await;
    let (status, page) = open.get(&client(), "/sign-in").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains(r#"href="/sign-up""#),
        "the sign-in page offers sign-up when it is open"
    );
    let (status, page) = open.get(&client(), "/sign-up").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Create an account") && page.contains(r#"name="password""#));
    let c = client();
    let r = open.call(&c, "sign_up", &form).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let overview = open.call(&c, "overview", &[]).await;
    assert_eq!(
        overview.body["organizations"].as_array().unwrap().len(),
        0,
        "a new account sees nothing"
    );
    let again = open.call(&client(), "sign_up", &form).await;
    assert_eq!(
        (again.status, again.field()),
        (StatusCode::CONFLICT, "email")
    );
}

async fn setup_creates_the_first_admin_once_and_checks_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let c = client();
    let good = [
        ("code", SETUP_CODE),
        ("name", "Ada Admin"),
        ("email", "ada@college.example"),
        ("password", "correct horse battery"),
    ];
    let with = |k: &str, v: &'static str| {
        good.iter()
            .map(|(a, b)| (*a, if *a == k { v } else { *b }))
            .collect::<Vec<_>>()
    };

    for (field, value, message) in [
        ("code", "", "Enter the setup code from the server log."),
        ("code", "AAAA-BBBB-CCCC", "That setup code is not right. Copy it from the server log, where it was printed at start-up."),
        ("name", "   ", "Enter your name."),
        ("email", "ada@", "“ada@” is not an email address like name@example.org."),
        ("password", "short", "Use at least 10 characters (you typed 5)."),
    ] {
        let r = app.call(&c, "setup", &with(field, value)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {:?}", r.body);
        assert_eq!(r.field(), field);
        assert_eq!(r.message(), message);
    }
    assert_eq!(
        app.count("select count(*) from users").await,
        0,
        "bad input changed nothing"
    );

    let r = app.call(&c, "setup", &good).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let cookie = r.headers.get("set-cookie").unwrap().to_str().unwrap();
    assert!(cookie.starts_with("larder_session="), "{cookie}");
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && !cookie.contains("Secure"),
        "{cookie}"
    );
    let session = app.call(&c, "session", &[]).await;
    assert_eq!(session.body["me"]["display_name"], "Ada Admin");
    assert_eq!(session.body["me"]["is_site_admin"], true);
    assert_eq!(session.body["setup_open"], false);

    let again = app.call(&client(), "setup", &good).await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert_eq!(
        again.message(),
        "This Larder is already set up. Sign in instead."
    );
    assert_eq!(app.count("select count(*) from users").await, 1);
    // Only a hash of the password is stored.
    assert_eq!(
        app.count("select count(*) from users where password_hash like '$argon2id$%'")
            .await,
        1
    );
}

async fn the_first_admin_can_come_from_configuration(backend: Backend) {
    let app = spawn_with(
        backend,
        &[
            ("LARDER_ADMIN_EMAIL", "root@college.example"),
            ("LARDER_ADMIN_PASSWORD", "configured password"),
        ],
    )
    .await;
    let c = app
        .sign_in("root@college.example", "configured password")
        .await;
    let r = app.call(&c, "session", &[]).await;
    assert_eq!(r.body["me"]["is_site_admin"], true);
    assert_eq!(r.body["setup_open"], false);
    let setup = app
        .call(
            &client(),
            "setup",
            &[
                ("code", SETUP_CODE),
                ("name", "Eve"),
                ("email", "eve@college.example"),
                ("password", "another password"),
            ],
        )
        .await;
    assert_eq!(setup.status, StatusCode::FORBIDDEN);
}

async fn sign_in_failures_are_specific_and_throttled(backend: Backend) {
    let app = spawn_app(backend).await;
    app.setup_admin().await;
    let c = client();
    let r = app
        .call(&c, "sign_in", &[("email", ""), ("password", "x")])
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email")
    );
    let r = app
        .call(
            &c,
            "sign_in",
            &[("email", "ada@college.example"), ("password", "")],
        )
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "Enter your password.")
    );
    // Unknown accounts and wrong passwords read the same.
    let unknown = app
        .call(
            &c,
            "sign_in",
            &[
                ("email", "who@college.example"),
                ("password", "whatever it is"),
            ],
        )
        .await;
    assert_eq!(
        unknown.message(),
        "That email and password do not match an account."
    );

    for _ in 0..5 {
        let r = app
            .call(
                &c,
                "sign_in",
                &[
                    ("email", "ADA@college.example"),
                    ("password", "wrong password"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            r.message(),
            "That email and password do not match an account."
        );
    }
    let locked = app
        .call(
            &c,
            "sign_in",
            &[
                ("email", "ada@college.example"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        locked.body
    );
    // Slowed down, not locked out: five failures in a row cost the next
    // attempt a second.
    let retry: u64 = locked
        .headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(
        locked.message(),
        format!(
            "Too many failed sign-in attempts. Try again in {retry} second{}.",
            if retry == 1 { "" } else { "s" }
        )
    );
    assert!(locked.headers.get("set-cookie").is_none());
    tokio::time::sleep(std::time::Duration::from_secs(retry)).await;
    let r = app
        .call(
            &c,
            "sign_in",
            &[
                ("email", "ada@college.example"),
                ("password", "correct horse battery"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Another account is not slowed down by it.
    let other = app
        .call(
            &c,
            "sign_in",
            &[
                ("email", "who@college.example"),
                ("password", "whatever it is"),
            ],
        )
        .await;
    assert_eq!(other.status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn sessions_expire_and_signing_out_ends_them(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    assert_eq!(
        app.call(&admin, "overview", &[]).await.status,
        StatusCode::OK
    );

    // A session in use slides forward, cookie included.
    app.sql("update sessions set last_seen_at = 0").await;
    // Changed behind the server's back, as another process would; this
    // process would notice within the caller cache's TTL, so say it now.
    app.server.state.callers.forget_all();
    let r = app.call(&admin, "overview", &[]).await;
    let cookie = r
        .headers
        .get("set-cookie")
        .expect("a refreshed cookie")
        .to_str()
        .unwrap();
    assert!(
        cookie.starts_with("larder_session=") && cookie.contains("Max-Age=1209600"),
        "{cookie}"
    );
    assert_eq!(
        app.count("select count(*) from sessions where last_seen_at > 0")
            .await,
        1
    );

    app.sql("update sessions set expires_at = 1").await;
    app.server.state.callers.forget_all();
    let r = app.call(&admin, "overview", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        r.message(),
        "Your session has expired. Please sign in again."
    );
    assert!(r
        .headers
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(
        app.count("select count(*) from sessions").await,
        0,
        "the expired session is gone"
    );

    let c = app
        .sign_in("ada@college.example", "correct horse battery")
        .await;
    assert_eq!(app.call(&c, "overview", &[]).await.status, StatusCode::OK);
    assert_eq!(app.call(&c, "sign_out", &[]).await.status, StatusCode::OK);
    let r = app.call(&c, "overview", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.message(), "Please sign in to continue.");
    assert_eq!(app.count("select count(*) from sessions").await, 0);
    // A made-up cookie is no session.
    let forged = reqwest::Client::new()
        .post(format!("{}/api/overview", app.base))
        .header("cookie", "larder_session=forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

async fn invitations_work_once_for_the_invited_address(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let scope = format!("pantry:{}", p.main);

    let r = app
        .call(
            &admin,
            "invite",
            &[
                ("email", "sam@college"),
                ("role", "staff"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "email")
    );
    let r = app
        .call(
            &admin,
            "invite",
            &[
                ("email", "sam@college.example"),
                ("role", "owner"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(
        r.message(),
        "“owner” is not a role; choose admin, manager, staff or viewer."
    );
    let r = app
        .call(
            &admin,
            "invite",
            &[
                ("email", "sam@college.example"),
                ("role", "staff"),
                ("scope", "pantry"),
            ],
        )
        .await;
    assert_eq!(r.message(), "Choose the place the invitation is for.");
    assert_eq!(app.count("select count(*) from invitations").await, 0);

    let token = app
        .invite(&admin, "Sam@College.example", "staff", &scope)
        .await;
    let offer = app
        .call(&client(), "invitation", &[("token", &token)])
        .await;
    assert_eq!(offer.status, StatusCode::OK);
    assert_eq!(offer.body["scope_name"], "North Campus · Main Pantry");
    assert_eq!(offer.body["invited_by"], "Ada Admin");
    assert_eq!(offer.body["account_exists"], false);
    // Only the hash of the link's token is stored.
    assert_eq!(
        app.count(&format!(
            "select count(*) from invitations where token_hash = '{token}'"
        ))
        .await,
        0
    );

    let c = client();
    let r = app
        .call(
            &c,
            "accept_invitation",
            &[
                ("token", &token),
                ("name", ""),
                ("password", "staple lantern river"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "name")
    );
    assert_eq!(app.count("select count(*) from users").await, 1);
    let r = app
        .call(
            &c,
            "accept_invitation",
            &[
                ("token", &token),
                ("name", "Sam"),
                ("password", "staple lantern river"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let me = app.call(&c, "session", &[]).await;
    assert_eq!(me.body["me"]["email"], "Sam@College.example");

    let twice = app
        .call(
            &client(),
            "accept_invitation",
            &[
                ("token", &token),
                ("name", "Eve"),
                ("password", "another password"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert_eq!(
        twice.message(),
        "This invitation has already been used. Sign in instead."
    );
    let garbage = app
        .call(&client(), "invitation", &[("token", "nope")])
        .await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND);

    // Withdrawn and expired invitations cannot be used.
    let withdrawn = app
        .invite(&admin, "wes@college.example", "viewer", &scope)
        .await;
    let people = app
        .call(&admin, "people", &[("organization", &p.org)])
        .await;
    let pending = people.body["invitations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["email"] == "wes@college.example")
        .unwrap();
    assert_eq!(pending["status"], "pending");
    let r = app
        .call(
            &admin,
            "revoke_invitation",
            &[("id", pending["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            &client(),
            "accept_invitation",
            &[
                ("token", &withdrawn),
                ("name", "Wes"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::FORBIDDEN,
            "This invitation was withdrawn. Ask for a new one."
        )
    );
    let expired = app
        .invite(&admin, "exp@college.example", "viewer", &scope)
        .await;
    app.sql("update invitations set expires_at = 1 where email = 'exp@college.example'")
        .await;
    let r = app
        .call(
            &client(),
            "accept_invitation",
            &[
                ("token", &expired),
                ("name", "Ex"),
                ("password", "a long password"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::FORBIDDEN,
            "This invitation has expired. Ask for a new one."
        )
    );
    assert_eq!(app.count("select count(*) from users").await, 2);
}

async fn an_existing_account_joins_by_signing_in(backend: Backend) {
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
    let token = app
        .invite(
            &admin,
            "sam@college.example",
            "manager",
            &format!("campus:{}", p.campus),
        )
        .await;

    let offer = app.call(&sam, "invitation", &[("token", &token)]).await;
    assert_eq!(offer.body["account_exists"], true);
    assert_eq!(offer.body["signed_in_as_invitee"], true);
    // A new account for an address that has one is refused.
    let r = app
        .call(
            &client(),
            "accept_invitation",
            &[
                ("token", &token),
                ("name", "Sam 2"),
                ("password", "staple lantern river"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        "An account with that email already exists. Sign in instead."
    );
    // Someone else signed in cannot take it.
    let r = app.call(&admin, "join", &[("token", &token)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.message().starts_with(
        "This invitation is for sam@college.example, but you are signed in as ada@college.example."
    ));

    let r = app.call(&sam, "join", &[("token", &token)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let campus = app.call(&sam, "campus", &[("id", &p.campus)]).await;
    assert_eq!(
        campus.body["pantries"].as_array().unwrap().len(),
        2,
        "a campus manager sees every pantry on it"
    );
    assert_eq!(campus.body["abilities"]["manage"], true);
}

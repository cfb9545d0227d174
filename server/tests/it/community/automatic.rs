//! Posts Larder writes by itself: canned fruit back in stock reaches the
//! student who follows the pantry; a large donation and a milestone of
//! visits are posted without naming the donor or any household; a pantry
//! that turns a kind off gets none; a redelivered event posts once.

use reqwest::StatusCode;

use super::*;
use crate::inventory::{drained, ok_movement, product};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn larder_posts_what_happens_and_never_who() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let org = format!("organization:{}", p.org);
    let (lee, _) = person(
        &app,
        &admin,
        "lee@college.example",
        "viewer",
        &org,
        "Lee Student",
    )
    .await;
    app.call(&lee, "follow_pantry", &[("pantry", &p.main)])
        .await;
    let fruit = product(&app, &admin, &p.org, "Canned fruit", &[]).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;

    // Nothing is posted until the pantry's managers turn it on.
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "150",
        &[("source", "donation")],
    )
    .await;
    ok_movement(&app, &admin, "distribute", &p.main, &rice, "150", &[]).await;
    drained(&app).await;
    assert_eq!(app.count("select count(*) from posts").await, 0);
    let all = [
        ("pantry", p.main.as_str()),
        ("donations", "on"),
        ("milestones", "on"),
        ("back_in_stock", "on"),
        ("needs", "on"),
    ];
    assert_eq!(
        app.call(&admin, "save_automatic_posts", &all).await.status,
        StatusCode::OK
    );

    // Canned fruit arrives for the first time (not news of it coming
    // back), runs out, then comes back: one post, at Lee's home.
    ok_movement(&app, &admin, "receive", &p.main, &fruit, "6", &[]).await;
    ok_movement(&app, &admin, "distribute", &p.main, &fruit, "6", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &fruit,
        "24",
        &[("source", "donation"), ("donor", "Corner Grocer")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.main, &fruit, "3", &[]).await;
    // A large donation of rice, which ran out earlier (so also "back").
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "150",
        &[
            ("source", "donation"),
            ("donor", "Corner Grocer"),
            ("weight_g", "75000"),
        ],
    )
    .await;
    drained(&app).await;
    let bodies = |r: &Reply| -> Vec<String> {
        r.body["timeline"]["posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["body"].as_str().unwrap().to_string())
            .collect()
    };
    let r = app
        .call(
            &lee,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    assert_eq!(
        bodies(&r),
        vec![
            "A large donation came in: 150 × Rice (75 kg). Thank you to everyone who gives!",
            "Rice is back in stock.",
            "Canned fruit is back in stock.",
        ]
    );
    assert!(r.body["timeline"]["posts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["author"].is_null() && p["kind"] == "automatic"));
    assert!(
        !r.body.to_string().contains("Corner Grocer"),
        "no donor named"
    );
    assert_eq!(home_ids(&app, &lee).await.len(), 3);
    // Lee cannot remove Larder's post; the pantry's admin can.
    let first = r.body["timeline"]["posts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.call(&lee, "delete_post", &[("post", &first)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // Delivered again: nothing posted twice.
    let before = app.count("select count(*) from posts").await;
    app.sql("update consumer_checkpoints set last_seq = 0 where consumer = 'automatic-posts'")
        .await;
    let again = spawn_beside(&app).await;
    drained(&again).await;
    assert_eq!(app.count("select count(*) from posts").await, before);
    drop(again);

    // The 100th visit this semester is a milestone (99 recorded earlier,
    // written directly; the household's details go nowhere).
    let now = app.server.state.clock.now_ms();
    let me = user_id(&app, "ada@college.example").await;
    for i in 0..99 {
        app.sql(&format!(
            "insert into visits (id, organization_id, pantry_id, occurred_at, client_ref, status, actor_id, created_at) \
             values ('00000000-0000-7000-8000-{i:012}', '{}', '{}', {now}, 'CLIENT-{i}', 'recorded', '{me}', {now})",
            p.org, p.main
        ))
        .await;
    }
    ok_movement(&app, &admin, "receive", &p.main, &rice, "5", &[]).await;
    let r = app
        .call_json(&admin, "record_visit", &serde_json::json!({"visit": {"pantry": p.main, "client_ref": "CLIENT-SECRET-7", "adults": "2", "children": "3", "lines": [{"product": rice, "quantity": "1"}]}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    let r = app
        .call(
            &lee,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    assert_eq!(bodies(&r)[0], "Main Pantry has welcomed 100 visits this semester. Thank you to every volunteer and donor!");
    assert!(!r.body.to_string().contains("CLIENT"), "no client code");

    // The pantry turns "back in stock" off: the rice running out and
    // coming back posts nothing. Only its managers may choose.
    let off = [
        ("pantry", p.main.as_str()),
        ("donations", "on"),
        ("milestones", "on"),
        ("needs", "on"),
    ];
    assert_eq!(
        app.call(&lee, "save_automatic_posts", &off).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(&admin, "save_automatic_posts", &off).await.status,
        StatusCode::OK
    );
    let r = app
        .call(
            &admin,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    assert_eq!(r.body["automatic"]["back_in_stock"], false);
    assert_eq!(r.body["automatic"]["donations"], true);
    let before = app.count("select count(*) from posts").await;
    ok_movement(&app, &admin, "distribute", &p.main, &rice, "154", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &rice, "10", &[]).await;
    drained(&app).await;
    assert_eq!(app.count("select count(*) from posts").await, before);
}

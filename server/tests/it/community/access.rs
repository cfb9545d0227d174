//! Who may read and write what: a pantry's timeline is its organization's
//! unless it opens it to everyone signed in; only people with a role there
//! post; a block hides each person from the other; a private profile's
//! follows are requests. (Every community server function is also in the
//! identity issue's isolation matrix, `identity/isolation.rs`.)

use reqwest::StatusCode;

use super::*;
use crate::inventory::drained;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timelines_profiles_and_blocks_keep_people_out() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let main = format!("pantry:{}", p.main);
    let (kim, kim_id) = person(
        &app,
        &admin,
        "kim@college.example",
        "staff",
        &main,
        "Kim Volunteer",
    )
    .await;
    let (sam, sam_id) = person(
        &app,
        &admin,
        "sam@college.example",
        "staff",
        &main,
        "Sam Helper",
    )
    .await;
    let (lee, lee_id) = person(
        &app,
        &admin,
        "lee@college.example",
        "staff",
        &main,
        "Lee Student",
    )
    .await;
    let news = post(
        &app,
        &kim,
        &p.main,
        "announcement",
        "Main pantry news: open late on Thursday",
    )
    .await;

    // Dee belongs to another organization.
    let dee = stranger(&app, &admin).await;
    let shut = |what: &str, r: &Reply, status: StatusCode| {
        assert_eq!(r.status, status, "{what}: {:?}", r.body);
        assert!(
            !r.body.to_string().contains("Main pantry news"),
            "{what} leaked the post"
        );
    };
    let timeline = [("pantry", p.main.as_str()), ("cursor", "")];
    shut(
        "timeline",
        &app.call(&dee, "pantry_timeline", &timeline).await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "thread",
        &app.call(&dee, "post_thread", &[("post", &news)]).await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "comment",
        &app.call(&dee, "add_comment", &[("post", &news), ("body", "hi")])
            .await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "like",
        &app.call(&dee, "like", &[("target", &news), ("on", "true")])
            .await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "follow",
        &app.call(&dee, "follow_pantry", &[("pantry", &p.main)])
            .await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "follow kim",
        &app.call(&dee, "follow_person", &[("person", &kim_id)])
            .await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "block kim",
        &app.call(&dee, "block_person", &[("person", &kim_id)]).await,
        StatusCode::NOT_FOUND,
    );
    let publish = [
        ("pantry", p.main.as_str()),
        ("kind", "need"),
        ("body", "Spam"),
        ("event_on", ""),
    ];
    shut(
        "publish",
        &app.call(&dee, "publish_post", &publish).await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "report",
        &app.call(&dee, "report_post", &[("post", &news), ("reason", "x")])
            .await,
        StatusCode::NOT_FOUND,
    );
    let open = [("pantry", p.main.as_str()), ("visibility", "signed_in")];
    shut(
        "open",
        &app.call(&dee, "set_timeline_visibility", &open).await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "open as staff",
        &app.call(&kim, "set_timeline_visibility", &open).await,
        StatusCode::FORBIDDEN,
    );
    assert_eq!(app.count("select count(*) from follows").await, 0);
    assert_eq!(app.count("select count(*) from comments").await, 0);

    // The pantry opens its timeline: Dee reads, follows, comments and
    // likes, but does not post or change anyone's post.
    assert_eq!(
        app.call(&admin, "set_timeline_visibility", &open)
            .await
            .status,
        StatusCode::OK
    );
    let r = app.call(&dee, "pantry_timeline", &timeline).await;
    assert_eq!(ids(&r.body["timeline"]["posts"]), vec![news.clone()]);
    assert_eq!(
        (r.body["can_post"].as_bool(), r.body["can_manage"].as_bool()),
        (Some(false), Some(false))
    );
    shut(
        "publish",
        &app.call(&dee, "publish_post", &publish).await,
        StatusCode::FORBIDDEN,
    );
    for (what, endpoint, form) in [
        (
            "edit",
            "edit_post",
            vec![
                ("post", news.as_str()),
                ("kind", "need"),
                ("body", "Taken over"),
                ("event_on", ""),
            ],
        ),
        ("delete", "delete_post", vec![("post", news.as_str())]),
    ] {
        let r = app.call(&dee, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{what}: {:?}", r.body);
    }
    assert_eq!(
        app.call(&dee, "follow_pantry", &[("pantry", &p.main)])
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            &dee,
            "add_comment",
            &[("post", &news), ("body", "Thanks, see you Thursday")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.call(&dee, "like", &[("target", &news), ("on", "true")])
            .await
            .status,
        StatusCode::OK
    );
    drained(&app).await;
    assert_eq!(home_ids(&app, &dee).await, vec![news.clone()]);
    // A mention cannot reach outside the organization: @dee names nobody.
    let hi = post(&app, &kim, &p.main, "announcement", "Welcome @dee").await;
    drained(&app).await;
    assert!(notified(&app, &dee)
        .await
        .iter()
        .all(|t| !t.contains("mentioned")));
    // Closed again: Dee's follow stays, but nothing shows.
    let close = [("pantry", p.main.as_str()), ("visibility", "organization")];
    assert_eq!(
        app.call(&admin, "set_timeline_visibility", &close)
            .await
            .status,
        StatusCode::OK
    );
    assert!(home_ids(&app, &dee).await.is_empty());
    shut(
        "thread",
        &app.call(&dee, "post_thread", &[("post", &hi)]).await,
        StatusCode::NOT_FOUND,
    );

    // Kim blocks Sam: neither sees the other; follows between them end;
    // Sam's comments are out of Kim's sight, Kim's posts out of Sam's.
    app.call(&sam, "follow_pantry", &[("pantry", &p.main)])
        .await;
    app.call(&sam, "follow_person", &[("person", &kim_id)])
        .await;
    let r = app
        .call(
            &sam,
            "add_comment",
            &[("post", &news), ("body", "Sam was here")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    drained(&app).await;
    assert_eq!(home_ids(&app, &sam).await.len(), 2);
    assert_eq!(
        app.call(&kim, "block_person", &[("person", &sam_id)])
            .await
            .status,
        StatusCode::OK
    );
    drained(&app).await;
    assert_eq!(app.count(&format!("select count(*) from follows where follower_id = '{sam_id}' and target_id = '{kim_id}'")).await, 0);
    assert!(home_ids(&app, &sam).await.is_empty());
    shut(
        "blocked thread",
        &app.call(&sam, "post_thread", &[("post", &news)]).await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "blocked like",
        &app.call(&sam, "like", &[("target", &news), ("on", "true")])
            .await,
        StatusCode::NOT_FOUND,
    );
    shut(
        "blocked follow",
        &app.call(&sam, "follow_person", &[("person", &kim_id)])
            .await,
        StatusCode::NOT_FOUND,
    );
    let r = app.call(&kim, "post_thread", &[("post", &news)]).await;
    let authors: Vec<&str> = r.body["comments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["author"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        authors,
        vec!["Dee Stranger"],
        "Kim does not see Sam's comment"
    );
    // Kim's @sam names nobody now.
    post(&app, &kim, &p.main, "announcement", "Thanks @sam").await;
    drained(&app).await;
    assert!(notified(&app, &sam)
        .await
        .iter()
        .all(|t| !t.contains("mentioned")));
    // Unblocked: Kim's posts on the pantry Sam follows come back.
    assert_eq!(
        app.call(&kim, "unblock_person", &[("person", &sam_id)])
            .await
            .status,
        StatusCode::OK
    );
    drained(&app).await;
    assert_eq!(home_ids(&app, &sam).await.len(), 3);

    // Lee accepts only chosen followers: Sam's follow is a request until
    // Lee says yes, and Lee's posts reach Sam only then.
    let r = app
        .call(
            &lee,
            "save_profile",
            &[("bio", "Biology, 2nd year"), ("visibility", "followers")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &lee,
            "save_profile",
            &[("bio", ""), ("visibility", "nobody")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    let lees = post(&app, &lee, &p.main, "need", "We need canned fruit").await;
    app.call(&sam, "unfollow", &[("target", &p.main)]).await;
    let r = app
        .call(&sam, "follow_person", &[("person", &lee_id)])
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, serde_json::json!(false))
    );
    drained(&app).await;
    assert!(!home_ids(&app, &sam).await.contains(&lees));
    assert_eq!(
        notified(&app, &lee).await[0],
        "Sam Helper asks to follow you"
    );
    let r = app
        .call(
            &kim,
            "answer_follow_request",
            &[("follower", &sam_id), ("accept", "true")],
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "only Lee answers: {:?}",
        r.body
    );
    let r = app
        .call(
            &lee,
            "answer_follow_request",
            &[("follower", &sam_id), ("accept", "true")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    assert!(home_ids(&app, &sam).await.contains(&lees));
}

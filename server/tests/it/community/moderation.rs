//! Reported posts reviewed by the pantry's managers: listed with their
//! reasons and never their reporters, kept (reports closed, the managers'
//! notifications gone) or deleted; nobody else sees the list.

use reqwest::StatusCode;

use super::*;
use crate::inventory::drained;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managers_keep_or_delete_reported_posts() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let main = format!("pantry:{}", p.main);
    let (kim, _) = person(
        &app,
        &admin,
        "kim@college.example",
        "staff",
        &main,
        "Kim Volunteer",
    )
    .await;
    let (sam, _) = person(
        &app,
        &admin,
        "sam@college.example",
        "staff",
        &main,
        "Sam Reporter",
    )
    .await;
    let (lee, _) = person(
        &app,
        &admin,
        "lee@college.example",
        "staff",
        &main,
        "Lee Reporter",
    )
    .await;
    let dee = stranger(&app, &admin).await;
    let sale = post(&app, &kim, &p.main, "announcement", "Bake sale on Friday").await;
    let rude = post(&app, &kim, &p.main, "announcement", "Something rude").await;
    for (who, post, reason) in [
        (&sam, &sale, "The date is wrong"),
        (&lee, &sale, "Friday is a holiday"),
        (&sam, &rude, "Not kind"),
    ] {
        let r = app
            .call(who, "report_post", &[("post", post), ("reason", reason)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    drained(&app).await;
    let list = |c| {
        let app = &app;
        let pantry = p.main.clone();
        async move { app.call(c, "pantry_reports", &[("pantry", &pantry)]).await }
    };

    // The managers' list: most reported first, reasons, no reporters.
    let r = list(&admin).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let posts = r.body.as_array().unwrap();
    assert_eq!(posts.len(), 2, "{:?}", r.body);
    assert_eq!(posts[0]["post"], sale.as_str());
    assert_eq!(posts[0]["reports"], 2);
    assert_eq!(
        posts[0]["reasons"],
        serde_json::json!(["The date is wrong", "Friday is a holiday"])
    );
    assert_eq!(posts[0]["author"], "Kim Volunteer");
    assert!(
        !r.body.to_string().contains("Reporter"),
        "a reporter named: {:?}",
        r.body
    );
    // Staff of the pantry may not review; a stranger does not see the pantry.
    assert_eq!(list(&kim).await.status, StatusCode::FORBIDDEN);
    assert_eq!(list(&dee).await.status, StatusCode::NOT_FOUND);
    let r = app.call(&sam, "dismiss_reports", &[("post", &sale)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);

    // Kept: its reports close and the notifications about them go.
    let notices = |post: &str| {
        format!("select count(*) from notifications where kind = 'post_report' and link = '/posts/{post}'")
    };
    assert!(
        app.count(&notices(&sale)).await > 0,
        "the managers were told"
    );
    let r = app
        .call(&admin, "dismiss_reports", &[("post", &sale)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    assert_eq!(app.count(&notices(&sale)).await, 0);
    assert!(
        app.count(&notices(&rude)).await > 0,
        "only that post's notices go"
    );
    let r = app
        .call(&admin, "dismiss_reports", &[("post", &sale)])
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "reviewed already: {:?}",
        r.body
    );

    // Deleted: off the list too.
    let r = app.call(&admin, "delete_post", &[("post", &rude)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list(&admin).await.body, serde_json::json!([]));

    // Reported again after the review: open again, with the new reason.
    let r = app
        .call(
            &sam,
            "report_post",
            &[("post", &sale), ("reason", "Still the wrong date")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = list(&admin).await;
    assert_eq!(r.body[0]["reports"], 1, "{:?}", r.body);
    assert_eq!(
        r.body[0]["reasons"],
        serde_json::json!(["Still the wrong date"])
    );
}

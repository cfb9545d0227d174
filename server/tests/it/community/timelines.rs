//! Saturday's food drive: a volunteer thanks everyone on the pantry's
//! timeline and names a helper; people following the pantry see it at
//! home; a question in the comments is answered; likes add up; the people
//! concerned are told once each; edits show, removals disappear from
//! timelines and notifications; bad input changes nothing.

use reqwest::StatusCode;

use super::*;
use crate::inventory::drained;
use crate::on_both_databases;

on_both_databases!(a_thank_you_post_reaches_followers_and_its_comments_are_answered);

async fn a_thank_you_post_reaches_followers_and_its_comments_are_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    app.call(&admin, "rename_me", &[("name", "Ada Coordinator")])
        .await;
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
    let (sam, _) = person(
        &app,
        &admin,
        "sam@college.example",
        "staff",
        &main,
        "Sam Helper",
    )
    .await;
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

    // Lee and Sam follow the pantry; Lee also follows Kim.
    for c in [&lee, &sam] {
        let r = app.call(c, "follow_pantry", &[("pantry", &p.main)]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = app
        .call(&lee, "follow_person", &[("person", &kim_id)])
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::OK, serde_json::json!(true))
    );

    // Kim thanks everyone, names Sam, links the photos.
    let thanks = post(
        &app,
        &kim,
        &p.main,
        "thanks",
        "Thank you all for Saturday's food drive!\n\nSpecial thanks to @sam. Photos: https://photos.example/drive.",
    )
    .await;
    drained(&app).await;
    for c in [&lee, &sam, &kim] {
        assert_eq!(home_ids(&app, c).await, vec![thanks.clone()]);
    }
    // The admin follows nothing: their home is empty, the pantry's
    // timeline is not.
    assert!(home_ids(&app, &admin).await.is_empty());
    let r = app
        .call(
            &admin,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    assert_eq!(ids(&r.body["timeline"]["posts"]), vec![thanks.clone()]);
    let shown = &r.body["timeline"]["posts"][0];
    assert_eq!(shown["kind"], "thanks");
    assert_eq!(shown["author"]["name"], "Kim Volunteer");
    assert_eq!(shown["mentions"][0][0], "sam");
    assert_eq!(r.body["followers"], 2);
    assert_eq!(shown["can_delete"], true, "the admin manages the pantry");
    assert_eq!(shown["can_edit"], false, "only the author edits");
    assert_eq!(
        notified(&app, &sam).await,
        vec!["Kim Volunteer mentioned you in a post"]
    );
    // Lee has one unread post; looking marks it read.
    let r = app.call(&lee, "home_timeline", &[("cursor", "")]).await;
    assert_eq!(
        (
            r.body["unread"].as_i64(),
            r.body["posts"][0]["unread"].as_bool()
        ),
        (Some(1), Some(true))
    );
    app.call(&lee, "mark_home_read", &[]).await;
    let r = app.call(&lee, "home_timeline", &[("cursor", "")]).await;
    assert_eq!(r.body["unread"], 0);

    // Lee asks in the comments; the coordinator answers; Kim answers the
    // answer (which goes under Lee's comment: one level of replies).
    let r = app
        .call(
            &lee,
            "add_comment",
            &[
                ("post", &thanks),
                ("body", "Will there be another one in May?"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let question = r.body.as_str().unwrap().to_string();
    let r = app
        .call(
            &admin,
            "add_comment",
            &[
                ("post", &thanks),
                ("parent", &question),
                ("body", "Yes: May 9th, same place. @kim will lead it."),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let answer = r.body.as_str().unwrap().to_string();
    let r = app
        .call(
            &kim,
            "add_comment",
            &[
                ("post", &thanks),
                ("parent", &answer),
                ("body", "Happy to!"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    let thread = app.call(&lee, "post_thread", &[("post", &thanks)]).await;
    assert_eq!(thread.status, StatusCode::OK, "{:?}", thread.body);
    let comments = thread.body["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 1);
    assert_eq!(comments[0]["author"]["name"], "Lee Student");
    let replies: Vec<&str> = comments[0]["replies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        replies,
        vec!["Yes: May 9th, same place. @kim will lead it.", "Happy to!"]
    );
    assert_eq!(thread.body["post"]["comments"], 3);
    // Kim: a comment on her post, then a mention in the answer (not also
    // "commented": one notification per person per comment); her own
    // reply tells her nothing. Lee: the answer to the question, and Kim's
    // reply under it (answering a reply answers the comment).
    assert_eq!(
        notified(&app, &kim).await,
        vec![
            "Ada Coordinator mentioned you in a comment",
            "Lee Student commented on your post",
            "Lee Student now follows you"
        ]
    );
    assert_eq!(
        notified(&app, &lee).await,
        vec![
            "Kim Volunteer replied to your comment",
            "Ada Coordinator replied to your comment"
        ]
    );

    // Likes: twice is once; the author sees one notification, kept up to
    // date.
    for c in [&sam, &sam, &lee] {
        let r = app
            .call(c, "like", &[("target", &thanks), ("on", "true")])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = app
        .call(&kim, "like", &[("target", &question), ("on", "true")])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    let r = app
        .call(
            &sam,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    let shown = &r.body["timeline"]["posts"][0];
    assert_eq!(
        (shown["likes"].as_i64(), shown["liked"].as_bool()),
        (Some(2), Some(true))
    );
    let kim_sees = notified(&app, &kim).await;
    assert_eq!(kim_sees[0], "Lee Student and 1 other liked your post");
    assert_eq!(kim_sees.iter().filter(|t| t.contains("liked")).count(), 1);
    assert!(notified(&app, &lee)
        .await
        .contains(&"Kim Volunteer liked your comment".to_string()));
    app.call(&sam, "like", &[("target", &thanks), ("on", "false")])
        .await;
    let r = app.call(&sam, "post_thread", &[("post", &thanks)]).await;
    assert_eq!(
        (
            r.body["post"]["likes"].as_i64(),
            r.body["post"]["liked"].as_bool()
        ),
        (Some(1), Some(false))
    );

    // Lee reports the post: the pantry's managers are told once, without
    // being told who; a report needs a reason.
    let r = app
        .call(&lee, "report_post", &[("post", &thanks), ("reason", " ")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    for reason in ["Names a volunteer without asking", "Names a volunteer"] {
        let r = app
            .call(
                &lee,
                "report_post",
                &[("post", &thanks), ("reason", reason)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    drained(&app).await;
    let told = notified(&app, &admin).await;
    let reported = "A post on the timeline of Main Pantry was reported";
    assert_eq!(
        told.iter().filter(|t| *t == reported).count(),
        1,
        "{told:?}"
    );
    assert!(
        !notified(&app, &kim).await.iter().any(|t| t == reported),
        "staff are not told"
    );

    // Every event delivered again: nobody is told twice, no timeline row
    // is added twice.
    let before = (
        app.count("select count(*) from notifications").await,
        app.count("select count(*) from timeline_entries").await,
    );
    app.sql(
        "update consumer_checkpoints set last_seq = 0 where consumer in ('notifier', 'timelines')",
    )
    .await;
    let again = spawn_beside(&app).await;
    drained(&again).await;
    assert_eq!(
        (
            app.count("select count(*) from notifications").await,
            app.count("select count(*) from timeline_entries").await,
        ),
        before
    );
    drop(again);

    // Edits: the author's, marked as edited; nobody else's.
    let edit = [
        ("post", thanks.as_str()),
        ("kind", "thanks"),
        (
            "body",
            "Thank you all for Saturday's food drive! 412 kg collected.",
        ),
        ("event_on", ""),
    ];
    let r = app.call(&sam, "edit_post", &edit).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.call(&kim, "edit_post", &edit).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&lee, "post_thread", &[("post", &thanks)]).await;
    assert_eq!(r.body["post"]["edited"], true);
    assert!(r.body["post"]["body"].as_str().unwrap().contains("412 kg"));

    // Bad input: a specific error, nothing changes.
    let before = app.count("select count(*) from posts").await;
    for (form, field) in [
        (
            vec![("kind", "thanks"), ("body", "   "), ("event_on", "")],
            "body",
        ),
        (
            vec![("kind", "event"), ("body", "Food drive"), ("event_on", "")],
            "event_on",
        ),
        (
            vec![
                ("kind", "event"),
                ("body", "Food drive"),
                ("event_on", "2027-02-30"),
            ],
            "event_on",
        ),
        (
            vec![
                ("kind", "automatic"),
                ("body", "Pretending to be Larder"),
                ("event_on", ""),
            ],
            "kind",
        ),
        (
            vec![
                ("kind", "need"),
                ("body", &"x".repeat(4001)),
                ("event_on", ""),
            ],
            "body",
        ),
        (
            vec![
                ("kind", "need"),
                ("body", "We need\u{202E}fruit"),
                ("event_on", ""),
            ],
            "body",
        ),
    ] {
        let mut form = form;
        form.push(("pantry", &p.main));
        let r = app.call(&kim, "publish_post", &form).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{form:?}: {:?}",
            r.body
        );
        assert_eq!(r.body["detail"]["field"], field, "{:?}", r.body);
    }
    let r = app
        .call(&lee, "home_timeline", &[("cursor", "not-a-cursor")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(app.count("select count(*) from posts").await, before);

    // An event with its date.
    let r = app
        .call(
            &kim,
            "publish_post",
            &[
                ("pantry", &p.main),
                ("kind", "event"),
                ("body", "Spring food drive"),
                ("event_on", "2027-05-09"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let drive = r.body.as_str().unwrap().to_string();

    // Removing: the manager removes Lee's question (and the notifications
    // about it); Kim removes her post: gone from every timeline, its
    // thread and every notification about it.
    let r = app
        .call(&sam, "delete_comment", &[("comment", &question)])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app
        .call(&admin, "delete_comment", &[("comment", &question)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    assert!(!notified(&app, &kim)
        .await
        .contains(&"Lee Student commented on your post".to_string()));
    let r = app.call(&sam, "delete_post", &[("post", &thanks)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let r = app.call(&kim, "delete_post", &[("post", &thanks)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    drained(&app).await;
    assert!(
        !notified(&app, &admin).await.iter().any(|t| t == reported),
        "the report went with the post"
    );
    for c in [&lee, &sam, &kim] {
        assert_eq!(home_ids(&app, c).await, vec![drive.clone()]);
        let n = notified(&app, c).await;
        assert!(
            n.iter().all(|t| !t.contains("mentioned you in a post")
                && !t.contains("replied")
                && !t.contains("liked your post")),
            "{n:?}"
        );
    }
    let r = app.call(&lee, "post_thread", &[("post", &thanks)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = app
        .call(
            &lee,
            "add_comment",
            &[("post", &thanks), ("body", "Still there?")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    // Pages: 25 more posts come newest first, 20 to a page.
    for i in 0..25 {
        post(
            &app,
            &kim,
            &p.main,
            "announcement",
            &format!("Opening hours, week {i}"),
        )
        .await;
    }
    drained(&app).await;
    let r = app.call(&lee, "home_timeline", &[("cursor", "")]).await;
    assert_eq!(r.body["posts"].as_array().unwrap().len(), 20);
    assert!(r.body["posts"][0]["body"]
        .as_str()
        .unwrap()
        .ends_with("week 24"));
    let next = r.body["next"].as_str().unwrap().to_string();
    let r = app.call(&lee, "home_timeline", &[("cursor", &next)]).await;
    let rest: Vec<&str> = r.body["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["body"].as_str().unwrap())
        .collect();
    assert_eq!(rest.len(), 6, "{rest:?}");
    assert_eq!(rest[5], "Spring food drive");
    assert!(r.body["next"].is_null());
    assert_eq!(home_ids(&app, &lee).await.len(), 26);

    // Unfollowing the pantry keeps Kim's posts (Lee follows Kim), and
    // unfollowing Kim too empties Lee's home.
    app.call(&lee, "unfollow", &[("target", &p.main)]).await;
    drained(&app).await;
    assert_eq!(home_ids(&app, &lee).await.len(), 26);
    app.call(&lee, "unfollow", &[("target", &kim_id)]).await;
    drained(&app).await;
    assert!(home_ids(&app, &lee).await.is_empty());
    assert_eq!(home_ids(&app, &sam).await.len(), 26);
}

// A home timeline keeps its person's newest rows (here 5): after a read
// of its first page the older rows go, the timeline ends at the oldest
// kept and says so, and a row older than that end stays out of sight. The
// pantry's own timeline still has everything.
on_both_databases!(a_home_timeline_keeps_its_newest_rows);

async fn a_home_timeline_keeps_its_newest_rows(backend: Backend) {
    let app = spawn_with(backend, &[("LARDER_TIMELINE_KEEP", "5")]).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let main = format!("pantry:{}", p.main);
    let (sam, sam_id) = person(
        &app,
        &admin,
        "sam@college.example",
        "staff",
        &main,
        "Sam Volunteer",
    )
    .await;
    let r = app
        .call(&sam, "follow_pantry", &[("pantry", &p.main)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let mut posted = Vec::new();
    for i in 0..8 {
        posted.push(post(&app, &admin, &p.main, "announcement", &format!("News {i}")).await);
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    crate::inventory::drained(&app).await;
    // Before any read: all eight rows, no end.
    let count = format!("select count(*) from timeline_entries where user_id = '{sam_id}'");
    assert_eq!(app.count(&count).await, 8);
    let r = app.call(&sam, "home_timeline", &[("cursor", "")]).await;
    assert_eq!(r.body["trimmed"], false, "{:?}", r.body);
    assert_eq!(ids(&r.body["posts"]).len(), 8);
    // The read trims in the background.
    for _ in 0..100 {
        if app.count(&count).await == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.count(&count).await, 5, "the newest five rows are kept");
    let newest: Vec<String> = posted.iter().rev().take(5).cloned().collect();
    assert_eq!(home_ids(&app, &sam).await, newest);
    let r = app.call(&sam, "home_timeline", &[("cursor", "")]).await;
    assert_eq!(
        r.body["trimmed"], true,
        "the timeline says it ends: {:?}",
        r.body
    );

    // Following a person brings in at most five of their posts, and a
    // row older than the end (an old post's fan-out delivered late) stays
    // out of sight.
    let r = app
        .call(
            &sam,
            "follow_person",
            &[("person", &user_id(&app, "ada@college.example").await)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    crate::inventory::drained(&app).await;
    assert_eq!(app.count(&count).await, 5);
    app.sql(&format!(
        "insert into timeline_entries (user_id, post_id, created_at) select '{sam_id}', id, created_at from posts where id = '{}'",
        posted[0]
    ))
    .await;
    assert_eq!(home_ids(&app, &sam).await, newest);

    // The pantry's timeline has them all.
    let r = app
        .call(
            &sam,
            "pantry_timeline",
            &[("pantry", &p.main), ("cursor", "")],
        )
        .await;
    assert_eq!(ids(&r.body["timeline"]["posts"]).len(), 8);
}

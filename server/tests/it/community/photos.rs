//! Photos on posts and avatars: uploaded on their own, checked by the
//! photo pipeline, used once by their uploader, shown only to those who may
//! read the post (or, for an avatar, anyone not blocked), refused with a
//! reason when they are not photos, not one's own, used already or too
//! many; an unused one is removed after a day.

use reqwest::{Client, StatusCode};

use super::*;
use crate::photos::photo;

/// `POST /community/photos`: the status and the answer.
async fn upload(app: &TestApp, c: &Client, bytes: Vec<u8>, mime: &str) -> (StatusCode, Value) {
    let res = c
        .post(format!("{}/community/photos", app.base))
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn uploaded(app: &TestApp, c: &Client) -> String {
    let (status, body) = upload(app, c, photo(900, 600, &[]), "image/jpeg").await;
    assert_eq!(status, StatusCode::CREATED, "{body:?}");
    body["id"].as_str().unwrap().to_string()
}

/// The status of a photo's thumbnail for `c`, and its content type.
async fn seen(app: &TestApp, c: &Client, photo: &str) -> (StatusCode, String) {
    let res = c
        .get(format!(
            "{}/community/photos/{photo}/thumbnail.jpg",
            app.base
        ))
        .send()
        .await
        .unwrap();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (res.status(), kind)
}

async fn publish(app: &TestApp, c: &Client, pantry: &str, body: &str, photos: &str) -> Reply {
    app.call(
        c,
        "publish_post",
        &[
            ("pantry", pantry),
            ("kind", "thanks"),
            ("body", body),
            ("event_on", ""),
            ("photos", photos),
        ],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn post_photos_and_avatars_are_shown_only_to_whom_they_may_be() {
    let clock = app::clock::ManualClock::now();
    let app = spawn_with_clock(Backend::Sqlite, &[], clock.clone()).await;
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
    let (sam, sam_id) = person(
        &app,
        &admin,
        "sam@college.example",
        "staff",
        &main,
        "Sam Helper",
    )
    .await;
    let dee = stranger(&app, &admin).await;

    // Not a picture: refused by name, nothing kept.
    let (status, body) = upload(&app, &kim, b"<svg onload=alert(1)>".to_vec(), "image/jpeg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
    assert_eq!(body["detail"]["field"], "photo", "{body:?}");
    assert_eq!(app.count("select count(*) from community_photos").await, 0);

    // Uploaded but not posted: only Kim sees it.
    let crates = uploaded(&app, &kim).await;
    let shelves = uploaded(&app, &kim).await;
    assert_eq!(
        seen(&app, &kim, &crates).await,
        (StatusCode::OK, "image/jpeg".into())
    );
    assert_eq!(seen(&app, &sam, &crates).await.0, StatusCode::NOT_FOUND);

    // Sam cannot post Kim's photo; nobody posts five; a made-up id is refused.
    let r = publish(&app, &sam, &p.main, "Look", &crates).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "photos"),
        "{:?}",
        r.body
    );
    let five = [
        crates.as_str(),
        &shelves,
        &uploaded(&app, &kim).await,
        &uploaded(&app, &kim).await,
        &uploaded(&app, &kim).await,
    ]
    .join(" ");
    let r = publish(&app, &kim, &p.main, "Five", &five).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "photos"),
        "{:?}",
        r.body
    );
    assert!(r.message().contains("at most 4"), "{}", r.message());
    let r = publish(&app, &kim, &p.main, "Bad", "../../etc/passwd").await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "photos"),
        "{:?}",
        r.body
    );
    assert_eq!(
        app.count("select count(*) from posts").await,
        0,
        "a refused post stores nothing"
    );
    assert_eq!(app.count("select count(*) from post_photos").await, 0);

    // Posted, in order: Sam (same organization) sees both, Dee does not.
    let r = publish(
        &app,
        &kim,
        &p.main,
        "Saturday's food drive filled the shelves",
        &format!("{crates} {shelves}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let drive = r.body.as_str().unwrap().to_string();
    let thread = app.call(&sam, "post_thread", &[("post", &drive)]).await;
    assert_eq!(
        thread.body["post"]["photos"],
        serde_json::json!([crates, shelves]),
        "{:?}",
        thread.body
    );
    assert_eq!(seen(&app, &sam, &shelves).await.0, StatusCode::OK);
    assert_eq!(seen(&app, &dee, &shelves).await.0, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&sam, &format!("/community/photos/{crates}/photo"))
        .await;
    assert_eq!(status, StatusCode::OK);

    // A photo is used once.
    let r = publish(&app, &kim, &p.main, "Again", &crates).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "photos"),
        "{:?}",
        r.body
    );

    // Once the post is deleted, its photos are nobody's to see but Kim's.
    let r = app.call(&kim, "delete_post", &[("post", &drive)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(seen(&app, &sam, &crates).await.0, StatusCode::NOT_FOUND);

    // Sam's avatar goes with Sam's name: on the profile, on posts, and to
    // Dee too, until one blocks the other.
    let face = uploaded(&app, &sam).await;
    let r = app.call(&sam, "set_avatar", &[("photo", &face)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&sam, "set_avatar", &[("photo", &crates)]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "avatar"),
        "Kim's photo is not Sam's"
    );
    let profile = app.call(&kim, "profile", &[("person", &sam_id)]).await;
    assert_eq!(
        profile.body["person"]["avatar"],
        face.as_str(),
        "{:?}",
        profile.body
    );
    let hello = post(&app, &sam, &p.main, "announcement", "Hello from Sam").await;
    let thread = app.call(&kim, "post_thread", &[("post", &hello)]).await;
    assert_eq!(thread.body["post"]["author"]["avatar"], face.as_str());
    assert_eq!(seen(&app, &dee, &face).await.0, StatusCode::OK);
    // Sam opens the profile to everyone signed in; Dee, who can now see
    // it, blocks Sam.
    let r = app
        .call(
            &sam,
            "save_profile",
            &[("bio", "Saturdays at Main"), ("visibility", "signed_in")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app.call(&dee, "block_person", &[("person", &sam_id)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(seen(&app, &dee, &face).await.0, StatusCode::NOT_FOUND);

    // A new avatar replaces the old, which is removed with the unused
    // photos a day later, files and all; the used ones stay.
    let newer = uploaded(&app, &sam).await;
    let r = app.call(&sam, "set_avatar", &[("photo", &newer)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let before = app.count("select count(*) from community_photos").await;
    clock.advance(std::time::Duration::from_secs(25 * 3600));
    let r = app.call(&sam, "set_avatar", &[("photo", &face)]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "avatar"),
        "a day-old unused photo is not taken"
    );
    let _ = uploaded(&app, &sam).await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from community_photos where id = '{face}'"
        ))
        .await,
        0,
        "the replaced avatar is gone"
    );
    assert_eq!(
        app.count("select count(*) from community_photos").await,
        before,
        "one removed, one added"
    );
    assert_eq!(seen(&app, &sam, &face).await.0, StatusCode::NOT_FOUND);
    assert_eq!(seen(&app, &sam, &newer).await.0, StatusCode::OK);
    assert_eq!(
        app.count(&format!(
            "select count(*) from community_photos where id = '{crates}'"
        ))
        .await,
        1,
        "a posted photo stays with its post"
    );
    assert_eq!(seen(&app, &kim, &crates).await.0, StatusCode::OK);
}

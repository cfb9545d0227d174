//! The home timeline's live stream: a post on a followed pantry is
//! announced once it is on the follower's home timeline; posts elsewhere,
//! and one's own, are not.

use std::time::Duration;

use reqwest::StatusCode;

use super::*;

/// What the stream says within `wait` (empty when it says nothing but
/// keep-alive comments).
async fn heard_within(stream: &mut reqwest::Response, wait: Duration) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + wait;
    while !text.contains("event: posts") {
        match tokio::time::timeout_at(deadline, stream.chunk()).await {
            Ok(chunk) => text.push_str(&String::from_utf8_lossy(&chunk.unwrap().unwrap())),
            Err(_) => break,
        }
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_followed_pantrys_post_is_announced_once_it_is_on_the_home_timeline() {
    let app = spawn_app(Backend::Sqlite).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let main = format!("pantry:{}", p.main);
    let (sam, _) = person(
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

    let mut stream = sam
        .get(format!("{}/live/home", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        stream.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    // Sam's own post and a post on a pantry Sam does not follow: silence.
    post(&app, &sam, &p.main, "announcement", "Sam's own news").await;
    post(&app, &admin, &p.library, "announcement", "Library news").await;
    let text = heard_within(&mut stream, Duration::from_secs(2)).await;
    assert!(!text.contains("event: posts"), "announced: {text}");

    // The pantry's post: announced, and by then on Sam's home timeline.
    let drive = post(
        &app,
        &admin,
        &p.main,
        "thanks",
        "Thank you for Saturday's food drive",
    )
    .await;
    let text = heard_within(&mut stream, Duration::from_secs(10)).await;
    assert!(
        text.contains("event: posts"),
        "not announced within 10 s: {text}"
    );
    assert!(
        !text.contains("food drive"),
        "the stream carries no content: {text}"
    );
    assert!(home_ids(&app, &sam).await.contains(&drive));

    // Signed out, the stream ends.
    let r = app.call(&sam, "sign_out", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its session");
}

//! The community layer: pantry timelines, posts, comments, likes, follows,
//! blocks and home timelines.

mod access;
mod automatic;
mod fanout;
mod live;
mod moderation;
mod photos;
mod timelines;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// A person who joined with `role` at `scope`, named `name`; their client
/// and their user id.
pub async fn person(
    app: &TestApp,
    admin: &Client,
    email: &str,
    role: &str,
    scope: &str,
    name: &str,
) -> (Client, String) {
    let c = app.join(admin, email, role, scope).await;
    let r = app.call(&c, "rename_me", &[("name", name)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    (c, user_id(app, email).await)
}

/// Dee, the admin of another organization ("Other Bank").
pub async fn stranger(app: &TestApp, admin: &Client) -> Client {
    let other = app
        .create(admin, "create_organization", &[("name", "Other Bank")])
        .await;
    let (dee, _) = person(
        app,
        admin,
        "dee@other.example",
        "admin",
        &format!("organization:{other}"),
        "Dee Stranger",
    )
    .await;
    dee
}

pub async fn user_id(app: &TestApp, email: &str) -> String {
    sqlx::query_scalar("select id from users where email = $1")
        .bind(email)
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap()
}

/// Publishes a post; its id.
pub async fn post(app: &TestApp, c: &Client, pantry: &str, kind: &str, body: &str) -> String {
    let r = app
        .call(
            c,
            "publish_post",
            &[
                ("pantry", pantry),
                ("kind", kind),
                ("body", body),
                ("event_on", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "publish: {:?}", r.body);
    r.body.as_str().unwrap().to_string()
}

/// Every post id on the caller's home timeline, all pages, newest first.
pub async fn home_ids(app: &TestApp, c: &Client) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.call(c, "home_timeline", &[("cursor", &cursor)]).await;
        assert_eq!(r.status, StatusCode::OK, "home: {:?}", r.body);
        out.extend(ids(&r.body["posts"]));
        match r.body["next"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => return out,
        }
    }
}

pub fn ids(posts: &Value) -> Vec<String> {
    posts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

/// The titles in a person's notification centre, newest first.
pub async fn notified(app: &TestApp, c: &Client) -> Vec<String> {
    let r = app.call(c, "notifications", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_string())
        .collect()
}

//! The home timeline's live stream: `GET /live/home` tells an open home
//! timeline that a post has reached it, so new posts appear without
//! asking. It rides the live feed every replica already receives (one
//! update per event): a `PostPublished` by someone else on a pantry or by
//! a person the reader follows is announced once the timelines consumer
//! has written the reader's row (or the post is one read on read). The
//! event carries nothing but its name; the page reads its timeline again
//! with every check a read makes.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use tokio::sync::broadcast::error::RecvError;

use crate::auth::service::caller_from_headers;
use crate::error::{AppError, AppResult};
use crate::inventory::consumers::LiveUpdate;
use crate::inventory::live::RECHECK;
use crate::state::AppState;

/// How long a stream waits for the timelines consumer to write a post's
/// row before announcing it anyway.
const ROW_WAIT: Duration = Duration::from_secs(5);

/// `GET /live/home`: a `posts` event when a post reaches the caller's home
/// timeline (and after missed updates). Ends when the session does.
pub async fn home_stream(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match open(state, headers).await {
        Ok(sse) => sse.into_response(),
        Err(e) => e.into_response(),
    }
}

/// The pantries and people the reader follows.
async fn followed(state: &AppState, me: &str) -> AppResult<HashSet<String>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "select target_id from follows where follower_id = $1 and status = 'active'",
    )
    .bind(me)
    .fetch_all(state.db.pool())
    .await?;
    Ok(ids.into_iter().collect())
}

/// Waits until the post is on the reader's home timeline (its row is
/// written, or it is read on read), at most [`ROW_WAIT`].
async fn arrived(state: &AppState, me: &str, post: &str) {
    let deadline = tokio::time::Instant::now() + ROW_WAIT;
    loop {
        let here: Result<i64, _> = sqlx::query_scalar(
            "select count(*) from posts p where p.id = $2 and (p.fanned_on_read = 1 or exists \
             (select 1 from timeline_entries t where t.user_id = $1 and t.post_id = p.id))",
        )
        .bind(me)
        .bind(post)
        .fetch_one(state.db.pool())
        .await;
        if !matches!(here, Ok(0)) || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn for_me(u: &LiveUpdate, me: &str, follows: &HashSet<String>) -> Option<String> {
    let post = u.post_id.clone()?;
    if u.actor_id.as_deref() == Some(me) {
        return None;
    }
    let followed = u.pantry_id.as_ref().is_some_and(|p| follows.contains(p))
        || u.actor_id.as_ref().is_some_and(|a| follows.contains(a));
    followed.then_some(post)
}

async fn open(
    state: AppState,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let caller = caller_from_headers(&state, &headers).await?;
    let me = caller.me.id.to_string();
    // Subscribe before reading the follows, so nothing falls between.
    let rx = state.live.subscribe();
    let follows = followed(&state, &me).await?;
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let updates = stream::unfold(
        (rx, recheck, follows),
        move |(mut rx, mut recheck, mut follows)| {
            let (state, headers, me) = (state.clone(), headers.clone(), me.clone());
            async move {
                loop {
                    let received = tokio::select! {
                        r = rx.recv() => r,
                        _ = recheck.tick() => {
                            // The session still holds; follows may have changed.
                            if caller_from_headers(&state, &headers).await.is_err() {
                                return None;
                            }
                            if let Ok(f) = followed(&state, &me).await {
                                follows = f;
                            }
                            continue;
                        }
                    };
                    let event = match received {
                        Ok(u) => match for_me(&u, &me, &follows) {
                            Some(post) => {
                                arrived(&state, &me, &post).await;
                                SseEvent::default().event("posts").data("{}")
                            }
                            None => continue,
                        },
                        Err(RecvError::Lagged(_)) => SseEvent::default().event("posts").data("{}"),
                        Err(RecvError::Closed) => return None,
                    };
                    if caller_from_headers(&state, &headers).await.is_err() {
                        return None;
                    }
                    return Some((Ok(event), (rx, recheck, follows)));
                }
            }
        },
    );
    Ok(Sse::new(updates).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(pantry: &str, actor: &str, post: Option<&str>) -> LiveUpdate {
        LiveUpdate {
            seq: 1,
            event_type: "PostPublished".into(),
            organization_id: "o".into(),
            pantry_id: Some(pantry.into()),
            product_id: None,
            on_hand: None,
            post_id: post.map(String::from),
            actor_id: Some(actor.into()),
        }
    }

    #[test]
    fn a_post_is_announced_to_followers_of_its_pantry_or_author_but_not_its_author() {
        let follows: HashSet<String> = ["main".to_string(), "kim".to_string()].into();
        assert_eq!(
            for_me(&update("main", "lee", Some("p1")), "sam", &follows),
            Some("p1".into())
        );
        assert_eq!(
            for_me(&update("east", "kim", Some("p2")), "sam", &follows),
            Some("p2".into())
        );
        assert_eq!(
            for_me(&update("east", "lee", Some("p3")), "sam", &follows),
            None
        );
        assert_eq!(
            for_me(&update("main", "sam", Some("p4")), "sam", &follows),
            None
        );
        assert_eq!(for_me(&update("main", "lee", None), "sam", &follows), None);
    }
}

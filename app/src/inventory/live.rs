//! The live inventory stream: server-sent events for one pantry, fed by
//! the live-feed consumer.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, Stream};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::consumers::LiveUpdate;
use crate::auth::model::Role;
use crate::auth::service::caller_from_headers;
use crate::error::AppError;
use crate::events::store;
use crate::ids::PantryId;
use crate::state::AppState;

#[derive(Deserialize)]
pub struct Resume {
    /// The log position the page was rendered at.
    after: Option<i64>,
}

/// How often an open stream checks that its session and membership still
/// hold; the stream ends within this long of a sign-out or a removal.
pub const RECHECK: Duration = Duration::from_secs(3);

/// `GET /live/pantries/{id}`: a `stock` event per change at the pantry
/// (and per catalog change in its organization). A `resync` event tells
/// the page it may have missed changes and should reload its data. The
/// stream ends when its session ends or the caller loses the pantry.
pub async fn pantry_stream(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(resume): Query<Resume>,
    headers: HeaderMap,
) -> Response {
    match open(state, id, resume, headers).await {
        Ok(sse) => sse.into_response(),
        Err(e) => e.into_response(),
    }
}

async fn open(
    state: AppState,
    id: String,
    resume: Resume,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, AppError> {
    let caller = caller_from_headers(&state, &headers).await?;
    let pantry: PantryId = id.parse()?;
    let (header, place) = super::service::pantry_header(&state.db, &pantry).await?;
    caller.require(&place, Role::Viewer, "pantry")?;
    // Subscribe before reading the head, so nothing falls between.
    let rx = state.live.subscribe();
    let head = store::head(state.db.pool()).await?;
    let resync_first = resume.after.is_some_and(|a| a < head);
    let pantry_id = header.id.to_string();
    let organization_id = header.organization_id.to_string();
    let first = resync_first.then(|| Ok(SseEvent::default().event("resync").data("{}")));
    let mut recheck = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let updates = stream::unfold((rx, recheck), move |(mut rx, mut recheck)| {
        let pantry_id = pantry_id.clone();
        let organization_id = organization_id.clone();
        let (state, headers, place) = (state.clone(), headers.clone(), place.clone());
        async move {
            // The session and the membership, checked again before each
            // delivery and every few seconds while nothing happens.
            let still_allowed = || async {
                match caller_from_headers(&state, &headers).await {
                    Ok(caller) => caller.require(&place, Role::Viewer, "pantry").is_ok(),
                    Err(_) => false,
                }
            };
            loop {
                let received = tokio::select! {
                    r = rx.recv() => r,
                    _ = recheck.tick() => {
                        if still_allowed().await {
                            continue;
                        }
                        tracing::info!(pantry = %pantry_id, "live stream closed: its session or access ended");
                        return None;
                    }
                };
                let event = match received {
                    Ok(u) if relevant(&u, &pantry_id, &organization_id) => SseEvent::default()
                        .event("stock")
                        .id(u.seq.to_string())
                        .json_data(&u)
                        .unwrap_or_else(|_| SseEvent::default().event("resync").data("{}")),
                    Ok(_) => continue,
                    // Too slow to keep up: the page reloads its data.
                    Err(RecvError::Lagged(_)) => SseEvent::default().event("resync").data("{}"),
                    Err(RecvError::Closed) => return None,
                };
                if !still_allowed().await {
                    tracing::info!(pantry = %pantry_id, "live stream closed: its session or access ended");
                    return None;
                }
                return Some((Ok(event), (rx, recheck)));
            }
        }
    });
    let all = futures_util::StreamExt::chain(stream::iter(first), updates);
    Ok(Sse::new(all).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn relevant(u: &LiveUpdate, pantry: &str, organization: &str) -> bool {
    match &u.pantry_id {
        Some(p) => p == pantry,
        None => u.organization_id == organization,
    }
}

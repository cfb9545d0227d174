//! Server functions for a person's notifications.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "notifications")]
pub async fn get_notifications() -> Result<Centre, AppError> {
    let (state, caller) = context().await?;
    super::service::centre(&state, &caller).await
}

/// The header's count.
#[server(prefix = "/api", endpoint = "unread_notifications")]
pub async fn unread_notifications() -> Result<i64, AppError> {
    let (state, caller) = context().await?;
    super::service::unread(&state, &caller).await
}

/// Marks one notification read (`id`), or all of them (no id).
#[server(prefix = "/api", endpoint = "mark_notifications_read")]
pub async fn mark_notifications_read(#[server(default)] id: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let id = match id.trim() {
        "" => None,
        some => Some(some.parse::<crate::ids::NotificationId>()?),
    };
    super::service::mark_read(&state, &caller, id.as_ref()).await
}

#[server(prefix = "/api", endpoint = "notification_preferences")]
pub async fn get_notification_preferences() -> Result<Preferences, AppError> {
    let (state, caller) = context().await?;
    super::service::preferences(&state, &caller).await
}

/// Each kind's channel (in_app, push, both or off) and the daily digest;
/// a kind left out keeps its channel.
#[server(prefix = "/api", endpoint = "save_notification_preferences")]
pub async fn save_notification_preferences(
    #[server(default)] urgent_issue: String,
    #[server(default)] proposed_order: String,
    #[server(default)] expiring: String,
    #[server(default)] order_received: String,
    #[server(default)] sync_failed: String,
    #[server(default)] parked_events: String,
    #[server(default)] daily_digest: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    let channels: Vec<(String, String)> = [
        ("urgent_issue", urgent_issue),
        ("proposed_order", proposed_order),
        ("expiring", expiring),
        ("order_received", order_received),
        ("sync_failed", sync_failed),
        ("parked_events", parked_events),
    ]
    .into_iter()
    .filter(|(_, c)| !c.trim().is_empty())
    .map(|(k, c)| (k.to_string(), c.trim().to_string()))
    .collect();
    super::service::set_preferences(&state, &caller, &channels, !daily_digest.trim().is_empty())
        .await
}

/// The instance's VAPID public key, for the browser's push subscription.
#[server(prefix = "/api", endpoint = "push_public_key")]
pub async fn push_public_key() -> Result<String, AppError> {
    let (state, _) = context().await?;
    Ok(super::push::vapid(&state.db).await?.public)
}

/// Keeps this browser's push subscription for the signed-in person.
#[server(prefix = "/api", endpoint = "subscribe_push")]
pub async fn subscribe_push(
    #[server(default)] endpoint: String,
    #[server(default)] p256dh: String,
    #[server(default)] auth: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::push::subscribe(&state, &caller, &endpoint, &p256dh, &auth).await
}

/// Whether this browser's subscription is kept for the signed-in person
/// (a browser stays subscribed when someone else signs in on it).
#[server(prefix = "/api", endpoint = "push_subscribed")]
pub async fn push_subscribed(#[server(default)] endpoint: String) -> Result<bool, AppError> {
    let (state, caller) = context().await?;
    super::push::is_subscribed(&state, &caller, &endpoint).await
}

/// Forgets this browser's push subscription.
#[server(prefix = "/api", endpoint = "unsubscribe_push")]
pub async fn unsubscribe_push(#[server(default)] endpoint: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::push::unsubscribe(&state, &caller, &endpoint).await
}

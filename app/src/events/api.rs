//! Server functions for the event admin page.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{DeadLetterId, OrganizationId};

#[server(prefix = "/api", endpoint = "events_admin")]
pub async fn get_events_admin(organization: OrganizationId) -> Result<EventsAdminView, AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    super::service::admin_view(&state, &caller, &organization).await
}

#[server(prefix = "/api", endpoint = "retry_parked_event")]
pub async fn retry_parked_event(id: DeadLetterId) -> Result<RetryOutcome, AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    super::service::retry(&state, &caller, &id).await
}

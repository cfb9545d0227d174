//! Server functions for organizations, campuses and pantries.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{CampusId, OrganizationId, PantryId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "overview")]
pub async fn get_overview() -> Result<Overview, AppError> {
    let (state, caller) = context().await?;
    super::service::overview(&state.db, &caller).await
}

#[server(prefix = "/api", endpoint = "create_organization")]
pub async fn create_organization(name: String) -> Result<OrganizationId, AppError> {
    let (state, caller) = context().await?;
    Ok(super::service::create_organization(&state, &caller, &name)
        .await?
        .id)
}

#[server(prefix = "/api", endpoint = "organization")]
pub async fn get_organization(id: OrganizationId) -> Result<OrganizationView, AppError> {
    let (state, caller) = context().await?;
    super::service::organization_view(&state.db, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "rename_organization")]
pub async fn rename_organization(id: OrganizationId, name: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::rename_organization(&state, &caller, &id, &name).await?;
    state.contexts.forget_all();
    Ok(())
}

#[server(prefix = "/api", endpoint = "archive_organization")]
pub async fn archive_organization(id: OrganizationId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::archive_organization(&state, &caller, &id).await?;
    state.contexts.forget_all();
    Ok(())
}

#[server(prefix = "/api", endpoint = "create_campus")]
pub async fn create_campus(
    organization: OrganizationId,
    name: String,
) -> Result<CampusId, AppError> {
    let (state, caller) = context().await?;
    Ok(
        super::service::create_campus(&state, &caller, &organization, &name)
            .await?
            .id,
    )
}

#[server(prefix = "/api", endpoint = "campus")]
pub async fn get_campus(id: CampusId) -> Result<CampusView, AppError> {
    let (state, caller) = context().await?;
    super::service::campus_view(&state.db, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "rename_campus")]
pub async fn rename_campus(id: CampusId, name: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::rename_campus(&state, &caller, &id, &name).await?;
    state.contexts.forget_all();
    Ok(())
}

#[server(prefix = "/api", endpoint = "archive_campus")]
pub async fn archive_campus(id: CampusId) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::archive_campus(&state, &caller, &id).await?;
    state.contexts.forget_all();
    Ok(())
}

#[server(prefix = "/api", endpoint = "create_pantry")]
pub async fn create_pantry(campus: CampusId, name: String) -> Result<PantryId, AppError> {
    let (state, caller) = context().await?;
    Ok(
        super::service::create_pantry(&state, &caller, &campus, &name)
            .await?
            .id,
    )
}

#[server(prefix = "/api", endpoint = "pantry")]
pub async fn get_pantry(id: PantryId) -> Result<PantryView, AppError> {
    let (state, caller) = context().await?;
    super::service::pantry_view(&state.db, &caller, &id).await
}

#[server(prefix = "/api", endpoint = "rename_pantry")]
pub async fn rename_pantry(id: PantryId, name: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::rename_pantry(&state, &caller, &id, &name).await?;
    state.contexts.forget_all();
    Ok(())
}

#[server(prefix = "/api", endpoint = "archive_pantry")]
pub async fn archive_pantry(id: PantryId) -> Result<CampusId, AppError> {
    let (state, caller) = context().await?;
    let campus = super::service::archive_pantry(&state, &caller, &id).await?;
    // Movements must not reach a renamed or archived place from memory.
    state.contexts.forget_all();
    Ok(campus)
}

#[server(prefix = "/api", endpoint = "set_organization_time_zone")]
pub async fn set_organization_time_zone(
    id: OrganizationId,
    time_zone: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::set_organization_time_zone(&state, &caller, &id, &time_zone).await
}

/// `time_zone` empty: the pantry uses its organization's.
#[server(prefix = "/api", endpoint = "set_pantry_time_zone")]
pub async fn set_pantry_time_zone(id: PantryId, time_zone: String) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::set_pantry_time_zone(&state, &caller, &id, &time_zone).await
}

/// The time zone names a place can choose.
#[server(prefix = "/api", endpoint = "time_zones")]
pub async fn time_zone_names() -> Result<Vec<String>, AppError> {
    context().await?;
    Ok(super::service::time_zone_names())
}

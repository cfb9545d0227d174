//! Server functions for stock issues.

use leptos::prelude::*;

use super::model::*;
use crate::error::AppError;
use crate::ids::{OrganizationId, PantryId, StockIssueId};

#[cfg(feature = "ssr")]
async fn context() -> Result<(crate::state::AppState, crate::auth::service::Caller), AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    Ok((state, caller))
}

#[server(prefix = "/api", endpoint = "stock_issues")]
pub async fn get_stock_issues(pantry: PantryId) -> Result<IssueList, AppError> {
    let (state, caller) = context().await?;
    super::service::for_pantry(&state, &caller, &pantry).await
}

#[server(prefix = "/api", endpoint = "organization_stock_issues")]
pub async fn get_organization_stock_issues(
    organization: OrganizationId,
) -> Result<IssueList, AppError> {
    let (state, caller) = context().await?;
    super::service::for_organization(&state, &caller, &organization).await
}

/// Performs what the issue proposes and closes it.
#[server(prefix = "/api", endpoint = "accept_stock_issue")]
pub async fn accept_stock_issue(issue: StockIssueId) -> Result<Accepted, AppError> {
    let (state, caller) = context().await?;
    super::service::accept(&state, &caller, &issue).await
}

/// Closes the issue without acting, saying why.
#[server(prefix = "/api", endpoint = "dismiss_stock_issue")]
pub async fn dismiss_stock_issue(
    issue: StockIssueId,
    #[server(default)] reason: String,
) -> Result<(), AppError> {
    let (state, caller) = context().await?;
    super::service::dismiss(&state, &caller, &issue, &reason).await
}

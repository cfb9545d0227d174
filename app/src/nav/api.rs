//! Server functions for the navigation and the first-run checklist.

use leptos::prelude::*;

use super::model::Navigation;
use crate::error::AppError;

/// The navigation for the signed-in person; `pantry` is the pantry the page
/// names, if any (unchecked: a pantry they cannot see is ignored). Signed
/// out, an empty navigation.
#[server(prefix = "/api", endpoint = "navigation")]
pub async fn get_navigation(#[server(default)] pantry: String) -> Result<Navigation, AppError> {
    use super::service::{navigation, PANTRY_COOKIE};
    let state = crate::state::AppState::current()?;
    let Some(caller) = crate::auth::service::optional_caller(&state).await? else {
        return Ok(Navigation::default());
    };
    let remembered = crate::request::cookie(PANTRY_COOKIE);
    let hint = (!pantry.is_empty()).then_some(pantry.as_str());
    let (nav, remember) = navigation(&state.db, &caller, hint, remembered.as_deref()).await?;
    if let (true, Some(current)) = (remember, &nav.current) {
        crate::request::append_response_header(
            http::header::SET_COOKIE,
            &format!(
                "{PANTRY_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000{}",
                current.id,
                if state.settings.secure_cookies {
                    "; Secure"
                } else {
                    ""
                }
            ),
        );
    }
    Ok(nav)
}

/// The first-run checklists of the organizations the caller administers
/// that still have steps to do.
#[server(prefix = "/api", endpoint = "checklists")]
pub async fn get_checklists() -> Result<Vec<super::model::Checklist>, AppError> {
    let state = crate::state::AppState::current()?;
    let caller = crate::auth::service::require_caller(&state).await?;
    super::service::checklists(&state.db, &caller).await
}

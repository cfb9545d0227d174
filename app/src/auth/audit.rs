//! An organization's audit log, for its admins: who did what, when, where
//! and from which address. Built from the event log (every change carries
//! its actor) and the sign-in records of the organization's members.

use std::collections::HashMap;

use sqlx::Row as _;

use super::model::*;
use super::service::Caller;
use crate::error::{AppError, AppResult};
use crate::ids::OrganizationId;
use crate::state::AppState;

/// Lines per page (and per CSV, which holds the whole period up to this).
pub const PAGE: i64 = 200;
pub const CSV_ROWS: i64 = 50_000;

/// The filter as the page and the CSV link send it.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub from: String,
    pub to: String,
    pub kind: String,
    /// Part of a name or email.
    pub person: String,
    /// Only entries before this instant (ms): the "older" link.
    pub before: Option<i64>,
}

/// The organization's audit log for the query, newest first.
pub async fn audit_page(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    q: &AuditQuery,
    limit: i64,
) -> AppResult<AuditPage> {
    let (org, place) =
        crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    caller.require(&place, Role::Viewer, "organization")?;
    if caller.role_at(&place) != Some(Role::Admin) || caller.key.is_some() {
        return Err(AppError::Forbidden(
            "Only the organization's admins can read its audit log.".into(),
        ));
    }
    let zone = crate::zones::Zone::stored(&org.time_zone);
    let today = zone.day_of(state.clock.now_ms());
    let years = 2000..=2100;
    let to_day = if q.to.trim().is_empty() {
        today
    } else {
        crate::dates::parse_field(&q.to, "to", years.clone())?
    };
    let from_day = if q.from.trim().is_empty() {
        to_day.saturating_sub(time::Duration::days(30))
    } else {
        crate::dates::parse_field(&q.from, "from", years)?
    };
    if from_day > to_day {
        return Err(AppError::invalid(
            "from",
            "The first day is after the last.",
        ));
    }
    let person = crate::input::clean_text(&q.person, "person")?.to_lowercase();
    if person.chars().count() > 200 {
        return Err(AppError::invalid("person", "Use at most 200 characters."));
    }
    let kind = AuditKind::parse(q.kind.trim());
    let from = zone.start_of(from_day);
    let to = zone
        .start_of(to_day.saturating_add(time::Duration::days(1)))
        .min(q.before.unwrap_or(i64::MAX));

    let tree = crate::org::service::organization_tree(&state.db, organization).await?;
    let pantries: HashMap<String, String> = tree
        .pantries
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    let people: HashMap<String, (String, String)> = sqlx::query(
        "select distinct u.id, u.display_name, u.email from users u \
         where u.id in (select user_id from memberships where organization_id = $1) \
            or u.id in (select actor_id from events where organization_id = $1 and actor_id is not null)",
    )
    .bind(organization.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("id")?, (r.try_get("display_name")?, r.try_get("email")?))))
    .collect::<AppResult<_>>()?;
    let who = |id: Option<&str>| match id.and_then(|i| people.get(i)) {
        Some((name, email)) => format!("{name} ({email})"),
        None => "Larder".to_string(),
    };

    let mut entries: Vec<AuditEntry> = Vec::new();
    // One more than shown, to know whether older entries exist.
    let fetch = limit + 1;
    if kind != AuditKind::SignIns {
        for e in crate::events::service::organization_log(&state.db, organization, from, to, fetch)
            .await?
        {
            entries.push(AuditEntry {
                at: zone.format(e.occurred_at),
                at_ms: e.occurred_at,
                who: who(e.actor_id.as_deref()),
                what: audit_label(&e.type_name),
                place: e
                    .pantry_id
                    .as_ref()
                    .and_then(|p| pantries.get(p))
                    .cloned()
                    .unwrap_or_else(|| org.name.clone()),
                address: e.client_ip,
            });
        }
    }
    if kind != AuditKind::Changes {
        let rows = sqlx::query(
            "select s.user_id, s.email, s.method, s.succeeded, s.client_ip, s.at from sign_ins s \
             where s.at >= $2 and s.at < $3 and (s.user_id in (select user_id from memberships where organization_id = $1)) \
             order by s.at desc limit $4",
        )
        .bind(organization.as_str())
        .bind(from)
        .bind(to)
        .bind(fetch)
        .fetch_all(state.db.pool())
        .await?;
        for r in &rows {
            let user: Option<String> = r.try_get("user_id")?;
            let method: String = r.try_get("method")?;
            let ok = r.try_get::<i64, _>("succeeded")? != 0;
            let at: i64 = r.try_get("at")?;
            entries.push(AuditEntry {
                at: zone.format(at),
                at_ms: at,
                who: match user.as_deref() {
                    Some(_) => who(user.as_deref()),
                    None => r.try_get("email")?,
                },
                what: match (ok, method.as_str()) {
                    (true, "oidc") => "Signed in with single sign-on".into(),
                    (true, "reset_link") => "Chose a new password (reset link)".into(),
                    (true, _) => "Signed in".into(),
                    (false, _) => "Sign-in failed".into(),
                },
                place: org.name.clone(),
                address: r.try_get("client_ip")?,
            });
        }
    }
    if !person.is_empty() {
        entries.retain(|e| e.who.to_lowercase().contains(&person));
    }
    entries.sort_by(|a, b| b.at_ms.cmp(&a.at_ms));
    let more = entries.len() as i64 > limit;
    entries.truncate(limit as usize);
    Ok(AuditPage {
        organization_name: org.name,
        entries,
        from: crate::dates::iso(from_day),
        to: crate::dates::iso(to_day),
        more,
    })
}

/// The audit log of the query as CSV (formula cells neutralized).
pub async fn audit_csv(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    q: &AuditQuery,
) -> AppResult<(String, Vec<u8>)> {
    let page = audit_page(state, caller, organization, q, CSV_ROWS).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["when", "who", "what", "where", "address"])
        .map_err(|e| AppError::internal(&e))?;
    for e in &page.entries {
        w.write_record([
            crate::spreadsheet::cell(&e.at).as_ref(),
            crate::spreadsheet::cell(&e.who).as_ref(),
            crate::spreadsheet::cell(&e.what).as_ref(),
            crate::spreadsheet::cell(&e.place).as_ref(),
            crate::spreadsheet::cell(e.address.as_deref().unwrap_or("")).as_ref(),
        ])
        .map_err(|e| AppError::internal(&e))?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::internal(&std::io::Error::other(e.to_string())))?;
    let name = format!(
        "audit-{}-{}-{}.csv",
        crate::spreadsheet::file_slug(&page.organization_name),
        page.from,
        page.to
    );
    Ok((name, bytes))
}

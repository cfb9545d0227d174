//! Stock issues for people: a pantry's and an organization's lists, and
//! accepting (which performs the proposed action) or dismissing (with a
//! reason) one.
//!
//! Anyone who sees a pantry sees its issues; its managers act on them. An
//! organization's price issues are for its managers.

use std::collections::HashMap;

use sqlx::Row as _;

use super::analyser::IssueClosed;
use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::ids::{OrganizationId, PantryId, ProductId, PurchaseOrderId, StockIssueId};
use crate::state::AppState;
use crate::zones::Zone;

/// Closed issues a list shows.
const CLOSED_SHOWN: i64 = 20;
/// The longest dismissal reason kept.
const MAX_REASON: usize = 500;

const SELECT: &str = "select i.id, i.organization_id, i.pantry_id, pa.name as pantry_name, i.product_id, \
     p.name as product_name, i.kind, i.severity, i.status, i.title, i.explanation, i.numbers, i.proposal, \
     i.advice, i.raised_at, i.closed_at, u.display_name as closed_by, i.dismiss_reason, i.order_id \
     from stock_issues i left join pantries pa on pa.id = i.pantry_id \
     left join products p on p.id = i.product_id left join users u on u.id = i.closed_by";

fn issue_from(r: &crate::db::Row, zone: &Zone) -> AppResult<StockIssue> {
    let kind: String = r.try_get("kind")?;
    let severity: String = r.try_get("severity")?;
    let status: String = r.try_get("status")?;
    let numbers: String = r.try_get("numbers")?;
    let proposal: String = r.try_get("proposal")?;
    let raised: i64 = r.try_get("raised_at")?;
    let closed_at: Option<i64> = r.try_get("closed_at")?;
    let closed_by: Option<String> = r.try_get("closed_by")?;
    let reason: Option<String> = r.try_get("dismiss_reason")?;
    let closing = closed_at.map(|at| {
        let when = zone.format(at);
        match (status.as_str(), closed_by, reason) {
            ("dismissed", Some(who), Some(why)) => format!("Dismissed by {who} ({when}): {why}"),
            ("accepted", Some(who), _) => format!("Accepted by {who} ({when})"),
            ("resolved", ..) => format!("Resolved by itself ({when})"),
            (other, ..) => format!("{other} ({when})"),
        }
    });
    let bad = |what: &str| AppError::internal(&std::io::Error::other(format!("stored {what}")));
    Ok(StockIssue {
        id: StockIssueId::from_stored(r.try_get("id")?),
        pantry_id: r
            .try_get::<Option<String>, _>("pantry_id")?
            .map(PantryId::from_stored),
        pantry_name: r.try_get("pantry_name")?,
        product_id: r
            .try_get::<Option<String>, _>("product_id")?
            .map(ProductId::from_stored),
        product_name: r.try_get("product_name")?,
        kind: IssueKind::parse(&kind).ok_or_else(|| bad("kind"))?,
        severity: Severity::parse(&severity).ok_or_else(|| bad("severity"))?,
        status,
        title: r.try_get("title")?,
        explanation: r.try_get("explanation")?,
        numbers: serde_json::from_str(&numbers).map_err(|_| bad("numbers"))?,
        proposal: serde_json::from_str(&proposal).map_err(|_| bad("proposal"))?,
        advice: r.try_get("advice")?,
        raised_at: zone.format(raised),
        closing,
        order_id: r
            .try_get::<Option<String>, _>("order_id")?
            .map(PurchaseOrderId::from_stored),
    })
}

/// Open ones most severe first, then newest; closed ones newest first.
fn split(mut all: Vec<StockIssue>) -> (Vec<StockIssue>, Vec<StockIssue>) {
    let closed: Vec<StockIssue> = all.iter().filter(|i| i.status != "open").cloned().collect();
    all.retain(|i| i.status == "open");
    all.sort_by(|a, b| b.severity.cmp(&a.severity));
    (all, closed)
}

/// A pantry's issues.
pub async fn for_pantry(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
) -> AppResult<IssueList> {
    let (header, place) = crate::inventory::service::pantry_header(&state.db, pantry).await?;
    let role = caller.require(&place, Role::Viewer, "pantry")?;
    let zone = Zone::stored(&header.time_zone);
    let mut rows = sqlx::query(&format!(
        "{SELECT} where i.pantry_id = $1 and i.status = 'open' order by i.raised_at desc"
    ))
    .bind(pantry.as_str())
    .fetch_all(state.db.pool())
    .await?;
    rows.extend(
        sqlx::query(&format!(
            "{SELECT} where i.pantry_id = $1 and i.status <> 'open' order by i.closed_at desc limit {CLOSED_SHOWN}"
        ))
        .bind(pantry.as_str())
        .fetch_all(state.db.pool())
        .await?,
    );
    let all = rows
        .iter()
        .map(|r| issue_from(r, &zone))
        .collect::<AppResult<Vec<_>>>()?;
    let (open, closed) = split(all);
    Ok(IssueList {
        organization_id: header.organization_id.clone(),
        organization_name: header.organization_name.clone(),
        pantry: Some((header.id.clone(), header.name.clone())),
        open,
        closed,
        can_act: role >= Role::Manager && caller.key.is_none(),
    })
}

/// An organization's open issues: its own (prices) for its managers, and
/// those of every pantry the caller sees.
pub async fn for_organization(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<IssueList> {
    let (org, place) =
        crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    let role = caller.role_at(&place);
    let manager = role.is_some_and(|r| r >= Role::Manager);
    let admin = role.is_some_and(|r| r >= Role::Admin);
    if !caller
        .grants
        .iter()
        .any(|g| &g.organization_id == organization)
    {
        return Err(AppError::not_found("organization"));
    }
    let zone = Zone::stored(&org.time_zone);
    let rows = sqlx::query(&format!(
        "{SELECT} where i.organization_id = $1 and i.status = 'open' order by i.raised_at desc"
    ))
    .bind(organization.as_str())
    .fetch_all(state.db.pool())
    .await?;
    // Which pantries the caller sees, asked once each.
    let mut sees: HashMap<String, bool> = HashMap::new();
    let mut open = Vec::new();
    for r in &rows {
        let issue = issue_from(r, &zone)?;
        let visible = match &issue.pantry_id {
            None if issue.kind == IssueKind::ParkedEvents => admin,
            None => manager,
            Some(p) => match sees.get(p.as_str()) {
                Some(v) => *v,
                None => {
                    let (_, place) = crate::inventory::service::pantry_header(&state.db, p).await?;
                    let v = caller.role_at(&place).is_some();
                    sees.insert(p.to_string(), v);
                    v
                }
            },
        };
        if visible {
            open.push(issue);
        }
    }
    let (open, _) = split(open);
    Ok(IssueList {
        organization_id: org.id.clone(),
        organization_name: org.name.clone(),
        pantry: None,
        open,
        closed: Vec::new(),
        can_act: manager && caller.key.is_none(),
    })
}

/// The issue, its place, and the caller's right to act on it (a manager
/// there); a stranger is told it does not exist.
async fn actionable(
    state: &AppState,
    caller: &Caller,
    id: &StockIssueId,
) -> AppResult<(StockIssue, String, Place)> {
    let row = sqlx::query(&format!("{SELECT} where i.id = $1"))
        .bind(id.as_str())
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("issue"))?;
    let organization: String = row.try_get("organization_id")?;
    let place = match row.try_get::<Option<String>, _>("pantry_id")? {
        Some(p) => {
            crate::inventory::service::pantry_header(&state.db, &PantryId::from_stored(p))
                .await?
                .1
        }
        None => {
            crate::org::service::organization_with_place(&state.db, &organization)
                .await?
                .1
        }
    };
    if caller.role_at(&place).is_none() {
        return Err(AppError::not_found("issue"));
    }
    let issue = issue_from(&row, &Zone::utc())?;
    // Parked events are the organization's admins' to retry.
    let needs = if issue.kind == IssueKind::ParkedEvents {
        Role::Admin
    } else {
        Role::Manager
    };
    caller.require(&place, needs, "issue")?;
    if caller.key.is_some() {
        return Err(AppError::forbidden());
    }
    if issue.status != "open" {
        return Err(AppError::conflict(
            "issue",
            format!("This issue is already {}.", issue.status),
        ));
    }
    Ok((issue, organization, place))
}

/// Closes an open issue for `status`; false when someone else closed it
/// first. An accepted issue keeps its key until its action is done
/// ([`release_key`]), so the analyser, looking meanwhile (a new draft's
/// event comes before its lines), finds it and raises no second one.
async fn close(
    state: &AppState,
    caller: &Caller,
    id: &StockIssueId,
    status: &str,
    reason: Option<&str>,
) -> AppResult<bool> {
    Ok(sqlx::query(
        "update stock_issues set status = $1, \
         open_key = case when $1 = 'accepted' then open_key else null end, \
         closed_at = $2, updated_at = $2, closed_by = $3, dismiss_reason = $4 where id = $5 and status = 'open'",
    )
    .bind(status)
    .bind(state.clock.now_ms())
    .bind(caller.me.id.as_str())
    .bind(reason)
    .bind(id.as_str())
    .execute(state.db.pool())
    .await?
    .rows_affected()
        == 1)
}

/// Frees an accepted issue's key once its action is done.
async fn release_key(state: &AppState, id: &StockIssueId) -> AppResult<()> {
    sqlx::query("update stock_issues set open_key = null where id = $1")
        .bind(id.as_str())
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// Puts an accepted issue back to open when its action failed (it still
/// holds its key).
async fn reopen(state: &AppState, id: &StockIssueId) -> AppResult<()> {
    sqlx::query(
        "update stock_issues set status = 'open', closed_at = null, closed_by = null where id = $1",
    )
    .bind(id.as_str())
    .execute(state.db.pool())
    .await?;
    Ok(())
}

async fn closed_event(
    state: &AppState,
    caller: &Caller,
    organization: &str,
    issue: &StockIssue,
    event: DomainEvent,
) -> AppResult<()> {
    let mut tx = state.db.begin().await?;
    crate::events::store::append(
        &mut tx,
        state.db.backend(),
        &crate::events::store::NewEvent {
            event: &event,
            organization_id: organization,
            pantry_id: issue.pantry_id.as_ref().map(|p| p.as_str()),
            actor_id: Some(caller.me.id.as_str()),
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Accepts an issue: performs what it proposes, then closes it. Claimed
/// first, so two people accepting at once cannot both transfer stock.
pub async fn accept(state: &AppState, caller: &Caller, id: &StockIssueId) -> AppResult<Accepted> {
    let (issue, organization, _) = actionable(state, caller, id).await?;
    if !close(state, caller, id, "accepted", None).await? {
        return Err(AppError::conflict(
            "issue",
            "Someone else closed this issue just now.",
        ));
    }
    let done = perform(state, caller, &organization, &issue).await;
    let accepted = match done {
        Ok(a) => a,
        Err(e) => {
            reopen(state, id).await?;
            return Err(e);
        }
    };
    release_key(state, id).await?;
    if let Some(order) = &accepted.order_id {
        sqlx::query("update stock_issues set order_id = $1 where id = $2")
            .bind(order.as_str())
            .bind(id.as_str())
            .execute(state.db.pool())
            .await?;
    }
    closed_event(
        state,
        caller,
        &organization,
        &issue,
        DomainEvent::StockIssueAccepted(IssueClosed {
            issue_id: id.to_string(),
            order_id: accepted.order_id.as_ref().map(|o| o.to_string()),
            reason: None,
        }),
    )
    .await?;
    Ok(accepted)
}

async fn perform(
    state: &AppState,
    caller: &Caller,
    organization: &str,
    issue: &StockIssue,
) -> AppResult<Accepted> {
    let pantry = || {
        issue
            .pantry_id
            .clone()
            .ok_or_else(|| AppError::invalid("issue", "This issue belongs to no pantry."))
    };
    match &issue.proposal {
        Proposal::DraftOrder {
            supplier_id,
            supplier_name,
            item_id,
            packs,
            quantity,
            ..
        } => {
            let order = crate::purchasing::drafting::into_draft(
                state,
                caller,
                &pantry()?,
                supplier_id,
                &[(item_id.clone(), *packs)],
                &format!("Drafted from a stock issue: {}", issue.title),
            )
            .await?;
            Ok(Accepted {
                message: format!(
                    "Drafted: {quantity} from {supplier_name}. Submit it when it is right."
                ),
                order_id: Some(order),
            })
        }
        Proposal::ReduceLine {
            order_id,
            order_label,
            item_id,
            to_packs,
            ..
        } => {
            crate::purchasing::orders::set_line(
                state,
                caller,
                order_id,
                item_id,
                &to_packs.to_string(),
            )
            .await?;
            Ok(Accepted {
                message: format!("{order_label} changed."),
                order_id: Some(order_id.clone()),
            })
        }
        Proposal::Transfer {
            to_pantry_id,
            to_pantry_name,
            quantity,
            quantity_text,
        } => {
            let product = issue
                .product_id
                .clone()
                .ok_or_else(|| AppError::invalid("issue", "This issue names no product."))?;
            let fields = crate::inventory::service::MovementFields {
                quantity: quantity.clone(),
                to: to_pantry_id.to_string(),
                note: format!("From a stock issue: {}", issue.title),
                ..Default::default()
            };
            crate::inventory::service::transfer(state, caller, &pantry()?, &product, &fields)
                .await?;
            Ok(Accepted {
                message: format!("Transferred {quantity_text} to {to_pantry_name}."),
                order_id: None,
            })
        }
        Proposal::RetryParked { .. } => {
            let parked: Vec<String> = sqlx::query_scalar(
                "select d.id from dead_letters d join events e on e.seq = d.event_seq \
                 where e.organization_id = $1 and d.resolved_at is null order by d.event_seq",
            )
            .bind(organization)
            .fetch_all(state.db.pool())
            .await?;
            let mut failed = Vec::new();
            for id in &parked {
                let id = crate::ids::DeadLetterId::from_stored(id.clone());
                if let crate::events::model::RetryOutcome::FailedAgain(why) =
                    crate::events::service::retry(state, caller, &id).await?
                {
                    failed.push(why);
                }
            }
            match failed.first() {
                None => Ok(Accepted {
                    message: format!(
                        "Retried: {} event{} went through.",
                        parked.len(),
                        if parked.len() == 1 { "" } else { "s" }
                    ),
                    order_id: None,
                }),
                Some(why) => Err(AppError::conflict(
                    "issue",
                    format!(
                        "{} of {} still fail{}, so the issue stays open. The first: {why}",
                        failed.len(),
                        parked.len(),
                        if failed.len() == 1 { "s" } else { "" }
                    ),
                )),
            }
        }
        Proposal::Acknowledge => Ok(Accepted {
            message: "Marked as seen.".into(),
            order_id: None,
        }),
    }
}

/// Dismisses an issue with a reason; the same trouble keeps quiet for a
/// week unless it gets worse.
pub async fn dismiss(
    state: &AppState,
    caller: &Caller,
    id: &StockIssueId,
    reason: &str,
) -> AppResult<()> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(AppError::invalid(
            "reason",
            "Say why, so the others know: “ordered by phone”, “we stop carrying it”.",
        ));
    }
    if reason.chars().count() > MAX_REASON || reason.chars().any(|c| c.is_control() && c != '\n') {
        return Err(AppError::invalid(
            "reason",
            format!("Keep the reason under {MAX_REASON} characters, on plain lines."),
        ));
    }
    let (issue, organization, _) = actionable(state, caller, id).await?;
    if !close(state, caller, id, "dismissed", Some(reason)).await? {
        return Err(AppError::conflict(
            "issue",
            "Someone else closed this issue just now.",
        ));
    }
    closed_event(
        state,
        caller,
        &organization,
        &issue,
        DomainEvent::StockIssueDismissed(IssueClosed {
            issue_id: id.to_string(),
            order_id: None,
            reason: Some(reason.to_string()),
        }),
    )
    .await
}

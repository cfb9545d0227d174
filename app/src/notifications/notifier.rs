//! Turns events into notifications for the people they concern: an urgent
//! stock issue, an order proposed and waiting, stock expiring, an order
//! received (the pantry's managers), a supplier's sync that failed (the
//! organization's managers), events set aside after failing (the
//! organization's admins). Each person's preference for the kind
//! decides whether it shows in Larder.
//!
//! Durable, and keyed by (person, event): an event delivered twice never
//! notifies anyone twice, in Larder or by push ([`super::push`]).

use sqlx::Row as _;

use super::model::{Channel, Kind};
use crate::db::{Db, Tx};
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::Event;
use crate::ids::NotificationId;

pub struct Notifier {
    pub db: Db,
}

/// One notification, before it is given to each person.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub kind: Kind,
    pub title: String,
    pub body: String,
    pub link: String,
    /// The pantry whose managers are told; none for the organization's.
    pub pantry: Option<String>,
    /// Only the organization's admins are told.
    pub admins_only: bool,
    /// These people are told, instead of a place's managers.
    pub to: Option<Vec<String>>,
}

impl Consumer for Notifier {
    fn name(&self) -> &'static str {
        "notifier"
    }

    fn durability(&self) -> Durability {
        Durability::Durable
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let Ok(domain) = event.domain() {
                if super::community::concerns(domain) {
                    let tx = delivery.tx().await?;
                    return super::community::handle(tx, event, domain)
                        .await
                        .map_err(|e| e.to_string());
                }
            }
            let Some(notice) = notice_of(&self.db, event)
                .await
                .map_err(|e| e.to_string())?
            else {
                return Ok(());
            };
            let tx = delivery.tx().await?;
            deliver(tx, event, &notice).await.map_err(|e| e.to_string())
        })
    }
}

/// What an event tells people, if anything.
async fn notice_of(db: &Db, event: &Event) -> Result<Option<Notice>, sqlx::Error> {
    let Ok(domain) = event.domain() else {
        return Ok(None);
    };
    let pantry = event.pantry_id.clone();
    Ok(match domain {
        DomainEvent::StockIssueRaised(r) => {
            let kind = match (r.severity.as_str(), r.kind.as_str()) {
                (_, "parked_events") => Kind::ParkedEvents,
                ("urgent", _) => Kind::UrgentIssue,
                (_, "reorder") => Kind::ProposedOrder,
                (_, "expiring") => Kind::Expiring,
                _ => return Ok(None),
            };
            let link = match (&pantry, kind) {
                (_, Kind::ParkedEvents) => {
                    format!("/organizations/{}/issues", event.organization_id)
                }
                (Some(p), _) => format!("/pantries/{p}/issues"),
                (None, _) => format!("/organizations/{}/issues", event.organization_id),
            };
            // What accepting would do, in the words of its button.
            let proposal: Option<String> =
                sqlx::query_scalar("select proposal from stock_issues where id = $1")
                    .bind(&r.issue_id)
                    .fetch_optional(db.pool())
                    .await?;
            let proposal = proposal
                .and_then(|p| serde_json::from_str::<crate::stock_issues::model::Proposal>(&p).ok())
                .filter(|p| *p != crate::stock_issues::model::Proposal::Acknowledge)
                .map(|p| p.action_label());
            let body = match proposal {
                Some(action) => format!("Proposed: {action}. Open the stock issues to accept it."),
                None => "Open the stock issues to see what Larder proposes.".to_string(),
            };
            Some(Notice {
                kind,
                title: r.title.clone(),
                body,
                link,
                pantry: pantry.filter(|_| kind != Kind::ParkedEvents),
                admins_only: kind == Kind::ParkedEvents,
                to: None,
            })
        }
        DomainEvent::PurchaseOrderReceived(o) if o.status == "received" => {
            let supplier: Option<String> =
                sqlx::query_scalar("select name from suppliers where id = $1")
                    .bind(&o.supplier_id)
                    .fetch_optional(db.pool())
                    .await?;
            Some(Notice {
                kind: Kind::OrderReceived,
                title: format!(
                    "{} from {} was received",
                    crate::purchasing::model::order_label(o.number),
                    supplier.unwrap_or_else(|| "the supplier".into())
                ),
                body: "Everything on it is on the shelf.".into(),
                link: format!("/orders/{}", o.order_id),
                pantry,
                admins_only: false,
                to: None,
            })
        }
        DomainEvent::SupplierSyncFailed(f) => {
            let supplier: Option<String> =
                sqlx::query_scalar("select name from suppliers where id = $1")
                    .bind(&f.supplier_id)
                    .fetch_optional(db.pool())
                    .await?;
            Some(Notice {
                kind: Kind::SyncFailed,
                title: format!(
                    "The catalog sync of {} failed",
                    supplier.unwrap_or_else(|| "a supplier".into())
                ),
                body: f.message.clone(),
                link: format!("/suppliers/{}", f.supplier_id),
                pantry: None,
                admins_only: false,
                to: None,
            })
        }
        _ => None,
    })
}

/// Gives the notice to each manager it concerns whose preference keeps it
/// in Larder (the default), once per event.
pub(super) async fn deliver(
    tx: &mut Tx,
    event: &Event,
    notice: &Notice,
) -> Result<(), sqlx::Error> {
    // The people named, the pantry's managers (at it, its campus or its
    // organization), or every manager of the organization.
    let people: Vec<String> = match &notice.pantry {
        _ if notice.to.is_some() => notice.to.clone().unwrap_or_default(),
        Some(p) => {
            sqlx::query_scalar(
                "select distinct m.user_id from memberships m join pantries pa on pa.id = $1 \
                 join users u on u.id = m.user_id \
                 where m.role in ('admin', 'manager') and u.disabled_at is null and ( \
                 (m.scope_kind = 'organization' and m.scope_id = pa.organization_id) or \
                 (m.scope_kind = 'campus' and m.scope_id = pa.campus_id) or \
                 (m.scope_kind = 'pantry' and m.scope_id = pa.id))",
            )
            .bind(p)
            .fetch_all(&mut **tx)
            .await?
        }
        // The organization's admins: those who may retry parked events.
        None if notice.admins_only => {
            sqlx::query_scalar(
                "select distinct m.user_id from memberships m join users u on u.id = m.user_id \
                 where m.organization_id = $1 and m.role = 'admin' and m.scope_kind = 'organization' \
                 and u.disabled_at is null",
            )
            .bind(&event.organization_id)
            .fetch_all(&mut **tx)
            .await?
        }
        None => {
            sqlx::query_scalar(
                "select distinct m.user_id from memberships m join users u on u.id = m.user_id \
                 where m.organization_id = $1 and m.role in ('admin', 'manager') and u.disabled_at is null",
            )
            .bind(&event.organization_id)
            .fetch_all(&mut **tx)
            .await?
        }
    };
    for person in people {
        // The person's channel for the kind (both, unless they chose) and
        // whether their pushes wait for the digest, asked together.
        let choice = sqlx::query(
            "select (select channel from notification_preferences where user_id = $1 and kind = $2) as channel, \
             (select daily_digest from notification_settings where user_id = $1) as digest",
        )
        .bind(&person)
        .bind(notice.kind.as_str())
        .fetch_one(&mut **tx)
        .await?;
        let channel = choice
            .try_get::<Option<String>, _>("channel")?
            .and_then(|c| Channel::parse(&c))
            .unwrap_or(Channel::Both);
        let digest = choice.try_get::<Option<i64>, _>("digest")?.unwrap_or(0) != 0;
        if channel.push() && digest {
            super::digest::hold(
                tx,
                &person,
                event.id.as_str(),
                &event.organization_id,
                &notice.title,
                event.occurred_at,
            )
            .await?;
        } else if channel.push() {
            let payload = serde_json::json!({
                "title": notice.title,
                "body": notice.body,
                "link": notice.link,
            });
            super::push::queue(tx, &person, event.id.as_str(), &payload, event.occurred_at).await?;
        }
        if !channel.in_app() {
            continue;
        }
        sqlx::query(
            "insert into notifications (id, user_id, organization_id, pantry_id, kind, title, body, link, source, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) on conflict (user_id, source) do nothing",
        )
        .bind(NotificationId::new().as_str())
        .bind(&person)
        .bind(&event.organization_id)
        .bind(&notice.pantry)
        .bind(notice.kind.as_str())
        .bind(&notice.title)
        .bind(&notice.body)
        .bind(&notice.link)
        .bind(event.id.as_str())
        .bind(event.occurred_at)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

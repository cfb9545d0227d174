//! Posts Larder writes on a pantry's timeline from what happens there: a
//! product back in stock, a large donation, a milestone of visits this
//! semester, and a need the stock issue analyser found. A pantry's
//! managers turn each on (all are off until they do). They say what and how much, never who: no client code,
//! no household, no donor.
//!
//! A post's `source` names the event (or the milestone) it came from, so
//! an event delivered twice posts once. The post is published with its
//! own `PostPublished` event, which the timelines consumer fans out.

use time::{Date, Month};

use super::model::{AutomaticPosts as Wanted, PostKind};
use super::service::PostChanged;
use crate::db::{Db, Tx};
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::{Event, NewEvent};
use crate::ids::PostId;
use crate::zones::Zone;

/// A donation this many units or more is a large one...
const LARGE_DONATION_UNITS: i64 = 100;
/// ...and so is one this heavy.
const LARGE_DONATION_GRAMS: i64 = 50_000;
/// Visit counts this semester worth a post.
const MILESTONES: [i64; 8] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000];

pub struct AutomaticPoster {
    pub db: Db,
}

impl Consumer for AutomaticPoster {
    fn name(&self) -> &'static str {
        "automatic-posts"
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
            let (Ok(domain), Some(pantry)) = (event.domain(), event.pantry_id.as_deref()) else {
                return Ok(());
            };
            if !matches!(
                domain,
                DomainEvent::StockReceived(_)
                    | DomainEvent::VisitRecorded(_)
                    | DomainEvent::StockIssueRaised(_)
            ) {
                return Ok(());
            }
            let tx = delivery.tx().await?;
            let posts = drafts(tx, event, domain, pantry)
                .await
                .map_err(|e| e.to_string())?;
            for (source, body) in posts {
                publish(tx, &self.db, event, pantry, &source, &body)
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        })
    }
}

/// Which automatic posts a pantry wants (all, until its managers choose).
pub async fn wanted(conn: &mut sqlx::AnyConnection, pantry: &str) -> Result<Wanted, sqlx::Error> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "select auto_donations, auto_milestones, auto_back_in_stock, auto_needs from timeline_settings where pantry_id = $1",
    )
    .bind(pantry)
    .fetch_optional(conn)
    .await?;
    Ok(match row {
        Some((d, m, b, n)) => Wanted {
            donations: d != 0,
            milestones: m != 0,
            back_in_stock: b != 0,
            needs: n != 0,
        },
        // Off until the pantry's managers turn them on: Larder does not
        // speak on a pantry's timeline unasked.
        None => Wanted {
            donations: false,
            milestones: false,
            back_in_stock: false,
            needs: false,
        },
    })
}

/// The posts an event makes: (source, text).
async fn drafts(
    tx: &mut Tx,
    event: &Event,
    domain: &DomainEvent,
    pantry: &str,
) -> Result<Vec<(String, String)>, sqlx::Error> {
    // What happened before the pantry last chose is not posted (so an
    // event delivered again after a kind was turned on stays unposted).
    let chosen_at: Option<i64> =
        sqlx::query_scalar("select updated_at from timeline_settings where pantry_id = $1")
            .bind(pantry)
            .fetch_optional(&mut **tx)
            .await?;
    if chosen_at.is_some_and(|t| event.occurred_at < t) {
        return Ok(vec![]);
    }
    let wanted = wanted(&mut **tx, pantry).await?;
    let mut out = Vec::new();
    match domain {
        DomainEvent::StockReceived(m) => {
            let product = product_name(tx, &m.product_id).await?;
            // Back: none was left, and it had been here before (a first
            // delivery of a product is not news of it coming back).
            if wanted.back_in_stock
                && m.quantity > 0
                && m.on_hand == m.quantity
                && crate::inventory::service::stocked_before(
                    &mut **tx,
                    pantry,
                    &m.product_id,
                    &m.movement_id,
                )
                .await?
            {
                out.push((
                    format!("{}:back", event.id),
                    format!("{product} is back in stock."),
                ));
            }
            let large = m.quantity >= LARGE_DONATION_UNITS
                || m.weight_g.is_some_and(|g| g >= LARGE_DONATION_GRAMS);
            if wanted.donations && m.source.as_deref() == Some("donation") && large {
                let weight = m
                    .weight_g
                    .map(|g| format!(" ({} kg)", (g + 500) / 1000))
                    .unwrap_or_default();
                out.push((
                    format!("{}:donation", event.id),
                    format!(
                        "A large donation came in: {} × {product}{weight}. Thank you to everyone who gives!",
                        m.quantity
                    ),
                ));
            }
        }
        DomainEvent::VisitRecorded(_) if wanted.milestones => {
            let (zone, pantry_name) = pantry_zone(tx, pantry).await?;
            let (label, since) = semester(&zone, event.occurred_at);
            let visits = crate::usage::service::visits_since(tx, pantry, since).await?;
            if MILESTONES.contains(&visits) {
                out.push((
                    format!("milestone:{pantry}:{label}:{visits}"),
                    format!(
                        "{pantry_name} has welcomed {} visits this semester. Thank you to every volunteer and donor!",
                        thousands(visits)
                    ),
                ));
            }
        }
        DomainEvent::StockIssueRaised(r)
            if wanted.needs
                && r.severity == "urgent"
                && matches!(r.kind.as_str(), "stockout" | "reorder") =>
        {
            if let Some(product) = &r.product_id {
                let product = product_name(tx, product).await?;
                out.push((
                    format!("{}:need", event.id),
                    format!("We need {product}: we are running low. Donations are welcome."),
                ));
            }
        }
        _ => {}
    }
    Ok(out)
}

/// Writes the post (once per source) and its event.
async fn publish(
    tx: &mut Tx,
    db: &Db,
    event: &Event,
    pantry: &str,
    source: &str,
    body: &str,
) -> Result<(), sqlx::Error> {
    let id = PostId::new();
    let added = sqlx::query(
        "insert into posts (id, organization_id, pantry_id, author_id, kind, body, created_at, source) \
         values ($1, $2, $3, null, $4, $5, $6, $7) on conflict (source) do nothing",
    )
    .bind(id.as_str())
    .bind(&event.organization_id)
    .bind(pantry)
    .bind(PostKind::Automatic.as_str())
    .bind(body)
    .bind(event.occurred_at)
    .bind(source)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if added == 0 {
        return Ok(());
    }
    let published = DomainEvent::PostPublished(PostChanged {
        post_id: id.to_string(),
        pantry_id: pantry.to_string(),
        author_id: None,
        mentioned: vec![],
    });
    crate::events::store::append(
        tx,
        db.backend(),
        &NewEvent {
            event: &published,
            organization_id: &event.organization_id,
            pantry_id: Some(pantry),
            actor_id: None,
            correlation_id: &event.correlation_id,
            client_ip: None,
            trace_parent: event.trace_parent.as_deref(),
            occurred_at: event.occurred_at,
        },
    )
    .await
    .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
    Ok(())
}

async fn product_name(tx: &mut Tx, product: &str) -> Result<String, sqlx::Error> {
    let name: Option<String> = sqlx::query_scalar("select name from products where id = $1")
        .bind(product)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(name.unwrap_or_else(|| "A product".into()))
}

async fn pantry_zone(tx: &mut Tx, pantry: &str) -> Result<(Zone, String), sqlx::Error> {
    let (zone, name): (String, String) = sqlx::query_as(
        "select coalesce(pa.time_zone, o.time_zone), pa.name from pantries pa \
         join organizations o on o.id = pa.organization_id where pa.id = $1",
    )
    .bind(pantry)
    .fetch_one(&mut **tx)
    .await?;
    Ok((Zone::stored(&zone), name))
}

/// The semester `at` falls in (January–June or July–December, on the
/// pantry's calendar): its name and its first moment.
fn semester(zone: &Zone, at: i64) -> (String, i64) {
    let day = zone.day_of(at);
    let (month, half) = if (day.month() as u8) <= 6 {
        (Month::January, "spring")
    } else {
        (Month::July, "fall")
    };
    let start = Date::from_calendar_date(day.year(), month, 1).unwrap_or(day);
    (format!("{}-{half}", day.year()), zone.start_of(start))
}

/// 1000 → "1,000".
fn thousands(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semesters_start_in_january_and_july_on_the_pantrys_calendar() {
        let zone = Zone::stored("America/New_York");
        // 2027-07-01 03:00 UTC is still June 30th in New York.
        let at = 1_814_410_800_000;
        let (label, since) = semester(&zone, at);
        assert_eq!(label, "2027-spring");
        assert_eq!(zone.day_of(since).to_string(), "2027-01-01");
        assert!(since < at);
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(25_000), "25,000");
        assert_eq!(thousands(250), "250");
    }
}

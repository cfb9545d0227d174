//! The daily digest: for people who chose it, the pushes of a day are
//! held and sent as one, in the morning of their organization's clock.
//!
//! The notifier holds each push as a `digest_items` row instead of
//! queueing it. Every `job_check` a task looks for people with held items
//! whose morning has come and who have had no digest today; claiming the
//! day (one conditional UPDATE) makes one process the sender, and the
//! digest goes out through the ordinary push queue (keyed by person and
//! day, so it is sent once) in the transaction that drops the items.

use std::time::Duration;

use sqlx::Row as _;

use crate::db::Tx;
use crate::error::AppResult;
use crate::state::AppState;
use crate::tasks::Supervisor;
use crate::zones::Zone;

/// The local hour the digest goes out from.
pub const DIGEST_HOUR: i8 = 7;
/// Titles a digest names; the rest are counted.
const NAMED: usize = 3;

/// Holds a push for the person's next digest (once per event).
pub(super) async fn hold(
    tx: &mut Tx,
    person: &str,
    source: &str,
    organization: &str,
    title: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into digest_items (user_id, source, organization_id, title, created_at) \
         values ($1, $2, $3, $4, $5) on conflict (user_id, source) do nothing",
    )
    .bind(person)
    .bind(source)
    .bind(organization)
    .bind(title)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The digest's words for the titles it carries, oldest first.
pub fn digest_message(titles: &[String]) -> (String, String) {
    let n = titles.len();
    let title = match n {
        1 => "Larder: 1 thing since your last digest".to_string(),
        n => format!("Larder: {n} things since your last digest"),
    };
    let mut body = titles
        .iter()
        .take(NAMED)
        .cloned()
        .collect::<Vec<_>>()
        .join("; ");
    if n > NAMED {
        body.push_str(&format!("; and {} more", n - NAMED));
    }
    body.push('.');
    (title, body)
}

/// Queues the digests whose morning has come; returns how many.
pub async fn send_due(state: &AppState) -> AppResult<usize> {
    let now = state.clock.now_ms();
    let people = sqlx::query(
        "select s.user_id, s.digest_sent_on, \
         (select o.time_zone from digest_items d join organizations o on o.id = d.organization_id \
          where d.user_id = s.user_id order by d.created_at limit 1) as time_zone \
         from notification_settings s where s.daily_digest = 1 \
         and exists (select 1 from digest_items d where d.user_id = s.user_id)",
    )
    .fetch_all(state.db.pool())
    .await?;
    let mut sent = 0;
    for row in people {
        let person: String = row.try_get("user_id")?;
        let last: Option<String> = row.try_get("digest_sent_on")?;
        let zone = Zone::stored(
            &row.try_get::<Option<String>, _>("time_zone")?
                .unwrap_or_default(),
        );
        let Some(wall) = zone.wall_clock(now) else {
            continue;
        };
        let today = wall.date().to_string();
        if wall.hour() < DIGEST_HOUR || last.as_deref() == Some(today.as_str()) {
            continue;
        }
        let mut tx = state.db.begin().await?;
        // Claiming the day: another process looking now finds it taken.
        let claimed = sqlx::query(
            "update notification_settings set digest_sent_on = $1 \
             where user_id = $2 and (digest_sent_on is null or digest_sent_on <> $1)",
        )
        .bind(&today)
        .bind(&person)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if claimed != 1 {
            continue;
        }
        let items: Vec<(String, i64)> = sqlx::query_as(
            "select title, created_at from digest_items where user_id = $1 and created_at <= $2 \
             order by created_at, source",
        )
        .bind(&person)
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        if items.is_empty() {
            continue;
        }
        let titles: Vec<String> = items.into_iter().map(|(t, _)| t).collect();
        let (title, body) = digest_message(&titles);
        let payload = serde_json::json!({ "title": title, "body": body, "link": "/notifications" });
        super::push::queue(&mut tx, &person, &format!("digest:{today}"), &payload, now).await?;
        sqlx::query("delete from digest_items where user_id = $1 and created_at <= $2")
            .bind(&person)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sent += 1;
    }
    Ok(sent)
}

/// Starts the digest's task: every `check`, queue the digests due.
pub fn start(
    supervisor: &Supervisor,
    state: AppState,
    check: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    crate::tasks::every(supervisor, "push-digest", check, stop, move || {
        let state = state.clone();
        async move { send_due(&state).await.map(|_| ()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_digest_names_the_first_three_and_counts_the_rest() {
        let t = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            digest_message(&t(&["Rice will run out"])),
            (
                "Larder: 1 thing since your last digest".to_string(),
                "Rice will run out.".to_string()
            )
        );
        let (title, body) = digest_message(&t(&["A", "B", "C", "D", "E"]));
        assert_eq!(title, "Larder: 5 things since your last digest");
        assert_eq!(body, "A; B; C; and 2 more.");
    }
}

//! A person's notification centre and preferences. Everyone sees only
//! their own.

use sqlx::Row as _;

use super::model::*;
use crate::auth::service::Caller;
use crate::error::{AppError, AppResult};
use crate::ids::NotificationId;
use crate::state::AppState;
use crate::zones::Zone;

/// Notifications the centre lists.
const SHOWN: i64 = 50;

/// The newest notifications and how many are unread.
pub async fn centre(state: &AppState, caller: &Caller) -> AppResult<Centre> {
    let me = caller.me.id.as_str();
    let rows = sqlx::query(
        "select n.id, n.kind, n.title, n.body, n.link, n.created_at, n.read_at, o.time_zone \
         from notifications n join organizations o on o.id = n.organization_id \
         where n.user_id = $1 order by n.created_at desc, n.id desc limit $2",
    )
    .bind(me)
    .bind(SHOWN)
    .fetch_all(state.db.pool())
    .await?;
    let notifications = rows
        .iter()
        .filter_map(|r| {
            let kind = Kind::parse(&r.try_get::<String, _>("kind").ok()?)?;
            let zone = Zone::stored(&r.try_get::<String, _>("time_zone").ok()?);
            Some(Notification {
                id: NotificationId::from_stored(r.try_get("id").ok()?),
                kind,
                title: r.try_get("title").ok()?,
                body: r.try_get("body").ok()?,
                link: r.try_get("link").ok()?,
                at: zone.format(r.try_get("created_at").ok()?),
                read: r.try_get::<Option<i64>, _>("read_at").ok()?.is_some(),
            })
        })
        .collect();
    Ok(Centre {
        notifications,
        unread: unread(state, caller).await?,
    })
}

/// How many of the person's notifications are unread (the header's count).
pub async fn unread(state: &AppState, caller: &Caller) -> AppResult<i64> {
    Ok(sqlx::query_scalar(
        "select count(*) from notifications where user_id = $1 and read_at is null",
    )
    .bind(caller.me.id.as_str())
    .fetch_one(state.db.pool())
    .await?)
}

/// Marks one notification read, or (`None`) all of them.
pub async fn mark_read(
    state: &AppState,
    caller: &Caller,
    id: Option<&NotificationId>,
) -> AppResult<()> {
    let now = state.clock.now_ms();
    let me = caller.me.id.as_str();
    match id {
        Some(id) => {
            let found = sqlx::query(
                "update notifications set read_at = coalesce(read_at, $1) where id = $2 and user_id = $3",
            )
            .bind(now)
            .bind(id.as_str())
            .bind(me)
            .execute(state.db.pool())
            .await?
            .rows_affected();
            if found == 0 {
                return Err(AppError::not_found("notification"));
            }
        }
        None => {
            sqlx::query(
                "update notifications set read_at = $1 where user_id = $2 and read_at is null",
            )
            .bind(now)
            .bind(me)
            .execute(state.db.pool())
            .await?;
        }
    }
    Ok(())
}

/// The person's channel for each kind (both, unless they chose) and the
/// digest.
pub async fn preferences(state: &AppState, caller: &Caller) -> AppResult<Preferences> {
    let me = caller.me.id.as_str();
    let chosen: Vec<(String, String)> =
        sqlx::query_as("select kind, channel from notification_preferences where user_id = $1")
            .bind(me)
            .fetch_all(state.db.pool())
            .await?;
    let channels = Kind::ALL
        .into_iter()
        .map(|k| {
            let c = chosen
                .iter()
                .find(|(kind, _)| kind == k.as_str())
                .and_then(|(_, c)| Channel::parse(c))
                .unwrap_or(Channel::Both);
            (k, c)
        })
        .collect();
    let digest: Option<i64> =
        sqlx::query_scalar("select daily_digest from notification_settings where user_id = $1")
            .bind(me)
            .fetch_optional(state.db.pool())
            .await?;
    Ok(Preferences {
        channels,
        daily_digest: digest.unwrap_or(0) != 0,
    })
}

/// Sets the channel of each kind given as `kind=channel`, and the digest.
pub async fn set_preferences(
    state: &AppState,
    caller: &Caller,
    channels: &[(String, String)],
    daily_digest: bool,
) -> AppResult<()> {
    let me = caller.me.id.as_str();
    let mut parsed = Vec::new();
    for (kind, channel) in channels {
        let k = Kind::parse(kind).ok_or_else(|| {
            AppError::invalid("kind", format!("“{kind}” is not a kind of notification."))
        })?;
        let c = Channel::parse(channel).ok_or_else(|| {
            AppError::invalid(
                k.as_str(),
                format!("“{channel}” is not a channel: in_app, push, both or off."),
            )
        })?;
        parsed.push((k, c));
    }
    let mut tx = state.db.begin().await?;
    for (k, c) in parsed {
        sqlx::query(
            "insert into notification_preferences (user_id, kind, channel) values ($1, $2, $3) \
             on conflict (user_id, kind) do update set channel = excluded.channel",
        )
        .bind(me)
        .bind(k.as_str())
        .bind(c.as_str())
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "insert into notification_settings (user_id, daily_digest) values ($1, $2) \
         on conflict (user_id) do update set daily_digest = excluded.daily_digest",
    )
    .bind(me)
    .bind(daily_digest as i64)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

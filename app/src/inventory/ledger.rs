//! The ledger's read API: what other modules (donations, reports, usage
//! history, the catalog, visits) may know of `movements` and `lots`,
//! which only the inventory module reads and writes. Each answer is a
//! typed row; the SQL stays here, next to the code that writes it.
//!
//! Sums over days count each pantry's local days ([`LocalDays`]); a
//! visit's movements can be counted on the visit's own time instead of
//! their own (a correction made later counts on the day of the visit).

use std::collections::HashMap;

use sqlx::Row as _;

use crate::db::{self, Db, Tx, Value};
use crate::error::AppResult;
use crate::org::model::Scope;
use crate::zones::LocalDays;

const DAY_MS: i64 = 86_400_000;

/// One ledger line, with the names people read it by.
#[derive(Debug, Clone)]
pub struct Line {
    pub id: String,
    pub pantry_id: String,
    pub pantry_name: String,
    pub product_id: String,
    pub product_name: String,
    /// The product's unit, as stored.
    pub unit: String,
    pub kind: String,
    pub source: Option<String>,
    pub donor: Option<String>,
    /// Signed: what the pantry's stock changed by.
    pub quantity: i64,
    pub weight_g: Option<i64>,
    pub note: Option<String>,
    pub occurred_at: i64,
    /// Who recorded it ("" when the account is gone).
    pub actor_name: String,
}

const LINE_COLUMNS: &str = "m.id, m.pantry_id, pa.name as pantry_name, m.product_id, p.name as product_name, p.unit, \
     m.kind, m.source, m.donor, m.quantity, m.weight_g, m.note, m.occurred_at, coalesce(u.display_name, '') as actor_name \
     from movements m join products p on p.id = m.product_id join pantries pa on pa.id = m.pantry_id \
     left join users u on u.id = m.actor_id";

fn line_from(r: &db::Row) -> Result<Line, sqlx::Error> {
    Ok(Line {
        id: r.try_get("id")?,
        pantry_id: r.try_get("pantry_id")?,
        pantry_name: r.try_get("pantry_name")?,
        product_id: r.try_get("product_id")?,
        product_name: r.try_get("product_name")?,
        unit: r.try_get("unit")?,
        kind: r.try_get("kind")?,
        source: r.try_get("source")?,
        donor: r.try_get("donor")?,
        quantity: r.try_get("quantity")?,
        weight_g: r.try_get("weight_g")?,
        note: r.try_get("note")?,
        occurred_at: r.try_get("occurred_at")?,
        actor_name: r.try_get("actor_name")?,
    })
}

/// One line by its id.
pub async fn line(db: &Db, id: &str) -> AppResult<Option<Line>> {
    let row = sqlx::query(&format!("select {LINE_COLUMNS} where m.id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    Ok(row.as_ref().map(line_from).transpose()?)
}

/// The best-before dates of the lots a line moved, earliest first.
pub async fn lot_dates(db: &Db, movement: &str) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select l.best_before from movement_lots ml join lots l on l.id = ml.lot_id \
         where ml.movement_id = $1 and l.best_before is not null order by l.best_before",
    )
    .bind(movement)
    .fetch_all(db.pool())
    .await?)
}

/// Whether a product has ever moved (in the transaction `tx`).
pub async fn has_moved(tx: &mut Tx, product: &str) -> AppResult<bool> {
    let n: i64 = sqlx::query_scalar("select count(*) from movements where product_id = $1")
        .bind(product)
        .fetch_one(&mut **tx)
        .await?;
    Ok(n > 0)
}

/// A visit's lines, in the order they were written.
pub async fn visit_lines(db: &Db, visit: &str) -> AppResult<Vec<Line>> {
    sqlx::query(&format!(
        "select {LINE_COLUMNS} where m.visit_id = $1 order by m.occurred_at, m.id"
    ))
    .bind(visit)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok(line_from(r)?))
    .collect()
}

/// An organization's latest donations, newest first.
pub async fn latest_donations(db: &Db, organization: &str, limit: i64) -> AppResult<Vec<Line>> {
    sqlx::query(&format!(
        "select {LINE_COLUMNS} where m.organization_id = $1 and m.kind = 'received' and m.source = 'donation' \
         order by m.occurred_at desc, m.id desc limit $2"
    ))
    .bind(organization)
    .bind(limit)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok(line_from(r)?))
    .collect()
}

/// Every donation one donor gave an organization, oldest first; `donor`
/// "" for donations recorded without one.
pub async fn donor_lines(db: &Db, organization: &str, donor: &str) -> AppResult<Vec<Line>> {
    sqlx::query(&format!(
        "select {LINE_COLUMNS} where m.organization_id = $1 and m.kind = 'received' and m.source = 'donation' \
         and coalesce(m.donor, '') = $2 order by m.occurred_at, m.id"
    ))
    .bind(organization)
    .bind(donor)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| Ok(line_from(r)?))
    .collect()
}

/// What one donor gave an organization in all.
#[derive(Debug, Clone)]
pub struct DonorSum {
    /// "" for donations without a donor.
    pub donor: String,
    pub donations: i64,
    /// Recorded weights only.
    pub weight_g: i64,
    /// Donations with no recorded weight.
    pub unweighed: i64,
    pub last_at: i64,
}

/// Every donor of an organization, heaviest first.
pub async fn donor_sums(db: &Db, organization: &str) -> AppResult<Vec<DonorSum>> {
    sqlx::query(
        "select coalesce(m.donor, '') as donor, count(*) as donations, \
         cast(sum(coalesce(m.weight_g, 0)) as bigint) as weight_g, \
         count(case when m.weight_g is null then 1 end) as unweighed, max(m.occurred_at) as last_at \
         from movements m where m.organization_id = $1 and m.kind = 'received' and m.source = 'donation' \
         group by coalesce(m.donor, '') order by weight_g desc, donations desc, donor",
    )
    .bind(organization)
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok(DonorSum {
            donor: r.try_get("donor")?,
            donations: r.try_get("donations")?,
            weight_g: r.try_get("weight_g")?,
            unweighed: r.try_get("unweighed")?,
            last_at: r.try_get("last_at")?,
        })
    })
    .collect()
}

/// Which lines a sum covers: a place, and perhaps one product.
#[derive(Debug, Clone, Copy)]
pub struct Filter<'a> {
    pub scope: &'a Scope,
    pub product: Option<&'a str>,
}

impl Filter<'_> {
    /// The condition on `movements m`, with `$1` the place and `$2` the
    /// product (bound whether or not it is used).
    fn condition(&self) -> String {
        let place = match self.scope {
            Scope::Pantry(_) => "m.pantry_id = $1",
            Scope::Campus(_) => "m.pantry_id in (select id from pantries where campus_id = $1)",
            Scope::Organization(_) => "m.organization_id = $1",
        };
        match self.product {
            Some(_) => format!("{place} and m.product_id = $2"),
            None => format!("{place} and $2 = $2"),
        }
    }

    fn place_id(&self) -> &str {
        match self.scope {
            Scope::Pantry(id) => id.as_str(),
            Scope::Campus(id) => id.as_str(),
            Scope::Organization(id) => id.as_str(),
        }
    }
}

/// Binds a filter's `$1` and `$2`, the days' widest bounds as `$3` and
/// `$4`, and their row sets as `$5` and `$6`; extra row sets follow.
fn query<'q>(
    sql: &'q str,
    filter: &'q Filter<'_>,
    days: &LocalDays,
    params: &'q (String, String),
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    let (from, to) = days.bounds();
    sqlx::query(sql)
        .bind(filter.place_id())
        .bind(filter.product.unwrap_or(""))
        .bind(from)
        .bind(to)
        .bind(params.0.as_str())
        .bind(params.1.as_str())
}

/// Times a visit's lines count on: each visit's own.
const VISIT_TIMES: db::RowSet = db::RowSet {
    name: "vt",
    columns: &[("visit_id", "text"), ("at", "bigint")],
};

/// What went out (a positive quantity) per local day (a day number) and
/// product. A visit's lines count at the time `visits` gives for it; lines
/// of visits not in `visits` are left out, and so are lines at a time
/// outside the days.
pub async fn distributed_per_day(
    db: &Db,
    filter: &Filter<'_>,
    days: &LocalDays,
    visits: &[(String, i64)],
) -> AppResult<Vec<(i64, String, i64)>> {
    let backend = db.backend();
    let sql = format!(
        "{}, {} select (t.at + o.offset_ms) / {DAY_MS} as day, t.product_id, cast(-sum(t.quantity) as bigint) as quantity \
         from (select coalesce(vt.at, m.occurred_at) as at, m.occurred_at as moved_at, m.pantry_id, m.product_id, m.quantity \
               from movements m left join vt on vt.visit_id = m.visit_id \
               where {} and m.kind = 'distributed' and (m.visit_id is null or vt.visit_id is not null) \
               and m.occurred_at >= $3) t \
         join z on z.pantry_id = t.pantry_id and t.at >= z.from_ms and t.at < z.to_ms \
         join o on o.zone = z.zone and t.at >= o.start_ms and t.at < o.end_ms \
         group by (t.at + o.offset_ms) / {DAY_MS}, t.product_id",
        days.with(backend, 5),
        VISIT_TIMES.cte(backend, 7),
        filter.condition()
    );
    let visits: Vec<Vec<Value>> = visits
        .iter()
        .map(|(id, at)| vec![id.into(), (*at).into()])
        .collect();
    let params = days.params()?;
    query(&sql, filter, days, &params)
        .bind(db::encode_rows(&visits)?)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("day")?,
                r.try_get("product_id")?,
                r.try_get("quantity")?,
            ))
        })
        .collect()
}

/// Donations received over the days, per donor ("" for none) and product.
#[derive(Debug, Clone)]
pub struct DonationSum {
    pub donor: String,
    pub product_id: String,
    pub lines: i64,
    pub quantity: i64,
    /// Of `quantity`, what came without a recorded weight.
    pub unweighed: i64,
    pub weighed_g: i64,
}

pub async fn donated(
    db: &Db,
    filter: &Filter<'_>,
    days: &LocalDays,
) -> AppResult<Vec<DonationSum>> {
    let sql = format!(
        "{} select coalesce(m.donor, '') as donor, m.product_id, count(*) as lines, cast(sum(m.quantity) as bigint) as quantity, \
         cast(sum(case when m.weight_g is null then m.quantity else 0 end) as bigint) as unweighed, \
         cast(sum(coalesce(m.weight_g, 0)) as bigint) as weighed_g \
         from movements m join z on z.pantry_id = m.pantry_id and m.occurred_at >= z.from_ms and m.occurred_at < z.to_ms \
         where {} and m.kind = 'received' and m.source = 'donation' and m.occurred_at >= $3 and m.occurred_at < $4 \
         group by coalesce(m.donor, ''), m.product_id",
        days.with(db.backend(), 5),
        filter.condition()
    );
    let params = days.params()?;
    query(&sql, filter, days, &params)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(DonationSum {
                donor: r.try_get("donor")?,
                product_id: r.try_get("product_id")?,
                lines: r.try_get("lines")?,
                quantity: r.try_get("quantity")?,
                unweighed: r.try_get("unweighed")?,
                weighed_g: r.try_get("weighed_g")?,
            })
        })
        .collect()
}

/// What was thrown away over the days (positive), per reason and product.
pub async fn discarded(
    db: &Db,
    filter: &Filter<'_>,
    days: &LocalDays,
) -> AppResult<Vec<(String, String, i64)>> {
    let sql = format!(
        "{} select coalesce(m.reason, 'other') as reason, m.product_id, cast(-sum(m.quantity) as bigint) as quantity \
         from movements m join z on z.pantry_id = m.pantry_id and m.occurred_at >= z.from_ms and m.occurred_at < z.to_ms \
         where {} and m.kind = 'discarded' and m.occurred_at >= $3 and m.occurred_at < $4 \
         group by coalesce(m.reason, 'other'), m.product_id",
        days.with(db.backend(), 5),
        filter.condition()
    );
    let params = days.params()?;
    query(&sql, filter, days, &params)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("reason")?,
                r.try_get("product_id")?,
                r.try_get("quantity")?,
            ))
        })
        .collect()
}

/// What went out over the days (positive) per product, counted at each
/// line's own time.
pub async fn distributed_per_product(
    db: &Db,
    filter: &Filter<'_>,
    days: &LocalDays,
) -> AppResult<HashMap<String, i64>> {
    let sql = format!(
        "{} select m.product_id, cast(-sum(m.quantity) as bigint) as quantity \
         from movements m join z on z.pantry_id = m.pantry_id and m.occurred_at >= z.from_ms and m.occurred_at < z.to_ms \
         where {} and m.kind = 'distributed' and m.occurred_at >= $3 and m.occurred_at < $4 \
         group by m.product_id",
        days.with(db.backend(), 5),
        filter.condition()
    );
    let params = days.params()?;
    let mut out = HashMap::new();
    for r in query(&sql, filter, days, &params)
        .fetch_all(db.pool())
        .await?
    {
        out.insert(r.try_get("product_id")?, r.try_get("quantity")?);
    }
    Ok(out)
}

/// What went out per local day (a day number), counted at each line's own
/// time.
pub async fn distributed_per_own_day(
    db: &Db,
    filter: &Filter<'_>,
    days: &LocalDays,
) -> AppResult<Vec<(i64, i64)>> {
    let sql = format!(
        "{} select (m.occurred_at + o.offset_ms) / {DAY_MS} as day, cast(-sum(m.quantity) as bigint) as quantity \
         from movements m join z on z.pantry_id = m.pantry_id and m.occurred_at >= z.from_ms and m.occurred_at < z.to_ms \
         join o on o.zone = z.zone and m.occurred_at >= o.start_ms and m.occurred_at < o.end_ms \
         where {} and m.kind = 'distributed' and m.occurred_at >= $3 and m.occurred_at < $4 \
         group by (m.occurred_at + o.offset_ms) / {DAY_MS}",
        days.with(db.backend(), 5),
        filter.condition()
    );
    let params = days.params()?;
    query(&sql, filter, days, &params)
        .fetch_all(db.pool())
        .await?
        .iter()
        .map(|r| Ok((r.try_get("day")?, r.try_get("quantity")?)))
        .collect()
}

/// One (product, local day) of a pantry's `daily_flows`: the net change
/// of each kind that day, signed as movements are (what went out is
/// negative).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayFlows {
    pub product_id: String,
    /// ISO date, the pantry's local day.
    pub day: String,
    pub distributed: i64,
    /// Every kind together: how stock on hand changed that day.
    pub net: i64,
}

/// A pantry's daily flows, oldest first per product; one product's when
/// `product` is given.
pub async fn daily_flows(db: &Db, pantry: &str, product: Option<&str>) -> AppResult<Vec<DayFlows>> {
    let rows = sqlx::query(
        "select product_id, day, \
         cast(sum(case when kind = 'distributed' then quantity else 0 end) as bigint) as distributed, \
         cast(sum(quantity) as bigint) as net \
         from daily_flows where pantry_id = $1 and ($2 = '' or product_id = $2) \
         group by product_id, day order by product_id, day",
    )
    .bind(pantry)
    .bind(product.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(DayFlows {
                product_id: r.try_get("product_id")?,
                day: r.try_get("day")?,
                distributed: r.try_get("distributed")?,
                net: r.try_get("net")?,
            })
        })
        .collect()
}

/// What a pantry holds of a product: on hand, and its lots with their
/// best-before dates (ISO; `None` for stock that keeps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Holding {
    pub on_hand: i64,
    pub lots: Vec<(Option<String>, i64)>,
}

/// Every product a pantry holds or has held, by product id; one
/// product's when `product` is given.
pub async fn holdings(
    db: &Db,
    pantry: &str,
    product: Option<&str>,
) -> AppResult<HashMap<String, Holding>> {
    let mut out: HashMap<String, Holding> = HashMap::new();
    let levels: Vec<(String, i64)> = sqlx::query_as(
        "select product_id, on_hand from stock_levels where pantry_id = $1 and ($2 = '' or product_id = $2)",
    )
    .bind(pantry)
    .bind(product.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    for (p, on_hand) in levels {
        out.entry(p).or_default().on_hand = on_hand;
    }
    let lots: Vec<(String, Option<String>, i64)> = sqlx::query_as(
        "select product_id, best_before, quantity from lots \
         where pantry_id = $1 and ($2 = '' or product_id = $2) and quantity > 0 order by best_before",
    )
    .bind(pantry)
    .bind(product.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    for (p, best_before, quantity) in lots {
        out.entry(p).or_default().lots.push((best_before, quantity));
    }
    Ok(out)
}

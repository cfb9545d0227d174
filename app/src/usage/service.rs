//! Visits on the server: recording one (its lines posted as `distributed`
//! movements with the visit's rows, in one transaction through the
//! movement writer), correcting or voiding it (compensating movements),
//! the pantry's visit rule, and the visit pages' queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Product;
use crate::catalog::service as catalog;
use crate::db::{Backend, Conn, Db, Sql};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::ids::{PantryId, ProductId, VisitId};
use crate::inventory::model::{parse_text, PantryHeader};
use crate::inventory::service::{self as inventory, Actor, Attachment, Change, Posted};
use crate::state::AppState;

/// Visits per page of a pantry's list.
pub const VISIT_PAGE: i64 = 30;
/// The most lines one visit takes.
pub const MAX_LINES: usize = 100;
pub const EVENT_VERSION: i64 = 1;

/// The payload of `VisitRecorded`, version 1. The client reference stays
/// in the visit's row; events carry none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitRecorded {
    pub visit_id: String,
    pub household: Household,
    pub lines: Vec<PostedLine>,
}

/// The payload of `VisitCorrected` and `VisitVoided`, version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitChanged {
    pub visit_id: String,
    pub version: i64,
    /// The compensating movements, signed as stock changes.
    pub lines: Vec<PostedLine>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PostedLine {
    pub product_id: String,
    pub movement_id: String,
    pub quantity: i64,
}

fn posted_lines(posted: &[Posted]) -> Vec<PostedLine> {
    posted
        .iter()
        .map(|p| PostedLine {
            product_id: p.product_id.to_string(),
            movement_id: p.movement_id.to_string(),
            quantity: p.quantity,
        })
        .collect()
}

// ------------------------------------------------------------ input

/// The pantry, with access checked at `role`, and its visit rule.
async fn pantry_for(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    role: Role,
) -> AppResult<(PantryHeader, Option<i64>)> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, role, "pantry")?;
    let rule: Option<i64> =
        sqlx::query_scalar("select visit_rule_days from pantries where id = $1")
            .bind(pantry.as_str())
            .fetch_one(state.db.pool())
            .await?;
    Ok((header, rule))
}

/// Parses the lines: every product in the pantry's organization and not
/// archived, every quantity above zero in its unit; a product twice is
/// one line. Errors name the line.
async fn parse_lines(
    db: &Db,
    pantry: &PantryHeader,
    lines: &[LineInput],
    allow_empty: bool,
) -> AppResult<Vec<(Product, i64)>> {
    if lines.is_empty() && !allow_empty {
        return Err(AppError::invalid(
            "lines",
            "Add at least one item to the visit.",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "lines",
            format!("A visit takes at most {MAX_LINES} different items."),
        ));
    }
    let ids: Vec<&ProductId> = lines.iter().map(|l| &l.product).collect();
    let known = catalog::products_with_ids(db, pantry.organization_id.as_str(), &ids).await?;
    let mut merged: BTreeMap<ProductId, (Product, i64)> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(product) = known.get(&line.product) else {
            return Err(AppError::invalid(
                "lines",
                format!("Item {} is not in this organization's catalog.", i + 1),
            ));
        };
        let quantity = inventory::positive(product.unit, &line.quantity)
            .map_err(|e| AppError::invalid("lines", format!("{}: {}", product.name, e)))?;
        let entry = merged
            .entry(product.id.clone())
            .or_insert_with(|| (product.clone(), 0));
        entry.1 = entry
            .1
            .checked_add(quantity)
            .filter(|q| *q <= crate::catalog::model::MAX_QUANTITY)
            .ok_or_else(|| {
                AppError::invalid(
                    "lines",
                    format!(
                        "{}: that quantity is too large; one visit hands out at most {}.",
                        product.name,
                        product.unit.format(crate::catalog::model::MAX_QUANTITY)
                    ),
                )
            })?;
    }
    for (product, _) in merged.values() {
        if product.archived {
            return Err(AppError::invalid(
                "lines",
                format!("{} is archived; it cannot be handed out.", product.name),
            ));
        }
    }
    Ok(merged.into_values().collect())
}

fn household(input: &VisitInput) -> AppResult<Household> {
    Ok(Household {
        adults: parse_household_part(&input.adults, "adults")?,
        children: parse_household_part(&input.children, "children")?,
        seniors: parse_household_part(&input.seniors, "seniors")?,
    })
}

// ------------------------------------------------------------ visit rules

/// What the pantry's rule says about this client coming now, if anything.
async fn rule_warning(
    db: &Db,
    pantry: &PantryHeader,
    rule_days: Option<i64>,
    client_ref: Option<&str>,
    now: i64,
) -> AppResult<Option<String>> {
    let (Some(days), Some(client)) = (rule_days, client_ref) else {
        return Ok(None);
    };
    let since = now - days * 86_400_000;
    let last: Option<i64> = sqlx::query_scalar(&format!(
        "select max(occurred_at) from visits where pantry_id = $1 and {} = $2 \
         and status = 'recorded' and occurred_at > $3",
        super::model::CLIENT_KEY_SQL
    ))
    .bind(pantry.id.as_str())
    .bind(super::model::client_key(client))
    .bind(since)
    .fetch_one(db.pool())
    .await?;
    // Days as the pantry counts them: a visit last night is "yesterday"
    // even if it was eight hours ago.
    let zone = crate::zones::Zone::stored(&pantry.time_zone);
    Ok(last.map(|at| {
        let ago = (zone.day_of(now) - zone.day_of(at)).whole_days().max(0);
        let when = match ago {
            0 => "earlier today".to_string(),
            1 => "yesterday".to_string(),
            n => format!("{n} days ago"),
        };
        format!(
            "This client last visited {} {when}; the pantry's rule is one visit every {days} day{}.",
            pantry.name,
            if days == 1 { "" } else { "s" }
        )
    }))
}

/// The rule's warning for a client before the visit is saved (the counter
/// asks as soon as the reference is typed). Never blocks anything.
#[tracing::instrument(level = "debug", skip_all)]
/// Visits recorded (not voided) at the pantry since `since` (ms): the
/// count the community's milestone posts look at.
pub async fn visits_since(
    tx: &mut crate::db::Tx,
    pantry: &str,
    since: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from visits where pantry_id = $1 and occurred_at >= $2 and status = 'recorded'",
    )
    .bind(pantry)
    .bind(since)
    .fetch_one(&mut **tx)
    .await
}

pub async fn check_rule(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    client_ref: &str,
) -> AppResult<Option<String>> {
    let (header, rule) = pantry_for(state, caller, pantry, Role::Staff).await?;
    let client = parse_client_ref(client_ref)?;
    rule_warning(
        &state.db,
        &header,
        rule,
        client.as_deref(),
        state.clock.now_ms(),
    )
    .await
}

/// Sets (or clears, with a blank) the pantry's visit rule. Managers only.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn set_rule(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    days: &str,
) -> AppResult<Option<i64>> {
    let (header, _) = pantry_for(state, caller, pantry, Role::Manager).await?;
    let t = days.trim();
    let days = if t.is_empty() {
        None
    } else {
        match t.parse::<i64>() {
            Ok(n) if (1..=365).contains(&n) => Some(n),
            _ => {
                return Err(AppError::invalid(
                    "days",
                    "Enter a number of days from 1 to 365, or leave it blank for no rule.",
                ))
            }
        }
    };
    sqlx::query("update pantries set visit_rule_days = $1 where id = $2")
        .bind(days)
        .bind(header.id.as_str())
        .execute(state.db.pool())
        .await?;
    Ok(days)
}

// ------------------------------------------------------------ recording

/// The visit's rows, written in the transaction that posts its lines.
#[derive(Debug)]
struct NewVisit {
    id: VisitId,
    pantry: PantryHeader,
    occurred_at: i64,
    household: Household,
    client_ref: Option<String>,
    rule_warning: Option<String>,
    note: Option<String>,
    actor_id: String,
    lines: Vec<(ProductId, i64)>,
}

impl Attachment for NewVisit {
    fn check<'a>(&'a self, _conn: &'a mut Conn, _backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async { Ok(()) })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            sqlx::query(
                "insert into visits (id, organization_id, pantry_id, occurred_at, adults, children, seniors, \
                 client_ref, rule_warning, note, status, version, actor_id, created_at) \
                 values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'recorded', 1, $11, $12)",
            )
            .bind(self.id.as_str())
            .bind(self.pantry.organization_id.as_str())
            .bind(self.pantry.id.as_str())
            .bind(self.occurred_at)
            .bind(self.household.adults)
            .bind(self.household.children)
            .bind(self.household.seniors)
            .bind(self.client_ref.clone())
            .bind(self.rule_warning.clone())
            .bind(self.note.clone())
            .bind(self.actor_id.as_str())
            .bind(now)
            .execute(&mut *conn)
            .await?;
            write_lines(conn, &self.id, &self.lines).await?;
            let payload = VisitRecorded {
                visit_id: self.id.to_string(),
                household: self.household,
                lines: posted_lines(posted),
            };
            Ok(vec![DomainEvent::VisitRecorded(payload)])
        })
    }
}

async fn write_lines(
    conn: &mut Conn,
    visit: &VisitId,
    lines: &[(ProductId, i64)],
) -> AppResult<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut sql = Sql::default();
    sql.push("insert into visit_lines (visit_id, product_id, quantity) values ");
    sql.rows(lines, |r, (product, quantity)| {
        r.text(visit.as_str()).text(product.as_str()).int(*quantity);
    });
    sql.query().persistent(false).execute(&mut *conn).await?;
    Ok(())
}

/// "3 items: 2 × Rice, 1 × Beans"
fn summary(lines: &[(Product, i64)]) -> String {
    let parts: Vec<String> = lines
        .iter()
        .map(|(p, q)| format!("{} {}", p.unit.format(*q), p.name))
        .collect();
    format!(
        "{} item{}: {}",
        lines.len(),
        if lines.len() == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// Records a visit: every line handed out, or (when any is short) none,
/// with a message naming each short line.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn record(
    state: &AppState,
    caller: &Caller,
    input: &VisitInput,
) -> AppResult<VisitSaved> {
    let (pantry, rule) = pantry_for(state, caller, &input.pantry, Role::Staff).await?;
    let household = household(input)?;
    let client_ref = parse_client_ref(&input.client_ref)?;
    let note = parse_text(&input.note, "note", 500)?;
    let lines = parse_lines(&state.db, &pantry, &input.lines, false).await?;
    let now = state.clock.now_ms();
    let warning = rule_warning(&state.db, &pantry, rule, client_ref.as_deref(), now).await?;
    let id = VisitId::new();
    let visit = NewVisit {
        id: id.clone(),
        pantry: pantry.clone(),
        occurred_at: now,
        household,
        client_ref,
        rule_warning: warning.clone(),
        note,
        actor_id: caller.me.id.to_string(),
        lines: lines.iter().map(|(p, q)| (p.id.clone(), *q)).collect(),
    };
    let changes = lines
        .iter()
        .map(|(p, q)| (p.clone(), Change::handed_out(*q, id.as_str())))
        .collect();
    inventory::post_group(state, &pantry, changes, Arc::new(visit), &Actor::of(caller)).await?;
    Ok(VisitSaved {
        id,
        summary: summary(&lines),
        rule_warning: warning,
    })
}

// ------------------------------------------------------------ corrections

/// A correction or a void, written with its compensating movements.
#[derive(Debug)]
struct VisitChange {
    id: VisitId,
    expected_version: i64,
    lines: Vec<(ProductId, i64)>,
    /// Set for a void.
    void_reason: Option<String>,
}

impl Attachment for VisitChange {
    /// The visit must still be as the editor saw it: recorded, and at the
    /// version they loaded (two editors cannot both win).
    fn check<'a>(&'a self, conn: &'a mut Conn, backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            let lock = if backend == Backend::Postgres {
                " for update"
            } else {
                ""
            };
            let row: Option<(String, i64)> = sqlx::query_as(&format!(
                "select status, version from visits where id = $1{lock}"
            ))
            .bind(self.id.as_str())
            .fetch_optional(&mut *conn)
            .await?;
            match row {
                None => Err(AppError::not_found("visit")),
                Some((status, _)) if status == "voided" => Err(AppError::conflict(
                    "visit",
                    "This visit has been voided; it cannot change any more.",
                )),
                Some((_, version)) if version != self.expected_version => Err(AppError::conflict(
                    "visit",
                    "Someone changed this visit since you opened it. Reload it and make your change again.",
                )),
                Some(_) => Ok(()),
            }
        })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            let version = self.expected_version + 1;
            if let Some(reason) = &self.void_reason {
                sqlx::query(
                    "update visits set status = 'voided', version = $1, voided_at = $2, void_reason = $3 where id = $4",
                )
                .bind(version)
                .bind(now)
                .bind(reason.as_str())
                .bind(self.id.as_str())
                .execute(&mut *conn)
                .await?;
            } else {
                sqlx::query("update visits set version = $1, corrected_at = $2 where id = $3")
                    .bind(version)
                    .bind(now)
                    .bind(self.id.as_str())
                    .execute(&mut *conn)
                    .await?;
            }
            // The lines as they stand now; what they were is in the
            // movements and events.
            sqlx::query("delete from visit_lines where visit_id = $1")
                .bind(self.id.as_str())
                .execute(&mut *conn)
                .await?;
            write_lines(conn, &self.id, &self.lines).await?;
            let payload = VisitChanged {
                visit_id: self.id.to_string(),
                version,
                lines: posted_lines(posted),
                reason: self.void_reason.clone(),
            };
            Ok(vec![if self.void_reason.is_some() {
                DomainEvent::VisitVoided(payload)
            } else {
                DomainEvent::VisitCorrected(payload)
            }])
        })
    }
}

/// The visit's pantry, status, version and current lines.
async fn visit_state(
    db: &Db,
    id: &VisitId,
) -> AppResult<(PantryId, String, i64, BTreeMap<ProductId, i64>)> {
    let row: Option<(String, String, i64)> =
        sqlx::query_as("select pantry_id, status, version from visits where id = $1")
            .bind(id.as_str())
            .fetch_optional(db.pool())
            .await?;
    let (pantry, status, version) = row.ok_or_else(|| AppError::not_found("visit"))?;
    let lines: Vec<(String, i64)> =
        sqlx::query_as("select product_id, quantity from visit_lines where visit_id = $1")
            .bind(id.as_str())
            .fetch_all(db.pool())
            .await?;
    Ok((
        PantryId::from_stored(pantry),
        status,
        version,
        lines
            .into_iter()
            .map(|(p, q)| (ProductId::from_stored(p), q))
            .collect(),
    ))
}

/// The movements that take a visit from its current lines to `new`:
/// more of a product goes out first expiry first; less comes back into
/// the lots it went out from, the last taken first (undated, then the
/// latest dates).
async fn compensations(
    db: &Db,
    visit: &VisitId,
    current: &BTreeMap<ProductId, i64>,
    new: &[(Product, i64)],
    products_by_id: &BTreeMap<ProductId, Product>,
    note: &str,
) -> AppResult<Vec<(Product, Change)>> {
    let mut wanted: BTreeMap<ProductId, i64> = current.keys().map(|p| (p.clone(), 0)).collect();
    for (p, q) in new {
        wanted.insert(p.id.clone(), *q);
    }
    let taken = inventory::taken_by_visit(db, visit.as_str()).await?;
    let mut changes = Vec::new();
    for (product_id, want) in wanted {
        let had = current.get(&product_id).copied().unwrap_or(0);
        let delta = want - had;
        if delta == 0 {
            continue;
        }
        let product = products_by_id
            .get(&product_id)
            .ok_or_else(|| AppError::not_found("product"))?
            .clone();
        if delta > 0 {
            if product.archived {
                return Err(AppError::invalid(
                    "lines",
                    format!("{} is archived; no more of it can go out.", product.name),
                ));
            }
            changes.push((product, Change::handed_out(delta, visit.as_str())));
            continue;
        }
        let mut back = -delta;
        let mut dates: Vec<(Option<String>, i64)> = taken
            .iter()
            .filter(|(p, _, q)| *p == product_id && *q > 0)
            .map(|(_, d, q)| (d.clone(), *q))
            .collect();
        // Undated lots went out last, so they come back first; then the
        // latest dates.
        dates.sort_by(|a, b| match (&a.0, &b.0) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, _) => std::cmp::Ordering::Less,
            (_, None) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => y.cmp(x),
        });
        for (date, q) in dates {
            if back == 0 {
                break;
            }
            let n = back.min(q);
            changes.push((
                product.clone(),
                Change::handed_back(n, date, visit.as_str(), note),
            ));
            back -= n;
        }
        if back > 0 {
            return Err(AppError::internal(&std::io::Error::other(format!(
                "visit {visit} holds {back} less of product {product_id} in its movements than in its lines"
            ))));
        }
    }
    Ok(changes)
}

fn parse_version(input: &str) -> AppResult<i64> {
    input
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|v| *v > 0)
        .ok_or_else(|| {
            AppError::BadRequest("The visit's version is missing; reload the visit.".into())
        })
}

/// Corrects a visit's lines to `lines`: what changed is posted as
/// compensating movements, in one transaction with the visit's new lines.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn correct(
    state: &AppState,
    caller: &Caller,
    id: &VisitId,
    version: &str,
    lines: &[LineInput],
) -> AppResult<VisitSaved> {
    let expected_version = parse_version(version)?;
    let (pantry_id, status, _, current) = visit_state(&state.db, id).await?;
    let (pantry, _) = pantry_for(state, caller, &pantry_id, Role::Staff).await?;
    if status == "voided" {
        return Err(AppError::conflict(
            "visit",
            "This visit has been voided; it cannot change any more.",
        ));
    }
    let new = parse_lines(&state.db, &pantry, lines, true).await?;
    if new.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "A visit needs at least one item. To undo the whole visit, void it.",
        ));
    }
    let mut ids: Vec<&ProductId> = current.keys().collect();
    ids.extend(new.iter().map(|(p, _)| &p.id));
    let known =
        catalog::products_with_ids(&state.db, pantry.organization_id.as_str(), &ids).await?;
    let changes = compensations(
        &state.db,
        id,
        &current,
        &new,
        &known,
        crate::inventory::model::VISIT_CORRECTED_NOTE,
    )
    .await?;
    if changes.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "Nothing changed: the visit already has these items.",
        ));
    }
    let change = VisitChange {
        id: id.clone(),
        expected_version,
        lines: new.iter().map(|(p, q)| (p.id.clone(), *q)).collect(),
        void_reason: None,
    };
    inventory::post_group(
        state,
        &pantry,
        changes,
        Arc::new(change),
        &Actor::of(caller),
    )
    .await?;
    Ok(VisitSaved {
        id: id.clone(),
        summary: summary(&new),
        rule_warning: None,
    })
}

/// Voids a visit: everything it took comes back, the visit stays (as
/// voided) with its whole history.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn void(
    state: &AppState,
    caller: &Caller,
    id: &VisitId,
    version: &str,
    reason: &str,
) -> AppResult<()> {
    let expected_version = parse_version(version)?;
    let reason = parse_text(reason, "reason", 200)?.ok_or_else(|| {
        AppError::invalid(
            "reason",
            "Say why the visit is voided (for example: entered twice).",
        )
    })?;
    let (pantry_id, status, _, current) = visit_state(&state.db, id).await?;
    let (pantry, _) = pantry_for(state, caller, &pantry_id, Role::Staff).await?;
    if status == "voided" {
        return Err(AppError::conflict("visit", "This visit is already voided."));
    }
    let ids: Vec<&ProductId> = current.keys().collect();
    let known =
        catalog::products_with_ids(&state.db, pantry.organization_id.as_str(), &ids).await?;
    let changes = compensations(
        &state.db,
        id,
        &current,
        &[],
        &known,
        crate::inventory::model::VISIT_VOIDED_NOTE,
    )
    .await?;
    let change = VisitChange {
        id: id.clone(),
        expected_version,
        lines: Vec::new(),
        void_reason: Some(reason),
    };
    inventory::post_group(
        state,
        &pantry,
        changes,
        Arc::new(change),
        &Actor::of(caller),
    )
    .await?;
    Ok(())
}

// ------------------------------------------------------------ reading

/// A visit with its lines and every movement it posted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn visit(state: &AppState, caller: &Caller, id: &VisitId) -> AppResult<Visit> {
    let r = sqlx::query(
        "select v.pantry_id, v.occurred_at, v.adults, v.children, v.seniors, v.client_ref, v.rule_warning, v.note, \
         v.status, v.version, v.corrected_at, v.voided_at, v.void_reason, u.display_name \
         from visits v join users u on u.id = v.actor_id where v.id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("visit"))?;
    let pantry_id = PantryId::from_stored(r.try_get("pantry_id")?);
    let (header, place) = inventory::pantry_header(&state.db, &pantry_id).await?;
    let zone = crate::zones::Zone::stored(&header.time_zone);
    caller.require(&place, Role::Staff, "visit")?;
    let lines = sqlx::query(
        "select l.product_id, l.quantity, p.name, p.category, p.unit from visit_lines l \
         join products p on p.id = l.product_id where l.visit_id = $1 order by p.name_key",
    )
    .bind(id.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|l| {
        Ok(VisitLine {
            product_id: ProductId::from_stored(l.try_get("product_id")?),
            product_name: l.try_get("name")?,
            category: l.try_get("category")?,
            unit: crate::catalog::model::Unit::parse(&l.try_get::<String, _>("unit")?, "unit")?,
            quantity: l.try_get("quantity")?,
        })
    })
    .collect::<AppResult<Vec<_>>>()?;
    let movements = crate::inventory::ledger::visit_lines(&state.db, id.as_str())
        .await?
        .into_iter()
        .map(|m| {
            let unit = crate::catalog::model::Unit::parse(&m.unit, "unit")?;
            Ok(VisitMovement {
                product_name: m.product_name,
                quantity: m.quantity,
                quantity_text: unit.format(m.quantity.abs()),
                note: m.note,
                occurred_at: zone.format(m.occurred_at),
                actor_name: m.actor_name,
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Visit {
        id: id.clone(),
        pantry: header,
        occurred_at: zone.format(r.try_get("occurred_at")?),
        household: Household {
            adults: r.try_get("adults")?,
            children: r.try_get("children")?,
            seniors: r.try_get("seniors")?,
        },
        client_ref: r.try_get("client_ref")?,
        rule_warning: r.try_get("rule_warning")?,
        note: r.try_get("note")?,
        status: VisitStatus::parse(&r.try_get::<String, _>("status")?),
        version: r.try_get("version")?,
        lines,
        movements,
        recorded_by: r.try_get("display_name")?,
        corrected_at: r
            .try_get::<Option<i64>, _>("corrected_at")?
            .map(|t| zone.format(t)),
        voided_at: r
            .try_get::<Option<i64>, _>("voided_at")?
            .map(|t| zone.format(t)),
        void_reason: r.try_get("void_reason")?,
    })
}

/// A pantry's visits, newest first.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn visits(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    page: crate::input::PageNumber,
) -> AppResult<VisitPage> {
    let (header, rule) = pantry_for(state, caller, pantry, Role::Staff).await?;
    let zone = crate::zones::Zone::stored(&header.time_zone);
    let offset = page.offset(VISIT_PAGE);
    let page = page.get();
    let rows = sqlx::query(
        "select v.id, v.occurred_at, v.adults, v.children, v.seniors, v.status, v.rule_warning, v.corrected_at, \
         (select count(*) from visit_lines l where l.visit_id = v.id) as lines, \
         (select cast(coalesce(sum(l.quantity), 0) as bigint) from visit_lines l where l.visit_id = v.id) as items \
         from visits v where v.pantry_id = $1 order by v.occurred_at desc, v.id desc limit $2 offset $3",
    )
    .bind(header.id.as_str())
    .bind(VISIT_PAGE + 1)
    .bind(offset)
    .fetch_all(state.db.pool())
    .await?;
    let has_more = rows.len() as i64 > VISIT_PAGE;
    let rows = rows
        .iter()
        .take(VISIT_PAGE as usize)
        .map(|r| {
            Ok(VisitRow {
                id: VisitId::from_stored(r.try_get("id")?),
                occurred_at: zone.format(r.try_get("occurred_at")?),
                household: Household {
                    adults: r.try_get("adults")?,
                    children: r.try_get("children")?,
                    seniors: r.try_get("seniors")?,
                },
                items: r.try_get("items")?,
                lines: r.try_get("lines")?,
                status: VisitStatus::parse(&r.try_get::<String, _>("status")?),
                rule_warning: r.try_get::<Option<String>, _>("rule_warning")?.is_some(),
                corrected: r.try_get::<Option<i64>, _>("corrected_at")?.is_some(),
            })
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(VisitPage {
        pantry: header,
        rows,
        page,
        has_more,
        rule_days: rule,
    })
}

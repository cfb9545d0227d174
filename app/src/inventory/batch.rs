//! Writing a batch of movements in a fixed number of round trips,
//! whatever its size: what the write path's throughput is made of.
//!
//! 1. **Read**, one round trip: the transaction's begin, every stock row
//!    the batch touches, locked on PostgreSQL in (pantry, product) order so
//!    two writers never wait on each other in a circle, and the lots it may
//!    take from or add to.
//! 2. **Decide**, in memory, one command after the other. A refused command
//!    (not enough stock, a lot that is not there) leaves the plan as it
//!    found it, so the rest of the batch goes on. Stock goes out first
//!    expiry first out; an increase goes to the lot of its best-before
//!    date. A group's attachment (a visit) checks and writes its own rows
//!    here, in the same transaction.
//! 3. **Write**: the stock rows and lots as decided, the ledger lines and
//!    their lot lines, the organization totals, the events and the commit,
//!    as multi-row statements over row sets ([`crate::db::Statement`]:
//!    every value bound, each row set one parameter). Events come last, so
//!    on PostgreSQL the lock that orders them is held only from there to
//!    the commit.
//!
//! When the writer remembers every row a batch touches from its own
//! earlier batches ([`Memory`]), the read is skipped: the batch is decided
//! from memory and written at once (on PostgreSQL as one statement, one
//! round trip), each stock row on the condition that its revision is
//! still the one remembered. Another writer having changed a row fails
//! the write before its commit; the batch is then rolled back and read
//! and written as above.
//!
//! The transaction is the steps' own (`begin` … `commit`), on a
//! connection the writer keeps for itself: if anything fails on the way,
//! the caller closes the connection, which rolls the transaction back.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::{Executor as _, Row as _};

use super::model::*;
use super::service::{
    moved_event, not_enough, Actor, Change, Command, LotChange, PendingEvent, Posted, Written,
};
use crate::catalog::model::{Product, MAX_ON_HAND};
use crate::db::{Backend, Conn, Row, RowSet, Statement, Steps, Value};
use crate::error::{AppError, AppResult};
use crate::events::store as events;
use crate::ids::{LotId, MovementId};

/// (pantry, product): one stock row.
type Key = (String, String);

#[derive(Debug, Clone, PartialEq)]
struct Lot {
    id: String,
    best_before: Option<String>,
    received_at: i64,
    quantity: i64,
    /// Not in the database yet.
    new: bool,
    changed: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
struct Stock {
    organization_id: String,
    on_hand: i64,
    /// What the row held when read (or remembered); `None` when there was
    /// no row.
    read: Option<i64>,
    /// The row's revision when read (or remembered).
    revision: Option<i64>,
    /// The lots read for the row, and those this batch made.
    lots: Vec<Lot>,
}

/// A ledger line.
#[derive(Debug, Clone)]
struct MovementRow {
    id: MovementId,
    organization_id: String,
    pantry_id: String,
    product_id: String,
    change: Change,
    actor: Actor,
    occurred_at: i64,
}

impl Stock {
    /// Whether the batch changed the row or its lots (and so counts its
    /// revision up).
    fn changed(&self) -> bool {
        self.read != Some(self.on_hand) || self.lots.iter().any(|l| l.changed)
    }
}

/// The batch's stock as read and then as decided, and what it appends.
#[derive(Debug, Default)]
struct Plan {
    now: i64,
    /// Planned from the writer's [`Memory`], not from a read: its script
    /// begins the transaction itself and writes every row on the
    /// condition that its revision is still the one remembered.
    remembered: bool,
    stock: BTreeMap<Key, Stock>,
    movements: Vec<MovementRow>,
    movement_lots: Vec<(MovementId, LotChange)>,
    events: Vec<PendingEvent>,
    /// Net change per (organization, product); sorted, so concurrent
    /// batches lock `organization_stock` rows in one order.
    organization_stock: BTreeMap<(String, String), i64>,
}

/// Where a plan stood before a command, to go back to if it is refused.
struct Mark {
    movements: usize,
    movement_lots: usize,
    events: usize,
    stock: Vec<(Key, Option<Stock>)>,
    organization_stock: Vec<((String, String), Option<i64>)>,
}

/// Whether a command's error is a refusal (the batch goes on without it).
pub(super) fn is_refusal(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::NotFound(_)
    )
}

/// How a batch was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Way {
    /// From the writer's memory, in one round trip.
    Remembered,
    /// Read, then written: two round trips.
    Read,
    /// From memory that turned out stale (or failed otherwise), rolled
    /// back, then read and written.
    Stale,
}

/// What a writer knows of the stock rows it has written, as of its own
/// last commit: each row's on-hand, revision and lots with stock, exactly
/// what a read would answer while nobody else writes them. A batch whose
/// every command it covers is decided from it and written in one round
/// trip, each row on the condition of its revision (see
/// [`WRITE_REMEMBERED_STOCK`]); when another writer (a transfer from
/// another shard, another process) has written a row since, the script
/// fails before its commit and the batch is read and written afresh.
#[derive(Default)]
pub(super) struct Memory {
    rows: std::collections::HashMap<Key, Known>,
}

#[derive(Debug, Clone)]
struct Known {
    on_hand: i64,
    revision: i64,
    /// The lots with stock.
    lots: Vec<Lot>,
}

impl Memory {
    /// Rows remembered before the memory starts again from nothing.
    const MOST: usize = 50_000;

    pub(super) fn clear(&mut self) {
        self.rows.clear();
    }

    /// A plan from memory, when it covers every command: changes (not
    /// transfers, whose lots arrive at another pantry with dates only a
    /// read tells, nor groups, whose attachments read) to remembered rows,
    /// an increase only to a date that has a lot with stock (a lot of
    /// that date may be there empty), a named lot only when it has stock.
    fn plan(&self, jobs: &[(&Command, &Actor)], now: i64) -> Option<Plan> {
        let mut plan = Plan::new(now);
        plan.remembered = true;
        for (command, _) in jobs {
            let Command::Change {
                pantry,
                product,
                change,
            } = command
            else {
                return None;
            };
            let key = (pantry.id.0.clone(), product.id.0.clone());
            let known = self.rows.get(&key)?;
            let covered = if change.quantity > 0 {
                known
                    .lots
                    .iter()
                    .any(|l| l.best_before == change.best_before)
            } else if let Some(lot) = &change.from_lot {
                known.lots.iter().any(|l| l.id == lot.0)
            } else {
                true
            };
            if !covered {
                return None;
            }
            plan.stock.entry(key).or_insert_with(|| Stock {
                organization_id: pantry.organization_id.0.clone(),
                on_hand: known.on_hand,
                read: Some(known.on_hand),
                revision: Some(known.revision),
                lots: known.lots.clone(),
            });
        }
        Some(plan)
    }

    /// Remembers the rows of a committed plan as its script left them;
    /// `written` is what the script answered.
    fn learn(&mut self, plan: &Plan, written: &[Row]) -> AppResult<()> {
        let mut made = BTreeSet::new();
        for r in written {
            if r.try_get::<String, _>("row_kind")
                .is_ok_and(|k| k == "made")
                && r.try_get::<i64, _>("revision")? == 0
            {
                made.insert((r.try_get("pantry_id")?, r.try_get("product_id")?));
            }
        }
        for (key, st) in &plan.stock {
            let revision = match (st.read, st.revision) {
                (Some(_), Some(r)) if plan.remembered || st.changed() => r + 1,
                (Some(_), Some(r)) => r,
                // A row this batch made: all of it is known. (One that
                // another writer made first was added to, and is not.)
                (None, _) if made.contains(key) => 0,
                _ => {
                    self.rows.remove(key);
                    continue;
                }
            };
            let lots = st
                .lots
                .iter()
                .filter(|l| l.quantity > 0)
                .map(|l| Lot {
                    new: false,
                    changed: false,
                    ..l.clone()
                })
                .collect();
            self.rows.insert(
                key.clone(),
                Known {
                    on_hand: st.on_hand,
                    revision,
                    lots,
                },
            );
        }
        if self.rows.len() > Self::MOST {
            self.rows.clear();
        }
        Ok(())
    }
}

/// Writes the commands in one transaction on `conn` and returns each
/// one's outcome; a refusal for one leaves the others to go on. From
/// `memory` when it covers the batch (one round trip), else read first
/// (two). `Err` means the batch failed as a whole: its transaction may
/// still be open, the caller must close `conn` and clear `memory`.
pub(super) async fn write(
    conn: &mut Conn,
    backend: Backend,
    memory: &mut Memory,
    jobs: &[(&Command, &Actor)],
    now: i64,
) -> AppResult<(Vec<AppResult<Written>>, Way)> {
    let mut way = Way::Read;
    if let Some(mut plan) = memory.plan(jobs, now) {
        let outcomes = plan.decide(conn, backend, jobs).await?;
        match plan.write_steps(backend)?.run(conn).await {
            Ok(written) => {
                memory.learn(&plan, &written)?;
                return Ok((outcomes, Way::Remembered));
            }
            Err(error) => {
                // Most likely a row another writer changed since; if it
                // was anything else, the read below fails too.
                tracing::debug!(%error, "a remembered batch did not hold; reading it afresh");
                memory.clear();
                (&mut *conn).execute("rollback").await?;
                way = Way::Stale;
            }
        }
    }
    let rows = read_steps(backend, jobs)?.run(conn).await?;
    let mut plan = Plan::from_rows(jobs, &rows, now)?;
    let outcomes = plan.decide(conn, backend, jobs).await?;
    let written = plan.write_steps(backend)?.run(conn).await?;
    memory.learn(&plan, &written)?;
    Ok((outcomes, way))
}

/// Begins a transaction and reads (locking on PostgreSQL) what the
/// commands need.
fn read_steps(backend: Backend, jobs: &[(&Command, &Actor)]) -> AppResult<Steps> {
    let mut commands = Vec::with_capacity(jobs.len());
    for (command, _) in jobs {
        commands.push(*command);
    }
    Wanted::of(&commands).steps(backend)
}

/// The stock rows a command touches, with their organization.
fn keys_of(command: &Command) -> Vec<(Key, &str)> {
    match command {
        Command::Change {
            pantry, product, ..
        } => vec![(
            (pantry.id.0.clone(), product.id.0.clone()),
            pantry.organization_id.as_str(),
        )],
        Command::Transfer {
            from, to, product, ..
        } => vec![
            (
                (from.id.0.clone(), product.id.0.clone()),
                from.organization_id.as_str(),
            ),
            (
                (to.id.0.clone(), product.id.0.clone()),
                to.organization_id.as_str(),
            ),
        ],
        Command::Group { pantry, lines, .. } => lines
            .iter()
            .map(|(product, _)| {
                (
                    (pantry.id.0.clone(), product.id.0.clone()),
                    pantry.organization_id.as_str(),
                )
            })
            .collect(),
    }
}

/// The statements a batch runs, each over row sets (see
/// [`crate::db::Statement`]); sqlx prepares each once per connection.
#[cfg(test)]
const STATEMENTS: [&Statement; 13] = [
    &READ_STOCK,
    &READ_LOTS_WITH_STOCK,
    &READ_LOTS,
    &UPDATE_STOCK,
    &WRITE_REMEMBERED_STOCK,
    &ADD_STOCK,
    &UPDATE_LOTS,
    &INSERT_LOTS,
    &INSERT_MOVEMENTS,
    &INSERT_MOVEMENT_LOTS,
    &ADD_ORGANIZATION_STOCK,
    &events::APPEND,
    &WRITE_REMEMBERED,
];

const KEYS: RowSet = RowSet {
    name: "k",
    columns: &[("pantry_id", "text"), ("product_id", "text")],
};

/// The stock rows a batch touches, locked on PostgreSQL in key order, so
/// two writers never wait on each other in a circle.
const READ_STOCK: Statement = Statement {
    name: "read_stock",
    inputs: &[KEYS],
    body: "select 'stock' as row_kind, s.pantry_id, s.product_id, s.on_hand, s.revision \
           from k join stock_levels s on s.pantry_id = k.pantry_id and s.product_id = k.product_id \
           order by s.pantry_id, s.product_id",
    postgres: Some(
        "select 'stock' as row_kind, s.pantry_id, s.product_id, s.on_hand, s.revision \
         from k join stock_levels s on s.pantry_id = k.pantry_id and s.product_id = k.product_id \
         order by s.pantry_id, s.product_id for update of s",
    ),
};

/// The lots with stock: all a batch of takes needs (the common case at a
/// counter), without the conditions of [`READ_LOTS`].
const READ_LOTS_WITH_STOCK: Statement = Statement {
    name: "read_lots_with_stock",
    inputs: &[KEYS],
    body: "select 'lot' as row_kind, l.id, l.pantry_id, l.product_id, l.best_before, l.received_at, l.quantity \
           from k join lots l on l.pantry_id = k.pantry_id and l.product_id = k.product_id \
           where l.quantity > 0",
    postgres: None,
};

/// The lots a batch may take from or add to: those with stock, those of a
/// date something is added to (`d`: an emptied lot is filled again, not
/// duplicated), those named (`n`), and at a transfer's destination those
/// of the dates its source holds (`t`). The stock row's lock covers them.
const READ_LOTS: Statement = Statement {
    name: "read_lots",
    inputs: &[
        KEYS,
        RowSet {
            name: "d",
            columns: &[
                ("pantry_id", "text"),
                ("product_id", "text"),
                ("best_before", "text"),
            ],
        },
        RowSet {
            name: "n",
            columns: &[("id", "text")],
        },
        RowSet {
            name: "t",
            columns: &[
                ("from_pantry", "text"),
                ("to_pantry", "text"),
                ("product_id", "text"),
            ],
        },
    ],
    body: "select 'lot' as row_kind, l.id, l.pantry_id, l.product_id, l.best_before, l.received_at, l.quantity \
           from k join lots l on l.pantry_id = k.pantry_id and l.product_id = k.product_id \
           where l.quantity > 0 \
           or exists (select 1 from d where d.pantry_id = l.pantry_id and d.product_id = l.product_id \
                      and d.best_before = coalesce(l.best_before, '')) \
           or l.id in (select id from n) \
           or exists (select 1 from t join lots f on f.pantry_id = t.from_pantry and f.product_id = t.product_id \
                      where t.to_pantry = l.pantry_id and t.product_id = l.product_id and f.quantity > 0 \
                      and coalesce(f.best_before, '') = coalesce(l.best_before, ''))",
    postgres: None,
};

/// Stock rows that were read (and are locked) get their new value.
const UPDATE_STOCK: Statement = Statement {
    name: "update_stock",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("pantry_id", "text"),
            ("product_id", "text"),
            ("on_hand", "bigint"),
            ("updated_at", "bigint"),
        ],
    }],
    body: "update stock_levels set on_hand = v.on_hand, updated_at = v.updated_at, \
           revision = stock_levels.revision + 1 from v \
           where stock_levels.pantry_id = v.pantry_id and stock_levels.product_id = v.product_id",
    postgres: None,
};

/// A remembered plan's stock rows: each gets its new value on the
/// condition that its revision is the one remembered (every row of the
/// batch, changed or not, since a refusal was decided on it too). The
/// steps fail unless it changed every row ([`Steps::changing`]).
const WRITE_REMEMBERED_STOCK: Statement = Statement {
    name: "write_remembered_stock",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("pantry_id", "text"),
            ("product_id", "text"),
            ("on_hand", "bigint"),
            ("updated_at", "bigint"),
            ("revision", "bigint"),
        ],
    }],
    body: "update stock_levels set on_hand = v.on_hand, updated_at = v.updated_at, \
           revision = v.revision + 1 from v \
           where stock_levels.pantry_id = v.pantry_id and stock_levels.product_id = v.product_id \
           and stock_levels.revision = v.revision",
    postgres: None,
};

/// Stock rows that were not there are added to, so a row another process
/// made meanwhile keeps what it holds. Each answers its revision: 0 when
/// this batch made it (and so knows all of it), more when it was there.
const ADD_STOCK: Statement = Statement {
    name: "add_stock",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("pantry_id", "text"),
            ("product_id", "text"),
            ("organization_id", "text"),
            ("on_hand", "bigint"),
            ("updated_at", "bigint"),
        ],
    }],
    body: "insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) \
           select pantry_id, product_id, organization_id, on_hand, 0, updated_at from v where true \
           on conflict (pantry_id, product_id) do update \
           set on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at, \
           revision = stock_levels.revision + 1 \
           returning 'made' as row_kind, pantry_id, product_id, revision",
    postgres: None,
};

const UPDATE_LOTS: Statement = Statement {
    name: "update_lots",
    inputs: &[RowSet {
        name: "v",
        columns: &[("id", "text"), ("quantity", "bigint")],
    }],
    body: "update lots set quantity = v.quantity from v where lots.id = v.id",
    postgres: None,
};

const INSERT_LOTS: Statement = Statement {
    name: "insert_lots",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("id", "text"),
            ("pantry_id", "text"),
            ("product_id", "text"),
            ("best_before", "text"),
            ("quantity", "bigint"),
            ("received_at", "bigint"),
        ],
    }],
    body: "insert into lots (id, pantry_id, product_id, best_before, quantity, received_at) \
           select id, pantry_id, product_id, best_before, quantity, received_at from v",
    postgres: None,
};

const INSERT_MOVEMENTS: Statement = Statement {
    name: "insert_movements",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("id", "text"),
            ("organization_id", "text"),
            ("pantry_id", "text"),
            ("product_id", "text"),
            ("kind", "text"),
            ("quantity", "bigint"),
            ("reason", "text"),
            ("source", "text"),
            ("donor", "text"),
            ("weight_g", "bigint"),
            ("counterpart_pantry_id", "text"),
            ("note", "text"),
            ("visit_id", "text"),
            ("actor_id", "text"),
            ("correlation_id", "text"),
            ("occurred_at", "bigint"),
        ],
    }],
    body: "insert into movements (id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, \
           weight_g, counterpart_pantry_id, note, visit_id, actor_id, correlation_id, occurred_at) \
           select id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, \
           weight_g, counterpart_pantry_id, note, visit_id, actor_id, correlation_id, occurred_at from v",
    postgres: None,
};

const INSERT_MOVEMENT_LOTS: Statement = Statement {
    name: "insert_movement_lots",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("movement_id", "text"),
            ("lot_id", "text"),
            ("quantity", "bigint"),
        ],
    }],
    body: "insert into movement_lots (movement_id, lot_id, quantity) select movement_id, lot_id, quantity from v",
    postgres: None,
};

/// The batch's net change per (organization, product), added in key
/// order, so concurrent batches lock these rows in one order.
const ADD_ORGANIZATION_STOCK: Statement = Statement {
    name: "add_organization_stock",
    inputs: &[RowSet {
        name: "v",
        columns: &[
            ("organization_id", "text"),
            ("product_id", "text"),
            ("on_hand", "bigint"),
        ],
    }],
    body: "insert into organization_stock (organization_id, product_id, on_hand) \
           select organization_id, product_id, on_hand from v where true \
           on conflict (organization_id, product_id) do update \
           set on_hand = organization_stock.on_hand + excluded.on_hand",
    postgres: None,
};

/// A remembered batch on PostgreSQL as one statement: what the steps of
/// [`WRITE_REMEMBERED_STOCK`], [`UPDATE_LOTS`], [`INSERT_LOTS`],
/// [`INSERT_MOVEMENTS`], [`INSERT_MOVEMENT_LOTS`],
/// [`ADD_ORGANIZATION_STOCK`] and [`events::APPEND`] does, as data-changing
/// `with` parts of one statement, which is its own transaction. One
/// statement instead of eight saves their start-up and the `begin` and
/// `commit`, and seven round trips; a stale row fails it whole (`abs` of
/// the smallest bigint is an error; it stays outside the `case`, so the
/// planner cannot fold the error in ahead of time). The
/// foreign keys of lot lines and ledger lines are checked when the
/// statement ends, after every part has run. PostgreSQL only: SQLite has
/// no data-changing `with`, and keeps the steps.
const WRITE_REMEMBERED: Statement = Statement {
    name: "write_remembered",
    inputs: &[
        RowSet {
            name: "v",
            ..WRITE_REMEMBERED_STOCK.inputs[0]
        },
        RowSet {
            name: "lu",
            ..UPDATE_LOTS.inputs[0]
        },
        RowSet {
            name: "ln",
            ..INSERT_LOTS.inputs[0]
        },
        RowSet {
            name: "mv",
            ..INSERT_MOVEMENTS.inputs[0]
        },
        RowSet {
            name: "ml",
            ..INSERT_MOVEMENT_LOTS.inputs[0]
        },
        RowSet {
            name: "ot",
            ..ADD_ORGANIZATION_STOCK.inputs[0]
        },
        RowSet {
            name: "ev",
            columns: events::EVENT_COLUMNS_IN,
        },
    ],
    // Follows the row sets' `with … as (…)`. PostgreSQL runs the parts
    // the final `select` does not read in an order of its own (the last
    // written first), so the order is made explicit: the events' part
    // takes the order lock with an argument that counts what every other
    // part wrote, which makes them all finish first. Every row lock (stock
    // rows, lots, organization totals) is then taken before the order
    // lock, as in the script, and the order lock is held only for the
    // events and the commit.
    body: ", u as (update stock_levels s set on_hand = v.on_hand, updated_at = v.updated_at, \
           revision = v.revision + 1 from v \
           where s.pantry_id = v.pantry_id and s.product_id = v.product_id and s.revision = v.revision \
           returning 1), \
           lots_changed as (update lots set quantity = lu.quantity from lu where lots.id = lu.id returning 1), \
           lots_made as (insert into lots (id, pantry_id, product_id, best_before, quantity, received_at) \
           select id, pantry_id, product_id, best_before, quantity, received_at from ln returning 1), \
           ledger as (insert into movements (id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, \
           weight_g, counterpart_pantry_id, note, visit_id, actor_id, correlation_id, occurred_at) \
           select id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, \
           weight_g, counterpart_pantry_id, note, visit_id, actor_id, correlation_id, occurred_at from mv returning 1), \
           lot_lines as (insert into movement_lots (movement_id, lot_id, quantity) \
           select movement_id, lot_id, quantity from ml returning 1), \
           totals as (insert into organization_stock (organization_id, product_id, on_hand) \
           select organization_id, product_id, on_hand from ot \
           on conflict (organization_id, product_id) do update \
           set on_hand = organization_stock.on_hand + excluded.on_hand returning 1), \
           written as (select (select count(*) from u) + (select count(*) from lots_changed) \
           + (select count(*) from lots_made) + (select count(*) from ledger) \
           + (select count(*) from lot_lines) + (select count(*) from totals) as n), \
           appended as (insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, occurred_at) \
           select ev.id, ev.type, ev.version, ev.organization_id, ev.pantry_id, ev.payload, ev.actor_id, ev.correlation_id, ev.occurred_at \
           from (select pg_advisory_xact_lock(7415001 + 0 * written.n) from written) as order_lock cross join ev \
           order by ev.ord returning 1) \
           select abs(case when (select count(*) from u) = (select count(*) from v) then 0 \
           else (-9223372036854775807 - 1) end) as stale, (select count(*) from appended) as events",
    postgres: None,
};

/// Sets up a new connection of the writer (PostgreSQL; SQLite has
/// nothing to set).
pub(super) async fn prepare(conn: &mut Conn, backend: Backend) -> AppResult<()> {
    if backend != Backend::Postgres {
        return Ok(());
    }
    // The batch's plans do not depend on the rows: keep the generic one
    // instead of planning the first few executions afresh.
    (&mut *conn)
        .execute(sqlx::raw_sql("set plan_cache_mode = force_generic_plan"))
        .await?;
    Ok(())
}

/// What a read must fetch for a batch.
#[derive(Default)]
struct Wanted {
    keys: BTreeMap<Key, String>,
    /// (key, best-before or '') of every increase whose date is known now.
    dated: BTreeSet<(Key, String)>,
    /// Lots named by a discard.
    named: BTreeSet<String>,
    /// (from, to): a transfer's lots arrive with dates only the read tells.
    transfers: BTreeSet<(Key, Key)>,
}

impl Wanted {
    fn of(commands: &[&Command]) -> Self {
        let mut w = Wanted::default();
        for command in commands {
            for (key, organization) in keys_of(command) {
                w.keys.insert(key, organization.to_string());
            }
            let mut change = |key: Key, change: &Change| {
                if change.quantity > 0 {
                    w.dated
                        .insert((key, change.best_before.clone().unwrap_or_default()));
                } else if let Some(lot) = &change.from_lot {
                    w.named.insert(lot.0.clone());
                }
            };
            match command {
                Command::Change {
                    pantry,
                    product,
                    change: c,
                } => change((pantry.id.0.clone(), product.id.0.clone()), c),
                Command::Group { pantry, lines, .. } => {
                    for (product, c) in lines {
                        change((pantry.id.0.clone(), product.id.0.clone()), c);
                    }
                }
                Command::Transfer {
                    from, to, product, ..
                } => {
                    w.transfers.insert((
                        (from.id.0.clone(), product.id.0.clone()),
                        (to.id.0.clone(), product.id.0.clone()),
                    ));
                }
            }
        }
        w
    }

    fn steps(&self, backend: Backend) -> AppResult<Steps> {
        let mut s = Steps::new(backend);
        // SQLite: take the write lock now, so a second writer waits here
        // instead of failing when it upgrades from reading.
        s.plain(begin(backend));
        let keys: Vec<Vec<Value>> = self
            .keys
            .keys()
            .map(|(pantry, product)| vec![pantry.into(), product.into()])
            .collect();
        let dated: Vec<Vec<Value>> = self
            .dated
            .iter()
            .map(|((pantry, product), date)| vec![pantry.into(), product.into(), date.into()])
            .collect();
        let named: Vec<Vec<Value>> = self.named.iter().map(|id| vec![id.into()]).collect();
        let transfers: Vec<Vec<Value>> = self
            .transfers
            .iter()
            .map(|((from, product), (to, _))| vec![from.into(), to.into(), product.into()])
            .collect();
        s.statement(&READ_STOCK, &[&keys])?;
        if dated.is_empty() && named.is_empty() && transfers.is_empty() {
            s.statement(&READ_LOTS_WITH_STOCK, &[&keys])?;
        } else {
            s.statement(&READ_LOTS, &[&keys, &dated, &named, &transfers])?;
        }
        Ok(s)
    }
}

/// What begins the writer's transaction.
fn begin(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "begin immediate",
        Backend::Postgres => "begin",
    }
}

/// The order lots go out in: first expiry first, undated last.
fn expiry_order(a: &Lot, b: &Lot) -> std::cmp::Ordering {
    (
        a.best_before.is_none(),
        &a.best_before,
        a.received_at,
        &a.id,
    )
        .cmp(&(
            b.best_before.is_none(),
            &b.best_before,
            b.received_at,
            &b.id,
        ))
}

impl Plan {
    fn new(now: i64) -> Self {
        Self {
            now,
            ..Self::default()
        }
    }

    /// The plan of a batch from what its read answered.
    fn from_rows(jobs: &[(&Command, &Actor)], rows: &[Row], now: i64) -> AppResult<Self> {
        let mut plan = Self::new(now);
        for (command, _) in jobs {
            for (key, organization) in keys_of(command) {
                plan.stock.entry(key).or_insert_with(|| Stock {
                    organization_id: organization.to_string(),
                    ..Stock::default()
                });
            }
        }
        for r in rows {
            let kind: String = r.try_get("row_kind")?;
            let key: Key = (r.try_get("pantry_id")?, r.try_get("product_id")?);
            let Some(stock) = plan.stock.get_mut(&key) else {
                continue;
            };
            if kind == "stock" {
                let on_hand: i64 = r.try_get("on_hand")?;
                stock.on_hand = on_hand;
                stock.read = Some(on_hand);
                stock.revision = Some(r.try_get("revision")?);
            } else {
                stock.lots.push(Lot {
                    id: r.try_get("id")?,
                    best_before: r.try_get("best_before")?,
                    received_at: r.try_get("received_at")?,
                    quantity: r.try_get("quantity")?,
                    new: false,
                    changed: false,
                });
            }
        }
        Ok(plan)
    }

    /// Decides every command in order. `Err` fails the whole batch.
    async fn decide(
        &mut self,
        conn: &mut Conn,
        backend: Backend,
        jobs: &[(&Command, &Actor)],
    ) -> AppResult<Vec<AppResult<Written>>> {
        let mut outcomes = Vec::with_capacity(jobs.len());
        for (command, actor) in jobs {
            let mark = self.mark(command);
            match self.execute(conn, backend, command, actor).await? {
                Ok(written) => outcomes.push(Ok(written)),
                Err(refusal) => {
                    self.restore(mark);
                    outcomes.push(Err(refusal));
                }
            }
        }
        Ok(outcomes)
    }

    fn mark(&self, command: &Command) -> Mark {
        let keys = keys_of(command);
        Mark {
            movements: self.movements.len(),
            movement_lots: self.movement_lots.len(),
            events: self.events.len(),
            organization_stock: keys
                .iter()
                .map(|((_, product), organization)| {
                    let k = (organization.to_string(), product.clone());
                    let v = self.organization_stock.get(&k).copied();
                    (k, v)
                })
                .collect(),
            stock: keys
                .into_iter()
                .map(|(k, _)| {
                    let v = self.stock.get(&k).cloned();
                    (k, v)
                })
                .collect(),
        }
    }

    fn restore(&mut self, mark: Mark) {
        self.movements.truncate(mark.movements);
        self.movement_lots.truncate(mark.movement_lots);
        self.events.truncate(mark.events);
        for (k, v) in mark.stock.into_iter().rev() {
            match v {
                Some(v) => self.stock.insert(k, v),
                None => self.stock.remove(&k),
            };
        }
        for (k, v) in mark.organization_stock.into_iter().rev() {
            match v {
                Some(v) => self.organization_stock.insert(k, v),
                None => self.organization_stock.remove(&k),
            };
        }
    }

    /// Decides one command. The outer error fails the whole batch; the
    /// inner one refuses this command (the caller restores the plan).
    async fn execute(
        &mut self,
        conn: &mut Conn,
        backend: Backend,
        command: &Command,
        actor: &Actor,
    ) -> AppResult<AppResult<Written>> {
        match command {
            Command::Change {
                pantry,
                product,
                change,
            } => {
                let done = match self.apply(pantry, product, change, actor)? {
                    Ok(done) => done,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                self.events
                    .push(moved_event(pantry, product, change, actor, &done));
                Ok(Ok(Written::One(MovementReceipt {
                    movement_id: done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(change.quantity.abs()),
                    on_hand: done.1,
                    on_hand_text: product.unit.format(done.1),
                })))
            }
            Command::Transfer {
                from,
                to,
                product,
                quantity,
                note,
            } => {
                let out = Change {
                    kind: Some(MovementKind::Transferred),
                    quantity: -quantity,
                    counterpart: Some(to.id.0.clone()),
                    note: note.clone(),
                    ..Change::default()
                };
                let out_done = match self.apply(from, product, &out, actor)? {
                    Ok(done) => done,
                    Err(refusal) => return Ok(Err(refusal)),
                };
                self.events
                    .push(moved_event(from, product, &out, actor, &out_done));
                // Each lot taken arrives with its own best-before date.
                for lot in &out_done.2 {
                    let part = Change {
                        kind: Some(MovementKind::Transferred),
                        quantity: -lot.quantity,
                        best_before: lot.best_before.clone(),
                        counterpart: Some(from.id.0.clone()),
                        note: note.clone(),
                        ..Change::default()
                    };
                    let done = match self.apply(to, product, &part, actor)? {
                        Ok(done) => done,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    self.events
                        .push(moved_event(to, product, &part, actor, &done));
                }
                Ok(Ok(Written::One(MovementReceipt {
                    movement_id: out_done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(*quantity),
                    on_hand: out_done.1,
                    on_hand_text: product.unit.format(out_done.1),
                })))
            }
            Command::Group {
                pantry,
                lines,
                attachment,
            } => {
                if let Err(e) = attachment.check(conn, backend).await {
                    return if is_refusal(&e) { Ok(Err(e)) } else { Err(e) };
                }
                // Every short line is named, not only the first: the
                // stock each product needs over all its lines.
                let mut needed: BTreeMap<&str, (&Product, i64)> = BTreeMap::new();
                for (product, change) in lines {
                    if change.quantity < 0 {
                        needed.entry(product.id.as_str()).or_insert((product, 0)).1 -=
                            change.quantity;
                    }
                }
                let short: Vec<String> = needed
                    .values()
                    .filter_map(|(product, wanted)| {
                        let key = (pantry.id.0.clone(), product.id.0.clone());
                        let on_hand = self.stock.get(&key).map_or(0, |s| s.on_hand);
                        (*wanted > on_hand)
                            .then(|| not_enough(product, pantry, on_hand, *wanted).to_string())
                    })
                    .collect();
                if !short.is_empty() {
                    return Ok(Err(AppError::conflict("lines", short.join(" "))));
                }
                let mut posted = Vec::with_capacity(lines.len());
                for (product, change) in lines {
                    let done = match self.apply(pantry, product, change, actor)? {
                        Ok(done) => done,
                        Err(refusal) => return Ok(Err(refusal)),
                    };
                    self.events
                        .push(moved_event(pantry, product, change, actor, &done));
                    posted.push(Posted {
                        product_id: product.id.clone(),
                        movement_id: done.0,
                        quantity: change.quantity,
                        on_hand: done.1,
                        lots: done.2,
                    });
                }
                // The attachment has written rows by the time it fails, so
                // any failure here fails the batch: each command is then
                // written in a transaction of its own.
                for event in attachment.write(conn, backend, &posted, self.now).await? {
                    self.events.push(PendingEvent {
                        event,
                        organization_id: pantry.organization_id.0.clone(),
                        pantry_id: pantry.id.0.clone(),
                        actor_id: actor.user_id.clone(),
                        correlation_id: actor.correlation_id.clone(),
                    });
                }
                Ok(Ok(Written::Group(posted)))
            }
        }
    }

    /// Applies one change to the stock row and its lots in memory, and
    /// queues its ledger line. Returns the movement id, the stock after it
    /// and the lots it touched; a refusal may leave the plan changed, so
    /// the caller restores it.
    #[allow(clippy::type_complexity)]
    fn apply(
        &mut self,
        pantry: &PantryHeader,
        product: &Product,
        change: &Change,
        actor: &Actor,
    ) -> AppResult<AppResult<(MovementId, i64, Vec<LotChange>)>> {
        let now = self.now;
        let key = (pantry.id.0.clone(), product.id.0.clone());
        let stock = self.stock.entry(key).or_insert_with(|| Stock {
            organization_id: pantry.organization_id.0.clone(),
            ..Stock::default()
        });
        let lots = if change.quantity > 0 {
            let Some(after) = stock
                .on_hand
                .checked_add(change.quantity)
                .filter(|n| *n <= MAX_ON_HAND)
            else {
                return Ok(Err(AppError::invalid(
                    "quantity",
                    format!(
                        "{} holds {} of {}; a pantry holds at most {} of one product.",
                        pantry.name,
                        product.unit.format(stock.on_hand),
                        product.name,
                        product.unit.format(MAX_ON_HAND)
                    ),
                )));
            };
            let lot = match stock
                .lots
                .iter()
                .enumerate()
                .filter(|(_, l)| l.best_before == change.best_before)
                .min_by(|a, b| expiry_order(a.1, b.1))
                .map(|(i, _)| i)
            {
                Some(i) => &mut stock.lots[i],
                None => {
                    stock.lots.push(Lot {
                        id: LotId::new().0,
                        best_before: change.best_before.clone(),
                        received_at: now,
                        quantity: 0,
                        new: true,
                        changed: true,
                    });
                    stock.lots.last_mut().expect("a lot was just added")
                }
            };
            lot.quantity += change.quantity;
            lot.changed = true;
            stock.on_hand = after;
            vec![LotChange {
                lot_id: lot.id.clone(),
                best_before: lot.best_before.clone(),
                quantity: change.quantity,
            }]
        } else {
            let wanted = -change.quantity;
            if wanted > stock.on_hand {
                return Ok(Err(not_enough(product, pantry, stock.on_hand, wanted)));
            }
            let taken: Vec<(usize, i64)> = match &change.from_lot {
                Some(named) => {
                    let Some(i) = stock.lots.iter().position(|l| l.id == named.0) else {
                        return Ok(Err(AppError::invalid(
                            "lot",
                            "That lot is not part of this pantry's stock of the product.",
                        )));
                    };
                    if stock.lots[i].quantity < wanted {
                        return Ok(Err(AppError::conflict(
                            "quantity",
                            format!(
                                "That lot holds only {} of {}; you asked for {}.",
                                product.unit.format(stock.lots[i].quantity),
                                product.name,
                                product.unit.format(wanted)
                            ),
                        )));
                    }
                    vec![(i, wanted)]
                }
                None => {
                    let mut order: Vec<usize> = (0..stock.lots.len())
                        .filter(|&i| stock.lots[i].quantity > 0)
                        .collect();
                    order.sort_by(|&a, &b| expiry_order(&stock.lots[a], &stock.lots[b]));
                    let mut left = wanted;
                    let mut taken = Vec::new();
                    for i in order {
                        if left == 0 {
                            break;
                        }
                        let take = left.min(stock.lots[i].quantity);
                        taken.push((i, take));
                        left -= take;
                    }
                    if left > 0 {
                        // The lots do not add up to the stock row: the
                        // ledger and the lots disagree, and nothing may be
                        // written until someone looks.
                        return Err(AppError::internal(&std::io::Error::other(format!(
                            "lots of product {} at pantry {} hold {left} less than its stock row",
                            product.id, pantry.id
                        ))));
                    }
                    taken
                }
            };
            stock.on_hand -= wanted;
            taken
                .into_iter()
                .map(|(i, take)| {
                    let lot = &mut stock.lots[i];
                    lot.quantity -= take;
                    lot.changed = true;
                    LotChange {
                        lot_id: lot.id.clone(),
                        best_before: lot.best_before.clone(),
                        quantity: -take,
                    }
                })
                .collect()
        };
        let on_hand = stock.on_hand;
        let movement = MovementId::new();
        *self
            .organization_stock
            .entry((pantry.organization_id.0.clone(), product.id.0.clone()))
            .or_default() += change.quantity;
        self.movements.push(MovementRow {
            id: movement.clone(),
            organization_id: pantry.organization_id.0.clone(),
            pantry_id: pantry.id.0.clone(),
            product_id: product.id.0.clone(),
            change: change.clone(),
            actor: actor.clone(),
            occurred_at: now,
        });
        for l in &lots {
            self.movement_lots.push((movement.clone(), l.clone()));
        }
        Ok(Ok((movement, on_hand, lots)))
    }

    /// The steps that write the plan: stock rows, lots, ledger, lot
    /// lines, organization totals, events, and the commit.
    fn write_steps(&self, backend: Backend) -> AppResult<Steps> {
        let mut s = Steps::new(backend);
        let now = self.now;
        let mut remembered = Vec::new();
        let mut updated = Vec::new();
        let mut created = Vec::new();
        let mut lots = Vec::new();
        let mut new_lots = Vec::new();
        for ((pantry, product), st) in &self.stock {
            match st.read {
                Some(_) if self.remembered => remembered.push(vec![
                    pantry.into(),
                    product.into(),
                    st.on_hand.into(),
                    now.into(),
                    st.revision.unwrap_or(-1).into(),
                ]),
                Some(_) if st.changed() => updated.push(vec![
                    pantry.into(),
                    product.into(),
                    st.on_hand.into(),
                    now.into(),
                ]),
                Some(_) => {}
                // A row that was not there: only an increase makes one
                // (and its lots need it).
                None if st.lots.iter().any(|l| l.new) => created.push(vec![
                    pantry.into(),
                    product.into(),
                    (&st.organization_id).into(),
                    st.on_hand.into(),
                    now.into(),
                ]),
                None => {}
            }
            for lot in st.lots.iter().filter(|l| l.changed) {
                if lot.new {
                    new_lots.push(vec![
                        (&lot.id).into(),
                        pantry.into(),
                        product.into(),
                        lot.best_before.as_ref().into(),
                        lot.quantity.into(),
                        lot.received_at.into(),
                    ]);
                } else {
                    lots.push(vec![(&lot.id).into(), lot.quantity.into()]);
                }
            }
        }
        let movements: Vec<Vec<Value>> = self
            .movements
            .iter()
            .map(|m| {
                let c = &m.change;
                vec![
                    m.id.as_str().into(),
                    (&m.organization_id).into(),
                    (&m.pantry_id).into(),
                    (&m.product_id).into(),
                    c.kind.map_or("", |k| k.as_str()).into(),
                    c.quantity.into(),
                    c.reason.as_ref().into(),
                    c.source.as_ref().into(),
                    c.donor.as_ref().into(),
                    c.weight_g.into(),
                    c.counterpart.as_ref().into(),
                    c.note.as_ref().into(),
                    c.visit.as_ref().into(),
                    (&m.actor.user_id).into(),
                    (&m.actor.correlation_id).into(),
                    m.occurred_at.into(),
                ]
            })
            .collect();
        let movement_lots: Vec<Vec<Value>> = self
            .movement_lots
            .iter()
            .map(|(movement, lot)| {
                vec![
                    movement.as_str().into(),
                    (&lot.lot_id).into(),
                    lot.quantity.into(),
                ]
            })
            .collect();
        let totals: Vec<Vec<Value>> = self
            .organization_stock
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .map(|((organization, product), delta)| {
                vec![organization.into(), product.into(), (*delta).into()]
            })
            .collect();
        let events: Vec<events::NewEvent<'_>> = self
            .events
            .iter()
            .map(|e| events::NewEvent {
                event: &e.event,
                organization_id: &e.organization_id,
                pantry_id: Some(&e.pantry_id),
                actor_id: Some(&e.actor_id),
                correlation_id: &e.correlation_id,
                occurred_at: now,
            })
            .collect();
        if self.remembered
            && backend == Backend::Postgres
            && updated.is_empty()
            && created.is_empty()
        {
            let events = events::rows(&events)?;
            s.statement(
                &WRITE_REMEMBERED,
                &[
                    &remembered,
                    &lots,
                    &new_lots,
                    &movements,
                    &movement_lots,
                    &totals,
                    &events,
                ],
            )?;
            return Ok(s);
        }
        if self.remembered {
            s.plain(begin(backend));
            s.statement(&WRITE_REMEMBERED_STOCK, &[&remembered])?
                .changing(remembered.len() as u64);
        }
        // In this order: lots need their stock row, lot lines their lot
        // and movement; the organization totals' row locks come before the
        // events' order lock.
        for (statement, rows) in [
            (&UPDATE_STOCK, &updated),
            (&ADD_STOCK, &created),
            (&UPDATE_LOTS, &lots),
            (&INSERT_LOTS, &new_lots),
            (&INSERT_MOVEMENTS, &movements),
            (&INSERT_MOVEMENT_LOTS, &movement_lots),
            (&ADD_ORGANIZATION_STOCK, &totals),
        ] {
            if !rows.is_empty() {
                s.statement(statement, &[rows])?;
            }
        }
        events::append_to_steps(&mut s, &events)?;
        s.plain("commit");
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lot(id: &str, best_before: Option<&str>, received_at: i64, quantity: i64) -> Lot {
        Lot {
            id: id.into(),
            best_before: best_before.map(String::from),
            received_at,
            quantity,
            new: false,
            changed: false,
        }
    }

    #[test]
    fn lots_go_out_first_expiry_first_and_undated_last() {
        let mut lots = [
            lot("d", None, 1, 5),
            lot("b", Some("2027-03-01"), 2, 5),
            lot("a", Some("2027-01-01"), 3, 5),
            lot("c", Some("2027-03-01"), 1, 5),
        ];
        lots.sort_by(expiry_order);
        let ids: Vec<&str> = lots.iter().map(|l| l.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "b", "d"]);
    }

    #[test]
    fn the_read_asks_for_every_lot_a_batch_can_touch() {
        let mut w = Wanted::default();
        let key = ("p1".to_string(), "q1".to_string());
        w.keys.insert(key.clone(), "o".into());
        assert_eq!(
            w.steps(Backend::Sqlite).unwrap().names(),
            ["begin immediate", "read_stock", "read_lots_with_stock"]
        );
        w.dated.insert((key.clone(), "2027-01-01".into()));
        w.named.insert("lot-9".into());
        w.transfers
            .insert((key.clone(), ("p2".to_string(), "q1".to_string())));
        assert_eq!(
            w.steps(Backend::Postgres).unwrap().names(),
            ["begin", "read_stock", "read_lots"]
        );
    }

    /// Every statement is valid SQL for SQLite, with one parameter per
    /// row set (PostgreSQL's are run by the integration tests).
    #[tokio::test]
    async fn every_statement_prepares_on_sqlite() {
        use sqlx::Executor as _;
        let dir = std::env::temp_dir().join(format!("larder-batch-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.join("t.db").display());
        let db = crate::db::Db::connect(&url).await.unwrap();
        let mut conn = db.connect_one().await.unwrap();
        for statement in STATEMENTS {
            if statement.name == WRITE_REMEMBERED.name {
                continue; // PostgreSQL only
            }
            let sql = statement.sql(Backend::Sqlite);
            if let Err(e) = (&mut conn).prepare(sql.as_str()).await {
                panic!("{}: {e}\n{sql}", statement.name);
            }
        }
        assert!(READ_STOCK
            .sql(Backend::Postgres)
            .ends_with("for update of s"));
        drop(conn);
        db.pool().close().await;
        std::fs::remove_dir_all(dir).unwrap();
    }
}

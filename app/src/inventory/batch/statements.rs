//! The statements a batch runs, each written once for both databases
//! over row sets whose values are bound.

use sqlx::Executor as _;

use crate::db::{Backend, Conn, RowSet, Statement};
use crate::error::AppResult;
use crate::events::store as events;

/// The statements a batch runs, each over row sets (see
/// [`crate::db::Statement`]); sqlx prepares each once per connection.
#[cfg(test)]
pub(super) const STATEMENTS: [&Statement; 13] = [
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

pub(super) const KEYS: RowSet = RowSet {
    name: "k",
    columns: &[("pantry_id", "text"), ("product_id", "text")],
};

/// The stock rows a batch touches, locked on PostgreSQL in key order, so
/// two writers never wait on each other in a circle.
pub(super) const READ_STOCK: Statement = Statement {
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
pub(super) const READ_LOTS_WITH_STOCK: Statement = Statement {
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
pub(super) const READ_LOTS: Statement = Statement {
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
pub(super) const UPDATE_STOCK: Statement = Statement {
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
pub(super) const WRITE_REMEMBERED_STOCK: Statement = Statement {
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
pub(super) const ADD_STOCK: Statement = Statement {
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

pub(super) const UPDATE_LOTS: Statement = Statement {
    name: "update_lots",
    inputs: &[RowSet {
        name: "v",
        columns: &[("id", "text"), ("quantity", "bigint")],
    }],
    body: "update lots set quantity = v.quantity from v where lots.id = v.id",
    postgres: None,
};

pub(super) const INSERT_LOTS: Statement = Statement {
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

pub(super) const INSERT_MOVEMENTS: Statement = Statement {
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

pub(super) const INSERT_MOVEMENT_LOTS: Statement = Statement {
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
pub(super) const ADD_ORGANIZATION_STOCK: Statement = Statement {
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
pub(super) const WRITE_REMEMBERED: Statement = Statement {
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
           appended as (insert into events (id, type, version, organization_id, pantry_id, payload, actor_id, correlation_id, client_ip, occurred_at) \
           select ev.id, ev.type, ev.version, ev.organization_id, ev.pantry_id, ev.payload, ev.actor_id, ev.correlation_id, ev.client_ip, ev.occurred_at \
           from (select pg_advisory_xact_lock(7415001 + 0 * written.n) from written) as order_lock cross join ev \
           order by ev.ord returning 1) \
           select abs(case when (select count(*) from u) = (select count(*) from v) then 0 \
           else (-9223372036854775807 - 1) end) as stale, (select count(*) from appended) as events",
    postgres: None,
};

/// Sets up a new connection of the writer (PostgreSQL; SQLite has
/// nothing to set).
pub(in crate::inventory) async fn prepare(conn: &mut Conn, backend: Backend) -> AppResult<()> {
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

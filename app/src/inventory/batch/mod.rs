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

use sqlx::Executor as _;

use super::model::*;
use super::service::{
    moved_event, not_enough, Actor, Change, Command, LotChange, PendingEvent, Posted, Written,
};
use crate::catalog::model::{Product, MAX_ON_HAND};
use crate::db::{Backend, Conn, Row, Steps, Value};
use crate::error::{AppError, AppResult};
use crate::events::store as events;
use crate::ids::{LotId, MovementId};

mod memory;
mod plan;
mod statements;

pub(super) use memory::Memory;
pub(super) use statements::prepare;
use statements::*;

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
            (pantry.id.to_string(), product.id.to_string()),
            pantry.organization_id.as_str(),
        )],
        Command::Transfer {
            from, to, product, ..
        } => vec![
            (
                (from.id.to_string(), product.id.to_string()),
                from.organization_id.as_str(),
            ),
            (
                (to.id.to_string(), product.id.to_string()),
                to.organization_id.as_str(),
            ),
        ],
        Command::Group { pantry, lines, .. } => lines
            .iter()
            .map(|(product, _)| {
                (
                    (pantry.id.to_string(), product.id.to_string()),
                    pantry.organization_id.as_str(),
                )
            })
            .collect(),
    }
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
                if change.quantity() > 0 {
                    w.dated
                        .insert((key, change.best_before().unwrap_or_default().to_string()));
                } else if let Some(lot) = change.from_lot() {
                    w.named.insert(lot.to_string());
                }
            };
            match command {
                Command::Change {
                    pantry,
                    product,
                    change: c,
                } => change((pantry.id.to_string(), product.id.to_string()), c),
                Command::Group { pantry, lines, .. } => {
                    for (product, c) in lines {
                        change((pantry.id.to_string(), product.id.to_string()), c);
                    }
                }
                Command::Transfer {
                    from, to, product, ..
                } => {
                    w.transfers.insert((
                        (from.id.to_string(), product.id.to_string()),
                        (to.id.to_string(), product.id.to_string()),
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

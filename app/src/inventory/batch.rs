//! Writing a batch of movements set-wise, in a fixed number of statements
//! whatever the batch's size.
//!
//! 1. **Read.** Lock and read every stock row the batch touches, in
//!    (pantry, product) order so concurrent writers cannot deadlock, and
//!    their lots.
//! 2. **Decide**, in memory, one command after the other: refusals (not
//!    enough stock, an unknown or short lot) leave the in-memory state as
//!    they found it, so the rest of the batch goes on; lots are taken
//!    first expiry first out, or added to the lot of their best-before
//!    date.
//! 3. **Write** the new stock rows and lots, the ledger lines and their
//!    lot lines, the organization totals and the events: one multi-row
//!    statement each (a few hundred rows to a statement), events last.
//!
//! About ten round trips per batch, against two or three per movement
//! before, which is what the write path's throughput is made of.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::Row as _;

use super::model::*;
use super::service::{
    moved_event, not_enough, Actor, Change, Command, LotChange, PendingEvent, StockMoved,
    EVENT_VERSION,
};
use crate::catalog::model::Product;
use crate::db::{now_ms, Backend, Sql, Tx};
use crate::error::{AppError, AppResult};
use crate::events::store::{self as events, NewEvent};
use crate::ids::{LotId, MovementId};

/// Rows to a statement: well under SQLite's 32,766 parameters.
const ROWS_PER_STATEMENT: usize = 500;

/// (pantry, product): one stock row.
type Key = (String, String);

#[derive(Debug, Clone)]
struct Lot {
    id: String,
    best_before: Option<String>,
    received_at: i64,
    quantity: i64,
    changed: bool,
}

#[derive(Debug, Default)]
struct Stock {
    organization_id: String,
    on_hand: i64,
    /// The row was there when read (and is locked); a new one is created
    /// by adding to whatever another process may have created meanwhile.
    existed: bool,
    changed: bool,
    /// Every lot read for this row (and lots created in this batch).
    lots: Vec<Lot>,
}

/// A movement's ledger line.
#[derive(Debug, Clone)]
struct MovementRow {
    id: MovementId,
    organization_id: String,
    pantry_id: String,
    product_id: String,
    kind: MovementKind,
    change: Change,
    actor: Actor,
}

/// The batch's state: stock rows and lots as read, then as decided, and
/// what to append.
#[derive(Debug, Default)]
struct Plan {
    now: i64,
    stock: BTreeMap<Key, Stock>,
    movements: Vec<MovementRow>,
    movement_lots: Vec<(MovementId, LotChange)>,
    events: Vec<PendingEvent>,
    /// Net change per (organization, product); sorted, so concurrent
    /// batches lock `organization_stock` rows in one order.
    organization_stock: BTreeMap<(String, String), i64>,
}

/// Writes the commands in `tx` and returns each one's outcome (a refusal
/// for one leaves the others to go on). `Err` means the batch failed as a
/// whole and the caller must roll `tx` back.
pub(super) async fn write(
    tx: &mut Tx,
    backend: Backend,
    commands: &[(&Command, &Actor)],
) -> AppResult<Vec<AppResult<MovementReceipt>>> {
    let mut plan = Plan {
        now: now_ms(),
        ..Plan::default()
    };
    plan.read(tx, backend, commands).await?;
    let mut outcomes = Vec::with_capacity(commands.len());
    for (command, actor) in commands {
        match plan.execute(command, actor) {
            Err(e) if !is_refusal(&e) => return Err(e),
            outcome => outcomes.push(outcome),
        }
    }
    plan.write(tx, backend).await?;
    Ok(outcomes)
}

/// Whether a command's error is a refusal (the batch goes on without it).
fn is_refusal(e: &AppError) -> bool {
    matches!(
        e,
        AppError::Invalid { .. } | AppError::Conflict { .. } | AppError::NotFound(_)
    )
}

/// `(a, b) in ((…), (…))` over keys, as SQL with bound parameters.
fn keys_in(sql: &mut Sql, columns: &str, keys: &[&Key]) {
    sql.push(columns).push(" in (");
    sql.rows(keys, |r, (pantry, product)| {
        r.text(pantry.as_str()).text(product.as_str());
    });
    sql.push(")");
}

impl Plan {
    async fn read(
        &mut self,
        tx: &mut Tx,
        backend: Backend,
        commands: &[(&Command, &Actor)],
    ) -> AppResult<()> {
        let mut keys: BTreeMap<Key, String> = BTreeMap::new();
        let mut increases: BTreeSet<Key> = BTreeSet::new();
        let mut named_lots: BTreeSet<String> = BTreeSet::new();
        for (command, _) in commands {
            match command {
                Command::Change {
                    pantry,
                    product,
                    change,
                } => {
                    let key = (pantry.id.0.clone(), product.id.0.clone());
                    if change.quantity > 0 {
                        increases.insert(key.clone());
                    }
                    if let Some(lot) = &change.from_lot {
                        named_lots.insert(lot.0.clone());
                    }
                    keys.insert(key, pantry.organization_id.0.clone());
                }
                Command::Transfer {
                    from, to, product, ..
                } => {
                    let to_key = (to.id.0.clone(), product.id.0.clone());
                    increases.insert(to_key.clone());
                    keys.insert(to_key, to.organization_id.0.clone());
                    keys.insert(
                        (from.id.0.clone(), product.id.0.clone()),
                        from.organization_id.0.clone(),
                    );
                }
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        let all: Vec<&Key> = keys.keys().collect();
        for chunk in all.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push(
                "select pantry_id, product_id, organization_id, on_hand from stock_levels where ",
            );
            keys_in(&mut sql, "(pantry_id, product_id)", chunk);
            // Locked in key order: two writers never wait on each other
            // in a circle.
            sql.push(" order by pantry_id, product_id");
            if backend == Backend::Postgres {
                sql.push(" for update");
            }
            for r in sql.query().persistent(false).fetch_all(&mut **tx).await? {
                self.stock.insert(
                    (r.try_get("pantry_id")?, r.try_get("product_id")?),
                    Stock {
                        organization_id: r.try_get("organization_id")?,
                        on_hand: r.try_get("on_hand")?,
                        existed: true,
                        ..Stock::default()
                    },
                );
            }
        }
        // Lots with stock; every lot of a row that receives (an emptied
        // lot of the same date is filled again, not duplicated); and
        // lots named by a discard.
        let read: Vec<&Key> = self.stock.keys().collect();
        let increased: Vec<&Key> = increases
            .iter()
            .filter(|k| self.stock.contains_key(*k))
            .collect();
        let mut lots = Vec::new();
        for chunk in read.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push("select id, pantry_id, product_id, best_before, received_at, quantity from lots where ");
            keys_in(&mut sql, "(pantry_id, product_id)", chunk);
            sql.push(" and (quantity > 0");
            if !increased.is_empty() {
                sql.push(" or ");
                keys_in(&mut sql, "(pantry_id, product_id)", &increased);
            }
            for lot in &named_lots {
                sql.push(" or id = ").text(lot.as_str());
            }
            sql.push(")");
            lots.extend(sql.query().persistent(false).fetch_all(&mut **tx).await?);
        }
        for r in lots {
            let key: Key = (r.try_get("pantry_id")?, r.try_get("product_id")?);
            if let Some(stock) = self.stock.get_mut(&key) {
                stock.lots.push(Lot {
                    id: r.try_get("id")?,
                    best_before: r.try_get("best_before")?,
                    received_at: r.try_get("received_at")?,
                    quantity: r.try_get("quantity")?,
                    changed: false,
                });
            }
        }
        Ok(())
    }

    /// Decides one command. A refusal changes nothing in the plan.
    fn execute(&mut self, command: &Command, actor: &Actor) -> AppResult<MovementReceipt> {
        match command {
            Command::Change {
                pantry,
                product,
                change,
            } => {
                let done = self.apply(pantry, product, change, actor)?;
                self.events
                    .push(moved_event(pantry, product, change, actor, &done));
                Ok(MovementReceipt {
                    movement_id: done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(change.quantity.abs()),
                    on_hand: done.1,
                    on_hand_text: product.unit.format(done.1),
                })
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
                let out_done = self.apply(from, product, &out, actor)?;
                self.events
                    .push(moved_event(from, product, &out, actor, &out_done));
                // Each lot taken arrives with its own best-before date.
                // Increases cannot be refused, so the transfer is whole.
                for lot in out_done.2.clone() {
                    let part = Change {
                        kind: Some(MovementKind::Transferred),
                        quantity: -lot.quantity,
                        best_before: lot.best_before.clone(),
                        counterpart: Some(from.id.0.clone()),
                        note: note.clone(),
                        ..Change::default()
                    };
                    let done = self.apply(to, product, &part, actor)?;
                    self.events
                        .push(moved_event(to, product, &part, actor, &done));
                }
                Ok(MovementReceipt {
                    movement_id: out_done.0,
                    product_name: product.name.clone(),
                    quantity_text: product.unit.format(*quantity),
                    on_hand: out_done.1,
                    on_hand_text: product.unit.format(out_done.1),
                })
            }
        }
    }

    /// Applies one change to the in-memory stock row and its lots; every
    /// refusal comes before the first change. Returns the movement id,
    /// the stock after it and the lots it touched.
    fn apply(
        &mut self,
        pantry: &PantryHeader,
        product: &Product,
        change: &Change,
        actor: &Actor,
    ) -> AppResult<(MovementId, i64, Vec<LotChange>)> {
        let kind = change.kind.expect("a change has a kind");
        let now = self.now;
        let key = (pantry.id.0.clone(), product.id.0.clone());
        let lots = if change.quantity > 0 {
            let stock = self.stock.entry(key.clone()).or_insert_with(|| Stock {
                organization_id: pantry.organization_id.0.clone(),
                ..Stock::default()
            });
            let lot = match stock
                .lots
                .iter_mut()
                .find(|l| l.best_before == change.best_before)
            {
                Some(lot) => lot,
                None => {
                    stock.lots.push(Lot {
                        id: LotId::new().0,
                        best_before: change.best_before.clone(),
                        received_at: now,
                        quantity: 0,
                        changed: true,
                    });
                    stock.lots.last_mut().expect("just pushed")
                }
            };
            lot.quantity += change.quantity;
            lot.changed = true;
            stock.on_hand += change.quantity;
            stock.changed = true;
            vec![LotChange {
                lot_id: lot.id.clone(),
                best_before: lot.best_before.clone(),
                quantity: change.quantity,
            }]
        } else {
            let wanted = -change.quantity;
            let on_hand = self.stock.get(&key).map_or(0, |s| s.on_hand);
            if wanted > on_hand {
                return Err(not_enough(product, pantry, on_hand, wanted));
            }
            let stock = self.stock.get_mut(&key).expect("a row with stock was read");
            let taken = match &change.from_lot {
                Some(named) => {
                    let Some(lot) = stock.lots.iter().find(|l| l.id == named.0) else {
                        return Err(AppError::invalid(
                            "lot",
                            "That lot is not part of this pantry's stock of the product.",
                        ));
                    };
                    if lot.quantity < wanted {
                        return Err(AppError::conflict(
                            "quantity",
                            format!(
                                "That lot holds only {} of {}; you asked for {}.",
                                product.unit.format(lot.quantity),
                                product.name,
                                product.unit.format(wanted)
                            ),
                        ));
                    }
                    vec![(named.0.clone(), wanted)]
                }
                None => first_expiry_first(&stock.lots, wanted).ok_or_else(|| {
                    AppError::internal(&std::io::Error::other(format!(
                        "lots of product {} at pantry {} hold less than its stock row",
                        product.id, pantry.id
                    )))
                })?,
            };
            let mut changes = Vec::with_capacity(taken.len());
            for (id, take) in taken {
                let lot = stock
                    .lots
                    .iter_mut()
                    .find(|l| l.id == id)
                    .expect("a lot chosen from this row");
                lot.quantity -= take;
                lot.changed = true;
                changes.push(LotChange {
                    lot_id: id,
                    best_before: lot.best_before.clone(),
                    quantity: -take,
                });
            }
            stock.on_hand -= wanted;
            stock.changed = true;
            changes
        };
        let after = self.stock[&key].on_hand;
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
            kind,
            change: change.clone(),
            actor: actor.clone(),
        });
        for l in &lots {
            self.movement_lots.push((movement.clone(), l.clone()));
        }
        Ok((movement, after, lots))
    }

    async fn write(&self, tx: &mut Tx, backend: Backend) -> AppResult<()> {
        let now = self.now;
        for existed in [true, false] {
            let rows: Vec<_> = self
                .stock
                .iter()
                .filter(|(_, s)| s.changed && s.existed == existed)
                .collect();
            write_stock(tx, &rows, existed, now).await?;
        }
        let lots: Vec<_> = self
            .stock
            .iter()
            .flat_map(|((pantry, product), s)| {
                s.lots
                    .iter()
                    .filter(|l| l.changed)
                    .map(move |l| (pantry, product, l))
            })
            .collect();
        for chunk in lots.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push("insert into lots (id, pantry_id, product_id, best_before, quantity, received_at) values ");
            sql.rows(chunk, |r, (pantry, product, l)| {
                r.text(l.id.as_str())
                    .text(pantry.as_str())
                    .text(product.as_str())
                    .opt_text(l.best_before.clone())
                    .int(l.quantity)
                    .int(l.received_at);
            });
            sql.push(" on conflict (id) do update set quantity = excluded.quantity");
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        for chunk in self.movements.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push(
                "insert into movements (id, organization_id, pantry_id, product_id, kind, quantity, reason, source, donor, weight_g, \
                 counterpart_pantry_id, note, actor_id, correlation_id, occurred_at) values ",
            );
            sql.rows(chunk, |r, m| {
                r.text(m.id.as_str())
                    .text(m.organization_id.as_str())
                    .text(m.pantry_id.as_str())
                    .text(m.product_id.as_str())
                    .text(m.kind.as_str())
                    .int(m.change.quantity)
                    .opt_text(m.change.reason.clone())
                    .opt_text(m.change.source.clone())
                    .opt_text(m.change.donor.clone())
                    .opt_int(m.change.weight_g)
                    .opt_text(m.change.counterpart.clone())
                    .opt_text(m.change.note.clone())
                    .text(m.actor.user_id.as_str())
                    .text(m.actor.correlation_id.as_str())
                    .int(now);
            });
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        for chunk in self.movement_lots.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push("insert into movement_lots (movement_id, lot_id, quantity) values ");
            sql.rows(chunk, |r, (movement, lot)| {
                r.text(movement.as_str())
                    .text(lot.lot_id.as_str())
                    .int(lot.quantity);
            });
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        let totals: Vec<_> = self
            .organization_stock
            .iter()
            .filter(|(_, delta)| **delta != 0)
            .collect();
        for chunk in totals.chunks(ROWS_PER_STATEMENT) {
            let mut sql = Sql::default();
            sql.push(
                "insert into organization_stock (organization_id, product_id, on_hand) values ",
            );
            sql.rows(chunk, |r, ((organization, product), delta)| {
                r.text(organization.as_str())
                    .text(product.as_str())
                    .int(**delta);
            });
            sql.push(
                " on conflict (organization_id, product_id) do update \
                 set on_hand = organization_stock.on_hand + excluded.on_hand",
            );
            sql.query().persistent(false).execute(&mut **tx).await?;
        }
        if self.events.is_empty() {
            return Ok(());
        }
        let new: Vec<NewEvent<'_, StockMoved>> = self
            .events
            .iter()
            .map(|e| NewEvent {
                event_type: e.event_type,
                version: EVENT_VERSION,
                organization_id: &e.organization_id,
                pantry_id: Some(&e.pantry_id),
                payload: &e.payload,
                actor_id: Some(&e.actor_id),
                correlation_id: &e.correlation_id,
            })
            .collect();
        events::append_all(tx, backend, &new).await
    }
}

/// Writes stock rows: ones that were read (and locked) get their new
/// value; new ones add theirs to any row another process created since.
async fn write_stock(
    tx: &mut Tx,
    rows: &[(&Key, &Stock)],
    existed: bool,
    now: i64,
) -> AppResult<()> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut sql = Sql::default();
        sql.push("insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) values ");
        sql.rows(chunk, |r, ((pantry, product), s)| {
            r.text(pantry.as_str())
                .text(product.as_str())
                .text(s.organization_id.as_str())
                .int(s.on_hand)
                .int(0)
                .int(now);
        });
        sql.push(if existed {
            " on conflict (pantry_id, product_id) do update \
             set on_hand = excluded.on_hand, updated_at = excluded.updated_at"
        } else {
            " on conflict (pantry_id, product_id) do update \
             set on_hand = stock_levels.on_hand + excluded.on_hand, updated_at = excluded.updated_at"
        });
        sql.query().persistent(false).execute(&mut **tx).await?;
    }
    Ok(())
}

/// Which lots to take `wanted` from, and how much of each: first expiry
/// first, undated last, then oldest received. `None` if they hold less.
fn first_expiry_first(lots: &[Lot], wanted: i64) -> Option<Vec<(String, i64)>> {
    let mut order: Vec<&Lot> = lots.iter().filter(|l| l.quantity > 0).collect();
    order.sort_by(|a, b| {
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
    });
    let mut left = wanted;
    let mut taken = Vec::new();
    for lot in order {
        if left == 0 {
            break;
        }
        let take = left.min(lot.quantity);
        taken.push((lot.id.clone(), take));
        left -= take;
    }
    (left == 0).then_some(taken)
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
            changed: false,
        }
    }

    #[test]
    fn takes_first_expiry_first_and_undated_last() {
        let lots = vec![
            lot("undated", None, 1, 10),
            lot("late", Some("2031-01-01"), 1, 5),
            lot("early", Some("2030-01-01"), 2, 3),
            lot("empty", Some("2029-01-01"), 1, 0),
        ];
        assert_eq!(
            first_expiry_first(&lots, 10),
            Some(vec![
                ("early".into(), 3),
                ("late".into(), 5),
                ("undated".into(), 2)
            ])
        );
        assert_eq!(
            first_expiry_first(&lots, 2),
            Some(vec![("early".into(), 2)])
        );
        assert_eq!(first_expiry_first(&lots, 19), None);
    }

    #[test]
    fn same_date_goes_by_receipt_then_id() {
        let lots = vec![
            lot("b", Some("2030-01-01"), 5, 1),
            lot("a", Some("2030-01-01"), 5, 1),
            lot("c", Some("2030-01-01"), 4, 1),
        ];
        assert_eq!(
            first_expiry_first(&lots, 3),
            Some(vec![("c".into(), 1), ("a".into(), 1), ("b".into(), 1)])
        );
    }
}

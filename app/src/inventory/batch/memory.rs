//! The writer's memory of the rows it wrote: what lets a batch skip its
//! read.

use std::collections::BTreeSet;

use sqlx::Row as _;

use super::{Actor, Command, Key, Lot, Plan, Stock};
use crate::db::Row;
use crate::error::AppResult;

/// What a writer knows of the stock rows it has written, as of its own
/// last commit: each row's on-hand, revision and lots with stock, exactly
/// what a read would answer while nobody else writes them. A batch whose
/// every command it covers is decided from it and written in one round
/// trip, each row on the condition of its revision (see
/// [`WRITE_REMEMBERED_STOCK`]); when another writer (a transfer from
/// another shard, another process) has written a row since, the script
/// fails before its commit and the batch is read and written afresh.
#[derive(Default)]
pub(in crate::inventory) struct Memory {
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

    pub(in crate::inventory) fn clear(&mut self) {
        self.rows.clear();
    }

    /// A plan from memory, when it covers every command: changes (not
    /// transfers, whose lots arrive at another pantry with dates only a
    /// read tells, nor groups, whose attachments read) to remembered rows,
    /// an increase only to a date that has a lot with stock (a lot of
    /// that date may be there empty), a named lot only when it has stock.
    pub(super) fn plan(&self, jobs: &[(&Command, &Actor)], now: i64) -> Option<Plan> {
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
            let key = (pantry.id.to_string(), product.id.to_string());
            let known = self.rows.get(&key)?;
            let covered = if change.quantity() > 0 {
                known
                    .lots
                    .iter()
                    .any(|l| l.best_before.as_deref() == change.best_before())
            } else if let Some(lot) = change.from_lot() {
                known.lots.iter().any(|l| l.id == lot.as_str())
            } else {
                true
            };
            if !covered {
                return None;
            }
            plan.stock.entry(key).or_insert_with(|| Stock {
                organization_id: pantry.organization_id.to_string(),
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
    pub(super) fn learn(&mut self, plan: &Plan, written: &[Row]) -> AppResult<()> {
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

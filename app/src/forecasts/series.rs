//! A pantry's demand series: per product and local day, what went out in
//! Larder (net of returns) plus imported history, in the product's unit,
//! with the days it was out of stock flagged.
//!
//! Out-of-stock days come from the stock on hand at the end of each day,
//! worked back from today's stock through each day's net flow. A day
//! that ended with nothing on the shelf is censored: what went out was
//! all there was, not all that was wanted. Days before Larder first
//! moved the product (imported history only) are not flagged: nobody
//! knows what was on the shelf.

use std::collections::{BTreeMap, HashMap};

use time::Date;

use crate::dates::iso;
use crate::db::Db;
use crate::error::AppResult;
use crate::inventory::ledger;

/// At most this much history is read: three years covers a yearly pattern
/// twice and keeps a run's work bounded.
pub const MAX_HISTORY_DAYS: i64 = 3 * 365;

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub product_id: String,
    /// The day of `demand[0]`.
    pub first_day: Date,
    /// In the product's unit, one value per day up to yesterday.
    pub demand: Vec<f64>,
    pub censored: Vec<bool>,
}

/// Every product's series at a pantry (one product's when `product` is
/// given), up to the day before `today`. `scale` gives each product's
/// stored parts per unit (1000 g in a kg); products not in it are skipped.
pub async fn pantry_series(
    db: &Db,
    pantry: &str,
    today: Date,
    product: Option<&str>,
    scale: &HashMap<String, i64>,
) -> AppResult<Vec<Series>> {
    let flows = ledger::daily_flows(db, pantry, product).await?;
    let imported = crate::usage::history::imported_per_day(db, pantry, product).await?;
    let holdings = ledger::holdings(db, pantry, product).await?;
    Ok(build(today, &flows, &imported, &holdings, scale))
}

/// Per product: day → (went out, imported, net change).
type Days = BTreeMap<Date, (i64, i64, i64)>;

/// The series from what the ledger and the history hold; pure, so it is
/// tested without a database.
pub fn build(
    today: Date,
    flows: &[ledger::DayFlows],
    imported: &[(String, String, i64)],
    holdings: &HashMap<String, ledger::Holding>,
    scale: &HashMap<String, i64>,
) -> Vec<Series> {
    let mut by_product: BTreeMap<String, Days> = BTreeMap::new();
    for f in flows {
        if let Ok(day) = crate::dates::parse(&f.day, 1900..=2200) {
            let e = by_product
                .entry(f.product_id.clone())
                .or_default()
                .entry(day)
                .or_default();
            e.0 += -f.distributed;
            e.2 += f.net;
        }
    }
    for (p, d, q) in imported {
        if let Ok(day) = crate::dates::parse(d, 1900..=2200) {
            by_product
                .entry(p.clone())
                .or_default()
                .entry(day)
                .or_default()
                .1 += q;
        }
    }
    let Some(yesterday) = today.previous_day() else {
        return Vec::new();
    };
    let earliest = today - time::Duration::days(MAX_HISTORY_DAYS);
    let mut out = Vec::new();
    for (product, days) in by_product {
        let Some(&parts) = scale.get(&product) else {
            continue;
        };
        let parts = parts.max(1) as f64;
        // From the first day anything went out (or was imported as going
        // out): days of receipts alone before that are not demand history.
        let Some(first) = days
            .iter()
            .find(|(_, (out, imp, _))| *out > 0 || *imp > 0)
            .map(|(d, _)| (*d).max(earliest))
        else {
            continue;
        };
        if first > yesterday {
            continue;
        }
        // Stock at the end of each day, worked back from now: the end of
        // yesterday is now less today's net change.
        let on_hand_now = holdings.get(&product).map_or(0, |h| h.on_hand);
        let first_moved = days
            .iter()
            .find(|(_, (_, _, net))| *net != 0)
            .map(|(d, _)| *d);
        let mut end_of_day: HashMap<Date, i64> = HashMap::new();
        let mut stock = on_hand_now - days.get(&today).map_or(0, |d| d.2);
        let mut day = yesterday;
        while day >= first {
            end_of_day.insert(day, stock);
            stock -= days.get(&day).map_or(0, |d| d.2);
            match day.previous_day() {
                Some(d) => day = d,
                None => break,
            }
        }
        let n = (yesterday - first).whole_days() as usize + 1;
        let mut demand = Vec::with_capacity(n);
        let mut censored = Vec::with_capacity(n);
        let mut day = first;
        for _ in 0..n {
            let (went, imp, _) = days.get(&day).copied().unwrap_or_default();
            demand.push((went.max(0) + imp.max(0)) as f64 / parts);
            let tracked = first_moved.is_some_and(|m| day >= m);
            censored.push(tracked && end_of_day.get(&day).is_some_and(|s| *s <= 0));
            day = day.next_day().unwrap_or(day);
        }
        out.push(Series {
            product_id: product,
            first_day: first,
            demand,
            censored,
        });
    }
    out
}

/// Several pantries' series of one product summed by date, up to the day
/// before `today`; a day is out of stock only if it was everywhere the
/// product was tracked that day. `None` for no series.
pub fn sum(all: &[Series], today: Date) -> Option<Series> {
    let first = all.iter().map(|s| s.first_day).min()?;
    let yesterday = today.previous_day()?;
    if first > yesterday {
        return None;
    }
    let n = (yesterday - first).whole_days() as usize + 1;
    let mut demand = vec![0.0; n];
    // (out somewhere, in stock somewhere)
    let mut seen = vec![(false, false); n];
    for s in all {
        let offset = (s.first_day - first).whole_days() as usize;
        for (i, (d, c)) in s.demand.iter().zip(&s.censored).enumerate() {
            let Some(slot) = demand.get_mut(offset + i) else {
                break;
            };
            *slot += d;
            if *c {
                seen[offset + i].0 = true;
            } else {
                seen[offset + i].1 = true;
            }
        }
    }
    Some(Series {
        product_id: all[0].product_id.clone(),
        first_day: first,
        demand,
        censored: seen
            .into_iter()
            .map(|(out, stocked)| out && !stocked)
            .collect(),
    })
}

/// The ISO days of a series, oldest first.
pub fn days(s: &Series) -> impl Iterator<Item = String> + '_ {
    (0..s.demand.len() as i64).map(move |i| iso(s.first_day + time::Duration::days(i)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> Date {
        crate::dates::parse(s, 2000..=2100).unwrap()
    }

    fn flow(p: &str, d: &str, distributed: i64, net: i64) -> ledger::DayFlows {
        ledger::DayFlows {
            product_id: p.into(),
            day: d.into(),
            distributed,
            net,
        }
    }

    #[test]
    fn demand_adds_history_and_flags_days_that_ended_empty() {
        let flows = vec![
            // Received 10, handed out 4 on the 1st; 6 on the 2nd (empty);
            // nothing on the 3rd (still empty); received 5, out 2 on the 4th.
            flow("rice", "2026-03-01", -4, 6),
            flow("rice", "2026-03-02", -6, -6),
            flow("rice", "2026-03-04", -2, 3),
        ];
        let imported = vec![("rice".to_string(), "2026-02-28".to_string(), 3)];
        let holdings = HashMap::from([(
            "rice".to_string(),
            ledger::Holding {
                on_hand: 3,
                lots: vec![],
            },
        )]);
        let scale = HashMap::from([("rice".to_string(), 1)]);
        let s = build(day("2026-03-05"), &flows, &imported, &holdings, &scale);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].first_day, day("2026-02-28"));
        assert_eq!(s[0].demand, vec![3.0, 4.0, 6.0, 0.0, 2.0]);
        // The 28th is before Larder moved rice: unknown, not flagged.
        assert_eq!(s[0].censored, vec![false, false, true, true, false]);
    }

    #[test]
    fn pantries_sum_by_date_and_are_out_only_where_all_were() {
        let a = Series {
            product_id: "rice".into(),
            first_day: day("2026-03-01"),
            demand: vec![1.0, 2.0, 3.0],
            censored: vec![false, true, true],
        };
        let b = Series {
            product_id: "rice".into(),
            first_day: day("2026-03-02"),
            demand: vec![10.0, 20.0, 30.0],
            censored: vec![false, true, false],
        };
        let s = sum(&[a, b], day("2026-03-04")).unwrap();
        assert_eq!(s.first_day, day("2026-03-01"));
        // The 4th is today for the sum: b's last day is left out.
        assert_eq!(s.demand, vec![1.0, 12.0, 23.0]);
        assert_eq!(s.censored, vec![false, false, true]);
        assert!(sum(&[], day("2026-03-04")).is_none());
    }

    #[test]
    fn units_are_the_products_and_unknown_products_are_skipped() {
        let flows = vec![
            flow("flour", "2026-03-01", -2500, -2500),
            flow("gone", "2026-03-01", -1, -1),
        ];
        let scale = HashMap::from([("flour".to_string(), 1000)]);
        let holdings = HashMap::from([(
            "flour".to_string(),
            ledger::Holding {
                on_hand: 500,
                lots: vec![],
            },
        )]);
        let s = build(day("2026-03-03"), &flows, &[], &holdings, &scale);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].demand, vec![2.5, 0.0]);
        assert_eq!(s[0].censored, vec![false, false]);
        // Today's flows are not history.
        let flows = vec![flow("flour", "2026-03-03", -1000, -1000)];
        assert!(build(day("2026-03-03"), &flows, &[], &holdings, &scale).is_empty());
    }
}

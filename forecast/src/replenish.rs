//! From a forecast to an order: safety stock, reorder point, maximum
//! stock and how much to order by when, for a periodic-review
//! order-up-to policy with a reorder point (Silver, Pyke & Thomas,
//! *Inventory and Production Management in Supply Chains*, ch. 6):
//!
//! - safety stock = z(service level) × σ × √(lead time), σ the forecast's
//!   daily error (its backtest RMSE), errors taken as independent by day;
//! - reorder point = forecast demand over the lead time + safety stock;
//! - maximum stock = forecast demand over lead time + review period +
//!   safety stock;
//! - the stock position counts what is on hand, less what will expire
//!   before it is used (first-expired-first-out against the forecast),
//!   plus what is on order.
//!
//! Day 0 is today. Quantities are in the product's smallest unit; the
//! caller rounds to what can be ordered.

use serde::{Deserialize, Serialize};

use crate::Point;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Days from ordering to the stock being on the shelf.
    pub lead_time_days: usize,
    /// Days between two looks at what to order.
    pub review_days: usize,
    /// The chance of not running out during a lead time, e.g. 0.95.
    pub service_level: f64,
}

/// One lot on the shelf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lot {
    pub quantity: f64,
    /// The last day (from today = 0) it may be handed out; `None` if it
    /// keeps. A lot already past its date has `Some(…)` below zero.
    pub last_day: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Stock {
    pub on_hand: f64,
    pub on_order: f64,
    /// The lots making up `on_hand`; stock not in a lot keeps.
    pub lots: Vec<Lot>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    /// Mean forecast demand per day over the lead time and review period.
    pub daily_demand: f64,
    pub lead_time_demand: f64,
    pub safety_stock: f64,
    pub reorder_point: f64,
    pub max_stock: f64,
    /// On hand now that will pass its date before it is used.
    pub expiring: f64,
    /// Usable on hand + on order.
    pub position: f64,
    /// How much to order; zero when nothing needs ordering this review.
    pub order_quantity: f64,
    /// The day (0 = today) by which to order, when it falls within this
    /// review period.
    pub order_by: Option<usize>,
    /// The first day the usable stock does not cover the forecast, if
    /// within the lead time and review period.
    pub runs_out: Option<usize>,
}

/// The normal quantile of the service level, clamped to 50%–99.9%.
pub fn service_factor(service_level: f64) -> f64 {
    let p = if service_level.is_finite() {
        service_level.clamp(0.5, 0.999)
    } else {
        0.95
    };
    distrs::Normal::ppf(p, 0.0, 1.0)
}

/// The order plan for one product. `error_sd` is the forecast's daily
/// error (RMSE); the forecast's points start today.
pub fn plan(points: &[Point], error_sd: f64, stock: &Stock, policy: &Policy) -> Plan {
    let lead = policy.lead_time_days;
    let review = policy.review_days.max(1);
    let span = lead + review;
    let demand = demand_by_day(points, span * 2 + 1);
    let sum = |from: usize, days: usize| demand[from..from + days].iter().sum::<f64>();

    let sd = if error_sd.is_finite() {
        error_sd.max(0.0)
    } else {
        0.0
    };
    let safety_stock = service_factor(policy.service_level) * sd * (lead as f64).sqrt();
    let lead_time_demand = sum(0, lead);
    let reorder_point = lead_time_demand + safety_stock;
    let max_stock = sum(0, span) + safety_stock;

    let (expiring, runs_out) = use_first_expired_first(stock, &demand[..span]);
    let position = (stock.on_hand - expiring).max(0.0) + stock.on_order.max(0.0);

    // The first day in this review period the position, drawn down by
    // the forecast, reaches the reorder point.
    let mut order_by = None;
    let mut drawn = 0.0;
    for (day, want) in demand.iter().take(review).enumerate() {
        if position - drawn <= reorder_point + 1e-9 {
            order_by = Some(day);
            break;
        }
        drawn += want;
    }
    let order_quantity = match order_by {
        Some(day) => {
            let projected = position - sum(0, day);
            (sum(day, span) + safety_stock - projected).max(0.0)
        }
        None => 0.0,
    };
    let (order_by, order_quantity) = if order_quantity > 1e-9 {
        (order_by, order_quantity)
    } else {
        (None, 0.0)
    };
    Plan {
        daily_demand: sum(0, span) / span as f64,
        lead_time_demand,
        safety_stock,
        reorder_point,
        max_stock,
        expiring,
        position,
        order_quantity,
        order_by,
        runs_out,
    }
}

/// Demand for `days` days from today: the forecast, then its last week's
/// mean repeated.
fn demand_by_day(points: &[Point], days: usize) -> Vec<f64> {
    let tail = &points[points.len().saturating_sub(7)..];
    let rest = if tail.is_empty() {
        0.0
    } else {
        tail.iter().map(|p| p.mean).sum::<f64>() / tail.len() as f64
    };
    (0..days)
        .map(|d| points.get(d).map_or(rest, |p| p.mean).max(0.0))
        .collect()
}

/// Hands the forecast demand out of the lots, earliest date first, day by
/// day: what is left of a lot after its last day expires. Returns what
/// expires and the first day demand is not met.
fn use_first_expired_first(stock: &Stock, demand: &[f64]) -> (f64, Option<usize>) {
    let mut lots: Vec<Lot> = stock
        .lots
        .iter()
        .copied()
        .filter(|l| l.quantity > 0.0)
        .collect();
    let in_lots: f64 = lots.iter().map(|l| l.quantity).sum();
    if stock.on_hand > in_lots {
        lots.push(Lot {
            quantity: stock.on_hand - in_lots,
            last_day: None,
        });
    }
    lots.sort_by_key(|l| l.last_day.unwrap_or(i64::MAX));
    let mut expired = 0.0;
    // Already past its date: never usable.
    lots.retain(|l| match l.last_day {
        Some(d) if d < 0 => {
            expired += l.quantity;
            false
        }
        _ => true,
    });
    let mut runs_out = None;
    for (day, want) in demand.iter().enumerate() {
        let mut want = *want;
        for lot in lots.iter_mut() {
            let take = lot.quantity.min(want);
            lot.quantity -= take;
            want -= take;
            if want <= 1e-9 {
                break;
            }
        }
        if want > 1e-9 && runs_out.is_none() {
            runs_out = Some(day);
        }
        lots.retain(|l| match l.last_day {
            Some(d) if d <= day as i64 => {
                expired += l.quantity;
                false
            }
            _ => l.quantity > 0.0,
        });
    }
    (expired, runs_out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(mean: f64, days: usize) -> Vec<Point> {
        vec![
            Point {
                mean,
                lo80: mean,
                hi80: mean,
                lo95: mean,
                hi95: mean,
            };
            days
        ]
    }

    const POLICY: Policy = Policy {
        lead_time_days: 5,
        review_days: 7,
        service_level: 0.95,
    };

    #[test]
    fn service_factors_are_the_normal_quantiles() {
        // Standard normal table: z(0.95) = 1.6449, z(0.99) = 2.3263.
        assert!((service_factor(0.95) - 1.644_854).abs() < 1e-4);
        assert!((service_factor(0.99) - 2.326_348).abs() < 1e-4);
        assert!((service_factor(0.5)).abs() < 1e-9);
        assert!(service_factor(f64::NAN).is_finite());
    }

    #[test]
    fn a_steady_product_is_ordered_up_to_its_maximum() {
        // 2 a day, σ = 1: SS = 1.6449 × 1 × √5 = 3.678; ROP = 10 + 3.678;
        // max = 24 + 3.678. 9 on hand is below the ROP: order today
        // 27.678 − 9 = 18.678.
        let stock = Stock {
            on_hand: 9.0,
            ..Stock::default()
        };
        let p = plan(&flat(2.0, 28), 1.0, &stock, &POLICY);
        assert!((p.safety_stock - 3.678_06).abs() < 1e-3, "{p:?}");
        assert!((p.reorder_point - 13.678_06).abs() < 1e-3);
        assert!((p.max_stock - 27.678_06).abs() < 1e-3);
        assert_eq!(p.order_by, Some(0));
        assert!((p.order_quantity - 18.678_06).abs() < 1e-3);
        // 9 covers four and a half days.
        assert_eq!(p.runs_out, Some(4));
        assert_eq!(p.expiring, 0.0);
    }

    #[test]
    fn an_order_waits_for_the_day_the_stock_reaches_the_reorder_point() {
        // 20 on hand, 2 a day, no error: ROP 10, reached after 5 days.
        let stock = Stock {
            on_hand: 20.0,
            ..Stock::default()
        };
        let p = plan(&flat(2.0, 28), 0.0, &stock, &POLICY);
        assert_eq!(p.order_by, Some(5));
        // On day 5: 10 left, order up to 24.
        assert!((p.order_quantity - 14.0).abs() < 1e-9, "{p:?}");
        // Plenty on hand: nothing this week.
        let stock = Stock {
            on_hand: 100.0,
            ..Stock::default()
        };
        let p = plan(&flat(2.0, 28), 0.0, &stock, &POLICY);
        assert_eq!(
            (p.order_by, p.order_quantity, p.runs_out),
            (None, 0.0, None)
        );
    }

    #[test]
    fn stock_that_expires_before_it_is_used_does_not_count() {
        // 1 a day. 10 expiring after day 2 (3 used, 7 wasted), 5 that keep.
        let stock = Stock {
            on_hand: 15.0,
            on_order: 0.0,
            lots: vec![
                Lot {
                    quantity: 10.0,
                    last_day: Some(2),
                },
                Lot {
                    quantity: 5.0,
                    last_day: None,
                },
            ],
        };
        let p = plan(&flat(1.0, 28), 0.0, &stock, &POLICY);
        assert!((p.expiring - 7.0).abs() < 1e-9, "{p:?}");
        assert!((p.position - 8.0).abs() < 1e-9);
        // 3 days from the first lot and 5 from the second: short on day 8.
        assert_eq!(p.runs_out, Some(8));
        // Already past its date: all of it.
        let stock = Stock {
            on_hand: 4.0,
            on_order: 0.0,
            lots: vec![Lot {
                quantity: 4.0,
                last_day: Some(-1),
            }],
        };
        let p = plan(&flat(1.0, 28), 0.0, &stock, &POLICY);
        assert_eq!((p.expiring, p.position, p.runs_out), (4.0, 0.0, Some(0)));
    }

    #[test]
    fn on_order_counts_and_no_demand_orders_nothing() {
        let stock = Stock {
            on_hand: 0.0,
            on_order: 30.0,
            lots: vec![],
        };
        let p = plan(&flat(2.0, 28), 0.0, &stock, &POLICY);
        assert_eq!(p.position, 30.0);
        // 30 on order reaches the ROP of 10 on day 10, after this review.
        assert_eq!((p.order_by, p.order_quantity), (None, 0.0), "{p:?}");
        let p = plan(&flat(0.0, 28), 3.0, &Stock::default(), &POLICY);
        // No demand but an error: the safety stock alone, 1.6449 × 3 × √5.
        assert!((p.order_quantity - 11.034_2).abs() < 1e-3, "{p:?}");
        let p = plan(&[], 0.0, &Stock::default(), &POLICY);
        assert_eq!((p.order_quantity, p.daily_demand), (0.0, 0.0));
    }
}

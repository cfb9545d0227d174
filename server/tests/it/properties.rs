//! Property test of the stock invariants: for random sequences of valid and
//! invalid movements, sent over HTTP, the stock projection always equals
//! the sum of the ledger, the sum of the lots, a replay of the events and a
//! simple model, and the organization-wide totals equal the pantries' sum;
//! a refused movement changes nothing.

use std::collections::HashMap;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::{movement, product};

#[derive(Debug, Clone)]
enum Op {
    Receive {
        pantry: usize,
        product: usize,
        qty: i64,
        date: Option<u8>,
    },
    Distribute {
        pantry: usize,
        product: usize,
        qty: i64,
    },
    Adjust {
        pantry: usize,
        product: usize,
        add: bool,
        qty: i64,
        with_reason: bool,
    },
    Discard {
        pantry: usize,
        product: usize,
        qty: i64,
    },
    Transfer {
        from: usize,
        product: usize,
        qty: i64,
    },
    /// A receive with an impossible date: always refused.
    BadDate {
        pantry: usize,
        product: usize,
        qty: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let p = 0..2usize;
    prop_oneof![
        3 => (p.clone(), p.clone(), 0..15i64, proptest::option::of(0..4u8))
            .prop_map(|(pantry, product, qty, date)| Op::Receive { pantry, product, qty, date }),
        3 => (p.clone(), p.clone(), 0..12i64).prop_map(|(pantry, product, qty)| Op::Distribute { pantry, product, qty }),
        1 => (p.clone(), p.clone(), any::<bool>(), 0..6i64, any::<bool>())
            .prop_map(|(pantry, product, add, qty, with_reason)| Op::Adjust { pantry, product, add, qty, with_reason }),
        1 => (p.clone(), p.clone(), 0..6i64).prop_map(|(pantry, product, qty)| Op::Discard { pantry, product, qty }),
        2 => (p.clone(), p.clone(), 0..10i64).prop_map(|(from, product, qty)| Op::Transfer { from, product, qty }),
        1 => (p.clone(), p, 1..5i64).prop_map(|(pantry, product, qty)| Op::BadDate { pantry, product, qty }),
    ]
}

/// Everything a refused movement must leave untouched.
async fn fingerprint(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for sql in [
        "select count(*) from movements",
        "select count(*) from events",
        "select count(*) from lots",
        "select cast(coalesce(sum(on_hand), 0) as bigint) from stock_levels",
        "select cast(coalesce(sum(on_hand), 0) as bigint) from organization_stock",
        "select cast(coalesce(sum(quantity), 0) as bigint) from lots",
    ] {
        out.push(app.count(sql).await);
    }
    out
}

struct Case<'a> {
    app: &'a TestApp,
    admin: &'a Client,
    pantries: [String; 2],
    products: [String; 2],
}

async fn run_case(case: &Case<'_>, ops: &[Op]) {
    let mut model: HashMap<(usize, usize), i64> = HashMap::new();
    let dates = ["2030-01-01", "2030-06-01", "2031-01-01", "2029-03-15"];
    for op in ops {
        let before = fingerprint(case.app).await;
        let q = |n: i64| n.to_string();
        let (reply, valid, changes): (Reply, bool, Vec<((usize, usize), i64)>) = match *op {
            Op::Receive {
                pantry,
                product,
                qty,
                date,
            } => {
                let mut extra = vec![];
                if let Some(d) = date {
                    extra.push(("best_before", dates[d as usize]));
                }
                let r = movement(
                    case.app,
                    case.admin,
                    "receive",
                    &case.pantries[pantry],
                    &case.products[product],
                    &q(qty),
                    &extra,
                )
                .await;
                (r, qty > 0, vec![((pantry, product), qty)])
            }
            Op::Distribute {
                pantry,
                product,
                qty,
            } => {
                let have = model.get(&(pantry, product)).copied().unwrap_or(0);
                let r = movement(
                    case.app,
                    case.admin,
                    "distribute",
                    &case.pantries[pantry],
                    &case.products[product],
                    &q(qty),
                    &[],
                )
                .await;
                (r, qty > 0 && qty <= have, vec![((pantry, product), -qty)])
            }
            Op::Adjust {
                pantry,
                product,
                add,
                qty,
                with_reason,
            } => {
                let have = model.get(&(pantry, product)).copied().unwrap_or(0);
                let mut extra = vec![("direction", if add { "add" } else { "remove" })];
                if with_reason {
                    extra.push(("reason", "Stock count"));
                }
                let r = movement(
                    case.app,
                    case.admin,
                    "adjust",
                    &case.pantries[pantry],
                    &case.products[product],
                    &q(qty),
                    &extra,
                )
                .await;
                let delta = if add { qty } else { -qty };
                (
                    r,
                    qty > 0 && with_reason && (add || qty <= have),
                    vec![((pantry, product), delta)],
                )
            }
            Op::Discard {
                pantry,
                product,
                qty,
            } => {
                let have = model.get(&(pantry, product)).copied().unwrap_or(0);
                let r = movement(
                    case.app,
                    case.admin,
                    "discard",
                    &case.pantries[pantry],
                    &case.products[product],
                    &q(qty),
                    &[("reason", "expired")],
                )
                .await;
                (r, qty > 0 && qty <= have, vec![((pantry, product), -qty)])
            }
            Op::Transfer { from, product, qty } => {
                let have = model.get(&(from, product)).copied().unwrap_or(0);
                let to = 1 - from;
                let r = movement(
                    case.app,
                    case.admin,
                    "transfer",
                    &case.pantries[from],
                    &case.products[product],
                    &q(qty),
                    &[("to", &case.pantries[to])],
                )
                .await;
                (
                    r,
                    qty > 0 && qty <= have,
                    vec![((from, product), -qty), ((to, product), qty)],
                )
            }
            Op::BadDate {
                pantry,
                product,
                qty,
            } => {
                let r = movement(
                    case.app,
                    case.admin,
                    "receive",
                    &case.pantries[pantry],
                    &case.products[product],
                    &q(qty),
                    &[("best_before", "2030-02-30")],
                )
                .await;
                (r, false, vec![])
            }
        };
        if valid {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{op:?} should succeed: {:?}",
                reply.body
            );
            for (k, d) in changes {
                *model.entry(k).or_default() += d;
            }
        } else {
            assert!(
                reply.status.is_client_error(),
                "{op:?} should be refused: {:?}",
                reply.body
            );
            assert!(!reply.message().is_empty(), "{op:?}: a refusal says why");
            assert_eq!(
                fingerprint(case.app).await,
                before,
                "{op:?} was refused but changed something"
            );
        }
    }
    check_invariants(case, &model).await;
}

async fn check_invariants(case: &Case<'_>, model: &HashMap<(usize, usize), i64>) {
    let pool = case.app.server.state.db.pool();
    for (pi, pantry) in case.pantries.iter().enumerate() {
        for (qi, product) in case.products.iter().enumerate() {
            let projection = crate::inventory::on_hand(case.app, pantry, product).await;
            let ledger = crate::inventory::ledger(case.app, pantry, product).await;
            let lots = case
                .app
                .count(&format!("select cast(coalesce(sum(quantity), 0) as bigint) from lots where pantry_id = '{pantry}' and product_id = '{product}'"))
                .await;
            // Replay: the events alone rebuild the stock and every lot.
            let payloads: Vec<(String,)> = sqlx::query_as(&format!(
                "select payload from events where pantry_id = '{pantry}' and type like 'Stock%' and type <> 'StockMinimumSet' order by seq"
            ))
            .fetch_all(pool)
            .await
            .unwrap();
            let mut replayed = 0;
            let mut last_on_hand = 0;
            let mut lot_replay: HashMap<String, i64> = HashMap::new();
            for (payload,) in payloads {
                let v: Value = serde_json::from_str(&payload).unwrap();
                if v["product_id"] != product.as_str() {
                    continue;
                }
                replayed += v["quantity"].as_i64().unwrap();
                last_on_hand = v["on_hand"].as_i64().unwrap();
                for l in v["lots"].as_array().unwrap() {
                    *lot_replay
                        .entry(l["lot_id"].as_str().unwrap().to_string())
                        .or_default() += l["quantity"].as_i64().unwrap();
                }
            }
            let stored_lots: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(&format!(
                "select id, quantity from lots where pantry_id = '{pantry}' and product_id = '{product}'"
            ))
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
            let expected = model.get(&(pi, qi)).copied().unwrap_or(0);
            assert_eq!(
                (projection, ledger, lots, replayed, last_on_hand),
                (expected, expected, expected, expected, expected),
                "pantry {pi} product {qi}: projection, ledger, lots, replayed events, last event's on-hand vs the model"
            );
            assert_eq!(stored_lots, lot_replay, "lots rebuilt from events");
            assert!(stored_lots.values().all(|q| *q >= 0));
        }
    }
    // The organization-wide projection equals the per-pantry one.
    for (qi, product) in case.products.iter().enumerate() {
        let total = case
            .app
            .count(&format!(
                "select coalesce(max(on_hand), 0) from organization_stock where product_id = '{product}'"
            ))
            .await;
        let expected: i64 = (0..case.pantries.len())
            .map(|pi| model.get(&(pi, qi)).copied().unwrap_or(0))
            .sum();
        assert_eq!(total, expected, "organization stock of product {qi}");
    }
}

fn property(backend: Backend, cases: u32) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (app, admin, places) = rt.block_on(async {
        let app = spawn_app(backend).await;
        let admin = app.setup_admin().await;
        let places = build_places(&app, &admin).await;
        (app, admin, places)
    });
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let counter = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&proptest::collection::vec(op(), 1..40), |ops| {
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        rt.block_on(async {
            // Fresh products for each case keep cases independent.
            let products = [
                product(&app, &admin, &places.org, &format!("Beans {n}"), &[]).await,
                product(&app, &admin, &places.org, &format!("Rice {n}"), &[]).await,
            ];
            let case = Case {
                app: &app,
                admin: &admin,
                pantries: [places.main.clone(), places.library.clone()],
                products,
            };
            run_case(&case, &ops).await;
        });
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn stock_projection_equals_ledger_and_event_replay_sqlite() {
    property(Backend::Sqlite, 40);
}

#[test]
fn stock_projection_equals_ledger_and_event_replay_postgres() {
    property(Backend::Postgres, 20);
}

//! Stock: the catalog, movements and their rules, the event pipeline, the
//! stock checker and its cache, the live stream.
//!
//! One file per behaviour: [`catalog`], [`movements`], [`events`],
//! [`freshness`]; the helpers they (and other modules' tests) share are
//! here.

mod catalog;
mod events;
mod freshness;
mod movements;

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;

pub const BEANS_EAN: &str = "4006381333931";

pub const RICE_UPC: &str = "036000291452";

pub async fn product(
    app: &TestApp,
    c: &Client,
    org: &str,
    name: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut form = vec![("organization", org), ("name", name)];
    for (k, v) in [("category", "Canned goods"), ("unit", "each")] {
        if !extra.iter().any(|(e, _)| *e == k) {
            form.push((k, v));
        }
    }
    form.extend_from_slice(extra);
    app.create(c, "create_product", &form).await
}

pub async fn movement(
    app: &TestApp,
    c: &Client,
    endpoint: &str,
    pantry: &str,
    product: &str,
    quantity: &str,
    extra: &[(&str, &str)],
) -> Reply {
    let mut form = vec![
        ("pantry", pantry),
        ("product", product),
        ("quantity", quantity),
    ];
    form.extend_from_slice(extra);
    app.call(c, endpoint, &form).await
}

pub async fn ok_movement(
    app: &TestApp,
    c: &Client,
    endpoint: &str,
    pantry: &str,
    product: &str,
    quantity: &str,
    extra: &[(&str, &str)],
) -> Value {
    let r = movement(app, c, endpoint, pantry, product, quantity, extra).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "{endpoint} {quantity}: {:?}",
        r.body
    );
    r.body
}

pub async fn on_hand(app: &TestApp, pantry: &str, product: &str) -> i64 {
    app.count(&format!(
        "select coalesce((select on_hand from stock_levels where pantry_id = '{pantry}' and product_id = '{product}'), 0)"
    ))
    .await
}

pub async fn ledger(app: &TestApp, pantry: &str, product: &str) -> i64 {
    app.count(&format!(
        "select cast(coalesce(sum(quantity), 0) as bigint) from movements where pantry_id = '{pantry}' and product_id = '{product}'"
    ))
    .await
}

/// Waits until every consumer has processed the whole log: each one's
/// position in memory, and each durable one's checkpoint on disk.
pub async fn drained(app: &TestApp) {
    let bus = &app.server.state.bus;
    let durable = bus
        .consumers()
        .iter()
        .filter(|c| c.durability() == app::events::bus::Durability::Durable)
        .count() as i64;
    for _ in 0..200 {
        let head = app.count("select coalesce(max(seq), 0) from events").await;
        let in_memory = bus.consumers().iter().all(|c| {
            bus.stats(c.name())
                .is_some_and(|s| s.position.load(std::sync::atomic::Ordering::Relaxed) >= head)
        });
        let saved = app
            .count(&format!(
                "select count(*) from consumer_checkpoints where last_seq >= {head}"
            ))
            .await;
        if in_memory && (saved >= durable || head == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("consumers did not catch up with the event log");
}

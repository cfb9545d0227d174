//! Usage: visits at the counter (all lines or none), corrections and voids
//! as compensating movements, visit rules, and the usage report checked
//! against sums computed here from the raw tables.
//!
//! One file per behaviour: [`visits`], [`report`], [`imports`], [`donors`];
//! the helpers they share (recording visits, stocking a pantry) are here.

mod donors;
mod imports;
mod report;
mod visits;

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{ok_movement, product};

async fn record(
    app: &TestApp,
    c: &Client,
    pantry: &str,
    lines: &[(&str, &str)],
    extra: Value,
) -> Reply {
    let mut visit = json!({
        "pantry": pantry,
        "lines": lines.iter().map(|(p, q)| json!({"product": p, "quantity": q})).collect::<Vec<_>>(),
    });
    if let (Some(v), Some(e)) = (visit.as_object_mut(), extra.as_object()) {
        for (k, x) in e {
            v.insert(k.clone(), x.clone());
        }
    }
    app.call_json(c, "record_visit", &json!({ "visit": visit }))
        .await
}

async fn ok_visit(
    app: &TestApp,
    c: &Client,
    pantry: &str,
    lines: &[(&str, &str)],
    extra: Value,
) -> Value {
    let r = record(app, c, pantry, lines, extra).await;
    assert_eq!(r.status, StatusCode::OK, "record_visit: {:?}", r.body);
    r.body
}

async fn on_hand(app: &TestApp, pantry: &str, product: &str) -> i64 {
    app.count(&format!(
        "select cast(coalesce(sum(on_hand), 0) as bigint) from stock_levels where pantry_id = '{pantry}' and product_id = '{product}'"
    ))
    .await
}

async fn visit(app: &TestApp, c: &Client, id: &str) -> Value {
    let r = app.call(c, "visit", &[("id", id)]).await;
    assert_eq!(r.status, StatusCode::OK, "visit: {:?}", r.body);
    r.body
}

struct Stocked {
    places: Places,
    beans: String,
    rice: String,
    soup: String,
}

/// Beans (each, 300 g), rice (kg) and soup (each, 400 g) on the shelf at
/// the main pantry.
async fn stocked(app: &TestApp, admin: &Client) -> Stocked {
    let places = build_places(app, admin).await;
    let beans = product(
        app,
        admin,
        &places.org,
        "Black beans",
        &[("unit_weight_g", "300")],
    )
    .await;
    let rice = product(
        app,
        admin,
        &places.org,
        "Rice",
        &[("unit", "kg"), ("category", "Grains")],
    )
    .await;
    let soup = product(
        app,
        admin,
        &places.org,
        "Tomato soup",
        &[("unit_weight_g", "400"), ("category", "Soup")],
    )
    .await;
    for (p, q) in [(&beans, "40"), (&rice, "25"), (&soup, "20")] {
        ok_movement(
            app,
            admin,
            "receive",
            &places.main,
            p,
            q,
            &[("best_before", "2030-01-01")],
        )
        .await;
    }
    Stocked {
        places,
        beans,
        rice,
        soup,
    }
}

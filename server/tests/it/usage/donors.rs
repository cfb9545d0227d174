//! Donors: their totals, and a receipt for every donation.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::inventory::product;
use crate::on_both_databases;

on_both_databases!(donors_have_their_totals_and_every_donation_a_receipt,);

/// The donor list sums the ledger's donations per donor (purchases are
/// not donations), and every donation has a receipt that only people who
/// may see its pantry can read.
async fn donors_have_their_totals_and_every_donation_a_receipt(backend: Backend) {
    use app::inventory::model::format_weight;
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("unit_weight_g", "425")],
    )
    .await;
    let rice = product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    let receive = |pantry: String,
                   product: String,
                   quantity: &'static str,
                   extra: Vec<(&'static str, &'static str)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = crate::inventory::ok_movement(
                app, admin, "receive", &pantry, &product, quantity, &extra,
            )
            .await;
            r["movement_id"].as_str().unwrap().to_string()
        }
    };
    let first = receive(
        p.main.clone(),
        beans.clone(),
        "10",
        vec![("donor", "Grocer"), ("best_before", "2031-01-01")],
    )
    .await;
    receive(
        p.library.clone(),
        rice.clone(),
        "2.5",
        vec![("donor", "Grocer"), ("weight_g", "2600")],
    )
    .await;
    let anonymous = receive(p.main.clone(), beans.clone(), "4", vec![]).await;
    let bought = receive(
        p.main.clone(),
        beans.clone(),
        "5",
        vec![("donor", "Wholesaler"), ("source", "purchase")],
    )
    .await;

    let d = app
        .call(&admin, "donors", &[("organization", p.org.as_str())])
        .await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let totals: Vec<(String, i64, i64)> = d.body["donors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["donor"].as_str().unwrap().to_string(),
                t["donations"].as_i64().unwrap(),
                t["weight_g"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        vec![
            ("Grocer".to_string(), 2, 10 * 425 + 2600),
            ("Anonymous donor".to_string(), 1, 4 * 425)
        ]
    );
    let recent: Vec<&str> = d.body["recent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["receipt_no"].as_str().unwrap())
        .collect();
    assert_eq!(recent.len(), 3);
    assert_eq!(recent[0], anonymous, "newest first");
    assert!(!recent.contains(&bought.as_str()));

    let r = app
        .call(&admin, "donation_receipt", &[("id", first.as_str())])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["donor"].as_str(),
            r.body["product_name"].as_str(),
            r.body["quantity_text"].as_str(),
            r.body["weight_text"].as_str(),
            r.body["pantry_name"].as_str(),
        ),
        (
            Some("Grocer"),
            Some("Black beans"),
            Some("10"),
            Some(format_weight(4250).as_str()),
            Some("Main Pantry")
        )
    );
    assert_eq!(r.body["best_before"], serde_json::json!(["2031-01-01"]));
    let r = app
        .call(&admin, "donation_receipt", &[("id", anonymous.as_str())])
        .await;
    assert_eq!(r.body["donor"], "Anonymous donor");

    // A purchase, a distribution and a made-up id have no receipt.
    let out =
        crate::inventory::ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    for id in [
        bought.as_str(),
        out["movement_id"].as_str().unwrap(),
        "not-a-receipt",
        "0193c1a4-0000-7000-8000-000000000000",
    ] {
        let r = app.call(&admin, "donation_receipt", &[("id", id)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{id}: {:?}", r.body);
    }
    // Staff of the library pantry see neither the main pantry's receipt
    // nor the organization's donor list.
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.library),
        )
        .await;
    let r = app
        .call(&sam, "donation_receipt", &[("id", first.as_str())])
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{:?}",
        r.body
    );
    assert!(r.body.get("donor").is_none());
    let r = app
        .call(&sam, "donors", &[("organization", p.org.as_str())])
        .await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{:?}",
        r.body
    );
}

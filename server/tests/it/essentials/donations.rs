//! Donations and donors: one donation of several products with one
//! receipt, and a donor's year-end statement against the ledger.

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::records;
use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    a_donor_statement_adds_up_to_the_ledger,
    a_donation_of_several_products_is_one_receipt,
);

async fn a_donor_statement_adds_up_to_the_ledger(backend: Backend) {
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
    let oats = product(&app, &admin, &p.org, "Oats", &[]).await;
    let give = |pantry: &str, product: &str, q: &str, extra: Vec<(&'static str, &'static str)>| {
        let (app, admin, pantry, product, q) = (
            &app,
            &admin,
            pantry.to_string(),
            product.to_string(),
            q.to_string(),
        );
        async move {
            let mut form = vec![("source", "donation")];
            form.extend(extra);
            ok_movement(app, admin, "receive", &pantry, &product, &q, &form).await["movement_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let last_year = give(
        &p.main,
        &beans,
        "10",
        vec![("donor", "Corner Grocer"), ("weight_g", "4250")],
    )
    .await;
    give(
        &p.main,
        &beans,
        "4",
        vec![("donor", "Corner Grocer"), ("weight_g", "1700")],
    )
    .await;
    give(&p.library, &rice, "2.5", vec![("donor", "Corner Grocer")]).await;
    give(&p.library, &oats, "6", vec![("donor", "Corner Grocer")]).await;
    give(&p.main, &oats, "3", vec![("donor", "Food Drive")]).await;
    give(&p.main, &oats, "1", vec![]).await;
    // One of the grocer's donations was in the year before.
    app.sql(&format!(
        "update movements set occurred_at = occurred_at - {} where id = '{last_year}'",
        400_i64 * 86_400_000
    ))
    .await;

    let donor = |name: &'static str, year: &'static str| {
        let (app, admin, org) = (&app, &admin, p.org.clone());
        async move {
            app.call(
                admin,
                "donor",
                &[("organization", &org), ("name", name), ("year", year)],
            )
            .await
        }
    };
    let r = donor("Corner Grocer", "0").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let page = r.body;
    let years: Vec<i64> = page["years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| y["year"].as_i64().unwrap())
        .collect();
    assert_eq!(years.len(), 2);
    assert!(years[0] > years[1], "newest first: {years:?}");
    assert_eq!(page["year"].as_i64(), Some(years[0]));
    // The independent sum: the ledger's donations from the grocer this
    // year, straight from the table.
    let this_year = page["year"].as_i64().unwrap();
    let rows: Vec<(i64, Option<i64>)> = sqlx::query_as(
        "select occurred_at, weight_g from movements where donor = 'Corner Grocer' and source = 'donation' and kind = 'received'",
    )
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    let in_year: Vec<&(i64, Option<i64>)> = rows
        .iter()
        .filter(|(at, _)| {
            time::OffsetDateTime::from_unix_timestamp(at / 1000)
                .unwrap()
                .year() as i64
                == this_year
        })
        .collect();
    let grams: i64 = in_year.iter().filter_map(|r| r.1).sum();
    let unweighed = in_year.iter().filter(|r| r.1.is_none()).count() as i64;
    assert_eq!(page["lines"].as_array().unwrap().len(), in_year.len());
    assert_eq!(
        (
            page["total"]["donations"].as_i64(),
            page["total"]["weight_g"].as_i64(),
            page["total"]["unweighed"].as_i64()
        ),
        (Some(in_year.len() as i64), Some(grams), Some(unweighed))
    );
    // The earlier year on its own.
    let before = donor(
        "Corner Grocer",
        Box::leak(years[1].to_string().into_boxed_str()),
    )
    .await
    .body;
    assert_eq!(before["lines"].as_array().unwrap().len(), 1);
    assert_eq!(before["total"]["weight_g"], 4250);

    // The CSV statement: one line per donation, and the total in kg.
    let (status, csv) = app
        .get(
            &admin,
            &format!(
                "/organizations/{}/donor/statement.csv?name=Corner%20Grocer&year={this_year}",
                p.org
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{csv}");
    let lines = records(&csv);
    assert_eq!(lines.len(), 2 + in_year.len() + 1, "{csv}");
    let total = lines.last().unwrap();
    assert_eq!(total[0], "Total");
    assert_eq!(total[1], format!("{} donations", in_year.len()));
    assert_eq!(total[5], format!("{}.{:03}", grams / 1000, grams % 1000));
    let line_grams: i64 = lines[2..lines.len() - 1]
        .iter()
        .filter(|l| !l[5].is_empty())
        .map(|l| (l[5].parse::<f64>().unwrap() * 1000.0).round() as i64)
        .sum();
    assert_eq!(line_grams, grams);

    // Donations without a donor are the anonymous donor's.
    let anonymous = donor("Anonymous donor", "0").await;
    assert_eq!(
        anonymous.body["total"]["donations"], 1,
        "{:?}",
        anonymous.body
    );
    // Bad input: a donor with no donations, a year that is not one.
    assert_eq!(donor("Nobody", "0").await.status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(
            &admin,
            &format!(
                "/organizations/{}/donor/statement.csv?name=Food%20Drive&year=20x6",
                p.org
            ),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another organization's admin learns nothing.
    let elsewhere = app
        .create(&admin, "create_organization", &[("name", "Elsewhere")])
        .await;
    let outsider = app
        .join(
            &admin,
            "x@elsewhere.example",
            "admin",
            &format!("organization:{elsewhere}"),
        )
        .await;
    let r = app
        .call(
            &outsider,
            "donor",
            &[
                ("organization", &p.org),
                ("name", "Corner Grocer"),
                ("year", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn a_donation_of_several_products_is_one_receipt(backend: Backend) {
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
    let milk = product(
        &app,
        &admin,
        &p.org,
        "Milk",
        &[("unit", "l"), ("perishable", "on")],
    )
    .await;
    let receive = |lines: Value, donor: &'static str| {
        let (app, admin, pantry) = (&app, &admin, p.main.clone());
        async move {
            app.call_json(
                admin,
                "receive_donation",
                &json!({ "donation": { "pantry": pantry, "donor": donor, "note": "Spring drive", "lines": lines } }),
            )
            .await
        }
    };
    let stock = || async {
        app.count("select cast(coalesce(sum(on_hand), 0) as bigint) from stock_levels")
            .await
    };
    // A bad line refuses the whole donation, naming the line.
    let r = receive(
        json!([
            { "product": beans, "quantity": "12", "best_before": "2028-01-15" },
            { "product": milk, "quantity": "4" },
        ]),
        "Corner Grocer",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(
        r.message().starts_with("Line 2 (Milk): "),
        "{}",
        r.message()
    );
    assert_eq!(stock().await, 0);
    assert_eq!(app.count("select count(*) from donations").await, 0);
    let r = receive(json!([{ "product": rice, "quantity": "lots" }]), "X").await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lines")
    );
    let r = receive(json!([]), "X").await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lines")
    );

    let r = receive(
        json!([
            { "product": beans, "quantity": "12", "best_before": "2028-01-15" },
            { "product": rice, "quantity": "2.5", "weight_g": "2600" },
            { "product": milk, "quantity": "4", "best_before": "2027-01-10" },
        ]),
        "Corner Grocer",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let id = r.body.as_str().unwrap().to_string();
    assert_eq!(stock().await, 12 + 2500 + 4000);
    // One receipt for the three, by the donation's id and by any of its lines.
    let receipt = app.call(&admin, "donation_receipt", &[("id", &id)]).await;
    assert_eq!(receipt.status, StatusCode::OK, "{:?}", receipt.body);
    let lines: Vec<(&str, &str)> = receipt.body["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["product_name"].as_str().unwrap(),
                l["quantity_text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        [("Black beans", "12"), ("Rice", "2.5 kg"), ("Milk", "4 l")]
    );
    assert_eq!(receipt.body["donor"], "Corner Grocer");
    assert_eq!(receipt.body["note"], "Spring drive");
    // Beans weigh what the catalog says, the rice what was weighed, milk a
    // kilogram a litre.
    assert_eq!(receipt.body["total_weight_g"], 12 * 425 + 2600 + 4000);
    let movement: String = sqlx::query_scalar(
        "select movement_id from donation_lines where donation_id = $1 and position = 1",
    )
    .bind(&id)
    .fetch_one(app.server.state.db.pool())
    .await
    .unwrap();
    let by_line = app
        .call(&admin, "donation_receipt", &[("id", &movement)])
        .await;
    assert_eq!(by_line.body["receipt_no"], id.as_str());
    // The donor's page counts three donations.
    let donor = app
        .call(
            &admin,
            "donor",
            &[
                ("organization", &p.org),
                ("name", "Corner Grocer"),
                ("year", "0"),
            ],
        )
        .await;
    assert_eq!(donor.body["total"]["donations"], 3);
    // Only staff and above at the pantry may receive.
    let viewer = app
        .join(
            &admin,
            "v@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = app
        .call_json(&viewer, "receive_donation", &json!({ "donation": { "pantry": p.main, "lines": [{ "product": beans, "quantity": "1" }] } }))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

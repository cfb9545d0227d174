//! The catalog: products validated, searched and paginated, round trips
//! through CSV, and hard-to-quote text stored exactly as typed.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

use super::{ok_movement, on_hand, product, BEANS_EAN, RICE_UPC};

on_both_databases!(
    products_are_validated_searched_and_paginated,
    the_catalog_round_trips_through_csv_and_bad_files_import_nothing,
    text_that_is_hard_to_quote_is_stored_exactly_as_typed,
);

async fn products_are_validated_searched_and_paginated(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("barcodes", BEANS_EAN), ("unit_weight_g", "425")],
    )
    .await;
    // Bad input: each names its field and stores nothing.
    for (form, field, message) in [
        (vec![("name", "")], "name", "Enter a name for the product."),
        (vec![("name", "Rice"), ("barcodes", "4006381333932")], "barcodes", "Barcode 4006381333932 has check digit 2, but its other digits need 1: probably a typo."),
        (vec![("name", "Rice"), ("unit", "crate")], "unit", "“crate” is not a unit Larder knows; use each, pack, kg, lb or l."),
        (vec![("name", "Rice"), ("shelf_life_days", "-1")], "shelf_life_days", "Enter the shelf life in days as a whole number from 0 to 3650, or leave it empty."),
    ] {
        let mut f = vec![("organization", p.org.as_str()), ("category", "Dry goods")];
        f.extend(form);
        let r = app.call(&admin, "create_product", &f).await;
        assert_eq!((r.status, r.field(), r.message().as_str()), (StatusCode::UNPROCESSABLE_ENTITY, field, message));
    }
    let r = app
        .call(
            &admin,
            "create_product",
            &[
                ("organization", &p.org),
                ("name", "black BEANS"),
                ("category", "x"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::CONFLICT,
            "The catalog already has a product called “Black beans”."
        )
    );
    let r = app
        .call(
            &admin,
            "create_product",
            &[
                ("organization", &p.org),
                ("name", "Rice"),
                ("category", "x"),
                ("barcodes", &format!("0{BEANS_EAN}")),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::CONFLICT,
            "Barcode 4006381333931 already belongs to “Black beans”."
        )
    );
    assert_eq!(app.count("select count(*) from products").await, 1);

    let rice = product(
        &app,
        &admin,
        &p.org,
        "Long grain rice",
        &[("barcodes", RICE_UPC), ("unit", "kg")],
    )
    .await;
    for i in 0..60 {
        product(
            &app,
            &admin,
            &p.org,
            &format!("Soup {i:02}"),
            &[("category", "Soups")],
        )
        .await;
    }
    let page = |q: &'static str, category: &'static str, page: &'static str| {
        let (app, admin, org) = (&app, &admin, p.org.clone());
        async move {
            let r = app
                .call(
                    admin,
                    "products",
                    &[
                        ("organization", &org),
                        ("q", q),
                        ("category", category),
                        ("page", page),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    let by_name = page("BEANS", "", "1").await;
    assert_eq!(by_name["total"], 1);
    assert_eq!(by_name["items"][0]["id"], beans.as_str());
    // The UPC-A and its EAN-13 spelling find the same product.
    assert_eq!(
        page("0036000291452", "", "1").await["items"][0]["id"],
        rice.as_str()
    );
    let soups = page("", "soups", "1").await;
    assert_eq!(
        (
            soups["total"].as_i64(),
            soups["items"].as_array().unwrap().len()
        ),
        (Some(60), 50)
    );
    let second = page("", "Soups", "2").await;
    assert_eq!(second["items"].as_array().unwrap().len(), 10);
    assert_eq!(second["items"][9]["name"], "Soup 59");
    // Wildcards are matched literally.
    assert_eq!(page("%", "", "1").await["total"], 0);

    // Another organization's admin cannot see the catalog.
    let other = app
        .create(&admin, "create_organization", &[("name", "Other College")])
        .await;
    let stranger = app
        .join(
            &admin,
            "sam@other.example",
            "admin",
            &format!("organization:{other}"),
        )
        .await;
    let r = app
        .call(&stranger, "products", &[("organization", &p.org)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.call(&stranger, "product", &[("id", &beans)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn the_catalog_round_trips_through_csv_and_bad_files_import_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let import = |csv: String, skip: bool| {
        let (app, admin, org) = (&app, &admin, p.org.clone());
        async move {
            let mut form = vec![("organization", org), ("csv", csv)];
            if skip {
                form.push(("skip_bad", "on".into()));
            }
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call(admin, "import_products", &form).await
        }
    };
    let bad = format!(
        "\u{feff}name,category,unit,unit_weight_g,barcodes,perishable,shelf_life_days\r\n\
         Black beans,Canned goods,each,425,{BEANS_EAN},no,\r\n\
         ,Canned goods,each,,,no,\r\n\
         Rice,Dry goods,crate,,,no,\r\n\
         Milk,Dairy,l,1030,,maybe,7\r\n\
         Oats,Dry goods,kg,,{RICE_UPC},no,\r\n\
         black beans,Canned goods,each,,,no,\r\n"
    );
    let r = import(bad.clone(), false).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["rejected"], true);
    let lines: Vec<i64> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4, 5, 7], "{:?}", r.body);
    assert!(r.body["errors"][1]["message"]
        .as_str()
        .unwrap()
        .contains("crate"));
    assert_eq!(app.count("select count(*) from products").await, 0);
    let r = import(bad, true).await;
    assert_eq!(
        (r.body["rejected"].as_bool(), r.body["created"].as_i64()),
        (Some(false), Some(2)),
        "{:?}",
        r.body
    );
    assert_eq!(app.count("select count(*) from products").await, 2);
    // Export, then import the export: nothing changes.
    let (status, csv) = app
        .get(&admin, &format!("/organizations/{}/catalog.csv", p.org))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        csv.starts_with(
            "name,sku,category,unit,unit_weight_g,barcodes,perishable,shelf_life_days\n"
        ),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "Black beans,,Canned goods,each,425,{BEANS_EAN},no,"
        )),
        "{csv}"
    );
    let r = import(csv, false).await;
    assert_eq!(
        (
            r.body["created"].as_i64(),
            r.body["updated"].as_i64(),
            r.body["skipped"].as_i64()
        ),
        (Some(0), Some(0), Some(2)),
        "{:?}",
        r.body
    );
    let r = import(String::new(), false).await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, "The file is empty.")
    );
    let r = import("title,price\nx,1\n".into(), false).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&client(), &format!("/organizations/{}/catalog.csv", p.org))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
}

/// The writer sends its values to the database as quoted literals (one
/// script a batch): whatever people type must come back as typed, in the
/// ledger and in the event, and never be read as SQL.
async fn text_that_is_hard_to_quote_is_stored_exactly_as_typed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    let texts = [
        "O'Brien's \"Corner\" Shop",
        r"back\slash \' E'x' \\",
        "'); drop table movements; --",
        "$1 $$ $tag$ %s ?",
        "Épicerie Dupré — 食品 🥫",
    ];
    for text in texts {
        ok_movement(
            &app,
            &admin,
            "receive",
            &p.main,
            &beans,
            "1",
            &[("donor", text), ("note", text)],
        )
        .await;
    }
    let mut stored: Vec<(String, String)> =
        sqlx::query_as("select donor, note from movements where product_id = $1")
            .bind(&beans)
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
    stored.sort();
    let mut typed: Vec<(String, String)> = texts
        .iter()
        .map(|t| (t.to_string(), t.to_string()))
        .collect();
    typed.sort();
    assert_eq!(stored, typed);
    let donors: Vec<String> =
        sqlx::query_scalar("select payload from events where type = 'StockReceived' order by seq")
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap()
            .iter()
            .map(|p: &String| {
                serde_json::from_str::<Value>(p).unwrap()["donor"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
    assert_eq!(donors, texts);
    assert_eq!(on_hand(&app, &p.main, &beans).await, texts.len() as i64);
}

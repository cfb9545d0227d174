//! Finding stock: the search across pantries with a transfer, the
//! inventory CSV against the inventory page, a product in every pantry.

use reqwest::{Client, StatusCode};
use serde_json::json;

use super::records;
use crate::helpers::*;
use crate::inventory::{ok_movement, product, RICE_UPC};
use crate::on_both_databases;

on_both_databases!(
    a_search_finds_stock_in_every_pantry_one_can_see,
    the_inventory_csv_is_the_list_the_page_shows,
    a_product_page_sees_every_pantry_in_words,
);

async fn a_search_finds_stock_in_every_pantry_one_can_see(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(
        &app,
        &admin,
        &p.org,
        "Brown rice",
        &[("barcodes", RICE_UPC), ("unit", "kg")],
    )
    .await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    product(&app, &admin, &p.org, "Rice cakes", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "5",
        &[("best_before", "2027-03-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "2.5",
        &[("best_before", "2027-01-15")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.library,
        &rice,
        "12",
        &[("best_before", "2027-06-30")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.library, &beans, "4", &[]).await;
    let search = |c: Client, q: &'static str| {
        let app = &app;
        async move {
            let r = app.call(&c, "search_stock", &[("q", q)]).await;
            (r.status, r.body)
        }
    };
    let (status, found) = search(admin.clone(), "rice").await;
    assert_eq!(status, StatusCode::OK, "{found:?}");
    let names: Vec<&str> = found["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Brown rice", "Rice cakes"]);
    let brown = &found["products"][0];
    // Most stock first; each pantry's earliest best-before date.
    let held: Vec<(&str, i64, &str)> = brown["pantries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["pantry_name"].as_str().unwrap(),
                h["on_hand"].as_i64().unwrap(),
                h["next_best_before"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        held,
        [
            ("Library Pantry", 12_000, "2027-06-30"),
            ("Main Pantry", 7_500, "2027-01-15")
        ]
    );
    assert_eq!(
        found["products"][1]["pantries"].as_array().unwrap().len(),
        0
    );
    // By barcode too.
    let (_, by_code) = search(admin.clone(), RICE_UPC).await;
    assert_eq!(by_code["products"][0]["name"], "Brown rice");

    // Someone who works only at the main pantry sees only its stock.
    let staff = app
        .join(
            &admin,
            "s@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let (_, theirs) = search(staff.clone(), "brown").await;
    let pantries = theirs["products"][0]["pantries"].as_array().unwrap();
    assert_eq!(pantries.len(), 1);
    assert_eq!(pantries[0]["pantry_name"], "Main Pantry");
    // Another organization's admin finds nothing of this one.
    let other = app
        .join(
            &admin,
            "o@elsewhere.example",
            "admin",
            &format!(
                "organization:{}",
                app.create(&admin, "create_organization", &[("name", "Elsewhere")])
                    .await
            ),
        )
        .await;
    assert_eq!(
        search(other, "rice").await.1["products"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Bad input: a specific error, nothing found.
    let (status, body) = search(admin.clone(), "").await;
    assert_eq!(
        (status, body["products"].as_array().map(Vec::len)),
        (StatusCode::OK, Some(0))
    );
    let long = "r".repeat(201);
    let r = app.call(&admin, "search_stock", &[("q", &long)]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "q")
    );

    // The transfer the search page offers: library's rice to main.
    let moved = ok_movement(
        &app,
        &admin,
        "transfer",
        &p.library,
        &rice,
        "2",
        &[("to", &p.main)],
    )
    .await;
    assert_eq!(moved["on_hand"], 10_000);
    let (_, after) = search(admin.clone(), "brown rice").await;
    let held: Vec<i64> = after["products"][0]["pantries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["on_hand"].as_i64().unwrap())
        .collect();
    assert_eq!(held, [10_000, 9_500]);
}

async fn the_inventory_csv_is_the_list_the_page_shows(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    // More products than one page holds, some with no stock.
    let mut ids = Vec::new();
    for i in 0..57 {
        let id = product(
            &app,
            &admin,
            &p.org,
            &format!("Item {i:02}"),
            &[("unit_weight_g", "250")],
        )
        .await;
        if i % 4 != 0 {
            let bb = format!("2027-0{}-1{}", 1 + i % 9, i % 10);
            ok_movement(
                &app,
                &admin,
                "receive",
                &p.main,
                &id,
                &format!("{}", 1 + i % 7),
                &[("best_before", &bb)],
            )
            .await;
        }
        ids.push(id);
    }
    let milk = product(
        &app,
        &admin,
        &p.org,
        "Milk",
        &[("unit", "l"), ("category", "Dairy")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.main, &milk, "10", &[]).await;
    let r = app
        .call(
            &admin,
            "set_minimum",
            &[("pantry", &p.main), ("product", &milk), ("minimum", "12")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // The page's rows, every page of them, by default: only what is held.
    let page_rows = |filter: &'static str| {
        let (app, admin, main) = (&app, &admin, p.main.clone());
        async move {
            let mut rows = Vec::new();
            for page in 1.. {
                let r = app
                    .call(
                        admin,
                        "stock",
                        &[
                            ("pantry", &main),
                            ("filter", filter),
                            ("page", &page.to_string()),
                        ],
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
                rows.extend(r.body["rows"].as_array().unwrap().clone());
                if page >= (r.body["total"].as_i64().unwrap() + 49) / 50 {
                    break;
                }
            }
            rows
        }
    };
    let shown = page_rows("").await;
    assert_eq!(
        shown.len(),
        57 - 15 + 1,
        "products with no stock are hidden"
    );
    assert!(shown.iter().all(|r| r["on_hand"].as_i64().unwrap() > 0));
    assert_eq!(page_rows("all").await.len(), 58);

    let (status, body) = app
        .get(&admin, &format!("/pantries/{}/inventory.csv", p.main))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let csv = records(&body);
    assert_eq!(
        csv[0][..6],
        [
            "Product",
            "Category",
            "On hand",
            "Unit",
            "Best before",
            "Weight"
        ]
    );
    assert_eq!(csv.len() - 1, shown.len());
    for (line, row) in csv[1..].iter().zip(&shown) {
        assert_eq!(line[0], row["name"].as_str().unwrap());
        assert_eq!(line[4], row["next_best_before"].as_str().unwrap_or(""));
        let grams = row["weight_g"].as_i64().unwrap();
        assert_eq!(
            line[5],
            app::inventory::model::format_weight(grams),
            "{}",
            line[0]
        );
    }
    // Litres count in litres, and weigh a kilogram each.
    let milk_line = csv.iter().find(|l| l[0] == "Milk").unwrap();
    assert_eq!(
        (
            milk_line[2].as_str(),
            milk_line[3].as_str(),
            milk_line[5].as_str(),
            milk_line[6].as_str()
        ),
        ("10 l", "l", "10 kg", "yes")
    );
    // The overview counts litres as litres, not as "0 items".
    let r = app
        .call(
            &admin,
            "stock_overview",
            &[("scope", &format!("pantry:{}", p.main))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let dairy = r.body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == "Dairy")
        .unwrap();
    assert_eq!(
        (dairy["units"].as_i64(), dairy["measured"].clone()),
        (Some(0), json!([["l", 10_000]]))
    );
    let dairy: app::inventory::model::CategoryTotals =
        serde_json::from_value(dairy.clone()).unwrap();
    assert_eq!(dairy.quantity_text(), "10 l");
    // Items at 250 g each: the weight is the count times 250 g.
    let item = csv.iter().find(|l| l[0] == "Item 05").unwrap();
    assert_eq!((item[2].as_str(), item[5].as_str()), ("6", "1.5 kg"));

    // Low stock and sorted by best before: the same lists the page shows.
    let (_, low) = app
        .get(
            &admin,
            &format!("/pantries/{}/inventory.csv?filter=low", p.main),
        )
        .await;
    let low = records(&low);
    assert_eq!(low.len(), 2);
    assert_eq!(low[1][0], "Milk");
    let (_, by_date) = app
        .get(
            &admin,
            &format!("/pantries/{}/inventory.csv?sort=best_before", p.main),
        )
        .await;
    let dates: Vec<String> = records(&by_date)[1..]
        .iter()
        .map(|l| l[4].clone())
        .collect();
    let dated: Vec<&String> = dates.iter().filter(|d| !d.is_empty()).collect();
    assert!(dated.windows(2).all(|w| w[0] <= w[1]), "{dates:?}");
    assert_eq!(dates.last().map(String::as_str), Some(""), "undated last");

    // Someone outside the organization gets nothing; a bad id is refused.
    let elsewhere = app
        .create(&admin, "create_organization", &[("name", "Elsewhere")])
        .await;
    let outsider = app
        .join(
            &admin,
            "out@example.org",
            "admin",
            &format!("organization:{elsewhere}"),
        )
        .await;
    let (status, _) = app
        .get(&outsider, &format!("/pantries/{}/inventory.csv", p.main))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .get(&admin, "/pantries/not%20an%20id/inventory.csv")
        .await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = app
        .get(&client(), &format!("/pantries/{}/inventory.csv", p.main))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn a_product_page_sees_every_pantry_in_words(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "10",
        &[("best_before", "2027-05-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.library,
        &beans,
        "4",
        &[("best_before", "2027-03-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "transfer",
        &p.library,
        &beans,
        "1",
        &[("to", &p.main)],
    )
    .await;
    let visit =
        json!({ "visit": { "pantry": p.main, "lines": [{ "product": beans, "quantity": "2" }] } });
    let r = app.call_json(&admin, "record_visit", &visit).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let visit_id = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            &admin,
            "void_visit",
            &[
                ("id", &visit_id),
                ("version", "1"),
                ("reason", "entered twice"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let r = app
        .call(&admin, "product_everywhere", &[("product", &beans)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let held: Vec<(&str, i64)> = r.body["holdings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["pantry_name"].as_str().unwrap(),
                h["on_hand"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(held, [("Main Pantry", 11), ("Library Pantry", 3)]);
    let lots: Vec<(&str, &str, i64)> = r.body["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["pantry_name"].as_str().unwrap(),
                l["best_before"].as_str().unwrap(),
                l["quantity"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(lots[0], ("Library Pantry", "2027-03-01", 3));
    assert_eq!(lots.iter().map(|l| l.2).sum::<i64>(), 14);
    // The history in words, newest first, both pantries.
    let words: Vec<String> = r.body["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let view: app::inventory::model::MovementView =
                serde_json::from_value(m["movement"].clone()).unwrap();
            format!(
                "{}: {}",
                m["pantry_name"].as_str().unwrap(),
                view.what_happened()
            )
        })
        .collect();
    assert_eq!(
        words,
        [
            // The visit took from two lots (the moved cans go first), and
            // each comes back to its own.
            "Main Pantry: Returned (visit voided)",
            "Main Pantry: Returned (visit voided)",
            "Main Pantry: Given out at a visit",
            "Main Pantry: Moved here from Library Pantry",
            "Library Pantry: Moved to Main Pantry",
            "Library Pantry: Donated",
            "Main Pantry: Donated",
        ]
    );

    // Someone at one pantry sees only that pantry.
    let staff = app
        .join(
            &admin,
            "s@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = app
        .call(&staff, "product_everywhere", &[("product", &beans)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert!(r.body["movements"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["pantry_name"] == "Main Pantry"));
    assert_eq!(r.body["holdings"].as_array().unwrap().len(), 1);
}

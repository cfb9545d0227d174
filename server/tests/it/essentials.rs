//! Coordinator essentials: the navigation (current pantry, switcher,
//! sections by role), the first-run checklist, the search across pantries
//! with a transfer, and the inventory CSV against the inventory page.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{ok_movement, product, RICE_UPC};
use crate::on_both_databases;

on_both_databases!(
    the_navigation_follows_the_pantry_and_the_role,
    a_new_organization_checklist_ticks_off_each_step,
    a_search_finds_stock_in_every_pantry_one_can_see,
    the_inventory_csv_is_the_list_the_page_shows,
    a_donor_statement_adds_up_to_the_ledger,
    a_product_page_sees_every_pantry_in_words,
    imported_history_is_its_own_series_in_reports,
    a_donation_of_several_products_is_one_receipt,
);

async fn nav(app: &TestApp, c: &Client, pantry: &str) -> Value {
    let r = app.call(c, "navigation", &[("pantry", pantry)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

async fn the_navigation_follows_the_pantry_and_the_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    // Signed out: no navigation at all, and no error.
    let anonymous = client();
    let n = nav(&app, &anonymous, &p.main).await;
    assert_eq!(
        (
            n["current"].is_null(),
            n["pantries"].as_array().map(Vec::len)
        ),
        (true, Some(0))
    );

    // The pantry the page names is current; the next page that names none
    // keeps it (the cookie), until another pantry is named.
    let n = nav(&app, &admin, &p.library).await;
    assert_eq!(n["current"]["id"], p.library.as_str());
    assert_eq!(n["pantries"].as_array().unwrap().len(), 2);
    assert_eq!(n["current"]["place"], "North Campus · State College");
    assert_eq!(
        nav(&app, &admin, "").await["current"]["id"],
        p.library.as_str()
    );
    assert_eq!(
        nav(&app, &admin, &p.main).await["current"]["id"],
        p.main.as_str()
    );
    assert_eq!(
        nav(&app, &admin, "").await["current"]["id"],
        p.main.as_str()
    );
    let a = &n["abilities"];
    assert_eq!(
        (
            a["record"].as_bool(),
            a["manage"].as_bool(),
            n["administer_organization"].as_bool()
        ),
        (Some(true), Some(true), Some(true))
    );

    // Staff at one pantry: only that pantry, no settings or people, and a
    // pantry they cannot see is not taken from the address.
    let staff = app
        .join(
            &admin,
            "staff@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let n = nav(&app, &staff, &p.library).await;
    assert_eq!(n["current"]["id"], p.main.as_str());
    assert_eq!(n["pantries"].as_array().unwrap().len(), 1);
    let a = &n["abilities"];
    assert_eq!(
        (
            a["view"].as_bool(),
            a["record"].as_bool(),
            a["manage"].as_bool(),
            n["administer_organization"].as_bool()
        ),
        (Some(true), Some(true), Some(false), Some(false))
    );
    // Garbage in the address is ignored, not an error.
    assert_eq!(
        nav(&app, &staff, "../../etc").await["current"]["id"],
        p.main.as_str()
    );
}

async fn a_new_organization_checklist_ticks_off_each_step(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let org = app
        .create(&admin, "create_organization", &[("name", "Food Bank")])
        .await;
    let steps = |c: Client| {
        let app = &app;
        async move {
            let r = app.call(&c, "checklists", &[]).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|l| l["steps"].as_array().unwrap().clone())
                .map(|s| s["done"].as_bool().unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(steps(admin.clone()).await, [false, false, false, false]);
    let campus = app
        .create(
            &admin,
            "create_campus",
            &[("organization", &org), ("name", "Town")],
        )
        .await;
    let pantry = app
        .create(
            &admin,
            "create_pantry",
            &[("campus", &campus), ("name", "Shelf")],
        )
        .await;
    assert_eq!(steps(admin.clone()).await, [true, false, false, false]);
    let rice = product(&app, &admin, &org, "Rice", &[]).await;
    ok_movement(&app, &admin, "receive", &pantry, &rice, "10", &[]).await;
    let staff = app
        .join(
            &admin,
            "v@bank.example",
            "staff",
            &format!("pantry:{pantry}"),
        )
        .await;
    assert_eq!(steps(admin.clone()).await, [true, true, true, false]);
    // Staff are not shown the admin's checklist.
    assert_eq!(steps(staff.clone()).await, Vec::<bool>::new());
    let visit =
        json!({ "visit": { "pantry": pantry, "lines": [{ "product": rice, "quantity": "1" }] } });
    let r = app.call_json(&staff, "record_visit", &visit).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Every step done: the checklist goes away.
    assert_eq!(steps(admin.clone()).await, Vec::<bool>::new());
}

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

/// Parses a CSV body into its records.
fn records(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect()
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

async fn imported_history_is_its_own_series_in_reports(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("unit_weight_g", "400")],
    )
    .await;
    product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    let csv = "date,product,quantity,pantry\n\
               2025-03-03,Black beans,5,Main Pantry\n\
               2025-03-20,Black beans,7,Main Pantry\n\
               2025-04-02,Rice,2.5,Main Pantry\n\
               2025-04-02,Black beans,9,Library Pantry\n";
    let res = admin
        .post(format!(
            "{}/api/v1/usage/import?organization={}&name=2025.csv",
            app.base, p.org
        ))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let report = |scope: String, from: &'static str, to: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .call(
                    admin,
                    "usage_report",
                    &[
                        ("scope", &scope),
                        ("from", from),
                        ("to", to),
                        ("group", "month"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    let r = report(format!("pantry:{}", p.main), "2025-01-01", "2025-12-31").await;
    // Nothing was handed out in Larder in 2025, but the imported history
    // shows as its own series: 12 cans (4.8 kg) and 2.5 kg of rice.
    assert_eq!(r["totals"]["items"], 0);
    assert_eq!(r["totals"]["imported_items"], 12);
    assert_eq!(r["totals"]["imported_weight_g"], 12 * 400 + 2500);
    let march = r["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["start"] == "2025-03-01")
        .unwrap();
    assert_eq!(
        (
            march["imported_items"].as_i64(),
            march["imported_weight_g"].as_i64()
        ),
        (Some(12), Some(4800))
    );
    let beans_row = r["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product_id"] == beans.as_str())
        .unwrap();
    assert_eq!(beans_row["imported"], 12);
    assert_eq!(r["imported_span"], json!(["2025-03-03", "2025-04-02"]));
    assert_eq!(r["trail"][2][0], "Main Pantry");
    // The organization counts both pantries; the CSV carries the series.
    let r = report(
        format!("organization:{}", p.org),
        "2025-01-01",
        "2025-12-31",
    )
    .await;
    assert_eq!(r["totals"]["imported_items"], 21);
    let (status, body) = app
        .get(&admin, &format!("/reports/usage.csv?scope=organization:{}&from=2025-01-01&to=2025-12-31&group=month", p.org))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("imported_items,imported_weight_kg"), "{body}");
    // A window that misses the history still says where it is.
    let r = report(format!("pantry:{}", p.main), "2026-01-01", "2026-01-31").await;
    assert_eq!(r["totals"]["imported_items"], 0);
    assert_eq!(r["imported_span"], json!(["2025-03-03", "2025-04-02"]));
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

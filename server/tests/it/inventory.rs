//! Stock: the catalog, movements and their rules, the event pipeline, the
//! stock checker and its cache, the live stream.

use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    products_are_validated_searched_and_paginated,
    stock_goes_out_first_expiry_first_out,
    distributing_more_than_on_hand_is_refused_and_changes_nothing,
    the_last_unit_goes_to_exactly_one_of_many_concurrent_requests,
    transfers_move_both_sides_at_once_and_keep_dates,
    adjustments_and_discards_record_their_reasons,
    only_staff_and_above_move_stock,
    every_movement_writes_an_event_that_consumers_apply_once,
    an_event_a_consumer_keeps_failing_on_is_parked_and_can_be_retried,
    the_stock_checker_caches_until_a_movement_lands,
    a_live_stream_tells_viewers_of_a_pantry_about_its_movements,
    the_catalog_round_trips_through_csv_and_bad_files_import_nothing,
    text_that_is_hard_to_quote_is_stored_exactly_as_typed,
    two_servers_on_one_database_never_write_from_a_stale_memory,
);

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
        if in_memory && (saved == durable || head == 0) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("consumers did not catch up with the event log");
}

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

async fn stock_goes_out_first_expiry_first_out(backend: Backend) {
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
        "5",
        &[("best_before", "2031-06-01"), ("donor", "Grocer")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "4",
        &[("best_before", "2030-01-15")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "3", &[]).await;
    let receipt = ok_movement(&app, &admin, "distribute", &p.main, &beans, "6", &[]).await;
    assert_eq!(receipt["on_hand"], 6);
    // The 2030 lot (4) went first, then 2 of the 2031 lot; undated stock last.
    let view = app
        .call(
            &admin,
            "product_stock",
            &[("pantry", &p.main), ("product", &beans)],
        )
        .await
        .body;
    let lots: Vec<(Value, i64)> = view["lots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["best_before"].clone(), l["quantity"].as_i64().unwrap()))
        .collect();
    assert_eq!(lots, vec![(Value::from("2031-06-01"), 3), (Value::Null, 3)]);
    assert_eq!(view["movements_total"], 4);
    assert_eq!(view["movements"][0]["kind"], "distributed");
    assert_eq!(view["movements"][0]["quantity"], -6);
    // Receiving the same date again joins its lot.
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "2",
        &[("best_before", "2031-06-01")],
    )
    .await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from lots where product_id = '{beans}' and best_before = '2031-06-01'"
        ))
        .await,
        1
    );
    // Perishables need a date, or take one from their shelf life.
    let milk = product(
        &app,
        &admin,
        &p.org,
        "Milk",
        &[("perishable", "on"), ("unit", "l")],
    )
    .await;
    let r = movement(&app, &admin, "receive", &p.main, &milk, "2", &[]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "best_before")
    );
    let bread = product(
        &app,
        &admin,
        &p.org,
        "Bread",
        &[("perishable", "on"), ("shelf_life_days", "5")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.main, &bread, "2", &[]).await;
    assert_eq!(
        app.count(&format!(
            "select count(*) from lots where product_id = '{bread}' and best_before is not null"
        ))
        .await,
        1
    );
    // Litres are stored in millilitres, exactly.
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &milk,
        "1.25",
        &[("best_before", "2030-01-01")],
    )
    .await;
    assert_eq!(on_hand(&app, &p.main, &milk).await, 1250);
}

async fn distributing_more_than_on_hand_is_refused_and_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "3", &[]).await;
    let before = (
        app.count("select count(*) from movements").await,
        app.count("select count(*) from events").await,
    );
    let r = movement(&app, &admin, "distribute", &p.main, &beans, "4", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        "Only 3 of Black beans on hand at Main Pantry; you asked for 4."
    );
    let r = movement(&app, &admin, "distribute", &p.library, &beans, "1", &[]).await;
    assert_eq!(
        r.message(),
        "Library Pantry has no Black beans on hand, so 1 cannot go out."
    );
    for (q, message) in [
        ("0", "Enter a quantity above zero."),
        ("-2", "Enter a positive quantity."),
        ("1.5", "Count whole items; this product is not split."),
        (
            "lots",
            "“lots” is not a quantity; enter a number such as 3 or 1.5.",
        ),
    ] {
        let r = movement(&app, &admin, "distribute", &p.main, &beans, q, &[]).await;
        assert_eq!(
            (r.status, r.message().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, message),
            "{q}"
        );
    }
    let r = movement(&app, &admin, "distribute", &p.main, "not-an-id", "1", &[]).await;
    assert!(r.status.is_client_error());
    assert_eq!(
        before,
        (
            app.count("select count(*) from movements").await,
            app.count("select count(*) from events").await
        )
    );
    assert_eq!(on_hand(&app, &p.main, &beans).await, 3);
}

async fn the_last_unit_goes_to_exactly_one_of_many_concurrent_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    for round in 0..3 {
        ok_movement(&app, &admin, "receive", &p.main, &beans, "1", &[]).await;
        let attempts =
            (0..8).map(|_| movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]));
        let replies = futures::future::join_all(attempts).await;
        let ok = replies
            .iter()
            .filter(|r| r.status == StatusCode::OK)
            .count();
        assert_eq!(
            ok,
            1,
            "round {round}: {:?}",
            replies
                .iter()
                .map(|r| (r.status, r.message()))
                .collect::<Vec<_>>()
        );
        for r in replies.iter().filter(|r| r.status != StatusCode::OK) {
            assert_eq!(
                (r.status, r.message().as_str()),
                (
                    StatusCode::CONFLICT,
                    "Main Pantry has no Black beans on hand, so 1 cannot go out."
                )
            );
        }
    }
    assert_eq!(on_hand(&app, &p.main, &beans).await, 0);
    assert_eq!(ledger(&app, &p.main, &beans).await, 0);
    assert_eq!(
        app.count("select count(*) from movements where kind = 'distributed'")
            .await,
        3
    );
}

async fn transfers_move_both_sides_at_once_and_keep_dates(backend: Backend) {
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
        "2",
        &[("best_before", "2030-01-01")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "5",
        &[("best_before", "2031-01-01")],
    )
    .await;
    let r = ok_movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "4",
        &[("to", &p.library)],
    )
    .await;
    assert_eq!(r["on_hand"], 3);
    assert_eq!(on_hand(&app, &p.library, &beans).await, 4);
    let dates: Vec<(String, i64)> = sqlx::query_as(&format!(
        "select best_before, quantity from lots where pantry_id = '{}' order by best_before",
        p.library
    ))
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        dates,
        vec![("2030-01-01".into(), 2), ("2031-01-01".into(), 2)]
    );
    // Too much: neither side changes.
    let r = movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "4",
        &[("to", &p.library)],
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        (
            on_hand(&app, &p.main, &beans).await,
            on_hand(&app, &p.library, &beans).await
        ),
        (3, 4)
    );
    let r = movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "1",
        &[("to", &p.main)],
    )
    .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "to")
    );
    let other = app
        .create(&admin, "create_organization", &[("name", "Other College")])
        .await;
    let oc = app
        .create(
            &admin,
            "create_campus",
            &[("organization", &other), ("name", "East")],
        )
        .await;
    let op = app
        .create(
            &admin,
            "create_pantry",
            &[("campus", &oc), ("name", "East Pantry")],
        )
        .await;
    let r = movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "1",
        &[("to", &op)],
    )
    .await;
    // Answered exactly as a pantry id that exists nowhere.
    let random = uuid::Uuid::now_v7().to_string();
    let nowhere = movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "1",
        &[("to", &random)],
    )
    .await;
    assert_eq!(
        (r.status, r.field(), r.message()),
        (nowhere.status, nowhere.field(), nowhere.message())
    );
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Two events, one per pantry, sharing a correlation id.
    let correlated = app
        .count("select count(distinct correlation_id) from events where type = 'StockTransferred'")
        .await;
    assert_eq!(
        (
            app.count("select count(*) from events where type = 'StockTransferred'")
                .await,
            correlated
        ),
        (3, 1)
    );
}

async fn adjustments_and_discards_record_their_reasons(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "10",
        &[("best_before", "2030-05-01")],
    )
    .await;
    let r = movement(
        &app,
        &admin,
        "adjust",
        &p.main,
        &rice,
        "0.5",
        &[("direction", "remove")],
    )
    .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason")
    );
    ok_movement(
        &app,
        &admin,
        "adjust",
        &p.main,
        &rice,
        "0.5",
        &[("direction", "remove"), ("reason", "Stock count")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "adjust",
        &p.main,
        &rice,
        "2",
        &[
            ("direction", "add"),
            ("reason", "Found a sack"),
            ("best_before", "2029-12-01"),
        ],
    )
    .await;
    assert_eq!(on_hand(&app, &p.main, &rice).await, 11_500);
    let lot: String = sqlx::query_scalar("select id from lots where best_before = '2029-12-01'")
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap();
    let r = movement(
        &app,
        &admin,
        "discard",
        &p.main,
        &rice,
        "3",
        &[("reason", "damaged"), ("lot", &lot)],
    )
    .await;
    assert_eq!(
        (r.status, r.message().as_str()),
        (
            StatusCode::CONFLICT,
            "That lot holds only 2 kg of Rice; you asked for 3 kg."
        )
    );
    ok_movement(
        &app,
        &admin,
        "discard",
        &p.main,
        &rice,
        "2",
        &[("reason", "damaged"), ("lot", &lot)],
    )
    .await;
    let r = movement(
        &app,
        &admin,
        "discard",
        &p.main,
        &rice,
        "1",
        &[("reason", "lost")],
    )
    .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason")
    );
    let view = app
        .call(
            &admin,
            "product_stock",
            &[("pantry", &p.main), ("product", &rice)],
        )
        .await
        .body;
    let history: Vec<(String, Option<String>)> = view["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["kind"].as_str().unwrap().to_string(),
                m["reason"].as_str().map(String::from),
            )
        })
        .collect();
    assert_eq!(history[0], ("discarded".into(), Some("damaged".into())));
    assert_eq!(history[2], ("adjusted".into(), Some("Stock count".into())));
    assert_eq!(on_hand(&app, &p.main, &rice).await, 9_500);
    assert_eq!(ledger(&app, &p.main, &rice).await, 9_500);
}

async fn only_staff_and_above_move_stock(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    let viewer = app
        .join(
            &admin,
            "vi@college.example",
            "viewer",
            &format!("pantry:{}", p.main),
        )
        .await;
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = movement(&app, &viewer, "receive", &p.main, &beans, "1", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    ok_movement(&app, &staff, "receive", &p.main, &beans, "1", &[]).await;
    // Staff at one pantry do not know the other exists.
    let r = movement(&app, &staff, "receive", &p.library, &beans, "1", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // Staff do not set minimums or edit the catalog; viewers read.
    let r = app
        .call(
            &staff,
            "set_minimum",
            &[("pantry", &p.main), ("product", &beans), ("minimum", "3")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .call(
            &staff,
            "create_product",
            &[
                ("organization", &p.org),
                ("name", "Oats"),
                ("category", "Dry"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.call(&viewer, "stock", &[("pantry", &p.main)]).await;
    assert_eq!(
        (
            r.status,
            r.body["rows"][0]["on_hand"].as_i64(),
            r.body["can_move"].as_bool()
        ),
        (StatusCode::OK, Some(1), Some(false))
    );
}

async fn every_movement_writes_an_event_that_consumers_apply_once(backend: Backend) {
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
        &[("best_before", "2030-01-01")],
    )
    .await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "3", &[]).await;
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    ok_movement(
        &app,
        &admin,
        "transfer",
        &p.main,
        &beans,
        "1",
        &[("to", &p.library)],
    )
    .await;
    assert_eq!(app.count("select count(*) from movements").await, 5);
    assert_eq!(
        app.count("select count(*) from events where type like 'Stock%'")
            .await,
        5
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'ProductCreated'")
            .await,
        1
    );
    let e: (String, i64, String, String) = sqlx::query_as(
        "select type, version, payload, pantry_id from events where type = 'StockReceived'",
    )
    .fetch_one(app.server.state.db.pool())
    .await
    .unwrap();
    let payload: Value = serde_json::from_str(&e.2).unwrap();
    assert_eq!(
        (e.0.as_str(), e.1, e.3.as_str()),
        ("StockReceived", 1, p.main.as_str())
    );
    assert_eq!(
        (
            payload["quantity"].as_i64(),
            payload["on_hand"].as_i64(),
            payload["lots"][0]["best_before"].as_str()
        ),
        (Some(10), Some(10), Some("2030-01-01"))
    );
    drained(&app).await;
    // The durable consumer's rollup equals the ledger, per kind.
    let flows: Vec<(String, i64, i64)> = sqlx::query_as(&format!(
        "select kind, quantity, movements from daily_flows where pantry_id = '{}' order by kind",
        p.main
    ))
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        flows,
        vec![
            ("distributed".into(), -5, 2),
            ("received".into(), 10, 1),
            ("transferred".into(), -1, 1)
        ]
    );
    // Every event reached it: the movements, the product and the places.
    let all = app.count("select count(*) from events").await;
    assert_eq!(all, 11);
    let text = app.metrics().await;
    assert!(
        text.contains(&format!(
            "larder_events_delivered_total{{consumer=\"daily-flows\"}} {all}"
        )),
        "{text}"
    );
}

async fn an_event_a_consumer_keeps_failing_on_is_parked_and_can_be_retried(backend: Backend) {
    let app = spawn_with(
        backend,
        &[
            ("LARDER_EVENT_MAX_ATTEMPTS", "3"),
            ("LARDER_EVENT_RETRY_MS", "20"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    drained(&app).await;
    // The rollup's table goes missing: its consumer cannot apply events.
    app.sql("alter table daily_flows rename to daily_flows_away")
        .await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "4", &[]).await;
    let mut parked = 0;
    for _ in 0..200 {
        parked = app
            .count("select count(*) from dead_letters where resolved_at is null")
            .await;
        if parked > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(parked, 1, "the failing event was not parked");
    assert_eq!(app.count("select attempts from dead_letters").await, 3);
    let view = app
        .call(&admin, "events_admin", &[("organization", &p.org)])
        .await;
    assert_eq!(view.status, StatusCode::OK, "{:?}", view.body);
    assert_eq!(view.body["parked"][0]["consumer"], "daily-flows");
    assert_eq!(view.body["parked"][0]["event_type"], "StockReceived");
    let id = view.body["parked"][0]["id"].as_str().unwrap().to_string();
    // Retrying while the table is still away fails again, and says why.
    let r = app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert!(
        r.body["FailedAgain"]
            .as_str()
            .unwrap_or("")
            .contains("daily_flows"),
        "{:?}",
        r.body
    );
    // Staff may not retry.
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    assert_eq!(
        app.call(&staff, "retry_parked_event", &[("id", &id)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.sql("alter table daily_flows_away rename to daily_flows")
        .await;
    // The consumer went on past the parked event: later events apply.
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    drained(&app).await;
    assert_eq!(
        app.count("select count(*) from daily_flows where kind = 'received'")
            .await,
        0
    );
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'distributed'")
            .await,
        -1
    );
    let r = app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert_eq!(r.body, Value::from("Delivered"));
    assert_eq!(
        app.count("select count(*) from dead_letters where resolved_at is null")
            .await,
        0
    );
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'received'")
            .await,
        4
    );
    // Retrying a delivered event again changes nothing.
    app.call(&admin, "retry_parked_event", &[("id", &id)]).await;
    assert_eq!(
        app.count("select quantity from daily_flows where kind = 'received'")
            .await,
        4
    );
    let text = app.metrics().await;
    assert!(
        text.contains("larder_events_parked_total{consumer=\"daily-flows\"} 1"),
        "{text}"
    );
}

async fn the_stock_checker_caches_until_a_movement_lands(backend: Backend) {
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
    let rice = product(
        &app,
        &admin,
        &p.org,
        "Rice",
        &[("unit", "kg"), ("category", "Dry goods")],
    )
    .await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &beans,
        "4",
        &[("best_before", "2020-01-01")],
    )
    .await;
    ok_movement(&app, &admin, "receive", &p.library, &rice, "2.5", &[]).await;
    let r = app
        .call(
            &admin,
            "set_minimum",
            &[("pantry", &p.main), ("product", &beans), ("minimum", "10")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let overview = |scope: String| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .call(admin, "stock_overview", &[("scope", &scope)])
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    // Answers computed while an event is in flight are not kept; start
    // from a quiet log so the hits below are predictable.
    drained(&app).await;
    let org = overview(format!("organization:{}", p.org)).await;
    let cats: Vec<(String, i64, i64)> = org["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["category"].as_str().unwrap().into(),
                c["units"].as_i64().unwrap(),
                c["weight_g"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        cats,
        vec![
            ("Canned goods".into(), 4, 1700),
            ("Dry goods".into(), 0, 2500)
        ]
    );
    assert_eq!(org["low_stock_total"], 1);
    assert_eq!(org["expiring_total"], 1);
    // The window is the caller's to choose, within reason.
    let r = app
        .call(
            &admin,
            "stock_overview",
            &[("scope", &format!("pantry:{}", p.main)), ("days", "400")],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "days")
    );
    let r = app
        .call(
            &admin,
            "stock_overview",
            &[("scope", &format!("pantry:{}", p.main)), ("days", "30")],
        )
        .await;
    assert_eq!(
        (
            r.body["expiring_days"].as_i64(),
            r.body["expiring_total"].as_i64()
        ),
        (Some(30), Some(1))
    );
    let campus = overview(format!("campus:{}", p.campus)).await;
    assert_eq!(campus["categories"], org["categories"]);
    let library = overview(format!("pantry:{}", p.library)).await;
    assert_eq!(library["categories"].as_array().unwrap().len(), 1);
    let hits = |text: &str| -> i64 {
        text.lines()
            .find(|l| l.starts_with("larder_cache_requests_total{cache=\"stock\",result=\"hit\"}"))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap()
    };
    let before = hits(&app.metrics().await);
    assert_eq!(overview(format!("organization:{}", p.org)).await, org);
    assert_eq!(hits(&app.metrics().await), before + 1);
    // A movement at one pantry makes the answers covering it stale…
    ok_movement(&app, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    let org = overview(format!("organization:{}", p.org)).await;
    assert_eq!(org["categories"][0]["units"], 3);
    // …but not the other pantry's.
    drained(&app).await;
    overview(format!("pantry:{}", p.library)).await;
    assert_eq!(hits(&app.metrics().await), before + 2);
    // The inventory list: filters and badges.
    let list = |filter: &'static str| {
        let (app, admin, main) = (&app, &admin, p.main.clone());
        async move {
            app.call(admin, "stock", &[("pantry", &main), ("filter", filter)])
                .await
                .body
        }
    };
    let low = list("low").await;
    assert_eq!(
        (low["total"].as_i64(), low["rows"][0]["low"].as_bool()),
        (Some(1), Some(true))
    );
    let expiring = list("expiring").await;
    assert_eq!(expiring["rows"][0]["expired"], 3);
    assert_eq!(list("all").await["total"], 2);
    assert_eq!(list("in_stock").await["total"], 1);
    // A catalog change reaches cached lists too.
    let r = app
        .call(
            &admin,
            "update_product",
            &[
                ("id", &beans),
                ("name", "Black beans, canned"),
                ("category", "Canned goods"),
                ("unit", "each"),
                ("unit_weight_g", "425"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(list("low").await["rows"][0]["name"], "Black beans, canned");
}

async fn a_live_stream_tells_viewers_of_a_pantry_about_its_movements(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    let anonymous = app
        .get(&client(), &format!("/live/pantries/{}", p.main))
        .await;
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.library),
        )
        .await;
    assert_eq!(
        app.get(&staff, &format!("/live/pantries/{}", p.main))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let mut res = admin
        .get(format!("{}/live/pantries/{}", app.base, p.main))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    // A movement elsewhere is not sent; one here is.
    ok_movement(&app, &admin, "receive", &p.library, &beans, "2", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "7", &[]).await;
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !text.contains("\"on_hand\":7") {
        let chunk = tokio::time::timeout_at(deadline, res.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("event: stock"), "{text}");
    assert!(!text.contains("\"on_hand\":2"), "{text}");
    assert!(text.contains(&beans), "{text}");
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

/// Each server's movement writer remembers the stock rows it wrote and
/// writes the next batch from memory. A second server writing the same
/// stock makes that memory stale: the first must notice, read afresh, and
/// neither lose the other's movements nor refuse on stock it no longer
/// knows about.
async fn two_servers_on_one_database_never_write_from_a_stale_memory(backend: Backend) {
    use std::sync::atomic::Ordering::Relaxed;
    let a = spawn_app(backend).await;
    let admin = a.setup_admin().await;
    let p = build_places(&a, &admin).await;
    let beans = product(&a, &admin, &p.org, "Black beans", &[]).await;
    let b = spawn_beside(&a).await;
    let dated = [("best_before", "2031-01-01")];
    let on_hand_after = |r: Value| r["on_hand"].as_i64().unwrap();
    let stats = |app: &TestApp| {
        let s = app.server.state.writer.stats();
        (s.remembered.load(Relaxed), s.stale.load(Relaxed))
    };

    ok_movement(&a, &admin, "receive", &p.main, &beans, "10", &dated).await;
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    assert_eq!(on_hand_after(r), 9);
    assert_eq!(
        stats(&a),
        (1, 0),
        "the second movement is written from memory"
    );

    // The other server takes 2; the first's memory still says 9.
    let r = ok_movement(&b, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    assert_eq!(on_hand_after(r), 7);
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "3", &[]).await;
    assert_eq!(on_hand_after(r), 4, "the stale memory is not written");
    assert_eq!(stats(&a), (1, 1));
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "1", &[]).await;
    assert_eq!(on_hand_after(r), 3);
    assert_eq!(stats(&a), (2, 1), "the memory is good again after the read");

    // The other server adds 10; the first remembers 3 but must not refuse 8.
    let r = ok_movement(&b, &admin, "receive", &p.main, &beans, "10", &dated).await;
    assert_eq!(on_hand_after(r), 13);
    let r = ok_movement(&a, &admin, "distribute", &p.main, &beans, "8", &[]).await;
    assert_eq!(on_hand_after(r), 5);
    assert_eq!(stats(&a), (2, 2));
    // A refusal from memory holds when the memory does.
    let r = movement(&a, &admin, "distribute", &p.main, &beans, "6", &[]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert_eq!(stats(&a), (3, 2));

    assert_eq!(on_hand(&a, &p.main, &beans).await, 5);
    assert_eq!(ledger(&a, &p.main, &beans).await, 5);
    assert_eq!(
        a.count(&format!(
            "select cast(coalesce(sum(quantity), 0) as bigint) from lots where product_id = '{beans}'"
        ))
        .await,
        5
    );
    assert_eq!(
        a.count("select count(*) from events where type in ('StockReceived', 'StockDistributed')")
            .await,
        7
    );
}

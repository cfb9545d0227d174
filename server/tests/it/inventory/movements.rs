//! Movements and their rules: first expiry first out, no distributing
//! what is not on hand (even racing), transfers, adjustments and discards
//! with their reasons, and who may move stock.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

use super::{ledger, movement, ok_movement, on_hand, product};

on_both_databases!(
    stock_goes_out_first_expiry_first_out,
    distributing_more_than_on_hand_is_refused_and_changes_nothing,
    the_last_unit_goes_to_exactly_one_of_many_concurrent_requests,
    transfers_move_both_sides_at_once_and_keep_dates,
    adjustments_and_discards_record_their_reasons,
    only_staff_and_above_move_stock,
);

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

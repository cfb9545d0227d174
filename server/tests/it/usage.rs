//! Usage: visits at the counter (all lines or none), corrections and voids
//! as compensating movements, visit rules, and the usage report checked
//! against sums computed here from the raw tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    a_visit_posts_every_line_or_none,
    corrections_and_voids_post_compensating_movements,
    visit_rules_warn_but_never_block,
    bad_visits_are_refused_with_the_field_and_change_nothing,
    report_totals_equal_sums_computed_from_the_movements,
    history_imports_are_all_or_nothing_and_never_count_twice,
    products_are_found_by_sku_in_the_catalog_and_in_history_imports,
    donors_have_their_totals_and_every_donation_a_receipt,
);

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

async fn a_visit_posts_every_line_or_none(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = &s.places.main;

    let saved = ok_visit(
        &app,
        &admin,
        main,
        &[
            (&s.beans, "2"),
            (&s.rice, "1.5"),
            (&s.soup, "1"),
            (&s.beans, "1"),
        ],
        json!({"adults": "2", "children": "1", "client_ref": " card 77 "}),
    )
    .await;
    let id = saved["id"].as_str().unwrap().to_string();
    assert!(
        saved["summary"].as_str().unwrap().starts_with("3 items"),
        "{saved}"
    );
    // The same product twice is one line.
    assert_eq!(on_hand(&app, main, &s.beans).await, 37);
    assert_eq!(on_hand(&app, main, &s.rice).await, 23_500);
    assert_eq!(on_hand(&app, main, &s.soup).await, 19);
    assert_eq!(
        app.count(&format!(
            "select count(*) from movements where visit_id = '{id}' and kind = 'distributed'"
        ))
        .await,
        3
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from visit_lines where visit_id = '{id}'"
        ))
        .await,
        3
    );
    let v = visit(&app, &admin, &id).await;
    assert_eq!(v["client_ref"], "CARD77");
    assert_eq!(v["household"]["adults"], 2);
    assert_eq!(v["lines"].as_array().unwrap().len(), 3);
    assert_eq!(v["status"], "recorded");
    // The visit's event carries no client reference.
    let payload: String =
        sqlx::query_scalar("select payload from events where type = 'VisitRecorded'")
            .fetch_one(app.server.state.db.pool())
            .await
            .unwrap();
    assert!(
        payload.contains(&id) && !payload.contains("CARD77"),
        "{payload}"
    );

    // One short line: nothing at all happens, and the message names it.
    let movements = app.count("select count(*) from movements").await;
    let r = record(
        &app,
        &admin,
        main,
        &[(&s.beans, "1"), (&s.soup, "50")],
        json!({}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(
        r.message().contains("Only 19 of Tomato soup"),
        "{}",
        r.message()
    );
    assert_eq!(on_hand(&app, main, &s.beans).await, 37);
    assert_eq!(app.count("select count(*) from movements").await, movements);
    assert_eq!(app.count("select count(*) from visits").await, 1);

    // Concurrent visits for the last units: stock never goes negative,
    // and each visit is whole or absent.
    let last = product(&app, &admin, &s.places.org, "Last loaf", &[]).await;
    ok_movement(&app, &admin, "receive", main, &last, "3", &[]).await;
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (app_base, admin, main, last, beans) = (app.base.clone(), admin.clone(), main.clone(), last.clone(), s.beans.clone());
            tokio::spawn(async move {
                let body = json!({"visit": {"pantry": main, "lines": [{"product": last, "quantity": "1"}, {"product": beans, "quantity": "1"}]}});
                admin.post(format!("{app_base}/api/record_visit")).json(&body).send().await.unwrap().status()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => {}
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 3);
    assert_eq!(on_hand(&app, main, &last).await, 0);
    assert_eq!(on_hand(&app, main, &s.beans).await, 34);
    app.server.stop().await.ok();
}

async fn corrections_and_voids_post_compensating_movements(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = &s.places.main;
    // Two lots of soup, so a return goes back to the date it left.
    ok_movement(
        &app,
        &admin,
        "receive",
        main,
        &s.soup,
        "5",
        &[("best_before", "2027-06-01")],
    )
    .await;
    let saved = ok_visit(
        &app,
        &admin,
        main,
        &[(&s.beans, "4"), (&s.soup, "6")],
        json!({}),
    )
    .await;
    let id = saved["id"].as_str().unwrap().to_string();
    // Soup went out first expiry first: 5 of 2027-06-01, 1 of 2030-01-01.
    assert_eq!(on_hand(&app, main, &s.soup).await, 19);

    let correct = |version: &str, lines: Vec<(&str, &str)>| {
        let body = json!({
            "id": id, "version": version,
            "lines": lines.iter().map(|(p, q)| json!({"product": p, "quantity": q})).collect::<Vec<_>>(),
        });
        let (app, admin) = (&app, &admin);
        async move { app.call_json(admin, "correct_visit", &body).await }
    };
    // Fewer beans, less soup, and rice added.
    let r = correct("1", vec![(&s.beans, "1"), (&s.soup, "2"), (&s.rice, "2")]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, main, &s.beans).await, 39);
    assert_eq!(on_hand(&app, main, &s.soup).await, 23);
    assert_eq!(on_hand(&app, main, &s.rice).await, 23_000);
    // The latest date comes back first: 1 to 2030, then 3 to 2027.
    let lots: Vec<(Option<String>, i64)> = sqlx::query_as(&format!(
        "select best_before, quantity from lots where pantry_id = '{main}' and product_id = '{}' order by best_before",
        s.soup
    ))
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        lots,
        vec![
            (Some("2027-06-01".into()), 3),
            (Some("2030-01-01".into()), 20)
        ]
    );
    // Nothing was deleted: the original lines and the compensations are
    // all in the ledger, and sum to the visit's lines now.
    let net: i64 = app.count(&format!("select cast(-sum(quantity) as bigint) from movements where visit_id = '{id}' and product_id = '{}'", s.soup)).await;
    assert_eq!(net, 2);
    assert!(
        app.count(&format!(
            "select count(*) from movements where visit_id = '{id}'"
        ))
        .await
            >= 5
    );
    let v = visit(&app, &admin, &id).await;
    assert_eq!(v["version"], 2);
    assert!(v["corrected_at"].is_string());

    // A stale version loses, and changes nothing.
    let before = app.count("select count(*) from movements").await;
    let r = correct("1", vec![(&s.beans, "3")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(
        r.message().contains("Someone changed this visit"),
        "{}",
        r.message()
    );
    assert_eq!(app.count("select count(*) from movements").await, before);
    // No change, or no lines, is refused.
    let r = correct("2", vec![(&s.beans, "1"), (&s.soup, "2"), (&s.rice, "2")]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lines"),
        "{:?}",
        r.body
    );
    let r = correct("2", vec![]).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lines"),
        "{:?}",
        r.body
    );
    assert!(r.message().contains("void"), "{}", r.message());

    // A void needs a reason, then puts everything back.
    let r = app
        .call(&admin, "void_visit", &[("id", &id), ("version", "2")])
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "reason"),
        "{:?}",
        r.body
    );
    let r = app
        .call(
            &admin,
            "void_visit",
            &[("id", &id), ("version", "2"), ("reason", "Entered twice")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, main, &s.beans).await, 40);
    assert_eq!(on_hand(&app, main, &s.soup).await, 25);
    assert_eq!(on_hand(&app, main, &s.rice).await, 25_000);
    assert_eq!(app.count(&format!("select cast(coalesce(sum(quantity), 0) as bigint) from movements where visit_id = '{id}'")).await, 0);
    let v = visit(&app, &admin, &id).await;
    assert_eq!(v["status"], "voided");
    assert_eq!(v["void_reason"], "Entered twice");
    assert!(v["lines"].as_array().unwrap().is_empty());
    assert!(v["movements"].as_array().unwrap().len() >= 7);
    let r = app
        .call(
            &admin,
            "void_visit",
            &[("id", &id), ("version", "3"), ("reason", "again")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let r = correct("3", vec![(&s.beans, "1")]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    for t in ["VisitRecorded", "VisitCorrected", "VisitVoided"] {
        assert_eq!(
            app.count(&format!("select count(*) from events where type = '{t}'"))
                .await,
            1,
            "{t}"
        );
    }
    app.server.stop().await.ok();
}

async fn visit_rules_warn_but_never_block(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = &s.places.main;
    let staff = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{main}"),
        )
        .await;

    // Without a rule, nothing to say.
    ok_visit(
        &app,
        &staff,
        main,
        &[(&s.beans, "1")],
        json!({"client_ref": "K-1"}),
    )
    .await;
    let r = app
        .call(
            &staff,
            "visit_rule_warning",
            &[("pantry", main), ("client_ref", "k-1")],
        )
        .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, Value::Null));

    // Staff cannot set the rule; a manager-level admin can, within 1..365.
    let r = app
        .call(&staff, "set_visit_rule", &[("pantry", main), ("days", "7")])
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    for bad in ["0", "400", "weekly"] {
        let r = app
            .call(&admin, "set_visit_rule", &[("pantry", main), ("days", bad)])
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, "days"),
            "{bad}"
        );
    }
    let r = app
        .call(&admin, "set_visit_rule", &[("pantry", main), ("days", "7")])
        .await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!(7)));

    let r = app
        .call(
            &staff,
            "visit_rule_warning",
            &[("pantry", main), ("client_ref", " k-1 ")],
        )
        .await;
    assert!(
        r.body
            .as_str()
            .unwrap_or("")
            .contains("one visit every 7 days"),
        "{:?}",
        r.body
    );
    let other = app
        .call(
            &staff,
            "visit_rule_warning",
            &[("pantry", main), ("client_ref", "K-2")],
        )
        .await;
    assert_eq!(other.body, Value::Null);
    // The visit is saved anyway, with the warning kept on it.
    let saved = ok_visit(
        &app,
        &staff,
        main,
        &[(&s.beans, "1")],
        json!({"client_ref": "k-1"}),
    )
    .await;
    let warning = saved["rule_warning"].as_str().unwrap().to_string();
    assert!(warning.contains("earlier today"), "{warning}");
    let v = visit(&app, &staff, saved["id"].as_str().unwrap()).await;
    assert_eq!(v["rule_warning"].as_str(), Some(warning.as_str()));
    // Visits at another pantry do not count against this one.
    ok_movement(
        &app,
        &admin,
        "receive",
        &s.places.library,
        &s.beans,
        "5",
        &[],
    )
    .await;
    let elsewhere = ok_visit(
        &app,
        &admin,
        &s.places.library,
        &[(&s.beans, "1")],
        json!({"client_ref": "K-1"}),
    )
    .await;
    assert_eq!(elsewhere["rule_warning"], Value::Null);
    // A voided visit does not count either.
    let mut ids = Vec::new();
    for v in app.call(&admin, "visits", &[("pantry", main)]).await.body["rows"]
        .as_array()
        .unwrap()
    {
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    assert_eq!(ids.len(), 2);
    for id in &ids {
        let version = visit(&app, &admin, id).await["version"].to_string();
        let r = app
            .call(
                &admin,
                "void_visit",
                &[("id", id), ("version", &version), ("reason", "test")],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let r = app
        .call(
            &staff,
            "visit_rule_warning",
            &[("pantry", main), ("client_ref", "K-1")],
        )
        .await;
    assert_eq!(r.body, Value::Null);
    app.server.stop().await.ok();
}

async fn bad_visits_are_refused_with_the_field_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = &s.places.main;
    let movements = app.count("select count(*) from movements").await;
    let cases: Vec<(Vec<(&str, &str)>, Value, &str)> = vec![
        (vec![], json!({}), "lines"),
        (vec![(&s.beans, "0")], json!({}), "lines"),
        (vec![(&s.beans, "-2")], json!({}), "lines"),
        (vec![(&s.beans, "1.5")], json!({}), "lines"),
        (vec![(&s.rice, "1.0005")], json!({}), "lines"),
        (vec![(&s.beans, "1")], json!({"adults": "-1"}), "adults"),
        (
            vec![(&s.beans, "1")],
            json!({"children": "100"}),
            "children",
        ),
        (vec![(&s.beans, "1")], json!({"seniors": "two"}), "seniors"),
        (
            vec![(&s.beans, "1")],
            json!({"client_ref": "Jane Doe's card"}),
            "client_ref",
        ),
        (
            vec![(&s.beans, "1")],
            json!({"note": "x".repeat(501)}),
            "note",
        ),
    ];
    for (lines, extra, field) in cases {
        let r = record(&app, &admin, main, &lines, extra.clone()).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{lines:?} {extra}: {:?}",
            r.body
        );
        assert!(!r.message().is_empty());
    }
    // A product of another organization is not in this catalog.
    let other_org = app
        .create(&admin, "create_organization", &[("name", "Other College")])
        .await;
    let foreign = product(&app, &admin, &other_org, "Foreign beans", &[]).await;
    let r = record(&app, &admin, main, &[(&foreign, "1")], json!({})).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "lines"),
        "{:?}",
        r.body
    );
    // A malformed id never reaches the database.
    let r = record(&app, &admin, main, &[("not-an-id", "1")], json!({})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // A viewer cannot record visits; a stranger cannot see the pantry.
    let viewer = app
        .join(
            &admin,
            "val@college.example",
            "viewer",
            &format!("pantry:{main}"),
        )
        .await;
    let r = record(&app, &viewer, main, &[(&s.beans, "1")], json!({})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let stranger = client();
    let r = record(&app, &stranger, main, &[(&s.beans, "1")], json!({})).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{:?}", r.body);
    assert_eq!(app.count("select count(*) from movements").await, movements);
    assert_eq!(app.count("select count(*) from visits").await, 0);
    assert_eq!(on_hand(&app, main, &s.beans).await, 40);
    app.server.stop().await.ok();
}

// ------------------------------------------------------------ the report

const DAY: i64 = 86_400_000;

fn noon(date: &str) -> i64 {
    let d = time::Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    d.midnight().assume_utc().unix_timestamp() * 1000 + DAY / 2
}

/// The first day of the period `ms` falls in, computed with the `time`
/// crate's calendar (the report uses day numbers of its own).
fn bucket(ms: i64, group: &str) -> time::Date {
    let d = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap()
        .date();
    match group {
        "day" => d,
        "week" => d - time::Duration::days(d.weekday().number_days_from_monday() as i64),
        _ => d.replace_day(1).unwrap(),
    }
}

#[derive(Default, Debug, PartialEq)]
struct Expected {
    visits: i64,
    households: i64,
    individuals: i64,
    items: i64,
    weight_g: i64,
}

async fn report_totals_equal_sums_computed_from_the_movements(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = s.places.main.clone();
    let pool = app.server.state.db.pool().clone();

    // Visits spread over two months; moved back in time after recording.
    let visit_at = |id: String, date: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("update visits set occurred_at = $1 where id = $2")
                .bind(noon(date))
                .bind(&id)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("update movements set occurred_at = $1 where visit_id = $2")
                .bind(noon(date))
                .bind(&id)
                .execute(&pool)
                .await
                .unwrap();
            id
        }
    };
    let v = |b: Value| b["id"].as_str().unwrap().to_string();
    let _v1 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "2"), (&s.rice, "1.5")],
            json!({"client_ref": "A1", "adults": "2", "children": "1"}),
        )
        .await),
        "2026-03-02",
    )
    .await;
    let _v2 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "1")],
            json!({"client_ref": "A1", "adults": "2"}),
        )
        .await),
        "2026-03-04",
    )
    .await;
    let _v3 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.rice, "0.5")],
            json!({"seniors": "1"}),
        )
        .await),
        "2026-03-04",
    )
    .await;
    let v4 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "3")],
            json!({"client_ref": "B2"}),
        )
        .await),
        "2026-03-10",
    )
    .await;
    let v5 = visit_at(
        v(ok_visit(&app, &admin, &main, &[(&s.soup, "1")], json!({})).await),
        "2026-04-15",
    )
    .await;
    let _v6 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "1")],
            json!({"client_ref": "A1", "adults": "3"}),
        )
        .await),
        "2026-04-15",
    )
    .await;
    // At the other pantry of the same campus.
    ok_movement(
        &app,
        &admin,
        "receive",
        &s.places.library,
        &s.soup,
        "4",
        &[],
    )
    .await;
    let _v7 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &s.places.library,
            &[(&s.soup, "2")],
            json!({"client_ref": "A1", "adults": "1"}),
        )
        .await),
        "2026-03-03",
    )
    .await;
    // Corrected and voided today; they count on their visits' days.
    let r = app
        .call_json(&admin, "correct_visit", &json!({"id": v4, "version": "1", "lines": [{"product": s.beans, "quantity": "1"}, {"product": s.soup, "quantity": "2"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &admin,
            "void_visit",
            &[("id", &v5), ("version", "1"), ("reason", "Duplicate")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Movements outside visits, moved into the period.
    let at = |m: Value, date: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("update movements set occurred_at = $1 where id = $2")
                .bind(noon(date))
                .bind(m["movement_id"].as_str().unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    at(
        ok_movement(&app, &admin, "distribute", &main, &s.soup, "1", &[]).await,
        "2026-03-10",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.beans,
            "50",
            &[("donor", "City Food Bank"), ("weight_g", "16000")],
        )
        .await,
        "2026-03-02",
    )
    .await;
    at(
        ok_movement(&app, &admin, "receive", &main, &s.rice, "20", &[]).await,
        "2026-03-02",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.soup,
            "12",
            &[("donor", "City Food Bank")],
        )
        .await,
        "2026-04-01",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.soup,
            "30",
            &[("source", "purchase"), ("donor", "Grocer")],
        )
        .await,
        "2026-03-05",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.beans,
            "2",
            &[("reason", "damaged")],
        )
        .await,
        "2026-03-04",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.rice,
            "1",
            &[("reason", "expired")],
        )
        .await,
        "2026-03-10",
    )
    .await;
    // Outside the period: must not count.
    at(
        ok_movement(&app, &admin, "distribute", &main, &s.soup, "1", &[]).await,
        "2026-05-01",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.soup,
            "1",
            &[("reason", "damaged")],
        )
        .await,
        "2026-02-28",
    )
    .await;

    // ---- the expected figures, from the raw rows
    let products: HashMap<String, (String, String, Option<i64>)> =
        sqlx::query("select id, unit, category, unit_weight_g from products")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("id"),
                    (r.get("unit"), r.get("category"), r.get("unit_weight_g")),
                )
            })
            .collect();
    let weight = |p: &str, q: i64| -> i64 {
        let (unit, _, w) = &products[p];
        match unit.as_str() {
            "kg" => q, // grams already
            _ => q * w.unwrap_or(0),
        }
    };
    let items = |p: &str, q: i64| -> i64 {
        if products[p].0 == "each" {
            q
        } else {
            0
        }
    };
    let (from, to) = (noon("2026-03-01") - DAY / 2, noon("2026-04-30") + DAY / 2);
    let visits: Vec<(
        String,
        i64,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        String,
    )> = sqlx::query_as(
        "select pantry_id, occurred_at, client_ref, adults, children, seniors, status from visits",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let visit_times: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("select id, occurred_at from visits")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let movements: Vec<(String, String, String, i64, i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>)> = sqlx::query_as(
        "select pantry_id, product_id, kind, quantity, occurred_at, visit_id, source, donor, weight_g, reason from movements",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    for (scope, pantries) in [
        (format!("pantry:{main}"), vec![main.clone()]),
        (
            format!("campus:{}", s.places.campus),
            vec![main.clone(), s.places.library.clone()],
        ),
        (
            format!("organization:{}", s.places.org),
            vec![main.clone(), s.places.library.clone()],
        ),
    ] {
        for group in ["day", "week", "month"] {
            let r = app
                .call(
                    &admin,
                    "usage_report",
                    &[
                        ("scope", &scope),
                        ("from", "2026-03-01"),
                        ("to", "2026-04-30"),
                        ("group", group),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let report = r.body;
            let text = report.to_string();
            assert!(
                !text.contains("A1") && !text.contains("B2"),
                "client references leak into the report"
            );

            let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
            let mut total = Expected::default();
            let key = |ms: i64| {
                let b = bucket(ms, group).max(time::macros::date!(2026 - 03 - 01));
                format!("{:04}-{:02}-{:02}", b.year(), u8::from(b.month()), b.day())
            };
            // Households and people: per client its latest recorded size.
            let mut per_period: BTreeMap<String, (BTreeMap<String, (i64, Option<i64>)>, i64, i64)> =
                BTreeMap::new();
            let mut whole: (BTreeMap<String, (i64, Option<i64>)>, i64, i64) = Default::default();
            for (pantry, at, client, a, c, se, status) in &visits {
                if !pantries.contains(pantry) || status != "recorded" || *at < from || *at >= to {
                    continue;
                }
                let size = if a.is_none() && c.is_none() && se.is_none() {
                    None
                } else {
                    Some(a.unwrap_or(0) + c.unwrap_or(0) + se.unwrap_or(0))
                };
                expected.entry(key(*at)).or_default().visits += 1;
                total.visits += 1;
                for acc in [per_period.entry(key(*at)).or_default(), &mut whole] {
                    match client {
                        Some(cl) => {
                            let e = acc.0.entry(cl.clone()).or_insert((*at, size));
                            if size.is_some() && (e.1.is_none() || *at >= e.0) {
                                *e = (*at, size);
                            }
                        }
                        None => {
                            acc.1 += 1;
                            acc.2 += size.unwrap_or(0);
                        }
                    }
                }
            }
            for (k, (clients, anon, people)) in &per_period {
                let e = expected.entry(k.clone()).or_default();
                e.households = clients.len() as i64 + anon;
                e.individuals = people + clients.values().filter_map(|v| v.1).sum::<i64>();
            }
            total.households = whole.0.len() as i64 + whole.1;
            total.individuals = whole.2 + whole.0.values().filter_map(|v| v.1).sum::<i64>();
            let mut categories: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            let mut donors: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
            let mut waste: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for (pantry, product, kind, q, at, visit, source, donor, weight_g, reason) in &movements
            {
                if !pantries.contains(pantry) {
                    continue;
                }
                let when = visit.as_ref().map(|v| visit_times[v]).unwrap_or(*at);
                if when < from || when >= to {
                    continue;
                }
                match kind.as_str() {
                    "distributed" => {
                        let e = expected.entry(key(when)).or_default();
                        e.items -= items(product, *q);
                        e.weight_g -= weight(product, *q);
                        total.items -= items(product, *q);
                        total.weight_g -= weight(product, *q);
                        let c = categories.entry(products[product].1.clone()).or_default();
                        c.0 -= items(product, *q);
                        c.1 -= weight(product, *q);
                    }
                    "received" if source.as_deref() == Some("donation") => {
                        let name = donor
                            .clone()
                            .filter(|d| !d.is_empty())
                            .unwrap_or_else(|| "Anonymous".into());
                        let d = donors.entry(name).or_default();
                        d.0 += 1;
                        d.1 += items(product, *q);
                        d.2 += weight_g.unwrap_or_else(|| weight(product, *q));
                    }
                    "discarded" => {
                        let w = waste.entry(reason.clone().unwrap_or_default()).or_default();
                        w.0 -= items(product, *q);
                        w.1 -= weight(product, *q);
                    }
                    _ => {}
                }
            }

            let periods = report["periods"].as_array().unwrap();
            let mut seen = BTreeSet::new();
            for p in periods {
                let start = p["start"].as_str().unwrap().to_string();
                let want = expected
                    .get(&start)
                    .map(|e| (e.visits, e.households, e.individuals, e.items, e.weight_g))
                    .unwrap_or_default();
                let got = (
                    p["visits"].as_i64().unwrap(),
                    p["households"].as_i64().unwrap(),
                    p["individuals"].as_i64().unwrap(),
                    p["items"].as_i64().unwrap(),
                    p["weight_g"].as_i64().unwrap(),
                );
                assert_eq!(got, want, "{scope} by {group}, period {start}");
                seen.insert(start);
            }
            for k in expected.keys() {
                assert!(seen.contains(k), "{scope} by {group}: no period for {k}");
            }
            let t = &report["totals"];
            assert_eq!(
                (
                    t["visits"].as_i64().unwrap(),
                    t["households"].as_i64().unwrap(),
                    t["individuals"].as_i64().unwrap(),
                    t["items"].as_i64().unwrap(),
                    t["weight_g"].as_i64().unwrap()
                ),
                (
                    total.visits,
                    total.households,
                    total.individuals,
                    total.items,
                    total.weight_g
                ),
                "{scope} by {group}: totals"
            );
            let got_categories: BTreeMap<String, (i64, i64)> = report["by_category"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["category"].as_str().unwrap().to_string(),
                        (
                            c["items"].as_i64().unwrap(),
                            c["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            categories.retain(|_, v| *v != (0, 0) || got_categories.is_empty());
            let got_categories: BTreeMap<_, _> = got_categories
                .into_iter()
                .filter(|(_, v)| *v != (0, 0))
                .collect();
            assert_eq!(got_categories, categories, "{scope}: categories");
            let got_donors: BTreeMap<String, (i64, i64, i64)> = report["donations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["donor"].as_str().unwrap().to_string(),
                        (
                            d["donations"].as_i64().unwrap(),
                            d["items"].as_i64().unwrap(),
                            d["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got_donors, donors, "{scope}: donations");
            let got_waste: BTreeMap<String, (i64, i64)> = report["waste"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| {
                    (
                        w["reason"].as_str().unwrap().to_lowercase(),
                        (
                            w["items"].as_i64().unwrap(),
                            w["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got_waste, waste, "{scope}: waste");
        }
    }
    // A sanity anchor on the fixture itself, so the comparison above
    // cannot pass on two empty sides.
    let r = app
        .call(
            &admin,
            "usage_report",
            &[
                ("scope", &format!("campus:{}", s.places.campus)),
                ("from", "2026-03-01"),
                ("to", "2026-04-30"),
                ("group", "month"),
            ],
        )
        .await;
    let t = &r.body["totals"];
    assert_eq!(t["visits"], 6, "v1 v2 v3 v4 v6 v7; v5 voided");
    assert_eq!(t["households"], 3, "A1, B2, and one anonymous");
    assert_eq!(
        t["individuals"], 4,
        "A1's latest size 3, anonymous senior 1, B2 unsized"
    );
    // beans 2+1+1(v4 corrected)+1 = 5, soup v4 2 + lone 1 + library 2 = 5
    assert_eq!(t["items"], 10);

    // The CSV has every table and the whole-period row.
    let (status, csv) = app
        .get(
            &admin,
            &format!(
                "/reports/usage.csv?scope=pantry:{main}&from=2026-03-01&to=2026-04-30&group=week"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "period,start,visits,households,individuals,items,weight_kg",
        "category,items,weight_kg",
        "donor,donations,items,weight_kg",
        "City Food Bank",
        "waste reason",
    ] {
        assert!(csv.contains(needle), "{needle} missing from {csv}");
    }
    // Bad periods are refused with the field.
    for (from, to, field) in [
        ("2026-04-01", "2026-03-01", "to"),
        ("2026-02-30", "2026-03-01", "from"),
        ("2020-01-01", "2026-03-01", "to"),
    ] {
        let r = app
            .call(
                &admin,
                "usage_report",
                &[
                    ("scope", &format!("pantry:{main}")),
                    ("from", from),
                    ("to", to),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{from} {to}"
        );
    }
    let r = app
        .call(
            &admin,
            "usage_report",
            &[
                ("scope", &format!("pantry:{main}")),
                ("from", "2026-03-01"),
                ("to", "2026-03-02"),
                ("group", "year"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "group")
    );
    app.server.stop().await.ok();
}

// ------------------------------------------------------------ history import

async fn import(app: &TestApp, c: &Client, org: &str, params: &str, body: Vec<u8>) -> Reply {
    let res = c
        .post(format!(
            "{}/api/v1/usage/import?organization={org}&{params}",
            app.base
        ))
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Reply {
        status,
        headers,
        body,
    }
}

async fn history_imports_are_all_or_nothing_and_never_count_twice(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let places = build_places(&app, &admin).await;
    let org = places.org.clone();
    let beans = product(
        &app,
        &admin,
        &org,
        "Black beans",
        &[("barcodes", crate::inventory::BEANS_EAN)],
    )
    .await;
    let rice = product(&app, &admin, &org, "Rice", &[("unit", "kg")]).await;
    let rows = || async { app.count("select count(*) from usage_history").await };

    // A good file: product by name or barcode, money, pantry by name.
    let good = format!(
        "date,product,barcode,quantity,unit_price,revenue,pantry\n\
         2025-09-01,Black beans,,3,1.50,4.50,Main Pantry\n\
         2025-09-01,rice,,2.5,,,\n\
         2025-09-02T10:30:00Z,,{},1,$2,\"2.00\",library pantry\n\
         ,,,,,,\n",
        crate::inventory::BEANS_EAN
    );
    let r = import(
        &app,
        &admin,
        &org,
        "name=season.csv",
        good.clone().into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["rows_read"].as_i64(),
            r.body["rows_imported"].as_i64(),
            r.body["rows_bad"].as_i64()
        ),
        (Some("done"), Some(3), Some(3), Some(0))
    );
    assert_eq!(rows().await, 3);
    let stored: Vec<(String, i64, Option<i64>, Option<String>)> = sqlx::query_as(
        "select day, quantity, revenue_cents, pantry_id from usage_history where product_id = $1 order by day",
    )
    .bind(&beans)
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        stored,
        vec![
            ("2025-09-01".into(), 3, Some(450), Some(places.main.clone())),
            (
                "2025-09-02".into(),
                1,
                Some(200),
                Some(places.library.clone())
            ),
        ]
    );
    assert_eq!(
        app.count(&format!(
            "select quantity from usage_history where product_id = '{rice}'"
        ))
        .await,
        2500
    );

    // The same file again adds nothing; so does the same rows with a BOM
    // and CRLF line ends.
    let r = import(&app, &admin, &org, "", good.clone().into_bytes()).await;
    assert_eq!(
        (
            r.body["rows_imported"].as_i64(),
            r.body["rows_duplicate"].as_i64()
        ),
        (Some(0), Some(3)),
        "{:?}",
        r.body
    );
    let crlf = format!("\u{feff}{}", good.replace('\n', "\r\n"));
    let r = import(&app, &admin, &org, "", crlf.into_bytes()).await;
    assert_eq!(
        (
            r.status,
            r.body["rows_imported"].as_i64(),
            r.body["rows_duplicate"].as_i64()
        ),
        (StatusCode::OK, Some(0), Some(3)),
        "{:?}",
        r.body
    );
    assert_eq!(rows().await, 3);
    // A new file with a BOM and CRLF imports.
    let r = import(
        &app,
        &admin,
        &org,
        "",
        b"\xEF\xBB\xBFDate,Product,Qty\r\n2025-10-01,Black beans,4\r\n".to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["rows_imported"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{:?}",
        r.body
    );
    assert_eq!(rows().await, 4);

    // Mixed bad rows: nothing is imported unless asked to skip them, and
    // every bad row is in the error file with its line and reason.
    let mixed = "date,product,quantity,unit_price,pantry\n\
                 2025-11-01,Black beans,1,,\n\
                 2025-11-01,Caviar,1,,\n\
                 11/02/2025,Black beans,1,,\n\
                 2025-11-03,Black beans,-2,,\n\
                 2025-11-03,Black beans,1.5,,\n\
                 2025-11-04,Black beans,1,cheap,\n\
                 2025-11-05,Black beans,1,,Nowhere\n\
                 2025-11-06,Rice,0.25,,\n";
    let r = import(&app, &admin, &org, "", mixed.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(
        (
            r.body["status"].as_str(),
            r.body["rows_bad"].as_i64(),
            r.body["rows_imported"].as_i64()
        ),
        (Some("refused"), Some(6), Some(0))
    );
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .contains("nothing was imported"),
        "{:?}",
        r.body
    );
    assert_eq!(rows().await, 4);
    let errors_url = r.body["errors_url"].as_str().unwrap().to_string();
    let (status, errors) = app.get(&admin, &errors_url).await;
    assert_eq!(status, StatusCode::OK);
    for (line, reason) in [
        (3, "No product named “Caviar”"),
        (4, "is not a date"),
        (5, "negative"),
        (6, "Count whole items"),
        (7, "Unit price"),
        (8, "“Nowhere” is not a pantry"),
    ] {
        assert!(
            errors
                .lines()
                .any(|l| l.starts_with(&format!("{line},")) && l.contains(reason)),
            "line {line} ({reason}) missing from:\n{errors}"
        );
    }
    assert_eq!(errors.lines().count(), 7, "{errors}");
    let r = import(
        &app,
        &admin,
        &org,
        "skip_bad=true",
        mixed.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(
        (
            r.status,
            r.body["rows_imported"].as_i64(),
            r.body["rows_bad"].as_i64()
        ),
        (StatusCode::OK, Some(2), Some(6)),
        "{:?}",
        r.body
    );
    assert_eq!(rows().await, 6);

    // An empty file, and a file without a usable header, import nothing.
    let imports = app.count("select count(*) from usage_imports").await;
    let r = import(&app, &admin, &org, "", Vec::new()).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "file"),
        "{:?}",
        r.body
    );
    assert!(r.message().contains("empty"));
    assert_eq!(
        app.count("select count(*) from usage_imports").await,
        imports
    );
    let r = import(
        &app,
        &admin,
        &org,
        "",
        b"when,what\n2025-01-01,beans\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(
        r.body["message"].as_str().unwrap().contains("header"),
        "{:?}",
        r.body
    );

    // A 10 MB single line: reported (not held in memory), the rest goes on.
    let mut huge = b"date,product,quantity\n".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 10 << 20));
    huge.extend_from_slice(b"\n2025-12-01,Black beans,7\n");
    let r = import(&app, &admin, &org, "", huge.clone()).await;
    assert_eq!(
        (r.status, r.body["rows_bad"].as_i64()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(1)),
        "{:?}",
        r.body
    );
    let (_, errors) = app
        .get(&admin, r.body["errors_url"].as_str().unwrap())
        .await;
    assert!(
        errors.contains("2,\"This row is longer than 4096 bytes.\""),
        "{}",
        &errors[..errors.len().min(300)]
    );
    assert!(errors.len() < 2000, "the error file holds the row clipped");
    let r = import(&app, &admin, &org, "skip_bad=1", huge).await;
    assert_eq!(
        (r.status, r.body["rows_imported"].as_i64()),
        (StatusCode::OK, Some(1)),
        "{:?}",
        r.body
    );
    // And a file that is one 10 MB line, with no header at all.
    let r = import(&app, &admin, &org, "", vec![b'y'; 10 << 20]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(rows().await, 7);

    // Only managers import; the API answers with the history.
    let staff = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("organization:{org}"),
        )
        .await;
    let r = import(
        &app,
        &staff,
        &org,
        "",
        b"date,product,quantity\n2025-01-01,Rice,1\n".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let (status, body) = app
        .get(
            &staff,
            &format!("/api/v1/usage/{beans}?from=2025-01-01&to=2025-12-31"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let days: BTreeMap<String, i64> = v["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["imported"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        days,
        BTreeMap::from([
            ("2025-09-01".into(), 3),
            ("2025-09-02".into(), 1),
            ("2025-10-01".into(), 4),
            ("2025-11-01".into(), 1),
            ("2025-12-01".into(), 7)
        ])
    );
    let (status, body) = app
        .get(
            &staff,
            &format!("/api/v1/usage/summary?organization={org}&from=2025-01-01&to=2025-12-31"),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let totals: BTreeMap<String, i64> = v["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["imported"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        totals,
        BTreeMap::from([("Black beans".into(), 16), ("Rice".into(), 2750)])
    );
    let elsewhere = app
        .create(&admin, "create_organization", &[("name", "Other College")])
        .await;
    let stranger = app
        .join(
            &admin,
            "eve@college.example",
            "viewer",
            &format!("organization:{elsewhere}"),
        )
        .await;
    let (status, _) = app
        .get(
            &stranger,
            &format!("/api/v1/usage/summary?organization={org}"),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.server.stop().await.ok();
}

/// A product's SKU: validated, unique in the organization, found by
/// catalog search, exported with the catalog, and the way a history file
/// from a shop's till names its products.
async fn products_are_found_by_sku_in_the_catalog_and_in_history_imports(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let places = build_places(&app, &admin).await;
    let org = places.org.clone();
    let beans = product(&app, &admin, &org, "Black beans", &[("sku", " BN-425 ")]).await;
    let r = app.call(&admin, "product", &[("id", beans.as_str())]).await;
    assert_eq!(r.body[0]["sku"], "BN-425", "{:?}", r.body);

    // Another product with the same SKU in another case, and a SKU with a
    // space, are refused and make nothing.
    let before = app.count("select count(*) from products").await;
    let r = app
        .call(
            &admin,
            "create_product",
            &[
                ("organization", org.as_str()),
                ("name", "Pinto beans"),
                ("category", "Canned goods"),
                ("sku", "bn-425"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field(), r.message().as_str()),
        (
            StatusCode::CONFLICT,
            "sku",
            "SKU bn-425 already belongs to “Black beans”."
        )
    );
    let r = app
        .call(
            &admin,
            "create_product",
            &[
                ("organization", org.as_str()),
                ("name", "Pinto beans"),
                ("category", "Canned goods"),
                ("sku", "BN 426"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "sku"),
        "{:?}",
        r.body
    );
    assert_eq!(app.count("select count(*) from products").await, before);

    // Search finds it by SKU, whatever the case; the export carries it.
    let r = app
        .call(
            &admin,
            "products",
            &[("organization", org.as_str()), ("q", "bn-425")],
        )
        .await;
    let names: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Black beans"], "{:?}", r.body);
    let (status, csv) = app
        .get(&admin, &format!("/organizations/{org}/catalog.csv"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(csv.starts_with("name,sku,category,"), "{csv}");
    assert!(csv.contains("Black beans,BN-425,"), "{csv}");

    // A catalog file sets SKUs too, and refuses one that is taken.
    let r = app
        .call(
            &admin,
            "import_products",
            &[
                ("organization", org.as_str()),
                ("csv", "name,sku,category,unit\nPinto beans,PB-1,Canned goods,each\nLentils,BN-425,Dry goods,each\n"),
                ("skip_bad", "on"),
            ],
        )
        .await;
    assert_eq!(r.body["created"].as_i64(), Some(1), "{:?}", r.body);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("SKU BN-425 already belongs to “Black beans”"),
        "{:?}",
        r.body
    );
    assert_eq!(
        app.count("select count(*) from products where sku = 'PB-1' and name = 'Pinto beans'")
            .await,
        1
    );

    // History by SKU: an unknown SKU is a bad row with its line.
    let file = "date,sku,quantity\n2025-09-01,bn-425,3\n2025-09-02,NOPE-1,1\n";
    let r = import(&app, &admin, &org, "", file.as_bytes().to_vec()).await;
    assert_eq!(
        (
            r.status,
            r.body["rows_bad"].as_i64(),
            r.body["rows_imported"].as_i64()
        ),
        (StatusCode::UNPROCESSABLE_ENTITY, Some(1), Some(0)),
        "{:?}",
        r.body
    );
    let (_, errors) = app
        .get(&admin, r.body["errors_url"].as_str().unwrap())
        .await;
    assert!(
        errors
            .lines()
            .any(|l| l.starts_with("3,") && l.contains("No product in the catalog has SKU NOPE-1")),
        "{errors}"
    );
    let r = import(
        &app,
        &admin,
        &org,
        "skip_bad=true",
        file.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(r.body["rows_imported"].as_i64(), Some(1), "{:?}", r.body);
    assert_eq!(
        app.count(&format!(
            "select cast(sum(quantity) as bigint) from usage_history where product_id = '{beans}'"
        ))
        .await,
        3
    );
}

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

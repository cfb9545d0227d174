//! Visits at the counter: every line posted or none, corrections and voids
//! as compensating movements, visit rules that warn but never block, bad
//! visits refused with the field named.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

use super::{ok_visit, on_hand, record, stocked, visit};

on_both_databases!(
    a_visit_posts_every_line_or_none,
    corrections_and_voids_post_compensating_movements,
    visit_rules_warn_but_never_block,
    bad_visits_are_refused_with_the_field_and_change_nothing,
);

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

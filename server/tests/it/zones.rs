//! Time zones: each pantry counts its days, and shows its times, in its
//! own zone (or its organization's).

use app::clock::ManualClock;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    an_evening_visit_counts_on_the_pantrys_own_day,
    time_zones_are_checked_and_set_by_managers,
);

/// 2026-11-20 04:30 UTC: 20:30 on the 19th in California, 13:30 on the
/// 20th in Tokyo.
const EVENING_IN_CALIFORNIA: i64 = 1_795_149_000_000;

async fn report(app: &TestApp, c: &Client, scope: &str, day: &str) -> Value {
    let r = app
        .call(
            c,
            "usage_report",
            &[
                ("scope", scope),
                ("from", day),
                ("to", day),
                ("group", "day"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "usage_report: {:?}", r.body);
    r.body["totals"].clone()
}

/// (visits, items) a report counts for one day.
async fn day_totals(app: &TestApp, c: &Client, scope: &str, day: &str) -> (i64, i64) {
    let t = report(app, c, scope, day).await;
    (t["visits"].as_i64().unwrap(), t["items"].as_i64().unwrap())
}

async fn set_zone(app: &TestApp, c: &Client, endpoint: &str, id: &str, zone: &str) -> Reply {
    app.call(c, endpoint, &[("id", id), ("time_zone", zone)])
        .await
}

async fn an_evening_visit_counts_on_the_pantrys_own_day(backend: Backend) {
    let clock = ManualClock::at(EVENING_IN_CALIFORNIA);
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[]).await;
    ok_movement(&app, &admin, "receive", &p.main, &beans, "10", &[]).await;
    ok_movement(&app, &admin, "receive", &p.library, &beans, "10", &[]).await;

    // The organization is in California; the library chose Tokyo.
    let r = set_zone(
        &app,
        &admin,
        "set_organization_time_zone",
        &p.org,
        "america/los_angeles",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = set_zone(
        &app,
        &admin,
        "set_pantry_time_zone",
        &p.library,
        "Asia/Tokyo",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let pantry = app.call(&admin, "pantry", &[("id", &p.main)]).await.body;
    assert_eq!(pantry["pantry"]["time_zone"], Value::Null);
    assert_eq!(pantry["organization_time_zone"], "America/Los_Angeles");

    let visit = json!({ "visit": {
        "pantry": p.main,
        "lines": [{ "product": beans, "quantity": "2" }],
    }});
    let r = app.call_json(&admin, "record_visit", &visit).await;
    assert_eq!(r.status, StatusCode::OK, "record_visit: {:?}", r.body);
    let visit_id = r.body["id"].as_str().unwrap().to_string();
    ok_movement(&app, &admin, "distribute", &p.library, &beans, "1", &[]).await;

    // The visit is on the 19th where it happened, not on the UTC day.
    let main = format!("pantry:{}", p.main);
    assert_eq!(day_totals(&app, &admin, &main, "2026-11-19").await, (1, 2));
    assert_eq!(day_totals(&app, &admin, &main, "2026-11-20").await, (0, 0));
    // Tokyo was already on the 20th.
    let library = format!("pantry:{}", p.library);
    assert_eq!(
        day_totals(&app, &admin, &library, "2026-11-19").await,
        (0, 0)
    );
    assert_eq!(
        day_totals(&app, &admin, &library, "2026-11-20").await,
        (0, 1)
    );
    // The organization's report counts each pantry on its own day.
    let org = format!("organization:{}", p.org);
    assert_eq!(day_totals(&app, &admin, &org, "2026-11-19").await, (1, 2));
    assert_eq!(day_totals(&app, &admin, &org, "2026-11-20").await, (0, 1));

    // The visit's time reads as the pantry's clock did.
    let v = app.call(&admin, "visit", &[("id", &visit_id)]).await;
    assert_eq!(v.status, StatusCode::OK, "{:?}", v.body);
    assert_eq!(v.body["occurred_at"], "2026-11-19 20:30 PST");

    // The daily totals the forecasts will read count local days too.
    drained(&app).await;
    let flows: Vec<(String, String)> = sqlx::query_as(&format!(
        "select pantry_id, day from daily_flows where product_id = '{beans}' and kind = 'distributed' order by day"
    ))
    .fetch_all(app.server.state.db.pool())
    .await
    .unwrap();
    assert_eq!(
        flows,
        vec![
            (p.main.clone(), "2026-11-19".to_string()),
            (p.library.clone(), "2026-11-20".to_string()),
        ]
    );

    // Back to the organization's zone: the library's day moves with it.
    let r = set_zone(&app, &admin, "set_pantry_time_zone", &p.library, "").await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        day_totals(&app, &admin, &library, "2026-11-19").await,
        (0, 1)
    );
}

async fn time_zones_are_checked_and_set_by_managers(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let organization = app.call(&admin, "organization", &[("id", &p.org)]).await;
    assert_eq!(organization.body["organization"]["time_zone"], "UTC");
    for bad in [
        "Mars/Olympus_Mons",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/Paris\u{202e}",
        "",
    ] {
        let r = set_zone(&app, &admin, "set_pantry_time_zone", &p.main, bad).await;
        if bad.is_empty() {
            // Empty means "the organization's" for a pantry...
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            continue;
        }
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
        assert_eq!(r.field(), "time_zone", "{bad}");
        let r = set_zone(&app, &admin, "set_organization_time_zone", &p.org, bad).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {:?}",
            r.body
        );
    }
    // ...but an organization always has one.
    let r = set_zone(&app, &admin, "set_organization_time_zone", &p.org, " ").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    // Nothing was stored by the refusals.
    assert_eq!(
        app.count("select count(*) from pantries where time_zone is not null")
            .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from organizations where time_zone <> 'UTC'")
            .await,
        0
    );

    // Staff work in a pantry; its manager chooses its zone.
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = set_zone(
        &app,
        &staff,
        "set_pantry_time_zone",
        &p.main,
        "Europe/Paris",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    let manager = app
        .join(
            &admin,
            "mg@college.example",
            "manager",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = set_zone(
        &app,
        &manager,
        "set_pantry_time_zone",
        &p.main,
        "Europe/Paris",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = set_zone(
        &app,
        &manager,
        "set_organization_time_zone",
        &p.org,
        "Europe/Paris",
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // Each change is an event.
    assert_eq!(
        app.count("select count(*) from events where type = 'PantryTimeZoneSet'")
            .await,
        2
    );
    // The names to choose from come from the zone database.
    let names = app.call(&staff, "time_zones", &[]).await;
    assert_eq!(names.status, StatusCode::OK);
    let names: Vec<String> = serde_json::from_value(names.body).unwrap();
    assert!(names.len() > 300, "{}", names.len());
    assert!(names.contains(&"America/Chicago".to_string()));
}

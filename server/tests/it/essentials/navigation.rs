//! The navigation follows the pantry and the role; a new organization's
//! checklist ticks off each step.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

on_both_databases!(
    the_navigation_follows_the_pantry_and_the_role,
    a_new_organization_checklist_ticks_off_each_step,
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

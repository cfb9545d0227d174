//! Organizations, campuses and pantries: creating, renaming, archiving,
//! and who sees what.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    names_are_checked_and_duplicates_refused,
    archiving_hides_without_deleting,
    a_pantry_member_sees_only_that_pantry,
    organizations_are_isolated_from_each_other,
    two_identical_creates_at_once_make_one_row,
    place_changes_are_events_that_reach_every_process,
);

/// Organizations, campuses, pantries and memberships write typed events
/// like every other module; another process's caller cache learns of a new
/// membership from them, well before its few seconds of caching run out.
async fn place_changes_are_events_that_reach_every_process(backend: Backend) {
    let app = spawn_app(backend).await;
    let beside = spawn_beside(&app).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let r = app
        .call(
            &admin,
            "rename_pantry",
            &[("id", &p.library), ("name", "Library Annex")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let staff = app
        .join(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let types: Vec<String> = sqlx::query_scalar("select type from events order by seq")
        .fetch_all(app.server.state.db.pool())
        .await
        .unwrap();
    assert_eq!(
        types,
        [
            "OrganizationCreated",
            "MemberJoined",
            "CampusCreated",
            "PantryCreated",
            "PantryCreated",
            "PantryRenamed",
            "MemberJoined"
        ],
    );
    let payload: String =
        sqlx::query_scalar("select payload from events where type = 'PantryRenamed'")
            .fetch_one(app.server.state.db.pool())
            .await
            .unwrap();
    assert!(payload.contains("Library Annex"), "{payload}");

    // The staff member, served by the other process, cannot see the
    // library pantry; its answer is now cached there for a few seconds.
    let stock = |c: &reqwest::Client| {
        let (beside, library, c) = (&beside, p.library.clone(), c.clone());
        async move {
            beside
                .call(&c, "stock", &[("pantry", library.as_str())])
                .await
                .status
        }
    };
    assert_eq!(stock(&staff).await, StatusCode::NOT_FOUND);
    // Invited to it and accepted in the first process…
    let token = app
        .invite(
            &admin,
            "st@college.example",
            "staff",
            &format!("pantry:{}", p.library),
        )
        .await;
    let r = app.call(&staff, "join", &[("token", &token)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // …the other process lets them in as soon as its consumer has read the
    // event, not when its cache would have expired.
    let started = std::time::Instant::now();
    while stock(&staff).await != StatusCode::OK {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the other process still had the old memberships"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

async fn names_are_checked_and_duplicates_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    for (name, message) in [
        ("", "Enter a name for the organization."),
        ("  \t ", "Enter a name for the organization."),
        ("a\u{1}b", "Remove the control characters."),
        ("Pantry1\u{200b} A", "Remove the invisible formatting characters (such as zero-width spaces or direction overrides)."),
    ] {
        let r = app
            .call(&admin, "create_organization", &[("name", name)])
            .await;
        assert_eq!(
            (r.status, r.field(), r.message().as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "name", message)
        );
    }
    let p = build_places(&app, &admin).await;
    let r = app
        .call(&admin, "create_organization", &[("name", "state  COLLEGE")])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        "There is already an organization called “state COLLEGE” on this Larder."
    );
    let r = app
        .call(
            &admin,
            "create_campus",
            &[("organization", &p.org), ("name", "north campus")],
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, "name"));
    let r = app
        .call(
            &admin,
            "create_pantry",
            &[("campus", &p.campus), ("name", "MAIN pantry")],
        )
        .await;
    assert_eq!(
        r.message(),
        "There is already a pantry called “MAIN pantry” on this campus."
    );
    let r = app
        .call(
            &admin,
            "rename_pantry",
            &[("id", &p.library), ("name", "Main Pantry")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A pantry of the same name on another campus is fine.
    let south = app
        .create(
            &admin,
            "create_campus",
            &[("organization", &p.org), ("name", "South Campus")],
        )
        .await;
    app.create(
        &admin,
        "create_pantry",
        &[("campus", &south), ("name", "Main Pantry")],
    )
    .await;

    // Renames apply, and renaming to the same name in other case is allowed.
    let r = app
        .call(
            &admin,
            "rename_pantry",
            &[("id", &p.library), ("name", "  Library   Annex ")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &admin,
            "rename_campus",
            &[("id", &p.campus), ("name", "NORTH CAMPUS")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &admin,
            "rename_organization",
            &[("id", &p.org), ("name", "")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let pantry = app.call(&admin, "pantry", &[("id", &p.library)]).await;
    assert_eq!(pantry.body["pantry"]["name"], "Library Annex");
    assert_eq!(pantry.body["campus_name"], "NORTH CAMPUS");
    assert_eq!(pantry.body["organization_name"], "State College");
    assert_eq!(app.count("select count(*) from pantries").await, 3);
}

async fn archiving_hides_without_deleting(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;

    let r = app
        .call(&admin, "archive_campus", &[("id", &p.campus)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        r.message(),
        "North Campus still has 2 active pantries. Archive them first."
    );

    assert_eq!(
        app.call(&admin, "archive_pantry", &[("id", &p.library)])
            .await
            .status,
        StatusCode::OK
    );
    let campus = app.call(&admin, "campus", &[("id", &p.campus)]).await;
    let names: Vec<_> = campus.body["pantries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].clone())
        .collect();
    assert_eq!(names, vec!["Main Pantry"]);
    assert_eq!(
        app.call(&admin, "pantry", &[("id", &p.library)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.call(
            &admin,
            "rename_pantry",
            &[("id", &p.library), ("name", "X")]
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // The name is free again, and the archived row is still there.
    app.create(
        &admin,
        "create_pantry",
        &[("campus", &p.campus), ("name", "Library Pantry")],
    )
    .await;
    assert_eq!(
        app.count("select count(*) from pantries where archived_at is not null")
            .await,
        1
    );

    assert_eq!(
        app.call(&admin, "archive_organization", &[("id", &p.org)])
            .await
            .status,
        StatusCode::OK
    );
    let overview = app.call(&admin, "overview", &[]).await;
    assert_eq!(overview.body["organizations"].as_array().unwrap().len(), 0);
    assert_eq!(overview.body["pantries"].as_array().unwrap().len(), 0);
    assert_eq!(
        app.call(&admin, "organization", &[("id", &p.org)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(app.count("select count(*) from organizations").await, 1);
    assert_eq!(app.count("select count(*) from pantries").await, 3);
}

async fn a_pantry_member_sees_only_that_pantry(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let staff = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;

    let overview = app.call(&staff, "overview", &[]).await;
    let pantries: Vec<_> = overview.body["pantries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["pantry"]["id"].clone())
        .collect();
    assert_eq!(pantries, vec![serde_json::Value::String(p.main.clone())]);
    assert_eq!(overview.body["can_create_organization"], false);

    let main = app.call(&staff, "pantry", &[("id", &p.main)]).await;
    assert_eq!(main.status, StatusCode::OK);
    assert_eq!(main.body["abilities"]["manage"], false);
    assert_eq!(
        main.body["people"].as_array().unwrap().len(),
        0,
        "staff do not see the member list"
    );

    let other = app.call(&staff, "pantry", &[("id", &p.library)]).await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
    assert_eq!(
        other.message(),
        "That pantry does not exist, or you do not have access to it."
    );
    let (status, page) = app.get(&staff, &format!("/pantries/{}", p.library)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("Library Pantry"));

    let campus = app.call(&staff, "campus", &[("id", &p.campus)]).await;
    assert_eq!(campus.body["pantries"].as_array().unwrap().len(), 1);
    let org = app.call(&staff, "organization", &[("id", &p.org)]).await;
    assert_eq!(org.body["campuses"][0]["pantry_count"], 1);
    assert_eq!(org.body["abilities"]["administer"], false);

    for (endpoint, form) in [
        (
            "rename_pantry",
            vec![("id", p.main.as_str()), ("name", "Mine")],
        ),
        ("archive_pantry", vec![("id", p.main.as_str())]),
        (
            "create_pantry",
            vec![("campus", p.campus.as_str()), ("name", "Mine")],
        ),
        (
            "create_campus",
            vec![("organization", p.org.as_str()), ("name", "Mine")],
        ),
        (
            "rename_organization",
            vec![("id", p.org.as_str()), ("name", "Mine")],
        ),
        ("people", vec![("organization", p.org.as_str())]),
        ("create_organization", vec![("name", "Mine")]),
    ] {
        let r = app.call(&staff, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}: {:?}", r.body);
    }
    let scope = format!("pantry:{}", p.main);
    let r = app
        .call(
            &staff,
            "invite",
            &[
                ("email", "x@college.example"),
                ("role", "viewer"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.count("select count(*) from pantries where name = 'Mine'")
            .await,
        0
    );
    assert_eq!(app.count("select count(*) from invitations").await, 1);
}

async fn organizations_are_isolated_from_each_other(backend: Backend) {
    let app = spawn_app(backend).await;
    let site_admin = app.setup_admin().await;
    let first = build_places(&app, &site_admin).await;
    let other_org = app
        .create(
            &site_admin,
            "create_organization",
            &[("name", "City Food Bank")],
        )
        .await;
    let other_admin = app
        .join(
            &site_admin,
            "lee@foodbank.example",
            "admin",
            &format!("organization:{other_org}"),
        )
        .await;

    let own = app
        .call(&other_admin, "organization", &[("id", &other_org)])
        .await;
    assert_eq!(own.body["abilities"]["administer"], true);
    app.create(
        &other_admin,
        "create_campus",
        &[("organization", &other_org), ("name", "Depot")],
    )
    .await;

    for (endpoint, id_field, id) in [
        ("organization", "id", &first.org),
        ("campus", "id", &first.campus),
        ("pantry", "id", &first.main),
        ("people", "organization", &first.org),
    ] {
        let r = app.call(&other_admin, endpoint, &[(id_field, id)]).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{endpoint}: {:?}", r.body);
    }
    let r = app
        .call(
            &other_admin,
            "create_campus",
            &[("organization", &first.org), ("name", "Sneaky")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let scope = format!("campus:{}", first.campus);
    let r = app
        .call(
            &other_admin,
            "invite",
            &[
                ("email", "spy@foodbank.example"),
                ("role", "admin"),
                ("scope", &scope),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let overview = app.call(&other_admin, "overview", &[]).await;
    let names: Vec<_> = overview.body["organizations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].clone())
        .collect();
    assert_eq!(names, vec!["City Food Bank"]);
}

async fn two_identical_creates_at_once_make_one_row(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let form = [("campus", p.campus.as_str()), ("name", "Pop-up Pantry")];
    let calls = (0..8).map(|_| app.call(&admin, "create_pantry", &form));
    let replies = futures::future::join_all(calls).await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let conflicts = replies
        .iter()
        .filter(|r| r.status == StatusCode::CONFLICT)
        .count();
    assert_eq!(
        (ok, conflicts),
        (1, 7),
        "{:?}",
        replies
            .iter()
            .map(|r| (r.status, r.body.clone()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        app.count("select count(*) from pantries where name = 'Pop-up Pantry'")
            .await,
        1
    );
}

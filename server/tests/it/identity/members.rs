//! Admins change roles and remove members; members leave; an organization
//! never loses its last admin.

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    admins_change_roles_and_remove_members_at_once,
    the_last_admin_of_an_organization_stays,
    nobody_else_changes_who_belongs,
);

/// The membership id of `email` on the people page.
async fn membership(app: &TestApp, admin: &Client, org: &str, email: &str) -> String {
    let r = app.call(admin, "people", &[("organization", org)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == email)
        .and_then(|p| p["membership_id"].as_str())
        .unwrap_or_else(|| panic!("{email} is a member: {:?}", r.body))
        .to_string()
}

async fn role_of(app: &TestApp, admin: &Client, org: &str, email: &str) -> Option<String> {
    let r = app.call(admin, "people", &[("organization", org)]).await;
    r.body["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["email"] == email)
        .map(|p| p["role"].as_str().unwrap().to_string())
}

async fn admins_change_roles_and_remove_members_at_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let id = membership(&app, &admin, &p.org, "sam@college.example").await;

    // Staff cannot rename the pantry; promoted to manager, at once they can.
    let rename = [("id", p.main.as_str()), ("name", "Main Street Pantry")];
    assert_eq!(
        app.call(&sam, "rename_pantry", &rename).await.status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &id), ("role", "manager")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        app.call(&sam, "rename_pantry", &rename).await.status,
        StatusCode::OK
    );

    // Down to viewer: the next request is refused.
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &id), ("role", "viewer")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        role_of(&app, &admin, &p.org, "sam@college.example")
            .await
            .as_deref(),
        Some("viewer")
    );
    let again = [("id", p.main.as_str()), ("name", "Main Pantry")];
    assert_eq!(
        app.call(&sam, "rename_pantry", &again).await.status,
        StatusCode::FORBIDDEN
    );

    // A role that is not one: a specific error, nothing changes.
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &id), ("role", "owner")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field(), "role");
    assert!(r.message().contains("not a role"), "{}", r.message());
    assert_eq!(
        role_of(&app, &admin, &p.org, "sam@college.example")
            .await
            .as_deref(),
        Some("viewer")
    );

    // Removed: the pantry is gone for them on their very next request,
    // though their session stays.
    let r = app
        .call(&admin, "remove_member", &[("membership", &id)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        role_of(&app, &admin, &p.org, "sam@college.example").await,
        None
    );
    let r = app.call(&sam, "pantry", &[("id", &p.main)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    assert_eq!(app.call(&sam, "session", &[]).await.status, StatusCode::OK);
    // Removing twice: the membership no longer exists.
    let r = app
        .call(&admin, "remove_member", &[("membership", &id)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Each change is in the event log, with who made it.
    let changes = app
        .count("select count(*) from events where type in ('MemberRoleChanged', 'MemberRemoved') and actor_id is not null")
        .await;
    assert_eq!(changes, 3);

    // A member leaves an organization: every membership in it ends.
    let lee = app
        .join(
            &admin,
            "lee@college.example",
            "staff",
            &format!("campus:{}", p.campus),
        )
        .await;
    let token = app
        .invite(
            &admin,
            "lee@college.example",
            "viewer",
            &format!("organization:{}", p.org),
        )
        .await;
    assert_eq!(
        app.call(&lee, "join", &[("token", &token)]).await.status,
        StatusCode::OK
    );
    let r = app
        .call(&lee, "leave_organization", &[("organization", &p.org)])
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let left = app
        .count("select count(*) from memberships m join users u on u.id = m.user_id where u.email = 'lee@college.example'")
        .await;
    assert_eq!(left, 0);
    assert_eq!(
        app.call(&lee, "organization", &[("id", &p.org)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn the_last_admin_of_an_organization_stays(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let own = membership(&app, &admin, &p.org, "ada@college.example").await;

    for (endpoint, form) in [
        (
            "change_member_role",
            vec![("membership", own.as_str()), ("role", "manager")],
        ),
        ("remove_member", vec![("membership", own.as_str())]),
        ("leave_organization", vec![("organization", p.org.as_str())]),
    ] {
        let r = app.call(&admin, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::CONFLICT, "{endpoint}: {:?}", r.body);
        assert!(
            r.message().contains("last admin"),
            "{endpoint}: {}",
            r.message()
        );
    }
    assert_eq!(
        role_of(&app, &admin, &p.org, "ada@college.example")
            .await
            .as_deref(),
        Some("admin")
    );

    // A campus admin is not an organization admin: they do not count.
    app.join(
        &admin,
        "cam@college.example",
        "admin",
        &format!("campus:{}", p.campus),
    )
    .await;
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &own), ("role", "manager")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // With a second organization admin, the first may step down; then the
    // second is the last one, and the first can no longer change roles.
    let bea = app
        .join(
            &admin,
            "bea@college.example",
            "admin",
            &format!("organization:{}", p.org),
        )
        .await;
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &own), ("role", "manager")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let bea_id = membership(&app, &bea, &p.org, "bea@college.example").await;
    let r = app
        .call(&bea, "remove_member", &[("membership", &bea_id)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .call(
            &admin,
            "change_member_role",
            &[("membership", &own), ("role", "admin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{:?}", r.body);
    // A disabled admin cannot sign in, so does not count as the one that stays.
    let ada_again = app
        .call(
            &bea,
            "change_member_role",
            &[("membership", &own), ("role", "admin")],
        )
        .await;
    assert_eq!(ada_again.status, StatusCode::OK);
    app.sql("update users set disabled_at = 1 where email = 'ada@college.example'")
        .await;
    let r = app
        .call(&bea, "leave_organization", &[("organization", &p.org)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    let admins = app
        .count(&format!(
            "select count(*) from memberships where organization_id = '{}' and scope_kind = 'organization' and role = 'admin'",
            p.org
        ))
        .await;
    assert_eq!(admins, 2);
}

async fn nobody_else_changes_who_belongs(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let manager = app
        .join(
            &admin,
            "max@college.example",
            "manager",
            &format!("organization:{}", p.org),
        )
        .await;
    let own = membership(&app, &admin, &p.org, "ada@college.example").await;
    // A manager of the whole organization is not an admin of it.
    for (endpoint, form) in [
        (
            "change_member_role",
            vec![("membership", own.as_str()), ("role", "viewer")],
        ),
        ("remove_member", vec![("membership", own.as_str())]),
    ] {
        let r = app.call(&manager, endpoint, &form).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{endpoint}: {:?}", r.body);
    }
    // The admin of another organization cannot even see the membership.
    let other_org = app
        .create(&admin, "create_organization", &[("name", "Other Bank")])
        .await;
    let other = app
        .join(
            &admin,
            "oli@other.example",
            "admin",
            &format!("organization:{other_org}"),
        )
        .await;
    let r: Value = app
        .call(
            &other,
            "change_member_role",
            &[("membership", &own), ("role", "viewer")],
        )
        .await
        .body;
    assert_eq!(r["kind"], "not_found", "{r:?}");
    let r = app
        .call(&other, "leave_organization", &[("organization", &p.org)])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        role_of(&app, &admin, &p.org, "ada@college.example")
            .await
            .as_deref(),
        Some("admin")
    );
}

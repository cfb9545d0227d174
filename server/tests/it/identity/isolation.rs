//! The tenant-isolation matrix, generated from the route lists so a new
//! route cannot be forgotten: every server function, every page and every
//! `/api/v1` operation, called by people of another organization (one per
//! role, and an API key) with the ids of a victim organization's places and
//! records. None may answer with the victim's data or change anything; the
//! API answers 403 or 404; every HTML page carries the security headers.

use std::collections::BTreeMap;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::{ok_movement, product};

/// Server functions about the caller's own account and session: they
/// touch nothing of anyone else's, and calling them would sign the stranger
/// out or rename them mid-matrix. Each is tested in `account.rs`.
const OWN_ACCOUNT: &[&str] = &[
    "/api/sign_out",
    "/api/sign_out_elsewhere",
    "/api/setup",
    "/api/rename_me",
    "/api/save_profile",
    "/api/mark_home_read",
];

/// What the victim's data looks like: a response carrying any of these
/// leaked it.
const SECRETS: &[&str] = &[
    "Victim College",
    "Victim Campus",
    "Victim Pantry",
    "Victim Rice",
    "Victim Supplies",
    "ada@college.example",
    "Victim news for members",
    "A victim's comment",
];

/// Everything that must not change, as one string.
async fn fingerprint(app: &TestApp) -> String {
    let mut out = String::new();
    for table in [
        "organizations",
        "campuses",
        "pantries",
        "products",
        "memberships",
        "invitations",
        "api_keys",
        "movements",
        "lots",
        "visits",
        "donations",
        "events",
        "password_resets",
        "users",
        "suppliers",
        "supplier_items",
        "purchase_orders",
        "purchase_order_lines",
        "supplier_feeds",
        "supplier_syncs",
        "stock_issues",
        "notifications",
        "posts",
        "comments",
        "likes",
        "follows",
        "blocks",
        "post_reports",
        "timeline_settings",
        "timeline_entries",
        "profiles",
        "community_photos",
        "post_photos",
    ] {
        out.push_str(&format!(
            "{table}={} ",
            app.count(&format!("select count(*) from {table}")).await
        ));
    }
    for q in [
        "select coalesce(sum(on_hand), 0) from stock_levels",
        "select count(*) from api_keys where revoked_at is not null",
        "select count(*) from invitations where revoked_at is not null",
        "select count(*) from memberships where role = 'admin'",
        "select count(*) from organizations where archived_at is not null",
        "select count(*) from pantries where archived_at is not null",
        "select count(*) from users where disabled_at is not null",
        "select count(*) from purchase_orders where status = 'draft'",
        "select coalesce(sum(packs), 0) from purchase_order_lines",
        "select count(*) from stock_issues where status = 'open'",
        "select count(*) from supplier_feeds where url = 'https://victim-supplies.example/catalog.csv' and schedule = '0 2 * * *'",
        "select count(*) from suppliers where archived_at is not null",
    ] {
        out.push_str(&format!("{}; ", app.count(q).await));
    }
    for q in [
        "select name from organizations",
        "select name from pantries",
        "select name from products",
        "select display_name from users",
    ] {
        let mut names: Vec<String> = sqlx::query_scalar(q)
            .fetch_all(app.server.state.db.pool())
            .await
            .unwrap();
        names.sort();
        out.push_str(&names.join(","));
    }
    out
}

fn leaked(body: &str) -> Option<&'static str> {
    SECRETS.iter().copied().find(|s| body.contains(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_lets_another_organization_in() {
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("LARDER_RATE_LIMIT_PER_KEY", "0"),
            ("LARDER_RATE_LIMIT_PER_ADDRESS", "0"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    // The victim: an organization with a bit of everything.
    let org = app
        .create(&admin, "create_organization", &[("name", "Victim College")])
        .await;
    let campus = app
        .create(
            &admin,
            "create_campus",
            &[("organization", &org), ("name", "Victim Campus")],
        )
        .await;
    let pantry = app
        .create(
            &admin,
            "create_pantry",
            &[("campus", &campus), ("name", "Victim Pantry")],
        )
        .await;
    let rice = product(&app, &admin, &org, "Victim Rice", &[]).await;
    let moved = ok_movement(
        &app,
        &admin,
        "receive",
        &pantry,
        &rice,
        "9",
        &[("best_before", "2027-03-01")],
    )
    .await;
    let visit = app
        .call_json(&admin, "record_visit", &serde_json::json!({"visit": {"pantry": pantry, "lines": [{"product": rice, "quantity": "1"}]}}))
        .await;
    let sam = app
        .join(
            &admin,
            "sam@victim.example",
            "staff",
            &format!("pantry:{pantry}"),
        )
        .await;
    let _ = sam;
    let people = app.call(&admin, "people", &[("organization", &org)]).await;
    let membership = people.body["people"][0]["membership_id"]
        .as_str()
        .unwrap()
        .to_string();
    let invitation = {
        app.invite(
            &admin,
            "pending@victim.example",
            "viewer",
            &format!("pantry:{pantry}"),
        )
        .await;
        let r = app.call(&admin, "people", &[("organization", &org)]).await;
        r.body["invitations"][0]["id"].as_str().unwrap().to_string()
    };
    let key = app
        .call(
            &admin,
            "create_api_key",
            &[
                ("scope", &format!("organization:{org}")),
                ("name", "Victim till"),
                ("access", "read"),
            ],
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    // What the victim buys: a supplier, its item, a draft order.
    let supplier = app
        .create(
            &admin,
            "save_supplier",
            &[("organization", &org), ("name", "Victim Supplies")],
        )
        .await;
    let item = app
        .create(
            &admin,
            "save_supplier_item",
            &[
                ("supplier", &supplier),
                ("sku", "V-1"),
                ("product", &rice),
                ("pack_size", "6"),
            ],
        )
        .await;
    // Its catalog address (nothing is fetched unless someone syncs it).
    let r = app
        .call(
            &admin,
            "save_supplier_feed",
            &[
                ("supplier", &supplier),
                ("url", "https://victim-supplies.example/catalog.csv"),
                ("schedule", "0 2 * * *"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let order = app
        .create(
            &admin,
            "create_purchase_order",
            &[("pantry", &pantry), ("supplier", &supplier)],
        )
        .await;
    let r = app
        .call(
            &admin,
            "set_order_line",
            &[("order", &order), ("item", &item), ("packs", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // A stock issue of the victim's (written directly: raising one takes
    // a forecast, which stock_issues.rs makes), once the analyser has seen
    // everything so far (it would resolve an issue it cannot find again).
    crate::inventory::drained(&app).await;
    let issue = "01a2473f-0000-7000-8000-00000000c0de".to_string();
    app.sql(&format!(
        "insert into stock_issues (id, organization_id, pantry_id, product_id, kind, severity, issue_key, open_key, \
         status, title, explanation, numbers, proposal, raised_at, updated_at) values \
         ('{issue}', '{org}', '{pantry}', '{rice}', 'reorder', 'warning', 'supply:{pantry}:{rice}', 'supply:{pantry}:{rice}', \
         'open', 'Victim Rice is low', 'Victim Rice is low', '[]', '{{\"kind\":\"acknowledge\"}}', 1, 1)"
    ))
    .await;
    // A post on the pantry's timeline (its organization's only), with a
    // photo and a comment.
    let photo: Value = admin
        .post(format!("{}/community/photos", app.base))
        .header("content-type", "image/jpeg")
        .body(crate::photos::photo(640, 480, &[]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let photo = photo["id"].as_str().expect("a photo").to_string();
    let post = app
        .create(
            &admin,
            "publish_post",
            &[
                ("pantry", &pantry),
                ("kind", "announcement"),
                ("body", "Victim news for members"),
                ("event_on", ""),
                ("photos", &photo),
            ],
        )
        .await;
    let comment = app
        .create(
            &admin,
            "add_comment",
            &[("post", &post), ("body", "A victim's comment")],
        )
        .await;
    let victim_person: String =
        sqlx::query_scalar("select id from users where email = 'sam@victim.example'")
            .fetch_one(app.server.state.db.pool())
            .await
            .unwrap();
    let ids: BTreeMap<&str, String> = [
        ("organization", org.clone()),
        ("campus", campus.clone()),
        ("pantry", pantry.clone()),
        ("product", rice.clone()),
        (
            "movement",
            moved["movement_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        (
            "visit",
            visit.body["id"].as_str().expect("a visit").to_string(),
        ),
        ("membership", membership),
        ("invitation", invitation),
        ("api_key", key),
        ("supplier", supplier),
        ("supplier_item", item),
        ("order", order),
        ("issue", issue),
        ("post", post.clone()),
        ("comment", comment.clone()),
        ("person", victim_person.clone()),
    ]
    .into_iter()
    .collect();

    // The strangers: each role at another organization, and its API keys.
    let other = app
        .create(&admin, "create_organization", &[("name", "Other Bank")])
        .await;
    let mut strangers: Vec<(String, Client)> = Vec::new();
    for role in ["admin", "manager", "staff", "viewer"] {
        let c = app
            .join(
                &admin,
                &format!("{role}@other.example"),
                role,
                &format!("organization:{other}"),
            )
            .await;
        strangers.push((role.to_string(), c));
    }
    let other_key = app
        .call(
            &strangers[0].1,
            "create_api_key",
            &[
                ("scope", &format!("organization:{other}")),
                ("name", "Other till"),
                ("access", "read_write"),
            ],
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_string();
    let before = fingerprint(&app).await;

    // Every server function, with every kind of victim id in every id slot.
    let functions = server::server_function_paths();
    assert!(
        functions.len() > 60,
        "the list is the real one: {}",
        functions.len()
    );
    let mut calls = 0;
    for path in &functions {
        if OWN_ACCOUNT.contains(&path.as_str()) {
            continue;
        }
        let endpoint = path.trim_start_matches("/api/");
        for (role, c) in &strangers {
            for (kind, id) in &ids {
                let scope = format!("{kind}:{id}");
                let form: Vec<(&str, &str)> = vec![
                    ("id", id.as_str()),
                    ("organization", &org),
                    ("campus", &campus),
                    ("pantry", &pantry),
                    ("product", &rice),
                    ("visit", &ids["visit"]),
                    ("membership", &ids["membership"]),
                    ("scope", &scope),
                    ("name", "Renamed by a stranger"),
                    ("role", "admin"),
                    ("quantity", "1"),
                    ("email", "stranger@other.example"),
                    ("access", "read_write"),
                    ("organization_id", &org),
                    ("pantry_id", &pantry),
                    ("product_id", &rice),
                    ("supplier", &ids["supplier"]),
                    ("item", &ids["supplier_item"]),
                    ("order", &ids["order"]),
                    ("packs", "5"),
                    ("issue", &ids["issue"]),
                    ("reason", "A stranger's reason"),
                    ("post", &ids["post"]),
                    ("comment", &ids["comment"]),
                    ("parent", &ids["comment"]),
                    ("target", id.as_str()),
                    ("person", &ids["person"]),
                    ("follower", &ids["person"]),
                    ("body", "A stranger's words"),
                    ("kind", "announcement"),
                    ("event_on", ""),
                    ("cursor", ""),
                    ("on", "true"),
                    ("accept", "true"),
                    ("visibility", "signed_in"),
                    ("bio", ""),
                    ("photos", &photo),
                    ("photo", &photo),
                ];
                let r = app.call(c, endpoint, &form).await;
                calls += 1;
                let body = r.body.to_string();
                assert!(
                    r.status.as_u16() != 500,
                    "{path} as {role} with a victim {kind} id: server error {body}"
                );
                if let Some(secret) = leaked(&body) {
                    panic!(
                        "{path} as {role} with a victim {kind} id leaked “{secret}”: {} {body}",
                        r.status
                    );
                }
            }
        }
    }
    assert_eq!(
        fingerprint(&app).await,
        before,
        "a stranger changed something through a server function"
    );

    // The post's photo, asked for by its address.
    for (role, c) in &strangers {
        for file in ["thumbnail.jpg", "photo"] {
            let (status, _) = app
                .get(c, &format!("/community/photos/{photo}/{file}"))
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "the victim's {file} as {role}"
            );
        }
    }

    // Every page, with the victim's ids in its parameters.
    let mut pages = 0;
    for pattern in server::page_paths() {
        for (kind, id) in &ids {
            let path: String = pattern
                .split('/')
                .map(|seg| {
                    if seg.starts_with(':') {
                        id.as_str()
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            for (role, c) in &strangers {
                let res = c.get(format!("{}{path}", app.base)).send().await.unwrap();
                let headers = res.headers().clone();
                let status = res.status();
                let body = res.text().await.unwrap();
                pages += 1;
                assert_ne!(
                    status,
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "{path} as {role}"
                );
                if let Some(secret) = leaked(&body) {
                    panic!("page {path} ({pattern} with a victim {kind} id) as {role} shows “{secret}”");
                }
                if headers
                    .get("content-type")
                    .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"))
                {
                    let csp = headers
                        .get("content-security-policy")
                        .map(|v| v.to_str().unwrap().to_string())
                        .unwrap_or_default();
                    assert!(
                        csp.contains("default-src 'self'")
                            && csp.contains("frame-ancestors 'none'"),
                        "{path}: CSP {csp:?}"
                    );
                    for h in [
                        "x-content-type-options",
                        "x-frame-options",
                        "referrer-policy",
                    ] {
                        assert!(headers.contains_key(h), "{path}: no {h}");
                    }
                }
            }
        }
    }
    assert!(pages > 100, "{pages} page loads");

    // Every API operation, with a stranger's read-write key and session.
    let doc: Value = client()
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut operations = 0;
    for (pattern, item) in doc["paths"].as_object().unwrap() {
        let path = pattern
            .replace("{organization_id}", &org)
            .replace("{pantry_id}", &pantry);
        for method in ["get", "post"] {
            if item[method].is_null() {
                continue;
            }
            operations += 1;
            // A body every write takes (a movement, a visit), so a refusal
            // is about the place and not about the body.
            let body = serde_json::json!({
                "product_id": rice, "kind": "distributed", "quantity": 1,
                "lines": [{"product_id": rice, "quantity": 1}],
            });
            let with_key = client()
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{path}", app.base),
                )
                .bearer_auth(&other_key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let with_session = strangers[0]
                .1
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{}{path}", app.base),
                )
                .json(&body)
                .send()
                .await
                .unwrap();
            for res in [with_key, with_session] {
                let status = res.status();
                let text = res.text().await.unwrap();
                if pattern.contains('{') {
                    assert!(
                        matches!(status, StatusCode::FORBIDDEN | StatusCode::NOT_FOUND),
                        "{method} {pattern}: {status} {text}"
                    );
                }
                assert!(leaked(&text).is_none(), "{method} {pattern} leaked: {text}");
            }
        }
    }
    assert!(operations >= 4);
    assert_eq!(
        fingerprint(&app).await,
        before,
        "a stranger changed something"
    );
    eprintln!("isolation matrix: {calls} server function calls, {pages} page loads, {operations} API operations");
}

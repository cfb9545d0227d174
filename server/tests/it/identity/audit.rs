//! The audit log: who did what, when, where, from which address; filtered,
//! as CSV, for the organization's admins only.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::inventory::{ok_movement, product};
use crate::on_both_databases;

on_both_databases!(the_audit_log_tells_who_did_what_for_admins_only);

async fn the_audit_log_tells_who_did_what_for_admins_only(backend: Backend) {
    // Loopback is a trusted proxy here, so a request can say which client
    // it carries, as one behind the college's load balancer would.
    let app = spawn_with(backend, &[("LARDER_TRUSTED_PROXIES", "127.0.0.1/32")]).await;
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
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    ok_movement(
        &app,
        &sam,
        "receive",
        &p.main,
        &rice,
        "5",
        &[("best_before", "2027-03-01")],
    )
    .await;
    // A till posts a movement through the API from behind the proxy.
    let (key, _) =
        super::api::make_key(&app, &admin, &format!("pantry:{}", p.main), "read_write").await;
    let r = client()
        .post(format!("{}/api/v1/pantries/{}/movements", app.base, p.main))
        .bearer_auth(&key)
        .header("x-forwarded-for", "203.0.113.7")
        .json(&serde_json::json!({"kind": "distributed", "product_id": rice, "quantity": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let request_id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let movement: serde_json::Value = r.json().await.unwrap();
    // The ledger keeps the request it came in on, as it does for the pages.
    assert_eq!(
        app.count(&format!(
            "select count(*) from movements where id = '{}' and correlation_id = '{request_id}'",
            movement["movement_id"].as_str().unwrap()
        ))
        .await,
        1
    );
    // A failed and a good sign-in of Sam's.
    app.call(
        &client(),
        "sign_in",
        &[
            ("email", "sam@college.example"),
            ("password", "wrong password!"),
        ],
    )
    .await;
    app.sign_in("sam@college.example", "staple lantern river")
        .await;

    let all = |kind: &str, person: &str| {
        vec![
            ("organization", p.org.clone()),
            ("from", String::new()),
            ("to", String::new()),
            ("kind", kind.to_string()),
            ("person", person.to_string()),
        ]
    };
    let call = |form: Vec<(&'static str, String)>| {
        let app = &app;
        let admin = &admin;
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call(admin, "audit", &f).await
        }
    };
    let r = call(all("all", "")).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let entries = r.body["entries"].as_array().unwrap();
    let find = |who: &str, what: &str| {
        entries
            .iter()
            .find(|e| e["who"].as_str().unwrap().contains(who) && e["what"] == what)
            .unwrap_or_else(|| panic!("{who} / {what} in {entries:#?}"))
    };
    let received = find("sam@college.example", "Stock received");
    assert_eq!(received["place"], "Main Pantry");
    // Every change names the address its request came from.
    assert_eq!(received["address"], "127.0.0.1");
    assert_eq!(
        find("ada@college.example", "Stock given out")["address"],
        "203.0.113.7"
    );
    assert_eq!(
        find("ada@college.example", "Pantry created")["address"],
        "127.0.0.1"
    );
    // The organization's own events are at the organization; a pantry's at
    // the pantry (the newest first: the library was made last).
    assert_eq!(
        find("ada@college.example", "Organization created")["place"],
        "State College"
    );
    assert_eq!(
        find("ada@college.example", "Pantry created")["place"],
        "Library Pantry"
    );
    let signed = find("sam@college.example", "Signed in");
    assert_eq!(signed["address"], "127.0.0.1");
    find("sam@college.example", "Sign-in failed");
    // Newest first.
    let times: Vec<i64> = entries
        .iter()
        .map(|e| e["at_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");

    // Filters: sign-ins only; one person.
    let r = call(all("sign_ins", "")).await;
    assert!(r.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["what"].as_str().unwrap().contains("Sign")));
    let r = call(all("changes", "sam@")).await;
    let sams = r.body["entries"].as_array().unwrap();
    assert!(
        !sams.is_empty()
            && sams
                .iter()
                .all(|e| e["who"].as_str().unwrap().contains("sam@")),
        "{sams:?}"
    );
    assert!(sams.iter().all(|e| e["address"] == "127.0.0.1"), "{sams:?}");
    // A period with nothing in it, and one that does not parse.
    let mut old = all("all", "");
    old[1].1 = "2001-01-01".into();
    old[2].1 = "2001-01-31".into();
    assert_eq!(call(old).await.body["entries"].as_array().unwrap().len(), 0);
    let mut bad = all("all", "");
    bad[1].1 = "last week".into();
    let r = call(bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.field(), "from");

    // The CSV holds the same lines.
    let (status, csv) = app
        .get(
            &admin,
            &format!("/organizations/{}/audit.csv?kind=all", p.org),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["when", "who", "what", "where", "address"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), entries.len());
    assert!(rows
        .iter()
        .any(|r| &r[2] == "Stock received" && r[1].contains("sam@")));

    // Staff and managers cannot read it, nor can another organization's admin.
    let r = app
        .call(
            &sam,
            "audit",
            &[
                ("organization", p.org.as_str()),
                ("from", ""),
                ("to", ""),
                ("kind", "all"),
                ("person", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let (status, _) = app
        .get(&sam, &format!("/organizations/{}/audit.csv", p.org))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app
        .create(&admin, "create_organization", &[("name", "Other Bank")])
        .await;
    let oli = app
        .join(
            &admin,
            "oli@other.example",
            "admin",
            &format!("organization:{other}"),
        )
        .await;
    let r = app
        .call(
            &oli,
            "audit",
            &[
                ("organization", p.org.as_str()),
                ("from", ""),
                ("to", ""),
                ("kind", "all"),
                ("person", ""),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

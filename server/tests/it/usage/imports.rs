//! History imports (all or nothing, never counted twice) and finding
//! products by SKU in the catalog and in imports.

use std::collections::BTreeMap;

use reqwest::{Client, StatusCode};
use serde_json::Value;

use crate::helpers::*;
use crate::inventory::product;
use crate::on_both_databases;

on_both_databases!(
    history_imports_are_all_or_nothing_and_never_count_twice,
    products_are_found_by_sku_in_the_catalog_and_in_history_imports,
);

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

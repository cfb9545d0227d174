//! Suppliers, their items and purchase orders: checked input, items tied
//! to products by barcode, an order's life from draft to received in
//! parts (stock rising with each receipt), cancelling, and two receipts
//! of one order at once.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{on_hand, product};
use crate::on_both_databases;

on_both_databases!(
    suppliers_are_checked_and_items_tie_to_the_catalog,
    an_order_goes_from_draft_to_received_in_parts,
    a_catalog_file_syncs_whole_or_not_at_all,
);

const BEANS_GTIN: &str = "4006381333931";

async fn supplier(app: &TestApp, c: &reqwest::Client, org: &str, name: &str) -> String {
    app.create(
        c,
        "save_supplier",
        &[
            ("organization", org),
            ("name", name),
            ("lead_time_days", "5"),
            ("order_days", "Mon, Thu"),
            ("minimum_order", "100"),
            ("email", "orders@metro.example"),
        ],
    )
    .await
}

async fn suppliers_are_checked_and_items_tie_to_the_catalog(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[("barcodes", BEANS_GTIN)]).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    let metro = supplier(&app, &admin, &p.org, "Metro Wholesale").await;

    let list = app
        .call(&admin, "suppliers", &[("organization", &p.org)])
        .await;
    assert_eq!(list.status, StatusCode::OK, "{:?}", list.body);
    let s = &list.body["suppliers"][0];
    assert_eq!(
        (
            &s["name"],
            &s["lead_time_days"],
            &s["order_days"],
            &s["minimum_order_cents"]
        ),
        (
            &json!("Metro Wholesale"),
            &json!(5),
            &json!([1, 4]),
            &json!(10000)
        )
    );

    // Bad input is refused, field by field, and changes nothing.
    for (field, value, expect) in [
        ("name", "  ", "name"),
        ("lead_time_days", "a week", "lead_time_days"),
        ("order_days", "Mon, Funday", "order_days"),
        ("minimum_order", "12.345", "minimum_order"),
        ("email", "not an email", "email"),
    ] {
        let mut form = vec![("organization", p.org.as_str()), ("name", "Farm Co-op")];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let r = app.call(&admin, "save_supplier", &form).await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, expect),
            "{field}={value}: {:?}",
            r.body
        );
        assert!(r.message().len() > 10, "{:?}", r.body);
    }
    let r = app
        .call(
            &admin,
            "save_supplier",
            &[("organization", &p.org), ("name", "metro wholesale")],
        )
        .await;
    assert_eq!((r.status, r.field()), (StatusCode::CONFLICT, "name"));
    assert_eq!(app.count("select count(*) from suppliers").await, 1);

    // Pantry staff read the suppliers but do not keep them; another
    // organization's admin does not see them at all.
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    assert_eq!(
        app.call(&sam, "suppliers", &[("organization", &p.org)])
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call(
            &sam,
            "save_supplier",
            &[("organization", &p.org), ("name", "Sam's")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
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
    let r = app.call(&oli, "supplier", &[("id", &metro)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);

    // Items: a known barcode ties the item to its product; an unknown one
    // leaves it to be tied by hand; the pack size is checked in the
    // product's unit.
    let item = |sku: &'static str, extra: Vec<(&'static str, String)>| {
        let mut form: Vec<(&str, String)> = vec![("supplier", metro.clone()), ("sku", sku.into())];
        form.extend(extra);
        form
    };
    let save = |form: Vec<(&'static str, String)>| {
        let (app, admin) = (&app, &admin);
        async move {
            let f: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.call(admin, "save_supplier_item", &f).await
        }
    };
    let r = save(item(
        "BN-24",
        vec![
            ("barcode", "4006381333931".into()),
            ("pack_size", "24".into()),
            ("price", "18.40".into()),
            ("description", "Beans, case of 24".into()),
        ],
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = save(item(
        "RC-10",
        vec![("product", rice.clone()), ("pack_size", "0.5".into())],
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = save(item("XX-1", vec![("barcode", "96385074".into())])).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = save(item(
        "BN-HALF",
        vec![("product", beans.clone()), ("pack_size", "0.5".into())],
    ))
    .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "pack_size")
    );
    let r = save(item("BAD", vec![("barcode", "4006381333932".into())])).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "barcode")
    );
    let r = save(item("BAD", vec![("price", "cheap".into())])).await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "price")
    );
    // The same SKU (any case) changes the item.
    let r = save(item(
        "bn-24",
        vec![
            ("barcode", BEANS_GTIN.into()),
            ("pack_size", "24".into()),
            ("price", "19".into()),
        ],
    ))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    let d = app.call(&admin, "supplier", &[("id", &metro)]).await;
    assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
    let items = d.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{items:#?}");
    let by_sku = |sku: &str| {
        items
            .iter()
            .find(|i| i["sku"].as_str().unwrap().eq_ignore_ascii_case(sku))
            .unwrap()
    };
    assert_eq!(by_sku("BN-24")["product_id"], beans.as_str());
    assert_eq!(by_sku("BN-24")["price_cents"], 1900);
    assert_eq!(by_sku("RC-10")["product_id"], rice.as_str());
    assert!(by_sku("XX-1")["product_id"].is_null());
    let list = app
        .call(&admin, "suppliers", &[("organization", &p.org)])
        .await;
    assert_eq!(
        (
            &list.body["suppliers"][0]["items"],
            &list.body["suppliers"][0]["unmapped"]
        ),
        (&json!(3), &json!(1))
    );
}

/// The supplier item id by SKU.
async fn item_id(app: &TestApp, supplier: &str, sku: &str) -> String {
    sqlx::query_scalar("select id from supplier_items where supplier_id = $1 and sku = $2")
        .bind(supplier)
        .bind(sku)
        .fetch_one(app.server.state.db.pool())
        .await
        .unwrap()
}

async fn an_order_goes_from_draft_to_received_in_parts(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[("barcodes", BEANS_GTIN)]).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    let metro = supplier(&app, &admin, &p.org, "Metro Wholesale").await;
    for (sku, product, pack, price) in
        [("BN-24", &beans, "24", "18.40"), ("RC-10", &rice, "10", "")]
    {
        let r = app
            .call(
                &admin,
                "save_supplier_item",
                &[
                    ("supplier", &metro),
                    ("sku", sku),
                    ("product", product),
                    ("pack_size", pack),
                    ("price", price),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
    let (bn, rc) = (
        item_id(&app, &metro, "BN-24").await,
        item_id(&app, &metro, "RC-10").await,
    );
    let kim = app
        .join(
            &admin,
            "kim@college.example",
            "manager",
            &format!("pantry:{}", p.main),
        )
        .await;
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;

    // Staff do not start orders; a manager does, numbered per organization.
    let r = app
        .call(
            &sam,
            "create_purchase_order",
            &[("pantry", &p.main), ("supplier", &metro)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let order = app
        .create(
            &kim,
            "create_purchase_order",
            &[
                ("pantry", &p.main),
                ("supplier", &metro),
                ("note", "Weekly"),
            ],
        )
        .await;
    let line = |item: &str, packs: &str| {
        let (app, kim, order, item, packs) = (
            &app,
            &kim,
            order.clone(),
            item.to_string(),
            packs.to_string(),
        );
        async move {
            app.call(
                kim,
                "set_order_line",
                &[("order", &order), ("item", &item), ("packs", &packs)],
            )
            .await
        }
    };
    let get = || {
        let (app, kim, order) = (&app, &kim, order.clone());
        async move {
            let r = app.call(kim, "purchase_order", &[("id", &order)]).await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    // An empty draft cannot be submitted.
    let r = app
        .call(&kim, "submit_purchase_order", &[("order", &order)])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert_eq!(line(&bn, "2").await.status, StatusCode::OK);
    assert_eq!(line(&rc, "3").await.status, StatusCode::OK);
    let r = line(&bn, "two").await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "packs")
    );
    let o = get().await;
    assert_eq!(
        (o["number"].as_i64(), o["status"].as_str()),
        (Some(1), Some("draft"))
    );
    let lines = o["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    // 2 cases of 24 cans; 3 sacks of 10 kg (in grams).
    assert_eq!(
        (&lines[0]["ordered_parts"], &lines[1]["ordered_parts"]),
        (&json!(48), &json!(30_000))
    );
    // Only the beans are priced: the total says so.
    assert_eq!(
        (o["total_cents"].as_i64(), o["all_priced"].as_bool()),
        (Some(3680), Some(false))
    );
    // Changing a line's packs replaces it; 0 takes it off.
    assert_eq!(line(&rc, "0").await.status, StatusCode::OK);
    assert_eq!(line(&rc, "1").await.status, StatusCode::OK);
    assert_eq!(get().await["lines"][1]["packs"], 1);

    assert_eq!(
        app.call(&kim, "submit_purchase_order", &[("order", &order)])
            .await
            .status,
        StatusCode::OK
    );
    // Submitted: no more changes to its lines.
    let r = line(&bn, "5").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(
        r.message().contains("only a draft can change"),
        "{}",
        r.message()
    );

    // Part of it comes: 30 of the 48 cans, and the rice in full.
    let receive = |lines: Value| {
        let (app, sam, order) = (&app, &sam, order.clone());
        async move {
            app.call_json(
                sam,
                "receive_purchase_order",
                &json!({"order": order, "lines": lines}),
            )
            .await
        }
    };
    // A bad date refuses the whole receipt.
    let r = receive(json!([
        {"product": beans, "quantity": "30", "best_before": "2027-13-01"},
        {"product": rice, "quantity": "10"},
    ]))
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{:?}", r.body);
    assert!(r.message().contains("Beans"), "{}", r.message());
    assert_eq!(on_hand(&app, &p.main, &beans).await, 0);
    assert_eq!(on_hand(&app, &p.main, &rice).await, 0);
    let r = receive(json!([
        {"product": beans, "quantity": "30", "best_before": "2027-06-01"},
        {"product": rice, "quantity": "10"},
    ]))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, &p.main, &beans).await, 30);
    assert_eq!(on_hand(&app, &p.main, &rice).await, 10_000);
    let o = get().await;
    assert_eq!(o["status"], "partly_received");
    assert_eq!(o["lines"][0]["received_parts"], 30);
    // The movements say where they came from.
    assert_eq!(
        app.count("select count(*) from movements where kind = 'received' and source = 'purchase' and note = 'PO-0001 from Metro Wholesale'")
            .await,
        2
    );

    // The rest comes twice at once (two phones): one receipt lands.
    let rest = json!([{"product": beans, "quantity": "18"}]);
    let (a, b) = tokio::join!(receive(rest.clone()), receive(rest));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{:?} {:?}",
        a.body,
        b.body
    );
    assert_eq!(on_hand(&app, &p.main, &beans).await, 48);
    let o = get().await;
    assert_eq!(o["status"], "received");
    assert!(o["closed"].is_string());
    let r = receive(json!([{"product": beans, "quantity": "1"}])).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app
        .call(&kim, "cancel_purchase_order", &[("order", &order)])
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);

    // A second order is cancelled before anything comes: it is numbered
    // after the first, and the cancel is final.
    let second = app
        .create(
            &kim,
            "create_purchase_order",
            &[("pantry", &p.main), ("supplier", &metro)],
        )
        .await;
    assert_eq!(
        app.call(
            &kim,
            "set_order_line",
            &[("order", &second), ("item", &bn), ("packs", "1")]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(&kim, "submit_purchase_order", &[("order", &second)])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.call(&sam, "cancel_purchase_order", &[("order", &second)])
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(&kim, "cancel_purchase_order", &[("order", &second)])
            .await
            .status,
        StatusCode::OK
    );
    let r = app
        .call_json(
            &sam,
            "receive_purchase_order",
            &json!({"order": second, "lines": [{"product": beans, "quantity": "24"}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let list = app
        .call(&kim, "purchase_orders", &[("pantry", &p.main)])
        .await;
    let orders = list.body["orders"].as_array().unwrap();
    assert_eq!(
        orders
            .iter()
            .map(|o| (o["number"].as_i64().unwrap(), o["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![(2, "cancelled"), (1, "received")]
    );
    // Every change is in the event log, for the audit log and the analyser.
    assert_eq!(
        app.count("select count(*) from events where type like 'PurchaseOrder%'")
            .await,
        // created, submitted, two receipts; created, submitted, cancelled
        7
    );

    // The CSV the supplier gets.
    let (status, csv) = app.get(&kim, &format!("/orders/{order}/order.csv")).await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0][2], &rows[0][4], &rows[0][6], &rows[0][8]),
        ("BN-24", "2", "48", "18.40")
    );
    // Another pantry's people do not see the order (a sibling pantry's
    // things are hidden, not forbidden).
    let lib = app
        .join(
            &admin,
            "lib@college.example",
            "manager",
            &format!("pantry:{}", p.library),
        )
        .await;
    assert_eq!(
        app.call(&lib, "purchase_order", &[("id", &order)])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let (status, _) = app.get(&lib, &format!("/orders/{order}/order.csv")).await;
    assert!(matches!(
        status,
        StatusCode::FORBIDDEN | StatusCode::NOT_FOUND
    ));
}

async fn a_catalog_file_syncs_whole_or_not_at_all(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Beans", &[("barcodes", BEANS_GTIN)]).await;
    let metro = supplier(&app, &admin, &p.org, "Metro Wholesale").await;
    let sync = |name: &str, text: &str| {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        let body = json!({"supplier": metro, "name": name, "text": text});
        async move { app.call_json(admin, "import_supplier_catalog", &body).await }
    };
    let items = || {
        let (app, admin, metro) = (&app, &admin, metro.clone());
        async move {
            let d = app.call(admin, "supplier", &[("id", &metro)]).await;
            assert_eq!(d.status, StatusCode::OK, "{:?}", d.body);
            d.body["items"].as_array().unwrap().clone()
        }
    };

    let r = sync(
        "catalog.csv",
        &format!("sku,description,barcode,pack_size,price,available\nBN-24,Beans case,{BEANS_GTIN},24,18.40,yes\nRC-10,Rice sack,,10,12.00,yes\nOIL-6,Oil,,6,30,yes\n"),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (r.body["status"].as_str(), r.body["new"].as_i64()),
        (Some("done"), Some(3)),
        "{:?}",
        r.body
    );
    let all = items().await;
    let bn = all.iter().find(|i| i["sku"] == "BN-24").unwrap();
    // Its barcode tied it to the catalog's beans.
    assert_eq!(bn["product_id"], beans.as_str());

    // Next week's file: a new price for beans, rice no longer listed.
    let r = sync(
        "catalog-2.json",
        &format!(r#"[{{"sku": "BN-24", "description": "Beans case", "barcode": "{BEANS_GTIN}", "pack_size": 24, "price": 19.10}},
                     {{"sku": "OIL-6", "description": "Oil", "pack_size": "6", "price": "30.00"}}]"#),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        (
            r.body["price_changed"].as_i64(),
            r.body["discontinued"].as_i64(),
            r.body["unchanged"].as_i64()
        ),
        (Some(1), Some(1), Some(1)),
        "{:?}",
        r.body
    );
    let changes = r.body["changes"].to_string();
    assert!(
        changes.contains("Price of BN-24: 18.40 → 19.10")
            && changes.contains("Discontinued: RC-10"),
        "{changes}"
    );
    let all = items().await;
    let find = |sku: &str| all.iter().find(|i| i["sku"] == sku).unwrap().clone();
    assert_eq!(
        (
            find("BN-24")["price_cents"].as_i64(),
            find("RC-10")["available"].as_bool()
        ),
        (Some(1910), Some(false))
    );

    // A file with bad rows changes nothing, and says which rows.
    let r = sync(
        "broken.csv",
        "sku,pack_size,price\nBN-24,24,1.00\nNEW-1,12,cheap\nNEW-2,0,1\n",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["status"], "failed");
    let lines: Vec<i64> = r.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["line"].as_i64().unwrap())
        .collect();
    assert_eq!(lines, vec![3, 4]);
    let after = items().await;
    assert_eq!(after, all, "a refused file changed the items");
    // A file that is neither.
    let r = sync("notes.txt", "hello").await;
    assert_eq!(r.body["status"], "failed");

    // The history, newest first; one event per sync that landed.
    let h = app
        .call(&admin, "supplier_syncs", &[("supplier", &metro)])
        .await;
    let h = h.body.as_array().unwrap().clone();
    assert_eq!(
        h.iter()
            .map(|s| (s["source"].as_str().unwrap(), s["status"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![
            ("notes.txt", "failed"),
            ("broken.csv", "failed"),
            ("catalog-2.json", "done"),
            ("catalog.csv", "done")
        ]
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'SupplierCatalogUpdated'")
            .await,
        2
    );

    // Pantry staff cannot replace a supplier's catalog.
    let sam = app
        .join(
            &admin,
            "sam@college.example",
            "staff",
            &format!("pantry:{}", p.main),
        )
        .await;
    let r = app
        .call_json(
            &sam,
            "import_supplier_catalog",
            &json!({"supplier": metro, "name": "x.csv", "text": "sku\nA\n"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

//! Imported history in reports: its own series, and where it lies.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;
use crate::inventory::product;
use crate::on_both_databases;

on_both_databases!(imported_history_is_its_own_series_in_reports);

async fn imported_history_is_its_own_series_in_reports(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("unit_weight_g", "400")],
    )
    .await;
    product(&app, &admin, &p.org, "Rice", &[("unit", "kg")]).await;
    let csv = "date,product,quantity,pantry\n\
               2025-03-03,Black beans,5,Main Pantry\n\
               2025-03-20,Black beans,7,Main Pantry\n\
               2025-04-02,Rice,2.5,Main Pantry\n\
               2025-04-02,Black beans,9,Library Pantry\n";
    let res = admin
        .post(format!(
            "{}/api/v1/usage/import?organization={}&name=2025.csv",
            app.base, p.org
        ))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let report = |scope: String, from: &'static str, to: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .call(
                    admin,
                    "usage_report",
                    &[
                        ("scope", &scope),
                        ("from", from),
                        ("to", to),
                        ("group", "month"),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            r.body
        }
    };
    let r = report(format!("pantry:{}", p.main), "2025-01-01", "2025-12-31").await;
    // Nothing was handed out in Larder in 2025, but the imported history
    // shows as its own series: 12 cans (4.8 kg) and 2.5 kg of rice.
    assert_eq!(r["totals"]["items"], 0);
    assert_eq!(r["totals"]["imported_items"], 12);
    assert_eq!(r["totals"]["imported_weight_g"], 12 * 400 + 2500);
    let march = r["periods"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["start"] == "2025-03-01")
        .unwrap();
    assert_eq!(
        (
            march["imported_items"].as_i64(),
            march["imported_weight_g"].as_i64()
        ),
        (Some(12), Some(4800))
    );
    let beans_row = r["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["product_id"] == beans.as_str())
        .unwrap();
    assert_eq!(beans_row["imported"], 12);
    assert_eq!(r["imported_span"], json!(["2025-03-03", "2025-04-02"]));
    assert_eq!(r["trail"][2][0], "Main Pantry");
    // The organization counts both pantries; the CSV carries the series.
    let r = report(
        format!("organization:{}", p.org),
        "2025-01-01",
        "2025-12-31",
    )
    .await;
    assert_eq!(r["totals"]["imported_items"], 21);
    let (status, body) = app
        .get(&admin, &format!("/reports/usage.csv?scope=organization:{}&from=2025-01-01&to=2025-12-31&group=month", p.org))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("imported_items,imported_weight_kg"), "{body}");
    // A window that misses the history still says where it is.
    let r = report(format!("pantry:{}", p.main), "2026-01-01", "2026-01-31").await;
    assert_eq!(r["totals"]["imported_items"], 0);
    assert_eq!(r["imported_span"], json!(["2025-03-03", "2025-04-02"]));
}

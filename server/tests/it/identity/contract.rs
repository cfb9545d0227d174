//! The API's contract: schemathesis (installed by `scripts/setup-test.sh`
//! into `.venv-test`) reads `/api/v1/openapi.json` from the live server and
//! sends it generated requests, with a read-write key and the real pantry
//! and organization ids; it must find no server error and no response
//! outside the document (status, content type, body schema).

use std::process::Command;

use reqwest::StatusCode;

use crate::helpers::*;
use crate::inventory::{ok_movement, product};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_api_keeps_to_its_openapi_document() {
    let st = std::env::var("LARDER_TEST_SCHEMATHESIS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.venv-test/bin/schemathesis"
        )
        .into()
    });
    assert!(
        std::path::Path::new(&st).exists(),
        "schemathesis is not at {st}: run scripts/setup-test.sh (make test does)"
    );
    // Limits off: schemathesis sends hundreds of requests a minute.
    let app = spawn_with(
        Backend::Sqlite,
        &[
            ("LARDER_RATE_LIMIT_PER_KEY", "0"),
            ("LARDER_RATE_LIMIT_PER_ADDRESS", "0"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let rice = product(&app, &admin, &p.org, "Rice", &[]).await;
    ok_movement(
        &app,
        &admin,
        "receive",
        &p.main,
        &rice,
        "40",
        &[("best_before", "2027-03-01")],
    )
    .await;
    ok_movement(&app, &admin, "distribute", &p.main, &rice, "3", &[]).await;
    let r = app
        .call(
            &admin,
            "create_api_key",
            &[
                ("scope", &format!("organization:{}", p.org)),
                ("name", "Contract"),
                ("access", "read_write"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let key = r.body["key"].as_str().unwrap().to_string();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("schemathesis.toml");
    std::fs::write(
        &config,
        format!(
            "[parameters]\n\"path.pantry_id\" = \"{}\"\n\"path.organization_id\" = \"{}\"\n\"query.organization\" = \"{}\"\n",
            p.main, p.org, p.org
        ),
    )
    .unwrap();
    let schema = format!("{}/api/v1/openapi.json", app.base);
    let out = tokio::task::spawn_blocking(move || {
        Command::new(&st)
            .arg("--config-file")
            .arg(&config)
            .args(["run", &schema])
            .args(["--checks", "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"])
            .args(["--header", &format!("Authorization: Bearer {key}")])
            .args(["--max-examples", "40", "--seed", "7", "--no-color"])
            .current_dir(dir.path())
            .output()
            .expect("schemathesis runs")
    })
    .await
    .unwrap();
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "schemathesis found problems:\n{text}");
    // It did test every operation (a document it could not read tests none).
    let doc = serde_json::to_value(app::rest::document()).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            ["get", "post", "put", "patch", "delete"]
                .iter()
                .filter(|m| item.get(**m).is_some())
                .count()
        })
        .sum();
    assert!(operations >= 6, "{operations} operations in the document");
    assert!(
        text.contains(&format!("Tested: {operations}")),
        "not every operation tested:\n{text}"
    );
    assert!(
        text.contains(&format!("Selected: {operations}/{operations}")),
        "{text}"
    );
    assert!(
        text.contains(" passed") && !text.contains(" failed"),
        "{text}"
    );
}

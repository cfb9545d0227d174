//! `larder copy-data`: a single SQLite instance, with stock, a visit's
//! worth of movements, events and a photo, moved onto PostgreSQL and an S3
//! bucket (moto's) by the command an operator runs; a replica started on
//! the new configuration carries on where the old instance stopped.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::inventory::{drained, ok_movement, on_hand, product};
use crate::photos::{photo, settled, upload};

/// What must come across unchanged: (events, last seq, on hand, sessions,
/// photos, daily report rows).
async fn fingerprint(app: &TestApp, pantry: &str, beans: &str) -> [i64; 6] {
    [
        app.count("select count(*) from events").await,
        app.count("select coalesce(max(seq), 0) from events").await,
        on_hand(app, pantry, beans).await,
        app.count("select count(*) from sessions").await,
        app.count("select count(*) from photos").await,
        app.count("select count(*) from daily_flows").await,
    ]
}

#[tokio::test]
async fn an_sqlite_instance_moves_to_postgresql_and_s3_and_carries_on() {
    let old = spawn_app(Backend::Sqlite).await;
    let admin = old.setup_admin().await;
    let p = build_places(&old, &admin).await;
    let beans = product(&old, &admin, &p.org, "Beans", &[]).await;
    ok_movement(&old, &admin, "receive", &p.main, &beans, "30", &[]).await;
    ok_movement(&old, &admin, "distribute", &p.main, &beans, "4", &[]).await;
    let intake = old
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = upload(&old, &admin, &intake, photo(800, 600, &[]), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    settled(&old, &admin, &intake).await;
    drained(&old).await;
    let before = fingerprint(&old, &p.main, &beans).await;
    assert!(
        before[0] > 0 && before[2] == 26 && before[4] == 1,
        "{before:?}"
    );
    let (old_config, _old_dir) = old.stop().await;

    // The new home: an empty PostgreSQL database and a bucket.
    let moto = Moto::start().await;
    let made = reqwest::Client::new()
        .put(format!("{}/photos", moto.url))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success());
    let dir = tempfile::tempdir().unwrap();
    let database = fresh_database(Backend::Postgres, dir.path()).await;
    let new_home = [
        ("DATABASE_URL", database.as_str()),
        ("LARDER_S3_BUCKET", "photos"),
        ("LARDER_S3_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ];
    let vars: std::collections::HashMap<String, String> = new_home
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("LARDER_DATA_DIR".into(), dir.path().display().to_string())])
        .collect();
    let config = server::config::Config::load(|k| vars.get(k).cloned()).unwrap();
    let args =
        server::copy::CopyArgs::parse(&["--from".to_string(), old_config.database_url.clone()])
            .unwrap();
    let mut said = Vec::new();
    server::copy::run(&config, &args, |line| said.push(line))
        .await
        .unwrap();
    let said = said.join("\n");
    assert!(
        said.contains("events: ") && said.contains("2 photo files"),
        "{said}"
    );

    // Copying again would overwrite: refused, and nothing changes.
    let e = server::copy::run(&config, &args, |_| {}).await.unwrap_err();
    assert!(e.contains("already holds data"), "{e}");

    let new = spawn_with(Backend::Postgres, &new_home).await;
    assert_eq!(fingerprint(&new, &p.main, &beans).await, before);
    // The same session still signs the admin in; the photo is served from
    // the bucket.
    let view = settled(&new, &admin, &intake).await;
    let url = view["photos"][0]["thumbnail_url"]
        .as_str()
        .unwrap()
        .to_string();
    let served = admin
        .get(format!("{}{url}", new.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK, "{url}");
    // New events continue the log after the copied ones, and every consumer
    // goes on from its checkpoint: nothing counted twice.
    ok_movement(&new, &admin, "distribute", &p.main, &beans, "6", &[]).await;
    drained(&new).await;
    let next = new.count("select max(seq) from events").await;
    assert!(next > before[1], "seq {next} after {}", before[1]);
    assert_eq!(on_hand(&new, &p.main, &beans).await, 20);
    reports_match_the_ledger(&new).await;
}

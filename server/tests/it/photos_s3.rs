//! Photo files in an S3 bucket (moto's S3 on loopback): a photo and its
//! thumbnail are stored as objects under the configured prefix, nothing
//! lands in the data directory, the photo is analysed and served from the
//! bucket, and removing it removes its objects; readiness fails when the
//! bucket cannot be reached.

use reqwest::StatusCode;

use crate::helpers::*;
use crate::on_both_databases;
use crate::photos::{photo, settled, upload};

on_both_databases!(photos_live_in_the_bucket_and_leave_with_their_photo);

/// The bucket's objects as S3's ListObjectsV2 answers: key and size.
async fn listing(moto: &Moto, bucket: &str) -> Vec<(String, usize)> {
    let xml = reqwest::get(format!("{}/{bucket}?list-type=2", moto.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let field = |object: &str, tag: &str| {
        object
            .split(&format!("<{tag}>"))
            .nth(1)
            .and_then(|v| v.split(&format!("</{tag}>")).next())
            .unwrap()
            .to_string()
    };
    xml.split("<Contents>")
        .skip(1)
        .map(|o| (field(o, "Key"), field(o, "Size").parse().unwrap()))
        .collect()
}

async fn keys(moto: &Moto, bucket: &str) -> Vec<String> {
    listing(moto, bucket)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

async fn photos_live_in_the_bucket_and_leave_with_their_photo(backend: Backend) {
    let moto = Moto::start().await;
    let bucket = "larder-photos";
    // moto checks no signature: a plain PUT makes the bucket.
    let made = reqwest::Client::new()
        .put(format!("{}/{bucket}", moto.url))
        .send()
        .await
        .unwrap();
    assert!(made.status().is_success(), "{:?}", made.text().await);
    let app = spawn_with(
        backend,
        &[
            ("LARDER_S3_BUCKET", bucket),
            ("LARDER_S3_ENDPOINT_URL", &moto.url),
            ("LARDER_S3_PREFIX", "college/"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
        ],
    )
    .await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = upload(&app, &admin, &intake, photo(1200, 900, &[]), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = settled(&app, &admin, &intake).await;
    let id = view["photos"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        view["photos"][0]["status"], "Done",
        "analysed from the bucket: {view:?}"
    );

    let mut stored = keys(&moto, bucket).await;
    stored.sort();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(
        stored
            .iter()
            .all(|k| k.starts_with(&format!("college/photos/{}/", p.org))),
        "{stored:?}"
    );
    assert!(stored[0].ends_with("/photo.jpg") && stored[1].ends_with("/thumbnail.jpg"));
    assert!(
        !app.server.state.settings.data_dir.join("objects").exists(),
        "nothing in the data directory"
    );
    // Served from the bucket: the same bytes as the object.
    let served = admin
        .get(format!("{}/photos/{id}/thumbnail.jpg", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    let served = served.bytes().await.unwrap();
    // moto lists anonymously but reads only signed: read it with an S3
    // client of its own, and check the size moto lists.
    let settings = app.server.state.settings.photo_s3.clone().unwrap();
    let client = app::photos::s3::S3::new(&settings).unwrap();
    let object =
        app::photos::store::ObjectStore::get(&client, stored[1].strip_prefix("college/").unwrap())
            .await
            .unwrap();
    assert_eq!(served.as_ref(), object.as_slice());
    assert!(
        listing(&moto, bucket)
            .await
            .contains(&(stored[1].clone(), served.len())),
        "moto holds the thumbnail at the served size"
    );
    assert_eq!(&served[..2], &[0xFF, 0xD8], "a JPEG");

    let r = app.call(&admin, "remove_photo", &[("id", &id)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(keys(&moto, bucket).await, Vec::<String>::new());

    // Readiness counts the bucket: ready while it answers, not once the
    // store is gone.
    let ready = |app: &TestApp| {
        let url = format!("{}/readyz", app.base);
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(ready(&app).await, StatusCode::OK);
    drop(moto);
    assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);
}

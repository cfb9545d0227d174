//! Photos over HTTP: uploads are checked by their content and refused with
//! a reason (nothing stored), a stored photo loses its metadata, its
//! barcodes are read in the background, and confirming the suggested
//! lines receives the stock once.

use image::{GrayImage, Luma};
use reqwest::{Client, StatusCode};
use rxing::Writer;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{on_hand, product, BEANS_EAN, RICE_UPC};
use crate::on_both_databases;

on_both_databases!(
    a_printed_date_in_the_next_photo_dates_the_line,
    bad_uploads_are_refused_with_a_reason_and_store_nothing,
    a_photographed_donation_becomes_stock_once_confirmed,
    photos_are_only_for_staff_of_their_pantry,
    a_wrong_photo_is_removed_with_its_files_and_its_number_is_kept,
);

/// A barcode drawn by rxing's writer, `module` pixels per module, on white.
pub fn symbol(format: rxing::BarcodeFormat, contents: &str, module: u32) -> GrayImage {
    let m = rxing::MultiFormatWriter
        .encode(contents, &format, 0, 0)
        .unwrap();
    let (w, h) = (m.getWidth(), m.getHeight());
    let rows = if h == 1 { 60 } else { h };
    let q = 10;
    GrayImage::from_fn((w + 2 * q) * module, (rows + 2 * q) * module, |x, y| {
        let (mx, my) = (x / module, y / module);
        let inside = mx >= q && mx < w + q && my >= q && my < rows + q;
        let black = inside && m.get(mx - q, if h == 1 { 0 } else { my - q });
        Luma([if black { 0 } else { 255 }])
    })
}

/// A photo of a table: stripes and blocks, the given symbols on it, as a
/// JPEG.
pub fn photo(w: u32, h: u32, symbols: &[(&GrayImage, i64, i64)]) -> Vec<u8> {
    let mut img = image::RgbImage::from_fn(w, h, |x, y| {
        let v = if (x / 41 + y / 29) % 3 == 0 { 90 } else { 180 };
        image::Rgb([v, v.saturating_sub(20), v / 2])
    });
    for (s, x, y) in symbols {
        let rgb = image::DynamicImage::ImageLuma8((*s).clone()).to_rgb8();
        image::imageops::overlay(&mut img, &rgb, *x, *y);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// Prints `text` in DejaVu Sans Bold (Debian's fonts-dejavu-core) onto
/// `img` at (x, y), `px` pixels high.
fn print(img: &mut image::RgbImage, text: &str, x: f32, y: f32, px: f32) {
    use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
    let font = FontVec::try_from_vec(
        std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
            .expect("fonts-dejavu-core"),
    )
    .unwrap();
    let scaled = font.as_scaled(PxScale::from(px));
    let mut pen = x;
    for c in text.chars() {
        let id = font.glyph_id(c);
        let glyph = id.with_scale_and_position(px, ab_glyph::point(pen, y + scaled.ascent()));
        if let Some(outline) = font.outline_glyph(glyph) {
            let b = outline.px_bounds();
            outline.draw(|gx, gy, cov| {
                let (px_, py) = (b.min.x as u32 + gx, b.min.y as u32 + gy);
                if px_ < img.width() && py < img.height() {
                    let p = img.get_pixel_mut(px_, py);
                    for ch in &mut p.0 {
                        *ch = (*ch as f32 * (1.0 - cov)) as u8;
                    }
                }
            });
        }
        pen += scaled.h_advance(id);
    }
}

/// A photo of a can's date stamp on a white label.
fn date_photo(lines: &[&str]) -> Vec<u8> {
    let mut img = image::RgbImage::from_pixel(1200, 900, image::Rgb([150, 140, 120]));
    for y in 200..(260 + 80 * lines.len() as u32) {
        for x in 120..1100 {
            img.put_pixel(x, y, image::Rgb([240, 240, 236]));
        }
    }
    for (i, l) in lines.iter().enumerate() {
        print(&mut img, l, 160.0, 230.0 + 80.0 * i as f32, 54.0);
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&img)
        .unwrap();
    out
}

/// The JPEG with an Exif segment in front that carries a GPS latitude.
fn with_gps(jpeg: &[u8]) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x8825u16.to_be_bytes());
    tiff.extend_from_slice(&4u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&26u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0001u16.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&2u32.to_be_bytes());
    tiff.extend_from_slice(b"N\0\0\0");
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
    }
    !c
}

/// A PNG whose header claims `w` × `h` pixels over a few bytes of data
/// (a decompression bomb's shape), with a correct header checksum.
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::DynamicImage::ImageLuma8(GrayImage::new(8, 8))
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out[16..20].copy_from_slice(&w.to_be_bytes());
    out[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&out[12..29]);
    out[29..33].copy_from_slice(&crc.to_be_bytes());
    out
}

/// A JPEG whose frame header claims `w` × `h` pixels.
fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
    let mut j = photo(64, 48, &[]);
    let sof = j
        .windows(2)
        .position(|p| p == [0xFF, 0xC0])
        .expect("a baseline frame header");
    j[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    j[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    j
}

pub async fn upload(app: &TestApp, c: &Client, intake: &str, bytes: Vec<u8>, mime: &str) -> Reply {
    let res = c
        .post(format!("{}/intakes/{intake}/photos", app.base))
        .header("content-type", mime)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let text = res.text().await.unwrap();
    Reply {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// Files under the server's object store.
fn stored_files(app: &TestApp) -> usize {
    fn walk(p: &std::path::Path) -> usize {
        std::fs::read_dir(p)
            .map(|d| {
                d.flatten()
                    .map(|e| {
                        if e.path().is_dir() {
                            walk(&e.path())
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    walk(&app.server.state.settings.data_dir.join("objects"))
}

/// The intake once every photo's analysis has finished.
pub async fn settled(app: &TestApp, c: &Client, intake: &str) -> Value {
    for _ in 0..600 {
        let r = app.call(c, "intake", &[("id", intake)]).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        if r.body["settled"] == json!(true) {
            return r.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the photos of intake {intake} were not analysed within a minute");
}

async fn bad_uploads_are_refused_with_a_reason_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let good = photo(320, 240, &[]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "The file is empty"),
        ("truncated JPEG", good[..good.len() * 2 / 3].to_vec(), "damaged or incomplete"),
        ("PNG bomb", png_claiming(30_000, 30_000), "30000 × 30000 pixels (900 MP); the limit is 50 MP"),
        ("200 MP JPEG", jpeg_claiming(20_000, 10_000), "20000 × 10000 pixels (200 MP)"),
        (
            "SVG named .jpg",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "This file is an SVG drawing, not a JPEG or PNG photo",
        ),
        ("HTML named .jpg", b"<!DOCTYPE html><html><body>hello</body></html>".to_vec(), "a web page (HTML)"),
    ];
    for (what, bytes, says) in cases {
        let r = upload(&app, &admin, &intake, bytes, "image/jpeg").await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{what}: {:?}",
            r.body
        );
        assert!(r.message().contains(says), "{what}: {}", r.message());
    }
    // Larger than the byte limit, refused from its declared length.
    let r = upload(
        &app,
        &admin,
        &intake,
        vec![0xFF; 26 * 1024 * 1024],
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.message().contains("larger than the limit of 25 MB"),
        "{}",
        r.message()
    );
    assert_eq!(app.count("select count(*) from photos").await, 0);
    assert_eq!(
        app.count("select count(*) from events where type = 'PhotoUploaded'")
            .await,
        0
    );
    assert_eq!(stored_files(&app), 0);
    // Not an intake, and not an id at all.
    let r = upload(
        &app,
        &admin,
        "0190b3c2-0000-7000-8000-000000000000",
        good.clone(),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = upload(&app, &admin, "../../etc", good.clone(), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // And the good one still goes in.
    let r = upload(&app, &admin, &intake, good, "application/octet-stream").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(
        (r.body["width"].as_i64(), r.body["height"].as_i64()),
        (Some(320), Some(240))
    );
    assert_eq!(stored_files(&app), 2);
}

async fn a_photographed_donation_becomes_stock_once_confirmed(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("barcodes", BEANS_EAN)],
    )
    .await;
    let rice = product(&app, &admin, &p.org, "Rice", &[("barcodes", RICE_UPC)]).await;
    let intake = app
        .create(
            &admin,
            "create_intake",
            &[("pantry", &p.main), ("donor", "Campus food drive")],
        )
        .await;

    // Photo 1: two cans of beans and a bag of rice; photo 2: beans again,
    // and a barcode the catalog does not know.
    let ean = symbol(rxing::BarcodeFormat::EAN_13, BEANS_EAN, 3);
    let upc = symbol(rxing::BarcodeFormat::UPC_A, RICE_UPC, 3);
    let unknown = symbol(rxing::BarcodeFormat::EAN_13, "5901234123457", 3);
    let first = with_gps(&photo(
        1400,
        1000,
        &[(&ean, 40, 40), (&ean, 40, 560), (&upc, 760, 300)],
    ));
    assert!(first.windows(4).any(|w| w == b"Exif"));
    let r = upload(&app, &admin, &intake, first, "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let photo_id = r.body["id"].as_str().unwrap().to_string();
    let r = upload(
        &app,
        &admin,
        &intake,
        photo(1200, 900, &[(&ean, 100, 100), (&unknown, 600, 400)]),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);

    // What was kept has no Exif (so no GPS), and a thumbnail.
    let res = admin
        .get(format!("{}/photos/{photo_id}/photo", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let kept = res.bytes().await.unwrap();
    assert!(
        !kept.windows(4).any(|w| w == b"Exif"),
        "the stored photo kept its Exif"
    );
    assert_eq!(image::load_from_memory(&kept).unwrap().width(), 1400);
    let res = admin
        .get(format!("{}/photos/{photo_id}/thumbnail.jpg", app.base))
        .send()
        .await
        .unwrap();
    let thumb = image::load_from_memory(&res.bytes().await.unwrap()).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (480, 343));

    let view = settled(&app, &admin, &intake).await;
    let photos = view["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 2);
    assert!(photos.iter().all(|p| p["status"] == "Done"), "{photos:?}");
    let s = view["suggestions"].as_array().unwrap();
    let line = |name: &str| s.iter().find(|l| l["product_name"] == name).cloned();
    let b = line("Black beans").expect("beans suggested");
    assert_eq!(b["quantity"], "3", "{b}");
    assert_eq!(b["evidence"], "EAN-13 4006381333931 in photos 1 and 2");
    let r_line = line("Rice").expect("rice suggested");
    assert_eq!(r_line["quantity"], "1");
    let u = s
        .iter()
        .find(|l| l["product_id"].is_null())
        .expect("the unknown barcode");
    assert_eq!(u["gtin"], "05901234123457");
    assert!(u["evidence"]
        .as_str()
        .unwrap()
        .contains("not in the catalog"));

    // Staff keep the beans (counted 4, with a date) and reject the rice.
    let lines = json!([{ "product": beans, "quantity": "4", "best_before": "2031-05-01" }]);
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": intake, "lines": lines }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, &p.main, &beans).await, 4);
    assert_eq!(on_hand(&app, &p.main, &rice).await, 0);
    assert_eq!(
        app.count(&format!(
            "select count(*) from movements where product_id = '{beans}' and kind = 'received' and source = 'donation' and donor = 'Campus food drive'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "select count(*) from lots where product_id = '{beans}' and best_before = '2031-05-01'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'IntakeConfirmed'")
            .await,
        1
    );

    // Confirming again, or adding photos now, changes nothing.
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": intake, "lines": lines }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.message().contains("confirmed already"), "{}", r.message());
    assert_eq!(on_hand(&app, &p.main, &beans).await, 4);
    let r = upload(&app, &admin, &intake, photo(100, 100, &[]), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let view = app.call(&admin, "intake", &[("id", &intake)]).await.body;
    assert_eq!(view["status"], "confirmed");
    assert_eq!(view["confirmed"][0]["quantity"], "4");
}

async fn photos_are_only_for_staff_of_their_pantry(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = upload(&app, &admin, &intake, photo(200, 100, &[]), "image/jpeg").await;
    let photo_id = r.body["id"].as_str().unwrap().to_string();
    let other = app
        .join(
            &admin,
            "staff@larder.example",
            "staff",
            &format!("pantry:{}", p.library),
        )
        .await;
    let r = upload(&app, &other, &intake, photo(200, 100, &[]), "image/jpeg").await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN),
        "{:?}",
        r.status
    );
    let res = other
        .get(format!("{}/photos/{photo_id}/thumbnail.jpg", app.base))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        res.status(),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    let r = app.call(&other, "intake", &[("id", &intake)]).await;
    assert!(matches!(
        r.status,
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN
    ));
    let anonymous = client();
    let res = anonymous
        .get(format!("{}/photos/{photo_id}/photo", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(app.count("select count(*) from photos").await, 1);
}

async fn a_printed_date_in_the_next_photo_dates_the_line(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("barcodes", BEANS_EAN)],
    )
    .await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    // The barcode side of the can, then its date stamp.
    let ean = symbol(rxing::BarcodeFormat::EAN_13, BEANS_EAN, 3);
    let r = upload(
        &app,
        &admin,
        &intake,
        photo(1200, 900, &[(&ean, 200, 200)]),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = upload(
        &app,
        &admin,
        &intake,
        date_photo(&["BEST BEFORE", "14 MAR 2028"]),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = settled(&app, &admin, &intake).await;
    let dates: Vec<&Value> = view["photos"][1]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "date")
        .collect();
    assert_eq!(
        dates.first().map(|d| d["best_before"].clone()),
        Some(json!("2028-03-14")),
        "{view}"
    );
    let line = &view["suggestions"][0];
    assert_eq!(line["product_name"], "Black beans");
    assert_eq!(line["best_before"], "2028-03-14", "{line}");
    let evidence = line["evidence"].as_str().unwrap();
    assert!(
        evidence.contains("best before 2028-03-14 read in photo 2"),
        "{evidence}"
    );
}

async fn a_wrong_photo_is_removed_with_its_files_and_its_number_is_kept(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(
        &app,
        &admin,
        &p.org,
        "Black beans",
        &[("barcodes", BEANS_EAN)],
    )
    .await;
    let intake = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let ean = symbol(rxing::BarcodeFormat::EAN_13, BEANS_EAN, 3);
    for bytes in [photo(1200, 900, &[(&ean, 100, 100)]), photo(1200, 900, &[])] {
        let r = upload(&app, &admin, &intake, bytes, "image/jpeg").await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let view = settled(&app, &admin, &intake).await;
    assert_eq!(view["suggestions"][0]["product_id"], json!(beans));
    assert_eq!(stored_files(&app), 4, "two photos and their thumbnails");
    let wrong = view["photos"][0]["id"].as_str().unwrap().to_string();

    let r = app.call(&admin, "remove_photo", &[("id", &wrong)]).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let view = app.call(&admin, "intake", &[("id", &intake)]).await.body;
    let photos = view["photos"].as_array().unwrap();
    assert_eq!(photos.len(), 1);
    assert_eq!(photos[0]["number"], 2);
    assert_eq!(view["suggestions"], json!([]), "its barcode went with it");
    assert_eq!(stored_files(&app), 2);
    assert_eq!(
        app.count(&format!(
            "select count(*) from photo_findings where photo_id = '{wrong}'"
        ))
        .await,
        0
    );
    assert_eq!(
        app.count("select count(*) from events where type = 'PhotoRemoved'")
            .await,
        1
    );
    let res = admin
        .get(format!("{}/photos/{wrong}/thumbnail.jpg", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // The next photo is number 3: numbers in evidence stay true.
    let r = upload(&app, &admin, &intake, photo(800, 600, &[]), "image/jpeg").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = settled(&app, &admin, &intake).await;
    let numbers: Vec<i64> = view["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![2, 3]);

    // Removing it again, or an unknown photo: not found, nothing changes.
    let r = app.call(&admin, "remove_photo", &[("id", &wrong)]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{:?}", r.body);
    let r = app
        .call(&admin, "remove_photo", &[("id", "not-a-photo")])
        .await;
    assert!(r.status.is_client_error(), "{:?}", r.body);

    // Once confirmed, photos are the intake's record.
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": intake, "lines": [{ "product": beans, "quantity": "1" }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let kept = view["photos"][0]["id"].as_str().unwrap().to_string();
    let r = app.call(&admin, "remove_photo", &[("id", &kept)]).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{:?}", r.body);
    assert!(r.message().contains("stay"), "{}", r.message());
    assert_eq!(stored_files(&app), 4);
}

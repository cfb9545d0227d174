//! Item matching over HTTP: photos confirmed as one product each become the
//! pantry's matching set, and a new photo of one of those products, taken
//! in another scene, ranks it first and suggests it without any barcode.

use image::{Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;
use crate::inventory::{on_hand, product};
use crate::on_both_databases;
use crate::photos::{settled, upload};

on_both_databases!(a_new_photo_of_a_confirmed_product_ranks_it_first);

#[derive(Clone, Copy)]
enum Pattern {
    Dots,
    Stripes,
}

/// A package on a cluttered shelf: a `colour` box with a white `pattern`,
/// centred at (`x`, `y`) (fractions of the frame), `size` pixels tall, the
/// clutter drawn from `seed`, everything lightened or darkened by `light`.
fn scene(
    colour: [u8; 3],
    pattern: Pattern,
    seed: u64,
    x: f32,
    y: f32,
    size: f32,
    light: i32,
) -> Vec<u8> {
    let (w, h) = (1280u32, 960u32);
    let mut s = seed.max(1);
    let mut next = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 16) as u32
    };
    let mut img = RgbImage::from_pixel(w, h, Rgb([200, 195, 185]));
    for _ in 0..25 {
        let (cx, cy) = (next() % w, next() % h);
        let (rw, rh) = (40 + next() % 240, 40 + next() % 240);
        let c = [
            90 + (next() % 100) as u8,
            90 + (next() % 100) as u8,
            90 + (next() % 100) as u8,
        ];
        for yy in cy..(cy + rh).min(h) {
            for xx in cx..(cx + rw).min(w) {
                img.put_pixel(xx, yy, Rgb(c));
            }
        }
    }
    let (bw, bh) = (size * 0.7, size);
    let (x0, y0) = (x * w as f32 - bw / 2.0, y * h as f32 - bh / 2.0);
    for yy in 0..h {
        for xx in 0..w {
            let (u, v) = ((xx as f32 - x0) / bw, (yy as f32 - y0) / bh);
            if !(0.0..1.0).contains(&u) || !(0.0..1.0).contains(&v) {
                continue;
            }
            let mark = match pattern {
                Pattern::Dots => {
                    let (a, b) = ((u * 3.0).fract() - 0.5, (v * 4.0).fract() - 0.5);
                    a * a + b * b < 0.09
                }
                Pattern::Stripes => ((u + v) * 6.0).fract() < 0.45,
            };
            img.put_pixel(xx, yy, Rgb(if mark { [245, 240, 230] } else { colour }));
        }
    }
    for p in img.pixels_mut() {
        for c in p.0.iter_mut() {
            *c = (*c as i32 + light).clamp(0, 255) as u8;
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 88)
        .encode_image(&img)
        .unwrap();
    out
}

const RED: [u8; 3] = [190, 40, 35];
const BLUE: [u8; 3] = [40, 70, 170];

fn photo_ids(view: &Value) -> Vec<String> {
    view["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect()
}

async fn a_new_photo_of_a_confirmed_product_ranks_it_first(backend: Backend) {
    assert!(
        item_model().exists(),
        "{} is missing: scripts/setup-test.sh fetches it",
        item_model().display()
    );
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    // Two share a colour and two a pattern, so neither alone tells them apart.
    let tomatoes = product(&app, &admin, &p.org, "Tomato soup", &[]).await;
    let pasta = product(&app, &admin, &p.org, "Pasta", &[]).await;
    let tuna = product(&app, &admin, &p.org, "Tuna", &[]).await;

    // A first donation: one photo per product, nothing to match yet.
    let first = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    for (i, (colour, pattern)) in [
        (RED, Pattern::Dots),
        (RED, Pattern::Stripes),
        (BLUE, Pattern::Dots),
    ]
    .into_iter()
    .enumerate()
    {
        let r = upload(
            &app,
            &admin,
            &first,
            scene(colour, pattern, 11 + i as u64, 0.5, 0.5, 600.0, 0),
            "image/jpeg",
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
    let view = settled(&app, &admin, &first).await;
    assert!(
        view["photos"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["matches"] == json!([])),
        "{view}"
    );
    assert_eq!(
        view["suggestions"],
        json!([]),
        "nothing is known to match yet"
    );
    let ids = photo_ids(&view);

    // A photo cited by lines of two products teaches neither.
    let lines = json!([
        { "product": tomatoes, "quantity": "2", "photos": [ids[0]] },
        { "product": pasta, "quantity": "1", "photos": [ids[1]] },
        { "product": tuna, "quantity": "3", "photos": [ids[2]] },
    ]);
    let other = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": other, "lines": lines }),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "another intake's photos: {:?}",
        r.body
    );
    assert!(
        r.message().contains("not one of this intake's"),
        "{}",
        r.message()
    );
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": first, "lines": lines }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, &p.main, &tuna).await, 3);
    assert_eq!(app.count("select count(*) from product_photos").await, 3);

    // The pasta again, elsewhere in another scene, smaller and darker.
    let second = app
        .create(&admin, "create_intake", &[("pantry", &p.main)])
        .await;
    let r = upload(
        &app,
        &admin,
        &second,
        scene(RED, Pattern::Stripes, 99, 0.4, 0.55, 520.0, -25),
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let view = settled(&app, &admin, &second).await;
    let photo = &view["photos"][0];
    let matches = photo["matches"].as_array().unwrap();
    assert!(!matches.is_empty(), "no match: {photo}");
    assert_eq!(matches[0]["product_id"], json!(pasta), "ranked {matches:?}");
    assert_eq!(matches[0]["product_name"], "Pasta");
    let similarities: Vec<i64> = matches
        .iter()
        .map(|m| m["similarity"].as_i64().unwrap())
        .collect();
    assert!(
        similarities.windows(2).all(|w| w[0] >= w[1]),
        "{similarities:?}"
    );
    let suggestions = view["suggestions"].as_array().unwrap();
    assert_eq!(suggestions.len(), 1, "{suggestions:?}");
    let line = &suggestions[0];
    assert_eq!(line["product_id"], json!(pasta));
    assert_eq!(line["quantity"], "1");
    assert_eq!(line["photos"], json!([photo["id"]]));
    assert!(
        line["evidence"]
            .as_str()
            .unwrap()
            .contains("looks like confirmed photos of Pasta"),
        "{line}"
    );

    // Confirmed, the photo joins the set too.
    let r = app
        .call_json(
            &admin,
            "confirm_intake",
            &json!({ "id": second, "lines": [{ "product": pasta, "quantity": "1", "photos": [photo["id"]] }] }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(on_hand(&app, &p.main, &pasta).await, 2);
    assert_eq!(app.count("select count(*) from product_photos").await, 4);
    assert_eq!(
        app.count("select count(*) from photo_features where model = 'efficientnet-lite0'")
            .await,
        4
    );
}

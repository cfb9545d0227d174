//! The usage report, checked against sums computed here from the raw
//! tables.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row as _;

use crate::helpers::*;
use crate::inventory::ok_movement;
use crate::on_both_databases;

use super::{ok_visit, stocked};

on_both_databases!(report_totals_equal_sums_computed_from_the_movements,);

const DAY: i64 = 86_400_000;

fn noon(date: &str) -> i64 {
    let d = time::Date::parse(
        date,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .unwrap();
    d.midnight().assume_utc().unix_timestamp() * 1000 + DAY / 2
}

/// The first day of the period `ms` falls in, computed with the `time`
/// crate's calendar (the report uses day numbers of its own).
fn bucket(ms: i64, group: &str) -> time::Date {
    let d = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap()
        .date();
    match group {
        "day" => d,
        "week" => d - time::Duration::days(d.weekday().number_days_from_monday() as i64),
        _ => d.replace_day(1).unwrap(),
    }
}

#[derive(Default, Debug, PartialEq)]
struct Expected {
    visits: i64,
    households: i64,
    individuals: i64,
    items: i64,
    weight_g: i64,
}

async fn report_totals_equal_sums_computed_from_the_movements(backend: Backend) {
    let app = spawn_app(backend).await;
    let admin = app.setup_admin().await;
    let s = stocked(&app, &admin).await;
    let main = s.places.main.clone();
    let pool = app.server.state.db.pool().clone();

    // Visits spread over two months; moved back in time after recording.
    let visit_at = |id: String, date: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("update visits set occurred_at = $1 where id = $2")
                .bind(noon(date))
                .bind(&id)
                .execute(&pool)
                .await
                .unwrap();
            sqlx::query("update movements set occurred_at = $1 where visit_id = $2")
                .bind(noon(date))
                .bind(&id)
                .execute(&pool)
                .await
                .unwrap();
            id
        }
    };
    let v = |b: Value| b["id"].as_str().unwrap().to_string();
    let _v1 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "2"), (&s.rice, "1.5")],
            json!({"client_ref": "A1", "adults": "2", "children": "1"}),
        )
        .await),
        "2026-03-02",
    )
    .await;
    let _v2 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "1")],
            json!({"client_ref": "A1", "adults": "2"}),
        )
        .await),
        "2026-03-04",
    )
    .await;
    let _v3 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.rice, "0.5")],
            json!({"seniors": "1"}),
        )
        .await),
        "2026-03-04",
    )
    .await;
    let v4 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "3")],
            json!({"client_ref": "B2"}),
        )
        .await),
        "2026-03-10",
    )
    .await;
    let v5 = visit_at(
        v(ok_visit(&app, &admin, &main, &[(&s.soup, "1")], json!({})).await),
        "2026-04-15",
    )
    .await;
    let _v6 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &main,
            &[(&s.beans, "1")],
            // The same card written another way: one household.
            json!({"client_ref": "a-1", "adults": "3"}),
        )
        .await),
        "2026-04-15",
    )
    .await;
    // At the other pantry of the same campus.
    ok_movement(
        &app,
        &admin,
        "receive",
        &s.places.library,
        &s.soup,
        "4",
        &[],
    )
    .await;
    let _v7 = visit_at(
        v(ok_visit(
            &app,
            &admin,
            &s.places.library,
            &[(&s.soup, "2")],
            json!({"client_ref": "A1", "adults": "1"}),
        )
        .await),
        "2026-03-03",
    )
    .await;
    // Corrected and voided today; they count on their visits' days.
    let r = app
        .call_json(&admin, "correct_visit", &json!({"id": v4, "version": "1", "lines": [{"product": s.beans, "quantity": "1"}, {"product": s.soup, "quantity": "2"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = app
        .call(
            &admin,
            "void_visit",
            &[("id", &v5), ("version", "1"), ("reason", "Duplicate")],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);

    // Movements outside visits, moved into the period.
    let at = |m: Value, date: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query("update movements set occurred_at = $1 where id = $2")
                .bind(noon(date))
                .bind(m["movement_id"].as_str().unwrap())
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    at(
        ok_movement(&app, &admin, "distribute", &main, &s.soup, "1", &[]).await,
        "2026-03-10",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.beans,
            "50",
            &[("donor", "City Food Bank"), ("weight_g", "16000")],
        )
        .await,
        "2026-03-02",
    )
    .await;
    at(
        ok_movement(&app, &admin, "receive", &main, &s.rice, "20", &[]).await,
        "2026-03-02",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.soup,
            "12",
            &[("donor", "City Food Bank")],
        )
        .await,
        "2026-04-01",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "receive",
            &main,
            &s.soup,
            "30",
            &[("source", "purchase"), ("donor", "Grocer")],
        )
        .await,
        "2026-03-05",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.beans,
            "2",
            &[("reason", "damaged")],
        )
        .await,
        "2026-03-04",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.rice,
            "1",
            &[("reason", "expired")],
        )
        .await,
        "2026-03-10",
    )
    .await;
    // Outside the period: must not count.
    at(
        ok_movement(&app, &admin, "distribute", &main, &s.soup, "1", &[]).await,
        "2026-05-01",
    )
    .await;
    at(
        ok_movement(
            &app,
            &admin,
            "discard",
            &main,
            &s.soup,
            "1",
            &[("reason", "damaged")],
        )
        .await,
        "2026-02-28",
    )
    .await;

    // ---- the expected figures, from the raw rows
    let products: HashMap<String, (String, String, Option<i64>)> =
        sqlx::query("select id, unit, category, unit_weight_g from products")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r.get::<String, _>("id"),
                    (r.get("unit"), r.get("category"), r.get("unit_weight_g")),
                )
            })
            .collect();
    let weight = |p: &str, q: i64| -> i64 {
        let (unit, _, w) = &products[p];
        match unit.as_str() {
            "kg" => q, // grams already
            _ => q * w.unwrap_or(0),
        }
    };
    let items = |p: &str, q: i64| -> i64 {
        if products[p].0 == "each" {
            q
        } else {
            0
        }
    };
    let (from, to) = (noon("2026-03-01") - DAY / 2, noon("2026-04-30") + DAY / 2);
    let visits: Vec<(
        String,
        i64,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<i64>,
        String,
    )> = sqlx::query_as(
        "select pantry_id, occurred_at, client_ref, adults, children, seniors, status from visits",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let visit_times: HashMap<String, i64> =
        sqlx::query_as::<_, (String, i64)>("select id, occurred_at from visits")
            .fetch_all(&pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let movements: Vec<(String, String, String, i64, i64, Option<String>, Option<String>, Option<String>, Option<i64>, Option<String>)> = sqlx::query_as(
        "select pantry_id, product_id, kind, quantity, occurred_at, visit_id, source, donor, weight_g, reason from movements",
    )
    .fetch_all(&pool)
    .await
    .unwrap();

    for (scope, pantries) in [
        (format!("pantry:{main}"), vec![main.clone()]),
        (
            format!("campus:{}", s.places.campus),
            vec![main.clone(), s.places.library.clone()],
        ),
        (
            format!("organization:{}", s.places.org),
            vec![main.clone(), s.places.library.clone()],
        ),
    ] {
        for group in ["day", "week", "month"] {
            let r = app
                .call(
                    &admin,
                    "usage_report",
                    &[
                        ("scope", &scope),
                        ("from", "2026-03-01"),
                        ("to", "2026-04-30"),
                        ("group", group),
                    ],
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
            let report = r.body;
            let text = report.to_string();
            assert!(
                !text.contains("A1") && !text.contains("B2"),
                "client references leak into the report"
            );

            let mut expected: BTreeMap<String, Expected> = BTreeMap::new();
            let mut total = Expected::default();
            let key = |ms: i64| {
                let b = bucket(ms, group).max(time::macros::date!(2026 - 03 - 01));
                format!("{:04}-{:02}-{:02}", b.year(), u8::from(b.month()), b.day())
            };
            // Households and people: per client its latest recorded size.
            let mut per_period: BTreeMap<String, (BTreeMap<String, (i64, Option<i64>)>, i64, i64)> =
                BTreeMap::new();
            let mut whole: (BTreeMap<String, (i64, Option<i64>)>, i64, i64) = Default::default();
            for (pantry, at, client, a, c, se, status) in &visits {
                if !pantries.contains(pantry) || status != "recorded" || *at < from || *at >= to {
                    continue;
                }
                let size = if a.is_none() && c.is_none() && se.is_none() {
                    None
                } else {
                    Some(a.unwrap_or(0) + c.unwrap_or(0) + se.unwrap_or(0))
                };
                expected.entry(key(*at)).or_default().visits += 1;
                total.visits += 1;
                for acc in [per_period.entry(key(*at)).or_default(), &mut whole] {
                    match client {
                        Some(cl) => {
                            let card: String =
                                cl.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
                            let e = acc.0.entry(card).or_insert((*at, size));
                            if size.is_some() && (e.1.is_none() || *at >= e.0) {
                                *e = (*at, size);
                            }
                        }
                        None => {
                            acc.1 += 1;
                            acc.2 += size.unwrap_or(0);
                        }
                    }
                }
            }
            for (k, (clients, anon, people)) in &per_period {
                let e = expected.entry(k.clone()).or_default();
                e.households = clients.len() as i64 + anon;
                e.individuals = people + clients.values().filter_map(|v| v.1).sum::<i64>();
            }
            total.households = whole.0.len() as i64 + whole.1;
            total.individuals = whole.2 + whole.0.values().filter_map(|v| v.1).sum::<i64>();
            let mut categories: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            let mut donors: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
            let mut waste: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for (pantry, product, kind, q, at, visit, source, donor, weight_g, reason) in &movements
            {
                if !pantries.contains(pantry) {
                    continue;
                }
                let when = visit.as_ref().map(|v| visit_times[v]).unwrap_or(*at);
                if when < from || when >= to {
                    continue;
                }
                match kind.as_str() {
                    "distributed" => {
                        let e = expected.entry(key(when)).or_default();
                        e.items -= items(product, *q);
                        e.weight_g -= weight(product, *q);
                        total.items -= items(product, *q);
                        total.weight_g -= weight(product, *q);
                        let c = categories.entry(products[product].1.clone()).or_default();
                        c.0 -= items(product, *q);
                        c.1 -= weight(product, *q);
                    }
                    "received" if source.as_deref() == Some("donation") => {
                        let name = donor
                            .clone()
                            .filter(|d| !d.is_empty())
                            .unwrap_or_else(|| "Anonymous".into());
                        let d = donors.entry(name).or_default();
                        d.0 += 1;
                        d.1 += items(product, *q);
                        d.2 += weight_g.unwrap_or_else(|| weight(product, *q));
                    }
                    "discarded" => {
                        let w = waste.entry(reason.clone().unwrap_or_default()).or_default();
                        w.0 -= items(product, *q);
                        w.1 -= weight(product, *q);
                    }
                    _ => {}
                }
            }

            let periods = report["periods"].as_array().unwrap();
            let mut seen = BTreeSet::new();
            for p in periods {
                let start = p["start"].as_str().unwrap().to_string();
                let want = expected
                    .get(&start)
                    .map(|e| (e.visits, e.households, e.individuals, e.items, e.weight_g))
                    .unwrap_or_default();
                let got = (
                    p["visits"].as_i64().unwrap(),
                    p["households"].as_i64().unwrap(),
                    p["individuals"].as_i64().unwrap(),
                    p["items"].as_i64().unwrap(),
                    p["weight_g"].as_i64().unwrap(),
                );
                assert_eq!(got, want, "{scope} by {group}, period {start}");
                seen.insert(start);
            }
            for k in expected.keys() {
                assert!(seen.contains(k), "{scope} by {group}: no period for {k}");
            }
            let t = &report["totals"];
            assert_eq!(
                (
                    t["visits"].as_i64().unwrap(),
                    t["households"].as_i64().unwrap(),
                    t["individuals"].as_i64().unwrap(),
                    t["items"].as_i64().unwrap(),
                    t["weight_g"].as_i64().unwrap()
                ),
                (
                    total.visits,
                    total.households,
                    total.individuals,
                    total.items,
                    total.weight_g
                ),
                "{scope} by {group}: totals"
            );
            let got_categories: BTreeMap<String, (i64, i64)> = report["by_category"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["category"].as_str().unwrap().to_string(),
                        (
                            c["items"].as_i64().unwrap(),
                            c["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            categories.retain(|_, v| *v != (0, 0) || got_categories.is_empty());
            let got_categories: BTreeMap<_, _> = got_categories
                .into_iter()
                .filter(|(_, v)| *v != (0, 0))
                .collect();
            assert_eq!(got_categories, categories, "{scope}: categories");
            let got_donors: BTreeMap<String, (i64, i64, i64)> = report["donations"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    (
                        d["donor"].as_str().unwrap().to_string(),
                        (
                            d["donations"].as_i64().unwrap(),
                            d["items"].as_i64().unwrap(),
                            d["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got_donors, donors, "{scope}: donations");
            let got_waste: BTreeMap<String, (i64, i64)> = report["waste"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| {
                    (
                        w["reason"].as_str().unwrap().to_lowercase(),
                        (
                            w["items"].as_i64().unwrap(),
                            w["weight_g"].as_i64().unwrap(),
                        ),
                    )
                })
                .collect();
            assert_eq!(got_waste, waste, "{scope}: waste");
        }
    }
    // A sanity anchor on the fixture itself, so the comparison above
    // cannot pass on two empty sides.
    let r = app
        .call(
            &admin,
            "usage_report",
            &[
                ("scope", &format!("campus:{}", s.places.campus)),
                ("from", "2026-03-01"),
                ("to", "2026-04-30"),
                ("group", "month"),
            ],
        )
        .await;
    let t = &r.body["totals"];
    assert_eq!(t["visits"], 6, "v1 v2 v3 v4 v6 v7; v5 voided");
    assert_eq!(t["households"], 3, "A1, B2, and one anonymous");
    assert_eq!(
        t["individuals"], 4,
        "A1's latest size 3, anonymous senior 1, B2 unsized"
    );
    // beans 2+1+1(v4 corrected)+1 = 5, soup v4 2 + lone 1 + library 2 = 5
    assert_eq!(t["items"], 10);

    // The CSV has every table and the whole-period row.
    let (status, csv) = app
        .get(
            &admin,
            &format!(
                "/reports/usage.csv?scope=pantry:{main}&from=2026-03-01&to=2026-04-30&group=week"
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    for needle in [
        "period,start,visits,households,individuals,items,weight_kg,imported_items,imported_weight_kg",
        "category,items,weight_kg",
        "donor,donations,items,weight_kg",
        "City Food Bank",
        "waste reason",
    ] {
        assert!(csv.contains(needle), "{needle} missing from {csv}");
    }
    // Bad periods are refused with the field.
    for (from, to, field) in [
        ("2026-04-01", "2026-03-01", "to"),
        ("2026-02-30", "2026-03-01", "from"),
        ("2020-01-01", "2026-03-01", "to"),
    ] {
        let r = app
            .call(
                &admin,
                "usage_report",
                &[
                    ("scope", &format!("pantry:{main}")),
                    ("from", from),
                    ("to", to),
                ],
            )
            .await;
        assert_eq!(
            (r.status, r.field()),
            (StatusCode::UNPROCESSABLE_ENTITY, field),
            "{from} {to}"
        );
    }
    let r = app
        .call(
            &admin,
            "usage_report",
            &[
                ("scope", &format!("pantry:{main}")),
                ("from", "2026-03-01"),
                ("to", "2026-03-02"),
                ("group", "year"),
            ],
        )
        .await;
    assert_eq!(
        (r.status, r.field()),
        (StatusCode::UNPROCESSABLE_ENTITY, "group")
    );
    app.server.stop().await.ok();
}

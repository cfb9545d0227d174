//! The load and fault driver for `bench/scaleout.sh`, which starts the
//! engines, the replicas and the load balancer and injects the faults.
//! Not a test: it measures, and checks what the issue asks be true
//! afterwards.
//!
//! Against the load balancer, C clients run a mixed load for T seconds:
//! stock overviews (reads, served from each replica's cache when fresh)
//! and receipts (writes). It keeps every acknowledged receipt's movement
//! id, a per-second count of answers and errors, and (from the database)
//! the consumers' lag behind the event log. Afterwards it checks:
//! every acknowledged write is in the database; the daily reports (a
//! durable consumer's effect) equal the ledger, so no event was applied
//! twice or lost; every replica's stock answer equals the database's; and
//! a live stream on every replica hears the last change.
//!
//! Environment: LARDER_BENCH_LB (the balancer's base URL), LARDER_BENCH_REPLICAS
//! (the replicas' base URLs, comma-separated), LARDER_BENCH_DB (PostgreSQL
//! URL), LARDER_BENCH_SECONDS (30), LARDER_BENCH_CLIENTS (16),
//! LARDER_BENCH_WRITES (percent of requests that write, 20),
//! LARDER_BENCH_LABEL, LARDER_BENCH_FAULTS (a file the script appends
//! `name start_ms end_ms` lines to), LARDER_BENCH_ADMIN (email:password).
//! Prints one Markdown table row, then the fault table when there were
//! faults; exits non-zero when a check fails.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::Client;
use serde_json::Value;
use sqlx::{Connection, Row};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn call(
    c: &Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let res = c
        .post(format!("{base}/api/{endpoint}"))
        .form(form)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| format!("{endpoint}: {e}"))?;
    let status = res.status();
    let text = res.text().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{endpoint}: {status} {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("{endpoint}: {e}: {text}"))
}

fn id(v: &Value) -> String {
    v.as_str()
        .map(str::to_string)
        .or_else(|| v["id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no id in {v}"))
}

/// One second of the run: answers, errors, and the consumers' lag.
#[derive(Default, Clone, Copy)]
struct Second {
    ok: u64,
    errors: u64,
    lag: i64,
}

struct Run {
    latencies: Mutex<Vec<f64>>,
    acknowledged: Mutex<Vec<String>>,
    timeline: Mutex<BTreeMap<i64, Second>>,
    reads: std::sync::atomic::AtomicU64,
    writes: std::sync::atomic::AtomicU64,
}

impl Run {
    fn record(&self, ok: bool) {
        let second = now_ms() / 1000;
        let mut t = self.timeline.lock().unwrap();
        let s = t.entry(second).or_default();
        if ok {
            s.ok += 1;
        } else {
            s.errors += 1;
        }
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// The durable consumers' lag behind the log, and the log's head.
async fn lag(db: &mut sqlx::AnyConnection, durable: &[String]) -> Result<(i64, i64), sqlx::Error> {
    let head: i64 = sqlx::query_scalar("select coalesce(max(seq), 0) from events")
        .fetch_one(&mut *db)
        .await?;
    let mut lowest = head;
    for name in durable {
        let at: Option<i64> =
            sqlx::query_scalar("select last_seq from consumer_checkpoints where consumer = $1")
                .bind(name)
                .fetch_optional(&mut *db)
                .await?;
        lowest = lowest.min(at.unwrap_or(0));
    }
    Ok((head - lowest, head))
}

/// The consumers that keep their state in the database (and checkpoints).
const DURABLE: &[&str] = &["daily-flows", "notifier", "stock-analyser"];

#[tokio::main]
async fn main() {
    if std::env::var("LARDER_BENCH_LB").is_err() {
        eprintln!("run through bench/scaleout.sh");
        return;
    }
    sqlx::any::install_default_drivers();
    let lb = env("LARDER_BENCH_LB", "");
    let replicas: Vec<String> = env("LARDER_BENCH_REPLICAS", "")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let db_url = env("LARDER_BENCH_DB", "");
    let seconds: u64 = env("LARDER_BENCH_SECONDS", "30").parse().unwrap();
    let clients: usize = env("LARDER_BENCH_CLIENTS", "16").parse().unwrap();
    let writes: u64 = env("LARDER_BENCH_WRITES", "20").parse().unwrap();
    let label = env(
        "LARDER_BENCH_LABEL",
        &format!("{} replicas", replicas.len()),
    );
    let (email, password) = env("LARDER_BENCH_ADMIN", "bench@larder.test:bench passphrase 1")
        .split_once(':')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();

    let admin = Client::builder().cookie_store(true).build().unwrap();
    call(
        &admin,
        &lb,
        "sign_in",
        &[("email", &email), ("password", &password)],
    )
    .await
    .expect("the admin signs in");
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let org = id(&call(
        &admin,
        &lb,
        "create_organization",
        &[("name", &format!("Bench {suffix}"))],
    )
    .await
    .unwrap());
    let campus = id(&call(
        &admin,
        &lb,
        "create_campus",
        &[("organization", &org), ("name", "Main")],
    )
    .await
    .unwrap());
    let pantry = id(&call(
        &admin,
        &lb,
        "create_pantry",
        &[("campus", &campus), ("name", "Pantry")],
    )
    .await
    .unwrap());
    let mut products = Vec::new();
    for i in 0..20 {
        products.push(id(&call(
            &admin,
            &lb,
            "create_product",
            &[
                ("organization", &org),
                ("name", &format!("Item {i}")),
                ("category", "Canned goods"),
                ("unit", "each"),
            ],
        )
        .await
        .unwrap()));
    }
    let products = Arc::new(products);

    // A live stream on every replica, read in the background, reconnecting
    // as a browser's EventSource does when its replica goes away.
    let mut streams = Vec::new();
    for base in &replicas {
        let url = format!("{base}/live/pantries/{pantry}");
        let first = admin.get(&url).send().await.expect("a live stream opens");
        assert!(
            first.status().is_success(),
            "live stream on {base}: {}",
            first.status()
        );
        let heard = Arc::new(Mutex::new(String::new()));
        let h = heard.clone();
        let client = admin.clone();
        tokio::spawn(async move {
            let mut res = Some(first);
            loop {
                if let Some(mut r) = res.take() {
                    while let Ok(Some(chunk)) = r.chunk().await {
                        let mut h = h.lock().unwrap();
                        h.push_str(&String::from_utf8_lossy(&chunk));
                        if h.len() > 1 << 20 {
                            let cut = h.len() - (1 << 19);
                            *h = h[cut..].to_string();
                        }
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                res = client
                    .get(&url)
                    .send()
                    .await
                    .ok()
                    .filter(|r| r.status().is_success());
            }
        });
        streams.push((base.clone(), heard));
    }

    let run = Arc::new(Run {
        latencies: Default::default(),
        acknowledged: Default::default(),
        timeline: Default::default(),
        reads: Default::default(),
        writes: Default::default(),
    });
    let mut db = sqlx::AnyConnection::connect(&db_url)
        .await
        .expect("the bench reads the database");
    let durable: Vec<String> = DURABLE.iter().map(|s| s.to_string()).collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for n in 0..clients {
        let (run, admin, lb, pantry, products) = (
            run.clone(),
            admin.clone(),
            lb.clone(),
            pantry.clone(),
            products.clone(),
        );
        workers.push(tokio::spawn(async move {
            let mut i: u64 = n as u64;
            while Instant::now() < deadline {
                i = i
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let write = (i >> 33) % 100 < writes;
                let t = Instant::now();
                let outcome = if write {
                    let product = &products[((i >> 17) % products.len() as u64) as usize];
                    call(
                        &admin,
                        &lb,
                        "receive",
                        &[("pantry", &pantry), ("product", product), ("quantity", "1")],
                    )
                    .await
                    .map(|v| {
                        run.acknowledged.lock().unwrap().push(id(&v["movement_id"]));
                    })
                } else {
                    call(
                        &admin,
                        &lb,
                        "stock_overview",
                        &[("scope", &format!("pantry:{pantry}"))],
                    )
                    .await
                    .map(|_| ())
                };
                let ok = outcome.is_ok();
                run.record(ok);
                if ok {
                    run.latencies
                        .lock()
                        .unwrap()
                        .push(t.elapsed().as_secs_f64() * 1000.0);
                    let counter = if write { &run.writes } else { &run.reads };
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                } else {
                    // A failed request is retried after a pause, as a
                    // browser's user would; it is not counted as written.
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    // The consumers' lag, once a second (reconnecting when the database
    // restarts under the run).
    while Instant::now() < deadline {
        let second = now_ms() / 1000;
        match lag(&mut db, &durable).await {
            Ok((l, _)) => {
                run.timeline.lock().unwrap().entry(second).or_default().lag = l;
            }
            Err(_) => {
                if let Ok(c) = sqlx::AnyConnection::connect(&db_url).await {
                    db = c;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    for w in workers {
        w.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();

    // Afterwards: the consumers catch up.
    let mut db = sqlx::AnyConnection::connect(&db_url).await.unwrap();
    let caught = Instant::now();
    loop {
        let (l, _) = lag(&mut db, &durable).await.unwrap();
        if l == 0 {
            break;
        }
        if caught.elapsed() > Duration::from_secs(180) {
            panic!("the consumers are still {l} events behind three minutes after the load");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let catch_up = caught.elapsed().as_secs_f64();

    let mut failures = Vec::new();
    // Every acknowledged write is in the database.
    let acknowledged = run.acknowledged.lock().unwrap().clone();
    let mut present = 0usize;
    for chunk in acknowledged.chunks(500) {
        let list = chunk
            .iter()
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",");
        let n: i64 = sqlx::query_scalar(&format!(
            "select count(*) from movements where id in ({list})"
        ))
        .fetch_one(&mut db)
        .await
        .unwrap();
        present += n as usize;
    }
    let unique: HashSet<&String> = acknowledged.iter().collect();
    if present != acknowledged.len() || unique.len() != acknowledged.len() {
        failures.push(format!(
            "{} acknowledged, {present} present",
            acknowledged.len()
        ));
    }
    // The daily reports equal the ledger: no event applied twice, none lost.
    let row = sqlx::query(&format!(
        "select cast(coalesce(sum(quantity), 0) as bigint) as q, count(*) as n from movements m \
         join pantries p on p.id = m.pantry_id where p.id = '{pantry}' and m.kind = 'received'"
    ))
    .fetch_one(&mut db)
    .await
    .unwrap();
    let (ledger, rows): (i64, i64) = (row.get("q"), row.get("n"));
    let row = sqlx::query(&format!(
        "select cast(coalesce(sum(quantity), 0) as bigint) as q, cast(coalesce(sum(movements), 0) as bigint) as n \
         from daily_flows where pantry_id = '{pantry}' and kind = 'received'"
    ))
    .fetch_one(&mut db)
    .await
    .unwrap();
    let (rolled, counted): (i64, i64) = (row.get("q"), row.get("n"));
    let duplicates = counted - rows;
    if (rolled, counted) != (ledger, rows) {
        failures.push(format!(
            "daily reports {rolled} units / {counted} movements, ledger {ledger} / {rows}"
        ));
    }
    // Every replica's answer is the database's (caches not stale).
    let truth: i64 = sqlx::query_scalar(&format!(
        "select cast(coalesce(sum(on_hand), 0) as bigint) from stock_levels where pantry_id = '{pantry}'"
    ))
    .fetch_one(&mut db)
    .await
    .unwrap();
    let mut stale = 0;
    for base in &replicas {
        let mut fresh = false;
        for _ in 0..50 {
            let v = call(
                &admin,
                base,
                "stock_overview",
                &[("scope", &format!("pantry:{pantry}"))],
            )
            .await;
            let units: i64 = v
                .as_ref()
                .map(|v| {
                    v["categories"]
                        .as_array()
                        .map(|a| a.iter().map(|c| c["units"].as_i64().unwrap_or(0)).sum())
                        .unwrap_or(0)
                })
                .unwrap_or(-1);
            if units == truth {
                fresh = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !fresh {
            stale += 1;
            failures.push(format!(
                "{base} does not answer the database's {truth} units"
            ));
        }
    }
    // One last receipt: every replica's live stream hears it.
    let last = call(
        &admin,
        &lb,
        "receive",
        &[
            ("pantry", &pantry),
            ("product", &products[0]),
            ("quantity", "7"),
        ],
    )
    .await
    .expect("the last receipt");
    let want = format!("\"on_hand\":{}", last["on_hand"]);
    let mut deaf = 0;
    for (base, heard) in &streams {
        let mut ok = false;
        for _ in 0..100 {
            if heard.lock().unwrap().contains(&want) {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !ok {
            deaf += 1;
            failures.push(format!("the live stream on {base} did not hear {want}"));
        }
    }

    let mut lat = run.latencies.lock().unwrap().clone();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let timeline = run.timeline.lock().unwrap().clone();
    let errors: u64 = timeline.values().map(|s| s.errors).sum();
    let reads = run.reads.load(std::sync::atomic::Ordering::Relaxed);
    let wrote = run.writes.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "| {label} | {:.0} | {:.0} | {:.0} | {:.1} | {:.1} | {errors} | {} / {present} | {duplicates} | {stale} | {deaf} | {catch_up:.1} s |",
        (reads + wrote) as f64 / elapsed,
        reads as f64 / elapsed,
        wrote as f64 / elapsed,
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        acknowledged.len(),
    );

    // Faults: errors while each lasted, and how long after it ended the
    // requests and the consumers took to recover.
    if let Ok(path) = std::env::var("LARDER_BENCH_FAULTS") {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let faults: Vec<(String, i64, i64)> = text
            .lines()
            .filter_map(|l| {
                let mut p = l.split_whitespace();
                Some((
                    p.next()?.replace('_', " "),
                    p.next()?.parse().ok()?,
                    p.next()?.parse().ok()?,
                ))
            })
            .collect();
        if !faults.is_empty() {
            println!();
            println!("| fault | lasted | failed requests | requests recovered after | consumer lag before | consumers caught up after |");
            println!("|---|---|---|---|---|---|");
        }
        for (name, start, end) in faults {
            let (s0, s1) = (start / 1000, end / 1000);
            let during: u64 = timeline.range(s0..=s1 + 2).map(|(_, s)| s.errors).sum();
            // Requests: the first second from the end on after which three
            // seconds in a row answered without an error.
            let seconds: Vec<(i64, Second)> = timeline.range(s1..).map(|(k, v)| (*k, *v)).collect();
            let requests = seconds
                .windows(3)
                .find(|w| w.iter().all(|(_, s)| s.errors == 0 && s.ok > 0))
                .map(|w| format!("{} s", w[0].0 - s1))
                .unwrap_or_else(|| "not within the run".into());
            let mut before: Vec<i64> = timeline.range(s0 - 10..s0).map(|(_, s)| s.lag).collect();
            before.sort();
            let normal = before.last().copied().unwrap_or(0).max(50);
            let events = seconds
                .iter()
                .find(|(_, s)| s.lag <= normal)
                .map(|(k, _)| format!("{} s", k - s1))
                .unwrap_or_else(|| "after the run (see catch-up)".into());
            println!(
                "| {name} | {} s | {during} | {requests} | ≤ {normal} events | {events} |",
                s1 - s0
            );
        }
    }
    if !failures.is_empty() {
        eprintln!("CHECKS FAILED ({label}):");
        for f in &failures {
            eprintln!("  {f}");
        }
        std::process::exit(1);
    }
}

//! Inventory benchmarks, run by `bench/inventory.sh` (which writes the
//! figures into docs/BENCHMARKS.md). Not a test: it measures.
//!
//! 1. Write path: stock movements per second and their latency over HTTP
//!    with N concurrent clients, next to the raw rate of single-row insert
//!    transactions on the same database engine, same pool, same settings,
//!    in the same run.
//! 2. Read path: the stock overview and low-stock queries at 10,000
//!    products, 20 pantries and 1,000,000 movements, p50/p99 over HTTP,
//!    with the cache cold (invalidated before every request) and warm.
//!
//! Environment: LARDER_BENCH_POSTGRES_URL (an admin URL; required unless
//! LARDER_BENCH_BACKENDS=sqlite), LARDER_BENCH_BACKENDS (sqlite,postgres),
//! LARDER_BENCH_CLIENTS (16), LARDER_BENCH_SECONDS (8),
//! LARDER_BENCH_ROUNDS (5: write measurements, raw and movements in turn),
//! LARDER_BENCH_PRODUCTS (10000), LARDER_BENCH_PANTRIES (20),
//! LARDER_BENCH_MOVEMENTS (1000000), LARDER_BENCH_SAMPLES (200),
//! LARDER_BENCH_KEEP (a path: keep a copy of the seeded SQLite database).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app::db::Db;
use reqwest::Client;
use serde_json::Value;
use sqlx::Connection;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Settings {
    clients: usize,
    seconds: u64,
    products: usize,
    pantries: usize,
    movements: usize,
    samples: usize,
    rounds: usize,
}

async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("larder.db").display()),
        Backend::Postgres => {
            let admin =
                std::env::var("LARDER_BENCH_POSTGRES_URL").expect("LARDER_BENCH_POSTGRES_URL");
            let name = format!("larder_bench_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("create database {name}"))
                .execute(&mut conn)
                .await
                .unwrap();
            conn.close().await.ok();
            let (prefix, _) = admin.rsplit_once('/').unwrap();
            format!("{prefix}/{name}")
        }
    }
}

/// The middle value (the mean of the middle two for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Latency summary in milliseconds.
fn percentiles(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q).round() as usize];
    (at(0.50), at(0.99))
}

/// Busy and total jiffies of the whole machine, from `/proc/stat`.
fn cpu_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    let total: u64 = fields.iter().take(8).sum();
    // idle and iowait are the 4th and 5th fields.
    let idle = fields.get(3).copied().unwrap_or(0) + fields.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

struct Rate {
    per_second: f64,
    /// Share of the machine's CPU busy during the measurement (all
    /// processes: load clients, server, database).
    cpu_busy: f64,
    /// Core-milliseconds of the whole machine per operation.
    cpu_ms_per_op: f64,
    p50_ms: f64,
    p99_ms: f64,
    count: usize,
}

/// Runs `op` from `clients` tasks for `seconds` (after a short warm-up)
/// and reports the rate and latency.
async fn load<F, Fut>(clients: usize, seconds: u64, op: F) -> Rate
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let warm = Instant::now() + Duration::from_secs(2);
    let end = warm + Duration::from_secs(seconds);
    let cpu = tokio::spawn(async move {
        tokio::time::sleep_until(warm.into()).await;
        let before = cpu_jiffies();
        tokio::time::sleep_until(end.into()).await;
        let after = cpu_jiffies();
        (after.0 - before.0, after.1 - before.1)
    });
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let op = op.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0u64;
                loop {
                    let start = Instant::now();
                    if start >= end {
                        return lat;
                    }
                    op(c, n).await;
                    n += 1;
                    if start >= warm {
                        lat.push(start.elapsed().as_secs_f64() * 1000.0);
                    }
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let count = all.len();
    let (p50_ms, p99_ms) = percentiles(all);
    let (busy, total) = cpu.await.unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let cpu_busy = busy as f64 / total.max(1) as f64;
    Rate {
        per_second: count as f64 / seconds as f64,
        cpu_busy,
        cpu_ms_per_op: cpu_busy * cores * seconds as f64 * 1000.0 / count.max(1) as f64,
        p50_ms,
        p99_ms,
        count,
    }
}

/// Single-row insert transactions straight through the app's pool, with the
/// app's connection settings (WAL and `begin immediate` on SQLite), from
/// `clients` tasks at once.
async fn raw_inserts(backend: Backend, s: &Settings, clients: usize) -> Rate {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let db = Db::connect(&url).await.unwrap();
    sqlx::query("create table bench_raw (id text primary key, payload text not null, created_at bigint not null)")
        .execute(db.pool())
        .await
        .unwrap();
    let db = Arc::new(db);
    load(clients, s.seconds, move |_, _| {
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            sqlx::query("insert into bench_raw (id, payload, created_at) values ($1, $2, $3)")
                .bind(uuid::Uuid::now_v7().to_string())
                .bind("a movement-sized row of text")
                .bind(app::db::now_ms())
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
    })
    .await
}

struct App {
    server: server::Server,
    base: String,
    admin: Client,
    _dir: tempfile::TempDir,
}

async fn start(backend: Backend) -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(backend, dir.path()).await;
    let vars: HashMap<String, String> = [
        ("LARDER_LISTEN", "127.0.0.1:0".to_string()),
        ("LARDER_METRICS_LISTEN", "127.0.0.1:0".to_string()),
        ("LARDER_SETUP_CODE", "BENCH-SETUP-CODE".to_string()),
        // Every load client shares the loopback address; the per-address
        // allowance would cap the measured rate at 20 writes a second.
        ("LARDER_RATE_LIMIT_PER_ADDRESS", "0".to_string()),
        ("LARDER_PUBLIC_URL", "http://larder.bench".to_string()),
        ("LARDER_DATA_DIR", dir.path().display().to_string()),
        (
            "LARDER_SITE_ROOT",
            dir.path().join("site").display().to_string(),
        ),
        ("DATABASE_URL", url),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let config = server::config::Config::load(|k| vars.get(k).cloned()).unwrap();
    let server = server::start(config).await.unwrap();
    let base = format!("http://{}", server.addr);
    let admin = Client::builder()
        .cookie_store(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let app = App {
        server,
        base,
        admin,
        _dir: dir,
    };
    call(
        &app,
        "setup",
        &[
            ("code", "BENCH-SETUP-CODE"),
            ("name", "Bench"),
            ("email", "bench@larder.example"),
            ("password", "correct horse battery"),
        ],
    )
    .await;
    app
}

async fn call(app: &App, endpoint: &str, form: &[(&str, &str)]) -> Value {
    let r = app
        .admin
        .post(format!("{}/api/{endpoint}", app.base))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{endpoint}: {status} {body}");
    body
}

async fn id(app: &App, endpoint: &str, form: &[(&str, &str)]) -> String {
    call(app, endpoint, form)
        .await
        .as_str()
        .unwrap()
        .to_string()
}

/// The movement writer's counters from `/metrics`: batches, commands,
/// seconds spent writing, and batches written from memory.
async fn writer_counters(app: &App) -> (f64, f64, f64, f64) {
    let text = app
        .admin
        .get(format!(
            "http://{}/metrics",
            app.server.metrics_addr.expect("the bench serves metrics")
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (
        value("larder_movement_batches_total"),
        value("larder_movement_batch_commands_total"),
        value("larder_movement_batch_seconds_total"),
        value("larder_movement_batches_remembered_total"),
    )
}

/// What the writer's batches looked like during a measurement.
struct Batches {
    mean_size: f64,
    mean_ms: f64,
    /// The share of them written from the writer's memory, in one round
    /// trip.
    remembered: f64,
}

/// The full write path: HTTP, session, checks, ledger, lots, projection,
/// event; each client distributes its own product one unit at a time.
async fn http_movements(backend: Backend, s: &Settings) -> (Rate, Rate, Batches) {
    let app = start(backend).await;
    let org = id(&app, "create_organization", &[("name", "Bench College")]).await;
    let campus = id(
        &app,
        "create_campus",
        &[("organization", &org), ("name", "Main")],
    )
    .await;
    let pantry = id(
        &app,
        "create_pantry",
        &[("campus", &campus), ("name", "Pantry")],
    )
    .await;
    let mut products = Vec::new();
    for i in 0..s.clients {
        let p = id(
            &app,
            "create_product",
            &[
                ("organization", &org),
                ("name", &format!("Item {i}")),
                ("category", "Canned goods"),
            ],
        )
        .await;
        call(
            &app,
            "receive",
            &[
                ("pantry", &pantry),
                ("product", &p),
                ("quantity", "1000000000"),
            ],
        )
        .await;
        products.push(p);
    }
    let scope = format!("pantry:{pantry}");
    let (admin, base) = (app.admin.clone(), app.base.clone());
    let products = Arc::new(products);
    let before = writer_counters(&app).await;
    let rate = load(s.clients, s.seconds, move |c, _| {
        let (admin, base, pantry, products) = (
            admin.clone(),
            base.clone(),
            pantry.clone(),
            products.clone(),
        );
        async move {
            let r = admin
                .post(format!("{base}/api/distribute"))
                .form(&[
                    ("pantry", pantry.as_str()),
                    ("product", products[c].as_str()),
                    ("quantity", "1"),
                ])
                .send()
                .await
                .unwrap();
            assert!(
                r.status().is_success(),
                "{}",
                r.text().await.unwrap_or_default()
            );
            r.bytes().await.unwrap();
        }
    })
    .await;
    let after = writer_counters(&app).await;
    let batches = (after.0 - before.0).max(1.0);
    let batches = Batches {
        mean_size: (after.1 - before.1) / batches,
        mean_ms: (after.2 - before.2) * 1000.0 / batches,
        remembered: (after.3 - before.3) / batches,
    };
    // The same clients and HTTP path without the write: a cached stock
    // read of the same pantry (session, one pantry query, the cache). What
    // the server function path alone costs on this machine.
    let (admin, base) = (app.admin.clone(), app.base.clone());
    let read = load(s.clients, s.seconds, move |_, _| {
        let (admin, base, scope) = (admin.clone(), base.clone(), scope.clone());
        async move {
            let r = admin
                .post(format!("{base}/api/stock_overview"))
                .form(&[("scope", scope.as_str())])
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success());
            r.bytes().await.unwrap();
        }
    })
    .await;
    app.server.stop().await.ok();
    (rate, read, batches)
}

/// Seeds the catalog, stock, lots and ledger straight into the database.
async fn seed(app: &App, org: &str, pantries: &[String], s: &Settings) {
    let pool = app.server.state.db.pool();
    let categories = app::catalog::model::SUGGESTED_CATEGORIES;
    let now = app::db::now_ms();
    let actor: String = sqlx::query_scalar("select id from users")
        .fetch_one(pool)
        .await
        .unwrap();
    let mut product_ids = Vec::with_capacity(s.products);
    for chunk in (0..s.products).collect::<Vec<_>>().chunks(500) {
        let mut sql = String::from("insert into products (id, organization_id, name, name_key, category, category_key, unit, unit_weight_g, perishable, created_at, updated_at) values ");
        let mut rows = Vec::new();
        for (j, i) in chunk.iter().enumerate() {
            let b = j * 7;
            rows.push(format!(
                "(${}, ${}, ${}, ${}, ${}, ${}, ${}, 400, 0, {now}, {now})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7
            ));
            let _ = i;
        }
        sql.push_str(&rows.join(", "));
        let mut q = sqlx::query(&sql);
        for i in chunk {
            let pid = uuid::Uuid::now_v7().to_string();
            let name = format!("Product {i:05}");
            let cat = categories[i % categories.len()];
            q = q
                .bind(pid.clone())
                .bind(org.to_string())
                .bind(name.clone())
                .bind(name.to_lowercase())
                .bind(cat)
                .bind(cat.to_lowercase())
                .bind(if i % 10 == 0 { "kg" } else { "each" });
            product_ids.push(pid);
        }
        q.execute(pool).await.unwrap();
    }
    // One stock row per (pantry, product), its key k numbering them.
    sqlx::query("create table bench_keys (k bigint primary key, pantry_id text not null, product_id text not null, received bigint not null)")
        .execute(pool)
        .await
        .unwrap();
    let keys: Vec<(usize, &String, &String)> = pantries
        .iter()
        .flat_map(|p| product_ids.iter().map(move |q| (p, q)))
        .enumerate()
        .map(|(k, (p, q))| (k, p, q))
        .collect();
    let per_row = (s.movements / keys.len()).max(1);
    let today = time::OffsetDateTime::now_utc().date();
    for chunk in keys.chunks(1000) {
        let mut k_sql =
            String::from("insert into bench_keys (k, pantry_id, product_id, received) values ");
        let mut s_sql = String::from("insert into stock_levels (pantry_id, product_id, organization_id, on_hand, minimum, updated_at) values ");
        let mut l_sql = String::from("insert into lots (id, pantry_id, product_id, best_before, quantity, received_at) values ");
        let (mut kr, mut sr, mut lr) = (Vec::new(), Vec::new(), Vec::new());
        for (j, (k, _, _)) in chunk.iter().enumerate() {
            let received = (per_row as i64 - 1) + (*k as i64 * 7 % 50);
            let on_hand = received - (per_row as i64 - 1);
            let minimum = if k % 10 == 0 { 10 } else { 0 };
            let bb = today + time::Duration::days((*k % 365) as i64);
            let bb = format!(
                "{:04}-{:02}-{:02}",
                bb.year(),
                u8::from(bb.month()),
                bb.day()
            );
            let (a, b) = (j * 2 + 1, j * 2 + 2);
            kr.push(format!("({k}, ${a}, ${b}, {received})"));
            sr.push(format!(
                "(${a}, ${b}, '{org}', {on_hand}, {minimum}, {now})"
            ));
            lr.push(format!(
                "('{}', ${a}, ${b}, '{bb}', {on_hand}, {now})",
                uuid::Uuid::now_v7()
            ));
        }
        k_sql.push_str(&kr.join(", "));
        s_sql.push_str(&sr.join(", "));
        l_sql.push_str(&lr.join(", "));
        for sql in [&k_sql, &s_sql, &l_sql] {
            let mut q = sqlx::query(sql);
            for (_, p, r) in chunk {
                q = q.bind(p.as_str()).bind(r.as_str());
            }
            q.execute(pool).await.unwrap();
        }
    }
    // The ledger: per stock row one receipt and per_row - 1 single-unit
    // distributions, so it sums to the projection.
    let rows = keys.len() as i64;
    let total = rows * per_row as i64;
    let step = 100_000i64;
    let mut from = 0i64;
    while from < total {
        let to = (from + step).min(total);
        sqlx::query(&format!(
            "with recursive n(i) as (select cast({from} as bigint) union all select i + 1 from n where i + 1 < {to}) \
             insert into movements (id, organization_id, pantry_id, product_id, kind, quantity, actor_id, correlation_id, occurred_at) \
             select 'bench-' || cast(n.i as text), '{org}', b.pantry_id, b.product_id, \
             case when n.i < {rows} then 'received' else 'distributed' end, \
             case when n.i < {rows} then b.received else -1 end, '{actor}', 'bench', {now} - (n.i % 365) * 86400000 \
             from n join bench_keys b on b.k = n.i % {rows}"
        ))
        .execute(pool)
        .await
        .unwrap();
        from = to;
    }
    // The organization-wide projection, as the movements would keep it.
    sqlx::query(
        "insert into organization_stock (organization_id, product_id, on_hand) \
         select organization_id, product_id, sum(on_hand) from stock_levels group by organization_id, product_id",
    )
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("analyze").execute(pool).await.unwrap();
}

struct QueryFigures {
    name: &'static str,
    cold: (f64, f64),
    warm: (f64, f64),
}

async fn queries(backend: Backend, s: &Settings) -> (Vec<QueryFigures>, String) {
    let app = start(backend).await;
    let org = id(&app, "create_organization", &[("name", "Bench College")]).await;
    let mut pantries = Vec::new();
    for c in 0..2 {
        let campus = id(
            &app,
            "create_campus",
            &[("organization", &org), ("name", &format!("Campus {c}"))],
        )
        .await;
        for p in 0..s.pantries / 2 {
            pantries.push(
                id(
                    &app,
                    "create_pantry",
                    &[("campus", &campus), ("name", &format!("Pantry {p}"))],
                )
                .await,
            );
        }
    }
    let started = Instant::now();
    seed(&app, &org, &pantries, s).await;
    let seeded = format!("seeded in {:.0} s", started.elapsed().as_secs_f64());
    if let Ok(keep) = std::env::var("LARDER_BENCH_KEEP") {
        // For looking at query plans afterwards: a copy of the SQLite file.
        if backend == Backend::Sqlite {
            sqlx::query(&format!("vacuum into '{keep}'"))
                .execute(app.server.state.db.pool())
                .await
                .unwrap();
            eprintln!("kept a copy of the database in {keep} (organization {org})");
        }
    }
    let counts: Vec<i64> = futures::future::join_all(
        [
            "select count(*) from products",
            "select count(*) from stock_levels",
            "select count(*) from movements",
        ]
        .map(|q| sqlx::query_scalar::<_, i64>(q).fetch_one(app.server.state.db.pool())),
    )
    .await
    .into_iter()
    .map(|r| r.unwrap())
    .collect();
    let described = format!(
        "{} products, {} pantries, {} stock rows, {} movements; {seeded}",
        counts[0],
        pantries.len(),
        counts[1],
        counts[2]
    );
    let cache = app.server.state.stock_cache.clone();
    let mut out = Vec::new();
    let org_scope = format!("organization:{org}");
    let pantry_scope = format!("pantry:{}", pantries[0]);
    let cases: Vec<(&'static str, &'static str, Vec<(&str, &str)>)> = vec![
        (
            "Overview, whole organization (20 pantries)",
            "stock_overview",
            vec![("scope", org_scope.as_str())],
        ),
        (
            "Overview, one pantry",
            "stock_overview",
            vec![("scope", pantry_scope.as_str())],
        ),
        (
            "Low-stock list, one pantry",
            "stock",
            vec![("pantry", pantries[0].as_str()), ("filter", "low")],
        ),
    ];
    for (name, endpoint, form) in cases {
        let mut cold = Vec::new();
        let mut warm = Vec::new();
        for i in 0..s.samples * 2 {
            let is_cold = i % 2 == 0;
            if is_cold {
                cache.invalidate_organization(&org);
            }
            let start = Instant::now();
            call(&app, endpoint, &form).await;
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if is_cold {
                cold.push(ms);
                // The warm sample right after reads what this one cached.
            } else {
                warm.push(ms);
            }
        }
        out.push(QueryFigures {
            name,
            cold: percentiles(cold),
            warm: percentiles(warm),
        });
    }
    app.server.stop().await.ok();
    (out, described)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    sqlx::any::install_default_drivers();
    if std::env::args().any(|a| a == "--bench") && std::env::var("LARDER_BENCH_RUN").is_err() {
        // `cargo bench` with no intent to run this one (e.g. all benches).
        eprintln!("inventory bench: set LARDER_BENCH_RUN=1 (bench/inventory.sh does)");
        return;
    }
    let s = Settings {
        clients: env_num("LARDER_BENCH_CLIENTS", 16) as usize,
        seconds: env_num("LARDER_BENCH_SECONDS", 8),
        products: env_num("LARDER_BENCH_PRODUCTS", 10_000) as usize,
        pantries: env_num("LARDER_BENCH_PANTRIES", 20) as usize,
        movements: env_num("LARDER_BENCH_MOVEMENTS", 1_000_000) as usize,
        samples: env_num("LARDER_BENCH_SAMPLES", 200) as usize,
        rounds: env_num("LARDER_BENCH_ROUNDS", 5).max(1) as usize,
    };
    let backends: Vec<Backend> = std::env::var("LARDER_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(|b| match b.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        })
        .collect();
    let parts = std::env::var("LARDER_BENCH_PARTS").unwrap_or_else(|_| "write,read".into());
    if parts.contains("write") {
        write_path(&backends, &s).await;
    }
    if !parts.contains("read") {
        return;
    }
    for &b in &backends {
        eprintln!("{}: seeding and querying…", b.name());
        let (figures, described) = queries(b, &s).await;
        println!("\n### Read path on {}: {described}\n", b.name());
        println!("| query (over HTTP, {} samples each) | cold p50 | cold p99 | cached p50 | cached p99 |", s.samples);
        println!("|---|---:|---:|---:|---:|");
        for f in figures {
            println!(
                "| {} | {:.1} ms | {:.1} ms | {:.2} ms | {:.2} ms |",
                f.name, f.cold.0, f.cold.1, f.warm.0, f.warm.1
            );
        }
    }
}

/// One round of the write measurements on one database: the raw rates,
/// then the full write path, back to back.
struct Round {
    raw: Rate,
    raw_one: Rate,
    movements: Rate,
    reads: Rate,
    batches: Batches,
}

impl Round {
    /// The write path against the faster of the two raw rates of the same
    /// round: SQLite serializes writers, and one of them alone may insert
    /// faster than many taking turns.
    fn ratio(&self) -> f64 {
        self.movements.per_second / self.raw.per_second.max(self.raw_one.per_second)
    }
}

/// The write path against raw inserts, in rounds. The machine's speed
/// drifts by a fifth or more within minutes, so the raw rate and the
/// movements are measured in turn, round after round, each round's ratio
/// is taken against its own raw rate, and the goal is judged on the
/// median of those ratios; every round is printed.
async fn write_path(backends: &[Backend], s: &Settings) {
    println!(
        "### Write path: {} concurrent clients, {} rounds of {} s per measurement after 2 s warm-up\n",
        s.clients, s.rounds, s.seconds
    );
    let mut summary = Vec::new();
    let mut rounds_table = Vec::new();
    let mut cpu_lines = Vec::new();
    for &b in backends {
        let mut rounds = Vec::new();
        for r in 1..=s.rounds {
            eprintln!("{}: round {r} of {}: raw inserts…", b.name(), s.rounds);
            let raw = raw_inserts(b, s, s.clients).await;
            let raw_one = raw_inserts(b, s, 1).await;
            eprintln!("{}: round {r}: movements over HTTP…", b.name());
            let (movements, reads, batches) = http_movements(b, s).await;
            let round = Round {
                raw,
                raw_one,
                movements,
                reads,
                batches,
            };
            eprintln!(
                "{}: round {r}: {:.0} raw/s, {:.0} movements/s, ratio {:.2}",
                b.name(),
                round.raw.per_second,
                round.movements.per_second,
                round.ratio()
            );
            rounds_table.push(format!(
                "| {} | {r} | {:.0} | {:.0} | {:.0} | {:.2} | {:.1} ms | {:.1} ms | {:.1}, {:.2} ms |",
                b.name(),
                round.raw.per_second,
                round.raw_one.per_second,
                round.movements.per_second,
                round.ratio(),
                round.movements.p50_ms,
                round.movements.p99_ms,
                round.batches.mean_size,
                round.batches.mean_ms,
            ));
            rounds.push(round);
        }
        let med = |f: &dyn Fn(&Round) -> f64| median(rounds.iter().map(f).collect());
        let ratios: Vec<f64> = rounds.iter().map(Round::ratio).collect();
        let low = ratios.iter().cloned().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().cloned().fold(0.0, f64::max);
        summary.push(format!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.2} ({:.2}–{:.2}) | {:.1} ms | {:.1} ms | {:.2} / {:.2} ms | {:.0} | {:.1}, {:.2} ms, {:.0}% |",
            b.name(),
            med(&|r| r.raw.per_second),
            med(&|r| r.raw_one.per_second),
            med(&|r| r.movements.per_second),
            median(ratios.clone()),
            low,
            high,
            med(&|r| r.movements.p50_ms),
            med(&|r| r.movements.p99_ms),
            med(&|r| r.raw.p50_ms),
            med(&|r| r.raw.p99_ms),
            med(&|r| r.reads.per_second),
            med(&|r| r.batches.mean_size),
            med(&|r| r.batches.mean_ms),
            med(&|r| r.batches.remembered) * 100.0,
        ));
        let counted: usize = rounds.iter().map(|r| r.movements.count).sum();
        eprintln!("{}: {counted} movements measured in all", b.name());
        for (what, pick) in [
            ("raw inserts", (|r: &Round| &r.raw) as fn(&Round) -> &Rate),
            ("raw inserts, 1 client", |r: &Round| &r.raw_one),
            ("movements", |r: &Round| &r.movements),
            ("cached reads", |r: &Round| &r.reads),
        ] {
            cpu_lines.push(format!(
                "| {} | {what} | {:.0}% | {:.2} |",
                b.name(),
                med(&|r| pick(r).cpu_busy) * 100.0,
                med(&|r| pick(r).cpu_ms_per_op),
            ));
        }
    }
    println!("Medians over the rounds; the ratio's range over the rounds in brackets.\n");
    println!("| database | raw insert transactions/s, {} clients | raw, 1 client | movements/s over HTTP, {} clients | ratio to the faster raw, median (range) | movement p50 | movement p99 | raw p50 / p99, {} clients | cached stock reads/s over HTTP | writer: movements per batch, ms per batch, share from memory |", s.clients, s.clients, s.clients);
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for line in summary {
        println!("{line}");
    }
    println!("\nEvery round, in the order measured (raw inserts, then movements, in each):\n");
    println!("| database | round | raw/s, {} clients | raw/s, 1 client | movements/s | ratio | movement p50 | movement p99 | movements per batch, ms per batch |", s.clients);
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for line in rounds_table {
        println!("{line}");
    }
    println!("\nCPU of the whole machine during each measurement (load clients, server and database share it), and what one operation costs in it; medians over the rounds:\n");
    println!("| database | measurement | CPU busy | core-ms per operation |");
    println!("|---|---|---:|---:|");
    for line in cpu_lines {
        println!("{line}");
    }
}

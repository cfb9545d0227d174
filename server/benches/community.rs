//! The driver of `bench/community.sh`: home timelines at the issue's
//! scale, read while posts are written. Not a test: it measures.
//!
//! Seeds (SQL, into the PostgreSQL database the release server runs on)
//! 10,000 people with a session each, 200 pantries (made through the
//! API), 1,000,000 posts spread over the last weeks, and follows: each
//! person follows their own pantry, one of ten campus pantries (which so
//! have more followers than the fan-out limit and are read on read),
//! another pantry and five people. The home timeline rows a reader's
//! first pages read are seeded as the timelines consumer would have
//! written them: the newest 50 write-fanned posts of each followed
//! pantry and person (a full fan-out of the history would be ~50 million
//! rows; a page reads a B-tree range, whose cost grows with the tree's
//! depth, not its size).
//!
//! Then, for LARDER_BENCH_SECONDS (30): LARDER_BENCH_READERS (16) tasks
//! read the first page of a random person's home timeline over HTTP,
//! while one writer publishes a post every 100 ms as a random person on
//! their pantry. For each written post on a write-fanned pantry, the
//! delay until every follower's row is written is measured from the
//! database. Prints one Markdown table row.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::Value;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn call(
    c: &Client,
    base: &str,
    endpoint: &str,
    form: &[(&str, &str)],
    cookie: Option<&str>,
) -> Result<Value, String> {
    let mut req = c
        .post(format!("{base}/api/{endpoint}"))
        .form(form)
        .timeout(Duration::from_secs(30));
    if let Some(token) = cookie {
        req = req.header("cookie", format!("larder_session={token}"));
    }
    let res = req.send().await.map_err(|e| format!("{endpoint}: {e}"))?;
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
        .unwrap_or_else(|| panic!("no id in {v}"))
}

async fn exec(db: &sqlx::AnyPool, what: &str, sql: &str) {
    let started = Instant::now();
    sqlx::query(sql)
        .execute(db)
        .await
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    eprintln!("seeded {what} in {:.1} s", started.elapsed().as_secs_f64());
}

#[tokio::main]
async fn main() {
    let Ok(base) = std::env::var("LARDER_BENCH_URL") else {
        eprintln!("run through bench/community.sh");
        return;
    };
    let db_url = env("LARDER_BENCH_DB", "");
    let seconds: u64 = env("LARDER_BENCH_SECONDS", "30").parse().unwrap();
    let readers: usize = env("LARDER_BENCH_READERS", "16").parse().unwrap();
    let people: i64 = env("LARDER_BENCH_PEOPLE", "10000").parse().unwrap();
    let pantry_count: i64 = env("LARDER_BENCH_PANTRIES", "200").parse().unwrap();
    let posts: i64 = env("LARDER_BENCH_POSTS", "1000000").parse().unwrap();
    let (email, password) = env("LARDER_BENCH_ADMIN", "bench@larder.test:bench passphrase 1")
        .split_once(':')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap();
    sqlx::any::install_default_drivers();
    let db = sqlx::any::AnyPoolOptions::new()
        .max_connections(4)
        .connect(&db_url)
        .await
        .unwrap();

    // The places, through the API.
    let admin = Client::builder().cookie_store(true).build().unwrap();
    call(
        &admin,
        &base,
        "sign_in",
        &[("email", &email), ("password", &password)],
        None,
    )
    .await
    .expect("the admin signs in");
    let org = id(&call(
        &admin,
        &base,
        "create_organization",
        &[("name", "Bench College")],
        None,
    )
    .await
    .unwrap());
    let campus = id(&call(
        &admin,
        &base,
        "create_campus",
        &[("organization", &org), ("name", "Main")],
        None,
    )
    .await
    .unwrap());
    let mut pantries = Vec::new();
    for i in 0..pantry_count {
        pantries.push(id(&call(
            &admin,
            &base,
            "create_pantry",
            &[("campus", &campus), ("name", &format!("Pantry {i}"))],
            None,
        )
        .await
        .unwrap()));
    }
    exec(
        &db,
        "pantry numbers",
        "create table if not exists bench_pantry (n bigint primary key, id text not null)",
    )
    .await;
    for (n, p) in pantries.iter().enumerate() {
        sqlx::query("insert into bench_pantry (n, id) values ($1, $2)")
            .bind(n as i64)
            .bind(p)
            .execute(&db)
            .await
            .unwrap();
    }
    let now: i64 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;

    // People, their sessions and their roles (staff at pantry i % P).
    exec(&db, "people", &format!(
        "insert into users (id, email, email_key, display_name, password_hash, created_at) \
         select 'b0000000-0000-7000-8000-' || lpad(i::text, 12, '0'), 'p' || i || '@bench.test', 'p' || i || '@bench.test', \
         'Person ' || i, 'not a hash', {now} from generate_series(0, {people} - 1) i"
    )).await;
    exec(&db, "sessions", &format!(
        "insert into sessions (token_hash, user_id, created_at, expires_at, last_seen_at) \
         select encode(sha256(('bench-token-' || i)::bytea), 'hex'), 'b0000000-0000-7000-8000-' || lpad(i::text, 12, '0'), \
         {now}, {now} + 86400000, {now} from generate_series(0, {people} - 1) i"
    )).await;
    exec(&db, "memberships", &format!(
        "insert into memberships (id, user_id, organization_id, scope_kind, scope_id, role, created_at) \
         select 'b1000000-0000-7000-8000-' || lpad(i::text, 12, '0'), 'b0000000-0000-7000-8000-' || lpad(i::text, 12, '0'), \
         '{org}', 'pantry', bp.id, 'staff', {now} from generate_series(0, {people} - 1) i join bench_pantry bp on bp.n = i % {pantry_count}"
    )).await;
    // Follows: own pantry, a campus pantry (0..9), another pantry, five people.
    let person =
        |expr: &str| format!("'b0000000-0000-7000-8000-' || lpad(({expr})::text, 12, '0')");
    for (what, target, kind) in [
        (
            "follows of their pantry",
            format!("(select id from bench_pantry where n = i % {pantry_count})"),
            "pantry",
        ),
        (
            "follows of a campus pantry",
            "(select id from bench_pantry where n = i % 10)".to_string(),
            "pantry",
        ),
        (
            "follows of another pantry",
            format!("(select id from bench_pantry where n = (i * 13 + 5) % {pantry_count})"),
            "pantry",
        ),
    ] {
        exec(&db, what, &format!(
            "insert into follows (follower_id, target_id, target_kind, status, created_at) \
             select {}, {target}, '{kind}', 'active', {now} from generate_series(0, {people} - 1) i on conflict do nothing",
            person("i")
        )).await;
    }
    for k in 1..=5 {
        exec(&db, &format!("follows of person +{k}"), &format!(
            "insert into follows (follower_id, target_id, target_kind, status, created_at) \
             select {}, {}, 'person', 'active', {now} from generate_series(0, {people} - 1) i on conflict do nothing",
            person("i"),
            person(&format!("(i + {k} * 37) % {people}"))
        )).await;
    }
    // Posts: pantry n % P by one of its members, a second apart, the
    // campus pantries' marked as fanned out on read (as the consumer
    // marks them: they have more followers than the limit).
    let members = people / pantry_count;
    exec(&db, "posts", &format!(
        "insert into posts (id, organization_id, pantry_id, author_id, kind, body, created_at, fanned_on_read) \
         select 'b2000000-0000-7000-8000-' || lpad(k::text, 12, '0'), '{org}', bp.id, \
         {}, 'announcement', 'Opening hours this week: Monday to Friday, 10 to 4. Post ' || k, \
         {now} - ({posts} - k) * 1000, case when bp.n < 10 then 1 else 0 end \
         from generate_series(0, {posts} - 1) k join bench_pantry bp on bp.n = k % {pantry_count}",
        person(&format!("(k % {pantry_count}) + {pantry_count} * ((k / {pantry_count}) % {members})"))
    )).await;
    exec(&db, "analyze", "analyze").await;
    // Home timeline rows: the newest 50 written-out posts of each target.
    exec(&db, "timeline rows (pantries)", "insert into timeline_entries (user_id, post_id, created_at) \
         select f.follower_id, p.id, p.created_at from follows f cross join lateral ( \
           select id, created_at from posts p where p.pantry_id = f.target_id and p.fanned_on_read = 0 \
           order by created_at desc limit 50) p where f.target_kind = 'pantry' on conflict do nothing").await;
    exec(&db, "timeline rows (people)", "insert into timeline_entries (user_id, post_id, created_at) \
         select f.follower_id, p.id, p.created_at from follows f cross join lateral ( \
           select id, created_at from posts p where p.author_id = f.target_id \
           order by created_at desc limit 50) p where f.target_kind = 'person' on conflict do nothing").await;
    exec(&db, "analyze", "analyze").await;
    let rows: i64 = sqlx::query_scalar("select count(*) from timeline_entries")
        .fetch_one(&db)
        .await
        .unwrap();
    eprintln!("{rows} timeline rows");

    // The run: readers, one writer, and the delay checker.
    let http = Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut tasks = Vec::new();
    for r in 0..readers {
        let (http, base, stop, latencies, errors) = (
            http.clone(),
            base.clone(),
            stop.clone(),
            latencies.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut n = r as i64 * 7919;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n = (n * 48271 + 11) % people;
                let token = format!("bench-token-{n}");
                let started = Instant::now();
                match call(
                    &http,
                    &base,
                    "home_timeline",
                    &[("cursor", "")],
                    Some(&token),
                )
                .await
                {
                    Ok(v) if v["posts"].as_array().is_some_and(|p| p.len() == 20) => latencies
                        .lock()
                        .unwrap()
                        .push(started.elapsed().as_secs_f64() * 1000.0),
                    Ok(v) => panic!("a home timeline without a full page: {v}"),
                    Err(e) => {
                        eprintln!("{e}");
                        errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let written = Arc::new(Mutex::new(Vec::<(String, Instant, i64)>::new()));
    {
        let (http, base, stop, written, db) = (
            http.clone(),
            base.clone(),
            stop.clone(),
            written.clone(),
            db.clone(),
        );
        let pantries = pantries.clone();
        tasks.push(tokio::spawn(async move {
            let mut n: i64 = 12345;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n = (n * 48271 + 7) % people;
                let pantry = &pantries[(n % pantry_count) as usize];
                let token = format!("bench-token-{n}");
                let form = [("pantry", pantry.as_str()), ("kind", "need"), ("body", "We need canned fruit"), ("event_on", "")];
                let started = Instant::now();
                match call(&http, &base, "publish_post", &form, Some(&token)).await {
                    Ok(v) if n % pantry_count >= 10 => {
                        let post = id(&v);
                        // Everyone it goes to: the pantry's and the author's followers, and the author.
                        let expected: i64 = sqlx::query_scalar(
                            "select count(distinct follower_id) + 1 from follows where target_id in ($1, $2) and status = 'active' and follower_id <> $2",
                        )
                        .bind(pantry)
                        .bind(format!("b0000000-0000-7000-8000-{n:012}"))
                        .fetch_one(&db)
                        .await
                        .unwrap();
                        written.lock().unwrap().push((post, started, expected));
                    }
                    Ok(_) => {}
                    Err(e) => eprintln!("{e}"),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }));
    }
    // The delay checker: each written post until all its rows are there.
    let delays = Arc::new(Mutex::new(Vec::<f64>::new()));
    {
        let (stop, written, delays, db) =
            (stop.clone(), written.clone(), delays.clone(), db.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let pending: Vec<(String, Instant, i64)> =
                    std::mem::take(&mut *written.lock().unwrap());
                let mut left = Vec::new();
                for (post, started, expected) in pending {
                    let have: i64 = sqlx::query_scalar(
                        "select count(*) from timeline_entries where post_id = $1",
                    )
                    .bind(&post)
                    .fetch_one(&db)
                    .await
                    .unwrap();
                    if have >= expected {
                        delays
                            .lock()
                            .unwrap()
                            .push(started.elapsed().as_secs_f64() * 1000.0);
                    } else {
                        left.push((post, started, expected));
                    }
                }
                let done = stop.load(std::sync::atomic::Ordering::Relaxed) && left.is_empty();
                written.lock().unwrap().extend(left);
                if done {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        tokio::time::timeout(Duration::from_secs(120), t)
            .await
            .expect("the run ends")
            .unwrap();
    }
    let mut l = latencies.lock().unwrap().clone();
    l.sort_by(f64::total_cmp);
    let mut d = delays.lock().unwrap().clone();
    d.sort_by(f64::total_cmp);
    println!(
        "| {people} | {pantry_count} | {posts} | {rows} | {readers} | {} | {:.0} | {:.1} | {:.1} | {} | {} | {:.0} | {:.0} |",
        l.len(),
        l.len() as f64 / seconds as f64,
        percentile(&l, 0.5),
        percentile(&l, 0.99),
        errors.load(std::sync::atomic::Ordering::Relaxed),
        d.len(),
        percentile(&d, 0.5),
        percentile(&d, 0.99),
    );
}

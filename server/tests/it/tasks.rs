//! Background work: periodic jobs run once across processes (a lease row
//! in the database) and on a clock the test moves; expired sessions are
//! cleaned up by one.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use app::clock::{Clock, ManualClock};
use app::tasks::{run_if_due, Periodic, Tick};

use crate::helpers::*;
use crate::on_both_databases;

on_both_databases!(
    a_periodic_job_runs_once_across_processes_and_survives_a_dead_holder,
    expired_sessions_are_purged_by_the_scheduled_job,
    stock_expires_by_the_clock,
);

/// Expiry is counted from the clock's today: moving the clock, not the
/// stored dates, makes a lot expire.
async fn stock_expires_by_the_clock(backend: Backend) {
    // 2026-03-01 12:00 UTC.
    let clock = ManualClock::at(1_772_366_400_000);
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let milk = crate::inventory::product(
        &app,
        &admin,
        &p.org,
        "Milk",
        &[("perishable", "on"), ("shelf_life_days", "4")],
    )
    .await;
    // The shelf life counts from the clock's today too.
    crate::inventory::ok_movement(&app, &admin, "receive", &p.main, &milk, "5", &[]).await;
    let best_before: String =
        sqlx::query_scalar("select best_before from lots where product_id = $1")
            .bind(&milk)
            .fetch_one(app.server.state.db.pool())
            .await
            .unwrap();
    assert_eq!(best_before, "2026-03-05");
    let row = |c: &reqwest::Client| {
        let (app, main, c) = (&app, p.main.clone(), c.clone());
        async move {
            let r = app.call(&c, "stock", &[("pantry", main.as_str())]).await;
            assert_eq!(r.status, reqwest::StatusCode::OK, "{:?}", r.body);
            (
                r.body["rows"][0]["expiring"].as_i64(),
                r.body["rows"][0]["expired"].as_i64(),
            )
        }
    };
    assert_eq!(row(&admin).await, (Some(5), Some(0)));
    clock.advance(Duration::from_secs(5 * 86_400));
    assert_eq!(row(&admin).await, (Some(0), Some(5)));
}

const JOB: Periodic = Periodic {
    name: "test-job",
    period: Duration::from_secs(3600),
    lease: Duration::from_secs(600),
};

async fn a_periodic_job_runs_once_across_processes_and_survives_a_dead_holder(backend: Backend) {
    let clock = ManualClock::now();
    let app = spawn_with_clock(backend, &[], clock.clone()).await;
    let beside = spawn_beside(&app).await;
    let runs = Arc::new(AtomicU32::new(0));
    let job = |runs: Arc<AtomicU32>| {
        move || async move {
            runs.fetch_add(1, Ordering::SeqCst);
            // Long enough that the two processes overlap.
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok::<(), String>(())
        }
    };
    // Both processes ask at once, several times: the job runs once.
    for _ in 0..3 {
        let (a, b) = tokio::join!(
            run_if_due(
                &app.server.state.db,
                clock.as_ref(),
                &JOB,
                "a",
                job(runs.clone())
            ),
            run_if_due(
                &beside.server.state.db,
                clock.as_ref(),
                &JOB,
                "b",
                job(runs.clone())
            ),
        );
        let ticks = [a.unwrap(), b.unwrap()];
        assert!(
            ticks.iter().filter(|t| **t == Tick::Ran).count() <= 1,
            "{ticks:?}"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    // Not due again until a period has passed.
    clock.advance(Duration::from_secs(3599));
    let t = run_if_due(
        &app.server.state.db,
        clock.as_ref(),
        &JOB,
        "a",
        job(runs.clone()),
    )
    .await;
    assert_eq!(t.unwrap(), Tick::NotDue);
    clock.advance(Duration::from_secs(1));
    let t = run_if_due(
        &beside.server.state.db,
        clock.as_ref(),
        &JOB,
        "b",
        job(runs.clone()),
    )
    .await;
    assert_eq!(t.unwrap(), Tick::Ran);
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // A run that fails is not counted as run: the next tick tries again.
    clock.advance(JOB.period);
    let failing = || async { Err::<(), _>("the supplier's server said no") };
    let t = run_if_due(&app.server.state.db, clock.as_ref(), &JOB, "a", failing).await;
    assert_eq!(t.unwrap(), Tick::Ran);
    let t = run_if_due(
        &app.server.state.db,
        clock.as_ref(),
        &JOB,
        "a",
        job(runs.clone()),
    )
    .await;
    assert_eq!(t.unwrap(), Tick::Ran);
    assert_eq!(runs.load(Ordering::SeqCst), 3);

    // A holder that died mid-run keeps the job until its lease runs out.
    clock.advance(JOB.period);
    let now = clock.now_ms();
    app.sql(&format!(
        "update job_leases set holder = 'dead', expires_at = {} where name = 'test-job'",
        now + 600_000
    ))
    .await;
    let t = run_if_due(
        &app.server.state.db,
        clock.as_ref(),
        &JOB,
        "a",
        job(runs.clone()),
    )
    .await;
    assert_eq!(t.unwrap(), Tick::HeldElsewhere);
    clock.advance(JOB.lease);
    let t = run_if_due(
        &app.server.state.db,
        clock.as_ref(),
        &JOB,
        "a",
        job(runs.clone()),
    )
    .await;
    assert_eq!(t.unwrap(), Tick::Ran);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}

async fn expired_sessions_are_purged_by_the_scheduled_job(backend: Backend) {
    let clock = ManualClock::now();
    let app = spawn_with_clock(
        backend,
        &[
            ("LARDER_JOB_CHECK_SECONDS", "1"),
            ("LARDER_SESSION_TTL_HOURS", "1"),
        ],
        clock.clone(),
    )
    .await;
    let admin = app.setup_admin().await;
    let r = app.call(&admin, "session", &[]).await;
    assert_eq!(r.status, reqwest::StatusCode::OK, "{:?}", r.body);
    assert_eq!(app.count("select count(*) from sessions").await, 1);
    // The session outlives neither its hour nor the next run of the job.
    clock.advance(Duration::from_secs(2 * 3600));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while app.count("select count(*) from sessions").await > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the expired session was not purged"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let text = app.metrics().await;
    assert!(
        text.contains(r#"larder_task_running{task="purge-expired-sessions"} 1"#),
        "{text}"
    );
    // The signed-out client is told so.
    let r = app
        .call(
            &admin,
            "organization",
            &[("id", &uuid::Uuid::now_v7().to_string())],
        )
        .await;
    assert_eq!(r.status, reqwest::StatusCode::UNAUTHORIZED);
}

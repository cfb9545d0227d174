//! Events through a real RabbitMQ node (Debian's, started by the test):
//! two replicas share the durable consumers' queues and each sees every
//! event for its caches and live streams; writes go on while the broker
//! is down and the relay catches up when it is back; an event delivered
//! again changes nothing, and a message that is no event is dead-lettered.

use std::time::Duration;

use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use reqwest::StatusCode;

use crate::helpers::*;
use crate::inventory::{ok_movement, product};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_travel_through_rabbitmq_to_every_replica() {
    let mut rabbit = Rabbit::start().await;
    let a = spawn_with(
        Backend::Postgres,
        &[
            ("LARDER_RABBITMQ_URL", &rabbit.url),
            ("LARDER_RABBITMQ_PREFETCH", "20"),
        ],
    )
    .await;
    let b = spawn_beside(&a).await;
    let admin = a.setup_admin().await;
    let p = build_places(&a, &admin).await;
    let beans = product(&a, &admin, &p.org, "Black beans", &[]).await;
    caught_up(&[&a, &b]).await;

    // A browser on replica B hears of a receipt written through A.
    let mut stream = admin
        .get(format!("{}/live/pantries/{}", b.base, p.main))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    ok_movement(&a, &admin, "receive", &p.main, &beans, "7", &[]).await;
    heard(&mut stream, "\"on_hand\":7").await;

    // Writes through both replicas; the durable consumers' work is shared.
    for i in 1..=10 {
        let via = if i % 2 == 0 { &a } else { &b };
        ok_movement(
            via,
            &admin,
            "receive",
            &p.library,
            &beans,
            &i.to_string(),
            &[],
        )
        .await;
    }
    caught_up(&[&a, &b]).await;
    reports_match_the_ledger(&a).await;
    // Each replica consumes every durable queue; one of them at a time.
    let amqp = connect(&rabbit.url).await;
    let channel = amqp.create_channel().await.unwrap();
    let queue = channel
        .queue_declare(
            "larder.events.daily-flows".into(),
            QueueDeclareOptions {
                passive: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    assert_eq!(queue.consumer_count(), 2, "both replicas consume");
    drop(amqp);
    // Replica B answers (and caches) the stock now.
    assert_eq!(units(&b, &admin, &p.main).await, 7);

    // The broker goes away: writes still succeed, readiness says so
    // without taking the replica out of service.
    rabbit.stop().await;
    for _ in 0..3 {
        ok_movement(&a, &admin, "receive", &p.main, &beans, "5", &[]).await;
    }
    ok_movement(&b, &admin, "distribute", &p.main, &beans, "2", &[]).await;
    let (status, body) = a.get(&client(), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"events\":\"broker unreachable"), "{body}");

    // Back: the relay publishes what waited, every consumer catches up,
    // and nothing is counted twice.
    rabbit.resume().await;
    caught_up(&[&a, &b]).await;
    reports_match_the_ledger(&a).await;
    let (status, body) = a.get(&client(), "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"events\":\"rabbitmq\""), "{body}");
    // The stock both replicas show is the ledger's: B's cached answer
    // from before was dropped by the events it received.
    for app in [&a, &b] {
        assert_eq!(
            units(app, &admin, &p.main).await,
            20,
            "7 + 3 × 5 − 2 on {}",
            app.base
        );
    }
    let mut published = 0.0;
    for app in [&a, &b] {
        published += metric(&app.metrics().await, "larder_event_relay_published_total");
    }
    let head = a.count("select max(seq) from events").await as f64;
    assert!(published >= head, "{published} published of {head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_changes_nothing_and_a_stray_message_is_dead_lettered() {
    let rabbit = Rabbit::start().await;
    let app = spawn_with(Backend::Sqlite, &[("LARDER_RABBITMQ_URL", &rabbit.url)]).await;
    let admin = app.setup_admin().await;
    let p = build_places(&app, &admin).await;
    let beans = product(&app, &admin, &p.org, "Black beans", &[]).await;
    for q in ["3", "4", "5"] {
        ok_movement(&app, &admin, "receive", &p.main, &beans, q, &[]).await;
    }
    caught_up(&[&app]).await;
    reports_match_the_ledger(&app).await;
    let notifications = app.count("select count(*) from notifications").await;

    // Every event of the log published again, as a relay that died before
    // saving its position would; and one message that is not an event.
    let events = app::events::store::read_stored(app.server.state.db.pool(), 0, i64::MAX, 10_000)
        .await
        .unwrap();
    assert!(events.len() > 5);
    let amqp = connect(&rabbit.url).await;
    let channel = amqp.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let publish = |routing: String, body: Vec<u8>| {
        let channel = channel.clone();
        async move {
            let confirm = channel
                .basic_publish(
                    "larder.events".into(),
                    routing.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            assert!(confirm.is_ack());
        }
    };
    for e in &events {
        publish(e.event_type.clone(), serde_json::to_vec(e).unwrap()).await;
    }
    publish("Stray".into(), b"not an event".to_vec()).await;

    // The stray message reaches the dead-letter queue (once per consumer
    // queue it was routed to), and the queues drain.
    let mut dead = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let durable_queues = app
        .server
        .state
        .bus
        .consumers()
        .iter()
        .filter(|c| c.durability() == app::events::bus::Durability::Durable)
        .count();
    while dead.len() < durable_queues {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} of {durable_queues} dead letters",
            dead.len()
        );
        match channel
            .basic_get(
                "larder.events.dead".into(),
                BasicGetOptions { no_ack: true },
            )
            .await
            .unwrap()
        {
            Some(m) => dead.push(m.delivery.data.clone()),
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    assert!(dead.iter().all(|d| d == b"not an event"));
    for c in app.server.state.bus.consumers() {
        if c.durability() != app::events::bus::Durability::Durable {
            continue;
        }
        let name = format!("larder.events.{}", c.name());
        loop {
            let q = channel
                .queue_declare(
                    name.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..Default::default()
                    },
                    FieldTable::default(),
                )
                .await
                .unwrap();
            if q.message_count() == 0 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{name} not drained");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // Redelivered events are acknowledged unseen: nothing counted twice,
    // nobody told twice.
    caught_up(&[&app]).await;
    reports_match_the_ledger(&app).await;
    assert_eq!(
        app.count("select count(*) from notifications").await,
        notifications
    );
    // The live stream's consumer skipped them too: a page opened now sees
    // only the next change.
    let mut stream = admin
        .get(format!("{}/live/pantries/{}", app.base, p.main))
        .send()
        .await
        .unwrap();
    ok_movement(&app, &admin, "receive", &p.main, &beans, "1", &[]).await;
    let text = heard(&mut stream, "event: stock").await;
    assert!(text.contains("\"on_hand\":13"), "{text}");
}

/// The units of stock a replica says a pantry holds (its cached answer,
/// when it has one).
async fn units(app: &TestApp, c: &reqwest::Client, pantry: &str) -> i64 {
    let r = app
        .call(
            c,
            "stock_overview",
            &[("scope", &format!("pantry:{pantry}"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["categories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["units"].as_i64().unwrap())
        .sum()
}

async fn connect(url: &str) -> Connection {
    Connection::connect(url, ConnectionProperties::default())
        .await
        .expect("the test connects to RabbitMQ")
}

/// Every durable consumer's checkpoint, and every replica's in-memory
/// consumers, at the head of the log.
async fn caught_up(apps: &[&TestApp]) {
    let first = apps[0];
    let bus = &first.server.state.bus;
    let durable: Vec<&str> = bus
        .consumers()
        .iter()
        .filter(|c| c.durability() == app::events::bus::Durability::Durable)
        .map(|c| c.name())
        .collect();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let head = first
            .count("select coalesce(max(seq), 0) from events")
            .await;
        let mut behind = Vec::new();
        for name in &durable {
            let at = first
                .count(&format!(
                    "select coalesce((select last_seq from consumer_checkpoints where consumer = '{name}'), 0)"
                ))
                .await;
            if at < head {
                behind.push(format!("{name} at {at}"));
            }
        }
        for app in apps {
            let bus = &app.server.state.bus;
            for c in bus.consumers() {
                if c.durability() == app::events::bus::Durability::Ephemeral {
                    let at = bus
                        .stats(c.name())
                        .unwrap()
                        .position
                        .load(std::sync::atomic::Ordering::Relaxed);
                    if at < head {
                        behind.push(format!("{} on {} at {at}", c.name(), app.base));
                    }
                }
            }
        }
        if behind.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not caught up with event {head}: {behind:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads a live stream until `needle` has arrived (at most 10 s); what
/// was read.
async fn heard(stream: &mut reqwest::Response, needle: &str) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("“{needle}” on the live stream within 10 s; heard: {text}"))
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    text
}

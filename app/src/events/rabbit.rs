//! Events on RabbitMQ: the transport for several Larder replicas.
//!
//! The event table stays the source of truth. A **relay** (one at a time
//! across replicas: it holds a PostgreSQL advisory lock) reads committed
//! events in `seq` order and publishes them, persistent and with publisher
//! confirms, to a durable topic exchange (routing key: the event type); its
//! position advances only after the broker confirmed. A write never talks
//! to RabbitMQ, so writes go on while the broker is down, and the relay
//! catches up when it returns.
//!
//! Each **durable consumer** has its own durable queue, shared by every
//! replica as a single-active-consumer queue: one replica receives at a
//! time, in order, and another takes over when it goes away. Deliveries
//! are acknowledged by hand after the consumer's transaction committed,
//! with a bounded prefetch. Redelivery changes nothing: the consumer's
//! checkpoint is read, locked, in the same transaction that applies an
//! event and moves it, so an event at or below it is acknowledged unseen.
//!
//! Each **ephemeral consumer** (caches, the live feed, wake-ups) has a
//! queue per replica, exclusive to its connection, so every replica sees
//! every event.
//!
//! Either kind fills a gap from the table: when the first event received
//! is not the next after what it has seen (its queue was gone while the
//! replica was disconnected, or messages were lost), the events between
//! are read and handled first. A message that is not an event at all is
//! rejected to the dead-letter exchange (`<exchange>.dead`, kept in a
//! queue of that name for an operator to read); an event a consumer keeps
//! failing on is parked in `dead_letters` exactly as on the in-process
//! bus, so the admin page works the same.
//!
//! The connection is managed here rather than by lapin's auto-recovery:
//! after a broker restart the consumer re-declares its queue and re-reads
//! its position, which recovery replaying the old topology would not do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{FutureExt as _, StreamExt as _};
use lapin::options::{
    BasicAckOptions, BasicCancelOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

use super::bus::{
    checkpoint_locked, deliver_in, deliver_one, wait_or_stop, Consumer, ConsumerStats, Delivery,
    Durability, EventBus, RetryPolicy, READ_LIMIT,
};
use super::store::{self, StoredEvent};
use crate::db::{Backend, Db};

/// Where the relay keeps its position, beside the consumers' checkpoints.
const RELAY: &str = "rabbitmq-relay";
/// The advisory lock that makes one relay publish at a time (PostgreSQL).
const RELAY_LOCK: i64 = 7_415_002;
/// How long connecting to the broker may take.
const CONNECT_WITHIN: Duration = Duration::from_secs(10);
/// The longest wait between attempts to reach the broker again.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How to reach RabbitMQ (`LARDER_RABBITMQ_*`).
#[derive(Clone, PartialEq, Eq)]
pub struct RabbitSettings {
    /// `amqp://user:password@host:5672/vhost` (or `amqps://`).
    pub url: String,
    /// The topic exchange events are published to; queues are named after
    /// it, so two deployments can share a broker.
    pub exchange: String,
    /// Unacknowledged deliveries a consumer holds at once.
    pub prefetch: u16,
}

impl std::fmt::Debug for RabbitSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RabbitSettings")
            .field("url", &redacted(&self.url))
            .field("exchange", &self.exchange)
            .field("prefetch", &self.prefetch)
            .finish()
    }
}

/// The URL without its password, for logs.
pub fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

impl RabbitSettings {
    /// Checks the URL the way the client will read it.
    pub fn check(&self) -> Result<(), String> {
        let parsed: lapin::uri::AMQPUri = self.url.parse().map_err(|e: String| {
            format!("LARDER_RABBITMQ_URL is not an AMQP URL ({e}); expected amqp://user:password@host:5672/vhost")
        })?;
        let _ = parsed;
        if self.exchange.is_empty() || self.exchange.len() > 200 {
            return Err("LARDER_RABBITMQ_EXCHANGE must be 1 to 200 characters".into());
        }
        if self.prefetch == 0 {
            return Err("LARDER_RABBITMQ_PREFETCH must be at least 1".into());
        }
        Ok(())
    }

    fn dead(&self) -> String {
        format!("{}.dead", self.exchange)
    }

    fn queue(&self, consumer: &str) -> String {
        format!("{}.{consumer}", self.exchange)
    }
}

/// The one connection of this process, opened again when it is lost.
struct Link {
    url: String,
    name: String,
    conn: tokio::sync::Mutex<Option<Connection>>,
}

impl Link {
    /// A new channel, on the open connection or on a new one.
    async fn channel(&self) -> Result<Channel, String> {
        let mut conn = self.conn.lock().await;
        if let Some(c) = conn.as_ref().filter(|c| c.status().connected()) {
            match c.create_channel().await {
                Ok(channel) => return Ok(channel),
                Err(e) => tracing::warn!(error = %e, "RabbitMQ channel failed; reconnecting"),
            }
        }
        *conn = None;
        let props = ConnectionProperties::default().with_connection_name(self.name.clone().into());
        let c = tokio::time::timeout(CONNECT_WITHIN, Connection::connect(&self.url, props))
            .await
            .map_err(|_| format!("RabbitMQ did not answer within {CONNECT_WITHIN:?}"))?
            .map_err(|e| format!("could not connect to RabbitMQ: {e}"))?;
        let channel = c
            .create_channel()
            .await
            .map_err(|e| format!("could not open a RabbitMQ channel: {e}"))?;
        tracing::info!(url = %redacted(&self.url), "connected to RabbitMQ");
        *conn = Some(c);
        Ok(channel)
    }

    /// Whether the connection is open now (for readiness); false while
    /// another task is connecting.
    fn connected(&self) -> bool {
        self.conn
            .try_lock()
            .map(|c| c.as_ref().is_some_and(|c| c.status().connected()))
            .unwrap_or(false)
    }

    async fn close(&self) {
        if let Some(c) = self.conn.lock().await.take() {
            let _ = c.close(200, "shutting down".into()).await;
        }
    }
}

/// How the relay is doing, for `/metrics` and the tests.
#[derive(Default)]
pub struct RelayStats {
    pub published: AtomicU64,
    pub failures: AtomicU64,
    /// The last `seq` the broker confirmed.
    pub position: std::sync::atomic::AtomicI64,
    /// Whether this replica holds the relay's lock.
    pub active: AtomicBool,
}

pub struct RabbitBus {
    settings: RabbitSettings,
    consumers: Vec<Arc<dyn Consumer>>,
    stats: HashMap<&'static str, Arc<ConsumerStats>>,
    policy: RetryPolicy,
    link: Link,
    /// Set by commits in this process, so the relay publishes at once.
    relay_wake: Notify,
    /// How often the relay looks for events other processes committed.
    poll: Duration,
    /// Names this replica's ephemeral queues.
    replica: String,
    relay: RelayStats,
}

impl RabbitBus {
    pub fn new(
        consumers: Vec<Arc<dyn Consumer>>,
        policy: RetryPolicy,
        settings: RabbitSettings,
    ) -> Self {
        let stats = consumers
            .iter()
            .map(|c| (c.name(), Arc::new(ConsumerStats::default())))
            .collect();
        let replica = uuid::Uuid::new_v4().simple().to_string()[..12].to_string();
        Self {
            link: Link {
                url: settings.url.clone(),
                name: format!("larder {replica}"),
                conn: tokio::sync::Mutex::new(None),
            },
            settings,
            consumers,
            stats,
            policy,
            relay_wake: Notify::new(),
            poll: Duration::from_millis(250),
            replica,
            relay: Default::default(),
        }
    }

    /// The exchanges and the dead-letter queue; every durable consumer's
    /// queue, so nothing the relay publishes is routed nowhere.
    async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable = ExchangeDeclareOptions {
            durable: true,
            ..Default::default()
        };
        channel
            .exchange_declare(
                self.settings.exchange.as_str().into(),
                ExchangeKind::Topic,
                durable,
                FieldTable::default(),
            )
            .await?;
        let dead = self.settings.dead();
        channel
            .exchange_declare(
                dead.as_str().into(),
                ExchangeKind::Fanout,
                durable,
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_declare(
                dead.as_str().into(),
                QueueDeclareOptions::durable(),
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                dead.as_str().into(),
                dead.as_str().into(),
                "".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for c in &self.consumers {
            if c.durability() == Durability::Durable {
                self.declare_queue(channel, c.as_ref()).await?;
            }
        }
        Ok(())
    }

    /// A consumer's queue, bound to every event; its name.
    async fn declare_queue(
        &self,
        channel: &Channel,
        consumer: &dyn Consumer,
    ) -> Result<String, lapin::Error> {
        let mut args = FieldTable::default();
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(self.settings.dead().into()),
        );
        let (name, options) = match consumer.durability() {
            Durability::Durable => {
                args.insert("x-single-active-consumer".into(), AMQPValue::Boolean(true));
                (
                    self.settings.queue(consumer.name()),
                    QueueDeclareOptions::durable(),
                )
            }
            Durability::Ephemeral => (
                format!("{}.{}", self.settings.queue(consumer.name()), self.replica),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
            ),
        };
        channel
            .queue_declare(name.as_str().into(), options, args)
            .await?;
        channel
            .queue_bind(
                name.as_str().into(),
                self.settings.exchange.as_str().into(),
                "#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(name)
    }

    /// Keeps a relay running in this replica: it publishes while it holds
    /// the lock, and waits for it otherwise.
    async fn run_relay(self: Arc<Self>, db: Db, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Duration::from_millis(200);
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self.relay_session(&db, &mut shutdown).await {
                Ok(()) => return,
                Err(e) => {
                    self.relay.active.store(false, Ordering::Relaxed);
                    self.relay.failures.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "event relay interrupted; events wait in the table");
                    if wait_or_stop(&mut shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// Publishes until shutdown (`Ok`) or a failure (`Err`).
    async fn relay_session(
        &self,
        db: &Db,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        // The lock lives as long as its connection: taken out of the pool,
        // so it is closed, not reused, when this session ends.
        let mut lock = match db.backend() {
            Backend::Postgres => {
                let mut conn = db
                    .pool()
                    .acquire()
                    .await
                    .map_err(|e| e.to_string())?
                    .detach();
                loop {
                    let got: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
                        .bind(RELAY_LOCK)
                        .fetch_one(&mut conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    if got {
                        break;
                    }
                    if wait_or_stop(shutdown, Duration::from_secs(1)).await {
                        return Ok(());
                    }
                }
                Some(conn)
            }
            Backend::Sqlite => None,
        };
        let channel = self.link.channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| e.to_string())?;
        self.declare(&channel).await.map_err(|e| e.to_string())?;
        let mut position = self.relay_start(db).await.map_err(|e| e.to_string())?;
        self.relay.active.store(true, Ordering::Relaxed);
        self.relay.position.store(position, Ordering::Relaxed);
        tracing::info!(position, "event relay publishing to RabbitMQ");
        let mut last_lock_check = tokio::time::Instant::now();
        loop {
            let batch = store::read_stored(db.pool(), position, i64::MAX, READ_LIMIT as i64)
                .await
                .map_err(|e| e.to_string())?;
            if batch.is_empty() {
                // The lock's connection is how another replica knows this
                // relay is alive; if it died, let the lock go to another.
                if let Some(conn) = lock.as_mut() {
                    if last_lock_check.elapsed() > Duration::from_secs(5) {
                        sqlx::query("select 1")
                            .execute(&mut *conn)
                            .await
                            .map_err(|e| format!("the relay's lock connection failed: {e}"))?;
                        last_lock_check = tokio::time::Instant::now();
                    }
                }
                tokio::select! {
                    _ = self.relay_wake.notified() => {}
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = shutdown.changed() => {
                        let _ = channel.close(200, "shutting down".into()).await;
                        return Ok(());
                    }
                }
                continue;
            }
            let mut confirms = Vec::with_capacity(batch.len());
            for event in &batch {
                let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
                let properties = BasicProperties::default()
                    .with_delivery_mode(2)
                    .with_content_type("application/json".into())
                    .with_message_id(event.seq.to_string().into())
                    .with_correlation_id(event.correlation_id.as_str().into())
                    .with_type(event.event_type.as_str().into())
                    .with_app_id("larder".into());
                let confirm = channel
                    .basic_publish(
                        self.settings.exchange.as_str().into(),
                        event.event_type.as_str().into(),
                        BasicPublishOptions::default(),
                        &body,
                        properties,
                    )
                    .await
                    .map_err(|e| format!("could not publish event {}: {e}", event.seq))?;
                confirms.push((event.seq, confirm));
            }
            for (seq, confirm) in confirms {
                let confirmation = confirm
                    .await
                    .map_err(|e| format!("no confirmation for event {seq}: {e}"))?;
                if confirmation.is_nack() {
                    return Err(format!("RabbitMQ refused event {seq}"));
                }
            }
            let last = batch.last().map(|e| e.seq).unwrap_or(position);
            let mut tx = db.begin().await.map_err(|e| e.to_string())?;
            store::save_checkpoint(&mut tx, RELAY, last)
                .await
                .map_err(|e| e.to_string())?;
            tx.commit().await.map_err(|e| e.to_string())?;
            position = last;
            self.relay
                .published
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            self.relay.position.store(position, Ordering::Relaxed);
        }
    }

    /// Where the relay resumes: its own position, or on its first run
    /// where the furthest-behind durable consumer stands (so switching
    /// from the in-process bus neither skips nor replays much).
    async fn relay_start(&self, db: &Db) -> Result<i64, sqlx::Error> {
        if let Some(p) = store::checkpoint(db.pool(), RELAY).await? {
            return Ok(p);
        }
        let mut start = i64::MAX;
        for c in &self.consumers {
            if c.durability() == Durability::Durable {
                start = start.min(store::checkpoint(db.pool(), c.name()).await?.unwrap_or(0));
            }
        }
        Ok(if start == i64::MAX { 0 } else { start })
    }

    /// Keeps one consumer receiving from its queue in this replica.
    async fn run_consumer(
        self: Arc<Self>,
        db: Db,
        consumer: Arc<dyn Consumer>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let name = consumer.name();
        let stats = self.stats[name].clone();
        // An ephemeral consumer starts at the head, as on the local bus.
        let mut position = loop {
            let start = match consumer.durability() {
                Durability::Durable => Ok(0),
                Durability::Ephemeral => store::head(db.pool()).await,
            };
            match start {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "could not read the event head; retrying");
                    if wait_or_stop(&mut shutdown, Duration::from_secs(1)).await {
                        return;
                    }
                }
            }
        };
        let mut backoff = Duration::from_millis(200);
        loop {
            if *shutdown.borrow() {
                return;
            }
            match self
                .consume_session(&db, consumer.as_ref(), &stats, &mut position, &mut shutdown)
                .await
            {
                Ok(()) => return,
                Err(e) => {
                    tracing::warn!(consumer = name, error = %e, "event consumer lost RabbitMQ; reconnecting");
                    if wait_or_stop(&mut shutdown, backoff).await {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    async fn consume_session(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        stats: &ConsumerStats,
        position: &mut i64,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let err = |e: lapin::Error| e.to_string();
        let channel = self.link.channel().await?;
        channel
            .basic_qos(self.settings.prefetch, BasicQosOptions::default())
            .await
            .map_err(err)?;
        self.declare(&channel).await.map_err(err)?;
        let queue = self.declare_queue(&channel, consumer).await.map_err(err)?;
        let tag = format!("{}@{}", consumer.name(), self.replica);
        let mut deliveries = channel
            .basic_consume(
                queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(err)?;
        if consumer.durability() == Durability::Ephemeral {
            // The queue is new: what was committed while there was none
            // (before the first connection, or while reconnecting) comes
            // from the table; anything committed from here on is in the
            // queue too, and skipped when it arrives.
            self.catch_up(db, consumer, stats, position, shutdown)
                .await?;
        }
        loop {
            let first = tokio::select! {
                d = deliveries.next() => d,
                _ = shutdown.changed() => {
                    // Nothing is in flight between batches: cancel, and
                    // whatever was prefetched goes back to the queue.
                    let _ = channel.basic_cancel(tag.as_str().into(), BasicCancelOptions::default()).await;
                    let _ = channel.close(200, "shutting down".into()).await;
                    return Ok(());
                }
            };
            let first = match first {
                Some(Ok(d)) => d,
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the broker cancelled the consumer".into()),
            };
            let mut batch = vec![first];
            while batch.len() < usize::from(self.settings.prefetch) {
                match deliveries.next().now_or_never() {
                    Some(Some(Ok(d))) => batch.push(d),
                    _ => break,
                }
            }
            let mut events = Vec::with_capacity(batch.len());
            for d in &batch {
                match serde_json::from_slice::<StoredEvent>(&d.data) {
                    Ok(e) => events.push(e),
                    Err(e) => {
                        tracing::error!(consumer = consumer.name(), error = %e, "a message on the event queue is not an event; dead-lettering it");
                        d.acker
                            .reject(BasicRejectOptions { requeue: false })
                            .await
                            .map_err(err)?;
                    }
                }
            }
            events.sort_by_key(|e| e.seq);
            let applied = match consumer.durability() {
                Durability::Durable => {
                    self.apply_durable(db, consumer, stats, events, shutdown)
                        .await
                }
                Durability::Ephemeral => {
                    self.apply_ephemeral(db, consumer, stats, events, position, shutdown)
                        .await
                }
            };
            if let Err(e) = applied {
                // Not acknowledged: closing the channel hands the batch
                // back to the queue, to be tried again.
                let _ = channel.close(200, "delivery failed".into()).await;
                return Err(e);
            }
            if *shutdown.borrow() {
                // A retry was cut short: the rest goes back to the queue.
                let _ = channel.close(200, "shutting down".into()).await;
                return Ok(());
            }
            if let Some(last) = batch.last() {
                last.acker
                    .ack(BasicAckOptions { multiple: true })
                    .await
                    .map_err(err)?;
            }
        }
    }

    /// Applies what a durable consumer has not: each run in one
    /// transaction that first locks and reads its checkpoint.
    async fn apply_durable(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        stats: &ConsumerStats,
        mut received: Vec<StoredEvent>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        loop {
            let mut delivery = Delivery::new(db);
            let done = checkpoint_locked(&mut delivery, db.backend(), consumer.name()).await?;
            received.retain(|e| e.seq > done);
            let Some(first) = received.first().map(|e| e.seq) else {
                return Ok(());
            };
            let run = match self.gap(db, done, first).await? {
                gap if !gap.is_empty() => gap,
                _ => std::mem::take(&mut received),
            };
            let events: Vec<_> = run.into_iter().map(StoredEvent::decode).collect();
            self.deliver(db, consumer, stats, delivery, &events, shutdown)
                .await;
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// Hands an ephemeral consumer what it has not seen since `position`.
    async fn apply_ephemeral(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        stats: &ConsumerStats,
        mut received: Vec<StoredEvent>,
        position: &mut i64,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        loop {
            received.retain(|e| e.seq > *position);
            let Some(first) = received.first().map(|e| e.seq) else {
                return Ok(());
            };
            let run = match self.gap(db, *position, first).await? {
                gap if !gap.is_empty() => gap,
                _ => std::mem::take(&mut received),
            };
            let events: Vec<_> = run.into_iter().map(StoredEvent::decode).collect();
            self.deliver(db, consumer, stats, Delivery::new(db), &events, shutdown)
                .await;
            if let Some(last) = events.last() {
                *position = last.seq;
            }
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// Hands an ephemeral consumer every event after `position` in the
    /// table.
    async fn catch_up(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        stats: &ConsumerStats,
        position: &mut i64,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        loop {
            let run = store::read_stored(db.pool(), *position, i64::MAX, READ_LIMIT as i64)
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = run.last().map(|e| e.seq) else {
                return Ok(());
            };
            let events: Vec<_> = run.into_iter().map(StoredEvent::decode).collect();
            self.deliver(db, consumer, stats, Delivery::new(db), &events, shutdown)
                .await;
            *position = last;
            if *shutdown.borrow() {
                return Ok(());
            }
        }
    }

    /// The events between what was seen and what arrived, from the table.
    async fn gap(&self, db: &Db, seen: i64, first: i64) -> Result<Vec<StoredEvent>, String> {
        if first <= seen + 1 {
            return Ok(Vec::new());
        }
        let gap = store::read_stored(db.pool(), seen, first, READ_LIMIT as i64)
            .await
            .map_err(|e| e.to_string())?;
        if !gap.is_empty() {
            tracing::info!(
                seen,
                first,
                filled = gap.len(),
                "events missing from the queue; reading them from the table"
            );
        }
        Ok(gap)
    }

    /// A run of events in one delivery, or one at a time (retried, and
    /// parked when they keep failing) if the run fails.
    async fn deliver(
        &self,
        db: &Db,
        consumer: &dyn Consumer,
        stats: &ConsumerStats,
        delivery: Delivery,
        events: &[super::store::Event],
        shutdown: &mut watch::Receiver<bool>,
    ) {
        let Some(last) = events.last().map(|e| e.seq) else {
            return;
        };
        match deliver_in(delivery, consumer, events).await {
            Ok(()) => {
                stats
                    .delivered
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
            }
            Err(_) => {
                for event in events {
                    if *shutdown.borrow() {
                        return;
                    }
                    deliver_one(&self.policy, db, consumer, event, stats, shutdown).await;
                }
            }
        }
        stats.position.store(last, Ordering::Relaxed);
    }
}

impl EventBus for RabbitBus {
    fn committed(&self) {
        self.relay_wake.notify_one();
    }

    fn consumers(&self) -> &[Arc<dyn Consumer>] {
        &self.consumers
    }

    fn stats(&self, consumer: &str) -> Option<Arc<ConsumerStats>> {
        self.stats.get(consumer).cloned()
    }

    fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    fn broker(&self) -> Option<bool> {
        Some(self.link.connected())
    }

    fn relay(&self) -> Option<&RelayStats> {
        Some(&self.relay)
    }

    fn start(
        self: Arc<Self>,
        db: Db,
        tasks: &crate::tasks::Supervisor,
        shutdown: watch::Receiver<bool>,
    ) -> Vec<JoinHandle<()>> {
        let mut handles = Vec::with_capacity(self.consumers.len() + 2);
        {
            let (bus, db, stop) = (self.clone(), db.clone(), shutdown.clone());
            handles.push(tasks.spawn("event-relay", shutdown.clone(), move || {
                bus.clone().run_relay(db.clone(), stop.clone())
            }));
        }
        for consumer in &self.consumers {
            let (bus, db, stop, consumer) =
                (self.clone(), db.clone(), shutdown.clone(), consumer.clone());
            handles.push(tasks.spawn(consumer.name(), shutdown.clone(), move || {
                bus.clone()
                    .run_consumer(db.clone(), consumer.clone(), stop.clone())
            }));
        }
        // The connection closes once every task above has let go of it.
        let (bus, mut stop) = (self.clone(), shutdown.clone());
        handles.push(tokio::spawn(async move {
            let _ = stop.wait_for(|s| *s).await;
            tokio::time::sleep(Duration::from_millis(500)).await;
            bus.link.close().await;
        }));
        handles
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_stays_out_of_logs() {
        assert_eq!(
            redacted("amqp://larder:s3cret@mq.internal:5672/%2f"),
            "amqp://larder:***@mq.internal:5672/%2f"
        );
        assert_eq!(redacted("amqp://mq:5672"), "amqp://mq:5672");
        let s = RabbitSettings {
            url: "amqp://larder:s3cret@mq:5672/%2f".into(),
            exchange: "larder.events".into(),
            prefetch: 10,
        };
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn settings_are_checked() {
        let mut s = RabbitSettings {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "larder.events".into(),
            prefetch: 10,
        };
        assert!(s.check().is_ok());
        s.url = "http://127.0.0.1:5672".into();
        assert!(s.check().unwrap_err().contains("LARDER_RABBITMQ_URL"));
        s.url = "amqp://127.0.0.1".into();
        s.prefetch = 0;
        assert!(s.check().unwrap_err().contains("PREFETCH"));
    }
}

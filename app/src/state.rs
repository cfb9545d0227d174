//! The state every server function and handler shares, provided as Leptos
//! context by the server.

use std::sync::Arc;
use std::time::Duration;

use crate::auth::callers::CallerCache;
use crate::auth::service::SetupGate;
use crate::auth::sessions::SignInThrottle;
use crate::clock::{Clock, SystemClock};
use crate::db::Db;
use crate::error::AppError;
use crate::events::bus::{Consumer, EventBus, LocalBus, RetryPolicy};
use crate::inventory::cache::StockCache;
use crate::inventory::consumers::{CacheInvalidation, DailyFlows, LiveFeed, LiveFeedConsumer};
use crate::inventory::service::MovementContext;
use crate::inventory::writer::MovementWriter;
use crate::recent::Recent;
use crate::tasks::Supervisor;

/// Settings the app itself needs (the server's config holds the rest).
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach this instance, for links in invitations.
    pub public_url: String,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Whether anyone may create an account without an invitation.
    pub open_signup: bool,
    /// How long a session lasts without being used.
    pub session_ttl: Duration,
    /// How long an invitation link stays valid.
    pub invitation_ttl: Duration,
    /// How hard event delivery tries before parking an event.
    pub event_retry: RetryPolicy,
    /// How long a request's caller (session and memberships) is reused
    /// by later requests with the same session, and what a movement needs
    /// of its pantry and product by later movements; zero turns both off.
    pub caller_cache_ttl: Duration,
    /// Where uploads are spooled and import error files kept.
    pub data_dir: std::path::PathBuf,
    /// How large a photo upload may be.
    pub photo_limits: crate::photos::picture::PhotoLimits,
    /// The item matching model's weights; `None` turns matching off.
    pub item_model: Option<std::path::PathBuf>,
    /// The optional vision model photos are also shown to.
    pub vision_llm: Option<crate::photos::llm::VisionLlm>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Where "now" comes from (the system clock, or a test's).
    pub clock: Arc<dyn Clock>,
    /// How often scheduled jobs look whether they are due.
    pub job_check: Duration,
    /// Single sign-on through a Cognito user pool, when configured.
    pub oidc: Option<Arc<crate::auth::oidc::Oidc>>,
    /// The pool's admin calls, when its id is configured.
    pub pool: Option<Arc<crate::auth::pool::Pool>>,
    /// Email through the operator's SMTP server, when configured.
    pub mailer: Option<Arc<crate::mail::Mailer>>,
    /// How supplier catalogs are fetched from their web addresses.
    pub supplier_fetch: crate::purchasing::feed::FetchSettings,
    /// The wait before a failed push is tried again; it doubles.
    pub push_retry: Duration,
    /// Followers above which a pantry's posts are merged into home
    /// timelines when read instead of written into each one.
    pub timeline_fanout_limit: i64,
    /// Rows kept in each home timeline; older ones are let go.
    pub timeline_keep: i64,
    /// Photo files in an S3-compatible bucket (checked when the
    /// configuration was read); the data directory otherwise.
    pub photo_s3: Option<crate::photos::s3::S3Settings>,
    /// Events through RabbitMQ instead of in-process delivery.
    pub rabbitmq: Option<crate::events::rabbit::RabbitSettings>,
    /// The throttle, rate limits and cache word shared through Redis.
    pub redis: Option<crate::cluster::RedisSettings>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            secure_cookies: false,
            open_signup: false,
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            event_retry: RetryPolicy::default(),
            caller_cache_ttl: Duration::from_secs(5),
            data_dir: std::env::temp_dir().join("larder"),
            photo_limits: Default::default(),
            item_model: None,
            vision_llm: None,
            trusted_proxies: Vec::new(),
            clock: Arc::new(SystemClock),
            job_check: Duration::from_secs(60),
            oidc: None,
            pool: None,
            mailer: None,
            supplier_fetch: Default::default(),
            push_retry: Duration::from_secs(5),
            timeline_fanout_limit: 1_000,
            timeline_keep: 800,
            photo_s3: None,
            rabbitmq: None,
            redis: None,
        }
    }
}

/// Cloned for every request (it is the server functions' context), so it
/// is one reference-counted pointer to what it shares.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Shared {
    pub db: Db,
    /// "Now" for everything time-dependent.
    pub clock: Arc<dyn Clock>,
    /// Runs and restarts the background tasks; their counters.
    pub tasks: Arc<Supervisor>,
    pub settings: Arc<Settings>,
    pub setup: Arc<SetupGate>,
    pub throttle: Arc<SignInThrottle>,
    /// What replicas share through Redis, when it is configured.
    pub cluster: Option<Arc<crate::cluster::Cluster>>,
    /// Delivers committed events to the consumers.
    pub bus: Arc<dyn EventBus>,
    pub stock_cache: Arc<StockCache>,
    pub live: Arc<LiveFeed>,
    /// Writes stock movements in batches.
    pub writer: MovementWriter,
    /// Who recent session tokens belong to.
    pub callers: Arc<CallerCache>,
    /// What recent movements needed to know of their pantry and product;
    /// forgotten whenever a place or a product changes in this process.
    pub contexts: Arc<Recent<MovementContext>>,
    /// How far the running history imports have read.
    pub imports: Arc<crate::usage::import::ImportProgress>,
    /// Photo files and upload limits.
    pub photos: crate::photos::service::Photos,
    /// Wakes the forecast worker when a run is queued.
    pub forecast_wake: Arc<tokio::sync::Notify>,
}

impl AppState {
    /// The state with the in-process event bus and every consumer
    /// registered. Delivery starts with [`EventBus::start`]; the movement
    /// writer starts here, so this runs inside the Tokio runtime.
    pub fn new(db: Db, settings: Settings, setup: SetupGate) -> Self {
        let stock_cache = Arc::new(StockCache::default());
        let live = Arc::new(LiveFeed::default());
        let photos = crate::photos::service::Photos {
            store: crate::photos::store::open(settings.photo_s3.as_ref(), &settings.data_dir)
                .expect("the S3 settings were checked when the configuration was read"),
            limits: settings.photo_limits,
            wake: Default::default(),
            decoding: Arc::new(tokio::sync::Semaphore::new(
                crate::photos::service::DECODING_AT_ONCE,
            )),
            in_flight: Arc::new(tokio::sync::Semaphore::new(
                crate::photos::service::IN_FLIGHT_KIB,
            )),
            items: Arc::new(crate::photos::items::ItemModel::new(
                settings.item_model.clone(),
            )),
            llm: settings.vision_llm.clone().map(Arc::new),
        };
        let callers = Arc::new(CallerCache::new(settings.caller_cache_ttl));
        let cluster = settings.redis.as_ref().map(|r| {
            Arc::new(
                crate::cluster::Cluster::new(r)
                    .expect("the Redis settings were checked when the configuration was read"),
            )
        });
        if let Some(c) = &cluster {
            callers.share_with(c);
        }
        let forecast_wake = Arc::new(tokio::sync::Notify::new());
        let contexts = Arc::new(Recent::new(settings.caller_cache_ttl));
        // A new consumer is one line here and one `match` on the event.
        let consumers: Vec<Arc<dyn Consumer>> = vec![
            Arc::new(CacheInvalidation(stock_cache.clone())),
            Arc::new(crate::org::consumers::PlaceCaches {
                callers: callers.clone(),
                contexts: contexts.clone(),
            }),
            Arc::new(LiveFeedConsumer(live.clone())),
            Arc::new(DailyFlows),
            Arc::new(crate::photos::analysis::AnalysisTrigger(
                photos.wake.clone(),
            )),
            Arc::new(crate::notifications::notifier::Notifier { db: db.clone() }),
            Arc::new(crate::community::timelines::Timelines {
                fanout_limit: settings.timeline_fanout_limit,
                keep: settings.timeline_keep,
            }),
            Arc::new(crate::community::automatic::AutomaticPoster { db: db.clone() }),
            Arc::new(crate::stock_issues::analyser::StockAnalyser {
                db: db.clone(),
                clock: settings.clock.clone(),
            }),
            Arc::new(crate::forecasts::run::RefreshAfterImport {
                db: db.clone(),
                clock: settings.clock.clone(),
                wake: forecast_wake.clone(),
            }),
        ];
        let mut consumers = consumers;
        if let Some(model) = photos.llm.clone() {
            consumers.push(Arc::new(crate::stock_issues::advisor::StockAdvisor {
                db: db.clone(),
                model,
                http: reqwest::Client::new(),
            }));
        }
        let policy = settings.event_retry.clone();
        let bus: Arc<dyn EventBus> = match &settings.rabbitmq {
            Some(rabbit) => Arc::new(crate::events::rabbit::RabbitBus::new(
                consumers,
                policy,
                rabbit.clone(),
            )),
            None => Arc::new(LocalBus::new(consumers, policy)),
        };
        let writer = MovementWriter::start(
            db.clone(),
            stock_cache.clone(),
            bus.clone(),
            settings.clock.clone(),
        );
        Self(Arc::new(Shared {
            db,
            clock: settings.clock.clone(),
            tasks: Default::default(),
            callers,
            contexts,
            imports: Default::default(),
            photos,
            forecast_wake,
            settings: Arc::new(settings),
            setup: Arc::new(setup),
            throttle: Arc::new(SignInThrottle::default()),
            cluster,
            bus,
            stock_cache,
            live,
            writer,
        }))
    }

    /// The state, from the context the server provides to server functions.
    pub fn current() -> Result<Self, AppError> {
        leptos::prelude::use_context::<Self>().ok_or_else(|| {
            AppError::internal(&std::io::Error::other("AppState missing from context"))
        })
    }
}

//! The Larder server: configuration, the HTTP stack around the Leptos app,
//! and start-up. `main.rs` is a thin shell over [`start`], which the
//! integration tests call too.

#![recursion_limit = "256"]

pub mod config;
pub mod copy;
pub mod http;
pub mod metrics;
pub mod telemetry;

/// A request allocates and frees many small values (headers, JSON, rows);
/// glibc's allocator spent about a tenth of the machine's CPU on them in
/// the write benchmark. mimalloc's thread-local free lists do the same
/// work for less.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
use leptos::config::{Env, LeptosOptions};
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use app::auth::model::{DisplayName, Email, NewPassword};
use app::auth::service::{self as auth, SetupGate};
use app::db::Db;
use app::state::{AppState, Settings};
use app::{shell, App};
use config::{redact_url, Config};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not create the data directory {path} (LARDER_DATA_DIR): {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("could not open the database at {url} (DATABASE_URL): {source}")]
    Database { url: String, source: sqlx::Error },
    #[error("{var}: {message}")]
    FirstAdmin { var: &'static str, message: String },
    #[error("could not listen on {addr} ({var}): {source}")]
    Listen {
        var: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("start-up failed: {0}")]
    Other(String),
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    /// Where `/metrics` is served, when it is (`LARDER_METRICS_LISTEN`).
    pub metrics_addr: Option<SocketAddr>,
    pub state: AppState,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Server {
    /// Stops accepting, lets requests in flight finish, and waits.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    /// Waits until the server ends (it ends only on error or [`Server::stop`]).
    pub async fn wait(self) -> std::io::Result<()> {
        self.task
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)))
    }

    pub fn shutdown_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.shutdown.take()
    }
}

/// Opens the database (applying migrations), prepares first-start setup,
/// binds the listener and starts serving.
pub async fn start(config: Config) -> Result<Server, StartError> {
    start_with_clock(config, Arc::new(app::clock::SystemClock)).await
}

/// [`start`] with a clock of the caller's (tests move time with it).
pub async fn start_with_clock(
    config: Config,
    clock: Arc<dyn app::clock::Clock>,
) -> Result<Server, StartError> {
    if config.database_url.starts_with("sqlite:") {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
    }
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|source| StartError::Database {
            url: redact_url(&config.database_url),
            source,
        })?;
    tracing::info!(database = %redact_url(&config.database_url), backend = ?db.backend(), "database ready");
    let db = match &config.replica {
        None => db,
        Some((url, max_lag)) => {
            db.with_replica(url, *max_lag)
                .map_err(|source| StartError::Database {
                    url: redact_url(url),
                    source,
                })?
        }
    };

    let setup = prepare_setup(&config, &db).await?;
    let settings = Settings {
        public_url: config.public_url.clone(),
        secure_cookies: config.public_url.starts_with("https://"),
        open_signup: config.open_signup,
        session_ttl: config.session_ttl,
        event_retry: app::events::bus::RetryPolicy {
            max_attempts: config.event_max_attempts,
            first_backoff: config.event_retry,
            ..Default::default()
        },
        data_dir: config.data_dir.clone(),
        photo_limits: app::photos::picture::PhotoLimits {
            max_bytes: config.photo_max_bytes as usize,
            max_pixels: config.photo_max_pixels,
            // Every photo at the pixel limit in 8-bit RGB, nothing deeper.
            max_decoded_bytes: config.photo_max_pixels * 3,
        },
        item_model: config.item_model.clone(),
        vision_llm: config.vision_llm.clone(),
        trusted_proxies: config.trusted_proxies.clone(),
        clock,
        job_check: config.job_check,
        oidc: match &config.oidc {
            Some(o) => Some(Arc::new(
                app::auth::oidc::Oidc::new(o.clone()).map_err(StartError::Other)?,
            )),
            None => None,
        },
        pool: match &config.pool {
            Some(p) => Some(Arc::new(app::auth::pool::Pool::new(p).await)),
            None => None,
        },
        mailer: match &config.mail {
            Some(m) => Some(Arc::new(
                app::mail::Mailer::new(m).map_err(|e| StartError::Other(e.to_string()))?,
            )),
            None => None,
        },
        supplier_fetch: config.supplier_fetch.clone(),
        push_retry: config.push_retry,
        timeline_fanout_limit: config.timeline_fanout_limit as i64,
        timeline_keep: config.timeline_keep as i64,
        photo_s3: config.photo_s3.clone(),
        rabbitmq: config.rabbitmq.clone(),
        redis: config.redis.clone(),
        ..Settings::default()
    };
    let state = AppState::new(db, settings, setup);
    // Imports a stopped process left half-way are undone before any new one.
    if let Err(e) = app::usage::import::recover(&state).await {
        tracing::error!(error = %e, "could not undo interrupted history imports");
    }
    let (stop_delivery, delivery_stopped) = tokio::sync::watch::channel(false);
    let mut delivery =
        state
            .bus
            .clone()
            .start(state.db.clone(), &state.tasks, delivery_stopped.clone());
    delivery.push({
        let (db, store, wake, stop) = (
            state.db.clone(),
            state.photos.store.clone(),
            state.photos.wake.clone(),
            delivery_stopped.clone(),
        );
        let clock = state.clock.clone();
        let readers = app::photos::analysis::Readers::new(
            state.photos.items.clone(),
            state.photos.llm.clone(),
        );
        state
            .tasks
            .spawn("photo-analyser", delivery_stopped.clone(), move || {
                app::photos::analysis::run(
                    db.clone(),
                    clock.clone(),
                    store.clone(),
                    readers.clone(),
                    wake.clone(),
                    stop.clone(),
                )
            })
    });
    delivery.extend(app::forecasts::run::start(
        &state.tasks,
        state.db.clone(),
        state.clock.clone(),
        state.forecast_wake.clone(),
        state.settings.job_check,
        delivery_stopped.clone(),
    ));
    delivery.push(app::notifications::push::start(
        &state.tasks,
        state.clone(),
        delivery_stopped.clone(),
    ));
    delivery.push(app::notifications::digest::start(
        &state.tasks,
        state.clone(),
        state.settings.job_check,
        delivery_stopped.clone(),
    ));
    delivery.push(app::purchasing::feed::start(
        &state.tasks,
        state.clone(),
        state.settings.job_check,
        delivery_stopped.clone(),
    ));
    delivery.push(app::auth::sessions::purge_sessions_job(
        &state,
        delivery_stopped.clone(),
    ));
    if let Some(cluster) = &state.cluster {
        delivery.extend(cluster.start(
            state.callers.clone(),
            &state.tasks,
            delivery_stopped.clone(),
        ));
    }
    delivery.extend(state.db.watch_replica(delivery_stopped.clone()));
    delivery.extend(state.db.checkpoint_in_background(delivery_stopped));
    let metrics = Arc::new(metrics::Metrics::default());
    let router = router(&config, state.clone(), metrics.clone());
    let metrics_listener = match config.metrics_listen {
        Some(addr) => Some(
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|source| StartError::Listen {
                    var: "LARDER_METRICS_LISTEN",
                    addr,
                    source,
                })?,
        ),
        None => None,
    };
    let metrics_addr = match &metrics_listener {
        Some(l) => Some(
            l.local_addr()
                .map_err(|e| StartError::Other(e.to_string()))?,
        ),
        None => None,
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| StartError::Listen {
            var: "LARDER_LISTEN",
            addr: config.listen,
            source,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Other(e.to_string()))?;
    let (tx, rx) = oneshot::channel::<()>();
    let (stop_metrics, metrics_stopped) = oneshot::channel::<()>();
    if let Some(listener) = metrics_listener {
        let app = Router::new()
            .route("/metrics", get(metrics::endpoint))
            .with_state((metrics, state.clone()));
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = metrics_stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    let task = tokio::spawn(async move {
        let served = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await;
        let _ = stop_metrics.send(());
        // Requests are done; let consumers finish the batch in hand.
        let _ = stop_delivery.send(true);
        for task in delivery {
            let _ = task.await;
        }
        served
    });
    tracing::info!(%addr, public_url = %config.public_url, metrics = ?metrics_addr, "Larder is listening");
    Ok(Server {
        addr,
        metrics_addr,
        state,
        shutdown: Some(tx),
        task,
    })
}

/// On a fresh instance: creates the first admin from configuration, or
/// opens the setup page with a one-time code printed to the log.
async fn prepare_setup(config: &Config, db: &Db) -> Result<SetupGate, StartError> {
    let users = auth::user_count(db)
        .await
        .map_err(|e| StartError::Other(e.to_string()))?;
    if users > 0 {
        return Ok(SetupGate::new(None));
    }
    if let Some(admin) = &config.first_admin {
        let bad = |var, e: app::error::AppError| StartError::FirstAdmin {
            var,
            message: e.to_string(),
        };
        let name =
            DisplayName::parse(&admin.name, "name").map_err(|e| bad("LARDER_ADMIN_NAME", e))?;
        let email =
            Email::parse(&admin.email, "email").map_err(|e| bad("LARDER_ADMIN_EMAIL", e))?;
        let password = NewPassword::parse(&admin.password, "password")
            .map_err(|e| bad("LARDER_ADMIN_PASSWORD", e))?;
        auth::create_first_admin(db, &name, &email, &password)
            .await
            .map_err(|e| StartError::Other(e.to_string()))?;
        tracing::info!(email = %email.as_str(), "first admin created from LARDER_ADMIN_EMAIL");
        return Ok(SetupGate::new(None));
    }
    let code = config
        .setup_code
        .clone()
        .map(|c| c.trim().to_uppercase())
        .unwrap_or_else(SetupGate::generate_code);
    tracing::warn!(
        "Larder has no accounts yet. Open {}/setup and enter the setup code {code} to create the first admin.",
        config.public_url
    );
    Ok(SetupGate::new(Some(code)))
}

/// The path as logs show it: invitation links carry a secret token, which
/// must not end up in log files.
fn loggable_path(path: &str) -> &str {
    if path.starts_with("/invitations/") {
        "/invitations/{token}"
    } else {
        path
    }
}

/// The app's routes, listed once per process. Listing them runs the app
/// with resource loading switched off for the whole process (a global flag
/// in leptos_server), and a resource first polled meanwhile by a page
/// another server in this process is rendering would never load, leaving
/// that request hanging (leptos-rs/leptos#4773). Listed once, before any
/// server here can render, no render ever overlaps it.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every page's path pattern (`/pantries/:id`), for the tests that walk
/// all of them. Call it after a server has started (see [`route_list`]).
pub fn page_paths() -> Vec<String> {
    route_list().iter().map(|r| r.path().to_string()).collect()
}

/// Every server function's path (`/api/sign_in`), likewise.
pub fn server_function_paths() -> Vec<String> {
    leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.to_string())
        .collect()
}

/// The whole HTTP stack: the Leptos pages and server functions, operations
/// endpoints, and the layers every request passes through.
pub fn router(config: &Config, state: AppState, metrics: Arc<metrics::Metrics>) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("larder")
        .site_root(config.site_root.display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .env(Env::PROD)
        .build();
    let routes = route_list();
    let cluster = state.cluster.clone();
    let context = {
        let state = state.clone();
        move || provide_context(state.clone())
    };
    let pages = Router::new()
        .leptos_routes_with_context(&leptos_options, routes, context.clone(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // Static files (the WASM, its chunks, the scanner's worker) come
        // straight from `ServeDir`; Leptos' handler only renders the page
        // for an address that is neither a route nor a file. Leptos' file
        // handler wraps each file in a reactive owner that can pick up the
        // context of another request being rendered on the same thread, and
        // a WASM chunk then went out with that page's status (a 409 from a
        // used invitation), so the browser refused it and never hydrated.
        .fallback_service(
            tower_http::services::ServeDir::new(&config.site_root)
                .precompressed_gzip()
                .precompressed_br()
                // A POST to an unknown address is a 404 page too, not 405.
                .call_fallback_on_method_not_allowed(true)
                .fallback(axum::handler::Handler::with_state(
                    leptos_axum::file_and_error_handler_with_context(context, shell),
                    leptos_options.clone(),
                )),
        )
        .with_state(leptos_options);

    let mut ops = Router::new()
        .route("/healthz", get(http::healthz))
        .route("/readyz", get(http::readyz))
        .merge(app::routes())
        .with_state(state.clone());
    if let Some(token) = &config.metrics_token {
        ops = ops.merge(
            Router::new()
                .route("/metrics", get(metrics::guarded_endpoint))
                .with_state((metrics.clone(), state, Arc::new(token.clone()))),
        );
    }

    let request_span = |req: &axum::http::Request<axum::body::Body>| {
        let request_id = req
            .headers()
            .get(app::request::REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-");
        let span = tracing::info_span!("request", %request_id, method = %req.method(), path = %loggable_path(req.uri().path()));
        telemetry::continue_from_headers(&span, req.headers());
        span
    };
    use axum::http::{header, HeaderValue};
    pages
        .merge(ops)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(config.trusted_proxies.clone()),
            app::request::remember_origin,
        ))
        .layer(axum::middleware::from_fn(http::server_fn_status))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(http::public_origin(&config.public_url)),
            http::csrf_guard,
        ))
        // Before the CSRF check and any handler: a flood is refused cheaply.
        .layer(axum::middleware::from_fn_with_state(
            app::rest::limits::RateLimits::new(
                config.rate_limits,
                config.trusted_proxies.clone(),
                cluster,
            ),
            app::rest::limits::enforce,
        ))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            metrics::track,
        ))
        .layer(CatchPanicLayer::custom(
            |_: Box<dyn std::any::Any + Send>| {
                tracing::error!("a request handler panicked");
                axum::response::IntoResponse::into_response(app::error::AppError::Internal {
                    request_id: "see server log".into(),
                    cause: None,
                })
            },
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        // Pages set their own policy with their nonce; everything else
        // (scripts, the scanner's worker, JSON, files) gets this one.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        // The WASM bundle shrinks from ~1.3 MB to ~450 KB on the wire.
        .layer(tower_http::compression::CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

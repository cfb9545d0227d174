//! Configuration: environment variables over an optional TOML file over
//! defaults. A wrong value stops start-up with a message that names the
//! variable and says what it expected.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, PartialEq, Eq)]
pub struct FirstAdmin {
    pub name: String,
    pub email: String,
    pub password: String,
}

impl std::fmt::Debug for FirstAdmin {
    // The password stays out of logs and configuration dumps.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirstAdmin")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub public_url: String,
    /// Where the built site (WASM, JS, CSS, public files) is served from.
    pub site_root: PathBuf,
    pub open_signup: bool,
    /// A fixed setup code instead of a generated one (for automation).
    pub setup_code: Option<String>,
    pub first_admin: Option<FirstAdmin>,
    pub session_ttl: Duration,
    /// Attempts at delivering an event before it is parked.
    pub event_max_attempts: u32,
    /// The first wait between attempts; it doubles each time.
    pub event_retry: Duration,
    /// The largest photo upload, in bytes.
    pub photo_max_bytes: u64,
    /// The most pixels a photo may have.
    pub photo_max_pixels: u64,
    /// The item matching model's weights; `None` (`off`) turns matching off.
    pub item_model: Option<PathBuf>,
    /// An OpenAI-compatible vision model photos are also shown to.
    pub vision_llm: Option<app::photos::llm::VisionLlm>,
    /// Where `/metrics` is served, apart from the app (`None`: nowhere).
    pub metrics_listen: Option<SocketAddr>,
    /// With a token, `/metrics` is also served on the app's address to
    /// requests that carry it as a bearer token.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How often scheduled jobs look whether they are due.
    pub job_check: Duration,
    /// Requests per minute per API key and per client address.
    pub rate_limits: app::rest::limits::RateLimitSettings,
    /// Single sign-on through a Cognito user pool (`LARDER_COGNITO_*`).
    pub oidc: Option<app::auth::oidc::OidcSettings>,
    /// The pool's admin screens (`LARDER_COGNITO_USER_POOL_ID`).
    pub pool: Option<app::auth::pool::PoolSettings>,
    /// Photo files in an S3-compatible bucket instead of the data directory.
    pub photo_s3: Option<app::photos::s3::S3Settings>,
    /// A PostgreSQL read replica for reports and history
    /// (`LARDER_DATABASE_REPLICA_URL`), and how far behind it may be
    /// (`LARDER_DATABASE_REPLICA_MAX_LAG`, seconds).
    pub replica: Option<(String, Duration)>,
    /// Events through RabbitMQ (`LARDER_RABBITMQ_*`).
    pub rabbitmq: Option<app::events::rabbit::RabbitSettings>,
    /// The sign-in throttle, rate limits and cache word shared through
    /// Redis (`LARDER_REDIS_URL`, `LARDER_REDIS_PREFIX`).
    pub redis: Option<app::cluster::RedisSettings>,
    /// Email through an SMTP server (`LARDER_SMTP_URL`, `LARDER_MAIL_FROM`).
    pub mail: Option<app::mail::MailSettings>,
    /// Fetching supplier catalogs (`LARDER_FETCH_ALLOWED_NETWORKS`,
    /// `LARDER_SUPPLIER_SYNC_*`).
    pub supplier_fetch: app::purchasing::feed::FetchSettings,
    /// Followers above which a pantry's posts are read from the pantry
    /// when a home timeline is read, not written into each follower's
    /// (`LARDER_TIMELINE_FANOUT_LIMIT`).
    pub timeline_fanout_limit: u64,
    /// Rows kept in each person's home timeline (`LARDER_TIMELINE_KEEP`).
    pub timeline_keep: u64,
    /// The wait before a failed push is tried again; it doubles.
    pub push_retry: Duration,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var}: expected {expected}, got “{got}”")]
    Invalid {
        var: &'static str,
        expected: String,
        got: String,
    },
    #[error("{var}: {message}")]
    Missing { var: &'static str, message: String },
    #[error("LARDER_CONFIG: could not read {path}: {message}")]
    File { path: String, message: String },
}

/// The optional TOML file: the same settings, lowercase, without the prefix.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    data_dir: Option<String>,
    log_format: Option<String>,
    log: Option<String>,
    public_url: Option<String>,
    site_root: Option<String>,
    open_signup: Option<bool>,
    setup_code: Option<String>,
    session_ttl_hours: Option<u64>,
    event_max_attempts: Option<u64>,
    event_retry_ms: Option<u64>,
    photo_max_mb: Option<u64>,
    photo_max_megapixels: Option<u64>,
    item_model: Option<String>,
    vision_llm_provider: Option<String>,
    vision_llm_url: Option<String>,
    vision_llm_region: Option<String>,
    vision_llm_model: Option<String>,
    vision_llm_key: Option<String>,
    vision_llm_timeout_seconds: Option<u64>,
    metrics_listen: Option<String>,
    metrics_token: Option<String>,
    trusted_proxies: Option<String>,
    job_check_seconds: Option<u64>,
    rate_limit_per_key: Option<u64>,
    rate_limit_per_address: Option<u64>,
    smtp_url: Option<String>,
    mail_from: Option<String>,
    fetch_allowed_networks: Option<String>,
    supplier_sync_timeout_seconds: Option<u64>,
    supplier_sync_attempts: Option<u64>,
    supplier_sync_retry_ms: Option<u64>,
    push_retry_ms: Option<u64>,
    timeline_fanout_limit: Option<u64>,
    timeline_keep: Option<u64>,
    first_admin: Option<FileFirstAdmin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileFirstAdmin {
    name: Option<String>,
    email: String,
    password: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::load(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Builds the configuration from a variable lookup, so tests can pass
    /// their own.
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let file = match env("LARDER_CONFIG") {
            Some(path) => {
                let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File {
                    path: path.clone(),
                    message: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };
        let pick = |var: &str, from_file: Option<String>| env(var).or(from_file);
        // Before the other settings take their values out of the file.
        let vision_llm = vision_llm(&env, &file)?;

        let listen_raw =
            pick("LARDER_LISTEN", file.listen).unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen: SocketAddr = listen_raw.parse().map_err(|_| ConfigError::Invalid {
            var: "LARDER_LISTEN",
            expected: "an address and port such as 127.0.0.1:3000 or 0.0.0.0:8080".into(),
            got: listen_raw.clone(),
        })?;

        let metrics_listen = match pick("LARDER_METRICS_LISTEN", file.metrics_listen)
            .unwrap_or_else(|| "127.0.0.1:9464".into())
        {
            off if off.eq_ignore_ascii_case("off") => None,
            raw => Some(
                raw.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Invalid {
                        var: "LARDER_METRICS_LISTEN",
                        expected: "an address and port such as 127.0.0.1:9464, or off".into(),
                        got: raw.clone(),
                    })?,
            ),
        };
        let metrics_token = pick("LARDER_METRICS_TOKEN", file.metrics_token);
        if metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(ConfigError::Invalid {
                var: "LARDER_METRICS_TOKEN",
                expected: "at least 16 characters".into(),
                got: "(hidden)".into(),
            });
        }
        let trusted_proxies = networks(
            "LARDER_TRUSTED_PROXIES",
            &pick("LARDER_TRUSTED_PROXIES", file.trusted_proxies).unwrap_or_default(),
        )?;
        // Supplier catalogs come from the internet only, unless these
        // networks are allowed too.
        let supplier_fetch = app::purchasing::feed::FetchSettings {
            allowed_networks: networks(
                "LARDER_FETCH_ALLOWED_NETWORKS",
                &pick("LARDER_FETCH_ALLOWED_NETWORKS", file.fetch_allowed_networks)
                    .unwrap_or_default(),
            )?,
            timeout: Duration::from_secs(bounded(
                "LARDER_SUPPLIER_SYNC_TIMEOUT_SECONDS",
                env("LARDER_SUPPLIER_SYNC_TIMEOUT_SECONDS"),
                file.supplier_sync_timeout_seconds,
                1..=600,
                30,
            )?),
            attempts: bounded(
                "LARDER_SUPPLIER_SYNC_ATTEMPTS",
                env("LARDER_SUPPLIER_SYNC_ATTEMPTS"),
                file.supplier_sync_attempts,
                1..=10,
                4,
            )? as u32,
            first_retry: Duration::from_millis(bounded(
                "LARDER_SUPPLIER_SYNC_RETRY_MS",
                env("LARDER_SUPPLIER_SYNC_RETRY_MS"),
                file.supplier_sync_retry_ms,
                10..=600_000,
                1_000,
            )?),
            ..Default::default()
        };
        let push_retry = Duration::from_millis(bounded(
            "LARDER_PUSH_RETRY_MS",
            env("LARDER_PUSH_RETRY_MS"),
            file.push_retry_ms,
            10..=600_000,
            5_000,
        )?);
        let timeline_fanout_limit = bounded(
            "LARDER_TIMELINE_FANOUT_LIMIT",
            env("LARDER_TIMELINE_FANOUT_LIMIT"),
            file.timeline_fanout_limit,
            1..=10_000_000,
            1_000,
        )?;
        let timeline_keep = bounded(
            "LARDER_TIMELINE_KEEP",
            env("LARDER_TIMELINE_KEEP"),
            file.timeline_keep,
            1..=1_000_000,
            800,
        )?;
        // Requests per minute; 0 turns the limit off.
        let rate_limits = app::rest::limits::RateLimitSettings {
            per_key: std::num::NonZeroU32::new(bounded(
                "LARDER_RATE_LIMIT_PER_KEY",
                env("LARDER_RATE_LIMIT_PER_KEY"),
                file.rate_limit_per_key,
                0..=1_000_000,
                600,
            )? as u32),
            per_address: std::num::NonZeroU32::new(bounded(
                "LARDER_RATE_LIMIT_PER_ADDRESS",
                env("LARDER_RATE_LIMIT_PER_ADDRESS"),
                file.rate_limit_per_address,
                0..=1_000_000,
                1200,
            )? as u32),
        };
        let job_check_seconds = bounded(
            "LARDER_JOB_CHECK_SECONDS",
            env("LARDER_JOB_CHECK_SECONDS"),
            file.job_check_seconds,
            1..=3600,
            60,
        )?;

        let data_dir = PathBuf::from(
            pick("LARDER_DATA_DIR", file.data_dir).unwrap_or_else(|| "./data".into()),
        );

        let database_url = match pick("DATABASE_URL", file.database_url) {
            Some(url) => {
                if app::db::Backend::from_url(&url).is_none() {
                    return Err(ConfigError::Invalid {
                        var: "DATABASE_URL",
                        expected: "a sqlite:// or postgres:// URL".into(),
                        got: redact_url(&url),
                    });
                }
                url
            }
            None => format!("sqlite://{}?mode=rwc", data_dir.join("larder.db").display()),
        };

        let log_format = match pick("LARDER_LOG_FORMAT", file.log_format)
            .as_deref()
            .unwrap_or("pretty")
        {
            "pretty" | "text" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(ConfigError::Invalid {
                    var: "LARDER_LOG_FORMAT",
                    expected: "pretty or json".into(),
                    got: other.into(),
                })
            }
        };
        let log_filter = pick("LARDER_LOG", file.log).unwrap_or_else(|| "info,sqlx=warn".into());
        tracing_subscriber::EnvFilter::try_new(&log_filter).map_err(|e| ConfigError::Invalid {
            var: "LARDER_LOG",
            expected: format!("a log filter such as info or larder=debug,info ({e})"),
            got: log_filter.clone(),
        })?;

        let public_url = pick("LARDER_PUBLIC_URL", file.public_url).unwrap_or_else(|| {
            let host = if listen.ip().is_unspecified() {
                "127.0.0.1".to_string()
            } else {
                listen.ip().to_string()
            };
            format!("http://{host}:{}", listen.port())
        });
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                var: "LARDER_PUBLIC_URL",
                expected:
                    "the address people use to reach Larder, starting with http:// or https://"
                        .into(),
                got: public_url,
            });
        }

        let oidc = cognito(&env, &public_url)?;
        let pool = cognito_pool(&env)?;
        let photo_s3 = photo_s3(&env)?;
        let rabbitmq = rabbitmq(&env)?;
        let replica = replica(&env, &database_url)?;
        let redis = match env("LARDER_REDIS_URL") {
            None => None,
            Some(url) => {
                let settings = app::cluster::RedisSettings {
                    url,
                    prefix: env("LARDER_REDIS_PREFIX").unwrap_or_else(|| "larder:".into()),
                };
                settings.check().map_err(|message| ConfigError::Missing {
                    var: "LARDER_REDIS_URL",
                    message,
                })?;
                Some(settings)
            }
        };
        let mail = mail(
            pick("LARDER_SMTP_URL", file.smtp_url),
            pick("LARDER_MAIL_FROM", file.mail_from),
        )?;

        let site_root = PathBuf::from(
            pick("LARDER_SITE_ROOT", file.site_root).unwrap_or_else(|| "target/site".into()),
        );

        let open_signup = match env("LARDER_OPEN_SIGNUP") {
            Some(v) => parse_bool("LARDER_OPEN_SIGNUP", &v)?,
            None => file.open_signup.unwrap_or(false),
        };

        let setup_code = pick("LARDER_SETUP_CODE", file.setup_code);
        if let Some(code) = &setup_code {
            if code.trim().len() < 8 {
                return Err(ConfigError::Invalid {
                    var: "LARDER_SETUP_CODE",
                    expected: "at least 8 characters".into(),
                    got: "(hidden)".into(),
                });
            }
        }

        let session_ttl_hours =
            match env("LARDER_SESSION_TTL_HOURS") {
                Some(v) => v
                    .parse::<u64>()
                    .ok()
                    .filter(|h| (1..=24 * 365).contains(h))
                    .ok_or_else(|| ConfigError::Invalid {
                        var: "LARDER_SESSION_TTL_HOURS",
                        expected: "a whole number of hours from 1 to 8760".into(),
                        got: v.clone(),
                    })?,
                None => match file.session_ttl_hours {
                    Some(h) if !(1..=24 * 365).contains(&h) => return Err(ConfigError::Invalid {
                        var: "LARDER_SESSION_TTL_HOURS",
                        expected:
                            "a whole number of hours from 1 to 8760 (session_ttl_hours in the file)"
                                .into(),
                        got: h.to_string(),
                    }),
                    Some(h) => h,
                    None => 14 * 24,
                },
            };

        let event_max_attempts = bounded(
            "LARDER_EVENT_MAX_ATTEMPTS",
            env("LARDER_EVENT_MAX_ATTEMPTS"),
            file.event_max_attempts,
            1..=100,
            5,
        )?;
        let event_retry_ms = bounded(
            "LARDER_EVENT_RETRY_MS",
            env("LARDER_EVENT_RETRY_MS"),
            file.event_retry_ms,
            1..=60_000,
            200,
        )?;

        let photo_max_mb = bounded(
            "LARDER_PHOTO_MAX_MB",
            env("LARDER_PHOTO_MAX_MB"),
            file.photo_max_mb,
            1..=200,
            25,
        )?;
        let photo_max_megapixels = bounded(
            "LARDER_PHOTO_MAX_MEGAPIXELS",
            env("LARDER_PHOTO_MAX_MEGAPIXELS"),
            file.photo_max_megapixels,
            1..=150,
            50,
        )?;

        // Fetched by `make run` and the test setup (scripts/models.py).
        let item_model = match pick("LARDER_ITEM_MODEL", file.item_model)
            .unwrap_or_else(|| "./models/efficientnet-lite0.safetensors".into())
        {
            off if off.eq_ignore_ascii_case("off") => None,
            path => Some(PathBuf::from(path)),
        };

        let first_admin = match (env("LARDER_ADMIN_EMAIL"), env("LARDER_ADMIN_PASSWORD")) {
            (Some(email), Some(password)) => Some(FirstAdmin {
                name: env("LARDER_ADMIN_NAME").unwrap_or_else(|| "Administrator".into()),
                email,
                password,
            }),
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    var: "LARDER_ADMIN_PASSWORD",
                    message:
                        "LARDER_ADMIN_EMAIL is set, so the first admin's password is needed too"
                            .into(),
                })
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    var: "LARDER_ADMIN_EMAIL",
                    message:
                        "LARDER_ADMIN_PASSWORD is set, so the first admin's email is needed too"
                            .into(),
                })
            }
            (None, None) => file.first_admin.map(|a| FirstAdmin {
                name: a.name.unwrap_or_else(|| "Administrator".into()),
                email: a.email,
                password: a.password,
            }),
        };

        Ok(Self {
            listen,
            database_url,
            data_dir,
            log_format,
            log_filter,
            public_url: public_url.trim_end_matches('/').to_string(),
            site_root,
            open_signup,
            setup_code,
            first_admin,
            session_ttl: Duration::from_secs(session_ttl_hours * 3600),
            event_max_attempts: event_max_attempts as u32,
            event_retry: Duration::from_millis(event_retry_ms),
            photo_max_bytes: photo_max_mb * 1024 * 1024,
            photo_max_pixels: photo_max_megapixels * 1_000_000,
            item_model,
            vision_llm,
            metrics_listen,
            metrics_token,
            trusted_proxies,
            job_check: Duration::from_secs(job_check_seconds),
            rate_limits,
            oidc,
            pool,
            photo_s3,
            replica,
            rabbitmq,
            redis,
            mail,
            supplier_fetch,
            push_retry,
            timeline_fanout_limit,
            timeline_keep,
        })
    }
}

/// `LARDER_SMTP_URL` and `LARDER_MAIL_FROM`: email is off without the URL;
/// with it, the sender is required and both are checked now.
fn mail(
    url: Option<String>,
    from: Option<String>,
) -> Result<Option<app::mail::MailSettings>, ConfigError> {
    let Some(url) = url else {
        return Ok(None);
    };
    let from = from.ok_or_else(|| ConfigError::Missing {
        var: "LARDER_MAIL_FROM",
        message: "the sender (Larder <larder@college.edu>) is needed when LARDER_SMTP_URL is set"
            .into(),
    })?;
    let settings = app::mail::MailSettings { url, from };
    match app::mail::Mailer::new(&settings) {
        Ok(_) => Ok(Some(settings)),
        Err(app::mail::MailConfigError::Url(e)) => Err(ConfigError::Invalid {
            var: "LARDER_SMTP_URL",
            expected: format!(
                "smtps://user:password@host, smtp://user:password@host:587?tls=required or smtp://host:25 ({e})"
            ),
            got: redact_url(&settings.url),
        }),
        Err(app::mail::MailConfigError::From(e)) => Err(ConfigError::Invalid {
            var: "LARDER_MAIL_FROM",
            expected: format!("an address such as Larder <larder@college.edu> ({e})"),
            got: settings.from,
        }),
    }
}

/// `LARDER_COGNITO_*`: single sign-on through a Cognito user pool's hosted
/// UI. Off unless the app client id is set; then the pool (region and id,
/// or the issuer itself) and the hosted UI domain are required.
fn cognito(
    env: &impl Fn(&str) -> Option<String>,
    public_url: &str,
) -> Result<Option<app::auth::oidc::OidcSettings>, ConfigError> {
    let Some(client_id) = env("LARDER_COGNITO_CLIENT_ID") else {
        return Ok(None);
    };
    let missing = |var: &'static str, what: &str| ConfigError::Missing {
        var,
        message: format!("{what} is needed when LARDER_COGNITO_CLIENT_ID is set"),
    };
    let issuer = match env("LARDER_COGNITO_ISSUER") {
        Some(i) => i,
        None => {
            let region = env("LARDER_COGNITO_REGION")
                .or_else(|| env("AWS_REGION"))
                .ok_or_else(|| missing("LARDER_COGNITO_REGION", "the user pool's region"))?;
            let pool = env("LARDER_COGNITO_USER_POOL_ID")
                .ok_or_else(|| missing("LARDER_COGNITO_USER_POOL_ID", "the user pool id"))?;
            format!("https://cognito-idp.{region}.amazonaws.com/{pool}")
        }
    };
    let domain = env("LARDER_COGNITO_DOMAIN")
        .ok_or_else(|| missing("LARDER_COGNITO_DOMAIN", "the hosted UI domain"))?;
    // A bare domain name means https.
    let hosted_ui = if domain.starts_with("http://") || domain.starts_with("https://") {
        domain
    } else {
        format!("https://{domain}")
    };
    let base = public_url.trim_end_matches('/');
    let identity_provider = match env("LARDER_COGNITO_IDENTITY_PROVIDER") {
        Some(p) if p.eq_ignore_ascii_case("none") => None,
        Some(p) => Some(p),
        None => Some("Google".to_string()),
    };
    let group_roles = app::auth::oidc::GroupRole::parse_list(
        &env("LARDER_COGNITO_GROUP_ROLES").unwrap_or_default(),
    )
    .map_err(|message| ConfigError::Invalid {
        var: "LARDER_COGNITO_GROUP_ROLES",
        expected: "group=kind:id:role, comma-separated".into(),
        got: message,
    })?;
    let settings = app::auth::oidc::OidcSettings {
        hosted_ui,
        issuer,
        client_id,
        client_secret: env("LARDER_COGNITO_CLIENT_SECRET"),
        redirect_url: env("LARDER_COGNITO_REDIRECT_URL")
            .unwrap_or_else(|| format!("{base}/auth/callback")),
        sign_out_url: env("LARDER_COGNITO_SIGN_OUT_URL")
            .unwrap_or_else(|| format!("{base}/sign-in")),
        button_label: env("LARDER_COGNITO_BUTTON_LABEL").unwrap_or_else(|| {
            format!(
                "Sign in with {}",
                identity_provider.as_deref().unwrap_or("single sign-on")
            )
        }),
        identity_provider,
        group_roles,
    };
    // The URLs parse now rather than at the first sign-in.
    app::auth::oidc::Oidc::new(settings.clone()).map_err(|message| ConfigError::Invalid {
        var: "LARDER_COGNITO_DOMAIN",
        expected: "a URL (https://<domain>.auth.<region>.amazoncognito.com)".into(),
        got: message,
    })?;
    Ok(Some(settings))
}

/// The pool's admin calls: on when `LARDER_COGNITO_USER_POOL_ID` is set.
/// Credentials: `AWS_ACCESS_KEY_ID` and its secret from Larder's
/// environment, else AWS's standard chain (profiles, roles).
/// AWS keys among the variables Larder reads (with the session token, if
/// any); none when neither is set, an error when only one is.
fn aws_keys(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, String, Option<String>)>, ConfigError> {
    match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY")) {
        (Some(id), Some(secret)) => Ok(Some((id, secret, env("AWS_SESSION_TOKEN")))),
        (None, None) => Ok(None),
        (id, _) => Err(ConfigError::Missing {
            var: if id.is_some() {
                "AWS_SECRET_ACCESS_KEY"
            } else {
                "AWS_ACCESS_KEY_ID"
            },
            message: "AWS keys come in pairs: the access key id and its secret".into(),
        }),
    }
}

/// `LARDER_RABBITMQ_URL` and its neighbours: events through RabbitMQ, so
/// several replicas share the consumers' work.
fn rabbitmq(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<app::events::rabbit::RabbitSettings>, ConfigError> {
    let Some(url) = env("LARDER_RABBITMQ_URL") else {
        return Ok(None);
    };
    let settings = app::events::rabbit::RabbitSettings {
        url,
        exchange: env("LARDER_RABBITMQ_EXCHANGE").unwrap_or_else(|| "larder.events".into()),
        prefetch: bounded(
            "LARDER_RABBITMQ_PREFETCH",
            env("LARDER_RABBITMQ_PREFETCH"),
            None,
            1..=5000,
            200,
        )? as u16,
    };
    settings.check().map_err(|message| ConfigError::Missing {
        var: "LARDER_RABBITMQ_URL",
        message,
    })?;
    Ok(Some(settings))
}

/// `LARDER_DATABASE_REPLICA_URL`: a PostgreSQL streaming replica of
/// `DATABASE_URL`'s server, for heavy reads.
fn replica(
    env: &impl Fn(&str) -> Option<String>,
    database_url: &str,
) -> Result<Option<(String, Duration)>, ConfigError> {
    let Some(url) = env("LARDER_DATABASE_REPLICA_URL") else {
        return Ok(None);
    };
    use app::db::Backend;
    if Backend::from_url(&url) != Some(Backend::Postgres) {
        return Err(ConfigError::Invalid {
            var: "LARDER_DATABASE_REPLICA_URL",
            expected: "a postgres:// URL".into(),
            got: redact_url(&url),
        });
    }
    if Backend::from_url(database_url) != Some(Backend::Postgres) {
        return Err(ConfigError::Missing {
            var: "LARDER_DATABASE_REPLICA_URL",
            message: "a read replica needs DATABASE_URL on PostgreSQL too; \
                      SQLite has no replicas"
                .into(),
        });
    }
    let max_lag = bounded(
        "LARDER_DATABASE_REPLICA_MAX_LAG",
        env("LARDER_DATABASE_REPLICA_MAX_LAG"),
        None,
        1..=3600,
        5,
    )?;
    Ok(Some((url, Duration::from_secs(max_lag))))
}

/// `LARDER_S3_BUCKET` and its neighbours: photo files in an S3-compatible
/// bucket. Checked now, so a replica never starts writing elsewhere.
fn photo_s3(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<app::photos::s3::S3Settings>, ConfigError> {
    let Some(bucket) = env("LARDER_S3_BUCKET") else {
        return Ok(None);
    };
    let endpoint = env("LARDER_S3_ENDPOINT_URL");
    if let Some(e) = &endpoint {
        if !(e.starts_with("http://") || e.starts_with("https://")) {
            return Err(ConfigError::Invalid {
                var: "LARDER_S3_ENDPOINT_URL",
                expected: "an http(s) address such as https://minio.college.edu:9000".into(),
                got: e.clone(),
            });
        }
    }
    let prefix = match env("LARDER_S3_PREFIX") {
        Some(p) if !p.trim_matches('/').is_empty() => format!("{}/", p.trim_matches('/')),
        _ => String::new(),
    };
    let (access_key_id, secret_access_key) = match aws_keys(env)? {
        Some((id, secret, _)) => (Some(id), Some(secret)),
        None => (None, None),
    };
    let settings = app::photos::s3::S3Settings {
        bucket,
        endpoint,
        region: env("LARDER_S3_REGION")
            .or_else(|| env("AWS_REGION"))
            .unwrap_or_else(|| "us-east-1".into()),
        prefix,
        access_key_id,
        secret_access_key,
    };
    app::photos::s3::S3::new(&settings).map_err(|message| ConfigError::Missing {
        var: "LARDER_S3_BUCKET",
        message,
    })?;
    Ok(Some(settings))
}

fn cognito_pool(
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<app::auth::pool::PoolSettings>, ConfigError> {
    let Some(user_pool_id) = env("LARDER_COGNITO_USER_POOL_ID") else {
        return Ok(None);
    };
    let region = env("LARDER_COGNITO_REGION")
        .or_else(|| env("AWS_REGION"))
        .ok_or_else(|| ConfigError::Missing {
            var: "LARDER_COGNITO_REGION",
            message: "the user pool's region is needed with LARDER_COGNITO_USER_POOL_ID".into(),
        })?;
    let keys = aws_keys(env)?;
    Ok(Some(app::auth::pool::PoolSettings {
        region,
        user_pool_id,
        endpoint_url: env("LARDER_COGNITO_ENDPOINT_URL"),
        keys,
    }))
}

/// `LARDER_TRUSTED_PROXIES`, `LARDER_FETCH_ALLOWED_NETWORKS`: addresses
/// or networks, comma-separated (`127.0.0.1, 10.0.0.0/8`).
fn networks(var: &'static str, raw: &str) -> Result<Vec<ipnet::IpNet>, ConfigError> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<ipnet::IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Invalid {
                    var,
                    expected:
                        "addresses or networks separated by commas, such as 127.0.0.1, 10.0.0.0/8"
                            .into(),
                    got: s.to_string(),
                })
        })
        .collect()
}

/// The vision model, if one is configured: an OpenAI-compatible API at
/// `LARDER_VISION_LLM_URL`, or Amazon Bedrock (`LARDER_VISION_LLM_PROVIDER=bedrock`)
/// with AWS's standard credential chain (the `AWS_ACCESS_KEY_ID` family of
/// variables, profile files, web identity, container and instance roles).
fn vision_llm(
    env: &impl Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> Result<Option<app::photos::llm::VisionLlm>, ConfigError> {
    use app::photos::aws::AwsCredentials;
    use app::photos::llm::{Provider, VisionLlm};
    let pick = |var: &str, from_file: &Option<String>| env(var).or_else(|| from_file.clone());
    let provider = pick("LARDER_VISION_LLM_PROVIDER", &file.vision_llm_provider)
        .unwrap_or_else(|| "openai".into())
        .to_ascii_lowercase();
    let url = pick("LARDER_VISION_LLM_URL", &file.vision_llm_url);
    if provider == "openai" && url.is_none() {
        return Ok(None);
    }
    let model = pick("LARDER_VISION_LLM_MODEL", &file.vision_llm_model).ok_or_else(|| ConfigError::Missing {
        var: "LARDER_VISION_LLM_MODEL",
        message: "a vision model is configured, so the model to ask is needed too (llava, gpt-4o-mini, a Bedrock model id…)"
            .into(),
    })?;
    let timeout = bounded(
        "LARDER_VISION_LLM_TIMEOUT_SECONDS",
        env("LARDER_VISION_LLM_TIMEOUT_SECONDS"),
        file.vision_llm_timeout_seconds,
        1..=600,
        60,
    )?;
    let (url, provider) = match provider.as_str() {
        "openai" => (
            url.expect("checked above"),
            Provider::OpenAi {
                api_key: pick("LARDER_VISION_LLM_KEY", &file.vision_llm_key),
            },
        ),
        "bedrock" => {
            let region = pick("LARDER_VISION_LLM_REGION", &file.vision_llm_region)
                .or_else(|| env("AWS_REGION"))
                .ok_or_else(|| ConfigError::Missing {
                    var: "AWS_REGION",
                    message: "Bedrock needs a region (AWS_REGION or LARDER_VISION_LLM_REGION)"
                        .into(),
                })?;
            // Keys among the variables Larder reads are used as given (the
            // standard chain would look there first too); without them, the
            // rest of the chain: profile files, web identity, container and
            // instance roles.
            let credentials = match aws_keys(env)? {
                Some((id, secret, token)) => AwsCredentials::from_keys(id, secret, token),
                None => AwsCredentials::standard_chain(region.clone()),
            };
            let url =
                url.unwrap_or_else(|| format!("https://bedrock-runtime.{region}.amazonaws.com"));
            (
                url,
                Provider::Bedrock {
                    region,
                    credentials: std::sync::Arc::new(credentials),
                },
            )
        }
        other => {
            return Err(ConfigError::Invalid {
                var: "LARDER_VISION_LLM_PROVIDER",
                expected: "openai or bedrock".into(),
                got: other.to_string(),
            })
        }
    };
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(ConfigError::Invalid {
            var: "LARDER_VISION_LLM_URL",
            expected: "the API's base URL, such as http://127.0.0.1:11434/v1".into(),
            got: url,
        });
    }
    Ok(Some(VisionLlm {
        url,
        model,
        provider,
        timeout: Duration::from_secs(timeout),
    }))
}

/// A whole number from the environment or the file, within `range`.
fn bounded(
    var: &'static str,
    from_env: Option<String>,
    from_file: Option<u64>,
    range: std::ops::RangeInclusive<u64>,
    default: u64,
) -> Result<u64, ConfigError> {
    let expected = || format!("a whole number from {} to {}", range.start(), range.end());
    match (from_env, from_file) {
        (Some(v), _) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| ConfigError::Invalid {
                var,
                expected: expected(),
                got: v.clone(),
            }),
        (None, Some(n)) if range.contains(&n) => Ok(n),
        (None, Some(n)) => Err(ConfigError::Invalid {
            var,
            expected: format!("{} (in the file)", expected()),
            got: n.to_string(),
        }),
        (None, None) => Ok(default),
    }
}

fn parse_bool(var: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(ConfigError::Invalid {
            var,
            expected: "true or false".into(),
            got: v.into(),
        }),
    }
}

/// Hides a password in a database URL before it is shown.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::load(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_run_on_an_embedded_database_under_data() {
        let c = load(&[]).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.database_url, "sqlite://./data/larder.db?mode=rwc");
        assert_eq!(c.public_url, "http://127.0.0.1:3000");
        assert_eq!(c.log_format, LogFormat::Pretty);
        assert!(!c.open_signup);
        assert_eq!(
            (c.photo_max_bytes, c.photo_max_pixels),
            (25 << 20, 50_000_000)
        );
        // Metrics on loopback only, apart from the app; no proxy believed.
        assert_eq!(c.metrics_listen, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(c.metrics_token, None);
        assert!(c.trusted_proxies.is_empty());
    }

    #[test]
    fn trusted_proxies_and_the_metrics_address_are_parsed() {
        let c = load(&[
            ("LARDER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ,::1"),
            ("LARDER_METRICS_LISTEN", "off"),
        ])
        .unwrap();
        let nets: Vec<String> = c.trusted_proxies.iter().map(|n| n.to_string()).collect();
        assert_eq!(nets, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert_eq!(c.metrics_listen, None);
        let e = load(&[("LARDER_TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("LARDER_TRUSTED_PROXIES") && e.contains("proxy.local"),
            "{e}"
        );
        let e = load(&[("LARDER_METRICS_TOKEN", "short")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("LARDER_METRICS_TOKEN"), "{e}");
    }

    #[test]
    fn bedrock_takes_its_region_and_credentials_from_the_aws_chain() {
        let c = load(&[
            ("LARDER_VISION_LLM_PROVIDER", "bedrock"),
            (
                "LARDER_VISION_LLM_MODEL",
                "anthropic.claude-3-haiku-20240307-v1:0",
            ),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ])
        .unwrap();
        let llm = c.vision_llm.clone().unwrap();
        assert_eq!(llm.url, "https://bedrock-runtime.eu-west-1.amazonaws.com");
        assert!(
            matches!(&llm.provider, app::photos::llm::Provider::Bedrock { region, .. } if region == "eu-west-1")
        );
        assert!(!format!("{c:?}").contains("very-secret"), "{c:?}");
        assert!(format!("{c:?}").contains("configured keys"), "{c:?}");
        // No keys among the variables: the rest of the chain (profile
        // files, roles) is asked when the model is.
        let c = load(&[
            ("LARDER_VISION_LLM_PROVIDER", "bedrock"),
            ("LARDER_VISION_LLM_MODEL", "m"),
            ("AWS_REGION", "eu-west-1"),
        ])
        .unwrap();
        assert!(format!("{c:?}").contains("standard chain"), "{c:?}");
        let e = load(&[
            ("LARDER_VISION_LLM_PROVIDER", "bedrock"),
            ("LARDER_VISION_LLM_MODEL", "m"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDTEST"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("AWS_SECRET_ACCESS_KEY"), "{e}");
        let e = load(&[
            ("LARDER_VISION_LLM_PROVIDER", "watson"),
            ("LARDER_VISION_LLM_MODEL", "m"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("openai or bedrock"), "{e}");
    }

    #[test]
    fn the_first_admins_password_stays_out_of_debug() {
        let c = load(&[
            ("LARDER_ADMIN_EMAIL", "ada@college.example"),
            ("LARDER_ADMIN_PASSWORD", "correct horse battery"),
        ])
        .unwrap();
        assert_eq!(
            c.first_admin.as_ref().unwrap().password,
            "correct horse battery"
        );
        assert!(!format!("{c:?}").contains("correct horse"), "{c:?}");
    }

    #[test]
    fn photos_go_to_s3_only_with_a_bucket_and_whole_settings() {
        assert!(load(&[]).unwrap().photo_s3.is_none());
        let c = load(&[
            ("LARDER_S3_BUCKET", "larder-photos"),
            ("LARDER_S3_ENDPOINT_URL", "http://127.0.0.1:9000"),
            ("LARDER_S3_PREFIX", "/college/"),
            ("AWS_ACCESS_KEY_ID", "id"),
            ("AWS_SECRET_ACCESS_KEY", "hunter22hunter22"),
        ])
        .unwrap();
        let s3 = c.photo_s3.unwrap();
        assert_eq!(
            (s3.prefix.as_str(), s3.region.as_str()),
            ("college/", "us-east-1")
        );
        assert!(!format!("{s3:?}").contains("hunter22"), "no secret in logs");
        let e = load(&[
            ("LARDER_S3_BUCKET", "larder-photos"),
            ("LARDER_S3_ENDPOINT_URL", "minio:9000"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("LARDER_S3_ENDPOINT_URL"), "{e}");
        let e = load(&[
            ("LARDER_S3_BUCKET", "larder-photos"),
            ("AWS_ACCESS_KEY_ID", "id"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("AWS_SECRET_ACCESS_KEY"), "{e}");
    }

    #[test]
    fn mail_needs_a_sender_and_keeps_the_relay_password_out_of_errors() {
        assert!(load(&[]).unwrap().mail.is_none());
        let c = load(&[
            (
                "LARDER_SMTP_URL",
                "smtps://larder:hunter22@mail.college.example",
            ),
            ("LARDER_MAIL_FROM", "Larder <larder@college.example>"),
        ])
        .unwrap();
        assert_eq!(c.mail.unwrap().from, "Larder <larder@college.example>");
        let e = load(&[("LARDER_SMTP_URL", "smtp://127.0.0.1:25")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("LARDER_MAIL_FROM"), "{e}");
        let e = load(&[
            (
                "LARDER_SMTP_URL",
                "imap://larder:hunter22@mail.college.example",
            ),
            ("LARDER_MAIL_FROM", "larder@college.example"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("LARDER_SMTP_URL"), "{e}");
        assert!(!e.contains("hunter22"), "{e}");
        let e = load(&[
            ("LARDER_SMTP_URL", "smtp://127.0.0.1:25"),
            ("LARDER_MAIL_FROM", "the pantry"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("LARDER_MAIL_FROM"), "{e}");
    }

    #[test]
    fn the_example_configuration_file_is_valid() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/larder.example.toml");
        let c = load(&[("LARDER_CONFIG", path)]).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(c.photo_max_bytes, 25 << 20);
        assert!(c.item_model.is_some());
    }

    #[test]
    fn the_vision_model_needs_a_url_and_a_model_and_hides_its_key() {
        assert!(load(&[]).unwrap().vision_llm.is_none());
        let c = load(&[
            ("LARDER_VISION_LLM_URL", "http://127.0.0.1:11434/v1"),
            ("LARDER_VISION_LLM_MODEL", "llava"),
            ("LARDER_VISION_LLM_KEY", "sk-secret"),
        ])
        .unwrap();
        let llm = c.vision_llm.clone().unwrap();
        assert_eq!((llm.model.as_str(), llm.timeout.as_secs()), ("llava", 60));
        assert!(
            !format!("{c:?}").contains("sk-secret"),
            "the key shows in the configuration's Debug"
        );
        let e = load(&[("LARDER_VISION_LLM_URL", "http://127.0.0.1:11434/v1")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("LARDER_VISION_LLM_MODEL"), "{e}");
        let e = load(&[
            ("LARDER_VISION_LLM_URL", "localhost:11434"),
            ("LARDER_VISION_LLM_MODEL", "llava"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("LARDER_VISION_LLM_URL") && e.contains("base URL"),
            "{e}"
        );
    }

    #[test]
    fn photo_limits_are_set_in_megabytes_and_megapixels() {
        let c = load(&[
            ("LARDER_PHOTO_MAX_MB", "8"),
            ("LARDER_PHOTO_MAX_MEGAPIXELS", "24"),
        ])
        .unwrap();
        assert_eq!(
            (c.photo_max_bytes, c.photo_max_pixels),
            (8 << 20, 24_000_000)
        );
        let e = load(&[("LARDER_PHOTO_MAX_MB", "0")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("LARDER_PHOTO_MAX_MB") && e.contains("from 1 to 200"),
            "{e}"
        );
    }

    #[test]
    fn a_read_replica_needs_postgresql_on_both_sides() {
        let replica = (
            "LARDER_DATABASE_REPLICA_URL",
            "postgres://u:secret@replica/db",
        );
        let c = load(&[("DATABASE_URL", "postgres://u@primary/db"), replica]).unwrap();
        assert_eq!(
            c.replica,
            Some((replica.1.to_string(), Duration::from_secs(5)))
        );
        let e = load(&[replica]).unwrap_err().to_string();
        assert!(
            e.starts_with("LARDER_DATABASE_REPLICA_URL") && e.contains("SQLite"),
            "{e}"
        );
        let e = load(&[
            ("DATABASE_URL", "postgres://u@primary/db"),
            ("LARDER_DATABASE_REPLICA_URL", "mysql://u:secret@replica/db"),
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("LARDER_DATABASE_REPLICA_URL") && !e.contains("secret"),
            "{e}"
        );
        let e = load(&[
            ("DATABASE_URL", "postgres://u@primary/db"),
            replica,
            ("LARDER_DATABASE_REPLICA_MAX_LAG", "soon"),
        ])
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("LARDER_DATABASE_REPLICA_MAX_LAG"), "{e}");
    }

    #[test]
    fn the_data_directory_moves_the_default_database() {
        let c = load(&[("LARDER_DATA_DIR", "/srv/larder")]).unwrap();
        assert_eq!(c.database_url, "sqlite:///srv/larder/larder.db?mode=rwc");
    }

    #[test]
    fn wrong_values_name_the_variable_and_what_it_expected() {
        let e = load(&[("LARDER_LISTEN", "localhost")])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("LARDER_LISTEN: expected an address"), "{e}");
        let e = load(&[("DATABASE_URL", "mysql://u:secret@h/db")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("DATABASE_URL") && e.contains("u:***@h/db") && !e.contains("secret"),
            "{e}"
        );
        let e = load(&[("LARDER_LOG_FORMAT", "xml")])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("LARDER_LOG_FORMAT: expected pretty or json"),
            "{e}"
        );
        let e = load(&[("LARDER_OPEN_SIGNUP", "maybe")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("LARDER_OPEN_SIGNUP"), "{e}");
        let e = load(&[("LARDER_ADMIN_EMAIL", "a@example.org")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("LARDER_ADMIN_PASSWORD"), "{e}");
    }

    #[test]
    fn a_toml_file_is_read_and_the_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("larder.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:4000\"\nlog_format = \"json\"\n[first_admin]\nemail = \"a@example.org\"\npassword = \"long enough pw\"\n").unwrap();
        let p = path.to_str().unwrap();
        let c = load(&[("LARDER_CONFIG", p), ("LARDER_LISTEN", "127.0.0.1:4001")]).unwrap();
        assert_eq!(c.listen.port(), 4001);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(c.first_admin.unwrap().email, "a@example.org");
        std::fs::write(&path, "lissen = \"x\"\n").unwrap();
        let e = load(&[("LARDER_CONFIG", p)]).unwrap_err().to_string();
        assert!(
            e.starts_with("LARDER_CONFIG: could not read") && e.contains("lissen"),
            "{e}"
        );
    }
}

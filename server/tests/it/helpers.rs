//! Spawns the real server on a random port with a fresh database, SQLite or
//! PostgreSQL, and talks to it over HTTP like a browser would.

use std::collections::HashMap;
use std::os::unix::process::CommandExt as _;

use reqwest::{Client, StatusCode};
use serde_json::Value;
use server::config::Config;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const SETUP_CODE: &str = "TEST-SETUP-CODE";
pub const PUBLIC_URL: &str = "http://larder.test";

pub struct TestApp {
    pub base: String,
    pub server: server::Server,
    /// The configuration it started with.
    vars: HashMap<String, String>,
    /// Held by the first server on a database, not by one started beside it.
    _dir: Option<std::sync::Arc<tempfile::TempDir>>,
}

/// The PostgreSQL server `make test` started. Tests fail, rather than skip,
/// without it: a green run must mean both databases were exercised.
pub fn postgres_admin_url() -> String {
    std::env::var("LARDER_TEST_POSTGRES_URL").expect(
        "LARDER_TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts PostgreSQL",
    )
}

/// A fresh, empty database of the given kind; returns its URL.
pub async fn fresh_database(backend: Backend, dir: &std::path::Path) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("larder.db").display()),
        Backend::Postgres => {
            sqlx::any::install_default_drivers();
            let admin = postgres_admin_url();
            let name = format!("larder_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::AnyConnection::connect(&admin)
                .await
                .expect("connecting to the test PostgreSQL");
            sqlx::query(&format!("create database {name}"))
                .execute(&mut conn)
                .await
                .expect("creating a database");
            conn.close().await.ok();
            let (prefix, _) = admin
                .rsplit_once('/')
                .expect("admin URL has a database name");
            format!("{prefix}/{name}")
        }
    }
}

/// The image model's weights, which `scripts/setup-test.sh` fetches.
pub fn item_model() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/efficientnet-lite0.safetensors")
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_with(backend, &[]).await
}

pub async fn spawn_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    spawn_with_clock(backend, extra, std::sync::Arc::new(app::clock::SystemClock)).await
}

/// A server whose "now" is `clock` (a test moves it).
pub async fn spawn_with_clock(
    backend: Backend,
    extra: &[(&str, &str)],
    clock: std::sync::Arc<dyn app::clock::Clock>,
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(backend, dir.path()).await;
    let mut vars: HashMap<String, String> = [
        ("LARDER_LISTEN", "127.0.0.1:0"),
        ("LARDER_SETUP_CODE", SETUP_CODE),
        ("LARDER_PUBLIC_URL", PUBLIC_URL),
        ("LARDER_METRICS_LISTEN", "127.0.0.1:0"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    vars.insert("LARDER_DATA_DIR".into(), dir.path().display().to_string());
    vars.insert(
        "LARDER_SITE_ROOT".into(),
        dir.path().join("site").display().to_string(),
    );
    vars.insert("DATABASE_URL".into(), database_url.clone());
    vars.insert(
        "LARDER_ITEM_MODEL".into(),
        item_model().display().to_string(),
    );
    for (k, v) in extra {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::load(|k| vars.get(k).cloned()).expect("test configuration is valid");
    // LARDER_TEST_LOG=warn (say) shows the servers' logs while debugging.
    if let Ok(filter) = std::env::var("LARDER_TEST_LOG") {
        let mut shown = config.clone();
        shown.log_filter = filter;
        let _ = server::telemetry::init(&shown);
    }
    let server = server::start_with_clock(config, clock)
        .await
        .expect("server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        server,
        vars,
        _dir: Some(std::sync::Arc::new(dir)),
    }
}

/// A second server on the same database and data directory as `app`, as
/// when a college runs several: its own writer, caches and bus.
impl TestApp {
    /// Stops the server as SIGTERM would. Its data directory lives as long
    /// as the handle returned.
    pub async fn stop(self) -> (Config, Option<std::sync::Arc<tempfile::TempDir>>) {
        let config = self.config();
        self.server.stop().await.expect("the server stops cleanly");
        (config, self._dir)
    }

    /// The configuration the server started with, loaded again.
    pub fn config(&self) -> Config {
        let vars = self.vars.clone();
        Config::load(|k| vars.get(k).cloned()).expect("test configuration is valid")
    }
}

pub async fn spawn_beside(app: &TestApp) -> TestApp {
    let vars = app.vars.clone();
    let config = Config::load(|k| vars.get(k).cloned()).expect("test configuration is valid");
    let server = server::start(config).await.expect("a second server starts");
    TestApp {
        base: format!("http://{}", server.addr),
        server,
        vars,
        _dir: app._dir.clone(),
    }
}

/// A second server beside `app` whose "now" is `clock`.
pub async fn spawn_beside_with_clock(
    app: &TestApp,
    clock: std::sync::Arc<dyn app::clock::Clock>,
) -> TestApp {
    spawn_beside_changed(app, &[], clock).await
}

/// A server beside `app` with some settings changed, whose "now" is `clock`.
pub async fn spawn_beside_changed(
    app: &TestApp,
    changes: &[(&str, &str)],
    clock: std::sync::Arc<dyn app::clock::Clock>,
) -> TestApp {
    let mut vars = app.vars.clone();
    for (k, v) in changes {
        vars.insert(k.to_string(), v.to_string());
    }
    let config = Config::load(|k| vars.get(k).cloned()).expect("test configuration is valid");
    let server = server::start_with_clock(config, clock)
        .await
        .expect("a server beside starts");
    TestApp {
        base: format!("http://{}", server.addr),
        server,
        vars,
        _dir: app._dir.clone(),
    }
}

/// Serves `router` on a loopback port of its own (a test's stand-in for a
/// supplier, a model or a push service); returns `http://127.0.0.1:port`.
pub async fn serve_on_loopback(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    base
}

/// A browser-like client: keeps cookies between requests.
pub fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap()
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The user-facing message of an error reply.
    /// An error's message: a server function's (`detail`) or the public
    /// API's (`error`).
    pub fn message(&self) -> String {
        let d = &self.body["detail"];
        d.as_str()
            .map(String::from)
            .or_else(|| d["message"].as_str().map(String::from))
            .or_else(|| self.body["error"]["message"].as_str().map(String::from))
            .unwrap_or_default()
    }

    pub fn kind(&self) -> &str {
        self.body["kind"].as_str().unwrap_or("")
    }

    /// The field an error names: a server function's (`detail`) or the
    /// public API's (`error`).
    pub fn field(&self) -> &str {
        self.body["detail"]["field"]
            .as_str()
            .or(self.body["error"]["field"].as_str())
            .unwrap_or("")
    }
}

impl TestApp {
    /// Calls a server function the way a form does (urlencoded POST).
    pub async fn call(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> Reply {
        let res = client
            .post(format!("{}/api/{endpoint}", self.base))
            .form(form)
            .send()
            .await
            .expect("request reaches the server");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Calls a server function that takes JSON (`input = Json`).
    pub async fn call_json(&self, client: &Client, endpoint: &str, body: &Value) -> Reply {
        let res = client
            .post(format!("{}/api/{endpoint}", self.base))
            .json(body)
            .send()
            .await
            .expect("request reaches the server");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// `/metrics`, from the metrics address (apart from the app's).
    pub async fn metrics(&self) -> String {
        let addr = self.server.metrics_addr.expect("tests serve metrics");
        let res = client()
            .get(format!("http://{addr}/metrics"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        res.text().await.unwrap()
    }

    pub async fn get(&self, client: &Client, path: &str) -> (StatusCode, String) {
        let res = client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    /// Runs the setup page's server function; returns the signed-in client.
    pub async fn setup_admin(&self) -> Client {
        let c = client();
        let r = self
            .call(
                &c,
                "setup",
                &[
                    ("code", SETUP_CODE),
                    ("name", "Ada Admin"),
                    ("email", "ada@college.example"),
                    ("password", "correct horse battery"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "setup: {:?}", r.body);
        c
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> Client {
        let c = client();
        let r = self
            .call(&c, "sign_in", &[("email", email), ("password", password)])
            .await;
        assert_eq!(r.status, StatusCode::OK, "sign in: {:?}", r.body);
        c
    }

    /// Creates something and returns its id (the server function's JSON string).
    pub async fn create(&self, client: &Client, endpoint: &str, form: &[(&str, &str)]) -> String {
        let r = self.call(client, endpoint, form).await;
        assert_eq!(r.status, StatusCode::OK, "{endpoint}: {:?}", r.body);
        r.body.as_str().expect("an id").to_string()
    }

    /// Creates an invitation and returns its token.
    pub async fn invite(&self, admin: &Client, email: &str, role: &str, scope: &str) -> String {
        let r = self
            .call(
                admin,
                "invite",
                &[("email", email), ("role", role), ("scope", scope)],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "invite: {:?}", r.body);
        r.body["link"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    }

    /// Invites and accepts with a new account; returns the signed-in client.
    pub async fn join(&self, admin: &Client, email: &str, role: &str, scope: &str) -> Client {
        let token = self.invite(admin, email, role, scope).await;
        let c = client();
        let r = self
            .call(
                &c,
                "accept_invitation",
                &[
                    ("token", &token),
                    ("name", "Sam Staff"),
                    ("password", "staple lantern river"),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "accept: {:?}", r.body);
        c
    }

    /// Runs SQL against the app's own database, for setting up edge cases
    /// (an expired session) that cannot be reached through the API quickly.
    pub async fn sql(&self, statement: &str) {
        sqlx::query(statement)
            .execute(self.server.state.db.pool())
            .await
            .expect("test SQL runs");
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(self.server.state.db.pool())
            .await
            .unwrap()
    }
}

/// An organization with one campus and two pantries, made by the admin.
pub struct Places {
    pub org: String,
    pub campus: String,
    pub main: String,
    pub library: String,
}

pub async fn build_places(app: &TestApp, admin: &Client) -> Places {
    let org = app
        .create(admin, "create_organization", &[("name", "State College")])
        .await;
    let campus = app
        .create(
            admin,
            "create_campus",
            &[("organization", &org), ("name", "North Campus")],
        )
        .await;
    let main = app
        .create(
            admin,
            "create_pantry",
            &[("campus", &campus), ("name", "Main Pantry")],
        )
        .await;
    let library = app
        .create(
            admin,
            "create_pantry",
            &[("campus", &campus), ("name", "Library Pantry")],
        )
        .await;
    Places {
        org,
        campus,
        main,
        library,
    }
}

/// Runs an async test body once against SQLite and once against PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::helpers::Backend::Postgres).await
            }
        }
    )*};
}

/// moto's server (the AWS emulator), installed by `scripts/setup-test.sh`
/// into `.venv-test`, on a free loopback port; stopped when dropped.
pub struct Moto {
    child: std::process::Child,
    pub url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    pub async fn start() -> Self {
        let bin = std::env::var("LARDER_TEST_MOTO").unwrap_or_else(|_| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv-test/bin/moto_server").into()
        });
        assert!(
            std::path::Path::new(&bin).exists(),
            "moto_server is not at {bin}: run scripts/setup-test.sh (make test does)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let url = format!("http://127.0.0.1:{port}");
        let moto = Self { child, url };
        for _ in 0..150 {
            if reqwest::get(format!("{}/moto-api/", moto.url))
                .await
                .is_ok()
            {
                return moto;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("moto_server did not answer on {}", moto.url);
    }
}

/// A RabbitMQ node of its own (Debian's `rabbitmq-server`, installed by
/// `scripts/setup-test.sh`) on a free loopback port, with its data in a
/// temporary directory, so a test can stop and restart it; stopped when
/// dropped.
pub struct Rabbit {
    dir: tempfile::TempDir,
    port: u16,
    dist: u16,
    child: Option<std::process::Child>,
    pub url: String,
}

/// A loopback port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether the tests run as root (then PostgreSQL and RabbitMQ run as
/// their own Debian users).
pub fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Rabbit {
    const SERVER: &'static str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

    pub async fn start() -> Self {
        assert!(
            std::path::Path::new(Self::SERVER).exists(),
            "RabbitMQ is not installed: run scripts/setup-test.sh (make test does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let mut rabbit = Self {
            url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            dir,
            port,
            dist: free_port(),
            child: None,
        };
        rabbit.resume().await;
        rabbit
    }

    /// Starts the node (again, on the same data).
    pub async fn resume(&mut self) {
        let dir = self.dir.path();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        // As root, the node runs as Debian's `rabbitmq` user.
        let mut command = if is_root() {
            let status = std::process::Command::new("chown")
                .args(["-R", "rabbitmq"])
                .arg(dir)
                .status()
                .unwrap();
            assert!(status.success());
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "rabbitmq", "--", Self::SERVER]);
            c
        } else {
            std::process::Command::new(Self::SERVER)
        };
        let child = command
            .current_dir(dir)
            .env("HOME", dir)
            .env(
                "RABBITMQ_NODENAME",
                format!("larder-{}@localhost", self.port),
            )
            .env("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", self.dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", dir.join("log"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", dir.join("enabled_plugins"))
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .process_group(0)
            .spawn()
            .expect("rabbitmq-server starts");
        self.child = Some(child);
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("RabbitMQ did not listen on {} within a minute", self.port);
    }

    /// Stops the node (SIGTERM to its process group, as an init system
    /// would; SIGKILL if it lingers) and waits until it has.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let group = format!("-{}", child.id());
        let _ = std::process::Command::new("kill")
            .args(["-TERM", "--", &group])
            .status();
        for _ in 0..300 {
            if child.try_wait().ok().flatten().is_some()
                && tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                    .await
                    .is_err()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .status();
        let _ = child.wait();
    }
}

impl Drop for Rabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

/// A Redis server of its own (Debian's `redis-server`) on a free loopback
/// port, keeping nothing on disk; stopped when dropped, and restartable.
pub struct RedisServer {
    port: u16,
    child: Option<std::process::Child>,
    pub url: String,
}

impl RedisServer {
    pub async fn start() -> Self {
        let port = free_port();
        let mut redis = Self {
            port,
            child: None,
            url: format!("redis://127.0.0.1:{port}/0"),
        };
        redis.resume().await;
        redis
    }

    pub async fn resume(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("redis-server starts (scripts/setup-test.sh installs it)");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {}", self.port);
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A Prometheus sample's value (the first line of that name).
pub fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics:\n{text}"))
}

/// The daily reports (a durable consumer's effect) add up to the ledger:
/// every movement counted once.
pub async fn reports_match_the_ledger(app: &TestApp) {
    for kind in ["received", "distributed"] {
        let rollup = app
            .count(&format!("select cast(coalesce(sum(quantity), 0) as bigint) from daily_flows where kind = '{kind}'"))
            .await;
        let ledger = app
            .count(&format!("select cast(coalesce(sum(quantity), 0) as bigint) from movements where kind = '{kind}'"))
            .await;
        let counted = app
            .count(&format!("select cast(coalesce(sum(movements), 0) as bigint) from daily_flows where kind = '{kind}'"))
            .await;
        let rows = app
            .count(&format!(
                "select count(*) from movements where kind = '{kind}'"
            ))
            .await;
        assert_eq!((rollup, counted), (ledger, rows), "{kind}");
    }
}

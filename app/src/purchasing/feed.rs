//! A supplier's catalog fetched from its web address: on demand, and on a
//! schedule stored with it (a cron pattern read on the organization's
//! local clock) that Larder's scheduler runs, one sync of a supplier at a
//! time across every process sharing the database.
//!
//! The address is typed by a person and the request leaves from the
//! server, so fetching is careful: http and https only; never to
//! loopback, private, link-local or other non-public addresses (checked
//! for addresses written as numbers, after every DNS lookup and on every
//! redirect) unless the operator allows those networks; no proxy from the
//! environment (it would resolve names where Larder cannot check them); a
//! timeout per attempt; a size limit enforced as the body arrives; retries
//! with exponential backoff and jitter on network errors, timeouts and 5xx
//! answers, never on 4xx answers or refusals. What it fetches goes through
//! the same checks as an uploaded file ([`super::sync::apply`]), so a
//! catalog that fails halfway changes nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use chrono::{Datelike, Timelike};
use ipnet::IpNet;
use sqlx::Row as _;

use super::model::*;
use super::suppliers::{organization_for, supplier_row};
use super::sync::{apply, record_failed, Source};
use crate::auth::service::Caller;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::ids::SupplierId;
use crate::state::AppState;
use crate::tasks::Supervisor;
use crate::zones::Zone;

/// How catalogs are fetched; from the operator's configuration.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// How long one attempt may take, body included.
    pub timeout: Duration,
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// The wait before the second attempt; it doubles (with jitter) after.
    pub first_retry: Duration,
    /// The largest catalog taken.
    pub max_bytes: usize,
    /// Networks fetched from even though they are not public (a supplier
    /// on the college's own network, or a test's server on loopback).
    pub allowed_networks: Vec<IpNet>,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            attempts: 4,
            first_retry: Duration::from_secs(1),
            max_bytes: super::sync::MAX_BYTES,
            allowed_networks: Vec::new(),
        }
    }
}

/// Redirects followed before giving up.
const MAX_REDIRECTS: usize = 5;
/// The longest address kept.
const MAX_URL: usize = 2_000;
/// Suppliers one scheduler pass syncs (the rest wait for the next pass).
const PER_PASS: i64 = 20;

/// Addresses that are not on the public internet: "this network",
/// private, shared (carrier-grade NAT), loopback, link-local (cloud
/// metadata lives at 169.254.169.254), IETF protocol and benchmarking
/// ranges, multicast and reserved; and their IPv6 kin (unique local,
/// link-local, multicast, NAT64). Written out because std's
/// `IpAddr::is_global` is still unstable, and no maintained crate offers
/// more than this list.
const NOT_PUBLIC: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
    "::/128",
    "::1/128",
    "64:ff9b::/96",
    "100::/64",
    "2001:db8::/32",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

fn not_public() -> &'static [IpNet] {
    static NETS: OnceLock<Vec<IpNet>> = OnceLock::new();
    NETS.get_or_init(|| NOT_PUBLIC.iter().filter_map(|n| n.parse().ok()).collect())
}

/// Whether a fetch may reach this address.
pub fn permitted(ip: IpAddr, allowed: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    allowed.iter().any(|n| n.contains(&ip)) || !not_public().iter().any(|n| n.contains(&ip))
}

/// Checks an address before anything is fetched from it (and each address
/// a redirect leads to): its scheme, no credentials, and, for a host
/// written as a number, that it is public or allowed. Names are checked
/// when they are looked up.
pub fn check_url(input: &str, allowed: &[IpNet]) -> Result<reqwest::Url, String> {
    let input = input.trim();
    if input.len() > MAX_URL {
        return Err(format!("The address is longer than {MAX_URL} characters."));
    }
    let url = reqwest::Url::parse(input)
        .map_err(|e| format!("“{input}” is not a web address ({e}); write it like https://supplier.example/catalog.csv."))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "Only http and https addresses are fetched, not {}.",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("Leave the user name and password out of the address: everyone who sees the supplier would see them.".into());
    }
    let host = url.host_str().ok_or("The address has no host.")?;
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    if let Some(ip) = ip {
        if !permitted(ip, allowed) {
            return Err(format!(
                "{ip} is a private or local address; Larder fetches catalogs from the internet only."
            ));
        }
    }
    Ok(url)
}

/// Why a fetch did not bring a catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// Trying again will not help (a refused address, a 4xx answer, too
    /// large, not text).
    Refused(String),
    /// Worth another try (the network, a timeout, a 5xx answer).
    Transient(String),
}

impl FetchError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Transient(_))
    }
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Refused(m) | Self::Transient(m) => f.write_str(m),
        }
    }
}

/// A refusal of the resolver or the redirect policy, found again in the
/// HTTP client's error chain.
#[derive(Debug)]
struct Blocked(String);

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Blocked {}

/// Looks names up with the system's resolver and keeps only the addresses
/// a fetch may reach, so a name pointing at a private address (or a DNS
/// answer that changes between check and use) cannot get through.
struct PublicOnly(Arc<Vec<IpNet>>);

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allowed = self.0.clone();
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let usable: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| permitted(a.ip(), &allowed))
                .collect();
            if usable.is_empty() && !found.is_empty() {
                return Err(Box::new(Blocked(format!(
                    "{host} is a private or local address; Larder fetches catalogs from the internet only"
                ))) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The HTTP client for requests to addresses people gave Larder (supplier
/// catalogs, push services): no proxy from the environment, names
/// resolved to public (or allowed) addresses only, redirects (when
/// followed) checked the same way, and a timeout.
pub fn outbound_client(
    settings: &FetchSettings,
    timeout: Duration,
    follow_redirects: bool,
) -> Result<reqwest::Client, String> {
    let allowed = Arc::new(settings.allowed_networks.clone());
    let on_redirect = allowed.clone();
    let redirects = if follow_redirects {
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(Blocked(format!(
                    "the address redirects more than {MAX_REDIRECTS} times"
                )));
            }
            match check_url(attempt.url().as_str(), &on_redirect) {
                Ok(_) => attempt.follow(),
                Err(m) => attempt.error(Blocked(format!("it redirects elsewhere: {m}"))),
            }
        })
    } else {
        reqwest::redirect::Policy::none()
    };
    reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(PublicOnly(allowed)))
        .redirect(redirects)
        .connect_timeout(timeout)
        .timeout(timeout)
        .user_agent(concat!("Larder/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("the HTTP client did not start ({e})"))
}

/// Fetches a catalog's text, trying again on network errors and 5xx
/// answers.
pub async fn fetch(settings: &FetchSettings, url: &str) -> Result<String, FetchError> {
    let url = check_url(url, &settings.allowed_networks).map_err(FetchError::Refused)?;
    let client = outbound_client(settings, settings.timeout, true).map_err(FetchError::Refused)?;
    let tries = AtomicU32::new(0);
    let outcome = (|| {
        tries.fetch_add(1, Ordering::Relaxed);
        attempt(&client, &url, settings.max_bytes)
    })
    .retry(
        ExponentialBuilder::default()
            .with_min_delay(settings.first_retry)
            .with_max_delay(Duration::from_secs(60))
            .with_max_times(settings.attempts.saturating_sub(1) as usize)
            .with_jitter(),
    )
    .when(FetchError::is_transient)
    .notify(|e, wait| {
        tracing::warn!(error = %e, retry_in = ?wait, "a supplier catalog fetch failed; trying again")
    })
    .await;
    let tries = tries.load(Ordering::Relaxed);
    outcome.map_err(|e| match e {
        FetchError::Transient(m) if tries > 1 => {
            FetchError::Transient(format!("{m} ({tries} tries)"))
        }
        other => other,
    })
}

async fn attempt(
    client: &reqwest::Client,
    url: &reqwest::Url,
    max: usize,
) -> Result<String, FetchError> {
    let too_large = || {
        FetchError::Refused(format!(
            "the catalog is over {} MB",
            (max as f64 / 1_048_576.0).ceil()
        ))
    };
    let mut response = client.get(url.clone()).send().await.map_err(describe)?;
    let status = response.status();
    if status.is_server_error() {
        return Err(FetchError::Transient(format!(
            "the supplier's server answered {status}"
        )));
    }
    if !status.is_success() {
        return Err(FetchError::Refused(format!(
            "the supplier's server answered {status}"
        )));
    }
    if response.content_length().is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > max {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| FetchError::Refused("the catalog is not UTF-8 text".into()))
}

/// Says what went wrong with a request in words for the sync history.
fn describe(e: reqwest::Error) -> FetchError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(b) = c.downcast_ref::<Blocked>() {
            return FetchError::Refused(b.0.clone());
        }
        cause = c.source();
    }
    if e.is_timeout() {
        FetchError::Transient("the supplier's server did not answer in time".into())
    } else if e.is_connect() {
        FetchError::Transient("Larder could not connect to the supplier's server".into())
    } else {
        FetchError::Transient(format!("the download broke off ({e})"))
    }
}

/// When a supplier's catalog is fetched: a five-field cron pattern
/// (minute hour day month weekday, `0 2 * * *` for 02:00 every night, or
/// `@daily`), read on the organization's local clock.
#[derive(Debug, Clone)]
pub struct Schedule(croner::Cron);

impl Schedule {
    pub fn parse(input: &str, field: &str) -> AppResult<Self> {
        let text = input.trim();
        croner::parser::CronParser::builder()
            .seconds(croner::parser::Seconds::Disallowed)
            .build()
            .parse(text)
            .map(Self)
            .map_err(|e| {
                AppError::invalid(
                    field,
                    format!(
                        "“{text}” is not a schedule Larder reads ({e}). Write five fields, minute hour day month weekday: 0 2 * * * is 02:00 every night, 30 6 * * MON is 06:30 on Mondays."
                    ),
                )
            })
    }

    /// The schedule in words: "At 02:00".
    pub fn describe(&self) -> String {
        self.0.describe()
    }

    /// The first time after `ms` the schedule names, on the zone's clock.
    /// A wall-clock time that happens twice (clocks going back) runs once.
    pub fn next_after(&self, zone: &Zone, ms: i64) -> Option<i64> {
        let wall = zone.wall_clock(ms)?;
        let mut from = chrono::NaiveDate::from_ymd_opt(
            wall.year() as i32,
            wall.month() as u32,
            wall.day() as u32,
        )?
        .and_hms_opt(
            wall.hour() as u32,
            wall.minute() as u32,
            wall.second() as u32,
        )?;
        for _ in 0..4 {
            let next = self.0.find_next_occurrence(&from, false).ok()?;
            let civil = jiff::civil::DateTime::new(
                next.year() as i16,
                next.month() as i8,
                next.day() as i8,
                next.hour() as i8,
                next.minute() as i8,
                0,
                0,
            )
            .ok()?;
            let at = zone.instant_of(civil)?;
            if at > ms {
                return Some(at);
            }
            from = next;
        }
        None
    }
}

/// The feed's row.
struct Feed {
    url: String,
    schedule: Option<String>,
    next_run_at: Option<i64>,
    lease_until: i64,
}

async fn feed_of(db: &Db, supplier: &SupplierId) -> AppResult<Option<Feed>> {
    let row = sqlx::query(
        "select url, schedule, next_run_at, lease_until from supplier_feeds where supplier_id = $1",
    )
    .bind(supplier.as_str())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(Feed {
            url: r.try_get("url")?,
            schedule: r.try_get("schedule")?,
            next_run_at: r.try_get("next_run_at")?,
            lease_until: r.try_get("lease_until")?,
        })
    })
    .transpose()
}

/// The supplier's web address and schedule, as its page shows them; the
/// address only to those who keep the supplier.
pub(super) async fn view(
    state: &AppState,
    supplier: &SupplierId,
    zone: &Zone,
    can_edit: bool,
) -> AppResult<Option<FeedView>> {
    let now = state.clock.now_ms();
    Ok(feed_of(&state.db, supplier).await?.map(|f| FeedView {
        url: if can_edit { f.url } else { String::new() },
        schedule: f.schedule.clone().unwrap_or_default(),
        schedule_text: f
            .schedule
            .as_deref()
            .and_then(|s| Schedule::parse(s, "schedule").ok())
            .map(|s| s.describe()),
        next_run: f.next_run_at.map(|at| zone.format(at)),
        running: f.lease_until > now,
    }))
}

/// Sets the address a supplier's catalog is fetched from and when; an
/// empty address stops fetching it. The schedule is optional (on demand
/// only without one).
pub async fn save(
    state: &AppState,
    caller: &Caller,
    supplier: &SupplierId,
    url: &str,
    schedule: &str,
) -> AppResult<()> {
    let s = supplier_row(&state.db, supplier).await?;
    let (org, _) = organization_for(&state.db, caller, &s.organization_id, true).await?;
    let now = state.clock.now_ms();
    if url.trim().is_empty() {
        sqlx::query("delete from supplier_feeds where supplier_id = $1")
            .bind(s.id.as_str())
            .execute(state.db.pool())
            .await?;
        return Ok(());
    }
    let allowed = &state.settings.supplier_fetch.allowed_networks;
    let url = check_url(url, allowed).map_err(|m| AppError::invalid("url", m))?;
    let (schedule, next) = match schedule.trim() {
        "" => (None, None),
        text => {
            let parsed = Schedule::parse(text, "schedule")?;
            let zone = Zone::stored(&org.time_zone);
            let next = parsed.next_after(&zone, now).ok_or_else(|| {
                AppError::invalid("schedule", format!("“{text}” never comes round."))
            })?;
            (Some(text.to_string()), Some(next))
        }
    };
    sqlx::query(
        "insert into supplier_feeds (supplier_id, organization_id, url, schedule, next_run_at, lease_until, updated_at) \
         values ($1, $2, $3, $4, $5, 0, $6) \
         on conflict (supplier_id) do update set url = excluded.url, schedule = excluded.schedule, \
         next_run_at = excluded.next_run_at, updated_at = excluded.updated_at",
    )
    .bind(s.id.as_str())
    .bind(org.id.as_str())
    .bind(url.as_str())
    .bind(schedule)
    .bind(next)
    .bind(now)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// How long a claim on a supplier's sync holds: every attempt timing out
/// and every wait between them, with room to spare. A process that dies
/// mid-sync frees the supplier when it runs out.
fn lease(settings: &FetchSettings) -> i64 {
    let per_attempt = settings.timeout + Duration::from_secs(60);
    (per_attempt * settings.attempts.max(1) + Duration::from_secs(60)).as_millis() as i64
}

/// Claims the supplier's sync for `holder` unless someone holds it (and,
/// for the scheduler, unless it is not due): one statement, so two
/// processes asking at once cannot both win.
async fn claim(
    db: &Db,
    supplier: &str,
    holder: &str,
    now: i64,
    until: i64,
    due_only: bool,
) -> AppResult<bool> {
    let due = if due_only {
        "and next_run_at is not null and next_run_at <= $4"
    } else {
        ""
    };
    let taken = sqlx::query(&format!(
        "update supplier_feeds set lease_holder = $1, lease_until = $2 \
         where supplier_id = $3 and lease_until <= $4 {due}"
    ))
    .bind(holder)
    .bind(until)
    .bind(supplier)
    .bind(now)
    .execute(db.pool())
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// Frees the claim; `next` is when the schedule runs it again.
async fn release(db: &Db, supplier: &str, holder: &str, next: Option<i64>) -> AppResult<()> {
    sqlx::query(
        "update supplier_feeds set lease_holder = null, lease_until = 0, next_run_at = $1 \
         where supplier_id = $2 and lease_holder = $3",
    )
    .bind(next)
    .bind(supplier)
    .bind(holder)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// Fetches and applies one catalog; a fetch that fails is kept in the
/// history as a failed sync (and its event) and changes nothing.
async fn sync_from(
    state: &AppState,
    supplier: &Supplier,
    url: &str,
    actor: Option<&str>,
) -> AppResult<SyncReport> {
    let source = Source {
        supplier,
        organization: supplier.organization_id.as_str(),
        actor,
        name: url,
        started: state.clock.now_ms(),
    };
    match fetch(&state.settings.supplier_fetch, url).await {
        Ok(text) => apply(state, &source, &text).await,
        Err(e) => {
            let message = format!("Nothing changed: {e}.");
            record_failed(state, &source, &message).await?;
            Ok(SyncReport {
                status: "failed".into(),
                message,
                ..SyncReport::default()
            })
        }
    }
}

/// "Sync now": fetches the supplier's catalog while the person waits.
pub async fn sync_now(
    state: &AppState,
    caller: &Caller,
    supplier: &SupplierId,
) -> AppResult<SyncReport> {
    let s = supplier_row(&state.db, supplier).await?;
    organization_for(&state.db, caller, &s.organization_id, true).await?;
    let feed = feed_of(&state.db, &s.id).await?.ok_or_else(|| {
        AppError::invalid("url", "Give the address of the supplier's catalog first.")
    })?;
    let holder = uuid::Uuid::now_v7().to_string();
    let now = state.clock.now_ms();
    let until = now + lease(&state.settings.supplier_fetch);
    if !claim(&state.db, s.id.as_str(), &holder, now, until, false).await? {
        return Err(AppError::conflict(
            "url",
            "This supplier's catalog is being synced right now; its history shows the result when it is done.",
        ));
    }
    let outcome = sync_from(state, &s, &feed.url, Some(caller.me.id.as_str())).await;
    release(&state.db, s.id.as_str(), &holder, feed.next_run_at).await?;
    outcome
}

/// Syncs every supplier whose schedule is due and that nobody else is
/// syncing; returns how many this process synced.
pub async fn run_due(state: &AppState, holder: &str) -> AppResult<usize> {
    let now = state.clock.now_ms();
    let due: Vec<(String, String)> = sqlx::query_as(
        "select f.supplier_id, o.time_zone from supplier_feeds f \
         join suppliers s on s.id = f.supplier_id join organizations o on o.id = s.organization_id \
         where f.next_run_at <= $1 and f.lease_until <= $1 and s.archived_at is null \
         order by f.next_run_at limit $2",
    )
    .bind(now)
    .bind(PER_PASS)
    .fetch_all(state.db.pool())
    .await?;
    let mut synced = 0;
    for (supplier, zone) in due {
        let until = now + lease(&state.settings.supplier_fetch);
        if !claim(&state.db, &supplier, holder, now, until, true).await? {
            continue;
        }
        let id = SupplierId::from_stored(supplier.clone());
        let outcome = async {
            let s = supplier_row(&state.db, &id).await?;
            let feed = feed_of(&state.db, &id)
                .await?
                .ok_or_else(|| AppError::not_found("catalog address"))?;
            let report = sync_from(state, &s, &feed.url, None).await?;
            Ok::<_, AppError>((report, feed.schedule))
        }
        .await;
        let schedule = match &outcome {
            Ok((report, schedule)) => {
                tracing::info!(supplier = %supplier, status = %report.status, message = %report.message, "scheduled supplier catalog sync");
                synced += 1;
                schedule.clone()
            }
            Err(e) => {
                tracing::error!(supplier = %supplier, error = %e, "a scheduled supplier catalog sync failed");
                None
            }
        };
        let next = schedule
            .and_then(|s| Schedule::parse(&s, "schedule").ok())
            .and_then(|s| s.next_after(&Zone::stored(&zone), state.clock.now_ms()));
        // A sync that could not even start waits an hour rather than
        // trying on every pass.
        let next = match (&outcome, next) {
            (Err(_), _) => Some(state.clock.now_ms() + 3_600_000),
            (Ok(_), next) => next,
        };
        release(&state.db, &supplier, holder, next).await?;
    }
    Ok(synced)
}

/// Starts the scheduler's task: every `check`, sync what is due.
pub fn start(
    supervisor: &Supervisor,
    state: AppState,
    check: Duration,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let holder = uuid::Uuid::now_v7().to_string();
    crate::tasks::every(supervisor, "supplier-sync", check, stop, move || {
        let (state, holder) = (state.clone(), holder.clone());
        async move { run_due(&state, &holder).await.map(|_| ()) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_or_allowed_addresses_are_fetched() {
        let none: Vec<IpNet> = Vec::new();
        for blocked in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!permitted(blocked.parse().unwrap(), &none), "{blocked}");
        }
        for public in ["93.184.216.34", "2606:2800:220:1::1", "8.8.8.8"] {
            assert!(permitted(public.parse().unwrap(), &none), "{public}");
        }
        let loopback: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert!(permitted("127.0.0.1".parse().unwrap(), &loopback));
        assert!(!permitted("127.0.0.2".parse().unwrap(), &loopback));

        assert!(check_url("https://supplier.example/catalog.csv", &none).is_ok());
        for (bad, says) in [
            ("ftp://supplier.example/c.csv", "Only http and https"),
            ("file:///etc/passwd", "Only http and https"),
            (
                "http://169.254.169.254/latest/meta-data",
                "private or local",
            ),
            ("http://[::1]:8080/", "private or local"),
            (
                "http://me:secret@supplier.example/",
                "user name and password",
            ),
            ("supplier.example/catalog.csv", "not a web address"),
        ] {
            let e = check_url(bad, &none).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    fn at(zone: &Zone, y: i16, mo: i8, d: i8, h: i8, mi: i8) -> i64 {
        zone.instant_of(jiff::civil::DateTime::new(y, mo, d, h, mi, 0, 0).unwrap())
            .unwrap()
    }

    #[test]
    fn schedules_run_on_the_local_clock_once_each_time() {
        let la = Zone::parse("America/Los_Angeles", "zone").unwrap();
        let nightly = Schedule::parse("0 2 * * *", "schedule").unwrap();
        // 23:00 on 1 March → 02:00 on the 2nd, local time.
        let now = at(&la, 2026, 3, 1, 23, 0);
        assert_eq!(
            nightly.next_after(&la, now),
            Some(at(&la, 2026, 3, 2, 2, 0))
        );
        // Exactly at 02:00 the next run is tomorrow's.
        let two = at(&la, 2026, 3, 2, 2, 0);
        assert_eq!(
            nightly.next_after(&la, two),
            Some(at(&la, 2026, 3, 3, 2, 0))
        );
        // 8 March 2026: 02:00 does not happen in Los Angeles (clocks go
        // from 02:00 to 03:00); the run is at 03:00 that day, once.
        let before = at(&la, 2026, 3, 8, 1, 0);
        let next = nightly.next_after(&la, before).unwrap();
        assert_eq!(la.format(next), "2026-03-08 03:00 PDT");
        // 1 November 2026: 01:30 happens twice; a run at the first is not
        // repeated at the second.
        let half_past_one = Schedule::parse("30 1 * * *", "schedule").unwrap();
        let first = half_past_one
            .next_after(&la, at(&la, 2026, 11, 1, 0, 0))
            .unwrap();
        assert_eq!(la.format(first), "2026-11-01 01:30 PDT");
        let after = half_past_one.next_after(&la, first).unwrap();
        assert_eq!(la.format(after), "2026-11-02 01:30 PST");
        // Weekday names and nicknames read; nonsense says how to write it.
        let mondays = Schedule::parse("30 6 * * MON", "schedule").unwrap();
        let next = mondays
            .next_after(&la, at(&la, 2026, 12, 2, 12, 0))
            .unwrap();
        assert_eq!(la.format(next), "2026-12-07 06:30 PST");
        assert!(Schedule::parse("@daily", "schedule").is_ok());
        let e = Schedule::parse("every night", "schedule").unwrap_err();
        assert!(
            e.to_string().contains("minute hour day month weekday"),
            "{e}"
        );
        assert!(Schedule::parse("0 0 2 * * *", "schedule").is_err());
    }
}

//! Importing usage or sales history from CSV.
//!
//! The upload is spooled to a file (hashing it on the way), then read as a
//! stream: a blocking thread parses and checks rows and hands them over a
//! small channel to the task that inserts them, so memory stays flat
//! whatever the file's size. Every bad row goes, with its line number and
//! reason, to an error file the user can download.
//!
//! Nothing partial is ever seen: rows are inserted under their import,
//! and reports and the API count an import's rows only once it is `done`.
//! If the file has bad rows and the user did not ask to skip them, the
//! import ends `refused` and its rows are deleted. A row is recognised by
//! its content and line (`row_key`), so importing the same file again adds
//! nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::{Gtin, Unit};
use crate::db::{Backend, RowSet, Statement, Value};
use crate::error::{AppError, AppResult};
use crate::ids::OrganizationId;
use crate::state::AppState;
use crate::usage::model::ImportStatus;
use futures_util::StreamExt as _;

/// The largest file accepted.
pub const MAX_BYTES: u64 = 1 << 30;
/// Longest row kept whole; longer ones are reported, not parsed.
pub const MAX_ROW_BYTES: usize = 4096;
/// Rows per insert statement.
const ROWS_PER_INSERT: usize = 5000;
/// Rows to a transaction: large, because every commit rewrites the index
/// pages it touched (keys start with the day, so a date-sorted file
/// touches few).
const BATCH: usize = 10_000;

/// Progress of the imports running in this process.
#[derive(Default)]
pub struct ImportProgress {
    running: std::sync::Mutex<HashMap<String, Arc<AtomicU64>>>,
}

impl ImportProgress {
    fn start(&self, id: &str) -> Arc<AtomicU64> {
        let bytes = Arc::new(AtomicU64::new(0));
        if let Ok(mut m) = self.running.lock() {
            m.insert(id.to_string(), bytes.clone());
        }
        bytes
    }
    fn bytes(&self, id: &str) -> Option<u64> {
        self.running
            .lock()
            .ok()
            .and_then(|m| m.get(id).map(|b| b.load(Ordering::Relaxed)))
    }
    fn finish(&self, id: &str) {
        if let Ok(mut m) = self.running.lock() {
            m.remove(id);
        }
    }
}

fn imports_dir(state: &AppState) -> PathBuf {
    state.settings.data_dir.join("imports")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file received and spooled to disk.
pub struct Spooled {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
}

/// Writes the body to a file in the imports directory, hashing it, and
/// refuses it past [`MAX_BYTES`]. The caller's stream may be any size.
pub async fn spool<S, E>(state: &AppState, mut body: S) -> AppResult<Spooled>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let dir = imports_dir(state);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| AppError::internal(&e))?;
    let path = dir.join(format!("upload-{}.csv", uuid::Uuid::now_v7()));
    let mut file = tokio::fs::File::create(&path)
        .await
        .map_err(|e| AppError::internal(&e))?;
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(AppError::BadRequest(format!(
                    "The upload did not arrive whole: {e}"
                )));
            }
        };
        bytes += chunk.len() as u64;
        if bytes > MAX_BYTES {
            let _ = tokio::fs::remove_file(&path).await;
            return Err(AppError::invalid(
                "file",
                format!("The file is larger than {} MB.", MAX_BYTES >> 20),
            ));
        }
        hash.update(&chunk);
        file.write_all(&chunk)
            .await
            .map_err(|e| AppError::internal(&e))?;
    }
    file.flush().await.map_err(|e| AppError::internal(&e))?;
    Ok(Spooled {
        path,
        bytes,
        sha256: hex(&hash.finalize()),
    })
}

/// Options of an import, as the form or the API gave them.
pub struct ImportRequest {
    pub organization: OrganizationId,
    /// Pantry (id or name) for rows without a pantry column.
    pub pantry: String,
    pub skip_bad: bool,
    pub file_name: String,
}

/// Checks access and the file, records the import and starts it in the
/// background. Returns its id; [`wait`] follows it to the end.
pub async fn start(
    state: &AppState,
    caller: &Caller,
    request: ImportRequest,
    file: Spooled,
) -> AppResult<String> {
    let refuse = |e: AppError| {
        let _ = std::fs::remove_file(&file.path);
        e
    };
    let (organization, place) =
        crate::org::service::organization_with_place(&state.db, request.organization.as_str())
            .await
            .map_err(refuse)?;
    caller
        .require(&place, Role::Manager, "organization")
        .map_err(refuse)?;
    if file.bytes == 0 {
        return Err(refuse(AppError::invalid(
            "file",
            "The file is empty: there is nothing to import.",
        )));
    }
    let pantries = pantries(state, organization.id.as_str())
        .await
        .map_err(refuse)?;
    let default_pantry = match request.pantry.trim() {
        "" => None,
        p => Some(resolve_pantry(&pantries, p).ok_or_else(|| {
            refuse(AppError::invalid(
                "pantry",
                format!("“{}” is not a pantry of {}.", clip(p), organization.name),
            ))
        })?),
    };
    let another = || {
        refuse(AppError::conflict(
            "file",
            "Another import is running for this organization; wait for it to finish.",
        ))
    };
    let id = uuid::Uuid::now_v7().to_string();
    let name: String = request
        .file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    sqlx::query(
        "insert into usage_imports (id, organization_id, pantry_id, file_name, file_sha256, bytes_total, skip_bad, status, actor_id, started_at) \
         values ($1, $2, $3, $4, $5, $6, $7, 'running', $8, $9)",
    )
    .bind(&id)
    .bind(organization.id.as_str())
    .bind(default_pantry.clone())
    .bind(if name.is_empty() { "upload.csv".to_string() } else { name })
    .bind(&file.sha256)
    .bind(file.bytes as i64)
    .bind(request.skip_bad as i64)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await
    // The partial unique index on running imports decides a race.
    .map_err(|e| {
        if crate::db::is_unique_violation(&e) {
            another()
        } else {
            refuse(e.into())
        }
    })?;
    let progress = state.imports.start(&id);
    let job = Job {
        id: id.clone(),
        organization: organization.id.0.clone(),
        default_pantry,
        pantries,
        skip_bad: request.skip_bad,
        path: file.path,
        errors: imports_dir(state).join(format!("{id}-errors.csv")),
        bytes: progress,
    };
    let state2 = state.clone();
    tokio::spawn(async move {
        let id = job.id.clone();
        let path = job.path.clone();
        let outcome = run(&state2, job).await;
        if let Err(e) = finish_failed(&state2, &id, outcome).await {
            tracing::error!(import = %id, error = %e, "could not record the end of an import");
        }
        state2.imports.finish(&id);
        let _ = tokio::fs::remove_file(path).await;
    });
    Ok(id)
}

/// Waits for an import to end (the API answers with its outcome).
pub async fn wait(state: &AppState, caller: &Caller, id: &str) -> AppResult<ImportStatus> {
    loop {
        let s = status(state, caller, id).await?;
        if s.status != "running" {
            return Ok(s);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// An import's progress and outcome.
pub async fn status(state: &AppState, caller: &Caller, id: &str) -> AppResult<ImportStatus> {
    let row: Option<(String, String, String, i64, i64, i64, i64, i64, i64, Option<String>)> = sqlx::query_as(
        "select organization_id, file_name, status, bytes_total, rows_read, rows_imported, rows_duplicate, rows_bad, skip_bad, message \
         from usage_imports where id = $1",
    )
    .bind(id)
    .fetch_optional(state.db.pool())
    .await?;
    let (
        organization,
        file_name,
        status,
        bytes_total,
        rows_read,
        rows_imported,
        rows_duplicate,
        rows_bad,
        skip_bad,
        message,
    ) = row.ok_or_else(|| AppError::not_found("import"))?;
    let (_, place) = crate::org::service::organization_with_place(&state.db, &organization).await?;
    caller.require(&place, Role::Manager, "import")?;
    let bytes_done = match status.as_str() {
        "running" => state.imports.bytes(id).unwrap_or(0) as i64,
        _ => bytes_total,
    };
    Ok(ImportStatus {
        id: id.to_string(),
        file_name,
        status,
        bytes_total,
        bytes_done,
        rows_read,
        rows_imported,
        rows_duplicate,
        rows_bad,
        skip_bad: skip_bad != 0,
        message,
        errors_url: (rows_bad > 0).then(|| format!("/imports/{id}/errors.csv")),
    })
}

/// The bad rows of an import, as CSV (line, reason, the row as read).
pub async fn errors_file(state: &AppState, caller: &Caller, id: &str) -> AppResult<Vec<u8>> {
    let s = status(state, caller, id).await?;
    if s.rows_bad == 0 {
        return Err(AppError::not_found("error file"));
    }
    let path = imports_dir(state).join(format!("{}-errors.csv", s.id));
    tokio::fs::read(&path)
        .await
        .map_err(|_| AppError::not_found("error file"))
}

/// Imports left `running` by a process that stopped: their rows go, and
/// they end `failed`. Runs at start-up, before any new import.
pub async fn recover(state: &AppState) -> AppResult<()> {
    let stale: Vec<String> =
        sqlx::query_scalar("select id from usage_imports where status = 'running'")
            .fetch_all(state.db.pool())
            .await?;
    for id in stale {
        delete_rows(state, &id).await?;
        sqlx::query("update usage_imports set status = 'failed', message = $1, finished_at = $2 where id = $3")
            .bind("The server stopped during this import; nothing of it was kept. Import the file again.")
            .bind(state.clock.now_ms())
            .bind(&id)
            .execute(state.db.pool())
            .await?;
    }
    Ok(())
}

// ------------------------------------------------------------ the run

struct Job {
    id: String,
    organization: String,
    default_pantry: Option<String>,
    /// (id, name key) of the organization's pantries.
    pantries: Vec<(String, String)>,
    skip_bad: bool,
    path: PathBuf,
    errors: PathBuf,
    bytes: Arc<AtomicU64>,
}

/// A checked row, ready to insert.
struct Row {
    key: String,
    pantry: Option<String>,
    product: String,
    day: String,
    quantity: i64,
    unit_price_cents: Option<i64>,
    revenue_cents: Option<i64>,
}

/// What the parser sends: rows, or the end with its counts.
enum Parsed {
    Rows(Vec<Row>),
    Done { read: i64, bad: i64 },
    Refused(String),
}

async fn pantries(state: &AppState, organization: &str) -> AppResult<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("select id, lower(name) from pantries where organization_id = $1")
            .bind(organization)
            .fetch_all(state.db.pool())
            .await?,
    )
}

fn resolve_pantry(pantries: &[(String, String)], given: &str) -> Option<String> {
    let key = given.trim().to_lowercase();
    pantries
        .iter()
        .find(|(id, name)| *id == given.trim() || *name == key)
        .map(|(id, _)| id.clone())
}

/// The organization's products, by id, barcode and name key.
struct Catalog {
    units: HashMap<String, Unit>,
    by_barcode: HashMap<String, String>,
    by_name: HashMap<String, String>,
    /// By SKU, lowercase.
    by_sku: HashMap<String, String>,
}

async fn catalog(state: &AppState, organization: &str) -> AppResult<Catalog> {
    let products: Vec<(String, String, String, Option<String>)> =
        sqlx::query_as("select id, name_key, unit, sku_key from products where organization_id = $1 and archived_at is null")
            .bind(organization)
            .fetch_all(state.db.pool())
            .await?;
    let barcodes: Vec<(String, String)> =
        sqlx::query_as("select gtin, product_id from product_barcodes where organization_id = $1")
            .bind(organization)
            .fetch_all(state.db.pool())
            .await?;
    let mut c = Catalog {
        units: HashMap::new(),
        by_barcode: barcodes.into_iter().collect(),
        by_name: HashMap::new(),
        by_sku: HashMap::new(),
    };
    for (id, key, unit, sku) in products {
        if let Some(sku) = sku {
            c.by_sku.insert(sku, id.clone());
        }
        c.units.insert(id.clone(), Unit::parse(&unit, "unit")?);
        c.by_name.insert(key, id);
    }
    c.by_barcode.retain(|_, p| c.units.contains_key(p));
    Ok(c)
}

async fn run(state: &AppState, job: Job) -> AppResult<()> {
    let catalog = catalog(state, &job.organization).await?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Parsed>(2);
    let parse = {
        let (path, errors, bytes) = (job.path.clone(), job.errors.clone(), job.bytes.clone());
        let (organization, default_pantry, pantries) = (
            job.organization.clone(),
            job.default_pantry.clone(),
            job.pantries.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let outcome = parse_file(
                &path,
                &errors,
                &bytes,
                &organization,
                default_pantry.as_deref(),
                &pantries,
                &catalog,
                &tx,
            );
            if let Err(message) = outcome {
                let _ = tx.blocking_send(Parsed::Refused(message));
            }
        })
    };
    let mut imported = 0i64;
    let mut given = 0i64;
    let mut end = None;
    // PostgreSQL inserts a batch on one backend, one core; a second batch
    // in flight on another connection uses the other. (SQLite has one
    // writer: a second would only wait for the lock.) Each batch is its
    // own transaction either way, and an import's rows count only once it
    // is done, so batches may commit in any order.
    let in_flight = match state.db.backend() {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    let mut inserts = futures_util::stream::FuturesUnordered::new();
    // The first insert that failed. The others in flight are let finish
    // (not dropped half-way) before the import's rows are deleted, so none
    // of them commits after that.
    let mut failed: Option<AppError> = None;
    let job = &job;
    loop {
        // The batches in flight go on while the next one is awaited.
        let msg = tokio::select! {
            Some(done) = inserts.next(), if !inserts.is_empty() => {
                match done {
                    Ok(n) => imported += n,
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
                continue;
            }
            msg = rx.recv(), if failed.is_none() && inserts.len() < in_flight => msg,
            else => break,
        };
        match msg {
            Some(Parsed::Rows(rows)) => {
                given += rows.len() as i64;
                inserts.push(async move { insert(state, job, &rows).await });
            }
            Some(Parsed::Done { read, bad }) => end = Some(Ok((read, bad))),
            Some(Parsed::Refused(message)) => end = Some(Err(message)),
            None => break,
        }
    }
    while let Some(done) = inserts.next().await {
        match done {
            Ok(n) => imported += n,
            Err(e) => {
                failed.get_or_insert(e);
            }
        }
    }
    if let Some(e) = failed {
        // Stops the parser (its next send fails) before giving up.
        drop(rx);
        let _ = parse.await;
        return Err(e);
    }
    parse.await.map_err(|e| AppError::internal(&e))?;
    let (status, message, read, bad) = match end {
        Some(Ok((read, bad))) if bad > 0 && !job.skip_bad => (
            "refused",
            Some(format!(
                "{bad} row(s) have problems, so nothing was imported. Download the error file, fix those rows and import again, or import again skipping bad rows."
            )),
            read,
            bad,
        ),
        Some(Ok((read, bad))) => ("done", None, read, bad),
        Some(Err(message)) => ("refused", Some(message), 0, 0),
        None => ("failed", Some("The file could not be read to its end.".to_string()), 0, 0),
    };
    if status != "done" {
        delete_rows(state, &job.id).await?;
        imported = 0;
    }
    let duplicate = if status == "done" {
        given - imported
    } else {
        0
    };
    sqlx::query(
        "update usage_imports set status = $1, message = $2, rows_read = $3, rows_imported = $4, rows_duplicate = $5, \
         rows_bad = $6, finished_at = $7 where id = $8",
    )
    .bind(status)
    .bind(message)
    .bind(read)
    .bind(imported)
    .bind(duplicate)
    .bind(bad)
    .bind(state.clock.now_ms())
    .bind(&job.id)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

/// Records an import that stopped on an error of ours.
async fn finish_failed(state: &AppState, id: &str, outcome: AppResult<()>) -> AppResult<()> {
    let Err(e) = outcome else { return Ok(()) };
    tracing::error!(import = %id, error = %e, "an import failed");
    delete_rows(state, id).await?;
    sqlx::query("update usage_imports set status = 'failed', message = $1, finished_at = $2 where id = $3 and status = 'running'")
        .bind(format!("The import stopped on an error; nothing of it was kept. {e}"))
        .bind(state.clock.now_ms())
        .bind(id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

async fn delete_rows(state: &AppState, id: &str) -> AppResult<()> {
    sqlx::query("delete from usage_history where import_id = $1")
        .bind(id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// Inserts rows (skipping lines imported before); returns how many were
/// new. Every value is bound: the rows travel as row sets (see
/// [`crate::db::Statement`]), a thousand to a statement.
async fn insert(state: &AppState, job: &Job, rows: &[Row]) -> AppResult<i64> {
    let backend = state.db.backend();
    let import = [vec![
        Value::from(&job.organization),
        Value::from(&job.id),
    ]];
    let mut tx = state.db.begin().await?;
    let mut new = 0;
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values: Vec<Vec<Value>> = chunk
            .iter()
            .map(|row| {
                vec![
                    Value::from(&row.key),
                    Value::from(row.pantry.as_ref()),
                    Value::from(&row.product),
                    Value::from(&row.day),
                    Value::from(row.quantity),
                    Value::from(row.unit_price_cents),
                    Value::from(row.revenue_cents),
                ]
            })
            .collect();
        new += INSERT_HISTORY.execute(&mut *tx, backend, &[&import, &values]).await? as i64;
    }
    tx.commit().await?;
    Ok(new)
}

/// History rows of one import (`j`: its organization and id), skipping
/// lines imported before.
const INSERT_HISTORY: Statement = Statement {
    name: "insert_usage_history",
    inputs: &[
        RowSet {
            name: "j",
            columns: &[("organization_id", "text"), ("import_id", "text")],
        },
        RowSet {
            name: "v",
            columns: &[
                ("row_key", "text"),
                ("pantry_id", "text"),
                ("product_id", "text"),
                ("day", "text"),
                ("quantity", "bigint"),
                ("unit_price_cents", "bigint"),
                ("revenue_cents", "bigint"),
            ],
        },
    ],
    body: "insert into usage_history (organization_id, row_key, import_id, pantry_id, product_id, day, \
           quantity, unit_price_cents, revenue_cents) \
           select j.organization_id, v.row_key, j.import_id, v.pantry_id, v.product_id, v.day, \
           v.quantity, v.unit_price_cents, v.revenue_cents from v cross join j where true \
           on conflict (organization_id, row_key) do nothing",
    postgres: None,
};

// ------------------------------------------------------------ parsing

/// Counts bytes read, for the progress bar.
struct Counting<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(Debug, Default)]
struct Columns {
    product: Option<usize>,
    product_id: Option<usize>,
    barcode: Option<usize>,
    sku: Option<usize>,
    date: Option<usize>,
    quantity: Option<usize>,
    unit_price: Option<usize>,
    revenue: Option<usize>,
    pantry: Option<usize>,
}

fn columns(header: &[String]) -> Result<Columns, String> {
    let mut c = Columns::default();
    for (i, h) in header.iter().enumerate() {
        let slot = match h.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
            "product" | "name" | "product_name" | "item" => &mut c.product,
            "product_id" => &mut c.product_id,
            "barcode" | "gtin" | "upc" | "ean" => &mut c.barcode,
            "sku" => &mut c.sku,
            "date" | "day" => &mut c.date,
            "quantity" | "qty" => &mut c.quantity,
            "unit_price" | "price" => &mut c.unit_price,
            "revenue" | "total" => &mut c.revenue,
            "pantry" => &mut c.pantry,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("The header names the column “{}” twice.", h.trim()));
        }
        *slot = Some(i);
    }
    if c.date.is_none() || c.quantity.is_none() {
        return Err("The first line must be a header with at least date, quantity and the product (product name, barcode, sku or product_id).".into());
    }
    if c.product.is_none() && c.barcode.is_none() && c.product_id.is_none() && c.sku.is_none() {
        return Err(
            "The header has no product column: add product (the name), barcode, sku or product_id."
                .into(),
        );
    }
    Ok(c)
}

fn clip(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// A date as `YYYY-MM-DD` (a time after it is ignored).
fn parse_day(s: &str) -> Result<String, String> {
    let t = s.trim();
    let d = t.get(..10).unwrap_or(t);
    let rest = &t[d.len()..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return Err(format!("“{}” is not a date; use YYYY-MM-DD.", clip(t)));
    }
    crate::usage::report::parse_date(d, "date")
        .map(crate::usage::report::iso)
        .map_err(|_| format!("“{}” is not a date; use YYYY-MM-DD.", clip(t)))
}

/// Money as cents: `3`, `3.5`, `$3.50`, `1,234.56`.
fn parse_cents(s: &str, what: &str) -> Result<Option<i64>, String> {
    let t = s.trim().trim_start_matches('$').replace(',', "");
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || format!("{what} “{}” is not an amount such as 3.50.", clip(s.trim()));
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 12
    {
        return Err(bad());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| bad())?
    };
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    Ok(Some(whole * 100 + cents))
}

#[allow(clippy::too_many_arguments)]
fn parse_file(
    path: &Path,
    errors_path: &Path,
    bytes: &Arc<AtomicU64>,
    organization: &str,
    default_pantry: Option<&str>,
    pantries: &[(String, String)],
    catalog: &Catalog,
    tx: &tokio::sync::mpsc::Sender<Parsed>,
) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("The upload could not be read: {e}"))?;
    let mut input = BufReader::with_capacity(
        64 * 1024,
        Counting {
            inner: file,
            bytes: bytes.clone(),
        },
    );
    let mut errors: Option<csv::Writer<std::fs::File>> = None;
    let mut report = |line: u64, reason: &str, raw: &[u8]| -> Result<(), String> {
        if errors.is_none() {
            let file = std::fs::File::create(errors_path)
                .map_err(|e| format!("The error file could not be written: {e}"))?;
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .quote_style(csv::QuoteStyle::NonNumeric)
                .from_writer(file);
            w.write_record(["line", "reason", "row"])
                .map_err(|e| e.to_string())?;
            errors = Some(w);
        }
        // The row as the user wrote it, which may hold a formula: the
        // file is opened in a spreadsheet, so it is written as text.
        let row = String::from_utf8_lossy(&raw[..raw.len().min(300)]);
        let w = errors.as_mut().expect("opened above");
        w.write_record([
            line.to_string().as_str(),
            &crate::spreadsheet::cell(reason),
            &crate::spreadsheet::cell(row.trim_end()),
        ])
        .map_err(|e| e.to_string())
    };

    // Lines are read here (bounded), then each is parsed as CSV on its
    // own: a quoted field may not span lines in these files.
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    let mut header: Option<Columns> = None;
    let (mut read, mut bad) = (0i64, 0i64);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        buf.clear();
        let (n, too_long) = read_line(&mut input, &mut buf, MAX_ROW_BYTES)
            .map_err(|e| format!("The upload could not be read: {e}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let mut raw: &[u8] = &buf;
        if line_no == 1 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        while let Some(r) = raw.strip_suffix(b"\n").or_else(|| raw.strip_suffix(b"\r")) {
            raw = r;
        }
        if header.is_none() {
            if too_long {
                return Err("The first line (the header) is too long to be a header.".into());
            }
            let fields = split(raw).map_err(|e| format!("The header is not readable CSV: {e}"))?;
            header = Some(columns(&fields)?);
            continue;
        }
        if raw.iter().all(|b| b.is_ascii_whitespace() || *b == b',') {
            continue;
        }
        read += 1;
        let cols = header.as_ref().expect("set above");
        let row = if too_long {
            Err(format!("This row is longer than {MAX_ROW_BYTES} bytes."))
        } else {
            split(raw).and_then(|fields| {
                check_row(
                    cols,
                    &fields,
                    line_no,
                    organization,
                    default_pantry,
                    pantries,
                    catalog,
                )
            })
        };
        match row {
            Ok(r) => {
                batch.push(r);
                if batch.len() >= BATCH {
                    tx.blocking_send(Parsed::Rows(std::mem::take(&mut batch)))
                        .map_err(|_| "The import was stopped.".to_string())?;
                    batch.reserve(BATCH);
                }
            }
            Err(reason) => {
                bad += 1;
                report(line_no, &reason, raw)?;
            }
        }
    }
    if header.is_none() {
        return Err("The file has no header line and no rows.".into());
    }
    if !batch.is_empty() {
        tx.blocking_send(Parsed::Rows(batch))
            .map_err(|_| "The import was stopped.".to_string())?;
    }
    if let Some(mut f) = errors {
        f.flush().map_err(|e| e.to_string())?;
    }
    tx.blocking_send(Parsed::Done { read, bad })
        .map_err(|_| "The import was stopped.".to_string())?;
    Ok(())
}

/// Reads one line into `buf`, keeping at most `max` bytes of it (the rest
/// is read and dropped). Returns the bytes consumed and whether it was cut.
fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, cut));
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            cut = true;
        }
        buf.extend_from_slice(&available[..take.min(room)]);
        r.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, cut));
        }
    }
}

/// One line as CSV fields (RFC 4180: a field in double quotes may hold
/// commas, and `""` inside it is a quote).
///
/// Not the `csv` crate, which every other CSV read and write here uses:
/// it reads malformed quoting leniently (an unclosed quote runs to the end
/// of the input, text after a closing quote is glued on), and an import
/// must instead refuse such a row with a reason for that line, while the
/// lines around it go on. The lines themselves are read (bounded) first.
fn split(line: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "The row is not UTF-8 text.".to_string())?;
    let mut fields = Vec::with_capacity(8);
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("A quoted field is not closed on its line.".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err("Text follows a closing quote; quote the whole field.".into())
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_row(
    c: &Columns,
    fields: &[String],
    line: u64,
    organization: &str,
    default_pantry: Option<&str>,
    pantries: &[(String, String)],
    catalog: &Catalog,
) -> Result<Row, String> {
    let get = |i: Option<usize>| {
        i.and_then(|i| fields.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    };
    let product = if !get(c.product_id).is_empty() {
        let id = get(c.product_id);
        catalog
            .units
            .contains_key(id)
            .then(|| id.to_string())
            .ok_or_else(|| format!("No product with id {} in the catalog.", clip(id)))?
    } else if !get(c.barcode).is_empty() {
        let g = Gtin::parse(get(c.barcode), "barcode").map_err(|e| e.to_string())?;
        catalog
            .by_barcode
            .get(g.as_str())
            .cloned()
            .ok_or_else(|| format!("No product in the catalog has barcode {}.", g.display()))?
    } else if !get(c.product).is_empty() {
        let key = get(c.product)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        catalog.by_name.get(&key).cloned().ok_or_else(|| {
            format!(
                "No product named “{}” in the catalog.",
                clip(get(c.product))
            )
        })?
    } else if !get(c.sku).is_empty() {
        let sku = get(c.sku);
        catalog
            .by_sku
            .get(&sku.to_lowercase())
            .cloned()
            .ok_or_else(|| format!("No product in the catalog has SKU {}.", clip(sku)))?
    } else {
        return Err("The row names no product.".into());
    };
    let unit = catalog.units[&product];
    let day = parse_day(get(c.date))?;
    let q = get(c.quantity);
    if q.starts_with('-') {
        return Err(format!(
            "Quantity {} is negative; history counts what went out.",
            clip(q)
        ));
    }
    let quantity = unit
        .parse_quantity(q, "quantity")
        .map_err(|e| e.to_string())?;
    let unit_price_cents = parse_cents(get(c.unit_price), "Unit price")?;
    let revenue_cents = parse_cents(get(c.revenue), "Revenue")?;
    let pantry = match get(c.pantry) {
        "" => default_pantry.map(String::from),
        p => Some(
            resolve_pantry(pantries, p)
                .ok_or_else(|| format!("“{}” is not a pantry of this organization.", clip(p)))?,
        ),
    };
    let mut h = Sha256::new();
    for part in [
        organization,
        pantry.as_deref().unwrap_or(""),
        &product,
        &day,
        &quantity.to_string(),
        &unit_price_cents.map(|c| c.to_string()).unwrap_or_default(),
        &revenue_cents.map(|c| c.to_string()).unwrap_or_default(),
        &line.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    // The day first: files come sorted by date, so consecutive rows land
    // next to each other in the key's index.
    Ok(Row {
        key: format!("{day}-{}", hex(&h.finalize()[..12])),
        pantry,
        product,
        day,
        quantity,
        unit_price_cents,
        revenue_cents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_dates_parse_or_say_why() {
        assert_eq!(parse_cents("$1,234.5", "Revenue"), Ok(Some(123_450)));
        assert_eq!(parse_cents("", "Revenue"), Ok(None));
        assert!(parse_cents("1.234", "Revenue")
            .unwrap_err()
            .contains("Revenue"));
        assert!(parse_cents("-3", "Unit price").is_err());
        assert_eq!(parse_day("2025-09-01T10:00:00Z"), Ok("2025-09-01".into()));
        assert!(parse_day("09/01/2025").is_err());
        assert!(parse_day("2025-02-30").is_err());
    }

    #[test]
    fn long_lines_are_cut_but_consumed() {
        let data = format!("{}\nnext\n", "x".repeat(10_000));
        let mut r = BufReader::with_capacity(64, data.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), (10_001, true));
        assert_eq!(buf.len(), 100);
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), (5, false));
        assert_eq!(buf, b"next\n");
    }

    #[test]
    fn fields_split_like_rfc_4180() {
        assert_eq!(
            split(b"a,,\"b,c\",\"say \"\"hi\"\"\"").unwrap(),
            vec!["a", "", "b,c", "say \"hi\""]
        );
        assert_eq!(split(b"").unwrap(), vec![""]);
        assert_eq!(split(b"x,").unwrap(), vec!["x", ""]);
        assert!(split(b"\"open,x").is_err());
        assert!(split(b"\"a\"b,c").is_err());
        assert!(split(b"\xff,1").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn headers_need_a_date_a_quantity_and_a_product() {
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(columns(&h("Date,Qty,Product")).is_ok());
        assert!(columns(&h("date,quantity"))
            .unwrap_err()
            .contains("product"));
        assert!(columns(&h("date,product,quantity,qty"))
            .unwrap_err()
            .contains("twice"));
    }
}

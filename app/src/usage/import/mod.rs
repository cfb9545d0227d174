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

/// The payload of `HistoryImported`, version 1: an import finished and
/// added rows; forecasting refreshes the pantries it touched.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HistoryImported {
    pub import_id: String,
    pub rows: i64,
    /// The pantries its rows went to (rows for the whole organization
    /// count for none).
    pub pantry_ids: Vec<String>,
}

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

mod job;
mod parse;

use job::*;
use parse::clip;

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
        organization: organization.id.to_string(),
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

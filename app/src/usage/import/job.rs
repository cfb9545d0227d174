//! One import's run: the parser on a blocking thread, the inserts on the
//! task, the outcome written last.

use super::parse::*;
use super::*;
use crate::events::domain::DomainEvent;

pub(super) struct Job {
    pub(super) id: String,
    pub(super) organization: String,
    pub(super) default_pantry: Option<String>,
    /// (id, name key) of the organization's pantries.
    pub(super) pantries: Vec<(String, String)>,
    pub(super) skip_bad: bool,
    pub(super) path: PathBuf,
    pub(super) errors: PathBuf,
    pub(super) bytes: Arc<AtomicU64>,
}

/// A checked row, ready to insert.
pub(super) struct Row {
    pub(super) key: String,
    pub(super) pantry: Option<String>,
    pub(super) product: String,
    pub(super) day: String,
    pub(super) quantity: i64,
    pub(super) unit_price_cents: Option<i64>,
    pub(super) revenue_cents: Option<i64>,
}

/// What the parser sends: rows, or the end with its counts.
pub(super) enum Parsed {
    Rows(Vec<Row>),
    Done { read: i64, bad: i64 },
    Refused(String),
}

pub(super) async fn pantries(
    state: &AppState,
    organization: &str,
) -> AppResult<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("select id, lower(name) from pantries where organization_id = $1")
            .bind(organization)
            .fetch_all(state.db.pool())
            .await?,
    )
}

pub(super) fn resolve_pantry(pantries: &[(String, String)], given: &str) -> Option<String> {
    let key = given.trim().to_lowercase();
    pantries
        .iter()
        .find(|(id, name)| *id == given.trim() || *name == key)
        .map(|(id, _)| id.clone())
}

/// The organization's products, by id, barcode and name key.
pub(super) struct Catalog {
    pub(super) units: HashMap<String, Unit>,
    pub(super) by_barcode: HashMap<String, String>,
    pub(super) by_name: HashMap<String, String>,
    /// By SKU, lowercase.
    pub(super) by_sku: HashMap<String, String>,
}

pub(super) async fn catalog(state: &AppState, organization: &str) -> AppResult<Catalog> {
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

pub(super) async fn run(state: &AppState, job: Job) -> AppResult<()> {
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
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
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
    .bind(now)
    .bind(&job.id)
    .execute(&mut *tx)
    .await?;
    // New history changes the demand forecasts read: say so, with the
    // pantries it touched, in the same transaction as the import's end.
    if status == "done" && imported > 0 {
        let pantry_ids: Vec<String> = sqlx::query_scalar(
            "select distinct pantry_id from usage_history where import_id = $1 and pantry_id is not null order by pantry_id",
        )
        .bind(&job.id)
        .fetch_all(&mut *tx)
        .await?;
        let event = DomainEvent::HistoryImported(HistoryImported {
            import_id: job.id.clone(),
            rows: imported,
            pantry_ids,
        });
        crate::events::store::append(
            &mut tx,
            state.db.backend(),
            &crate::events::store::NewEvent {
                event: &event,
                organization_id: &job.organization,
                pantry_id: None,
                actor_id: None,
                correlation_id: &job.id,
                client_ip: None,
                trace_parent: None,
                occurred_at: now,
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records an import that stopped on an error of ours.
pub(super) async fn finish_failed(
    state: &AppState,
    id: &str,
    outcome: AppResult<()>,
) -> AppResult<()> {
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

pub(super) async fn delete_rows(state: &AppState, id: &str) -> AppResult<()> {
    sqlx::query("delete from usage_history where import_id = $1")
        .bind(id)
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// Inserts rows (skipping lines imported before); returns how many were
/// new. Every value is bound: the rows travel as row sets (see
/// [`crate::db::Statement`]), a thousand to a statement.
pub(super) async fn insert(state: &AppState, job: &Job, rows: &[Row]) -> AppResult<i64> {
    let backend = state.db.backend();
    let import = [vec![Value::from(&job.organization), Value::from(&job.id)]];
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
        new += INSERT_HISTORY
            .execute(&mut *tx, backend, &[&import, &values])
            .await? as i64;
    }
    tx.commit().await?;
    Ok(new)
}

/// History rows of one import (`j`: its organization and id), skipping
/// lines imported before.
pub(super) const INSERT_HISTORY: Statement = Statement {
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

//! A supplier's catalog, brought in whole from a file it sends (CSV or
//! JSON): every row is checked before anything is written, then items are
//! added or changed, the ones the file no longer lists are marked
//! unavailable (discontinued), new items with a barcode the catalog knows
//! are tied to that product, and the sync is kept in the supplier's
//! history with what changed. A file with a bad row changes nothing.

use std::collections::HashMap;

use serde::Deserialize;
use sqlx::Row as _;

use super::model::*;
use super::suppliers::{organization_for, pack_parts, supplier_row, upsert_item, ItemRow};
use crate::auth::service::Caller;
use crate::catalog::model::{Gtin, Unit};
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::ids::SupplierId;
use crate::state::AppState;

/// The largest file a sync takes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Rows one file may hold.
pub const MAX_ROWS: usize = super::suppliers::MAX_ITEMS as usize;
/// Bad rows a refusal lists (the count says how many there were).
const ERRORS_SHOWN: usize = 100;
/// Changes kept with a sync, for its history line.
const CHANGES_KEPT: usize = 200;

/// What the `SupplierCatalogUpdated` event carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CatalogUpdated {
    pub supplier_id: String,
    pub sync_id: String,
    pub new: i64,
    pub price_changed: i64,
    pub discontinued: i64,
    /// Each price that moved: the stock issue analyser weighs them.
    #[serde(default)]
    pub prices: Vec<PriceChange>,
}

/// One item's price before and after a sync.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PriceChange {
    pub item_id: String,
    pub sku: String,
    pub description: String,
    pub old_cents: i64,
    pub new_cents: i64,
}

/// What the `SupplierSyncFailed` event carries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncFailed {
    pub supplier_id: String,
    pub sync_id: String,
    pub message: String,
}

/// One row as the supplier writes it, before checking.
#[derive(Debug, Default, Deserialize)]
struct RawRow {
    #[serde(default, alias = "SKU", alias = "item_code", alias = "code")]
    sku: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default, alias = "gtin", alias = "upc", alias = "ean")]
    barcode: Option<String>,
    #[serde(default)]
    pack_size: Option<FlexText>,
    #[serde(default, alias = "price_per_pack")]
    price: Option<FlexText>,
    #[serde(default)]
    available: Option<FlexText>,
}

/// A JSON value given as text or as a number (`"24"` or `24`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum FlexText {
    Text(String),
    Number(serde_json::Number),
    Bool(bool),
}

impl FlexText {
    fn text(&self) -> String {
        match self {
            Self::Text(s) => s.clone(),
            Self::Number(n) => n.to_string(),
            Self::Bool(b) => b.to_string(),
        }
    }
}

/// A checked row.
#[derive(Debug, Clone)]
struct Row {
    sku: String,
    description: String,
    gtin: Option<Gtin>,
    pack_size: String,
    price_cents: Option<i64>,
    available: bool,
}

fn check(raw: RawRow) -> Result<Row, String> {
    let sku = raw
        .sku
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or("no SKU")?;
    if sku.chars().count() > 64 || sku.chars().any(char::is_control) {
        return Err(format!(
            "SKU “{}” is longer than 64 characters or holds control characters",
            sku.chars().take(20).collect::<String>()
        ));
    }
    let description = raw.description.unwrap_or_default().trim().to_string();
    if description.chars().count() > 200 {
        return Err("the description is longer than 200 characters".into());
    }
    let gtin = match raw.barcode.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(b) => Some(Gtin::parse(b, "barcode").map_err(|e| e.to_string())?),
    };
    let pack_size = raw
        .pack_size
        .map(|p| p.text().trim().to_string())
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "1".into());
    // A pack size is checked against the product's unit once the item is
    // tied to one; here it must at least be a positive number.
    match Unit::Kg.parse_quantity(&pack_size, "pack_size") {
        Ok(0) => return Err("the pack size is 0".into()),
        Ok(_) => {}
        Err(e) => return Err(format!("pack size: {e}")),
    }
    let price_cents = match raw.price {
        Some(p) => parse_money(&p.text(), "price").map_err(|e| format!("price: {e}"))?,
        None => None,
    };
    let available = match raw.available.map(|a| a.text().trim().to_lowercase()) {
        None => true,
        Some(a) => match a.as_str() {
            "" | "1" | "true" | "yes" | "y" | "available" | "in stock" => true,
            "0" | "false" | "no" | "n" | "unavailable" | "out of stock" => false,
            other => {
                return Err(format!(
                    "available “{}” is not yes or no",
                    other.chars().take(20).collect::<String>()
                ))
            }
        },
    };
    Ok(Row {
        sku,
        description,
        gtin,
        pack_size,
        price_cents,
        available,
    })
}

/// Reads the file: JSON (an array of items, or `{"items": [...]}`) when it
/// starts like JSON, CSV with a header row otherwise. Every bad row is
/// listed with its line (CSV) or position (JSON).
fn parse(text: &str) -> Result<Vec<Row>, (usize, Vec<(usize, String)>)> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    let raws: Vec<(usize, Result<RawRow, String>)> = if trimmed.starts_with('[')
        || trimmed.starts_with('{')
    {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Doc {
            List(Vec<serde_json::Value>),
            Wrapped { items: Vec<serde_json::Value> },
        }
        match serde_json::from_str::<Doc>(trimmed) {
            Ok(Doc::List(items) | Doc::Wrapped { items }) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        i + 1,
                        serde_json::from_value::<RawRow>(v).map_err(|e| e.to_string()),
                    )
                })
                .collect(),
            Err(e) => {
                return Err((
                    1,
                    vec![(
                        e.line(),
                        format!(
                        "the file is not JSON Larder can read ({e}); send a list of items, or CSV"
                    ),
                    )],
                ))
            }
        }
    } else {
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .flexible(true)
            .from_reader(trimmed.as_bytes());
        let headers = match reader.headers() {
            Ok(h) => h.iter().map(|h| h.to_lowercase()).collect::<Vec<_>>(),
            Err(e) => return Err((1, vec![(1, format!("the header row does not read: {e}"))])),
        };
        if !headers
            .iter()
            .any(|h| h == "sku" || h == "item_code" || h == "code")
        {
            return Err((
                1,
                vec![(1, "no sku column: the header row needs sku, and may have description, barcode, pack_size, price, available".into())],
            ));
        }
        reader
            .records()
            .enumerate()
            .map(|(i, r)| {
                let line = i + 2;
                let row = r.map_err(|e| e.to_string()).map(|r| {
                    let get = |names: &[&str]| {
                        headers
                            .iter()
                            .position(|h| names.contains(&h.as_str()))
                            .and_then(|i| r.get(i))
                            .map(str::to_string)
                    };
                    RawRow {
                        sku: get(&["sku", "item_code", "code"]),
                        description: get(&["description"]),
                        barcode: get(&["barcode", "gtin", "upc", "ean"]),
                        pack_size: get(&["pack_size"]).map(FlexText::Text),
                        price: get(&["price", "price_per_pack"]).map(FlexText::Text),
                        available: get(&["available"]).map(FlexText::Text),
                    }
                });
                (line, row)
            })
            .collect()
    };
    if raws.len() > MAX_ROWS {
        return Err((
            raws.len(),
            vec![(
                0,
                format!(
                    "the file has {} items; a supplier lists at most {MAX_ROWS}",
                    raws.len()
                ),
            )],
        ));
    }
    let mut rows = Vec::with_capacity(raws.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (line, raw) in raws {
        match raw.and_then(check) {
            Ok(row) => match seen.insert(row.sku.to_lowercase(), line) {
                Some(first) => {
                    errors.push((line, format!("SKU {} is also on line {first}", row.sku)))
                }
                None => rows.push(row),
            },
            Err(e) => errors.push((line, e)),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        let n = errors.len();
        errors.truncate(ERRORS_SHOWN);
        Err((n, errors))
    }
}

/// Brings in a supplier's catalog from a file's text (`name` is the file's
/// name, for the history). A refused file is recorded as a failed sync.
pub async fn import_catalog(
    state: &AppState,
    caller: &Caller,
    supplier: &SupplierId,
    name: &str,
    text: &str,
) -> AppResult<SyncReport> {
    let s = supplier_row(&state.db, supplier).await?;
    let (org, _) = organization_for(&state.db, caller, &s.organization_id, true).await?;
    let name: String = name.trim().chars().take(120).collect();
    let name = if name.is_empty() {
        "upload".to_string()
    } else {
        name
    };
    let source = Source {
        supplier: &s,
        organization: org.id.as_str(),
        actor: Some(caller.me.id.as_str()),
        name: &name,
        started: state.clock.now_ms(),
    };
    if text.len() > MAX_BYTES {
        let message = format!("The file is over {} MB.", MAX_BYTES >> 20);
        record_failed(state, &source, &message).await?;
        return Err(AppError::invalid("file", message));
    }
    apply(state, &source, text).await
}

/// Where a sync's text came from, for its history and its event.
pub(super) struct Source<'a> {
    pub supplier: &'a Supplier,
    pub organization: &'a str,
    /// Who asked for it; none for the scheduler.
    pub actor: Option<&'a str>,
    /// The file's name or the address it was fetched from.
    pub name: &'a str,
    pub started: i64,
}

/// Checks every row of a catalog's text, then applies it whole in one
/// transaction, or records why it was refused and changes nothing.
pub(super) async fn apply(
    state: &AppState,
    source: &Source<'_>,
    text: &str,
) -> AppResult<SyncReport> {
    let s = source.supplier;
    let id = uuid::Uuid::now_v7().to_string();
    let rows = match parse(text) {
        Ok(rows) => rows,
        Err((count, errors)) => {
            let message = format!(
                "Nothing changed: {count} row{} need{} fixing.",
                if count == 1 { "" } else { "s" },
                if count == 1 { "s" } else { "" }
            );
            record_failed(state, source, &message).await?;
            return Ok(SyncReport {
                status: "failed".into(),
                message,
                errors: errors
                    .into_iter()
                    .map(|(line, message)| SyncError {
                        line: line as i64,
                        message,
                    })
                    .collect(),
                ..SyncReport::default()
            });
        }
    };
    // What the supplier lists now, by SKU key.
    let current: HashMap<String, (String, Option<i64>, bool, Option<String>, String)> = sqlx::query(
        "select i.sku_key, i.id, i.price_cents, i.available, i.product_id, i.sku \
         from supplier_items i left join products p on p.id = i.product_id where i.supplier_id = $1",
    )
    .bind(s.id.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("sku_key")?,
            (
                r.try_get("id")?,
                r.try_get("price_cents")?,
                r.try_get::<i64, _>("available")? != 0,
                r.try_get("product_id")?,
                r.try_get("sku")?,
            ),
        ))
    })
    .collect::<AppResult<_>>()?;
    let barcodes: HashMap<String, (String, String)> = sqlx::query(
        "select b.gtin, b.product_id, p.unit from product_barcodes b join products p on p.id = b.product_id \
         where b.organization_id = $1 and p.archived_at is null",
    )
    .bind(source.organization)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("gtin")?, (r.try_get("product_id")?, r.try_get("unit")?))))
    .collect::<AppResult<_>>()?;

    let mut report = SyncReport {
        status: "done".into(),
        ..SyncReport::default()
    };
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    let mut listed = std::collections::HashSet::new();
    let mut prices = Vec::new();
    for row in &rows {
        let key = row.sku.to_lowercase();
        listed.insert(key.clone());
        let existing = current.get(&key);
        // A tied item keeps its product; a new or untied one is tied by
        // barcode when the catalog knows it and the pack size fits the
        // product's unit.
        let product = match existing.and_then(|e| e.3.clone()) {
            Some(p) => Some(p),
            None => row
                .gtin
                .as_ref()
                .and_then(|g| barcodes.get(g.as_str()))
                .filter(|(_, unit)| {
                    Unit::parse(unit, "unit").is_ok_and(|u| pack_parts(u, &row.pack_size).is_ok())
                })
                .map(|(p, _)| p.clone()),
        };
        match existing {
            None => {
                report.new += 1;
                change(&mut report, format!("New: {} {}", row.sku, row.description));
            }
            Some((item, price, available, _, _)) => {
                if *price != row.price_cents {
                    report.price_changed += 1;
                    if let (Some(old), Some(new)) = (price, row.price_cents) {
                        prices.push(PriceChange {
                            item_id: item.clone(),
                            sku: row.sku.clone(),
                            description: row.description.clone(),
                            old_cents: *old,
                            new_cents: new,
                        });
                    }
                    change(
                        &mut report,
                        format!(
                            "Price of {}: {} → {}",
                            row.sku,
                            price.map(money).unwrap_or_else(|| "none".into()),
                            row.price_cents.map(money).unwrap_or_else(|| "none".into())
                        ),
                    );
                } else if *available == row.available {
                    report.unchanged += 1;
                }
                if *available != row.available {
                    change(
                        &mut report,
                        format!(
                            "{} is {}",
                            row.sku,
                            if row.available {
                                "available again"
                            } else {
                                "unavailable"
                            }
                        ),
                    );
                }
            }
        }
        let id = existing
            .map(|e| e.0.clone())
            .unwrap_or_else(|| crate::ids::SupplierItemId::new().to_string());
        upsert_item(
            &mut tx,
            &ItemRow {
                id: &id,
                supplier: s.id.as_str(),
                organization: source.organization,
                sku: &row.sku,
                description: &row.description,
                gtin: row.gtin.as_ref(),
                product: product.as_deref(),
                pack_size: &row.pack_size,
                price_cents: row.price_cents,
                available: row.available,
            },
            now,
        )
        .await?;
    }
    // What the file no longer lists is discontinued: kept (old orders
    // name it), but not offered.
    for (key, (item, _, available, _, sku)) in &current {
        if !listed.contains(key) && *available {
            report.discontinued += 1;
            change(&mut report, format!("Discontinued: {sku}"));
            sqlx::query("update supplier_items set available = 0, updated_at = $2 where id = $1")
                .bind(item)
                .bind(now)
                .execute(&mut *tx)
                .await?;
        }
    }
    report.message = format!(
        "{} item{}: {} new, {} with a new price, {} discontinued, {} unchanged.",
        rows.len(),
        if rows.len() == 1 { "" } else { "s" },
        report.new,
        report.price_changed,
        report.discontinued,
        report.unchanged
    );
    sqlx::query(
        "insert into supplier_syncs (id, supplier_id, organization_id, source, status, started_at, finished_at, \
         items_new, items_price_changed, items_discontinued, items_unchanged, message, changes) \
         values ($1, $2, $3, $4, 'done', $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&id)
    .bind(s.id.as_str())
    .bind(source.organization)
    .bind(source.name)
    .bind(source.started)
    .bind(state.clock.now_ms())
    .bind(report.new)
    .bind(report.price_changed)
    .bind(report.discontinued)
    .bind(report.unchanged)
    .bind(&report.message)
    .bind(report.changes.join("\n"))
    .execute(&mut *tx)
    .await?;
    crate::events::store::append(
        &mut tx,
        state.db.backend(),
        &crate::events::store::NewEvent {
            event: &DomainEvent::SupplierCatalogUpdated(CatalogUpdated {
                supplier_id: s.id.to_string(),
                sync_id: id.clone(),
                new: report.new,
                price_changed: report.price_changed,
                discontinued: report.discontinued,
                prices,
            }),
            organization_id: source.organization,
            pantry_id: None,
            actor_id: source.actor,
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

fn change(report: &mut SyncReport, line: String) {
    if report.changes.len() < CHANGES_KEPT {
        report.changes.push(line);
    }
}

/// Keeps a refused or failed sync in the history, with a
/// `SupplierSyncFailed` event for whoever is told about it.
pub(super) async fn record_failed(
    state: &AppState,
    source: &Source<'_>,
    message: &str,
) -> AppResult<()> {
    let id = uuid::Uuid::now_v7().to_string();
    let now = state.clock.now_ms();
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "insert into supplier_syncs (id, supplier_id, organization_id, source, status, started_at, finished_at, \
         items_new, items_price_changed, items_discontinued, items_unchanged, message, changes) \
         values ($1, $2, $3, $4, 'failed', $5, $6, 0, 0, 0, 0, $7, '')",
    )
    .bind(&id)
    .bind(source.supplier.id.as_str())
    .bind(source.organization)
    .bind(source.name)
    .bind(source.started)
    .bind(now)
    .bind(message)
    .execute(&mut *tx)
    .await?;
    crate::events::store::append(
        &mut tx,
        state.db.backend(),
        &crate::events::store::NewEvent {
            event: &DomainEvent::SupplierSyncFailed(SyncFailed {
                supplier_id: source.supplier.id.to_string(),
                sync_id: id,
                message: message.to_string(),
            }),
            organization_id: source.organization,
            pantry_id: None,
            actor_id: source.actor,
            correlation_id: &crate::request::current_request_id(),
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A supplier's syncs, newest first.
pub async fn history(
    state: &AppState,
    caller: &Caller,
    supplier: &SupplierId,
) -> AppResult<Vec<SyncRow>> {
    let s = super::suppliers::supplier_any(&state.db, supplier).await?;
    let (org, _) = organization_for(&state.db, caller, &s.organization_id, false).await?;
    let zone = crate::zones::Zone::stored(&org.time_zone);
    sqlx::query(
        "select source, status, started_at, finished_at, message, changes from supplier_syncs \
         where supplier_id = $1 order by started_at desc limit 50",
    )
    .bind(s.id.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| {
        let changes: String = r.try_get("changes")?;
        let started: i64 = r.try_get("started_at")?;
        let finished: i64 = r.try_get("finished_at")?;
        Ok(SyncRow {
            source: r.try_get("source")?,
            status: r.try_get("status")?,
            at: zone.format(started),
            duration_ms: finished - started,
            message: r.try_get("message")?,
            changes: changes
                .lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect(),
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_json_read_alike_and_bad_rows_are_all_listed() {
        let csv = "SKU,Description,Barcode,Pack_Size,Price,Available\nBN-24,Beans,4006381333931,24,18.40,yes\nRC-10,Rice,,10,$12,no\n";
        let rows = parse(csv).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].price_cents, rows[1].price_cents),
            (Some(1840), Some(1200))
        );
        assert!(rows[0].available && !rows[1].available);
        let json = r#"{"items": [{"sku": "BN-24", "barcode": "4006381333931", "pack_size": 24, "price": 18.4}]}"#;
        let rows = parse(json).unwrap();
        assert_eq!(
            (rows[0].pack_size.as_str(), rows[0].price_cents),
            ("24", Some(1840))
        );

        let bad = "sku,pack_size,price,barcode\nA,24,1,\n,1,1,\nB,0,1,\nC,2,cheap,\nA,1,1,\nD,1,1,4006381333932\n";
        let (count, errors) = parse(bad).unwrap_err();
        assert_eq!(count, 5);
        let lines: Vec<usize> = errors.iter().map(|e| e.0).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(errors[3].1.contains("also on line 2"), "{errors:?}");
        assert!(parse("description\nBeans\n").unwrap_err().1[0]
            .1
            .contains("no sku column"));
        assert!(parse("[{\"sku\": 1").is_err());
    }
}

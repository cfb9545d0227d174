//! The catalog on the server: products and their barcodes, per
//! organization. Every change writes a `Product…` event in its transaction.

use sqlx::Row as _;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::db::{self, contains_pattern, Db, Sql, Tx};
use crate::error::{AppError, AppResult};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{OrganizationId, ProductId};
use crate::input::{PageNumber, SearchText};
use crate::state::AppState;

pub const CATALOG_PAGE: i64 = 50;

const PRODUCT_COLUMNS: &str = "id, organization_id, name, sku, category, unit, unit_weight_g, perishable, shelf_life_days, archived_at";

/// The product columns of a query that joins `products` as `alias`.
pub(crate) fn product_columns(alias: &str) -> String {
    PRODUCT_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A product (without barcodes) from a row of [`PRODUCT_COLUMNS`].
pub(crate) fn product_from(r: &db::Row, barcodes: Vec<Gtin>) -> AppResult<Product> {
    Ok(Product {
        id: ProductId::from_stored(r.try_get("id")?),
        organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
        name: r.try_get("name")?,
        sku: r.try_get("sku")?,
        category: r.try_get("category")?,
        unit: Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?,
        unit_weight_g: r.try_get("unit_weight_g")?,
        perishable: r.try_get::<i64, _>("perishable")? != 0,
        shelf_life_days: r.try_get("shelf_life_days")?,
        archived: r.try_get::<Option<i64>, _>("archived_at")?.is_some(),
        barcodes,
    })
}

async fn barcodes_of(db: &Db, product: &str) -> AppResult<Vec<Gtin>> {
    Ok(sqlx::query_scalar::<_, String>(
        "select gtin from product_barcodes where product_id = $1 order by gtin",
    )
    .bind(product)
    .fetch_all(db.pool())
    .await?
    .into_iter()
    .map(Gtin::from_stored)
    .collect())
}

/// A product of the organization, archived or not.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn product_in_org(
    db: &Db,
    organization: &OrganizationId,
    id: &ProductId,
) -> AppResult<Product> {
    let row = sqlx::query(&format!(
        "select {PRODUCT_COLUMNS} from products where id = $1 and organization_id = $2"
    ))
    .bind(id.as_str())
    .bind(organization.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("product"))?;
    product_from(&row, barcodes_of(db, id.as_str()).await?)
}

/// A product stock can move for: in the organization and not archived.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn active_product(
    db: &Db,
    organization: &OrganizationId,
    id: &ProductId,
) -> AppResult<Product> {
    // Movements need no barcodes: one round trip.
    let row = sqlx::query(&format!(
        "select {PRODUCT_COLUMNS} from products where id = $1 and organization_id = $2"
    ))
    .bind(id.as_str())
    .bind(organization.as_str())
    .fetch_optional(db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("product"))?;
    let p = product_from(&row, Vec::new())?;
    refuse_archived(&p)?;
    Ok(p)
}

/// The organization's products with these ids (archived ones too).
pub(crate) async fn products_with_ids(
    db: &Db,
    organization: &str,
    ids: &[&ProductId],
) -> AppResult<std::collections::BTreeMap<ProductId, Product>> {
    let mut out = std::collections::BTreeMap::new();
    for chunk in ids.chunks(200) {
        let mut sql = Sql::default();
        sql.push(&format!(
            "select {} from products p where p.organization_id = ",
            product_columns("p")
        ));
        sql.text(organization);
        sql.push(" and p.id in (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.text(id.as_str());
        }
        sql.push(")");
        for r in sql.query().fetch_all(db.pool()).await? {
            let p = product_from(&r, Vec::new())?;
            out.insert(p.id.clone(), p);
        }
    }
    Ok(out)
}

/// Stock of an archived product does not move.
pub(crate) fn refuse_archived(p: &Product) -> AppResult<()> {
    if p.archived {
        return Err(AppError::invalid(
            "product",
            format!("{} is archived; restore it before moving stock.", p.name),
        ));
    }
    Ok(())
}

/// Every category in use in the organization's catalog.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn categories(db: &Db, organization: &OrganizationId) -> AppResult<Vec<String>> {
    Ok(sqlx::query_scalar(
        "select min(category) from products where organization_id = $1 and archived_at is null \
         group by category_key order by category_key",
    )
    .bind(organization.as_str())
    .fetch_all(db.pool())
    .await?)
}

fn can_edit(caller: &Caller, organization: &str) -> bool {
    caller
        .grants
        .iter()
        .any(|g| g.organization_id.as_str() == organization && g.role >= Role::Manager)
}

/// Anyone with a membership in the organization reads its catalog;
/// managers anywhere in it change it.
fn require_reader(caller: &Caller, organization: &str) -> AppResult<()> {
    if caller.belongs_to(organization) {
        Ok(())
    } else {
        Err(AppError::not_found("organization"))
    }
}

fn require_editor(caller: &Caller, organization: &str) -> AppResult<()> {
    require_reader(caller, organization)?;
    if can_edit(caller, organization) {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "Only managers and admins change the catalog.".into(),
        ))
    }
}

/// One page of a catalog search: by name or barcode, within a category.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn list(
    db: &Db,
    caller: &Caller,
    organization: &OrganizationId,
    q: &SearchText,
    category: &SearchText,
    sort: ProductSort,
    page: PageNumber,
) -> AppResult<ProductPage> {
    require_reader(caller, organization.as_str())?;
    let (org, _) = crate::org::service::organization_with_place(db, organization.as_str()).await?;
    let mut sql = Sql::default();
    sql.push(&format!(
        "select {PRODUCT_COLUMNS} from products where organization_id = "
    ))
    .text(organization.as_str())
    .push(" and archived_at is null");
    let q = q.as_str();
    if !q.is_empty() {
        sql.push(" and (name_key like ")
            .text(contains_pattern(q))
            .push(" escape '\\'");
        sql.push(" or sku_key = ").text(q.to_lowercase());
        if let Ok(gtin) = Gtin::parse(q, "q") {
            sql.push(" or id in (select product_id from product_barcodes where organization_id = ")
                .text(organization.as_str())
                .push(" and gtin = ")
                .text(gtin.as_str())
                .push(")");
        }
        sql.push(")");
    }
    let category_key = category.as_str().to_lowercase();
    if !category_key.is_empty() {
        sql.push(" and category_key = ").text(category_key);
    }
    let count = sql.wrapped("select count(*) from (", ") c");
    sql.push(match sort {
        ProductSort::Name => " order by name_key, id",
        ProductSort::Category => " order by category_key, name_key, id",
        ProductSort::Recent => " order by updated_at desc, id desc",
    });
    sql.push(" limit ")
        .int(CATALOG_PAGE)
        .push(" offset ")
        .int(page.offset(CATALOG_PAGE));
    let page = page.get();
    let total: i64 = count.query().fetch_one(db.pool()).await?.try_get(0)?;
    let rows = sql.query().fetch_all(db.pool()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in &rows {
        let id: String = r.try_get("id")?;
        items.push(product_from(r, barcodes_of(db, &id).await?)?);
    }
    Ok(ProductPage {
        organization_id: org.id,
        organization_name: org.name,
        items,
        total,
        page,
        per_page: CATALOG_PAGE,
        categories: categories(db, organization).await?,
        can_edit: can_edit(caller, organization.as_str()),
    })
}

/// A product, for its catalog page.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn get(db: &Db, caller: &Caller, id: &ProductId) -> AppResult<(Product, bool, String)> {
    let org: Option<String> =
        sqlx::query_scalar("select organization_id from products where id = $1")
            .bind(id.as_str())
            .fetch_optional(db.pool())
            .await?;
    let org = org.ok_or_else(|| AppError::not_found("product"))?;
    require_reader(caller, &org).map_err(|_| AppError::not_found("product"))?;
    let org_id = OrganizationId::from_stored(org);
    let product = product_in_org(db, &org_id, id).await?;
    let name = crate::org::service::organization_name(db, org_id.as_str()).await?;
    Ok((product, can_edit(caller, org_id.as_str()), name))
}

/// Checks name and barcodes against the rest of the catalog, inside the
/// writing transaction.
async fn check_unique(
    tx: &mut Tx,
    organization: &str,
    input: &ProductInput,
    except: Option<&str>,
) -> AppResult<()> {
    let except = except.unwrap_or("");
    let clash: Option<String> = sqlx::query_scalar(
        "select name from products where organization_id = $1 and name_key = $2 and archived_at is null and id <> $3",
    )
    .bind(organization)
    .bind(input.name.to_lowercase())
    .bind(except)
    .fetch_optional(&mut **tx)
    .await?;
    if let Some(existing) = clash {
        return Err(AppError::conflict(
            "name",
            format!("The catalog already has a product called “{existing}”."),
        ));
    }
    if let Some(sku) = &input.sku {
        let owner: Option<String> = sqlx::query_scalar(
            "select name from products where organization_id = $1 and sku_key = $2 and archived_at is null and id <> $3",
        )
        .bind(organization)
        .bind(sku.to_lowercase())
        .bind(except)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(owner) = owner {
            return Err(AppError::conflict(
                "sku",
                format!("SKU {sku} already belongs to “{owner}”."),
            ));
        }
    }
    for g in &input.barcodes {
        let owner: Option<String> = sqlx::query_scalar(
            "select p.name from product_barcodes b join products p on p.id = b.product_id \
             where b.organization_id = $1 and b.gtin = $2 and b.product_id <> $3",
        )
        .bind(organization)
        .bind(g.as_str())
        .bind(except)
        .fetch_optional(&mut **tx)
        .await?;
        if let Some(owner) = owner {
            return Err(AppError::conflict(
                "barcodes",
                format!("Barcode {} already belongs to “{owner}”.", g.display()),
            ));
        }
    }
    Ok(())
}

async fn write_barcodes(
    tx: &mut Tx,
    organization: &str,
    product: &str,
    barcodes: &[Gtin],
) -> AppResult<()> {
    sqlx::query("delete from product_barcodes where product_id = $1")
        .bind(product)
        .execute(&mut **tx)
        .await?;
    for g in barcodes {
        sqlx::query(
            "insert into product_barcodes (organization_id, gtin, product_id) values ($1, $2, $3)",
        )
        .bind(organization)
        .bind(g.as_str())
        .bind(product)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

async fn append_product_event(
    tx: &mut Tx,
    state: &AppState,
    event: fn(Product) -> DomainEvent,
    product: &Product,
    actor: &str,
    correlation: &str,
) -> AppResult<()> {
    events::append(
        tx,
        state.db.backend(),
        &NewEvent {
            event: &event(product.clone()),
            organization_id: product.organization_id.as_str(),
            pantry_id: None,
            actor_id: Some(actor),
            correlation_id: correlation,
            client_ip: crate::request::current_client_ip().as_deref(),
            trace_parent: crate::request::current_trace_parent().as_deref(),
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    Ok(())
}

async fn insert_product(
    tx: &mut Tx,
    state: &AppState,
    organization: &OrganizationId,
    input: &ProductInput,
    actor: &str,
    correlation: &str,
) -> AppResult<Product> {
    check_unique(tx, organization.as_str(), input, None).await?;
    let id = ProductId::new();
    let now = state.clock.now_ms();
    sqlx::query(
        "insert into products (id, organization_id, name, name_key, category, category_key, unit, unit_weight_g, perishable, shelf_life_days, created_at, updated_at, sku, sku_key) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13)",
    )
    .bind(id.as_str())
    .bind(organization.as_str())
    .bind(&input.name)
    .bind(input.name.to_lowercase())
    .bind(&input.category)
    .bind(input.category.to_lowercase())
    .bind(input.unit.as_str())
    .bind(input.unit_weight_g)
    .bind(input.perishable as i64)
    .bind(input.shelf_life_days)
    .bind(now)
    .bind(input.sku.as_deref())
    .bind(input.sku.as_ref().map(|s| s.to_lowercase()))
    .execute(&mut **tx)
    .await
    .map_err(|e| duplicate_name(e, input))?;
    write_barcodes(tx, organization.as_str(), id.as_str(), &input.barcodes).await?;
    let product = Product {
        id,
        organization_id: organization.clone(),
        name: input.name.clone(),
        sku: input.sku.clone(),
        category: input.category.clone(),
        unit: input.unit,
        unit_weight_g: input.unit_weight_g,
        barcodes: input.barcodes.clone(),
        perishable: input.perishable,
        shelf_life_days: input.shelf_life_days,
        archived: false,
    };
    append_product_event(
        tx,
        state,
        DomainEvent::ProductCreated,
        &product,
        actor,
        correlation,
    )
    .await?;
    Ok(product)
}

fn duplicate_name(e: sqlx::Error, input: &ProductInput) -> AppError {
    if db::is_unique_violation(&e) {
        AppError::conflict(
            "name",
            format!("The catalog already has a product called “{}”.", input.name),
        )
    } else {
        e.into()
    }
}

async fn update_in_tx(
    tx: &mut Tx,
    state: &AppState,
    existing: &Product,
    input: &ProductInput,
    actor: &str,
    correlation: &str,
) -> AppResult<Product> {
    if existing.unit != input.unit {
        if crate::inventory::ledger::has_moved(tx, existing.id.as_str()).await? {
            return Err(AppError::invalid(
                "unit",
                format!(
                    "{} already has stock movements counted in {}; its unit cannot change. Create a new product instead.",
                    existing.name, existing.unit
                ),
            ));
        }
    }
    check_unique(
        tx,
        existing.organization_id.as_str(),
        input,
        Some(existing.id.as_str()),
    )
    .await?;
    sqlx::query(
        "update products set name = $1, name_key = $2, category = $3, category_key = $4, unit = $5, unit_weight_g = $6, \
         perishable = $7, shelf_life_days = $8, updated_at = $9, sku = $11, sku_key = $12 where id = $10",
    )
    .bind(&input.name)
    .bind(input.name.to_lowercase())
    .bind(&input.category)
    .bind(input.category.to_lowercase())
    .bind(input.unit.as_str())
    .bind(input.unit_weight_g)
    .bind(input.perishable as i64)
    .bind(input.shelf_life_days)
    .bind(state.clock.now_ms())
    .bind(existing.id.as_str())
    .bind(input.sku.as_deref())
    .bind(input.sku.as_ref().map(|s| s.to_lowercase()))
    .execute(&mut **tx)
    .await
    .map_err(|e| duplicate_name(e, input))?;
    write_barcodes(
        tx,
        existing.organization_id.as_str(),
        existing.id.as_str(),
        &input.barcodes,
    )
    .await?;
    let product = Product {
        name: input.name.clone(),
        sku: input.sku.clone(),
        category: input.category.clone(),
        unit: input.unit,
        unit_weight_g: input.unit_weight_g,
        barcodes: input.barcodes.clone(),
        perishable: input.perishable,
        shelf_life_days: input.shelf_life_days,
        ..existing.clone()
    };
    append_product_event(
        tx,
        state,
        DomainEvent::ProductUpdated,
        &product,
        actor,
        correlation,
    )
    .await?;
    Ok(product)
}

fn committed(state: &AppState, organization: &str) {
    state.stock_cache.invalidate_organization(organization);
    // What movements knew of products may be out of date now.
    state.contexts.forget_all();
    state.bus.committed();
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn create(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    fields: &ProductFields,
) -> AppResult<Product> {
    require_editor(caller, organization.as_str())?;
    crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    let input = fields.parse()?;
    let correlation = crate::request::current_request_id();
    let mut tx = state.db.begin().await?;
    let product = insert_product(
        &mut tx,
        state,
        organization,
        &input,
        caller.me.id.as_str(),
        &correlation,
    )
    .await?;
    tx.commit().await?;
    committed(state, organization.as_str());
    Ok(product)
}

#[tracing::instrument(level = "debug", skip_all)]
pub async fn update(
    state: &AppState,
    caller: &Caller,
    id: &ProductId,
    fields: &ProductFields,
) -> AppResult<Product> {
    let (existing, _, _) = get(&state.db, caller, id).await?;
    require_editor(caller, existing.organization_id.as_str())?;
    if existing.archived {
        return Err(AppError::invalid("name", "This product is archived."));
    }
    let input = fields.parse()?;
    let correlation = crate::request::current_request_id();
    let mut tx = state.db.begin().await?;
    let product = update_in_tx(
        &mut tx,
        state,
        &existing,
        &input,
        caller.me.id.as_str(),
        &correlation,
    )
    .await?;
    tx.commit().await?;
    committed(state, existing.organization_id.as_str());
    Ok(product)
}

/// Hides a product from the catalog. Refused while any pantry holds stock
/// of it, so no stock disappears from view.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn archive(state: &AppState, caller: &Caller, id: &ProductId) -> AppResult<()> {
    let (existing, _, _) = get(&state.db, caller, id).await?;
    require_editor(caller, existing.organization_id.as_str())?;
    if existing.archived {
        return Ok(());
    }
    let mut tx = state.db.begin().await?;
    let holding: i64 = sqlx::query_scalar(
        "select count(*) from stock_levels where product_id = $1 and on_hand > 0",
    )
    .bind(id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    if holding > 0 {
        return Err(AppError::conflict(
            "product",
            format!(
                "{} is still in stock at {holding} pantr{}; distribute, transfer or discard it first.",
                existing.name,
                if holding == 1 { "y" } else { "ies" }
            ),
        ));
    }
    sqlx::query("update products set archived_at = $1, updated_at = $1 where id = $2")
        .bind(state.clock.now_ms())
        .bind(id.as_str())
        .execute(&mut *tx)
        .await?;
    let product = Product {
        archived: true,
        ..existing
    };
    append_product_event(
        &mut tx,
        state,
        DomainEvent::ProductArchived,
        &product,
        caller.me.id.as_str(),
        &crate::request::current_request_id(),
    )
    .await?;
    tx.commit().await?;
    committed(state, product.organization_id.as_str());
    Ok(())
}

// ------------------------------------------------------------ CSV

/// The columns of a catalog CSV, in order.
pub const CSV_HEADER: [&str; 8] = [
    "name",
    "sku",
    "category",
    "unit",
    "unit_weight_g",
    "barcodes",
    "perishable",
    "shelf_life_days",
];

/// The whole active catalog as CSV, in the import format.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn export_csv(
    db: &Db,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<String> {
    require_reader(caller, organization.as_str())?;
    crate::org::service::organization_with_place(db, organization.as_str()).await?;
    let mut w = csv::Writer::from_writer(Vec::new());
    let bad = |e: csv::Error| AppError::internal(&e);
    w.write_record(CSV_HEADER).map_err(bad)?;
    let rows = sqlx::query(&format!(
        "select {PRODUCT_COLUMNS} from products where organization_id = $1 and archived_at is null order by name_key"
    ))
    .bind(organization.as_str())
    .fetch_all(db.pool())
    .await?;
    let codes = sqlx::query(
        "select product_id, gtin from product_barcodes where organization_id = $1 order by gtin",
    )
    .bind(organization.as_str())
    .fetch_all(db.pool())
    .await?;
    let mut by_product: std::collections::HashMap<String, Vec<Gtin>> = Default::default();
    for r in &codes {
        by_product
            .entry(r.try_get("product_id")?)
            .or_default()
            .push(Gtin::from_stored(r.try_get("gtin")?));
    }
    for r in &rows {
        let id: String = r.try_get("id")?;
        let p = product_from(r, by_product.remove(&id).unwrap_or_default())?;
        let f = p.fields();
        let safe = |s: &str| crate::spreadsheet::cell(s).into_owned();
        w.write_record([
            safe(&f.name),
            f.sku,
            safe(&f.category),
            f.unit,
            f.unit_weight_g,
            f.barcodes.replace(", ", " "),
            if f.perishable {
                "yes".into()
            } else {
                "no".into()
            },
            f.shelf_life_days,
        ])
        .map_err(bad)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| AppError::internal(&e.into_error()))?;
    String::from_utf8(bytes).map_err(|e| AppError::internal(&e))
}

fn parse_flag(s: &str) -> Result<bool, String> {
    match s.trim().to_lowercase().as_str() {
        "" | "no" | "n" | "false" | "0" => Ok(false),
        "yes" | "y" | "true" | "1" => Ok(true),
        other => Err(format!("perishable must be yes or no, not “{other}”")),
    }
}

/// The most rows one import takes.
pub const MAX_IMPORT_ROWS: usize = 20_000;

/// Imports a catalog CSV: new names are created, known names updated.
/// Every bad row is reported with its line; unless `skip_bad`, a file with
/// any bad row imports nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn import_csv(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
    text: &str,
    skip_bad: bool,
) -> AppResult<ImportReport> {
    require_editor(caller, organization.as_str())?;
    crate::org::service::organization_with_place(&state.db, organization.as_str()).await?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(AppError::invalid("file", "The file is empty."));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| {
            AppError::invalid(
                "file",
                format!("The first line could not be read as CSV: {e}"),
            )
        })?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let col = |name: &str| headers.iter().position(|h| h == name);
    let Some(name_col) = col("name") else {
        return Err(AppError::invalid(
            "file",
            format!(
                "The first line must name the columns; “name” is missing. Expected: {}.",
                CSV_HEADER.join(", ")
            ),
        ));
    };
    let unknown: Vec<&String> = headers
        .iter()
        .filter(|h| !CSV_HEADER.contains(&h.as_str()))
        .collect();
    if !unknown.is_empty() {
        return Err(AppError::invalid(
            "file",
            format!(
                "Unknown column{} {}; the columns are {}.",
                if unknown.len() == 1 { "" } else { "s" },
                unknown
                    .iter()
                    .map(|s| format!("“{s}”"))
                    .collect::<Vec<_>>()
                    .join(", "),
                CSV_HEADER.join(", ")
            ),
        ));
    }
    let mut report = ImportReport::default();
    let mut parsed: Vec<(i64, ProductInput)> = Vec::new();
    let mut seen: std::collections::HashMap<String, i64> = Default::default();
    let mut record = csv::StringRecord::new();
    for i in 0.. {
        // The line the record starts on, as an editor numbers it.
        // (The reader counts a line when it reaches its end.)
        let line = reader.position().line() as i64 + 1;
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                report.errors.push(RowError {
                    line,
                    message: format!("not readable as CSV: {e}"),
                });
                // A broken quote swallows the rest of the file.
                break;
            }
        }
        if i >= MAX_IMPORT_ROWS {
            return Err(AppError::invalid(
                "file",
                format!("The file has more than {MAX_IMPORT_ROWS} rows; split it."),
            ));
        }
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |name: &str| {
            col(name)
                .and_then(|c| record.get(c))
                .unwrap_or("")
                .trim()
                .to_string()
        };
        let _ = name_col;
        let perishable = match parse_flag(&get("perishable")) {
            Ok(p) => p,
            Err(m) => {
                report.errors.push(RowError { line, message: m });
                continue;
            }
        };
        let fields = ProductFields {
            name: get("name").trim_start_matches('\'').to_string(),
            sku: get("sku"),
            category: get("category").trim_start_matches('\'').to_string(),
            unit: get("unit"),
            unit_weight_g: get("unit_weight_g"),
            barcodes: get("barcodes"),
            perishable,
            shelf_life_days: get("shelf_life_days"),
        };
        match fields.parse() {
            Ok(input) => {
                let key = input.name.to_lowercase();
                if let Some(first) = seen.insert(key, line) {
                    report.errors.push(RowError {
                        line,
                        message: format!("“{}” is already on line {first}", input.name),
                    });
                } else {
                    parsed.push((line, input));
                }
            }
            Err(e) => report.errors.push(RowError {
                line,
                message: format!("{}: {}", e.field().unwrap_or("row"), e),
            }),
        }
    }
    if !report.errors.is_empty() && !skip_bad {
        report.rejected = true;
        return Ok(report);
    }
    let correlation = crate::request::current_request_id();
    let actor = caller.me.id.as_str();
    let mut tx = state.db.begin().await?;
    for (line, input) in &parsed {
        let existing_id: Option<String> = sqlx::query_scalar(
            "select id from products where organization_id = $1 and name_key = $2 and archived_at is null",
        )
        .bind(organization.as_str())
        .bind(input.name.to_lowercase())
        .fetch_optional(&mut *tx)
        .await?;
        let result = match existing_id {
            Some(id) => {
                let existing =
                    product_in_org(&state.db, organization, &ProductId::from_stored(id)).await?;
                if existing.fields().parse().ok().as_ref() == Some(input) {
                    report.skipped += 1;
                    continue;
                }
                update_in_tx(&mut tx, state, &existing, input, actor, &correlation)
                    .await
                    .map(|_| false)
            }
            None => insert_product(&mut tx, state, organization, input, actor, &correlation)
                .await
                .map(|_| true),
        };
        match result {
            Ok(true) => report.created += 1,
            Ok(false) => report.updated += 1,
            Err(e @ (AppError::Invalid { .. } | AppError::Conflict { .. })) => {
                report.errors.push(RowError {
                    line: *line,
                    message: format!("{}: {}", e.field().unwrap_or("row"), e),
                });
                if !skip_bad {
                    report.rejected = true;
                    report.created = 0;
                    report.updated = 0;
                    return Ok(report);
                }
                // A failed statement leaves PostgreSQL's transaction
                // unusable; the checks above run before any write, so
                // only a check failed here and the transaction is intact.
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    committed(state, organization.as_str());
    report.errors.sort_by_key(|e| e.line);
    Ok(report)
}

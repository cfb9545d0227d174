//! Suppliers and their items: who an organization buys from and what each
//! sells, tied to the catalog's products by barcode or by hand.
//!
//! Anyone with a role in the organization reads them (a pantry's staff
//! order from them); a manager anywhere in it keeps them.

use sqlx::Row as _;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::{Gtin, Unit};
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::ids::{OrganizationId, ProductId, SupplierId, SupplierItemId};
use crate::inventory::model::parse_text;
use crate::org::model::Organization;
use crate::state::AppState;

/// Items a supplier may list.
pub const MAX_ITEMS: i64 = 5_000;

/// The strongest role the caller holds anywhere in the organization.
pub(super) fn role_in(caller: &Caller, organization: &OrganizationId) -> Option<Role> {
    caller
        .grants
        .iter()
        .filter(|g| &g.organization_id == organization)
        .map(|g| g.role)
        .max()
}

/// The organization, for a caller with any role in it; `editing` needs a
/// manager somewhere in it.
pub(super) async fn organization_for(
    db: &Db,
    caller: &Caller,
    organization: &OrganizationId,
    editing: bool,
) -> AppResult<(Organization, bool)> {
    let (org, _) = crate::org::service::organization_with_place(db, organization.as_str()).await?;
    let role = role_in(caller, organization).ok_or_else(|| AppError::not_found("organization"))?;
    let can_edit = role >= Role::Manager && caller.key.is_none();
    if editing && !can_edit {
        return Err(AppError::Forbidden(
            "Only managers keep the organization's suppliers.".into(),
        ));
    }
    Ok((org, can_edit))
}

fn supplier_from(r: &crate::db::Row) -> Result<Supplier, sqlx::Error> {
    let days: String = r.try_get("order_days")?;
    Ok(Supplier {
        id: SupplierId::from_stored(r.try_get("id")?),
        organization_id: OrganizationId::from_stored(r.try_get("organization_id")?),
        name: r.try_get("name")?,
        contact_name: r.try_get("contact_name")?,
        email: r.try_get("email")?,
        phone: r.try_get("phone")?,
        lead_time_days: r.try_get("lead_time_days")?,
        order_days: stored_order_days(&days),
        minimum_order_cents: r.try_get("minimum_order_cents")?,
        notes: r.try_get("notes")?,
        items: r.try_get("items")?,
        unmapped: r.try_get("unmapped")?,
        open_orders: r.try_get("open_orders")?,
    })
}

const SUPPLIER_SELECT: &str = "select s.id, s.organization_id, s.name, s.contact_name, s.email, s.phone, \
     s.lead_time_days, s.order_days, s.minimum_order_cents, s.notes, \
     (select count(*) from supplier_items i where i.supplier_id = s.id) as items, \
     (select count(*) from supplier_items i where i.supplier_id = s.id and i.product_id is null) as unmapped, \
     (select count(*) from purchase_orders o where o.supplier_id = s.id and o.status in ('submitted', 'partly_received')) as open_orders \
     from suppliers s";

/// An active supplier, whoever asks (callers check access).
pub(super) async fn supplier_row(db: &Db, id: &SupplierId) -> AppResult<Supplier> {
    supplier_where(db, id, "and s.archived_at is null").await
}

/// A supplier, archived or not (its old orders still name it).
pub(super) async fn supplier_any(db: &Db, id: &SupplierId) -> AppResult<Supplier> {
    supplier_where(db, id, "").await
}

async fn supplier_where(db: &Db, id: &SupplierId, and: &str) -> AppResult<Supplier> {
    let row = sqlx::query(&format!("{SUPPLIER_SELECT} where s.id = $1 {and}"))
        .bind(id.as_str())
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("supplier"))?;
    Ok(supplier_from(&row)?)
}

/// The organization's suppliers, by name.
pub async fn suppliers(
    state: &AppState,
    caller: &Caller,
    organization: &OrganizationId,
) -> AppResult<SupplierList> {
    let (org, can_edit) = organization_for(&state.db, caller, organization, false).await?;
    let suppliers = sqlx::query(&format!(
        "{SUPPLIER_SELECT} where s.organization_id = $1 and s.archived_at is null order by s.name_key"
    ))
    .bind(org.id.as_str())
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(supplier_from)
    .collect::<Result<_, _>>()?;
    Ok(SupplierList {
        organization_id: org.id,
        organization_name: org.name,
        suppliers,
        can_edit,
    })
}

/// A supplier checked and cleaned from the form.
struct SupplierFields {
    name: String,
    contact_name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    lead_time_days: i64,
    order_days: String,
    minimum_order_cents: Option<i64>,
    notes: Option<String>,
}

fn supplier_fields(input: &SupplierInput) -> AppResult<SupplierFields> {
    let name = parse_text(&input.name, "name", 120)?
        .ok_or_else(|| AppError::invalid("name", "Enter the supplier's name."))?;
    let email = match parse_text(&input.email, "email", 254)? {
        Some(e) => Some(
            crate::auth::model::Email::parse(&e, "email")?
                .as_str()
                .to_string(),
        ),
        None => None,
    };
    let lead = input.lead_time_days.trim();
    let lead_time_days = if lead.is_empty() {
        7
    } else {
        lead.parse::<i64>()
            .ok()
            .filter(|d| (0..=365).contains(d))
            .ok_or_else(|| {
                AppError::invalid(
                    "lead_time_days",
                    format!(
                        "“{}” is not a number of days from 0 to 365.",
                        lead.chars().take(20).collect::<String>()
                    ),
                )
            })?
    };
    let days = parse_order_days(&input.order_days, "order_days")?;
    Ok(SupplierFields {
        name,
        contact_name: parse_text(&input.contact_name, "contact_name", 120)?,
        email,
        phone: parse_text(&input.phone, "phone", 40)?,
        lead_time_days,
        order_days: days.iter().map(u8::to_string).collect::<Vec<_>>().join(","),
        minimum_order_cents: parse_money(&input.minimum_order, "minimum_order")?,
        notes: parse_text(&input.notes, "notes", 2000)?,
    })
}

/// Adds a supplier, or changes one (`input.id`); returns its id.
pub async fn save_supplier(
    state: &AppState,
    caller: &Caller,
    input: &SupplierInput,
) -> AppResult<SupplierId> {
    let (org, _) = organization_for(&state.db, caller, &input.organization, true).await?;
    let f = supplier_fields(input)?;
    let key = f.name.to_lowercase();
    let now = state.clock.now_ms();
    let existing = match input.id.trim() {
        "" => None,
        id => {
            let id: SupplierId = id.parse()?;
            let s = supplier_row(&state.db, &id).await?;
            if s.organization_id != org.id {
                return Err(AppError::not_found("supplier"));
            }
            Some(id)
        }
    };
    let clash: Option<String> = sqlx::query_scalar(
        "select id from suppliers where organization_id = $1 and name_key = $2 and archived_at is null",
    )
    .bind(org.id.as_str())
    .bind(&key)
    .fetch_optional(state.db.pool())
    .await?;
    if clash.is_some_and(|c| Some(c.as_str()) != existing.as_ref().map(|e| e.as_str())) {
        return Err(AppError::conflict(
            "name",
            format!("There is already a supplier called {}.", f.name),
        ));
    }
    let id = existing.clone().unwrap_or_else(SupplierId::new);
    let query = if existing.is_some() {
        "update suppliers set name = $2, name_key = $3, contact_name = $4, email = $5, phone = $6, \
         lead_time_days = $7, order_days = $8, minimum_order_cents = $9, notes = $10, updated_at = $11 \
         where id = $1"
    } else {
        "insert into suppliers (id, name, name_key, contact_name, email, phone, lead_time_days, \
         order_days, minimum_order_cents, notes, updated_at, created_at, organization_id) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)"
    };
    let mut q = sqlx::query(query)
        .bind(id.as_str())
        .bind(&f.name)
        .bind(&key)
        .bind(f.contact_name)
        .bind(f.email)
        .bind(f.phone)
        .bind(f.lead_time_days)
        .bind(f.order_days)
        .bind(f.minimum_order_cents)
        .bind(f.notes)
        .bind(now);
    if existing.is_none() {
        q = q.bind(org.id.as_str());
    }
    q.execute(state.db.pool()).await.map_err(|e| {
        // Two people adding the same name at once: the index decides.
        if crate::db::is_unique_violation(&e) {
            AppError::conflict(
                "name",
                format!("There is already a supplier called {}.", f.name),
            )
        } else {
            e.into()
        }
    })?;
    Ok(id)
}

/// Archives a supplier: it leaves the lists; its orders stay as they are.
pub async fn archive_supplier(state: &AppState, caller: &Caller, id: &SupplierId) -> AppResult<()> {
    let s = supplier_row(&state.db, id).await?;
    organization_for(&state.db, caller, &s.organization_id, true).await?;
    if s.open_orders > 0 {
        return Err(AppError::conflict(
            "supplier",
            format!(
                "{} has {} order{} on the way; receive or cancel {} first.",
                s.name,
                s.open_orders,
                if s.open_orders == 1 { "" } else { "s" },
                if s.open_orders == 1 { "it" } else { "them" }
            ),
        ));
    }
    sqlx::query("update suppliers set archived_at = $2 where id = $1")
        .bind(id.as_str())
        .bind(state.clock.now_ms())
        .execute(state.db.pool())
        .await?;
    Ok(())
}

/// The catalog's active products (id, name, unit), by name.
pub(super) async fn catalog(
    db: &Db,
    organization: &OrganizationId,
) -> AppResult<Vec<(ProductId, String, Unit)>> {
    sqlx::query(
        "select id, name, unit from products where organization_id = $1 and archived_at is null order by name_key",
    )
    .bind(organization.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        let unit: String = r.try_get("unit")?;
        Ok((
            ProductId::from_stored(r.try_get("id")?),
            r.try_get("name")?,
            Unit::parse(&unit, "unit")?,
        ))
    })
    .collect()
}

/// A supplier's page.
pub async fn supplier(
    state: &AppState,
    caller: &Caller,
    id: &SupplierId,
) -> AppResult<SupplierDetail> {
    let supplier = supplier_row(&state.db, id).await?;
    let (org, can_edit) =
        organization_for(&state.db, caller, &supplier.organization_id, false).await?;
    let items = items(&state.db, id).await?;
    let products = catalog(&state.db, &org.id).await?;
    let zone = crate::zones::Zone::stored(&org.time_zone);
    let feed = super::feed::view(state, id, &zone, can_edit).await?;
    Ok(SupplierDetail {
        supplier,
        organization_name: org.name,
        items,
        products,
        can_edit,
        feed,
    })
}

/// A supplier's items, tied ones first by product, then the rest by SKU.
pub(super) async fn items(db: &Db, supplier: &SupplierId) -> AppResult<Vec<SupplierItem>> {
    sqlx::query(
        "select i.id, i.sku, i.description, i.gtin, i.product_id, p.name as product_name, p.unit, \
         i.pack_size, i.price_cents, i.available \
         from supplier_items i left join products p on p.id = i.product_id \
         where i.supplier_id = $1 \
         order by case when i.product_id is null then 1 else 0 end, p.name_key, i.sku_key",
    )
    .bind(supplier.as_str())
    .fetch_all(db.pool())
    .await?
    .iter()
    .map(|r| {
        let gtin: Option<String> = r.try_get("gtin")?;
        let unit: Option<String> = r.try_get("unit")?;
        let product: Option<String> = r.try_get("product_id")?;
        Ok(SupplierItem {
            id: SupplierItemId::from_stored(r.try_get("id")?),
            sku: r.try_get("sku")?,
            description: r.try_get("description")?,
            barcode: gtin
                .map(|g| Gtin::parse(&g, "barcode").map(|g| g.display().to_string()))
                .transpose()?,
            product_id: product.map(ProductId::from_stored),
            product_name: r.try_get("product_name")?,
            unit: unit.map(|u| Unit::parse(&u, "unit")).transpose()?,
            pack_size: r.try_get("pack_size")?,
            price_cents: r.try_get("price_cents")?,
            available: r.try_get::<i64, _>("available")? != 0,
        })
    })
    .collect()
}

/// How many of the product's stored parts one pack holds, from the pack
/// size typed in its unit.
pub(super) fn pack_parts(unit: Unit, pack_size: &str) -> AppResult<i64> {
    let parts = unit
        .parse_quantity(pack_size, "pack_size")
        .map_err(|e| AppError::invalid("pack_size", format!("Pack size: {e}")))?;
    if parts == 0 {
        return Err(AppError::invalid(
            "pack_size",
            "A pack must hold something.",
        ));
    }
    Ok(parts)
}

/// Adds an item to a supplier, or changes the one with the same SKU. With
/// no product chosen, a barcode the catalog knows ties it to that product.
pub async fn save_item(
    state: &AppState,
    caller: &Caller,
    input: &ItemInput,
) -> AppResult<SupplierItemId> {
    let supplier = supplier_row(&state.db, &input.supplier).await?;
    let (org, _) = organization_for(&state.db, caller, &supplier.organization_id, true).await?;
    let sku = parse_text(&input.sku, "sku", 64)?
        .ok_or_else(|| AppError::invalid("sku", "Enter the supplier's item code (SKU)."))?;
    let description = parse_text(&input.description, "description", 200)?.unwrap_or_default();
    let gtin = match input.barcode.trim() {
        "" => None,
        b => Some(Gtin::parse(b, "barcode")?),
    };
    let price_cents = parse_money(&input.price, "price")?;
    let available = input.unavailable.trim().is_empty();
    let products = catalog(&state.db, &org.id).await?;
    let product = match input.product.trim() {
        "" => match &gtin {
            Some(g) => sqlx::query_scalar::<_, String>(
                "select product_id from product_barcodes where organization_id = $1 and gtin = $2",
            )
            .bind(org.id.as_str())
            .bind(g.as_str())
            .fetch_optional(state.db.pool())
            .await?
            .map(ProductId::from_stored),
            None => None,
        },
        p => {
            let id: ProductId = p
                .parse()
                .map_err(|_| AppError::invalid("product", "Choose a product of the catalog."))?;
            Some(id)
        }
    };
    let pack_size = match input.pack_size.trim() {
        "" => "1".to_string(),
        s => s.to_string(),
    };
    match &product {
        Some(id) => {
            let (_, _, unit) = products.iter().find(|(p, _, _)| p == id).ok_or_else(|| {
                AppError::invalid("product", "That is not an active product of this catalog.")
            })?;
            pack_parts(*unit, &pack_size)?;
        }
        // Checked against the product's unit once it is tied to one.
        None => {
            Unit::Kg.parse_quantity(&pack_size, "pack_size")?;
        }
    }
    let count: i64 =
        sqlx::query_scalar("select count(*) from supplier_items where supplier_id = $1")
            .bind(supplier.id.as_str())
            .fetch_one(state.db.pool())
            .await?;
    let key = sku.to_lowercase();
    let existing: Option<String> =
        sqlx::query_scalar("select id from supplier_items where supplier_id = $1 and sku_key = $2")
            .bind(supplier.id.as_str())
            .bind(&key)
            .fetch_optional(state.db.pool())
            .await?;
    if existing.is_none() && count >= MAX_ITEMS {
        return Err(AppError::invalid(
            "sku",
            format!("A supplier lists at most {MAX_ITEMS} items."),
        ));
    }
    let id = existing
        .map(SupplierItemId::from_stored)
        .unwrap_or_else(SupplierItemId::new);
    let mut conn = state.db.pool().acquire().await?;
    upsert_item(
        &mut conn,
        &ItemRow {
            id: id.as_str(),
            supplier: supplier.id.as_str(),
            organization: org.id.as_str(),
            sku: &sku,
            description: &description,
            gtin: gtin.as_ref(),
            product: product.as_ref().map(ProductId::as_str),
            pack_size: &pack_size,
            price_cents,
            available,
        },
        state.clock.now_ms(),
    )
    .await?;
    Ok(id)
}

/// An item as written: the form's and the catalog file's.
pub(super) struct ItemRow<'a> {
    pub id: &'a str,
    pub supplier: &'a str,
    pub organization: &'a str,
    pub sku: &'a str,
    pub description: &'a str,
    pub gtin: Option<&'a Gtin>,
    pub product: Option<&'a str>,
    pub pack_size: &'a str,
    pub price_cents: Option<i64>,
    pub available: bool,
}

/// Adds the item, or changes the supplier's item with the same SKU (any
/// case), keeping its id.
pub(super) async fn upsert_item(
    conn: &mut crate::db::Conn,
    item: &ItemRow<'_>,
    now: i64,
) -> AppResult<()> {
    sqlx::query(
        "insert into supplier_items (id, supplier_id, organization_id, sku, sku_key, description, gtin, \
         product_id, pack_size, price_cents, available, updated_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         on conflict (supplier_id, sku_key) do update set sku = excluded.sku, \
         description = excluded.description, gtin = excluded.gtin, product_id = excluded.product_id, \
         pack_size = excluded.pack_size, price_cents = excluded.price_cents, \
         available = excluded.available, updated_at = excluded.updated_at",
    )
    .bind(item.id)
    .bind(item.supplier)
    .bind(item.organization)
    .bind(item.sku)
    .bind(item.sku.to_lowercase())
    .bind(item.description)
    .bind(item.gtin.map(Gtin::as_str))
    .bind(item.product)
    .bind(item.pack_size)
    .bind(item.price_cents)
    .bind(i64::from(item.available))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

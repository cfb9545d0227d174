//! `/pantries/:id/inventory`: a pantry's stock, searched, filtered and
//! paginated.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::ids::PantryId;
use crate::inventory::api::*;
use crate::inventory::model::*;
use crate::ui::*;

use super::live::LiveUpdates;
use super::{encode, pantry_trail};

/// A link to the inventory list with these settings.
fn list_href(
    pantry: &str,
    q: &str,
    category: &str,
    filter: StockFilter,
    sort: StockSort,
    page: i64,
) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    if !category.is_empty() {
        parts.push(format!("category={}", encode(category)));
    }
    if filter != StockFilter::InStock {
        parts.push(format!("filter={}", filter.as_str()));
    }
    if sort != StockSort::Name {
        parts.push(format!("sort={}", sort.as_str()));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    let query = if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    };
    format!("/pantries/{pantry}/inventory{query}")
}

/// The CSV of the list with these settings (every page of it).
fn csv_href(pantry: &str, q: &str, category: &str, filter: StockFilter, sort: StockSort) -> String {
    list_href(pantry, q, category, filter, sort, 1).replacen("/inventory", "/inventory.csv", 1)
}

/// The badges a stock line wears: low, expiring, expired.
#[component]
fn StockBadges(row: StockRow, expiring_days: i64) -> impl IntoView {
    let unit = row.unit;
    view! {
        <span class="badges">
            {row.low.then(|| view! { <span class="badge badge-low" title=format!("Minimum {}", unit.format(row.minimum))>"Low"</span> })}
            {(row.expired > 0).then(|| view! { <span class="badge badge-expired">{format!("{} expired", unit.format(row.expired))}</span> })}
            {(row.expiring > 0).then(|| view! {
                <span class="badge badge-expiring" title=format!("Best before within {expiring_days} days")>{format!("{} expiring", unit.format(row.expiring))}</span>
            })}
        </span>
    }
}

/// `/pantries/:id/inventory`: every product with what the pantry holds,
/// searchable, filterable, sortable, paginated, live.
#[component]
pub fn InventoryPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let pantry = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let q = move || query.read().get("q").unwrap_or_default();
    let category = move || query.read().get("category").unwrap_or_default();
    let filter = move || StockFilter::parse(&query.read().get("filter").unwrap_or_default());
    let sort = move || StockSort::parse(&query.read().get("sort").unwrap_or_default());
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
    };
    let tick = RwSignal::new(0u64);
    let data = Resource::new(
        move || {
            (
                pantry.get(),
                q(),
                category(),
                filter(),
                sort(),
                page(),
                tick.get(),
            )
        },
        |(pantry, q, category, filter, sort, page, _)| async move {
            get_stock(
                PantryId::from_stored(pantry),
                q,
                category,
                filter.as_str().into(),
                sort.as_str().into(),
                page,
            )
            .await
        },
    );
    view! {
        <Title text="Inventory" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = v.pantry.id.to_string();
                let (q, category, filter, sort) = (q(), category(), filter(), sort());
                let chip = {
                    let (pid, q, category) = (pid.clone(), q.clone(), category.clone());
                    move |f: StockFilter, label: &'static str| {
                        let current = f == filter;
                        view! {
                            <a class="chip" class:chip-on=current aria-current=current.then_some("true")
                                href=list_href(&pid, &q, &category, f, sort, 1)>{label}</a>
                        }
                    }
                };
                let pages = v.pages();
                let prev = (v.page > 1).then(|| list_href(&pid, &q, &category, filter, sort, v.page - 1));
                let next = (v.page < pages).then(|| list_href(&pid, &q, &category, filter, sort, v.page + 1));
                let days = v.expiring_days;
                view! {
                    <Title text=format!("Inventory · {}", v.pantry.name) />
                    <Breadcrumbs trail=pantry_trail(&v.pantry, vec![("Inventory".into(), None)]) />
                    <div class="page-head">
                        <h1>"Inventory"</h1>
                        {v.can_move.then(|| view! {
                            <a class="button primary" href=format!("/pantries/{pid}/distribute")>"Distribute"</a>
                        })}
                    </div>
                    <form method="get" class="search-bar" role="search">
                        <div class="field grow">
                            <label for="stock-q">"Search by name or barcode"</label>
                            <input id="stock-q" name="q" type="search" value=q.clone() autocomplete="off" />
                        </div>
                        <div class="field">
                            <label for="stock-category">"Category"</label>
                            <select id="stock-category" name="category">
                                <option value="" selected=category.is_empty()>"All categories"</option>
                                {v.categories.iter().map(|c| {
                                    let selected = c.eq_ignore_ascii_case(&category);
                                    view! { <option value=c.clone() selected=selected>{c.clone()}</option> }
                                }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="stock-sort">"Sort by"</label>
                            <select id="stock-sort" name="sort">
                                {[(StockSort::Name, "Name"), (StockSort::Category, "Category"), (StockSort::OnHand, "Least on hand"), (StockSort::BestBefore, "Best before")]
                                    .into_iter()
                                    .map(|(s, label)| view! { <option value=s.as_str() selected=s == sort>{label}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        {(filter != StockFilter::All).then(|| view! { <input type="hidden" name="filter" value=filter.as_str() /> })}
                        <button class="button" type="submit">"Search"</button>
                    </form>
                    <nav class="chips" aria-label="Show">
                        {chip(StockFilter::InStock, "In stock")}
                        {chip(StockFilter::Low, "Low stock")}
                        {chip(StockFilter::Expiring, "Expiring")}
                        {chip(StockFilter::All, "Show products with no stock")}
                    </nav>
                    <div class="list-head">
                        <p class="muted" aria-live="polite">{format!("{} product{}", v.total, if v.total == 1 { "" } else { "s" })}</p>
                        <LiveUpdates pantry=pantry tick=tick />
                    </div>
                    <p class="downloads">
                        <span class="muted">"Download CSV: "</span>
                        <a href=csv_href(&pid, &q, &category, filter, sort) download="" data-testid="csv-this">"this list"</a>
                        " · "
                        <a href=csv_href(&pid, "", "", StockFilter::InStock, StockSort::Name) download="">"whole inventory"</a>
                        " · "
                        <a href=csv_href(&pid, "", "", StockFilter::Low, StockSort::Name) download="">"low stock"</a>
                        " · "
                        <a href=csv_href(&pid, "", "", StockFilter::Expiring, StockSort::BestBefore) download="">"expiring"</a>
                    </p>
                    {if v.rows.is_empty() {
                        view! {
                            <EmptyState title="Nothing here">
                                <p>{if v.total == 0 && q.is_empty() && filter == StockFilter::All {
                                    "The catalog has no products yet. Add them in the organization's catalog."
                                } else if q.is_empty() && filter == StockFilter::InStock {
                                    "Nothing is in stock here. Receive a donation, or show products with no stock."
                                } else {
                                    "No products match. Try another search or filter."
                                }}</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <ul class="stock-list inventory-list" data-testid="stock-list">
                                <li class="stock-row stock-head" aria-hidden="true">
                                    <span class="stock-name">"Product"</span>
                                    <span class="stock-category">"Category"</span>
                                    <span class="stock-qty">"On hand"</span>
                                    <span class="stock-bb">"Best before"</span>
                                    <span class="stock-weight">"Weight"</span>
                                    <span class="badges"></span>
                                </li>
                                {v.rows.into_iter().map(|row| {
                                    let href = format!("/pantries/{pid}/products/{}", row.product_id);
                                    let on_hand = row.on_hand_text();
                                    let empty = row.on_hand == 0;
                                    let product_id = row.product_id.to_string();
                                    let best_before = row.next_best_before.clone();
                                    let weight = row.weight_text();
                                    view! {
                                        <li class="stock-row" data-product=product_id>
                                            <a class="stock-name" href=href>{row.name.clone()}</a>
                                            <span class="stock-category muted">{row.category.clone()}</span>
                                            <span class="stock-qty" class:stock-zero=empty data-testid="on-hand">{on_hand}</span>
                                            <span class="stock-bb" data-testid="best-before">
                                                {best_before}
                                            </span>
                                            <span class="stock-weight muted" data-testid="weight">{weight}</span>
                                            <StockBadges row=row expiring_days=days />
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            <nav class="pager" aria-label="Pages">
                                {prev.map(|h| view! { <a class="button small" href=h rel="prev">"Previous"</a> })}
                                <span class="muted">{format!("Page {} of {}", v.page, pages)}</span>
                                {next.map(|h| view! { <a class="button small" href=h rel="next">"Next"</a> })}
                            </nav>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

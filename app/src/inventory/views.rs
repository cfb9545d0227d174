//! Stock pages: a pantry's inventory, a product at a pantry with its lots,
//! history and movement forms, the quick distribute flow for the counter,
//! and the stock overview card. All of them follow changes live.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use crate::catalog::model::Unit;
use crate::ids::{PantryId, ProductId};
use crate::ui::*;

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

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
    if filter != StockFilter::All {
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

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum LiveStatus {
    Connecting,
    Live,
    Reconnecting,
}

/// Follows the pantry's live stream and bumps `tick` on every change, so
/// the resources that read it fetch again. Shows whether it is connected.
#[component]
pub fn LiveUpdates(pantry: Signal<String>, tick: RwSignal<u64>) -> impl IntoView {
    let status = RwSignal::new(LiveStatus::Connecting);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        Effect::new(move |_| {
            let url = format!("/live/pantries/{}", pantry.get());
            let Ok(source) = web_sys::EventSource::new(&url) else {
                status.set(LiveStatus::Reconnecting);
                return;
            };
            let changed = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
                tick.update(|t| *t += 1);
            });
            let opened = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                // After a dropped connection, changes may have been missed.
                if status.get_untracked() == LiveStatus::Reconnecting {
                    tick.update(|t| *t += 1);
                }
                status.set(LiveStatus::Live);
            });
            let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                status.set(LiveStatus::Reconnecting);
            });
            let _ =
                source.add_event_listener_with_callback("stock", changed.as_ref().unchecked_ref());
            let _ =
                source.add_event_listener_with_callback("resync", changed.as_ref().unchecked_ref());
            source.set_onopen(Some(opened.as_ref().unchecked_ref()));
            source.set_onerror(Some(failed.as_ref().unchecked_ref()));
            let held = send_wrapper::SendWrapper::new((source, changed, opened, failed));
            on_cleanup(move || {
                let (source, ..) = held.take();
                source.close();
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (pantry, tick);
    view! {
        <span class="live" data-live=move || match status.get() {
            LiveStatus::Connecting => "connecting",
            LiveStatus::Live => "live",
            LiveStatus::Reconnecting => "reconnecting",
        }>
            <span class="live-dot" aria-hidden="true"></span>
            {move || match status.get() {
                LiveStatus::Connecting => "Connecting…",
                LiveStatus::Live => "Live",
                LiveStatus::Reconnecting => "Reconnecting…",
            }}
        </span>
    }
}

fn pantry_trail(
    p: &PantryHeader,
    last: Vec<(String, Option<String>)>,
) -> Vec<(String, Option<String>)> {
    let mut trail = vec![
        (
            p.organization_name.clone(),
            Some(format!("/organizations/{}", p.organization_id)),
        ),
        (
            p.campus_name.clone(),
            Some(format!("/campuses/{}", p.campus_id)),
        ),
        (p.name.clone(), Some(format!("/pantries/{}", p.id))),
    ];
    trail.extend(last);
    trail
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
                PantryId(pantry),
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
                let pid = v.pantry.id.0.clone();
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
                        {chip(StockFilter::All, "All products")}
                        {chip(StockFilter::InStock, "In stock")}
                        {chip(StockFilter::Low, "Low stock")}
                        {chip(StockFilter::Expiring, "Expiring")}
                    </nav>
                    <div class="list-head">
                        <p class="muted" aria-live="polite">{format!("{} product{}", v.total, if v.total == 1 { "" } else { "s" })}</p>
                        <LiveUpdates pantry=pantry tick=tick />
                    </div>
                    {if v.rows.is_empty() {
                        view! {
                            <EmptyState title="Nothing here">
                                <p>{if v.total == 0 && q.is_empty() && filter == StockFilter::All {
                                    "The catalog has no products yet. Add them in the organization's catalog."
                                } else {
                                    "No products match. Try another search or filter."
                                }}</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <ul class="stock-list" data-testid="stock-list">
                                {v.rows.into_iter().map(|row| {
                                    let href = format!("/pantries/{pid}/products/{}", row.product_id);
                                    let on_hand = row.on_hand_text();
                                    let empty = row.on_hand == 0;
                                    let product_id = row.product_id.0.clone();
                                    view! {
                                        <li class="stock-row" data-product=product_id>
                                            <a class="stock-name" href=href>{row.name.clone()}</a>
                                            <span class="stock-category muted">{row.category.clone()}</span>
                                            <span class="stock-qty" class:stock-zero=empty data-testid="on-hand">{on_hand}</span>
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

/// Confirms a recorded movement, in words.
fn receipt_text(kind: &str, r: &MovementReceipt) -> String {
    format!(
        "{kind} {} of {}. On hand now: {}.",
        r.quantity_text, r.product_name, r.on_hand_text
    )
}

/// The success line of the last movement any of the forms recorded.
#[component]
fn Receipt(message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div aria-live="polite">
            {move || message.get().map(|m| view! { <p class="notice" role="status">{m}</p> })}
        </div>
    }
}

/// `/pantries/:pantry/products/:product`: the product's stock, lots, history
/// and the forms to move it.
#[component]
pub fn ProductStockPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let pantry = Signal::derive(move || params.read().get("pantry").unwrap_or_default());
    let product = move || params.read().get("product").unwrap_or_default();
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
    };
    let tick = RwSignal::new(0u64);
    let receive = ServerAction::<Receive>::new();
    let distribute = ServerAction::<Distribute>::new();
    let adjust = ServerAction::<Adjust>::new();
    let transfer = ServerAction::<Transfer>::new();
    let discard = ServerAction::<Discard>::new();
    let minimum = ServerAction::<SetMinimum>::new();
    let versions = move || {
        (
            receive.version().get(),
            distribute.version().get(),
            adjust.version().get(),
            transfer.version().get(),
            discard.version().get(),
            minimum.version().get(),
        )
    };
    let data = Resource::new(
        move || (pantry.get(), product(), page(), tick.get(), versions()),
        |(pantry, product, page, _, _)| {
            get_product_stock(PantryId(pantry), ProductId(product), page)
        },
    );
    // The forms read the same data, but not on every live change: a change
    // elsewhere must not wipe what someone is typing.
    // Refreshed (and so cleared) only when a movement succeeds: a refusal
    // keeps what was typed, next to its error.
    let saved = RwSignal::new(0u64);
    let form_data = Resource::new(
        move || (pantry.get(), product(), saved.get()),
        |(pantry, product, _)| get_product_stock(PantryId(pantry), ProductId(product), 1),
    );
    let tab = RwSignal::new(Tab::Receive);
    let last = RwSignal::new(None::<String>);
    let record = move |message: String| {
        last.set(Some(message));
        saved.update(|n| *n += 1);
    };
    Effect::new(move |_| match receive.value().get() {
        Some(Ok(r)) => record(receipt_text("Received", &r)),
        Some(Err(_)) => last.set(None),
        None => {}
    });
    Effect::new(move |_| match distribute.value().get() {
        Some(Ok(r)) => record(receipt_text("Distributed", &r)),
        Some(Err(_)) => last.set(None),
        None => {}
    });
    Effect::new(move |_| match adjust.value().get() {
        Some(Ok(r)) => record(receipt_text("Adjusted", &r)),
        Some(Err(_)) => last.set(None),
        None => {}
    });
    Effect::new(move |_| match transfer.value().get() {
        Some(Ok(r)) => record(receipt_text("Transferred", &r)),
        Some(Err(_)) => last.set(None),
        None => {}
    });
    Effect::new(move |_| match discard.value().get() {
        Some(Ok(r)) => record(receipt_text("Discarded", &r)),
        Some(Err(_)) => last.set(None),
        None => {}
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = minimum.value().get() {
            record("Minimum saved.".into());
        }
    });
    view! {
        <Title text="Product" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let unit = v.product.unit;
                let pid = v.pantry.id.0.clone();
                let low = v.minimum > 0 && v.on_hand < v.minimum;
                view! {
                    <Title text=format!("{} · {}", v.product.name, v.pantry.name) />
                    <Breadcrumbs trail=pantry_trail(&v.pantry, vec![
                        ("Inventory".into(), Some(format!("/pantries/{pid}/inventory"))),
                        (v.product.name.clone(), None),
                    ]) />
                    <div class="page-head">
                        <div>
                            <p class="eyebrow">{v.product.category.clone()}</p>
                            <h1>{v.product.name.clone()}</h1>
                        </div>
                        <LiveUpdates pantry=pantry tick=tick />
                    </div>
                    <section class="card stock-summary">
                        <div>
                            <p class="eyebrow">"On hand"</p>
                            <p class="big-number" data-testid="on-hand">{unit.format(v.on_hand)}</p>
                        </div>
                        <div>
                            <p class="eyebrow">"Minimum"</p>
                            <p class="big-number small">{if v.minimum > 0 { unit.format(v.minimum) } else { "Not set".into() }}</p>
                            {low.then(|| view! { <span class="badge badge-low">"Low stock"</span> })}
                        </div>
                    </section>
                }.into_any()
            })}
        </Transition>
        <Receipt message=last.into() />
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(v) = form_data.await else { return ().into_any() };
                if !v.can_move {
                    return ().into_any();
                }
                view! {
                    <MovementForms v=v tab receive distribute adjust transfer discard minimum />
                }.into_any()
            })}
        </Suspense>
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(v) = data.await else { return ().into_any() };
                let unit = v.product.unit;
                let pages = ((v.movements_total + v.per_page - 1) / v.per_page).max(1);
                view! {
                    <section class="card">
                        <h2>"Lots"</h2>
                        {if v.lots.is_empty() {
                            view! { <p class="muted">"No stock here."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <thead><tr><th scope="col">"Best before"</th><th scope="col" class="num">"Quantity"</th></tr></thead>
                                    <tbody>
                                        {v.lots.iter().map(|l| view! {
                                            <tr>
                                                <td>
                                                    {l.best_before.clone().unwrap_or_else(|| "No date".into())}
                                                    {l.expired.then(|| view! { " " <span class="badge badge-expired">"Expired"</span> })}
                                                    {l.expiring.then(|| view! { " " <span class="badge badge-expiring">"Expiring soon"</span> })}
                                                </td>
                                                <td class="num">{unit.format(l.quantity)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any()
                        }}
                    </section>
                    <section class="card">
                        <h2>"History"</h2>
                        {if v.movements.is_empty() {
                            view! { <p class="muted">"Nothing has moved yet."</p> }.into_any()
                        } else {
                            view! {
                                <ol class="history">
                                    {v.movements.iter().map(|m| {
                                        let detail = [
                                            m.reason.clone(),
                                            m.donor.clone().map(|d| format!("from {d}")),
                                            m.source.clone().filter(|s| s == "purchase").map(|_| "purchase".to_string()),
                                            m.counterpart.clone().map(|c| if m.quantity < 0 { format!("to {c}") } else { format!("from {c}") }),
                                            m.weight_g.map(format_weight),
                                            m.note.clone(),
                                        ].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                                        let sign = if m.quantity > 0 { "+" } else { "" };
                                        view! {
                                            <li>
                                                <span class=format!("kind kind-{}", m.kind.as_str())>{m.kind.label()}</span>
                                                <span class="qty">{format!("{sign}{}", unit.format(m.quantity))}</span>
                                                <span class="muted">{format!("{} · {}", m.occurred_at, m.actor)}</span>
                                                {(!detail.is_empty()).then(|| view! { <span class="detail">{detail}</span> })}
                                                {(m.kind == MovementKind::Received && m.source.as_deref() == Some("donation")).then(|| view! {
                                                    <a class="detail" href=format!("/donations/{}", m.id)>"Donation receipt"</a>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                                {(pages > 1).then(|| view! {
                                    <nav class="pager" aria-label="History pages">
                                        {(v.page > 1).then(|| view! { <a class="button small" href=format!("?page={}", v.page - 1)>"Newer"</a> })}
                                        <span class="muted">{format!("Page {} of {pages}", v.page)}</span>
                                        {(v.page < pages).then(|| view! { <a class="button small" href=format!("?page={}", v.page + 1)>"Older"</a> })}
                                    </nav>
                                })}
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tab {
    Receive,
    Distribute,
    Adjust,
    Transfer,
    Discard,
    Minimum,
}

#[component]
fn MovementForms(
    v: ProductStockView,
    /// Which form shows; kept by the page so it survives a refresh.
    tab: RwSignal<Tab>,
    receive: ServerAction<Receive>,
    distribute: ServerAction<Distribute>,
    adjust: ServerAction<Adjust>,
    transfer: ServerAction<Transfer>,
    discard: ServerAction<Discard>,
    minimum: ServerAction<SetMinimum>,
) -> impl IntoView {
    let unit = v.product.unit;
    let pantry = v.pantry.id.0.clone();
    let product = v.product.id.0.clone();
    let ids = StoredValue::new((pantry, product));
    let hidden = move || {
        let (p, q) = ids.get_value();
        view! {
            <input type="hidden" name="pantry" value=p />
            <input type="hidden" name="product" value=q />
        }
    };
    let qty_hint = match unit {
        Unit::Each | Unit::Pack => None,
        Unit::Kg => Some("In kilograms; decimals allowed, e.g. 2.5"),
        Unit::Lb => Some("In pounds; quarters and ounces allowed, e.g. 1.25"),
        Unit::L => Some("In litres; decimals allowed, e.g. 0.75"),
    };
    let tabs: Vec<(Tab, &'static str)> = {
        let mut t = vec![
            (Tab::Receive, "Receive"),
            (Tab::Distribute, "Distribute"),
            (Tab::Adjust, "Adjust"),
            (Tab::Discard, "Discard"),
        ];
        if !v.transfer_to.is_empty() {
            t.push((Tab::Transfer, "Transfer"));
        }
        if v.can_manage {
            t.push((Tab::Minimum, "Minimum"));
        }
        t
    };
    let (re, de, ae, te, xe, me) = (
        last_error(receive.value()),
        last_error(distribute.value()),
        last_error(adjust.value()),
        last_error(transfer.value()),
        last_error(discard.value()),
        last_error(minimum.value()),
    );
    let lots = v.lots.clone();
    let transfer_to = v.transfer_to.clone();
    let perishable = v.product.perishable && v.product.shelf_life_days.is_none();
    let minimum_value = if v.minimum > 0 {
        unit.format(v.minimum)
            .split(' ')
            .next()
            .unwrap_or("")
            .to_string()
    } else {
        String::new()
    };
    view! {
        <section class="card">
            <h2>"Record a movement"</h2>
            <div class="tabs" role="group" aria-label="Movement">
                {tabs.into_iter().map(|(t, label)| view! {
                    <button type="button" class="tab" aria-pressed=move || (tab.get() == t).to_string()
                        on:click=move |_| tab.set(t)>{label}</button>
                }).collect_view()}
            </div>
            <div hidden=move || { tab.get() != Tab::Receive }>
                <ActionForm action=receive attr:class="row-form" attr:aria-label="Receive">
                    {hidden()}
                    <TextField form="receive" label="Quantity" name="quantity" error=re kind="text" hint=qty_hint.unwrap_or("How many came in") />
                    <TextField form="receive" label=if perishable { "Best before (required)" } else { "Best before" } name="best_before" error=re kind="date" />
                    <div class="field">
                        <label for="receive-source">"Source"</label>
                        <select id="receive-source" name="source">
                            <option value="donation">"Donation"</option>
                            <option value="purchase">"Purchase"</option>
                        </select>
                    </div>
                    <TextField form="receive" label="Donor or supplier" name="donor" error=re />
                    <TextField form="receive" label="Weight in grams" name="weight_g" error=re hint="Leave empty to work it out from the unit weight" />
                    <FormError error=re fields=&["quantity", "best_before", "donor", "weight_g"] />
                    <SubmitButton label="Receive" busy_label="Saving…" pending=receive.pending() />
                </ActionForm>
            </div>
            <div hidden=move || { tab.get() != Tab::Distribute }>
                <ActionForm action=distribute attr:class="row-form" attr:aria-label="Distribute">
                    {hidden()}
                    <TextField form="distribute" label="Quantity" name="quantity" error=de hint=qty_hint.unwrap_or("How many went out") />
                    <TextField form="distribute" label="Note" name="note" error=de />
                    <FormError error=de fields=&["quantity", "note"] />
                    <SubmitButton label="Distribute" busy_label="Saving…" pending=distribute.pending() />
                </ActionForm>
            </div>
            <div hidden=move || { tab.get() != Tab::Adjust }>
                <ActionForm action=adjust attr:class="row-form" attr:aria-label="Adjust">
                    {hidden()}
                    <div class="field">
                        <label for="adjust-direction">"Change"</label>
                        <select id="adjust-direction" name="direction">
                            <option value="remove">"Remove stock"</option>
                            <option value="add">"Add stock"</option>
                        </select>
                    </div>
                    <TextField form="adjust" label="Quantity" name="quantity" error=ae hint=qty_hint.unwrap_or("How many to add or remove") />
                    <TextField form="adjust" label="Reason" name="reason" error=ae hint="For example: stock count, found, data entry error" />
                    <TextField form="adjust" label="Best before (when adding)" name="best_before" error=ae kind="date" />
                    <FormError error=ae fields=&["quantity", "reason", "best_before", "direction"] />
                    <SubmitButton label="Adjust" busy_label="Saving…" pending=adjust.pending() />
                </ActionForm>
            </div>
            <div hidden=move || { tab.get() != Tab::Discard }>
                <ActionForm action=discard attr:class="row-form" attr:aria-label="Discard">
                    {hidden()}
                    <TextField form="discard" label="Quantity" name="quantity" error=xe hint=qty_hint.unwrap_or("How many to throw away") />
                    <div class="field">
                        <label for="discard-reason">"Reason"</label>
                        <select id="discard-reason" name="reason">
                            {DiscardReason::ALL.iter().map(|r| view! { <option value=r.as_str()>{r.label()}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="discard-lot">"From"</label>
                        <select id="discard-lot" name="lot">
                            <option value="">"First to expire"</option>
                            {lots.iter().map(|l| view! {
                                <option value=l.id.0.clone()>{format!("Lot {} ({})", l.best_before.clone().unwrap_or_else(|| "no date".into()), unit.format(l.quantity))}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <FormError error=xe fields=&["quantity", "lot"] />
                    <SubmitButton label="Discard" busy_label="Saving…" pending=discard.pending() class="button danger" />
                </ActionForm>
            </div>
            <div hidden=move || { tab.get() != Tab::Transfer }>
                <ActionForm action=transfer attr:class="row-form" attr:aria-label="Transfer">
                    {hidden()}
                    <div class="field">
                        <label for="transfer-to">"To pantry"</label>
                        <select id="transfer-to" name="to">
                            {transfer_to.iter().map(|(id, name)| view! { <option value=id.0.clone()>{name.clone()}</option> }).collect_view()}
                        </select>
                    </div>
                    <TextField form="transfer" label="Quantity" name="quantity" error=te hint=qty_hint.unwrap_or("How many to send") />
                    <FormError error=te fields=&["quantity"] />
                    <SubmitButton label="Transfer" busy_label="Saving…" pending=transfer.pending() />
                </ActionForm>
            </div>
            <div hidden=move || { tab.get() != Tab::Minimum }>
                <ActionForm action=minimum attr:class="row-form" attr:aria-label="Minimum">
                    {hidden()}
                    <TextField form="minimum" label="Minimum on hand" name="minimum" error=me
                        value=minimum_value
                        hint="Below this the product shows as low stock. Empty for none." />
                    <FormError error=me fields=&["minimum"] />
                    <SubmitButton label="Save minimum" busy_label="Saving…" pending=minimum.pending() />
                </ActionForm>
            </div>
        </section>
    }
}

/// `/pantries/:id/distribute`: the counter flow. Find a product (search or
/// tap), set how many, give it out. Two taps for the common case.
#[component]
pub fn QuickDistributePage() -> impl IntoView {
    let params = use_params_map();
    let pantry = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let search = RwSignal::new(String::new());
    let selected = RwSignal::new(None::<StockRow>);
    let quantity = RwSignal::new(1i64);
    let tick = RwSignal::new(0u64);
    let give = ServerAction::<Distribute>::new();
    let data = Resource::new(
        move || (pantry.get(), search.get(), tick.get(), give.version().get()),
        |(pantry, q, _, _)| {
            get_stock(
                PantryId(pantry),
                q,
                String::new(),
                "in_stock".into(),
                "name".into(),
                1,
            )
        },
    );
    let error = last_error(give.value());
    let done = RwSignal::new(None::<String>);
    let search_box = NodeRef::<leptos::html::Input>::new();
    // A scanned barcode that finds exactly one item picks it: scan, check
    // the count, give.
    let scanned = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(v)) = data.get() {
            if scanned.get_untracked() && v.rows.len() == 1 {
                scanned.set(false);
                let row = v.rows[0].clone();
                quantity.set(if row.unit.scale() == 1 {
                    1
                } else {
                    row.unit.scale()
                });
                selected.set(Some(row));
            }
        }
    });
    let refocus = RwSignal::new(false);
    Effect::new(move |_| {
        if let Some(Ok(r)) = give.value().get() {
            done.set(Some(format!(
                "Gave out {} of {}. {} left.",
                r.quantity_text, r.product_name, r.on_hand_text
            )));
            selected.set(None);
            quantity.set(1);
            search.set(String::new());
            refocus.set(true);
        }
    });
    // Back at the search box for the next person, once it is on screen again.
    Effect::new(move |_| {
        if refocus.get() {
            if let Some(input) = search_box.get() {
                let _ = input.focus();
                refocus.set(false);
            }
        }
    });
    let submit = move || {
        if let Some(row) = selected.get_untracked() {
            done.set(None);
            give.dispatch(Distribute {
                pantry: PantryId(pantry.get_untracked()),
                product: row.product_id.clone(),
                // The number in the product's unit (1.5 for 1500 g of rice).
                quantity: row.unit.amount(quantity.get_untracked()),
                note: String::new(),
            });
        }
    };
    view! {
        <Title text="Distribute" />
        <div class="page-head">
            <div>
                <h1>"Distribute"</h1>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        data.await.ok().map(|v| view! {
                            <p class="muted where"><a href=format!("/pantries/{}", v.pantry.id)>{v.pantry.name}</a>{format!(" · {}", v.pantry.campus_name)}</p>
                        })
                    })}
                </Transition>
            </div>
            <LiveUpdates pantry=pantry tick=tick />
        </div>
        <div aria-live="polite" class="toast-slot">
            {move || done.get().map(|m| view! { <p class="toast" role="status">{m}</p> })}
        </div>
        {move || match selected.get() {
            None => view! {
                <div class="field">
                    <label for="quick-search">"Find an item"</label>
                    <input id="quick-search" type="search" node_ref=search_box autocomplete="off"
                        placeholder="Name or barcode"
                        prop:value=move || search.get()
                        on:input=move |ev| { scanned.set(false); search.set(event_target_value(&ev)); } />
                </div>
                <div class="quick-scan">
                    <BarcodeScanner on_scan=move |g: crate::catalog::model::Gtin| {
                        scanned.set(true);
                        search.set(g.display().to_string());
                    } />
                </div>
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match data.await {
                            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                            Ok(v) if v.rows.is_empty() => view! {
                                <EmptyState title="Nothing in stock matches">
                                    <p>"Check the spelling, or receive the item first."</p>
                                </EmptyState>
                            }.into_any(),
                            Ok(v) => view! {
                                <ul class="pick-list">
                                    {v.rows.into_iter().map(|row| {
                                        let on_hand = row.on_hand_text();
                                        let name = row.name.clone();
                                        let pick = row.clone();
                                        view! {
                                            <li>
                                                <button type="button" class="pick" on:click=move |_| {
                                                    quantity.set(if pick.unit.scale() == 1 { 1 } else { pick.unit.scale() });
                                                    selected.set(Some(pick.clone()));
                                                }>
                                                    <span class="pick-name">{name}</span>
                                                    <span class="pick-qty">
                                                        {format!("{on_hand} on hand")}
                                                        {(row.expired > 0).then(|| view! { <span class="badge badge-expired">{format!("{} expired", row.unit.format(row.expired))}</span> })}
                                                    </span>
                                                </button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                        }
                    })}
                </Transition>
            }.into_any(),
            Some(row) => {
                let unit = row.unit;
                let step = unit.scale();
                let max = row.on_hand;
                view! {
                    <section class="card give">
                        <p class="eyebrow">{row.category.clone()}</p>
                        <h2>{row.name.clone()}</h2>
                        <p class="muted">{format!("{} on hand", row.on_hand_text())}</p>
                        <div class="stepper" role="group" aria-label="Quantity">
                            <button type="button" class="step" aria-label="One less"
                                disabled=move || { quantity.get() <= step }
                                on:click=move |_| quantity.update(|q| *q = (*q - step).max(step))>"−"</button>
                            <output class="step-value" aria-live="polite" data-testid="quantity">{move || unit.format(quantity.get())}</output>
                            <button type="button" class="step" aria-label="One more"
                                disabled=move || { quantity.get() + step > max }
                                on:click=move |_| quantity.update(|q| *q = (*q + step).min(max.max(step)))>"+"</button>
                        </div>
                        <FormError error=error fields=&[] />
                        <div class="give-actions">
                            <button type="button" class="button primary big" disabled=move || give.pending().get()
                                on:click=move |_| submit()>
                                {move || if give.pending().get() { "Saving…".to_string() } else { format!("Give out {}", unit.format(quantity.get())) }}
                            </button>
                            <button type="button" class="button" on:click=move |_| selected.set(None)>"Back"</button>
                        </div>
                    </section>
                }.into_any()
            }
        }}
    }
}

/// Units and weight by category, low stock and expiring lots, for a
/// pantry (`pantry:<id>`), campus or organization.
#[component]
pub fn StockOverviewCard(scope: String) -> impl IntoView {
    let data = Resource::new(move || scope.clone(), |scope| get_stock_overview(scope, 0));
    view! {
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let o = match data.await {
                    Ok(o) => o,
                    Err(e) => return view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                };
                let total_weight: i64 = o.categories.iter().map(|c| c.weight_g).sum();
                view! {
                    <section class="card overview">
                        <h2>"Stock"</h2>
                        {if o.categories.is_empty() {
                            view! { <p class="muted">"No stock yet."</p> }.into_any()
                        } else {
                            view! {
                                <table class="table">
                                    <thead><tr>
                                        <th scope="col">"Category"</th>
                                        <th scope="col" class="num">"Products"</th>
                                        <th scope="col" class="num">"Items"</th>
                                        <th scope="col" class="num">"Weight"</th>
                                    </tr></thead>
                                    <tbody>
                                        {o.categories.iter().map(|c| view! {
                                            <tr>
                                                <td>{c.category.clone()}</td>
                                                <td class="num">{c.products}</td>
                                                <td class="num">{c.units}</td>
                                                <td class="num">{if c.unweighed == c.products {
                                                    "—".to_string()
                                                } else if c.unweighed > 0 {
                                                    format!("{} + {} unweighed", format_weight(c.weight_g), c.unweighed)
                                                } else {
                                                    format_weight(c.weight_g)
                                                }}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                    <tfoot><tr><th scope="row" colspan="3">"Total weight"</th><td class="num">{format_weight(total_weight)}</td></tr></tfoot>
                                </table>
                            }.into_any()
                        }}
                        <div class="columns">
                            <div>
                                <h3>{format!("Low stock ({})", o.low_stock_total)}</h3>
                                {if o.low_stock.is_empty() {
                                    view! { <p class="muted">"Nothing below its minimum."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="list compact">
                                            {o.low_stock.iter().map(|r| view! {
                                                <li>
                                                    <a href=format!("/pantries/{}/products/{}", r.pantry_id, r.product_id)>{r.product_name.clone()}</a>
                                                    <span class="muted">{format!("{} · {} of {}", r.pantry_name, r.unit.format(r.on_hand), r.unit.format(r.minimum))}</span>
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </div>
                            <div>
                                <h3>{format!("Best before within {} days ({})", o.expiring_days, o.expiring_total)}</h3>
                                {if o.expiring.is_empty() {
                                    view! { <p class="muted">"Nothing expiring soon."</p> }.into_any()
                                } else {
                                    view! {
                                        <ul class="list compact">
                                            {o.expiring.iter().map(|l| view! {
                                                <li>
                                                    <a href=format!("/pantries/{}/products/{}", l.pantry_id, l.product_id)>{l.product_name.clone()}</a>
                                                    <span class="muted">{format!("{} · {} · {}", l.pantry_name, l.unit.format(l.quantity), l.best_before)}</span>
                                                </li>
                                            }).collect_view()}
                                        </ul>
                                    }.into_any()
                                }}
                            </div>
                        </div>
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

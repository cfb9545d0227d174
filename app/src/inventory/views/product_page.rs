//! `/pantries/:pantry/products/:product`: a product at a pantry, its
//! stock, lots and history, and the movement forms.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use crate::catalog::model::Unit;
use crate::ids::{PantryId, ProductId};
use crate::inventory::api::*;
use crate::inventory::model::*;
use crate::ui::*;

use super::live::LiveUpdates;
use super::pantry_trail;

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
            get_product_stock(
                PantryId::from_stored(pantry),
                ProductId::from_stored(product),
                page,
            )
        },
    );
    // The forms read the same data, but not on every live change: a change
    // elsewhere must not wipe what someone is typing.
    // Refreshed (and so cleared) only when a movement succeeds: a refusal
    // keeps what was typed, next to its error.
    let saved = RwSignal::new(0u64);
    let form_data = Resource::new(
        move || (pantry.get(), product(), saved.get()),
        |(pantry, product, _)| {
            get_product_stock(
                PantryId::from_stored(pantry),
                ProductId::from_stored(product),
                1,
            )
        },
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
                let pid = v.pantry.id.to_string();
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
                        <div class="head-actions">
                            <a class="button" href=format!("/pantries/{pid}/forecasts/{}", v.product.id)>"Forecast"</a>
                            <LiveUpdates pantry=pantry tick=tick />
                        </div>
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
                let org = v.pantry.organization_id.to_string();
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
                                        // The label already says the discard reason, the
                                        // pantry it moved to and why it came back.
                                        let said_by_label = matches!(m.note.as_deref(), Some(VISIT_VOIDED_NOTE | VISIT_CORRECTED_NOTE));
                                        let detail = [
                                            m.reason.clone().filter(|_| m.kind != MovementKind::Discarded),
                                            m.weight_g.map(format_weight),
                                            m.note.clone().filter(|_| !said_by_label),
                                        ].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                                        let sign = if m.quantity > 0 { "+" } else { "" };
                                        view! {
                                            <li>
                                                <span class=format!("kind kind-{}", m.kind.as_str()) data-testid="what-happened">{m.what_happened()}</span>
                                                <span class="qty">{format!("{sign}{}", unit.format(m.quantity))}</span>
                                                <span class="muted">{format!("{} · {}", m.occurred_at, m.actor)}</span>
                                                {m.donor.clone().map(|d| view! { <span class="detail">"from " <a href=crate::usage::model::donor_href(&org, &d)>{d.clone()}</a></span> })}
                                                {m.visit_id.clone().map(|v| view! { <a class="detail" href=format!("/visits/{v}")>"The visit"</a> })}
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
    let pantry = v.pantry.id.to_string();
    let product = v.product.id.to_string();
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
                                <option value=l.id.to_string()>{format!("Lot {} ({})", l.best_before.clone().unwrap_or_else(|| "no date".into()), unit.format(l.quantity))}</option>
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
                            {transfer_to.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
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

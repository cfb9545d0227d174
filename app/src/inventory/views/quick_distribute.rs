//! `/pantries/:id/distribute`: the quick distribute flow for the counter.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::ids::PantryId;
use crate::inventory::api::*;
use crate::inventory::model::*;
use crate::ui::*;

use super::live::LiveUpdates;

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
                PantryId::from_stored(pantry),
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
                pantry: PantryId::from_stored(pantry.get_untracked()),
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

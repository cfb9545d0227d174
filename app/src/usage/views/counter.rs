//! The visit counter: phone first, a cart of what a household takes.

use super::*;

/// A line in the counter's basket.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CartLine {
    product_id: ProductId,
    name: String,
    unit: Unit,
    on_hand: i64,
    quantity: i64,
}

pub(super) fn add_to_cart(cart: RwSignal<Vec<CartLine>>, row: &crate::inventory::model::StockRow) {
    let step = row.unit.scale();
    cart.update(
        |c| match c.iter_mut().find(|l| l.product_id == row.product_id) {
            Some(l) => l.quantity = (l.quantity + step).min(row.on_hand.max(step)),
            None => c.push(CartLine {
                product_id: row.product_id.clone(),
                name: row.name.clone(),
                unit: row.unit,
                on_hand: row.on_hand,
                quantity: step.min(row.on_hand.max(step)),
            }),
        },
    );
}

/// The counter: find items (search, category tiles, or a USB barcode
/// scanner typing into the search box and pressing Enter), adjust the
/// basket, optionally note the household, save.
#[component]
pub fn VisitCounterPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let search = RwSignal::new(String::new());
    let category = RwSignal::new(String::new());
    let cart = RwSignal::new(Vec::<CartLine>::new());
    let (adults, children, seniors, client_ref) = (
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
        RwSignal::new(String::new()),
    );
    let tick = RwSignal::new(0u64);
    let save = ServerAction::<RecordVisit>::new();
    let data = Resource::new(
        move || {
            (
                pantry.get(),
                search.get(),
                category.get(),
                tick.get(),
                save.version().get(),
            )
        },
        // Each page says which search it answers, so an Enter pressed
        // before it arrived acts on it, not on the page still showing.
        |(pantry, q, category, _, _)| async move {
            get_stock(
                PantryId::from_stored(pantry),
                q.clone(),
                category,
                "in_stock".into(),
                "name".into(),
                1,
            )
            .await
            .map(|page| (q, page))
        },
    );
    let check = Action::new(move |(pantry, client): &(String, String)| {
        let (pantry, client) = (pantry.clone(), client.clone());
        async move {
            match PantryId::try_from(pantry) {
                Ok(p) => visit_rule_warning(p, client).await.ok().flatten(),
                Err(_) => None,
            }
        }
    });
    let error = last_error(save.value());
    let done = RwSignal::new(None::<VisitSaved>);
    let search_box = NodeRef::<leptos::html::Input>::new();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            done.set(Some(saved));
            cart.set(Vec::new());
            for s in [adults, children, seniors, client_ref] {
                s.set(String::new());
            }
            search.set(String::new());
            category.set(String::new());
            if let Some(input) = search_box.get_untracked() {
                let _ = input.focus();
            }
        }
    });
    let submit = move || {
        let lines: Vec<LineInput> = cart
            .get_untracked()
            .iter()
            .map(|l| LineInput {
                product: l.product_id.clone(),
                quantity: l.unit.amount(l.quantity),
            })
            .collect();
        let Ok(pantry) = PantryId::try_from(pantry.get_untracked()) else {
            return;
        };
        done.set(None);
        save.dispatch(RecordVisit {
            visit: VisitInput {
                pantry,
                lines,
                adults: adults.get_untracked(),
                children: children.get_untracked(),
                seniors: seniors.get_untracked(),
                client_ref: client_ref.get_untracked(),
                note: String::new(),
            },
        });
    };
    // A scanner types the code and presses Enter at once: one match goes
    // straight into the basket, as soon as the answer to that search is in
    // (the Enter often comes before it).
    let entered = RwSignal::new(None::<String>);
    let on_enter = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() != "Enter" {
            return;
        }
        ev.prevent_default();
        entered.set(Some(search.get_untracked()));
    };
    Effect::new(move |_| {
        let Some(q) = entered.get() else { return };
        let Some(Ok((answered, page))) = data.get() else {
            return;
        };
        if answered != q {
            // The search has moved on from what Enter was pressed for.
            if answered == search.get_untracked() {
                entered.set(None);
            }
            return;
        }
        entered.set(None);
        if page.rows.len() == 1 {
            add_to_cart(cart, &page.rows[0]);
            search.set(String::new());
        }
    });
    let items = move || cart.with(|c| c.len());
    view! {
        <Title text="Visit" />
        <div class="page-head">
            <div>
                <h1>"Visit"</h1>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        data.await.ok().map(|(_, v)| view! {
                            <p class="muted where">
                                <a href=format!("/pantries/{}", v.pantry.id)>{v.pantry.name.clone()}</a>
                                {format!(" · {} · ", v.pantry.campus_name)}
                                <a href=format!("/pantries/{}/visits", v.pantry.id)>"Recent visits"</a>
                            </p>
                        })
                    })}
                </Transition>
            </div>
            <LiveUpdates pantry=pantry tick=tick />
        </div>
        <div aria-live="polite" class="toast-slot">
            {move || done.get().map(|s| view! {
                <div class="toast" role="status">
                    <p>{format!("Visit saved — {}.", s.summary)}" "<a href=format!("/visits/{}", s.id)>"View"</a></p>
                    {s.rule_warning.map(|w| view! { <p class="warning">{w}</p> })}
                </div>
            })}
        </div>
        <div class="counter">
            <section class="counter-pick">
                <div class="field">
                    <label for="visit-search">"Find an item"</label>
                    <input id="visit-search" type="search" node_ref=search_box autocomplete="off"
                        placeholder="Name or barcode"
                        prop:value=move || search.get()
                        on:input=move |ev| search.set(event_target_value(&ev))
                        on:keydown=on_enter />
                </div>
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match data.await {
                            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                            Ok((_, v)) => {
                                let tiles = v.categories.clone();
                                view! {
                                    {(!tiles.is_empty()).then(|| view! {
                                        <div class="tiles" role="group" aria-label="Categories">
                                            <button type="button" class="tile" aria-pressed=move || (category.get().is_empty()).to_string()
                                                on:click=move |_| category.set(String::new())>"All"</button>
                                            {tiles.into_iter().map(|c| {
                                                let (c1, c2) = (c.clone(), c.clone());
                                                view! {
                                                    <button type="button" class="tile"
                                                        aria-pressed=move || (category.get() == c1).to_string()
                                                        on:click=move |_| category.set(if category.get_untracked() == c2 { String::new() } else { c2.clone() })>
                                                        {c}
                                                    </button>
                                                }
                                            }).collect_view()}
                                        </div>
                                    })}
                                    {if v.rows.is_empty() {
                                        view! {
                                            <EmptyState title="Nothing in stock matches">
                                                <p>"Check the spelling, or choose another category."</p>
                                            </EmptyState>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <ul class="pick-list">
                                                {v.rows.into_iter().map(|row| {
                                                    let name = row.name.clone();
                                                    let on_hand = row.on_hand_text();
                                                    let id = row.product_id.clone();
                                                    let in_cart = move || cart.with(|c| c.iter().find(|l| l.product_id == id).map(|l| l.unit.format(l.quantity)));
                                                    view! {
                                                        <li>
                                                            <button type="button" class="pick" on:click=move |_| add_to_cart(cart, &row)>
                                                                <span class="pick-name">{name}</span>
                                                                <span class="pick-qty">
                                                                    {format!("{on_hand} on hand")}
                                                                    {move || in_cart().map(|q| view! { <span class="badge badge-ok">{format!("{q} in basket")}</span> })}
                                                                </span>
                                                            </button>
                                                        </li>
                                                    }
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                }.into_any()
                            }
                        }
                    })}
                </Transition>
            </section>
            <section class="card counter-basket" aria-label="Basket">
                <h2>{move || match items() { 0 => "Basket".to_string(), 1 => "Basket · 1 item".to_string(), n => format!("Basket · {n} items") }}</h2>
                {move || if items() == 0 {
                    view! { <p class="muted">"Tap items to add them."</p> }.into_any()
                } else {
                    view! {
                        <ul class="basket">
                            {move || cart.get().into_iter().map(|l| {
                                let step = l.unit.scale();
                                let (id1, id2) = (l.product_id.clone(), l.product_id.clone());
                                let more_allowed = l.quantity + step <= l.on_hand;
                                view! {
                                    <li class="basket-line">
                                        <span class="basket-name">{l.name.clone()}</span>
                                        <div class="stepper small" role="group" aria-label=format!("Quantity of {}", l.name)>
                                            <button type="button" class="step" aria-label={if l.quantity <= step { format!("Remove {}", l.name) } else { format!("One less {}", l.name) }}
                                                on:click=move |_| cart.update(|c| {
                                                    if let Some(i) = c.iter().position(|x| x.product_id == id1) {
                                                        if c[i].quantity <= step { c.remove(i); } else { c[i].quantity -= step; }
                                                    }
                                                })>{if l.quantity <= step { "×" } else { "−" }}</button>
                                            <output class="step-value">{l.unit.format(l.quantity)}</output>
                                            <button type="button" class="step" aria-label=format!("One more {}", l.name) disabled={!more_allowed}
                                                on:click=move |_| cart.update(|c| {
                                                    if let Some(x) = c.iter_mut().find(|x| x.product_id == id2) {
                                                        x.quantity = (x.quantity + step).min(x.on_hand);
                                                    }
                                                })>"+"</button>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
                <details class="household">
                    <summary>"Household (optional)"</summary>
                    <div class="household-fields">
                        {[("adults", "Adults", adults), ("children", "Children", children), ("seniors", "Seniors", seniors)].into_iter().map(|(name, label, sig)| view! {
                            <div class="field small">
                                <label for=format!("visit-{name}")>{label}</label>
                                <input id=format!("visit-{name}") name=name type="number" inputmode="numeric" min="0" max="99"
                                    prop:value=move || sig.get() on:input=move |ev| sig.set(event_target_value(&ev)) />
                            </div>
                        }).collect_view()}
                    </div>
                    <div class="field">
                        <label for="visit-client">"Client card or code"</label>
                        <p class="hint">"No names. Used to count households once and for the visit rule."</p>
                        <input id="visit-client" name="client_ref" autocomplete="off"
                            prop:value=move || client_ref.get()
                            on:input=move |ev| client_ref.set(event_target_value(&ev))
                            on:change=move |ev| { check.dispatch((pantry.get_untracked(), event_target_value(&ev))); } />
                    </div>
                </details>
                {move || check.value().get().flatten().filter(|_| !client_ref.get().trim().is_empty()).map(|w| view! {
                    <p class="warning" role="status">{w}" You can still save the visit."</p>
                })}
            </section>
            // Kept in reach of the thumb on a phone, however long the list.
            <div class="counter-save">
                <FormError error=error fields=&[] />
                <button type="button" class="button primary big" disabled=move || save.pending().get() || items() == 0
                    on:click=move |_| submit()>
                    {move || match (save.pending().get(), items()) {
                        (true, _) => "Saving…".to_string(),
                        (false, 0) => "Save visit".to_string(),
                        (false, 1) => "Save visit · 1 item".to_string(),
                        (false, n) => format!("Save visit · {n} items"),
                    }}
                </button>
            </div>
        </div>
    }
}

//! Usage pages: the visit counter (phone first), a visit with its
//! corrections and void, a pantry's visits and its visit rule, and the
//! usage report with its chart, CSV and print view.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use crate::catalog::model::Unit;
use crate::ids::{PantryId, ProductId, VisitId};
use crate::inventory::api::get_stock;
use crate::inventory::model::format_weight;
use crate::inventory::views::{encode, LiveUpdates};
use crate::ui::*;

/// A line in the counter's basket.
#[derive(Debug, Clone, PartialEq)]
struct CartLine {
    product_id: ProductId,
    name: String,
    unit: Unit,
    on_hand: i64,
    quantity: i64,
}

fn add_to_cart(cart: RwSignal<Vec<CartLine>>, row: &crate::inventory::model::StockRow) {
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
                PantryId(pantry),
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

/// A pantry's visits, newest first, and its visit rule.
#[component]
pub fn VisitsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let pantry = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let page = Signal::derive(move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
    });
    let rule = ServerAction::<SetVisitRule>::new();
    let data = Resource::new(
        move || (pantry.get(), page.get(), rule.version().get()),
        |(pantry, page, _)| async move { get_visits(PantryId::try_from(pantry)?, page).await },
    );
    let rule_error = last_error(rule.value());
    view! {
        <Title text="Visits" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pantry_id = v.pantry.id.to_string();
                view! {
                    <Breadcrumbs trail=vec![
                        (v.pantry.organization_name.clone(), Some(format!("/organizations/{}", v.pantry.organization_id))),
                        (v.pantry.campus_name.clone(), Some(format!("/campuses/{}", v.pantry.campus_id))),
                        (v.pantry.name.clone(), Some(format!("/pantries/{}", v.pantry.id))),
                        ("Visits".to_string(), None),
                    ] />
                    <div class="page-head">
                        <h1>"Visits"</h1>
                        <a class="button primary" href=format!("/pantries/{pantry_id}/visit")>"New visit"</a>
                    </div>
                    {if v.rows.is_empty() {
                        view! {
                            <EmptyState title="No visits yet">
                                <p>"Visits recorded at the counter appear here."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <table class="table visits">
                                <thead><tr>
                                    <th scope="col">"When"</th>
                                    <th scope="col">"Household"</th>
                                    <th scope="col" class="num">"Lines"</th>
                                    <th scope="col">"Status"</th>
                                </tr></thead>
                                <tbody>
                                    {v.rows.iter().map(|r| view! {
                                        <tr>
                                            <td><a href=format!("/visits/{}", r.id)>{r.occurred_at.clone()}</a></td>
                                            <td>{match r.household.describe() { d if d.is_empty() => "—".to_string(), d => d }}</td>
                                            <td class="num">{r.lines}</td>
                                            <td>
                                                {match r.status {
                                                    VisitStatus::Voided => view! { <span class="badge badge-expired">"Voided"</span> }.into_any(),
                                                    VisitStatus::Recorded if r.corrected => view! { <span class="badge">"Corrected"</span> }.into_any(),
                                                    VisitStatus::Recorded => view! { <span class="muted">"Recorded"</span> }.into_any(),
                                                }}
                                                {r.rule_warning.then(|| view! { <span class="badge badge-low">"Rule warning"</span> })}
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <nav class="pager" aria-label="Pages">
                                {(v.page > 1).then(|| view! { <a class="button" href=format!("?page={}", v.page - 1)>"Newer"</a> })}
                                {v.has_more.then(|| view! { <a class="button" href=format!("?page={}", v.page + 1)>"Older"</a> })}
                            </nav>
                        }.into_any()
                    }}
                    <section class="card">
                        <h2>"Visit rule"</h2>
                        <p class="muted">{match v.rule_days {
                            Some(d) => format!("Volunteers are warned when a client returns within {d} days. Visits are never blocked."),
                            None => "No rule: clients can come as often as they need.".to_string(),
                        }}</p>
                        <ActionForm action=rule attr:class="row-form">
                            <input type="hidden" name="pantry" value=pantry_id.clone() />
                            <TextField form="visit-rule" label="Warn when a client returns within (days)" name="days" kind="number"
                                value=v.rule_days.map(|d| d.to_string()).unwrap_or_default() error=rule_error
                                hint="Leave blank for no rule. Managers can change this." />
                            <SubmitButton label="Save rule" busy_label="Saving…" pending=rule.pending() class="button" />
                        </ActionForm>
                        <FormError error=rule_error fields=&["days"] />
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

/// One visit: its lines, every movement it posted, and its correction
/// and void forms.
#[component]
pub fn VisitPage() -> impl IntoView {
    let params = use_params_map();
    let id = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let correct = ServerAction::<CorrectVisit>::new();
    let void = ServerAction::<VoidVisit>::new();
    let data = Resource::new(
        move || (id.get(), correct.version().get(), void.version().get()),
        |(id, _, _)| async move { get_visit(VisitId::try_from(id)?).await },
    );
    let correct_error = last_error(correct.value());
    let void_error = last_error(void.value());
    view! {
        <Title text="Visit" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let editable = v.status == VisitStatus::Recorded;
                let edits = RwSignal::new(v.lines.iter().map(|l| (l.product_id.clone(), l.quantity)).collect::<Vec<_>>());
                let lines = v.lines.clone();
                let (visit_id, version) = (v.id.clone(), v.version.to_string());
                let (visit_id_2, version_2) = (v.id.to_string(), v.version.to_string());
                let units: Vec<(ProductId, Unit)> = v.lines.iter().map(|l| (l.product_id.clone(), l.unit)).collect();
                let submit_correction = move |_| {
                    let lines: Vec<LineInput> = edits
                        .get_untracked()
                        .iter()
                        .filter(|(_, q)| *q > 0)
                        .map(|(p, q)| LineInput {
                            product: p.clone(),
                            quantity: units.iter().find(|(u, _)| u == p).map(|(_, u)| u.amount(*q)).unwrap_or_default(),
                        })
                        .collect();
                    correct.dispatch(CorrectVisit { id: visit_id.clone(), version: version.clone(), lines });
                };
                view! {
                    <Breadcrumbs trail=vec![
                        (v.pantry.name.clone(), Some(format!("/pantries/{}", v.pantry.id))),
                        ("Visits".to_string(), Some(format!("/pantries/{}/visits", v.pantry.id))),
                        (v.occurred_at.clone(), None),
                    ] />
                    <div class="page-head">
                        <h1>{format!("Visit · {}", v.occurred_at)}</h1>
                        {(v.status == VisitStatus::Voided).then(|| view! { <span class="badge badge-expired">"Voided"</span> })}
                    </div>
                    {v.void_reason.clone().map(|r| view! { <p class="warning">{format!("Voided {}: {r}", v.voided_at.clone().unwrap_or_default())}</p> })}
                    {v.rule_warning.clone().map(|w| view! { <p class="warning">{format!("When saved: {w}")}</p> })}
                    <section class="card">
                        <dl class="facts">
                            <div><dt>"Household"</dt><dd>{match v.household.describe() { d if d.is_empty() => "Not recorded".to_string(), d => d }}</dd></div>
                            <div><dt>"Client card or code"</dt><dd>{v.client_ref.clone().unwrap_or_else(|| "—".into())}</dd></div>
                            <div><dt>"Recorded by"</dt><dd>{v.recorded_by.clone()}</dd></div>
                            {v.corrected_at.clone().map(|c| view! { <div><dt>"Last corrected"</dt><dd>{c}</dd></div> })}
                        </dl>
                    </section>
                    <section class="card">
                        <h2>{if editable { "Items (change a quantity to correct the visit)" } else { "Items" }}</h2>
                        {if lines.is_empty() {
                            view! { <p class="muted">"No items: everything went back on the shelf."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="basket">
                                    {lines.into_iter().map(|l| {
                                        let step = l.unit.scale();
                                        let (p1, p2, p3) = (l.product_id.clone(), l.product_id.clone(), l.product_id.clone());
                                        let current = move || edits.with(|e| e.iter().find(|(p, _)| *p == p3).map(|x| x.1).unwrap_or(0));
                                        let unit = l.unit;
                                        view! {
                                            <li class="basket-line">
                                                <span class="basket-name">{l.product_name.clone()}<span class="muted basket-category">{l.category.clone()}</span></span>
                                                {if editable {
                                                    view! {
                                                        <div class="stepper small" role="group" aria-label=format!("Quantity of {}", l.product_name)>
                                                            <button type="button" class="step" aria-label=format!("One less {}", l.product_name)
                                                                on:click=move |_| edits.update(|e| if let Some(x) = e.iter_mut().find(|x| x.0 == p1) { x.1 = (x.1 - step).max(0) })>"−"</button>
                                                            <output class="step-value">{move || unit.format(current())}</output>
                                                            <button type="button" class="step" aria-label=format!("One more {}", l.product_name)
                                                                on:click=move |_| edits.update(|e| if let Some(x) = e.iter_mut().find(|x| x.0 == p2) { x.1 += step })>"+"</button>
                                                        </div>
                                                    }.into_any()
                                                } else {
                                                    view! { <span class="num">{l.quantity_text()}</span> }.into_any()
                                                }}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                        {editable.then(|| view! {
                            <FormError error=correct_error fields=&[] />
                            <button type="button" class="button primary" disabled=move || correct.pending().get() on:click=submit_correction>
                                {move || if correct.pending().get() { "Saving…" } else { "Save correction" }}
                            </button>
                        })}
                    </section>
                    <section class="card">
                        <h2>"History"</h2>
                        <ul class="list compact">
                            {v.movements.iter().map(|m| view! {
                                <li>
                                    <span class="primary-text">{format!("{} {} {}", if m.quantity < 0 { "Out:" } else { "Back:" }, m.quantity_text, m.product_name)}</span>
                                    <span class="muted">{format!("{} · {}{}", m.occurred_at, m.actor_name, m.note.as_ref().map(|n| format!(" · {n}")).unwrap_or_default())}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                    {editable.then(|| view! {
                        <section class="card danger-zone">
                            <h2>"Void this visit"</h2>
                            <p class="muted">"Everything it took goes back on the shelf. The visit and its history stay."</p>
                            <ActionForm action=void attr:class="row-form">
                                <input type="hidden" name="id" value=visit_id_2.clone() />
                                <input type="hidden" name="version" value=version_2.clone() />
                                <TextField form="void-visit" label="Why" name="reason" error=void_error hint="For example: entered twice." />
                                <SubmitButton label="Void visit" busy_label="Voiding…" pending=void.pending() class="button danger" />
                            </ActionForm>
                            <FormError error=void_error fields=&["reason"] />
                        </section>
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

/// Today as an ISO date (UTC, like the reports): the server's clock when
/// rendering, the browser's after hydration.
fn today_iso() -> String {
    #[cfg(feature = "ssr")]
    {
        super::report::iso(time::OffsetDateTime::now_utc().date())
    }
    #[cfg(all(not(feature = "ssr"), feature = "hydrate"))]
    {
        let iso: String = web_sys::js_sys::Date::new_0().to_iso_string().into();
        iso.chars().take(10).collect()
    }
    #[cfg(all(not(feature = "ssr"), not(feature = "hydrate")))]
    {
        String::new()
    }
}

/// A bar chart of one figure per period, as SVG that scales to the page.
/// At most six period labels, so they stay readable on a phone.
#[component]
fn BarChart(
    title: &'static str,
    bars: Vec<(String, i64)>,
    format: fn(i64) -> String,
) -> impl IntoView {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let n = bars.len().max(1);
    let (w, h, top, bottom) = (600.0, 200.0, 28.0, 34.0);
    let bw = w / n as f64;
    let label_every = n.div_ceil(5).max(1);
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 {w} {}", h + bottom) role="img" aria-label=format!("{title}, per period; the most is {}", format(max))>
                <line x1="0" y1=h x2=w y2=h class="axis" />
                <text x="0" y="20" class="tick">{format!("most: {}", format(max))}</text>
                {bars.iter().enumerate().map(|(i, (label, v))| {
                    let bh = (*v as f64 / max as f64) * (h - top);
                    let x = i as f64 * bw;
                    let anchor = if i == 0 { "start" } else if i + 1 == n { "end" } else { "middle" };
                    let tx = if i == 0 { x } else if i + 1 == n { x + bw } else { x + bw / 2.0 };
                    let short: String = label.split(' ').skip(if label.starts_with("Week") { 2 } else { 1 }).take(2).collect::<Vec<_>>().join(" ");
                    view! {
                        <g>
                            <rect x={x + bw * 0.1} y={h - bh} width={bw * 0.8} height=bh class="bar">
                                <title>{format!("{label}: {}", format(*v))}</title>
                            </rect>
                            {(i + 1 == n || (i % label_every == 0 && i + label_every / 2 + 1 < n)).then(|| view! {
                                <text x=tx y={h + 26.0} text-anchor=anchor class="tick">{short}</text>
                            })}
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

/// Opens the browser's print dialog (a handler, not an inline `onclick`,
/// which the pages' Content-Security-Policy refuses).
fn print_page() {
    let _ = window().print();
}

fn kg_text(g: i64) -> String {
    format_weight(g)
}

fn count_text(n: i64) -> String {
    n.to_string()
}

/// The usage report for a pantry, campus or organization over a period.
#[component]
pub fn ReportPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let scope = Signal::derive(move || get("scope"));
    let to = Signal::derive(move || match get("to") {
        t if t.is_empty() => today_iso(),
        t => t,
    });
    let from = Signal::derive(move || match get("from") {
        f if f.is_empty() => {
            let t = to.get();
            // From the first of the month.
            t.get(..8).map(|ym| format!("{ym}01")).unwrap_or_default()
        }
        f => f,
    });
    let group = Signal::derive(move || match get("group") {
        g if g.is_empty() => "day".to_string(),
        g => g,
    });
    let data = Resource::new(
        move || (scope.get(), from.get(), to.get(), group.get()),
        |(scope, from, to, group)| get_usage_report(scope, from, to, group),
    );
    view! {
        <Title text="Usage report" />
        <div class="page-head no-print">
            <h1>"Usage report"</h1>
        </div>
        <form method="get" action="/reports" class="row-form report-form no-print">
            <input type="hidden" name="scope" value=move || scope.get() />
            <div class="field small"><label for="report-from">"From"</label><input id="report-from" type="date" name="from" value=move || from.get() /></div>
            <div class="field small"><label for="report-to">"To"</label><input id="report-to" type="date" name="to" value=move || to.get() /></div>
            <div class="field small">
                <label for="report-group">"Group by"</label>
                <select id="report-group" name="group">
                    {["day", "week", "month"].into_iter().map(|g| view! { <option value=g selected=move || group.get() == g>{g}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button primary">"Show"</button>
        </form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let r = match data.await {
                    Ok(r) => r,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let csv = format!("/reports/usage.csv?scope={}&from={}&to={}&group={}", encode(&r.scope), r.from, r.to, r.group.as_str());
                let weights: Vec<(String, i64)> = r.periods.iter().map(|p| (p.label.clone(), p.weight_g)).collect();
                let visits: Vec<(String, i64)> = r.periods.iter().map(|p| (p.label.clone(), p.visits)).collect();
                view! {
                    <section class="report">
                        <header class="report-head">
                            <h2>{r.scope_label.clone()}</h2>
                            <p class="muted">{format!("{} to {}, by {} (UTC days)", r.from, r.to, r.group.as_str())}</p>
                            <p class="actions no-print">
                                <a class="button" href=csv download="">"Download CSV"</a>
                                <button type="button" class="button" on:click=move |_| print_page()>"Print"</button>
                            </p>
                        </header>
                        <dl class="kpis" data-testid="report-totals">
                            <div><dt>"Visits"</dt><dd data-testid="total-visits">{r.totals.visits}</dd></div>
                            <div><dt>"Households"</dt><dd>{r.totals.households}</dd></div>
                            <div><dt>"Individuals"</dt><dd>{r.totals.individuals}</dd></div>
                            <div><dt>"Items out"</dt><dd data-testid="total-items">{r.totals.items}</dd></div>
                            <div><dt>"Weight out"</dt><dd>{format_weight(r.totals.weight_g)}</dd></div>
                        </dl>
                        {(r.visits_without_size > 0).then(|| view! {
                            <p class="muted small">{format!("{} visit(s) without a household size are not counted in individuals.", r.visits_without_size)}</p>
                        })}
                        <div class="charts">
                            <BarChart title="Visits" bars=visits format=count_text />
                            <BarChart title="Weight handed out" bars=weights format=kg_text />
                        </div>
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Figures by period">
                            <table class="table">
                                <caption>"By period"</caption>
                                <thead><tr>
                                    <th scope="col">"Period"</th>
                                    <th scope="col" class="num">"Visits"</th>
                                    <th scope="col" class="num">"Households"</th>
                                    <th scope="col" class="num">"Individuals"</th>
                                    <th scope="col" class="num">"Items"</th>
                                    <th scope="col" class="num">"Weight"</th>
                                </tr></thead>
                                <tbody>
                                    {r.periods.iter().filter(|p| p.visits > 0 || p.items > 0 || p.weight_g != 0).map(|p| view! {
                                        <tr>
                                            <th scope="row">{p.label.clone()}</th>
                                            <td class="num">{p.visits}</td>
                                            <td class="num">{p.households}</td>
                                            <td class="num">{p.individuals}</td>
                                            <td class="num">{p.items}</td>
                                            <td class="num">{format_weight(p.weight_g)}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                                <tfoot><tr>
                                    <th scope="row">"Whole period"</th>
                                    <td class="num">{r.totals.visits}</td>
                                    <td class="num">{r.totals.households}</td>
                                    <td class="num">{r.totals.individuals}</td>
                                    <td class="num">{r.totals.items}</td>
                                    <td class="num">{format_weight(r.totals.weight_g)}</td>
                                </tr></tfoot>
                            </table>
                        </div>
                        <p class="muted small">"Periods with nothing handed out are left out of the table (the chart and the CSV have every period). Households are counted once per client card within each period and within the whole period, so the periods need not add up to the whole."</p>
                        <div class="columns">
                            <table class="table">
                                <caption>"By category"</caption>
                                <thead><tr><th scope="col">"Category"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {r.by_category.iter().map(|c| view! {
                                        <tr><th scope="row">{c.category.clone()}</th><td class="num">{c.items}</td><td class="num">{format_weight(c.weight_g)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <table class="table">
                                <caption>"Top products"</caption>
                                <thead><tr><th scope="col">"Product"</th><th scope="col" class="num">"Quantity"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {r.top_products.iter().map(|p| view! {
                                        <tr><th scope="row">{p.name.clone()}</th><td class="num">{p.quantity_text.clone()}</td><td class="num">{format_weight(p.weight_g)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <div class="columns">
                            <table class="table">
                                <caption>"Donations in"</caption>
                                <thead><tr><th scope="col">"Donor"</th><th scope="col" class="num">"Donations"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {if r.donations.is_empty() {
                                        view! { <tr><td colspan="4" class="muted">"No donations in this period."</td></tr> }.into_any()
                                    } else {
                                        r.donations.iter().map(|d| view! {
                                            <tr><th scope="row">{d.donor.clone()}</th><td class="num">{d.donations}</td><td class="num">{d.items}</td><td class="num">{format_weight(d.weight_g)}</td></tr>
                                        }).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                            <table class="table">
                                <caption>"Waste"</caption>
                                <thead><tr><th scope="col">"Reason"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {if r.waste.is_empty() {
                                        view! { <tr><td colspan="3" class="muted">"Nothing discarded in this period."</td></tr> }.into_any()
                                    } else {
                                        r.waste.iter().map(|w| view! {
                                            <tr><th scope="row">{w.reason.clone()}</th><td class="num">{w.items}</td><td class="num">{format_weight(w.weight_g)}</td></tr>
                                        }).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

/// Where an import is: sending the file, then the server reading it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum ImportPhase {
    Idle,
    Uploading(f64),
    Importing(ImportStatus),
    Finished(ImportStatus),
    Failed(String),
}

/// Import usage or sales history from a CSV file, with a progress bar.
#[component]
pub fn ImportHistoryPage() -> impl IntoView {
    let params = use_params_map();
    let organization = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let file_input = NodeRef::<leptos::html::Input>::new();
    let pantry = RwSignal::new(String::new());
    let skip = RwSignal::new(false);
    let phase = RwSignal::new(ImportPhase::Idle);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::closure::Closure;
            use wasm_bindgen::JsCast;
            let Some(file) = file_input
                .get_untracked()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                phase.set(ImportPhase::Failed("Choose a CSV file first.".into()));
                return;
            };
            let url = format!(
                "/organizations/{}/usage-import?pantry={}&skip_bad={}&name={}",
                organization.get_untracked(),
                encode(&pantry.get_untracked()),
                if skip.get_untracked() { "1" } else { "0" },
                encode(&file.name())
            );
            let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
                return;
            };
            if xhr.open("POST", &url).is_err() {
                return;
            }
            let _ = xhr.set_request_header("content-type", "text/csv");
            phase.set(ImportPhase::Uploading(0.0));
            let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                move |e: web_sys::ProgressEvent| {
                    if e.length_computable() && e.total() > 0.0 {
                        phase.set(ImportPhase::Uploading(e.loaded() / e.total()));
                    }
                },
            );
            if let Ok(upload) = xhr.upload() {
                upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            }
            on_progress.forget();
            let done_xhr = xhr.clone();
            let on_load = Closure::<dyn FnMut()>::new(move || {
                let text = done_xhr.response_text().ok().flatten().unwrap_or_default();
                let status = done_xhr.status().unwrap_or(0);
                if status != 202 {
                    let message = serde_json::from_str::<crate::error::AppError>(&text)
                        .map(|e| e.to_string())
                        .unwrap_or_else(|_| format!("The upload failed ({status})."));
                    phase.set(ImportPhase::Failed(message));
                    return;
                }
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(String::from))
                    .unwrap_or_default();
                leptos::task::spawn_local(async move {
                    loop {
                        match get_import_status(id.clone()).await {
                            Ok(s) if s.status == "running" => phase.set(ImportPhase::Importing(s)),
                            Ok(s) => {
                                phase.set(ImportPhase::Finished(s));
                                return;
                            }
                            Err(e) => {
                                phase.set(ImportPhase::Failed(e.to_string()));
                                return;
                            }
                        }
                        gloo_sleep(300).await;
                    }
                });
            });
            xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
            on_load.forget();
            let on_error = Closure::<dyn FnMut()>::new(move || {
                phase.set(ImportPhase::Failed(
                    "The connection dropped during the upload; try again.".into(),
                ));
            });
            xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
            let _ = xhr.send_with_opt_blob(Some(&file));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, organization, pantry, skip);
    };
    let busy = move || {
        matches!(
            phase.get(),
            ImportPhase::Uploading(_) | ImportPhase::Importing(_)
        )
    };
    view! {
        <Title text="Import usage history" />
        <div class="page-head">
            <h1>"Import usage history"</h1>
        </div>
        <section class="card">
            <p>"Bring in last year's usage or sales so forecasts start from real demand. This never changes stock."</p>
            <p class="hint">"A CSV with a header line. Columns: date (YYYY-MM-DD), quantity, and the product as product (its name), barcode, sku or product_id; optional: unit_price, revenue, pantry. Rows already imported are recognised and not counted twice."</p>
            <form class="stack" on:submit=send aria-label="Import usage history">
                <div class="field">
                    <label for="history-file">"CSV file"</label>
                    <input id="history-file" type="file" accept=".csv,text/csv" node_ref=file_input />
                </div>
                <div class="field">
                    <label for="history-pantry">"Pantry for rows without one (optional)"</label>
                    <input id="history-pantry" name="pantry" autocomplete="off" prop:value=move || pantry.get() on:input=move |ev| pantry.set(event_target_value(&ev)) />
                </div>
                <div class="field check">
                    <input id="history-skip" type="checkbox" prop:checked=move || skip.get() on:change=move |ev| skip.set(event_target_checked(&ev)) />
                    <label for="history-skip">"Import the good rows even if some are bad"</label>
                </div>
                <button type="submit" class="button primary" disabled=busy>{move || if busy() { "Importing…" } else { "Import" }}</button>
            </form>
            <div aria-live="polite" class="import-outcome">
                {move || match phase.get() {
                    ImportPhase::Idle => ().into_any(),
                    ImportPhase::Uploading(f) => view! {
                        <label for="import-progress">{format!("Uploading… {:.0}%", f * 100.0)}</label>
                        <progress id="import-progress" max="100" value=format!("{:.0}", f * 100.0)></progress>
                    }.into_any(),
                    ImportPhase::Importing(s) => {
                        let pct = if s.bytes_total > 0 { s.bytes_done as f64 * 100.0 / s.bytes_total as f64 } else { 0.0 };
                        view! {
                            <label for="import-progress">{format!("Importing… {pct:.0}%")}</label>
                            <progress id="import-progress" max="100" value=format!("{pct:.0}")></progress>
                        }.into_any()
                    }
                    ImportPhase::Finished(s) => view! {
                        <div class=if s.status == "done" { "notice" } else { "warning" } role="status" data-testid="import-outcome">
                            <p>{match s.status.as_str() {
                                "done" => format!("Imported {} row(s) from {}.", s.rows_imported, s.file_name),
                                _ => format!("Nothing was imported from {}.", s.file_name),
                            }}</p>
                            {(s.rows_duplicate > 0).then(|| view! { <p>{format!("{} row(s) were imported before and were not counted again.", s.rows_duplicate)}</p> })}
                            {(s.rows_bad > 0).then(|| view! { <p>{format!("{} row(s) have problems{}.", s.rows_bad, if s.status == "done" { " and were skipped" } else { "" })}</p> })}
                            {s.message.clone().map(|m| view! { <p>{m}</p> })}
                            {s.errors_url.clone().map(|u| view! { <p><a class="button" href=u download="">"Download the problem rows"</a></p> })}
                        </div>
                    }.into_any(),
                    ImportPhase::Failed(m) => view! { <p class="form-error" role="alert">{m}</p> }.into_any(),
                }}
            </div>
        </section>
    }
}

/// Waits in the browser without blocking it.
#[cfg(feature = "hydrate")]
async fn gloo_sleep(ms: i32) {
    let promise = web_sys::js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

/// `/organizations/:id/donors`: every donor with their totals, and the
/// latest donations, each with its receipt.
#[component]
pub fn DonorsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        |id| async move { get_donors(crate::ids::OrganizationId(id)).await },
    );
    view! {
        <Title text="Donors" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    <Breadcrumbs trail=vec![
                        (d.organization_name.clone(), Some(format!("/organizations/{}", d.organization_id))),
                        ("Donors".to_string(), None),
                    ] />
                    <div class="page-head"><h1>"Donors"</h1></div>
                    {if d.donors.is_empty() {
                        view! {
                            <EmptyState title="No donations yet">
                                <p>"Donations recorded when stock is received (source: donation) show here, with a receipt for each."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <section class="card">
                                <div class="table-scroll">
                                    <table class="table">
                                        <caption>"All donations, heaviest donor first"</caption>
                                        <thead><tr><th scope="col">"Donor"</th><th scope="col" class="num">"Donations"</th><th scope="col" class="num">"Weight"</th><th scope="col">"Last"</th></tr></thead>
                                        <tbody>
                                            {d.donors.iter().map(|t| view! {
                                                <tr>
                                                    <th scope="row">{t.donor.clone()}</th>
                                                    <td class="num">{t.donations}</td>
                                                    <td class="num">
                                                        {format_weight(t.weight_g)}
                                                        {(t.unweighed > 0).then(|| view! { <span class="muted">{format!(" ({} unweighed)", t.unweighed)}</span> })}
                                                    </td>
                                                    <td>{t.last_received.clone()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            </section>
                            <section class="card">
                                <h2>{format!("Latest donations ({})", d.recent.len())}</h2>
                                <ul class="stock-list">
                                    {d.recent.iter().map(|l| view! {
                                        <li class="stock-row">
                                            <a class="stock-name" href=format!("/donations/{}", l.receipt_no)>{format!("{} · {}", l.donor, l.product_name)}</a>
                                            <span class="stock-qty">{l.quantity_text.clone()}</span>
                                            <span class="stock-category muted">
                                                {format!("{} · {}", l.received_at, l.pantry_name)}
                                                {l.weight_text.clone().map(|w| format!(" · {w}"))}
                                            </span>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </section>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

/// `/donations/:id`: one donation's receipt, made to be printed.
#[component]
pub fn DonationReceiptPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        |id| async move { get_donation_receipt(id).await },
    );
    view! {
        <Title text="Donation receipt" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let r = match data.await {
                    Ok(r) => r,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    <Breadcrumbs trail=vec![
                        (r.organization_name.clone(), Some(format!("/organizations/{}", r.organization_id))),
                        ("Donors".to_string(), Some(format!("/organizations/{}/donors", r.organization_id))),
                        ("Receipt".to_string(), None),
                    ] />
                    <article class="card receipt">
                        <header>
                            <h1>"Donation receipt"</h1>
                            <p>{format!("{} · {}, {}", r.organization_name, r.pantry_name, r.campus_name)}</p>
                        </header>
                        <dl class="facts">
                            <div><dt>"Received from"</dt><dd>{r.donor.clone()}</dd></div>
                            <div><dt>"Received on"</dt><dd>{r.received_at.clone()}</dd></div>
                            <div><dt>"Item"</dt><dd>{r.product_name.clone()}</dd></div>
                            <div><dt>"Quantity"</dt><dd>{r.quantity_text.clone()}</dd></div>
                            {r.weight_text.clone().map(|w| view! { <div><dt>"Weight"</dt><dd>{w}</dd></div> })}
                            {(!r.best_before.is_empty()).then(|| view! { <div><dt>"Best before"</dt><dd>{r.best_before.join(", ")}</dd></div> })}
                            {r.note.clone().map(|n| view! { <div><dt>"Note"</dt><dd>{n}</dd></div> })}
                            <div><dt>"Recorded by"</dt><dd>{r.recorded_by.clone()}</dd></div>
                            <div><dt>"Receipt number"</dt><dd class="mono">{r.receipt_no.clone()}</dd></div>
                        </dl>
                        <p class="receipt-thanks">"Thank you for your donation. No goods or services were provided in exchange for it."</p>
                    </article>
                    <p class="actions no-print">
                        <button type="button" class="button" on:click=move |_| print_page()>"Print receipt"</button>
                    </p>
                }.into_any()
            })}
        </Transition>
    }
}

//! The intake's lines: suggested ones to confirm, edit or reject, lines
//! added by hand from the catalog, and, once confirmed, what was received.

use leptos::prelude::*;

use crate::catalog::api::get_products;
use crate::ids::{OrganizationId, PhotoId, ProductId};
use crate::photos::api::*;
use crate::photos::model::*;
use crate::ui::*;

use super::{add_line, Added, Draft};

#[component]
pub(super) fn Suggestions(
    v: IntakeView,
    drafts: StoredValue<std::collections::HashMap<String, Draft>>,
    added: RwSignal<Vec<Added>>,
    /// The page's owner: a draft's signals are made under it, since this
    /// card is drawn again (and its own signals dropped) on every change.
    page: Owner,
    confirm: ServerAction<ConfirmIntake>,
) -> impl IntoView {
    let known: Vec<Suggestion> = v
        .suggestions
        .iter()
        .filter(|s| s.product_id.is_some())
        .cloned()
        .collect();
    let unknown: Vec<Suggestion> = v
        .suggestions
        .iter()
        .filter(|s| s.product_id.is_none())
        .cloned()
        .collect();
    let add_owner = page.clone();
    let no_unknown = unknown.is_empty();
    // A line keeps what staff typed across refreshes; untouched lines
    // follow the photos.
    let draft_for = move |s: &Suggestion| -> Draft {
        let key = s
            .product_id
            .as_ref()
            .map(|p| p.to_string())
            .unwrap_or_default();
        let existing = drafts.with_value(|d| d.get(&key).copied());
        match existing {
            Some(d) => {
                if !d.touched.get_untracked() {
                    d.quantity.set(s.quantity.clone());
                    d.best_before.set(s.best_before.clone().unwrap_or_default());
                }
                d
            }
            None => {
                let d = page.with(|| Draft {
                    quantity: RwSignal::new(s.quantity.clone()),
                    best_before: RwSignal::new(s.best_before.clone().unwrap_or_default()),
                    // A product staff already added by hand: the suggestion
                    // that arrives later starts unticked, not counted twice.
                    keep: RwSignal::new(!added.with_untracked(|a| {
                        a.iter().any(|l| s.product_id.as_ref() == Some(&l.product))
                    })),
                    touched: RwSignal::new(false),
                });
                drafts.update_value(|m| {
                    m.insert(key, d);
                });
                d
            }
        }
    };
    let lines: Vec<(Suggestion, Draft)> = known.iter().map(|s| (s.clone(), draft_for(s))).collect();
    let submit_lines = lines.clone();
    let intake = v.id.clone();
    let on_confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let lines: Vec<ConfirmLine> = submit_lines
            .iter()
            .filter(|(_, d)| d.keep.get_untracked())
            .filter_map(|(s, d)| {
                Some(ConfirmLine {
                    product: s.product_id.clone()?,
                    quantity: d.quantity.get_untracked(),
                    best_before: d.best_before.get_untracked(),
                    photos: s.photos.clone(),
                })
            })
            .chain(added.get_untracked().into_iter().map(|a| {
                ConfirmLine {
                    product: a.product,
                    quantity: a.quantity.get_untracked(),
                    best_before: a.best_before.get_untracked(),
                    photos: Some(a.photo.get_untracked())
                        .filter(|p| !p.is_empty())
                        .map(PhotoId::from_stored)
                        .into_iter()
                        .collect(),
                }
            }))
            .collect();
        confirm.dispatch(ConfirmIntake {
            id: intake.clone(),
            lines,
        });
    };
    let error = Signal::derive(move || confirm.value().get().and_then(|r| r.err()));
    let waiting = !v.settled;
    let org = v.organization_id.clone();
    let empty = lines.is_empty();
    let nothing = move || empty && added.with(|a| a.is_empty());
    let numbers: Vec<(PhotoId, i64)> = v.photos.iter().map(|p| (p.id.clone(), p.number)).collect();
    let known_ids: Vec<ProductId> = lines
        .iter()
        .filter_map(|(s, _)| s.product_id.clone())
        .collect();
    // Photos no suggestion explains: an item added by hand is most likely
    // in the latest of them.
    let free: Vec<PhotoId> = v
        .photos
        .iter()
        .filter(|p| !v.suggestions.iter().any(|s| s.photos.contains(&p.id)))
        .map(|p| p.id.clone())
        .collect();
    view! {
        <section class="card">
            <h2>"What the photos show"</h2>
            {waiting.then(|| view! { <p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>"Reading the photos… suggestions appear as each one is read."</p> })}
            {move || (nothing() && !waiting && no_unknown).then(|| view! {
                <p>{if v.photos.is_empty() { "Add photos of the donation to get suggestions." } else { "Nothing in these photos was recognised. Add the items below; once confirmed, their photos teach Larder what they look like." }}</p>
            })}
                <form class="stack" on:submit=on_confirm aria-label="Confirm the donation">
                    <ul class="suggestions">
                        {lines.into_iter().map(|(s, d)| {
                            let pid = s.product_id.clone().map(|p| p.to_string()).unwrap_or_default();
                            let qid = format!("q-{pid}");
                            let bid = format!("b-{pid}");
                            let kid = format!("k-{pid}");
                            view! {
                                <li class="suggestion" class:rejected=move || !d.keep.get() data-testid="suggestion">
                                    <div class="suggestion-head">
                                        <input id=kid.clone() type="checkbox" prop:checked=move || d.keep.get() on:change=move |ev| d.keep.set(event_target_checked(&ev)) />
                                        <label for=kid class="suggestion-name">{s.product_name.clone().unwrap_or_default()}</label>
                                        <span class="badge" title="How sure the reading is">{format!("{}%", s.confidence)}</span>
                                    </div>
                                    <p class="suggestion-evidence muted">{s.evidence.clone()}</p>
                                    <div class="suggestion-fields">
                                        <div class="field">
                                            <label for=qid.clone()>{format!("Quantity ({})", s.unit.clone().unwrap_or_default())}</label>
                                            <input id=qid inputmode="decimal" autocomplete="off" prop:value=move || d.quantity.get()
                                                on:input=move |ev| { d.touched.set(true); d.quantity.set(event_target_value(&ev)); } />
                                        </div>
                                        <div class="field">
                                            <label for=bid.clone()>"Best before"</label>
                                            <input id=bid type="date" prop:value=move || d.best_before.get()
                                                on:input=move |ev| { d.touched.set(true); d.best_before.set(event_target_value(&ev)); } />
                                        </div>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                        <For each=move || added.get() key=|a| a.product.to_string() let:a>
                            <AddedLine a=a added=added photos=numbers.clone() />
                        </For>
                    </ul>
                    <AddItem organization=org.clone() added=added page=add_owner known=known_ids free=free />
                    <div class:hidden=nothing>
                        <FormError error=error fields=&["lines"] />
                        <SubmitButton label="Receive into stock" busy_label="Receiving…" pending=confirm.pending() />
                    </div>
                </form>
            {(!unknown.is_empty()).then(|| view! {
                <h3>"Not in the catalog"</h3>
                <ul class="stock-list">
                    {unknown.into_iter().map(|s| {
                        let (shown, link, testid, mono) = match &s.gtin {
                            Some(gtin) => {
                                let shown = gtin.trim_start_matches('0').to_string();
                                let link = format!("/organizations/{}/catalog?barcode={}", org, shown);
                                (shown, link, "unknown-barcode", true)
                            }
                            None => {
                                let name = s.product_name.clone().unwrap_or_default();
                                let link = format!("/organizations/{}/catalog?name={}", org, crate::inventory::views::encode(&name));
                                (format!("{} × {}", s.quantity, name), link, "unknown-item", false)
                            }
                        };
                        view! {
                            <li class="stock-row" data-testid=testid>
                                <span class="stock-name" class:mono=mono>{shown}</span>
                                <span class="stock-category muted">{s.evidence.clone()}</span>
                                <a class="button small stock-qty" href=link>"Add to catalog"</a>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// A line added by hand: quantity, date, and which photo shows it.
#[component]
fn AddedLine(a: Added, added: RwSignal<Vec<Added>>, photos: Vec<(PhotoId, i64)>) -> impl IntoView {
    let pid = a.product.to_string();
    let (qid, bid, fid) = (
        format!("aq-{pid}"),
        format!("ab-{pid}"),
        format!("af-{pid}"),
    );
    let product = a.product.clone();
    let remove = move |_| added.update(|l| l.retain(|x| x.product != product));
    let (quantity, best_before, photo) = (a.quantity, a.best_before, a.photo);
    view! {
        <li class="suggestion" data-testid="added-line">
            <div class="suggestion-head">
                <span class="suggestion-name">{a.name.clone()}</span>
                <button type="button" class="button small" on:click=remove aria-label=format!("Remove {}", a.name)>"Remove"</button>
            </div>
            <p class="suggestion-evidence muted">"Added by hand"</p>
            <div class="suggestion-fields">
                <div class="field">
                    <label for=qid.clone()>{if a.unit.is_empty() { "Quantity".to_string() } else { format!("Quantity ({})", a.unit) }}</label>
                    <input id=qid inputmode="decimal" autocomplete="off" prop:value=move || quantity.get()
                        on:input=move |ev| quantity.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for=bid.clone()>"Best before"</label>
                    <input id=bid type="date" prop:value=move || best_before.get()
                        on:input=move |ev| best_before.set(event_target_value(&ev)) />
                </div>
                {(!photos.is_empty()).then(|| view! {
                    <div class="field field-wide">
                        <label for=fid.clone()>"Shown in"</label>
                        <select id=fid on:change=move |ev| photo.set(event_target_value(&ev))>
                            <option value="" selected=move || photo.get().is_empty()>"No photo"</option>
                            {photos.iter().map(|(id, n)| {
                                let id = id.to_string();
                                let value = id.clone();
                                view! { <option value=value selected=move || photo.get() == id>{format!("Photo {n}")}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                })}
            </div>
        </li>
    }
}

/// Finds a catalog product to add as a line.
#[component]
fn AddItem(
    organization: OrganizationId,
    added: RwSignal<Vec<Added>>,
    page: Owner,
    /// Products the suggestions hold already.
    known: Vec<ProductId>,
    /// Photos no suggestion cites, oldest first.
    free: Vec<PhotoId>,
) -> impl IntoView {
    let free = StoredValue::new(free);
    let organization_id = organization.clone();
    let q = RwSignal::new(String::new());
    let found = Resource::new(
        move || q.get(),
        move |q| {
            let organization = organization.clone();
            async move {
                if q.trim().is_empty() {
                    return Ok(Vec::new());
                }
                get_products(organization, q, String::new(), String::new(), 1)
                    .await
                    .map(|p| {
                        p.items
                            .into_iter()
                            .filter(|p| !p.archived)
                            .take(5)
                            .collect::<Vec<_>>()
                    })
            }
        },
    );
    let known = StoredValue::new(known);
    let page = StoredValue::new(page);
    let organization_for_scan = organization_id.clone();
    let scan_note = RwSignal::new(None::<(String, String)>);
    // A scanned item is found by its barcode and counted: a line of one, or
    // one more on its line.
    let on_scan = move |gtin: crate::catalog::model::Gtin| {
        let organization = organization_for_scan.clone();
        leptos::task::spawn_local(async move {
            let shown = gtin.display().to_string();
            match get_products(
                organization.clone(),
                shown.clone(),
                String::new(),
                String::new(),
                1,
            )
            .await
            {
                Ok(found) => match found
                    .items
                    .into_iter()
                    .find(|p| p.barcodes.contains(&gtin) && !p.archived)
                {
                    Some(p) if known.with_value(|k| k.contains(&p.id)) => {
                        scan_note.set(Some((
                            format!("{} is suggested above: check its count.", p.name),
                            String::new(),
                        )));
                    }
                    Some(p) => {
                        let counted = added.with_untracked(|a| {
                            a.iter().find(|l| l.product == p.id).map(|l| {
                                l.quantity.update(|q| {
                                    *q = (q.parse::<i64>().unwrap_or(0) + 1).to_string()
                                });
                            })
                        });
                        if counted.is_none() {
                            add_line(
                                added,
                                page.get_value(),
                                p.id.clone(),
                                p.name.clone(),
                                p.unit.to_string(),
                                None,
                            );
                        }
                        scan_note.set(Some((
                            format!("Scanned {} ({shown}).", p.name),
                            String::new(),
                        )));
                    }
                    None => scan_note.set(Some((
                        format!("Barcode {shown} is not in the catalog."),
                        format!(
                            "/organizations/{}/catalog?barcode={shown}",
                            organization.to_string()
                        ),
                    ))),
                },
                Err(e) => scan_note.set(Some((e.to_string(), String::new()))),
            }
        });
    };
    view! {
        <div class="add-item">
            <BarcodeScanner on_scan=on_scan />
            {move || scan_note.get().map(|(text, link)| view! {
                <p class="scan-note" role="status" data-testid="scan-note">
                    {text}
                    {(!link.is_empty()).then(|| view! { " " <a href=link>"Add it to the catalog"</a> })}
                </p>
            })}
            <label for="add-item-search">"Add an item"</label>
            <input id="add-item-search" type="search" placeholder="Search the catalog" autocomplete="off"
                prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev)) />
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(items) => view! {
                            <ul class="pick-list">
                                {items.into_iter().map(|p| {
                                    let listed = known.with_value(|k| k.contains(&p.id));
                                    let (id, name, unit) = (p.id.clone(), p.name.clone(), p.unit.to_string());
                                    view! {
                                        <li>
                                            <button type="button" class="pick" disabled=listed
                                                on:click=move |_| {
                                                    let photo = free.with_value(|f| {
                                                        added.with_untracked(|a| {
                                                            f.iter().rev().find(|p| !a.iter().any(|l| l.photo.get_untracked() == p.as_str())).cloned()
                                                        })
                                                    });
                                                    add_line(added, page.get_value(), id.clone(), name.clone(), unit.clone(), photo);
                                                    q.set(String::new());
                                                }>
                                                <span class="pick-name">{p.name.clone()}</span>
                                                <span class="pick-qty">{if listed { "suggested above".to_string() } else { p.category.clone() }}</span>
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
pub(super) fn Confirmed(v: IntakeView) -> impl IntoView {
    view! {
        <section class="card notice" role="status" data-testid="intake-confirmed">
            <h2>"Received into stock"</h2>
            <p>{format!("Confirmed {}.", v.confirmed_at.clone().unwrap_or_default())}</p>
            <ul class="stock-list">
                {v.confirmed.iter().map(|l| view! {
                    <li class="stock-row">
                        <a class="stock-name" href=format!("/pantries/{}/products/{}", v.pantry_id, l.product_id)>{l.product_name.clone()}</a>
                        <span class="stock-qty">{l.quantity.clone()}</span>
                        <span class="stock-category muted">{l.best_before.clone().map(|b| format!("best before {b}")).unwrap_or_default()}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p class="actions"><a class="button" href=format!("/pantries/{}/inventory", v.pantry_id)>"Inventory"</a></p>
        </section>
    }
}

//! Donors with their totals, and a printable receipt per donation.

use super::*;

/// `/organizations/:id/donors`: every donor with their totals, and the
/// latest donations, each with its receipt.
#[component]
pub fn DonorsPage() -> impl IntoView {
    let params = use_params_map();
    let data = Resource::new(
        move || params.read().get("id").unwrap_or_default(),
        |id| async move { get_donors(crate::ids::OrganizationId::from_stored(id)).await },
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
                                                    <th scope="row"><a href=donor_href(d.organization_id.as_str(), &t.donor)>{t.donor.clone()}</a></th>
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
                            <div><dt>"Received from"</dt><dd><a href=donor_href(r.organization_id.as_str(), &r.donor)>{r.donor.clone()}</a></dd></div>
                            <div><dt>"Received on"</dt><dd>{r.received_at.clone()}</dd></div>
                            {if r.lines.len() > 1 {
                                ().into_any()
                            } else {
                                view! {
                                    <div><dt>"Item"</dt><dd>{r.product_name.clone()}</dd></div>
                                    <div><dt>"Quantity"</dt><dd>{r.quantity_text.clone()}</dd></div>
                                    {r.weight_text.clone().map(|w| view! { <div><dt>"Weight"</dt><dd>{w}</dd></div> })}
                                    {(!r.best_before.is_empty()).then(|| view! { <div><dt>"Best before"</dt><dd>{r.best_before.join(", ")}</dd></div> })}
                                }.into_any()
                            }}
                            {r.note.clone().map(|n| view! { <div><dt>"Note"</dt><dd>{n}</dd></div> })}
                            <div><dt>"Recorded by"</dt><dd>{r.recorded_by.clone()}</dd></div>
                            <div><dt>"Receipt number"</dt><dd class="mono">{r.receipt_no.clone()}</dd></div>
                        </dl>
                        {(r.lines.len() > 1).then(|| view! {
                            <table class="table" data-testid="receipt-lines">
                                <thead><tr><th scope="col">"Item"</th><th scope="col" class="num">"Quantity"</th><th scope="col">"Best before"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {r.lines.iter().map(|l| view! {
                                        <tr>
                                            <th scope="row">{l.product_name.clone()}</th>
                                            <td class="num">{l.quantity_text.clone()}</td>
                                            <td>{l.best_before.join(", ")}</td>
                                            <td class="num">{l.weight_g.map(format_weight).unwrap_or_else(|| "—".into())}</td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                                <tfoot><tr>
                                    <th scope="row">{format!("{} items", r.lines.len())}</th>
                                    <td></td><td></td>
                                    <td class="num" data-testid="receipt-weight">{format_weight(r.total_weight_g)}</td>
                                </tr></tfoot>
                            </table>
                        })}
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

/// The donor named in the address (`?name=`) and the year asked for.
fn donor_resource() -> Resource<Result<DonorPage, crate::error::AppError>> {
    let params = use_params_map();
    let query = use_query_map();
    Resource::new(
        move || {
            (
                params.read().get("id").unwrap_or_default(),
                query.read().get("name").unwrap_or_default(),
                query
                    .read()
                    .get("year")
                    .and_then(|y| y.parse::<i32>().ok())
                    .unwrap_or(0),
            )
        },
        |(id, name, year)| async move {
            get_donor(crate::ids::OrganizationId::from_stored(id), name, year).await
        },
    )
}

/// Where a donor's statement for a year is, as a page or as CSV.
fn statement_href(d: &DonorPage, year: i32, csv: bool) -> String {
    format!(
        "/organizations/{}/donor/{}?name={}&year={year}",
        d.organization_id,
        if csv { "statement.csv" } else { "statement" },
        encode(&d.donor)
    )
}

/// Weight with the donations nobody weighed, as the donor list says it.
fn weight_text(t: &DonorYear) -> String {
    let mut s = format_weight(t.weight_g);
    if t.unweighed > 0 {
        s.push_str(&format!(" ({} unweighed)", t.unweighed));
    }
    s
}

/// `/organizations/:id/donor?name=&year=`: a donor's giving over time, one
/// year's donations, and their year-end statement.
#[component]
pub fn DonorPage() -> impl IntoView {
    let data = donor_resource();
    view! {
        <Title text="Donor" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let base = donor_href(d.organization_id.as_str(), &d.donor);
                view! {
                    <Title text=d.donor.clone() />
                    <Breadcrumbs trail=vec![
                        (d.organization_name.clone(), Some(format!("/organizations/{}", d.organization_id))),
                        ("Donors".to_string(), Some(format!("/organizations/{}/donors", d.organization_id))),
                        (d.donor.clone(), None),
                    ] />
                    <div class="page-head">
                        <h1>{d.donor.clone()}</h1>
                        <div class="actions">
                            <a class="button primary" href=statement_href(&d, d.year, false)>{format!("{} statement", d.year)}</a>
                            <a class="button" href=statement_href(&d, d.year, true) download="">"CSV"</a>
                        </div>
                    </div>
                    <section class="card">
                        <h2>"Year by year"</h2>
                        <div class="table-scroll">
                            <table class="table">
                                <thead><tr><th scope="col">"Year"</th><th scope="col" class="num">"Donations"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {d.years.iter().map(|t| {
                                        let current = t.year == d.year;
                                        view! {
                                            <tr class:current=current>
                                                <th scope="row"><a href=format!("{base}&year={}", t.year) aria-current=current.then_some("page")>{t.year}</a></th>
                                                <td class="num">{t.donations}</td>
                                                <td class="num">{weight_text(t)}</td>
                                            </tr>
                                        }
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                    </section>
                    <section class="card">
                        <h2>{format!("Donations in {}", d.year)}</h2>
                        <StatementTable d=d.clone() />
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

/// The donations of a year with their total line.
#[component]
fn StatementTable(d: DonorPage) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table statement" data-testid="statement">
                <thead><tr>
                    <th scope="col">"Date"</th><th scope="col">"Item"</th><th scope="col">"Pantry"</th>
                    <th scope="col" class="num">"Quantity"</th><th scope="col" class="num">"Weight"</th>
                </tr></thead>
                <tbody>
                    {d.lines.iter().map(|l| view! {
                        <tr>
                            <td><a href=format!("/donations/{}", l.receipt_no)>{l.date.clone()}</a></td>
                            <td>{l.product_name.clone()}</td>
                            <td>{l.pantry_name.clone()}</td>
                            <td class="num">{l.quantity_text.clone()}</td>
                            <td class="num" data-grams=l.weight_g.map(|g| g.to_string())>{l.weight_g.map(format_weight).unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
                <tfoot><tr>
                    <th scope="row" colspan="3">{format!("{} donation{}", d.total.donations, if d.total.donations == 1 { "" } else { "s" })}</th>
                    <td></td>
                    <td class="num" data-testid="total-weight">{weight_text(&d.total)}</td>
                </tr></tfoot>
            </table>
        </div>
    }
}

/// `/organizations/:id/donor/statement?name=&year=`: a donor's year-end
/// statement, made to be printed and handed over.
#[component]
pub fn DonorStatementPage() -> impl IntoView {
    let data = donor_resource();
    view! {
        <Title text="Donation statement" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match data.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    <Title text=format!("{} · {} statement", d.donor, d.year) />
                    <Breadcrumbs trail=vec![
                        (d.organization_name.clone(), Some(format!("/organizations/{}", d.organization_id))),
                        ("Donors".to_string(), Some(format!("/organizations/{}/donors", d.organization_id))),
                        (d.donor.clone(), Some(donor_href(d.organization_id.as_str(), &d.donor))),
                        (format!("{} statement", d.year), None),
                    ] />
                    <article class="card receipt">
                        <header>
                            <h1>{format!("Statement of donations, {}", d.year)}</h1>
                            <p>{d.organization_name.clone()}</p>
                        </header>
                        <dl class="facts">
                            <div><dt>"Donor"</dt><dd>{d.donor.clone()}</dd></div>
                            <div><dt>"Period"</dt><dd>{format!("1 January to 31 December {}", d.year)}</dd></div>
                            <div><dt>"Donations"</dt><dd>{d.total.donations}</dd></div>
                            <div><dt>"Total weight"</dt><dd>{weight_text(&d.total)}</dd></div>
                        </dl>
                        <StatementTable d=d.clone() />
                        <p class="receipt-thanks">"Thank you for your donations. No goods or services were provided in exchange for them."</p>
                    </article>
                    <p class="actions no-print">
                        <button type="button" class="button primary" on:click=move |_| print_page()>"Print statement"</button>
                        <a class="button" href=statement_href(&d, d.year, true) download="">"Download CSV"</a>
                    </p>
                }.into_any()
            })}
        </Transition>
    }
}

/// A line of the donation form, as typed.
#[derive(Debug, Clone, PartialEq)]
struct DonationDraftLine {
    key: u64,
    product_id: ProductId,
    name: String,
    unit: Unit,
    perishable_hint: bool,
    quantity: RwSignal<String>,
    best_before: RwSignal<String>,
    weight_g: RwSignal<String>,
}

/// Receives one donation of several products in one form: find each
/// product, give its quantity (and date, and weight if weighed), name the
/// donor, receive, and go to the one receipt.
#[component]
pub fn DonationForm(pantry: PantryId) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let lines = RwSignal::new(Vec::<DonationDraftLine>::new());
    let next_key = RwSignal::new(0u64);
    let donor = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let save = ServerAction::<ReceiveDonation>::new();
    let error = last_error(save.value());
    let pantry_for_search = pantry.clone();
    let found = Resource::new(
        move || search.get(),
        move |q| {
            let pantry = pantry_for_search.clone();
            async move {
                if q.trim().is_empty() {
                    return Ok(Vec::new());
                }
                get_stock(pantry, q, String::new(), "all".into(), "name".into(), 1)
                    .await
                    .map(|p| p.rows.into_iter().take(6).collect::<Vec<_>>())
            }
        },
    );
    let navigate = leptos_router::hooks::use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            navigate(&format!("/donations/{id}"), Default::default());
        }
    });
    // A line's signals belong to the form, not to the search result whose
    // button added it: that result is gone as soon as the search clears.
    let owner = StoredValue::new(Owner::current().unwrap_or_default());
    let add = move |row: crate::inventory::model::StockRow| {
        if lines.with_untracked(|l| l.iter().any(|d| d.product_id == row.product_id)) {
            search.set(String::new());
            return;
        }
        let key = next_key.get_untracked();
        next_key.set(key + 1);
        let line = owner.with_value(|o| o.clone()).with(|| DonationDraftLine {
            key,
            product_id: row.product_id.clone(),
            name: row.name.clone(),
            unit: row.unit,
            perishable_hint: row.next_best_before.is_some(),
            quantity: RwSignal::new(String::new()),
            best_before: RwSignal::new(String::new()),
            weight_g: RwSignal::new(String::new()),
        });
        lines.update(|l| l.push(line));
        search.set(String::new());
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let input = DonationInput {
            pantry: pantry.clone(),
            donor: donor.get_untracked(),
            note: note.get_untracked(),
            lines: lines
                .get_untracked()
                .iter()
                .map(|l| DonationLineInput {
                    product: l.product_id.clone(),
                    quantity: l.quantity.get_untracked(),
                    best_before: l.best_before.get_untracked(),
                    weight_g: l.weight_g.get_untracked(),
                })
                .collect(),
        };
        save.dispatch(ReceiveDonation { donation: input });
    };
    view! {
        <form class="stack donation-form" on:submit=submit aria-label="Receive a donation">
            <div class="field">
                <label for="donation-donor">"Donor"</label>
                <p class="hint" id="donation-donor-hint">"A person, a shop or a food drive. Leave empty for an anonymous donation."</p>
                <input id="donation-donor" autocomplete="organization" aria-describedby="donation-donor-hint"
                    prop:value=move || donor.get() on:input=move |ev| donor.set(event_target_value(&ev)) />
            </div>
            <div class="field">
                <label for="donation-find">"Add a product"</label>
                <input id="donation-find" type="search" autocomplete="off" placeholder="Name or barcode"
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev)) />
            </div>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    let rows = found.await.unwrap_or_default();
                    (!rows.is_empty()).then(|| view! {
                        <ul class="picks" aria-label="Matching products">
                            {rows.into_iter().map(|row| {
                                let label = format!("Add {}", row.name);
                                let r = row.clone();
                                view! { <li><button type="button" class="button small" on:click=move |_| add(r.clone())>{label}</button></li> }
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Transition>
            <ol class="donation-lines" data-testid="donation-lines">
                <For each=move || lines.get() key=|l| l.key let:line>
                    {
                        let key = line.key;
                        let unit = line.unit;
                        let id = format!("donation-{key}");
                        view! {
                            <li class="donation-line card">
                                <div class="section-head">
                                    <strong>{line.name.clone()}</strong>
                                    <button type="button" class="button small link"
                                        aria-label=format!("Remove {}", line.name)
                                        on:click=move |_| lines.update(|l| l.retain(|d| d.key != key))>"Remove"</button>
                                </div>
                                <div class="row-form">
                                    <div class="field small">
                                        <label for=format!("{id}-q")>{format!("Quantity ({})", unit.as_str())}</label>
                                        <input id=format!("{id}-q") inputmode="decimal" required=true
                                            prop:value=move || line.quantity.get() on:input=move |ev| line.quantity.set(event_target_value(&ev)) />
                                    </div>
                                    <div class="field small">
                                        <label for=format!("{id}-bb")>{if line.perishable_hint { "Best before" } else { "Best before (if any)" }}</label>
                                        <input id=format!("{id}-bb") type="date"
                                            prop:value=move || line.best_before.get() on:input=move |ev| line.best_before.set(event_target_value(&ev)) />
                                    </div>
                                    <div class="field small">
                                        <label for=format!("{id}-w")>"Weight in grams (if weighed)"</label>
                                        <input id=format!("{id}-w") inputmode="numeric"
                                            prop:value=move || line.weight_g.get() on:input=move |ev| line.weight_g.set(event_target_value(&ev)) />
                                    </div>
                                </div>
                            </li>
                        }
                    }
                </For>
            </ol>
            {move || lines.with(|l| l.is_empty()).then(|| view! { <p class="muted">"No products yet: find each one above."</p> })}
            <div class="field">
                <label for="donation-note">"Note (optional)"</label>
                <input id="donation-note" prop:value=move || note.get() on:input=move |ev| note.set(event_target_value(&ev)) />
            </div>
            <FormError error=error fields=&[] />
            <button type="submit" class="button primary" disabled=move || save.pending().get() || lines.with(|l| l.is_empty())>
                {move || if save.pending().get() { "Receiving…".to_string() } else {
                    match lines.with(|l| l.len()) {
                        0 => "Receive".to_string(),
                        1 => "Receive 1 product".to_string(),
                        n => format!("Receive {n} products"),
                    }
                }}
            </button>
        </form>
    }
}

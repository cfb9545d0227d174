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

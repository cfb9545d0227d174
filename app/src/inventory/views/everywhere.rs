//! A product across every pantry: stock per pantry, lots, the latest
//! movements in words, and imported history. Shown on the product's page.

use leptos::prelude::*;

use crate::ids::ProductId;
use crate::inventory::api::get_product_everywhere;
use crate::inventory::model::format_weight;
use crate::ui::*;

#[component]
pub fn ProductEverywhereCard(product: ProductId) -> impl IntoView {
    let pid = product.to_string();
    let data = Resource::new(move || product.clone(), get_product_everywhere);
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new({
                let pid = pid.clone();
                async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let unit = v.unit;
                let total: i64 = v.holdings.iter().map(|h| h.on_hand).sum();
                view! {
                    <section class="card" data-testid="stock-everywhere">
                        <div class="section-head">
                            <h2>"Stock by pantry"</h2>
                            <span class="stock-qty">{if total > 0 { format!("{} in all", unit.format(total)) } else { "None in stock".into() }}</span>
                        </div>
                        {(!v.holdings.is_empty()).then(|| view! {
                            <div class="table-scroll">
                                <table class="table">
                                    <thead><tr><th scope="col">"Pantry"</th><th scope="col" class="num">"On hand"</th><th scope="col">"Next best before"</th></tr></thead>
                                    <tbody>
                                        {v.holdings.iter().map(|h| view! {
                                            <tr data-pantry=h.pantry_id.to_string()>
                                                <th scope="row"><a href=format!("/pantries/{}/products/{pid}", h.pantry_id)>{h.pantry_name.clone()}</a></th>
                                                <td class="num" data-testid="on-hand">{unit.format(h.on_hand)}</td>
                                                <td>{h.next_best_before.clone().unwrap_or_else(|| "—".into())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        })}
                        {(!v.lots.is_empty()).then(|| view! {
                            <h3>"Lots"</h3>
                            <ul class="list compact">
                                {v.lots.iter().map(|l| view! {
                                    <li>
                                        <span>{l.best_before.clone().map(|d| format!("Best before {d}")).unwrap_or_else(|| "No date".into())}</span>
                                        <span class="muted">{l.pantry_name.clone()}</span>
                                        <span class="num">{unit.format(l.quantity)}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                        })}
                    </section>
                    <section class="card">
                        <h2>"History in every pantry"</h2>
                        {if v.movements.is_empty() {
                            view! { <p class="muted">"Nothing has moved yet."</p> }.into_any()
                        } else {
                            view! {
                                <ol class="history">
                                    {v.movements.iter().map(|pm| {
                                        let m = &pm.movement;
                                        let sign = if m.quantity > 0 { "+" } else { "" };
                                        view! {
                                            <li>
                                                <span class=format!("kind kind-{}", m.kind.as_str()) data-testid="what-happened">{m.what_happened()}</span>
                                                <span class="qty">{format!("{sign}{}", unit.format(m.quantity))}</span>
                                                <span class="muted">{format!("{} · {} · {}", pm.pantry_name, m.occurred_at, m.actor)}</span>
                                                {m.weight_g.map(|w| view! { <span class="detail">{format_weight(w)}</span> })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ol>
                            }.into_any()
                        }}
                    </section>
                    {(!v.imported_by_month.is_empty()).then(|| view! {
                        <section class="card" data-testid="imported-history">
                            <h2>"Imported history"</h2>
                            <p class="muted">"What went out before Larder, from imported spreadsheets. Forecasts count it with what Larder records."</p>
                            <table class="table">
                                <thead><tr><th scope="col">"Month"</th><th scope="col" class="num">"Went out"</th></tr></thead>
                                <tbody>
                                    {v.imported_by_month.iter().map(|(month, q)| view! {
                                        <tr><th scope="row">{month.clone()}</th><td class="num">{unit.format(*q)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                    })}
                }.into_any()
            }})}
        </Transition>
    }
}

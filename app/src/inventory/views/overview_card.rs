//! The stock overview card of a pantry, a campus or an organization.

use leptos::prelude::*;

use crate::inventory::api::*;
use crate::inventory::model::*;
use crate::ui::*;

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
                                <div class="table-scroll" tabindex="0" role="region" aria-label="Stock by category">
                                <table class="table">
                                    <thead><tr>
                                        <th scope="col">"Category"</th>
                                        <th scope="col" class="num">"Products"</th>
                                        <th scope="col" class="num">"Quantity"</th>
                                        <th scope="col" class="num">"Weight"</th>
                                    </tr></thead>
                                    <tbody>
                                        {o.categories.iter().map(|c| view! {
                                            <tr>
                                                <td>{c.category.clone()}</td>
                                                <td class="num">{c.products}</td>
                                                <td class="num">{c.quantity_text()}</td>
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
                                </div>
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

//! `/search?q=`: where a product is held across every pantry the person
//! can see, with its earliest best-before date, and a way to move some to
//! the pantry they are working in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::ids::{PantryId, ProductId};
use crate::inventory::api::*;
use crate::nav::api::get_navigation;
use crate::ui::*;

#[component]
pub fn SearchPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let transfer = ServerAction::<Transfer>::new();
    let results = Resource::new(
        move || (q(), transfer.version().get()),
        |(q, _)| search_stock(q),
    );
    // The pantry being worked in, the one a transfer brings stock to.
    let here = OnceResource::new(get_navigation(String::new()));
    let error = last_error(transfer.value());
    view! {
        <Title text="Search" />
        <h1>"Where do we have…"</h1>
        <form method="get" action="/search" class="search-bar" role="search">
            <div class="field grow">
                <label for="search-q">"Product name or barcode"</label>
                <input id="search-q" name="q" type="search" value=q autocomplete="off" autofocus=true />
            </div>
            <button class="button primary" type="submit">"Search"</button>
        </form>
        <div aria-live="polite">
            {move || transfer.value().get().and_then(Result::ok).map(|r| view! {
                <p class="notice" role="status">{format!("Moved {} of {}. {} left where it came from.", r.quantity_text, r.product_name, r.on_hand_text)}</p>
            })}
            <FormError error=error fields=&[] />
        </div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let found = match results.await {
                    Ok(f) => f,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let nav = here.await.unwrap_or_default();
                let target = nav.current.filter(|_| nav.abilities.record);
                if found.q.is_empty() {
                    return view! { <p class="muted">"Search every pantry you can see: each one's stock and its earliest best-before date."</p> }.into_any();
                }
                if found.products.is_empty() {
                    return view! {
                        <EmptyState title="No products match">
                            <p>{format!("Nothing in your catalogs is called “{}”. Try part of the name, or scan its barcode.", found.q)}</p>
                        </EmptyState>
                    }.into_any();
                }
                view! {
                    {found.more.then(|| view! { <p class="muted">{format!("Showing the first {} products; add to the search to narrow it.", found.products.len())}</p> })}
                    <ul class="search-results">
                        {found.products.into_iter().map(|p| {
                            let unit = p.unit;
                            let total = p.total();
                            let product = p.product_id.clone();
                            let target = target.clone();
                            view! {
                                <li class="card search-result" data-testid="search-result">
                                    <div class="section-head">
                                        <h2>{p.name.clone()}</h2>
                                        <span class="stock-qty" data-testid="total">{if total > 0 { format!("{} in all", unit.format(total)) } else { "None in stock".into() }}</span>
                                    </div>
                                    <p class="muted">{format!("{} · {}", p.category, p.organization_name)}</p>
                                    {(!p.pantries.is_empty()).then(|| view! {
                                        <ul class="holdings" aria-label=format!("Stock of {} by pantry", p.name)>
                                            {p.pantries.into_iter().map(|h| {
                                                let to = target.clone().filter(|t| t.id != h.pantry_id && h.can_move);
                                                view! {
                                                    <li class="holding" data-pantry=h.pantry_id.to_string()>
                                                        <div class="holding-head">
                                                            <span>
                                                                <a href=format!("/pantries/{}/products/{}", h.pantry_id, product)>{h.pantry_name.clone()}</a>
                                                                <span class="muted small">{format!(" · {}", h.campus_name)}</span>
                                                            </span>
                                                            <span class="holding-qty" data-testid="on-hand">{unit.format(h.on_hand)}</span>
                                                        </div>
                                                        <div class="small">
                                                            <span class="muted">"Best before "</span>
                                                            <span class="nowrap" data-testid="best-before">{h.next_best_before.clone().unwrap_or_else(|| "—".into())}</span>
                                                        </div>
                                                        {to.map(|to| view! {
                                                            <MoveHere action=transfer from=h.pantry_id.clone() product=product.clone() to=to.id name=to.name unit=unit />
                                                        })}
                                                    </li>
                                                }
                                            }).collect_view()}
                                        </ul>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            })}
        </Transition>
    }
}

/// A small form that moves some of a pantry's stock to the current pantry.
#[component]
fn MoveHere(
    action: ServerAction<Transfer>,
    from: PantryId,
    product: ProductId,
    to: PantryId,
    name: String,
    unit: crate::catalog::model::Unit,
) -> impl IntoView {
    let id = format!("move-{from}-{product}");
    view! {
        <ActionForm action=action attr:class="move-here">
            <input type="hidden" name="pantry" value=from.to_string() />
            <input type="hidden" name="product" value=product.to_string() />
            <input type="hidden" name="to" value=to.to_string() />
            <label for=id.clone() class="visually-hidden">{format!("Quantity to move to {name}, in {}", unit.as_str())}</label>
            <input id=id name="quantity" inputmode="decimal" required=true size="4" placeholder=unit.as_str() />
            <button type="submit" class="button small" disabled=move || action.pending().get()>{format!("Move to {name}")}</button>
        </ActionForm>
    }
}

//! The purchasing pages: an organization's suppliers, a supplier with what
//! it sells, a pantry's orders, and one order (edited as a draft, then
//! submitted, printed or downloaded, and received).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::api::*;
use super::model::*;
use crate::catalog::model::Unit;
use crate::error::AppError;
use crate::ids::{OrganizationId, PantryId, ProductId, PurchaseOrderId, SupplierId};
use crate::ui::*;

fn cents(c: Option<i64>) -> String {
    c.map(money).unwrap_or_else(|| "—".into())
}

#[component]
pub fn SuppliersPage() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SaveSupplier>::new();
    let error = last_error(save.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = save.value().get() {
            navigate(&format!("/suppliers/{id}"), Default::default());
        }
    });
    let list = Resource::new(
        move || (org(), save.version().get()),
        |(org, _)| get_suppliers(OrganizationId::from_stored(org)),
    );
    view! {
        <Title text="Suppliers" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let l = match list.await {
                    Ok(l) => l,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = l.organization_id.to_string();
                view! {
                    <Breadcrumbs trail=vec![
                        (l.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        ("Suppliers".into(), None),
                    ] />
                    <div class="page-head"><h1>"Suppliers"</h1></div>
                    {if l.suppliers.is_empty() {
                        view! {
                            <EmptyState title="No suppliers yet">
                                <p>"Add who you buy from: a wholesaler, the regional food bank, a farm. Their items and prices make ordering a click."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Suppliers">
                                <table class="table">
                                    <thead><tr><th>"Supplier"</th><th class="num">"Lead time"</th><th>"Takes orders"</th><th class="num">"Minimum"</th><th class="num">"Items"</th><th class="num">"On the way"</th></tr></thead>
                                    <tbody>
                                        {l.suppliers.iter().map(|s| view! {
                                            <tr>
                                                <td><a href=format!("/suppliers/{}", s.id)>{s.name.clone()}</a></td>
                                                <td class="num">{format!("{} d", s.lead_time_days)}</td>
                                                <td>{order_days_label(&s.order_days)}</td>
                                                <td class="num">{cents(s.minimum_order_cents)}</td>
                                                <td class="num">{s.items}{(s.unmapped > 0).then(|| view! { <span class="badge badge-low" title="Items not tied to a product">{format!("{} to tie", s.unmapped)}</span> })}</td>
                                                <td class="num">{s.open_orders}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    {l.can_edit.then(|| view! {
                        <section class="card">
                            <h2>"Add a supplier"</h2>
                            <ActionForm action=save attr:class="stack">
                                <input type="hidden" name="organization" value=org_id.clone() />
                                <SupplierFields error=error supplier=None />
                                <FormError error=error fields=SUPPLIER_FIELDS />
                                <SubmitButton label="Add supplier" busy_label="Adding…" pending=save.pending() />
                            </ActionForm>
                        </section>
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

const SUPPLIER_FIELDS: &[&str] = &[
    "name",
    "contact_name",
    "email",
    "phone",
    "lead_time_days",
    "order_days",
    "minimum_order",
    "notes",
];

/// The supplier form's fields, empty or holding the supplier's values.
#[component]
fn SupplierFields(
    #[prop(into)] error: Signal<Option<crate::error::AppError>>,
    supplier: Option<Supplier>,
) -> impl IntoView {
    let s = supplier.clone();
    let get = move |f: fn(&Supplier) -> Option<String>| s.as_ref().and_then(f).unwrap_or_default();
    view! {
        <TextField form="supplier" label="Name" name="name" error=error value=get(|s| Some(s.name.clone())) />
        <TextField form="supplier" label="Contact" name="contact_name" error=error autocomplete="off" value=get(|s| s.contact_name.clone()) />
        <TextField form="supplier" label="Email" name="email" kind="email" error=error autocomplete="off" value=get(|s| s.email.clone()) />
        <TextField form="supplier" label="Phone" name="phone" kind="tel" error=error autocomplete="off" value=get(|s| s.phone.clone()) />
        <TextField form="supplier" label="Lead time (days)" name="lead_time_days" error=error hint="From ordering to delivery. 7 if left empty." value=get(|s| Some(s.lead_time_days.to_string())) />
        <TextField form="supplier" label="Takes orders on" name="order_days" error=error hint="Days of the week, like Mon, Thu. Empty: any day." value=get(|s| Some(if s.order_days.is_empty() { String::new() } else { order_days_label(&s.order_days) })) />
        <TextField form="supplier" label="Minimum order" name="minimum_order" error=error hint="The least an order must come to, like 150.00. Empty: none." value=get(|s| s.minimum_order_cents.map(money)) />
        <TextField form="supplier" label="Notes" name="notes" error=error autocomplete="off" value=get(|s| s.notes.clone()) />
    }
}

#[component]
pub fn SupplierPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let save = ServerAction::<SaveSupplier>::new();
    let item = ServerAction::<SaveSupplierItem>::new();
    let archive = ServerAction::<ArchiveSupplier>::new();
    let (error, item_error, archive_error) = (
        last_error(save.value()),
        last_error(item.value()),
        last_error(archive.value()),
    );
    // Bumped when a catalog sync lands, so the items list follows.
    let synced = RwSignal::new(0u32);
    let detail = Resource::new(
        move || {
            (
                id(),
                save.version().get(),
                item.version().get(),
                synced.get(),
            )
        },
        |(id, ..)| get_supplier(SupplierId::from_stored(id)),
    );
    view! {
        <Title text="Supplier" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let d = match detail.await {
                    Ok(d) => d,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let s = d.supplier.clone();
                let org_id = s.organization_id.to_string();
                let archived = move || matches!(archive.value().get(), Some(Ok(())));
                view! {
                    <Breadcrumbs trail=vec![
                        (d.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        ("Suppliers".into(), Some(format!("/organizations/{org_id}/suppliers"))),
                        (s.name.clone(), None),
                    ] />
                    <div class="page-head"><h1>{s.name.clone()}</h1></div>
                    <p class="muted">
                        {format!("Lead time {} day{} · takes orders {} · minimum order {}",
                            s.lead_time_days, if s.lead_time_days == 1 { "" } else { "s" },
                            if s.order_days.is_empty() { "any day".to_string() } else { order_days_label(&s.order_days) }, cents(s.minimum_order_cents))}
                        {s.email.clone().map(|e| view! { " · " <a href=format!("mailto:{e}")>{e.clone()}</a> })}
                        {s.phone.clone().map(|p| view! { " · " {p} })}
                    </p>
                    {move || archived().then(|| view! { <p class="notice" role="status">"Archived: it no longer shows in the lists."</p> })}
                    <h2>"What they sell"</h2>
                    {if d.items.is_empty() {
                        view! { <EmptyState title="No items yet"><p>"Add the items you order from them, with the pack size and price."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="What they sell">
                                <table class="table">
                                    <thead><tr><th>"SKU"</th><th>"Description"</th><th>"Product"</th><th class="num">"Pack"</th><th class="num">"Price"</th><th>"Barcode"</th></tr></thead>
                                    <tbody>
                                        {d.items.iter().map(|i| view! {
                                            <tr>
                                                <td>{i.sku.clone()}</td>
                                                <td>{i.description.clone()}{(!i.available).then(|| view! { " " <span class="badge badge-ok">"unavailable"</span> })}</td>
                                                <td>{match (&i.product_id, &i.product_name) {
                                                    (Some(p), Some(n)) => view! { <a href=format!("/products/{p}")>{n.clone()}</a> }.into_any(),
                                                    _ => view! { <span class="badge badge-low">"not tied to a product"</span> }.into_any(),
                                                }}</td>
                                                <td class="num">{match i.unit {
                                                    Some(u) => format!("{} {}", i.pack_size, unit_word(u)),
                                                    None => i.pack_size.clone(),
                                                }}</td>
                                                <td class="num">{cents(i.price_cents)}</td>
                                                <td>{i.barcode.clone().unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    {d.can_edit.then(|| {
                        let sid = s.id.to_string();
                        let (sid_save, sid_archive) = (sid.clone(), sid.clone());
                        let org_save = org_id.clone();
                        view! {
                            <section class="card">
                                <h2>"Add or change an item"</h2>
                                <p class="muted">"An item with a SKU already listed is changed. With no product chosen, a barcode the catalog knows ties it to that product."</p>
                                <ActionForm action=item attr:class="stack">
                                    <input type="hidden" name="supplier" value=sid />
                                    <TextField form="item" label="SKU" name="sku" error=item_error autocomplete="off" hint="The supplier's item code." />
                                    <TextField form="item" label="Description" name="description" error=item_error autocomplete="off" />
                                    <div class="field">
                                        <label for="item-product">"Product"</label>
                                        <select id="item-product" name="product">
                                            <option value="">"Find by barcode"</option>
                                            {d.products.iter().map(|(id, name, unit)| view! {
                                                <option value=id.to_string()>{format!("{name} ({})", unit_word(*unit))}</option>
                                            }).collect_view()}
                                        </select>
                                    </div>
                                    <TextField form="item" label="Barcode" name="barcode" error=item_error autocomplete="off" />
                                    <TextField form="item" label="Pack size" name="pack_size" error=item_error hint="How much of the product one pack holds, in its unit: 24 (cans), 10 (kg)." />
                                    <TextField form="item" label="Price of a pack" name="price" error=item_error hint="Like 18.40. Empty if not known." />
                                    <div class="field check"><label><input type="checkbox" name="unavailable" value="on" />" Not available at the moment"</label></div>
                                    <FormError error=item_error fields=&["sku", "description", "barcode", "product", "pack_size", "price"] />
                                    <SubmitButton label="Save item" busy_label="Saving…" pending=item.pending() />
                                </ActionForm>
                            </section>
                            <CatalogSync supplier=s.id.clone() feed=d.feed.clone() done=synced />
                            <details class="card">
                                <summary>"Change the supplier's details"</summary>
                                <ActionForm action=save attr:class="stack">
                                    <input type="hidden" name="organization" value=org_save />
                                    <input type="hidden" name="id" value=sid_save />
                                    <SupplierFields error=error supplier=Some(s.clone()) />
                                    <FormError error=error fields=SUPPLIER_FIELDS />
                                    <SubmitButton label="Save" busy_label="Saving…" pending=save.pending() />
                                </ActionForm>
                                <div class="danger-zone">
                                    <ActionForm action=archive>
                                        <input type="hidden" name="id" value=sid_archive />
                                        <FormError error=archive_error fields=&[] />
                                        <button type="submit" class="button danger">"Archive supplier"</button>
                                    </ActionForm>
                                </div>
                            </details>
                        }
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

/// A unit as a pack size says it: "each", "kg".
fn unit_word(u: Unit) -> &'static str {
    u.as_str()
}

#[component]
pub fn OrdersPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = move || params.read().get("id").unwrap_or_default();
    let create = ServerAction::<CreateOrder>::new();
    let draft = ServerAction::<DraftOrders>::new();
    let (error, draft_error) = (last_error(create.value()), last_error(draft.value()));
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/orders/{id}"), Default::default());
        }
    });
    let list = Resource::new(
        move || (pantry(), draft.version().get()),
        |(p, _)| get_orders(PantryId::from_stored(p)),
    );
    view! {
        <Title text="Orders" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let l = match list.await {
                    Ok(l) => l,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = l.pantry_id.to_string();
                let org_id = l.organization_id.to_string();
                view! {
                    <Breadcrumbs trail=vec![
                        (l.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        (l.pantry_name.clone(), Some(format!("/pantries/{pid}"))),
                        ("Orders".into(), None),
                    ] />
                    <div class="page-head">
                        <h1>"Orders"</h1>
                        <div class="actions"><a class="button" href=format!("/organizations/{org_id}/suppliers")>"Suppliers"</a></div>
                    </div>
                    {move || draft.value().get().and_then(Result::ok).map(|d| view! {
                        <div class="notice" role="status">
                            {if d.orders.is_empty() {
                                view! { <p>"Nothing to order from a supplier right now."</p> }.into_any()
                            } else {
                                view! {
                                    <p>"Drafted: "
                                        {d.orders.iter().map(|(id, label, supplier)| view! {
                                            <a href=format!("/orders/{id}")>{format!("{label} ({supplier})")}</a>" "
                                        }).collect_view()}
                                    </p>
                                }.into_any()
                            }}
                            {(!d.unsupplied.is_empty()).then(|| view! {
                                <p>{format!("No supplier sells: {}.", d.unsupplied.join(", "))}</p>
                            })}
                        </div>
                    })}
                    {if l.orders.is_empty() {
                        view! { <EmptyState title="No orders yet"><p>"Start one for a supplier, or draft them from what the forecasts say to order."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Orders">
                                <table class="table">
                                    <thead><tr><th>"Order"</th><th>"Supplier"</th><th>"Status"</th><th>"Started"</th><th class="num">"Lines"</th><th class="num">"Total"</th></tr></thead>
                                    <tbody>
                                        {l.orders.iter().map(|o| view! {
                                            <tr>
                                                <td><a href=format!("/orders/{}", o.id)>{order_label(o.number)}</a></td>
                                                <td>{o.supplier_name.clone()}</td>
                                                <td><span class="badge">{o.status.label()}</span></td>
                                                <td>{o.created.clone()}</td>
                                                <td class="num">{o.lines}</td>
                                                <td class="num">{money(o.total_cents)}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    {l.can_order.then(|| {
                        let (pid_create, pid_draft) = (pid.clone(), pid.clone());
                        let suppliers_link = format!("/organizations/{org_id}/suppliers");
                        view! {
                        <section class="card">
                            <h2>"Start an order"</h2>
                            {if l.suppliers.is_empty() {
                                view! { <p>"Add a supplier first, on the " <a href=suppliers_link.clone()>"suppliers page"</a> "."</p> }.into_any()
                            } else {
                                view! {
                                    <ActionForm action=create attr:class="stack">
                                        <input type="hidden" name="pantry" value=pid_create.clone() />
                                        <div class="field">
                                            <label for="order-supplier">"Supplier"</label>
                                            <select id="order-supplier" name="supplier">
                                                {l.suppliers.iter().map(|(id, name)| view! { <option value=id.to_string()>{name.clone()}</option> }).collect_view()}
                                            </select>
                                        </div>
                                        <TextField form="order" label="Note" name="note" error=error autocomplete="off" />
                                        <FormError error=error fields=&["note"] />
                                        <SubmitButton label="Start order" busy_label="Starting…" pending=create.pending() />
                                    </ActionForm>
                                }.into_any()
                            }}
                            <ActionForm action=draft attr:class="stack">
                                <input type="hidden" name="pantry" value=pid_draft />
                                <p class="muted">"Or let Larder draft them: what the forecasts say to order, from the supplier that sells each product, rounded up to whole packs."</p>
                                <FormError error=draft_error fields=&[] />
                                <SubmitButton label="Draft from recommendations" busy_label="Drafting…" pending=draft.pending() class="button" />
                            </ActionForm>
                        </section>
                        }
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn OrderPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let line = ServerAction::<SetOrderLine>::new();
    let submit = ServerAction::<SubmitOrder>::new();
    let cancel = ServerAction::<CancelOrder>::new();
    let receive = ServerAction::<ReceiveOrder>::new();
    let (line_error, submit_error, cancel_error, receive_error) = (
        last_error(line.value()),
        last_error(submit.value()),
        last_error(cancel.value()),
        last_error(receive.value()),
    );
    let order = Resource::new(
        move || {
            (
                id(),
                line.version().get(),
                submit.version().get(),
                cancel.version().get(),
                receive.version().get(),
            )
        },
        |(id, ..)| get_order(PurchaseOrderId::from_stored(id)),
    );
    view! {
        <Title text="Order" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let o = match order.await {
                    Ok(o) => o,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let oid = o.id.to_string();
                let label = o.label();
                let received_now = matches!(receive.value().get_untracked(), Some(Ok(())));
                view! {
                    <Title text=label.clone() />
                    <Breadcrumbs trail=vec![
                        (o.pantry_name.clone(), Some(format!("/pantries/{}", o.pantry_id))),
                        ("Orders".into(), Some(format!("/pantries/{}/orders", o.pantry_id))),
                        (label.clone(), None),
                    ] />
                    <div class="page-head">
                        <h1>{format!("{label} · {}", o.supplier_name)}</h1>
                        <div class="actions">
                            <a class="button" href=format!("/orders/{oid}/order.csv") rel="external" download="">"Download CSV"</a>
                            <button type="button" class="button no-print" onclick="window.print()">"Print"</button>
                        </div>
                    </div>
                    <p>
                        <span class="badge">{o.status.label()}</span>
                        {format!(" · for {} · started {} by {}", o.pantry_name, o.created, o.created_by)}
                        {o.submitted.clone().map(|s| format!(" · submitted {s}"))}
                        {o.closed.clone().map(|s| format!(" · closed {s}"))}
                    </p>
                    <p class="muted">
                        {format!("{} · lead time {} day{}", o.supplier_name, o.lead_time_days, if o.lead_time_days == 1 { "" } else { "s" })}
                        {o.supplier_email.clone().map(|e| view! { " · " <a href=format!("mailto:{e}")>{e.clone()}</a> })}
                        {o.supplier_phone.clone().map(|p| format!(" · {p}"))}
                    </p>
                    {o.note.clone().map(|n| view! { <p>{n}</p> })}
                    {received_now.then(|| view! { <p class="notice" role="status">"Received: the stock is on the shelf."</p> })}
                    {o.below_minimum().map(|m| view! {
                        <p class="warning">{format!("Below {}'s minimum order of {}: {} so far.", o.supplier_name, money(m), money(o.total_cents))}</p>
                    })}
                    {if o.lines.is_empty() {
                        view! { <EmptyState title="No lines yet"><p>"Add the supplier's items below."</p></EmptyState> }.into_any()
                    } else {
                        let editing = o.can_edit;
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Order lines">
                                <table class="table">
                                    <thead><tr><th>"Product"</th><th>"SKU"</th><th class="num">"Packs"</th><th class="num">"Quantity"</th><th class="num">"Received"</th><th class="num">"Price"</th><th class="num">"Line"</th></tr></thead>
                                    <tbody>
                                        {o.lines.iter().map(|l| {
                                            view! {
                                                <tr>
                                                    <td>{l.product_name.clone()}</td>
                                                    <td>{l.sku.clone().unwrap_or_default()}</td>
                                                    <td class="num">{l.packs}</td>
                                                    <td class="num">{l.unit.format(l.ordered_parts)}</td>
                                                    <td class="num">{l.unit.format(l.received_parts)}</td>
                                                    <td class="num">{cents(l.price_cents)}</td>
                                                    <td class="num">{cents(l.line_cents)}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                    <tfoot><tr><th colspan="6">{if o.all_priced { "Total" } else { "Total of the priced lines" }}</th><th class="num">{money(o.total_cents)}</th></tr></tfoot>
                                </table>
                            </div>
                            {editing.then(|| view! { <p class="muted no-print">"To change a line, choose its item again with the new number of packs; 0 takes it off."</p> })}
                        }.into_any()
                    }}
                    {o.can_edit.then(|| {
                        let (oid_line, oid_submit) = (oid.clone(), oid.clone());
                        let addable = o.addable.clone();
                        let supplier_link = format!("/suppliers/{}", o.supplier_id);
                        view! {
                            <section class="card no-print">
                                <h2>"Add or change a line"</h2>
                                {if addable.is_empty() {
                                    view! { <p>"This supplier has no items tied to a product. Add them on " <a href=supplier_link.clone()>"its page"</a> "."</p> }.into_any()
                                } else {
                                    view! {
                                        <ActionForm action=line attr:class="stack">
                                            <input type="hidden" name="order" value=oid_line.clone() />
                                            <div class="field">
                                                <label for="line-item">"Item"</label>
                                                <select id="line-item" name="item">
                                                    {addable.iter().map(|(id, label)| view! { <option value=id.to_string()>{label.clone()}</option> }).collect_view()}
                                                </select>
                                            </div>
                                            <TextField form="line" label="Packs" name="packs" error=line_error value="1" />
                                            <FormError error=line_error fields=&["packs"] />
                                            <SubmitButton label="Add to order" busy_label="Adding…" pending=line.pending() />
                                        </ActionForm>
                                    }.into_any()
                                }}
                            </section>
                            <section class="card no-print">
                                <h2>"Send it"</h2>
                                <p class="muted">"Submitting marks the order as sent, so it counts as on order. Send the CSV or the printout to the supplier as they like to receive orders."</p>
                                <ActionForm action=submit>
                                    <input type="hidden" name="order" value=oid_submit />
                                    <FormError error=submit_error fields=&[] />
                                    <SubmitButton label="Submit order" busy_label="Submitting…" pending=submit.pending() />
                                </ActionForm>
                            </section>
                        }
                    })}
                    {o.can_receive.then(|| view! {
                        <ReceiveForm order=o.clone() action=receive error=receive_error />
                    })}
                    {(!matches!(o.status, OrderStatus::Received | OrderStatus::Cancelled)).then(|| {
                        let oid = oid.clone();
                        view! {
                            <div class="danger-zone no-print">
                                <ActionForm action=cancel>
                                    <input type="hidden" name="order" value=oid />
                                    <FormError error=cancel_error fields=&[] />
                                    <button type="submit" class="button danger">"Cancel order"</button>
                                </ActionForm>
                            </div>
                        }
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

/// What came: each outstanding line's quantity (filled in with what is
/// still to come) and best-before date.
#[component]
fn ReceiveForm(
    order: PurchaseOrder,
    action: ServerAction<ReceiveOrder>,
    #[prop(into)] error: Signal<Option<crate::error::AppError>>,
) -> impl IntoView {
    let lines: Vec<(ProductId, String, Unit, RwSignal<String>, RwSignal<String>)> = order
        .lines
        .iter()
        .filter(|l| l.outstanding_parts() > 0)
        .map(|l| {
            (
                l.product_id.clone(),
                l.product_name.clone(),
                l.unit,
                RwSignal::new(l.unit.amount(l.outstanding_parts())),
                RwSignal::new(String::new()),
            )
        })
        .collect();
    let id = order.id.clone();
    let to_send = lines.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let lines = to_send
            .iter()
            .map(|(product, _, _, quantity, best_before)| ReceiptLine {
                product: product.clone(),
                quantity: quantity.get_untracked(),
                best_before: best_before.get_untracked(),
            })
            .collect();
        action.dispatch(ReceiveOrder {
            order: id.clone(),
            lines,
        });
    };
    view! {
        <section class="card no-print">
            <h2>"Receive"</h2>
            <p class="muted">"What came of each line (what is still to come is filled in) and its best-before date. Less is fine: the rest stays on order."</p>
            <form class="stack" on:submit=submit aria-label="Receive the order">
                {lines.into_iter().enumerate().map(|(n, (_, name, unit, quantity, best_before))| {
                    let (qid, did) = (format!("receive-q-{n}"), format!("receive-d-{n}"));
                    view! {
                        <fieldset class="row-form">
                            <legend>{name}</legend>
                            <div class="field">
                                <label for=qid.clone()>{format!("Quantity ({})", unit.as_str())}</label>
                                <input id=qid inputmode="decimal" prop:value=move || quantity.get() on:input=move |ev| quantity.set(event_target_value(&ev)) />
                            </div>
                            <div class="field">
                                <label for=did.clone()>"Best before"</label>
                                <input id=did type="date" prop:value=move || best_before.get() on:input=move |ev| best_before.set(event_target_value(&ev)) />
                            </div>
                        </fieldset>
                    }
                }).collect_view()}
                <FormError error=error fields=&[] />
                <SubmitButton label="Receive" busy_label="Receiving…" pending=action.pending() />
            </form>
        </section>
    }
}

/// Bringing in a supplier's whole catalog from a file, and the history of
/// earlier syncs.
#[component]
fn CatalogSync(supplier: SupplierId, feed: Option<FeedView>, done: RwSignal<u32>) -> impl IntoView {
    let action = ServerAction::<ImportSupplierCatalog>::new();
    let save_feed = ServerAction::<SaveSupplierFeed>::new();
    let sync_now = ServerAction::<SyncSupplierNow>::new();
    let (feed_error, sync_error) = (last_error(save_feed.value()), last_error(sync_now.value()));
    let file_input = NodeRef::<leptos::html::Input>::new();
    let problem = RwSignal::new(None::<String>);
    let report = action.value();
    let error = last_error(report);
    let history = {
        let supplier = supplier.clone();
        Resource::new(
            move || (action.version().get(), sync_now.version().get()),
            move |_| get_supplier_syncs(supplier.clone()),
        )
    };
    Effect::new(move |_| {
        let landed = |r: Option<Result<SyncReport, AppError>>| matches!(r, Some(Ok(r)) if r.status == "done");
        if landed(report.get()) || landed(sync_now.value().get()) {
            done.update(|n| *n += 1);
        }
    });
    let feed_saved = move || matches!(save_feed.value().get(), Some(Ok(())));
    let sid_feed = supplier.to_string();
    let sid_sync = supplier.to_string();
    let has_feed = feed.is_some();
    let (url, schedule) = feed
        .as_ref()
        .map(|f| (f.url.clone(), f.schedule.clone()))
        .unwrap_or_default();
    let when = feed
        .as_ref()
        .map(|f| match (&f.schedule_text, &f.next_run) {
            (Some(text), Some(next)) => format!("{text} (next: {next})."),
            _ => "On demand only.".to_string(),
        });
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        #[cfg(feature = "hydrate")]
        {
            let supplier = supplier.clone();
            let Some(input) = file_input.get_untracked() else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                problem.set(Some("Choose the supplier's file first.".into()));
                return;
            };
            if file.size() > 5_000_000.0 {
                problem.set(Some("That file is over 5 MB.".into()));
                return;
            }
            let name = file.name();
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => {
                        action.dispatch(ImportSupplierCatalog {
                            supplier,
                            name,
                            text: text.as_string().unwrap_or_default(),
                        });
                    }
                    Err(_) => problem.set(Some("The file could not be read.".into())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&supplier, file_input);
    };
    view! {
        <section class="card">
            <h2>"Bring in their catalog"</h2>
            <p class="hint">"A CSV with a header row (sku, description, barcode, pack_size, price, available) or a JSON list of the same. Items are added or changed by SKU; what the file no longer lists is marked unavailable. A file with a bad row changes nothing."</p>
            <form class="stack" on:submit=send aria-label="Bring in the supplier's catalog">
                <div class="field">
                    <label for="sync-file">"Catalog file"</label>
                    <input id="sync-file" type="file" accept=".csv,.json,text/csv,application/json" node_ref=file_input />
                </div>
                <div aria-live="polite">
                    {move || problem.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                </div>
                <FormError error=error fields=&[] />
                <SubmitButton label="Bring in" busy_label="Reading…" pending=action.pending() class="button" />
            </form>
            {move || report.get().and_then(Result::ok).map(|r| {
                let failed = r.status != "done";
                view! {
                    <div class=if failed { "warning" } else { "notice" } role=if failed { "alert" } else { "status" }>
                        <p>{r.message.clone()}</p>
                        {(!r.errors.is_empty()).then(|| view! {
                            <table class="table">
                                <thead><tr><th scope="col">"Line"</th><th scope="col">"Problem"</th></tr></thead>
                                <tbody>
                                    {r.errors.iter().map(|e| view! { <tr><td>{e.line}</td><td>{e.message.clone()}</td></tr> }).collect_view()}
                                </tbody>
                            </table>
                        })}
                    </div>
                }
            })}
            <div class="subsection">
            <h3>"From their web address"</h3>
            <p class="hint">"Larder fetches the same CSV or JSON from the supplier's address when you ask, and on a schedule if you give one."</p>
            {when.map(|w| view! { <p class="muted">{w}</p> })}
            <ActionForm action=save_feed attr:class="stack" attr:aria-label="The supplier's catalog address">
                <input type="hidden" name="supplier" value=sid_feed />
                <TextField form="feed" label="Catalog address" name="url" kind="url" value=url error=feed_error autocomplete="off" hint="https://… Empty stops fetching it." />
                <TextField form="feed" label="Schedule" name="schedule" value=schedule error=feed_error autocomplete="off" hint="Minute hour day month weekday, on the organization's clock: 0 2 * * * is 02:00 every night, 30 6 * * MON is Mondays at 06:30. Empty: only when you ask." />
                <FormError error=feed_error fields=&["url", "schedule"] />
                {move || feed_saved().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
                <SubmitButton label="Save address" busy_label="Saving…" pending=save_feed.pending() class="button" />
            </ActionForm>
            {has_feed.then(|| view! {
                <ActionForm action=sync_now attr:class="stack">
                    <input type="hidden" name="supplier" value=sid_sync />
                    <FormError error=sync_error fields=&["url"] />
                    <SubmitButton label="Sync now" busy_label="Fetching…" pending=sync_now.pending() class="button" />
                </ActionForm>
            })}
            {move || sync_now.value().get().and_then(Result::ok).map(|r| {
                let failed = r.status != "done";
                view! {
                    <div class=if failed { "warning" } else { "notice" } role=if failed { "alert" } else { "status" }>
                        <p>{r.message.clone()}</p>
                        {(!r.errors.is_empty()).then(|| view! {
                            <ul>{r.errors.iter().map(|e| view! { <li>{format!("Line {}: {}", e.line, e.message)}</li> }).collect_view()}</ul>
                        })}
                    </div>
                }
            })}
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let rows = history.await.unwrap_or_default();
                    (!rows.is_empty()).then(|| view! {
                        <h3>"Earlier syncs"</h3>
                        <ul class="plain">
                            {rows.into_iter().map(|r| view! {
                                <li>
                                    <span class=if r.status == "done" { "badge" } else { "badge danger" }>{if r.status == "done" { "done" } else { "failed" }}</span>
                                    {format!(" {} · {} · {} ms · {}", r.at, r.source, r.duration_ms, r.message)}
                                    {(!r.changes.is_empty()).then(|| view! {
                                        <details><summary>{format!("{} change{}", r.changes.len(), if r.changes.len() == 1 { "" } else { "s" })}</summary>
                                            <ul>{r.changes.into_iter().map(|c| view! { <li>{c}</li> }).collect_view()}</ul>
                                        </details>
                                    })}
                                </li>
                            }).collect_view()}
                        </ul>
                    })
                })}
            </Suspense>
        </section>
    }
}

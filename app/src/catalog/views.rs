//! Catalog pages: the organization's product list with search, filters,
//! CSV import and export, and a product's own page for editing.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use crate::error::AppError;
use crate::ids::{OrganizationId, ProductId};
use crate::inventory::views::encode;
use crate::ui::*;

fn catalog_href(org: &str, q: &str, category: &str, sort: ProductSort, page: i64) -> String {
    let mut parts = Vec::new();
    if !q.is_empty() {
        parts.push(format!("q={}", encode(q)));
    }
    if !category.is_empty() {
        parts.push(format!("category={}", encode(category)));
    }
    if sort != ProductSort::Name {
        parts.push(format!("sort={}", sort.as_str()));
    }
    if page > 1 {
        parts.push(format!("page={page}"));
    }
    let query = if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    };
    format!("/organizations/{org}/catalog{query}")
}

/// The fields of a product, filled with `f`; used to add and to edit.
#[component]
fn ProductFormFields(
    form: &'static str,
    f: ProductFields,
    categories: Vec<String>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let list_id = format!("{form}-categories");
    let unit_id = format!("{form}-unit");
    let perishable_id = format!("{form}-perishable");
    let suggestions: Vec<String> = if categories.is_empty() {
        SUGGESTED_CATEGORIES.iter().map(|c| c.to_string()).collect()
    } else {
        categories
    };
    let field_error = move |name: &'static str| {
        move || {
            error
                .get()
                .filter(|e| e.field() == Some(name))
                .map(|e| view! { <p class="field-error">{e.to_string()}</p> })
        }
    };
    view! {
        <TextField form=form label="Name" name="name" error=error value=f.name.clone() />
        <div class="field">
            <label for=format!("{form}-category")>"Category"</label>
            <input id=format!("{form}-category") name="category" list=list_id.clone() value=f.category.clone() autocomplete="off" />
            <datalist id=list_id>
                {suggestions.into_iter().map(|c| view! { <option value=c></option> }).collect_view()}
            </datalist>
            {field_error("category")}
        </div>
        <div class="field">
            <label for=unit_id.clone()>"Counted in"</label>
            <select id=unit_id name="unit">
                {Unit::ALL.iter().map(|u| {
                    let label = match u {
                        Unit::Each => "Items (each)",
                        Unit::Pack => "Packs",
                        Unit::Kg => "Kilograms",
                        Unit::Lb => "Pounds",
                        Unit::L => "Litres",
                    };
                    view! { <option value=u.as_str() selected=f.unit == u.as_str()>{label}</option> }
                }).collect_view()}
            </select>
            {field_error("unit")}
        </div>
        <TextField form=form label="Weight of one, in grams" name="unit_weight_g" error=error value=f.unit_weight_g.clone() hint="For items and packs; reports use it for weight" />
        <TextField form=form label="Barcodes" name="barcodes" error=error value=f.barcodes.clone() hint="EAN, UPC or GTIN; separate several with commas" />
        <TextField form=form label="SKU" name="sku" error=error value=f.sku.clone() hint="Optional: your own or your supplier's item code" />
        <TextField form=form label="Shelf life in days" name="shelf_life_days" error=error value=f.shelf_life_days.clone() hint="Sets the best-before date when none is entered" />
        <div class="field check">
            <input type="checkbox" id=perishable_id.clone() name="perishable" checked=f.perishable />
            <label for=perishable_id>"Perishable (needs a best-before date)"</label>
        </div>
    }
}

#[component]
pub fn CatalogPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("id").unwrap_or_default();
    let q = move || query.read().get("q").unwrap_or_default();
    let category = move || query.read().get("category").unwrap_or_default();
    let sort = move || ProductSort::parse(&query.read().get("sort").unwrap_or_default());
    let page = move || {
        query
            .read()
            .get("page")
            .and_then(|p| p.parse::<i64>().ok())
            .unwrap_or(1)
    };
    let create = ServerAction::<CreateProduct>::new();
    let import = ServerAction::<ImportProducts>::new();
    let data = Resource::new(
        move || {
            (
                org(),
                q(),
                category(),
                sort(),
                page(),
                create.version().get(),
                import.version().get(),
            )
        },
        |(org, q, category, sort, page, _, _)| {
            get_products(
                OrganizationId::from_stored(org),
                q,
                category,
                sort.as_str().into(),
                page,
            )
        },
    );
    let create_error = last_error(create.value());
    let create_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if let Some(f) = create_form.get() {
                f.reset();
            }
        }
    });
    view! {
        <Title text="Catalog" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let oid = v.organization_id.to_string();
                let (q, category, sort) = (q(), category(), sort());
                let pages = v.pages();
                let prev = (v.page > 1).then(|| catalog_href(&oid, &q, &category, sort, v.page - 1));
                let next = (v.page < pages).then(|| catalog_href(&oid, &q, &category, sort, v.page + 1));
                let categories = v.categories.clone();
                view! {
                    <Title text=format!("Catalog · {}", v.organization_name) />
                    <Breadcrumbs trail=vec![
                        (v.organization_name.clone(), Some(format!("/organizations/{oid}"))),
                        ("Catalog".into(), None),
                    ] />
                    <div class="page-head">
                        <h1>"Catalog"</h1>
                        <a class="button" href=format!("/organizations/{oid}/catalog.csv") download="catalog.csv" rel="external">"Export CSV"</a>
                    </div>
                    <form method="get" class="search-bar" role="search">
                        <div class="field grow">
                            <label for="catalog-q">"Search by name, barcode or SKU"</label>
                            <input id="catalog-q" name="q" type="search" value=q.clone() autocomplete="off" />
                        </div>
                        <div class="field">
                            <label for="catalog-category">"Category"</label>
                            <select id="catalog-category" name="category">
                                <option value="" selected=category.is_empty()>"All categories"</option>
                                {v.categories.iter().map(|c| view! { <option value=c.clone() selected=c.eq_ignore_ascii_case(&category)>{c.clone()}</option> }).collect_view()}
                            </select>
                        </div>
                        <div class="field">
                            <label for="catalog-sort">"Sort by"</label>
                            <select id="catalog-sort" name="sort">
                                {[(ProductSort::Name, "Name"), (ProductSort::Category, "Category"), (ProductSort::Recent, "Recently changed")]
                                    .into_iter()
                                    .map(|(s, label)| view! { <option value=s.as_str() selected=s == sort>{label}</option> })
                                    .collect_view()}
                            </select>
                        </div>
                        <button class="button" type="submit">"Search"</button>
                    </form>
                    <p class="muted">{format!("{} product{}", v.total, if v.total == 1 { "" } else { "s" })}</p>
                    {if v.items.is_empty() {
                        view! {
                            <EmptyState title="No products">
                                <p>{if q.is_empty() && category.is_empty() { "Add the first product below, or import a CSV file." } else { "Nothing matches that search." }}</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <ul class="stock-list">
                                {v.items.iter().map(|p| view! {
                                    <li class="stock-row">
                                        <a class="stock-name" href=format!("/products/{}", p.id)>{p.name.clone()}</a>
                                        <span class="stock-category muted">{p.category.clone()}</span>
                                        <span class="muted">{p.unit.as_str()}</span>
                                        <span class="badges">
                                            {p.perishable.then(|| view! { <span class="badge">"Perishable"</span> })}
                                            {p.barcodes.first().map(|b| view! { <span class="badge badge-ok">{b.display().to_string()}</span> })}
                                            {p.sku.clone().map(|s| view! { <span class="badge" title="SKU">{s}</span> })}
                                        </span>
                                    </li>
                                }).collect_view()}
                            </ul>
                            <nav class="pager" aria-label="Pages">
                                {prev.map(|h| view! { <a class="button small" href=h rel="prev">"Previous"</a> })}
                                <span class="muted">{format!("Page {} of {}", v.page, pages)}</span>
                                {next.map(|h| view! { <a class="button small" href=h rel="next">"Next"</a> })}
                            </nav>
                        }.into_any()
                    }}
                    {v.can_edit.then(|| {
                        let oid1 = oid.clone();
                        let oid2 = oid.clone();
                        view! {
                            <div class="columns">
                                <section class="card">
                                    <h2>"Add a product"</h2>
                                    <ActionForm action=create node_ref=create_form attr:class="stack" attr:aria-label="Add a product">
                                        <input type="hidden" name="organization" value=oid1 />
                                        <ProductFormFields form="new-product" f=ProductFields {
                                            unit: "each".into(),
                                            // "Add to catalog" from a photographed barcode,
                                            // or an item the vision model named.
                                            barcodes: query.read_untracked().get("barcode").unwrap_or_default(),
                                            name: query.read_untracked().get("name").unwrap_or_default(),
                                            ..Default::default()
                                        }
                                            categories=categories.clone() error=create_error />
                                        <FormError error=create_error fields=&["name", "category", "unit", "unit_weight_g", "barcodes", "sku", "shelf_life_days"] />
                                        <SubmitButton label="Add product" busy_label="Adding…" pending=create.pending() />
                                    </ActionForm>
                                </section>
                                <ImportCard organization=oid2 action=import />
                            </div>
                        }
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

/// Import a catalog CSV: the file is read in the browser and sent as text.
#[component]
fn ImportCard(organization: String, action: ServerAction<ImportProducts>) -> impl IntoView {
    let file_input = NodeRef::<leptos::html::Input>::new();
    let skip = RwSignal::new(false);
    let problem = RwSignal::new(None::<String>);
    let report = action.value();
    let error = last_error(report);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        problem.set(None);
        #[cfg(feature = "hydrate")]
        {
            let organization = organization.clone();
            let Some(input) = file_input.get_untracked() else {
                return;
            };
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                problem.set(Some("Choose a CSV file first.".into()));
                return;
            };
            if file.size() > 2_000_000.0 {
                problem.set(Some(
                    "That file is over 2 MB; split it into smaller files.".into(),
                ));
                return;
            }
            leptos::task::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(text) => {
                        action.dispatch(ImportProducts {
                            organization: OrganizationId::from_stored(organization),
                            csv: text.as_string().unwrap_or_default(),
                            skip_bad: skip.get_untracked().then(|| "on".to_string()),
                        });
                    }
                    Err(_) => problem.set(Some("The file could not be read.".into())),
                }
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&organization, file_input);
    };
    view! {
        <section class="card">
            <h2>"Import from CSV"</h2>
            <p class="hint">{format!("Columns: {}. Known names are updated, new ones added.", "name, sku, category, unit, unit_weight_g, barcodes, perishable, shelf_life_days")}</p>
            <form class="stack" on:submit=send>
                <div class="field">
                    <label for="import-file">"CSV file"</label>
                    <input id="import-file" type="file" accept=".csv,text/csv" node_ref=file_input />
                </div>
                <div class="field check">
                    <input id="import-skip" type="checkbox" prop:checked=move || skip.get() on:change=move |ev| skip.set(event_target_checked(&ev)) />
                    <label for="import-skip">"Import the good rows even if some are bad"</label>
                </div>
                <div aria-live="polite">
                    {move || problem.get().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                </div>
                <FormError error=error fields=&[] />
                <SubmitButton label="Import" busy_label="Importing…" pending=action.pending() class="button" />
            </form>
            {move || report.get().and_then(Result::ok).map(|r| view! {
                // A refused import is an error, not a success.
                <div class=if r.rejected { "warning" } else { "notice" } role=if r.rejected { "alert" } else { "status" }>
                    {if r.rejected {
                        format!("Nothing was imported: {} row{} need fixing.", r.errors.len(), if r.errors.len() == 1 { "" } else { "s" })
                    } else {
                        format!("Imported: {} new, {} updated, {} unchanged.", r.created, r.updated, r.skipped)
                    }}
                    {(!r.errors.is_empty()).then(|| view! {
                        <table class="table">
                            <thead><tr><th scope="col">"Line"</th><th scope="col">"Problem"</th></tr></thead>
                            <tbody>
                                {r.errors.iter().take(200).map(|e| view! { <tr><td>{e.line}</td><td>{e.message.clone()}</td></tr> }).collect_view()}
                            </tbody>
                        </table>
                    })}
                </div>
            })}
        </section>
    }
}

/// `/products/:id`: a product's details, to edit or archive.
#[component]
pub fn ProductPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || ProductId::from_stored(params.read().get("id").unwrap_or_default());
    let update = ServerAction::<UpdateProduct>::new();
    let archive = ServerAction::<ArchiveProduct>::new();
    let data = Resource::new(
        move || (id(), update.version().get()),
        |(id, _)| get_product(id),
    );
    let update_error = last_error(update.value());
    let archive_error = last_error(archive.value());
    let navigate = use_navigate();
    view! {
        <Title text="Product" />
        <Transition fallback=Loading>
            {move || Suspend::new({
                let navigate = navigate.clone();
                async move {
                let (p, can_edit, org_name) = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let oid = p.organization_id.to_string();
                let catalog = format!("/organizations/{oid}/catalog");
                let catalog_1 = catalog.clone();
                Effect::new(move |_| {
                    if let Some(Ok(())) = archive.value().get() {
                        navigate(&catalog_1, Default::default());
                    }
                });
                let saved = move || matches!(update.value().get(), Some(Ok(())));
                let pid = p.id.to_string();
                let pid_1 = pid.clone();
                view! {
                    <Title text=p.name.clone() />
                    <Breadcrumbs trail=vec![
                        (org_name, Some(format!("/organizations/{oid}"))),
                        ("Catalog".into(), Some(catalog)),
                        (p.name.clone(), None),
                    ] />
                    <div class="page-head">
                        <h1>{p.name.clone()}</h1>
                        {p.archived.then(|| view! { <span class="badge badge-ok">"Archived"</span> })}
                    </div>
                    <crate::inventory::views::ProductEverywhereCard product=p.id.clone() />
                    {if can_edit && !p.archived {
                        view! {
                            <section class="card">
                                <h2>"Details"</h2>
                                <ActionForm action=update attr:class="stack">
                                    <input type="hidden" name="id" value=pid />
                                    <ProductFormFields form="edit-product" f=p.fields() categories=vec![] error=update_error />
                                    <FormError error=update_error fields=&["name", "category", "unit", "unit_weight_g", "barcodes", "sku", "shelf_life_days"] />
                                    <div aria-live="polite">{move || saved().then(|| view! { <p class="notice" role="status">"Saved."</p> })}</div>
                                    <SubmitButton label="Save changes" busy_label="Saving…" pending=update.pending() />
                                </ActionForm>
                            </section>
                            <details class="card settings">
                                <summary>"Archive"</summary>
                                <ActionForm action=archive attr:class="stack">
                                    <input type="hidden" name="id" value=pid_1 />
                                    <p>"Archiving hides the product from the catalog and from stock lists. Its history stays. It is refused while any pantry holds some."</p>
                                    <FormError error=archive_error fields=&[] />
                                    <SubmitButton label="Archive product" busy_label="Archiving…" pending=archive.pending() class="button danger" />
                                </ActionForm>
                            </details>
                        }.into_any()
                    } else {
                        view! {
                            <section class="card">
                                <dl class="facts">
                                    <div><dt>"Category"</dt><dd>{p.category.clone()}</dd></div>
                                    <div><dt>"Counted in"</dt><dd>{p.unit.as_str()}</dd></div>
                                    <div><dt>"Barcodes"</dt><dd>{p.barcodes.iter().map(|b| b.display().to_string()).collect::<Vec<_>>().join(", ")}</dd></div>
                                    {p.sku.clone().map(|s| view! { <div><dt>"SKU"</dt><dd>{s}</dd></div> })}
                                    <div><dt>"Perishable"</dt><dd>{if p.perishable { "Yes" } else { "No" }}</dd></div>
                                </dl>
                            </section>
                        }.into_any()
                    }}
                }.into_any()
            }})}
        </Transition>
    }
}

//! A pantry's visits, and one visit with its corrections and void.

use super::*;

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

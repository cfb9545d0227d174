//! The stock issue pages: a pantry's (`/pantries/{id}/issues`) and an
//! organization's (`/organizations/{id}/issues`), each issue with its
//! explanation, its numbers, and accept or dismiss.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::api::*;
use super::model::*;
use crate::ids::{OrganizationId, PantryId};
use crate::ui::*;

#[component]
pub fn PantryIssuesPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = move || params.read().get("id").unwrap_or_default();
    let (accept, dismiss) = (
        ServerAction::<AcceptStockIssue>::new(),
        ServerAction::<DismissStockIssue>::new(),
    );
    let list = Resource::new(
        move || (pantry(), accept.version().get(), dismiss.version().get()),
        |(p, ..)| get_stock_issues(PantryId::from_stored(p)),
    );
    view! {
        <Title text="Stock issues" />
        <Issues list=list accept=accept dismiss=dismiss />
    }
}

#[component]
pub fn OrganizationIssuesPage() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("id").unwrap_or_default();
    let (accept, dismiss) = (
        ServerAction::<AcceptStockIssue>::new(),
        ServerAction::<DismissStockIssue>::new(),
    );
    let list = Resource::new(
        move || (org(), accept.version().get(), dismiss.version().get()),
        |(o, ..)| get_organization_stock_issues(OrganizationId::from_stored(o)),
    );
    view! {
        <Title text="Stock issues" />
        <Issues list=list accept=accept dismiss=dismiss />
    }
}

#[component]
fn Issues(
    list: Resource<Result<IssueList, crate::error::AppError>>,
    accept: ServerAction<AcceptStockIssue>,
    dismiss: ServerAction<DismissStockIssue>,
) -> impl IntoView {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(a)) = accept.value().get() {
            if let Some(order) = a.order_id {
                navigate(&format!("/orders/{order}"), Default::default());
            }
        }
    });
    let (accept_error, dismiss_error) = (last_error(accept.value()), last_error(dismiss.value()));
    view! {
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let l = match list.await {
                    Ok(l) => l,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = l.organization_id.to_string();
                let mut trail = vec![(l.organization_name.clone(), Some(format!("/organizations/{org_id}")))];
                if let Some((id, name)) = &l.pantry {
                    trail.push((name.clone(), Some(format!("/pantries/{id}"))));
                }
                trail.push(("Stock issues".into(), None));
                let can_act = l.can_act;
                // An organization's list says which pantry; a pantry's need not.
                let show_pantry = l.pantry.is_none();
                view! {
                    <Breadcrumbs trail=trail />
                    <div class="page-head"><h1>"Stock issues"</h1></div>
                    <p class="muted">"What Larder noticed in the stock, the forecasts, the orders and the suppliers' prices, with what it proposes. Accepting does it; dismissing says why not."</p>
                    {move || accept.value().get().and_then(Result::ok).filter(|a| a.order_id.is_none()).map(|a| view! {
                        <p class="notice" role="status">{a.message}</p>
                    })}
                    <FormError error=accept_error fields=&["issue"] />
                    {if l.open.is_empty() {
                        view! { <EmptyState title="Nothing needs you"><p>"No open issues. Larder looks again whenever stock moves, forecasts are made or an order changes."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <ul class="plain stack" aria-label="Open issues">
                                {l.open.into_iter().map(|i| view! { <li><IssueCard issue=i can_act=can_act show_pantry=show_pantry accept=accept dismiss=dismiss dismiss_error=dismiss_error /></li> }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    {(!l.closed.is_empty()).then(|| view! {
                        <details class="card">
                            <summary>{format!("Closed lately ({})", l.closed.len())}</summary>
                            <ul class="plain">
                                {l.closed.into_iter().map(|i| view! {
                                    <li>
                                        <strong>{i.title.clone()}</strong>
                                        <span class="muted">{format!(" · {}", i.closing.clone().unwrap_or_default())}</span>
                                        {i.order_id.clone().map(|o| view! { " · " <a href=format!("/orders/{o}")>"the order"</a> })}
                                    </li>
                                }).collect_view()}
                            </ul>
                        </details>
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
fn IssueCard(
    issue: StockIssue,
    can_act: bool,
    show_pantry: bool,
    accept: ServerAction<AcceptStockIssue>,
    dismiss: ServerAction<DismissStockIssue>,
    dismiss_error: Signal<Option<crate::error::AppError>>,
) -> impl IntoView {
    let (badge, word, card) = match issue.severity {
        Severity::Urgent => ("badge danger", "Urgent", "card issue issue-urgent"),
        Severity::Warning => ("badge badge-low", "Soon", "card issue issue-warning"),
        Severity::Info => ("badge", "Note", "card issue"),
    };
    let id = issue.id.to_string();
    let (id_accept, id_dismiss) = (id.clone(), id.clone());
    let label = issue.proposal.action_label();
    let (heading, labelled_by) = (format!("issue-{id}"), format!("issue-{id}"));
    let (reason_for, reason_id) = (format!("reason-{id}"), format!("reason-{id}"));
    view! {
        <article class=card aria-labelledby=labelled_by>
            <p><span class=badge>{word}</span>" "<span class="badge">{issue.kind.label()}</span>
                {issue.pantry_name.clone().filter(|_| show_pantry).map(|p| view! { <span class="muted">{format!(" · {p}")}</span> })}
            </p>
            <h2 id=heading>{issue.title.clone()}</h2>
            <p>{issue.explanation.clone()}</p>
            {issue.advice.clone().map(|a| view! { <p class="hint">{a}</p> })}
            <dl class="facts">
                {issue.numbers.iter().map(|(k, v)| view! { <div><dt>{k.clone()}</dt><dd>{v.clone()}</dd></div> }).collect_view()}
            </dl>
            <p class="muted">{format!("Raised {}", issue.raised_at)}</p>
            {(issue.kind == IssueKind::ParkedEvents).then(|| view! {
                <p><a href="events">"See each parked event and why it failed"</a></p>
            })}
            {can_act.then(|| view! {
                <div class="actions">
                    <ActionForm action=accept>
                        <input type="hidden" name="issue" value=id_accept />
                        <button type="submit" class="button primary" disabled=move || accept.pending().get()>{label}</button>
                    </ActionForm>
                    <details>
                        <summary>"Dismiss"</summary>
                        <ActionForm action=dismiss attr:class="stack">
                            <input type="hidden" name="issue" value=id_dismiss />
                            <div class="field">
                                <label for=reason_for>"Why not"</label>
                                <input id=reason_id name="reason" autocomplete="off" required placeholder="Ordered by phone" />
                            </div>
                            <FormError error=dismiss_error fields=&[] />
                            <SubmitButton label="Dismiss" busy_label="Dismissing…" pending=dismiss.pending() class="button" />
                        </ActionForm>
                    </details>
                </div>
            })}
        </article>
    }
}

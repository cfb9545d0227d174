//! `/organizations/:id/audit`: the organization's audit log, filtered by
//! period, kind and person, with its CSV.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::get_audit;
use super::model::AuditKind;
use crate::ids::OrganizationId;
use crate::inventory::views::encode;
use crate::ui::*;

#[component]
pub fn AuditPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("id").unwrap_or_default();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let log = Resource::new(
        move || {
            (
                org(),
                get("from"),
                get("to"),
                get("kind"),
                get("person"),
                get("before"),
            )
        },
        |(org, from, to, kind, person, before)| {
            get_audit(
                OrganizationId::from_stored(org),
                from,
                to,
                kind,
                person,
                before.parse().ok(),
            )
        },
    );
    view! {
        <Title text="Audit log" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let page = match log.await {
                    Ok(p) => p,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = org();
                let kind = AuditKind::parse(&get("kind"));
                let person = get("person");
                let filter = format!(
                    "from={}&to={}&kind={}&person={}",
                    page.from, page.to, kind.as_str(), encode(&person)
                );
                let csv = format!("/organizations/{org_id}/audit.csv?{filter}");
                let older = page.entries.last().filter(|_| page.more).map(|e| {
                    format!("/organizations/{org_id}/audit?{filter}&before={}", e.at_ms)
                });
                view! {
                    <Breadcrumbs trail=vec![
                        (page.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        ("Audit log".into(), None),
                    ] />
                    <div class="page-head">
                        <h1>"Audit log"</h1>
                        <div class="actions"><a class="button" href=csv rel="external" download="">"Download CSV"</a></div>
                    </div>
                    <form method="get" class="filters row-form">
                        <div class="field"><label for="audit-from">"From"</label><input id="audit-from" type="date" name="from" value=page.from.clone() /></div>
                        <div class="field"><label for="audit-to">"To"</label><input id="audit-to" type="date" name="to" value=page.to.clone() /></div>
                        <div class="field">
                            <label for="audit-kind">"Show"</label>
                            <select id="audit-kind" name="kind">
                                <option value="all" selected=kind == AuditKind::All>"Everything"</option>
                                <option value="changes" selected=kind == AuditKind::Changes>"Changes"</option>
                                <option value="sign_ins" selected=kind == AuditKind::SignIns>"Sign-ins"</option>
                            </select>
                        </div>
                        <div class="field"><label for="audit-person">"Person"</label><input id="audit-person" name="person" value=person.clone() placeholder="name or email" /></div>
                        <button type="submit" class="button">"Show"</button>
                    </form>
                    {if page.entries.is_empty() {
                        view! { <EmptyState title="Nothing in this period"><p>"Choose other days, or show everything."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <div class="table-wrap" tabindex="0" role="region" aria-label="Audit log entries">
                                <table class="table">
                                    <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Where"</th><th>"Address"</th></tr></thead>
                                    <tbody>
                                        {page.entries.iter().map(|e| view! {
                                            <tr>
                                                <td>{e.at.clone()}</td>
                                                <td>{e.who.clone()}</td>
                                                <td>{e.what.clone()}</td>
                                                <td>{e.place.clone()}</td>
                                                <td>{e.address.clone().unwrap_or_else(|| "—".into())}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                    {older.map(|href| view! { <p><a class="button" href=href>"Older entries"</a></p> })}
                }.into_any()
            })}
        </Transition>
    }
}

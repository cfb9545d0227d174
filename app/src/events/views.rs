//! The event admin page: how far each consumer has read, and the events
//! parked because a consumer kept failing on them, with a retry button.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use super::model::RetryOutcome;
use crate::ids::OrganizationId;
use crate::ui::*;

#[component]
pub fn EventsAdminPage() -> impl IntoView {
    let params = use_params_map();
    let org = move || OrganizationId::from_stored(params.read().get("id").unwrap_or_default());
    let retry = ServerAction::<RetryParkedEvent>::new();
    let data = Resource::new(
        move || (org(), retry.version().get()),
        |(org, _)| get_events_admin(org),
    );
    let outcome = move || {
        retry.value().get().map(|r| match r {
            Ok(RetryOutcome::Delivered) => view! { <p class="notice" role="status">"Delivered. The event is no longer parked."</p> }.into_any(),
            Ok(RetryOutcome::FailedAgain(e)) => view! { <p class="form-error" role="alert">{format!("It failed again: {e}")}</p> }.into_any(),
            Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    };
    view! {
        <Title text="Events" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    <Title text=format!("Events · {}", v.organization_name) />
                    <Breadcrumbs trail=vec![
                        (v.organization_name.clone(), Some(format!("/organizations/{}", v.organization_id))),
                        ("Events".into(), None),
                    ] />
                    <h1>"Events"</h1>
                    <p class="muted">{format!("Every change is recorded as an event; {} so far on this Larder. Consumers keep stock views, live pages and daily totals up to date from them.", v.head)}</p>
                    <section class="card">
                        <h2>"Consumers"</h2>
                        <table class="table">
                            <thead><tr><th scope="col">"Consumer"</th><th scope="col" class="num">"Read up to"</th><th scope="col" class="num">"Behind"</th></tr></thead>
                            <tbody>
                                {v.consumers.iter().map(|c| view! {
                                    <tr>
                                        <td>
                                            <span class="primary-text">{c.name.clone()}</span>
                                            <br />
                                            <span class="muted">{match c.name.as_str() {
                                                "stock-cache" => "Forgets cached stock answers a change makes stale",
                                                "live-feed" => "Updates open inventory pages",
                                                "daily-flows" => "Keeps daily totals for reports and forecasts",
                                                _ => "",
                                            }}</span>
                                        </td>
                                        <td class="num">{c.position}</td>
                                        <td class="num">{c.behind}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </section>
                    <section class="card">
                        <h2>{format!("Parked events ({})", v.parked.len())}</h2>
                        <div aria-live="polite">{outcome}</div>
                        {if v.parked.is_empty() {
                            view! { <p class="muted">"None. Every event reached every consumer."</p> }.into_any()
                        } else {
                            view! {
                                <ul class="list parked">
                                    {v.parked.into_iter().map(|p| {
                                        let id = p.id.clone();
                                        view! {
                                            <li>
                                                <span class="primary-text">{format!("{} #{} → {}", p.event_type, p.event_seq, p.consumer)}</span>
                                                <span class="muted">{format!("{}{} · parked {} after {} attempts", p.pantry_name.map(|n| format!("{n} · ")).unwrap_or_default(), p.occurred_at, p.parked_at, p.attempts)}</span>
                                                <code class="error-text">{p.error}</code>
                                                <button type="button" class="button small" disabled=move || retry.pending().get()
                                                    on:click=move |_| { retry.dispatch(RetryParkedEvent { id: id.clone() }); }>"Retry"</button>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

//! The API reference page, `/developers`: every operation of `/api/v1` from
//! the OpenAPI document, readable without tools, and the document itself.

use leptos::prelude::*;
use leptos_meta::Title;

use super::api::get_api_reference;
use crate::ui::*;

#[component]
pub fn ApiReferencePage() -> impl IntoView {
    let reference = Resource::new(|| (), |_| get_api_reference());
    view! {
        <Title text="Larder API" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let r = match reference.await {
                    Ok(r) => r,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                view! {
                    <h1>{r.title.clone()}</h1>
                    <p>{r.description.clone()}</p>
                    <p class="actions">
                        <a class="button" href="/api/v1/openapi.json">"OpenAPI document (JSON)"</a>
                    </p>
                    {r.endpoints.into_iter().map(|e| {
                        let id = format!("{}-{}", e.method.to_lowercase(), e.path.replace(['/', '{', '}'], "-"));
                        view! {
                            <section class="card endpoint" id=id>
                                <h2><code>{format!("{} {}", e.method, e.path)}</code></h2>
                                <p>{e.summary.clone()}</p>
                                {(!e.description.is_empty()).then(|| view! { <p class="muted">{e.description.clone()}</p> })}
                                {(!e.parameters.is_empty()).then(|| view! {
                                    <h3>"Parameters"</h3>
                                    <table class="table">
                                        <thead><tr><th>"Name"</th><th>"In"</th><th>"Required"</th><th>"Meaning"</th></tr></thead>
                                        <tbody>
                                            {e.parameters.iter().map(|(name, place, required, about)| view! {
                                                <tr>
                                                    <td><code>{name.clone()}</code></td>
                                                    <td>{place.clone()}</td>
                                                    <td>{if *required { "yes" } else { "no" }}</td>
                                                    <td>{about.clone()}</td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                })}
                                {e.body.clone().map(|b| view! { <p>"Body: JSON "<code>{b}</code>" (see the document for its fields)."</p> })}
                                <h3>"Responses"</h3>
                                <ul class="list compact">
                                    {e.responses.iter().map(|(status, about)| view! {
                                        <li><span><strong>{status.clone()}</strong>" "{about.clone()}</span></li>
                                    }).collect_view()}
                                </ul>
                            </section>
                        }
                    }).collect_view()}
                }.into_any()
            })}
        </Transition>
    }
}

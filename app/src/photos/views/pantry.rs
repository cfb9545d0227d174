//! Intakes on a pantry's page: the button that opens one, and the latest
//! ones.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::ids::PantryId;
use crate::photos::api::*;
use crate::ui::*;

/// A "Photograph a donation" button: opens an intake and goes to it.
#[component]
pub fn NewIntakeButton(pantry: PantryId) -> impl IntoView {
    let create = ServerAction::<CreateIntake>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/intakes/{id}"), Default::default());
        }
    });
    view! {
        <ActionForm action=create attr:class="inline-form" attr:aria-label="Photograph a donation">
            <input type="hidden" name="pantry" value=pantry.to_string() />
            <SubmitButton label="Photograph a donation" busy_label="Opening…" pending=create.pending() class="button" />
        </ActionForm>
    }
}

/// A pantry's latest intakes, for its page.
#[component]
pub fn RecentIntakes(pantry: PantryId) -> impl IntoView {
    let data = Resource::new(move || pantry.clone(), |p| get_intakes(p));
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let list = data.await.unwrap_or_default();
                (!list.is_empty()).then(|| view! {
                    <section class="card">
                        <h2>"Donation photos"</h2>
                        <ul class="stock-list">
                            {list.into_iter().map(|i| view! {
                                <li class="stock-row">
                                    <a class="stock-name" href=format!("/intakes/{}", i.id)>{i.donor.clone().unwrap_or_else(|| "Donation".into())}</a>
                                    <span class="stock-qty">{if i.status == "open" { "open" } else { "received" }}</span>
                                    <span class="stock-category muted">{format!("{} · {} photo{}", i.created_at, i.photos, if i.photos == 1 { "" } else { "s" })}</span>
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                })
            })}
        </Transition>
    }
}

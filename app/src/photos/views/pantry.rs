//! Intakes on a pantry's page: the button that opens one, and the latest
//! ones.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::ids::PantryId;
use crate::photos::api::*;
use crate::ui::*;

/// Opens an intake for a donation (asking who it is from) and goes to it.
#[component]
pub fn NewIntakeButton(pantry: PantryId) -> impl IntoView {
    let create = ServerAction::<CreateIntake>::new();
    let error = last_error(create.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/intakes/{id}"), Default::default());
        }
    });
    view! {
        <ActionForm action=create attr:class="row-form" attr:aria-label="Photograph a donation">
            <input type="hidden" name="pantry" value=pantry.to_string() />
            <TextField form="intake" label="Donor" name="donor" error=error autocomplete="organization"
                hint="Who it is from: a person, a shop, a food drive. Leave empty for an anonymous donation." />
            <FormError error=error fields=&["donor"] />
            <SubmitButton label="Photograph a donation" busy_label="Opening…" pending=create.pending() class="button primary" />
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

/// `/pantries/:id/intake`: everything that comes in at a pantry: a donation
/// by photo, one product at a time from the inventory, the donors.
#[component]
pub fn PantryIntakePage() -> impl IntoView {
    let params = leptos_router::hooks::use_params_map();
    let id = move || PantryId::from_stored(params.read().get("id").unwrap_or_default());
    let data = Resource::new(id, crate::org::api::get_pantry);
    view! {
        <leptos_meta::Title text="Intake" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                if !v.abilities.record {
                    return view! { <ErrorPanel error=crate::error::AppError::forbidden() /> }.into_any();
                }
                let pid = v.pantry.id.clone();
                let org = v.pantry.organization_id.clone();
                view! {
                    <leptos_meta::Title text=format!("Intake · {}", v.pantry.name) />
                    <Breadcrumbs trail=v.trail(Some("Intake")) />
                    <div class="page-head">
                        <h1>"Intake"</h1>
                        <a class="button" href=format!("/organizations/{org}/donors")>"Donors"</a>
                    </div>
                    <section class="card">
                        <h2>"Receive a donation"</h2>
                        <crate::usage::views::DonationForm pantry=pid.clone() />
                    </section>
                    <section class="card">
                        <h2>"A donation by photo"</h2>
                        <p class="muted">"Photograph the donation; Larder reads barcodes and dates and suggests the lines to receive."</p>
                        <NewIntakeButton pantry=pid.clone() />
                    </section>
                    <RecentIntakes pantry=pid />
                }.into_any()
            })}
        </Transition>
    }
}

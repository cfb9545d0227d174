//! `/intakes/:id`: the page, which holds the state its parts share.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use crate::ids::IntakeId;
use crate::inventory::views::LiveUpdates;
use crate::photos::api::*;
use crate::photos::model::*;
use crate::ui::*;

#[cfg(feature = "hydrate")]
use super::capture::deliver;
use super::capture::Capture;
use super::lines::{Confirmed, Suggestions};
use super::photo_grid::PhotoGrid;
#[cfg(feature = "hydrate")]
use super::Upload;
use super::{Added, Draft, Pending};

/// `/intakes/:id`
#[component]
pub fn IntakePage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let tick = RwSignal::new(0u64);
    let confirm = ServerAction::<ConfirmIntake>::new();
    let remove = ServerAction::<RemovePhoto>::new();
    let data = Resource::new(
        move || {
            (
                id(),
                tick.get(),
                confirm.version().get(),
                remove.version().get(),
            )
        },
        |(id, _, _, _)| async move {
            match id.parse::<IntakeId>() {
                Ok(id) => get_intake(id).await,
                Err(e) => Err(e),
            }
        },
    );
    let pending = RwSignal::new(Vec::<Pending>::new());
    // What was loaded last: a reload that fails while the phone is offline
    // keeps showing it (and the capture, whose photos wait on the phone)
    // rather than an error page.
    let last = RwSignal::new(None::<IntakeView>);
    let originals = RwSignal::new(false);
    // Uploads belong to the page, not to the capture card (which is drawn
    // again on every change): a photo is sent once, and its outcome lands
    // even if the card it was picked in is gone.
    let in_flight = StoredValue::new(std::collections::HashSet::<u64>::new());
    // Whatever this phone kept for the intake is shown and sent now, and
    // again whenever the connection comes back.
    #[cfg(feature = "hydrate")]
    {
        let resume = move || {
            let intake = id();
            leptos::task::spawn_local(async move {
                let Ok(waiting) = crate::photos::queue::waiting(&intake).await else {
                    return;
                };
                for q in waiting {
                    pending.update(|p| {
                        if !p.iter().any(|x| x.key == q.key) {
                            p.push(Pending {
                                key: q.key,
                                name: q.name.clone(),
                                state: Upload::Waiting {
                                    saving: q.saving.clone(),
                                },
                            });
                        }
                    });
                    deliver(q, pending, in_flight, tick);
                }
            });
        };
        Effect::new(move |_| resume());
        let handle = window_event_listener(leptos::ev::online, move |_| resume());
        on_cleanup(move || handle.remove());
    }
    let drafts = StoredValue::new(std::collections::HashMap::<String, Draft>::new());
    let added = RwSignal::new(Vec::<Added>::new());
    let page = StoredValue::new(Owner::current().expect("a page has an owner"));
    // The live stream lives as long as the page, outside the part that
    // re-renders on every change, so no event falls between two streams.
    let pantry = Memo::new(move |_| last.with(|v| v.as_ref().map(|v| v.pantry_id.to_string())));
    view! {
        <Title text="Donation photos" />
        {move || pantry.get().map(|p| view! {
            <div class="live-corner"><LiveUpdates pantry=Signal::derive(move || p.clone()) tick=tick /></div>
        })}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let (v, stale) = match data.await {
                    Ok(v) => {
                        last.set(Some(v.clone()));
                        (v, false)
                    }
                    Err(e) => match last.get_untracked() {
                        Some(v) => (v, true),
                        None => return view! { <ErrorPanel error=e /> }.into_any(),
                    },
                };
                let open = v.status == "open";
                view! {
                    <Breadcrumbs trail=vec![
                        (v.organization_name.clone(), Some(format!("/organizations/{}", v.organization_id))),
                        (v.pantry_name.clone(), Some(format!("/pantries/{}", v.pantry_id))),
                        ("Donation photos".to_string(), None),
                    ] />
                    <div class="page-head">
                        <h1>{match &v.donor { Some(d) => format!("Donation from {d}"), None => "Donation photos".to_string() }}</h1>
                    </div>
                    <p class="muted">{format!("{} · opened {} by {}", v.pantry_name, v.created_at, v.created_by)}</p>
                    {stale.then(|| view! {
                        <p class="warning" role="status">"No connection to Larder right now: this is what was loaded last. New photos are kept on this device and sent when the connection is back."</p>
                    })}
                    {open.then(|| view! {
                        <Capture intake=v.id.clone() pending=pending in_flight=in_flight originals=originals tick=tick />
                    })}
                    <PhotoGrid photos=v.photos.clone() open=open added=added page=page.get_value() remove=remove
                        suggested=v.suggestions.iter().filter_map(|s| s.product_id.clone()).collect() />
                    {if open {
                        view! { <Suggestions v=v.clone() drafts=drafts added=added page=page.get_value() confirm=confirm /> }.into_any()
                    } else {
                        view! { <Confirmed v=v.clone() /> }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

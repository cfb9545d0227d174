//! Taking the photos: the camera and file pickers, the drop zone, and the
//! uploads under way (optimized, saved on the device, sent when the
//! connection allows).

use leptos::prelude::*;

use crate::ids::IntakeId;
#[cfg(feature = "hydrate")]
use crate::photos::model::size_text;
#[cfg(feature = "hydrate")]
use crate::photos::send::{post_picture, Sent};

use super::{Pending, Upload};

/// The camera and file pickers, the drop zone, and the uploads under way.
#[component]
pub(super) fn Capture(
    intake: IntakeId,
    pending: RwSignal<Vec<Pending>>,
    in_flight: StoredValue<std::collections::HashSet<u64>>,
    originals: RwSignal<bool>,
    tick: RwSignal<u64>,
) -> impl IntoView {
    let camera: NodeRef<leptos::html::Input> = NodeRef::new();
    let picker: NodeRef<leptos::html::Input> = NodeRef::new();
    let dragging = RwSignal::new(false);
    let intake = StoredValue::new(intake);
    #[cfg(feature = "hydrate")]
    let take = move |files: web_sys::FileList| {
        for i in 0..files.length() {
            if let Some(file) = files.get(i) {
                let temporary = -(next_key() as f64);
                pending.update(|p| {
                    p.push(Pending {
                        key: temporary,
                        name: file.name(),
                        state: Upload::Optimizing,
                    })
                });
                let intake = intake.get_value();
                let as_is = originals.get_untracked();
                leptos::task::spawn_local(async move {
                    let set = set_state(pending, temporary);
                    let name = file.name();
                    let (blob, saving) = match prepare(&file, as_is).await {
                        Ok(x) => x,
                        Err(e) => return set(Upload::Failed(e)),
                    };
                    // Kept on the phone first; without storage, sent as is.
                    let key = crate::photos::queue::put(intake.as_str(), &name, &blob, &saving)
                        .await
                        .unwrap_or(temporary);
                    pending.update(|p| {
                        if let Some(x) = p.iter_mut().find(|x| x.key == temporary) {
                            x.key = key;
                        }
                    });
                    deliver(
                        crate::photos::queue::Queued {
                            key,
                            intake: intake.to_string(),
                            name,
                            blob,
                            saving,
                        },
                        pending,
                        in_flight,
                        tick,
                    );
                });
            }
        }
    };
    #[cfg(feature = "hydrate")]
    let picked = move |input: NodeRef<leptos::html::Input>| {
        if let Some(el) = input.get_untracked() {
            if let Some(files) = el.files() {
                take(files);
            }
            el.set_value("");
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let picked = move |_: NodeRef<leptos::html::Input>| {
        let _ = (intake, tick, in_flight);
    };
    let on_drop = move |ev: leptos::ev::DragEvent| {
        ev.prevent_default();
        dragging.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(files) = ev.data_transfer().and_then(|d| d.files()) {
            take(files);
        }
    };
    view! {
        <section class="card capture"
            class:dragging=move || dragging.get()
            on:dragover=move |ev: leptos::ev::DragEvent| { ev.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop>
            <h2>"Add photos"</h2>
            <p class="hint">"Photograph the items with their barcodes facing the camera; several photos are fine. Photos are made smaller on this device before they are sent, and their location data is removed."</p>
            <div class="capture-buttons">
                <label class="button primary capture-button" for="intake-camera">"Take photos"</label>
                <input id="intake-camera" class="visually-hidden" type="file" accept="image/*" capture="environment" multiple node_ref=camera
                    on:change=move |_| picked(camera) />
                <label class="button capture-button" for="intake-files">"Choose files"</label>
                <input id="intake-files" class="visually-hidden" type="file" accept="image/jpeg,image/png,image/*" multiple node_ref=picker
                    on:change=move |_| picked(picker) />
            </div>
            <p class="drop-hint muted">"…or drop photos here."</p>
            <div class="field check">
                <input id="intake-originals" type="checkbox" prop:checked=move || originals.get() on:change=move |ev| originals.set(event_target_checked(&ev)) />
                <label for="intake-originals">"Send originals instead (larger and slower; the server still removes location data)"</label>
            </div>
            <ul class="uploads" aria-live="polite">
                {move || pending.get().into_iter().rev().map(|p| {
                    let (class, text) = match &p.state {
                        Upload::Optimizing => ("upload busy", "Optimizing…".to_string()),
                        Upload::Waiting { saving } => ("upload waiting", format!("Saved on this device; sends when the connection is back · {saving}")),
                        Upload::Uploading { saving } => ("upload busy", format!("Uploading · {saving}")),
                        Upload::Done { saving } => ("upload ok", format!("Uploaded · {saving}")),
                        Upload::Failed(m) => ("upload failed", m.clone()),
                    };
                    view! { <li class=class data-testid="upload"><span class="upload-name">{p.name.clone()}</span><span class="upload-state">{text}</span></li> }
                }).collect_view()}
            </ul>
        </section>
    }
}

#[cfg(feature = "hydrate")]
fn next_key() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Sends one queued photo, unless it is on its way already; a photo the
/// server stored or refused leaves the queue, one that could not reach it
/// waits for the connection.
#[cfg(feature = "hydrate")]
pub(super) fn deliver(
    q: crate::photos::queue::Queued,
    pending: RwSignal<Vec<Pending>>,
    in_flight: StoredValue<std::collections::HashSet<u64>>,
    tick: RwSignal<u64>,
) {
    let id = q.key.to_bits();
    if !in_flight
        .try_update_value(|s| s.insert(id))
        .unwrap_or(false)
    {
        return;
    }
    leptos::task::spawn_local(async move {
        let set = set_state(pending, q.key);
        set(Upload::Uploading {
            saving: q.saving.clone(),
        });
        let url = format!("/intakes/{}/photos", q.intake);
        match post_picture(&url, &q.name, &q.blob).await {
            Ok(_) => {
                let _ = crate::photos::queue::remove(q.key).await;
                set(Upload::Done {
                    saving: q.saving.clone(),
                });
                tick.try_update(|t| *t += 1);
            }
            Err(Sent::Offline) => set(Upload::Waiting {
                saving: q.saving.clone(),
            }),
            Err(Sent::Refused(m)) => {
                let _ = crate::photos::queue::remove(q.key).await;
                set(Upload::Failed(m));
            }
        }
        in_flight.try_update_value(|s| {
            s.remove(&id);
        });
    });
}

/// Sets the state of the pending photo with `key`.
#[cfg(feature = "hydrate")]
fn set_state(pending: RwSignal<Vec<Pending>>, key: f64) -> impl Fn(Upload) + Copy {
    move |state| {
        pending.try_update(|p| {
            if let Some(x) = p.iter_mut().find(|x| x.key == key) {
                x.state = state;
            }
        });
    }
}

/// The photo to send (optimized, unless the original is wanted) and the
/// saving to show ("4.1 MB → 310 KB").
#[cfg(feature = "hydrate")]
async fn prepare(file: &web_sys::File, as_is: bool) -> Result<(web_sys::Blob, String), String> {
    if as_is {
        return Ok((
            file.clone().into(),
            format!("{} original", size_text(file.size())),
        ));
    }
    let name = file.name();
    let o = crate::photos::optimize::optimize(
        file,
        &name,
        crate::photos::optimize::Settings::default(),
    )
    .await?;
    let saving = format!(
        "{} → {} ({} × {})",
        size_text(o.original_bytes),
        size_text(o.blob.size()),
        o.width,
        o.height
    );
    Ok((o.blob, saving))
}

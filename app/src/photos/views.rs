//! The intake page, phone first: photograph a box of donations (or pick
//! or drop files), see each photo optimized and uploaded, watch the
//! analysis, then confirm, edit or reject the suggested lines.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::api::*;
use super::model::*;
use crate::catalog::api::get_products;
use crate::ids::{IntakeId, OrganizationId, PantryId, PhotoId, ProductId};
use crate::inventory::views::LiveUpdates;
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
            <input type="hidden" name="pantry" value=pantry.0.clone() />
            <SubmitButton label="Photograph a donation" busy_label="Opening…" pending=create.pending() class="button" />
        </ActionForm>
    }
}

/// One file on its way: optimizing, uploading, done or refused.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum Upload {
    Optimizing,
    /// Kept on the phone until the connection is back.
    Waiting {
        saving: String,
    },
    Uploading {
        saving: String,
    },
    Done {
        saving: String,
    },
    Failed(String),
}

#[derive(Debug, Clone, PartialEq)]
struct Pending {
    /// The photo's key in the phone's queue (negative: never queued).
    key: f64,
    name: String,
    state: Upload,
}

/// What staff may change on a suggested line before confirming it. Its
/// signals belong to the page (see [`Suggestions`]).
#[derive(Clone, Copy)]
struct Draft {
    quantity: RwSignal<String>,
    best_before: RwSignal<String>,
    keep: RwSignal<bool>,
    touched: RwSignal<bool>,
}

/// A line staff added by hand (from a photo's match or the product
/// search); its signals belong to the page, like a [`Draft`]'s.
#[derive(Clone)]
struct Added {
    product: ProductId,
    name: String,
    unit: String,
    quantity: RwSignal<String>,
    best_before: RwSignal<String>,
    /// The photo that shows it ("" for none): confirmed, that photo joins
    /// the pantry's matching set.
    photo: RwSignal<String>,
}

/// Adds a line for `product` unless there is one.
fn add_line(
    added: RwSignal<Vec<Added>>,
    page: Owner,
    product: ProductId,
    name: String,
    unit: String,
    photo: Option<PhotoId>,
) {
    if added.with_untracked(|a| a.iter().any(|l| l.product == product)) {
        return;
    }
    let line = page.with(|| Added {
        product,
        name,
        unit,
        quantity: RwSignal::new("1".into()),
        best_before: RwSignal::new(String::new()),
        photo: RwSignal::new(photo.map(|p| p.0).unwrap_or_default()),
    });
    added.update(|a| a.push(line));
}

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
                let Ok(waiting) = super::queue::waiting(&intake).await else {
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
    let pantry = Memo::new(move |_| last.with(|v| v.as_ref().map(|v| v.pantry_id.0.clone())));
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

/// The camera and file pickers, the drop zone, and the uploads under way.
#[component]
fn Capture(
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
                    let key = super::queue::put(&intake.0, &name, &blob, &saving)
                        .await
                        .unwrap_or(temporary);
                    pending.update(|p| {
                        if let Some(x) = p.iter_mut().find(|x| x.key == temporary) {
                            x.key = key;
                        }
                    });
                    deliver(
                        super::queue::Queued {
                            key,
                            intake: intake.0.clone(),
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
fn deliver(
    q: super::queue::Queued,
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
        match upload(&q.intake, &q.name, &q.blob).await {
            Ok(()) => {
                let _ = super::queue::remove(q.key).await;
                set(Upload::Done {
                    saving: q.saving.clone(),
                });
                tick.try_update(|t| *t += 1);
            }
            Err(Sent::Offline) => set(Upload::Waiting {
                saving: q.saving.clone(),
            }),
            Err(Sent::Refused(m)) => {
                let _ = super::queue::remove(q.key).await;
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
    let o = super::optimize::optimize(file, &name, super::optimize::Settings::default()).await?;
    let saving = format!(
        "{} → {} ({} × {})",
        size_text(o.original_bytes),
        size_text(o.blob.size()),
        o.width,
        o.height
    );
    Ok((o.blob, saving))
}

/// Why a photo was not stored.
#[cfg(feature = "hydrate")]
enum Sent {
    /// No connection: try again later.
    Offline,
    /// The server said no, and why.
    Refused(String),
}

#[cfg(feature = "hydrate")]
async fn upload(intake: &str, name: &str, blob: &web_sys::Blob) -> Result<(), Sent> {
    use wasm_bindgen::JsCast;
    let init = web_sys::RequestInit::new();
    init.set_method("POST");
    init.set_body(blob);
    let headers = web_sys::Headers::new().map_err(|_| Sent::Offline)?;
    let _ = headers.set("content-type", &blob.type_());
    init.set_headers(&headers);
    let request =
        web_sys::Request::new_with_str_and_init(&format!("/intakes/{intake}/photos"), &init)
            .map_err(|_| Sent::Refused(format!("{name}: the browser could not send it.")))?;
    let window = web_sys::window().ok_or(Sent::Offline)?;
    let response: web_sys::Response =
        wasm_bindgen_futures::JsFuture::from(window.fetch_with_request(&request))
            .await
            .map_err(|_| Sent::Offline)?
            .unchecked_into();
    if response.status() == 201 {
        return Ok(());
    }
    // A server that cannot be reached through a proxy is offline too.
    if matches!(response.status(), 502..=504) {
        return Err(Sent::Offline);
    }
    let text = match response.text() {
        Ok(p) => wasm_bindgen_futures::JsFuture::from(p)
            .await
            .ok()
            .and_then(|t| t.as_string())
            .unwrap_or_default(),
        Err(_) => String::new(),
    };
    Err(Sent::Refused(
        serde_json::from_str::<crate::error::AppError>(&text)
            .map(|e| format!("{name}: {e}"))
            .unwrap_or_else(|_| format!("{name}: the upload failed ({}).", response.status())),
    ))
}

#[component]
fn PhotoGrid(
    photos: Vec<PhotoView>,
    /// Whether lines can still be added (the intake is open).
    open: bool,
    added: RwSignal<Vec<Added>>,
    page: Owner,
    /// Products the suggestions already hold.
    suggested: Vec<ProductId>,
    remove: ServerAction<RemovePhoto>,
) -> impl IntoView {
    let page = StoredValue::new(page);
    let remove_error = Signal::derive(move || remove.value().get().and_then(|r| r.err()));
    (!photos.is_empty()).then(|| view! {
        <section class="card">
            <h2>{format!("Photos ({})", photos.len())}</h2>
            <FormError error=remove_error fields=&[] />
            <ul class="photo-grid">
                {photos.into_iter().map(|p| {
                    let status = match p.status {
                        AnalysisStatus::Waiting => "Waiting to be read…".to_string(),
                        AnalysisStatus::Running => format!("{}…", p.stage.clone().unwrap_or_else(|| "Reading".into()).replace("reading", "Reading")),
                        AnalysisStatus::Done => {
                            let count = |kind: &str| p.findings.iter().filter(|f| f.kind == kind).count();
                            let (b, d) = (count("barcode"), count("date"));
                            let mut parts = Vec::new();
                            match b {
                                0 => parts.push("No barcode".to_string()),
                                1 => parts.push("1 barcode".to_string()),
                                n => parts.push(format!("{n} barcodes")),
                            }
                            if let Some(date) = p.findings.iter().filter(|f| f.kind == "date").max_by_key(|f| f.confidence) {
                                parts.push(format!("best before {}", date.best_before.clone().unwrap_or_default()));
                                if d > 1 {
                                    parts.push(format!("{} more date{}", d - 1, if d == 2 { "" } else { "s" }));
                                }
                            }
                            parts.join(" · ")
                        }
                        AnalysisStatus::Failed => p.error.clone().unwrap_or_else(|| "Could not be read".into()),
                    };
                    let state = p.status.as_str();
                    let hint = p.findings.iter().find(|f| f.kind == "hint").map(|h| {
                        format!("Looks like {} ({})", h.format.to_lowercase(), h.value)
                    });
                    let llm = p.findings.iter().find(|f| f.kind == "llm-error").map(|f| format!("Vision model: {}", f.value)).or_else(|| {
                        let named: Vec<String> = p.findings.iter().filter(|f| f.kind == "llm")
                            .map(|f| format!("{} × {}", f.quantity.unwrap_or(1), f.value)).collect();
                        (!named.is_empty()).then(|| format!("Vision model: {}", named.join(", ")))
                    });
                    let photo_id = p.id.clone();
                    let removable = open && !matches!(p.status, AnalysisStatus::Running);
                    let asking = RwSignal::new(false);
                    let (remove_id, number) = (p.id.clone(), p.number);
                    let matches = p.matches.clone();
                    let suggested = suggested.clone();
                    view! {
                        <li class="photo" data-status=state data-testid="photo">
                            <img src=p.thumbnail_url.clone() alt=format!("Photo {}", p.number) loading="lazy" width="240" />
                            <p class="photo-caption">
                                <strong>{format!("Photo {}", p.number)}</strong>
                                <span class="muted">{format!(" · {} · {} × {}", size_text(p.bytes as f64), p.width, p.height)}</span>
                            </p>
                            <p class="photo-status" class:busy=matches!(p.status, AnalysisStatus::Waiting | AnalysisStatus::Running)>{status}</p>
                            {hint.map(|h| view! { <p class="photo-hint muted">{h}</p> })}
                            {llm.map(|l| view! { <p class="photo-hint muted" data-testid="photo-llm">{l}</p> })}
                            {(!matches.is_empty()).then(|| view! {
                                <ul class="photo-matches" aria-label=format!("Photo {} looks like", p.number)>
                                    <li class="muted" aria-hidden="true">"Looks like"</li>
                                    {matches.into_iter().map(|m| {
                                        let listed = suggested.contains(&m.product_id);
                                        let (product, name, photo) = (m.product_id.clone(), m.product_name.clone(), photo_id.clone());
                                        let label = format!("{} {}%", m.product_name, m.similarity);
                                        view! {
                                            <li data-testid="photo-match">
                                                {if open && !listed {
                                                    view! {
                                                        <button type="button" class="chip" title="Add a line for it, shown in this photo"
                                                            on:click=move |_| add_line(added, page.get_value(), product.clone(), name.clone(), String::new(), Some(photo.clone()))>
                                                            {format!("+ {label}")}
                                                        </button>
                                                    }.into_any()
                                                } else {
                                                    view! { <span class="chip">{label}</span> }.into_any()
                                                }}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            })}
                            {removable.then(|| view! {
                                <div class="photo-remove">
                                    {move || if asking.get() {
                                        let id = remove_id.clone();
                                        view! {
                                            <span class="muted">{format!("Remove photo {number}?")}</span>
                                            <button type="button" class="button small danger" on:click=move |_| { remove.dispatch(RemovePhoto { id: id.clone() }); }>"Remove"</button>
                                            <button type="button" class="button small link" on:click=move |_| asking.set(false)>"Keep"</button>
                                        }.into_any()
                                    } else {
                                        view! {
                                            <button type="button" class="button small link" on:click=move |_| asking.set(true)
                                                aria-label=format!("Remove photo {number}")>"Remove…"</button>
                                        }.into_any()
                                    }}
                                </div>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    })
}

#[component]
fn Suggestions(
    v: IntakeView,
    drafts: StoredValue<std::collections::HashMap<String, Draft>>,
    added: RwSignal<Vec<Added>>,
    /// The page's owner: a draft's signals are made under it, since this
    /// card is drawn again (and its own signals dropped) on every change.
    page: Owner,
    confirm: ServerAction<ConfirmIntake>,
) -> impl IntoView {
    let known: Vec<Suggestion> = v
        .suggestions
        .iter()
        .filter(|s| s.product_id.is_some())
        .cloned()
        .collect();
    let unknown: Vec<Suggestion> = v
        .suggestions
        .iter()
        .filter(|s| s.product_id.is_none())
        .cloned()
        .collect();
    let add_owner = page.clone();
    let no_unknown = unknown.is_empty();
    // A line keeps what staff typed across refreshes; untouched lines
    // follow the photos.
    let draft_for = move |s: &Suggestion| -> Draft {
        let key = s
            .product_id
            .as_ref()
            .map(|p| p.0.clone())
            .unwrap_or_default();
        let existing = drafts.with_value(|d| d.get(&key).copied());
        match existing {
            Some(d) => {
                if !d.touched.get_untracked() {
                    d.quantity.set(s.quantity.clone());
                    d.best_before.set(s.best_before.clone().unwrap_or_default());
                }
                d
            }
            None => {
                let d = page.with(|| Draft {
                    quantity: RwSignal::new(s.quantity.clone()),
                    best_before: RwSignal::new(s.best_before.clone().unwrap_or_default()),
                    // A product staff already added by hand: the suggestion
                    // that arrives later starts unticked, not counted twice.
                    keep: RwSignal::new(!added.with_untracked(|a| {
                        a.iter().any(|l| s.product_id.as_ref() == Some(&l.product))
                    })),
                    touched: RwSignal::new(false),
                });
                drafts.update_value(|m| {
                    m.insert(key, d);
                });
                d
            }
        }
    };
    let lines: Vec<(Suggestion, Draft)> = known.iter().map(|s| (s.clone(), draft_for(s))).collect();
    let submit_lines = lines.clone();
    let intake = v.id.clone();
    let on_confirm = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let lines: Vec<ConfirmLine> = submit_lines
            .iter()
            .filter(|(_, d)| d.keep.get_untracked())
            .filter_map(|(s, d)| {
                Some(ConfirmLine {
                    product: s.product_id.clone()?,
                    quantity: d.quantity.get_untracked(),
                    best_before: d.best_before.get_untracked(),
                    photos: s.photos.clone(),
                })
            })
            .chain(added.get_untracked().into_iter().map(|a| {
                ConfirmLine {
                    product: a.product,
                    quantity: a.quantity.get_untracked(),
                    best_before: a.best_before.get_untracked(),
                    photos: Some(a.photo.get_untracked())
                        .filter(|p| !p.is_empty())
                        .map(PhotoId)
                        .into_iter()
                        .collect(),
                }
            }))
            .collect();
        confirm.dispatch(ConfirmIntake {
            id: intake.clone(),
            lines,
        });
    };
    let error = Signal::derive(move || confirm.value().get().and_then(|r| r.err()));
    let waiting = !v.settled;
    let org = v.organization_id.clone();
    let empty = lines.is_empty();
    let nothing = move || empty && added.with(|a| a.is_empty());
    let numbers: Vec<(PhotoId, i64)> = v.photos.iter().map(|p| (p.id.clone(), p.number)).collect();
    let known_ids: Vec<ProductId> = lines
        .iter()
        .filter_map(|(s, _)| s.product_id.clone())
        .collect();
    // Photos no suggestion explains: an item added by hand is most likely
    // in the latest of them.
    let free: Vec<PhotoId> = v
        .photos
        .iter()
        .filter(|p| !v.suggestions.iter().any(|s| s.photos.contains(&p.id)))
        .map(|p| p.id.clone())
        .collect();
    view! {
        <section class="card">
            <h2>"What the photos show"</h2>
            {waiting.then(|| view! { <p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>"Reading the photos… suggestions appear as each one is read."</p> })}
            {move || (nothing() && !waiting && no_unknown).then(|| view! {
                <p>{if v.photos.is_empty() { "Add photos of the donation to get suggestions." } else { "Nothing in these photos was recognised. Add the items below; once confirmed, their photos teach Larder what they look like." }}</p>
            })}
                <form class="stack" on:submit=on_confirm aria-label="Confirm the donation">
                    <ul class="suggestions">
                        {lines.into_iter().map(|(s, d)| {
                            let pid = s.product_id.clone().map(|p| p.0).unwrap_or_default();
                            let qid = format!("q-{pid}");
                            let bid = format!("b-{pid}");
                            let kid = format!("k-{pid}");
                            view! {
                                <li class="suggestion" class:rejected=move || !d.keep.get() data-testid="suggestion">
                                    <div class="suggestion-head">
                                        <input id=kid.clone() type="checkbox" prop:checked=move || d.keep.get() on:change=move |ev| d.keep.set(event_target_checked(&ev)) />
                                        <label for=kid class="suggestion-name">{s.product_name.clone().unwrap_or_default()}</label>
                                        <span class="badge" title="How sure the reading is">{format!("{}%", s.confidence)}</span>
                                    </div>
                                    <p class="suggestion-evidence muted">{s.evidence.clone()}</p>
                                    <div class="suggestion-fields">
                                        <div class="field">
                                            <label for=qid.clone()>{format!("Quantity ({})", s.unit.clone().unwrap_or_default())}</label>
                                            <input id=qid inputmode="decimal" autocomplete="off" prop:value=move || d.quantity.get()
                                                on:input=move |ev| { d.touched.set(true); d.quantity.set(event_target_value(&ev)); } />
                                        </div>
                                        <div class="field">
                                            <label for=bid.clone()>"Best before"</label>
                                            <input id=bid type="date" prop:value=move || d.best_before.get()
                                                on:input=move |ev| { d.touched.set(true); d.best_before.set(event_target_value(&ev)); } />
                                        </div>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                        <For each=move || added.get() key=|a| a.product.0.clone() let:a>
                            <AddedLine a=a added=added photos=numbers.clone() />
                        </For>
                    </ul>
                    <AddItem organization=org.clone() added=added page=add_owner known=known_ids free=free />
                    <div class:hidden=nothing>
                        <FormError error=error fields=&["lines"] />
                        <SubmitButton label="Receive into stock" busy_label="Receiving…" pending=confirm.pending() />
                    </div>
                </form>
            {(!unknown.is_empty()).then(|| view! {
                <h3>"Not in the catalog"</h3>
                <ul class="stock-list">
                    {unknown.into_iter().map(|s| {
                        let (shown, link, testid, mono) = match &s.gtin {
                            Some(gtin) => {
                                let shown = gtin.trim_start_matches('0').to_string();
                                let link = format!("/organizations/{}/catalog?barcode={}", org, shown);
                                (shown, link, "unknown-barcode", true)
                            }
                            None => {
                                let name = s.product_name.clone().unwrap_or_default();
                                let link = format!("/organizations/{}/catalog?name={}", org, crate::inventory::views::encode(&name));
                                (format!("{} × {}", s.quantity, name), link, "unknown-item", false)
                            }
                        };
                        view! {
                            <li class="stock-row" data-testid=testid>
                                <span class="stock-name" class:mono=mono>{shown}</span>
                                <span class="stock-category muted">{s.evidence.clone()}</span>
                                <a class="button small stock-qty" href=link>"Add to catalog"</a>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            })}
        </section>
    }
}

/// A line added by hand: quantity, date, and which photo shows it.
#[component]
fn AddedLine(a: Added, added: RwSignal<Vec<Added>>, photos: Vec<(PhotoId, i64)>) -> impl IntoView {
    let pid = a.product.0.clone();
    let (qid, bid, fid) = (
        format!("aq-{pid}"),
        format!("ab-{pid}"),
        format!("af-{pid}"),
    );
    let product = a.product.clone();
    let remove = move |_| added.update(|l| l.retain(|x| x.product != product));
    let (quantity, best_before, photo) = (a.quantity, a.best_before, a.photo);
    view! {
        <li class="suggestion" data-testid="added-line">
            <div class="suggestion-head">
                <span class="suggestion-name">{a.name.clone()}</span>
                <button type="button" class="button small" on:click=remove aria-label=format!("Remove {}", a.name)>"Remove"</button>
            </div>
            <p class="suggestion-evidence muted">"Added by hand"</p>
            <div class="suggestion-fields">
                <div class="field">
                    <label for=qid.clone()>{if a.unit.is_empty() { "Quantity".to_string() } else { format!("Quantity ({})", a.unit) }}</label>
                    <input id=qid inputmode="decimal" autocomplete="off" prop:value=move || quantity.get()
                        on:input=move |ev| quantity.set(event_target_value(&ev)) />
                </div>
                <div class="field">
                    <label for=bid.clone()>"Best before"</label>
                    <input id=bid type="date" prop:value=move || best_before.get()
                        on:input=move |ev| best_before.set(event_target_value(&ev)) />
                </div>
                {(!photos.is_empty()).then(|| view! {
                    <div class="field field-wide">
                        <label for=fid.clone()>"Shown in"</label>
                        <select id=fid on:change=move |ev| photo.set(event_target_value(&ev))>
                            <option value="" selected=move || photo.get().is_empty()>"No photo"</option>
                            {photos.iter().map(|(id, n)| {
                                let id = id.0.clone();
                                let value = id.clone();
                                view! { <option value=value selected=move || photo.get() == id>{format!("Photo {n}")}</option> }
                            }).collect_view()}
                        </select>
                    </div>
                })}
            </div>
        </li>
    }
}

/// Finds a catalog product to add as a line.
#[component]
fn AddItem(
    organization: OrganizationId,
    added: RwSignal<Vec<Added>>,
    page: Owner,
    /// Products the suggestions hold already.
    known: Vec<ProductId>,
    /// Photos no suggestion cites, oldest first.
    free: Vec<PhotoId>,
) -> impl IntoView {
    let free = StoredValue::new(free);
    let organization_id = organization.clone();
    let q = RwSignal::new(String::new());
    let found = Resource::new(
        move || q.get(),
        move |q| {
            let organization = organization.clone();
            async move {
                if q.trim().is_empty() {
                    return Ok(Vec::new());
                }
                get_products(organization, q, String::new(), String::new(), 1)
                    .await
                    .map(|p| {
                        p.items
                            .into_iter()
                            .filter(|p| !p.archived)
                            .take(5)
                            .collect::<Vec<_>>()
                    })
            }
        },
    );
    let known = StoredValue::new(known);
    let page = StoredValue::new(page);
    let organization_for_scan = organization_id.clone();
    let scan_note = RwSignal::new(None::<(String, String)>);
    // A scanned item is found by its barcode and counted: a line of one, or
    // one more on its line.
    let on_scan = move |gtin: crate::catalog::model::Gtin| {
        let organization = organization_for_scan.clone();
        leptos::task::spawn_local(async move {
            let shown = gtin.display().to_string();
            match get_products(
                organization.clone(),
                shown.clone(),
                String::new(),
                String::new(),
                1,
            )
            .await
            {
                Ok(found) => match found
                    .items
                    .into_iter()
                    .find(|p| p.barcodes.contains(&gtin) && !p.archived)
                {
                    Some(p) if known.with_value(|k| k.contains(&p.id)) => {
                        scan_note.set(Some((
                            format!("{} is suggested above: check its count.", p.name),
                            String::new(),
                        )));
                    }
                    Some(p) => {
                        let counted = added.with_untracked(|a| {
                            a.iter().find(|l| l.product == p.id).map(|l| {
                                l.quantity.update(|q| {
                                    *q = (q.parse::<i64>().unwrap_or(0) + 1).to_string()
                                });
                            })
                        });
                        if counted.is_none() {
                            add_line(
                                added,
                                page.get_value(),
                                p.id.clone(),
                                p.name.clone(),
                                p.unit.as_str().to_string(),
                                None,
                            );
                        }
                        scan_note.set(Some((
                            format!("Scanned {} ({shown}).", p.name),
                            String::new(),
                        )));
                    }
                    None => scan_note.set(Some((
                        format!("Barcode {shown} is not in the catalog."),
                        format!("/organizations/{}/catalog?barcode={shown}", organization.0),
                    ))),
                },
                Err(e) => scan_note.set(Some((e.to_string(), String::new()))),
            }
        });
    };
    view! {
        <div class="add-item">
            <BarcodeScanner on_scan=on_scan />
            {move || scan_note.get().map(|(text, link)| view! {
                <p class="scan-note" role="status" data-testid="scan-note">
                    {text}
                    {(!link.is_empty()).then(|| view! { " " <a href=link>"Add it to the catalog"</a> })}
                </p>
            })}
            <label for="add-item-search">"Add an item"</label>
            <input id="add-item-search" type="search" placeholder="Search the catalog" autocomplete="off"
                prop:value=move || q.get() on:input=move |ev| q.set(event_target_value(&ev)) />
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match found.await {
                        Ok(items) => view! {
                            <ul class="pick-list">
                                {items.into_iter().map(|p| {
                                    let listed = known.with_value(|k| k.contains(&p.id));
                                    let (id, name, unit) = (p.id.clone(), p.name.clone(), p.unit.as_str().to_string());
                                    view! {
                                        <li>
                                            <button type="button" class="pick" disabled=listed
                                                on:click=move |_| {
                                                    let photo = free.with_value(|f| {
                                                        added.with_untracked(|a| {
                                                            f.iter().rev().find(|p| !a.iter().any(|l| l.photo.get_untracked() == p.0)).cloned()
                                                        })
                                                    });
                                                    add_line(added, page.get_value(), id.clone(), name.clone(), unit.clone(), photo);
                                                    q.set(String::new());
                                                }>
                                                <span class="pick-name">{p.name.clone()}</span>
                                                <span class="pick-qty">{if listed { "suggested above".to_string() } else { p.category.clone() }}</span>
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error" role="alert">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

#[component]
fn Confirmed(v: IntakeView) -> impl IntoView {
    view! {
        <section class="card notice" role="status" data-testid="intake-confirmed">
            <h2>"Received into stock"</h2>
            <p>{format!("Confirmed {}.", v.confirmed_at.clone().unwrap_or_default())}</p>
            <ul class="stock-list">
                {v.confirmed.iter().map(|l| view! {
                    <li class="stock-row">
                        <a class="stock-name" href=format!("/pantries/{}/products/{}", v.pantry_id, l.product_id)>{l.product_name.clone()}</a>
                        <span class="stock-qty">{l.quantity.clone()}</span>
                        <span class="stock-category muted">{l.best_before.clone().map(|b| format!("best before {b}")).unwrap_or_default()}</span>
                    </li>
                }).collect_view()}
            </ul>
            <p class="actions"><a class="button" href=format!("/pantries/{}/inventory", v.pantry_id)>"Inventory"</a></p>
        </section>
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

//! The intake's photos, each with its analysis, findings and matches.

use leptos::prelude::*;

use crate::ids::ProductId;
use crate::photos::api::*;
use crate::photos::model::*;
use crate::ui::*;

use super::{add_line, Added};

#[component]
pub(super) fn PhotoGrid(
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

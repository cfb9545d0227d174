//! Importing usage history: upload, progress and outcome.

use super::*;

/// Where an import is: sending the file, then the server reading it.
#[derive(Debug, Clone, PartialEq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub(super) enum ImportPhase {
    Idle,
    Uploading(f64),
    Importing(ImportStatus),
    Finished(ImportStatus),
    Failed(String),
}

/// Import usage or sales history from a CSV file, with a progress bar.
#[component]
pub fn ImportHistoryPage() -> impl IntoView {
    let params = use_params_map();
    let organization = Signal::derive(move || params.read().get("id").unwrap_or_default());
    let file_input = NodeRef::<leptos::html::Input>::new();
    let pantry = RwSignal::new(String::new());
    let skip = RwSignal::new(false);
    let phase = RwSignal::new(ImportPhase::Idle);
    let send = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::closure::Closure;
            use wasm_bindgen::JsCast;
            let Some(file) = file_input
                .get_untracked()
                .and_then(|i| i.files())
                .and_then(|f| f.get(0))
            else {
                phase.set(ImportPhase::Failed("Choose a CSV file first.".into()));
                return;
            };
            let url = format!(
                "/organizations/{}/usage-import?pantry={}&skip_bad={}&name={}",
                organization.get_untracked(),
                encode(&pantry.get_untracked()),
                if skip.get_untracked() { "1" } else { "0" },
                encode(&file.name())
            );
            let Ok(xhr) = web_sys::XmlHttpRequest::new() else {
                return;
            };
            if xhr.open("POST", &url).is_err() {
                return;
            }
            let _ = xhr.set_request_header("content-type", "text/csv");
            phase.set(ImportPhase::Uploading(0.0));
            let on_progress = Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(
                move |e: web_sys::ProgressEvent| {
                    if e.length_computable() && e.total() > 0.0 {
                        phase.set(ImportPhase::Uploading(e.loaded() / e.total()));
                    }
                },
            );
            if let Ok(upload) = xhr.upload() {
                upload.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
            }
            on_progress.forget();
            let done_xhr = xhr.clone();
            let on_load = Closure::<dyn FnMut()>::new(move || {
                let text = done_xhr.response_text().ok().flatten().unwrap_or_default();
                let status = done_xhr.status().unwrap_or(0);
                if status != 202 {
                    let message = serde_json::from_str::<crate::error::AppError>(&text)
                        .map(|e| e.to_string())
                        .unwrap_or_else(|_| format!("The upload failed ({status})."));
                    phase.set(ImportPhase::Failed(message));
                    return;
                }
                let id = serde_json::from_str::<serde_json::Value>(&text)
                    .ok()
                    .and_then(|v| v["id"].as_str().map(String::from))
                    .unwrap_or_default();
                leptos::task::spawn_local(async move {
                    loop {
                        match get_import_status(id.clone()).await {
                            Ok(s) if s.status == "running" => phase.set(ImportPhase::Importing(s)),
                            Ok(s) => {
                                phase.set(ImportPhase::Finished(s));
                                return;
                            }
                            Err(e) => {
                                phase.set(ImportPhase::Failed(e.to_string()));
                                return;
                            }
                        }
                        crate::ui::sleep_ms(300).await;
                    }
                });
            });
            xhr.set_onload(Some(on_load.as_ref().unchecked_ref()));
            on_load.forget();
            let on_error = Closure::<dyn FnMut()>::new(move || {
                phase.set(ImportPhase::Failed(
                    "The connection dropped during the upload; try again.".into(),
                ));
            });
            xhr.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            on_error.forget();
            let _ = xhr.send_with_opt_blob(Some(&file));
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (file_input, organization, pantry, skip);
    };
    let busy = move || {
        matches!(
            phase.get(),
            ImportPhase::Uploading(_) | ImportPhase::Importing(_)
        )
    };
    // Only those who may import are offered the form; others learn why.
    let place = Resource::new(
        move || organization.get(),
        |id| crate::org::api::get_organization(crate::ids::OrganizationId::from_stored(id)),
    );
    view! {
        <Title text="Import usage history" />
        <Transition fallback=Loading>
        {move || Suspend::new(async move {
        let org = match place.await {
            Ok(v) if v.abilities.manage => v.organization,
            Ok(_) => return view! { <ErrorPanel error=crate::error::AppError::forbidden() /> }.into_any(),
            Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
        };
        view! {
        <Breadcrumbs trail=vec![
            (org.name.clone(), Some(format!("/organizations/{}", org.id))),
            ("Reports".into(), Some(format!("/reports?scope=organization:{}", org.id))),
            ("Import usage history".into(), None),
        ] />
        <div class="page-head">
            <h1>"Import usage history"</h1>
        </div>
        <section class="card">
            <p>"Bring in last year's usage or sales so forecasts start from real demand. This never changes stock."</p>
            <p class="hint">"A CSV with a header line. Columns: date (YYYY-MM-DD), quantity, and the product as product (its name), barcode, sku or product_id; optional: unit_price, revenue, pantry. Rows already imported are recognised and not counted twice."</p>
            <form class="stack" on:submit=send aria-label="Import usage history">
                <div class="field">
                    <label for="history-file">"CSV file"</label>
                    <input id="history-file" type="file" accept=".csv,text/csv" node_ref=file_input />
                </div>
                <div class="field">
                    <label for="history-pantry">"Pantry for rows without one (optional)"</label>
                    <input id="history-pantry" name="pantry" autocomplete="off" prop:value=move || pantry.get() on:input=move |ev| pantry.set(event_target_value(&ev)) />
                </div>
                <div class="field check">
                    <input id="history-skip" type="checkbox" prop:checked=move || skip.get() on:change=move |ev| skip.set(event_target_checked(&ev)) />
                    <label for="history-skip">"Import the good rows even if some are bad"</label>
                </div>
                <button type="submit" class="button primary" disabled=busy>{move || if busy() { "Importing…" } else { "Import" }}</button>
            </form>
            <div aria-live="polite" class="import-outcome">
                {move || match phase.get() {
                    ImportPhase::Idle => ().into_any(),
                    ImportPhase::Uploading(f) => view! {
                        <label for="import-progress">{format!("Uploading… {:.0}%", f * 100.0)}</label>
                        <progress id="import-progress" max="100" value=format!("{:.0}", f * 100.0)></progress>
                    }.into_any(),
                    ImportPhase::Importing(s) => {
                        let pct = if s.bytes_total > 0 { s.bytes_done as f64 * 100.0 / s.bytes_total as f64 } else { 0.0 };
                        view! {
                            <label for="import-progress">{format!("Importing… {pct:.0}%")}</label>
                            <progress id="import-progress" max="100" value=format!("{pct:.0}")></progress>
                        }.into_any()
                    }
                    ImportPhase::Finished(s) => view! {
                        <div class=if s.status == "done" { "notice" } else { "warning" } role="status" data-testid="import-outcome">
                            <p>{match s.status.as_str() {
                                "done" => format!("Imported {} row(s) from {}.", s.rows_imported, s.file_name),
                                _ => format!("Nothing was imported from {}.", s.file_name),
                            }}</p>
                            {(s.rows_duplicate > 0).then(|| view! { <p>{format!("{} row(s) were imported before and were not counted again.", s.rows_duplicate)}</p> })}
                            {(s.rows_bad > 0 && s.status == "done").then(|| view! { <p>{format!("{} row(s) have problems and were skipped.", s.rows_bad)}</p> })}
                            {s.message.clone().map(|m| view! { <p>{m}</p> })}
                            {s.errors_url.clone().map(|u| view! { <p><a class="button" href=u download="">"Download the problem rows"</a></p> })}
                        </div>
                    }.into_any(),
                    ImportPhase::Failed(m) => view! { <p class="form-error" role="alert">{m}</p> }.into_any(),
                }}
            </div>
        </section>
        }.into_any()
        })}
        </Transition>
    }
}

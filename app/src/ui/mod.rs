//! Building blocks every page uses: fields with their errors, form-level
//! errors, loading and empty states, the error panel.

use leptos::prelude::*;

mod scanner;
pub use scanner::BarcodeScanner;

use crate::error::{AppError, ErrorTitle};

/// The error of an action's last run, as a signal forms can show.
pub fn last_error<T, S>(value: S) -> Signal<Option<AppError>>
where
    T: 'static,
    S: Get<Value = Option<Result<T, AppError>>> + Send + Sync + 'static,
{
    Signal::derive(move || value.get().and_then(Result::err))
}

/// A labelled input with its hint and its error, wired up for screen readers.
#[component]
pub fn TextField(
    /// Form this field belongs to; keeps element ids unique on the page.
    form: &'static str,
    label: &'static str,
    name: &'static str,
    #[prop(into)] error: Signal<Option<AppError>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional, into)] value: Option<String>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] autofocus: bool,
    /// The id of a `<datalist>` of suggestions.
    #[prop(optional)]
    list: Option<&'static str>,
) -> impl IntoView {
    let id = format!("{form}-{name}");
    let error_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let message = move || {
        error
            .get()
            .filter(|e| e.field() == Some(name))
            .map(|e| e.to_string())
    };
    let described = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let mut ids = Vec::new();
            if hint.is_some() {
                ids.push(hint_id.clone());
            }
            if message().is_some() {
                ids.push(error_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:field-invalid=move || message().is_some()>
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="hint" id=hint_id.clone()>{h}</p> })}
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                readonly=readonly
                autofocus=autofocus
                list=list
                aria-invalid=move || message().map(|_| "true")
                aria-describedby=described
            />
            {move || message().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
        </div>
    }
}

/// Errors that belong to no field of the form: shown above its button.
#[component]
pub fn FormError(
    #[prop(into)] error: Signal<Option<AppError>>,
    /// The fields the form shows errors beside; others are shown here.
    fields: &'static [&'static str],
) -> impl IntoView {
    let message = move || {
        error
            .get()
            .filter(|e| !e.field().is_some_and(|f| fields.contains(&f)))
            .map(|e| e.to_string())
    };
    view! {
        <div aria-live="polite">
            {move || message().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
        </div>
    }
}

/// A button that says it is working while its action runs.
#[component]
pub fn SubmitButton(
    label: &'static str,
    busy_label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional)] class: Option<&'static str>,
    /// Not ready to send yet (for example while photos upload).
    #[prop(optional, into)]
    waiting: Option<Signal<bool>>,
) -> impl IntoView {
    view! {
        <button type="submit" class=class.unwrap_or("button primary")
            disabled=move || pending.get() || waiting.is_some_and(|w| w.get())>
            {move || if pending.get() { busy_label } else { label }}
        </button>
    }
}

#[component]
pub fn Loading() -> impl IntoView {
    view! {
        <p class="loading" role="status">
            <span class="spinner" aria-hidden="true"></span>
            "Loading…"
        </p>
    }
}

#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <div class="empty">
            <p class="empty-title">{title}</p>
            {children()}
        </div>
    }
}

/// A page-sized error: what went wrong and where to go from here. On the
/// server it also sets the response status.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let (Some(res), Ok(status)) = (
        use_context::<leptos_axum::ResponseOptions>(),
        http::StatusCode::from_u16(error.status()),
    ) {
        res.set_status(status);
    }
    let title = ErrorTitle(&error).to_string();
    let sign_in = matches!(error, AppError::Unauthenticated(_));
    view! {
        <section class="card error-panel" role="alert">
            <h1>{title}</h1>
            <p>{error.to_string()}</p>
            <p class="actions">
                {sign_in.then(|| view! { <a class="button primary" href="/sign-in">"Sign in"</a> })}
                <a class="button" href="/">"Go to the start page"</a>
            </p>
        </section>
    }
}

/// The trail from the organization down to the page being shown.
#[component]
pub fn Breadcrumbs(trail: Vec<(String, Option<String>)>) -> impl IntoView {
    // A trail of one would only repeat the page's heading.
    (trail.len() > 1).then(|| {
        view! {
            <nav aria-label="Breadcrumb" class="breadcrumbs">
                <ol>
                    {trail
                        .into_iter()
                        .map(|(label, href)| match href {
                            Some(href) => view! { <li><a href=href>{label}</a></li> }.into_any(),
                            None => view! { <li aria-current="page">{label}</li> }.into_any(),
                        })
                        .collect_view()}
                </ol>
            </nav>
        }
    })
}

/// Waits in the browser without blocking it.
#[cfg(feature = "hydrate")]
pub async fn sleep_ms(ms: i32) {
    let promise = web_sys::js_sys::Promise::new(&mut |resolve, _| {
        if let Some(w) = web_sys::window() {
            let _ = w.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    });
    let _ = wasm_bindgen_futures::JsFuture::from(promise).await;
}

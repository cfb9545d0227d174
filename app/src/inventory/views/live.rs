//! Live updates: the stream that tells a page about movements at its
//! pantry, and the status it shows.

use leptos::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
enum LiveStatus {
    Connecting,
    Live,
    Reconnecting,
}

/// Follows the pantry's live stream and bumps `tick` on every change, so
/// the resources that read it fetch again. Shows whether it is connected.
#[component]
pub fn LiveUpdates(pantry: Signal<String>, tick: RwSignal<u64>) -> impl IntoView {
    let url = Signal::derive(move || format!("/live/pantries/{}", pantry.get()));
    view! { <LiveStream url events=&["stock", "resync"] tick /> }
}

/// Follows a server-sent event stream at `url` and bumps `tick` on each
/// of the named `events` (and after a reconnection, when some may have
/// been missed). Shows whether it is connected.
#[component]
pub fn LiveStream(
    url: Signal<String>,
    events: &'static [&'static str],
    tick: RwSignal<u64>,
) -> impl IntoView {
    let status = RwSignal::new(LiveStatus::Connecting);
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::JsCast;
        Effect::new(move |_| {
            let Ok(source) = web_sys::EventSource::new(&url.get()) else {
                status.set(LiveStatus::Reconnecting);
                return;
            };
            let changed = Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |_| {
                tick.update(|t| *t += 1);
            });
            let opened = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                // After a dropped connection, changes may have been missed.
                if status.get_untracked() == LiveStatus::Reconnecting {
                    tick.update(|t| *t += 1);
                }
                status.set(LiveStatus::Live);
            });
            let failed = Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                status.set(LiveStatus::Reconnecting);
            });
            for name in events {
                let _ =
                    source.add_event_listener_with_callback(name, changed.as_ref().unchecked_ref());
            }
            source.set_onopen(Some(opened.as_ref().unchecked_ref()));
            source.set_onerror(Some(failed.as_ref().unchecked_ref()));
            let held = send_wrapper::SendWrapper::new((source, changed, opened, failed));
            on_cleanup(move || {
                let (source, ..) = held.take();
                source.close();
            });
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (url, events, tick);
    view! {
        <span class="live" data-live=move || match status.get() {
            LiveStatus::Connecting => "connecting",
            LiveStatus::Live => "live",
            LiveStatus::Reconnecting => "reconnecting",
        }>
            <span class="live-dot" aria-hidden="true"></span>
            {move || match status.get() {
                LiveStatus::Connecting => "Connecting…",
                LiveStatus::Live => "Live",
                LiveStatus::Reconnecting => "Reconnecting…",
            }}
        </span>
    }
}

//! The notification centre (`/notifications`): the list, marking read,
//! and each kind's channel; and the header's bell with the unread count,
//! which looks again every half minute and on every page change.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use super::api::*;
use super::browser::PushState;
use super::model::*;
use crate::ui::*;

/// How often the header's count looks again.
const BELL_EVERY_MS: u64 = 30_000;

#[component]
pub fn NotificationBell() -> impl IntoView {
    let tick = RwSignal::new(0u32);
    let location = use_location();
    #[cfg(feature = "hydrate")]
    {
        let handle = set_interval_with_handle(
            move || tick.update(|n| *n = n.wrapping_add(1)),
            std::time::Duration::from_millis(BELL_EVERY_MS),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = BELL_EVERY_MS;
    // Asked from the browser only: the server renders the bell without a
    // count, and hydration finds the same.
    let count = LocalResource::new(move || {
        let _ = (tick.get(), location.pathname.get());
        async move { unread_notifications().await.unwrap_or(0) }
    });
    let n = move || count.get().unwrap_or(0);
    let label = move || match n() {
        0 => "Notifications, none unread".to_string(),
        1 => "Notifications, 1 unread".to_string(),
        n => format!("Notifications, {n} unread"),
    };
    view! {
        <a class="bell" href="/notifications" aria-label=label>
            <Bell />
            {move || (n() > 0).then(|| view! {
                <span class="bell-count" aria-hidden="true">{if n() > 99 { "99+".to_string() } else { n().to_string() }}</span>
            })}
        </a>
    }
}

#[component]
fn Bell() -> impl IntoView {
    view! {
        <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false">
            <path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1z" />
        </svg>
    }
}

#[component]
pub fn NotificationsPage() -> impl IntoView {
    let mark = ServerAction::<MarkNotificationsRead>::new();
    let save = ServerAction::<SaveNotificationPreferences>::new();
    let save_error = last_error(save.value());
    let centre = Resource::new(move || mark.version().get(), |_| get_notifications());
    let prefs = Resource::new(
        move || save.version().get(),
        |_| get_notification_preferences(),
    );
    let saved = move || matches!(save.value().get(), Some(Ok(())));
    view! {
        <Title text="Notifications" />
        <div class="page-head"><h1>"Notifications"</h1></div>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let c = match centre.await {
                    Ok(c) => c,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                if c.notifications.is_empty() {
                    return view! { <EmptyState title="Nothing yet"><p>"Urgent stock issues, orders waiting and received, expiring stock and failed supplier syncs show here."</p></EmptyState> }.into_any();
                }
                view! {
                    {(c.unread > 0).then(|| view! {
                        <ActionForm action=mark>
                            <button type="submit" class="button">{format!("Mark all {} read", c.unread)}</button>
                        </ActionForm>
                    })}
                    <ul class="list notifications" aria-label="Notifications">
                        {c.notifications.into_iter().map(|n| {
                            let id = n.id.to_string();
                            let read_id = id.clone();
                            let open = move |_| {
                                mark.dispatch(MarkNotificationsRead { id: read_id.clone() });
                            };
                            view! {
                                <li class=if n.read { "notification" } else { "notification unread" }>
                                    <div>
                                        <a class="primary-text" href=n.link.clone() on:click=open>{n.title.clone()}</a>
                                        {(!n.read).then(|| view! { " " <span class="badge">"new"</span> })}
                                        <p class="muted">{if n.body.is_empty() { n.at.clone() } else { format!("{} · {}", n.body, n.at) }}</p>
                                    </div>
                                    {(!n.read).then(|| view! {
                                        <ActionForm action=mark>
                                            <input type="hidden" name="id" value=id.clone() />
                                            <button type="submit" class="button small">"Mark read"</button>
                                        </ActionForm>
                                    })}
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            })}
        </Transition>
        <section class="card">
            <h2>"What reaches you, and where"</h2>
            <p class="hint">"For each kind: shown here in Larder, pushed to your phone or browser, both, or neither. Pushes reach the browsers push is turned on in."</p>
            <PushSwitch />
            <Transition fallback=Loading>
                {move || Suspend::new(async move {
                    let p = match prefs.await {
                        Ok(p) => p,
                        Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                    };
                    view! {
                        <ActionForm action=save attr:class="stack" attr:aria-label="Notification preferences">
                            {p.channels.iter().map(|(kind, chosen)| {
                                let id = format!("pref-{}", kind.as_str());
                                view! {
                                    <div class="field">
                                        <label for=id.clone()>{kind.label()}</label>
                                        <select id=id name=kind.as_str()>
                                            {Channel::ALL.iter().map(|c| view! {
                                                <option value=c.as_str() selected=*c == *chosen>{c.label()}</option>
                                            }).collect_view()}
                                        </select>
                                    </div>
                                }
                            }).collect_view()}
                            <div class="field check"><label><input type="checkbox" name="daily_digest" value="on" checked=p.daily_digest />" Push one daily digest at 7 in the morning instead of each one as it happens"</label></div>
                            <FormError error=save_error fields=&[] />
                            {move || saved().then(|| view! { <p class="notice" role="status">"Saved."</p> })}
                            <SubmitButton label="Save" busy_label="Saving…" pending=save.pending() />
                        </ActionForm>
                    }.into_any()
                })}
            </Transition>
        </section>
    }
}

/// Push in this browser: on, off, or why it cannot be. Asked from the
/// browser only (the server cannot know this browser's subscription).
#[component]
fn PushSwitch() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let state = LocalResource::new(move || {
        version.track();
        super::browser::state()
    });
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let change = move |on: bool| {
        busy.set(true);
        error.set(None);
        leptos::task::spawn_local(async move {
            let done = if on {
                super::browser::turn_on().await
            } else {
                super::browser::turn_off().await
            };
            if let Err(e) = done {
                error.set(Some(e));
            }
            busy.set(false);
            version.update(|v| *v = v.wrapping_add(1));
        });
    };
    view! {
        <div class="push-switch" aria-live="polite">
            {move || match state.get() {
                None => view! { <p class="hint">"Looking at this browser…"</p> }.into_any(),
                Some(PushState::Unsupported) => view! {
                    <p class="hint">"This browser cannot receive pushes from Larder: it needs a current browser, and Larder served over https."</p>
                }.into_any(),
                Some(PushState::Blocked) => view! {
                    <p class="hint">"Notifications are blocked for Larder in this browser. Allow them in the site's settings to get pushes here."</p>
                }.into_any(),
                Some(PushState::Off) => view! {
                    <p>"Push is off in this browser."</p>
                    <button type="button" class="button" disabled=move || busy.get() on:click=move |_| change(true)>
                        {move || if busy.get() { "Turning on…" } else { "Turn on push in this browser" }}
                    </button>
                }.into_any(),
                Some(PushState::On) => view! {
                    <p>"Push is on in this browser."</p>
                    <button type="button" class="button" disabled=move || busy.get() on:click=move |_| change(false)>
                        {move || if busy.get() { "Turning off…" } else { "Turn off push in this browser" }}
                    </button>
                }.into_any(),
            }}
            {move || error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
        </div>
    }
}

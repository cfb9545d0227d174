//! One's own account page, and the page a password reset link opens.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use super::views::reload_to;
use crate::ui::*;

#[component]
pub fn AccountPage() -> impl IntoView {
    let rename = ServerAction::<RenameMe>::new();
    let change = ServerAction::<ChangePassword>::new();
    let elsewhere = ServerAction::<SignOutElsewhere>::new();
    let leave = ServerAction::<LeaveOrganization>::new();
    let account = Resource::new(
        move || {
            (
                rename.version().get(),
                change.version().get(),
                elsewhere.version().get(),
                leave.version().get(),
            )
        },
        |_| get_account(),
    );
    let rename_error = last_error(rename.value());
    let change_error = last_error(change.value());
    let leave_error = last_error(leave.value());
    let changed = move || matches!(change.value().get(), Some(Ok(())));
    let ended = move || elsewhere.value().get().and_then(Result::ok);
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            if let Some(f) = form.get() {
                f.reset();
            }
        }
    });
    view! {
        <Title text="Your account" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let a = match account.await {
                    Ok(a) => a,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let others = a.sessions.iter().filter(|s| !s.current).count();
                view! {
                    <h1>"Your account"</h1>
                    <div class="columns">
                        <section class="card">
                            <h2>"Profile"</h2>
                            <dl class="facts">
                                <dt>"Email"</dt><dd>{a.me.email.clone()}</dd>
                                <dt>"Signs in with"</dt><dd>{a.sign_in_methods.join(", ")}</dd>
                            </dl>
                            <ActionForm action=rename attr:class="row-form">
                                <TextField form="me" label="Display name" name="name" value=a.me.display_name.clone() error=rename_error autocomplete="name" />
                                <FormError error=rename_error fields=&["name"] />
                                <SubmitButton label="Save name" busy_label="Saving…" pending=rename.pending() class="button" />
                            </ActionForm>
                        </section>
                        <section class="card">
                            <h2>"Change password"</h2>
                            <ActionForm action=change node_ref=form attr:class="stack">
                                <TextField form="password" label="Current password" name="current" kind="password" error=change_error autocomplete="current-password" />
                                <TextField form="password" label="New password" name="password" kind="password" error=change_error autocomplete="new-password" hint="At least 10 characters. Every other browser signed in as you is signed out." />
                                <FormError error=change_error fields=&["current", "password"] />
                                <SubmitButton label="Change password" busy_label="Changing…" pending=change.pending() />
                            </ActionForm>
                            {move || changed().then(|| view! { <p class="notice" role="status">"Password changed. Other browsers are signed out."</p> })}
                        </section>
                    </div>
                    <section class="card">
                        <div class="list-head">
                            <h2>"Where you are signed in"</h2>
                            {(others > 0).then(|| view! {
                                <ActionForm action=elsewhere attr:class="inline">
                                    <button type="submit" class="button small">"Sign out everywhere else"</button>
                                </ActionForm>
                            })}
                        </div>
                        {move || ended().map(|n| view! { <p class="notice" role="status">{format!("Signed out of {n} other session{}.", if n == 1 { "" } else { "s" })}</p> })}
                        <ul class="list">
                            {a.sessions.iter().map(|s| view! {
                                <li>
                                    <span class="primary-text">{s.user_agent.clone().map(|ua| browser_name(&ua)).unwrap_or_else(|| "Unknown browser".into())}</span>
                                    <span class="muted">{format!("from {} · since {} · last active {}", s.client_ip.clone().unwrap_or_else(|| "an unknown address".into()), s.created_at, s.last_seen_at)}</span>
                                    {s.current.then(|| view! { <span class="badge badge-ok">"This browser"</span> })}
                                </li>
                            }).collect_view()}
                        </ul>
                    </section>
                    <section class="card">
                        <h2>"Where you belong"</h2>
                        <FormError error=leave_error fields=&[] />
                        {if a.organizations.is_empty() {
                            view! { <EmptyState title="No organization yet"><p>"An admin of your pantry can invite you."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <ul class="list">
                                    {a.organizations.clone().into_iter().map(|o| {
                                        let id = o.organization_id.clone();
                                        let confirm = format!("Leave {}? You lose access to all of it.", o.organization_name);
                                        view! {
                                            <li>
                                                <a class="primary-text" href=format!("/organizations/{id}")>{o.organization_name}</a>
                                                <span class="muted">{o.roles.join("; ")}</span>
                                                <details class="confirm">
                                                    <summary class="button small">"Leave…"</summary>
                                                    <ActionForm action=leave attr:class="inline">
                                                        <input type="hidden" name="organization" value=id.clone() />
                                                        <span>{confirm}</span>
                                                        <button type="submit" class="button small danger">"Leave"</button>
                                                    </ActionForm>
                                                </details>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

/// "Chrome on Android" from a User-Agent string, good enough to tell one's
/// own browsers apart.
fn browser_name(ua: &str) -> String {
    let browser = if ua.contains("Edg/") {
        "Edge"
    } else if ua.contains("Firefox/") {
        "Firefox"
    } else if ua.contains("Chrome/") || ua.contains("Chromium/") {
        "Chrome"
    } else if ua.contains("Safari/") {
        "Safari"
    } else {
        "A program"
    };
    let system = if ua.contains("Android") {
        " on Android"
    } else if ua.contains("iPhone") || ua.contains("iPad") {
        " on iOS"
    } else if ua.contains("Windows") {
        " on Windows"
    } else if ua.contains("Mac OS X") {
        " on macOS"
    } else if ua.contains("Linux") {
        " on Linux"
    } else {
        ""
    };
    format!("{browser}{system}")
}

/// `/reset/:token`: the member an admin made the link for chooses a new
/// password and is signed in.
#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let offer = Resource::new(token, get_password_reset);
    let action = ServerAction::<ResetPassword>::new();
    let error = last_error(action.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_to("/");
        }
    });
    view! {
        <Title text="Choose a new password" />
        <section class="narrow">
            <div class="card">
                <Transition fallback=Loading>
                    {move || Suspend::new(async move {
                        match offer.await {
                            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                            Ok(o) => view! {
                                <h1>"Choose a new password"</h1>
                                <p>{format!("For {} ({}). Every browser signed in as you is signed out.", o.display_name, o.email)}</p>
                                <ActionForm action=action attr:class="stack">
                                    <input type="hidden" name="token" value=token() />
                                    <input type="hidden" name="username" autocomplete="username" value=o.email.clone() />
                                    <TextField form="reset" label="New password" name="password" kind="password" error=error autocomplete="new-password" hint="At least 10 characters." autofocus=true />
                                    <FormError error=error fields=&["password"] />
                                    <SubmitButton label="Set password and sign in" busy_label="Saving…" pending=action.pending() />
                                </ActionForm>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::browser_name;

    #[test]
    fn browsers_are_named_plainly() {
        assert_eq!(
            browser_name("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36"),
            "Chrome on Android"
        );
        assert_eq!(
            browser_name("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15"),
            "Safari on macOS"
        );
        assert_eq!(browser_name("curl/8.5.0"), "A program");
    }
}

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
                    {a.me.is_site_admin.then(|| view! {
                        <p class="actions"><a class="button" href="/admin/pool">"Sign-in pool (Cognito)"</a></p>
                    })}
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
                        {if a.sign_in_methods.iter().any(|m| m.starts_with("Email and password")) {
                            view! {
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
                            }.into_any()
                        } else {
                            view! {
                                <section class="card">
                                    <h2>"Password"</h2>
                                    <p>"You sign in with single sign-on and have no Larder password. An admin can make you a password link if you ever need one."</p>
                                </section>
                            }.into_any()
                        }}
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

/// `/forgot`: asks for a password link by email, where mail is set up.
#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session());
    let action = ServerAction::<RequestPasswordReset>::new();
    let error = last_error(action.value());
    let sent = move || matches!(action.value().get(), Some(Ok(())));
    view! {
        <Title text="Forgot your password?" />
        <section class="narrow">
            <div class="card">
                <h1>"Forgot your password?"</h1>
                <Suspense fallback=Loading>
                    {move || Suspend::new(async move {
                        match session.await {
                            Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                            Ok(SessionInfo { password_email: false, .. }) => view! {
                                <p>"Ask an admin of your pantry for a password link: they make one on the People page, and it works once, for a day."</p>
                                <p><a href="/sign-in">"Back to sign in"</a></p>
                            }.into_any(),
                            Ok(_) => view! {
                                <Show
                                    when=sent
                                    fallback=move || view! {
                                        <p>"Enter the email address you sign in with. If an account has it, a link to choose a new password is emailed there; it works once, for a day."</p>
                                        <ActionForm action=action attr:class="stack">
                                            <TextField form="forgot" label="Email" name="email" kind="email" error=error autocomplete="username" autofocus=true />
                                            <FormError error=error fields=&["email"] />
                                            <SubmitButton label="Email me a link" busy_label="Sending…" pending=action.pending() />
                                        </ActionForm>
                                    }
                                >
                                    <p class="notice" role="status">"If an account uses that address, a link is on its way. Check your inbox (and its spam folder) in a minute or two."</p>
                                </Show>
                                <p><a href="/sign-in">"Back to sign in"</a></p>
                            }.into_any(),
                        }
                    })}
                </Suspense>
            </div>
        </section>
    }
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

/// `/admin/pool`: the site admin's view of the Cognito user pool.
#[component]
pub fn PoolPage() -> impl IntoView {
    let group = ServerAction::<PoolGroup>::new();
    let enabled = ServerAction::<PoolSetEnabled>::new();
    let resend = ServerAction::<PoolResendInvitation>::new();
    let query = leptos_router::hooks::use_query_map();
    let pool = Resource::new(
        move || {
            (
                query.read().get("page"),
                group.version().get(),
                enabled.version().get(),
                resend.version().get(),
            )
        },
        |(page, ..)| get_pool(page),
    );
    let error = RwSignal::new(None::<crate::error::AppError>);
    let done = RwSignal::new(None::<&'static str>);
    Effect::new(move |_| {
        if let Some(r) = group.value().get() {
            done.set(r.is_ok().then_some("Groups changed."));
            error.set(r.err());
        }
    });
    Effect::new(move |_| {
        if let Some(r) = enabled.value().get() {
            done.set(r.is_ok().then_some("Account changed."));
            error.set(r.err());
        }
    });
    Effect::new(move |_| {
        if let Some(r) = resend.value().get() {
            done.set(r.is_ok().then_some("Invitation email sent again."));
            error.set(r.err());
        }
    });
    view! {
        <Title text="Sign-in pool" />
        <h1>"Sign-in pool"</h1>
        <p class="muted">"The people of the Cognito user pool that Google sign-in goes through. Groups can grant roles in Larder (LARDER_COGNITO_GROUP_ROLES); a disabled person cannot sign in through the pool."</p>
        <FormError error=Signal::derive(move || error.get()) fields=&[] />
        {move || done.get().map(|d| view! { <p class="notice" role="status">{d}</p> })}
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match pool.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let groups = v.groups.clone();
                view! {
                    <p class="muted">{format!("Pool {}", v.pool_id)}</p>
                    {if v.users.is_empty() {
                        view! { <EmptyState title="No one in the pool yet"><p>"People appear here after their first Google sign-in, or when added in AWS."</p></EmptyState> }.into_any()
                    } else {
                        view! {
                            <ul class="list members">
                                {v.users.into_iter().map(|u| {
                                    let groups = groups.clone();
                                    let name = u.username.clone();
                                    let select_id = format!("group-{}", u.username);
                                    let label = format!("Group to add {} to", u.email);
                                    let (n1, n2, n3) = (name.clone(), name.clone(), name.clone());
                                    view! {
                                        <li>
                                            <span class="primary-text">{u.email.clone()}</span>
                                            <span class="muted">{format!("{} · {}", u.name.clone().unwrap_or_default(), u.status)}</span>
                                            {(!u.enabled).then(|| view! { <span class="badge danger">"Disabled"</span> })}
                                            {u.groups.clone().into_iter().map(|g| {
                                                let (user, g2) = (name.clone(), g.clone());
                                                view! {
                                                    <ActionForm action=group attr:class="inline">
                                                        <input type="hidden" name="username" value=user />
                                                        <input type="hidden" name="group" value=g2 />
                                                        <input type="hidden" name="add" value="false" />
                                                        <button type="submit" class="button small" title="Remove from this group">{format!("{g} ×")}</button>
                                                    </ActionForm>
                                                }
                                            }).collect_view()}
                                            <ActionForm action=group attr:class="inline">
                                                <input type="hidden" name="username" value=n1 />
                                                <input type="hidden" name="add" value="true" />
                                                <label class="visually-hidden" for=select_id.clone()>{label}</label>
                                                <select id=select_id name="group">
                                                    {groups.iter().map(|g| view! { <option value=g.clone()>{g.clone()}</option> }).collect_view()}
                                                </select>
                                                <button type="submit" class="button small">"Add to group"</button>
                                            </ActionForm>
                                            <ActionForm action=enabled attr:class="inline">
                                                <input type="hidden" name="username" value=n2 />
                                                <input type="hidden" name="enabled" value=(!u.enabled).to_string() />
                                                <button type="submit" class="button small" class:danger=u.enabled>{if u.enabled { "Disable" } else { "Enable" }}</button>
                                            </ActionForm>
                                            {(u.status == "FORCE_CHANGE_PASSWORD").then(|| view! {
                                                <ActionForm action=resend attr:class="inline">
                                                    <input type="hidden" name="username" value=n3 />
                                                    <button type="submit" class="button small">"Resend invitation"</button>
                                                </ActionForm>
                                            })}
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                            {v.next_page.map(|p| view! { <a class="button" href=format!("/admin/pool?page={}", crate::inventory::views::encode(&p))>"Next page"</a> })}
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

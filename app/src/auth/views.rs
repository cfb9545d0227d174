//! Pages for first-start setup, signing in, invitations and people.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

use super::api::*;
use super::model::*;
use crate::ids::OrganizationId;
use crate::ui::*;

/// Loads a page in full, so every part of it sees the new session.
pub fn reload_to(path: &str) {
    let _ = window().location().set_href(path);
}

/// Only same-site paths are followed after signing in.
fn safe_next(next: Option<String>) -> String {
    next.filter(|n| {
        n.starts_with('/')
            && !n.starts_with("//")
            && !n
                .chars()
                .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
    })
    .unwrap_or_else(|| "/".into())
}
#[cfg(test)]
mod tests {
    #[test]
    fn only_same_site_paths_are_followed_after_sign_in() {
        let next = |s: &str| super::safe_next(Some(s.into()));
        assert_eq!(next("/invitations/abc"), "/invitations/abc");
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "https://evil.example",
            "evil",
        ] {
            assert_eq!(next(bad), "/", "{bad:?}");
        }
    }
}

#[component]
pub fn SetupPage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session());
    let action = ServerAction::<CompleteSetup>::new();
    let error = last_error(action.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_to("/organizations/new");
        }
    });
    view! {
        <Title text="Set up" />
        <section class="narrow">
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    match session.await {
                        Ok(SessionInfo { setup_open: true, .. }) => view! {
                            <div class="card">
                                <h1>"Set up Larder"</h1>
                                <p>
                                    "Create the first account. It runs this Larder: it creates organizations and invites everyone else. "
                                    "The setup code is printed in the server log when Larder starts."
                                </p>
                                <ActionForm action=action attr:class="stack">
                                    <TextField form="setup" label="Setup code" name="code" error=error autocomplete="off" hint="Looks like ABCD-EFGH-JKLM." autofocus=true />
                                    <TextField form="setup" label="Your name" name="name" error=error autocomplete="name" />
                                    <TextField form="setup" label="Email" name="email" kind="email" error=error autocomplete="email" />
                                    <TextField form="setup" label="Password" name="password" kind="password" error=error autocomplete="new-password" hint="At least 10 characters." />
                                    <FormError error=error fields=&["code", "name", "email", "password"] />
                                    <SubmitButton label="Create account" busy_label="Creating…" pending=action.pending() />
                                </ActionForm>
                            </div>
                        }.into_any(),
                        Ok(_) => view! {
                            <div class="card">
                                <h1>"Larder is set up"</h1>
                                <p>"This Larder already has its administrator. Sign in, or ask an admin for an invitation."</p>
                                <p><a class="button primary" href="/sign-in">"Sign in"</a></p>
                            </div>
                        }.into_any(),
                        Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let session = Resource::new(|| (), |_| get_session());
    let action = ServerAction::<SignIn>::new();
    let error = last_error(action.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_to(&safe_next(query.read_untracked().get("next")));
        }
    });
    view! {
        <Title text="Sign in" />
        <section class="narrow">
            <div class="card">
                <h1>"Sign in"</h1>
                {move || query.read().get("sso").map(|code| view! {
                    <p class="form-error" role="alert">{super::model::sso_message(&code)}</p>
                })}
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let next = query.read_untracked().get("next");
                        session.await.ok().and_then(|s| s.sso_label).map(|label| {
                            let href = match next.filter(|n| n.starts_with('/') && !n.starts_with("//")) {
                                Some(n) => format!("/auth/sso?next={}", crate::inventory::views::encode(&n)),
                                None => "/auth/sso".to_string(),
                            };
                            view! {
                                <a class="button primary sso" href=href rel="external">{label}</a>
                                <p class="or muted">"or with your email and password"</p>
                            }
                        })
                    })}
                </Suspense>
                <ActionForm action=action attr:class="stack">
                    <TextField form="sign-in" label="Email" name="email" kind="email" error=error autocomplete="username" autofocus=true />
                    <TextField form="sign-in" label="Password" name="password" kind="password" error=error autocomplete="current-password" />
                    <FormError error=error fields=&["email", "password"] />
                    <SubmitButton label="Sign in" busy_label="Signing in…" pending=action.pending() />
                </ActionForm>
                <p><a href="/forgot">"Forgot your password?"</a></p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        if matches!(session.await, Ok(SessionInfo { open_signup: true, .. })) {
                            view! { <p>"New here? " <a href="/sign-up">"Create an account"</a></p> }.into_any()
                        } else {
                            view! { <p class="muted">"New here? Accounts come by invitation: ask an admin of your pantry for a link."</p> }.into_any()
                        }
                    })}
                </Suspense>
            </div>
        </section>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let action = ServerAction::<SignUp>::new();
    let error = last_error(action.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            reload_to("/");
        }
    });
    view! {
        <Title text="Create an account" />
        <section class="narrow">
            <div class="card">
                <h1>"Create an account"</h1>
                <p>"An account on its own sees nothing yet: an admin grants access to a pantry."</p>
                <ActionForm action=action attr:class="stack">
                    <TextField form="sign-up" label="Your name" name="name" error=error autocomplete="name" autofocus=true />
                    <TextField form="sign-up" label="Email" name="email" kind="email" error=error autocomplete="email" />
                    <TextField form="sign-up" label="Password" name="password" kind="password" error=error autocomplete="new-password" hint="At least 10 characters." />
                    <FormError error=error fields=&["name", "email", "password"] />
                    <SubmitButton label="Create account" busy_label="Creating…" pending=action.pending() />
                </ActionForm>
            </div>
        </section>
    }
}

#[component]
pub fn SignOutButton() -> impl IntoView {
    let action = ServerAction::<SignOut>::new();
    Effect::new(move |_| {
        if let Some(Ok(logout)) = action.value().get() {
            reload_to(logout.as_deref().unwrap_or("/sign-in"));
        }
    });
    view! {
        <ActionForm action=action attr:class="inline">
            <button type="submit" class="button link">"Sign out"</button>
        </ActionForm>
    }
}

#[component]
pub fn InvitationPage() -> impl IntoView {
    let params = use_params_map();
    let token = move || params.read().get("token").unwrap_or_default();
    let offer = Resource::new(token, get_invitation);
    let create = ServerAction::<AcceptInvitation>::new();
    let join = ServerAction::<JoinWithInvitation>::new();
    let create_error = last_error(create.value());
    let join_error = last_error(join.value());
    Effect::new(move |_| {
        if matches!(create.value().get(), Some(Ok(())))
            || matches!(join.value().get(), Some(Ok(())))
        {
            reload_to("/");
        }
    });
    view! {
        <Title text="Invitation" />
        <section class="narrow">
            <Suspense fallback=Loading>
                {move || Suspend::new(async move {
                    let offer = match offer.await {
                        Ok(o) => o,
                        Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                    };
                    let token = token();
                    let next = format!("/sign-in?next=/invitations/{token}");
                    let what = format!(
                        "{} invited you to {} as {}.",
                        offer.invited_by,
                        offer.scope_name,
                        offer.role.as_phrase()
                    );
                    let body = if offer.signed_in_as_invitee {
                        view! {
                            <ActionForm action=join attr:class="stack">
                                <input type="hidden" name="token" value=token.clone() />
                                <FormError error=join_error fields=&[] />
                                <SubmitButton label="Accept invitation" busy_label="Accepting…" pending=join.pending() />
                            </ActionForm>
                        }.into_any()
                    } else if offer.account_exists {
                        view! {
                            <p>"You already have an account as " <strong>{offer.email.clone()}</strong> ". Sign in with it to accept."</p>
                            <p><a class="button primary" href=next>"Sign in to accept"</a></p>
                        }.into_any()
                    } else {
                        view! {
                            <ActionForm action=create attr:class="stack">
                                <input type="hidden" name="token" value=token.clone() />
                                <TextField form="accept" label="Email" name="email" kind="email" error=create_error value=offer.email.clone() readonly=true hint="Invitations are for one address." />
                                <TextField form="accept" label="Your name" name="name" error=create_error autocomplete="name" autofocus=true />
                                <TextField form="accept" label="Choose a password" name="password" kind="password" error=create_error autocomplete="new-password" hint="At least 10 characters." />
                                <FormError error=create_error fields=&["name", "password"] />
                                <SubmitButton label="Create account and join" busy_label="Joining…" pending=create.pending() />
                            </ActionForm>
                        }.into_any()
                    };
                    view! {
                        <div class="card">
                            <p class="eyebrow">{offer.organization_name.clone()}</p>
                            <h1>"You are invited"</h1>
                            <p class="lead">{what}</p>
                            <p class="muted">{format!("{} can: {}.", offer.role.plural(), offer.role.describe())}</p>
                            {body}
                        </div>
                    }.into_any()
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    let params = use_params_map();
    let org = move || OrganizationId::from_stored(params.read().get("id").unwrap_or_default());
    let invite = ServerAction::<CreateInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let change_role = ServerAction::<ChangeMemberRole>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let reset_link = ServerAction::<CreateResetLink>::new();
    let reset_created = move || reset_link.value().get().and_then(Result::ok);
    let people = Resource::new(
        move || {
            (
                org(),
                invite.version().get(),
                revoke.version().get(),
                change_role.version().get(),
                remove.version().get(),
            )
        },
        |(org, ..)| get_people(org),
    );
    let error = last_error(invite.value());
    // The refusal of the last change to a member (the last admin, say),
    // whichever form it came from.
    let member_error = RwSignal::new(None::<crate::error::AppError>);
    Effect::new(move |_| {
        if let Some(r) = change_role.value().get() {
            member_error.set(r.err());
        }
    });
    Effect::new(move |_| {
        if let Some(r) = remove.value().get() {
            member_error.set(r.err());
        }
    });
    Effect::new(move |_| {
        if let Some(r) = reset_link.value().get() {
            member_error.set(r.err());
        }
    });
    let created = move || invite.value().get().and_then(Result::ok);
    let query = leptos_router::hooks::use_query_map();
    let start_from = move || query.read().get("where");
    view! {
        <Title text="People" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let view = match people.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = org();
                let start_from = start_from();
                view! {
                    <Breadcrumbs trail=vec![
                        (view.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        ("People".into(), None),
                    ] />
                    <h1>"People"</h1>
                    <div class="columns">
                        <section class="card">
                            <h2>"Invite someone"</h2>
                            <ActionForm action=invite attr:class="stack">
                                <TextField form="invite" label="Email" name="email" kind="email" error=error autocomplete="off" />
                                <div class="field">
                                    <label for="invite-role">"Role"</label>
                                    <select id="invite-role" name="role" aria-describedby="invite-role-hint">
                                        {Role::ALL.iter().map(|r| view! {
                                            <option value=r.as_str() selected=*r == Role::Staff>{r.label()}</option>
                                        }).collect_view()}
                                    </select>
                                    <ul class="hint roles" id="invite-role-hint">
                                        {Role::ALL.iter().map(|r| view! {
                                            <li><strong>{r.label()}</strong>": "{r.describe()}</li>
                                        }).collect_view()}
                                    </ul>
                                </div>
                                <div class="field">
                                    <label for="invite-scope">"Where"</label>
                                    <select id="invite-scope" name="scope">
                                        {view.places.iter().map(|p| {
                                            let value = format!("{}:{}", p.scope_kind.as_str(), p.scope_id);
                                            // The place the invitation was started from.
                                            let selected = start_from.as_deref() == Some(value.as_str());
                                            view! { <option value=value selected=selected>{p.label.clone()}</option> }
                                        }).collect_view()}
                                    </select>
                                </div>
                                <FormError error=error fields=&["email"] />
                                <SubmitButton label="Create invitation link" busy_label="Creating…" pending=invite.pending() />
                            </ActionForm>
                            {move || created().map(|c| view! {
                                <div class="notice" role="status">
                                    <p>{match (&c.emailed_to, &c.mail_error) {
                                        (Some(to), _) => format!("Invitation for {} as {} at {}, emailed to {to}. The link below is the same; it works once, for 7 days.", c.email, c.role.as_phrase(), c.scope_name),
                                        (None, Some(e)) => format!("Invitation for {} as {} at {}. {e} Send them this link yourself; it works once, for 7 days.", c.email, c.role.as_phrase(), c.scope_name),
                                        (None, None) => format!("Invitation for {} as {} at {}. Send them this link; it works once, for 7 days.", c.email, c.role.as_phrase(), c.scope_name),
                                    }}</p>
                                    <label for="invite-link">"Invitation link"</label>
                                    <input id="invite-link" class="copy" readonly value=c.link.clone() />
                                </div>
                            })}
                        </section>
                        <section class="card">
                            <h2>"Members"</h2>
                            <FormError error=member_error fields=&[] />
                            {move || reset_created().map(|c| view! {
                                <div class="notice" role="status">
                                    <p>{match (&c.emailed_to, &c.mail_error) {
                                        (Some(to), _) => format!("A link for {} to choose a new password, emailed to {to}. It works once, for {} hours.", c.display_name, c.valid_hours),
                                        (None, Some(e)) => format!("A link for {} to choose a new password. {e} Send it to them yourself; it works once, for {} hours.", c.display_name, c.valid_hours),
                                        (None, None) => format!("A link for {} to choose a new password. Send it to them; it works once, for {} hours.", c.display_name, c.valid_hours),
                                    }}</p>
                                    <label for="reset-link">"Password link"</label>
                                    <input id="reset-link" class="copy" readonly value=c.link.clone() />
                                </div>
                            })}
                            <ul class="list members">
                                {view.people.iter().map(|p| {
                                    let id = p.membership_id.to_string();
                                    let id_2 = id.clone();
                                    let id_3 = id.clone();
                                    let select_id = format!("role-{id}");
                                    let current = p.role;
                                    let who = format!("{} at {}", p.display_name, p.scope_name);
                                    let role_label = format!("Role of {who}");
                                    let confirm = format!("Remove {who}? They lose access at once.");
                                    view! {
                                        <li>
                                            <span class="primary-text">{p.display_name.clone()}</span>
                                            <span class="muted">{p.email.clone()}</span>
                                            <span class="badge">{format!("{} · {}", p.role.label(), p.scope_name)}</span>
                                            <ActionForm action=change_role attr:class="inline">
                                                <input type="hidden" name="membership" value=id />
                                                <label class="visually-hidden" for=select_id.clone()>{role_label}</label>
                                                <select id=select_id name="role">
                                                    {Role::ALL.iter().map(|r| view! {
                                                        <option value=r.as_str() selected=*r == current>{r.label()}</option>
                                                    }).collect_view()}
                                                </select>
                                                <button type="submit" class="button small">"Change role"</button>
                                            </ActionForm>
                                            <ActionForm action=reset_link attr:class="inline">
                                                <input type="hidden" name="membership" value=id_3 />
                                                <button type="submit" class="button small">"Password link"</button>
                                            </ActionForm>
                                            <details class="confirm">
                                                <summary class="button small">"Remove…"</summary>
                                                <ActionForm action=remove attr:class="inline">
                                                    <input type="hidden" name="membership" value=id_2 />
                                                    <span>{confirm}</span>
                                                    <button type="submit" class="button small danger">"Remove"</button>
                                                </ActionForm>
                                            </details>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        </section>
                    </div>
                    <section class="card">
                        <h2>"Invitations"</h2>
                        {if view.invitations.is_empty() {
                            view! { <EmptyState title="No invitations yet"><p>"Invite someone above; the link appears once, for you to pass on."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <ul class="list">
                                    {view.invitations.iter().map(|i| {
                                        let pending = i.status == InvitationStatus::Pending;
                                        let id = i.id.to_string();
                                        view! {
                                            <li>
                                                <span class="primary-text">{i.email.clone()}</span>
                                                <span class="muted">{format!("{} at {} · until {}", i.role.label(), i.scope_name, i.expires_at)}</span>
                                                <span class="badge" class:badge-ok=!pending>{i.status.label()}</span>
                                                {pending.then(|| view! {
                                                    <ActionForm action=revoke attr:class="inline">
                                                        <input type="hidden" name="id" value=id.clone() />
                                                        <button type="submit" class="button small">"Withdraw"</button>
                                                    </ActionForm>
                                                })}
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

/// An organization's API keys: make one (shown once), see when each was
/// last used, revoke.
#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let params = use_params_map();
    let org = move || OrganizationId::from_stored(params.read().get("id").unwrap_or_default());
    let create = ServerAction::<CreateApiKey>::new();
    let revoke = ServerAction::<RevokeApiKey>::new();
    let keys = Resource::new(
        move || (org(), create.version().get(), revoke.version().get()),
        |(org, ..)| get_api_keys(org),
    );
    let error = last_error(create.value());
    let revoke_error = last_error(revoke.value());
    let created = move || create.value().get().and_then(Result::ok);
    view! {
        <Title text="API keys" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let view = match keys.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = org();
                view! {
                    <Breadcrumbs trail=vec![
                        (view.organization_name.clone(), Some(format!("/organizations/{org_id}"))),
                        ("API keys".into(), None),
                    ] />
                    <h1>"API keys"</h1>
                    <p class="muted">
                        "A key lets a script, a till or a spreadsheet use the "
                        <a href="/developers">"Larder API"</a>
                        " for one organization or pantry. Send it as "
                        <code>"Authorization: Bearer lk_…"</code>"."
                    </p>
                    <div class="columns">
                        <section class="card">
                            <h2>"Make a key"</h2>
                            <ActionForm action=create attr:class="stack">
                                <TextField form="key" label="Name" name="name" hint="What uses it, like “Till export”." error=error autocomplete="off" />
                                <div class="field">
                                    <label for="key-scope">"For"</label>
                                    <select id="key-scope" name="scope">
                                        {view.places.iter().map(|p| {
                                            let value = format!("{}:{}", p.scope_kind.as_str(), p.scope_id);
                                            view! { <option value=value>{p.label.clone()}</option> }
                                        }).collect_view()}
                                    </select>
                                </div>
                                <fieldset class="field">
                                    <legend>"Access"</legend>
                                    <label><input type="radio" name="access" value="read" checked=true />" Read only: stock, movements, visits, reports"</label>
                                    <label><input type="radio" name="access" value="read_write" />" Read and write: also post movements and import history"</label>
                                </fieldset>
                                <FormError error=error fields=&["name"] />
                                <SubmitButton label="Make key" busy_label="Making…" pending=create.pending() />
                            </ActionForm>
                            {move || created().map(|c| view! {
                                <div class="notice" role="status">
                                    <p>{format!("“{}” ({}, {}). Copy it now: it is not shown again.", c.name, c.access.label(), c.place)}</p>
                                    <label for="new-key">"API key"</label>
                                    <input id="new-key" class="copy" readonly value=c.key.clone() />
                                </div>
                            })}
                        </section>
                        <section class="card">
                            <h2>"Keys"</h2>
                            <FormError error=revoke_error fields=&[] />
                            {if view.keys.is_empty() {
                                view! { <EmptyState title="No keys yet"><p>"Make one for each script, so each can be revoked alone."</p></EmptyState> }.into_any()
                            } else {
                                view! {
                                    <ul class="list">
                                        {view.keys.iter().map(|k| {
                                            let active = k.revoked_at.is_none();
                                            let id = k.id.to_string();
                                            let used = k.last_used_at.clone().map_or_else(|| "never used".to_string(), |t| format!("last used {t}"));
                                            view! {
                                                <li>
                                                    <span class="primary-text">{k.name.clone()}</span>
                                                    <code class="muted">{format!("{}…", k.prefix)}</code>
                                                    <span class="muted">{format!("{} · {} · made by {} on {} · {used}", k.access.label(), k.place, k.created_by, k.created_at)}</span>
                                                    {match k.revoked_at.clone() {
                                                        Some(t) => view! { <span class="badge">{format!("Revoked {t}")}</span> }.into_any(),
                                                        None => view! { <span class="badge badge-ok">"Active"</span> }.into_any(),
                                                    }}
                                                    {active.then(|| view! {
                                                        <ActionForm action=revoke attr:class="inline">
                                                            <input type="hidden" name="id" value=id.clone() />
                                                            <button type="submit" class="button small danger">"Revoke"</button>
                                                        </ActionForm>
                                                    })}
                                                </li>
                                            }
                                        }).collect_view()}
                                    </ul>
                                }.into_any()
                            }}
                        </section>
                    </div>
                }.into_any()
            })}
        </Transition>
    }
}

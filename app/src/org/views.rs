//! Pages for the home overview, organizations, campuses and pantries.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::api::*;
use crate::auth::api::{get_session, SessionInfo};
use crate::ids::{CampusId, OrganizationId, PantryId};
use crate::inventory::views::StockOverviewCard;
use crate::ui::*;

#[component]
pub fn HomePage() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session());
    view! {
        <Title text="Home" />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                match session.await {
                    Ok(SessionInfo { me: Some(me), .. }) => view! { <Overview name=me.display_name /> }.into_any(),
                    Ok(SessionInfo { me: None, setup_open, .. }) => view! { <Welcome setup_open /> }.into_any(),
                    Err(e) => view! { <ErrorPanel error=e /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn Welcome(setup_open: bool) -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Larder"</h1>
            <p class="lead">"Stock, visits and orders for food pantries, from the counter to the campus office."</p>
            {if setup_open {
                view! {
                    <p>"This Larder is new. Create its first account with the setup code from the server log."</p>
                    <p><a class="button primary" href="/setup">"Set up Larder"</a></p>
                }.into_any()
            } else {
                view! { <p><a class="button primary" href="/sign-in">"Sign in"</a></p> }.into_any()
            }}
        </section>
    }
}

#[component]
fn Overview(name: String) -> impl IntoView {
    let overview = Resource::new(|| (), |_| get_overview());
    view! {
        <h1>{format!("Hello, {name}")}</h1>
        <crate::nav::views::Checklists />
        <Suspense fallback=Loading>
            {move || Suspend::new(async move {
                let o = match overview.await {
                    Ok(o) => o,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let can_create = o.can_create_organization;
                let no_organizations = o.organizations.is_empty();
                view! {
                    <section class="section">
                        <div class="section-head">
                            <h2>"Your pantries"</h2>
                        </div>
                        {if o.pantries.is_empty() {
                            view! {
                                <EmptyState title="No pantries yet">
                                    <p>{if no_organizations {
                                        "Create an organization, add a campus, then add its pantries."
                                    } else {
                                        "Open your organization to add a campus and its pantries."
                                    }}</p>
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! {
                                <ul class="cards">
                                    {o.pantries.into_iter().map(|p| view! {
                                        <li>
                                            <a class="card link-card" href=format!("/pantries/{}", p.pantry.id)>
                                                <span class="card-title">{p.pantry.name}</span>
                                                <span class="muted">{format!("{} · {}", p.campus_name, p.organization_name)}</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    <section class="section">
                        <div class="section-head">
                            <h2>"Organizations"</h2>
                            {can_create.then(|| view! { <a class="button primary" href="/organizations/new">"New organization"</a> })}
                        </div>
                        {if o.organizations.is_empty() {
                            view! {
                                <EmptyState title="No organizations yet">
                                    <p>{if can_create {
                                        "Start with your college, food bank or shop."
                                    } else {
                                        "You are not a member of any organization. Ask an admin for an invitation."
                                    }}</p>
                                </EmptyState>
                            }.into_any()
                        } else {
                            view! {
                                <ul class="cards">
                                    {o.organizations.into_iter().map(|org| view! {
                                        <li>
                                            <a class="card link-card" href=format!("/organizations/{}", org.id)>
                                                <span class="card-title">{org.name}</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                }.into_any()
            })}
        </Suspense>
    }
}

#[component]
pub fn NewOrganizationPage() -> impl IntoView {
    let action = ServerAction::<CreateOrganization>::new();
    let error = last_error(action.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = action.value().get() {
            navigate(&format!("/organizations/{id}"), Default::default());
        }
    });
    // Only those who may create one are offered the form.
    let allowed = OnceResource::new(get_overview());
    view! {
        <Title text="New organization" />
        <Suspense fallback=Loading>
        {move || Suspend::new(async move {
        match allowed.await {
            Ok(o) if o.can_create_organization => {}
            Ok(_) => return view! {
                <ErrorPanel error=crate::error::AppError::Forbidden(
                    "Only a site admin can create an organization. Ask yours, or an admin of your organization for an invitation.".into()
                ) />
            }.into_any(),
            Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
        }
        view! {
        <section class="narrow">
            <div class="card">
                <h1>"New organization"</h1>
                <p>"A college, a food bank or a shop. You become its admin; campuses and pantries come next."</p>
                <ActionForm action=action attr:class="stack">
                    <TextField form="new-org" label="Name" name="name" error=error autocomplete="organization" autofocus=true />
                    <FormError error=error fields=&["name"] />
                    <SubmitButton label="Create organization" busy_label="Creating…" pending=action.pending() />
                </ActionForm>
            </div>
        </section>
        }.into_any()
        })}
        </Suspense>
    }
}

/// Rename and archive, for an admin or manager, folded away by default.
#[component]
fn PlaceSettings(
    what: &'static str,
    current: String,
    rename: AnyView,
    archive: Option<AnyView>,
    #[prop(optional)] zone: Option<AnyView>,
    /// Unfolded, on a page of its own.
    #[prop(optional)]
    open: bool,
) -> impl IntoView {
    view! {
        <details class="card settings" open=open>
            <summary>{format!("{what} settings")}</summary>
            <p class="muted">{format!("Currently called “{current}”.")}</p>
            {rename}
            {zone}
            {archive}
        </details>
    }
}

/// The time zone names, as suggestions for the inputs that name
/// `list="time-zones"`.
#[component]
fn TimeZoneOptions() -> impl IntoView {
    let names = OnceResource::new(time_zone_names());
    view! {
        <datalist id="time-zones">
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    names
                        .await
                        .unwrap_or_default()
                        .into_iter()
                        .map(|n| view! { <option value=n /> })
                        .collect_view()
                })}
            </Suspense>
        </datalist>
    }
}

#[component]
pub fn OrganizationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || OrganizationId::from_stored(params.read().get("id").unwrap_or_default());
    let add_campus = ServerAction::<CreateCampus>::new();
    let rename = ServerAction::<RenameOrganization>::new();
    let archive = ServerAction::<ArchiveOrganization>::new();
    let set_zone = ServerAction::<SetOrganizationTimeZone>::new();
    let leave = ServerAction::<crate::auth::api::LeaveOrganization>::new();
    let leave_error = last_error(leave.value());
    Effect::new(move |_| {
        if let Some(Ok(())) = leave.value().get() {
            crate::auth::views::reload_to("/");
        }
    });
    let data = Resource::new(
        move || {
            (
                id(),
                add_campus.version().get(),
                rename.version().get(),
                set_zone.version().get(),
            )
        },
        |(id, _, _, _)| get_organization(id),
    );
    let zone_error = last_error(set_zone.value());
    let add_error = last_error(add_campus.value());
    let rename_error = last_error(rename.value());
    let archive_error = last_error(archive.value());
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add_campus.value().get() {
            if let Some(f) = form.get() {
                f.reset();
            }
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = archive.value().get() {
            navigate("/", Default::default());
        }
    });
    view! {
        <Title text="Organization" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let org_id = v.organization.id.to_string();
                let org_id_1 = org_id.clone();
                let org_id_2 = org_id.clone();
                let org_id_3 = org_id.clone();
                let org_id_4 = org_id.clone();
                let org_id_5 = org_id.clone();
                let org_name = v.organization.name.clone();
                view! {
                    <Title text=v.organization.name.clone() />
                    <Breadcrumbs trail=vec![(v.organization.name.clone(), None)] />
                    <div class="page-head">
                        <h1>{v.organization.name.clone()}</h1>
                        <div class="actions">
                            <a class="button" href=format!("/organizations/{org_id}/catalog")>"Catalog"</a>
                            {v.abilities.administer.then(|| view! {
                                <a class="button" href=format!("/organizations/{org_id}/people")>"People"</a>
                                <a class="button" href=format!("/organizations/{org_id}/api-keys")>"API keys"</a>
                                <a class="button" href=format!("/organizations/{org_id}/audit")>"Audit log"</a>
                                <a class="button" href=format!("/organizations/{org_id}/events")>"Events"</a>
                            })}
                        </div>
                    </div>
                    {v.abilities.view.then(|| view! {
                        <p class="actions">
                            <a class="button" href=format!("/reports?scope=organization:{org_id_4}")>"Usage report"</a>
                            {v.abilities.manage.then(|| view! { <a class="button" href=format!("/organizations/{org_id_4}/import")>"Import usage history"</a> })}
                            <a class="button" href=format!("/organizations/{org_id_4}/donors")>"Donors"</a>
                            <a class="button" href=format!("/organizations/{org_id_4}/suppliers")>"Suppliers"</a>
                            <a class="button" href=format!("/organizations/{org_id_4}/issues")>"Stock issues"</a>
                        </p>
                        <StockOverviewCard scope=format!("organization:{org_id_4}") />
                    })}
                    <section class="section">
                        <h2>"Campuses"</h2>
                        {if v.campuses.is_empty() {
                            view! { <EmptyState title="No campuses yet"><p>"Add the first campus below; pantries belong to a campus."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <ul class="cards">
                                    {v.campuses.iter().map(|c| view! {
                                        <li>
                                            <a class="card link-card" href=format!("/campuses/{}", c.campus.id)>
                                                <span class="card-title">{c.campus.name.clone()}</span>
                                                <span class="muted">{match c.pantry_count {
                                                    0 => "No pantries yet".to_string(),
                                                    1 => "1 pantry".to_string(),
                                                    n => format!("{n} pantries"),
                                                }}</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    {v.abilities.administer.then(|| view! {
                        <section class="card">
                            <h2>"Add a campus"</h2>
                            <ActionForm action=add_campus node_ref=form attr:class="row-form">
                                <input type="hidden" name="organization" value=org_id_1 />
                                <TextField form="add-campus" label="Campus name" name="name" error=add_error />
                                <FormError error=add_error fields=&["name"] />
                                <SubmitButton label="Add campus" busy_label="Adding…" pending=add_campus.pending() />
                            </ActionForm>
                        </section>
                        <PlaceSettings
                            what="Organization"
                            current=v.organization.name.clone()
                            rename=view! {
                                <ActionForm action=rename attr:class="row-form">
                                    <input type="hidden" name="id" value=org_id_2 />
                                    <TextField form="rename-org" label="New name" name="name" error=rename_error />
                                    <FormError error=rename_error fields=&["name"] />
                                    <SubmitButton label="Rename" busy_label="Renaming…" pending=rename.pending() class="button" />
                                </ActionForm>
                            }.into_any()
                            zone=view! {
                                <ActionForm action=set_zone attr:class="stack">
                                    <input type="hidden" name="id" value=org_id.clone() />
                                    <p class="muted">"Pantries that have not chosen their own time zone count their days, for visits, movements and reports, from midnight in this one."</p>
                                    <TextField form="org-zone" label="Time zone" name="time_zone" list="time-zones"
                                        value=v.organization.time_zone.clone() error=zone_error />
                                    <FormError error=zone_error fields=&["time_zone"] />
                                    <SubmitButton label="Set time zone" busy_label="Saving…" pending=set_zone.pending() class="button" />
                                    <TimeZoneOptions />
                                </ActionForm>
                            }.into_any()
                            archive=Some(view! {
                                <ActionForm action=archive attr:class="stack danger-zone">
                                    <input type="hidden" name="id" value=org_id_3 />
                                    <p>"Archiving hides the organization and everything in it from everyone. Nothing is deleted."</p>
                                    <FormError error=archive_error fields=&[] />
                                    <SubmitButton label="Archive organization" busy_label="Archiving…" pending=archive.pending() class="button danger" />
                                </ActionForm>
                            }.into_any())
                        />
                    })}
                    <details class="card confirm-card">
                        <summary>"Leave this organization"</summary>
                        <ActionForm action=leave attr:class="stack">
                            <input type="hidden" name="organization" value=org_id_5 />
                            <p>{format!("You will lose access to {org_name} and every campus and pantry in it. An admin can invite you again.")}</p>
                            <FormError error=leave_error fields=&[] />
                            <SubmitButton label="Leave organization" busy_label="Leaving…" pending=leave.pending() class="button danger" />
                        </ActionForm>
                    </details>
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn CampusPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || CampusId::from_stored(params.read().get("id").unwrap_or_default());
    let add_pantry = ServerAction::<CreatePantry>::new();
    let rename = ServerAction::<RenameCampus>::new();
    let archive = ServerAction::<ArchiveCampus>::new();
    let data = Resource::new(
        move || (id(), add_pantry.version().get(), rename.version().get()),
        |(id, _, _)| get_campus(id),
    );
    let add_error = last_error(add_pantry.value());
    let rename_error = last_error(rename.value());
    let archive_error = last_error(archive.value());
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = add_pantry.value().get() {
            if let Some(f) = form.get() {
                f.reset();
            }
        }
    });
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = archive.value().get() {
            navigate("/", Default::default());
        }
    });
    view! {
        <Title text="Campus" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let campus_id = v.campus.id.to_string();
                let campus_id_1 = campus_id.clone();
                let campus_id_2 = campus_id.clone();
                let campus_id_3 = campus_id.clone();
                let campus_id_4 = campus_id.clone();
                view! {
                    <Title text=v.campus.name.clone() />
                    <Breadcrumbs trail=vec![
                        (v.organization_name.clone(), Some(format!("/organizations/{}", v.campus.organization_id))),
                        (v.campus.name.clone(), None),
                    ] />
                    <div class="page-head"><h1>{v.campus.name.clone()}</h1></div>
                    <section class="section">
                        <h2>"Pantries"</h2>
                        {if v.pantries.is_empty() {
                            view! { <EmptyState title="No pantries yet"><p>"A manager of this campus can add one below."</p></EmptyState> }.into_any()
                        } else {
                            view! {
                                <ul class="cards">
                                    {v.pantries.iter().map(|p| view! {
                                        <li>
                                            <a class="card link-card" href=format!("/pantries/{}", p.id)>
                                                <span class="card-title">{p.name.clone()}</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            }.into_any()
                        }}
                    </section>
                    {v.abilities.view.then(|| view! {
                        <p class="actions"><a class="button" href=format!("/reports?scope=campus:{campus_id_4}")>"Usage report"</a></p>
                        <StockOverviewCard scope=format!("campus:{campus_id_4}") />
                    })}
                    {v.abilities.manage.then(|| view! {
                        <section class="card">
                            <h2>"Add a pantry"</h2>
                            <ActionForm action=add_pantry node_ref=form attr:class="row-form">
                                <input type="hidden" name="campus" value=campus_id_1 />
                                <TextField form="add-pantry" label="Pantry name" name="name" error=add_error />
                                <FormError error=add_error fields=&["name"] />
                                <SubmitButton label="Add pantry" busy_label="Adding…" pending=add_pantry.pending() />
                            </ActionForm>
                        </section>
                        <PlaceSettings
                            what="Campus"
                            current=v.campus.name.clone()
                            rename=view! {
                                <ActionForm action=rename attr:class="row-form">
                                    <input type="hidden" name="id" value=campus_id_2 />
                                    <TextField form="rename-campus" label="New name" name="name" error=rename_error />
                                    <FormError error=rename_error fields=&["name"] />
                                    <SubmitButton label="Rename" busy_label="Renaming…" pending=rename.pending() class="button" />
                                </ActionForm>
                            }.into_any()
                            archive=v.abilities.administer.then(|| view! {
                                <ActionForm action=archive attr:class="stack danger-zone">
                                    <input type="hidden" name="id" value=campus_id_3 />
                                    <p>"Archiving hides the campus from lists. A campus with active pantries cannot be archived."</p>
                                    <FormError error=archive_error fields=&[] />
                                    <SubmitButton label="Archive campus" busy_label="Archiving…" pending=archive.pending() class="button danger" />
                                </ActionForm>
                            }.into_any())
                        />
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

#[component]
pub fn PantryPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || PantryId::from_stored(params.read().get("id").unwrap_or_default());
    let data = Resource::new(id, get_pantry);
    view! {
        <Title text="Pantry" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = v.pantry.id.to_string();
                let pantry = PantryId::from_stored(pid.clone());
                let a = v.abilities;
                // One clear thing to do first: a coordinator sees what needs
                // attention, a volunteer starts a visit; the rest is in the
                // navigation.
                let primary = if a.manage {
                    view! {
                        <section class="primary-task">
                            <h2>"What needs attention"</h2>
                            <p class="actions">
                                <a class="button primary" href=format!("/pantries/{pid}/issues")>"Stock issues"</a>
                                <a class="button" href=format!("/pantries/{pid}/recommendations")>"What to order"</a>
                                <a class="button" href=format!("/pantries/{pid}/orders")>"Orders"</a>
                                {a.record.then(|| view! { <a class="button" href=format!("/pantries/{pid}/visit")>"Start a visit"</a> })}
                            </p>
                        </section>
                    }.into_any()
                } else if a.record {
                    view! {
                        <section class="primary-task">
                            <a class="button primary big" href=format!("/pantries/{pid}/visit")>"Start a visit"</a>
                        </section>
                    }.into_any()
                } else {
                    ().into_any()
                };
                let mut more: Vec<(&'static str, String)> = Vec::new();
                if a.record {
                    more.push(("Visits", format!("/pantries/{pid}/visits")));
                    more.push(("Quick distribute", format!("/pantries/{pid}/distribute")));
                    more.push(("Receive a donation", format!("/pantries/{pid}/intake")));
                }
                more.push(("Timeline: news, needs and thanks", format!("/pantries/{pid}/timeline")));
                more.push(("Community: what you follow", "/community".to_string()));
                more.push(("Forecasts", format!("/pantries/{pid}/forecasts")));
                if !a.manage {
                    more.push(("Stock issues", format!("/pantries/{pid}/issues")));
                    more.push(("What to order", format!("/pantries/{pid}/recommendations")));
                    more.push(("Orders", format!("/pantries/{pid}/orders")));
                }
                view! {
                    <Title text=v.pantry.name.clone() />
                    <Breadcrumbs trail=v.trail(None) />
                    <div class="page-head">
                        <h1>{v.pantry.name.clone()}</h1>
                    </div>
                    {primary}
                    <StockOverviewCard scope=format!("pantry:{pid}") />
                    {a.record.then(|| view! { <crate::photos::views::RecentIntakes pantry=pantry.clone() /> })}
                    <nav class="card link-list" aria-label="More in this pantry">
                        <h2>"Also here"</h2>
                        <ul>
                            {more.into_iter().map(|(label, href)| view! { <li><a href=href>{label}</a></li> }).collect_view()}
                        </ul>
                    </nav>
                    <section class="card">
                        <dl class="facts">
                            <div><dt>"Campus"</dt><dd>{v.campus_name.clone()}</dd></div>
                            <div><dt>"Organization"</dt><dd>{v.organization_name.clone()}</dd></div>
                            <div><dt>"Time zone"</dt><dd>{match &v.pantry.time_zone {
                                Some(z) => z.clone(),
                                None => format!("{} (the organization’s)", v.organization_time_zone),
                            }}</dd></div>
                        </dl>
                    </section>
                    {(!v.people.is_empty()).then(|| view! {
                        <section class="card">
                            <h2>"People with access"</h2>
                            <ul class="list">
                                {v.people.iter().map(|p| view! {
                                    <li>
                                        <span class="primary-text">{p.display_name.clone()}</span>
                                        <span class="muted">{p.email.clone()}</span>
                                        <span class="badge">{format!("{} · {}", p.role.label(), p.scope_name)}</span>
                                    </li>
                                }).collect_view()}
                            </ul>
                            <p><a href=format!("/organizations/{}/people?where=pantry:{pid}", v.pantry.organization_id)>"Invite people to this pantry"</a></p>
                        </section>
                    })}
                }.into_any()
            })}
        </Transition>
    }
}

/// `/pantries/:id/settings`: rename, time zone and archive, for managers.
#[component]
pub fn PantrySettingsPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || PantryId::from_stored(params.read().get("id").unwrap_or_default());
    let rename = ServerAction::<RenamePantry>::new();
    let archive = ServerAction::<ArchivePantry>::new();
    let set_zone = ServerAction::<SetPantryTimeZone>::new();
    let data = Resource::new(
        move || (id(), rename.version().get(), set_zone.version().get()),
        |(id, _, _)| get_pantry(id),
    );
    let zone_error = last_error(set_zone.value());
    let rename_error = last_error(rename.value());
    let archive_error = last_error(archive.value());
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(campus)) = archive.value().get() {
            navigate(&format!("/campuses/{campus}"), Default::default());
        }
    });
    view! {
        <Title text="Pantry settings" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                if !v.abilities.manage {
                    return view! { <ErrorPanel error=crate::error::AppError::forbidden() /> }.into_any();
                }
                let pantry_id = v.pantry.id.to_string();
                let (id_1, id_2, id_3) = (pantry_id.clone(), pantry_id.clone(), pantry_id.clone());
                view! {
                    <Title text=format!("Settings · {}", v.pantry.name) />
                    <Breadcrumbs trail=v.trail(Some("Settings")) />
                    <div class="page-head"><h1>"Pantry settings"</h1></div>
                    <PlaceSettings
                        what="Pantry"
                        open=true
                        current=v.pantry.name.clone()
                        rename=view! {
                            <ActionForm action=rename attr:class="row-form">
                                <input type="hidden" name="id" value=id_1 />
                                <TextField form="rename-pantry" label="New name" name="name" error=rename_error />
                                <FormError error=rename_error fields=&["name"] />
                                <SubmitButton label="Rename" busy_label="Renaming…" pending=rename.pending() class="button" />
                            </ActionForm>
                        }.into_any()
                        zone=view! {
                            <ActionForm action=set_zone attr:class="stack">
                                <input type="hidden" name="id" value=id_2 />
                                <p class="muted">{format!(
                                    "Visits, movements and reports count this pantry’s days from midnight in its time zone. Leave it empty to use the organization’s ({}).",
                                    v.organization_time_zone
                                )}</p>
                                <TextField form="pantry-zone" label="Time zone" name="time_zone" list="time-zones"
                                    value=v.pantry.time_zone.clone().unwrap_or_default() error=zone_error />
                                <FormError error=zone_error fields=&["time_zone"] />
                                <SubmitButton label="Set time zone" busy_label="Saving…" pending=set_zone.pending() class="button" />
                                <TimeZoneOptions />
                            </ActionForm>
                        }.into_any()
                        archive=Some(view! {
                            <ActionForm action=archive attr:class="stack danger-zone">
                                <input type="hidden" name="id" value=id_3 />
                                <p>"Archiving hides the pantry from lists and stops new work there. Its history stays."</p>
                                <FormError error=archive_error fields=&[] />
                                <SubmitButton label="Archive pantry" busy_label="Archiving…" pending=archive.pending() class="button danger" />
                            </ActionForm>
                        }.into_any())
                    />
                }.into_any()
            })}
        </Transition>
    }
}

//! The navigation bar, the help pages and the first-run checklist.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_params_map};

use super::api::{get_checklists, get_navigation};
use super::help::{topic, TOPICS};
use super::model::{pantry_in, Navigation, Section};
use crate::ui::*;

/// The navigation every page carries: the current pantry with a switcher,
/// its sections for the caller's role, search and help. A bar under the
/// title on desktop; on phones the sections sit at the bottom of the screen.
#[component]
pub fn NavBar() -> impl IntoView {
    let location = use_location();
    let hint = Memo::new(move |_| {
        pantry_in(&location.pathname.get(), &location.search.get()).unwrap_or_default()
    });
    let nav = Resource::new(move || hint.get(), get_navigation);
    let section = Memo::new(move |_| Section::of_path(&location.pathname.get()));
    // A menu opened on one page is closed on the next.
    Effect::new(move |_| {
        location.pathname.track();
        location.search.track();
        #[cfg(feature = "hydrate")]
        if let Ok(open) = document().query_selector_all(".appnav details[open]") {
            for i in 0..open.length() {
                if let Some(el) = open
                    .item(i)
                    .and_then(|n| wasm_bindgen::JsCast::dyn_into::<web_sys::Element>(n).ok())
                {
                    let _ = el.remove_attribute("open");
                }
            }
        }
    });
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                let Ok(n) = nav.await else { return ().into_any() };
                match n.current.clone() {
                    Some(_) => view! { <PantryBar nav=n section=section /> }.into_any(),
                    None => ().into_any(),
                }
            })}
        </Transition>
    }
}

/// Sections a phone's bottom bar shows before "More".
const PHONE_SECTIONS: usize = 4;

#[component]
fn PantryBar(nav: Navigation, section: Memo<Option<Section>>) -> impl IntoView {
    let Some(current) = nav.current.clone() else {
        return ().into_any();
    };
    let help = move || {
        format!(
            "/help/{}",
            section
                .get()
                .map(Section::help_topic)
                .unwrap_or("getting-started")
        )
    };
    let sections: Vec<Section> = Section::NAVIGATION
        .into_iter()
        .filter(|s| s.offered(nav.abilities, nav.administer_organization))
        .collect();
    let overflow = sections.len() > PHONE_SECTIONS + 1;
    let others: Vec<_> = nav
        .pantries
        .iter()
        .filter(|p| p.id != current.id)
        .cloned()
        .collect();
    let home = Section::Home.href(&current);
    view! {
        <nav class="appnav" aria-label="Pantry">
            <div class="container appnav-inner">
                {if others.is_empty() {
                    view! {
                        <a class="pantry-name" href=home.clone() data-testid="current-pantry"
                            aria-current=move || (section.get() == Some(Section::Home)).then_some("page")>
                            {current.name.clone()}
                        </a>
                    }.into_any()
                } else {
                    view! {
                        <details class="switcher">
                            <summary data-testid="current-pantry">
                                <span class="visually-hidden">"Current pantry: "</span>
                                {current.name.clone()}
                            </summary>
                            <div class="switcher-menu">
                                <a href=home.clone()>
                                    <strong>{current.name.clone()}</strong>
                                    <span class="muted">{current.place.clone()}</span>
                                </a>
                                <p class="switcher-head muted">"Switch to"</p>
                                <ul>
                                    {others.into_iter().map(|p| view! {
                                        <li>
                                            <a href=format!("/pantries/{}", p.id)>
                                                <strong>{p.name}</strong>
                                                <span class="muted">{p.place}</span>
                                            </a>
                                        </li>
                                    }).collect_view()}
                                </ul>
                            </div>
                        </details>
                    }.into_any()
                }}
                <ul class="sections">
                    {sections.iter().enumerate().map(|(i, s)| {
                        let s = *s;
                        let href = s.href(&current);
                        let hidden_on_phone = i >= PHONE_SECTIONS && overflow;
                        view! {
                            <li class:overflow=hidden_on_phone>
                                <a href=href class=format!("section-{}", s.help_topic())
                                    aria-current=move || (section.get() == Some(s)).then_some("page")>
                                    <span class="section-label">{s.label()}</span>
                                </a>
                            </li>
                        }
                    }).collect_view()}
                    // On a phone the bar holds four sections and "More".
                    {overflow.then(|| view! {
                        <li class="more-item">
                            <details class="more">
                                <summary>"More"</summary>
                                <ul class="more-menu">
                                    {sections[PHONE_SECTIONS..].iter().map(|s| view! {
                                        <li><a href=s.href(&current)>{s.label()}</a></li>
                                    }).collect_view()}
                                </ul>
                            </details>
                        </li>
                    })}
                </ul>
                <div class="appnav-tools">
                    <a class="tool" href="/search" aria-label="Search every pantry">"Search"</a>
                    <a class="tool" href=help>"Help"</a>
                </div>
            </div>
        </nav>
    }
    .into_any()
}

/// `/help` and `/help/:topic`.
#[component]
pub fn HelpPage() -> impl IntoView {
    let params = use_params_map();
    let slug = move || params.read().get("topic").unwrap_or_default();
    view! {
        {move || {
            let slug = slug();
            if slug.is_empty() {
                return view! {
                    <Title text="Help" />
                    <h1>"Help"</h1>
                    <p class="lead">"Short guides to each part of Larder."</p>
                    <ul class="cards">
                        {TOPICS.iter().map(|t| view! {
                            <li>
                                <a class="card link-card" href=format!("/help/{}", t.slug)>
                                    <span class="card-title">{t.title}</span>
                                    <span class="muted">{t.summary}</span>
                                </a>
                            </li>
                        }).collect_view()}
                    </ul>
                }.into_any();
            }
            match topic(&slug) {
                Some(t) => view! {
                    <Title text=format!("Help · {}", t.title) />
                    <Breadcrumbs trail=vec![("Help".into(), Some("/help".into())), (t.title.into(), None)] />
                    <article class="help">
                        <h1>{t.title}</h1>
                        <p class="lead">{t.summary}</p>
                        {t.sections.iter().map(|(heading, paragraphs)| view! {
                            <section class="card">
                                <h2>{*heading}</h2>
                                {paragraphs.iter().map(|p| view! { <p>{*p}</p> }).collect_view()}
                            </section>
                        }).collect_view()}
                    </article>
                    <p><a href="/help">"All help pages"</a></p>
                }.into_any(),
                None => view! {
                    <ErrorPanel error=crate::error::AppError::NotFound("There is no help page with that name.".into()) />
                }.into_any(),
            }
        }}
    }
}

/// The first-run checklist of each organization the person administers
/// that is not set up yet.
#[component]
pub fn Checklists() -> impl IntoView {
    let lists = OnceResource::new(get_checklists());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                lists.await.unwrap_or_default().into_iter().map(|list| {
                    let done = list.steps.iter().filter(|s| s.done).count();
                    let total = list.steps.len();
                    view! {
                        <section class="card checklist" data-testid="checklist">
                            <h2>{format!("Set up {}", list.organization_name)}</h2>
                            <p class="muted">{format!("{done} of {total} done")}</p>
                            <ol>
                                {list.steps.into_iter().map(|s| view! {
                                    <li class:done=s.done>
                                        <span class="check" aria-hidden="true">{if s.done { "✓" } else { "" }}</span>
                                        {if s.done {
                                            view! { <span>{s.label}<span class="visually-hidden">" (done)"</span></span> }.into_any()
                                        } else {
                                            view! { <a href=s.href>{s.label}</a> }.into_any()
                                        }}
                                        <a class="muted help-inline" href=format!("/help/{}", s.help)>"How?"</a>
                                    </li>
                                }).collect_view()}
                            </ol>
                        </section>
                    }
                }).collect_view()
            })}
        </Suspense>
    }
}

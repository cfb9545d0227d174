//! Larder's app: the shared types, server functions and views, rendered on
//! the server and hydrated in the browser. Server-only code sits behind the
//! `ssr` feature.

#![recursion_limit = "256"]

pub mod auth;
pub mod catalog;
pub mod error;
pub mod events;
pub mod ids;
pub mod inventory;
pub mod org;
pub mod photos;
pub mod ui;
pub mod usage;

#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod recent;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod state;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use auth::api::get_session;
use auth::views::*;
use catalog::views::*;
use events::views::*;
use inventory::views::*;
use org::views::*;
use photos::views::*;
use usage::views::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="theme-color" content="#2f6b3a" />
                <AutoReload options=options.clone() />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Lets tests and people know the page is interactive.
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/larder.css" />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Meta name="description" content="Larder runs food pantries: stock, visits, orders." />
        <Title formatter=|page: String| if page.is_empty() || page == "Larder" { "Larder".to_string() } else { format!("{page} · Larder") } />
        <Title text="Larder" />
        <Router>
            <a class="skip" href="#main">"Skip to content"</a>
            <Header />
            <main id="main" class="container">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async />
                    <Route path=path!("/setup") view=SetupPage ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view=SignInPage ssr=SsrMode::Async />
                    <Route path=path!("/sign-up") view=SignUpPage ssr=SsrMode::Async />
                    <Route path=path!("/invitations/:token") view=InvitationPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/new") view=NewOrganizationPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id") view=OrganizationPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/people") view=PeoplePage ssr=SsrMode::Async />
                    <Route path=path!("/campuses/:id") view=CampusPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/catalog") view=CatalogPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/events") view=EventsAdminPage ssr=SsrMode::Async />
                    <Route path=path!("/products/:id") view=ProductPage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id") view=PantryPage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/inventory") view=InventoryPage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/distribute") view=QuickDistributePage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:pantry/products/:product") view=ProductStockPage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/visit") view=VisitCounterPage ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/visits") view=VisitsPage ssr=SsrMode::Async />
                    <Route path=path!("/visits/:id") view=VisitPage ssr=SsrMode::Async />
                    <Route path=path!("/reports") view=ReportPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/import") view=ImportHistoryPage ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/donors") view=DonorsPage ssr=SsrMode::Async />
                    <Route path=path!("/donations/:id") view=DonationReceiptPage ssr=SsrMode::Async />
                    <Route path=path!("/intakes/:id") view=IntakePage ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn Header() -> impl IntoView {
    let session = Resource::new(|| (), |_| get_session());
    view! {
        <header class="topbar">
            <div class="container topbar-inner">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true"></span>
                    "Larder"
                </a>
                <nav aria-label="Account">
                    <Suspense fallback=|| ()>
                        {move || Suspend::new(async move {
                            match session.await {
                                Ok(s) => match s.me {
                                    Some(me) => view! {
                                        <span class="who" title=me.email.clone()>{me.display_name}</span>
                                        <SignOutButton />
                                    }.into_any(),
                                    None => view! { <a href="/sign-in">"Sign in"</a> }.into_any(),
                                },
                                Err(_) => ().into_any(),
                            }
                        })}
                    </Suspense>
                </nav>
            </div>
        </header>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <ui::ErrorPanel error=error::AppError::NotFound("There is no page at this address.".into()) />
    }
}

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_body(App);
}

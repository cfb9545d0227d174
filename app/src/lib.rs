//! Larder's app: the shared types, server functions and views, rendered on
//! the server and hydrated in the browser. Server-only code sits behind the
//! `ssr` feature.

#![recursion_limit = "256"]

pub mod auth;
pub mod catalog;
pub mod community;
pub mod error;
pub mod events;
pub mod forecasts;
pub mod ids;
pub mod input;
pub mod inventory;
pub mod nav;
pub mod notifications;
pub mod org;
pub mod photos;
pub mod purchasing;
pub mod rest;
pub mod stock_issues;
pub mod ui;
pub mod usage;

#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod cluster;
#[cfg(feature = "ssr")]
pub mod dates;
#[cfg(feature = "ssr")]
pub mod db;
#[cfg(feature = "ssr")]
pub mod mail;
#[cfg(feature = "ssr")]
pub mod recent;
#[cfg(feature = "ssr")]
pub mod request;
#[cfg(feature = "ssr")]
pub mod spreadsheet;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod tasks;
#[cfg(feature = "ssr")]
pub mod zones;

/// Every module's routes besides its server functions (which register
/// themselves): a module with a handler of its own adds one line here.
#[cfg(feature = "ssr")]
pub fn routes() -> axum::Router<state::AppState> {
    axum::Router::new()
        .merge(inventory::api::routes())
        .merge(catalog::api::routes())
        .merge(usage::api::routes())
        .merge(photos::api::routes())
        .merge(forecasts::api::routes())
        .merge(purchasing::api::routes())
        .merge(community::api::routes())
        .merge(rest::routes())
        .merge(auth::routes::routes())
}

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, Lazy, LazyRoute, SsrMode};

use auth::account_views::*;
use auth::api::get_session;
use auth::audit_views::*;
use auth::views::*;
use catalog::views::*;
use community::people_views::*;
use community::views::*;
use events::views::*;
use forecasts::views::*;
use inventory::views::*;
use nav::views::*;
use notifications::views::*;
use org::views::*;
use photos::views::*;
use purchasing::views::*;
use rest::views::*;
use stock_issues::views::*;
use usage::views::*;

/// The Content-Security-Policy of a page: scripts only from this origin or
/// carrying the page's nonce (the hydration script), WebAssembly allowed to
/// compile, no plugins, no framing, forms and fetches to this origin only.
/// Camera frames and optimized photos are `blob:` and `mediastream:` URLs.
/// Inline `style` attributes are allowed (progress bars and charts set
/// widths); inline scripts are not.
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
         media-src 'self' blob: mediastream:; connect-src 'self'; worker-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    // leptos_axum gives every page render a fresh nonce and puts it on the
    // scripts it writes; the policy names it.
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(value) = http::HeaderValue::from_str(&page_csp(&nonce)) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
        }
    }
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
    // True while the router fetches the next page's part of the bundle and
    // its data: a bar at the top says the tap was heard.
    let (routing, set_routing) = signal(false);
    // The skip link moves keyboard focus, not only the scroll position, so
    // the next Tab continues inside the page's content. The router would
    // otherwise take the link as an in-app navigation and only scroll.
    let main_ref = NodeRef::<leptos::html::Main>::new();
    let skip = move |ev: leptos::ev::MouseEvent| {
        if let Some(main) = main_ref.get() {
            ev.prevent_default();
            let _ = main.focus();
        }
    };
    view! {
        <Stylesheet id="leptos" href="/pkg/larder.css" />
        <Link rel="icon" href="/favicon.svg" type_="image/svg+xml" />
        <Meta name="description" content="Larder runs food pantries: stock, visits, orders." />
        <Title formatter=|page: String| if page.is_empty() || page == "Larder" { "Larder".to_string() } else { format!("{page} · Larder") } />
        <Title text="Larder" />
        <Router set_is_routing=set_routing>
            <div class="routing-bar" class:active=move || routing.get() aria-hidden="true"></div>
            <a class="skip" href="#main" on:click=skip>"Skip to content"</a>
            <Header />
            <NavBar />
            <main id="main" class="container" tabindex="-1" node_ref=main_ref>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view={Lazy::<HomeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/setup") view={Lazy::<SetupRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/sign-in") view={Lazy::<SignInRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/sign-up") view={Lazy::<SignUpRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/invitations/:token") view={Lazy::<InvitationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/new") view={Lazy::<NewOrganizationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id") view={Lazy::<OrganizationRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/people") view={Lazy::<PeopleRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/api-keys") view={Lazy::<ApiKeysRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/account") view={Lazy::<AccountRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/reset/:token") view={Lazy::<ResetPasswordRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/forgot") view={Lazy::<ForgotPasswordRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/audit") view={Lazy::<AuditRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/admin/pool") view={Lazy::<PoolRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/developers") view={Lazy::<ApiReferenceRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/campuses/:id") view={Lazy::<CampusRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/catalog") view={Lazy::<CatalogRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/events") view={Lazy::<EventsAdminRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/products/:id") view={Lazy::<ProductRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id") view={Lazy::<PantryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/inventory") view={Lazy::<InventoryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/distribute") view={Lazy::<QuickDistributeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:pantry/products/:product") view={Lazy::<ProductStockRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/visit") view={Lazy::<VisitCounterRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/visits") view={Lazy::<VisitsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/visits/:id") view={Lazy::<VisitRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/reports") view={Lazy::<ReportRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/import") view={Lazy::<ImportHistoryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/donors") view={Lazy::<DonorsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/donor") view={Lazy::<DonorRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/donor/statement") view={Lazy::<DonorStatementRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/donations/:id") view={Lazy::<DonationReceiptRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/intakes/:id") view={Lazy::<IntakeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/forecasts") view={Lazy::<ForecastSummaryRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:pantry/forecasts/:product") view={Lazy::<ProductForecastRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/recommendations") view={Lazy::<RecommendationsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/suppliers") view={Lazy::<SuppliersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/suppliers/:id") view={Lazy::<SupplierRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/orders") view={Lazy::<OrdersRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/notifications") view={Lazy::<NotificationsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/issues") view={Lazy::<PantryIssuesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/organizations/:id/issues") view={Lazy::<OrganizationIssuesRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/orders/:id") view={Lazy::<OrderRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/settings") view={Lazy::<PantrySettingsRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/intake") view={Lazy::<PantryIntakeRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/search") view={Lazy::<SearchRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/community") view={Lazy::<HomeTimelineRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/pantries/:id/timeline") view={Lazy::<PantryTimelineRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/posts/:id") view={Lazy::<PostRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/people/:id") view={Lazy::<ProfileRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/community/people") view={Lazy::<MyPeopleRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/help") view={Lazy::<HelpRoute>::new()} ssr=SsrMode::Async />
                    <Route path=path!("/help/:topic") view={Lazy::<HelpRoute>::new()} ssr=SsrMode::Async />
                </Routes>
            </main>
        </Router>
    }
}

// The browser bundle is split by feature: the main WASM holds the shell,
// the router and what all pages share, and each feature's pages are a part
// the browser fetches when it first shows one of them. The server knows
// which part the page it renders needs and preloads it from the HTML head,
// so a first visit waits for no extra round trip. `scripts/build.sh` does
// the split (`tools/wasm-split`); one part per feature rather than per page
// keeps the number of files a page needs small, since code two parts share
// becomes a chunk of its own.
macro_rules! lazy_pages {
    ($($part:ident { $($route:ident($load:ident) => $page:ident),* $(,)? })*) => {$($(
        struct $route;

        mod $load {
            use super::*;

            #[cfg_attr(
                feature = "hydrate",
                leptos::wasm_split::wasm_split(
                    $part,
                    wasm_split_path = ::leptos::wasm_split,
                    preload(preload)
                )
            )]
            pub(super) fn $load() -> AnyView {
                mark_interactive();
                view! { <$page /> }.into_any()
            }
        }

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            // The router awaits this before it hydrates or shows the page.
            async fn preload() {
                #[cfg(feature = "hydrate")]
                $load::preload().await;
            }

            async fn view(_this: Self) -> AnyView {
                #[cfg(feature = "hydrate")]
                {
                    $load::$load().await
                }
                #[cfg(not(feature = "hydrate"))]
                {
                    // Names the part for the preload links in the head.
                    leptos::prefetch_lazy_fn_on_server(stringify!($part));
                    $load::$load()
                }
            }
        }
    )*)*};
}

lazy_pages! {
    org_pages {
        HomeRoute(home_page) => HomePage,
        NewOrganizationRoute(new_organization_page) => NewOrganizationPage,
        OrganizationRoute(organization_page) => OrganizationPage,
        CampusRoute(campus_page) => CampusPage,
        PantryRoute(pantry_page) => PantryPage,
        PantrySettingsRoute(pantry_settings_page) => PantrySettingsPage,
        HelpRoute(help_page) => HelpPage,
    }
    auth_pages {
        SetupRoute(setup_page) => SetupPage,
        SignInRoute(sign_in_page) => SignInPage,
        SignUpRoute(sign_up_page) => SignUpPage,
        InvitationRoute(invitation_page) => InvitationPage,
        PeopleRoute(people_page) => PeoplePage,
        ApiKeysRoute(api_keys_page) => ApiKeysPage,
        ApiReferenceRoute(api_reference_page) => ApiReferencePage,
        AccountRoute(account_page) => AccountPage,
        ResetPasswordRoute(reset_password_page) => ResetPasswordPage,
        ForgotPasswordRoute(forgot_password_page) => ForgotPasswordPage,
        PoolRoute(pool_page) => PoolPage,
        AuditRoute(audit_page) => AuditPage,
    }
    catalog_pages {
        CatalogRoute(catalog_page) => CatalogPage,
        ProductRoute(product_page) => ProductPage,
    }
    events_pages {
        EventsAdminRoute(events_admin_page) => EventsAdminPage,
    }
    inventory_pages {
        InventoryRoute(inventory_page) => InventoryPage,
        QuickDistributeRoute(quick_distribute_page) => QuickDistributePage,
        ProductStockRoute(product_stock_page) => ProductStockPage,
        SearchRoute(search_page) => SearchPage,
    }
    usage_pages {
        VisitCounterRoute(visit_counter_page) => VisitCounterPage,
        VisitsRoute(visits_page) => VisitsPage,
        VisitRoute(visit_page) => VisitPage,
        ReportRoute(report_page) => ReportPage,
        ImportHistoryRoute(import_history_page) => ImportHistoryPage,
        DonorsRoute(donors_page) => DonorsPage,
        DonationReceiptRoute(donation_receipt_page) => DonationReceiptPage,
        DonorRoute(donor_page) => DonorPage,
        DonorStatementRoute(donor_statement_page) => DonorStatementPage,
    }
    photos_pages {
        IntakeRoute(intake_page) => IntakePage,
        PantryIntakeRoute(pantry_intake_page) => PantryIntakePage,
    }
    forecasts_pages {
        ForecastSummaryRoute(forecast_summary_page) => ForecastSummaryPage,
        ProductForecastRoute(product_forecast_page) => ProductForecastPage,
        RecommendationsRoute(recommendations_page) => RecommendationsPage,
    }
    purchasing_pages {
        SuppliersRoute(suppliers_page) => SuppliersPage,
        SupplierRoute(supplier_page) => SupplierPage,
        OrdersRoute(orders_page) => OrdersPage,
        OrderRoute(order_page) => OrderPage,
        PantryIssuesRoute(pantry_issues_page) => PantryIssuesPage,
        NotificationsRoute(notifications_page) => NotificationsPage,
        OrganizationIssuesRoute(organization_issues_page) => OrganizationIssuesPage,
    }
    community_pages {
        HomeTimelineRoute(home_timeline_page) => HomeTimelinePage,
        PantryTimelineRoute(pantry_timeline_page) => PantryTimelinePage,
        PostRoute(post_page) => PostPage,
        ProfileRoute(profile_page) => ProfilePage,
        MyPeopleRoute(my_people_page) => MyPeoplePage,
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
                                        <NotificationBell />
                                        <a class="who" href="/account" title=format!("{} · your account", me.email)>{me.display_name}</a>
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

/// Marks the page interactive (`<body data-hydrated>`, which the browser
/// tests wait for) once the page's own part has loaded and hydrated: the
/// effect runs after the view it is created with.
fn mark_interactive() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}

#[component]
fn NotFound() -> impl IntoView {
    mark_interactive();
    view! {
        <ui::ErrorPanel error=error::AppError::NotFound("There is no page at this address.".into()) />
    }
}

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
pub fn hydrate() {
    leptos::mount::hydrate_lazy(App);
}

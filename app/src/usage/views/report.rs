//! The usage report with its chart, CSV and print view.

use super::*;

/// Today as an ISO date (UTC, like the reports): the server's clock when
/// rendering, the browser's after hydration.
pub(super) fn today_iso() -> String {
    #[cfg(feature = "ssr")]
    {
        crate::usage::report::iso(time::OffsetDateTime::now_utc().date())
    }
    #[cfg(all(not(feature = "ssr"), feature = "hydrate"))]
    {
        let iso: String = web_sys::js_sys::Date::new_0().to_iso_string().into();
        iso.chars().take(10).collect()
    }
    #[cfg(all(not(feature = "ssr"), not(feature = "hydrate")))]
    {
        String::new()
    }
}

/// A bar chart of one figure per period, as SVG that scales to the page.
/// At most six period labels, so they stay readable on a phone.
#[component]
pub(super) fn BarChart(
    title: &'static str,
    bars: Vec<(String, i64)>,
    format: fn(i64) -> String,
) -> impl IntoView {
    let max = bars.iter().map(|b| b.1).max().unwrap_or(0).max(1);
    let n = bars.len().max(1);
    let (w, h, top, bottom) = (600.0, 200.0, 28.0, 34.0);
    let bw = w / n as f64;
    let label_every = n.div_ceil(5).max(1);
    view! {
        <figure class="chart">
            <figcaption>{title}</figcaption>
            <svg viewBox=format!("0 0 {w} {}", h + bottom) role="img" aria-label=format!("{title}, per period; the most is {}", format(max))>
                <line x1="0" y1=h x2=w y2=h class="axis" />
                <text x="0" y="20" class="tick">{format!("most: {}", format(max))}</text>
                {bars.iter().enumerate().map(|(i, (label, v))| {
                    let bh = (*v as f64 / max as f64) * (h - top);
                    let x = i as f64 * bw;
                    let anchor = if i == 0 { "start" } else if i + 1 == n { "end" } else { "middle" };
                    let tx = if i == 0 { x } else if i + 1 == n { x + bw } else { x + bw / 2.0 };
                    let short: String = label.split(' ').skip(if label.starts_with("Week") { 2 } else { 1 }).take(2).collect::<Vec<_>>().join(" ");
                    view! {
                        <g>
                            <rect x={x + bw * 0.1} y={h - bh} width={bw * 0.8} height=bh class="bar">
                                <title>{format!("{label}: {}", format(*v))}</title>
                            </rect>
                            {(i + 1 == n || (i % label_every == 0 && i + label_every / 2 + 1 < n)).then(|| view! {
                                <text x=tx y={h + 26.0} text-anchor=anchor class="tick">{short}</text>
                            })}
                        </g>
                    }
                }).collect_view()}
            </svg>
        </figure>
    }
}

pub(super) fn kg_text(g: i64) -> String {
    format_weight(g)
}

pub(super) fn count_text(n: i64) -> String {
    n.to_string()
}

/// The usage report for a pantry, campus or organization over a period.
#[component]
pub fn ReportPage() -> impl IntoView {
    let query = use_query_map();
    let get = move |k: &str| query.read().get(k).unwrap_or_default();
    let scope = Signal::derive(move || get("scope"));
    let to = Signal::derive(move || match get("to") {
        t if t.is_empty() => today_iso(),
        t => t,
    });
    let from = Signal::derive(move || match get("from") {
        f if f.is_empty() => {
            let t = to.get();
            // From the first of the month.
            t.get(..8).map(|ym| format!("{ym}01")).unwrap_or_default()
        }
        f => f,
    });
    let group = Signal::derive(move || match get("group") {
        g if g.is_empty() => "day".to_string(),
        g => g,
    });
    let data = Resource::new(
        move || (scope.get(), from.get(), to.get(), group.get()),
        |(scope, from, to, group)| get_usage_report(scope, from, to, group),
    );
    view! {
        <Title text="Usage report" />
        <div class="page-head no-print">
            <h1>"Usage report"</h1>
        </div>
        <form method="get" action="/reports" class="row-form report-form no-print">
            <input type="hidden" name="scope" value=move || scope.get() />
            <div class="field small"><label for="report-from">"From"</label><input id="report-from" type="date" name="from" value=move || from.get() /></div>
            <div class="field small"><label for="report-to">"To"</label><input id="report-to" type="date" name="to" value=move || to.get() /></div>
            <div class="field small">
                <label for="report-group">"Group by"</label>
                <select id="report-group" name="group">
                    {["day", "week", "month"].into_iter().map(|g| view! { <option value=g selected=move || group.get() == g>{g}</option> }).collect_view()}
                </select>
            </div>
            <button type="submit" class="button primary">"Show"</button>
        </form>
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let r = match data.await {
                    Ok(r) => r,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let csv = format!("/reports/usage.csv?scope={}&from={}&to={}&group={}", encode(&r.scope), r.from, r.to, r.group.as_str());
                let weights: Vec<(String, i64)> = r.periods.iter().map(|p| (p.label.clone(), p.weight_g)).collect();
                let any_imported = r.totals.has_imported();
                let imported_weights: Vec<(String, i64)> = r.periods.iter().map(|p| (p.label.clone(), p.imported_weight_g)).collect();
                let trail: Vec<(String, Option<String>)> = r.trail.iter().cloned().map(|(l, h)| (l, Some(h))).chain([("Usage report".to_string(), None)]).collect();
                // Say where imported history is when these dates miss it.
                let span_note = r.imported_span.clone().map(|(first, last)| {
                    let outside = last < r.from || first > r.to;
                    let href = format!("/reports?scope={}&from={first}&to={last}&group=month", encode(&r.scope));
                    view! {
                        <p class="notice no-print" data-testid="imported-span">
                            {format!("Imported history covers {first} to {last}.")}
                            {outside.then(|| " None of it falls in these dates. ")}
                            " "<a href=href>"Show that period"</a>
                        </p>
                    }
                });
                let visits: Vec<(String, i64)> = r.periods.iter().map(|p| (p.label.clone(), p.visits)).collect();
                view! {
                    <Breadcrumbs trail=trail />
                    {span_note}
                    <section class="report">
                        <header class="report-head">
                            <h2>{r.scope_label.clone()}</h2>
                            <p class="muted">{format!("{} to {}, by {} (UTC days)", r.from, r.to, r.group.as_str())}</p>
                            <p class="actions no-print">
                                <a class="button" href=csv download="">"Download CSV"</a>
                                <button type="button" class="button" on:click=move |_| print_page()>"Print"</button>
                            </p>
                        </header>
                        <dl class="kpis" data-testid="report-totals">
                            <div><dt>"Visits"</dt><dd data-testid="total-visits">{r.totals.visits}</dd></div>
                            <div><dt>"Households"</dt><dd>{r.totals.households}</dd></div>
                            <div><dt>"Individuals"</dt><dd>{r.totals.individuals}</dd></div>
                            <div><dt>"Items out"</dt><dd data-testid="total-items">{r.totals.items}</dd></div>
                            <div><dt>"Weight out"</dt><dd>{format_weight(r.totals.weight_g)}</dd></div>
                            {any_imported.then(|| view! {
                                <div class="kpi-imported"><dt>"Imported history: items"</dt><dd data-testid="imported-items">{r.totals.imported_items}</dd></div>
                                <div class="kpi-imported"><dt>"Imported history: weight"</dt><dd data-testid="imported-weight">{format_weight(r.totals.imported_weight_g)}</dd></div>
                            })}
                        </dl>
                        {(r.visits_without_size > 0).then(|| view! {
                            <p class="muted small">{format!("{} visit(s) without a household size are not counted in individuals.", r.visits_without_size)}</p>
                        })}
                        <div class="charts">
                            <BarChart title="Visits" bars=visits format=count_text />
                            <BarChart title="Weight handed out" bars=weights format=kg_text />
                            {any_imported.then(|| view! { <BarChart title="Imported history (weight)" bars=imported_weights format=kg_text /> })}
                        </div>
                        <div class="table-scroll" tabindex="0" role="region" aria-label="Figures by period">
                            <table class="table">
                                <caption>"By period"</caption>
                                <thead><tr>
                                    <th scope="col">"Period"</th>
                                    <th scope="col" class="num">"Visits"</th>
                                    <th scope="col" class="num">"Households"</th>
                                    <th scope="col" class="num">"Individuals"</th>
                                    <th scope="col" class="num">"Items"</th>
                                    <th scope="col" class="num">"Weight"</th>
                                    {any_imported.then(|| view! {
                                        <th scope="col" class="num imported">"Imported items"</th>
                                        <th scope="col" class="num imported">"Imported weight"</th>
                                    })}
                                </tr></thead>
                                <tbody>
                                    {r.periods.iter().filter(|p| p.visits > 0 || p.items > 0 || p.weight_g != 0 || p.has_imported()).map(|p| view! {
                                        <tr>
                                            <th scope="row">{p.label.clone()}</th>
                                            <td class="num">{p.visits}</td>
                                            <td class="num">{p.households}</td>
                                            <td class="num">{p.individuals}</td>
                                            <td class="num">{p.items}</td>
                                            <td class="num">{format_weight(p.weight_g)}</td>
                                            {any_imported.then(|| view! {
                                                <td class="num imported">{p.imported_items}</td>
                                                <td class="num imported">{format_weight(p.imported_weight_g)}</td>
                                            })}
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                                <tfoot><tr>
                                    <th scope="row">"Whole period"</th>
                                    <td class="num">{r.totals.visits}</td>
                                    <td class="num">{r.totals.households}</td>
                                    <td class="num">{r.totals.individuals}</td>
                                    <td class="num">{r.totals.items}</td>
                                    <td class="num">{format_weight(r.totals.weight_g)}</td>
                                    {any_imported.then(|| view! {
                                        <td class="num imported">{r.totals.imported_items}</td>
                                        <td class="num imported">{format_weight(r.totals.imported_weight_g)}</td>
                                    })}
                                </tr></tfoot>
                            </table>
                        </div>
                        <p class="muted small">"Periods with nothing handed out are left out of the table (the chart and the CSV have every period). Households are counted once per client card within each period and within the whole period, so the periods need not add up to the whole."</p>
                        <div class="columns">
                            <table class="table">
                                <caption>"By category"</caption>
                                <thead><tr><th scope="col">"Category"</th><th scope="col" class="num">"Quantity"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {r.by_category.iter().map(|c| view! {
                                        <tr><th scope="row">{c.category.clone()}</th><td class="num">{c.quantity_text()}</td><td class="num">{format_weight(c.weight_g)}</td></tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                            <table class="table">
                                <caption>"Top products"</caption>
                                <thead><tr>
                                    <th scope="col">"Product"</th><th scope="col" class="num">"Quantity"</th><th scope="col" class="num">"Weight"</th>
                                    {any_imported.then(|| view! { <th scope="col" class="num imported">"Imported"</th> })}
                                </tr></thead>
                                <tbody>
                                    {r.top_products.iter().map(|p| view! {
                                        <tr>
                                            <th scope="row">{p.name.clone()}</th><td class="num">{p.quantity_text.clone()}</td><td class="num">{format_weight(p.weight_g)}</td>
                                            {any_imported.then(|| view! { <td class="num imported">{p.imported_text.clone()}</td> })}
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </div>
                        <div class="columns">
                            <table class="table">
                                <caption>"Donations in"</caption>
                                <thead><tr><th scope="col">"Donor"</th><th scope="col" class="num">"Donations"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {if r.donations.is_empty() {
                                        view! { <tr><td colspan="4" class="muted">"No donations in this period."</td></tr> }.into_any()
                                    } else {
                                        r.donations.iter().map(|d| view! {
                                            <tr><th scope="row">{d.donor.clone()}</th><td class="num">{d.donations}</td><td class="num">{d.items}</td><td class="num">{format_weight(d.weight_g)}</td></tr>
                                        }).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                            <table class="table">
                                <caption>"Waste"</caption>
                                <thead><tr><th scope="col">"Reason"</th><th scope="col" class="num">"Items"</th><th scope="col" class="num">"Weight"</th></tr></thead>
                                <tbody>
                                    {if r.waste.is_empty() {
                                        view! { <tr><td colspan="3" class="muted">"Nothing discarded in this period."</td></tr> }.into_any()
                                    } else {
                                        r.waste.iter().map(|w| view! {
                                            <tr><th scope="row">{w.reason.clone()}</th><td class="num">{w.items}</td><td class="num">{format_weight(w.weight_g)}</td></tr>
                                        }).collect_view().into_any()
                                    }}
                                </tbody>
                            </table>
                        </div>
                    </section>
                }.into_any()
            })}
        </Transition>
    }
}

//! Forecast pages: a product's forecast (one chart of what went out, what
//! will go out and how sure we are, and what to order), the forecast
//! summary, and the inventory recommendations; the "Generate forecasts"
//! button with its progress, and the pantry's replenishment settings.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

use super::api::*;
use super::model::*;
use crate::catalog::model::Unit;
use crate::ids::{PantryId, ProductId};
use crate::inventory::views::pantry_trail;
use crate::ui::*;

fn percent(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0}%", v * 100.0))
}

fn number(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.2}"))
}

/// History bars, the forecast line and its 80% and 95% bands, in one SVG.
/// `compact` draws the small chart of a summary row (no labels).
#[component]
pub fn ForecastChart(
    history: Vec<HistoryDay>,
    points: Vec<ForecastDay>,
    unit: Unit,
    #[prop(optional)] compact: bool,
) -> impl IntoView {
    let (w, h) = if compact {
        (240.0, 56.0)
    } else {
        (720.0, 260.0)
    };
    let (left, right, top, bottom) = if compact {
        (2.0, 2.0, 4.0, 4.0)
    } else {
        (4.0, 4.0, 8.0, 8.0)
    };
    let n_h = history.len();
    let total = (n_h + points.len()).max(2);
    let step = (w - left - right) / total as f64;
    let max = history
        .iter()
        .map(|d| d.quantity)
        .chain(points.iter().map(|p| p.hi95))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;
    let y = move |v: f64| top + (h - top - bottom) * (1.0 - (v / max).clamp(0.0, 1.0));
    let x = move |i: usize| left + step * (i as f64 + 0.5);
    let band = |lo: &dyn Fn(&ForecastDay) -> f64, hi: &dyn Fn(&ForecastDay) -> f64| -> String {
        let upper = points
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{:.1},{:.1}", x(n_h + i), y(hi(p))));
        let lower = points
            .iter()
            .enumerate()
            .rev()
            .map(|(i, p)| format!("{:.1},{:.1}", x(n_h + i), y(lo(p))));
        upper.chain(lower).collect::<Vec<_>>().join(" ")
    };
    let band95 = band(&|p| p.lo95, &|p| p.hi95);
    let band80 = band(&|p| p.lo80, &|p| p.hi80);
    let line = points
        .iter()
        .enumerate()
        .map(|(i, p)| format!("{:.1},{:.1}", x(n_h + i), y(p.mean)))
        .collect::<Vec<_>>()
        .join(" ");
    let went: f64 = history.iter().map(|d| d.quantity).sum();
    let coming: f64 = points.iter().map(|p| p.mean).sum();
    let label = format!(
        "Last {} days: {} went out. Next {} days: {} forecast, 95% of days between {} and {} a day.",
        n_h,
        amount(unit, went),
        points.len(),
        amount(unit, coming),
        amount(unit, points.iter().map(|p| p.lo95).fold(f64::INFINITY, f64::min).min(1e12)),
        amount(unit, points.iter().map(|p| p.hi95).fold(0.0, f64::max)),
    );
    let bar_w = (step * 0.7).max(1.0);
    let bars = history
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let (x0, y0) = (x(i) - bar_w / 2.0, y(d.quantity));
            let class = if d.out_of_stock { "bar out" } else { "bar" };
            view! {
                <rect class=class x=format!("{x0:.1}") y=format!("{y0:.1}") width=format!("{bar_w:.1}")
                    height=format!("{:.1}", (h - bottom - y0).max(0.0))>
                    <title>{format!("{}: {}{}", d.day, amount(unit, d.quantity), if d.out_of_stock { " (out of stock)" } else { "" })}</title>
                </rect>
                {d.out_of_stock.then(|| view! {
                    <rect class="stockout" x=format!("{x0:.1}") y=format!("{:.1}", h - bottom + 1.0) width=format!("{bar_w:.1}") height="3" />
                })}
            }
        })
        .collect_view();
    let today_x = x(n_h) - step / 2.0;
    // Labels are HTML under the drawing, so they keep their size when the
    // drawing stretches to the page's width.
    let axis = (!compact).then(|| {
        view! {
            <line class="axis" x1=left y1=format!("{:.1}", h - bottom) x2=w - right y2=format!("{:.1}", h - bottom) />
            <line class="grid" x1=left y1=format!("{:.1}", y(max / 1.1)) x2=w - right y2=format!("{:.1}", y(max / 1.1)) />
        }
    });
    let first = history.first().map(|d| d.day.clone()).unwrap_or_default();
    let today_at = format!("{:.1}%", 100.0 * today_x / w);
    let scale = format!("{} a day", amount(unit, max / 1.1));
    let ahead = points.len();
    let labels = (!compact).then(move || {
        view! {
            <div class="chart-labels" aria-hidden="true">
                <span class="top">{scale}</span>
                <span class="first">{first}</span>
                <span class="today" style=format!("left: {today_at}")>"today"</span>
                <span class="last">{format!("+{ahead} days")}</span>
            </div>
        }
    });
    let aria = label.clone();
    view! {
        <div class=if compact { "chart-frame compact" } else { "chart-frame" }>
        <svg class=if compact { "forecast-chart compact" } else { "forecast-chart" } viewBox=format!("0 0 {w} {h}")
            role="img" aria-label=aria preserveAspectRatio="none">
            <title>{label}</title>
            {axis}
            {bars}
            {(!points.is_empty()).then(|| view! {
                <polygon class="band95" points=band95 />
                <polygon class="band80" points=band80 />
                <polyline class="mean" points=line />
            })}
            <line class="today" x1=format!("{today_x:.1}") y1=top x2=format!("{today_x:.1}") y2=format!("{:.1}", h - bottom) />
        </svg>
        {labels}
        </div>
    }
}

/// The chart's key.
#[component]
fn ChartKey() -> impl IntoView {
    view! {
        <ul class="chart-key" aria-hidden="true">
            <li><span class="swatch bar"></span>"went out"</li>
            <li><span class="swatch out"></span>"out of stock that day"</li>
            <li><span class="swatch mean"></span>"forecast"</li>
            <li><span class="swatch band80"></span>"80% sure"</li>
            <li><span class="swatch band95"></span>"95% sure"</li>
        </ul>
    }
}

/// A run's progress, in words and a bar.
#[component]
fn RunProgress(run: RunStatus) -> impl IntoView {
    let pct = run.percent();
    let text = match run.status.as_str() {
        "queued" => "Waiting to start…".to_string(),
        "running" => format!(
            "Forecasting… {} of {} products",
            run.products_done, run.products_total
        ),
        "done" => format!(
            "Forecasts made {}.",
            run.finished.clone().unwrap_or_default()
        ),
        _ => run
            .message
            .clone()
            .unwrap_or_else(|| "The last run failed.".into()),
    };
    let open = run.is_open();
    view! {
        <div class="run-progress" role="status" aria-live="polite">
            <label for="forecast-progress">{text}</label>
            {open.then(|| view! { <progress id="forecast-progress" max="100" value=format!("{pct:.0}")></progress> })}
        </div>
    }
}

/// "Generate forecasts" with the run's progress; `done` is bumped when a
/// run this page watched finishes, so the page reloads its data.
#[component]
fn Generate(
    pantry: PantryId,
    run: Option<RunStatus>,
    can_generate: bool,
    done: RwSignal<u64>,
) -> impl IntoView {
    let current = RwSignal::new(run);
    let generate = ServerAction::<GenerateForecasts>::new();
    Effect::new(move |_| {
        if let Some(Ok(r)) = generate.value().get() {
            current.set(Some(r));
        }
    });
    // While a run is open, ask how far it is every second: one loop at a
    // time (each answer sets `current`, which runs this effect again).
    #[cfg(feature = "hydrate")]
    {
        let polling = StoredValue::new(false);
        let pantry = pantry.clone();
        Effect::new(move |_| {
            let open = current.with(|r| r.as_ref().is_some_and(|r| r.is_open()));
            if !open || polling.get_value() {
                return;
            }
            polling.set_value(true);
            let pantry = pantry.clone();
            leptos::task::spawn_local(async move {
                loop {
                    crate::ui::sleep_ms(1000).await;
                    match get_forecast_run(pantry.clone()).await {
                        Ok(r) => {
                            let still = r.as_ref().is_some_and(|r| r.is_open());
                            current.set(r);
                            if !still {
                                done.update(|n| *n += 1);
                                break;
                            }
                        }
                        Err(_) => break,
                    }
                }
                polling.set_value(false);
            });
        });
    }
    let _ = &done;
    let error = last_error(generate.value());
    view! {
        <section class="card generate">
            {move || current.get().map(|r| view! { <RunProgress run=r /> })}
            {can_generate.then(|| view! {
                <ActionForm action=generate>
                    <input type="hidden" name="pantry" value=pantry.to_string() />
                    <button type="submit" class="button primary"
                        disabled=move || current.with(|r| r.as_ref().is_some_and(|r| r.is_open()))>
                        "Generate forecasts"
                    </button>
                    <FormError error=error fields=&[] />
                </ActionForm>
            })}
        </section>
    }
}

/// The pantry's replenishment settings, in a fold.
#[component]
fn SettingsForm(pantry: PantryId, settings: ForecastSettings, can_edit: bool) -> impl IntoView {
    let save = ServerAction::<SaveForecastSettings>::new();
    let error = last_error(save.value());
    let saved = move || matches!(save.value().get(), Some(Ok(_)));
    let s = settings;
    view! {
        <details class="settings card">
            <summary>{format!(
                "Settings: {} days ahead, lead time {} days, ordering every {} days, {}% service level",
                s.horizon_days, s.lead_time_days, s.review_days, s.service_level_percent
            )}</summary>
            {if can_edit {
                view! {
                    <ActionForm action=save>
                        <input type="hidden" name="pantry" value=pantry.to_string() />
                        <TextField form="forecast-settings" label="Forecast horizon (days)" name="horizon_days" value=s.horizon_days.to_string() error=error />
                        <TextField form="forecast-settings" label="Lead time (days from ordering to the shelf)" name="lead_time_days" value=s.lead_time_days.to_string() error=error />
                        <TextField form="forecast-settings" label="Review period (days between orders)" name="review_days" value=s.review_days.to_string() error=error />
                        <TextField form="forecast-settings" label="Service level (% chance of not running out)" name="service_level" value=s.service_level_percent.to_string() error=error />
                        <FormError error=error fields=&["horizon_days", "lead_time_days", "review_days", "service_level"] />
                        <SubmitButton label="Save settings" busy_label="Saving…" pending=save.pending() />
                        {move || saved().then(|| view! { <p class="notice" role="status">"Saved. The next run uses these settings; what to order uses them now."</p> })}
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p class="muted">"Managers of this pantry can change these."</p> }.into_any()
            }}
        </details>
    }
}

/// `/pantries/:id/forecasts`: every product's forecast at a glance.
#[component]
pub fn ForecastSummaryPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = move || params.read().get("id").unwrap_or_default();
    let done = RwSignal::new(0u64);
    let data = Resource::new(
        move || (pantry(), done.get()),
        |(p, _)| get_forecast_summary(PantryId::from_stored(p)),
    );
    view! {
        <Title text="Forecasts" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = v.pantry.id.clone();
                let horizon = v.settings.horizon_days;
                view! {
                    <Title text=format!("Forecasts · {}", v.pantry.name) />
                    <Breadcrumbs trail=pantry_trail(&v.pantry, vec![("Forecasts".into(), None)]) />
                    <div class="page-head">
                        <h1>"Forecasts"</h1>
                        <a class="button" href=format!("/pantries/{pid}/recommendations")>"What to order"</a>
                    </div>
                    <Generate pantry=pid.clone() run=v.run.clone() can_generate=v.can_generate done=done />
                    <SettingsForm pantry=pid.clone() settings=v.settings.clone() can_edit=v.can_generate />
                    {if v.rows.is_empty() {
                        view! {
                            <EmptyState title="No forecasts yet">
                                <p>"Forecasts are made every night from what went out and any history you imported. Generate them now to see them straight away."</p>
                            </EmptyState>
                        }.into_any()
                    } else {
                        view! {
                            <div class="table-scroll">
                                <table class="table forecast-summary">
                                    <thead><tr>
                                        <th scope="col">"Product"</th>
                                        <th scope="col">"Last 4 weeks and next " {horizon} " days"</th>
                                        <th scope="col" class="num">{format!("Next {horizon} days")}</th>
                                        <th scope="col">"Model"</th>
                                        <th scope="col" class="num"><abbr title="Mean absolute scaled error: below 1 beats repeating last week">"MASE"</abbr></th>
                                        <th scope="col" class="num"><abbr title="Share of past days inside the 80% / 95% intervals">"Coverage"</abbr></th>
                                    </tr></thead>
                                    <tbody>
                                        {v.rows.into_iter().map(|r| {
                                            let href = format!("/pantries/{pid}/forecasts/{}", r.product_id);
                                            let ok = r.status == "ok";
                                            view! {
                                                <tr>
                                                    <th scope="row"><a href=href>{r.product_name.clone()}</a></th>
                                                    <td class="chart-cell">
                                                        {ok.then(|| view! { <ForecastChart history=r.history.clone() points=r.points.clone() unit=r.unit compact=true /> })}
                                                        {r.message.clone().map(|m| view! { <span class="muted">{m}</span> })}
                                                    </td>
                                                    <td class="num">{ok.then(|| amount(r.unit, r.horizon_total))}</td>
                                                    <td>{r.model_label.clone()}</td>
                                                    <td class="num">{r.accuracy.map(|a| number(a.mase))}</td>
                                                    <td class="num">{r.accuracy.map(|a| format!("{} / {}", percent(a.coverage80), percent(a.coverage95)))}</td>
                                                </tr>
                                            }
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        }.into_any()
                    }}
                }.into_any()
            })}
        </Transition>
    }
}

/// One product's order line.
#[component]
fn RecommendationRow(r: Recommendation, pantry: PantryId) -> impl IntoView {
    let unit = r.unit;
    view! {
        <tr class:urgent=r.urgent>
            <th scope="row"><a href=format!("/pantries/{pantry}/forecasts/{}", r.product_id)>{r.product_name.clone()}</a></th>
            <td class="num strong">{(r.order_quantity > 0.0).then(|| amount(unit, r.order_quantity))}</td>
            <td>{r.order_by_label.clone()}</td>
            <td class="num">{amount(unit, r.on_hand)}</td>
            <td class="num">{amount(unit, r.weekly_use)}</td>
            <td class="reason">{r.urgent.then(|| view! { <span class="badge danger">"Urgent"</span> " " })}{r.reason.clone()}</td>
        </tr>
    }
}

#[component]
fn RecommendationTable(rows: Vec<Recommendation>, pantry: PantryId) -> impl IntoView {
    view! {
        <div class="table-scroll">
            <table class="table recommendations">
                <thead><tr>
                    <th scope="col">"Product"</th>
                    <th scope="col" class="num">"Order"</th>
                    <th scope="col">"By"</th>
                    <th scope="col" class="num">"On hand"</th>
                    <th scope="col" class="num">"Per week"</th>
                    <th scope="col">"Why"</th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| view! { <RecommendationRow r=r pantry=pantry.clone() /> }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// `/pantries/:id/recommendations`: what to order, how much, by when, why.
#[component]
pub fn RecommendationsPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = move || params.read().get("id").unwrap_or_default();
    let done = RwSignal::new(0u64);
    let data = Resource::new(
        move || (pantry(), done.get()),
        |(p, _)| get_recommendations(PantryId::from_stored(p)),
    );
    view! {
        <Title text="What to order" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = v.pantry.id.clone();
                view! {
                    <Title text=format!("What to order · {}", v.pantry.name) />
                    <Breadcrumbs trail=pantry_trail(&v.pantry, vec![("What to order".into(), None)]) />
                    <div class="page-head">
                        <h1>"What to order"</h1>
                        <div class="actions">
                            <a class="button" href=format!("/pantries/{pid}/forecasts")>"Forecasts"</a>
                            <a class="button" href=format!("/pantries/{pid}/orders")>"Orders"</a>
                        </div>
                    </div>
                    <p class="muted">{format!(
                        "From the forecasts and today’s stock: safety stock for a {}% chance of not running out in a {}-day lead time, ordering every {} days. Stock that will pass its date before it is used does not count.",
                        v.settings.service_level_percent, v.settings.lead_time_days, v.settings.review_days
                    )}</p>
                    <Generate pantry=pid.clone() run=v.run.clone() can_generate=v.can_generate done=done />
                    <section>
                        <h2>{format!("To order ({})", v.order.len())}</h2>
                        {if v.order.is_empty() {
                            view! { <p>"Nothing needs ordering this review period."</p> }.into_any()
                        } else {
                            view! { <RecommendationTable rows=v.order.clone() pantry=pid.clone() /> }.into_any()
                        }}
                    </section>
                    {(!v.enough.is_empty()).then(|| view! {
                        <section>
                            <h2>{format!("Enough for now ({})", v.enough.len())}</h2>
                            <RecommendationTable rows=v.enough.clone() pantry=pid.clone() />
                        </section>
                    })}
                    {(!v.without.is_empty()).then(|| view! {
                        <section>
                            <h2>{format!("Without a forecast ({})", v.without.len())}</h2>
                            <ul class="list">
                                {v.without.iter().map(|(name, why)| view! { <li><strong>{name.clone()}</strong>" — "{why.clone()}</li> }).collect_view()}
                            </ul>
                        </section>
                    })}
                    <SettingsForm pantry=pid settings=v.settings.clone() can_edit=v.can_generate />
                }.into_any()
            })}
        </Transition>
    }
}

/// `/pantries/:pantry/forecasts/:product`: what went out, what will go
/// out, how sure we are, and what to order, on one page.
#[component]
pub fn ProductForecastPage() -> impl IntoView {
    let params = use_params_map();
    let pantry = move || params.read().get("pantry").unwrap_or_default();
    let product = move || params.read().get("product").unwrap_or_default();
    let done = RwSignal::new(0u64);
    let data = Resource::new(
        move || (pantry(), product(), done.get()),
        |(p, q, _)| get_product_forecast(PantryId::from_stored(p), ProductId::from_stored(q)),
    );
    view! {
        <Title text="Forecast" />
        <Transition fallback=Loading>
            {move || Suspend::new(async move {
                let v = match data.await {
                    Ok(v) => v,
                    Err(e) => return view! { <ErrorPanel error=e /> }.into_any(),
                };
                let pid = v.pantry.id.clone();
                let unit = v.unit;
                let trail = pantry_trail(&v.pantry, vec![
                    ("Forecasts".into(), Some(format!("/pantries/{pid}/forecasts"))),
                    (v.product_name.clone(), None),
                ]);
                view! {
                    <Title text=format!("{} forecast · {}", v.product_name, v.pantry.name) />
                    <Breadcrumbs trail=trail />
                    <div class="page-head">
                        <h1>{v.product_name.clone()}</h1>
                        <a class="button" href=format!("/pantries/{pid}/products/{}", v.product_id)>"Stock and history"</a>
                    </div>
                    {v.recommendation.clone().map(|r| view! {
                        <section class="card order-line" class:urgent=r.urgent>
                            <h2>{match (r.order_quantity > 0.0, r.order_by_label.as_deref()) {
                                (true, Some("today")) => format!("Order {} today", amount(unit, r.order_quantity)),
                                (true, Some(day)) => format!("Order {} by {day}", amount(unit, r.order_quantity)),
                                (true, None) => format!("Order {}", amount(unit, r.order_quantity)),
                                (false, _) => "Nothing to order yet".to_string(),
                            }}</h2>
                            <p>{r.reason.clone()}</p>
                            <dl class="facts">
                                <div><dt>"On hand"</dt><dd>{amount(unit, r.on_hand)}</dd></div>
                                {(r.expiring > 0.0).then(|| view! { <div><dt>"Will expire first"</dt><dd>{amount(unit, r.expiring)}</dd></div> })}
                                <div><dt>"Safety stock"</dt><dd>{amount(unit, r.safety_stock)}</dd></div>
                                <div><dt>"Reorder point"</dt><dd>{amount(unit, r.reorder_point)}</dd></div>
                                <div><dt>"Order up to"</dt><dd>{amount(unit, r.max_stock)}</dd></div>
                                {r.runs_out_label.clone().map(|d| view! { <div><dt>"Runs out"</dt><dd>{d}</dd></div> })}
                            </dl>
                        </section>
                    })}
                    <section class="card">
                        <h2>"What went out and what will"</h2>
                        {v.message.clone().map(|m| view! { <p class="notice">{m}</p> })}
                        <ForecastChart history=v.history.clone() points=v.points.clone() unit=unit />
                        <ChartKey />
                        {v.model_label.clone().map(|m| view! {
                            <p class="muted">{format!(
                                "{m}, chosen from {} models by how well each forecast recent weeks from the days before them ({} tries). {} days of history, {} of them out of stock. Made {}.",
                                v.models.iter().filter(|t| t.accuracy.is_some()).count(),
                                v.accuracy.map_or(0, |a| a.windows),
                                v.history_days,
                                v.out_of_stock_days,
                                v.generated.clone().unwrap_or_default()
                            )}</p>
                        })}
                    </section>
                    {v.accuracy.map(|a| view! {
                        <section class="card">
                            <h2>"How sure"</h2>
                            <dl class="facts">
                                <div><dt>"Typical daily error (MAE)"</dt><dd>{amount(unit, a.mae)}</dd></div>
                                <div><dt>"RMSE"</dt><dd>{format!("{:.2}", a.rmse)}</dd></div>
                                <div><dt><abbr title="Below 1: better than repeating last week">"MASE"</abbr></dt><dd>{number(a.mase)}</dd></div>
                                <div><dt>"Bias (per day)"</dt><dd>{format!("{:+.2}", a.bias)}</dd></div>
                                <div><dt>"80% interval held"</dt><dd>{percent(a.coverage80)}</dd></div>
                                <div><dt>"95% interval held"</dt><dd>{percent(a.coverage95)}</dd></div>
                            </dl>
                        </section>
                    })}
                    {(!v.models.is_empty()).then(|| view! {
                        <details class="card">
                            <summary>"Every model tried"</summary>
                            <div class="table-scroll">
                                <table class="table">
                                    <thead><tr><th scope="col">"Model"</th><th scope="col" class="num">"MASE"</th><th scope="col" class="num">"MAE"</th><th scope="col" class="num">"Bias"</th></tr></thead>
                                    <tbody>
                                        {v.models.iter().map(|t| view! {
                                            <tr class:chosen=t.chosen>
                                                <th scope="row">{t.label.clone()}{t.chosen.then_some(" ✓")}</th>
                                                <td class="num">{t.accuracy.map(|a| number(a.mase)).unwrap_or_else(|| t.failure.clone().unwrap_or_default())}</td>
                                                <td class="num">{t.accuracy.map(|a| format!("{:.2}", a.mae))}</td>
                                                <td class="num">{t.accuracy.map(|a| format!("{:+.2}", a.bias))}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </div>
                        </details>
                    })}
                    <Generate pantry=pid.clone() run=None can_generate=v.can_generate done=done />
                }.into_any()
            })}
        </Transition>
    }
}

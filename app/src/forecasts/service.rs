//! Reading forecasts and what to order, the pantry's settings, and asking
//! for a run. The runs themselves are in [`super::run`].

use std::collections::HashMap;

use forecast::replenish::{self, Lot, Policy, Stock};
use sqlx::Row as _;
use time::Date;

use super::model::*;
use super::series;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::auth::service::Place;
use crate::catalog::model::Unit;
use crate::dates::iso;
use crate::db::Db;
use crate::error::{AppError, AppResult};
use crate::ids::{PantryId, ProductId};
use crate::inventory::ledger::{self, Holding};
use crate::inventory::model::PantryHeader;
use crate::state::AppState;
use crate::zones::Zone;

/// Days of history the product page's chart shows before the forecast.
const CHART_HISTORY_DAYS: usize = 56;
/// And each row of the summary.
const ROW_HISTORY_DAYS: usize = 28;

/// The pantry, checked against the caller: `needed` or better there.
pub(super) async fn pantry(
    state: &AppState,
    caller: &Caller,
    id: &PantryId,
    needed: Role,
) -> AppResult<(PantryHeader, Place, Role)> {
    let (header, place) = crate::inventory::service::pantry_header(&state.db, id).await?;
    let role = caller.require(&place, needed, "pantry")?;
    Ok((header, place, role))
}

pub(super) fn today(state: &AppState, header: &PantryHeader) -> Date {
    Zone::stored(&header.time_zone).day_of(state.clock.now_ms())
}

/// The pantry's settings, or the defaults.
pub async fn settings(db: &Db, pantry: &str) -> AppResult<ForecastSettings> {
    let row: Option<(i64, i64, i64, i64)> = sqlx::query_as(
        "select horizon_days, lead_time_days, review_days, service_per_mille from forecast_settings where pantry_id = $1",
    )
    .bind(pantry)
    .fetch_optional(db.pool())
    .await?;
    Ok(match row {
        Some((horizon_days, lead_time_days, review_days, service)) => ForecastSettings {
            horizon_days,
            lead_time_days,
            review_days,
            service_level_percent: service as f64 / 10.0,
        },
        None => ForecastSettings::default(),
    })
}

fn whole_days(
    input: &str,
    field: &str,
    range: std::ops::RangeInclusive<i64>,
    what: &str,
) -> AppResult<i64> {
    let t = input.trim();
    let shown: String = t.chars().take(12).collect();
    match t.parse::<i64>() {
        Ok(n) if range.contains(&n) => Ok(n),
        Ok(_) | Err(_) if t.is_empty() => {
            Err(AppError::invalid(field, format!("Say the {what} in days.")))
        }
        _ => Err(AppError::invalid(
            field,
            format!(
                "The {what} is a whole number of days from {} to {}; “{shown}” is not.",
                range.start(),
                range.end()
            ),
        )),
    }
}

/// Checks the settings form: each field its own message.
pub fn parse_settings(
    horizon: &str,
    lead: &str,
    review: &str,
    service: &str,
) -> AppResult<ForecastSettings> {
    let service_text = service.trim().trim_end_matches('%').trim();
    let shown: String = service_text.chars().take(12).collect();
    let service_level_percent = match service_text.parse::<f64>() {
        Ok(p) if p.is_finite() && (50.0..=99.9).contains(&p) => (p * 10.0).round() / 10.0,
        _ => {
            return Err(AppError::invalid(
                "service_level",
                format!("The service level is a percentage from 50 to 99.9; “{shown}” is not."),
            ))
        }
    };
    Ok(ForecastSettings {
        horizon_days: whole_days(horizon, "horizon_days", 7..=182, "forecast horizon")?,
        lead_time_days: whole_days(lead, "lead_time_days", 0..=90, "lead time")?,
        review_days: whole_days(review, "review_days", 1..=90, "review period")?,
        service_level_percent,
    })
}

/// Saves the pantry's settings (managers); the next run uses them.
pub async fn set_settings(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
    input: ForecastSettings,
) -> AppResult<ForecastSettings> {
    let (header, _, _) = pantry(state, caller, pantry_id, Role::Manager).await?;
    sqlx::query(
        "insert into forecast_settings (pantry_id, horizon_days, lead_time_days, review_days, service_per_mille, updated_at) \
         values ($1, $2, $3, $4, $5, $6) on conflict (pantry_id) do update set horizon_days = excluded.horizon_days, \
         lead_time_days = excluded.lead_time_days, review_days = excluded.review_days, \
         service_per_mille = excluded.service_per_mille, updated_at = excluded.updated_at",
    )
    .bind(header.id.as_str())
    .bind(input.horizon_days)
    .bind(input.lead_time_days)
    .bind(input.review_days)
    .bind((input.service_level_percent * 10.0).round() as i64)
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    settings(&state.db, header.id.as_str()).await
}

/// Queues a run for a pantry unless one is queued already; returns the
/// queued run's id either way.
pub async fn enqueue(
    db: &Db,
    now: i64,
    organization: &str,
    pantry: &str,
    reason: &str,
    by: Option<&str>,
) -> AppResult<String> {
    for _ in 0..3 {
        sqlx::query(
            "insert into forecast_runs (id, organization_id, pantry_id, reason, status, requested_by, created_at) \
             values ($1, $2, $3, $4, 'queued', $5, $6) on conflict do nothing",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(organization)
        .bind(pantry)
        .bind(reason)
        .bind(by)
        .bind(now)
        .execute(db.pool())
        .await?;
        let open: Option<String> = sqlx::query_scalar(
            "select id from forecast_runs where pantry_id = $1 and status = 'queued'",
        )
        .bind(pantry)
        .fetch_optional(db.pool())
        .await?;
        // None: the queued run was claimed between the two statements;
        // queue a new one.
        if let Some(id) = open {
            return Ok(id);
        }
    }
    Err(AppError::conflict(
        "pantry",
        "Forecasts are being made for this pantry; try again in a moment.",
    ))
}

/// "Generate forecasts": queues a run (managers) and wakes the worker.
pub async fn request(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
) -> AppResult<RunStatus> {
    let (header, _, _) = pantry(state, caller, pantry_id, Role::Manager).await?;
    enqueue(
        &state.db,
        state.clock.now_ms(),
        header.organization_id.as_str(),
        header.id.as_str(),
        "requested",
        Some(caller.me.id.as_str()),
    )
    .await?;
    state.forecast_wake.notify_one();
    latest_run(&state.db, &header)
        .await?
        .ok_or_else(|| AppError::not_found("forecast run"))
}

/// The pantry's latest run.
pub async fn latest_run(db: &Db, header: &PantryHeader) -> AppResult<Option<RunStatus>> {
    let row = sqlx::query(
        "select id, status, reason, products_total, products_done, created_at, finished_at, message \
         from forecast_runs where pantry_id = $1 order by created_at desc, id desc limit 1",
    )
    .bind(header.id.as_str())
    .fetch_optional(db.pool())
    .await?;
    let zone = Zone::stored(&header.time_zone);
    row.map(|r| {
        Ok(RunStatus {
            id: r.try_get("id")?,
            status: r.try_get("status")?,
            reason: r.try_get("reason")?,
            products_total: r.try_get("products_total")?,
            products_done: r.try_get("products_done")?,
            created: zone.format(r.try_get("created_at")?),
            finished: r
                .try_get::<Option<i64>, _>("finished_at")?
                .map(|t| zone.format(t)),
            message: r.try_get("message")?,
        })
    })
    .transpose()
}

/// The latest run, for a page that shows its progress.
pub async fn run_status(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
) -> AppResult<Option<RunStatus>> {
    let (header, _, _) = pantry(state, caller, pantry_id, Role::Viewer).await?;
    latest_run(&state.db, &header).await
}

/// A stored forecast.
pub(super) struct Stored {
    pub product_id: String,
    pub generated_at: i64,
    pub first_day: Date,
    pub status: String,
    pub needs_days: Option<i64>,
    pub history_days: i64,
    pub censored_days: i64,
    pub model: Option<forecast::Model>,
    pub accuracy: Option<Accuracy>,
    pub points: Vec<forecast::Point>,
    pub candidates: Vec<forecast::Candidate>,
}

async fn stored(db: &Db, pantry: &str, product: Option<&str>) -> AppResult<Vec<Stored>> {
    let rows = sqlx::query(
        "select product_id, generated_at, first_day, status, needs_days, history_days, censored_days, model, \
         mae, rmse, mase, bias, coverage80, coverage95, backtest_windows, points, candidates \
         from forecasts where pantry_id = $1 and ($2 = '' or product_id = $2)",
    )
    .bind(pantry)
    .bind(product.unwrap_or(""))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let model: Option<String> = r.try_get("model")?;
            let mae: Option<f64> = r.try_get("mae")?;
            let accuracy = match mae {
                Some(mae) => Some(Accuracy {
                    mae,
                    rmse: r.try_get::<Option<f64>, _>("rmse")?.unwrap_or(0.0),
                    mase: r.try_get("mase")?,
                    bias: r.try_get::<Option<f64>, _>("bias")?.unwrap_or(0.0),
                    coverage80: r.try_get("coverage80")?,
                    coverage95: r.try_get("coverage95")?,
                    windows: r
                        .try_get::<Option<i64>, _>("backtest_windows")?
                        .unwrap_or(0),
                }),
                None => None,
            };
            let first_day: String = r.try_get("first_day")?;
            let points: String = r.try_get("points")?;
            let candidates: String = r.try_get("candidates")?;
            Ok(Stored {
                product_id: r.try_get("product_id")?,
                generated_at: r.try_get("generated_at")?,
                first_day: crate::dates::parse(&first_day, 1900..=2200).unwrap_or(Date::MIN),
                status: r.try_get("status")?,
                needs_days: r.try_get("needs_days")?,
                history_days: r.try_get("history_days")?,
                censored_days: r.try_get("censored_days")?,
                model: model.as_deref().and_then(forecast::Model::from_code),
                accuracy,
                // Written by Larder itself; a row that does not parse (a
                // newer shape) reads as no points rather than an error.
                points: serde_json::from_str(&points).unwrap_or_default(),
                candidates: serde_json::from_str(&candidates).unwrap_or_default(),
            })
        })
        .collect()
}

/// Name and unit of each product of an organization.
pub(super) async fn products(
    db: &Db,
    organization: &str,
) -> AppResult<HashMap<String, (String, Unit)>> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "select id, name, unit from products where organization_id = $1 and archived_at is null",
    )
    .bind(organization)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, unit)| (id, (name, Unit::parse(&unit, "unit").unwrap_or(Unit::Each))))
        .collect())
}

/// The forecast's days from `today` on (a forecast made days ago has
/// fewer left).
fn from_today(s: &Stored, today: Date) -> &[forecast::Point] {
    let skip = (today - s.first_day).whole_days().max(0) as usize;
    s.points.get(skip..).unwrap_or(&[])
}

pub(crate) fn days_label(today: Date, offset: usize) -> String {
    let d = today + time::Duration::days(offset as i64);
    match offset {
        0 => "today".into(),
        1 => "tomorrow".into(),
        2..=6 => weekday(d),
        _ => format!("{} {} {}", &weekday(d)[..3], d.day(), &month(d)[..3]),
    }
}

fn weekday(d: Date) -> String {
    format!("{}", d.weekday())
}

fn month(d: Date) -> String {
    format!("{}", d.month())
}

/// What to order of one product: the plan of the `forecast` crate on
/// today's stock, rounded up to whole units, with its reason in words.
pub(super) fn recommend(
    s: &Stored,
    name: &str,
    unit: Unit,
    holding: &Holding,
    on_order: i64,
    settings: &ForecastSettings,
    today: Date,
) -> Option<Recommendation> {
    if s.status != "ok" {
        return None;
    }
    let parts = unit.scale() as f64;
    let stock = Stock {
        on_hand: holding.on_hand as f64 / parts,
        // Submitted purchase orders not yet received.
        on_order: on_order as f64 / parts,
        lots: holding
            .lots
            .iter()
            .map(|(best_before, q)| Lot {
                quantity: *q as f64 / parts,
                last_day: best_before
                    .as_deref()
                    .and_then(|d| crate::dates::parse(d, 1900..=2200).ok())
                    .map(|d| (d - today).whole_days()),
            })
            .collect(),
    };
    let policy = Policy {
        lead_time_days: settings.lead_time_days.max(0) as usize,
        review_days: settings.review_days.max(1) as usize,
        service_level: settings.service_level_percent / 100.0,
    };
    let rmse = s.accuracy.map_or(0.0, |a| a.rmse);
    let plan = replenish::plan(from_today(s, today), rmse, &stock, &policy);
    let order_quantity = plan.order_quantity.ceil();
    let urgent = plan.runs_out.is_some_and(|d| d < policy.lead_time_days);
    let weekly = plan.daily_demand * 7.0;
    let mut reason = format!(
        "uses {}/week, {} on hand",
        amount(unit, weekly),
        amount(unit, stock.on_hand)
    );
    if stock.on_order > 0.0 {
        reason.push_str(&format!(", {} on order", amount(unit, stock.on_order)));
    }
    if plan.expiring > 0.0 {
        reason.push_str(&format!(
            " ({} will expire before use)",
            amount(unit, plan.expiring)
        ));
    }
    reason.push_str(&format!(
        ", lead time {} day{}",
        policy.lead_time_days,
        if policy.lead_time_days == 1 { "" } else { "s" }
    ));
    match plan.order_by {
        Some(day) if order_quantity > 0.0 => {
            let when = days_label(today, day);
            let by = if day == 0 {
                "today".to_string()
            } else {
                format!("by {when}")
            };
            reason.push_str(&format!(" → order {} {by}", amount(unit, order_quantity)));
        }
        _ => match plan.runs_out {
            Some(day) => reason.push_str(&format!(
                " → enough until {}; nothing to order this review",
                days_label(today, day)
            )),
            None => reason.push_str(&format!(
                " → enough for the next {} days; nothing to order",
                policy.lead_time_days + policy.review_days
            )),
        },
    }
    if urgent {
        if let Some(day) = plan.runs_out {
            reason.push_str(&format!(
                "; runs out {} — before an order can arrive",
                days_label(today, day)
            ));
        }
    }
    let round = |v: f64| (v * 10.0).round() / 10.0;
    Some(Recommendation {
        product_id: ProductId::from_stored(s.product_id.clone()),
        product_name: name.to_string(),
        unit,
        on_hand: round(stock.on_hand),
        expiring: round(plan.expiring),
        on_order: round(stock.on_order),
        weekly_use: round(weekly),
        safety_stock: round(plan.safety_stock),
        reorder_point: round(plan.reorder_point),
        max_stock: round(plan.max_stock),
        order_quantity,
        order_by: plan
            .order_by
            .filter(|_| order_quantity > 0.0)
            .map(|d| iso(today + time::Duration::days(d as i64))),
        order_by_label: plan
            .order_by
            .filter(|_| order_quantity > 0.0)
            .map(|d| days_label(today, d)),
        runs_out: plan
            .runs_out
            .map(|d| iso(today + time::Duration::days(d as i64))),
        runs_out_label: plan.runs_out.map(|d| days_label(today, d)),
        urgent,
        reason,
    })
}

fn no_forecast_message(s: Option<&Stored>) -> String {
    match s {
        None => "No forecast yet: generate forecasts, or wait for tonight's run.".into(),
        Some(s) if s.status == "not_enough_history" => format!(
            "Not enough history (needs {} days, has {}).",
            s.needs_days.unwrap_or(0),
            s.history_days
        ),
        Some(_) => "No forecast.".into(),
    }
}

/// The forecast from today on; offsets count from today.
fn days_of(s: &Stored, today: Date) -> Vec<ForecastDay> {
    days_from(from_today(s, today))
}

/// Forecast points as shown, the first at offset 0.
fn days_from(points: &[forecast::Point]) -> Vec<ForecastDay> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| ForecastDay {
            offset: i as i64,
            mean: p.mean,
            lo80: p.lo80,
            hi80: p.hi80,
            lo95: p.lo95,
            hi95: p.hi95,
        })
        .collect()
}

fn history_of(s: &series::Series, last: usize) -> Vec<HistoryDay> {
    let from = s.demand.len().saturating_sub(last);
    series::days(s)
        .zip(s.demand.iter().zip(&s.censored))
        .skip(from)
        .map(|(day, (q, c))| HistoryDay {
            day,
            quantity: *q,
            out_of_stock: *c,
        })
        .collect()
}

/// Every model tried, the chosen one marked.
fn models_of(
    candidates: &[forecast::Candidate],
    chosen: Option<forecast::Model>,
) -> Vec<ModelTried> {
    candidates
        .iter()
        .map(|c| ModelTried {
            model: c.model.code().into(),
            label: c.model.label().into(),
            chosen: Some(c.model) == chosen,
            accuracy: c.accuracy.map(accuracy_of),
            failure: c.failure.clone(),
        })
        .collect()
}

/// The chosen model in words; a combination names its members, the three
/// best single models of the backtest (by the score the choice uses).
fn label_of(s: &Stored) -> Option<String> {
    let model = s.model?;
    let mut singles: Vec<(f64, forecast::Model)> = s
        .candidates
        .iter()
        .filter(|c| c.model != forecast::Model::Combination)
        .filter_map(|c| c.accuracy.map(|a| (a.mae + a.bias.abs(), c.model)))
        .collect();
    singles.sort_by(|a, b| a.0.total_cmp(&b.0));
    let members: Vec<forecast::Model> = singles.into_iter().take(3).map(|(_, m)| m).collect();
    Some(combination_label(model, &members))
}

fn combination_label(model: forecast::Model, members: &[forecast::Model]) -> String {
    if model == forecast::Model::Combination && !members.is_empty() {
        let names: Vec<&str> = members.iter().map(|m| m.label()).collect();
        format!("Average of {}", names.join(", "))
    } else {
        model.label().into()
    }
}

pub(super) fn accuracy_of(a: forecast::Accuracy) -> Accuracy {
    Accuracy {
        mae: a.mae,
        rmse: a.rmse,
        mase: a.mase,
        bias: a.bias,
        coverage80: a.coverage80,
        coverage95: a.coverage95,
        windows: a.windows as i64,
    }
}

/// One product's forecast at a pantry, its recent demand and what to order.
pub async fn product_forecast(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
    product_id: &ProductId,
) -> AppResult<ProductForecast> {
    let (header, _, role) = pantry(state, caller, pantry_id, Role::Viewer).await?;
    let products = products(&state.db, header.organization_id.as_str()).await?;
    let (name, unit) = products
        .get(product_id.as_str())
        .cloned()
        .ok_or_else(|| AppError::not_found("product"))?;
    let today = today(state, &header);
    let settings = settings(&state.db, header.id.as_str()).await?;
    let stored = stored(&state.db, header.id.as_str(), Some(product_id.as_str())).await?;
    let s = stored.first();
    let scale = HashMap::from([(product_id.to_string(), unit.scale())]);
    let series = series::pantry_series(
        &state.db,
        header.id.as_str(),
        today,
        Some(product_id.as_str()),
        &scale,
    )
    .await?;
    let holdings =
        ledger::holdings(&state.db, header.id.as_str(), Some(product_id.as_str())).await?;
    let holding = holdings
        .get(product_id.as_str())
        .cloned()
        .unwrap_or_default();
    let on_order = crate::purchasing::orders::on_order(&state.db, header.id.as_str())
        .await?
        .get(product_id.as_str())
        .copied()
        .unwrap_or(0);
    let zone = Zone::stored(&header.time_zone);
    let ok = s.filter(|s| s.status == "ok");
    Ok(ProductForecast {
        product_name: name.clone(),
        unit,
        status: s.map_or("none".into(), |s| s.status.clone()),
        message: ok.is_none().then(|| no_forecast_message(s)),
        generated: s.map(|s| zone.format(s.generated_at)),
        first_day: ok.map(|_| iso(today)),
        model: ok.and_then(|s| s.model).map(|m| m.code().into()),
        model_label: ok.and_then(label_of),
        history_days: s.map_or(0, |s| s.history_days),
        out_of_stock_days: s.map_or(0, |s| s.censored_days),
        accuracy: ok.and_then(|s| s.accuracy),
        models: ok
            .map(|s| models_of(&s.candidates, s.model))
            .unwrap_or_default(),
        history: series
            .first()
            .map(|s| history_of(s, CHART_HISTORY_DAYS))
            .unwrap_or_default(),
        points: ok.map(|s| days_of(s, today)).unwrap_or_default(),
        recommendation: ok
            .and_then(|s| recommend(s, &name, unit, &holding, on_order, &settings, today)),
        settings,
        can_generate: role >= Role::Manager,
        pantry: header,
        product_id: product_id.clone(),
    })
}

/// The forecast summary: each product's model, horizon total, accuracy
/// and a small chart.
pub async fn summary(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
) -> AppResult<ForecastSummary> {
    let (header, _, role) = pantry(state, caller, pantry_id, Role::Viewer).await?;
    let products = products(&state.db, header.organization_id.as_str()).await?;
    let today = today(state, &header);
    let settings = settings(&state.db, header.id.as_str()).await?;
    let stored = stored(&state.db, header.id.as_str(), None).await?;
    let scale: HashMap<String, i64> = products
        .iter()
        .map(|(id, (_, u))| (id.clone(), u.scale()))
        .collect();
    let series: HashMap<String, series::Series> =
        series::pantry_series(&state.db, header.id.as_str(), today, None, &scale)
            .await?
            .into_iter()
            .map(|s| (s.product_id.clone(), s))
            .collect();
    let mut rows: Vec<SummaryRow> = stored
        .iter()
        .filter_map(|s| {
            let (name, unit) = products.get(&s.product_id)?;
            let ok = s.status == "ok";
            let points = if ok { days_of(s, today) } else { Vec::new() };
            Some(SummaryRow {
                product_id: ProductId::from_stored(s.product_id.clone()),
                product_name: name.clone(),
                unit: *unit,
                status: s.status.clone(),
                message: (!ok).then(|| no_forecast_message(Some(s))),
                model_label: if ok { label_of(s) } else { None },
                horizon_total: points.iter().map(|p| p.mean).sum(),
                accuracy: s.accuracy.filter(|_| ok),
                history: series
                    .get(&s.product_id)
                    .map(|x| history_of(x, ROW_HISTORY_DAYS))
                    .unwrap_or_default(),
                points,
            })
        })
        .collect();
    // Forecast products first, the busiest on top; then the rest by name.
    rows.sort_by(|a, b| {
        (b.status == "ok")
            .cmp(&(a.status == "ok"))
            .then(b.horizon_total.total_cmp(&a.horizon_total))
            .then(
                a.product_name
                    .to_lowercase()
                    .cmp(&b.product_name.to_lowercase()),
            )
    });
    Ok(ForecastSummary {
        settings,
        run: latest_run(&state.db, &header).await?,
        rows,
        can_generate: role >= Role::Manager,
        pantry: header,
    })
}

/// The inventory recommendations: what to order, how much, by when, why.
pub async fn recommendations(
    state: &AppState,
    caller: &Caller,
    pantry_id: &PantryId,
) -> AppResult<RecommendationReport> {
    let (header, _, role) = pantry(state, caller, pantry_id, Role::Viewer).await?;
    let settings = settings(&state.db, header.id.as_str()).await?;
    let (recommended, mut without) =
        recommendations_at(&state.db, &header, today(state, &header), None).await?;
    let (mut order, mut enough): (Vec<_>, Vec<_>) = recommended
        .into_iter()
        .partition(|r| r.order_quantity > 0.0);
    order.sort_by(|a, b| {
        b.urgent
            .cmp(&a.urgent)
            .then(a.order_by.cmp(&b.order_by))
            .then(
                a.product_name
                    .to_lowercase()
                    .cmp(&b.product_name.to_lowercase()),
            )
    });
    enough.sort_by(|a, b| {
        a.runs_out
            .is_none()
            .cmp(&b.runs_out.is_none())
            .then(a.runs_out.cmp(&b.runs_out))
    });
    without.sort();
    Ok(RecommendationReport {
        settings,
        run: latest_run(&state.db, &header).await?,
        order,
        enough,
        without,
        can_generate: role >= Role::Manager,
        pantry: header,
    })
}

/// What the pantry should order of each forecast product (all of them, or
/// `only` the one), and the products without a usable forecast with why.
/// Asks no caller: the stock issue analyser uses it too.
pub async fn recommendations_at(
    db: &Db,
    header: &PantryHeader,
    today: Date,
    only: Option<&str>,
) -> AppResult<(Vec<Recommendation>, Vec<(String, String)>)> {
    let products = products(db, header.organization_id.as_str()).await?;
    let settings = settings(db, header.id.as_str()).await?;
    let stored = stored(db, header.id.as_str(), only).await?;
    let holdings = ledger::holdings(db, header.id.as_str(), only).await?;
    let on_order = crate::purchasing::orders::on_order(db, header.id.as_str()).await?;
    let (mut recommended, mut without) = (Vec::new(), Vec::new());
    for s in &stored {
        let Some((name, unit)) = products.get(&s.product_id) else {
            continue;
        };
        let holding = holdings.get(&s.product_id).cloned().unwrap_or_default();
        let ordered = on_order.get(&s.product_id).copied().unwrap_or(0);
        match recommend(s, name, *unit, &holding, ordered, &settings, today) {
            Some(r) => recommended.push(r),
            None => without.push((name.clone(), no_forecast_message(Some(s)))),
        }
    }
    Ok((recommended, without))
}

/// A product's forecast over a campus or the organization, made when
/// asked: each pantry's series (in its own local days) summed by date up
/// to the last day every pantry has finished. A day counts as out of
/// stock only when every pantry that tracked the product was out.
pub async fn scope_forecast(
    state: &AppState,
    caller: &Caller,
    scope: &crate::org::model::Scope,
    product_id: &ProductId,
) -> AppResult<ScopeForecast> {
    use crate::org::model::Scope;
    let db = &state.db;
    let (organization, label, key, condition, id) = match scope {
        Scope::Campus(id) => {
            let (c, place) = crate::org::service::campus_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "campus")?;
            (
                c.organization_id.to_string(),
                c.name,
                format!("campus:{}", c.id),
                "campus_id",
                c.id.to_string(),
            )
        }
        Scope::Organization(id) => {
            let (o, place) = crate::org::service::organization_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "organization")?;
            (
                o.id.to_string(),
                o.name,
                format!("organization:{}", o.id),
                "organization_id",
                o.id.to_string(),
            )
        }
        Scope::Pantry(_) => {
            return Err(AppError::invalid(
                "scope",
                "A pantry's forecast is asked for with ?pantry=<id>.",
            ))
        }
    };
    let products = products(db, &organization).await?;
    let (name, unit) = products
        .get(product_id.as_str())
        .cloned()
        .ok_or_else(|| AppError::not_found("product"))?;
    let pantries: Vec<(String, Option<String>, String)> = sqlx::query_as(&format!(
        "select p.id, p.time_zone, o.time_zone from pantries p join organizations o on o.id = p.organization_id \
         where p.{condition} = $1 and p.archived_at is null order by p.id"
    ))
    .bind(&id)
    .fetch_all(db.pool())
    .await?;
    let scale = HashMap::from([(product_id.to_string(), unit.scale())]);
    let mut last = None::<Date>;
    let mut all = Vec::new();
    for (pantry, own, org_zone) in &pantries {
        let today = Zone::stored(own.as_deref().unwrap_or(org_zone)).day_of(state.clock.now_ms());
        last = Some(last.map_or(today, |l: Date| l.min(today)));
        all.extend(
            series::pantry_series(db, pantry, today, Some(product_id.as_str()), &scale).await?,
        );
    }
    let today = last.unwrap_or_else(|| Zone::utc().day_of(state.clock.now_ms()));
    let summed = series::sum(&all, today);
    let settings = ForecastSettings::default();
    let fit = forecast::Settings {
        horizon: settings.horizon_days as usize,
        ..forecast::Settings::default()
    };
    let (demand, censored) = summed
        .as_ref()
        .map_or((&[][..], &[][..]), |s| (&s.demand[..], &s.censored[..]));
    let result = {
        let (demand, censored) = (demand.to_vec(), censored.to_vec());
        tokio::task::spawn_blocking(move || forecast::run(&demand, &censored, &fit))
            .await
            .map_err(|e| AppError::internal(&e))?
    };
    let history = summed
        .as_ref()
        .map(|s| history_of(s, CHART_HISTORY_DAYS))
        .unwrap_or_default();
    let out_of_stock_days = censored.iter().filter(|c| **c).count() as i64;
    let base = ScopeForecast {
        scope: key,
        label,
        product_id: product_id.clone(),
        product_name: name,
        unit,
        pantries: pantries.len() as i64,
        status: "ok".into(),
        message: None,
        model: None,
        model_label: None,
        history_days: demand.len() as i64,
        out_of_stock_days,
        accuracy: None,
        models: Vec::new(),
        history,
        points: Vec::new(),
    };
    Ok(match result {
        Ok(f) => ScopeForecast {
            model: Some(f.model.code().into()),
            model_label: Some(combination_label(f.model, &f.members)),
            accuracy: Some(accuracy_of(f.accuracy)),
            models: models_of(&f.candidates, Some(f.model)),
            points: days_from(&f.points),
            ..base
        },
        Err(forecast::Refusal::NotEnoughHistory { needs, has }) => ScopeForecast {
            status: "not_enough_history".into(),
            message: Some(format!(
                "Not enough history (needs {needs} days, has {has})."
            )),
            ..base
        },
        Err(forecast::Refusal::BadSettings) => {
            return Err(AppError::internal(&std::io::Error::other(
                "forecast settings out of range",
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_refuse_what_they_cannot_use_field_by_field() {
        let s = parse_settings("28", "5", "7", "95%").unwrap();
        assert_eq!(
            (
                s.horizon_days,
                s.lead_time_days,
                s.review_days,
                s.service_level_percent
            ),
            (28, 5, 7, 95.0)
        );
        let field = |r: AppResult<ForecastSettings>| match r {
            Err(AppError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(parse_settings("3", "5", "7", "95")), "horizon_days");
        assert_eq!(
            field(parse_settings("28", "-1", "7", "95")),
            "lead_time_days"
        );
        assert_eq!(field(parse_settings("28", "5", "", "95")), "review_days");
        assert_eq!(
            field(parse_settings("28", "5", "7", "100")),
            "service_level"
        );
        assert_eq!(
            field(parse_settings("28", "5", "7", "NaN")),
            "service_level"
        );
    }

    #[test]
    fn amounts_read_like_people_say_them() {
        assert_eq!(amount(Unit::Each, 14.2), "14");
        assert_eq!(amount(Unit::Each, 2.0), "2");
        assert_eq!(amount(Unit::Each, 0.45), "0.5");
        assert_eq!(amount(Unit::Kg, 2.5), "2.5 kg");
        assert_eq!(amount(Unit::Pack, f64::NAN), "0 pack");
    }
}

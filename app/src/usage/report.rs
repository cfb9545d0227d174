//! The usage report: visits, households and individuals served, what
//! went out (by period, category and product), donations in by donor, and
//! waste by reason, for a pantry, a campus or a whole organization.
//!
//! Every figure is a sum of movements (and a count of visits): the
//! database sums per day and product, and this module rolls days up into
//! weeks or months, categories and products. What a visit handed out
//! counts on the visit's day, with its corrections, so a voided visit
//! adds nothing anywhere. Days are each pantry's local days, in its time
//! zone: the database is handed each zone's offsets over the period
//! ([`crate::zones::Zone::offsets`]) and each pantry's zone and period, as
//! bound row sets, so an evening visit in California counts on its own
//! day, not on the next UTC one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sqlx::Row as _;
use time::Date;

use super::model::*;
use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::error::{AppError, AppResult};
use crate::ids::ProductId;
use crate::inventory::ledger;
use crate::org::model::Scope;
use crate::state::AppState;
use crate::zones::{date_of, day_number, LocalDays};

/// The longest period one report covers.
pub const MAX_DAYS: i64 = 3 * 366;
/// Products in the "top products" table.
pub const TOP_PRODUCTS: usize = 15;

/// The scope's SQL condition on a table's `pantry_id` / `organization_id`
/// (alias given), its label, and the id bound as `$1`.
struct ReportScope {
    scope: Scope,
    key: String,
    label: String,
    id: String,
    condition: fn(&str) -> String,
    /// The pantries in scope, as a condition on `pantries p`.
    pantries: &'static str,
    /// From the organization down to the scope: (label, address).
    trail: Vec<(String, String)>,
}

async fn resolve(state: &AppState, caller: &Caller, scope: &Scope) -> AppResult<ReportScope> {
    let db = &state.db;
    // History stays in reports after a pantry or campus is archived, so
    // these conditions do not look at `archived_at`.
    match scope {
        Scope::Pantry(id) => {
            let (h, place) = crate::inventory::service::pantry_header(db, id).await?;
            caller.require(&place, Role::Viewer, "pantry")?;
            Ok(ReportScope {
                scope: scope.clone(),
                key: format!("pantry:{}", h.id),
                label: format!("{} ({})", h.name, h.campus_name),
                id: h.id.to_string(),
                condition: |a| format!("{a}.pantry_id = $1"),
                pantries: "p.id = $1",
                trail: vec![
                    (
                        h.organization_name.clone(),
                        format!("/organizations/{}", h.organization_id),
                    ),
                    (h.campus_name.clone(), format!("/campuses/{}", h.campus_id)),
                    (h.name.clone(), format!("/pantries/{}", h.id)),
                ],
            })
        }
        Scope::Campus(id) => {
            let (c, place) = crate::org::service::campus_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "campus")?;
            Ok(ReportScope {
                scope: scope.clone(),
                key: format!("campus:{}", c.id),
                label: c.name.clone(),
                id: c.id.to_string(),
                condition: |a| {
                    format!("{a}.pantry_id in (select id from pantries where campus_id = $1)")
                },
                pantries: "p.campus_id = $1",
                trail: vec![
                    (
                        crate::org::service::organization_name(db, c.organization_id.as_str())
                            .await?,
                        format!("/organizations/{}", c.organization_id),
                    ),
                    (c.name.clone(), format!("/campuses/{}", c.id)),
                ],
            })
        }
        Scope::Organization(id) => {
            let (o, place) = crate::org::service::organization_with_place(db, id.as_str()).await?;
            caller.require(&place, Role::Viewer, "organization")?;
            Ok(ReportScope {
                scope: scope.clone(),
                key: format!("organization:{}", o.id),
                label: o.name.clone(),
                id: o.id.to_string(),
                condition: |a| format!("{a}.organization_id = $1"),
                pantries: "p.organization_id = $1",
                trail: vec![(o.name.clone(), format!("/organizations/{}", o.id))],
            })
        }
    }
}

pub fn parse_date(input: &str, field: &str) -> AppResult<Date> {
    crate::dates::parse(input, 2000..=2100).map_err(|e| match e {
        crate::dates::NotADay::Form => {
            AppError::invalid(field, format!("Enter the {field} date as YYYY-MM-DD."))
        }
        crate::dates::NotADay::Calendar => AppError::invalid(
            field,
            format!("{} is not a date on the calendar.", input.trim()),
        ),
        crate::dates::NotADay::Years => {
            AppError::invalid(field, "Choose a date between 2000 and 2100.")
        }
    })
}

pub use crate::dates::iso;

/// The first day of the period a day falls in.
fn period_start(day: i64, group: Grouping) -> i64 {
    match group {
        Grouping::Day => day,
        // 1970-01-01 was a Thursday; weeks start on Monday.
        Grouping::Week => day - (day + 3).rem_euclid(7),
        Grouping::Month => {
            let d = date_of(day);
            day - (d.day() as i64 - 1)
        }
    }
}

fn next_period(start: i64, group: Grouping) -> i64 {
    match group {
        Grouping::Day => start + 1,
        Grouping::Week => start + 7,
        Grouping::Month => {
            let d = date_of(start);
            let (y, m) = if d.month() == time::Month::December {
                (d.year() + 1, time::Month::January)
            } else {
                (d.year(), d.month().next())
            };
            Date::from_calendar_date(y, m, 1)
                .map(day_number)
                .unwrap_or(start + 31)
        }
    }
}

/// "Sun 1 Nov", "Week of 2 Nov", "November 2026"; days and weeks carry
/// their year when the report spans more than one.
fn label(start: i64, group: Grouping, with_year: bool) -> String {
    let d = date_of(start);
    let month = format!("{:?}", d.month());
    let short = &month[..3];
    let year = if with_year {
        format!(" {}", d.year())
    } else {
        String::new()
    };
    match group {
        Grouping::Day => format!(
            "{} {} {short}{year}",
            &format!("{:?}", d.weekday())[..3],
            d.day()
        ),
        Grouping::Week => format!("Week of {} {short}{year}", d.day()),
        Grouping::Month => format!("{month} {}", d.year()),
    }
}

/// A product as the report needs it.
struct ProductInfo {
    name: String,
    category: String,
    unit: Unit,
    weight_per_unit_g: Option<i64>,
}

impl ProductInfo {
    /// Counted units (each, pack) are items; bulk (kg, l, lb) is weight only.
    fn items(&self, quantity: i64) -> i64 {
        if self.unit.scale() == 1 {
            quantity
        } else {
            0
        }
    }

    /// Grams in `quantity` (the product's smallest unit), when known.
    fn weight_g(&self, quantity: i64) -> i64 {
        // In i128: a report sums many movements, and a total must never wrap.
        self.weight_per_unit_g
            .map(|w| {
                let g = quantity as i128 * w as i128 / self.unit.scale() as i128;
                g.clamp(i64::MIN as i128, i64::MAX as i128) as i64
            })
            .unwrap_or(0)
    }
}

async fn product_info(
    db: &crate::db::Db,
    ids: &BTreeSet<String>,
) -> AppResult<HashMap<String, ProductInfo>> {
    let mut out = HashMap::new();
    let ids: Vec<&String> = ids.iter().collect();
    for chunk in ids.chunks(500) {
        let mut sql = crate::db::Sql::default();
        sql.push("select id, name, category, unit, unit_weight_g from products where id in (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.text(id.as_str());
        }
        sql.push(")");
        for r in sql.query().fetch_all(db.pool()).await? {
            let unit = Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?;
            let own: Option<i64> = r.try_get("unit_weight_g")?;
            out.insert(
                r.try_get("id")?,
                ProductInfo {
                    name: r.try_get("name")?,
                    category: r.try_get("category")?,
                    unit,
                    weight_per_unit_g: own.or(unit.intrinsic_weight_g()),
                },
            );
        }
    }
    Ok(out)
}

/// Builds the report. `from` and `to` are inclusive ISO dates.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn usage_report(
    state: &AppState,
    caller: &Caller,
    scope: &str,
    from: &str,
    to: &str,
    group: &str,
) -> AppResult<UsageReport> {
    let scope = resolve(state, caller, &Scope::parse(scope)?).await?;
    let group = Grouping::parse(group)?;
    let from = parse_date(from, "from")?;
    let to = parse_date(to, "to")?;
    if to < from {
        return Err(AppError::invalid(
            "to",
            "The end date comes before the start date.",
        ));
    }
    let (first, last) = (day_number(from), day_number(to));
    if last - first + 1 > MAX_DAYS {
        return Err(AppError::invalid(
            "to",
            format!("A report covers at most {MAX_DAYS} days; choose a shorter period."),
        ));
    }
    // Everything below only reads, and may be a moment behind: the read
    // replica, when there is one in use.
    let reads = state.db.reads();
    let db = reads.pool();
    let days = LocalDays::of(&reads, scope.pantries, &scope.id, from, to).await?;
    let (from_ms, to_ms) = days.bounds();

    // Visits, to count households and people per period.
    let visits = sqlx::query(&format!(
        "select v.id, v.pantry_id, v.occurred_at, v.client_ref, v.adults, v.children, v.seniors from visits v \
         where {} and v.status = 'recorded' and v.occurred_at >= $2 and v.occurred_at < $3",
        (scope.condition)("v")
    ))
    .bind(&scope.id)
    .bind(from_ms)
    .bind(to_ms)
    .fetch_all(db)
    .await?;

    // What went out per local day and product; a visit's lines (its
    // corrections too) count on the visit's day.
    let filter = ledger::Filter {
        scope: &scope.scope,
        product: None,
    };
    let visit_times = visits
        .iter()
        .map(|v| Ok((v.try_get("id")?, v.try_get("occurred_at")?)))
        .collect::<Result<Vec<(String, i64)>, sqlx::Error>>()?;
    let out = ledger::distributed_per_day(&reads, &filter, &days, &visit_times).await?;
    // Donations in: a recorded weight wins over the catalog's.
    let donated = ledger::donated(&reads, &filter, &days).await?;
    let wasted = ledger::discarded(&reads, &filter, &days).await?;
    // Imported history (what went out before Larder), per product and day,
    // from finished imports; and the days it covers at all.
    let imported: Vec<(String, String, i64)> = sqlx::query_as(&format!(
        "select h.product_id, h.day, cast(sum(h.quantity) as bigint) from usage_history h \
         join usage_imports i on i.id = h.import_id \
         where {} and i.status = 'done' and h.day >= $2 and h.day <= $3 group by h.product_id, h.day",
        (scope.condition)("h")
    ))
    .bind(&scope.id)
    .bind(iso(from))
    .bind(iso(to))
    .fetch_all(db)
    .await?;
    let span: (Option<String>, Option<String>) = sqlx::query_as(&format!(
        "select min(h.day), max(h.day) from usage_history h join usage_imports i on i.id = h.import_id \
         where {} and i.status = 'done'",
        (scope.condition)("h")
    ))
    .bind(&scope.id)
    .fetch_one(db)
    .await?;

    let mut ids = BTreeSet::new();
    ids.extend(out.iter().map(|(_, id, _)| id.clone()));
    ids.extend(donated.iter().map(|d| d.product_id.clone()));
    ids.extend(wasted.iter().map(|(_, id, _)| id.clone()));
    ids.extend(imported.iter().map(|(id, _, _)| id.clone()));
    let products = product_info(&reads, &ids).await?;
    let info = |id: &str| {
        products.get(id).ok_or_else(|| {
            AppError::internal(&std::io::Error::other(format!(
                "product {id} of a movement is gone"
            )))
        })
    };

    // Periods, every one in the range (empty ones too, for the chart).
    let mut periods: BTreeMap<i64, PeriodFigures> = BTreeMap::new();
    let mut start = period_start(first, group);
    while start <= last {
        periods.insert(
            start,
            PeriodFigures {
                start: iso(date_of(start.max(first))),
                label: label(start, group, from.year() != to.year()),
                ..PeriodFigures::default()
            },
        );
        start = next_period(start, group);
    }
    let mut totals = PeriodFigures {
        start: iso(from),
        label: format!("{} – {}", iso(from), iso(to)),
        ..PeriodFigures::default()
    };

    // Households: one per client reference per period (and per visit
    // without one); people: the household's size at its latest visit.
    #[derive(Default)]
    struct Served {
        by_client: HashMap<String, (i64, Option<i64>)>,
        anonymous: i64,
        anonymous_people: i64,
        no_size: i64,
    }
    impl Served {
        fn add(&mut self, at: i64, client: Option<String>, size: Option<i64>) {
            match client {
                Some(c) => {
                    // The size recorded at the client's latest visit
                    // that recorded one.
                    let e = self.by_client.entry(c).or_insert((at, size));
                    if size.is_some() && (e.1.is_none() || at >= e.0) {
                        *e = (at, size);
                    }
                }
                None => {
                    self.anonymous += 1;
                    self.anonymous_people += size.unwrap_or(0);
                    if size.is_none() {
                        self.no_size += 1;
                    }
                }
            }
        }
        fn households(&self) -> i64 {
            self.by_client.len() as i64 + self.anonymous
        }
        fn people(&self) -> i64 {
            self.anonymous_people + self.by_client.values().filter_map(|v| v.1).sum::<i64>()
        }
        fn no_size(&self) -> i64 {
            self.no_size + self.by_client.values().filter(|v| v.1.is_none()).count() as i64
        }
    }
    let mut served: BTreeMap<i64, Served> = BTreeMap::new();
    let mut served_total = Served::default();
    for v in &visits {
        let at: i64 = v.try_get("occurred_at")?;
        let Some(day) = days.day_of(&v.try_get::<String, _>("pantry_id")?, at) else {
            continue;
        };
        // One card written several ways is one household.
        let client: Option<String> = v
            .try_get::<Option<String>, _>("client_ref")?
            .map(|c| super::model::client_key(&c));
        let h = Household {
            adults: v.try_get("adults")?,
            children: v.try_get("children")?,
            seniors: v.try_get("seniors")?,
        };
        let p = period_start(day, group);
        served
            .entry(p)
            .or_default()
            .add(at, client.clone(), h.size());
        served_total.add(at, client, h.size());
        if let Some(f) = periods.get_mut(&p) {
            f.visits += 1;
        }
        totals.visits += 1;
    }
    for (p, s) in &served {
        if let Some(f) = periods.get_mut(p) {
            f.households = s.households();
            f.individuals = s.people();
        }
    }
    totals.households = served_total.households();
    totals.individuals = served_total.people();

    let mut categories: BTreeMap<String, (i64, i64, Vec<(Unit, i64)>)> = BTreeMap::new();
    // Per product: handed out in Larder, and from imported history.
    let mut by_product: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (id, day, quantity) in imported {
        let p = info(&id)?;
        let day = day_number(parse_date(&day, "day")?);
        let (items, weight) = (p.items(quantity), p.weight_g(quantity));
        if let Some(f) = periods.get_mut(&period_start(day, group)) {
            f.imported_items += items;
            f.imported_weight_g += weight;
        }
        totals.imported_items += items;
        totals.imported_weight_g += weight;
        by_product.entry(id).or_default().1 += quantity;
    }
    for (day, id, quantity) in out {
        let p = info(&id)?;
        let (items, weight) = (p.items(quantity), p.weight_g(quantity));
        if let Some(f) = periods.get_mut(&period_start(day, group)) {
            f.items += items;
            f.weight_g += weight;
        }
        totals.items += items;
        totals.weight_g += weight;
        let c = categories.entry(p.category.clone()).or_default();
        let mut counted = 0;
        crate::catalog::model::add_quantity(&mut counted, &mut c.2, p.unit, quantity);
        c.0 += items;
        c.1 += weight;
        by_product.entry(id).or_default().0 += quantity;
    }
    let mut by_category: Vec<CategoryFigures> = categories
        .into_iter()
        .map(|(category, (items, weight_g, measured))| CategoryFigures {
            category,
            items,
            weight_g,
            measured: measured.into_iter().filter(|(_, q)| *q != 0).collect(),
        })
        .collect();
    by_category.sort_by(|a, b| {
        (b.weight_g, b.items, &a.category).cmp(&(a.weight_g, a.items, &b.category))
    });
    let mut top_products: Vec<ProductFigures> = by_product
        .into_iter()
        .filter(|(_, (q, i))| *q != 0 || *i != 0)
        .map(|(id, (quantity, imported))| {
            let p = info(&id)?;
            Ok(ProductFigures {
                product_id: ProductId::from_stored(id.clone()),
                name: p.name.clone(),
                category: p.category.clone(),
                quantity,
                quantity_text: p.unit.format(quantity),
                weight_g: p.weight_g(quantity),
                imported,
                imported_text: p.unit.format(imported),
            })
        })
        .collect::<AppResult<_>>()?;
    // Most first, counting imported history with what went out in Larder.
    let key = |p: &ProductFigures| {
        (
            p.weight_g
                + info(p.product_id.as_str())
                    .map(|i| i.weight_g(p.imported))
                    .unwrap_or(0),
            p.quantity + p.imported,
        )
    };
    top_products.sort_by(|a, b| (key(b), &a.name).cmp(&(key(a), &b.name)));
    top_products.truncate(TOP_PRODUCTS);

    let mut donors: BTreeMap<String, DonorFigures> = BTreeMap::new();
    for r in &donated {
        let donor = r.donor.clone();
        let p = info(&r.product_id)?;
        let (quantity, unweighed, weighed) = (r.quantity, r.unweighed, r.weighed_g);
        let name = if donor.trim().is_empty() {
            "Anonymous".to_string()
        } else {
            donor
        };
        let d = donors.entry(name.clone()).or_insert(DonorFigures {
            donor: name,
            donations: 0,
            items: 0,
            weight_g: 0,
        });
        d.donations += r.lines;
        d.items += p.items(quantity);
        d.weight_g += weighed + p.weight_g(unweighed);
    }
    let mut donations: Vec<DonorFigures> = donors.into_values().collect();
    donations.sort_by(|a, b| (b.weight_g, b.items, &a.donor).cmp(&(a.weight_g, a.items, &b.donor)));

    let mut reasons: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for (reason, id, quantity) in wasted {
        let p = info(&id)?;
        let e = reasons.entry(reason).or_default();
        e.0 += p.items(quantity);
        e.1 += p.weight_g(quantity);
    }
    let waste = reasons
        .into_iter()
        .map(|(reason, (items, weight_g))| WasteFigures {
            reason: crate::inventory::model::DiscardReason::parse(&reason, "reason")
                .map(|r| r.label().to_string())
                .unwrap_or(reason),
            items,
            weight_g,
        })
        .collect();

    Ok(UsageReport {
        scope: scope.key,
        scope_label: scope.label,
        from: iso(from),
        to: iso(to),
        group,
        periods: periods.into_values().collect(),
        totals,
        by_category,
        top_products,
        donations,
        waste,
        visits_without_size: served_total.no_size(),
        trail: scope.trail,
        imported_span: match span {
            (Some(first), Some(last)) => Some((first, last)),
            _ => None,
        },
    })
}

fn kg(grams: i64) -> String {
    format!("{}.{:03}", grams / 1000, (grams % 1000).abs())
}

/// The report as CSV: one block per table, each with its own header,
/// blocks apart by an empty line; every cell safe to open in a spreadsheet.
pub fn to_csv(r: &UsageReport) -> String {
    let mut out = Vec::new();
    let mut line = |fields: Vec<String>| {
        // A blank line between blocks is written as such (the csv crate
        // writes an empty record as ""). Writing to memory cannot fail.
        if !fields.is_empty() {
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .from_writer(&mut out);
            let _ = w.write_record(
                fields
                    .iter()
                    .map(|f| crate::spreadsheet::cell(f).into_owned()),
            );
            let _ = w.flush();
        } else {
            out.extend_from_slice(b"\r\n");
        }
    };
    line(vec![
        "Usage report".into(),
        r.scope_label.clone(),
        r.from.clone(),
        r.to.clone(),
        format!("by {}", r.group.as_str()),
    ]);
    line(vec![]);
    line(
        [
            "period",
            "start",
            "visits",
            "households",
            "individuals",
            "items",
            "weight_kg",
            "imported_items",
            "imported_weight_kg",
        ]
        .map(String::from)
        .to_vec(),
    );
    for p in r.periods.iter().chain(std::iter::once(&r.totals)) {
        line(vec![
            p.label.clone(),
            p.start.clone(),
            p.visits.to_string(),
            p.households.to_string(),
            p.individuals.to_string(),
            p.items.to_string(),
            kg(p.weight_g),
            p.imported_items.to_string(),
            kg(p.imported_weight_g),
        ]);
    }
    line(vec![]);
    line(
        ["category", "items", "weight_kg"]
            .map(String::from)
            .to_vec(),
    );
    for c in &r.by_category {
        line(vec![
            c.category.clone(),
            c.items.to_string(),
            kg(c.weight_g),
        ]);
    }
    line(vec![]);
    line(
        ["product", "category", "quantity", "weight_kg"]
            .map(String::from)
            .to_vec(),
    );
    for p in &r.top_products {
        line(vec![
            p.name.clone(),
            p.category.clone(),
            p.quantity_text.clone(),
            kg(p.weight_g),
        ]);
    }
    line(vec![]);
    line(
        ["donor", "donations", "items", "weight_kg"]
            .map(String::from)
            .to_vec(),
    );
    for d in &r.donations {
        line(vec![
            d.donor.clone(),
            d.donations.to_string(),
            d.items.to_string(),
            kg(d.weight_g),
        ]);
    }
    line(vec![]);
    line(
        ["waste reason", "items", "weight_kg"]
            .map(String::from)
            .to_vec(),
    );
    for x in &r.waste {
        line(vec![x.reason.clone(), x.items.to_string(), kg(x.weight_g)]);
    }
    drop(line);
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_start_on_the_day_monday_and_first_of_month() {
        let d = parse_date("2026-11-19", "from").unwrap(); // a Thursday
        let n = day_number(d);
        assert_eq!(iso(date_of(period_start(n, Grouping::Day))), "2026-11-19");
        assert_eq!(iso(date_of(period_start(n, Grouping::Week))), "2026-11-16");
        assert_eq!(iso(date_of(period_start(n, Grouping::Month))), "2026-11-01");
        assert_eq!(
            iso(date_of(next_period(
                period_start(n, Grouping::Month),
                Grouping::Month
            ))),
            "2026-12-01"
        );
        let dec = day_number(parse_date("2026-12-31", "from").unwrap());
        assert_eq!(
            iso(date_of(next_period(
                period_start(dec, Grouping::Month),
                Grouping::Month
            ))),
            "2027-01-01"
        );
        let week = period_start(n, Grouping::Week);
        assert_eq!(label(week, Grouping::Week, true), "Week of 16 Nov 2026");
        assert_eq!(label(week, Grouping::Week, false), "Week of 16 Nov");
        assert_eq!(
            label(period_start(n, Grouping::Month), Grouping::Month, false),
            "November 2026"
        );
        assert_eq!(label(n, Grouping::Day, false), "Thu 19 Nov");
    }

    #[test]
    fn bad_dates_say_which_field() {
        for bad in ["2026-02-30", "26-1-1", "yesterday", "1999-12-31", ""] {
            assert_eq!(
                parse_date(bad, "from").unwrap_err().field(),
                Some("from"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_csv_quotes_what_needs_it_and_defuses_formulas() {
        let report = UsageReport {
            scope: "pantry:p".into(),
            scope_label: "Main, \"the\" pantry".into(),
            from: "2026-03-01".into(),
            to: "2026-03-31".into(),
            group: Grouping::Month,
            periods: vec![],
            totals: PeriodFigures {
                label: "Total".into(),
                weight_g: 1500,
                ..Default::default()
            },
            by_category: vec![],
            top_products: vec![],
            donations: vec![DonorFigures {
                donor: "=HYPERLINK(\"http://evil\")".into(),
                donations: 1,
                items: 2,
                weight_g: 250,
            }],
            waste: vec![],
            visits_without_size: 0,
            trail: vec![],
            imported_span: None,
        };
        let csv = to_csv(&report);
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(
            lines[0],
            "Usage report,\"Main, \"\"the\"\" pantry\",2026-03-01,2026-03-31,by month"
        );
        assert_eq!(lines[1], "");
        assert!(lines.contains(&"Total,,0,0,0,0,1.500,0,0.000"), "{csv}");
        assert!(
            lines.contains(&"\"'=HYPERLINK(\"\"http://evil\"\")\",1,2,0.250"),
            "{csv}"
        );
    }
}

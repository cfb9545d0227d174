//! The analyser's rules: plain functions of what a pantry holds, what the
//! forecast says, what is on order and who sells the product, on a given
//! day. No database and no clock, so each rule is tested on fixed figures.

use time::Date;

use super::model::*;
use crate::forecasts::model::{amount, Recommendation};
use crate::forecasts::service::days_label;
use crate::ids::{PantryId, PurchaseOrderId, SupplierItemId};
use crate::purchasing::drafting::{packs_for, Offer};

/// How far above the most the pantry should hold (stock and orders
/// together) counts as overstock.
const OVERSTOCK_FACTOR: f64 = 1.5;
/// A price change from a sync raises an issue from this share up.
pub const PRICE_THRESHOLD: f64 = 0.10;
/// And a rise is a warning from this share up (a drop stays a note).
const PRICE_WARNING: f64 = 0.25;

/// A line of an open order for the product at the pantry.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenLine {
    pub order_id: PurchaseOrderId,
    pub order_label: String,
    pub supplier_name: String,
    /// Only drafts can be changed from here.
    pub draft: bool,
    pub item_id: SupplierItemId,
    pub packs: i64,
    pub parts_per_pack: i64,
}

/// Another pantry of the organization that needs the product.
#[derive(Debug, Clone, PartialEq)]
pub struct Need {
    pub pantry_id: PantryId,
    pub pantry_name: String,
    /// What it should order, in the product's unit.
    pub quantity: f64,
}

/// Everything the rules know about one product at one pantry.
pub struct Facts<'a> {
    pub pantry_id: &'a str,
    pub pantry_name: &'a str,
    pub rec: &'a Recommendation,
    pub today: Date,
    /// The cheapest way to buy it, if anyone sells it.
    pub offer: Option<&'a Offer>,
    pub lines: &'a [OpenLine],
    /// The pantry of the organization that needs it most, if any does.
    pub need_elsewhere: Option<&'a Need>,
}

/// What a rule found: one issue, keyed so the same trouble is one issue.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub key: String,
    pub kind: IssueKind,
    pub severity: Severity,
    pub title: String,
    pub explanation: String,
    pub numbers: Vec<(String, String)>,
    pub proposal: Proposal,
}

/// The keys the rules for one product at one pantry may raise: an
/// evaluation closes the open ones it no longer finds.
pub fn keys(pantry: &str, product: &str) -> [String; 3] {
    [
        format!("supply:{pantry}:{product}"),
        format!("expiring:{pantry}:{product}"),
        format!("overstock:{pantry}:{product}"),
    ]
}

/// The first day the supplier takes an order (today or later) and the
/// day that order could arrive.
pub fn next_delivery(today: Date, offer: &Offer) -> (Date, Date) {
    let mut day = today;
    for _ in 0..7 {
        if offer.order_days.is_empty()
            || offer
                .order_days
                .contains(&day.weekday().number_from_monday())
        {
            break;
        }
        day = day.next_day().unwrap_or(day);
    }
    (day, day + time::Duration::days(offer.lead_time_days.max(0)))
}

fn label(today: Date, day: Date) -> String {
    days_label(today, (day - today).whole_days().max(0) as usize)
}

/// The rules for one product at one pantry.
pub fn evaluate(f: &Facts) -> Vec<Finding> {
    let mut found = Vec::new();
    let [supply, expiring, overstock] = keys(f.pantry_id, f.rec.product_id.as_str());
    let r = f.rec;
    let unit = r.unit;
    let scale = unit.scale() as f64;
    let product = &r.product_name;
    let pantry = f.pantry_name;
    let drafted = f.lines.iter().any(|l| l.draft);
    let mut numbers = vec![
        ("On hand".to_string(), amount(unit, r.on_hand)),
        (
            "Uses".to_string(),
            format!("{}/week", amount(unit, r.weekly_use)),
        ),
        ("Reorder point".to_string(), amount(unit, r.reorder_point)),
    ];
    if r.on_order > 0.0 {
        numbers.push(("On order".into(), amount(unit, r.on_order)));
    }
    let runs_out = r
        .runs_out
        .as_deref()
        .and_then(|d| crate::dates::parse(d, 1900..=2200).ok());
    if let Some(day) = runs_out {
        numbers.push(("Runs out".into(), label(f.today, day)));
    }

    // Supply: below the reorder point with nothing on order or drafted;
    // urgent when it runs out before the next possible delivery.
    if r.on_order <= 0.0 && !drafted && r.order_quantity > 0.0 && r.on_hand <= r.reorder_point {
        let needed = (r.order_quantity * scale).ceil() as i64;
        let mut numbers = numbers.clone();
        let (proposal, delivery, urgent) = match f.offer {
            Some(o) => {
                let packs = packs_for(needed, o.parts_per_pack);
                let quantity = amount(unit, (packs * o.parts_per_pack) as f64 / scale);
                let (order_day, arrives) = next_delivery(f.today, o);
                numbers.push((
                    "Next delivery".into(),
                    format!(
                        "{} from {} (order {}, {} day{} lead time)",
                        label(f.today, arrives),
                        o.supplier_name,
                        label(f.today, order_day),
                        o.lead_time_days,
                        if o.lead_time_days == 1 { "" } else { "s" }
                    ),
                ));
                numbers.push((
                    "Proposed".into(),
                    format!(
                        "{packs} pack{} of {} ({} each) = {quantity}",
                        if packs == 1 { "" } else { "s" },
                        o.sku,
                        amount(unit, o.parts_per_pack as f64 / scale)
                    ),
                ));
                (
                    Proposal::DraftOrder {
                        supplier_id: o.supplier_id.clone(),
                        supplier_name: o.supplier_name.clone(),
                        item_id: o.item_id.clone(),
                        sku: o.sku.clone(),
                        packs,
                        quantity: quantity.clone(),
                    },
                    Some((arrives, o.supplier_name.clone(), quantity)),
                    runs_out.is_some_and(|d| d < arrives),
                )
            }
            // Nobody sells it: the pantry's own lead time says how soon.
            None => (Proposal::Acknowledge, None, r.urgent),
        };
        let order_text = match (&proposal, &delivery) {
            (Proposal::DraftOrder { .. }, Some((_, supplier, quantity))) => {
                format!("an order of {quantity} from {supplier} is ready to draft")
            }
            _ => format!(
                "no supplier sells it in Larder; order about {} by hand",
                amount(unit, r.order_quantity)
            ),
        };
        let (kind, severity, title, explanation) = match (urgent, runs_out) {
            (true, Some(day)) => (
                IssueKind::Stockout,
                Severity::Urgent,
                format!("{product} will run out at {pantry} {}", on_day(f.today, day)),
                format!(
                    "{product} will run out at {pantry} {}{}; {order_text}.",
                    on_day(f.today, day),
                    match &delivery {
                        Some((arrives, supplier, _)) => format!(
                            ", before the next delivery from {supplier} could arrive ({})",
                            label(f.today, *arrives)
                        ),
                        None => ", before an order placed today could arrive".into(),
                    }
                ),
            ),
            _ => (
                IssueKind::Reorder,
                Severity::Warning,
                format!("{product} is below its reorder point at {pantry}"),
                format!(
                    "{pantry} has {} of {product}, at or below its reorder point of {}, and nothing is on order; {order_text}.",
                    amount(unit, r.on_hand),
                    amount(unit, r.reorder_point)
                ),
            ),
        };
        found.push(Finding {
            key: supply,
            kind,
            severity,
            title,
            explanation,
            numbers,
            proposal,
        });
    }

    // Expiring: take it off a draft, or send it where it is needed.
    if r.expiring > 0.0 {
        let parts = (r.expiring * scale).ceil() as i64;
        let mut numbers = numbers.clone();
        numbers.push(("Expires before use".into(), amount(unit, r.expiring)));
        let draft_line = f.lines.iter().find(|l| l.draft);
        let (proposal, advice) = if let Some(l) = draft_line {
            let fewer = packs_for(parts, l.parts_per_pack).min(l.packs);
            (
                Proposal::ReduceLine {
                    order_id: l.order_id.clone(),
                    order_label: l.order_label.clone(),
                    item_id: l.item_id.clone(),
                    from_packs: l.packs,
                    to_packs: l.packs - fewer,
                },
                format!(
                    "{} is still a draft: order {fewer} pack{} fewer.",
                    l.order_label,
                    if fewer == 1 { "" } else { "s" }
                ),
            )
        } else if let Some(n) = f.need_elsewhere {
            let q = r.expiring.min(n.quantity);
            let typed = format_quantity(q, unit);
            (
                Proposal::Transfer {
                    to_pantry_id: n.pantry_id.clone(),
                    to_pantry_name: n.pantry_name.clone(),
                    quantity: typed,
                    quantity_text: amount(unit, q),
                },
                format!(
                    "{} needs {} and would use it first.",
                    n.pantry_name,
                    amount(unit, n.quantity)
                ),
            )
        } else {
            (
                Proposal::Acknowledge,
                "Hand it out first, or offer it to a neighbour.".to_string(),
            )
        };
        found.push(Finding {
            key: expiring,
            kind: IssueKind::Expiring,
            severity: Severity::Warning,
            title: format!(
                "{} of {product} will expire at {pantry} before it is used",
                amount(unit, r.expiring)
            ),
            explanation: format!(
                "At {} a week, {pantry} will not use {} of its {product} before the best-before date. {advice}",
                amount(unit, r.weekly_use),
                amount(unit, r.expiring)
            ),
            numbers,
            proposal,
        });
    }

    // Overstock: far more than the pantry holds at most, and more coming.
    let total = r.on_hand + r.on_order;
    if r.max_stock > 0.0 && total > r.max_stock * OVERSTOCK_FACTOR && !f.lines.is_empty() {
        let surplus = total - r.max_stock;
        let parts = (surplus * scale).floor() as i64;
        let mut numbers = numbers.clone();
        numbers.push(("Most it should hold".into(), amount(unit, r.max_stock)));
        let line = f.lines.iter().find(|l| l.draft).or(f.lines.first());
        let (proposal, advice) = match line {
            Some(l) if l.draft && parts >= l.parts_per_pack => {
                let fewer = (parts / l.parts_per_pack).min(l.packs);
                (
                    Proposal::ReduceLine {
                        order_id: l.order_id.clone(),
                        order_label: l.order_label.clone(),
                        item_id: l.item_id.clone(),
                        from_packs: l.packs,
                        to_packs: l.packs - fewer,
                    },
                    format!("{} is still a draft: order less.", l.order_label),
                )
            }
            Some(l) => (
                Proposal::Acknowledge,
                format!(
                    "{} is already with {}: ask them to postpone it.",
                    l.order_label, l.supplier_name
                ),
            ),
            None => (Proposal::Acknowledge, String::new()),
        };
        if parts > 0 {
            found.push(Finding {
                key: overstock,
                kind: IssueKind::Overstock,
                severity: Severity::Info,
                title: format!("{product} is overstocked at {pantry}"),
                explanation: format!(
                    "{pantry} holds and has on order {} of {product}, {} more than the most it should hold. {advice}",
                    amount(unit, total),
                    amount(unit, surplus)
                ),
                numbers,
                proposal,
            });
        }
    }
    found
}

/// "on Thursday", "today", "tomorrow", "on Thu 10 Dec".
fn on_day(today: Date, day: Date) -> String {
    let l = label(today, day);
    if l == "today" || l == "tomorrow" {
        l
    } else {
        format!("on {l}")
    }
}

/// A quantity as a movement form takes it: whole for counted units.
fn format_quantity(q: f64, unit: crate::catalog::model::Unit) -> String {
    match unit {
        crate::catalog::model::Unit::Each | crate::catalog::model::Unit::Pack => {
            format!("{}", q.floor().max(0.0))
        }
        _ => format!("{:.2}", (q * 100.0).floor() / 100.0),
    }
}

/// A supplier's price change after a sync, when it is large enough.
pub fn price_change(
    supplier: &str,
    item: &str,
    sku: &str,
    description: &str,
    old_cents: i64,
    new_cents: i64,
) -> Option<Finding> {
    if old_cents <= 0 {
        return None;
    }
    let share = (new_cents - old_cents) as f64 / old_cents as f64;
    if share.abs() < PRICE_THRESHOLD {
        return None;
    }
    let money = crate::purchasing::model::money;
    let what = if description.is_empty() {
        sku.to_string()
    } else {
        format!("{sku} {description}")
    };
    let verb = if share > 0.0 { "raised" } else { "lowered" };
    Some(Finding {
        key: format!("price:{item}"),
        kind: IssueKind::PriceChange,
        severity: if share >= PRICE_WARNING {
            Severity::Warning
        } else {
            Severity::Info
        },
        title: format!(
            "{supplier} {verb} the price of {what} by {:.0}%",
            share.abs() * 100.0
        ),
        explanation: format!(
            "A pack of {what} from {supplier} now costs {} (was {}). Drafts use the cheapest supplier, so check whether another one is now better.",
            money(new_cents),
            money(old_cents)
        ),
        numbers: vec![
            ("Was".into(), money(old_cents)),
            ("Now".into(), money(new_cents)),
            ("Change".into(), format!("{:+.0}%", share * 100.0)),
        ],
        proposal: Proposal::Acknowledge,
    })
}

/// Events one consumer set aside in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedCount {
    pub consumer: String,
    pub events: i64,
}

/// What a consumer does, in words an admin knows.
fn consumer_words(name: &str) -> &str {
    match name {
        "stock-analyser" => "the stock issue analyser",
        "notifier" => "notifications",
        "daily-flows" => "the daily reports",
        "forecast-refresh" => "forecasts",
        "stock-cache" => "the stock figures",
        "place-caches" => "the list of places",
        "photo-analysis" => "photo analysis",
        other => other,
    }
}

/// Events a consumer kept failing on and set aside: the organization's
/// admins should retry them once the cause is mended.
pub fn parked(organization: &str, counts: &[ParkedCount], last_error: &str) -> Option<Finding> {
    let total: i64 = counts.iter().map(|c| c.events).sum();
    if total == 0 {
        return None;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|c| format!("{} ({})", consumer_words(&c.consumer), c.events))
        .collect();
    let plural = |n: i64| if n == 1 { "" } else { "s" };
    Some(Finding {
        key: format!("parked:{organization}"),
        kind: IssueKind::ParkedEvents,
        severity: Severity::Warning,
        title: format!(
            "{total} event{} could not be processed and {} set aside",
            plural(total),
            if total == 1 { "was" } else { "were" }
        ),
        explanation: format!(
            "Larder kept failing to process {} and set {} aside: {}. What they record is kept, but what those parts of Larder would have done with them waits until they are retried. The last failure: {}",
            if total == 1 { "an event" } else { "some events" },
            if total == 1 { "it" } else { "them" },
            parts.join(", "),
            last_error.trim()
        ),
        numbers: vec![
            ("Set aside".into(), total.to_string()),
            ("Where".into(), parts.join(", ")),
        ],
        proposal: Proposal::RetryParked { events: total },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::model::Unit;
    use crate::ids::{ProductId, SupplierId};

    /// Thursday 3 December 2026.
    fn today() -> Date {
        Date::from_calendar_date(2026, time::Month::December, 3).unwrap()
    }

    fn rice(on_hand: f64, runs_out_in: Option<i64>) -> Recommendation {
        Recommendation {
            product_id: ProductId::from_stored("p-rice".into()),
            product_name: "Rice".into(),
            unit: Unit::Kg,
            on_hand,
            expiring: 0.0,
            on_order: 0.0,
            weekly_use: 41.0,
            safety_stock: 10.0,
            reorder_point: 45.0,
            max_stock: 90.0,
            order_quantity: (90.0 - on_hand).max(0.0),
            order_by: None,
            order_by_label: None,
            runs_out: runs_out_in.map(|d| (today() + time::Duration::days(d)).to_string()),
            runs_out_label: None,
            urgent: false,
            reason: String::new(),
        }
    }

    fn metro(lead: i64, days: &[u8]) -> Offer {
        Offer {
            item_id: SupplierItemId::from_stored("i-rice".into()),
            supplier_id: SupplierId::from_stored("s-metro".into()),
            supplier_name: "Metro".into(),
            product_id: "p-rice".into(),
            sku: "RC-10".into(),
            parts_per_pack: 10_000,
            price_cents: Some(1200),
            lead_time_days: lead,
            order_days: days.to_vec(),
        }
    }

    fn facts<'a>(
        rec: &'a Recommendation,
        offer: Option<&'a Offer>,
        lines: &'a [OpenLine],
        need: Option<&'a Need>,
    ) -> Facts<'a> {
        Facts {
            pantry_id: "north",
            pantry_name: "North pantry",
            rec,
            today: today(),
            offer,
            lines,
            need_elsewhere: need,
        }
    }

    #[test]
    fn the_next_delivery_waits_for_an_order_day() {
        // Orders on Mondays (1), four days to arrive: Thursday → Monday 7th → Friday 11th.
        let (order, arrives) = next_delivery(today(), &metro(4, &[1]));
        assert_eq!((order.day(), arrives.day()), (7, 11));
        // Any day: today, then the lead time.
        let (order, arrives) = next_delivery(today(), &metro(2, &[]));
        assert_eq!((order.day(), arrives.day()), (3, 5));
        // Today is an order day (Thursday = 4).
        let (order, _) = next_delivery(today(), &metro(2, &[1, 4]));
        assert_eq!(order.day(), 3);
    }

    #[test]
    fn running_out_before_the_next_delivery_is_urgent_with_an_order_proposed() {
        let r = rice(12.0, Some(3));
        let offer = metro(4, &[1]);
        let found = evaluate(&facts(&r, Some(&offer), &[], None));
        assert_eq!(found.len(), 1, "{found:?}");
        let f = &found[0];
        assert_eq!(
            (f.kind, f.severity),
            (IssueKind::Stockout, Severity::Urgent)
        );
        assert_eq!(f.key, "supply:north:p-rice");
        assert_eq!(f.title, "Rice will run out at North pantry on Sunday");
        assert!(
            f.explanation
                .contains("before the next delivery from Metro could arrive (Fri 11 Dec)"),
            "{}",
            f.explanation
        );
        assert!(
            f.explanation
                .contains("an order of 80 kg from Metro is ready to draft"),
            "{}",
            f.explanation
        );
        // 78 kg needed, in 10 kg packs: 8.
        assert_eq!(
            f.proposal,
            Proposal::DraftOrder {
                supplier_id: SupplierId::from_stored("s-metro".into()),
                supplier_name: "Metro".into(),
                item_id: SupplierItemId::from_stored("i-rice".into()),
                sku: "RC-10".into(),
                packs: 8,
                quantity: "80 kg".into(),
            }
        );
        assert!(
            f.numbers.contains(&("Runs out".into(), "Sunday".into())),
            "{:?}",
            f.numbers
        );
    }

    #[test]
    fn below_the_reorder_point_with_time_to_spare_is_a_warning() {
        // Runs out in 10 days; a delivery takes 2.
        let r = rice(40.0, Some(10));
        let offer = metro(2, &[]);
        let found = evaluate(&facts(&r, Some(&offer), &[], None));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].severity),
            (IssueKind::Reorder, Severity::Warning)
        );
        assert_eq!(
            found[0].title,
            "Rice is below its reorder point at North pantry"
        );
        // Nobody sells it: still raised, with nothing to draft.
        let found = evaluate(&facts(&r, None, &[], None));
        assert_eq!(found[0].proposal, Proposal::Acknowledge);
        assert!(
            found[0].explanation.contains("no supplier sells it"),
            "{}",
            found[0].explanation
        );
    }

    #[test]
    fn nothing_is_raised_when_stock_is_fine_or_already_ordered() {
        let offer = metro(2, &[]);
        // Above the reorder point.
        let r = rice(60.0, None);
        assert!(evaluate(&facts(&r, Some(&offer), &[], None)).is_empty());
        // Low, but an order is on the way.
        let mut r = rice(12.0, Some(3));
        r.on_order = 80.0;
        assert!(evaluate(&facts(&r, Some(&offer), &[], None)).is_empty());
        // Low, but a draft already holds it.
        let r = rice(12.0, Some(3));
        let line = OpenLine {
            order_id: PurchaseOrderId::from_stored("o1".into()),
            order_label: "PO-0001".into(),
            supplier_name: "Metro".into(),
            draft: true,
            item_id: SupplierItemId::from_stored("i-rice".into()),
            packs: 8,
            parts_per_pack: 10_000,
        };
        assert!(evaluate(&facts(&r, Some(&offer), &[line], None)).is_empty());
    }

    #[test]
    fn expiring_stock_comes_off_a_draft_or_goes_where_it_is_needed() {
        let mut r = rice(60.0, None);
        r.expiring = 15.0;
        let line = OpenLine {
            order_id: PurchaseOrderId::from_stored("o1".into()),
            order_label: "PO-0001".into(),
            supplier_name: "Metro".into(),
            draft: true,
            item_id: SupplierItemId::from_stored("i-rice".into()),
            packs: 5,
            parts_per_pack: 10_000,
        };
        let found = evaluate(&facts(&r, None, std::slice::from_ref(&line), None));
        let f = found
            .iter()
            .find(|f| f.kind == IssueKind::Expiring)
            .unwrap();
        assert_eq!(
            f.title,
            "15 kg of Rice will expire at North pantry before it is used"
        );
        // 15 kg is two 10 kg packs fewer.
        assert!(
            matches!(
                f.proposal,
                Proposal::ReduceLine {
                    from_packs: 5,
                    to_packs: 3,
                    ..
                }
            ),
            "{:?}",
            f.proposal
        );

        let need = Need {
            pantry_id: PantryId::from_stored("south".into()),
            pantry_name: "South pantry".into(),
            quantity: 9.5,
        };
        let found = evaluate(&facts(&r, None, &[], Some(&need)));
        let f = found
            .iter()
            .find(|f| f.kind == IssueKind::Expiring)
            .unwrap();
        assert_eq!(
            f.proposal,
            Proposal::Transfer {
                to_pantry_id: PantryId::from_stored("south".into()),
                to_pantry_name: "South pantry".into(),
                quantity: "9.50".into(),
                quantity_text: "9.5 kg".into(),
            }
        );
        let found = evaluate(&facts(&r, None, &[], None));
        assert_eq!(found[0].proposal, Proposal::Acknowledge);
    }

    #[test]
    fn overstock_with_more_on_order_proposes_ordering_less() {
        let mut r = rice(120.0, None);
        r.on_order = 50.0;
        r.order_quantity = 0.0;
        let submitted = OpenLine {
            order_id: PurchaseOrderId::from_stored("o1".into()),
            order_label: "PO-0002".into(),
            supplier_name: "Metro".into(),
            draft: false,
            item_id: SupplierItemId::from_stored("i-rice".into()),
            packs: 5,
            parts_per_pack: 10_000,
        };
        let found = evaluate(&facts(&r, None, std::slice::from_ref(&submitted), None));
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].kind, found[0].severity),
            (IssueKind::Overstock, Severity::Info)
        );
        assert!(
            found[0].explanation.contains("ask them to postpone it"),
            "{}",
            found[0].explanation
        );
        let draft = OpenLine {
            draft: true,
            ..submitted
        };
        let found = evaluate(&facts(&r, None, &[draft], None));
        // 170 held and ordered, 90 at most: 80 kg over, all five packs off.
        assert!(
            matches!(found[0].proposal, Proposal::ReduceLine { to_packs: 0, .. }),
            "{:?}",
            found[0].proposal
        );
        // No order open: a full shelf alone is not an issue.
        assert!(evaluate(&facts(&r, None, &[], None)).is_empty());
    }

    #[test]
    fn only_price_changes_past_the_threshold_are_raised() {
        assert!(price_change("Metro", "i1", "BN-24", "Beans", 1840, 1900).is_none());
        let up = price_change("Metro", "i1", "BN-24", "Beans", 1840, 2100).unwrap();
        assert_eq!(up.title, "Metro raised the price of BN-24 Beans by 14%");
        assert_eq!(up.severity, Severity::Info);
        let down = price_change("Metro", "i1", "BN-24", "", 2000, 1000).unwrap();
        assert_eq!(
            (down.title.as_str(), down.severity),
            ("Metro lowered the price of BN-24 by 50%", Severity::Info)
        );
        assert!(price_change("Metro", "i1", "BN-24", "", 0, 1000).is_none());
    }

    #[test]
    fn parked_events_are_one_issue_per_organization_until_none_are_left() {
        assert_eq!(parked("org1", &[], "x"), None);
        let counts = [
            ParkedCount {
                consumer: "daily-flows".into(),
                events: 2,
            },
            ParkedCount {
                consumer: "notifier".into(),
                events: 1,
            },
        ];
        let f = parked("org1", &counts, " no such table: daily_flows ").unwrap();
        assert_eq!(f.key, "parked:org1");
        assert_eq!(f.kind, IssueKind::ParkedEvents);
        assert_eq!(
            f.title,
            "3 events could not be processed and were set aside"
        );
        assert!(
            f.explanation
                .contains("the daily reports (2), notifications (1)"),
            "{}",
            f.explanation
        );
        assert!(f
            .explanation
            .ends_with("The last failure: no such table: daily_flows"));
        assert_eq!(f.proposal, Proposal::RetryParked { events: 3 });
        assert_eq!(f.proposal.action_label(), "Retry the 3 events");
        let one = parked("org1", &counts[1..], "boom").unwrap();
        assert_eq!(
            one.title,
            "1 event could not be processed and was set aside"
        );
    }
}

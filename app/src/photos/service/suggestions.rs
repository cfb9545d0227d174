//! The lines an open intake's photos suggest: barcodes first, then what the
//! photos look like (the matching set), then what the vision model named,
//! each merged in without overriding what came before.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::catalog::model::{Product, Unit};
use crate::catalog::service as catalog;
use crate::db::{Db, Sql};
use crate::error::AppResult;
use crate::ids::{PhotoId, ProductId};
use crate::photos::items;
use crate::photos::model::*;

/// The organization's products with these GTINs (14-digit), by GTIN.
async fn products_by_gtin(
    db: &Db,
    organization: &str,
    gtins: &[&str],
) -> AppResult<BTreeMap<String, Product>> {
    let mut out = BTreeMap::new();
    if gtins.is_empty() {
        return Ok(out);
    }
    let mut sql = Sql::default();
    sql.push(&format!(
        "select b.gtin as matched_gtin, {} from product_barcodes b join products p on p.id = b.product_id \
         where p.archived_at is null and b.organization_id = ",
        catalog::product_columns("p")
    ));
    sql.text(organization);
    sql.push(" and b.gtin in (");
    for (i, g) in gtins.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.text(*g);
    }
    sql.push(")");
    for r in sql.query().fetch_all(db.pool()).await? {
        let gtin: String = r.try_get("matched_gtin")?;
        out.insert(gtin, catalog::product_from(&r, Vec::new())?);
    }
    Ok(out)
}

/// "1", "1 and 3", "1, 2 and 4".
fn numbers(list: &[i64]) -> String {
    let s: Vec<String> = list.iter().map(|n| n.to_string()).collect();
    match s.len() {
        0 => String::new(),
        1 => s[0].clone(),
        n => format!("{} and {}", s[..n - 1].join(", "), s[n - 1]),
    }
}

/// The printed date read with most confidence in a photo.
fn best_date(p: &PhotoView) -> Option<&FindingView> {
    p.findings
        .iter()
        .filter(|f| f.kind == "date" && f.best_before.is_some())
        .max_by_key(|f| f.confidence)
}

/// The lines the photos suggest: each barcode seen counts one unit of its
/// product (summed over photos: each photo shows other items); a GS1 date
/// read with it becomes the line's best-before, else a printed date read
/// in a photo that shows that product alone, or in the photo right after
/// one that does (the barcode side, then the date side). Barcodes the
/// catalog does not know come last, without a product, so staff can
/// create it.
pub(super) async fn suggest(
    db: &Db,
    organization: &str,
    photos: &[PhotoView],
) -> AppResult<Vec<Suggestion>> {
    struct Seen {
        count: i64,
        photos: Vec<i64>,
        photo_ids: Vec<PhotoId>,
        format: String,
        value: String,
        best_before: Option<String>,
    }
    let mut seen: BTreeMap<String, Seen> = BTreeMap::new();
    for p in photos {
        for f in p.findings.iter().filter(|f| f.kind == "barcode") {
            let Some(gtin) = &f.gtin else { continue };
            let s = seen.entry(gtin.clone()).or_insert_with(|| Seen {
                count: 0,
                photos: Vec::new(),
                photo_ids: Vec::new(),
                format: f.format.clone(),
                value: f.value.clone(),
                best_before: None,
            });
            s.count += 1;
            if !s.photos.contains(&p.number) {
                s.photos.push(p.number);
                s.photo_ids.push(p.id.clone());
            }
            if s.best_before.is_none() {
                s.best_before = f.best_before.clone();
            }
        }
    }
    // Printed dates that belong to one GTIN: a photo showing only it, or
    // a barcode-less photo right after such a photo.
    let mut printed: BTreeMap<String, (String, i64, i64)> = BTreeMap::new();
    let alone = |p: &PhotoView| -> Option<String> {
        let mut g: Vec<&String> = p
            .findings
            .iter()
            .filter(|f| f.kind == "barcode")
            .filter_map(|f| f.gtin.as_ref())
            .collect();
        g.sort();
        g.dedup();
        (g.len() == 1).then(|| g[0].clone())
    };
    for (i, p) in photos.iter().enumerate() {
        let Some(date) = best_date(p) else { continue };
        let has_barcodes = p.findings.iter().any(|f| f.kind == "barcode");
        let owner = if has_barcodes {
            alone(p)
        } else {
            i.checked_sub(1).and_then(|j| alone(&photos[j]))
        };
        if let Some(gtin) = owner {
            let better = printed
                .get(&gtin)
                .is_none_or(|(_, c, _)| date.confidence > *c);
            if better {
                printed.insert(
                    gtin,
                    (
                        date.best_before.clone().expect("filtered"),
                        date.confidence,
                        p.number,
                    ),
                );
            }
        }
    }
    let gtins: Vec<&str> = seen.keys().map(String::as_str).collect();
    let known = products_by_gtin(db, organization, &gtins).await?;
    // Two GTINs of one product make one line.
    let mut lines: BTreeMap<String, Suggestion> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (gtin, s) in &seen {
        let mut evidence = format!(
            "{} {} in photo{} {}",
            s.format,
            s.value,
            if s.photos.len() == 1 { "" } else { "s" },
            numbers(&s.photos)
        );
        let mut best_before = s.best_before.clone();
        let mut date_confidence = 100;
        if best_before.is_none() {
            if let Some((date, confidence, number)) = printed.get(gtin) {
                evidence.push_str(&format!(
                    "; best before {date} read in photo {number} ({confidence}% sure)"
                ));
                best_before = Some(date.clone());
                date_confidence = *confidence;
            }
        }
        match known.get(gtin) {
            Some(product) => {
                let line = lines
                    .entry(product.id.to_string())
                    .or_insert_with(|| Suggestion {
                        product_id: Some(product.id.clone()),
                        product_name: Some(product.name.clone()),
                        unit: Some(product.unit.as_str().into()),
                        gtin: Some(gtin.clone()),
                        quantity: String::new(),
                        best_before: None,
                        confidence: 95,
                        evidence: String::new(),
                        photos: Vec::new(),
                    });
                for id in &s.photo_ids {
                    if !line.photos.contains(id) {
                        line.photos.push(id.clone());
                    }
                }
                // Counted items are units of each and pack; a weighed
                // product's barcode says nothing of its weight.
                let count = match product.unit {
                    Unit::Each | Unit::Pack => line.quantity.parse::<i64>().unwrap_or(0) + s.count,
                    _ => 0,
                };
                if count > 0 {
                    line.quantity = count.to_string();
                } else {
                    line.confidence = line.confidence.min(60);
                }
                if line.best_before.is_none() && best_before.is_some() {
                    line.best_before = best_before;
                    line.confidence = line.confidence.min(date_confidence);
                }
                if !line.evidence.is_empty() {
                    line.evidence.push_str("; ");
                }
                line.evidence.push_str(&evidence);
            }
            None => unknown.push(Suggestion {
                product_id: None,
                product_name: None,
                unit: None,
                gtin: Some(gtin.clone()),
                quantity: s.count.to_string(),
                best_before,
                confidence: 95,
                evidence: format!("{evidence}; not in the catalog"),
                photos: s.photo_ids.clone(),
            }),
        }
    }
    suggest_from_matches(db, organization, photos, &known, &mut lines).await?;
    suggest_from_llm(db, organization, photos, &mut lines, &mut unknown).await?;
    let mut out: Vec<Suggestion> = lines.into_values().collect();
    out.sort_by(|a, b| a.product_name.cmp(&b.product_name));
    out.extend(unknown);
    Ok(out)
}

/// Lines for photos no known barcode explains, from what they look like:
/// a photo whose nearest product in the matching set is near enough counts
/// one of it (staff correct the count). A photo that looks like a product
/// already counted from its barcode is taken for another side of it, and
/// only adds its date.
async fn suggest_from_matches(
    db: &Db,
    organization: &str,
    photos: &[PhotoView],
    by_gtin: &BTreeMap<String, Product>,
    lines: &mut BTreeMap<String, Suggestion>,
) -> AppResult<()> {
    let threshold = (items::SUGGEST_FROM * 100.0).round() as i64;
    let unexplained: Vec<&PhotoView> = photos
        .iter()
        .filter(|p| {
            !p.findings.iter().any(|f| {
                f.kind == "barcode" && f.gtin.as_ref().is_some_and(|g| by_gtin.contains_key(g))
            })
        })
        .filter(|p| p.matches.first().is_some_and(|m| m.similarity >= threshold))
        .collect();
    if unexplained.is_empty() {
        return Ok(());
    }
    let ids: Vec<&ProductId> = unexplained
        .iter()
        .map(|p| &p.matches[0].product_id)
        .collect();
    let products = catalog::products_with_ids(db, organization, &ids).await?;
    for p in unexplained {
        let best = &p.matches[0];
        let Some(product) = products.get(&best.product_id).filter(|p| !p.archived) else {
            continue;
        };
        let runner_up = p.matches.get(1).map(|m| m.similarity as f32 / 100.0);
        let confidence = items::confidence(best.similarity as f32 / 100.0, runner_up);
        let date = best_date(p);
        let mut evidence = format!(
            "Photo {} looks like confirmed photos of {} ({}% alike)",
            p.number, product.name, best.similarity
        );
        if let Some(d) = date {
            evidence.push_str(&format!(
                "; best before {} read in it ({}% sure)",
                d.best_before.clone().unwrap_or_default(),
                d.confidence
            ));
        }
        let counted = matches!(product.unit, Unit::Each | Unit::Pack);
        let line = lines
            .entry(product.id.to_string())
            .or_insert_with(|| Suggestion {
                product_id: Some(product.id.clone()),
                product_name: Some(product.name.clone()),
                unit: Some(product.unit.as_str().into()),
                gtin: None,
                quantity: String::new(),
                best_before: None,
                confidence,
                evidence: String::new(),
                photos: Vec::new(),
            });
        let from_barcode = line.gtin.is_some();
        if !from_barcode {
            if counted {
                line.quantity = (line.quantity.parse::<i64>().unwrap_or(0) + 1).to_string();
            }
            line.confidence = line.confidence.min(if counted {
                confidence
            } else {
                confidence.min(60)
            });
        }
        if line.best_before.is_none() {
            if let Some(d) = date {
                line.best_before = d.best_before.clone();
                line.confidence = line.confidence.min(d.confidence);
            }
        }
        if !line.evidence.is_empty() {
            line.evidence.push_str("; ");
        }
        line.evidence.push_str(&evidence);
        if !line.photos.contains(&p.id) {
            line.photos.push(p.id.clone());
        }
    }
    Ok(())
}

/// What the vision model named, merged in last and never over a reading:
/// an item whose every word is in a catalog product's name is that
/// product; a product already on a line (from a barcode or a match) keeps
/// its count and only gains the model's as evidence, and its date if it
/// had none; a new one gets a line at the model's count, less sure than
/// any reading. Items the catalog has no product for are listed for staff
/// to add.
async fn suggest_from_llm(
    db: &Db,
    organization: &str,
    photos: &[PhotoView],
    lines: &mut BTreeMap<String, Suggestion>,
    unknown: &mut Vec<Suggestion>,
) -> AppResult<()> {
    if !photos
        .iter()
        .any(|p| p.findings.iter().any(|f| f.kind == "llm"))
    {
        return Ok(());
    }
    let rows = sqlx::query(
        "select id, name, unit from products where organization_id = $1 and archived_at is null order by name",
    )
    .bind(organization)
    .fetch_all(db.pool())
    .await?;
    let mut products = Vec::with_capacity(rows.len());
    for r in &rows {
        let unit = Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?;
        products.push((
            ProductId::from_stored(r.try_get("id")?),
            r.try_get::<String, _>("name")?,
            unit,
        ));
    }
    // Lines this opened: their counts are the model's, summed over photos.
    let mut opened: Vec<ProductId> = Vec::new();
    for p in photos {
        for f in p.findings.iter().filter(|f| f.kind == "llm") {
            let count = f.quantity.unwrap_or(1);
            let said = format!(
                "the vision model saw {count} × {} in photo {}",
                f.value, p.number
            );
            let product = products
                .iter()
                .filter(|(_, name, _)| crate::photos::llm::name_match(name, &f.value) >= 0.999)
                .min_by_key(|(_, name, _)| name.len());
            let Some((id, name, unit)) = product else {
                match unknown.iter_mut().find(|u| {
                    u.gtin.is_none()
                        && u.product_name
                            .as_deref()
                            .is_some_and(|n| n.eq_ignore_ascii_case(&f.value))
                }) {
                    Some(u) => {
                        u.quantity = (u.quantity.parse::<i64>().unwrap_or(0) + count).to_string();
                        u.evidence.push_str(&format!("; {said}"));
                    }
                    None => unknown.push(Suggestion {
                        product_id: None,
                        product_name: Some(f.value.clone()),
                        unit: None,
                        gtin: None,
                        quantity: count.to_string(),
                        best_before: f.best_before.clone(),
                        confidence: f.confidence,
                        evidence: format!("{said}; not in the catalog"),
                        photos: vec![p.id.clone()],
                    }),
                }
                continue;
            };
            let counted = matches!(unit, Unit::Each | Unit::Pack);
            if !lines.contains_key(id.as_str()) {
                opened.push(id.clone());
            }
            let line = lines.entry(id.to_string()).or_insert_with(|| Suggestion {
                product_id: Some(id.clone()),
                product_name: Some(name.clone()),
                unit: Some(unit.as_str().into()),
                gtin: None,
                quantity: String::new(),
                best_before: None,
                confidence: f.confidence,
                evidence: String::new(),
                photos: Vec::new(),
            });
            if counted && opened.contains(id) {
                line.quantity = (line.quantity.parse::<i64>().unwrap_or(0) + count).to_string();
            }
            if line.best_before.is_none() && f.best_before.is_some() {
                line.best_before = f.best_before.clone();
                line.confidence = line.confidence.min(f.confidence);
            }
            if line.evidence.is_empty() {
                let mut said = said.clone();
                said[..1].make_ascii_uppercase();
                line.evidence = said;
            } else {
                line.evidence.push_str(&format!("; {said}"));
            }
            if !line.photos.contains(&p.id) {
                line.photos.push(p.id.clone());
            }
        }
    }
    Ok(())
}

//! What the intake pages show: a pantry's intakes, and one intake with its
//! photos, their findings and matches, and its suggested or posted lines.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::auth::model::Role;
use crate::auth::service::Caller;
use crate::catalog::model::Unit;
use crate::catalog::service as catalog;
use crate::db::Db;
use crate::error::AppResult;
use crate::ids::{IntakeId, PantryId, PhotoId, ProductId};
use crate::inventory::service as inventory;
use crate::photos::model::*;
use crate::state::AppState;

use super::intake_for;
use super::suggestions::suggest;

/// A pantry's latest intakes.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn intakes(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
) -> AppResult<Vec<IntakeListItem>> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Staff, "pantry")?;
    let zone = crate::zones::Zone::stored(&header.time_zone);
    let rows = sqlx::query(
        "select i.id, i.status, i.created_at, i.donor, \
         (select count(*) from photos p where p.intake_id = i.id) as photos \
         from intakes i where i.pantry_id = $1 order by i.created_at desc limit 20",
    )
    .bind(pantry.as_str())
    .fetch_all(state.db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(IntakeListItem {
                id: IntakeId::from_stored(r.try_get("id")?),
                status: r.try_get("status")?,
                created_at: zone.format(r.try_get("created_at")?),
                photos: r.try_get("photos")?,
                donor: r.try_get("donor")?,
            })
        })
        .collect()
}

/// An intake with its photos, what was found in them, and the lines
/// suggested from that (or, once confirmed, what was posted).
#[tracing::instrument(level = "debug", skip_all)]
pub async fn intake(state: &AppState, caller: &Caller, id: &IntakeId) -> AppResult<IntakeView> {
    let (_, header) = intake_for(state, caller, id, Role::Staff).await?;
    let db = &state.db;
    let i = sqlx::query(
        "select i.donor, i.status, i.created_at, i.confirmed_at, u.display_name \
         from intakes i join users u on u.id = i.created_by where i.id = $1",
    )
    .bind(id.as_str())
    .fetch_one(db.pool())
    .await?;
    let photos = photos_of(db, header.organization_id.as_str(), id).await?;
    let zone = crate::zones::Zone::stored(&header.time_zone);
    let status: String = i.try_get("status")?;
    let confirmed = if status == "confirmed" {
        confirmed_lines(db, id).await?
    } else {
        Vec::new()
    };
    let suggestions = if status == "open" {
        suggest(db, header.organization_id.as_str(), &photos).await?
    } else {
        Vec::new()
    };
    Ok(IntakeView {
        id: id.clone(),
        organization_id: header.organization_id.clone(),
        organization_name: header.organization_name.clone(),
        campus_name: header.campus_name.clone(),
        pantry_id: header.id.clone(),
        pantry_name: header.name.clone(),
        donor: i.try_get("donor")?,
        status,
        created_at: zone.format(i.try_get("created_at")?),
        created_by: i.try_get("display_name")?,
        confirmed_at: i
            .try_get::<Option<i64>, _>("confirmed_at")?
            .map(|t| zone.format(t)),
        settled: photos
            .iter()
            .all(|p| matches!(p.status, AnalysisStatus::Done | AnalysisStatus::Failed)),
        photos,
        suggestions,
        confirmed,
    })
}

async fn photos_of(db: &Db, organization: &str, intake: &IntakeId) -> AppResult<Vec<PhotoView>> {
    let rows = sqlx::query(
        "select id, number, bytes, width, height, status, stage, error from photos \
         where intake_id = $1 order by number",
    )
    .bind(intake.as_str())
    .fetch_all(db.pool())
    .await?;
    let findings = sqlx::query(
        "select f.photo_id, f.kind, f.format, f.value, f.gtin, f.best_before, f.confidence, f.quantity \
         from photo_findings f join photos p on p.id = f.photo_id where p.intake_id = $1 \
         order by f.photo_id, f.ordinal",
    )
    .bind(intake.as_str())
    .fetch_all(db.pool())
    .await?;
    let mut by_photo: BTreeMap<String, Vec<FindingView>> = BTreeMap::new();
    for f in &findings {
        by_photo
            .entry(f.try_get("photo_id")?)
            .or_default()
            .push(FindingView {
                kind: f.try_get("kind")?,
                format: f.try_get("format")?,
                value: f.try_get("value")?,
                gtin: f.try_get("gtin")?,
                best_before: f.try_get("best_before")?,
                confidence: f.try_get("confidence")?,
                quantity: f.try_get("quantity")?,
            });
    }
    // Matches name products; one that was archived since is left out.
    let matched: Vec<ProductId> = by_photo
        .values()
        .flatten()
        .filter(|f| f.kind == "match")
        .map(|f| ProductId::from_stored(f.value.clone()))
        .collect();
    let refs: Vec<&ProductId> = matched.iter().collect();
    let products = catalog::products_with_ids(db, organization, &refs).await?;
    rows.iter()
        .map(|r| {
            let id: String = r.try_get("id")?;
            let findings = by_photo.remove(&id).unwrap_or_default();
            let matches = findings
                .iter()
                .filter(|f| f.kind == "match")
                .filter_map(|f| {
                    let product = products.get(&ProductId::from_stored(f.value.clone()))?;
                    (!product.archived).then(|| MatchView {
                        product_id: product.id.clone(),
                        product_name: product.name.clone(),
                        similarity: f.confidence,
                    })
                })
                .collect();
            Ok(PhotoView {
                thumbnail_url: format!("/photos/{id}/thumbnail.jpg"),
                findings,
                matches,
                id: PhotoId::from_stored(id),
                number: r.try_get("number")?,
                bytes: r.try_get("bytes")?,
                width: r.try_get("width")?,
                height: r.try_get("height")?,
                status: AnalysisStatus::parse(&r.try_get::<String, _>("status")?),
                stage: r.try_get("stage")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}

pub(super) async fn confirmed_lines(db: &Db, intake: &IntakeId) -> AppResult<Vec<ConfirmedLine>> {
    let rows = sqlx::query(
        "select l.product_id, p.name, p.unit, l.quantity, l.best_before from intake_lines l \
         join products p on p.id = l.product_id where l.intake_id = $1 order by p.name, l.best_before",
    )
    .bind(intake.as_str())
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let unit = Unit::parse(&r.try_get::<String, _>("unit")?, "unit")?;
            Ok(ConfirmedLine {
                product_id: ProductId::from_stored(r.try_get("product_id")?),
                product_name: r.try_get("name")?,
                quantity: unit.format(r.try_get("quantity")?),
                best_before: r.try_get("best_before")?,
            })
        })
        .collect()
}

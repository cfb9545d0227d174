//! Intakes and their photos: opening an intake, checking and storing an
//! upload, what the page shows (photos, findings, suggested lines), and
//! confirming the lines as `received` movements.

use std::collections::BTreeMap;
use std::sync::Arc;

use sha2::Digest as _;
use sqlx::Row as _;

use super::items;
use super::model::*;
use super::picture::{self, PhotoLimits};
use super::store::ObjectStore;
use crate::auth::model::Role;
use crate::auth::service::{Caller, Place};
use crate::catalog::model::{Product, Unit};
use crate::catalog::service as catalog;
use crate::db::{Backend, Conn, Db, Sql};
use crate::error::{AppError, AppResult};
use crate::events::bus::BoxFuture;
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, NewEvent};
use crate::ids::{IntakeId, PantryId, PhotoId, ProductId};
use crate::inventory::model::{parse_text, PantryHeader};
use crate::inventory::service::{self as inventory, Actor, Attachment, Change, Posted};
use crate::state::AppState;

/// Photos one intake may hold.
pub const MAX_PHOTOS: i64 = 40;
/// Lines one confirmation may post.
pub const MAX_LINES: usize = 100;
/// The longest edge of a thumbnail, in pixels.
const THUMBNAIL_EDGE: u32 = 480;

/// The photo services' configuration and file store.
#[derive(Clone)]
pub struct Photos {
    pub store: Arc<dyn ObjectStore>,
    pub limits: PhotoLimits,
    /// Wakes the analysis worker.
    pub wake: Arc<tokio::sync::Notify>,
    /// Uploads decoded at once: a 50 MP original takes 150 MB to decode,
    /// so a burst of them waits its turn rather than exhausting memory.
    pub decoding: Arc<tokio::sync::Semaphore>,
    /// Upload bodies being received, one permit a KiB: sixteen parallel
    /// 24 MB uploads once buffered 500 MB before any check could run.
    pub in_flight: Arc<tokio::sync::Semaphore>,
    /// The image model for item matching (loaded on first use).
    pub items: Arc<super::items::ItemModel>,
    /// The vision model, when one is configured.
    pub llm: Option<Arc<super::llm::VisionLlm>>,
}

/// Uploads decoded side by side.
pub const DECODING_AT_ONCE: usize = 2;

/// The bytes of upload bodies received at once, in KiB (64 MiB).
pub const IN_FLIGHT_KIB: usize = 64 * 1024;

/// How long an upload waits for room before it is told to come back.
pub const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Room for an upload body of `bytes` among those being received: waits
/// up to [`IN_FLIGHT_WAIT`], then answers 503 with `Retry-After`.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn room_for_upload(
    photos: &Photos,
    bytes: usize,
) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
    let kib = bytes.div_ceil(1024).clamp(1, IN_FLIGHT_KIB) as u32;
    match tokio::time::timeout(
        IN_FLIGHT_WAIT,
        photos.in_flight.clone().acquire_many_owned(kib),
    )
    .await
    {
        Ok(Ok(permit)) => Ok(permit),
        Ok(Err(e)) => Err(AppError::internal(&e)),
        Err(_) => Err(AppError::Busy {
            message:
                "Many photos are being uploaded right now; this one will be sent again in a moment."
                    .into(),
            retry_after_secs: 5,
        }),
    }
}

/// The intake's place and state, checked for `role` at its pantry.
struct IntakeRow {
    organization_id: String,
    pantry_id: String,
    status: String,
}

async fn intake_for(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    role: Role,
) -> AppResult<(IntakeRow, PantryHeader)> {
    let row = sqlx::query("select organization_id, pantry_id, status from intakes where id = $1")
        .bind(intake.as_str())
        .fetch_optional(state.db.pool())
        .await?
        .ok_or_else(|| AppError::not_found("intake"))?;
    let row = IntakeRow {
        organization_id: row.try_get("organization_id")?,
        pantry_id: row.try_get("pantry_id")?,
        status: row.try_get("status")?,
    };
    let (header, place) =
        inventory::pantry_header(&state.db, &PantryId(row.pantry_id.clone())).await?;
    caller.require(&place, role, "intake")?;
    Ok((row, header))
}

/// Opens an intake at a pantry: staff photograph a donation into it.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn create_intake(
    state: &AppState,
    caller: &Caller,
    pantry: &PantryId,
    donor: &str,
) -> AppResult<IntakeId> {
    let (header, place) = inventory::pantry_header(&state.db, pantry).await?;
    caller.require(&place, Role::Staff, "pantry")?;
    let donor = parse_text(donor, "donor", 120)?;
    let id = IntakeId::new();
    sqlx::query(
        "insert into intakes (id, organization_id, pantry_id, donor, status, created_by, created_at) \
         values ($1, $2, $3, $4, 'open', $5, $6)",
    )
    .bind(id.as_str())
    .bind(header.organization_id.as_str())
    .bind(header.id.as_str())
    .bind(donor)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(state.db.pool())
    .await?;
    Ok(id)
}

/// Refuses an upload before its body is read: the caller must be staff at
/// the intake's pantry and the intake still open.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn may_upload(state: &AppState, caller: &Caller, intake: &IntakeId) -> AppResult<()> {
    let (row, _) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; start a new one for more photos.",
        ));
    }
    Ok(())
}

/// The payload of `PhotoUploaded`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoUploaded {
    pub photo_id: String,
    pub intake_id: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

/// Checks an upload and stores it: the photo (without metadata) and its
/// thumbnail in the object store, its row and a `PhotoUploaded` event in
/// one transaction. A refused upload stores nothing.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn upload(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    bytes: Vec<u8>,
) -> AppResult<Uploaded> {
    let (row, _) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; start a new one for more photos.",
        ));
    }
    let limits = state.photos.limits;
    let _slot = state
        .photos
        .decoding
        .acquire()
        .await
        .map_err(|e| AppError::internal(&e))?;
    let checked = tokio::task::spawn_blocking(move || {
        let checked = picture::check(&bytes, limits)?;
        let thumb = picture::thumbnail(&checked.image, THUMBNAIL_EDGE)?;
        Ok::<_, AppError>((
            checked.media,
            checked.width,
            checked.height,
            checked.stored,
            thumb,
        ))
    })
    .await
    .map_err(|e| AppError::internal(&e))??;
    let (media, width, height, stored, thumb) = checked;
    let id = PhotoId::new();
    let base = format!(
        "photos/{}/{}/{}",
        row.organization_id,
        intake.as_str(),
        id.as_str()
    );
    let original_key = format!(
        "{base}/photo.{}",
        if media == MediaType::Jpeg {
            "jpg"
        } else {
            "png"
        }
    );
    let thumbnail_key = format!("{base}/thumbnail.jpg");
    let store = &state.photos.store;
    let stored_len = stored.len() as i64;
    let sha = hex(&sha2::Sha256::digest(&stored));
    let put = async {
        store.put(&original_key, &stored).await?;
        store.put(&thumbnail_key, &thumb).await
    }
    .await;
    if let Err(e) = put {
        let _ = store.delete(&original_key).await;
        return Err(AppError::internal(&e));
    }
    let saved = save_row(
        state,
        caller,
        intake,
        &row,
        &id,
        media,
        (width, height, stored_len),
        &sha,
        (&original_key, &thumbnail_key),
    )
    .await;
    if let Err(e) = saved {
        let _ = store.delete(&original_key).await;
        let _ = store.delete(&thumbnail_key).await;
        return Err(e);
    }
    Ok(Uploaded {
        id,
        bytes: stored_len,
        width: width as i64,
        height: height as i64,
    })
}

#[allow(clippy::too_many_arguments)]
async fn save_row(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    row: &IntakeRow,
    id: &PhotoId,
    media: MediaType,
    (width, height, bytes): (u32, u32, i64),
    sha: &str,
    (original_key, thumbnail_key): (&str, &str),
) -> AppResult<()> {
    let backend = state.db.backend();
    let mut tx = state.db.begin().await?;
    // The intake row is the lock that numbers photos one after another
    // (SQLite's writers are serialized already).
    let lock = if backend == Backend::Postgres {
        " for update"
    } else {
        ""
    };
    let status: String =
        sqlx::query_scalar(&format!("select status from intakes where id = $1{lock}"))
            .bind(intake.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake was confirmed while the photo uploaded; start a new one for more photos.",
        ));
    }
    let count: i64 = sqlx::query_scalar("select count(*) from photos where intake_id = $1")
        .bind(intake.as_str())
        .fetch_one(&mut *tx)
        .await?;
    // Numbers are never reused: staff may have removed photo 2 of 3.
    let last: Option<i64> =
        sqlx::query_scalar("select max(number) from photos where intake_id = $1")
            .bind(intake.as_str())
            .fetch_one(&mut *tx)
            .await?;
    if count >= MAX_PHOTOS {
        return Err(AppError::invalid(
            "photo",
            format!(
                "An intake holds at most {MAX_PHOTOS} photos; confirm this one and start another."
            ),
        ));
    }
    sqlx::query(
        "insert into photos (id, intake_id, organization_id, pantry_id, number, media_type, width, height, bytes, \
         sha256, original_key, thumbnail_key, status, uploaded_by, uploaded_at) \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'waiting', $13, $14)",
    )
    .bind(id.as_str())
    .bind(intake.as_str())
    .bind(row.organization_id.as_str())
    .bind(row.pantry_id.as_str())
    .bind(last.unwrap_or(0) + 1)
    .bind(media.mime())
    .bind(width as i64)
    .bind(height as i64)
    .bind(bytes)
    .bind(sha)
    .bind(original_key)
    .bind(thumbnail_key)
    .bind(caller.me.id.as_str())
    .bind(state.clock.now_ms())
    .execute(&mut *tx)
    .await?;
    let actor = Actor::of(caller);
    events::append(
        &mut tx,
        backend,
        &NewEvent {
            event: &DomainEvent::PhotoUploaded(PhotoUploaded {
                photo_id: id.0.clone(),
                intake_id: intake.0.clone(),
                bytes,
                width: width as i64,
                height: height as i64,
            }),
            organization_id: &row.organization_id,
            pantry_id: Some(&row.pantry_id),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Which rendition of a photo to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendition {
    Thumbnail,
    Photo,
}

/// A photo's file and media type, for someone who may see its pantry.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn file(
    state: &AppState,
    caller: &Caller,
    photo: &PhotoId,
    rendition: Rendition,
) -> AppResult<(Vec<u8>, &'static str)> {
    let row = sqlx::query(
        "select organization_id, pantry_id, media_type, original_key, thumbnail_key from photos where id = $1",
    )
    .bind(photo.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("photo"))?;
    let (_, place) =
        inventory::pantry_header(&state.db, &PantryId(row.try_get("pantry_id")?)).await?;
    caller.require(&place, Role::Staff, "photo")?;
    let (key, media): (String, &'static str) = match rendition {
        Rendition::Thumbnail => (row.try_get("thumbnail_key")?, "image/jpeg"),
        Rendition::Photo => {
            let mime: String = row.try_get("media_type")?;
            (
                row.try_get("original_key")?,
                MediaType::from_mime(&mime)
                    .unwrap_or(MediaType::Jpeg)
                    .mime(),
            )
        }
    };
    let bytes = state
        .photos
        .store
        .get(&key)
        .await
        .map_err(|e| AppError::internal(&e))?;
    Ok((bytes, media))
}

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
                id: IntakeId(r.try_get("id")?),
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
        .map(|f| ProductId(f.value.clone()))
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
                    let product = products.get(&ProductId(f.value.clone()))?;
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
                id: PhotoId(id),
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
async fn suggest(db: &Db, organization: &str, photos: &[PhotoView]) -> AppResult<Vec<Suggestion>> {
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
                    .entry(product.id.0.clone())
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
            .entry(product.id.0.clone())
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
            ProductId(r.try_get("id")?),
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
                .filter(|(_, name, _)| super::llm::name_match(name, &f.value) >= 0.999)
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
            if !lines.contains_key(&id.0) {
                opened.push(id.clone());
            }
            let line = lines.entry(id.0.clone()).or_insert_with(|| Suggestion {
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

async fn confirmed_lines(db: &Db, intake: &IntakeId) -> AppResult<Vec<ConfirmedLine>> {
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
                product_id: ProductId(r.try_get("product_id")?),
                product_name: r.try_get("name")?,
                quantity: unit.format(r.try_get("quantity")?),
                best_before: r.try_get("best_before")?,
            })
        })
        .collect()
}

/// The intake's confirmation, written in the transaction that posts its
/// lines: the intake must still be open (two people confirming at once
/// post once).
#[derive(Debug)]
struct Confirmation {
    intake: IntakeId,
    actor_id: String,
    /// Per posted line, in order: product and date.
    lines: Vec<(ProductId, Option<String>)>,
    pantry_id: PantryId,
    /// Photos that join the pantry's matching set, with their product.
    examples: Vec<(ProductId, PhotoId)>,
}

/// The payload of `IntakeConfirmed`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IntakeConfirmed {
    pub intake_id: String,
    pub lines: Vec<ConfirmedPayloadLine>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ConfirmedPayloadLine {
    pub product_id: String,
    pub movement_id: String,
    pub quantity: i64,
    pub best_before: Option<String>,
}

impl Attachment for Confirmation {
    fn check<'a>(&'a self, conn: &'a mut Conn, backend: Backend) -> BoxFuture<'a, AppResult<()>> {
        Box::pin(async move {
            let lock = if backend == Backend::Postgres {
                " for update"
            } else {
                ""
            };
            let status: Option<String> =
                sqlx::query_scalar(&format!("select status from intakes where id = $1{lock}"))
                    .bind(self.intake.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
            match status.as_deref() {
                Some("open") => Ok(()),
                Some(_) => Err(AppError::conflict(
                    "intake",
                    "This intake is confirmed already; its stock was received once.",
                )),
                None => Err(AppError::not_found("intake")),
            }
        })
    }

    fn write<'a>(
        &'a self,
        conn: &'a mut Conn,
        _backend: Backend,
        posted: &'a [Posted],
        now: i64,
    ) -> BoxFuture<'a, AppResult<Vec<DomainEvent>>> {
        Box::pin(async move {
            sqlx::query(
                "update intakes set status = 'confirmed', confirmed_by = $1, confirmed_at = $2 where id = $3",
            )
            .bind(self.actor_id.as_str())
            .bind(now)
            .bind(self.intake.as_str())
            .execute(&mut *conn)
            .await?;
            let mut lines = Vec::new();
            for (p, (product, date)) in posted.iter().zip(&self.lines) {
                sqlx::query(
                    "insert into intake_lines (intake_id, product_id, quantity, best_before, movement_id) \
                     values ($1, $2, $3, $4, $5)",
                )
                .bind(self.intake.as_str())
                .bind(product.as_str())
                .bind(p.quantity)
                .bind(date.clone())
                .bind(p.movement_id.as_str())
                .execute(&mut *conn)
                .await?;
                lines.push(ConfirmedPayloadLine {
                    product_id: product.0.clone(),
                    movement_id: p.movement_id.0.clone(),
                    quantity: p.quantity,
                    best_before: date.clone(),
                });
            }
            for (product, photo) in &self.examples {
                sqlx::query(
                    "insert into product_photos (pantry_id, product_id, photo_id, intake_id, confirmed_at) \
                     values ($1, $2, $3, $4, $5) on conflict do nothing",
                )
                .bind(self.pantry_id.as_str())
                .bind(product.as_str())
                .bind(photo.as_str())
                .bind(self.intake.as_str())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            }
            let payload = IntakeConfirmed {
                intake_id: self.intake.0.clone(),
                lines,
            };
            Ok(vec![DomainEvent::IntakeConfirmed(payload)])
        })
    }
}

/// Confirms the intake's lines as staff left them: one `received`
/// (donation) movement per product and date, the intake marked confirmed,
/// all in one transaction. Bad lines are refused with the line named and
/// nothing posted.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn confirm(
    state: &AppState,
    caller: &Caller,
    intake: &IntakeId,
    lines: &[ConfirmLine],
) -> AppResult<Vec<ConfirmedLine>> {
    let (row, header) = intake_for(state, caller, intake, Role::Staff).await?;
    if row.status != "open" {
        return Err(AppError::conflict(
            "intake",
            "This intake is confirmed already; its stock was received once.",
        ));
    }
    if lines.is_empty() {
        return Err(AppError::invalid(
            "lines",
            "Keep at least one line to receive, or leave the intake open.",
        ));
    }
    if lines.len() > MAX_LINES {
        return Err(AppError::invalid(
            "lines",
            format!("One intake receives at most {MAX_LINES} lines."),
        ));
    }
    let ids: Vec<&ProductId> = lines.iter().map(|l| &l.product).collect();
    let known =
        catalog::products_with_ids(&state.db, header.organization_id.as_str(), &ids).await?;
    let donor: Option<String> = sqlx::query_scalar("select donor from intakes where id = $1")
        .bind(intake.as_str())
        .fetch_one(state.db.pool())
        .await?;
    let today = crate::dates::today(state.clock.as_ref());
    // One line per product and date: the same item typed twice is summed.
    let mut merged: BTreeMap<(ProductId, Option<String>), (Product, i64)> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        let named = |e: AppError| AppError::invalid("lines", format!("Line {}: {}", i + 1, e));
        let product = known.get(&line.product).ok_or_else(|| {
            named(AppError::invalid(
                "lines",
                "that product is not in this organization's catalog.",
            ))
        })?;
        catalog::refuse_archived(product).map_err(named)?;
        let quantity = inventory::positive(product.unit, &line.quantity)
            .map_err(|e| AppError::invalid("lines", format!("{}: {}", product.name, e)))?;
        let date = inventory::lot_date(today, product, &line.best_before, "lines")
            .map_err(|e| AppError::invalid("lines", format!("{}: {}", product.name, e)))?;
        let entry = merged
            .entry((product.id.clone(), date))
            .or_insert_with(|| (product.clone(), 0));
        entry.1 = entry
            .1
            .checked_add(quantity)
            .filter(|q| *q <= crate::catalog::model::MAX_QUANTITY)
            .ok_or_else(|| {
                AppError::invalid(
                    "lines",
                    format!(
                        "{}: that quantity is too large; one movement moves at most {}.",
                        product.name,
                        product.unit.format(crate::catalog::model::MAX_QUANTITY)
                    ),
                )
            })?;
    }
    let examples = matching_examples(&state.db, intake, lines).await?;
    let mut changes = Vec::new();
    let mut order = Vec::new();
    for ((id, date), (product, quantity)) in merged {
        changes.push((
            product.clone(),
            Change::donated(&product, quantity, date.clone(), donor.clone(), "lines")?,
        ));
        order.push((id, date));
    }
    let actor = Actor::of(caller);
    inventory::post_group(
        state,
        &header,
        changes,
        Arc::new(Confirmation {
            intake: intake.clone(),
            actor_id: actor.user_id.clone(),
            lines: order,
            pantry_id: header.id.clone(),
            examples,
        }),
        &actor,
    )
    .await?;
    confirmed_lines(&state.db, intake).await
}

/// The photos confirmed as showing one product: cited by lines of exactly
/// one product (a photo of a mixed box would teach every product in it the
/// look of the others). A photo of another intake is refused.
async fn matching_examples(
    db: &Db,
    intake: &IntakeId,
    lines: &[ConfirmLine],
) -> AppResult<Vec<(ProductId, PhotoId)>> {
    let own: Vec<String> = sqlx::query_scalar("select id from photos where intake_id = $1")
        .bind(intake.as_str())
        .fetch_all(db.pool())
        .await?;
    let mut cited: BTreeMap<&PhotoId, Vec<&ProductId>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        for photo in &line.photos {
            if !own.iter().any(|id| *id == photo.0) {
                return Err(AppError::invalid(
                    "lines",
                    format!("Line {}: that photo is not one of this intake's.", i + 1),
                ));
            }
            let products = cited.entry(photo).or_default();
            if !products.contains(&&line.product) {
                products.push(&line.product);
            }
        }
    }
    Ok(cited
        .into_iter()
        .filter(|(_, products)| products.len() == 1)
        .map(|(photo, products)| (products[0].clone(), photo.clone()))
        .collect())
}

/// The payload of `PhotoRemoved`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoRemoved {
    pub photo_id: String,
    pub intake_id: String,
    pub number: i64,
}

/// Removes a photo from an open intake (a blurred shot, the wrong box):
/// its findings, its feature vector, its row and then its files. One that
/// is being read right now waits until it has been.
#[tracing::instrument(level = "debug", skip_all)]
pub async fn remove_photo(state: &AppState, caller: &Caller, photo: &PhotoId) -> AppResult<()> {
    let row = sqlx::query(
        "select intake_id, number, status, original_key, thumbnail_key from photos where id = $1",
    )
    .bind(photo.as_str())
    .fetch_optional(state.db.pool())
    .await?
    .ok_or_else(|| AppError::not_found("photo"))?;
    let intake = IntakeId(row.try_get("intake_id")?);
    let (intake_row, _) = intake_for(state, caller, &intake, Role::Staff).await?;
    let number: i64 = row.try_get("number")?;
    if intake_row.status != "open" {
        return Err(AppError::conflict(
            "photo",
            "This intake is confirmed; its photos are its record and stay.",
        ));
    }
    let mut tx = state.db.begin().await?;
    // Not while the worker reads it: it writes its findings when it
    // finishes. The delete below checks again, in the transaction.
    let status: Option<String> = sqlx::query_scalar("select status from photos where id = $1")
        .bind(photo.as_str())
        .fetch_optional(&mut *tx)
        .await?;
    match status.as_deref() {
        None => return Err(AppError::not_found("photo")),
        Some("running") => {
            return Err(AppError::conflict(
                "photo",
                format!(
                    "Photo {number} is being read; remove it when it has been (a few seconds)."
                ),
            ))
        }
        Some(_) => {}
    }
    for table in ["photo_findings", "photo_features"] {
        sqlx::query(&format!("delete from {table} where photo_id = $1"))
            .bind(photo.as_str())
            .execute(&mut *tx)
            .await?;
    }
    let gone = sqlx::query("delete from photos where id = $1 and status <> 'running'")
        .bind(photo.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if gone != 1 {
        return Err(AppError::conflict(
            "photo",
            format!("Photo {number} is being read; remove it when it has been (a few seconds)."),
        ));
    }
    let actor = Actor::of(caller);
    events::append(
        &mut tx,
        state.db.backend(),
        &NewEvent {
            event: &DomainEvent::PhotoRemoved(PhotoRemoved {
                photo_id: photo.0.clone(),
                intake_id: intake.0.clone(),
                number,
            }),
            organization_id: &intake_row.organization_id,
            pantry_id: Some(&intake_row.pantry_id),
            actor_id: Some(&actor.user_id),
            correlation_id: &actor.correlation_id,
            occurred_at: state.clock.now_ms(),
        },
    )
    .await?;
    tx.commit().await?;
    // The files go once the row has: a failure here leaves files no row
    // points at (logged), never a row without its files.
    for key in ["original_key", "thumbnail_key"] {
        let key: String = row.try_get(key)?;
        if let Err(e) = state.photos.store.delete(&key).await {
            tracing::warn!(photo = %photo, key = %key, error = %e, "a removed photo's file was not deleted");
        }
    }
    Ok(())
}

/// Where on the place tree an intake is, for access checks elsewhere.
pub fn place_of(header: &PantryHeader) -> Place {
    Place {
        organization_id: header.organization_id.0.clone(),
        campus_id: Some(header.campus_id.0.clone()),
        pantry_id: Some(header.id.0.clone()),
    }
}

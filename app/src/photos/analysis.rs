//! Photo analysis. `PhotoUploaded` events reach [`AnalysisTrigger`], an
//! event consumer that wakes the analysis worker; the worker claims
//! waiting photos one at a time, reads them on a blocking thread (never on
//! the request path, and never inside a write transaction: a read takes
//! up to a second or two, and SQLite has one writer), then writes what it
//! found, the photo's new status and a `PhotoAnalyzed` event in one short
//! transaction. The photo's status and stage are the progress the intake
//! page shows. A photo's row is its job: a worker that stops mid-photo
//! leaves a claim that another takes over after [`CLAIM_EXPIRES`], so no
//! photo is lost across a crash or a second server; reading a photo again
//! replaces its findings, never adds to them. The stages are barcodes,
//! printed dates and item matching; when a vision model is configured it
//! is asked afterwards, beside the queue (its answers take seconds), and
//! its answer is added to the findings with a `PhotoDescribed` event.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row as _;
use tokio::sync::{watch, Notify};

use super::barcodes::{self, Found};
use super::dates::{self, DateFound};
use super::items::{self, Candidate, Looked};
use super::llm::{self, VisionLlm};
use super::picture;
use super::store::ObjectStore;
use crate::db::Db;
use crate::events::bus::{BoxFuture, Consumer, Delivery, Durability};
use crate::events::domain::DomainEvent;
use crate::events::store::{self as events, Event, NewEvent};

/// A claim older than this belongs to a worker that stopped.
pub const CLAIM_EXPIRES: Duration = Duration::from_secs(300);
/// How often an idle worker looks for work nobody woke it for (another
/// server's photos whose worker stopped).
const IDLE_POLL: Duration = Duration::from_secs(30);

/// Wakes the analysis worker when a photo is uploaded. It keeps no state:
/// the photos' rows are the queue.
pub struct AnalysisTrigger(pub Arc<Notify>);

impl Consumer for AnalysisTrigger {
    fn name(&self) -> &'static str {
        "photo-analysis"
    }

    fn durability(&self) -> Durability {
        Durability::Ephemeral
    }

    fn handle<'a>(
        &'a self,
        event: &'a Event,
        _delivery: &'a mut Delivery,
    ) -> BoxFuture<'a, Result<(), String>> {
        Box::pin(async move {
            if let DomainEvent::PhotoUploaded(_) = event.domain()? {
                self.0.notify_one();
            }
            Ok(())
        })
    }
}

/// The grey image barcodes are read from: 1–2 MP is enough for a symbol
/// that fills a few percent of the frame, and keeps a read under a second.
const READ_PIXELS: u64 = 2_000_000;

/// The payload of `PhotoAnalyzed`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoAnalyzed {
    pub photo_id: String,
    pub intake_id: String,
    pub status: String,
    pub barcodes: usize,
    pub dates: usize,
    /// Products of the pantry's matching set the photo looks like.
    pub matches: usize,
}

/// Decodes a stored photo and scales it to at most [`READ_PIXELS`]:
/// in grey for the barcode reader, in colour for text reading.
pub fn decode(bytes: &[u8]) -> Result<(image::GrayImage, image::DynamicImage), String> {
    let format = match picture::sniff(bytes).map_err(|e| e.to_string())? {
        super::model::MediaType::Jpeg => image::ImageFormat::Jpeg,
        super::model::MediaType::Png => image::ImageFormat::Png,
    };
    let image = image::load_from_memory_with_format(bytes, format).map_err(|e| e.to_string())?;
    let small = picture::at_most(image, READ_PIXELS);
    Ok((small.to_luma8(), small))
}

/// What one photo showed.
#[derive(Default)]
struct Outcome {
    barcodes: Vec<Found>,
    dates: Vec<DateFound>,
    /// `None` when item matching is off.
    looked: Option<Looked>,
    matches: Vec<Candidate>,
    /// The photo as read (2 MP at most), for the vision model, which is
    /// asked once these findings are written.
    colour: Option<image::DynamicImage>,
}

/// What the analysis reads photos with.
#[derive(Clone)]
pub struct Readers {
    pub items: Arc<items::ItemModel>,
    pub llm: Option<Arc<VisionLlm>>,
    pub http: reqwest::Client,
    /// Questions to the vision model under way at once.
    asking: Arc<tokio::sync::Semaphore>,
}

/// Photos the vision model is asked about at once: its answers take
/// seconds, and the offline analysis goes on meanwhile.
const ASKING_AT_ONCE: usize = 2;

impl Readers {
    pub fn new(items: Arc<items::ItemModel>, llm: Option<Arc<VisionLlm>>) -> Self {
        Readers {
            items,
            llm,
            http: reqwest::Client::new(),
            asking: Arc::new(tokio::sync::Semaphore::new(ASKING_AT_ONCE)),
        }
    }
}

/// Analyses photos until `shutdown`: whatever is waiting at start (the
/// queue survives restarts), then each photo it is woken for.
pub async fn run(
    db: Db,
    clock: Arc<dyn crate::clock::Clock>,
    store: Arc<dyn ObjectStore>,
    readers: Readers,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        if *shutdown.borrow() {
            return;
        }
        match next(&db, clock.as_ref()).await {
            Ok(Some(photo)) => {
                if let Err(e) =
                    analyse_one(&db, &clock, store.as_ref(), &readers, &photo, &shutdown).await
                {
                    tracing::error!(photo = %photo.id, error = %e, "photo analysis failed; retrying later");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                        _ = shutdown.changed() => return,
                    }
                }
            }
            Ok(None) => {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = shutdown.changed() => return,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "could not look for photos to analyse");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(5)) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

/// A photo this worker has claimed.
#[derive(Clone)]
struct Claimed {
    id: String,
    intake_id: String,
    organization_id: String,
    pantry_id: String,
    key: String,
}

/// Claims the oldest waiting photo (or one whose worker stopped).
async fn next(db: &Db, clock: &dyn crate::clock::Clock) -> Result<Option<Claimed>, sqlx::Error> {
    let stale = clock.now_ms() - CLAIM_EXPIRES.as_millis() as i64;
    loop {
        let row = sqlx::query(
            "select id, intake_id, organization_id, pantry_id, original_key, status, claimed_at from photos \
             where status = 'waiting' or (status = 'running' and claimed_at < $1) \
             order by uploaded_at limit 1",
        )
        .bind(stale)
        .fetch_optional(db.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: String = row.try_get("id")?;
        // The claim is the update: of two workers, one changes the row.
        let claimed = sqlx::query(
            "update photos set status = 'running', stage = 'reading barcodes', claimed_at = $1 \
             where id = $2 and (status = 'waiting' or (status = 'running' and claimed_at < $3))",
        )
        .bind(clock.now_ms())
        .bind(id.as_str())
        .bind(stale)
        .execute(db.pool())
        .await?
        .rows_affected();
        if claimed == 1 {
            return Ok(Some(Claimed {
                id,
                intake_id: row.try_get("intake_id")?,
                organization_id: row.try_get("organization_id")?,
                pantry_id: row.try_get("pantry_id")?,
                key: row.try_get("original_key")?,
            }));
        }
    }
}

async fn stage(db: &Db, photo: &str, stage: &str) -> Result<(), String> {
    sqlx::query("update photos set stage = $1 where id = $2 and status = 'running'")
        .bind(stage)
        .bind(photo)
        .execute(db.pool())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Barcodes first, then printed dates, then what the items look like; a
/// photo that cannot be decoded fails, while a reader that cannot run (no
/// Tesseract, no model weights) only leaves its part out.
async fn read_photo(
    db: &Db,
    store: &dyn ObjectStore,
    readers: &Readers,
    photo: &Claimed,
) -> Result<Outcome, String> {
    let bytes = store
        .get(&photo.key)
        .await
        .map_err(|e| format!("its file could not be read from the store ({e})"))?;
    let (barcodes, colour) = tokio::task::spawn_blocking(move || {
        let (gray, colour) = decode(&bytes)?;
        Ok::<_, String>((barcodes::read(&gray), colour))
    })
    .await
    .map_err(|e| format!("the analysis stopped: {e}"))??;
    // Progress only: a failed write here must not fail the photo.
    let _ = stage(db, &photo.id, "reading dates").await;
    let dates = match dates::read_dates(&colour, time::OffsetDateTime::now_utc().date()).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(photo = %photo.id, error = %e, "printed dates not read");
            Vec::new()
        }
    };
    let (looked, matches) = if readers.items.configured() {
        let _ = stage(db, &photo.id, "matching items").await;
        let examples = matching_set(db, &photo.pantry_id, &photo.id)
            .await
            .map_err(|e| format!("its pantry's confirmed photos could not be read ({e})"))?;
        let (items, colour) = (readers.items.clone(), colour.clone());
        // Off the runtime: the network, and loading its weights the first
        // time, take a tenth of a second or more.
        tokio::task::spawn_blocking(move || match items.get() {
            Some(model) => {
                let looked = items::look(&model, &colour);
                let mut matches = items::rank(&looked.features, &examples);
                matches.retain(|m| m.similarity >= items::SHOWN_FROM);
                matches.truncate(items::MATCHES_SHOWN);
                (Some(looked), matches)
            }
            None => (None, Vec::new()),
        })
        .await
        .map_err(|e| format!("the analysis stopped: {e}"))?
    } else {
        (None, Vec::new())
    };
    Ok(Outcome {
        barcodes,
        dates,
        looked,
        matches,
        colour: Some(colour),
    })
}

/// Shows the vision model the photo at the size it was read at (2 MP at
/// most), as JPEG.
async fn ask(
    model: &VisionLlm,
    http: &reqwest::Client,
    colour: image::DynamicImage,
) -> Result<Vec<llm::Seen>, String> {
    let jpeg = tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
            .encode_image(&colour.to_rgb8())
            .map(|_| out)
            .map_err(|e| format!("could not be prepared ({e})"))
    })
    .await
    .map_err(|e| format!("could not be prepared ({e})"))??;
    model.look(http, &jpeg).await
}

/// The pantry's confirmed photos of products still in the catalog, most
/// recent first, as (product, feature vector).
async fn matching_set(
    db: &Db,
    pantry: &str,
    except: &str,
) -> Result<Vec<(String, Vec<f32>)>, sqlx::Error> {
    let rows = sqlx::query(
        "select pp.product_id, f.features from product_photos pp \
         join photo_features f on f.photo_id = pp.photo_id \
         join products p on p.id = pp.product_id \
         where pp.pantry_id = $1 and pp.photo_id <> $2 and f.model = $3 and p.archived_at is null \
         order by pp.confirmed_at desc limit $4",
    )
    .bind(pantry)
    .bind(except)
    .bind(items::MODEL_NAME)
    .bind(items::MATCHING_SET)
    .fetch_all(db.pool())
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let bytes: Vec<u8> = r.try_get("features")?;
        if let Some(features) = items::decode(&bytes) {
            out.push((r.try_get("product_id")?, features));
        }
    }
    Ok(out)
}

async fn analyse_one(
    db: &Db,
    clock: &Arc<dyn crate::clock::Clock>,
    store: &dyn ObjectStore,
    readers: &Readers,
    photo: &Claimed,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), String> {
    let (status, error, outcome) = match read_photo(db, store, readers, photo).await {
        Ok(o) => ("done", None, o),
        Err(e) => (
            "failed",
            Some(format!("The photo could not be read: {e}")),
            Outcome::default(),
        ),
    };
    let found = &outcome.barcodes;
    let sql = |e: sqlx::Error| e.to_string();
    let mut tx = db.begin().await.map_err(sql)?;
    sqlx::query("delete from photo_findings where photo_id = $1")
        .bind(photo.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    for (i, f) in found.iter().enumerate() {
        sqlx::query(
            "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence) \
             values ($1, $2, 'barcode', $3, $4, $5, $6, $7)",
        )
        .bind(photo.id.as_str())
        .bind(i as i64)
        .bind(f.format)
        .bind(f.text.as_str())
        .bind(f.gtin.as_deref())
        .bind(f.best_before.as_deref())
        // A decoded symbol passed its check digit or error correction;
        // what is left uncertain is whether it is the item in the box.
        .bind(95i64)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    }
    for (i, d) in outcome.dates.iter().enumerate() {
        sqlx::query(
            "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence) \
             values ($1, $2, 'date', 'printed date', $3, null, $4, $5)",
        )
        .bind(photo.id.as_str())
        .bind((found.len() + i) as i64)
        .bind(d.text.as_str())
        .bind(d.date.as_str())
        .bind(d.confidence.clamp(0, 100))
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    }
    let mut ordinal = (found.len() + outcome.dates.len()) as i64;
    let hints = outcome.looked.as_ref().map_or(&[][..], |l| &l.hints[..]);
    for h in hints {
        sqlx::query(
            "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence) \
             values ($1, $2, 'hint', $3, $4, null, null, $5)",
        )
        .bind(photo.id.as_str())
        .bind(ordinal)
        .bind(h.group)
        .bind(h.label)
        .bind(h.confidence)
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
        ordinal += 1;
    }
    // A match's value is the product; its confidence the similarity.
    for m in &outcome.matches {
        sqlx::query(
            "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence) \
             values ($1, $2, 'match', 'looks like', $3, null, null, $4)",
        )
        .bind(photo.id.as_str())
        .bind(ordinal)
        .bind(m.product_id.as_str())
        .bind(((m.similarity * 100.0).round() as i64).clamp(0, 100))
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
        ordinal += 1;
    }
    sqlx::query("delete from photo_features where photo_id = $1")
        .bind(photo.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    if let Some(looked) = &outcome.looked {
        sqlx::query("insert into photo_features (photo_id, model, features) values ($1, $2, $3)")
            .bind(photo.id.as_str())
            .bind(items::MODEL_NAME)
            .bind(items::encode(&looked.features))
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
    }
    sqlx::query(
        "update photos set status = $1, stage = null, error = $2, analyzed_at = $3 where id = $4",
    )
    .bind(status)
    .bind(error)
    .bind(clock.now_ms())
    .bind(photo.id.as_str())
    .execute(&mut *tx)
    .await
    .map_err(sql)?;
    events::append(
        &mut tx,
        db.backend(),
        &NewEvent {
            event: &DomainEvent::PhotoAnalyzed(PhotoAnalyzed {
                photo_id: photo.id.clone(),
                intake_id: photo.intake_id.clone(),
                status: status.to_string(),
                barcodes: found.len(),
                dates: outcome.dates.len(),
                matches: outcome.matches.len(),
            }),
            organization_id: &photo.organization_id,
            pantry_id: Some(&photo.pantry_id),
            actor_id: None,
            correlation_id: &photo.id,
            client_ip: None,
            trace_parent: None,
            occurred_at: clock.now_ms(),
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(sql)?;
    if let (Some(model), Some(colour)) = (&readers.llm, outcome.colour) {
        tokio::spawn(describe(
            db.clone(),
            clock.clone(),
            model.clone(),
            readers.http.clone(),
            readers.asking.clone(),
            photo.clone(),
            colour,
            shutdown.clone(),
        ));
    }
    Ok(())
}

/// Asks the vision model about a photo whose offline analysis is written,
/// and adds what it said (or why it said nothing) to the photo's findings
/// with a `PhotoDescribed` event. A server that stops meanwhile loses the
/// question; the offline findings stand either way.
async fn describe(
    db: Db,
    clock: Arc<dyn crate::clock::Clock>,
    model: Arc<VisionLlm>,
    http: reqwest::Client,
    asking: Arc<tokio::sync::Semaphore>,
    photo: Claimed,
    colour: image::DynamicImage,
    mut shutdown: watch::Receiver<bool>,
) {
    let Ok(_slot) = asking.acquire_owned().await else {
        return;
    };
    let answer = tokio::select! {
        a = ask(&model, &http, colour) => a,
        _ = shutdown.changed() => return,
    };
    if let Err(e) = write_description(&db, clock.now_ms(), &photo, &answer).await {
        // A photo removed while the model thought has nowhere to put it.
        tracing::warn!(photo = %photo.id, error = %e, "the vision model's answer was not recorded");
    }
}

/// The payload of `PhotoDescribed`, version 1.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PhotoDescribed {
    pub photo_id: String,
    pub intake_id: String,
    /// Kinds of item named; `None` when the model failed.
    pub items: Option<usize>,
}

async fn write_description(
    db: &Db,
    now: i64,
    photo: &Claimed,
    answer: &Result<Vec<llm::Seen>, String>,
) -> Result<(), String> {
    let sql = |e: sqlx::Error| e.to_string();
    let mut tx = db.begin().await.map_err(sql)?;
    // Asked again (the photo was read again): the new answer replaces it.
    sqlx::query("delete from photo_findings where photo_id = $1 and kind in ('llm', 'llm-error')")
        .bind(photo.id.as_str())
        .execute(&mut *tx)
        .await
        .map_err(sql)?;
    let mut ordinal: i64 = sqlx::query_scalar(
        "select coalesce(max(ordinal), -1) + 1 from photo_findings where photo_id = $1",
    )
    .bind(photo.id.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(sql)?;
    match answer {
        Ok(seen) => {
            for item in seen {
                sqlx::query(
                    "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence, quantity) \
                     values ($1, $2, 'llm', 'vision model', $3, null, $4, $5, $6)",
                )
                .bind(photo.id.as_str())
                .bind(ordinal)
                .bind(item.name.as_str())
                .bind(item.best_before.as_deref())
                // The model gives no certainty; what it says is a lead
                // for staff to check, below any reading.
                .bind(60i64)
                .bind(item.count)
                .execute(&mut *tx)
                .await
                .map_err(sql)?;
                ordinal += 1;
            }
        }
        Err(reason) => {
            tracing::warn!(photo = %photo.id, reason = %reason, "the vision model did not answer");
            sqlx::query(
                "insert into photo_findings (photo_id, ordinal, kind, format, value, gtin, best_before, confidence) \
                 values ($1, $2, 'llm-error', 'vision model', $3, null, null, 0)",
            )
            .bind(photo.id.as_str())
            .bind(ordinal)
            .bind(reason.as_str())
            .execute(&mut *tx)
            .await
            .map_err(sql)?;
        }
    }
    events::append(
        &mut tx,
        db.backend(),
        &NewEvent {
            event: &DomainEvent::PhotoDescribed(PhotoDescribed {
                photo_id: photo.id.clone(),
                intake_id: photo.intake_id.clone(),
                items: answer.as_ref().ok().map(Vec::len),
            }),
            organization_id: &photo.organization_id,
            pantry_id: Some(&photo.pantry_id),
            actor_id: None,
            correlation_id: &photo.id,
            client_ip: None,
            trace_parent: None,
            occurred_at: now,
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    tx.commit().await.map_err(sql)
}

//! Intake and photo types, shared by the server and the browser.

use serde::{Deserialize, Serialize};

use crate::ids::{IntakeId, OrganizationId, PantryId, PhotoId, ProductId};

/// The formats Larder stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MediaType {
    Jpeg,
    Png,
}

impl MediaType {
    pub fn mime(self) -> &'static str {
        match self {
            MediaType::Jpeg => "image/jpeg",
            MediaType::Png => "image/png",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MediaType::Jpeg => "JPEG photo",
            MediaType::Png => "PNG image",
        }
    }

    pub fn from_mime(s: &str) -> Option<Self> {
        match s {
            "image/jpeg" => Some(MediaType::Jpeg),
            "image/png" => Some(MediaType::Png),
            _ => None,
        }
    }
}

/// Where a photo's analysis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AnalysisStatus {
    /// Uploaded; analysis has not started.
    Waiting,
    /// Being read.
    Running,
    Done,
    /// The readers could not process it (the error says why).
    Failed,
}

impl AnalysisStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AnalysisStatus::Waiting => "waiting",
            AnalysisStatus::Running => "running",
            AnalysisStatus::Done => "done",
            AnalysisStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "running" => AnalysisStatus::Running,
            "done" => AnalysisStatus::Done,
            "failed" => AnalysisStatus::Failed,
            _ => AnalysisStatus::Waiting,
        }
    }
}

/// What the upload endpoint answers for a stored photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uploaded {
    pub id: PhotoId,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
}

/// One thing a reader found in a photo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FindingView {
    /// "barcode", "date", "hint" (a category the image model sees: format
    /// is the group, value the thing), "match" (value is a product id),
    /// "llm" (an item the vision model named, with its count), "llm-error"
    /// (why the vision model gave no answer).
    pub kind: String,
    /// "EAN-13", "QR code", …
    pub format: String,
    pub value: String,
    pub gtin: Option<String>,
    pub best_before: Option<String>,
    /// Percent.
    pub confidence: i64,
    /// How many the vision model counted ("llm" findings).
    #[serde(default)]
    pub quantity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhotoView {
    pub id: PhotoId,
    /// 1 for the intake's first photo.
    pub number: i64,
    pub thumbnail_url: String,
    pub bytes: i64,
    pub width: i64,
    pub height: i64,
    pub status: AnalysisStatus,
    /// What the analysis is doing now ("reading barcodes").
    pub stage: Option<String>,
    pub error: Option<String>,
    pub findings: Vec<FindingView>,
    /// Products whose confirmed photos this one looks like, nearest first.
    pub matches: Vec<MatchView>,
}

/// A product of the pantry's matching set that a photo looks like.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatchView {
    pub product_id: ProductId,
    pub product_name: String,
    /// Percent: the cosine similarity to its nearest confirmed photo.
    pub similarity: i64,
}

/// A suggested line of the intake, from what the photos showed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The catalog product, when a barcode matched one.
    pub product_id: Option<ProductId>,
    pub product_name: Option<String>,
    /// The unit's name, for the quantity field ("each", "kg").
    pub unit: Option<String>,
    pub gtin: Option<String>,
    /// In the product's unit, as the quantity field shows it.
    pub quantity: String,
    pub best_before: Option<String>,
    /// Percent.
    pub confidence: i64,
    /// Why: "EAN-13 4006381333931 in photos 1 and 3".
    pub evidence: String,
    /// The photos it was seen in; confirmed, a photo that shows only this
    /// product joins the pantry's matching set.
    pub photos: Vec<PhotoId>,
}

/// An intake as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeView {
    pub id: IntakeId,
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub campus_name: String,
    pub pantry_id: PantryId,
    pub pantry_name: String,
    pub donor: Option<String>,
    /// "open", "confirmed".
    pub status: String,
    pub created_at: String,
    pub created_by: String,
    pub confirmed_at: Option<String>,
    pub photos: Vec<PhotoView>,
    pub suggestions: Vec<Suggestion>,
    /// What was confirmed, when it was.
    pub confirmed: Vec<ConfirmedLine>,
    /// Whether every photo's analysis has finished.
    pub settled: bool,
}

/// A line staff confirm: the product, how many, and its date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmLine {
    pub product: ProductId,
    pub quantity: String,
    #[serde(default)]
    pub best_before: String,
    /// The photos that show it (from its suggestion, or picked by staff).
    #[serde(default)]
    pub photos: Vec<PhotoId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedLine {
    pub product_id: ProductId,
    pub product_name: String,
    pub quantity: String,
    pub best_before: Option<String>,
}

/// A pantry's recent intakes, for its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeListItem {
    pub id: IntakeId,
    pub status: String,
    pub created_at: String,
    pub photos: i64,
    pub donor: Option<String>,
}

/// "4.1 MB", "310 KB".
pub fn size_text(bytes: f64) -> String {
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MB", bytes / (1024.0 * 1024.0))
    } else {
        format!("{:.0} KB", (bytes / 1024.0).max(1.0))
    }
}

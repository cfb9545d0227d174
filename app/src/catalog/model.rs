//! The catalog's shared types: products, their units, categories and
//! barcodes, parsed from what people type.

use serde::{Deserialize, Serialize};
use std::fmt;

use crate::error::AppError;
use crate::ids::{OrganizationId, ProductId};

/// The unit a product is counted in. Stock is stored as an integer count of
/// the unit's smallest part ([`Unit::scale`] of them make one unit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Each,
    Kg,
    Lb,
    L,
    Pack,
}

impl Unit {
    pub const ALL: [Unit; 5] = [Unit::Each, Unit::Pack, Unit::Kg, Unit::Lb, Unit::L];

    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        match input.trim().to_ascii_lowercase().as_str() {
            "each" | "ea" | "" => Ok(Self::Each),
            "kg" => Ok(Self::Kg),
            "lb" | "lbs" => Ok(Self::Lb),
            "l" | "litre" | "liter" => Ok(Self::L),
            "pack" | "pk" => Ok(Self::Pack),
            other => Err(AppError::invalid(
                field,
                format!("“{other}” is not a unit Larder knows; use each, pack, kg, lb or l."),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Each => "each",
            Self::Kg => "kg",
            Self::Lb => "lb",
            Self::L => "l",
            Self::Pack => "pack",
        }
    }

    /// How many stored parts make one unit: grams in a kilogram, ounces in
    /// a pound, millilitres in a litre.
    pub fn scale(self) -> i64 {
        match self {
            Self::Each | Self::Pack => 1,
            Self::Kg | Self::L => 1000,
            Self::Lb => 16,
        }
    }

    /// The weight of one unit in grams when the unit itself says it (a
    /// litre is taken as a kilogram unless the product says otherwise).
    pub fn intrinsic_weight_g(self) -> Option<i64> {
        match self {
            Self::Kg | Self::L => Some(1000),
            Self::Lb => Some(454),
            _ => None,
        }
    }

    fn part_name(self) -> &'static str {
        match self {
            Self::Kg => "gram",
            Self::L => "millilitre",
            Self::Lb => "ounce",
            _ => "unit",
        }
    }

    /// Parses a quantity typed in this unit ("2", "1.5") into stored parts.
    /// Whole units only for each and pack; up to the smallest part for
    /// weights and volumes.
    pub fn parse_quantity(self, input: &str, field: &str) -> Result<i64, AppError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AppError::invalid(field, "Enter a quantity."));
        }
        let bad = || {
            AppError::invalid(
                field,
                format!(
                    "“{}” is not a quantity; enter a number such as 3 or 1.5.",
                    clip(s)
                ),
            )
        };
        let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
        if whole.is_empty() && frac.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
        {
            return Err(if s.starts_with('-') {
                AppError::invalid(field, "Enter a positive quantity.")
            } else {
                bad()
            });
        }
        let too_large = || {
            AppError::invalid(
                field,
                format!(
                    "That quantity is too large: one movement moves at most {}.",
                    self.format(MAX_QUANTITY)
                ),
            )
        };
        if whole.len() > 12 {
            return Err(too_large());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        let frac = frac.trim_end_matches('0');
        // The fraction as an exact ratio num / 10^digits.
        let digits = frac.len() as u32;
        if digits > 6 {
            return Err(self.too_fine(field));
        }
        let num: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let den = 10_i64.pow(digits);
        if (num * self.scale()) % den != 0 {
            return Err(self.too_fine(field));
        }
        let parts = whole * self.scale() + num * self.scale() / den;
        if parts > MAX_QUANTITY {
            return Err(too_large());
        }
        Ok(parts)
    }

    /// Grams in `parts` of this unit at `per_unit_g` grams a unit, or
    /// `None` past [`MAX_WEIGHT_G`] (checked: never a wrapped number).
    pub fn weight_g(self, per_unit_g: i64, parts: i64) -> Option<i64> {
        per_unit_g
            .checked_mul(parts)
            .map(|g| g / self.scale())
            .filter(|g| (0..=MAX_WEIGHT_G).contains(g))
    }

    fn too_fine(self, field: &str) -> AppError {
        match self {
            Self::Each | Self::Pack => AppError::invalid(
                field,
                format!(
                    "Count whole {}; this product is not split.",
                    if self == Self::Pack { "packs" } else { "items" }
                ),
            ),
            _ => AppError::invalid(
                field,
                format!(
                    "That is finer than one {}; round it to whole {}s.",
                    self.part_name(),
                    self.part_name()
                ),
            ),
        }
    }

    /// The number alone, in this unit, exactly (`1.5` for 1500 g of a kg
    /// product): what a quantity field accepts back.
    pub fn amount(self, parts: i64) -> String {
        let scale = self.scale();
        let sign = if parts < 0 { "-" } else { "" };
        let p = parts.unsigned_abs() as i64;
        let number = if scale == 1 {
            p.to_string()
        } else {
            let whole = p / scale;
            let rest = p % scale;
            if rest == 0 {
                whole.to_string()
            } else {
                // Exact decimals: 1/16 lb = 0.0625.
                let mut frac = String::new();
                let mut r = rest;
                for _ in 0..6 {
                    if r == 0 {
                        break;
                    }
                    r *= 10;
                    frac.push(char::from(b'0' + (r / scale) as u8));
                    r %= scale;
                }
                format!("{whole}.{frac}")
            }
        };
        format!("{sign}{number}")
    }

    /// Formats stored parts in this unit for people: `2.5 kg`, `12`.
    pub fn format(self, parts: i64) -> String {
        let number = self.amount(parts);
        match self {
            Self::Each => number,
            Self::Pack => format!("{number} pack"),
            _ => format!("{number} {}", self.as_str()),
        }
    }
}

/// Quantities of several products of mixed units, said the way people
/// count them: counted products as items, the others in their own unit
/// ("12 items · 10 l · 2.5 kg"), never litres of milk as "0 items".
pub fn mixed_quantity(items: i64, measured: &[(Unit, i64)]) -> String {
    let mut parts = Vec::new();
    if items != 0 || measured.iter().all(|(_, q)| *q == 0) {
        parts.push(if items == 1 {
            "1 item".to_string()
        } else {
            format!("{items} items")
        });
    }
    for (unit, q) in measured {
        if *q != 0 {
            parts.push(unit.format(*q));
        }
    }
    parts.join(" · ")
}

/// Adds `quantity` of a product counted in `unit` to a running
/// [`mixed_quantity`]: items for counted units, the unit's own total for
/// the others.
pub fn add_quantity(items: &mut i64, measured: &mut Vec<(Unit, i64)>, unit: Unit, quantity: i64) {
    if unit.scale() == 1 {
        *items += quantity;
    } else {
        match measured.iter_mut().find(|(u, _)| *u == unit) {
            Some((_, q)) => *q += quantity,
            None => {
                measured.push((unit, quantity));
                measured.sort_by_key(|(u, _)| u.as_str());
            }
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The most one movement may move, in the unit's smallest parts: a
/// billion items, or 1,000 tonnes in grams.
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// The most a pantry may hold of one product, in its smallest parts. Far
/// beyond any shelf, and far enough below `i64::MAX` that totals over every
/// pantry of an organization cannot overflow either.
pub const MAX_ON_HAND: i64 = 1_000_000_000_000;

/// The heaviest weight one movement records, in grams (100 tonnes).
pub const MAX_WEIGHT_G: i64 = 100_000_000;

fn clip(s: &str) -> String {
    if s.chars().count() > 20 {
        s.chars().take(20).collect::<String>() + "…"
    } else {
        s.to_string()
    }
}

/// UPC-E is a UPC-A with zeros suppressed; the catalog knows the UPC-A.
pub fn upc_e_to_a(upc_e: &str) -> Option<String> {
    let d: Vec<u8> = upc_e.bytes().map(|b| b.wrapping_sub(b'0')).collect();
    if d.len() != 8 || d.iter().any(|&x| x > 9) || d[0] > 1 {
        return None;
    }
    let s = |r: &[u8]| r.iter().map(|x| (x + b'0') as char).collect::<String>();
    let (m, p) = (&d[1..7], d[6]);
    let body = match p {
        0..=2 => format!("{}{}00", s(&m[0..2]), p) + &format!("00{}", s(&m[2..5])),
        3 => format!("{}00", s(&m[0..3])) + &format!("000{}", s(&m[3..5])),
        4 => format!("{}0", s(&m[0..4])) + &format!("0000{}", s(&m[4..5])),
        _ => s(&m[0..5]) + &format!("0000{p}"),
    };
    Some(format!("{}{}{}", d[0], body, d[7]))
}

/// A Global Trade Item Number (GTIN-8, UPC-A/GTIN-12, EAN-13, GTIN-14) with
/// a valid check digit, held in its 14-digit form so the UPC-A and EAN-13
/// spellings of one product are one barcode.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Gtin(String);

impl Gtin {
    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        if digits.is_empty() {
            return Err(AppError::invalid(field, "Enter a barcode."));
        }
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            return Err(AppError::invalid(
                field,
                format!("Barcode “{}” must be digits only.", clip(input.trim())),
            ));
        }
        if ![8, 12, 13, 14].contains(&digits.len()) {
            return Err(AppError::invalid(
                field,
                format!(
                    "Barcode {} has {} digits; GTINs have 8, 12, 13 or 14.",
                    clip(&digits),
                    digits.len()
                ),
            ));
        }
        let expected = check_digit(&digits[..digits.len() - 1]);
        let actual = digits.as_bytes()[digits.len() - 1] - b'0';
        if expected != actual {
            return Err(AppError::invalid(
                field,
                format!(
                    "Barcode {digits} has check digit {actual}, but its other digits need {expected}: probably a typo."
                ),
            ));
        }
        Ok(Self(format!("{digits:0>14}")))
    }

    /// The GTIN a scanned symbol carries: EAN and UPC-A as they read,
    /// UPC-E expanded to its UPC-A, a GS1 Digital Link QR code by its
    /// `/01/` element. `format` is rxing's name ("EAN_13", "UPC_E",
    /// "QR_CODE"), as the browser's scanner reports it.
    pub fn from_symbol(format: &str, text: &str) -> Option<Self> {
        let digits = match format {
            "UPC_E" => upc_e_to_a(text)?,
            "QR_CODE" | "CODE_128" if text.contains("/01/") => {
                let at = text.find("/01/")? + 4;
                text[at..]
                    .chars()
                    .take_while(|c| c.is_ascii_digit())
                    .collect()
            }
            "QR_CODE" | "CODE_128" => return None,
            _ => text.to_string(),
        };
        Self::parse(&digits, "barcode").ok()
    }

    /// The 14-digit form, as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shortest usual spelling: EAN-8, UPC-A, EAN-13 or GTIN-14.
    pub fn display(&self) -> &str {
        let s = self.0.as_str();
        if let Some(rest) = s.strip_prefix("000000") {
            rest
        } else if let Some(rest) = s.strip_prefix("00") {
            rest
        } else if let Some(rest) = s.strip_prefix('0') {
            rest
        } else {
            s
        }
    }

    /// A stored 14-digit value, trusted.
    pub fn from_stored(s: String) -> Self {
        Self(s)
    }

    /// Parses a list of barcodes separated by commas, spaces or new lines.
    pub fn parse_list(input: &str, field: &str) -> Result<Vec<Self>, AppError> {
        let mut out: Vec<Self> = Vec::new();
        for part in input.split(|c: char| c == ',' || c == ';' || c == '\n' || c == '\r') {
            for word in part.split_whitespace() {
                let g = Self::parse(word, field)?;
                if !out.contains(&g) {
                    out.push(g);
                }
            }
        }
        if out.len() > 20 {
            return Err(AppError::invalid(
                field,
                "A product can have at most 20 barcodes.",
            ));
        }
        Ok(out)
    }
}

/// The GS1 mod-10 check digit for the digits before it.
fn check_digit(body: &str) -> u8 {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A product name: trimmed, whitespace collapsed, 1–120 characters.
pub fn parse_product_name(input: &str, field: &str) -> Result<String, AppError> {
    let s = crate::input::clean_text(input, field)?;
    if s.is_empty() {
        return Err(AppError::invalid(field, "Enter a name for the product."));
    }
    let n = s.chars().count();
    if n > 120 {
        return Err(AppError::invalid(
            field,
            format!("The name is {n} characters long; the most is 120."),
        ));
    }
    Ok(s)
}

/// A stock-keeping unit code, as a shop or supplier numbers its items:
/// optional, up to 40 letters, digits and `- _ . /`, matched without
/// regard to case. `Ok(None)` when left empty.
pub fn parse_sku(input: &str, field: &str) -> Result<Option<String>, AppError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')))
    {
        return Err(AppError::invalid(
            field,
            format!("A SKU is letters, digits and - _ . / only; “{bad}” is not one of them."),
        ));
    }
    let n = s.chars().count();
    if n > 40 {
        return Err(AppError::invalid(
            field,
            format!("The SKU is {n} characters long; the most is 40."),
        ));
    }
    Ok(Some(s.to_string()))
}

/// A category name: trimmed, 1–40 characters.
pub fn parse_category(input: &str, field: &str) -> Result<String, AppError> {
    let s = crate::input::clean_text(input, field)?;
    if s.is_empty() {
        return Err(AppError::invalid(field, "Choose or type a category."));
    }
    if s.chars().count() > 40 {
        return Err(AppError::invalid(
            field,
            "Categories are at most 40 characters.",
        ));
    }
    Ok(s)
}

/// Categories offered when a catalog has none of its own yet.
pub const SUGGESTED_CATEGORIES: [&str; 12] = [
    "Canned goods",
    "Dry goods",
    "Grains & pasta",
    "Produce",
    "Dairy",
    "Protein",
    "Frozen",
    "Bakery",
    "Beverages",
    "Baby",
    "Hygiene",
    "Household",
];

/// An optional whole number typed into a form ("" is none).
pub fn parse_optional_count(
    input: &str,
    field: &str,
    max: i64,
    what: &str,
) -> Result<Option<i64>, AppError> {
    let s = input.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<i64>() {
        Ok(n) if (0..=max).contains(&n) => Ok(Some(n)),
        _ => Err(AppError::invalid(
            field,
            format!("Enter {what} as a whole number from 0 to {max}, or leave it empty."),
        )),
    }
}

/// What a product form sends, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductInput {
    pub name: String,
    pub sku: Option<String>,
    pub category: String,
    pub unit: Unit,
    pub unit_weight_g: Option<i64>,
    pub barcodes: Vec<Gtin>,
    pub perishable: bool,
    pub shelf_life_days: Option<i64>,
}

/// The raw fields of a product form or CSV row.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductFields {
    pub name: String,
    #[serde(default)]
    pub sku: String,
    pub category: String,
    pub unit: String,
    pub unit_weight_g: String,
    pub barcodes: String,
    pub perishable: bool,
    pub shelf_life_days: String,
}

impl ProductFields {
    /// Parses every field, reporting the first bad one.
    pub fn parse(&self) -> Result<ProductInput, AppError> {
        Ok(ProductInput {
            name: parse_product_name(&self.name, "name")?,
            sku: parse_sku(&self.sku, "sku")?,
            category: parse_category(&self.category, "category")?,
            unit: Unit::parse(&self.unit, "unit")?,
            unit_weight_g: parse_optional_count(
                &self.unit_weight_g,
                "unit_weight_g",
                1_000_000,
                "the weight in grams",
            )?,
            barcodes: Gtin::parse_list(&self.barcodes, "barcodes")?,
            perishable: self.perishable,
            shelf_life_days: parse_optional_count(
                &self.shelf_life_days,
                "shelf_life_days",
                3650,
                "the shelf life in days",
            )?,
        })
    }
}

/// A product as the catalog shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub id: ProductId,
    pub organization_id: OrganizationId,
    pub name: String,
    /// Events written before products had SKUs carry none.
    #[serde(default)]
    pub sku: Option<String>,
    pub category: String,
    pub unit: Unit,
    pub unit_weight_g: Option<i64>,
    pub barcodes: Vec<Gtin>,
    pub perishable: bool,
    pub shelf_life_days: Option<i64>,
    pub archived: bool,
}

impl Product {
    /// Grams in one unit, from the product or from the unit itself.
    pub fn weight_per_unit_g(&self) -> Option<i64> {
        self.unit_weight_g.or(self.unit.intrinsic_weight_g())
    }

    /// The weight of `quantity` of this product when its weight per unit
    /// is known; an error naming `field` when that weight is more than one
    /// movement can record.
    pub fn weight_of(&self, quantity: i64, field: &str) -> Result<Option<i64>, AppError> {
        let Some(per_unit) = self.weight_per_unit_g() else {
            return Ok(None);
        };
        self.unit.weight_g(per_unit, quantity).map(Some).ok_or_else(|| {
            AppError::invalid(
                field,
                format!(
                    "{} of {} weighs more than the {} kg one movement can record; record it in parts.",
                    self.unit.format(quantity),
                    self.name,
                    MAX_WEIGHT_G / 1000
                ),
            )
        })
    }

    pub fn fields(&self) -> ProductFields {
        ProductFields {
            name: self.name.clone(),
            sku: self.sku.clone().unwrap_or_default(),
            category: self.category.clone(),
            unit: self.unit.as_str().into(),
            unit_weight_g: self
                .unit_weight_g
                .map(|w| w.to_string())
                .unwrap_or_default(),
            barcodes: self
                .barcodes
                .iter()
                .map(|g| g.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            perishable: self.perishable,
            shelf_life_days: self
                .shelf_life_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
        }
    }
}

/// How a product list is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProductSort {
    #[default]
    Name,
    Category,
    Recent,
}

impl ProductSort {
    pub fn parse(s: &str) -> Self {
        match s {
            "category" => Self::Category,
            "recent" => Self::Recent,
            _ => Self::Name,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Category => "category",
            Self::Recent => "recent",
        }
    }
}

/// One page of a catalog search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProductPage {
    pub organization_id: OrganizationId,
    pub organization_name: String,
    pub items: Vec<Product>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// Every category in use in the catalog, for filters and forms.
    pub categories: Vec<String>,
    pub can_edit: bool,
}

impl ProductPage {
    pub fn pages(&self) -> i64 {
        ((self.total + self.per_page - 1) / self.per_page).max(1)
    }
}

/// The outcome of a CSV import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ImportReport {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    /// Every bad row: line number and reason.
    pub errors: Vec<RowError>,
    /// True when nothing was written because of errors.
    pub rejected: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowError {
    pub line: i64,
    pub message: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn mixed_units_are_counted_the_way_people_count_them() {
        let mut items = 0;
        let mut measured = Vec::new();
        for (unit, q) in [
            (Unit::L, 10_000),
            (Unit::Each, 12),
            (Unit::Kg, 2_500),
            (Unit::L, 500),
            (Unit::Pack, 1),
        ] {
            add_quantity(&mut items, &mut measured, unit, q);
        }
        assert_eq!(
            mixed_quantity(items, &measured),
            "13 items · 2.5 kg · 10.5 l"
        );
        assert_eq!(mixed_quantity(0, &[(Unit::L, 10_000)]), "10 l");
        assert_eq!(mixed_quantity(0, &[]), "0 items");
        assert_eq!(mixed_quantity(1, &[]), "1 item");
    }

    use super::*;

    #[test]
    fn a_scanned_symbol_gives_its_gtin() {
        let beans = Gtin::parse("4006381333931", "b").unwrap();
        assert_eq!(
            Gtin::from_symbol("EAN_13", "4006381333931"),
            Some(beans.clone())
        );
        assert_eq!(
            Gtin::from_symbol(
                "QR_CODE",
                "https://id.example.com/01/04006381333931/17/270312"
            ),
            Some(beans)
        );
        assert_eq!(
            Gtin::from_symbol("UPC_E", "01234565").map(|g| g.display().to_string()),
            Some("012345000065".into())
        );
        assert_eq!(
            Gtin::from_symbol("QR_CODE", "https://example.com/menu"),
            None
        );
        assert_eq!(
            Gtin::from_symbol("EAN_13", "4006381333932"),
            None,
            "a wrong check digit"
        );
    }

    #[test]
    fn gtins_of_every_length_check_their_digit() {
        // Real codes: EAN-13, UPC-A, EAN-8, GTIN-14.
        for ok in [
            "4006381333931",
            "036000291452",
            "96385074",
            "10012345678902",
        ] {
            assert!(Gtin::parse(ok, "b").is_ok(), "{ok}");
        }
        let e = Gtin::parse("4006381333932", "b").unwrap_err();
        assert!(e.to_string().contains("need 1"), "{e}");
        assert!(Gtin::parse("12345", "b").is_err());
        assert!(Gtin::parse("40063813339a1", "b").is_err());
        // UPC-A and its EAN-13 spelling are the same product.
        assert_eq!(
            Gtin::parse("036000291452", "b").unwrap(),
            Gtin::parse("0036000291452", "b").unwrap()
        );
        assert_eq!(
            Gtin::parse("0036000291452", "b").unwrap().display(),
            "036000291452"
        );
        assert_eq!(
            Gtin::parse("4006381333931", "b").unwrap().display(),
            "4006381333931"
        );
        let list = Gtin::parse_list("4006381333931, 96385074\n4006381333931", "b").unwrap();
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn quantities_are_exact_integers_in_the_smallest_part() {
        assert_eq!(Unit::Each.parse_quantity("12", "q").unwrap(), 12);
        assert_eq!(Unit::Kg.parse_quantity("2.5", "q").unwrap(), 2500);
        assert_eq!(Unit::Kg.parse_quantity("0.001", "q").unwrap(), 1);
        assert_eq!(Unit::Lb.parse_quantity("1.25", "q").unwrap(), 20);
        assert_eq!(Unit::L.parse_quantity(".5", "q").unwrap(), 500);
        assert!(Unit::Each.parse_quantity("1.5", "q").is_err());
        assert!(Unit::Kg.parse_quantity("0.0005", "q").is_err());
        assert!(Unit::Lb.parse_quantity("0.1", "q").is_err());
        assert!(Unit::Each.parse_quantity("-3", "q").is_err());
        assert!(Unit::Each.parse_quantity("1e3", "q").is_err());
        assert!(Unit::Each.parse_quantity("", "q").is_err());
        assert!(Unit::Each.parse_quantity("99999999999999999", "q").is_err());
        // The largest quantity is accepted, one part more is refused with it.
        assert_eq!(
            Unit::Each.parse_quantity("1000000000", "q").unwrap(),
            MAX_QUANTITY
        );
        let err = Unit::Each.parse_quantity("1000000001", "q").unwrap_err();
        assert!(err.to_string().contains("1000000000"), "{err}");
        assert!(Unit::Kg.parse_quantity("1000000.001", "q").is_err());
        // Weights are checked, never wrapped.
        assert_eq!(Unit::Each.weight_g(1_000_000, 100), Some(100_000_000));
        assert_eq!(Unit::Each.weight_g(1_000_000, 101), None);
        assert_eq!(Unit::Each.weight_g(1_000_000, i64::MAX), None);
        assert_eq!(Unit::Kg.weight_g(1000, 2500), Some(2500));
        assert_eq!(Unit::Kg.format(2500), "2.5 kg");
        assert_eq!(Unit::Lb.format(20), "1.25 lb");
        assert_eq!(Unit::Lb.format(1), "0.0625 lb");
        assert_eq!(Unit::Each.format(-3), "-3");
        for parts in [0, 1, 7, 999, 1000, 1001, 123456] {
            for unit in Unit::ALL {
                let text = unit.format(parts);
                let number = text.split(' ').next().unwrap();
                assert_eq!(unit.parse_quantity(number, "q").unwrap(), parts, "{text}");
            }
        }
    }

    #[test]
    fn product_fields_parse_or_name_the_bad_field() {
        let mut f = ProductFields {
            name: "  Black   beans ".into(),
            sku: " BN-425/a ".into(),
            category: "Canned goods".into(),
            unit: "each".into(),
            unit_weight_g: "425".into(),
            barcodes: "4006381333931".into(),
            perishable: false,
            shelf_life_days: "".into(),
        };
        let p = f.parse().unwrap();
        assert_eq!(p.name, "Black beans");
        assert_eq!(p.sku.as_deref(), Some("BN-425/a"));
        assert_eq!(p.unit_weight_g, Some(425));
        f.sku = "BN 425".into();
        let e = f.parse().unwrap_err();
        assert_eq!(
            (e.field(), e.to_string().contains("“ ”")),
            (Some("sku"), true)
        );
        f.sku = "X".repeat(41);
        assert_eq!(f.parse().unwrap_err().field(), Some("sku"));
        f.sku = "".into();
        assert_eq!(f.parse().unwrap().sku, None);
        f.unit_weight_g = "heavy".into();
        assert_eq!(f.parse().unwrap_err().field(), Some("unit_weight_g"));
        f.unit_weight_g = "".into();
        f.unit = "crate".into();
        assert_eq!(f.parse().unwrap_err().field(), Some("unit"));
    }
}

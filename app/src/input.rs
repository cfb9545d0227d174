//! Search and paging inputs, parsed once at the edge.
//!
//! Every list takes a search text, a category filter and a page number from
//! the client. Unbounded, they reach cache keys, `like` patterns and
//! `offset` clauses: a megabyte of text grew the stock cache by megabytes
//! per request, a 60,000-character pattern was "too complex" for SQLite,
//! a NUL byte broke PostgreSQL's text encoding and `page=i64::MAX`
//! overflowed into a negative offset. These types refuse all of that with
//! a message naming the field, before anything else runs.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Text people type into a name or a short line, made comparable and safe
/// to show: Unicode NFC (so "é" typed two ways is one name), runs of
/// whitespace collapsed to one space, trimmed. Control characters,
/// bidirectional overrides and isolates (which make text display in
/// another order than it is stored) and zero-width characters (which make
/// two names look alike and differ) are refused with a message naming the
/// field. Empty stays empty; callers decide whether that is allowed.
pub fn clean_text(input: &str, field: &str) -> Result<String, AppError> {
    if let Some(c) = input.chars().find(|c| is_invisible(*c)) {
        let what = if c.is_control() {
            "control characters"
        } else {
            "invisible formatting characters (such as zero-width spaces or direction overrides)"
        };
        return Err(AppError::invalid(field, format!("Remove the {what}.")));
    }
    Ok(normalized(input)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" "))
}

/// Text of several lines (a post, a comment): the same checks as
/// [`clean_text`], but line breaks are kept. Each line is cleaned; runs of
/// blank lines become one; the whole is trimmed and at most `max_chars`.
pub fn clean_paragraphs(input: &str, field: &str, max_chars: usize) -> Result<String, AppError> {
    let mut lines: Vec<String> = Vec::new();
    for line in input.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        let line = clean_text(line, field)?;
        if line.is_empty() && lines.last().is_none_or(|l| l.is_empty()) {
            continue;
        }
        lines.push(line);
    }
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let text = lines.join("\n");
    let count = text.chars().count();
    if count > max_chars {
        return Err(AppError::invalid(
            field,
            format!("Keep it to {max_chars} characters (this is {count})."),
        ));
    }
    Ok(text)
}

/// Characters that change how text looks without being seen: C0/C1
/// controls (tabs and line breaks count as whitespace instead), the
/// zero-width characters and the bidirectional controls.
fn is_invisible(c: char) -> bool {
    (c.is_control() && !c.is_whitespace())
        || matches!(c,
            '\u{200B}'..='\u{200F}'   // zero-width space/joiners, LRM, RLM
            | '\u{202A}'..='\u{202E}' // embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // isolates
            | '\u{FEFF}'               // zero-width no-break space
            | '\u{180E}'               // Mongolian vowel separator
            | '\u{00AD}'               // soft hyphen
        )
}

/// NFC on the server; in the browser the text is only checked (the tables
/// would cost the bundle more than a round trip is worth).
#[cfg(feature = "ssr")]
fn normalized(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    input.nfc().collect()
}

#[cfg(not(feature = "ssr"))]
fn normalized(input: &str) -> String {
    input.to_string()
}

/// Longest search text or filter anyone types (a product name is at most
/// 120 characters; a barcode 14 digits).
pub const MAX_SEARCH_CHARS: usize = 200;

/// Highest page number a list answers (100,000 pages of 50 rows is five
/// million rows, beyond any pantry's list).
pub const MAX_PAGE: i64 = 100_000;

/// Trimmed search or filter text: at most [`MAX_SEARCH_CHARS`] characters,
/// no control characters. Empty means "no filter".
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SearchText(String);

impl SearchText {
    pub fn parse(input: &str, field: &str) -> Result<Self, AppError> {
        let text = input.trim();
        if text.chars().count() > MAX_SEARCH_CHARS {
            return Err(AppError::invalid(
                field,
                format!("Search for at most {MAX_SEARCH_CHARS} characters."),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(AppError::invalid(
                field,
                "Search text cannot contain control characters.",
            ));
        }
        Ok(Self(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A page number from 1 to [`MAX_PAGE`]; zero or less (an absent page)
/// means the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PageNumber(i64);

impl Default for PageNumber {
    fn default() -> Self {
        Self(1)
    }
}

impl PageNumber {
    pub fn parse(page: i64, field: &str) -> Result<Self, AppError> {
        match page {
            ..=0 => Ok(Self(1)),
            1..=MAX_PAGE => Ok(Self(page)),
            _ => Err(AppError::invalid(
                field,
                format!("Choose a page from 1 to {MAX_PAGE}."),
            )),
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Rows to skip before this page, `per_page` rows a page. Cannot
    /// overflow: both factors are bounded.
    pub fn offset(self, per_page: i64) -> i64 {
        (self.0 - 1) * per_page
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_text_is_trimmed_and_bounded() {
        assert_eq!(SearchText::parse("  rice ", "q").unwrap().as_str(), "rice");
        assert!(SearchText::parse("", "q").unwrap().is_empty());
        let long = "é".repeat(MAX_SEARCH_CHARS);
        assert!(SearchText::parse(&long, "q").is_ok());
        let err = SearchText::parse(&format!("{long}x"), "category").unwrap_err();
        assert_eq!(err.field(), Some("category"));
        assert_eq!(err.status(), 422);
        for bad in ["a\0b", "a\u{7}b", "line\nbreak"] {
            assert_eq!(SearchText::parse(bad, "q").unwrap_err().field(), Some("q"));
        }
    }

    #[test]
    fn names_are_normalized_and_invisible_characters_refused() {
        assert_eq!(
            clean_text("  Main \t  Pantry ", "name").unwrap(),
            "Main Pantry"
        );
        assert_eq!(clean_text("", "name").unwrap(), "");
        // Decomposed é (e + combining acute) becomes the composed one.
        #[cfg(feature = "ssr")]
        assert_eq!(clean_text("Cafe\u{301}", "name").unwrap(), "Caf\u{e9}");
        for bad in [
            "Pantry1\u{200b} A",
            "evil\u{202e}txt.exe",
            "a\u{2066}b",
            "nul\0",
            "bell\u{7}",
            "\u{feff}bom",
        ] {
            let err = clean_text(bad, "name").unwrap_err();
            assert_eq!((err.field(), err.status()), (Some("name"), 422), "{bad:?}");
        }
    }

    #[test]
    fn pages_start_at_one_and_stop_before_overflow() {
        assert_eq!(PageNumber::parse(0, "page").unwrap().get(), 1);
        assert_eq!(PageNumber::parse(-5, "page").unwrap().get(), 1);
        assert_eq!(PageNumber::parse(3, "page").unwrap().offset(50), 100);
        assert_eq!(
            PageNumber::parse(MAX_PAGE, "page")
                .unwrap()
                .offset(i32::MAX as i64),
            (MAX_PAGE - 1) * i32::MAX as i64
        );
        let err = PageNumber::parse(i64::MAX, "page").unwrap_err();
        assert_eq!(err.field(), Some("page"));
    }
}

/// Money as people write it (`3`, `3.5`, `$3.50`, `1,234.56`) in cents:
/// `Ok(None)` when empty, `Err(())` when it is not an amount (negative,
/// more than two decimals, over twelve digits), for the caller to say so
/// in its own words.
pub fn money_cents(text: &str) -> Result<Option<i64>, ()> {
    let t = text.trim().trim_start_matches('$').replace(',', "");
    if t.is_empty() {
        return Ok(None);
    }
    let (whole, frac) = t.split_once('.').unwrap_or((&t, ""));
    if whole.is_empty() && frac.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || whole.len() > 12
    {
        return Err(());
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| ())?
    };
    let cents: i64 = format!("{frac:0<2}").parse().map_err(|_| ())?;
    Ok(Some(whole * 100 + cents))
}

//! Cells of the CSV files Larder writes, made safe to open in a
//! spreadsheet. A cell that starts with `=`, `+`, `-`, `@`, a tab or a
//! carriage return is read as a formula by Excel, LibreOffice and Google
//! Sheets (CSV injection, OWASP); a leading apostrophe makes it text.
//! Every CSV export and error file goes through here.

use std::borrow::Cow;

/// `text` as a cell no spreadsheet will evaluate.
pub fn cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// A name as part of a download's file name: lowercase ASCII letters and
/// digits, anything else a dash ("Main Pantry" → `main-pantry`).
pub fn file_slug(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    slug.trim_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_slugs_are_plain() {
        assert_eq!(file_slug("Main Pantry"), "main-pantry");
        assert_eq!(file_slug("  Café \"Nord\" "), "caf---nord");
    }

    #[test]
    fn formulas_become_text_and_the_rest_is_untouched() {
        assert_eq!(
            cell("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        for risky in ["+1", "-2", "@SUM(A1)", "\tx", "\rx"] {
            assert!(cell(risky).starts_with('\''), "{risky:?}");
        }
        assert!(matches!(cell("Black beans"), Cow::Borrowed("Black beans")));
    }
}

//! Cursors: where the next page starts, opaque to the client. A cursor is
//! the position of the last row given out (its time and id), so rows
//! written meanwhile neither repeat nor go missing, unlike page offsets.

use base64::Engine;

use crate::error::{AppError, AppResult};

const ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub fn encode(at_ms: i64, id: &str) -> String {
    ENGINE.encode(format!("{at_ms}.{id}"))
}

pub fn decode(cursor: &str) -> AppResult<(i64, String)> {
    let refused = || {
        AppError::invalid(
            "cursor",
            "That cursor was not given out by this API; pass back `next_cursor` exactly as received.",
        )
    };
    let bytes = ENGINE.decode(cursor.trim()).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let (at, id) = text.split_once('.').ok_or_else(refused)?;
    let at = at.parse().map_err(|_| refused())?;
    if id.is_empty() || id.len() > 64 {
        return Err(refused());
    }
    Ok((at, id.to_string()))
}

/// A cursor into a list read page by page in a fixed order (the catalog,
/// a pantry's stock): the page that comes next. Lists that only grow at
/// the end (the ledger) use [`encode`] instead.
pub fn encode_page(page: i64) -> String {
    ENGINE.encode(format!("page.{page}"))
}

pub fn decode_page(cursor: &str) -> AppResult<crate::input::PageNumber> {
    let refused = || {
        AppError::invalid(
            "cursor",
            "That cursor was not given out by this API; pass back `next_cursor` exactly as received.",
        )
    };
    let bytes = ENGINE.decode(cursor.trim()).map_err(|_| refused())?;
    let text = String::from_utf8(bytes).map_err(|_| refused())?;
    let page = text
        .strip_prefix("page.")
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .ok_or_else(refused)?;
    crate::input::PageNumber::parse(page, "cursor")
}

/// The page size asked for: 1 to `max`, `default` when not given.
pub fn limit(given: Option<&String>, default: i64, max: i64) -> AppResult<i64> {
    match given {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(AppError::invalid(
                "limit",
                format!("The limit is a whole number from 1 to {max}."),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_anything_else() {
        let c = encode(1_764_921_600_000, "0193a9c1-7d2e");
        assert_eq!(
            decode(&c).unwrap(),
            (1_764_921_600_000, "0193a9c1-7d2e".into())
        );
        for bad in [
            "",
            "not base64!",
            "bm9kb3Q",
            &ENGINE.encode("x.id"),
            &ENGINE.encode("5."),
        ] {
            assert_eq!(decode(bad).unwrap_err().field(), Some("cursor"), "{bad}");
        }
    }

    #[test]
    fn page_cursors_round_trip_and_are_not_ledger_cursors() {
        assert_eq!(decode_page(&encode_page(3)).unwrap().get(), 3);
        assert!(decode_page(&encode(1_764_921_600_000, "id")).is_err());
        assert!(decode_page(&ENGINE.encode("page.0")).is_err());
        assert!(decode(&encode_page(2)).is_err());
    }

    #[test]
    fn limits_stay_within_bounds() {
        assert_eq!(limit(None, 100, 500).unwrap(), 100);
        assert_eq!(limit(Some(&"500".into()), 100, 500).unwrap(), 500);
        for bad in ["0", "501", "-1", "ten"] {
            assert!(limit(Some(&bad.to_string()), 100, 500).is_err(), "{bad}");
        }
    }
}

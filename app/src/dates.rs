//! Calendar days in and out: one parser and one formatter for the
//! `YYYY-MM-DD` form every form, import and report uses, from the `time`
//! crate (no hand-written calendar arithmetic anywhere else).

use std::ops::RangeInclusive;

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::Date;

use crate::error::{AppError, AppResult};

const ISO: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

/// Why a `YYYY-MM-DD` text is not a day in `years`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotADay {
    /// Not of the form `YYYY-MM-DD` at all.
    Form,
    /// Of the form, but not on the calendar (February 30th).
    Calendar,
    /// A real day outside the years allowed.
    Years,
}

/// A day written `YYYY-MM-DD` (surrounding spaces ignored) within `years`.
pub fn parse(input: &str, years: RangeInclusive<i32>) -> Result<Date, NotADay> {
    let t = input.trim();
    // The form first, so "2026-02-30" reads as a calendar mistake rather
    // than as badly written.
    let b = t.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped {
        return Err(NotADay::Form);
    }
    let date = Date::parse(t, ISO).map_err(|_| NotADay::Calendar)?;
    if !years.contains(&date.year()) {
        return Err(NotADay::Years);
    }
    Ok(date)
}

/// [`parse`] with the messages forms show, naming `field`.
pub fn parse_field(input: &str, field: &str, years: RangeInclusive<i32>) -> AppResult<Date> {
    let t = input.trim();
    let shown: String = t.chars().take(20).collect();
    parse(t, years.clone()).map_err(|e| {
        AppError::invalid(
            field,
            match e {
                NotADay::Form => format!("“{shown}” is not a date; use the form 2027-03-31."),
                NotADay::Calendar => format!("{shown} is not a day of the calendar."),
                NotADay::Years => format!(
                    "Choose a date between {} and {}.",
                    years.start(),
                    years.end()
                ),
            },
        )
    })
}

/// The `YYYY-MM-DD` form of a day.
pub fn iso(d: Date) -> String {
    d.format(ISO).unwrap_or_else(|_| "0000-00-00".into())
}

/// Today (UTC) by `clock`.
pub fn today(clock: &dyn crate::clock::Clock) -> Date {
    time::OffsetDateTime::from_unix_timestamp_nanos(clock.now_ms() as i128 * 1_000_000)
        .map(|t| t.date())
        .unwrap_or(Date::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_by_the_calendar_and_format_back() {
        let d = parse(" 2028-02-29 ", 2000..=2100).unwrap();
        assert_eq!(iso(d), "2028-02-29");
        assert_eq!(parse("2027-02-29", 2000..=2100), Err(NotADay::Calendar));
        assert_eq!(parse("2100-02-29", 2000..=2100), Err(NotADay::Calendar));
        assert_eq!(
            parse("2000-02-29", 2000..=2100).map(iso),
            Ok("2000-02-29".into())
        );
        assert_eq!(parse("2026-13-01", 2000..=2100), Err(NotADay::Calendar));
        for bad in [
            "",
            "2026-1-01",
            "26-01-01",
            "2026/01/01",
            "2026-01-01T10:00",
            "２０２６-01-01",
        ] {
            assert_eq!(parse(bad, 2000..=2100), Err(NotADay::Form), "{bad}");
        }
        assert_eq!(parse("1999-12-31", 2000..=2100), Err(NotADay::Years));
        let e = parse_field("2026-02-30", "best_before", 2000..=2100).unwrap_err();
        assert_eq!(e.field(), Some("best_before"));
        assert_eq!(e.to_string(), "2026-02-30 is not a day of the calendar.");
    }

    #[test]
    fn today_follows_the_clock() {
        let clock = crate::clock::ManualClock::at(1_767_225_600_000); // 2026-01-01T00:00Z
        assert_eq!(iso(today(clock.as_ref())), "2026-01-01");
        clock.advance(std::time::Duration::from_secs(86_399));
        assert_eq!(iso(today(clock.as_ref())), "2026-01-01");
        clock.advance(std::time::Duration::from_secs(1));
        assert_eq!(iso(today(clock.as_ref())), "2026-01-02");
    }
}

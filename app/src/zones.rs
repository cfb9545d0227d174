//! Time zones: each pantry counts its days, and shows its times, in its
//! own zone (an IANA name such as `America/Los_Angeles`; the
//! organization's when the pantry has none; UTC when neither was chosen).
//!
//! The zone rules come from `jiff`, which reads the system's time zone
//! database (Debian's `tzdata`, kept current by the system) and falls back
//! to the copy bundled into the binary where there is none (a slim
//! container). Dates elsewhere are `time::Date`; this module hands days
//! out in that form.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use time::Date;

use std::collections::HashMap;

use crate::error::{AppError, AppResult};

/// What a place whose zone was never chosen uses.
pub const DEFAULT: &str = "UTC";

/// A time zone of the database, by its IANA name.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Zone {
    pub fn utc() -> Self {
        Self {
            name: DEFAULT.into(),
            tz: TimeZone::UTC,
        }
    }

    /// A zone a person chose, by name (`field` names the form field).
    pub fn parse(input: &str, field: &str) -> AppResult<Self> {
        let name = input.trim();
        let shown: String = name.chars().take(40).collect();
        if name.is_empty() {
            return Err(AppError::invalid(
                field,
                "Choose a time zone, such as America/Chicago.",
            ));
        }
        // Names are short ASCII paths; anything else is not one, and is
        // not handed to the database (which would read it as a file name).
        if name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b))
            || name.starts_with('/')
            || name.contains("..")
        {
            return Err(AppError::invalid(
                field,
                format!("“{shown}” is not a time zone name; use one like America/Chicago."),
            ));
        }
        match TimeZone::get(name) {
            Ok(tz) => Ok(Self {
                // The database's own spelling: "america/chicago" is
                // stored as "America/Chicago".
                name: tz.iana_name().unwrap_or(name).to_string(),
                tz,
            }),
            Err(_) => Err(AppError::invalid(
                field,
                format!("“{shown}” is not a time zone we know; use one like America/Chicago."),
            )),
        }
    }

    /// A zone as stored. One the database no longer knows (a name retired
    /// since) counts as UTC, with a warning, rather than failing the page.
    pub fn stored(name: &str) -> Self {
        match TimeZone::get(name) {
            Ok(tz) => Self {
                name: name.to_string(),
                tz,
            },
            Err(error) => {
                tracing::warn!(zone = name, %error, "a stored time zone is not in the database; using UTC");
                Self::utc()
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    fn zoned(&self, ms: i64) -> Option<jiff::ZonedDateTime> {
        Timestamp::from_millisecond(ms)
            .ok()
            .map(|t| t.to_zoned_datetime(self.tz.clone()))
    }

    /// The local day an instant (ms since the epoch) falls on.
    pub fn day_of(&self, ms: i64) -> Date {
        self.zoned(ms)
            .and_then(|z| to_date(z.date()))
            .unwrap_or(Date::MIN)
    }

    /// The first instant (ms since the epoch) of a local day: midnight, or
    /// the first minute after it where a change of offset skips midnight.
    pub fn start_of(&self, day: Date) -> i64 {
        jiff::civil::Date::new(day.year() as i16, day.month() as i8, day.day() as i8)
            .and_then(|d| d.to_zoned_datetime(self.tz.clone()))
            .and_then(|z| z.start_of_day())
            .map(|z| z.timestamp().as_millisecond())
            .unwrap_or(i64::MIN)
    }

    /// The zone's offset from UTC (in ms, to add to a UTC instant) over
    /// `[from_ms, to_ms)`, as pieces `(start, end, offset)` that cover the
    /// span without gaps: one per change of offset (about two a year where
    /// clocks change). With them a database sums by local day as
    /// `(t + offset) / 86400000`, exactly, without knowing any zone.
    pub fn offsets(&self, from_ms: i64, to_ms: i64) -> Vec<(i64, i64, i64)> {
        let ms_of = |t: Timestamp| t.as_millisecond();
        let Ok(from) = Timestamp::from_millisecond(from_ms) else {
            return vec![(from_ms, to_ms, 0)];
        };
        let mut pieces = Vec::new();
        let mut start = from_ms;
        let mut offset = self.tz.to_offset(from).seconds() as i64 * 1000;
        for t in self.tz.following(from) {
            let at = ms_of(t.timestamp());
            if at >= to_ms {
                break;
            }
            let next = t.offset().seconds() as i64 * 1000;
            if next != offset && at > start {
                pieces.push((start, at, offset));
                start = at;
            }
            offset = next;
        }
        pieces.push((start, to_ms, offset));
        pieces
    }

    /// The local wall-clock time of an instant, to the second.
    pub fn wall_clock(&self, ms: i64) -> Option<jiff::civil::DateTime> {
        self.zoned(ms).map(|z| z.datetime())
    }

    /// The instant a local wall-clock time names: the earlier one where
    /// clocks go back and it happens twice, the same distance past the gap
    /// where clocks go forward and it never happens.
    pub fn instant_of(&self, wall: jiff::civil::DateTime) -> Option<i64> {
        wall.to_zoned_datetime(self.tz.clone())
            .ok()
            .map(|z| z.timestamp().as_millisecond())
    }

    /// `2026-11-22 14:05 PST`: an instant as people at the place read it.
    pub fn format(&self, ms: i64) -> String {
        self.zoned(ms)
            .map(|z| z.strftime("%Y-%m-%d %H:%M %Z").to_string())
            .unwrap_or_else(|| "unknown time".into())
    }
}

/// Pantries with their time zones and a period of days in each, and each
/// zone's offsets over the period: what turns an instant into the
/// pantry's local day, in Rust ([`LocalDays::day_of`]) and in SQL alike
/// (join `z` on the pantry and `o` on its zone and the instant, then
/// `(t + o.offset_ms) / 86400000` is the local day's number).
pub struct LocalDays {
    /// Pantry id → (zone name, first instant, end).
    pantries: HashMap<String, (String, i64, i64)>,
    zones: HashMap<String, Zone>,
    /// (zone name, start, end, offset): the zone's offset over a span.
    offsets: Vec<(String, i64, i64, i64)>,
}

const PANTRY_ZONES: crate::db::RowSet = crate::db::RowSet {
    name: "z",
    columns: &[
        ("pantry_id", "text"),
        ("zone", "text"),
        ("from_ms", "bigint"),
        ("to_ms", "bigint"),
    ],
};

const ZONE_OFFSETS: crate::db::RowSet = crate::db::RowSet {
    name: "o",
    columns: &[
        ("zone", "text"),
        ("start_ms", "bigint"),
        ("end_ms", "bigint"),
        ("offset_ms", "bigint"),
    ],
};

impl LocalDays {
    /// The pantries `condition` (on `pantries p`, with `id` bound as `$1`)
    /// selects, over the days `from` to `to`.
    pub async fn of(
        db: &crate::db::Db,
        condition: &str,
        id: &str,
        from: Date,
        to: Date,
    ) -> AppResult<Self> {
        use sqlx::Row as _;
        let rows = sqlx::query(&format!(
            "select p.id, coalesce(p.time_zone, o.time_zone) as time_zone from pantries p \
             join organizations o on o.id = p.organization_id where {condition}"
        ))
        .bind(id)
        .fetch_all(db.pool())
        .await?;
        let end = to.next_day().unwrap_or(to);
        let mut days = LocalDays {
            pantries: HashMap::new(),
            zones: HashMap::new(),
            offsets: Vec::new(),
        };
        for r in rows {
            let name: String = r.try_get("time_zone")?;
            let zone = days
                .zones
                .entry(name.clone())
                .or_insert_with(|| Zone::stored(&name));
            let period = (zone.start_of(from), zone.start_of(end));
            days.pantries
                .insert(r.try_get("id")?, (name, period.0, period.1));
        }
        for (name, zone) in &days.zones {
            let mut pieces = zone.offsets(zone.start_of(from), zone.start_of(end));
            // Open at both ends: a correction's visit may lie before the
            // period (it then counts on a day outside it, as before).
            if let Some(first) = pieces.first_mut() {
                first.0 = i64::MIN / 4;
            }
            if let Some(last) = pieces.last_mut() {
                last.1 = i64::MAX / 4;
            }
            days.offsets.extend(
                pieces
                    .into_iter()
                    .map(|(a, b, offset)| (name.clone(), a, b, offset)),
            );
        }
        Ok(days)
    }

    /// The widest span any pantry's period covers.
    pub fn bounds(&self) -> (i64, i64) {
        let from = self.pantries.values().map(|p| p.1).min().unwrap_or(0);
        let to = self.pantries.values().map(|p| p.2).max().unwrap_or(0);
        (from, to)
    }

    /// `with z as (…), o as (…)`, their parameters numbered from `first`.
    pub fn with(&self, backend: crate::db::Backend, first: usize) -> String {
        format!(
            "with {}, {}",
            PANTRY_ZONES.cte(backend, first),
            ZONE_OFFSETS.cte(backend, first + 1)
        )
    }

    /// The two row sets' parameters.
    pub fn params(&self) -> AppResult<(String, String)> {
        use crate::db::Value;
        let z: Vec<Vec<Value>> = self
            .pantries
            .iter()
            .map(|(id, (zone, from, to))| {
                vec![id.into(), zone.into(), (*from).into(), (*to).into()]
            })
            .collect();
        let o: Vec<Vec<Value>> = self
            .offsets
            .iter()
            .map(|(zone, a, b, offset)| {
                vec![zone.into(), (*a).into(), (*b).into(), (*offset).into()]
            })
            .collect();
        Ok((crate::db::encode_rows(&z)?, crate::db::encode_rows(&o)?))
    }

    /// The pantry's local day (a day number) of an instant in its period.
    pub fn day_of(&self, pantry: &str, at: i64) -> Option<i64> {
        let (zone, from, to) = self.pantries.get(pantry)?;
        if at < *from || at >= *to {
            return None;
        }
        Some(day_number(self.zones.get(zone)?.day_of(at)))
    }
}

/// Days from 1970-01-01 to the Julian day number.
const UNIX_JULIAN: i64 = 2_440_588;

/// Days from 1970-01-01: the day numbers SQL computes.
pub fn day_number(d: Date) -> i64 {
    d.to_julian_day() as i64 - UNIX_JULIAN
}

/// The day a day number stands for.
pub fn date_of(day: i64) -> Date {
    Date::from_julian_day((day + UNIX_JULIAN) as i32).unwrap_or(Date::MIN)
}

fn to_date(d: jiff::civil::Date) -> Option<Date> {
    let month = time::Month::try_from(d.month() as u8).ok()?;
    Date::from_calendar_date(d.year() as i32, month, d.day() as u8).ok()
}

/// Every zone name people can choose, sorted: the database's region/city
/// names and UTC (not its aliases such as `US/Pacific` or `EST5EDT`).
pub fn names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|n| n.to_string())
        .filter(|n| {
            n.contains('/')
                && !n.starts_with("Etc/")
                && !n.starts_with("posix/")
                && !n.starts_with("right/")
                && !n.starts_with("US/")
                && !n.starts_with("SystemV/")
        })
        .collect();
    names.push(DEFAULT.into());
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(rfc3339: &str) -> i64 {
        rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn an_evening_in_california_is_still_that_day() {
        let la = Zone::parse("America/Los_Angeles", "time_zone").unwrap();
        let evening = ms("2026-11-20T04:30:00Z"); // 20:30 on the 19th there
        assert_eq!(crate::dates::iso(la.day_of(evening)), "2026-11-19");
        assert_eq!(crate::dates::iso(Zone::utc().day_of(evening)), "2026-11-20");
        assert_eq!(la.format(evening), "2026-11-19 20:30 PST");
    }

    #[test]
    fn days_start_at_local_midnight_across_changes_of_offset() {
        let la = Zone::parse("America/Los_Angeles", "z").unwrap();
        let day = |s| crate::dates::parse(s, 2000..=2100).unwrap();
        assert_eq!(la.start_of(day("2026-11-19")), ms("2026-11-19T08:00:00Z"));
        // Summer time ends on 1 November 2026: that day has 25 hours.
        let long = la.start_of(day("2026-11-02")) - la.start_of(day("2026-11-01"));
        assert_eq!(long, 25 * 3_600_000);
        // Chile's clocks skip midnight in September: the day starts at 01:00.
        let santiago = Zone::parse("America/Santiago", "z").unwrap();
        assert_eq!(
            santiago.start_of(day("2026-09-06")),
            ms("2026-09-06T04:00:00Z")
        );
    }

    #[test]
    fn offsets_cover_a_span_and_change_where_the_clocks_do() {
        let la = Zone::parse("America/Los_Angeles", "z").unwrap();
        let (from, to) = (ms("2026-01-01T08:00:00Z"), ms("2027-01-01T08:00:00Z"));
        let pieces = la.offsets(from, to);
        let hour = 3_600_000;
        assert_eq!(
            pieces,
            [
                (from, ms("2026-03-08T10:00:00Z"), -8 * hour),
                (
                    ms("2026-03-08T10:00:00Z"),
                    ms("2026-11-01T09:00:00Z"),
                    -7 * hour
                ),
                (ms("2026-11-01T09:00:00Z"), to, -8 * hour),
            ]
        );
        // Every instant's local day, by the pieces, is the one jiff gives.
        let mut t = from;
        while t < to {
            let (_, _, offset) = pieces.iter().find(|(a, b, _)| *a <= t && t < *b).unwrap();
            let day = (t + offset).div_euclid(86_400_000);
            let expected = la.day_of(t)
                - time::Date::from_calendar_date(1970, time::Month::January, 1).unwrap();
            assert_eq!(day, expected.whole_days(), "at {t}");
            t += 37 * 60_000 * 13; // about every 8 hours, at odd minutes
        }
        assert_eq!(Zone::utc().offsets(from, to), [(from, to, 0)]);
    }

    #[test]
    fn names_are_checked_and_spelled_as_the_database_does() {
        assert_eq!(
            Zone::parse(" america/chicago ", "z").unwrap().name(),
            "America/Chicago"
        );
        for bad in [
            "",
            "Mars/Olympus_Mons",
            "../../etc/passwd",
            "/etc/localtime",
            "a\u{202e}b",
        ] {
            let e = Zone::parse(bad, "time_zone").unwrap_err();
            assert_eq!(e.field(), Some("time_zone"), "{bad}");
        }
        assert_eq!(Zone::stored("Nowhere/Gone"), Zone::utc());
        let names = names();
        assert!(names.contains(&"America/Chicago".to_string()));
        assert!(names.contains(&"UTC".to_string()));
        assert!(!names.iter().any(|n| n.starts_with("US/")));
    }
}

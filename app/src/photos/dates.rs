//! Reading printed best-before and expiry dates: Tesseract (Debian's
//! `tesseract-ocr`, run as a process, offline) gives the words on the
//! photo with a confidence each; [`find_dates`] picks out what reads as a
//! date ("BEST BEFORE 12 MAY 2027", "EXP 2027-11-30", "BB 05/28",
//! "12MAY27"), checks that it could be one (a real calendar day, not long
//! past, not decades ahead) and scores it: the words' own confidence, more
//! when a best-before or expiry keyword precedes it, less when day and
//! month could be either way round.

use std::time::Duration;

use image::DynamicImage;
use time::{Date, Month};

/// A date read from a photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DateFound {
    /// YYYY-MM-DD.
    pub date: String,
    /// The words it was read from, as printed ("BEST BEFORE 12 MAY 2027").
    pub text: String,
    /// Percent.
    pub confidence: i64,
}

/// How long one photo may take to read.
const TIMEOUT: Duration = Duration::from_secs(30);

/// The words of a photo, line by line, each with Tesseract's confidence.
/// Give it the photo in colour: Tesseract thresholds each channel on its
/// own, which finds dark print on a coloured label where one grey
/// threshold loses it among the background (seen: 18 of 18 dates missed
/// in the benchmark's photos when they were sent grey).
pub async fn recognise(photo: &DynamicImage) -> Result<Vec<Vec<(String, f32)>>, String> {
    let mut png = Vec::new();
    photo
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new("tesseract")
        // Sparse text: labels sit anywhere on a photo, not in paragraphs.
        .args(["stdin", "stdout", "--psm", "11", "-l", "eng", "tsv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                "text reading is not installed on this server (Debian's tesseract-ocr package)"
                    .to_string()
            }
            _ => format!("could not start tesseract: {e}"),
        })?;
    let mut stdin = child.stdin.take().ok_or("tesseract has no input")?;
    let feed = async move {
        use tokio::io::AsyncWriteExt;
        stdin.write_all(&png).await?;
        stdin.shutdown().await
    };
    let run = async {
        let (fed, out) = tokio::join!(feed, child.wait_with_output());
        fed.map_err(|e| format!("could not send the photo to tesseract: {e}"))?;
        out.map_err(|e| format!("tesseract failed: {e}"))
    };
    let out = tokio::time::timeout(TIMEOUT, run)
        .await
        .map_err(|_| format!("tesseract took longer than {} s", TIMEOUT.as_secs()))??;
    if !out.status.success() {
        return Err(format!(
            "tesseract failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(lines_of_tsv(&String::from_utf8_lossy(&out.stdout)))
}

/// The printed dates in a photo. Tesseract reads the whole photo first;
/// when that finds no date, it reads four overlapping quarters (each 60%
/// of the width and height), since its page layout analysis loses a small
/// label among a busy background that a crop leaves out (in the
/// benchmark's photos: 2 of 18 dates from whole photos, 5 of 5 from
/// quarters in a sample).
pub async fn read_dates(photo: &DynamicImage, today: Date) -> Result<Vec<DateFound>, String> {
    let found = find_dates(&recognise(photo).await?, today);
    if !found.is_empty() {
        return Ok(found);
    }
    let (w, h) = (photo.width(), photo.height());
    let (tw, th) = (w * 3 / 5, h * 3 / 5);
    let mut all = Vec::new();
    for (x, y) in [(0, 0), (w - tw, 0), (0, h - th), (w - tw, h - th)] {
        let tile = photo.crop_imm(x, y, tw, th);
        all.extend(find_dates(&recognise(&tile).await?, today));
    }
    all.sort_by(|a, b| b.confidence.cmp(&a.confidence));
    let mut seen = std::collections::HashSet::new();
    all.retain(|d| seen.insert(d.date.clone()));
    Ok(all)
}

/// Tesseract's TSV as lines of (word, confidence).
pub fn lines_of_tsv(tsv: &str) -> Vec<Vec<(String, f32)>> {
    let mut lines: Vec<((u32, u32, u32), Vec<(String, f32)>)> = Vec::new();
    for row in tsv.lines().skip(1) {
        let f: Vec<&str> = row.split('\t').collect();
        if f.len() < 12 || f[0] != "5" {
            continue;
        }
        let text = f[11].trim();
        if text.is_empty() {
            continue;
        }
        let n = |i: usize| f[i].parse::<u32>().unwrap_or(0);
        let key = (n(2), n(3), n(4));
        let conf = f[10].parse::<f32>().unwrap_or(0.0).clamp(0.0, 100.0);
        match lines.last_mut() {
            Some((k, words)) if *k == key => words.push((text.to_string(), conf)),
            _ => lines.push((key, vec![(text.to_string(), conf)])),
        }
    }
    lines.into_iter().map(|(_, w)| w).collect()
}

const KEYWORDS: [&str; 14] = [
    "BEST BEFORE",
    "BEST BY",
    "BEST IF USED BY",
    "BEST WHEN USED BY",
    "USE BY",
    "USE BEFORE",
    "SELL BY",
    "EXPIRES",
    "EXPIRY",
    "EXP",
    "BBE",
    "BB",
    "MHD",
    "PEREMPTION",
];

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Num(String),
    Month(u8),
    /// Any other word: it keeps numbers on either side of it apart.
    Other,
}

/// One token of a line, with the word it came from.
#[derive(Debug, Clone)]
struct Token {
    part: Part,
    word: usize,
    /// Whether a date separator (/ . -) or nothing at all (12MAY27), not
    /// a space, comes right before it.
    joined: bool,
}

/// Letters OCR reads in place of digits.
fn as_digit(c: char) -> Option<char> {
    Some(match c {
        'O' | 'D' | 'Q' => '0',
        'I' | 'L' | '|' => '1',
        'S' => '5',
        'B' => '8',
        _ => return None,
    })
}

/// Mends OCR's letters for digits inside numbers ("2O27" → "2027"): a run
/// of at most two such letters next to a digit.
fn mend(run: &str) -> String {
    let c: Vec<char> = run.chars().collect();
    let mut out = c.clone();
    let mut i = 0;
    while i < c.len() {
        if c[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        while i < c.len() && !c[i].is_ascii_digit() {
            i += 1;
        }
        let letters = &c[start..i];
        let near_digit = (start > 0) || (i < c.len());
        if near_digit && letters.len() <= 2 && letters.iter().all(|&l| as_digit(l).is_some()) {
            for (k, &l) in letters.iter().enumerate() {
                out[start + k] = as_digit(l).expect("checked");
            }
        }
    }
    out.into_iter().collect()
}

/// Splits words into number, month and other tokens: "12MAY27" → 12,
/// MAY, 27; "2027-11-30" → 2027, 11, 30; "20271130" → 2027, 11, 30.
fn tokens(words: &[(String, f32)]) -> Vec<Token> {
    let mut out = Vec::new();
    for (w, (word, _)) in words.iter().enumerate() {
        let upper = word.to_uppercase();
        let mut joined = false;
        for piece in upper.split_inclusive(|c: char| !c.is_ascii_alphanumeric() && c != '|') {
            let (run, sep) = match piece.chars().last() {
                Some(c) if !c.is_ascii_alphanumeric() && c != '|' => {
                    (&piece[..piece.len() - c.len_utf8()], Some(c))
                }
                _ => (piece, None),
            };
            let run = mend(run);
            let mut rest = run.as_str();
            let mut first_in_run = true;
            while !rest.is_empty() {
                let digit = rest.starts_with(|c: char| c.is_ascii_digit());
                let len = rest
                    .find(|c: char| c.is_ascii_digit() != digit)
                    .unwrap_or(rest.len());
                let (chunk, tail) = rest.split_at(len);
                let joined_here = if first_in_run { joined } else { true };
                let parts: Vec<Part> = if digit {
                    match chunk.len() {
                        1..=4 => vec![Part::Num(chunk.to_string())],
                        8 => vec![
                            Part::Num(chunk[..4].to_string()),
                            Part::Num(chunk[4..6].to_string()),
                            Part::Num(chunk[6..].to_string()),
                        ],
                        _ => vec![Part::Other],
                    }
                } else {
                    vec![MONTHS
                        .iter()
                        .position(|m| chunk.starts_with(m) && chunk.len() <= 9)
                        .map(|i| Part::Month(i as u8 + 1))
                        .unwrap_or(Part::Other)]
                };
                for (k, part) in parts.into_iter().enumerate() {
                    out.push(Token {
                        part,
                        word: w,
                        joined: joined_here || k > 0,
                    });
                }
                first_in_run = false;
                rest = tail;
            }
            joined = matches!(sep, Some('/' | '.' | '-'));
        }
    }
    out
}

fn year(s: &str) -> Option<i32> {
    match s.len() {
        2 => s.parse::<i32>().ok().map(|y| 2000 + y),
        4 => s.parse::<i32>().ok().filter(|y| (2000..2100).contains(y)),
        _ => None,
    }
}

fn num(p: &Part) -> Option<&str> {
    match p {
        Part::Num(s) => Some(s),
        _ => None,
    }
}

fn day_of(y: i32, m: u8, d: Option<u8>) -> Option<Date> {
    let month = Month::try_from(m).ok()?;
    let d = d.unwrap_or_else(|| month.length(y));
    Date::from_calendar_date(y, month, d).ok()
}

/// A date starting at token `i`: the date, how many tokens it used, and
/// whether day and month could be the other way round.
fn date_at(t: &[Token], i: usize) -> Option<(Date, usize, bool)> {
    let p = |k: usize| t.get(i + k).map(|x| &x.part);
    let n = |k: usize| p(k).and_then(num);
    let small = |s: &str| s.len() <= 2;
    // 2027-11-30, 2027 MAY 12
    if let (Some(y), Some(m)) = (n(0).filter(|s| s.len() == 4).and_then(year), p(1)) {
        let month = match m {
            Part::Num(s) if small(s) => s.parse::<u8>().ok(),
            Part::Month(m) => Some(*m),
            _ => None,
        };
        if let (Some(m), Some(d)) = (month, n(2).filter(|s| small(s))) {
            return day_of(y, m, d.parse().ok()).map(|dt| (dt, 3, false));
        }
    }
    // 12 MAY 2027, 12MAY27
    if let (Some(d), Some(Part::Month(m)), Some(y)) =
        (n(0).filter(|s| small(s)), p(1), n(2).and_then(year))
    {
        return day_of(y, *m, d.parse().ok()).map(|dt| (dt, 3, false));
    }
    // MAY 12 2027, MAY 2027
    if let Some(Part::Month(m)) = p(0) {
        if let (Some(d), Some(y)) = (n(1).filter(|s| small(s)), n(2).and_then(year)) {
            return day_of(y, *m, d.parse().ok()).map(|dt| (dt, 3, false));
        }
        if let Some(y) = n(1).filter(|s| s.len() == 4).and_then(year) {
            return day_of(y, *m, None).map(|dt| (dt, 2, false));
        }
    }
    // 12/05/2027 or 05/12/2027: numbers joined by separators.
    if let (Some(a), Some(b), Some(y)) = (
        n(0).filter(|s| small(s)),
        n(1).filter(|s| small(s)),
        n(2).and_then(year),
    ) {
        let (a, b): (u8, u8) = (a.parse().ok()?, b.parse().ok()?);
        if t[i + 1].joined || t[i + 2].joined {
            let dm = day_of(y, b, Some(a)).filter(|_| a >= 1);
            let md = day_of(y, a, Some(b)).filter(|_| b >= 1);
            return match (md, dm) {
                // Month first where both could be right: most of the
                // pantries Larder serves print US dates. The lower score
                // tells staff to check.
                (Some(x), Some(y)) if x != y => Some((x, 3, true)),
                (Some(x), _) => Some((x, 3, false)),
                (None, Some(y)) => Some((y, 3, false)),
                (None, None) => None,
            };
        }
    }
    // 05/2028: month and year.
    if let (Some(m), Some(y)) = (
        n(0).filter(|s| small(s)),
        n(1).filter(|s| s.len() == 4 || t[i + 1].joined)
            .and_then(year),
    ) {
        if t[i + 1].joined {
            return day_of(y, m.parse().ok()?, None).map(|dt| (dt, 2, false));
        }
    }
    None
}

/// The dates in a photo's lines of words, most confident first; `today`
/// bounds what is plausible (three years past to ten ahead).
pub fn find_dates(lines: &[Vec<(String, f32)>], today: Date) -> Vec<DateFound> {
    let earliest = today.replace_year(today.year() - 3).unwrap_or(today);
    let latest = today.replace_year(today.year() + 10).unwrap_or(today);
    let mut found: Vec<DateFound> = Vec::new();
    for words in lines {
        let t = tokens(words);
        let mut i = 0;
        while i < t.len() {
            let Some((date, used, ambiguous)) = date_at(&t, i) else {
                // "31 FEB 2027" is no date, and "FEB 2027" in it is not
                // one either.
                let impossible = matches!(
                    (t.get(i).map(|x| &x.part), t.get(i + 1).map(|x| &x.part)),
                    (Some(Part::Num(_)), Some(Part::Month(_)))
                );
                i += if impossible { 3 } else { 1 };
                continue;
            };
            if date < earliest || date > latest {
                i += used;
                continue;
            }
            let (first, last) = (t[i].word, t[i + used - 1].word);
            let words_conf = words[first..=last]
                .iter()
                .map(|(_, c)| *c)
                .fold(100.0f32, f32::min);
            let before: String = words[..first]
                .iter()
                .map(|(w, _)| w.to_uppercase())
                .collect::<Vec<_>>()
                .join(" ");
            let keyword = KEYWORDS.iter().any(|k| {
                before.ends_with(k)
                    || before.ends_with(&format!("{k}:"))
                    || before
                        .split_whitespace()
                        .rev()
                        .take(4)
                        .any(|w| w.trim_end_matches(':') == *k)
                    || words[first].0.to_uppercase().starts_with(k)
            });
            let mut confidence = words_conf;
            if keyword {
                confidence = (confidence + 10.0).min(99.0);
            } else {
                confidence *= 0.8;
            }
            if ambiguous {
                confidence *= 0.6;
            }
            found.push(DateFound {
                date: crate::dates::iso(date),
                text: words[..=last]
                    .iter()
                    .skip(first.saturating_sub(4))
                    .map(|(w, _)| w.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
                confidence: confidence.round() as i64,
            });
            i += used;
        }
    }
    found.sort_by(|a, b| b.confidence.cmp(&a.confidence));
    found.dedup_by(|a, b| a.date == b.date);
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn line(text: &str) -> Vec<(String, f32)> {
        text.split_whitespace()
            .map(|w| (w.to_string(), 90.0))
            .collect()
    }

    fn dates(text: &str) -> Vec<(String, i64)> {
        find_dates(&[line(text)], date!(2026 - 12 - 02))
            .into_iter()
            .map(|d| (d.date, d.confidence))
            .collect()
    }

    fn first(text: &str) -> Option<String> {
        dates(text).first().map(|d| d.0.clone())
    }

    #[test]
    fn the_usual_printed_forms() {
        for (text, want) in [
            ("BEST BEFORE 12 MAY 2027", "2027-05-12"),
            ("Best before: 12 May 2027", "2027-05-12"),
            ("EXP 2027-11-30", "2027-11-30"),
            ("EXP 2027.11.30", "2027-11-30"),
            ("BB 12MAY27", "2027-05-12"),
            ("USE BY MAY 12 2027", "2027-05-12"),
            ("BEST BY DEC 2027", "2027-12-31"),
            ("BEST BY 05/2028", "2028-05-31"),
            ("BBE 31/12/2027", "2027-12-31"),
            ("BEST BY 12/31/27", "2027-12-31"),
            ("L2345 EXP 2O27-O1-15", "2027-01-15"),
        ] {
            assert_eq!(
                first(text).as_deref(),
                Some(want),
                "{text}: {:?}",
                dates(text)
            );
        }
    }

    #[test]
    fn impossible_and_implausible_dates_are_not_dates() {
        for text in [
            "BEST BEFORE 31 FEB 2027",
            "EXP 2027-13-01",
            "BB 1999-01-01",
            "BEST BEFORE 12 MAY 2090",
            "NET WT 12 OZ 340 G",
            "CALL 555-1234",
            "",
        ] {
            assert_eq!(dates(text), vec![], "{text}");
        }
    }

    #[test]
    fn a_keyword_raises_confidence_and_ambiguity_lowers_it() {
        let with = dates("BEST BEFORE 12 MAY 2027")[0].1;
        let without = dates("LOT 12 MAY 2027")[0].1;
        assert!(with > without, "{with} {without}");
        // 05/06/2027: May 6 or 5 June; read month first, marked unsure.
        let unsure = dates("BEST BY 05/06/2027");
        assert_eq!(unsure[0].0, "2027-05-06");
        assert!(unsure[0].1 < 60, "{unsure:?}");
        let sure = dates("BEST BY 25/06/2027");
        assert_eq!(sure[0].0, "2027-06-25");
        assert!(sure[0].1 >= 90, "{sure:?}");
    }

    #[test]
    fn tesseract_tsv_becomes_lines_of_words() {
        let tsv = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext\n\
                   5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t96.5\tBEST\n\
                   5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t91\tBEFORE\n\
                   5\t1\t2\t1\t1\t1\t0\t0\t1\t1\t88\t12/05/2027\n\
                   4\t1\t2\t1\t1\t0\t0\t0\t1\t1\t-1\t\n";
        let lines = lines_of_tsv(tsv);
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            vec![("BEST".into(), 96.5), ("BEFORE".into(), 91.0)]
        );
        assert_eq!(lines[1][0].0, "12/05/2027");
    }

    /// A printed label: the lines in DejaVu Sans Bold (Debian's
    /// fonts-dejavu-core, which the test setup installs), black on a light
    /// ground, at `px` pixels, on a photo-sized grey table.
    pub(crate) fn label(lines: &[&str], px: f32) -> image::GrayImage {
        use ab_glyph::{Font, FontVec, PxScale, ScaleFont};
        let bytes = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
            .expect("fonts-dejavu-core is installed (scripts/setup-test.sh)");
        let font = FontVec::try_from_vec(bytes).unwrap();
        let scaled = font.as_scaled(PxScale::from(px));
        let mut img = image::GrayImage::from_pixel(1400, 1000, image::Luma([120]));
        let (x0, y0) = (150.0, 250.0);
        for y in (y0 as u32 - 40)..(y0 as u32 + 40 + (lines.len() as f32 * px * 1.5) as u32) {
            for x in (x0 as u32 - 40)..1250 {
                img.put_pixel(x, y, image::Luma([235]));
            }
        }
        for (n, text) in lines.iter().enumerate() {
            let baseline = y0 + scaled.ascent() + n as f32 * px * 1.5;
            let mut x = x0;
            let mut last = None;
            for c in text.chars() {
                let id = font.glyph_id(c);
                if let Some(prev) = last {
                    x += scaled.kern(prev, id);
                }
                let glyph = id.with_scale_and_position(px, ab_glyph::point(x, baseline));
                if let Some(outline) = font.outline_glyph(glyph) {
                    let b = outline.px_bounds();
                    outline.draw(|gx, gy, cov| {
                        let (px_, py) = (b.min.x as i32 + gx as i32, b.min.y as i32 + gy as i32);
                        if px_ >= 0
                            && py >= 0
                            && (px_ as u32) < img.width()
                            && (py as u32) < img.height()
                        {
                            let p = img.get_pixel_mut(px_ as u32, py as u32);
                            p.0[0] = (p.0[0] as f32 * (1.0 - cov)) as u8;
                        }
                    });
                }
                x += scaled.h_advance(id);
                last = Some(id);
            }
        }
        img
    }

    fn read_label(lines: &[&str], px: f32) -> Vec<DateFound> {
        let img = label(lines, px);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let words = rt
            .block_on(recognise(&DynamicImage::ImageLuma8(img)))
            .expect("tesseract runs (scripts/setup-test.sh installs it)");
        find_dates(&words, date!(2026 - 12 - 02))
    }

    #[test]
    fn printed_labels_are_read_with_tesseract() {
        let found = read_label(&["BEST BEFORE", "12 MAY 2027"], 56.0);
        assert_eq!(
            found.first().map(|d| d.date.as_str()),
            Some("2027-05-12"),
            "{found:?}"
        );
        let found = read_label(&["NET WT 15 OZ (425 g)", "EXP 2027-11-30   L2231"], 44.0);
        assert_eq!(
            found.first().map(|d| d.date.as_str()),
            Some("2027-11-30"),
            "{found:?}"
        );
        assert!(found[0].confidence >= 60, "{found:?}");
        let found = read_label(&["Keep in a cool dry place"], 48.0);
        assert_eq!(found, vec![]);
    }

    #[test]
    fn a_tilted_compressed_label_is_still_read() {
        let img = crate::photos::barcodes::rotate(&label(&["BEST BY", "DEC 05 2027"], 52.0), 4.0);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 70)
            .encode_image(&img)
            .unwrap();
        let img = image::load_from_memory(&jpeg).unwrap().to_luma8();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let words = rt
            .block_on(recognise(&DynamicImage::ImageLuma8(img)))
            .unwrap();
        let found = find_dates(&words, date!(2026 - 12 - 02));
        assert_eq!(
            found.first().map(|d| d.date.as_str()),
            Some("2027-12-05"),
            "{found:?} from {words:?}"
        );
    }
}

//! Reading the file: bounded lines, each checked into a row or a reason.

use super::job::{Catalog, Parsed, Row};
use super::*;

/// Counts bytes read, for the progress bar.
pub(super) struct Counting<R> {
    pub(super) inner: R,
    pub(super) bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

#[derive(Debug, Default)]
pub(super) struct Columns {
    pub(super) product: Option<usize>,
    pub(super) product_id: Option<usize>,
    pub(super) barcode: Option<usize>,
    pub(super) sku: Option<usize>,
    pub(super) date: Option<usize>,
    pub(super) quantity: Option<usize>,
    pub(super) unit_price: Option<usize>,
    pub(super) revenue: Option<usize>,
    pub(super) pantry: Option<usize>,
}

pub(super) fn columns(header: &[String]) -> Result<Columns, String> {
    let mut c = Columns::default();
    for (i, h) in header.iter().enumerate() {
        let slot = match h.trim().to_lowercase().replace([' ', '-'], "_").as_str() {
            "product" | "name" | "product_name" | "item" => &mut c.product,
            "product_id" => &mut c.product_id,
            "barcode" | "gtin" | "upc" | "ean" => &mut c.barcode,
            "sku" => &mut c.sku,
            "date" | "day" => &mut c.date,
            "quantity" | "qty" => &mut c.quantity,
            "unit_price" | "price" => &mut c.unit_price,
            "revenue" | "total" => &mut c.revenue,
            "pantry" => &mut c.pantry,
            _ => continue,
        };
        if slot.is_some() {
            return Err(format!("The header names the column “{}” twice.", h.trim()));
        }
        *slot = Some(i);
    }
    if c.date.is_none() || c.quantity.is_none() {
        return Err("The first line must be a header with at least date, quantity and the product (product name, barcode, sku or product_id).".into());
    }
    if c.product.is_none() && c.barcode.is_none() && c.product_id.is_none() && c.sku.is_none() {
        return Err(
            "The header has no product column: add product (the name), barcode, sku or product_id."
                .into(),
        );
    }
    Ok(c)
}

pub(super) fn clip(s: &str) -> String {
    let t: String = s.chars().take(60).collect();
    if t.len() < s.len() {
        format!("{t}…")
    } else {
        t
    }
}

/// A date as `YYYY-MM-DD` (a time after it is ignored).
pub(super) fn parse_day(s: &str) -> Result<String, String> {
    let t = s.trim();
    let d = t.get(..10).unwrap_or(t);
    let rest = &t[d.len()..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return Err(format!("“{}” is not a date; use YYYY-MM-DD.", clip(t)));
    }
    crate::usage::report::parse_date(d, "date")
        .map(crate::usage::report::iso)
        .map_err(|_| format!("“{}” is not a date; use YYYY-MM-DD.", clip(t)))
}

/// Money as cents: `3`, `3.5`, `$3.50`, `1,234.56`.
pub(super) fn parse_cents(s: &str, what: &str) -> Result<Option<i64>, String> {
    crate::input::money_cents(s)
        .map_err(|()| format!("{what} “{}” is not an amount such as 3.50.", clip(s.trim())))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn parse_file(
    path: &Path,
    errors_path: &Path,
    bytes: &Arc<AtomicU64>,
    organization: &str,
    default_pantry: Option<&str>,
    pantries: &[(String, String)],
    catalog: &Catalog,
    tx: &tokio::sync::mpsc::Sender<Parsed>,
) -> Result<(), String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("The upload could not be read: {e}"))?;
    let mut input = BufReader::with_capacity(
        64 * 1024,
        Counting {
            inner: file,
            bytes: bytes.clone(),
        },
    );
    let mut errors: Option<csv::Writer<std::fs::File>> = None;
    let mut report = |line: u64, reason: &str, raw: &[u8]| -> Result<(), String> {
        if errors.is_none() {
            let file = std::fs::File::create(errors_path)
                .map_err(|e| format!("The error file could not be written: {e}"))?;
            let mut w = csv::WriterBuilder::new()
                .terminator(csv::Terminator::CRLF)
                .quote_style(csv::QuoteStyle::NonNumeric)
                .from_writer(file);
            w.write_record(["line", "reason", "row"])
                .map_err(|e| e.to_string())?;
            errors = Some(w);
        }
        // The row as the user wrote it, which may hold a formula: the
        // file is opened in a spreadsheet, so it is written as text.
        let row = String::from_utf8_lossy(&raw[..raw.len().min(300)]);
        let w = errors.as_mut().expect("opened above");
        w.write_record([
            line.to_string().as_str(),
            &crate::spreadsheet::cell(reason),
            &crate::spreadsheet::cell(row.trim_end()),
        ])
        .map_err(|e| e.to_string())
    };

    // Lines are read here (bounded), then each is parsed as CSV on its
    // own: a quoted field may not span lines in these files.
    let mut buf = Vec::with_capacity(1024);
    let mut line_no = 0u64;
    let mut header: Option<Columns> = None;
    let (mut read, mut bad) = (0i64, 0i64);
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        buf.clear();
        let (n, too_long) = read_line(&mut input, &mut buf, MAX_ROW_BYTES)
            .map_err(|e| format!("The upload could not be read: {e}"))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let mut raw: &[u8] = &buf;
        if line_no == 1 {
            raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
        }
        while let Some(r) = raw.strip_suffix(b"\n").or_else(|| raw.strip_suffix(b"\r")) {
            raw = r;
        }
        if header.is_none() {
            if too_long {
                return Err("The first line (the header) is too long to be a header.".into());
            }
            let fields = split(raw).map_err(|e| format!("The header is not readable CSV: {e}"))?;
            header = Some(columns(&fields)?);
            continue;
        }
        if raw.iter().all(|b| b.is_ascii_whitespace() || *b == b',') {
            continue;
        }
        read += 1;
        let cols = header.as_ref().expect("set above");
        let row = if too_long {
            Err(format!("This row is longer than {MAX_ROW_BYTES} bytes."))
        } else {
            split(raw).and_then(|fields| {
                check_row(
                    cols,
                    &fields,
                    line_no,
                    organization,
                    default_pantry,
                    pantries,
                    catalog,
                )
            })
        };
        match row {
            Ok(r) => {
                batch.push(r);
                if batch.len() >= BATCH {
                    tx.blocking_send(Parsed::Rows(std::mem::take(&mut batch)))
                        .map_err(|_| "The import was stopped.".to_string())?;
                    batch.reserve(BATCH);
                }
            }
            Err(reason) => {
                bad += 1;
                report(line_no, &reason, raw)?;
            }
        }
    }
    if header.is_none() {
        return Err("The file has no header line and no rows.".into());
    }
    if !batch.is_empty() {
        tx.blocking_send(Parsed::Rows(batch))
            .map_err(|_| "The import was stopped.".to_string())?;
    }
    if let Some(mut f) = errors {
        f.flush().map_err(|e| e.to_string())?;
    }
    tx.blocking_send(Parsed::Done { read, bad })
        .map_err(|_| "The import was stopped.".to_string())?;
    Ok(())
}

/// Reads one line into `buf`, keeping at most `max` bytes of it (the rest
/// is read and dropped). Returns the bytes consumed and whether it was cut.
pub(super) fn read_line<R: BufRead>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<(usize, bool)> {
    let mut consumed = 0;
    let mut cut = false;
    loop {
        let available = r.fill_buf()?;
        if available.is_empty() {
            return Ok((consumed, cut));
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        let room = max.saturating_sub(buf.len());
        if take > room {
            cut = true;
        }
        buf.extend_from_slice(&available[..take.min(room)]);
        r.consume(take);
        consumed += take;
        if done {
            return Ok((consumed, cut));
        }
    }
}

/// One line as CSV fields (RFC 4180: a field in double quotes may hold
/// commas, and `""` inside it is a quote).
///
/// Not the `csv` crate, which every other CSV read and write here uses:
/// it reads malformed quoting leniently (an unclosed quote runs to the end
/// of the input, text after a closing quote is glued on), and an import
/// must instead refuse such a row with a reason for that line, while the
/// lines around it go on. The lines themselves are read (bounded) first.
pub(super) fn split(line: &[u8]) -> Result<Vec<String>, String> {
    let text = std::str::from_utf8(line).map_err(|_| "The row is not UTF-8 text.".to_string())?;
    let mut fields = Vec::with_capacity(8);
    let mut chars = text.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    Some('"') => break,
                    Some(c) => field.push(c),
                    None => return Err("A quoted field is not closed on its line.".into()),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(',') => fields.push(field),
                Some(_) => {
                    return Err("Text follows a closing quote; quote the whole field.".into())
                }
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Ok(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
            fields.push(field);
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn check_row(
    c: &Columns,
    fields: &[String],
    line: u64,
    organization: &str,
    default_pantry: Option<&str>,
    pantries: &[(String, String)],
    catalog: &Catalog,
) -> Result<Row, String> {
    let get = |i: Option<usize>| {
        i.and_then(|i| fields.get(i))
            .map(|s| s.trim())
            .unwrap_or("")
    };
    let product = if !get(c.product_id).is_empty() {
        let id = get(c.product_id);
        catalog
            .units
            .contains_key(id)
            .then(|| id.to_string())
            .ok_or_else(|| format!("No product with id {} in the catalog.", clip(id)))?
    } else if !get(c.barcode).is_empty() {
        let g = Gtin::parse(get(c.barcode), "barcode").map_err(|e| e.to_string())?;
        catalog
            .by_barcode
            .get(g.as_str())
            .cloned()
            .ok_or_else(|| format!("No product in the catalog has barcode {}.", g.display()))?
    } else if !get(c.product).is_empty() {
        let key = get(c.product)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        catalog.by_name.get(&key).cloned().ok_or_else(|| {
            format!(
                "No product named “{}” in the catalog.",
                clip(get(c.product))
            )
        })?
    } else if !get(c.sku).is_empty() {
        let sku = get(c.sku);
        catalog
            .by_sku
            .get(&sku.to_lowercase())
            .cloned()
            .ok_or_else(|| format!("No product in the catalog has SKU {}.", clip(sku)))?
    } else {
        return Err("The row names no product.".into());
    };
    let unit = catalog.units[&product];
    let day = parse_day(get(c.date))?;
    let q = get(c.quantity);
    if q.starts_with('-') {
        return Err(format!(
            "Quantity {} is negative; history counts what went out.",
            clip(q)
        ));
    }
    let quantity = unit
        .parse_quantity(q, "quantity")
        .map_err(|e| e.to_string())?;
    let unit_price_cents = parse_cents(get(c.unit_price), "Unit price")?;
    let revenue_cents = parse_cents(get(c.revenue), "Revenue")?;
    let pantry = match get(c.pantry) {
        "" => default_pantry.map(String::from),
        p => Some(
            resolve_pantry(pantries, p)
                .ok_or_else(|| format!("“{}” is not a pantry of this organization.", clip(p)))?,
        ),
    };
    let mut h = Sha256::new();
    for part in [
        organization,
        pantry.as_deref().unwrap_or(""),
        &product,
        &day,
        &quantity.to_string(),
        &unit_price_cents.map(|c| c.to_string()).unwrap_or_default(),
        &revenue_cents.map(|c| c.to_string()).unwrap_or_default(),
        &line.to_string(),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    // The day first: files come sorted by date, so consecutive rows land
    // next to each other in the key's index.
    Ok(Row {
        key: format!("{day}-{}", hex(&h.finalize()[..12])),
        pantry,
        product,
        day,
        quantity,
        unit_price_cents,
        revenue_cents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_dates_parse_or_say_why() {
        assert_eq!(parse_cents("$1,234.5", "Revenue"), Ok(Some(123_450)));
        assert_eq!(parse_cents("", "Revenue"), Ok(None));
        assert!(parse_cents("1.234", "Revenue")
            .unwrap_err()
            .contains("Revenue"));
        assert!(parse_cents("-3", "Unit price").is_err());
        assert_eq!(parse_day("2025-09-01T10:00:00Z"), Ok("2025-09-01".into()));
        assert!(parse_day("09/01/2025").is_err());
        assert!(parse_day("2025-02-30").is_err());
    }

    #[test]
    fn long_lines_are_cut_but_consumed() {
        let data = format!("{}\nnext\n", "x".repeat(10_000));
        let mut r = BufReader::with_capacity(64, data.as_bytes());
        let mut buf = Vec::new();
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), (10_001, true));
        assert_eq!(buf.len(), 100);
        buf.clear();
        assert_eq!(read_line(&mut r, &mut buf, 100).unwrap(), (5, false));
        assert_eq!(buf, b"next\n");
    }

    #[test]
    fn fields_split_like_rfc_4180() {
        assert_eq!(
            split(b"a,,\"b,c\",\"say \"\"hi\"\"\"").unwrap(),
            vec!["a", "", "b,c", "say \"hi\""]
        );
        assert_eq!(split(b"").unwrap(), vec![""]);
        assert_eq!(split(b"x,").unwrap(), vec!["x", ""]);
        assert!(split(b"\"open,x").is_err());
        assert!(split(b"\"a\"b,c").is_err());
        assert!(split(b"\xff,1").unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn headers_need_a_date_a_quantity_and_a_product() {
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(columns(&h("Date,Qty,Product")).is_ok());
        assert!(columns(&h("date,quantity"))
            .unwrap_err()
            .contains("product"));
        assert!(columns(&h("date,product,quantity,qty"))
            .unwrap_err()
            .contains("twice"));
    }
}

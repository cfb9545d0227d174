//! Checking and reading an uploaded photo before anything is stored: the
//! content decides what it is (never the file name), its size and pixel
//! count are bounded before it is decoded, and a damaged or truncated file
//! is refused. A photo that passes is kept without its metadata (camera
//! details, GPS) and with a thumbnail.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, GrayImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use super::model::MediaType;
use crate::error::AppError;

/// How large an upload may be.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
    /// The most memory its decoded pixels may take: pixels alone do not
    /// bound it (a 16-bit RGBA pixel is 8 bytes, an 8-bit RGB one 3).
    pub max_decoded_bytes: u64,
}

impl Default for PhotoLimits {
    /// Room for a phone's unoptimized original (a 48 MP sensor is about
    /// 12–20 MB as JPEG, 150 MB decoded); a 200 MP image, a deep-colour
    /// bomb or a decompression bomb is out.
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            max_pixels: 50_000_000,
            max_decoded_bytes: 150_000_000,
        }
    }
}

/// A photo that passed every check, decoded and the right way up.
pub struct Checked {
    pub media: MediaType,
    pub width: u32,
    pub height: u32,
    /// The bytes to keep: the upload without its metadata.
    pub stored: Vec<u8>,
    pub image: DynamicImage,
}

impl std::fmt::Debug for Checked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} × {}, {} bytes",
            self.media.label(),
            self.width,
            self.height,
            self.stored.len()
        )
    }
}

const FIELD: &str = "photo";

fn refuse(message: impl Into<String>) -> AppError {
    AppError::invalid(FIELD, message)
}

/// What the content is, from its first bytes.
pub fn sniff(bytes: &[u8]) -> Result<MediaType, AppError> {
    if bytes.is_empty() {
        return Err(refuse("The file is empty: there is no photo in it."));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Ok(MediaType::Jpeg);
    }
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Ok(MediaType::Png);
    }
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let head = head.trim_start_matches('\u{feff}').trim_start();
    let what = if head.contains("<svg") {
        "an SVG drawing"
    } else if head.starts_with("<!doctype html")
        || head.starts_with("<html")
        || head.contains("<body")
    {
        "a web page (HTML)"
    } else if head.starts_with("<?xml") {
        "an XML document"
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        "a GIF image"
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        "a WebP image"
    } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        match &bytes[8..12] {
            b"heic" | b"heix" | b"mif1" | b"msf1" | b"hevc" => "a HEIC photo",
            b"avif" | b"avis" => "an AVIF image",
            _ => "a video or HEIF file",
        }
    } else if bytes.starts_with(b"%PDF") {
        "a PDF document"
    } else if bytes.starts_with(b"BM") {
        "a BMP image"
    } else {
        "not an image Larder can read"
    };
    Err(refuse(format!(
        "This file is {what}, not a JPEG or PNG photo. Larder takes JPEG and PNG; the camera page converts other photos before uploading."
    )))
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / (1024.0 * 1024.0))
}

/// Checks an upload fully, without storing anything.
pub fn check(bytes: &[u8], limits: PhotoLimits) -> Result<Checked, AppError> {
    if bytes.len() > limits.max_bytes {
        return Err(refuse(format!(
            "The photo is {}; the limit is {}. Let the camera page optimize it before uploading.",
            megabytes(bytes.len() as u64),
            megabytes(limits.max_bytes as u64)
        )));
    }
    let media = sniff(bytes)?;
    let format = match media {
        MediaType::Jpeg => ImageFormat::Jpeg,
        MediaType::Png => ImageFormat::Png,
    };
    let damaged = |e: &dyn std::fmt::Display| {
        refuse(format!(
            "The {} could not be read: it is damaged or incomplete ({e}).",
            media.label()
        ))
    };
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| damaged(&e))?;
    let pixels = width as u64 * height as u64;
    if width == 0 || height == 0 {
        return Err(damaged(&"it has no pixels"));
    }
    if pixels > limits.max_pixels {
        return Err(refuse(format!(
            "The photo is {width} × {height} pixels ({:.0} MP); the limit is {:.0} MP.",
            pixels as f64 / 1e6,
            limits.max_pixels as f64 / 1e6
        )));
    }
    // Structure first: a JPEG decoder fills a truncated image with grey
    // rather than failing, and PNG's checksums are only read in full.
    let stripped = match media {
        MediaType::Jpeg => strip_jpeg(bytes),
        MediaType::Png => strip_png(bytes),
    }
    .map_err(|e| damaged(&e))?;
    // Which way up, from the metadata that is about to go, and how much
    // memory the pixels will take, before any is taken.
    let mut decoder = ImageReader::with_format(Cursor::new(bytes), format)
        .into_decoder()
        .map_err(|e| damaged(&e))?;
    let decoded_bytes = decoder.total_bytes();
    if decoded_bytes > limits.max_decoded_bytes {
        return Err(refuse(format!(
            "The photo is {width} × {height} pixels at {} bytes a pixel: {} decoded, and the limit is {}. Save it as an ordinary 8-bit JPEG, or let the camera page optimize it.",
            decoded_bytes / pixels,
            megabytes(decoded_bytes),
            megabytes(limits.max_decoded_bytes)
        )));
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    drop(decoder);
    // What is decoded is what will be stored: a decoder can be lenient
    // with a segment that stripping removes (found by fuzzing: a
    // progressive JPEG whose broken second scan was skipped only while an
    // APP segment sat in front of it).
    let mut reader = ImageReader::with_format(Cursor::new(&stripped), format);
    let mut decode_limits = Limits::default();
    decode_limits.max_image_width = Some(width);
    decode_limits.max_image_height = Some(height);
    // Room for the decoded pixels (measured above) and the decoder's own.
    decode_limits.max_alloc = Some(decoded_bytes + (16 << 20));
    reader.limits(decode_limits);
    let mut image = reader.decode().map_err(|e| damaged(&e))?;
    let stored = if orientation == image::metadata::Orientation::NoTransforms {
        stripped
    } else {
        // Only the metadata said which way up the photo is; once that is
        // gone the pixels must say it, so they are turned and re-encoded.
        image.apply_orientation(orientation);
        encode(&image, media, 90)?
    };
    Ok(Checked {
        media,
        width: image.width(),
        height: image.height(),
        stored,
        image,
    })
}

/// Encodes an image as its media type.
pub fn encode(image: &DynamicImage, media: MediaType, quality: u8) -> Result<Vec<u8>, AppError> {
    let mut out = Vec::new();
    let result = match media {
        MediaType::Jpeg => {
            JpegEncoder::new_with_quality(&mut out, quality).encode_image(&image.to_rgb8())
        }
        MediaType::Png => image.write_to(&mut Cursor::new(&mut out), ImageFormat::Png),
    };
    result.map_err(|e| AppError::internal(&e))?;
    Ok(out)
}

/// A small JPEG for lists and review: the longest edge at most `edge`.
pub fn thumbnail(image: &DynamicImage, edge: u32) -> Result<Vec<u8>, AppError> {
    let small = image.thumbnail(edge, edge);
    encode(&small, MediaType::Jpeg, 80)
}

/// The photo at no more than `max_pixels` (as it is when already small).
pub fn at_most(image: DynamicImage, max_pixels: u64) -> DynamicImage {
    let (w, h) = (image.width() as u64, image.height() as u64);
    if w * h <= max_pixels {
        return image;
    }
    let scale = (max_pixels as f64 / (w * h) as f64).sqrt();
    let (nw, nh) = (
        ((w as f64 * scale) as u32).max(1),
        ((h as f64 * scale) as u32).max(1),
    );
    image.resize_exact(nw, nh, image::imageops::FilterType::Triangle)
}

/// The photo in grey at no more than `max_pixels`, for the readers.
pub fn luma_at_most(image: &DynamicImage, max_pixels: u64) -> GrayImage {
    at_most(image.clone(), max_pixels).to_luma8()
}

/// A JPEG's segments without metadata (APP1 Exif and XMP, APP13 IPTC,
/// comments and the rest of APP3–APP15, save Adobe's colour marker); the
/// image data is copied as it is. Fails if the file ends before its end
/// marker.
pub fn strip_jpeg(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, 0xD8]);
    let mut i = 2;
    loop {
        // Fill bytes may precede a marker.
        while i < bytes.len() && bytes[i] == 0xFF && bytes.get(i + 1) == Some(&0xFF) {
            i += 1;
        }
        if i + 1 >= bytes.len() {
            return Err("the file ends before its end marker".into());
        }
        if bytes[i] != 0xFF {
            return Err(format!("no segment marker at byte {i}"));
        }
        let marker = bytes[i + 1];
        match marker {
            0xD9 => {
                out.extend_from_slice(&[0xFF, 0xD9]);
                // Whatever follows the end marker (a phone's trailer) is
                // not the image and is not kept.
                return Ok(out);
            }
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&bytes[i..i + 2]);
                i += 2;
                continue;
            }
            _ => {}
        }
        if i + 4 > bytes.len() {
            return Err("the file ends inside a segment header".into());
        }
        let len = u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]) as usize;
        if len < 2 || i + 2 + len > bytes.len() {
            return Err("the file ends inside a segment".into());
        }
        let segment = &bytes[i..i + 2 + len];
        let keep = match marker {
            // APP0 (JFIF), APP2 (ICC colour profile), APP14 (Adobe colour
            // transform) say how to show the pixels; keep them.
            0xE0 | 0xE2 | 0xEE => true,
            0xE1 | 0xE3..=0xED | 0xEF | 0xFE => false,
            _ => true,
        };
        if keep {
            out.extend_from_slice(segment);
        }
        i += 2 + len;
        if marker == 0xDA {
            // Entropy-coded data runs to the next marker that is not a
            // stuffed 0xFF00 or a restart marker.
            let start = i;
            loop {
                if i + 1 >= bytes.len() {
                    return Err("the image data ends early (the file is truncated)".into());
                }
                if bytes[i] == 0xFF {
                    let next = bytes[i + 1];
                    if next != 0x00 && !(0xD0..=0xD7).contains(&next) && next != 0xFF {
                        break;
                    }
                }
                i += 1;
            }
            out.extend_from_slice(&bytes[start..i]);
        }
    }
}

/// A PNG's chunks without text, time and Exif chunks. Fails if the file
/// ends before its end chunk or a chunk's checksum is wrong.
pub fn strip_png(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..8]);
    let mut i = 8;
    loop {
        if i + 12 > bytes.len() {
            return Err("the file ends before its end chunk (it is truncated)".into());
        }
        let len = u32::from_be_bytes(bytes[i..i + 4].try_into().expect("4 bytes")) as usize;
        let kind = &bytes[i + 4..i + 8];
        let end = i
            .checked_add(12)
            .and_then(|n| n.checked_add(len))
            .filter(|&n| n <= bytes.len())
            .ok_or("the file ends inside a chunk (it is truncated)")?;
        let crc = u32::from_be_bytes(bytes[end - 4..end].try_into().expect("4 bytes"));
        if crc32(&bytes[i + 4..end - 4]) != crc {
            return Err(format!(
                "the checksum of its {} chunk is wrong",
                String::from_utf8_lossy(kind)
            ));
        }
        let drop = matches!(kind, b"tEXt" | b"zTXt" | b"iTXt" | b"tIME" | b"eXIf");
        if !drop {
            out.extend_from_slice(&bytes[i..end]);
        }
        if kind == b"IEND" {
            return Ok(out);
        }
        i = end;
    }
}

/// CRC-32 as PNG uses it (ISO 3309).
fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::OnceLock<[u32; 256]> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (n, slot) in t.iter_mut().enumerate() {
            let mut c = n as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *slot = c;
        }
        t
    });
    !data.iter().fold(!0u32, |c, &b| {
        table[((c ^ b as u32) & 0xFF) as usize] ^ (c >> 8)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{Rgb, RgbImage};

    fn photo(w: u32, h: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(RgbImage::from_fn(w, h, |x, y| {
            Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
        }))
    }

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        encode(&photo(w, h), MediaType::Jpeg, 85).unwrap()
    }

    fn png(w: u32, h: u32) -> Vec<u8> {
        encode(&photo(w, h), MediaType::Png, 0).unwrap()
    }

    /// A JPEG with an Exif segment carrying GPS tags and an orientation,
    /// built by hand: TIFF header, IFD0 with Orientation and a GPS IFD
    /// pointer, and a GPS IFD with a latitude reference.
    pub(crate) fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08");
        // IFD0: two entries.
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0x8825u16.to_be_bytes()); // GPS IFD
        tiff.extend_from_slice(&4u16.to_be_bytes());
        tiff.extend_from_slice(&1u32.to_be_bytes());
        tiff.extend_from_slice(&38u32.to_be_bytes());
        tiff.extend_from_slice(&0u32.to_be_bytes());
        // GPS IFD at 38: GPSLatitudeRef = "N".
        tiff.extend_from_slice(&1u16.to_be_bytes());
        tiff.extend_from_slice(&0x0001u16.to_be_bytes());
        tiff.extend_from_slice(&2u16.to_be_bytes());
        tiff.extend_from_slice(&2u32.to_be_bytes());
        tiff.extend_from_slice(b"N\0\0\0");
        tiff.extend_from_slice(&0u32.to_be_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend_from_slice(&tiff);
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
        out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&app1);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    fn message(e: AppError) -> String {
        e.to_string()
    }

    #[test]
    fn a_good_jpeg_and_png_pass_with_their_size() {
        let c = check(&jpeg(64, 48), PhotoLimits::default()).unwrap();
        assert_eq!((c.media, c.width, c.height), (MediaType::Jpeg, 64, 48));
        let c = check(&png(30, 20), PhotoLimits::default()).unwrap();
        assert_eq!((c.media, c.width, c.height), (MediaType::Png, 30, 20));
    }

    #[test]
    fn the_content_decides_not_the_name() {
        for (bytes, says) in [
            (&b""[..], "empty"),
            (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "SVG"),
            (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
            (b"GIF89a\x01\x00\x01\x00", "GIF"),
            (b"hello, world", "not an image"),
        ] {
            let e = message(check(bytes, PhotoLimits::default()).unwrap_err());
            assert!(e.contains(says), "{says}: {e}");
        }
    }

    #[test]
    fn a_truncated_jpeg_is_refused() {
        let good = jpeg(200, 150);
        for cut in [good.len() / 2, good.len() - 2, 40] {
            let e = message(check(&good[..cut], PhotoLimits::default()).unwrap_err());
            assert!(e.contains("damaged or incomplete"), "cut at {cut}: {e}");
        }
    }

    #[test]
    fn a_truncated_or_corrupted_png_is_refused() {
        let good = png(100, 80);
        let e = message(check(&good[..good.len() - 20], PhotoLimits::default()).unwrap_err());
        assert!(e.contains("damaged or incomplete"), "{e}");
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x55;
        let e = message(check(&bad, PhotoLimits::default()).unwrap_err());
        assert!(e.contains("damaged or incomplete"), "{e}");
    }

    #[test]
    fn too_many_pixels_is_refused_before_decoding() {
        // A PNG header claiming 20000 × 10000 pixels over almost no data.
        let mut header = png(1, 1);
        header[16..20].copy_from_slice(&20_000u32.to_be_bytes());
        header[20..24].copy_from_slice(&10_000u32.to_be_bytes());
        let crc = crc32(&header[12..29]);
        header[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = message(check(&header, PhotoLimits::default()).unwrap_err());
        assert!(e.contains("20000 × 10000 pixels (200 MP)"), "{e}");
    }

    #[test]
    fn deep_colour_past_the_decoded_bytes_limit_is_refused_before_decoding() {
        // 7000 × 7000 (49 MP, under the pixel limit) at 16-bit RGBA: 392 MB
        // decoded, from a file of a few hundred bytes.
        let mut header = png(1, 1);
        header[16..20].copy_from_slice(&7_000u32.to_be_bytes());
        header[20..24].copy_from_slice(&7_000u32.to_be_bytes());
        header[24] = 16; // bit depth
        header[25] = 6; // RGBA
        let crc = crc32(&header[12..29]);
        header[29..33].copy_from_slice(&crc.to_be_bytes());
        let e = message(check(&header, PhotoLimits::default()).unwrap_err());
        assert!(
            e.contains("7000 × 7000 pixels at 8 bytes a pixel")
                && e.contains("the limit is 143.1 MB"),
            "{e}"
        );
    }

    #[test]
    fn too_many_bytes_is_refused() {
        let limits = PhotoLimits {
            max_bytes: 1000,
            ..PhotoLimits::default()
        };
        let e = message(check(&jpeg(400, 300), limits).unwrap_err());
        assert!(
            e.starts_with("The photo is 0.0 MB; the limit is 0.0 MB."),
            "{e}"
        );
    }

    #[test]
    fn metadata_is_stripped_and_orientation_applied() {
        let base = jpeg(40, 20);
        let tagged = with_exif(&base, 1);
        assert!(tagged.windows(4).any(|w| w == b"Exif"));
        let c = check(&tagged, PhotoLimits::default()).unwrap();
        assert!(!c.stored.windows(4).any(|w| w == b"Exif"));
        assert_eq!((c.width, c.height), (40, 20));
        // Orientation 6: the camera was turned; the stored photo is turned
        // back by its pixels, and still has no Exif.
        let c = check(&with_exif(&base, 6), PhotoLimits::default()).unwrap();
        assert_eq!((c.width, c.height), (20, 40));
        assert!(!c.stored.windows(4).any(|w| w == b"Exif"));
        let again = check(&c.stored, PhotoLimits::default()).unwrap();
        assert_eq!((again.width, again.height), (20, 40));
    }

    #[test]
    fn png_text_chunks_are_dropped() {
        let good = png(10, 10);
        // Insert a tEXt chunk after IHDR (8 + 25 bytes).
        let data = b"Comment\0GPS 51.5N";
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(b"tEXt");
        chunk.extend_from_slice(data);
        let mut crc_in = b"tEXt".to_vec();
        crc_in.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&crc_in).to_be_bytes());
        let mut tagged = good[..33].to_vec();
        tagged.extend_from_slice(&chunk);
        tagged.extend_from_slice(&good[33..]);
        let c = check(&tagged, PhotoLimits::default()).unwrap();
        assert!(!c.stored.windows(4).any(|w| w == b"tEXt"));
        assert_eq!(c.stored, good);
    }

    /// Found by fuzzing: a progressive JPEG whose second scan names a
    /// component that does not exist, after an APP segment. The decoder
    /// skipped the scan while the segment was there, so the upload passed
    /// and its stored form (segment stripped) did not decode.
    #[test]
    fn what_passes_is_stored_in_a_form_that_passes_again() {
        let bytes = include_bytes!("testdata/fuzz-progressive-broken-scan.jpg");
        if let Ok(c) = check(bytes, PhotoLimits::default()) {
            check(&c.stored, PhotoLimits::default()).expect("the stored form decodes");
        }
    }

    #[test]
    fn luma_is_scaled_down_to_the_budget() {
        let g = luma_at_most(&photo(4000, 3000), 2_000_000);
        assert!(g.width() * g.height() <= 2_000_000);
        assert!(g.width() > 1500, "{}", g.width());
    }
}

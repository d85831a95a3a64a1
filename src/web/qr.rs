//! QR codes of links, so a page on one screen can be opened on a phone.
//!
//! A share page shows the QR code of its own URL on every view, so codes are
//! drawn compactly (one SVG path, a stroke per run of dark modules) and kept by
//! the text they encode: a link's code is drawn once, not on every view.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, LazyLock, Mutex};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use qrcode::{Color, EcLevel, QrCode};

/// Codes kept, at most (about 5 KB each): a code is drawn when a page is rendered,
/// and a link's prepared page (see `prepared`) already holds its code.
const CACHED: usize = 256;
/// Light modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

static CACHE: LazyLock<Mutex<HashMap<Box<str>, Arc<str>>>> = LazyLock::new(Mutex::default);

/// Codes kept now, and the bytes of their texts and URLs.
pub fn kept() -> (usize, usize) {
    let cache = CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    (cache.len(), cache.iter().map(|(text, url)| text.len() + url.len()).sum())
}

/// A QR code of `text` as a `data:` URL of an SVG image (pages allow images only
/// from themselves and `data:`), or `None` when `text` is too long to encode.
pub fn data_url(text: &str) -> Option<Arc<str>> {
    let lock = || CACHE.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(url) = lock().get(text) {
        return Some(url.clone());
    }
    let url: Arc<str> = format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg(text)?)).into();
    let mut cache = lock();
    if cache.len() >= CACHED {
        // Arbitrary eviction is enough: a code is cheap to draw again.
        if let Some(victim) = cache.keys().next().cloned() {
            cache.remove(&victim);
        }
    }
    cache.insert(text.into(), url.clone());
    Some(url)
}

/// The SVG image of the QR code of `text`: black modules on white, scaled by the
/// page (the image's coordinates are modules).
fn svg(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let width = code.width();
    let side = width + 2 * QUIET_ZONE;
    let colors = code.to_colors();
    let mut path = String::with_capacity(width * width);
    for (y, row) in colors.chunks(width).enumerate() {
        let mut x = 0;
        while x < width {
            if row[x] == Color::Light {
                x += 1;
                continue;
            }
            let run = row[x..].iter().take_while(|&&c| c == Color::Dark).count();
            // A stroke of width 1 along the row's middle covers the run exactly.
            let _ = write!(path, "M{} {}.5h{run}", x + QUIET_ZONE, y + QUIET_ZONE);
            x += run;
        }
    }
    Some(format!(
        concat!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" shape-rendering="crispEdges">"#,
            r##"<rect width="{side}" height="{side}" fill="#fff"/><path stroke="#000" d="{path}"/></svg>"##
        ),
        side = side,
        path = path
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(url: &str) -> String {
        let svg = STANDARD.decode(url.strip_prefix("data:image/svg+xml;base64,").unwrap()).unwrap();
        String::from_utf8(svg).unwrap()
    }

    #[test]
    fn encodes_a_share_url_as_a_compact_svg_image() {
        let url =
            data_url("https://share.example.com/s/Jf3kQ2mP9aB4cD8eF1gH3jL5nX7zY0wV6uT2sR4qP8o").unwrap();
        let svg = decoded(&url);
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
        assert!(url.len() < 8_000, "a link's code stays small: {} bytes", url.len());
    }

    #[test]
    fn every_dark_module_is_drawn_and_no_light_one() {
        let text = "https://share.example.com/s/abc";
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).unwrap();
        let width = code.width();
        let svg = svg(text).unwrap();
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut drawn = vec![Color::Light; width * width];
        for stroke in d.split('M').filter(|s| !s.is_empty()) {
            let (start, run) = stroke.split_once('h').unwrap();
            let (x, y) = start.split_once(' ').unwrap();
            let x: usize = x.parse::<usize>().unwrap() - QUIET_ZONE;
            let y: usize = y.trim_end_matches(".5").parse::<usize>().unwrap() - QUIET_ZONE;
            for dx in 0..run.parse::<usize>().unwrap() {
                drawn[y * width + x + dx] = Color::Dark;
            }
        }
        assert_eq!(drawn, code.to_colors());
    }

    #[test]
    fn a_code_is_drawn_once_and_then_kept() {
        let text = "https://share.example.com/s/kept";
        let first = data_url(text).unwrap();
        assert!(Arc::ptr_eq(&first, &data_url(text).unwrap()));
    }

    #[test]
    fn refuses_what_no_qr_code_can_hold() {
        assert_eq!(data_url(&"x".repeat(5000)), None);
    }
}

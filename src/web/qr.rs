//! QR codes of links, so a page on one screen can be opened on a phone.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// A QR code of `text` as a `data:` URL of an SVG image (pages allow images only
/// from themselves and `data:`), or `None` when `text` is too long to encode.
pub fn data_url(text: &str) -> Option<String> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    Some(format!("data:image/svg+xml;base64,{}", STANDARD.encode(image)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_share_url_as_an_svg_image() {
        let url =
            data_url("https://share.example.com/s/Jf3kQ2mP9aB4cD8eF1gH3jL5nX7zY0wV6uT2sR4qP8o").unwrap();
        let svg = STANDARD.decode(url.strip_prefix("data:image/svg+xml;base64,").unwrap()).unwrap();
        let svg = String::from_utf8(svg).unwrap();
        assert!(svg.contains("<svg"), "{svg}");
        assert!(svg.contains("<path"), "{svg}");
    }

    #[test]
    fn refuses_what_no_qr_code_can_hold() {
        assert_eq!(data_url(&"x".repeat(5000)), None);
    }
}

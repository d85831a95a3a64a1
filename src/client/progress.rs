//! Progress bars on standard error, shown only when it is a terminal: uploads and
//! imports say how far they are; piped or redirected, they keep quiet.

use std::io::IsTerminal as _;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` bytes.
pub fn bytes(total: u64) -> ProgressBar {
    bar(total, "{msg:24!} [{bar:30}] {binary_bytes}/{binary_total_bytes}")
}

/// A bar of `total` items (lines, entries).
pub fn items(total: u64, unit: &str) -> ProgressBar {
    bar(total, &format!("{{msg:24!}} [{{bar:30}}] {{pos}}/{{len}} {unit}"))
}

fn bar(total: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

//! The layers of the crate, held by reading its source: the front ends (`api`,
//! `web`, the command-line `client`) never use each other, the client uses nothing
//! of the server, and lower layers never use the ones above them
//! (see docs/ARCHITECTURE.md). A `use` or path that breaks a rule fails here,
//! naming the file, the line and the rule.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What each top-level module may not use (any other module of the crate it may).
const FORBIDDEN: &[(&str, &[&str])] = &[
    (
        "domain",
        &[
            "storage",
            "app",
            "api",
            "web",
            "http",
            "routes",
            "startup",
            "workers",
            "cli",
            "demo",
            "forge",
            "limits",
            "mail",
            "geo",
            "telemetry",
            "metrics",
            "config",
            "client",
        ],
    ),
    (
        "storage",
        &[
            "app",
            "api",
            "web",
            "http",
            "routes",
            "startup",
            "workers",
            "cli",
            "demo",
            "forge",
            "limits",
            "mail",
            "geo",
            "telemetry",
            "config",
            "client",
        ],
    ),
    // What the service counts: recorded by every layer above, using none of them.
    (
        "metrics",
        &[
            "domain",
            "storage",
            "app",
            "api",
            "web",
            "http",
            "routes",
            "startup",
            "workers",
            "cli",
            "demo",
            "forge",
            "limits",
            "mail",
            "geo",
            "telemetry",
            "config",
            "client",
        ],
    ),
    (
        "forge",
        &["storage", "app", "api", "web", "http", "routes", "startup", "workers", "cli", "demo", "client"],
    ),
    (
        "limits",
        &["storage", "app", "api", "web", "http", "routes", "startup", "workers", "cli", "demo", "client"],
    ),
    ("app", &["api", "web", "http", "routes", "startup", "workers", "cli", "demo", "client"]),
    ("workers", &["api", "web", "http", "routes", "startup", "cli", "demo", "client"]),
    ("http", &["api", "web", "routes", "startup", "workers", "cli", "demo", "client"]),
    ("api", &["web", "routes", "startup", "workers", "cli", "demo", "client"]),
    ("web", &["api", "routes", "startup", "workers", "cli", "demo", "client"]),
    // The command-line client speaks HTTP to a server, like any other client: of the
    // crate it uses `domain` values and nothing of the server.
    (
        "client",
        &[
            "storage",
            "app",
            "api",
            "web",
            "http",
            "routes",
            "startup",
            "workers",
            "cli",
            "demo",
            "forge",
            "limits",
            "mail",
            "geo",
            "telemetry",
            "metrics",
            "config",
        ],
    ),
];

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a source file under `src/` (`src/app/mod.rs` → `["app"]`).
fn module_of(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    let file = parts.pop().unwrap();
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" && stem != "main" {
        parts.push(stem.to_owned());
    }
    parts
}

/// The code of a line, without its comment.
fn code(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with("//") {
        return "";
    }
    match line.find("//") {
        // Not inside a string (good enough for this crate: no `//` in its strings of paths).
        Some(at) if !line[..at].contains('"') => &line[..at],
        _ => line,
    }
}

/// The top-level modules a line of code names, from the file's module `module`:
/// `crate::x`, `crate::{x, y}` and `super::super::x` (resolved).
fn modules_named(line: &str, module: &[String]) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let ident =
        |text: &str| -> String { text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect() };
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if let Some(group) = after.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = ident(item.trim());
                if !name.is_empty() {
                    named.insert(name);
                }
            }
        } else {
            named.insert(ident(after));
        }
        rest = after;
    }
    let mut rest = line;
    while let Some(at) = rest.find("super::") {
        let mut after = &rest[at..];
        let mut depth = 0;
        while let Some(next) = after.strip_prefix("super::") {
            depth += 1;
            after = next;
        }
        // A file's own module counts as one level: `super` of `app/tasks.rs` is `app`.
        if depth >= module.len() {
            named.insert(ident(after));
        }
        rest = &rest[at + "super::".len() * depth..];
    }
    named
}

#[test]
fn no_layer_uses_a_layer_above_it_and_the_front_ends_do_not_use_each_other() {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let relative = file.strip_prefix(&src).unwrap();
        let module = module_of(relative);
        let Some(top) = module.first() else { continue };
        let Some((_, forbidden)) = FORBIDDEN.iter().find(|(name, _)| name == top) else { continue };
        checked += 1;
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            for named in modules_named(code(line), &module) {
                if forbidden.contains(&named.as_str()) {
                    broken.push(format!(
                        "{}:{}: {top} uses {named}: {}",
                        relative.display(),
                        n + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} files were checked");
    assert!(
        files.iter().any(|f| f.starts_with(src.join("client"))),
        "the client's files are among those checked"
    );
    assert!(broken.is_empty(), "layers broken:\n{}", broken.join("\n"));
}

#[test]
fn the_scan_finds_every_way_of_naming_a_module() {
    let tasks = ["app".to_owned(), "tasks".to_owned()];
    let named = |line: &str| modules_named(line, &tasks).into_iter().collect::<Vec<_>>();
    assert_eq!(named("use crate::web::page;"), ["web"]);
    assert_eq!(named("use crate::{api, storage::Db};"), ["api", "storage"]);
    assert_eq!(named("let x = crate::http::status_of(kind);"), ["http"]);
    assert_eq!(named("use super::super::web::share;"), ["web"]);
    assert!(named("use super::error::Error;").is_empty(), "a sibling is no other layer");
    assert!(named(code("// see crate::api")).is_empty(), "comments name nothing");
}

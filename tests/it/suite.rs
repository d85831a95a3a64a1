//! Rules the test suite keeps about itself, held by reading its source.

use std::path::Path;

/// `(name, text)` of each test function in `source`: from its `fn` line to the
/// line that closes it at the same indentation.
fn tests_in(source: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut tests = Vec::new();
    for (at, line) in lines.iter().enumerate() {
        let attribute = line.trim_start();
        if !(attribute.starts_with("#[tokio::test") || attribute == "#[test]") {
            continue;
        }
        let Some(start) = (at + 1..lines.len()).find(|&i| lines[i].contains("fn ")) else { continue };
        let head = lines[start];
        let indent = &head[..head.len() - head.trim_start().len()];
        let name = head.split("fn ").nth(1).unwrap_or_default();
        let name = name.split(['(', '<']).next().unwrap_or_default().trim().to_owned();
        let close = format!("{indent}}}");
        let end = (start + 1..lines.len()).find(|&i| lines[i] == close).unwrap_or(lines.len() - 1);
        tests.push((name, lines[start..=end].join("\n")));
    }
    tests
}

/// Without `AGENTSHARE_TEST_POSTGRES_URL` a PostgreSQL test passes without running;
/// its name is what tells a reader that `ok` meant nothing there.
#[test]
fn every_test_that_runs_on_postgresql_alone_says_so_in_its_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut unnamed = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        for (name, text) in tests_in(&source) {
            seen += 1;
            let postgres_alone = text.contains("Backend::Postgres") && !text.contains("Backend::Sqlite");
            if postgres_alone && !name.contains("postgres") {
                unnamed.push(format!("{}: {name}", path.file_name().unwrap().to_string_lossy()));
            }
        }
    }
    assert!(seen > 50, "the scan found only {seen} tests");
    assert!(
        unnamed.is_empty(),
        "tests that run on PostgreSQL alone, without `postgres` in their name: {unnamed:#?}"
    );
}

#[test]
fn the_scan_reads_names_and_bodies() {
    // The backend is named in pieces, so that this test's own text doesn't name it.
    let backend = ["Backend", "Postgres"].join("::");
    let source = format!(
        "#[tokio::test(flavor = \"multi_thread\")]\nasync fn on_one() {{\n    go({backend});\n}}\n\n    #[test]\n    fn nested<T>() {{\n        x();\n    }}\n"
    );
    let tests = tests_in(&source);
    assert_eq!(tests.len(), 2);
    assert_eq!(tests[0].0, "on_one");
    assert!(tests[0].1.contains(&backend));
    assert_eq!(tests[1].0, "nested");
    assert!(tests[1].1.ends_with("    }"));
}

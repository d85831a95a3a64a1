//! What the benchmarks share: command-line arguments, a scratch database, and
//! writing a section of BENCHMARKS.md.

// Each benchmark includes this module and uses part of it.
#![allow(dead_code)]

use agentshare::domain::ids;
use sqlx::Connection as _;

/// The value after `name` on the command line, or `default`.
pub fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_owned())
}

/// A fresh database for one run: a SQLite file in `dir`, or a new PostgreSQL
/// database on `AGENTSHARE_TEST_POSTGRES_URL`'s server (dropped by [`Scratch::drop_database`]).
pub struct Scratch {
    pub url: String,
    postgres: Option<(String, String)>,
}

impl Scratch {
    pub async fn new(backend: &str, dir: &std::path::Path) -> anyhow::Result<Scratch> {
        match backend {
            "sqlite" => Ok(Scratch { url: format!("sqlite://{}/bench.db", dir.display()), postgres: None }),
            "postgres" => {
                let admin = std::env::var("AGENTSHARE_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("agentshare_bench_{}", hex::encode(ids::random_bytes::<4>()));
                let mut conn = sqlx::PgConnection::connect(&admin).await?;
                sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await?;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
                Ok(Scratch { url: format!("{base}/{name}"), postgres: Some((admin, name)) })
            }
            other => anyhow::bail!("unknown backend {other}"),
        }
    }

    /// Drops a PostgreSQL scratch database (a SQLite one goes with its directory).
    pub async fn drop_database(self) -> anyhow::Result<()> {
        if let Some((admin, name)) = self.postgres {
            let mut conn = sqlx::PgConnection::connect(&admin).await?;
            sqlx::query(&format!("DROP DATABASE {name} WITH (FORCE)")).execute(&mut conn).await?;
        }
        Ok(())
    }
}

/// Replaces the section between `begin` and `end` of `file` (or appends it).
pub fn write_between(file: &std::path::Path, begin: &str, end: &str, section: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let block = format!("{begin}\n{section}{end}\n\n");
    let updated = match (text.find(begin), text.find(end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!("{}{block}{}", &text[..start], text[stop + end.len()..].trim_start_matches('\n'))
        }
        _ => format!("{}\n{block}", text.trim_end()),
    };
    std::fs::write(file, updated)?;
    Ok(())
}

/// `n` with a comma between thousands: `1,000,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

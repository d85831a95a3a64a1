//! Analytics at scale.
//!
//! Records `--views` views of one share link through the same write path the
//! viewer's page uses (`Db::record_view`: count, view row and rollups in one
//! transaction), spread over a year and over varied browsers, referrers and
//! visitors; then times the analytics query the owner API runs. Prints one
//! Markdown table row per run.
//!
//! `cargo bench --bench analytics -- --backend sqlite --views 1000000`
//! (`--backend postgres` uses `AGENTSHARE_TEST_POSTGRES_URL` and a scratch database).

mod common;

use common::{arg, Scratch};
use std::time::{Duration, Instant};

use agentshare::domain::ids::{self, ShareLinkId};
use agentshare::domain::share::{LinkKeys, Permissions};
use agentshare::domain::time::Timestamp;
use agentshare::storage::{Db, DbOptions, NewShareLink, NewTask, NewView, TaskPatch};

const AGENTS: [(&str, &str, &str); 4] = [
    ("Chrome", "Windows 10", "desktop"),
    ("Safari", "iOS", "mobile"),
    ("Firefox", "Linux", "desktop"),
    ("Googlebot", "UNKNOWN", "bot"),
];
const REFERRERS: [Option<&str>; 5] = [
    None,
    Some("mail.example.com"),
    Some("chat.example.org"),
    Some("news.example.net"),
    Some("t.example.co"),
];
const COUNTRIES: [Option<&str>; 4] = [Some("US"), Some("DE"), Some("JP"), None];

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let backend = arg("--backend", "sqlite");
    let views: u64 = arg("--views", "1000000").parse()?;
    let writers: u64 = arg("--writers", "4").parse()?;
    let dir = tempfile::tempdir()?;
    let scratch = Scratch::new(&backend, dir.path()).await?;
    let url = scratch.url.clone();
    let db = Db::connect(&DbOptions { url: url.clone(), max_connections: writers as u32 + 2 }).await?;
    db.migrate().await?;

    let owner = db.upsert_owner("bench", None).await?;
    let task = db
        .create_task(&owner.owner_id, &NewTask::titled("bench"))
        .await?
        .map_err(|existing| anyhow::anyhow!("task {existing} exists"))?;
    let patch =
        TaskPatch { status: Some(agentshare::domain::task::TaskStatus::Completed), ..TaskPatch::default() };
    db.update_task(&owner.owner_id, &task.task_id, &patch).await?;
    let keys = LinkKeys::new(ids::random_bytes::<32>());
    let share_link_id = ShareLinkId::generate();
    let now = Timestamp::now();
    let link = db
        .insert_share_link(&NewShareLink {
            token_hash: ids::secret_hash(&keys.token(share_link_id.as_str())),
            short_code_hash: ids::secret_hash(&keys.short_code(share_link_id.as_str())),
            share_link_id: share_link_id.clone(),
            task_id: task.task_id.clone(),
            owner_id: owner.owner_id.clone(),
            title: "bench".into(),
            description: None,
            password_hash: None,
            expires_at: now.plus_days(30),
            max_views: None,
            permissions: Permissions::default(),
            notify_on_view: false,
            mask_secrets: true,
            redaction: None,
            snapshot_seq: None,
            audience: None,
        })
        .await?
        .expect("a fresh link");

    // Record the views, spread evenly over the past year.
    let year_ms = 365 * 86_400_000_i64;
    let start = now.millis() - year_ms;
    let began = Instant::now();
    let mut handles = Vec::new();
    for w in 0..writers {
        let (db, link) = (db.clone(), link.clone());
        handles.push(tokio::spawn(async move {
            let mut i = w;
            while i < views {
                let (browser, os, device) = AGENTS[(i % 4) as usize];
                let view = NewView {
                    ip_address: format!("198.51.{}.{}", (i / 250) % 250, i % 250),
                    client_prefix: Some(format!("198.51.{}.0/24", i % 250)),
                    visitor_hash: format!("{:032x}", i % 50_000),
                    country: COUNTRIES[(i % 4) as usize].map(str::to_owned),
                    city: None,
                    user_agent: Some(format!("{browser}/1.0 ({os})")),
                    referrer_host: REFERRERS[(i % 5) as usize].map(str::to_owned),
                    browser: browser.into(),
                    os: os.into(),
                    device: device.into(),
                    viewer_email: None,
                };
                let at = Timestamp(start + (i as i64 * year_ms) / views as i64);
                db.record_view(&link, &view, at).await.expect("view recorded").expect("link active");
                i += writers;
            }
        }));
    }
    for handle in handles {
        handle.await?;
    }
    let write_secs = began.elapsed().as_secs_f64();

    // Time the analytics query, as the owner API runs it.
    let mut samples = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let link = db.get_share_link(&owner.owner_id, &share_link_id).await?.expect("link");
        let analytics = db.share_link_analytics(&link).await?;
        samples.push(t.elapsed());
        assert_eq!(analytics.total_views as u64, views);
    }
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;

    let size_bytes: i64 = match &db {
        Db::Sqlite { .. } => {
            let file = |suffix: &str| {
                std::fs::metadata(dir.path().join(format!("bench.db{suffix}"))).map_or(0, |m| m.len())
            };
            (file("") + file("-wal")) as i64
        }
        Db::Postgres(pool) => {
            sqlx::query_scalar("SELECT pg_database_size(current_database())").fetch_one(pool).await?
        }
    };
    db.close().await;
    scratch.drop_database().await?;
    println!(
        "| {backend} | {views} | {:.0} views/s | {:.2} ms | {:.2} ms | {:.2} ms | {:.0} MB ({:.0} bytes/view) |",
        views as f64 / write_secs,
        ms(pct(0.5)),
        ms(pct(0.99)),
        ms(*samples.last().unwrap()),
        size_bytes as f64 / 1e6,
        size_bytes as f64 / views as f64,
    );
    Ok(())
}

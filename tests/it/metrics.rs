//! Prometheus metrics: served on their own listener only, moving with what the
//! service does, and read by a real Prometheus.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::{in_ci, Backend, TestApp};
use crate::webhooks::Receiver;

fn settings(s: &mut agentshare::config::Settings) {
    s.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
    s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
    s.webhook_retry_base = Duration::from_millis(50);
}

/// One scrape: each sample line's name and labels, and its value.
#[derive(Debug)]
pub(crate) struct Scrape(BTreeMap<String, f64>);

impl Scrape {
    /// The sample `series` (`name{labels}` as written), 0 when absent.
    pub(crate) fn get(&self, series: &str) -> f64 {
        self.0.get(series).copied().unwrap_or(0.0)
    }
}

pub(crate) async fn scrape(app: &TestApp) -> Scrape {
    let addr = app.metrics.expect("the metrics listener is on");
    let response = app.client.get(format!("http://{addr}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("application/openmetrics-text; version=1.0.0"), "{content_type}");
    let text = crate::common::read_text(response).await;
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("a sample line: {line}"));
            (series.to_owned(), value.parse().unwrap_or_else(|_| panic!("a number: {line}")))
        })
        .collect();
    Scrape(samples)
}

/// Scrapes until `done` holds for the scrape (bounded), and returns it.
pub(crate) async fn scrape_until(app: &TestApp, what: &str, done: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = scrape(app).await;
        if done(&now) {
            return now;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what} never showed: {now:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

mod the_counts_follow_what_the_service_does {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        let app = crate::common::TestApp::spawn_with(crate::common::Backend::Sqlite, super::settings)
            .await
            .unwrap();
        super::the_counts_follow_what_the_service_does(app).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        if let Some(app) =
            crate::common::TestApp::spawn_with(crate::common::Backend::Postgres, super::settings).await
        {
            super::the_counts_follow_what_the_service_does(app).await
        }
    }
}

async fn the_counts_follow_what_the_service_does(app: TestApp) {
    // The public listener has no metrics.
    let (status, _) = app.request_as(None, Method::GET, "/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let before = scrape(&app).await;
    let delta = |now: &Scrape, series: &str| now.get(series) - before.get(series);

    // Two endpoints hear of revocations: one takes them, one answers 503 and
    // asks to be tried again in an hour.
    let mut taking = Receiver::start().await;
    let refusing = Receiver::start().await;
    refusing.plan.lock().unwrap().push_back((503, Some(3600)));
    for receiver in [&taking, &refusing] {
        let (status, body) =
            app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["share_link.revoked"]})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    let task = app.finished_task("Measured").await;
    let open = app.share(&task, json!({})).await;
    let protected = app.share(&task, json!({"password": "correct horse", "max_views": 1})).await;
    let locked = app.share(&task, json!({"password": "another horse"})).await;
    let url = |link: &Value| link["url"].as_str().unwrap().to_owned();

    for _ in 0..2 {
        assert_eq!(app.view(&url(&open), None).await.0, StatusCode::OK);
    }
    // The instance's link cache keeps the one link that opens without a
    // question, its content cache the task those views showed; the pages'
    // caches are the process's (other tests fill them too).
    let cached = scrape(&app).await;
    assert_eq!(cached.get(r#"agentshare_cache_entries{cache="links"}"#), 1.0, "{cached:?}");
    assert_eq!(cached.get(r#"agentshare_cache_entries{cache="tasks"}"#), 1.0, "{cached:?}");
    for cache in ["pages", "markdown", "qr_codes"] {
        assert!(
            cached.0.contains_key(&format!(r#"agentshare_cache_bytes{{cache="{cache}"}}"#)),
            "{cached:?}"
        );
    }
    assert_eq!(app.view(&url(&protected), Some("wrong")).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(app.view(&url(&protected), Some("correct horse")).await.0, StatusCode::OK);
    assert_ne!(app.view(&url(&protected), Some("correct horse")).await.0, StatusCode::OK, "used up");
    // Wrong passwords until this client is locked out of the third link.
    let mut wrong = 0;
    loop {
        let (status, body) = app.view(&url(&locked), Some("wrong")).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "TOO_MANY_ATTEMPTS", "{body}");
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        wrong += 1;
        assert!(wrong < 50, "never locked out");
    }
    let share_link_id = open["share_link_id"].as_str().unwrap();
    let (status, body) = app.request(Method::DELETE, &format!("/v1/share-links/{share_link_id}"), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    taking.next().await;

    // An open event stream is counted while it lasts.
    let stream = app
        .client
        .get(app.url(&format!("/v1/tasks/{task}/events/stream")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    scrape_until(&app, "the open stream", |s| s.get("agentshare_event_streams_open") == 1.0).await;
    drop(stream);
    scrape_until(&app, "the closed stream", |s| s.get("agentshare_event_streams_open") == 0.0).await;

    let now = scrape_until(&app, "both delivery attempts", |s| {
        delta(s, r#"agentshare_webhook_deliveries_total{outcome="delivered"}"#) == 1.0
            && delta(s, r#"agentshare_webhook_deliveries_total{outcome="refused"}"#) == 1.0
    })
    .await;
    assert_eq!(delta(&now, "agentshare_share_links_created_total"), 3.0);
    assert_eq!(delta(&now, "agentshare_share_links_revoked_total"), 1.0);
    assert_eq!(delta(&now, r#"agentshare_views_total{outcome="counted"}"#), 3.0);
    assert_eq!(delta(&now, r#"agentshare_password_checks_total{outcome="correct"}"#), 1.0);
    assert_eq!(delta(&now, r#"agentshare_password_checks_total{outcome="wrong"}"#), 1.0 + f64::from(wrong));
    assert_eq!(delta(&now, r#"agentshare_password_checks_total{outcome="locked_out"}"#), 1.0);
    assert_eq!(
        delta(&now, r#"agentshare_http_requests_total{route="/s/{token}",method="GET",status="200"}"#),
        3.0
    );
    assert_eq!(
        delta(&now, r#"agentshare_http_requests_total{route="/s/{token}",method="GET",status="401"}"#),
        1.0 + f64::from(wrong)
    );
    assert_eq!(
        delta(&now, r#"agentshare_http_request_duration_seconds_count{route="/s/{token}",method="GET"}"#),
        delta(
            &now,
            r#"agentshare_http_request_duration_seconds_bucket{le="+Inf",route="/s/{token}",method="GET"}"#
        ),
    );
    assert!(
        delta(&now, r#"agentshare_http_request_duration_seconds_count{route="/s/{token}",method="GET"}"#)
            >= 6.0
    );
    // Every committed view is in a batch, and each batch was timed.
    let committed: f64 = ["counted", "refused", "changed"]
        .iter()
        .map(|outcome| delta(&now, &format!(r#"agentshare_views_total{{outcome="{outcome}"}}"#)))
        .sum();
    assert_eq!(delta(&now, "agentshare_view_batch_size_sum"), committed);
    assert!(delta(&now, "agentshare_view_batch_size_count") >= 1.0);
    assert_eq!(
        delta(&now, "agentshare_view_batch_size_count"),
        delta(&now, "agentshare_view_batch_commit_seconds_count")
    );
    // The refused delivery waits for its next try, an hour away.
    assert_eq!(now.get("agentshare_webhook_outbox_pending"), 1.0);
    assert!(now.get("agentshare_webhook_outbox_oldest_pending_age_seconds") > 0.0, "{now:?}");
    assert_eq!(now.get("agentshare_webhook_endpoints_failing"), 0.0);
    assert_eq!(now.get(r#"agentshare_password_hashing{outcome="waiting"}"#), 0.0);
    let pools: &[&str] = match app.db.backend {
        Backend::Sqlite => &["read", "write"],
        Backend::Postgres => &["all"],
    };
    for pool in pools {
        let max = now.get(&format!(r#"agentshare_db_connections{{pool="{pool}",state="max"}}"#));
        let open = now.get(&format!(r#"agentshare_db_connections{{pool="{pool}",state="busy"}}"#))
            + now.get(&format!(r#"agentshare_db_connections{{pool="{pool}",state="idle"}}"#));
        assert!(max >= 1.0 && open <= max, "{pool}: {now:?}");
    }

    // A client naming links that do not exist is refused after a while.
    let mut misses = 0;
    while app.request_as(None, Method::GET, &format!("/s/no-such-link-{misses}"), None).await.0
        == StatusCode::NOT_FOUND
    {
        misses += 1;
        assert!(misses < 100, "never refused");
    }
    let now = scrape(&app).await;
    assert_eq!(delta(&now, "agentshare_miss_limiter_refusals_total"), 1.0);
    // Two 429s: the lockout, then this refusal.
    assert_eq!(
        delta(&now, r#"agentshare_http_requests_total{route="/s/{token}",method="GET",status="429"}"#),
        2.0
    );
}

/// A real Prometheus, scraping a running instance every second, sees the counts
/// move with the traffic sent and reads the latency histogram.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_a_running_instance() {
    let Some(prometheus) = prometheus_binary() else {
        return;
    };
    let app = TestApp::spawn_with(Backend::Sqlite, settings).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let target = app.metrics.unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: agentshare\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let log = dir.path().join("prometheus.log");
    let mut server = tokio::process::Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address={web}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .expect("prometheus starts");
    let prometheus = Prometheus { client: app.client.clone(), web, log };

    prometheus.until(r#"up{job="agentshare"}"#, 1.0).await;
    prometheus.until("agentshare_share_links_created_total", 0.0).await;
    let task = app.finished_task("Scraped").await;
    let mut urls = Vec::new();
    for _ in 0..3 {
        urls.push(app.share(&task, json!({})).await["url"].as_str().unwrap().to_owned());
    }
    for url in &urls {
        assert_eq!(app.view(url, None).await.0, StatusCode::OK);
    }
    prometheus.until("agentshare_share_links_created_total", 3.0).await;
    prometheus.until(r#"agentshare_views_total{outcome="counted"}"#, 3.0).await;
    prometheus.until(r#"sum(agentshare_http_requests_total{route="/s/{token}",status="200"})"#, 3.0).await;
    // The histogram is one Prometheus computes quantiles from.
    let p99 = r#"histogram_quantile(0.99, sum by (le) (agentshare_http_request_duration_seconds_bucket{route="/s/{token}"}))"#;
    let seconds = prometheus.query(p99).await.expect("a quantile of the view latency");
    assert!(seconds > 0.0 && seconds <= 10.0, "{seconds}");
    let _ = server.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(10), server.wait()).await;
}

/// A Prometheus server's query API.
struct Prometheus {
    client: reqwest::Client,
    web: SocketAddr,
    log: std::path::PathBuf,
}

impl Prometheus {
    /// The first value `expr` evaluates to now, if any.
    async fn query(&self, expr: &str) -> Option<f64> {
        let url = format!("http://{}/api/v1/query", self.web);
        let response = self.client.get(url).query(&[("query", expr)]).send().await.ok()?;
        let body: Value = response.json().await.ok()?;
        body["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    }

    /// Waits (bounded) until `expr` evaluates to `want`.
    async fn until(&self, expr: &str, want: f64) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let seen = self.query(expr).await;
            if seen == Some(want) {
                return;
            }
            if tokio::time::Instant::now() >= deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                panic!("Prometheus never read {expr} = {want} (last {seen:?}); its log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The `prometheus` binary (`AGENTSHARE_TEST_PROMETHEUS`, else on the `PATH`); in
/// CI its absence fails the test.
fn prometheus_binary() -> Option<std::path::PathBuf> {
    let named = std::env::var_os("AGENTSHARE_TEST_PROMETHEUS").map(std::path::PathBuf::from);
    let found = named.or_else(|| {
        std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path).map(|dir| dir.join("prometheus")).find(|p| p.is_file())
        })
    });
    if found.is_none() {
        assert!(!in_ci(), "CI runs the Prometheus test: install Debian's prometheus package");
        eprintln!("NOTICE: the Prometheus scrape test is SKIPPED: no prometheus binary (apt-get install prometheus)");
    }
    found
}

/// A port nobody listens on now.
fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

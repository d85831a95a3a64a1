//! Webhooks delivered to a real HTTP receiver on this machine: signed, retried,
//! durable across a crash, and delivered once with two instances.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::common::{assert_error, assert_invalid, Backend, TestApp, TestDb};

/// Answers the receiver will give, in order: (status, Retry-After seconds).
pub type Plan = Arc<Mutex<VecDeque<(u16, Option<u64>)>>>;

/// What the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

/// A local HTTP endpoint that records every request and answers from a plan
/// (status, Retry-After), then 200 once the plan is used up.
pub struct Receiver {
    pub url: String,
    pub got: mpsc::UnboundedReceiver<Received>,
    pub plan: Plan,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (tx, got) = mpsc::unbounded_channel();
        let plan: Plan = Arc::default();
        let answers = plan.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: Bytes| {
                let tx = tx.clone();
                let answers = answers.clone();
                async move {
                    let _ = tx.send(Received { headers, body: String::from_utf8_lossy(&body).into_owned() });
                    let (status, retry_after) = answers.lock().unwrap().pop_front().unwrap_or((200, None));
                    let mut response =
                        axum::response::IntoResponse::into_response(AxumStatus::from_u16(status).unwrap());
                    if let Some(secs) = retry_after {
                        response.headers_mut().insert("retry-after", secs.into());
                    }
                    response
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, plan }
    }

    /// The next request, or a failure after a generous bound.
    pub async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(30), self.got.recv())
            .await
            .expect("a delivery arrives")
            .unwrap()
    }
}

fn settings(s: &mut agentshare::config::Settings) {
    s.webhook_allow_cidrs = vec!["127.0.0.0/8".parse().unwrap()];
    s.webhook_retry_base = Duration::from_millis(50);
}

async fn register(app: &TestApp, url: &str, events: &[&str]) -> (String, String) {
    let (status, body) =
        app.post("/v1/webhooks", json!({"url": url, "events": events, "description": "test receiver"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["data"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (body["data"]["webhook_id"].as_str().unwrap().to_owned(), secret)
}

/// Polls the deliveries API until `done` holds (bounded), and returns them.
async fn deliveries_until(app: &TestApp, webhook_id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = app.get(&format!("/v1/webhooks/{webhook_id}/deliveries")).await;
        let list = body["data"]["deliveries"].as_array().cloned().unwrap_or_default();
        if done(&list) {
            return list;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never reached the expected state: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

macro_rules! webhook_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = crate::common::TestApp::spawn_with(crate::common::Backend::Sqlite, super::settings).await.unwrap();
                super::$name(app).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(app) = crate::common::TestApp::spawn_with(crate::common::Backend::Postgres, super::settings).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

webhook_tests!(
    an_endpoint_that_keeps_failing_is_marked_failing_until_it_recovers,
    a_view_sends_one_signed_notification_in_the_documented_shape,
    failing_receivers_get_the_event_on_a_later_try,
    the_link_lifecycle_and_share_codes_are_notified,
    endpoints_are_managed_by_their_owner,
    a_disabled_endpoint_gets_no_retry_until_enabled_again,
);

/// A delivery that was waiting for its next try when its endpoint was disabled is
/// not tried while the endpoint stays disabled, and goes out once it is enabled.
async fn a_disabled_endpoint_gets_no_retry_until_enabled_again(app: TestApp) {
    let mut paused = Receiver::start().await;
    // The first try fails and asks for an hour's rest.
    paused.plan.lock().unwrap().push_back((503, Some(3600)));
    let (paused_id, _) = register(&app, &paused.url, &["share_link.created"]).await;
    let task = app.finished_task("t").await;
    app.share(&task, json!({})).await;
    let first = paused.next().await;
    deliveries_until(&app, &paused_id, |d| d.len() == 1).await;
    let path = format!("/v1/webhooks/{paused_id}");
    let (status, _) = app.patch(&path, json!({"status": "disabled"})).await;
    assert_eq!(status, StatusCode::OK);
    // Due now: only the endpoint's being disabled keeps it back.
    app.sql("UPDATE webhook_deliveries SET next_attempt_at = 0 WHERE status = 'pending'").await;

    // The worker delivers another endpoint's event (and takes every due delivery
    // when it does), twice over.
    let mut other = Receiver::start().await;
    let (other_id, _) = register(&app, &other.url, &["share_link.created"]).await;
    for round in 1..=2 {
        app.share(&task, json!({})).await;
        other.next().await;
        deliveries_until(&app, &other_id, |d| {
            d.len() == round && d.iter().all(|a| a["delivery_status"] == "delivered")
        })
        .await;
    }
    assert!(paused.got.try_recv().is_err(), "nothing reached the disabled endpoint");
    let (_, attempts) = app.get(&format!("{path}/deliveries")).await;
    assert_eq!(attempts["data"]["deliveries"].as_array().unwrap().len(), 1, "{attempts}");

    let (_, enabled) = app.patch(&path, json!({"status": "active"})).await;
    let enabled_at =
        chrono::DateTime::parse_from_rfc3339(enabled["data"]["updated_at"].as_str().unwrap()).unwrap();
    let retried = paused.next().await;
    assert_eq!(retried.headers["webhook-id"], first.headers["webhook-id"], "the same event");
    let attempts = deliveries_until(&app, &paused_id, |d| {
        d.first().is_some_and(|a| a["delivery_status"] == "delivered")
    })
    .await;
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let delivered_at =
        chrono::DateTime::parse_from_rfc3339(attempts[0]["attempted_at"].as_str().unwrap()).unwrap();
    assert!(delivered_at >= enabled_at, "tried again only once enabled: {delivered_at} < {enabled_at}");
}

async fn a_view_sends_one_signed_notification_in_the_documented_shape(app: TestApp) {
    let mut receiver = Receiver::start().await;
    let (webhook_id, secret) = register(&app, &receiver.url, &["share_link.viewed"]).await;
    let task = app.finished_task("t").await;
    let quiet = app.share(&task, json!({})).await;
    let watched = app.share(&task, json!({"notify_on_view": true, "max_views": 100})).await;
    app.view(quiet["url"].as_str().unwrap(), None).await;
    let response = app
        .client
        .get(watched["url"].as_str().unwrap())
        .header("accept", "application/json")
        .header("user-agent", "Mozilla/5.0 (test)")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let delivery = receiver.next().await;
    let signer = standardwebhooks::Webhook::new(&secret).unwrap();
    signer
        .verify(delivery.body.as_bytes(), &delivery.headers)
        .expect("the signature verifies with a Standard Webhooks library");
    let wrong = standardwebhooks::Webhook::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
    assert!(wrong.verify(delivery.body.as_bytes(), &delivery.headers).is_err());
    let body: Value = serde_json::from_str(&delivery.body).unwrap();
    assert_eq!(body["event"], "share_link.viewed");
    assert_eq!(body["share_link_id"], watched["share_link_id"]);
    assert_eq!(body["task_id"], task.as_str());
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["viewer"]["ip_address"], "127.0.0.1");
    assert_eq!(body["viewer"]["user_agent"], "Mozilla/5.0 (test)");
    assert_eq!(body["viewer"]["country"], Value::Null);
    assert_eq!(body["viewer"]["city"], Value::Null);
    assert_eq!(body["view_count"], 1);
    assert_eq!(body["max_views"], 100);
    assert_eq!(delivery.headers["webhook-id"].to_str().unwrap().len(), 20);

    let attempts =
        deliveries_until(&app, &webhook_id, |d| d.len() == 1 && d[0]["delivery_status"] == "delivered").await;
    assert_eq!(attempts[0]["status_code"], 200);
    assert_eq!(attempts[0]["event_type"], "share_link.viewed");
    let viewed =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.viewed'").await;
    assert_eq!(viewed, 1, "only the link with notify_on_view notifies");
}

async fn failing_receivers_get_the_event_on_a_later_try(app: TestApp) {
    let mut receiver = Receiver::start().await;
    receiver.plan.lock().unwrap().extend([(500, None), (503, Some(1))]);
    let (webhook_id, _) = register(&app, &receiver.url, &["share_link.created"]).await;
    let task = app.finished_task("t").await;
    app.share(&task, json!({})).await;
    let first = receiver.next().await;
    let second = receiver.next().await;
    let third = receiver.next().await;
    let id = |r: &Received| r.headers["webhook-id"].to_str().unwrap().to_owned();
    assert_eq!(id(&first), id(&second));
    assert_eq!(id(&second), id(&third), "the same event, retried");
    let attempts =
        deliveries_until(&app, &webhook_id, |d| d.len() == 3 && d[0]["delivery_status"] == "delivered").await;
    let codes: Vec<i64> = attempts.iter().rev().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, vec![500, 503, 200]);
    assert!(attempts[2]["error"].as_str().unwrap().contains("500"));
    assert_eq!(attempts[0]["attempts"], 3);
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = attempts
        .iter()
        .rev()
        .map(|a| chrono::DateTime::parse_from_rfc3339(a["attempted_at"].as_str().unwrap()).unwrap())
        .collect();
    assert!((times[2] - times[1]).num_milliseconds() >= 900, "Retry-After: 1 was honoured: {times:?}");
    let (_, endpoint) = app.get(&format!("/v1/webhooks/{webhook_id}")).await;
    assert_eq!(endpoint["data"]["consecutive_failures"], 0);
    assert_eq!(endpoint["data"]["status"], "active");
}

async fn an_endpoint_that_keeps_failing_is_marked_failing_until_it_recovers(app: TestApp) {
    let mut receiver = Receiver::start().await;
    // Four quick failures, then one that asks for 3 seconds' rest: time enough to
    // look at the endpoint between the fifth failure and the sixth try.
    receiver.plan.lock().unwrap().extend(std::iter::repeat_n((500, None), 4).chain([(500, Some(3))]));
    let (webhook_id, _) = register(&app, &receiver.url, &["share_link.created"]).await;
    let task = app.finished_task("t").await;
    app.share(&task, json!({})).await;
    for _ in 0..5 {
        receiver.next().await;
    }
    let path = format!("/v1/webhooks/{webhook_id}");
    let attempts = deliveries_until(&app, &webhook_id, |d| d.len() >= 5).await;
    assert!(attempts.iter().take(5).all(|a| a["status_code"] == 500));
    let (_, endpoint) = app.get(&path).await;
    assert_eq!(endpoint["data"]["status"], "failing", "failing after 5 failures in a row");
    assert_eq!(endpoint["data"]["consecutive_failures"], 5);
    receiver.next().await;
    deliveries_until(&app, &webhook_id, |d| d.first().is_some_and(|a| a["delivery_status"] == "delivered"))
        .await;
    let (_, endpoint) = app.get(&path).await;
    assert_eq!(endpoint["data"]["status"], "active", "a success makes it active again");
    assert_eq!(endpoint["data"]["consecutive_failures"], 0);
}

async fn the_link_lifecycle_and_share_codes_are_notified(app: TestApp) {
    let mut receiver = Receiver::start().await;
    register(
        &app,
        &receiver.url,
        &["share_link.created", "share_link.expired", "share_link.revoked", "task_share.accessed"],
    )
    .await;
    let task = app.finished_task("t").await;
    let once = app.share(&task, json!({"max_views": 1})).await;
    app.view(once["url"].as_str().unwrap(), None).await;
    app.request(
        Method::DELETE,
        &format!("/v1/share-links/{}", once["share_link_id"].as_str().unwrap()),
        None,
    )
    .await;
    let (_, code) = app.post(&format!("/v1/agentrix/tasks/{task}/share"), json!({})).await;
    app.request_as(
        None,
        Method::GET,
        &format!("/v1/auth/share?code={}", code["shareCode"].as_str().unwrap()),
        None,
    )
    .await;
    let mut events = Vec::new();
    for _ in 0..4 {
        let body: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
        events.push(body);
    }
    let kinds: std::collections::BTreeSet<&str> =
        events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["share_link.created", "share_link.expired", "share_link.revoked", "task_share.accessed"].into()
    );
    for event in &events {
        assert_eq!(event["task_id"], task.as_str(), "{event}");
        if event["event"].as_str().unwrap().starts_with("share_link.") {
            assert_eq!(event["share_link_id"], once["share_link_id"]);
        }
    }
    let accessed = events.iter().find(|e| e["event"] == "task_share.accessed").unwrap();
    assert_eq!(accessed["viewer"]["ip_address"], "127.0.0.1");
    // A link whose time runs out is noticed and announced, once; the link that
    // expired by its view limit is not announced again.
    let timed = app.share(&task, json!({})).await;
    let timed_id = timed["share_link_id"].as_str().unwrap();
    app.sql(&format!("UPDATE share_links SET expires_at = 1000 WHERE share_link_id = '{timed_id}'")).await;
    let body: Value = serde_json::from_str(&receiver.next().await.body).unwrap();
    let body = if body["event"] == "share_link.created" {
        serde_json::from_str(&receiver.next().await.body).unwrap()
    } else {
        body
    };
    assert_eq!(body["event"], "share_link.expired");
    assert_eq!(body["share_link_id"], timed_id);
    let expired =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.expired'").await;
    assert_eq!(expired, 2, "one per link");
    // Revoking again is not a new revocation.
    app.request(
        Method::DELETE,
        &format!("/v1/share-links/{}", once["share_link_id"].as_str().unwrap()),
        None,
    )
    .await;
    let revoked =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.revoked'").await;
    assert_eq!(revoked, 1);
}

async fn endpoints_are_managed_by_their_owner(app: TestApp) {
    let mut receiver = Receiver::start().await;
    let (webhook_id, secret) = register(&app, &receiver.url, &["share_link.viewed"]).await;
    let path = format!("/v1/webhooks/{webhook_id}");
    let (_, got) = app.get(&path).await;
    assert!(got["data"].get("secret").is_none(), "the secret is shown once");
    assert_eq!(got["data"]["events"], json!(["share_link.viewed"]));

    let (status, queued) = app.request(Method::POST, &format!("{path}/test"), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let test = receiver.next().await;
    assert_eq!(test.headers["webhook-id"], queued["data"]["event_id"].as_str().unwrap());
    standardwebhooks::Webhook::new(&secret).unwrap().verify(test.body.as_bytes(), &test.headers).unwrap();

    let (_, rotated) = app
        .patch(&path, json!({"rotate_secret": true, "events": ["share_link.created"], "description": null}))
        .await;
    let new_secret = rotated["data"]["secret"].as_str().unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(rotated["data"]["events"], json!(["share_link.created"]));
    assert_eq!(rotated["data"]["description"], Value::Null);
    app.request(Method::POST, &format!("{path}/test"), None).await;
    let test = receiver.next().await;
    assert!(standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .verify(test.body.as_bytes(), &test.headers)
        .is_err());
    standardwebhooks::Webhook::new(new_secret).unwrap().verify(test.body.as_bytes(), &test.headers).unwrap();

    for (body, field) in [
        (json!({"url": "not a url", "events": ["share_link.viewed"]}), "url"),
        (json!({"url": "ftp://x.example/", "events": ["share_link.viewed"]}), "url"),
        (json!({"url": "https://x.example/", "events": []}), "events"),
        (json!({"url": "https://x.example/", "events": ["share_link.exploded"]}), "events"),
        (json!({"url": "https://x.example/"}), "events"),
    ] {
        let (status, answer) = app.post("/v1/webhooks", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_invalid(&answer, field);
    }
    let bob = app.new_owner("bob").await;
    let (status, answer) = app.request_as(Some(&bob), Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&answer, "WEBHOOK_NOT_FOUND");
    let (_, theirs) = app.request_as(Some(&bob), Method::GET, "/v1/webhooks", None).await;
    assert_eq!(theirs["data"]["webhooks"], json!([]));

    let (_, disabled) = app.patch(&path, json!({"status": "disabled"})).await;
    assert_eq!(disabled["data"]["status"], "disabled");
    let task = app.finished_task("t").await;
    app.share(&task, json!({})).await;
    let queued =
        app.sql_i64("SELECT COUNT(*) FROM webhook_events WHERE event_type = 'share_link.created'").await;
    assert_eq!(queued, 0, "a disabled endpoint is sent nothing");
    assert_eq!(app.request(Method::DELETE, &path, None).await.0, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
}

/// Without an allowed range, a webhook can't reach this machine or a private network;
/// and what the attempts say is the same whether a name resolves only to internal
/// addresses or not at all, so that they don't map the internal network.
#[tokio::test]
async fn private_destinations_are_refused_unless_allowed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.webhook_retry_base = Duration::from_secs(60))
        .await
        .unwrap();
    let mut receiver = Receiver::start().await;
    let internal = receiver.url.replace("127.0.0.1", "localhost");
    let (webhook_id, _) = register(&app, &internal, &["share_link.created"]).await;
    let (nowhere_id, _) = register(&app, "http://nowhere.invalid:9/hooks", &["share_link.created"]).await;
    let task = app.finished_task("t").await;
    app.share(&task, json!({})).await;
    let attempts = deliveries_until(&app, &webhook_id, |d| !d.is_empty()).await;
    assert_eq!(attempts[0]["status_code"], Value::Null);
    assert_eq!(attempts[0]["error"], "localhost does not resolve to an address webhooks may reach");
    assert_eq!(attempts[0]["delivery_status"], "pending", "retried later, in case the address changes");
    let unresolved = deliveries_until(&app, &nowhere_id, |d| !d.is_empty()).await;
    assert_eq!(unresolved[0]["error"], "nowhere.invalid does not resolve to an address webhooks may reach");
    assert!(receiver.got.try_recv().is_err(), "nothing reached the receiver");
}

/// A proxy named by the environment (`HTTP_PROXY`) would resolve the endpoint's name
/// itself, past the check of its address: deliveries never go through one.
#[tokio::test]
async fn a_proxy_in_the_environment_is_never_used() {
    // A "proxy" that counts the connections it gets and answers none.
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let reached = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = reached.clone();
    let _proxy = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = proxy.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/agentshare.db", dir.path().display());
    let (created, stdout, stderr) =
        crate::cli::agentshare(&["keys", "create", "--owner", "alice", "--database-url", &db]);
    assert!(created, "{stderr}");
    let key = stdout.lines().last().unwrap().trim().to_owned();
    let env = [
        ("HTTP_PROXY", proxy_url.as_str()),
        ("http_proxy", proxy_url.as_str()),
        ("ALL_PROXY", proxy_url.as_str()),
    ];
    let server = crate::cli::Server::start_with_env(
        dir.path(),
        &["--database-url", &db, "--webhook-allow-cidr", "127.0.0.0/8", "--webhook-retry-base-ms", "100"],
        "warn",
        std::process::Stdio::null(),
        &env,
    );
    let client = crate::common::http().no_proxy().build().unwrap();
    let post = |path: &str, body: Value| {
        client.post(format!("{}{path}", server.base)).bearer_auth(&key).json(&body).send()
    };
    let mut receiver = Receiver::start().await;
    // A name, which a proxy would resolve for itself.
    let url = receiver.url.replace("127.0.0.1", "localhost");
    let hook = post("/v1/webhooks", json!({"url": url, "events": ["share_link.created"]})).await.unwrap();
    assert_eq!(hook.status(), StatusCode::CREATED);
    let task_id = server.finished_task(&client, &key).await;
    assert_eq!(
        post("/v1/share-links", json!({"task_id": task_id})).await.unwrap().status(),
        StatusCode::CREATED
    );
    let delivered = receiver.next().await;
    assert_eq!(serde_json::from_str::<Value>(&delivered.body).unwrap()["event"], "share_link.created");
    assert_eq!(reached.load(std::sync::atomic::Ordering::SeqCst), 0, "the proxy was never asked");
}

/// Two instances on one PostgreSQL: every event is delivered, each by one worker, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_deliver_each_event_once() {
    let Some(first) = TestApp::spawn_with(Backend::Postgres, settings).await else { return };
    let mut second = TestApp::start_on(TestDb::existing(&first.db), settings).await;
    second.key = first.key.clone();
    let mut receiver = Receiver::start().await;
    register(&first, &receiver.url, &["share_link.created"]).await;
    let task = first.finished_task("t").await;
    for i in 0..30 {
        let app = if i % 2 == 0 { &first } else { &second };
        app.share(&task, json!({})).await;
    }
    let mut ids = std::collections::HashSet::new();
    while ids.len() < 30 {
        ids.insert(receiver.next().await.headers["webhook-id"].to_str().unwrap().to_owned());
    }
    // A worker records the delivery after the receiver has answered: wait for the records.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while first.sql_i64("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'").await < 30 {
        assert!(tokio::time::Instant::now() < deadline, "all 30 deliveries are recorded");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let once = first
        .sql_i64("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered' AND attempts = 1")
        .await;
    assert_eq!(once, 30, "each delivery was attempted exactly once");
    assert!(receiver.got.try_recv().is_err(), "and nothing was sent twice");
    second.stop().await;
}

/// A server killed (SIGKILL) with a backlog of undelivered events delivers all of
/// them after a restart.
async fn a_crash_loses_no_event(backend: Backend) {
    use crate::cli::{agentshare, Server};
    let Some(db) = TestDb::new(backend).await else { return };
    let (_, out, _) = agentshare(&["keys", "create", "--owner", "erin", "--database-url", &db.url]);
    let key = out.lines().last().unwrap().to_owned();
    let mut receiver = Receiver::start().await;
    receiver.plan.lock().unwrap().extend(std::iter::repeat_n((500, None), 10_000));
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--database-url",
        db.url.as_str(),
        "--webhook-allow-cidr",
        "127.0.0.0/8",
        "--webhook-retry-base-ms",
        "100",
    ];
    let server = Server::start(dir.path(), &args);
    let client = crate::common::http().build().unwrap();
    let call = |base: &str, method: Method, path: &str, body: Value| {
        client.request(method, format!("{base}{path}")).bearer_auth(&key).json(&body).send()
    };
    let hook: Value = call(
        &server.base,
        Method::POST,
        "/v1/webhooks",
        json!({"url": receiver.url, "events": ["share_link.created"]}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(hook["data"]["webhook_id"].is_string(), "{hook}");
    let task: Value = call(&server.base, Method::POST, "/v1/tasks", json!({"title": "t"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task = task["data"]["task_id"].as_str().unwrap().to_owned();
    call(&server.base, Method::PATCH, &format!("/v1/tasks/{task}"), json!({"status": "completed"}))
        .await
        .unwrap();
    let mut expected = std::collections::HashSet::new();
    for _ in 0..20 {
        let link: Value = call(&server.base, Method::POST, "/v1/share-links", json!({"task_id": task}))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        expected.insert(link["data"]["share_link_id"].as_str().unwrap().to_owned());
    }
    // Every event has been tried (and refused) at least once: the backlog is real.
    let mut tried = std::collections::HashSet::new();
    while tried.len() < 20 {
        tried.insert(receiver.next().await.headers["webhook-id"].to_str().unwrap().to_owned());
    }
    server.kill();
    receiver.plan.lock().unwrap().clear();
    while receiver.got.try_recv().is_ok() {}

    let restarted = Server::start(dir.path(), &args);
    let mut delivered = std::collections::HashSet::new();
    while delivered.len() < 20 {
        let got = receiver.next().await;
        let body: Value = serde_json::from_str(&got.body).unwrap();
        assert!(expected.contains(body["share_link_id"].as_str().unwrap()));
        delivered.insert(got.headers["webhook-id"].to_str().unwrap().to_owned());
    }
    assert_eq!(delivered, tried, "every event of the backlog, after the crash");
    restarted.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_event_on_sqlite() {
    a_crash_loses_no_event(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_loses_no_event_on_postgres() {
    a_crash_loses_no_event(Backend::Postgres).await;
}

/// Deletes the endpoint `webhook_id` in a transaction of its own connection that
/// commits only after `delay`, while `during` runs.
async fn while_endpoint_is_deleted<T>(
    app: &TestApp,
    webhook_id: &str,
    delay: Duration,
    during: impl std::future::Future<Output = T>,
) -> T {
    use sqlx::Connection;

    let mut deleting = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    let mut tx = deleting.begin().await.unwrap();
    sqlx::query("DELETE FROM webhook_endpoints WHERE webhook_id = $1")
        .bind(webhook_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    let (outcome, ()) = tokio::join!(during, async {
        tokio::time::sleep(delay).await;
        tx.commit().await.unwrap();
    });
    outcome
}

/// On PostgreSQL, an endpoint deleted by a transaction that committed while an
/// event for it was being written broke the delivery's foreign key, and the request
/// that caused the event answered 500. The deleted endpoint is now skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_deleted_while_an_event_is_written_is_skipped_on_postgres() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else { return };
    let task = app.finished_task("t").await;
    let endpoint = || async {
        let events = json!(["share_link.revoked"]);
        let (status, body) = app
            .post("/v1/webhooks", json!({"url": "https://hooks.example.invalid/a", "events": events}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["data"]["webhook_id"].as_str().unwrap().to_owned()
    };
    let delay = Duration::from_millis(500);

    // A revocation's share_link.revoked event.
    let webhook_id = endpoint().await;
    let link = app.share(&task, json!({})).await;
    let revoke = format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap());
    let (status, body) =
        while_endpoint_is_deleted(&app, &webhook_id, delay, app.request(Method::DELETE, &revoke, None)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "revoked");

    // A test event for the endpoint being deleted: it is gone.
    let webhook_id = endpoint().await;
    let test = format!("/v1/webhooks/{webhook_id}/test");
    let (status, body) =
        while_endpoint_is_deleted(&app, &webhook_id, delay, app.request(Method::POST, &test, None)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_error(&body, "WEBHOOK_NOT_FOUND");
    let pending = app
        .sql_i64(&format!("SELECT COUNT(*) FROM webhook_deliveries WHERE webhook_id = '{webhook_id}'"))
        .await;
    assert_eq!(pending, 0);
}

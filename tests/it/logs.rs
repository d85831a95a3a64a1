//! What the service writes to its log never includes a secret: API keys, share
//! tokens and short codes, passwords, share codes, viewer tokens, download grants
//! and webhook secrets all travel in requests and responses, and none of them may
//! reach the log, even at `debug`.

use std::process::Stdio;

use reqwest::{redirect, Method, StatusCode};
use serde_json::{json, Value};

use crate::cli::{agentshare, Server};
use crate::common::{Backend, TestDb};

/// A service logging JSON lines at `filter` to a file, and an API key of its owner.
struct Logged {
    key: String,
    log_path: std::path::PathBuf,
    server: Server,
    _db: TestDb,
    _dir: tempfile::TempDir,
}

impl Logged {
    async fn start(filter: &str) -> Logged {
        let db = TestDb::new(Backend::Sqlite).await.unwrap();
        let (ok, out, err) = agentshare(&["keys", "create", "--owner", "lee", "--database-url", &db.url]);
        assert!(ok, "{err}");
        let key = out.lines().last().unwrap().to_owned();
        let dir = tempfile::tempdir().unwrap();
        let log_path = dir.path().join("serve.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let args = ["--database-url", db.url.as_str(), "--log-format", "json"];
        let server = Server::start_logging(dir.path(), &args, filter, Stdio::from(log));
        Logged { key, log_path, server, _db: db, _dir: dir }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_the_log() {
    let Logged { key, log_path, server, _db, _dir } = Logged::start("debug").await;
    let client = crate::common::http().redirect(redirect::Policy::none()).build().unwrap();
    let base = server.base.clone();
    let call = |method: Method, path: &str, bearer: &str, body: Option<Value>| {
        let mut request = client.request(method, format!("{base}{path}")).bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut secrets: Vec<(&str, String)> = vec![("API key", key.clone())];

    let (status, task) = call(Method::POST, "/v1/tasks", &key, Some(json!({"title": "logged"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{task}");
    let task = task["data"]["task_id"].as_str().unwrap().to_owned();
    let output = json!({"type": "output", "name": "Result", "content": "done"});
    call(Method::POST, &format!("/v1/tasks/{task}/events"), &key, Some(output)).await;
    let artifact = client
        .post(format!("{base}/v1/tasks/{task}/artifacts?name=r.txt"))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("report")
        .send()
        .await
        .unwrap();
    assert_eq!(artifact.status(), StatusCode::CREATED);

    // A share code and a viewer session made from it.
    let (status, code) = call(Method::POST, &format!("/v1/agentrix/tasks/{task}/share"), &key, None).await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let code = code["shareCode"].as_str().unwrap().to_owned();
    let session: Value =
        client.get(format!("{base}/v1/auth/share?code={code}")).send().await.unwrap().json().await.unwrap();
    let viewer = session["token"].as_str().unwrap().to_owned();
    let (status, _) = call(Method::GET, &format!("/v1/tasks/{task}"), &viewer, None).await;
    assert_eq!(status, StatusCode::OK);
    secrets.push(("share code", code));
    secrets.push(("viewer token", viewer));

    // A password-protected link, opened with a wrong and the right password, by its
    // URL and its short code, and an artifact downloaded with the view's grant.
    let (status, body) =
        call(Method::PATCH, &format!("/v1/tasks/{task}"), &key, Some(json!({"status": "completed"}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let password = "Correct-Horse-Battery-77";
    let link = json!({"task_id": task, "password": password, "permissions": {"allow_download": true}});
    let (status, link) = call(Method::POST, "/v1/share-links", &key, Some(link)).await;
    assert_eq!(status, StatusCode::CREATED, "{link}");
    let url = link["data"]["url"].as_str().unwrap().to_owned();
    let short_url = link["data"]["short_url"].as_str().unwrap().to_owned();
    let open = |password: &str| {
        client.get(&url).header("accept", "application/json").header("x-share-password", password).send()
    };
    assert_eq!(open("wrong-password-123").await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let view: Value = open(password).await.unwrap().json().await.unwrap();
    let download = view["data"]["artifacts"][0]["download_url"].as_str().unwrap().to_owned();
    assert_eq!(client.get(&download).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(client.get(&short_url).send().await.unwrap().status(), StatusCode::SEE_OTHER);
    let form = client.post(&url).form(&[("password", password)]).send().await.unwrap();
    assert_eq!(form.status(), StatusCode::OK);
    let grant = download.split("grant=").nth(1).unwrap().to_owned();
    secrets.push(("share token", url.rsplit('/').next().unwrap().to_owned()));
    secrets.push(("short code", short_url.rsplit('/').next().unwrap().to_owned()));
    secrets.push(("password", password.to_owned()));
    secrets.push(("wrong password", "wrong-password-123".to_owned()));
    secrets.push(("download grant", grant));

    // A webhook endpoint, whose signing secret is shown once.
    let (status, hook) = call(
        Method::POST,
        "/v1/webhooks",
        &key,
        Some(json!({"url": "https://hooks.example.com/agentshare", "events": ["share_link.viewed"]})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    secrets.push(("webhook secret", hook["data"]["secret"].as_str().unwrap().to_owned()));

    assert!(server.terminate(), "serve stops cleanly, its log flushed");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.lines().filter(|l| l.contains("\"response\"")).count() >= 10, "requests were logged:\n{log}");
    assert!(log.contains("/s/{token}"), "routes are logged by pattern:\n{log}");
    for (what, secret) in &secrets {
        assert!(secret.len() >= 8, "{what} is a real value: {secret:?}");
        assert!(!log.contains(secret.as_str()), "the log contains the {what}");
    }
}

/// A log written to a file is plain text: no terminal colour codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_has_no_colour_codes() {
    let db = TestDb::new(Backend::Sqlite).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("serve.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let server =
        Server::start_logging(dir.path(), &["--database-url", db.url.as_str()], "info", Stdio::from(log));
    let missing =
        crate::common::http().build().unwrap().get(format!("{}/v1/tasks", server.base)).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::UNAUTHORIZED);
    assert!(server.terminate(), "serve stops cleanly, its log flushed");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("response"), "the request was logged:\n{log}");
    assert!(!log.contains('\u{1b}'), "no escape codes in a log file:\n{log}");
}

/// Each request logs one "response" line; a view's line names the link it
/// showed, a refused one names none, and the line is written while the service
/// runs (not held back until it stops).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_logs_one_line_naming_its_link() {
    let Logged { key, log_path, server, _db, _dir } = Logged::start("info").await;
    let client = crate::common::http().build().unwrap();
    let post = |path: &str, body: Value| {
        client.post(format!("{}{path}", server.base)).bearer_auth(&key).json(&body).send()
    };
    let task = server.finished_task(&client, &key).await;
    let open: Value = post("/v1/share-links", json!({"task_id": task})).await.unwrap().json().await.unwrap();
    let locked = json!({"task_id": task, "password": "Correct-Horse-Battery-77"});
    let locked: Value = post("/v1/share-links", locked).await.unwrap().json().await.unwrap();
    let link_id = open["data"]["share_link_id"].as_str().unwrap_or_else(|| panic!("{open}"));

    let request_id =
        |response: &reqwest::Response| response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let url = open["data"]["url"].as_str().unwrap();
    let json_view = client.get(url).header("accept", "application/json").send().await.unwrap();
    assert_eq!(json_view.status(), StatusCode::OK);
    let page_view = client.get(url).send().await.unwrap();
    assert_eq!(page_view.status(), StatusCode::OK);
    let refused = client
        .get(locked["data"]["url"].as_str().unwrap())
        .header("accept", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let ids = [request_id(&json_view), request_id(&page_view), request_id(&refused)];

    // Written while the service runs: the log thread flushes whenever it has
    // nothing more to write.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let lines_of = |log: &str, id: &str| -> Vec<Value> {
        log.lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|l| l["spans"].as_array().is_some_and(|s| s.iter().any(|s| s["request_id"] == id)))
            .collect()
    };
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap();
        if ids.iter().all(|id| !lines_of(&log, id).is_empty()) {
            break log;
        }
        assert!(std::time::Instant::now() < deadline, "the running service's log lacks a request:\n{log}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for (id, shown) in ids.iter().zip([Some(link_id), Some(link_id), None]) {
        let lines = lines_of(&log, id);
        assert_eq!(lines.len(), 1, "one line for request {id}:\n{log}");
        let fields = &lines[0]["fields"];
        assert_eq!(fields["message"], "response", "{log}");
        assert_eq!(fields["share_link_id"].as_str(), shown, "{log}");
    }
    assert!(server.terminate(), "serve stops cleanly");
}

/// The access log (each request's "response" line) turns off by its target,
/// and the service's other lines stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_access_log_turns_off_by_its_target() {
    let Logged { key, log_path, server, _db, _dir } = Logged::start("info,agentshare::access=off").await;
    let client = crate::common::http().build().unwrap();
    let task = server.finished_task(&client, &key).await;
    let link = client
        .post(format!("{}/v1/share-links", server.base))
        .bearer_auth(&key)
        .json(&json!({"task_id": task}))
        .send()
        .await
        .unwrap();
    assert_eq!(link.status(), StatusCode::CREATED);
    let link: Value = link.json().await.unwrap();
    let view = client.get(link["data"]["url"].as_str().unwrap()).header("accept", "application/json");
    assert_eq!(view.send().await.unwrap().status(), StatusCode::OK);
    assert!(server.terminate(), "serve stops cleanly, its log flushed");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let messages: Vec<String> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|l| l["fields"]["message"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(messages.iter().any(|m| m == "share link created"), "{log}");
    assert!(!messages.iter().any(|m| m == "response"), "no access lines:\n{log}");
}

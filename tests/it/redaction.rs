//! Sharing with care: the preview of a link before it is made, what a link hides
//! from its viewers everywhere they look, and links frozen as a snapshot.

use std::io::Read as _;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_invalid, read_body, read_text, TestApp};

backend_tests!(
    the_preview_shows_what_a_viewer_gets_and_what_the_content_holds,
    redaction_that_cannot_be_used_is_refused_and_changes_nothing,
    a_link_hides_what_it_says_everywhere_a_viewer_looks,
    a_snapshot_link_never_shows_what_the_task_gains_later,
);

const TOKEN: &str = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
const OUTPUT: &str = "Mailed ops@example.com the logs of /home/alice/agent, pushed with \
                      GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345 from 10.0.3.7 for ACME-1234.";

/// A finished task with an output holding one of each kind, a text file with an
/// e-mail address and a path, and a binary file.
async fn leaky_task(app: &TestApp) -> String {
    let task = app.create_task("Weekly report").await;
    let (status, body) = app
        .post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "output", "name": "Result", "content": OUTPUT}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    for (name, content_type, bytes) in [
        ("notes.txt", "text/plain", b"ask bob@example.org\nin /Users/bob/x\n".to_vec()),
        ("chart.png", "image/png", b"\x89PNG bob@example.org".to_vec()),
    ] {
        let response = app
            .client
            .post(app.url(&format!("/v1/tasks/{task}/artifacts")))
            .query(&[("name", name)])
            .bearer_auth(&app.key)
            .header("content-type", content_type)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    task
}

/// `(kind, location type, location name, redacted)` of each finding.
fn findings(preview: &Value) -> Vec<(String, String, String, bool)> {
    preview["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["location"]["type"].as_str().unwrap().to_owned(),
                f["location"]["name"].as_str().unwrap_or_default().to_owned(),
                f["redacted"].as_bool().unwrap(),
            )
        })
        .collect()
}

async fn links_of(app: &TestApp) -> usize {
    let (_, list) = app.get("/v1/share-links").await;
    list["data"]["share_links"].as_array().expect("a list of links").len()
}

async fn the_preview_shows_what_a_viewer_gets_and_what_the_content_holds(app: TestApp) {
    let task = leaky_task(&app).await;
    let body = json!({
        "task_id": task,
        "redact": {"emails": true, "patterns": [r"ACME-\d{4}"]},
        "permissions": {"allow_download": true},
    });
    let (status, preview) = app.post("/v1/share-links/preview", body).await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    let preview = &preview["data"];
    let shown = preview["view"]["outputs"][0]["content"].as_str().unwrap();
    assert_eq!(
        shown,
        "Mailed [email hidden] the logs of /home/alice/agent, pushed with GITHUB_TOKEN=•••••••• \
         from 10.0.3.7 for [hidden]."
    );
    assert_eq!(preview["view"]["title"], "Weekly report");
    assert_eq!(preview["view"]["artifacts"].as_array().unwrap().len(), 2);
    let found = findings(preview);
    let expect = |kind: &str, place: &str, name: &str, redacted: bool| {
        let wanted = (kind.to_owned(), place.to_owned(), name.to_owned(), redacted);
        assert!(found.contains(&wanted), "{wanted:?} not in {found:#?}");
    };
    expect("secret", "output", "Result", true);
    expect("email", "output", "Result", true);
    expect("path", "output", "Result", false);
    expect("ip_address", "output", "Result", false);
    expect("pattern", "output", "Result", true);
    expect("email", "artifact", "notes.txt", true);
    expect("path", "artifact", "notes.txt", false);
    expect("not_scanned", "artifact", "chart.png", false);
    let text = preview["findings"].to_string();
    assert!(!text.contains(&TOKEN[8..]), "a finding shows the whole secret: {text}");
    assert_eq!(links_of(&app).await, 0, "a preview creates nothing");

    // It is checked as creating is: same errors, nothing made.
    let (status, body) =
        app.post("/v1/share-links/preview", json!({"task_id": task, "password": "short"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "password");
    let running = app.create_task("running").await;
    let (status, _) = app.post("/v1/share-links/preview", json!({"task_id": running})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let other = app.new_owner("mallory").await;
    let (status, _) = app
        .request_as(Some(&other), Method::POST, "/v1/share-links/preview", Some(json!({"task_id": task})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another owner's task is not previewed");
}

async fn redaction_that_cannot_be_used_is_refused_and_changes_nothing(app: TestApp) {
    let task = leaky_task(&app).await;
    for (redact, extra, field) in [
        (json!({"patterns": ["("]}), json!({}), "redact.patterns[0]"),
        (json!({"patterns": ["fine", "a*"]}), json!({}), "redact.patterns[1]"),
        (json!({"patterns": vec!["x"; 21]}), json!({}), "redact.patterns"),
        (json!({"secrets": true}), json!({"mask_secrets": false}), "mask_secrets"),
    ] {
        let mut body = json!({"task_id": task, "redact": redact});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let (status, answer) = app.post("/v1/share-links", body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_invalid(&answer, field);
    }
    let (status, answer) =
        app.post("/v1/share-links", json!({"task_id": task, "redact": {"colour": true}})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "unknown parts are refused: {answer}");
    assert_eq!(links_of(&app).await, 0, "nothing was created");

    let link = app.share(&task, json!({"redact": {"emails": true}})).await;
    let id = link["share_link_id"].as_str().unwrap();
    let (status, answer) = app
        .patch(&format!("/v1/share-links/{id}"), json!({"redact": {"paths": true, "patterns": ["["]}}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_invalid(&answer, "redact.patterns[0]");
    let (_, now) = app.get(&format!("/v1/share-links/{id}")).await;
    assert_eq!(now["data"]["redact"], link["redact"], "a refused change changes nothing");
    assert_eq!(
        now["data"]["redact"],
        json!({"secrets": true, "emails": true, "paths": false, "patterns": []})
    );
}

async fn a_link_hides_what_it_says_everywhere_a_viewer_looks(app: TestApp) {
    let task = leaky_task(&app).await;
    let link = app
        .share(
            &task,
            json!({"redact": {"emails": true, "paths": true}, "permissions": {"allow_download": true}}),
        )
        .await;
    assert_eq!(link["mask_secrets"], true);
    let url = link["url"].as_str().unwrap();
    let (status, view) = app.view(url, None).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let content = view["data"]["outputs"][0]["content"].as_str().unwrap();
    assert_eq!(
        content,
        "Mailed [email hidden] the logs of /home/[user]/agent, pushed with GITHUB_TOKEN=•••••••• \
         from 10.0.3.7 for ACME-1234."
    );

    // The page, the text file and the zip hide the same; a binary file is sent as it is.
    let page = read_text(app.client.get(url).header("accept", "text/html").send().await.unwrap()).await;
    assert!(page.contains("[email hidden]") && !page.contains("ops@example.com"), "{page}");
    assert!(!page.contains("/home/alice"), "the page shows the path's user");
    let files = view["data"]["artifacts"].as_array().unwrap();
    let file = |name: &str| {
        files.iter().find(|f| f["name"] == name).unwrap()["download_url"].as_str().unwrap().to_owned()
    };
    let notes = read_text(app.client.get(file("notes.txt")).send().await.unwrap()).await;
    assert_eq!(notes, "ask [email hidden]\nin /Users/[user]/x\n");
    let chart = read_body(app.client.get(file("chart.png")).send().await.unwrap()).await;
    assert_eq!(chart, b"\x89PNG bob@example.org", "binary files are sent byte for byte");
    let grant = view["data"]["grant"].as_str().unwrap();
    let zip =
        read_body(app.client.get(format!("{url}/artifacts.zip?grant={grant}")).send().await.unwrap()).await;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut zipped = String::new();
    archive.by_name("notes.txt").unwrap().read_to_string(&mut zipped).unwrap();
    assert_eq!(zipped, notes, "the zip hides what the file download hides");

    // Changes take the parts given; `mask_secrets` is the same switch as `redact.secrets`.
    let id = link["share_link_id"].as_str().unwrap();
    let (status, changed) = app
        .patch(&format!("/v1/share-links/{id}"), json!({"redact": {"emails": false}, "mask_secrets": false}))
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(
        changed["data"]["redact"],
        json!({"secrets": false, "emails": false, "paths": true, "patterns": []})
    );
    let (_, again) = app.view(url, None).await;
    let content = again["data"]["outputs"][0]["content"].as_str().unwrap();
    assert!(content.contains("ops@example.com") && content.contains(TOKEN), "{content}");
    assert!(content.contains("/home/[user]/agent"), "paths stay hidden: {content}");

    // The card that asks for the password shows the title as viewers may see it.
    let locked = app
        .share(&task, json!({"title": "Report for ops@example.com", "password": "long enough", "redact": {"emails": true}}))
        .await;
    let card = read_text(
        app.client.get(locked["url"].as_str().unwrap()).header("accept", "text/html").send().await.unwrap(),
    )
    .await;
    assert!(card.contains("Report for [email hidden]") && !card.contains("ops@example.com"), "{card}");
}

async fn a_snapshot_link_never_shows_what_the_task_gains_later(app: TestApp) {
    let task = leaky_task(&app).await;
    let frozen =
        app.share(&task, json!({"content": "snapshot", "permissions": {"allow_download": true}})).await;
    let live = app.share(&task, json!({"permissions": {"allow_download": true}})).await;
    assert_eq!((frozen["content"].as_str(), live["content"].as_str()), (Some("snapshot"), Some("live")));

    let (status, body) = app
        .post(
            &format!("/v1/tasks/{task}/events"),
            json!({"type": "output", "name": "Later", "content": "Added after"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts")))
        .query(&[("name", "later.txt")])
        .bearer_auth(&app.key)
        .header("content-type", "text/plain")
        .body("new file")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let later_file = serde_json::from_slice::<Value>(&read_body(response).await).unwrap()["data"]
        ["artifact_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let names = |view: &Value, key: &str, field: &str| -> Vec<String> {
        view["data"][key].as_array().unwrap().iter().map(|v| v[field].as_str().unwrap().to_owned()).collect()
    };
    let (_, now) = app.view(live["url"].as_str().unwrap(), None).await;
    assert_eq!(names(&now, "outputs", "name"), ["Result", "Later"]);
    assert_eq!(names(&now, "artifacts", "name").len(), 3);
    let (_, then) = app.view(frozen["url"].as_str().unwrap(), None).await;
    assert_eq!(names(&then, "outputs", "name"), ["Result"], "{then}");
    // Files are listed by upload time, then name: two uploaded in the same
    // millisecond come in either order.
    let mut files = names(&then, "artifacts", "name");
    files.sort();
    assert_eq!(files, ["chart.png", "notes.txt"]);

    // The newer file is not served through the snapshot, nor put in its zip.
    let url = frozen["url"].as_str().unwrap();
    let grant = then["data"]["grant"].as_str().unwrap();
    let refused = app.client.get(format!("{url}/artifacts/{later_file}?grant={grant}")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let zip =
        read_body(app.client.get(format!("{url}/artifacts.zip?grant={grant}")).send().await.unwrap()).await;
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let mut zipped: Vec<String> = archive.file_names().map(|name| name.unwrap().into_owned()).collect();
    zipped.sort();
    assert_eq!(zipped, ["chart.png", "notes.txt"]);
    let page = read_text(app.client.get(url).header("accept", "text/html").send().await.unwrap()).await;
    assert!(!page.contains("Added after") && !page.contains("later.txt"), "the page shows what came later");

    // It is chosen when the link is made.
    let id = frozen["share_link_id"].as_str().unwrap();
    let (status, _) = app.patch(&format!("/v1/share-links/{id}"), json!({"content": "live"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = app.post("/v1/share-links", json!({"task_id": task, "content": "frozen"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

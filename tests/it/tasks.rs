use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::backend_tests;
use crate::common::{assert_error, assert_invalid, TestApp};

backend_tests!(
    creating_a_task_returns_it_pending_in_cloud_mode,
    a_machine_id_makes_a_task_local,
    task_fields_are_validated,
    another_owners_task_is_indistinguishable_from_a_missing_one,
    tasks_page_newest_first_without_gaps_or_repeats,
    tasks_filter_by_status,
    list_parameters_are_validated,
    status_moves_only_along_documented_transitions,
    final_statuses_never_change,
    update_changes_title_and_machine,
    concurrent_final_transitions_have_one_winner,
    tasks_carry_their_source_and_external_id,
);

async fn creating_a_task_returns_it_pending_in_cloud_mode(app: TestApp) {
    let (status, body) = app
        .post(
            "/v1/tasks",
            json!({"title": "  Fix the login bug ", "prompt": "Make login work", "agent": "coder 1.0"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["success"], true);
    let task = &body["data"];
    let id = task["task_id"].as_str().unwrap();
    assert!(id.starts_with("task_") && id.len() == 21, "{id}");
    assert_eq!(task["title"], "Fix the login bug");
    assert_eq!(task["status"], "pending");
    assert_eq!(task["mode"], "cloud");
    assert_eq!(task["machine_id"], Value::Null);
    assert_eq!(task["prompt"], "Make login work");
    assert_eq!(task["agent"], "coder 1.0");
    assert_eq!(task["started_at"], Value::Null);
    assert!(task["created_at"].as_str().unwrap().ends_with('Z'));

    let (status, fetched) = app.get(&format!("/v1/tasks/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched["data"], body["data"]);
}

async fn a_machine_id_makes_a_task_local(app: TestApp) {
    let (status, body) = app.post("/v1/tasks", json!({"title": "t", "machine_id": "laptop-7"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["data"]["machine_id"], "laptop-7");
    assert_eq!(body["data"]["mode"], "local");
    let (_, body) = app.post("/v1/tasks", json!({"title": "t", "machine_id": null})).await;
    assert_eq!(body["data"]["mode"], "cloud");
}

async fn task_fields_are_validated(app: TestApp) {
    let cases = [
        (json!({}), "title"),
        (json!({"title": ""}), "title"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": 42}), "title"),
        (json!({"title": "t", "machine_id": 7}), "machine_id"),
        (json!({"title": "t", "machine_id": ""}), "machine_id"),
        (json!({"title": "t", "colour": "red"}), "colour"),
    ];
    for (body, field) in cases {
        let (status, answer) = app.post("/v1/tasks", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body} -> {answer}");
        assert_invalid(&answer, field);
    }
    let (_, list) = app.get("/v1/tasks").await;
    assert_eq!(list["data"]["tasks"], json!([]), "refused requests created nothing");
}

async fn another_owners_task_is_indistinguishable_from_a_missing_one(app: TestApp) {
    let task = app.create_task("alice's").await;
    let bob = app.new_owner("bob").await;
    let missing = "task_0000000000000000";
    for (method, suffix, body) in [
        (reqwest::Method::GET, "", None),
        (reqwest::Method::PATCH, "", Some(json!({"title": "mine now"}))),
        (reqwest::Method::GET, "/events", None),
        (reqwest::Method::POST, "/events", Some(json!({"type": "log", "content": "x"}))),
        (reqwest::Method::GET, "/artifacts", None),
    ] {
        let (s1, theirs) = app
            .request_as(Some(&bob), method.clone(), &format!("/v1/tasks/{task}{suffix}"), body.clone())
            .await;
        let (s2, nothing) =
            app.request_as(Some(&bob), method.clone(), &format!("/v1/tasks/{missing}{suffix}"), body).await;
        assert_eq!((s1, s2), (StatusCode::NOT_FOUND, StatusCode::NOT_FOUND), "{method} {suffix}");
        assert_error(&theirs, "TASK_NOT_FOUND");
        assert_eq!(theirs["error"]["message"], nothing["error"]["message"]);
        assert_eq!(theirs["error"]["details"]["task_id"], task.as_str());
    }
    let (_, bobs) = app.request_as(Some(&bob), reqwest::Method::GET, "/v1/tasks", None).await;
    assert_eq!(bobs["data"]["tasks"], json!([]));
    let (_, own) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(own["data"]["title"], "alice's", "bob's PATCH changed nothing");
}

async fn tasks_page_newest_first_without_gaps_or_repeats(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..7 {
        created.push(app.create_task(&format!("task {i}")).await);
    }
    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tasks?limit=3&cursor={c}"),
            None => "/v1/tasks?limit=3".to_owned(),
        };
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        pages += 1;
        for t in body["data"]["tasks"].as_array().unwrap() {
            seen.push(t["task_id"].as_str().unwrap().to_owned());
            times.push(t["created_at"].as_str().unwrap().to_owned());
        }
        assert_eq!(body["data"]["has_more"], body["data"]["next_cursor"].is_string());
        match body["data"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    // Timestamps are RFC 3339 in UTC with millisecond precision at most: ordering
    // them as text orders them in time, once the fractional part is made uniform.
    let normalised: Vec<String> =
        times.iter().map(|t| if t.contains('.') { t.clone() } else { t.replace('Z', ".000Z") }).collect();
    assert!(normalised.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    let mut created_sorted = created.clone();
    created_sorted.sort();
    assert_eq!(seen_sorted, created_sorted, "every task exactly once");
}

async fn tasks_filter_by_status(app: TestApp) {
    let a = app.create_task("a").await;
    let _b = app.create_task("b").await;
    app.patch(&format!("/v1/tasks/{a}"), json!({"status": "running"})).await;
    let (_, body) = app.get("/v1/tasks?status=running").await;
    let ids: Vec<&str> =
        body["data"]["tasks"].as_array().unwrap().iter().map(|t| t["task_id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![a.as_str()]);
    let (_, body) = app.get("/v1/tasks?status=pending").await;
    assert_eq!(body["data"]["tasks"].as_array().unwrap().len(), 1);
}

async fn list_parameters_are_validated(app: TestApp) {
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=done", "status"),
        ("cursor=not-a-cursor", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let (status, body) = app.get(&format!("/v1/tasks?{query}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
        assert_invalid(&body, field);
    }
}

async fn status_moves_only_along_documented_transitions(app: TestApp) {
    let id = app.create_task("t").await;
    let path = format!("/v1/tasks/{id}");
    let (status, body) = app.patch(&path, json!({"status": "running"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["status"], "running");
    let started = body["data"]["started_at"].clone();
    assert!(started.is_string());
    assert_eq!(body["data"]["finished_at"], Value::Null);

    let (status, body) = app.patch(&path, json!({"status": "pending"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, "INVALID_STATUS_TRANSITION");
    assert_eq!(body["error"]["details"]["status"], "running");
    assert_eq!(body["error"]["details"]["requested_status"], "pending");

    let (status, body) = app.patch(&path, json!({"status": "running"})).await;
    assert_eq!(status, StatusCode::OK, "same status is a no-op");
    assert_eq!(body["data"]["started_at"], started);

    let (status, body) = app.patch(&path, json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"]["finished_at"].is_string());

    let (status, body) = app.patch(&path, json!({"status": "finished"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "status");

    let other = app.create_task("quick").await;
    let (status, body) = app.patch(&format!("/v1/tasks/{other}"), json!({"status": "failed"})).await;
    assert_eq!(status, StatusCode::OK, "a pending task may finish directly: {body}");
}

async fn final_statuses_never_change(app: TestApp) {
    for done in ["completed", "failed", "cancelled"] {
        let id = app.create_task(done).await;
        let path = format!("/v1/tasks/{id}");
        assert_eq!(app.patch(&path, json!({"status": done})).await.0, StatusCode::OK);
        for next in ["pending", "running", "completed", "failed", "cancelled"] {
            let (status, _) = app.patch(&path, json!({"status": next})).await;
            let expected = if next == done { StatusCode::OK } else { StatusCode::CONFLICT };
            assert_eq!(status, expected, "{done} -> {next}");
        }
        let (_, body) = app.get(&path).await;
        assert_eq!(body["data"]["status"], done);
    }
}

async fn update_changes_title_and_machine(app: TestApp) {
    let id = app.create_task("old").await;
    let path = format!("/v1/tasks/{id}");
    let (status, body) = app.patch(&path, json!({"title": "new", "machine_id": "box-1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["title"], "new");
    assert_eq!(body["data"]["mode"], "local");
    let (_, body) = app.patch(&path, json!({"title": "newer"})).await;
    assert_eq!(body["data"]["machine_id"], "box-1", "absent machine_id is left alone");
    let (_, body) = app.patch(&path, json!({"machine_id": null})).await;
    assert_eq!(body["data"]["mode"], "cloud");
    assert_eq!(body["data"]["title"], "newer");
    let (status, body) = app.patch(&path, json!({"title": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "title");
    let (status, body) = app.patch(&path, json!({"owner_id": "user_x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(&body, "owner_id");
}

async fn concurrent_final_transitions_have_one_winner(app: TestApp) {
    let id = app.create_task("race").await;
    let path = format!("/v1/tasks/{id}");
    app.patch(&path, json!({"status": "running"})).await;
    let targets: Vec<&str> = (0..20).map(|i| if i % 2 == 0 { "completed" } else { "cancelled" }).collect();
    let answers =
        futures_util::future::join_all(targets.iter().map(|to| app.patch(&path, json!({"status": to}))))
            .await;
    let (_, body) = app.get(&path).await;
    let winner = body["data"]["status"].as_str().unwrap().to_owned();
    for (to, (status, _)) in targets.iter().zip(&answers) {
        let expected = if *to == winner { StatusCode::OK } else { StatusCode::CONFLICT };
        assert_eq!(*status, expected, "asked {to}, final {winner}");
    }
}

/// A task says where it came from and its id there: one task per id and source,
/// found again by the list's filters; metadata is a bounded JSON object.
async fn tasks_carry_their_source_and_external_id(app: TestApp) {
    let (status, body) = app.post("/v1/tasks", json!({"title": "plain"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((&body["data"]["source"], &body["data"]["external_id"]), (&json!("api"), &Value::Null));
    let session = json!({"title": "imported", "source": "import", "external_id": "session-1", "metadata": {"model": "m1"}});
    let (status, first) = app.post("/v1/tasks", session.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    assert_eq!(first["data"]["source"], "import");
    assert_eq!(first["data"]["metadata"], json!({"model": "m1"}));
    let (status, again) = app.post("/v1/tasks", session).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_error(&again, "TASK_EXISTS");
    assert_eq!(again["error"]["details"]["task_id"], first["data"]["task_id"]);
    let (status, _) = app
        .post(
            "/v1/tasks",
            json!({"title": "same id, other source", "source": "cli", "external_id": "session-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "ids are per source");
    let bob = app.new_owner("bob").await;
    let (status, _) = app
        .request_as(
            Some(&bob),
            reqwest::Method::POST,
            "/v1/tasks",
            Some(json!({"title": "bob's", "source": "import", "external_id": "session-1"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "and per owner");

    let (_, found) = app.get("/v1/tasks?source=import&external_id=session-1").await;
    let found = found["data"]["tasks"].as_array().unwrap().clone();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["task_id"], first["data"]["task_id"]);
    let (_, clis) = app.get("/v1/tasks?source=cli").await;
    assert_eq!(clis["data"]["tasks"].as_array().unwrap().len(), 1);

    for (body, field) in [
        (json!({"title": "t", "source": "otlp"}), "source"),
        (json!({"title": "t", "external_id": ""}), "external_id"),
        (json!({"title": "t", "metadata": {"big": "x".repeat(20_000)}}), "metadata"),
    ] {
        let (status, answer) = app.post("/v1/tasks", body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_invalid(&answer, field);
    }
    let id = first["data"]["task_id"].as_str().unwrap();
    let (_, changed) = app.patch(&format!("/v1/tasks/{id}"), json!({"metadata": {"exit_code": 0}})).await;
    assert_eq!(changed["data"]["metadata"], json!({"exit_code": 0}));
    let (_, cleared) = app.patch(&format!("/v1/tasks/{id}"), json!({"metadata": null})).await;
    assert_eq!(cleared["data"]["metadata"], Value::Null);
}

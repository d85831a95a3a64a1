use reqwest::{Method, StatusCode};

use crate::backend_tests;
use crate::common::{assert_error, TestApp};

backend_tests!(requests_without_a_valid_key_are_refused, a_revoked_key_stops_working_at_once);

async fn requests_without_a_valid_key_are_refused(app: TestApp) {
    let task = app.create_task("t").await;
    let unknown = format!("ask_{}", "A".repeat(43));
    for key in [None, Some(""), Some("nonsense"), Some(unknown.as_str()), Some(&app.key[..app.key.len() - 1])]
    {
        for path in ["/v1/tasks".to_owned(), format!("/v1/tasks/{task}"), format!("/v1/tasks/{task}/events")]
        {
            let (status, body) = app.request_as(key, Method::GET, &path, None).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{key:?} {path}");
            assert_error(&body, "UNAUTHORIZED");
        }
    }
    let response = app
        .client
        .get(app.url("/v1/tasks"))
        .header("authorization", format!("Basic {}", app.key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "only the Bearer scheme");
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let response = app
        .client
        .get(app.url("/v1/tasks"))
        .header("authorization", format!("bearer {}", app.key))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "the scheme is case-insensitive");

    let (status, body) =
        app.request_as(None, Method::POST, "/v1/tasks", Some(serde_json::json!({"title": 1}))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "authentication is checked before the body: {body}");
}

async fn a_revoked_key_stops_working_at_once(app: TestApp) {
    assert_eq!(app.get("/v1/tasks").await.0, StatusCode::OK);
    let keys = app.store.list_api_keys(Some("alice")).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert!(app.key.starts_with(&keys[0].key_prefix));
    assert!(app.store.revoke_api_key(&keys[0].key_id).await.unwrap());
    let (status, body) = app.get("/v1/tasks").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_error(&body, "UNAUTHORIZED");
    assert!(
        !app.store.revoke_api_key(&keys[0].key_id).await.unwrap(),
        "revoking twice reports nothing to revoke"
    );
}

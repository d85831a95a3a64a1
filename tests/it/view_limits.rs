//! `max_views` is exact: under a storm of concurrent first views, exactly
//! `max_views` succeed, on each backend and with two instances on one PostgreSQL.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{behind_proxy, Backend, TestApp, TestDb};

/// Fires `total` concurrent JSON views at the given bases (spread evenly), over
/// HTTP/2 connections so a thousand requests are in flight at once without a
/// thousand sockets; returns how many succeeded and checks every other one got 404.
/// Each request comes from its own viewer (through a trusted proxy), as in life.
/// Each request comes from its own viewer (through a trusted proxy), as in life.
async fn storm(bases: &[String], path: &str, total: usize) -> usize {
    let clients: Vec<reqwest::Client> =
        (0..5).map(|_| crate::common::http().http2_prior_knowledge().build().unwrap()).collect();
    let requests = (0..total).map(|i| {
        let client = &clients[i % clients.len()];
        let url = format!("{}{path}", bases[i % bases.len()]);
        async move {
            let viewer = format!("198.51.{}.{}", i / 250, i % 250);
            let response = client
                .get(url)
                .header("accept", "application/json")
                .header("x-forwarded-for", viewer)
                .send()
                .await
                .expect("answered");
            response.status()
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    let ok = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let gone = statuses.iter().filter(|s| **s == StatusCode::NOT_FOUND).count();
    assert_eq!(ok + gone, total, "every request was answered with 200 or 404: {statuses:?}");
    ok
}

async fn race(app: &TestApp, bases: &[String], max_views: i64) {
    let task = app.finished_task("race").await;
    let link = app.share(&task, json!({"max_views": max_views})).await;
    let path = link["url"].as_str().unwrap().strip_prefix(&app.base).unwrap().to_owned();
    let ok = storm(bases, &path, 1000).await;
    assert_eq!(ok as i64, max_views, "exactly max_views reveals");
    let (_, body) = app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
    assert_eq!(body["data"]["view_count"], max_views);
    assert_eq!(body["data"]["status"], "expired");
    let id = link["share_link_id"].as_str().unwrap();
    let recorded =
        app.sql_i64(&format!("SELECT COUNT(*) FROM share_link_views WHERE share_link_id = '{id}'")).await;
    assert_eq!(recorded, max_views, "every counted view has its record, and no more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_link_is_revealed_once_under_1000_concurrent_views_on_sqlite() {
    let app = TestApp::spawn_with(Backend::Sqlite, behind_proxy).await.unwrap();
    race(&app, std::slice::from_ref(&app.base), 1).await;
    race(&app, std::slice::from_ref(&app.base), 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_link_is_revealed_once_under_1000_concurrent_views_on_postgres() {
    let Some(app) = TestApp::spawn_with(Backend::Postgres, behind_proxy).await else {
        return;
    };
    race(&app, std::slice::from_ref(&app.base), 1).await;
    race(&app, std::slice::from_ref(&app.base), 7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_one_time_link_is_revealed_once_across_two_instances_on_postgres() {
    let Some(first) = TestApp::spawn_with(Backend::Postgres, behind_proxy).await else {
        return;
    };
    let mut second = TestApp::start_on(TestDb::existing(&first.db), behind_proxy).await;
    let bases = [first.base.clone(), second.base.clone()];
    race(&first, &bases, 1).await;
    race(&first, &bases, 25).await;
    second.stop().await;
}

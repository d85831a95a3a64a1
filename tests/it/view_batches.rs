//! Views are counted in group commits: many concurrent views of several links go
//! into one transaction. Nothing may be lost or counted twice, each view gets its
//! own number, limits hold per link within one batch, a changed link takes effect
//! on the very next view on every instance, and a batch that cannot be committed
//! answers errors and counts nothing.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::common::{behind_proxy, Backend, TestApp, TestDb};

/// Declares `async fn NAME(app: TestApp)` tests for both backends, on a service
/// that believes `X-Forwarded-For` from loopback, so each request can be its own viewer.
macro_rules! viewer_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            use crate::common::{Backend, TestApp};
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::$name(TestApp::spawn_with(Backend::Sqlite, crate::common::behind_proxy).await.unwrap()).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(app) = TestApp::spawn_with(Backend::Postgres, crate::common::behind_proxy).await {
                    super::$name(app).await
                }
            }
        }
    )*};
}

/// Fires `per_link` concurrent JSON views at each of `urls` at once (interleaved),
/// each from one of `viewers` distinct clients; returns, per URL, the statuses and
/// the view numbers that 200 answers carried.
async fn storm(urls: &[String], per_link: usize, viewers: usize) -> Vec<(Vec<StatusCode>, Vec<i64>)> {
    let client = crate::common::http().http2_prior_knowledge().build().unwrap();
    let requests = (0..per_link * urls.len()).map(|i| {
        let (client, link) = (&client, i % urls.len());
        let viewer = i % viewers;
        async move {
            let response = client
                .get(&urls[link])
                .header("accept", "application/json")
                .header("x-forwarded-for", format!("203.0.{}.{}", viewer / 250, viewer % 250))
                .send()
                .await
                .expect("answered");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (link, status, body["data"]["view_count"].as_i64())
        }
    });
    let mut per_url = vec![(Vec::new(), Vec::new()); urls.len()];
    for (link, status, number) in futures_util::future::join_all(requests).await {
        per_url[link].0.push(status);
        if status == StatusCode::OK {
            per_url[link].1.push(number.expect("a counted view carries its number"));
        }
    }
    per_url
}

/// What the owner API and the tables say about a link's views.
async fn recorded(app: &TestApp, link: &Value) -> BTreeMap<&'static str, i64> {
    let id = link["share_link_id"].as_str().unwrap();
    let (_, body) = app.get(&format!("/v1/share-links/{id}")).await;
    let (_, analytics) = app.get(&format!("/v1/share-links/{id}/analytics")).await;
    let count = |table: &str, column: &str| {
        format!("SELECT CAST(COALESCE(SUM({column}), 0) AS BIGINT) FROM {table} WHERE share_link_id = '{id}'")
    };
    let mut facts = BTreeMap::new();
    facts.insert("view_count", body["data"]["view_count"].as_i64().unwrap());
    facts.insert("unique_views", analytics["data"]["unique_views"].as_i64().unwrap());
    facts.insert("analytics total", analytics["data"]["total_views"].as_i64().unwrap());
    facts.insert("view rows", app.sql_i64(&count("share_link_views", "1")).await);
    facts.insert("daily rollup", app.sql_i64(&count("share_link_daily_views", "views")).await);
    facts.insert("visitor rows", app.sql_i64(&count("share_link_visitors", "1")).await);
    for dimension in agentshare::storage::DIMENSIONS {
        let sum = app
            .sql_i64(&format!(
                "SELECT CAST(COALESCE(SUM(views), 0) AS BIGINT) FROM share_link_breakdown \
                 WHERE share_link_id = '{id}' AND dimension = '{dimension}'"
            ))
            .await;
        facts.insert(dimension, sum);
    }
    facts
}

fn expected(views: i64, unique: i64) -> BTreeMap<&'static str, i64> {
    let mut facts: BTreeMap<&'static str, i64> = [
        ("view_count", views),
        ("analytics total", views),
        ("view rows", views),
        ("daily rollup", views),
        ("unique_views", unique),
        ("visitor rows", unique),
    ]
    .into_iter()
    .collect();
    for dimension in agentshare::storage::DIMENSIONS {
        facts.insert(dimension, views);
    }
    facts
}

fn assert_numbered_once(numbers: &mut [i64], count: usize) {
    numbers.sort_unstable();
    let want: Vec<i64> = (1..=count as i64).collect();
    assert_eq!(numbers, want.as_slice(), "every view has its own number, 1 to {count}");
}

async fn links(app: &TestApp, limits: &[Option<i64>]) -> (Vec<Value>, Vec<String>) {
    let mut links = Vec::new();
    for (i, limit) in limits.iter().enumerate() {
        let task = app.finished_task(&format!("batch {i}")).await;
        let body = match limit {
            Some(max) => json!({"max_views": max}),
            None => json!({}),
        };
        links.push(app.share(&task, body).await);
    }
    let urls = links.iter().map(|l| l["url"].as_str().unwrap().to_owned()).collect();
    (links, urls)
}

async fn several_links_viewed_at_once_count_every_view_once(app: TestApp) {
    let (links, urls) = links(&app, &[None, None, None, None]).await;
    let per_link = 150;
    let viewers = 60;
    let outcomes = storm(&urls, per_link, viewers).await;
    for (link, (statuses, mut numbers)) in links.iter().zip(outcomes) {
        assert!(statuses.iter().all(|s| *s == StatusCode::OK), "every view of an unlimited link is shown");
        assert_numbered_once(&mut numbers, per_link);
        // Views i, i+4, i+8… of 600 come from viewers i % 60: 15 distinct ones per link.
        assert_eq!(recorded(&app, link).await, expected(per_link as i64, (viewers / links.len()) as i64));
    }
}

async fn limits_hold_for_each_link_of_a_batch(app: TestApp) {
    let limits = [Some(1), Some(3), Some(40), None];
    let (links, urls) = links(&app, &limits).await;
    let per_link = 120;
    let outcomes = storm(&urls, per_link, 1000).await;
    for ((link, limit), (statuses, mut numbers)) in links.iter().zip(limits).zip(outcomes) {
        let shown = limit.map_or(per_link, |max| max as usize);
        assert_eq!(numbers.len(), shown, "{limit:?}: exactly the allowed views are shown");
        let refused = statuses.iter().filter(|s| **s == StatusCode::NOT_FOUND).count();
        assert_eq!(refused, per_link - shown, "every other view is refused like a gone link");
        assert_numbered_once(&mut numbers, shown);
        assert_eq!(recorded(&app, link).await, expected(shown as i64, shown as i64));
        let (_, body) =
            app.get(&format!("/v1/share-links/{}", link["share_link_id"].as_str().unwrap())).await;
        let status = if limit.is_some() { "expired" } else { "active" };
        assert_eq!(body["data"]["status"], status);
    }
}

async fn a_revoked_link_is_refused_on_the_next_view(app: TestApp) {
    let (links, urls) = links(&app, &[None]).await;
    assert_eq!(app.view(&urls[0], None).await.0, StatusCode::OK);
    let id = links[0]["share_link_id"].as_str().unwrap();
    let (status, _) = app.request(reqwest::Method::DELETE, &format!("/v1/share-links/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.view(&urls[0], None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(recorded(&app, &links[0]).await["view_count"], 1, "the refused view is not counted");
}

/// Links created and changed while views are being counted: on SQLite the views
/// have a connection of their own, and every write still gets its turn.
async fn other_writes_go_on_while_views_are_counted(app: TestApp) {
    let (links, urls) = links(&app, &[None]).await;
    let task = app.finished_task("shared meanwhile").await;
    let id = links[0]["share_link_id"].as_str().unwrap();
    let writes = (0..30).map(|i| {
        let (app, task) = (&app, &task);
        async move {
            let created =
                app.post("/v1/share-links", json!({"task_id": task, "title": format!("meanwhile {i}")}));
            let path = format!("/v1/share-links/{id}");
            let changed = app.patch(&path, json!({"description": format!("edit {i}")}));
            let ((created, body), (changed, _)) = tokio::join!(created, changed);
            (created, changed, body["data"]["title"].as_str().map(str::to_owned))
        }
    });
    let (outcomes, writes) = tokio::join!(storm(&urls, 300, 30), futures_util::future::join_all(writes));
    for (i, (created, changed, title)) in writes.into_iter().enumerate() {
        assert_eq!((created, changed), (StatusCode::CREATED, StatusCode::OK));
        assert_eq!(title, Some(format!("meanwhile {i}")));
    }
    let (statuses, mut numbers) = outcomes.into_iter().next().unwrap();
    // A view prepared before an edit starts over; a few in a row may give up.
    assert!(statuses.iter().all(|s| [StatusCode::OK, StatusCode::NOT_FOUND].contains(s)), "{statuses:?}");
    let shown = numbers.len();
    assert!(shown > 0);
    assert_numbered_once(&mut numbers, shown);
    assert_eq!(recorded(&app, &links[0]).await["view_count"], shown as i64);
    let (_, list) = app.get(&format!("/v1/share-links?task_id={task}&limit=100")).await;
    assert_eq!(list["data"]["share_links"].as_array().map(Vec::len), Some(30), "{list}");
}

/// Makes every insert of a view row fail, as a broken disk or a full one would.
async fn break_view_rows(app: &TestApp, backend: Backend) {
    match backend {
        Backend::Sqlite => {
            app.sql(
                "CREATE TRIGGER broken_views BEFORE INSERT ON share_link_views \
                 BEGIN SELECT RAISE(ABORT, 'no room for views'); END",
            )
            .await
        }
        Backend::Postgres => {
            app.sql(
                "CREATE FUNCTION refuse_views() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'no room for views'; END $$",
            )
            .await;
            app.sql(
                "CREATE TRIGGER broken_views BEFORE INSERT ON share_link_views \
                 FOR EACH ROW EXECUTE FUNCTION refuse_views()",
            )
            .await
        }
    }
}

async fn a_batch_that_cannot_be_committed_fails_every_view_in_it_and_counts_none(app: TestApp) {
    let backend = app.db.backend;
    let (links, urls) = links(&app, &[Some(1), None, None]).await;
    break_view_rows(&app, backend).await;
    for (statuses, numbers) in storm(&urls, 40, 40).await {
        assert!(numbers.is_empty());
        assert!(statuses.iter().all(|s| *s == StatusCode::INTERNAL_SERVER_ERROR), "{statuses:?}");
    }
    for link in &links {
        assert_eq!(recorded(&app, link).await, expected(0, 0), "nothing of a failed batch is kept");
    }
    match backend {
        Backend::Sqlite => app.sql("DROP TRIGGER broken_views").await,
        Backend::Postgres => app.sql("DROP TRIGGER broken_views ON share_link_views").await,
    }
    // The one-time link was not spent by the failed views, and views count again.
    for (statuses, mut numbers) in storm(&urls, 20, 20).await {
        assert!(statuses.contains(&StatusCode::OK));
        let count = numbers.len();
        assert_numbered_once(&mut numbers, count);
    }
    assert_eq!(recorded(&app, &links[0]).await, expected(1, 1));
    assert_eq!(recorded(&app, &links[1]).await, expected(20, 20));
}

viewer_tests!(
    several_links_viewed_at_once_count_every_view_once,
    limits_hold_for_each_link_of_a_batch,
    a_revoked_link_is_refused_on_the_next_view,
    a_batch_that_cannot_be_committed_fails_every_view_in_it_and_counts_none,
    other_writes_go_on_while_views_are_counted,
);

/// The same views from two instances on one PostgreSQL: nothing lost, nothing
/// counted twice, each number given once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_on_postgres_count_views_of_the_same_links_exactly() {
    let Some(first) = TestApp::spawn_with(Backend::Postgres, behind_proxy).await else {
        return;
    };
    let mut second = TestApp::start_on(TestDb::existing(&first.db), behind_proxy).await;
    let (links, urls) = links(&first, &[Some(25), None]).await;
    let on_second: Vec<String> = urls.iter().map(|u| u.replace(&first.base, &second.base)).collect();
    let both = [urls.clone(), on_second].concat();
    let outcomes = storm(&both, 100, 1000).await;
    let (one, two) = outcomes.split_at(urls.len());
    for (i, (link, limit)) in links.iter().zip([Some(25), None]).enumerate() {
        let mut numbers = [one[i].1.clone(), two[i].1.clone()].concat();
        let shown = limit.unwrap_or(200) as usize;
        assert_numbered_once(&mut numbers, shown);
        assert_eq!(recorded(&first, link).await, expected(shown as i64, shown as i64));
    }
    second.stop().await;
}

/// A change made through one instance holds on the very next view through the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_change_on_one_postgres_instance_holds_on_the_next_view_on_the_other() {
    let Some(first) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let mut second = TestApp::start_on(TestDb::existing(&first.db), |_| {}).await;
    let (links, urls) = links(&first, &[None]).await;
    let id = links[0]["share_link_id"].as_str().unwrap();
    let url = urls[0].replace(&first.base, &second.base);
    let (status, body) = second.view(&url, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"]["artifacts"].is_array(), "downloads are on: {body}");

    let (status, _) = first
        .patch(&format!("/v1/share-links/{id}"), json!({"permissions": {"allow_download": false}}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, body) = second.view(&url, None).await;
    assert!(body["data"]["artifacts"].is_null(), "downloads are off at once: {body}");

    let (status, _) =
        first.patch(&format!("/v1/share-links/{id}"), json!({"password": "correct horse"})).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = second.view(&url, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(body["error"]["code"], "PASSWORD_REQUIRED");

    let (status, _) = first.request(reqwest::Method::DELETE, &format!("/v1/share-links/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second.view(&url, Some("correct horse")).await.0, StatusCode::NOT_FOUND);
    second.stop().await;
}

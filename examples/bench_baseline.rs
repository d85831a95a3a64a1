//! The baseline of `scripts/bench`: a bare axum server that answers `GET /s/{token}`
//! with fixed bytes (the JSON shared view, or the HTML page, as agentshare served
//! them), doing nothing else. What it reaches is the machine's limit for serving
//! those bytes over HTTP. `GET /healthz` answers when it is up.
//!
//! `bench_baseline LISTEN_ADDR JSON_FILE HTML_FILE`

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

struct Bodies {
    json: axum::body::Bytes,
    html: axum::body::Bytes,
}

async fn open(State(bodies): State<Arc<Bodies>>, headers: HeaderMap) -> Response {
    let json = headers.get(header::ACCEPT).is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    let (body, content_type) = if json {
        (bodies.json.clone(), "application/json")
    } else {
        (bodies.html.clone(), "text/html; charset=utf-8")
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, listen, json, html] = args.as_slice() else {
        anyhow::bail!("usage: bench_baseline LISTEN_ADDR JSON_FILE HTML_FILE");
    };
    let bodies = Arc::new(Bodies { json: std::fs::read(json)?.into(), html: std::fs::read(html)?.into() });
    let app = Router::new()
        .route("/s/{token}", get(open))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(bodies);
    let listener = tokio::net::TcpListener::bind(listen.as_str()).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

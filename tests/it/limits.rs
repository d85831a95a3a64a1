//! Resource limits a single client can't get past: open event streams and slow
//! requests.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::common::{assert_error, Backend, TestApp};

/// Reads a stream until `done` holds for what was read (a generous deadline turns a
/// broken stream into a failure instead of a hang).
async fn read_until(response: &mut reqwest::Response, done: impl Fn(&str) -> bool) -> String {
    let mut seen = String::new();
    crate::common::read_stream(response, &mut seen, done).await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_a_bounded_number_of_event_streams() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_streams_per_client = 3).await.unwrap();
    let task = app.create_task("running").await;
    let path = format!("/v1/tasks/{task}/events/stream");
    let open = || app.client.get(app.url(&path)).bearer_auth(&app.key).send();

    let mut streams = Vec::new();
    for _ in 0..3 {
        let response = open().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response);
    }
    let refused = open().await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = refused.json().await.unwrap();
    assert_error(&body, "TOO_MANY_STREAMS");
    assert_eq!(body["error"]["details"]["limit"], 3);

    // Other routes are unaffected while the streams are open.
    let (status, _) = app.get(&format!("/v1/tasks/{task}")).await;
    assert_eq!(status, StatusCode::OK);

    // When the task finishes, the streams end, and their places are free again.
    let (status, body) = app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for stream in &mut streams {
        let seen = read_until(stream, |s| s.contains("event: end")).await;
        assert!(seen.contains("event: end"), "{seen}");
    }
    for _ in 0..3 {
        let mut again = open().await.unwrap();
        assert_eq!(again.status(), StatusCode::OK, "a finished stream gives its place back");
        read_until(&mut again, |s| s.contains("event: end")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_body_never_arrives_times_out_and_changes_nothing() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout = Duration::from_millis(300))
        .await
        .unwrap();
    // Headers promise a body of 100 bytes; only part of it is ever sent.
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let partial = r#"{"title": "never fin"#;
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{partial}",
        app.addr, app.key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_string(&mut answer))
        .await
        .expect("the server answers instead of waiting forever")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_error(&body, "REQUEST_TIMEOUT");

    let (status, tasks) = app.get("/v1/tasks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(tasks["data"]["tasks"].as_array().map(Vec::len), Some(0), "nothing was created: {tasks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout = Duration::from_millis(300))
        .await
        .unwrap();
    let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    // The blank line that ends the headers never comes.
    socket.write_all(b"GET /healthz HTTP/1.1\r\nHost: agentshare\r\nX-Slow: 1\r\n").await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), socket.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection instead of waiting forever")
        .ok();
    let answer = String::from_utf8_lossy(&answer);
    assert!(!answer.contains("200 OK"), "no request was served: {answer}");

    // The service goes on serving everyone else.
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_ends_live_streams_instead_of_waiting_on_them() {
    let mut app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.create_task("running").await;
    let mut stream = app
        .client
        .get(app.url(&format!("/v1/tasks/{task}/events/stream")))
        .bearer_auth(&app.key)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(
        started.elapsed() < agentshare::startup::SHUTDOWN_GRACE,
        "the stream ended by itself rather than being cut at the end of the grace period"
    );
    let rest = read_until(&mut stream, |_| false).await;
    assert!(!rest.contains("event: end"), "the task did not end, so neither does it say so: {rest}");
}

/// On a dual-stack listener (`[::]`), IPv4 clients arrive as `::ffff:a.b.c.d`: each
/// is still a client of its own for the miss limiter and for event streams, and a
/// trusted IPv4 proxy is still trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv4_clients_of_a_dual_stack_listener_are_told_apart() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.listen = "[::]:0".parse().unwrap();
        s.max_streams_per_client = 1;
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await
    .unwrap();
    let port = app.addr.port();
    let from = |ip: &str| {
        crate::common::http()
            .local_address(ip.parse::<std::net::IpAddr>().unwrap())
            .no_proxy()
            .build()
            .unwrap()
    };
    let (guesser, viewer, proxy) = (from("127.0.0.20"), from("127.0.0.21"), from("127.0.0.1"));
    let task = app.finished_task("t").await;
    let link = app.share(&task, json!({})).await;
    let path = link["url"].as_str().unwrap().split("/s/").nth(1).unwrap().to_owned();
    let v4 = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let made_up = v4(&format!("/s/{}", "A".repeat(43)));
    let mut refused = false;
    for _ in 0..31 {
        refused = guesser.get(&made_up).send().await.unwrap().status() == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(refused, "the guesser is refused after its misses");
    let view =
        viewer.get(v4(&format!("/s/{path}"))).header("accept", "application/json").send().await.unwrap();
    assert_eq!(view.status(), StatusCode::OK, "another IPv4 client is not");

    // The trusted proxy's forwarded clients are told apart too.
    for _ in 0..31 {
        proxy.get(&made_up).header("x-forwarded-for", "203.0.113.7").send().await.unwrap();
    }
    let forwarded = proxy
        .get(v4(&format!("/s/{path}")))
        .header("accept", "application/json")
        .header("x-forwarded-for", "203.0.113.8")
        .send()
        .await
        .unwrap();
    assert_eq!(forwarded.status(), StatusCode::OK, "X-Forwarded-For from a mapped proxy is believed");

    // One stream each (the limit), and the second client still gets its own.
    let running = app.create_task("running").await;
    let stream = format!("/v1/tasks/{running}/events/stream");
    let first = guesser.get(v4(&stream)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = viewer.get(v4(&stream)).bearer_auth(&app.key).send().await.unwrap();
    assert_eq!(second.status(), StatusCode::OK, "streams are counted per IPv4 client");
}

/// Reads what the server sends on `socket` until it closes the connection; `None`
/// when it is still open after `within`.
async fn closed_within(socket: &mut tokio::net::TcpStream, within: Duration) -> Option<Vec<u8>> {
    let mut got = Vec::new();
    match tokio::time::timeout(within, socket.read_to_end(&mut got)).await {
        Ok(_) => Some(got),
        Err(_) => None,
    }
}

/// A socket that sends nothing, or only the HTTP/2 preface, is closed once the
/// request timeout has passed without a request: idle sockets can't pile up until
/// the process runs out of descriptors.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_without_a_request_are_closed() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.request_timeout = Duration::from_millis(500))
        .await
        .unwrap();
    let mut silent = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let mut preface = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    preface.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await.unwrap();
    let started = std::time::Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(20)).await.is_some(), "a silent socket is closed");
    assert!(closed_within(&mut preface, Duration::from_secs(20)).await.is_some(), "a bare preface is closed");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before the request timeout");

    // A connection that brings its request in time is served as ever.
    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, StatusCode::OK);
}

/// One client holds a bounded number of connections; more are closed at once,
/// while other clients are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_holds_a_bounded_number_of_connections() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| s.max_connections_per_client = 4).await.unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(tokio::net::TcpStream::connect(app.addr).await.unwrap());
    }
    let mut extra = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let answer =
        closed_within(&mut extra, Duration::from_secs(5)).await.expect("the fifth is closed at once");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 429 ") && answer.contains("Retry-After: 1"), "{answer}");
    let other = crate::common::http()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let health = other.get(format!("http://127.0.0.1:{}/healthz", app.addr.port())).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "another client is served");
    drop(held.pop());
    // Its place is given back when a connection ends (the server notices the close).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut again = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        again.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let answer = closed_within(&mut again, Duration::from_secs(5)).await.unwrap_or_default();
        if String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a freed place is given again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A raw HTTP/1.1 GET of `url` from a socket with a 4 KiB receive window, which
/// then reads only the head of the answer: a reader that has stopped reading.
async fn stalled_get(url: &str) -> (tokio::net::TcpStream, String) {
    let url = reqwest::Url::parse(url).unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let addr = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap()).parse().unwrap();
    let mut stream = socket.connect(addr).await.unwrap();
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    stream.write_all(format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
    let mut head = vec![0; 1024];
    let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut head))
        .await
        .expect("the answer begins in time")
        .unwrap();
    (stream, String::from_utf8_lossy(&head[..n]).into_owned())
}

/// Readers that stop reading hold little and not for long: a client downloads at
/// most 8 files (2 archives) at once, others are served meanwhile, and a download
/// slower than the minimum rate has its connection closed, which frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_readers_are_bounded_and_cut_off() {
    let app = TestApp::spawn_with(Backend::Sqlite, |s| {
        s.request_timeout = Duration::from_millis(500);
        s.min_download_bytes_per_sec = 2 * 1024 * 1024;
    })
    .await
    .unwrap();
    let task = app.create_task("big").await;
    let size = 16 * 1024 * 1024;
    let response = app
        .client
        .post(app.url(&format!("/v1/tasks/{task}/artifacts?name=big.bin")))
        .bearer_auth(&app.key)
        .body(vec![7u8; size])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    app.patch(&format!("/v1/tasks/{task}"), json!({"status": "completed"})).await;
    let link = app.share(&task, json!({})).await;
    let (_, view) = app.view(link["url"].as_str().unwrap(), None).await;
    let file = view["data"]["artifacts"][0]["download_url"].as_str().unwrap().to_owned();
    let archive = format!(
        "{}/artifacts.zip?grant={}",
        link["url"].as_str().unwrap(),
        view["data"]["grant"].as_str().unwrap()
    );

    let started = std::time::Instant::now();
    let mut stalled = Vec::new();
    for _ in 0..8 {
        let (stream, head) = stalled_get(&file).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        stalled.push(stream);
    }
    for _ in 0..2 {
        let (stream, head) = stalled_get(&archive).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        stalled.push(stream);
    }
    for url in [&file, &archive] {
        let refused = app.client.get(url.as_str()).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "{url}");
        assert!(refused.headers().contains_key("retry-after"));
        assert_error(&refused.json().await.unwrap(), "TOO_MANY_DOWNLOADS");
    }
    let other = crate::common::http()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .no_proxy()
        .build()
        .unwrap();
    let whole = other.get(&file).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(whole.len(), size, "another client downloads meanwhile");

    // 16 MiB at 2 MiB/s after half a second: after about 8.5 s the stalled
    // downloads are cut off and their places given back, while their sockets still
    // hold what was sent before.
    let deadline = started + Duration::from_secs(60);
    loop {
        let again = app.client.get(file.as_str()).send().await.unwrap();
        if again.status() == StatusCode::OK {
            assert_eq!(again.bytes().await.unwrap().len(), size);
            break;
        }
        assert_eq!(again.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(std::time::Instant::now() < deadline, "stalled downloads are cut off");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(started.elapsed() >= Duration::from_secs(8), "not before their time: {:?}", started.elapsed());
    drop(stalled);
}

/// A refused client (429) gets its connection closed after the answer, so that
/// being refused does not hold one of the service's connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_clients_have_their_connection_closed() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let guess = format!("/s/{}", "A".repeat(43));
    let mut refused = false;
    for _ in 0..40 {
        let mut socket = tokio::net::TcpStream::connect(app.addr).await.unwrap();
        socket
            .write_all(
                format!("GET {guess} HTTP/1.1\r\nHost: x\r\nAccept: application/json\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut head = vec![0; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), socket.read(&mut head)).await.unwrap().unwrap();
        let head = String::from_utf8_lossy(&head[..n]).to_lowercase();
        if head.starts_with("http/1.1 429") {
            assert!(head.contains("connection: close"), "{head}");
            let rest = closed_within(&mut socket, Duration::from_secs(10)).await;
            assert!(rest.is_some(), "the server closes the connection after the refusal");
            refused = true;
            break;
        }
        assert!(head.starts_with("http/1.1 404"), "{head}");
    }
    assert!(refused, "guessing is refused");
}

/// Thirty colleagues behind one address open a one-time link that one of them
/// already revealed: each is told it is gone, and none of it counts as guessing, so
/// the office can still open other links. Made-up tokens still count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_office_opening_a_used_up_link_is_not_taken_for_a_guesser() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let task = app.finished_task("t").await;
    let once = app.share(&task, json!({"max_views": 1})).await;
    let other = app.share(&task, json!({})).await;
    let once_url = once["url"].as_str().unwrap();
    assert_eq!(app.view(once_url, None).await.0, StatusCode::OK);
    let mut gone_bodies = std::collections::HashSet::new();
    for _ in 0..40 {
        let response = app.client.get(once_url).header("accept", "application/json").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        gone_bodies.insert(response.text().await.unwrap());
    }
    assert_eq!(
        app.view(other["url"].as_str().unwrap(), None).await.0,
        StatusCode::OK,
        "the office is not locked out"
    );
    let made_up = format!("{}/s/{}", app.base, "A".repeat(43));
    let mut refused = false;
    for _ in 0..40 {
        let response = app.client.get(&made_up).header("accept", "application/json").send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            refused = true;
            break;
        }
        gone_bodies.insert(response.text().await.unwrap());
    }
    assert!(refused, "guessing is still refused");
    assert_eq!(gone_bodies.len(), 1, "a used-up link and a made-up token answer alike: {gone_bodies:?}");
}

//! Sharing from the command line: `agentshare share TASK_ID` (a share link, its
//! QR code), `agentshare links list|revoke`, and the share codes of `run --code`.

use std::io::BufRead as _;
use std::time::Duration;

use anyhow::Context as _;
use chrono::SecondsFormat;
use reqwest::Method;
use serde_json::{json, Value};

use super::config::{self, Target};
use super::connection::{with_retries, Connection, Error, Patience};
use super::text;

/// What `agentshare share` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ShareOptions {
    pub task_id: String,
    /// How long the link works (`30m`, `12h`, `7d`, `2w`); the server's default
    /// (30 days) without it.
    pub expires_in: Option<Duration>,
    /// Read a password (8–32 characters) from standard input.
    pub password_stdin: bool,
    pub max_views: Option<u64>,
    pub no_download: bool,
    pub title: Option<String>,
    pub json: bool,
    pub qr: bool,
}

/// `agentshare share`: creates a share link and prints it.
pub async fn share(target: &Target, options: ShareOptions) -> anyhow::Result<()> {
    let connection = config::connect(target)?;
    let mut body = json!({"task_id": options.task_id});
    if let Some(duration) = options.expires_in {
        let duration = chrono::Duration::from_std(duration).context("--expires-in is too long")?;
        let at = chrono::Utc::now().checked_add_signed(duration).context("--expires-in is too long")?;
        body["expires_at"] = json!(at.to_rfc3339_opts(SecondsFormat::Secs, true));
    }
    if options.password_stdin {
        body["password"] = json!(read_password()?);
    }
    if let Some(max_views) = options.max_views {
        body["max_views"] = json!(max_views);
    }
    if options.no_download {
        body["permissions"] = json!({"allow_download": false});
    }
    if let Some(title) = &options.title {
        body["title"] = json!(title);
    }
    let link = create_link(&connection, body, &Patience::within(Duration::from_secs(10))).await?;
    if options.json {
        println!("{}", serde_json::to_string_pretty(&link)?);
        return Ok(());
    }
    let url = link["url"].as_str().unwrap_or_default();
    let expires = link["expires_at"].as_str().map(short_time).unwrap_or_default();
    let mut facts = vec![format!("expires {expires}")];
    if link["password_protected"].as_bool() == Some(true) {
        facts.push("password".into());
    }
    if let Some(max) = link["max_views"].as_i64() {
        facts.push(if max == 1 { "one view".into() } else { format!("{max} views") });
    }
    if link["permissions"]["allow_download"].as_bool() == Some(false) {
        facts.push("no downloads".into());
    }
    println!(
        "Share link {} of task {} ({})",
        link["share_link_id"].as_str().unwrap_or_default(),
        link["task_id"].as_str().unwrap_or_default(),
        facts.join(", ")
    );
    if let Some(short) = link["short_url"].as_str().filter(|s| *s != url) {
        println!("Short link: {short}");
    }
    if options.qr {
        println!("{}", qr(url)?);
    }
    println!("{url}");
    Ok(())
}

/// Creates a share link with `body`; answers its data.
pub async fn create_link(connection: &Connection, body: Value, patience: &Patience) -> Result<Value, Error> {
    with_retries(patience, || connection.data(Method::POST, "/v1/share-links", Some(body.clone())), |_| {})
        .await
        .map_err(|err| match err.code() {
            Some("TASK_NOT_COMPLETED") => Error::Api {
                status: 403,
                code: "TASK_NOT_COMPLETED".into(),
                message: "the task is still running: it can be shared by link once it has finished \
                          (follow a running task with a share code: `agentshare run --code`)"
                    .into(),
                details: Value::Null,
            },
            _ => err,
        })
}

/// Creates (or rotates) the task's share code; answers the code.
pub async fn create_code(connection: &Connection, task_id: &str) -> Result<String, Error> {
    let path = format!("/v1/agentrix/tasks/{task_id}/share");
    let (_, answer) = connection.json(Method::POST, &path, Some(json!({}))).await?;
    answer["shareCode"].as_str().map(str::to_owned).ok_or_else(|| Error::Unexpected {
        url: connection.url(&path),
        what: "no shareCode in the answer".into(),
    })
}

/// The first line of standard input, without its line ending.
fn read_password() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).context("cannot read the password from standard input")?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    anyhow::ensure!(!password.is_empty(), "--password-stdin: standard input held no password");
    Ok(password)
}

/// `url` as a QR code drawn with half blocks, light on a dark terminal (the quiet
/// zone around it included, as scanners need).
pub fn qr(url: &str) -> anyhow::Result<String> {
    use qrcode::render::unicode::Dense1x2;
    let code = qrcode::QrCode::new(url.as_bytes()).context("the link is too long for a QR code")?;
    Ok(code.render::<Dense1x2>().dark_color(Dense1x2::Light).light_color(Dense1x2::Dark).build())
}

/// Parses `30s`, `45m`, `12h`, `7d` or `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration like 30m, 12h, 7d or 2w"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: the unit must be s, m, h, d or w (e.g. 7d)")),
    };
    if number == 0 {
        return Err("the duration must be more than zero".into());
    }
    number.checked_mul(seconds).map(Duration::from_secs).ok_or_else(|| format!("{text:?} is too long"))
}

/// What `agentshare links list` shows.
#[derive(Debug, Clone, Default)]
pub struct LinkFilter {
    pub task_id: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
    pub json: bool,
}

/// `agentshare links list`.
pub async fn list_links(target: &Target, filter: LinkFilter) -> anyhow::Result<()> {
    let connection = config::connect(target)?;
    let mut query = vec![];
    if let Some(task_id) = &filter.task_id {
        query.push(("task_id", task_id.clone()));
    }
    if let Some(status) = &filter.status {
        query.push(("status", status.clone()));
    }
    let (links, next_cursor) =
        pages(&connection, "/v1/share-links", "share_links", query, filter.limit).await?;
    if filter.json {
        let data =
            json!({"share_links": links, "has_more": next_cursor.is_some(), "next_cursor": next_cursor});
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(());
    }
    if links.is_empty() {
        println!("no share links");
        return Ok(());
    }
    println!(
        "{:<24} {:<24} {:<8} {:<9} {:<17} URL",
        "LINK ID", "TASK ID", "STATUS", "VIEWS", "EXPIRES (UTC)"
    );
    for link in &links {
        let views = match link["max_views"].as_i64() {
            Some(max) => format!("{}/{max}", link["view_count"].as_i64().unwrap_or(0)),
            None => link["view_count"].as_i64().unwrap_or(0).to_string(),
        };
        println!(
            "{:<24} {:<24} {:<8} {:<9} {:<17} {}",
            link["share_link_id"].as_str().unwrap_or_default(),
            link["task_id"].as_str().unwrap_or_default(),
            link["status"].as_str().unwrap_or_default(),
            views,
            link["expires_at"].as_str().map(short_time).unwrap_or_default(),
            link["url"].as_str().unwrap_or_default(),
        );
    }
    if next_cursor.is_some() {
        eprintln!("(more links: raise --limit)");
    }
    Ok(())
}

/// `agentshare links revoke ID`.
pub async fn revoke_link(target: &Target, share_link_id: &str) -> anyhow::Result<()> {
    let connection = config::connect(target)?;
    let path = format!("/v1/share-links/{}", encode_segment(share_link_id));
    let link = connection.data(Method::DELETE, &path, None).await?;
    println!(
        "revoked {} (task {}): the link no longer opens",
        link["share_link_id"].as_str().unwrap_or(share_link_id),
        link["task_id"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// What `agentshare tasks list` shows.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub source: Option<String>,
    pub status: Option<String>,
    pub limit: u32,
    pub json: bool,
}

/// `agentshare tasks list`.
pub async fn list_tasks(target: &Target, filter: TaskFilter) -> anyhow::Result<()> {
    let connection = config::connect(target)?;
    let mut query = vec![];
    if let Some(source) = &filter.source {
        query.push(("source", source.clone()));
    }
    if let Some(status) = &filter.status {
        query.push(("status", status.clone()));
    }
    let (tasks, next_cursor) = pages(&connection, "/v1/tasks", "tasks", query, filter.limit).await?;
    if filter.json {
        let data = json!({"tasks": tasks, "has_more": next_cursor.is_some(), "next_cursor": next_cursor});
        println!("{}", serde_json::to_string_pretty(&data)?);
        return Ok(());
    }
    if tasks.is_empty() {
        println!("no tasks");
        return Ok(());
    }
    println!("{:<22} {:<10} {:<7} {:<17} TITLE", "TASK ID", "STATUS", "SOURCE", "CREATED (UTC)");
    for task in &tasks {
        println!(
            "{:<22} {:<10} {:<7} {:<17} {}",
            task["task_id"].as_str().unwrap_or_default(),
            task["status"].as_str().unwrap_or_default(),
            task["source"].as_str().unwrap_or("api"),
            task["created_at"].as_str().map(short_time).unwrap_or_default(),
            text::cut(task["title"].as_str().unwrap_or_default(), 80),
        );
    }
    if next_cursor.is_some() {
        eprintln!("(more tasks: raise --limit)");
    }
    Ok(())
}

/// Up to `limit` items of a paginated list, following `next_cursor`; answers them
/// and the cursor of what follows, if anything does.
async fn pages(
    connection: &Connection,
    path: &str,
    field: &str,
    query: Vec<(&str, String)>,
    limit: u32,
) -> anyhow::Result<(Vec<Value>, Option<String>)> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let want = (limit as usize).saturating_sub(items.len()).clamp(1, 100);
        let mut url = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &query {
            url.append_pair(name, value);
        }
        url.append_pair("limit", &want.to_string());
        if let Some(cursor) = &cursor {
            url.append_pair("cursor", cursor);
        }
        let data = connection.data(Method::GET, &format!("{path}?{}", url.finish()), None).await?;
        let page = data[field].as_array().cloned().unwrap_or_default();
        items.extend(page);
        cursor = data["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() || items.len() >= limit as usize {
            return Ok((items, cursor));
        }
    }
}

/// An RFC 3339 time as `2026-12-05 10:30` (UTC).
fn short_time(time: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(time) {
        Ok(at) => at.with_timezone(&chrono::Utc).format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => time.to_owned(),
    }
}

/// `text` fit for one segment of a URL path.
pub fn encode_segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_a_unit() {
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2w"), Ok(Duration::from_secs(14 * 86_400)));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn qr_codes_are_half_blocks() {
        let code = qr("http://127.0.0.1:8080/s/abc").unwrap();
        assert!(code.lines().count() > 10);
        assert!(code.chars().all(|c| matches!(c, ' ' | '\u{2580}' | '\u{2584}' | '\u{2588}' | '\n')));
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(encode_segment("share_ab12"), "share_ab12");
        assert_eq!(encode_segment("a/../b c"), "a%2F..%2Fb%20c");
    }
}

//! A share link's page in the console: the link to copy or scan, its settings, who
//! looked (views over time, countries, referrers, devices…), what viewers did (the
//! activity log, a page at a time, or whole as CSV), comments to moderate, and the
//! Revoke button.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration as Days, NaiveDate, Utc};
use serde::Deserialize;

use super::tasks::CsrfForm;
use super::{Console, Nav};
use crate::app::activity::{self, Activity};
use crate::app::share_links::{self, DailyViews, LinkAnalytics, LinkUrls, ValueViews};
use crate::app::{self, AppState};
use crate::domain::activity::ActivityKind;
use crate::domain::audience::Audience;
use crate::domain::ids::{CommentId, ShareLinkId};
use crate::domain::page::Cursor;
use crate::domain::share::ShareStatus;
use crate::domain::time::Timestamp;
use crate::http::{file_response, Closer};
use crate::storage::{CommentRecord, CommentStatus, ShareLinkRecord};
use crate::web::error::{failure, PageError};
use crate::web::format;
use crate::web::page::{page_or_error, see_other};
use crate::web::qr;
use crate::web::session::PostedForm;

/// Activity entries a link's page shows at a time.
const ACTIVITY_SHOWN: u32 = 20;
/// Days the views chart covers at least, and at most.
const CHART_DAYS: (i64, i64) = (14, 90);
/// Size of the chart's drawing area.
const CHART_WIDTH: f64 = 720.0;
const CHART_HEIGHT: f64 = 160.0;

/// One day's bar of the views chart.
pub struct Bar {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    pub day: String,
    pub views: i64,
}

/// Views per day over the chart's range, oldest first, as bars of an SVG chart.
pub struct Chart {
    pub bars: Vec<Bar>,
    pub first_day: String,
    pub last_day: String,
    pub peak: i64,
}

impl Chart {
    /// Bars for the days up to `today`: at least [`CHART_DAYS`].0, back to the first
    /// view if it is more recent than [`CHART_DAYS`].1 days.
    pub fn new(daily: &[DailyViews], today: NaiveDate) -> Chart {
        let first_view = daily.first().and_then(|d| NaiveDate::parse_from_str(&d.date, "%Y-%m-%d").ok());
        let span = first_view.map_or(CHART_DAYS.0, |first| (today - first).num_days() + 1);
        let days = span.clamp(CHART_DAYS.0, CHART_DAYS.1);
        let start = today - Days::days(days - 1);
        let views_on = |day: &str| daily.iter().find(|d| d.date == day).map_or(0, |d| d.views);
        let series: Vec<(String, i64)> = (0..days)
            .map(|i| {
                let day = (start + Days::days(i)).format("%Y-%m-%d").to_string();
                let views = views_on(&day);
                (day, views)
            })
            .collect();
        let peak = series.iter().map(|(_, v)| *v).max().unwrap_or(0);
        let slot = CHART_WIDTH / days as f64;
        let bars = series
            .iter()
            .enumerate()
            .map(|(i, (day, views))| {
                let height =
                    if peak == 0 { 0.0 } else { (*views as f64 / peak as f64) * (CHART_HEIGHT - 4.0) };
                let height = if *views > 0 { height.max(2.0) } else { 0.0 };
                Bar {
                    x: format!("{:.1}", i as f64 * slot + slot * 0.1),
                    y: format!("{:.1}", CHART_HEIGHT - height),
                    width: format!("{:.1}", slot * 0.8),
                    height: format!("{height:.1}"),
                    day: day.clone(),
                    views: *views,
                }
            })
            .collect();
        Chart {
            first_day: series.first().map(|(d, _)| d.clone()).unwrap_or_default(),
            last_day: series.last().map(|(d, _)| d.clone()).unwrap_or_default(),
            bars,
            peak,
        }
    }
}

/// A value of a breakdown with its share of the views, for a bar.
pub struct Share {
    pub value: String,
    pub views: i64,
    /// Percent of the link's views, for the bar's length.
    pub percent: String,
}

fn shares(values: &[ValueViews], total: i64) -> Vec<Share> {
    values
        .iter()
        .map(|v| Share {
            value: v.value.clone(),
            views: v.views,
            percent: format!("{:.1}", if total > 0 { v.views as f64 * 100.0 / total as f64 } else { 0.0 }),
        })
        .collect()
}

/// A comment as the owner moderates it.
struct CommentLine {
    comment: CommentRecord,
    status: &'static str,
    created: String,
}

/// An entry of the activity log, as the page words it.
struct ActivityLine {
    kind: &'static str,
    what: &'static str,
    at: String,
    client: String,
    agent: String,
    browser: String,
    /// The file downloaded, or the verified address.
    detail: String,
}

impl From<Activity> for ActivityLine {
    fn from(a: Activity) -> ActivityLine {
        let what = match a.kind {
            ActivityKind::Opened => "opened",
            ActivityKind::Revealed => "viewed",
            ActivityKind::PasswordFailed => "wrong password",
            ActivityKind::VerificationSent => "verification sent",
            ActivityKind::VerificationSucceeded => "verified",
            ActivityKind::Downloaded => "downloaded",
            ActivityKind::Commented => "commented",
            ActivityKind::Refused => "refused (too many attempts)",
        };
        let detail = [a.file, a.email].into_iter().flatten().collect::<Vec<_>>().join(" · ");
        ActivityLine {
            kind: a.kind.as_str(),
            what,
            at: format::time(a.at),
            client: a.client.unwrap_or_else(|| "unknown".into()),
            agent: a.agent,
            browser: a.browser,
            detail,
        }
    }
}

/// Query of a link's page: where the activity shown starts.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    /// The cursor of the "Show more" link; the newest entries without.
    activity: Option<String>,
}

#[derive(Template)]
#[template(path = "console/link.html")]
struct LinkPage {
    nav: Nav,
    path: String,
    link: ShareLinkRecord,
    urls: LinkUrls,
    status: ShareStatus,
    task_path: String,
    qr: Option<std::sync::Arc<str>>,
    analytics: LinkAnalytics,
    chart: Chart,
    breakdowns: Vec<(&'static str, Vec<Share>)>,
    comments: Vec<CommentLine>,
    activity: Vec<ActivityLine>,
    /// The cursor of the next entries, if there are more.
    more_activity: Option<String>,
    /// Whether the entries shown are not the newest.
    older_activity: bool,
}

impl LinkPage {
    /// Who may open the link, in words.
    fn audience(&self) -> String {
        match self.link.audience() {
            Audience::Anyone => "anyone holding the link".to_owned(),
            Audience::Emails { emails } => emails.join(", "),
            Audience::Domains { domains } => {
                domains.iter().map(|d| format!("@{d}")).collect::<Vec<_>>().join(", ")
            }
        }
    }

    /// What viewers get hidden, in words.
    fn hidden(&self) -> String {
        let redaction = self.link.redaction();
        let mut parts: Vec<String> = Vec::new();
        if redaction.secrets {
            parts.push("secrets".into());
        }
        if redaction.emails {
            parts.push("e-mail addresses".into());
        }
        if redaction.paths {
            parts.push("user names in paths".into());
        }
        parts.extend(redaction.patterns.iter().map(|p| format!("/{p}/")));
        if parts.is_empty() {
            "nothing: shown as written".into()
        } else {
            parts.join(", ")
        }
    }
}

fn link_path(state: &AppState, share_link_id: &ShareLinkId) -> String {
    format!("{}/console/links/{share_link_id}", state.urls().path())
}

pub async fn link_page(
    State(state): State<AppState>,
    console: Console,
    Path(share_link_id): Path<ShareLinkId>,
    Query(query): Query<LinkQuery>,
) -> Response {
    let result = async {
        let after =
            match query.activity.as_deref() {
                Some(text) => Some(Cursor::decode(text).ok_or_else(|| {
                    app::Error::invalid("activity", "activity is not a cursor this page made")
                })?),
                None => None,
            };
        let link = share_links::get(&state, &console.owner, &share_link_id).await?;
        let analytics = share_links::analytics(&state, &link).await?;
        let older_activity = after.is_some();
        let activity = activity::page(&state, &console.owner, &share_link_id, after, ACTIVITY_SHOWN).await?;
        let comments = share_links::comments(&state, &console.owner, &share_link_id).await?;
        let urls = share_links::urls(&state, &share_link_id);
        let total = analytics.total_views;
        let breakdowns = vec![
            ("Countries", shares(&analytics.countries, total)),
            ("Referrers", shares(&analytics.referrers, total)),
            ("Devices", shares(&analytics.devices, total)),
            ("Browsers", shares(&analytics.browsers, total)),
            ("Operating systems", shares(&analytics.operating_systems, total)),
        ];
        Ok::<_, PageError>(LinkPage {
            nav: console.nav(&state, "shares"),
            path: link_path(&state, &share_link_id),
            task_path: format!("{}/console/tasks/{}", state.urls().path(), link.task_id),
            qr: qr::data_url(&urls.url),
            status: link.status(Timestamp::now()),
            urls,
            chart: Chart::new(&analytics.views_by_day, Utc::now().date_naive()),
            breakdowns,
            comments: comments
                .into_iter()
                .map(|c| CommentLine {
                    status: match c.status() {
                        CommentStatus::Deleted => "deleted",
                        CommentStatus::Published => "published",
                        CommentStatus::PendingVerification => "awaiting verification",
                    },
                    created: format::time(c.created_at),
                    comment: c,
                })
                .collect(),
            activity: activity.entries.into_iter().map(ActivityLine::from).collect(),
            more_activity: activity.next.map(|cursor| cursor.encode()),
            older_activity,
            analytics,
            link,
        })
    }
    .await;
    page_or_error(StatusCode::OK, result)
}

/// The whole activity log of a link as CSV.
pub async fn activity_csv(
    State(state): State<AppState>,
    console: Console,
    Path(share_link_id): Path<ShareLinkId>,
    closer: Closer,
) -> Response {
    match activity::csv(&state, &console.owner, &share_link_id).await {
        Ok(file) => file_response(file, closer, state.settings()),
        Err(err) => failure(err),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    console: Console,
    Path(share_link_id): Path<ShareLinkId>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<CsrfForm>,
) -> Response {
    let csrf = form.csrf.clone();
    if let Err(refused) = console.check(&state, &headers, csrf.as_deref()) {
        return refused.into_response();
    }
    match share_links::revoke(&state, &console.owner, &share_link_id).await {
        Ok(link) => {
            // Back where the owner pressed Revoke: the link, its task, or the shares list.
            let back = match form.back.as_deref() {
                Some("task") => format!("{}/console/tasks/{}#links", state.urls().path(), link.task_id),
                Some("shares") => format!("{}/console/shares", state.urls().path()),
                _ => link_path(&state, &share_link_id),
            };
            see_other(&back)
        }
        Err(err) => failure(err),
    }
}

pub async fn delete_comment(
    State(state): State<AppState>,
    console: Console,
    Path((share_link_id, comment_id)): Path<(ShareLinkId, CommentId)>,
    headers: HeaderMap,
    PostedForm(form): PostedForm<CsrfForm>,
) -> Response {
    let csrf = form.csrf;
    if let Err(refused) = console.check(&state, &headers, csrf.as_deref()) {
        return refused.into_response();
    }
    match share_links::delete_comment(&state, &console.owner, &share_link_id, &comment_id).await {
        // Deleted already is what the owner wanted.
        Ok(()) | Err(app::Error::CommentNotFound { .. }) => {
            see_other(&format!("{}#comments", link_path(&state, &share_link_id)))
        }
        Err(err) => failure(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, views: i64) -> DailyViews {
        DailyViews { date: date.into(), views }
    }

    #[test]
    fn the_chart_spans_two_weeks_at_least_and_scales_to_the_peak() {
        let today = NaiveDate::from_ymd_opt(2030, 1, 31).unwrap();
        let chart = Chart::new(&[day("2030-01-30", 2), day("2030-01-31", 4)], today);
        assert_eq!(chart.bars.len(), 14);
        assert_eq!(chart.first_day, "2030-01-18");
        assert_eq!(chart.last_day, "2030-01-31");
        assert_eq!(chart.peak, 4);
        let last = chart.bars.last().unwrap();
        assert_eq!((last.views, last.height.as_str()), (4, "156.0"));
        assert_eq!(chart.bars[12].height, "78.0", "half the peak, half the height");
        assert_eq!(chart.bars[0].height, "0.0");
    }

    #[test]
    fn the_chart_reaches_back_to_the_first_view_within_ninety_days() {
        let today = NaiveDate::from_ymd_opt(2030, 3, 31).unwrap();
        assert_eq!(Chart::new(&[day("2030-03-01", 1)], today).bars.len(), 31);
        assert_eq!(Chart::new(&[day("2029-01-01", 1)], today).bars.len(), 90);
        assert_eq!(Chart::new(&[], today).bars.len(), 14);
    }
}

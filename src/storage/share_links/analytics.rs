//! Who looked at a link, read from rollups the view counter keeps: a handful of
//! indexed reads, whatever the number of views.

use super::super::dialect::{dispatch, Conn};
use super::super::Db;
use super::ShareLinkRecord;
use crate::domain::ids::ShareLinkId;
use crate::domain::time::Timestamp;

/// Aggregated views of a link, read from rollups.
#[derive(Debug, Clone)]
pub struct Analytics {
    pub total_views: i64,
    pub unique_views: i64,
    pub first_viewed_at: Option<Timestamp>,
    pub last_viewed_at: Option<Timestamp>,
    /// `(YYYY-MM-DD, views)`, oldest first.
    pub daily: Vec<(String, i64)>,
    /// `(dimension, value, views)`, the top values of each dimension, most viewed first.
    pub breakdown: Vec<(String, String, i64)>,
}

/// Dimensions of the analytics breakdown.
pub const DIMENSIONS: [&str; 5] = ["country", "referrer", "browser", "os", "device"];
/// The dimension of the addresses viewers proved (links with an audience only).
pub const VIEWER_DIMENSION: &str = "viewer";
/// Values kept per dimension in an analytics answer.
pub const TOP_VALUES: i64 = 20;

impl Db {
    /// Analytics of a link from its rollups: a handful of indexed reads, whatever
    /// the number of views.
    pub async fn share_link_analytics(&self, link: &ShareLinkRecord) -> sqlx::Result<Analytics> {
        let conn = self.read();
        let daily: Vec<(String, i64)> = dispatch!(conn, |pool| {
            sqlx::query_as(
                "SELECT day, views FROM share_link_daily_views WHERE share_link_id = $1 ORDER BY day",
            )
            .bind(&link.share_link_id)
            .fetch_all(pool)
            .await
        })?;
        let breakdown = top_values(conn, &link.share_link_id).await?;
        Ok(Analytics {
            total_views: link.view_count,
            unique_views: link.unique_views,
            first_viewed_at: link.first_viewed_at,
            last_viewed_at: link.last_viewed_at,
            daily,
            breakdown,
        })
    }
}

async fn top_values(conn: Conn<'_>, share_link_id: &ShareLinkId) -> sqlx::Result<Vec<(String, String, i64)>> {
    dispatch!(conn, |pool| {
        sqlx::query_as(
            "SELECT dimension, value, views FROM ( \
                 SELECT dimension, value, views, \
                        ROW_NUMBER() OVER (PARTITION BY dimension ORDER BY views DESC, value) AS rank \
                 FROM share_link_breakdown WHERE share_link_id = $1) ranked \
             WHERE rank <= $2 ORDER BY dimension, views DESC, value",
        )
        .bind(share_link_id)
        .bind(TOP_VALUES)
        .fetch_all(pool)
        .await
    })
}

/// `YYYY-MM-DD` (UTC) of a timestamp.
pub(crate) fn day_of(t: Timestamp) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t.millis())
        .unwrap_or_default()
        .format("%Y-%m-%d")
        .to_string()
}

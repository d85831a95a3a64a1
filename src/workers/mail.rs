//! Mails owners about views of their links with `notify_on_view`: the first view at
//! once, later ones gathered into one digest per interval (an hour by default).
//! Runs in every instance; a compare-and-swap on the queue row makes sure each
//! view is mailed by one of them.

use std::time::Duration;

use crate::app::AppState;
use crate::domain::time::Timestamp;
use crate::mail::Mailer;
use crate::metrics::Metrics;
use crate::storage::{Db, PendingViewMail};

/// How often the queue is looked at.
const POLL: Duration = Duration::from_millis(500);

/// What the worker uses.
pub struct ViewMailer {
    db: Db,
    mailer: Mailer,
    /// Base of the links in mails.
    public_url: String,
    /// Shortest time between two mails about one link.
    interval: Duration,
    metrics: Metrics,
}

impl ViewMailer {
    /// The worker of the service `state` is.
    pub fn of(state: &AppState) -> ViewMailer {
        ViewMailer {
            db: state.db().clone(),
            mailer: state.mailer().clone(),
            public_url: state.urls().public().to_owned(),
            interval: state.settings().view_mail_interval,
            metrics: state.metrics().clone(),
        }
    }
}

/// Runs the worker until the task is dropped or aborted.
pub async fn run(worker: ViewMailer) {
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let now = Timestamp::now();
        let cutoff = Timestamp(now.millis() - worker.interval.as_millis() as i64);
        let pending = match worker.db.pending_view_mail(cutoff).await {
            Ok(pending) => pending,
            Err(err) => {
                tracing::warn!(error = %err, "cannot read the view-mail queue");
                continue;
            }
        };
        for item in pending {
            match worker.db.take_view_mail(&item, now).await {
                Ok(true) => send(&worker, &item).await,
                Ok(false) => {}
                Err(err) => tracing::warn!(error = %err, "cannot take views to mail"),
            }
        }
    }
}

async fn send(worker: &ViewMailer, item: &PendingViewMail) {
    // The console page of the link: who looked, where from, when (sign-in first).
    let analytics = format!("{}/console/links/{}", worker.public_url, item.share_link_id);
    let (subject, intro) = if item.last_sent_at.is_none() {
        (
            format!("Your share link “{}” was viewed", item.title),
            "Your share link was just opened.".to_owned(),
        )
    } else {
        let times = if item.pending_views == 1 {
            "once more".to_owned()
        } else {
            format!("{} more times", item.pending_views)
        };
        (
            format!("Your share link “{}” was viewed {times}", item.title),
            format!("Your share link was opened {times} since our last email."),
        )
    };
    let body = format!(
        "{intro}\n\nLink: {title} ({id})\nViews so far: {count}\n\nWho looked, from where and when: {analytics}\n\n\
         You get this because the link has notify_on_view turned on. Turn it off with\n\
         PATCH /v1/share-links/{id} {{\"notify_on_view\": false}}.\n",
        title = item.title,
        id = item.share_link_id,
        count = item.view_count,
    );
    let sent = worker.mailer.send(&item.email, &subject, body).await;
    worker.metrics.view_mail(sent.is_ok());
    if let Err(err) = sent {
        tracing::warn!(error = format!("{err:#}"), share_link_id = %item.share_link_id, "view mail not sent; will retry");
        if let Err(err) = worker.db.return_view_mail(item).await {
            tracing::warn!(error = %err, "cannot requeue views to mail");
        }
    } else {
        tracing::info!(share_link_id = %item.share_link_id, views = item.pending_views, "view mail sent");
    }
}

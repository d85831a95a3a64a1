//! Outgoing mail: SMTP when configured (`--smtp-url`), otherwise each message is
//! written to a directory as an `.eml` file, so a first run works without a mail
//! server and nothing is silently dropped.

use std::path::PathBuf;

use anyhow::Context;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes; cheap to clone (an SMTP transport shares its connections).
#[derive(Clone)]
pub enum Mailer {
    Smtp { transport: AsyncSmtpTransport<Tokio1Executor>, from: String },
    Directory { dir: PathBuf, from: String },
}

impl Mailer {
    /// SMTP at `smtp_url` (`smtp://host:port`, `smtps://user:pass@host`, …) or, without
    /// one, files in `dir`.
    pub fn new(smtp_url: Option<&str>, dir: PathBuf, from: String) -> anyhow::Result<Mailer> {
        from.parse::<lettre::message::Mailbox>()
            .with_context(|| format!("{from:?} is not a sender address"))?;
        Ok(match smtp_url {
            Some(url) => Mailer::Smtp {
                transport: AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("invalid --smtp-url")?
                    .timeout(Some(std::time::Duration::from_secs(20)))
                    .build(),
                from,
            },
            None => Mailer::Directory { dir, from },
        })
    }

    /// Sends a plain-text message.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> anyhow::Result<()> {
        let from = match self {
            Mailer::Smtp { from, .. } | Mailer::Directory { from, .. } => from,
        };
        let message = Message::builder()
            .from(from.parse()?)
            .to(to.parse().with_context(|| format!("{to:?} is not an email address"))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body)?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.context("the SMTP server refused the message")?;
            }
            Mailer::Directory { dir, .. } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let name = format!(
                    "{}-{}.eml",
                    chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                    crate::domain::ids::new_id("mail")
                );
                tokio::fs::write(dir.join(name), message.formatted())
                    .await
                    .context("cannot write the message")?;
            }
        }
        Ok(())
    }
}

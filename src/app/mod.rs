//! What users can do, one module per capability, whatever the front end: the
//! owner API and the share-code API (`api`), the pages (`web`), the command line.
//!
//! Functions here take plain inputs and typed ids, check them, act through the
//! store, and answer domain results or a typed [`Error`]; they know nothing of HTTP,
//! JSON shapes or pages. A front end turns its requests into these inputs and these
//! results into its answers.
//!
//! - [`access`]: who is acting (owners by API key or console session, viewers by
//!   share-code session) and what they may reach;
//! - [`tasks`], [`events`] (including live streams) and [`artifacts`];
//! - [`ingest`]: agent runs that come in as OpenTelemetry traces;
//! - [`share_links`]: links as their owner makes and manages them; [`preview`]: what
//!   a link would show and what its content holds, before it is made;
//! - [`opening`]: a viewer opens a link (the hot path), downloads, the archive;
//! - [`audiences`]: links only the people they name may open, who prove their
//!   address by a mailed code;
//! - [`comments`]: viewers' comments on links;
//! - [`activity`]: the activity log of a link (what viewers did with it);
//! - [`share_codes`]: share codes and the viewer sessions they issue;
//! - [`pull_requests`]: pull requests of a task's repository;
//! - [`webhooks`]: owners' endpoints;
//! - [`policy`]: the owner's sharing policy, which new and changed links and new
//!   codes must meet.
//!
//! [`AppState`] is what every action can reach.

pub mod access;
pub mod activity;
pub mod archive;
pub mod artifacts;
pub mod audiences;
pub mod cards;
pub mod comments;
pub mod downloads;
pub mod error;
pub mod events;
pub mod ingest;
pub mod levels;
pub mod live;
pub mod opening;
pub mod policy;
pub mod preview;
pub mod pull_requests;
pub mod readiness;
pub mod share_codes;
pub mod share_links;
pub mod state;
pub mod tasks;
pub mod webhooks;

pub use error::{Error, ErrorKind, Result};
pub use state::AppState;

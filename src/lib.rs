//! agentshare: share what an AI agent did.
//!
//! A tour of the crate, from the outside in:
//! - [`cli`]: the `agentshare` command line (`serve`, `demo`, `keys`, `migrate`).
//! - [`demo`]: sample data for a first look (`agentshare demo`).
//! - [`startup`]: builds the service from [`config::Settings`] and runs it; tests use it too.
//! - [`api`]: HTTP routes, one module per resource, and the OpenAPI document.
//! - [`web`]: web pages: share links' and share codes' viewers, and the owner console.
//! - [`domain`]: the values the service reasons about, checked once at the edge.
//! - [`forge`]: git repositories and pull requests behind a small trait.
//! - [`workers`]: background work beside the server (webhook deliveries).
//! - [`geo`]: viewers' country and city from a MaxMind database.
//! - [`mail`]: outgoing mail (SMTP, or files when no server is configured).
//! - [`storage`]: the database layer, one query set over SQLite and PostgreSQL.

pub mod api;
pub mod cli;
pub mod config;
pub mod demo;
pub mod domain;
pub mod forge;
pub mod geo;
pub mod mail;
pub mod startup;
pub mod state;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod workers;

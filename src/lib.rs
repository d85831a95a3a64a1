//! agentshare: share what an AI agent did.
//!
//! A tour of the crate, from the outside in (`docs/ARCHITECTURE.md` has the map):
//! - [`cli`]: the `agentshare` command line (`serve`, `demo`, `keys`, `migrate`, and the
//!   client's `login`, `run`, `share`, `tasks`, `links`, `import`).
//! - [`client`]: the command-line client, a front end that speaks HTTP to a server.
//! - [`demo`]: sample data for a first look (`agentshare demo`).
//! - [`startup`]: builds the service from [`config::Settings`] and runs it; tests use it too.
//! - [`routes`]: every route, the API's and the pages', and the URLs they share.
//! - [`api`]: the JSON API over [`app`], one module per resource, and its OpenAPI document.
//! - [`web`]: web pages over [`app`]: share links' and share codes' viewers, the owner console.
//! - [`http`]: what the two HTTP front ends share.
//! - [`app`]: what users can do, one module per capability, with typed errors.
//! - [`workers`]: background work beside the server (webhook deliveries, view mail).
//! - [`domain`]: the values the service reasons about, checked once at the edge.
//! - [`storage`]: the database layer, one query set over SQLite and PostgreSQL.
//! - [`forge`]: git repositories and pull requests behind a small trait.
//! - [`limits`], [`geo`], [`mail`], [`telemetry`]: in-memory limits, viewers'
//!   locations, outgoing mail, logs.

pub mod api;
pub mod app;
pub mod cli;
pub mod client;
pub mod config;
pub mod demo;
pub mod domain;
pub mod forge;
pub mod geo;
pub mod http;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod routes;
pub mod startup;
pub mod storage;
pub mod telemetry;
pub mod web;
pub mod workers;

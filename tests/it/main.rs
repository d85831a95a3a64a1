//! Behaviour tests: each talks HTTP to a real server with a fresh database, on
//! SQLite and (when enabled) PostgreSQL.

mod common;

mod activity;
mod artifacts;
mod audiences;
mod auth;
mod cli;
mod client;
mod comments;
mod contract;
mod crash;
mod errors;
mod events;
mod instances;
mod layers;
mod limits;
mod live;
mod logs;
mod mail;
mod markdown;
mod metrics;
mod openapi;
mod operations;
mod otlp;
mod policy;
mod previews;
mod properties;
mod pull_requests;
mod redaction;
mod share_codes;
mod share_links;
mod suite;
mod tasks;
mod view_batches;
mod view_limits;
mod viewer;
mod web;
mod webhooks;

//! Domain types: the values agentshare reasons about, each parsed once at the edge
//! (an HTTP body, a CLI flag) and valid from then on.

pub mod activity;
pub mod api_key;
pub mod audience;
pub mod ids;
pub mod page;
pub mod policy;
pub mod redaction;
pub mod secrets;
pub mod share;
pub mod task;
pub mod task_share;
pub mod text;
pub mod time;
pub mod viewer;
pub mod webhook;

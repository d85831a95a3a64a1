//! Background workers that run beside the HTTP server in every instance.

pub mod mail;
pub mod retention;
pub mod webhooks;

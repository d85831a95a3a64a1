//! The command-line client: `agentshare login`, `run`, `share`, `tasks list`,
//! `links list|revoke` and `import`, so that agents reach a server without code.
//!
//! A front end that speaks only HTTP to a server, like any other client of the API
//! (`docs/openapi.json`): it may use `domain` values, and nothing of the server's
//! own layers (`app`, `storage`, `api`, `web`).

pub mod config;
pub mod connection;
pub mod import;
mod lines;
mod progress;
pub mod run;
pub mod share;
mod text;
mod uploader;

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use reqwest::Method;

pub use config::Target;

use connection::{normalize_server, Connection, Error, DEFAULT_SERVER};

/// `agentshare login`: checks a key against the server and stores both for later
/// commands. The key comes from `--api-key` (or `AGENTSHARE_API_KEY`), else from
/// a prompt on a terminal, else from the first line of standard input.
pub async fn login(target: &Target) -> anyhow::Result<()> {
    let saved = config::load().ok().flatten();
    let server = match target.server.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(server) => normalize_server(server)?,
        None => match &saved {
            Some(saved) => normalize_server(&saved.server)?,
            None => DEFAULT_SERVER.to_owned(),
        },
    };
    let key = match target.api_key.as_deref().map(str::trim).filter(|k| !k.is_empty()) {
        Some(key) => key.to_owned(),
        None => read_key(&server)?,
    };
    let connection = Connection::new(&server, &key)?;
    match connection.data(Method::GET, "/v1/tasks?limit=1", None).await {
        Ok(_) => {}
        Err(Error::KeyRefused { .. }) => anyhow::bail!(
            "the server at {server} refused this API key (401 Unauthorized): nothing was saved. \
             An owner's key comes from `agentshare keys create --owner NAME` on the server"
        ),
        Err(err) => return Err(err.into()),
    }
    let path = config::save(&config::Saved { server: server.clone(), api_key: key })?;
    println!("Logged in to {server}: the key works.");
    println!("Saved to {} (readable by you alone); later commands use it.", path.display());
    Ok(())
}

/// The API key, asked for on the terminal (not shown while typed) or read from
/// standard input.
fn read_key(server: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let mut line = String::new();
    if stdin.is_terminal() {
        eprint!("API key for {server}: ");
        std::io::stderr().flush()?;
        let saved = rustix::termios::tcgetattr(&stdin).ok();
        if let Some(mut quiet) = saved.clone() {
            quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet);
        }
        let read = stdin.lock().read_line(&mut line);
        if let Some(saved) = saved {
            let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        }
        eprintln!();
        read.context("cannot read the API key")?;
    } else {
        stdin.lock().read_line(&mut line).context("cannot read the API key from standard input")?;
    }
    let key = line.trim().to_owned();
    anyhow::ensure!(
        !key.is_empty(),
        "no API key given: pass --api-key KEY, or type it when asked (create one with `agentshare keys create`)"
    );
    Ok(key)
}

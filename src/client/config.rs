//! Which server and API key a command uses: `--server` / `AGENTSHARE_SERVER` and
//! `--api-key` / `AGENTSHARE_API_KEY`, or what `agentshare login` stored in
//! `<config dir>/agentshare/config.json` (readable by its owner alone).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

use super::connection::{normalize_server, Connection, DEFAULT_SERVER};

/// The server and key a command was given, if any (flags or environment).
#[derive(Debug, Clone, Default)]
pub struct Target {
    pub server: Option<String>,
    pub api_key: Option<String>,
}

/// What `agentshare login` stores.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Saved {
    pub server: String,
    pub api_key: String,
}

/// `<config dir>/agentshare/config.json`: `$XDG_CONFIG_HOME` or `~/.config` on
/// Linux, `~/Library/Application Support` on macOS.
pub fn path() -> anyhow::Result<PathBuf> {
    let dir = dirs::config_dir().context(
        "no configuration directory: set HOME (or XDG_CONFIG_HOME), or pass --server and --api-key",
    )?;
    Ok(dir.join("agentshare").join("config.json"))
}

/// What `login` stored, if anything.
pub fn load() -> anyhow::Result<Option<Saved>> {
    let path = path()?;
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(err).with_context(|| format!("cannot read {}", path.display())),
    };
    let saved = serde_json::from_str(&text).with_context(|| {
        format!("{} is not a configuration written by `agentshare login`: run it again", path.display())
    })?;
    Ok(Some(saved))
}

/// Stores `saved` for later commands, in a file only its owner can read; answers
/// where.
pub fn save(saved: &Saved) -> anyhow::Result<PathBuf> {
    let path = path()?;
    write_private(&path, &serde_json::to_vec_pretty(saved)?)?;
    Ok(path)
}

/// Writes `bytes` to `path` through a file created with mode 0600 (its directory
/// 0700 when new), renamed into place: the key is never readable by others, not
/// even for a moment, and a crash leaves the old file or the new one.
fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
    let dir = path.parent().context("the configuration file has no directory")?;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let temporary = dir.join(format!(".config.json.{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let written = (|| {
        let mut file =
            std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written.with_context(|| format!("cannot write {}", path.display()))
}

/// The connection a command uses: the server from the flag, the environment, the
/// stored login or the default (`http://127.0.0.1:8080`), in that order; the key
/// from the flag, the environment, or the stored login — the stored key only for
/// the server it was stored for, so that it is never sent anywhere else.
pub fn connect(target: &Target) -> anyhow::Result<Connection> {
    let given = |v: &Option<String>| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned);
    // The stored login is read only when something is missing.
    let saved =
        if given(&target.server).is_some() && given(&target.api_key).is_some() { None } else { load()? };
    let server = match given(&target.server) {
        Some(server) => normalize_server(&server)?,
        None => match &saved {
            Some(saved) => normalize_server(&saved.server)?,
            None => DEFAULT_SERVER.to_owned(),
        },
    };
    let key = match given(&target.api_key) {
        Some(key) => key,
        None => match &saved {
            Some(saved) if normalize_server(&saved.server).ok().as_deref() == Some(server.as_str()) => {
                saved.api_key.clone()
            }
            Some(saved) => anyhow::bail!(
                "no API key for {server} (the stored login is for {}): pass --api-key or set \
                 AGENTSHARE_API_KEY, or run `agentshare login --server {server}`",
                saved.server
            ),
            None => anyhow::bail!(
                "no API key: pass --api-key or set AGENTSHARE_API_KEY, or run `agentshare login` \
                 (an owner's key comes from `agentshare keys create` on the server)"
            ),
        },
    };
    Connection::new(&server, &key)
}

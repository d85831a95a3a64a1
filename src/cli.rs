//! The `agentshare` command line: the server's commands (`serve`, `demo`, `keys`,
//! `repositories`, `migrate`) and the client's (`login`, `run`, `share`, `tasks`,
//! `links`, `import`), which go to [`crate::client`].

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::client;
use crate::config::{self, Settings};
use crate::domain::api_key::NewApiKey;
use crate::domain::text::bounded;
use crate::startup::{shutdown_signal, Application};
use crate::storage::{self, backup, Db, DbOptions};

/// Share what an AI agent did: expiring, password-protected, view-limited links and
/// scoped share codes.
#[derive(Debug, Parser)]
#[command(name = "agentshare", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service.
    Serve(Box<ServeArgs>),
    /// Add a sample owner, tasks and shares to the database, then run the service
    /// and print what to open: a first look at agentshare.
    Demo(Box<ServeArgs>),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Grant owners the git repositories (under --repositories-dir) their tasks may
    /// link to, revoke and list grants.
    #[command(subcommand)]
    Repositories(RepositoriesCommand),
    /// Bring the database schema up to date and exit (`serve` also does this).
    Migrate(DatabaseArgs),
    /// Copy the SQLite database to a new file, consistently, while the service runs
    /// (for PostgreSQL, use pg_dump: see docs/operations.md).
    Backup {
        /// The file to write; it must not exist yet.
        #[arg(long)]
        to: std::path::PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Put a backup made by `backup` in place of the SQLite database (stop the
    /// service first).
    Restore {
        /// The backup file.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Replace the database if one exists already.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Check an API key against a server and store both for the commands below
    /// (in the user's configuration directory, readable by the user alone).
    Login(ServerArgs),
    /// Run a command as a task: its output streamed as logs, its last lines of
    /// output as the result, its exit status as the outcome. Exits with the
    /// command's status (125 when the task could not be started).
    Run(RunArgs),
    /// Share a finished task by link and print the link.
    Share(ShareArgs),
    /// List tasks on the server.
    #[command(subcommand)]
    Tasks(TasksCommand),
    /// List and revoke share links.
    #[command(subcommand)]
    Links(LinksCommand),
    /// Bring in what agents recorded: Claude Code sessions, OpenTelemetry traces.
    #[command(subcommand)]
    Import(ImportCommand),
}

/// Which server a client command talks to, and as whom.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// The agentshare server (default: the one stored by `agentshare login`, else
    /// http://127.0.0.1:8080).
    #[arg(long, env = "AGENTSHARE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// An owner's API key (default: the one stored by `agentshare login` for this
    /// server).
    #[arg(long, env = "AGENTSHARE_API_KEY", hide_env_values = true, value_name = "KEY")]
    pub api_key: Option<String>,
}

impl ServerArgs {
    fn target(self) -> client::Target {
        client::Target { server: self.server, api_key: self.api_key }
    }
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The task's title (default: the command line).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Print a share code before the command starts, so someone can follow it live.
    #[arg(long)]
    pub code: bool,
    /// Print a share link once the command has ended.
    #[arg(long)]
    pub share: bool,
    /// A file to upload once the command has ended (repeat for several). A missing
    /// file is reported and skipped.
    #[arg(long = "artifact", value_name = "PATH")]
    pub artifacts: Vec<PathBuf>,
    #[command(flatten)]
    pub server: ServerArgs,
    /// The command to run and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    pub command: Vec<OsString>,
}

#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The task to share (`task_…`); it must have finished.
    pub task_id: String,
    /// How long the link works: `30m`, `12h`, `7d`, `2w` (default: 30 days).
    #[arg(long, value_name = "DURATION", value_parser = client::share::parse_duration)]
    pub expires_in: Option<std::time::Duration>,
    /// Protect the link with a password (8–32 characters) read from standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Views before the link stops working (1 for a one-time link).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_views: Option<u64>,
    /// Viewers can't download the task's files.
    #[arg(long)]
    pub no_download: bool,
    /// The link's title (default: the task's).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// Print the link as the API answers it, in JSON.
    #[arg(long)]
    pub json: bool,
    /// Also print the link as a QR code, to open it on a phone.
    #[arg(long, conflicts_with = "json")]
    pub qr: bool,
    #[command(flatten)]
    pub server: ServerArgs,
}

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// List tasks, newest first.
    List {
        /// Only tasks that came in this way.
        #[arg(long, value_parser = ["api", "otlp", "import", "cli"])]
        source: Option<String>,
        /// Only tasks in this status.
        #[arg(long, value_parser = ["pending", "running", "completed", "failed", "cancelled"])]
        status: Option<String>,
        /// Most tasks to list.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Print the API's data as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum LinksCommand {
    /// List share links, newest first.
    List {
        /// Only links of this task.
        #[arg(long = "task", value_name = "TASK_ID")]
        task_id: Option<String>,
        /// Only links in this status.
        #[arg(long, value_parser = ["active", "expired", "revoked"])]
        status: Option<String>,
        /// Most links to list.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// Print the API's data as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Revoke a share link at once (`share_…`, from `links list`).
    Revoke {
        share_link_id: String,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import a Claude Code session transcript (a `.jsonl` file under
    /// ~/.claude/projects/) as a task; importing the session again adds only what
    /// is new to the same task.
    ClaudeCode {
        /// The session's `.jsonl` file.
        file: PathBuf,
        /// Print a share link of the task.
        #[arg(long)]
        share: bool,
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Send an OTLP JSON file, as the OpenTelemetry Collector's file exporter writes
    /// it, to the server's trace endpoint.
    Otlp {
        /// The file: one `{"resourceSpans": [...]}` a line.
        file: PathBuf,
        #[command(flatten)]
        server: ServerArgs,
    },
}

#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// `sqlite://PATH` (embedded, the default) or `postgres://USER@HOST/DB`.
    #[arg(long, env = "AGENTSHARE_DATABASE_URL", default_value = config::DEFAULT_DATABASE_URL)]
    pub database_url: String,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "AGENTSHARE_LISTEN", default_value = config::DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Base of every URL the service hands out (default: http://LISTEN).
    #[arg(long, env = "AGENTSHARE_PUBLIC_URL", value_parser = config::parse_public_url)]
    pub public_url: Option<String>,
    /// Most database connections this instance opens.
    #[arg(long, env = "AGENTSHARE_DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,
    /// Largest JSON request body, in bytes.
    #[arg(long, env = "AGENTSHARE_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Largest OpenTelemetry export (`POST /otlp/v1/traces`), in bytes, sent and
    /// once decompressed.
    #[arg(long, env = "AGENTSHARE_MAX_OTLP_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_otlp_bytes: usize,
    /// Largest artifact upload, in bytes.
    #[arg(long, env = "AGENTSHARE_MAX_ARTIFACT_BYTES", default_value_t = 25 * 1024 * 1024)]
    pub max_artifact_bytes: usize,
    /// Base of short URLs, e.g. `https://agx.example/s` (default: PUBLIC_URL/s).
    #[arg(long, env = "AGENTSHARE_SHORT_URL_BASE", value_parser = config::parse_public_url)]
    pub short_url_base: Option<String>,
    /// A proxy (CIDR) whose X-Forwarded-For is believed; repeat for several.
    #[arg(long = "trusted-proxy", env = "AGENTSHARE_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Key that share-link URLs are derived from: 64 hex digits (e.g. `openssl rand -hex 32`).
    /// Default: generated on first start and kept in the database.
    #[arg(long, env = "AGENTSHARE_LINK_KEY", hide_env_values = true)]
    pub link_key: Option<String>,
    /// Directory holding the git repositories tasks may link to (enables pull requests).
    #[arg(long, env = "AGENTSHARE_REPOSITORIES_DIR")]
    pub repositories_dir: Option<std::path::PathBuf>,
    /// An internal address range (CIDR) webhooks may reach; repeat for several.
    #[arg(long = "webhook-allow-cidr", env = "AGENTSHARE_WEBHOOK_ALLOW_CIDRS", value_delimiter = ',')]
    pub webhook_allow_cidrs: Vec<ipnet::IpNet>,
    /// First retry delay of a failed webhook delivery, in milliseconds (later ones double).
    #[arg(long, env = "AGENTSHARE_WEBHOOK_RETRY_BASE_MS", default_value_t = 5000)]
    pub webhook_retry_base_ms: u64,
    /// MaxMind-format City database (GeoLite2-City or compatible) for viewers' country and city.
    #[arg(long, env = "AGENTSHARE_GEOIP_DB")]
    pub geoip_db: Option<std::path::PathBuf>,
    /// SMTP server for mail, e.g. `smtp://mail.example.com:587?tls=required` or
    /// `smtps://user:password@mail.example.com`. Without one, mail is written to --mail-dir.
    #[arg(long, env = "AGENTSHARE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    /// Sender of outgoing mail.
    #[arg(long, env = "AGENTSHARE_MAIL_FROM", default_value = "agentshare <agentshare@localhost>")]
    pub mail_from: String,
    /// Where mail is written when no SMTP server is configured (files older than 7
    /// days are removed).
    #[arg(long, env = "AGENTSHARE_MAIL_DIR", default_value = "agentshare-data/mail")]
    pub mail_dir: std::path::PathBuf,
    /// Days each view's own row (time, place, browser) is kept for the activity log;
    /// analytics totals stay whole. Default: kept for good.
    #[arg(long, env = "AGENTSHARE_VIEW_RETENTION_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub view_retention_days: Option<u32>,
    /// Address of a second listener that serves Prometheus metrics at `/metrics`
    /// (e.g. `127.0.0.1:9464`). Default: no metrics; keep it off the public network.
    #[arg(long, env = "AGENTSHARE_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Event streams (`/events/stream`) one client address may hold open at once.
    #[arg(long, env = "AGENTSHARE_MAX_STREAMS_PER_CLIENT", default_value_t = 8,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_streams_per_client: u32,
    /// Connections one client address (an IPv6 /64) may hold open at once, and at
    /// most half of --max-connections; trusted proxies are bounded only by
    /// --max-connections.
    #[arg(long, env = "AGENTSHARE_MAX_CONNECTIONS_PER_CLIENT", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_client: u32,
    /// Connections held open at once, in all (default: what the process's limit of
    /// open files allows, less what the database and files need; `serve` raises its
    /// soft limit to the hard one first).
    #[arg(long, env = "AGENTSHARE_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Longest a request may take, body upload included, in seconds; slower ones get 408.
    #[arg(long, env = "AGENTSHARE_REQUEST_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub request_timeout_secs: u64,
    /// The slowest a download may go on average, in bytes per second, after the
    /// request timeout; slower ones have their connection closed.
    #[arg(long, env = "AGENTSHARE_MIN_DOWNLOAD_BYTES_PER_SEC", default_value_t = crate::limits::MIN_BYTES_PER_SEC,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub min_download_bytes_per_sec: u64,
    /// Log format: `pretty` for people, `json` for log collectors.
    #[arg(long, env = "AGENTSHARE_LOG_FORMAT", default_value = "pretty", value_parser = ["pretty", "json"])]
    pub log_format: String,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key for an owner (created if new). The key is printed once, alone
    /// on the last line.
    Create {
        /// The owner's name, e.g. `alice`.
        #[arg(long)]
        owner: String,
        /// The owner's email address, for notifications.
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List keys (never the keys themselves: their id and first characters).
    List {
        /// Only this owner's keys.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a key at once, by its id (`key_…`, from `keys list`).
    Revoke {
        key_id: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum RepositoriesCommand {
    /// Let an owner link tasks to a repository (and open, diff and merge pull
    /// requests in it).
    Grant(RepositoryArgs),
    /// Take a repository from an owner: their tasks keep the link, but pull
    /// requests in it are refused from now on.
    Revoke(RepositoryArgs),
    /// List grants.
    List {
        /// Only this owner's grants.
        #[arg(long)]
        owner: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Args)]
pub struct RepositoryArgs {
    /// The owner's name, e.g. `alice`.
    #[arg(long)]
    pub owner: String,
    /// The repository, by its name under the repositories directory (e.g.
    /// `acme/web.git`).
    pub repository: String,
    /// Directory holding the git repositories (as given to `serve`).
    #[arg(long, env = "AGENTSHARE_REPOSITORIES_DIR")]
    pub repositories_dir: std::path::PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Runs a parsed command line; answers the status to exit with.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve(args) => serve(*args, false).await?,
        Command::Demo(args) => serve(*args, true).await?,
        Command::Keys(command) => keys(command).await?,
        Command::Repositories(command) => repositories(command).await?,
        Command::Migrate(args) => {
            let db = open(&args).await?;
            db.close().await;
            println!("database is up to date");
        }
        Command::Backup { to, database } => {
            let path = sqlite_file(&database)?;
            let copied =
                tokio::task::spawn_blocking(move || backup::backup(&path, &to).map(|c| (c, to))).await??;
            println!(
                "backed up {} pages ({} bytes) to {}",
                copied.0.pages,
                copied.0.bytes,
                copied.1.display()
            );
        }
        Command::Restore { from, force, database } => {
            let path = sqlite_file(&database)?;
            let copied =
                tokio::task::spawn_blocking(move || backup::restore(&from, &path, force).map(|c| (c, path)))
                    .await??;
            println!(
                "restored {} pages ({} bytes) into {}",
                copied.0.pages,
                copied.0.bytes,
                copied.1.display()
            );
        }
        Command::Login(args) => client::login(&args.target()).await?,
        Command::Run(args) => {
            let options = client::run::RunOptions {
                title: args.title,
                code: args.code,
                share: args.share,
                artifacts: args.artifacts,
                command: args.command,
            };
            return Ok(client::run::run(&args.server.target(), options).await);
        }
        Command::Share(args) => {
            let options = client::share::ShareOptions {
                task_id: args.task_id,
                expires_in: args.expires_in,
                password_stdin: args.password_stdin,
                max_views: args.max_views,
                no_download: args.no_download,
                title: args.title,
                json: args.json,
                qr: args.qr,
            };
            client::share::share(&args.server.target(), options).await?
        }
        Command::Tasks(TasksCommand::List { source, status, limit, json, server }) => {
            let filter = client::share::TaskFilter { source, status, limit, json };
            client::share::list_tasks(&server.target(), filter).await?
        }
        Command::Links(LinksCommand::List { task_id, status, limit, json, server }) => {
            let filter = client::share::LinkFilter { task_id, status, limit, json };
            client::share::list_links(&server.target(), filter).await?
        }
        Command::Links(LinksCommand::Revoke { share_link_id, server }) => {
            client::share::revoke_link(&server.target(), &share_link_id).await?
        }
        Command::Import(ImportCommand::ClaudeCode { file, share, server }) => {
            client::import::claude_code(&server.target(), &file, share).await?
        }
        Command::Import(ImportCommand::Otlp { file, server }) => {
            client::import::otlp(&server.target(), &file).await?
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The SQLite file `backup` and `restore` work on.
fn sqlite_file(args: &DatabaseArgs) -> anyhow::Result<std::path::PathBuf> {
    storage::sqlite_file(&args.database_url).ok_or_else(|| {
        anyhow::anyhow!(
            "backup and restore copy SQLite databases; for PostgreSQL use pg_dump and pg_restore (docs/operations.md)"
        )
    })
}

async fn open(args: &DatabaseArgs) -> anyhow::Result<Db> {
    let db = Db::connect(&DbOptions { url: args.database_url.clone(), max_connections: 2 }).await?;
    db.migrate().await.context("database migration failed")?;
    Ok(db)
}

async fn serve(args: ServeArgs, demo: bool) -> anyhow::Result<()> {
    let _log = crate::telemetry::init(&args.log_format);
    // Connections are bounded by the descriptors the process may open: take all
    // the system allows.
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(files) => tracing::debug!(files, "open-file limit"),
        Err(err) => tracing::warn!(error = %err, "could not raise the open-file limit"),
    }
    let mut settings = Settings::new(args.listen, args.database.database_url);
    settings.database.max_connections = args.db_max_connections;
    settings.public_url = args.public_url;
    settings.max_body_bytes = args.max_body_bytes;
    settings.max_artifact_bytes = args.max_artifact_bytes;
    settings.max_otlp_bytes = args.max_otlp_bytes;
    settings.short_url_base = args.short_url_base;
    settings.trusted_proxies = args.trusted_proxies;
    settings.link_key = args.link_key;
    settings.repositories_dir = args.repositories_dir;
    settings.geoip_db = args.geoip_db;
    settings.smtp_url = args.smtp_url;
    settings.mail_from = args.mail_from;
    settings.mail_dir = args.mail_dir;
    settings.webhook_allow_cidrs = args.webhook_allow_cidrs;
    settings.webhook_retry_base = std::time::Duration::from_millis(args.webhook_retry_base_ms.max(1));
    settings.max_streams_per_client = args.max_streams_per_client as usize;
    settings.max_connections_per_client = args.max_connections_per_client as usize;
    settings.max_connections = args.max_connections.map(|n| n as usize);
    settings.request_timeout = std::time::Duration::from_secs(args.request_timeout_secs);
    settings.min_download_bytes_per_sec = args.min_download_bytes_per_sec;
    settings.view_retention_days = args.view_retention_days;
    settings.metrics_listen = args.metrics_listen;
    let database = redact_url(&settings.database.url);
    let app = Application::build(settings).await?;
    let base = app.public_url().to_owned();
    tracing::info!(address = %app.local_addr(), database = %database, "agentshare is listening");
    if let Some(metrics) = app.metrics_addr() {
        tracing::info!(address = %metrics, "metrics are served at /metrics");
    }
    if demo {
        let demo = crate::demo::seed(app.state()).await.context("could not add the demo")?;
        println!(
            "\nagentshare demo is serving on http://{addr}, database {database}\n\n\
             Open these:\n  \
               A shared task (what a viewer sees):   {link}\n  \
               The same, with a password and 3 views: {protected}   (password: {password})\n  \
               A running task, shared by code:       {code}\n  \
               The owner console:                    {console}\n\n\
             Sign in to the console with this API key (also good for the API):\n{key}\n\n\
             Press Ctrl-C to stop.\n",
            addr = app.local_addr(),
            link = demo.link_url,
            protected = demo.protected_url,
            password = crate::demo::DEMO_PASSWORD,
            code = demo.code_url,
            console = demo.console_url,
            key = demo.api_key,
        );
        return app.run_until(shutdown_signal()).await;
    }
    println!(
        "\nagentshare is serving on http://{addr} (public URL {base}), database {database}\n\n\
         Next steps:\n  \
           1. Create an API key:   {me} keys create --owner you --email you@example.com{db_flag}\n  \
           2. Create a task:       curl -X POST {base}/v1/tasks -H 'Authorization: Bearer <key>' \\\n                                -H 'Content-Type: application/json' -d '{{\"title\": \"My first task\"}}'\n  \
           3. API reference:       {base}/openapi.json\n  \
           Health check:           {base}/healthz\n\nPress Ctrl-C to stop.\n",
        addr = app.local_addr(),
        me = invoked_as(),
        db_flag = if database == config::DEFAULT_DATABASE_URL { String::new() } else { format!(" --database-url '{database}'") },
    );
    app.run_until(shutdown_signal()).await
}

/// How to run this binary again, as it was started: through `cargo run` (which
/// says so in the environment it gives the program), by its name on the `PATH`, or
/// by its path.
fn invoked_as() -> String {
    if std::env::var_os("CARGO_PKG_NAME").is_some() && std::env::var_os("CARGO").is_some() {
        let release =
            std::env::current_exe().is_ok_and(|exe| exe.components().any(|c| c.as_os_str() == "release"));
        return format!("cargo run{} --", if release { " --release" } else { "" });
    }
    let first = std::env::args().next().unwrap_or_else(|| "agentshare".into());
    if first.contains('/') {
        first
    } else {
        "agentshare".into()
    }
}

/// A database URL fit for printing: any password replaced by `***`.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

async fn keys(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Create { owner, email, database } => {
            let name = bounded("owner", &owner, 1, 100, false).map_err(|e| anyhow::anyhow!(e.issue))?;
            let email = email
                .map(|e| crate::domain::text::parse_email(&e).map_err(|e| anyhow::anyhow!(e)))
                .transpose()?;
            let db = open(&database).await?;
            let owner = db.upsert_owner(&name, email.as_deref()).await?;
            let key = NewApiKey::generate();
            db.insert_api_key(&owner.owner_id, &key).await?;
            db.close().await;
            println!("Created API key {} for owner {} ({}).", key.key_id, owner.name, owner.owner_id);
            println!("Store it now: it is shown only this once. Send it as `Authorization: Bearer <key>`.");
            println!("{}", key.secret);
            Ok(())
        }
        KeysCommand::List { owner, database } => {
            let db = open(&database).await?;
            let keys = db.list_api_keys(owner.as_deref()).await?;
            db.close().await;
            if keys.is_empty() {
                println!("no API keys");
                return Ok(());
            }
            println!("{:<22} {:<20} {:<12} {:<22} STATUS", "KEY ID", "OWNER", "STARTS WITH", "CREATED");
            for key in keys {
                let status = match key.revoked_at {
                    Some(at) => format!("revoked {}", at.to_rfc3339()),
                    None => "active".to_owned(),
                };
                println!(
                    "{:<22} {:<20} {:<12} {:<22} {status}",
                    key.key_id,
                    key.owner_name,
                    format!("{}…", key.key_prefix),
                    key.created_at.to_rfc3339()
                );
            }
            Ok(())
        }
        KeysCommand::Revoke { key_id, database } => {
            let db = open(&database).await?;
            let revoked = db.revoke_api_key(&key_id.as_str().into()).await?;
            db.close().await;
            if revoked {
                println!("revoked {key_id}");
                Ok(())
            } else {
                anyhow::bail!("no active key with id {key_id}")
            }
        }
    }
}

async fn repositories(command: RepositoriesCommand) -> anyhow::Result<()> {
    use crate::forge::Repositories;
    let (args, grant) = match command {
        RepositoriesCommand::Grant(args) => (args, true),
        RepositoriesCommand::Revoke(args) => (args, false),
        RepositoriesCommand::List { owner, database } => {
            let db = open(&database).await?;
            let grants = db.list_repository_grants(owner.as_deref()).await?;
            db.close().await;
            if grants.is_empty() {
                println!("no repository grants");
                return Ok(());
            }
            println!("{:<20} {:<40} GRANTED", "OWNER", "REPOSITORY");
            for grant in grants {
                println!(
                    "{:<20} {:<40} {}",
                    grant.owner_name,
                    grant.repository,
                    grant.granted_at.to_rfc3339()
                );
            }
            return Ok(());
        }
    };
    let repositories = Repositories::new(&args.repositories_dir);
    let key = match repositories.open(&args.repository) {
        Ok(repo) => repo.key().to_owned(),
        // A repository gone from disk can still have its grants revoked.
        Err(_) if !grant => args.repository.clone(),
        Err(err) => return Err(err).context("the repository can't be granted"),
    };
    let db = open(&args.database).await?;
    let outcome = async {
        let owner = db.owner_named(&args.owner).await?.with_context(|| {
            format!("no owner named {} (create one with `agentshare keys create`)", args.owner)
        })?;
        if grant {
            let new = db.grant_repository(&owner.owner_id, &key).await?;
            println!("{} {} may use {key}", if new { "granted:" } else { "already granted:" }, owner.name);
            Ok(())
        } else if db.revoke_repository(&owner.owner_id, &key).await? {
            println!("revoked: {} may no longer use {key}", owner.name);
            Ok(())
        } else {
            anyhow::bail!("{} has no grant of {key}", owner.name)
        }
    }
    .await;
    db.close().await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_passwords_are_not_printed() {
        assert_eq!(redact_url("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://./a.db"), "sqlite://./a.db");
    }
}

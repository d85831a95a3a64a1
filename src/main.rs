use clap::Parser;

/// Requests allocate and free many small strings across worker threads; mimalloc's
/// thread-local free lists serve them several times faster than the system's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = agentshare::cli::Cli::parse();
    match agentshare::cli::run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

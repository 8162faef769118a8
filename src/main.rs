use clap::Parser;

fn main() -> color_eyre::Result<()> {
    flightdeck::pipeline::limit_allocator_arenas();
    // Before any terminal mode change, so a panic report comes after restore.
    color_eyre::install()?;
    let cli = flightdeck::cli::Cli::parse();
    let (_log_guard, _log_file) = flightdeck::logging::init(&flightdeck::paths::state_dir())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let code = runtime.block_on(flightdeck::cli::dispatch(cli));
    // Flush the log before leaving: process::exit skips destructors.
    drop(_log_guard);
    std::process::exit(code);
}

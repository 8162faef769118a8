use clap::Parser;

/// mimalloc: the pipeline allocates a value per cell on one thread and frees
/// it on another, where glibc's malloc spent about a fifth of the process's
/// CPU (measured on the 1M-row SQLite sample: 40.7 s user with glibc, 30.3 s
/// with mimalloc; 37.5 s and 29.2 s wall).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Makes mimalloc commit arena memory only when used and hand freed pages
/// back after 10 ms. Measured on the 1M-row SQLite sample (one run each, the
/// VM's spread is wide): 162–171 MB peak with mimalloc's defaults, 83–101 MB
/// with these two options, 70–74 MB once SQLite's heap also keeps to one
/// arena (below). Pages handed back at once (delay 0) were faulted in again
/// by the next batch: on the 1M MariaDB → PostgreSQL sample the process spent
/// 6.8–7.6 s in the kernel against 4.4–4.6 s with 10 ms, for a peak of 82–86
/// MB against 90–91 MB. Option numbers are `mi_option_e` in mimalloc.h (the
/// same in its v2 and v3). They must be set before the first allocation
/// creates an arena (set in `main`, the run peaked at 145 MB), so this runs
/// as an ELF initializer, before Rust's runtime starts.
extern "C" fn tune_allocator() {
    use libmimalloc_sys::{mi_option_set, mi_option_t};
    const ARENA_EAGER_COMMIT: mi_option_t = 4;
    const PURGE_DELAY: mi_option_t = 15;
    // SAFETY: setting an option allocates nothing and may happen at any
    // time; it only takes effect for memory committed or purged afterwards.
    unsafe {
        mi_option_set(ARENA_EAGER_COMMIT, 0);
        mi_option_set(PURGE_DELAY, 10);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static TUNE_ALLOCATOR: extern "C" fn() = tune_allocator;

/// SQLite (C) still allocates from glibc's malloc, which gives each thread
/// that calls it an arena of its own (up to eight per core), each keeping its
/// freed pages: with one arena the 1M-row SQLite sample peaked at 70–74 MB,
/// with glibc's default 94–102 MB. Its few threads barely contend for it.
fn limit_c_heap_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's tuning parameter; called
    // before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

fn main() -> color_eyre::Result<()> {
    #[cfg(not(target_os = "linux"))]
    tune_allocator();
    limit_c_heap_arenas();
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

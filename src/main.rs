//! The `tunstack` binary: logging set-up, then [`tunstack::cli::run`].

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_micros()
        .init();
    std::process::exit(tunstack::cli::run(std::env::args_os()));
}

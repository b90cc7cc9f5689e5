//! The `tunstack` binary: logging set-up, then [`cli::run`].
//!
//! The command line (`get`, `serve`, `ladder`) lives in the binary, not in
//! the library: a library user links none of its crates (clap, indicatif,
//! scraper, env_logger sit behind the default `cli` feature).

mod cli;

// The library's layers under the crate-root names the CLI modules use
// (`crate::net::Stack`, `crate::http::Client`, …), so the CLI reads like
// the layer above them that it is.
use tunstack::{connector, device, dns, http, net, tcp, wire};

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .format_timestamp_micros()
        .init();
    std::process::exit(cli::run(std::env::args_os()));
}

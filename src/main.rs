//! `switchyard`: parse the command line, set up logging, run the command, map the outcome to an
//! exit status (0 clean stop, 2 config error).
#![forbid(unsafe_code)]

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    .format_timestamp_millis()
    .init();
    switchyard::cli::run(switchyard::cli::Cli::parse())
}

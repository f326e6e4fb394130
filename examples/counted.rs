//! switchyard, or the floor, with a global allocator that counts (`stats_alloc`), for the
//! benchmark's `--allocs` section. The gateway's own crate stays free of `unsafe`; the counting
//! lives in this example only.
//!
//! `counted serve --config FILE` runs the gateway as `switchyard serve` would; `counted floor URL`
//! runs the floor. Before either, it prints `alloc stats on 127.0.0.1:PORT`: each connection to
//! that port receives one line, `allocations A reallocations R bytes B`, counted since start.

use clap::Parser;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};
use std::alloc::System;
use std::io::Write;
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

#[path = "floor.rs"]
mod floor;

/// Answers each connection with the counters so far, from a thread of its own.
fn serve_stats() -> std::io::Result<()> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    println!("alloc stats on {}", listener.local_addr()?);
    std::thread::Builder::new()
        .name("alloc-stats".into())
        .spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let s = GLOBAL.stats();
                let _ = writeln!(
                    conn,
                    "allocations {} reallocations {} bytes {}",
                    s.allocations, s.reallocations, s.bytes_allocated
                );
            }
        })?;
    Ok(())
}

fn main() -> ExitCode {
    if let Err(e) = serve_stats() {
        eprintln!("counted: {e}");
        return ExitCode::FAILURE;
    }
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("floor") {
        let upstream = args.get(2).cloned().unwrap_or_default();
        return match floor::serve(upstream, 0, false) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("counted floor: {e}");
                ExitCode::FAILURE
            }
        };
    }
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    .format_timestamp_millis()
    .init();
    switchyard::cli::run(switchyard::cli::Cli::parse())
}

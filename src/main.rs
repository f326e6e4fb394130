//! `switchyard`: parse the command line, set up logging, run the command, map the outcome to an
//! exit status (0 clean stop, 2 config error).
#![forbid(unsafe_code)]

use clap::Parser;
use std::io::Write;
use std::process::ExitCode;
use switchyard::text::EscapingWriter;

fn main() -> ExitCode {
    env_logger::Builder::from_env(
        env_logger::Env::default().default_filter_or("info,actix_server=warn"),
    )
    .format(|buf, record| {
        // env_logger's own layout, with every message's control characters escaped: a log line
        // quotes model names, paths and upstream error text, which must not reach a terminal raw.
        let style = buf.default_level_style(record.level());
        write!(
            buf,
            "[{} {style}{:<5}{style:#} {}] ",
            buf.timestamp_millis(),
            record.level(),
            record.target()
        )?;
        let mut message = EscapingWriter(IoText(buf));
        std::fmt::write(&mut message, *record.args()).map_err(std::io::Error::other)?;
        writeln!(buf)
    })
    .init();
    switchyard::cli::run(switchyard::cli::Cli::parse())
}

/// An `io::Write` seen as a `fmt::Write`, so a log message is escaped on its way out, not copied.
struct IoText<'a, W: Write>(&'a mut W);

impl<W: Write> std::fmt::Write for IoText<'_, W> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.write_all(s.as_bytes()).map_err(|_| std::fmt::Error)
    }
}

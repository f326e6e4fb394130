//! `switchyard claude`: Claude Code through the gateway. A gateway that already answers `/healthz`
//! on the configured port is used; otherwise this binary serves the config as a child process (in
//! its own process group, so the terminal's Ctrl-C reaches Claude Code and not the gateway) for as
//! long as Claude Code runs, and stops it when Claude Code exits.

use super::env::{claude_vars, ClientSettings};
use crate::files;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How Claude Code is installed, for the error that says it is missing.
pub const INSTALL_HINT: &str = "npm install -g @anthropic-ai/claude-code";

/// Set in the environment of the gateway `switchyard claude` starts: `serve` then stops (as on
/// SIGTERM) when its stdin closes, which happens when the process that started it ends, however
/// it ends.
pub const STOP_WHEN_STDIN_CLOSES: &str = "SWITCHYARD_STOP_WHEN_STDIN_CLOSES";

/// What listens on the gateway's port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnPort {
    /// A switchyard gateway that accepted our `/healthz` request.
    Switchyard,
    /// Something answered, but not as a switchyard gateway that lets us in.
    SomethingElse(String),
    /// Nothing accepts connections.
    Nothing,
}

/// Judges a raw HTTP answer to `GET /healthz`: a switchyard gateway answers 200 with a JSON
/// object whose `status` is `"ok"`.
pub fn judge_healthz_answer(answer: &[u8]) -> OnPort {
    let text = String::from_utf8_lossy(answer);
    let status_line = text.lines().next().unwrap_or("");
    let status: Option<u16> = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok());
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    // A chunked body carries its framing around the one JSON object: take the object alone.
    let json = match (body.find('{'), body.rfind('}')) {
        (Some(start), Some(end)) if start < end => &body[start..=end],
        _ => "",
    };
    let is_ok = serde_json::from_str::<serde_json::Value>(json)
        .map(|v| v["status"] == "ok")
        .unwrap_or(false);
    match status {
        Some(200) if is_ok => OnPort::Switchyard,
        Some(401) | Some(403) => OnPort::SomethingElse(format!(
            "it answers /healthz with {}: a gateway with another client key?",
            status.unwrap_or(0)
        )),
        Some(code) => OnPort::SomethingElse(format!("it answers /healthz with HTTP {code}")),
        None => OnPort::SomethingElse("it does not answer HTTP".to_string()),
    }
}

/// Asks `http://127.0.0.1:<port>/healthz` (with the client key, if any) what listens there.
pub fn probe_gateway(settings: &ClientSettings) -> OnPort {
    let addr = SocketAddr::from(([127, 0, 0, 1], settings.port));
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return OnPort::Nothing;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut request = format!(
        "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        settings.port
    );
    if let Some(key) = &settings.client_key {
        request.push_str(&format!(
            "Authorization: Bearer {key}\r\nx-api-key: {key}\r\n"
        ));
    }
    request.push_str("\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return OnPort::SomethingElse("it closed the connection".to_string());
    }
    let mut answer = Vec::new();
    let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    judge_healthz_answer(&answer)
}

/// The executable `name` in the directories of `path_var` (the value of `PATH`).
pub fn find_on_path(name: &str, path_var: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let dirs = std::env::split_paths(path_var?).collect::<Vec<_>>();
    let names: Vec<String> = if cfg!(windows) {
        vec![
            format!("{name}.exe"),
            format!("{name}.cmd"),
            name.to_string(),
        ]
    } else {
        vec![name.to_string()]
    };
    dirs.iter()
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(not(unix))]
fn is_executable(path: &Path) -> bool {
    path.is_file()
}

/// The exit status a shell would report for `status`: its code, or 128 + the signal that ended it.
pub fn exit_code_of(status: ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(1);
        }
    }
    1
}

/// Why `switchyard claude` could not run Claude Code.
#[derive(Debug, thiserror::Error)]
pub enum ClaudeError {
    #[error("`claude` (Claude Code) is not on PATH; install it with `{INSTALL_HINT}`")]
    NotInstalled,
    #[error("port {port} is taken by something that is not a switchyard gateway ({why}); stop it or change proxy.port in {config}")]
    PortTaken {
        port: u16,
        why: String,
        config: String,
    },
    #[error("the gateway did not start: {why}; its log: {log}")]
    GatewayDidNotStart { why: String, log: String },
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: &'static str,
        source: std::io::Error,
    },
}

/// A gateway this process started: a `switchyard serve` child that stops when its stdin closes.
pub struct ServedGateway {
    child: Child,
    pub log: PathBuf,
    /// The port it listens on (the configured one, or the one it was given for port 0).
    pub port: u16,
    grace: Duration,
}

/// Where the served gateway logs: beside the config file, like its state file (a folder of the
/// user's own, unlike a fixed name in a shared temporary folder). `config.yaml` → `config.claude.log`.
pub fn log_path(config: &Path) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "switchyard".to_string());
    config.with_file_name(format!("{stem}.claude.log"))
}

/// The port in the line `serve` prints once it listens: `switchyard listening on http://HOST:PORT`.
pub fn listening_port(line: &str) -> Option<u16> {
    let url = line.strip_prefix("switchyard listening on ")?.trim();
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

impl ServedGateway {
    /// Starts `switchyard serve --config <config>` and waits until it listens.
    pub fn start(config: &Path, grace: Duration) -> Result<Self, ClaudeError> {
        let exe = std::env::current_exe().map_err(|source| ClaudeError::Spawn {
            what: "the gateway",
            source,
        })?;
        let log = log_path(config);
        let log_file =
            files::create_replacing(&log, files::Permissions::KeepExisting).map_err(|source| {
                ClaudeError::Spawn {
                    what: "the gateway's log file",
                    source,
                }
            })?;
        let mut command = Command::new(exe);
        command
            .arg("serve")
            .arg("--config")
            .arg(config)
            .env(STOP_WHEN_STDIN_CLOSES, "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        #[cfg(unix)]
        {
            // Its own process group: the terminal's Ctrl-C goes to Claude Code, not to the gateway.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|source| ClaudeError::Spawn {
            what: "the gateway",
            source,
        })?;
        let (tx, rx) = mpsc::channel();
        if let Some(stdout) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if let Some(port) = listening_port(&line) {
                        let _ = tx.send(Some(port));
                    }
                }
                let _ = tx.send(None);
            });
        }
        let why = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(Some(port)) => {
                return Ok(ServedGateway {
                    child,
                    log,
                    port,
                    grace,
                })
            }
            Ok(None) | Err(mpsc::RecvTimeoutError::Disconnected) => "it exited",
            Err(mpsc::RecvTimeoutError::Timeout) => "it did not listen within 30s",
        };
        let _ = child.kill();
        let _ = child.wait();
        Err(ClaudeError::GatewayDidNotStart {
            why: why.to_string(),
            log: log.display().to_string(),
        })
    }

    /// Stops the gateway: closing its stdin makes it stop as on SIGTERM (open requests finish);
    /// one that is still running after its grace period is killed.
    pub fn stop(mut self) {
        drop(self.child.stdin.take());
        let deadline = std::time::Instant::now() + self.grace + Duration::from_secs(5);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) if std::time::Instant::now() >= deadline => {
                    log::warn!("the gateway did not stop within its grace period; ending it");
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
}

/// Runs `claude` with the client variables for `settings` (see `claude_vars`) and `args`; gives
/// its exit status.
/// The terminal's Ctrl-C reaches Claude Code (this process ignores it meanwhile); SIGTERM and
/// SIGHUP sent to this process are passed on to Claude Code.
pub fn run_claude(
    claude: &Path,
    settings: &ClientSettings,
    args: &[OsString],
) -> Result<ExitStatus, ClaudeError> {
    let mut command = Command::new(claude);
    command.args(args);
    // The provider key that `${ANTHROPIC_API_KEY}` in the config reads stays with the gateway:
    // Claude Code gets the gateway's key, as a token (see `claude_vars`).
    command.env_remove("ANTHROPIC_API_KEY");
    for (name, value) in claude_vars(settings) {
        command.env(name, value);
    }
    // Every signal handler is in place before Claude Code starts: a SIGTERM that arrives while it
    // starts is passed on once it runs, never taken as this process's own death.
    let mut guard = signals::Guard::install();
    let mut child = command.spawn().map_err(|source| ClaudeError::Spawn {
        what: "claude",
        source,
    })?;
    let _forwarding = guard.forward_to(&child);
    child.wait().map_err(|source| ClaudeError::Spawn {
        what: "claude",
        source,
    })
}

#[cfg(unix)]
mod signals {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// While alive, SIGINT and SIGQUIT are caught (ignored) by this process. A handler rather
    /// than SIG_IGN, so that Claude Code starts with the default disposition.
    pub struct Guard {
        ids: Vec<signal_hook::SigId>,
        /// SIGTERM and SIGHUP, caught from the start and held until there is a child to pass
        /// them to.
        pending: Option<signal_hook::iterator::Signals>,
    }

    impl Guard {
        pub fn install() -> Guard {
            let seen = Arc::new(AtomicBool::new(false));
            let ids = [SIGINT, SIGQUIT]
                .into_iter()
                .filter_map(|sig| signal_hook::flag::register(sig, seen.clone()).ok())
                .collect();
            let pending = signal_hook::iterator::Signals::new([SIGTERM, SIGHUP]).ok();
            Guard { ids, pending }
        }

        /// Passes SIGTERM and SIGHUP (those caught since `install` too) on to `child` until the
        /// returned value is dropped.
        pub fn forward_to(&mut self, child: &std::process::Child) -> Option<Forwarding> {
            let pid = rustix::process::Pid::from_child(child);
            let mut signals = self.pending.take()?;
            let handle = signals.handle();
            std::thread::spawn(move || {
                for sig in signals.forever() {
                    let sig = if sig == SIGHUP {
                        rustix::process::Signal::HUP
                    } else {
                        rustix::process::Signal::TERM
                    };
                    let _ = rustix::process::kill_process(pid, sig);
                }
            });
            Some(Forwarding(handle))
        }
    }

    /// Signals being passed on; dropping it ends the forwarding thread and restores SIGTERM/SIGHUP.
    pub struct Forwarding(signal_hook::iterator::Handle);

    impl Drop for Forwarding {
        fn drop(&mut self) {
            self.0.close();
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            for id in self.ids.drain(..) {
                signal_hook::low_level::unregister(id);
            }
        }
    }
}

#[cfg(not(unix))]
mod signals {
    pub struct Guard;

    impl Guard {
        pub fn install() -> Guard {
            Guard
        }

        pub fn forward_to(&mut self, _child: &std::process::Child) -> Option<()> {
            None
        }
    }
}

/// Stops the gateway process this one is when its stdin closes (used by [`ServedGateway`]).
pub fn stop_when_stdin_closes() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin();
        while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
        log::info!("stdin closed: stopping");
        #[cfg(unix)]
        let _ = signal_hook::low_level::raise(signal_hook::consts::SIGTERM);
        #[cfg(not(unix))]
        std::process::exit(0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_switchyard_healthz_answer_counts_as_a_gateway() {
        let ok = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 45\r\n\r\n{\"status\":\"ok\",\"version\":\"0.1.0\",\"uptime_s\":3}";
        assert_eq!(judge_healthz_answer(ok), OnPort::Switchyard);
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n1a\r\n{\"status\":\"ok\",\"x\":1}\r\n0\r\n\r\n";
        assert_eq!(judge_healthz_answer(chunked), OnPort::Switchyard);
        let other = b"HTTP/1.1 200 OK\r\n\r\n<html>hello</html>";
        assert!(
            matches!(judge_healthz_answer(other), OnPort::SomethingElse(w) if w.contains("200"))
        );
        let locked = b"HTTP/1.1 401 Unauthorized\r\n\r\n{\"error\":{}}";
        assert!(
            matches!(judge_healthz_answer(locked), OnPort::SomethingElse(w) if w.contains("client key"))
        );
        assert!(
            matches!(judge_healthz_answer(b"SSH-2.0-OpenSSH_9.6\r\n"), OnPort::SomethingElse(w) if w.contains("HTTP"))
        );
        assert!(matches!(
            judge_healthz_answer(b""),
            OnPort::SomethingElse(_)
        ));
    }

    #[test]
    fn the_served_gateway_logs_beside_its_config() {
        assert_eq!(
            log_path(Path::new("/home/me/.config/switchyard/config.yaml")),
            PathBuf::from("/home/me/.config/switchyard/config.claude.log")
        );
    }

    #[test]
    fn the_served_port_is_read_from_the_listening_line() {
        assert_eq!(
            listening_port("switchyard listening on http://127.0.0.1:8045"),
            Some(8045)
        );
        assert_eq!(
            listening_port("switchyard listening on http://[::1]:41234"),
            Some(41234)
        );
        assert_eq!(
            listening_port("switchyard listening on http://0.0.0.0:9000/"),
            Some(9000)
        );
        assert_eq!(listening_port("something else"), None);
    }

    #[test]
    fn a_closed_port_means_no_gateway() {
        // Bound but not listening: connections are refused, and no other test can take the
        // port meanwhile (a port freed after binding could be reused by a test running beside).
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        socket
            .bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let port = socket.local_addr().unwrap().as_socket().unwrap().port();
        let settings = ClientSettings {
            port,
            client_key: None,
        };
        assert_eq!(probe_gateway(&settings), OnPort::Nothing);
    }

    #[cfg(unix)]
    #[test]
    fn claude_is_found_only_as_an_executable_file_on_path() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(b.join("claude")).unwrap();
        std::fs::write(a.join("claude"), "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([&b, &a]).unwrap();
        assert_eq!(
            find_on_path("claude", Some(&path)),
            None,
            "not executable yet"
        );
        std::fs::set_permissions(a.join("claude"), std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_on_path("claude", Some(&path)), Some(a.join("claude")));
        assert_eq!(find_on_path("claude", None), None);
    }

    #[cfg(unix)]
    #[test]
    fn a_signal_ends_up_as_128_plus_its_number() {
        let status = Command::new("sh")
            .args(["-c", "kill -TERM $$"])
            .status()
            .unwrap();
        assert_eq!(exit_code_of(status), 128 + 15);
        let status = Command::new("sh").args(["-c", "exit 7"]).status().unwrap();
        assert_eq!(exit_code_of(status), 7);
    }
}

//! `switchyard claude` and `switchyard codex`: a coding agent (see [`super::agent`]) through the
//! gateway. A gateway on the configured port is used once it proves, asked without any key, that it
//! serves this config (see [`crate::instance`]); anything else on the port is refused and sent no
//! key. With nothing on the port this binary serves the config as a child process (in its own
//! process group, so the terminal's Ctrl-C reaches the agent and not the gateway) for as long as
//! the agent runs, and stops it when the agent exits.

use super::agent::{Agent, Invocation};
use super::env::ClientSettings;
use crate::files;
use crate::instance::{self, proofs_match, PROOF_HEADER};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Set in the environment of the gateway `switchyard claude` (or `codex`) starts: `serve` then
/// stops (as on SIGTERM) when its stdin closes, which happens when the process that started it
/// ends, however it ends.
pub const STOP_WHEN_STDIN_CLOSES: &str = "SWITCHYARD_STOP_WHEN_STDIN_CLOSES";

/// What listens on the gateway's port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnPort {
    /// The gateway serving this config: it proved that it holds the instance file's secret.
    Switchyard,
    /// Something that did not prove it (it was sent no key), and why.
    SomethingElse(String),
    /// Nothing accepts connections.
    Nothing,
}

/// The status and headers of a raw HTTP answer; `None` when it does not start as one.
fn answer_head(answer: &[u8]) -> Option<(u16, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(answer);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    if !status_line.starts_with("HTTP/1.") {
        return None;
    }
    let status = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    Some((status, headers))
}

/// Judges a raw HTTP answer to `GET /healthz?challenge=…` sent without a key: the gateway serving
/// this config answers with `expected_proof` in its proof header, whatever its status (a keyless
/// request gets 401 under `auth_mode: strict`).
pub fn judge_healthz_answer(answer: &[u8], expected_proof: &str) -> OnPort {
    let Some((status, headers)) = answer_head(answer) else {
        return OnPort::SomethingElse("it does not answer HTTP".to_string());
    };
    let found = headers
        .iter()
        .find(|(name, _)| name == PROOF_HEADER)
        .map(|(_, value)| value.as_str());
    match found {
        Some(found) if proofs_match(expected_proof, found) => OnPort::Switchyard,
        Some(_) => OnPort::SomethingElse(
            "its instance proof does not match the instance file: a gateway serving another config, \
             or not a switchyard gateway"
                .to_string(),
        ),
        None => OnPort::SomethingElse(format!(
            "it answers /healthz with HTTP {status} and no instance proof: not a switchyard gateway, \
             or one older than this switchyard"
        )),
    }
}

/// Judges the answer to `GET /healthz` sent with the client key, once the gateway is known to be
/// this config's: `Err` says why it refuses the key.
pub fn judge_key_answer(answer: &[u8]) -> Result<(), String> {
    match answer_head(answer) {
        Some((401 | 403, _)) => Err(
            "it answers 401: the client key differs where the gateway runs (proxy.api_key's variable?)"
                .to_string(),
        ),
        Some(_) => Ok(()),
        None => Err("it stopped answering HTTP".to_string()),
    }
}

/// Sends `request` to `127.0.0.1:<port>` and reads the answer (64 KiB at most); `None` when
/// nothing accepts the connection.
fn exchange(port: u16, request: &str) -> Option<Vec<u8>> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut answer = Vec::new();
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.take(64 * 1024).read_to_end(&mut answer);
    }
    Some(answer)
}

fn healthz_request(port: u16, target: &str, key: Option<&str>) -> String {
    let mut request =
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(key) = key {
        request.push_str(&format!(
            "Authorization: Bearer {key}\r\nx-api-key: {key}\r\n"
        ));
    }
    request.push_str("\r\n");
    request
}

/// Asks what listens on `127.0.0.1:<port>` without sending any key: `/healthz` with a fresh
/// challenge, whose answer must carry the proof that the secret in `instance_file` gives.
pub fn probe_gateway(port: u16, instance_file: &Path) -> OnPort {
    let Some(challenge) = instance::new_challenge() else {
        return OnPort::SomethingElse("the system gave no random bytes for a challenge".into());
    };
    let request = healthz_request(port, &format!("/healthz?challenge={challenge}"), None);
    let Some(answer) = exchange(port, &request) else {
        return OnPort::Nothing;
    };
    let secret = match instance::read_secret(instance_file) {
        Ok(secret) => secret,
        Err(why) => return OnPort::SomethingElse(why),
    };
    match instance::proof(&secret, &challenge, port) {
        Some(expected) => judge_healthz_answer(&answer, &expected),
        None => OnPort::SomethingElse("the challenge made was not a valid one".into()),
    }
}

/// Whether the gateway on `settings.port`, already known to serve this config, takes the client
/// key this shell has for it.
pub fn check_client_key(settings: &ClientSettings) -> Result<(), String> {
    let Some(key) = settings.client_key.as_deref() else {
        return Ok(());
    };
    let request = healthz_request(settings.port, "/healthz", Some(key));
    match exchange(settings.port, &request) {
        Some(answer) => judge_key_answer(&answer),
        None => Err("it stopped accepting connections".to_string()),
    }
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

/// Why `switchyard claude` (or `codex`) could not run its agent.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("`{}` ({}) is not on PATH; install it with `{}`", .0.program(), .0.name(), .0.install_hint())]
    NotInstalled(Agent),
    #[error("port {port} is answered by something that does not prove it is the gateway serving {config} ({why}); it was sent no key. Stop it, or set proxy.port in {config} to a free port")]
    PortTaken {
        port: u16,
        why: String,
        config: String,
    },
    #[error("the gateway serving {config} on port {port} refuses this shell's client key ({why})")]
    KeyRefused {
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

/// Where the gateway served for `agent` logs: beside the config file, like its state file (a
/// folder of the user's own, unlike a fixed name in a shared temporary folder). `config.yaml` →
/// `config.claude.log` for Claude Code, `config.codex.log` for Codex.
pub fn log_path(config: &Path, agent: Agent) -> PathBuf {
    let stem = config
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "switchyard".to_string());
    config.with_file_name(format!("{stem}.{}.log", agent.program()))
}

/// The port in the line `serve` prints once it listens: `switchyard listening on http://HOST:PORT`.
pub fn listening_port(line: &str) -> Option<u16> {
    let url = line.strip_prefix("switchyard listening on ")?.trim();
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

impl ServedGateway {
    /// Starts `switchyard serve --config <config>` for `agent` and waits until it listens.
    pub fn start(config: &Path, agent: Agent, grace: Duration) -> Result<Self, LaunchError> {
        let exe = std::env::current_exe().map_err(|source| LaunchError::Spawn {
            what: "the gateway",
            source,
        })?;
        let log = log_path(config, agent);
        let log_file =
            files::create_replacing(&log, files::Permissions::KeepExisting).map_err(|source| {
                LaunchError::Spawn {
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
            // Its own process group: the terminal's Ctrl-C goes to the agent, not to the gateway.
            use std::os::unix::process::CommandExt;
            command.process_group(0);
        }
        let mut child = command.spawn().map_err(|source| LaunchError::Spawn {
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
        Err(LaunchError::GatewayDidNotStart {
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

/// Runs the agent at `program` with the arguments and variables of `invocation`, and without the
/// variables in `hidden` (the provider keys); gives its exit status.
/// The terminal's Ctrl-C reaches the agent (this process ignores it meanwhile); SIGTERM and
/// SIGHUP sent to this process are passed on to the agent.
pub fn run_agent(
    program: &Path,
    agent: Agent,
    invocation: &Invocation,
    hidden: &[String],
) -> Result<ExitStatus, LaunchError> {
    let mut command = Command::new(program);
    command.args(&invocation.args);
    // Provider keys stay with the gateway: the agent gets the gateway's key alone, set after the
    // removals (a config may read its client key from a variable the agent is given).
    for name in hidden {
        command.env_remove(name);
    }
    for (name, value) in &invocation.env {
        command.env(name, value);
    }
    // Every signal handler is in place before the agent starts: a SIGTERM that arrives while it
    // starts is passed on once it runs, never taken as this process's own death.
    let mut guard = signals::Guard::install();
    let what = agent.program();
    let mut child = command
        .spawn()
        .map_err(|source| LaunchError::Spawn { what, source })?;
    let _forwarding = guard.forward_to(&child);
    child
        .wait()
        .map_err(|source| LaunchError::Spawn { what, source })
}

#[cfg(unix)]
mod signals {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    /// While alive, SIGINT and SIGQUIT are caught (ignored) by this process. A handler rather
    /// than SIG_IGN, so that the agent starts with the default disposition.
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
    fn only_an_answer_with_the_expected_proof_counts_as_this_configs_gateway() {
        let proof = "ab".repeat(32);
        let ok = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nX-Switchyard-Instance-Proof: {proof}\r\n\r\n{{\"status\":\"ok\"}}");
        assert_eq!(
            judge_healthz_answer(ok.as_bytes(), &proof),
            OnPort::Switchyard
        );
        // Under `auth_mode: strict` a keyless /healthz is refused, with the proof all the same.
        let strict = format!("HTTP/1.1 401 Unauthorized\r\n{PROOF_HEADER}: {proof}\r\n\r\n{{}}");
        assert_eq!(
            judge_healthz_answer(strict.as_bytes(), &proof),
            OnPort::Switchyard
        );
        let wrong = format!(
            "HTTP/1.1 200 OK\r\n{PROOF_HEADER}: {}\r\n\r\n",
            "cd".repeat(32)
        );
        assert!(
            matches!(judge_healthz_answer(wrong.as_bytes(), &proof), OnPort::SomethingElse(w) if w.contains("does not match"))
        );
        // What a gateway older than this one (or a squatter copying it) answers.
        let plain = b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}";
        assert!(
            matches!(judge_healthz_answer(plain, &proof), OnPort::SomethingElse(w) if w.contains("200") && w.contains("no instance proof"))
        );
        // A proof in the body is not a header.
        let in_body = format!("HTTP/1.1 200 OK\r\n\r\n{PROOF_HEADER}: {proof}\r\n");
        assert!(matches!(
            judge_healthz_answer(in_body.as_bytes(), &proof),
            OnPort::SomethingElse(_)
        ));
        assert!(
            matches!(judge_healthz_answer(b"SSH-2.0-OpenSSH_9.6\r\n", &proof), OnPort::SomethingElse(w) if w.contains("HTTP"))
        );
        assert!(matches!(
            judge_healthz_answer(b"", &proof),
            OnPort::SomethingElse(_)
        ));
    }

    #[test]
    fn a_gateway_that_refuses_the_client_key_is_named_as_such() {
        assert_eq!(judge_key_answer(b"HTTP/1.1 200 OK\r\n\r\n{}"), Ok(()));
        let refused = judge_key_answer(b"HTTP/1.1 401 Unauthorized\r\n\r\n{}").unwrap_err();
        assert!(refused.contains("client key"), "{refused}");
        assert!(judge_key_answer(b"").is_err());
    }

    #[test]
    fn the_served_gateway_logs_beside_its_config_under_the_agents_name() {
        let config = Path::new("/home/me/.config/switchyard/config.yaml");
        assert_eq!(
            log_path(config, Agent::Claude),
            PathBuf::from("/home/me/.config/switchyard/config.claude.log")
        );
        assert_eq!(
            log_path(config, Agent::Codex),
            PathBuf::from("/home/me/.config/switchyard/config.codex.log")
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
        assert_eq!(
            probe_gateway(port, Path::new("/nonexistent/config.yaml.instance")),
            OnPort::Nothing
        );
    }

    #[cfg(unix)]
    #[test]
    fn an_agent_is_found_only_as_an_executable_file_on_path() {
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

//! Getting started: `init` writes a config `check` accepts with one endpoint per key and no key
//! value; `env` speaks each shell; `completions` and `--version`; `claude` runs Claude Code (a
//! fake `claude` script here) through a running gateway or one it serves for the duration, and
//! `codex` does the same for Codex CLI (a fake `codex`), giving it the gateway as a provider, and
//! `gemini` for Gemini CLI (a fake `gemini`), in a private home made from the user's settings.
#![cfg(unix)]

mod common;

use common::{Behaviour, Gateway, MockUpstream};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const KEYS: [(&str, &str); 5] = [
    ("ANTHROPIC_API_KEY", "sk-ant-test-value-0001"),
    ("OPENAI_API_KEY", "sk-openai-test-value-0002"),
    ("DEEPSEEK_API_KEY", "sk-deepseek-test-value-0003"),
    ("OPENROUTER_API_KEY", "sk-or-test-value-0004"),
    ("GEMINI_API_KEY", "AIza-gemini-test-value-0005"),
];

/// The switchyard binary with a clean environment: PATH, HOME and the pairs given, run in `dir`.
fn switchyard(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir);
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run switchyard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn default_config(home: &Path) -> PathBuf {
    home.join(".config/switchyard/config.yaml")
}

/// The endpoint ids `check` prints, with their `enabled` value (block YAML, any indentation).
fn checked_endpoints(stdout: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut in_endpoints = false;
    for line in stdout.lines() {
        let item = line.trim_start();
        if line == "endpoints:" {
            in_endpoints = true;
        } else if !line.starts_with([' ', '-']) {
            in_endpoints = false;
        } else if let Some(id) = item.strip_prefix("- id: ").filter(|_| in_endpoints) {
            out.push((id.to_string(), true));
        } else if let Some(value) = item.strip_prefix("enabled: ").filter(|_| in_endpoints) {
            if let Some(last) = out.last_mut() {
                last.1 = value == "true";
            }
        }
    }
    out
}

#[test]
fn init_writes_one_endpoint_per_key_found_and_check_accepts_it() {
    type Env<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Env, &[&str]); 4] = [
        (&[], &["anthropic"]),
        (&KEYS[1..2], &["openai"]),
        (&KEYS[4..], &["gemini"]),
        (
            &KEYS,
            &["anthropic", "openrouter", "deepseek", "gemini", "openai"],
        ),
    ];
    for (env, ids) in cases {
        let home = tempfile::tempdir().unwrap();
        let out = switchyard(home.path(), &["init"], env);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        let path = default_config(home.path());
        assert!(stdout.contains(&path.display().to_string()), "{stdout}");
        let written = std::fs::read_to_string(&path).unwrap();
        for (var, value) in KEYS {
            assert!(!written.contains(value), "the value of {var} was written");
        }
        for (var, _) in env {
            assert!(
                written.contains(&format!("api_key: ${{{var}}}")),
                "{written}"
            );
        }
        let check = switchyard(home.path(), &["check"], env);
        assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
        let endpoints = checked_endpoints(&text(&check.stdout));
        let found: Vec<&str> = endpoints.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(found, ids, "{env:?}");
        for (var, value) in env {
            assert!(!text(&check.stdout).contains(value), "check showed {var}");
        }
        if env.is_empty() {
            assert_eq!(endpoints, [("anthropic".to_string(), false)]);
            assert!(stdout.contains("switchyard init --force"), "{stdout}");
            assert!(written.contains("No provider key was found"), "{written}");
        } else {
            // Endpoints of other APIs are on once this build accepts their `api` line.
            let translates = written.contains("\n    api: ");
            for (id, enabled) in &endpoints {
                assert_eq!(*enabled, id == "anthropic" || translates, "{id}");
            }
            assert!(stdout.contains("switchyard claude"), "{stdout}");
        }
    }
}

#[test]
fn init_follows_xdg_config_home_and_creates_the_folders() {
    let home = tempfile::tempdir().unwrap();
    let xdg = home.path().join("deep/er/config");
    let xdg_text = xdg.display().to_string();
    let env = [("XDG_CONFIG_HOME", xdg_text.as_str()), KEYS[0]];
    let out = switchyard(home.path(), &["init"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(xdg.join("switchyard/config.yaml").is_file());
    assert!(!default_config(home.path()).exists());
    let check = switchyard(home.path(), &["check"], &env);
    assert_eq!(check.status.code(), Some(0), "{}", text(&check.stderr));
}

#[test]
fn a_second_init_refuses_without_force_and_replaces_with_it() {
    let home = tempfile::tempdir().unwrap();
    let path = default_config(home.path());
    assert_eq!(
        switchyard(home.path(), &["init"], &KEYS[..1]).status.code(),
        Some(0)
    );
    std::fs::write(&path, "# my own edits\n").unwrap();
    let again = switchyard(home.path(), &["init"], &KEYS[2..3]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = text(&again.stderr);
    assert!(
        stderr.contains("already exists") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# my own edits\n");
    let forced = switchyard(home.path(), &["init", "--force"], &KEYS[2..3]);
    assert_eq!(forced.status.code(), Some(0), "{}", text(&forced.stderr));
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(written.contains("${DEEPSEEK_API_KEY}") && !written.contains("${ANTHROPIC_API_KEY}"));
    let backup = home.path().join(".config/switchyard/config.yaml.bak");
    assert_eq!(std::fs::read_to_string(backup).unwrap(), "# my own edits\n");
}

#[test]
fn init_with_config_writes_there_and_the_next_commands_name_it() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("a/b/mine.yaml");
    let path_text = path.display().to_string();
    let out = switchyard(home.path(), &["init", "--config", &path_text], &KEYS[..1]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(path.is_file());
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("switchyard claude --config {path_text}")),
        "{stdout}"
    );
    let check = switchyard(home.path(), &["check", "--config", &path_text], &KEYS[..1]);
    assert_eq!(check.status.code(), Some(0));
}

/// The variables a shell would set from `env`'s output, read in that shell's syntax.
fn parse_env_lines(shell: &str, output: &str) -> BTreeMap<String, String> {
    let unquote = |v: &str| -> String {
        let v = v.trim();
        match shell {
            "powershell" => v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .expect("double-quoted")
                .replace("`\"", "\"")
                .replace("`$", "$")
                .replace("``", "`"),
            "fish" if v.starts_with('\'') => {
                v[1..v.len() - 1].replace("\\'", "'").replace("\\\\", "\\")
            }
            _ if v.starts_with('\'') => v[1..v.len() - 1].replace("'\\''", "'"),
            _ => v.to_string(),
        }
    };
    output
        .lines()
        .map(|line| {
            let (name, value) = match shell {
                "sh" => line
                    .strip_prefix("export ")
                    .and_then(|l| l.split_once('='))
                    .expect("export K=V"),
                "fish" => line
                    .strip_prefix("set -gx ")
                    .and_then(|l| l.split_once(' '))
                    .expect("set -gx K V"),
                _ => line
                    .strip_prefix("$env:")
                    .and_then(|l| l.split_once(" = "))
                    .expect("$env:K = \"V\""),
            };
            (name.to_string(), unquote(value))
        })
        .collect()
}

#[test]
fn env_prints_both_base_urls_and_the_key_in_each_shells_syntax() {
    let home = tempfile::tempdir().unwrap();
    let open = home.path().join("open.yaml");
    std::fs::write(
        &open,
        "proxy:\n  port: 9123\nendpoints:\n  - base_url: https://a.example\n    api_key: ${ANTHROPIC_API_KEY}\n",
    )
    .unwrap();
    let locked = home.path().join("locked.yaml");
    std::fs::write(
        &locked,
        "proxy:\n  port: 9124\n  auth_mode: strict\n  api_key: ${CLIENT_KEY}\nendpoints:\n  - base_url: https://a.example\n    api_key: k\n",
    )
    .unwrap();
    let client_key = "it's-$HOME-`x`-\"q\"";
    for shell in ["sh", "fish", "powershell"] {
        // No provider key in this environment: `env` needs only the proxy section.
        let out = switchyard(
            home.path(),
            &["env", "--config", open.to_str().unwrap(), "--shell", shell],
            &[],
        );
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let vars = parse_env_lines(shell, &text(&out.stdout));
        let expected: BTreeMap<String, String> = [
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9123"),
            ("ANTHROPIC_API_KEY", "switchyard-local"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:9123/v1"),
            ("OPENAI_API_KEY", "switchyard-local"),
            ("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9123"),
            ("GEMINI_API_KEY", "switchyard-local"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(vars, expected, "{shell}");

        let out = switchyard(
            home.path(),
            &[
                "env",
                "--config",
                locked.to_str().unwrap(),
                "--shell",
                shell,
            ],
            &[("CLIENT_KEY", client_key)],
        );
        let vars = parse_env_lines(shell, &text(&out.stdout));
        assert_eq!(vars["ANTHROPIC_API_KEY"], client_key, "{shell}");
        assert_eq!(vars["OPENAI_API_KEY"], client_key, "{shell}");
        assert_eq!(vars["GEMINI_API_KEY"], client_key, "{shell}");
        assert_eq!(vars["OPENAI_BASE_URL"], "http://127.0.0.1:9124/v1");
    }
    // The sh lines survive a real shell's eval, quotes and dollars included.
    let lines = switchyard(
        home.path(),
        &["env", "--config", locked.to_str().unwrap(), "--shell", "sh"],
        &[("CLIENT_KEY", client_key)],
    );
    let script = format!("{}printf %s \"$ANTHROPIC_API_KEY\"", text(&lines.stdout));
    let evaluated = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert_eq!(text(&evaluated.stdout), client_key);
    // Without --shell the syntax follows $SHELL.
    let fish = switchyard(
        home.path(),
        &["env", "--config", open.to_str().unwrap()],
        &[("SHELL", "/usr/local/bin/fish")],
    );
    assert!(text(&fish.stdout).starts_with("set -gx ANTHROPIC_BASE_URL http://127.0.0.1:9123\n"));
}

#[test]
fn env_without_any_config_file_prints_the_defaults_that_demo_uses() {
    let home = tempfile::tempdir().unwrap();
    let out = switchyard(home.path(), &["env", "--shell", "sh"], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let vars = parse_env_lines("sh", &text(&out.stdout));
    assert_eq!(vars["ANTHROPIC_BASE_URL"], "http://127.0.0.1:8045");
    assert!(text(&out.stderr).contains("switchyard init"));
    let missing = home.path().join("nope.yaml");
    let out = switchyard(
        home.path(),
        &["env", "--config", missing.to_str().unwrap()],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "a named file must exist");
}

#[test]
fn completions_name_every_subcommand_in_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = switchyard(dir.path(), &["completions", shell], &[]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = text(&out.stdout);
        for name in [
            "serve",
            "check",
            "status",
            "demo",
            "init",
            "env",
            "claude",
            "codex",
            "gemini",
            "completions",
        ] {
            assert!(script.contains(name), "{shell} completions lack {name}");
        }
    }
}

#[test]
fn version_names_the_version_and_the_commit() {
    let dir = tempfile::tempdir().unwrap();
    let out = text(&switchyard(dir.path(), &["--version"], &[]).stdout);
    assert!(
        out.starts_with(&format!(
            "switchyard {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{out}"
    );
}

/// A fake `claude`: records its environment (all of it in `.env`) and arguments, sends one
/// Messages request through `$ANTHROPIC_BASE_URL` with `$ANTHROPIC_AUTH_TOKEN`, and exits 7.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
out="$FAKE_AGENT_OUT"
env > "$out.env"
printf 'base=%s\ntoken=%s\napi_key=%s\nopenai=%s\nargs=%s\n' "$ANTHROPIC_BASE_URL" "$ANTHROPIC_AUTH_TOKEN" "${ANTHROPIC_API_KEY-unset}" "$OPENAI_BASE_URL" "$*" > "$out"
curl -sS -o "$out.body" -w '%{http_code}' "$ANTHROPIC_BASE_URL/v1/messages" \
  -H 'content-type: application/json' -H "authorization: Bearer $ANTHROPIC_AUTH_TOKEN" \
  -d '{"model":"claude-sonnet-4-5","max_tokens":16,"messages":[{"role":"user","content":"say hi"}]}' > "$out.status" || exit 99
exit 7
"#;

/// A directory holding an executable `claude` with `script`.
fn fake_claude(dir: &Path, script: &str) -> PathBuf {
    fake_agent(dir, "claude", script)
}

/// A directory holding an executable `program` with `script`.
fn fake_agent(dir: &Path, program: &str, script: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join(program);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A config on a free fixed port (claude finds the gateway by the configured port) with one
/// endpoint: `mock`, whose key comes from `$MOCK_KEY`.
fn claude_config(dir: &Path, mock: &MockUpstream) -> (PathBuf, u16) {
    config_on_a_free_port(dir, mock, "")
}

/// The same with `proxy_extra` lines in the `proxy` section.
fn config_on_a_free_port(dir: &Path, mock: &MockUpstream, proxy_extra: &str) -> (PathBuf, u16) {
    let port = common::free_port();
    (claude_config_on(dir, mock, port, proxy_extra), port)
}

/// The same on `port`, with `proxy_extra` lines in the `proxy` section.
fn claude_config_on(dir: &Path, mock: &MockUpstream, port: u16, proxy_extra: &str) -> PathBuf {
    let path = dir.join("config.yaml");
    std::fs::write(
        &path,
        format!(
            "proxy:\n  port: {port}\n  shutdown_grace: 2s\n{proxy_extra}endpoints:\n  - id: mock\n    base_url: {}\n    api_key: ${{MOCK_KEY}}\n",
            mock.url()
        ),
    )
    .unwrap();
    path
}

fn nothing_listens_on(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
}

fn run_claude(dir: &Path, bin: &Path, config: &Path) -> Output {
    run_claude_with(dir, bin, config, &[])
}

/// `run_claude` with the extra variables `env` in switchyard's environment.
fn run_claude_with(dir: &Path, bin: &Path, config: &Path, env: &[(&str, &str)]) -> Output {
    run_agent("claude", &["-p", "say hi"], dir, bin, config, env)
}

/// `switchyard <program> --config CONFIG -- ARGS` with `bin` first on PATH, the fake agent's
/// records going to `<dir>/<program>.out…`, a user's Anthropic key and a stale token in its
/// environment, and the extra variables `env`.
fn run_agent(
    program: &str,
    args: &[&str],
    dir: &Path,
    bin: &Path,
    config: &Path,
    env: &[(&str, &str)],
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_switchyard"));
    command
        .args([program, "--config", config.to_str().unwrap(), "--"])
        .args(args)
        .env("PATH", path_with(bin))
        .env("FAKE_AGENT_OUT", dir.join(format!("{program}.out")))
        .env("MOCK_KEY", "mock-upstream-key")
        .env("ANTHROPIC_AUTH_TOKEN", "stale-token")
        .env("ANTHROPIC_API_KEY", "sk-ant-the-users-provider-key")
        .env_remove("SWITCHYARD_API_KEY")
        .env_remove("SWITCHYARD_CONFIG");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run switchyard")
}

fn recorded(dir: &Path, suffix: &str) -> String {
    recorded_by("claude", dir, suffix)
}

/// What the fake `program` recorded in `<dir>/<program>.out<suffix>`.
fn recorded_by(program: &str, dir: &Path, suffix: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{program}.out{suffix}"))).unwrap_or_default()
}

fn mock_upstream() -> MockUpstream {
    MockUpstream::start(Behaviour {
        name: "mock".into(),
        key: Some("mock-upstream-key".into()),
        ..Behaviour::default()
    })
    .unwrap()
}

/// The mock, a config for it on a free port in `dir`, and a gateway already serving that config.
fn gateway_already_running(dir: &Path) -> (MockUpstream, PathBuf, u16, Gateway) {
    let mock = mock_upstream();
    let (config, port) = claude_config(dir, &mock);
    let gateway = Gateway::start_in(
        tempfile::tempdir().unwrap(),
        config.clone(),
        &[("MOCK_KEY", "mock-upstream-key")],
    );
    (mock, config, port, gateway)
}

#[test]
fn claude_uses_a_gateway_that_already_runs_and_exits_with_claudes_status() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, config, port, gateway) = gateway_already_running(dir.path());
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude(dir.path(), &bin, &config);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already running"),
        "{}",
        text(&out.stderr)
    );
    let seen = recorded(dir.path(), "");
    assert!(
        seen.contains(&format!("base=http://127.0.0.1:{port}\n")),
        "{seen}"
    );
    assert!(
        seen.contains(&format!("openai=http://127.0.0.1:{port}/v1\n")),
        "{seen}"
    );
    assert!(seen.contains("token=switchyard-local\n"), "{seen}");
    assert!(
        seen.contains("api_key=unset\n"),
        "the provider key stays with the gateway: {seen}"
    );
    assert!(seen.contains("args=-p say hi\n"), "{seen}");
    assert_eq!(recorded(dir.path(), ".status"), "200");
    assert!(recorded(dir.path(), ".body").contains("Hello from mock"));
    assert_eq!(mock.hits(), 1);
    let upstream_saw = &mock.requests()[0];
    assert_eq!(upstream_saw.header("x-api-key"), Some("mock-upstream-key"));
    assert!(
        !nothing_listens_on(port),
        "a gateway that was already running keeps running"
    );
    drop(gateway);
}

#[test]
fn claude_serves_the_config_while_claude_runs_and_stops_it_after() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    // Client auth on: Claude Code is given the gateway's key, and nothing gets in without it.
    let (config, port) = config_on_a_free_port(
        dir.path(),
        &mock,
        "  auth_mode: strict\n  api_key: client-key-for-claude\n",
    );
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude(dir.path(), &bin, &config);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("while Claude Code runs"), "{stderr}");
    assert!(recorded(dir.path(), "").contains("token=client-key-for-claude\n"));
    assert_eq!(recorded(dir.path(), ".status"), "200", "{stderr}");
    assert!(recorded(dir.path(), ".body").contains("Hello from mock"));
    assert_eq!(mock.hits(), 1);
    assert!(nothing_listens_on(port), "the gateway it started is gone");
}

#[test]
fn claude_on_a_config_with_port_0_is_given_the_port_the_gateway_took() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let config = claude_config_on(dir.path(), &mock, 0, "");
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude(dir.path(), &bin, &config);
    assert_eq!(
        out.status.code(),
        Some(7),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = recorded(dir.path(), "");
    assert!(!seen.contains("base=http://127.0.0.1:0\n"), "{seen}");
    assert_eq!(recorded(dir.path(), ".status"), "200", "{seen}");
    assert_eq!(mock.hits(), 1);
}

#[test]
fn claude_on_the_keyless_starter_config_says_what_to_do_instead_of_serving_errors() {
    let home = tempfile::tempdir().unwrap();
    assert_eq!(
        switchyard(home.path(), &["init"], &[]).status.code(),
        Some(0)
    );
    let bin = fake_claude(home.path(), FAKE_CLAUDE);
    let out_file = home.path().join("claude.out").display().to_string();
    let out = switchyard(
        home.path(),
        &["claude"],
        &[("PATH", &path_with(&bin)), ("FAKE_AGENT_OUT", &out_file)],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("every endpoint") && stderr.contains("switchyard init --force"),
        "{stderr}"
    );
    assert!(
        !home.path().join("claude.out").exists(),
        "claude was not started"
    );
}

#[test]
fn an_agent_missing_from_path_exits_127_saying_how_to_install_it() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, port) = claude_config(dir.path(), &mock);
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    for (program, install) in [
        ("claude", "npm install -g @anthropic-ai/claude-code"),
        ("codex", "npm install -g @openai/codex"),
        ("gemini", "npm install -g @google/gemini-cli"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args([program, "--config", config.to_str().unwrap()])
            .env("PATH", &empty)
            .env("MOCK_KEY", "k")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(127), "{program}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains(&format!("`{program}`")) && stderr.contains(install),
            "{stderr}"
        );
        assert!(
            nothing_listens_on(port),
            "no gateway was started for nothing"
        );
    }
}

/// Starts `switchyard claude` (in a process group of its own, as a shell's job) with a fake
/// `claude` that traps `signal`, records whether the gateway still answers, and exits 42. Returns
/// once the fake claude has installed its trap.
fn claude_waiting_for(dir: &Path, config: &Path, signal: &str) -> std::process::Child {
    use std::os::unix::process::CommandExt;
    let fifo = dir.join("ready");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let script = format!(
        r#"#!/bin/sh
trap 'curl -s -o /dev/null -w "%{{http_code}}" "$ANTHROPIC_BASE_URL/healthz" > "$FAKE_AGENT_OUT.after"; exit 42' {signal}
echo ready > "$FAKE_CLAUDE_READY"
while :; do sleep 1; done
"#
    );
    let bin = fake_claude(dir, &script);
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["claude", "--config", config.to_str().unwrap()])
        .env("PATH", path_with(&bin))
        .env("FAKE_AGENT_OUT", dir.join("claude.out"))
        .env("FAKE_CLAUDE_READY", &fifo)
        .env("MOCK_KEY", "k")
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        if let Ok(file) = std::fs::File::open(&fifo) {
            let _ = BufReader::new(file).read_line(&mut line);
        }
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(30));
    if line.as_deref() != Ok("ready\n") {
        let _ = child.kill();
        panic!("the fake claude never started: {line:?}");
    }
    child
}

/// Ctrl-C in a terminal signals the whole foreground process group. Claude Code gets it and
/// decides; switchyard ignores it and the gateway it serves (in a group of its own) never sees it.
#[test]
fn ctrl_c_reaches_claude_and_not_the_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, port) = claude_config(dir.path(), &mock);
    let mut child = claude_waiting_for(dir.path(), &config, "INT");
    let group = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process_group(group, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "switchyard survived and passed on claude's status"
    );
    assert_eq!(
        recorded(dir.path(), ".after"),
        "200",
        "the gateway still answered while claude handled Ctrl-C"
    );
    assert!(nothing_listens_on(port));
}

/// `kill <pid of switchyard claude>` (a service manager, a closing session) reaches Claude Code,
/// which exits in its own way; then the gateway stops.
#[test]
fn sigterm_to_switchyard_is_passed_on_to_claude() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, port) = claude_config(dir.path(), &mock);
    let mut child = claude_waiting_for(dir.path(), &config, "TERM");
    let pid = rustix::process::Pid::from_child(&child);
    rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
    assert_eq!(recorded(dir.path(), ".after"), "200");
    assert!(nothing_listens_on(port));
}

/// Provider keys in the environment of `switchyard claude`, none of which Claude Code may get.
const PROVIDER_KEYS: [(&str, &str); 6] = [
    ("OPENAI_API_KEY", "sk-openai-users-0002"),
    ("DEEPSEEK_API_KEY", "sk-deepseek-users-0003"),
    ("OPENROUTER_API_KEY", "sk-or-users-0004"),
    ("GEMINI_API_KEY", "gemini-users-0005"),
    ("GOOGLE_API_KEY", "google-users-0006"),
    ("RELAY_KEY", "relay-users-0007"),
];

/// Checks that the environment an agent recorded holds none of the values of `keys`, of the
/// mock's key, nor of the user's Anthropic key that `run_agent` sets.
fn assert_got_no_provider_key(agent: &str, agent_env: &str, keys: &[(&str, &str)]) {
    for (name, value) in keys.iter().chain(&[
        ("MOCK_KEY", "mock-upstream-key"),
        ("ANTHROPIC_API_KEY", "sk-ant-the-users-provider-key"),
    ]) {
        assert!(
            !agent_env.contains(value),
            "{agent} got {name}: {agent_env}"
        );
    }
}

/// A program squatting on a port: it answers every request like a switchyard `/healthz` (with a
/// made-up instance proof) and records every byte it is sent. At most 8 connections.
struct Squatter {
    port: u16,
    seen: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Squatter {
    fn start() -> Squatter {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let record = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(8) {
                let Ok(mut stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                while !got.windows(4).any(|w| w == b"\r\n\r\n") && got.len() < 65_536 {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                record.lock().unwrap().extend_from_slice(&got);
                let body =
                    r#"{"status":"ok","service":"switchyard","version":"0.1.0","uptime_s":1}"#;
                let _ = write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-switchyard-instance-proof: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    "0".repeat(64),
                    body.len()
                );
            }
        });
        Squatter { port, seen }
    }

    fn seen(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

#[test]
fn claude_sends_no_key_to_a_squatter_on_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let squatter = Squatter::start();
    let config = claude_config_on(
        dir.path(),
        &mock,
        squatter.port,
        "  auth_mode: strict\n  api_key: client-key-for-claude\n",
    );
    // An instance file left by an earlier run is there: the squatter cannot prove it holds it.
    let instance = dir.path().join("config.yaml.instance");
    std::fs::write(&instance, format!("{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(
        &instance,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude_with(dir.path(), &bin, &config, &PROVIDER_KEYS);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("port {}", squatter.port))
            && stderr.contains("does not prove")
            && stderr.contains("sent no key"),
        "{stderr}"
    );
    let seen = squatter.seen();
    assert!(seen.starts_with("GET /healthz?challenge="), "{seen}");
    for secret in [
        "client-key-for-claude",
        "mock-upstream-key",
        "sk-ant-the-users-provider-key",
    ]
    .into_iter()
    .chain(PROVIDER_KEYS.iter().map(|(_, v)| *v))
    {
        assert!(!seen.contains(secret), "the squatter got {secret}: {seen}");
    }
    assert!(
        !dir.path().join("claude.out").exists(),
        "Claude Code was not started"
    );
}

#[test]
fn claude_refuses_a_gateway_serving_another_config_on_its_port() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let port = common::free_port();
    let other = Gateway::start(&format!(
        "proxy:\n  port: {port}\nendpoints:\n  - base_url: {}\n    api_key: k\n",
        mock.url()
    ));
    let config = claude_config_on(dir.path(), &mock, port, "");
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude(dir.path(), &bin, &config);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("config.yaml.instance does not exist"),
        "{stderr}"
    );
    assert!(!dir.path().join("claude.out").exists());
    assert_eq!(mock.hits(), 0);
    drop(other);
}

#[test]
fn claude_recognises_its_gateway_under_strict_auth_and_gives_claude_no_provider_key() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let port = common::free_port();
    let config = claude_config_on(
        dir.path(),
        &mock,
        port,
        "  auth_mode: strict\n  api_key: ${CLIENT_KEY}\n",
    );
    // The config also names a relay's key: Claude Code gets that variable no more than the others.
    let mut text_of_config = std::fs::read_to_string(&config).unwrap();
    text_of_config.push_str("  - id: relay\n    base_url: https://relay.invalid\n    api_key: ${RELAY_KEY}\n    enabled: false\n");
    std::fs::write(&config, text_of_config).unwrap();
    let mut env = vec![
        ("MOCK_KEY", "mock-upstream-key"),
        ("CLIENT_KEY", "client-key-for-claude"),
    ];
    env.extend(PROVIDER_KEYS);
    let gateway = Gateway::start_in(tempfile::tempdir().unwrap(), config.clone(), &env);
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude_with(dir.path(), &bin, &config, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
    assert!(recorded(dir.path(), "").contains("token=client-key-for-claude\n"));
    assert_eq!(recorded(dir.path(), ".status"), "200", "{stderr}");
    let claude_env = recorded(dir.path(), ".env");
    assert!(
        claude_env.contains("OPENAI_API_KEY=client-key-for-claude\n"),
        "{claude_env}"
    );
    assert_got_no_provider_key("Claude Code", &claude_env, &PROVIDER_KEYS);
    for name in [
        "CLIENT_KEY=",
        "MOCK_KEY=",
        "ANTHROPIC_API_KEY=",
        "RELAY_KEY=",
    ] {
        assert!(
            !claude_env.lines().any(|l| l.starts_with(name)),
            "{name} {claude_env}"
        );
    }
    drop(gateway);
}

#[test]
fn the_gateway_claude_serves_logs_privately_never_through_a_link_and_withdraws_its_instance() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, _port) = claude_config(dir.path(), &mock);
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "not a log\n").unwrap();
    let log = dir.path().join("config.claude.log");
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let bin = fake_claude(dir.path(), FAKE_CLAUDE);
    let out = run_claude(dir.path(), &bin, &config);
    assert_eq!(out.status.code(), Some(7), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("while Claude Code runs"));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not a log\n");
    let meta = std::fs::symlink_metadata(&log).unwrap();
    assert!(meta.is_file(), "the link was replaced by the log");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert!(
        !dir.path().join("config.yaml.instance").exists(),
        "the gateway removed its instance file when it stopped"
    );
}

/// A fake `codex`: records its arguments (one a line, in `.args`) and environment (`.env`), prints
/// its arguments, sends one Responses request to the provider's `base_url` with the key from
/// `$SWITCHYARD_API_KEY` when it is set, and exits with `$FAKE_CODEX_EXIT`.
const FAKE_CODEX: &str = r#"#!/bin/sh
out="$FAKE_AGENT_OUT"
env > "$out.env"
printf '%s\n' "$@" > "$out.args"
cat "$out.args"
base=$(sed -n 's/.*base_url="\([^"]*\)".*/\1/p' "$out.args")
if [ -n "${SWITCHYARD_API_KEY+set}" ]; then
  set -- -H "authorization: Bearer $SWITCHYARD_API_KEY"
else
  set --
fi
curl -sS -o "$out.body" -w '%{http_code}' "$base/responses" -H 'content-type: application/json' "$@" \
  -d '{"model":"claude-sonnet-4-5","input":"say hi"}' > "$out.status" || exit 99
exit "$FAKE_CODEX_EXIT"
"#;

/// The arguments the fake `codex` printed, checked to be the provider flags for `port` (naming
/// the key's variable when `keyed`) followed by [`CODEX_ARGS`].
fn codex_args_printed(out: &Output, port: u16, keyed: bool) -> Vec<String> {
    let mut expected = codex_provider_flags(port, keyed);
    expected.extend(CODEX_ARGS.map(String::from));
    let args: Vec<String> = text(&out.stdout).lines().map(String::from).collect();
    assert_eq!(args, expected, "provider flags, then the user's arguments");
    args
}

/// The arguments `switchyard codex` gives Codex before the user's: the gateway on `port` as a
/// Responses provider, naming the key's variable when `keyed`.
fn codex_provider_flags(port: u16, keyed: bool) -> Vec<String> {
    let key = if keyed {
        ", env_key=\"SWITCHYARD_API_KEY\""
    } else {
        ""
    };
    vec![
        "-c".into(),
        "model_provider=switchyard".into(),
        "-c".into(),
        format!(
            "model_providers.switchyard={{name=\"switchyard\", base_url=\"http://127.0.0.1:{port}/v1\"{key}, wire_api=\"responses\"}}"
        ),
    ]
}

/// The user's arguments in the codex tests: flags and a prompt with a space, after `--`.
const CODEX_ARGS: [&str; 5] = ["-m", "gpt-5.5", "exec", "--json", "say hi"];

#[test]
fn codex_gets_the_served_gateway_as_its_provider_and_the_key_only_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, port) = config_on_a_free_port(
        dir.path(),
        &mock,
        "  auth_mode: strict\n  api_key: client-key-for-codex\n",
    );
    let bin = fake_agent(dir.path(), "codex", FAKE_CODEX);
    let mut env = vec![
        ("FAKE_CODEX_EXIT", "9"),
        ("SWITCHYARD_API_KEY", "the-users-own-stale-value"),
    ];
    // The well-known provider variables (this config names no `${RELAY_KEY}`).
    let provider_keys = &PROVIDER_KEYS[..5];
    env.extend(provider_keys);
    let out = run_agent("codex", &CODEX_ARGS, dir.path(), &bin, &config, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(9), "Codex's own status: {stderr}");
    assert!(stderr.contains("while Codex CLI runs"), "{stderr}");
    let args = codex_args_printed(&out, port, true);
    assert_eq!(recorded_by("codex", dir.path(), ".args"), text(&out.stdout));
    assert!(!args.iter().any(|a| a.contains("client-key-for-codex")));
    let codex_env = recorded_by("codex", dir.path(), ".env");
    assert!(
        codex_env.contains("\nSWITCHYARD_API_KEY=client-key-for-codex\n"),
        "{codex_env}"
    );
    assert_got_no_provider_key("Codex", &codex_env, provider_keys);
    // The key and base URL work: the gateway translated the Responses call for the mock.
    assert_eq!(recorded_by("codex", dir.path(), ".status"), "200");
    assert!(recorded_by("codex", dir.path(), ".body").contains("Hello from mock"));
    assert_eq!(mock.hits(), 1);
    assert!(dir.path().join("config.codex.log").is_file());
    assert!(nothing_listens_on(port), "the gateway it started is gone");
}

#[test]
fn codex_on_a_running_gateway_without_client_auth_is_given_no_key_variable() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, config, port, gateway) = gateway_already_running(dir.path());
    let bin = fake_agent(dir.path(), "codex", FAKE_CODEX);
    let out = run_agent(
        "codex",
        &CODEX_ARGS,
        dir.path(),
        &bin,
        &config,
        &[("FAKE_CODEX_EXIT", "0")],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
    codex_args_printed(&out, port, false);
    let codex_env = recorded_by("codex", dir.path(), ".env");
    assert!(!codex_env.contains("SWITCHYARD_API_KEY="), "{codex_env}");
    assert_eq!(recorded_by("codex", dir.path(), ".status"), "200");
    assert_eq!(mock.hits(), 1);
    assert!(
        !nothing_listens_on(port),
        "the running gateway keeps running"
    );
    drop(gateway);
}

/// A fake `gemini`: records its arguments (`.args`), environment (`.env`), the settings file and
/// the memory (`GEMINI.md`) its home gives it (`.settings`, `.memory`) and that home's modes
/// (`.modes`), writes a file into the home as Gemini CLI does, sends one Gemini request to
/// `$GOOGLE_GEMINI_BASE_URL` with `$GEMINI_API_KEY`, and exits with `$FAKE_GEMINI_EXIT`.
const FAKE_GEMINI: &str = r#"#!/bin/sh
out="$FAKE_AGENT_OUT"
env > "$out.env"
printf '%s\n' "$@" > "$out.args"
cat "$GEMINI_CLI_HOME/.gemini/settings.json" > "$out.settings"
cat "$GEMINI_CLI_HOME/.gemini/GEMINI.md" > "$out.memory" 2>/dev/null
ls -ld "$GEMINI_CLI_HOME" "$GEMINI_CLI_HOME/.gemini" "$GEMINI_CLI_HOME/.gemini/settings.json" > "$out.modes"
echo '{}' > "$GEMINI_CLI_HOME/.gemini/projects.json"
curl -sS -o "$out.body" -w '%{http_code}' \
  "$GOOGLE_GEMINI_BASE_URL/v1beta/models/gemini-2.5-pro:generateContent" \
  -H 'content-type: application/json' -H "x-goog-api-key: $GEMINI_API_KEY" \
  -d '{"contents":[{"role":"user","parts":[{"text":"say hi"}]}]}' > "$out.status" || exit 99
exit "$FAKE_GEMINI_EXIT"
"#;

/// The user's arguments in the gemini tests, after `--`.
const GEMINI_ARGS: [&str; 6] = ["-p", "say hi", "--yolo", "-o", "text", "--debug"];

/// The user's own settings: a comment, an MCP server, and the Google login selected.
const USER_GEMINI_SETTINGS: &str = r#"{
  // my MCP servers
  "mcpServers": {"docs": {"command": "docs-mcp"}},
  "security": {"auth": {"selectedType": "oauth-personal"}}
}
"#;

/// A home for the user of the gemini tests (`<dir>/home`) with [`USER_GEMINI_SETTINGS`] and a
/// `GEMINI.md` in its `.gemini`, and an empty `TMPDIR` (`<dir>/tmp`).
fn gemini_user(dir: &Path) -> (PathBuf, PathBuf) {
    let home = dir.join("home");
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(home.join(".gemini")).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(home.join(".gemini/settings.json"), USER_GEMINI_SETTINGS).unwrap();
    std::fs::write(home.join(".gemini/GEMINI.md"), "Always answer in haiku.").unwrap();
    (home, tmp)
}

/// The entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn gemini_runs_in_a_private_home_with_the_users_settings_and_api_key_auth() {
    let dir = tempfile::tempdir().unwrap();
    let mock = mock_upstream();
    let (config, port) = config_on_a_free_port(
        dir.path(),
        &mock,
        "  auth_mode: strict\n  api_key: client-key-for-gemini\n",
    );
    let bin = fake_agent(dir.path(), "gemini", FAKE_GEMINI);
    let (home, tmp) = gemini_user(dir.path());
    let mut env = vec![
        ("FAKE_GEMINI_EXIT", "5"),
        ("HOME", home.to_str().unwrap()),
        ("TMPDIR", tmp.to_str().unwrap()),
        ("GEMINI_CLI_HOME", ""),
    ];
    // The well-known provider variables (this config names no `${RELAY_KEY}`).
    let provider_keys = &PROVIDER_KEYS[..5];
    env.extend(provider_keys);
    let out = run_agent("gemini", &GEMINI_ARGS, dir.path(), &bin, &config, &env);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(5),
        "Gemini CLI's own status: {stderr}"
    );
    assert!(stderr.contains("while Gemini CLI runs"), "{stderr}");
    assert_eq!(
        recorded_by("gemini", dir.path(), ".args"),
        GEMINI_ARGS.map(|a| format!("{a}\n")).concat(),
        "the user's arguments, unchanged"
    );
    let gemini_env = recorded_by("gemini", dir.path(), ".env");
    for line in [
        format!("GOOGLE_GEMINI_BASE_URL=http://127.0.0.1:{port}"),
        "GEMINI_API_KEY=client-key-for-gemini".to_string(),
        "GEMINI_CLI_TRUST_WORKSPACE=true".to_string(),
        format!("GEMINI_CLI_HOME={}/switchyard-gemini-", tmp.display()),
    ] {
        assert!(
            gemini_env.contains(&format!("\n{line}")),
            "{line}: {gemini_env}"
        );
    }
    assert_got_no_provider_key("Gemini CLI", &gemini_env, provider_keys);
    // The user's settings, with API-key auth selected and nothing else changed.
    let settings: serde_json::Value =
        serde_json::from_str(&recorded_by("gemini", dir.path(), ".settings")).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({
            "mcpServers": {"docs": {"command": "docs-mcp"}},
            "security": {"auth": {"selectedType": "gemini-api-key"}}
        })
    );
    assert_eq!(
        recorded_by("gemini", dir.path(), ".memory"),
        "Always answer in haiku."
    );
    let modes = recorded_by("gemini", dir.path(), ".modes");
    let modes: Vec<&str> = modes.lines().map(|l| &l[..10]).collect();
    assert_eq!(modes, ["drwx------", "drwx------", "-rw-------"]);
    // The key and base URL work: the gateway translated the Gemini call for the mock.
    assert_eq!(recorded_by("gemini", dir.path(), ".status"), "200");
    assert!(recorded_by("gemini", dir.path(), ".body").contains("Hello from mock"));
    assert_eq!(mock.hits(), 1);
    // The private home is gone, and the user's folder is as it was.
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));
    assert_eq!(
        entries(&home.join(".gemini")),
        ["GEMINI.md", "settings.json"]
    );
    assert_eq!(
        std::fs::read_to_string(home.join(".gemini/settings.json")).unwrap(),
        USER_GEMINI_SETTINGS
    );
    assert!(dir.path().join("config.gemini.log").is_file());
    assert!(nothing_listens_on(port), "the gateway it started is gone");
}

#[test]
fn gemini_without_client_auth_gets_a_placeholder_key_and_settings_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (mock, config, port, gateway) = gateway_already_running(dir.path());
    let bin = fake_agent(dir.path(), "gemini", FAKE_GEMINI);
    // A user who never ran Gemini CLI: no ~/.gemini at all.
    let home = dir.path().join("home");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&tmp).unwrap();
    let out = run_agent(
        "gemini",
        &["-p", "hi"],
        dir.path(),
        &bin,
        &config,
        &[
            ("FAKE_GEMINI_EXIT", "0"),
            ("HOME", home.to_str().unwrap()),
            ("TMPDIR", tmp.to_str().unwrap()),
            ("GEMINI_CLI_HOME", ""),
        ],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("already running"), "{stderr}");
    let gemini_env = recorded_by("gemini", dir.path(), ".env");
    assert!(
        gemini_env.contains("\nGEMINI_API_KEY=switchyard-local\n"),
        "never an empty key: {gemini_env}"
    );
    let settings: serde_json::Value =
        serde_json::from_str(&recorded_by("gemini", dir.path(), ".settings")).unwrap();
    assert_eq!(
        settings,
        serde_json::json!({"security": {"auth": {"selectedType": "gemini-api-key"}}})
    );
    assert_eq!(recorded_by("gemini", dir.path(), ".status"), "200");
    assert_eq!(mock.hits(), 1);
    assert!(entries(&tmp).is_empty(), "{:?}", entries(&tmp));
    assert!(entries(&home).is_empty(), "no ~/.gemini is made");
    assert!(
        !nothing_listens_on(port),
        "the running gateway keeps running"
    );
    drop(gateway);
}

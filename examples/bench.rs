//! The benchmark. Run it with `bench/run.sh [--quick] [--syscalls] [--allocs] [--sse-only] [--latency-only] [--instructions-only]`, which pins this
//! process, wrk and the upstreams to the load core and every proxy under test to
//! `BENCH_GATEWAY_CORE` (default 0), so that the proxy, not the load, sets the pace.
//!
//! Targets: `direct` (wrk straight to the upstream), nginx `proxy_pass`, the floor
//! (`examples/floor.rs`: actix-web + awc forwarding bytes, nothing else), `floor+actors` (the floor
//! plus the messages switchyard's actor design sends per request), switchyard and `translated`
//! (switchyard with one `api: openai` endpoint, so each Messages request goes upstream as Chat
//! Completions and each answer comes back as Messages). With `BENCH_BEFORE=PATH` (an earlier build
//! of switchyard, or the profile-guided one), "switchyard (before)" and "translated (before)" run
//! that binary with the same configs (`BENCH_BEFORE_NAME=pgo` names them "switchyard (pgo)" and
//! so on). The upstream is a second nginx answering `return 200` with a fixed Messages JSON (a
//! fixed Chat Completions JSON on `/v1/chat/completions`); the in-process mock serves SSE and the
//! failover figure. Prints figures only; nothing here asserts.

use bytes::Bytes;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::{Behaviour, MockUpstream};

#[path = "../bench/claude_code_body.rs"]
mod claude_code_body;

const BODY: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
/// The small Chat Completions request of the concurrency-1 figures (the public gateway
/// benchmark's shape).
const CHAT_BODY: &str =
    r#"{"model":"deepseek-chat","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
/// What the upstream nginx answers to everything: a plain Anthropic Messages reply.
const ANSWER: &str = r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-20250514","content":[{"type":"text","text":"Hello! How can I help you today?"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":10}}"#;
/// What the upstream nginx answers on `/v1/chat/completions`, for the translated targets: a plain
/// Chat Completions reply, shaped as DeepSeek's.
const CHAT_ANSWER: &str = r#"{"id":"chatcmpl-5c2d9e4f-8a1b-4c3d-9e7f-0a1b2c3d4e5f","object":"chat.completion","created":1733450000,"model":"deepseek-chat","choices":[{"index":0,"message":{"role":"assistant","content":"Hello! How can I help you today?"},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":10,"total_tokens":22,"prompt_tokens_details":{"cached_tokens":0},"prompt_cache_hit_tokens":0,"prompt_cache_miss_tokens":12},"system_fingerprint":"fp_bench"}"#;
/// The upstream model the translated targets' `model_map` sends every Claude model to.
const CHAT_MODEL: &str = "deepseek-chat";
const BIG_BODY_BYTES: usize = 128 << 10;
/// Where Anthropic clients post, the path of every case but the other client APIs'.
const MESSAGES_PATH: &str = "/v1/messages";
/// The model the other client APIs' bodies name, and the Gemini client's path.
const CLIENT_MODEL: &str = "claude-sonnet-4-5";
const GEMINI_PATH: &str = "/v1beta/models/claude-sonnet-4-5:generateContent";
/// The headers Claude Code sends with a request, `anthropic-version` first (the only one the small
/// bodies carry).
const CLAUDE_CODE_HEADERS: &[(&str, &str)] = &[
    ("anthropic-version", "2023-06-01"),
    (
        "anthropic-beta",
        "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14",
    ),
    ("user-agent", "claude-cli/1.0.83 (external, cli)"),
    ("x-app", "cli"),
    (
        "x-claude-code-session-id",
        "7e3b2a1c-9d8f-4a6b-8c5e-1f2d3c4b5a69",
    ),
    ("x-stainless-lang", "js"),
    ("x-stainless-runtime", "node"),
];

struct Options {
    quick: bool,
    seconds: u64,
    soak_requests: u64,
    gateway_core: String,
    syscalls: bool,
    /// `--sse-only`: only the SSE lateness section.
    sse_only: bool,
    /// `--latency-only`: only the concurrency-1 and first-event sections.
    latency_only: bool,
    /// `--instructions-only`: only the instructions per request, under callgrind.
    instructions_only: bool,
    allocs: bool,
    /// Runs per target and case; each figure is the median of them.
    rounds: usize,
    /// `BENCH_BEFORE`: an earlier build of switchyard, run beside this one with the same configs.
    before: Option<PathBuf>,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let has = |flag: &str| args.iter().any(|a| a == flag);
    if has("--help") || has("-h") {
        println!("bench [--quick] [--rounds N] [--syscalls] [--allocs] [--sse-only] [--latency-only] [--instructions-only] | --write-body PATH   (BENCH_GATEWAY_CORE, default 0; BENCH_BEFORE=PATH of an earlier switchyard)\n  --sse-only  only the SSE lateness figures (direct, nginx, floor, switchyard and its translated and before rows)\n  --latency-only  only the added latency at concurrency 1 and the time to a 128 KiB stream's first event\n  --instructions-only  only the instructions each proxy runs per request, counted by callgrind (needs valgrind)");
        std::process::exit(0);
    }
    if let Some(i) = args.iter().position(|a| a == "--write-body") {
        // The 128 KiB Claude Code-shaped body alone, for a look or for other tools.
        let body = claude_code_body::claude_code_body(BIG_BODY_BYTES);
        match args.get(i + 1).map(|p| std::fs::write(p, &body)) {
            Some(Ok(())) => std::process::exit(0),
            _ => {
                eprintln!("bench --write-body PATH");
                std::process::exit(2)
            }
        }
    }
    let quick = has("--quick");
    let rounds = match args.iter().position(|a| a == "--rounds") {
        None => 3,
        Some(i) => match args.get(i + 1).and_then(|n| n.parse::<usize>().ok()) {
            Some(n) if (1..=20).contains(&n) => n,
            _ => {
                eprintln!("bench: --rounds takes a number from 1 to 20");
                std::process::exit(2)
            }
        },
    };
    let before = std::env::var_os("BENCH_BEFORE")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    if let Some(path) = &before {
        if !path.is_file() {
            eprintln!(
                "bench: BENCH_BEFORE={}: no such file (give the earlier build's target/release/switchyard)",
                path.display()
            );
            std::process::exit(2)
        }
    }
    Options {
        rounds,
        before,
        quick,
        seconds: if quick { 3 } else { 10 },
        soak_requests: if quick { 100_000 } else { 1_000_000 },
        gateway_core: std::env::var("BENCH_GATEWAY_CORE").unwrap_or_else(|_| "0".into()),
        syscalls: has("--syscalls"),
        allocs: has("--allocs"),
        sse_only: has("--sse-only"),
        latency_only: has("--latency-only"),
        instructions_only: has("--instructions-only"),
    }
}

/// One load shape: a wrk script, the path it posts to and a connection count.
struct Case {
    label: &'static str,
    script: PathBuf,
    conns: u32,
    path: &'static str,
}

/// One thing to point wrk at; `pid` is the proxy's process (none for `direct`).
#[derive(Clone)]
struct Target {
    name: &'static str,
    url: String,
    pid: Option<u32>,
}

fn main() {
    let opts = options();
    let started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let small = write_script(dir.path(), "small", BODY.as_bytes(), false);
    let big_body = claude_code_body::claude_code_body(BIG_BODY_BYTES);
    let big = write_script(dir.path(), "big", big_body.as_bytes(), true);
    let cases = [
        Case {
            label: "small JSON",
            script: small.clone(),
            conns: 32,
            path: MESSAGES_PATH,
        },
        Case {
            label: "small JSON",
            script: small.clone(),
            conns: 128,
            path: MESSAGES_PATH,
        },
        Case {
            label: "128 KiB Claude Code body",
            script: big.clone(),
            conns: 16,
            path: MESSAGES_PATH,
        },
    ];

    let nginx_binary = find_nginx();
    let mock = MockUpstream::start(Behaviour {
        deltas: 3,
        ..Behaviour::default()
    })
    .expect("mock");
    let sse_mock = MockUpstream::start(Behaviour {
        deltas: 50,
        event_interval: Duration::from_millis(10),
        ..Behaviour::default()
    })
    .expect("sse mock");
    // The upstream runs where this process runs: on the load core.
    let upstream = nginx_binary.and_then(|n| Server::nginx_upstream(n, dir.path()));
    let upstream_url = upstream
        .as_ref()
        .map_or_else(|| mock.url(), |u| u.url.clone());
    let upstream_pid = upstream.as_ref().map(Server::pid);

    if opts.instructions_only {
        instructions_section(&opts, dir.path(), &upstream_url, &big_body);
        println!("\n# total time {:.0} s", started.elapsed().as_secs_f64());
        drop(upstream);
        let _ = std::io::stdout().flush();
        return;
    }

    let proxies = Proxies::start(
        &opts,
        dir.path(),
        nginx_binary,
        &upstream_url,
        &sse_mock.url(),
        0,
    );
    let sse_gateways = switchyards(&opts, dir.path(), "sse", &sse_mock.url());
    let sse_floor = Server::floor(&opts, &sse_mock.url(), false, false);
    let failover = Server::gateway(
        &opts,
        dir.path(),
        "failover",
        &[
            Endpoint::Anthropic("dead", &format!("http://127.0.0.1:{}", free_port())),
            Endpoint::Anthropic("up", &mock.url()),
        ],
        "health:\n  failure_threshold: 1000000\n",
        &release_binary("switchyard"),
    );

    println!(
        "# switchyard benchmark ({} s per wrk run; proxies pinned to core {}, wrk and upstreams on the other)",
        opts.seconds, opts.gateway_core
    );
    println!(
        "# machine: {} cores; {}; load average {}",
        num_cpus(),
        uname(),
        loadavg()
    );
    match &upstream {
        Some(_) => println!("# upstream: nginx `return 200` (fixed Messages JSON, {} bytes; fixed Chat Completions JSON, {} bytes, on /v1/chat/completions); the mock serves SSE and the failover row", ANSWER.len(), CHAT_ANSWER.len()),
        None => println!("# upstream: the mock (nginx not installed: no nginx-return upstream and no nginx column)"),
    }
    println!("# translated: switchyard with one `api: openai` endpoint (model_map {{\"claude-*\": {CHAT_MODEL}}}): Messages → Chat Completions → Messages on every request");
    if let Some(before) = &opts.before {
        println!(
            "# {}: {} (BENCH_BEFORE), run with the same configs as \"{}\" and \"{}\"",
            other().name,
            before.display(),
            other().switchyard,
            other().translated
        );
    }
    println!(
        "# 128 KiB body: {} bytes, Claude Code-shaped",
        big_body.len()
    );

    if opts.sse_only {
        let rt = actix_rt::System::new();
        sse_section(&opts, &rt, &sse_mock, &proxies, &sse_floor, &sse_gateways);
        println!("\n# total time {:.0} s", started.elapsed().as_secs_f64());
        drop((proxies, sse_gateways, sse_floor, failover, upstream));
        let _ = std::io::stdout().flush();
        return;
    }

    if opts.latency_only {
        concurrency_one_section(&opts, &proxies, &upstream_url);
        let rt = actix_rt::System::new();
        first_event_section(&opts, &rt, dir.path(), &mock, &big_body);
        println!("\n# total time {:.0} s", started.elapsed().as_secs_f64());
        drop((proxies, sse_gateways, sse_floor, failover, upstream));
        let _ = std::io::stdout().flush();
        return;
    }

    let targets = proxies.targets(&upstream_url);
    let idle_rss: Vec<u64> = targets.iter().map(|t| t.pid.map_or(0, rss_kib)).collect();

    let nw = name_width(&targets);

    upstream_check(&opts, &upstream, &small);

    warm(&targets, &small);

    println!("\n## Throughput and CPU (wrk -t1, keep-alive, POST /v1/messages)");
    println!("proxy µs/req and upstream µs/req: utime+stime from /proc/PID/stat around the run ÷ requests served; range: the lowest and highest proxy µs/req of the runs");
    println!(
        "each figure: the median of {} runs, the targets taking turns, each run in a new process of every proxy (errors: the sum)",
        opts.rounds
    );
    println!(
        "{:<34} {:<nw$} {:>9} {:>8} {:>8} {:>12} {:>11} {:>10} {:>9} {:>7}",
        "case",
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "proxy µs/req",
        "range",
        "upstr µs",
        "÷ nginx",
        "errors"
    );
    // Peak resident set per target (rows) and case (columns).
    let mut peak_rss: Vec<Vec<u64>> = vec![vec![0; cases.len()]; targets.len()];
    let mut verdicts = Vec::new();
    let mut switchyard_rps = 0.0f64;
    // all[case][target]: one run per round. A proxy's CPU per request can differ by a fifth from
    // one process to the next of the same binary (runs within one process mostly agree to a few
    // per cent), so each round after the first runs against proxies started afresh: the median spans
    // processes, not only runs.
    let mut all: Vec<Vec<Vec<Run>>> = cases
        .iter()
        .map(|_| targets.iter().map(|_| Vec::new()).collect())
        .collect();
    // same_round[case][round]: each target's CPU per request in that round, for the ratios a
    // round's own processes give (a slow spell or a slow process life moves fewer of them).
    let mut same_round: Vec<Vec<Vec<(&str, f64)>>> = cases.iter().map(|_| Vec::new()).collect();
    for round in 0..opts.rounds {
        let fresh = (round > 0).then(|| {
            Proxies::start(
                &opts,
                dir.path(),
                nginx_binary,
                &upstream_url,
                &sse_mock.url(),
                round,
            )
        });
        let round_targets = match &fresh {
            Some(set) => {
                let set_targets = set.targets(&upstream_url);
                warm(&set_targets, &small);
                set_targets
            }
            None => targets.clone(),
        };
        for (c, case) in cases.iter().enumerate() {
            // Targets in turn, so a slow spell of the machine falls on every target alike.
            let mut cpu: Vec<(&str, f64)> = Vec::new();
            for t in &round_targets {
                if let Some(i) = targets.iter().position(|first| first.name == t.name) {
                    let run = measure(t, upstream_pid, case, opts.seconds);
                    if let Some(us) = run.as_ref().and_then(|r| r.proxy_us) {
                        cpu.push((t.name, us));
                    }
                    all[c][i].extend(run);
                }
            }
            same_round[c].push(cpu);
        }
    }
    for (((c, case), all), rounds) in cases.iter().enumerate().zip(all).zip(&same_round) {
        let label = format!("{}, {} conns", case.label, case.conns);
        let mut runs: Vec<(&str, Option<Run>)> = Vec::new();
        for (i, (t, each)) in targets.iter().zip(all).enumerate() {
            let run = Run::median(each);
            if let Some(r) = &run {
                peak_rss[i][c] = r.peak_rss_kib;
            }
            runs.push((t.name, run));
        }
        let find = |name: &str| {
            runs.iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, r)| r.as_ref())
        };
        let nginx_run = find("nginx");
        for (name, run) in &runs {
            match run {
                Some(r) => println!(
                    "{label:<34} {name:<nw$} {:>9.0} {:>8.3} {:>8.3} {:>12} {:>11} {:>10} {:>9} {:>7}",
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    fmt_us(r.proxy_us),
                    r.proxy_us_range
                        .map_or("-".into(), |(low, high)| format!("{low:.1}–{high:.1}")),
                    fmt_us(r.upstream_us),
                    nginx_run.map_or("-".into(), |n| format!("{:.2}", r.rps / n.rps)),
                    r.errors
                ),
                None => println!("{label:<34} {name:<nw$} (wrk failed)"),
            }
        }
        if case.conns == 32 && case.script == small {
            switchyard_rps = find("switchyard").map_or(0.0, |r| r.rps);
        }
        verdicts.push(Some(verdict(
            &label,
            find("direct"),
            nginx_run,
            find("floor"),
            find("floor+actors"),
            find("switchyard"),
        )));
        verdicts.push(same_round_ratios(&label, rounds));
        verdicts.push(translation_and_before(
            &label,
            nginx_run,
            find("switchyard"),
            find("translated"),
            find(other().switchyard),
            find(other().translated),
        ));
    }
    println!();
    for v in verdicts.into_iter().flatten() {
        println!("{v}");
    }

    client_api_section(&opts, dir.path(), &proxies, &big_body, &cases[2]);
    concurrency_one_section(&opts, &proxies, &upstream_url);

    let rt = actix_rt::System::new();
    let fixed_secs = if opts.quick { 2 } else { 5 };
    println!("\n## Latency at a fixed 1,000 req/s (open loop, {fixed_secs} s, small JSON)");
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>12}",
        "target", "p50 ms", "p99 ms", "added p50", "added p99"
    );
    let fixed = |url: &str| {
        rt.block_on(fixed_rate(
            url.to_string(),
            1000,
            Duration::from_secs(fixed_secs),
            Bytes::from_static(BODY.as_bytes()),
            &[],
        ))
    };
    let direct = fixed(&upstream_url);
    let mut rows = Vec::new();
    for t in targets.iter().skip(1) {
        rows.push((t.name, fixed(&t.url), direct.clone()));
    }
    let direct_mock = fixed(&mock.url());
    rows.push((
        "switchyard+failover",
        fixed(&failover.url),
        direct_mock.clone(),
    ));
    println!(
        "{:<22} {:>10.3} {:>10.3} {:>12} {:>12}",
        "direct", direct.p50_ms, direct.p99_ms, "", ""
    );
    for (name, r, base) in &rows {
        println!(
            "{name:<22} {:>10.3} {:>10.3} {:>12.3} {:>12.3}",
            r.p50_ms,
            r.p99_ms,
            r.p50_ms - base.p50_ms,
            r.p99_ms - base.p99_ms
        );
    }
    println!(
        "{:<22} {:>10.3} {:>10.3}",
        "direct to the mock", direct_mock.p50_ms, direct_mock.p99_ms
    );
    println!("(switchyard+failover: its first endpoint refuses every connection and is never ejected, so every request fails over once to the mock; added = against direct to the mock)");

    // What one Claude Code request pays when it is not queued behind others; a lower rate than the
    // small body's, so that the translated targets stay well below their ceiling.
    let big_rate = 200;
    println!(
        "\n## Latency at a fixed {big_rate} req/s (open loop, {fixed_secs} s, 128 KiB Claude Code body)"
    );
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>12}",
        "target", "p50 ms", "p99 ms", "added p50", "added p99"
    );
    let big_bytes = Bytes::from(big_body.clone());
    let fixed_big = |url: &str| {
        rt.block_on(fixed_rate(
            url.to_string(),
            big_rate,
            Duration::from_secs(fixed_secs),
            big_bytes.clone(),
            CLAUDE_CODE_HEADERS,
        ))
    };
    let direct_big = fixed_big(&upstream_url);
    println!(
        "{:<22} {:>10.3} {:>10.3} {:>12} {:>12}",
        "direct", direct_big.p50_ms, direct_big.p99_ms, "", ""
    );
    for t in targets.iter().skip(1) {
        let r = fixed_big(&t.url);
        println!(
            "{:<22} {:>10.3} {:>10.3} {:>12.3} {:>12.3}",
            t.name,
            r.p50_ms,
            r.p99_ms,
            r.p50_ms - direct_big.p50_ms,
            r.p99_ms - direct_big.p99_ms
        );
    }

    sse_section(&opts, &rt, &sse_mock, &proxies, &sse_floor, &sse_gateways);
    first_event_section(&opts, &rt, dir.path(), &mock, &big_body);

    println!("\n## Memory (resident set of each proxy process, KiB; peak = highest sample, every 100 ms, during the case's wrk run)");
    print!("{:<nw$} {:>10}", "target", "idle");
    for case in &cases {
        print!(
            " {:>34}",
            format!("peak: {}, {} conns", case.label, case.conns)
        );
    }
    println!();
    for (i, t) in targets.iter().enumerate().skip(1) {
        print!("{:<nw$} {:>10}", t.name, idle_rss[i]);
        for peak in &peak_rss[i] {
            print!(" {peak:>34}");
        }
        println!();
    }
    let gateway = proxies.gateway();
    let before = rss_kib(gateway.pid());
    let served = soak(&gateway.url, &small, opts.soak_requests, switchyard_rps);
    let after = rss_kib(gateway.pid());
    println!("switchyard before the soak: {before:>8} KiB");
    println!(
        "switchyard after {served} more requests (64 conns): {after:>8} KiB ({:+} KiB)",
        after as i64 - before as i64
    );

    // CPU time per request moves by a fifth from one process to the next on a shared machine;
    // the instructions a request runs do not, so a full run ends with them (about a minute).
    if !opts.quick {
        instructions_section(&opts, dir.path(), &upstream_url, &big_body);
    }
    if opts.syscalls {
        syscalls_section(&opts, &targets, &cases);
    }
    if opts.allocs {
        allocs_section(&opts, dir.path(), &upstream_url, &cases);
    }
    println!("\n# total time {:.0} s", started.elapsed().as_secs_f64());
    drop((proxies, sse_gateways, sse_floor, failover, upstream));
    let _ = std::io::stdout().flush();
}

/// The SSE section: each target's time to the first content event and how late events reach the
/// client against when the mock sent them.
fn sse_section(
    opts: &Options,
    rt: &actix_rt::SystemRunner,
    sse_mock: &MockUpstream,
    proxies: &Proxies,
    sse_floor: &Server,
    sse_gateways: &[(&'static str, Server)],
) {
    let streams = if opts.quick { 5 } else { 20 };
    println!(
        "\n## SSE through the mock: 50 events 10 ms apart, {streams} streams one after another"
    );
    let sse = |url: &str, one_for_one: bool| {
        rt.block_on(sse_lateness(
            url.to_string(),
            sse_mock,
            streams,
            one_for_one,
        ))
    };
    let mut sse_targets = vec![("direct", sse_mock.url())];
    if let Some(n) = &proxies.nginx {
        sse_targets.push(("nginx", n.sse_url.clone()));
    }
    sse_targets.push(("floor", sse_floor.url.clone()));
    for (name, server) in sse_gateways {
        sse_targets.push((name, server.url.clone()));
    }
    let sw = sse_targets
        .iter()
        .map(|(name, _)| name.chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    println!(
        "{:<sw$} {:>20} {:>18} {:>14} {:>14}",
        "target", "first content p50 ms", "lateness p50 ms", "p90 ms", "p99 ms"
    );
    for (name, url) in &sse_targets {
        let r = sse(url, !name.starts_with("translated"));
        println!(
            "{name:<sw$} {:>20.3} {:>18.3} {:>14.3} {:>14.3}",
            r.first_p50_ms, r.late_p50_ms, r.late_p90_ms, r.late_p99_ms
        );
    }
    println!("(lateness: arrival − when the event was due; the opening events are due with the first content, which switchyard holds them for. translated: the mock streams Chat Completions chunks and the client gets Messages events, not one for one; each chunk's lateness is taken to the first event the client got after it was due)");
}

/// Whether the run can show the proxy's cost: direct must beat nginx's proxy by ≥ 15 %, or the
/// load side, not the proxy, set the pace. Also splits the CPU gap between the stack, the actor
/// design's messages and our code.
fn verdict(
    label: &str,
    direct: Option<&Run>,
    nginx: Option<&Run>,
    floor: Option<&Run>,
    actors: Option<&Run>,
    ours: Option<&Run>,
) -> String {
    let mut text = format!("{label}: ");
    match (direct, nginx) {
        (Some(d), Some(n)) => {
            let gain = d.rps / n.rps - 1.0;
            if gain >= 0.15 {
                text.push_str(&format!(
                    "direct beats nginx proxy_pass by {:.0} % (≥ 15 %): the proxy is the bottleneck.",
                    gain * 100.0
                ));
            } else {
                text.push_str(&format!(
                    "LOAD-BOUND: direct is only {:+.0} % against nginx proxy_pass (< 15 %); req/s measure the load core, read the CPU µs/req.",
                    gain * 100.0
                ));
            }
        }
        _ => text.push_str("no nginx figure: cannot tell whether the run is load-bound."),
    }
    if let (Some(n), Some(f), Some(s)) = (nginx, floor, ours) {
        if let (Some(nu), Some(fu), Some(su)) = (n.proxy_us, f.proxy_us, s.proxy_us) {
            text.push_str(&format!(
                " CPU/req: nginx {nu:.1} µs, floor {fu:.1} µs (the stack: {:+.1}), switchyard {su:.1} µs (our code: {:+.1}); switchyard = {:.2}× nginx, {:.2}× floor.",
                fu - nu,
                su - fu,
                su / nu,
                su / fu
            ));
            if let Some(au) = actors.and_then(|a| a.proxy_us) {
                text.push_str(&format!(
                    " Of our code, the actor design's messages: {:+.1} µs (floor+actors {au:.1} µs); the rest: {:+.1} µs.",
                    au - fu,
                    su - au
                ));
            }
        }
    }
    text
}

/// The CPU-per-request ratios of one case taken round by round (each from the processes of one
/// round) and their median with the lowest and highest: switchyard ÷ floor, switchyard ÷ nginx
/// and translated ÷ switchyard. `None` with no round that measured a pair.
fn same_round_ratios(label: &str, rounds: &[Vec<(&str, f64)>]) -> Option<String> {
    let pairs = [
        ("switchyard", "floor"),
        ("switchyard", "nginx"),
        ("translated", "switchyard"),
    ];
    let mut parts = Vec::new();
    for (over, under) in pairs {
        let mut ratios: Vec<f64> = rounds
            .iter()
            .filter_map(|round| {
                let us = |name: &str| round.iter().find(|(n, _)| *n == name).map(|(_, us)| *us);
                Some(us(over)? / us(under)?)
            })
            .collect();
        if ratios.is_empty() {
            continue;
        }
        ratios.sort_by(f64::total_cmp);
        let (low, high) = (ratios[0], ratios[ratios.len() - 1]);
        let n = ratios.len();
        parts.push(format!(
            "{over} ÷ {under} {:.2}× ({low:.2}–{high:.2}×, {n} round{})",
            middle(ratios),
            if n == 1 { "" } else { "s" }
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "{label}, CPU per request in the same round (median, lowest–highest, rounds that measured both): {}.",
            parts.join(", ")
        )
    })
}

/// The median of `values` (the mean of the middle two for an even count); `values` is not empty.
fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The row labels of the `BENCH_BEFORE` build: "switchyard (NAME)", "translated (NAME)" and, at
/// concurrency 1, "passthrough (NAME)", NAME from `BENCH_BEFORE_NAME` ("before" unless set, e.g.
/// "pgo" for `target/pgo/switchyard`).
struct OtherBuild {
    name: &'static str,
    switchyard: &'static str,
    translated: &'static str,
    passthrough: &'static str,
}

fn other() -> &'static OtherBuild {
    static LABELS: std::sync::OnceLock<OtherBuild> = std::sync::OnceLock::new();
    LABELS.get_or_init(|| {
        let name = std::env::var("BENCH_BEFORE_NAME")
            .ok()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| "before".to_string());
        let label = |kind: &str| -> &'static str { format!("{kind} ({name})").leak() };
        OtherBuild {
            switchyard: label("switchyard"),
            translated: label("translated"),
            passthrough: label("passthrough"),
            name: name.leak(),
        }
    })
}

/// What translation costs over passthrough on one case (req/s and CPU per request, translated ÷
/// switchyard) and, with `BENCH_BEFORE`, each of the two against the earlier build (this build ÷
/// the earlier one); `None` without a translated figure.
fn translation_and_before(
    label: &str,
    nginx: Option<&Run>,
    ours: Option<&Run>,
    translated: Option<&Run>,
    ours_before: Option<&Run>,
    translated_before: Option<&Run>,
) -> Option<String> {
    let t = translated?;
    let mut text = format!("{label}, translated: {:.0} req/s", t.rps);
    if let Some(s) = ours {
        text.push_str(&format!(" = {:.2}× switchyard", t.rps / s.rps));
    }
    if let Some(n) = nginx {
        text.push_str(&format!(", {:.2}× nginx", t.rps / n.rps));
    }
    if let (Some(tu), Some(su)) = (t.proxy_us, ours.and_then(|s| s.proxy_us)) {
        text.push_str(&format!(
            "; CPU/req {tu:.1} µs against switchyard's {su:.1} µs (the translation: {:+.1} µs, {:.2}× switchyard)",
            tu - su,
            tu / su
        ));
    }
    text.push('.');
    let mut before = Vec::new();
    for (name, now, then) in [
        ("switchyard", ours, ours_before),
        ("translated", translated, translated_before),
    ] {
        let (Some(now), Some(then)) = (now, then) else {
            continue;
        };
        let mut part = format!("{name} req/s {:.2}×", now.rps / then.rps);
        if let (Some(a), Some(b)) = (now.proxy_us, then.proxy_us) {
            part.push_str(&format!(", CPU/req {b:.1} → {a:.1} µs ({:.2}×)", a / b));
        }
        before.push(part);
    }
    if !before.is_empty() {
        text.push_str(&format!(
            " This build ÷ {}: {}.",
            other().name,
            before.join("; ")
        ));
    }
    Some(text)
}

/// What each client API's translation into the hub costs: the 128 KiB Claude Code body written
/// in each other client API (by the translator itself), posted to switchyard's passthrough target
/// (an Anthropic endpoint, whose nginx answers a Messages reply that goes back translated), beside
/// the same body as Messages passed through; the targets taking turns, medians of the rounds.
fn client_api_section(opts: &Options, dir: &Path, proxies: &Proxies, big_body: &str, big: &Case) {
    use switchyard::translate::{translate_request, Api, RequestOptions};
    let gateway = proxies.gateway();
    let target = Target {
        name: "switchyard",
        url: gateway.url.clone(),
        pid: Some(gateway.pid()),
    };
    let options = RequestOptions {
        upstream_model: Some(CLIENT_MODEL.to_string()),
        ..RequestOptions::default()
    };
    let mut cases = vec![("Messages (passthrough)", None, big.script.clone(), big.path)];
    for (label, api, path) in [
        ("Chat Completions", Api::OpenAi, "/v1/chat/completions"),
        ("Responses", Api::Responses, "/v1/responses"),
        ("Gemini", Api::Gemini, GEMINI_PATH),
    ] {
        match translate_request(Api::Anthropic, api, big_body.as_bytes(), &options) {
            Ok(written) => {
                let name = format!("client-{}", label.to_lowercase().replace(' ', "-"));
                let script = write_script(dir, &name, &written.body, false);
                cases.push((label, Some(written.body.len()), script, path));
            }
            Err(e) => println!("# {label}: the body could not be written ({e})"),
        }
    }
    println!(
        "\n## Translation by client API (wrk -t1, 16 conns, {} s; switchyard with one anthropic endpoint)",
        opts.seconds
    );
    println!("each client API's 128 KiB body (the Claude Code body as that API writes it), translated to Messages and the answer back; median of {} runs", opts.rounds);
    println!(
        "{:<24} {:>9} {:>9} {:>8} {:>8} {:>12} {:>14} {:>7}",
        "client API",
        "bytes",
        "req/s",
        "p50 ms",
        "p99 ms",
        "proxy µs/req",
        "÷ passthrough",
        "errors"
    );
    let mut runs: Vec<Vec<Run>> = cases.iter().map(|_| Vec::new()).collect();
    for _ in 0..opts.rounds {
        for (i, (label, _, script, path)) in cases.iter().enumerate() {
            let case = Case {
                label,
                script: script.clone(),
                conns: big.conns,
                path,
            };
            runs[i].extend(measure(&target, None, &case, opts.seconds));
        }
    }
    let medians: Vec<Option<Run>> = runs.into_iter().map(Run::median).collect();
    let passthrough = medians[0].as_ref().and_then(|r| r.proxy_us);
    for ((label, bytes, _, _), run) in cases.iter().zip(&medians) {
        let bytes = bytes.unwrap_or(big_body.len());
        match run {
            Some(r) => println!(
                "{label:<24} {bytes:>9} {:>9.0} {:>8.3} {:>8.3} {:>12} {:>14} {:>7}",
                r.rps,
                r.p50_ms,
                r.p99_ms,
                fmt_us(r.proxy_us),
                match (r.proxy_us, passthrough) {
                    (Some(us), Some(base)) => format!("{:.2}×", us / base),
                    _ => "-".to_string(),
                },
                r.errors
            ),
            None => println!("{label:<24} (wrk failed)"),
        }
    }
}

/// Added latency at concurrency 1: one keep-alive connection per target, each sending one small
/// Chat Completions request at a time, the targets taking turns request by request (each round
/// starting one target further on), so that a pause of the host's, which on a shared VM moves a
/// 3-s `wrk -c1` run's p99 by hundreds of µs, lands on every target alike. p50, p90, p99 and
/// p99.9 of each target's requests and what each adds over direct to the upstream. switchyard in
/// front of an `openai` endpoint passes the request through; in front of an `anthropic` endpoint
/// it translates it to Messages and the answer back.
fn concurrency_one_section(opts: &Options, proxies: &Proxies, upstream_url: &str) {
    let (rounds, cap) = if opts.quick {
        (3_000, Duration::from_secs(15))
    } else {
        (25_000, Duration::from_secs(90))
    };
    const WARM: usize = 300;
    let gateway = |name: &str| {
        proxies
            .gateways
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s.url.clone())
    };
    let mut targets: Vec<(&str, String)> = vec![("direct", upstream_url.to_string())];
    if let Some(n) = &proxies.nginx {
        targets.push(("nginx", n.url.clone()));
    }
    targets.push(("floor", proxies.floor.url.clone()));
    targets.push(("floor+actors", proxies.actors_floor.url.clone()));
    for (label, name) in [
        ("switchyard passthrough", "translated"),
        ("switchyard translated", "switchyard"),
        (other().passthrough, other().translated),
        (other().translated, other().switchyard),
    ] {
        if let Some(url) = gateway(name) {
            targets.push((label, url));
        }
    }
    println!("\n## Added latency at concurrency 1 (one keep-alive connection per target, one request at a time, small Chat Completions body on /v1/chat/completions)");
    println!("the targets take turns request by request, so the host's pauses fall on all of them alike; switchyard passthrough: an `openai` endpoint; switchyard translated: an `anthropic` endpoint (Chat → Messages and the answer back)");
    let request = request_head("/v1/chat/completions", &[], CHAT_BODY.len()) + CHAT_BODY;
    let request = request.as_bytes();
    let connect = |url: &str| {
        let addr = url.trim_start_matches("http://");
        let conn = std::net::TcpStream::connect(addr).ok()?;
        conn.set_nodelay(true).ok()?;
        conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        Some(conn)
    };
    let mut conns: Vec<Option<std::net::TcpStream>> =
        targets.iter().map(|(_, url)| connect(url)).collect();
    let mut errors = vec![0u64; targets.len()];
    let one = |i: usize, conns: &mut Vec<Option<std::net::TcpStream>>| -> Option<f64> {
        let conn = match &mut conns[i] {
            Some(conn) => conn,
            slot => slot.insert(connect(&targets[i].1)?),
        };
        let started = Instant::now();
        let status = exchange(conn, request);
        let took = started.elapsed().as_secs_f64() * 1e6;
        match status {
            Some(status) if (200..300).contains(&status) => Some(took),
            _ => {
                conns[i] = None;
                None
            }
        }
    };
    for _ in 0..WARM {
        for i in 0..targets.len() {
            let _ = one(i, &mut conns);
        }
    }
    let cores: Vec<usize> = [
        opts.gateway_core.clone(),
        std::env::var("BENCH_LOAD_CORE").unwrap_or_else(|_| "1".into()),
    ]
    .iter()
    .filter_map(|c| c.trim().parse().ok())
    .collect();
    let steal_before = steal_ticks(&cores);
    let mut samples: Vec<Vec<f64>> = targets.iter().map(|_| Vec::with_capacity(rounds)).collect();
    let began = Instant::now();
    let mut done = 0;
    while done < rounds && began.elapsed() < cap {
        for k in 0..targets.len() {
            let i = (done + k) % targets.len();
            match one(i, &mut conns) {
                Some(us) => samples[i].push(us),
                None => errors[i] += 1,
            }
        }
        done += 1;
    }
    let stolen: Vec<u64> = steal_ticks(&cores)
        .zip(steal_before)
        .map(|(after, before)| {
            after
                .iter()
                .zip(&before)
                .map(|(a, b)| a.saturating_sub(*b))
                .collect()
        })
        .unwrap_or_default();
    println!(
        "{done} rounds in {:.1} s; clock ticks the host took from cores {cores:?} meanwhile: {stolen:?}",
        began.elapsed().as_secs_f64()
    );
    println!(
        "{:<24} {:>8} {:>8} {:>8} {:>8} {:>10} {:>10} {:>7}",
        "target", "p50 µs", "p90 µs", "p99 µs", "p99.9 µs", "added p50", "added p99", "errors"
    );
    let figures: Vec<Option<[f64; 4]>> = samples
        .iter_mut()
        .map(|v| {
            if v.is_empty() {
                return None;
            }
            v.sort_by(f64::total_cmp);
            Some([0.5, 0.9, 0.99, 0.999].map(|q| percentile(v, q)))
        })
        .collect();
    let Some(direct) = figures[0] else {
        println!("(no answer from the upstream)");
        return;
    };
    let mut added = Vec::new();
    for (((name, _), f), errors) in targets.iter().zip(&figures).zip(&errors) {
        let Some([p50, p90, p99, p999]) = *f else {
            println!("{name:<24} (no answers; {errors} errors)");
            continue;
        };
        if *name == "direct" {
            println!(
                "{name:<24} {p50:>8.1} {p90:>8.1} {p99:>8.1} {p999:>8.1} {:>10} {:>10} {errors:>7}",
                "", ""
            );
        } else {
            let (a50, a99) = (p50 - direct[0], p99 - direct[2]);
            println!(
                "{name:<24} {p50:>8.1} {p90:>8.1} {p99:>8.1} {p999:>8.1} {a50:>10.1} {a99:>10.1} {errors:>7}"
            );
            added.push((*name, a50, a99));
        }
    }
    let find = |name: &str| added.iter().find(|(n, ..)| *n == name).copied();
    for reference in ["nginx", "floor"] {
        let Some((_, r50, r99)) = find(reference) else {
            continue;
        };
        for name in ["switchyard passthrough", "switchyard translated"] {
            if let Some((_, s50, s99)) = find(name) {
                println!(
                    "{name}: adds {s50:.1} µs at p50 and {s99:.1} µs at p99; {reference} {r50:.1} and {r99:.1}: {:+.1} / {:+.1} µs against {reference}",
                    s50 - r50,
                    s99 - r99
                );
            }
        }
    }
}

/// Time the host has taken from each of these cores (the steal column of /proc/stat), in clock
/// ticks; `None` where /proc/stat cannot be read or lacks a core.
fn steal_ticks(cores: &[usize]) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    cores
        .iter()
        .map(|core| {
            let label = format!("cpu{core}");
            let line = stat
                .lines()
                .find(|l| l.split_whitespace().next() == Some(label.as_str()))?;
            // cpuN user nice system idle iowait irq softirq steal
            line.split_whitespace().nth(8)?.parse().ok()
        })
        .collect()
}

/// Time to the first content event of a streamed 128 KiB Claude Code request: straight to the
/// mock (which streams at once), and through switchyard passing it through and translating it (the
/// mock then reads a Chat Completions body and streams Chat chunks, which reach the client as
/// Messages events). Streams one after another, the targets taking turns (in order and in reverse
/// order by turns, each pair of rounds starting one target further on).
fn first_event_section(
    opts: &Options,
    rt: &actix_rt::SystemRunner,
    dir: &Path,
    mock: &MockUpstream,
    big_body: &str,
) {
    let streams = if opts.quick { 20 } else { 60 };
    let body = Bytes::from(big_body.replacen('{', "{\"stream\":true,", 1));
    let gateways = switchyards(opts, dir, "first-event", &mock.url());
    // nginx reads the whole body before it proxies, as switchyard does: the cost of that hop
    // alone, on the same cores, beside switchyard's passthrough and translation.
    let nginx = find_nginx().and_then(|n| {
        Server::nginx_proxy(
            n,
            opts,
            &dir.join("nginx-first-event"),
            &mock.url(),
            &mock.url(),
        )
    });
    let mut targets = vec![("direct", mock.url())];
    if let Some(n) = &nginx {
        targets.push(("nginx", n.sse_url.clone()));
    }
    targets.extend(gateways.iter().map(|(name, s)| (*name, s.url.clone())));
    println!("\n## Time to the first event of a streamed 128 KiB Claude Code request ({streams} streams per target and way of connecting, one after another, the targets taking turns; the mock streams at once)");
    println!("first content event (content_block_delta) after the request was sent; translated: the mock reads Chat Completions and streams Chat chunks; nginx: `proxy_pass`, the body read whole before it goes on (as switchyard reads it), the answer unbuffered");
    // A client keeps its connection while requests follow each other; after a pause longer than
    // its idle timeout (4 s for Node's fetch, which Claude Code uses) the next request opens one.
    for (way, fresh) in [
        ("one keep-alive connection", false),
        ("a new connection per stream", true),
    ] {
        println!("{way}:");
        println!(
            "{:<22} {:>9} {:>9} {:>13} {:>7}",
            "target", "p50 ms", "p90 ms", "p50 − direct", "failed"
        );
        let mut times: Vec<Vec<f64>> = targets.iter().map(|_| Vec::new()).collect();
        let mut failed = vec![0usize; targets.len()];
        rt.block_on(async {
            let client = || {
                awc::Client::builder()
                    .timeout(Duration::from_secs(30))
                    .finish()
            };
            let kept = client();
            for round in 0..streams {
                // Every other round goes the other way, and each pair of rounds starts one
                // target further on, so each target follows and precedes each other alike: in a
                // fixed order, the later of two gateways running the same build got its first
                // event 7-45 µs sooner in eight rows of eight.
                let n = targets.len();
                for k in 0..n {
                    let place = if round % 2 == 0 { k } else { n - 1 - k };
                    let i = (round / 2 + place) % n;
                    let url = &targets[i].1;
                    mock.clear();
                    let new = fresh.then(client);
                    match first_content(new.as_ref().unwrap_or(&kept), url, body.clone()).await {
                        Some(ms) => times[i].push(ms),
                        None => failed[i] += 1,
                    }
                }
            }
        });
        let mut direct_p50 = None;
        for (((name, _), mut t), failed) in targets.iter().zip(times).zip(failed) {
            t.sort_by(f64::total_cmp);
            if t.is_empty() {
                println!("{name:<22} (every stream failed: {failed})");
                continue;
            }
            let (p50, p90) = (percentile(&t, 0.5), percentile(&t, 0.9));
            let over = match direct_p50 {
                None => {
                    direct_p50 = Some(p50);
                    String::new()
                }
                Some(d) => format!("{:+.3}", p50 - d),
            };
            println!("{name:<22} {p50:>9.3} {p90:>9.3} {over:>13} {failed:>7}");
        }
    }
    drop((gateways, nginx));
}

/// Milliseconds from sending `body` to `url`'s `/v1/messages` until the first event that is not
/// an opening one (`message_start`, `content_block_start`, `ping`) arrived; the rest of the stream
/// is read to its end. `None` when the request failed or the stream had no content.
async fn first_content(client: &awc::Client, url: &str, body: Bytes) -> Option<f64> {
    use futures_util::StreamExt;
    let sent = Instant::now();
    let mut request = client
        .post(format!("{url}/v1/messages"))
        .insert_header(("content-type", "application/json"));
    for header in CLAUDE_CODE_HEADERS {
        request = request.insert_header(*header);
    }
    let mut response = request.send_body(body).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let mut first = None;
    let mut buffer = Vec::new();
    let mut read = 0;
    while let Some(chunk) = response.next().await {
        let chunk = chunk.ok()?;
        if first.is_some() {
            continue;
        }
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer[read..].windows(2).position(|w| w == b"\n\n") {
            let event = &buffer[read..read + end];
            read += end + 2;
            if !opens_stream(event) {
                first = Some(sent.elapsed().as_secs_f64() * 1000.0);
                break;
            }
        }
    }
    first
}

/// Is the upstream cheaper than any proxy? The nginx `return` upstream against the mock, each
/// straight from wrk, with the upstream's own CPU per request.
fn upstream_check(opts: &Options, upstream: &Option<Server>, small: &Path) {
    let seconds = if opts.quick { 2 } else { 5 };
    println!("\n## Upstream check: wrk straight to each candidate upstream, small JSON, 32 conns, {seconds} s (both on the load core)");
    println!(
        "{:<22} {:>9} {:>8} {:>8} {:>16}",
        "upstream", "req/s", "p50 ms", "p99 ms", "upstream µs/req"
    );
    let case = Case {
        label: "",
        script: small.to_path_buf(),
        conns: 32,
        path: MESSAGES_PATH,
    };
    let mock = Server::mock_process();
    let mut candidates = Vec::new();
    if let Some(u) = upstream {
        candidates.push(("nginx return 200", u));
    }
    if let Some(m) = &mock {
        candidates.push(("mock (own process)", m));
    }
    for (name, server) in candidates {
        let target = Target {
            name,
            url: server.url.clone(),
            pid: None,
        };
        match measure(&target, Some(server.pid()), &case, seconds) {
            Some(r) => println!(
                "{name:<22} {:>9.0} {:>8.3} {:>8.3} {:>16}",
                r.rps,
                r.p50_ms,
                r.p99_ms,
                fmt_us(r.upstream_us)
            ),
            None => println!("{name:<22} (wrk failed)"),
        }
    }
}

/// Sends at least `requests` more small requests to the gateway (64 connections); returns how many.
fn soak(url: &str, script: &Path, requests: u64, rps_hint: f64) -> u64 {
    let mut rate = if rps_hint > 100.0 { rps_hint } else { 10_000.0 };
    let mut served = 0;
    while served < requests {
        let seconds = (((requests - served) as f64 / rate).ceil() as u64).clamp(1, 300);
        match wrk(&format!("{url}{MESSAGES_PATH}"), script, 64, seconds) {
            Some(r) if r.requests > 0 => {
                served += r.requests;
                rate = r.rps.max(100.0);
            }
            _ => break,
        }
    }
    served
}

/// `--syscalls`: `strace -c -f` attached to each proxy around a wrk run; calls per request.
fn syscalls_section(opts: &Options, targets: &[Target], cases: &[Case]) {
    let seconds = if opts.quick { 2 } else { 5 };
    println!("\n## Syscalls per request (strace -c -f -p PID around a {seconds} s wrk run; strace slows the proxy, so req/s here mean nothing)");
    if Command::new("strace").arg("-V").output().is_err() {
        println!("(strace not installed: skipped)");
        return;
    }
    let nw = name_width(targets);
    for case in cases.iter().filter(|c| c.conns != 128) {
        for t in targets.iter().filter(|t| t.pid.is_some()) {
            let Some(pid) = t.pid else { continue };
            let out = std::env::temp_dir().join(format!("switchyard-bench-strace-{pid}.txt"));
            let mut strace = match Command::new("strace")
                .args(["-c", "-f", "-o"])
                .arg(&out)
                .args(["-p", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
            {
                Ok(child) => child,
                Err(e) => {
                    println!("(strace failed to start: {e})");
                    return;
                }
            };
            // strace says "Process N attached" on stderr once it traces.
            let mut attached = String::new();
            if let Some(err) = strace.stderr.take() {
                let _ = std::io::BufReader::new(err).read_line(&mut attached);
            }
            let run = wrk(
                &format!("{}{}", t.url, case.path),
                &case.script,
                case.conns,
                seconds,
            );
            let _ = Command::new("kill")
                .args(["-INT", &strace.id().to_string()])
                .status();
            let _ = strace.wait();
            let summary = std::fs::read_to_string(&out).unwrap_or_default();
            let _ = std::fs::remove_file(&out);
            let requests = run.map_or(0, |r| r.requests).max(1) as f64;
            let (total, top) = parse_strace(&summary);
            if total == 0 {
                println!(
                    "{}, {} conns, {}: no strace summary ({})",
                    case.label,
                    case.conns,
                    t.name,
                    attached.trim()
                );
                continue;
            }
            let top: Vec<String> = top
                .iter()
                .take(6)
                .map(|(name, calls)| format!("{name} {:.2}", *calls as f64 / requests))
                .collect();
            println!(
                "{:<34} {:<nw$} {:>7.2} syscalls/req   {}",
                format!("{}, {} conns", case.label, case.conns),
                t.name,
                total as f64 / requests,
                top.join(", ")
            );
        }
    }
}

/// The `total` calls and the per-syscall calls (most first) of an `strace -c` summary.
fn parse_strace(summary: &str) -> (u64, Vec<(String, u64)>) {
    let mut total = 0;
    let mut rows = Vec::new();
    for line in summary.lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 5 || fields[0].parse::<f64>().is_err() {
            continue;
        }
        let Ok(calls) = fields[3].parse::<u64>() else {
            continue;
        };
        let name = fields[fields.len() - 1].to_string();
        if name == "total" {
            total = calls;
        } else {
            rows.push((name, calls));
        }
    }
    rows.sort_by_key(|r| std::cmp::Reverse(r.1));
    (total, rows)
}

/// `--allocs`: switchyard (passthrough and translated) and the floor rebuilt with a counting
/// allocator (examples/counted.rs);
/// allocations and bytes per request around a wrk run.
fn allocs_section(opts: &Options, dir: &Path, upstream_url: &str, cases: &[Case]) {
    let seconds = if opts.quick { 2 } else { 5 };
    println!("\n## Allocations per request (examples/counted.rs: the same code under a counting global allocator, {seconds} s wrk run)");
    let counted = sibling_example("counted");
    let gateway = Server::gateway(
        opts,
        dir,
        "counted",
        &[Endpoint::Anthropic("up", upstream_url)],
        "",
        &counted,
    );
    let translated = Server::gateway(
        opts,
        dir,
        "counted-translated",
        &[Endpoint::OpenAi("up", upstream_url)],
        "",
        &counted,
    );
    let floor = Server::floor(opts, upstream_url, true, false);
    for case in cases.iter().filter(|c| c.conns != 128) {
        for (name, server) in [
            ("floor", &floor),
            ("switchyard", &gateway),
            ("translated", &translated),
        ] {
            let Some(stats) = server.alloc_stats else {
                continue;
            };
            let url = format!("{}{}", server.url, case.path);
            let _ = wrk(&url, &case.script, case.conns, 1);
            let before = read_alloc_stats(stats);
            let run = wrk(&url, &case.script, case.conns, seconds);
            let after = read_alloc_stats(stats);
            let requests = run.map_or(0, |r| r.requests).max(1) as f64;
            match (before, after) {
                (Some(b), Some(a)) => println!(
                    "{:<34} {:<12} {:>9.1} allocations/req {:>9.1} reallocations/req {:>11.0} bytes/req",
                    format!("{}, {} conns", case.label, case.conns),
                    name,
                    (a[0] - b[0]) as f64 / requests,
                    (a[1] - b[1]) as f64 / requests,
                    (a[2] - b[2]) as f64 / requests
                ),
                _ => println!("{name}: no allocation figures"),
            }
        }
    }
}

/// `--instructions-only`: each proxy under callgrind, counting only around a batch of keep-alive
/// requests sent one after another on one connection after a warm-up. Instructions do not move
/// with the machine as CPU time does, so this is the figure to compare builds with on a busy one.
/// memcpy and memset are also given apart: callgrind counts `rep movsb` and `rep stosb` byte by
/// byte, which makes actix-http's clearing of a 3 KiB header array look like 3,000 instructions.
fn instructions_section(opts: &Options, dir: &Path, upstream_url: &str, big_body: &str) {
    println!("\n## Instructions per request (callgrind around {SMALL_BATCH} small or {BIG_BATCH} 128 KiB requests after a warm-up, one keep-alive connection; the upstream is nginx)");
    if Command::new("valgrind").arg("--version").output().is_err() {
        println!("(valgrind not installed: skipped; bench/run.sh --instructions-only installs it)");
        return;
    }
    let mut targets: Vec<(&str, Vec<std::ffi::OsString>)> = vec![
        (
            "floor",
            vec![sibling_example("floor").into(), upstream_url.into()],
        ),
        (
            "floor+actors",
            vec![
                sibling_example("floor").into(),
                upstream_url.into(),
                "0".into(),
                "--actors".into(),
            ],
        ),
    ];
    let now = release_binary("switchyard");
    let mut builds = vec![(now.as_path(), "switchyard", "translated")];
    if let Some(before) = &opts.before {
        builds.push((before.as_path(), other().switchyard, other().translated));
    }
    for (binary, plain, translated) in builds {
        for (name, endpoint, file) in [
            (plain, Endpoint::Anthropic("up", upstream_url), "plain"),
            (
                translated,
                Endpoint::OpenAi("up", upstream_url),
                "translated",
            ),
        ] {
            let config = gateway_config(
                dir,
                &format!("callgrind-{file}-{}", targets.len()),
                &[endpoint],
                "",
            );
            targets.push((
                name,
                vec![
                    binary.into(),
                    "serve".into(),
                    "--config".into(),
                    config.into(),
                ],
            ));
        }
    }
    let small_head = request_head(MESSAGES_PATH, &CLAUDE_CODE_HEADERS[..1], BODY.len());
    let big_head = request_head(MESSAGES_PATH, CLAUDE_CODE_HEADERS, big_body.len());
    let cases = [
        ("small JSON", &small_head, BODY.as_bytes(), SMALL_BATCH),
        (
            "128 KiB Claude Code body",
            &big_head,
            big_body.as_bytes(),
            BIG_BATCH,
        ),
    ];
    let w = name_width_of(targets.iter().map(|(name, _)| *name));
    println!("÷ floor: all instructions, then without memcpy/memset (callgrind counts each byte those copy or clear as one instruction, so the first ratio overstates what copies cost in time and the second leaves them out)");
    println!("code lines: the 64-byte lines of code holding an instruction run at least once per request, what a request asks of the instruction cache, which cools between requests at concurrency 1");
    println!(
        "{:<26} {:<w$} {:>14} {:>22} {:>16} {:>16} {:>18}",
        "case",
        "target",
        "instructions",
        "without memcpy/memset",
        "÷ floor",
        "÷ floor+actors",
        "code lines ÷ floor"
    );
    for (label, head, body, batch) in cases {
        let mut floors = [None, None];
        let mut floor_total = None;
        let mut floor_lines = None;
        for (name, args) in &targets {
            let Some(counted) = count_instructions(dir, args, head, body, batch) else {
                println!("{label:<26} {name:<w$} (no figure: the proxy did not answer every request under callgrind)");
                continue;
            };
            let Counted {
                total,
                copies,
                code_lines,
            } = counted;
            let per = |n: u64| n as f64 / batch as f64;
            let rest = per(total.saturating_sub(copies.unwrap_or(0)));
            match *name {
                "floor" => {
                    floors[0] = Some(rest);
                    floor_total = Some(per(total));
                    floor_lines = Some(code_lines);
                }
                "floor+actors" => floors[1] = Some(rest),
                _ => {}
            }
            let ratio = |floor: Option<f64>| {
                floor.map_or_else(|| "-".to_string(), |f| format!("{:.2}×", rest / f))
            };
            let both = floor_total.map_or_else(
                || "-".to_string(),
                |all| format!("{:.2}× / {}", per(total) / all, ratio(floors[0])),
            );
            let lines = floor_lines.filter(|&f| f > 0).map_or_else(
                || format!("{code_lines}"),
                |f| format!("{code_lines} {:.2}×", code_lines as f64 / f as f64),
            );
            println!(
                "{label:<26} {name:<w$} {:>13.1}k {:>21} {:>16} {:>16} {:>18}",
                per(total) / 1000.0,
                copies.map_or_else(|| "-".to_string(), |_| format!("{:.1}k", rest / 1000.0)),
                both,
                ratio(floors[1]),
                lines,
            );
        }
    }
}

/// Requests per measured batch: small bodies, then 128 KiB ones.
const SMALL_BATCH: usize = 1000;
const BIG_BATCH: usize = 100;

/// A `POST path` head with `headers` and a JSON body of `length` bytes.
fn request_head(path: &str, headers: &[(&str, &str)], length: usize) -> String {
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {length}\r\n"
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

fn name_width_of<'a>(names: impl Iterator<Item = &'a str>) -> usize {
    names.map(|n| n.chars().count()).max().unwrap_or(6).max(6)
}

/// What callgrind counted around one batch of requests.
struct Counted {
    /// Instructions run.
    total: u64,
    /// The part of them in glibc's memcpy/memset, when `callgrind_annotate` can tell.
    copies: Option<u64>,
    /// The 64-byte lines of code holding an instruction run at least once per request.
    code_lines: usize,
}

/// Starts `args` under callgrind with counting off, sends a warm-up, counts around `batch`
/// requests, and returns what was counted. `None` when a request failed or no count came out.
fn count_instructions(
    dir: &Path,
    args: &[std::ffi::OsString],
    head: &str,
    body: &[u8],
    batch: usize,
) -> Option<Counted> {
    let out_dir = dir.join("callgrind");
    std::fs::create_dir_all(&out_dir).ok()?;
    let mut command = Command::new("valgrind");
    command
        .args(["-q", "--tool=callgrind", "--instr-atstart=no"])
        // Costs by instruction address rather than by source line: the code each request runs.
        .args(["--dump-instr=yes", "--dump-line=no"])
        .arg(format!(
            "--callgrind-out-file={}/callgrind.%p",
            out_dir.display()
        ))
        .args(args)
        .env("RUST_LOG", "warn");
    let prefix = if args.len() > 1 && args[1] == "serve" {
        "switchyard listening on "
    } else {
        "floor listening on "
    };
    let server = Server::spawn(command, prefix)?;
    let pid = server.pid().to_string();
    let addr = server.url.trim_start_matches("http://").to_string();
    let mut conn = std::net::TcpStream::connect(&addr).ok()?;
    let mut request = head.as_bytes().to_vec();
    request.extend_from_slice(body);
    let answered = |conn: &mut std::net::TcpStream, n: usize| {
        (0..n).all(|_| exchange(conn, &request) == Some(200))
    };
    if !answered(&mut conn, (batch / 5).max(20)) {
        return None;
    }
    let control = |what: &[&str]| {
        Command::new("callgrind_control")
            .args(what)
            .arg(&pid)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if !control(&["-i", "on"]) {
        return None;
    }
    let ok = answered(&mut conn, batch);
    control(&["-d"]);
    control(&["-i", "off"]);
    drop(conn);
    drop(server);
    let dump = out_dir.join(format!("callgrind.{pid}.1"));
    let text = std::fs::read_to_string(&dump).ok()?;
    let total = text
        .lines()
        .find_map(|l| l.strip_prefix("totals:"))
        .and_then(|n| n.trim().parse::<u64>().ok())?;
    let copies = Command::new("callgrind_annotate")
        .args(["--threshold=100", "--auto=no"])
        .arg(&dump)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| memcpy_memset(&String::from_utf8_lossy(&o.stdout)));
    let code_lines = code_lines(&text, batch as u64);
    ok.then_some(Counted {
        total,
        copies,
        code_lines,
    })
}

/// The 64-byte lines of code (what the instruction cache holds) with an instruction that a
/// callgrind dump made with `--dump-instr=yes --dump-line=no` counts at least `times` times.
/// Each cost line starts with an address: `0x…` in full, `+n` or `-n` from the one before, or
/// `*` for the same; the line after a `calls=` line is the call's inclusive cost, not the call
/// instruction's own.
fn code_lines(dump: &str, times: u64) -> usize {
    let mut runs: std::collections::HashMap<u64, u64> = std::collections::HashMap::new();
    let mut last = 0u64;
    let mut after_call = false;
    for line in dump.lines() {
        if line.starts_with("calls=") {
            after_call = true;
            continue;
        }
        let mut fields = line.split_whitespace();
        let Some(position) = fields.next() else {
            continue;
        };
        let address = if let Some(hex) = position.strip_prefix("0x") {
            u64::from_str_radix(hex, 16).ok()
        } else if let Some(up) = position.strip_prefix('+') {
            up.parse::<u64>().ok().map(|n| last.wrapping_add(n))
        } else if let Some(down) = position.strip_prefix('-') {
            down.parse::<u64>().ok().map(|n| last.wrapping_sub(n))
        } else if position == "*" {
            Some(last)
        } else {
            None
        };
        let Some(address) = address else {
            continue;
        };
        last = address;
        if std::mem::take(&mut after_call) {
            continue;
        }
        let count = fields
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0);
        *runs.entry(address).or_default() += count;
    }
    let lines: std::collections::HashSet<u64> = runs
        .into_iter()
        .filter(|&(_, count)| count >= times)
        .map(|(address, _)| address / 64)
        .collect();
    lines.len()
}

/// The instructions `callgrind_annotate`'s function list puts in glibc's memcpy, memmove and memset.
fn memcpy_memset(annotated: &str) -> u64 {
    annotated
        .lines()
        .filter(|l| l.contains("__memcpy") || l.contains("__memmove") || l.contains("__memset"))
        .filter(|l| l.contains(".S:"))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| n.replace(',', "").parse::<u64>().ok())
        .sum()
}

/// Sends one request on `conn` and reads its answer; the status, or `None` if the connection
/// failed or the answer had no `content-length`.
fn exchange(conn: &mut std::net::TcpStream, request: &[u8]) -> Option<u16> {
    use std::io::Read;
    conn.write_all(request).ok()?;
    let mut seen = Vec::with_capacity(4096);
    let mut buf = [0u8; 16384];
    let end = loop {
        if let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let n = conn.read(&mut buf).ok().filter(|&n| n > 0)?;
        seen.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&seen[..end]).to_ascii_lowercase();
    let status = head.split(' ').nth(1)?.parse().ok()?;
    let mut more = |seen: &mut Vec<u8>| -> Option<()> {
        let n = conn.read(&mut buf).ok().filter(|&n| n > 0)?;
        seen.extend_from_slice(&buf[..n]);
        Some(())
    };
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    if let Some(length) = length {
        while seen.len() < end + 4 + length {
            more(&mut seen)?;
        }
        return Some(status);
    }
    if !head.contains("transfer-encoding: chunked") {
        return None;
    }
    // Chunked: each chunk's size line, its bytes and CRLF, until the empty last chunk.
    let mut at = end + 4;
    loop {
        let line_end = loop {
            if let Some(i) = seen[at..].windows(2).position(|w| w == b"\r\n") {
                break at + i;
            }
            more(&mut seen)?;
        };
        let size_text = String::from_utf8_lossy(&seen[at..line_end]).into_owned();
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        at = line_end + 2 + size + 2;
        while seen.len() < at {
            more(&mut seen)?;
        }
        if size == 0 {
            return Some(status);
        }
    }
}

fn read_alloc_stats(addr: std::net::SocketAddr) -> Option<[u64; 3]> {
    let mut line = String::new();
    let conn = std::net::TcpStream::connect(addr).ok()?;
    std::io::BufReader::new(conn).read_line(&mut line).ok()?;
    let numbers: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    Some([*numbers.first()?, *numbers.get(1)?, *numbers.get(2)?])
}

/// One endpoint of a benchmark gateway's config.
enum Endpoint<'a> {
    /// `(id, base_url)`: an Anthropic endpoint, to which requests pass as they came.
    Anthropic(&'a str, &'a str),
    /// `(id, upstream)`: an `api: openai` endpoint at `upstream/v1` whose `model_map` sends every
    /// Claude model to `CHAT_MODEL`, so that each request is translated Messages → Chat
    /// Completions and each answer back.
    OpenAi(&'a str, &'a str),
}

impl Endpoint<'_> {
    /// Its entry under `endpoints:`.
    fn yaml(&self) -> String {
        match self {
            Endpoint::Anthropic(id, url) => {
                format!("  - id: {id}\n    base_url: {url}\n    api_key: bench-key\n")
            }
            Endpoint::OpenAi(id, url) => format!(
                "  - id: {id}\n    api: openai\n    base_url: {url}/v1\n    api_key: bench-key\n    \
                 model_map: {{\"claude-*\": {CHAT_MODEL}}}\n"
            ),
        }
    }
}

/// switchyard's targets, all forwarding to `upstream`: `switchyard` (passthrough) and `translated`
/// and, with `BENCH_BEFORE`, each again as the earlier build runs it, beside this build's; `name`
/// keeps each set's configs (and usage histories) apart.
fn switchyards(
    opts: &Options,
    dir: &Path,
    name: &str,
    upstream: &str,
) -> Vec<(&'static str, Server)> {
    let now = release_binary("switchyard");
    let mut builds = vec![(now.as_path(), "", ["switchyard", "translated"])];
    if let Some(before) = &opts.before {
        builds.push((
            before.as_path(),
            "-before",
            [other().switchyard, other().translated],
        ));
    }
    let mut servers = Vec::new();
    for (shape, endpoint) in [
        ("plain", Endpoint::Anthropic("up", upstream)),
        ("translated", Endpoint::OpenAi("up", upstream)),
    ] {
        for (binary, suffix, names) in &builds {
            let target = if shape == "plain" { names[0] } else { names[1] };
            let config = format!("{shape}-{name}{suffix}");
            let server = Server::gateway(
                opts,
                dir,
                &config,
                std::slice::from_ref(&endpoint),
                "",
                binary,
            );
            servers.push((target, server));
        }
    }
    servers
}

/// A benchmark gateway's config, written to `dir/NAME.yaml` (its usage history goes beside it).
fn gateway_config(dir: &Path, name: &str, endpoints: &[Endpoint], extra: &str) -> PathBuf {
    let mut yaml = format!("proxy:\n  port: 0\n  access_log: false\n{extra}endpoints:\n");
    for endpoint in endpoints {
        yaml.push_str(&endpoint.yaml());
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, yaml).expect("config");
    path
}

struct Server {
    child: Child,
    url: String,
    sse_url: String,
    alloc_stats: Option<std::net::SocketAddr>,
}

impl Server {
    /// switchyard as `binary` runs it (this build, `BENCH_BEFORE`'s, or examples/counted.rs for the
    /// same gateway under the counting allocator), with `endpoints` in a config of its own named
    /// `name` (its usage history goes beside it).
    fn gateway(
        opts: &Options,
        dir: &Path,
        name: &str,
        endpoints: &[Endpoint],
        extra: &str,
        binary: &Path,
    ) -> Server {
        let path = gateway_config(dir, name, endpoints, extra);
        let mut command = Command::new("taskset");
        command
            .args(["-c", &opts.gateway_core])
            .arg(binary)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn");
        Server::spawn(command, "switchyard listening on ").unwrap_or_else(|| {
            panic!(
                "{} did not start with {} (is taskset installed? its own error is above)",
                binary.display(),
                path.display()
            )
        })
    }

    /// The floor, forwarding everything to `upstream`; with `actors`, each request also sends the
    /// actor design's messages.
    fn floor(opts: &Options, upstream: &str, counted: bool, actors: bool) -> Server {
        let mut command = Command::new("taskset");
        command.args(["-c", &opts.gateway_core]);
        if counted {
            command.arg(sibling_example("counted")).arg("floor");
        } else {
            command.arg(sibling_example("floor"));
        }
        command.arg(upstream);
        if actors {
            command.arg("--actors");
        }
        Server::spawn(command, "floor listening on ").expect("start the floor")
    }

    /// The mock example as a process of its own (for the upstream check), on the load core.
    fn mock_process() -> Option<Server> {
        let mut command = Command::new(sibling_example("mock"));
        command.env("RUST_LOG", "warn");
        Server::spawn(command, "mock upstream on ")
    }

    /// Starts `command` and reads its first lines until one starts with `prefix` (the URL follows);
    /// an `alloc stats on ADDR` line before it is remembered.
    fn spawn(mut command: Command, prefix: &str) -> Option<Server> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let mut out = std::io::BufReader::new(child.stdout.take()?);
        let mut alloc_stats = None;
        for _ in 0..5 {
            let mut line = String::new();
            if out.read_line(&mut line).ok()? == 0 {
                break;
            }
            if let Some(addr) = line.trim().strip_prefix("alloc stats on ") {
                alloc_stats = addr.parse().ok();
            } else if let Some(url) = line.trim().strip_prefix(prefix) {
                let url = url.to_string();
                // Keep draining its stdout so the child never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
                return Some(Server {
                    child,
                    sse_url: url.clone(),
                    url,
                    alloc_stats,
                });
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }

    /// The upstream: nginx answering `/v1/chat/completions` with `CHAT_ANSWER` and every other
    /// request with `ANSWER` (bodies read and discarded).
    fn nginx_upstream(nginx: &str, dir: &Path) -> Option<Server> {
        let port = free_port();
        let server = format!(
            "server {{ listen 127.0.0.1:{port}; client_max_body_size 0; default_type application/json;\n\
               location / {{ return 200 '{ANSWER}'; }}\n\
               location = /v1/chat/completions {{ return 200 '{CHAT_ANSWER}'; }} }}\n"
        );
        Server::nginx(
            nginx,
            &dir.join("nginx-upstream"),
            None,
            &server,
            port,
            port,
        )
    }

    /// nginx `proxy_pass` to `upstream` (plain) and to `sse_upstream` (unbuffered), on the gateway
    /// core, with its files under `prefix`.
    fn nginx_proxy(
        nginx: &str,
        opts: &Options,
        prefix: &Path,
        upstream: &str,
        sse_upstream: &str,
    ) -> Option<Server> {
        let (port, sse_port) = (free_port(), free_port());
        let strip = |u: &str| u.trim_start_matches("http://").to_string();
        let servers = format!(
            "client_max_body_size 32m; client_body_buffer_size 1m;\n\
             upstream up {{ server {up}; keepalive 256; keepalive_requests 1000000; }}\n\
             upstream sse {{ server {sse}; keepalive 64; }}\n\
             server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n\
             server {{ listen 127.0.0.1:{sse_port}; location / {{ proxy_pass http://sse; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }} }}\n",
            up = strip(upstream),
            sse = strip(sse_upstream),
        );
        Server::nginx(
            nginx,
            prefix,
            Some(&opts.gateway_core),
            &servers,
            port,
            sse_port,
        )
    }

    /// One nginx process (no master, one worker), optionally pinned to `core`.
    fn nginx(
        nginx: &str,
        prefix: &Path,
        core: Option<&str>,
        servers: &str,
        port: u16,
        sse_port: u16,
    ) -> Option<Server> {
        std::fs::create_dir_all(prefix.join("logs")).ok()?;
        let conf = format!(
            "worker_processes 1;\ndaemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log crit;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  keepalive_requests 1000000;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n{servers}}}\n",
            p = prefix.display(),
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).ok()?;
        let mut command = match core {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.args(["-c", core, nginx]);
                c
            }
            None => Command::new(nginx),
        };
        let child = command
            .arg("-c")
            .arg(&conf_path)
            .arg("-p")
            .arg(prefix)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let mut server = Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            sse_url: format!("http://127.0.0.1:{sse_port}"),
            alloc_stats: None,
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline || server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        server.url = format!("http://127.0.0.1:{port}");
        Some(server)
    }

    fn pid(&self) -> u32 {
        // `taskset` execs the program, so the pid is the server's.
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_nginx() -> Option<&'static str> {
    ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

/// target/release/examples/NAME, beside this benchmark.
fn sibling_example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.with_file_name(name)
}

/// target/release/NAME (this benchmark is target/release/examples/bench).
fn release_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let release = exe.parent().and_then(Path::parent).expect("target dir");
    release.join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

/// Cores of the machine (not of this process, which is pinned to one).
fn num_cpus() -> usize {
    std::fs::read_to_string("/proc/cpuinfo")
        .map(|s| s.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0)
}

fn uname() -> String {
    Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.split_whitespace().next().and_then(|n| n.parse().ok()))
        })
        .unwrap_or(0)
}

/// utime + stime of a whole process (all its threads), in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces: state is
    // field 3, utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// The proxies the throughput rows compare, each in a process of its own on the gateway core.
struct Proxies {
    nginx: Option<Server>,
    floor: Server,
    actors_floor: Server,
    /// switchyard's targets by name, `switchyard` first (see [`switchyards`]).
    gateways: Vec<(&'static str, Server)>,
}

impl Proxies {
    /// Starts nginx `proxy_pass` (when nginx is installed), the floor, the floor with the actor
    /// design's messages and switchyard's targets, all forwarding to `upstream`; `round` keeps each
    /// set's files apart.
    fn start(
        opts: &Options,
        dir: &Path,
        nginx: Option<&str>,
        upstream: &str,
        sse_upstream: &str,
        round: usize,
    ) -> Proxies {
        Proxies {
            nginx: nginx.and_then(|n| {
                Server::nginx_proxy(
                    n,
                    opts,
                    &dir.join(format!("nginx-proxy-{round}")),
                    upstream,
                    sse_upstream,
                )
            }),
            floor: Server::floor(opts, upstream, false, false),
            actors_floor: Server::floor(opts, upstream, false, true),
            gateways: switchyards(opts, dir, &round.to_string(), upstream),
        }
    }

    /// This build of switchyard, passing requests through.
    fn gateway(&self) -> &Server {
        &self.gateways[0].1
    }

    /// `direct` (to `upstream`), then each proxy.
    fn targets(&self, upstream: &str) -> Vec<Target> {
        let mut targets = vec![Target {
            name: "direct",
            url: upstream.to_string(),
            pid: None,
        }];
        if let Some(n) = &self.nginx {
            targets.push(Target {
                name: "nginx",
                url: n.url.clone(),
                pid: Some(n.pid()),
            });
        }
        let floors = [("floor", &self.floor), ("floor+actors", &self.actors_floor)];
        let gateways = self.gateways.iter().map(|(name, server)| (*name, server));
        for (name, server) in floors.into_iter().chain(gateways) {
            targets.push(Target {
                name,
                url: server.url.clone(),
                pid: Some(server.pid()),
            });
        }
        targets
    }
}

/// One short run against every target (connection pools, lazy initialisation) before measuring.
fn warm(targets: &[Target], script: &Path) {
    for t in targets {
        let _ = wrk(&format!("{}{MESSAGES_PATH}", t.url), script, 32, 1);
    }
}

/// The width of the target column: 12, or the longest name when wider (`BENCH_BEFORE`'s).
fn name_width(targets: &[Target]) -> usize {
    targets
        .iter()
        .map(|t| t.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(12)
}

fn fmt_us(us: Option<f64>) -> String {
    us.map_or("-".into(), |u| format!("{u:.1}"))
}

/// A wrk run against one target, with the proxy's and the upstream's CPU per request and the
/// proxy's peak resident set.
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    errors: u64,
    proxy_us: Option<f64>,
    /// For a median: the lowest and highest `proxy_us` of the runs (one per process).
    proxy_us_range: Option<(f64, f64)>,
    upstream_us: Option<f64>,
    peak_rss_kib: u64,
}

impl Run {
    /// Each figure's median over `runs` (their errors summed, their peak resident set the
    /// highest); `None` when no run succeeded.
    fn median(runs: Vec<Run>) -> Option<Run> {
        let optional = |values: Vec<Option<f64>>| -> Option<f64> {
            let known: Vec<f64> = values.into_iter().flatten().collect();
            (!known.is_empty()).then(|| middle(known))
        };
        if runs.is_empty() {
            return None;
        }
        Some(Run {
            rps: middle(runs.iter().map(|r| r.rps).collect()),
            p50_ms: middle(runs.iter().map(|r| r.p50_ms).collect()),
            p99_ms: middle(runs.iter().map(|r| r.p99_ms).collect()),
            requests: runs.iter().map(|r| r.requests).sum(),
            errors: runs.iter().map(|r| r.errors).sum(),
            proxy_us: optional(runs.iter().map(|r| r.proxy_us).collect()),
            proxy_us_range: runs
                .iter()
                .filter_map(|r| r.proxy_us)
                .fold(None, |range, us| {
                    let (low, high) = range.unwrap_or((us, us));
                    Some((low.min(us), high.max(us)))
                }),
            upstream_us: optional(runs.iter().map(|r| r.upstream_us).collect()),
            peak_rss_kib: runs.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0),
        })
    }
}

fn measure(target: &Target, upstream_pid: Option<u32>, case: &Case, seconds: u64) -> Option<Run> {
    let ticks = |pid: Option<u32>| pid.and_then(cpu_ticks);
    let (proxy_before, upstream_before) = (ticks(target.pid), ticks(upstream_pid));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = target.pid.map(|pid| {
        let flag = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kib(pid));
                std::thread::sleep(Duration::from_millis(100));
            }
            peak
        })
    });
    let result = wrk(
        &format!("{}{}", target.url, case.path),
        &case.script,
        case.conns,
        seconds,
    );
    let (proxy_after, upstream_after) = (ticks(target.pid), ticks(upstream_pid));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.and_then(|s| s.join().ok()).unwrap_or(0);
    let mut run = result?;
    let per_request = |before: Option<u64>, after: Option<u64>| {
        let ticks = after?.checked_sub(before?)?;
        Some(ticks as f64 / clock_ticks_per_second() * 1e6 / run.requests.max(1) as f64)
    };
    run.proxy_us = per_request(proxy_before, proxy_after);
    run.upstream_us = per_request(upstream_before, upstream_after);
    run.peak_rss_kib = peak;
    Some(run)
}

/// A wrk script: POST with `body`, from a file (`wrk.body = io.open(path):read("*a")`) so that any
/// size works. `claude_code` adds the headers Claude Code sends besides `anthropic-version`.
fn write_script(dir: &Path, name: &str, body: &[u8], claude_code: bool) -> PathBuf {
    let body_path = dir.join(format!("{name}.json"));
    std::fs::write(&body_path, body).expect("body file");
    let mut script = format!(
        "wrk.method = \"POST\"\nlocal f = io.open(\"{}\", \"rb\")\nwrk.body = f:read(\"*a\")\nf:close()\n\
         wrk.headers[\"content-type\"] = \"application/json\"\n",
        body_path.display()
    );
    let headers = if claude_code {
        CLAUDE_CODE_HEADERS
    } else {
        &CLAUDE_CODE_HEADERS[..1]
    };
    for (name, value) in headers {
        script.push_str(&format!("wrk.headers[\"{name}\"] = \"{value}\"\n"));
    }
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script).expect("wrk script");
    path
}

/// wrk against `url` (the whole URL, path included).
fn wrk(url: &str, script: &Path, conns: u32, seconds: u64) -> Option<Run> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(url)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let after = |prefix: &str| {
        text.lines()
            .find_map(|l| l.trim_start().strip_prefix(prefix).map(str::trim))
    };
    let rps = after("Requests/sec:")?.parse().ok()?;
    let requests = text
        .lines()
        .find(|l| l.contains(" requests in "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let non_2xx: u64 = after("Non-2xx or 3xx responses:")
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    // "Socket errors: connect 0, read 0, write 0, timeout 0"
    let socket: u64 = after("Socket errors:")
        .map(|s| {
            s.split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let pct = |label: &str| {
        after(label)
            .and_then(parse_wrk_duration)
            .unwrap_or(f64::NAN)
    };
    Some(Run {
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        requests,
        errors: non_2xx + socket,
        proxy_us: None,
        proxy_us_range: None,
        upstream_us: None,
        peak_rss_kib: 0,
    })
}

fn parse_wrk_duration(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (n, unit) = text.split_at(split);
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

#[derive(Clone)]
struct Percentiles {
    p50_ms: f64,
    p99_ms: f64,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// An open-loop load at `rate` requests/s of `body` with `headers`: each request starts on
/// schedule, whatever the others do.
async fn fixed_rate(
    url: String,
    rate: u64,
    duration: Duration,
    body: Bytes,
    headers: &'static [(&'static str, &'static str)],
) -> Percentiles {
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(10))
        .connector(awc::Connector::new().limit(0))
        .finish();
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let total = (duration.as_secs_f64() * rate as f64) as usize;
    let started = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(started + interval * i as u32).await;
        let client = client.clone();
        let url = format!("{url}/v1/messages");
        let body = body.clone();
        tasks.push(actix_rt::spawn(async move {
            let t = Instant::now();
            let mut request = client
                .post(url)
                .insert_header(("content-type", "application/json"));
            for header in headers {
                request = request.insert_header(*header);
            }
            let mut r = request.send_body(body).await.ok()?;
            r.body().await.ok()?;
            Some(t.elapsed().as_secs_f64() * 1000.0)
        }));
    }
    let mut samples = Vec::with_capacity(total);
    for task in tasks {
        if let Ok(Some(ms)) = task.await {
            samples.push(ms);
        }
    }
    samples.sort_by(f64::total_cmp);
    Percentiles {
        p50_ms: percentile(&samples, 0.5),
        p99_ms: percentile(&samples, 0.99),
    }
}

struct SseFigures {
    first_p50_ms: f64,
    late_p50_ms: f64,
    late_p90_ms: f64,
    late_p99_ms: f64,
}

/// Whether a Messages event is one that opens a stream (`message_start`, `content_block_start`,
/// `ping`), before its content.
fn opens_stream(event: &[u8]) -> bool {
    [
        &b"event: message_start"[..],
        b"event: content_block_start",
        b"event: ping",
    ]
    .iter()
    .any(|name| event.starts_with(name))
}

/// Streams one after another; lateness = arrival at the client − when the event was due (same
/// clock). An event is due when the mock sent it; an opening event (sent before the stream's first
/// content: `message_start`, `content_block_start`, Chat's role chunk) is due when that content was
/// sent, since a gateway holds a stream's opening until its content begins (so that it can still
/// fail over) and sends them together. `first` is the time to the first content event.
/// `one_for_one`: the client gets the mock's events as they were sent, the nth for the nth; else
/// (a translated stream, whose events are not the mock's) each event the mock sent is paired with
/// the first event the client got after it was due.
async fn sse_lateness(
    url: String,
    mock: &MockUpstream,
    streams: usize,
    one_for_one: bool,
) -> SseFigures {
    use futures_util::StreamExt;
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    let mut firsts = Vec::new();
    let mut lateness = Vec::new();
    for _ in 0..streams {
        mock.clear();
        let sent = Instant::now();
        let Ok(mut r) = client
            .post(format!("{url}/v1/messages"))
            .send_body(STREAM)
            .await
        else {
            continue;
        };
        // Each whole event the client got: when it arrived, and whether it opens the stream.
        let mut arrivals: Vec<(Instant, bool)> = Vec::new();
        let mut buffer = Vec::new();
        let mut read = 0;
        while let Some(Ok(chunk)) = r.next().await {
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer[read..].windows(2).position(|w| w == b"\n\n") {
                let event = &buffer[read..read + end];
                arrivals.push((now, opens_stream(event)));
                read += end + 2;
            }
        }
        let times = mock.event_times();
        // The mock's streams open with message_start and content_block_start (Messages), or with
        // the role chunk (Chat Completions, for the translated targets).
        let opening_sent = if one_for_one { 2 } else { 1 };
        let due = |i: usize| times.get(i.max(opening_sent)).copied();
        if let Some((first, _)) = arrivals.iter().find(|(_, opening)| !opening) {
            firsts.push((*first - sent).as_secs_f64() * 1000.0);
        }
        if one_for_one {
            for (i, (arrived, _)) in arrivals.iter().enumerate() {
                if let Some(due) = due(i) {
                    lateness.push(arrived.saturating_duration_since(due).as_secs_f64() * 1000.0);
                }
            }
        } else {
            for i in 0..times.len() {
                let Some(due) = due(i) else { continue };
                let next = arrivals.partition_point(|(arrived, _)| *arrived < due);
                if let Some((arrived, _)) = arrivals.get(next) {
                    lateness.push((*arrived - due).as_secs_f64() * 1000.0);
                }
            }
        }
    }
    firsts.sort_by(f64::total_cmp);
    lateness.sort_by(f64::total_cmp);
    SseFigures {
        first_p50_ms: percentile(&firsts, 0.5),
        late_p50_ms: percentile(&lateness, 0.5),
        late_p90_ms: percentile(&lateness, 0.9),
        late_p99_ms: percentile(&lateness, 0.99),
    }
}

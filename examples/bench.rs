//! The benchmark: switchyard against a direct connection to the same mock upstream and against
//! nginx `proxy_pass`, on loopback. Run it with `bench/run.sh` (which pins this process, the mock
//! and the load generator to core 1, and the gateway or nginx to core 0).
//!
//! Prints, side by side: requests/s and latency at 32 and 128 connections (wrk), added latency at a
//! fixed 1,000 req/s, SSE time to first event and per-event lateness, resident memory idle / at peak /
//! after many requests, and the cost of a failover. Figures only; nothing here asserts.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use switchyard::mock::{Behaviour, MockUpstream};

const BODY: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"messages":[{"role":"user","content":"hi"}]}"#;
const STREAM: &str = r#"{"model":"claude-3-5-haiku-20241022","max_tokens":16,"stream":true,"messages":[{"role":"user","content":"hi"}]}"#;

struct Options {
    seconds: u64,
    soak_requests: u64,
    gateway_core: String,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    Options {
        seconds: if quick { 3 } else { 10 },
        soak_requests: if quick { 100_000 } else { 1_000_000 },
        gateway_core: std::env::var("BENCH_GATEWAY_CORE").unwrap_or_else(|_| "0".into()),
    }
}

fn main() {
    let opts = options();
    let dir = tempfile::tempdir().expect("temp dir");
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

    let gateway = Server::gateway(&opts, dir.path(), "plain", &[("up", &mock.url())], "");
    let sse_gateway = Server::gateway(&opts, dir.path(), "sse", &[("up", &sse_mock.url())], "");
    let nginx = Server::nginx(&opts, dir.path(), &mock.url(), &sse_mock.url());
    let dead = refused_port();
    let failover = Server::gateway(
        &opts,
        dir.path(),
        "failover",
        &[
            ("dead", &format!("http://127.0.0.1:{dead}")),
            ("up", &mock.url()),
        ],
        "health:\n  failure_threshold: 1000000\n",
    );

    println!("# switchyard benchmark ({} s per load run; gateway and nginx pinned to core {}, load and mock on the other)", opts.seconds, opts.gateway_core);
    println!("# machine: {} cores; {}", num_cpus(), uname());
    let idle_rss = rss_kib(gateway.pid());

    println!("\n## Throughput: small non-streaming POST /v1/messages (wrk, keep-alive)");
    println!(
        "{:<14} {:>6} {:>12} {:>10} {:>10} {:>10}",
        "target", "conns", "req/s", "p50 ms", "p99 ms", "vs nginx"
    );
    let mut peak_rss = idle_rss;
    for conns in [32, 128] {
        let direct = wrk(&mock.url(), conns, opts.seconds);
        let nginx_run = nginx.as_ref().map(|n| wrk(&n.url, conns, opts.seconds));
        let (gw_run, rss) =
            with_rss_sampling(gateway.pid(), || wrk(&gateway.url, conns, opts.seconds));
        peak_rss = peak_rss.max(rss);
        let nginx_rps = nginx_run.as_ref().and_then(|r| r.as_ref()).map(|r| r.rps);
        for (name, run) in [
            ("direct", Some(direct)),
            ("nginx", nginx_run),
            ("switchyard", Some(gw_run)),
        ] {
            match run {
                Some(Some(r)) => println!(
                    "{name:<14} {conns:>6} {:>12.0} {:>10.3} {:>10.3} {:>10}",
                    r.rps,
                    r.p50_ms,
                    r.p99_ms,
                    nginx_rps
                        .map(|n| format!("{:.2}", r.rps / n))
                        .unwrap_or("-".into())
                ),
                Some(None) => println!("{name:<14} {conns:>6} (wrk failed)"),
                None => println!("{name:<14} {conns:>6} (nginx not installed: skipped)"),
            }
        }
    }

    println!("\n## Latency at a fixed 1,000 req/s (open loop, 5 s)");
    let rt = actix_rt::System::new();
    let fixed = |url: String| rt.block_on(fixed_rate(url, 1000, Duration::from_secs(5)));
    let direct = fixed(mock.url());
    let gw = fixed(gateway.url.clone());
    let ng = nginx.as_ref().map(|n| fixed(n.url.clone()));
    let fo = fixed(failover.url.clone());
    println!(
        "{:<22} {:>10} {:>10} {:>12} {:>12}",
        "target", "p50 ms", "p99 ms", "added p50", "added p99"
    );
    for (name, r) in [
        ("direct", Some(&direct)),
        ("nginx", ng.as_ref()),
        ("switchyard", Some(&gw)),
        ("switchyard+failover", Some(&fo)),
    ] {
        if let Some(r) = r {
            println!(
                "{name:<22} {:>10.3} {:>10.3} {:>12.3} {:>12.3}",
                r.p50_ms,
                r.p99_ms,
                r.p50_ms - direct.p50_ms,
                r.p99_ms - direct.p99_ms
            );
        }
    }
    println!("(switchyard+failover: the first endpoint refuses every connection and is never ejected, so every request fails over once)");

    println!("\n## SSE: 50 events 10 ms apart, 20 streams one after another");
    let sse = |url: String| rt.block_on(sse_lateness(url, &sse_mock, 20));
    let direct = sse(sse_mock.url());
    let gw = sse(sse_gateway.url.clone());
    let ng = nginx.as_ref().map(|n| sse(n.sse_url.clone()));
    println!(
        "{:<14} {:>20} {:>18} {:>14} {:>14}",
        "target", "first event p50 ms", "lateness p50 ms", "p90 ms", "p99 ms"
    );
    for (name, r) in [
        ("direct", Some(&direct)),
        ("nginx", ng.as_ref()),
        ("switchyard", Some(&gw)),
    ] {
        if let Some(r) = r {
            println!(
                "{name:<14} {:>20.3} {:>18.3} {:>14.3} {:>14.3}",
                r.first_p50_ms, r.late_p50_ms, r.late_p90_ms, r.late_p99_ms
            );
        }
    }

    println!("\n## Memory (resident set of the gateway process)");
    println!("idle:                     {:>8} KiB", idle_rss);
    println!("peak under 128 conns:     {:>8} KiB", peak_rss);
    let before = rss_kib(gateway.pid());
    let soak = wrk_requests(&gateway.url, 64, opts.soak_requests);
    let after = rss_kib(gateway.pid());
    println!(
        "before {:>9} requests: {:>8} KiB",
        opts.soak_requests, before
    );
    println!(
        "after  {:>9} requests: {:>8} KiB ({:+} KiB; {} requests sent)",
        opts.soak_requests,
        after,
        after as i64 - before as i64,
        soak
    );
    drop((gateway, sse_gateway, nginx, failover));
    let _ = std::io::stdout().flush();
}

struct Server {
    child: Child,
    url: String,
    sse_url: String,
}

impl Server {
    fn gateway(
        opts: &Options,
        dir: &Path,
        name: &str,
        endpoints: &[(&str, &str)],
        extra: &str,
    ) -> Server {
        let mut yaml = format!("proxy:\n  port: 0\n  access_log: false\n{extra}endpoints:\n");
        for (id, url) in endpoints {
            yaml.push_str(&format!(
                "  - id: {id}\n    base_url: {url}\n    api_key: bench-key\n"
            ));
        }
        let path = dir.join(format!("{name}.yaml"));
        std::fs::write(&path, yaml).expect("config");
        let binary = sibling_binary("switchyard");
        let mut child = Command::new("taskset")
            .args(["-c", &opts.gateway_core])
            .arg(binary)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the gateway (is taskset installed?)");
        let mut line = String::new();
        let mut out = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        std::io::BufRead::read_line(&mut out, &mut line).expect("gateway output");
        let url = line
            .trim()
            .trim_start_matches("switchyard listening on ")
            .to_string();
        Server {
            child,
            sse_url: url.clone(),
            url,
        }
    }

    fn nginx(opts: &Options, dir: &Path, upstream: &str, sse_upstream: &str) -> Option<Server> {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())?;
        let (port, sse_port) = (free_port(), free_port());
        let prefix = dir.join("nginx");
        std::fs::create_dir_all(prefix.join("logs")).ok()?;
        let strip = |u: &str| u.trim_start_matches("http://").to_string();
        let conf = format!(
            "worker_processes 1;\ndaemon off;\nmaster_process off;\npid {p}/nginx.pid;\nerror_log {p}/logs/error.log crit;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {p}/body;\n  proxy_temp_path {p}/proxy;\n\
               fastcgi_temp_path {p}/fcgi;\n  uwsgi_temp_path {p}/uwsgi;\n  scgi_temp_path {p}/scgi;\n\
               upstream mock {{ server {up}; keepalive 256; }}\n  upstream sse {{ server {sse}; keepalive 64; }}\n\
               server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://mock; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}\n\
               server {{ listen 127.0.0.1:{sse_port}; location / {{ proxy_pass http://sse; proxy_http_version 1.1; proxy_set_header Connection \"\"; proxy_buffering off; }} }}\n}}\n",
            p = prefix.display(),
            up = strip(upstream),
            sse = strip(sse_upstream),
        );
        let conf_path = prefix.join("nginx.conf");
        std::fs::write(&conf_path, conf).ok()?;
        let child = Command::new("taskset")
            .args(["-c", &opts.gateway_core, nginx, "-c"])
            .arg(&conf_path)
            .args(["-p"])
            .arg(&prefix)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .ok()?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Server {
            child,
            url,
            sse_url: format!("http://127.0.0.1:{sse_port}"),
        })
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

fn sibling_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // target/release/examples/bench → target/release/switchyard
    let release = exe.parent().and_then(Path::parent).expect("target dir");
    release.join(name)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

fn refused_port() -> u16 {
    free_port()
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

fn with_rss_sampling<T>(pid: u32, run: impl FnOnce() -> T) -> (T, u64) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            peak = peak.max(rss_kib(pid));
            std::thread::sleep(Duration::from_millis(100));
        }
        peak
    });
    let result = run();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (result, sampler.join().unwrap_or(0))
}

struct WrkResult {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
}

fn wrk_script() -> PathBuf {
    let path = std::env::temp_dir().join("switchyard-bench-post.lua");
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = '{BODY}'\nwrk.headers[\"content-type\"] = \"application/json\"\n"
    );
    let _ = std::fs::write(&path, script);
    path
}

fn wrk(url: &str, conns: u32, seconds: u64) -> Option<WrkResult> {
    let out = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{conns}"),
            &format!("-d{seconds}s"),
            "--latency",
            "-s",
        ])
        .arg(wrk_script())
        .arg(format!("{url}/v1/messages"))
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())?;
    let pct = |label: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(label))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(parse_wrk_duration)
            .unwrap_or(f64::NAN)
    };
    Some(WrkResult {
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
    })
}

/// Sends about `requests` requests with wrk (time-bounded by the rate it achieves).
fn wrk_requests(url: &str, conns: u32, requests: u64) -> u64 {
    let probe = wrk(url, conns, 2)
        .map(|r| r.rps)
        .unwrap_or(10_000.0)
        .max(1.0);
    let seconds = ((requests as f64 / probe).ceil() as u64).clamp(1, 600);
    wrk(url, conns, seconds)
        .map(|r| (r.rps * seconds as f64) as u64)
        .unwrap_or(0)
        + (probe * 2.0) as u64
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

/// An open-loop load at `rate` requests/s: each request starts on schedule, whatever the others do.
async fn fixed_rate(url: String, rate: u64, duration: Duration) -> Percentiles {
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
        tasks.push(actix_rt::spawn(async move {
            let t = Instant::now();
            let mut r = client
                .post(url)
                .insert_header(("content-type", "application/json"))
                .send_body(BODY)
                .await
                .ok()?;
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

/// Streams one after another; lateness = arrival at the client − the mock's send time (same clock).
async fn sse_lateness(url: String, mock: &MockUpstream, streams: usize) -> SseFigures {
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
        let mut arrivals = Vec::new();
        let mut buffer = Vec::new();
        while let Some(Ok(chunk)) = r.next().await {
            let now = Instant::now();
            buffer.extend_from_slice(&chunk);
            let complete = buffer.windows(2).filter(|w| w == b"\n\n").count();
            while arrivals.len() < complete {
                arrivals.push(now);
            }
        }
        let times = mock.event_times();
        if let Some(first) = arrivals.first() {
            firsts.push((*first - sent).as_secs_f64() * 1000.0);
        }
        for (arrived, sent) in arrivals.iter().zip(times.iter()) {
            lateness.push(arrived.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
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

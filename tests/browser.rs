//! The status page in a real browser: headless Chromium loads `/admin` of a running gateway and
//! the test reads the rendered DOM; a screenshot is saved under `target/browser/`. Skips (saying
//! so) only when no Chromium can be found (`.ci/run` installs the Debian package `chromium`).

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

/// Runs Chromium headless on `url` with `action` (`--dump-dom` or `--screenshot=…`); its stdout.
fn chromium(browser: &Path, profile: &Path, action: &str, url: &str) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1366,700",
            "--virtual-time-budget=4000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(action)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut out = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut out);
        out
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("chromium").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().expect("chromium output")
}

#[actix_rt::test]
async fn the_status_page_shows_an_auth_failed_endpoint_the_days_usage_and_cache_hits_in_a_real_browser(
) {
    let Some(browser) = find_chromium() else {
        eprintln!(
            "SKIPPED: no chromium found (install the Debian package `chromium`, or set CHROMIUM)"
        );
        return;
    };
    let rejecting = mock("relay-rejects", "another-key");
    // The main upstream's answers announce its rate limits, as Anthropic's do, and each reads
    // 1000 tokens from the prompt cache beside its 10 uncached ones.
    let resets = std::time::SystemTime::now() + Duration::from_secs(600);
    let resets = switchyard::endpoint::model_cooldowns::format_rfc3339(resets);
    let limit =
        |name: &str, value: &str| (format!("anthropic-ratelimit-{name}"), value.to_string());
    let healthy = MockUpstream::start(Behaviour {
        name: "main".into(),
        key: Some("k".into()),
        cache: Some(switchyard::mock::PromptCache {
            read: 1000,
            ..Default::default()
        }),
        headers: vec![
            limit("requests-limit", "1000"),
            limit("requests-remaining", "812"),
            limit("requests-reset", &resets),
            limit("tokens-limit", "400000"),
            limit("tokens-remaining", "164000"),
            limit("tokens-reset", &resets),
        ],
        ..Behaviour::default()
    })
    .expect("mock");
    // A key whose last characters once showed on the page as if they read `[redacted]`.
    let key = "demo-key-rejected";
    let fingerprint = switchyard::Secret::new(key.into()).fingerprint();
    let gw = Gateway::start(&config(
        "",
        &[
            endpoint("relay-rejects", &rejecting.url(), key, 1)
                + "    budget: {daily_usd: 5}\n",
            endpoint("anthropic-main", &healthy.url(), "k", 2)
                + "    price: {input: 3.0, output: 15.0, cache_read: 0.3}\n    budget: {daily_usd: 1, monthly_usd: 20}\n",
        ],
    ));
    // The first request meets the 401 and fails over; 4 answers of 1013 tokens each in all, 99 %
    // of their input read from the cache, which saved 4 × 1000 × ($3 - $0.30) per million.
    for body in [MESSAGES_BODY, STREAM_BODY, MESSAGES_BODY, STREAM_BODY] {
        let (status, _, _) = post(&gw.url, "/v1/messages", body).await;
        assert_eq!(status, 200);
    }
    assert_eq!(gw.state_of("relay-rejects").await, "auth_failed");
    // The history is written at least every second; wait until the page's source has all four.
    let deadline = Instant::now() + Duration::from_secs(10);
    while get_json(&format!("{}/admin/usage?since=1h", gw.url)).await["totals"]["requests"] != 4 {
        assert!(Instant::now() < deadline, "usage never reached 4 requests");
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser");
    std::fs::create_dir_all(&out).expect("target/browser");
    let profile = tempfile::tempdir().expect("profile dir");
    let url = format!("{}/admin", gw.url);
    let (browser2, profile2, url2) = (browser.clone(), profile.path().to_path_buf(), url.clone());
    let dom =
        actix_rt::task::spawn_blocking(move || chromium(&browser2, &profile2, "--dump-dom", &url2))
            .await
            .expect("dump-dom");
    std::fs::write(out.join("admin.html"), &dom).expect("save the DOM");
    for expected in [
        "relay-rejects",
        "anthropic-main",
        ">auth failed<",
        "s-auth_failed",
        "4052 tok",
        ">Cache hit<",
        ">99%<",
        "$0.01 saved",
        "Today by agent",
        ">other<",
        "cache saved today",
        "live · updated",
        &format!("key {fingerprint}"),
        "requests 812 of 1000, tokens 41% left, <span data-reset",
    ] {
        assert!(
            dom.contains(expected),
            "the rendered page lacks `{expected}` (saved in target/browser/admin.html)"
        );
    }
    assert!(
        dom.contains(r#"id="down" hidden"#),
        "the page says the gateway cannot be reached"
    );
    assert!(
        !dom.contains("…cted") && !dom.contains(key),
        "a part of the key is on the page (saved in target/browser/admin.html)"
    );

    let shot = out.join("admin.png");
    let _ = std::fs::remove_file(&shot);
    let action = format!("--screenshot={}", shot.display());
    actix_rt::task::spawn_blocking(move || chromium(&browser, profile.path(), &action, &url))
        .await
        .expect("screenshot");
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 10_000, "no screenshot at {}", shot.display());
    eprintln!("screenshot: {}", shot.display());
}

/// Serves `page` as HTML to every request on a port of its own, for as long as the test runs.
fn serve_page(page: String) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut stream, &mut buf);
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = std::io::Write::write_all(&mut stream, answer.as_bytes());
        }
    });
    url
}

#[actix_rt::test]
async fn a_web_page_on_another_port_cannot_disable_an_endpoint_or_reach_the_upstream() {
    let Some(browser) = find_chromium() else {
        eprintln!(
            "SKIPPED: no chromium found (install the Debian package `chromium`, or set CHROMIUM)"
        );
        return;
    };
    let upstream = mock("anthropic", "k");
    let gw = Gateway::start(&config(
        "",
        &[endpoint("anthropic", &upstream.url(), "k", 1)],
    ));
    // What a hostile page can do without the user's help: simple requests (no preflight), whose
    // answers it cannot read but whose effects would stand.
    let page = format!(
        r#"<!doctype html><html><body><p id="out">running</p><script>
(async () => {{
  const gw = "{gw}";
  const sent = [];
  for (const [path, body] of [["/v1/messages", {body}], ["/admin/endpoints/anthropic/disable", ""]]) {{
    try {{
      await fetch(gw + path, {{method: "POST", mode: "no-cors", body, headers: {{"content-type": "text/plain"}}}});
      sent.push("sent");
    }} catch (e) {{ sent.push("failed"); }}
  }}
  document.getElementById("out").textContent = "attack finished: " + sent.join(",");
}})();
</script></body></html>"#,
        gw = gw.url,
        body = serde_json::to_string(MESSAGES_BODY).expect("quote"),
    );
    let attacker = serve_page(page);
    let profile = tempfile::tempdir().expect("profile dir");
    let dom = actix_rt::task::spawn_blocking(move || {
        chromium(&browser, profile.path(), "--dump-dom", &attacker)
    })
    .await
    .expect("dump-dom");
    assert!(
        dom.contains("attack finished: sent,sent"),
        "the page's requests did not run: {dom}"
    );
    assert_eq!(
        upstream.hits(),
        0,
        "the page's request reached the upstream"
    );
    let status = gw.status().await;
    assert_eq!(status["endpoints"][0]["enabled"], true, "{status}");
    assert_ne!(gw.state_of("anthropic").await, "disabled");
}

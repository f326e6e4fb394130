//! `switchyard status`: the running gateway's `/admin/status` as a table (or its JSON as it came).
//! The answer is read into typed views whose words are the gateway's own ([`State`],
//! [`AuthMode`], [`Strategy`]); a word this build does not know is shown as it came, and a field
//! it does not know is left alone, so that a newer gateway does not break an older CLI.

use super::CommandError;
use crate::config::{AuthMode, Strategy};
use crate::endpoint::health::State;
use crate::text::escape_controls;
use crate::words::Word;
use serde::Deserialize;
use std::io::IsTerminal;

/// `/admin/status` as the table reads it; a missing field reads as unknown (`?`, `-`) or none.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusView {
    pub version: Option<String>,
    pub uptime_s: u64,
    pub auth_mode: Option<Word<AuthMode>>,
    pub strategy: Option<Word<Strategy>>,
    pub listen: Vec<String>,
    /// The last reload's error, while the previous config runs.
    pub config_error: Option<String>,
    pub endpoints: Vec<EndpointView>,
}

/// One endpoint of `/admin/status`, as the table reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointView {
    pub id: Option<String>,
    pub state: Option<Word<State>>,
    pub requests: u64,
    pub failures: u64,
    pub in_flight: u64,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    /// Seconds left in a timed state.
    pub retry_in_s: Option<f64>,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub base_url: Option<String>,
    /// Models rate-limited on this endpoint while it serves the others.
    pub model_cooldowns: Vec<CooldownView>,
    /// The rate limits the upstream last announced, per model or for the endpoint.
    pub rate_limits: Vec<LimitsView>,
}

/// The rate limits one model (or, without a model, the endpoint) was last announced.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LimitsView {
    pub model: Option<String>,
    pub requests: Option<BudgetView>,
    pub tokens: Option<BudgetView>,
    pub input_tokens: Option<BudgetView>,
    pub output_tokens: Option<BudgetView>,
}

/// One budget of an upstream's rate limits.
#[derive(Debug, Default, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct BudgetView {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    pub reset_in_s: Option<f64>,
}

/// "requests 812 of 1000, tokens 41% left, resets in 34 s": what is left of each budget (requests
/// counted, tokens as a share of the limit), and when the budget with the least left is whole
/// again. Empty when nothing is known.
pub fn describe_limits(limits: &LimitsView) -> String {
    let budgets = [
        ("requests", limits.requests),
        ("tokens", limits.tokens),
        ("input tokens", limits.input_tokens),
        ("output tokens", limits.output_tokens),
    ];
    let mut parts = Vec::new();
    // The budget with the smallest share left decides when things get better.
    let mut tightest: Option<(f64, Option<f64>)> = None;
    for (name, budget) in budgets {
        let Some(BudgetView {
            limit,
            remaining: Some(remaining),
            reset_in_s,
        }) = budget
        else {
            continue;
        };
        let share = limit
            .filter(|l| *l > 0)
            .map(|l| remaining as f64 / l as f64);
        parts.push(match (name, limit, share) {
            ("requests", Some(limit), _) => format!("requests {remaining} of {limit}"),
            (_, _, Some(share)) => format!("{name} {:.0}% left", (share * 100.0).floor()),
            _ => format!("{name} {remaining} left"),
        });
        let share = share.unwrap_or(1.0);
        if tightest.map_or(true, |(least, _)| share < least) {
            tightest = Some((share, reset_in_s));
        }
    }
    match tightest.and_then(|(_, reset)| reset) {
        Some(secs) if secs > 0.0 => parts.push(format!("resets in {}", reset_words(secs))),
        Some(_) => parts.push("reset since".to_string()),
        None => {}
    }
    parts.join(", ")
}

/// `34 s`, `5 min`, `2 h`: a reset's distance, as precise as it is useful.
fn reset_words(secs: f64) -> String {
    let secs = secs.ceil() as u64;
    match secs {
        s if s < 90 => format!("{s} s"),
        s if s < 90 * 60 => format!("{} min", s.div_ceil(60)),
        s => format!("{} h", s.div_ceil(3600)),
    }
}

/// One model's cooldown on an endpoint.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct CooldownView {
    pub model: Option<String>,
    pub retry_in_s: f64,
}

/// Runs `switchyard status` against the gateway at `url`.
pub fn run(url: &str, key: Option<&str>, json: bool) -> Result<(), CommandError> {
    let url = format!("{}/admin/status", url.trim_end_matches('/'));
    let body = actix_rt::System::new()
        .block_on(super::fetch(&url, key))
        .map_err(CommandError::Failed)?;
    if json {
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(());
    }
    let report: StatusView = serde_json::from_slice(&body)
        .map_err(|e| CommandError::Failed(format!("{url} did not answer JSON: {e}")))?;
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    print!("{}", render_status_table(&report, colour));
    Ok(())
}

/// The `switchyard status` table.
pub fn render_status_table(report: &StatusView, colour: bool) -> String {
    // Every text below came from the gateway's answer, which quotes model names, upstream error
    // text and other values from outside: shown with control characters escaped.
    let text = |v: Option<&str>, missing: &str| escape_controls(v.unwrap_or(missing)).into_owned();
    let mut out = String::new();
    out.push_str(&format!(
        "switchyard {}  up {}  auth {}  strategy {}  listening {}\n",
        text(report.version.as_deref(), "?"),
        human_duration(report.uptime_s),
        text(report.auth_mode.as_ref().map(Word::as_str), "?"),
        text(report.strategy.as_ref().map(Word::as_str), "?"),
        report
            .listen
            .iter()
            .map(|v| escape_controls(v).into_owned())
            .collect::<Vec<_>>()
            .join(", "),
    ));
    if let Some(error) = &report.config_error {
        out.push_str(&format!(
            "config reload failed (running the previous config): {}\n",
            escape_controls(error)
        ));
    }
    let header = [
        "ID", "STATE", "REQS", "FAILS", "INFL", "LAST", "P50ms", "P95ms", "WHY", "BASE URL",
    ];
    let mut rows: Vec<[String; 10]> = Vec::new();
    for e in &report.endpoints {
        let state = text(e.state.as_ref().map(Word::as_str), "?");
        let mut why = text(e.last_error.as_deref(), "");
        if let Some(secs) = e.retry_in_s {
            why = format!("back in {secs:.0}s; {why}");
        }
        let cooling: Vec<String> = e
            .model_cooldowns
            .iter()
            .map(|c| format!("{} {:.0}s", text(c.model.as_deref(), "?"), c.retry_in_s))
            .collect();
        if !cooling.is_empty() {
            // Per-model rate limits: the endpoint serves other models meanwhile.
            why = format!("limited: {}; {why}", cooling.join(", "));
        }
        if why.chars().count() > 60 {
            why = why.chars().take(59).collect::<String>() + "…";
        }
        let ms = |v: Option<f64>| v.map(|x| format!("{x:.0}")).unwrap_or("-".into());
        rows.push([
            text(e.id.as_deref(), "?"),
            state,
            e.requests.to_string(),
            e.failures.to_string(),
            e.in_flight.to_string(),
            e.last_status.map(|s| s.to_string()).unwrap_or("-".into()),
            ms(e.latency_p50_ms),
            ms(e.latency_p95_ms),
            if why.is_empty() { "-".into() } else { why },
            text(e.base_url.as_deref(), ""),
        ]);
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>, out: &mut String| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(visible_len(cell));
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| h.to_string()).collect(), &mut out);
    for (row, endpoint) in rows.into_iter().zip(&report.endpoints) {
        let mut cells: Vec<String> = row.to_vec();
        if colour {
            if let Some(Word::Known(state)) = endpoint.state {
                cells[1] = paint(state, &cells[1]);
            }
        }
        line(cells, &mut out);
    }
    let limits: Vec<(String, String)> = report
        .endpoints
        .iter()
        .flat_map(|e| {
            e.rate_limits.iter().filter_map(move |l| {
                let what = describe_limits(l);
                let who = match &l.model {
                    Some(model) => format!("{} ({model})", text(e.id.as_deref(), "?")),
                    None => text(e.id.as_deref(), "?"),
                };
                (!what.is_empty()).then(|| (escape_controls(&who).into_owned(), what))
            })
        })
        .collect();
    if !limits.is_empty() {
        out.push_str("\nrate limits the upstreams announced:\n");
        let width = limits
            .iter()
            .map(|(who, _)| who.chars().count())
            .max()
            .unwrap_or(0);
        for (who, what) in limits {
            let pad = width - who.chars().count();
            out.push_str(&format!("  {who}{}  {what}\n", " ".repeat(pad)));
        }
    }
    out
}

fn visible_len(text: &str) -> usize {
    let mut n = 0;
    let mut in_escape = false;
    for c in text.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (true, _) => {}
            (false, _) => n += 1,
        }
    }
    n
}

/// A state's word in its colour.
fn paint(state: State, word: &str) -> String {
    let code = match state {
        State::Healthy => "32",
        State::Unknown => "37",
        State::CoolingDown => "33",
        State::Ejected => "35",
        State::AuthFailed => "31",
        State::Disabled => "90",
        State::OverBudget => "91",
    };
    format!("\x1b[{code}m{word}\x1b[0m")
}

fn human_duration(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(json: serde_json::Value) -> StatusView {
        serde_json::from_value(json).expect("a status answer")
    }

    #[test]
    fn text_from_upstreams_and_clients_reaches_the_terminal_escaped() {
        let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nINJECTED";
        let report = serde_json::json!({
            "version": "0.1.0", "uptime_s": 1, "auth_mode": "off", "strategy": "priority", "listen": [],
            "config_error": hostile,
            "endpoints": [
                {"id": "a", "state": "healthy", "requests": 1, "failures": 1, "last_status": 500,
                 "last_error": hostile, "base_url": "https://a.example",
                 "model_cooldowns": [{"model": hostile, "retry_in_s": 3.0}]}
            ]
        });
        for colour in [false, true] {
            let table = render_status_table(&view(report.clone()), colour);
            let raw_escape = table.match_indices('\x1b').any(|(i, _)| {
                !table[i..].starts_with("\x1b[3") && !table[i..].starts_with("\x1b[0m")
            });
            assert!(!raw_escape, "{table:?}");
            assert!(
                !table.contains('\r') && !table.contains('\u{7}'),
                "{table:?}"
            );
            assert!(table.lines().all(|l| !l.starts_with("INJECTED")), "{table}");
        }
    }

    #[test]
    fn the_status_table_lines_up_and_colours_only_when_asked() {
        let report = serde_json::json!({
            "version": "0.1.0", "uptime_s": 30, "auth_mode": "off", "strategy": "priority", "listen": ["127.0.0.1:8045"],
            "config_error": null,
            "endpoints": [
                {"id": "a", "state": "healthy", "requests": 10, "failures": 0, "in_flight": 1, "last_status": 200,
                 "latency_p50_ms": 12.3, "latency_p95_ms": 40.0, "last_error": null, "base_url": "https://a.example"},
                {"id": "bbbbbbbb", "state": "auth_failed", "requests": 1, "failures": 1, "in_flight": 0, "last_status": 401,
                 "latency_p50_ms": null, "latency_p95_ms": null, "last_error": "HTTP 401", "base_url": "https://b.example"},
                {"id": "c", "state": "healthy", "requests": 3, "failures": 1, "in_flight": 0, "last_status": 429,
                 "latency_p50_ms": 5.0, "latency_p95_ms": 5.0, "last_error": "HTTP 429", "base_url": "https://c.example",
                 "model_cooldowns": [{"model": "opus", "until": "2026-11-23T10:00:12Z", "retry_in_s": 12.0}]}
            ]
        });
        let plain = render_status_table(&view(report.clone()), false);
        assert!(!plain.contains('\x1b'));
        let lines: Vec<&str> = plain.lines().collect();
        assert!(lines[1].starts_with("ID"));
        let col = lines[1].find("STATE").unwrap();
        assert_eq!(&lines[2][col..col + 7], "healthy");
        assert_eq!(&lines[3][col..col + 11], "auth_failed");
        assert!(lines[4].contains("limited: opus 12s"), "{}", lines[4]);
        let coloured = render_status_table(&view(report), true);
        assert!(coloured.contains("\x1b[31mauth_failed\x1b[0m"));
    }

    #[test]
    fn rate_limits_are_told_in_words_with_the_tightest_budgets_reset() {
        let limits: LimitsView = serde_json::from_value(serde_json::json!({
            "model": null,
            "requests": {"limit": 1000, "remaining": 812, "reset_in_s": 2.0},
            "tokens": {"limit": 100000, "remaining": 41500, "reset_in_s": 33.2},
            "output_tokens": {"limit": null, "remaining": 900, "reset_in_s": null}
        }))
        .unwrap();
        assert_eq!(
            describe_limits(&limits),
            "requests 812 of 1000, tokens 41% left, output tokens 900 left, resets in 34 s"
        );
        let passed: LimitsView = serde_json::from_value(serde_json::json!({
            "requests": {"limit": 50, "remaining": 0, "reset_in_s": 0.0}
        }))
        .unwrap();
        assert_eq!(describe_limits(&passed), "requests 0 of 50, reset since");
        assert_eq!(describe_limits(&LimitsView::default()), "");
        assert_eq!(reset_words(600.0), "10 min");
        assert_eq!(reset_words(7200.0), "2 h");
        let report = serde_json::json!({
            "endpoints": [
                {"id": "a", "state": "healthy", "rate_limits": [
                    {"model": "opus", "requests": {"limit": 1000, "remaining": 812, "reset_in_s": 34.0}}]},
                {"id": "b", "state": "healthy", "rate_limits": []}
            ]
        });
        let table = render_status_table(&view(report), false);
        assert!(
            table.ends_with("rate limits the upstreams announced:\n  a (opus)  requests 812 of 1000, resets in 34 s\n"),
            "{table}"
        );
    }

    #[test]
    fn a_state_this_build_does_not_know_is_shown_as_it_came_and_left_uncoloured() {
        let report = serde_json::json!({
            "version": "9.0.0", "uptime_s": 7200, "auth_mode": "passkey", "strategy": "cheapest",
            "listen": ["127.0.0.1:8045"], "config_error": null, "new_top_level_field": {"x": 1},
            "endpoints": [
                {"id": "a", "state": "warming_up", "requests": 2, "failures": 0, "in_flight": 0,
                 "base_url": "https://a.example", "new_field": [1, 2]},
                {"id": "b", "state": "ejected", "requests": 2, "failures": 2, "in_flight": 0,
                 "retry_in_s": 29.2, "last_error": "HTTP 503", "base_url": "https://b.example"}
            ]
        });
        let table = render_status_table(&view(report), true);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(
            lines[0],
            "switchyard 9.0.0  up 2h  auth passkey  strategy cheapest  listening 127.0.0.1:8045"
        );
        assert!(lines[2].starts_with("a   warming_up  2"), "{table}");
        assert!(lines[3].contains("\x1b[35mejected\x1b[0m"), "{table}");
        assert!(lines[3].contains("back in 29s; HTTP 503"), "{table}");
    }
}

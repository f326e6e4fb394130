//! `switchyard usage`: tokens and cost from a running gateway's `/admin/usage`, as a table or JSON.

use super::CommandError;

/// What `switchyard usage` asks.
#[derive(Debug, Clone)]
pub struct UsageCommand {
    pub url: String,
    pub key: Option<String>,
    /// `24h`, `7d` or an RFC 3339 date/time (the gateway parses it).
    pub since: String,
    /// `endpoint`, `model`, `client` or `day`.
    pub by: String,
    pub json: bool,
}

/// Runs `switchyard usage`.
pub fn run(command: &UsageCommand) -> Result<(), CommandError> {
    let url = usage_url(command);
    let body = actix_rt::System::new()
        .block_on(super::fetch(&url, command.key.as_deref()))
        .map_err(CommandError::Failed)?;
    if command.json {
        println!("{}", String::from_utf8_lossy(&body));
        return Ok(());
    }
    let report = serde_json::from_slice::<serde_json::Value>(&body)
        .map_err(|e| CommandError::Failed(format!("{url} did not answer JSON: {e}")))?;
    print!("{}", render_usage_table(&report));
    Ok(())
}

/// The `/admin/usage` URL for a command (`since` and `by` percent-encoded where needed).
pub fn usage_url(command: &UsageCommand) -> String {
    format!(
        "{}/admin/usage?since={}&by={}",
        command.url.trim_end_matches('/'),
        encode(&command.since),
        encode(&command.by)
    )
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `switchyard usage` table: one line per key, then the totals. `CACHE_HIT` is the share of
/// the input read from the cache; `SAVED_USD` what those reads saved against the input price.
pub fn render_usage_table(report: &serde_json::Value) -> String {
    let text = |v: &serde_json::Value| {
        crate::text::escape_controls(v.as_str().unwrap_or("?")).into_owned()
    };
    let by = text(&report["by"]);
    let mut out = format!(
        "usage from {} to {} by {by}\n",
        text(&report["since"]),
        text(&report["until"])
    );
    if report["store"]["enabled"] == serde_json::Value::Bool(false) {
        out.push_str("(usage history is off: usage.database is `off`)\n");
    }
    let header = [
        by.to_ascii_uppercase(),
        "REQS".into(),
        "INPUT".into(),
        "OUTPUT".into(),
        "CACHE_READ".into(),
        "CACHE_WRITE".into(),
        "CACHE_HIT".into(),
        "SAVED_USD".into(),
        "COST_USD".into(),
    ];
    let row = |key: String, r: &serde_json::Value| -> [String; 9] {
        let n = |field: &str| r[field].as_u64().unwrap_or(0).to_string();
        let hit = r["cache_hit_rate"]
            .as_f64()
            .map_or_else(|| "-".to_string(), |rate| format!("{:.1}%", rate * 100.0));
        let mut cost = format!("{:.4}", r["cost_usd"].as_f64().unwrap_or(0.0));
        if let Some(unpriced) = r["unpriced_requests"].as_u64().filter(|n| *n > 0) {
            cost.push_str(&format!(" (+{unpriced} unpriced)"));
        }
        [
            key,
            n("requests"),
            n("input_tokens"),
            n("output_tokens"),
            n("cache_read_tokens"),
            n("cache_write_tokens"),
            hit,
            format!("{:.4}", r["cache_saved_usd"].as_f64().unwrap_or(0.0)),
            cost,
        ]
    };
    let mut rows: Vec<[String; 9]> = report["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            // A key is a model name, an endpoint id, a client or a day: a model name may hold
            // terminal escapes or line breaks, shown escaped.
            let key = r["key"]
                .as_str()
                .map(|k| crate::text::escape_controls(k).into_owned())
                .unwrap_or_else(|| r["key"].to_string());
            row(key, r)
        })
        .collect();
    rows.push(row("TOTAL".into(), &report["totals"]));
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut line = |cells: &[String]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i].saturating_sub(cell.chars().count());
            if i == 0 {
                text.push_str(cell);
                text.push_str(&" ".repeat(pad));
            } else {
                // Numbers line up on the right.
                text.push_str("  ");
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&header);
    for r in &rows {
        line(r);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_table_has_a_line_per_key_and_the_totals_lined_up() {
        let report = serde_json::json!({
            "since": "2026-11-22T12:00:00Z", "until": "2026-11-23T12:00:00Z", "by": "endpoint",
            "rows": [
                {"key": "relay-a", "requests": 3, "input_tokens": 3000, "output_tokens": 600,
                 "cache_read_tokens": 0, "cache_write_tokens": 0, "cache_hit_rate": 0.0,
                 "cost_usd": 0.018, "cache_saved_usd": 0.0, "unpriced_requests": 0},
                {"key": "b", "requests": 1, "input_tokens": 10, "output_tokens": 5,
                 "cache_read_tokens": 2, "cache_write_tokens": 1, "cache_hit_rate": 0.1538,
                 "cost_usd": 0.0, "cache_saved_usd": 0.00002, "unpriced_requests": 1},
                {"key": "c", "requests": 1, "input_tokens": 0, "output_tokens": 0,
                 "cache_read_tokens": 0, "cache_write_tokens": 0, "cache_hit_rate": null,
                 "cost_usd": 0.0, "cache_saved_usd": 0.0, "unpriced_requests": 1}
            ],
            "totals": {"requests": 5, "input_tokens": 3010, "output_tokens": 605,
                 "cache_read_tokens": 2, "cache_write_tokens": 1, "cache_hit_rate": 0.0007,
                 "cost_usd": 0.018, "cache_saved_usd": 0.00002, "unpriced_requests": 2},
            "store": {"enabled": true}
        });
        let table = render_usage_table(&report);
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("by endpoint"));
        assert!(lines[1].starts_with("ENDPOINT"));
        assert!(lines[2].starts_with("relay-a") && lines[2].ends_with("0.0180"));
        assert!(lines[3].ends_with("0.0000 (+1 unpriced)"));
        let cells = |l: &str| l.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        assert_eq!(cells(lines[3])[6..8], ["15.4%", "0.0000"], "{}", lines[3]);
        assert_eq!(
            cells(lines[4])[6],
            "-",
            "no input, no hit rate: {}",
            lines[4]
        );
        assert!(lines[5].starts_with("TOTAL") && lines[5].contains("3010"));
        let end = |l: &str, word: &str| l.find(word).map(|i| i + word.len());
        assert_eq!(end(lines[1], "INPUT"), end(lines[2], "3000"));
        assert_eq!(end(lines[1], "CACHE_HIT"), end(lines[3], "15.4%"));
    }

    #[test]
    fn a_model_name_with_terminal_escapes_cannot_forge_a_row_or_move_the_cursor() {
        let hostile = "\u{1b}]0;PWNED\u{7}\u{1b}[2J\r\nINJECTED  9  9";
        let report = serde_json::json!({
            "since": "s", "until": "u", "by": "model",
            "rows": [{"key": hostile, "requests": 1, "input_tokens": 1, "output_tokens": 1,
                      "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.0}],
            "totals": {"requests": 1}, "store": {"enabled": true}
        });
        let table = render_usage_table(&report);
        assert!(
            !table.chars().any(|c| c.is_control() && c != '\n'),
            "{table:?}"
        );
        // A header, the one row, the totals: no line of its own for the forged text.
        assert_eq!(table.lines().count(), 4, "{table}");
        assert!(table.lines().all(|l| !l.starts_with("INJECTED")));
    }

    #[test]
    fn the_url_asks_for_the_window_and_grouping() {
        let command = UsageCommand {
            url: "http://127.0.0.1:8045/".into(),
            key: None,
            since: "2026-11-01T00:00:00+01:00".into(),
            by: "model".into(),
            json: false,
        };
        assert_eq!(
            usage_url(&command),
            "http://127.0.0.1:8045/admin/usage?since=2026-11-01T00%3A00%3A00%2B01%3A00&by=model"
        );
    }
}

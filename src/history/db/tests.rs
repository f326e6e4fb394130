use super::*;
use crate::history::rows::Rows;
use crate::usage::clock::{parse_time, system_time};
use crate::usage::{Tokens, UsageRecord};
use std::path::PathBuf;

fn at(text: &str) -> SystemTime {
    system_time(parse_time(text, 0).expect("valid time"))
}

fn ms(text: &str) -> i64 {
    parse_time(text, 0).expect("valid time")
}

pub(crate) fn record(
    when: &str,
    endpoint: &str,
    model: &str,
    tokens: Option<(u64, u64, u64, u64)>,
    cost_usd: Option<f64>,
) -> UsageRecord {
    UsageRecord {
        at: at(when),
        endpoint: endpoint.into(),
        model: model.into(),
        upstream_model: format!("{model}-upstream").into(),
        client: "claude-code".into(),
        tokens: tokens.map(|(input, output, cache_read, cache_write)| {
            Tokens::new(input, output, cache_read, cache_write)
        }),
        status: 200,
        latency: Duration::from_millis(120),
        cost_usd,
        cache_saved_usd: cost_usd.map(|_| 0.0),
    }
}

/// Three endpoints, two models, two days, two clients; one answer without usage, one without a
/// price; cache reads that saved $0.0027, and a cache write of both lifetimes.
pub(crate) fn sample() -> Vec<UsageRecord> {
    let mut records = vec![
        record(
            "2026-11-22T23:59:59Z",
            "relay-a",
            "claude-sonnet-4-5",
            Some((100, 10, 1000, 0)),
            Some(0.00075),
        ),
        record(
            "2026-11-23T00:00:00Z",
            "relay-a",
            "claude-sonnet-4-5",
            Some((200, 20, 0, 400)),
            Some(0.0024),
        ),
        record(
            "2026-11-23T05:30:00Z",
            "relay-b",
            "claude-sonnet-4-5",
            Some((300, 30, 0, 0)),
            Some(0.00135),
        ),
        record("2026-11-23T05:45:00Z", "relay-b", "gpt-4o-mini", None, None),
        record(
            "2026-11-23T06:10:00Z",
            "local",
            "llama",
            Some((50, 5, 0, 0)),
            None,
        ),
    ];
    records[0].cache_saved_usd = Some(0.0027);
    if let Some(t) = records[1].tokens.as_mut() {
        (t.cache_write_5m, t.cache_write_1h, t.reasoning) = (100, 300, 12);
    }
    for r in &mut records[3..] {
        r.client = "codex".into();
    }
    records
}

fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("switchyard.yaml.usage.sqlite");
    (dir, path)
}

#[test]
fn totals_by_endpoint_are_exact() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let table = db
        .query(ms("2026-11-22"), ms("2026-11-24"), &[Dimension::Endpoint])
        .expect("query");
    let keys: Vec<&str> = table.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["local", "relay-a", "relay-b"]);
    let a = &table.rows[1].sums;
    assert_eq!(
        (
            a.requests,
            a.input_tokens,
            a.output_tokens,
            a.cache_read_tokens,
            a.cache_write_tokens()
        ),
        (2, 300, 30, 1000, 400)
    );
    assert_eq!(a.cost_nanousd, 3_150_000);
    assert_eq!(a.unpriced_requests, 0);
    let b = &table.rows[2].sums;
    assert_eq!(
        (b.requests, b.input_tokens, b.unpriced_requests),
        (2, 300, 1)
    );
    let t = table.totals;
    assert_eq!(
        (
            t.requests,
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens,
            t.cache_write_tokens()
        ),
        (5, 650, 65, 1000, 400)
    );
    assert_eq!(t.cost_nanousd, 4_500_000);
    assert_eq!(t.unpriced_requests, 2);
    assert!((t.cost_usd() - 0.0045).abs() < 1e-15);
}

#[test]
fn totals_by_model_and_by_day_follow_the_utc_calendar() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let by_model = db
        .query(ms("2026-11-22"), ms("2026-11-24"), &[Dimension::Model])
        .expect("query");
    let models: Vec<(&str, u64)> = by_model
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.sums.requests))
        .collect();
    assert_eq!(
        models,
        [("claude-sonnet-4-5", 3), ("gpt-4o-mini", 1), ("llama", 1)]
    );
    let by_day = db
        .query(ms("2026-11-22"), ms("2026-11-24"), &[Dimension::Day])
        .expect("query");
    let days: Vec<(&str, u64, i64)> = by_day
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.sums.requests, r.sums.cost_nanousd))
        .collect();
    assert_eq!(
        days,
        [("2026-11-22", 1, 750_000), ("2026-11-23", 4, 3_750_000)]
    );
}

#[test]
fn since_is_inclusive_and_until_exclusive() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let t = db
        .query(ms("2026-11-23T00:00:00Z"), ms("2026-11-23T06:10:00Z"), &[])
        .expect("query");
    assert!(t.rows.is_empty());
    assert_eq!(t.totals.requests, 3);
    let empty = db
        .query(ms("2020-01-01"), ms("2020-01-02"), &[Dimension::Endpoint])
        .expect("query");
    assert!(empty.rows.is_empty());
    assert_eq!(empty.totals, Sums::default());
}

#[test]
fn grouping_by_endpoint_and_hour_names_both_parts() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let t = db
        .query(
            ms("2026-11-23"),
            ms("2026-11-24"),
            &[Dimension::Endpoint, Dimension::Hour],
        )
        .expect("query");
    let rows: Vec<(&str, u64)> = t
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.sums.requests))
        .collect();
    assert_eq!(
        rows,
        [
            ("local 2026-11-23T06:00:00Z", 1),
            ("relay-a 2026-11-23T00:00:00Z", 1),
            ("relay-b 2026-11-23T05:00:00Z", 2),
        ]
    );
    let json = serde_json::to_value(&t.rows[2]).expect("json");
    assert_eq!(json["endpoint"], "relay-b");
    assert_eq!(json["hour"], "2026-11-23T05:00:00Z");
    assert_eq!(json["requests"], 2);
    assert_eq!(json["cache_read_tokens"], 0);
}

#[test]
fn json_shape_of_a_row_and_totals() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let t = db
        .query(ms("2026-11-22"), ms("2026-11-24"), &[Dimension::Endpoint])
        .expect("query");
    let json = serde_json::to_value(&t).expect("json");
    assert_eq!(
        json["rows"][1],
        serde_json::json!({
            "key": "relay-a", "requests": 2, "input_tokens": 300, "output_tokens": 30,
            "cache_read_tokens": 1000, "cache_write_tokens": 400, "cache_write_5m_tokens": 100,
            "cache_write_1h_tokens": 300, "reasoning_tokens": 12,
            // 1000 / (1000 + 400 + 300)
            "cache_hit_rate": 0.5882, "cost_usd": 0.00315, "cache_saved_usd": 0.0027,
            "unpriced_requests": 0
        })
    );
    assert_eq!(
        json["rows"][0]["cache_hit_rate"], 0.0,
        "local read nothing from a cache"
    );
    assert_eq!(json["totals"]["requests"], 5);
    assert_eq!(json["totals"]["cost_usd"], 0.0045);
    assert_eq!(json["totals"]["cache_saved_usd"], 0.0027);
    let none = serde_json::to_value(Sums::default()).expect("json");
    assert_eq!(
        none["cache_hit_rate"],
        serde_json::Value::Null,
        "no input, no rate"
    );
}

#[test]
fn usage_by_client_sums_each_agents_requests_and_cost() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&sample()).expect("insert");
    let t = db
        .query(ms("2026-11-22"), ms("2026-11-24"), &[Dimension::Client])
        .expect("query");
    let rows: Vec<(&str, u64, u64, i64)> = t
        .rows
        .iter()
        .map(|r| {
            (
                r.key.as_str(),
                r.sums.requests,
                r.sums.input_tokens,
                r.sums.cost_nanousd,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [("claude-code", 3, 600, 4_500_000), ("codex", 2, 50, 0)]
    );
    let by_two = db
        .query(
            ms("2026-11-22"),
            ms("2026-11-24"),
            &[Dimension::Client, Dimension::Endpoint],
        )
        .expect("query");
    assert_eq!(by_two.rows.len(), 4);
    assert_eq!(by_two.rows[0].parts["client"], "claude-code");
}

#[test]
fn a_file_of_the_version_4_schema_keeps_its_rows_and_its_writes_are_5_minute_ones() {
    // The schema the previous switchyard wrote, by its own migrations, with rows as it wrote them.
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).expect("open");
        for step in &MIGRATIONS[..4] {
            conn.execute_batch(step).expect("migration");
        }
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (4);
             INSERT INTO requests (at_ms, endpoint, model, upstream_model, status, requests,
                latency_ms_sum, input_tokens, output_tokens, cache_read_tokens,
                cache_write_tokens, cost_nanousd)
             VALUES (1795392000000, 'a', 'm', 'm', 200, 3, 80, 30, 15, 3000, 600, 9000),
                    (1795392001000, 'a', 'm', 'm', 200, 1, 80, NULL, 5, 0, NULL, NULL);",
        )
        .expect("v4 rows");
    }
    let mut db = UsageDb::open(&path).expect("open");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.count().expect("count"), 4);
    type Kept = (Option<i64>, Option<i64>, Option<i64>, String);
    let rows: Vec<Kept> = db
        .conn
        .prepare(
            "SELECT cache_write_5m_tokens, cache_write_1h_tokens, reasoning_tokens, client
             FROM requests ORDER BY id",
        )
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .expect("rows");
    assert_eq!(
        rows,
        [
            (Some(600), Some(0), None, "unknown".to_string()),
            (None, None, None, "unknown".to_string()),
        ]
    );
    db.insert_records(&[record(
        "2026-11-23T00:00:02Z",
        "a",
        "m",
        Some((1, 1, 0, 0)),
        Some(0.000001),
    )])
    .expect("a new row beside the old ones");
    let t = db
        .query(1795392000000, 1795392000000 + DAY_MS, &[Dimension::Client])
        .expect("query");
    let keys: Vec<(&str, u64)> = t
        .rows
        .iter()
        .map(|r| (r.key.as_str(), r.sums.requests))
        .collect();
    assert_eq!(keys, [("claude-code", 1), ("unknown", 4)]);
    let totals = t.totals;
    assert_eq!(
        (
            totals.input_tokens,
            totals.cache_read_tokens,
            totals.cache_write_tokens(),
            totals.cache_write_1h_tokens,
            totals.cost_nanousd
        ),
        (31, 3000, 600, 0, 10_000)
    );
}

#[test]
fn history_survives_reopening_the_file() {
    let (_dir, path) = temp_db();
    {
        let mut db = UsageDb::open(&path).expect("open");
        db.insert_records(&sample()).expect("insert");
    }
    let mut db = UsageDb::open(&path).expect("reopen");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.count().expect("count"), 5);
    db.insert_records(&sample()[..1]).expect("insert");
    assert_eq!(db.count().expect("count"), 6);
}

#[test]
fn an_empty_file_is_migrated_to_the_current_schema() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, b"").expect("empty file");
    let db = UsageDb::open(&path).expect("open");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.count().expect("count"), 0);
    let mode: String = db
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(mode, "wal");
}

#[test]
fn a_file_from_a_newer_switchyard_is_refused_untouched() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (99);",
        )
        .expect("schema");
    }
    match UsageDb::open(&path) {
        Err(StoreError::TooNew { found: 99, .. }) => {}
        Err(other) => panic!("expected TooNew, got {other}"),
        Ok(_) => panic!("expected TooNew, got an open file"),
    }
}

#[test]
fn a_file_that_is_not_sqlite_is_an_error_not_a_panic() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, vec![b'x'; 4096]).expect("garbage");
    assert!(UsageDb::open(&path).is_err());
}

#[test]
fn retention_deletes_old_requests_but_never_the_current_month() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&[
        record("2026-08-01T00:00:00Z", "a", "m", None, Some(1.0)),
        record("2026-11-01T00:00:00Z", "a", "m", None, Some(1.0)),
        record("2026-11-20T00:00:00Z", "a", "m", None, Some(1.0)),
    ])
    .expect("insert");
    let now = at("2026-11-23T00:00:00Z");
    // A 7-day retention would reach into the month; the month is kept whole.
    assert_eq!(
        db.prune(now, Duration::from_secs(7 * 86_400))
            .expect("prune"),
        1
    );
    assert_eq!(db.count().expect("count"), 2);
}

#[test]
fn spend_per_endpoint_covers_the_utc_day_and_month() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    db.insert_records(&[
        record("2026-10-31T23:59:59Z", "a", "m", None, Some(100.0)),
        record("2026-11-01T00:00:00Z", "a", "m", None, Some(2.0)),
        record("2026-11-22T23:00:00Z", "a", "m", None, Some(0.5)),
        record("2026-11-23T00:00:00Z", "a", "m", None, Some(0.25)),
        record("2026-11-23T09:00:00Z", "b", "m", None, Some(1.0)),
        record("2026-11-23T09:00:00Z", "b", "m", None, None),
    ])
    .expect("insert");
    let spend = db.spend(at("2026-11-23T12:00:00Z")).expect("spend");
    assert_eq!(
        spend.get("a"),
        Some(&EndpointSpend {
            today_usd: 0.25,
            month_usd: 2.75
        })
    );
    assert_eq!(
        spend.get("b"),
        Some(&EndpointSpend {
            today_usd: 1.0,
            month_usd: 1.0
        })
    );
    assert_eq!(spend.len(), 2);
}

#[test]
fn an_in_memory_history_works_for_the_demo() {
    let mut db = UsageDb::open(Path::new(":memory:")).expect("open");
    db.insert_records(&sample()).expect("insert");
    assert_eq!(db.count().expect("count"), 5);
}

/// The rows kept in the file (not the requests they hold).
pub(crate) fn row_count(db: &UsageDb) -> i64 {
    db.conn
        .query_row("SELECT COUNT(*) FROM requests", [], |r| r.get(0))
        .expect("rows")
}

#[test]
fn answers_of_one_second_and_key_share_a_row_and_sum_exactly() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    let mut batch = Vec::new();
    for i in 0..1000u64 {
        let mut r = record(
            "2026-11-23T10:00:00Z",
            "relay-a",
            "claude-sonnet-4-5",
            Some((i, 2 * i, 3, 0)),
            Some(0.000_001),
        );
        r.at += Duration::from_micros(i * 999);
        batch.push(r);
    }
    db.insert_records(&batch).expect("insert");
    assert_eq!(row_count(&db), 1, "1,000 answers of one second: one row");
    assert_eq!(db.count().expect("count"), 1000);
    let t = db
        .query(ms("2026-11-23"), ms("2026-11-24"), &[Dimension::Model])
        .expect("query")
        .totals;
    assert_eq!(
        (
            t.requests,
            t.input_tokens,
            t.output_tokens,
            t.cache_read_tokens
        ),
        (1000, 499_500, 999_000, 3000)
    );
    assert_eq!(t.cost_nanousd, 1_000_000);
    assert_eq!(t.unpriced_requests, 0);
    let latency: i64 = db
        .conn
        .query_row("SELECT latency_ms_sum FROM requests", [], |r| r.get(0))
        .expect("latency");
    assert_eq!(latency, 120_000);
}

#[test]
fn a_row_never_mixes_seconds_keys_or_unknown_tokens_and_cost() {
    let base = record(
        "2026-11-23T10:00:00Z",
        "a",
        "m",
        Some((1, 1, 0, 0)),
        Some(1.0),
    );
    let mut next_second = base.clone();
    next_second.at += Duration::from_millis(1000);
    let mut other_status = base.clone();
    other_status.status = 529;
    let mut other_upstream = base.clone();
    other_upstream.upstream_model = "m-2".into();
    let unpriced = UsageRecord {
        cost_usd: None,
        ..base.clone()
    };
    let unknown = UsageRecord {
        tokens: None,
        cost_usd: None,
        ..base.clone()
    };
    let other_endpoint = UsageRecord {
        endpoint: "b".into(),
        ..base.clone()
    };
    let records = vec![
        base.clone(),
        next_second,
        other_status,
        other_upstream,
        unpriced.clone(),
        unknown.clone(),
        other_endpoint,
        base,
        unpriced,
        unknown,
    ];
    let rows = Rows::of(records.clone());
    assert_eq!(
        rows.iter().map(|r| r.requests).collect::<Vec<_>>(),
        [2, 1, 1, 1, 2, 2, 1],
        "{rows:#?}"
    );
    assert_eq!(rows[0].at_ms % 1000, 0);
    assert_eq!(rows[1].at_ms - rows[0].at_ms, 1000);
    assert_eq!(rows[4].tokens.map(|t| t.input), Some(2));
    assert_eq!(rows[4].cost_nanousd, None);
    assert_eq!((rows[5].tokens, rows[5].cost_nanousd), (None, None));
    assert_eq!(rows[0].cost_nanousd, Some(2_000_000_000));
}

#[test]
fn grouped_rows_answer_every_query_as_single_requests_would() {
    // Random records, written grouped; every sum is compared with the records' own sums.
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    let start = at("2026-11-23T00:00:00Z");
    let mut all = Vec::new();
    for _ in 0..20 {
        let batch: Vec<UsageRecord> = (0..200)
            .map(|_| {
                let tokens = (next(4) > 0).then(|| (next(1000), next(1000), next(10), next(10)));
                let cost = (tokens.is_some() && next(3) > 0).then(|| next(5000) as f64 * 1e-6);
                let mut r = record(
                    "2026-11-23T00:00:00Z",
                    ["a", "b", "c"][next(3) as usize],
                    ["m1", "m2"][next(2) as usize],
                    tokens,
                    cost,
                );
                r.at = start + Duration::from_millis(next(3 * 3_600_000));
                r
            })
            .collect();
        db.insert_records(&batch).expect("insert");
        all.extend(batch);
    }
    assert!(row_count(&db) < all.len() as i64);
    let since = ms("2026-11-23T01:00:00Z");
    let until = ms("2026-11-23T02:30:00Z");
    let inside: Vec<&UsageRecord> = all
        .iter()
        .filter(|r| (since..until).contains(&clock::unix_ms(r.at)))
        .collect();
    let table = db
        .query(since, until, &[Dimension::Endpoint, Dimension::Hour])
        .expect("query");
    for row in &table.rows {
        let mine: Vec<&&UsageRecord> = inside
            .iter()
            .filter(|r| {
                *r.endpoint == row.parts["endpoint"]
                    && clock::format_rfc3339(clock::unix_ms(r.at) / HOUR_MS * HOUR_MS)
                        == row.parts["hour"]
            })
            .collect();
        let tokens = |f: fn(&Tokens) -> u64| -> u64 {
            mine.iter().filter_map(|r| r.tokens.as_ref()).map(f).sum()
        };
        let cost: i64 = mine
            .iter()
            .filter_map(|r| r.cost_usd.map(crate::usage::price::usd_to_nanos))
            .sum();
        let s = row.sums;
        assert_eq!(s.requests, mine.len() as u64, "{}", row.key);
        assert_eq!(s.input_tokens, tokens(|t| t.input), "{}", row.key);
        assert_eq!(s.output_tokens, tokens(|t| t.output), "{}", row.key);
        assert_eq!(s.cache_read_tokens, tokens(|t| t.cache_read), "{}", row.key);
        assert_eq!(
            s.cache_write_tokens(),
            tokens(|t| t.cache_write()),
            "{}",
            row.key
        );
        assert_eq!(s.cost_nanousd, cost, "{}", row.key);
        let unpriced = mine.iter().filter(|r| r.cost_usd.is_none()).count() as u64;
        assert_eq!(s.unpriced_requests, unpriced, "{}", row.key);
    }
    assert_eq!(table.totals.requests, inside.len() as u64);
}

#[test]
fn a_version_2_file_keeps_its_rows_as_one_request_each() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).expect("open");
        conn.execute_batch(MIGRATIONS[0]).expect("v1");
        conn.execute_batch(MIGRATIONS[1]).expect("v2");
        conn.execute_batch(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (2);
             INSERT INTO requests (at_ms, endpoint, model, upstream_model, status, latency_ms,
                input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nanousd)
             VALUES (1795392000000, 'a', 'm', 'm', 200, 80, 10, 5, 0, 0, 1000),
                    (1795392000001, 'a', 'm', 'm', 200, 90, NULL, NULL, NULL, NULL, NULL);",
        )
        .expect("v2 rows");
    }
    let mut db = UsageDb::open(&path).expect("open");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert_eq!(db.count().expect("count"), 2);
    db.insert_records(&[record("2026-11-23T00:00:00Z", "a", "m", None, None)])
        .expect("insert");
    let t = db
        .query(1795392000000, 1795392000000 + DAY_MS, &[])
        .expect("query")
        .totals;
    assert_eq!((t.requests, t.input_tokens, t.cost_nanousd), (3, 10, 1000));
    assert_eq!(t.unpriced_requests, 2);
    let latency: i64 = db
        .conn
        .query_row("SELECT SUM(latency_ms_sum) FROM requests", [], |r| r.get(0))
        .expect("latency");
    assert_eq!(latency, 80 + 90 + 120);
}

#[test]
fn an_unknown_kind_is_stored_as_null_and_never_shares_a_row_with_a_known_one() {
    let (_dir, path) = temp_db();
    let mut db = UsageDb::open(&path).expect("open");
    let mut unknown_input = record(
        "2026-11-23T10:00:00Z",
        "a",
        "m",
        Some((0, 4, 0, 0)),
        Some(1.0),
    );
    if let Some(t) = unknown_input.tokens.as_mut() {
        t.unknown.insert(Kind::Input);
    }
    let known = record(
        "2026-11-23T10:00:00Z",
        "a",
        "m",
        Some((3, 4, 0, 0)),
        Some(1.0),
    );
    db.insert_records(&[unknown_input.clone(), known, unknown_input])
        .expect("insert");
    let rows: Vec<(i64, Option<i64>, Option<i64>)> = db
        .conn
        .prepare("SELECT requests, input_tokens, output_tokens FROM requests ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .expect("rows");
    assert_eq!(rows, [(2, None, Some(8)), (1, Some(3), Some(4))]);
    let t = db
        .query(ms("2026-11-23T00:00:00Z"), ms("2026-11-24T00:00:00Z"), &[])
        .expect("query")
        .totals;
    assert_eq!((t.requests, t.input_tokens, t.output_tokens), (3, 3, 12));
}

#[test]
fn sums_past_the_integer_range_never_fail_a_query_or_the_spend() {
    let (_dir, path) = temp_db();
    let db = UsageDb::open(&path).expect("open");
    // Rows as an older switchyard wrote them from an answer claiming 2^64 - 1 tokens: clamped to
    // 2^63 - 1, with a cost clamped the same way; two of them overflow any 64-bit sum.
    for _ in 0..2 {
        db.conn
            .execute(
                "INSERT INTO requests (at_ms, endpoint, model, upstream_model, status, requests,
                    latency_ms_sum, input_tokens, output_tokens, cache_read_tokens,
                    cache_write_5m_tokens, cost_nanousd)
                 VALUES (?1, 'a', 'm', 'm', 200, 1, 5, ?2, 1, 0, 0, ?2)",
                params![ms("2026-11-23T10:00:00Z"), i64::MAX],
            )
            .expect("row");
    }
    let now = at("2026-11-23T12:00:00Z");
    let table = db
        .query(
            ms("2026-11-23T00:00:00Z"),
            ms("2026-11-24T00:00:00Z"),
            &[Dimension::Model],
        )
        .expect("a sum past 2^63 is no error");
    assert_eq!(table.totals.requests, 2);
    assert_eq!(table.totals.output_tokens, 2);
    assert!(table.totals.input_tokens >= i64::MAX as u64);
    assert!(table.totals.cost_nanousd > 0, "no wrap to a negative cost");
    let spend = db.spend(now).expect("the spend is read");
    assert!(spend["a"].month_usd > 1e9, "{:?}", spend["a"]);
}

#[test]
fn counts_out_of_range_in_an_older_file_become_unknown_with_their_cost() {
    let (_dir, path) = temp_db();
    {
        let conn = Connection::open(&path).expect("open");
        for step in &MIGRATIONS[..3] {
            conn.execute_batch(step).expect("migration");
        }
        conn.execute_batch(&format!(
            "CREATE TABLE schema_version (version INTEGER NOT NULL);
             INSERT INTO schema_version VALUES (3);
             INSERT INTO requests (at_ms, endpoint, model, upstream_model, status, requests,
                latency_ms_sum, input_tokens, output_tokens, cache_read_tokens,
                cache_write_tokens, cost_nanousd)
             VALUES (1795392000000, 'a', 'm', 'm', 200, 1, 80, {max}, 5, 0, 0, {max}),
                    (1795392000000, 'a', 'm', 'm', 200, 2, 80, 10, 5, 2000000000000, 0, 7),
                    (1795392000000, 'a', 'm', 'm', 200, 2, 80, 10, 5, 2000000000001, 0, 7),
                    (1795392000000, 'a', 'm', 'm', 200, 1, 80, NULL, NULL, NULL, NULL, NULL);",
            max = i64::MAX
        ))
        .expect("v3 rows");
    }
    let db = UsageDb::open(&path).expect("open");
    assert_eq!(db.schema_version().expect("version"), SCHEMA_VERSION);
    assert!(FIX_ABSURD_COUNTS.contains(&format!("requests * {}", crate::usage::MAX_TOKENS)));
    type Counts = (Option<i64>, Option<i64>, Option<i64>, Option<i64>);
    let rows: Vec<Counts> = db
        .conn
        .prepare("SELECT input_tokens, output_tokens, cache_read_tokens, cost_nanousd FROM requests ORDER BY id")
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect()
        })
        .expect("rows");
    assert_eq!(
        rows,
        [
            (None, Some(5), Some(0), None),
            (Some(10), Some(5), Some(2_000_000_000_000), Some(7)),
            (Some(10), Some(5), None, None),
            (None, None, None, None),
        ]
    );
}

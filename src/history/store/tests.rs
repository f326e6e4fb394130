use super::*;
use crate::history::db::tests::{record, sample};

fn settings(path: PathBuf) -> StoreSettings {
    StoreSettings {
        // Long enough that only the test's own `flush` and queries write.
        flush_every: Duration::from_secs(3600),
        ..StoreSettings::new(Some(path))
    }
}

fn ms(text: &str) -> i64 {
    crate::usage::clock::parse_time(text, 0).expect("valid time")
}

#[actix_rt::test]
async fn records_sent_without_waiting_come_back_in_queries_with_exact_totals() {
    let dir = tempfile::tempdir().expect("temp dir");
    let history = UsageHistory::start(settings(dir.path().join("usage.sqlite")));
    for r in sample() {
        history.record(r);
    }
    let table = history
        .query(
            ms("2026-11-22"),
            ms("2026-11-24"),
            vec![Dimension::Endpoint],
        )
        .await
        .expect("query");
    assert_eq!(table.totals.requests, 5);
    assert_eq!(table.totals.cost_nanousd, 4_500_000);
    assert_eq!(table.rows.len(), 3);
    let health = history.health();
    assert!(health.ok && health.enabled);
    assert_eq!(
        (health.written, health.pending, health.write_errors),
        (5, 0, 0)
    );
    assert_eq!(health.schema_version, SCHEMA_VERSION);
}

#[actix_rt::test]
async fn totals_survive_a_restart_of_the_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.sqlite");
    {
        let history = UsageHistory::start(settings(path.clone()));
        for r in sample() {
            history.record(r);
        }
        history.flush().await;
    }
    let history = UsageHistory::start(settings(path));
    let table = history
        .query(ms("2026-11-22"), ms("2026-11-24"), vec![Dimension::Day])
        .await
        .expect("query");
    assert_eq!(table.totals.requests, 5);
    assert_eq!(table.rows[1].key, "2026-11-23");
    let spend = history
        .spend(crate::usage::clock::system_time(ms("2026-11-24") - 1))
        .await
        .expect("spend");
    assert_eq!(spend["relay-a"].today_usd, 0.0024);
}

#[actix_rt::test]
async fn dropping_every_handle_writes_what_the_store_holds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.sqlite");
    {
        let history = UsageHistory::start(settings(path.clone()));
        for r in sample() {
            history.record(r);
        }
    }
    // The store's thread writes on its way out; wait for it without sleeping blindly.
    let mut count = 0;
    for _ in 0..500 {
        if let Ok(db) = crate::history::db::UsageDb::open(&path) {
            count = db.count().expect("count");
            if count == 5 {
                break;
            }
        }
        actix_rt::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(count, 5);
}

#[actix_rt::test]
async fn an_unwritable_path_loses_no_record_and_reports_the_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The file's folder is a plain file: nothing can be created there until it is removed.
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, b"not a folder").expect("blocker");
    let history = UsageHistory::start(settings(blocker.join("usage.sqlite")));
    for r in sample() {
        history.record(r);
    }
    history.flush().await;
    let health = history.health();
    assert!(!health.ok);
    assert!(health.write_errors >= 1);
    assert_eq!(health.pending, 5);
    assert_eq!(health.written, 0);
    let error = health.last_error.expect("an error is reported");
    assert!(error.contains("blocked"), "{error}");
    assert!(history
        .query(
            ms("2026-11-22"),
            ms("2026-11-24"),
            vec![Dimension::Endpoint]
        )
        .await
        .is_err());

    // The disk comes back: the buffered records are written, none lost.
    std::fs::remove_file(&blocker).expect("unblock");
    history.record(record(
        "2026-11-23T07:00:00Z",
        "relay-a",
        "m",
        Some((1, 1, 0, 0)),
        Some(0.5),
    ));
    let table = history
        .query(
            ms("2026-11-22"),
            ms("2026-11-24"),
            vec![Dimension::Endpoint],
        )
        .await
        .expect("query after recovery");
    assert_eq!(table.totals.requests, 6);
    assert_eq!(table.totals.cost_nanousd, 504_500_000);
    let health = history.health();
    assert!(health.ok);
    assert_eq!((health.written, health.pending, health.dropped), (6, 0, 0));
}

/// A history whose file cannot be written (its folder is a plain file), keeping at most
/// `max_pending` requests; the folder lives as long as the first value.
fn unwritable_history(max_pending: usize) -> (tempfile::TempDir, UsageHistory) {
    let dir = tempfile::tempdir().expect("temp dir");
    let blocker = dir.path().join("blocked");
    std::fs::write(&blocker, b"x").expect("blocker");
    let history = UsageHistory::start(StoreSettings {
        max_pending,
        ..settings(blocker.join("usage.sqlite"))
    });
    (dir, history)
}

#[actix_rt::test]
async fn a_full_buffer_drops_the_oldest_records_and_counts_them() {
    let (_dir, history) = unwritable_history(3);
    for r in sample() {
        history.record(r);
    }
    history.flush().await;
    let health = history.health();
    assert_eq!((health.pending, health.dropped), (3, 2));
}

/// `n` answers of the same second, endpoint, models, client and status: one row.
fn one_key(n: usize) -> Vec<crate::usage::UsageRecord> {
    (0..n)
        .map(|_| {
            record(
                "2026-11-23T07:00:00Z",
                "relay-a",
                "m",
                Some((1, 1, 0, 0)),
                Some(0.5),
            )
        })
        .collect()
}

#[actix_rt::test]
async fn answers_of_one_key_reach_the_file_as_one_row_with_their_sums() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.sqlite");
    let history = UsageHistory::start(settings(path.clone()));
    for r in one_key(50) {
        history.record(r);
    }
    assert_eq!(history.health().pending, 50, "the inbox counts requests");
    let table = history
        .query(ms("2026-11-22"), ms("2026-11-24"), vec![])
        .await
        .expect("query");
    assert_eq!(table.totals.requests, 50);
    assert_eq!(table.totals.cost_nanousd, 25_000_000_000);
    assert_eq!(history.health().written, 50);
    let db = UsageDb::open(&path).expect("open");
    assert_eq!(crate::history::db::tests::row_count(&db), 1);
}

#[actix_rt::test]
async fn a_full_buffer_drops_whole_rows_oldest_first_and_counts_their_requests() {
    let (_dir, history) = unwritable_history(3);
    // One row of four requests, then one of a single request.
    for r in one_key(4) {
        history.record(r);
    }
    history.record(record("2026-11-23T08:00:00Z", "relay-b", "m", None, None));
    history.flush().await;
    let health = history.health();
    assert_eq!((health.pending, health.dropped), (1, 4));
}

#[actix_rt::test]
async fn history_off_records_nothing_and_says_so() {
    let history = UsageHistory::start(StoreSettings::new(None));
    assert!(!history.is_enabled());
    history.record(sample().remove(0));
    history.flush().await;
    assert!(matches!(
        history
            .query(ms("2026-11-22"), ms("2026-11-24"), vec![])
            .await,
        Err(StoreError::Off)
    ));
    assert!(!history.health().enabled);
    assert!(!UsageHistory::off().is_enabled());
}

/// Run by hand: `cargo test --release --lib history::store::tests::write_cost_per_request -- --ignored --nocapture`.
/// Prints what recording costs the request path (`do_send`) and the store's thread (batched
/// inserts into a WAL file).
#[actix_rt::test]
#[ignore]
async fn write_cost_per_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let history = UsageHistory::start(settings(dir.path().join("usage.sqlite")));
    let n = 50_000;
    let template = sample().remove(0);
    let began = Instant::now();
    for _ in 0..n {
        history.record(template.clone());
    }
    let sent = began.elapsed();
    history.flush().await;
    let written = began.elapsed();
    println!(
        "{n} records: {:?} per request on the request path (folded into its row); all written after {:?} ({:?} per request in all)",
        sent / n,
        written,
        written / n
    );
    assert_eq!(history.health().written, u64::from(n));
}

#[actix_rt::test]
async fn the_file_keeps_a_bounded_number_of_model_names_per_endpoint_across_restarts() {
    use crate::history::{MODELS_PER_ENDPOINT, OTHER_MODEL};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("usage.sqlite");
    let day = |model: String| {
        record(
            "2026-11-23T10:00:00Z",
            "a",
            &model,
            Some((1, 1, 0, 0)),
            None,
        )
    };
    {
        let history = UsageHistory::start(settings(path.clone()));
        for i in 0..MODELS_PER_ENDPOINT + 10 {
            history.record(day(format!("m{i}")));
        }
        history.record(record(
            "2026-11-23T10:00:00Z",
            "b",
            "m300",
            Some((1, 1, 0, 0)),
            None,
        ));
        history.flush().await;
    }
    // A new store on the same file knows its names: new ones still go to `other`.
    let history = UsageHistory::start(settings(path));
    history.record(day("new-after-restart".into()));
    history.record(day("m7".into()));
    let table = history
        .query(
            ms("2026-11-23"),
            ms("2026-11-24"),
            vec![Dimension::Endpoint, Dimension::Model],
        )
        .await
        .expect("query");
    let of = |endpoint: &str| -> Vec<&crate::history::db::UsageRow> {
        table
            .rows
            .iter()
            .filter(|r| r.parts["endpoint"] == endpoint)
            .collect()
    };
    assert_eq!(of("a").len(), MODELS_PER_ENDPOINT + 1);
    let other = of("a")
        .into_iter()
        .find(|r| r.parts["model"] == OTHER_MODEL)
        .expect("an `other` row");
    assert_eq!(other.sums.requests, 11);
    assert!(of("a")
        .iter()
        .any(|r| r.parts["model"] == "m7" && r.sums.requests == 2));
    assert_eq!(of("b").len(), 1, "each endpoint has room of its own");
    assert_eq!(table.totals.requests, MODELS_PER_ENDPOINT as u64 + 13);
}

/// Asks the store's thread for its own nice value.
#[cfg(target_os = "linux")]
#[derive(Message)]
#[rtype(result = "i32")]
struct NiceValue;

#[cfg(target_os = "linux")]
impl Handler<NiceValue> for UsageStore {
    type Result = i32;
    fn handle(&mut self, _: NiceValue, _: &mut Self::Context) -> i32 {
        rustix::process::getpriority_process(Some(rustix::thread::gettid())).expect("nice value")
    }
}

#[cfg(target_os = "linux")]
#[actix_rt::test]
async fn the_store_thread_runs_below_the_gateways_priority() {
    let me = Some(rustix::thread::gettid());
    let own = rustix::process::getpriority_process(me).expect("own nice value");
    let dir = tempfile::tempdir().expect("temp dir");
    let history = UsageHistory::start(settings(dir.path().join("usage.sqlite")));
    let store = history.inbox.store.clone().expect("a store");
    let store_nice = store.send(NiceValue).await.expect("the store answers");
    assert_eq!(store_nice, (own + LOWER_PRIORITY_BY).min(19));
    assert_eq!(
        rustix::process::getpriority_process(me).expect("own nice value"),
        own,
        "the calling thread keeps its priority"
    );
}

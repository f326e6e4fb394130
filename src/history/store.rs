//! The usage store: one actor on its own thread (actix `SyncArbiter`) that owns the history file.
//! The request path only folds its record into the handle's inbox (its row of [`Rows`]) and never
//! waits for the disk: the inbox reaches the store's thread as one message of rows per `batch`
//! requests or per `flush_every`, so a request costs no wake-up of another thread, and the store's
//! thread writes a few rows rather than handling a record per request. Rows are written in
//! batches; a write that fails keeps its rows for the next try, so a full or broken disk loses
//! nothing until the buffer's cap, and never fails a request: failures are counted in
//! [`StoreHealth`]. The store keeps the file's model names bounded per endpoint ([`ModelNames`]):
//! a row of a model past the bound is written under `other`.

use super::db::{Dimension, EndpointSpend, StoreError, UsageDb, UsageTable, SCHEMA_VERSION};
use super::models::ModelNames;
use super::rows::{Row, Rows};
use crate::config::UsageSettings;
use crate::usage::{clock, UsageRecord};
use actix::prelude::*;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How the store runs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    /// The SQLite file; `None` keeps no history (`usage.database: off`).
    pub path: Option<PathBuf>,
    /// Requests older than this are deleted (never the current month's).
    pub retention: Duration,
    /// Requests handed to the store's thread (as rows) at once at most, and rows written in one
    /// transaction at most; reaching it writes at once.
    pub batch: usize,
    /// Buffered records are written at least this often.
    pub flush_every: Duration,
    /// Requests kept in memory (as rows) while the file cannot be written; past it the oldest
    /// rows are dropped.
    pub max_pending: usize,
}

/// Defaults of the store's settings (`usage.retention`'s is the config's).
pub mod defaults {
    use std::time::Duration;
    pub const BATCH: usize = 1024;
    pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
    pub const MAX_PENDING: usize = 100_000;
}

impl StoreSettings {
    /// The defaults, writing to `path` (`None`: off).
    pub fn new(path: Option<PathBuf>) -> Self {
        StoreSettings {
            path,
            retention: crate::config::defaults::USAGE_RETENTION,
            batch: defaults::BATCH,
            flush_every: defaults::FLUSH_EVERY,
            max_pending: defaults::MAX_PENDING,
        }
    }

    /// The store's settings for a config's `usage:` section.
    pub fn of(usage: &UsageSettings) -> Self {
        StoreSettings {
            retention: usage.retention,
            ..StoreSettings::new(usage.database.clone())
        }
    }
}

/// How the history file is doing, for `/admin/status`, `/admin/usage` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StoreHealth {
    /// False when `usage.database` is `off`.
    pub enabled: bool,
    pub path: Option<String>,
    /// True while the last write (or open) worked.
    pub ok: bool,
    pub schema_version: i64,
    /// Records written since start.
    pub written: u64,
    /// Records waiting to be written.
    pub pending: u64,
    /// Failed attempts to open or write the file since start.
    pub write_errors: u64,
    /// Records given up because the buffer was full while the file could not be written.
    pub dropped: u64,
    pub last_error: Option<String>,
    /// Unix time (seconds) of the last error.
    pub last_error_at: Option<f64>,
}

type SharedHealth = Arc<Mutex<StoreHealth>>;

fn update(health: &SharedHealth, f: impl FnOnce(&mut StoreHealth)) {
    match health.lock() {
        Ok(mut h) => f(&mut h),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// Fact: these requests were answered (folded into rows). Sent with `do_send`; nothing waits for
/// it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct RecordUsage(pub Vec<Row>);

/// Write what is buffered now (also sent by a timer every `flush_every`).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct Flush;

/// Question: usage in `[since_ms, until_ms)` grouped by `by` (buffered records included).
#[derive(Message, Debug, Clone)]
#[rtype(result = "Result<UsageTable, StoreError>")]
pub struct QueryUsage {
    pub since_ms: i64,
    pub until_ms: i64,
    pub by: Vec<Dimension>,
}

/// Question: each endpoint's spend in the UTC day and month that hold `now` (budgets at start).
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "Result<HashMap<String, EndpointSpend>, StoreError>")]
pub struct SpendByEndpoint {
    pub now: SystemTime,
}

/// The actor. Its `Context` is a `SyncContext`: it runs on a thread of its own.
pub struct UsageStore {
    settings: StoreSettings,
    db: Option<UsageDb>,
    /// Rows not yet written, and the requests they hold.
    pending: Vec<Row>,
    pending_requests: u64,
    health: SharedHealth,
    last_prune: Option<Instant>,
    /// The model names the open file counts under, per endpoint.
    names: ModelNames,
}

/// Retention runs at most this often.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

impl UsageStore {
    fn new(settings: StoreSettings, health: SharedHealth) -> Self {
        let mut store = UsageStore {
            settings,
            db: None,
            pending: Vec::new(),
            pending_requests: 0,
            health,
            last_prune: None,
            names: ModelNames::default(),
        };
        store.ensure_open();
        store
    }

    fn failed(&mut self, error: &StoreError) {
        log::error!("usage history: {error}");
        let now = clock::unix_ms(SystemTime::now()) as f64 / 1000.0;
        update(&self.health, |h| {
            h.ok = false;
            h.write_errors += 1;
            h.last_error = Some(error.to_string());
            h.last_error_at = Some(now);
        });
    }

    /// Opens the file if it is not open; false when that failed.
    fn ensure_open(&mut self) -> bool {
        if self.db.is_some() {
            return true;
        }
        let Some(path) = self.settings.path.clone() else {
            return false;
        };
        match UsageDb::open(&path) {
            Ok(db) => {
                let version = db.schema_version().unwrap_or(SCHEMA_VERSION);
                match db.model_names() {
                    Ok(names) => self.names = ModelNames::with_known(names),
                    // The names held so far stay the bound.
                    Err(e) => self.failed(&e),
                }
                self.db = Some(db);
                update(&self.health, |h| {
                    h.ok = true;
                    h.schema_version = version;
                });
                true
            }
            Err(e) => {
                self.failed(&e);
                false
            }
        }
    }

    fn flush(&mut self) {
        if self.settings.path.is_none() {
            self.pending.clear();
            self.pending_requests = 0;
            return;
        }
        if self.db.as_ref().is_some_and(|db| !db.still_at_its_path()) {
            log::warn!("usage history: the file was moved or deleted; opening its path again");
            self.db = None;
        }
        if !self.pending.is_empty() && self.ensure_open() {
            for row in &mut self.pending {
                self.names.bound(row);
            }
            if let Some(db) = self.db.as_mut() {
                let (mut written_rows, mut written) = (0, 0);
                let mut error = None;
                for batch in self.pending.chunks(self.settings.batch.max(1)) {
                    match db.insert(batch) {
                        Ok(()) => {
                            written_rows += batch.len();
                            written += batch.iter().map(|r| r.requests).sum::<u64>();
                        }
                        Err(e) => {
                            error = Some(e);
                            break;
                        }
                    }
                }
                self.pending.drain(..written_rows);
                self.pending_requests = self.pending_requests.saturating_sub(written);
                update(&self.health, |h| h.written += written);
                match error {
                    Some(e) => {
                        // Reopen next time: the file may have been replaced or its disk remounted.
                        self.db = None;
                        self.failed(&e);
                    }
                    None => update(&self.health, |h| h.ok = true),
                }
            }
        }
        // The oldest rows go first, whole, until what is left fits.
        let max = self.settings.max_pending as u64;
        let (mut rows, mut over) = (0, 0);
        for row in &self.pending {
            if self.pending_requests.saturating_sub(over) <= max {
                break;
            }
            over += row.requests;
            rows += 1;
        }
        if over > 0 {
            self.pending.drain(..rows);
            self.pending_requests = self.pending_requests.saturating_sub(over);
            log::error!("usage history: {over} requests dropped (the file cannot be written)");
            update(&self.health, |h| h.dropped += over);
        }
        let pending = self.pending_requests;
        update(&self.health, |h| h.pending = pending);
        self.prune_now_and_then();
    }

    fn prune_now_and_then(&mut self) {
        if self.last_prune.is_some_and(|t| t.elapsed() < PRUNE_EVERY) {
            return;
        }
        let Some(db) = self.db.as_mut() else {
            return;
        };
        self.last_prune = Some(Instant::now());
        match db.prune(SystemTime::now(), self.settings.retention) {
            Ok(0) => {}
            Ok(n) => log::info!("usage history: {n} requests older than the retention deleted"),
            Err(e) => self.failed(&e),
        }
    }

    fn db_for_reading(&mut self) -> Result<&UsageDb, StoreError> {
        if self.settings.path.is_none() {
            return Err(StoreError::Off);
        }
        self.flush();
        if !self.ensure_open() {
            let last = self
                .health
                .lock()
                .map(|h| h.last_error.clone())
                .unwrap_or_default();
            return Err(StoreError::Gone(
                last.unwrap_or_else(|| "the usage database cannot be opened".into()),
            ));
        }
        self.db
            .as_ref()
            .ok_or_else(|| StoreError::Gone("the usage database cannot be opened".into()))
    }
}

impl Actor for UsageStore {
    type Context = SyncContext<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        self.flush();
    }
}

impl Handler<RecordUsage> for UsageStore {
    type Result = ();

    fn handle(&mut self, msg: RecordUsage, _ctx: &mut Self::Context) {
        if self.settings.path.is_none() {
            return;
        }
        self.pending_requests += msg.0.iter().map(|r| r.requests).sum::<u64>();
        self.pending.extend(msg.0);
        if self.pending_requests >= self.settings.batch.max(1) as u64 && self.db.is_some() {
            self.flush();
        } else {
            let pending = self.pending_requests;
            update(&self.health, |h| h.pending = pending);
        }
    }
}

impl Handler<Flush> for UsageStore {
    type Result = ();

    fn handle(&mut self, _msg: Flush, _ctx: &mut Self::Context) {
        self.flush();
    }
}

impl Handler<QueryUsage> for UsageStore {
    type Result = Result<UsageTable, StoreError>;

    fn handle(&mut self, msg: QueryUsage, _ctx: &mut Self::Context) -> Self::Result {
        self.db_for_reading()?
            .query(msg.since_ms, msg.until_ms, &msg.by)
    }
}

impl Handler<SpendByEndpoint> for UsageStore {
    type Result = Result<HashMap<String, EndpointSpend>, StoreError>;

    fn handle(&mut self, msg: SpendByEndpoint, _ctx: &mut Self::Context) -> Self::Result {
        self.db_for_reading()?.spend(msg.now)
    }
}

/// The handle everyone holds: cheap to clone, `Send`. With history off it records nothing and
/// answers queries with [`StoreError::Off`].
#[derive(Clone)]
pub struct UsageHistory {
    /// Records not yet handed to the store's thread (at most `batch`), and the store's address
    /// (`None`: history is off).
    inbox: Arc<Inbox>,
    batch: usize,
    health: SharedHealth,
}

impl UsageHistory {
    /// Starts the store's thread and its flush timer. Must run inside an actix `System`.
    pub fn start(settings: StoreSettings) -> Self {
        let health = Arc::new(Mutex::new(StoreHealth {
            enabled: settings.path.is_some(),
            path: settings.path.as_ref().map(|p| p.display().to_string()),
            ok: settings.path.is_some(),
            ..StoreHealth::default()
        }));
        let batch = settings.batch.max(1);
        if settings.path.is_none() {
            return UsageHistory {
                inbox: Arc::new(Inbox::default()),
                batch,
                health,
            };
        }
        let every = settings.flush_every;
        let for_thread = health.clone();
        let addr = SyncArbiter::start(1, move || {
            yield_to_requests();
            UsageStore::new(settings.clone(), for_thread.clone())
        });
        let inbox = Arc::new(Inbox {
            rows: Mutex::default(),
            store: Some(addr),
        });
        // The timer holds the inbox weakly: once every handle is gone the inbox sends what it
        // holds, the store stops (writing it) and the timer with it.
        let timer_inbox = Arc::downgrade(&inbox);
        actix::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(inbox) = timer_inbox.upgrade() else {
                    break;
                };
                match &inbox.store {
                    Some(addr) if addr.connected() => {
                        hand_over(addr, &inbox);
                        addr.do_send(Flush);
                    }
                    _ => break,
                }
            }
        });
        UsageHistory {
            inbox,
            batch,
            health,
        }
    }

    /// A store that keeps no history (`usage.database: off`).
    pub fn off() -> Self {
        UsageHistory {
            inbox: Arc::new(Inbox::default()),
            batch: defaults::BATCH,
            health: Arc::new(Mutex::new(StoreHealth::default())),
        }
    }

    /// True when history is kept.
    pub fn is_enabled(&self) -> bool {
        self.inbox.store.is_some()
    }

    /// Records an answered request. Never waits, never fails.
    pub fn record(&self, record: UsageRecord) {
        let Some(addr) = &self.inbox.store else {
            return;
        };
        let full = {
            let mut inbox = lock(&self.inbox.rows);
            inbox.add(record);
            (inbox.requests() >= self.batch as u64).then(|| inbox.take())
        };
        if let Some(rows) = full {
            addr.do_send(RecordUsage(rows));
        }
    }

    /// Writes what is buffered and waits for it (at shutdown, in tests).
    pub async fn flush(&self) {
        if let Some(addr) = &self.inbox.store {
            hand_over(addr, &self.inbox);
            let _ = addr.send(Flush).await;
        }
    }

    /// Usage in `[since_ms, until_ms)` grouped by `by`.
    pub async fn query(
        &self,
        since_ms: i64,
        until_ms: i64,
        by: Vec<Dimension>,
    ) -> Result<UsageTable, StoreError> {
        let addr = self.inbox.store.as_ref().ok_or(StoreError::Off)?;
        // The store's mailbox keeps order: the query sees every record made before it.
        hand_over(addr, &self.inbox);
        addr.send(QueryUsage {
            since_ms,
            until_ms,
            by,
        })
        .await
        .map_err(|e| StoreError::Gone(e.to_string()))?
    }

    /// Each endpoint's spend in the current UTC day and month (to seed budgets at start).
    pub async fn spend(
        &self,
        now: SystemTime,
    ) -> Result<HashMap<String, EndpointSpend>, StoreError> {
        let addr = self.inbox.store.as_ref().ok_or(StoreError::Off)?;
        hand_over(addr, &self.inbox);
        addr.send(SpendByEndpoint { now })
            .await
            .map_err(|e| StoreError::Gone(e.to_string()))?
    }

    /// How the file is doing (read without asking the store's thread).
    pub fn health(&self) -> StoreHealth {
        let mut health = match self.health.lock() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        health.pending += lock(&self.inbox.rows).requests();
        health
    }
}

/// How much lower than the gateway's the store thread's priority is (a nice value's steps).
#[cfg(target_os = "linux")]
const LOWER_PRIORITY_BY: i32 = 10;

/// Lowers the calling thread's priority, so that the store's batch writes, prunes and queries
/// give way to requests whenever both are ready to run on the same core: otherwise a batch of
/// 1,024 records written between two requests is what the slowest request in a hundred waits
/// for. On Linux, where each thread has a nice value of its own; elsewhere the thread keeps the
/// process's priority (there, lowering it would lower the whole gateway's).
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        use rustix::process::{getpriority_process, setpriority_process};
        let me = Some(rustix::thread::gettid());
        let lowered = getpriority_process(me)
            .and_then(|nice| setpriority_process(me, (nice + LOWER_PRIORITY_BY).min(19)));
        if let Err(e) = lowered {
            log::debug!("usage history: the store's thread keeps its priority: {e}");
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Records on their way to the store; what is left when the last handle goes is sent on.
#[derive(Default)]
struct Inbox {
    rows: Mutex<Rows>,
    store: Option<Addr<UsageStore>>,
}

impl Drop for Inbox {
    fn drop(&mut self) {
        if let Some(store) = &self.store {
            hand_over(store, self);
        }
    }
}

/// Sends what the inbox holds to the store (nothing when it is empty).
fn hand_over(addr: &Addr<UsageStore>, inbox: &Inbox) {
    let rows = lock(&inbox.rows).take();
    if !rows.is_empty() {
        addr.do_send(RecordUsage(rows));
    }
}

#[cfg(test)]
mod tests;

//! The usage history file: an SQLite database with a schema version, migrations, WAL mode, batched
//! inserts, retention, and the few queries the admin routes need. Plain code on a `Connection`;
//! only the store actor's thread uses it.

use super::rows::Row;
use crate::usage::clock::{self, DAY_MS, HOUR_MS};
use crate::usage::Kind;
use rusqlite::{params, Connection, OptionalExtension};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// What went wrong with the history file; the request path never sees these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("usage database {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("usage database {path}: cannot create its folder: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("usage database {path} has schema version {found}, newer than this switchyard knows ({known}); use a newer switchyard or another file")]
    TooNew {
        path: String,
        found: i64,
        known: i64,
    },
    #[error("usage history is off (usage.database: off)")]
    Off,
    #[error("the usage store did not answer: {0}")]
    Gone(String),
}

/// The schema, one step per version. Version N is reached by running steps 1..=N in order.
const MIGRATIONS: &[&str] = &[
    // 1: one row per answered request. Tokens and cost are NULL when unknown; cost is kept in
    // nano-dollars so that sums are exact.
    "CREATE TABLE requests (
        id INTEGER PRIMARY KEY,
        at_ms INTEGER NOT NULL,
        endpoint TEXT NOT NULL,
        model TEXT NOT NULL,
        upstream_model TEXT NOT NULL,
        status INTEGER NOT NULL,
        latency_ms INTEGER NOT NULL,
        input_tokens INTEGER,
        output_tokens INTEGER,
        cache_read_tokens INTEGER,
        cache_write_tokens INTEGER,
        cost_nanousd INTEGER
    );
    CREATE INDEX requests_at ON requests (at_ms);
    CREATE INDEX requests_endpoint_at ON requests (endpoint, at_ms);",
    // 2: every query selects by time, so the second index only cost each insert a B-tree write.
    "DROP INDEX IF EXISTS requests_endpoint_at;",
    // 3: a row holds every answer of one batch that ended in the same second with the same
    // endpoint, models, status and known-ness of tokens and cost (`requests` of them; tokens,
    // cost and latency summed). Under load that is one row, not one SQLite insert, per hundreds
    // of requests; at a request a second it is one row per request, as before.
    "ALTER TABLE requests ADD COLUMN requests INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE requests RENAME COLUMN latency_ms TO latency_ms_sum;",
    // 4: counts an upstream reported out of range (up to 2^63 - 1, written before counts were
    // checked) are unknown, and so is the cost computed from them: such a row made every sum
    // overflow and priced its month at billions of dollars.
    FIX_ABSURD_COUNTS,
    // 5: cache writes by lifetime (a 1-hour write is billed at twice the input price, a 5-minute
    // one at 1.25 times; the rows before had no split and are 5-minute writes), reasoning tokens
    // (part of the output), what the cache saved, and who asked (`unknown` for older rows).
    "ALTER TABLE requests RENAME COLUMN cache_write_tokens TO cache_write_5m_tokens;
    ALTER TABLE requests ADD COLUMN cache_write_1h_tokens INTEGER;
    UPDATE requests SET cache_write_1h_tokens = 0 WHERE cache_write_5m_tokens IS NOT NULL;
    ALTER TABLE requests ADD COLUMN reasoning_tokens INTEGER;
    ALTER TABLE requests ADD COLUMN cache_saved_nanousd INTEGER;
    ALTER TABLE requests ADD COLUMN client TEXT NOT NULL DEFAULT 'unknown';",
];

/// Migration 4, one statement per column (the cost first, while the counts still show which
/// rows to clear).
const FIX_ABSURD_COUNTS: &str = concat!(
    "UPDATE requests SET cost_nanousd = NULL WHERE ",
    "input_tokens NOT BETWEEN 0 AND requests * 1000000000000 OR ",
    "output_tokens NOT BETWEEN 0 AND requests * 1000000000000 OR ",
    "cache_read_tokens NOT BETWEEN 0 AND requests * 1000000000000 OR ",
    "cache_write_tokens NOT BETWEEN 0 AND requests * 1000000000000;",
    "UPDATE requests SET input_tokens = NULL ",
    "WHERE input_tokens NOT BETWEEN 0 AND requests * 1000000000000;",
    "UPDATE requests SET output_tokens = NULL ",
    "WHERE output_tokens NOT BETWEEN 0 AND requests * 1000000000000;",
    "UPDATE requests SET cache_read_tokens = NULL ",
    "WHERE cache_read_tokens NOT BETWEEN 0 AND requests * 1000000000000;",
    "UPDATE requests SET cache_write_tokens = NULL ",
    "WHERE cache_write_tokens NOT BETWEEN 0 AND requests * 1000000000000;",
);

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// A grouping of `/admin/usage`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    Endpoint,
    /// The model the client asked for.
    Model,
    /// The UTC day, `2026-11-23`.
    Day,
    /// The UTC hour, `2026-11-23T05:00:00Z`.
    Hour,
    /// Who asked: the agent or client key ([`crate::usage::agent_of`]).
    Client,
}

impl Dimension {
    /// Reads `endpoint`, `model`, `day` or `hour`.
    pub fn parse(name: &str) -> Option<Self> {
        match name.trim() {
            "endpoint" => Some(Dimension::Endpoint),
            "model" => Some(Dimension::Model),
            "day" => Some(Dimension::Day),
            "hour" => Some(Dimension::Hour),
            "client" => Some(Dimension::Client),
            _ => None,
        }
    }

    /// The name used in `by=` and in the rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Dimension::Endpoint => "endpoint",
            Dimension::Model => "model",
            Dimension::Day => "day",
            Dimension::Hour => "hour",
            Dimension::Client => "client",
        }
    }

    fn sql(self) -> String {
        match self {
            Dimension::Endpoint => "endpoint".into(),
            Dimension::Model => "model".into(),
            Dimension::Client => "client".into(),
            Dimension::Day => format!("at_ms / {DAY_MS}"),
            Dimension::Hour => format!("at_ms / {HOUR_MS}"),
        }
    }
}

/// Sums over a set of requests. Unknown tokens count as none; `unpriced_requests` says how many
/// requests have no known cost, so a total is read as "at least".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sums {
    pub requests: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cache_read_tokens: u64,
    pub cache_write_5m_tokens: u64,
    pub cache_write_1h_tokens: u64,
    /// Part of `output_tokens`.
    pub reasoning_tokens: u64,
    pub cost_nanousd: i64,
    /// What the cache reads saved against the input price (priced requests only).
    pub cache_saved_nanousd: i64,
    pub unpriced_requests: u64,
}

impl Sums {
    /// The summed cost in USD.
    pub fn cost_usd(&self) -> f64 {
        crate::usage::price::nanos_to_usd(self.cost_nanousd)
    }

    /// Cache writes of either lifetime.
    pub fn cache_write_tokens(&self) -> u64 {
        self.cache_write_5m_tokens
            .saturating_add(self.cache_write_1h_tokens)
    }

    /// The share of the input read from the cache: `cache_read / (cache_read + cache_write +
    /// input)`, to 4 decimals; `None` without input.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        let all = self
            .cache_read_tokens
            .saturating_add(self.cache_write_tokens())
            .saturating_add(self.input_tokens);
        (all > 0).then(|| (self.cache_read_tokens as f64 / all as f64 * 1e4).round() / 1e4)
    }

    fn add(&mut self, other: &Sums) {
        for (mine, theirs) in [
            (&mut self.requests, other.requests),
            (&mut self.input_tokens, other.input_tokens),
            (&mut self.output_tokens, other.output_tokens),
            (&mut self.cache_read_tokens, other.cache_read_tokens),
            (&mut self.cache_write_5m_tokens, other.cache_write_5m_tokens),
            (&mut self.cache_write_1h_tokens, other.cache_write_1h_tokens),
            (&mut self.reasoning_tokens, other.reasoning_tokens),
            (&mut self.unpriced_requests, other.unpriced_requests),
        ] {
            *mine = mine.saturating_add(theirs);
        }
        self.cost_nanousd = self.cost_nanousd.saturating_add(other.cost_nanousd);
        self.cache_saved_nanousd = self
            .cache_saved_nanousd
            .saturating_add(other.cache_saved_nanousd);
    }

    fn write_fields<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let usd = crate::usage::price::nanos_to_usd;
        map.serialize_entry("requests", &self.requests)?;
        map.serialize_entry("input_tokens", &self.input_tokens)?;
        map.serialize_entry("output_tokens", &self.output_tokens)?;
        map.serialize_entry("cache_read_tokens", &self.cache_read_tokens)?;
        map.serialize_entry("cache_write_tokens", &self.cache_write_tokens())?;
        map.serialize_entry("cache_write_5m_tokens", &self.cache_write_5m_tokens)?;
        map.serialize_entry("cache_write_1h_tokens", &self.cache_write_1h_tokens)?;
        map.serialize_entry("reasoning_tokens", &self.reasoning_tokens)?;
        map.serialize_entry("cache_hit_rate", &self.cache_hit_rate())?;
        map.serialize_entry("cost_usd", &self.cost_usd())?;
        map.serialize_entry("cache_saved_usd", &usd(self.cache_saved_nanousd))?;
        map.serialize_entry("unpriced_requests", &self.unpriced_requests)
    }
}

impl Serialize for Sums {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        self.write_fields(&mut map)?;
        map.end()
    }
}

/// One group of `/admin/usage`: its key (the parts joined with a space) and, when grouped by more
/// than one dimension, each part by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub key: String,
    pub parts: BTreeMap<&'static str, String>,
    pub sums: Sums,
}

impl Serialize for UsageRow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("key", &self.key)?;
        if self.parts.len() > 1 {
            for (name, value) in &self.parts {
                map.serialize_entry(name, value)?;
            }
        }
        self.sums.write_fields(&mut map)?;
        map.end()
    }
}

/// Rows and their totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsageTable {
    pub rows: Vec<UsageRow>,
    pub totals: Sums,
}

/// One endpoint's spend in the current UTC day and month (for budgets at start).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct EndpointSpend {
    pub today_usd: f64,
    pub month_usd: f64,
}

/// An open history file.
pub struct UsageDb {
    conn: Connection,
    path: String,
    /// The file's identity when it was opened (device, inode), to notice it was moved or deleted.
    file_id: Option<(u64, u64)>,
}

impl UsageDb {
    /// Opens (or creates) the file, switches it to WAL and brings its schema up to date.
    pub fn open(path: &Path) -> Result<UsageDb, StoreError> {
        let shown = path.display().to_string();
        let sqlite = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            // (":memory:" has no folder and is not a file.)
            crate::files::create_private_dir_all(folder).map_err(|source| StoreError::Folder {
                path: shown.clone(),
                source,
            })?;
            // 0600 before SQLite opens it: its -wal, -shm and -journal files take the file's mode.
            // A failure here is SQLite's to report, just below.
            let _ = crate::files::create_private_if_missing(path);
        }
        let conn = Connection::open(path).map_err(sqlite)?;
        conn.busy_timeout(Duration::from_secs(5)).map_err(sqlite)?;
        // WAL: readers do not block the writer; NORMAL sync is safe with WAL (a power cut may lose
        // the last batch, never corrupt the file).
        let _mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
            .map_err(sqlite)?;
        // A small page cache: a write touches only the last pages of the table and its index, and
        // a query's other pages come from the operating system's cache. SQLite's default of 2 MiB
        // would be a fifth of the gateway's memory.
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -256;")
            .map_err(sqlite)?;
        let mut db = UsageDb {
            conn,
            path: shown,
            file_id: file_id(path),
        };
        db.migrate()?;
        Ok(db)
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The schema version the file has.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("SELECT MAX(version) FROM schema_version", [], |row| {
                row.get::<_, Option<i64>>(0)
            })
            .map(|v| v.unwrap_or(0))
            .map_err(|e| self.err(e))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        self.conn
            .execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);")
            .map_err(|e| self.err(e))?;
        let found = self.schema_version()?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.path.clone(),
                found,
                known: SCHEMA_VERSION,
            });
        }
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            tx.execute_batch(step).map_err(err)?;
            tx.execute("DELETE FROM schema_version", []).map_err(err)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                params![i as i64 + 1],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// Writes a batch of rows in one transaction: all of it or none.
    pub fn insert(&mut self, rows: &[Row]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO requests (at_ms, endpoint, model, upstream_model, client,
                        status, requests, latency_ms_sum, input_tokens, output_tokens,
                        cache_read_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
                        reasoning_tokens, cost_nanousd, cache_saved_nanousd)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,
                        ?16)",
                )
                .map_err(err)?;
            for r in rows {
                let n = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
                let count = |kind| r.tokens.as_ref().and_then(|t| t.get(kind)).map(n);
                insert
                    .execute(params![
                        r.at_ms,
                        &*r.endpoint,
                        &*r.model,
                        &*r.upstream_model,
                        &*r.client,
                        r.status,
                        n(r.requests),
                        n(r.latency_ms_sum),
                        count(Kind::Input),
                        count(Kind::Output),
                        count(Kind::CacheRead),
                        count(Kind::CacheWrite5m),
                        count(Kind::CacheWrite1h),
                        count(Kind::Reasoning),
                        r.cost_nanousd,
                        r.cache_saved_nanousd,
                    ])
                    .map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Deletes requests older than `retention` before `now`, but never any of the current UTC
    /// month (budgets are recomputed from it). Returns how many rows went.
    pub fn prune(&mut self, now: SystemTime, retention: Duration) -> Result<usize, StoreError> {
        let now_ms = clock::unix_ms(now);
        let keep_from = (now_ms - i64::try_from(retention.as_millis()).unwrap_or(i64::MAX / 2))
            .min(clock::month_start(now_ms));
        self.conn
            .execute("DELETE FROM requests WHERE at_ms < ?1", params![keep_from])
            .map_err(|e| self.err(e))
    }

    /// Requests in `[since, until)`, grouped by `by` (in that order), sorted by the groups.
    pub fn query(
        &self,
        since_ms: i64,
        until_ms: i64,
        by: &[Dimension],
    ) -> Result<UsageTable, StoreError> {
        let groups: Vec<String> = by.iter().map(|d| d.sql()).collect();
        let select = if groups.is_empty() {
            String::new()
        } else {
            format!("{}, ", groups.join(", "))
        };
        let group = if groups.is_empty() {
            String::new()
        } else {
            let n: Vec<String> = (1..=groups.len()).map(|i| i.to_string()).collect();
            format!("GROUP BY {0} ORDER BY {0}", n.join(", "))
        };
        // TOTAL, not SUM: SQLite's SUM fails the whole query when an integer sum overflows;
        // TOTAL adds exactly up to 2^53 and past that approximately, never failing.
        let sql = format!(
            "SELECT {select} TOTAL(requests), TOTAL(input_tokens), TOTAL(output_tokens),
                TOTAL(cache_read_tokens), TOTAL(cache_write_5m_tokens),
                TOTAL(cache_write_1h_tokens), TOTAL(reasoning_tokens), TOTAL(cost_nanousd),
                TOTAL(cache_saved_nanousd), TOTAL(CASE WHEN cost_nanousd IS NULL THEN requests END)
             FROM requests WHERE at_ms >= ?1 AND at_ms < ?2 {group}"
        );
        let mut statement = self.conn.prepare_cached(&sql).map_err(|e| self.err(e))?;
        let k = by.len();
        let rows = statement
            .query_map(params![since_ms, until_ms], |row| {
                let mut parts = BTreeMap::new();
                let mut key = Vec::with_capacity(k);
                for (i, dim) in by.iter().enumerate() {
                    let value = match dim {
                        Dimension::Endpoint | Dimension::Model | Dimension::Client => {
                            row.get::<_, String>(i)?
                        }
                        Dimension::Day => clock::format_day(row.get::<_, i64>(i)? * DAY_MS),
                        Dimension::Hour => clock::format_rfc3339(row.get::<_, i64>(i)? * HOUR_MS),
                    };
                    key.push(value.clone());
                    parts.insert(dim.as_str(), value);
                }
                // `as` saturates: a negative sum reads 0, one past the type's range its maximum.
                let u = |i: usize| row.get::<_, f64>(k + i).map(|v| v as u64);
                Ok(UsageRow {
                    key: key.join(" "),
                    parts,
                    sums: Sums {
                        requests: u(0)?,
                        input_tokens: u(1)?,
                        output_tokens: u(2)?,
                        cache_read_tokens: u(3)?,
                        cache_write_5m_tokens: u(4)?,
                        cache_write_1h_tokens: u(5)?,
                        reasoning_tokens: u(6)?,
                        cost_nanousd: row.get::<_, f64>(k + 7)? as i64,
                        cache_saved_nanousd: row.get::<_, f64>(k + 8)? as i64,
                        unpriced_requests: u(9)?,
                    },
                })
            })
            .map_err(|e| self.err(e))?;
        let mut table = UsageTable {
            rows: Vec::new(),
            totals: Sums::default(),
        };
        for row in rows {
            let row = row.map_err(|e| self.err(e))?;
            table.totals.add(&row.sums);
            // Without a grouping, SQL gives one row of zeros: that is the totals, not a row.
            if k > 0 {
                table.rows.push(row);
            }
        }
        Ok(table)
    }

    /// Each endpoint's spend in the UTC day and month that hold `now`.
    pub fn spend(&self, now: SystemTime) -> Result<HashMap<String, EndpointSpend>, StoreError> {
        let now_ms = clock::unix_ms(now);
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT endpoint, TOTAL(CASE WHEN at_ms >= ?2 THEN cost_nanousd END),
                    TOTAL(cost_nanousd)
                 FROM requests WHERE at_ms >= ?1 AND at_ms < ?3 GROUP BY endpoint",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map(
                params![
                    clock::month_start(now_ms),
                    clock::day_start(now_ms),
                    clock::next_month_start(now_ms)
                ],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        EndpointSpend {
                            today_usd: row.get::<_, f64>(1)? / 1e9,
                            month_usd: row.get::<_, f64>(2)? / 1e9,
                        },
                    ))
                },
            )
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Each endpoint's model names in the file, in the order they first appear (to bound them,
    /// see [`super::models`]).
    pub fn model_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT endpoint, model FROM requests GROUP BY endpoint, model ORDER BY MIN(id)",
            )
            .map_err(|e| self.err(e))?;
        let rows = statement
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The number of requests kept (for tests and `check`).
    pub fn count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT TOTAL(requests) FROM requests", [], |row| {
                row.get::<_, f64>(0)
            })
            .optional()
            .map(|n| n.unwrap_or(0.0) as u64)
            .map_err(|e| self.err(e))
    }
}

/// The (device, inode) of the file at `path`, where the platform has them.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

impl UsageDb {
    /// False when the file this connection writes is no longer the one at its path (moved or
    /// deleted): writes would go to a file nobody reads, so the store reopens the path instead.
    pub fn still_at_its_path(&self) -> bool {
        match self.file_id {
            Some(id) => file_id(Path::new(&self.path)) == Some(id),
            None => true,
        }
    }
}

/// Records written as the store writes them: folded into rows.
#[cfg(test)]
impl UsageDb {
    pub fn insert_records(
        &mut self,
        records: &[crate::usage::UsageRecord],
    ) -> Result<(), StoreError> {
        self.insert(&super::rows::Rows::of(records.iter().cloned()))
    }
}

#[cfg(test)]
pub(crate) mod tests;

//! The defaults of every setting, in one place (`switchyard check` prints the effective values).

use std::time::Duration;
pub const PORT: u16 = 8045;
pub const MAX_ATTEMPTS: u32 = 3;
pub const MAX_REQUEST_BODY: u64 = 32 << 20;
/// `proxy.max_request_bodies_total`, unless `max_request_body` is larger.
pub const MAX_REQUEST_BODIES_TOTAL: u64 = 256 << 20;
pub const CONNECT: Duration = Duration::from_secs(10);
pub const FIRST_BYTE: Duration = Duration::from_secs(300);
pub const IDLE: Duration = Duration::from_secs(120);
pub const REQUEST_HEADER: Duration = Duration::from_secs(5);
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
pub const FAILURE_THRESHOLD: u32 = 3;
pub const EJECTION_BASE: Duration = Duration::from_secs(30);
pub const EJECTION_MAX: Duration = Duration::from_secs(300);
pub const COOLDOWN_DEFAULT: Duration = Duration::from_secs(5);
pub const COOLDOWN_MAX: Duration = Duration::from_secs(300);
pub const QUOTA_COOLDOWN: Duration = Duration::from_secs(3600);
pub const RETRY_BUDGET_RATIO: f64 = 0.2;
pub const RETRY_BUDGET_MIN_PER_SECOND: u32 = 3;
pub const RETRY_BUDGET_WINDOW: Duration = Duration::from_secs(10);
pub const SESSION_TTL: Duration = Duration::from_secs(3600);
pub const SESSION_MAX_ENTRIES: usize = 10_000;
pub const WEIGHT: f64 = 1.0;
pub const PRIORITY: u32 = 1;
/// `usage.retention`: how long the usage history keeps each request.
pub const USAGE_RETENTION: Duration = Duration::from_secs(90 * 86_400);

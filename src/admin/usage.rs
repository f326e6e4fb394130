//! The two admin routes this module serves: `GET /admin/usage` (JSON) and `GET /admin` (the
//! status page, one self-contained HTML file built into the binary). Both need the
//! [`UsageHistory`] as app data (`web::Data<UsageHistory>`); gating is the server's.

use crate::history::{Dimension, StoreError, StoreHealth, UsageHistory, UsageTable};
use crate::usage::clock;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// The status page: inline CSS, JS and SVG; it loads nothing from anywhere but this gateway.
pub const STATUS_PAGE: &str = include_str!("page.html");

/// The query string of `/admin/usage`.
#[derive(Debug, Default, Deserialize)]
pub struct UsageParams {
    /// `24h`, `7d`, a date or RFC 3339; default 24 hours ago.
    pub since: Option<String>,
    /// Same forms; default now.
    pub until: Option<String>,
    /// `endpoint` (default), `model`, `client`, `day`, `hour`, or two of them joined by a comma.
    pub by: Option<String>,
}

/// A checked `/admin/usage` question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageQuestion {
    pub since_ms: i64,
    pub until_ms: i64,
    pub by: Vec<Dimension>,
}

impl UsageParams {
    /// Reads the parameters against `now`; the error names the parameter.
    pub fn question(&self, now_ms: i64) -> Result<UsageQuestion, String> {
        let since_ms = match &self.since {
            Some(s) => clock::parse_time(s, now_ms).map_err(|e| format!("since: {e}"))?,
            None => now_ms - clock::DAY_MS,
        };
        let until_ms = match &self.until {
            Some(s) => clock::parse_time(s, now_ms).map_err(|e| format!("until: {e}"))?,
            None => now_ms,
        };
        if until_ms < since_ms {
            return Err("until: must not be before since".into());
        }
        let by_text = self.by.as_deref().unwrap_or("endpoint");
        let mut by = Vec::new();
        for name in by_text.split(',') {
            let dim = Dimension::parse(name).ok_or_else(|| {
                format!("by: `{name}` is not one of endpoint, model, client, day, hour")
            })?;
            if by.contains(&dim) {
                return Err(format!("by: `{name}` given twice"));
            }
            by.push(dim);
        }
        if by.len() > 2 {
            return Err("by: at most two groupings (e.g. endpoint,hour)".into());
        }
        Ok(UsageQuestion {
            since_ms,
            until_ms,
            by,
        })
    }
}

/// The answer of `/admin/usage`.
#[derive(Debug, Serialize)]
pub struct UsageReport {
    pub since: String,
    pub until: String,
    pub by: String,
    #[serde(flatten)]
    pub table: UsageTable,
    /// How the history file is doing.
    pub store: StoreHealth,
}

fn error_answer(status: StatusCode, kind: &str, message: &str, store: StoreHealth) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header(("x-switchyard-error", kind))
        .json(serde_json::json!({
            "error": {"message": message, "type": kind, "code": kind},
            "store": store,
        }))
}

/// Answers a usage question from the history (an empty table when history is off).
pub async fn usage_report(
    history: &UsageHistory,
    params: &UsageParams,
    now: SystemTime,
) -> Result<UsageReport, (StatusCode, &'static str, String)> {
    let question = params
        .question(clock::unix_ms(now))
        .map_err(|e| (StatusCode::BAD_REQUEST, "bad_usage_query", e))?;
    let table = match history
        .query(question.since_ms, question.until_ms, question.by.clone())
        .await
    {
        Ok(table) => table,
        Err(StoreError::Off) => UsageTable {
            rows: Vec::new(),
            totals: Default::default(),
        },
        Err(e) => {
            return Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "usage_unavailable",
                e.to_string(),
            ))
        }
    };
    Ok(UsageReport {
        since: clock::format_rfc3339(question.since_ms),
        until: clock::format_rfc3339(question.until_ms),
        by: question
            .by
            .iter()
            .map(|d| d.as_str())
            .collect::<Vec<_>>()
            .join(","),
        table,
        store: history.health(),
    })
}

/// `GET /admin/usage?since=&until=&by=`.
pub async fn usage_route(
    params: web::Query<UsageParams>,
    history: web::Data<UsageHistory>,
) -> HttpResponse {
    match usage_report(&history, &params, SystemTime::now()).await {
        Ok(report) => HttpResponse::Ok()
            .insert_header(("cache-control", "no-store"))
            .json(report),
        Err((status, kind, message)) => error_answer(status, kind, &message, history.health()),
    }
}

/// `GET /admin`: the status page. Its content security policy lets it talk to this gateway only.
pub async fn status_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .insert_header((
            "content-security-policy",
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(STATUS_PAGE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(since: Option<&str>, until: Option<&str>, by: Option<&str>) -> UsageParams {
        UsageParams {
            since: since.map(str::to_string),
            until: until.map(str::to_string),
            by: by.map(str::to_string),
        }
    }

    #[test]
    fn defaults_are_the_last_24_hours_by_endpoint() {
        let now = clock::parse_time("2026-11-23T12:00:00Z", 0).expect("time");
        let q = params(None, None, None).question(now).expect("valid");
        assert_eq!(clock::format_rfc3339(q.since_ms), "2026-11-22T12:00:00Z");
        assert_eq!(q.until_ms, now);
        assert_eq!(q.by, [Dimension::Endpoint]);
    }

    #[test]
    fn bad_parameters_are_named() {
        let now = 1_000_000_000_000;
        let err = |p: UsageParams| p.question(now).expect_err("invalid");
        assert!(err(params(Some("soon"), None, None)).starts_with("since:"));
        assert!(err(params(None, Some("x"), None)).starts_with("until:"));
        assert!(err(params(Some("1h"), Some("2h"), None)).contains("before since"));
        assert!(err(params(None, None, Some("week"))).starts_with("by:"));
        assert!(err(params(None, None, Some("day,day"))).contains("twice"));
        assert!(err(params(None, None, Some("day,hour,model"))).contains("at most two"));
        let q = params(Some("7d"), None, Some("endpoint,hour"))
            .question(now)
            .expect("valid");
        assert_eq!(q.by, [Dimension::Endpoint, Dimension::Hour]);
        let q = params(None, None, Some("client"))
            .question(now)
            .expect("valid");
        assert_eq!(q.by, [Dimension::Client]);
    }

    #[actix_rt::test]
    async fn report_with_history_off_is_empty_and_says_why() {
        let history = UsageHistory::off();
        let report = usage_report(&history, &UsageParams::default(), SystemTime::now())
            .await
            .expect("report");
        let json = serde_json::to_value(&report).expect("json");
        assert_eq!(json["by"], "endpoint");
        assert_eq!(json["rows"], serde_json::json!([]));
        assert_eq!(json["totals"]["requests"], 0);
        assert_eq!(json["store"]["enabled"], false);
    }

    #[actix_rt::test]
    async fn usage_route_answers_exact_totals_in_the_contract_shape() {
        use actix_web::{test, App};
        let dir = tempfile::tempdir().expect("temp dir");
        let history = UsageHistory::start(crate::history::StoreSettings::new(Some(
            dir.path().join("usage.sqlite"),
        )));
        for r in crate::history::db::tests::sample() {
            history.record(r);
        }
        let app = test::init_service(
            App::new()
                .app_data(web::Data::new(history.clone()))
                .route("/admin/usage", web::get().to(usage_route))
                .route("/admin", web::get().to(status_page)),
        )
        .await;
        let req = test::TestRequest::get()
            .uri("/admin/usage?since=2026-11-22&until=2026-11-24&by=model")
            .to_request();
        let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
        assert_eq!(body["since"], "2026-11-22T00:00:00Z");
        assert_eq!(body["until"], "2026-11-24T00:00:00Z");
        assert_eq!(body["by"], "model");
        assert_eq!(body["rows"][0]["key"], "claude-sonnet-4-5");
        assert_eq!(body["rows"][0]["requests"], 3);
        assert_eq!(body["rows"][0]["input_tokens"], 600);
        assert_eq!(body["rows"][0]["cost_usd"], 0.0045);
        assert_eq!(body["totals"]["requests"], 5);
        assert_eq!(body["totals"]["cache_write_tokens"], 400);
        assert_eq!(body["store"]["ok"], true);

        let req = test::TestRequest::get()
            .uri("/admin/usage?by=weekday")
            .to_request();
        let resp = test::call_service(&app, req).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            resp.headers()
                .get("x-switchyard-error")
                .and_then(|v| v.to_str().ok()),
            Some("bad_usage_query")
        );

        let resp =
            test::call_service(&app, test::TestRequest::get().uri("/admin").to_request()).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let csp = resp
            .headers()
            .get("content-security-policy")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        assert!(csp.contains("connect-src 'self'"), "{csp}");
        let page = test::read_body(resp).await;
        assert_eq!(page, STATUS_PAGE.as_bytes());
    }

    #[test]
    fn the_page_is_self_contained() {
        let page = STATUS_PAGE.to_ascii_lowercase();
        for outside in ["http://", "https://", "//cdn", "<link", "src=\"", "@import"] {
            assert!(!page.contains(outside), "page refers outside: {outside}");
        }
        for needed in [
            "/admin/status",
            "/admin/usage",
            "sessionstorage",
            "prefers-color-scheme",
        ] {
            assert!(page.contains(needed), "page lacks {needed}");
        }
    }
}

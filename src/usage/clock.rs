//! UTC calendar arithmetic on Unix milliseconds: day and month windows, RFC 3339 in and out.
//! Plain functions; the caller passes `now`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds in a day and an hour.
pub const DAY_MS: i64 = 86_400_000;
pub const HOUR_MS: i64 = 3_600_000;

/// A point in time as Unix milliseconds (what the store keeps).
pub fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Unix milliseconds as a `SystemTime`.
pub fn system_time(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms as u64)
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// Days since 1970-01-01 of a civil (proleptic Gregorian) date.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (days since 1970-01-01).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Start of the UTC day that holds `ms`.
pub fn day_start(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

/// Start of the UTC hour that holds `ms`.
pub fn hour_start(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// Start of the UTC month that holds `ms`.
pub fn month_start(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    days_from_civil(y, m, 1) * DAY_MS
}

/// Start of the UTC month after the one that holds `ms`.
pub fn next_month_start(ms: i64) -> i64 {
    let (y, m, _) = civil_from_days(ms.div_euclid(DAY_MS));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1) * DAY_MS
}

/// `2026-11-23` for the UTC day that holds `ms`.
pub fn format_day(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(DAY_MS));
    format!("{y:04}-{m:02}-{d:02}")
}

/// `2026-11-23T05:00:00Z` (whole seconds, UTC).
pub fn format_rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let of_day = secs.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        format_day(ms),
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Reads a time for `since`/`until`: `24h`, `7d`, `30m`, `90s` (that long before `now`), a date
/// `2026-11-23` (its UTC midnight), or RFC 3339 (`2026-11-23T05:00:00Z`, `…+02:00`, fractions).
pub fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Some(ago) = parse_ago(text) {
        return Ok(now_ms - ago);
    }
    parse_rfc3339(text).ok_or_else(|| {
        format!("`{text}` is not a time: use 24h, 7d, a date like 2026-11-23, or RFC 3339")
    })
}

fn parse_ago(text: &str) -> Option<i64> {
    let unit = text.chars().last()?;
    let per = match unit {
        's' => 1000,
        'm' => 60_000,
        'h' => HOUR_MS,
        'd' => DAY_MS,
        'w' => 7 * DAY_MS,
        _ => return None,
    };
    let n: i64 = text[..text.len() - 1].parse().ok()?;
    if n < 0 {
        return None;
    }
    n.checked_mul(per)
}

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn parse_rfc3339(text: &str) -> Option<i64> {
    let (date, time) = match text.find(['T', 't', ' ']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year = digits(parts.next()?)?;
    let month = u32::try_from(digits(parts.next()?)?).ok()?;
    let day = u32::try_from(digits(parts.next()?)?).ok()?;
    if parts.next().is_some() || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if civil_from_days(days) != (year, month, day) {
        return None; // 2026-02-30
    }
    let Some(time) = time else {
        return Some(days * DAY_MS);
    };
    // The zone: Z, or ±HH:MM at the end.
    let (clock, offset_ms) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':')?;
        (clock, sign * (digits(h)? * HOUR_MS + digits(m)? * 60_000))
    };
    let (hms, fraction) = match clock.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (clock, None),
    };
    let mut hms = hms.split(':');
    let h = digits(hms.next()?)?;
    let m = digits(hms.next()?)?;
    let s = digits(hms.next().unwrap_or("0"))?;
    if hms.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let ms_part = match fraction {
        Some(f) => {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            digits(&f3)?
        }
        None => 0,
    };
    Some(days * DAY_MS + h * HOUR_MS + m * 60_000 + s * 1000 + ms_part - offset_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> i64 {
        parse_time(text, 0).expect("valid time")
    }

    #[test]
    fn calendar_round_trips_over_four_centuries() {
        for days in (-200_000..200_000).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(format_day(at("2024-02-29T23:59:59Z")), "2024-02-29");
    }

    #[test]
    fn day_and_month_windows_are_utc() {
        let t = at("2026-11-23T06:30:00Z");
        assert_eq!(format_rfc3339(day_start(t)), "2026-11-23T00:00:00Z");
        assert_eq!(format_rfc3339(hour_start(t)), "2026-11-23T06:00:00Z");
        assert_eq!(format_rfc3339(month_start(t)), "2026-11-01T00:00:00Z");
        assert_eq!(format_rfc3339(next_month_start(t)), "2026-12-01T00:00:00Z");
        let dec = at("2026-12-31T23:59:59.999Z");
        assert_eq!(
            format_rfc3339(next_month_start(dec)),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339(next_month_start(at("2028-02-10"))),
            "2028-03-01T00:00:00Z"
        );
    }

    #[test]
    fn times_read_as_durations_dates_or_rfc3339() {
        let now = at("2026-11-23T12:00:00Z");
        let p = |s: &str| format_rfc3339(parse_time(s, now).expect(s));
        assert_eq!(p("24h"), "2026-11-22T12:00:00Z");
        assert_eq!(p("7d"), "2026-11-16T12:00:00Z");
        assert_eq!(p("30m"), "2026-11-23T11:30:00Z");
        assert_eq!(p("2026-11-01"), "2026-11-01T00:00:00Z");
        assert_eq!(p("2026-11-23T05:06:07Z"), "2026-11-23T05:06:07Z");
        assert_eq!(p("2026-11-23T07:06:07+02:00"), "2026-11-23T05:06:07Z");
        assert_eq!(p("2026-11-23T00:30:00-01:00"), "2026-11-23T01:30:00Z");
        assert_eq!(
            parse_time("2026-11-23T05:06:07.250Z", now).expect("fraction") % 1000,
            250
        );
        for bad in [
            "",
            "yesterday",
            "2026-02-30",
            "2026-13-01",
            "-3h",
            "2026-11-23T25:00:00Z",
        ] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}

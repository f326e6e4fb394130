//! Browser rules: a web page the user happens to visit must not be able to use the gateway.
//!
//! Two doors are shut. DNS rebinding: a page on `attacker.example` whose name was made to resolve
//! to 127.0.0.1 reaches the gateway with `Host: attacker.example`, so a `Host` that is not a
//! loopback name (or one the config lists) is refused. Cross-site requests: a page on another
//! origin can send `POST`s (a `no-cors` fetch, a form) without a preflight, so a request carrying
//! an `Origin` other than the gateway's own or a listed one, or marked `Sec-Fetch-Site:
//! cross-site`, is refused. Clients that are not browsers (SDKs, agents, curl) send neither header.

use std::net::{IpAddr, Ipv6Addr};

/// What the config admits besides loopback names and the gateway's own origin.
#[derive(Debug, Clone, Copy)]
pub struct BrowserPolicy<'a> {
    /// `proxy.allow_lan_access`: the gateway answers to any `Host`.
    pub any_host: bool,
    /// `proxy.allowed_hosts`: extra host names (lower case, no port), any port.
    pub allowed_hosts: &'a [String],
    /// `proxy.cors_origins`: browser origins that may call the gateway (exact match).
    pub cors_origins: &'a [String],
}

/// The request headers the rules read, as they arrived (`None` when absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct BrowserHeaders<'a> {
    /// Every `Host` value (more than one is refused) and the target's own authority, if the
    /// request line had an absolute URI.
    pub host: Option<&'a str>,
    pub host_count: usize,
    pub authority: Option<&'a str>,
    pub origin: Option<&'a str>,
    pub sec_fetch_site: Option<&'a str>,
}

/// Why a request from a browser is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrowserRefusal {
    #[error(
        "the Host header {0:?} is not a loopback name; a web page may be trying to reach the \
         gateway through DNS rebinding. Call it as 127.0.0.1, [::1] or localhost, or list the \
         name in proxy.allowed_hosts"
    )]
    ForbiddenHost(String),
    #[error(
        "requests from the web page at {0:?} are refused: only the gateway's own pages and the \
         origins listed in proxy.cors_origins may call it from a browser"
    )]
    ForbiddenOrigin(String),
    #[error(
        "a cross-site request (Sec-Fetch-Site: cross-site) without an allowed Origin is refused: \
         list the page's origin in proxy.cors_origins"
    )]
    CrossSite,
}

impl BrowserRefusal {
    /// The value of `x-switchyard-error`.
    pub fn kind(&self) -> &'static str {
        match self {
            BrowserRefusal::ForbiddenHost(_) => "forbidden_host",
            BrowserRefusal::ForbiddenOrigin(_) | BrowserRefusal::CrossSite => "forbidden_origin",
        }
    }
}

/// What an admitted request's `Origin` is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OriginVerdict {
    /// No `Origin` (not a browser, or a same-origin GET).
    None,
    /// The gateway's own origin (its status page).
    Own,
    /// An origin listed in `proxy.cors_origins`: the answer says so to the browser.
    Listed,
}

/// Judges a request by its `Host`, `Origin` and `Sec-Fetch-Site`, before anything else runs.
pub fn judge(
    headers: BrowserHeaders<'_>,
    policy: BrowserPolicy<'_>,
) -> Result<OriginVerdict, BrowserRefusal> {
    if !policy.any_host {
        if headers.host_count > 1 {
            return Err(BrowserRefusal::ForbiddenHost(
                "(more than one Host header)".to_string(),
            ));
        }
        for host in [headers.host, headers.authority].into_iter().flatten() {
            if !host_is_admitted(host, policy.allowed_hosts) {
                return Err(BrowserRefusal::ForbiddenHost(printable(host)));
            }
        }
    }
    match headers.origin {
        Some(origin) => {
            if headers.host.is_some_and(|host| is_own_origin(origin, host)) {
                Ok(OriginVerdict::Own)
            } else if policy.cors_origins.iter().any(|o| o == origin) {
                Ok(OriginVerdict::Listed)
            } else {
                Err(BrowserRefusal::ForbiddenOrigin(printable(origin)))
            }
        }
        None if headers
            .sec_fetch_site
            .is_some_and(|s| s.trim().eq_ignore_ascii_case("cross-site")) =>
        {
            Err(BrowserRefusal::CrossSite)
        }
        None => Ok(OriginVerdict::None),
    }
}

/// Whether `origin` is the one a page served by this gateway under `host` sends: the same
/// scheme-less authority behind `http://` (the gateway speaks plain HTTP).
fn is_own_origin(origin: &str, host: &str) -> bool {
    origin
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        && origin[7..].eq_ignore_ascii_case(host)
}

/// Whether a `Host` value (`name`, `name:port`, `[v6]`, `[v6]:port`) names this machine's
/// loopback, or a name `allowed` lists.
pub fn host_is_admitted(host: &str, allowed: &[String]) -> bool {
    let Some(name) = host_name(host) else {
        return false;
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    is_loopback_name(name) || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
}

/// The name part of a `Host` value, without its port; `None` when the value is malformed.
fn host_name(host: &str) -> Option<&str> {
    let host = host.trim();
    let (name, port) = if host.starts_with('[') {
        let end = host.find(']')?;
        (&host[..=end], &host[end + 1..])
    } else {
        match host.bytes().position(|b| b == b':') {
            Some(colon) => (&host[..colon], &host[colon..]),
            None => (host, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    (!name.is_empty() && port_ok).then_some(name)
}

/// `localhost`, an IPv4 loopback address, or a bracketed IPv6 loopback address.
fn is_loopback_name(name: &str) -> bool {
    // The two names nearly every request carries, known without parsing.
    if name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    if let Some(inner) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        return inner.parse::<Ipv6Addr>().is_ok_and(|ip| {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        });
    }
    // Only a dotted quad: `0x7f.1`-style spellings are not what a browser sends for 127.0.0.1.
    name.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A value from outside, cut short and with control characters escaped, for an error message.
fn printable(value: &str) -> String {
    let cut: String = value.chars().take(200).collect();
    crate::text::escape_controls(&cut).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: BrowserPolicy<'static> = BrowserPolicy {
        any_host: false,
        allowed_hosts: &[],
        cors_origins: &[],
    };

    fn host(h: &str) -> BrowserHeaders<'_> {
        BrowserHeaders {
            host: Some(h),
            host_count: 1,
            ..Default::default()
        }
    }

    #[test]
    fn loopback_names_on_any_port_are_admitted() {
        for h in [
            "127.0.0.1",
            "127.0.0.1:8045",
            "localhost",
            "LOCALHOST:1",
            "localhost.:8045",
            "[::1]",
            "[::1]:8045",
            "127.1.2.3:80",
            "[::ffff:127.0.0.1]:9",
        ] {
            assert_eq!(judge(host(h), NONE), Ok(OriginVerdict::None), "{h}");
        }
    }

    #[test]
    fn other_hosts_are_refused_as_rebinding() {
        for h in [
            "attacker.example",
            "attacker.example:8045",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "0x7f.1",
            "2130706433",
            "[::2]:8045",
            "127.0.0.1:80:80",
            "127.0.0.1:",
            "127.0.0.1:abc",
            "",
            "[::1",
            "10.0.0.1",
        ] {
            assert!(
                matches!(judge(host(h), NONE), Err(BrowserRefusal::ForbiddenHost(_))),
                "{h}"
            );
        }
    }

    #[test]
    fn a_request_without_host_is_not_a_browser_and_passes() {
        assert_eq!(
            judge(BrowserHeaders::default(), NONE),
            Ok(OriginVerdict::None)
        );
    }

    #[test]
    fn two_host_headers_are_refused() {
        let h = BrowserHeaders {
            host: Some("127.0.0.1"),
            host_count: 2,
            ..Default::default()
        };
        assert!(matches!(
            judge(h, NONE),
            Err(BrowserRefusal::ForbiddenHost(_))
        ));
    }

    #[test]
    fn an_absolute_target_names_its_own_host_and_is_judged_too() {
        let h = BrowserHeaders {
            host: Some("127.0.0.1"),
            host_count: 1,
            authority: Some("attacker.example"),
            ..Default::default()
        };
        assert!(judge(h, NONE).is_err());
    }

    #[test]
    fn listed_hosts_and_lan_access_admit_other_names() {
        let allowed = ["gw.lan".to_string()];
        let policy = BrowserPolicy {
            allowed_hosts: &allowed,
            ..NONE
        };
        assert!(judge(host("GW.lan:8045"), policy).is_ok());
        assert!(judge(host("other.lan"), policy).is_err());
        let lan = BrowserPolicy {
            any_host: true,
            ..NONE
        };
        assert!(judge(host("anything.example:1"), lan).is_ok());
    }

    #[test]
    fn the_gateways_own_origin_passes_and_others_are_refused() {
        let own = BrowserHeaders {
            origin: Some("http://127.0.0.1:8045"),
            ..host("127.0.0.1:8045")
        };
        assert_eq!(judge(own, NONE), Ok(OriginVerdict::Own));
        for origin in [
            "http://127.0.0.1:3000",
            "http://localhost:8045",
            "https://127.0.0.1:8045",
            "null",
            "http://evil.example",
            "",
        ] {
            let h = BrowserHeaders {
                origin: Some(origin),
                ..host("127.0.0.1:8045")
            };
            assert!(
                matches!(judge(h, NONE), Err(BrowserRefusal::ForbiddenOrigin(_))),
                "{origin}"
            );
        }
    }

    #[test]
    fn a_listed_origin_passes_even_when_cross_site() {
        let origins = ["http://localhost:3000".to_string()];
        let policy = BrowserPolicy {
            cors_origins: &origins,
            ..NONE
        };
        let h = BrowserHeaders {
            origin: Some("http://localhost:3000"),
            sec_fetch_site: Some("cross-site"),
            ..host("127.0.0.1:8045")
        };
        assert_eq!(judge(h, policy), Ok(OriginVerdict::Listed));
    }

    #[test]
    fn cross_site_without_origin_is_refused_same_site_is_not() {
        let cross = BrowserHeaders {
            sec_fetch_site: Some("cross-site"),
            ..host("127.0.0.1")
        };
        assert_eq!(judge(cross, NONE), Err(BrowserRefusal::CrossSite));
        for site in ["same-origin", "same-site", "none"] {
            let h = BrowserHeaders {
                sec_fetch_site: Some(site),
                ..host("127.0.0.1")
            };
            assert!(judge(h, NONE).is_ok(), "{site}");
        }
    }

    #[test]
    fn the_refusal_kinds_are_the_documented_words() {
        assert_eq!(
            BrowserRefusal::ForbiddenHost("x".into()).kind(),
            "forbidden_host"
        );
        assert_eq!(BrowserRefusal::CrossSite.kind(), "forbidden_origin");
        assert_eq!(
            BrowserRefusal::ForbiddenOrigin("x".into()).kind(),
            "forbidden_origin"
        );
    }

    #[test]
    fn a_refusal_never_echoes_control_characters() {
        let err = judge(host("evil\u{1b}[2J"), NONE).unwrap_err();
        assert!(!err.to_string().contains('\u{1b}'), "{err}");
    }
}

#!/usr/bin/env python3
"""A stand-in for the gateway's admin routes, to look at the status page in a real browser.

Serves src/admin/page.html at /admin and made-up /admin/status and /admin/usage answers for N
endpoints on 127.0.0.1. POST /admin/endpoints/{id}/{action} needs `Bearer test-admin-key`.
With --unreachable, /admin is served but every JSON request has its connection closed unanswered.

    python3 tests/browser/fake_admin.py --port 0 --endpoints 50   # prints the port it bound
"""
import argparse
import json
import os
import random
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PAGE = os.path.join(os.path.dirname(__file__), "..", "..", "src", "admin", "page.html")
STATES = ["healthy", "healthy", "healthy", "cooling_down", "ejected", "auth_failed",
          "disabled", "over_budget", "unknown"]
ERRORS = {
    "cooling_down": (429, "429 Too Many Requests: rate limited, retry after 40s"),
    "ejected": (None, "connection refused (os error 111) after 3 consecutive failures"),
    "auth_failed": (401, "401 Unauthorized: invalid x-api-key"),
    "over_budget": (None, "daily budget of $5.00 reached"),
}


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def endpoints(n, now):
    rng = random.Random(7)
    out = []
    for i in range(n):
        state = "auth_failed" if n == 1 else STATES[i % len(STATES)]
        ident = "anthropic-main" if i == 0 else f"relay-{i:02d}-{rng.choice(['claude', 'gpt', 'deepseek'])}"
        status, error = ERRORS.get(state, (200, None))
        until = None
        if state in ("cooling_down", "ejected"):
            until = now + 40 + 30 * (i % 5)
        if state == "over_budget":
            until = (now // 86400 + 1) * 86400
        e = {
            "id": ident,
            "base_url": "https://api.anthropic.com" if i == 0 else f"https://relay{i}.example.com/v1",
            "key_fingerprint": "3f9a0c41",
            "state": state,
            "enabled": state != "disabled",
            "consecutive_failures": 3 if state == "ejected" else 0,
            "requests": rng.randint(0, 5000),
            "failures": rng.randint(0, 40),
            "in_flight": rng.randint(0, 4) if state == "healthy" else 0,
            "last_status": status,
            "last_error": error,
            "changed_at": now - 600,
            "until": until,
            "retry_in_s": (until - now) if until else None,
            "latency_ewma_ms": 800.0,
            "latency_p50_ms": rng.choice([180.0, 640.5, 1250.0, None]),
            "latency_p95_ms": rng.choice([2100.0, 5400.0, None]),
            "priority": 1 + i // 10,
            "weight": 1.0,
            "models": [],
            "auth": "both",
            "actor_restarts": 0,
        }
        if i % 3 == 1:
            e["model_cooldowns"] = [{"model": "claude-sonnet-4-5", "until": now + 25, "retry_in_s": 25}]
        if state == "healthy":
            e["rate_limits"] = [{"model": "claude-sonnet-4-5" if i % 2 == 0 else None, "age_s": 3.0,
                                 "requests": {"limit": 1000, "remaining": 812, "resets_at": iso(now + 34), "reset_in_s": 34.0},
                                 "tokens": {"limit": 400000, "remaining": 164000 - 40000 * (i % 4), "resets_at": iso(now + 34), "reset_in_s": 34.0},
                                 "input_tokens": None, "output_tokens": None}]
        if i % 4 == 0:
            spent = 5.0 if state == "over_budget" else 1.37
            e["budget"] = {"daily_usd": 5.0, "monthly_usd": 100.0, "spent_today_usd": spent,
                           "spent_month_usd": 42.1, "over_budget_until": until if state == "over_budget" else None}
        out.append(e)
    return out


def usage_rows(eps, by, now):
    rng = random.Random(11)
    sums = lambda req, inp, out, cr, cw, cost, unpriced=0: {
        "requests": req, "input_tokens": inp, "output_tokens": out, "cache_read_tokens": cr,
        "cache_write_tokens": cw, "cost_usd": cost, "unpriced_requests": unpriced}
    rows = []
    if by == "endpoint,hour":
        start = (now // 3600 - 23) * 3600
        for e in eps[:12]:
            for h in range(24):
                if rng.random() < 0.3:
                    continue
                req = rng.randint(1, 60)
                row = {"key": f"{e['id']} {iso(start + h * 3600)}", "endpoint": e["id"], "hour": iso(start + h * 3600)}
                row.update(sums(req, req * 900, req * 300, req * 4000, req * 100, req * 0.01))
                rows.append(row)
    else:
        for i, e in enumerate(eps):
            if i % 5 == 4:
                continue
            req = rng.randint(1, 400)
            row = {"key": e["id"]}
            row.update(sums(req, req * 1200, req * 350, req * 5100, req * 80, round(req * 0.0137, 6),
                            1 if i % 7 == 3 else 0))
            rows.append(row)
    totals = sums(0, 0, 0, 0, 0, 0.0)
    for r in rows:
        for k in totals:
            totals[k] += r[k]
    return {"since": iso(now - 86400), "until": iso(now), "by": by, "rows": rows, "totals": totals,
            "store": {"enabled": True, "path": "/home/me/.config/switchyard/config.yaml.usage.sqlite",
                      "ok": True, "schema_version": 1, "written": 1234, "pending": 0, "write_errors": 0,
                      "dropped": 0, "last_error": None, "last_error_at": None}}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        now = int(time.time())
        path, _, query = self.path.partition("?")
        if path == "/admin":
            with open(PAGE, "rb") as f:
                data = f.read()
            self.send_response(200)
            self.send_header("content-type", "text/html; charset=utf-8")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if self.server.unreachable:
            self.close_connection = True
            return
        eps = endpoints(self.server.n, now)
        if path == "/admin/status":
            self.send_json(200, {
                "version": "0.1.0", "uptime_s": 98765, "auth_mode": "off", "listen": ["127.0.0.1:8045"],
                "strategy": "priority", "config_file": "/home/me/.config/switchyard/config.yaml",
                "config_error": None,
                "totals": {"endpoints": len(eps), "selectable": sum(e["state"] in ("healthy", "unknown") for e in eps),
                           "requests": sum(e["requests"] for e in eps), "failures": sum(e["failures"] for e in eps),
                           "in_flight": sum(e["in_flight"] for e in eps)},
                "endpoints": eps,
                "sessions": {"enabled": True, "bound": 7, "moves": 2,
                             "moved_from": {eps[-1]["id"]: 2} if eps else {}}})
        elif path == "/admin/usage":
            by = "endpoint,hour" if "by=endpoint%2Chour" in query or "by=endpoint,hour" in query else "endpoint"
            self.send_json(200, usage_rows(eps, by, now))
        else:
            self.send_json(404, {"error": {"message": "no such route", "type": "not_found"}})

    def do_POST(self):
        if self.headers.get("authorization") != "Bearer test-admin-key":
            self.send_json(401, {"error": {"message": "admin route needs proxy.admin_key", "type": "admin_unauthorized"}})
            return
        self.send_json(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--endpoints", type=int, default=1)
    ap.add_argument("--unreachable", action="store_true")
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.n = args.endpoints
    server.unreachable = args.unreachable
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The benchmark, in one command: bench/run.sh [--quick]
# Installs wrk and nginx from Debian's packages when they are missing (nginx is optional: without
# it the nginx column is skipped), builds in release mode, and runs examples/bench.rs with the load
# generator and the mock upstream on core 1 and the gateway (or nginx) on core 0.
set -euo pipefail
cd "$(dirname "$0")/.."

install() {
  if command -v apt-get >/dev/null 2>&1; then
    { apt-get install -y "$@" || { apt-get update && apt-get install -y "$@"; }; } >/dev/null 2>&1 || true
  fi
}
command -v wrk >/dev/null 2>&1 || install wrk
command -v taskset >/dev/null 2>&1 || install util-linux
[ -x /usr/sbin/nginx ] || install nginx-light
command -v wrk >/dev/null 2>&1 || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }

cargo build --release --locked --bin switchyard --example bench
exec taskset -c "${BENCH_LOAD_CORE:-1}" target/release/examples/bench "$@"

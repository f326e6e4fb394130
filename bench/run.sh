#!/usr/bin/env bash
# The benchmark, in one command: bench/run.sh [--quick] [--rounds N] [--syscalls] [--allocs] [--sse-only] [--latency-only] [--instructions-only]
#   --quick     3 s per wrk run and a shorter soak, no instructions section: about 3 minutes
#               (the full run: about 20, its last minute the instructions section)
#   --rounds N  runs per target and case, each in new proxy processes; figures: medians (default 3)
#   --syscalls  also count syscalls per request with strace -c (slow; installs strace if missing)
#   --allocs    also count allocations per request (examples/counted.rs, a counting allocator)
#   --sse-only  only the SSE lateness figures (a minute or two)
#   --latency-only  only the added latency at concurrency 1 and the time to a translated 128 KiB
#               stream's first event (a minute or two)
#   --instructions-only  only the instructions each proxy runs per request, counted by callgrind:
#               steady where CPU time moves with the machine (a few minutes; installs valgrind)
# BENCH_BEFORE=PATH (an earlier build's target/release/switchyard) adds "switchyard (before)" and
# "translated (before)": that binary with the same configs, measured in the same run;
# BENCH_BEFORE_NAME=NAME puts NAME in those rows instead of "before" (pgo for target/pgo/switchyard).
# Installs wrk, nginx (nginx-light) and util-linux from Debian's packages when they are missing,
# builds in release mode, and runs examples/bench.rs with this process, wrk and the upstreams on the
# load core (BENCH_LOAD_CORE, default 1) and each proxy under test alone on BENCH_GATEWAY_CORE
# (default 0).
set -euo pipefail
# Resolved before the cd below, so a path relative to where the script was called works.
if [ -n "${BENCH_BEFORE:-}" ]; then
  BENCH_BEFORE="$(realpath -e -- "$BENCH_BEFORE")" || { echo "bench: BENCH_BEFORE: no such file"; exit 1; }
  export BENCH_BEFORE
fi
cd "$(dirname "$0")/.."

install() {
  if command -v apt-get >/dev/null 2>&1; then
    { apt-get install -y "$@" || { apt-get update && apt-get install -y "$@"; }; } >/dev/null 2>&1 || true
  fi
}
command -v wrk >/dev/null 2>&1 || install wrk
command -v taskset >/dev/null 2>&1 || install util-linux
[ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ] || install nginx-light || true
[ -x /usr/sbin/nginx ] || [ -x /usr/local/sbin/nginx ] || install nginx || true
case " $* " in *" --syscalls "*) command -v strace >/dev/null 2>&1 || install strace ;; esac
# The instructions section: with --instructions-only, and at the end of a full run.
case " $* " in
  *" --instructions-only "*) command -v valgrind >/dev/null 2>&1 || install valgrind ;;
  *" --quick "* | *" --sse-only "* | *" --latency-only "*) ;;
  *) command -v valgrind >/dev/null 2>&1 || install valgrind ;;
esac
command -v wrk >/dev/null 2>&1 || { echo "bench: wrk is needed (apt-get install wrk)"; exit 1; }
command -v taskset >/dev/null 2>&1 || { echo "bench: taskset is needed (apt-get install util-linux)"; exit 1; }

cargo build --release --locked --bin switchyard --example bench --example floor --example mock --example counted
export BENCH_GATEWAY_CORE="${BENCH_GATEWAY_CORE:-0}"
exec taskset -c "${BENCH_LOAD_CORE:-1}" target/release/examples/bench "$@"

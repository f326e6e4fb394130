#!/bin/sh
# Looks at the status page in headless Chromium against tests/browser/fake_admin.py and writes
# screenshots and rendered DOMs to $OUT (default target/browser). Exit 1 when a check on the DOM
# fails. Needs python3 and chromium (Debian package `chromium`).
#
#   sh tests/browser/screenshot.sh
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-target/browser}
mkdir -p "$OUT"
CHROMIUM=${CHROMIUM:-$(command -v chromium || command -v chromium-browser)}
status=0

shoot() { # name endpoints width height scheme [--unreachable]
  name=$1 n=$2 w=$3 h=$4 scheme=$5; shift 5
  rm -f "$OUT/$name.port"
  python3 tests/browser/fake_admin.py --endpoints "$n" "$@" > "$OUT/$name.port" &
  server=$!
  i=0; while [ ! -s "$OUT/$name.port" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
  port=$(cat "$OUT/$name.port")
  flags="--headless --no-sandbox --disable-gpu --hide-scrollbars --virtual-time-budget=5000 --window-size=$w,$h"
  if [ "$scheme" = dark ]; then flags="$flags --force-dark-mode --blink-settings=preferredColorScheme=0"; else flags="$flags --blink-settings=preferredColorScheme=1"; fi
  # shellcheck disable=SC2086
  "$CHROMIUM" $flags --screenshot="$OUT/$name.png" "http://127.0.0.1:$port/admin" 2>"$OUT/$name.log" ||
    { echo "chromium failed on $name (see $OUT/$name.log)"; status=1; }
  # shellcheck disable=SC2086
  "$CHROMIUM" $flags --dump-dom "http://127.0.0.1:$port/admin" > "$OUT/$name.html" 2>>"$OUT/$name.log" ||
    { echo "chromium failed on $name (see $OUT/$name.log)"; status=1; }
  kill "$server" 2>/dev/null || true
  echo "$OUT/$name.png"
}

expect() { # file text
  if ! grep -q "$2" "$1"; then echo "missing in $1: $2"; status=1; fi
}

shoot one-laptop 1 1366 800 light
expect "$OUT/one-laptop.html" "anthropic-main"
expect "$OUT/one-laptop.html" "auth failed"
expect "$OUT/one-laptop.html" "live · updated"
shoot fifty-laptop 50 1440 2400 light
expect "$OUT/fifty-laptop.html" "relay-49"
expect "$OUT/fifty-laptop.html" "cooling down"
expect "$OUT/fifty-laptop.html" "<rect"
shoot fifty-laptop-dark 50 1440 1200 dark
shoot one-phone 1 390 1300 light
shoot fifty-phone-dark 50 390 1800 dark
shoot unreachable 3 1024 600 light --unreachable
expect "$OUT/unreachable.html" "Cannot reach the gateway"
exit $status

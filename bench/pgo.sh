#!/usr/bin/env bash
# A profile-guided build of switchyard: bench/pgo.sh → target/pgo/switchyard.
# Builds an instrumented gateway, runs the workload of examples/pgo_train.rs through it (each client
# API into each upstream API behind a mock, small and 128 KiB, plain and streamed: under half a minute),
# merges the profile with llvm-profdata and builds the gateway again with it. Takes three release
# builds' time (about 20 minutes on two cores). README, "Performance", says what it buys.
#
# llvm-profdata must read the profiles this rustc's LLVM writes: rustup's `llvm-tools` component
# (`rustup component add llvm-tools`) always does; Debian's llvm-19 does for rustc 1.95. The script
# looks there, then on PATH, then under /usr/lib/llvm-*; LLVM_PROFDATA=PATH names one. When none is
# found it installs Debian's llvm-19 if apt-get is there.
set -euo pipefail
cd "$(dirname "$0")/.."

out=target/pgo
profiles="$PWD/$out/profiles"

candidates() {
  [ -n "${LLVM_PROFDATA:-}" ] && echo "$LLVM_PROFDATA"
  ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-profdata 2>/dev/null || true
  command -v llvm-profdata 2>/dev/null || true
  ls -d /usr/lib/llvm-*/bin/llvm-profdata 2>/dev/null | sort -t- -k2 -n -r || true
}

rm -rf "$profiles"
mkdir -p "$profiles"
echo "== 1/4 the instrumented build ($out/instrumented)"
CARGO_TARGET_DIR="$out/instrumented" RUSTFLAGS="-Cprofile-generate=$profiles" \
  cargo build --release --locked --bin switchyard
echo "== 2/4 the workload (examples/pgo_train.rs)"
cargo build --release --locked --example pgo_train
target/release/examples/pgo_train "$out/instrumented/release/switchyard"

echo "== 3/4 merging the profile"
merged=""
for tool in $(candidates); do
  if "$tool" merge -o "$out/switchyard.profdata" "$profiles" 2>/dev/null; then
    merged="$tool"
    break
  fi
done
if [ -z "$merged" ] && command -v apt-get >/dev/null 2>&1; then
  echo "   no llvm-profdata here reads these profiles; installing Debian's llvm-19"
  { apt-get install -y llvm-19 || { apt-get update && apt-get install -y llvm-19; }; } >/dev/null 2>&1 || true
  if /usr/lib/llvm-19/bin/llvm-profdata merge -o "$out/switchyard.profdata" "$profiles"; then
    merged=/usr/lib/llvm-19/bin/llvm-profdata
  fi
fi
if [ -z "$merged" ]; then
  echo "pgo: no llvm-profdata could read the profiles of $(rustc --version) ($(rustc -vV | grep LLVM));"
  echo "     run \`rustup component add llvm-tools\`, or name one with LLVM_PROFDATA=PATH"
  exit 1
fi
echo "   merged by $merged"

echo "== 4/4 the build that uses it ($out/optimized)"
CARGO_TARGET_DIR="$out/optimized" RUSTFLAGS="-Cprofile-use=$PWD/$out/switchyard.profdata" \
  cargo build --release --locked --bin switchyard
cp "$out/optimized/release/switchyard" "$out/switchyard"
echo "pgo: $out/switchyard"

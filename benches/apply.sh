#!/usr/bin/env bash
# `svcc apply --target nft` at cluster scale, in a network namespace with the real nft (root):
# the first apply (whole load), one-Service changes (each a delta transaction), an unchanged
# input, and a forced whole reload over a loaded table. Writes $OUT/apply-delta.csv and prints
# a summary; see BENCHMARKS.md ("Incremental apply").
#
#   benches/apply.sh [--sizes "1000 10000"] [--runs 5] [--out docs/bench]
#
# A one-Service change edits the first Service's port in place (80 -> 81 -> 80 ...), so every
# run is a real change of one Service port: its chain, its map elements. Each run's whole
# process is timed with GNU time; the stages come from SVCC_TIMINGS=1 (compile, render, delta,
# kernel). The namespace is removed on exit, also on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="1000 10000"
RUNS=5
OUT=docs/bench
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "apply.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "apply.sh: needs root (network namespaces, nft)" >&2; exit 2; }
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "apply.sh: needs GNU time (apt-get install time)" >&2; exit 2; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release --quiet --bin svcc --example gen-cluster
SVCC=$CARGO_TARGET_DIR/release/svcc
GEN=$CARGO_TARGET_DIR/release/examples/gen-cluster
WORK=$(mktemp -d)
NS="svcc-bench-apply-$$"
cleanup() {
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
mkdir -p "$OUT"

# Runs svcc apply in the namespace; sets W (wall s), M (peak KB) and leaves stderr in $WORK/err.
run_apply() {
  $TIME -f "%e %M" -o "$WORK/time" env SVCC_TIMINGS=1 \
    ip netns exec "$NS" "$SVCC" apply --state-dir "$WORK/state" "$@" "$WORK/c.yaml" \
    2> "$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  read -r W M < "$WORK/time"
}
stage() { grep "timing: $1 " "$WORK/err" | awk '{print $(NF-1)}' | tail -1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "services,endpoints,first_apply_s,first_kernel_ms,change_s,change_kernel_ms,change_delta_ms,change_commands,change_peak_kb,unchanged_s,forced_whole_s,runs,nft" > "$OUT/apply-delta.csv"
for n in $SIZES; do
  ip netns del "$NS" 2>/dev/null || true
  ip netns add "$NS"
  rm -rf "$WORK/state"
  "$GEN" --services "$n" --endpoints 10 --out "$WORK/c.yaml" > /dev/null
  run_apply
  grep -q "ruleset (whole)" "$WORK/err" || { cat "$WORK/err" >&2; echo "apply.sh: the first apply was not whole" >&2; exit 1; }
  first=$W; first_kernel=$(stage "ruleset into the kernel")
  endpoints=$(grep -o '[0-9]* endpoints' "$WORK/err" | tail -1 | cut -d' ' -f1)
  : > "$WORK/walls"; : > "$WORK/kernel"; : > "$WORK/delta"; : > "$WORK/peak"
  port=80
  for _ in $(seq "$RUNS"); do
    next=$((port == 80 ? 81 : 80))
    # The first Service's only port (the generator writes it on line 14).
    sed -i "14s/port: $port\$/port: $next/" "$WORK/c.yaml"
    port=$next
    run_apply
    grep -q "ruleset (delta" "$WORK/err" || { cat "$WORK/err" >&2; echo "apply.sh: a one-Service change was not a delta" >&2; exit 1; }
    commands=$(grep -o 'delta of [0-9]* commands' "$WORK/err" | awk '{print $3}')
    echo "$W" >> "$WORK/walls"; echo "$M" >> "$WORK/peak"
    stage "ruleset into the kernel" >> "$WORK/kernel"; stage "delta" >> "$WORK/delta"
  done
  change=$(median < "$WORK/walls"); kernel=$(median < "$WORK/kernel")
  delta=$(median < "$WORK/delta"); peak=$(median < "$WORK/peak")
  run_apply
  grep -q "no change" "$WORK/err" || { cat "$WORK/err" >&2; echo "apply.sh: the unchanged apply changed something" >&2; exit 1; }
  unchanged=$W
  run_apply --force
  forced=$W
  nft_version=$(nft --version | awk '{print $2}')
  echo "$n,$endpoints,$first,$first_kernel,$change,$kernel,$delta,$commands,$peak,$unchanged,$forced,$RUNS,$nft_version" >> "$OUT/apply-delta.csv"
  echo "$n Services ($endpoints endpoints): first apply $first s (kernel $first_kernel ms);" \
    "one-Service change $change s (delta $delta ms, kernel $kernel ms, $commands commands, peak $peak KB);" \
    "unchanged $unchanged s; forced whole reload $forced s"
done

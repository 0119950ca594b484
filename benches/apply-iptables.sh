#!/usr/bin/env bash
# `svcc apply --target iptables` at cluster scale: the whole first apply against a delta (one
# Service changed), in network namespaces this script creates (root; iptables, iptables-restore,
# iptables-save). Prints one line per measurement; stage times come from SVCC_TIMINGS=1.
#
#   benches/apply-iptables.sh [--sizes "10000"] [--whole-sizes "1000 2000"] [--endpoints 10]
#                             [--svcc PATH --gen PATH] [--skip-save] [--keep-work]
#
# With --svcc and --gen (a built svcc and gen-cluster), nothing is built.
#
# For each of --whole-sizes: a fresh namespace, the first `svcc apply` (whole: every chain,
# `iptables-restore --noflush`), then the one-Service changes of steps 2-4 below (deltas).
#
# For each of --sizes: the whole first apply under --noflush grows too fast to wait for at
# 10,000 Services (see the --whole-sizes numbers; its `iptables-save` alone takes minutes
# there), so the namespace is seeded instead with the same ruleset by `iptables-restore`
# without --noflush (the fresh namespace has nothing else to flush), and the state directory
# gets the `--no-jumps` input that apply itself would have recorded; an apply of the unchanged
# input must then change nothing (checked). Then:
#   1. `iptables-save` of the node, timed (what a whole load reads to find stale chains, and
#      why a delta does not read it);
#   2. the first Service's port 80 -> 81 (one Service changed): `svcc apply`, wall time and
#      stages;
#   3. the port back to 80: again;
#   4. the first endpoint's address 10.128.0.2 -> 10.128.0.250 (one endpoint replaced).
# A port is in the rule of SVCC-SERVICES that every Service has, so that chain (one rule per
# Service port) is refilled whole; an endpoint's change touches only its Service's chains.
# --skip-save leaves out step 1 (minutes at 10,000 Services).
# Each apply's log line must say `delta`. Namespaces are removed on exit (also on failure).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="10000"
WHOLE_SIZES="1000 2000"
ENDPOINTS=10
SVCC=""
GEN=""
KEEP=false
SKIP_SAVE=false
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --whole-sizes) WHOLE_SIZES=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --svcc) SVCC=$2; shift 2 ;;
    --gen) GEN=$2; shift 2 ;;
    --keep-work) KEEP=true; shift ;;
    --skip-save) SKIP_SAVE=true; shift ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "apply-iptables.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "apply-iptables.sh: needs root (network namespaces)" >&2; exit 2; }
for tool in ip iptables-restore iptables-save; do
  command -v "$tool" >/dev/null || { echo "apply-iptables.sh: needs $tool (apt-get install iproute2 iptables)" >&2; exit 2; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "$SVCC" ] || [ -z "$GEN" ]; then
  echo "== building (release)"
  cargo build --release --quiet --bin svcc --example gen-cluster
  [ -n "$SVCC" ] || SVCC=$CARGO_TARGET_DIR/release/svcc
  [ -n "$GEN" ] || GEN=$CARGO_TARGET_DIR/release/examples/gen-cluster
fi
FLAGS=(--cluster-cidr 10.128.0.0/9)

WORK=$(mktemp -d /tmp/svcc-apply-ipt.XXXXXX)
NS_PREFIX="svcc-apply-ipt-$$"
cleanup() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  $KEEP || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

echo "machine: $(nproc) cores, $(uname -r), $(iptables -V)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# apply NS STATE FILE LABEL: one timed `svcc apply`, its log line and stage times.
apply() {
  local ns=$1 state=$2 file=$3 label=$4 start end
  start=$(now)
  SVCC_TIMINGS=1 ip netns exec "$ns" "$SVCC" apply --target iptables "${FLAGS[@]}" \
    --state-dir "$state" "$file" 2> "$WORK/stderr" || { cat "$WORK/stderr" >&2; exit 1; }
  end=$(now)
  echo "  $label: wall $(secs "$start" "$end") s"
  grep -E "^svcc apply:|timing: (ip|iptables)" "$WORK/stderr" | sed 's/^/    /'
}

# The first Service's first port, 80 -> $2 (gen-cluster's first Service has TCP port 80).
edit_port() { sed "0,/^  - port: $1\$/s//  - port: $2/" "$3"; }

for n in $WHOLE_SIZES; do
  echo "== $n Services: whole first apply, then deltas"
  "$GEN" --services "$n" --endpoints "$ENDPOINTS" --out "$WORK/c$n.yaml" > /dev/null
  edit_port 80 81 "$WORK/c$n.yaml" > "$WORK/c$n-81.yaml"
  ns="$NS_PREFIX-w$n"; ip netns add "$ns"
  state="$WORK/state-w$n"
  apply "$ns" "$state" "$WORK/c$n.yaml" "first apply (whole)"
  apply "$ns" "$state" "$WORK/c$n-81.yaml" "port 80 -> 81"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  apply "$ns" "$state" "$WORK/c$n.yaml" "port 81 -> 80"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  sed "0,/^  - 10\.128\.0\.2\$/s//  - 10.128.0.250/" "$WORK/c$n.yaml" > "$WORK/c$n-ep.yaml"
  cmp -s "$WORK/c$n.yaml" "$WORK/c$n-ep.yaml" && { echo "the endpoint edit changed nothing" >&2; exit 1; }
  apply "$ns" "$state" "$WORK/c$n-ep.yaml" "endpoint 10.128.0.2 -> 10.128.0.250"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  ip netns del "$ns"
done

for n in $SIZES; do
  echo "== $n Services: seeded node, then deltas"
  "$GEN" --services "$n" --endpoints "$ENDPOINTS" --out "$WORK/c$n.yaml" > /dev/null
  edit_port 80 81 "$WORK/c$n.yaml" > "$WORK/c$n-81.yaml"
  cmp -s "$WORK/c$n.yaml" "$WORK/c$n-81.yaml" && { echo "the edit changed nothing" >&2; exit 1; }
  "$SVCC" compile -q --target iptables "${FLAGS[@]}" "$WORK/c$n.yaml" > "$WORK/r$n.ipt"
  "$SVCC" compile -q --target iptables --no-jumps "${FLAGS[@]}" "$WORK/c$n.yaml" > "$WORK/r$n-nojumps.ipt"
  echo "  ruleset: $(wc -l < "$WORK/r$n.ipt") lines, $(grep -c '^:' "$WORK/r$n.ipt") chains"
  ns="$NS_PREFIX-s$n"; ip netns add "$ns"
  state="$WORK/state-s$n"; mkdir -p "$state"
  start=$(now)
  ip netns exec "$ns" iptables-restore < "$WORK/r$n.ipt"
  echo "  seed: iptables-restore (no --noflush) $(secs "$start" "$(now)") s"
  cp "$WORK/r$n-nojumps.ipt" "$state/ruleset"
  apply "$ns" "$state" "$WORK/c$n.yaml" "unchanged input (checks the seed)"
  grep -q "no change" "$WORK/stderr" || { echo "the seeded state is not what apply makes" >&2; exit 1; }
  if ! $SKIP_SAVE; then
    start=$(now)
    rc=0; timeout 900 ip netns exec "$ns" iptables-save > "$WORK/save$n.txt" || rc=$?
    echo "  iptables-save of the node: $(secs "$start" "$(now)") s, exit $rc ($(wc -l < "$WORK/save$n.txt") lines)"
  fi
  apply "$ns" "$state" "$WORK/c$n-81.yaml" "port 80 -> 81"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  apply "$ns" "$state" "$WORK/c$n.yaml" "port 81 -> 80"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  sed "0,/^  - 10\.128\.0\.2\$/s//  - 10.128.0.250/" "$WORK/c$n.yaml" > "$WORK/c$n-ep.yaml"
  cmp -s "$WORK/c$n.yaml" "$WORK/c$n-ep.yaml" && { echo "the endpoint edit changed nothing" >&2; exit 1; }
  apply "$ns" "$state" "$WORK/c$n-ep.yaml" "endpoint 10.128.0.2 -> 10.128.0.250"
  grep -q "ruleset (delta" "$WORK/stderr" || { echo "not a delta" >&2; exit 1; }
  ip netns del "$ns"
done

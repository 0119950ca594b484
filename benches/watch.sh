#!/usr/bin/env bash
# Latency of `svcc apply --watch`: from a write of one Service's file to the change being in the
# kernel. Needs root, `ip` and `nft`.
#
#   benches/watch.sh [--services N] [--endpoints M] [--runs R]
#
# A cluster from examples/gen-cluster.rs (default 10,000 Services) is split into one file per
# namespace (as a GitOps checkout or a sync of `kubectl get -n NS` lays it out). `svcc apply
# --watch --state-dir` runs in a network namespace made here, with the real `nft`. After its
# first apply, each run changes the port of the first Service (gen-cluster's first Service is a
# ClusterIP Service with TCP port 80), saving the file by rename as editors do, and polls
# `nft get element` every 5 ms (at most 300 s) until the kernel has the new port; each write must
# make exactly one apply. Printed per run and as medians: the whole latency (write to kernel),
# its split from svcc's stderr into the debounce ("settled in": first event to apply start) and
# the rest (the apply until nft's transaction is in), and the apply's own logged time (which
# also counts saving the state after nft). The script's own files go to log/, outside what svcc
# watches. The network namespace, svcc and the scratch directory are removed on exit (also on
# failure).
set -euo pipefail
cd "$(dirname "$0")/.."

SERVICES=10000
ENDPOINTS=10
RUNS=5
while [ $# -gt 0 ]; do
  case "$1" in
    --services) SERVICES=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    *) echo "watch.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "watch.sh: needs root (network namespace, nft)" >&2; exit 2; }
for tool in ip nft awk sed; do
  command -v "$tool" >/dev/null || { echo "watch.sh: needs $tool" >&2; exit 2; }
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
NS=svcc-watch-$$
WORK=$(mktemp -d)
# svcc watches in/ and, not recursively, $WORK: what the script writes goes to log/.
LOG=$WORK/log
mkdir "$LOG"
SVCC_PID=""
cleanup() {
  if [ -n "$SVCC_PID" ]; then kill "$SVCC_PID" 2>/dev/null || true; wait "$SVCC_PID" 2>/dev/null || true; fi
  ip netns del "$NS" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== building (release)"
cargo build --release --quiet --bin svcc
SVCC=$CARGO_TARGET_DIR/release/svcc

echo "== generating $SERVICES Services, one file per namespace"
cargo run --release --quiet --example gen-cluster -- \
  --services "$SERVICES" --endpoints "$ENDPOINTS" --out "$LOG/cluster.yaml" > "$LOG/gen.txt"
# first=NAMESPACE/NAME IP:PORT
read -r NAMESPACE NAME IP PORT < <(sed -n 's|^first=\(.*\)/\(.*\) \(.*\):\(.*\)$|\1 \2 \3 \4|p' "$LOG/gen.txt")
[ -n "${PORT:-}" ] || { cat "$LOG/gen.txt" >&2; echo "watch.sh: no first Service in the summary" >&2; exit 1; }
# The temporary of each save is made outside the watched directories.
mkdir "$WORK/in" "$WORK/tmp"
# Each document to the file of its namespace (metadata's `namespace:` is indented by two).
awk -v dir="$WORK/in" '
  function flush(  f) {
    if (doc != "") { f = dir "/" (ns == "" ? "cluster-scoped" : ns) ".yaml"; print doc >> f; close(f) }
    doc = ""; ns = ""
  }
  /^---$/ { flush(); doc = "---"; next }
  { doc = doc "\n" $0 }
  ns == "" && /^  namespace: / { ns = $2 }
  END { flush() }
' "$LOG/cluster.yaml"
FILE=$WORK/in/$NAMESPACE.yaml
echo "   $(ls "$WORK/in" | wc -l) files; changing $NAMESPACE/$NAME ($IP:$PORT) in $(basename "$FILE") ($(du -h "$FILE" | cut -f1))"

ip netns add "$NS"
ip netns exec "$NS" "$SVCC" apply --watch --state-dir "$WORK/state" "$WORK/in" 2> "$LOG/stderr" &
SVCC_PID=$!

# wait_lines PATTERN COUNT SECONDS: until svcc's stderr has COUNT lines matching PATTERN.
wait_lines() {
  local deadline=$(( $(date +%s) + $3 ))
  until [ "$(grep -c -- "$1" "$LOG/stderr" || true)" -ge "$2" ]; do
    if [ "$(date +%s)" -ge "$deadline" ] || ! kill -0 "$SVCC_PID" 2>/dev/null; then
      cat "$LOG/stderr" >&2; echo "watch.sh: timed out waiting for $2 × '$1'" >&2; exit 1
    fi
    sleep 0.05
  done
}
echo "== first apply"
wait_lines "svcc apply: applied" 1 600
tail -n 1 "$LOG/stderr" | sed 's/^/   /'

# The map of ClusterIP . protocol . port, found in the kernel by the first Service's address.
ip netns exec "$NS" nft list ruleset > "$LOG/ruleset"
MAP=$(awk -v ip="$IP" '
  /^\tmap / { map = $2 } $0 ~ ip " \\. tcp \\. " && map != "" && found == "" { found = map }
  END { print found }' "$LOG/ruleset")
[ -n "$MAP" ] || { echo "watch.sh: no map of svcc's ruleset holds $IP . tcp" >&2; exit 1; }
FAMILY_TABLE=$(awk '/^table .* svcc / { print $2, $3 }' "$LOG/ruleset" | head -n 1)
echo "   the Service is an element of map $MAP ($FAMILY_TABLE)"

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
echo "== $RUNS changes (port of $NAMESPACE/$NAME)"
printf '   %-4s %-6s %10s %11s %11s %13s\n' run port total_s debounce_s to_kernel_s svcc_apply_s
: > "$LOG/runs"
old=$PORT
for run in $(seq 1 "$RUNS"); do
  new=$(( 8000 + run ))
  before=$(grep -c "svcc apply: input changed" "$LOG/stderr" || true)
  # The Service's own `port:` line: the first after its name (its Deployment and slices come
  # after it), written to a temporary and renamed over the file, as editors save.
  awk -v name="  name: $NAME" -v old="$old" -v new="$new" '
    $0 == name { seen = 1 }
    seen && !done && ($0 == "  - port: " old || $0 == "    port: " old) { sub("port: " old "$", "port: " new); done = 1 }
    { print }
    END { if (!done) exit 1 }
  ' "$FILE" > "$WORK/tmp/edit.yaml" || { echo "watch.sh: no port $old after $NAME in $FILE" >&2; exit 1; }
  start=$(date +%s%N)
  mv "$WORK/tmp/edit.yaml" "$FILE"
  deadline=$(( start + 300000000000 ))
  until ip netns exec "$NS" nft get element $FAMILY_TABLE "$MAP" "{ $IP . tcp . $new }" >/dev/null 2>&1; do
    [ "$(date +%s%N)" -lt "$deadline" ] || { cat "$LOG/stderr" >&2; echo "watch.sh: port $new not in the kernel after 300 s" >&2; exit 1; }
    sleep 0.005
  done
  end=$(date +%s%N)
  wait_lines "svcc apply: applied" $(( run + 1 )) 60
  after=$(grep -c "svcc apply: input changed" "$LOG/stderr" || true)
  [ "$after" -eq $(( before + 1 )) ] || { cat "$LOG/stderr" >&2; echo "watch.sh: the write made $(( after - before )) applies, not one" >&2; exit 1; }
  debounce=$(grep "svcc apply: input changed" "$LOG/stderr" | tail -n 1 | sed 's/.*settled in \([0-9.]*\) s.*/\1/')
  apply=$(grep "svcc apply: applied" "$LOG/stderr" | tail -n 1 | sed 's/.*; \([0-9.]*\) s)$/\1/')
  total=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')
  to_kernel=$(awk -v t="$total" -v d="$debounce" 'BEGIN { printf "%.3f", t - d }')
  printf '   %-4s %-6s %10s %11s %11s %13s\n' "$run" "$new" "$total" "$debounce" "$to_kernel" "$apply"
  echo "$total $debounce $to_kernel $apply" >> "$LOG/runs"
  old=$new
done
echo "== medians of $RUNS ($SERVICES Services, $(ls "$WORK/in" | wc -l) files)"
for col in 1:total 2:debounce 3:to_kernel 4:svcc_apply; do
  printf '   %-11s %s s\n' "${col#*:}" "$(cut -d' ' -f"${col%%:*}" "$LOG/runs" | median)"
done
echo "   total: from the write (rename) to the kernel having the new port (polled every 5 ms);"
echo "   debounce: svcc's \"settled in\", its first event to the start of the apply;"
echo "   to_kernel: total - debounce, the apply until nft's transaction is in the kernel;"
echo "   svcc_apply: the apply's own log line, which also counts saving the state after nft."
grep "svcc apply: applied" "$LOG/stderr" | tail -n 1 | sed 's/^/   last: /'

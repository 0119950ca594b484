#!/usr/bin/env bash
# Whole-process benchmarks of svcc at cluster scale; writes CSV, SVG plots and a Markdown
# summary to docs/bench/ (see BENCHMARKS.md for the method).
#
#   benches/scale.sh [--sizes "1000 10000 30000"] [--endpoints 10] [--runs 5]
#                    [--kv-sizes "1000 10000"] [--latency-sizes "100 1000 10000"]
#                    [--connections 400] [--out docs/bench] [--skip-kv] [--skip-netns]
#                    [--ipt-svcc PATH] [--dataplane-sizes "1000 10000"]
#
# Measures, on clusters from examples/gen-cluster.rs:
#   1. `svcc check` and `svcc compile --target nft|dns` (and `iptables` when svcc has that
#      target): wall time, CPU time and peak RSS (/usr/bin/time), median of --runs runs; the
#      YAML loading throughput (the `load, decode, check objects` stage of SVCC_TIMINGS=1); `svcc check` of the `kind: List` layout;
#   2. kubernetes-validate 1.37.0 (pip-installed into a venv) validating the same files;
#   3. (root) `nft -f` load time of svcc's ruleset (and `iptables-restore` of the iptables
#      output when available: svcc's own iptables target, or the svcc binary given with
#      --ipt-svcc, e.g. one built from a branch that has it) in a network namespace;
#   4. (root) `svcc apply` with a state directory and the real nft in a namespace: the first
#      apply and applies of the unchanged input;
#   5. (root) first-connection latency to the first and the last Service: a client namespace
#      connects through a node namespace (the ruleset) to a server namespace that owns every
#      pod address (`ip route add local 10.128.0.0/9 dev lo`); real TCP, median of many fresh
#      connections.
# Namespaces and servers are removed on exit (also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES="1000 10000 30000"
ENDPOINTS=10
RUNS=5
KV_SIZES="1000 10000"
LAT_SIZES="100 1000 10000"
CONNECTIONS=400
OUT=docs/bench
SKIP_KV=false
SKIP_NETNS=false
IPT_SVCC=""
# Ruleset loads and `svcc apply` (each loads whole rulesets into the kernel).
DATAPLANE_SIZES="1000 10000"
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) SIZES=$2; shift 2 ;;
    --endpoints) ENDPOINTS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --kv-sizes) KV_SIZES=$2; shift 2 ;;
    --latency-sizes) LAT_SIZES=$2; shift 2 ;;
    --connections) CONNECTIONS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --skip-kv) SKIP_KV=true; shift ;;
    --skip-netns) SKIP_NETNS=true; shift ;;
    --ipt-svcc) IPT_SVCC=$2; shift 2 ;;
    --dataplane-sizes) DATAPLANE_SIZES=$2; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "scale.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
command -v gnuplot >/dev/null || echo "scale.sh: gnuplot not found (apt-get install gnuplot-nox): no plots" >&2

echo "== building (release)"
cargo build --release --quiet --bin svcc --example gen-cluster
SVCC=$CARGO_TARGET_DIR/release/svcc
GEN=$CARGO_TARGET_DIR/release/examples/gen-cluster
# The iptables target: svcc's own, else the binary of --ipt-svcc (used only for the dataplane
# comparisons, never for svcc's compile times).
HAS_IPT=false; SVCC_IPT_TIMES=false
if "$SVCC" compile --help 2>/dev/null | grep -q -- '- iptables'; then
  HAS_IPT=true; SVCC_IPT_TIMES=true; IPT_SVCC=$SVCC
elif [ -n "$IPT_SVCC" ]; then
  "$IPT_SVCC" compile --help 2>/dev/null | grep -q -- '- iptables' || { echo "scale.sh: $IPT_SVCC has no iptables target" >&2; exit 2; }
  HAS_IPT=true
fi

WORK=$(mktemp -d /tmp/svcc-bench.XXXXXX)
NS_PREFIX="svcc-bench-$$"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$NS_PREFIX-" || true); do
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$OUT"
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1e6 }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.4g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# --- the machine -------------------------------------------------------------------------------
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "memory: $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel: $(uname -sr)"
  echo "rustc: $(rustc --version)"
  echo "nft: $(nft --version 2>/dev/null || echo none)"
  echo "iptables: $(iptables -V 2>/dev/null || echo none)"
  echo "svcc: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo '+changes')"
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt"

# --- clusters ----------------------------------------------------------------------------------
ALL_SIZES=$(echo $SIZES $KV_SIZES $LAT_SIZES $DATAPLANE_SIZES | tr ' ' '\n' | sort -nu | tr '\n' ' ')
for n in $ALL_SIZES; do
  "$GEN" --services "$n" --endpoints "$ENDPOINTS" --out "$WORK/c$n.yaml" > "$WORK/c$n.summary"
  # Every generated cluster must check clean: zero errors (and here, zero findings at all).
  out=$("$SVCC" check --color never "$WORK/c$n.yaml" 2>&1) || { echo "$out" >&2; echo "scale.sh: the $n-Service cluster does not check clean" >&2; exit 1; }
  case "$out" in *"no problems found"*) ;; *) echo "$out" >&2; echo "scale.sh: findings in the $n-Service cluster" >&2; exit 1 ;; esac
  echo "generated $n Services: $(grep -E '^(endpoints|bytes)=' "$WORK/c$n.summary" | tr '\n' ' ')"
done
for n in $SIZES; do
  "$GEN" --services "$n" --endpoints "$ENDPOINTS" --list --out "$WORK/l$n.yaml" > /dev/null
done

# Runs `$@` (the first argument is the number of runs); sets W (wall s), R (peak RSS MB) and
# C (user + system CPU s), each the median over the runs. Fails the script when a run fails.
measure() {
  local runs=$1; shift
  local walls="" rsss="" cpus=""
  for _ in $(seq "$runs"); do
    "$TIME" -f "%e %M %U %S" -o "$WORK/time" "$@" > /dev/null 2> "$WORK/stderr" || {
      cat "$WORK/stderr" >&2; echo "scale.sh: failed: $*" >&2; exit 1; }
    read -r w r u s < <(tail -n1 "$WORK/time")
    walls+="$w"$'\n'; rsss+="$(awk -v k="$r" 'BEGIN { printf "%.1f", k / 1024 }')"$'\n'
    cpus+="$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"$'\n'
  done
  W=$(printf %s "$walls" | median); R=$(printf %s "$rsss" | median); C=$(printf %s "$cpus" | median)
}

# --- 1. svcc -----------------------------------------------------------------------------------
echo "tool,operation,layout,services,endpoints,input_mb,runs,wall_s,rss_mb,cpu_s" > "$OUT/scale.csv"
echo "services,layout,input_mb,load_ms,mb_per_s" > "$OUT/load.csv"
TARGETS="nft dns"; $SVCC_IPT_TIMES && TARGETS="$TARGETS iptables"
for n in $SIZES; do
  f=$WORK/c$n.yaml; bytes=$(stat -c %s "$f"); eps=$(sed -n 's/^endpoints=//p' "$WORK/c$n.summary")
  echo "== svcc, $n Services ($(mb "$bytes") MB)"
  measure "$RUNS" "$SVCC" check "$f"; w=$W; r=$R; c=$C
  echo "svcc,check,stream,$n,$eps,$(mb "$bytes"),$RUNS,$w,$r,$c" >> "$OUT/scale.csv"
  echo "  check: $w s, $r MB, cpu $c s"
  for t in $TARGETS; do
    measure "$RUNS" "$SVCC" compile --target "$t" "$f"; w=$W; r=$R; c=$C
    echo "svcc,compile $t,stream,$n,$eps,$(mb "$bytes"),$RUNS,$w,$r,$c" >> "$OUT/scale.csv"
    echo "  compile --target $t: $w s, $r MB, cpu $c s"
  done
  lf=$WORK/l$n.yaml; lbytes=$(stat -c %s "$lf")
  measure "$RUNS" "$SVCC" check "$lf"; w=$W; r=$R; c=$C
  echo "svcc,check,list,$n,$eps,$(mb "$lbytes"),$RUNS,$w,$r,$c" >> "$OUT/scale.csv"
  echo "  check (kind: List, $(mb "$lbytes") MB): $w s, $r MB, cpu $c s"
  for layout in stream list; do
    [ $layout = stream ] && file=$f || file=$lf
    # Reading, parsing, decoding and the per-object checks run as one stage, on both cores.
    ms=$(for _ in $(seq "$RUNS"); do SVCC_TIMINGS=1 "$SVCC" check --format short "$file" 2>&1 >/dev/null |
      sed -n 's/^svcc: timing: load, decode, check objects \([0-9.]*\) ms$/\1/p'; done | median)
    size=$(stat -c %s "$file")
    echo "$n,$layout,$(mb "$size"),$ms,$(awk -v b="$size" -v ms="$ms" 'BEGIN { printf "%.1f", b / 1e3 / ms }')" >> "$OUT/load.csv"
    echo "  load ($layout): $ms ms"
  done
done

# --- 2. kubernetes-validate --------------------------------------------------------------------
if ! $SKIP_KV; then
  VENV=${SVCC_BENCH_VENV:-$HOME/.cache/svcc-bench/venv}
  if ! "$VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -q '1\.37\.0'; then
    echo "== installing kubernetes-validate 1.37.0 into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet kubernetes-validate==1.37.0
  fi
  for n in $KV_SIZES; do
    f=$WORK/c$n.yaml; bytes=$(stat -c %s "$f"); eps=$(sed -n 's/^endpoints=//p' "$WORK/c$n.summary")
    echo "== kubernetes-validate, $n Services (one run)"
    measure 1 "$VENV/bin/kubernetes-validate" --strict --quiet -k 1.37.0 "$f"; w=$W; r=$R; c=$C
    echo "kubernetes-validate,validate,stream,$n,$eps,$(mb "$bytes"),1,$w,$r,$c" >> "$OUT/scale.csv"
    echo "  $w s, $r MB"
  done
fi

# --- 3-5. the dataplane (root, ip, nft) --------------------------------------------------------
can_netns() {
  [ "$(id -u)" = 0 ] && command -v ip >/dev/null && command -v nft >/dev/null || return 1
  ip netns add "$NS_PREFIX-probe" 2>/dev/null || return 1
  ip netns del "$NS_PREFIX-probe"
}
if ! $SKIP_NETNS && can_netns; then
  ns() { ip netns add "$NS_PREFIX-$1"; ip -n "$NS_PREFIX-$1" link set lo up; }
  inns() { local n=$1; shift; ip netns exec "$NS_PREFIX-$n" "$@"; }

  LOAD_RUNS=$(( RUNS < 3 ? RUNS : 3 ))
  echo "== ruleset load times (median of $LOAD_RUNS)"
  ns load
  echo "target,services,ruleset_mb,runs,wall_s" > "$OUT/ruleset-load.csv"
  for n in $DATAPLANE_SIZES; do
    "$SVCC" compile --target nft "$WORK/c$n.yaml" > "$WORK/r$n.nft"
    measure "$LOAD_RUNS" ip netns exec "$NS_PREFIX-load" nft -f "$WORK/r$n.nft"; w=$W
    echo "nft,$n,$(mb "$(stat -c %s "$WORK/r$n.nft")"),$LOAD_RUNS,$w" >> "$OUT/ruleset-load.csv"
    echo "  nft -f, $n Services: $w s"
    if $HAS_IPT; then
      "$IPT_SVCC" compile --target iptables "$WORK/c$n.yaml" > "$WORK/r$n.ipt"
      measure "$LOAD_RUNS" ip netns exec "$NS_PREFIX-load" iptables-restore "$WORK/r$n.ipt"; w=$W
      echo "iptables,$n,$(mb "$(stat -c %s "$WORK/r$n.ipt")"),$LOAD_RUNS,$w" >> "$OUT/ruleset-load.csv"
      echo "  iptables-restore, $n Services: $w s"
    fi
  done
  ip netns del "$NS_PREFIX-load"

  # client 172.31.0.2 ── 172.31.0.1 node 172.31.1.1 ── 172.31.1.2 server (owns 10.128.0.0/9)
  ns client; ns node; ns server
  ip -n "$NS_PREFIX-node" link add to-client type veth peer name eth0 netns "$NS_PREFIX-client"
  ip -n "$NS_PREFIX-node" link add to-server type veth peer name eth0 netns "$NS_PREFIX-server"
  ip -n "$NS_PREFIX-node" addr add 172.31.0.1/24 dev to-client
  ip -n "$NS_PREFIX-node" addr add 172.31.1.1/24 dev to-server
  ip -n "$NS_PREFIX-node" link set to-client up
  ip -n "$NS_PREFIX-node" link set to-server up
  ip -n "$NS_PREFIX-node" route add 10.128.0.0/9 via 172.31.1.2
  inns node sysctl -qw net.ipv4.ip_forward=1
  ip -n "$NS_PREFIX-client" addr add 172.31.0.2/24 dev eth0
  ip -n "$NS_PREFIX-client" link set eth0 up
  ip -n "$NS_PREFIX-client" route add 10.96.0.0/12 via 172.31.0.1
  ip -n "$NS_PREFIX-client" route add 10.128.0.0/9 via 172.31.0.1
  ip -n "$NS_PREFIX-server" addr add 172.31.1.2/24 dev eth0
  ip -n "$NS_PREFIX-server" link set eth0 up
  ip -n "$NS_PREFIX-server" route add default via 172.31.1.1
  ip -n "$NS_PREFIX-server" route add local 10.128.0.0/9 dev lo
  # Every container port the generator uses (TCP).
  coproc SERVER { ip netns exec "$NS_PREFIX-server" python3 benches/latency.py serve 8080 8443 9090 9100 6379 5432; }
  read -r -t 10 ready <&"${SERVER[0]}" && [ "$ready" = ready ] || { echo "scale.sh: the server did not start" >&2; exit 1; }

  echo "== svcc apply (state dir, real nft in the node namespace)"
  echo "services,first_apply_s,unchanged_apply_s,runs" > "$OUT/apply.csv"
  for n in $DATAPLANE_SIZES; do
    state=$WORK/state-$n
    measure 1 ip netns exec "$NS_PREFIX-node" "$SVCC" apply --state-dir "$state" "$WORK/c$n.yaml"; first=$W
    measure "$LOAD_RUNS" ip netns exec "$NS_PREFIX-node" "$SVCC" apply --state-dir "$state" "$WORK/c$n.yaml"; again=$W
    grep -q "no change" "$WORK/stderr" || { cat "$WORK/stderr" >&2; echo "scale.sh: the unchanged apply changed something" >&2; exit 1; }
    echo "$n,$first,$again,$LOAD_RUNS" >> "$OUT/apply.csv"
    echo "  $n Services: first apply $first s, unchanged $again s"
  done
  inns node nft flush ruleset

  echo "== first-connection latency ($CONNECTIONS connections per target)"
  echo "target,services,service,ok,errors,connect_median_us,connect_p90_us,exchange_median_us,exchange_p90_us" > "$OUT/latency.csv"
  probe() { # target services NAME=IP:PORT...
    local target=$1 services=$2; shift 2
    inns client python3 benches/latency.py probe "$CONNECTIONS" "$@" > "$WORK/probe.json"
    python3 - "$target" "$services" "$WORK/probe.json" >> "$OUT/latency.csv" <<'EOF'
import json, sys
target, services, path = sys.argv[1:]
for name, r in json.load(open(path)).items():
    if r["errors"]:
        sys.exit(f"{target} {services} {name}: {r['errors']} failed connections {r['error_kinds']}")
    print(",".join(str(x) for x in [target, services, name, r["ok"], r["errors"], r["connect_median_us"],
                                    r["connect_p90_us"], r["exchange_median_us"], r["exchange_p90_us"]]))
EOF
    tail -n "$#" "$OUT/latency.csv" | sed 's/^/  /'
  }
  # Baseline: straight to a pod address, no ruleset.
  probe none 0 pod=10.128.0.2:8080
  LAT_TARGETS=nft; $HAS_IPT && LAT_TARGETS="nft iptables"
  for n in $LAT_SIZES; do
    first=$(sed -n 's/^first=[^ ]* //p' "$WORK/c$n.summary")
    last=$(sed -n 's/^last=[^ ]* //p' "$WORK/c$n.summary")
    for t in $LAT_TARGETS; do
      inns node nft flush ruleset
      if [ "$t" = nft ]; then
        "$SVCC" compile --target nft --cluster-cidr 10.128.0.0/9 "$WORK/c$n.yaml" | inns node nft -f -
      else
        "$IPT_SVCC" compile --target iptables --cluster-cidr 10.128.0.0/9 "$WORK/c$n.yaml" | inns node iptables-restore
      fi
      probe "$t" "$n" "first=$first" "last=$last"
    done
  done
else
  echo "== skipping the dataplane benchmarks (need root, ip, nft and network namespaces)"
fi

# --- plots and summary -------------------------------------------------------------------------
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
if command -v gnuplot >/dev/null; then
  benches/plots.sh "$OUT"
fi
python3 benches/summary.py "$OUT" > "$OUT/results.md"
echo "== wrote $OUT/results.md"
cat "$OUT/results.md"

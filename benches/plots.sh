#!/usr/bin/env bash
# Draws the SVG plots of BENCHMARKS.md from the CSV files benches/scale.sh wrote:
#   benches/plots.sh [DIR]   (default docs/bench; PLOT_FORMAT=png for PNG instead of SVG)
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${1:-docs/bench}
EXT=${PLOT_FORMAT:-svg}
case "$EXT" in
  svg) TERMINAL='svg size 760,460 font "sans,12" background "white"' ;;
  png) TERMINAL='pngcairo size 760,460 font "sans,10" background "white"' ;;
  *) echo "plots.sh: PLOT_FORMAT is svg or png" >&2; exit 2 ;;
esac
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

# series FILE TOOL OPERATION LAYOUT COLUMN: "services value" lines from scale.csv.
series() {
  awk -F, -v tool="$2" -v op="$3" -v layout="$4" -v col="$5" \
    'NR > 1 && $1 == tool && $2 == op && $3 == layout { print $4, $col }' "$1" | sort -n
}
plot_scale() { # COLUMN YLABEL OUTPUT TITLE
  local col=$1 ylabel=$2 out=$3 title=$4 plots="" n=0
  for s in "svcc|check|stream|svcc check" "svcc|check|list|svcc check (kind: List)" \
           "svcc|compile nft|stream|svcc compile --target nft" \
           "svcc|compile dns|stream|svcc compile --target dns" \
           "svcc|compile iptables|stream|svcc compile --target iptables" \
           "kubernetes-validate|validate|stream|kubernetes-validate 1.37.0 --strict"; do
    IFS='|' read -r tool op layout label <<< "$s"
    series "$DIR/scale.csv" "$tool" "$op" "$layout" "$col" > "$TMP/s$n.dat"
    if [ -s "$TMP/s$n.dat" ]; then
      plots+="${plots:+, }'$TMP/s$n.dat' using 1:2 with linespoints lw 2 pt 7 title '$label'"
    fi
    n=$((n + 1))
  done
  gnuplot <<GP
set terminal $TERMINAL
set output "$out"
set title "$title"
set logscale xy
set xlabel "Services (10 endpoints each)"
set ylabel "$ylabel"
set grid
set key bottom right
set format y "%g"
plot $plots
GP
}
plot_scale 8 "wall time (s)" "$DIR/time.$EXT" "Wall time against cluster size"
plot_scale 9 "peak RSS (MB)" "$DIR/memory.$EXT" "Peak memory against cluster size"

if [ -f "$DIR/latency.csv" ]; then
  plots=""; n=0
  base=$(awk -F, 'NR > 1 && $1 == "none" { print $6 }' "$DIR/latency.csv")
  for t in nft iptables; do
    for which in first last; do
      awk -F, -v t=$t -v w=$which 'NR > 1 && $1 == t && $3 == w { print $2, $6, $7 }' \
        "$DIR/latency.csv" | sort -n > "$TMP/l$n.dat"
      if [ -s "$TMP/l$n.dat" ]; then
        plots+="${plots:+, }'$TMP/l$n.dat' using 1:2 with linespoints lw 2 pt 7 title '$t, $which Service (median)'"
        plots+=", '$TMP/l$n.dat' using 1:3 with lines dt 2 notitle"
      fi
      n=$((n + 1))
    done
  done
  if [ -n "$base" ]; then
    plots+=", $base with lines lw 1 lc rgb 'gray' title 'no ruleset, straight to the pod (median)'"
  fi
  gnuplot <<GP
set terminal $TERMINAL
set output "$DIR/latency.$EXT"
set title "TCP connection setup through the node (median; dashed: 90th percentile)"
set logscale x
set xlabel "Services in the ruleset (10 endpoints each)"
set ylabel "connect() time (µs)"
set yrange [0:*]
set grid
set key bottom right
plot $plots
GP
fi
echo "plots: $DIR/time.$EXT $DIR/memory.$EXT $([ -f "$DIR/latency.$EXT" ] && echo "$DIR/latency.$EXT")"

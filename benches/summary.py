"""Markdown tables and the target verdicts from the CSV files of benches/scale.sh.

Usage: python3 benches/summary.py DIR   (prints Markdown on standard output)
"""
import csv
import os
import sys

DIR = sys.argv[1] if len(sys.argv) > 1 else "docs/bench"


def rows(name):
    path = os.path.join(DIR, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def table(header, body):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in body]
    return "\n".join(out)


scale = rows("scale.csv")
load = rows("load.csv")
rload = rows("ruleset-load.csv")
apply_ = rows("apply.csv")
lat = rows("latency.csv")


def find(tool, op, layout, services):
    for r in scale:
        if (r["tool"], r["operation"], r["layout"], r["services"]) == (tool, op, layout, str(services)):
            return r
    return None


print("### svcc, whole process (median of %s runs)\n" % (scale[0]["runs"] if scale else "?"))
ops = []
for r in scale:
    if r["tool"] == "svcc" and (r["operation"], r["layout"]) not in ops:
        ops.append((r["operation"], r["layout"]))
body = []
for op, layout in ops:
    for r in scale:
        if r["tool"] == "svcc" and (r["operation"], r["layout"]) == (op, layout):
            label = f"`svcc {op}`" + (" (`kind: List`)" if layout == "list" else "")
            cpu = num(r["cpu_s"]) / max(num(r["wall_s"]), 1e-9)
            body.append([label, f'{int(r["services"]):,}', f'{int(r["endpoints"]):,}', r["input_mb"],
                         r["wall_s"], r["rss_mb"], f'{r["cpu_s"]} ({cpu:.2f} cores)'])
print(table(["command", "Services", "endpoints", "input MB", "wall s", "peak RSS MB", "CPU s"], body))

if load:
    print("\n### YAML loading (read, parse, decode and per-object checks: the first stage of "
          "`SVCC_TIMINGS=1 svcc check`, median)\n")
    print(table(["Services", "layout", "input MB", "load ms", "MB/s"],
                [[f'{int(r["services"]):,}', r["layout"], r["input_mb"], r["load_ms"], r["mb_per_s"]] for r in load]))

kv = [r for r in scale if r["tool"] == "kubernetes-validate"]
if kv:
    print("\n### svcc check against kubernetes-validate 1.37.0 `--strict` (same files)\n")
    body = []
    for r in kv:
        s = find("svcc", "check", "stream", r["services"])
        ratio = num(r["wall_s"]) / num(s["wall_s"]) if s else None
        body.append([f'{int(r["services"]):,}', r["input_mb"], r["wall_s"], r["rss_mb"],
                     s["wall_s"] if s else "-", s["rss_mb"] if s else "-",
                     f"{ratio:,.0f}×" if ratio else "-"])
    print(table(["Services", "input MB", "kubernetes-validate s", "its peak RSS MB", "svcc check s",
                 "svcc peak RSS MB", "svcc is faster by"], body))

if rload:
    print("\n### Loading the ruleset into the kernel (in a network namespace, median)\n")
    print(table(["tool", "Services", "ruleset MB", "wall s"],
                [[("`nft -f`" if r["target"] == "nft" else "`iptables-restore`"), f'{int(r["services"]):,}',
                  r["ruleset_mb"], r["wall_s"]] for r in rload]))

if apply_:
    print("\n### `svcc apply` with a state directory and the real nft (in a namespace)\n")
    print(table(["Services", "first apply s", "unchanged input s (median)"],
                [[f'{int(r["services"]):,}', r["first_apply_s"], r["unchanged_apply_s"]] for r in apply_]))

if lat:
    print("\n### First-connection latency, client → node (ruleset) → server namespaces\n")
    print(table(["ruleset", "Services", "Service", "connections", "connect median µs", "connect p90 µs",
                 "exchange median µs", "exchange p90 µs"],
                [[r["target"], f'{int(r["services"]):,}', r["service"], r["ok"], r["connect_median_us"],
                  r["connect_p90_us"], r["exchange_median_us"], r["exchange_p90_us"]] for r in lat]))

# Targets.
verdicts = []


def verdict(name, value, ok):
    verdicts.append([name, value, "met" if ok else ("**missed**" if ok is not None else "not measured")])


for op in ["check", "compile nft"]:
    r = find("svcc", op, "stream", 10000)
    if r:
        verdict(f"10k Services: `svcc {op}` ≤ 1 s", f'{r["wall_s"]} s', num(r["wall_s"]) <= 1.0)
        verdict(f"10k Services: `svcc {op}` ≤ 300 MB", f'{r["rss_mb"]} MB', num(r["rss_mb"]) <= 300)
    big, small = find("svcc", op, "stream", 30000), find("svcc", op, "stream", 10000)
    if big and small:
        ratio = num(big["wall_s"]) / num(small["wall_s"])
        verdict(f"`svcc {op}`: 30k ≤ 3.3 × 10k", f"{ratio:.2f} ×", ratio <= 3.3)
for r in kv:
    s = find("svcc", "check", "stream", r["services"])
    if s:
        ratio = num(r["wall_s"]) / num(s["wall_s"])
        verdict(f'{int(r["services"]):,} Services: ≥ 100 × faster than kubernetes-validate', f"{ratio:,.0f} ×", ratio >= 100)
for r in load:
    if r["services"] == "10000":
        verdict(f'YAML loading ≥ 50 MB/s ({r["layout"]} layout, 10k)', f'{r["mb_per_s"]} MB/s', num(r["mb_per_s"]) >= 50)


def lat_at(target, services, service):
    for r in lat:
        if (r["target"], r["services"], r["service"]) == (target, str(services), service):
            return num(r["connect_median_us"])
    return None


a, b = lat_at("nft", 100, "last"), lat_at("nft", 10000, "last")
if a and b:
    verdict("nft: latency to the last of 10k Services ≤ 1.5 × at 100", f"{b / a:.2f} × ({b:.0f} µs vs {a:.0f} µs)", b / a <= 1.5)
a, b = lat_at("iptables", 100, "last"), lat_at("iptables", 10000, "last")
if a and b:
    verdicts.append(["iptables, for comparison (no target): latency to the last of 10k Services against 100",
                     f"{b / a:.2f} × ({b:.0f} µs vs {a:.0f} µs)", "—"])
for r in apply_:
    if r["services"] == "10000":
        verdict("`svcc apply`, unchanged 10k input ≤ 1 s", f'{r["unchanged_apply_s"]} s', num(r["unchanged_apply_s"]) <= 1.0)

print("\n### Targets\n")
print(table(["target", "measured", "verdict"], verdicts))

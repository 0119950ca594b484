"""Connection latency through a Service, for benches/scale.sh (runs inside network namespaces).

  latency.py serve PORT...
      Accepts TCP connections on 0.0.0.0:PORT (every address routed to this namespace, with
      `ip route add local PREFIX dev lo`), answers each with one line and closes it. Prints
      `ready` once listening; exits when standard input closes or after 15 minutes.

  latency.py probe COUNT NAME=IP:PORT...
      Opens COUNT fresh TCP connections to each target, in rounds that alternate between the
      targets (so drift in the machine's load affects them alike). Each connection is new to
      conntrack, so its first packet goes through the whole ruleset. Prints one JSON object:
      for each target the connection-setup times (connect() until the handshake completes) and
      the exchange times (connect, read the answer, close) in microseconds, and the failures.
      Each attempt is bounded by 2 s and the whole run by 120 s.
"""
import json
import os
import selectors
import socket
import statistics
import sys
import threading
import time

ATTEMPT_SECS = 2.0
RUN_SECS = 120.0
LIFETIME_SECS = 900.0


def serve(ports):
    sel = selectors.DefaultSelector()
    for port in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(1024)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)

    def watchdog():
        threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
        time.sleep(LIFETIME_SECS)
        os._exit(0)

    threading.Thread(target=watchdog, daemon=True).start()
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            try:
                conn, peer = key.fileobj.accept()
                conn.sendall(b"%s\n" % conn.getsockname()[0].encode())
                conn.close()
            except OSError:
                pass


def attempt(host, port):
    t0 = time.perf_counter()
    with socket.create_connection((host, port), timeout=ATTEMPT_SECS) as s:
        t1 = time.perf_counter()
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(64)
            if not chunk:
                break
            data += chunk
    t2 = time.perf_counter()
    if not data:
        raise OSError("empty answer")
    return (t1 - t0) * 1e6, (t2 - t0) * 1e6


def probe(count, targets):
    deadline = time.monotonic() + RUN_SECS
    results = {name: {"connect_us": [], "exchange_us": [], "errors": []} for name, _, _ in targets}
    rounds = 10
    per_round = max(1, count // rounds)
    done = 0
    while done < count and time.monotonic() < deadline:
        n = min(per_round, count - done)
        for name, host, port in targets:
            for _ in range(n):
                try:
                    c, e = attempt(host, port)
                    results[name]["connect_us"].append(c)
                    results[name]["exchange_us"].append(e)
                except Exception as exc:  # a failure is a result
                    results[name]["errors"].append(type(exc).__name__)
        done += n
    out = {}
    for name, r in results.items():
        c, e = sorted(r["connect_us"]), sorted(r["exchange_us"])
        pick = lambda xs, q: round(xs[min(len(xs) - 1, int(q * len(xs)))], 1) if xs else None
        out[name] = {
            "ok": len(c),
            "errors": len(r["errors"]),
            "error_kinds": sorted(set(r["errors"])),
            "connect_median_us": round(statistics.median(c), 1) if c else None,
            "connect_p90_us": pick(c, 0.9),
            "exchange_median_us": round(statistics.median(e), 1) if e else None,
            "exchange_p90_us": pick(e, 0.9),
        }
    print(json.dumps(out))


def main():
    if sys.argv[1] == "serve":
        serve(sys.argv[2:])
    elif sys.argv[1] == "probe":
        targets = []
        for arg in sys.argv[3:]:
            name, _, addr = arg.partition("=")
            host, _, port = addr.rpartition(":")
            targets.append((name, host, int(port)))
        probe(int(sys.argv[2]), targets)
    else:
        sys.exit("usage: latency.py serve PORT... | probe COUNT NAME=IP:PORT...")


main()

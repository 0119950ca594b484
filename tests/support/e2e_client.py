"""Client for the e2e traffic tests (run inside the client network namespace).

Usage: e2e_client.py tcp|udp HOST PORT COUNT [--source ADDR] [--timeout SECS] [--deadline SECS]

Makes COUNT fresh connections (TCP) or exchanges (UDP, a new socket each time, so each is a new
conntrack entry) one after the other and prints one JSON object: for each attempt either
{"answer": "<endpoint ip:port>", "peer": "<source address the endpoint saw>", "secs": t} or
{"error": "refused"|"timeout"|"unreachable"|"reset"|"<other>", "secs": t}. Each attempt is bounded
by --timeout (default 2 s); the whole run by --deadline (default 30 s), after which the rest are
not attempted and "stopped_early" is true.
"""
import errno
import json
import socket
import sys
import time


def classify(exc):
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, OSError) and exc.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return "unreachable"
    return f"{type(exc).__name__}: {exc}"


def attempt(proto, host, port, source, timeout):
    if proto == "tcp":
        src = (source, 0) if source else None
        with socket.create_connection((host, port), timeout=timeout, source_address=src) as s:
            data = b""
            while not data.endswith(b"\n"):
                chunk = s.recv(256)
                if not chunk:
                    break
                data += chunk
    else:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(timeout)
            if source:
                s.bind((source, 0))
            s.connect((host, port))
            s.send(b"who\n")
            data = s.recv(256)
    answer, _, peer = data.decode().strip().partition(" ")
    if not answer:
        raise OSError("empty answer")
    return {"answer": answer, "peer": peer}


def main():
    proto, host, port, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    opts = dict(zip(sys.argv[5::2], sys.argv[6::2]))
    source = opts.get("--source")
    timeout = float(opts.get("--timeout", "2"))
    deadline = time.monotonic() + float(opts.get("--deadline", "30"))
    results = []
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        start = time.monotonic()
        try:
            result = attempt(proto, host, port, source, timeout)
        except Exception as exc:  # every failure is data for the test
            result = {"error": classify(exc)}
        result["secs"] = round(time.monotonic() - start, 4)
        results.append(result)
    print(json.dumps({"results": results, "stopped_early": len(results) < count}))


main()

"""Endpoint server for the e2e traffic tests (run inside a pod network namespace).

Usage: e2e_server.py ADDRESS PORT[/tcp|/udp]... (both protocols when no suffix)

Answers every TCP connection and every UDP datagram with one line, `<local ip:port> <peer ip>`,
so the client learns which endpoint answered and which source address the endpoint saw.
Prints `ready` once every socket is bound. Exits when its standard input closes (the test that
started it is gone) or after a hard lifetime limit, whichever comes first.
"""
import os
import selectors
import socket
import sys
import threading
import time

LIFETIME_SECS = 600


def identity(sock, peer):
    host, port = sock.getsockname()[:2]
    return f"{host}:{port} {peer[0]}\n".encode()


def watchdog():
    # Ends the server when the test's end of the pipe closes, or when the lifetime is over.
    deadline = time.monotonic() + LIFETIME_SECS
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while time.monotonic() < deadline:
        time.sleep(1)
    os._exit(0)


def main():
    sel = selectors.DefaultSelector()
    address = sys.argv[1]
    for arg in sys.argv[2:]:
        port, _, proto = arg.partition("/")
        for p in [proto] if proto else ["tcp", "udp"]:
            kind = socket.SOCK_STREAM if p == "tcp" else socket.SOCK_DGRAM
            s = socket.socket(socket.AF_INET, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((address, int(port)))
            if p == "tcp":
                s.listen(128)
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, p)
    threading.Thread(target=watchdog, daemon=True).start()
    print("ready", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            try:
                if key.data == "tcp":
                    conn, peer = s.accept()
                    conn.setblocking(True)
                    conn.settimeout(2)
                    conn.sendall(identity(conn, peer))
                    conn.close()
                else:
                    _, peer = s.recvfrom(2048)
                    s.sendto(identity(s, peer), peer)
            except OSError:
                pass


main()

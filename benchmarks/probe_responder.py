"""The one local responder process for benchmarks/probe_rate.py.

Listens on ADDRS x PORTS targets on 127.0.0.0/8 (one listening socket each)
with a bare epoll loop, and per connection:
  rdp     reads the X.224 Connection Request, answers a valid 19-byte
          Connection Confirm (RDP_NEG_RSP, PROTOCOL_RDP selected), closes;
  connect waits for the client's close, closes;
  silent  never accepts: the kernel completes handshakes into the accept
          queue, so clients connect, send, and wait forever.
Prints "ready" once every listener is bound; runs until killed.

    python benchmarks/probe_responder.py rdp --base 127.10.0.1 --addrs 100 --ports 100 \
        --first-port 20000 [--cpu 1]
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import ipaddress
import os
import resource
import select
import socket
import sys
import time

CC_RDP = bytes.fromhex("030000130ed000001234000201080000000000")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=("rdp", "connect", "silent"))
    ap.add_argument("--base", default="127.10.0.1")
    ap.add_argument("--addrs", type=int, default=100)
    ap.add_argument("--ports", type=int, default=100)
    ap.add_argument("--first-port", type=int, default=20000)
    ap.add_argument("--cpu", type=int)
    ap.add_argument("--delay-ms", type=float, default=0.0, help="rdp: answer this much later")
    args = ap.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = args.addrs * args.ports + 5000  # listeners + connections being answered
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, want), hard), hard))

    ep = select.epoll()
    listeners: dict[int, socket.socket] = {}
    base = ipaddress.ip_address(args.base)
    for a in range(args.addrs):
        for p in range(args.ports):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((str(base + a), args.first_port + p))
            sock.listen(4096)
            sock.setblocking(False)
            listeners[sock.fileno()] = sock
            if args.mode != "silent":
                ep.register(sock.fileno(), select.EPOLLIN)
    print("ready", flush=True)

    conns: dict[int, socket.socket] = {}
    mode = args.mode
    delay = args.delay_ms / 1000
    due: list[tuple[float, int]] = []  # (when, fd) answers held back by --delay-ms
    while True:
        now = time.monotonic()
        while due and due[0][0] <= now:
            _, fd = heapq.heappop(due)
            conn = conns.pop(fd)
            with contextlib.suppress(OSError):
                conn.send(CC_RDP)
            conn.close()
        timeout = max(0.0, due[0][0] - now) if due else -1
        for fd, _events in ep.poll(timeout):
            listener = listeners.get(fd)
            if listener is not None:
                while True:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError as exc:  # EMFILE and friends: report, keep serving
                        print(f"accept: {exc}", file=sys.stderr, flush=True)
                        break
                    conn.setblocking(False)
                    conns[conn.fileno()] = conn
                    ep.register(conn.fileno(), select.EPOLLIN)
                continue
            ep.unregister(fd)
            conn = conns[fd]
            try:
                data = conn.recv(1024)
            except OSError:
                data = b""
            if data and mode == "rdp" and delay:
                heapq.heappush(due, (time.monotonic() + delay, fd))
                continue
            del conns[fd]
            if data and mode == "rdp":
                with contextlib.suppress(OSError):
                    conn.send(CC_RDP)
            conn.close()


if __name__ == "__main__":
    main()

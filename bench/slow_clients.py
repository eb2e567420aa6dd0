"""Slow-client attack on a running server: is /healthz still answered on a fresh connection?

Opens COUNT connections to the server that trickle a request's headers (one header line every
INTERVAL seconds, never finishing: slowloris), connect and send nothing (idle), or send complete
headers of a POST and then trickle its body (slowbody: one byte every INTERVAL seconds of a
100,000-byte body), then, while they are held open, times fresh `GET /healthz` requests on new
connections. Everything stays on
loopback; the attack ends by itself after DURATION seconds.

    python bench/slow_clients.py http://127.0.0.1:8080 --mode slowloris --count 200 --duration 15

Prints one line per probe and a summary; exits 1 when any probe failed or took longer than
--max-seconds (default 1 s). Used by tests/test_front_end.py and for the README's front-end table.
"""
import argparse
import socket
import sys
import threading
import time
from urllib.parse import urlsplit


OPENINGS = {
    "slowloris": b"GET /healthz HTTP/1.1\r\nHost: x\r\n",
    "idle": b"",
    "slowbody": (
        b"POST /api/v2/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n{"
    ),
}
MODES = tuple(OPENINGS)


def hold_connections(host, port, count, mode, interval, stop):
    """Open `count` sockets and keep them busy (slowloris) or silent (idle) until `stop` is set."""
    sockets = []
    for _ in range(count):
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError:
            continue  # the server refused or the backlog is full: that is the server's answer
        try:
            sock.sendall(OPENINGS[mode])
        except OSError:
            pass
        sockets.append(sock)
    line = 0
    while not stop.wait(interval):
        if mode == "idle":
            continue
        for sock in sockets:
            try:
                sock.sendall(f"X-Slow-{line}: y\r\n".encode() if mode == "slowloris" else b" ")
            except OSError:
                pass
        line += 1
    for sock in sockets:
        sock.close()
    return len(sockets)


def probe(host, port, timeout):
    """Seconds for one GET /healthz on a new connection, or None when it failed or timed out."""
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while b"\r\n" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
    except OSError:
        return None
    if not answer.startswith(b"HTTP/1.1 200"):
        return None
    return time.perf_counter() - started


def attack(url, mode="slowloris", count=200, duration=15.0, interval=5.0, probes=10, max_seconds=1.0):
    """Run the attack; return {"opened", "probes": [seconds or None], "ok"}."""
    parts = urlsplit(url)
    host, port = parts.hostname, parts.port or 80
    stop = threading.Event()
    opened = []
    holder = threading.Thread(
        target=lambda: opened.append(hold_connections(host, port, count, mode, interval, stop)), daemon=True
    )
    holder.start()
    time.sleep(min(2.0, duration / 4))  # let the connections pile up first
    results = []
    deadline = time.monotonic() + duration
    gap = max(0.1, (deadline - time.monotonic()) / max(probes, 1))
    for _ in range(probes):
        if time.monotonic() >= deadline:
            break
        results.append(probe(host, port, timeout=max(max_seconds * 5, 5)))
        time.sleep(gap)
    stop.set()
    holder.join(timeout=30)
    ok = bool(results) and all(seconds is not None and seconds < max_seconds for seconds in results)
    return {"opened": opened[0] if opened else 0, "probes": results, "ok": ok}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="base URL of the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--mode", choices=MODES, default="slowloris")
    parser.add_argument("--count", type=int, default=200, help="connections held open")
    parser.add_argument("--duration", type=float, default=15.0, help="seconds the attack lasts")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between header lines")
    parser.add_argument("--probes", type=int, default=10, help="fresh /healthz requests during the attack")
    parser.add_argument("--max-seconds", type=float, default=1.0, help="a probe slower than this fails")
    arguments = parser.parse_args(argv)
    if urlsplit(arguments.url).hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("only loopback servers may be attacked")
    result = attack(
        arguments.url, arguments.mode, arguments.count, arguments.duration, arguments.interval,
        arguments.probes, arguments.max_seconds,
    )
    for number, seconds in enumerate(result["probes"], 1):
        print(f"probe {number}: " + ("FAILED" if seconds is None else f"{seconds * 1000:.1f} ms"))
    answered = [s for s in result["probes"] if s is not None]
    worst = f"{max(answered) * 1000:.1f} ms" if answered else "n/a"
    print(
        f"{arguments.mode}: {result['opened']} connections held, {len(answered)}/{len(result['probes'])} "
        f"probes answered, slowest {worst}: {'OK' if result['ok'] else 'FAILED'}"
    )
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

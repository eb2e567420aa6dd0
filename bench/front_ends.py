"""Which WSGI server should `python app.py` run? The same wsserver app on each candidate, measured
on the slow-client attacks (bench/slow_clients.py) and on throughput (wrk), one after the other.

    python bench/front_ends.py                      all candidates, 2 workers x 8 threads
    python bench/front_ends.py --only granian,gunicorn-gthread --seconds 10

Candidates: gunicorn with gthread workers (wsserver's server before the hardening issue), gunicorn
with gevent workers, waitress (one process, threads) and granian (Rust HTTP, WSGI threads; what
`python app.py` runs now). A candidate whose package is not installed is listed as skipped
(`pip install gevent waitress gunicorn` brings the others; they are not wsserver dependencies).
Everything listens on 127.0.0.1 and every load is bounded in time.
"""
import argparse
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from slow_clients import attack  # noqa: E402
from startup import free_port  # noqa: E402

TOKEN = "wss_front-end-bench-token-0123456789abcdefghijklmnop"
WORKSPACE = "front-end-bench"
FACTORY = "wsserver:create_app()"


def candidates(workers, threads):
    """name -> (python module that must be installed, argv after `python -m`)."""
    return {
        "gunicorn-gthread": ("gunicorn", ["gunicorn", "-k", "gthread", "-w", str(workers), "--threads", str(threads),
                                          "--worker-connections", str(2 * threads), "--keep-alive", "5",
                                          "-b", "127.0.0.1:{port}", FACTORY]),
        "gunicorn-gevent": ("gevent", ["gunicorn", "-k", "gevent", "-w", str(workers), "--worker-connections", "1000",
                                       "--keep-alive", "5", "-b", "127.0.0.1:{port}", FACTORY]),
        "waitress": ("waitress", ["waitress", "--threads", str(workers * threads), "--connection-limit", "1000",
                                  "--channel-timeout", "30", "--listen", "127.0.0.1:{port}", "--call",
                                  "wsserver:create_app"]),
        "granian": ("granian", [os.path.join(ROOT, "app.py"), "--port", "{port}"]),
    }


def start(argv, port, instance, workers, threads):
    env = dict(os.environ)
    env.update({
        "WSSERVER_INSTANCE_PATH": instance, "WSSERVER_ADMIN_TOKEN": TOKEN, "WSSERVER_RATE_LIMIT": "off",
        "WSSERVER_ACCESS_LOG": "false", "WSSERVER_WORKERS": str(workers), "WSSERVER_THREADS": str(threads),
        "WSSERVER_PORT": str(port), "PYTHONPATH": ROOT,
    })
    command = [sys.executable] + ([] if argv[0].endswith(".py") else ["-m"]) + [a.format(port=port) for a in argv]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    stop(process)
    raise RuntimeError(f"{command} did not start")


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def throughput(port, seconds):
    """wrk: GET one workspace (token check, one indexed query, JSON), 32 connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return None
    output = subprocess.run(
        [wrk, "-t2", "-c32", f"-d{seconds}s", "--timeout", "5s", "-H", f"Authorization: Bearer {TOKEN}",
         f"http://127.0.0.1:{port}/api/v2/workspaces/{WORKSPACE}"],
        capture_output=True, text=True, timeout=seconds + 60,
    ).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (float(match.group(1)) if match else None), (int(errors.group(1)) if errors else 0)


ATTACKS = (("slowloris", 16), ("slowloris", 200), ("idle", 100), ("idle", 200), ("slowbody", 16))


def measure(name, argv, workers, threads, seconds, attack_seconds):
    instance = tempfile.mkdtemp(prefix=f"front-end-{name}-")
    port = free_port()
    process = start(argv, port, instance, workers, threads)
    row = {"name": name}
    try:
        created = requests.put(f"http://127.0.0.1:{port}/api/v2/workspaces/{WORKSPACE}", json={"fullname": WORKSPACE},
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
        assert created.status_code in (200, 201), created.text
        rate = throughput(port, seconds)
        row["req/s"] = f"{rate[0]:,.0f}" if rate and rate[0] else "n/a"
        for mode, count in ATTACKS:
            result = attack(f"http://127.0.0.1:{port}", mode, count, duration=attack_seconds, interval=2.0,
                            probes=5, max_seconds=1.0)
            answered = [s for s in result["probes"] if s is not None]
            slowest = f"{max(answered) * 1000:.0f} ms" if answered else "-"
            row[f"{mode} {count}"] = f"{len(answered)}/{len(result['probes'])} ({slowest})"
            time.sleep(1)  # let the server close what the attack left
            if process.poll() is not None:
                row[f"{mode} {count}"] += " server died"
                break
    finally:
        stop(process)
        shutil.rmtree(instance, ignore_errors=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10, help="wrk seconds per candidate")
    parser.add_argument("--attack-seconds", type=float, default=12.0, help="seconds per attack")
    parser.add_argument("--only", help="comma-separated candidate names")
    arguments = parser.parse_args(argv)
    table = candidates(arguments.workers, arguments.threads)
    names = arguments.only.split(",") if arguments.only else list(table)
    rows = []
    for name in names:
        module, command = table[name]
        if importlib.util.find_spec(module) is None:
            print(f"{name}: skipped ({module} is not installed)", flush=True)
            continue
        print(f"{name}: measuring ...", flush=True)
        rows.append(measure(name, command, arguments.workers, arguments.threads, arguments.seconds,
                            arguments.attack_seconds))
    columns = ["name", "req/s"] + [f"{mode} {count}" for mode, count in ATTACKS]
    print()
    print(f"{arguments.workers} workers x {arguments.threads} threads; wrk -c32 {arguments.seconds}s GET one workspace; "
          "attacks: fresh /healthz probes answered in < 1 s (slowest)")
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(row.get(column, "-")) for column in columns) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Start-up time: from launching `python app.py` to its first 200 from /healthz.

    python bench/startup.py [-n 10] [--workers 1] [--test-mode] [--seed-file FILE]

Each run starts on a fresh temporary instance folder (schema creation and the
admin bootstrap included, as a test double usually starts), on a free
loopback port; /healthz is polled every 5 ms. Prints every run, then the
minimum and the median in milliseconds.
"""
import argparse
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TIMEOUT_SECONDS = 60


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def one_start(arguments):
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="wsserver-startup-") as instance:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("WSSERVER_")}
        environment.update(
            WSSERVER_INSTANCE_PATH=instance, WSSERVER_PORT=str(port), WSSERVER_WORKERS=str(arguments.workers),
            WSSERVER_ADMIN_TOKEN="wss_startup-bench-admin-token-0123456789abcdef", WSSERVER_ACCESS_LOG="0",
        )
        if arguments.test_mode:
            environment["WSSERVER_TEST_MODE"] = "1"
        if arguments.seed_file:
            environment["WSSERVER_SEED_FILE"] = os.path.abspath(arguments.seed_file)
        started = time.perf_counter()
        root = getattr(arguments, "root", None) or ROOT
        process = subprocess.Popen(
            [sys.executable, os.path.join(root, "app.py")], cwd=root, env=environment,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            while not healthy(port):
                if process.poll() is not None:
                    raise SystemExit(f"the server exited with status {process.returncode}")
                if time.perf_counter() - started > TIMEOUT_SECONDS:
                    raise SystemExit("the server did not answer in time")
                time.sleep(0.005)
            return (time.perf_counter() - started) * 1000
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--runs", type=int, default=10, help="number of starts (default 10)")
    parser.add_argument("--workers", type=int, default=1, help="WSSERVER_WORKERS (default 1)")
    parser.add_argument("--test-mode", action="store_true", help="WSSERVER_TEST_MODE=1")
    parser.add_argument("--seed-file", help="WSSERVER_SEED_FILE")
    arguments = parser.parse_args()
    times = []
    for run in range(1, arguments.runs + 1):
        times.append(one_start(arguments))
        print(f"run {run}: {times[-1]:.0f} ms", flush=True)
    print(
        f"launch to first 200 from /healthz, {arguments.runs} runs, {arguments.workers} worker(s)"
        f"{', test mode' if arguments.test_mode else ''}{', seeded' if arguments.seed_file else ''}: "
        f"min {min(times):.0f} ms, median {statistics.median(times):.0f} ms"
    )


if __name__ == "__main__":
    main()

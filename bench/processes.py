"""Server processes the harness starts and watches (bench/run.py).

`Service` starts a server in a session of its own, waits until it answers, and stops it by
its pid (SIGTERM, then SIGKILL of its own process group). `process_tree`, `tree_rss_kib`,
`tree_pss_kib` and `tree_cpu_seconds` read a server's whole process tree (master and
workers) from /proc; `RssSampler` keeps the peak RSS of a tree during a run. `http_call`
is the one plain request the harness makes itself (answer checks, readiness).
"""
import http.client
import os
import signal
import subprocess
import threading
import time

import common
from common import SetupError

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def http_call(port, method, path, token=None, body=None, timeout=60):
    """(status, headers dict with lowercase names, body bytes) of one request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def server_env(extra, clear_wsserver=False):
    """This process's environment for a server, plus `extra`.

    The harness serves the instance it filled (SQLite), whatever database, host or port the
    calling shell names; clear_wsserver drops every WSSERVER_* setting (a server on its defaults).
    """
    dropped = ("WSSERVER_HOST", "WSSERVER_PORT", "WSSERVER_DATABASE_URL")
    env = {k: v for k, v in os.environ.items()
           if k not in dropped and not (clear_wsserver and k.startswith("WSSERVER_"))}
    env.update(extra)
    return env


class Service:
    """A server process this harness started (in its own session), stopped by its pid."""

    def __init__(self, name, argv, env, port, ready_path, log_path, cwd=None, ready_status=500):
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.ready_path, self.log_path, self.cwd = ready_path, log_path, cwd or common.ROOT
        self.ready_status = ready_status  # ready once ready_path answers a status below this
        self.process = None
        self.token = None  # a token of the server's own making, when the harness signs in (PocketBase)

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + common.READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log_file.close()
                raise SetupError(f"{self.name} exited with {self.process.returncode} at start; see {self.log_path}")
            try:
                status, _, _ = http_call(self.port, "GET", self.ready_path, timeout=5)
                if status < self.ready_status:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise SetupError(f"{self.name} did not answer within {common.READY_TIMEOUT} s; see {self.log_path}")

    def stop(self):
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # our own session: this server and its workers
            self.process.wait(timeout=10)
        self.log_file.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def process_tree(pid):
    """pid and all its descendants (from /proc/<pid>/task/*/children)."""
    pids, pending = [], [pid]
    while pending:
        current = pending.pop()
        pids.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    pending.extend(int(child) for child in handle.read().split())
        except OSError:
            continue
    return pids


def _summed(pid, path, key):
    total = 0
    for member in process_tree(pid):
        try:
            with open(path.format(member)) as handle:
                for line in handle:
                    if line.startswith(key):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def tree_rss_kib(pid):
    """Resident memory of the tree, each process's RSS summed (pages shared after fork count once per process)."""
    return _summed(pid, "/proc/{}/status", "VmRSS:")


def tree_pss_kib(pid):
    """Proportional set size of the tree (shared pages divided among their sharers), 0 where unreadable."""
    return _summed(pid, "/proc/{}/smaps_rollup", "Pss:")


def tree_cpu_seconds(pid):
    """User + system CPU time of pid and its descendants so far (from /proc/<pid>/stat)."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / CLOCK_TICKS


class RssSampler:
    """Samples the summed RSS of a process tree every 20 ms in a thread; keeps the peak."""

    def __init__(self, pid, interval=0.02):
        self.pid, self.interval = pid, interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_kib(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self.peak = tree_rss_kib(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_kib(self.pid))

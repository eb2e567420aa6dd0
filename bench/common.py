"""What every part of the benchmark harness (bench/run.py and its modules) shares.

The paths (this folder, the checkout), the systems and operations measured and what each
system is asked, one measured figure (`Row`) and how to find it among the others, the
harness's log line, the error that stops a run, and the two values the command line sets
for the whole run: `TREE` (the wsserver checkout measured, --tree) and `INSTALL_TIMEOUT`
(--install-timeout). Other modules read those two as `common.TREE` at call time.

Importing this module puts bench/ and the checkout on sys.path, so the harness's modules
import each other (and wsserver) by their plain names.
"""
import os
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
for folder in (ROOT, HERE):
    if folder not in sys.path:
        sys.path.insert(0, folder)

TREE = ROOT  # the wsserver checkout measured (run.py --tree)
INSTALL_TIMEOUT = 240  # seconds, per install command (run.py --install-timeout)
READY_TIMEOUT = 90  # seconds for a server to answer after start
AVATAR_LIMIT = 1024 * 1024

SYSTEMS = ("wsserver", "wsserver-pg", "pocketbase", "bare-flask", "json-server")
WSSERVER_SYSTEMS = ("wsserver", "wsserver-pg")  # wsserver on SQLite, on PostgreSQL
OPERATIONS = (
    ("get", "get one workspace"),
    ("list", "list one page of 20"),
    ("search", "fuzzy search"),
    ("put", "PUT upsert"),
    ("avatar", "1 MiB avatar upload"),
)
OPERATION_NAMES = dict(OPERATIONS)
SYSTEM_OPERATIONS = {
    "wsserver": ("get", "list", "search", "put", "avatar"),
    "wsserver-pg": ("get", "list", "search", "put", "avatar"),
    "bare-flask": ("get", "list", "search", "put"),
    "json-server": ("get", "list", "search", "put"),
    "pocketbase": ("get", "list", "search", "put"),
}
RATE_LIMIT_NOTE = (
    "wsserver runs with WSSERVER_RATE_LIMIT=off: its default limit (300 requests/minute per account) "
    "would answer 429 to a benchmark after its first 300 requests."
)


class SetupError(Exception):
    """Something the benchmark needs is missing and could not be installed."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


@dataclass
class Row:
    """One figure: a system answering one operation at one N (the median of the measured runs)."""

    size: int
    system: str
    operation: str
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    requests: int = 0
    cpu_ms: float = 0.0  # server CPU time (all its processes) per answered request
    non_2xx: int = 0
    socket_errors: int = 0
    check: str = ""
    load1: float = 0.0
    first_bad: str = ""
    rss: dict = field(default_factory=dict)
    runs_rps: list = field(default_factory=list)  # req/s of each measured run (the figures are the median's)

    @property
    def valid(self):
        return self.check == "ok" and self.non_2xx == 0 and self.socket_errors == 0 and self.requests > 0


def find(rows, size, system, operation):
    """The row of (size, system, operation), or None when it was not measured."""
    for row in rows:
        if (row.size, row.system, row.operation) == (size, system, operation):
            return row
    return None

"""Where wsserver's time goes: a py-spy profile of one operation, and its shares by category (--profile).

`Profiler` records the served process tree (granian's master and workers, `--subprocesses`)
with `py-spy record --format raw --full-filenames` for one measured wrk run, then writes
<output>/profile-<system>-<operation>-n<N>.txt (py-spy's collapsed stacks, one line
`frame;frame;... count` per distinct stack, each frame `function (/path/file.py:line)`) and
a summary beside it (-summary.txt) that is also printed: the shares below, then self and
inclusive time per function.

Shares. Every sample (one stack of one thread) goes to exactly one category (CATEGORIES):

1. logging, if any frame of the stack is logging's; else queries, if any frame is a query's:
   these claim everything beneath them (the JSON of a log line, the decoding of a JSON
   column, the lookup auth makes);
2. else the category of the innermost frame among auth, marshmallow dump/load and JSON encoding;
3. else the category of the innermost frame among Flask/flask-smorest/werkzeug dispatch,
   wsserver's other code and the HTTP server (so werkzeug called by a wsserver view is
   dispatch, the view's own lines are wsserver's, granian's WSGI bridge is the server);
4. else other (the standard library or packages of no category, with no categorised caller).

What a sample is: py-spy's default takes every thread it does not see as idle, so a thread
that is runnable but waiting for a CPU, or waiting for the GIL on its way back from SQLite
(which runs with the GIL released), is counted where it waits; on a busy 2-core machine that
inflates the places threads wait at. --profile-gil (py-spy --gil) samples only the thread
holding the GIL in each process: the interpreter's time, without the C time of SQLite.

Samples with no Python frame at all (threads inside granian's Rust code, or in C code with no
Python caller) are counted apart and left out of the shares: py-spy cannot tell whether such a
thread was running. Idle threads are not sampled (py-spy's default).
"""
import os
import re
import subprocess

import common
from common import log

RATE = 200  # samples per second and thread

# (key, label, tier, path patterns). A frame takes the first category with a pattern found in its file's path.
# tier 1 claims the whole stack, tier 2 is the innermost specific work, tier 3 the innermost generic code.
CATEGORIES = (
    ("logging", "logging (logging, wsserver/ops/logs.py)", 1,
     (r"(^|/)logging/", r"(^|/)wsserver/ops/logs\.py$")),
    ("queries", "queries (peewee, sqlite3, psycopg, wsserver/storage)", 1,
     (r"(^|/)peewee\.py$", r"(^|/)playhouse/", r"(^|/)sqlite3/", r"(^|/)psycopg(_pool|_c|_binary)?/",
      r"(^|/)wsserver/storage/")),
    ("auth", "auth (wsserver/http/auth.py, flask_httpauth)", 2,
     (r"(^|/)wsserver/http/auth\.py$", r"(^|/)flask_httpauth\.py$")),
    ("json", "JSON encoding (json, orjson, wsserver/http/json.py, flask.json)", 2,
     (r"(^|/)json/", r"(^|/)orjson/", r"(^|/)wsserver/http/json\.py$")),
    ("marshmallow", "marshmallow dump/load (marshmallow, webargs, schemas/, wsserver/fields.py)", 2,
     (r"(^|/)marshmallow/", r"(^|/)webargs/", r"(^|/)schemas/", r"(^|/)wsserver/fields\.py$")),
    ("server", "HTTP server (granian, the WSGI bridge)", 3,
     (r"(^|/)granian/", r"(^|/)gunicorn/", r"(^|/)wsserver/ops/serve\.py$")),
    ("dispatch", "Flask/flask-smorest/werkzeug dispatch", 3,
     (r"(^|/)flask/", r"(^|/)flask_smorest/", r"(^|/)werkzeug/", r"(^|/)flask_limiter/", r"(^|/)limits/",
      r"(^|/)flask_cors/", r"(^|/)flask_wtf/", r"(^|/)blinker/", r"(^|/)itsdangerous/")),
    ("wsserver", "wsserver's other code", 3, (r"(^|/)wsserver/", r"(^|/)app\.py$")),
)
OTHER = ("other", "other (no categorised frame)")
LABELS = dict([(key, label) for key, label, _, _ in CATEGORIES] + [OTHER])
_COMPILED = [(key, tier, re.compile("|".join(patterns))) for key, _, tier, patterns in CATEGORIES]
_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*):(?P<line>-?\d+)\)$")


def frame_category(frame):
    """(key, tier) of one py-spy frame `function (path:line)`, or (None, None)."""
    match = _FRAME.match(frame)
    path = match.group("path") if match else frame
    for key, tier, pattern in _COMPILED:
        if pattern.search(path):
            return key, tier
    return None, None


def classify(frames):
    """The category key of one stack (outermost frame first), by the precedence in this module's docstring."""
    found = [frame_category(frame) for frame in frames]
    for key, _, tier, _ in CATEGORIES:  # tier 1, in CATEGORIES' order: anywhere in the stack
        if tier == 1 and any(item[0] == key for item in found):
            return key
    for wanted in (2, 3):
        for key, tier in reversed(found):  # innermost first
            if tier == wanted:
                return key
    return OTHER[0]


def read_raw(path):
    """(frames, count) per line of py-spy's raw output; process and thread frames left out."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = [frame for frame in stack.split(";") if not frame.startswith(("process ", "thread "))]
            yield frames, int(count)


def shares(path):
    """({category key: samples}, samples with a Python frame, samples without one) of a raw profile."""
    counts = {key: 0 for key in LABELS}
    python, native = 0, 0
    for frames, count in read_raw(path):
        if not frames:
            native += count
            continue
        python += count
        counts[classify(frames)] += count
    return counts, python, native


def shares_table(path):
    """The shares as Markdown lines (category, samples, share), largest first."""
    counts, python, native = shares(path)
    lines = ["| category | samples | share |", "|---|---:|---:|"]
    for key, count in sorted(counts.items(), key=lambda item: -item[1]):
        lines.append(f"| {LABELS[key]} | {count:,} | {100 * count / max(python, 1):.1f}% |")
    lines.append(f"| all samples with a Python frame | {python:,} | 100% |")
    lines.append("")
    lines.append(f"Left out: {native:,} samples with no Python frame (granian's Rust threads, C code without a "
                 "Python caller). Precedence: logging, then queries, claim any stack they appear in; otherwise the "
                 "innermost auth/JSON/marshmallow frame decides; otherwise the innermost dispatch/wsserver/HTTP-server "
                 "frame (bench/profiling.py).")
    return lines


def short(frame):
    """`function (file)`, the path shortened to what follows site-packages/, lib/pythonX.Y/ or the checkout."""
    match = _FRAME.match(frame)
    if not match:
        return frame
    path = match.group("path")
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = re.sub(r"^.*/lib/python\d+\.\d+/", "", path)
        for root in (common.TREE, common.ROOT):
            if path.startswith(root.rstrip("/") + "/"):
                path = path[len(root.rstrip("/")) + 1:]
                break
    return f"{match.group('function')} ({path})"


def summarise_profile(path, top=25, gil=False):
    """The shares table, then self and inclusive sample counts per function (line numbers merged)."""
    own, inclusive, total = {}, {}, 0
    for frames, count in read_raw(path):
        if not frames:
            continue
        frames = [short(frame) for frame in frames]
        total += count
        own[frames[-1]] = own.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count
    taken = ("the thread holding the GIL in each process (py-spy --gil)" if gil else
             "every thread py-spy saw as not idle (runnable threads and threads waiting for the GIL included)")
    lines = [f"{total} samples with a Python frame, {RATE} per second of {taken}", "",
             "Shares by category:", "", *shares_table(path), "", "self time:"]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    lines += ["", "inclusive time:"]
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top * 2]:
        lines.append(f"  {100 * count / max(total, 1):5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


class Profiler:
    """py-spy recording a process tree for `seconds`: start(), then finish() writes and prints the summary."""

    def __init__(self, py_spy, pid, seconds, output, name, gil=False):
        self.py_spy, self.pid, self.seconds, self.gil = py_spy, pid, seconds, gil
        self.path = os.path.join(output, f"profile-{name}.txt")
        self.summary_path = os.path.join(output, f"profile-{name}-summary.txt")
        self.name, self.process, self.summary = name, None, None

    def start(self):
        argv = [self.py_spy, "record", "--pid", str(self.pid), "--subprocesses", "--rate", str(RATE), "--nonblocking",
                "--full-filenames", "--duration", str(self.seconds), "--format", "raw", "--output", self.path,
                *(["--gil"] if self.gil else [])]
        log(f"profiling with: {' '.join(argv)}")
        if os.path.exists(self.path):
            os.remove(self.path)
        self.process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def finish(self):
        try:
            _, errors = self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, errors = self.process.communicate()
        if not os.path.exists(self.path):
            log(f"py-spy wrote no profile (it needs ptrace permission: root, or CAP_SYS_PTRACE, or "
                f"kernel.yama.ptrace_scope = 0): {errors.strip()[-300:]}")
            return None
        self.summary = summarise_profile(self.path, gil=self.gil)
        with open(self.summary_path, "w", encoding="utf-8") as handle:
            handle.write(self.summary)
        log(f"profile: {self.path} (summary: {self.summary_path})")
        print(f"\n### Profile: {self.name}\n\n{self.summary}", flush=True)
        return self.summary

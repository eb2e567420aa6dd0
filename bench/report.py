"""The report of one benchmark run: Markdown tables, the issue's targets, and the conditions.

`markdown` gives results.md's body: every figure (req/s, p50/p99, server CPU per request,
the req/s of each run), wsserver against the others (ratios), the memory of the wsserver
processes under load and at rest, start-up, the targets of issue 17 (`targets`: each a ratio
or a figure of this one run, marked met, MISSED or n/a), the invalid figures, and the
conditions (`machine_notes`).

Sizes: a run's full sizes (run.py's sizes without a per-size limit) are the N at which every
system is compared (the issue's 1,000 and 100,000); its smallest full size is the base of the
growth targets, and the sizes with a limit (the issue's 1,000,000, measured for wsserver on
SQLite only) are where list and search latency must stay within 2x of that base.
"""
import os
import platform
import statistics
import subprocess
import time

import common
import fill
import pocketbase
from common import OPERATION_NAMES, OPERATIONS, RATE_LIMIT_NOTE, SYSTEMS, WSSERVER_SYSTEMS, find
from tools import JSON_SERVER_VERSION

# Issue 17's thresholds.
PEER_RATIO = 1.0  # get, list, search and PUT: wsserver ÷ json-server and ÷ PocketBase, at each full size
BARE_RATIO = {"get": 0.85, "list": 0.6}  # wsserver ÷ bare Flask on the same server
SEARCH_GROWTH = 1.5  # search p50 at the largest full size ÷ at the smallest
LIMITED_GROWTH = 2.0  # list and search p50 at a limited size (1,000,000) ÷ at the smallest full size
PUT_P99_MS = 100
AVATAR_CPU_MS = 40
STARTUP_MS = 300
IDLE_MIB = 120


def ratio(a, b):
    if a is None or b is None or not b.rps:
        return None
    return a.rps / b.rps


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def _rps(value):
    return f"{value:,.0f}" if value >= 100 else f"{value:,.1f}"


def verdict(ok, *involved):
    if any(row is None for row in involved):
        return "n/a (not measured)"
    if any(not row.valid for row in involved):
        return "n/a (invalid figure)"
    return "met" if ok else "MISSED"


def size_roles(sizes, limits):
    """(full sizes, limited sizes, base size or None, largest full size or None when there is only one)."""
    full = [size for size in sizes if size not in limits]
    limited = [size for size in sizes if size in limits]
    return full, limited, (min(full) if full else None), (max(full) if len(full) > 1 else None)


def targets(rows, sizes, limits=None, startup_ms=(), idle=None, connections=32):
    """(description, measured text, verdict) for every target of issue 17, wsserver being `wsserver` (SQLite)."""
    full, limited, base, big = size_roles(sizes, limits or {})
    out = []

    def versus(size, operation, other, threshold):
        ws, them = find(rows, size, "wsserver", operation), find(rows, size, other, operation)
        r = ratio(ws, them)
        measured = "–" if r is None else f"{_rps(ws.rps)} / {_rps(them.rps)} req/s = {fmt_ratio(r)}"
        return measured, verdict(r is not None and r >= threshold, ws, them)

    def growth(operation, size, threshold):
        ws, ws_base = find(rows, size, "wsserver", operation), find(rows, base, "wsserver", operation)
        g = ws.p50_ms / ws_base.p50_ms if ws and ws_base and ws_base.p50_ms else None
        measured = "–" if g is None else f"{ws.p50_ms:.2f} / {ws_base.p50_ms:.2f} ms = {g:.2f}×"
        out.append((f"{OPERATION_NAMES[operation]} p50 at N={size:,} ≤ {threshold} × its p50 at N={base:,}",
                    measured, verdict(g is not None and g <= threshold, ws, ws_base)))

    for size in full:
        for operation in ("get", "list", "search", "put"):
            for other, name in (("json-server", "json-server"), ("pocketbase", "PocketBase")):
                out.append((f"N={size:,} {OPERATION_NAMES[operation]} ≥ {PEER_RATIO} × {name}",
                            *versus(size, operation, other, PEER_RATIO)))
        for operation, threshold in BARE_RATIO.items():
            out.append((f"N={size:,} {OPERATION_NAMES[operation]} ≥ {threshold} × bare Flask",
                        *versus(size, operation, "bare-flask", threshold)))
    if big is not None:
        growth("search", big, SEARCH_GROWTH)
    if base is not None:
        for size in limited:
            for operation in ("list", "search"):
                growth(operation, size, LIMITED_GROWTH)
    for size in full:
        put = find(rows, size, "wsserver", "put")
        out.append((f"N={size:,} PUT upsert p99 ≤ {PUT_P99_MS} ms ({connections} connections)",
                    "–" if put is None else f"{put.p99_ms:,.1f} ms", verdict(put and put.p99_ms <= PUT_P99_MS, put)))
    for size in full:
        avatar = find(rows, size, "wsserver", "avatar")
        out.append((f"N={size:,} 1 MiB avatar upload ≤ {AVATAR_CPU_MS} ms of server CPU per request",
                    "–" if avatar is None else f"{avatar.cpu_ms:,.1f} ms",
                    verdict(avatar and avatar.cpu_ms <= AVATAR_CPU_MS, avatar)))
    if startup_ms:
        median = statistics.median(startup_ms)
        out.append((f"start-up to the first 200 from /healthz ≤ {STARTUP_MS} ms (median of {len(startup_ms)})",
                    f"{median:.0f} ms", "met" if median <= STARTUP_MS else "MISSED"))
    else:
        out.append((f"start-up to the first 200 from /healthz ≤ {STARTUP_MS} ms", "–", "n/a (not measured)"))
    if idle:
        # PSS: a page the forked workers share with the master counts once, split between them (the
        # memory the tree really takes); summed RSS would count it once per process
        out.append((f"idle memory of the served process tree ≤ {IDLE_MIB} MiB (default workers; PSS)",
                    f"{idle['pss_mib']:.1f} MiB PSS ({idle['rss_mib']:.1f} MiB summed RSS), {idle['processes']} processes",
                    "met" if idle["pss_mib"] <= IDLE_MIB else "MISSED"))
    else:
        out.append((f"idle memory of the served process tree ≤ {IDLE_MIB} MiB", "–", "n/a (not measured)"))
    return out


def markdown(rows, sizes, meta, startup_ms=(), limits=None, idle=None, connections=32, profiles=()):
    lines = ["### Requests per second and latency", ""]
    lines.append("| N | system | operation | req/s | p50 ms | p99 ms | server CPU ms/req | requests | non-2xx | socket errors | load (1 min) | check | req/s of each run |")
    lines.append("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for row in rows:
        lines.append(
            f"| {row.size:,} | {row.system} | {OPERATION_NAMES[row.operation]} | {row.rps:,.1f} | {row.p50_ms:.2f} | "
            f"{row.p99_ms:.2f} | {row.cpu_ms:.2f} | {row.requests:,} | {row.non_2xx:,} | {row.socket_errors:,} | {row.load1:.2f} | "
            f"{row.check if row.valid or row.check != 'ok' else 'ok, but errors: not a valid figure'} | "
            f"{', '.join(f'{rps:,.0f}' for rps in row.runs_rps)} |"
        )
    if limits:
        lines += ["", "Sizes measured for some systems and operations only: " + "; ".join(
            f"N={size:,}: {', '.join(limit['systems'])} × {', '.join(limit['operations'])}"
            for size, limit in sorted(limits.items()) if size in sizes) + "."]
    lines += ["", "### wsserver against the others", ""]
    lines.append("| N | operation | engine | wsserver req/s | ÷ wsserver on SQLite | ÷ bare Flask | ÷ json-server | "
                 "÷ PocketBase | CPU ms/req: " + " / ".join(SYSTEMS) + " |")
    lines.append("|---:|---|---|---:|---:|---:|---:|---:|---|")
    for size in sizes:
        for operation, name in OPERATIONS:
            for system in WSSERVER_SYSTEMS:
                ws = find(rows, size, system, operation)
                if ws is None:
                    continue
                cpu = " / ".join(
                    "–" if row is None else f"{row.cpu_ms:.2f}" for row in (find(rows, size, other, operation) for other in SYSTEMS)
                )
                engine = "PostgreSQL" if system == "wsserver-pg" else "SQLite"
                lines.append(f"| {size:,} | {name} | {engine} | {ws.rps:,.1f} | "
                             f"{fmt_ratio(ratio(ws, find(rows, size, 'wsserver', operation)))} | "
                             f"{fmt_ratio(ratio(ws, find(rows, size, 'bare-flask', operation)))} | "
                             f"{fmt_ratio(ratio(ws, find(rows, size, 'json-server', operation)))} | "
                             f"{fmt_ratio(ratio(ws, find(rows, size, 'pocketbase', operation)))} | {cpu} |")
    lines += ["", "### Memory of the wsserver processes under load (master + workers, RSS from /proc)", ""]
    lines.append("| N | operation | processes | before warm-up MiB | after warm-up MiB | peak MiB | growth from idle MiB | growth during the measured run MiB |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if row.system not in WSSERVER_SYSTEMS or row.operation not in ("avatar", "list") or not row.rss:
            continue
        rss = row.rss
        lines.append(
            f"| {row.size:,} | {OPERATION_NAMES[row.operation]} ({row.system}) | {rss['processes']} | {rss['before_kib'] / 1024:.1f} | "
            f"{rss['after_warmup_kib'] / 1024:.1f} | {rss['peak_kib'] / 1024:.1f} | "
            f"{(rss['peak_kib'] - rss['before_kib']) / 1024:.1f} | {(rss['peak_kib'] - rss['after_warmup_kib']) / 1024:.1f} |"
        )
    if idle:
        workers = (f"{idle['workers']} workers × {idle['threads']} threads" if "workers" in idle
                   else "default WORKERS and THREADS")
        each = ", ".join(f"{run['rss_kib'] / 1024:.1f}" for run in idle["runs"])
        lines += ["", "### Idle memory", "",
                  f"`python app.py` on its defaults ({workers}), a fresh instance, {idle['settle_seconds']} s after its "
                  f"first 200 from /healthz; the RSS (and PSS, shared pages divided among the processes sharing them) "
                  f"of the server and all its descendants, median of {len(idle['runs'])} start(s):", "",
                  "| processes | RSS MiB | PSS MiB | RSS of each start MiB |", "|---:|---:|---:|---|",
                  f"| {idle['processes']} | {idle['rss_mib']:.1f} | {idle['pss_mib']:.1f} | "
                  f"{each} |"]
    if startup_ms:
        lines += ["", "### Start-up", "",
                  f"Launch of `python app.py` (one worker, fresh instance) to its first 200 from /healthz, "
                  f"{len(startup_ms)} runs: min {min(startup_ms):.0f} ms, median {statistics.median(startup_ms):.0f} ms."]
    found = targets(rows, sizes, limits, startup_ms, idle, connections)
    shown = [item for item in found if item[2] != "n/a (not measured)"]
    tally = {name: sum(1 for *_, v in shown if v.startswith(name)) for name in ("met", "MISSED", "n/a")}
    lines += ["", "### Targets", "",
              f"Issue 17's targets, each from this run (wsserver is `wsserver`, on SQLite): {tally['met']} met, "
              f"{tally['MISSED']} missed, {tally['n/a']} n/a"
              + (f"; {len(found) - len(shown)} need figures this run did not take (left out; results.json lists them)"
                 if len(shown) < len(found) else "") + ".", "",
              "| target | measured | verdict |", "|---|---|---|"]
    for description, measured, outcome in shown:
        lines.append(f"| {description} | {measured} | {outcome} |")
    for name, summary in profiles:
        lines += ["", f"### Profile: {name}", "", "```", summary.rstrip(), "```"]
    invalid = [row for row in rows if not row.valid]
    if invalid:
        lines += ["", "### Invalid figures (non-2xx answers, socket errors or a failed check)", ""]
        for row in invalid:
            lines.append(f"- N={row.size:,} {row.system} {OPERATION_NAMES[row.operation]}: check: {row.check}; "
                         f"non-2xx {row.non_2xx}, socket errors {row.socket_errors}"
                         + (f"; first non-2xx: `{row.first_bad[:160]}`" if row.first_bad else ""))
    lines += ["", "### Conditions", ""]
    lines += [f"- {item}" for item in meta]
    return "\n".join(lines) + "\n"


def git_revision():
    try:
        revision = subprocess.run(["git", "-C", common.TREE, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
        if common.TREE != common.ROOT:
            revision += " (another checkout, given with --tree)"  # not its path: results are committed
    except (OSError, subprocess.SubprocessError):
        revision = "unknown"
    return revision


def machine_notes(settings, tools, started_load, ended_load, fills, env_settings, postgres=None):
    """The conditions of the run, one item each; `postgres` is the server's version text when wsserver-pg ran."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return [
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, wsserver at git {git_revision()}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}",
        f"machine: {os.cpu_count()} CPUs ({cpu}); load average (1/5/15 min) at start "
        f"{' / '.join(f'{v:.2f}' for v in started_load)}, at end {' / '.join(f'{v:.2f}' for v in ended_load)}; "
        "the machine is shared, so other people's work competes for the same CPUs (see the load column)",
        f"load generator: {tools['wrk-version']}, {settings['threads']} threads, {settings['connections']} connections, "
        f"{settings['warmup']} s warm-up then {settings['repeat']} measured runs of {settings['duration']} s per operation "
        f"(each figure is from the median run by req/s; a figure counts only if every run was clean), "
        f"timeout {settings['timeout']} s; "
        "it runs on the same CPUs as the servers",
        f"wsserver: `python app.py --port P`, {env_settings['WORKERS']} worker processes × {env_settings['THREADS']} "
        f"threads (granian), access log {'on' if env_settings['ACCESS_LOG'] else 'off'}. {RATE_LIMIT_NOTE}",
        "bare Flask: bench/bare_flask.py on the same granian server and options, same WORKERS/THREADS; "
        "constant JSON after a constant-time Bearer check; PUT bodies parsed as JSON",
        f"wsserver-pg: the same, with WSSERVER_DATABASE_URL on {postgres} (a database of the run, "
        "filled the same way, then VACUUM ANALYZE)" if postgres else "wsserver-pg: not run",
        f"json-server {JSON_SERVER_VERSION} on node {tools.get('node-version', '–')}, `--id fullname --quiet` (no request log); "
        "no authentication; lists all N workspaces (not only the caller's); its db.json is stored in fullname order, "
        "so no `_sort` is asked; a PUT replaces the document and rewrites the whole db.json"
        if "json-server" in tools else "json-server: not run",
        f"PocketBase {tools['pocketbase'][1]} (PyPI {pocketbase.PACKAGE}=={tools['pocketbase'][1]}, pinned in "
        f"bench/requirements.txt), `pocketbase serve --http 127.0.0.1:P`: {pocketbase.DESCRIPTION}"
        if "pocketbase" in tools else "PocketBase: not run",
        f"data: the benchmark account owns {settings['members']:,} of the N workspaces (get/PUT/avatar target one of them); "
        f"list: wsserver `?limit=20` (the caller's workspaces by name), json-server `?_page=1&_limit=20`, "
        "PocketBase `?perPage=20&sort=fullname` (the caller's, with the total, as by default); "
        f"search: wsserver and json-server `q={fill.SEARCH_TERM}`, PocketBase "
        f"`filter=(fullname~'{fill.SEARCH_TERM}'||title~'{fill.SEARCH_TERM}')`, each plus the same page size "
        f"(about 1 workspace in {len(fill.NOUNS)} matches); "
        "PUT: a new title on every request (`Bench title <thread>-<n>`; PocketBase: a PATCH of fullname, title, tags "
        "and labels); avatar: a noisy PNG just under 1 MiB, base64 in JSON",
        "filling: " + ", ".join(f"N={size:,} in {seconds} s" for size, seconds in fills),
        "a figure is valid only with a passing answer check, no non-2xx answer and no socket error; "
        "server CPU ms/req (CPU time of all the server's processes ÷ answered requests) varies far less with "
        "the machine's load than req/s does",
    ]

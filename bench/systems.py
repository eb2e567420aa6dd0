"""The systems measured: their data at one N, starting each one, and wsserver's start-up and idle memory.

- `prepare_data` fills one N for the systems that N runs: wsserver's SQLite instance and
  json-server's db.json through bench/fill.py, the PostgreSQL database of the run for
  `wsserver-pg` (created on --postgres-url, filled the same way, dropped afterwards), and
  PocketBase's data folder (bench/pocketbase.py);
- `start_system` starts one system on a free loopback port over that data (wsserver exactly as
  `python app.py --port P` with WSSERVER_RATE_LIMIT=off, bench/bare_flask.py, `pocketbase serve`,
  json-server) and returns its processes.Service, ready;
- `startup_times`: launch of `python app.py` to its first 200 from /healthz (bench/startup.py);
- `idle_memory`: the whole served process tree of `python app.py` on its default WORKERS and
  THREADS, on a fresh instance, once it answers /healthz and has sat idle for a moment.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types

import common
import fill  # bench/fill.py: the workspaces every system holds
import pocketbase  # bench/pocketbase.py
import startup  # bench/startup.py: the start-up timer, and free_port
from common import HERE, WSSERVER_SYSTEMS, SetupError, log
from processes import Service, process_tree, server_env, tree_pss_kib, tree_rss_kib
from startup import free_port

IDLE_SETTLE_SECONDS = 2  # how long the fresh server sits idle before its memory is read
ADMIN_TOKEN = "wss_bench-idle-admin-token-0123456789abcdef"


def _fill(arguments, what):
    completed = subprocess.run(
        [sys.executable, os.path.join(HERE, "fill.py"), *arguments],
        capture_output=True, text=True, timeout=3600, cwd=common.TREE,
        env=server_env({"BENCH_WSSERVER_TREE": common.TREE}),
    )
    if completed.returncode != 0:
        raise SetupError(f"{what} failed: {completed.stderr.strip()[-1500:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def prepare_data(size, systems, settings, work, token, tools):
    """The data of N = `size` for `systems`, in <work>/n<size>; a dict describing it (bench/fill.py's line, and more)."""
    folder = os.path.join(work, f"n{size}")
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    instance = os.path.join(folder, "instance")
    started = time.perf_counter()
    json_server = "json-server" in systems
    log(f"filling {size:,} workspaces (wsserver's SQLite database{' and json-server db.json' if json_server else ''})")
    common_arguments = ["--workspaces", str(size), "--members", str(settings["members"]), "--token", token]
    data = _fill(["--instance", instance, *(["--json", os.path.join(folder, "db.json")] if json_server else []),
                  *common_arguments], "bench/fill.py")
    if "wsserver-pg" in systems:
        data["database_url"] = fresh_postgres_database(settings["postgres_url"], f"wsserver_bench_n{size}")
        data["pg_instance"] = os.path.join(folder, "pg-instance")
        log(f"filling {size:,} workspaces into PostgreSQL")
        _fill(["--instance", data["pg_instance"], "--database-url", data["database_url"], *common_arguments],
              "bench/fill.py --database-url")
    if json_server:
        with open(os.path.join(folder, "db.json"), encoding="utf-8") as handle:
            documents = json.load(handle)["workspaces"]
        data["json_document"] = next(d for d in documents if d["fullname"] == data["target"])
    if "pocketbase" in systems:
        log(f"loading {size:,} workspaces into PocketBase")
        data["pocketbase"] = pocketbase.load(
            os.path.join(folder, "pocketbase"), tools["pocketbase"][0], fill.workspace_rows(size),
            fill.member_indexes(size, settings["members"]), log,
        )
    data.update(folder=folder, instance=instance, fill_wall_seconds=round(time.perf_counter() - started, 1))
    log(f"filled in {data['fill_wall_seconds']} s")
    return data


def discard_data(data, settings):
    """Remove the data of one N (hundreds of MB at N = 100,000) and its PostgreSQL database."""
    shutil.rmtree(data["folder"], ignore_errors=True)
    if data.get("database_url"):
        drop_postgres_database(settings["postgres_url"], data["database_url"])


def postgres_reachable(url):
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=5).close()
        return True
    except Exception as exc:  # no driver, no server, refused: the PostgreSQL column is left out
        log(f"PostgreSQL at {url} not reachable ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc}): "
            f"wsserver-pg left out")
        return False


def postgres_version(url):
    import psycopg

    with psycopg.connect(url) as connection:
        return "PostgreSQL " + connection.execute("SHOW server_version").fetchone()[0].split()[0]


def fresh_postgres_database(server_url, name):
    """Create (again) database `name` on the server of `server_url`; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    base, _, query = server_url.partition("?")
    return f"{base.rsplit('/', 1)[0]}/{name}" + (f"?{query}" if query else "")


def drop_postgres_database(server_url, url):
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{url.partition("?")[0].rsplit("/", 1)[1]}" WITH (FORCE)')


def start_system(system, data, token, tools, logs):
    """processes.Service of `system` serving `data`, started and answering."""
    port = free_port()
    log_path = os.path.join(logs, f"{system}-n{data['workspaces']}.log")
    if system in WSSERVER_SYSTEMS:
        env = {"WSSERVER_INSTANCE_PATH": data["instance"], "WSSERVER_RATE_LIMIT": "off", "WSSERVER_HOST": "127.0.0.1"}
        if system == "wsserver-pg":
            env.update(WSSERVER_INSTANCE_PATH=data["pg_instance"], WSSERVER_DATABASE_URL=data["database_url"])
        argv = [sys.executable, "app.py", "--port", str(port)]
        return Service(system, argv, server_env(env), port, "/healthz", log_path, cwd=common.TREE).start()
    if system == "bare-flask":
        bare_instance = os.path.join(data["folder"], "bare-instance")
        os.makedirs(bare_instance, exist_ok=True)
        env = server_env({"WSSERVER_INSTANCE_PATH": bare_instance, "BENCH_TOKEN": token,
                          "BENCH_WSSERVER_TREE": common.TREE})
        argv = [sys.executable, os.path.join(HERE, "bare_flask.py"), "--port", str(port)]
        return Service(system, argv, env, port, "/", log_path).start()
    if system == "pocketbase":
        info = data["pocketbase"]
        argv = pocketbase.serve_argv(tools["pocketbase"][0], info, port)
        service = Service(system, argv, dict(os.environ), port, "/api/health", log_path, cwd=info["folder"]).start()
        try:
            service.token = pocketbase.authenticate(port, info)  # PocketBase's own token for the benchmark user
        except pocketbase.PocketBaseError:
            service.stop()
            raise
        return service
    database = os.path.join(data["folder"], "json-server-db.json")
    shutil.copyfile(os.path.join(data["folder"], "db.json"), database)
    node, _, script = tools["json-server"]
    argv = [node, script, database, "--port", str(port), "--host", "127.0.0.1", "--id", "fullname", "--quiet"]
    return Service(system, argv, dict(os.environ), port, "/workspaces?_limit=1", log_path).start()


def startup_times(runs):
    """Milliseconds from launching `python app.py` (one worker, fresh instance) to its first 200 from
    /healthz, `runs` times: how long a test suite waits for wsserver as its test double (bench/startup.py)."""
    options = types.SimpleNamespace(workers=1, test_mode=False, seed_file=None, root=common.TREE)
    return [startup.one_start(options) for _ in range(runs)]


def idle_memory(runs, work):
    """The whole served process tree of `python app.py` at rest, `runs` times; a dict for the report.

    Each run starts the server on its defaults (every WSSERVER_* setting of this shell dropped,
    so WORKERS and THREADS are the defaults; only the instance folder, a fresh one, the loopback
    host, the port and an admin token are given), waits for a 200 from /healthz, lets it sit IDLE_SETTLE_SECONDS,
    and sums the RSS (and the PSS) of the server and all its descendants.
    """
    measured = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="idle-", dir=work) as folder:
            instance = os.path.join(folder, "instance")
            port = free_port()
            env = server_env({"WSSERVER_INSTANCE_PATH": instance, "WSSERVER_ADMIN_TOKEN": ADMIN_TOKEN,
                              "WSSERVER_HOST": "127.0.0.1"}, clear_wsserver=True)
            argv = [sys.executable, "app.py", "--port", str(port)]
            with Service("wsserver (idle)", argv, env, port, "/healthz", os.path.join(folder, "server.log"),
                         cwd=common.TREE, ready_status=201) as service:
                time.sleep(IDLE_SETTLE_SECONDS)
                pid = service.process.pid
                measured.append({"rss_kib": tree_rss_kib(pid), "pss_kib": tree_pss_kib(pid),
                                 "processes": len(process_tree(pid))})
    median = statistics.median(item["rss_kib"] for item in measured)
    result = {"runs": measured, "rss_mib": median / 1024,
              "pss_mib": statistics.median(item["pss_kib"] for item in measured) / 1024,
              "processes": measured[len(measured) // 2]["processes"], "settle_seconds": IDLE_SETTLE_SECONDS}
    try:  # the defaults the server ran on, for the report (this checkout's; --tree's are the same or older)
        from wsserver.config import load_settings

        with tempfile.TemporaryDirectory(prefix="defaults-", dir=work) as empty:
            defaults, _ = load_settings({"INSTANCE_PATH": empty}, environ={})
        result.update(workers=defaults["WORKERS"], threads=defaults["THREADS"])
    except Exception as exc:  # an older wsserver.config: the report says "default"
        log(f"could not read wsserver's default WORKERS/THREADS: {exc}")
    log(f"idle memory of `python app.py` (defaults, fresh instance): {result['processes']} processes, "
        f"RSS {result['rss_mib']:.1f} MiB (PSS {result['pss_mib']:.1f} MiB), median of {runs}")
    return result


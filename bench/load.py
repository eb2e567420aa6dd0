"""What each system is asked, how its answer is checked, and the wrk runs that measure it.

- `requests_for`: the request of every operation for one system at one N (method, path, body
  file; "@N@" in a body is replaced per request by bench/load.lua, so every PUT changes the
  stored workspace); `avatar_upload_file` makes the 1 MiB avatar body once;
- `check_answer`: one request before the load, judged ("ok" or what is wrong; a figure whose
  check fails is not valid);
- `run_wrk`: one wrk run through bench/load.lua (its `WRKJSON` line: counts by status class,
  latency percentiles, socket errors);
- `measure`: one figure, a common.Row: warm-up, then `repeat` measured runs, each with the
  server's CPU time (its whole process tree) and a sampled peak RSS; the median run by req/s
  gives the figure, and every run must be clean for it to count. An optional profiler
  (profiling.Profiler) records the first measured run.
"""
import base64
import io
import json
import os
import random
import subprocess
from dataclasses import dataclass

import pocketbase  # bench/pocketbase.py: what PocketBase is asked and how its answers are judged
from common import AVATAR_LIMIT, HERE, WSSERVER_SYSTEMS, Row, SetupError, load_average, log
from processes import RssSampler, http_call, process_tree, tree_cpu_seconds, tree_rss_kib


@dataclass
class Request:
    """One operation's request."""

    method: str
    path: str
    body_file: str = None  # "@N@" inside is replaced per request


def write_body(folder, name, document):
    path = os.path.join(folder, name)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(document, handle, ensure_ascii=False)
    return path


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


def run_wrk(wrk, port, request, token, seconds, settings):
    """The WRKJSON result of one wrk run of `seconds` (bench/load.lua)."""
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


def measure(row, service, request, token, settings, wrk, profiler=None):
    """Fill `row` (its check already made) from a warm-up and settings['repeat'] measured wrk runs.

    `profiler`, when given, has start() (called right before the first measured run) and finish().
    """
    pid = service.process.pid
    rss_before = tree_rss_kib(pid)
    if settings["warmup"]:
        run_wrk(wrk, service.port, request, token, settings["warmup"], settings)
    rss_warm = tree_rss_kib(pid)
    runs, peak = [], 0
    # The machine is shared: each figure is the median (by req/s) of `repeat` runs.
    for index in range(settings["repeat"]):
        run = Row(row.size, row.system, row.operation)
        if profiler and index == 0:
            profiler.start()
        load1 = load_average()[0]
        cpu_before = tree_cpu_seconds(pid)
        with RssSampler(pid) as sampler:
            result = run_wrk(wrk, service.port, request, token, settings["duration"], settings)
        cpu_used = tree_cpu_seconds(pid) - cpu_before
        fill_row(run, result, load1)
        run.cpu_ms = cpu_used * 1000 / max(run.requests, 1)
        peak = max(peak, sampler.peak)
        runs.append(run)
        log(f"  {run.rps:,.1f} req/s p50 {run.p50_ms:.2f} ms p99 {run.p99_ms:.2f} ms "
            f"CPU {run.cpu_ms:.2f} ms/req non-2xx {run.non_2xx} socket errors {run.socket_errors}"
            + (f" first non-2xx: {run.first_bad[:120]}" if run.first_bad else ""))
    if profiler:
        profiler.finish()
    median = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
    for name in ("requests", "rps", "p50_ms", "p99_ms", "non_2xx", "socket_errors", "first_bad", "load1", "cpu_ms"):
        setattr(row, name, getattr(median, name))
    # every run must be clean for the figure to count
    row.non_2xx = sum(run.non_2xx for run in runs)
    row.socket_errors = sum(run.socket_errors for run in runs)
    row.first_bad = next((run.first_bad for run in runs if run.first_bad), "")
    row.runs_rps = [round(run.rps, 1) for run in runs]
    row.rss = {"before_kib": rss_before, "after_warmup_kib": rss_warm, "peak_kib": peak,
               "end_kib": tree_rss_kib(pid), "processes": len(process_tree(pid))}
    return row

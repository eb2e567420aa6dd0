"""Running it for real: settings, rate limits, headers, request ids, logs, backup/restore, shutdown, single file."""
import json
import logging
import os
import socket
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time

import pytest
import requests

from engines import on_postgresql, stored
from conftest import ADMIN_TOKEN, API, ROOT, LiveServer, bearer, free_port
from wsserver import create_app
from wsserver.ops.backup import BackupError, create_backup, restore_backup
from wsserver.config import ConfigError, load_settings, request_body_limit
from wsserver.ops.serve import HEADER_READ_TIMEOUT_MS, server_options


def make_app(instance_path, **settings):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, **settings})


# --- configuration -----------------------------------------------------------------------------


def test_settings_precedence_is_defaults_then_config_file_then_environment(instance_path):
    with open(os.path.join(instance_path, "config.py"), "w") as handle:
        handle.write("PORT = 9001\nTHREADS = 3\nWSSERVER_LOG_FORMAT = 'json'\n")
    settings, _ = load_settings({"INSTANCE_PATH": instance_path}, environ={"WSSERVER_THREADS": "5"})
    assert settings["PORT"] == 9001  # from config.py
    assert settings["THREADS"] == 5  # environment beats config.py
    assert settings["LOG_FORMAT"] == "json"
    assert settings["HOST"] == "127.0.0.1"  # default
    assert settings["RATE_LIMIT"] == "300/minute"


@pytest.mark.parametrize(
    "name, value",
    [
        ("PORT", "http"), ("PORT", "70000"), ("WORKERS", "0"), ("THREADS", "-1"),
        ("RATE_LIMIT", "lots"), ("LOG_FORMAT", "xml"), ("PUBLIC_URL", "ftp://x"),
        ("CORS_ORIGINS", "not an origin"), ("TRUST_PROXY", "maybe"), ("AVATAR_MAX_BYTES", "0"),
    ],
)
def test_invalid_setting_raises_config_error_naming_it(instance_path, name, value):
    with pytest.raises(ConfigError) as error:
        load_settings({"INSTANCE_PATH": instance_path}, environ={f"WSSERVER_{name}": value})
    assert f"WSSERVER_{name}" in str(error.value)
    assert "\n" not in str(error.value)


def test_unknown_name_in_config_file_is_refused(instance_path):
    with open(os.path.join(instance_path, "config.py"), "w") as handle:
        handle.write("PROT = 9001\n")
    with pytest.raises(ConfigError, match="unknown setting PROT"):
        load_settings({"INSTANCE_PATH": instance_path}, environ={})


def test_invalid_configuration_stops_start_up_with_one_line_and_no_traceback(instance_path):
    environment = dict(os.environ, WSSERVER_INSTANCE_PATH=instance_path, WSSERVER_PORT="eighty")
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "WSSERVER_PORT" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_workers_threads_and_address_reach_the_wsgi_server(instance_path):
    app = make_app(instance_path, WORKERS=3, THREADS=6, HOST="127.0.0.2", PORT=9100)
    options = server_options(app.config)
    assert (options["workers"], options["blocking_threads"]) == (3, 6)
    assert (options["address"], options["port"]) == ("127.0.0.2", 9100)
    assert options["interface"] == "wsgi"
    assert options["http1_settings"].header_read_timeout == HEADER_READ_TIMEOUT_MS


def test_request_body_limit_follows_the_avatar_limit(instance_path):
    app = make_app(instance_path, AVATAR_MAX_BYTES=1000)
    assert app.config["MAX_CONTENT_LENGTH"] == request_body_limit(1000)
    client = app.test_client()
    response = client.put(
        f"{API}/workspaces/big", data=b"{" + b" " * (request_body_limit(1000) + 10) + b"}",
        headers={**bearer(ADMIN_TOKEN), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.get_json()["error"]["message"]


def test_reserved_names_setting_replaces_the_default_list(instance_path):
    client = make_app(instance_path, RESERVED_NAMES="forbidden-name").test_client()
    refused = client.put(f"{API}/workspaces/forbidden-name", json={"fullname": "forbidden-name"}, headers=bearer(ADMIN_TOKEN))
    assert refused.status_code == 422
    assert "fullname" in refused.get_json()["error"]["details"]
    allowed = client.put(f"{API}/workspaces/admin", json={"fullname": "admin"}, headers=bearer(ADMIN_TOKEN))
    assert allowed.status_code == 201


def test_busy_timeout_setting_is_applied_to_connections(instance_path):
    make_app(instance_path, BUSY_TIMEOUT_MS=1234)
    from wsserver.storage.db import database

    if on_postgresql():  # the longest wait for a row lock, then the statement fails (and is retried or 409)
        assert database.execute_sql("SHOW lock_timeout").fetchone()[0] == "1234ms"
        assert database.execute_sql("SHOW TimeZone").fetchone()[0] == "UTC"
        return
    assert database.execute_sql("PRAGMA busy_timeout").fetchone()[0] == 1234
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


def test_trust_proxy_uses_forwarded_address_and_scheme_only_when_enabled(instance_path):
    headers = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    for trusted, expected in ((False, "127.0.0.1"), (True, "203.0.113.9")):
        app = make_app(instance_path, TRUST_PROXY=trusted, RATE_LIMIT="1/minute")
        client = app.test_client()
        client.get(f"{API}/me", headers=headers)
        second = client.get(f"{API}/me", headers=headers)
        assert second.status_code == 429  # anonymous, limited per address
        with sqlite3.connect(os.path.join(instance_path, "ratelimit.sqlite3")) as counters:
            keys = [row[0] for row in counters.execute("SELECT key FROM counter")]
        assert any(expected in key for key in keys), keys
        os.remove(os.path.join(instance_path, "ratelimit.sqlite3"))


# --- rate limits -------------------------------------------------------------------------------


def test_rate_limit_answers_429_with_headers_in_the_envelope(instance_path):
    client = make_app(instance_path, RATE_LIMIT="2/minute").test_client()
    first = client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    assert first.status_code == 200
    assert first.headers["X-RateLimit-Limit"] == "2"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert first.headers["X-RateLimit-Window"] == "60000"
    assert "Retry-After" not in first.headers
    client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    limited = client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    assert limited.status_code == 429
    body = limited.get_json()
    assert set(body) == {"error"} and "Too many requests" in body["error"]["message"]
    assert body["error"]["details"] == {}
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Limit"] == "2"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Window"] == "60000"


def test_rate_limit_counts_per_token_and_spares_health_probes(instance_path):
    app = make_app(instance_path, RATE_LIMIT="1/minute")
    client = app.test_client()
    response = client.post(f"{API}/accounts", json={"username": "other"}, headers=bearer(ADMIN_TOKEN))
    other_token = response.get_json()["token"]
    assert client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN)).status_code == 429
    assert client.get(f"{API}/me", headers=bearer(other_token)).status_code == 200
    for _ in range(3):
        assert client.get("/healthz").status_code == 200


def test_rate_limit_is_shared_by_worker_processes(instance_path):
    server = LiveServer(instance_path, env={"WSSERVER_RATE_LIMIT": "10/minute", "WSSERVER_WORKERS": "2"})
    try:
        statuses = []
        for _ in range(14):
            with requests.Session() as fresh_connection:  # new connection each time: any worker may answer
                statuses.append(fresh_connection.get(f"{server.url}{API}/me", headers=bearer(ADMIN_TOKEN), timeout=5).status_code)
        assert statuses.count(200) == 10
        assert statuses.count(429) == 4
    finally:
        server.stop()


def test_rate_limit_off_sends_no_rate_headers(instance_path):
    client = make_app(instance_path, RATE_LIMIT="off").test_client()
    response = client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 200
    assert not [name for name in response.headers.keys() if name.startswith("X-RateLimit")]


# --- headers -----------------------------------------------------------------------------------


def test_nosniff_everywhere_and_no_store_on_authenticated_json(client, admin_headers):
    me = client.get(f"{API}/me", headers=admin_headers)
    assert me.headers["X-Content-Type-Options"] == "nosniff"
    assert me.headers["Cache-Control"] == "no-store"
    for path in ("/healthz", "/nowhere", "/openapi.json"):
        response = client.get(path)
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert "no-store" not in response.headers.get("Cache-Control", ""), path
    denied = client.get(f"{API}/workspaces/none", headers=admin_headers)
    assert denied.status_code == 404
    assert denied.headers["Cache-Control"] == "no-store"


def test_request_id_is_echoed_when_plain_and_generated_otherwise(client):
    echoed = client.get("/healthz", headers={"X-Request-ID": "abc-123.x"})
    assert echoed.headers["X-Request-ID"] == "abc-123.x"
    replaced = client.get("/healthz", headers={"X-Request-ID": "bad id; with <spaces>"})
    assert replaced.headers["X-Request-ID"] != "bad id; with <spaces>"
    assert len(replaced.headers["X-Request-ID"]) == 32
    generated = client.get("/healthz")
    assert len(generated.headers["X-Request-ID"]) == 32


def test_cors_is_off_by_default(client):
    response = client.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "Access-Control-Allow-Origin" not in response.headers


def test_cors_allows_only_configured_origins(instance_path):
    client = make_app(instance_path, CORS_ORIGINS="https://app.example.com").test_client()
    allowed = client.options(
        f"{API}/me",
        headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "Authorization"},
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    other = client.get("/healthz", headers={"Origin": "https://evil.example.net"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_lets_a_platform_client_send_and_read_its_api_version(instance_path):
    client = make_app(instance_path, CORS_ORIGINS="https://app.example.com").test_client()
    preflight = client.options("/flavors/platform/workspaces", headers={
        "Origin": "https://app.example.com", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization, X-API-Version"})
    assert "x-api-version" in preflight.headers["Access-Control-Allow-Headers"].lower()
    answer = client.get("/flavors/platform/workspaces", headers={"Origin": "https://app.example.com"})
    assert "X-API-Version" in answer.headers["Access-Control-Expose-Headers"]


# --- logs --------------------------------------------------------------------------------------


def test_access_log_has_one_json_line_per_request(instance_path, caplog):
    app = make_app(instance_path, LOG_FORMAT="json")
    client = app.test_client()
    with caplog.at_level(logging.INFO, logger="wsserver.access"):
        client.get("/healthz", headers={"X-Request-ID": "req-1"})
        client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    records = [r for r in caplog.records if r.name == "wsserver.access"]
    assert len(records) == 2
    handler = next(h for h in logging.getLogger("wsserver").handlers if getattr(h, "wsserver_handler", False))
    line = json.loads(handler.formatter.format(records[0]))
    assert line["method"] == "GET" and line["path"] == "/healthz" and line["status"] == 200
    assert line["request_id"] == "req-1" and isinstance(line["duration_ms"], float)


def test_access_log_can_be_turned_off(instance_path, caplog):
    client = make_app(instance_path, ACCESS_LOG=False).test_client()
    with caplog.at_level(logging.DEBUG):
        client.get("/healthz")
    assert not [r for r in caplog.records if r.name == "wsserver.access"]


def test_access_log_masks_secret_query_parameters_and_control_characters(client, caplog):
    with caplog.at_level(logging.INFO, logger="wsserver.access"):
        client.get("/healthz?token=wss_supersecret&invite=abc&q=fine")
        client.get("/a%0aforged line")
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "wss_supersecret" not in text and "invite=abc" not in text
    assert "q=fine" in text
    assert "\nforged" not in text


def test_served_access_log_has_every_request_once_after_a_clean_shutdown(instance_path):
    """The served process writes its log from a writer thread: under concurrent requests no line is
    lost, doubled or interleaved, and SIGTERM writes what is still queued."""
    server = LiveServer(instance_path, env={"WSSERVER_LOG_FORMAT": "json"})
    ids = [f"log-check-{number:04d}" for number in range(400)]

    def send(chunk):
        with requests.Session() as session:
            for request_id in chunk:
                answer = session.get(f"{server.url}{API}/me", headers={**bearer(ADMIN_TOKEN), "X-Request-ID": request_id},
                                     timeout=10)
                assert answer.status_code == 200 and answer.headers["X-Request-ID"] == request_id

    threads = [threading.Thread(target=send, args=(ids[start::8],)) for start in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert server.stop() == 0
    lines = [json.loads(line) for line in server.output().splitlines() if line.startswith("{")]
    logged = [line["request_id"] for line in lines if line.get("logger") == "wsserver.access"]
    assert sorted(request_id for request_id in logged if request_id.startswith("log-check-")) == ids
    assert all(line["path"] == f"{API}/me" and line["status"] == 200 for line in lines
               if line.get("request_id", "").startswith("log-check-"))


# --- backup and restore ------------------------------------------------------------------------


def _rows(database_path):
    with sqlite3.connect(database_path) as connection:
        return {
            table: sorted(connection.execute(f"SELECT * FROM {table}").fetchall())
            for table in ("account", "token", "workspace", "acl_entry")
        }


# Backup archives hold the SQLite file; on PostgreSQL the commands refuse (test below).
SQLITE_ARCHIVES = pytest.mark.sqlite_only("backup archives hold the SQLite database file")


@pytest.mark.postgresql_only
@pytest.mark.parametrize("command", [["backup", "out.tar.gz"], ["restore", "in.tar.gz"]])
def test_backup_and_restore_on_postgresql_refuse_in_one_line_pointing_at_pg_dump(tmp_path, instance_path, command):
    create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN})  # the schema exists, on PostgreSQL
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", *command[:1], str(tmp_path / command[1])],
        cwd=ROOT, env={**os.environ, "WSSERVER_INSTANCE_PATH": instance_path}, capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pg_dump" in lines[0] and "flask export" in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / command[1]).exists()


@SQLITE_ARCHIVES
def test_backup_of_a_running_server_under_writes_restores_a_consistent_copy(tmp_path, instance_path):
    server = LiveServer(instance_path)
    stop = threading.Event()
    acknowledged = []

    def writer():
        number = 0
        with requests.Session() as session:
            while not stop.is_set() and number < 2000:
                name = f"ws-{number}"
                response = session.put(f"{server.url}{API}/workspaces/{name}", json={"fullname": name, "tags": [str(number)]},
                                       headers=bearer(ADMIN_TOKEN), timeout=10)
                assert response.status_code == 201
                acknowledged.append(name)
                number += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acknowledged) < 20:
            time.sleep(0.02)
        archive = str(tmp_path / "backup.tar.gz")
        before_backup = len(acknowledged)
        manifest = create_backup(instance_path, archive)
        after_backup = len(acknowledged)
    finally:
        stop.set()
        thread.join()
        server.stop()

    target = str(tmp_path / "restored")
    restored_manifest = restore_backup(archive, target)
    assert restored_manifest == manifest
    with sqlite3.connect(os.path.join(target, "wsserver.sqlite3")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        names = {row[0] for row in connection.execute("SELECT fullname FROM workspace")}
        owners = connection.execute(
            "SELECT COUNT(*) FROM workspace w WHERE NOT EXISTS "
            "(SELECT 1 FROM acl_entry a WHERE a.workspace_id = w.id AND a.level = 4)"
        ).fetchone()[0]
    # every write acknowledged before the backup started is in it; nothing acknowledged after it ended
    assert set(acknowledged[:before_backup]) <= names <= set(acknowledged[:after_backup + 1])
    assert manifest["counts"]["workspace"] == len(names)
    assert owners == 0

    # the restored instance serves the same data
    client = create_app({"INSTANCE_PATH": target, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": "off"}).test_client()
    listed = client.get(f"{API}/workspaces?limit=500", headers=bearer(ADMIN_TOKEN))
    assert listed.status_code == 200
    assert int(listed.headers.get("X-Total-Count", len(listed.get_json()))) == len(names)


@SQLITE_ARCHIVES
def test_backup_and_restore_keep_avatar_files_and_all_rows(tmp_path, instance_path, client, admin_headers):
    client.put(f"{API}/workspaces/keep-me", json={"fullname": "keep-me", "labels": {"a": "b"}}, headers=admin_headers)
    avatar_folder = os.path.join(instance_path, "avatars")
    from wsserver.storage.models import Workspace

    with open(os.path.join(avatar_folder, "0123abcd.png"), "wb") as handle:
        handle.write(b"\x89PNG fake bytes")
    Workspace.update(avatar_file="0123abcd.png").where(Workspace.fullname == "keep-me").execute()
    archive = str(tmp_path / "b.tar.gz")
    create_backup(instance_path, archive)
    with tarfile.open(archive) as opened:
        assert sorted(opened.getnames()) == ["MANIFEST.json", "avatars/0123abcd.png", "wsserver.sqlite3"]
    target = str(tmp_path / "restored")
    restore_backup(archive, target)
    assert _rows(os.path.join(target, "wsserver.sqlite3")) == _rows(os.path.join(instance_path, "wsserver.sqlite3"))
    with open(os.path.join(target, "avatars", "0123abcd.png"), "rb") as handle:
        assert handle.read() == b"\x89PNG fake bytes"


@SQLITE_ARCHIVES
def test_restore_refuses_a_folder_with_data_unless_forced(tmp_path, instance_path, client, admin_headers):
    client.put(f"{API}/workspaces/original", json={"fullname": "original"}, headers=admin_headers)
    archive = str(tmp_path / "b.tar.gz")
    create_backup(instance_path, archive)
    client.put(f"{API}/workspaces/later", json={"fullname": "later"}, headers=admin_headers)
    with pytest.raises(BackupError, match="not empty"):
        restore_backup(archive, instance_path)
    from wsserver.storage.db import close_connection

    close_connection()
    restore_backup(archive, instance_path, force=True)
    with sqlite3.connect(os.path.join(instance_path, "wsserver.sqlite3")) as connection:
        names = {row[0] for row in connection.execute("SELECT fullname FROM workspace")}
    assert names == {"original"}


@SQLITE_ARCHIVES
def test_restore_rejects_archives_that_are_not_ours(tmp_path):
    evil = str(tmp_path / "evil.tar.gz")
    payload = tmp_path / "payload"
    payload.write_text("x")
    with tarfile.open(evil, "w:gz") as archive:
        archive.add(str(payload), "../escape.txt")
    with pytest.raises(BackupError, match="unexpected entry"):
        restore_backup(evil, str(tmp_path / "target"))
    assert not (tmp_path / "escape.txt").exists()
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not a tar")
    with pytest.raises(BackupError):
        restore_backup(str(garbage), str(tmp_path / "target"))


@SQLITE_ARCHIVES
def test_backup_and_restore_commands_round_trip(tmp_path, instance_path, client, admin_headers):
    client.put(f"{API}/workspaces/by-cli", json={"fullname": "by-cli"}, headers=admin_headers)
    archive = str(tmp_path / "cli.tar.gz")
    target = str(tmp_path / "cli-restored")

    def flask(*arguments, instance):
        environment = dict(os.environ, WSSERVER_INSTANCE_PATH=instance)
        return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *arguments], cwd=ROOT, env=environment,
                              capture_output=True, text=True, timeout=120)

    made = flask("backup", archive, instance=instance_path)
    assert made.returncode == 0, made.stderr
    assert os.path.isfile(archive)
    restored = flask("restore", archive, instance=target)
    assert restored.returncode == 0, restored.stderr
    again = flask("restore", archive, instance=target)
    assert again.returncode != 0 and "not empty" in again.stderr
    with sqlite3.connect(os.path.join(target, "wsserver.sqlite3")) as connection:
        assert [row[0] for row in connection.execute("SELECT fullname FROM workspace")] == ["by-cli"]


# --- shutdown ----------------------------------------------------------------------------------


def test_sigterm_lets_an_in_flight_request_finish(instance_path):
    server = LiveServer(instance_path)
    body = json.dumps({"fullname": "in-flight", "tags": ["late"]}).encode()
    request_head = (
        f"PUT {API}/workspaces/in-flight HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as connection:
        connection.sendall(request_head + body[:10])
        time.sleep(0.5)  # the request is being read by a worker thread
        server.process.terminate()
        time.sleep(0.5)
        connection.sendall(body[10:])
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert server.process.wait(30) == 0
    server.log.close()
    assert stored(instance_path, "SELECT tags FROM workspace WHERE fullname = 'in-flight'") == [('["late"]',)]


# --- single file -------------------------------------------------------------------------------


@pytest.mark.sqlite_only("the built file serves its own SQLite instance (no WSSERVER_DATABASE_URL) in either run")
def test_single_file_build_starts_and_answers(tmp_path):
    output = str(tmp_path / "wsserver")
    built = subprocess.run(["bash", "scripts/build-single-file.sh", output], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    instance = str(tmp_path / "instance")
    port = free_port()
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path), "WSSERVER_INSTANCE_PATH": instance,
        "WSSERVER_ADMIN_TOKEN": ADMIN_TOKEN, "WSSERVER_PORT": str(port), "WSSERVER_WORKERS": "1",
    }
    # -I -S: no site-packages, so only what the file carries can be imported
    process = subprocess.Popen([sys.executable, "-I", "-S", output], env=environment, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        me = requests.get(f"http://127.0.0.1:{port}{API}/me", headers=bearer(ADMIN_TOKEN), timeout=5)
        assert me.status_code == 200 and me.json()["username"] == "admin"
    finally:
        process.terminate()
        process.wait(30)

"""Hardening of the running server (issue 12): slow clients, a second start, a full disk, unique-key
races, the seed file's admin. Each test is a repro from the issue with the answer it must give."""
import os
import sqlite3
import subprocess
import sys

import peewee
import pytest
import requests

from engines import on_postgresql
from conftest import ADMIN_TOKEN, API, ROOT, LiveServer, SmallDisk, assert_error, bearer, free_port, png_base64

sys.path.insert(0, os.path.join(ROOT, "bench"))
from slow_clients import attack  # noqa: E402

from wsserver import create_app  # noqa: E402


# --- slow clients (item 5) ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.sqlite_only("slow connections meet the HTTP front end (granian); /healthz reads no database")
@pytest.mark.parametrize("mode", ["slowloris", "idle"])
def test_health_answers_within_a_second_while_200_slow_or_idle_connections_are_open(instance_path, mode):
    server = LiveServer(instance_path)
    try:
        result = attack(server.url, mode=mode, count=200, duration=8, interval=2, probes=6, max_seconds=1.0)
        assert result["opened"] == 200
        assert result["ok"], result["probes"]  # every fresh /healthz answered 200 in under 1 s
        assert server.process.poll() is None
    finally:
        server.stop()


# --- a second start on a live instance (item 4) ------------------------------------------------


def _start(instance_path, port, token):
    environment = dict(os.environ, WSSERVER_INSTANCE_PATH=instance_path, WSSERVER_PORT=str(port),
                       WSSERVER_ADMIN_TOKEN=token)
    return subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=environment, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)


def test_a_second_server_on_a_live_instance_is_refused_and_changes_nothing(instance_path):
    server = LiveServer(instance_path)
    try:
        second_token = "wss_second-start-token-0123456789abcdefghijklmn"
        refused = _start(instance_path, server.port, second_token)
        assert refused.returncode == 2
        assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
        assert "already serving the instance" in refused.stderr
        # the token of the refused start never became valid; the running server's still is
        assert requests.get(server.url + f"{API}/me", headers=bearer(second_token), timeout=5).status_code == 401
        assert requests.get(server.url + f"{API}/me", headers=bearer(ADMIN_TOKEN), timeout=5).status_code == 200
    finally:
        server.stop()


def test_a_port_in_use_is_refused_before_the_instance_is_touched(tmp_path, instance_path):
    server = LiveServer(instance_path)
    other = str(tmp_path / "other-instance")
    try:
        refused = _start(other, server.port, "wss_other-instance-token-0123456789abcdefghijk")
        assert refused.returncode == 2
        assert refused.stderr.strip() == f"wsserver: cannot start: cannot listen on 127.0.0.1:{server.port}: the port is in use"
        assert not os.path.exists(os.path.join(other, "wsserver.sqlite3"))  # no database, no admin
        assert not os.path.exists(os.path.join(other, "admin-token"))
    finally:
        server.stop()


# --- a full disk (item 11) ---------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """A 3 MB tmpfs (conftest.SmallDisk: needs root, as CI has)."""
    if on_postgresql():
        pytest.skip("SQLite only: the full-disk tests fill the disk under the instance's SQLite file")
    disk = SmallDisk.mount(tmp_path / "small-disk", "3m")
    yield disk
    disk.unmount()


def test_writes_on_a_full_disk_answer_507_and_readiness_names_the_storage(small_disk):
    instance = os.path.join(small_disk.path, "instance")
    # no reserve (the default 64 MiB would refuse every write on a 3 MB disk) and no request budget (its
    # counters, on the same full disk, would refuse every request first: 503, tests/test_budget_limits.py):
    # here the writes themselves meet the full disk (test_quotas.py: the reserve refusing first)
    server = LiveServer(instance, env={"WSSERVER_DISK_RESERVE_MB": "0", "WSSERVER_RATE_LIMIT": "off"})
    url = server.url + API
    headers = bearer(ADMIN_TOKEN)
    try:
        assert requests.put(f"{url}/workspaces/before", json={"fullname": "before"}, headers=headers, timeout=10).status_code == 201
        assert requests.get(server.url + "/readyz", timeout=5).json()["checks"]["storage"] is True
        small_disk.fill()
        for attempt in range(3):
            refused = requests.put(f"{url}/workspaces/during-{attempt}", json={"fullname": f"during-{attempt}", "tags": [f"tag-{n}" for n in range(20)]},
                                   headers=headers, timeout=10)
            assert refused.status_code == 507, refused.text
            body = refused.json()
            assert set(body) == {"error"} and "storage is full" in body["error"]["message"]
        avatar = requests.post(f"{url}/workspaces/before/avatar", headers=headers, timeout=10,
                               json={"filename": "a.png", "contentType": "image/png", "data": png_base64(side=64)})
        assert avatar.status_code == 507, avatar.text
        ready = requests.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 503
        assert "storage" in ready.json()["error"]["details"]
        small_disk.free()
        # nothing half-written: the refused workspaces do not exist, the earlier one is intact
        assert requests.get(f"{url}/workspaces/during-0", headers=headers, timeout=5).status_code == 404
        assert requests.get(f"{url}/workspaces/before", headers=headers, timeout=5).json()["meta"].get("avatar") is None
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
        assert requests.put(f"{url}/workspaces/after", json={"fullname": "after"}, headers=headers, timeout=10).status_code == 201
    finally:
        server.stop()
    assert "Traceback" not in server.output()
    with sqlite3.connect(os.path.join(instance, "wsserver.sqlite3")) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        names = sorted(row[0] for row in connection.execute("SELECT fullname FROM workspace"))
    assert names == ["after", "before"]


def test_starting_on_a_full_disk_is_one_line(small_disk):
    small_disk.fill()
    refused = _start(os.path.join(small_disk.path, "instance"), free_port(), ADMIN_TOKEN)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    assert "the disk is full" in refused.stderr


# --- unique-key races (item 12) ----------------------------------------------------------------


def test_a_unique_key_race_on_create_answers_409_not_500(client, admin_headers, monkeypatch):
    from wsserver.services import workspaces

    assert client.put(f"{API}/workspaces/raced", json={"fullname": "raced"}, headers=admin_headers).status_code == 201
    # the window of a race: the service looked and saw no row, then a concurrent creator inserted it
    monkeypatch.setattr(workspaces, "load", lambda account, fullname, lock=False, in_trash=False: (None, None))
    response = client.put(f"{API}/workspaces/raced", json={"fullname": "raced"}, headers=admin_headers)
    assert_error(response, 409)
    monkeypatch.undo()
    assert client.get(f"{API}/workspaces/raced", headers=admin_headers).status_code == 200


@pytest.mark.parametrize("error", [peewee.IntegrityError("UNIQUE constraint failed: account.username"),
                                   sqlite3.IntegrityError("UNIQUE constraint failed: account.username")])
def test_integrity_errors_of_any_engine_map_to_409_in_the_one_error_mapping(client, admin_headers, monkeypatch, error):
    from wsserver.services import accounts

    def raced(*args, **kwargs):
        raise error

    monkeypatch.setattr(accounts, "create_account", raced)
    response = client.post(f"{API}/accounts", json={"username": "twice"}, headers=admin_headers)
    assert_error(response, 409)


# --- the seed file's admin (item 15) -----------------------------------------------------------


SEED_WITHOUT_ADMIN = "accounts:\n  - {username: alice, password: alice-password}\nworkspaces: []\nmemberships: []\n"


def test_a_seed_file_without_an_admin_gets_the_bootstrap_admin_at_start_up(tmp_path, instance_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED_WITHOUT_ADMIN)
    app = create_app({"INSTANCE_PATH": instance_path, "SEED_FILE": str(seed), "TEST_MODE": True,
                      "RATE_LIMIT": "off"})
    token = open(os.path.join(instance_path, "admin-token")).read().strip()
    client = app.test_client()
    me = client.get(f"{API}/me", headers=bearer(token)).get_json()
    assert (me["username"], me["admin"]) == ("admin", True)
    assert client.get("/__admin__/requests", headers=bearer(token)).status_code == 200
    usernames = [a["username"] for a in client.get(f"{API}/accounts", headers=bearer(token)).get_json()]
    assert sorted(usernames) == ["admin", "alice"]


def test_flask_seed_without_an_admin_gets_the_same_bootstrap_admin(tmp_path, instance_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text(SEED_WITHOUT_ADMIN)
    environment = dict(os.environ, WSSERVER_INSTANCE_PATH=instance_path)
    environment.pop("WSSERVER_ADMIN_TOKEN", None)
    result = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "seed", str(seed)], cwd=ROOT,
                            env=environment, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert "instance admin 'admin' was created" in result.stdout
    token = open(os.path.join(instance_path, "admin-token")).read().strip()
    client = create_app({"INSTANCE_PATH": instance_path}).test_client()
    assert client.get(f"{API}/me", headers=bearer(token)).get_json()["admin"] is True


def test_a_seed_file_whose_admin_account_is_not_an_admin_is_refused_in_one_line(tmp_path, instance_path):
    seed = tmp_path / "seed.yaml"
    seed.write_text("accounts:\n  - {username: admin}\nworkspaces: []\nmemberships: []\n")
    environment = dict(os.environ, WSSERVER_INSTANCE_PATH=instance_path, WSSERVER_SEED_FILE=str(seed),
                       WSSERVER_PORT=str(free_port()))
    environment.pop("WSSERVER_ADMIN_TOKEN", None)
    refused = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=environment, capture_output=True, text=True,
                             timeout=60, stdin=subprocess.DEVNULL)
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "Traceback" not in refused.stderr
    assert "No instance administrator exists" in refused.stderr


# --- the request head limits, now the app's own ------------------------------------------------


def test_a_request_target_over_8190_bytes_is_414_in_the_envelope(client, admin_headers):
    from wsserver.http.hooks import MAX_REQUEST_TARGET

    query = "q=" + "a" * (MAX_REQUEST_TARGET - len(f"{API}/workspaces?") - 2)
    assert client.get(f"{API}/workspaces?{query}", headers=admin_headers).status_code != 414  # at the limit
    error = assert_error(client.get(f"{API}/workspaces?{query}a", headers=admin_headers), 414)
    assert "8190" in error["message"]


def test_a_header_over_8190_bytes_or_over_100_headers_is_431_in_the_envelope(client, admin_headers):
    from wsserver.http.hooks import MAX_HEADER_BYTES, MAX_HEADERS

    assert client.get(f"{API}/me", headers={**admin_headers, "X-Big": "a" * 1000}).status_code == 200
    assert_error(client.get(f"{API}/me", headers={**admin_headers, "X-Big": "a" * MAX_HEADER_BYTES}), 431)
    many = {f"X-H{n}": "1" for n in range(MAX_HEADERS)}
    assert_error(client.get(f"{API}/me", headers={**admin_headers, **many}), 431)

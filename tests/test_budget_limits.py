"""Issue 28, "Limits fail closed": when the counters of the rate limit and the login lock-out cannot be
read or written (a full disk, Redis stopped, a read-only or locked counter file), a password login and
every budgeted request answer 503 with Retry-After (the envelope, or the flavor's shape) naming
`limits`, never let through uncounted; /readyz answers 503 naming `limits`; the exempt paths keep
answering; everything works again once the counters do.

The counters are a SQLite side file in the instance folder (or Redis) whatever engine holds the data,
so every test here runs on both engines.
"""
import os
import shutil
import sqlite3
import subprocess
import time

import pytest

from conftest import ADMIN_TOKEN, API, LiveServer, SmallDisk, assert_error, basic, bearer, free_port, needs
from test_hardening_auth import PASSWORD, create_account, make_client, token_request
from ui_helpers import csrf_token

RETRY_AFTER = "5"


def assert_counters_unavailable(response):
    """503 in the envelope, naming `limits`, with Retry-After."""
    error = assert_error(response, 503, {"limits"})
    assert "cannot be counted" in error["message"]
    assert response.headers["Retry-After"] == RETRY_AFTER
    return error


def assert_readiness_names_limits(client):
    ready = client.get("/readyz")
    assert_error(ready, 503)
    assert "limits" in ready.get_json()["error"]["details"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200


# --- (a) the repro: a full disk under the counter file ------------------------------------


def test_on_a_full_disk_no_login_is_answered_uncounted_and_all_recovers(tmp_path):
    disk = SmallDisk.mount(tmp_path / "small-disk", "3m")
    try:
        # the default lock-out (10 per 15 minutes); no disk reserve, which would refuse this small disk's writes
        # from the start (the counters are written on reads too: the reserve does not keep them from the full disk)
        client = make_client(os.path.join(disk.path, "instance"), DISK_RESERVE_MB=0)
        token = create_account(client, "victim")
        assert client.get(f"{API}/me", headers=basic("victim", "wrong")).status_code == 401  # counted
        disk.fill()
        # today's main: 30 × 401 (the lock-out blind), then the right password 200
        guesses = [client.get(f"{API}/me", headers=basic("victim", f"guess-{n}")) for n in range(30)]
        assert [answer.status_code for answer in guesses] == [503] * 30
        for answer in guesses:
            assert_counters_unavailable(answer)
        assert_counters_unavailable(client.get(f"{API}/me", headers=basic("victim", PASSWORD)))
        assert_counters_unavailable(client.post(f"{API}/token", json=token_request("victim", PASSWORD)))
        # a valid token on a budgeted route: its budget cannot be counted either
        assert_counters_unavailable(client.get(f"{API}/me", headers=bearer(token)))
        assert_readiness_names_limits(client)

        disk.free()
        assert client.get("/readyz").get_json()["checks"]["limits"] is True
        assert client.get(f"{API}/me", headers=basic("victim", "wrong")).status_code == 401
        assert client.get(f"{API}/me", headers=basic("victim", PASSWORD)).status_code == 200
        assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200
    finally:
        disk.unmount()


def test_the_real_server_on_a_full_disk_refuses_logins_in_every_worker(tmp_path):
    # the repro from outside: `python app.py` (2 worker processes) on a 12 MB instance
    import requests

    disk = SmallDisk.mount(tmp_path / "small-disk", "12m")
    server = LiveServer(os.path.join(disk.path, "instance"), env={"WSSERVER_DISK_RESERVE_MB": "0"})  # as above
    try:
        url = server.url + API
        made = requests.post(f"{url}/accounts", json={"username": "victim", "password": PASSWORD},
                             headers=bearer(ADMIN_TOKEN), timeout=10)
        assert made.status_code == 201, made.text
        disk.fill()
        guesses = [requests.get(f"{url}/me", auth=("victim", f"guess-{n}"), timeout=20) for n in range(30)]
        assert [answer.status_code for answer in guesses] == [503] * 30
        assert all(answer.headers["Retry-After"] == RETRY_AFTER for answer in guesses)
        assert "limits" in guesses[0].json()["error"]["details"]
        assert requests.get(f"{url}/me", auth=("victim", PASSWORD), timeout=20).status_code == 503
        ready = requests.get(server.url + "/readyz", timeout=5)
        assert ready.status_code == 503 and "limits" in ready.json()["error"]["details"]
        disk.free()
        assert requests.get(f"{url}/me", auth=("victim", PASSWORD), timeout=20).status_code == 200
    finally:
        server.stop()
        disk.unmount()
    assert "Traceback" not in server.output()


# --- (b) Redis stopped ------------------------------------------------------------------------------


class OwnRedis:
    """A redis-server of this test alone on a free loopback port (never the shared one on 6379)."""

    def __init__(self, tmp_path):
        self.folder = str(tmp_path)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        import redis

        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", self.folder],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        probe = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                probe.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise
                time.sleep(0.05)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path):
    needs(shutil.which("redis-server") is None, "REDIS TEST NOT RUN: redis-server is not installed (apt install redis-server)")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("budget", ["100000/minute", "off"], ids=["budget-on", "logins-only"])
def test_with_redis_stopped_logins_and_budgeted_requests_are_refused_until_it_is_back(instance_path, own_redis, budget):
    client = make_client(instance_path, RATELIMIT_STORAGE=own_redis.url, RATE_LIMIT=budget)
    token = create_account(client, "ada")
    assert client.get(f"{API}/me", headers=basic("ada", PASSWORD)).status_code == 200
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401
    form_token = csrf_token(client.get("/ui/sign-in"))

    own_redis.stop()
    assert_counters_unavailable(client.get(f"{API}/me", headers=basic("ada", "wrong")))
    assert_counters_unavailable(client.get(f"{API}/me", headers=basic("ada", PASSWORD)))
    assert_counters_unavailable(client.post(f"{API}/token", json=token_request("ada", PASSWORD)))
    signed_in = client.post("/ui/sign-in", data={"csrf_token": form_token, "username": "ada", "password": PASSWORD})
    assert signed_in.status_code == 503 and signed_in.headers["Retry-After"] == RETRY_AFTER
    assert "Set-Cookie" not in signed_in.headers
    if budget == "off":
        assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200  # nothing to count
    else:
        assert_counters_unavailable(client.get(f"{API}/me", headers=bearer(token)))
        # a flavor's request: the same refusal in that service's error shape (DRF's {"detail"})
        flavored = client.get("/flavors/engineering/api/workspaces/", headers=bearer(token))
        assert flavored.status_code == 503 and flavored.headers["Retry-After"] == RETRY_AFTER
        assert set(flavored.get_json()) == {"detail"} and "cannot be counted" in flavored.get_json()["detail"]
    assert_readiness_names_limits(client)

    own_redis.start()
    assert client.get("/readyz").status_code == 200
    assert client.get("/readyz").get_json()["checks"]["limits"] is True
    assert client.get(f"{API}/me", headers=basic("ada", PASSWORD)).status_code == 200
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401
    assert client.get(f"{API}/me", headers=bearer(token)).status_code == 200


# --- (c) a read-only or locked counter file --------------------------------------------------------


def _counter_file(instance_path):
    return os.path.join(instance_path, "ratelimit.sqlite3")


@pytest.mark.parametrize("budget", ["100000/minute", "off"], ids=["budget-on", "logins-only"])
def test_a_read_only_counter_file_refuses_logins_and_budgeted_requests(instance_path, budget):
    # counters that can be read but not written: a right password must not answer 200 while a wrong
    # one answers 503 (an oracle for guessing freely), so every attempt is counted before its check
    client = make_client(instance_path, RATE_LIMIT=budget)
    token = create_account(client, "ada")
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401  # the file exists
    counters = _counter_file(instance_path)
    # root writes through file modes, so a read-only bind mount of the file itself
    bound = subprocess.run(["mount", "--bind", counters, counters], capture_output=True, text=True)
    needs(bound.returncode != 0, f"READ-ONLY COUNTER TEST NOT RUN: cannot bind-mount ({bound.stderr.strip()}); it needs root")
    try:
        remounted = subprocess.run(["mount", "-o", "remount,ro,bind", counters], capture_output=True, text=True)
        assert remounted.returncode == 0, remounted.stderr
        reopened = make_client(instance_path, RATE_LIMIT=budget)  # a new process opens the file read-only
        assert_counters_unavailable(reopened.get(f"{API}/me", headers=basic("ada", "wrong")))
        assert_counters_unavailable(reopened.get(f"{API}/me", headers=basic("ada", PASSWORD)))
        assert_counters_unavailable(reopened.post(f"{API}/token", json=token_request("ada", PASSWORD)))
        if budget == "off":
            assert reopened.get(f"{API}/me", headers=bearer(token)).status_code == 200  # nothing to count
        else:
            assert_counters_unavailable(reopened.get(f"{API}/me", headers=bearer(token)))
        assert_readiness_names_limits(reopened)
    finally:
        subprocess.run(["umount", "-l", counters], capture_output=True)  # lazily: the refused app still has it open
    again = make_client(instance_path, RATE_LIMIT=budget)
    assert again.get(f"{API}/me", headers=basic("ada", PASSWORD)).status_code == 200
    assert again.get("/readyz").status_code == 200


def test_a_counter_file_locked_past_its_timeout_refuses_a_login(instance_path):
    client = make_client(instance_path, RATE_LIMIT="off")  # the login limits only
    create_account(client, "ada")
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401
    holder = sqlite3.connect(_counter_file(instance_path), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holding the write lock (the counters wait 5 s)
    try:
        assert_counters_unavailable(client.get(f"{API}/me", headers=basic("ada", "wrong")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert client.get(f"{API}/me", headers=basic("ada", PASSWORD)).status_code == 200
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401


def test_a_right_password_is_not_left_counted_as_a_failure(instance_path):
    # every attempt is counted before its password is checked; a right one is taken back
    client = make_client(instance_path, LOGIN_LOCKOUT="3/15 minutes", LOGIN_BRAKE="3/hour")
    create_account(client, "ada")
    assert [client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code for _ in range(2)] == [401, 401]
    assert [client.get(f"{API}/me", headers=basic("ada", PASSWORD)).status_code for _ in range(5)] == [200] * 5
    assert client.get(f"{API}/me", headers=basic("ada", "wrong")).status_code == 401  # the third failure
    locked = client.get(f"{API}/me", headers=basic("ada", PASSWORD))
    assert_error(locked, 429)


def test_readiness_names_the_counters_check_only_when_a_limit_is_on(instance_path):
    on = make_client(instance_path)
    assert on.get("/readyz").get_json()["checks"]["limits"] is True
    off = make_client(instance_path, RATE_LIMIT="off", LOGIN_LOCKOUT="off", LOGIN_BRAKE="off")
    assert "limits" not in off.get("/readyz").get_json()["checks"]

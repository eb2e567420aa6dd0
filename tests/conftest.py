"""Shared fixtures: an app on a temporary instance folder, accounts, a real server process."""
import base64
import json
import logging
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from wsserver import create_app  # noqa: E402
from wsserver.testing.server import LiveServer as BaseLiveServer, free_port  # noqa: E402,F401

# The engine the suite runs on (--engine), and a database per test on PostgreSQL: see engines.py.
from engines import (  # noqa: E402,F401
    database_of_this_test,
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
    pytest_report_header,
    pytest_unconfigure,
)

# Every log line of the test run (in-process records and real servers' output),
# checked for leaked secrets by tests/test_zz_log_redaction.py at the end.
CAPTURED_LOGS = []


class _CaptureHandler(logging.Handler):
    def emit(self, record):
        CAPTURED_LOGS.append(self.format(record))


@pytest.fixture(scope="session", autouse=True)
def capture_all_logs():
    handler = _CaptureHandler(level=logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    yield CAPTURED_LOGS
    root.removeHandler(handler)

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def needs(missing, message):
    """When something a test needs is `missing`: skip with one loud line outside CI, fail in CI
    (which installs and starts everything the suite needs, so a gap there is a fault)."""
    if not missing:
        return
    if IN_CI:
        pytest.fail(f"{message}; CI must run it", pytrace=False)
    pytest.skip(message)


ADMIN_TOKEN = "wss_test-admin-token-0123456789abcdefghijklmnopqrstuv"
API = "/api/v2"
# High enough never to throttle a test, so the limiter still runs on every request.
TEST_RATE_LIMIT = "100000/minute"


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def basic(username, password):
    raw = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@pytest.fixture
def instance_path(tmp_path):
    path = tmp_path / "instance"
    path.mkdir()
    return str(path)


@pytest.fixture
def app(instance_path):
    return create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin_headers():
    return bearer(ADMIN_TOKEN)


class Accounts:
    """Creates accounts through the API (as the instance admin) and remembers their tokens."""

    def __init__(self, client):
        self.client = client

    def create(self, username, password=None, admin=False, nickname=None):
        body = {"username": username, "admin": admin}
        if password:
            body["password"] = password
        if nickname:
            body["nickname"] = nickname
        response = self.client.post(f"{API}/accounts", json=body, headers=bearer(ADMIN_TOKEN))
        assert response.status_code == 201, response.get_json()
        data = response.get_json()
        return {"id": data["account"]["id"], "username": username, "token": data["token"],
                "headers": bearer(data["token"])}


# When the `clock` fixture's time starts.
T0 = "2030-01-01T12:00:00.000Z"


@pytest.fixture
def clock(monkeypatch):
    """The time every now_iso() returns (test mode's fixed time), moved with clock.set(seconds after T0)."""
    from wsserver import ids

    class Clock:
        def set(self, seconds=0):
            monkeypatch.setattr(ids, "_fixed_time", ids.shifted(T0, seconds))

    clock = Clock()
    clock.set(0)
    return clock


@pytest.fixture
def accounts(client):
    return Accounts(client)


@pytest.fixture
def make_workspace(client):
    """PUT a new workspace as the given caller; returns the WorkspaceView."""

    def make(headers, fullname, **fields):
        response = client.put(f"{API}/workspaces/{fullname}", json={"fullname": fullname, **fields}, headers=headers)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def join(client):
    """Make `member` join `fullname` (invite read by `owner_headers`) and set its level."""

    def add(owner_headers, fullname, member, level="user"):
        invite = client.get(f"{API}/workspaces/{fullname}", headers=owner_headers).get_json()["invite"]
        response = client.post(f"{API}/workspaces/{fullname}/acl", json={"invite": invite}, headers=member["headers"])
        assert response.status_code == 204, response.get_json()
        entries = client.get(f"{API}/workspaces/{fullname}/acl", headers=owner_headers).get_json()
        entry = next(e for e in entries if e["user"]["id"] == member["id"])
        if level != "user":
            response = client.put(
                f"{API}/workspaces/{fullname}/acl/{entry['id']}", json={"level": level}, headers=owner_headers
            )
            assert response.status_code == 204, response.get_json()
        return entry["id"]

    return add


class LiveServer(BaseLiveServer):
    """`python app.py` in a subprocess on a free loopback port (wsserver.testing.server.LiveServer, with
    this suite's settings under `env`), started at once; stop() adds its output to CAPTURED_LOGS."""

    def __init__(self, instance_path, env=None, args=(), new_session=False):
        defaults = {
            "WSSERVER_ADMIN_TOKEN": ADMIN_TOKEN,
            "WSSERVER_WORKERS": "2",
            "WSSERVER_THREADS": "4",
            "WSSERVER_RATE_LIMIT": TEST_RATE_LIMIT,
        }
        super().__init__(instance_path, env={**defaults, **(env or {})}, args=args, new_session=new_session,
                         command=(sys.executable, os.path.join(ROOT, "app.py")), cwd=ROOT)
        self.start()

    def stop(self, timeout=30):
        first = self.log is not None and not self.log.closed
        returncode = super().stop(timeout)
        if first:
            CAPTURED_LOGS.append(self.output())
        return returncode


class SmallDisk:
    """A tmpfs of `size` mounted at `folder` (needs root, as CI has; elsewhere the test is skipped with one
    loud line, and fails in CI): `fill()` takes every free byte, `free()` gives it back."""

    def __init__(self, folder):
        self.path = str(folder)
        self.filler = os.path.join(self.path, "filler")

    @classmethod
    def mount(cls, folder, size):
        os.makedirs(folder, exist_ok=True)
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                                 capture_output=True, text=True)
        needs(mounted.returncode != 0,
              f"FULL-DISK TEST NOT RUN: cannot mount a tmpfs ({mounted.stderr.strip()}); it needs root")
        return cls(folder)

    def fill(self):
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (65536, 4096, 512, 1):  # down to the last byte
                try:
                    while True:
                        os.write(descriptor, b"\0" * size)
                except OSError:
                    pass
        finally:
            os.close(descriptor)

    def free(self):
        os.remove(self.filler)

    def unmount(self):
        subprocess.run(["umount", "-l", self.path], capture_output=True)


@pytest.fixture
def live_server(instance_path):
    server = LiveServer(instance_path)
    yield server
    server.stop()


def assert_error(response, status, details=None):
    """The contract's envelope {"error": {"message": str, "details": dict}}, as JSON (a Flask test
    response) with this status (or one of these statuses); `details`, when given, are exactly the
    fields it names."""
    statuses = status if isinstance(status, (set, frozenset, tuple, list)) else {status}
    assert response.status_code in statuses, (response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"message", "details"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["details"], dict)
    if details is not None:
        assert set(body["error"]["details"]) == set(details), body
    return body["error"]


def assert_no_content(response):
    """204: no body at all, and nothing claiming there is one."""
    assert response.status_code == 204, response.get_data(as_text=True)
    assert response.get_data() == b""
    assert response.headers.get("Content-Length") in (None, "0")
    assert "Content-Type" not in response.headers


def png_base64(color="red", side=8):
    """A small PNG of one colour, base64-encoded as an avatar upload carries it."""
    import base64
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (side, side), color).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


class SeededModuleApp:
    """One app per test module over a seed file, for modules of many read-only tests. On PostgreSQL every
    test starts on emptied tables (tests/engines.py): `reseed()`, from an autouse fixture that depends on
    `database_of_this_test`, loads the seed again."""

    def __init__(self, request, tmp_path_factory, name, seed, **settings):
        folder = tmp_path_factory.mktemp(name)
        (folder / "instance").mkdir()
        (folder / "seed.json").write_text(json.dumps(seed))
        self.seed = seed
        self.settings = {"INSTANCE_PATH": str(folder / "instance"), "ADMIN_TOKEN": ADMIN_TOKEN,
                         "RATE_LIMIT": TEST_RATE_LIMIT, "SEED_FILE": str(folder / "seed.json"), **settings}
        postgres = request.config.wsserver_postgres
        if postgres is not None:
            self.settings["DATABASE_URL"] = postgres.url
        self.app = create_app(self.settings)

    def reseed(self, test_database):
        if test_database is None:  # SQLite: the module's own file, left as the seed made it
            return
        from wsserver.storage.db import close_all_connections
        from wsserver.testing.seed import seed_instance, validate_document

        close_all_connections()  # the harness ended this app's sessions when it emptied the tables
        with self.app.app_context():
            seed_instance(validate_document(self.seed), replace=True)

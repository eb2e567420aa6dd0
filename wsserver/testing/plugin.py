"""pytest plugin: wsserver as a fake workspace API inside other projects' test suites.

Installing wsserver enables it (entry point `pytest11`); otherwise load it
with `-p wsserver.testing` or `pytest_plugins = ["wsserver.testing"]` in a
root conftest.py. Fixtures (all in test mode, see the README section "Using
wsserver as a test double"):

- `wsserver_app`: an in-process Flask app on a fresh temporary instance
  folder, for each test (use `wsserver_app.test_client()`).
- `wsserver_url`: the base URL (`http://127.0.0.1:PORT`) of a real server
  process, started once per session on a free loopback port and reset to the
  seeded state before each test.
- `wsserver_admin`: an authenticated client for the instance admin of that
  server: `get`/`put`/`post`/`delete(path, **requests_options)`, plus
  `received()` (the requests the server got during this test) and `reset()`.
- `wsserver_server`: the server process itself (url, admin_token, output()).
- `wsserver_settings`: the settings of both (a dict of WSSERVER_* names
  without the prefix; they win over the environment's WSSERVER_* variables,
  None unsets one); override the fixture in a conftest.py to change them.
- `wsserver_admin_token`: the admin's token.
- `wsserver_ca_file`: with `--wsserver-tls` (the server serves HTTPS with a
  self-signed certificate for 127.0.0.1 and localhost), the CA file a test
  hands its client (`REQUESTS_CA_BUNDLE`, `SSL_CERT_FILE`, `verify=`).

Options: `--wsserver-seed FILE` (ini `wsserver_seed`), `--wsserver-fixed-time
TIME` (ini `wsserver_fixed_time`), `--wsserver-id-seed N` (ini
`wsserver_id_seed`), `--wsserver-tls` (ini `wsserver_tls`).

Nothing heavy is imported until a fixture is used: this module is loaded by
every pytest run of an environment where wsserver is installed.
"""
import json
import os
import urllib.error
import urllib.request

import pytest

from .server import LiveServer

ADMIN_TOKEN = "wss_wsserver-testing-admin-token-0123456789abcdefghij"
ADMIN_PATH = "/__admin__"


def pytest_addoption(parser):
    group = parser.getgroup("wsserver", "wsserver test double (fixtures wsserver_app, wsserver_url, wsserver_admin)")
    group.addoption("--wsserver-seed", metavar="FILE", help="seed file (JSON or YAML) loaded into the wsserver fixtures")
    group.addoption("--wsserver-fixed-time", metavar="TIME", help="ISO 8601 time every createdAt/updatedAt is pinned to")
    group.addoption("--wsserver-id-seed", metavar="N", type=int, help="integer making ids and tokens reproducible")
    group.addoption("--wsserver-tls", action="store_true", default=None,
                    help="the live server serves HTTPS with a self-signed certificate (fixture wsserver_ca_file)")
    parser.addini("wsserver_seed", "seed file (JSON or YAML) for the wsserver fixtures, relative to the ini file", type="paths")
    parser.addini("wsserver_fixed_time", "ISO 8601 time every createdAt/updatedAt of wsserver is pinned to")
    parser.addini("wsserver_id_seed", "integer making wsserver's ids and tokens reproducible")
    parser.addini("wsserver_tls", "true: the live server serves HTTPS with a self-signed certificate", type="bool",
                  default=False)


def _option(config, name, ini_name):
    value = config.getoption(name)
    if value is None:
        value = config.getini(ini_name)
        if isinstance(value, list):  # type="paths"
            value = str(value[0]) if value else None
    return value or None


@pytest.fixture(scope="session")
def wsserver_admin_token():
    return ADMIN_TOKEN


@pytest.fixture(scope="session")
def wsserver_settings(pytestconfig, wsserver_admin_token):
    """WSSERVER_* settings (names without the prefix) of wsserver_app and wsserver_server."""
    settings = {"TEST_MODE": True, "ADMIN_TOKEN": wsserver_admin_token, "WORKERS": 1, "THREADS": 8}
    seed_file = _option(pytestconfig, "wsserver_seed", "wsserver_seed")
    if seed_file:
        settings["SEED_FILE"] = os.path.abspath(seed_file)
    fixed_time = _option(pytestconfig, "wsserver_fixed_time", "wsserver_fixed_time")
    if fixed_time:
        settings["FIXED_TIME"] = fixed_time
    id_seed = _option(pytestconfig, "wsserver_id_seed", "wsserver_id_seed")
    if id_seed is not None:
        settings["SEED"] = int(id_seed)
    if _option(pytestconfig, "wsserver_tls", "wsserver_tls"):
        settings["TLS"] = "self-signed"
    return settings


@pytest.fixture
def wsserver_app(tmp_path_factory, wsserver_settings):
    """A wsserver Flask app in this process, on a fresh temporary instance folder, in test mode."""
    from wsserver import create_app
    from wsserver.storage.db import close_connection

    instance = tmp_path_factory.mktemp("wsserver-instance")
    app = create_app({**wsserver_settings, "INSTANCE_PATH": str(instance)})
    yield app
    close_connection()


# --- a real server ------------------------------------------------------------------------------------


def _environment_value(value):
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ",".join(str(item) for item in value)
    return str(value)


class WsserverServer(LiveServer):
    """The live server (`wsserver.ops.serve.main`) with these settings, and its instance admin's calls.

    Like wsserver_app: WSSERVER_* of the environment, overridden by the settings (None: unset).
    """

    def __init__(self, instance_path, settings):
        self.settings = dict(settings)
        self.admin_token = self.settings.get("ADMIN_TOKEN")
        env = {
            "WSSERVER_" + name: None if value is None else _environment_value(value)
            for name, value in self.settings.items()
        }
        super().__init__(instance_path, env=env)

    def admin_call(self, method, path):
        """An admin request with the standard library (no dependency); returns the decoded JSON."""
        call = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"Bearer {self.admin_token}"}
        )
        try:
            with urllib.request.urlopen(call, timeout=30, context=self.tls_context()) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read().decode('utf-8', 'replace')}") from None

    def reset(self):
        """POST /__admin__/reset: back to the seeded state."""
        return self.admin_call("POST", ADMIN_PATH + "/reset")

    def received(self):
        """GET /__admin__/requests: the requests received since the last reset, oldest first."""
        return self.admin_call("GET", ADMIN_PATH + "/requests")


@pytest.fixture(scope="session")
def wsserver_server(tmp_path_factory, wsserver_settings):
    """A real wsserver process for the whole session (reset by wsserver_url before each test)."""
    server = WsserverServer(tmp_path_factory.mktemp("wsserver-server"), wsserver_settings).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def wsserver_ca_file(wsserver_server):
    """The CA file a client trusts to reach the session's server over HTTPS (`--wsserver-tls`, or
    TLS: self-signed in wsserver_settings); e.g. monkeypatch.setenv("REQUESTS_CA_BUNDLE", it)."""
    if wsserver_server.ca_file is None:
        pytest.fail("wsserver_ca_file: the server serves plain HTTP; run pytest with --wsserver-tls "
                    "(or set TLS: self-signed in wsserver_settings)")
    return wsserver_server.ca_file


@pytest.fixture
def wsserver_url(wsserver_server):
    """Base URL of the session's wsserver, reset to the seeded state for this test."""
    wsserver_server.reset()
    return wsserver_server.url


class AdminClient:
    """The instance admin on a wsserver: a requests.Session with the Authorization header and a base URL.

    `get/put/post/delete(path, **options)` take paths (`/api/v2/workspaces`)
    and requests' options (`json=`, `params=`, `headers=`) and return
    requests' Response.
    """

    def __init__(self, base_url, token, ca_file=None):
        try:
            import requests
        except ImportError:  # pragma: no cover - depends on the environment
            pytest.fail("the wsserver_admin fixture needs the requests package: pip install requests")
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.ca_file = ca_file  # given on each request: a session's `verify` loses to REQUESTS_CA_BUNDLE

    def request(self, method, path, **options):
        options.setdefault("timeout", 30)
        if self.ca_file:
            options.setdefault("verify", self.ca_file)
        return self.session.request(method, self.base_url + path, **options)

    def get(self, path, **options):
        return self.request("GET", path, **options)

    def put(self, path, **options):
        return self.request("PUT", path, **options)

    def post(self, path, **options):
        return self.request("POST", path, **options)

    def delete(self, path, **options):
        return self.request("DELETE", path, **options)

    def reset(self):
        answer = self.post(ADMIN_PATH + "/reset")
        answer.raise_for_status()
        return answer.json()

    def received(self):
        """The requests the server received since the last reset: [{method, path, query, status, bodySize}]."""
        answer = self.get(ADMIN_PATH + "/requests")
        answer.raise_for_status()
        return answer.json()

    def close(self):
        self.session.close()


@pytest.fixture
def wsserver_admin(wsserver_url, wsserver_server):
    """An authenticated client for the instance admin of the (freshly reset) session server."""
    client = AdminClient(wsserver_url, wsserver_server.admin_token, wsserver_server.ca_file)
    yield client
    client.close()

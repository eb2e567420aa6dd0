"""The real server process: `python app.py` on a free loopback port, spoken to over HTTP."""
import requests

from conftest import ADMIN_TOKEN, API, bearer


def test_real_server_serves_the_api_over_http(live_server):
    assert requests.get(live_server.url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(live_server.url + "/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": True, "avatars": True, "storage": True, "limits": True}}

    created = requests.put(
        f"{live_server.url}{API}/workspaces/live-one",
        json={"fullname": "live-one", "tags": ["x"]},
        headers=bearer(ADMIN_TOKEN),
        timeout=5,
    )
    assert created.status_code == 201
    assert created.headers["Content-Type"] == "application/json"
    assert created.json()["fullname"] == "live-one"

    listed = requests.get(f"{live_server.url}/api/workspaces", headers=bearer(ADMIN_TOKEN), timeout=5)
    assert [w["fullname"] for w in listed.json()] == ["live-one"]

    anonymous = requests.get(f"{live_server.url}{API}/workspaces", timeout=5)
    assert anonymous.status_code == 401
    assert "WWW-Authenticate" in anonymous.headers
    assert anonymous.json()["error"]["message"]


def test_real_server_is_not_flask_development_server(live_server):
    response = requests.get(live_server.url + "/healthz", timeout=5)
    assert "Werkzeug" not in response.headers.get("Server", "")


def test_sigterm_stops_the_server_cleanly(live_server):
    assert live_server.stop() == 0

"""Every non-2xx answer is the envelope {"error": {"message", "details"}} as application/json."""
import json
import logging

import pytest

from conftest import ADMIN_TOKEN, API, assert_error, bearer
from wsserver import create_app
from wsserver.storage.models import Workspace


# Every route that takes a JSON body, with a valid body for it.
BODY_ROUTES = [
    ("POST", f"{API}/token", {"app": "password", "credentials": {"username": "a", "password": "b"}}),
    ("POST", f"{API}/accounts", {"username": "someone"}),
    ("PUT", f"{API}/workspaces/target", {"fullname": "target"}),
    ("POST", f"{API}/workspaces/target/acl", {"invite": "wss_x"}),
    ("PUT", f"{API}/workspaces/target/acl/000000000000000000000000", {"level": "user"}),
    ("PUT", "/api/workspaces/target", {"fullname": "target"}),
]
BODY_IDS = ["token", "accounts", "workspace", "join", "level", "workspace-alias"]


def send(client, method, url, admin_headers, **kwargs):
    return client.open(url, method=method, headers=admin_headers, **kwargs)


@pytest.mark.parametrize("url", ["/nothing-here", f"{API}/nothing-here", "/api/nothing", f"{API}/workspaces/a/b/c/d"])
def test_unknown_route_is_404_envelope(client, admin_headers, url):
    assert_error(client.get(url, headers=admin_headers), 404)


def test_unknown_route_without_credentials_is_404_envelope_too(client):
    assert_error(client.get("/nothing-here"), 404)


@pytest.mark.parametrize(
    "method, url, allowed",
    [
        ("PATCH", f"{API}/workspaces/team", {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
        ("POST", f"{API}/workspaces", {"GET", "HEAD", "OPTIONS"}),
        ("GET", f"{API}/workspaces/team/acl/abc", {"PUT", "DELETE", "OPTIONS"}),
        ("DELETE", f"{API}/workspaces/team/acl", {"GET", "HEAD", "POST", "OPTIONS"}),
        ("GET", f"{API}/token", {"POST", "OPTIONS"}),
        ("PUT", "/api/me", {"GET", "HEAD", "OPTIONS"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
    ],
)
def test_wrong_method_is_405_envelope_with_allow(client, admin_headers, method, url, allowed):
    response = client.open(url, method=method, headers=admin_headers)
    assert_error(response, 405)
    assert {item.strip() for item in response.headers["Allow"].split(",")} == allowed


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_too_large_body_is_413_envelope(client, app, admin_headers, method, url, body):
    limit = app.config["MAX_CONTENT_LENGTH"]
    payload = json.dumps({**body, "padding": "x" * limit})
    response = send(client, method, url, admin_headers, data=payload, content_type="application/json")
    assert_error(response, 413)
    assert Workspace.select().count() == 0


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_non_json_body_is_415_envelope(client, admin_headers, method, url, body):
    response = send(client, method, url, admin_headers, data=json.dumps(body), content_type="text/plain")
    assert_error(response, 415)
    assert Workspace.select().count() == 0


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_form_body_is_415_envelope(client, admin_headers, method, url, body):
    response = send(client, method, url, admin_headers, data={"fullname": "target"})
    assert_error(response, 415)


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_malformed_json_is_400_envelope(client, admin_headers, method, url, body):
    broken = json.dumps(body)[:-1]
    response = send(client, method, url, admin_headers, data=broken, content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_deeply_nested_json_is_400_envelope(client, admin_headers, method, url, body):
    deep = "[" * 100_000 + "]" * 100_000
    response = send(client, method, url, admin_headers, data=deep, content_type="application/json")
    assert_error(response, 400)


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
def test_invalid_utf8_is_400_envelope(client, admin_headers, method, url, body):
    data = json.dumps(body).encode()[:-1] + b', "x": "\xff\xfe\xc3"}'
    response = send(client, method, url, admin_headers, data=data, content_type="application/json")
    assert_error(response, 400)
    assert Workspace.select().count() == 0


@pytest.mark.parametrize("method, url, body", BODY_ROUTES, ids=BODY_IDS)
@pytest.mark.parametrize("document", ["[]", "[1, 2]", '"text"', "42", "null", "true"])
def test_json_body_that_is_not_an_object_is_422_envelope(client, admin_headers, method, url, body, document):
    response = send(client, method, url, admin_headers, data=document, content_type="application/json")
    assert_error(response, 422)
    assert Workspace.select().count() == 0


def test_json_array_body_names_the_body_in_details(client, admin_headers):
    response = client.put(f"{API}/workspaces/target", data="[1]", content_type="application/json",
                          headers=admin_headers)
    assert assert_error(response, 422, details={"body"})


def test_json_content_type_with_charset_is_accepted(client, admin_headers):
    response = client.put(f"{API}/workspaces/target", data=json.dumps({"fullname": "target"}),
                          content_type="application/json; charset=utf-8", headers=admin_headers)
    assert response.status_code == 201


SECRET = "pg-password=hunter2 at /srv/wsserver/secret.py"


@pytest.fixture
def fragile_client(instance_path):
    """A fresh app with one extra route that fails unexpectedly (registered before any request)."""
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "PROPAGATE_EXCEPTIONS": False,
                      "RATE_LIMIT": "100000/minute"})

    @app.route("/explode", methods=["GET", "POST"])
    def explode():
        raise RuntimeError(SECRET)

    @app.route("/explode-lookup")
    def explode_lookup():
        return {}["missing-key-" + SECRET]

    return app.test_client()


@pytest.mark.parametrize("url", ["/explode", "/explode-lookup"])
def test_unexpected_exception_is_500_envelope_without_internals(fragile_client, url):
    response = fragile_client.get(url, headers=bearer(ADMIN_TOKEN))
    error = assert_error(response, 500, details={})
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "RuntimeError", "KeyError", "hunter2", "secret.py", ".py", 'File "', "explode"):
        assert leak not in text
    assert error["message"]


def test_unexpected_exception_is_logged_for_the_operator(fragile_client):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler = Keep(level=logging.ERROR)
    logger = logging.getLogger("wsserver")
    logger.addHandler(handler)
    try:
        fragile_client.get("/explode")
    finally:
        logger.removeHandler(handler)
    assert any(record.exc_info and SECRET in str(record.exc_info[1]) for record in records)


def test_error_bodies_are_json_even_when_the_client_prefers_html(client):
    response = client.get("/nothing-here", headers={"Accept": "text/html"})
    assert_error(response, 404)
    response = client.get(f"{API}/me", headers={"Accept": "text/html"})
    assert_error(response, 401)

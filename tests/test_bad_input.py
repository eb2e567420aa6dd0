"""Bad input of every kind: each gets a 4xx in the error envelope and nothing stored changes."""
import os
import socket

import pytest
import requests

from conftest import ADMIN_TOKEN, API, assert_error, bearer
from engines import stored

WS = "target-ws"


@pytest.fixture
def seeded(client, admin_headers, instance_path):
    created = client.put(f"{API}/workspaces/{WS}", json={"fullname": WS, "tags": ["a"], "labels": {"k": "v"},
                                                           "meta": {"title": "T"}}, headers=admin_headers)
    assert created.status_code == 201
    entries = client.get(f"{API}/workspaces/{WS}/acl", headers=admin_headers).get_json()
    return {"entry": entries[0]["id"], "instance": instance_path, "avatars": os.path.join(instance_path, "avatars")}


# What a refused request must leave as it was: every stored column, but the bookkeeping of a token's last
# use (written, at most once a minute, by any request the token authenticates, refused or not).
SNAPSHOT_QUERIES = {
    "account": "SELECT * FROM account",
    "token": "SELECT id, account_id, token_hash, name, created_at, prefix, expires_at, scope FROM token",
    "workspace": "SELECT * FROM workspace",
    "acl_entry": "SELECT * FROM acl_entry",
}


def snapshot(seeded):
    tables = {table: sorted(stored(seeded["instance"], query)) for table, query in SNAPSHOT_QUERIES.items()}
    return tables, sorted(os.listdir(seeded["avatars"]))


WRONG_VALUES = [1, -1, 1.5, True, None, "", "x" * 300, [], [1], ["a", None], {}, {"a": 1}, {"a": None}]

BODY_FIELDS = {
    ("PUT", f"{API}/workspaces/{WS}"): {
        "base": {"fullname": WS},
        "fields": ["fullname", "createOnly", "resetInvite", "tags", "labels", "meta"],
    },
    ("POST", f"{API}/workspaces/{WS}/acl"): {"base": {"invite": "x"}, "fields": ["invite"]},
    ("PUT", f"{API}/workspaces/{WS}/acl/ENTRY"): {"base": {"level": "user"}, "fields": ["level"]},
    ("POST", f"{API}/accounts"): {"base": {"username": "someone"}, "fields": ["username", "nickname", "password", "admin"]},
    ("POST", f"{API}/token"): {"base": {"app": "password", "credentials": {"username": "a", "password": "b"}},
                              "fields": ["app", "credentials"]},
    ("POST", f"{API}/workspaces/{WS}/avatar"): {
        "base": {"filename": "a.png", "contentType": "image/png", "data": "iVBORw0KGgo="},
        "fields": ["filename", "contentType", "data"],
    },
}

# Values that happen to be valid for a field, so they are not "wrong" there.
VALID = {
    "createOnly": lambda v: isinstance(v, bool),
    "resetInvite": lambda v: isinstance(v, bool),
    "admin": lambda v: isinstance(v, bool),
    "tags": lambda v: v == [],
    "labels": lambda v: v == {},
    "meta": lambda v: v == {},
    "nickname": lambda v: isinstance(v, str) and 1 <= len(v) <= 128,
    "password": lambda v: isinstance(v, str) and 8 <= len(v) <= 1024,
}


def _wrong_type_cases():
    for (method, path), spec in BODY_FIELDS.items():
        for field in spec["fields"]:
            for value in WRONG_VALUES:
                if not VALID.get(field, lambda v: False)(value):
                    yield method, path, field, value


WRONG_TYPE_CASES = list(_wrong_type_cases())


@pytest.mark.parametrize("method, path, field, value", WRONG_TYPE_CASES,
                         ids=[f"{m}-{p.split('/')[-1]}-{f}-{i}" for i, (m, p, f, _) in enumerate(WRONG_TYPE_CASES)])
def test_wrong_type_in_every_field_is_refused_and_changes_nothing(client, seeded, admin_headers, method, path, field, value):
    before = snapshot(seeded)
    body = dict(BODY_FIELDS[(method, path)]["base"], **{field: value})
    response = client.open(path.replace("ENTRY", seeded["entry"]), method=method, json=body, headers=admin_headers)
    assert_error(response, {400, 401, 403, 404, 413, 415, 422})
    assert snapshot(seeded) == before


def test_oversized_body_is_413_and_changes_nothing(client, seeded, admin_headers, app):
    before = snapshot(seeded)
    huge = b'{"fullname": "' + b"a" * (app.config["MAX_CONTENT_LENGTH"] + 1) + b'"}'
    response = client.put(f"{API}/workspaces/{WS}", data=huge, headers={**admin_headers, "Content-Type": "application/json"})
    assert_error(response, {413})
    assert snapshot(seeded) == before


@pytest.mark.parametrize("payload", [
    b"[" * 50000 + b"]" * 50000,
    b'{"fullname": "target-ws", "meta": ' + b'{"a": ' * 20000 + b"1" + b"}" * 20001,
    b'{"fullname": "\xff\xfe"}',
    b'{"fullname": "target-ws"',
    b"\x00\x01\x02",
    b"",
    b"null",
    b'"just a string"',
    b"[1, 2, 3]",
    b'{"fullname": "target-ws", "tags": NaN}',
])
def test_malformed_json_bodies_are_refused(client, seeded, admin_headers, payload):
    before = snapshot(seeded)
    response = client.put(f"{API}/workspaces/{WS}", data=payload, headers={**admin_headers, "Content-Type": "application/json"})
    assert_error(response, {400, 422})
    assert snapshot(seeded) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                          "application/xml"])
def test_non_json_bodies_are_415(client, seeded, admin_headers, content_type):
    before = snapshot(seeded)
    response = client.put(f"{API}/workspaces/{WS}", data=b"fullname=target-ws", headers={**admin_headers, "Content-Type": content_type})
    assert_error(response, {415})
    assert snapshot(seeded) == before


TRAVERSALS = ["..", "..%2f..%2fwsserver.sqlite3", "%2e%2e", "%2e%2e%2f%2e%2e", "..%5c..%5cwsserver.sqlite3",
              "%252e%252e%252f", "a%00b", "%c0%ae%c0%ae", "....//", "/etc/passwd", "%2fetc%2fpasswd"]


@pytest.mark.parametrize("trick", TRAVERSALS)
def test_path_traversal_in_every_path_parameter_is_404(client, seeded, admin_headers, trick):
    before = snapshot(seeded)
    paths = [
        ("GET", f"{API}/workspaces/{trick}"),
        ("DELETE", f"{API}/workspaces/{trick}"),
        ("GET", f"{API}/workspaces/{trick}/acl"),
        ("DELETE", f"{API}/workspaces/{WS}/acl/{trick}"),
        ("PUT", f"{API}/workspaces/{WS}/acl/{trick}"),
        ("GET", f"/avatars/{trick}"),
    ]
    for method, path in paths:
        kwargs = {"json": {"level": "user"}} if method == "PUT" else {}
        response = client.open(path, method=method, headers=admin_headers, **kwargs)
        error = assert_error(response, {400, 404, 405})
        assert "root:" not in str(error)
    assert snapshot(seeded) == before


def test_unknown_query_parameters_on_single_resources_change_nothing(client, seeded, admin_headers):
    response = client.get(f"{API}/workspaces/{WS}?x=%ff%fe", headers=admin_headers)
    assert response.status_code in (200, 422)


def _raw_request(port, data):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def test_raw_protocol_abuse_gets_enveloped_4xx_from_the_real_server(live_server):
    """What reaches the app is refused in the envelope; what the HTTP layer (granian) cannot parse
    as HTTP at all is refused there with a bare 4xx and a closed connection, never a 5xx."""
    port = live_server.port
    huge_query = "/api/v2/workspaces?" + "q=" + "a" * 9000
    enveloped = [
        (f"GET {huge_query} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode(), 414),
        (b"GET /api/v2/me HTTP/1.1\r\nHost: x\r\nAuthorization: Basic !!!notbase64\r\nConnection: close\r\n\r\n", 401),
    ]
    for data, expected in enveloped:
        answer = _raw_request(port, data)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert int(head.split(b" ")[1]) == expected, answer[:300]
        assert b"content-type: application/json" in head.lower(), head
        assert body.startswith(b'{"error"'), body[:200]
    not_http = [
        b"GET /api/v2/workspaces/\xff\xfe HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN_TOKEN.encode() + b"\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n",
        b"GET /api/v2/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\x00def\r\n\r\n",
        b"PUT /api/v2/workspaces/x HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GARBAGE\r\n\r\n",
        b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    ]
    for data in not_http:
        answer = _raw_request(port, data)
        head = answer.partition(b"\r\n\r\n")[0]
        assert 400 <= int(head.split(b" ")[1]) < 500, answer[:300]
        assert b"connection: close" in head.lower(), head
    # a huge header: granian refuses some (bare 431), lets others through to the app (431 envelope)
    for size in (9_000, 500_000):
        answer = _raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
                              + b"a" * size + b"\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:300]
    assert requests.get(live_server.url + "/healthz", timeout=5).status_code == 200


def test_header_injection_is_not_echoed(live_server):
    answer = _raw_request(
        live_server.port,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-ID: abc%0d%0aSet-Cookie: evil=1\r\nConnection: close\r\n\r\n",
    )
    assert b"Set-Cookie" not in answer
    assert b"evil" not in answer
    long_id = requests.get(live_server.url + "/healthz", headers={"X-Request-ID": "x" * 5000}, timeout=5)
    assert len(long_id.headers["X-Request-ID"]) == 32


def test_huge_but_acceptable_query_string_is_a_422_naming_the_parameter(live_server):
    response = requests.get(f"{live_server.url}{API}/workspaces", params={"unknown_" + "x" * 3000: "1"},
                            headers=bearer(ADMIN_TOKEN), timeout=10)
    assert response.status_code == 422
    assert response.json()["error"]["details"]

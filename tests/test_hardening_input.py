"""Input hardening (issue 12, items 8, 9, 10 and 17): each bad input gets its documented 4xx in
the error envelope, naming the field, and nothing stored changes.

- 8: a streamed (chunked, no Content-Length) body over the size limit is 413, as with a Content-Length;
- 9: a lone surrogate in any JSON string is 422 naming the field (it used to crash SQLite: 500);
- 10: an integer literal over 4,300 digits is 400 malformed JSON (it used to crash int(): 500);
- 17: secret-looking query parameters are masked in the access log; control characters are refused
  in names, tags, label keys and titles (422), while label values may hold tabs and line breaks.

Bodies are sent as raw JSON text, since an attacker writes the escape "\\ud800" itself.
"""
import io
import logging
import os
import socket
from urllib.parse import urlsplit

import pytest
from marshmallow import fields
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from conftest import ADMIN_TOKEN, API, assert_error, bearer
from test_bad_input import snapshot
from wsserver.config import request_body_limit
from wsserver.errors import MESSAGES

WS = "hardened-ws"
OUTSIDER_PASSWORD = "outsider password"


@pytest.fixture
def world(client, accounts, admin_headers, instance_path):
    created = client.put(
        f"{API}/workspaces/{WS}",
        json={"fullname": WS, "tags": ["a"], "labels": {"k": "v"}, "meta": {"title": "T"}},
        headers=admin_headers,
    )
    assert created.status_code == 201
    return {
        "instance": instance_path,
        "avatars": os.path.join(instance_path, "avatars"),
        "outsider": accounts.create("outsider", password=OUTSIDER_PASSWORD),
    }


def send(client, method, path, text, headers):
    return client.open(path, method=method, data=text.encode("utf-8"), content_type="application/json", headers=headers)


def messages_at(details, path):
    """The messages at `path` (keys as in the JSON answer) of an error's details."""
    node = details
    for key in path:
        assert isinstance(node, dict) and key in node, (path, details)
        node = node[key]
    assert isinstance(node, list) and node and all(isinstance(message, str) for message in node), (path, details)
    return node


# --- item 9: lone surrogates ----------------------------------------------------------------------

PUT = ("PUT", f"{API}/workspaces/{WS}")
TOKEN = ("POST", f"{API}/token")
JOIN = ("POST", f"{API}/workspaces/{WS}/acl")
ACCOUNTS = ("POST", f"{API}/accounts")

# (route, raw body, who sends it, where details name the field)
SURROGATE_CASES = {
    "title": (PUT, '{"fullname": "hardened-ws", "meta": {"title": "a\\ud800"}}', "admin", ("meta", "title")),
    "avatar-url": (PUT, '{"fullname": "hardened-ws", "meta": {"avatar": "http://x.example/\\ud800"}}', "admin",
                   ("meta", "avatar")),
    "tag": (PUT, '{"fullname": "hardened-ws", "tags": ["ok", "\\ud800"]}', "admin", ("tags", "1")),
    "low-surrogate-tag": (PUT, '{"fullname": "hardened-ws", "tags": ["\\udc00x"]}', "admin", ("tags", "0")),
    "label-key": (PUT, '{"fullname": "hardened-ws", "labels": {"\\ud800": "v"}}', "admin", ("labels", "\ud800", "key")),
    "label-value": (PUT, '{"fullname": "hardened-ws", "labels": {"k": "\\ud800"}}', "admin", ("labels", "k", "value")),
    "unknown-field-name": (PUT, '{"fullname": "hardened-ws", "\\ud800": 1}', "admin", ("\ud800",)),
    "unknown-meta-name": (PUT, '{"fullname": "hardened-ws", "meta": {"\\ud800": 1}}', "admin", ("meta", "\ud800")),
    "token-username": (TOKEN, '{"app": "password", "credentials": {"username": "\\ud800", "password": "x"}}', None,
                       ("credentials", "username")),
    "token-password": (TOKEN, '{"app": "password", "credentials": {"username": "outsider", "password": "\\ud800"}}',
                       None, ("credentials", "password")),
    "invite": (JOIN, '{"invite": "wss_\\ud800"}', "outsider", ("invite",)),
    "nickname": (ACCOUNTS, '{"username": "newcomer", "nickname": "\\ud800"}', "admin", ("nickname",)),
    "password": (ACCOUNTS, '{"username": "newcomer", "password": "long enough \\ud800"}', "admin", ("password",)),
    "username": (ACCOUNTS, '{"username": "\\ud800"}', "admin", ("username",)),
}


def headers_of(world, who):
    return {"admin": bearer(ADMIN_TOKEN), "outsider": world["outsider"]["headers"], None: {}}[who]


@pytest.mark.parametrize("case", SURROGATE_CASES)
def test_a_lone_surrogate_in_any_json_string_is_422_naming_the_field(client, world, case):
    (method, path), text, who, where = SURROGATE_CASES[case]
    before = snapshot(world)
    response = send(client, method, path, text, headers_of(world, who))
    error = assert_error(response, 422)
    messages_at(error["details"], where)
    assert response.get_data().decode("utf-8")  # the answer is UTF-8 even where it names the bad key
    assert snapshot(world) == before


def test_the_surrogate_answer_says_what_is_wrong(client, world):
    response = send(client, *PUT, '{"fullname": "hardened-ws", "meta": {"title": "\\ud800"}}', bearer(ADMIN_TOKEN))
    assert "surrogate" in assert_error(response, 422)["details"]["meta"]["title"][0]


def test_a_surrogate_pair_is_text_and_is_stored(client, world):
    """Escaped as a pair, U+1F600 is one valid character: only lone halves are refused."""
    text = '{"fullname": "hardened-ws", "tags": ["\\ud83d\\ude00"], "meta": {"title": "\\ud83d\\ude00"}}'
    response = send(client, *PUT, text, bearer(ADMIN_TOKEN))
    assert response.status_code == 200, response.get_json()
    stored = client.get(f"{API}/workspaces/{WS}", headers=bearer(ADMIN_TOKEN)).get_json()
    assert stored["tags"] == ["\U0001F600"] and stored["meta"]["title"] == "\U0001F600"


def test_every_string_the_api_reads_goes_through_the_text_rules(app):
    """Every string field of every request schema (bodies and query strings, nested fields, list
    items, dict keys and values) is a schemas.common.Text, so a new field cannot forget the rules."""
    from schemas.common import Text
    from schemas.seed import SeedSchema

    # schemas/avatars.py is not part of this change: its strings are checked (base64, a content
    # type among four) or never used (filename), and none is stored.
    not_yet = {"AvatarUploadSchema"}
    schemas = {SeedSchema}
    for view in app.view_functions.values():
        view_class = getattr(view, "view_class", None)
        functions = [getattr(view_class, name) for name in ("get", "put", "post", "delete")
                     if hasattr(view_class, name)] if view_class else [view]
        for function in functions:
            for parameter in getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                schema = parameter["schema"]
                schemas.add(schema if isinstance(schema, type) else type(schema))
    assert {"WorkspacePutSchema", "TokenRequestSchema", "JoinSchema", "AccountCreateSchema",
            "ListQuerySchema"} <= {schema.__name__ for schema in schemas}

    plain = []

    def walk(field, where):
        if isinstance(field, fields.Nested):
            for name, inner in field.schema.fields.items():
                walk(inner, f"{where}.{name}")
        elif isinstance(field, fields.List):
            walk(field.inner, f"{where}[]")
        elif isinstance(field, fields.Dict):
            walk(field.key_field, f"{where}.<key>")
            walk(field.value_field, f"{where}.<value>")
        elif isinstance(field, fields.String) and not isinstance(field, Text):
            plain.append(where)

    for schema in schemas:
        if schema.__name__ not in not_yet:
            for name, field in schema().fields.items():
                walk(field, f"{schema.__name__}.{name}")
    assert plain == []


# --- item 10: integer literals beyond Python's digit limit ----------------------------------------

LONG = "9" * 4301


@pytest.mark.parametrize("method, path, text, who", [
    (*PUT, '{"fullname": "hardened-ws", "createOnly": ' + LONG + "}", "admin"),
    (*PUT, '{"fullname": "hardened-ws", "createOnly": -' + LONG + "}", "admin"),
    (*PUT, '{"fullname": "hardened-ws", "meta": {"title": "T", "x": [1, {"y": ' + LONG + "}]}}", "admin"),
    (*TOKEN, '{"app": "password", "credentials": {"username": "outsider", "password": ' + LONG + "}}", None),
    (*ACCOUNTS, '{"username": "newcomer", "admin": ' + LONG + "}", "admin"),
    (*JOIN, '{"invite": ' + "1" * 100000 + "}", "outsider"),
    (*PUT, '{"fullname": "hardened-ws", "tags": [NaN]}', "admin"),
    (*PUT, '{"fullname": "hardened-ws", "createOnly": -Infinity}', "admin"),
], ids=["createOnly", "negative", "nested", "token", "accounts", "100000-digits", "NaN", "Infinity"])
def test_an_integer_literal_beyond_the_digit_limit_is_400_malformed_json(client, world, method, path, text, who):
    before = snapshot(world)
    response = send(client, method, path, text, headers_of(world, who))
    error = assert_error(response, 400)
    assert error["message"] == MESSAGES[400]
    assert snapshot(world) == before


@pytest.mark.parametrize("literal", ["9" * 4300, "-" + "9" * 4300])
def test_an_integer_of_4300_digits_is_still_json(client, world, literal):
    """The limit is Python's own: 4,300 digits parse (and are then a wrong type: 422)."""
    response = send(client, *PUT, '{"fullname": "hardened-ws", "createOnly": ' + literal + "}", bearer(ADMIN_TOKEN))
    assert_error(response, 422, {"createOnly"})


def test_flask_json_of_the_app_is_strict_too(app):
    """request.get_json() and the API's parser read JSON with the same provider."""
    import json

    with pytest.raises(json.JSONDecodeError):
        app.json.loads('{"n": ' + LONG + "}")
    with pytest.raises(json.JSONDecodeError):
        app.json.loads("[NaN]")
    assert app.json.loads('{"n": -' + "9" * 4300 + ', "f": 1.5e300}')["f"] == 1.5e300


# --- item 17: control characters ------------------------------------------------------------------

CONTROL_CASES = {
    "title-nul": ('{"fullname": "hardened-ws", "meta": {"title": "a\\u0000b"}}', ("meta", "title")),
    "title-newline": ('{"fullname": "hardened-ws", "meta": {"title": "a\\nb"}}', ("meta", "title")),
    "title-tab": ('{"fullname": "hardened-ws", "meta": {"title": "a\\tb"}}', ("meta", "title")),
    "title-line-separator": ('{"fullname": "hardened-ws", "meta": {"title": "a\\u2028b"}}', ("meta", "title")),
    "title-c1": ('{"fullname": "hardened-ws", "meta": {"title": "a\\u0085b"}}', ("meta", "title")),
    "avatar-url-nul": ('{"fullname": "hardened-ws", "meta": {"avatar": "http://x.example/a\\u0000b"}}',
                       ("meta", "avatar")),
    "tag-nul": ('{"fullname": "hardened-ws", "tags": ["a\\u0000"]}', ("tags", "0")),
    "tag-escape": ('{"fullname": "hardened-ws", "tags": ["ok", "\\u001b[31mred"]}', ("tags", "1")),
    "tag-newline": ('{"fullname": "hardened-ws", "tags": ["a\\nb"]}', ("tags", "0")),
    "tag-delete": ('{"fullname": "hardened-ws", "tags": ["a\\u007f"]}', ("tags", "0")),
    "label-key-nul": ('{"fullname": "hardened-ws", "labels": {"k\\u0000": "v"}}', ("labels", "k\x00", "key")),
    "label-key-tab": ('{"fullname": "hardened-ws", "labels": {"k\\t": "v"}}', ("labels", "k\t", "key")),
    "label-value-nul": ('{"fullname": "hardened-ws", "labels": {"k": "v\\u0000"}}', ("labels", "k", "value")),
    "label-value-bell": ('{"fullname": "hardened-ws", "labels": {"k": "v\\u0007"}}', ("labels", "k", "value")),
    "fullname-nul": ('{"fullname": "hardened-ws\\u0000"}', ("fullname",)),
}


@pytest.mark.parametrize("case", CONTROL_CASES)
def test_control_characters_in_names_tags_label_keys_and_titles_are_422_naming_the_field(client, world, case):
    text, where = CONTROL_CASES[case]
    before = snapshot(world)
    error = assert_error(send(client, *PUT, text, bearer(ADMIN_TOKEN)), 422)
    messages_at(error["details"], where)
    assert snapshot(world) == before


@pytest.mark.parametrize("text, where", [
    ('{"username": "newcomer", "nickname": "Ne\\u0000wcomer"}', ("nickname",)),
    ('{"username": "newcomer", "nickname": "two\\nlines"}', ("nickname",)),
    ('{"username": "new\\u0000comer"}', ("username",)),
], ids=["nickname-nul", "nickname-newline", "username-nul"])
def test_control_characters_in_account_names_are_422(client, world, text, where):
    before = snapshot(world)
    messages_at(assert_error(send(client, *ACCOUNTS, text, bearer(ADMIN_TOKEN)), 422)["details"], where)
    assert snapshot(world) == before


def test_control_characters_in_the_invite_and_login_name_are_422(client, world):
    before = snapshot(world)
    response = send(client, *JOIN, '{"invite": "wss_\\u0000"}', world["outsider"]["headers"])
    messages_at(assert_error(response, 422)["details"], ("invite",))
    text = '{"app": "password", "credentials": {"username": "outsider\\u0000", "password": "x"}}'
    response = send(client, *TOKEN, text, {})
    messages_at(assert_error(response, 422)["details"], ("credentials", "username"))
    assert snapshot(world) == before


def test_label_values_may_hold_tabs_and_line_breaks_and_text_may_hold_format_characters(client, world):
    """The rules chosen: label values are free text (tab, LF, CR allowed); format characters
    (category Cf: the zero-width joiner of emoji sequences, direction marks) are text everywhere."""
    text = ('{"fullname": "hardened-ws", "labels": {"notes": "line 1\\nline 2\\r\\n\\tindented"}, '
            '"tags": ["dev\\u200dops"], "meta": {"title": "\\u200fשלום \\ud83d\\udc69\\u200d\\ud83d\\udcbb"}}')
    response = send(client, *PUT, text, bearer(ADMIN_TOKEN))
    assert response.status_code == 200, response.get_json()
    stored = client.get(f"{API}/workspaces/{WS}", headers=bearer(ADMIN_TOKEN)).get_json()
    assert stored["labels"] == {"notes": "line 1\nline 2\r\n\tindented"}
    assert stored["tags"] == ["dev\u200dops"]
    assert stored["meta"]["title"] == "\u200f\u05e9\u05dc\u05d5\u05dd \U0001F469\u200d\U0001F4BB"


def test_a_password_may_hold_any_characters_but_lone_surrogates(client, world):
    """Passwords are only ever hashed: a tab or other control character is the owner's choice (and
    one set before this rule must keep working at POST /token)."""
    created = send(client, *ACCOUNTS, '{"username": "tabby", "password": "tab\\there\\u0001!"}', bearer(ADMIN_TOKEN))
    assert created.status_code == 201, created.get_json()
    text = '{"app": "password", "credentials": {"username": "tabby", "password": "tab\\there\\u0001!"}}'
    login = send(client, *TOKEN, text, {})
    assert login.status_code == 200, login.get_json()


@pytest.mark.parametrize("query, name", [
    ("tag=a%00b", "tag"),
    ("tag=a%0Ab", "tag"),
    ("label=k%00:v", "label"),
    ("label=k:v%07", "label"),
    ("created_by=x%1B", "created_by"),
    ("q=a%00b", "q"),
])
def test_query_filters_follow_the_same_rules(client, world, query, name):
    assert_error(client.get(f"{API}/workspaces?{query}", headers=bearer(ADMIN_TOKEN)), 422, {name})


def test_query_filters_with_percent_encoded_surrogates_do_not_crash(client, world):
    """UTF-8 cannot encode a surrogate: %ED%A0%80 is invalid UTF-8, which Werkzeug decodes as U+FFFD."""
    for query in ("q=%ED%A0%80", "tag=%ED%A0%80", "label=%ED%A0%80:x", "label=k:%ED%A0%80", "created_by=%ED%A0%80"):
        response = client.get(f"{API}/workspaces?{query}", headers=bearer(ADMIN_TOKEN))
        assert response.status_code == 200 and response.get_json() == [], query
    assert client.get(f"{API}/workspaces?label=k:line%0Abreak", headers=bearer(ADMIN_TOKEN)).status_code == 200


# --- the seed file: the same strings, refused with its usual error --------------------------------


@pytest.mark.parametrize("workspace, line", [
    ('{"fullname": "aa", "meta": {"title": "\\ud800"}}', "workspaces[0].meta.title: Must be valid Unicode text"),
    ('{"fullname": "aa", "tags": ["a\\u0000"]}', "workspaces[0].tags[0]: Must not contain control characters"),
    ('{"fullname": "aa", "labels": {"k\\u0000": "v"}}', "workspaces[0].labels.k\\u0000.key: Must not contain"),
    ('{"fullname": "aa", "labels": {"\\ud800": "v"}}', "workspaces[0].labels.\\ud800.key: Must be valid Unicode"),
    ('{"fullname": "aa", "labels": {"k": "\\u0000"}}', "workspaces[0].labels.k.value: Must not contain control"),
], ids=["title-surrogate", "tag-nul", "label-key-nul", "label-key-surrogate", "label-value-nul"])
def test_the_seed_file_refuses_the_same_strings_naming_the_entry(app, client, tmp_path, workspace, line):
    path = tmp_path / "bad.json"
    path.write_text('{"accounts": [{"username": "al", "nickname": "Al"}], "workspaces": [' + workspace + '], '
                    '"memberships": [{"workspace": "aa", "account": "al", "level": "owner"}]}', encoding="ascii")
    result = app.test_cli_runner().invoke(args=["seed", str(path)])
    assert result.exit_code == 1
    assert "is not a valid seed file" in result.output and line in result.output, result.output
    accounts = client.get(f"{API}/accounts", headers=bearer(ADMIN_TOKEN)).get_json()
    assert [account["username"] for account in accounts] == ["admin"]


def test_the_seed_file_refuses_a_surrogate_in_an_account(app, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"accounts": [{"username": "al", "nickname": "\\udfff"}]}', encoding="ascii")
    result = app.test_cli_runner().invoke(args=["seed", str(path)])
    assert result.exit_code == 1 and "accounts[0].nickname: Must be valid Unicode text" in result.output, result.output


# --- item 17: masking secret-looking query parameters in the access log ----------------------------

MASKED = ["pwd", "sig", "signature", "secret", "auth", "session", "token", "password", "passwd", "invite", "key",
          "api_key", "apiKey", "APIKey", "API_KEY", "access_token", "accessToken", "refresh_token", "client_secret",
          "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "session_id", "sessionId", "JSESSIONID",
          "PHPSESSID", "Authorization", "newPassword", "password2", "otp", "jwt"]
KEPT = ["sort", "q", "tag", "label", "limit", "offset", "page", "page_size", "created_by", "level", "all", "author",
        "keyword", "monkey", "design", "signal", "assignee", "passage", "tokenizer", "description", "title"]


def test_secret_looking_query_parameters_are_masked_in_the_access_log(client, caplog):
    with caplog.at_level(logging.INFO, logger="wsserver.access"):
        for number, name in enumerate(MASKED + KEPT):
            client.get(f"/healthz?{name}=value{number}x")
    text = "\n".join(record.getMessage() for record in caplog.records if record.name == "wsserver.access")
    leaked = [name for number, name in enumerate(MASKED) if f"value{number}x" in text]
    assert leaked == []
    hidden = [name for number, name in enumerate(KEPT, len(MASKED)) if f"{name}=value{number}x" not in text]
    assert hidden == []


# --- item 8: a streamed body over the size limit -------------------------------------------------


class _Trickle(io.RawIOBase):
    """A request body read piece by piece, with no known length (what a chunked upload is to the app)."""

    def __init__(self, data, piece=65536):
        self.pieces = [data[start:start + piece] for start in range(0, len(data), piece)]

    def readable(self):
        return True

    def readinto(self, buffer):
        while self.pieces and not self.pieces[0]:
            self.pieces.pop(0)
        if not self.pieces:
            return 0
        size = min(len(buffer), len(self.pieces[0]))
        buffer[:size] = self.pieces[0][:size]
        self.pieces[0] = self.pieces[0][size:]
        return size


def body_of_size(size, document):
    """`document` (a JSON object as text) padded with spaces to exactly `size` bytes."""
    data = document.encode()
    return data[:-1] + b" " * (size - len(data)) + data[-1:]


def streamed(client, method, path, data, headers):
    """`data` as a chunked request: no Content-Length, and wsgi.input_terminated as gunicorn
    and granian set it (the WSGI server has de-chunked the body and ends the stream)."""
    environ = EnvironBuilder(path=path, method=method, headers={
        **headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BufferedReader(_Trickle(data))
    environ["wsgi.input_terminated"] = True
    return client.open(Request(environ))


@pytest.mark.parametrize("method, path, document, who", [
    (*PUT, '{"fullname": "hardened-ws", "meta": {"title": "Streamed"}}', "admin"),
    (*TOKEN, '{"app": "password", "credentials": {"username": "outsider", "password": "outsider password"}}', None),
], ids=["put", "token"])
def test_a_streamed_body_over_the_limit_is_413_like_one_with_a_content_length(app, client, world, method, path,
                                                                               document, who):
    limit = app.config["MAX_CONTENT_LENGTH"]
    headers = headers_of(world, who)
    before = snapshot(world)
    for size in (limit + 1, limit + 70000):
        error = assert_error(streamed(client, method, path, body_of_size(size, document), headers), 413)
        assert error["message"] == MESSAGES[413]
        assert snapshot(world) == before
    with_length = client.open(path, method=method, data=body_of_size(limit + 1, document),
                              content_type="application/json", headers=headers)
    assert assert_error(with_length, 413) == error
    # at the limit exactly, the body is read whole, as with a Content-Length
    response = streamed(client, method, path, body_of_size(limit, document), headers)
    assert response.status_code == 200, response.get_json()


def _raw_exchange(url, data):
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as connection:
        try:
            connection.sendall(data)
        except OSError:
            pass  # the server may answer and close before reading everything; its answer still counts
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def _chunked_put(fullname, body):
    head = (f"PUT {API}/workspaces/{fullname} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {ADMIN_TOKEN}\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n").encode()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece)
                      for piece in (body[start:start + 65536] for start in range(0, len(body), 65536)))
    return head + chunks + b"0\r\n\r\n"


def test_a_chunked_body_over_the_limit_is_413_from_the_real_server(live_server):
    limit = request_body_limit(int(os.environ.get("WSSERVER_AVATAR_MAX_BYTES", 1024 * 1024)))
    document = '{"fullname": "chunky-ws"}'
    answer = _raw_exchange(live_server.url, _chunked_put("chunky-ws", body_of_size(limit + 1, document)))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"413", answer[:300]
    assert b"content-type: application/json" in head.lower(), head
    assert body.startswith(b'{"error":{"message":"The request body is too large."'), body[:300]
    # nothing was created, and a chunked body of exactly the limit is accepted
    answer = _raw_exchange(live_server.url, _chunked_put("chunky-ws", body_of_size(limit, document)))
    assert answer.split(b" ")[1] == b"201", answer[:300]

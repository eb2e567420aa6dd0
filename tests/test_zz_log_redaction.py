"""Runs last (file order): no secret appears in any log line of the whole test run.

It first drives a flow full of recognisable secrets (password, tokens,
invite, avatar data) through an in-process app and a real server, then
searches everything the session logged, in-process and server output alike.
"""
import re

import requests

from engines import separate_database
from conftest import ADMIN_TOKEN, API, CAPTURED_LOGS, basic, bearer, LiveServer, png_base64

CANARY_PASSWORD = "canary-Passw0rd-never-logged"
TOKEN_LIKE = re.compile(r"wss_[A-Za-z0-9_-]{16,}")
# base64 openings of PNG, JPEG, GIF and WebP files
IMAGE_BASE64 = ("iVBORw0KGgo", "/9j/", "R0lGOD", "UklGR")


def _drive_secret_flow(post, get, put):
    made = post(f"{API}/accounts", {"username": "canary", "password": CANARY_PASSWORD}, bearer(ADMIN_TOKEN))
    token = made["token"]
    post(f"{API}/token", {"app": "password", "credentials": {"username": "canary", "password": CANARY_PASSWORD}}, {})
    post(f"{API}/token", {"app": "password", "credentials": {"username": "canary", "password": "wrong-" + CANARY_PASSWORD}}, {})
    get(f"{API}/me", basic("canary", CANARY_PASSWORD))
    get(f"{API}/me", basic("canary", "bad-" + CANARY_PASSWORD))
    created = put(f"{API}/workspaces/canary-ws", {"fullname": "canary-ws"}, bearer(token))
    other = post(f"{API}/accounts", {"username": "canary-joiner"}, bearer(ADMIN_TOKEN))["token"]
    post(f"{API}/workspaces/canary-ws/acl", {"invite": created["invite"]}, bearer(other))
    post(f"{API}/workspaces/canary-ws/acl", {"invite": "wss_wrong-invite-token-value-000000"}, bearer(other))
    post(f"{API}/workspaces/canary-ws/avatar",
         {"filename": "a.png", "contentType": "image/png", "data": png_base64()}, bearer(token))
    get(f"{API}/me?access_token={token}", {})


def test_no_secret_in_any_log_line_of_the_test_run(client, instance_path):
    def post(path, body, headers):
        response = client.post(path, json=body, headers=headers)
        return response.get_json() if response.data else None

    def get(path, headers):
        return client.get(path, headers=headers).get_json()

    def put(path, body, headers):
        return client.put(path, json=body, headers=headers).get_json()

    _drive_secret_flow(post, get, put)

    live_instance = instance_path + "-live"
    server = LiveServer(live_instance, env={
        "WSSERVER_" + name: value for name, value in separate_database(live_instance).items()})
    try:
        session = requests.Session()

        def live(method):
            def call(path, body_or_headers, headers=None):
                if headers is None:
                    response = session.request(method, server.url + path, headers=body_or_headers, timeout=10)
                else:
                    response = session.request(method, server.url + path, json=body_or_headers, headers=headers, timeout=10)
                return response.json() if response.content else None
            return call

        _drive_secret_flow(live("POST"), live("GET"), live("PUT"))
    finally:
        server.stop()

    text = "\n".join(CAPTURED_LOGS)
    assert "wsserver.access" in text  # the access log really was captured
    assert CANARY_PASSWORD not in text
    assert not TOKEN_LIKE.findall(text)
    for opening in IMAGE_BASE64:
        assert opening not in text

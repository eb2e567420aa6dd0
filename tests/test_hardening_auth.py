"""Issue 12, items 1-3: rate-limit keys only on verified credentials, failed-login lock-out and brake.

The rule (README, "Rate limits"): one budget per verified account, else per
client address; failed password logins counted per (username, address) for
the lock-out (LOGIN_LOCKOUT) and per username over all addresses as a slower
brake (LOGIN_BRAKE); a locked login answers 429 without hashing the password.
"""
import http.client
import json
import os
import sqlite3
from urllib.parse import urlsplit

import pytest
import requests

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, LiveServer, assert_error, basic, bearer
from wsserver import create_app
from wsserver.config import ConfigError, load_settings
from wsserver.services import accounts as accounts_service

PASSWORD = "correct horse"
# Both login limits out of the way, for tests about something else.
NO_LOGIN_LIMITS = {"LOGIN_LOCKOUT": "off", "LOGIN_BRAKE": "off"}


def make_client(instance_path, **settings):
    config = {"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT, **settings}
    return create_app(config).test_client()


def create_account(client, username, password=PASSWORD):
    response = client.post(f"{API}/accounts", json={"username": username, "password": password},
                           headers=bearer(ADMIN_TOKEN))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def from_address(address):
    return {"environ_base": {"REMOTE_ADDR": address}}


def token_request(username, password):
    return {"app": "password", "credentials": {"username": username, "password": password}}


@pytest.fixture
def password_checks(monkeypatch):
    """How many password hashes were checked (each costs ~140 ms of scrypt)."""
    calls = []
    original = accounts_service.check_password_hash

    def counting(stored, password):
        calls.append(1)
        return original(stored, password)

    monkeypatch.setattr(accounts_service, "check_password_hash", counting)
    return calls


def assert_too_many(response, limit=None, window_ms=None):
    """A 429 in the envelope, with the headers the contract names for every 429."""
    error = assert_error(response, 429)
    assert 0 < int(response.headers["Retry-After"]) <= 3600
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert len(response.headers.getlist("X-RateLimit-Limit")) == 1
    if limit is not None:
        assert response.headers["X-RateLimit-Limit"] == str(limit)
    if window_ms is not None:
        assert response.headers["X-RateLimit-Window"] == str(window_ms)
    return error


# --- 1. junk credentials buy no fresh budget ----------------------------------------------------------


def test_junk_bearer_tokens_count_against_the_address(instance_path, password_checks):
    client = make_client(instance_path, RATE_LIMIT="3/minute", **NO_LOGIN_LIMITS)
    statuses = [
        client.post(f"{API}/token", json=token_request("nobody", "wrong password"),
                    headers=bearer(f"junk{n}"), **from_address("127.0.0.2")).status_code
        for n in range(3)
    ]
    assert statuses == [401, 401, 401]
    checks_before = len(password_checks)
    limited = client.post(f"{API}/token", json=token_request("nobody", "wrong password"),
                          headers=bearer("junk-fresh"), **from_address("127.0.0.2"))
    error = assert_too_many(limited, limit=3, window_ms=60000)
    assert "Too many requests" in error["message"] and error["details"] == {}
    assert len(password_checks) == checks_before  # refused before the body's password is hashed
    # the same junk from another address has that address's own budget
    assert client.get(f"{API}/me", headers=bearer("junk-x"), **from_address("127.0.0.3")).status_code == 401


def test_junk_basic_usernames_count_against_the_address_without_hashing_when_spent(instance_path, password_checks):
    client = make_client(instance_path, RATE_LIMIT="3/minute", **NO_LOGIN_LIMITS)
    for n in range(3):
        response = client.get(f"{API}/me", headers=basic(f"junk{n}", "whatever"), **from_address("127.0.0.2"))
        assert_error(response, 401)
    checks_before = len(password_checks)
    for n in range(3, 6):
        limited = client.get(f"{API}/me", headers=basic(f"junk{n}", "whatever"), **from_address("127.0.0.2"))
        assert_too_many(limited, limit=3, window_ms=60000)
    assert len(password_checks) == checks_before  # an address out of budget gets no password hashed


def test_verified_credentials_key_the_budget_on_the_account(instance_path):
    client = make_client(instance_path, RATE_LIMIT="2/minute", **NO_LOGIN_LIMITS)
    # the admin creates the account from another address (its own budget)
    create_account(client, "bob")
    # a fresh token from POST /token (anonymous: the address budget) ...
    first_token = client.post(f"{API}/token", json=token_request("bob", PASSWORD),
                              **from_address("127.0.0.5")).get_json()["token"]
    second_token = client.post(f"{API}/token", json=token_request("bob", PASSWORD),
                               **from_address("127.0.0.6")).get_json()["token"]
    # ... buys no fresh budget: both tokens and Basic share bob's one budget, wherever they come from
    assert client.get(f"{API}/me", headers=bearer(first_token), **from_address("127.0.0.2")).status_code == 200
    assert client.get(f"{API}/me", headers=basic("bob", PASSWORD), **from_address("127.0.0.3")).status_code == 200
    limited = client.get(f"{API}/me", headers=bearer(second_token), **from_address("127.0.0.4"))
    assert_too_many(limited, limit=2)
    # anonymous callers on those addresses are not charged for bob's requests
    assert client.get(f"{API}/me", **from_address("127.0.0.2")).headers["X-RateLimit-Remaining"] == "1"


# --- 3. lock-out per (username, address), not of the owner -------------------------------------------


def test_failed_logins_lock_the_pair_but_not_the_owner_elsewhere(instance_path, password_checks):
    """The issue's repro: eleven wrong passwords from one address, then the right one from another."""
    client = make_client(instance_path, RATE_LIMIT="10/minute")  # the default lock-out: 10 per 15 minutes
    create_account(client, "victim")
    statuses = [client.get(f"{API}/me", headers=basic("victim", "wrong"), **from_address("127.0.0.2")).status_code
                for _ in range(11)]
    assert statuses == [401] * 10 + [429]
    owner = client.get(f"{API}/me", headers=basic("victim", PASSWORD), **from_address("127.0.0.3"))
    assert owner.status_code == 200 and owner.get_json()["username"] == "victim"


def test_locked_pair_answers_429_before_hashing_with_the_lockout_headers(instance_path, password_checks):
    client = make_client(instance_path, LOGIN_LOCKOUT="3/15 minutes", LOGIN_BRAKE="off")
    create_account(client, "victim")
    for _ in range(2):
        assert_error(client.get(f"{API}/me", headers=basic("victim", "wrong"), **from_address("127.0.0.2")), 401)
    assert_error(client.post(f"{API}/token", json=token_request("victim", "wrong"), **from_address("127.0.0.2")), 401)
    checks_before = len(password_checks)
    # the pair is locked, even for the right password, on Basic and POST /token alike
    for response in (
        client.get(f"{API}/me", headers=basic("victim", PASSWORD), **from_address("127.0.0.2")),
        client.post(f"{API}/token", json=token_request("victim", PASSWORD), **from_address("127.0.0.2")),
    ):
        error = assert_too_many(response, limit=3, window_ms=15 * 60 * 1000)
        assert "failed logins" in error["message"] and error["details"] == {}
        assert 850 < int(response.headers["Retry-After"]) <= 900
        assert "WWW-Authenticate" not in response.headers
    assert len(password_checks) == checks_before
    # another address, and another username from the same address, are unaffected
    assert client.get(f"{API}/me", headers=basic("victim", PASSWORD), **from_address("127.0.0.3")).status_code == 200
    create_account(client, "other")
    assert client.get(f"{API}/me", headers=basic("other", PASSWORD), **from_address("127.0.0.2")).status_code == 200


def test_bearer_failures_do_not_lock_password_logins(instance_path):
    client = make_client(instance_path, LOGIN_LOCKOUT="2/minute", LOGIN_BRAKE="2/minute")
    create_account(client, "victim")
    for _ in range(4):
        assert_error(client.get(f"{API}/me", headers=bearer("victim"), **from_address("127.0.0.2")), 401)
    assert client.get(f"{API}/me", headers=basic("victim", PASSWORD), **from_address("127.0.0.2")).status_code == 200


# --- 2. failed logins per username across addresses (the brake) --------------------------------------


def test_failed_logins_count_per_username_across_addresses(instance_path, password_checks):
    client = make_client(instance_path, LOGIN_LOCKOUT="100/minute", LOGIN_BRAKE="4/minute")
    victim_token = create_account(client, "victim")
    create_account(client, "bystander")
    # rotating source addresses, Basic and POST /token mixed
    assert_error(client.get(f"{API}/me", headers=basic("victim", "guess1"), **from_address("127.0.0.2")), 401)
    assert_error(client.post(f"{API}/token", json=token_request("victim", "guess2"), **from_address("127.0.0.3")), 401)
    assert_error(client.get(f"{API}/me", headers=basic("victim", "guess3"), **from_address("127.0.0.4")), 401)
    assert_error(client.post(f"{API}/token", json=token_request("victim", "guess4"), **from_address("127.0.0.5")), 401)
    checks_before = len(password_checks)
    braked = client.get(f"{API}/me", headers=basic("victim", "guess5"), **from_address("127.0.0.6"))
    error = assert_too_many(braked, limit=4, window_ms=60000)
    assert "failed logins for this username" in error["message"]
    assert_too_many(client.post(f"{API}/token", json=token_request("victim", PASSWORD), **from_address("127.0.0.7")),
                    limit=4)
    assert len(password_checks) == checks_before
    # the brake stops password logins only: the victim's token still works, other usernames too
    assert client.get(f"{API}/me", headers=bearer(victim_token), **from_address("127.0.0.7")).status_code == 200
    assert client.get(f"{API}/me", headers=basic("bystander", PASSWORD), **from_address("127.0.0.7")).status_code == 200


def test_unknown_usernames_are_locked_like_real_ones(instance_path):
    client = make_client(instance_path, LOGIN_LOCKOUT="2/minute", LOGIN_BRAKE="off")
    create_account(client, "real")
    answers = {}
    for username in ("real", "nobody"):
        for _ in range(2):
            client.post(f"{API}/token", json=token_request(username, "wrong"), **from_address("127.0.0.2"))
        answers[username] = client.post(f"{API}/token", json=token_request(username, "wrong"),
                                        **from_address("127.0.0.2"))
    assert answers["real"].status_code == answers["nobody"].status_code == 429
    assert answers["real"].get_json() == answers["nobody"].get_json()


def test_login_limits_work_with_the_request_budget_off(instance_path):
    client = make_client(instance_path, RATE_LIMIT="off", LOGIN_LOCKOUT="2/minute", LOGIN_BRAKE="off")
    create_account(client, "victim")
    for _ in range(2):
        assert_error(client.get(f"{API}/me", headers=basic("victim", "wrong")), 401)
    assert_too_many(client.get(f"{API}/me", headers=basic("victim", PASSWORD)), limit=2, window_ms=60000)
    # no budget: ordinary answers carry no rate headers
    ordinary = client.get(f"{API}/me", headers=bearer(ADMIN_TOKEN))
    assert ordinary.status_code == 200
    assert not [name for name in ordinary.headers.keys() if name.startswith("X-RateLimit")]


def test_login_limits_off_lock_nobody(instance_path):
    client = make_client(instance_path, **NO_LOGIN_LIMITS)
    create_account(client, "victim")
    for _ in range(3):
        assert_error(client.get(f"{API}/me", headers=basic("victim", "wrong")), 401)
    assert client.get(f"{API}/me", headers=basic("victim", PASSWORD)).status_code == 200


def test_reset_in_test_mode_clears_the_login_counters(instance_path):
    for budget in (TEST_RATE_LIMIT, "off"):
        path = os.path.join(instance_path, budget.replace("/", "-"))
        client = make_client(path, RATE_LIMIT=budget, TEST_MODE=True, LOGIN_LOCKOUT="1/hour", LOGIN_BRAKE="off")
        assert_error(client.get(f"{API}/me", headers=basic("admin", "wrong")), 401)
        assert_too_many(client.get(f"{API}/me", headers=basic("admin", "wrong")), limit=1)
        assert client.post("/__admin__/reset", headers=bearer(ADMIN_TOKEN)).status_code == 200
        assert_error(client.get(f"{API}/me", headers=basic("admin", "wrong")), 401)


def test_login_limit_settings_are_parsed_and_checked():
    settings, _ = load_settings(environ={})
    assert settings["LOGIN_LOCKOUT"] == "10/15 minutes"
    assert settings["LOGIN_BRAKE"] == "100/hour"
    settings, _ = load_settings(environ={"WSSERVER_LOGIN_LOCKOUT": "5 per 30 minutes", "WSSERVER_LOGIN_BRAKE": "off"})
    assert settings["LOGIN_LOCKOUT"] == "5/30 minutes" and settings["LOGIN_BRAKE"] is None
    assert load_settings(environ={"WSSERVER_LOGIN_BRAKE": "7 per 1 day"})[0]["LOGIN_BRAKE"] == "7/day"
    for bad in ("lots", "0/minute", "5/0 minutes", "5/fortnight"):
        with pytest.raises(ConfigError, match="WSSERVER_LOGIN_BRAKE"):
            load_settings(environ={"WSSERVER_LOGIN_BRAKE": bad})


# --- across worker processes ---------------------------------------------------------------------------


def _basic_me_from(url, address, username, password):
    """GET /me with Basic over a fresh connection from a given loopback source address (any worker may answer)."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10, source_address=(address, 0))
    try:
        connection.request("GET", f"{API}/me", headers=basic(username, password))
        response = connection.getresponse()
        return response.status, response.headers, json.loads(response.read() or b"null")  # headers: any case
    finally:
        connection.close()


def test_failed_logins_per_username_are_shared_by_worker_processes(instance_path):
    server = LiveServer(instance_path, env={"WSSERVER_WORKERS": "2", "WSSERVER_LOGIN_LOCKOUT": "100/minute",
                                            "WSSERVER_LOGIN_BRAKE": "4/minute"})
    try:
        created = requests.post(f"{server.url}{API}/accounts", json={"username": "victim", "password": PASSWORD},
                                headers=bearer(ADMIN_TOKEN), timeout=10)
        assert created.status_code == 201
        statuses = [_basic_me_from(server.url, f"127.0.0.{n}", "victim", "wrong")[0] for n in range(2, 6)]
        assert statuses == [401] * 4
        for n in (6, 7, 8):
            status, headers, body = _basic_me_from(server.url, f"127.0.0.{n}", "victim", PASSWORD)
            assert status == 429, (status, body)
            assert set(body) == {"error"} and body["error"]["details"] == {}
            assert 0 < int(headers["Retry-After"]) <= 60 and headers["X-RateLimit-Limit"] == "4"
        # counted in the one file every worker process shares, not in a worker's memory
        with sqlite3.connect(os.path.join(instance_path, "ratelimit.sqlite3")) as counters:
            brake = [count for key, count in counters.execute("SELECT key, count FROM counter") if "login-brake" in key]
        assert brake == [4]
    finally:
        server.stop()

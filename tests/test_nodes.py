"""Two app nodes, one PostgreSQL, one Redis, one shared avatar folder (PostgreSQL run only).

Each node is `python app.py` with its own instance folder and port, as two
machines would run it; WSSERVER_DATABASE_URL (the test's database),
WSSERVER_RATELIMIT_STORAGE and WSSERVER_AVATAR_PATH are what they share.
"""
import os
import time

import pytest
import requests

from conftest import ADMIN_TOKEN, API, LiveServer, bearer
from test_reliability import SOAK_SECONDS, check_stored_state, race

pytestmark = pytest.mark.postgresql_only

REDIS_URL = os.environ.get("WSSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
def redis_url():
    """Redis database 15, emptied: the shared rate-limit counters of this test's nodes."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        client.flushdb()
    except redis.RedisError as exc:
        message = (f"Redis at {REDIS_URL} not reachable ({exc}); start it: redis-server --daemonize yes "
                   f"--bind 127.0.0.1 --port 6379 --save '' --appendonly no")
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip("REDIS NOT RUNNING, TWO-NODE TEST NOT RUN: " + message)
    yield REDIS_URL
    client.flushdb()
    client.close()


def start_nodes(tmp_path, redis_url, **settings):
    avatars = tmp_path / "shared-avatars"
    avatars.mkdir(exist_ok=True)
    env = {"WSSERVER_RATELIMIT_STORAGE": redis_url, "WSSERVER_AVATAR_PATH": str(avatars),
           "WSSERVER_WORKERS": "2", "WSSERVER_THREADS": "8", **settings}
    nodes = []
    try:
        for name in ("node-a", "node-b"):
            nodes.append(LiveServer(str(tmp_path / name), env=env))
    except BaseException:
        for node in nodes:
            node.stop()
        raise
    return nodes, str(avatars)


def test_two_nodes_racing_keep_every_invariant(tmp_path, redis_url):
    nodes, avatars = start_nodes(tmp_path, redis_url)
    urls = [node.url for node in nodes]
    try:
        tokens = [ADMIN_TOKEN]
        for number in range(7):  # accounts made on either node work on both
            response = requests.post(f"{urls[number % 2]}{API}/accounts", json={"username": f"racer-{number}"},
                                     headers=bearer(ADMIN_TOKEN), timeout=10)
            assert response.status_code == 201, response.text
            tokens.append(response.json()["token"])
        statuses, problems = race(urls, tokens, SOAK_SECONDS)
    finally:
        codes = [node.stop() for node in nodes]
    total = sum(statuses.values())
    print(f"\ntwo nodes: {total} requests from 16 threads in {SOAK_SECONDS:.0f}s, statuses {sorted(statuses.items())}")
    assert codes == [0, 0]
    assert problems == []
    assert total > 100
    assert all(status < 500 for status in statuses)
    assert statuses.get(201, 0) > 0 and statuses.get(200, 0) > 0
    check_stored_state(str(tmp_path / "node-a"), avatar_folder=avatars)


def test_a_rate_limit_holds_for_the_sum_over_both_nodes(tmp_path, redis_url):
    nodes, _ = start_nodes(tmp_path, redis_url, WSSERVER_RATE_LIMIT="30/minute")
    try:
        answers = []
        for number in range(40):  # alternating: each node alone would allow 30
            response = requests.get(f"{nodes[number % 2].url}{API}/workspaces", headers=bearer(ADMIN_TOKEN), timeout=10)
            answers.append(response.status_code)
        refused = requests.get(f"{nodes[1].url}{API}/workspaces", headers=bearer(ADMIN_TOKEN), timeout=10)
    finally:
        for node in nodes:
            node.stop()
    assert answers.count(200) == 30 and answers.count(429) == 10, answers
    assert answers[:30] == [200] * 30
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert refused.headers["X-RateLimit-Limit"] == "30" and refused.headers["X-RateLimit-Remaining"] == "0"


def test_an_avatar_uploaded_on_one_node_is_served_by_the_other(tmp_path, redis_url):
    from conftest import png_base64

    nodes, avatars = start_nodes(tmp_path, redis_url)
    try:
        a, b = (node.url for node in nodes)
        assert requests.put(f"{a}{API}/workspaces/shared", json={"fullname": "shared"}, headers=bearer(ADMIN_TOKEN),
                            timeout=10).status_code == 201
        upload = requests.post(f"{b}{API}/workspaces/shared/avatar", headers=bearer(ADMIN_TOKEN), timeout=10,
                               json={"filename": "a.png", "contentType": "image/png", "data": png_base64("blue")})
        assert upload.status_code == 200, upload.text
        file_name = upload.json()["fileName"]
        served = requests.get(f"{a}/avatars/{file_name}", timeout=10)
        assert served.status_code == 200 and served.headers["Content-Type"] == "image/png"
        assert os.listdir(avatars) == [file_name]
        # deleting on node A removes the shared file, and node B no longer serves it
        assert requests.delete(f"{a}{API}/workspaces/shared", headers=bearer(ADMIN_TOKEN), timeout=10).status_code == 200
        deadline = time.monotonic() + 5
        while os.listdir(avatars) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert os.listdir(avatars) == []
        assert requests.get(f"{b}/avatars/{file_name}", timeout=10).status_code == 404
    finally:
        for node in nodes:
            node.stop()

"""Proof that it holds: concurrency and crash safety against the real server.

Both run bounded in CI; the long forms run with `make soak` (environment
variables below make them longer, and the figures are printed).

  WSSERVER_SOAK_SECONDS   how long the 16 client threads run (CI: 8)
  WSSERVER_CRASH_KILLS    how many times the server is SIGKILLed (CI: 3)
"""
import json
import os
import random
import signal
import threading
import time

import requests

from conftest import ADMIN_TOKEN, API, bearer, LiveServer, png_base64
from engines import on_postgresql, stored

SOAK_SECONDS = float(os.environ.get("WSSERVER_SOAK_SECONDS", "8"))
CRASH_KILLS = int(os.environ.get("WSSERVER_CRASH_KILLS", "3"))
SHARED_NAMES = [f"shared-{n}" for n in range(5)]
LEVELS = ["owner", "admin", "developer", "user"]


def seeded_png(seed):
    return png_base64((seed % 256, (seed * 7) % 256, (seed * 13) % 256), side=6)


def _create_accounts(url, count):
    tokens = []
    for number in range(count):
        response = requests.post(f"{url}{API}/accounts", json={"username": f"racer-{number}"},
                                 headers=bearer(ADMIN_TOKEN), timeout=10)
        assert response.status_code == 201
        tokens.append(response.json()["token"])
    return tokens


def check_stored_state(instance_path, avatar_folder=None):
    """The invariants that must hold whatever happened."""
    if not on_postgresql():
        assert stored(instance_path, "PRAGMA integrity_check") == [("ok",)]
        assert stored(instance_path, "PRAGMA foreign_key_check") == []
    names = [row[0] for row in stored(instance_path, "SELECT fullname FROM workspace")]
    assert len(names) == len(set(names))
    ownerless = stored(
        instance_path,
        "SELECT fullname FROM workspace w WHERE NOT EXISTS "
        "(SELECT 1 FROM acl_entry a WHERE a.workspace_id = w.id AND a.level = 4)",
    )
    assert ownerless == []
    dangling = stored(
        instance_path,
        "SELECT COUNT(*) FROM acl_entry a WHERE NOT EXISTS (SELECT 1 FROM workspace w WHERE w.id = a.workspace_id)"
        " OR NOT EXISTS (SELECT 1 FROM account c WHERE c.id = a.account_id)",
    )
    assert dangling == [(0,)]
    # the listing's side rows and search documents: exactly one set per workspace, none left over
    assert stored(instance_path, "SELECT COUNT(*) FROM workspace_tag t WHERE NOT EXISTS "
                                 "(SELECT 1 FROM workspace w WHERE w.id = t.workspace_id)") == [(0,)]
    referenced = {row[0] for row in stored(instance_path, "SELECT avatar_file FROM workspace WHERE avatar_file IS NOT NULL")}
    on_disk = set(os.listdir(avatar_folder or os.path.join(instance_path, "avatars")))
    assert on_disk == referenced, (on_disk - referenced, referenced - on_disk)
    return names


def race(urls, tokens, seconds, threads=16):
    """`threads` clients for `seconds` racing PUT/DELETE/join/level changes/leaves/avatar uploads on a few
    shared names, each request to one of `urls` at random; returns ({status: count}, [problems])."""
    statuses = {}
    problems = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def record(response):
        with lock:
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500 or "locked" in response.text:
            problems.append((response.request.method, response.request.url, response.status_code, response.text[:200]))

    def client(number):
        rng = random.Random(number)
        session = requests.Session()
        while time.monotonic() < deadline:
            token = rng.choice(tokens)
            name = rng.choice(SHARED_NAMES)
            base = f"{rng.choice(urls)}{API}/workspaces/{name}"
            operation = rng.choice(["put", "put", "delete", "join", "level", "leave", "avatar", "get"])
            try:
                if operation == "put":
                    record(session.put(base, json={"fullname": name, "tags": [str(rng.randint(0, 9))]},
                                       headers=bearer(token), timeout=30))
                elif operation == "delete":
                    record(session.delete(base, headers=bearer(token), timeout=30))
                elif operation == "get":
                    record(session.get(base, headers=bearer(token), timeout=30))
                elif operation == "avatar":
                    record(session.post(base + "/avatar", json={"filename": "x.png", "contentType": "image/png",
                                                                "data": seeded_png(rng.randint(0, 5))},
                                        headers=bearer(token), timeout=30))
                else:
                    view = session.get(base, headers=bearer(ADMIN_TOKEN), timeout=30)
                    record(view)
                    if view.status_code != 200:
                        continue
                    if operation == "join":
                        record(session.post(base + "/acl", json={"invite": view.json()["invite"]},
                                            headers=bearer(token), timeout=30))
                        continue
                    entries = session.get(base + "/acl", headers=bearer(ADMIN_TOKEN), timeout=30)
                    record(entries)
                    if entries.status_code != 200 or not entries.json():
                        continue
                    entry = rng.choice(entries.json())["id"]
                    if operation == "level":
                        record(session.put(f"{base}/acl/{entry}", json={"level": rng.choice(LEVELS)},
                                           headers=bearer(token), timeout=30))
                    else:
                        record(session.delete(f"{base}/acl/{entry}", headers=bearer(token), timeout=30))
            except requests.RequestException as exc:
                problems.append((operation, name, "transport", repr(exc)))

    workers = [threading.Thread(target=client, args=(number,)) for number in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return statuses, problems


def test_conflicting_operations_from_16_threads_keep_every_invariant(instance_path):
    server = LiveServer(instance_path, env={"WSSERVER_WORKERS": "2", "WSSERVER_THREADS": "8"})
    tokens = [ADMIN_TOKEN] + _create_accounts(server.url, 7)
    statuses, problems = race([server.url], tokens, SOAK_SECONDS)
    assert server.stop() == 0
    total = sum(statuses.values())
    print(f"\nconcurrency: {total} requests from 16 threads in {SOAK_SECONDS:.0f}s, statuses {sorted(statuses.items())}")
    assert problems == []
    assert total > 100
    assert all(status < 500 for status in statuses)
    assert statuses.get(201, 0) > 0 and statuses.get(200, 0) > 0
    check_stored_state(instance_path)


def test_acknowledged_writes_survive_sigkill_and_restart(instance_path):
    acknowledged = {}
    rng = random.Random(20261122)
    kills = 0
    for round_number in range(CRASH_KILLS):
        server = LiveServer(instance_path, new_session=True)
        stop = threading.Event()

        def writer():
            session = requests.Session()
            number = 0
            while not stop.is_set():
                name = f"crash-{round_number}-{number}"
                try:
                    response = session.put(f"{server.url}{API}/workspaces/{name}",
                                           json={"fullname": name, "labels": {"n": str(number)}},
                                           headers=bearer(ADMIN_TOKEN), timeout=5)
                    if response.status_code == 201:
                        acknowledged[name] = str(number)
                        if number % 5 == 0:
                            session.post(f"{server.url}{API}/workspaces/{name}/avatar",
                                         json={"filename": "a.png", "contentType": "image/png", "data": seeded_png(number)},
                                         headers=bearer(ADMIN_TOKEN), timeout=5)
                except requests.RequestException:
                    return  # the server died under us
                number += 1

        threads = [threading.Thread(target=writer) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.4, 1.5))
        os.killpg(server.process.pid, signal.SIGKILL)
        kills += 1
        stop.set()
        for thread in threads:
            thread.join()
        server.process.wait()
        server.stop()

    # restart: start-up cleanup removes half-written uploads; every acknowledged write is there
    server = LiveServer(instance_path)
    try:
        leftovers = [name for name in os.listdir(os.path.join(instance_path, "avatars")) if name.startswith(".")]
        assert leftovers == []
        # and start-up removed files a crash left unreferenced: disk and database agree again
        check_stored_state(instance_path)
        assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
    finally:
        assert server.stop() == 0
    labels = {name: json.loads(text).get("n") for name, text in stored(instance_path, "SELECT fullname, labels FROM workspace")}
    missing = {name for name in acknowledged if labels.get(name) != acknowledged[name]}
    print(f"\ncrash safety: {kills} SIGKILLs, {len(acknowledged)} acknowledged writes, {len(missing)} lost")
    assert acknowledged and not missing
    if not on_postgresql():
        assert stored(instance_path, "PRAGMA integrity_check") == [("ok",)]

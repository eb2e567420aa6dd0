"""Performance work keeps every answer byte for byte (issue 17).

The requests below (native and flavor reads, their errors) are asked of a seeded instance and each
answer's status, body bytes and headers that carry content (not the request id) are compared with
tests/data/answers.json, recorded from the code before the speed-ups (a faster JSON encoder, rows
turned into objects without Peewee's per-query set-up, the rate limiter's hooks left out when no
budget is set, ...). Record again, only for a deliberate change of an answer, with

    WSSERVER_RECORD_ANSWERS=1 python -m pytest tests/test_answers_unchanged.py

and say in the commit which answers changed and why.
"""
import json
import os
import random

import pytest

from conftest import ADMIN_TOKEN, SeededModuleApp, bearer

ANSWERS = os.path.join(os.path.dirname(__file__), "data", "answers.json")
RECORD = os.environ.get("WSSERVER_RECORD_ANSWERS") == "1"
# Headers whose value the answer's content decides (the request id and the date do not).
COMPARED_HEADERS = ("Content-Type", "Content-Length", "X-Total-Count", "Link", "Location", "Cache-Control", "ETag")

ADA = "wss_answers-ada-0123456789abcdefghijklmnopqrstuvwxyzABCD"
BOB = "wss_answers-bob-0123456789abcdefghijklmnopqrstuvwxyzABCD"
ORG = "5a1c0f53-2d9e-4c2f-9d2a-0c1f3e5b7a90"
NOUNS = "harbor harbour harbr canyon comet delta ember fjord glacier lantern meadow nebula orbit pebble".split()
TITLES = ("Harbor survey", "Überblick ☃ data", 'Quotes "and" \\ slashes', "Emoji 🚀 launch", None, "Zürich 東京")
TAGS = "api data ml ops web".split()


def _seed():
    """60 workspaces of fixed ids, names, times and contents (floats, non-ASCII text, escapes included)."""
    rng = random.Random(17)
    workspaces, memberships = [], []
    for number in range(1, 61):
        fullname = f"{NOUNS[number % len(NOUNS)]}-{number:03d}"
        meta = {}
        title = TITLES[number % len(TITLES)]
        if title is not None:
            meta["title"] = title
        if number % 4 == 0:
            meta["description"] = f"Workspace number {number},\nline two\twith a tab"
        if number % 9 == 0:
            meta["avatar"] = f"https://example.invalid/avatars/{number}.png"
        workspace = {
            "id": f"{number:024x}", "fullname": fullname, "invite": f"invite{number:026d}",
            "number": number, "uuid": f"00000000-0000-4000-8000-{number:012d}", "organization": ORG,
            "tags": sorted(rng.sample(TAGS, number % 3)), "labels": {"env": ("dev", "prod")[number % 2]},
            "meta": meta, "createdAt": f"2024-01-{1 + number % 28:02d}T{number % 24:02d}:00:00Z",
            "updatedAt": f"2024-03-{1 + number % 28:02d}T12:{number % 60:02d}:30.250Z",
            "visibility": ("PRIVATE", "PUBLIC", "INTERNAL", "DEVELOPMENT")[number % 4], "views": number * 7 % 50,
            "attributes": {"score": number / 8, "ratio": 1 / 3, "big": 1e20, "tiny": 1.5e-7, "count": number,
                           "app": {"id": number % 5, "name": "report"}, "labels": [{"id": number % 3}],
                           "note": "ünïcode and \u2028 separators"},
        }
        if number % 11 == 0:
            workspace["archivedAt"] = "2024-04-01T00:00:00Z"
        workspaces.append(workspace)
        owner = "ada" if number % 3 else "bob"
        memberships.append({"id": f"e{number:023x}", "workspace": fullname, "account": owner, "level": "owner",
                            "createdAt": "2024-01-01T00:00:00Z"})
        if number % 2 == 0:
            other = "bob" if owner == "ada" else "ada"
            memberships.append({"id": f"f{number:023x}", "workspace": fullname, "account": other,
                                "level": ("admin", "developer", "user")[number % 3], "createdAt": "2024-01-02T00:00:00Z",
                                "lastVisitAt": "2024-05-05T05:05:05Z"})
    return {
        "version": 3,
        "organizations": [{"id": ORG, "name": "Answers", "default": True, "createdAt": "2024-01-01T00:00:00Z"}],
        "accounts": [
            {"id": "a" * 24, "username": "ada", "nickname": "Ada Ü", "tokens": [ADA], "createdAt": "2024-01-01T00:00:00Z"},
            {"id": "b" * 24, "username": "bob", "tokens": [BOB], "createdAt": "2024-01-01T00:00:00Z"},
        ],
        "workspaces": workspaces,
        "memberships": memberships,
    }


NATIVE = "/api/v2/workspaces"
ENGINEERING = "/flavors/engineering/api/workspaces/"
GEOSCIENCE = f"/flavors/geoscience/workspace/orgs/{ORG}/workspaces"
PLATFORM = "/flavors/platform/workspaces"
# (caller, method, path): every answer a client reads most, and errors of each kind.
REQUESTS = [
    *[("ada", "GET", NATIVE + query) for query in (
        "", "?limit=5", "?limit=5&offset=5", "?offset=1000", "?page=2&page_size=7", "?sort=-created_at", "?limit=20",
        "?sort=title,-updated_at&limit=50", "?sort=views:desc", "?sort=name", "?sort=level", "?q=harbor", "?q=harbr",
        "?q=ha", "?q=%C3%BCberblick", "?q=zzzzzz", "?tag=api", "?tag=api&tag=data", "?label=env:prod",
        "?include_archived=true", "?level=admin", "?created_after=2024-01-10T00:00:00Z&limit=3",
        "?limit=0", "?limit=abc", "?sort=nope", "?unknown=1",
    )],
    ("admin", "GET", NATIVE + "?all=true&limit=100"),
    ("admin", "GET", NATIVE + "?all=true&q=delta"),
    ("bob", "GET", NATIVE + "?all=true"),
    ("bob", "GET", NATIVE),
    ("nobody", "GET", NATIVE),
    *[("ada", "GET", f"{NATIVE}/{name}") for name in ("harbor-014", "harbour-001", "delta-017", "canyon-003")],
    ("bob", "GET", f"{NATIVE}/harbour-001"),
    ("ada", "GET", f"{NATIVE}/no-such-workspace"),
    ("ada", "GET", f"{NATIVE}/harbor-014/acl"),
    ("ada", "GET", "/api/v2/me"),
    ("ada", "GET", ENGINEERING),
    ("ada", "GET", ENGINEERING + "?limit=5&offset=5&sort=name:desc"),
    ("ada", "GET", ENGINEERING + "?search=harbor"),
    ("ada", "GET", ENGINEERING + "14/"),
    ("ada", "GET", ENGINEERING + "99999/"),
    ("ada", "GET", ENGINEERING + "?limit=-1"),
    ("ada", "GET", GEOSCIENCE),
    ("ada", "GET", GEOSCIENCE + "?limit=5&sort=name"),
    ("ada", "GET", f"{GEOSCIENCE}/00000000-0000-4000-8000-000000000014"),
    ("ada", "GET", PLATFORM),
    ("ada", "GET", PLATFORM + "?limit=3"),
    ("ada", "GET", "/api/v2/nowhere"),
    ("ada", "DELETE", "/api/v2/me"),
]
TOKENS = {"ada": ADA, "bob": BOB, "admin": ADMIN_TOKEN, "nobody": "wss_answers-nobody-0123456789abcdefghijklmnop"}


@pytest.fixture(scope="module")
def seeded(request, tmp_path_factory):
    return SeededModuleApp(request, tmp_path_factory, "answers", _seed())


@pytest.fixture(autouse=True)
def _reseed(seeded, database_of_this_test):
    seeded.reseed(database_of_this_test)


def _answer(client, caller, method, path):
    response = client.open(path, method=method, headers=bearer(TOKENS[caller]))
    headers = {name: response.headers[name] for name in COMPARED_HEADERS if name in response.headers}
    return {"status": response.status_code, "headers": headers, "body": response.get_data().decode("utf-8")}


def test_every_answer_is_the_recorded_one(seeded):
    client = seeded.app.test_client()
    answers = {f"{caller} {method} {path}": _answer(client, caller, method, path) for caller, method, path in REQUESTS}
    if RECORD:
        with open(ANSWERS, "w", encoding="utf-8") as handle:
            json.dump(answers, handle, indent=1, ensure_ascii=False, sort_keys=True)
            handle.write("\n")
    with open(ANSWERS, encoding="utf-8") as handle:
        recorded = json.load(handle)
    assert sorted(answers) == sorted(recorded)
    changed = [key for key in answers if answers[key] != recorded[key]]
    for key in changed:
        print(f"{key}\n  recorded: {recorded[key]}\n  now:      {answers[key]}")
    assert not changed, f"{len(changed)} answers differ from the recorded ones: {changed}"
    # the record is worth something only if it holds real pages and errors
    statuses = {answer["status"] for answer in answers.values()}
    assert {200, 400, 401, 404, 422} <= statuses, statuses
    assert json.loads(answers[f"ada GET {NATIVE}?limit=5"]["body"])

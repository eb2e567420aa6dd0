"""Fill a wsserver instance folder and a json-server db.json with the same N workspaces.

    python bench/fill.py --instance DIR [--json FILE] --workspaces N --members M --token TOKEN
                         [--database-url postgresql://...]

The wsserver database (the instance's SQLite file, or the PostgreSQL database
of --database-url) is written through wsserver's own app factory (so the schema
and migrations are exactly the server's) and its Peewee models, with bulk
inserts inside one transaction; then the listing's side tables and search index
are written as the services write them (storage.index). The benchmark account `bench`
(bearer TOKEN) owns M of the N workspaces, spread evenly over the name space;
the account `others` owns the rest. Prints one JSON line describing the data
(target workspace names, search term) for bench/run.py.
"""
import argparse
import json
import os
import random
import sys
import time

# The wsserver checkout to use: this one, or the one bench/run.py --tree names.
ROOT = os.environ.get("BENCH_WSSERVER_TREE") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

ADJECTIVES = (
    "amber azure bold brave bright calm clever cosmic crimson daring deep eager fancy fast fierce "
    "gentle golden grand happy hidden humble icy jolly keen kind lively lucky mellow misty noble "
    "odd orange pale proud quiet rapid red rosy rusty scarlet shiny silent silver smooth snowy "
    "solar sturdy sunny swift tidy tiny urban vivid warm wild windy wise witty young zesty"
).split()
NOUNS = (
    "anchor badger beacon birch bison canyon cedar comet coral crane delta dune eagle ember falcon "
    "fern fjord forest fox glacier granite grove harbor hawk heron island jaguar lagoon lantern "
    "maple meadow mesa nebula oak orbit otter panda pebble pine prairie quartz raven reef river "
    "rocket saturn sequoia sparrow spruce summit tiger tundra valley willow wolf yak zephyr"
).split()
TAGS = "frontend backend data ml infra docs design mobile web api ops security research qa sales".split()
TEAMS = "alpha beta gamma delta omega".split()
ENVS = "dev staging prod".split()

# The fuzzy-search term: one noun, so about 1 workspace in len(NOUNS) matches.
SEARCH_TERM = "harbor"


def workspace_rows(count, seed=8):
    """N workspaces as plain dicts, in fullname order (deterministic)."""
    rng = random.Random(seed)
    base = time.time() - 86400 * 365
    rows = []
    for index in range(count):
        adjective, noun = rng.choice(ADJECTIVES), rng.choice(NOUNS)
        created = base + index * 60
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created)) + f".{index % 1000:03d}Z"
        rows.append({
            "id": f"{index:024x}",
            "fullname": f"{adjective}-{noun}-{index:06d}",
            "invite": f"wss_invite-{rng.getrandbits(128):032x}",
            "tags": sorted(rng.sample(TAGS, rng.randint(1, 3))),
            "labels": {"team": rng.choice(TEAMS), "env": rng.choice(ENVS)},
            "title": f"{adjective.capitalize()} {noun} {index}",
            "created_at": stamp,
            "updated_at": stamp,
        })
    rows.sort(key=lambda row: row["fullname"])
    return rows


def member_indexes(count, members):
    """Positions (in fullname order) of the workspaces the benchmark account belongs to."""
    members = min(members, count)
    step = count / members
    return [int(i * step) for i in range(members)]


def fill_wsserver(instance, rows, members, token, database_url=None):
    from wsserver import create_app
    from wsserver.storage import db, index
    from wsserver.ids import hash_secret
    from wsserver.storage.models import Account, AclEntry, Token, Workspace
    from wsserver.permissions import OWNER

    settings = {"INSTANCE_PATH": instance, "ADMIN_TOKEN": "wss_bench-admin-" + "x" * 40, "RATE_LIMIT": "off"}
    if database_url:
        settings["DATABASE_URL"] = database_url
    create_app(settings)
    database = db.database
    now = rows[0]["created_at"]
    member_set = set(members)
    with database.atomic():
        bench = Account.create(id="b" * 24, username="bench", nickname="Benchmark", admin=False, created_at=now)
        others = Account.create(id="c" * 24, username="others", nickname="Others", admin=False, created_at=now)
        Token.create(id="d" * 24, account=bench, token_hash=hash_secret(token), name="bench", created_at=now)
        workspaces, acl = [], []
        for position, row in enumerate(rows):
            owner = bench if position in member_set else others
            workspaces.append({
                "id": row["id"], "fullname": row["fullname"], "invite": row["invite"],
                "tags": row["tags"], "labels": row["labels"], "title": row["title"], "avatar": None,
                "avatar_file": None, "created_at": row["created_at"], "updated_at": row["updated_at"],
                "created_by": owner.id,
            })
            acl.append({
                "id": "e" + row["id"][1:], "workspace": row["id"], "account": owner.id,
                "level": OWNER, "created_at": row["created_at"], "workspace_fullname": row["fullname"],
            })
        for start in range(0, len(workspaces), 500):
            Workspace.insert_many(workspaces[start:start + 500]).execute()
        for start in range(0, len(acl), 1000):
            AclEntry.insert_many(acl[start:start + 1000]).execute()
        index.rebuild()  # the listing's side tables and search index, as the services would write them
    if db.is_sqlite():
        database.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        database.execute_sql("VACUUM ANALYZE")  # planner statistics, as autovacuum would soon gather them
    db.close_all_connections()


def write_json_server_db(path, rows, member_set):
    """json-server's db.json: the same workspaces in WorkspaceView shape (fullname is json-server's id)."""
    documents = [
        {
            "fullname": row["fullname"],
            "wsid": row["id"],
            "tags": row["tags"],
            "labels": row["labels"],
            "meta": {"title": row["title"], "avatar": None},
            "createdAt": row["created_at"],
            "updatedAt": row["updated_at"],
            "createdBy": ("b" if position in member_set else "c") * 24,
            "invite": row["invite"],
        }
        for position, row in enumerate(rows)
    ]
    with open(path, "w", encoding="utf-8") as handle:
        json.dump({"workspaces": documents}, handle, ensure_ascii=False, indent=2)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", required=True)
    parser.add_argument("--json", help="also write json-server's db.json here")
    parser.add_argument("--workspaces", type=int, required=True)
    parser.add_argument("--members", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--database-url", help="fill this PostgreSQL database instead of the instance's SQLite file")
    arguments = parser.parse_args(argv)

    started = time.perf_counter()
    rows = workspace_rows(arguments.workspaces)
    members = member_indexes(arguments.workspaces, arguments.members)
    fill_wsserver(arguments.instance, rows, members, arguments.token, arguments.database_url)
    filled = time.perf_counter()
    if arguments.json:
        write_json_server_db(arguments.json, rows, set(members))
    member_rows = [rows[position] for position in members]
    target = member_rows[len(member_rows) // 2]
    print(json.dumps({
        "workspaces": len(rows),
        "members": len(member_rows),
        "target": target["fullname"],
        "target_tags": target["tags"],
        "target_labels": target["labels"],
        "search_term": SEARCH_TERM,
        "member_matches": sum(SEARCH_TERM in row["fullname"] for row in member_rows),
        "all_matches": sum(SEARCH_TERM in row["fullname"] for row in rows),
        "fill_seconds": round(filled - started, 2),
        "json_seconds": round(time.perf_counter() - filled, 2),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())

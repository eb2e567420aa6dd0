"""Time GET /workspaces at 1,000 and at 100,000 workspaces (and a million with --million).

    python bench/bench_listing.py [--plans] [--repeat N] [--million]
    python bench/bench_listing.py --search [--million] [--repeat N] [--keep DIR] [--service] [--postgresql URL]

Listing (the default): fills a database in a temporary folder through Peewee
bulk inserts (not the HTTP API; storage.index writes the search index as the
services do). The benchmark account (the instance admin) is a member of the
first 1,000 workspaces, whose names are spread over the whole name space; the
workspaces added next belong to others. Each query is asked through the Flask
test client (parsing, the listing service, serialisation, headers), as
member-only listing and with all=true. --plans also prints SQLite's EXPLAIN
QUERY PLAN of each page query at the largest size.

--search times only the fuzzy search, on the rows `make bench` serves
(bench/fill.py: "harbor" is in about one name in 64; the account `bench`
belongs to 1,000 of them, spread over the name space): q=harbor, the
misspelled q=harbr and q=prod (a label value of one workspace in three) as
that member, and the first two with all=true as the instance admin. Each size is its own database; --keep DIR fills them there once and
reuses them on later runs (e.g. to compare two trees on the same data).
--service also times the listing service alone (no HTTP, no JSON). --postgresql URL
runs it on PostgreSQL: a database per size on that server (made, filled once with --keep).

Every figure is the median of --repeat requests after one warm-up request:
wall milliseconds (time.perf_counter) and CPU milliseconds of this process
(time.process_time; the steadier figure on a shared machine).
"""
import argparse
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from wsserver import create_app  # noqa: E402
from wsserver.storage import index  # noqa: E402
from wsserver.storage.db import close_all_connections, database  # noqa: E402
from wsserver.ids import new_id, new_secret  # noqa: E402
from wsserver.storage.models import Account, AclEntry, Workspace  # noqa: E402
from wsserver.permissions import LEVELS  # noqa: E402

TOKEN = "wss_bench-listing-token-0123456789abcdefghijklmnopqrstuv"
API = "/api/v2/workspaces"
MEMBER_OF = 1_000
STAGES = (1_000, 100_000)
BATCH = 2_000

SYLLABLES = (
    "ba be bi bo bu da de di do du fa fe fi fo ka ke ki ko ku la le li lo lu ma me mi mo mu na ne ni no "
    "nu pa pe pi po pu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo za ze zi zo"
).split()
CODAS = ("", "", "n", "r", "s", "l", "x", "nd", "rt", "st")
ENVS = ("dev", "staging", "prod")


def make_words(rng, count):
    words = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))) + rng.choice(CODAS))
    return sorted(words)


class Data:
    def __init__(self, seed=5):
        self.rng = random.Random(seed)
        self.words = make_words(self.rng, 5_000)
        self.tags = self.words[:300]
        self.teams = self.words[300:400]
        self.creators = [new_id() for _ in range(50)]
        self.start = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def timestamp(self, seconds):
        moment = self.start + timedelta(seconds=seconds)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def workspace(self, index):
        rng = self.rng
        created = rng.uniform(0, 2 * 365 * 86400)
        title = None if rng.random() < 0.1 else " ".join(rng.choice(self.words) for _ in range(3)).capitalize()
        return {
            "id": new_id(),
            "fullname": f"{rng.choice(self.words)}-{rng.choice(self.words)}-{index}",
            "invite": new_secret(),
            "tags": rng.sample(self.tags, rng.randint(0, 4)),
            "labels": {"env": rng.choice(ENVS), "team": rng.choice(self.teams)},
            "title": title,
            "created_at": self.timestamp(created),
            "updated_at": self.timestamp(created + rng.uniform(0, 90 * 86400)),
            "created_by": rng.choice(self.creators),
        }


def fill(data, account_id, start, stop, member):
    """Workspaces start..stop-1 in bulk; the account joins each when `member`."""
    with database.atomic():
        for low in range(start, stop, BATCH):
            rows = [data.workspace(position) for position in range(low, min(stop, low + BATCH))]
            Workspace.insert_many(rows).execute()
            index.write((Workspace(**row) for row in rows), fresh=True)
            if member:
                now = data.timestamp(0)
                levels = [LEVELS["owner"], LEVELS["admin"], LEVELS["developer"], LEVELS["user"]]
                AclEntry.insert_many(
                    [
                        {"id": new_id(), "workspace": row["id"], "account": account_id,
                         "level": levels[i % 4], "created_at": now, "workspace_fullname": row["fullname"]}
                        for i, row in enumerate(rows)
                    ]
                ).execute()


def queries(data, total, all_flag):
    """(label, query parameters) of the timed requests."""
    visible = total if all_flag else MEMBER_OF
    base = {"all": "true"} if all_flag else {}
    misspelled = data.words[1234]
    misspelled = misspelled[:2] + misspelled[3] + misspelled[2] + misspelled[4:]  # swap two letters
    return [
        ("first page", {**base}),
        ("deep page", {**base, "sort": "-created_at", "offset": visible - 100, "limit": 100}),
        ("q search", {**base, "q": data.words[1234][:5]}),
        ("q misspelled", {**base, "q": misspelled}),
        ("filtered", {**base, "tag": data.tags[7], "label": "env:prod",
                      "created_after": "2024-06-01T00:00:00Z", "sort": "-updated_at"}),
    ]


def timed(client, headers, params, repeat):
    """(median wall ms, median CPU ms, X-Total-Count, items on the page) of `repeat` requests, after a warm-up."""
    url = f"{API}?{urlencode(params)}"
    client.get(url, headers=headers)
    walls, cpus = [], []
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        response = client.get(url, headers=headers)
        cpus.append((time.process_time() - began_cpu) * 1000)
        walls.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.get_json()
    return statistics.median(walls), statistics.median(cpus), int(response.headers["X-Total-Count"]), \
        len(response.get_json())


def print_plans(account, data, total):
    from schemas.listing import ListQuerySchema
    from wsserver.services.listing import build_queries

    for all_flag in (False, True):
        for label, params in queries(data, total, all_flag):
            values = {key: [value] if key in ("tag", "label") else str(value) for key, value in params.items()}
            query = ListQuerySchema().load(values)
            page, count = build_queries(account, query)
            for name, built in (("page", page), ("count", count)):
                sql, args = built.sql()
                plan = database.execute_sql("EXPLAIN QUERY PLAN " + sql, args).fetchall()
                print(f"  {'all' if all_flag else 'member'} / {label} / {name}:")
                for row in plan:
                    print(f"      {row[3]}")


def listing_main(options):
    stages = (*STAGES, 1_000_000) if options.million else STAGES
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "ADMIN_TOKEN": TOKEN, "RATE_LIMIT": "off"})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        account = Account.get(Account.username == "admin")
        data = Data()
        results = {}
        filled = 0
        for stage in stages:
            began = time.perf_counter()
            fill(data, account.id, filled, min(stage, MEMBER_OF), member=True)
            fill(data, account.id, max(filled, MEMBER_OF), stage, member=False)
            filled = stage
            print(f"filled {stage:,} workspaces in {time.perf_counter() - began:.1f}s", flush=True)
            for all_flag in (False, True):
                for label, params in queries(data, stage, all_flag):
                    results[stage, all_flag, label] = timed(client, headers, params, options.repeat)
            if options.plans and stage == stages[-1]:
                with app.app_context():
                    print_plans(account, data, stage)

        print()
        print(f"median of {options.repeat} requests: wall ms / CPU ms [X-Total-Count]; "
              f"the account is a member of {MEMBER_OF:,}")
        print(f"{'query':<14}{'listing':<9}" + "".join(f"{stage:>26,}" for stage in stages))
        for all_flag in (False, True):
            for label, _ in queries(data, stages[0], all_flag):
                cells = "".join(
                    f"{wall:>9.1f} /{cpu:>6.1f} [{total:>6}]"
                    for wall, cpu, total, _ in (results[stage, all_flag, label] for stage in stages)
                )
                print(f"{label:<14}{'all' if all_flag else 'member':<9}{cells}")


# --- --search: the fuzzy search of `make bench`, on its rows --------------------------------------

SEARCH_QUERIES = (
    ("harbor", "member", {"q": "harbor"}),
    ("harbr", "member", {"q": "harbr"}),
    ("prod", "member", {"q": "prod"}),  # a label value: a third of the workspaces match
    ("harbor", "all", {"q": "harbor", "all": "true"}),
    ("harbr", "all", {"q": "harbr", "all": "true"}),
)
BENCH_TOKEN = "wss_bench-listing-member-0123456789abcdefghijklmnopqrstuv"
BENCH_ADMIN_TOKEN = "wss_bench-admin-" + "x" * 40  # what bench/fill.py gives the instance


def filled_instance(folder, size, postgresql=None):
    """(instance folder, database URL or None) holding bench/fill.py's `size` workspaces: in the
    instance's SQLite file, or in a database of its own on the PostgreSQL server `postgresql`
    (a URL). Filled once; kept in `folder`."""
    import fill as bench_fill

    instance = os.path.join(folder, f"search-{'pg-' if postgresql else ''}{size}")
    database_url = postgresql and postgres_database(postgresql, f"wsserver_bench_search_{size}",
                                                    fresh=not os.path.exists(os.path.join(instance, "filled")))
    if os.path.exists(os.path.join(instance, "filled")):
        return instance, database_url
    os.makedirs(instance, exist_ok=True)
    began = time.perf_counter()
    rows = bench_fill.workspace_rows(size)
    bench_fill.fill_wsserver(instance, rows, bench_fill.member_indexes(size, MEMBER_OF), BENCH_TOKEN, database_url)
    del rows
    with open(os.path.join(instance, "filled"), "w") as marker:
        marker.write(f"{size}\n")
    print(f"filled {size:,} workspaces in {time.perf_counter() - began:.1f}s", flush=True)
    return instance, database_url


def postgres_database(server_url, name, fresh):
    """The URL of database `name` on that server, made (anew when `fresh`) if need be."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg

    with psycopg.connect(server_url, autocommit=True) as connection:
        if fresh:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def timed_service(app, username, params, repeat):
    """(median wall ms, median CPU ms) of the listing service alone (no HTTP, no JSON)."""
    from schemas.listing import ListQuerySchema
    from wsserver.services.listing import list_workspaces

    with app.app_context():
        account = Account.get(Account.username == username)
        query = ListQuerySchema().load({name: str(value) for name, value in params.items()})
        list_workspaces(account, query)
        walls, cpus = [], []
        for _ in range(repeat):
            began, began_cpu = time.perf_counter(), time.process_time()
            list_workspaces(account, query)
            cpus.append((time.process_time() - began_cpu) * 1000)
            walls.append((time.perf_counter() - began) * 1000)
    return statistics.median(walls), statistics.median(cpus)


def search_main(options, folder):
    sizes = (*STAGES, 1_000_000) if options.million else STAGES
    results = {}
    for size in sizes:
        instance, database_url = filled_instance(folder, size, options.postgresql)
        settings = {"INSTANCE_PATH": instance, "ADMIN_TOKEN": BENCH_ADMIN_TOKEN, "RATE_LIMIT": "off"}
        if database_url:
            settings["DATABASE_URL"] = database_url
        app = create_app(settings)
        client = app.test_client()
        for q, who, params in SEARCH_QUERIES:
            token = BENCH_TOKEN if who == "member" else BENCH_ADMIN_TOKEN
            results[size, q, who] = timed(client, {"Authorization": f"Bearer {token}"}, params, options.repeat)
            if options.service:
                results[size, q, who] += timed_service(app, "bench" if who == "member" else "admin", params,
                                                        options.repeat)
            print(f"  {size:>9,} q={q:<7} {who:<7} " + " ".join(f"{value:.1f}" for value in results[size, q, who]),
                  flush=True)
        close_all_connections()
    print()
    print(f"median of {options.repeat} requests: wall ms / CPU ms [X-Total-Count]"
          + ("; then the service alone, wall / CPU" if options.service else "")
          + f"; the member belongs to {MEMBER_OF:,}")
    print(f"{'q':<8}{'listing':<9}" + "".join(f"{size:>{46 if options.service else 26},}" for size in sizes))
    for q, who, _ in SEARCH_QUERIES:
        cells = ""
        for size in sizes:
            figures = results[size, q, who]
            cells += f"{figures[0]:>9.1f} /{figures[1]:>6.1f} [{figures[2]:>6}]"
            if options.service:
                cells += f"{figures[4]:>10.1f} /{figures[5]:>6.1f}"
        print(f"{q:<8}{who:<9}{cells}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN QUERY PLAN at the largest size")
    parser.add_argument("--million", action="store_true", help="also at 1,000,000 workspaces")
    parser.add_argument("--search", action="store_true", help="time only the fuzzy search, on bench/fill.py's rows")
    parser.add_argument("--service", action="store_true", help="with --search: also time the listing service alone")
    parser.add_argument("--keep", metavar="DIR", help="with --search: fill the databases in DIR once, reuse them")
    parser.add_argument("--postgresql", metavar="URL", help="with --search: on this PostgreSQL server "
                        "(e.g. postgresql://postgres@127.0.0.1:5432/postgres), a database per size")
    options = parser.parse_args()
    logging.disable(logging.INFO)
    if not options.search:
        listing_main(options)
    elif options.keep:
        search_main(options, options.keep)
    else:
        with tempfile.TemporaryDirectory() as folder:
            search_main(options, folder)


if __name__ == "__main__":
    main()

"""Time GET /workspaces at 1,000 and at 100,000 workspaces.

    python bench/bench_listing.py [--plans] [--repeat N]

Fills a database in a temporary folder through Peewee bulk inserts (not the
HTTP API; the search triggers index every row as it goes in). The benchmark
account (the instance admin) is a member of the first 1,000 workspaces, whose
names are spread over the whole name space; the 99,000 added next belong to
others. Each query is asked through the Flask test client (parsing, the
listing service, serialisation, headers), as member-only listing and with
all=true; the median of --repeat runs is printed in milliseconds. --plans
also prints SQLite's EXPLAIN QUERY PLAN of each page query at 100,000.
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
from wsserver.storage.db import database  # noqa: E402
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
    url = f"{API}?{urlencode(params)}"
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        response = client.get(url, headers=headers)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.get_json()
    return statistics.median(times), int(response.headers["X-Total-Count"]), len(response.get_json())


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plans", action="store_true", help="print EXPLAIN QUERY PLAN at 100,000")
    options = parser.parse_args()
    logging.disable(logging.INFO)

    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"INSTANCE_PATH": folder, "ADMIN_TOKEN": TOKEN})
        client = app.test_client()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        account = Account.get(Account.username == "admin")
        data = Data()
        results = {}
        filled = 0
        for stage in STAGES:
            began = time.perf_counter()
            fill(data, account.id, filled, min(stage, MEMBER_OF), member=True)
            fill(data, account.id, max(filled, MEMBER_OF), stage, member=False)
            filled = stage
            print(f"filled {stage:,} workspaces in {time.perf_counter() - began:.1f}s", flush=True)
            for all_flag in (False, True):
                for label, params in queries(data, stage, all_flag):
                    results[stage, all_flag, label] = timed(client, headers, params, options.repeat)
            if options.plans and stage == STAGES[-1]:
                with app.app_context():
                    print_plans(account, data, stage)

        print()
        print(f"median of {options.repeat} requests, ms (X-Total-Count in brackets); "
              f"the account is a member of {MEMBER_OF:,}")
        header = f"{'query':<14}{'listing':<9}" + "".join(f"{stage:>22,}" for stage in STAGES)
        print(header)
        for all_flag in (False, True):
            for label, _ in queries(data, STAGES[0], all_flag):
                cells = "".join(
                    f"{results[stage, all_flag, label][0]:>12.1f} [{results[stage, all_flag, label][1]:>6}]"
                    for stage in STAGES
                )
                print(f"{label:<14}{'all' if all_flag else 'member':<9}{cells}")


if __name__ == "__main__":
    main()

"""Attack 2 of issue 28 (CPU): what one search costs whatever the data, through every dialect.

    python bench/search_attack.py [--workspaces 100] [--words 2900] [--query-words 33] [--postgresql URL]

One ordinary account owns --workspaces workspaces, each holding --words distinct five-letter words in
its fields (all within the field limits: title, description, 50 tags, 50 label values): the same
--query-words "targets" in every one (first: in the title and description), the rest random. The query is the targets, each with one letter
replaced: every workspace is a misspelling candidate, and every query word is one typo away from one of
its words, so nothing stops the comparison early. The search is asked through the Flask test client as
native `q`, the platform flavor's `search` and the engineering flavor's `search`; each line prints the
status, the request's CPU as the server measures it (`Server-Timing: cpu;dur=<ms>`, the median of
--repeat), `X-Answer-Partial`, and the number of matches. tests/test_budget_search.py runs it scaled down.
"""
import argparse
import os
import random
import statistics
import string
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

WORD = 5
TITLE_CHARACTERS, DESCRIPTION_CHARACTERS, TAG_CHARACTERS, LABEL_CHARACTERS = 128, 1024, 64, 256
TAGS = LABELS = 50
DIALECTS = {
    "native q": ("/api/v2/workspaces", "q", {"limit": "100"}),
    "platform search": ("/flavors/platform/workspaces", "search", {"page_size": "100"}),
    "engineering search": ("/flavors/engineering/api/workspaces/", "search", {"limit": "100"}),
}


def _fill(words, width):
    """Words joined by spaces into one value of at most `width` characters; the rest of `words` back."""
    per_value = (width + 1) // (WORD + 1)
    return " ".join(words[:per_value]), words[per_value:]


def workspace_body(fullname, words):
    """A PUT /workspaces body holding these words (as many as fit) in its title, description, tags and labels."""
    title, words = _fill(words, TITLE_CHARACTERS)
    description, words = _fill(words, DESCRIPTION_CHARACTERS)
    tags = []
    for _ in range(TAGS):
        tag, words = _fill(words, TAG_CHARACTERS)
        if tag:
            tags.append(tag)
    labels = {}
    for number in range(LABELS):
        value, words = _fill(words, LABEL_CHARACTERS)
        if value:
            labels[f"k{number}"] = value
    return {"fullname": fullname, "meta": {"title": title, "description": description}, "tags": tags,
            "labels": labels}


def capacity():
    """How many five-letter words one workspace's fields hold."""
    return sum((width + 1) // (WORD + 1) for width in
               [TITLE_CHARACTERS, DESCRIPTION_CHARACTERS] + [TAG_CHARACTERS] * TAGS + [LABEL_CHARACTERS] * LABELS)


def typo(word, rng):
    """`word` with one letter replaced by another."""
    position = rng.randrange(len(word))
    letter = rng.choice([c for c in string.ascii_lowercase if c != word[position]])
    return word[:position] + letter + word[position + 1:]


def attack_data(workspaces, words, query_words, seed=28):
    """(the bodies of the workspaces, the query): see the module docstring."""
    rng = random.Random(seed)
    seen = set()

    def fresh():
        while True:
            word = "".join(rng.choice(string.ascii_lowercase) for _ in range(WORD))
            if word not in seen:
                seen.add(word)
                return word

    targets = [fresh() for _ in range(query_words)]
    query = []
    for target in targets:
        while True:
            misspelled = typo(target, rng)
            if misspelled not in seen:
                seen.add(misspelled)
                query.append(misspelled)
                break
    bodies = []
    for number in range(workspaces):
        rest = [fresh() for _ in range(max(0, min(words, capacity()) - len(targets)))]
        # the targets first, in the title and description: where misspellings are looked for
        own = rng.sample(targets, len(targets)) + rest
        bodies.append(workspace_body(f"attack-{number:04d}", own))
    return bodies, " ".join(query)


def create(client, headers, bodies):
    for body in bodies:
        answer = client.put(f"/api/v2/workspaces/{body['fullname']}", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.get_data(as_text=True)[:300]


def cpu_ms(answer):
    """The request's CPU as the server measured it (Server-Timing: cpu;dur=<ms>)."""
    timing = answer.headers.get("Server-Timing", "")
    for part in timing.split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == "cpu":
            return float(duration)
    raise AssertionError(f"no cpu in Server-Timing: {timing!r}")


def matches(answer):
    """How many matched: X-Total-Count, or the engineering flavor's `count`."""
    if "X-Total-Count" in answer.headers:
        return int(answer.headers["X-Total-Count"])
    body = answer.get_json(silent=True) or {}
    return body.get("count")


def ask(client, headers, dialect, q):
    path, parameter, paging = DIALECTS[dialect]
    return client.get(path, query_string={**paging, parameter: q}, headers=headers)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspaces", type=int, default=100)
    parser.add_argument("--words", type=int, default=2900)
    parser.add_argument("--query-words", type=int, default=33)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgresql", metavar="URL", help="a PostgreSQL database to fill (emptied first)")
    arguments = parser.parse_args()

    from wsserver import create_app

    admin_token = "wss_search-attack-admin-0123456789abcdefghijklmnopq"
    with tempfile.TemporaryDirectory() as folder:
        settings = {"INSTANCE_PATH": folder, "ADMIN_TOKEN": admin_token, "RATE_LIMIT": "100000/minute",
                    "ACCESS_LOG": False, "SERVER_TIMING": True}
        if arguments.postgresql:
            settings["DATABASE_URL"] = arguments.postgresql
        app = create_app(settings)
        client = app.test_client()
        made = client.post("/api/v2/accounts", json={"username": "mallory"},
                           headers={"Authorization": f"Bearer {admin_token}"})
        headers = {"Authorization": f"Bearer {made.get_json()['token']}"}
        bodies, q = attack_data(arguments.workspaces, arguments.words, arguments.query_words)
        create(client, headers, bodies)
        print(f"{arguments.workspaces} workspaces x {min(arguments.words, capacity())} words, "
              f"q of {arguments.query_words} words ({len(q)} characters)")
        for dialect in DIALECTS:
            answers = [ask(client, headers, dialect, q) for _ in range(arguments.repeat)]
            last = answers[-1]
            print(f"{dialect:>20}: {last.status_code}, cpu {statistics.median(map(cpu_ms, answers)):8.1f} ms, "
                  f"partial {last.headers.get('X-Answer-Partial', '-')}, "
                  f"matches {matches(last)}")


if __name__ == "__main__":
    main()

"""Search (`q` of GET /workspaces): what matches and in what order. The rule, top-down:

- `search_terms`: the lower-cased, whitespace-separated terms of q.
- `matching`: every term is a substring of the workspace's search document
  (fullname, title, description, tags, label values; storage.index); terms too
  short for trigrams match a name or title prefix; or the workspace is one of
  the close misspellings, or the one whose UUID q is (`id_matches`).
- `misspelling_matches`: the 100 candidates holding the most of the query's
  trigrams, kept when each term is a substring or within `allowed_edits` of a
  word (optimal string alignment, rapidfuzz), closest first.
- `relevance`: exact name, exact title, name prefix, title prefix, in the
  name, elsewhere, then the misspellings, closest first.

The listing service (services/listing.py) applies these inside its visibility
and filters, through `search(terms, within)`, which finds the matches and the
misspelling candidates (the same ones, in the same order) one of two ways:

- among the workspaces the caller may see (`within`), when they are at most
  WITHIN_LIMIT and the instance is larger than SMALL_INDEX (a member's search
  on a large instance): their documents are read by key
  (engine.documents_within) and tested here with Python's `in`, so the cost
  follows the caller's workspaces, not the size of the instance;
- through the engine's trigram index otherwise (a small instance, an instance
  admin's all=true, a caller who sees more): `ids_containing_all` and
  `similar_candidates` read every document of the instance holding the terms
  or the trigrams.

Both give the same answer: the index matches exactly Python's `in` on the
lower-cased documents (storage/sqlite.py, storage/postgres.py), and the
candidates are ranked by the same keys (grams held, fullname, id; code point
order on both engines). Measured in-process (`python bench/bench_listing.py
--search --million`: CPU ms of GET /workspaces through the test client, SQLite,
a member of 1,000 workspaces; the first way from 100,000 on): q=harbor 5.5 /
13 / 105 ms at 1,000 / 100,000 / 1,000,000 workspaces through the index, 10 / 14
at 100,000 / 1,000,000 among the caller's; q=prod (a third of them match) 10 /
92 / 862 -> 16 / 21; an instance admin's all=true is unchanged (the index).
"""
import heapq
import re
import uuid

from peewee import OP, SQL, Case, Expression, Node, NodeList, Value, fn
from rapidfuzz.distance import OSA

from ..storage.db import database, engine
from ..storage.models import Workspace

# At most this many workspaces are looked at as misspelling matches of `q`.
MISSPELLING_CANDIDATES = 100
# Substring look-ups go through the trigram index when a term has at least this many characters.
TRIGRAM = 3
SHORTEST_SUBSTRING = TRIGRAM
# A misspelling look-up asks for workspaces holding any of at most this many trigrams of the query.
MAX_TRIGRAMS = 32
# A search looks among the caller's visible workspaces one by one, instead of through the trigram
# index, when they are at most WITHIN_LIMIT and the index holds more than SMALL_INDEX documents (see
# `search`; bench/bench_listing.py --search measures both ways).
WITHIN_LIMIT = 5_000
SMALL_INDEX = 5_000

# Relevance tiers of `q` (lower first); see `relevance`.
EXACT_NAME, EXACT_TITLE, NAME_PREFIX, TITLE_PREFIX, IN_NAME, ELSEWHERE = range(6)


def search(terms, within):
    """(the WHERE condition, the ORDER BY terms) of these terms for the listing: `matching` and `relevance`.

    `within` is a query of the workspace ids the caller may see with the query's filters, or None
    for every workspace. When it holds at most WITHIN_LIMIT workspaces and the index more than
    SMALL_INDEX documents, the matches and the misspelling candidates are found among its documents,
    read by key: a walk of the caller's workspaces, whatever the size of the instance. Otherwise
    they are found through the trigram index (every document of the instance holding the terms or
    one of the trigrams): on a small instance that walk is the shorter one, and a caller who sees
    more (an instance admin's all=true) would cost as much or more one workspace at a time.
    """
    documents = None
    if (within is not None and any(len(term) >= SHORTEST_SUBSTRING for term in terms)
            and engine().index_holds_more_than(database, SMALL_INDEX)):
        documents = engine().documents_within(database, within, WITHIN_LIMIT)
    if documents is None:  # (terms shorter than trigrams match name and title prefixes: index ranges)
        misspelled = list(dict.fromkeys(id_matches(terms, within) + misspelling_matches(terms, within)))
        return matching(terms, misspelled), relevance(terms, misspelled)
    misspelled = list(dict.fromkeys(id_matches(terms, within) + misspellings_among(terms, documents)))
    # every term a substring of the document: what the index's MATCH (and instr()) finds
    if len(terms) == 1:
        term = terms[0]
        holding = [workspace_id for workspace_id, document in documents if term in document]
    else:
        holding = [workspace_id for workspace_id, document in documents if all(term in document for term in terms)]
    found = list(dict.fromkeys(holding + misspelled))
    return Workspace.id.in_(IdList(found) if found else []), relevance(terms, misspelled)


class IdList(Node):
    """`(?, ?, ...)` holding these ids (at least one), for `column IN`, written in one step.

    Peewee writes a list, or the parameters of an SQL node, with one Context.value() call per item:
    at 330 matching workspaces that was 2 ms of the 12 a search costs. This node puts its marks in
    and hands its parameters over as they are (Context._values: peewee is pinned, and a Context
    without it gets them one by one)."""

    def __init__(self, ids):
        super().__init__()
        self.ids = list(ids)

    def __sql__(self, ctx):
        values = getattr(ctx, "_values", None)
        if ctx.state.value_literals or not isinstance(values, list):
            return ctx.sql(Value(self.ids))
        ctx.literal("(" + ", ".join([ctx.state.param or "?"] * len(self.ids)) + ")")
        values.extend(self.ids)
        return ctx


def search_terms(q):
    """The lower-cased, whitespace-separated terms of q, each once, in order."""
    if not q:
        return []
    return list(dict.fromkeys(q.lower().split()))


def matching(terms, misspelled):
    """The rule of q: every term is a substring of the name, the title, a tag or a label value
    (case-insensitive), or the workspace is one of the close misspellings found before."""
    if any(len(term) >= SHORTEST_SUBSTRING for term in terms):
        return Workspace.id.in_(engine().ids_containing_all(terms, SHORTEST_SUBSTRING, also=misspelled))
    condition = _starts_with(terms)
    if misspelled:
        condition = condition | Workspace.id.in_(misspelled)
    return condition


def _starts_with(terms):
    """For queries too short for a substring search: the name or the title starts with them."""
    name, text = "-".join(terms), " ".join(terms)
    title = fn.lower(Workspace.title)
    # index ranges (fullname, lower(title)): U+10FFFF is the largest character
    return ((Workspace.fullname >= name) & (Workspace.fullname < name + "\U0010ffff")) | (
        (title >= text) & (title < text + "\U0010ffff")
    )


def like_text(text):
    """`text` for a LIKE pattern with ESCAPE '\\': its wildcards match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like(column, pattern):
    """column LIKE pattern (ASCII case-insensitive), with backslash escaping the wildcards (like_text)."""
    return Expression(column, OP.ILIKE, NodeList((pattern, SQL("ESCAPE '\\'"))))


def relevance(terms, misspelled):
    """ORDER BY terms: exact name, exact title, name prefix, title prefix, in the name, elsewhere,
    then the misspellings, closest first (they match none of the tiers above: those imply substrings)."""
    name = "-".join(terms)  # fullnames are kebab-case: "data pipeline" is the name data-pipeline
    text = " ".join(terms)
    title = fn.lower(Workspace.title)
    tier = Case(
        None,
        [
            (Workspace.fullname == name, EXACT_NAME),
            (title == text, EXACT_TITLE),
            (_like(Workspace.fullname, like_text(name) + "%"), NAME_PREFIX),
            (_like(title, like_text(text) + "%"), TITLE_PREFIX),
            (_like(Workspace.fullname, "%" + like_text(name) + "%"), IN_NAME),
        ],
        ELSEWHERE,
    )
    if not misspelled:
        return [tier]
    closeness = Case(Workspace.id, [(workspace_id, rank) for rank, workspace_id in enumerate(misspelled, 1)], 0)
    return [tier, closeness]


def _trigrams_of(word):
    return [word[i : i + TRIGRAM] for i in range(len(word) - TRIGRAM + 1)]


def trigrams(words):
    """The words' trigrams, then those of each word with one letter left out, at most MAX_TRIGRAMS.

    One typo in a short word can break all of its trigrams ("keilrt" shares
    none with "kelirt"); leaving a letter out yields trigrams that skip it
    ("kel", "irt"), which a word with a swapped or replaced letter still has.
    """
    grams = {}
    for word in words:
        grams.update(dict.fromkeys(_trigrams_of(word)))
    for word in words:
        for skipped in range(1, len(word) - 1):
            grams.update(dict.fromkeys(_trigrams_of(word[:skipped] + word[skipped + 1 :])))
    return list(grams)[:MAX_TRIGRAMS]


def allowed_edits(word):
    """Typos tolerated in a word of the query: none up to 3 characters, 1 up to 5, then 2."""
    if len(word) <= 3:
        return 0
    return 1 if len(word) <= 5 else 2


def words(text):
    """Runs of letters and digits."""
    return re.findall(r"[^\W_]+", text)


def id_matches(terms, within):
    """A q that is one UUID also finds the workspace with that UUID (the id other dialects show), as
    the first of the extra matches (`misspelled` of `matching` and `relevance`)."""
    if len(terms) != 1:
        return []
    try:
        wanted = str(uuid.UUID(terms[0]))
    except ValueError:
        return []
    found = Workspace.select(Workspace.id).where(Workspace.uuid == wanted)
    if within is not None:
        found = found.where(Workspace.id.in_(within))
    return [row.id for row in found]


def _fuzzy_words(terms):
    return [word for term in terms for word in words(term) if allowed_edits(word)]


def misspelling_matches(terms, within):
    """Ids of workspaces where each term is a substring or a close misspelling of a word, but not all
    are substrings (those are found by the index), closest first. At most MISSPELLING_CANDIDATES.
    `within` is a query of the workspace ids to look among (visibility and filters), or None for all.
    The candidates come from the engine's trigram index, over the whole instance."""
    fuzzy_words = _fuzzy_words(terms)
    grams = trigrams(fuzzy_words) if fuzzy_words else []
    if not grams:
        return []
    # Candidates: those holding the most of these trigrams (the engine's index); then the rule below.
    return _closest(terms, engine().similar_candidates(database, grams, within, MISSPELLING_CANDIDATES))


def misspellings_among(terms, documents):
    """`misspelling_matches` among these (workspace id, document): the candidates are chosen here as
    the engine's `similar_candidates` chooses them (any of the trigrams held; the most held first,
    then by fullname, then by id), reading fullnames only where they can decide."""
    fuzzy_words = _fuzzy_words(terms)
    grams = trigrams(fuzzy_words) if fuzzy_words else []
    if not grams:
        return []
    held = []
    for workspace_id, document in documents:
        count = 0
        for gram in grams:
            if gram in document:
                count += 1
        if count:
            held.append((count, workspace_id, document))
    if len(held) > MISSPELLING_CANDIDATES:  # those holding fewer than the best MISSPELLING_CANDIDATES are out
        least = heapq.nlargest(MISSPELLING_CANDIDATES, [count for count, _, _ in held])[-1]
        held = [entry for entry in held if entry[0] >= least]
    if not held:
        return []
    fullnames = engine().fullnames(database, [workspace_id for _, workspace_id, _ in held])
    ranked = heapq.nsmallest(MISSPELLING_CANDIDATES, [
        (-count, fullnames[workspace_id], workspace_id, document)
        for count, workspace_id, document in held if workspace_id in fullnames  # (not deleted meanwhile)
    ])
    return _closest(terms, [(workspace_id, fullname, document) for _, fullname, workspace_id, document in ranked])


def _closest(terms, candidates):
    """The candidates (workspace id, fullname, document) that are misspellings of the terms, closest first."""
    distances = {}  # (query word, workspace word) -> distance, shared by the candidates
    scored = []
    for workspace_id, fullname, document in candidates:
        fields = [value for value in document.split("\n") if value]  # lower-cased already (storage.index)
        similarity = _similarity(terms, fields, distances)
        if similarity is not None:
            scored.append((-similarity, fullname, workspace_id))
    scored.sort()
    return [workspace_id for _, _, workspace_id in scored]


def _similarity(terms, fields, distances):
    """Mean similarity (1 = identical) of the terms to these fields; None when a term matches nothing
    or when every term is a plain substring."""
    vocabulary = None
    total, misspelled = 0.0, False
    for term in terms:
        if any(term in value for value in fields):
            total += 1.0
            continue
        term_words = words(term)
        if not term_words:
            return None
        if vocabulary is None:
            vocabulary = {word for value in fields for word in words(value)}
        closeness = 0.0
        for word in term_words:
            limit = allowed_edits(word)
            best = None
            letters = set(word)
            for candidate in vocabulary:
                # cheap bounds first: an edit changes the length by at most 1 and the set of letters by at most 2
                if abs(len(candidate) - len(word)) > limit or len(letters ^ set(candidate)) > 2 * limit:
                    continue
                pair = (word, candidate)
                if pair not in distances:
                    distances[pair] = edit_distance(word, candidate, limit)
                distance = distances[pair]
                if distance <= limit:
                    score = 1.0 - distance / max(len(word), len(candidate))
                    best = score if best is None else max(best, score)
            if best is None:
                return None
            closeness += best
        total += closeness / len(term_words)
        misspelled = True
    return total / len(terms) if misspelled else None


def edit_distance(a, b, limit):
    """Optimal-string-alignment distance (insert, delete, replace, swap two neighbours), by rapidfuzz;
    limit + 1 when above limit."""
    return OSA.distance(a, b, score_cutoff=limit)

"""Search (`q` of GET /workspaces): what matches and in what order. The rule, top-down:

- `search_terms`: the lower-cased, whitespace-separated terms of q.
- `matching`: every term is a substring of the workspace's search document
  (fullname, title, description, tags, label values; storage.index); terms too
  short for trigrams match a name or title prefix; or the workspace is one of
  the close misspellings, or the one whose UUID q is (`id_matches`).
- `misspelling_matches`: the 100 candidates holding the most of the query's
  trigrams in their first VOCABULARY_SPAN characters, kept when each term is a substring or within `allowed_edits` of a
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

The ceiling (issue 28): one search's work is bounded whatever the data.

- at most MAX_SEARCH_TERMS distinct terms (queries.py; more is refused: the schemas of every dialect
  say so in their own shape, and `search` raises Invalid for any caller that did not);
- misspellings are looked up for the first MAX_FUZZY_WORDS words of q (words of 4+ characters); later
  words must appear as they are, as words of 1-3 characters do;
- at most MISSPELLING_CANDIDATES candidates, and for each only the words of the first VOCABULARY_SPAN
  characters of its document (the fullname, title and description come first) are compared, in C
  (rapidfuzz.process.extract);
- a CPU budget (WSSERVER_SEARCH_CPU_MS, this thread's time.thread_time()) for the work the search can
  stop, counted from when the rows it walks are in hand (the candidates or the caller's documents: one
  SQL statement each, which cannot be stopped midway, bounded by the caller's visible workspaces and
  the quota on them): once spent, the walks stop, the answer holds what was found so far (the
  substring matches the index found, the misspellings scored until then) and says so:
  budgets.cut_short(SEARCH), which the HTTP edge turns into `X-Answer-Partial: search`. (Counting
  from the start of the search instead, an instance admin's all=true at 100,000 workspaces, whose
  candidate SQL alone takes ~100 ms, lost every misspelling.)

With these, the attack of issue 28 (100 workspaces x ~2,800 distinct five-letter words, a q of many
words one typo away) costs 51-59 ms for the whole request instead of 5.7 s (python
bench/search_attack.py --query-words 8; 33 words are refused in ~1 ms).
"""
import heapq
import re
import time
import uuid

from flask import current_app, has_app_context
from peewee import OP, SQL, Case, Expression, Node, NodeList, Value, fn
from rapidfuzz import process
from rapidfuzz.distance import OSA  # optimal string alignment: insert, delete, replace, swap two neighbours

from .. import budgets
from ..errors import Invalid
from ..queries import MAX_SEARCH_TERMS, TOO_MANY_SEARCH_TERMS, search_terms
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
# The ceiling (module docstring). Constants, not settings: they decide what matches, the same on every
# node and in every test; only the CPU budget (WSSERVER_SEARCH_CPU_MS) is the operator's to tune.
MAX_FUZZY_WORDS = 8
VOCABULARY_SPAN = 2048
# The walks over documents look at the clock once every this many.
BUDGET_STRIDE = 32

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
    if len(terms) > MAX_SEARCH_TERMS:  # (every dialect's schema refuses it first, naming its parameter)
        raise Invalid("Invalid values: q.", {"q": [TOO_MANY_SEARCH_TERMS]})
    budget = Budget(current_app.config["SEARCH_CPU_MS"] if has_app_context() else DEFAULT_CPU_MS)
    documents = None
    if (within is not None and any(len(term) >= SHORTEST_SUBSTRING for term in terms)
            and engine().index_holds_more_than(database, SMALL_INDEX)):
        documents = engine().documents_within(database, within, WITHIN_LIMIT)
        budget.restart()  # (the read above cannot be stopped: the budget is for the walks below)
    if documents is None:  # (terms shorter than trigrams match name and title prefixes: index ranges)
        misspelled = list(dict.fromkeys(id_matches(terms, within) + misspelling_matches(terms, within, budget)))
        return matching(terms, misspelled), relevance(terms, misspelled)
    # every term a substring of the document: what the index's MATCH (and instr()) finds
    holding = []
    for position, (workspace_id, document) in enumerate(documents):
        if position % BUDGET_STRIDE == 0 and budget.spent():
            break
        if all(term in document for term in terms):
            holding.append(workspace_id)
    misspelled = list(dict.fromkeys(id_matches(terms, within) + misspellings_among(terms, documents, budget)))
    found = list(dict.fromkeys(holding + misspelled))
    return Workspace.id.in_(IdList(found) if found else []), relevance(terms, misspelled)


DEFAULT_CPU_MS = 50  # config.py's default of SEARCH_CPU_MS, for a search outside an app (a script)


class Budget:
    """The CPU time one search may take (this thread's, from `time.thread_time`). Once spent, `spent()`
    says so from then on and the request's answer is marked partial (budgets.cut_short(SEARCH))."""

    clock = staticmethod(time.thread_time)  # (tests replace it with a clock of their own)

    def __init__(self, milliseconds):
        self.seconds = milliseconds / 1000
        self.deadline = self.clock() + self.seconds
        self.cut = False

    def restart(self):
        """The whole budget again from now (after a statement that could not be stopped), unless spent."""
        if not self.cut:
            self.deadline = self.clock() + self.seconds

    def spent(self):
        if not self.cut and self.clock() > self.deadline:
            self.cut = True
            budgets.cut_short(budgets.SEARCH)
        return self.cut


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


_WORD_CHARACTER = re.compile(r"[^\W_]")
_WORDS = re.compile(r"[^\W_]+")


def words(text):
    """Runs of letters and digits."""
    return _WORDS.findall(text)


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
    """{word: typos tolerated} of the words of q looked up as misspellings: the first MAX_FUZZY_WORDS
    distinct words long enough for a typo."""
    tolerated = {}
    for term in terms:
        for word in words(term):
            if word not in tolerated and allowed_edits(word) and len(tolerated) < MAX_FUZZY_WORDS:
                tolerated[word] = allowed_edits(word)
    return tolerated


def misspelling_matches(terms, within, budget):
    """Ids of workspaces where each term is a substring or a close misspelling of a word, but not all
    are substrings (those are found by the index), closest first. At most MISSPELLING_CANDIDATES.
    `within` is a query of the workspace ids to look among (visibility and filters), or None for all.
    The candidates come from the engine's trigram index, over the whole instance."""
    fuzzy_words = _fuzzy_words(terms)
    grams = trigrams(fuzzy_words) if fuzzy_words else []
    if not grams:
        return []
    # Candidates: those holding the most of these trigrams (the engine's index); then the rule below.
    candidates = engine().similar_candidates(database, grams, within, MISSPELLING_CANDIDATES, VOCABULARY_SPAN)
    budget.restart()  # (the statement above cannot be stopped: the budget is for the scoring below)
    return _closest(terms, candidates, budget)


def misspellings_among(terms, documents, budget):
    """`misspelling_matches` among these (workspace id, document): the candidates are chosen here as
    the engine's `similar_candidates` chooses them (any of the trigrams held in the first VOCABULARY_SPAN
    characters; the most held there first, then by fullname, then by id), reading fullnames only where they can decide."""
    fuzzy_words = _fuzzy_words(terms)
    grams = trigrams(fuzzy_words) if fuzzy_words else []
    if not grams:
        return []
    held = []
    for position, (workspace_id, document) in enumerate(documents):
        if position % BUDGET_STRIDE == 0 and budget.spent():
            break
        count = 0
        for gram in grams:  # held in the first VOCABULARY_SPAN characters (find's end bound: no copy of them)
            if document.find(gram, 0, VOCABULARY_SPAN) >= 0:
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
    return _closest(terms, [(workspace_id, fullname, document) for _, fullname, workspace_id, document in ranked],
                    budget)


def _closest(terms, candidates, budget):
    """The candidates (workspace id, fullname, document) that are misspellings of the terms, closest first
    (those scored before the budget ran out)."""
    tolerated = _fuzzy_words(terms)
    scored = []
    for workspace_id, fullname, document in candidates:
        if budget.spent():
            break
        similarity = _similarity(terms, document, tolerated)
        if similarity is not None:
            scored.append((-similarity, fullname, workspace_id))
    scored.sort()
    return [workspace_id for _, _, workspace_id in scored]


def _similarity(terms, document, tolerated):
    """Mean similarity (1 = identical) of the terms to this document (its fields, lower-cased already,
    one a line: storage.index); None when a term matches nothing or when every term is a plain substring.
    A term is a substring of a field or each of its words is within its typos (`tolerated`; 0 for the
    others) of a word of the document's first VOCABULARY_SPAN characters."""
    vocabulary = known = None
    total, misspelled = 0.0, False
    for term in terms:
        if term in document:  # (a term holds no line feed: a substring of one of the fields)
            total += 1.0
            continue
        term_words = words(term)
        if not term_words:
            return None
        if vocabulary is None:
            vocabulary = _vocabulary(document)
            known = set(vocabulary)
        closeness = 0.0
        for word in term_words:
            limit = tolerated.get(word, 0)
            if not limit:
                if word not in known:
                    return None
                closeness += 1.0
                continue
            # every word within `limit` edits (optimal string alignment), compared in C
            close = process.extract(word, vocabulary, scorer=OSA.distance, score_cutoff=limit, limit=None)
            if not close:
                return None
            closeness += max(1.0 - distance / max(len(word), len(candidate)) for candidate, distance, _ in close)
        total += closeness / len(term_words)
        misspelled = True
    return total / len(terms) if misspelled else None


def _vocabulary(document):
    """The distinct words of the document's first VOCABULARY_SPAN characters (a word the cut splits is
    left out), in order: what the terms' words are compared with."""
    found = words(document[:VOCABULARY_SPAN])
    if (found and len(document) > VOCABULARY_SPAN and _WORD_CHARACTER.match(document, VOCABULARY_SPAN)
            and _WORD_CHARACTER.match(document, VOCABULARY_SPAN - 1)):
        found.pop()
    return list(dict.fromkeys(found))

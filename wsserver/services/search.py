"""Search (`q` of GET /workspaces): what matches and in what order. The rule, top-down:

- `search_terms`: the lower-cased, whitespace-separated terms of q.
- `matching`: every term is a substring of the workspace's search document
  (fullname, title, description, tags, label values; storage.index), through the
  engine's trigram index; terms too short for trigrams match a name or title
  prefix; or the workspace is one of the close misspellings, or the one whose
  UUID q is (`id_matches`).
- `misspelling_matches`: the 100 candidates holding the most of the query's
  trigrams (the engine finds them), kept when each term is a substring or
  within `allowed_edits` of a word (optimal string alignment, rapidfuzz),
  closest first.
- `relevance`: exact name, exact title, name prefix, title prefix, in the
  name, elsewhere, then the misspellings, closest first.

The listing service (services/listing.py) applies these inside its visibility
and filters; the engines (storage/sqlite.py, storage/postgres.py) only find
candidates fast.
"""
import re
import uuid

from peewee import OP, SQL, Case, Expression, NodeList, fn
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

# Relevance tiers of `q` (lower first); see `relevance`.
EXACT_NAME, EXACT_TITLE, NAME_PREFIX, TITLE_PREFIX, IN_NAME, ELSEWHERE = range(6)


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


def misspelling_matches(terms, within):
    """Ids of workspaces where each term is a substring or a close misspelling of a word, but not all
    are substrings (those are found by the index), closest first. At most MISSPELLING_CANDIDATES.
    `within` is a query of the workspace ids to look among (visibility and filters), or None for all."""
    fuzzy_words = [word for term in terms for word in words(term) if allowed_edits(word)]
    if not fuzzy_words:
        return []
    grams = trigrams(fuzzy_words)
    if not grams:
        return []
    # Candidates: those holding the most of these trigrams (the engine's index); then the rule below.
    candidates = engine().similar_candidates(database, grams, within, MISSPELLING_CANDIDATES)
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

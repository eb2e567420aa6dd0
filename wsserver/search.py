"""Everything SQLite-specific about listing workspaces, in one module.

- `workspace_search`: an FTS5 table with the trigram tokenizer over each
  workspace's fullname, title, tags and label values (tags and values one per
  line), so substring and misspelling look-ups use an index. Its rowid is the
  `doc` of `workspace_search_doc` (an INTEGER PRIMARY KEY, so VACUUM keeps
  it), which maps to the workspace id: the workspace table's own rowid is not
  stable.
- the `workspace_tag` and `workspace_label` side tables (models.py), filled
  with json_each.
- the triggers on `workspace` that keep all of these in sync, so no service
  has to remember them.

Another engine replaces this module (e.g. pg_trgm and a GIN index); the
listing service only calls `contains_all` and `similar_candidates`.
"""
from peewee import SQL

from .models import Workspace

SEARCH_TABLE = "workspace_search"
DOC_TABLE = "workspace_search_doc"
SEARCH_COLUMNS = ("fullname", "title", "tags", "labels")

TRIGRAM = 3
# Substring look-ups go through the trigram index when a term has at least this many characters.
SHORTEST_SUBSTRING = TRIGRAM
# A misspelling look-up ORs at most this many trigrams of the query.
MAX_TRIGRAMS = 32


def _tags_text(row):
    return f"(SELECT group_concat(value, char(10)) FROM json_each({row}.tags))"


def _labels_text(row):
    return f"(SELECT group_concat(value, char(10)) FROM json_each({row}.labels))"


def _doc_of(row):
    return f"(SELECT doc FROM {DOC_TABLE} WHERE workspace_id = {row}.id)"


def _forget(row):
    """Statements removing the index rows of workspace `row` (old or new)."""
    return f"""
        DELETE FROM {SEARCH_TABLE} WHERE rowid IN {_doc_of(row)};
        DELETE FROM {DOC_TABLE} WHERE workspace_id = {row}.id;
        DELETE FROM workspace_tag WHERE workspace_id = {row}.id;
        DELETE FROM workspace_label WHERE workspace_id = {row}.id;"""


def _fill_tags(row):
    return f"INSERT INTO workspace_tag (workspace_id, tag) SELECT DISTINCT {row}.id, value FROM json_each({row}.tags);"


def _fill_labels(row):
    return (
        f"INSERT INTO workspace_label (workspace_id, key, value) "
        f"SELECT {row}.id, key, value FROM json_each({row}.labels);"
    )


SCHEMA = (
    f"CREATE TABLE IF NOT EXISTS {DOC_TABLE} (doc INTEGER PRIMARY KEY, workspace_id VARCHAR(32) NOT NULL UNIQUE)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5("
    f"{', '.join(SEARCH_COLUMNS)}, tokenize = 'trigram case_sensitive 0')",
    # The stale-row deletes make INSERT OR REPLACE safe too (it skips delete triggers).
    f"""CREATE TRIGGER IF NOT EXISTS workspace_index_insert AFTER INSERT ON workspace BEGIN
        {_forget("new")}
        INSERT INTO {DOC_TABLE} (workspace_id) VALUES (new.id);
        INSERT INTO {SEARCH_TABLE} (rowid, fullname, title, tags, labels)
            VALUES ({_doc_of("new")}, new.fullname, new.title, {_tags_text("new")}, {_labels_text("new")});
        {_fill_tags("new")}
        {_fill_labels("new")}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS workspace_index_update_text AFTER UPDATE OF fullname, title, tags, labels
    ON workspace BEGIN
        UPDATE {SEARCH_TABLE}
            SET fullname = new.fullname, title = new.title, tags = {_tags_text("new")}, labels = {_labels_text("new")}
            WHERE rowid = {_doc_of("new")};
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS workspace_index_update_tags AFTER UPDATE OF tags ON workspace BEGIN
        DELETE FROM workspace_tag WHERE workspace_id = new.id;
        {_fill_tags("new")}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS workspace_index_update_labels AFTER UPDATE OF labels ON workspace BEGIN
        DELETE FROM workspace_label WHERE workspace_id = new.id;
        {_fill_labels("new")}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS workspace_index_delete AFTER DELETE ON workspace BEGIN
        {_forget("old")}
    END""",
)

# Index the rows a version-1 database already has (the triggers see only new writes).
BACKFILL = (
    f"INSERT INTO {DOC_TABLE} (workspace_id) SELECT id FROM workspace "
    f"WHERE id NOT IN (SELECT workspace_id FROM {DOC_TABLE}) ORDER BY rowid",
    f"DELETE FROM {SEARCH_TABLE}",
    f"INSERT INTO {SEARCH_TABLE} (rowid, fullname, title, tags, labels) "
    f"SELECT d.doc, w.fullname, w.title, {_tags_text('w')}, {_labels_text('w')} "
    f"FROM workspace AS w JOIN {DOC_TABLE} AS d ON d.workspace_id = w.id",
    "DELETE FROM workspace_tag",
    "INSERT INTO workspace_tag (workspace_id, tag) SELECT DISTINCT w.id, j.value FROM workspace AS w, json_each(w.tags) AS j",
    "DELETE FROM workspace_label",
    "INSERT INTO workspace_label (workspace_id, key, value) "
    "SELECT w.id, j.key, j.value FROM workspace AS w, json_each(w.labels) AS j",
)


def install(database):
    """Create the search table, the doc map and the triggers, and index the existing rows.

    Runs inside the migration's transaction; the side tables must exist already.
    """
    for statement in SCHEMA + BACKFILL:
        database.execute_sql(statement)


def _phrase(text):
    """An FTS5 string: with the trigram tokenizer, a case-insensitive substring test."""
    return '"' + text.replace('"', '""') + '"'


def like_text(text):
    """`text` for a LIKE pattern with ESCAPE '\\': its wildcards match only themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_pattern(text):
    return f"%{like_text(text)}%"


def contains_all(terms, take):
    """A condition on Workspace: every term is a substring of its fullname, title, a tag or a label value.

    Case-insensitive. Terms of 3+ characters go through the trigram index;
    shorter ones (too short for trigrams) are checked with LIKE on the rows the
    longer terms found. Each parameter goes through `take` (see listing._page_and_count). At least one term must have 3+ characters (else this
    would scan every row).
    """
    long_terms = [term for term in terms if len(term) >= SHORTEST_SUBSTRING]
    short_terms = [term for term in terms if len(term) < SHORTEST_SUBSTRING]
    if not long_terms:
        raise ValueError("contains_all needs a term of at least 3 characters")
    conditions = [f"{SEARCH_TABLE} MATCH ?"]
    params = [take(" AND ".join(_phrase(term) for term in long_terms))]
    for term in short_terms:
        conditions.append(
            "(" + " OR ".join(f"{SEARCH_TABLE}.{column} LIKE ? ESCAPE '\\'" for column in SEARCH_COLUMNS) + ")"
        )
        params.extend([take(_like_pattern(term))] * len(SEARCH_COLUMNS))
    subquery = (
        f"(SELECT d.workspace_id FROM {SEARCH_TABLE} JOIN {DOC_TABLE} AS d ON d.doc = {SEARCH_TABLE}.rowid "
        f"WHERE {' AND '.join(conditions)})"
    )
    return Workspace.id.in_(SQL(subquery, params))


def _trigrams_of(word):
    return [word[i : i + TRIGRAM] for i in range(len(word) - TRIGRAM + 1)]


def trigrams(words):
    """The words' trigrams, then those of each word with one letter left out.

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


def similar_candidates(database, words, within, limit):
    """Workspaces sharing trigrams with `words`, best bm25 first, at most `limit`.

    `within` is a query of Workspace ids to stay inside (visibility and
    filters), or None for every workspace. Returns tuples
    (workspace_id, fullname, title, tags, labels) with tags and label values as
    newline-separated text.
    """
    grams = trigrams(words)
    if not grams:
        return []
    sql = (
        f"SELECT d.workspace_id, s.fullname, s.title, s.tags, s.labels "
        f"FROM {SEARCH_TABLE} AS s JOIN {DOC_TABLE} AS d ON d.doc = s.rowid "
        f"WHERE {SEARCH_TABLE} MATCH ?"
    )
    params = [" OR ".join(_phrase(gram) for gram in grams)]
    if within is not None:
        within_sql, within_params = within.sql()
        sql += f" AND d.workspace_id IN ({within_sql})"
        params.extend(within_params)
    sql += f" ORDER BY bm25({SEARCH_TABLE}), s.rowid LIMIT ?"
    params.append(limit)
    return database.execute_sql(sql, params).fetchall()

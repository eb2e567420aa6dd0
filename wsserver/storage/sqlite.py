"""Everything SQLite-specific, in one module: the connection and the search index.

- The connection: WAL, foreign keys, a busy timeout, and write transactions
  that wait for their turn (storage.writers: a lock in the process, flock()
  across the workers) and then take the write lock up front (BEGIN
  IMMEDIATE). With one writer at a
  time, a transaction's reads cannot go stale before its writes land, so row
  locks (storage.db.lock_rows) and name locks are no-ops here.
- The search index: an FTS5 table with the trigram tokenizer over each
  workspace's search document (see storage.index), so substring and
  misspelling look-ups use an index. Its rowid is the `doc` of
  `workspace_search_doc` (an INTEGER PRIMARY KEY, so VACUUM keeps it), which
  maps to the workspace id: the workspace table's own rowid is not stable.
  Documents are lower-cased before they get here, so the index is
  case-sensitive: it matches exactly what Python's `in` would. A member's
  search on a large instance reads its own workspaces' documents by key
  instead (`documents_within`; services/search.py tests them with `in`).

Text compares by code point on both engines (SQLite's BINARY collation is
UTF-8 byte order, which is code point order), and lower() folds ASCII only.
storage.postgres is the other engine; both offer the same functions.
"""
import os

from peewee import SQL, SqliteDatabase
from playhouse.db_url import parse
from playhouse.migrate import SqliteMigrator

from .disk import make_private_file
from .writers import WriteTurns

NAME = "sqlite"

SEARCH_TABLE = "workspace_search"
DOC_TABLE = "workspace_search_doc"


class InstanceDatabase(SqliteDatabase):
    """The instance's SQLite database; a write transaction runs in its turn (storage.writers)."""

    def init(self, database, *args, **kwargs):
        super().init(database, *args, **kwargs)
        self.write_turns = WriteTurns(database or "")

    def begin(self, lock_type=None):
        self.write_turns.take()
        try:
            super().begin(lock_type)
        except BaseException:
            self.write_turns.give_back()
            raise

    def commit(self):
        try:
            super().commit()
        finally:
            self.write_turns.give_back()

    def rollback(self):
        try:
            # SQLite ends a transaction by itself on some failures (SQLITE_FULL when the disk is full,
            # some I/O errors): then there is nothing to roll back, and ROLLBACK's own error
            # ("cannot rollback - no transaction is active") would hide the real one.
            if not self.is_closed() and not self.connection().in_transaction:
                return
            super().rollback()
        finally:
            self.write_turns.give_back()


def connect(url, busy_timeout_ms, max_connections=None):
    """A database for `sqlite:///path` (the path relative to the working folder, or absolute).

    One connection per thread, kept open (its settings are per connection): no pool to size."""
    path = parse(url)["database"]
    if path != ":memory:" and os.path.isdir(os.path.dirname(os.path.abspath(path))):
        make_private_file(path)  # SQLite gives its -wal and -shm files the database file's mode
    return InstanceDatabase(
        path,
        pragmas=(
            ("journal_mode", "wal"),
            ("foreign_keys", 1),
            ("busy_timeout", busy_timeout_ms),
            # WAL + NORMAL: a committed write survives a process crash; only an
            # OS crash or power loss may roll back the last transactions.
            ("synchronous", "normal"),
            ("cache_size", -16000),
            ("temp_store", "memory"),
            # reads through the OS page cache, shared by every connection and worker,
            # instead of a private copy per connection (list at 100,000: 5.6-6.7 -> 3.8 ms CPU a request)
            ("mmap_size", 256 * 1024 * 1024),
        ),
        # Write transactions take the write lock up front (BEGIN IMMEDIATE), in their turn
        # (storage.writers), so two writers never meet midway.
        lock_type="IMMEDIATE",
        # Passed to sqlite3.connect: Python's own busy wait, in seconds.
        timeout=busy_timeout_ms / 1000,
        check_same_thread=False,
    )


def migrator(database):
    return SqliteMigrator(database)


def finish_schema(database):
    """Nothing to adjust: SQLite's default collation is already code point order."""


# --- locks: the write lock already serializes every write transaction -----------------------------

ROW_LOCKS = False


def lock_names(database, names):
    """Nothing to do: the transaction holds the write lock."""


def is_transient(error):
    """SQLite waits for its lock (busy_timeout) instead of failing a transaction midway."""
    return False


# --- the search index ---------------------------------------------------------------------------


def install_search(database):
    """The doc map and the FTS5 table (empty: storage.index.rebuild fills them)."""
    database.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {DOC_TABLE} (doc INTEGER PRIMARY KEY, workspace_id VARCHAR(32) NOT NULL UNIQUE)"
    )
    database.execute_sql(
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {SEARCH_TABLE} USING fts5(document, tokenize = 'trigram case_sensitive 1')"
    )


def write_search(database, documents):
    """Index `documents` ({workspace id: document}), replacing what those workspaces had."""
    if not documents:
        return
    forget_search(database, list(documents))
    for workspace_id, document in documents.items():
        cursor = database.execute_sql(f"INSERT INTO {DOC_TABLE} (workspace_id) VALUES (?)", (workspace_id,))
        database.execute_sql(
            f"INSERT INTO {SEARCH_TABLE} (rowid, document) VALUES (?, ?)", (cursor.lastrowid, document)
        )


def forget_search(database, workspace_ids):
    """Remove these workspaces from the index."""
    if not workspace_ids:
        return
    marks = ", ".join("?" * len(workspace_ids))
    database.execute_sql(
        f"DELETE FROM {SEARCH_TABLE} WHERE rowid IN (SELECT doc FROM {DOC_TABLE} WHERE workspace_id IN ({marks}))",
        workspace_ids,
    )
    database.execute_sql(f"DELETE FROM {DOC_TABLE} WHERE workspace_id IN ({marks})", workspace_ids)


def clear_search(database):
    database.execute_sql(f"DELETE FROM {SEARCH_TABLE}")
    database.execute_sql(f"DELETE FROM {DOC_TABLE}")


def _phrase(text):
    """An FTS5 string: with the trigram tokenizer, a substring test."""
    return '"' + text.replace('"', '""') + '"'


def ids_containing_all(terms, shortest, also=()):
    """A subquery of the workspace ids whose search document holds every term as a substring, and of
    the ids in `also` (one subquery: an OR of two would cost PostgreSQL a scan of the workspace table).

    Terms of `shortest` (3) or more characters go through the trigram index;
    shorter ones are checked with instr() on the rows the longer terms found.
    """
    long_terms = [term for term in terms if len(term) >= shortest]
    conditions = [f"{SEARCH_TABLE} MATCH ?"]
    params = [" AND ".join(_phrase(term) for term in long_terms)]
    for term in terms:
        if len(term) < shortest:
            conditions.append(f"instr({SEARCH_TABLE}.document, ?) > 0")
            params.append(term)
    subquery = (
        f"SELECT d.workspace_id FROM {SEARCH_TABLE} JOIN {DOC_TABLE} AS d ON d.doc = {SEARCH_TABLE}.rowid "
        f"WHERE {' AND '.join(conditions)}"
    )
    if also:
        subquery += " UNION ALL VALUES " + ", ".join(["(?)"] * len(also))
    return SQL(f"({subquery})", [*params, *also])


def documents_within(database, within, limit):
    """(workspace id, search document) of each workspace of `within` (a query of Workspace ids), in no
    particular order; None when it holds more than `limit`.

    Every look-up is by key, so the cost follows the size of `within`, not of the instance. The
    documents are read from the FTS5 table's own content table (`<table>_content`, its column c0 keyed
    by the rowid: the layout FTS5 documents for its shadow tables), as the FTS5 table itself would
    answer them, at a fraction of the cost of its per-rowid look-up. `within` is walked once, at most
    limit + 1 rows (a CTE used twice is materialized): when there are too many, the one row answered
    is (NULL, their number).
    """
    within_sql, within_params = within.sql()
    rows = database.execute_sql(
        f"WITH v(id) AS (SELECT * FROM ({within_sql}) LIMIT ?), n(count) AS (SELECT COUNT(*) FROM v) "
        f"SELECT NULL, count FROM n WHERE count > ? UNION ALL "
        f"SELECT d.workspace_id, c.c0 FROM v JOIN {DOC_TABLE} AS d ON d.workspace_id = v.id "
        f"JOIN {SEARCH_TABLE}_content AS c ON c.id = d.doc WHERE (SELECT count FROM n) <= ?",
        [*within_params, limit + 1, limit, limit],
    ).fetchall()
    return None if rows and rows[0][0] is None else rows


def index_holds_more_than(database, count):
    """Whether the search index may hold more than `count` documents (its largest doc number, which
    counts every document ever indexed: one probe of the doc map's primary key)."""
    (largest,) = database.execute_sql(f"SELECT MAX(doc) FROM {DOC_TABLE}").fetchone()
    return (largest or 0) > count


def fullnames(database, ids):
    """{workspace id: fullname} of these workspace ids (at least one)."""
    marks = ", ".join(["?"] * len(ids))
    return dict(database.execute_sql(f"SELECT id, fullname FROM workspace WHERE id IN ({marks})", list(ids)).fetchall())


def similar_candidates(database, grams, within, limit, head):
    """Workspaces whose document holds any of the trigrams `grams` in its first `head` characters:
    (workspace id, fullname, document), most grams held there first, then by fullname, at most `limit`.
    `within` is a query of Workspace ids to stay inside, or None."""
    held = " + ".join(["(instr(c.head, ?) > 0)"] * len(grams))
    sql = (
        f"SELECT d.workspace_id AS workspace_id, w.fullname AS fullname, s.document AS document, "
        f"substr(s.document, 1, ?) AS head "
        f"FROM {SEARCH_TABLE} AS s JOIN {DOC_TABLE} AS d ON d.doc = s.rowid JOIN workspace AS w ON w.id = d.workspace_id "
        f"WHERE {SEARCH_TABLE} MATCH ?"
    )
    params = [head, " OR ".join(_phrase(gram) for gram in grams)]
    if within is not None:
        within_sql, within_params = within.sql()
        sql += f" AND d.workspace_id IN ({within_sql})"
        params.extend(within_params)
    # the head once per row (MATERIALIZED), the grams counted once per row (the outer query's column)
    sql = (
        f"WITH c AS MATERIALIZED ({sql}) SELECT workspace_id, fullname, document FROM "
        f"(SELECT workspace_id, fullname, document, ({held}) AS held FROM c) "
        f"WHERE held > 0 ORDER BY held DESC, fullname, workspace_id LIMIT ?"
    )
    params.extend(grams)
    params.append(limit)
    return database.execute_sql(sql, params).fetchall()

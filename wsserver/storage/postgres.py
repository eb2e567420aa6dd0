"""Everything PostgreSQL-specific, in one module: the connection, code point order, locks, search.

- The connection: Peewee's pooled PostgreSQL database (playhouse.pool) over
  psycopg 3, from a `postgresql://user:password@host:5432/name` URL (its
  query string passes on to the driver, e.g. `?sslmode=require`).
- Code point order: every text column is given the "C" collation, so names,
  titles and timestamps sort exactly as on SQLite whatever the database's
  locale, and lower() folds ASCII only, as SQLite's does.
- Locks: read committed transactions; what a rule reads and then writes on is
  locked first (`SELECT ... FOR UPDATE` on the workspace row; a transaction
  advisory lock per avatar file name), and a deadlock or serialization
  failure is retried by storage.db.retrying.
- The search index: `workspace_search` (one search document per workspace,
  see storage.index) with a pg_trgm GIN index, so substring (LIKE) and
  misspelling look-ups use an index. The migration creates the pg_trgm
  extension when it is missing. A member's search on a large instance reads
  its own workspaces' documents by key instead (`documents_within`).

storage.sqlite is the other engine; both offer the same functions.
"""
import zlib

from peewee import SQL
from playhouse.db_url import parse
from playhouse.migrate import PostgresqlMigrator
from playhouse.pool import PooledPostgresqlDatabase

NAME = "postgresql"

SEARCH_TABLE = "workspace_search"
# SQLSTATEs worth running the transaction again for: serialization_failure, deadlock_detected.
TRANSIENT_STATES = {"40001", "40P01"}


def connect(url, busy_timeout_ms, max_connections=None):
    """A pooled database for `postgresql://...` (also `postgres://`, `postgresql+pool://`).

    `busy_timeout_ms` bounds how long a statement waits for a lock (lock_timeout).
    """
    settings = parse(url.replace("+pool://", "://", 1))
    options = f"-c lock_timeout={int(busy_timeout_ms)} -c TimeZone=UTC"
    return PooledPostgresqlDatabase(
        settings.pop("database"),
        max_connections=max_connections,
        stale_timeout=300,
        timeout=30,  # seconds to wait for a free pooled connection
        prefer_psycopg3=True,
        options=options,
        **settings,
    )


def migrator(database):
    return PostgresqlMigrator(database)


def _text_columns_not_in_code_point_order(database):
    cursor = database.execute_sql(
        "SELECT c.table_name, c.column_name, c.data_type, c.character_maximum_length "
        "FROM information_schema.columns AS c JOIN information_schema.tables AS t "
        "ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE' "
        "WHERE c.table_schema = current_schema() AND c.data_type IN ('character varying', 'text') "
        "AND coalesce(c.collation_name, '') <> 'C'"
    )
    return cursor.fetchall()


# SQLite sorts NULL first in ascending order; PostgreSQL last unless told: the title sort index
# (see migrations.LISTING_INDEXES) says NULLS FIRST, so it serves `ORDER BY lower(title) NULLS FIRST`.
TITLE_SORT_INDEX = "CREATE INDEX workspace_title_sort ON workspace (lower(title) NULLS FIRST, id)"


def finish_schema(database):
    """Give every text column of our tables the "C" collation (code point order) where it lacks it,
    and the title sort index its NULLS FIRST."""
    for table, column, data_type, length in _text_columns_not_in_code_point_order(database):
        column_type = f"varchar({length})" if data_type == "character varying" and length else data_type
        database.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE {column_type} COLLATE "C"')
    definition = database.execute_sql(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'workspace_title_sort'"
    ).fetchone()
    if definition is None or "NULLS FIRST" not in definition[0]:
        database.execute_sql("DROP INDEX IF EXISTS workspace_title_sort")
        database.execute_sql(TITLE_SORT_INDEX)


# --- locks ----------------------------------------------------------------------------------------


# What a rule reads and then writes on is locked first: storage.db.lock_rows runs SELECT ... FOR UPDATE.
ROW_LOCKS = True


def lock_names(database, names):
    """Transaction-scoped advisory locks on these names, taken in one order (no deadlock between two callers)."""
    keys = sorted({zlib.crc32(name.encode("utf-8")) for name in names if name})
    for key in keys:
        database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (key,))


def is_transient(error):
    """A deadlock or serialization failure: running the whole transaction again may succeed.

    Peewee re-raises the driver's error as its own, keeping the original as `orig`."""
    candidates = (error, getattr(error, "orig", None), error.__cause__, error.__context__)
    return any(getattr(candidate, "sqlstate", None) in TRANSIENT_STATES for candidate in candidates)


# --- the search index ---------------------------------------------------------------------------


def install_search(database):
    """pg_trgm (when missing), the document table and its trigram index (filled by storage.index.rebuild)."""
    database.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    database.execute_sql(
        f"CREATE TABLE IF NOT EXISTS {SEARCH_TABLE} ("
        f"workspace_id VARCHAR(32) PRIMARY KEY REFERENCES workspace (id) ON DELETE CASCADE, "
        f'document TEXT COLLATE "C" NOT NULL)'
    )
    database.execute_sql(
        f"CREATE INDEX IF NOT EXISTS workspace_search_trigrams ON {SEARCH_TABLE} USING gin (document gin_trgm_ops)"
    )


def write_search(database, documents):
    """Index `documents` ({workspace id: document}), replacing what those workspaces had."""
    if not documents:
        return
    values = ", ".join(["(%s, %s)"] * len(documents))
    params = [item for pair in documents.items() for item in pair]
    database.execute_sql(
        f"INSERT INTO {SEARCH_TABLE} (workspace_id, document) VALUES {values} "
        f"ON CONFLICT (workspace_id) DO UPDATE SET document = EXCLUDED.document",
        params,
    )


def forget_search(database, workspace_ids):
    if workspace_ids:
        database.execute_sql(f"DELETE FROM {SEARCH_TABLE} WHERE workspace_id = ANY(%s)", (list(workspace_ids),))


def clear_search(database):
    database.execute_sql(f"DELETE FROM {SEARCH_TABLE}")


def _substring_pattern(text):
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ids_containing_all(terms, shortest, also=()):
    """A subquery of the workspace ids whose search document holds every term as a substring, and of
    the ids in `also` (one subquery: an OR of two would cost PostgreSQL a scan of the workspace table).

    Terms of `shortest` (3) or more characters go through the trigram index
    (LIKE); shorter ones are checked with strpos() on the rows those found.
    """
    conditions, params = [], []
    for term in terms:
        if len(term) >= shortest:
            conditions.append("s.document LIKE %s")
            params.append(_substring_pattern(term))
        else:
            conditions.append("strpos(s.document, %s) > 0")
            params.append(term)
    subquery = f"SELECT s.workspace_id FROM {SEARCH_TABLE} AS s WHERE {' AND '.join(conditions)}"
    if also:
        subquery += " UNION ALL VALUES " + ", ".join(["(%s)"] * len(also))
    return SQL(f"({subquery})", [*params, *also])


def documents_within(database, within, limit):
    """(workspace id, search document) of each workspace of `within` (a query of Workspace ids), in no
    particular order; None when it holds more than `limit`.

    Every look-up is by key (workspace_search's primary key), so the cost follows the size of
    `within`, not of the instance. `within` is walked once, at most limit + 1 rows (a CTE used twice
    is materialized): when there are too many, the one row answered is (NULL, their number).
    """
    within_sql, within_params = within.sql()
    rows = database.execute_sql(
        f"WITH v(id) AS (SELECT * FROM ({within_sql}) AS w LIMIT %s), n(count) AS (SELECT COUNT(*) FROM v) "
        f"SELECT NULL, CAST(count AS TEXT) FROM n WHERE count > %s UNION ALL "
        f"SELECT s.workspace_id, s.document FROM v JOIN {SEARCH_TABLE} AS s ON s.workspace_id = v.id "
        f"WHERE (SELECT count FROM n) <= %s",
        [*within_params, limit + 1, limit, limit],
    ).fetchall()
    return None if rows and rows[0][0] is None else rows


def index_holds_more_than(database, count):
    """Whether the search index holds more than `count` documents: PostgreSQL's own estimate
    (pg_class.reltuples, kept by ANALYZE and autovacuum), or, before there is one, a count up to it."""
    (estimate,) = database.execute_sql(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", (SEARCH_TABLE,)
    ).fetchone()
    if estimate is not None and estimate > 0:
        return estimate > count
    (counted,) = database.execute_sql(
        f"SELECT COUNT(*) FROM (SELECT 1 FROM {SEARCH_TABLE} LIMIT %s) AS c", (count + 1,)
    ).fetchone()
    return counted > count


def fullnames(database, ids):
    """{workspace id: fullname} of these workspace ids (at least one)."""
    marks = ", ".join(["%s"] * len(ids))
    return dict(database.execute_sql(f"SELECT id, fullname FROM workspace WHERE id IN ({marks})", list(ids)).fetchall())


def similar_candidates(database, grams, within, limit, head):
    """Workspaces whose document holds any of the trigrams `grams` in its first `head` characters:
    (workspace id, fullname, document), most grams held there first, then by fullname, at most `limit`.
    `within` is a query of Workspace ids to stay inside, or None."""
    held = " + ".join(["(strpos(c.head, %s) > 0)::int"] * len(grams))
    any_gram = " OR ".join(["s.document LIKE %s"] * len(grams))
    sql = (
        f"SELECT s.workspace_id, w.fullname, s.document, left(s.document, %s) AS head "
        f"FROM {SEARCH_TABLE} AS s JOIN workspace AS w ON w.id = s.workspace_id "
        f"WHERE ({any_gram})"
    )
    params = [head, *(_substring_pattern(gram) for gram in grams)]
    if within is not None:
        within_sql, within_params = within.sql()
        sql += f" AND s.workspace_id IN ({within_sql})"
        params.extend(within_params)
    sql = (
        f"SELECT workspace_id, fullname, document FROM (SELECT c.*, ({held}) AS held FROM ({sql}) AS c) AS counted "
        f"WHERE held > 0 ORDER BY held DESC, fullname, workspace_id LIMIT %s"
    )
    params = [*grams, *params]
    params.append(limit)
    return database.execute_sql(sql, params).fetchall()

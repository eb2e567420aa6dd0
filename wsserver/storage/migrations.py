"""Schema creation and upgrades, recorded by a schema version.

- A new database gets every table of models.MODELS as they are now, the
  listing's sort indexes and the engine's search index (create_schema), and
  is stamped with CURRENT_VERSION.
- An existing database at version N < CURRENT_VERSION runs UPGRADES[N + 1],
  ..., UPGRADES[CURRENT_VERSION] in one transaction (playhouse.migrate for
  column changes, with the engine's migrator), so an upgrade never loses data.
- Either way the engine finishes the schema (on PostgreSQL: code point
  collation on every text column).

To change the schema: change the models, add UPGRADES[CURRENT_VERSION + 1]
that brings an old database to the new shape, and bump CURRENT_VERSION.
"""
from peewee import chunked
from playhouse.migrate import migrate as apply_operations

from ..fields import DEFAULT_ORGANIZATION_NAME, DEFAULT_VISIBILITY
from ..ids import account_uuid, new_uuid, now_iso
from . import index
from .db import database, engine
from .models import (
    MODELS, Account, AclEntry, Organization, SchemaVersion, Token, WebSession, Workspace, WorkspaceAttribute,
    WorkspaceLabel, WorkspaceTag,
)

CURRENT_VERSION = 9

# Sort orders of GET /workspaces that an index serves (ties broken by id).
LISTING_INDEXES = (
    "CREATE INDEX IF NOT EXISTS workspace_title_sort ON workspace (lower(title), id)",
    "CREATE INDEX IF NOT EXISTS workspace_created_sort ON workspace (created_at, id)",
    "CREATE INDEX IF NOT EXISTS workspace_updated_sort ON workspace (updated_at, id)",
)
# Version 6: the other dialects' sorts (services/listing.py: the name, the view counter).
DIALECT_SORT_INDEXES = (
    "CREATE INDEX IF NOT EXISTS workspace_name_sort ON workspace (lower(COALESCE(title, fullname)), id)",
    "CREATE INDEX IF NOT EXISTS workspace_views_sort ON workspace (COALESCE(views, 0), id)",
)
# Version 7: whether a workspace is live (not archived, not in the trash), read from the index alone when
# a listing walks the caller's memberships (the page and its count): half the cost of reading each row.
STATE_INDEXES = (
    "CREATE INDEX IF NOT EXISTS workspace_state ON workspace (id, archived_at, deleted_at)",
)


def install_listing(database):
    """Version 2: tag/label side tables and the sort indexes (version 4 fills them)."""
    database.create_tables([WorkspaceTag, WorkspaceLabel])
    for statement in LISTING_INDEXES:
        database.execute_sql(statement)


def fill_member_order(database):
    """acl_entry.workspace_fullname of every entry that lacks it."""
    database.execute_sql(
        "UPDATE acl_entry SET workspace_fullname = (SELECT fullname FROM workspace WHERE id = acl_entry.workspace_id) "
        "WHERE workspace_fullname IS NULL"
    )


def upgrade_member_order(migrator):
    """Version 3: acl_entry.workspace_fullname, filled for existing entries, and its index."""
    database = migrator.database
    columns = {column.name for column in database.get_columns("acl_entry")}
    if "workspace_fullname" not in columns:
        apply_operations(migrator.add_column("acl_entry", "workspace_fullname", AclEntry.workspace_fullname))
    fill_member_order(database)
    AclEntry._schema.create_indexes(safe=True)  # the model's indexes; those that exist are left alone


# Version 1-3 databases (SQLite only) kept the side tables, the search index and the member
# order column filled by these triggers; since version 4 the code writes them (storage.index).
OLD_TRIGGERS = (
    "workspace_index_insert", "workspace_index_update_text", "workspace_index_update_tags",
    "workspace_index_update_labels", "workspace_index_delete", "acl_entry_workspace_fullname",
)
OLD_SEARCH_TABLES = ("workspace_search", "workspace_search_doc")


def upgrade_index_in_code(migrator):
    """Version 4: no triggers; the search index holds one lower-cased document per workspace (rebuilt by
    version 6, whose columns it reads)."""
    database = migrator.database
    for trigger in OLD_TRIGGERS:
        database.execute_sql(f"DROP TRIGGER IF EXISTS {trigger}")
    for table in OLD_SEARCH_TABLES:
        database.execute_sql(f"DROP TABLE IF EXISTS {table}")
    fill_member_order(database)
    engine().install_search(database)


# Version 5's new workspace columns (all nullable in the table: SQLite cannot add NOT NULL to a table
# with rows without rebuilding it, which would cascade to its members).
FLAVOR_COLUMNS = (
    "description", "updated_by", "archived_at", "deleted_at", "number", "uuid", "organization_id", "visibility",
    "views", "attributes",
)


def ensure_an_organization(database, organization_id=None):
    """The default organization, made (with `organization_id`, else a new UUID) when the database
    has none. Also run at every start (services.organizations)."""
    default = Organization.get_or_none(Organization.is_default == True)  # noqa: E712
    if default is not None:
        return default
    return Organization.create(
        id=organization_id or new_uuid(), name=DEFAULT_ORGANIZATION_NAME, is_default=True, created_at=now_iso()
    )


def upgrade_flavor_fields(migrator):
    """Version 5: organizations (one default) and what other dialects show of a workspace: description,
    updated_by, archived/deleted times, an integer number and a UUID, the organization, visibility,
    views and other services' attributes; a member's last visit. Existing rows are filled."""
    database = migrator.database
    database.create_tables([Organization])
    present = {column.name for column in database.get_columns("workspace")}
    operations = [migrator.add_column("workspace", name, getattr(Workspace, name))
                  for name in FLAVOR_COLUMNS if name not in present]
    if "last_visit_at" not in {column.name for column in database.get_columns("acl_entry")}:
        operations.append(migrator.add_column("acl_entry", "last_visit_at", AclEntry.last_visit_at))
    apply_operations(*operations)
    Workspace._schema.create_indexes(safe=True)
    organization_id = ensure_an_organization(database).id
    database.execute_sql(
        "UPDATE workspace SET number = (SELECT ranked.position FROM (SELECT id, ROW_NUMBER() OVER "
        "(ORDER BY created_at, id) AS position FROM workspace) AS ranked WHERE ranked.id = workspace.id) "
        "WHERE number IS NULL"
    )
    Workspace.update(
        organization_id=organization_id, visibility=DEFAULT_VISIBILITY, views=0, attributes={},
        updated_by=Workspace.created_by,
    ).where(Workspace.organization_id.is_null()).execute()
    missing = [row.id for row in Workspace.select(Workspace.id).where(Workspace.uuid.is_null()).order_by(Workspace.id)]
    for batch in chunked(missing, 500):
        for workspace_id in batch:
            Workspace.update(uuid=new_uuid()).where(Workspace.id == workspace_id).execute()


def upgrade_attribute_index(migrator):
    """Version 6: accounts' UUIDs, attribute filters (workspace_attribute), the visibility index, and the
    description in the search document: the side tables and the search index rebuilt."""
    database = migrator.database
    if "uuid" not in {column.name for column in database.get_columns("account")}:
        apply_operations(migrator.add_column("account", "uuid", Account.uuid))
    missing = [row.id for row in Account.select(Account.id).where(Account.uuid.is_null()).order_by(Account.id)]
    for account_id in missing:
        Account.update(uuid=account_uuid(account_id)).where(Account.id == account_id).execute()
    Account._schema.create_indexes(safe=True)
    database.create_tables([WorkspaceAttribute])
    Workspace._schema.create_indexes(safe=True)
    for statement in DIALECT_SORT_INDEXES:
        database.execute_sql(statement)
    index.rebuild()


# Version 8's token columns (services/tokens.py: a token's life cycle).
TOKEN_COLUMNS = ("prefix", "last_used_at", "expires_at", "scope")


def upgrade_token_life_cycle(migrator):
    """Version 8: a token's visible prefix, last use, expiry and scope; existing tokens keep working as they
    did (no expiry, scope "all", no prefix: only the server's own new tokens show one)."""
    present = {column.name for column in migrator.database.get_columns("token")}
    apply_operations(*[migrator.add_column("token", name, getattr(Token, name))
                       for name in TOKEN_COLUMNS if name not in present])
    Token.update(scope="all").where(Token.scope.is_null()).execute()


# version -> function(migrator) bringing a database from version - 1 to version
UPGRADES = {
    2: lambda migrator: install_listing(migrator.database),
    3: upgrade_member_order,
    4: upgrade_index_in_code,
    5: upgrade_flavor_fields,
    6: upgrade_attribute_index,
    7: lambda migrator: [migrator.database.execute_sql(statement) for statement in STATE_INDEXES],
    8: upgrade_token_life_cycle,
    9: lambda migrator: migrator.database.create_tables([WebSession]),  # web sessions kept server-side
}


def create_schema(database):
    """A brand-new database: every table, index and the engine's search index, as they are now,
    and the default organization."""
    database.create_tables(MODELS)
    for statement in (*LISTING_INDEXES, *DIALECT_SORT_INDEXES, *STATE_INDEXES):
        database.execute_sql(statement)
    engine().install_search(database)
    ensure_an_organization(database)


class SchemaTooNew(RuntimeError):
    """The database was written by a newer wsserver."""


def stored_version():
    if not database.table_exists(SchemaVersion._meta.table_name):
        return None
    row = SchemaVersion.select().first()
    return row.version if row else None


def migrate():
    """Create or upgrade the schema; return (version before, version after)."""
    with database.atomic():
        before = stored_version()
        if before is None:
            create_schema(database)
            engine().finish_schema(database)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=CURRENT_VERSION)
            return None, CURRENT_VERSION
        if before > CURRENT_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {before}, newer than this wsserver's {CURRENT_VERSION}"
            )
        migrator = engine().migrator(database)
        for version in range(before + 1, CURRENT_VERSION + 1):
            UPGRADES[version](migrator)
        engine().finish_schema(database)
        SchemaVersion.update(version=CURRENT_VERSION).execute()
        return before, CURRENT_VERSION

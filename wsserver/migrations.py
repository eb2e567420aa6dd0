"""Schema creation and upgrades, recorded by a schema version.

- A new database gets every table of models.MODELS as they are now, plus
  whatever each entry of EXTRA_SETUP installs (indexes or virtual tables that
  are not plain models), and is stamped with CURRENT_VERSION.
- An existing database at version N < CURRENT_VERSION runs UPGRADES[N + 1],
  ..., UPGRADES[CURRENT_VERSION] in one transaction (playhouse.migrate for
  column changes), so an upgrade never loses data.

To change the schema: change the models, add UPGRADES[CURRENT_VERSION + 1]
that brings an old database to the new shape, and bump CURRENT_VERSION.
"""
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate as apply_operations

from . import search
from .db import database
from .models import MODELS, AclEntry, SchemaVersion, WorkspaceLabel, WorkspaceTag

CURRENT_VERSION = 3

# Sort orders of GET /workspaces that an index serves (ties broken by id).
LISTING_INDEXES = (
    "CREATE INDEX IF NOT EXISTS workspace_title_sort ON workspace (lower(title), id)",
    "CREATE INDEX IF NOT EXISTS workspace_created_sort ON workspace (created_at, id)",
    "CREATE INDEX IF NOT EXISTS workspace_updated_sort ON workspace (updated_at, id)",
)


def install_listing(database):
    """Version 2: tag/label side tables, sort indexes, the search index; existing rows are indexed."""
    database.create_tables([WorkspaceTag, WorkspaceLabel])
    for statement in LISTING_INDEXES:
        database.execute_sql(statement)
    search.install(database)


# Fills acl_entry.workspace_fullname of every new entry (code never writes it).
MEMBER_ORDER_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS acl_entry_workspace_fullname AFTER INSERT ON acl_entry
WHEN NEW.workspace_fullname IS NULL
BEGIN
    UPDATE acl_entry SET workspace_fullname = (SELECT fullname FROM workspace WHERE id = NEW.workspace_id)
    WHERE id = NEW.id;
END
"""


def install_member_order(database):
    """The trigger that keeps acl_entry.workspace_fullname filled (column and index come with the model)."""
    database.execute_sql(MEMBER_ORDER_TRIGGER)


def upgrade_member_order(migrator):
    """Version 3: acl_entry.workspace_fullname, filled for existing entries, its index and trigger."""
    database = migrator.database
    columns = {column.name for column in database.get_columns("acl_entry")}
    if "workspace_fullname" not in columns:
        apply_operations(migrator.add_column("acl_entry", "workspace_fullname", AclEntry.workspace_fullname))
    database.execute_sql(
        "UPDATE acl_entry SET workspace_fullname = (SELECT fullname FROM workspace WHERE id = acl_entry.workspace_id)"
    )
    AclEntry._schema.create_indexes(safe=True)  # the model's indexes; those that exist are left alone
    install_member_order(database)


# version -> function(migrator) bringing a database from version - 1 to version
UPGRADES = {
    2: lambda migrator: install_listing(migrator.database),
    3: upgrade_member_order,
}

# functions(database) that finish a brand-new database after create_tables
EXTRA_SETUP = [install_listing, install_member_order]


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
            database.create_tables(MODELS)
            for setup in EXTRA_SETUP:
                setup(database)
            SchemaVersion.delete().execute()
            SchemaVersion.create(version=CURRENT_VERSION)
            return None, CURRENT_VERSION
        if before > CURRENT_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {before}, newer than this wsserver's {CURRENT_VERSION}"
            )
        migrator = SqliteMigrator(database)
        for version in range(before + 1, CURRENT_VERSION + 1):
            UPGRADES[version](migrator)
        SchemaVersion.update(version=CURRENT_VERSION).execute()
        return before, CURRENT_VERSION

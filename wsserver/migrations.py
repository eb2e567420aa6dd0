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

from .db import database
from .models import MODELS, SchemaVersion

CURRENT_VERSION = 1

# version -> function(migrator) bringing a database from version - 1 to version
UPGRADES = {}

# functions(database) that finish a brand-new database after create_tables
EXTRA_SETUP = []


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

"""Opening an instance: the database and its schema, the avatar folder and its start-up sweep,
the seed file, the bootstrap admin and test mode's baseline."""
import os

from .services import accounts, organizations, trash
from .storage import db, migrations
from .storage.avatar_files import avatar_folder_of, clean_temporary_files, remove_unreferenced_files


def open_instance(app):
    """Open (creating if needed) the instance folder: database, schema, admin, avatar folder. Idempotent."""
    if app.extensions.get("wsserver-storage"):
        return
    instance = app.config["INSTANCE_PATH"]
    os.makedirs(avatar_folder_of(app.config), exist_ok=True)
    db.open_database(
        app.config["DATABASE_URL"], instance, app.config["BUSY_TIMEOUT_MS"], max_connections=app.config["THREADS"] + 4
    )
    migrations.migrate()
    fresh_token = None
    if app.config["SEED_FILE"]:
        from .testing.seed import load_seed_file_at_startup

        with app.app_context():
            fresh_token = load_seed_file_at_startup()  # with the admin rule, as `flask seed` does
    organizations.ensure_default_organization(app.config["DEFAULT_ORG_ID"])
    fresh_token = accounts.ensure_bootstrap_admin(instance, app.config["ADMIN_TOKEN"]) or fresh_token
    if fresh_token:
        print(
            f"wsserver: created the instance admin 'admin'. Its token (also in "
            f"{os.path.join(instance, accounts.ADMIN_TOKEN_FILE)}):\n{fresh_token}",
            flush=True,
        )
    with app.app_context():
        trash.purge_expired(app.config["TRASH_DAYS"])
        clean_temporary_files()
        remove_unreferenced_files()
        if app.config["TEST_MODE"]:
            from .testing.mode import capture_baseline

            capture_baseline()  # the state POST /__admin__/reset restores
    app.extensions["wsserver-storage"] = True

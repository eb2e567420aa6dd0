"""Admin commands: `flask --app app <command>`."""
import functools

import click
from flask import current_app

from . import migrations
from .errors import DomainError
from .services import accounts


def needs_instance(command):
    """Open the instance folder (database, schema, admin) before the command runs."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        from . import open_instance

        open_instance(current_app)
        return command(*args, **kwargs)

    return run


def register_commands(app):
    register_backup_commands(app)

    @app.cli.command("init-db")
    @needs_instance
    def init_db():
        """Create or upgrade the database schema (start-up does this too)."""
        before, after = migrations.migrate()
        if before is None or before == after:
            click.echo(f"Database ready at schema version {after}.")
        else:
            click.echo(f"Database upgraded from schema version {before} to {after}.")

    @app.cli.command("create-account")
    @click.argument("username")
    @click.option("--nickname", help="Display name (defaults to the username).")
    @click.option("--password", help="Password for HTTP Basic and POST /token (optional).")
    @click.option("--admin", is_flag=True, help="Make the account an instance administrator.")
    @needs_instance
    def create_account(username, nickname, password, admin):
        """Create an account and print its first token."""
        try:
            account, token = accounts.create_account(None, username, nickname, password, admin)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(f"Created account '{account.username}' (id {account.id}). Token, shown once:")
        click.echo(token)

    @app.cli.command("issue-token")
    @click.argument("username")
    @click.option("--name", default="cli", help="A label for the token.")
    @needs_instance
    def issue_token(username, name):
        """Issue a new personal access token for an account and print it."""
        try:
            account = accounts.find_account(username)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(accounts.issue_token(account, name=name))


def register_backup_commands(app):
    from .backup import BackupError, create_backup, restore_backup

    @app.cli.command("backup")
    @click.argument("archive", type=click.Path(dir_okay=False))
    def backup(archive):
        """Write a consistent snapshot of the database and every avatar to ARCHIVE (.tar.gz), safe while serving."""
        try:
            manifest = create_backup(current_app.config["INSTANCE_PATH"], archive)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        counts = manifest["counts"]
        click.echo(
            f"Backed up {counts['workspace']} workspaces, {counts['account']} accounts and "
            f"{counts['avatars']} avatar files to {archive}."
        )

    @app.cli.command("restore")
    @click.argument("archive", type=click.Path(dir_okay=False))
    @click.option("--force", is_flag=True, help="Replace the data of a non-empty instance folder.")
    def restore(archive, force):
        """Restore ARCHIVE into the instance folder (which must be empty unless --force). Stop the server first."""
        try:
            manifest = restore_backup(archive, current_app.config["INSTANCE_PATH"], force=force)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Restored the backup of {manifest['createdAt']} into {current_app.config['INSTANCE_PATH']}.")


def register_seed_commands(app):
    """`seed` and `export`: the seed file format of schemas/seed.py (JSON or YAML)."""

    @app.cli.command("seed")
    @click.argument("file", type=click.Path(dir_okay=False))
    @click.option("--replace", is_flag=True, help="Replace everything a non-empty instance holds.")
    @needs_instance
    def seed(file, replace):
        """Load accounts, workspaces and memberships from FILE (.json, .yaml or .yml) in one transaction.

        An instance that holds data (more than the bootstrap admin of a fresh
        instance) is refused unless --replace. In test mode, the seeded state
        becomes the one POST /__admin__/reset restores.
        """
        from .services import seed as seed_service

        try:
            document = seed_service.read_seed_file(file)
        except DomainError as exc:
            raise click.ClickException(f"{exc.message}\n  {seed_service.describe(exc, chr(10) + '  ')}") from None
        try:
            result = seed_service.seed_instance(document, replace=replace)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        if current_app.config["TEST_MODE"]:
            from .services.test_mode import capture_baseline

            capture_baseline()
        click.echo(
            f"Seeded {result.accounts} accounts, {result.workspaces} workspaces and "
            f"{result.memberships} memberships from {file}."
        )
        if result.fresh_admin_token:
            click.echo(
                f"The file has no account, so the instance admin 'admin' was created. Its token (also in "
                f"{accounts.ADMIN_TOKEN_FILE} of the instance folder):\n{result.fresh_admin_token}"
            )

    @app.cli.command("export")
    @click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
    @click.option("--format", "fmt", type=click.Choice(["json", "yaml"]),
                  help="Default: from FILE's extension (.yaml/.yml: YAML), else JSON.")
    @needs_instance
    def export(file, fmt):
        """Write the instance's accounts, workspaces and memberships to FILE (- for stdout) in the seed format.

        Tokens and passwords are written as hashes (tokenHashes, passwordHash),
        which `seed` accepts: export, seed into an empty instance and export
        again gives the same file.
        """
        from .services import seed as seed_service

        document = seed_service.export_document()
        if file == "-":
            click.echo(seed_service.dump_text(document, fmt or "json"), nl=False)
            return
        seed_service.write_seed_file(file, document, fmt)
        click.echo(
            f"Exported {len(document['accounts'])} accounts, {len(document['workspaces'])} workspaces and "
            f"{len(document['memberships'])} memberships to {file}."
        )

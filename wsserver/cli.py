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

"""Admin commands: `flask --app app <command>`.

Every command fails the same way: one line `Error: …` on stderr and exit
status 1 (click's own ClickException; usage mistakes are click's UsageError,
status 2). The translation from exceptions to that line is done in one place,
`Command.invoke` below, for every command registered on `app.cli`.
"""
import functools
import sqlite3

import click
import peewee
from flask import current_app
from flask.helpers import get_debug_flag

from ..storage import migrations
from .backup import BackupError
from ..config import ConfigError
from ..storage.disk import missing_folder
from ..errors import DomainError
from ..permissions import FULL_SCOPE
from ..services import accounts, tokens

TOKEN_COLUMNS = ("id", "name", "prefix", "scope", "created", "last used", "expires")


def one_line(text):
    """`text` with its lines joined by "; ", so an error is always one line."""
    return "; ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _detail_lines(details, prefix=""):
    if isinstance(details, dict):
        for key, value in details.items():
            yield from _detail_lines(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(details, (list, tuple)):
        for value in details:
            yield from _detail_lines(value, prefix)
    else:
        yield f"{prefix}: {details}" if prefix else str(details)


def failure_message(exc):
    """What went wrong, as one sentence for an operator; None when the exception is a bug."""
    if isinstance(exc, DomainError):
        details = "; ".join(_detail_lines(exc.details))
        return f"{exc.message} {details}" if details else exc.message
    if isinstance(exc, ConfigError):
        return f"configuration error: {exc}"
    if isinstance(exc, OSError):  # missing folder, permissions, disk full, read-only file system, ...
        reason = exc.strerror or str(exc) or type(exc).__name__
        where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name is not None)
        return f"{where}: {reason}" if where else reason
    if isinstance(exc, (sqlite3.Error, peewee.PeeweeException)):  # e.g. "database or disk is full", "locked"
        return f"database error: {exc}"
    if isinstance(exc, BackupError):
        return str(exc)
    return None


class Command(click.Command):
    """An admin command whose every failure is one line `Error: …` on stderr and a non-zero exit.

    The one mapping from exceptions to that line. An unexpected exception (a
    bug) is reported in one line too; `flask --app app --debug <command>` shows
    its traceback instead.
    """

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:
            exc.message = one_line(exc.message)
            raise
        except Exception as exc:
            message = failure_message(exc)
            if message is None:
                if get_debug_flag():
                    raise
                what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
                message = f"unexpected {what} (run `flask --app app --debug {ctx.info_name} ...` for the traceback)"
            raise click.ClickException(one_line(message)) from None


def use_one_line_errors(app):
    """Every command registered with @app.cli.command from now on is a `Command`."""
    app.cli.command_class = Command


def writable_target(path):
    """Refuse early, in words, a file to write whose folder does not exist."""
    problem = missing_folder(path)
    if problem:
        raise click.ClickException(problem)


def needs_instance(command):
    """Open the instance folder (database, schema, admin) before the command runs."""

    @functools.wraps(command)
    def run(*args, **kwargs):
        from ..instance import open_instance

        open_instance(current_app)
        return command(*args, **kwargs)

    return run


def register_commands(app):
    use_one_line_errors(app)
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
        account, token = accounts.create_account(None, username, nickname, password, admin)
        click.echo(f"Created account '{account.username}' (id {account.id}). Token, shown once:")
        click.echo(token)

    @app.cli.command("issue-token")
    @click.argument("username")
    @click.option("--name", default="cli", help="A label for the token.")
    @click.option("--expires-in-days", type=click.IntRange(1, 36500), default=None,
                  help="Days the token works for (default: no expiry, or WSSERVER_TOKEN_MAX_DAYS).")
    @click.option("--read-only", is_flag=True, help="Scope `read`: GET and HEAD requests only.")
    @needs_instance
    def issue_token(username, name, expires_in_days, read_only):
        """Issue a new personal access token for an account and print it."""
        account = accounts.find_account(username)
        expires_in = expires_in_days * tokens.SECONDS_PER_DAY if expires_in_days else None
        click.echo(tokens.issue(account, name, expires_in, "read" if read_only else FULL_SCOPE).secret)

    @app.cli.command("list-tokens")
    @click.argument("username")
    @needs_instance
    def list_tokens(username):
        """List an account's tokens (never their values): id, name, prefix, scope, times."""
        rows = tokens.tokens_of(accounts.find_account(username))
        click.echo("\t".join(TOKEN_COLUMNS))
        for token in rows:
            expires = ("expired " if token.expired else "") + (token.expires_at or "never")
            click.echo("\t".join((token.id, token.name, token.prefix or "-", token.scope or FULL_SCOPE,
                                  token.created_at, token.last_used_at or "never", expires)))

    @app.cli.command("revoke-token")
    @click.argument("token_id")
    @needs_instance
    def revoke_token(token_id):
        """Revoke one token (any account's) by its id (see list-tokens); refused at once on every node."""
        tokens.revoke(None, token_id)
        click.echo(f"Revoked token {token_id}.")

    @app.cli.command("revoke-tokens")
    @click.argument("username")
    @needs_instance
    def revoke_tokens(username):
        """Revoke every token of an account (a leaked one among them, say)."""
        count = tokens.revoke_all(accounts.find_account(username))
        click.echo(f"Revoked {count} token{'s' if count != 1 else ''} of '{username}'.")


def register_backup_commands(app):
    from .backup import create_backup, refuse_other_engines, restore_backup

    use_one_line_errors(app)

    @app.cli.command("backup")
    @click.argument("archive", type=click.Path(dir_okay=False))
    def backup(archive):
        """Write a consistent snapshot of the database and every avatar to ARCHIVE (.tar.gz), safe while serving."""
        refuse_other_engines(current_app.config, "backup")
        manifest = create_backup(current_app.config["INSTANCE_PATH"], archive)
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
        refuse_other_engines(current_app.config, "restore")
        manifest = restore_backup(archive, current_app.config["INSTANCE_PATH"], force=force)
        click.echo(f"Restored the backup of {manifest['createdAt']} into {current_app.config['INSTANCE_PATH']}.")


def register_seed_commands(app):
    """`seed` and `export`: the seed file format of schemas/seed.py (JSON or YAML)."""
    use_one_line_errors(app)

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
        from ..testing import seed as seed_service

        document = seed_service.read_seed_file(file)
        result = seed_service.seed_instance(document, replace=replace)
        if current_app.config["TEST_MODE"]:
            from ..testing.mode import capture_baseline

            capture_baseline()
        click.echo(
            f"Seeded {result.accounts} accounts, {result.workspaces} workspaces and "
            f"{result.memberships} memberships from {file}."
        )
        if result.fresh_admin_token:
            click.echo(
                f"The file has no instance admin, so the instance admin 'admin' was created. Its token (also in "
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
        from ..testing import seed as seed_service

        document = seed_service.export_document()
        if file == "-":
            click.echo(seed_service.dump_text(document, fmt or "json"), nl=False)
            return
        writable_target(file)
        seed_service.write_seed_file(file, document, fmt)
        click.echo(
            f"Exported {len(document['accounts'])} accounts, {len(document['workspaces'])} workspaces and "
            f"{len(document['memberships'])} memberships to {file}."
        )

"""Admin commands: `flask --app app <command>`."""
import click

from . import migrations
from .errors import DomainError
from .services import accounts


def register_commands(app):
    @app.cli.command("init-db")
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
    def issue_token(username, name):
        """Issue a new personal access token for an account and print it."""
        try:
            account = accounts.find_account(username)
        except DomainError as exc:
            raise click.ClickException(exc.message) from None
        click.echo(accounts.issue_token(account, name=name))

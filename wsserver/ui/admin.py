"""For instance admins: every workspace, the accounts (create, with the first token shown once;
delete) and the server's health. The services refuse everyone else (403 page)."""
from flask import flash, redirect, request, url_for
from marshmallow import ValidationError

from schemas.accounts import AccountCreateSchema

from ..errors import DomainError, Forbidden
from ..permissions import may_administer_instance
from ..services import accounts
from ..services.health import readiness
from .blueprint import blp, render_page
from .pages import list_page
from .session import signed_in_account

ADMINS_ONLY = "Only instance administrators may open this page."


def _require_instance_admin():
    if not may_administer_instance(signed_in_account()):
        raise Forbidden(ADMINS_ONLY)


@blp.route("/admin/workspaces")
def all_workspaces():
    return list_page("ui.all_workspaces", every_workspace=True)


def _accounts_page(status=200, problems=None, form=None):
    return render_page("ui/accounts.html", status, accounts=accounts.list_accounts(signed_in_account()),
                       problems=problems or {}, form=form or {})


@blp.route("/admin/accounts", methods=["GET", "POST"])
def account_list():
    """The accounts; POST creates one (AccountCreateSchema's rules) and shows its first token once."""
    if request.method == "GET":
        return _accounts_page()
    _require_instance_admin()
    form = request.form
    given = {name: form[name] for name in ("username", "nickname", "password") if form.get(name)}
    given["admin"] = form.get("admin") == "on"
    try:
        payload = AccountCreateSchema().load(given)
        account, token = accounts.create_account(signed_in_account(), **payload)
    except ValidationError as error:
        return _accounts_page(422, error.normalized_messages(), form)
    except DomainError as error:
        if error.status == 403:
            raise
        return _accounts_page(error.status, error.details or {"_": [error.message]}, form)
    return render_page("ui/account_created.html", 201, created=account, token=token)


@blp.route("/admin/accounts/<account_id>/delete", methods=["GET", "POST"])
def delete_account(account_id):
    """Asks first (GET), then deletes the account, its tokens and memberships (POST)."""
    _require_instance_admin()
    account = accounts.account_by_id(account_id)
    if account is None:
        return render_page("ui/error.html", 404, status=404, message="No such account.")
    if request.method == "GET":
        return render_page("ui/confirm_account.html", target=account)
    try:
        accounts.delete_account(signed_in_account(), account_id)
    except DomainError as error:
        if error.status == 403:
            raise
        return _accounts_page(error.status, {"_": [error.message]})
    flash(f"The account {account.username} is deleted.")
    return redirect(url_for("ui.account_list"))


@blp.route("/admin/health")
def health():
    _require_instance_admin()
    checks = readiness()
    ready = all(checks.values())
    return render_page("ui/health.html", 200 if ready else 503, checks=checks, ready=ready)

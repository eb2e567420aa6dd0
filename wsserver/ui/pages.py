"""The pages of /ui. Each reads a form or query the way the API reads JSON (the same marshmallow
schemas, so the same rules and messages) and calls the same services."""
from urllib.parse import urlsplit

from flask import redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError

from schemas.listing import ListQuerySchema
from schemas.workspaces import WorkspacePutSchema

from ..errors import DomainError, Invalid, TooManyRequests
from ..http.auth import password_login
from ..permissions import LEVEL_NAMES
from ..services import accounts, listing, members, workspaces
from .blueprint import blp
from .session import sign_in as start_session
from .session import sign_out as end_session
from .session import signed_in_account

PAGE_SIZE = 20
LIST_PARAMETERS = ("q", "tag", "sort", "page")


@blp.errorhandler(CSRFError)
def forged(error):
    """A form not sent by this page (or from a session that has ended): 400, nothing changed."""
    message = ("This form was not sent by this page, or its session has ended: reload the page and try again. "
               "Nothing was changed.")
    return render_template("ui/error.html", account=signed_in_account(), status=400, message=message), 400


@blp.errorhandler(DomainError)
def refused(error):
    """What a service refused, as a page (403, 404, 409, ...) with the API's own message."""
    return render_template("ui/error.html", account=signed_in_account(), status=error.status,
                           message=error.message), error.status


def _local(target):
    """`target` if it is a path of this web page, else the list (never an open redirect)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui") or "\\" in target:
        return url_for("ui.workspaces")
    return target


@blp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    """Username and password (behind the same lock-out as POST /token), or a token."""
    problem, status = None, 200
    if request.method == "POST":
        form = request.form
        try:
            if form.get("token"):
                account = accounts.account_for_token(form["token"].strip())
            else:
                account = password_login(form.get("username", ""), form.get("password", ""))
        except TooManyRequests as refusal:
            problem, status, account = refusal.message, 429, None
        if account is not None:
            start_session(account)
            return redirect(_local(request.args.get("next")))
        problem = problem or "Wrong username, password or token."
        status = 429 if status == 429 else 401
    return render_template("ui/sign_in.html", account=None, problem=problem), status


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    end_session()
    return redirect(url_for("ui.sign_in"))


@blp.route("/", endpoint="workspaces")
def my_workspaces():
    """My workspaces: search as you type, tag filter, sort, pages of PAGE_SIZE."""
    account = signed_in_account()
    given = {name: request.args.getlist(name) if name == "tag" else request.args.get(name)
             for name in LIST_PARAMETERS if request.args.get(name)}
    try:
        query = ListQuerySchema().load({**given, "page_size": str(PAGE_SIZE)})
        rows, total = listing.list_workspaces(account, query)
        problems = {}
    except ValidationError as error:
        rows, total, problems, query = [], 0, error.normalized_messages(), None
    page = int(given.get("page") or 1) if not problems else 1
    pages = max(1, -(-total // PAGE_SIZE))
    template = "ui/_workspace_rows.html" if request.headers.get("HX-Request") else "ui/workspaces.html"
    return render_template(template, account=account, rows=rows, total=total, given=given, page=page,
                           pages=pages, problems=problems)


def _form_payload(form, fullname):
    """The PUT body this form means (text fields as the API would get them)."""
    payload = {"fullname": fullname}
    if "title" in form:
        payload["meta"] = {"title": form["title"].strip() or None}
    if "tags" in form:
        payload["tags"] = [tag.strip() for tag in form["tags"].split(",") if tag.strip()]
    if "labels" in form:
        labels = {}
        for number, line in enumerate(form["labels"].splitlines(), 1):
            if line.strip():
                key, separator, value = line.partition("=")
                if not separator:
                    raise ValidationError({"labels": [f"Line {number}: write key=value."]})
                labels[key.strip()] = value.strip()
        payload["labels"] = labels
    return payload


def _save(fullname, form, create):
    """Validate like PUT /workspaces/<fullname> and upsert; ({} or the messages per field, access)."""
    try:
        payload = WorkspacePutSchema().load({**_form_payload(form, fullname), "createOnly": create})
        access, _ = workspaces.upsert_workspace(signed_in_account(), fullname, payload)
        return {}, access
    except ValidationError as error:
        return error.normalized_messages(), None
    except Invalid as error:
        return error.details or {"_": [error.message]}, None
    except DomainError as error:
        if error.status == 409:
            return error.details or {"_": [error.message]}, None
        raise


@blp.route("/new", methods=["GET", "POST"])
def new_workspace():
    problems, form = {}, request.form
    if request.method == "POST":
        fullname = form.get("fullname", "").strip()
        problems, access = _save(fullname, form, create=True)
        if not problems:
            return redirect(url_for("ui.workspace", fullname=access.workspace.fullname))
    return render_template("ui/new.html", account=signed_in_account(), problems=problems, form=form), \
        (422 if problems else 200)


@blp.route("/w/<fullname>", methods=["GET", "POST"])
def workspace(fullname):
    """One workspace: its fields (editable by owners and admins), the invite, the members."""
    account = signed_in_account()
    problems, status = {}, 200
    if request.method == "POST":
        problems, _ = _save(fullname, request.form, create=False)
        if not problems:
            return redirect(url_for("ui.workspace", fullname=fullname))
        status = 422
    access = workspaces.get_workspace(account, fullname)
    entries = members.list_entries(account, fullname)
    labels_text = "\n".join(f"{key}={value}" for key, value in access.workspace.labels.items())
    return render_template(
        "ui/workspace.html", account=account, access=access, entries=entries, problems=problems,
        form=request.form if problems else None, labels_text=labels_text, level_names=LEVEL_NAMES,
        level_name=LEVEL_NAMES.get(access.actor.level, "instance admin"),
        can_edit=access.may_update,
    ), status

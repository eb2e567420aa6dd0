"""Signing in and out, my workspaces, a new workspace; the refusal and forgery pages every page
shares. Each page reads a form or query the way the API reads JSON (the same marshmallow schemas,
so the same rules and messages) and calls the same services."""
from urllib.parse import urlsplit

from flask import redirect, request, url_for
from flask_wtf.csrf import CSRFError
from marshmallow import ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from schemas.listing import ListQuerySchema
from schemas.workspaces import WorkspacePutSchema

from ..errors import CounterStorageError, CountersUnavailable, DomainError, Invalid, TooManyRequests
from ..http.auth import password_login
from ..permissions import FULL_SCOPE
from ..services import listing, tokens, workspaces
from .blueprint import blp, render_page
from .session import sign_in as start_session
from .session import sign_out as end_session
from .session import sign_out_everywhere as end_every_session
from .session import signed_in_account

PAGE_SIZE = 20
LIST_PARAMETERS = ("q", "tag", "label", "sort", "include_archived", "page")
REPEATED_PARAMETERS = ("tag", "label")


@blp.errorhandler(CSRFError)
def forged(error):
    """A form not sent by this page (or from a session that has ended): 400, nothing changed."""
    message = ("This form was not sent by this page, or its session has ended: reload the page and try again. "
               "Nothing was changed.")
    return render_page("ui/error.html", 400, status=400, message=message)


@blp.errorhandler(DomainError)
def refused(error):
    """What a service refused, as a page (403, 404, 409, ...) with the API's own message (and headers:
    a 429's or 503's Retry-After)."""
    body, status = render_page("ui/error.html", error.status, status=error.status, message=error.message)
    return body, status, error.headers


@blp.errorhandler(CounterStorageError)
def counters_unavailable(error):
    """The limits' counters cannot be used (a sign-in, or any page under the budget): 503, as the API."""
    return refused(CountersUnavailable())


@blp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    message = "The file is larger than this server accepts. Nothing was changed."
    return render_page("ui/error.html", 413, status=413, message=message)


def _local(target):
    """`target` if it is a path of this web page, else the list (never an open redirect; never a
    control character, which no Location header may carry)."""
    parts = urlsplit(target or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/ui") or "\\" in target or not target.isprintable():
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
                account = tokens.account_for_token(form["token"].strip())
                if account is not None and (account.token_scope or FULL_SCOPE) != FULL_SCOPE:
                    # a session may do everything: a token that may not is no way into one
                    problem, account = "This token may only read: sign in with your password or a full token.", None
            else:
                account = password_login(form.get("username", ""), form.get("password", ""))
        except TooManyRequests as refusal:
            problem, status, account = refusal.message, 429, None
        if account is not None:
            start_session(account)
            return redirect(_local(request.args.get("next")))
        problem = problem or "Wrong username, password or token."
        status = 429 if status == 429 else 401
    return render_page("ui/sign_in.html", status, problem=problem)


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    end_session()
    return redirect(url_for("ui.sign_in"))


@blp.route("/sign-out-everywhere", methods=["POST"])
def sign_out_everywhere():
    """End every session of the signed-in account: other browsers, other devices, and this one."""
    end_every_session(signed_in_account())
    return redirect(url_for("ui.sign_in"))


def list_page(endpoint, every_workspace=False):
    """A list of workspaces (the caller's, or every one for an instance admin): search as you type,
    tag and label filters, sort, pages of PAGE_SIZE; the rows only for an htmx request."""
    given = {name: request.args.getlist(name) if name in REPEATED_PARAMETERS else request.args.get(name)
             for name in LIST_PARAMETERS if request.args.get(name)}
    arguments = {**given, "page_size": str(PAGE_SIZE)}
    if every_workspace:
        arguments["all"] = "true"
    try:
        query = ListQuerySchema().load(arguments)
        rows, total = listing.list_workspaces(signed_in_account(), query)
        problems = {}
    except ValidationError as error:
        rows, total, problems = [], 0, error.normalized_messages()
    page = int(given.get("page") or 1) if not problems else 1
    pages = max(1, -(-total // PAGE_SIZE))
    template = "ui/_workspace_rows.html" if request.headers.get("HX-Request") else "ui/workspaces.html"
    return render_page(template, rows=rows, total=total, given=given, page=page, pages=pages, problems=problems,
                       list_endpoint=endpoint, every_workspace=every_workspace)


@blp.route("/", endpoint="workspaces")
def my_workspaces():
    return list_page("ui.workspaces")


def form_payload(form, fullname):
    """The PUT body this form means (text fields as the API would get them)."""
    payload = {"fullname": fullname}
    meta = {name: form[name].strip() or None for name in ("title", "description") if name in form}
    if meta:
        payload["meta"] = meta
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


def save(fullname, payload):
    """Validate `payload` like PUT /workspaces/<fullname> and upsert; ({} or the messages per field, access).
    What the caller may not do at all (403, 404) is raised for the refusal page."""
    try:
        access, _ = workspaces.upsert_workspace(signed_in_account(), fullname, WorkspacePutSchema().load(payload))
        return {}, access
    except ValidationError as error:
        return _by_form_field(error.normalized_messages()), None
    except Invalid as error:
        return error.details or {"_": [error.message]}, None
    except DomainError as error:
        if error.status == 409:
            return error.details or {"_": [error.message]}, None
        raise


def _by_form_field(messages):
    """The schema's messages keyed by the form's field names: meta.title and meta.description are
    the form's title and description."""
    meta = messages.pop("meta", None)
    if isinstance(meta, dict):
        messages.update(meta)
    elif meta is not None:
        messages["_"] = meta
    return messages


def save_form(fullname, form, create):
    try:
        payload = form_payload(form, fullname)
    except ValidationError as error:
        return error.normalized_messages(), None
    return save(fullname, {**payload, "createOnly": create})


@blp.route("/new", methods=["GET", "POST"])
def new_workspace():
    problems, form = {}, request.form
    if request.method == "POST":
        fullname = form.get("fullname", "").strip()
        problems, access = save_form(fullname, form, create=True)
        if not problems:
            return redirect(url_for("ui.workspace", fullname=access.workspace.fullname))
    return render_page("ui/new.html", 422 if problems else 200, problems=problems, form=form)

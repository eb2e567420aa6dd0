"""The engineering flavor (README, "Flavors"; reference documents 000 and 001): a Django REST
framework service's workspace API over the same store.

- GET /api/workspaces/: the caller's workspaces through the one listing service
  (services.listing), DRF's LimitOffsetPagination: `{"count", "next", "previous", "results"}`, as the
  VIKTOR SDK reads it (it pages by `limit`/`offset` itself).
- GET /api/workspaces/<id>/: one workspace by its integer number (Workspace.number).
- GET /api/users/current/: the caller, as the VIKTOR SDK's `get_current_user()` reads it.

Errors are DRF's: `{"detail": "..."}`, and validation errors as `400 {"<parameter>": ["..."]}`.
The parameters and shapes are schemas/flavors/engineering.py; who may see what is the services'.
"""
import re
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

from flask import request
from flask.views import MethodView

from schemas.flavors.engineering import (
    ERROR_SCHEMA, EngineeringListQuerySchema, EngineeringPageSchema, EngineeringUserSchema,
    EngineeringWorkspaceSchema, EngineeringWorkspaceShortSchema, Page, WorkspaceItem,
)

from .. import budgets
from ..errors import Forbidden, NotFound, messages_in
from ..http.answer_budget import lightened_to_fit
from ..http.auth import current_account
from ..permissions import may_list_all
from ..services import avatars, listing, lookups, workspaces
from .common import FlavorBlueprint

PATHS = ("/api/workspaces", "/api/users")
ERROR_RESPONSE = {
    "description": "An error, as Django REST framework answers it: `{\"detail\": \"...\"}`; a validation error "
                   "(400) names each bad parameter with its messages, `non_field_errors` the rest.",
    "content": {"application/json": {"schema": ERROR_SCHEMA}},
}
WORKSPACE_NOT_FOUND = "Workspace does not exist."
LARGEST_NUMBER = 2**31 - 1  # Workspace.number's range: larger ids name nothing


blp = FlavorBlueprint(
    "engineering", __name__, error_response=ERROR_RESPONSE, validation_status=400,
    description="The engineering flavor: reference documents 000 (list) and 001 (get by id), a Django REST "
                "framework API, and the current user as the VIKTOR SDK reads it. Same accounts, tokens and "
                "workspaces as the native API.",
)

ID_IN_PATH = {
    "in": "path",
    "name": "id",
    "description": "A unique integer value identifying this workspace.",
    "schema": {"type": "integer", "minimum": 0},
}
# the first listed workspace leads to reading it (OpenAPI links, for stateful clients and fuzzers)
FIRST_LISTED_LINKS = {
    "EngineeringGetWorkspace": {"operationId": "engineeringGetWorkspace",
                                "parameters": {"id": "$response.body#/results/0/id"}},
}


@blp.route("/api/workspaces/")
class EngineeringWorkspaces(MethodView):
    @blp.doc(operationId="engineeringListWorkspaces", responses={200: {"links": FIRST_LISTED_LINKS}})
    @blp.authenticated
    @blp.errors(403)
    @blp.arguments(EngineeringListQuerySchema(), location="query")
    @blp.response(200, EngineeringPageSchema)
    def get(self, query):
        """Get All Workspaces: the caller's workspaces (every workspace with `all`, for instance admins).

        Archived workspaces are left out unless `include_archived` (instance admins). `next` and
        `previous` are this request's URL with `limit` and `offset` changed (DRF's LimitOffsetPagination).
        """
        account = current_account()
        if query.include_archived and not may_list_all(account):
            raise Forbidden("Only instance admins may include archived workspaces.")
        rows, total = listing.list_workspaces(account, query)
        items = within_budget([WorkspaceItem(row, avatars.avatar_base64(row)) for row in rows])
        return Page(items, total, *paging_links(request.url, query.limit, query.offset, total, len(items)))


@blp.route("/api/workspaces/<int:id>/", parameters=[ID_IN_PATH])
class EngineeringWorkspaceById(MethodView):
    @blp.doc(operationId="engineeringGetWorkspace")
    @blp.authenticated
    @blp.errors(403, 404)
    @blp.response(200, EngineeringWorkspaceSchema)
    def get(self, id):
        """Get Workspace by Id: one workspace the caller is a member of (any, for instance admins)."""
        account = current_account()
        fullname = lookups.fullname_by(number=id) if id <= LARGEST_NUMBER else None
        if fullname is None:
            raise NotFound(WORKSPACE_NOT_FOUND)
        workspace = workspaces.get_workspace(account, fullname).workspace
        last_visit = lookups.last_visits_of(account.id, [workspace.id]).get(workspace.id)
        return WorkspaceItem(workspace, avatars.avatar_base64(workspace), last_visit)


@blp.route("/api/users/current/")
class EngineeringCurrentUser(MethodView):
    @blp.doc(operationId="engineeringGetCurrentUser")
    @blp.authenticated
    @blp.response(200, EngineeringUserSchema)
    def get(self):
        """Get Current User: the account the credentials belong to (the VIKTOR SDK's `get_current_user()`)."""
        return current_account()


def within_budget(items):
    """The page's items within WSSERVER_MAX_ANSWER_BYTES, images (up to 1 MB each) giving way first
    (`X-Answer-Partial: image`): the service's own client (the VIKTOR SDK) pages by offset += limit and
    never reads `next`, so every item is shown and the images that would pass the budget are null."""
    return lightened_to_fit(
        items, EngineeringWorkspaceShortSchema.view, lambda item: item._replace(image=None),
        lambda item: len(item.image) - 2 if item.image else 0,  # "…" (its base64 and two quotes) for null
        budgets.IMAGE)


# --- paging links (DRF's LimitOffsetPagination and its replace_query_param / remove_query_param) ----


def _with_parameters(url, **changes):
    """`url` with these query parameters set (a value) or removed (None); DRF sorts the parameters."""
    scheme, netloc, path, query, fragment = urlsplit(url)
    parameters = parse_qs(query, keep_blank_values=True)
    for name, value in changes.items():
        if value is None:
            parameters.pop(name, None)
        else:
            parameters[name] = [str(value)]
    return urlunsplit((scheme, netloc, path, urlencode(sorted(parameters.items()), doseq=True), fragment))


def paging_links(url, limit, offset, count, shown=None):
    """(next, previous) as DRF's LimitOffsetPagination writes them for this request's absolute URL.

    `shown`: the items on this page; fewer than `limit` when the answer budget ended it early, and
    `next` then follows on from the last of them (same limit)."""
    step = limit if shown is None else min(shown, limit)
    following = None if offset + step >= count else _with_parameters(url, limit=limit, offset=offset + step)
    if offset <= 0:
        preceding = None
    elif offset - limit <= 0:
        preceding = _with_parameters(url, limit=limit, offset=None)
    else:
        preceding = _with_parameters(url, limit=limit, offset=offset - limit)
    return following, preceding


# --- errors -------------------------------------------------------------------------------------

_ONE_WORKSPACE = re.compile(r"/api/workspaces/[^/]+/?$")
_DETAILS = {
    403: "You do not have permission to perform this action.",
    406: "Could not satisfy the request Accept header.",
    429: "Request was throttled.",
    500: "A server error occurred.",
}


def _not_authenticated_detail():
    scheme = request.headers.get("Authorization", "").split(None, 1)[:1]
    if not scheme:
        return "Authentication credentials were not provided."
    return "Invalid username/password." if scheme[0].lower() == "basic" else "Invalid token."


def error_answer(status, message, details):
    """Every error of a request to this flavor, as DRF answers it."""
    if status in (400, 422) and details:
        body = {}
        for name, value in details.items():
            key = "non_field_errors" if name in ("body", "_schema", "query") else name
            body.setdefault(key, []).extend(messages_in(value))
        return 400, body, "application/json"
    if status == 401:
        detail = _not_authenticated_detail()
    elif status == 404:
        found_route = request.blueprint == blp.name or _ONE_WORKSPACE.search(request.path)
        detail = WORKSPACE_NOT_FOUND if found_route else "Not found."
    elif status == 405:
        detail = f'Method "{request.method}" not allowed.'
    elif status == 415:
        detail = f'Unsupported media type "{request.mimetype}" in request.'
    else:
        detail = _DETAILS.get(status, message)
    return status, {"detail": detail}, "application/json"

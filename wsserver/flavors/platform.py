"""The platform flavor (reference 003, a FastAPI service; README, "Flavors"): GET /workspaces.

Its parameters (schemas/flavors/platform.py) become a queries.ListQuery for the one listing service;
the page is shown with batched look-ups (services/lookups.py: owners, member counts, the accounts behind
ids). Errors are FastAPI's: `{"detail": "..."}`, and for a 422 pydantic's list of
`{"type", "loc", "msg", "input"}`. Every answer of its routes carries `X-API-Version: v1`.
"""
from flask import request
from flask.views import MethodView

from schemas.flavors.platform import (
    API_VERSION_HEADER, API_VERSIONS, DETAIL_SCHEMA, VALIDATION_ERROR_SCHEMA, PlatformHeadersSchema,
    PlatformListQuerySchema, PlatformWorkspaceSchema, account_uuids, to_list_query,
)

from ..errors import MESSAGES, messages_in
from ..http.auth import current_account
from ..services import listing, lookups
from .common import FlavorBlueprint

PATHS = ("/workspaces",)
ERROR_RESPONSE = {
    "description": "An error: `{\"detail\": \"...\"}`.",
    "content": {"application/json": {"schema": DETAIL_SCHEMA}},
}
VALIDATION_DESCRIPTION = "Invalid parameters or X-API-Version: FastAPI's list of pydantic errors."
# Starlette's and FastAPI's own sentences for the answers they make themselves
_FRAMEWORK_MESSAGES = {401: "Not authenticated", 404: "Not Found", 405: "Method Not Allowed"}

blp = FlavorBlueprint(
    "platform", __name__, error_response=ERROR_RESPONSE,
    description="The platform flavor (reference 003): the workspace list of a FastAPI service, wire-compatible.",
)


def error_answer(status, message, details):
    """FastAPI's error bodies; wsserver's own generic sentences become the framework's."""
    if status == 422:
        return status, {"detail": validation_items(message, details, request.args, request.headers)}, "application/json"
    if message == MESSAGES.get(status) and status in _FRAMEWORK_MESSAGES:
        message = _FRAMEWORK_MESSAGES[status]
    return status, {"detail": message}, "application/json"


@blp.after_request
def version_header(response):
    response.headers[API_VERSION_HEADER] = API_VERSIONS[0]
    return response


def shown(rows):
    """The page's workspaces as the platform shows them, with one look-up each for owners, member counts
    and the accounts behind them."""
    ids = [row.id for row in rows]
    owners, counts = lookups.first_owners(ids), lookups.member_counts(ids)
    accounts = lookups.accounts_by_id([*owners.values(), *(row.created_by for row in rows),
                                       *(row.updated_by for row in rows)])

    def user(account_id):
        account = accounts.get(account_id)
        return account.uuid if account is not None else None

    def domain_name(attributes):
        value = (attributes or {}).get("domain_name")
        return value if isinstance(value, str) else None

    return [{
        "id": row.uuid,
        "identifier": row.fullname,
        "name": row.title or row.fullname,
        "owner_id": user(owners.get(row.id)),
        "workspace_type": "single_user" if counts.get(row.id, 0) == 1 else "multi_user",
        "domain_name": domain_name(row.attributes),
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "created_by": user(row.created_by),
        "updated_by": user(row.updated_by or row.created_by),  # as the geoscience flavor: never changed, its creator
    } for row in rows]


@blp.route("/workspaces")
class Workspaces(MethodView):
    @blp.doc(operationId="platformListWorkspaces", summary="Retrieve a list of workspaces")
    @blp.authenticated
    @blp.alt_response(422, schema=VALIDATION_ERROR_SCHEMA, description=VALIDATION_DESCRIPTION)
    @blp.arguments(PlatformHeadersSchema(), location="headers")
    @blp.arguments(PlatformListQuerySchema(), location="query")
    @blp.response(
        200,
        PlatformWorkspaceSchema(many=True),
        description="Success: a plain array of the caller's workspaces, one page.",
        headers={
            "X-Total-Count": {"description": "Matches before paging (a wsserver extra).",
                              "schema": {"type": "integer"}},
            API_VERSION_HEADER: {"description": "The API version answered: v1.",
                                 "schema": {"type": "string", "enum": list(API_VERSIONS)}},
        },
    )
    def get(self, version, params):
        """The caller's workspaces: filtered, searched, sorted, paged.

        Default order: created_at ascending (a search without sort_by and sort_order: by relevance).
        `X-Total-Count` is the number of matches before paging."""
        query = to_list_query(params, lookups.account_ids_by_uuid(account_uuids(params)))
        rows, total = listing.list_workspaces(current_account(), query) if query is not None else ([], 0)
        return shown(rows), 200, {"X-Total-Count": str(total)}


# --- FastAPI's 422 (pydantic v2's error items) -----------------------------------------------------

# pydantic's error type by the start of its message
_TYPES = (
    ("Input should be a valid UUID", "uuid_parsing"),
    ("Input should be a valid datetime or date", "datetime_from_date_parsing"),
    ("Input should be a valid integer", "int_parsing"),
    ("Input should be greater than or equal to", "greater_than_equal"),
    ("Input should be less than or equal to", "less_than_equal"),
    ("String should have at most", "string_too_long"),
    ("Input should be '", "enum"),
)
# declared as a Literal in such a service (the others as an Enum)
_LITERALS = ("sort_by", API_VERSION_HEADER)


def error_type(parameter, message):
    for start, kind in _TYPES:
        if message.startswith(start):
            return "literal_error" if kind == "enum" and parameter in _LITERALS else kind
    return "value_error"


def validation_items(message, details, query_args, headers):
    """FastAPI's `detail` of a 422: one item per message of each parameter in `details`, with the value
    sent (`query_args`: the query multidict, its last value; `headers`: the request's headers)."""
    items = []
    for name, messages in details.items():
        if name.lower() == API_VERSION_HEADER.lower():
            location, value = ["header", name.lower()], headers.get(name)
        else:
            values = query_args.getlist(name)
            location, value = ["query", name], values[-1] if values else None
        for text in messages_in(messages):
            item = {"type": error_type(name, text), "loc": location, "msg": text}
            if value is not None:
                item["input"] = value
            items.append(item)
    return items or [{"type": "value_error", "loc": ["query"], "msg": message}]

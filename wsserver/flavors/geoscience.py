"""The geoscience flavor (README, "Flavors"; reference 002): a geoscience service's workspace list,
`GET /workspace/orgs/{org_id}/workspaces`, and the one workspace its `self_link` leads to, with errors
as RFC 9457 problem details (application/problem+json).

A thin adapter: its parameters (schemas/flavors/geoscience.py) become a queries.ListQuery for the one
listing service; the page is shown with batched look-ups (services.lookups). User ids of this dialect
are the accounts' UUIDs, workspace ids the workspaces' UUIDs, and the caller's level is shown in the
service's role words (ROLE_WORDS).
"""
import uuid
from http import HTTPStatus
from urllib.parse import urlencode

from flask import request, url_for
from flask.views import MethodView

from schemas.flavors.geoscience import (
    GeoGetQuerySchema, GeoListQuerySchema, GeoProblemSchema, GeoWorkspaceListSchema, GeoWorkspaceSchema,
)

from .. import budgets
from ..errors import Forbidden, Invalid, NotFound, messages_in
from ..http.answer_budget import json_size, lightened_to_fit
from ..http.auth import current_account
from ..ids import account_uuid
from ..permissions import LEVEL_NAMES, may_list_all
from ..queries import Filters, ListQuery
from ..services import listing, lookups, organizations
from .common import FlavorBlueprint

PATHS = ("/workspace",)
PROBLEM = "application/problem+json"
ERROR_RESPONSE = {
    "description": "A problem (RFC 9457): `invalid-params` names the offending parameters of a 422, else null.",
    "content": {PROBLEM: {"schema": GeoProblemSchema}},
}
# The native levels in the service's role words (owner, editor, viewer), by what each may do
# (permissions.MINIMUM_LEVEL): an admin does everything but delete, like an editor; a developer,
# like a user, only reads.
ROLE_WORDS = {"owner": "owner", "admin": "editor", "developer": "viewer", "user": "viewer"}
# Status phrases as RFC 9110 names them (Python 3.11 still says "Unprocessable Entity").
TITLES = {413: "Content Too Large", 414: "URI Too Long", 422: "Unprocessable Content"}

blp = FlavorBlueprint(
    "geoscience", __name__, error_response=ERROR_RESPONSE,
    description="The geoscience flavor (reference 002): the workspaces of an organization, listed and read as "
    "that service shows them; errors are problem details (application/problem+json).",
)

ORG_IN_PATH = {"in": "path", "name": "org_id", "required": True, "description": "The organization's id.",
               "schema": {"type": "string", "format": "uuid"}}
WORKSPACE_IN_PATH = {"in": "path", "name": "workspace_id", "required": True, "description": "The workspace's id.",
                     "schema": {"type": "string", "format": "uuid"}}
FIRST_LISTED_LINKS = {"GeoscienceGetWorkspace": {
    "operationId": "geoscienceGetWorkspace",
    "parameters": {"org_id": "$request.path.org_id", "workspace_id": "$response.body#/results/0/id"},
}}


def error_answer(status, message, details):
    """Every error of this flavor's requests as problem details."""
    invalid = [{"name": str(name), "reason": reason} for name, reasons in details.items() for reason in messages_in(reasons)]
    try:
        title = TITLES.get(status) or HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body = {"detail": message, "invalid-params": invalid or None, "status": status, "title": title,
            "type": "about:blank"}
    return status, body, PROBLEM


@blp.route("/workspace/orgs/<string:org_id>/workspaces", parameters=[ORG_IN_PATH])
class GeoWorkspaces(MethodView):
    @blp.doc(operationId="geoscienceListWorkspaces", responses={200: {"links": FIRST_LISTED_LINKS}})
    @blp.authenticated
    @blp.errors(403, 404, 405, 422)
    @blp.arguments(GeoListQuerySchema(), location="query")
    @blp.response(200, GeoWorkspaceListSchema)
    def get(self, parameters, org_id):
        """List the workspaces you have a role in, in this organization.

        With `user_id` (instance admins only): those that user has a role in. `links` pages with limit/offset: `first` and `last` always, `previous` when the offset is past 0,
        `next` when matches follow, each keeping the other parameters.
        """
        account = current_account()
        organization_id = _organization_id(org_id)
        if parameters.user_id is not None and not may_list_all(account):
            raise Forbidden("Only instance admins may list the workspaces of a user (user_id).")
        uuids = [value for value in (parameters.created_by, parameters.user_id) if value is not None]
        account_ids = lookups.account_ids_by_uuid(uuids) if uuids else {}
        if any(value not in account_ids for value in uuids):
            rows, total = [], 0  # an unknown user made nothing and has no role anywhere
        else:
            query = ListQuery(
                filters=Filters(
                    organization=organization_id,
                    created_by=account_ids.get(parameters.created_by),
                    name=parameters.name,
                    created_after=parameters.created_after,
                    created_before=parameters.created_before,
                    updated_after=parameters.updated_after,
                    updated_before=parameters.updated_before,
                    members=((account_ids[parameters.user_id], None),) if parameters.user_id else (),
                ),
                sort=parameters.sort,
                offset=parameters.offset,
                limit=parameters.limit,
                all=parameters.user_id is not None,
                include_archived=True,  # the service has no archive: an archived workspace is listed as any other
                include_deleted=parameters.deleted,
            )
            rows, total = listing.list_workspaces(account, query)
        results = _shown(account, rows, organization_id)
        results = within_budget(results)
        return {"links": _links(parameters, total, len(results)), "results": results}


@blp.route("/workspace/orgs/<string:org_id>/workspaces/<string:workspace_id>",
           parameters=[ORG_IN_PATH, WORKSPACE_IN_PATH])
class GeoWorkspace(MethodView):
    @blp.doc(operationId="geoscienceGetWorkspace")
    @blp.authenticated
    @blp.errors(404, 405, 422)
    @blp.arguments(GeoGetQuerySchema(), location="query")
    @blp.response(200, GeoWorkspaceSchema)
    def get(self, parameters, org_id, workspace_id):
        """Get a workspace by its id, if you have a role in it (instance admins: any).

        Each `self_link` of the list leads here."""
        account = current_account()
        organization_id, workspace_uuid = _path_uuids(org_id=org_id, workspace_id=workspace_id)
        organization_id = _organization_id(organization_id)
        query = ListQuery(
            filters=Filters(uuid=workspace_uuid, organization=organization_id),
            limit=1, all=may_list_all(account), include_archived=True, include_deleted=parameters["deleted"],
        )
        rows, _ = listing.list_workspaces(account, query)
        if not rows:
            raise NotFound("Workspace not found, or you have no role in it.")
        return _shown(account, rows, organization_id)[0]


def _path_uuids(**values):
    """The path's UUIDs in canonical form; 422 naming every one that is not a UUID."""
    found, errors = [], {}
    for name, value in values.items():
        try:
            found.append(str(uuid.UUID(value)))
        except ValueError:
            errors[name] = ["Input should be a valid UUID."]
    if errors:
        raise Invalid(f"Invalid values: {', '.join(errors)}.", errors)
    return found


def _organization_id(org_id):
    """The id of the organization `org_id` names; 422 when it is not a UUID, 404 when there is none."""
    (canonical,) = _path_uuids(org_id=org_id)
    organization = organizations.organization_by_id(canonical)
    if organization is None:
        raise NotFound(f"Organization {canonical} not found.")
    return organization.id


def within_budget(results):
    """The page's workspaces within WSSERVER_MAX_ANSWER_BYTES, bounding boxes (seeded polygons, any size)
    giving way first (`X-Answer-Partial: bounding_box`): the service's client pages by offset += limit,
    so every workspace is shown and the boxes that would pass the budget are null. The other fields are
    bounded by their limits; only a page too large without the boxes ends early (`links.next`)."""
    return lightened_to_fit(
        results, dict, lambda shown: {**shown, "bounding_box": None},
        lambda shown: json_size(shown["bounding_box"]) - 4 if shown["bounding_box"] else 0,  # 4: null
        budgets.BOUNDING_BOX)


def _links(parameters, total, count):
    """The page's links: limit/offset, the other query parameters kept as given; `count` items shown
    (fewer than the limit when the answer budget ended the page early: `next` follows on from them)."""
    kept = [(name, value) for name, value in request.args.items(multi=True) if name not in ("limit", "offset")]
    limit, offset = parameters.limit, parameters.offset

    def url(position):
        return f"{request.base_url}?{urlencode(kept + [('limit', limit), ('offset', position)])}"

    if total > offset:  # the last page of the walk from this offset in steps of `limit`
        last = offset + ((total - offset - 1) // limit) * limit
    else:  # past the end: the page of the last match, counted from 0
        last = (max(total - 1, 0) // limit) * limit
    return {
        "count": count,
        "first": url(0),
        "last": url(last),
        "next": url(offset + min(count, limit)) if offset + min(count, limit) < total else None,
        "previous": url(max(offset - limit, 0)) if offset > 0 else None,
        "total": total,
    }


def _shown(account, rows, organization_id):
    """The page's workspaces as the service shows them, with one look-up each for levels and people."""
    levels = lookups.levels_of(account.id, [row.id for row in rows])
    people = lookups.accounts_by_id([row.created_by for row in rows] + [row.updated_by for row in rows])
    shown = []
    for row in rows:
        attributes = row.attributes if isinstance(row.attributes, dict) else {}
        level = levels.get(row.id)
        coordinate_system = attributes.get("default_coordinate_system")
        shown.append({
            "bounding_box": _bounding_box(attributes.get("bounding_box")),
            "created_at": row.created_at,
            "created_by": _user(row.created_by, people),
            "current_user_role": ROLE_WORDS[LEVEL_NAMES[level]] if level is not None else None,
            "default_coordinate_system": coordinate_system if isinstance(coordinate_system, str) else "",
            "description": row.description or "",
            "id": row.uuid,
            "labels": list(row.tags or ()),
            "ml_enabled": attributes.get("ml_enabled") is True,
            "name": row.title or row.fullname,
            "self_link": url_for(f"{blp.name}.GeoWorkspace", org_id=organization_id, workspace_id=row.uuid,
                                 _external=True),
            "updated_at": row.updated_at,
            "updated_by": _user(row.updated_by or row.created_by, people),
        })
    return shown


def _user(account_id, people):
    """{email, id, name} of an account; one that is gone keeps the UUID it was given, without a name."""
    account = people.get(account_id)
    if account is None:
        return {"email": None, "id": account_uuid(account_id), "name": None}
    return {"email": None, "id": account.uuid or account_uuid(account.id), "name": account.nickname}


def _bounding_box(value):
    """A stored GeoJSON polygon {type: Polygon, coordinates: [[[lon, lat], ...], ...]}; anything else: null."""
    if not isinstance(value, dict) or value.get("type") != "Polygon" or not isinstance(value.get("coordinates"), list):
        return None

    def is_position(point):
        return (isinstance(point, list) and len(point) == 2
                and all(isinstance(number, (int, float)) and not isinstance(number, bool) for number in point))

    rings = value["coordinates"]
    if not all(isinstance(ring, list) and all(is_position(point) for point in ring) for ring in rings):
        return None
    return {"coordinates": rings, "type": "Polygon"}

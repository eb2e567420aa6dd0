"""/workspaces and /workspaces/<fullname>."""
from flask import request
from flask.views import MethodView
from marshmallow import RAISE

from schemas.common import EmptySchema
from schemas.listing import ListQuerySchema, paging_links
from schemas.workspaces import WorkspacePutSchema, WorkspaceViewSchema, WorkspaceViewShortSchema

from ..http.auth import current_account
from ..services import listing, workspaces
from .common import Blueprint

blp = Blueprint("workspaces", __name__, description="Workspaces: list, get, upsert, delete.")


@blp.route("/workspaces")
class Workspaces(MethodView):
    @blp.authenticated
    @blp.errors(403)
    # webargs ignores unknown query parameters by default; the contract wants 422.
    @blp.arguments(ListQuerySchema(), location="query", unknown=RAISE)
    @blp.response(
        200,
        WorkspaceViewShortSchema(many=True),
        headers={
            "X-Total-Count": {"description": "Matches before paging.", "schema": {"type": "integer"}},
            "Link": {"description": "RFC 8288 links: first, prev, next, last.", "schema": {"type": "string"}},
        },
    )
    def get(self, query):
        """The caller's workspaces (or all, for instance admins): filtered, searched, sorted, paged."""
        rows, total = listing.list_workspaces(current_account(), query)
        headers = {"X-Total-Count": str(total), "Link": paging_links(request.base_url, request.args, query, total)}
        return rows, 200, headers


@blp.route("/workspaces/<string:fullname>")
class WorkspaceByName(MethodView):
    @blp.authenticated
    @blp.errors(404)
    @blp.response(200, WorkspaceViewSchema)
    def get(self, fullname):
        """One workspace; `invite` only for owners, admins and instance admins."""
        return workspaces.get_workspace(current_account(), fullname)

    @blp.authenticated
    @blp.errors(400, 403, 409, 413, 415)
    @blp.arguments(WorkspacePutSchema())
    @blp.response(200, WorkspaceViewSchema, description="Updated.")
    @blp.alt_response(201, schema=WorkspaceViewSchema, description="Created; the caller is its owner.")
    def put(self, payload, fullname):
        """Create or update a workspace (upsert)."""
        access, created = workspaces.upsert_workspace(current_account(), fullname, payload)
        return access, (201 if created else 200)

    @blp.authenticated
    @blp.errors(403, 404)
    @blp.response(200, EmptySchema)
    def delete(self, fullname):
        """Delete a workspace with its members and avatar (owners and instance admins)."""
        workspaces.delete_workspace(current_account(), fullname)
        return {}

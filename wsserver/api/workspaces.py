"""/workspaces and /workspaces/<fullname>."""
from flask import request
from flask.views import MethodView
from marshmallow import RAISE

from schemas.common import EmptySchema
from schemas.listing import ListQuerySchema, paging_links
from schemas.workspaces import LARGEST_VIEW_BYTES, WorkspacePutSchema, WorkspaceViewSchema, WorkspaceViewShortSchema

from ..http.answer_budget import fitting
from ..http.auth import current_account
from ..services import listing, workspaces
from .common import FULLNAME_IN_PATH, Blueprint

blp = Blueprint("workspaces", __name__, description="Workspaces: list, get, upsert, delete.")


# What a workspace in an answer leads to (OpenAPI links, for stateful clients and fuzzers).
_ON_A_WORKSPACE = (
    "getWorkspace", "upsertWorkspace", "deleteWorkspace", "uploadAvatar", "listMembers", "joinWorkspace",
    "archiveWorkspace", "unarchiveWorkspace", "restoreWorkspace",
)


def _links_to_workspace_operations(fullname):
    """Links to every operation on one workspace, its name read at `fullname` (a runtime expression)."""
    return {
        operation_id[0].upper() + operation_id[1:]: {"operationId": operation_id, "parameters": {"fullname": fullname}}
        for operation_id in _ON_A_WORKSPACE
    }


WORKSPACE_LINKS = _links_to_workspace_operations("$response.body#/fullname")
FIRST_LISTED_LINKS = _links_to_workspace_operations("$response.body#/0/fullname")


@blp.route("/workspaces")
class Workspaces(MethodView):
    @blp.doc(operationId="listWorkspaces", responses={200: {"links": FIRST_LISTED_LINKS}})
    @blp.authenticated
    @blp.errors(403)
    # webargs ignores unknown query parameters by default; the contract wants 422.
    @blp.arguments(ListQuerySchema(), location="query", unknown=RAISE)
    @blp.response(
        200,
        WorkspaceViewShortSchema(many=True),
        headers={
            "X-Total-Count": {"description": "Matches before paging.", "schema": {"type": "integer"}},
            "Link": {
                "description": "RFC 8288 links in the paging style of the request: `first` and `last` always, "
                "`prev` when offset > 0, `next` when more matches follow.",
                "schema": {"type": "string"},
            },
            "X-Answer-Partial": {
                "description": "`page` when the page ended early at the answer budget (WSSERVER_MAX_ANSWER_BYTES): "
                "`Link`'s `next` leads on from its last item; `search` when the search's time budget ran out "
                "and the matches are those found so far.",
                "schema": {"type": "string"},
            },
        },
    )
    def get(self, query):
        """The caller's workspaces (or all, for instance admins): filtered, searched, sorted, paged.

        Page with either `limit`/`offset` or `page`/`page_size`: both styles in one
        request are a 422. `X-Total-Count` is the number of matches before paging.
        """
        rows, total = listing.list_workspaces(current_account(), query)
        shown = fitting(rows, WorkspaceViewShortSchema.view, bound=WorkspaceViewShortSchema.size_bound,
                        largest=LARGEST_VIEW_BYTES)
        links = paging_links(request.base_url, request.args, query, total, shown)
        return rows[:shown], 200, {"X-Total-Count": str(total), "Link": links}


@blp.route("/workspaces/<string:fullname>", parameters=[FULLNAME_IN_PATH])
class WorkspaceByName(MethodView):
    @blp.doc(operationId="getWorkspace")
    @blp.authenticated
    @blp.errors(404)
    @blp.response(200, WorkspaceViewSchema)
    def get(self, fullname):
        """One workspace; `invite` only for owners, admins and instance admins."""
        return workspaces.get_workspace(current_account(), fullname)

    @blp.doc(operationId="upsertWorkspace", responses={200: {"links": WORKSPACE_LINKS}, 201: {"links": WORKSPACE_LINKS}})
    @blp.authenticated
    @blp.errors(400, 403, 409, 413, 415, 507)
    @blp.arguments(WorkspacePutSchema())
    @blp.response(200, WorkspaceViewSchema, description="Updated.")
    @blp.alt_response(201, schema=WorkspaceViewSchema, description="Created; the caller is its owner.")
    def put(self, payload, fullname):
        """Create or update a workspace (upsert).

        The body's `fullname` must equal the path's (422 otherwise). A field left out
        keeps its stored value; `tags` and `labels` replace; `meta` keys merge.
        """
        access, created = workspaces.upsert_workspace(current_account(), fullname, payload)
        return access, (201 if created else 200)

    @blp.doc(operationId="deleteWorkspace")
    @blp.authenticated
    @blp.errors(403, 404)
    @blp.response(200, EmptySchema)
    def delete(self, fullname):
        """Delete a workspace with its members and avatar (owners and instance admins).

        With `WSSERVER_TRASH_DAYS` > 0 it goes to the trash instead: hidden everywhere (404),
        its name still taken, restorable (`POST .../restore`) until purged after that many days."""
        workspaces.delete_workspace(current_account(), fullname)
        return {}


@blp.route("/workspaces/<string:fullname>/archive", parameters=[FULLNAME_IN_PATH])
class ArchiveWorkspace(MethodView):
    @blp.doc(operationId="archiveWorkspace")
    @blp.authenticated
    @blp.errors(403, 404, 507)
    @blp.response(200, WorkspaceViewSchema, description="Archived (or already archived: unchanged).")
    def post(self, fullname):
        """Archive a workspace (owners, admins, instance admins): lists leave it out unless
        `include_archived=true`; it is read, changed and joined as before."""
        return workspaces.set_archived(current_account(), fullname, True)


@blp.route("/workspaces/<string:fullname>/unarchive", parameters=[FULLNAME_IN_PATH])
class UnarchiveWorkspace(MethodView):
    @blp.doc(operationId="unarchiveWorkspace")
    @blp.authenticated
    @blp.errors(403, 404, 507)
    @blp.response(200, WorkspaceViewSchema, description="Unarchived (or not archived: unchanged).")
    def post(self, fullname):
        """Unarchive a workspace (owners, admins, instance admins)."""
        return workspaces.set_archived(current_account(), fullname, False)


@blp.route("/workspaces/<string:fullname>/restore", parameters=[FULLNAME_IN_PATH])
class RestoreWorkspace(MethodView):
    @blp.doc(operationId="restoreWorkspace")
    @blp.authenticated
    @blp.errors(403, 404, 507)
    @blp.response(200, WorkspaceViewSchema, description="Restored (or not in the trash: unchanged).")
    def post(self, fullname):
        """Take a workspace out of the trash (owners and instance admins; `WSSERVER_TRASH_DAYS` > 0)."""
        return workspaces.restore_workspace(current_account(), fullname)

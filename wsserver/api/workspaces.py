"""/workspaces and /workspaces/<fullname>."""
from flask.views import MethodView

from schemas.common import EmptySchema
from schemas.workspaces import WorkspacePutSchema, WorkspaceViewSchema, WorkspaceViewShortSchema

from ..auth import current_account
from ..services import workspaces
from .common import Blueprint

blp = Blueprint("workspaces", __name__, description="Workspaces: list, get, upsert, delete.")


@blp.route("/workspaces")
class Workspaces(MethodView):
    @blp.authenticated
    @blp.response(200, WorkspaceViewShortSchema(many=True))
    def get(self):
        """The workspaces the caller is a member of."""
        return workspaces.list_member_workspaces(current_account())


@blp.route("/workspaces/<string:fullname>")
class WorkspaceByName(MethodView):
    @blp.authenticated
    @blp.errors(404)
    @blp.response(200, WorkspaceViewSchema)
    def get(self, fullname):
        """One workspace; `invite` only for owners, admins and instance admins."""
        return workspaces.get_workspace(current_account(), fullname)

    @blp.authenticated
    @blp.errors(403, 409, 413, 415)
    @blp.arguments(WorkspacePutSchema)
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

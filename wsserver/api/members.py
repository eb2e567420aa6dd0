"""/workspaces/<fullname>/acl: members, joining by invite, levels."""
from flask.views import MethodView

from schemas.common import EmptySchema
from schemas.members import AclEntrySchema, JoinSchema, LevelSchema

from ..http.auth import current_account
from ..services import members
from .common import FULLNAME_IN_PATH, Blueprint

# From the member list to an entry of it (the first; a stateful client picks the one it wants).
ENTRY_LINKS = {
    name: {
        "operationId": operation_id,
        "parameters": {"fullname": "$request.path.fullname", "entryId": "$response.body#/0/id"},
    }
    for name, operation_id in (("ChangeMemberLevel", "changeMemberLevel"), ("RemoveMember", "removeMember"))
}

blp = Blueprint("members", __name__, description="Members of a workspace (ACL) and invites.")


@blp.route("/workspaces/<string:fullname>/acl", parameters=[FULLNAME_IN_PATH])
class MemberList(MethodView):
    @blp.doc(operationId="listMembers", responses={200: {"links": ENTRY_LINKS}})
    @blp.authenticated
    @blp.errors(404)
    @blp.response(200, AclEntrySchema(many=True))
    def get(self, fullname):
        """The workspace's member entries, owners first, then by join time."""
        return members.list_entries(current_account(), fullname)

    @blp.doc(operationId="joinWorkspace")
    @blp.authenticated
    @blp.errors(400, 403, 404, 413, 415, 507)
    @blp.arguments(JoinSchema())
    @blp.response(204, description="Joined (or already a member).")
    def post(self, payload, fullname):
        """Join the workspace with its current invite token (level `user`)."""
        members.redeem_invite(current_account(), fullname, payload["invite"])


@blp.route("/workspaces/<string:fullname>/acl/<string:entryId>", parameters=[FULLNAME_IN_PATH])
class Member(MethodView):
    @blp.doc(operationId="changeMemberLevel")
    @blp.authenticated
    @blp.errors(400, 403, 404, 409, 413, 415, 507)
    @blp.arguments(LevelSchema())
    @blp.response(204, description="Level changed.")
    def put(self, payload, fullname, entryId):
        """Change a member's level."""
        members.change_level(current_account(), fullname, entryId, payload["level"])

    @blp.doc(operationId="removeMember")
    @blp.authenticated
    @blp.errors(403, 404, 409)
    @blp.response(200, EmptySchema)
    def delete(self, fullname, entryId):
        """Remove a member (or leave). The sole member leaving deletes the workspace."""
        members.remove_entry(current_account(), fullname, entryId)
        return {}

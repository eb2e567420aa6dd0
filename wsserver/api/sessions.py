"""/sessions: the caller's web page sessions ("sign out everywhere"; services/sessions.py)."""
from flask.views import MethodView

from schemas.sessions import EndedSessionsSchema

from ..http.auth import current_account
from ..services import sessions
from .common import Blueprint

blp = Blueprint("sessions", __name__, description="The caller's web page sessions: sign out everywhere.")


@blp.route("/sessions")
class SessionList(MethodView):
    @blp.doc(operationId="endMySessions")
    @blp.authenticated
    @blp.response(200, EndedSessionsSchema)
    def delete(self):
        """End every web page session of the caller at once, on every node (every browser is signed out; the
        caller's tokens are left alone: DELETE /tokens revokes those)."""
        return {"ended": sessions.end_every_session(current_account().id)}

"""/healthz and /readyz (no credentials)."""
from flask.views import MethodView

from schemas.common import ErrorEnvelopeSchema
from schemas.health import HealthSchema, ReadinessSchema

from ..errors import error_response
from ..services.health import readiness
from .common import Blueprint

blp = Blueprint("health", __name__, description="Liveness and readiness probes.")


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(operationId="checkHealth")
    @blp.public
    @blp.response(200, HealthSchema)
    def get(self):
        """The process answers."""
        return {"status": "ok"}


@blp.route("/readyz")
class Ready(MethodView):
    @blp.doc(operationId="checkReadiness")
    @blp.public
    @blp.response(200, ReadinessSchema)
    @blp.alt_response(503, schema=ErrorEnvelopeSchema, description="A dependency is not ready; details name it.")
    def get(self):
        """The database answers, the avatar folder is writable and the disk is above its reserve (`storage`)."""
        checks = readiness()
        failing = sorted(name for name, ok in checks.items() if not ok)
        if failing:
            return error_response(503, f"Not ready: {', '.join(failing)}.", {name: ["not ready"] for name in failing})
        return {"status": "ok", "checks": checks}

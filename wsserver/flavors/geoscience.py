"""The geoscience flavor (README, "Flavors"): a skeleton, filled in by its own change."""
from .common import FlavorBlueprint

PATHS = ()
ERROR_RESPONSE = {"description": "An error.", "content": {"application/json": {"schema": {"type": "object"}}}}

blp = FlavorBlueprint("geoscience", __name__, error_response=ERROR_RESPONSE, description="The geoscience flavor.")


def error_answer(status, message, details):
    return status, {"detail": message}, "application/json"

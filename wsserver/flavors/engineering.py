"""The engineering flavor (README, "Flavors"): a skeleton, filled in by its own change."""
from .common import FlavorBlueprint

PATHS = ()
ERROR_RESPONSE = {"description": "An error.", "content": {"application/json": {"schema": {"type": "object"}}}}

blp = FlavorBlueprint("engineering", __name__, error_response=ERROR_RESPONSE, description="The engineering flavor.")


def error_answer(status, message, details):
    return status, {"detail": message}, "application/json"

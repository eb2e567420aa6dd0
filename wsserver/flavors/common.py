"""What every flavor's blueprint shares: the JSON parser and auth of the native blueprints, and
error documentation in the flavor's own shape."""
import flask_smorest

from ..api.common import EVERY_ROUTE_ERRORS, JSONParser
from ..http.auth import login_required
from ..http.smorest import RATE_HEADER_REFS


class FlavorBlueprint(flask_smorest.Blueprint):
    """A flavor's blueprint. `error_response` is the OpenAPI response object of its errors (their shape
    and content type); it is registered as the component `error_response_name` (flavors.register_flavors)
    and documented for every status given to `errors` and as each operation's default answer."""

    ARGUMENTS_PARSER = JSONParser()

    def __init__(self, name, import_name, *, error_response, validation_status=422, **kwargs):
        super().__init__(name, import_name, **kwargs)
        self.validation_status = validation_status  # what its error_answer makes of webargs' 422
        self.error_response = error_response
        self.error_response_name = f"{name[:1].upper()}{name[1:]}Error"
        self.rate_limited_name = f"{name[:1].upper()}{name[1:]}RateLimited"

    def error_responses(self):
        """{response component name: response}: its error shape, and its 429 with the rate limit's headers."""
        rate_limited = {
            **self.error_response,
            "description": "Too many requests: over the caller's budget, or a locked login.",
            "headers": {
                "Retry-After": {"description": "Seconds until the caller may try again.", "schema": {"type": "integer"}},
                **RATE_HEADER_REFS,
            },
        }
        return {self.error_response_name: self.error_response, self.rate_limited_name: rate_limited}

    def errors(self, *statuses):
        """Document error answers (the flavor's error shape) for these statuses."""

        def decorator(func):
            for status in statuses:
                name = self.rate_limited_name if status == 429 else self.error_response_name
                func = self.alt_response(status, response=name)(func)
            return func

        return decorator

    def authenticated(self, func):
        """Require credentials (a Bearer token or Basic, as the native API); document the 401, the rate
        limit's 429 and what any route may answer."""
        return self.errors(401, 429, *EVERY_ROUTE_ERRORS)(login_required(func))

"""The app's JSON provider: strict parsing of request bodies, answers that always encode."""
import json
import re

from flask.json.provider import DefaultJSONProvider

MAX_INTEGER_DIGITS = 4300  # Python's own default limit (sys.get_int_max_str_digits)
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


class _NotJSON(ValueError):
    """A literal json.loads reads but JSON (RFC 8259) does not allow, or Python cannot convert."""


def _json_integer(text):
    digits = len(text) - text.startswith("-")
    # checked first: without Python's limit, int() of a huge literal takes quadratic time
    if digits > MAX_INTEGER_DIGITS:
        raise _NotJSON(f"an integer literal of {digits} digits")
    try:
        return int(text)
    except ValueError:  # a lower limit for this interpreter (PYTHONINTMAXSTRDIGITS)
        raise _NotJSON(f"an integer literal of {digits} digits") from None


def _json_constant(name):
    raise _NotJSON(f"{name} is not a JSON value")


class JSONProvider(DefaultJSONProvider):
    """The app's JSON, both ways: request bodies (Flask's get_json and the API's argument
    parser, wsserver.api.common) and every answer."""

    sort_keys = False
    ensure_ascii = False

    def loads(self, s, **kwargs):
        """Strict JSON: NaN/Infinity and integers over MAX_INTEGER_DIGITS digits are malformed
        JSON (json.JSONDecodeError, so 400), not a crash deep in the parser (500)."""
        kwargs.setdefault("parse_int", _json_integer)
        kwargs.setdefault("parse_constant", _json_constant)
        try:
            return json.loads(s, **kwargs)
        except _NotJSON as exc:
            document = s if isinstance(s, str) else s.decode("utf-8", "replace")
            raise json.JSONDecodeError(f"Not valid JSON: {exc}", document or " ", 0) from None

    def dumps(self, obj, **kwargs):
        """As JSON text that encodes as UTF-8: an answer that echoes a lone surrogate from the
        request (an unknown field's name in a 422) gets it escaped (\\ud800), not a crash."""
        text = super().dumps(obj, **kwargs)
        if not text.isascii() and _LONE_SURROGATE.search(text):
            text = super().dumps(obj, **{**kwargs, "ensure_ascii": True})
        return text

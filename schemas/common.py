"""Shapes shared by every resource: the error envelope, strict booleans, text, empty results."""
import re

from marshmallow import Schema, ValidationError, fields, validate

from wsserver.permissions import LEVELS
from wsserver.queries import MAX_SEARCH_TERMS, too_many_search_terms


class ErrorBodySchema(Schema):
    message = fields.String(required=True, metadata={"description": "A human-readable sentence."})
    details = fields.Dict(
        required=True,
        metadata={"description": "The offending fields and what is wrong with each (may be empty)."},
    )


class ErrorEnvelopeSchema(Schema):
    """Every non-2xx answer of wsserver."""

    error = fields.Nested(ErrorBodySchema, required=True)


class EmptySchema(Schema):
    """OperationResult: `{}`."""


class StrictBoolean(fields.Boolean):
    """Only JSON true/false: no "yes", 1 or "false" strings."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise ValidationError("Must be true or false.")
        return value


class WholeStringRegexp(validate.Regexp):
    """Regexp over the whole value: Python's `$` also matches before a final newline ("bob\n")."""

    def __call__(self, value):
        if not isinstance(value, str) or self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


# What a client's string may hold. JSON can carry a lone surrogate ("\ud800"), which is
# not Unicode text: it cannot be encoded as UTF-8, so SQLite (and every log or answer)
# would fail on it. Control characters (Unicode category Cc: C0, DEL, C1) are invisible,
# end C strings (NUL) and forge lines; U+2028/U+2029 are line breaks too. Format
# characters (Cf: zero-width joiner in emoji, direction marks in right-to-left text)
# are real text and allowed.
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_BUT_TAB_AND_NEWLINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# The same rules in the OpenAPI document (JSON Schema patterns, ECMA-262 syntax): the characters
# each refuses, as the inside of a character class, then a pattern of the whole value.
SINGLE_LINE_REFUSED = r"\u0000-\u001f\u007f-\u009f\u2028\u2029"
MULTILINE_REFUSED = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
SINGLE_LINE_PATTERN = f"^[^{SINGLE_LINE_REFUSED}]*$"
MULTILINE_PATTERN = f"^[^{MULTILINE_REFUSED}]*$"

SINGLE_LINE = "single-line"
MULTILINE = "multiline"
ANY_CONTROLS = "any"
_RULES = {
    SINGLE_LINE: (_CONTROL, SINGLE_LINE_PATTERN),
    MULTILINE: (_CONTROL_BUT_TAB_AND_NEWLINES, MULTILINE_PATTERN),
    ANY_CONTROLS: (None, None),
}


class Text(fields.String):
    """Every string a client sends, wherever it is (field, list item, object key or value).

    Lone surrogates are refused everywhere. `controls` says which control characters
    may appear: SINGLE_LINE (the default: none, and no U+2028/U+2029), MULTILINE (tab,
    line feed and carriage return only) or ANY_CONTROLS (secrets such as passwords,
    which are only ever hashed). The rule is documented as the field's `pattern`
    unless a regexp validator already gives a stricter one.
    """

    default_error_messages = {
        "surrogate": "Must be valid Unicode text: no lone surrogates (U+D800 to U+DFFF).",
        SINGLE_LINE: "Must not contain control characters or line breaks (U+0000 to U+001F, U+007F to U+009F, "
        "U+2028, U+2029).",
        MULTILINE: "Must not contain control characters other than tab, line feed and carriage return.",
    }

    def __init__(self, *args, controls=SINGLE_LINE, **kwargs):
        super().__init__(*args, **kwargs)
        self.controls = controls
        self._refused, pattern = _RULES[controls]
        documented = any(
            isinstance(getattr(v, "regex", None), re.Pattern) or isinstance(v, validate.OneOf) for v in self.validators
        )
        if pattern and not documented and "pattern" not in self.metadata:
            self.metadata = {**self.metadata, "pattern": pattern}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if not text.isascii() and _SURROGATE.search(text):
            raise self.make_error("surrogate")
        if self._refused is not None and self._refused.search(text):
            raise self.make_error(self.controls)
        return text


class SearchTerms(validate.Validator):
    """A search (`q`, a flavor's `search`) of at most MAX_SEARCH_TERMS distinct terms (services/search.py:
    its ceiling); `error` is the dialect's sentence, with {max}."""

    def __init__(self, error):
        self.error = error.format(max=MAX_SEARCH_TERMS)

    def __call__(self, value):
        if too_many_search_terms(value):
            raise ValidationError(self.error)
        return value


class TextUrl(Text, fields.Url):
    """An URL field with Text's rules (marshmallow's URL check lets a NUL through)."""


def level_field(**kwargs):
    """A member level (user < developer < admin < owner), documented once as the `MemberLevel` component."""
    metadata = {"component": "MemberLevel", **kwargs.pop("metadata", {})}
    return Text(validate=validate.OneOf(list(LEVELS)), metadata=metadata, **kwargs)

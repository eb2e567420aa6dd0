"""Shapes shared by every resource: the error envelope, strict booleans, empty results."""
from marshmallow import Schema, ValidationError, fields, validate


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

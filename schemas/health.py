"""/healthz and /readyz."""
from marshmallow import Schema, fields


class HealthSchema(Schema):
    status = fields.String(required=True)


class ReadinessSchema(HealthSchema):
    checks = fields.Dict(keys=fields.String(), values=fields.Boolean(), required=True)

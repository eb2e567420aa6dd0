"""What DELETE /sessions answers (services/sessions.py: web page sessions kept server-side)."""
from marshmallow import Schema, fields


class EndedSessionsSchema(Schema):
    ended = fields.Integer(required=True, metadata={"description": "How many web page sessions were ended."})

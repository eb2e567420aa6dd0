"""flask-smorest's Api with wsserver's error envelope in the OpenAPI document."""
import flask_smorest

from schemas.common import ErrorEnvelopeSchema


class Api(flask_smorest.Api):
    ERROR_SCHEMA = ErrorEnvelopeSchema

"""Marshmallow schemas: the wire shapes of wsserver (and nothing else)."""

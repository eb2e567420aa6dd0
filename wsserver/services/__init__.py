"""The rules of wsserver. Services take plain values and the acting account,
never `request` or `g`, and raise the domain errors of wsserver.errors."""

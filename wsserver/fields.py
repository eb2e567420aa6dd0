"""The limits of each account field, and of the workspace fields every dialect shares, written once.

The wire schemas (schemas/accounts.py, schemas/seed.py) validate with them;
the accounts service checks them again for callers that bypass the schemas
(the admin commands), and password logins refuse anything longer before
hashing. Both may import this module: it imports nothing of wsserver.
"""
import re

USERNAME_MAX_LENGTH = 64
# Used with fullmatch: `$` alone would let a trailing newline through.
USERNAME_PATTERN = re.compile(rf"[A-Za-z0-9_.-]{{1,{USERNAME_MAX_LENGTH}}}")
USERNAME_RULE = f"1-{USERNAME_MAX_LENGTH} characters of A-Z, a-z, 0-9, '_', '.', '-'."
PASSWORD_LENGTH = (8, 1024)  # (min, max) of a new password; a login accepts 1 to max
NICKNAME_LENGTH = (1, 128)
TOKEN_NAME_MAX_LENGTH = 64  # a personal access token's name (services/tokens.py)
# The longest expiresIn of a token at all (100 years); WSSERVER_TOKEN_MAX_DAYS may lower it.
TOKEN_LONGEST_EXPIRY_SECONDS = 100 * 365 * 86400

# Workspaces (schema version 5): what other services show and the native API did not have.
DESCRIPTION_MAX_LENGTH = 1024
VISIBILITIES = ("INTERNAL", "PRIVATE", "DEVELOPMENT", "PUBLIC")
DEFAULT_VISIBILITY = "PRIVATE"
ORGANIZATION_NAME_LENGTH = (1, 128)
DEFAULT_ORGANIZATION_NAME = "Default"

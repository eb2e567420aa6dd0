"""The seed file (JSON or YAML): accounts, workspaces and memberships with fixed ids and tokens.

`flask --app app seed FILE` and WSSERVER_SEED_FILE read it; `flask --app app
export FILE` writes it. Field names are those of the file (camelCase), so a
validation error names the bad entry as it is written, e.g.
`workspaces[2].fullname`. Accounts are referred to by username and
workspaces by fullname.
"""
import re

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from wsserver.ids import canonical_time, hash_secret

from .accounts import NEW_PASSWORD_VALIDATOR, NICKNAME_VALIDATOR, USERNAME_VALIDATOR
from .common import ANY_CONTROLS, StrictBoolean, Text, WholeStringRegexp, level_field
from wsserver.fields import ORGANIZATION_NAME_LENGTH, VISIBILITIES

from .workspaces import (
    FULLNAME_VALIDATORS, LABEL_KEY, LABEL_VALUE, MAX_LABELS, MAX_TAGS, TAG, MetaInputSchema, distinct,
)

# 2 (schema version 5): organizations; a workspace's description, archivedAt, updatedBy, number, uuid,
# organization, visibility, views and attributes; a membership's lastVisitAt.
# 3 (schema version 6): an account's uuid; a workspace's deletedAt (the trash).
# Files of every version load as they are (what they lack is generated or defaulted); export writes the
# latest, which an older wsserver refuses by its version rather than by a field it does not know.
SEED_FORMAT_VERSION = 3
SEED_FORMAT_VERSIONS = (1, 2, 3)


def _whole(pattern, error):
    return WholeStringRegexp(pattern, error=error)


ID = _whole(r"[A-Za-z0-9_.-]{1,32}", "1-32 characters of A-Z, a-z, 0-9, '_', '.', '-'.")
USERNAME = USERNAME_VALIDATOR
FULLNAME = FULLNAME_VALIDATORS
# What a Bearer token can be: visible ASCII (no spaces), at most what authentication reads.
TOKEN = _whole(r"[\x21-\x7e]{1,256}", "1-256 visible ASCII characters (no spaces).")
INVITE = _whole(r"[\x21-\x7e]{1,64}", "1-64 visible ASCII characters (no spaces).")
TOKEN_HASH = _whole(r"[0-9a-f]{64}", "The SHA-256 of a token: 64 lowercase hexadecimal digits.")
# Werkzeug's format: method$salt$hash.
PASSWORD_HASH = _whole(r"[a-z0-9:]+\$[^$\s]+\$[0-9a-f]+", "A Werkzeug password hash (method$salt$hash).")


class Timestamp(Text):
    """ISO 8601 date and time (no zone means UTC), loaded as the stored text (UTC, milliseconds, Z)."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return canonical_time(text)
        except ValueError:
            raise ValidationError("Not an ISO 8601 date and time (e.g. 2024-05-01T12:00:00Z).") from None


class _SeedEntrySchema(Schema):
    """An entry of a seed file: unknown keys refused, an id generated when left out."""

    class Meta:
        unknown = RAISE

    id = Text(validate=ID, metadata={"description": "Generated when left out."})


class SeedAccountSchema(_SeedEntrySchema):
    username = Text(required=True, validate=USERNAME)
    uuid = fields.UUID(metadata={"description": "The UUID other dialects show as the user's id; default: "
                                                "derived from the account id."})
    nickname = Text(validate=NICKNAME_VALIDATOR, metadata={"description": "Default: username."})
    admin = StrictBoolean(metadata={"description": "Instance administrator (default false)."})
    password = Text(
        controls=ANY_CONTROLS, validate=NEW_PASSWORD_VALIDATOR, metadata={"description": "In clear."}
    )
    passwordHash = Text(validate=PASSWORD_HASH, metadata={"description": "As export writes it."})
    tokens = fields.List(Text(validate=TOKEN), metadata={"description": "Bearer tokens, in clear."})
    tokenHashes = fields.List(Text(validate=TOKEN_HASH), metadata={"description": "SHA-256 of tokens."})
    createdAt = Timestamp()


class SeedOrganizationSchema(_SeedEntrySchema):
    id = fields.UUID(metadata={"description": "A UUID; generated when left out."})
    name = Text(required=True, validate=validate.Length(*ORGANIZATION_NAME_LENGTH))
    default = StrictBoolean(metadata={"description": "The instance's default organization (exactly one is)."})
    createdAt = Timestamp()


class SeedWorkspaceSchema(_SeedEntrySchema):
    fullname = Text(required=True, validate=FULLNAME)
    invite = Text(validate=INVITE, metadata={"description": "Generated when left out."})
    tags = fields.List(TAG, validate=[validate.Length(max=MAX_TAGS), distinct], metadata={"uniqueItems": True})
    labels = fields.Dict(keys=LABEL_KEY, values=LABEL_VALUE, validate=validate.Length(max=MAX_LABELS))
    meta = fields.Nested(MetaInputSchema)
    createdAt = Timestamp()
    updatedAt = Timestamp(metadata={"description": "Default: createdAt."})
    createdBy = Text(
        validate=USERNAME, metadata={"description": "Username of an account of the file (or an account id)."}
    )
    updatedBy = Text(validate=USERNAME, metadata={"description": "Like createdBy. Default: createdBy."})
    archivedAt = Timestamp(allow_none=True, metadata={"description": "Archived since then; null: not archived."})
    deletedAt = Timestamp(allow_none=True, metadata={
        "description": "In the trash since then (purged at start when older than WSSERVER_TRASH_DAYS); null: not."})
    number = fields.Integer(
        strict=True, validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "The integer id other dialects show; default: one more than the largest so far."},
    )
    uuid = fields.UUID(metadata={"description": "The UUID other dialects show; generated when left out."})
    organization = fields.UUID(
        metadata={"description": "Id of an organization of the file; default: the default organization."}
    )
    visibility = Text(validate=validate.OneOf(VISIBILITIES), metadata={"description": "Default: PRIVATE."})
    views = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**31 - 1))
    attributes = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=64)),
        metadata={"description": "Other services' fields without a native meaning (app, project, ...), kept as given."},
    )


class SeedMembershipSchema(_SeedEntrySchema):
    id = Text(validate=ID, metadata={"description": "ACL entry id; generated when left out."})
    workspace = Text(required=True, metadata={"description": "Fullname of a workspace of the file."})
    account = Text(required=True, metadata={"description": "Username of an account of the file."})
    level = level_field(required=True)
    createdAt = Timestamp()
    lastVisitAt = Timestamp(allow_none=True, metadata={"description": "When the member last opened the workspace."})


def _first_seen(entries, key):
    """{value of `key`: index of its first entry}, and [(index, value, first index)] for repeats."""
    seen, repeats = {}, []
    for index, entry in enumerate(entries):
        value = entry.get(key)
        if value is None:
            continue
        if value in seen:
            repeats.append((index, value, seen[value]))
        else:
            seen[value] = index
    return seen, repeats


class SeedSchema(Schema):
    """The whole file. Cross-references (usernames, fullnames, owners, unique ids and tokens) are checked too."""

    class Meta:
        unknown = RAISE

    version = fields.Integer(
        strict=True, validate=validate.OneOf(SEED_FORMAT_VERSIONS),
        metadata={"description": f"Format version: {SEED_FORMAT_VERSION} (version 1 files load too)."},
    )
    organizations = fields.List(fields.Nested(SeedOrganizationSchema), load_default=list)
    accounts = fields.List(fields.Nested(SeedAccountSchema), load_default=list)
    workspaces = fields.List(fields.Nested(SeedWorkspaceSchema), load_default=list)
    memberships = fields.List(fields.Nested(SeedMembershipSchema), load_default=list)

    def __init__(self, *args, reserved_names=frozenset(), **kwargs):
        super().__init__(*args, **kwargs)
        self.reserved_names = reserved_names

    @validates_schema
    def check_references(self, data, **kwargs):
        errors = {}

        def add(path, message):
            """Record `message` at path (section, index, field[, position]) in marshmallow's nesting."""
            node = errors
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node.setdefault(path[-1], []).append(message)

        accounts = data.get("accounts", [])
        workspaces = data.get("workspaces", [])
        memberships = data.get("memberships", [])
        organizations = data.get("organizations", [])

        defaults = [index for index, organization in enumerate(organizations) if organization.get("default")]
        for index in defaults[1:]:
            add(("organizations", index, "default"), f"organizations[{defaults[0]}] is already the default one.")
        if organizations and not defaults:
            add(("organizations", 0, "default"), "Mark one organization as the default one (default: true).")
        organization_ids = {organization["id"] for organization in organizations if "id" in organization}
        for index, value, first in _first_seen(organizations, "id")[1]:
            add(("organizations", index, "id"), f"'{value}' is already the id of organizations[{first}].")
        for section, entries, field in (
            ("workspaces", workspaces, "number"), ("workspaces", workspaces, "uuid"), ("accounts", accounts, "uuid"),
        ):
            for index, value, first in _first_seen(entries, field)[1]:
                add((section, index, field), f"'{value}' is already the {field} of {section}[{first}].")
        for index, workspace in enumerate(workspaces):
            if "organization" in workspace and workspace["organization"] not in organization_ids:
                add(("workspaces", index, "organization"), "No organization with this id in this file.")

        usernames, repeats = _first_seen(accounts, "username")
        for index, value, first in repeats:
            add(("accounts", index, "username"), f"'{value}' is already the username of accounts[{first}].")
        for section, entries in (("accounts", accounts), ("workspaces", workspaces), ("memberships", memberships)):
            for index, value, first in _first_seen(entries, "id")[1]:
                add((section, index, "id"), f"'{value}' is already the id of {section}[{first}].")

        given_at = {}  # token hash -> where it was first given
        for index, account in enumerate(accounts):
            if "password" in account and "passwordHash" in account:
                add(("accounts", index, "password"), "Give password or passwordHash, not both.")
            for field, digest in (("tokens", hash_secret), ("tokenHashes", str)):
                for position, value in enumerate(account.get(field, [])):
                    where = f"accounts[{index}].{field}[{position}]"
                    first = given_at.setdefault(digest(value), where)
                    if first != where:
                        add(("accounts", index, field, position), f"The same token is already given at {first}.")

        fullnames, repeats = _first_seen(workspaces, "fullname")
        for index, value, first in repeats:
            add(("workspaces", index, "fullname"), f"'{value}' is already the fullname of workspaces[{first}].")
        for index, workspace in enumerate(workspaces):
            if workspace["fullname"] in self.reserved_names:
                add(("workspaces", index, "fullname"), f"The name '{workspace['fullname']}' is reserved.")

        owned, pairs = set(), {}
        for index, membership in enumerate(memberships):
            fullname, username = membership["workspace"], membership["account"]
            if fullname not in fullnames:
                add(("memberships", index, "workspace"), f"No workspace named '{fullname}' in this file.")
            if username not in usernames:
                add(("memberships", index, "account"), f"No account named '{username}' in this file.")
            if (fullname, username) in pairs:
                add(
                    ("memberships", index, "account"),
                    f"'{username}' is already a member of '{fullname}' (memberships[{pairs[fullname, username]}]).",
                )
            pairs.setdefault((fullname, username), index)
            if membership["level"] == "owner":
                owned.add(fullname)
        for fullname, index in fullnames.items():
            if fullname not in owned:
                add(("workspaces", index, "_schema"), f"'{fullname}' has no owner: add a membership with level owner.")
        if errors:
            raise ValidationError(errors)


_SECTION_ORDER = {"version": 0, "organizations": 1, "accounts": 2, "workspaces": 3, "memberships": 4}


def _file_order(path):
    section = path.split("[", 1)[0].split(".", 1)[0]
    parts = re.split(r"(\d+)", path)
    return (_SECTION_ORDER.get(section, 4), [int(part) if part.isdigit() else part for part in parts[1:]])


def error_lines(messages):
    """marshmallow's nested messages as {"workspaces[2].fullname": ["..."]}, in file order."""
    lines = _error_lines(messages)
    return {path: lines[path] for path in sorted(lines, key=_file_order)}


def _printable(text):
    """`text`, with what cannot be shown on one line (control characters, lone surrogates) as \\uXXXX."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c == " " else f"\\u{ord(c):04x}" for c in text)


def _error_lines(messages, path=""):
    lines = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                child = path
            elif isinstance(key, int):
                child = f"{path}[{key}]"
            else:
                key = _printable(str(key))  # a label key or unknown name as written, escaped if need be
                child = f"{path}.{key}" if path else key
            for name, texts in _error_lines(value, child).items():
                lines.setdefault(name, []).extend(texts)
    elif isinstance(messages, list) and all(isinstance(item, str) for item in messages):
        lines[path or "(file)"] = list(messages)
    elif isinstance(messages, list):
        for item in messages:
            for name, texts in _error_lines(item, path).items():
                lines.setdefault(name, []).extend(texts)
    else:
        lines[path or "(file)"] = [str(messages)]
    return lines

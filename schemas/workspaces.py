"""Workspace views (WorkspaceView, WorkspaceViewShort) and the PUT payload."""
from marshmallow import Schema, ValidationError, fields, validate

from wsserver.budgets import JSON_BYTES_PER_CHARACTER
from wsserver.fields import DESCRIPTION_MAX_LENGTH

from .common import MULTILINE, StrictBoolean, Text, TextUrl, WholeStringRegexp

FULLNAME_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_TAGS = 50
MAX_LABELS = 50
# The longest texts of a workspace, in characters.
FULLNAME_MAX, TITLE_MAX, AVATAR_URL_MAX, TAG_MAX, LABEL_KEY_MAX, LABEL_VALUE_MAX = 64, 128, 2048, 64, 64, 256


class MetaSchema(Schema):
    # always in the answer, null when unset
    title = fields.String(required=True, allow_none=True)
    description = fields.String(required=True, allow_none=True)
    avatar = fields.String(required=True, allow_none=True)


class _DumpedByView:
    """Output schemas whose `view(obj)` builds the whole answer from stored values.

    The fields document the answer (OpenAPI); the values are already JSON types
    as storage gives them (text, lists of text, objects of text), so `dump`
    returns what `view` builds instead of passing every field through
    marshmallow again, which cost more than the rest of a list request. The
    fuzz test checks every answer against these fields.
    """

    def dump(self, obj, *, many=None):
        many = self.many if many is None else bool(many)
        return [self.view(item) for item in obj] if many else self.view(obj)


class WorkspaceViewShortSchema(_DumpedByView, Schema):
    id = fields.String(required=True)
    fullname = fields.String(required=True)
    tags = fields.List(fields.String(), required=True)
    labels = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    meta = fields.Nested(MetaSchema, required=True)
    archivedAt = fields.String(
        required=True, allow_none=True,
        metadata={"format": "date-time", "description": "When it was archived; null when it is not."},
    )

    @staticmethod
    def view(workspace):
        """`workspace` is a models.Workspace."""
        return workspace_fields(workspace)

    @staticmethod
    def size_bound(workspace):
        """An upper bound of the bytes of this workspace's view (the answer budget's cheap test): its
        stored text at the most bytes a character can take, plus the keys, ids and times."""
        labels = workspace.labels
        characters = (len(workspace.fullname) + len(workspace.title or "") + len(workspace.description or "")
                      + len(workspace.avatar or "") + sum(map(len, workspace.tags)) + sum(map(len, labels))
                      + sum(map(len, labels.values())))
        return JSON_BYTES_PER_CHARACTER * characters + VIEW_OVERHEAD_BYTES


class WorkspaceViewSchema(WorkspaceViewShortSchema):
    createdAt = fields.String(required=True, metadata={"format": "date-time"})
    updatedAt = fields.String(required=True, metadata={"format": "date-time"})
    createdBy = fields.String(required=True, metadata={"description": "Account id of the creator."})
    invite = fields.String(
        metadata={"description": "Invite token; present only for owners, admins and instance admins."}
    )

    @staticmethod
    def view(access):
        """`access` is a services.workspaces.WorkspaceAccess."""
        workspace = access.workspace
        view = workspace_fields(workspace)
        view.update(createdAt=workspace.created_at, updatedAt=workspace.updated_at, createdBy=workspace.created_by)
        if access.invite_visible:
            view["invite"] = workspace.invite
        return view


# A view's bytes besides its stored text (keys, quotes, the id, the time, the commas of 50 tags and labels).
VIEW_OVERHEAD_BYTES = 1024


# The most bytes any workspace's view can take, from the fields' limits: a page of at most
# MAX_ANSWER_BYTES / LARGEST_VIEW_BYTES workspaces needs no measuring at all.
LARGEST_VIEW_BYTES = JSON_BYTES_PER_CHARACTER * (
    FULLNAME_MAX + TITLE_MAX + DESCRIPTION_MAX_LENGTH + AVATAR_URL_MAX + MAX_TAGS * TAG_MAX
    + MAX_LABELS * (LABEL_KEY_MAX + LABEL_VALUE_MAX)) + VIEW_OVERHEAD_BYTES


def workspace_fields(workspace):
    return {
        "id": workspace.id,
        "fullname": workspace.fullname,
        "tags": workspace.tags,
        "labels": workspace.labels,
        "meta": {"title": workspace.title, "description": workspace.description, "avatar": workspace.avatar},
        "archivedAt": workspace.archived_at,
    }


class MetaInputSchema(Schema):
    title = Text(allow_none=True, validate=validate.Length(max=TITLE_MAX))
    description = Text(
        allow_none=True, controls=MULTILINE, validate=validate.Length(max=DESCRIPTION_MAX_LENGTH),
        metadata={"description": "Free text (line breaks and tabs allowed), or null to clear it."},
    )
    avatar = TextUrl(
        allow_none=True,
        schemes={"http", "https"},
        require_tld=False,
        validate=validate.Length(max=AVATAR_URL_MAX),
        metadata={"description": "http(s) URL of an image, or null to clear it.", "format": "uri"},
    )


FULLNAME_VALIDATORS = [
    validate.Length(min=2, max=FULLNAME_MAX),
    WholeStringRegexp(FULLNAME_PATTERN, error="Must be kebab-case: lowercase letters and digits separated by single hyphens."),
]


# Tags and label keys are single-line names; label values may hold tabs and line breaks.
TAG = Text(validate=validate.Length(min=1, max=TAG_MAX))
LABEL_KEY = Text(validate=validate.Length(min=1, max=LABEL_KEY_MAX))
LABEL_VALUE = Text(controls=MULTILINE, validate=validate.Length(max=LABEL_VALUE_MAX))


def distinct(values):
    if len(set(values)) != len(values):
        raise ValidationError("Tags must be distinct.")


class WorkspacePutSchema(Schema):
    fullname = Text(
        required=True,
        validate=FULLNAME_VALIDATORS,
        metadata={"description": "Must equal the name in the path."},
    )
    createOnly = StrictBoolean(metadata={"description": "Answer 409 if the workspace exists."})
    resetInvite = StrictBoolean(metadata={"description": "Replace the invite token; the old one stops working."})
    tags = fields.List(TAG, validate=[validate.Length(max=MAX_TAGS), distinct], metadata={"uniqueItems": True})
    labels = fields.Dict(keys=LABEL_KEY, values=LABEL_VALUE, validate=validate.Length(max=MAX_LABELS))
    meta = fields.Nested(MetaInputSchema, metadata={"description": "Keys merge; a null value clears that key."})

"""Avatar upload payload (AvatarUpload) and answer (AvatarUploadResult)."""
from marshmallow import Schema, fields, pre_dump, validate

from wsserver.images.types import CONTENT_TYPES

from .workspaces import WorkspaceViewSchema


# What the service decodes (services/avatars.decode_data): an optional `data:<type>;base64,` prefix
# (any case), then strict standard base64 of at least one byte, padded. Documented, not enforced here.
BASE64_WITH_OPTIONAL_PREFIX = (
    r"^(?:[Dd][Aa][Tt][Aa]:(?:[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)?;[Bb][Aa][Ss][Ee]64,)?"
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$"
)


class AvatarUploadSchema(Schema):
    filename = fields.String(
        required=True,
        validate=validate.Length(min=1, max=255),
        metadata={
            "description": "The client's name for the file. Checked, never used: the server picks the stored name."
        },
    )
    contentType = fields.String(
        required=True,
        validate=validate.OneOf(CONTENT_TYPES),
        metadata={"description": "What the data is; it must really be an image of this type."},
    )
    data = fields.String(
        required=True,
        validate=validate.Length(min=1),
        metadata={
            "pattern": BASE64_WITH_OPTIONAL_PREFIX,
            "description": "The image in standard base64 (padded, no whitespace); a `data:<type>;base64,` "
            "prefix is tolerated. At most AVATAR_MAX_BYTES (1 MiB) once decoded (413 beyond), "
            "at most AVATAR_MAX_SIDE (4096) pixels per side."
        },
    )


class AvatarUploadResultSchema(Schema):
    url = fields.String(
        required=True, metadata={"description": "Absolute URL of the stored image (GET /avatars/<fileName>)."}
    )
    fileName = fields.String(
        required=True, metadata={"description": "Server-chosen name: SHA-256 of the stored bytes + extension."}
    )
    extension = fields.String(required=True, metadata={"description": "png, jpg, gif or webp (no dot)."})
    size = fields.Integer(required=True, metadata={"description": "Bytes of the stored (re-encoded) file."})
    workspace = fields.Nested(WorkspaceViewSchema, required=True, metadata={"description": "The updated workspace."})

    @pre_dump
    def from_result(self, stored, **kwargs):
        """`stored` is a services.avatars.StoredAvatar."""
        return {
            "url": stored.url,
            "fileName": stored.file_name,
            "extension": stored.extension,
            "size": stored.size,
            "workspace": stored.workspace,
        }

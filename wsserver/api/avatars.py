"""POST /workspaces/<fullname>/avatar (under the API prefixes) and GET /avatars/<fileName> (at the root)."""
import functools

from flask import request, send_from_directory
from flask.views import MethodView

from schemas.avatars import AvatarUploadResultSchema, AvatarUploadSchema

from ..http.auth import current_account
from ..services import avatars
from .common import FULLNAME_IN_PATH, Blueprint, request_body

blp = Blueprint("avatars", __name__, description="Workspace avatars: upload.")
files_blp = Blueprint("avatar-files", __name__, description="Avatar image files (no credentials needed).")

# Names are content hashes: a name always means the same bytes, so caches may keep them for good.
CACHE_CONTROL = "public, max-age=31536000, immutable"
ONE_YEAR = 31536000
BINARY = {"type": "string", "format": "binary"}


def body_first_then_the_upload_slot(view):
    """Read the whole body first, holding nothing; then take the process's upload slot for parsing,
    checking, decoding and re-encoding (the service gives it back before storing: see
    services.avatars.upload_slot). A client sending its body slowly holds its own thread only."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if request.is_json:  # what the body parser will read (anything else got 415 already)
            request_body(request)  # at most the request body limit (413 beyond), then cached for the parser
        with avatars.upload_slot():
            return view(*args, **kwargs)

    return wrapper


@blp.route("/workspaces/<string:fullname>/avatar", parameters=[FULLNAME_IN_PATH])
class WorkspaceAvatar(MethodView):
    @blp.doc(operationId="uploadAvatar")
    @blp.authenticated
    @blp.errors(400, 403, 404, 413, 415, 507)
    @body_first_then_the_upload_slot
    @blp.arguments(AvatarUploadSchema())
    @blp.response(200, AvatarUploadResultSchema, description="Stored; `workspace.meta.avatar` equals `url`.")
    def post(self, payload, fullname):
        """Upload the workspace's avatar (owners, admins, instance admins).

        The image is checked, re-encoded without metadata and stored under a
        server-chosen, content-addressed name; the previous avatar file goes.
        """
        # request.url_root keeps a mount prefix (SCRIPT_NAME); the service prefers PUBLIC_URL.
        return avatars.upload_avatar(
            current_account(), fullname, payload["contentType"], payload["data"], request.url_root
        )


FILE_HEADERS = {
    "ETag": {"description": "The file's content hash, quoted.", "schema": {"type": "string"}},
    "Cache-Control": {"description": CACHE_CONTROL, "schema": {"type": "string"}},
}
PARTIAL = {
    "description": "The byte range asked for with Range.",
    "content": {content_type: {"schema": BINARY} for content_type in avatars.CONTENT_TYPES},
    "headers": {"Content-Range": {"description": "bytes first-last/size", "schema": {"type": "string"}}},
}


CONDITIONAL_HEADERS = [
    {"in": "header", "name": "If-None-Match", "required": False, "schema": {"type": "string"},
     "description": "The ETag of a copy the client holds: 304 when it is still this file."},
    {"in": "header", "name": "Range", "required": False, "schema": {"type": "string"},
     "description": "One byte range (`bytes=first-last`): 206 with that part, 416 when it lies outside the file."},
]


def _document_image_content(func):
    """Document the 200 answer once per image content type."""
    first, *others = avatars.CONTENT_TYPES
    # The document lists the outermost decorator first: apply in reverse.
    for content_type in reversed(others):
        func = files_blp.alt_response(200, schema=BINARY, content_type=content_type, description="The image.")(func)
    return files_blp.response(200, BINARY, content_type=first, description="The image.", headers=FILE_HEADERS)(func)


@files_blp.route("/avatars/<string:fileName>")
class AvatarFile(MethodView):
    @files_blp.doc(operationId="getAvatarFile")
    @files_blp.public
    @files_blp.errors(404, 416)
    @files_blp.alt_response(304, description="Not modified (If-None-Match matched the ETag).")
    @files_blp.doc(responses={206: PARTIAL}, parameters=CONDITIONAL_HEADERS)
    @_document_image_content
    def get(self, fileName):
        """An avatar image, with long-lived caching (names are content hashes)."""
        found = avatars.find_avatar_file(fileName)
        response = send_from_directory(
            found.folder,
            found.file_name,
            mimetype=found.content_type,
            etag=found.etag,
            conditional=True,
            max_age=ONE_YEAR,
        )
        response.headers["Cache-Control"] = CACHE_CONTROL
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

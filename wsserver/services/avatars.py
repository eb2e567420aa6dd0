"""Avatar files under <instance>/avatars/: checking, re-encoding, storing, discarding.

An upload is decoded (strict base64), checked (size, declared type, a real
image of that type within the pixel limits), re-encoded with Pillow so no
metadata survives, and stored under a content-addressed name
(`<sha256 of the stored bytes>.<extension>`). Files are immutable: a new
avatar is a new file, and a file is removed only when no workspace refers to
it any more.

File moves and removals happen inside a database write transaction (SQLite's
write lock, taken up front), so an upload that links a file and a clean-up
that removes the same file never interleave, across processes too.
"""
import binascii
import contextlib
import functools
import hashlib
import io
import logging
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass

from flask import current_app
from PIL import Image, ImageOps, ImageSequence

from ..db import database
from ..errors import Invalid, NotFound, TooLarge
from ..ids import now_iso
from ..models import Workspace
from ..permissions import Action
from . import workspaces

log = logging.getLogger("wsserver")

AVATAR_FOLDER = "avatars"

# Uploads are written to a temporary file with this prefix, then renamed into place.
TEMPORARY_PREFIX = ".upload-"


@dataclass(frozen=True)
class ImageType:
    content_type: str
    extension: str
    # Pillow format names accepted for this type (MPO: a JPEG with extra frames, as cameras write).
    formats: tuple


IMAGE_TYPES = {
    image_type.content_type: image_type
    for image_type in (
        ImageType("image/png", "png", ("PNG",)),
        ImageType("image/jpeg", "jpg", ("JPEG", "MPO")),
        ImageType("image/gif", "gif", ("GIF",)),
        ImageType("image/webp", "webp", ("WEBP",)),
    )
}
CONTENT_TYPES = tuple(IMAGE_TYPES)
TYPES_BY_EXTENSION = {image_type.extension: image_type for image_type in IMAGE_TYPES.values()}

# The only names ever stored and served: a SHA-256 in lowercase hex and one of our extensions.
FILE_NAME_PATTERN = re.compile(r"[0-9a-f]{64}\.(?:png|jpg|gif|webp)")

DATA_URL_PREFIX = re.compile(r"data:([A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)?;base64,", re.IGNORECASE)

# Animations: at most this many frames, and all frames together at most as many
# pixels as the largest still image (AVATAR_MAX_SIDE squared): bounds memory and CPU.
MAX_FRAMES = 500
JPEG_QUALITY = 90
WEBP_QUALITY = 80  # libwebp's own default

# Per-image information kept when re-encoding; everything else (EXIF, XMP, ICC
# profiles, comments, text chunks, dpi...) is dropped.
KEPT_INFO = ("transparency",)


@dataclass(frozen=True)
class StoredAvatar:
    """An avatar file as the upload answer describes it."""

    url: str
    file_name: str
    extension: str
    size: int
    workspace: "workspaces.WorkspaceAccess"


@dataclass(frozen=True)
class AvatarFile:
    """A stored avatar file to serve."""

    folder: str
    file_name: str
    content_type: str
    etag: str


# Uploads in progress in this process, at most AVATAR_UPLOADS (see upload_slot).
_upload_slots = None
_upload_slots_lock = threading.Lock()


@contextlib.contextmanager
def upload_slot():
    """Hold one of the process's AVATAR_UPLOADS upload slots while an upload is read and handled.

    Each upload holds several copies of up to AVATAR_MAX_BYTES (the JSON body,
    the base64 text, the decoded bytes, the decoded pixels, the re-encoded
    file); letting every server thread do that at once would grow the process
    by tens of MiB under a burst of uploads. Waiting uploads have not had their
    body read yet. On the way out the C allocator is asked to hand the freed
    buffers back to the operating system.
    """
    global _upload_slots
    with _upload_slots_lock:
        if _upload_slots is None:
            _upload_slots = threading.BoundedSemaphore(current_app.config["AVATAR_UPLOADS"])
    with _upload_slots:
        try:
            yield
        finally:
            _return_freed_memory()


def _return_freed_memory():
    """glibc keeps freed memory for reuse; malloc_trim gives it back. A no-op elsewhere."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None


def avatar_folder():
    return os.path.join(current_app.config["INSTANCE_PATH"], AVATAR_FOLDER)


def is_avatar_file_name(name):
    return isinstance(name, str) and FILE_NAME_PATTERN.fullmatch(name) is not None


def stored_file_of_url(url):
    """The stored file an avatar URL of this server names, if it exists; else None.

    A workspace whose meta.avatar links another workspace's upload then counts as
    using that file, so the file is not removed from under it. Call inside the
    write transaction (discard_files checks references under the same lock).
    """
    if not url or "/avatars/" not in url:
        return None
    name = url.rsplit("/", 1)[-1]
    if is_avatar_file_name(name) and os.path.isfile(os.path.join(avatar_folder(), name)):
        return name
    return None


# --- uploading ----------------------------------------------------------------------------------


def upload_avatar(account, fullname, content_type, data, request_base_url):
    """Check, re-encode and store an avatar; point the workspace's meta.avatar at it.

    `request_base_url` is the base URL the request came in on (used when
    PUBLIC_URL is not configured). Returns a StoredAvatar.
    """
    # Who may do this comes first: a non-member learns nothing, not even that the data is bad.
    workspaces.load_for(account, fullname, Action.UPLOAD_AVATAR)
    image_type = IMAGE_TYPES.get(content_type)
    if image_type is None:
        raise Invalid(
            "The content type is not an allowed image type.",
            {"contentType": [f"Must be one of: {', '.join(CONTENT_TYPES)}."]},
        )
    raw = decode_data(data, content_type)
    limit = current_app.config["AVATAR_MAX_BYTES"]
    if len(raw) > limit:
        raise TooLarge(
            f"The avatar is {len(raw)} bytes; at most {limit} bytes are allowed.",
            {"data": [f"At most {limit} bytes once decoded."]},
        )
    stored = reencode(raw, image_type, current_app.config["AVATAR_MAX_SIDE"])
    file_name = f"{hashlib.sha256(stored).hexdigest()}.{image_type.extension}"
    url = f"{public_base_url(request_base_url)}/{AVATAR_FOLDER}/{file_name}"
    access, previous = _store(account, fullname, file_name, stored, url)
    if previous and previous != file_name:
        discard_files([previous])
    return StoredAvatar(url, file_name, image_type.extension, len(stored), access)


def public_base_url(request_base_url):
    """PUBLIC_URL when configured, else the base URL of the request; never a trailing slash."""
    return (current_app.config.get("PUBLIC_URL") or request_base_url).rstrip("/")


def decode_data(data, content_type):
    """Strict standard base64 (padding required, no whitespace), a `data:<type>;base64,` prefix allowed."""
    prefix = DATA_URL_PREFIX.match(data)
    if prefix:
        declared = prefix.group(1)
        if declared and declared.lower() != content_type:
            raise Invalid(
                "The data: prefix declares another type than contentType.",
                {"data": [f"The data: prefix says {declared}, contentType says {content_type}."]},
            )
        data = data[prefix.end():]
    try:
        # straight from the text (no ASCII copy of it); non-ASCII text raises ValueError
        raw = binascii.a2b_base64(data, strict_mode=True)
    except ValueError:  # binascii.Error is one
        raise Invalid(
            "The avatar data is not valid base64.",
            {"data": ["Must be standard base64 (A-Z, a-z, 0-9, +, /, padded with =, no whitespace)."]},
        ) from None
    if not raw:
        raise Invalid("The avatar data is empty.", {"data": ["Must not be empty."]})
    return raw


def _not_an_image(image_type):
    message = f"The data is not a valid {image_type.content_type} image."
    return Invalid(message, {"data": [message]})


def reencode(raw, image_type, max_side):
    """The image in `raw`, checked and saved again by Pillow without metadata (bytes).

    Raises Invalid when `raw` is not a complete image of `image_type`, is larger
    than `max_side` pixels on a side, or is an animation over the frame budget.
    The pixel dimensions are checked from the header, before any pixel is decoded.
    """
    _check_header(raw, image_type, max_side)
    out = io.BytesIO()
    try:
        with _open(raw, image_type) as image:
            if image_type.extension == "jpg":
                _save_jpeg(image, out)
            elif image_type.extension == "png":
                _save_png(image, out)
            elif image_type.extension == "gif":
                _save_gif(image, out)
            else:
                _save_webp(image, out, lossless=_webp_is_lossless(raw))
    except Invalid:
        raise
    except Exception as exc:  # any failure to decode untrusted bytes means "not a valid image"
        log.info("avatar rejected: %s: %s", type(exc).__name__, exc)
        raise _not_an_image(image_type) from None
    return out.getvalue()


def _open(raw, image_type):
    image = Image.open(io.BytesIO(raw), formats=list(image_type.formats))
    if image.format not in image_type.formats:
        raise _not_an_image(image_type)
    return image


def _check_header(raw, image_type, max_side):
    """Dimensions and frame count from the header, then Pillow's integrity check (no pixels decoded)."""
    try:
        image = _open(raw, image_type)
    except Image.DecompressionBombError:
        raise Invalid(
            "The image declares too many pixels.",
            {"data": [f"At most {max_side}x{max_side} pixels."]},
        ) from None
    except Invalid:
        raise
    except Exception:  # not recognised as this format at all
        raise _not_an_image(image_type) from None
    with image:
        width, height = image.size
        if not (1 <= width <= max_side and 1 <= height <= max_side):
            raise Invalid(
                f"The image is {width}x{height} pixels; at most {max_side}x{max_side} are allowed.",
                {"data": [f"At most {max_side} pixels wide and {max_side} pixels high."]},
            )
        try:
            frames = _frame_count(image, image_type)
        except Exception:
            raise _not_an_image(image_type) from None
        if frames > MAX_FRAMES or frames * width * height > max_side * max_side:
            raise Invalid(
                "The animation is too large.",
                {"data": [f"At most {MAX_FRAMES} frames and {max_side * max_side} pixels over all frames."]},
            )
        try:
            image.verify()
        except Exception:
            raise _not_an_image(image_type) from None


def _frame_count(image, image_type):
    if image_type.extension == "jpg":
        return 1  # the extra frames of an MPO are dropped
    return getattr(image, "n_frames", 1)


def _kept_info(image):
    return {key: image.info[key] for key in KEPT_INFO if key in image.info}


def _clean(frame):
    """A copy of `frame` with no metadata but what drawing it needs."""
    clean = frame.copy()
    clean.info = _kept_info(frame)
    return clean


def _upright(image):
    """A clean copy of a still image, turned as its EXIF orientation says (the tag itself goes)."""
    image.load()
    try:
        turned = ImageOps.exif_transpose(image)  # a new image, turned or not
    except Exception:  # a broken EXIF block: keep the pixels as they are
        turned = image.copy()
    turned.info = _kept_info(image)
    return turned


def _orientation(image):
    try:
        return image.getexif().get(0x0112, 1)  # EXIF Orientation
    except Exception:
        return 1


def _save_jpeg(image, out):
    image.load()
    if image.format == "JPEG" and image.mode in ("L", "RGB") and _orientation(image) in (1, None):
        # Same quantisation tables and subsampling as the upload: no generation loss, no growth.
        image.info = {}
        image.save(out, "JPEG", quality="keep", subsampling="keep")
        return
    still = _upright(image)
    if still.mode not in ("L", "RGB"):
        still = still.convert("RGB")
    still.save(out, "JPEG", quality=JPEG_QUALITY)


def _animation(image, mode=None):
    """Clean copies of every frame (optionally converted to `mode`), with their durations in ms."""
    frames, durations = [], []
    for frame in ImageSequence.Iterator(image):
        clean = _clean(frame)
        if mode and clean.mode != mode:
            clean = clean.convert(mode)
        frames.append(clean)
        durations.append(int(frame.info.get("duration") or 0))
    return frames, durations


def _loop(image):
    loop = image.info.get("loop")
    return {} if loop is None else {"loop": int(loop)}


def _save_png(image, out):
    if getattr(image, "n_frames", 1) > 1:  # APNG
        loop = _loop(image)
        frames, durations = _animation(image, "RGBA")
        frames[0].save(out, "PNG", save_all=True, append_images=frames[1:], duration=durations, **loop)
        return
    _upright(image).save(out, "PNG")


def _save_gif(image, out):
    if getattr(image, "n_frames", 1) > 1:
        loop = _loop(image)
        frames, durations = _animation(image)
        frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=durations, **loop)
        return
    image.load()
    _clean(image).save(out, "GIF")


def _save_webp(image, out, lossless):
    options = {"lossless": True} if lossless else {"quality": WEBP_QUALITY}
    if getattr(image, "n_frames", 1) > 1:
        loop = _loop(image)
        frames, durations = _animation(image)
        frames[0].save(
            out, "WEBP", save_all=True, append_images=frames[1:], duration=durations, method=4, **loop, **options
        )
        return
    _upright(image).save(out, "WEBP", method=4, **options)


def _webp_is_lossless(raw):
    """Whether a WebP file holds lossless (VP8L) image data, at the top level or in animation frames."""

    def chunks(start, end):
        while start + 8 <= end:
            fourcc = raw[start:start + 4]
            (length,) = struct.unpack_from("<I", raw, start + 4)
            yield fourcc, start + 8, length
            start += 8 + length + (length & 1)

    try:
        for fourcc, body, length in chunks(12, len(raw)):
            if fourcc == b"VP8L":
                return True
            if fourcc == b"ANMF":  # 16 bytes of frame header, then the frame's own chunks
                if any(inner == b"VP8L" for inner, _, _ in chunks(body + 16, body + length)):
                    return True
    except struct.error:
        pass
    return False


# --- storing --------------------------------------------------------------------------------------


def _store(account, fullname, file_name, content, url):
    """Write the file, link it and update the workspace atomically; return (access, previous file name)."""
    folder = avatar_folder()
    temporary = _write_temporary(folder, content)
    placed = False
    try:
        with database.atomic():
            # Again under the write lock: the workspace may have been renamed, deleted or the caller demoted.
            workspace, actor = workspaces.load_for(account, fullname, Action.UPLOAD_AVATAR)
            previous = workspace.avatar_file
            os.replace(temporary, os.path.join(folder, file_name))
            placed = True
            _sync_folder(folder)
            changes = {"avatar": url, "avatar_file": file_name, "updated_at": now_iso()}
            Workspace.update(**changes).where(Workspace.id == workspace.id).execute()
            for field, value in changes.items():
                setattr(workspace, field, value)
    except BaseException:
        if placed:
            discard_files([file_name])  # rolled back: gone unless another workspace uses the same bytes
        else:
            remove_quietly(temporary)
        raise
    return workspaces.WorkspaceAccess(workspace, actor), previous


def _write_temporary(folder, content):
    descriptor, path = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, dir=folder)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(path, 0o644)  # readable by a front web server serving /avatars directly
    except BaseException:
        remove_quietly(path)
        raise
    return path


def _sync_folder(folder):
    """Make the rename durable before the database says the file is there."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_quietly(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def discard_files(names):
    """Remove avatar files that nothing references any more (after the commit that dropped them).

    A name still in some workspace's avatar_file is kept: identical uploads of
    two workspaces share one content-addressed file. Best effort: the commit
    that dropped the reference has happened, so a failure here is logged and
    leaves an unreferenced file behind, never an error for the caller.
    """
    names = {name for name in names if name and not _unsafe_name(name)}
    if not names:
        return
    folder = avatar_folder()
    try:
        # Under the write lock, so an upload cannot link one of these files between the check and the removal.
        with database.atomic():
            referenced = {
                name
                for (name,) in Workspace.select(Workspace.avatar_file)
                .where(Workspace.avatar_file.in_(sorted(names)))
                .tuples()
            }
            for name in sorted(names - referenced):
                remove_quietly(os.path.join(folder, name))
    except Exception:
        log.warning("could not remove avatar files %s", sorted(names), exc_info=True)


def _unsafe_name(name):
    return os.sep in name or "/" in name or "\\" in name or "\0" in name or name.startswith(".")


def clean_temporary_files():
    """Remove half-written uploads left by a crash (run at start-up, before serving)."""
    folder = avatar_folder()
    for name in os.listdir(folder):
        if name.startswith(TEMPORARY_PREFIX):
            try:
                os.remove(os.path.join(folder, name))
            except FileNotFoundError:
                pass


def remove_unreferenced_files():
    """Remove stored avatars no workspace refers to (left by a crash between the file move
    and the commit, or between a commit and the clean-up). Run at start-up."""
    folder = avatar_folder()
    with database.atomic():  # the write lock: no upload can link a file meanwhile
        stored = {name for name in os.listdir(folder) if is_avatar_file_name(name)}
        if not stored:
            return
        referenced = {
            name for (name,) in Workspace.select(Workspace.avatar_file).where(Workspace.avatar_file.is_null(False)).tuples()
        }
        for name in sorted(stored - referenced):
            remove_quietly(os.path.join(folder, name))


# --- serving --------------------------------------------------------------------------------------


def find_avatar_file(file_name):
    """The stored avatar file named `file_name`; NotFound for anything else (any other name included)."""
    if not is_avatar_file_name(file_name):
        raise NotFound("No such avatar.")
    folder = avatar_folder()
    if not os.path.isfile(os.path.join(folder, file_name)):
        raise NotFound("No such avatar.")
    stem, extension = file_name.split(".")
    return AvatarFile(folder, file_name, TYPES_BY_EXTENSION[extension].content_type, stem)

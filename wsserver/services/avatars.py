"""Avatars: the rules of uploading one (who may, which bytes) and of serving a stored file.

An upload is decoded (strict base64), checked and re-encoded by
wsserver.images (size, declared type, a real image of that type within the
pixel limits, every frame measured before any pixel is decoded; no metadata
survives), and stored under a content-addressed name
(`<sha256 of the stored bytes>.<extension>`). Files are immutable: a new
avatar is a new file, and a file is removed only when no workspace refers to
it any more.

The file is written and linked by the avatar file store (storage/avatar_files.py)
inside the write transaction that points the workspace at it, holding the
name's lock, so an upload that links a file and a clean-up that removes the
same file never interleave, across processes and nodes too.
"""
import base64
import collections
import contextlib
import functools
import hashlib
import logging
import os
import re
import threading
from dataclasses import dataclass

import pybase64
from flask import current_app

from ..storage.db import database
from ..errors import Invalid, NotFound, TooLarge
from ..ids import now_iso
from ..storage.models import Workspace
from ..permissions import Action
from . import quotas, workspaces
from ..storage.avatar_files import (
    AVATAR_FOLDER, avatar_folder, discard_files, link, remove_quietly, stored_file_exists, write_temporary,
)
from ..images import CONTENT_TYPES, IMAGE_TYPES, TYPES_BY_EXTENSION, reencode

log = logging.getLogger("wsserver")

DATA_URL_PREFIX = re.compile(r"data:([A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+)?;base64,", re.IGNORECASE)


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


# Uploads being parsed, decoded and re-encoded in this process, at most AVATAR_UPLOADS (see upload_slot).
_upload_slots = None
_upload_slots_lock = threading.Lock()
_slot_holder = threading.local()


def _slots():
    global _upload_slots
    with _upload_slots_lock:
        if _upload_slots is None:
            _upload_slots = threading.BoundedSemaphore(current_app.config["AVATAR_UPLOADS"])
        return _upload_slots


@contextlib.contextmanager
def upload_slot():
    """Hold one of the process's AVATAR_UPLOADS slots while an upload is parsed, decoded and re-encoded.

    Decoding is where an upload takes memory: the parsed base64 text and the
    decoded bytes (up to AVATAR_MAX_BYTES each, ~1.4 MiB and 1 MiB at the
    default), the pixels (up to 4 bytes x AVATAR_MAX_SIDE² over all frames: 64
    MiB at the default 4096, plus Pillow's working copies) and the re-encoded
    file. Letting every server thread do that at once would grow the process by
    hundreds of MiB under a burst of uploads; the slot lets AVATAR_UPLOADS do it
    at a time.

    The slot is never held while a body is being received: the API reads the
    whole body first (bounded by the request body limit, the base64 of
    AVATAR_MAX_BYTES plus 64 KiB), then takes the slot for parsing the JSON; a
    client sending its body slowly holds its own server thread, never the slot.
    Leaving any `upload_slot()` block gives the thread's slot back, and a block
    entered while the thread holds one uses that one: so upload_avatar's block
    around decoding and re-encoding ends the slot before the file is written
    and the database waited for. A process thus holds at most AVATAR_UPLOADS
    decoding working sets, plus one received body (up to the request body
    limit, ~1.4 MiB at the default; about twice that for a moment while it is
    being read) for each server thread waiting for the slot, plus, for each
    upload being stored, its base64 text and its re-encoded file. On the way
    out the C allocator is asked to hand the freed buffers back to the
    operating system.
    """
    if not getattr(_slot_holder, "holds", False):
        _slots().acquire()
        _slot_holder.holds = True
    try:
        yield
    finally:
        if _slot_holder.holds:
            _slot_holder.holds = False
            try:
                _return_freed_memory()
            finally:
                _slots().release()


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


# --- uploading ----------------------------------------------------------------------------------


def upload_avatar(account, fullname, content_type, data, request_base_url):
    """Check, re-encode and store an avatar sent as base64 text; point the workspace's meta.avatar at it.

    `request_base_url` is the base URL the request came in on (used when
    PUBLIC_URL is not configured). Returns a StoredAvatar.
    """
    return _upload(account, fullname, content_type, lambda: decode_data(data, content_type), request_base_url)


def upload_avatar_file(account, fullname, content_type, read, request_base_url):
    """The same as upload_avatar for a file sent as bytes (the web page's file picker): `read()`
    returns them. The same checks, limits and errors; only the base64 decoding is skipped."""

    def raw_bytes():
        raw = read()
        if not raw:
            raise Invalid("The file is empty.", {"data": ["Must not be empty."]})
        return raw

    return _upload(account, fullname, content_type, raw_bytes, request_base_url)


def _upload(account, fullname, content_type, raw_bytes, request_base_url):
    # Who may do this comes first: a non-member learns nothing, not even that the data is bad.
    workspaces.load_for(account, fullname, Action.UPLOAD_AVATAR)
    image_type = IMAGE_TYPES.get(content_type)
    if image_type is None:
        raise Invalid(
            "The content type is not an allowed image type.",
            {"contentType": [f"Must be one of: {', '.join(CONTENT_TYPES)}."]},
        )
    limit = current_app.config["AVATAR_MAX_BYTES"]
    with upload_slot():  # (already taken by the API once the body was read); given back before storing
        raw = raw_bytes()
        if len(raw) > limit:
            raise TooLarge(
                f"The avatar is {len(raw)} bytes; at most {limit} bytes are allowed.",
                {"data": [f"At most {limit} bytes once decoded."]},
            )
        stored = reencode(raw, image_type, current_app.config["AVATAR_MAX_SIDE"])
        del raw
    file_name = f"{hashlib.sha256(stored).hexdigest()}.{image_type.extension}"
    url = f"{public_base_url(request_base_url)}/{AVATAR_FOLDER}/{file_name}"
    access, previous = _store(account, fullname, file_name, stored, url)
    if previous and previous != file_name:
        discard_files([previous])
    return StoredAvatar(url, file_name, image_type.extension, len(stored), access)


def public_base_url(request_base_url):
    """PUBLIC_URL when configured, else the base URL of the request; never a trailing slash."""
    return (current_app.config.get("PUBLIC_URL") or request_base_url).rstrip("/")


def _strict_b64decode(text):
    """Whole-quanta base64 text (checked by the caller) to bytes; ValueError for anything outside the
    standard alphabet or misplaced padding. pybase64's validate mode and binascii's strict mode refuse
    and accept the same such text (tests/test_avatar_encoding.py compares them)."""
    return pybase64.b64decode(text, validate=True)  # SIMD: 0.1 ms for 1 MiB, binascii 3 ms (bench/avatar_cpu.py)


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
        # whole quanta, padding only in the last two places (binascii's strict mode lets "QUJD=" through)
        if len(data) % 4 or data.find("=", 0, len(data) - 2) != -1:
            raise ValueError("not padded base64")
        # straight from the text (no ASCII copy of it); non-ASCII text raises ValueError
        raw = _strict_b64decode(data)
    except ValueError:  # binascii.Error is one
        raise Invalid(
            "The avatar data is not valid base64.",
            {"data": ["Must be standard base64 (A-Z, a-z, 0-9, +, /, padded with =, no whitespace)."]},
        ) from None
    if not raw:
        raise Invalid("The avatar data is empty.", {"data": ["Must not be empty."]})
    return raw


# --- storing --------------------------------------------------------------------------------------


def _store(account, fullname, file_name, content, url):
    """Write the file, link it and update the workspace atomically; return (access, previous file name)."""
    temporary = write_temporary(content)
    linking = False
    try:
        with database.atomic():
            # Again, locked: the workspace may have been deleted or the caller demoted meanwhile.
            workspace, actor = workspaces.load_for(account, fullname, Action.UPLOAD_AVATAR, lock=True)
            previous = workspace.avatar_file
            if file_name != previous:
                quotas.check_avatar_bytes(workspace.created_by, workspace.id, file_name, len(content))
            linking = True
            link(temporary, file_name)
            changes = {"avatar": url, "avatar_file": file_name, "updated_at": now_iso(), "updated_by": account.id}
            Workspace.update(**changes).where(Workspace.id == workspace.id).execute()
            for field, value in changes.items():
                setattr(workspace, field, value)
    except BaseException:
        remove_quietly(temporary)  # still there unless it was linked
        if linking:
            discard_files([file_name])  # rolled back: gone unless another workspace uses the same bytes
        raise
    return workspaces.WorkspaceAccess(workspace, actor), previous


# --- serving --------------------------------------------------------------------------------------


def find_avatar_file(file_name):
    """The stored avatar file named `file_name`; NotFound for anything else (any other name included)."""
    if not stored_file_exists(file_name):
        raise NotFound("No such avatar.")
    stem, extension = file_name.split(".")
    return AvatarFile(avatar_folder(), file_name, TYPES_BY_EXTENSION[extension].content_type, stem)


# base64 of at most this many bytes has fewer than 1,000,000 characters ("b64 encoded, <1MB")
BASE64_IMAGE_MAX_BYTES = 749_997


def avatar_base64(workspace, max_bytes=BASE64_IMAGE_MAX_BYTES + 1):
    """The workspace's uploaded avatar file, base64-encoded, when it has fewer than `max_bytes` bytes
    (so the text stays under 1 MB); else None (no avatar, an external URL, a file too large or gone).
    For dialects that carry the image itself (the engineering flavor's `image`).

    Files are content-addressed and immutable, so the text is encoded once per file and kept in
    this process's Base64Cache: a page of workspaces sharing one avatar holds one string, not one
    copy per row."""
    name = workspace.avatar_file
    if not stored_file_exists(name):
        return None
    return _base64_cache.get(avatar_folder(), name, max_bytes)


class Base64Cache:
    """The base64 text of recently served avatar files, by folder and file name, at most `capacity`
    characters in all (least recently used first out). A file larger than `max_bytes` is remembered
    as None."""

    def __init__(self, capacity):
        self.capacity = capacity
        self._texts = collections.OrderedDict()  # (folder, file name, max_bytes) -> text or None
        self._size = 0
        self._lock = threading.Lock()

    def get(self, folder, name, max_bytes):
        key = (folder, name, max_bytes)
        with self._lock:
            if key in self._texts:
                self._texts.move_to_end(key)
                return self._texts[key]
        text = _encoded_file(os.path.join(folder, name), max_bytes)
        if text is None and not os.path.isfile(os.path.join(folder, name)):
            return None  # gone meanwhile: nothing to remember
        with self._lock:
            if key not in self._texts:
                self._texts[key] = text
                self._size += len(text or "")
                while self._size > self.capacity and len(self._texts) > 1:
                    _, dropped = self._texts.popitem(last=False)
                    self._size -= len(dropped or "")
        return text

    def clear(self):
        with self._lock:
            self._texts.clear()
            self._size = 0


def _encoded_file(path, max_bytes):
    try:
        with open(path, "rb") as handle:
            content = handle.read(max_bytes)
    except OSError:
        return None
    return base64.b64encode(content).decode("ascii") if len(content) < max_bytes else None


# 16 MiB of text: a few dozen typical avatars, or 16 of the largest the engineering flavor carries
BASE64_CACHE_CHARACTERS = 16 * 1024 * 1024
_base64_cache = Base64Cache(BASE64_CACHE_CHARACTERS)

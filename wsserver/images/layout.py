"""The pixel budget read from the file's own block structure, without Pillow (the first of two checks).

`_check_layout(raw, image_type, max_side)` walks the GIF logical screen and
every frame descriptor (a GIF frame may reach past the screen, and decoders then
grow the canvas: the grown canvas is counted), the PNG IHDR and every APNG
fcTL, the WebP canvas and every ANMF frame. Each side of the canvas must be at
most `max_side`, an APNG or WebP frame must lie inside its canvas, and all
frames together (each frame is decoded onto a full canvas) at most `max_side`²
pixels and MAX_FRAMES frames. JPEG has no reader here: its one frame is checked
from Pillow's header parse. Only lengths and sizes are read: no memory beyond
the bytes given, O(file size) time.
"""
import struct
from dataclasses import dataclass

from ..errors import Invalid
from .refusals import _check_budget, _frame_outside, _not_an_image


@dataclass(frozen=True)
class Layout:
    """What decoding a file would allocate, read from its structure: canvas size and frame count."""

    width: int
    height: int
    frames: int


def _check_layout(raw, image_type, max_side):
    reader = _LAYOUT_READERS.get(image_type.extension)
    if reader is None:  # JPEG: one frame (an MPO's others are dropped), its size checked from the header
        return
    try:
        layout = reader(raw, image_type)
    except Invalid:
        raise
    except Exception:  # (struct.error, IndexError) cut inside a header: not this type at all
        raise _not_an_image(image_type) from None
    if layout is None:
        raise _not_an_image(image_type)
    _check_budget(layout.width, layout.height, max(layout.frames, 1), max_side)


def _gif_layout(raw, image_type):
    """The canvas a GIF decoder ends up with, and the frame count, from the block structure alone.

    Walks the blocks as Pillow's GifImagePlugin does (a stray byte between blocks
    is skipped; the trailer or the end of the data ends the file) and grows the
    canvas as Pillow does when a frame reaches past the logical screen. Only
    sub-block lengths are read, so this costs no memory and O(file size) time.
    """
    if len(raw) < 13 or raw[:6] not in (b"GIF87a", b"GIF89a"):
        return None
    width, height = struct.unpack_from("<HH", raw, 6)
    position = 13 + _color_table_size(raw[10])
    frames, end = 0, len(raw)
    while position < end:
        marker = raw[position]
        position += 1
        if marker == 0x3B:  # trailer
            break
        if marker == 0x21:  # extension: a label, then sub-blocks
            position = _skip_sub_blocks(raw, position + 1)
        elif marker == 0x2C:  # image descriptor: left, top, width, height, flags
            if position + 9 > end:
                break
            left, top, frame_width, frame_height, flags = struct.unpack_from("<HHHHB", raw, position)
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            frames += 1
            # local colour table, the LZW minimum code size, then the image data sub-blocks
            position = _skip_sub_blocks(raw, position + 9 + _color_table_size(flags) + 1)
    return Layout(width, height, frames)


def _color_table_size(flags):
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def _skip_sub_blocks(raw, position):
    """The position after a run of GIF data sub-blocks (length byte, data; a zero length ends it)."""
    end = len(raw)
    while position < end:
        length = raw[position]
        position += 1 + length
        if length == 0:
            break
    return position


def _png_layout(raw, image_type):
    """IHDR's size; with APNG fcTL chunks, each frame must lie inside it; frames = fcTL chunks (or 1)."""
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    width = height = None
    frames, position, end = 0, 8, len(raw)
    while position + 8 <= end:
        length, kind = struct.unpack_from(">I4s", raw, position)
        body = position + 8
        if kind == b"IHDR":
            width, height = struct.unpack_from(">II", raw, body)
        elif kind == b"fcTL" and width is not None:
            frame_width, frame_height, left, top = struct.unpack_from(">IIII", raw, body + 4)
            if left + frame_width > width or top + frame_height > height:
                raise _frame_outside(image_type)
            frames += 1
        elif kind == b"IEND":
            break
        position = body + length + 4  # data, then the CRC
    if width is None:
        return None
    return Layout(width, height, max(frames, 1))


def _webp_layout(raw, image_type):
    """The canvas (VP8X, or the one VP8/VP8L image); each ANMF frame must lie inside it."""
    if len(raw) < 16 or raw[:4] != b"RIFF" or raw[8:12] != b"WEBP":
        return None
    size = None
    frames = 0
    for fourcc, body, length in _riff_chunks(raw, 12, len(raw)):
        if fourcc == b"VP8X" and size is None:
            size = _u24(raw, body + 4) + 1, _u24(raw, body + 7) + 1
        elif fourcc == b"VP8 " and size is None and raw[body + 3:body + 6] == b"\x9d\x01\x2a":
            width, height = struct.unpack_from("<HH", raw, body + 6)
            size = width & 0x3FFF, height & 0x3FFF
        elif fourcc == b"VP8L" and size is None and raw[body] == 0x2F:
            (bits,) = struct.unpack_from("<I", raw, body + 1)
            size = (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        elif fourcc == b"ANMF" and size is not None:
            left, top = 2 * _u24(raw, body), 2 * _u24(raw, body + 3)
            frame_width, frame_height = _u24(raw, body + 6) + 1, _u24(raw, body + 9) + 1
            if left + frame_width > size[0] or top + frame_height > size[1]:
                raise _frame_outside(image_type)
            frames += 1
    if size is None:
        return None
    return Layout(size[0], size[1], max(frames, 1))


def _u24(raw, position):
    return int.from_bytes(raw[position:position + 3], "little")


def _riff_chunks(raw, start, end):
    """(fourcc, body position, body length) of each RIFF chunk between start and end."""
    while start + 8 <= end:
        fourcc = raw[start:start + 4]
        (length,) = struct.unpack_from("<I", raw, start + 4)
        yield fourcc, start + 8, length
        start += 8 + length + (length & 1)


_LAYOUT_READERS = {"gif": _gif_layout, "png": _png_layout, "webp": _webp_layout}

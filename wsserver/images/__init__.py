"""Avatar images: the allowed types, the size checks made before any pixel is decoded, re-encoding.

`reencode(raw, image_type, max_side)` is the whole job: it refuses (Invalid,
naming `data`) anything that is not a complete image of the declared type
within the pixel budget, and returns the image saved again by Pillow without
metadata.

The pixel budget is checked twice before Pillow decodes a pixel:

1. From the file's own block structure, read here without Pillow: the GIF
   logical screen and every frame descriptor (a GIF frame may reach past the
   screen, and decoders then grow the canvas: we count the grown canvas), the
   PNG IHDR and every APNG fcTL, the WebP canvas and every ANMF frame. Each
   side of the canvas must be at most `max_side`, an APNG or WebP frame must lie
   inside its canvas, and all frames together (each frame is decoded onto a
   full canvas) at most `max_side`² pixels and MAX_FRAMES frames.
2. From Pillow's header parse (dimensions, frame count), with Pillow's own
   decompression-bomb limit (Image.MAX_IMAGE_PIXELS) set to `max_side`², so
   anything Pillow itself would allocate beyond twice that raises instead.

Nothing here touches the database or the file system; services.avatars stores.
"""
import io
import logging
import struct
from dataclasses import dataclass

from PIL import Image, ImageOps, ImageSequence

from ..errors import Invalid

log = logging.getLogger("wsserver")


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

# Animations: at most this many frames, and all frames together at most as many
# pixels as the largest still image (AVATAR_MAX_SIDE squared): bounds memory and CPU.
MAX_FRAMES = 500
JPEG_QUALITY = 90
WEBP_QUALITY = 80  # libwebp's own default

# Per-image information kept when re-encoding; everything else (EXIF, XMP, ICC
# profiles, comments, text chunks, dpi...) is dropped.
KEPT_INFO = ("transparency",)


@dataclass(frozen=True)
class Layout:
    """What decoding a file would allocate, read from its structure: canvas size and frame count."""

    width: int
    height: int
    frames: int


def _not_an_image(image_type):
    message = f"The data is not a valid {image_type.content_type} image."
    return Invalid(message, {"data": [message]})


def _too_big(width, height, max_side):
    return Invalid(
        f"The image is {width}x{height} pixels; at most {max_side}x{max_side} are allowed.",
        {"data": [f"At most {max_side} pixels wide and {max_side} pixels high."]},
    )


def _too_many_pixels(max_side):
    return Invalid(
        "The animation is too large.",
        {"data": [f"At most {MAX_FRAMES} frames and {max_side * max_side} pixels over all frames."]},
    )


def _frame_outside(image_type):
    message = f"The data is not a valid {image_type.content_type} image: a frame lies outside the canvas."
    return Invalid(message, {"data": [message]})


def limit_pillow(max_side):
    """Pillow's own decompression-bomb limit: AVATAR_MAX_SIDE² pixels (it raises beyond twice that)."""
    Image.MAX_IMAGE_PIXELS = max_side * max_side


def reencode(raw, image_type, max_side):
    """The image in `raw`, checked and saved again by Pillow without metadata (bytes).

    Raises Invalid when `raw` is not a complete image of `image_type`, is larger
    than `max_side` pixels on a side, or is an animation over the frame budget.
    The pixel dimensions of every frame are checked before any pixel is decoded.
    """
    limit_pillow(max_side)
    _check_layout(raw, image_type, max_side)
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


def _check_budget(width, height, frames, max_side):
    if not (1 <= width <= max_side and 1 <= height <= max_side):
        raise _too_big(width, height, max_side)
    if frames > MAX_FRAMES or frames * width * height > max_side * max_side:
        raise _too_many_pixels(max_side)


# --- 1. the file's structure, read without Pillow ------------------------------------------------


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


# --- 2. Pillow's header parse ----------------------------------------------------------------------


def _open(raw, image_type):
    image = Image.open(io.BytesIO(raw), formats=list(image_type.formats))
    if image.format not in image_type.formats:
        raise _not_an_image(image_type)
    return image


def _check_header(raw, image_type, max_side):
    """Dimensions and frame count from Pillow's header parse, then its integrity check (no pixels decoded)."""
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
            raise _too_big(width, height, max_side)
        try:
            frames = _frame_count(image, image_type)
        except Exception:
            raise _not_an_image(image_type) from None
        _check_budget(width, height, frames, max_side)
        try:
            image.verify()
        except Exception:
            raise _not_an_image(image_type) from None


def _frame_count(image, image_type):
    if image_type.extension == "jpg":
        return 1  # the extra frames of an MPO are dropped
    return getattr(image, "n_frames", 1)


# --- re-encoding -------------------------------------------------------------------------------------


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
    try:
        for fourcc, body, length in _riff_chunks(raw, 12, len(raw)):
            if fourcc == b"VP8L":
                return True
            if fourcc == b"ANMF":  # 16 bytes of frame header, then the frame's own chunks
                if any(inner == b"VP8L" for inner, _, _ in _riff_chunks(raw, body + 16, body + length)):
                    return True
    except struct.error:
        pass
    return False

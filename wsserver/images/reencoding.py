"""The Pillow part: the second size check (Pillow's header parse), then saving the image again.

`reencode(raw, image_type, max_side)` is the whole job: it refuses (Invalid,
naming `data`) anything that is not a complete image of the declared type
within the pixel budget, and returns the image saved again without metadata
(by Pillow, or for a still PNG the way png.py chooses). Before Pillow decodes a
pixel it checks the budget twice: from the file's structure
(layout._check_layout), then from Pillow's header parse (dimensions, frame
count, its integrity check), with Pillow's own decompression-bomb limit
(Image.MAX_IMAGE_PIXELS) set to `max_side`² by limit_pillow, so anything Pillow
itself would allocate beyond twice that raises instead.
"""
import io
import logging
import struct

from PIL import Image, ImageOps, ImageSequence

from ..errors import Invalid
from .layout import _check_layout, _riff_chunks
from .png import save_still_png
from .refusals import _check_budget, _not_an_image, _too_big
from .types import JPEG_QUALITY, KEPT_INFO, WEBP_QUALITY

log = logging.getLogger("wsserver")


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


# --- Pillow's header parse (the second check) ------------------------------------------------------


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
    """The still image without metadata, turned as its EXIF orientation says (the tag itself goes).

    A turned image is a new one; one that needs no turning is cleaned in place (its info
    replaced), sparing a copy of its pixels: `image` is not used again."""
    image.load()
    kept = _kept_info(image)
    turned = image
    if _orientation(image) not in (1, None):
        try:
            turned = ImageOps.exif_transpose(image)  # a new image
        except Exception:  # a broken EXIF block: keep the pixels as they are
            pass
    turned.info = kept
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
    save_still_png(_upright(image), out)  # Pillow's default, Huffman only, or stored: png.py


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

"""The avatar image types and the plain numbers the checks and re-encoding use (no Pillow here).

IMAGE_TYPES maps each accepted content type to its ImageType (file extension,
Pillow format names); CONTENT_TYPES and TYPES_BY_EXTENSION are the same table
seen by content type and by extension. MAX_FRAMES bounds animations, the
qualities and KEPT_INFO say how images are saved again.
"""
from dataclasses import dataclass


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

"""Avatar images: the allowed types, the size checks made before any pixel is decoded, re-encoding.

`reencode(raw, image_type, max_side)` is the whole job: it refuses (Invalid,
naming `data`) anything that is not a complete image of the declared type
within the pixel budget, and returns the image saved again from its decoded
pixels without metadata (by Pillow; a still PNG whose pixels do not compress is
written as stored deflate blocks by png.py, pixel for pixel the same).

The pixel budget is checked twice before Pillow decodes a pixel:

1. From the file's own block structure, read without Pillow (layout.py): the
   GIF logical screen and every frame descriptor (a GIF frame may reach past the
   screen, and decoders then grow the canvas: we count the grown canvas), the
   PNG IHDR and every APNG fcTL, the WebP canvas and every ANMF frame. Each
   side of the canvas must be at most `max_side`, an APNG or WebP frame must lie
   inside its canvas, and all frames together (each frame is decoded onto a
   full canvas) at most `max_side`² pixels and MAX_FRAMES frames.
2. From Pillow's header parse (dimensions, frame count), with Pillow's own
   decompression-bomb limit (Image.MAX_IMAGE_PIXELS) set to `max_side`², so
   anything Pillow itself would allocate beyond twice that raises instead
   (reencoding.py, which then saves the image again).

The modules: types.py (the accepted types and plain constants, no Pillow),
refusals.py (the Invalid errors and the budget both checks share), layout.py
(check 1), reencoding.py (check 2 and saving), png.py (which of three ways a
still PNG is saved: Pillow's default, Huffman coding only, or stored; chosen
from a sample of its rows). Bytes in, bytes out: nothing here touches the
database or the file system; services.avatars stores.
"""
from .reencoding import limit_pillow, reencode
from .types import CONTENT_TYPES, IMAGE_TYPES, MAX_FRAMES, TYPES_BY_EXTENSION, ImageType

__all__ = [
    "CONTENT_TYPES",
    "IMAGE_TYPES",
    "MAX_FRAMES",
    "TYPES_BY_EXTENSION",
    "ImageType",
    "limit_pillow",
    "reencode",
]

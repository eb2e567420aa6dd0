"""Saving a still PNG again: Pillow's encoding, Pillow's with Huffman coding only, or stored as is.

Pillow's PNG encoder picks a filter for every row (trying four of PNG's five)
and deflates the result at level 6: about 50 ms of CPU for a 1 MiB image of
noise, all of it spent learning that noise does not compress, and about 90 ms
for a photo of that size, most of it searching for repeated strings a photo
does not have. `save_still_png` therefore looks at a sample of the image's
rows first (SAMPLE_STRIPS strips of STRIP_ROWS rows spread over the image,
about SAMPLE_BYTES in all), saved by Pillow in the ways below, and takes the
cheapest way whose size on the sample is close to Pillow's default:

1. stored: when Pillow's default does not shrink the sample below
   INCOMPRESSIBLE of its uncompressed size, `stored_png` writes the PNG
   signature, IHDR, the rows (filter type 0) as a zlib stream of deflate's
   stored blocks in one IDAT chunk, and IEND: about 1 ms for 1 MiB;
2. Huffman coding only (zlib's Z_HUFFMAN_ONLY, still with Pillow's filters):
   when that makes the sample at most HUFFMAN_SLACK times the default's size
   (photos, whose filtered rows hold few repeated strings): about half the CPU;
3. otherwise, and for any image of under PROBE_FROM uncompressed bytes, in a
   mode other than L, LA, RGB or RGBA, or with a transparency colour, Pillow's
   default (level 6, its filters), as before.

Each way is a new file made from the decoded pixels alone, and decodes to
exactly those pixels (mode, size, bytes): nothing of the upload's bytes (its
chunks, its deflate stream) is copied, and the choice depends on the pixels
alone, so identical images are stored as identical files however the client
encoded them. The file is at most about 1 / INCOMPRESSIBLE (stored) or
HUFFMAN_SLACK (Huffman only) times the size of Pillow's default encoding, as
far as the sample tells.
"""
import io
import struct
import zlib

INCOMPRESSIBLE = 0.95  # the default's size / uncompressed size at or above this: stored
HUFFMAN_SLACK = 1.02  # Huffman-only size / the default's size at most this: Huffman only
PROBE_FROM = 128 * 1024  # uncompressed bytes: smaller images are saved by Pillow's default at once
SAMPLE_BYTES = 32 * 1024
SAMPLE_STRIPS = 8
STRIP_ROWS = 4
BLOCK_BYTES = 0xFFFF  # the largest stored deflate block
ZLIB_HEADER = b"\x78\x01"  # deflate, 32 KiB window, "fastest" (as zlib's level 0 writes it)

# Pillow's tobytes() encodes into buffers of at least 64 KiB: a padded row must fit in one (at any
# AVATAR_MAX_SIDE up to 10,000 it does: 40,001 bytes for RGBA).
MAX_ROW_BYTES = 64 * 1024

DEFAULT = {}  # Pillow's PNG options: level 6, zlib's Z_FILTERED strategy
HUFFMAN_ONLY = {"compress_type": zlib.Z_HUFFMAN_ONLY}
STORED = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
# mode -> (PNG colour type, bytes per pixel); all 8 bits per sample
STORED_MODES = {"L": (0, 1), "RGB": (2, 3), "LA": (4, 2), "RGBA": (6, 4)}


def save_still_png(image, out):
    """Write the clean, still `image` (metadata already dropped) to `out` as PNG, the cheapest way
    that costs little size (see the module's doc)."""
    options = encoding(image)
    if options is STORED:
        out.write(stored_png(image))
    else:
        image.save(out, "PNG", **options)


def encoding(image):
    """How `image` is saved: STORED, or Pillow's PNG options (DEFAULT or HUFFMAN_ONLY)."""
    if image.mode not in STORED_MODES or "transparency" in image.info:
        return DEFAULT
    row_bytes = 1 + image.width * STORED_MODES[image.mode][1]
    if row_bytes > MAX_ROW_BYTES or row_bytes * image.height < PROBE_FROM:
        return DEFAULT
    strips = _sample(image, row_bytes)
    uncompressed = sum(strip.height for strip in strips) * row_bytes
    default = _saved_size(strips, DEFAULT)
    if default >= INCOMPRESSIBLE * uncompressed:
        return STORED
    return HUFFMAN_ONLY if _saved_size(strips, HUFFMAN_ONLY) <= HUFFMAN_SLACK * default else DEFAULT


def _sample(image, row_bytes):
    """Strips of STRIP_ROWS rows spread evenly from the top row to the bottom one (copies)."""
    width, height = image.size
    rows = min(STRIP_ROWS, height)
    count = max(1, min(SAMPLE_STRIPS, SAMPLE_BYTES // (rows * row_bytes), height // rows))
    tops = [(height - rows) * index // max(count - 1, 1) for index in range(count)]
    return [image.crop((0, top, width, top + rows)) for top in tops]


def _saved_size(strips, options):
    """Bytes of the strips saved by Pillow as PNGs with these options, less each file's fixed part."""
    total = 0
    for strip in strips:
        out = io.BytesIO()
        strip.save(out, "PNG", **options)
        total += len(out.getvalue()) - PNG_OVERHEAD
    return total


# signature, IHDR, IDAT's length, type and CRC, the zlib header and Adler-32, IEND: in every PNG saved
PNG_OVERHEAD = 8 + 25 + 12 + 6 + 12


def stored_png(image):
    """`image` (mode L, LA, RGB or RGBA) as a PNG of its pixels in deflate's stored blocks (bytes).

    Built in one buffer of the file's exact size: the rows come from Pillow
    each followed by one zero byte, so the stream a PNG decoder inflates (a
    filter byte 0, the row, a filter byte 0, the next row...) is a zero byte
    and those bytes less the last; it is cut into stored blocks of at most
    BLOCK_BYTES, after the zlib header and before the Adler-32 of the stream.
    """
    color_type, channels = STORED_MODES[image.mode]
    width, height = image.size
    row_bytes = 1 + width * channels
    rows = memoryview(image.tobytes("raw", (image.mode, row_bytes)))
    size = height * row_bytes  # of the stream: the filter bytes and the pixels
    blocks = -(-size // BLOCK_BYTES)
    idat_size = 2 + 5 * blocks + size + 4  # zlib header, block headers, stream, Adler-32
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    png = bytearray(len(SIGNATURE) + 12 + len(ihdr) + 12 + idat_size + 12)
    position = _put_chunk(png, len(SIGNATURE), b"IHDR", ihdr)
    png[:len(SIGNATURE)] = SIGNATURE
    struct.pack_into(">I4s", png, position, idat_size, b"IDAT")
    idat = position + 4
    png[position + 8:position + 10] = ZLIB_HEADER
    position += 10
    for start in range(0, size, BLOCK_BYTES):
        length = min(BLOCK_BYTES, size - start)
        last = start + length == size
        struct.pack_into("<BHH", png, position, 1 if last else 0, length, length ^ 0xFFFF)
        position += 5
        if start == 0:  # the first filter byte, then the rows
            png[position] = 0
            png[position + 1:position + length] = rows[:length - 1]
        else:
            png[position:position + length] = rows[start - 1:start - 1 + length]
        position += length
    struct.pack_into(">I", png, position, zlib.adler32(rows[:-1], zlib.adler32(b"\0")))
    position += 4
    struct.pack_into(">I", png, position, zlib.crc32(memoryview(png)[idat:position]))
    _put_chunk(png, position + 4, b"IEND", b"")
    return png


def _put_chunk(png, position, kind, body):
    """Write a chunk (length, type, body, CRC) at `position` of `png`; returns the position after it."""
    end = position + 8 + len(body)
    struct.pack_into(">I4s", png, position, len(body), kind)
    png[position + 8:end] = body
    struct.pack_into(">I", png, end, zlib.crc32(body, zlib.crc32(kind)))
    return end + 4

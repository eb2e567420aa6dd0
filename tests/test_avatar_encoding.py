"""How avatars are decoded and saved cheaply (issue 17): pybase64 against binascii, and the PNG
ways of wsserver/images/png.py (stored, Huffman only, Pillow's default), each decoding to the
very pixels of the upload, with no metadata, and chosen from the pixels alone."""
import base64
import binascii
import io
import random
import struct
import zlib

import pytest
from PIL import Image, ImageDraw

from test_avatars import fetch, uploaded
from wsserver.errors import Invalid
from wsserver.images import png
from wsserver.services import avatars

# --- base64 -------------------------------------------------------------------------------------


EDGE_TEXTS = [
    "", "QQ==", "QR==", "QUI=", "QUJ=", "QUJD", "QUJD=", "Q===", "====", "QU=D", "QQ=A", "QUJDRA==QUJD",
    "AAAA====", "-_-_", "QUJD\n", " QUJD", "QUJ\x00", "QUJDé===", "QUJ\ud800", "QUJD\ud800===", "data:image/png;base64,QUJD",
    "data:;base64,QUJD", "data:image/gif;base64,QUJD", "DATA:IMAGE/PNG;BASE64,QQ==", "QUJD" * 1000 + "QQ==",
]


def outcome(text, monkeypatch=None, use_pybase64=True):
    if not use_pybase64:  # the standard library's strict decoder in its place
        monkeypatch.setattr(avatars, "_strict_b64decode", lambda data: binascii.a2b_base64(data, strict_mode=True))
    try:
        return avatars.decode_data(text, "image/png")
    except Invalid as exc:
        return ("Invalid", exc.message, exc.details)
    finally:
        if monkeypatch is not None:
            monkeypatch.undo()


def random_texts(count=3000, seed=17):
    rng = random.Random(seed)
    alphabet = "ABCQUJDabz019+/=" + "-_ \n\t.é\x00"
    texts = []
    for _ in range(count):
        length = rng.choice((rng.randrange(0, 13), 4 * rng.randrange(0, 6)))
        texts.append("".join(rng.choice(alphabet[:16] if rng.random() < 0.7 else alphabet) for _ in range(length)))
    return texts


def test_pybase64_and_binascii_accept_and_refuse_the_same_text(monkeypatch):
    accepted = 0
    for text in EDGE_TEXTS + random_texts():
        result = outcome(text)
        assert result == outcome(text, monkeypatch, use_pybase64=False), repr(text)
        accepted += isinstance(result, bytes)
    assert 300 < accepted < 1000  # both sides of the line are tried


def test_a_large_upload_decodes_the_same_both_ways(monkeypatch):
    raw = random.Random(3).randbytes(300_001)
    text = base64.b64encode(raw).decode("ascii")
    assert outcome(text) == raw == outcome(text, monkeypatch, use_pybase64=False)


# --- the stored PNG -----------------------------------------------------------------------------


def chunks(data):
    """(type, body) of each chunk of a PNG file."""
    assert data[:8] == png.SIGNATURE
    found, position = [], 8
    while position < len(data):
        length, kind = struct.unpack_from(">I4s", data, position)
        body = data[position + 8:position + 8 + length]
        assert struct.unpack_from(">I", data, position + 8 + length)[0] == zlib.crc32(kind + body)
        found.append((kind, body))
        position += 12 + length
    assert position == len(data)
    return found


def noise(mode, size, seed=1):
    channels = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}[mode]
    return Image.frombytes(mode, size, random.Random(seed).randbytes(size[0] * size[1] * channels))


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
@pytest.mark.parametrize("size", [(1, 1), (7, 3), (3, 7), (300, 229), (10000, 2)])
def test_the_stored_png_decodes_to_the_same_pixels_and_holds_nothing_else(mode, size):
    image = noise(mode, size)

    data = bytes(png.stored_png(image))

    assert [kind for kind, _ in chunks(data)] == [b"IHDR", b"IDAT", b"IEND"]
    (_, header), (_, idat), _ = chunks(data)
    assert header == struct.pack(">IIBBBBB", *size, 8, png.STORED_MODES[mode][0], 0, 0, 0)
    row = image.width * png.STORED_MODES[mode][1]
    pixels = image.tobytes()
    assert zlib.decompress(idat) == b"".join(b"\0" + pixels[top:top + row] for top in range(0, len(pixels), row))
    with Image.open(io.BytesIO(data)) as back:
        back.verify()
    with Image.open(io.BytesIO(data)) as back:
        assert (back.format, back.mode, back.size) == ("PNG", mode, size)
        assert back.tobytes() == pixels


def photo_like(width=600, height=450, seed=2):
    """Smooth colour fields and fine grain: few repeated strings once filtered (as bench/avatar_cpu.py)."""
    rng = random.Random(seed)
    base = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3)).resize((width, height), Image.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).point(lambda v: 120 + v // 16)
    return Image.blend(base, Image.merge("RGB", (grain,) * 3), 0.2)


def drawing(size=(600, 450)):
    """Flat shapes and lines: what Pillow's default deflate (string matching) is good at."""
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for index in range(0, size[1], 12):
        draw.line((0, index, size[0], index // 2), fill=(20, 20 + index % 200, 90), width=2)
    draw.ellipse((100, 100, 400, 350), fill=(200, 30, 30))
    return image


def with_transparency():
    image = noise("RGB", (300, 300))
    image.info["transparency"] = (1, 2, 3)
    return image


@pytest.mark.parametrize(
    "make, way",
    [
        (lambda: noise("RGB", (589, 589)), png.STORED),
        (lambda: noise("RGBA", (300, 300)), png.STORED),
        (lambda: noise("L", (600, 600)), png.STORED),
        (photo_like, png.HUFFMAN_ONLY),
        (drawing, png.DEFAULT),
        (lambda: noise("RGB", (100, 100)), png.DEFAULT),  # under PROBE_FROM: not worth a probe
        (lambda: noise("RGB", (300, 300)).convert("P"), png.DEFAULT),  # palette images: Pillow's default
        (with_transparency, png.DEFAULT),
        (lambda: noise("RGBA", (16400, 4)), png.DEFAULT),  # a row over MAX_ROW_BYTES
    ],
)
def test_the_way_is_chosen_from_the_pixels(make, way):
    image = make()
    assert png.encoding(image) == way
    out = io.BytesIO()
    png.save_still_png(image, out)
    with Image.open(io.BytesIO(out.getvalue())) as back:
        assert (back.mode, back.size, back.tobytes()) == (image.mode, image.size, image.tobytes())
        assert back.info.get("transparency") == image.info.get("transparency")


def test_each_cheaper_way_costs_little_size():
    for image, way in ((noise("RGB", (400, 400)), png.STORED), (photo_like(), png.HUFFMAN_ONLY)):
        default, cheaper = io.BytesIO(), io.BytesIO()
        image.save(default, "PNG")
        png.save_still_png(image, cheaper)
        limit = png.HUFFMAN_SLACK if way == png.HUFFMAN_ONLY else 1 / png.INCOMPRESSIBLE
        assert len(cheaper.getvalue()) <= limit * len(default.getvalue())


# --- through the API ----------------------------------------------------------------------------


@pytest.fixture
def owner(accounts, make_workspace):
    person = accounts.create("olivia")
    make_workspace(person["headers"], "team-a")
    make_workspace(person["headers"], "team-b")
    return person


def png_with_metadata(image, orientation=1, **options):
    """`image` as PNG with text, an ICC profile and EXIF (orientation, camera) chunks."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Secret Person")
    info.add_text("Location", "somewhere private", zip=True)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    exif[0x0112] = orientation
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, icc_profile=b"fake icc", exif=exif, **options)
    return out.getvalue()


def test_a_noisy_png_is_stored_uncompressed_turned_and_without_its_metadata(client, owner):
    image = noise("RGB", (320, 240))
    raw = png_with_metadata(image, orientation=6)  # 6: shown turned 90 degrees clockwise

    body = uploaded(client, owner["headers"], "team-a", raw)

    served = fetch(client, body["url"]).data
    assert [kind for kind, _ in chunks(served)] == [b"IHDR", b"IDAT", b"IEND"]
    for needle in (b"Secret", b"fake icc", b"private"):
        assert needle not in served
    with Image.open(io.BytesIO(served)) as back:
        assert back.size == (240, 320)
        assert back.tobytes() == image.transpose(Image.Transpose.ROTATE_270).tobytes()
    assert body["size"] == len(served) == len(bytes(png.stored_png(image.transpose(Image.Transpose.ROTATE_270))))


@pytest.mark.parametrize("make", [lambda: noise("RGB", (300, 300)), photo_like, drawing])
def test_the_same_pixels_are_stored_as_the_same_file_however_they_were_encoded(client, owner, make):
    image = make()
    tight = png_with_metadata(image, compress_level=9)
    loose = io.BytesIO()
    image.save(loose, "PNG", compress_level=0)

    first = uploaded(client, owner["headers"], "team-a", tight)
    second = uploaded(client, owner["headers"], "team-b", loose.getvalue())

    assert first["fileName"] == second["fileName"]
    with Image.open(io.BytesIO(fetch(client, first["url"]).data)) as back:
        assert back.tobytes() == image.tobytes()

"""Avatars: POST /workspaces/:fullname/avatar (under /api/v2 and /api) and GET /avatars/<fileName>."""
import base64
import hashlib
import io
import os
import re
import struct
import time
import zlib

import pytest
from PIL import Image, ImageSequence

from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, assert_error, bearer, png_base64
from wsserver import create_app
from wsserver.storage.models import Workspace

FILE_NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")
RESULT_FIELDS = {"url", "fileName", "extension", "size", "workspace"}
CACHE_CONTROL = "public, max-age=31536000, immutable"
MIB = 1024 * 1024

# contentType -> (Pillow format, extension)
TYPES = {
    "image/png": ("PNG", "png"),
    "image/jpeg": ("JPEG", "jpg"),
    "image/gif": ("GIF", "gif"),
    "image/webp": ("WEBP", "webp"),
}


# --- helpers ----------------------------------------------------------------------------------------


def image_bytes(fmt, size=(40, 30), color=(200, 30, 30), mode="RGB", **options):
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, fmt, **options)
    return out.getvalue()


def noise_bytes(fmt, size=(96, 96)):
    out = io.BytesIO()
    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(out, fmt)
    return out.getvalue()


def cut(raw, fraction=0.7):
    return raw[: int(len(raw) * fraction)]


def animation_bytes(fmt, colors=((255, 0, 0), (0, 255, 0), (0, 0, 255)), size=(24, 16), duration=120):
    frames = [Image.new("RGB", size, color) for color in colors]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=duration, loop=0)
    return out.getvalue()


def encode(raw):
    return base64.b64encode(raw).decode("ascii")


def upload(client, headers, fullname, raw=None, content_type="image/png", prefix=API, data=None, **extra):
    body = {"filename": "avatar.png", "contentType": content_type, "data": encode(raw) if data is None else data}
    body.update(extra)
    return client.post(f"{prefix}/workspaces/{fullname}/avatar", json=body, headers=headers)


def avatar_dir(app):
    return os.path.join(app.config["INSTANCE_PATH"], "avatars")


def files_on_disk(app):
    return sorted(os.listdir(avatar_dir(app)))


def path_of(url):
    assert url.startswith("http://localhost/avatars/"), url
    return url[len("http://localhost"):]


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_declaring(width, height):
    """A tiny, well-formed PNG whose header claims width x height grey pixels."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 256))
        + png_chunk(b"IEND", b"")
    )


def png_with_size(total):
    """A valid noise PNG of exactly `total` bytes (topped up with tEXt chunks)."""
    side = int(((total - 20000) / 3) ** 0.5)
    pixels = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    pixels.save(out, "PNG", compress_level=0)
    body = out.getvalue()
    iend = png_chunk(b"IEND", b"")
    assert body.endswith(iend)
    body, missing = body[: -len(iend)], total - len(body)
    assert missing > 20
    while missing:
        text = min(missing, 60000)
        if 0 < missing - text < 20:  # keep room for one more whole chunk
            text = missing - 20
        keyword = b"Comment\x00"
        body += png_chunk(b"tEXt", keyword + b"x" * (text - 12 - len(keyword)))
        missing -= text
    result = body + iend
    assert len(result) == total
    return result


def assert_upload_ok(response, extension, workspace_name, base="http://localhost"):
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == RESULT_FIELDS
    assert FILE_NAME.match(body["fileName"])
    assert body["extension"] == extension
    assert body["fileName"].endswith("." + extension)
    assert body["url"] == f"{base}/avatars/{body['fileName']}"
    assert isinstance(body["size"], int) and body["size"] > 0
    assert body["workspace"]["fullname"] == workspace_name
    assert body["workspace"]["meta"]["avatar"] == body["url"]
    return body


def uploaded(client, headers, fullname, raw, content_type="image/png", **kwargs):
    """Upload and check the whole 200 answer; returns its body."""
    response = upload(client, headers, fullname, raw, content_type, **kwargs)
    return assert_upload_ok(response, TYPES[content_type][1], fullname)


def fetch(client, url, **kwargs):
    return client.get(path_of(url), **kwargs)


def assert_served(response, content_type, body):
    """The stored file, with its type, the caching headers and its content hash as ETag."""
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == CACHE_CONTROL
    digest = body["fileName"].split(".")[0]
    assert response.headers["ETag"] == f'"{digest}"'
    assert hashlib.sha256(response.data).hexdigest() == digest
    assert int(response.headers["Content-Length"]) == body["size"] == len(response.data)


def stored(fullname):
    return Workspace.get(Workspace.fullname == fullname)


def tick():
    """Timestamps have millisecond resolution: make the next write land on a later one."""
    time.sleep(0.003)


@pytest.fixture
def owner(accounts, make_workspace):
    person = accounts.create("olivia")
    make_workspace(person["headers"], "team-a")
    return person


@pytest.fixture
def team(accounts, make_workspace, join):
    """Workspace `team` with one member per level, plus an outsider; {role: account}."""
    people = {"owner": accounts.create("team-owner")}
    make_workspace(people["owner"]["headers"], "team")
    for level in ("admin", "developer", "user"):
        people[level] = accounts.create(f"team-{level}")
        join(people["owner"]["headers"], "team", people[level], level=level)
    people["outsider"] = accounts.create("outsider")
    return people


# --- uploading and serving ---------------------------------------------------------------------------


@pytest.mark.parametrize("content_type", list(TYPES))
def test_upload_round_trip_for_each_allowed_type(client, app, owner, content_type):
    fmt, extension = TYPES[content_type]
    before = client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json()
    tick()
    raw = image_bytes(fmt, size=(40, 30))

    response = upload(client, owner["headers"], "team-a", raw, content_type, filename="../../evil name.exe")

    body = assert_upload_ok(response, extension, "team-a")
    workspace = body["workspace"]
    assert workspace["updatedAt"] > before["updatedAt"]
    assert {key: value for key, value in workspace.items() if key not in ("meta", "updatedAt")} == {
        key: value for key, value in before.items() if key not in ("meta", "updatedAt")
    }
    assert "evil" not in body["fileName"] and "exe" not in body["url"]
    # the workspace as stored and as read back
    assert stored("team-a").avatar == body["url"]
    assert stored("team-a").avatar_file == body["fileName"]
    assert client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json() == workspace
    # the file, without credentials
    served = fetch(client, body["url"])
    assert_served(served, content_type, body)
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == fmt
        assert image.size == (40, 30)
        assert image.convert("RGB").getpixel((5, 5)) == pytest.approx((200, 30, 30), abs=8)
    assert files_on_disk(app) == [body["fileName"]]
    assert os.path.getsize(os.path.join(avatar_dir(app), body["fileName"])) == body["size"]


def test_served_avatar_answers_conditional_requests_with_304(client, owner):
    body = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))
    first = fetch(client, body["url"])
    etag = first.headers["ETag"]

    again = fetch(client, body["url"], headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Cache-Control"] == CACHE_CONTROL

    other = fetch(client, body["url"], headers={"If-None-Match": '"something-else"'})
    assert_served(other, "image/png", body)

    head = client.head(path_of(body["url"]))
    assert head.status_code == 200
    assert head.data == b""
    assert head.headers["Content-Type"] == "image/png"
    assert int(head.headers["Content-Length"]) == body["size"]


@pytest.mark.parametrize("fmt, content_type", [("GIF", "image/gif"), ("WEBP", "image/webp"), ("PNG", "image/png")])
def test_animated_gif_webp_and_png_keep_their_frames(client, owner, fmt, content_type):
    raw = animation_bytes(fmt, duration=120)

    response = upload(client, owner["headers"], "team-a", raw, content_type)

    body = assert_upload_ok(response, TYPES[content_type][1], "team-a")
    served = fetch(client, body["url"])
    assert_served(served, content_type, body)
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.n_frames == 3
        colors, durations = [], []
        for frame in ImageSequence.Iterator(image):
            colors.append(frame.convert("RGB").getpixel((3, 3)))
            durations.append(frame.info.get("duration"))
    assert colors == [
        pytest.approx(expected, abs=8) for expected in ((255, 0, 0), (0, 255, 0), (0, 0, 255))
    ]
    assert durations == [120, 120, 120]


def test_transparency_survives(client, owner):
    image = Image.new("RGBA", (20, 20), (10, 200, 30, 255))
    image.paste((0, 0, 0, 0), (0, 0, 5, 5))
    for fmt, content_type in (("PNG", "image/png"), ("GIF", "image/gif"), ("WEBP", "image/webp")):
        out = io.BytesIO()
        image.save(out, fmt)

        body = uploaded(client, owner["headers"], "team-a", out.getvalue(), content_type)

        with Image.open(io.BytesIO(fetch(client, body["url"]).data)) as stored_image:
            rgba = stored_image.convert("RGBA")
            assert rgba.getpixel((1, 1))[3] == 0, fmt
            assert rgba.getpixel((10, 10)) == pytest.approx((10, 200, 30, 255), abs=4), fmt


def test_data_url_prefix_is_accepted(client, owner):
    raw = image_bytes("JPEG")

    response = upload(client, owner["headers"], "team-a", content_type="image/jpeg",
                      data="data:image/jpeg;base64," + encode(raw))

    body = assert_upload_ok(response, "jpg", "team-a")
    assert_served(fetch(client, body["url"]), "image/jpeg", body)


def test_data_url_prefix_declaring_another_type_is_rejected(client, app, owner):
    response = upload(client, owner["headers"], "team-a", content_type="image/png",
                      data="data:image/jpeg;base64," + encode(image_bytes("PNG")))

    assert_error(response, 422, details={"data"})
    assert files_on_disk(app) == []


def test_public_url_setting_makes_the_avatar_url(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "PUBLIC_URL": "https://avatars.example.org/ws/"})
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    assert client.put(f"{API}/workspaces/team-a", json={"fullname": "team-a"}, headers=admin).status_code == 201

    response = upload(client, admin, "team-a", image_bytes("PNG"))

    body = assert_upload_ok(response, "png", "team-a", base="https://avatars.example.org/ws")
    served = client.get(f"/avatars/{body['fileName']}")
    assert_served(served, "image/png", body)


def test_url_follows_the_host_the_request_came_to(client, owner):
    response = client.post(
        f"{API}/workspaces/team-a/avatar",
        json={"filename": "a.png", "contentType": "image/png", "data": encode(image_bytes("PNG"))},
        headers=owner["headers"],
        base_url="https://ws.example.com",
    )

    assert_upload_ok(response, "png", "team-a", base="https://ws.example.com")


def test_the_api_alias_uploads_too(client, owner):
    response = upload(client, owner["headers"], "team-a", image_bytes("WEBP"), "image/webp", prefix="/api")

    body = assert_upload_ok(response, "webp", "team-a")
    assert_served(fetch(client, body["url"]), "image/webp", body)
    assert client.get("/api/workspaces/team-a", headers=owner["headers"]).get_json()["meta"]["avatar"] == body["url"]


# --- what is stripped ----------------------------------------------------------------------------------


def jpeg_with_metadata(size=(40, 30), orientation=1):
    image = Image.new("RGB", size, (10, 120, 200))
    image.paste((255, 255, 255), (0, 0, 8, 8))  # a marker to see the turn
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0112] = orientation  # Orientation
    exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}  # GPS position
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, icc_profile=b"fake icc profile", comment=b"secret comment", quality=85)
    return out.getvalue()


def test_exif_location_icc_and_comments_are_gone_from_the_stored_jpeg(client, owner):
    raw = jpeg_with_metadata()
    with Image.open(io.BytesIO(raw)) as original:  # the test image really carries them
        assert original.getexif()[0x010F] == "SecretCam" and "icc_profile" in original.info
        assert original.info["comment"] == b"secret comment"

    body = uploaded(client, owner["headers"], "team-a", raw, "image/jpeg")

    served = fetch(client, body["url"])
    assert_served(served, "image/jpeg", body)
    for needle in (b"Exif", b"SecretCam", b"fake icc", b"secret comment", b"ICC_PROFILE"):
        assert needle not in served.data
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG" and image.size == (40, 30)
        assert not image.getexif()
        assert not {"exif", "icc_profile", "comment", "xmp"} & set(image.info)


def test_exif_orientation_is_applied_before_it_is_stripped(client, owner):
    raw = jpeg_with_metadata(size=(40, 30), orientation=6)  # 6: shown turned 90 degrees clockwise

    body = uploaded(client, owner["headers"], "team-a", raw, "image/jpeg")

    with Image.open(io.BytesIO(fetch(client, body["url"]).data)) as image:
        assert image.size == (30, 40)
        assert not image.getexif()
        assert image.getpixel((26, 3)) == pytest.approx((255, 255, 255), abs=24)  # top left went top right
        assert image.getpixel((3, 3)) == pytest.approx((10, 120, 200), abs=24)


def test_png_text_icc_and_exif_chunks_are_gone(client, owner):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Secret Person")
    info.add_text("Location", "somewhere private", zip=True)
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    out = io.BytesIO()
    Image.new("RGBA", (20, 20), (1, 2, 3, 128)).save(out, "PNG", pnginfo=info, icc_profile=b"fake icc", exif=exif)

    body = uploaded(client, owner["headers"], "team-a", out.getvalue(), "image/png")

    served = fetch(client, body["url"]).data
    for chunk in (b"tEXt", b"zTXt", b"iTXt", b"iCCP", b"eXIf", b"Secret"):
        assert chunk not in served
    with Image.open(io.BytesIO(served)) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0)) == (1, 2, 3, 128)


def test_webp_and_gif_metadata_is_gone(client, owner):
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"
    webp = image_bytes("WEBP", exif=exif, icc_profile=b"fake icc", xmp=b"<x:secret/>")
    gif = image_bytes("GIF", comment=b"secret comment")
    assert b"SecretCam" in webp and b"secret comment" in gif

    for raw, content_type in ((webp, "image/webp"), (gif, "image/gif")):
        body = uploaded(client, owner["headers"], "team-a", raw, content_type)
        served = fetch(client, body["url"]).data
        for needle in (b"EXIF", b"ICCP", b"XMP ", b"SecretCam", b"secret"):
            assert needle not in served


# --- bad uploads ---------------------------------------------------------------------------------------

BAD_UPLOADS = {
    "not base64": ("image/png", "this is not base64!", {"data"}),
    "base64 with line breaks": ("image/png", "\n".join(re.findall(".{1,20}", encode(image_bytes("PNG")))), {"data"}),
    "url-safe base64 alphabet": ("image/png", encode(b"\xfb\xff" * 30).replace("+", "-").replace("/", "_"), {"data"}),
    "missing padding": ("image/png", "aGVsbG8", {"data"}),
    "non-ascii characters": ("image/png", "ü" * 8, {"data"}),
    "empty data": ("image/png", "", {"data"}),
    "empty data after the data: prefix": ("image/png", "data:image/png;base64,", {"data"}),
    "declared type not allowed (bmp)": ("image/bmp", encode(image_bytes("BMP")), {"contentType"}),
    "declared type svg": ("image/svg+xml", encode(b"<svg xmlns='http://www.w3.org/2000/svg'/>"), {"contentType"}),
    "a PNG declared as JPEG": ("image/jpeg", encode(image_bytes("PNG")), {"data"}),
    "a JPEG declared as PNG": ("image/png", encode(image_bytes("JPEG")), {"data"}),
    "a GIF declared as WebP": ("image/webp", encode(image_bytes("GIF")), {"data"}),
    "a text file": ("image/png", encode(b"just some text, nothing to see\n" * 10), {"data"}),
    "an HTML file as GIF": ("image/gif", encode(b"GIF89a<script>alert(1)</script>"), {"data"}),
    "a truncated PNG": ("image/png", encode(cut(noise_bytes("PNG"))), {"data"}),
    "a truncated JPEG": ("image/jpeg", encode(cut(noise_bytes("JPEG"))), {"data"}),
    "a truncated GIF": ("image/gif", encode(cut(noise_bytes("GIF"))), {"data"}),
    "a truncated WebP": ("image/webp", encode(cut(noise_bytes("WEBP"))), {"data"}),
    "a JPEG cut after its header": ("image/jpeg", encode(image_bytes("JPEG", size=(64, 64))[:300]), {"data"}),
    "too wide (4097 px)": ("image/png", encode(image_bytes("PNG", size=(4097, 1))), {"data"}),
    "too high (4097 px)": ("image/gif", encode(image_bytes("GIF", size=(1, 4097))), {"data"}),
    "pixel bomb: PNG header claiming 100000x100000": ("image/png", encode(png_declaring(100000, 100000)), {"data"}),
    "pixel bomb: PNG header claiming 10000x10000": ("image/png", encode(png_declaring(10000, 10000)), {"data"}),
    "pixel bomb: PNG header claiming 5000x5000": ("image/png", encode(png_declaring(5000, 5000)), {"data"}),
    "pixel bomb: GIF screen of 65535x65535": (
        "image/gif", encode(b"GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"),
        {"data"},
    ),
}


# Pillow warns (and the server refuses) about the 10000x10000 header before any pixel is read.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_bad_upload_is_rejected_with_422_and_writes_nothing(client, app, owner, case):
    content_type, data, fields = BAD_UPLOADS[case]
    before = client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json()

    response = upload(client, owner["headers"], "team-a", content_type=content_type, data=data)

    assert_error(response, 422, details=fields)
    assert files_on_disk(app) == []
    assert client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json() == before
    assert stored("team-a").avatar_file is None


def test_real_compressed_bomb_over_the_side_limit_is_rejected_before_decoding(client, app, owner):
    out = io.BytesIO()
    Image.new("L", (6000, 6000), 0).save(out, "PNG", optimize=True)  # 36 Mpx of black in a few KiB
    assert len(out.getvalue()) < 64 * 1024

    response = upload(client, owner["headers"], "team-a", out.getvalue(), "image/png")

    error = assert_error(response, 422, details={"data"})
    assert "6000x6000" in error["message"]
    assert files_on_disk(app) == []


def test_animation_over_the_pixel_budget_is_rejected(instance_path):
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "AVATAR_MAX_SIDE": 32})
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    client.put(f"{API}/workspaces/team-a", json={"fullname": "team-a"}, headers=admin)

    # each frame fits (32x32), but two of them are more pixels than one 32x32 still image
    response = upload(client, admin, "team-a", animation_bytes("GIF", size=(32, 32)), "image/gif")

    assert_error(response, 422, details={"data"})
    assert files_on_disk(app) == []
    uploaded(client, admin, "team-a", image_bytes("GIF", size=(32, 32)), "image/gif")  # one frame is fine


@pytest.mark.parametrize("missing", ["filename", "contentType", "data"])
def test_each_field_is_required(client, app, owner, missing):
    body = {"filename": "a.png", "contentType": "image/png", "data": encode(image_bytes("PNG"))}
    del body[missing]

    response = client.post(f"{API}/workspaces/team-a/avatar", json=body, headers=owner["headers"])

    assert_error(response, 422, details={missing})
    assert files_on_disk(app) == []


def test_unknown_field_is_rejected(client, app, owner):
    response = upload(client, owner["headers"], "team-a", image_bytes("PNG"), path="/tmp/x.png")

    assert_error(response, 422, details={"path"})
    assert files_on_disk(app) == []


def test_malformed_json_is_400(client, app, owner):
    response = client.post(f"{API}/workspaces/team-a/avatar", data=b'{"filename": "a.png",',
                           headers={**owner["headers"], "Content-Type": "application/json"})

    assert_error(response, 400)
    assert files_on_disk(app) == []


def test_body_that_is_not_json_is_415(client, app, owner):
    response = client.post(f"{API}/workspaces/team-a/avatar", data=image_bytes("PNG"),
                           headers={**owner["headers"], "Content-Type": "image/png"})

    assert_error(response, 415)
    assert files_on_disk(app) == []


# --- size limits -----------------------------------------------------------------------------------------


def test_decoded_avatar_over_one_mib_is_413(client, app, owner):
    raw = png_with_size(MIB + 1)

    response = upload(client, owner["headers"], "team-a", raw, "image/png")

    assert_error(response, 413, details={"data"})
    assert files_on_disk(app) == []
    assert stored("team-a").avatar_file is None


def test_maximal_avatar_passes_the_body_limit_and_is_stored_without_its_text(client, app, owner):
    raw = png_with_size(MIB)
    data = "data:image/png;base64," + encode(raw)
    assert len(data) + 200 < app.config["MAX_CONTENT_LENGTH"]

    response = upload(client, owner["headers"], "team-a", content_type="image/png", data=data,
                      filename="x" * 255)

    body = assert_upload_ok(response, "png", "team-a")
    assert body["size"] < MIB  # the tEXt padding is gone
    served = fetch(client, body["url"])
    assert_served(served, "image/png", body)
    assert b"tEXt" not in served.data


class CountingStream(io.RawIOBase):
    """A request body of `total` bytes, made up as it is read; counts what was read."""

    def __init__(self, total):
        self.total = total
        self.position = 0
        self.consumed = 0

    def readable(self):
        return True

    def seekable(self):  # the test client measures the body by seeking to its end
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.total}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        count = max(0, min(len(buffer), self.total - self.position))
        buffer[:count] = b"a" * count
        self.position += count
        self.consumed += count
        return count


def test_much_bigger_body_is_stopped_with_413_before_it_is_read(client, app, owner):
    total = 20 * MIB
    assert app.config["MAX_CONTENT_LENGTH"] < total
    stream = CountingStream(total)

    response = client.post(
        f"{API}/workspaces/team-a/avatar",
        input_stream=stream,
        content_type="application/json",
        headers=owner["headers"],
    )

    assert_error(response, 413)
    assert stream.consumed == 0
    assert files_on_disk(app) == []


# --- who may upload ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role, status", [("owner", 200), ("admin", 200), ("developer", 403), ("user", 403), ("outsider", 404)]
)
def test_who_may_upload(client, app, team, role, status):
    response = upload(client, team[role]["headers"], "team", image_bytes("PNG"))

    if status == 200:
        assert_upload_ok(response, "png", "team")
        assert len(files_on_disk(app)) == 1
        assert "invite" in response.get_json()["workspace"]
    else:
        assert_error(response, status)
        assert files_on_disk(app) == []
        assert stored("team").avatar is None


def test_non_member_gets_404_even_for_bad_data(client, app, team):
    response = upload(client, team["outsider"]["headers"], "team", content_type="image/png", data="!!!")

    error = assert_error(response, 404)
    assert error["message"] == "Workspace 'team' not found."


def test_instance_admin_may_upload_to_any_workspace(client, app, team, admin_headers):
    response = upload(client, admin_headers, "team", image_bytes("GIF"), "image/gif")

    body = assert_upload_ok(response, "gif", "team")
    assert "invite" in body["workspace"]
    assert files_on_disk(app) == [body["fileName"]]


def test_anonymous_upload_is_401(client, app, owner):
    response = upload(client, {}, "team-a", image_bytes("PNG"))

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"]
    assert files_on_disk(app) == []


def test_unknown_workspace_is_404(client, app, admin_headers):
    response = upload(client, admin_headers, "no-such-team", image_bytes("PNG"))

    error = assert_error(response, 404)
    assert "no-such-team" in error["message"]
    assert files_on_disk(app) == []


# --- the life of the files -----------------------------------------------------------------------------------


def test_replacing_the_avatar_leaves_exactly_one_file(client, app, owner):
    first = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))
    tick()

    second = uploaded(client, owner["headers"], "team-a", image_bytes("JPEG"), "image/jpeg")

    assert first["fileName"] != second["fileName"]
    assert files_on_disk(app) == [second["fileName"]]
    assert second["workspace"]["updatedAt"] > first["workspace"]["updatedAt"]
    assert_error(fetch(client, first["url"]), 404)
    assert_served(fetch(client, second["url"]), "image/jpeg", second)


def test_uploading_the_same_image_again_keeps_the_file(client, app, owner):
    raw = image_bytes("PNG")
    first = uploaded(client, owner["headers"], "team-a", raw)

    second = uploaded(client, owner["headers"], "team-a", raw)

    assert second["fileName"] == first["fileName"]
    assert files_on_disk(app) == [first["fileName"]]
    assert_served(fetch(client, second["url"]), "image/png", second)


def test_workspaces_with_identical_avatars_share_one_file_until_the_last_lets_go(client, app, owner, make_workspace):
    make_workspace(owner["headers"], "team-b")
    raw = image_bytes("PNG", color=(1, 99, 1))
    a = uploaded(client, owner["headers"], "team-a", raw)
    b = uploaded(client, owner["headers"], "team-b", raw)
    assert a["fileName"] == b["fileName"]
    assert files_on_disk(app) == [a["fileName"]]

    # team-a moves on: team-b still shows the shared file
    c = uploaded(client, owner["headers"], "team-a", image_bytes("GIF"), "image/gif")
    assert files_on_disk(app) == sorted([a["fileName"], c["fileName"]])
    assert_served(fetch(client, b["url"]), "image/png", b)

    # team-b goes: the shared file goes with it
    assert client.delete(f"{API}/workspaces/team-b", headers=owner["headers"]).status_code == 200
    assert files_on_disk(app) == [c["fileName"]]
    assert_error(fetch(client, b["url"]), 404)


def test_deleting_the_workspace_removes_its_avatar_file(client, app, owner):
    body = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))
    assert files_on_disk(app) == [body["fileName"]]

    response = client.delete(f"{API}/workspaces/team-a", headers=owner["headers"])

    assert response.status_code == 200
    assert response.get_json() == {}
    assert files_on_disk(app) == []
    assert_error(fetch(client, body["url"]), 404)


def test_setting_an_external_avatar_url_drops_the_uploaded_file(client, app, owner):
    body = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))

    response = client.put(
        f"{API}/workspaces/team-a",
        json={"fullname": "team-a", "meta": {"avatar": "https://cdn.example.com/logo.png"}},
        headers=owner["headers"],
    )

    assert response.status_code == 200
    assert response.get_json()["meta"]["avatar"] == "https://cdn.example.com/logo.png"
    assert files_on_disk(app) == []
    assert stored("team-a").avatar_file is None
    assert_error(fetch(client, body["url"]), 404)


def test_a_put_that_leaves_the_avatar_alone_keeps_the_file(client, app, owner):
    body = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))

    response = client.put(f"{API}/workspaces/team-a", json={"fullname": "team-a", "tags": ["x"]},
                          headers=owner["headers"])

    assert response.status_code == 200
    assert response.get_json()["meta"]["avatar"] == body["url"]
    assert files_on_disk(app) == [body["fileName"]]


def test_a_failure_before_the_commit_keeps_the_old_avatar(client, app, owner, monkeypatch):
    from wsserver.storage import avatar_files

    old = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))

    def broken(folder):
        raise OSError("disk trouble")

    monkeypatch.setattr(avatar_files, "_sync_folder", broken)  # fails after the new file was moved into place
    response = upload(client, owner["headers"], "team-a", image_bytes("JPEG"), "image/jpeg")

    assert_error(response, 500)
    assert "disk trouble" not in response.get_data(as_text=True)
    assert files_on_disk(app) == [old["fileName"]]
    assert stored("team-a").avatar == old["url"]
    assert_served(fetch(client, old["url"]), "image/png", old)


def test_a_failure_while_writing_leaves_no_half_written_file(client, app, owner, monkeypatch):
    old = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))

    def broken(descriptor):
        raise OSError("no space left")

    monkeypatch.setattr(os, "fsync", broken)
    response = upload(client, owner["headers"], "team-a", image_bytes("GIF"), "image/gif")
    monkeypatch.undo()

    assert_error(response, 500)
    assert files_on_disk(app) == [old["fileName"]]
    assert stored("team-a").avatar_file == old["fileName"]


def test_half_written_uploads_are_removed_at_start_up(instance_path, app):
    from wsserver.storage.avatar_files import temporary_prefix

    with app.app_context():
        own_crash = os.path.join(avatar_dir(app), temporary_prefix() + "crashed")  # this node's, however fresh
    with open(own_crash, "wb") as handle:
        handle.write(b"half")
    old_other = os.path.join(avatar_dir(app), ".upload-another-node-crashed")  # a dead node's, an hour old
    with open(old_other, "wb") as handle:
        handle.write(b"half")
    an_hour_ago = time.time() - 3600
    os.utime(old_other, (an_hour_ago, an_hour_ago))

    create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT})

    assert files_on_disk(app) == []


def test_start_up_leaves_an_upload_another_node_is_writing(instance_path, app):
    """Nodes share the avatar folder: a fresh temporary file may be another node's upload in progress."""
    in_progress = os.path.join(avatar_dir(app), ".upload-other-node")
    with open(in_progress, "wb") as handle:
        handle.write(b"half")

    create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT})

    assert files_on_disk(app) == [".upload-other-node"]


# --- serving: only our own file names, only from the avatar folder ------------------------------------------


TRAVERSALS = [
    "/avatars/..%2fwsserver.sqlite3",
    "/avatars/..%2F..%2Fetc%2Fpasswd",
    "/avatars/%2e%2e",
    "/avatars/%2e%2e%2fwsserver.sqlite3",
    "/avatars/%2e%2e/wsserver.sqlite3",
    "/avatars/..",
    "/avatars/.",
    "/avatars//etc/passwd",
    "/avatars/%2fetc%2fpasswd",
    "/avatars/..%5cwsserver.sqlite3",
    "/avatars/..\\wsserver.sqlite3",
    "/avatars/%252e%252e%252fwsserver.sqlite3",
    "/avatars/wsserver.sqlite3",
    "/avatars/.upload-secret",
    "/avatars/" + "a" * 64 + ".png%00.txt",
    "/avatars/" + "A" * 64 + ".png",
    "/avatars/" + "a" * 64 + ".PNG",
    "/avatars/" + "a" * 64 + ".svg",
    "/avatars/" + "a" * 63 + ".png",
    "/avatars/" + "a" * 64 + ".png",  # well-formed, but there is no such file
    "/avatars/..%2f" + "b" * 64 + ".png",
    "/avatars/",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_malformed_or_unknown_avatar_names_are_404(client, app, path):
    # bait: files a traversal would reach if it worked
    with open(os.path.join(avatar_dir(app), ".upload-secret"), "wb") as handle:
        handle.write(b"secret")
    with open(os.path.join(app.config["INSTANCE_PATH"], "b" * 64 + ".png"), "wb") as handle:
        handle.write(image_bytes("PNG"))

    response = client.get(path)

    assert_error(response, 404)
    assert b"secret" not in response.data and b"SQLite" not in response.data


def test_avatar_files_need_no_credentials_but_ignore_them(client, owner):
    body = uploaded(client, owner["headers"], "team-a", image_bytes("PNG"))

    assert_served(fetch(client, body["url"], headers=bearer("not-a-valid-token")), "image/png", body)


# --- the OpenAPI document -----------------------------------------------------------------------------------


def test_openapi_document_describes_the_avatar_routes(client):
    spec = client.get("/openapi.json").get_json()

    post = spec["paths"][f"{API}/workspaces/{{fullname}}/avatar"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AvatarUpload"
    }
    ok = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/AvatarUploadResult"}
    assert {"400", "401", "403", "404", "413", "415", "422"} <= set(post["responses"])
    assert "/api/workspaces/{fullname}/avatar" not in spec["paths"]  # the alias is documented once
    request_schema = spec["components"]["schemas"]["AvatarUpload"]
    assert set(request_schema["required"]) == {"filename", "contentType", "data"}
    assert request_schema["properties"]["contentType"]["enum"] == list(TYPES)
    result_schema = spec["components"]["schemas"]["AvatarUploadResult"]
    assert set(result_schema["properties"]) == RESULT_FIELDS

    get = spec["paths"]["/avatars/{fileName}"]["get"]
    assert get["security"] == []
    assert list(get["responses"]["200"]["content"]) == list(TYPES)
    for content in get["responses"]["200"]["content"].values():
        assert content["schema"] == {"type": "string", "format": "binary"}
    assert {"304", "404", "416"} <= set(get["responses"])
    assert list(get["responses"]["206"]["content"]) == list(TYPES)
    assert "Content-Range" in get["responses"]["206"]["headers"]
    assert set(get["responses"]["200"]["headers"]) == {"ETag", "Cache-Control"}
    assert "/api/avatars/{fileName}" not in spec["paths"]


def test_the_documented_base64_pattern_accepts_what_the_server_decodes(client, admin_headers):
    """The spec's pattern for `data` and the service's decoder agree, sample by sample."""
    import re

    from schemas.avatars import BASE64_WITH_OPTIONAL_PREFIX
    from wsserver.errors import Invalid
    from wsserver.services.avatars import decode_data

    pattern = re.compile(BASE64_WITH_OPTIONAL_PREFIX)
    samples = [png_base64(), "data:image/png;base64," + png_base64(), "DATA:;BASE64,AAAA", "QQ==", "QUI=", "QUJD",
               "", "data:image/png;base64,", "QQ", "QQ=", "QUJD\n", " QUJD", "QU JD", "QUJD====", "Q===", "é", "QUJD!", "QUJD=", "QUJD====", "QQ=A"]
    for sample in samples:
        try:
            decode_data(sample, "image/png")
            decoded = True
        except Invalid:
            decoded = False
        assert bool(pattern.fullmatch(sample)) == decoded, sample


def test_workspace_linking_another_workspaces_uploaded_avatar_keeps_the_file_alive(client, admin_headers, instance_path):
    """meta.avatar set by PUT to an avatar URL of this server counts as using that file."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (5, 5), "green").save(buffer, "PNG")
    data = base64.b64encode(buffer.getvalue()).decode()
    for name in ("first-ws", "second-ws"):
        assert client.put(f"/api/v2/workspaces/{name}", json={"fullname": name}, headers=admin_headers).status_code == 201
    uploaded = client.post("/api/v2/workspaces/first-ws/avatar",
                           json={"filename": "g.png", "contentType": "image/png", "data": data}, headers=admin_headers)
    assert uploaded.status_code == 200
    url, file_name = uploaded.get_json()["url"], uploaded.get_json()["fileName"]
    linked = client.put("/api/v2/workspaces/second-ws", json={"fullname": "second-ws", "meta": {"avatar": url}},
                        headers=admin_headers)
    assert linked.status_code == 200 and linked.get_json()["meta"]["avatar"] == url
    # the first workspace drops its avatar: the file stays, the second still uses it
    dropped = client.put("/api/v2/workspaces/first-ws", json={"fullname": "first-ws", "meta": {"avatar": None}},
                         headers=admin_headers)
    assert dropped.status_code == 200
    assert os.listdir(os.path.join(instance_path, "avatars")) == [file_name]
    assert client.get(f"/avatars/{file_name}").status_code == 200
    # once nobody uses it, it goes
    client.delete("/api/v2/workspaces/second-ws", headers=admin_headers)
    assert os.listdir(os.path.join(instance_path, "avatars")) == []

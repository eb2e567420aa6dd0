"""Issue 12, items 6, 7 and 13: slow avatar bodies, GIF/APNG/WebP frame extents, avatar clean-up.

 6. A client still sending an avatar body must not hold the per-process upload
    slot: other uploads go through meanwhile (in process, whatever the front end
    does with bodies, and on the real server with 4 trickling connections).
 7. Every frame's extent (and the total over frames) is checked from the file's
    block structure before any pixel is decoded; Pillow's own decompression-bomb
    limit follows WSSERVER_AVATAR_MAX_SIDE.
13. A removal that fails after its commit is retried until it succeeds: with no
    request in flight, the avatar folder holds exactly the files workspaces refer
    to, without a restart.
"""
import base64
import io
import json
import os
import random
import resource
import socket
import sqlite3
import struct
import threading
import time
import zlib

import pytest
import requests
from PIL import Image

from engines import stored
from conftest import ADMIN_TOKEN, API, TEST_RATE_LIMIT, LiveServer, assert_error, bearer, png_base64
from wsserver import create_app
from wsserver.storage.models import Workspace
from wsserver.storage import avatar_files


# --- helpers ----------------------------------------------------------------------------------------------


def encode(raw):
    return base64.b64encode(raw).decode("ascii")


def upload(client, headers, fullname, raw, content_type):
    body = {"filename": "avatar", "contentType": content_type, "data": encode(raw)}
    return client.post(f"{API}/workspaces/{fullname}/avatar", json=body, headers=headers)


def avatar_dir(app_or_path):
    instance = app_or_path if isinstance(app_or_path, str) else app_or_path.config["INSTANCE_PATH"]
    return os.path.join(instance, "avatars")


def files_on_disk(folder):
    """Stored avatar files (temporaries of uploads in flight left out)."""
    return {name for name in os.listdir(folder) if not name.startswith(avatar_files.TEMPORARY_PREFIX)}


def referenced_files(instance_path):
    rows = stored(instance_path, "SELECT avatar_file FROM workspace WHERE avatar_file IS NOT NULL")
    return {name for (name,) in rows}


def wait_until(condition, seconds):
    deadline = time.monotonic() + seconds
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@pytest.fixture
def owner(accounts, make_workspace):
    account = accounts.create("gif-owner")
    make_workspace(account["headers"], "team-a")
    return account


# --- GIF files written by hand: any logical screen, any frame descriptor ----------------------------------


def _sub_blocks(data):
    return b"".join(bytes([len(data[i:i + 255])]) + data[i:i + 255] for i in range(0, len(data), 255)) + b"\x00"


def _lzw_one_colour(pixels, min_code_size=2):
    """GIF LZW codes for `pixels` pixels of colour 0: a few KB even for 64 million pixels."""
    clear, end = 1 << min_code_size, (1 << min_code_size) + 1
    out, accumulator, bits = bytearray(), 0, 0
    code_size, next_code, longest = min_code_size + 1, end + 1, 1

    def emit(code):
        nonlocal accumulator, bits
        accumulator |= code << bits
        bits += code_size
        while bits >= 8:
            out.append(accumulator & 0xFF)
            accumulator >>= 8
            bits -= 8

    emit(clear)
    while pixels:
        run = min(longest, pixels)
        emit(0 if run == 1 else end + run - 1)  # the code for a run of `run` zeros
        pixels -= run
        if run == longest and next_code < 4096:  # the encoder adds "this run + one more"
            next_code += 1
            longest += 1
            if next_code > 1 << code_size and code_size < 12:
                code_size += 1
    emit(end)
    if bits:
        out.append(accumulator & 0xFF)
    return bytes(out)


def gif_bytes(screen, frames):
    """A GIF with this logical screen and one fully coded frame per (left, top, width, height)."""
    out = b"GIF89a" + struct.pack("<HHBBB", screen[0], screen[1], 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    out += b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"  # loop forever
    for left, top, width, height in frames:
        out += b"!\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 100 ms
        out += b"," + struct.pack("<HHHHB", left, top, width, height, 0) + b"\x02"
        out += _sub_blocks(_lzw_one_colour(width * height))
    return out + b";"


# --- 7: every frame measured before any pixel is decoded ---------------------------------------------------

# (screen, frames) -> what a decoder would have to allocate without the checks
HUGE_GIFS = {
    # the attack as reported: a 16x16 screen, then an 8000x8000 frame (Pillow grows the canvas to it)
    "second frame 8000x8000 on a 16x16 screen": ((16, 16), [(0, 0, 16, 16), (0, 0, 8000, 8000)]),
    "thirteen 8000x8000 frames on a 16x16 screen": ((16, 16), [(0, 0, 16, 16)] + [(0, 0, 8000, 8000)] * 13),
    "first frame 8000x8000 on a 16x16 screen": ((16, 16), [(0, 0, 8000, 8000)]),
    "a small frame pushed past the side limit by its offset": ((16, 16), [(0, 0, 16, 16), (4090, 0, 16, 16)]),
    # every frame and the grown canvas within 4096 a side, but three 3000x3000 canvases are over 4096² pixels
    "frames within the side limit, over the budget together": (
        (16, 16), [(0, 0, 16, 16), (0, 0, 3000, 3000), (0, 0, 3000, 3000)]),
}


@pytest.mark.parametrize("case", list(HUGE_GIFS))
def test_gif_frames_past_the_screen_are_measured_before_decoding(client, app, owner, case):
    screen, frames = HUGE_GIFS[case]
    raw = gif_bytes(screen, frames)
    assert len(raw) < 400 * 1024
    before = client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json()
    peak = max_rss_mib()

    started = time.monotonic()
    response = upload(client, owner["headers"], "team-a", raw, "image/gif")
    elapsed = time.monotonic() - started

    assert_error(response, 422, details={"data"})
    assert elapsed < 1.0, f"took {elapsed:.2f}s"
    assert max_rss_mib() - peak < 64, "a large allocation happened"
    assert files_on_disk(avatar_dir(app)) == set()
    assert client.get(f"{API}/workspaces/team-a", headers=owner["headers"]).get_json() == before
    assert Workspace.get(Workspace.fullname == "team-a").avatar_file is None


def test_the_reported_gif_answers_in_well_under_a_second_without_growing_the_process(client, owner):
    raw = gif_bytes((16, 16), [(0, 0, 16, 16), (0, 0, 8000, 8000)])
    peak = max_rss_mib()
    started = time.monotonic()

    response = upload(client, owner["headers"], "team-a", raw, "image/gif")

    elapsed, growth = time.monotonic() - started, max_rss_mib() - peak
    print(f"\n8000x8000 GIF frame ({len(raw)} bytes): {response.status_code} in {elapsed * 1000:.1f} ms, "
          f"peak RSS +{growth:.1f} MiB")
    error = assert_error(response, 422, details={"data"})
    assert "8000x8000" in error["message"]
    assert elapsed < 0.5 and growth < 16


def test_a_gif_frame_growing_the_canvas_within_the_limits_is_still_accepted(client, app, owner):
    raw = gif_bytes((16, 16), [(0, 0, 16, 16), (8, 8, 40, 24)])  # the canvas grows to 48x32

    response = upload(client, owner["headers"], "team-a", raw, "image/gif")

    assert response.status_code == 200, response.get_data(as_text=True)
    stored = os.path.join(avatar_dir(app), response.get_json()["fileName"])
    with Image.open(stored) as image:
        assert image.format == "GIF" and max(image.size) <= 48


def test_pillow_decompression_bomb_limit_follows_the_side_limit(instance_path, monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored afterwards
    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "AVATAR_MAX_SIDE": 64})
    client = app.test_client()
    client.put(f"{API}/workspaces/team-a", json={"fullname": "team-a"}, headers=bearer(ADMIN_TOKEN))

    response = upload(client, bearer(ADMIN_TOKEN), "team-a", gif_bytes((8, 8), [(0, 0, 8, 8)]), "image/gif")

    assert response.status_code == 200
    assert Image.MAX_IMAGE_PIXELS == 64 * 64


def test_pillow_own_limit_stops_a_grown_gif_canvas_even_without_the_structure_check(client, owner, monkeypatch):
    # the second line of defence: were the block walk to miss a frame, Pillow raises instead of allocating
    from wsserver.images import reencoding

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)
    monkeypatch.setattr(reencoding, "_check_layout", lambda raw, image_type, max_side: None)
    peak = max_rss_mib()
    started = time.monotonic()

    response = upload(client, owner["headers"], "team-a", gif_bytes((16, 16), [(0, 0, 16, 16), (0, 0, 8000, 8000)]),
                      "image/gif")

    assert_error(response, 422, details={"data"})
    assert time.monotonic() - started < 1.0 and max_rss_mib() - peak < 64


def _animation(fmt, size=(16, 16), count=2, **options):
    frames = [Image.new("RGB", size, (60 * number, 0, 0)) for number in range(count)]
    out = io.BytesIO()
    frames[0].save(out, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **options)
    return out.getvalue()


def apng_with_second_frame(width, height, left=0, top=0):
    """A 16x16 APNG whose second fcTL places a width x height frame at (left, top)."""
    raw = bytearray(_animation("PNG"))
    position, controls = 8, []
    while position + 8 <= len(raw):
        length, kind = struct.unpack_from(">I4s", raw, position)
        if kind == b"fcTL":
            controls.append(position)
        position += 12 + length
    second = controls[1]
    struct.pack_into(">IIII", raw, second + 12, width, height, left, top)
    struct.pack_into(">I", raw, second + 8 + 26, zlib.crc32(bytes(raw[second + 4:second + 8 + 26])))
    return bytes(raw)


def _riff_chunks(raw):
    position = 12
    while position + 8 <= len(raw):
        (length,) = struct.unpack_from("<I", raw, position + 4)
        yield raw[position:position + 4], position, length
        position += 8 + length + (length & 1)


def webp_with_second_frame(width, height, bitstream_side=None):
    """A 16x16 animated WebP whose second ANMF says width x height; with `bitstream_side`, its image
    really is that big (a lossless one-colour image, a few KB)."""
    raw = _animation("WEBP", lossless=True)
    if bitstream_side:
        still = io.BytesIO()
        Image.new("RGB", (bitstream_side, bitstream_side), (5, 5, 5)).save(still, "WEBP", lossless=True)
        still = still.getvalue()
        image_chunk = next(still[p:p + 8 + n + (n & 1)] for kind, p, n in _riff_chunks(still) if kind == b"VP8L")
    out, seen = b"", 0
    for kind, position, length in _riff_chunks(raw):
        chunk = raw[position:position + 8 + length + (length & 1)]
        if kind == b"ANMF":
            seen += 1
            if seen == 2:
                header = bytearray(chunk[8:24])
                header[6:9], header[9:12] = (width - 1).to_bytes(3, "little"), (height - 1).to_bytes(3, "little")
                body = bytes(header) + (image_chunk if bitstream_side else chunk[24:])
                chunk = b"ANMF" + struct.pack("<I", len(body)) + body
        out += chunk
    return b"RIFF" + struct.pack("<I", 4 + len(out)) + b"WEBP" + out


OUTSIDE_THE_CANVAS = {
    # Pillow refuses these too ("APNG contains invalid frames"), but only when it seeks to the frame
    "APNG frame 8000x8000 on a 16x16 canvas": ("image/png", lambda: apng_with_second_frame(8000, 8000)),
    "APNG frame pushed out by its offset": ("image/png", lambda: apng_with_second_frame(16, 16, 10, 10)),
    # libwebp refuses a frame image larger than the canvas ("could not create decoder object")
    "WebP frame image 2000x2000 on a 16x16 canvas": ("image/webp", lambda: webp_with_second_frame(2000, 2000, 2000)),
    # a frame header larger than the canvas around a small image: libwebp decodes it, the format forbids it
    "WebP frame header 8000x8000 on a 16x16 canvas": ("image/webp", lambda: webp_with_second_frame(8000, 8000)),
}


@pytest.mark.parametrize("case", list(OUTSIDE_THE_CANVAS))
def test_apng_and_webp_frames_outside_their_canvas_are_refused(client, app, owner, case):
    content_type, make = OUTSIDE_THE_CANVAS[case]
    raw = make()
    peak = max_rss_mib()
    started = time.monotonic()

    response = upload(client, owner["headers"], "team-a", raw, content_type)

    assert_error(response, 422, details={"data"})
    assert time.monotonic() - started < 1.0 and max_rss_mib() - peak < 64
    assert files_on_disk(avatar_dir(app)) == set()


@pytest.mark.parametrize("content_type, fmt", [("image/png", "PNG"), ("image/webp", "WEBP"), ("image/gif", "GIF")])
def test_animations_with_frames_inside_the_canvas_still_pass(client, owner, content_type, fmt):
    response = upload(client, owner["headers"], "team-a", _animation(fmt, size=(24, 16), count=3), content_type)

    assert response.status_code == 200, response.get_data(as_text=True)


# --- 6: a slow body does not hold the upload slot --------------------------------------------------------


class HeldBackBody(io.BytesIO):
    """A request body whose bytes arrive only once `release` is set (at most 10 s): a slow client."""

    def __init__(self, data, release):
        super().__init__(data)
        self.release, self.reading = release, threading.Event()

    def _arriving(self):
        self.reading.set()
        self.release.wait(10)

    def read(self, *args):
        self._arriving()
        return super().read(*args)

    def read1(self, *args):
        self._arriving()
        return super().read1(*args)

    def readinto(self, buffer):
        self._arriving()
        return super().readinto(buffer)

    def readline(self, *args):
        self._arriving()
        return super().readline(*args)


def test_a_body_still_arriving_does_not_hold_the_upload_slot_in_process(app, owner):
    # Front-end independent: the app itself must not wait for a body while holding the slot.
    headers = {**owner["headers"], "Content-Type": "application/json"}
    body = json.dumps({"filename": "s.png", "contentType": "image/png", "data": png_base64("green")}).encode()
    release = threading.Event()
    slow_body = HeldBackBody(body, release)
    answers = {}

    def slow():
        answers["slow"] = app.test_client().post(f"{API}/workspaces/team-a/avatar", input_stream=slow_body,
                                                 headers=headers)

    def fast():
        started = time.monotonic()
        answers["fast"] = upload(app.test_client(), owner["headers"], "team-a",
                                 base64.b64decode(png_base64("red")), "image/png")
        answers["fast seconds"] = time.monotonic() - started

    slow_thread, fast_thread = threading.Thread(target=slow), threading.Thread(target=fast)
    slow_thread.start()
    try:
        assert slow_body.reading.wait(5)  # the slow request is inside the app, waiting for its body
        fast_thread.start()
        fast_thread.join(3)
    finally:
        release.set()
        slow_thread.join(15)
        fast_thread.join(15)
    assert "fast seconds" in answers and answers["fast seconds"] < 3, "the upload waited for the slow body"
    assert answers["fast"].status_code == 200
    assert answers["slow"].status_code == 200  # and the slow one, once its body is complete, is stored too


def test_slow_avatar_bodies_do_not_hold_up_other_uploads(instance_path):
    server = LiveServer(instance_path, env={"WSSERVER_WORKERS": "2", "WSSERVER_THREADS": "8"})
    sockets, stop = [], threading.Event()
    trickler = None
    try:
        for name in ("slow-target", "fast-target"):
            response = requests.put(f"{server.url}{API}/workspaces/{name}", json={"fullname": name},
                                    headers=bearer(ADMIN_TOKEN), timeout=10)
            assert response.status_code == 201
        head = (
            f"POST {API}/workspaces/slow-target/avatar HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Type: application/json\r\n"
            "Content-Length: 500000\r\n\r\n"
        ).encode() + b'{"filename": "slow.png", "contentType": "image/png", "data": "'
        for _ in range(4):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            sock.sendall(head)
            sockets.append(sock)

        def trickle():  # 4 bytes every 2 s on each connection, until told to stop
            while not stop.wait(2):
                for sock in sockets:
                    try:
                        sock.sendall(b"AAAA")
                    except OSError:
                        pass

        trickler = threading.Thread(target=trickle, daemon=True)
        trickler.start()
        time.sleep(1.5)  # the slow requests have reached the app and are reading their bodies

        timings = []
        for number in range(6):  # fresh connections: they land on both workers
            started = time.monotonic()
            response = requests.post(
                f"{server.url}{API}/workspaces/fast-target/avatar", headers=bearer(ADMIN_TOKEN), timeout=5,
                json={"filename": "f.png", "contentType": "image/png", "data": png_base64((number * 40, 9, 9))},
            )
            timings.append(time.monotonic() - started)
            assert response.status_code == 200, response.text
        print(f"\nuploads beside 4 slow bodies: {', '.join(f'{t * 1000:.0f}' for t in timings)} ms")
        assert max(timings) < 2.0
        # the slow ones are still sending: nothing of theirs was stored
        view = requests.get(f"{server.url}{API}/workspaces/slow-target", headers=bearer(ADMIN_TOKEN), timeout=5)
        assert view.json()["meta"]["avatar"] is None
    finally:
        stop.set()
        if trickler is not None:
            trickler.join(5)
        for sock in sockets:
            sock.close()
        server.stop()


# --- 13: clean-up after a lost lock race ------------------------------------------------------------------


def _file_of(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()["fileName"]


@pytest.mark.sqlite_only("a rival connection holds SQLite's write lock past the busy timeout")
def test_a_clean_up_that_loses_the_lock_race_is_retried_without_any_request(instance_path):
    from wsserver.storage.db import database

    app = create_app({"INSTANCE_PATH": instance_path, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": TEST_RATE_LIMIT,
                      "BUSY_TIMEOUT_MS": 200})
    client = app.test_client()
    admin = bearer(ADMIN_TOKEN)
    for name in ("doomed", "kept"):
        assert client.put(f"{API}/workspaces/{name}", json={"fullname": name}, headers=admin).status_code == 201
    doomed = _file_of(upload(client, admin, "doomed", base64.b64decode(png_base64("red")), "image/png"))
    kept = _file_of(upload(client, admin, "kept", base64.b64decode(png_base64("blue")), "image/png"))
    folder = avatar_dir(app)

    # Another writer takes SQLite's write lock between the DELETE's commit and the clean-up's own
    # transaction, and keeps it past the busy timeout: the clean-up loses the race.
    rival = sqlite3.connect(os.path.join(instance_path, "wsserver.sqlite3"), isolation_level=None)
    seen = {"delete": False, "locked": False}

    def trace(statement):
        text = statement.lstrip().upper()
        if text.startswith('DELETE FROM "WORKSPACE"'):
            seen["delete"] = True
        elif seen["delete"] and not seen["locked"] and text.startswith("BEGIN"):
            rival.execute("BEGIN IMMEDIATE")
            seen["locked"] = True

    connection = database.connection()  # the test client runs requests in this thread, on this connection
    connection.set_trace_callback(trace)
    try:
        response = client.delete(f"{API}/workspaces/doomed", headers=admin)
    finally:
        connection.set_trace_callback(None)
    try:
        assert response.status_code == 200
        assert seen["locked"]
        assert doomed in files_on_disk(folder)  # the clean-up could not run yet
        time.sleep(0.5)  # it keeps failing while the lock is held, and never removes a referenced file
        assert files_on_disk(folder) == {doomed, kept}
    finally:
        rival.execute("COMMIT")
        rival.close()

    # No request from here on: the file goes by itself, the referenced one stays, and the retry queue
    # empties (it drops a name just after removing its file: waited for together, not read in between).
    assert wait_until(lambda: files_on_disk(folder) == {kept} and not avatar_files.pending_removals(), 5), \
        (files_on_disk(folder), avatar_files.pending_removals())
    assert referenced_files(instance_path) == {kept}


def test_a_removal_that_fails_once_is_retried(client, app, owner, monkeypatch):
    first = _file_of(upload(client, owner["headers"], "team-a", base64.b64decode(png_base64("red")), "image/png"))
    real_remove, failures = os.remove, []

    def flaky_remove(path):
        if os.path.basename(path) == first and not failures:
            failures.append(path)
            raise PermissionError(13, "Permission denied", path)
        real_remove(path)

    monkeypatch.setattr(os, "remove", flaky_remove)
    second = _file_of(upload(client, owner["headers"], "team-a", base64.b64decode(png_base64("blue")), "image/png"))

    assert failures  # the replaced file's removal failed once...
    folder = avatar_dir(app)
    assert wait_until(lambda: files_on_disk(folder) == {second}, 5), files_on_disk(folder)  # ...and was retried
    assert referenced_files(app.config["INSTANCE_PATH"]) == {second}


RACE_SECONDS = 6
RACE_NAMES = ["race-0", "race-1", "race-2"]


def test_racing_writers_leave_exactly_the_referenced_avatar_files_without_a_restart(instance_path):
    # 16 threads racing PUT/DELETE/join/level changes/avatar uploads on three names, every upload a
    # new image (a lost file is not hidden by a later identical upload). A short busy timeout makes
    # the clean-up after a commit lose its lock race often, as it sometimes does under the default.
    server = LiveServer(instance_path, env={"WSSERVER_THREADS": "8", "WSSERVER_BUSY_TIMEOUT_MS": "1"})
    counts = {}
    try:
        tokens = [ADMIN_TOKEN]
        for number in range(3):
            response = requests.post(f"{server.url}{API}/accounts", json={"username": f"racer-{number}"},
                                     headers=bearer(ADMIN_TOKEN), timeout=10)
            assert response.status_code == 201
            tokens.append(response.json()["token"])
        deadline = time.monotonic() + RACE_SECONDS
        lock = threading.Lock()

        def client(number):
            rng = random.Random(number)
            session = requests.Session()
            while time.monotonic() < deadline:
                token, name = rng.choice(tokens), rng.choice(RACE_NAMES)
                base = f"{server.url}{API}/workspaces/{name}"
                operation = rng.choice(["put", "avatar", "avatar", "delete", "join", "level", "unlink"])
                try:
                    if operation == "put":
                        response = session.put(base, json={"fullname": name}, headers=bearer(token), timeout=30)
                    elif operation == "avatar":
                        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
                        response = session.post(base + "/avatar", headers=bearer(token), timeout=30, json={
                            "filename": "x.png", "contentType": "image/png", "data": png_base64(colour, side=6)})
                    elif operation == "delete":
                        response = session.delete(base, headers=bearer(token), timeout=30)
                    elif operation == "unlink":
                        response = session.put(base, json={"fullname": name, "meta": {"avatar": None}},
                                               headers=bearer(token), timeout=30)
                    else:
                        view = session.get(base, headers=bearer(ADMIN_TOKEN), timeout=30)
                        if view.status_code != 200:
                            continue
                        if operation == "join":
                            response = session.post(base + "/acl", json={"invite": view.json()["invite"]},
                                                    headers=bearer(token), timeout=30)
                        else:
                            entries = session.get(base + "/acl", headers=bearer(ADMIN_TOKEN), timeout=30)
                            if entries.status_code != 200 or not entries.json():
                                continue
                            entry = rng.choice(entries.json())["id"]
                            response = session.put(f"{base}/acl/{entry}", headers=bearer(token), timeout=30,
                                                   json={"level": rng.choice(["owner", "admin", "user"])})
                except requests.RequestException:
                    continue
                with lock:
                    key = (operation, response.status_code)
                    counts[key] = counts.get(key, 0) + 1

        threads = [threading.Thread(target=client, args=(number,)) for number in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert counts.get(("avatar", 200)) and counts.get(("delete", 200))

        # No request in flight now, and the server keeps running: the folder settles on its own.
        folder = avatar_dir(instance_path)
        settled = wait_until(lambda: files_on_disk(folder) == referenced_files(instance_path), 8)
        on_disk, referenced = files_on_disk(folder), referenced_files(instance_path)
        assert settled, {"unreferenced": sorted(on_disk - referenced), "missing": sorted(referenced - on_disk)}
        assert set(os.listdir(folder)) == on_disk  # no temporary file either
    finally:
        server.stop()
        lost = server.output().count("could not remove avatar files")
        print(f"\nrace: {sum(counts.values())} requests, {lost} clean-ups lost the lock race and were retried")

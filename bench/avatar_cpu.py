"""Server CPU of one avatar upload, stage by stage, in this process (issue 17: a 1 MiB avatar <= 40 ms).

    python bench/avatar_cpu.py                  the stage table for the three images
    python bench/avatar_cpu.py --alternatives   and the alternatives measured for the expensive stages
    python bench/avatar_cpu.py --runs 41        more runs per figure (default 21)
    python bench/avatar_cpu.py --tree DIR       measure another checkout's wsserver (same images), e.g.
                                                DIR from `git archive HEAD wsserver schemas | tar -x -C DIR`

The images: the benchmark's noisy PNG just under 1 MiB (the benchmark's avatar_upload_file, the
very same bytes), a photo-like JPEG of about the same size, and a small PNG. Each figure is
the median CPU time (time.process_time: this process, every thread) of --runs runs after one
warm-up run, in ms. Stages are wsserver's own functions, called as the upload path calls them:

    json        the API's body parse: UTF-8 decode of the body, then the app's JSON provider
    schema      the upload schema (webargs' load of AvatarUploadSchema)
    base64      services.avatars.decode_data (strict base64)
    checks      the pixel-budget checks: the file's block structure, then Pillow's header parse
    decode      Pillow's decode of the pixels
    strip       the clean, upright copy without metadata
    re-encode   saving the clean image again
    sha256      the content-addressed file name
    write       storage.avatar_files.write_temporary (write, fsync), then the file is removed
    reencode()  wsserver.images.reencode: checks + decode + strip + re-encode, as one call
    service     services.avatars.upload_avatar (parse excluded: from base64 text to the stored avatar)
    request     the whole POST through Flask's test client (routing, auth, parse, service, answer;
                the access log line is not written)
    request faults  minor page faults per request (fresh memory: each costs CPU, in the kernel)

The machine is shared: CPU time, not wall time, and short runs.
"""
import argparse
import base64
import binascii
import hashlib
import importlib
import io
import json
import logging
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def _tree_from_argv(argv):
    """--tree DIR: the wsserver checkout to measure (e.g. `git archive HEAD | tar -x -C DIR`), before importing it."""
    for index, argument in enumerate(argv):
        if argument == "--tree" and index + 1 < len(argv):
            return os.path.abspath(argv[index + 1])
        if argument.startswith("--tree="):
            return os.path.abspath(argument.split("=", 1)[1])
    return ROOT


TREE = _tree_from_argv(sys.argv[1:])
for path in (HERE, TREE):  # the measured tree first
    if path in sys.path:
        sys.path.remove(path)
    sys.path.insert(0, path)

from PIL import Image, ImageChops  # noqa: E402

from schemas.avatars import AvatarUploadSchema  # noqa: E402
from wsserver import create_app, images  # noqa: E402
from wsserver.images import layout, reencoding  # noqa: E402
from wsserver.services import avatars  # noqa: E402
from wsserver.storage import avatar_files  # noqa: E402

try:  # the stored-PNG path (absent in a tree from before it)
    png_module = importlib.import_module("wsserver.images.png")
except ImportError:
    png_module = None

# Imported after wsserver: the benchmark's modules put this checkout first on sys.path.
try:  # the benchmark's own avatar body (bench/load.py; bench/run.py before the benchmark was split up)
    from load import avatar_upload_file  # noqa: E402
except ImportError:
    from run import avatar_upload_file  # noqa: E402

ADMIN_TOKEN = "wss_bench-avatar-cpu-0123456789abcdefghijklmnopqrstuvwxyz"
MAX_SIDE = 4096


# --- the images ---------------------------------------------------------------------------------


def noisy_png_body(work):
    """The benchmark's own upload body (JSON bytes) and the PNG in it."""
    with open(avatar_upload_file(work), "rb") as handle:
        body = handle.read()
    return body, base64.b64decode(json.loads(body)["data"])


def photo_like(width, height, seed=2):
    """Smooth colour fields, a mid-frequency texture and fine grain: compresses like a photo."""
    rng = random.Random(seed)
    base = Image.frombytes("RGB", (16, 12), rng.randbytes(16 * 12 * 3)).resize((width, height), Image.BICUBIC)
    small = (width // 8, height // 8)
    texture = Image.frombytes("RGB", small, rng.randbytes(small[0] * small[1] * 3)).resize((width, height), Image.BICUBIC)
    grain = Image.frombytes("L", (width, height), rng.randbytes(width * height)).point(lambda v: 120 + v // 16)
    return ImageChops.add(Image.blend(base, texture, 0.35), Image.merge("RGB", (grain,) * 3), 1, -128)


def saved(image, fmt, **options):
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def small_png():
    """A 64x64 logo: a few flat shapes on a background (about 1 KB)."""
    image = Image.new("RGB", (64, 64), (240, 240, 235))
    image.paste((200, 30, 30), (8, 8, 40, 40))
    image.paste((30, 90, 200), (24, 24, 56, 56))
    return saved(image, "PNG")


def body_of(raw, content_type, filename):
    text = base64.b64encode(raw).decode("ascii")
    return json.dumps({"filename": filename, "contentType": content_type, "data": text}).encode()


# --- measuring ----------------------------------------------------------------------------------


def cpu_ms(function, runs):
    """Median process CPU time of `function()` in ms, over `runs` runs after a warm-up."""
    function()
    times = []
    for _ in range(runs):
        start = time.process_time()
        function()
        times.append(time.process_time() - start)
    return statistics.median(times) * 1000


def minor_faults(function, runs):
    """Median minor page faults of `function()`: each fresh page of memory costs CPU time too."""
    function()
    counts = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        function()
        counts.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return statistics.median(counts)


class Instance:
    """A wsserver app on a temporary instance folder, an account owning workspace `bench`."""

    def __init__(self, folder):
        self.app = create_app({"INSTANCE_PATH": folder, "ADMIN_TOKEN": ADMIN_TOKEN, "RATE_LIMIT": "off"})
        self.client = self.app.test_client()
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        answer = self.client.post("/api/v2/accounts", json={"username": "bench"}, headers=admin)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        self.headers = {"Authorization": f"Bearer {answer.get_json()['token']}", "Content-Type": "application/json"}
        answer = self.client.put("/api/v2/workspaces/bench", json={"fullname": "bench"}, headers=self.headers)
        assert answer.status_code == 201, answer.get_data(as_text=True)
        with self.app.app_context():
            from wsserver.storage.models import Account

            self.account = Account.get(Account.username == "bench")

    def post(self, body):
        answer = self.client.post("/api/v2/workspaces/bench/avatar", data=body, headers=self.headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
        return answer


def stages(instance, body, runs):
    """{stage: ms} for one upload body, each stage on its own input (the output of the one before)."""
    app = instance.app
    text = body.decode("utf-8")
    payload = app.json.loads(text)
    content_type = payload["contentType"]
    image_type = images.IMAGE_TYPES[content_type]
    raw = avatars.decode_data(payload["data"], content_type)
    images.limit_pillow(MAX_SIDE)

    def checks():
        layout._check_layout(raw, image_type, MAX_SIDE)
        reencoding._check_header(raw, image_type, MAX_SIDE)

    def decode():
        image = reencoding._open(raw, image_type)
        image.load()
        return image

    decoded = decode()
    clean = reencoding._upright(decoded) if image_type.extension != "jpg" else decoded
    stored = images.reencode(raw, image_type, MAX_SIDE)
    schema = AvatarUploadSchema()
    figures = {
        "json": cpu_ms(lambda: app.json.loads(body.decode("utf-8")), runs),
        "schema": cpu_ms(lambda: schema.load(payload), runs),
        "base64": cpu_ms(lambda: avatars.decode_data(payload["data"], content_type), runs),
        "checks": cpu_ms(checks, runs),
        "decode": cpu_ms(decode, runs),
        "strip": cpu_ms(lambda: reencoding._upright(decoded), runs) if image_type.extension != "jpg" else None,
        "re-encode": cpu_ms(lambda: _save_only(clean, image_type), runs),
        "sha256": cpu_ms(lambda: hashlib.sha256(stored).hexdigest(), runs),
    }
    with app.app_context():
        figures["write"] = cpu_ms(lambda: os.remove(avatar_files.write_temporary(stored)), runs)
    figures["reencode()"] = cpu_ms(lambda: images.reencode(raw, image_type, MAX_SIDE), runs)

    def service():
        with app.test_request_context("/api/v2/workspaces/bench/avatar", method="POST"):
            avatars.upload_avatar(instance.account, "bench", content_type, payload["data"], "http://localhost/")

    figures["service"] = cpu_ms(service, runs)
    figures["request"] = cpu_ms(lambda: instance.post(body), runs)
    figures["request faults"] = minor_faults(lambda: instance.post(body), runs)
    return figures, len(raw), len(stored)


def _save_only(clean, image_type):
    """The re-encoding step alone, on an already clean image (what reencode() does after strip)."""
    out = io.BytesIO()
    if image_type.extension != "png":
        reencoding._save_jpeg(clean, out)
    elif png_module is not None:
        png_module.save_still_png(clean, out)
    else:  # a tree from before the stored-PNG path
        clean.save(out, "PNG")
    return out.getvalue()


STAGES = ("json", "schema", "base64", "checks", "decode", "strip", "re-encode", "sha256", "write",
          "reencode()", "service", "request", "request faults")


def print_table(results, runs):
    names = list(results)
    print(f"\nCPU ms per upload (median of {runs} runs, time.process_time)\n")
    print("| stage | " + " | ".join(names) + " |")
    print("| --- | " + " | ".join("---:" for _ in names) + " |")
    for stage in STAGES:
        cells = []
        for name in names:
            value = results[name][0].get(stage)
            cells.append("—" if value is None else f"{value:.0f}" if stage.endswith("faults") else f"{value:.2f}")
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print("| bytes in → stored | " + " | ".join(f"{results[n][1]:,} → {results[n][2]:,}" for n in names) + " |")


# --- alternatives -------------------------------------------------------------------------------


def alternatives(noisy_png, photo_jpeg, photo_png, runs):
    """The expensive stages done other ways: (what, ms, stored bytes or '')."""
    rows = []

    def row(what, function, size=None):
        rows.append((what, cpu_ms(function, runs), "" if size is None else f"{size:,}"))

    text = base64.b64encode(noisy_png).decode("ascii")
    row("base64: binascii.a2b_base64(text, strict_mode=True) (before)", lambda: binascii.a2b_base64(text, strict_mode=True))
    try:
        import pybase64

        row(f"base64: pybase64.b64decode(text, validate=True) (pybase64 {pybase64.__version__}; now)",
            lambda: pybase64.b64decode(text, validate=True))
    except ImportError:
        rows.append(("base64: pybase64 not installed", float("nan"), ""))
    row("base64: base64.b64decode(text, validate=True)", lambda: base64.b64decode(text, validate=True))
    row("base64: binascii.a2b_base64(text) (not strict)", lambda: binascii.a2b_base64(text))
    row("base64: a2b_base64(text.encode('ascii'), strict_mode=True)",
        lambda: binascii.a2b_base64(text.encode("ascii"), strict_mode=True))
    body = json.dumps({"data": text}).encode()
    row("json: json.loads(body.decode())", lambda: json.loads(body.decode("utf-8")))
    row("json: json.loads(body) (bytes)", lambda: json.loads(body))
    try:
        import orjson

        row(f"json: orjson.loads(body) (orjson {orjson.__version__}, not a dependency)", lambda: orjson.loads(body))
    except ImportError:
        pass

    for name, raw in (("noisy PNG", noisy_png), ("photo-like PNG", photo_png)):
        image = Image.open(io.BytesIO(raw))
        image.load()
        row(f"{name}: Pillow decode (Image.open + load)", lambda raw=raw: Image.open(io.BytesIO(raw)).load())
        for options in ({}, {"compress_level": 1}, {"compress_level": 0}, {"compress_level": 1, "compress_type": 2},
                        {"compress_level": 1, "compress_type": 3}, {"optimize": True}):
            label = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults (level 6, Z_FILTERED)"
            row(f"{name}: Pillow PNG save, {label}", lambda image=image, o=options: saved(image, "PNG", **o),
                len(saved(image, "PNG", **options)))
        if png_module is not None:
            row(f"{name}: wsserver's choice of a way, png.encoding() (Pillow on a sample of rows): "
                f"{_way_name(png_module.encoding(image))}", lambda image=image: png_module.encoding(image))
            row(f"{name}: wsserver stored PNG (filter none, deflate stored blocks)",
                lambda image=image: png_module.stored_png(image), len(png_module.stored_png(image)))
        row(f"{name}: copy the critical chunks only (no re-encoding; not chosen)",
            lambda raw=raw: _critical_chunks(raw), len(_critical_chunks(raw)))
        _vips_rows(row, rows, name, raw, image)

    image = Image.open(io.BytesIO(photo_jpeg))
    image.load()
    row("photo JPEG: Pillow decode", lambda: Image.open(io.BytesIO(photo_jpeg)).load())

    def draft_decode():
        drafted = Image.open(io.BytesIO(photo_jpeg))
        drafted.draft("RGB", (drafted.width // 2, drafted.height // 2))
        drafted.load()

    row("photo JPEG: Pillow decode with draft() to 1/2 scale (changes the pixels; not usable)", draft_decode)
    row('photo JPEG: Pillow save quality="keep" (before and now)',
        lambda: saved(image, "JPEG", quality="keep", subsampling="keep"), len(saved(image, "JPEG", quality="keep")))
    row("photo JPEG: Pillow save quality=90", lambda: saved(image, "JPEG", quality=90), len(saved(image, "JPEG", quality=90)))
    _vips_rows(row, rows, "photo JPEG", photo_jpeg, image)
    return rows


def _way_name(options):
    if options is None:
        return "stored"
    return "Huffman only" if options else "Pillow's default"


def _critical_chunks(raw):
    """The PNG with only IHDR, PLTE, tRNS, IDAT, IEND kept: what skipping re-encoding would store."""
    out, position = [raw[:8]], 8
    while position + 8 <= len(raw):
        length = int.from_bytes(raw[position:position + 4], "big")
        kind = raw[position + 4:position + 8]
        if kind in (b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"):
            out.append(raw[position:position + 12 + length])
        position += 12 + length
    return b"".join(out)


def _vips_rows(row, rows, name, raw, image):
    try:
        import pyvips
    except (ImportError, OSError):
        rows.append((f"{name}: pyvips not importable (pip install pyvips pyvips-binary)", float("nan"), ""))
        return
    pyvips.cache_set_max(0)
    version = ".".join(str(pyvips.version(i)) for i in range(3))
    suffix = ".png" if raw[:4] == b"\x89PNG" else ".jpg"

    def roundtrip(**options):
        decoded = pyvips.Image.new_from_buffer(raw, "", access="sequential")
        return decoded.write_to_buffer(suffix, keep="none", **options)

    def from_memory(**options):
        rgb = image.convert("RGB")
        source = pyvips.Image.new_from_memory(rgb.tobytes(), rgb.width, rgb.height, 3, "uchar")
        return source.write_to_buffer(suffix, keep="none", **options)

    row(f"{name}: pyvips {version} decode", lambda: pyvips.Image.new_from_buffer(raw, "").copy_memory())
    if suffix == ".png":
        for options in ({}, {"compression": 1}, {"compression": 0}, {"compression": 0, "filter": "none"}):
            label = ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults"
            row(f"{name}: pyvips decode + pngsave, {label}", lambda o=options: roundtrip(**o), len(roundtrip(**options)))
        row(f"{name}: pyvips pngsave from Pillow's pixels, compression=0, filter=none",
            lambda: from_memory(compression=0, filter="none"), len(from_memory(compression=0, filter="none")))
    else:
        row(f"{name}: pyvips decode + jpegsave Q=90", lambda: roundtrip(Q=90), len(roundtrip(Q=90)))


def print_alternatives(rows, runs):
    print(f"\nAlternatives (CPU ms, median of {runs} runs)\n")
    print("| what | ms | stored bytes |")
    print("| --- | ---: | ---: |")
    for what, ms, size in rows:
        print(f"| {what} | {'—' if ms != ms else f'{ms:.2f}'} | {size} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--alternatives", action="store_true", help="also measure the alternatives")
    parser.add_argument("--tree", default=ROOT, help="the wsserver checkout to measure (default: this one)")
    options = parser.parse_args(argv)
    print(f"wsserver measured: {os.path.dirname(os.path.dirname(images.__file__))}")
    work = tempfile.mkdtemp(prefix="avatar-cpu-")
    try:
        body, noisy_png = noisy_png_body(work)
        photo = photo_like(2000, 1500)
        photo_jpeg = saved(photo, "JPEG", quality=90)
        photo_png = saved(photo_like(800, 600), "PNG")
        tiny = small_png()
        instance = Instance(os.path.join(work, "instance"))
        logging.getLogger("wsserver").setLevel(logging.WARNING)  # no access log lines on the terminal
        results = {
            f"noisy PNG {Image.open(io.BytesIO(noisy_png)).width}²": stages(instance, body, options.runs),
            "photo JPEG 2000×1500": stages(instance, body_of(photo_jpeg, "image/jpeg", "photo.jpg"), options.runs),
            "small PNG 64²": stages(instance, body_of(tiny, "image/png", "logo.png"), options.runs),
        }
        print_table(results, options.runs)
        if options.alternatives:
            print_alternatives(alternatives(noisy_png, photo_jpeg, photo_png, options.runs), options.runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""bench/results.png: the chart of one benchmark run, drawn with Pillow (wsserver's own dependency, no plotting library).

From top to bottom:

- for each full size (every system measured: the issue's N = 1,000 and 100,000), grouped bars of
  requests per second (log scale) for get, list, search and PUT, wsserver beside PocketBase,
  json-server and bare Flask (wsserver on PostgreSQL in a paler colour, last), each bar labelled
  with its value, and under each group wsserver's ratios to the others;
- p50 latency against N (log-log) for list and for search, one line per system over the sizes
  where it was measured (wsserver's up to the million size), each point labelled.

A figure that is not valid (non-2xx answers, socket errors or a failed check) is hatched and
its label red.
"""
import math

from common import OPERATION_NAMES, find

BAR_OPERATIONS = ("get", "list", "search", "put")
ORDER = ("wsserver", "pocketbase", "json-server", "bare-flask", "wsserver-pg")
NAMES = {"wsserver": "wsserver (SQLite)", "pocketbase": "PocketBase", "json-server": "json-server",
         "bare-flask": "bare Flask (ceiling)", "wsserver-pg": "wsserver on PostgreSQL"}
COLOURS = {"wsserver": (31, 119, 180), "pocketbase": (148, 103, 189), "json-server": (214, 120, 40),
           "bare-flask": (140, 140, 140), "wsserver-pg": (150, 205, 150)}
RATIO_PEERS = (("pocketbase", "PocketBase"), ("json-server", "json-server"), ("bare-flask", "bare Flask"))
INVALID = (200, 0, 0)
GRID = (225, 225, 225)
WIDTH, LEFT, RIGHT = 1400, 100, 30
BAR_PANEL, LATENCY_PANEL = 360, 400


def _fonts():
    from PIL import ImageFont

    try:
        return {size: ImageFont.load_default(size=size) for size in (11, 12, 14, 16, 20)}
    except TypeError:  # Pillow without FreeType sizes
        default = ImageFont.load_default()
        return {size: default for size in (11, 12, 14, 16, 20)}


def _width(draw, text, font):
    box = draw.textbbox((0, 0), text, font=font)
    return box[2] - box[0]


def _vertical(image, x, y_centre, text, font):
    """Text turned 90° (reading upwards), its centre at height y_centre, its left edge at x."""
    from PIL import Image, ImageDraw

    box = font.getbbox(text)
    layer = Image.new("RGBA", (box[2] + 2, box[3] + 4), (255, 255, 255, 0))
    ImageDraw.Draw(layer).text((0, 0), text, font=font, fill="black")
    turned = layer.rotate(90, expand=True)
    image.paste(turned, (int(x), int(y_centre - turned.size[1] / 2)), turned)


def _rps(value):
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def _ms(value):
    return f"{value:,.0f} ms" if value >= 100 else f"{value:.1f} ms" if value >= 1 else f"{value:.2f} ms"


def _dashed(draw, start, end, fill, width, dash=9, gap=6):
    (x0, y0), (x1, y1) = start, end
    length = math.hypot(x1 - x0, y1 - y0) or 1
    position = 0.0
    while position < length:
        stop = min(position + dash, length)
        draw.line((x0 + (x1 - x0) * position / length, y0 + (y1 - y0) * position / length,
                   x0 + (x1 - x0) * stop / length, y0 + (y1 - y0) * stop / length), fill=fill, width=width)
        position = stop + gap


def _decade_label(exponent):
    value = 10.0 ** exponent
    return f"{value:,.0f}" if value >= 1 else f"{value:g}"


def _bar_panel(image, draw, fonts, rows, size, systems, top):
    """Grouped req/s bars of one N; returns the panel's bottom."""
    y0, y1 = top + 36, top + BAR_PANEL - 70
    x_left, x_right = LEFT, WIDTH - RIGHT
    draw.text((x_left, top + 6), f"N = {size:,} workspaces: requests per second by operation (higher is better, "
              "log scale)", fill="black", font=fonts[16])
    top_value = max([row.rps for row in rows if row.size == size] + [10])
    decades = max(1, math.ceil(math.log10(top_value)))
    for decade in range(0, decades + 1):
        y = y1 - (y1 - y0) * decade / decades
        draw.line((x_left, y, x_right, y), fill=GRID)
        label = _decade_label(decade)
        draw.text((x_left - 8 - _width(draw, label, fonts[12]), y - 7), label, fill="black", font=fonts[12])
    _vertical(image, 8, (y0 + y1) / 2, "requests per second (log)", fonts[14])
    operations = [op for op in BAR_OPERATIONS if any(find(rows, size, system, op) for system in systems)]
    group_w = (x_right - x_left) / max(len(operations), 1)
    bar_w = min((group_w - 40) / max(len(systems), 1), 90)
    for g, operation in enumerate(operations):
        gx = x_left + g * group_w + (group_w - bar_w * len(systems)) / 2
        for s, system in enumerate(systems):
            row = find(rows, size, system, operation)
            if row is None:
                continue
            x = gx + s * bar_w
            height = (y1 - y0) * max(0.0, math.log10(max(row.rps, 1))) / decades
            draw.rectangle((x, y1 - height, x + bar_w - 5, y1), fill=COLOURS[system])
            if not row.valid:
                for offset in range(0, int(height), 8):
                    draw.line((x, y1 - offset, x + bar_w - 5, y1 - offset - 6), fill="white", width=2)
            label = _rps(row.rps)
            font = fonts[12] if _width(draw, label, fonts[12]) <= bar_w + 6 else fonts[11]
            lx = x + (bar_w - 5) / 2 - _width(draw, label, font) / 2
            draw.text((lx, y1 - height - 15), label, fill="black" if row.valid else INVALID, font=font)
        name = OPERATION_NAMES[operation]
        centre = gx + (bar_w * len(systems) - 5) / 2
        draw.text((centre - _width(draw, name, fonts[14]) / 2, y1 + 6), name, fill="black", font=fonts[14])
        ws = find(rows, size, "wsserver", operation)
        parts = []
        for other, other_name in RATIO_PEERS:
            them = find(rows, size, other, operation)
            if ws is not None and them is not None and them.rps:
                value = ws.rps / them.rps
                parts.append(f"{value:.2f}x {other_name}" if value < 10 else f"{value:.0f}x {other_name}")
        if parts:  # wsserver's ratios, two lines: its peers, then the ceiling
            texts = ["wsserver = " + ", ".join(parts[:2]), ", ".join(parts[2:])]
            for line, text in enumerate(texts):
                font = fonts[12] if _width(draw, text, fonts[12]) <= group_w - 10 else fonts[11]
                draw.text((centre - _width(draw, text, font) / 2, y1 + 26 + 15 * line), text, fill=(60, 60, 60),
                          font=font)
    draw.line((x_left, y1, x_right, y1), fill="black")
    return top + BAR_PANEL


def _latency_plot(image, draw, fonts, rows, operation, box, systems):
    """p50 against N, log-log, one line per system, inside box = (x0, top, x1, bottom)."""
    x_left, top, x_right, bottom = box
    y0, y1 = top + 34, bottom - 56
    draw.text((x_left, top + 4), f"p50 latency against N: {OPERATION_NAMES[operation]} (lower is better, log scales)",
              fill="black", font=fonts[16])
    series = {system: sorted((row for row in rows if row.system == system and row.operation == operation),
                             key=lambda row: row.size) for system in systems}
    series = {system: points for system, points in series.items() if points}
    values = [row.p50_ms for points in series.values() for row in points if row.p50_ms > 0]
    sizes = sorted({row.size for points in series.values() for row in points})
    if not values:
        draw.text((x_left + 20, (y0 + y1) / 2), "not measured", fill="black", font=fonts[14])
        return
    low, high = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
    high = max(high, low + 1)
    lx_min, lx_max = math.log10(sizes[0]), math.log10(sizes[-1])
    pad = 0.5 if lx_max == lx_min else (lx_max - lx_min) * 0.12

    def x_of(size):
        return x_left + (x_right - x_left) * (math.log10(size) - lx_min + pad) / (lx_max - lx_min + 2 * pad)

    def y_of(value):
        return y1 - (y1 - y0) * (math.log10(max(value, 10.0 ** low)) - low) / (high - low)

    for exponent in range(low, high + 1):
        y = y_of(10.0 ** exponent)
        draw.line((x_left, y, x_right, y), fill=GRID)
        label = f"{_decade_label(exponent)} ms"
        draw.text((x_left - 8 - _width(draw, label, fonts[12]), y - 7), label, fill="black", font=fonts[12])
    for size in sizes:
        x = x_of(size)
        draw.line((x, y0, x, y1), fill=GRID)
        label = f"{size:,}"
        draw.text((x - _width(draw, label, fonts[12]) / 2, y1 + 6), label, fill="black", font=fonts[12])
    title = "N, workspaces (log scale)"
    draw.text(((x_left + x_right) / 2 - _width(draw, title, fonts[14]) / 2, y1 + 26), title, fill="black", font=fonts[14])
    _vertical(image, x_left - 88, (y0 + y1) / 2, "p50 latency, ms (log)", fonts[14])
    draw.rectangle((x_left, y0, x_right, y1), outline="black")
    placed = []
    for system in [system for system in systems if system in series][::-1]:  # wsserver drawn last, on top
        points = [(x_of(row.size), y_of(row.p50_ms), row) for row in series[system]]
        width = 4 if system == "wsserver" else 2
        for (xa, ya, _), (xb, yb, _) in zip(points, points[1:]):
            if system == "wsserver-pg":
                _dashed(draw, (xa, ya), (xb, yb), COLOURS[system], width)
            else:
                draw.line((xa, ya, xb, yb), fill=COLOURS[system], width=width)
        for x, y, row in points:
            r = 6 if system == "wsserver" else 4
            draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS[system],
                         outline=INVALID if not row.valid else "black")
    for system in series:  # the markers are obstacles for the labels
        for row in series[system]:
            x, y = x_of(row.size), y_of(row.p50_ms)
            placed.append((x - 6, y - 6, x + 6, y + 6))
    for system in [system for system in systems if system in series]:  # labels: wsserver's first, others where they fit
        for row in series[system]:
            x, y = x_of(row.size), y_of(row.p50_ms)
            text = _ms(row.p50_ms)
            w = _width(draw, text, fonts[12])
            for dx, dy in ((8, -18), (8, 4), (-w - 8, -18), (-w - 8, 4), (8, -34), (8, 20)):
                rect = (x + dx, y + dy, x + dx + w, y + dy + 14)
                inside = x_left < rect[0] and rect[2] < x_right and y0 < rect[1] and rect[3] < y1
                if inside and not any(rect[0] < o[2] and o[0] < rect[2] and rect[1] < o[3] and o[1] < rect[3]
                                      for o in placed):
                    placed.append(rect)
                    colour = (60, 140, 60) if system == "wsserver-pg" else COLOURS[system]
                    draw.text(rect[:2], text, fill=colour if row.valid else INVALID, font=fonts[12])
                    break


def draw_chart(rows, sizes, path, limits=None):
    """Write the chart of `rows` (common.Row) over `sizes` to `path` (PNG); `limits` names the limited sizes."""
    from PIL import Image, ImageDraw

    limits = limits or {}
    fonts = _fonts()
    full = [size for size in sizes if size not in limits and any(row.size == size for row in rows)]
    systems = [system for system in ORDER if any(row.system == system for row in rows)]
    bar_systems = [system for system in systems if any(row.system == system and row.size in full for row in rows)]
    height = 90 + BAR_PANEL * len(full) + LATENCY_PANEL + 30
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image)
    others = [NAMES[system].split(" (")[0] for system in ("pocketbase", "json-server", "bare-flask") if system in systems]
    versus = " against " + (", ".join(others[:-1]) + " and " + others[-1] if len(others) > 1 else "".join(others))
    draw.text((LEFT, 12), f"wsserver{versus if others else ''}: throughput at each N, latency as N grows",
              fill="black", font=fonts[20])
    x = LEFT
    for system in systems:
        draw.rectangle((x, 50, x + 16, 66), fill=COLOURS[system])
        draw.text((x + 22, 50), NAMES[system], fill="black", font=fonts[14])
        x += 22 + _width(draw, NAMES[system], fonts[14]) + 28
    draw.text((x, 50), "hatched bar / red label: not a valid figure", fill=INVALID, font=fonts[14])
    top = 90
    for size in full:
        top = _bar_panel(image, draw, fonts, rows, size, bar_systems, top)
    half = (WIDTH - LEFT - RIGHT) / 2
    for index, operation in enumerate(("list", "search")):
        box = (LEFT + index * (half + 10) + (90 if index else 0), top + 10,
               LEFT + index * (half + 10) + half - (0 if index else 10), top + LATENCY_PANEL)
        _latency_plot(image, draw, fonts, rows, operation, box, systems)
    note = "bench/results.md has every figure, the runs behind it and the conditions"
    draw.text((LEFT, height - 24), note, fill=(90, 90, 90), font=fonts[12])
    image.save(path)

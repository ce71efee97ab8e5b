"""Running Graphviz, with one repair dot needs: edge labels that land on each other.

dot places an edge label beside a virtual node and sometimes lets two labels of neighbouring
edges overlap (seen with branch labels leaving two gateways of one rank). So we lay the graph
out once (``dot -Tdot`` keeps every position), read the geometry (``-Tjson``), move any label
that overlaps a node or another label to the nearest free spot, and draw the positioned graph
with ``neato -n2`` (which draws exactly the positions it is given, clusters included).
"""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


class RenderError(RuntimeError):
    pass


@dataclass
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def hits(self, other: Box, pad: float = 2.0) -> bool:
        return (self.x0 < other.x1 + pad and other.x0 < self.x1 + pad
                and self.y0 < other.y1 + pad and other.y0 < self.y1 + pad)

    def moved(self, dx: float, dy: float) -> Box:
        return Box(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)


def _run(args: list[str], data: bytes | None = None) -> bytes:
    try:
        proc = subprocess.run(args, input=data, capture_output=True, timeout=120, check=False)
    except FileNotFoundError as exc:  # pragma: no cover - graphviz is a system requirement
        raise RenderError("未安装 Graphviz（dot），无法绘制流程图") from exc
    if proc.returncode != 0:
        raise RenderError(f"流程图绘制失败：{proc.stderr.decode('utf-8', 'replace')[:500]}")
    return proc.stdout


def _points_box(points) -> Box:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    return Box(min(xs), min(ys), max(xs), max(ys))


def _label_box(ops) -> Box | None:
    """The box of a drawn label: its background polygon, else its text runs."""
    boxes = []
    size = 14.0
    for op in ops or []:
        if op.get("op") == "P":
            return _points_box(op["points"])
        if op.get("op") == "F":
            size = float(op.get("size", size))
        if op.get("op") == "T":
            x, y = op["pt"]
            width = float(op.get("width", 0))
            x0 = {"l": x, "c": x - width / 2, "r": x - width}.get(op.get("align"), x)
            boxes.append(Box(x0, y - size * 0.3, x0 + width, y + size * 0.9))
    if not boxes:
        return None
    return Box(min(b.x0 for b in boxes), min(b.y0 for b in boxes), max(b.x1 for b in boxes),
               max(b.y1 for b in boxes))


def geometry(layout_json: dict, rings: bool = True) -> tuple[list[Box], list[tuple[str, Box]]]:
    """Fixed boxes (visible nodes, cluster and graph labels) and the edge labels (id, box).
    ``rings``: dot's sizes (before ``neato -n2`` draws them), where a node's second ring is not
    counted yet."""
    fixed: list[Box] = []
    for obj in layout_json.get("objects", []):
        if "bb" in obj and obj.get("lp") and obj.get("lwidth"):  # a cluster's label
            x, y = map(float, obj["lp"].split(","))
            w, h = float(obj["lwidth"]) * 72, float(obj["lheight"]) * 72
            fixed.append(Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))
        elif "pos" in obj and obj.get("style") != "invis":
            x, y = map(float, obj["pos"].split(","))
            w, h = float(obj.get("width", 0)) * 72, float(obj.get("height", 0)) * 72
            if rings and str(obj.get("peripheries", "1")) not in ("0", "1"):
                w, h = w + 20, h + 10  # neato draws the second ring outside the size dot reports
            if w > 2 and h > 2:
                fixed.append(Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))
    if layout_json.get("lp") and layout_json.get("lwidth"):
        x, y = map(float, layout_json["lp"].split(","))
        w, h = float(layout_json["lwidth"]) * 72, float(layout_json["lheight"]) * 72
        fixed.append(Box(x - w / 2, y - h / 2, x + w / 2, y + h / 2))
    labels: list[tuple[str, Box]] = []
    for edge in layout_json.get("edges", []):
        box = _label_box(edge.get("_ldraw_"))
        if box is not None and edge.get("id"):
            labels.append((edge["id"], box))
    return fixed, labels


def _offsets(step: float = 6.0, reach_x: int = 20, reach_y: int = 6):
    found = [(dx * step, dy * step) for dx in range(-reach_x, reach_x + 1) for dy in range(-reach_y, reach_y + 1)]
    return sorted(found, key=lambda d: (d[0] ** 2 + (1.6 * d[1]) ** 2, abs(d[1]), d[0]))


OFFSETS = _offsets()


def resolve(fixed: list[Box], labels: list[tuple[str, Box]]) -> dict[str, tuple[float, float]]:
    """Moves (dx, dy) for the edge labels that overlap a node or an earlier label."""
    moves: dict[str, tuple[float, float]] = {}
    placed: list[Box] = []
    for edge_id, box in labels:
        if not any(box.hits(b) for b in fixed) and not any(box.hits(b) for b in placed):
            placed.append(box)
            continue
        for dx, dy in OFFSETS:
            candidate = box.moved(dx, dy)
            if not any(candidate.hits(b) for b in fixed) and not any(candidate.hits(b) for b in placed):
                moves[edge_id] = (dx, dy)
                placed.append(candidate)
                break
        else:
            placed.append(box)
    return moves


def overlaps(layout_json: dict) -> list[tuple[str, str]]:
    """Pairs of things whose labels overlap (for tests and for deciding to repair)."""
    fixed, labels = geometry(layout_json, rings=False)  # the drawn geometry: the rings are counted
    found = []
    for i, (edge_id, box) in enumerate(labels):
        if any(box.hits(b, pad=0) for b in fixed):
            found.append((edge_id, "node"))
        for other_id, other in labels[i + 1:]:
            if box.hits(other, pad=0):
                found.append((edge_id, other_id))
    return found


_LP = re.compile(r'\b(x?lp)="([-\d.e]+),([-\d.e]+)"')


def patch_positions(laid: str, moves: dict[str, tuple[float, float]]) -> str:
    """Shift the ``lp`` of the given edges (by their ``id``) in ``dot -Tdot`` output."""
    for edge_id, (dx, dy) in moves.items():
        anchor = laid.find(f'id="{edge_id}"')
        if anchor < 0:
            anchor = laid.find(f"id={edge_id}")
        if anchor < 0:
            continue
        start = laid.rfind("[", 0, anchor)
        end = laid.find("];", anchor)
        block = laid[start:end]
        match = _LP.search(block)
        if not match:
            continue
        x, y = float(match.group(2)) + dx, float(match.group(3)) + dy
        block = block[:match.start()] + f'{match.group(1)}="{x:.2f},{y:.2f}"' + block[match.end():]
        laid = laid[:start] + block + laid[end:]
    return laid


@dataclass
class Band:
    """A lane drawn as a coloured column between separator columns ``sep{i}_*`` and
    ``sep{i+1}_*``, from under its header ``lanehead{i}`` to the ``sep*_end`` row."""

    index: int
    fill: str
    border: str


def band_boxes(layout_json: dict, bands: list[Band]) -> list[tuple[Band, Box]]:
    xs: dict[int, list[float]] = {}
    head_top: float | None = None
    bottom: float | None = None
    for obj in layout_json.get("objects", []):
        name, pos = obj.get("name", ""), obj.get("pos")
        if not pos:
            continue
        x, y = map(float, pos.split(","))
        match = re.match(r"sep(\d+)_(\w+)$", name)
        if match:
            xs.setdefault(int(match.group(1)), []).append(x)
            if match.group(2) == "end":
                bottom = y if bottom is None else min(bottom, y)
        elif name.startswith("lanehead"):
            top = y + float(obj.get("height", 0)) * 36 + 4
            head_top = top if head_top is None else max(head_top, top)
    out = []
    for band in bands:
        left, right = xs.get(band.index), xs.get(band.index + 1)
        if not left or not right or head_top is None or bottom is None:
            continue
        x0, x1 = sum(left) / len(left), sum(right) / len(right)
        out.append((band, Box(x0 + 3, bottom, x1 - 3, head_top)))
    return out


def _band_clusters(placed: list[tuple[Band, Box]]) -> str:
    parts = []
    for band, box in placed:
        parts.append(
            f'  subgraph cluster_band{band.index} {{ graph [bb="{box.x0:.2f},{box.y0:.2f},{box.x1:.2f},{box.y1:.2f}", '
            f'label="", style="filled,rounded", fillcolor="{band.fill}", color="{band.border}", penwidth=1.5, '
            f'class="lane-band", id="band-{band.index}"]; }}\n')
    return "".join(parts)


def render_checked(dot: str, fmt: str, *, dpi: int | None = None, bands: list[Band] | None = None,
                   check=None, final: bool = True) -> tuple[bytes | None, set]:
    """Lay out with dot, ask ``check(geometry)`` for problems (unless ``final``, problems mean
    ``(None, problems)``: the caller adjusts and tries again), repair overlapping edge labels,
    draw the lane bands, and draw the positioned graph as ``fmt`` (svg, png, pdf)."""
    extra = [f"-Gdpi={dpi}"] if dpi else []
    with tempfile.TemporaryDirectory(prefix="cunwu-dot-") as tmp:
        src, laid_path, geo_path = (Path(tmp) / n for n in ("in.dot", "laid.dot", "geo.json"))
        src.write_text(dot, encoding="utf-8")
        _run(["dot", *extra, "-Tdot", "-o", str(laid_path), "-Tjson", "-o", str(geo_path), str(src)])
        geo = json.loads(geo_path.read_text(encoding="utf-8"))
        problems = set(check(geo)) if check else set()
        if problems and not final:
            return None, problems
        moves = resolve(*geometry(geo))
        laid = patch_positions(laid_path.read_text(encoding="utf-8"), moves)
        if bands:
            opening = laid.index("{") + 1
            laid = laid[:opening] + "\n" + _band_clusters(band_boxes(geo, bands)) + laid[opening:]
        return _run(["neato", "-n2", *extra, f"-T{fmt}"], laid.encode("utf-8")), problems


def render(dot: str, fmt: str, *, dpi: int | None = None, bands: list[Band] | None = None) -> bytes:
    return render_checked(dot, fmt, dpi=dpi, bands=bands)[0]


def layout_json(dot: str, *, repaired: bool = True) -> dict:
    """The final geometry (after the label repair) as Graphviz JSON."""
    with tempfile.TemporaryDirectory(prefix="cunwu-dot-") as tmp:
        src, laid_path, geo_path = (Path(tmp) / n for n in ("in.dot", "laid.dot", "geo.json"))
        src.write_text(dot, encoding="utf-8")
        _run(["dot", "-Tdot", "-o", str(laid_path), "-Tjson", "-o", str(geo_path), str(src)])
        geo = json.loads(geo_path.read_text(encoding="utf-8"))
        if not repaired:
            return geo
        moves = resolve(*geometry(geo))
        if not moves:
            return geo
        laid = patch_positions(laid_path.read_text(encoding="utf-8"), moves)
        return json.loads(_run(["neato", "-n2", "-Tjson"], laid.encode("utf-8")))

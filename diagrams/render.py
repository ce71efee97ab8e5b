"""Graphviz drawing of a chart, cached: the chart model of a deployed version (``chart_for``), dot
run on its DOT source (``diagrams.dot``) and checked that every node stayed in its lane
(``chart_bytes``, in any Graphviz format; the posters embed its SVG), and the entry points the web
pages use: ``svg_for_process(engine, key)`` and ``svg_for_case(engine, username, case_id)``.
"""

from __future__ import annotations

import hashlib
import html
import re
import threading
from collections import OrderedDict
from datetime import date

from . import layout
from .dot import lane_names, to_dot
from .marks import CaseMarks, prepared
from .model import Chart, build_chart
from .style import FONT, FONT_STACK, lane_colors


# -- the chart of a deployed definition -------------------------------------------------------
def definition_source(engine, deployed) -> tuple[str, str]:
    """The deployed BPMN text of this version (for the flow names the spec does not keep) and
    its content hash."""
    found = engine.definition_source(deployed.id)
    return found if found is not None else ("", f"{deployed.key}-{deployed.version}")


_charts: dict[int, tuple[object, Chart]] = {}
_charts_lock = threading.Lock()


def chart_for(engine, deployed) -> Chart:
    """The chart model of one deployed version, cached per parsed definition object (the
    catalogue keeps one per version)."""
    hit = _charts.get(id(deployed))
    if hit is not None and hit[0] is deployed:
        return hit[1]
    source, digest = definition_source(engine, deployed)
    chart = build_chart(deployed, source)
    chart.digest = digest
    with _charts_lock:
        if len(_charts) > 256:
            _charts.clear()
        _charts[id(deployed)] = (deployed, chart)
    return chart


# -- running dot ------------------------------------------------------------------------------
def misplaced(chart: Chart, geo: dict) -> set[str]:
    """Nodes that dot put outside their lane's column (it does not always keep flat-edge order)."""
    lanes = lane_names(chart)
    columns: dict[int, list[float]] = {}
    centres: dict[str, float] = {}
    for obj in geo.get("objects", []):
        name, pos = obj.get("name", ""), obj.get("pos")
        if not pos:
            continue
        x = float(pos.split(",")[0])
        if name.startswith("sep") and "_" in name:
            columns.setdefault(int(name[3:].split("_")[0]), []).append(x)
        elif name in chart.nodes:
            centres[name] = x
    bad = set()
    for nid, x in centres.items():
        index = lanes.index(chart.nodes[nid].lane or "")
        left, right = columns.get(index), columns.get(index + 1)
        if left and right and not (max(left) < x < min(right)):
            bad.add(nid)
    return bad


_COMMENT = re.compile(r"<!--.*?-->\n?", re.S)
_TITLE = re.compile(r"<title>[^<]*</title>\n?")
_GRAPH_GROUP = re.compile(r'(<g id="[^"]*" class="graph[^"]*"[^>]*>\n?)')


def people_svg(svg: bytes, name: str) -> bytes:
    """Graphviz writes every node's and flow's id into the SVG (a ``<title>`` a browser shows as
    the tooltip, and a comment): the ids go, the tooltips are the Chinese names (issue 15)."""
    text = _TITLE.sub("", _COMMENT.sub("", svg.decode("utf-8")))
    text = _GRAPH_GROUP.sub(lambda m: m.group(1) + f"<title>{html.escape(name, quote=True)}</title>\n", text, count=1)
    return text.encode("utf-8")


def chart_bytes(chart: Chart, fmt: str, marks: CaseMarks | None = None, *, title: bool = True,
                legend: bool = True, dpi: int | None = None, on: date | None = None) -> bytes:
    """The chart alone (no poster frame) as svg, png or pdf, drawn by Graphviz, as it reads on
    ``on`` (default today: the rule set in force decides where the 监委会 attends)."""
    font = FONT_STACK if fmt == "svg" else FONT
    chart, marks = prepared(chart, marks, on)
    first = to_dot(chart, marks, font=font, title=title, legend=legend)
    key = hashlib.sha256(f"{fmt}|{dpi}|{first}".encode()).hexdigest()  # the DOT text says it all
    with _drawn_lock:
        hit = _drawn.get(key)
        if hit is not None:
            _drawn.move_to_end(key)
            return hit
    bands = [layout.Band(i, *lane_colors(i)) for i in range(len(lane_names(chart)))]
    unpaired: frozenset[str] = frozenset()
    dot = first
    for attempt in range(4):  # a node out of its column: lay out again without its side-by-side pairing
        data, bad = layout.render_checked(dot, fmt, dpi=dpi, bands=bands,
                                          check=lambda geo: misplaced(chart, geo), final=attempt == 3)
        if data is not None:
            if fmt == "svg":
                data = people_svg(data, f"{chart.name}流程图")
            with _drawn_lock:
                _drawn[key] = data
                while len(_drawn) > 96:
                    _drawn.popitem(last=False)
            return data
        unpaired = unpaired | frozenset(bad)  # and the objection bus no longer held straight
        dot = to_dot(chart, marks, font=font, title=title, legend=legend, unpaired=unpaired, straight_bus=False)
    raise layout.RenderError("流程图排版失败")  # pragma: no cover - the last attempt always draws


_drawn: OrderedDict[str, bytes] = OrderedDict()  # process-wide: same DOT, same picture
_drawn_lock = threading.Lock()


# -- entry points for templates and the API ---------------------------------------------------
def engine_day(engine) -> date:
    """Today by the engine's clock in Beijing (the rule set in force is chosen by it)."""
    from zoneinfo import ZoneInfo

    return engine.now().astimezone(ZoneInfo("Asia/Shanghai")).date()


def svg_for_process(engine, key: str, version: int | None = None) -> str:
    """The flowchart of the latest (or a given) version of an item, as SVG text."""
    deployed = engine.deployed(key, version)
    return chart_bytes(chart_for(engine, deployed), "svg", on=engine_day(engine)).decode("utf-8")


def case_marks(engine, username: str | None, case_id: int) -> tuple[object, CaseMarks]:
    deployed, completed, current, status = engine.case_path(username, case_id)
    title = ""
    if username is not None:
        try:
            title = engine.get_case(username, case_id).get("title", "")
        except Exception:  # noqa: BLE001 - the title is a nicety; the path decides access
            title = ""
    return deployed, CaseMarks(list(completed), list(current), status, title, case_id)


def svg_for_case(engine, username: str | None, case_id: int) -> str:
    """The flowchart of a case's definition with its path and current step(s) marked."""
    deployed, marks = case_marks(engine, username, case_id)
    return chart_bytes(chart_for(engine, deployed), "svg", marks, on=engine_day(engine)).decode("utf-8")

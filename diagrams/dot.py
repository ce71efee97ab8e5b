"""DOT source of a chart (``to_dot``): one column per role (lane), process order top to bottom, a
decision beside its step, the objection bus, the case's path and current step, the legend."""

from __future__ import annotations

import html
from datetime import date

from .marks import CaseMarks, prepared
from .model import Chart, Node
from .style import (
    CURRENT_FILL,
    CURRENT_LINE,
    CURRENT_MARK,
    DONE_FILL,
    DONE_LINE,
    DONE_MARK,
    END_COLORS,
    FONT_STACK,
    IDLE_LINE,
    IDLE_TEXT,
    KIND_WORDS,
    STATUS_NAMES,
    step_mark,
)
from .wrap import wrap


# -- Graphviz's HTML-like labels and attributes ------------------------------------------------
def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _html_lines(lines: list[str], size: int | None = None, color: str | None = None, bold: bool = False) -> str:
    out = []
    for line in lines:
        piece = _esc(line)
        if bold:
            piece = f"<B>{piece}</B>"
        attrs = (f' POINT-SIZE="{size}"' if size else "") + (f' COLOR="{color}"' if color else "")
        if attrs:
            piece = f"<FONT{attrs}>{piece}</FONT>"
        out.append(piece)
    return "<BR/>".join(out)


def _quote(value) -> str:
    value = str(value)
    if value.startswith("<") and value.endswith(">"):
        return value  # an HTML-like label
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _attrs(**attrs) -> str:
    return ", ".join(f"{k.rstrip('_')}={_quote(v)}" for k, v in attrs.items() if v is not None)


# -- DOT --------------------------------------------------------------------------------------
def to_dot(chart: Chart, marks: CaseMarks | None = None, *, font: str = FONT_STACK, title: bool = True,
           legend: bool = True, unpaired: frozenset[str] = frozenset(), on: date | None = None,
           straight_bus: bool = True) -> str:
    """DOT source of the chart; with ``marks`` the case's path and current step are drawn.
    ``straight_bus``: the objection bus's points kept in one vertical line (dot may then push
    other nodes out of their lane; ``chart_bytes`` lays out again without it)."""
    chart, marks = prepared(chart, marks, on)
    done = marks.done if marks else set()
    current = set(marks.current) if marks else set()
    taken = _taken_edges(chart, marks) if marks else set()

    lines = ["digraph cunwu {"]
    label = ""
    if title:
        head = f"{chart.name}　办事流程图（第{chart.version}版）"
        sub = ""
        if marks is not None:
            status = STATUS_NAMES.get(marks.status, marks.status)
            case = f"第{marks.case_id}号事项" if marks.case_id else "本事项"
            sub = f"{case}{('：' + marks.title) if marks.title else ''}　当前状态：{status}"
        label = f"<<FONT POINT-SIZE=\"28\"><B>{_esc(head)}</B></FONT>"
        if sub:
            label += f"<BR/><FONT POINT-SIZE=\"20\">{_esc(sub)}</FONT>"
        label += "<BR/> >"
    lines.append("  graph [" + _attrs(
        rankdir="TB", newrank="true", compound="true", splines="spline", nodesep="0.2", ranksep="0.26",
        fontname=font, fontsize="16", labelloc="t", labeljust="c", label=label or None,
        bgcolor="white", pad="0.25", outputorder="edgesfirst", class_="cunwu-chart",
        id=f"chart-{chart.key}") + "];")
    lines.append("  node [" + _attrs(fontname=font, fontsize="20", margin="0.1,0.05", penwidth="1.4") + "];")
    lines.append("  edge [" + _attrs(fontname=font, fontsize="16", color="#495057", arrowsize="0.7",
                                     penwidth="1.2", fontcolor="#343a40") + "];")

    # Lanes are columns between invisible, vertically aligned separator columns: in every row
    # each node sits in a flat chain sep_i → node → sep_i+1, which dot keeps left to right, so
    # the lanes stay columns in process order. (Lanes as clusters drift: dot orders clusters by
    # its own crossing count.) ``chart_bytes`` checks the result and lays out again if a node
    # slipped out of its column; the coloured bands are drawn behind from the separators'
    # positions (``layout.render_checked``).
    lanes = lane_names(chart)
    lane_of = {nid: lanes.index(node.lane or "") for nid, node in chart.nodes.items()}
    rows = chart_rows(chart, unpaired)
    bus_members, bus_lines = _objection_bus(chart, rows, lane_of, taken, straight_bus)
    last = max(rows.values(), default=0)
    for node in sorted(chart.nodes.values(), key=lambda n: n.order):
        lines.append("  " + _node_line(node, done, current, marks is not None, font))
    columns = len(lanes) + 1
    row_keys = ["h", *range(last + 1), "end"]
    for index, lane in enumerate(lanes):
        lines.append(f"  lanehead{index} [" + _attrs(
            shape="plaintext", label=f"<<FONT POINT-SIZE=\"24\"><B>{_esc(lane or '其他')}</B></FONT>>",
            id=f"lane-{index}", class_="lane", margin="0.15,0.05") + "];")
    for col in range(columns):
        for key in row_keys:
            lines.append(f"  sep{col}_{key} [shape=point, style=invis, width=0.01, group=sepcol{col}];")
        lines.append("  " + " -> ".join(f"sep{col}_{key}" for key in row_keys) + " [style=invis, weight=40];")
    for key in row_keys:
        members: dict[int, list[str]] = {i: [] for i in range(len(lanes))}
        if key == "h":
            for index in range(len(lanes)):
                members[index].append(f"lanehead{index}")
        elif key != "end":
            for node in sorted(chart.nodes.values(), key=lambda n: n.order):  # a stable input order
                if rows[node.id] == key:
                    members[lane_of[node.id]].append(_quote(node.id))
            for lane_index, point in bus_members.get(key, []):
                members[lane_index].append(point)
        names = [f"sep{col}_{key}" for col in range(columns)] + [m for ms in members.values() for m in ms]
        lines.append("  { rank=same; " + "; ".join(names) + "; }")
        for index in range(len(lanes)):
            left, right = f"sep{index}_{key}", f"sep{index + 1}_{key}"
            for member in members[index] or [None]:
                chain = [left, member, right] if member else [left, right]
                lines.append("  " + " -> ".join(chain) + " [style=invis];")

    lines.extend(bus_lines)
    for edge in chart.edges:
        if edge.style == "objection":
            continue  # drawn as the bus above
        flat = rows.get(edge.source) == rows.get(edge.target)
        lines.append("  " + _edge_line(chart, edge, (edge.source, edge.target) in taken, marks is not None, flat))

    if legend:
        kinds = {"start" if n.kind == "start" else "end" if n.kind == "end" else
                 "gateway" if "gateway" in n.kind or n.kind in ("inclusive", "parallel") else
                 "wait" if n.kind in ("catch", "boundary") else "note" if n.kind == "note" else "task"
                 for n in chart.nodes.values()}
        kinds |= {"objection"} if any(e.style == "objection" for e in chart.edges) else set()
        kinds |= {"timer"} if any(n.event == "timer" for n in chart.nodes.values()) else set()
        lines.extend(_legend(marks is not None, len(lanes), font, kinds))
    lines.append("}")
    return "\n".join(lines) + "\n"


def _objection_bus(chart: Chart, rows: dict[str, int], lane_of: dict[str, int], taken: set,
                   straight: bool = True) -> tuple[dict, list[str]]:
    """The flows into the shared inspection (``diagrams.view``) as a bus: from each decision a short
    red dashed line into the inspection's column, down that column to the one 核查 node below the
    last of them. Sets the node's row; returns the bus points per row and the DOT lines."""
    flows = [e for e in chart.edges if e.style == "objection"]
    if not flows:
        return {}, []
    target = flows[0].target
    by_row: dict[int, list[str]] = {}  # a bus point one row below its decision: a slanted line, not an arc
    for edge in sorted(flows, key=lambda e: (rows[e.source], chart.nodes[e.source].order)):
        by_row.setdefault(rows[edge.source] + 1, []).append(edge.source)
    rows[target] = max(by_row) + 1
    members: dict[int, list[tuple[int, str]]] = {}
    lines = []
    points = []
    red = "#e03131"
    for row, sources in sorted(by_row.items()):
        point = f"bus_{row}"
        points.append(point)
        members[row] = [(lane_of[target], point)]
        lines.append(f"  {point} [" + _attrs(shape="point", width="0.07", color=red, id=f"bus-{row}",
                                             class_="bus", tooltip="报乡镇纪委核查",
                                             group="objection_bus" if straight else None) + "];")
        for source in sources:
            used = (source, target) in taken
            lines.append(f"  {_quote(source)} -> {point} [" + _attrs(
                id=f"flow-{source}-{target}", class_="flow objection" + (" taken" if used else ""),
                style="dashed", arrowhead="none", color=DONE_LINE if used else red,
                penwidth="3" if used else "1.6") + "];")
    chain = [*points, target]
    for tail, head in zip(chain, chain[1:], strict=False):
        lines.append(f"  {tail} -> {_quote(head)} [" + _attrs(
            class_="flow objection bus", style="dashed", color=red, penwidth="1.6", weight="30",
            arrowhead="normal" if head == target else "none") + "];")
    return members, lines


def lane_names(chart: Chart) -> list[str]:
    lanes = list(chart.lanes) or [""]
    for node in chart.nodes.values():
        if (node.lane or "") not in lanes:
            lanes.append(node.lane or "")
    return lanes



def chart_rows(chart: Chart, unpaired: frozenset[str] = frozenset()) -> dict[str, int]:
    """The row of each node: process order top to bottom, a decision beside its step."""
    pairs = set(side_by_side(chart, unpaired))
    incoming: dict[str, list] = {}
    for edge in chart.edges:
        if not edge.back and not edge.free:
            incoming.setdefault(edge.target, []).append(edge)
    rows: dict[str, int] = {}
    for node in sorted(chart.nodes.values(), key=lambda n: (n.rank, n.order)):  # ranks are topological
        rows[node.id] = max((rows.get(e.source, 0) + (0 if (e.source, node.id) in pairs else 1)
                             for e in incoming.get(node.id, []) if e.source in rows), default=0)
    for node in chart.nodes.values():  # an annotation beside its step, the shared inspection amid its sources
        placed = sorted(rows[nid] for nid in node.row_of if nid in rows)
        if placed:
            rows[node.id] = placed[(len(placed) - 1) // 2]
    return rows


def side_by_side(chart: Chart, unpaired: frozenset[str] = frozenset()) -> list[tuple[str, str]]:
    """A decision right after a step is drawn beside the step, on the same row: the chart gets
    about half as tall, and the diamond reads as "the outcome of this step"."""
    forward_in: dict[str, list] = {}
    out: dict[str, list] = {}
    for edge in chart.edges:
        if edge.free:
            continue
        out.setdefault(edge.source, []).append(edge)
        if not edge.back:
            forward_in.setdefault(edge.target, []).append(edge)
    pairs = []
    for node in chart.nodes.values():
        if node.kind not in ("gateway", "inclusive", "parallel"):
            continue
        ins = forward_in.get(node.id, [])
        if len(ins) != 1:
            continue
        task = chart.nodes[ins[0].source]
        if task.kind not in ("task", "call") or task.lane != node.lane or len(out.get(task.id, [])) != 1:
            continue
        if task.id in unpaired or node.id in unpaired:
            continue
        # alternatives side by side in one lane (村民代表会议 / 村民会议) would make it too wide
        if any(n.id != task.id and n.lane == task.lane and n.rank == task.rank and n.kind in ("task", "call")
               for n in chart.nodes.values()):
            continue
        pairs.append((task.id, node.id))
    return pairs


def _prefixed(prefix: str, lines: list[str]) -> list[str]:
    """The ✓/▶ mark goes before the first line (a wrapped name stays wrapped the same way)."""
    if not prefix:
        return lines
    return [prefix + lines[0], *lines[1:]] if lines else [prefix.strip()]


def _node_line(node: Node, done: set[str], current: set[str], case_view: bool, font: str) -> str:
    is_done, is_current = node.id in done, node.id in current
    idle = case_view and not is_done and not is_current
    line_color = CURRENT_LINE if is_current else DONE_LINE if is_done else IDLE_LINE if idle else None
    fill = CURRENT_FILL if is_current else DONE_FILL if is_done else None
    text_color = IDLE_TEXT if idle else None
    prefix = f"{CURRENT_MARK} " if is_current else f"{DONE_MARK} " if is_done else ""
    classes = ["step", node.kind] + (["current"] if is_current else []) + (["done"] if is_done else [])
    attrs: dict = {"id": f"node-{node.id}", "class_": " ".join(classes),
                   "tooltip": node.name or KIND_WORDS.get(node.kind, " ")}  # never the node id (issue 15)
    penwidth = "4" if is_current else "2.2" if is_done else None

    if node.kind in ("task", "call"):
        top = f"{step_mark(node.step_no)} " if node.step_no else ""
        name_lines = wrap(node.name or node.id, 8)
        name_lines[0] = prefix + top + name_lines[0]
        label = _html_lines(name_lines, bold=True, color=text_color)
        notes = list(node.notes)
        if is_current:
            notes.insert(0, "当前步骤")
        for note in notes:
            evidence = note.startswith("需上传")
            color = CURRENT_LINE if is_current and note == "当前步骤" else \
                text_color or ("#1864ab" if evidence else "#5c677d")
            label += "<BR/>" + _html_lines(wrap(note, 11), size=15, color=color, bold=evidence)
        attrs.update(shape="box", style="rounded,filled", fillcolor=fill or "white",
                     color=line_color or "#3b5b85", penwidth=penwidth or ("2.6" if node.kind == "call" else "1.6"),
                     label=f"<{label}>", margin="0.14,0.07")
    elif node.kind in ("gateway", "inclusive", "parallel"):
        marker = {"parallel": "+", "inclusive": "○"}.get(node.kind, "")
        text = node.name or marker
        label = _html_lines(_prefixed(prefix, wrap(text, 4)), size=16, color=text_color) if text else ""
        attrs.update(shape="diamond", style="filled", fillcolor=fill or "#fff4d6",
                     color=line_color or "#e08600", penwidth=penwidth or "1.6",
                     label=f"<{label}>" if label else " ", width="0.5" if not node.name else None,
                     height="0.4" if not node.name else None, margin="0.02,0.02", fontsize="11")
    elif node.kind == "note":  # an annotation (BPMN: an open bracket and dotted line), e.g. 列席
        label = _html_lines([node.name], size=18, bold=True, color=text_color or "#5f3dc4")
        for note in node.notes:
            label += "<BR/>" + _html_lines(wrap(note, 8), size=14, color=text_color or "#5c677d")
        attrs.update(shape="note", style="filled", fillcolor="#f8f0fc", color=text_color or "#9c36b5",
                     penwidth="1.2", label=f"<{label}>", margin="0.1,0.05")
    elif node.kind == "event_gateway":
        label = _html_lines(_prefixed(prefix, wrap(node.name or "等待", 4)), size=16, color=text_color)
        attrs.update(shape="diamond", style="filled", fillcolor=fill or "#fff4d6", peripheries="2",
                     color=line_color or "#e08600", penwidth=penwidth or "1.4", label=f"<{label}>",
                     margin="0.02,0.02")
    else:  # events: round
        name = node.name or ""
        width = 3 if len(name) <= 6 else 4
        label = _html_lines(_prefixed(prefix, wrap(name, width)), size=16, color=text_color)
        if node.timer_text:
            short = node.timer_text.removeprefix("公示") if "公示" in (node.name or "") else node.timer_text
            label += "<BR/>" + _html_lines([short], size=16, bold=True, color=text_color or "#a61e4d")
        if node.kind == "start":
            attrs.update(shape="circle", style="filled", fillcolor=fill or "#ebfbee",
                         color=line_color or "#2b8a3e", penwidth=penwidth or "1.6")
        elif node.kind == "end":
            attrs.update(shape="circle", style="filled", fillcolor=fill or "white",
                         color=line_color or END_COLORS.get(node.end_kind, "#343a40"), penwidth=penwidth or "4")
        else:
            attrs.update(shape="doublecircle", style="filled",
                         fillcolor=fill or ("#fff0f6" if node.event == "timer" else "#f3f0ff"),
                         color=line_color or ("#a61e4d" if node.event == "timer" else "#6741d9"),
                         penwidth=penwidth or "1.3")
        attrs.update(label=f"<{label}>", margin="0.02,0.02")
    return f"{_quote(node.id)} [{_attrs(**attrs)}];"


def _edge_line(chart: Chart, edge, taken: bool, case_view: bool, flat: bool = False) -> str:
    attrs: dict = {"id": f"flow-{edge.source}-{edge.target}",
                   "class_": "flow" + (" taken" if taken else "") + (" loop" if edge.back else "")
                   + (f" {edge.style}" if edge.style else "")}
    if edge.style == "association":  # an annotation's dotted line, no arrow; it does not place anything
        attrs.update(constraint="false", style="dotted", arrowhead="none", color="#9c36b5", penwidth="1.6")
        return f"{_quote(edge.source)} -> {_quote(edge.target)} [{_attrs(**attrs)}];"
    if edge.style == "objection":  # into the shared inspection; the node says when (no label)
        attrs.update(style="dashed", color=DONE_LINE if taken else "#e03131", penwidth="3" if taken else "1.6")
        return f"{_quote(edge.source)} -> {_quote(edge.target)} [{_attrs(**attrs)}];"
    if edge.label:  # a white chip behind the words keeps crossing lines from running through them
        text = _html_lines(wrap(edge.label, 6), color=DONE_LINE if taken else IDLE_TEXT if case_view else None,
                           bold=taken)
        # dot's routing of labelled flat edges (a loop back to the step beside a decision) is
        # fragile ("lost … edge"): those get an external label, placed after the layout
        attrs["xlabel" if flat else "label"] = (
            f'<<TABLE BORDER="0" CELLBORDER="0" CELLPADDING="1" CELLSPACING="0" BGCOLOR="#ffffffdd">'
            f'<TR><TD>{text}</TD></TR></TABLE>>')
    if taken:
        attrs.update(color=DONE_LINE, penwidth="3.2", arrowsize="0.9")
    elif case_view:
        attrs.update(color=IDLE_LINE, fontcolor=IDLE_TEXT)
    if edge.back:
        attrs.update(style="dashed" if not taken else "bold")
        if not taken:
            attrs.setdefault("color", "#7b8794")
    if flat:  # within a row: no ordering constraint (dot mishandles flat edges mixed with the lane chains)
        attrs["constraint"] = "false"
    if edge.back:
        # drawn against the ranks: reverse it for the layout and draw the arrow at the real target
        tail, head = edge.target, edge.source
        attrs["dir"] = "back"
    else:
        tail, head = edge.source, edge.target
    return f"{_quote(tail)} -> {_quote(head)} [{_attrs(**attrs)}];"


def _taken_edges(chart: Chart, marks: CaseMarks) -> set[tuple[str, str]]:
    """The flows the case went along: each visited node is joined to the latest earlier visited
    node that has a flow into it."""
    incoming: dict[str, set[str]] = {}
    for edge in chart.edges:
        incoming.setdefault(edge.target, set()).add(edge.source)
    taken: set[tuple[str, str]] = set()
    visited = [n for n in marks.completed if n in chart.nodes] + [n for n in marks.current if n in chart.nodes]
    for i, nid in enumerate(visited):
        sources = incoming.get(nid, set())
        for prev in reversed(visited[:i]):
            if prev in sources:
                taken.add((prev, nid))
                break
    return taken


def _legend(case_view: bool, lanes: int, font: str, kinds: set[str] | None = None) -> list[str]:
    def small(text: str) -> str:
        return f"<<FONT POINT-SIZE=\"16\">{text}</FONT>>"

    items = [
        ("lg_start", dict(shape="circle", style="filled", fillcolor="#ebfbee", color="#2b8a3e", label=small("开始"),
                          width="0.75", fixedsize="true")),
        ("lg_task", dict(shape="box", style="rounded,filled", fillcolor="white", color="#3b5b85",
                         label="<<B>① 办事步骤</B>>")),
        ("lg_gateway", dict(shape="diamond", style="filled", fillcolor="#fff4d6", color="#e08600",
                            label=small("判断"), width="1.1", height="0.6", fixedsize="true")),
        ("lg_wait", dict(shape="doublecircle", style="filled", fillcolor="#fff0f6", color="#a61e4d",
                         label=small("公示期" if kinds is None or "timer" in kinds else "等待"), width="0.95",
                         fixedsize="true")),
        ("lg_note", dict(shape="note", style="filled", fillcolor="#f8f0fc", color="#9c36b5",
                         label="<<FONT POINT-SIZE=\"16\" COLOR=\"#5f3dc4\"><B>列席</B></FONT>>")),
        ("lg_end", dict(shape="circle", style="filled", fillcolor="white", color="#2b8a3e", penwidth="4",
                        label=small("结束"), width="0.75", fixedsize="true")),
    ]
    if kinds is not None:  # only the shapes this chart uses
        wanted = {"lg_start": "start", "lg_task": "task", "lg_gateway": "gateway", "lg_wait": "wait", "lg_end": "end",
                  "lg_note": "note"}
        kinds = kinds | ({"wait"} if "timer" in kinds else set())
        items = [item for item in items if wanted[item[0]] in kinds]
    if case_view:
        items += [
            ("lg_done", dict(shape="box", style="rounded,filled", fillcolor=DONE_FILL, color=DONE_LINE,
                             penwidth="2.2", label=f"<<B>{DONE_MARK} 已完成</B>>")),
            ("lg_current", dict(shape="box", style="rounded,filled", fillcolor=CURRENT_FILL,
                                color=CURRENT_LINE, penwidth="4", label=f"<<B>{CURRENT_MARK} 当前步骤</B>>")),
        ]
    legend_label = "<<B>图例</B>　虚线：退回、流会后重来　线上的字：按什么结果走哪条路"
    if kinds is not None and "objection" in kinds:
        legend_label += "<BR/><FONT COLOR=\"#e03131\">红色虚线：提出异议，报乡镇纪委核查</FONT>"
    legend_label += ">"
    out = ["  subgraph cluster_legend {",
           "    graph [" + _attrs(label=legend_label, style="rounded", color="#adb5bd", fontsize="16",
                                  labelloc="b", margin="10", class_="legend", id="legend") + "];"]
    for node_id, attrs in items:
        out.append(f"    {node_id} [{_attrs(id=node_id, class_='legend-item', **attrs)}];")
    out.append("    { rank=same; " + "; ".join(i[0] for i in items) + "; }")
    out.append("    " + " -> ".join(i[0] for i in items) + " [style=invis];")
    out.append("  }")
    out.append(f"  sep{(lanes + 1) // 2}_end -> {items[len(items) // 2][0]} [style=invis];")
    return out


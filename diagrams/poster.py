"""Wall posters: the chart laid into a true A4/A3 page with the title, category, legal basis,
the numbered steps, who to call, a QR code to the public board, the print date and the
definition version. HTML + ``@page`` printed by WeasyPrint; PNG by rasterising that PDF.
"""

from __future__ import annotations

import base64
import html
import io
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from engine.catalogue.catalog import CATEGORIES

from .layout import RenderError
from .marks import CaseMarks, prepared
from .model import Chart
from .render import chart_bytes
from .style import CURRENT_MARK, DONE_MARK, FONT_STACK, STATUS_NAMES, step_mark
from .view import SHARED_INSPECTION

PAPERS = {"A4": (210.0, 297.0), "A3": (297.0, 420.0)}  # mm, portrait
MARGIN = 10.0  # mm
CATEGORY_NAMES = CATEGORIES  # A, B, C: the catalogue's one list
PT_TO_MM = 25.4 / 72
PNG_DPI = {"A4": 150, "A3": 120}


@dataclass
class Contact:
    role: str  # lane name
    people: list[str] = field(default_factory=list)


@dataclass
class PosterInfo:
    """Everything on the page besides the chart."""

    board_url: str
    print_date: datetime
    village_name: str = ""
    township: str = ""
    contacts: dict[str, list[str]] = field(default_factory=dict)  # lane name → people
    lead_url: str = ""  # the 反映问题 code (issue 12): the village's lead form


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def svg_size_pt(svg: bytes) -> tuple[float, float]:
    head = svg[:2000].decode("utf-8", "replace")
    match = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"[^>]*\bheight="([\d.]+)pt"', head, re.S)
    if not match:
        raise RenderError("无法读取流程图尺寸")
    return float(match.group(1)), float(match.group(2))


def qr_svg(url: str) -> bytes:
    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=2, xmldecl=False)
    return out.getvalue()


def _data_uri(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


# -- layout -----------------------------------------------------------------------------------
@dataclass
class Layout:
    landscape: bool
    side: bool  # the info panel to the right of the chart (else below it)
    page_w: float
    page_h: float
    chart_w: float
    chart_h: float
    panel_w: float
    panel_h: float
    header_h: float
    footer_h: float
    scale: float


SIDE_WIDTH = {"A4": (48.0, 72.0), "A3": (62.0, 100.0)}  # mm: narrowest and widest side panel


MAX_SCALE = 0.72  # a small chart is not blown up past ~14pt step names


def header_height(paper: str, basis_len: int) -> float:
    """Title, category line and the legal basis (which may wrap)."""
    k = 1.0 if paper == "A4" else 1.35
    inner_w = PAPERS[paper][0] - 2 * MARGIN  # portrait: the narrower case
    per_line = max(20, int(inner_w / (8.5 * k * PT_TO_MM * 1.02)))
    lines = max(1, -(-basis_len // per_line))
    return (18.5 + 4.6 * lines) * k


def plan(paper: str, chart_pt: tuple[float, float], n_steps: int, n_lanes: int, basis_len: int = 40) -> Layout:
    """Pick the orientation and the panel position that print the chart largest."""
    w_pt, h_pt = chart_pt
    chart_w_mm, chart_h_mm = w_pt * PT_TO_MM, h_pt * PT_TO_MM
    short, long_ = PAPERS[paper]
    k = 1.0 if paper == "A4" else 1.35
    header_h, footer_h, gap = header_height(paper, basis_len), 7.0 * k, 5.0
    side_min, side_max = SIDE_WIDTH[paper]
    # a panel below the chart: three columns, as tall as the longest of the lists
    rows = max(n_steps, n_lanes * 2 + 2, 9)
    bottom_h = min(16.0 + rows * 4.2 * k, 140.0 * k)
    best = None
    for landscape in (False, True):
        page_w, page_h = (long_, short) if landscape else (short, long_)
        inner_w, inner_h = page_w - 2 * MARGIN, page_h - 2 * MARGIN
        body_h = inner_h - header_h - footer_h - 2
        for side in (True, False):
            if side:  # as narrow a panel as lets the chart use the full height
                ideal = inner_w - gap - chart_w_mm * body_h / chart_h_mm
                side_w = min(max(ideal, side_min), side_max)
                box_w, box_h = inner_w - side_w - gap, body_h
            else:
                side_w = inner_w
                box_w, box_h = inner_w, body_h - bottom_h - gap
            if box_w <= 20 or box_h <= 20:
                continue
            scale = min(box_w / chart_w_mm, box_h / chart_h_mm, MAX_SCALE)
            candidate = Layout(landscape, side, page_w, page_h, chart_w_mm * scale, chart_h_mm * scale,
                               side_w, body_h if side else bottom_h, header_h, footer_h, scale)
            # prefer portrait and a side panel unless the other way prints clearly larger
            bias = (1.0 if not landscape else 0.93) * (1.0 if side else 0.97)
            if best is None or scale * bias > best[0]:
                best = (scale * bias, candidate)
    return best[1]


# -- HTML -------------------------------------------------------------------------------------
def _panel_font(layout: Layout, paper: str, step_lines: list[list[str]], n_lanes: int, n_notes: int,
                longest: int, qr_mm: float) -> float:
    """A panel font size (pt) that fits the lists (each step's name, who and limits, evidence,
    wrapped at the panel's width) and the codes into the panel."""
    k = 1.0 if paper == "A4" else 1.35
    line = 1.3 * PT_TO_MM  # mm per pt of font size (line-height 1.3)
    font = 8.0 * k
    while font > 5.5:
        if layout.side:
            per_line = layout.panel_w / (font * PT_TO_MM)
            used = sum(-(-len(text) // max(1, int(per_line - 1.5))) * (1.0 if i == 0 else 0.92)
                       for texts in step_lines for i, text in enumerate(texts))
            used += n_lanes * 2.3 + n_notes * 2.2 + 2 * 2.2  # the contacts, the notes, two headings
            fits = used * line * font + 4 * k + qr_mm + 6 * line * font <= layout.panel_h
            fits = fits and font <= layout.panel_w / ((longest + 2) * PT_TO_MM * 1.05)
        else:
            per_line = (layout.panel_w * 0.47 - 3) / 2 / (font * PT_TO_MM)
            used = sum(-(-len(text) // max(1, int(per_line - 1.5))) for texts in step_lines for text in texts)
            fits = max(used / 2 + 2, n_lanes * 2.3 + n_notes * 2.2 + 2) * line * font <= layout.panel_h - 4
        if fits:
            return font
        font -= 0.2
    return 5.5


def poster_html(chart: Chart, svg: bytes, paper: str, info: PosterInfo, marks: CaseMarks | None = None) -> str:
    chart, marks = prepared(chart, marks, info.print_date.date())
    steps = chart.steps
    meta = chart.meta or {}
    basis = meta.get("legal_basis") or "—"
    layout = plan(paper, svg_size_pt(svg), len(steps), len(chart.lanes), len("依据：" + basis))
    k = 1.0 if paper == "A4" else 1.35
    inner_w = layout.page_w - 2 * MARGIN
    inner_h = layout.page_h - 2 * MARGIN
    category = f"{chart.category}类 · {CATEGORY_NAMES.get(chart.category, '')}"
    place = ""
    if info.village_name:
        place = info.village_name + (f"（{info.township}）" if info.township else "")
    title = chart.name
    subtitle = "办事流程图" if marks is None else "事项办理进度"
    if marks is not None:
        status = STATUS_NAMES.get(marks.status, marks.status)
        case = f"第{marks.case_id}号事项" if marks.case_id else "本事项"
        subtitle += f"　{case}{('“' + marks.title + '”') if marks.title else ''}　当前状态：{status}"

    # the panel: numbered steps, who to call, the QR code
    done = marks.done if marks else set()
    current = set(marks.current) if marks else set()
    step_rows = []
    for node in steps:
        mark = CURRENT_MARK if node.id in current else DONE_MARK if node.id in done else ""
        cls = "current" if node.id in current else "done" if node.id in done else ""
        limits = [n for n in node.notes if not n.startswith("需上传")][:2]
        evidence = [n for n in node.notes if n.startswith("需上传")]
        step_rows.append(
            f'<li class="{cls}"><span class="no">{_esc(step_mark(node.step_no))}</span>'
            f'<span class="name">{_esc(mark + " " if mark else "")}{_esc(node.name)}'
            f'{"（有异议时）" if node.id == SHARED_INSPECTION else ""}</span>'
            f'<span class="who">{_esc(node.lane)}{"".join("　" + _esc(t) for t in limits)}</span>'
            + "".join(f'<span class="ev">{_esc(t)}</span>' for t in evidence) + '</li>')
    timers = sorted({n.timer_text for n in chart.nodes.values() if n.timer_text})
    notes = [f"公示期{t.removeprefix('公示')}，公示期间村民可以对公开内容提出异议。" if t.startswith("公示") else t
             for t in timers]

    contacts = []
    for lane in chart.lanes:
        names = info.contacts.get(lane) or []
        steps_of = "".join(step_mark(n.step_no) for n in chart.lane_steps(lane))
        people = "、".join(names) if names else "＿＿＿＿"
        contacts.append(
            f'<div class="contact"><b>{_esc(lane or "其他")}</b> <span class="of">{_esc(steps_of)}</span><br>'
            f'<span class="person">负责人：{_esc(people)}</span>　<span class="phone">电话：＿＿＿＿＿</span></div>')

    codes = qr_codes(chart, info)
    qr_mm = 30 * k if layout.side else max(16.0, min(30 * k, layout.panel_h - 24, inner_w * 0.2 - 2))
    if layout.side:  # the codes side by side under the lists
        qr_mm = min(qr_mm, (layout.panel_w - 3) / len(codes))
    else:
        qr_mm = min(qr_mm, (layout.panel_h - 12) / len(codes) - 10)
    longest = max([len(n.name) + 2 for n in steps] + [len(lane) + 4 for lane in chart.lanes] + [8])
    step_lines = [[n.name, n.lane + "　" + "　".join(n.notes[:2])] + [t for t in n.notes if t.startswith("需上传")]
                  for n in steps]
    panel_font = _panel_font(layout, paper, step_lines, len(chart.lanes), len(notes), longest, qr_mm)

    panel_left = inner_w - layout.panel_w if layout.side else 0.0
    body_top, body_bottom = layout.header_h + 2, inner_h - layout.footer_h - 2
    if layout.side:  # the chart centred in the room left of the panel, from the top
        chart_left = max(0.0, (panel_left - 5 - layout.chart_w) / 2)
        chart_top = body_top
        panel_top = body_top
    else:  # the panel sits on the footer; the chart is centred in the room above it
        chart_left = (inner_w - layout.chart_w) / 2
        panel_top = body_bottom - layout.panel_h
        chart_top = body_top + max(0.0, (panel_top - 5 - body_top - layout.chart_h) / 2)

    version = f"流程定义第{chart.version}版" + (f"（{chart.digest[:8]}）" if chart.digest else "")
    date = f"{info.print_date.year}年{info.print_date.month}月{info.print_date.day}日"

    steps_html = f'<section class="steps"><h2>办事步骤（照单操作）</h2><ol>{"".join(step_rows)}</ol></section>'
    notes_html = "".join(f"<p class=\"note\">{_esc(n)}</p>" for n in notes)
    who_html = f'<section class="who"><h2>办事找谁</h2>{"".join(contacts)}{notes_html}</section>'
    qr_html = '<section class="qr">' + "".join(
        f'<div class="code"><img src="{_data_uri(qr_svg(url))}" style="width:{qr_mm:.1f}mm;height:{qr_mm:.1f}mm">'
        f'<div class="qrtext"><b>{_esc(head)}</b><br><span class="url">{_esc(url)}</span></div></div>'
        for url, head, _note in codes) + "</section>"
    if layout.side:
        panel = steps_html + who_html + qr_html
        panel_css = (".qr img{display:block;margin:0 0 1mm 0}.qr{display:flex;gap:3mm}"
                     f".qr .code{{width:{qr_mm:.1f}mm}}")
    else:
        panel = (f'<div class="col c1">{steps_html}</div><div class="col c2">{who_html}</div>'
                 f'<div class="col c3">{qr_html}</div>')
        panel_css = (".panel .col{position:absolute;top:0;bottom:0}.c1{left:0;width:47%}"
                     ".c2{left:50%;width:27%}.c3{left:80%;width:20%}.c1 ol{columns:2;column-gap:3mm}"
                     ".qr img{display:block;margin:0 0 1mm 0}")

    orientation = "landscape" if layout.landscape else "portrait"
    css = f"""
@page {{ size: {paper} {orientation}; margin: {MARGIN}mm; }}
html, body {{ margin: 0; padding: 0; font-family: {FONT_STACK}; color: #212529; }}
.page {{ position: relative; width: {inner_w:.2f}mm; height: {layout.page_h - 2 * MARGIN - 0.5:.2f}mm; }}
header {{ position: absolute; left: 0; top: 0; width: 100%; height: {layout.header_h - 0.8 * k:.1f}mm;
  border-bottom: {0.8 * k:.2f}mm solid #c92a2a; }}
header h1 {{ margin: 0; font-size: {19 * k:.1f}pt; line-height: 1.2; }}
header .sub {{ margin-top: {1.0 * k:.1f}mm; font-size: {10.5 * k:.1f}pt; }}
header .badge {{ display: inline-block; background: #c92a2a; color: white; padding: 0.1mm 2mm;
  border-radius: 1mm; font-weight: bold; margin-right: 2mm; }}
header .basis {{ margin-top: {0.8 * k:.1f}mm; font-size: {8.5 * k:.1f}pt; color: #495057; }}
.chart {{ position: absolute; left: {chart_left:.2f}mm; top: {chart_top:.2f}mm; }}
.chart img {{ display: block; width: {layout.chart_w:.2f}mm; height: {layout.chart_h:.2f}mm; }}
.panel {{ position: absolute; left: {panel_left:.2f}mm; top: {panel_top:.2f}mm; width: {layout.panel_w:.2f}mm;
  height: {layout.panel_h:.2f}mm; font-size: {panel_font:.2f}pt; line-height: 1.3; overflow: hidden; }}
{panel_css}
h2 {{ font-size: {panel_font * 1.2:.2f}pt; margin: 0 0 0.8mm 0; padding: 0.4mm 1.2mm; background: #f1f3f5;
  border-left: 1.2mm solid #c92a2a; }}
section {{ margin-bottom: {2.0 * k:.1f}mm; }}
ol {{ list-style: none; margin: 0; padding: 0; }}
li {{ margin: 0 0 0.5mm 0; break-inside: avoid; }}
li .no {{ display: inline-block; width: 1.3em; font-weight: bold; }}
li .name {{ font-weight: bold; }}
li .who {{ display: block; margin-left: 1.3em; color: #495057; font-size: 0.88em; }}
li .ev {{ display: block; margin-left: 1.3em; color: #1864ab; font-size: 0.88em; font-weight: bold; }}
li.done .name {{ color: #2b8a3e; }}
li.current .name {{ color: #d9480f; text-decoration: underline; }}
.contact {{ border-bottom: 0.2mm solid #ced4da; padding: 0.5mm 0 0.7mm 0; }}
.contact .of {{ color: #495057; }}
.contact .phone, .contact .person {{ color: #495057; font-size: 0.92em; white-space: nowrap; }}
p.note {{ margin: 1mm 0 0 0; color: #a61e4d; }}
.qrtext {{ font-size: 0.9em; color: #343a40; }}
.qrtext .url {{ font-size: 0.85em; color: #495057; word-break: break-all; }}
footer {{ position: absolute; left: 0; bottom: 0; width: 100%; height: {layout.footer_h:.1f}mm;
  border-top: 0.3mm solid #adb5bd; font-size: {7.5 * k:.1f}pt; color: #495057; padding-top: 1mm; }}
footer .right {{ float: right; }}
"""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_esc(title)}</title><style>{css}</style></head>
<body><div class="page">
<header>
  <h1>{_esc(title)}</h1>
  <div class="sub"><span class="badge">{_esc(category)}</span>{_esc(subtitle)}{("　" + _esc(place)) if place else ""}</div>
  <div class="basis">依据：{_esc(basis)}</div>
</header>
<div class="chart"><img src="{_data_uri(svg)}" alt="{_esc(title)}流程图"></div>
<div class="panel">{panel}</div>
<footer><span>打印日期：{date}　{_esc(version)}</span>
<span class="right">本图由阳光村务系统根据正在运行的流程定义自动生成，办事以此为准</span></footer>
</div></body></html>"""


def qr_codes(chart: Chart, info: PosterInfo) -> list[tuple[str, str, str]]:
    """The codes on a poster, (url, heading, note): the village's board, and 反映问题 (issue 12),
    which opens the village's lead form (recorded as 扫码). The 速查快办 poster's own subject is
    the lead, so its 反映问题 code comes first."""
    board = (info.board_url, "扫码查看本村公开栏" if info.village_name else "扫码查看村务公开栏",
             "公示内容、办理结果、异议答复都在公开栏，可在线提出异议。")
    if not info.lead_url:
        return [board]
    lead = (info.lead_url, "扫码反映问题（可匿名）",
            "提交后取得查询码，凭码查看受理、办理进度和结果。" if info.village_name
            else "选择本村后反映问题，可匿名；凭查询码查看办理进度。")
    return [lead, board] if chart.key == "complaint-lead" else [board, lead]


# -- the villager's poster (issue 15) -------------------------------------------------------------
#: 全国纪检监察机关统一举报电话 12388 (in service since 2008-06-26, 中央纪委监察部 via 新华网 2008-06-25;
#: 12388.gov.cn is its website), printed beside the township's own number.
REPORT_LINE = "12388"


@dataclass
class VillagerItem:
    title: str
    lines: list[str]
    kind: str = "step"  # step | notice | objection | end


def _forward(view: Chart) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for edge in view.edges:
        if not edge.back:
            out.setdefault(edge.source, []).append(edge.target)
    return out


def _reach(view: Chart, start: str, wanted, depth: int = 5):
    """The first node within ``depth`` forward flows of ``start`` for which ``wanted(node)``."""
    out = _forward(view)
    frontier, seen = [start], {start}
    for _ in range(depth):
        following = []
        for nid in frontier:
            for target in out.get(nid, []):
                if target in seen:
                    continue
                seen.add(target)
                if wanted(view.nodes[target]):
                    return view.nodes[target]
                following.append(target)
        frontier = following
    return None


def villager_items(view: Chart) -> list[VillagerItem]:
    """What a villager sees of an item or takes part in, in process order: the start, the
    meetings villagers attend or send representatives to, each notice on the board with its period
    and how to object (who answers, in how many days), the ends."""
    items: list[tuple[int, VillagerItem]] = []
    nodes = sorted(view.nodes.values(), key=lambda n: n.order)
    start = next((n for n in nodes if n.kind == "start"), None)
    if start is not None:
        taken = "受理" if view.category == "B" or "申请" in (start.name or "") else "发起"
        items.append((start.order, VillagerItem(start.name or "提出申请", [f"由{start.lane}{taken}"])))
    meetings = [n for n in nodes if n.properties.get("form") == "meeting"
                and n.properties.get("body") in ("villager_assembly", "representatives")]
    if meetings:
        lines = []
        for node in meetings:
            who = "十八周岁以上村民参加" if node.properties.get("body") == "villager_assembly" else "村民代表参加"
            lines.append("；".join([f"{node.name}：{who}", *[n for n in node.notes if "通知" in n]]))
        title = "、".join(dict.fromkeys(n.name for n in meetings)) if len(meetings) == 1 else "村民（代表）会议表决"
        items.append((meetings[0].order, VillagerItem(title, lines)))
    for node in nodes:
        if not node.properties.get("publishes"):
            continue
        days = int((view.meta or {}).get("notice_days") or 7)
        label = node.properties.get("notice_label") or ""
        wait = _reach(view, node.id, lambda n: n.kind == "event_gateway")
        if not label:
            label = (wait.name.removesuffix("中") if wait is not None and wait.name else "") or "公示"
        items.append((node.order, VillagerItem(
            f"张榜公示：{label}", [f"在村务公开栏张贴，公示不少于{days}天", "手机扫码也能看，公示到期前都可以提出异议"],
            "notice")))
        if wait is None:
            continue
        objection = _reach(view, wait.id, lambda n: n.kind == "catch" and n.event != "timer", depth=1)
        reply = _reach(view, objection.id, lambda n: n.properties.get("form") == "objection_reply", depth=2) \
            if objection is not None else None
        if reply is not None:
            limit = next((n for n in reply.notes if n.startswith("限")), "")
            answer = f"{reply.lane}{limit.removeprefix('限').removesuffix('内')}内书面答复" if limit else f"{reply.lane}答复"
            items.append((node.order, VillagerItem(
                "有异议？公示期内提出", ["到公开栏扫码或当面提出，可以不写姓名",
                                         f"{answer}，张贴公开", "异议成立的，改正后重新公示"], "objection")))
    ends = [n for n in nodes if n.kind == "end" and n.end_kind in ("completed", "rejected") and n.name]
    if ends:
        names = "、".join(dict.fromkeys(n.name for n in ends if n.end_kind == "completed"))
        other = "、".join(dict.fromkeys(n.name for n in ends if n.end_kind == "rejected"))
        items.append((max(n.order for n in ends), VillagerItem(
            names or other, [f"未通过时：{other}，结果同样公开"] if names and other else ["结果在公开栏公布"], "end")))
    items.sort(key=lambda pair: pair[0])
    return [item for _order, item in items]


def villager_html(chart: Chart, paper: str, info: PosterInfo) -> str:
    """The simplified poster: large type, only what a villager sees or takes, the board and the
    反映问题 codes and the report line."""
    view, _ = prepared(chart, None, info.print_date.date())
    items = villager_items(view)
    page_w, page_h = PAPERS[paper]
    k = 1.0 if paper == "A4" else 1.41
    inner_w, inner_h = page_w - 2 * MARGIN, page_h - 2 * MARGIN
    # the list fills the left 64%; a font that fits its lines into the height left
    lines = sum(1.25 + len(i.lines) * 1.0 for i in items) + 0.9 * max(0, len(items) - 1)
    room = inner_h - 48 * k - 14 * k
    body = min(15.0 * k, room / (lines * 1.55 * PT_TO_MM * 1.08))
    place = info.village_name + (f"（{info.township}）" if info.township else "") if info.village_name else ""
    colors = {"step": "#1c7ed6", "notice": "#c92a2a", "objection": "#e8590c", "end": "#2b8a3e"}
    boxes = []
    for number, item in enumerate(items, 1):
        boxes.append(
            f'<div class="item {item.kind}" style="border-color:{colors[item.kind]}">'
            f'<div class="t"><span class="n" style="background:{colors[item.kind]}">{number}</span>{_esc(item.title)}</div>'
            + "".join(f'<div class="l">{_esc(line)}</div>' for line in item.lines) + "</div>")
    codes = qr_codes(chart, info)
    qr_mm = min(58 * k, (inner_h - 60 * k) / len(codes) - 22 * k)
    qr_html = "".join(
        f'<div class="code"><img src="{_data_uri(qr_svg(url))}" style="width:{qr_mm:.1f}mm;height:{qr_mm:.1f}mm">'
        f'<div class="h">{_esc(head)}</div><div class="u">{_esc(url)}</div></div>' for url, head, _note in codes)
    date = f"{info.print_date.year}年{info.print_date.month}月{info.print_date.day}日"
    version = f"流程定义第{chart.version}版" + (f"（{chart.digest[:8]}）" if chart.digest else "")
    css = f"""
@page {{ size: {paper} portrait; margin: {MARGIN}mm; }}
html, body {{ margin: 0; padding: 0; font-family: {FONT_STACK}; color: #212529; }}
.page {{ position: relative; width: {inner_w:.2f}mm; height: {inner_h - 0.5:.2f}mm; }}
header {{ border-bottom: {1.2 * k:.2f}mm solid #c92a2a; padding-bottom: {2 * k:.1f}mm; }}
h1 {{ margin: 0; font-size: {30 * k:.1f}pt; line-height: 1.2; }}
.sub {{ font-size: {15 * k:.1f}pt; margin-top: {1.5 * k:.1f}mm; }}
.sub b {{ background: #c92a2a; color: white; padding: 0 2mm; border-radius: 1mm; margin-right: 2mm; }}
.list {{ position: absolute; left: 0; top: {40 * k:.1f}mm; width: 63%; }}
.item {{ border: {0.8 * k:.2f}mm solid; border-radius: 2mm; padding: {1.6 * k:.1f}mm {3 * k:.1f}mm;
  margin-bottom: {4.2 * k:.1f}mm; position: relative; font-size: {body:.2f}pt; line-height: 1.45; }}
.item + .item::before {{ content: "▼"; position: absolute; top: -{4.4 * k:.1f}mm; left: 6mm; color: #868e96;
  font-size: {body * 0.8:.2f}pt; line-height: 1; }}
.item .t {{ font-weight: bold; font-size: 1.25em; }}
.item .n {{ display: inline-block; color: white; border-radius: 50%; width: 1.4em; height: 1.4em; line-height: 1.4em;
  text-align: center; margin-right: 2mm; font-size: 0.85em; vertical-align: 0.1em; }}
.item .l {{ margin-left: 2.2em; }}
.side {{ position: absolute; right: 0; top: {40 * k:.1f}mm; width: 33%; text-align: center; }}
.code {{ margin-bottom: {5 * k:.1f}mm; }}
.code img {{ display: block; margin: 0 auto; }}
.code .h {{ font-weight: bold; font-size: {16 * k:.1f}pt; }}
.code .u {{ font-size: {7.5 * k:.1f}pt; color: #495057; word-break: break-all; }}
.line {{ border: {0.8 * k:.2f}mm solid #c92a2a; border-radius: 2mm; padding: {2 * k:.1f}mm; font-size: {14 * k:.1f}pt; }}
.line .big {{ font-size: {26 * k:.1f}pt; font-weight: bold; color: #c92a2a; letter-spacing: 1mm; }}
footer {{ position: absolute; left: 0; bottom: 0; width: 100%; border-top: 0.3mm solid #adb5bd;
  font-size: {8 * k:.1f}pt; color: #495057; padding-top: 1mm; }}
footer .right {{ float: right; }}
"""
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{_esc(chart.name)}（村民版）</title><style>{css}</style></head>
<body><div class="page">
<header><h1>{_esc(chart.name)}</h1>
<div class="sub"><b>村民须知</b>{_esc(place or "看公示、提异议、反映问题")}</div></header>
<div class="list">{"".join(boxes)}</div>
<div class="side">{qr_html}
<div class="line">监督举报电话<br><span class="big">{REPORT_LINE}</span><br>乡镇纪委：＿＿＿＿＿＿</div></div>
<footer><span>打印日期：{date}　{_esc(version)}　完整流程见同名流程图海报</span>
<span class="right">阳光村务系统按正在运行的流程定义生成</span></footer>
</div></body></html>"""


def villager_pdf(chart: Chart, paper: str, info: PosterInfo) -> bytes:
    return html_to_pdf(villager_html(chart, paper, info))


# -- output -----------------------------------------------------------------------------------
def html_to_pdf(document: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=document).write_pdf()


def pdf_to_png(pdf: bytes, dpi: int) -> bytes:
    """Rasterise the page with poppler, then write a 256-colour PNG with Pillow: the poster is
    flat colours and text, so the palette is lossless to the eye, 3× smaller and faster to
    compress than poppler's own RGB PNG."""
    from PIL import Image

    with tempfile.TemporaryDirectory(prefix="cunwu-poster-") as tmp:
        source = Path(tmp) / "poster.pdf"
        source.write_bytes(pdf)
        try:
            proc = subprocess.run(["pdftoppm", "-r", str(dpi), "-singlefile", str(source), str(Path(tmp) / "poster")],
                                  capture_output=True, timeout=120, check=False)
        except FileNotFoundError as exc:  # pragma: no cover - poppler-utils is a system requirement
            raise RenderError("未安装 poppler-utils（pdftoppm），无法生成 PNG 海报") from exc
        if proc.returncode != 0:
            raise RenderError(f"PNG 海报生成失败：{proc.stderr.decode('utf-8', 'replace')[:300]}")
        with Image.open(Path(tmp) / "poster.ppm") as image:
            image.load()
            out = io.BytesIO()
            image.quantize(colors=256, method=Image.Quantize.FASTOCTREE).save(
                out, "PNG", compress_level=6, dpi=(dpi, dpi))
            return out.getvalue()


def poster_pdf(chart: Chart, paper: str, info: PosterInfo, marks: CaseMarks | None = None,
               svg: bytes | None = None) -> bytes:
    """``svg``: the chart without its title (``chart_bytes(chart, "svg", marks, title=False)``),
    when the caller has it cached."""
    if svg is None:
        svg = chart_bytes(chart, "svg", marks, title=False, on=info.print_date.date())
    return html_to_pdf(poster_html(chart, svg, paper, info, marks))


def poster_png(chart: Chart, paper: str, info: PosterInfo, marks: CaseMarks | None = None,
               dpi: int | None = None) -> bytes:
    return pdf_to_png(poster_pdf(chart, paper, info, marks), dpi or PNG_DPI[paper])

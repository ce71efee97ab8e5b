"""Wall posters: the chart laid into a true A4/A3 page with the title, category, legal basis,
the numbered steps, who to call, a QR code to the public board, the print date and the
definition version. HTML + ``@page`` printed by WeasyPrint; PNG by rasterising that PDF.
"""

from __future__ import annotations

import base64
import io
import math
import re
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import jinja2

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

#: The posters' HTML (diagrams/templates, shipped as package data). Autoescape is on: every value a
#: template prints is text, escaped by the template (a case's title, a village's name, a URL).
TEMPLATES = jinja2.Environment(loader=jinja2.PackageLoader("diagrams", "templates"), autoescape=True,
                               trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
TEMPLATES.filters["fixed"] = lambda value, digits=1: f"{value:.{digits}f}"


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


def text_em(text: str) -> float:
    """About how wide a line of text prints, in em: a Chinese character one, a Latin letter or digit 0.6."""
    return sum(1.0 if unicodedata.east_asian_width(ch) in "WF" else 0.6 for ch in text)


def header_height(paper: str, basis_len: int, sub_em: float = 0.0) -> float:
    """Title, category line (which wraps when a case's title is long) and the legal basis (which may wrap)."""
    k = 1.0 if paper == "A4" else 1.35
    inner_w = PAPERS[paper][0] - 2 * MARGIN  # portrait: the narrower case
    per_line = max(20, int(inner_w / (8.5 * k * PT_TO_MM * 1.02)))
    lines = max(1, -(-basis_len // per_line))
    sub_lines = max(1, math.ceil(sub_em / (inner_w / (10.5 * k * PT_TO_MM * 1.02))))
    return (18.5 + 4.6 * lines + 5.7 * (sub_lines - 1)) * k


def plan(paper: str, chart_pt: tuple[float, float], n_steps: int, n_lanes: int, basis_len: int = 40,
         sub_em: float = 0.0) -> Layout:
    """Pick the orientation and the panel position that print the chart largest."""
    w_pt, h_pt = chart_pt
    chart_w_mm, chart_h_mm = w_pt * PT_TO_MM, h_pt * PT_TO_MM
    short, long_ = PAPERS[paper]
    k = 1.0 if paper == "A4" else 1.35
    header_h, footer_h, gap = header_height(paper, basis_len, sub_em), 7.0 * k, 5.0
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
    sub_em = text_em(category) + 1.5 + text_em(subtitle) + (1 + text_em(place) if place else 0)  # 1.5: the badge
    layout = plan(paper, svg_size_pt(svg), len(steps), len(chart.lanes), len("依据：" + basis), sub_em)
    k = 1.0 if paper == "A4" else 1.35
    inner_w = layout.page_w - 2 * MARGIN
    inner_h = layout.page_h - 2 * MARGIN

    # the panel: numbered steps, who to call, the QR code
    done = marks.done if marks else set()
    current = set(marks.current) if marks else set()
    steps_rows = [{"cls": "current" if node.id in current else "done" if node.id in done else "",
                   "number": step_mark(node.step_no),
                   "mark": CURRENT_MARK if node.id in current else DONE_MARK if node.id in done else "",
                   "name": node.name, "shared": node.id == SHARED_INSPECTION, "lane": node.lane,
                   "limits": [n for n in node.notes if not n.startswith("需上传")][:2],
                   "evidence": [n for n in node.notes if n.startswith("需上传")]}
                  for node in steps]
    timers = sorted({n.timer_text for n in chart.nodes.values() if n.timer_text})
    notes = [f"公示期{t.removeprefix('公示')}，公示期间村民可以对公开内容提出异议。" if t.startswith("公示") else t
             for t in timers]
    contacts = [{"lane": lane, "steps": "".join(step_mark(n.step_no) for n in chart.lane_steps(lane)),
                 "people": "、".join(info.contacts.get(lane) or []) or "＿＿＿＿"}
                for lane in chart.lanes]

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

    return TEMPLATES.get_template("poster.html.j2").render(
        paper=paper, orientation="landscape" if layout.landscape else "portrait", margin=MARGIN,
        font_stack=FONT_STACK, k=k, layout=layout, inner_w=inner_w, chart_left=chart_left, chart_top=chart_top,
        panel_left=panel_left, panel_top=panel_top, panel_font=panel_font, qr_mm=qr_mm,
        title=title, category=category, subtitle=subtitle, place=place, basis=basis, chart_image=_data_uri(svg),
        steps=steps_rows, contacts=contacts, notes=notes, codes=_code_images(codes),
        date=_print_day(info), version=_version_text(chart))


def _print_day(info: PosterInfo) -> str:
    return f"{info.print_date.year}年{info.print_date.month}月{info.print_date.day}日"


def _version_text(chart: Chart) -> str:
    return f"流程定义第{chart.version}版" + (f"（{chart.digest[:8]}）" if chart.digest else "")


def _code_images(codes: list[tuple[str, str, str]]) -> list[dict]:
    """The codes as the templates print them: the QR image (a data URI), its heading and its URL."""
    return [{"image": _data_uri(qr_svg(url)), "head": head, "url": url} for url, head, _note in codes]


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
ITEM_COLORS = {"step": "#1c7ed6", "notice": "#c92a2a", "objection": "#e8590c", "end": "#2b8a3e"}


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
    codes = qr_codes(chart, info)
    qr_mm = min(58 * k, (inner_h - 60 * k) / len(codes) - 22 * k)
    return TEMPLATES.get_template("villager.html.j2").render(
        paper=paper, margin=MARGIN, font_stack=FONT_STACK, k=k, inner_w=inner_w, inner_h=inner_h, body=body,
        name=chart.name, place=place, qr_mm=qr_mm, codes=_code_images(codes), report_line=REPORT_LINE,
        items=[{"kind": item.kind, "color": ITEM_COLORS[item.kind], "title": item.title, "lines": item.lines}
               for item in items],
        date=_print_day(info), version=_version_text(chart))


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

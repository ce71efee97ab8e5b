"""The flowchart service: charts and posters of deployed definitions and of cases, cached.

``Diagrams`` is what the Flask app registers as ``app.extensions["cunwu_diagrams"]``
(``render_process`` / ``render_case`` return a ``Rendered``; web/api/diagrams.py turns it into the HTTP
answer) and what the ``cunwu render`` command uses. It talks to the engine only
(``Engine.deployed``, ``Engine.case_path`` and the engine's own tables), never to Flask or the web
layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.domain import rules
from engine.domain.errors import BadRequest

from . import poster, render
from .cache import RenderCache, cache_key
from .marks import CaseMarks

FORMATS = {"svg": "image/svg+xml; charset=utf-8", "png": "image/png", "pdf": "application/pdf"}
PAPERS = ("A4", "A3")
DEFAULT_PUBLIC_URL = "http://127.0.0.1:5000"


@dataclass
class Rendered:
    data: bytes
    mimetype: str
    filename: str
    etag: str


def check_format(fmt: str | None) -> str:
    value = (fmt or "svg").strip().lower()
    if value not in FORMATS:
        raise BadRequest(f"不支持的格式“{fmt}”，可选：svg、png、pdf",
                         {"format": [f"只能是 svg、png 或 pdf，收到“{fmt}”"]})
    return value


def check_paper(paper: str | None) -> str:
    value = (paper or "A3").strip().upper()
    if value not in PAPERS:
        raise BadRequest(f"不支持的纸张“{paper}”，可选：A4、A3", {"paper": [f"只能是 A4 或 A3，收到“{paper}”"]})
    return value


VARIANTS = ("full", "villager")


def check_variant(variant: str | None) -> str:
    value = (variant or "full").strip().lower()
    if value not in VARIANTS:
        raise BadRequest(f"不支持的海报版本“{variant}”，可选：full（完整版）、villager（村民版）",
                         {"variant": [f"只能是 full 或 villager，收到“{variant}”"]})
    return value


class Diagrams:
    def __init__(self, engine, *, cache_dir: Path | None = None, public_url: str | None = None,
                 timezone: str = "Asia/Shanghai"):
        self.engine = engine
        self.cache = RenderCache(cache_dir)
        self.public_url = (public_url or "").rstrip("/") or None
        self.tz = ZoneInfo(timezone)

    # -- helpers ----------------------------------------------------------------------------------
    def today(self) -> datetime:
        return self.engine.now().astimezone(self.tz)

    def board_url(self, village: str | None, base_url: str | None = None) -> str:
        base = (self.public_url or (base_url or "").rstrip("/") or DEFAULT_PUBLIC_URL)
        return f"{base}/villages/{village}/board" if village else f"{base}/board"

    def lead_url(self, village: str | None, base_url: str | None = None) -> str:
        """Where the poster's 反映问题 code leads (issue 12): the village's lead form, recorded as 扫码;
        a poster for no village opens the home page, which lists the villages."""
        base = (self.public_url or (base_url or "").rstrip("/") or DEFAULT_PUBLIC_URL)
        return f"{base}/villages/{village}/leads/new?via=qr" if village else f"{base}/"

    def poster_info(self, lanes: list[str], village: str | None, base_url: str | None) -> poster.PosterInfo:
        info = poster.PosterInfo(board_url=self.board_url(village, base_url), print_date=self.today(),
                                 lead_url=self.lead_url(village, base_url))
        if not village:
            return info
        found = self.engine.village_contacts(village, lanes)
        info.village_name, info.township, info.contacts = found.name, found.township, found.contacts
        return info

    # -- rendering --------------------------------------------------------------------------------
    def render_process(self, key: str, fmt: str = "svg", paper: str = "A3", village: str | None = None,
                       base_url: str | None = None, version: int | None = None,
                       variant: str | None = None) -> Rendered:
        """svg: the chart; pdf: the A4/A3 poster; png: that poster as an image. ``variant``
        ``villager``: the simplified poster for villagers (pdf/png), beside the full one."""
        fmt, paper, variant = check_format(fmt), check_paper(paper), check_variant(variant)
        if variant == "villager" and fmt == "svg":
            raise BadRequest("村民版海报只有 pdf、png 格式", {"variant": ["村民版海报请用 format=pdf 或 format=png"]})
        village = (village or "").strip() or None
        deployed = self.engine.deployed(key, version)
        chart = render.chart_for(self.engine, deployed)
        day = self.today().date()
        rule_set = rules.rule_set_on(day).version  # 列席 and the 村民会议 notice follow the law in force
        base = f"{chart.key}-v{chart.version}"
        if fmt == "svg":  # the bare chart: no village details, but a wrong village is still an error
            if village:
                self.poster_info([], village, base_url)
            tag = cache_key("chart", chart.key, chart.version, chart.digest, fmt, rule_set)
            data = self.cache.get_or_render(tag, f"{base}.svg", lambda: render.chart_bytes(chart, "svg", on=day))
            return Rendered(data, FORMATS[fmt], f"{base}.svg", tag)
        info = self.poster_info(chart.lanes, village, base_url)
        bare_tag = cache_key("bare-chart", chart.key, chart.version, chart.digest, rule_set)

        def bare() -> bytes:  # the chart without its title, shared by both papers and formats
            return self.cache.get_or_render(
                bare_tag, f"{base}-bare.svg", lambda: render.chart_bytes(chart, "svg", title=False, on=day),
                persist=False)

        def make_pdf() -> bytes:
            if variant == "villager":
                return poster.villager_pdf(chart, paper, info)
            return poster.poster_pdf(chart, paper, info, svg=bare())

        suffix = "-villager" if variant == "villager" else ""
        parts = (chart.key, chart.version, chart.digest, paper, variant, info.board_url, info.lead_url,
                 info.village_name, info.township, info.contacts, info.print_date.date().isoformat())
        tag = cache_key("poster", fmt, *parts)
        name = f"{base}-{paper}{suffix}{('-' + village) if village else ''}.{fmt}"
        if fmt == "pdf":
            data = self.cache.get_or_render(tag, name, make_pdf)
        else:  # rasterise the (cached) PDF page so the PNG keeps the paper's proportions
            pdf_tag = cache_key("poster", "pdf", *parts)
            pdf_name = name.removesuffix(".png") + ".pdf"

            def make_png() -> bytes:
                pdf = self.cache.get_or_render(pdf_tag, pdf_name, make_pdf)
                return poster.pdf_to_png(pdf, poster.PNG_DPI[paper])

            data = self.cache.get_or_render(tag, name, make_png)
        return Rendered(data, FORMATS[fmt], name, tag)

    def render_case(self, username: str | None, case_id: int, fmt: str = "svg", paper: str = "A3",
                    base_url: str | None = None) -> Rendered:
        """svg/png: the chart with the path taken and the current step(s) marked; pdf: a poster
        page of it."""
        fmt, paper = check_format(fmt), check_paper(paper)
        deployed, completed, current, status = self.engine.case_path(username, case_id)
        title, village = self.engine.case_heading(username, case_id)
        marks = CaseMarks(list(completed), list(current), status, title, case_id)
        chart = render.chart_for(self.engine, deployed)
        day = self.today().date()
        tag = cache_key("case", case_id, chart.key, chart.version, chart.digest, fmt, paper, marks.completed,
                        marks.current, status, title, day.isoformat() if fmt == "pdf" else "",
                        rules.rule_set_on(day).version)
        name = f"case-{case_id}.{fmt}" if fmt != "pdf" else f"case-{case_id}-{paper}.pdf"
        if fmt == "svg":
            make = lambda: render.chart_bytes(chart, "svg", marks, on=day)  # noqa: E731
        elif fmt == "png":
            make = lambda: render.chart_bytes(chart, "png", marks, dpi=96, on=day)  # noqa: E731
        else:
            def make() -> bytes:
                return poster.poster_pdf(chart, paper, self.poster_info(chart.lanes, village, base_url), marks)
        data = self.cache.get_or_render(tag, name, make, persist=False)
        return Rendered(data, FORMATS[fmt], name, tag)


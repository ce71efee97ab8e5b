"""Flowcharts and posters drawn from the deployed definitions (diagrams/)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from flows import Walk
from lxml import etree

from diagrams import layout, render
from diagrams.dot import lane_names
from diagrams.marks import CaseMarks, prepared
from diagrams.model import build_chart
from diagrams.style import CURRENT_MARK, DONE_MARK
from engine.catalogue.catalog import load_catalogue

SVG = "{http://www.w3.org/2000/svg}"
KEYS = [item.key for item in load_catalogue()]  # every catalogue item, new ones included
A4 = (595.28, 841.89)
A3 = (841.89, 1190.55)


def svg_nodes(svg: bytes) -> dict[str, tuple[set[str], str]]:
    """SVG node id → (classes, its text joined)."""
    root = etree.fromstring(svg)
    out = {}
    for group in root.iter(f"{SVG}g"):
        classes = set((group.get("class") or "").split())
        if "node" in classes:
            text = "".join("".join(t.itertext()) for t in group.iter(f"{SVG}text"))
            out[group.get("id") or ""] = (classes, text)
    return out


def svg_texts(svg: bytes) -> list[str]:
    root = etree.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def pdf_info(pdf: bytes) -> str:
    """``pdfinfo`` of a PDF (WeasyPrint compresses its page objects, so no regex on the bytes)."""
    proc = subprocess.run(["pdfinfo", "-"], input=pdf, capture_output=True, check=True)
    return proc.stdout.decode()


def page_size(pdf: bytes) -> tuple[float, float]:
    info = pdf_info(pdf)
    match = re.search(r"Page size:\s+([\d.]+) x ([\d.]+) pts", info)
    assert match, info
    return float(match.group(1)), float(match.group(2))


def pdf_pages(pdf: bytes) -> int:
    return int(re.search(r"Pages:\s+(\d+)", pdf_info(pdf)).group(1))


def is_paper(size: tuple[float, float], paper: tuple[float, float]) -> bool:
    w, h = size
    return any(abs(w - a) < 0.02 and abs(h - b) < 0.02 for a, b in (paper, paper[::-1]))


def font_cmap() -> set[int]:
    from fontTools.ttLib import TTCollection

    path = subprocess.run(["fc-match", "-f", "%{file}", "Noto Sans CJK SC:style=Regular"],
                          capture_output=True, text=True, check=True).stdout
    return set(TTCollection(path).fonts[0].getBestCmap())


@pytest.fixture
def engine(app):
    return app.extensions["cunwu"]


@pytest.fixture
def diagrams(app):
    return app.extensions["cunwu_diagrams"]


def test_catalogue_and_deployed_agree(engine):
    assert sorted(KEYS) == sorted(p["key"] for p in engine.processes())


# -- every item, every format, both papers ---------------------------------------------------------
@pytest.mark.parametrize("key", KEYS)
def test_every_item_renders_everywhere(engine, diagrams, key):
    process = engine.process(key)
    svg = diagrams.render_process(key, "svg").data
    texts = svg_texts(svg)
    node_texts = [text for _classes, text in svg_nodes(svg).values()]
    for step in process["steps"]:  # a step added to the BPMN appears without touching diagrams/
        assert any(step["name"] in text for text in node_texts), step["name"]
    for lane in process["lanes"]:
        assert lane["name"] in texts, lane["name"]
    assert "Noto Sans CJK SC" in svg.decode()

    for paper, size in (("A4", A4), ("A3", A3)):
        pdf = diagrams.render_process(key, "pdf", paper).data
        assert pdf.startswith(b"%PDF")
        assert is_paper(page_size(pdf), size), (paper, page_size(pdf))
        assert pdf_pages(pdf) == 1
        png = diagrams.render_process(key, "png", paper).data
        assert png.startswith(b"\x89PNG")
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
        ratio = max(width, height) / min(width, height)
        assert abs(ratio - 2 ** 0.5) < 0.01  # the PNG is the A-series page, not the bare chart


@pytest.mark.parametrize("key", KEYS)
def test_layout_reads_as_lanes(engine, key):
    """Lanes are columns in process order, every node inside its own column, no label on
    another label or on a node."""
    chart = render.chart_for(engine, engine.deployed(key))
    geo = json.loads(render.chart_bytes(chart, "json"))
    heads = sorted((o for o in geo["objects"] if o.get("name", "").startswith("lanehead")),
                   key=lambda o: float(o["pos"].split(",")[0]))
    assert [int(o["name"].removeprefix("lanehead")) for o in heads] == list(range(len(lane_names(chart))))
    assert render.misplaced(chart, geo) == set()
    assert layout.overlaps(geo) == []
    start = [n for n in chart.nodes.values() if n.kind == "start"]
    assert start and start[0].lane == chart.lanes[0]  # the lane that starts the process comes first


def test_no_glyph_falls_outside_the_font(engine):
    cmap = font_cmap()
    for key in KEYS:
        chart = render.chart_for(engine, engine.deployed(key))
        text = "".join(svg_texts(render.chart_bytes(chart, "svg")))
        missing = {ch for ch in text if ord(ch) not in cmap and not ch.isspace()}
        assert not missing, (key, missing)


# -- what the chart says ---------------------------------------------------------------------------
def test_major_decision_chart_content(engine):
    chart = render.chart_for(engine, engine.deployed("major-decision"))
    assert chart.lanes == ["村党组织书记", "村务监督委员会", "乡镇纪委", "村委会主任"]  # 乡镇纪委: 核查 (D9)
    labels = {(e.source, e.target): e.label for e in chart.edges}
    assert labels[("gw_two_committees", "two_committees")] == "流会"
    assert labels[("gw_two_committees", "propose")] == "未通过"
    assert labels[("gw_two_committees", "review_two_committees")] == "通过"
    assert labels[("gw_reply_resolution", "draft_resolution_disclosure")] == "异议成立"
    # D9: the supervisor returns a record to be corrected or objects; the 乡镇纪委 inspects.
    assert labels[("gw_review_two_committees", "two_committees")] == "退回更正"
    assert labels[("gw_review_two_committees", "inspect_review_two_committees")] == "提出异议"
    assert labels[("gw_inspect_review_two_committees", "two_committees")] == "责令重做"
    assert chart.nodes["inspect_review_two_committees"].lane == "乡镇纪委"
    loops = {(e.source, e.target) for e in chart.edges if e.back}
    assert ("gw_two_committees", "two_committees") in loops
    assert ("gw_two_committees", "review_two_committees") not in loops
    timers = [n for n in chart.nodes.values() if n.event == "timer"]
    assert timers and all(n.timer_text == "公示不少于7天" for n in timers)
    kinds = {n.id: n.kind for n in chart.nodes.values()}
    assert kinds["start"] == "start" and kinds["end_completed"] == "end"
    assert kinds["gw_assembly"] == "gateway" and kinds["wait_resolution"] == "event_gateway"
    assert [n.id for n in chart.steps][:3] == ["propose", "two_committees", "review_two_committees"]
    assert chart.nodes["representatives"].step_no < chart.nodes["villager_assembly"].step_no
    # an objection reply is numbered after the notice it answers
    assert chart.nodes["reply_resolution_objection"].step_no > chart.nodes["review_resolution_disclosure"].step_no
    assert chart.nodes["inspect_review_two_committees"].step_no > chart.nodes["review_two_committees"].step_no

    svg = render.chart_bytes(chart, "svg")
    nodes = svg_nodes(svg)
    drawn = prepared(chart)[0]
    assert {f"node-{nid}" for nid in drawn.nodes} <= set(nodes)  # ids are node-<bpmn id>
    assert {f"node-{nid}" for nid in chart.nodes if nid not in drawn.folded} <= set(nodes)
    assert any("不少于7天" in text for _c, text in nodes.values())
    assert "流会" in "".join(svg_texts(svg))


def test_notice_period_comes_from_the_catalogue(engine):
    deployed = engine.deployed("major-decision")
    source = render.definition_source(engine, deployed)[0]
    changed = type(deployed)(**{**deployed.__dict__, "meta": {**deployed.meta, "notice_days": 10}})
    chart = build_chart(changed, source)
    assert {n.timer_text for n in chart.nodes.values() if n.event == "timer"} == {"公示不少于10天"}


def test_flow_without_name_falls_back_to_its_condition(engine):
    deployed = engine.deployed("major-decision")
    source = render.definition_source(engine, deployed)[0]
    chart = build_chart(deployed, source.replace(' name="流会"', ""))
    labels = {(e.source, e.target): e.label for e in chart.edges}
    assert labels[("gw_two_committees", "two_committees")] == "流会"  # outcome == "lapsed"


def test_templates_can_embed_the_svg(app):
    with app.app_context():
        engine = app.extensions["cunwu"]
        text = render.svg_for_process(engine, "major-decision")
        assert text.lstrip().startswith("<?xml") or "<svg" in text[:400]
        assert "村党组织提议" in text


# -- the API ---------------------------------------------------------------------------------------
def test_process_diagram_api(api):
    public = api(None)
    r = public.get("/processes/major-decision/diagram")
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert b"<svg" in r.data
    assert r.headers["ETag"]
    again = public.client.get("/api/v1/processes/major-decision/diagram",
                              headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304

    r = public.get("/processes/major-decision/diagram?format=pdf&paper=A4")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert is_paper(page_size(r.data), A4)
    r = public.get("/processes/major-decision/diagram?format=pdf")  # A3 by default
    assert is_paper(page_size(r.data), A3)
    r = public.get("/processes/major-decision/diagram?format=png&paper=a3")
    assert r.status_code == 200 and r.mimetype == "image/png"


@pytest.mark.parametrize("query, field", [("format=bmp", "format"), ("format=SVGZ", "format"), ("paper=B5", "paper"),
                                          ("format=pdf&paper=letter", "paper")])
def test_bad_format_or_paper_is_400_in_chinese(api, query, field):
    r = api(None).get(f"/processes/major-decision/diagram?{query}")
    assert r.status_code == 400
    body = r.get_json()
    assert body["error"]["code"] == "bad_request"
    assert re.search(r"[\u4e00-\u9fff]", body["error"]["message"])
    assert field in body["error"]["fields"]


def test_unknown_key_or_village_is_404_in_chinese(api):
    r = api(None).get("/processes/no-such-item/diagram?format=pdf")
    assert r.status_code == 404
    assert "no-such-item" in r.get_json()["error"]["message"]
    assert re.search(r"[\u4e00-\u9fff]", r.get_json()["error"]["message"])
    r = api(None).get("/processes/major-decision/diagram?format=pdf&village=nowhere")
    assert r.status_code == 404
    assert "nowhere" in r.get_json()["error"]["message"]


def test_village_poster_names_the_village_and_its_board(api, tmp_path):
    r = api(None).get("/processes/major-decision/diagram?format=pdf&paper=A4&village=demo-001")
    assert r.status_code == 200
    pdf = tmp_path / "v.pdf"
    pdf.write_bytes(r.data)
    text = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for expected in ("示范村", "/villages/demo-001/board", "办事找谁", "张书记", "打印日期", "第1版", "村级公共权力",
                     "村民委员会组织法"):
        assert expected in text.replace("\n", ""), expected  # a long address wraps in the narrow panel
    plain = api(None).get("/processes/major-decision/diagram?format=pdf&paper=A4")
    pdf.write_bytes(plain.data)
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "/board" in text and "/villages/" not in text


def test_case_diagram_marks_the_path_and_the_current_step(api):
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    case_id = walk.case["id"]
    assert walk.ready() == ["party_members"]

    r = walk.secretary.get(f"/instances/{case_id}/diagram")
    assert r.status_code == 200 and r.mimetype == "image/svg+xml"
    assert "no-cache" in r.headers["Cache-Control"]
    nodes = svg_nodes(r.data)
    classes, text = nodes["node-party_members"]
    assert "current" in classes and CURRENT_MARK in text and "当前步骤" in text
    for done in ("propose", "two_committees", "review_two_committees"):
        classes, text = nodes[f"node-{done}"]
        assert "done" in classes and DONE_MARK in text, done
    for future in ("representatives", "implement"):
        classes, text = nodes[f"node-{future}"]
        assert not classes & {"done", "current"}
        assert DONE_MARK not in text and CURRENT_MARK not in text
    root = etree.fromstring(r.data)
    taken = {g.get("id") for g in root.iter(f"{SVG}g") if "taken" in (g.get("class") or "").split()}
    assert "flow-two_committees-gw_two_committees" in taken
    assert "flow-gw_review_two_committees-party_members" in taken
    assert "flow-gw_two_committees-propose" not in taken

    r = walk.secretary.get(f"/instances/{case_id}/diagram?format=png")
    assert r.status_code == 200 and r.data.startswith(b"\x89PNG")
    r = walk.secretary.get(f"/instances/{case_id}/diagram?format=pdf&paper=A4")
    assert r.status_code == 200 and is_paper(page_size(r.data), A4)
    r = walk.secretary.get(f"/instances/{case_id}/diagram?format=gif")
    assert r.status_code == 400

    # the chart moves with the case
    walk.meeting("party_members", "party_members", attended=25, approve=15, oppose=10, abstain=0)  # no: 提议
    nodes = svg_nodes(walk.secretary.get(f"/instances/{case_id}/diagram").data)
    assert "current" in nodes["node-propose"][0]
    assert "done" in nodes["node-party_members"][0]


def test_case_diagram_needs_access(api):
    walk = Walk(api)
    walk.start()
    case_id = walk.case["id"]
    assert api(None).get(f"/instances/{case_id}/diagram").status_code == 401
    assert api("chen").get(f"/instances/{case_id}/diagram").status_code in (403, 404)
    assert walk.secretary.get("/instances/999999/diagram").status_code == 404


def test_svg_for_case(app, api):
    walk = Walk(api)
    walk.start()
    with app.app_context():
        text = render.svg_for_case(app.extensions["cunwu"], "zhang", walk.case["id"])
    classes, label = svg_nodes(text.encode())["node-two_committees"]
    assert "current" in classes and CURRENT_MARK in label


def test_finished_case_marks_its_end(api):
    walk = Walk(api)
    walk.start()
    walk.meeting("two_committees", "two_committees", attended=7, approve=3, oppose=4, abstain=0)  # voted no
    walk.do(walk.secretary, "propose", {"title": "硬化村东道路", "summary": "撤回", "withdraw": True})
    assert walk.refresh()["status"] == "withdrawn"
    nodes = svg_nodes(walk.secretary.get(f"/instances/{walk.case['id']}/diagram").data)
    assert "done" in nodes["node-end_withdrawn"][0]
    assert not any("current" in classes for classes, _t in nodes.values())


# -- versions and the cache ------------------------------------------------------------------------
def test_a_new_definition_version_gives_a_new_poster(app, engine, diagrams, tmp_path):
    first = diagrams.render_process("major-decision", "svg")
    assert diagrams.render_process("major-decision", "svg").etag == first.etag  # cached
    folder = tmp_path / "processes"
    shutil.copytree(engine.catalog.directory, folder)
    bpmn = folder / "major-decision.bpmn"
    bpmn.write_text(bpmn.read_text(encoding="utf-8").replace('name="组织实施"', 'name="组织实施并记录"'),
                    encoding="utf-8")
    engine.catalog.directory = folder
    deployed = dict((k, v) for k, v, _new in engine.deploy())
    assert deployed["major-decision"] == 2
    second = diagrams.render_process("major-decision", "svg")
    assert second.etag != first.etag
    assert "组织实施并记录" in "".join(t for _c, t in svg_nodes(second.data).values())
    assert "第2版" in second.data.decode()
    old = diagrams.render_process("major-decision", "svg", version=1)
    assert "组织实施并记录" not in old.data.decode()


def test_posters_are_kept_on_disk(tmp_path, clock, sqlite_template):
    from conftest import _sqlite_app

    from diagrams.service import Diagrams

    app = _sqlite_app(tmp_path, sqlite_template, clock, CUNWU_DIAGRAM_CACHE_DIR=str(tmp_path / "cache"))
    try:
        service = app.extensions["cunwu_diagrams"]
        pdf = service.render_process("major-decision", "pdf", "A4").data
        files = list((tmp_path / "cache").iterdir())
        assert files and any(f.read_bytes() == pdf for f in files)
        other = Diagrams(app.extensions["cunwu"], cache_dir=tmp_path / "cache")  # another worker
        assert other.render_process("major-decision", "pdf", "A4").data == pdf
        assert other.cache.hits == 1 and other.cache.misses == 0
        clock.advance(days=1)  # the print date is on the poster
        assert other.render_process("major-decision", "pdf", "A4").data != pdf
    finally:
        app.extensions["cunwu_db"].dispose()


# -- the command line ------------------------------------------------------------------------------
def test_cli_render_all_writes_every_item(app, tmp_path):
    out = tmp_path / "posters"
    result = app.test_cli_runner().invoke(args=["render", "--all", "--format", "svg", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{k}.svg" for k in KEYS)
    assert "共生成" in result.output


def test_cli_render_one_poster_for_a_village(app, tmp_path):
    out = tmp_path / "posters"
    result = app.test_cli_runner().invoke(args=["render", "major-decision", "--format", "pdf", "--paper", "A4",
                                                "--village", "demo-001", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pdf = (out / "major-decision-A4-demo-001.pdf").read_bytes()
    assert is_paper(page_size(pdf), A4)
    assert "未设置 CUNWU_PUBLIC_URL" in result.output  # its QR code would point at localhost (issue 15)
    app.config["CUNWU_PUBLIC_URL"] = "https://cunwu.example.gov.cn"
    again = app.test_cli_runner().invoke(args=["render", "major-decision", "--format", "svg", "--out", str(out)])
    assert again.exit_code == 0 and "未设置 CUNWU_PUBLIC_URL" not in again.output


def test_cli_render_bad_input(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["render", "major-decision", "no-such-item", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "no-such-item" in result.output and "没有" in result.output
    assert runner.invoke(args=["render", "--format", "bmp", "--all"]).exit_code == 2
    result = runner.invoke(args=["render", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "--all" in result.output
    result = runner.invoke(args=["render", "major-decision", "--village", "nowhere", "--out", str(tmp_path)])
    assert result.exit_code == 1 and "nowhere" in result.output


# -- what the drawing reads for people (issues 10, 12, 14, 15) ----------------------------------------
def pdf_text(pdf: bytes) -> str:
    """The text in drawing order (``-raw``: the two codes side by side do not interleave)."""
    return subprocess.run(["pdftotext", "-raw", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()


def test_one_shared_inspection_per_case_on_the_chart(engine):
    """Issue 10: the engine runs one 乡镇纪委核查 per stage; the wall shows one, every 提出异议 /
    报乡镇核查 leading to it, its outcomes written in it."""
    from datetime import date

    from diagrams.view import SHARED_INSPECTION

    chart = render.chart_for(engine, engine.deployed("major-decision"))
    inspections = [n for n in chart.steps if n.properties.get("form") == "inspection"]
    assert len(inspections) == 8  # the definition stays as the engine runs it: one per stage
    drawn = prepared(chart, on=date(2026, 12, 4))[0]
    assert [n.id for n in drawn.steps if n.properties.get("form") == "inspection"] == [SHARED_INSPECTION]
    assert len(drawn.steps) == len(chart.steps) - 7 == 17
    assert drawn.steps[-1].id == SHARED_INSPECTION  # numbered last, drawn below the last stage it serves
    raised = {e.source for e in chart.edges if e.target in {n.id for n in inspections}}
    assert {e.source for e in drawn.edges if e.target == SHARED_INSPECTION} == raised
    assert not any(e.source in drawn.folded or e.target in drawn.folded for e in drawn.edges)
    notes = " ".join(drawn.nodes[SHARED_INSPECTION].notes)
    assert "限15天内" in notes and "暂停" in notes and "责令重做" in notes

    svg = render.chart_bytes(chart, "svg", on=date(2026, 12, 4))
    texts = [text for _c, text in svg_nodes(svg).values()]
    assert sum("乡镇纪委核查" in t for t in texts) == 1
    assert "红色虚线：提出异议，报乡镇纪委核查" in "".join(svg_texts(svg))
    # one inspection only: drawn as it is, with its outcomes as flows
    seal = prepared(render.chart_for(engine, engine.deployed("seal-use")))[0]
    assert not seal.folded and "inspect_review_seal" in seal.nodes


def test_a_case_in_inspection_marks_the_shared_node(engine):
    from diagrams.view import SHARED_INSPECTION

    chart = render.chart_for(engine, engine.deployed("major-decision"))
    marks = CaseMarks(["start", "propose", "gw_withdraw", "two_committees", "gw_two_committees",
                              "review_two_committees", "gw_review_two_committees"],
                             ["inspect_review_two_committees"], "on_hold")
    nodes = svg_nodes(render.chart_bytes(chart, "svg", marks))
    classes, text = nodes[f"node-{SHARED_INSPECTION}"]
    assert "current" in classes and CURRENT_MARK in text
    assert "done" in nodes["node-review_two_committees"][0]


def test_supervisor_attends_meetings_under_the_law_in_force(engine):
    """D10: the 监委会 列席 the 两委会议 always, the 村民代表会议 from 2026-01-01: an annotation in its
    lane beside those meetings, not a step."""
    from datetime import date

    chart = render.chart_for(engine, engine.deployed("major-decision"))
    now = prepared(chart, on=date(2026, 3, 1))[0]
    notes = {n.id: n for n in now.nodes.values() if n.kind == "note"}
    assert set(notes) == {"attend_two_committees", "attend_representatives"}
    assert all(n.lane == "村务监督委员会" and n.name == "列席" and not n.manual for n in notes.values())
    assert {(e.source, e.target) for e in now.edges if e.style == "association"} == {
        ("two_committees", "attend_two_committees"), ("representatives", "attend_representatives")}
    assert len(now.steps) == len(prepared(chart, on=date(2025, 12, 31))[0].steps)  # not a step
    before = prepared(chart, on=date(2025, 12, 31))[0]
    assert {n.id for n in before.nodes.values() if n.kind == "note"} == {"attend_two_committees"}
    svg = render.chart_bytes(chart, "svg", on=date(2026, 3, 1))
    drawn_notes = [t for nid, (_c, t) in svg_nodes(svg).items() if nid.startswith("node-attend_")]
    assert len(drawn_notes) == 2 and all(t.startswith("列席") for t in drawn_notes)
    # 党员大会 only (发展党员): no 监委会 lane, no 列席
    party = prepared(render.chart_for(engine, engine.deployed("party-admission")), on=date(2026, 3, 1))[0]
    assert not any(n.kind == "note" for n in party.nodes.values())


def test_every_step_shows_its_time_limit(engine):
    """Issue 15: the limits the law or the catalogue give, on the chart and the poster's list."""
    from datetime import date

    from diagrams import view

    chart = render.chart_for(engine, engine.deployed("major-decision"))
    drawn = prepared(chart, on=date(2026, 3, 1))[0]
    notes = {nid: n.notes for nid, n in drawn.nodes.items()}
    assert "限30天内" in notes["two_committees"]
    assert "会前10天通知村民" in notes["villager_assembly"]  # 组织法 第二十一条
    assert "会前10天通知村民" not in notes["representatives"]
    assert "张榜公示不少于7天" in notes["review_resolution_disclosure"]
    for node in drawn.steps:
        if node.properties.get("due_days"):
            assert f"限{node.properties['due_days']}天内" in node.notes, node.id
    # the notice period follows the catalogue
    deployed = engine.deployed("major-decision")
    changed = type(deployed)(**{**deployed.__dict__, "meta": {**deployed.meta, "notice_days": 10}})
    longer = view.drawn(build_chart(changed, render.definition_source(engine, deployed)[0]), date(2026, 3, 1))
    assert "张榜公示不少于10天" in longer.nodes["review_resolution_disclosure"].notes
    # the complaint lead's working-day deadlines (R56, R57)
    lead = prepared(render.chart_for(engine, engine.deployed("complaint-lead")))[0]
    assert lead.nodes["lead_intake"].notes == ["15个工作日内受理，转办5个工作日内"]
    assert lead.nodes["lead_feedback"].notes == ["办结后15个工作日内反馈"]
    assert lead.nodes["objection_period"].timer_text == "反馈后30天内"  # the reporter's objection period
    svg = render.chart_bytes(render.chart_for(engine, engine.deployed("complaint-lead")), "svg")
    assert "15个工作日内受理" in "".join(t for _c, t in svg_nodes(svg).values())


def test_steps_that_need_evidence_say_so(engine, diagrams):
    """Issue 14: ``需上传：签到表照片`` under each step the catalogue's ``evidence:`` names."""
    chart = render.chart_for(engine, engine.deployed("major-decision"))
    wanted = chart.meta["evidence"]
    nodes = svg_nodes(diagrams.render_process("major-decision", "svg").data)
    for nid, what in wanted.items():
        assert f"需上传：{what}" in nodes[f"node-{nid}"][1], nid
    assert "需上传" not in nodes["node-propose"][1]
    text = pdf_text(diagrams.render_process("major-decision", "pdf", "A3").data)
    assert text.count("需上传：签到表照片") >= 2  # the step list beside the chart says it too


@pytest.mark.parametrize("key", KEYS)
def test_no_node_id_reaches_a_person(engine, diagrams, key):
    """Issue 15: Graphviz writes node ids as ``<title>`` (the browser's tooltip) and comments;
    none of them, nor any other internal id, is in the text or the tooltips of the SVG."""
    chart = render.chart_for(engine, engine.deployed(key))
    svg = diagrams.render_process(key, "svg").data
    assert b"<!--" not in svg
    root = etree.fromstring(svg)
    said = []  # what a person reads: the text, and the tooltips (<title>, xlink:title)
    for element in root.iter():
        if isinstance(element.tag, str):
            said.append(element.text or "")
            said += [v for k, v in element.attrib.items() if k.endswith("}title") or k == "title"]
    words = "\n".join(said)
    assert not re.search(r"\b(Task_|review_|inspect_|gw_|sep\d|lanehead|cluster_|bus_)", words), key
    for nid in chart.nodes:
        if "_" in nid or nid.isascii() and len(nid) > 3:
            assert not re.search(rf"(?<![\w-]){re.escape(nid)}(?![\w-])", words), (key, nid)
    titles = ["".join(t.itertext()) for t in root.iter(f"{SVG}title")]
    assert titles == [f"{chart.name}流程图"]


def test_village_posters_carry_a_lead_code(api):
    """Issue 12: besides the board's code, every poster's 反映问题 code opens the village's lead form."""
    for key in ("major-decision", "seal-use", "complaint-lead"):
        r = api(None).get(f"/processes/{key}/diagram?format=pdf&paper=A4&village=demo-001")
        text = pdf_text(r.data).replace("\n", "")
        assert "扫码反映问题（可匿名）" in text, key
        assert "/villages/demo-001/leads/new?via=qr" in text, key
        assert "/villages/demo-001/board" in text, key
    text = pdf_text(api(None).get("/processes/major-decision/diagram?format=pdf&paper=A3").data)
    assert "扫码反映问题" in text


def test_the_villager_poster(api, tmp_path):
    """Issue 15: beside the full poster a simplified one: large type, what a villager sees or takes."""
    r = api(None).get("/processes/major-decision/diagram?format=pdf&paper=A3&village=demo-001&variant=villager")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert is_paper(page_size(r.data), A3) and pdf_pages(r.data) == 1
    assert "villager" in r.headers["Content-Disposition"]
    text = pdf_text(r.data).replace("\n", "")
    for expected in ("村民须知", "示范村", "张榜公示：决议公示", "张榜公示：结果公示", "公示不少于7天", "可以不写姓名",
                     "村务监督委员会10天内书面答复", "会前10天通知村民", "12388", "扫码反映问题（可匿名）", "由村党组织书记发起",
                     "/villages/demo-001/leads/new?via=qr", "/villages/demo-001/board"):
        assert expected in text, expected
    for internal in ("乡镇纪委核查", "监委会审核", "需上传"):  # the cadres' steps are on the full poster
        assert internal not in text, internal
    full = api(None).get("/processes/major-decision/diagram?format=pdf&paper=A3&village=demo-001")
    assert full.data != r.data and "办事步骤" in pdf_text(full.data)
    png = api(None).get("/processes/subsistence-allowance/diagram?format=png&paper=A4&variant=villager")
    assert png.status_code == 200 and png.data.startswith(b"\x89PNG")
    # bad variants, and a villager chart without a page
    for query, status in (("format=pdf&variant=kids", 400), ("format=svg&variant=villager", 400)):
        r = api(None).get(f"/processes/major-decision/diagram?{query}")
        assert r.status_code == status and "variant" in r.get_json()["error"]["fields"]
        assert re.search(r"[\u4e00-\u9fff]", r.get_json()["error"]["message"])


@pytest.mark.parametrize("key", KEYS)
def test_every_item_has_a_villager_poster(diagrams, key):
    for paper, size in (("A4", A4), ("A3", A3)):
        pdf = diagrams.render_process(key, "pdf", paper, variant="villager").data
        assert is_paper(page_size(pdf), size) and pdf_pages(pdf) == 1, (key, paper)
        text = pdf_text(pdf)
        assert "12388" in text and "扫码反映问题" in text, key


def test_cli_renders_the_villager_poster(app, tmp_path):
    out = tmp_path / "posters"
    result = app.test_cli_runner().invoke(args=["render", "major-decision", "--variant", "villager", "--format",
                                                "pdf", "--village", "demo-001", "--out", str(out)])
    assert result.exit_code == 0, result.output
    pdf = (out / "major-decision-A3-villager-demo-001.pdf").read_bytes()
    assert "村民须知" in pdf_text(pdf)
    bad = app.test_cli_runner().invoke(args=["render", "major-decision", "--variant", "villager", "--format", "svg",
                                             "--out", str(out)])
    assert bad.exit_code == 1 and "pdf" in bad.output


def test_diagrams_modules_stay_small():
    """Issue 16: no module in diagrams/ over 600 lines (private names: tests/test_repository.py)."""
    from pathlib import Path

    for path in sorted(Path(render.__file__).parent.glob("*.py")):
        assert path.read_text(encoding="utf-8").count("\n") <= 600, path.name


def test_poster_html_escapes_hostile_text(engine):
    """The posters' HTML is a Jinja template with autoescape on: a case title, an item's name, a
    village's name or a contact that carries markup is printed as text, on both posters."""
    import dataclasses
    from datetime import datetime

    from diagrams import poster

    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    chart = dataclasses.replace(render.chart_for(engine, engine.deployed("major-decision")), name=f"议事{hostile}")
    svg = render.chart_bytes(chart, "svg", title=False)
    info = poster.PosterInfo(board_url=f"http://example.org/board?x={hostile}", print_date=datetime(2026, 3, 2),
                             village_name=f"示范村{hostile}", township="示范镇",
                             contacts={chart.lanes[0]: [f"张{hostile}"]}, lead_url="http://example.org/leads")
    marks = CaseMarks(["start"], ["propose"], "running", f"修路{hostile}", 7)
    for document in (poster.poster_html(chart, svg, "A3", info, marks), poster.poster_html(chart, svg, "A4", info),
                     poster.villager_html(chart, "A3", info)):
        assert "<script" not in document and "<img src=x" not in document
        assert "&lt;script&gt;alert(" in document and "&lt;img src=x onerror=alert(1)&gt;" in document
    text = pdf_text(poster.html_to_pdf(poster.poster_html(chart, svg, "A3", info, marks)))
    assert "修路<script>alert(" in text.replace("\n", "")  # shown as the words it is


def test_a_long_case_title_wraps_above_the_legal_basis(engine):
    """A case poster's category line wraps when the case's title is long: the header grows, so the
    legal basis stays above the header's rule and the chart (A4 and A3)."""
    from datetime import datetime

    from diagrams import poster

    chart = render.chart_for(engine, engine.deployed("major-decision"))
    info = poster.PosterInfo(board_url="http://example.org/board", print_date=datetime(2026, 3, 2),
                             village_name="示范村", township="示范镇")
    title = "关于村东头道路硬化及排水沟改造工程实施方案（含预算调整和施工单位选定办法）的决策（第二次）"
    for paper in ("A4", "A3"):
        marks = CaseMarks(["start"], ["propose"], "running", title, 12)
        svg = render.chart_bytes(chart, "svg", marks, title=False)
        document = poster.poster_html(chart, svg, paper, info, marks)
        rule = float(re.search(r"header \{[^}]*?height: ([\d.]+)mm", document).group(1))  # the red rule's top
        chart_top = float(re.search(r"\.chart \{[^}]*?top: ([\d.]+)mm", document).group(1))
        page = etree.fromstring(subprocess.run(["pdftotext", "-bbox", "-", "-"], capture_output=True, check=True,
                                               input=poster.html_to_pdf(document)).stdout)
        words = [(float(w.get("yMin")), float(w.get("yMax")), w.text or "") for w in page.iter("{*}word")]
        basis = next(w for w in words if w[2].startswith("依据"))
        assert any("（第二次）" in w[2] for w in words if w[0] < basis[0]), paper  # the title wrapped above it
        bottom_mm = basis[1] * 25.4 / 72 - poster.MARGIN
        assert bottom_mm <= rule <= chart_top, (paper, bottom_mm, rule, chart_top)

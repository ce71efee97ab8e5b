"""The bundled BPMN files: they parse, follow docs/bpmn-conventions.md, are laid out, and run."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition
from SpiffWorkflow.util.task import TaskState

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `tools` is not an installed package
    sys.path.insert(0, str(ROOT))

from tools.build_processes import BUILDERS, build  # noqa: E402

PROCESSES = ROOT / "processes"
CATALOGUE = yaml.safe_load((PROCESSES / "catalogue.yaml").read_text(encoding="utf-8"))
ITEMS = CATALOGUE["items"] + [  # item modules add their entries in catalogue.d (engine.catalogue.catalog reads both)
    item for path in sorted((PROCESSES / "catalogue.d").glob("*.yaml"))
    for item in yaml.safe_load(path.read_text(encoding="utf-8")).get("items") or []]
ITEM_KEYS = [item["key"] for item in ITEMS]

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "task", "callActivity", "subProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway",
}


def _conventions_roles() -> dict[str, str]:
    """Lane name -> role key, from the table in docs/bpmn-conventions.md."""
    text = (ROOT / "docs" / "bpmn-conventions.md").read_text(encoding="utf-8")
    return dict(re.findall(r"^\|\s*(\S+)\s*\|\s*`([a-z_]+)`\s*\|\s*$", text, flags=re.M))


ROLES = _conventions_roles()


def test_conventions_table_is_read():
    assert ROLES["村党组织书记"] == "party_secretary"
    assert ROLES["村务监督委员会"] == "supervisor"
    assert len(ROLES) >= 7


# ---------------------------------------------------------------------------- static checks


def _item(key: str) -> dict:
    return next(item for item in ITEMS if item["key"] == key)


def _doc(key: str) -> etree._ElementTree:
    return etree.parse(str(PROCESSES / _item(key)["file"]))


def _bounds(el) -> tuple[float, float, float, float]:
    b = el.find("dc:Bounds", NS)
    return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(a, b) -> bool:
    return b[0] <= a[0] and a[0] + a[2] <= b[0] + b[2] and b[1] <= a[1] and a[1] + a[3] <= b[1] + b[3]


def _spec(key: str):
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(PROCESSES / _item(key)["file"]))
    return parser.get_spec(key)


@pytest.mark.parametrize("key", ITEM_KEYS)
def test_catalogue_entry(key):
    item = _item(key)
    for field in ("key", "file", "name", "category", "legal_basis", "starters", "description"):
        assert item.get(field), f"{key}: catalogue field {field!r} is empty"
    assert set(item["starters"]) <= set(ROLES.values())
    doc = _doc(key)
    processes = doc.findall("bpmn:process", NS)
    assert len(processes) == 1
    assert processes[0].get("id") == key
    assert processes[0].get("isExecutable") == "true"
    participants = doc.findall("bpmn:collaboration/bpmn:participant", NS)
    assert len(participants) == 1
    assert participants[0].get("name") == item["name"]
    assert participants[0].get("processRef") == key


def test_catalogue_keys_are_unique():
    assert len(ITEM_KEYS) == len(set(ITEM_KEYS))


@pytest.mark.parametrize("key", ITEM_KEYS)
def test_parses_with_validation(key):
    spec = _spec(key)
    assert spec.name == key
    assert "start" in {s.name for s in spec.task_specs.values()} or spec.start.outputs


@pytest.mark.parametrize("key", ITEM_KEYS)
def test_every_element_has_diagram_interchange(key):
    doc = _doc(key)
    process = doc.find("bpmn:process", NS)
    shapes = {s.get("bpmnElement") for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in doc.iterfind(".//bpmndi:BPMNEdge", NS)}
    nodes = [el for el in process if etree.QName(el).localname in FLOW_NODES]
    assert nodes
    for el in nodes:
        assert el.get("id") in shapes, f"no BPMNShape for {el.get('id')}"
    for lane in process.iterfind(".//bpmn:lane", NS):
        assert lane.get("id") in shapes, f"no BPMNShape for lane {lane.get('name')}"
    participant = doc.find("bpmn:collaboration/bpmn:participant", NS)
    assert participant.get("id") in shapes
    flows = process.findall("bpmn:sequenceFlow", NS)
    assert flows
    for flow in flows:
        assert flow.get("id") in edges, f"no BPMNEdge for {flow.get('id')}"
        assert len(edges[flow.get("id")].findall("di:waypoint", NS)) >= 2


@pytest.mark.parametrize("key", ITEM_KEYS)
def test_user_tasks_follow_conventions(key):
    doc = _doc(key)
    process = doc.find("bpmn:process", NS)
    assert not process.findall(".//bpmn:task", NS), "bare bpmn:task is refused by the engine"
    lane_of = {}
    for lane in process.iterfind(".//bpmn:lane", NS):
        assert lane.get("name") in ROLES, f"lane {lane.get('name')!r} is not a role in the conventions"
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert ref.text not in lane_of, f"{ref.text} is in two lanes"
            lane_of[ref.text] = lane.get("name")
    for el in process:
        if etree.QName(el).localname in FLOW_NODES:
            assert el.get("id") in lane_of, f"{el.get('id')} is in no lane"
    tasks = process.findall("bpmn:userTask", NS)
    assert tasks
    for task in tasks:
        props = {
            p.get("name"): p.get("value")
            for p in task.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)
        }
        assert props.get("form"), f"user task {task.get('id')} has no form"
        if "due_days" in props:
            assert props["due_days"].isdigit()
        for role in filter(None, props.get("extra_roles", "").split(",")):
            assert role in ROLES.values(), f"{task.get('id')}: unknown role {role!r}"
    for end in process.findall("bpmn:endEvent", NS):
        assert end.get("id").startswith(("end_completed", "end_rejected", "end_withdrawn"))


@pytest.mark.parametrize("key", ITEM_KEYS)
def test_layout_is_sane(key):
    _assert_layout_sane(_doc(key))


def _assert_layout_sane(doc) -> None:
    """No overlapping shapes, nodes inside their lanes, orthogonal edges that cross no shape."""
    process = doc.find("bpmn:process", NS)
    shapes = {s.get("bpmnElement"): s for s in doc.iterfind(".//bpmndi:BPMNShape", NS)}
    pool = _bounds(shapes[doc.find("bpmn:collaboration/bpmn:participant", NS).get("id")])
    lanes = {lane.get("id"): lane for lane in process.iterfind(".//bpmn:lane", NS)}
    lane_box = {lid: _bounds(shapes[lid]) for lid in lanes}
    for (a, ba), (b, bb) in combinations(lane_box.items(), 2):
        assert not _overlap(ba, bb), f"lanes {a} and {b} overlap"
    assert sum(b[3] for b in lane_box.values()) == pool[3], "lanes do not fill the pool"
    nodes = {el.get("id"): el for el in process if etree.QName(el).localname in FLOW_NODES}
    box = {nid: _bounds(shapes[nid]) for nid in nodes}
    for (a, ba), (b, bb) in combinations(box.items(), 2):
        assert not _overlap(ba, bb), f"shapes {a} and {b} overlap"
    for lid, lane in lanes.items():
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            assert _inside(box[ref.text], lane_box[lid]), f"{ref.text} sticks out of lane {lane.get('name')}"
    for flow in process.iterfind("bpmn:sequenceFlow", NS):
        edge = doc.find(f".//bpmndi:BPMNEdge[@bpmnElement='{flow.get('id')}']", NS)
        pts = [(float(w.get("x")), float(w.get("y"))) for w in edge.iterfind("di:waypoint", NS)]
        src, dst = flow.get("sourceRef"), flow.get("targetRef")
        assert _inside((*pts[0], 0, 0), box[src]), f"{flow.get('id')} does not start at {src}"
        assert _inside((*pts[-1], 0, 0), box[dst]), f"{flow.get('id')} does not end at {dst}"
        for (x0, y0), (x1, y1) in zip(pts, pts[1:], strict=False):
            assert x0 == x1 or y0 == y1, f"{flow.get('id')} is not orthogonal"
            seg = (min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
            for nid, b in box.items():
                if nid in (src, dst):
                    continue
                # a segment crosses a shape if it enters the shape's open interior
                crosses = (
                    b[0] < seg[0] + seg[2] and seg[0] < b[0] + b[2] and b[1] < seg[1] + seg[3] and seg[1] < b[1] + b[3]
                ) if seg[2] and seg[3] else (
                    (b[1] < seg[1] < b[1] + b[3] and seg[0] < b[0] + b[2] and b[0] < seg[0] + seg[2]) if seg[2]
                    else (b[0] < seg[0] < b[0] + b[2] and seg[1] < b[1] + b[3] and b[1] < seg[1] + seg[3])
                )
                assert not crosses, f"{flow.get('id')} crosses {nid}"


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_builder_is_deterministic_and_committed(key):
    first, second = build(key), build(key)
    assert first == second
    assert key in ITEM_KEYS, f"{key} has a builder but no catalogue entry"
    committed = (PROCESSES / _item(key)["file"]).read_bytes()
    assert first == committed, f"processes/{key}.bpmn is stale: run python -m tools.build_processes --only {key}"


# ---------------------------------------------------------------------------- execution


def _now(**delta) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).isoformat()


class Run:
    """Drive a workflow by writing task data directly (what the engine does after form validation)."""

    def __init__(self, key: str):
        self.wf = BpmnWorkflow(_spec(key))
        self.wf.do_engine_steps()

    def ready(self) -> list[str]:
        return sorted(t.task_spec.name for t in self.wf.get_tasks(state=TaskState.READY, manual=True))

    def waiting(self) -> list[str]:
        return sorted(t.task_spec.name for t in self.wf.get_tasks(state=TaskState.WAITING))

    def complete(self, name: str, **data) -> None:
        tasks = [t for t in self.wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.name == name]
        assert tasks, f"{name} is not ready; ready: {self.ready()}"
        tasks[0].data.update(data)
        tasks[0].run()
        self.wf.do_engine_steps()

    def tick(self) -> None:
        self.wf.refresh_timers()
        self.wf.do_engine_steps()

    def reached(self, name: str) -> bool:
        return bool(self.wf.get_tasks(state=TaskState.COMPLETED, spec_name=name))

    def to_resolution_wait(self, notice_until: str, assembly: str = "representatives") -> None:
        self.complete("propose", withdraw=False, assembly=assembly)
        self.complete("two_committees", outcome="passed")
        self.complete("review_two_committees", decision="approve")
        self.complete("party_members", outcome="passed")
        self.complete("review_party_members", decision="approve")
        self.complete(assembly, outcome="passed")
        self.complete("review_resolution", decision="approve")
        self.complete("draft_resolution_disclosure")
        self.complete("review_resolution_disclosure", decision="approve", notice_until=notice_until)


def test_major_decision_happy_path():
    run = Run("major-decision")
    assert run.ready() == ["propose"]
    run.to_resolution_wait(notice_until=_now(minutes=-1))
    run.tick()
    assert run.reached("notice_resolution")
    assert not run.reached("objection_resolution")
    run.complete("implement")
    run.complete("review_implementation", decision="approve")
    run.complete("draft_result_disclosure")
    run.complete("review_result_disclosure", decision="approve", notice_until=_now(minutes=-1))
    run.tick()
    assert run.wf.is_completed()
    assert run.reached("end_completed")
    assert not run.reached("end_rejected") and not run.reached("end_withdrawn")


def test_major_decision_meetings_loop_and_return():
    run = Run("major-decision")
    run.complete("propose", withdraw=False)
    run.complete("two_committees", outcome="lapsed")
    assert run.ready() == ["two_committees"]
    run.complete("two_committees", outcome="failed")
    assert run.ready() == ["propose"]
    run.complete("propose", withdraw=False)
    run.complete("two_committees", outcome="passed")
    run.complete("review_two_committees", decision="return")
    assert run.ready() == ["two_committees"]
    run.complete("two_committees", outcome="passed")
    run.complete("review_two_committees", decision="approve")
    assert run.ready() == ["party_members"]


def test_major_decision_withdrawn():
    run = Run("major-decision")
    run.complete("propose", withdraw=True)
    assert run.wf.is_completed()
    assert run.reached("end_withdrawn")


def test_major_decision_rejected_by_villager_assembly():
    run = Run("major-decision")
    run.complete("propose", withdraw=False, assembly="villager_assembly")
    run.complete("two_committees", outcome="passed")
    run.complete("review_two_committees", decision="approve")
    run.complete("party_members", outcome="passed")
    run.complete("review_party_members", decision="approve")
    assert run.ready() == ["villager_assembly"]
    run.complete("villager_assembly", outcome="failed")
    assert run.wf.is_completed()
    assert run.reached("end_rejected")


def test_major_decision_objection_during_notice():
    run = Run("major-decision")
    run.to_resolution_wait(notice_until=_now(days=7))
    run.tick()
    assert run.ready() == []
    assert run.waiting() == ["wait_resolution"]  # the event gateway waits, its catch events are MAYBE
    assert not run.reached("notice_resolution")

    run.wf.catch(BpmnEvent(SignalEventDefinition("objection")))
    run.wf.do_engine_steps()
    assert run.ready() == ["reply_resolution_objection"]

    # More objections open: answer again.
    run.complete("reply_resolution_objection", decision="dismiss", open_objections=1)
    assert run.ready() == ["reply_resolution_objection"]
    # Dismissed, none open: back to the notice period.
    run.complete("reply_resolution_objection", decision="dismiss", open_objections=0)
    assert run.ready() == []
    assert run.waiting() == ["wait_resolution"]

    # Upheld wins over open objections (Spiff tests conditions in the targets' top-to-bottom order).
    run.wf.catch(BpmnEvent(SignalEventDefinition("objection")))
    run.wf.do_engine_steps()
    # D8: an upheld objection has the notice corrected and posted again (not the case re-proposed).
    run.complete("reply_resolution_objection", decision="uphold", open_objections=2)
    assert run.ready() == ["draft_resolution_disclosure"]


# ---------------------------------------------------------------------------- the builder itself


def _tricky_process():
    from tools.bpmnkit import Process

    sec, sup = "村党组织书记", "村务监督委员会"
    p = Process(key="tricky", name="布局测试", lanes=[sec, sup])
    p.start("start", "开始", lane=sec)
    p.exclusive("split", "分流", lane=sec)
    for i in range(3):  # three targets in one lane and column: the lane stacks three rows
        p.user_task(f"t{i}", f"任务{i}", lane=sec, form="proposal", due_days=i or None, **{"note": None})
        p.flow("split", f"t{i}", f"路径{i}", condition=f"path == {i}" if i else None, default=i == 0)
    p.user_task("long", "长任务", lane=sec, form="review")
    p.user_task("low", "下方任务", lane=sup, form="review", extra_roles=["committee_member", "accountant"])
    p.exclusive("check", "检查", lane=sec)
    p.end("end_completed", "结束", lane=sup)
    p.flow("start", "split")
    p.flow("t0", "long")
    p.flow("long", "check")
    p.flow("t1", "check")  # skips a column on a row that holds nodes
    p.flow("t2", "low")
    p.flow("low", "check")
    p.flow("check", "check", "再查", condition="again and n < 3 & 1 > 0")  # self loop, XML-escaped
    p.flow("check", "low", "退回", condition='decision == "return"')  # back edge to a lower lane
    p.flow("check", "end_completed", "通过", default=True)
    return p


def test_builder_handles_stacks_loops_and_escaping(tmp_path):
    xml = _tricky_process().to_xml()
    assert xml == _tricky_process().to_xml()
    assert b"again and n &lt; 3 &amp; 1 &gt; 0" in xml
    path = tmp_path / "tricky.bpmn"
    path.write_bytes(xml)
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(path))
    spec = parser.get_spec("tricky")
    assert spec.task_specs["t0"].extensions["properties"] == {"form": "proposal"}
    assert spec.task_specs["t1"].extensions["properties"] == {"form": "proposal", "due_days": "1"}
    assert spec.task_specs["low"].extensions["properties"]["extra_roles"] == "committee_member,accountant"
    doc = etree.parse(str(path))
    assert doc.find(".//bpmn:exclusiveGateway[@id='split']", NS).get("default") == "flow_split_to_t0"
    assert doc.find(".//bpmn:exclusiveGateway[@id='check']", NS).get("default") == "flow_check_to_end_completed"
    ys = sorted(_bounds(doc.find(f".//bpmndi:BPMNShape[@bpmnElement='t{i}']", NS))[1] for i in range(3))
    assert ys[0] < ys[1] < ys[2]
    _assert_layout_sane(doc)


def test_builder_declares_a_signal_once():
    from tools.bpmnkit import Process

    p = Process(key="signals", name="信号", lanes=["村委会主任"])
    p.start("start", lane="村委会主任")
    p.event_gateway("wait", lane="村委会主任")
    p.signal_catch("a", lane="村委会主任", signal="objection")
    p.signal_catch("b", lane="村委会主任", signal="objection")
    p.end("end_completed", lane="村委会主任")
    for src, dst in (("start", "wait"), ("wait", "a"), ("wait", "b"), ("a", "end_completed"), ("b", "end_completed")):
        p.flow(src, dst)
    doc = etree.fromstring(p.to_xml())
    signals = doc.findall("bpmn:signal", NS)
    assert [(s.get("id"), s.get("name")) for s in signals] == [("Signal_objection", "objection")]
    refs = {d.get("signalRef") for d in doc.iterfind(".//bpmn:signalEventDefinition", NS)}
    assert refs == {"Signal_objection"}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda p: p.flow("gw", "end_completed"), "without condition or default"),
        (lambda p: p.flow("task", "end_completed"), "use a gateway"),
        (lambda p: p.user_task("x", "未知", lane="不存在", form="review"), "unknown lane"),
        (lambda p: p.user_task("task", "重复", lane="村委会主任", form="review"), "duplicate id"),
        (lambda p: p.flow("task", "nowhere"), "unknown node"),
    ],
)
def test_builder_refuses_bad_graphs(mutate, message):
    from tools.bpmnkit import Process

    p = Process(key="bad", name="错误", lanes=["村委会主任"])
    p.start("start", lane="村委会主任")
    p.user_task("task", "任务", lane="村委会主任", form="review")
    p.exclusive("gw", lane="村委会主任")
    p.end("end_completed", lane="村委会主任")
    p.end("end_rejected", lane="村委会主任")
    p.flow("start", "task")
    p.flow("task", "gw")
    p.flow("gw", "end_rejected", condition="x")
    with pytest.raises(ValueError, match=message):
        mutate(p)
        p.to_xml()


# ------------------------------------------------------------------ generated files and a county's own definition
COUNTY_FILE = ROOT / "tests" / "fixtures" / "county" / "county-seal-register.bpmn"


@pytest.mark.parametrize("key", sorted(BUILDERS))
def test_every_bundled_file_says_it_is_generated_and_where_to_edit_it(key):
    head = (PROCESSES / f"{key}.bpmn").read_text(encoding="utf-8")[:800]
    found = re.search(r"<!-- Generated by tools/build_processes\.py from (tools/items_\w+\.py|tools/build_processes\.py)"
                      r" \((\w+)\)\. Do not edit this file:", head)
    assert found, head[:300]
    source, builder = ROOT / found.group(1), found.group(2)
    assert re.search(rf"^def {builder}\(", source.read_text(encoding="utf-8"), flags=re.M), (source, builder)
    assert f"edit {found.group(1)}, then run: python -m tools.build_processes" in head
    # the note points at README's section on a county's own definition, which exists
    assert 'README.md, section "Deploying a definition of your own"' in head
    assert "### Deploying a definition of your own" in (ROOT / "README.md").read_text(encoding="utf-8")
    # the comment stays a comment: the file still parses and opens as the same process
    root = etree.parse(str(PROCESSES / f"{key}.bpmn")).getroot()
    assert root.find("bpmn:process", NS).get("id") == key


def test_a_countys_own_definition_drawn_in_bpmn_io_is_validated_deployed_and_run(tmp_path):
    """README "Deploying a definition of your own", step by step: a hand-drawn file (no builder), a
    catalogue entry in catalogue.d, `cunwu processes validate`, `cunwu init-db`, then cases run on it;
    a re-drawn file becomes version 2 while a running case keeps version 1."""
    import shutil

    from web import create_app
    from web.cli import import_file, init_db

    processes = tmp_path / "processes"
    shutil.copytree(PROCESSES, processes)
    shutil.copy(COUNTY_FILE, processes / COUNTY_FILE.name)
    (processes / "catalogue.d" / "z-county.yaml").write_text(
        "items:\n  - key: county-seal-register\n    file: county-seal-register.bpmn\n    name: 印章使用登记（县定）\n"
        "    category: A\n    legal_basis: 县民政局《村级印章管理办法》\n    starters: [village_director]\n"
        "    notice_days: 7\n    description: 用印前登记事由，监委会审核。\n", encoding="utf-8")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
                      "CUNWU_PROCESSES_DIR": str(processes)})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["processes", "validate", str(processes / COUNTY_FILE.name)])
    assert result.exit_code == 0, result.output
    assert "1 个文件均有效" in result.output
    try:
        with app.app_context():
            deployed = {key: (version, new) for key, version, new in init_db()}
            import_file(ROOT / "web" / "demo" / "demo.yaml")
        assert deployed["county-seal-register"] == (1, True)
        engine = app.extensions["cunwu"]
        assert engine.process("county-seal-register")["name"] == "印章使用登记（县定）"
        case = engine.start_case("wang", "county-seal-register", "demo-001", "村委会用印",
                                 {"title": "村委会用印", "summary": "为修路合同用印"})
        (review,) = [t for t in case["tasks"] if t["state"] == "ready"]
        assert (review["name"], review["role"]) == ("review_register", "supervisor")
        # the county re-draws the item: init-db deploys version 2, the running case keeps version 1
        path = processes / COUNTY_FILE.name
        path.write_text(path.read_text(encoding="utf-8").replace("登记用印事由", "登记用印事由和份数"),
                        encoding="utf-8")
        with app.app_context():
            assert ("county-seal-register", 2, True) in init_db()
        done = engine.complete_task("zhao", review["id"], {"decision": "approve"})
        assert (done["status"], done["version"]) == ("completed", 1)
        assert engine.process("county-seal-register")["version"] == 2
    finally:
        app.extensions["cunwu_db"].dispose()

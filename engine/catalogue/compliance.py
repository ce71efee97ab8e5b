"""Compliance checks over the process definitions (``cunwu processes check``).

The checker reads the BPMN XML with lxml (so every finding has a line number) and proves
properties of the process graph, not of one run:

* ``bare-task``: no untyped ``bpmn:task`` (it would wait for nobody);
* ``lane-role``: every user task sits in a lane whose name is a role (docs/bpmn-conventions.md);
* ``unknown-form``: every user task names a form that exists in ``engine.forms.FORMS``;
* ``meeting-body``: a ``meeting`` task names a known meeting body;
* ``meeting-branches``: after every meeting a gateway has a 流会 branch (``outcome == "lapsed"``)
  that leads back to the meeting, and a 未通过 branch (``outcome == "failed"``) (D6, R23);
* ``loop-user-task``: every cycle passes a user task (no endless automatic loop; the engine caps
  the rounds of a step at ``engine.services.common.MAX_ROUNDS``);
* ``end-event``: end events are named ``end_completed…`` / ``end_rejected…`` / ``end_withdrawn…``;
* ``objection-handling``: every disclosure posted by a review waits for its notice period and
  takes objections (an ``objection`` signal leading to an ``objection_reply`` task) (D7, D8);
* ``notice-floor``: the item's notice period (catalogue ``notice_days``) is at least its legal
  floor (R24, R30: ``legal_notice_floor`` in the catalogue or :data:`LEGAL_NOTICE_FLOORS`);
* ``threshold-legal``: the catalogue thresholds are not looser than the law (R42);
* ``deliberation`` / ``supervision`` / ``disclosure``: every path from the start to a guarded
  step (implementation, contract, payment, seal use …: ``guarded_forms``) passes the passed
  exit of the meetings the item requires (``requires_meetings``; a form that checks a linked
  四议两公开 resolution counts), the approve exit of a review by the 村务监督委员会 (unless the
  catalogue says ``requires_supervision: false``: 发展党员 is the Party's own affair), and the
  end of a notice period (``requires_disclosure``; a linked resolution was disclosed in its own
  case) (R1, R6, R27, D7, D9).

Each finding is a line ``FILE:LINE: rule-id: 中文说明``; any finding fails the check.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from .. import forms as forms_module
from ..domain import rules
from ..domain import settings as item_settings
from ..domain.errors import DefinitionError
from ..domain.roles import LANE_ROLES

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}

FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask", "businessRuleTask",
    "task", "callActivity", "subProcess", "exclusiveGateway", "inclusiveGateway", "parallelGateway",
    "eventBasedGateway",
}
SUPERVISOR_LANE = "村务监督委员会"
END_PREFIXES = ("end_completed", "end_rejected", "end_withdrawn")

#: Forms whose task is a vote with an engine-decided ``outcome`` (passed / failed / lapsed).
MEETING_FORMS = {"meeting": "会议", "member_assembly": "成员大会"}
#: Steps that carry a decision out; an item's ``guarded_forms`` replaces this set.
DEFAULT_GUARDED_FORMS = ("implementation", "payment", "seal_log")

#: Legal minimum notice periods in days (R24: resolutions 7 days; R30 item floors). A catalogue
#: entry may give its own ``legal_notice_floor`` (or ``legal_floor_notice_days``).
LEGAL_NOTICE_FLOORS: dict[str, int] = {
    "major-decision": 7,
    "construction-project": 7,
    "procurement": 7,
    "asset-disposal": 7,
    "spending-approval": 7,
    "seal-use": 7,
    "cadre-allowance": 7,
    "party-admission": 7,  # 5 working days [G], counted as 7 calendar days
    "member-confirmation": 7,
    "requisition-distribution": 7,
    "subsistence-allowance": 7,
    "extreme-poverty": 7,
    "temporary-assistance": 7,
    "farm-subsidy": 7,
    "homestead": 5,
}
#: Floor for an item nobody listed: the lowest floor of R30 (homestead group notice, 5 days).
DEFAULT_NOTICE_FLOOR = 5

#: Requirements of items whose catalogue entry does not state them (keys as in the catalogue).
ITEM_REQUIREMENTS: dict[str, dict] = {
    "major-decision": {
        "requires_meetings": ["two_committees", "party_members", ["representatives", "villager_assembly"]],
        "requires_disclosure": True,
        "guarded_forms": ["implementation"],
    },
}

RULES: dict[str, str] = {
    "parse": "流程文件无法解析",
    "bare-task": "不得使用无类型的 bpmn:task",
    "lane-role": "用户任务的泳道须对应已知角色",
    "unknown-form": "用户任务须使用已登记的表单",
    "meeting-body": "会议任务须注明会议类型",
    "meeting-branches": "会议之后须有流会和未通过两个分支",
    "loop-user-task": "循环中须有人工任务",
    "end-event": "结束事件须注明办结方式",
    "objection-handling": "公示须有公示期和异议处理",
    "notice-floor": "公示天数不得低于法定下限",
    "threshold-legal": "金额门槛不得宽于法律规定",
    "deliberation": "实施前须经规定的会议决议",
    "supervision": "实施前须经村务监督委员会审核",
    "disclosure": "实施前须经公示",
    "supervisor-veto": "监委会只监督不决定：其任务不得使会议重新召开",
    "hold-release": "每一次暂停都须有本级或上级解除的途径",
}
DISCIPLINE_LANE = "乡镇纪委"


@dataclass
class _Node:
    id: str
    kind: str
    name: str
    line: int
    lane: str | None = None
    props: dict = field(default_factory=dict)
    timer: str | None = None
    signal: str | None = None

    @property
    def label(self) -> str:
        return f"“{self.name}”" if self.name else self.id


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    condition: str
    line: int


def _norm(condition: str) -> str:
    return re.sub(r"\s+", "", condition or "").replace("'", '"')


def _is_lapse(flow: _Flow) -> bool:
    return 'outcome=="lapsed"' in _norm(flow.condition)


def _is_failed(flow: _Flow) -> bool:
    return 'outcome=="failed"' in _norm(flow.condition)


def _is_return(flow: _Flow) -> bool:
    c = _norm(flow.condition)
    return 'decision=="return"' in c or 'decision=="reject"' in c


class _Graph:
    def __init__(self, process: etree._Element):
        self.process = process
        self.nodes: dict[str, _Node] = {}
        self.flows: list[_Flow] = []
        self.lanes: list[tuple[str, int, list[str]]] = []
        lane_of: dict[str, str] = {}
        for lane in process.iterfind(".//bpmn:lane", NS):
            refs = [(r.text or "").strip() for r in lane.iterfind("bpmn:flowNodeRef", NS)]
            self.lanes.append((lane.get("name") or "", lane.sourceline, refs))
            for ref in refs:
                lane_of[ref] = lane.get("name") or ""
        signals = {s.get("id"): s.get("name") for s in process.getroottree().iterfind(".//bpmn:signal", NS)}
        for el in process:
            if not isinstance(el.tag, str):
                continue
            kind = etree.QName(el).localname
            if kind == "sequenceFlow":
                cond = el.find("bpmn:conditionExpression", NS)
                self.flows.append(_Flow(el.get("id"), el.get("sourceRef"), el.get("targetRef"),
                                        (cond.text or "") if cond is not None else "", el.sourceline))
                continue
            if kind not in FLOW_NODES:
                continue
            props = {p.get("name"): p.get("value") for p in el.iterfind(
                "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)}
            timer = el.find("bpmn:timerEventDefinition/bpmn:timeDate", NS)
            signal = el.find("bpmn:signalEventDefinition", NS)
            self.nodes[el.get("id")] = _Node(
                id=el.get("id"), kind=kind, name=el.get("name") or "", line=el.sourceline,
                lane=lane_of.get(el.get("id")), props=props,
                timer=(timer.text or "").strip() if timer is not None else None,
                signal=signals.get(signal.get("signalRef"), signal.get("signalRef")) if signal is not None else None,
            )
        self.out: dict[str, list[_Flow]] = {n: [] for n in self.nodes}
        self.inc: dict[str, list[_Flow]] = {n: [] for n in self.nodes}
        for f in self.flows:
            if f.source in self.out and f.target in self.nodes:
                self.out[f.source].append(f)
                self.inc[f.target].append(f)

    # -- queries ------------------------------------------------------------------------
    def user_tasks(self) -> list[_Node]:
        return [n for n in self.nodes.values() if n.kind == "userTask"]

    def starts(self) -> list[str]:
        return [n.id for n in self.nodes.values() if n.kind == "startEvent"]

    def gateway_after(self, task: str) -> _Node | None:
        outs = self.out.get(task, [])
        if len(outs) == 1 and self.nodes[outs[0].target].kind == "exclusiveGateway":
            return self.nodes[outs[0].target]
        return None

    def reaches(self, sources: Iterable[str], target: str, cut: set[int] | None = None) -> bool:
        """Is ``target`` reachable from ``sources`` without traversing a flow in ``cut`` (by id())?"""
        cut = cut or set()
        seen, stack = set(), list(sources)
        while stack:
            nid = stack.pop()
            if nid == target:
                return True
            if nid in seen:
                continue
            seen.add(nid)
            stack.extend(f.target for f in self.out.get(nid, []) if id(f) not in cut)
        return False

    def passed_exits(self, task: str) -> set[int]:
        """The flows by which a meeting task is left having passed (not lapsed, not failed)."""
        gw = self.gateway_after(task)
        if gw is None:
            return {id(f) for f in self.out.get(task, [])}
        return {id(f) for f in self.out[gw.id] if not (_is_lapse(f) or _is_failed(f))}

    def approved_exits(self, task: str) -> set[int]:
        """The flows by which a review is left approved (not returned or rejected)."""
        gw = self.gateway_after(task)
        if gw is None:
            return {id(f) for f in self.out.get(task, [])}
        return {id(f) for f in self.out[gw.id] if not _is_return(f)}

    def cycles_without(self, kinds: set[str]) -> list[list[str]]:
        """Strongly connected parts of the graph left after removing nodes of ``kinds`` (Tarjan)."""
        keep = [n for n in self.nodes if self.nodes[n].kind not in kinds]
        keep_set = set(keep)
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        found: list[list[str]] = []
        counter = [0]

        def visit(v: str) -> None:
            index[v] = low[v] = counter[0]
            counter[0] += 1
            stack.append(v)
            on_stack.add(v)
            for f in self.out[v]:
                w = f.target
                if w not in keep_set:
                    continue
                if w not in index:
                    visit(w)
                    low[v] = min(low[v], low[w])
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
            if low[v] == index[v]:
                part = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    part.append(w)
                    if w == v:
                        break
                if len(part) > 1 or any(f.target == v for f in self.out[v]):
                    found.append(part)

        for v in keep:
            if v not in index:
                visit(v)
        return found


def _requirements(key: str, meta: dict) -> dict:
    base = dict(ITEM_REQUIREMENTS.get(key, {}))
    for name in ("requires_meetings", "requires_disclosure", "requires_supervision", "guarded_forms"):
        if name in meta and meta[name] is not None:
            base[name] = meta[name]
    base.setdefault("requires_meetings", [])
    base.setdefault("requires_disclosure", True)
    base.setdefault("requires_supervision", True)  # false: not 村务 (发展党员 is the Party's own affair)
    base.setdefault("guarded_forms", list(DEFAULT_GUARDED_FORMS))
    return base


def legal_notice_floor(key: str, meta: dict) -> int:
    for name in ("legal_notice_floor", "legal_floor_notice_days"):
        if meta.get(name) is not None:
            return int(meta[name])
    return LEGAL_NOTICE_FLOORS.get(key, DEFAULT_NOTICE_FLOOR)


def _body_name(body: str) -> str:
    return rules.BODIES.get(body) or MEETING_FORMS.get(body) or body


def check_definition(source: bytes, filename: str, meta: dict | None = None) -> list[str]:
    """Compliance findings for one BPMN document (``FILE:LINE: rule-id: message`` lines)."""
    meta = dict(meta or {})
    problems: list[str] = []

    def report(line: int, rule: str, message: str) -> None:
        problems.append(f"{filename}:{line}: {rule}: {message}")

    try:
        root = etree.fromstring(source)
    except etree.XMLSyntaxError as exc:
        report(exc.lineno or 1, "parse", f"XML 格式错误：{exc.msg}")
        return problems
    processes = [p for p in root.iterfind("bpmn:process", NS) if p.get("isExecutable") == "true"] or \
        list(root.iterfind("bpmn:process", NS))
    if not processes:
        report(root.sourceline or 1, "parse", "文件中没有流程（bpmn:process）")
        return problems
    process = processes[0]
    key = meta.get("key") or process.get("id")
    from .catalog import parse_source  # the engine's own parser: XSD and semantic errors

    try:
        parse_source(source, filename, process.get("id"))
    except DefinitionError as exc:
        for problem in exc.problems:
            where, _, message = problem.partition(": ")
            problems.append(f"{where}: parse: {message}" if where.startswith(filename) else f"{filename}:1: parse: {problem}")

    g = _Graph(process)
    forms = forms_module.FORMS

    # -- elements ------------------------------------------------------------------------
    for el in process.iter(f"{{{BPMN_NS}}}task"):
        report(el.sourceline, "bare-task", f"元素 {el.get('id')}（{el.get('name') or '未命名'}）是无类型的 bpmn:task，"
                                           "引擎不会把它交给任何人办理；请改为 bpmn:userTask")
    for lane_name, line, refs in g.lanes:
        if lane_name.strip() in LANE_ROLES:
            continue
        tasks = [g.nodes[r] for r in refs if r in g.nodes and g.nodes[r].kind == "userTask"]
        if not tasks:
            report(line, "lane-role", f"泳道“{lane_name}”不是已知角色（见 docs/bpmn-conventions.md 的泳道表）")
        for task in tasks:
            report(task.line, "lane-role", f"用户任务{task.label}所在泳道“{lane_name}”不对应任何角色，没有人能办理")
    for task in g.user_tasks():
        if task.lane is None:
            report(task.line, "lane-role", f"用户任务{task.label}不在任何泳道中，没有人能办理")
        form = task.props.get("form")
        if not form:
            report(task.line, "unknown-form", f"用户任务{task.label}没有指定表单（form）")
        elif form not in forms:
            report(task.line, "unknown-form", f"用户任务{task.label}使用了未登记的表单“{form}”")
        if form == "meeting" and task.props.get("body") not in rules.BODIES:
            report(task.line, "meeting-body", f"会议任务{task.label}的会议类型“{task.props.get('body') or ''}”未知，"
                                              f"应为：{'、'.join(rules.BODIES)}")
    for node in g.nodes.values():
        if node.kind == "endEvent" and not node.id.startswith(END_PREFIXES):
            report(node.line, "end-event", f"结束事件 {node.id} 的编号须以 end_completed、end_rejected 或 end_withdrawn 开头，"
                                           "引擎据此判断事项办结、未通过或撤回")

    # -- meetings: 流会 and 未通过 ------------------------------------------------------------
    for task in g.user_tasks():
        if task.props.get("form") not in MEETING_FORMS:
            continue
        gw = g.gateway_after(task.id)
        if gw is None:
            report(task.line, "meeting-branches", f"会议{task.label}之后没有判断会议结果的排他网关（流会、未通过、通过）")
            continue
        outs = g.out[gw.id]
        lapse = [f for f in outs if _is_lapse(f)]
        failed = [f for f in outs if _is_failed(f)]
        if not lapse:
            report(gw.line, "meeting-branches", f"会议{task.label}的结果网关没有流会分支（outcome == \"lapsed\"）："
                                                "未达法定人数须重新召开")
        elif not any(g.reaches([f.target], task.id) for f in lapse):
            report(gw.line, "meeting-branches", f"会议{task.label}的流会分支没有回到该会议重新召开")
        if not failed:
            report(gw.line, "meeting-branches", f"会议{task.label}的结果网关没有未通过分支（outcome == \"failed\"）")

    # -- loops -----------------------------------------------------------------------------
    for part in g.cycles_without({"userTask"}):
        nodes = sorted((g.nodes[n] for n in part), key=lambda n: n.line)
        path = " → ".join(n.name or n.id for n in nodes)
        report(nodes[0].line, "loop-user-task", f"循环（{path}）中没有人工任务，会无限自动循环；循环中须有人办理的任务"
                                                "（引擎对同一步骤的办理次数另有上限）")

    # -- disclosures: notice period and objections ---------------------------------------------
    publishing = [t for t in g.user_tasks() if t.props.get("publishes")]
    for task in publishing:
        waits = [g.nodes[f.target] for f in g.out.get(task.id, [])]
        gw = g.gateway_after(task.id)
        if gw is not None:
            waits = [g.nodes[f.target] for f in g.out[gw.id] if not _is_return(f)]
        event_gws = [w for w in waits if w.kind == "eventBasedGateway"]
        ok = False
        for egw in event_gws:
            catches = [g.nodes[f.target] for f in g.out[egw.id]]
            timer = any(c.timer and "notice_until" in c.timer for c in catches)
            objection = any(c.signal == "objection" and any(
                g.nodes[f.target].props.get("form") == "objection_reply" for f in g.out[c.id]) for c in catches)
            ok = ok or (timer and objection)
        if not ok:
            report(task.line, "objection-handling", f"公示{task.label}张榜后须等待公示期满（定时 notice_until），"
                                                    "并能接收异议（objection 信号）交由监委会答复（objection_reply）")
    floor = legal_notice_floor(key, meta)
    notice_days = int(meta.get("notice_days") or 7)
    if publishing and notice_days < floor:
        for task in publishing:
            report(task.line, "notice-floor", f"本事项公示天数下限为{notice_days}天，低于法定最少{floor}天"
                                              f"（{task.label}张榜的公示期）")

    # -- thresholds --------------------------------------------------------------------------
    for message in item_settings.legal_problems(key, meta.get("thresholds") or {}):
        report(process.sourceline, "threshold-legal", message)

    # -- the 监委会 supervises and never decides (D9, 组织法第三十二条) -------------------------------
    meeting_ids = {t.id for t in g.user_tasks() if t.props.get("form") in MEETING_FORMS}

    def first_tasks(flow: _Flow) -> set[str]:
        """The user tasks a flow leads to first (through gateways and events, not through tasks)."""
        found, seen, stack = set(), set(), [flow.target]
        while stack:
            nid = stack.pop()
            if nid in seen:
                continue
            seen.add(nid)
            if g.nodes[nid].kind == "userTask":
                found.add(nid)
                continue
            stack.extend(f.target for f in g.out.get(nid, []))
        return found

    for task in g.user_tasks():
        if (task.lane or "").strip() != SUPERVISOR_LANE or task.props.get("form") in MEETING_FORMS:
            continue  # a meeting the 监委会 chairs itself (民主评议) is its own
        gw = g.gateway_after(task.id)
        for flow in (g.out[gw.id] if gw is not None else g.out.get(task.id, [])):
            if not (_is_return(flow) or 'decision=="uphold"' in _norm(flow.condition)):
                continue  # approving moves the case forward; only sending it back could be a veto
            for target in first_tasks(flow) & meeting_ids:
                meeting = g.nodes[target]
                if (meeting.lane or "").strip() == SUPERVISOR_LANE:
                    continue
                # A return to the meeting whose record this review judges is a correction of that record
                # (the engine keeps its date: no meeting is held again); anything else is a veto.
                judged = any(task.id in first_tasks(f) for f in
                             (g.out[g.gateway_after(target).id] if g.gateway_after(target) else g.out[target]))
                if _is_return(flow) and judged:
                    continue
                report(flow.line, "supervisor-veto", f"监委会任务{task.label}可使事项回到会议{meeting.label}重新召开；"
                                                     "监委会只监督不决定（组织法第三十二条），重新开会只能由乡镇纪委核查决定")

    # -- every hold has a release path at its level (D9) -------------------------------------------
    for task in g.user_tasks():
        form = forms.get(task.props.get("form") or "")
        holds_on = getattr(form, "holds_on", None)
        if not holds_on:
            continue
        gw = g.gateway_after(task.id)
        branches = [f for f in (g.out[gw.id] if gw is not None else []) if f'=="{holds_on}"' in _norm(f.condition)]
        released = any(getattr(forms.get(g.nodes[t].props.get("form") or ""), "releases_hold", False)
                       and (g.nodes[t].lane or "").strip() == DISCIPLINE_LANE
                       for f in branches for t in first_tasks(f))
        if not released:
            report(task.line, "hold-release", f"{task.label}选“{holds_on}”会暂停事项，但之后没有乡镇纪委的核查任务"
                                              "（inspection）来解除暂停；暂停只能由本级或上级解除")

    # -- every path to a guarded step ---------------------------------------------------------
    need = _requirements(key, meta)
    guarded = [t for t in g.user_tasks() if t.props.get("form") in set(need["guarded_forms"])]
    starts = g.starts()
    link_exits = {id(f) for t in g.user_tasks()
                  if getattr(forms.get(t.props.get("form") or ""), "links_resolution", False)
                  for f in g.out[t.id]}
    review_exits = set()
    for t in g.user_tasks():
        if t.props.get("form") == "review" and (t.lane or "").strip() == SUPERVISOR_LANE:
            review_exits |= g.approved_exits(t.id)
    notice_exits = {id(f) for n in g.nodes.values()
                    if n.kind == "intermediateCatchEvent" and n.timer and "notice_until" in n.timer
                    for f in g.out[n.id]}
    for task in guarded:
        for entry in need["requires_meetings"]:
            bodies = [entry] if isinstance(entry, str) else list(entry)
            exits = set(link_exits)
            for m in g.user_tasks():
                if m.props.get("body") in bodies or (m.props.get("form") in bodies and m.props.get("form") in MEETING_FORMS):
                    exits |= g.passed_exits(m.id)
            if g.reaches(starts, task.id, exits):
                names = "或".join(_body_name(b) for b in bodies)
                report(task.line, "deliberation", f"存在不经{names}通过（也没有关联已形成的决议）而到达{task.label}的路径")
        if need["requires_supervision"] and g.reaches(starts, task.id, review_exits):
            report(task.line, "supervision", f"存在不经村务监督委员会审核同意而到达{task.label}的路径")
        if need["requires_disclosure"] and g.reaches(starts, task.id, notice_exits | link_exits):
            report(task.line, "disclosure", f"存在不经公示期满（也没有关联已公开的决议）而到达{task.label}的路径")
    return problems


def check_deployed(engine) -> list[str]:
    """Findings over the newest deployed version of every catalogue item."""
    from .catalog import load_catalogue

    directory = Path(engine.catalog.directory)
    files: dict[str, str] = {}
    problems: list[str] = []
    try:
        files = {item.key: item.file for item in load_catalogue(directory)}
    except DefinitionError as exc:
        problems.extend(f"{p.split(': ', 1)[0]}: catalogue: {p.split(': ', 1)[-1]}" for p in exc.problems)
    with engine.sessions() as session:
        rows = engine.catalog.latest_rows(session)
        for row in rows:
            path = directory / files.get(row.key, f"{row.key}.bpmn")
            try:
                shown = os.path.relpath(path)
            except ValueError:
                shown = str(path)
            problems.extend(check_definition(row.source.encode("utf-8"), shown, {**(row.meta or {}), "key": row.key}))
    return problems

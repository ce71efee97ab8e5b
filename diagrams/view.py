"""What a chart draws for people, read from the chart model of the definition the engine runs.

The engine's definition stays as it runs (one 乡镇纪委核查 task per stage that may be objected to);
the drawing reads it for a wall:

* **One shared inspection** (issue 10): an item with several ``inspection`` steps draws them as one
  乡镇纪委核查 node that every 提出异议 / 报乡镇核查 flow leads to (red dashed), with its outcomes
  written in the node (the case is held; 核查无问题 goes on, 责令重做 redoes the objected stage).
* **列席** (issue 10, D10): a meeting the 村务监督委员会 may attend under the rule set in force on the
  drawing day carries an annotation in the supervisor's lane. It is a field of the meeting (who of
  the 监委会 attended, their opinion), not a step.
* **Time limits** (issue 15): under each step the limit the law or the catalogue gives: ``due_days``
  of the step, the notice period (``notice_days``) on the step that posts a notice, the ten days'
  notice of a 村民会议 (组织法 第二十一条), the working-day deadlines of a complaint lead (R56, R57).
* **Evidence** (issue 14): ``需上传：签到表照片`` under each step the catalogue's ``evidence:`` names.
"""

from __future__ import annotations

import dataclasses
from datetime import date

from engine.domain import rules
from engine.domain.roles import ROLES
from engine.records import leads

from .model import Chart, Edge, Node

INSPECTION_FORM = "inspection"
SHARED_INSPECTION = "inspection_shared"
SUPERVISOR_LANE = ROLES["supervisor"]

#: The working-day deadlines of a complaint lead (engine.records.leads, DOMAIN R56/R57): the forms of its steps.
LEAD_LIMITS = {
    "lead_intake": f"{leads.ACCEPT_DAYS}个工作日内受理，转办{leads.FORWARD_DAYS}个工作日内",  # R56, R57
    "lead_result": f"{leads.VERIFY_DAYS}个工作日内核实（谈话函询{leads.TALK_DAYS}天）",
    "lead_feedback": f"办结后{leads.FEEDBACK_DAYS}个工作日内反馈",  # R57
    "lead_review": f"{leads.REVIEW_DAYS}天内复查",
}


#: Waits whose timer is a computed date (no duration to read): what the law or the rules give.
TIMER_LIMITS = {
    (leads.LEAD_PROCESS, "objection_period"): f"反馈后{leads.OBJECTION_DAYS}天内",  # engine.records.leads.OBJECTION_DAYS
}


def step_limits(node: Node, meta: dict, on: date) -> list[str]:
    """The time limits of one step, as people read them."""
    props = node.properties
    form = props.get("form", "")
    out = []
    if form in LEAD_LIMITS:
        out.append(LEAD_LIMITS[form])
    elif props.get("due_days"):
        out.append(f"限{props['due_days']}天内")
    if form == "meeting" and props.get("body") == "villager_assembly":
        # 组织法 第二十一条 (2018): 召集村民会议，应当提前十天通知村民 (engine.domain.rules, R10)
        out.append(f"会前{rules.rule_set_on(on).assembly_notice_days}天通知村民")
    if props.get("publishes"):
        out.append(f"张榜公示不少于{int(meta.get('notice_days') or 7)}天")
    return out


def evidence_of(node: Node, meta: dict) -> str:
    """What the catalogue asks to be uploaded at this step (engine.services.evidence.EvidenceMixin.required_evidence)."""
    wanted = meta.get("evidence") or {}
    return str(wanted.get(node.id) or "") if isinstance(wanted, dict) else ""


def _inspection_gateway(chart: Chart, node: Node) -> str | None:
    """The decision right after an inspection step, when nothing else leads into it."""
    outs = [e for e in chart.edges if e.source == node.id]
    if len(outs) != 1:
        return None
    target = chart.nodes.get(outs[0].target)
    if target is None or target.kind != "gateway":
        return None
    if any(e.target == target.id and e.source != node.id for e in chart.edges):
        return None
    return target.id


def folded_ids(chart: Chart) -> dict[str, str]:
    """Node id → the id it is drawn as (the shared inspection; "" for an inspection's decision,
    which is written in the shared node), for the folded nodes only."""
    inspections = [n for n in chart.steps if n.properties.get("form") == INSPECTION_FORM]
    if len(inspections) < 2:
        return {}
    out = {}
    for node in inspections:
        out[node.id] = SHARED_INSPECTION
        gateway = _inspection_gateway(chart, node)
        if gateway:
            out[gateway] = ""
    return out


def drawn(chart: Chart, on: date) -> Chart:
    """The chart as it is drawn on ``on`` (the rule set in force decides where the 监委会 attends)."""
    meta = chart.meta or {}
    nodes = {nid: dataclasses.replace(n, notes=[], properties=dict(n.properties)) for nid, n in chart.nodes.items()}
    edges = [dataclasses.replace(e) for e in chart.edges]

    fold = folded_ids(chart)
    if fold:
        inspections = sorted((nodes[nid] for nid in fold if nodes[nid].kind == "task"), key=lambda n: n.order)
        first = inspections[0]
        sources = []
        kept: list[Edge] = []
        for edge in edges:
            if edge.source in fold:
                continue  # the outcomes are written in the shared node
            if edge.target in fold:
                if edge.source not in sources:
                    sources.append(edge.source)
                continue
            kept.append(edge)
        for nid in fold:
            nodes.pop(nid, None)
        last = max(n.order for n in nodes.values())
        shared = dataclasses.replace(  # drawn below the last stage that may be objected to: numbered last
            first, id=SHARED_INSPECTION, name=first.name, notes=[], order=last + 1,
            properties={**first.properties, "shared": "1"})
        nodes[SHARED_INSPECTION] = shared
        kept += [Edge(source, SHARED_INSPECTION, free=True, style="objection") for source in sources]
        edges = kept

    rule_set = rules.rule_set_on(on)
    if SUPERVISOR_LANE in chart.lanes:
        for node in sorted(nodes.values(), key=lambda n: n.order):
            if node.properties.get("form") != "meeting" or node.properties.get("body") not in rule_set.supervisor_attends:
                continue
            note = Node(id=f"attend_{node.id}", kind="note", name="列席", lane=SUPERVISOR_LANE,
                        order=node.order, rank=node.rank, row_of=(node.id,),
                        notes=["监委会列席会议，意见记入会议记录"])
            nodes[note.id] = note
            edges.append(Edge(node.id, note.id, free=True, style="association"))

    for node in nodes.values():
        if node.event == "timer" and not node.timer_text:
            node.timer_text = TIMER_LIMITS.get((chart.key, node.id), "")
        if not node.manual:
            continue
        node.notes = step_limits(node, meta, on)
        wanted = evidence_of(node, meta)
        if wanted:
            node.notes.append(f"需上传：{wanted}")
        if node.id == SHARED_INSPECTION:
            node.notes += ["监委会提出异议、异议报核查时", "核查期间事项暂停", "核查无问题：继续办理", "责令重做：该环节重做"]
    for number, node in enumerate(sorted((n for n in nodes.values() if n.manual), key=lambda n: n.order), 1):
        node.step_no = number
    return dataclasses.replace(chart, nodes=nodes, edges=edges, drawn_on=on, folded=fold)


def drawn_ids(view: Chart, ids: list[str]) -> list[str]:
    """A case's completed or current BPMN ids as the drawing ``view`` names them (the folded
    inspections as the shared one; their decisions are no place of their own)."""
    out: list[str] = []
    for nid in ids:
        target = view.folded.get(nid, nid)
        if target:
            out.append(target)
    return out

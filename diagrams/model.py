"""The chart model: nodes, edges and lanes read from the parsed definition the engine runs.

Nodes and edges come from the SpiffWorkflow ``BpmnProcessSpec`` (``task_specs``, ``outputs``,
gateway conditions, event definitions). SpiffWorkflow does not keep sequence-flow names on the
spec, so the branch labels (通过 / 未通过 / 流会 …) are read from the deployed BPMN source of the
same version; a flow without a name falls back to a reading of its condition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from lxml import etree
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    ErrorEventDefinition,
    EscalationEventDefinition,
    SignalEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import (
    BoundaryEvent,
    EventBasedGateway,
    IntermediateCatchEvent,
    IntermediateThrowEvent,
    ReceiveTask,
    SendTask,
)
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.specs.mixins.user_task import UserTask

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

#: Readings of the condition expressions the conventions allow, for flows without a name.
CONDITION_LABELS = [
    (re.compile(r"""outcome\s*==\s*["']lapsed["']"""), "流会"),
    (re.compile(r"""outcome\s*==\s*["']failed["']"""), "未通过"),
    (re.compile(r"""outcome\s*==\s*["']passed["']"""), "通过"),
    (re.compile(r"""decision\s*==\s*["']return["']"""), "退回"),
    (re.compile(r"""decision\s*==\s*["']approve["']"""), "同意"),
    (re.compile(r"""decision\s*==\s*["']uphold["']"""), "异议成立"),
    (re.compile(r"""decision\s*==\s*["']dismiss["']"""), "驳回异议"),
    (re.compile(r"""withdraw\s*==\s*True"""), "撤回"),
    (re.compile(r"""open_objections\s*>\s*0"""), "尚有异议"),
    (re.compile(r"""assembly\s*==\s*["']villager_assembly["']"""), "村民会议"),
]


@dataclass
class Node:
    id: str
    kind: str  # start | end | task | gateway | event_gateway | parallel | inclusive | catch | throw | boundary | call
    #          | note (an annotation the drawing adds, diagrams.view)
    name: str
    lane: str
    event: str = ""  # timer | signal | message | error | escalation | "" (none)
    end_kind: str = ""  # completed | rejected | withdrawn | "" (from the end event's id)
    manual: bool = False
    properties: dict = field(default_factory=dict)
    timer_text: str = ""  # e.g. 公示不少于7天
    order: int = 0  # position in process order
    rank: int = 0
    step_no: int = 0  # 1-based number of a user task in process order
    exceptional: bool = False  # reached only on an exceptional outcome (an objection, a vote against …)
    notes: list[str] = field(default_factory=list)  # drawn under the name: time limits, evidence (diagrams.view)
    row_of: tuple[str, ...] = ()  # drawn on the (median) row of these nodes (annotations, the shared inspection)


@dataclass
class Edge:
    source: str
    target: str
    label: str = ""
    condition: str = ""
    default: bool = False
    back: bool = False  # closes a loop (drawn against the flow of ranks)
    free: bool = False  # drawn without constraining the layout (diagrams.view: objections, annotations)
    style: str = ""  # "" | objection | association


@dataclass
class Chart:
    key: str
    version: int
    name: str
    category: str
    meta: dict
    nodes: dict[str, Node]
    edges: list[Edge]
    lanes: list[str]  # in process order
    digest: str = ""  # content hash of the deployed definition
    drawn_on: date | None = None  # set on the drawing's reading of the chart (diagrams.view.drawn)
    folded: dict[str, str] = field(default_factory=dict)  # model id → drawn id (the shared inspection)

    @property
    def steps(self) -> list[Node]:
        return sorted((n for n in self.nodes.values() if n.manual), key=lambda n: n.order)

    def lane_steps(self, lane: str) -> list[Node]:
        return [n for n in self.steps if n.lane == lane]


# -- reading the spec -------------------------------------------------------------------------
def _kind(spec) -> str:
    if isinstance(spec, StartEvent):
        return "start"
    if isinstance(spec, EndEvent):
        return "end"
    if isinstance(spec, EventBasedGateway):
        return "event_gateway"
    if isinstance(spec, BoundaryEvent):
        return "boundary"
    if isinstance(spec, (IntermediateCatchEvent, ReceiveTask)) and not isinstance(spec, UserTask):
        return "catch" if isinstance(spec, IntermediateCatchEvent) else "task"
    if isinstance(spec, (IntermediateThrowEvent,)):
        return "throw"
    if isinstance(spec, SendTask):
        return "task"
    if isinstance(spec, ExclusiveGateway):
        return "gateway"
    if isinstance(spec, InclusiveGateway):
        return "inclusive"
    if isinstance(spec, ParallelGateway):
        return "parallel"
    if isinstance(spec, SubWorkflowTask):
        return "call"
    return "task"


def _event_kind(definition) -> str:
    if definition is None:
        return ""
    if isinstance(definition, TimerEventDefinition):
        return "timer"
    if isinstance(definition, SignalEventDefinition):
        return "signal"
    if isinstance(definition, MessageEventDefinition):
        return "message"
    if isinstance(definition, ErrorEventDefinition):
        return "error"
    if isinstance(definition, EscalationEventDefinition):
        return "escalation"
    if isinstance(definition, MultipleEventDefinition):
        kinds = {_event_kind(d) for d in definition.event_definitions}
        return kinds.pop() if len(kinds) == 1 else ("multiple" if kinds else "")
    return ""


_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def _duration_text(expression: str) -> str:
    """``"P7D"`` → ``7天``; an expression we cannot read → ""."""
    match = _DURATION.match((expression or "").strip().strip("'\""))
    if not match or not any(match.groups()):
        return ""
    units = ["年", "个月", "周", "天", "小时", "分钟", "秒"]
    return "".join(f"{int(v)}{u}" for v, u in zip(match.groups(), units, strict=True) if v)


def _timer_text(definition, meta: dict) -> str:
    """What a villager needs to know about a timer: how long the wait is."""
    expression = str(getattr(definition, "expression", "") or "")
    if isinstance(definition, DurationTimerEventDefinition):
        text = _duration_text(expression)
        return f"等待{text}" if text else ""
    if isinstance(definition, CycleTimerEventDefinition):
        return "定期"
    if "notice" in expression:  # the disclosure pattern: timeDate = notice_until
        days = meta.get("notice_days") or 7
        return f"公示不少于{days}天"
    return ""


def _end_kind(bpmn_id: str) -> str:
    for kind in ("completed", "rejected", "withdrawn"):
        if bpmn_id.startswith(f"end_{kind}"):
            return kind
    return ""


def _condition_text(condition) -> str:
    if condition is None:
        return ""
    args = getattr(condition, "args", None)
    if args:
        return str(args[0])
    return str(condition)


def _condition_label(expression: str) -> str:
    for pattern, label in CONDITION_LABELS:
        if pattern.search(expression):
            return label
    return expression.strip()


def flow_names(source: str | bytes | None, process_id: str) -> dict[tuple[str, str], str]:
    """``(sourceRef, targetRef) → name`` of the named sequence flows of one process."""
    if not source:
        return {}
    if isinstance(source, str):
        source = source.encode("utf-8")
    try:  # no DTDs, no entities, no network: the text is data
        root = etree.fromstring(source, etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))
    except etree.XMLSyntaxError:
        return {}
    names: dict[tuple[str, str], str] = {}
    for process in root.iter(f"{{{BPMN_NS}}}process"):
        if process.get("id") != process_id:
            continue
        for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
            name = (flow.get("name") or "").strip()
            if name:
                names.setdefault((flow.get("sourceRef"), flow.get("targetRef")), name)
    return names


def _bpmn_outputs(spec, seen: set | None = None) -> list:
    """Outputs of ``spec`` that are BPMN elements, looking through SpiffWorkflow's own
    connective specs (``EndJoin``, boundary-event splits …)."""
    found = []
    for out in spec.outputs:
        if getattr(out, "bpmn_id", None):
            found.append(out)
            continue
        seen = seen if seen is not None else set()
        if out.name in seen:
            continue
        seen.add(out.name)
        found.extend(_bpmn_outputs(out, seen))
    return found


def build_chart(deployed, source: str | bytes | None = None) -> Chart:
    """The chart of one deployed definition (``engine.catalogue.catalog.Deployed``)."""
    spec = deployed.spec
    meta = dict(deployed.meta or {})
    names = flow_names(source, getattr(spec, "name", deployed.key) or deployed.key)

    nodes: dict[str, Node] = {}
    parents_event: dict[str, object] = {}  # catch event → its definition held by an event gateway
    for ts in spec.task_specs.values():
        if isinstance(ts, EventBasedGateway):
            defs = list(getattr(ts.event_definition, "event_definitions", []) or [])
            for child, definition in zip(ts.outputs, defs, strict=False):
                if getattr(child, "bpmn_id", None):
                    parents_event[child.bpmn_id] = definition

    for ts in spec.task_specs.values():
        bpmn_id = getattr(ts, "bpmn_id", None)
        if not bpmn_id:
            continue
        kind = _kind(ts)
        definition = parents_event.get(bpmn_id) or getattr(ts, "event_definition", None)
        event = _event_kind(definition) if kind in ("start", "end", "catch", "throw", "boundary",
                                                      "event_gateway") else ""
        ext = getattr(ts, "extensions", None) or {}
        node = Node(
            id=bpmn_id, kind=kind, name=(ts.bpmn_name or "").strip(), lane=(ts.lane or "").strip(),
            event=event, end_kind=_end_kind(bpmn_id) if kind == "end" else "",
            manual=bool(getattr(ts, "manual", False)) or isinstance(ts, UserTask),
            properties=dict(ext.get("properties") or {}),
        )
        if event == "timer":
            node.timer_text = _timer_text(definition, meta)
        nodes[bpmn_id] = node

    edges: list[Edge] = []
    seen_pairs: set[tuple[str, str]] = set()
    for ts in spec.task_specs.values():
        bpmn_id = getattr(ts, "bpmn_id", None)
        if not bpmn_id:
            continue
        conditions: dict[str, str] = {}
        for condition, target in getattr(ts, "cond_task_specs", None) or []:
            if condition is not None:
                conditions[target] = _condition_text(condition)
        default = getattr(ts, "default_task_spec", None)
        for out in _bpmn_outputs(ts):
            pair = (bpmn_id, out.bpmn_id)
            if pair in seen_pairs or out.bpmn_id not in nodes:
                continue
            seen_pairs.add(pair)
            condition = conditions.get(out.name, "")
            label = names.get(pair) or (_condition_label(condition) if condition else "")
            edges.append(Edge(bpmn_id, out.bpmn_id, label=label, condition=condition,
                              default=bool(default) and default == out.name))

    _order(nodes, edges)
    lanes = _lane_order(nodes)
    for number, node in enumerate(sorted((n for n in nodes.values() if n.manual), key=lambda n: n.order), 1):
        node.step_no = number
    return Chart(key=deployed.key, version=deployed.version, name=deployed.name, category=deployed.category,
                 meta=meta, nodes=nodes, edges=edges, lanes=lanes)


def _order(nodes: dict[str, Node], edges: list[Edge]) -> None:
    """Process order: a depth-first walk from the start events marks the loop-closing edges as
    ``back``; ranks are the longest path over the remaining edges."""
    out: dict[str, list[Edge]] = {nid: [] for nid in nodes}
    incoming: dict[str, int] = {nid: 0 for nid in nodes}
    for edge in edges:
        out[edge.source].append(edge)
        incoming[edge.target] += 1
    starts = [n for n in nodes.values() if n.kind == "start" and n.lane is not None]
    roots = [n.id for n in starts if incoming[n.id] == 0] or [n.id for n in starts]
    roots += [nid for nid, count in incoming.items() if count == 0 and nid not in roots]

    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    order: list[str] = []
    post: list[str] = []

    def visit(root: str) -> None:
        # iterative DFS (deep processes must not hit the recursion limit)
        stack = [(root, iter(_forward_first(out[root])))]
        state[root] = 1
        order.append(root)
        while stack:
            nid, children = stack[-1]
            edge = next(children, None)
            if edge is None:
                state[nid] = 2
                post.append(nid)
                stack.pop()
                continue
            mark = state.get(edge.target)
            if mark == 1:
                edge.back = True
            elif mark is None:
                state[edge.target] = 1
                order.append(edge.target)
                stack.append((edge.target, iter(_forward_first(out[edge.target]))))

    for root in roots:
        if root not in state:
            visit(root)
    for nid in nodes:  # unreachable leftovers keep a stable place at the end
        if nid not in state:
            visit(nid)

    rank = {nid: 0 for nid in nodes}
    topo = list(reversed(post))  # reverse post-order is a topological order of the forward edges
    for nid in topo:
        for edge in out[nid]:
            if not edge.back:
                rank[edge.target] = max(rank[edge.target], rank[nid] + 1)
    for nid, node in nodes.items():
        node.rank = rank[nid]

    # Reading order (step numbers, the step list): the main path first, then the branches that
    # only exceptional outcomes reach (a conditioned flow, an objection signal …), each as soon
    # as everything before it is placed.
    position = {nid: i for i, nid in enumerate(order)}
    exceptional: dict[str, bool] = {}
    forward_in: dict[str, list[Edge]] = {nid: [] for nid in nodes}
    for edge in edges:
        if not edge.back:
            forward_in[edge.target].append(edge)
    for nid in topo:
        ins = forward_in[nid]
        exceptional[nid] = bool(ins) and all(
            _exceptional_edge(e, nodes) or exceptional.get(e.source, False) for e in ins)
    for nid, flag in exceptional.items():
        nodes[nid].exceptional = flag
    waiting = {nid: len(forward_in[nid]) for nid in nodes}
    ready = [nid for nid in nodes if waiting[nid] == 0]
    placed = 0
    while ready:
        ready.sort(key=lambda n: (exceptional[n], rank[n], position[n]))
        nid = ready.pop(0)
        nodes[nid].order = placed
        placed += 1
        for edge in out[nid]:
            if not edge.back:
                waiting[edge.target] -= 1
                if waiting[edge.target] == 0:
                    ready.append(edge.target)


def _exceptional_edge(edge: Edge, nodes: dict[str, Node]) -> bool:
    """A branch taken only on an exceptional outcome: a conditioned flow that is not the
    gateway's default, or the non-timer way out of an event-based wait."""
    if edge.condition and not edge.default:
        return True
    source, target = nodes[edge.source], nodes[edge.target]
    return source.kind == "event_gateway" and target.event not in ("timer", "")


def _forward_first(edges: list[Edge]) -> list[Edge]:
    """Visit a gateway's default flow (the main path) before its exceptional branches."""
    return sorted(edges, key=lambda e: (not e.default, bool(e.condition)))


def _lane_order(nodes: dict[str, Node]) -> list[str]:
    first: dict[str, tuple[int, int]] = {}
    for node in nodes.values():
        key = (node.rank, node.order)
        if node.lane not in first or key < first[node.lane]:
            first[node.lane] = key
    return sorted(first, key=lambda lane: first[lane])

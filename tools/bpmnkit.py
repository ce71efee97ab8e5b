"""A small builder for the BPMN 2.0 files in ``processes/``.

A :class:`Process` collects flow nodes (each in a lane) and sequence flows, then writes one
``bpmn:definitions`` document with a collaboration, the executable process, its lane set and
diagram interchange, so that bpmn.io / Camunda Modeler open the file laid out and
SpiffWorkflow's ``SpiffBpmnParser(validator=VALIDATOR)`` accepts it.  The file contract is
``docs/bpmn-conventions.md``.

Layout (horizontal pool, deterministic):

* lanes are rows, top to bottom in the order given;
* nodes go into columns by longest-path layering from the start event(s) over the graph with
  its back edges removed (back edges close a cycle in a DFS from the start that follows flows
  in declaration order);
* a lane that already holds a node in a column stacks the next one below it (the lane grows);
  nodes are taken in DFS preorder from the start following default flows first, so the main
  path keeps the top row and side branches stack below it;
* forward edges leave a shape on the right (gateways may also leave from the bottom or top)
  and enter on the left; back edges leave through the bottom or top into a channel between
  rows, travel left there, change rows inside the gap between two columns and enter the
  target from below or above.  Channels and column gaps never hold shapes, and parallel
  segments get separate tracks, so routed edges do not cross shapes.

Example::

    p = Process(key="major-decision", name="村级重大事项决策（四议两公开）",
                lanes=["村党组织书记", "村委会主任", "村务监督委员会"])
    p.start("start", "提出动议", lane="村党组织书记")
    p.user_task("propose", "村党组织提议", lane="村党组织书记", form="proposal")
    p.flow("start", "propose")
    p.write("processes/major-decision.bpmn")
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

__all__ = ["Process", "BPMN_NS", "BPMNDI_NS", "DC_NS", "DI_NS", "SPIFF_NS", "XSI_NS"]

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

NSMAP = {
    "bpmn": BPMN_NS,
    "bpmndi": BPMNDI_NS,
    "dc": DC_NS,
    "di": DI_NS,
    "xsi": XSI_NS,
    "spiffworkflow": SPIFF_NS,
}

TARGET_NAMESPACE = "urn:cunwu:processes"
EXPORTER = "cunwu tools.bpmnkit"
EXPORTER_VERSION = "1.0"

# Shape sizes (bpmn.io defaults).
SIZES = {
    "startEvent": (36, 36),
    "endEvent": (36, 36),
    "intermediateCatchEvent": (36, 36),
    "exclusiveGateway": (50, 50),
    "eventBasedGateway": (50, 50),
    "userTask": (100, 80),
}
GATEWAYS = ("exclusiveGateway", "eventBasedGateway")
EVENTS = ("startEvent", "endEvent", "intermediateCatchEvent")

# Layout metrics (all even, so every coordinate is an integer).
POOL_X = 160
POOL_Y = 80
POOL_HEADER = 30  # the participant's name band on the left
ROW_H = 80  # one node row inside a lane
GAP_MIN = 30  # channel between rows and at the top/bottom of a lane
COL_GAP_MIN = 70  # gap between two columns
EDGE_GAP_MIN = 50  # gap before the first and after the last column
TRACK = 10  # distance between parallel edge segments
LABEL_LINE_H = 14
LABEL_MAX_W = 90  # bpmn.io wraps external labels at this width

_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


@dataclass
class _Node:
    id: str
    kind: str
    name: str | None
    lane: str
    properties: list[tuple[str, str]] = field(default_factory=list)
    time_date: str | None = None
    signal: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        return SIZES[self.kind]


@dataclass
class _Flow:
    id: str
    source: str
    target: str
    name: str | None
    condition: str | None
    default: bool


def _check_id(value: str, what: str) -> None:
    if not isinstance(value, str) or not _ID_RE.match(value):
        raise ValueError(f"{what} {value!r} is not a valid BPMN id (ASCII letter or _, then letters, digits, _ . -)")


def _text_width(text: str) -> int:
    """Rough rendered width of a label at bpmn.io's 12px font."""
    return sum(12 if ord(ch) > 0x2E7F else 7 for ch in text)


def _label_size(text: str) -> tuple[int, int]:
    width = _text_width(text) + 4
    lines = max(1, math.ceil(width / LABEL_MAX_W))
    return (min(width, LABEL_MAX_W), lines * LABEL_LINE_H)


class Process:
    """One executable BPMN process in a single-participant collaboration."""

    def __init__(self, key: str, name: str, lanes: Sequence[str]):
        _check_id(key, "process key")
        if not name:
            raise ValueError("the process needs a name")
        lanes = list(lanes)
        if not lanes:
            raise ValueError("the process needs at least one lane")
        if len(set(lanes)) != len(lanes):
            raise ValueError(f"duplicate lane names in {lanes!r}")
        self.key = key
        self.name = name
        self.lanes = lanes
        self._nodes: dict[str, _Node] = {}
        self._flows: dict[str, _Flow] = {}
        self._signals: dict[str, str] = {}  # signal name -> signal id, first-use order

    # ------------------------------------------------------------------ declaring nodes

    def _add(self, node: _Node) -> str:
        _check_id(node.id, "node id")
        if node.id in self._nodes or node.id in self._flows or node.id == self.key:
            raise ValueError(f"duplicate id {node.id!r}")
        if node.lane not in self.lanes:
            raise ValueError(f"node {node.id!r}: unknown lane {node.lane!r} (lanes: {', '.join(self.lanes)})")
        self._nodes[node.id] = node
        return node.id

    def start(self, id: str, name: str | None = None, *, lane: str) -> str:
        """A none start event."""
        return self._add(_Node(id, "startEvent", name, lane))

    def end(self, id: str, name: str | None = None, *, lane: str) -> str:
        """A none end event; by convention its id starts with end_completed/end_rejected/end_withdrawn."""
        return self._add(_Node(id, "endEvent", name, lane))

    def user_task(
        self,
        id: str,
        name: str,
        *,
        lane: str,
        form: str,
        due_days: int | None = None,
        body: str | None = None,
        extra_roles: str | Iterable[str] | None = None,
        publishes: str | None = None,
        **more_properties: object,
    ) -> str:
        """A ``bpmn:userTask`` with ``spiffworkflow:properties``.

        ``form`` is required; ``due_days``, ``body``, ``extra_roles`` (a comma-separated string or
        an iterable of role keys), ``publishes`` and any further keyword properties are written
        only when not None, in that order.
        """
        if not form:
            raise ValueError(f"user task {id!r} needs a form")
        props: list[tuple[str, str]] = [("form", str(form))]
        if body is not None:
            props.append(("body", str(body)))
        if extra_roles is not None:
            if not isinstance(extra_roles, str):
                extra_roles = ",".join(extra_roles)
            props.append(("extra_roles", extra_roles))
        if publishes is not None:
            props.append(("publishes", str(publishes)))
        if due_days is not None:
            if isinstance(due_days, bool) or not isinstance(due_days, int) or due_days < 0:
                raise ValueError(f"user task {id!r}: due_days must be a non-negative int")
            props.append(("due_days", str(due_days)))
        for prop_name, value in more_properties.items():
            if value is not None:
                props.append((prop_name, str(value)))
        return self._add(_Node(id, "userTask", name, lane, properties=props))

    def exclusive(self, id: str, name: str | None = None, *, lane: str) -> str:
        """An exclusive gateway; give its outgoing flows conditions, and one of them ``default=True``."""
        return self._add(_Node(id, "exclusiveGateway", name, lane))

    def event_gateway(self, id: str, name: str | None = None, *, lane: str) -> str:
        """An event-based gateway; its outgoing flows must lead to catch events."""
        return self._add(_Node(id, "eventBasedGateway", name, lane))

    def timer_catch(self, id: str, name: str | None = None, *, lane: str, time_date: str) -> str:
        """An intermediate timer catch event whose ``timeDate`` is the given expression."""
        if not time_date:
            raise ValueError(f"timer {id!r} needs a time_date expression")
        return self._add(_Node(id, "intermediateCatchEvent", name, lane, time_date=time_date))

    def signal_catch(self, id: str, name: str | None = None, *, lane: str, signal: str) -> str:
        """An intermediate signal catch event; the ``bpmn:signal`` is declared once per name."""
        if not signal:
            raise ValueError(f"signal catch {id!r} needs a signal name")
        if signal not in self._signals:
            sid = f"Signal_{signal}" if re.fullmatch(r"[A-Za-z0-9_.-]+", signal) else f"Signal_{len(self._signals) + 1}"
            self._signals[signal] = sid
        return self._add(_Node(id, "intermediateCatchEvent", name, lane, signal=signal))

    def flow(
        self,
        source: str,
        target: str,
        name: str | None = None,
        condition: str | None = None,
        default: bool = False,
        id: str | None = None,
    ) -> str:
        """A sequence flow; returns its id (``flow_<source>_to_<target>`` unless given)."""
        if id is None:
            base = f"flow_{source}_to_{target}"
            id, n = base, 1
            while id in self._flows:
                n += 1
                id = f"{base}_{n}"
        _check_id(id, "flow id")
        if id in self._flows or id in self._nodes or id == self.key:
            raise ValueError(f"duplicate id {id!r}")
        if condition is not None and default:
            raise ValueError(f"flow {id!r} cannot be both default and conditional")
        self._flows[id] = _Flow(id, source, target, name, condition, bool(default))
        return id

    # ------------------------------------------------------------------ checks

    def validate(self) -> None:
        """Raise ValueError for graphs SpiffWorkflow (or the conventions) would refuse."""
        if not any(n.kind == "startEvent" for n in self._nodes.values()):
            raise ValueError("the process needs a start event")
        outgoing = self._outgoing()
        incoming: dict[str, list[_Flow]] = {nid: [] for nid in self._nodes}
        for f in self._flows.values():
            for end in (f.source, f.target):
                if end not in self._nodes:
                    raise ValueError(f"flow {f.id!r} refers to unknown node {end!r}")
            incoming[f.target].append(f)
        for node in self._nodes.values():
            outs, ins = outgoing[node.id], incoming[node.id]
            if node.kind == "startEvent" and ins:
                raise ValueError(f"start event {node.id!r} has incoming flows")
            if node.kind != "startEvent" and not ins:
                raise ValueError(f"node {node.id!r} is unreachable (no incoming flow)")
            if node.kind == "endEvent" and outs:
                raise ValueError(f"end event {node.id!r} has outgoing flows")
            if node.kind != "endEvent" and not outs:
                raise ValueError(f"node {node.id!r} is a dead end (no outgoing flow)")
            if node.kind not in GATEWAYS and node.kind != "startEvent" and len(outs) > 1:
                raise ValueError(f"{node.kind} {node.id!r} has {len(outs)} outgoing flows; use a gateway")
            defaults = [f for f in outs if f.default]
            if node.kind != "exclusiveGateway":
                for f in outs:
                    if f.default or f.condition is not None:
                        raise ValueError(f"flow {f.id!r}: only exclusive gateway flows take condition/default")
            else:
                if len(defaults) > 1:
                    raise ValueError(f"gateway {node.id!r} has more than one default flow")
                if len(outs) > 1:
                    for f in outs:
                        if not f.default and f.condition is None:
                            raise ValueError(f"flow {f.id!r} leaves gateway {node.id!r} without condition or default")
            if node.kind == "eventBasedGateway":
                for f in outs:
                    if self._nodes[f.target].kind != "intermediateCatchEvent":
                        raise ValueError(f"event gateway {node.id!r} must lead to catch events, not {f.target!r}")

    def _outgoing(self) -> dict[str, list[_Flow]]:
        out: dict[str, list[_Flow]] = {nid: [] for nid in self._nodes}
        for f in self._flows.values():
            if f.source in out:
                out[f.source].append(f)
        return out

    # ------------------------------------------------------------------ layout

    def _layout(self) -> _Layout:
        return _Layout(self)

    # ------------------------------------------------------------------ XML

    def to_xml(self) -> bytes:
        """The complete BPMN document (UTF-8, deterministic)."""
        self.validate()
        layout = self._layout()
        b = _qn(BPMN_NS)
        outgoing = self._outgoing()
        incoming: dict[str, list[_Flow]] = {nid: [] for nid in self._nodes}
        for f in self._flows.values():
            incoming[f.target].append(f)

        collab_id = f"Collaboration_{self.key}"
        participant_id = f"Participant_{self.key}"
        root = etree.Element(
            b("definitions"),
            nsmap=NSMAP,
            id=f"Definitions_{self.key}",
            targetNamespace=TARGET_NAMESPACE,
            exporter=EXPORTER,
            exporterVersion=EXPORTER_VERSION,
        )
        collab = etree.SubElement(root, b("collaboration"), id=collab_id)
        etree.SubElement(collab, b("participant"), id=participant_id, name=self.name, processRef=self.key)

        proc = etree.SubElement(root, b("process"), id=self.key, name=self.name, isExecutable="true")
        lane_set = etree.SubElement(proc, b("laneSet"), id=f"LaneSet_{self.key}")
        lane_ids = {lane: f"Lane_{i}" for i, lane in enumerate(self.lanes, start=1)}
        for lane in self.lanes:
            el = etree.SubElement(lane_set, b("lane"), id=lane_ids[lane], name=lane)
            for node in self._nodes.values():
                if node.lane == lane:
                    etree.SubElement(el, b("flowNodeRef")).text = node.id

        for node in self._nodes.values():
            attrs = {"id": node.id}
            if node.name:
                attrs["name"] = node.name
            if node.kind == "exclusiveGateway":
                default = next((f.id for f in outgoing[node.id] if f.default), None)
                if default is not None:
                    attrs["default"] = default
            el = etree.SubElement(proc, b(node.kind), attrs)
            if node.properties:
                ext = etree.SubElement(el, b("extensionElements"))
                props = etree.SubElement(ext, f"{{{SPIFF_NS}}}properties")
                for prop_name, value in node.properties:
                    etree.SubElement(props, f"{{{SPIFF_NS}}}property", name=prop_name, value=value)
            for f in incoming[node.id]:
                etree.SubElement(el, b("incoming")).text = f.id
            for f in outgoing[node.id]:
                etree.SubElement(el, b("outgoing")).text = f.id
            if node.time_date is not None:
                timer = etree.SubElement(el, b("timerEventDefinition"), id=f"TimerEventDefinition_{node.id}")
                td = etree.SubElement(timer, b("timeDate"))
                td.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
                td.text = node.time_date
            if node.signal is not None:
                etree.SubElement(
                    el,
                    b("signalEventDefinition"),
                    id=f"SignalEventDefinition_{node.id}",
                    signalRef=self._signals[node.signal],
                )

        for f in self._flows.values():
            attrs = {"id": f.id}
            if f.name:
                attrs["name"] = f.name
            attrs["sourceRef"] = f.source
            attrs["targetRef"] = f.target
            el = etree.SubElement(proc, b("sequenceFlow"), attrs)
            if f.condition is not None:
                cond = etree.SubElement(el, b("conditionExpression"))
                cond.set(f"{{{XSI_NS}}}type", "bpmn:tFormalExpression")
                cond.text = f.condition

        for signal_name, signal_id in self._signals.items():
            etree.SubElement(root, b("signal"), id=signal_id, name=signal_name)

        self._write_diagram(root, layout, collab_id, participant_id, lane_ids)
        body = etree.tostring(root, xml_declaration=False, encoding="UTF-8", pretty_print=True)
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + body

    def _write_diagram(self, root, layout: _Layout, collab_id: str, participant_id: str, lane_ids) -> None:
        d = _qn(BPMNDI_NS)
        diagram = etree.SubElement(root, d("BPMNDiagram"), id=f"BPMNDiagram_{self.key}")
        plane = etree.SubElement(diagram, d("BPMNPlane"), id=f"BPMNPlane_{self.key}", bpmnElement=collab_id)

        def shape(element_id: str, bounds, label=None, **extra):
            el = etree.SubElement(plane, d("BPMNShape"), id=f"{element_id}_di", bpmnElement=element_id, **extra)
            _bounds(el, bounds)
            if label is not None:
                _bounds(etree.SubElement(el, d("BPMNLabel")), label)

        shape(participant_id, layout.pool, isHorizontal="true")
        for lane in self.lanes:
            shape(lane_ids[lane], layout.lane_bounds[lane], isHorizontal="true")
        for node in self._nodes.values():
            extra = {"isMarkerVisible": "true"} if node.kind == "exclusiveGateway" else {}
            shape(node.id, layout.node_bounds[node.id], layout.node_labels.get(node.id), **extra)
        for f in self._flows.values():
            el = etree.SubElement(plane, d("BPMNEdge"), id=f"{f.id}_di", bpmnElement=f.id)
            for x, y in layout.waypoints[f.id]:
                etree.SubElement(el, f"{{{DI_NS}}}waypoint", x=str(x), y=str(y))
            if f.id in layout.flow_labels:
                _bounds(etree.SubElement(el, d("BPMNLabel")), layout.flow_labels[f.id])

    def write(self, path: str | Path) -> Path:
        """Write :meth:`to_xml` to ``path`` and return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.to_xml())
        return path


def _qn(ns: str):
    return lambda local: f"{{{ns}}}{local}"


def _bounds(parent, bounds: tuple[int, int, int, int]) -> None:
    x, y, w, h = bounds
    etree.SubElement(parent, f"{{{DC_NS}}}Bounds", x=str(x), y=str(y), width=str(w), height=str(h))


# ---------------------------------------------------------------------- layout engine
#
# Routing works on abstract references first (which column gap, which channel, which node
# side), so that parallel segments can be given tracks before any coordinate is known:
#   x refs: ("n", node_id, "l"|"c"|"r")  or  ("g", gap_index, slot)   gap i is left of column i
#   y refs: ("n", node_id, "t"|"c"|"b")  or  ("h", lane, gap_index, slot)   gap i is above row i
# A slot is a key into the track assignment of that gap/channel.


class _Layout:
    def __init__(self, process: Process):
        self.p = process
        self.nodes = process._nodes
        self.flows = list(process._flows.values())
        self.order = {nid: i for i, nid in enumerate(self.nodes)}
        self._rank()
        self._rows()
        self._route()
        self._assign_tracks()
        self._geometry()
        self._resolve()

    # -- columns -------------------------------------------------------------------

    def _rank(self) -> None:
        out: dict[str, list[_Flow]] = {nid: [] for nid in self.nodes}
        for f in self.flows:
            out[f.source].append(f)
        starts = [nid for nid, n in self.nodes.items() if n.kind == "startEvent"]
        roots = starts + [nid for nid in self.nodes if nid not in starts]
        state: dict[str, int] = {}  # 1 = on the DFS stack, 2 = done
        back: set[str] = set()
        for root in roots:
            if root in state:
                continue
            state[root] = 1
            stack = [(root, 0)]
            while stack:
                nid, i = stack[-1]
                if i < len(out[nid]):
                    stack[-1] = (nid, i + 1)
                    f = out[nid][i]
                    s = state.get(f.target)
                    if s == 1:
                        back.add(f.id)
                    elif s is None:
                        state[f.target] = 1
                        stack.append((f.target, 0))
                else:
                    state[nid] = 2
                    stack.pop()
        self.back = back

        # Longest-path layering over the remaining DAG (Kahn, declaration order).
        indeg = {nid: 0 for nid in self.nodes}
        for f in self.flows:
            if f.id not in back:
                indeg[f.target] += 1
        layer = {nid: 0 for nid in self.nodes}
        ready = [nid for nid in self.nodes if indeg[nid] == 0]
        while ready:
            ready.sort(key=self.order.__getitem__)
            nid = ready.pop(0)
            for f in out[nid]:
                if f.id in back:
                    continue
                layer[f.target] = max(layer[f.target], layer[nid] + 1)
                indeg[f.target] -= 1
                if indeg[f.target] == 0:
                    ready.append(f.target)
        self.col = layer
        self.ncols = max(layer.values()) + 1

    # -- rows ------------------------------------------------------------------------

    def _priority(self) -> list[str]:
        """Nodes in DFS preorder from the start, default flows first: the main path wins row 0."""
        out: dict[str, list[_Flow]] = {nid: [] for nid in self.nodes}
        for f in self.flows:
            out[f.source].append(f)
        seen: dict[str, None] = {}
        starts = [nid for nid, n in self.nodes.items() if n.kind == "startEvent"]
        for root in starts + list(self.nodes):
            stack = [root]
            while stack:
                nid = stack.pop()
                if nid in seen:
                    continue
                seen[nid] = None
                flows = sorted(out[nid], key=lambda f: not f.default)  # stable: default, then declaration order
                stack.extend(f.target for f in reversed(flows) if f.target not in seen)
        return list(seen)

    def _rows(self) -> None:
        count: dict[tuple[str, int], int] = {}
        self.row: dict[str, int] = {}
        for nid in self._priority():
            node = self.nodes[nid]
            key = (node.lane, self.col[nid])
            self.row[nid] = count.get(key, 0)
            count[key] = self.row[nid] + 1
        self.nrows = {lane: 1 for lane in self.p.lanes}
        for (lane, _), n in count.items():
            self.nrows[lane] = max(self.nrows[lane], n)
        # Vertical order of bands: lane gap 0, row 0, gap 1, row 1, ..., gap R, next lane ...
        self.band: dict[tuple, int] = {}
        i = 0
        for lane in self.p.lanes:
            for r in range(self.nrows[lane]):
                self.band[("gap", lane, r)] = i
                self.band[("row", lane, r)] = i + 1
                i += 2
            self.band[("gap", lane, self.nrows[lane])] = i
            i += 1
        self.by_cell: dict[tuple[str, int, int], str] = {}
        for nid, node in self.nodes.items():
            self.by_cell[(node.lane, self.row[nid], self.col[nid])] = nid

    def _node_band(self, nid: str) -> int:
        return self.band[("row", self.nodes[nid].lane, self.row[nid])]

    def _row_blocked(self, lane: str, row: int, c_from: int, c_to: int) -> bool:
        """Is any node in (lane, row) in a column strictly between c_from and c_to?"""
        lo, hi = sorted((c_from, c_to))
        return any((lane, row, c) in self.by_cell for c in range(lo + 1, hi))

    def _column_blocked(self, col: int, band_from: int, band_to: int, exclude: str) -> bool:
        """Is any node of column ``col`` in a band in (band_from, band_to]?"""
        lo, hi = sorted((band_from, band_to))
        for nid in self.nodes:
            if nid != exclude and self.col[nid] == col and lo <= self._node_band(nid) <= hi:
                if self._node_band(nid) != band_from:
                    return True
        return False

    # -- routing ---------------------------------------------------------------------

    def _route(self) -> None:
        self.routes: dict[str, list[tuple[tuple, tuple]]] = {}
        used_sides: set[tuple[str, str]] = set()
        # Back edges first: they claim the bottom/top of their ends.
        for f in self.flows:
            if f.id in self.back:
                self.routes[f.id] = self._route_back(f, used_sides)
        for f in self.flows:
            if f.id not in self.back:
                self.routes[f.id] = self._route_forward(f, used_sides)

    def _chan(self, f: _Flow, lane: str, gap: int) -> tuple:
        return ("h", lane, gap, f.id)

    def _route_back(self, f: _Flow, used: set) -> list:
        u, v = f.source, f.target
        nu, nv = self.nodes[u], self.nodes[v]
        cu, cv, ru, rv = self.col[u], self.col[v], self.row[u], self.row[v]
        if u == v:
            ch = self._chan(f, nu.lane, ru + 1)
            return [
                (("n", u, "r"), ("n", u, "c")),
                (("g", cu + 1, f.id + "#1"), ("n", u, "c")),
                (("g", cu + 1, f.id + "#1"), ch),
                (("g", cu, f.id + "#2"), ch),
                (("g", cu, f.id + "#2"), ("n", u, "c")),
                (("n", u, "l"), ("n", u, "c")),
            ]
        bu, bv = self._node_band(u), self._node_band(v)
        if bu == bv:
            ch = self._chan(f, nu.lane, ru + 1)
            used.update({(u, "b"), (v, "b")})
            return [(("n", u, "c"), ("n", u, "b")), (("n", u, "c"), ch), (("n", v, "c"), ch), (("n", v, "c"), ("n", v, "b"))]
        if bv < bu:  # target above: leave upwards, enter from below
            su, sv = "t", "b"
            ch_u = self._chan(f, nu.lane, ru)
            ch_v = self._chan(f, nv.lane, rv + 1)
        else:  # target below: leave downwards, enter from above
            su, sv = "b", "t"
            ch_u = self._chan(f, nu.lane, ru + 1)
            ch_v = self._chan(f, nv.lane, rv)
        used.update({(u, su), (v, sv)})
        if ch_u[:3] == ch_v[:3]:  # neighbouring rows of one lane share the channel between them
            return [(("n", u, "c"), ("n", u, su)), (("n", u, "c"), ch_u), (("n", v, "c"), ch_u), (("n", v, "c"), ("n", v, sv))]
        gap = ("g", cv + 1, f.id)
        return [
            (("n", u, "c"), ("n", u, su)),
            (("n", u, "c"), ch_u),
            (gap, ch_u),
            (gap, ch_v),
            (("n", v, "c"), ch_v),
            (("n", v, "c"), ("n", v, sv)),
        ]

    def _route_forward(self, f: _Flow, used: set) -> list:
        u, v = f.source, f.target
        nu, nv = self.nodes[u], self.nodes[v]
        cu, cv, ru, rv = self.col[u], self.col[v], self.row[u], self.row[v]
        bu, bv = self._node_band(u), self._node_band(v)
        start = (("n", u, "r"), ("n", u, "c"))
        end = (("n", v, "l"), ("n", v, "c"))
        if bu == bv and not self._row_blocked(nu.lane, ru, cu, cv):
            return [start, end]
        if bu != bv and nu.kind in GATEWAYS:
            side = "b" if bv > bu else "t"
            if (
                (u, side) not in used
                and not self._column_blocked(cu, bu, bv, exclude=u)
                and not self._row_blocked(nv.lane, rv, cu, cv)
            ):
                used.add((u, side))
                return [(("n", u, "c"), ("n", u, side)), (("n", u, "c"), ("n", v, "c")), end]
        if bu != bv:
            if not self._row_blocked(nv.lane, rv, cu, cv):
                gap = ("g", cu + 1, f.id)
                return [start, (gap, ("n", u, "c")), (gap, ("n", v, "c")), end]
            if not self._row_blocked(nu.lane, ru, cu, cv):
                gap = ("g", cv, f.id)
                return [start, (gap, ("n", u, "c")), (gap, ("n", v, "c")), end]
        ch = self._chan(f, nu.lane, ru + 1 if bv >= bu else ru)
        g1, g2 = ("g", cu + 1, f.id + "#1"), ("g", cv, f.id + "#2")
        return [start, (g1, ("n", u, "c")), (g1, ch), (g2, ch), (g2, ("n", v, "c")), end]

    # -- tracks ----------------------------------------------------------------------

    def _xord(self, ref: tuple) -> int:
        if ref[0] == "n":
            return 2 * self.col[ref[1]] + 1
        return 2 * ref[1]

    def _yord(self, ref: tuple) -> int:
        if ref[0] == "n":
            return self._node_band(ref[1])
        return self.band[("gap", ref[1], ref[2])]

    def _assign_tracks(self) -> None:
        # Collect segments per channel (horizontal) and per column gap (vertical).
        groups: dict[tuple, list[tuple[int, int, int, tuple]]] = {}
        seq = 0
        for f in self.flows:
            pts = self.routes[f.id]
            for a, b in zip(pts, pts[1:], strict=False):
                (xa, ya), (xb, yb) = a, b
                if ya == yb and ya[0] == "h":
                    key = ("h", ya[1], ya[2])
                    lo, hi = sorted((self._xord(xa), self._xord(xb)))
                    groups.setdefault(key, []).append((lo, hi, seq, ya))
                elif xa == xb and xa[0] == "g":
                    key = ("g", xa[1])
                    lo, hi = sorted((self._yord(ya), self._yord(yb)))
                    groups.setdefault(key, []).append((lo, hi, seq, xa))
                seq += 1
        self.slot: dict[tuple, int] = {}
        self.ntracks: dict[tuple, int] = {}
        for key, segs in groups.items():
            tracks: list[list[tuple[int, int]]] = []
            # Shortest segments nearest the shapes; longer ones further out, so they nest.
            for lo, hi, _, ref in sorted(segs, key=lambda s: (s[1] - s[0], s[2])):
                if ref in self.slot:
                    # The same reference used twice (e.g. both ends of a channel run): keep one track.
                    tracks[self.slot[ref]].append((lo, hi))
                    continue
                for k, taken in enumerate(tracks):
                    if all(hi < a or lo > b for a, b in taken):
                        taken.append((lo, hi))
                        self.slot[ref] = k
                        break
                else:
                    tracks.append([(lo, hi)])
                    self.slot[ref] = len(tracks) - 1
            self.ntracks[key] = len(tracks)

    # -- coordinates -----------------------------------------------------------------

    def _geometry(self) -> None:
        colw = [0] * self.ncols
        for nid, node in self.nodes.items():
            colw[self.col[nid]] = max(colw[self.col[nid]], node.size[0])
        # A named flow that leaves a shape to the right puts its label in the next column gap.
        label_need: dict[int, int] = {}
        for f in self.flows:
            if f.name and self.routes[f.id][0][0] == ("n", f.source, "r"):
                gap = self.col[f.source] + 1
                label_need[gap] = max(label_need.get(gap, 0), _label_size(f.name)[0] + 8)
        lane_x = POOL_X + POOL_HEADER
        self.gap_center: list[int] = []
        self.col_center: list[int] = []
        x = lane_x
        for i in range(self.ncols + 1):
            outer = i == 0 or i == self.ncols
            need = (self.ntracks.get(("g", i), 0) + 1) * TRACK
            width = max(EDGE_GAP_MIN if outer else COL_GAP_MIN, need, label_need.get(i, 0))
            width += width % 2
            self.gap_center.append(x + width // 2)
            x += width
            if i < self.ncols:
                self.col_center.append(x + colw[i] // 2)
                x += colw[i]
        lane_w = x - lane_x

        self.row_center: dict[tuple[str, int], int] = {}
        self.chan_edge: dict[tuple[str, int], tuple[int, int]] = {}
        self.lane_bounds: dict[str, tuple[int, int, int, int]] = {}
        y = POOL_Y
        for lane in self.p.lanes:
            top = y
            for g in range(self.nrows[lane] + 1):
                height = max(GAP_MIN, (self.ntracks.get(("h", lane, g), 0) + 1) * TRACK)
                self.chan_edge[(lane, g)] = (y, y + height)
                y += height
                if g < self.nrows[lane]:
                    self.row_center[(lane, g)] = y + ROW_H // 2
                    y += ROW_H
            self.lane_bounds[lane] = (lane_x, top, lane_w, y - top)
        self.pool = (POOL_X, POOL_Y, POOL_HEADER + lane_w, y - POOL_Y)

        self.center: dict[str, tuple[int, int]] = {}
        self.node_bounds: dict[str, tuple[int, int, int, int]] = {}
        self.node_labels: dict[str, tuple[int, int, int, int]] = {}
        for nid, node in self.nodes.items():
            cx = self.col_center[self.col[nid]]
            cy = self.row_center[(node.lane, self.row[nid])]
            w, h = node.size
            self.center[nid] = (cx, cy)
            self.node_bounds[nid] = (cx - w // 2, cy - h // 2, w, h)
            if node.name and node.kind in EVENTS:  # below, centred (bpmn.io default)
                lw, lh = _label_size(node.name)
                self.node_labels[nid] = (cx - lw // 2, cy + h // 2 + 4, lw, lh)
            elif node.name and node.kind in GATEWAYS:  # above, to the right of the top corner
                lw, lh = _label_size(node.name)
                self.node_labels[nid] = (cx + 6, cy - h // 2 - 2 - lh, lw, lh)

    def _x(self, ref: tuple) -> int:
        if ref[0] == "n":
            nid, side = ref[1], ref[2]
            cx, w = self.center[nid][0], self.nodes[nid].size[0]
            return {"l": cx - w // 2, "c": cx, "r": cx + w // 2}[side]
        k = self.slot[ref]
        return self.gap_center[ref[1]] + ((k + 1) // 2) * TRACK * (-1 if k % 2 else 1)

    def _y(self, ref: tuple) -> int:
        if ref[0] == "n":
            nid, side = ref[1], ref[2]
            cy, h = self.center[nid][1], self.nodes[nid].size[1]
            return {"t": cy - h // 2, "c": cy, "b": cy + h // 2}[side]
        lane, gap = ref[1], ref[2]
        top, bottom = self.chan_edge[(lane, gap)]
        k = self.slot[ref]
        if gap == 0:  # the channel above a lane's first row fills from the bottom up
            return bottom - (k + 1) * TRACK
        return top + (k + 1) * TRACK

    def _resolve(self) -> None:
        self.waypoints: dict[str, list[tuple[int, int]]] = {}
        self.flow_labels: dict[str, tuple[int, int, int, int]] = {}
        for f in self.flows:
            pts: list[tuple[int, int]] = []
            for xr, yr in self.routes[f.id]:
                pt = (self._x(xr), self._y(yr))
                if pts and pts[-1] == pt:
                    continue
                if len(pts) >= 2 and (pts[-2][0] == pts[-1][0] == pt[0] or pts[-2][1] == pts[-1][1] == pt[1]):
                    pts[-1] = pt  # drop a collinear corner
                    continue
                pts.append(pt)
            self.waypoints[f.id] = pts
        # Flow labels: the first candidate spot that stays inside one lane and clear of shapes and
        # of the labels placed so far.
        taken = list(self.node_bounds.values()) + list(self.node_labels.values())
        for f in self.flows:
            if not f.name:
                continue
            size = _label_size(f.name)
            candidates = list(self._label_candidates(self.waypoints[f.id], size))
            box = next((c for c in candidates if self._label_fits(c, taken)), candidates[0])
            self.flow_labels[f.id] = box
            taken.append(box)

    @staticmethod
    def _label_candidates(pts: list[tuple[int, int]], size: tuple[int, int]):
        lw, lh = size
        segments = list(enumerate(zip(pts, pts[1:], strict=False)))
        if len(segments) >= 3 and pts[0][1] == pts[1][1]:
            # Leaves sideways and then turns: the short first stub may be shared with a sibling
            # flow, so the turn names the flow better.
            segments[0], segments[1] = segments[1], segments[0]
        for i, ((x0, y0), (x1, y1)) in segments:
            if y0 == y1:  # horizontal: above, then below; near the start, the middle, the end
                lo, hi = sorted((x0, x1))
                xs = [x0 + 4 if x1 > x0 else x0 - 4 - lw, (lo + hi - lw) // 2, x1 - 4 - lw if x1 > x0 else x1 + 4]
                if i == 0 and len(segments) > 1:
                    xs = xs[:1]  # a stub: only right next to the shape
                for x in xs:
                    yield (x, y0 - 3 - lh, lw, lh)
                    yield (x, y0 + 3, lw, lh)
            else:  # vertical: right, then left; near the start, the middle, the end
                lo, hi = sorted((y0, y1))
                ys = [y0 + 4 if y1 > y0 else y0 - 4 - lh, (lo + hi - lh) // 2, y1 - 4 - lh if y1 > y0 else y1 + 4]
                for y in ys:
                    yield (x0 + 4, y, lw, lh)
                    yield (x0 - 4 - lw, y, lw, lh)

    def _label_fits(self, box: tuple[int, int, int, int], taken: list) -> bool:
        if not any(_inside(box, lane) for lane in self.lane_bounds.values()):
            return False
        return not any(_overlap(box, other) for other in taken)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return b[0] <= a[0] and a[0] + a[2] <= b[0] + b[2] and b[1] <= a[1] and a[1] + a[3] <= b[1] + b[3]

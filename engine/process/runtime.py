"""The SpiffWorkflow adapter: create, load, run and save workflows.

A case's stored state leaves the spec out (it is stored once per deployed version and
shared in memory); ``load`` puts the cached spec back. The restricted script engine is
attached after every load, since SpiffWorkflow does not serialize it.
"""

from __future__ import annotations

import base64
import contextvars
import json
import zlib
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from SpiffWorkflow import TaskState
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import SignalEventDefinition

from ..domain import clock as clockmod
from ..domain.roles import role_for_lane
from .scripting import script_engine

_specs: contextvars.ContextVar[tuple] = contextvars.ContextVar("cunwu_specs")


class _SpeclessWorkflowConverter(BpmnWorkflowConverter):
    """Serialize a workflow without its spec; restore it with the spec of the context."""

    def to_dict(self, workflow):
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct):
        spec, subprocess_specs = _specs.get()
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_config = dict(SPIFF_CONFIG)
_config[BpmnWorkflow] = _SpeclessWorkflowConverter
_case_registry = BpmnWorkflowSerializer.configure(_config)
CASE_SERIALIZER = BpmnWorkflowSerializer(_case_registry)
SPEC_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
VERSION_KEY = CASE_SERIALIZER.VERSION_KEY


def serialize_spec(spec, subprocess_specs) -> str:
    reg = SPEC_SERIALIZER.registry
    return json.dumps({
        "spec": reg.convert(spec),
        "subprocess_specs": {k: reg.convert(v) for k, v in subprocess_specs.items()},
    }, ensure_ascii=False)


def restore_spec(spec_json: str):
    reg = SPEC_SERIALIZER.registry
    dct = json.loads(spec_json)
    return reg.restore(dct["spec"]), {k: reg.restore(v) for k, v in dct["subprocess_specs"].items()}


def new_workflow(spec, subprocess_specs, data: dict | None = None) -> BpmnWorkflow:
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine())
    if data:
        wf.task_tree.data.update(data)
    return wf


COMPRESSED = "z1:"  # prefix of a zlib-compressed, base64-encoded state


def dumps(wf: BpmnWorkflow) -> str:
    """The case state: the serializer's JSON (without the spec), zlib-compressed (a finished
    四议两公开 case is ~15 KB of JSON, ~4 KB compressed). Level 1: a fifth of level 6's time for a
    few hundred bytes more (issue 16)."""
    dct = CASE_SERIALIZER.to_dict(wf)
    dct[VERSION_KEY] = CASE_SERIALIZER.VERSION
    raw = json.dumps(dct, cls=CASE_SERIALIZER._encoder_cls, ensure_ascii=False, separators=(",", ":"))
    return COMPRESSED + base64.b64encode(zlib.compress(raw.encode("utf-8"), 1)).decode("ascii")


def state_json(state: str) -> str:
    """The plain JSON of a stored state (for diagnostics and loading)."""
    if state.startswith(COMPRESSED):
        return zlib.decompress(base64.b64decode(state[len(COMPRESSED):])).decode("utf-8")
    return state


def loads(state: str, spec, subprocess_specs) -> BpmnWorkflow:
    dct = json.loads(state_json(state), cls=CASE_SERIALIZER.json_decoder_cls)
    CASE_SERIALIZER.migrate(dct)
    token = _specs.set((spec, subprocess_specs))
    try:
        wf = CASE_SERIALIZER.from_dict(dct)
    finally:
        _specs.reset(token)
    wf.script_engine = script_engine()
    return wf


def run(wf: BpmnWorkflow, clock) -> None:
    """Run the engine until it waits, with timers following ``clock``."""
    with clockmod.using(clock):
        wf.refresh_timers()
        wf.do_engine_steps()
        wf.refresh_timers()
        wf.do_engine_steps()


def complete(wf: BpmnWorkflow, task_id: str, values: dict, clock) -> None:
    task = wf.get_task_from_id(UUID(task_id))
    task.data.update(values)
    with clockmod.using(clock):
        task.run()
    run(wf, clock)


def send_signal(wf: BpmnWorkflow, name: str, clock) -> None:
    with clockmod.using(clock):
        wf.catch(BpmnEvent(SignalEventDefinition(name)))
    run(wf, clock)


def waiting_for_signal(wf: BpmnWorkflow, name: str) -> bool:
    return any(e.name == name for e in wf.waiting_events()) or any(
        name in _signal_names(t.task_spec) for t in wf.get_tasks(state=TaskState.WAITING))


def _signal_names(task_spec) -> set[str]:
    ev = getattr(task_spec, "event_definition", None)
    if ev is None:
        return set()
    defs = getattr(ev, "event_definitions", None) or [ev]
    return {d.name for d in defs if isinstance(d, SignalEventDefinition)}


@dataclass
class HumanTask:
    id: str
    name: str
    title: str
    role: str
    extra_roles: str
    form: str
    body: str | None
    due_days: int | None
    state: str  # ready | waiting
    due_at: datetime | None = None
    properties: dict | None = None


def task_properties(task_spec) -> dict:
    ext = getattr(task_spec, "extensions", None) or {}
    return dict(ext.get("properties") or {})


def open_tasks(wf: BpmnWorkflow) -> list[HumanTask]:
    """Ready user tasks and waiting timer events, in a stable order."""
    found: list[HumanTask] = [_ready(task) for task in wf.get_tasks(state=TaskState.READY, manual=True)]
    for task in wf.get_tasks(state=TaskState.WAITING):
        due = _timer_due(task)
        if due is None:
            continue
        spec = task.task_spec
        title = spec.bpmn_name or spec.name
        if not spec.bpmn_name:  # an event-based gateway: name it after its timer
            timers = [c for c in spec.outputs if isinstance(getattr(c, "event_definition", None), TimerEventDefinition)]
            title = timers[0].bpmn_name if timers and timers[0].bpmn_name else title
        found.append(HumanTask(
            id=str(task.id), name=spec.bpmn_id or spec.name, title=title, role="", extra_roles="", form="",
            body=None, due_days=None, state="waiting", due_at=due,
        ))
    return found


def _ready(task) -> HumanTask:
    spec = task.task_spec
    props = task_properties(spec)
    due = props.get("due_days")
    return HumanTask(
        id=str(task.id), name=spec.bpmn_id or spec.name, title=spec.bpmn_name or spec.name,
        role=role_for_lane(spec.lane) or "", extra_roles=props.get("extra_roles", ""),
        form=props.get("form", ""), body=props.get("body"), due_days=int(due) if due else None,
        state="ready", properties=props,
    )


def ready_task(wf: BpmnWorkflow, task_id: str) -> HumanTask | None:
    """The ready user task ``task_id`` (as :func:`open_tasks` lists it), else None: found by its id,
    without walking the whole task tree."""
    try:
        task = wf.get_task_from_id(UUID(task_id))
    except (ValueError, TypeError, TaskNotFoundException):
        return None
    if task is None or task.state != TaskState.READY or not task.task_spec.manual:
        return None
    return _ready(task)


def _timer_due(task) -> datetime | None:
    value = task.internal_data.get("event_value")
    if not isinstance(value, str):
        return None
    try:
        return TimerEventDefinition.get_datetime(value)
    except (ValueError, TypeError):
        return None


def is_completed(wf: BpmnWorkflow, task_id: str) -> bool:
    task = wf.get_task_from_id(UUID(task_id))
    return task is not None and task.state == TaskState.COMPLETED


def earliest_due(tasks: list[HumanTask]) -> datetime | None:
    """When the next timer fires: the earliest due date among the waiting tasks of ``open_tasks``."""
    return min((t.due_at for t in tasks if t.state == "waiting"), default=None)


def next_timer(wf: BpmnWorkflow) -> datetime | None:
    return earliest_due(open_tasks(wf))


def end_status(wf: BpmnWorkflow) -> str | None:
    """``completed`` / ``rejected`` / ``withdrawn`` from the end event reached, or None."""
    if not wf.is_completed():
        return None
    for task in wf.get_tasks(state=TaskState.COMPLETED):
        spec = task.task_spec
        if isinstance(spec, EndEvent) and (spec.bpmn_id or "").startswith("end_"):
            for status in ("rejected", "withdrawn", "completed"):
                if spec.bpmn_id.startswith(f"end_{status}"):
                    return status
    return "completed"


def path_taken(wf: BpmnWorkflow) -> list[str]:
    """BPMN ids of the completed flow nodes, in the order they finished (for the case chart)."""
    done = [t for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.bpmn_id]
    done.sort(key=lambda t: t.last_state_change)
    return [t.task_spec.bpmn_id for t in done]

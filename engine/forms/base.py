"""The form mechanism: task forms as marshmallow schemas, with Chinese labels and messages.

``FORMS`` maps a form key (the ``form`` property of a BPMN user task) to its schema. Each
field's ``metadata`` carries what a page needs to draw it: ``label``, ``help``, ``unit``,
``choices`` (value → Chinese label), ``widget``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate
from sqlalchemy import select

from ..domain.clock import LOCAL_TZ
from ..store.models import TaskRow


def field_messages(label: str) -> dict[str, str]:
    return {
        "required": f"请填写{label}",
        "null": f"{label}不能为空",
        "invalid": f"{label}格式不正确",
        "too_large": f"{label}数值过大",
        "not_a_number": f"{label}必须是数字",
        "special": f"{label}必须是有限数字",
    }


def text(label: str, *, required: bool = True, max_len: int = 20000, help: str = "", widget: str = "textarea",
         **kw) -> fields.String:
    validators = [validate.Length(min=1 if required else 0, max=max_len,
                                  error=f"{label}长度须在{1 if required else 0}到{max_len}字之间")]
    return fields.String(required=required, validate=validators, error_messages=field_messages(label),
                         metadata={"label": label, "help": help, "widget": widget}, **kw)


def line(label: str, **kw) -> fields.String:
    return text(label, max_len=200, widget="text", **kw)


class StrictInteger(fields.Integer):
    """An integer and nothing else: ``6.5``, ``"6"`` and ``true`` are refused, never truncated
    or converted (CONTRACT "Secrets, sessions and hostile input"). The HTML forms turn what
    people type into integers before the engine sees it (web/views/common.py ``form_data``)."""

    def _validated(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return super()._validated(value)


class StrictString(fields.String):
    """Text and nothing else: bytes (YAML's ``!!binary``) are refused like any other value that is
    not text, never decoded (the import file and the catalogue, issue 16)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        return value


def count(label: str, *, required: bool = True, help: str = "", unit: str = "人", **kw) -> fields.Integer:
    return StrictInteger(
        required=required,
        validate=validate.Range(min=0, max=10_000_000, error=f"{label}须为0到10000000之间的整数"),
        error_messages={**field_messages(label), "invalid": f"{label}必须是整数"},
        metadata={"label": label, "help": help, "unit": unit, "widget": "number"},
        **kw,
    )


class Money(fields.Decimal):
    """An amount in 元 as people write it (engine/domain/money.py): ``250000``, ``"250,000"``, ``"25万"``,
    ``"2.5万元"``; anything else is refused on the field, never read as another number."""

    def _deserialize(self, value, attr, data, **kwargs):
        from ..domain.money import AmountError, parse_amount

        try:
            return parse_amount(value)
        except AmountError as exc:
            raise self.make_error("invalid") from exc


def money(label: str, *, required: bool = True, help: str = "", **kw) -> fields.Decimal:
    return Money(
        required=required,
        places=2,
        allow_nan=False,
        validate=validate.Range(min=Decimal(0), max=Decimal("1e12"), error=f"{label}须为不小于0的金额"),
        error_messages={**field_messages(label), "invalid": f"{label}写法不对：请填写金额，如 250000、250,000、25万 或 "
                                                      "2.5万元（最多两位小数，不能为负数）"},
        metadata={"label": label, "help": help, "unit": "元", "widget": "money"},
        **kw,
    )


def choice(label: str, choices: dict[str, str], *, required: bool = True, help: str = "", **kw) -> fields.String:
    allowed = "、".join(f"{k}（{v}）" for k, v in choices.items())
    return fields.String(
        required=required,
        validate=validate.OneOf(list(choices), error=f"{label}只能是：{allowed}"),
        error_messages=field_messages(label),
        metadata={"label": label, "help": help, "choices": choices, "widget": "select"},
        **kw,
    )


def day(label: str, *, required: bool = True, help: str = "") -> fields.Date:
    return fields.Date(required=required, error_messages={**field_messages(label), "invalid": f"{label}须为日期，如 2026-03-01"},
                       metadata={"label": label, "help": help, "widget": "date"})


def flag(label: str, *, help: str = "") -> fields.Boolean:
    return fields.Boolean(load_default=False, error_messages=field_messages(label),
                          metadata={"label": label, "help": help, "widget": "checkbox"})


@dataclass
class CheckContext:
    """What a form's hooks may look at beyond its own fields, and what a completion collects.

    ``services`` is the engine (``engine.services.Engine``) lending the capabilities of the layer
    above that a form's hooks need and may not import (layers): the case's task rows as read once
    per transaction (``case_tasks``, ``latest_done``), the
    board (``prepare_posting``, ``finance_posting``, ``post_notice``, ``objection_for``,
    ``current_entry``), the record of a decision (``completions``, ``judged_record``,
    ``record_json``, ``notice_subject``), the books (``case_statement``) and the audit log
    (``audit``)."""

    session: Any
    village: Any  # engine.store.models.Village (counts, settings)
    case: Any  # engine.store.models.Case
    meta: dict  # the catalogue entry of the item (thresholds, notice floor, ...)
    now: datetime
    actor: Any  # engine.domain.authz.Actor (None when a task is only read)
    task: Any  # engine.store.models.TaskRow being completed (or read)
    properties: dict = field(default_factory=dict)  # the BPMN task's spiffworkflow properties
    services: Any = None  # the engine's capabilities for a form's effects (above)
    rounds: int = 0  # how many times this step was completed before in the case
    extra: dict = field(default_factory=dict)  # what the completion adds to the step's data (check's, effects')
    summary: str = ""  # what was decided, for the case history (``effects`` says it)
    on_record: list[Callable[[], None]] = field(default_factory=list)  # run once the completion is audited


def local_today(ctx: CheckContext) -> date:
    """Today in Beijing, by the engine's clock: the day people write on their records."""
    return ctx.now.astimezone(LOCAL_TZ).date()


def completed_rows(ctx: CheckContext, *, newest_first: bool, case_id: int | None = None, form: str | None = None,
                   name: str | None = None) -> list[TaskRow]:
    """The completed task rows of a case (``case_id``; by default the case being completed), ordered by
    completion then creation, newest or oldest first; only those of ``form`` or task ``name`` if given."""
    stmt = select(TaskRow).where(TaskRow.case_id == (ctx.case.id if case_id is None else case_id),
                                 TaskRow.state == "completed")
    if form:
        stmt = stmt.where(TaskRow.form == form)
    if name:
        stmt = stmt.where(TaskRow.name == name)
    if newest_first:
        return list(ctx.session.scalars(stmt.order_by(TaskRow.completed_at.desc(), TaskRow.created_at.desc())))
    return list(ctx.session.scalars(stmt.order_by(TaskRow.completed_at, TaskRow.created_at)))


def latest_row(ctx: CheckContext, *, name: str | None = None, form: str | None = None) -> TaskRow | None:
    """The newest completed task row of the case (of ``form`` / task ``name`` if given)."""
    rows = completed_rows(ctx, newest_first=True, form=form, name=name)
    return rows[0] if rows else None


def latest_data(ctx: CheckContext, form: str) -> dict:
    """A copy of what the newest completed ``form`` of the case recorded ({} if none)."""
    row = latest_row(ctx, form=form)
    return dict(row.data or {}) if row is not None else {}


def first_round(ctx: CheckContext) -> bool:
    """Is this the first time the current task is completed in the case?"""
    return not completed_rows(ctx, newest_first=False, name=ctx.task.name)


EARLIEST_DAY = date(1949, 10, 1)  # no village record of this engine's kinds predates the People's Republic
OLDEST_AGE = 130  # years: the floor for a birth date


def check_dates(values: dict, ctx: CheckContext, *names: str, since_case: bool = False) -> None:
    """The sanity every date a person types gets (issue 15), every bad field reported at once: not
    after today; not before 1949-10-01 (a birth date: not more than 130 years ago); with
    ``since_case``, not before the day the case began (an act of this case cannot predate it; records
    that may predate the case, such as a party applicant's history, are checked without it)."""
    today = local_today(ctx)
    began = ctx.case.created_at.astimezone(LOCAL_TZ).date() if since_case and ctx.case is not None else None
    errors: dict[str, list[str]] = {}
    for name in names:
        value = values.get(name)
        if not isinstance(value, date):
            continue
        floor = date(today.year - OLDEST_AGE, 1, 1) if name == "birth_date" else EARLIEST_DAY
        if value > today:
            errors[name] = [f"日期不能晚于今天（{today.isoformat()}）"]
        elif value < floor:
            errors[name] = [f"日期{value.isoformat()}不合常理，请核对年份"]
        elif began is not None and value < began:
            errors[name] = [f"日期不能早于本事项发起的日期（{began.isoformat()}）"]
    if errors:
        from ..domain.errors import Invalid

        raise Invalid("日期有误：" + "；".join(m[0] for m in errors.values()), errors)


class FormSchema(Schema):
    """Base of every task form: unknown fields are refused, messages are Chinese.

    The engine completes every task the same way (``engine.services.Engine.complete_loaded``):
    ``load`` (the fields), ``check``, ``effects``, the workflow moves on, ``book``, the audit event,
    ``ctx.on_record``, ``after``. A form overrides the hooks it needs; the defaults do nothing:

    - ``check(values, ctx) -> dict | None``: rules that need the database or the village record (a
      linked resolution, thresholds, avoidance). It raises ``engine.domain.errors.Invalid`` with
      ``fields`` to refuse, and may return extra task data for the gateways; the key
      ``exclude_users`` (usernames) keeps those people off the case (回避).
    - ``effects(values, ctx)``: what the step does before the workflow moves on, with the engine's
      capabilities (``ctx.services``): rules that need them, more task data (``ctx.extra``), what
      was decided (``ctx.summary``), and what is done once the completion is on the record
      (``ctx.on_record``: the board's postings).
    - ``summary_of(values, extra) -> str | None``: says what was decided, for the case history
      (None: ``ctx.summary``).
    - ``book(values, ctx) -> dict``: entries the step makes in the village's books or registers, in
      the step's transaction, once the task row is completed; their ids go into the audit event.
    - ``after(values, ctx)``: runs once the engine has moved on (e.g. to set the next steps' due dates).
    - ``task_fields(ctx) -> dict``: more keys of the task's answer when its form is shown (a draft,
      the statement, the objection to answer); ``subject(ctx) -> dict | None``: the record this
      step decides about, so nobody approves blind.

    ``judges`` marks a form that judges another step's record (a review, an objection reply, an
    inspection): it is never itself the record judged. ``holds_on`` (a ``decision`` value) puts the case on hold when chosen; ``releases_hold`` marks a
    form that may be completed while the case is held and lifts the hold (``engine/records/holds.py``).
    """

    title_zh = "表单"
    judges = False  # a step that judges another's record (review, objection reply, inspection), not a stage

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "不认识的字段", "type": "表单数据必须是对象（JSON object）"}

    def check(self, values: dict, ctx: CheckContext) -> dict | None:
        return None

    def effects(self, values: dict, ctx: CheckContext) -> None:
        return None

    def summary_of(self, values: dict, extra: dict) -> str | None:
        return None

    def book(self, values: dict, ctx: CheckContext) -> dict:
        return {}

    def after(self, values: dict, ctx: CheckContext) -> None:
        return None

    def task_fields(self, ctx: CheckContext) -> dict:
        return {}

    def subject(self, ctx: CheckContext) -> dict | None:
        return None


HOOKS = ("check", "effects", "summary_of", "book", "after", "task_fields", "subject")


FORMS: dict[str, type[FormSchema]] = {}  # filled by the family modules, in the order
# engine/forms/__init__.py imports them (docs/forms.md lists them in that order)


def register(key: str, schema: type[FormSchema]) -> type[FormSchema]:
    shadowed = set(HOOKS) & set(schema._declared_fields)
    if shadowed:
        raise RuntimeError(f"form {key!r}: a field named like a hook ({', '.join(sorted(shadowed))})")
    FORMS[key] = schema
    _INSTANCES.pop(key, None)
    return schema


_INSTANCES: dict[str, FormSchema] = {}


def schema(form: str) -> FormSchema:
    """The instance of form ``form``'s schema, built once (issue 16: building one deep-copies every
    declared field, and a form keeps no state between calls: what a call needs comes in ``ctx``)."""
    found = _INSTANCES.get(form)
    if found is None or type(found) is not FORMS[form]:
        found = _INSTANCES[form] = FORMS[form]()
    return found


def load(form: str, data: Any) -> dict:
    """Validate ``data`` against form ``form``; raise ``ValidationError`` with Chinese messages."""
    if form not in FORMS:
        raise KeyError(form)
    if not isinstance(data, dict):
        raise ValidationError({"data": ["表单数据必须是对象（JSON object）"]})
    return schema(form).load(data)


def to_task_data(values: dict) -> dict:
    """Make validated values JSON-safe for the workflow state (dates as ISO, money as text)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, date):
            out[key] = value.isoformat()
        elif isinstance(value, Decimal):
            out[key] = str(value.quantize(Decimal("0.01")))
        else:
            out[key] = value
    return out


def describe(form: str) -> list[dict]:
    """The fields of a form as plain data (for the API ``fields`` and the HTML form)."""
    described = []
    for name, fld in schema(form).fields.items():
        meta = dict(fld.metadata)
        kind = {
            StrictInteger: "integer", fields.Integer: "integer", Money: "money", fields.Decimal: "money",
            fields.Date: "date",
            fields.Boolean: "boolean",
        }.get(type(fld), "string")
        item = {
            "name": name,
            "label": meta.get("label", name),
            "type": kind,
            "required": bool(fld.required),
            "widget": meta.get("widget", "text"),
        }
        for extra in ("help", "unit"):
            if meta.get(extra):
                item[extra] = meta[extra]
        if meta.get("choices"):
            item["choices"] = [{"value": k, "label": v} for k, v in meta["choices"].items()]
        if fld.load_default is not None and not callable(fld.load_default) and fld.load_default is not fields.missing_:
            item["default"] = fld.load_default
        described.append(item)
    return described


OTHER_LABELS = {"held_on": "会议日期", "attended": "实到人数", "approve": "赞成票数", "oppose": "反对票数",
                "abstain": "弃权票数", "attended_households": "到会户代表数", "name": "姓名", "contact": "联系方式",
                "text": "异议内容", "data": "表单数据", "_schema": "", "title": "事项标题"}


def first_message(fields: dict, form: str | dict | None = None) -> str:
    """Every bad field's first message, named by its Chinese label (never by its key). ``form``: the
    form whose labels name the fields, or the labels themselves."""
    labels = dict(OTHER_LABELS)
    if isinstance(form, dict):
        labels.update(form)
    elif form in FORMS:
        labels.update({f["name"]: f["label"] for f in describe(form)})
    parts = []
    for name, messages in fields.items():
        if isinstance(messages, dict):
            message = first_message(messages)
        elif isinstance(messages, list) and messages:
            message = str(messages[0])
        else:
            message = str(messages)
        label = labels.get(name, f"“{name}”")
        parts.append(f"{label}：{message}" if label else message)
    return "；".join(parts) or "数据有误"

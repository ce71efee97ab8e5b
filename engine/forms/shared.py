"""What the forms of the public-power items A2–A10 (村级公共权力事项) share: small helpers, the
linked 四议两公开 resolution and the base ``ItemForm``.

Each form is a :class:`engine.forms.FormSchema`; its ``check`` (run by the engine before the
task completes, see ``engine.services.Engine.complete_loaded``) enforces the rules that need the
case, the village or the catalogue entry, refuses with ``Invalid`` naming the field, and returns
the data the gateways test. Every form here records ``rules_version`` (D10, R61).

A 四议两公开 resolution is never repeated inside an item: a form links a ``major-decision`` case
of the same village whose resolution was passed and posted (R2, R3, R35, R53, R54); see
:func:`linked_resolution`. Thresholds come from the catalogue entry, overridable per village
(``engine.domain.settings``). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from ..domain import rules
from ..domain import settings as item_settings
from ..domain.clock import LOCAL_TZ
from ..domain.errors import Invalid
from ..domain.matters import MATTERS, STATUTORY
from ..store.models import BoardEntry, Case, Objection, TaskRow
from .base import (
    CheckContext,
    FormSchema,
    StrictInteger,
    completed_rows,
    first_round,
    local_today,
)

RESOLUTION_BODIES = ("representatives", "villager_assembly")
MAJOR_DECISION = "major-decision"
MEMBER_CONFIRMATION = "member-confirmation"

ENTITIES = {"committee": "村民委员会", "cooperative": "股份经济合作社"}  # R41: two accounting entities
WITHDRAW_HELP = "修改时勾选，事项即以“撤回”办结"


# ---------------------------------------------------------------------------- small helpers


def integer(label: str, *, minimum: int = 0, maximum: int = 10_000_000, required: bool = True, unit: str = "",
            help: str = "", **kw) -> fields.Integer:
    return StrictInteger(
        required=required,
        validate=validate.Range(min=minimum, max=maximum, error=f"{label}须为{minimum}到{maximum}之间的整数"),
        error_messages={"required": f"请填写{label}", "null": f"{label}不能为空", "invalid": f"{label}必须是整数"},
        metadata={"label": label, "help": help, "unit": unit, "widget": "number"},
        **kw,
    )


def case_ref(label: str, help: str) -> fields.Integer:
    """An optional case number (the form's check says when it is required)."""
    return StrictInteger(
        required=False, allow_none=True, load_default=None,
        validate=validate.Range(min=1, max=2**31 - 1, error=f"{label}须为正整数"),
        error_messages={"null": f"{label}不能为空", "invalid": f"{label}必须是事项编号（整数）"},
        metadata={"label": label, "help": help, "widget": "number"},
    )


def start_of_day_utc(d: date) -> str:
    """Local midnight of ``d`` as the engine writes timestamps (aware ISO, UTC)."""
    return datetime.combine(d, time(0, 0), LOCAL_TZ).astimezone(UTC).isoformat()


def refuse(field: str, message: str) -> Invalid:
    return Invalid(message, {field: [message]})


def yuan(value: Decimal | str | int) -> str:
    return item_settings.fmt_amount(value)


def latest(ctx: CheckContext, key: str, case_id: int | None = None) -> Any:
    """The newest value of ``key`` in the completed task data of the case (None if never set)."""
    for row in completed_rows(ctx, newest_first=True, case_id=case_id):
        if row.data and row.data.get(key) is not None:
            return row.data[key]
    return None


def iso_day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def threshold(ctx: CheckContext, name: str) -> Decimal | None:
    """A threshold of the current item for this village, or None if the item has none."""
    try:
        return item_settings.threshold(ctx.meta, ctx.village, ctx.case.definition.key, name)
    except KeyError:
        return None


_SPLIT = re.compile(r"\s*[,，、\t]\s*")


def parse_lines(value: str | None, field: str, columns: int, what: str, example: str) -> list[list[str]]:
    """One record per non-empty line, ``columns`` comma-separated columns each."""
    out = []
    for number, raw in enumerate((value or "").splitlines(), start=1):
        raw = raw.strip()
        if not raw:
            continue
        parts = [p for p in _SPLIT.split(raw) if p != ""]
        if len(parts) != columns:
            raise refuse(field, f"第{number}行格式不对：每行一{what}，写成“{example}”")
        out.append(parts)
    return out


def line_amount(raw: str, field: str, number: int) -> Decimal:
    try:
        value = Decimal(raw.replace("元", "").strip())
    except ArithmeticError as exc:
        raise refuse(field, f"第{number}行的金额“{raw}”不是数字") from exc
    if not value.is_finite() or value <= 0:
        raise refuse(field, f"第{number}行的金额须大于0")
    return value


# ---------------------------------------------------------------------------- the linked resolution


def _resolution_meeting(ctx: CheckContext, case_id: int) -> TaskRow | None:
    rows = ctx.session.scalars(select(TaskRow).where(
        TaskRow.case_id == case_id, TaskRow.state == "completed", TaskRow.body.in_(RESOLUTION_BODIES))
        .order_by(TaskRow.completed_at.desc(), TaskRow.created_at.desc()))
    return next((r for r in rows if (r.data or {}).get("outcome") == "passed"), None)


def _proposal(ctx: CheckContext, case_id: int) -> dict:
    row = ctx.session.scalar(select(TaskRow).where(
        TaskRow.case_id == case_id, TaskRow.state == "completed", TaskRow.form == "proposal")
        .order_by(TaskRow.completed_at.desc(), TaskRow.created_at.desc()).limit(1))
    return dict(row.data or {}) if row is not None else {}


def linked_resolution(ctx: CheckContext, values: dict, field: str = "resolution_case", *, required: bool = True,
                      why: str = "", matters: list[str] | None = None) -> dict:
    """Check the ``major-decision`` case linked in ``values[field]``; return what the record keeps.

    The case must be of this village, not rejected, withdrawn or on hold, and either completed
    or with its resolution posted on the board (a ``resolution`` entry whose objections were not
    upheld). Statutory matters (Art. 24) need a 村民会议 decision unless the village has the
    assembly's authorisation on file (R2); from 2026-01-01 the resolution needs the Party
    organisation's prior study (R4), which the linked case's 村党组织提议 step records (its 支委会
    study date in ``party_study_on`` when given).
    """
    case_id = values.get(field)
    if case_id is None:
        if not required:
            return {}
        raise refuse(field, f"{why}须关联本村已形成决议的“村级重大事项决策（四议两公开）”事项编号")
    linked = ctx.session.get(Case, case_id)
    if linked is None:
        raise refuse(field, f"没有编号为{case_id}的事项")
    if linked.definition.key != MAJOR_DECISION:
        raise refuse(field, f"事项{case_id}（{linked.definition.name}）不是“村级重大事项决策（四议两公开）”事项，不能作为决议依据")
    if linked.village_id != ctx.village.id:
        raise refuse(field, f"事项{case_id}是{linked.village.name}的决议，不是本村的决议")
    if linked.status == "rejected":
        raise refuse(field, f"事项{case_id}的决议未获通过，不能作为依据")
    if linked.status == "withdrawn":
        raise refuse(field, f"事项{case_id}已撤回，不能作为依据")
    if linked.status == "on_hold":
        raise refuse(field, f"事项{case_id}已被暂停办理（{linked.hold_reason or '监督暂停'}），暂不能作为依据")
    if linked.status != "completed":
        entry = ctx.session.scalar(select(BoardEntry).where(
            BoardEntry.case_id == linked.id, BoardEntry.kind == "resolution")
            .order_by(BoardEntry.seq.desc()).limit(1))
        if entry is None:
            raise refuse(field, f"事项{case_id}尚未形成并公开决议，不能作为依据")
        upheld = ctx.session.scalar(select(Objection.id).where(
            Objection.entry_id == entry.id, Objection.decision == "uphold").limit(1))
        if upheld is not None:
            raise refuse(field, f"事项{case_id}的决议公示异议成立，须修改后重新决议，暂不能作为依据")
    meeting = _resolution_meeting(ctx, linked.id)
    if meeting is None:
        raise refuse(field, f"事项{case_id}没有通过的村民（代表）会议决议")
    proposal = _proposal(ctx, linked.id)
    matter = proposal.get("matter")
    allowed = matters if matters is not None else ctx.meta.get("resolution_matters")
    if allowed and matter not in allowed:
        wanted = "或".join(f"“{MATTERS.get(m, m)}”" for m in allowed)
        got = f"“{MATTERS.get(matter, matter)}”" if matter else "未注明事项类别"
        raise refuse(field, f"事项{case_id}的决议{got}，本事项须依据{wanted}的决议")
    if matter in STATUTORY and meeting.body == "representatives" and not item_settings.authorised_representatives(ctx.village):
        raise refuse(field, f"“{MATTERS[matter]}”是《村民委员会组织法》第二十四条规定的事项，须由村民会议决定；"
                            f"本村未登记村民会议对村民代表会议的授权，事项{case_id}由村民代表会议决议，不能作为依据")
    data = meeting.data or {}
    held_on = iso_day(data.get("held_on")) or local_today(ctx)
    rule_set = rules.rule_set_on(held_on)
    if rule_set.party_study_required:  # R4: the 村党组织's own study (its 提议), not a 党员大会 vote
        studied = ctx.session.scalar(select(TaskRow).where(
            TaskRow.case_id == linked.id, TaskRow.state == "completed", TaskRow.form == "proposal",
            TaskRow.role == "party_secretary").limit(1))
        if studied is None:
            raise refuse(field, f"2026年1月1日起，提交村民（代表）会议决定的事项须经村党组织先行研究；"
                                f"事项{case_id}没有村党组织研究提议的记录")
    return {
        "resolution_body": meeting.body,
        "resolution_held_on": held_on.isoformat(),
        "resolution_rules_version": data.get("rules_version") or rule_set.version,
        "resolution_approve": data.get("approve"),
        "resolution_should_attend": data.get("should_attend"),
        "resolution_matter": matter,
        "resolution_amount": proposal.get("amount"),
        "resolution_party_study_on": proposal.get("party_study_on"),
    }


# ---------------------------------------------------------------------------- base


class ItemForm(FormSchema):
    """A form of a power-list item: ``rules`` holds its checks; ``check`` adds the rule-set version."""

    date_field: str | None = None  # the field whose date picks the rule set (default: today)
    links_resolution = False  # the form checks a linked 四议两公开 resolution (compliance: deliberation)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        out = dict(self.rules(values, ctx) or {})
        day_value = values.get(self.date_field) if self.date_field else None
        out.setdefault("rules_version", rules.rule_set_on(day_value or local_today(ctx)).version)
        return out

    def rules(self, values: dict, ctx: CheckContext) -> dict | None:
        return None


def withdraw_only_on_revision(values: dict, ctx: CheckContext) -> None:
    if values.get("withdraw") and first_round(ctx):
        raise refuse("withdraw", "新发起的事项不能直接撤回")


def opinion_unless(decision_ok: str):
    @validates_schema
    def _check(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") not in (None, decision_ok) and not (data.get("opinion") or "").strip():
            raise ValidationError({"opinion": ["不同意或退回时必须写明理由"]})
    return _check

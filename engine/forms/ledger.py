"""Forms of the books' own process ``finance-disclosure`` (issue 13; engine/records/ledger_*.py)."""

from __future__ import annotations

from typing import Any

from marshmallow import ValidationError, validates_schema
from sqlalchemy import select

from ..domain.errors import Invalid
from ..store.models import TaskRow
from .base import CheckContext, FormSchema, choice, line, register, text
from .decisions import finance_statement

AGENCY_DECISIONS = {"approve": "审核通过，准予支付", "refuse": "不予受理（退回村级补正）"}


class StatementReplyForm(FormSchema):
    """The 报账员 answers the supervisors' questions on the statement (民主理财). Corrections of
    the books are made as reversing and new entries (R62); the engine then generates the
    statement again from the ledger for the next review."""

    title_zh = "答复质询"
    reply = text("答复", max_len=5000, help="逐条答复监委会（民主理财小组）的质询；账目有误的，先在账目中冲销更正")

    def effects(self, values: dict, ctx: CheckContext) -> None:
        ctx.summary = f"答复质询：{values['reply']}"

    def task_fields(self, ctx: CheckContext) -> dict:
        return finance_statement(ctx)


class AgencyReviewForm(FormSchema):
    """代理中心审核入账 (R37; DOMAIN §3.3.5 step 5, §4.2 村账乡代管): before a power-list item pays,
    the township agency checks the vouchers and the record. It refuses (不予受理), with its
    reason, a payment whose required resolution, approval chain or voucher is missing; the
    engine also refuses to approve one whose record shows such a gap. A refused payment goes
    back to the village to be put right and comes to the agency again."""

    title_zh = "代理中心审核入账"
    decision = choice("审核意见", AGENCY_DECISIONS)
    voucher_no = line("记账凭证号", required=False, help="审核通过时填写代理中心的记账凭证号")
    reason = text("不予受理的理由", required=False, max_len=2000,
                  help="不予受理时必须写明缺少什么（决议、审批签字、原始凭证等）")

    @validates_schema
    def _needs(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") == "refuse" and not (data.get("reason") or "").strip():
            raise ValidationError({"reason": ["不予受理时必须写明理由"]})
        if data.get("decision") == "approve" and not (data.get("voucher_no") or "").strip():
            raise ValidationError({"voucher_no": ["审核通过时请填写记账凭证号"]})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        if values["decision"] == "approve":
            gap = record_gap(ctx)
            if gap:
                raise Invalid(f"不能审核通过：{gap}，应不予受理", {"decision": [f"{gap}，应不予受理（R37）"]})
        return {"agency_decision": values["decision"]}

    def summary_of(self, values: dict, extra: dict) -> str:
        if values["decision"] == "approve":
            return f"代理中心审核入账，准予支付（记账凭证号{values.get('voucher_no', '')}）"
        return f"代理中心不予受理：{values.get('reason', '')}"


def record_gap(ctx: CheckContext) -> str:
    """What the case's record lacks for a payment (R34, R37), or ``""``: a resolution the amount
    requires but no linked case, an informal voucher (白条), an approval that was not an approval."""
    rows = list(ctx.session.scalars(select(TaskRow).where(
        TaskRow.case_id == ctx.case.id, TaskRow.state == "completed").order_by(TaskRow.completed_at)))
    data: dict = {}
    for row in rows:  # the newest record of each field counts
        data.update(row.data or {})
    if data.get("needs_resolution") and not data.get("resolution_case"):
        return "金额须经村民（代表）会议决议，但没有关联决议"
    if data.get("voucher_type") == "iou":
        return "凭证是白条，不是合法原始凭证"
    newest: dict[str, TaskRow] = {}
    for row in rows:
        if row.form in ("cosign", "approval"):  # the approval chain (联签, 审批)
            newest[row.name] = row
    for row in newest.values():
        if (row.data or {}).get("decision") not in ("approve", None):
            return f"“{row.title}”的意见不是同意"
    return ""


LEDGER_FORMS: dict[str, type[FormSchema]] = {"statement_reply": StatementReplyForm, "agency_review": AgencyReviewForm}

for _key, _schema in LEDGER_FORMS.items():
    register(_key, _schema)

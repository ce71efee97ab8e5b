"""Forms of the public-power items A2–A10 (村级公共权力事项), with their checks.

Each form is a :class:`engine.forms.FormSchema`; its ``check`` (run by the engine before the
task completes, see ``engine.service.Engine._complete_loaded``) enforces the rules that need the
case, the village or the catalogue entry, refuses with ``Invalid`` naming the field, and returns
the data the gateways test. Every form here records ``rules_version`` (D10, R61).

A 四议两公开 resolution is never repeated inside an item: a form links a ``major-decision`` case
of the same village whose resolution was passed and posted (R2, R3, R35, R53, R54); see
:func:`linked_resolution`. Thresholds come from the catalogue entry, overridable per village
(``engine.settings``). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from . import rules
from . import settings as item_settings
from .clock import LOCAL_TZ
from .errors import Forbidden, Invalid
from .forms import (
    CheckContext,
    FormSchema,
    StrictInteger,
    check_dates,
    choice,
    day,
    flag,
    line,
    local_today,
    money,
    register,
    text,
)
from .matters import MATTERS, STATUTORY
from .models import BoardEntry, Case, Objection, ProcessDefinition, TaskRow, User
from .money import stored_amount

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


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (the last day of a shorter month)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for dd in range(d.day, 27, -1):
        try:
            return date(year, month, dd)
        except ValueError:
            continue
    return date(year, month, min(d.day, 28))


def add_years(d: date, years: int) -> date:
    return add_months(d, 12 * years)


def start_of_day_utc(d: date) -> str:
    """Local midnight of ``d`` as the engine writes timestamps (aware ISO, UTC)."""
    return datetime.combine(d, time(0, 0), LOCAL_TZ).astimezone(UTC).isoformat()


def refuse(field: str, message: str) -> Invalid:
    return Invalid(message, {field: [message]})


def not_future(values: dict, ctx: CheckContext, *names: str) -> None:
    """Dates of records that may predate the case (a party applicant's history): ``check_dates``."""
    check_dates(values, ctx, *names)


def yuan(value: Decimal | str | int) -> str:
    return item_settings.fmt_amount(value)


def completed_rows(ctx: CheckContext, case_id: int | None = None) -> list[TaskRow]:
    """Completed task rows of a case, newest first."""
    cid = ctx.case.id if case_id is None else case_id
    return list(ctx.session.scalars(
        select(TaskRow).where(TaskRow.case_id == cid, TaskRow.state == "completed")
        .order_by(TaskRow.completed_at.desc(), TaskRow.created_at.desc())))


def latest(ctx: CheckContext, key: str, case_id: int | None = None) -> Any:
    """The newest value of ``key`` in the completed task data of the case (None if never set)."""
    for row in completed_rows(ctx, case_id):
        if row.data and row.data.get(key) is not None:
            return row.data[key]
    return None


def latest_row(ctx: CheckContext, *, name: str | None = None, form: str | None = None) -> TaskRow | None:
    for row in completed_rows(ctx):
        if (name is None or row.name == name) and (form is None or row.form == form):
            return row
    return None


def first_round(ctx: CheckContext) -> bool:
    """Is this the first time the current task is completed in the case?"""
    return not any(row.name == ctx.task.name for row in completed_rows(ctx))


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


def _withdraw_only_on_revision(values: dict, ctx: CheckContext) -> None:
    if values.get("withdraw") and first_round(ctx):
        raise refuse("withdraw", "新发起的事项不能直接撤回")


def _opinion_unless(decision_ok: str):
    @validates_schema
    def _check(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") not in (None, decision_ok) and not (data.get("opinion") or "").strip():
            raise ValidationError({"opinion": ["不同意或退回时必须写明理由"]})
    return _check


# ---------------------------------------------------------------------------- A2 村级工程项目建设与招投标

CONTRACT_TYPES = {"construction": "施工", "goods": "重要设备、材料采购", "services": "勘察、设计、监理等服务"}
FUNDING = {"collective": "村集体自筹", "state": "财政资金", "mixed": "财政资金与自筹"}
METHODS = {"direct": "直接发包", "selection": "比选", "tender": "公开招标"}
METHOD_RANK = {"direct": 0, "selection": 1, "tender": 2}


class ProjectProposalForm(ItemForm):
    title_zh = "项目立项"
    links_resolution = True
    title = line("项目名称")
    summary = text("建设内容", help="建设地点、规模、工期和理由")
    budget = money("预算金额")
    contract_type = choice("发包类别", CONTRACT_TYPES)
    funding = choice("资金来源", FUNDING)
    resolution_case = case_ref("关联决议事项编号", "预算达到须经村民（代表）会议决议的金额时必填：本村“村级重大事项决策”事项的编号")
    withdraw = flag("撤回项目", help=WITHDRAW_HELP)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        _withdraw_only_on_revision(values, ctx)
        if values.get("withdraw"):
            return {"needs_resolution": False}
        budget = values["budget"]
        if budget <= 0:
            raise refuse("budget", "预算金额须大于0")
        floor = threshold(ctx, "resolution_from")
        needs = floor is not None and budget >= floor
        why = f"预算{yuan(budget)}元，达到{yuan(floor)}元以上的工程项目" if needs else ""
        out = linked_resolution(ctx, values, required=needs, why=why)
        amount = stored_amount(out.get("resolution_amount"))
        if amount is not None and budget > amount:
            raise refuse("budget", f"预算{yuan(budget)}元超过决议金额{yuan(amount)}元，须重新决议")
        return {"needs_resolution": needs, "budget": str(budget), **out}


def required_method(ctx: CheckContext, budget: Decimal, contract_type: str) -> tuple[str, str]:
    """The least strict procurement path allowed for this budget, with the rule that says so."""
    legal = item_settings.THRESHOLDS[f"construction-project.tender_from_{contract_type}"].legal
    tender_from = threshold(ctx, f"tender_from_{contract_type}")
    if legal is not None and budget >= legal:
        return "tender", item_settings.THRESHOLDS[f"construction-project.tender_from_{contract_type}"].basis
    if tender_from is not None and budget >= tender_from:
        return "tender", f"{CONTRACT_TYPES[contract_type]}预算{yuan(tender_from)}元以上须公开招标"
    selection_from = threshold(ctx, "selection_from")
    if selection_from is not None and budget >= selection_from:
        return "selection", f"预算{yuan(selection_from)}元以上须比选（或公开招标）"
    return "direct", ""


class ProcurementPlanForm(ItemForm):
    title_zh = "发包方案"
    method = choice("发包方式", METHODS, help="按预算金额：直接发包、比选或公开招标；可以从严，不能从宽")
    reason = text("方案说明", help="资格条件、评审办法、时间安排")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        budget = stored_amount(latest(ctx, "budget")) or Decimal(0)
        contract_type = latest(ctx, "contract_type") or "construction"
        needed, basis = required_method(ctx, budget, contract_type)
        if METHOD_RANK[values["method"]] < METHOD_RANK[needed]:
            raise refuse("method", f"预算{yuan(budget)}元，须采用{METHODS[needed]}（{basis}）")
        return {"required_method": needed}


BID_OUTCOMES = {"awarded": "确定中标（承包）人", "failed": "流标，重新确定发包方式"}


class TenderRecordForm(ItemForm):
    title_zh = "招标（比选、发包）记录"
    date_field = "opened_on"
    opened_on = day("开标（比选、发包）日期")
    bid_outcome = choice("结果", BID_OUTCOMES)
    bidders = integer("投标（报价）单位数", unit="家")
    winner = line("中标（承包）人", required=False)
    price = money("中标（承包）价", required=False)
    platform = line("交易平台及公告编号", required=False, help="公开招标必填：乡镇或县公共资源交易中心及公告编号")
    evaluation = text("评标（比选）情况", help="评审人员、评审办法、各家报价和得分")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "opened_on", since_case=True)
        method = ctx.properties.get("method", "direct")
        if values["bid_outcome"] == "failed":
            return {}
        least = 1 if method == "direct" else 3
        if values["bidders"] < least:
            raise refuse("bidders", f"{METHODS.get(method, method)}须有{least}家以上投标（报价）单位；不足时应按流标处理")
        if not (values.get("winner") or "").strip():
            raise refuse("winner", "请填写中标（承包）人")
        if values.get("price") is None:
            raise refuse("price", "请填写中标（承包）价")
        if method == "tender" and not (values.get("platform") or "").strip():
            raise refuse("platform", "公开招标须在公共资源交易中心进行，请填写交易平台及公告编号")
        budget = stored_amount(latest(ctx, "budget"))
        if budget is not None and values["price"] > budget:
            raise refuse("price", f"中标价{yuan(values['price'])}元超过预算{yuan(budget)}元，须重新决策")
        return {"award_price": str(values["price"]), "awarded_to": values["winner"].strip()}


class ContractForm(ItemForm):
    title_zh = "合同签订与备案"
    date_field = "signed_on"
    signed_on = day("签订日期")
    counterparty = line("合同相对方")
    contract_no = line("合同编号")
    price = money("合同金额")
    term = line("合同期限", required=False)
    filed_with = line("备案机构", help="农村集体“三资”管理平台或委托代理服务中心")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "signed_on", since_case=True)
        winner = latest(ctx, "awarded_to")
        if winner and values["counterparty"].strip() != winner:
            raise refuse("counterparty", f"合同相对方须为中标（成交）人“{winner}”")
        cap_key, floor_key = ctx.properties.get("cap"), ctx.properties.get("floor")
        cap = stored_amount(latest(ctx, cap_key)) if cap_key else None
        floor = stored_amount(latest(ctx, floor_key)) if floor_key else None
        if cap is not None and values["price"] > cap:
            raise refuse("price", f"合同金额不得超过中标价{yuan(cap)}元")
        if floor is not None and values["price"] < floor:
            raise refuse("price", f"合同金额不得低于成交价{yuan(floor)}元")
        return {"contract_price": str(values["price"])}


ACCEPTANCE_RESULTS = {"pass": "验收合格", "rectify": "不合格，限期整改"}


class AcceptanceForm(ItemForm):
    title_zh = "验收记录"
    date_field = "accepted_on"
    accepted_on = day("验收日期")
    acceptance_result = choice("验收结论", ACCEPTANCE_RESULTS)
    amount = money("结算金额")
    panel = text("验收人员", help="每行一人：姓名，身份（如：两委成员、党员代表、村民代表、监委会成员）")
    supervisor_member = line("参加验收的监委会成员", required=False)
    audit_report = text("审计报告", required=False, help="达到须审计的金额时必填：审计机构、报告编号和结论")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "accepted_on", since_case=True)
        panel = parse_lines(values["panel"], "panel", 2, "人", "张三，村民代表")
        names = [p[0] for p in panel]
        if len(set(names)) != len(names):
            raise refuse("panel", "验收人员有重复")
        amount = values["amount"]
        least = 2
        panel_from = threshold(ctx, "acceptance_panel_from")
        panel_min = threshold(ctx, "acceptance_panel_min")
        if panel_min is not None and (panel_from is None or amount >= panel_from):
            least = max(least, int(panel_min))
        if len(panel) < least:
            reason = f"结算金额{yuan(amount)}元，" if panel_from is not None else ""
            raise refuse("panel", f"{reason}验收人员不得少于{least}人，现有{len(panel)}人")
        if ctx.properties.get("supervisor_required") == "true" and not (values.get("supervisor_member") or "").strip():
            raise refuse("supervisor_member", "验收须有一名村务监督委员会成员参加")
        audit_from = threshold(ctx, "audit_from")
        if audit_from is not None and amount >= audit_from and values["acceptance_result"] == "pass" \
                and not (values.get("audit_report") or "").strip():
            raise refuse("audit_report", f"结算金额{yuan(audit_from)}元以上的工程须经审计，请填写审计报告")
        return {"settled_amount": str(amount), "panel_size": len(panel)}


PAY_METHODS = {"transfer": "银行转账", "card": "“一卡通”打卡发放", "cash": "现金"}


class PaymentForm(ItemForm):
    title_zh = "支付凭证"
    date_field = "paid_on"
    paid_on = day("支付日期")
    amount = money("支付金额")
    payee = line("收款人")
    method = choice("支付方式", PAY_METHODS, help="默认非现金结算")
    reference = line("银行流水号或凭证号")
    entity = choice("核算主体", ENTITIES)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "paid_on", since_case=True)
        amount = values["amount"]
        if amount <= 0:
            raise refuse("amount", "支付金额须大于0")
        cap_key = ctx.properties.get("cap")
        cap = stored_amount(latest(ctx, cap_key)) if cap_key else None
        if cap is not None and amount > cap:
            raise refuse("amount", f"支付金额{yuan(amount)}元超过审批（合同）金额{yuan(cap)}元")
        if values["method"] == "cash":
            limit = threshold(ctx, "cash_limit") or Decimal(0)
            if amount > limit:
                raise refuse("method", f"超过{yuan(limit)}元的款项须非现金结算（银行转账或“一卡通”）"
                              if limit else "本事项的款项须非现金结算（银行转账或“一卡通”）")
        return {"paid_amount": str(amount)}


# ---------------------------------------------------------------------------- A3 村级物资与服务采购


class PurchaseRequestForm(ItemForm):
    title_zh = "采购申请"
    links_resolution = True
    item = line("采购物品或服务")
    quantity = line("数量及规格")
    budget = money("预算金额")
    reason = text("采购理由")
    resolution_case = case_ref("关联决议事项编号", "预算超过须经村民（代表）会议决议的金额时必填")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        budget = values["budget"]
        if budget <= 0:
            raise refuse("budget", "预算金额须大于0")
        joint, resolution, platform = (threshold(ctx, n) for n in ("joint_meeting_above", "resolution_above",
                                                                     "platform_above"))
        tier = "small"
        if joint is not None and budget > joint:
            tier = "joint"
        if resolution is not None and budget > resolution:
            tier = "resolution"
        if platform is not None and budget > platform:
            tier = "platform"
        needs = tier in ("resolution", "platform")
        why = f"预算{yuan(budget)}元，超过{yuan(resolution)}元的采购" if needs else ""
        out = linked_resolution(ctx, values, required=needs, why=why)
        amount = stored_amount(out.get("resolution_amount"))
        if amount is not None and budget > amount:
            raise refuse("budget", f"预算{yuan(budget)}元超过决议金额{yuan(amount)}元")
        return {"tier": tier, "purchase_budget": str(budget), **out}


APPROVAL = {"approve": "同意", "reject": "不同意"}


class ApprovalForm(ItemForm):
    title_zh = "审批"
    decision = choice("审批意见", APPROVAL)
    opinion = text("意见说明", required=False, help="不同意时必须写明理由")
    _opinion = _opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        if ctx.case.created_by is not None and ctx.actor.id == ctx.case.created_by:
            raise Forbidden("不能审批本人提出的申请（审批人与申请人须分离）")
        return {}


QUOTE_CHANNELS = {"village": "村内询价比选", "platform": "乡镇公共资源交易平台"}


class QuotationForm(ItemForm):
    title_zh = "询价比选"
    date_field = "quoted_on"
    quoted_on = day("比选日期")
    suppliers = text("报价单位及报价", help="每行一家：单位名称，报价（元）")
    chosen = line("选定供应商")
    price = money("成交价")
    channel = choice("采购方式", QUOTE_CHANNELS)
    platform_ref = line("交易平台公告编号", required=False)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "quoted_on", since_case=True)
        quotes = parse_lines(values["suppliers"], "suppliers", 2, "家", "某某商店，1800")
        offers = {name: line_amount(raw, "suppliers", i) for i, (name, raw) in enumerate(quotes, start=1)}
        budget = stored_amount(latest(ctx, "purchase_budget")) or Decimal(0)
        need = threshold(ctx, "quotes_above")
        if need is not None and budget > need and len(offers) < 3:
            raise refuse("suppliers", f"预算超过{yuan(need)}元的采购须有三家以上报价（现有{len(offers)}家）")
        if not offers:
            raise refuse("suppliers", "请至少填写一家报价")
        chosen = values["chosen"].strip()
        if chosen not in offers:
            raise refuse("chosen", "选定供应商须是报价单位之一")
        if values["price"] > offers[chosen]:
            raise refuse("price", f"成交价不得高于该供应商的报价{yuan(offers[chosen])}元")
        if values["price"] > budget:
            raise refuse("price", f"成交价超过预算{yuan(budget)}元")
        if latest(ctx, "tier") == "platform":
            if values["channel"] != "platform":
                raise refuse("channel", "该采购金额须进入乡镇公共资源交易平台")
        if values["channel"] == "platform" and not (values.get("platform_ref") or "").strip():
            raise refuse("platform_ref", "请填写交易平台公告编号")
        return {"quoted_price": str(values["price"]), "awarded_to": chosen}


# ---------------------------------------------------------------------------- A4 集体资产资源处置与发包租赁

ASSET_TYPES = {"land": "农村土地（耕地、林地、草地、荒地等）", "building": "房屋及建筑物", "equipment": "设备设施",
               "other": "其他资产资源"}
DISPOSALS = {"lease": "出租", "contract": "发包", "transfer": "转让", "auction": "拍卖", "loan": "出借资金",
             "guarantee": "提供担保", "other": "其他方式"}


class DisposalPlanForm(ItemForm):
    title_zh = "资产资源处置方案"
    links_resolution = True
    asset = line("资产资源名称及登记编号")
    asset_type = choice("资产类别", ASSET_TYPES)
    method = choice("处置方式", DISPOSALS)
    outsider = flag("对象为本集体经济组织以外的单位或个人")
    term_years = integer("期限", required=False, minimum=0, maximum=70, unit="年")
    reserve_price = money("底价（标的总额）")
    valuation = text("评估或定价依据")
    resolution_case = case_ref("关联决议事项编号", "必填：村民会议（或经授权的村民代表会议）同意处置的“村级重大事项决策”事项编号")
    asset_no = case_ref("资产资源台账编号", "资产资源台账中的编号；签订合同时该资产资源的状态自动变更（出租、承包或处置）")
    withdraw = flag("撤回方案", help=WITHDRAW_HELP)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        _withdraw_only_on_revision(values, ctx)
        if values.get("withdraw"):
            return {"needs_township": False, "trading": "village"}
        if values.get("asset_no") is not None:  # the register's asset (engine/assets.py)
            from .assets import locked_asset

            asset = locked_asset(ctx.session, ctx.village, values["asset_no"], "asset_no")
            if asset.status == "disposed":
                raise refuse("asset_no", f"资产资源“{asset.name}”已处置，不能再处置")
        if values["method"] in ("loan", "guarantee") and values["outsider"]:  # R39
            raise refuse("method", "村集体一律不得为本集体以外的单位和个人提供担保或出借资金")
        out = linked_resolution(ctx, values, why="处分集体资产资源（《村民委员会组织法》第二十四条）")
        land_to_outsider = values["asset_type"] == "land" and values["outsider"]
        if land_to_outsider:  # R22: two thirds of ALL members or representatives
            approve, should = out.get("resolution_approve"), out.get("resolution_should_attend")
            if not (isinstance(approve, int) and isinstance(should, int) and rules.at_least_two_thirds(approve, should)):
                raise refuse("resolution_case", f"农村土地发包给本集体经济组织以外的单位或个人，须经村民会议三分之二以上成员"
                                                f"或者三分之二以上村民代表同意（关联决议赞成{approve}票，应到{should}人）")
        above = threshold(ctx, "trading_above")
        trading = "platform" if above is not None and values["reserve_price"] > above else "village"
        return {"needs_township": land_to_outsider, "trading": trading,
                "reserve_price": str(values["reserve_price"]), **out}


TOWNSHIP_DECISIONS = {"approve": "同意", "return": "退回补正", "reject": "不予批准"}


class TownshipApprovalForm(ItemForm):
    title_zh = "乡镇审批"
    date_field = "approved_on"
    decision = choice("审批意见", TOWNSHIP_DECISIONS)
    approved_on = day("审批日期")
    credit_checked = flag("已审查对方资信情况和经营能力", help="土地发包给本集体经济组织以外的单位或个人时必须审查")
    opinion = text("审批说明", required=False, help="退回或不予批准时必须写明理由")
    _opinion = _opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "approved_on", since_case=True)
        if ctx.properties.get("credit_check") == "true" and values["decision"] == "approve" \
                and not values.get("credit_checked"):
            raise refuse("credit_checked", "批准前须审查承包方的资信情况和经营能力（《农村土地承包法》）")
        return {}


DEAL_OUTCOMES = {"awarded": "成交", "failed": "流拍，重新拟定方案"}


class TradingRecordForm(ItemForm):
    title_zh = "公开交易记录"
    date_field = "traded_on"
    traded_on = day("交易日期")
    bid_outcome = choice("交易结果", DEAL_OUTCOMES)
    bidders = integer("竞买（竞租）人数", unit="人")
    winner = line("成交人", required=False)
    price = money("成交价", required=False)
    platform = line("交易平台及公告编号", required=False, help="进入产权交易平台的必填")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "traded_on", since_case=True)
        if values["bid_outcome"] == "failed":
            return {}
        if values["bidders"] < 1:
            raise refuse("bidders", "没有竞买人的应按流拍处理")
        if not (values.get("winner") or "").strip():
            raise refuse("winner", "请填写成交人")
        if values.get("price") is None:
            raise refuse("price", "请填写成交价")
        reserve = stored_amount(latest(ctx, "reserve_price"))
        if reserve is not None and values["price"] < reserve:
            raise refuse("price", f"成交价不得低于底价{yuan(reserve)}元")
        if ctx.properties.get("channel") == "platform" and not (values.get("platform") or "").strip():
            raise refuse("platform", "请填写产权交易平台及公告编号")
        return {"deal_price": str(values["price"]), "awarded_to": values["winner"].strip()}


# ---------------------------------------------------------------------------- A5 村级财务收支审批（报销联签）

VOUCHERS = {"invoice": "正式发票", "fiscal": "财政票据", "original": "其他合法原始凭证", "iou": "白条（收条、欠条等）"}


class ExpenseClaimForm(ItemForm):
    title_zh = "报销单"
    links_resolution = True
    claimant = line("经手人")
    claimant_user = line("经手人账号", required=False, help="经手人是本系统用户（村干部）时填写，其本人回避审批")
    purpose = text("用途")
    amount = money("报销金额")
    voucher_type = choice("凭证类型", VOUCHERS)
    voucher_count = integer("凭证张数", minimum=1, unit="张")
    witness = line("证明人")
    entity = choice("核算主体", ENTITIES)
    resolution_case = case_ref("关联决议事项编号", "报销金额超过须经村民（代表）会议决议的金额时必填")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        if values["voucher_type"] == "iou":
            raise refuse("voucher_type", "白条不得入账报销，须取得合法有效的原始凭证")
        amount = values["amount"]
        if amount <= 0:
            raise refuse("amount", "报销金额须大于0")
        joint, resolution, township = (threshold(ctx, n) for n in ("joint_meeting_above", "resolution_above",
                                                                     "township_above"))
        needs_joint = joint is not None and amount > joint
        needs_resolution = resolution is not None and amount > resolution
        needs_township = township is not None and amount > township
        why = f"报销金额{yuan(amount)}元，超过{yuan(resolution)}元的支出" if needs_resolution else ""
        out = linked_resolution(ctx, values, required=needs_resolution, why=why)
        resolved = stored_amount(out.get("resolution_amount"))
        if resolved is not None:
            spent = self._already_claimed(ctx, values["resolution_case"])
            if spent + amount > resolved:
                raise refuse("amount", f"依据事项{values['resolution_case']}的决议金额为{yuan(resolved)}元，"
                                       f"已报销{yuan(spent)}元，本次{yuan(amount)}元超出决议金额")
        excluded = []
        user = (values.get("claimant_user") or "").strip()
        if user:
            if ctx.session.scalar(select(User.id).where(User.username == user)) is None:
                raise refuse("claimant_user", f"没有账号为“{user}”的用户")
            excluded.append(user)  # R36: the claimant approves nothing of the claim
        return {"claim_amount": str(amount), "needs_joint_meeting": needs_joint,
                "needs_resolution": needs_resolution, "needs_township": needs_township,
                "exclude_users": excluded, **out}

    @staticmethod
    def _already_claimed(ctx: CheckContext, resolution_case: int) -> Decimal:
        rows = ctx.session.scalars(select(TaskRow).join(Case, TaskRow.case_id == Case.id).where(
            TaskRow.form == "expense_claim", TaskRow.state == "completed", TaskRow.village_id == ctx.village.id,
            Case.status.in_(("running", "completed", "on_hold")), Case.id != ctx.case.id))
        newest: dict[int, TaskRow] = {}
        for row in rows:
            if (row.data or {}).get("resolution_case") == resolution_case:
                best = newest.get(row.case_id)
                if best is None or row.completed_at > best.completed_at:
                    newest[row.case_id] = row
        return sum((Decimal(str(r.data.get("amount") or 0)) for r in newest.values()), Decimal(0))


COSIGN = {"approve": "同意", "return": "退回补正", "reject": "不同意"}


class CosignForm(ItemForm):
    title_zh = "联签"
    decision = choice("签批意见", COSIGN)
    opinion = text("签批说明", required=False, help="退回或不同意时必须写明理由")
    _opinion = _opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        roles = ctx.actor.roles_in(ctx.village)
        if ctx.task.role in ("party_secretary", "village_director") and "accountant" in roles:
            raise Forbidden("村党组织书记、村委会主任不得兼任报账员，兼任者不能签批报销")
        if latest(ctx, "claimant_user") == ctx.actor.username:
            raise Forbidden("经手人不能审批本人的报销")
        return {}


# ---------------------------------------------------------------------------- A6 村级印章使用

SEALS = {"committee": "村民委员会印章", "party": "村党组织印章", "cooperative": "股份经济合作社印章",
         "supervision": "村务监督委员会印章"}
SEAL_PURPOSES = {"certificate": "出具证明（常规）", "contract": "合同协议", "report": "报表材料", "loan": "借款（贷款）",
                 "guarantee": "担保", "major_works": "重大工程发包", "other": "其他"}
NEEDS_RESOLUTION = ("loan", "guarantee", "major_works")


class SealRequestForm(ItemForm):
    title_zh = "用印申请"
    links_resolution = True
    applicant = line("申请人", help="村民申请的，由村干部代为登记")
    document = line("用印文件名称")
    reason = text("用印事由")
    copies = integer("用印份数", minimum=1, maximum=1000, unit="份")
    seal = choice("印章", SEALS)
    purpose = choice("用途类别", SEAL_PURPOSES)
    blank = flag("在空白纸张或空白介绍信上用印")
    outsider = flag("为本集体经济组织以外的单位或个人借款或担保")
    resolution_case = case_ref("关联决议事项编号", "借款、担保、重大工程发包必填：同意该事项的“村级重大事项决策”事项编号")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        if values.get("blank"):
            raise refuse("blank", "严禁在空白纸张、空白介绍信上加盖印章")
        if values["purpose"] in ("loan", "guarantee") and values.get("outsider"):  # R39
            raise refuse("outsider", "村集体一律不得为本集体以外的单位和个人提供担保或出借资金")
        needs = values["purpose"] in NEEDS_RESOLUTION
        why = f"{SEAL_PURPOSES[values['purpose']]}文件用印" if needs else ""
        out = linked_resolution(ctx, values, required=needs, why=why, matters=[])
        return {"seal_copies": values["copies"], **out}


class SealLogForm(ItemForm):
    title_zh = "用印登记"
    date_field = "stamped_on"
    stamped_on = day("用印日期")
    impressions = integer("实际用印次数", minimum=1, maximum=1000, unit="次")
    document_ref = line("文件留存", help="文件编号、哈希值或留存照片编号")
    handler = line("经办人")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "stamped_on", since_case=True)
        approval = latest_row(ctx, form="approval")
        if approval is not None and approval.completed_by == ctx.actor.id:
            raise Forbidden("批准用印的人不能兼任管章人自行用印")
        copies = latest(ctx, "seal_copies")
        if isinstance(copies, int) and values["impressions"] > copies:
            raise refuse("impressions", f"实际用印次数不得超过批准的{copies}份")
        return {}


# ---------------------------------------------------------------------------- A7 村干部误工补贴


class AllowanceListForm(ItemForm):
    title_zh = "误工补贴发放方案"
    links_resolution = True
    year = integer("年度", minimum=2000, maximum=2100, unit="年")
    standard = text("补贴标准", help="依据村民会议决议的享受人员和补贴标准")
    recipients = text("发放名单", help="每行一人：姓名，职务，金额（元）")
    total = money("合计金额")
    resolution_case = case_ref("关联决议事项编号", "必填：村民会议决定享受误工补贴人员及标准的“村级重大事项决策”事项编号")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        today = local_today(ctx)
        if values["year"] > today.year + 1:
            raise refuse("year", f"年度不能晚于{today.year + 1}年")
        people = parse_lines(values["recipients"], "recipients", 3, "人", "张三，村委会委员，12000")
        if not people:
            raise refuse("recipients", "请填写发放名单")
        names = [p[0] for p in people]
        if len(set(names)) != len(names):
            raise refuse("recipients", "发放名单中有重复的人员")
        total = sum((line_amount(p[2], "recipients", i) for i, p in enumerate(people, start=1)), Decimal(0))
        if total != values["total"]:
            raise refuse("total", f"合计金额须等于名单金额之和{yuan(total)}元")
        out = linked_resolution(ctx, values, why="享受误工补贴的人员及补贴标准（《村民委员会组织法》第二十四条）")
        resolved = stored_amount(out.get("resolution_amount"))
        if resolved is not None and total > resolved:
            raise refuse("total", f"合计金额{yuan(total)}元超过决议金额{yuan(resolved)}元")
        return {"allowance_total": str(values["total"]), "recipients_count": len(people), **out}


# ---------------------------------------------------------------------------- A8 党员发展 (R55 time guards)


class PartyApplicationForm(ItemForm):
    title_zh = "入党申请"
    date_field = "applied_on"
    applicant = line("申请人")
    birth_date = day("出生日期")
    applied_on = day("递交申请日期")
    summary = text("申请书摘要", required=False)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "applied_on", "birth_date")
        if add_years(values["birth_date"], 18) > values["applied_on"]:
            raise refuse("birth_date", "申请入党须年满十八周岁")
        return {}


class PartyTalkForm(ItemForm):
    title_zh = "谈话记录"
    date_field = "talked_on"
    talked_on = day("谈话日期")
    talker = line("谈话人")
    notes = text("谈话情况")
    late_reason = text("超期原因", required=False, help="收到申请一个月后才谈话的必须说明")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "talked_on")
        applied = iso_day(latest(ctx, "applied_on"))
        if applied and values["talked_on"] < applied:
            raise refuse("talked_on", "谈话日期不能早于递交申请日期")
        overdue = bool(applied and values["talked_on"] > add_months(applied, 1))
        if overdue and not (values.get("late_reason") or "").strip():
            raise refuse("talked_on", "党组织应在收到入党申请后一个月内派人谈话；超期的须填写超期原因")
        return {"talk_overdue": overdue}


ACTIVIST_METHODS = {"members": "党员推荐", "league": "群团组织推优"}


class PartyActivistForm(ItemForm):
    title_zh = "确定入党积极分子"
    date_field = "activist_on"
    activist_on = day("确定日期")
    method = choice("产生方式", ACTIVIST_METHODS)
    mentors = text("培养联系人", help="1至2名正式党员，每行一人")
    filed = flag("已报上级党委备案")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "activist_on")
        talked = iso_day(latest(ctx, "talked_on"))
        if talked and values["activist_on"] < talked:
            raise refuse("activist_on", "确定入党积极分子不能早于谈话日期")
        mentors = [m.strip() for m in values["mentors"].splitlines() if m.strip()]
        if not 1 <= len(mentors) <= 2:
            raise refuse("mentors", "须指定1至2名培养联系人")
        if not values.get("filed"):
            raise refuse("filed", "确定入党积极分子须报上级党委备案")
        return {}


class PartyCandidateForm(ItemForm):
    title_zh = "确定发展对象"
    date_field = "candidate_on"
    candidate_on = day("确定日期")
    opinions = text("听取意见情况", help="听取党小组、培养联系人、党员和群众意见")
    sponsors = text("入党介绍人", help="2名正式党员，每行一人")
    vetting_on = day("政治审查日期")
    training_hours = integer("集中培训学时", unit="学时", maximum=1000)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "candidate_on", "vetting_on")
        activist = iso_day(latest(ctx, "activist_on"))
        if activist and values["candidate_on"] < add_years(activist, 1):
            raise refuse("candidate_on", f"入党积极分子须经一年以上培养教育和考察才能确定为发展对象"
                                         f"（{activist.isoformat()}确定为积极分子，最早{add_years(activist, 1).isoformat()}）")
        sponsors = [s.strip() for s in values["sponsors"].splitlines() if s.strip()]
        if len(sponsors) != 2 or sponsors[0] == sponsors[1]:
            raise refuse("sponsors", "须有2名入党介绍人")
        if values["training_hours"] < 24:
            raise refuse("training_hours", "发展对象须经不少于三天或24学时的集中培训")
        return {}


class PartyFormIssueForm(ItemForm):
    title_zh = "发放入党志愿书"
    date_field = "issued_on"
    issued_on = day("发放日期")
    form_no = line("志愿书编号")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "issued_on")
        return {}


COMMITTEE_DECISIONS = {"approve": "审查合格，报上级党委预审", "return": "不合格，退回继续培养考察"}


class PartyCommitteeReviewForm(ItemForm):
    """支部委员会审查 (《中国共产党发展党员工作细则》第十九条): the 支委会 examines the 发展对象 collectively
    before the 上级党委 prechecks and the 支部大会 discusses."""

    title_zh = "支部委员会审查"
    date_field = "reviewed_on"
    reviewed_on = day("支委会审查日期")
    decision = choice("审查结论", COMMITTEE_DECISIONS)
    opinion = text("审查意见", required=False, help="退回时必须写明理由")
    _opinion = _opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "reviewed_on")
        candidate = iso_day(latest(ctx, "candidate_on"))
        if candidate and values["reviewed_on"] < candidate:
            raise refuse("reviewed_on", f"支委会审查日期不能早于确定发展对象的日期（{candidate.isoformat()}）")
        return {}


class PartyOathForm(ItemForm):
    """入党宣誓 (党章第六条: 预备党员必须面向党旗进行入党宣誓), after the 上级党委 approved the admission."""

    title_zh = "入党宣誓"
    date_field = "sworn_on"
    sworn_on = day("宣誓日期")
    organiser = line("组织宣誓的党组织")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "sworn_on")
        approved = iso_day(latest(ctx, "approved_on"))
        if approved and values["sworn_on"] < approved:
            raise refuse("sworn_on", f"入党宣誓须在上级党委批准接收预备党员（{approved.isoformat()}）之后")
        return {}


FULL_CONCLUSIONS = {"full": "按期转正", "extend": "延长预备期", "cancel": "取消预备党员资格"}


class PartyFullProposalForm(ItemForm):
    """预备期满，党支部讨论其能否转正 (党章第七条): 按期转正, 延长预备期 (不能超过一年) or 取消预备党员资格;
    the 支部大会 then votes on this conclusion and the 上级党委 approves it. Never "不予发展"."""

    title_zh = "支委会提出转正意见"
    date_field = "proposed_on"
    proposed_on = day("支委会研究日期")
    conclusion = choice("转正意见", FULL_CONCLUSIONS)
    extend_months = integer("延长预备期", unit="个月", required=False, maximum=12,
                            help="延长预备期时填写：不少于六个月，最长不超过一年")
    reason = text("理由", required=False, help="延长预备期或取消预备党员资格时必须写明理由")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "proposed_on")
        # 党章第七条, 细则第三十二条: 预备期满, the 党支部 discusses 转正 (not before the year is over).
        began = iso_day(latest(ctx, "probation_from"))
        ends = iso_day(latest(ctx, "extended_until")) or (add_years(began, 1) if began else None)
        if ends and values["proposed_on"] < ends:
            raise refuse("proposed_on", f"预备期到{ends.isoformat()}才满，支委会研究转正的日期不能早于预备期满"
                                        f"（党章第七条、发展党员工作细则第三十二条）")
        conclusion = values["conclusion"]
        if conclusion != "full" and not (values.get("reason") or "").strip():
            raise refuse("reason", f"{FULL_CONCLUSIONS[conclusion]}须写明理由")
        if conclusion == "extend":
            if latest(ctx, "extended_until"):
                raise refuse("conclusion", "预备期已经延长过，延长期满只能按期转正或取消预备党员资格"
                                           "（发展党员工作细则第三十二条：可以延长一次预备期）")
            months = values.get("extend_months")
            if months is None or not 6 <= months <= 12:
                raise refuse("extend_months",
                             "延长预备期不能少于半年，最长不超过一年（党章第七条、发展党员工作细则第三十二条）")
        elif values.get("extend_months"):
            raise refuse("extend_months", "只有延长预备期时才填写延长的月数")
        return {}


PARTY_DECISIONS = {"approve": "批准", "reject": "不批准"}


class PartyApprovalForm(ItemForm):
    title_zh = "上级党委审批"
    date_field = "approved_on"
    decision = choice("审批意见", PARTY_DECISIONS)
    approved_on = day("审批日期")
    talk_done = flag("上级党委已派人谈话", help="审批接收预备党员前必须谈话")
    extension_reason = text("延长审批的原因", required=False, help="支部大会后超过三个月才审批的必须说明（最长六个月）")
    opinion = text("审批说明", required=False)
    _opinion = _opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "approved_on")
        stage = ctx.properties.get("stage", "admission")
        meeting = latest_row(ctx, name=ctx.properties.get("meeting", "branch_meeting"))
        held = iso_day((meeting.data or {}).get("held_on")) if meeting is not None else None
        approved = values["approved_on"]
        if held is not None:
            if approved < held:
                raise refuse("approved_on", "审批日期不能早于支部大会日期")
            if approved > add_months(held, 6) and values["decision"] == "approve":
                raise refuse("approved_on", "支部大会讨论后超过六个月未审批的，不能再批准，须重新履行程序")
            if approved > add_months(held, 3) and not (values.get("extension_reason") or "").strip():
                raise refuse("extension_reason", "上级党委应在支部大会后三个月内审批；超过三个月的须写明原因（最长六个月）")
        if values["decision"] != "approve":
            return {}
        if stage == "admission":
            if not values.get("talk_done"):
                raise refuse("talk_done", "上级党委审批前须派人与发展对象谈话")
            vetted = iso_day(latest(ctx, "vetting_on"))
            if vetted and approved > add_years(vetted, 1):
                raise refuse("approved_on", "政治审查结论已超过一年，须重新审查")
            # 党章第七条: the 预备期 runs from the day the 支部大会 passed the admission, not from this approval.
            starts = held or approved
            return {"probation_from": starts.isoformat(),
                    "probation_until": start_of_day_utc(add_years(starts, 1))}
        if latest(ctx, "conclusion") == "extend":  # 党章第七条: the extension runs on from the year's end
            began = iso_day(latest(ctx, "probation_from")) or approved
            until = add_months(add_years(began, 1), int(latest(ctx, "extend_months") or 12))
            return {"extended_until": until.isoformat(), "probation_until": start_of_day_utc(until)}
        return {}


# ---------------------------------------------------------------------------- A9 集体经济组织成员认定

GENDERS = ("男", "女")
MARRIED_OUT = re.compile(r"嫁|婚")


class MemberRosterForm(ItemForm):
    title_zh = "成员名单"
    date_field = "basis_date"
    basis_date = day("成员身份确认基准日")
    members_total = integer("确认的成员总数", minimum=1, unit="人")
    # 成员大会 is made up of the members with full civil capacity (农村集体经济组织法 第二十六条), so
    # the roster states how many they are: its quorum and majority are counted from them.
    capable_total = integer("其中具有完全民事行为能力的成员数", minimum=1, unit="人",
                            help="即成员大会的组成人员：年满十八周岁的成员，以及年满十六周岁、以自己的劳动收入"
                                 "为主要生活来源的成员（《民法典》第十七条、第十八条），不含被认定为无民事行为"
                                 "能力或者限制民事行为能力的成年人")
    criteria = text("认定标准", help="户籍关系、与本集体形成稳定的权利义务关系、以集体土地为基本生活保障等")
    added = text("新增成员", required=False, help="每行一人：姓名，理由")
    removed = text("取消成员资格", required=False, help="每行一人：姓名，性别，原因（如：出嫁、死亡、户口迁出并取得他处成员身份）")
    withdraw = flag("撤回认定", help=WITHDRAW_HELP)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        _withdraw_only_on_revision(values, ctx)
        parse_lines(values.get("added"), "added", 2, "人", "张三，新出生")
        removed = parse_lines(values.get("removed"), "removed", 3, "人", "李四，女，出嫁")
        if values["capable_total"] > values["members_total"]:
            raise refuse("capable_total", f"具有完全民事行为能力的成员数（{values['capable_total']}）"
                                          f"不能超过确认的成员总数（{values['members_total']}）")
        flagged = 0
        for number, (_, gender, reason) in enumerate(removed, start=1):
            if gender not in GENDERS:
                raise refuse("removed", f"第{number}行的性别须写“男”或“女”")
            if gender == "女" and MARRIED_OUT.search(reason):
                flagged += 1  # 出嫁女: review before the removal stands ("两头落空")
        return {"flagged_removals": flagged, "roster_total": values["members_total"],
                "roster_capable": values["capable_total"]}


REMOVAL_DECISIONS = {"confirm": "核实无误，同意取消", "return": "退回重新认定"}


class RemovalReviewForm(ItemForm):
    title_zh = "出嫁女等成员资格取消复核"
    decision = choice("复核结论", REMOVAL_DECISIONS)
    checked_new_membership = flag("已核实其在婚入地取得成员身份", help="避免“两头落空”")
    opinion = text("复核意见")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        if values["decision"] == "confirm" and not values.get("checked_new_membership"):
            raise refuse("checked_new_membership", "取消出嫁女成员资格前，须核实其已在婚入地取得集体经济组织成员身份")
        return {}


class MemberAssemblyForm(ItemForm):
    """成员大会 (农村集体经济组织法, in force 2025-05-01): the assembly is made up of the members with
    full civil capacity (第二十六条); it is valid with two thirds or more of them present (第二十七条:
    "有三分之二以上具有完全民事行为能力的成员参加") and decides with two thirds or more of all its
    members (第二十七条: "成员大会全体成员三分之二以上同意"). Both counts are taken from the
    capacity count on the roster, never from the whole roster (minors are members but do not sit).

    A roster recorded before the capacity count existed has none: the whole roster is then the base,
    which can only make the quorum harder to reach, and the reason says so."""

    title_zh = "成员大会表决记录"
    date_field = "held_on"
    held_on = day("会议日期")
    attended = integer("实到成员数", unit="人", help="具有完全民事行为能力的成员中实际参加的人数（含在线参加和同户书面委托代为参加）")
    approve = integer("赞成票数", unit="票")
    oppose = integer("反对票数", unit="票")
    abstain = integer("弃权票数", unit="票")
    proxies = integer("同户代理人数", required=False, unit="人")
    minutes = text("会议纪要")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "held_on")
        should, basis = latest(ctx, "roster_capable"), "具有完全民事行为能力的成员"
        if should is None:  # a roster recorded before the capacity count: the whole roster, stricter
            should, basis = latest(ctx, "roster_total"), "成员（名单未登记完全民事行为能力人数，按成员总数计）"
        if not isinstance(should, int) or should <= 0:
            raise refuse("attended", "没有成员名单，无法计算应到人数")
        if values["attended"] > should:
            raise refuse("attended", f"实到人数（{values['attended']}）不能超过应到人数（{should}人，即{basis}）")
        votes = values["approve"] + values["oppose"] + values["abstain"]
        if votes > values["attended"]:
            raise refuse("approve", f"赞成、反对、弃权合计（{votes}）不能超过实到人数（{values['attended']}）")
        if (values.get("proxies") or 0) > values["attended"]:
            raise refuse("proxies", "同户代理人数不能超过实到人数")
        if not rules.at_least_two_thirds(values["attended"], should):
            outcome = "lapsed"
            reason = (f"成员大会未达三分之二以上{basis}参加（应到{should}人，实到{values['attended']}人），流会"
                      f"（《农村集体经济组织法》第二十七条）")
        elif rules.at_least_two_thirds(values["approve"], should):
            outcome = "passed"
            reason = f"成员大会通过：赞成{values['approve']}票，达成员大会全体成员{should}人的三分之二以上"
        else:
            outcome = "failed"
            reason = (f"成员大会未通过：赞成{values['approve']}票，未达成员大会全体成员{should}人的三分之二"
                      f"（《农村集体经济组织法》第二十七条）")
        return {"outcome": outcome, "should_attend": should, "outcome_reason": reason}


class RosterFilingForm(ItemForm):
    title_zh = "成员名册备案"
    date_field = "filed_on"
    filed_on = day("备案日期")
    filed_with = line("备案机关", help="乡镇人民政府和县级农业农村主管部门")
    receipt = line("备案回执编号", required=False)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "filed_on", since_case=True)
        return {}


# ---------------------------------------------------------------------------- A10 土地征收补偿款分配

LAND_OWNERS = {"village": "村集体所有", "group": "村民小组所有"}


class CompensationPlanForm(ItemForm):
    title_zh = "征收补偿款分配方案"
    links_resolution = True
    requisition = line("征收项目及批准文号")
    land_owner = choice("被征收土地所有权", LAND_OWNERS)
    total = money("补偿款总额")
    retained = money("集体留存")
    distributed = money("分配给成员的金额")
    recipients = integer("分配人数", minimum=1, unit="人")
    per_capita = money("人均金额", required=False)
    resolution_case = case_ref("关联决议事项编号", "必填：村民会议决定补偿费使用、分配方案的“村级重大事项决策”事项编号")
    roster_case = case_ref("成员认定事项编号", "必填：本村已办结的“集体经济组织成员认定”事项编号")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        if values["land_owner"] == "group":
            raise refuse("land_owner", "村民小组所有土地的补偿款分配须由该村民小组会议决定；本系统暂不支持村民小组会议，"
                                       "请按村民小组会议程序办理并报乡镇")
        if values["retained"] + values["distributed"] != values["total"]:
            raise refuse("total", "补偿款总额须等于集体留存与分配给成员的金额之和")
        if values.get("per_capita") is not None:
            spread = abs(values["per_capita"] * values["recipients"] - values["distributed"])
            if spread > Decimal("0.01") * values["recipients"]:
                raise refuse("per_capita", "人均金额乘以分配人数须等于分配给成员的金额")
        out = linked_resolution(ctx, values, why="征地补偿费的使用、分配方案（《村民委员会组织法》第二十四条）")
        members = self._roster(ctx, values.get("roster_case"))
        if values["recipients"] > members:
            raise refuse("recipients", f"分配人数不能超过已确认的成员总数{members}人")
        return {"distributed_amount": str(values["distributed"]), "roster_members": members, **out}

    @staticmethod
    def _roster(ctx: CheckContext, case_id: int | None) -> int:
        field = "roster_case"
        if case_id is None:
            raise refuse(field, "须关联本村已办结的“集体经济组织成员认定”事项编号（补偿款按确认的成员名单分配）")
        roster = ctx.session.get(Case, case_id)
        if roster is None:
            raise refuse(field, f"没有编号为{case_id}的事项")
        if roster.definition.key != MEMBER_CONFIRMATION:
            raise refuse(field, f"事项{case_id}（{roster.definition.name}）不是集体经济组织成员认定事项")
        if roster.village_id != ctx.village.id:
            raise refuse(field, f"事项{case_id}是{roster.village.name}的成员认定，不是本村的")
        if roster.status != "completed":
            raise refuse(field, f"事项{case_id}的成员认定尚未办结，不能作为分配依据")
        total = latest(ctx, "roster_total", case_id=roster.id)
        return int(total) if isinstance(total, int) else 0


# ---------------------------------------------------------------------------- R33 民主评议 (annual appraisal)
#
# 《中华人民共和国村民委员会组织法》第三十三条（2018年修正）: 村民委员会成员以及由村民或者村集体承担误工
# 补贴的聘用人员，应当接受村民会议或者村民代表会议对其履行职责情况的民主评议。民主评议每年至少进行一次，
# 由村务监督机构主持。村民委员会成员连续两次被评议不称职的，其职务终止。
# 《关于建立健全村务监督委员会的指导意见》（中办、国办2017年印发）lists chairing the appraisal among the
# committee's tasks (DOMAIN §1.5, [C2/L]). The meeting is a 村民代表会议 with its own quorum (D4, R14).

APPRAISAL = "annual-appraisal"
APPRAISEE_KINDS = {
    "村委会成员": "committee",
    "村党组织成员": "party",
    "误工补贴人员": "paid",  # 由村民或者村集体承担误工补贴的聘用人员
}
#: What follows two consecutive 不称职 ratings, by kind (only a 村委会成员's office ends by law);
#: ``{article}`` is the citation of the rule set in force on the meeting day (D10).
APPRAISAL_CONSEQUENCES = {
    "committee": "连续两次被评议不称职，依{article}职务终止，请乡镇指导补选",
    "party": "连续两次被评议不称职，请乡镇党委按党内规定处理",
    "paid": "连续两次被评议不称职，请乡镇督促村民委员会依约解除聘用",
}
_COUNT = re.compile(r"[0-9]{1,7}")


def _appraisees(value: str, field: str) -> list[dict]:
    rows = parse_lines(value, field, 3, "人", "张三，村委会主任，村委会成员")
    if not rows:
        raise refuse(field, "请填写评议对象")
    people, seen = [], set()
    for number, (name, post, kind) in enumerate(rows, start=1):
        if kind not in APPRAISEE_KINDS:
            raise refuse(field, f"第{number}行的类别“{kind}”不对，只能是：{'、'.join(APPRAISEE_KINDS)}")
        if name in seen:
            raise refuse(field, f"评议对象“{name}”重复：每人只评议一次")
        seen.add(name)
        people.append({"name": name, "post": post, "kind": APPRAISEE_KINDS[kind], "kind_name": kind})
    return people


def _appraisals(ctx: CheckContext):
    """The village's other annual-appraisal cases (any version of the definition), as a query."""
    return (select(Case).join(ProcessDefinition, Case.definition_id == ProcessDefinition.id)
            .where(ProcessDefinition.key == APPRAISAL, Case.village_id == ctx.village.id, Case.id != ctx.case.id)
            .order_by(Case.id))


def _appraisal_plan(ctx: CheckContext) -> dict:
    row = latest_row(ctx, form="appraisal_plan")
    if row is None or not row.data or not row.data.get("appraisees"):
        raise refuse("data", "没有评议方案，无法办理")
    return row.data


def _names_in_order(lines: list[list[str]], people: list[dict], field: str, what: str) -> None:
    """Every appraisee exactly once, and nobody else."""
    listed = [line[0] for line in lines]
    known = {p["name"] for p in people}
    for name in listed:
        if name not in known:
            raise refuse(field, f"“{name}”不在本次评议对象名单中")
    doubled = sorted({n for n in listed if listed.count(n) > 1})
    if doubled:
        raise refuse(field, f"“{doubled[0]}”的{what}重复：每人只有一条")
    missing = [p["name"] for p in people if p["name"] not in listed]
    if missing:
        raise refuse(field, f"缺少{'、'.join(missing)}的{what}")


class AppraisalPlanForm(ItemForm):
    """The 监委会 opens the year's 民主评议 (组织法第三十三条: at least once a year, chaired by the
    村务监督机构) and names who is appraised: 村委会成员, 村党组织成员 and staff paid a 误工补贴."""

    title_zh = "民主评议方案"
    year = integer("评议年度", minimum=2000, maximum=2100, unit="年", help="评议哪一年的履职情况")
    appraisees = text("评议对象", help="每行一人：姓名，职务，类别（村委会成员、村党组织成员或误工补贴人员）")
    note = text("说明", required=False)

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        today = local_today(ctx)
        if values["year"] > today.year:
            raise refuse("year", f"评议年度不能晚于今年（{today.year}年）")
        people = _appraisees(values["appraisees"], "appraisees")
        cases = ctx.session.scalars(_appraisals(ctx).where(Case.status.in_(("running", "on_hold", "completed"))))
        for other in cases:
            if latest(ctx, "year", case_id=other.id) == values["year"]:
                raise refuse("year", f"本村{values['year']}年度的民主评议已有事项（编号{other.id}），每年度只办一件")
        return {"appraisees": people, "appraisee_count": len(people),
                "appraisal_basis": f"{rules.rule_set_on(today).appraisal_article}：民主评议每年至少进行一次，由村务监督机构主持"}


class AppraisalReportsForm(ItemForm):
    """述职: each appraisee's report on how they did their duties, one record per person."""

    title_zh = "述职记录"
    reports = text("述职记录", help="每行一人：姓名，述职要点（履职、廉洁情况）")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        people = _appraisal_plan(ctx)["appraisees"]
        lines = []
        for number, raw in enumerate(values["reports"].splitlines(), start=1):
            raw = raw.strip()
            if not raw:
                continue
            parts = re.split(r"\s*[,，]\s*", raw, maxsplit=1)
            if len(parts) != 2 or not parts[0] or not parts[1].strip():
                raise refuse("reports", f"第{number}行格式不对：每行一人，写成“张三，述职要点”")
            lines.append([parts[0], parts[1].strip()])
        _names_in_order(lines, people, "reports", "述职记录")
        return {"reported": [{"name": n, "summary": t} for n, t in lines]}


class AppraisalVoteForm(ItemForm):
    """The 村民代表会议's appraisal vote, chaired by the 监委会 (组织法第三十三条).

    Quorum as for the body (D4, R14: two thirds of its members present, ``rules.evaluate_meeting``);
    one vote per person with 称职/基本称职/不称职 counts, never more than those present; the grade
    by ``rules.appraisal_grade``. A 不称职 that repeats the person's grade at the village's previous
    appraisal (连续两次) is flagged to the township."""

    title_zh = "民主评议表决"
    date_field = "held_on"
    held_on = day("会议日期")
    attended = integer("实到人数", unit="人")
    votes = text("评议票数", required=False,
                 help="每行一人：姓名，称职票，基本称职票，不称职票（流会时可不填）")
    minutes = text("会议纪要")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        not_future(values, ctx, "held_on")
        plan = _appraisal_plan(ctx)
        year = int(plan["year"])
        if values["held_on"].year < year:
            raise refuse("held_on", f"评议{year}年度的会议日期不能早于{year}年1月1日")
        began = ctx.case.created_at.astimezone(LOCAL_TZ).date()
        if values["held_on"] < began:
            raise refuse("held_on", f"会议日期{values['held_on'].isoformat()}早于本事项发起的日期（{began.isoformat()}）")
        body = "representatives"
        should = ctx.village.representatives
        errors = rules.tally_errors(body, should_attend=should, attended=values["attended"], approve=0, oppose=0,
                                    abstain=0)
        if errors:
            raise Invalid("会议记录数字有误：" + errors["attended"][0], errors)
        meeting = rules.evaluate_meeting(body, should_attend=should, attended=values["attended"], approve=0,
                                         on=values["held_on"], settings=ctx.village.settings)
        out = {"should_attend": should, "rules_version": meeting.rules_version, "year": year}
        if not meeting.quorum_met:
            return {**out, "outcome": "lapsed", "outcome_reason": meeting.reason, "flagged": [], "flagged_count": 0}
        results = self._grades(values, plan["appraisees"], ctx)
        flagged = self._flagged(results, ctx, year, rules.rule_set_on(values["held_on"]).appraisal_article)
        unfit = [r["name"] for r in results if r["grade"] == "unfit"]
        reason = (f"村民代表会议民主评议有效（应到{should}人，实到{values['attended']}人，"
                  f"{meeting.details['quorum_rule']}）；" + "；".join(f"{r['name']}：{r['reason']}" for r in results))
        # The text of the results notice, for the committee member who drafts it (R33: results posted).
        results_text = f"{year}年度民主评议结果（{values['held_on'].isoformat()}村民代表会议，实到{values['attended']}人）：" + \
            "；".join(f"{r['name']}（{r['post']}）{r['grade_name']}：称职{r['fit']}票、基本称职{r['basic']}票、"
                     f"不称职{r['unfit']}票" for r in results)
        return {**out, "outcome": "passed", "outcome_reason": reason, "results": results, "results_text": results_text,
                "unfit": unfit, "flagged": flagged, "flagged_count": len(flagged),
                "flagged_names": "、".join(f["name"] for f in flagged)}

    @staticmethod
    def _grades(values: dict, people: list[dict], ctx: CheckContext) -> list[dict]:
        lines = parse_lines(values.get("votes"), "votes", 4, "人", "张三，18，3，1")
        if not lines:
            raise refuse("votes", "会议有效，请填写每位评议对象的评议票数")
        _names_in_order(lines, people, "votes", "评议票数")
        attended = values["attended"]
        by_name = {p["name"]: p for p in people}
        results = []
        for number, (name, *raw) in enumerate(lines, start=1):
            counts = []
            for cell in raw:
                if not _COUNT.fullmatch(cell):
                    raise refuse("votes", f"第{number}行（{name}）的票数“{cell}”须为不小于0的整数")
                counts.append(int(cell))
            fit, basic, unfit = counts
            if fit + basic + unfit > attended:
                raise refuse("votes", f"{name}的称职、基本称职、不称职票合计（{fit + basic + unfit}）"
                                      f"不能超过实到人数（{attended}）")
            grade, reason = rules.appraisal_grade(fit, basic, unfit, attended, ctx.village.settings)
            person = by_name[name]
            results.append({"name": name, "post": person["post"], "kind": person["kind"], "fit": fit,
                            "basic": basic, "unfit": unfit, "grade": grade,
                            "grade_name": rules.APPRAISAL_GRADES[grade], "reason": reason})
        return results

    @staticmethod
    def _flagged(results: list[dict], ctx: CheckContext, year: int, article: str) -> list[dict]:
        """Appraisees rated 不称职 now and at the village's previous appraisal (the latest earlier year
        with a valid vote): 组织法第三十三条 “连续两次被评议不称职”."""
        unfit = [r for r in results if r["grade"] == "unfit"]
        if not unfit:
            return []
        previous: tuple[int, dict] | None = None
        for other in ctx.session.scalars(_appraisals(ctx).where(Case.status != "withdrawn")):
            vote = next((r for r in completed_rows(ctx, other.id) if r.form == "appraisal_vote"
                         and (r.data or {}).get("outcome") == "passed"), None)
            other_year = (vote.data or {}).get("year") if vote is not None else None
            if isinstance(other_year, int) and other_year < year and (previous is None or other_year > previous[0]):
                previous = (other_year, {r["name"]: r for r in vote.data.get("results") or []})
        if previous is None:
            return []
        last_year, last = previous
        flagged = []
        for r in unfit:
            if (last.get(r["name"]) or {}).get("grade") == "unfit":
                flagged.append({"name": r["name"], "post": r["post"], "kind": r["kind"],
                                "years": [last_year, year], "consequence": APPRAISAL_CONSEQUENCES[r["kind"]].format(article=article)})
        return flagged


class AppraisalFollowupForm(ItemForm):
    """The township acts on a person rated 不称职 twice running (组织法第三十三条: a 村民委员会成员's
    office ends; the township guides the by-election, 第十九条)."""

    title_zh = "乡镇核处连续两次不称职"
    date_field = "handled_on"
    handled_on = day("办理日期")
    finding = choice("核处结论", {"confirm": "评议程序合法、结果属实，依法处理",
                                   "redo": "评议程序有问题，责令重新评议"})
    measures = text("处理情况", help="如：职务终止并指导补选、解除聘用、报乡镇党委；或重新评议的理由")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "handled_on", since_case=True)
        return {}


# ---------------------------------------------------------------------------- registration

PUBLIC_FORMS: dict[str, type[FormSchema]] = {
    "project_proposal": ProjectProposalForm,
    "procurement_plan": ProcurementPlanForm,
    "tender_record": TenderRecordForm,
    "contract": ContractForm,
    "acceptance": AcceptanceForm,
    "payment": PaymentForm,
    "purchase_request": PurchaseRequestForm,
    "approval": ApprovalForm,
    "quotation": QuotationForm,
    "disposal_plan": DisposalPlanForm,
    "township_approval": TownshipApprovalForm,
    "trading_record": TradingRecordForm,
    "expense_claim": ExpenseClaimForm,
    "cosign": CosignForm,
    "seal_request": SealRequestForm,
    "seal_log": SealLogForm,
    "allowance_list": AllowanceListForm,
    "party_application": PartyApplicationForm,
    "party_talk": PartyTalkForm,
    "party_activist": PartyActivistForm,
    "party_candidate": PartyCandidateForm,
    "party_form_issue": PartyFormIssueForm,
    "party_approval": PartyApprovalForm,
    "party_committee_review": PartyCommitteeReviewForm,
    "party_oath": PartyOathForm,
    "party_full_proposal": PartyFullProposalForm,
    "member_roster": MemberRosterForm,
    "removal_review": RemovalReviewForm,
    "member_assembly": MemberAssemblyForm,
    "roster_filing": RosterFilingForm,
    "compensation_plan": CompensationPlanForm,
    "appraisal_plan": AppraisalPlanForm,
    "appraisal_reports": AppraisalReportsForm,
    "appraisal_vote": AppraisalVoteForm,
    "appraisal_followup": AppraisalFollowupForm,
}

for _key, _schema in PUBLIC_FORMS.items():
    register(_key, _schema)


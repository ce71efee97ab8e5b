"""Forms of 村民一事一议筹资筹劳 (``yishi-funding``; issue 13, tools/items_yishi.py).

Texts [C2]: 《村民一事一议筹资筹劳管理办法》(农业部制定，国办发〔2007〕4号转发, "办法") and the provincial
rules that implement it. The national text itself was not retrieved in full (only provincial and
municipal versions that quote it): its article numbers below are unverified (条文序号待核), so the
messages people read name the text without an article. What the forms enforce:

* the plan (``yishi_plan``) names the project, its budget, the money per head and/or the labour
  days per labourer, and the exemptions (减免); at least one of money or labour (办法第三条:
  筹资筹劳); the raised money may not exceed the project's budget;
* 上限控制 (办法第十三条: the caps of money per head and labour days per labourer a year are set by
  the province): the item settings ``money_per_head_max`` (元/人·年) and ``labour_days_max``
  (工日/劳动力·年) of the catalogue entry are the filed provincial (county) rule, a village may
  only set them lower (``"yishi-funding.money_per_head_max"``, engine/domain/settings.py). The cap is a
  year's: the plans of the village's other 一事一议 cases started the same year count too, and a
  plan above the cap is refused with both amounts named;
* the plan goes to the 村民会议, or to the 村民代表会议 only under the 村民会议's authorisation
  (``assembly_authorisation`` on file, R2; 办法第十条), passing with two thirds of those present
  (engine/domain/rules.py ``vote_rule="yishi"``, R22);
* the county's answer to the filing (``yishi_filing``) is recorded by the 乡镇 (办法第十条);
* money is raised only after the plan was passed, approved and posted (no 预收) and never above
  the approved total; each collection is booked in the village's books in the same transaction as
  income of the 村民委员会 on the account 一事一议资金 (``book``; engine/records/ledger_entries.py), and labour is
  recorded in 工日 on the case.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select

from ..domain import settings as item_settings
from ..domain.clock import LOCAL_TZ
from ..domain.money import stored_amount
from ..records import ledger_chart, ledger_entries, ledger_statement
from ..store.models import Case, LedgerEntry, ProcessDefinition, TaskRow
from .base import CheckContext, check_dates, choice, day, flag, line, money, register, text
from .shared import (
    ItemForm,
    integer,
    latest,
    refuse,
    withdraw_only_on_revision,
    yuan,
)

PROCESS = "yishi-funding"
ACCOUNT = "一事一议资金"
ENTITY = "committee"  # the 村民委员会 raises and keeps the money (办法: 村民委员会 organises 筹资筹劳)
ASSEMBLIES = {"villager_assembly": "村民会议", "representatives": "村民代表会议（经村民会议授权）"}
#: The catalogue's defaults when an entry has no ``settings`` (the common provincial rule [L]).
DEFAULT_CAPS = {"money_per_head_max": Decimal(15), "labour_days_max": Decimal(10)}


def cap(ctx: CheckContext, name: str) -> Decimal:
    """The cap in force for the village: its own (lower) setting, else the catalogue's."""
    default = item_settings.as_number(((ctx.meta or {}).get("settings") or {}).get(name))
    if default is None:
        default = DEFAULT_CAPS[name]
    own = item_settings.as_number((getattr(ctx.village, "settings", None) or {}).get(f"{PROCESS}.{name}"))
    return own if own is not None and own < default else default


def _year_of(moment: datetime) -> int:
    return moment.astimezone(LOCAL_TZ).year


def _other_plans_this_year(ctx: CheckContext) -> tuple[Decimal, int]:
    """Money per head and labour days already asked this year by the village's other live cases."""
    year = _year_of(ctx.case.created_at)
    others = ctx.session.scalars(select(Case).join(ProcessDefinition, ProcessDefinition.id == Case.definition_id).where(
        Case.village_id == ctx.village.id, Case.id != ctx.case.id, ProcessDefinition.key == PROCESS,
        Case.status.notin_(("rejected", "withdrawn"))))
    money_sum, days_sum = Decimal(0), 0
    for other in others:
        if _year_of(other.created_at) != year:
            continue
        money_sum += stored_amount(latest(ctx, "money_per_head", other.id)) or Decimal(0)
        days_sum += int(latest(ctx, "labour_days", other.id) or 0)
    return money_sum, days_sum


class YishiPlanForm(ItemForm):
    """筹资筹劳方案 (村党组织提议, revised here when the 两委, the 乡镇 or the county send it back)."""

    title_zh = "筹资筹劳方案"
    project = line("项目名称", help="村内小型农田水利、村内道路、环境卫生、植树造林等村民直接受益的公益事业")
    summary = text("方案内容", help="建设内容、受益范围、预算构成和筹资筹劳的理由")
    budget = money("项目预算")
    money_per_head = money("每人筹资额", required=False, help="元/人；只筹劳的不填")
    payers = integer("筹资人数", required=False, unit="人", help="本村户籍在册人口或所议事项受益人口，减免的不计")
    labour_days = integer("每个劳动力筹劳工日", required=False, unit="工日", help="只筹资的不填")
    labourers = integer("筹劳劳动力人数", required=False, unit="人")
    exemptions = text("减免对象和办法", max_len=5000,
                      help="如现役军人、低保户、在校学生、孕妇、丧失劳动能力的村民等的减免及申请办法；没有减免的写“无”")
    assembly = choice("表决机构", ASSEMBLIES, required=False, load_default="villager_assembly")
    withdraw = flag("撤回事项", help="修改方案时勾选，事项即以“撤回”办结")

    def rules(self, values: dict, ctx: CheckContext) -> dict | None:
        from ..domain.settings import authorised_representatives

        withdraw_only_on_revision(values, ctx)
        if values.get("withdraw"):
            return None
        per_head = values.get("money_per_head") or Decimal(0)
        days = values.get("labour_days") or 0
        if per_head <= 0 and days <= 0:
            raise refuse("money_per_head", "方案须有每人筹资额或每个劳动力筹劳工日（至少一项）")
        if per_head > 0 and not values.get("payers"):
            raise refuse("payers", "筹资的方案须填写筹资人数")
        if days > 0 and not values.get("labourers"):
            raise refuse("labourers", "筹劳的方案须填写筹劳劳动力人数")
        money_cap, days_cap = cap(ctx, "money_per_head_max"), cap(ctx, "labour_days_max")
        earlier_money, earlier_days = _other_plans_this_year(ctx)
        if per_head + earlier_money > money_cap:
            asked = f"每人筹资{yuan(per_head)}元" + (f"（本年度其他一事一议已筹{yuan(earlier_money)}元，合计"
                                                  f"{yuan(per_head + earlier_money)}元）" if earlier_money else "")
            raise refuse("money_per_head", f"{asked}超过每人每年筹资上限{yuan(money_cap)}元"
                                           "（《村民一事一议筹资筹劳管理办法》：筹资筹劳实行上限控制，上限按本省规定）")
        if days + earlier_days > days_cap:
            asked = f"每个劳动力筹劳{days}个工日" + (f"（本年度其他一事一议已筹{earlier_days}个工日，合计"
                                                  f"{days + earlier_days}个工日）" if earlier_days else "")
            raise refuse("labour_days", f"{asked}超过每个劳动力每年筹劳上限{yuan(days_cap)}个工日"
                                        "（《村民一事一议筹资筹劳管理办法》：筹资筹劳实行上限控制，上限按本省规定）")
        money_total = (per_head * (values.get("payers") or 0)).quantize(ledger_chart.CENT) if per_head > 0 else Decimal(0)
        if money_total > values["budget"]:
            raise refuse("money_per_head", f"筹资总额{yuan(money_total)}元（每人{yuan(per_head)}元×"
                                           f"{values['payers']}人）超过项目预算{yuan(values['budget'])}元")
        if values.get("assembly") == "representatives" and not authorised_representatives(ctx.village):
            raise refuse("assembly", "筹资筹劳方案须由村民会议表决；本村没有登记村民会议对村民代表会议的授权"
                                     "（设置 assembly_authorisation），表决机构请选“村民会议”")
        return {"money_total": str(money_total), "labour_total": days * (values.get("labourers") or 0) if days else 0,
                "money_cap": str(money_cap), "labour_cap": int(days_cap)}

    def summary_of(self, values: dict, extra: dict) -> str:
        if values.get("withdraw"):
            return "撤回事项"
        parts = []
        if values.get("money_per_head"):
            parts.append(f"每人筹资{yuan(values['money_per_head'])}元，共{yuan(extra['money_total'])}元")
        if values.get("labour_days"):
            parts.append(f"每个劳动力筹劳{values['labour_days']}个工日，共{extra['labour_total']}个工日")
        return f"筹资筹劳方案：{values['project']}（{'；'.join(parts)}）"


COUNTY_RESULTS = {"filed": "复审同意，已备案", "corrected": "县级责令纠正（退回修改方案）"}


class YishiFilingForm(ItemForm):
    """乡镇 reports the plan to the county's 农民负担监督管理部门 and records its answer (办法第十条)."""

    title_zh = "县级复审备案"
    date_field = "filed_on"
    filed_on = day("报送日期")
    filed_with = line("受理机关", help="县级人民政府农民负担监督管理部门（农业农村部门）")
    county_result = choice("县级复审结果", COUNTY_RESULTS)
    receipt = line("备案编号或复审意见文号", required=False)
    opinion = text("县级意见", required=False, max_len=2000, help="责令纠正时必须写明县级意见")

    def rules(self, values: dict, ctx: CheckContext) -> dict | None:
        check_dates(values, ctx, "filed_on")
        if values["county_result"] == "corrected" and not (values.get("opinion") or "").strip():
            raise refuse("opinion", "县级责令纠正时必须写明县级意见")
        if values["county_result"] == "filed" and not (values.get("receipt") or "").strip():
            raise refuse("receipt", "复审同意、已备案的，请填写备案编号或复审意见文号")
        return {}


def raised_so_far(ctx: CheckContext) -> Decimal:
    """Money of this case on the books (reversals count with their negative amounts)."""
    total = ctx.session.scalar(select(func.sum(LedgerEntry.amount)).where(
        LedgerEntry.case_id == ctx.case.id, LedgerEntry.direction == "in"))
    return (total or Decimal(0)).quantize(ledger_chart.CENT)


def labour_so_far(ctx: CheckContext) -> int:
    rows = ctx.session.scalars(select(TaskRow).where(
        TaskRow.case_id == ctx.case.id, TaskRow.name == ctx.task.name, TaskRow.state == "completed"))
    return sum(int((r.data or {}).get("labour_days") or 0) for r in rows)


class YishiCollectionForm(ItemForm):
    """收取筹资、组织筹劳: each round is one receipt (and/or a day count of labour); ``more`` while
    money or labour is still to come."""

    title_zh = "筹资筹劳登记"
    date_field = "collected_on"
    collected_on = day("收款（出工）日期")
    amount = money("本次收取筹资", required=False, help="本次实际收到的筹资款（元），记入村民委员会“一事一议资金”")
    payers = integer("本次缴款人数", required=False, unit="人")
    labour_days = integer("本次出工工日", required=False, unit="工日")
    voucher = line("收款凭证号", required=False)
    note = text("说明", required=False, max_len=2000)
    more = flag("尚未收齐，继续登记")

    def rules(self, values: dict, ctx: CheckContext) -> dict | None:
        check_dates(values, ctx, "collected_on")
        amount = values.get("amount") or Decimal(0)
        days = values.get("labour_days") or 0
        if amount <= 0 and days <= 0:
            raise refuse("amount", "请填写本次收取的筹资或出工工日（至少一项）")
        approved_money = stored_amount(latest(ctx, "money_total")) or Decimal(0)
        approved_days = int(latest(ctx, "labour_total") or 0)
        raised = raised_so_far(ctx)
        if amount > 0:
            if approved_money <= 0:
                raise refuse("amount", "方案没有筹资，不能收取筹资款")
            if raised + amount > approved_money:
                raise refuse("amount", f"累计筹资{yuan(raised + amount)}元（已收{yuan(raised)}元，本次{yuan(amount)}元）"
                                       f"超过方案批准的筹资总额{yuan(approved_money)}元，不得擅自提高标准")
            if ledger_statement.period_posted(ctx.session, ctx.village, values["collected_on"]):
                period = ledger_statement.period_of(ctx.village, values["collected_on"])
                raise refuse("collected_on", f"{period.title}的财务已公开，不能再登记该期间的收入；请按实际入账日期登记在本期")
        worked = labour_so_far(ctx)
        if days > 0:
            if approved_days <= 0:
                raise refuse("labour_days", "方案没有筹劳，不能登记出工")
            if worked + days > approved_days:
                raise refuse("labour_days", f"累计出工{worked + days}个工日超过方案批准的筹劳总数{approved_days}个工日")
        return {"raised_total": str(raised + amount), "labour_days_total": worked + days}

    def book(self, values: dict, ctx: CheckContext) -> dict:
        """The receipt in the village's books, in the step's transaction (R34: nothing off the books),
        audited like a receipt so ``cunwu doctor`` finds it deleted or altered."""
        amount = values.get("amount") or Decimal(0)
        if amount <= 0:
            return {}
        project = latest(ctx, "project") or ctx.case.title
        payers = values.get("payers")
        entry = ledger_entries.add_receipt(ctx.session, ctx.village, {
            "entity": ENTITY, "amount": amount.quantize(ledger_chart.CENT), "received_on": values["collected_on"],
            "account": ACCOUNT, "summary": f"一事一议筹资：{project}",
            "counterparty": f"本村村民{payers}人" if payers else "本村村民", "voucher": values.get("voucher") or ""},
            actor_id=ctx.actor.id, actor_name=ctx.actor.name, now=ctx.now)
        entry.case_id = ctx.case.id
        ctx.session.flush()
        ctx.services.audit(ctx.session, action="ledger_receipt", actor=ctx.actor, case=ctx.case, task_id=ctx.task.id,
                           summary=f"登记收入：{ledger_chart.ENTITIES[entry.entity]} {entry.account} "
                                   f"{ledger_chart.money(entry.amount)}元（{entry.summary}）",
                           data={"entry": entry.id, "amount": ledger_chart.money(entry.amount), "entity": entry.entity})
        return {"ledger_entry": entry.id}

    def summary_of(self, values: dict, extra: dict) -> str:
        parts = []
        if values.get("amount"):
            parts.append(f"收取筹资{yuan(values['amount'])}元（累计{yuan(extra['raised_total'])}元）")
        if values.get("labour_days"):
            parts.append(f"出工{values['labour_days']}个工日（累计{extra['labour_days_total']}个工日）")
        return "；".join(parts) + ("，继续收取" if values.get("more") else "")


YISHI_FORMS: dict[str, type[ItemForm]] = {
    "yishi_plan": YishiPlanForm,
    "yishi_filing": YishiFilingForm,
    "yishi_collection": YishiCollectionForm,
}

for _key, _schema in YISHI_FORMS.items():
    register(_key, _schema)

__all__ = ["YISHI_FORMS", "cap"]

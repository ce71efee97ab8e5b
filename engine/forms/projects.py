"""Forms of A2 村级工程项目建设与招投标, A3 村级物资与服务采购, A4 集体资产资源处置与发包租赁 and
A5 村级财务收支审批（报销联签）.

Each form is an :class:`engine.forms.shared.ItemForm` (see ``engine/forms/shared.py`` for the linked
resolution and the rule-set version). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from ..domain import rules
from ..domain import settings as item_settings
from ..domain.errors import Forbidden
from ..domain.money import stored_amount
from ..records import ledger_entries
from ..store.models import Case, TaskRow, User
from .base import (
    CheckContext,
    FormSchema,
    check_dates,
    choice,
    day,
    flag,
    line,
    money,
    register,
    text,
)
from .shared import (
    ENTITIES,
    WITHDRAW_HELP,
    ItemForm,
    case_ref,
    integer,
    latest,
    line_amount,
    linked_resolution,
    opinion_unless,
    parse_lines,
    refuse,
    threshold,
    withdraw_only_on_revision,
    yuan,
)

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
        withdraw_only_on_revision(values, ctx)
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

    def book(self, values: dict, ctx: CheckContext) -> dict:
        """R34: the money moves and is booked in one transaction; the step's out entry is its
        voucher in the village's books (CONTRACT "The ledger")."""
        entry = ledger_entries.record_payment(ctx.session, ctx.case, ctx.task, values, actor_id=ctx.actor.id,
                                      actor_name=ctx.actor.name, now=ctx.now)
        return {"ledger_entry": entry.id}


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
    _opinion = opinion_unless("approve")

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
        withdraw_only_on_revision(values, ctx)
        if values.get("withdraw"):
            return {"needs_township": False, "trading": "village"}
        if values.get("asset_no") is not None:  # the register's asset (engine/records/assets.py)
            from ..records.assets import locked_asset

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
    _opinion = opinion_unless("approve")

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
    _opinion = opinion_unless("approve")

    def rules(self, values: dict, ctx: CheckContext) -> dict:
        roles = ctx.actor.roles_in(ctx.village)
        if ctx.task.role in ("party_secretary", "village_director") and "accountant" in roles:
            raise Forbidden("村党组织书记、村委会主任不得兼任报账员，兼任者不能签批报销")
        if latest(ctx, "claimant_user") == ctx.actor.username:
            raise Forbidden("经手人不能审批本人的报销")
        return {}


PROJECT_FORMS: dict[str, type[FormSchema]] = {
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
}

for _key, _schema in PROJECT_FORMS.items():
    register(_key, _schema)

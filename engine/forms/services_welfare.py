"""Forms of the 便民服务 items (category B), part two: B2–B4 社会救助 (低保, 特困, 临时救助), B5 惠农补贴
and B6 出具证明. Helpers and settings: ``engine/forms/services.py``; field tables: ``docs/forms-services.md``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from ..domain import certificates
from ..domain.clock import LOCAL_TZ
from ..domain.errors import Forbidden, Invalid
from ..domain.money import stored_amount
from ..store.models import Case, TaskRow
from .base import (
    CheckContext,
    FormSchema,
    StrictInteger,
    check_dates,
    choice,
    completed_rows,
    count,
    day,
    field_messages,
    flag,
    latest_data,
    line,
    local_today,
    money,
    text,
)
from .services import (
    Applicant,
    Avoidance,
    at_least,
    avoidance_of,
    birth_date,
    fraction,
    id_number,
    no_excluded_among,
    no_open_duplicate,
    other_applications,
    positive_count,
    quantity,
    ratio_zh,
    register_service_form,
    require_fields,
    setting,
    split_names,
)

# ---------------------------------------------------------------------------- B2–B4 社会救助


class SubsistenceApplicationForm(Applicant, Avoidance):
    title_zh = "低保申请"
    reason = text("申请理由", help="家庭困难情况")
    monthly_income = money("家庭月人均收入", required=False, help="申请人自报，调查时核实")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        no_open_duplicate(ctx, "subsistence_application", values, "低保申请")
        return avoidance_of(values, ctx)


POVERTY_GROUPS = {"elderly": "老年人", "disabled": "残疾人", "minor": "未成年人"}
CARE_LEVELS = {"full_self_care": "具备生活自理能力", "partial": "部分丧失生活自理能力",
               "none": "完全丧失生活自理能力"}
SUPPORT_MODES = {"scattered": "分散供养", "centralised": "集中供养"}


class PovertyApplicationForm(Applicant, Avoidance):
    title_zh = "特困人员供养申请"
    group = choice("人员类别", POVERTY_GROUPS)
    no_work_ability = flag("无劳动能力")
    no_income = flag("无生活来源")
    no_supporter = flag("无法定赡养、抚养、扶养义务人，或其义务人无履行义务能力")
    care_level = choice("生活自理能力", CARE_LEVELS)
    support_mode = choice("申请供养方式", SUPPORT_MODES)
    reason = text("申请理由")

    @validates_schema
    def _three_conditions(self, data: dict, **kwargs: Any) -> None:
        missing = {name: ["特困人员须同时具备无劳动能力、无生活来源、无法定义务人（或义务人无履行能力）三个条件"]
                   for name in ("no_work_ability", "no_income", "no_supporter") if not data.get(name)}
        if missing:
            raise ValidationError(missing)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        born = birth_date(values["applicant_id_number"])
        today = local_today(ctx)
        age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
        elderly, minor = int(setting(ctx, "elderly_age")), int(setting(ctx, "minor_age"))
        if values["group"] == "elderly" and age < elderly:
            msg = f"按身份证号，申请人{age}周岁，不满{elderly}周岁，不属于老年人"
            raise Invalid(msg, {"group": [msg]})
        if values["group"] == "minor" and age >= minor:
            msg = f"按身份证号，申请人{age}周岁，已满{minor}周岁，不属于未成年人"
            raise Invalid(msg, {"group": [msg]})
        no_open_duplicate(ctx, "poverty_application", values, "特困人员供养申请")
        return {**avoidance_of(values, ctx), "applicant_age": age}


ASSISTANCE_CAUSES = {"accident": "火灾、交通事故等意外事件", "illness": "重大疾病", "disaster": "自然灾害",
                     "education": "教育等刚性支出", "other": "其他"}


class AssistanceApplicationForm(Applicant, Avoidance):
    title_zh = "临时救助申请"
    emergency = flag("急难情形，申请先行救助", help="情况紧急的，可先行救助，事后补办调查、评议和公示")
    cause = choice("困难原因", ASSISTANCE_CAUSES)
    cause_detail = text("困难情况")
    amount_requested = money("申请救助金额")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        if setting(ctx, "once_per_year_same_cause"):  # R49
            year_ago = ctx.now - timedelta(days=365)
            for row, case in other_applications(ctx, "assistance_application", values["applicant_id_number"]):
                data = row.data or {}
                if data.get("cause") != values["cause"] or case.status not in ("running", "on_hold", "completed"):
                    continue
                if case.status != "completed" or (row.completed_at and row.completed_at >= year_ago):
                    msg = (f"同一事由（{ASSISTANCE_CAUSES[values['cause']]}）一年内只能救助一次："
                           f"该申请人已有事项{case.id}（{case.created_at.astimezone(LOCAL_TZ):%Y-%m-%d}）")
                    raise Invalid(msg, {"cause": [msg]})
        return avoidance_of(values, ctx)


INVESTIGATION_CONCLUSIONS = {"eligible": "符合条件，提出初审意见（本村设置民主评议的，先评议）", "ineligible": "不符合条件，书面告知申请人",
                             "withdrawn": "申请人撤回申请"}


class HouseholdInvestigationForm(FormSchema):
    """Done by the 乡镇, the village assisting (民发〔2021〕57号 第二条). ``hold_appraisal`` tells the
    process whether the village holds a 民主评议 before the 初审 (setting ``democratic_appraisal``)."""

    title_zh = "家庭经济状况调查"
    investigated_on = day("调查日期")
    investigators = line("调查人员", help="姓名用顿号分隔；低保、特困不少于2人，临时救助不少于3人")
    home_visit = flag("已入户调查")
    neighbour_visit = flag("已走访邻里")
    data_check = flag("已进行经济状况信息核对")
    per_capita_income = money("核实的家庭月人均收入", required=False)
    findings = text("调查情况")
    conclusion = choice("调查结论", INVESTIGATION_CONCLUSIONS)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "investigated_on", since_case=True)
        hold = setting(ctx, "democratic_appraisal") is True
        if values["conclusion"] == "withdrawn":
            return {"hold_appraisal": hold}
        names = split_names(values["investigators"])
        needed = int(setting(ctx, "min_investigators"))
        if len(names) < needed:
            msg = f"调查人员不少于{needed}人，现填写{len(names)}人"
            raise Invalid(msg, {"investigators": [msg]})
        no_excluded_among(ctx, "investigators", names, "参加家庭经济状况调查")
        if not values["home_visit"]:
            msg = "家庭经济状况调查须入户调查"
            raise Invalid(msg, {"home_visit": [msg]})
        return {"investigator_count": len(names), "hold_appraisal": hold}


class DemocraticAppraisalForm(FormSchema):
    title_zh = "民主评议"
    held_on = day("评议日期")
    members = positive_count("评议小组应到人数")
    attended = count("实到人数")
    agree = count("同意票数", unit="票")
    disagree = count("不同意票数", unit="票")
    abstain = count("弃权票数", unit="票", required=False, load_default=0)
    participants = text("参加评议人员（签名）", help="到会人员姓名，用顿号分隔，人数须与实到人数一致")
    minutes = text("评议记录")

    @validates_schema
    def _numbers_can_be_true(self, data: dict, **kwargs: Any) -> None:
        errors = {}
        if {"attended", "members"} <= data.keys() and data["attended"] > data["members"]:
            errors["attended"] = [f"实到人数（{data['attended']}）不能超过应到人数（{data['members']}）"]
        votes = sum(data.get(k) or 0 for k in ("agree", "disagree", "abstain"))
        if "attended" in data and votes > data["attended"]:
            errors["agree"] = [f"同意、不同意、弃权合计（{votes}）不能超过实到人数（{data['attended']}）"]
        if errors:
            raise ValidationError(errors)

    def check(self, values: dict, ctx: CheckContext) -> dict:  # R46
        check_dates(values, ctx, "held_on", since_case=True)
        names = split_names(values["participants"])
        if len(names) != values["attended"]:
            msg = f"参加评议人员签名{len(names)}人，与实到人数{values['attended']}人不一致"
            raise Invalid(msg, {"participants": [msg]})
        no_excluded_among(ctx, "participants", names, "参加民主评议")
        quorum = fraction(setting(ctx, "appraisal_quorum"), "appraisal_quorum")
        passing = fraction(setting(ctx, "appraisal_pass"), "appraisal_pass")
        members, attended, agree = values["members"], values["attended"], values["agree"]
        if not at_least(attended, members, quorum):
            outcome = "lapsed"
            reason = (f"民主评议未达到会要求，流会：到会须达评议小组{ratio_zh(quorum)}"
                      f"（应到{members}人），实到{attended}人")
        elif not at_least(agree, attended, passing):
            outcome = "failed"
            reason = f"民主评议未通过：同意须达到会人员{ratio_zh(passing)}（到会{attended}人），同意{agree}票"
        else:
            outcome = "passed"
            reason = f"民主评议通过：到会{attended}人（应到{members}人），同意{agree}票"
        return {"outcome": outcome, "outcome_reason": reason,
                "appraisal_rule": f"到会≥{quorum[0]}/{quorum[1]}，同意≥到会{passing[0]}/{passing[1]}"}


class WelfarePreliminaryForm(FormSchema):
    """The 乡镇's 初审意见, posted in the village before the 审核确认 (民发〔2021〕57号 第二条、第二十条;
    临时救助: 审核意见 then 公示, 国发〔2014〕47号). A 民主评议 held before it is on record; it informs
    the 初审 and does not decide it."""

    title_zh = "乡镇初审"
    decision = choice("初审意见", {"approve": "拟同意，在申请人所在村公示", "refuse": "不符合条件，书面告知申请人"})
    reviewed_on = day("初审日期")
    amount = money("拟核定金额", required=False, help="拟同意时必填：低保、特困为每月金额，临时救助为一次性金额")
    opinion = text("初审意见说明", help="依据调查核实情况（及民主评议结果）写明理由；不符合条件的写明理由并书面告知申请人")

    @validates_schema
    def _amount_when_approving(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") == "approve" and not data.get("amount"):
            raise ValidationError({"amount": ["拟同意时须填写拟核定金额，且大于0"]})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "reviewed_on", since_case=True)
        return {}


class WelfareDecisionForm(FormSchema):
    title_zh = "乡镇审批"
    decision = choice("审批结论", {"approve": "批准", "refuse": "不予批准"})
    decided_on = day("审批日期")
    amount = money("核定金额", required=False, help="批准时必填：低保、特困为每月金额，临时救助为一次性金额")
    support_mode = choice("供养方式", SUPPORT_MODES, required=False, help="特困人员批准时填写")
    reason = text("理由", required=False, help="不予批准时必须写明理由，并书面告知申请人")

    @validates_schema
    def _fields_for_the_decision(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") == "approve" and not data.get("amount"):
            raise ValidationError({"amount": ["批准时须填写核定金额，且大于0"]})
        require_fields(data, data.get("decision") == "refuse", {"reason": "不予批准时必须写明理由"})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "decided_on", since_case=True)
        return {}


class RefusalNoticeForm(FormSchema):
    title_zh = "书面告知不予批准"
    reason = text("不予批准理由", help="书面告知申请人的理由")
    notified_on = day("告知日期")
    method = choice("告知方式", {"in_person": "当面送达并签收", "post": "邮寄送达", "other": "其他书面方式"})
    receipt = line("签收人或回执号", required=False)

    def check(self, values: dict, ctx: CheckContext) -> dict:  # R48
        check_dates(values, ctx, "notified_on", since_case=True)
        return {}


class ReliefPaymentForm(FormSchema):
    title_zh = "救助金发放"
    amount = money("发放金额")
    paid_on = day("发放日期")
    method = choice("发放方式", {"transfer": "转账（社保卡、一卡通）", "cash": "现金", "in_kind": "实物"})
    payee = line("领款人")
    voucher = line("凭证号", required=False)

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "paid_on", since_case=True)
        if values["amount"] <= 0:
            raise Invalid("发放金额须大于0", {"amount": ["发放金额须大于0"]})
        approved = stored_amount(latest_data(ctx, "welfare_decision").get("amount"))
        if approved is not None and values["amount"] > approved:
            msg = f"发放金额不能超过乡镇核定金额（{approved}元）"
            raise Invalid(msg, {"amount": [msg]})
        return {}


# ---------------------------------------------------------------------------- B5 惠农补贴


SUBSIDY_TYPES = {"farmland_protection": "耕地地力保护补贴", "grain_growers": "实际种粮农民一次性补贴",
                 "machinery": "农机购置补贴", "other": "其他惠农补贴"}


class SubsidyListForm(FormSchema):
    title_zh = "补贴面积和对象核实"
    subsidy_type = choice("补贴项目", SUBSIDY_TYPES)
    year = StrictInteger(required=True, validate=validate.Range(min=2000, max=2100, error="补贴年度须为2000到2100年"),
                          error_messages={**field_messages("补贴年度"), "invalid": "补贴年度必须是整数"},
                          metadata={"label": "补贴年度", "unit": "年", "widget": "number"})
    households = positive_count("补贴户数", unit="户")
    area_mu = quantity("核实面积合计", unit="亩")
    rate = quantity("补贴标准", unit="元/亩")
    total_amount = money("补贴总额")
    recipients = text("补贴对象清册", help="逐户列明户主、面积、金额，或注明清册附件编号")
    farmers_signed = flag("农户已签字确认面积")
    cross_checked = flag("已与死亡人员、财政供养人员等名单比对")

    @validates_schema
    def _list_is_consistent(self, data: dict, **kwargs: Any) -> None:
        errors = {}
        if not data.get("farmers_signed"):
            errors["farmers_signed"] = ["补贴面积须经农户签字确认"]
        if not data.get("cross_checked"):
            errors["cross_checked"] = ["补贴对象须与死亡人员、财政供养人员等名单比对后方可公示"]
        if {"area_mu", "rate", "total_amount", "households"} <= data.keys():
            expected = data["area_mu"] * data["rate"]
            tolerance = Decimal("0.01") * data["households"]  # rounding per household
            if abs(data["total_amount"] - expected) > tolerance:
                errors["total_amount"] = [f"补贴总额应为面积×标准≈{expected.quantize(Decimal('0.01'))}元"]
        if errors:
            raise ValidationError(errors)


class SubsidyCheckForm(FormSchema):
    title_zh = "乡镇审核补贴清册"
    decision = choice("审核结论", {"approve": "审核通过，报送发放", "return": "退回村级重新核实"})
    checked_households = count("抽查户数", unit="户")
    opinion = text("审核意见", required=False, help="退回时必须写明")

    @validates_schema
    def _opinion_on_return(self, data: dict, **kwargs: Any) -> None:
        require_fields(data, data.get("decision") == "return", {"opinion": "退回时必须填写审核意见"})


class SubsidyPaymentForm(FormSchema):
    title_zh = "补贴发放记录"
    paid_on = day("发放日期")
    households_paid = count("已发放户数", unit="户")
    amount_paid = money("发放总额")
    channel = choice("发放渠道", {"card": "一卡通（社保卡）直接发放到户", "other": "其他渠道"})
    failed_households = count("发放失败户数", unit="户", required=False, load_default=0)
    notes = text("说明", required=False, help="发放失败的原因和处理")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "paid_on", since_case=True)
        listed = latest_data(ctx, "subsidy_list")
        households, total = listed.get("households"), stored_amount(listed.get("total_amount"))
        if households is not None and values["households_paid"] + values["failed_households"] > households:
            msg = f"已发放户数与发放失败户数合计不能超过清册户数（{households}户）"
            raise Invalid(msg, {"households_paid": [msg]})
        if total is not None and values["amount_paid"] > total:
            msg = f"发放总额不能超过公示的补贴总额（{total}元）"
            raise Invalid(msg, {"amount_paid": [msg]})
        return {}


# ---------------------------------------------------------------------------- B6 出具证明


class _SafeFormat(dict):
    def __missing__(self, key: str) -> str:
        return "____"


class CertificateRequestForm(FormSchema):
    title_zh = "出具证明申请"
    applicant_name = line("申请人姓名")
    applicant_id_number = id_number("申请人身份证号")
    certificate_type = fields.String(
        required=True, validate=validate.Length(min=1, max=100, error="请选择证明类型"),
        error_messages=field_messages("证明类型"),
        metadata={"label": "证明类型", "widget": "select",
                  "choices": {a.key: a.name for a in certificates.DEFAULT_POSITIVE_LIST},
                  "help": "只能出具本村公布的可出具证明清单中的证明；国家明令取消的20项证明一律不予出具"})
    purpose = text("用途")
    requesting_agency = line("用证单位", required=False)
    content = text("拟证明事项")

    def check(self, values: dict, ctx: CheckContext) -> dict:  # R51
        wanted = values["certificate_type"]
        banned = certificates.banned(wanted, setting(ctx, "extra_negative_list"))
        if banned is not None:
            msg = certificates.refusal(banned)
            raise Invalid(msg, {"certificate_type": [msg]})
        allowed = certificates.allowed(wanted, setting(ctx, "positive_list"))
        if allowed is None:
            names = "、".join(a.name for a in certificates.positive_list(setting(ctx, "positive_list"))) or "无"
            msg = f"“{wanted}”不在本村公布的可出具证明清单中，村级组织不予出具。可出具的证明：{names}"
            raise Invalid(msg, {"certificate_type": [msg]})
        draft = allowed.template.format_map(_SafeFormat(
            applicant_name=values["applicant_name"], applicant_id_number=values["applicant_id_number"],
            content=values["content"]))
        return {"certificate_key": allowed.key, "certificate_name": allowed.name,
                "certificate_basis": allowed.legal_basis, "certificate_text": draft}


class CertificateApprovalForm(FormSchema):
    title_zh = "出具证明审批"
    decision = choice("审批结论", {"approve": "同意出具", "refuse": "不予出具"})
    verified = flag("已核实所证明事项属实")
    opinion = text("审批意见", required=False, help="不予出具时必须写明理由")

    @validates_schema
    def _verified_or_reasoned(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") == "approve" and not data.get("verified"):
            raise ValidationError({"verified": ["同意出具前须核实所证明事项属实"]})
        require_fields(data, data.get("decision") == "refuse", {"opinion": "不予出具时必须写明理由"})


SEALS = {"committee": "村民委员会印章", "party": "村党组织印章", "cooperative": "股份经济合作社印章"}


class CertificateSealLogForm(FormSchema):
    title_zh = "用印登记"
    seal = choice("印章", SEALS)
    impressions = positive_count("用印次数", unit="次")
    document = line("用印文件")
    document_sha256 = line("文件哈希（SHA-256）", required=False, help="与用印照片编号至少填写一项")
    photo = line("用印照片编号", required=False)
    handler = line("经办人")
    used_on = day("用印日期")

    @validates_schema
    def _evidence(self, data: dict, **kwargs: Any) -> None:  # R52
        digest = (data.get("document_sha256") or "").strip().lower()
        if digest and not re.fullmatch(r"[0-9a-f]{64}", digest):
            raise ValidationError({"document_sha256": ["文件哈希须为64位十六进制SHA-256值"]})
        if not digest and not (data.get("photo") or "").strip():
            raise ValidationError({"document_sha256": ["用印须留存文件哈希或用印照片，至少填写一项"]})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "used_on", since_case=True)
        approvals = completed_rows(ctx, newest_first=False, form="certificate_approval")
        if approvals and approvals[-1].completed_by == ctx.actor.id:  # R36
            raise Forbidden("用印审批人与印章保管人不能为同一人：本证明由您审批，请由印章保管人登记用印")
        return {}


class CertificateRegisterForm(FormSchema):
    title_zh = "证明登记"
    issued_on = day("出具日期")
    received_by = line("领取人")
    stub_kept = flag("存根已留档")

    @validates_schema
    def _stub(self, data: dict, **kwargs: Any) -> None:
        if not data.get("stub_kept"):
            raise ValidationError({"stub_kept": ["证明存根须留档备查"]})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "issued_on", since_case=True)
        year = values["issued_on"].year
        issued = ctx.session.execute(
            select(TaskRow.data).join(Case, TaskRow.case_id == Case.id).where(
                TaskRow.form == "certificate_register", TaskRow.state == "completed",
                Case.village_id == ctx.village.id)).scalars().all()
        same_year = sum(1 for d in issued if str((d or {}).get("issued_on", ""))[:4] == str(year))
        return {"certificate_no": f"{ctx.village.code}-证-{year}-{same_year + 1:04d}"}


WELFARE_FORMS: dict[str, type[FormSchema]] = {
    "subsistence_application": SubsistenceApplicationForm,
    "poverty_application": PovertyApplicationForm,
    "assistance_application": AssistanceApplicationForm,
    "household_investigation": HouseholdInvestigationForm,
    "democratic_appraisal": DemocraticAppraisalForm,
    "welfare_preliminary": WelfarePreliminaryForm,
    "welfare_decision": WelfareDecisionForm,
    "refusal_notice": RefusalNoticeForm,
    "relief_payment": ReliefPaymentForm,
    "subsidy_list": SubsidyListForm,
    "subsidy_check": SubsidyCheckForm,
    "subsidy_payment": SubsidyPaymentForm,
    "certificate_request": CertificateRequestForm,
    "certificate_approval": CertificateApprovalForm,
    "certificate_seal_log": CertificateSealLogForm,
    "certificate_register": CertificateRegisterForm,
}

for _key, _schema in WELFARE_FORMS.items():
    register_service_form(_key, _schema)

"""Forms of the 便民服务 items (category B), part one: the shared helpers and parts, and B1 宅基地;
the others (低保, 特困, 临时救助, 惠农补贴, 出具证明) are in ``engine/forms/services_welfare.py``.

Same style as ``engine.forms``: marshmallow schemas, Chinese labels and messages, field
``metadata`` for the pages. Rules that need the database, the village or the catalogue entry
live in each form's ``check`` (see ``engine.forms.FormSchema``). The forms are documented in
``docs/forms-services.md``.

Settings (DOMAIN.md "(cfg)") are read by :func:`setting`: a village setting
``"<item key>.<name>"`` wins, then the item's ``settings`` mapping in
``processes/catalogue.d/b-services.yaml``, then ``DEFAULTS`` here.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Any

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import select

from ..domain.errors import Invalid
from ..domain.money import stored_amount
from ..domain.roles import VILLAGE_ROLES
from ..store.models import Case, RoleAssignment, TaskRow, User
from .base import (
    FORMS,
    CheckContext,
    FormSchema,
    StrictInteger,
    check_dates,
    choice,
    day,
    field_messages,
    first_round,
    flag,
    latest_data,
    line,
    register,
    text,
)

DEFAULTS: dict[str, Any] = {
    # R46: 民主评议 quorum and approval, as "p/q" (三分之二以上 = at least 2/3, D1).
    "appraisal_quorum": "2/3",
    "appraisal_pass": "2/3",
    # 民主评议 is not compulsory for 低保/特困/临时救助 (民发〔2021〕57号 names it only after an objection,
    # 第二十条; 国发〔2014〕47号: 视情组织): a village (or its province) that holds one sets this.
    "democratic_appraisal": False,
    # §3.3.12 / §3.3.13: investigators named in the family economic investigation.
    "min_investigators": 2,
    # R49: one temporary-assistance grant per year for the same cause.
    "once_per_year_same_cause": True,
    # R50: area cap set by the province (square metres); None = not configured.
    "homestead_max_area_m2": None,
    # 特困人员认定 age limits [G]: 老年人 60周岁以上, 未成年人 未满18周岁.
    "elderly_age": 60,
    "minor_age": 18,
    # R51: the local positive list (None = engine.domain.certificates.DEFAULT_POSITIVE_LIST) and
    # provincial additions to the national negative list.
    "positive_list": None,
    "extra_negative_list": [],
}

AVOIDANCE_MARK = "【单独登记】"


# ---------------------------------------------------------------------------- helpers



def positive_count(label: str, *, unit: str = "人", help: str = "", **kw) -> fields.Integer:
    return StrictInteger(
        required=True,
        validate=validate.Range(min=1, max=10_000_000, error=f"{label}须为1到10000000之间的整数"),
        error_messages={**field_messages(label), "invalid": f"{label}必须是整数"},
        metadata={"label": label, "help": help, "unit": unit, "widget": "number"},
        **kw,
    )


def quantity(label: str, *, unit: str, required: bool = True, help: str = "") -> fields.Decimal:
    """A positive decimal quantity with a unit (面积、补贴标准 …), two places."""
    return fields.Decimal(
        required=required,
        places=2,
        allow_nan=False,
        validate=validate.Range(min=Decimal("0.01"), max=Decimal("1e9"), error=f"{label}须大于0"),
        error_messages={**field_messages(label), "invalid": f"{label}必须是数字"},
        metadata={"label": label, "help": help, "unit": unit, "widget": "number"},
    )


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_number_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 18-digit 居民身份证号 (GB 11643-1999), or None."""
    v = value.strip().upper()
    if not re.fullmatch(r"\d{17}[\dX]", v):
        return "身份证号须为18位数字（最后一位可为X）"
    try:
        date(int(v[6:10]), int(v[10:12]), int(v[12:14]))
    except ValueError:
        return "身份证号中的出生日期不存在"
    if _ID_CHECK[sum(int(a) * w for a, w in zip(v[:17], _ID_WEIGHTS, strict=True)) % 11] != v[17]:
        return "身份证号校验位不正确，请核对"
    return None


def birth_date(id_number: str) -> date:
    v = id_number.strip()
    return date(int(v[6:10]), int(v[10:12]), int(v[12:14]))


class IdNumber(fields.String):
    """An 18-digit ID number, checked and upper-cased."""

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        problem = id_number_problem(value)
        if problem:
            raise ValidationError(problem)
        return value.strip().upper()


def id_number(label: str) -> IdNumber:
    return IdNumber(required=True, error_messages=field_messages(label),
                    metadata={"label": label, "help": "18位居民身份证号", "widget": "text"})


def split_names(value: str | None) -> list[str]:
    """Names written as 张三、李四 / 张三，李四 / 张三 李四 → distinct, in order."""
    seen: list[str] = []
    for name in re.split(r"[\s,，、;；/]+", value or ""):
        if name and name not in seen:
            seen.append(name)
    return seen


def setting(ctx: CheckContext, key: str) -> Any:
    """A setting: the village's own value (key ``"<item key>.<name>"``, the convention of
    ``engine/domain/settings.py``), else the catalogue entry's ``settings``, else the default."""
    village_settings = getattr(ctx.village, "settings", None) or {}
    item = getattr(getattr(ctx.case, "definition", None), "key", None)
    if item and f"{item}.{key}" in village_settings:
        return village_settings[f"{item}.{key}"]
    item_settings = (ctx.meta or {}).get("settings") or {}
    if key in item_settings:
        return item_settings[key]
    return DEFAULTS[key]


def fraction(value: Any, key: str) -> tuple[int, int]:
    """Parse a ratio setting ("2/3" or [2, 3]); it may not be below one half."""
    p = q = None
    if isinstance(value, str) and (m := re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)):
        p, q = int(m.group(1)), int(m.group(2))
    elif isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(x, int) for x in value):
        p, q = value
    if p is None or q is None or q <= 0 or p > q or 2 * p < q:
        raise Invalid(f"设置“{key}”有误：须写成“分子/分母”（如 2/3），且不低于二分之一、不高于1")
    return p, q


def at_least(part: int, whole: int, ratio: tuple[int, int]) -> bool:
    """``part / whole >= p / q`` in integers (以上 includes the stated number, D1)."""
    p, q = ratio
    return q * part >= p * whole


_DIGITS_ZH = "零一二三四五六七八九十"


def _number_zh(n: int) -> str:
    return _DIGITS_ZH[n] if 0 <= n <= 10 else str(n)


def ratio_zh(ratio: tuple[int, int]) -> str:
    """``(2, 3)`` → 三分之二以上; ``(1, 1)`` → 全体 (as the law writes them)."""
    p, q = ratio
    return "全体" if p == q else f"{_number_zh(q)}分之{_number_zh(p)}以上"


def _village_cadres(ctx: CheckContext) -> dict[str, User]:
    """Active people holding a village role in this case's village, by username."""
    stmt = (select(User).join(RoleAssignment, RoleAssignment.user_id == User.id)
            .where(RoleAssignment.village_id == ctx.village.id, RoleAssignment.role.in_(VILLAGE_ROLES),
                   User.active.is_(True)).order_by(User.username))
    return {u.username: u for u in ctx.session.scalars(stmt).unique()}


def _excluded_people(ctx: CheckContext) -> list[User]:
    usernames = list(ctx.case.excluded_users or [])
    if not usernames:
        return []
    return list(ctx.session.scalars(select(User).where(User.username.in_(usernames))))


def no_excluded_among(ctx: CheckContext, field: str, names: list[str], what: str) -> None:
    """R45: a cadre who must withdraw may not be listed as an investigator or appraiser."""
    for person in _excluded_people(ctx):
        if person.name in names or person.username in names:
            msg = f"{person.name}与申请人有利害关系，依规回避，不得{what}"
            raise Invalid(msg, {field: [msg]})


def other_applications(ctx: CheckContext, form: str, id_number: str) -> list[tuple[TaskRow, Case]]:
    """Completed application tasks of other cases in this village for the same ID number."""
    rows = ctx.session.execute(
        select(TaskRow, Case).join(Case, TaskRow.case_id == Case.id).where(
            TaskRow.form == form, TaskRow.state == "completed", Case.village_id == ctx.village.id,
            Case.id != ctx.case.id)).all()
    return [(row, case) for row, case in rows if (row.data or {}).get("applicant_id_number") == id_number]


def no_open_duplicate(ctx: CheckContext, form: str, values: dict, what: str) -> None:
    for _row, case in other_applications(ctx, form, values["applicant_id_number"]):
        if case.status in ("running", "on_hold"):
            msg = f"该申请人已有一件{what}正在办理（事项编号{case.id}），不能重复申请"
            raise Invalid(msg, {"applicant_id_number": [msg]})


def _refuse_withdraw_on_first_round(ctx: CheckContext, values: dict) -> None:
    if values.get("withdraw") and first_round(ctx):
        raise Invalid("新受理的申请不能直接撤回", {"withdraw": ["新受理的申请不能直接撤回"]})



def require_fields(data: dict, when: bool, names: dict[str, str]) -> None:
    """Raise a field error for each empty field in ``names`` (field → message) when ``when``."""
    if not when:
        return
    errors = {name: [msg] for name, msg in names.items() if data.get(name) in (None, "") or
              (isinstance(data.get(name), str) and not data[name].strip())}
    if errors:
        raise ValidationError(errors)


def register_service_form(key: str, schema: type[FormSchema]) -> None:
    if key in FORMS and FORMS[key] is not schema:
        raise RuntimeError(f"form key {key!r} is registered twice (engine/forms/services*.py and another module)")
    register(key, schema)


# ---------------------------------------------------------------------------- shared parts


class Applicant(FormSchema):
    """Who applies: the villager has no login; a cadre enters the application for them."""

    applicant_name = line("申请人姓名")
    applicant_id_number = id_number("申请人身份证号")
    household = line("家庭户", help="户主姓名及户籍地址，如：张三户，示范村三组12号")
    household_size = positive_count("家庭人口", unit="人")
    phone = line("联系电话", required=False)


RELATIONS = {"none": "无", "self": "申请人本人是村干部", "relative": "申请人是村干部的近亲属"}


class Avoidance(FormSchema):
    """R45: an application from a village cadre or a near relative is registered separately."""

    cadre_relation = choice("与村干部的关系", RELATIONS, required=False, load_default="none",
                            help="申请人本人或其近亲属（配偶、父母、子女、兄弟姐妹等）是本村干部的，须如实选择")
    related_cadre = line("相关村干部（用户名）", required=False,
                         help="填写该村干部在系统中的用户名；该村干部须回避本事项的调查、评议等全部环节")

    @validates_schema
    def _related_cadre_named(self, data: dict, **kwargs: Any) -> None:
        relation = data.get("cadre_relation", "none")
        named = (data.get("related_cadre") or "").strip()
        if relation != "none" and not named:
            raise ValidationError({"related_cadre": ["申请人与村干部有关系时，须填写该村干部的用户名"]})
        if relation == "none" and named:
            raise ValidationError({"cadre_relation": ["填写了相关村干部，请选择申请人与其的关系"]})


def avoidance_of(values: dict, ctx: CheckContext) -> dict:
    """Validate the named cadre against the village's people; flag the case and keep them off it."""
    if values.get("cadre_relation", "none") == "none":
        return {"avoidance": False}
    username = values["related_cadre"].strip()
    cadres = _village_cadres(ctx)
    if username not in cadres:
        known = "、".join(f"{u}（{p.name}）" for u, p in cadres.items()) or "无"
        msg = f"本村没有用户名为“{username}”的村干部；本村村干部：{known}"
        raise Invalid(msg, {"related_cadre": [msg]})
    if not ctx.case.title.startswith(AVOIDANCE_MARK):
        ctx.case.title = (AVOIDANCE_MARK + ctx.case.title)[:300]
    return {"exclude_users": [username], "avoidance": True, "avoidance_cadre": cadres[username].name,
            "registration": "单独登记"}


# ---------------------------------------------------------------------------- B1 宅基地


EXISTING_HOMESTEAD = {"none": "无宅基地", "rebuild": "拆旧建新（批准后退出原宅基地）", "has": "已有宅基地"}
ONE_HOUSEHOLD_ONE_HOMESTEAD = ("根据《中华人民共和国土地管理法》第六十二条，农村村民一户只能拥有一处宅基地；"
                               "该户已有宅基地，不予受理。如属拆旧建新，请选择“拆旧建新”并承诺退出原宅基地")


class HomesteadApplicationForm(Applicant):
    title_zh = "宅基地（建房）申请"
    reason = text("申请理由", help="如分户、原住房危旧等")
    location = line("拟用地位置", help="村民小组、四至")
    area_m2 = quantity("申请用地面积", unit="平方米")
    storeys = positive_count("拟建层数", unit="层")
    existing_homestead = choice("现有宅基地情况", EXISTING_HOMESTEAD, help="一户只能拥有一处宅基地")
    uses_farmland = flag("占用农用地", help="占用农用地的，须依法办理农用地转用审批")
    neighbours_consulted = flag("已征求四邻意见")
    withdraw = flag("撤回申请", help="退回修改时勾选，事项即以“撤回”办结")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        _refuse_withdraw_on_first_round(ctx, values)
        if values.get("withdraw"):
            return {}
        if values["existing_homestead"] == "has":  # R50 一户一宅
            raise Invalid(ONE_HOUSEHOLD_ONE_HOMESTEAD, {"existing_homestead": [ONE_HOUSEHOLD_ONE_HOMESTEAD]})
        cap = setting(ctx, "homestead_max_area_m2")
        if cap is not None and values["area_m2"] > Decimal(str(cap)):
            msg = f"申请用地面积超过本省规定的上限（{cap}平方米）"
            raise Invalid(msg, {"area_m2": [msg]})
        for row, case in other_applications(ctx, "homestead_application", values["applicant_id_number"]):
            if case.status in ("running", "on_hold"):
                msg = f"该户已有一件宅基地申请正在办理（事项编号{case.id}），不能重复申请"
                raise Invalid(msg, {"applicant_id_number": [msg]})
            if case.status == "completed" and values["existing_homestead"] != "rebuild" \
                    and not (row.data or {}).get("withdraw"):
                msg = f"该户已于事项{case.id}获批宅基地。{ONE_HOUSEHOLD_ONE_HOMESTEAD}"
                raise Invalid(msg, {"existing_homestead": [msg]})
        return {"one_household_checked": True}


class HomesteadVillageReviewForm(FormSchema):
    title_zh = "宅基地村级审查"
    decision = choice("审查结论", {"forward": "审查通过，签署意见报乡镇", "return": "退回申请人补正",
                                   "refuse": "不予同意"})
    materials_genuine = flag("申请材料真实有效")
    fits_plan = flag("符合村庄规划和用地计划")
    neighbours_agree = flag("四邻无异议")
    opinion = text("审查意见")

    @validates_schema
    def _all_checked_before_forwarding(self, data: dict, **kwargs: Any) -> None:
        if data.get("decision") != "forward":
            return
        missing = {name: [f"报乡镇审批前须确认“{self.fields[name].metadata['label']}”"]
                   for name in ("materials_genuine", "fits_plan", "neighbours_agree") if not data.get(name)}
        if missing:
            raise ValidationError(missing)


class HomesteadApprovalForm(FormSchema):
    title_zh = "乡镇宅基地联审"
    decision = choice("审批结论", {"approve": "批准", "return": "退回村级补充材料", "refuse": "不予批准"})
    site_inspected_on = day("实地审查日期")
    agriculture_opinion = text("农业农村部门意见")
    natural_resources_opinion = text("自然资源部门意见", help="含是否符合国土空间规划、是否占用农用地")
    approval_no = line("《农村宅基地批准书》编号", required=False, help="批准时必填")
    planning_permit_no = line("乡村建设规划许可证编号", required=False, help="批准时必填")
    approved_area_m2 = quantity("批准用地面积", unit="平方米", required=False, help="批准时必填")
    reason = text("理由", required=False, help="退回或不予批准时必须写明")

    @validates_schema
    def _fields_for_the_decision(self, data: dict, **kwargs: Any) -> None:
        require_fields(data, data.get("decision") == "approve", {
            "approval_no": "批准时须填写《农村宅基地批准书》编号",
            "planning_permit_no": "批准时须填写乡村建设规划许可证编号",
            "approved_area_m2": "批准时须填写批准用地面积"})
        require_fields(data, data.get("decision") in ("return", "refuse"), {"reason": "退回或不予批准时必须写明理由"})

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "site_inspected_on", since_case=True)
        if values["decision"] == "approve":
            applied = stored_amount(latest_data(ctx, "homestead_application").get("area_m2"))
            if applied is not None and values["approved_area_m2"] > applied:
                msg = f"批准面积不能超过申请面积（{applied}平方米）"
                raise Invalid(msg, {"approved_area_m2": [msg]})
            cap = setting(ctx, "homestead_max_area_m2")
            if cap is not None and values["approved_area_m2"] > Decimal(str(cap)):
                msg = f"批准面积超过本省规定的上限（{cap}平方米）"
                raise Invalid(msg, {"approved_area_m2": [msg]})
        return {}


class HomesteadSiteCheckForm(FormSchema):
    title_zh = "宅基地实地检查"
    checked_on = day("检查日期")
    inspectors = line("到场人员", help="姓名用顿号分隔")
    result = choice("检查结果", {"pass": "符合批准要求", "rectify": "不符合，责令整改后复查"})
    notes = text("检查情况")

    def check(self, values: dict, ctx: CheckContext) -> dict:
        check_dates(values, ctx, "checked_on", since_case=True)
        return {}


HOMESTEAD_FORMS: dict[str, type[FormSchema]] = {
    "homestead_application": HomesteadApplicationForm,
    "homestead_village_review": HomesteadVillageReviewForm,
    "homestead_approval": HomesteadApprovalForm,
    "homestead_site_check": HomesteadSiteCheckForm,
}

for _key, _schema in HOMESTEAD_FORMS.items():
    register_service_form(_key, _schema)

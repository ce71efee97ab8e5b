"""Forms of A6 村级印章使用 and A7 村干部误工补贴.

Each form is an :class:`engine.forms.shared.ItemForm` (see ``engine/forms/shared.py`` for the linked
resolution and the rule-set version). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

from decimal import Decimal

from ..domain.errors import Forbidden
from ..domain.money import stored_amount
from .base import (
    CheckContext,
    FormSchema,
    check_dates,
    choice,
    day,
    flag,
    latest_row,
    line,
    local_today,
    money,
    register,
    text,
)
from .shared import (
    ItemForm,
    case_ref,
    integer,
    latest,
    line_amount,
    linked_resolution,
    parse_lines,
    refuse,
    yuan,
)

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


OFFICE_FORMS: dict[str, type[FormSchema]] = {
    "seal_request": SealRequestForm,
    "seal_log": SealLogForm,
    "allowance_list": AllowanceListForm,
}

for _key, _schema in OFFICE_FORMS.items():
    register(_key, _schema)

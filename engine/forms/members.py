"""Forms of A9 集体经济组织成员认定, A10 土地征收补偿款分配 and R33 年度民主评议 (annual appraisal).

Each form is an :class:`engine.forms.shared.ItemForm` (see ``engine/forms/shared.py`` for the linked
resolution and the rule-set version). Field tables: ``docs/forms.md``.
"""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from ..domain import rules
from ..domain.clock import LOCAL_TZ
from ..domain.errors import Invalid
from ..store.models import Case, ProcessDefinition
from .base import (
    CheckContext,
    FormSchema,
    check_dates,
    choice,
    completed_rows,
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
    MEMBER_CONFIRMATION,
    WITHDRAW_HELP,
    ItemForm,
    case_ref,
    integer,
    latest,
    linked_resolution,
    parse_lines,
    refuse,
    withdraw_only_on_revision,
)

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
        withdraw_only_on_revision(values, ctx)
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
        check_dates(values, ctx, "held_on")
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
        check_dates(values, ctx, "held_on")
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
            vote = next((r for r in completed_rows(ctx, newest_first=True, case_id=other.id) if r.form == "appraisal_vote"
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


MEMBER_FORMS: dict[str, type[FormSchema]] = {
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

for _key, _schema in MEMBER_FORMS.items():
    register(_key, _schema)

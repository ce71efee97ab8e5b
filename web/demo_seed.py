"""Seed the demo village with cases at different stages, so the demo shows a lived-in village:
one decision finished (two board entries), one whose resolution is in its notice period, and
one waiting for the 党员大会. Runs only when the village has no cases yet."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from engine.domain.clock import LOCAL_TZ
from engine.services import Engine
from engine.store.models import Case, Village


class _Clock:
    def __init__(self, start: datetime):
        self.value = start

    def __call__(self) -> datetime:
        return self.value


def _meeting(day: datetime, attended: int, approve: int, oppose: int, minutes: str) -> dict:
    # The day in Beijing: from 16:00 UTC on, the UTC date is the day before the case's start date.
    return {"held_on": day.astimezone(LOCAL_TZ).date().isoformat(), "attended": attended, "approve": approve, "oppose": oppose,
            "abstain": attended - approve - oppose, "minutes": minutes}


def _step(engine: Engine, clock: _Clock, case: dict, username: str, name: str, data: dict, hours: int = 20) -> dict:
    clock.value += timedelta(hours=hours)
    task = next(t for t in case["tasks"] if t["name"] == name and t["state"] == "ready")
    return engine.complete_task(username, task["id"], data)


def _to_resolution_posted(engine: Engine, clock: _Clock, title: str, summary: str, amount: str) -> dict:
    case = engine.start_case("zhang", "major-decision", "demo-001", title,
                             {"title": title, "summary": summary, "amount": amount, "matter": "public_welfare"})
    ok = {"decision": "approve"}
    case = _step(engine, clock, case, "zhang", "two_committees", _meeting(clock.value, 7, 6, 1, f"两委会议商议：{title}"))
    case = _step(engine, clock, case, "zhao", "review_two_committees", ok)
    case = _step(engine, clock, case, "zhang", "party_members", _meeting(clock.value, 26, 22, 2, f"党员大会审议：{title}"))
    case = _step(engine, clock, case, "zhao", "review_party_members", ok)
    case = _step(engine, clock, case, "wang", "representatives",
                 _meeting(clock.value, 25, 21, 2, f"村民代表会议表决：{title}"))
    case = _step(engine, clock, case, "qian", "review_resolution", ok)
    case = _step(engine, clock, case, "wang", "draft_resolution_disclosure",
                 {"content": f"经村民代表会议表决通过：{summary}（赞成21票，反对2票，弃权2票）。", "notice_days": 7})
    return _step(engine, clock, case, "zhao", "review_resolution_disclosure", ok)


def seed(engine: Engine) -> int:
    """Create the demo cases; return how many were created (0 when the village has some)."""
    with engine.sessions() as s:
        village = s.scalar(select(Village).where(Village.code == "demo-001"))
        if village is None or s.scalar(select(func.count()).select_from(Case).where(Case.village_id == village.id)):
            return 0
    with engine.transaction() as s:
        # R2: the demo village's 村民会议 has authorised its 村民代表会议 to decide Art. 24 matters,
        # so the demo's resolutions can be linked from spending, asset and allowance items.
        village = s.scalar(select(Village).where(Village.code == "demo-001"))
        village.settings = {**(village.settings or {}), "assembly_authorisation":
                            "2026年1月10日村民会议决定：授权村民代表会议讨论决定第二十四条所列事项（演示）"}
    now = engine.now()
    clock = _Clock(now - timedelta(days=40))
    past = Engine(engine.sessions, clock, engine.catalog)

    done = _to_resolution_posted(past, clock, "村文化广场照明改造", "更换广场路灯24盏", "36000")
    clock.value += timedelta(days=8)
    past.run_timers()
    done = past.get_case("zhang", done["id"])
    done = _step(past, clock, done, "wang", "implement", {"summary": "已更换路灯24盏并验收合格", "amount_spent": "35200.00"})
    done = _step(past, clock, done, "zhao", "review_implementation", {"decision": "approve"})
    done = _step(past, clock, done, "wang", "draft_result_disclosure",
                 {"content": "村文化广场照明改造完成：更换路灯24盏，实际支出35200.00元。", "notice_days": 7})
    _step(past, clock, done, "zhao", "review_result_disclosure", {"decision": "approve"})
    clock.value += timedelta(days=8)
    past.run_timers()

    clock.value = now - timedelta(days=6)
    _to_resolution_posted(past, clock, "修缮村小学围墙", "修缮村小学围墙120米，预算4.5万元", "45000")

    clock.value = now - timedelta(days=2)
    waiting = past.start_case("zhang", "major-decision", "demo-001", "新建村卫生室",
                              {"title": "新建村卫生室", "summary": "在村委会东侧新建卫生室80平方米", "amount": "260000"})
    waiting = _step(past, clock, waiting, "zhang", "two_committees", _meeting(clock.value, 7, 7, 0, "两委会议商议新建卫生室"))
    _step(past, clock, waiting, "zhao", "review_two_committees", {"decision": "approve"})
    # 速查快办: a lead nobody has accepted in 15 working days (flagged overdue on the lead desk) and
    # a real-name lead accepted for 初步核实 with its 速查快办 record.
    clock.value = now - timedelta(days=35)
    past.file_lead({"village": "demo-001", "category": "sanzi",
                    "text": "村集体鱼塘承包费近三年没有在公开栏公布，去向不明，请核查。"})
    clock.value = now - timedelta(days=3)
    past.file_lead({"village": "demo-001", "category": "dibao", "name": "刘村民", "contact": "13800000000",
                    "text": "村民某某家有小汽车和门面房仍在领低保，评议时没有公开，请核查。"})
    lead_case = past.leads_desk("wu")["leads"][0]["case"]
    intake = next(t for t in past.get_case("wu", lead_case)["tasks"] if t["name"] == "lead_intake")
    past.complete_task("wu", intake["id"], {
        "decision": "accept", "disposition": "preliminary_verification", "responsible_unit": "示范镇纪委",
        "handler": "吴纪委", "complete_by": workday_after(now, 14).isoformat(),
        "standard": "入户核实家庭经济状况，结论书面反馈反映人"})
    # 县纪委督办 the lead left unaccepted (徐纪委 `xu`; 吴纪委 gets the notice)
    overdue_case = past.leads_desk("xu")["leads"][1]["case"]
    past.supervise_lead("xu", overdue_case, {"reason": "超过15个工作日未受理，县纪委督办",
                                             "due": workday_after(now, 5).isoformat()})
    _assets(past, clock, now)
    engine.run_timers()
    return 3


def _assets(past: Engine, clock: _Clock, now: datetime) -> None:
    """三资 (issue 13): the village's register, a fish pond contracted out whose second half-year's
    fee is due and not yet received (应收未收, told to the 报账员 and the township agency)."""

    today = now.astimezone(LOCAL_TZ).date()
    clock.value = now - timedelta(days=200)
    pond = past.add_asset("sun", "demo-001", {
        "entity": "cooperative", "category": "resource", "code": "ZY-012", "name": "村东鱼塘", "location": "村东大堤外",
        "quantity": "20", "unit": "亩", "status": "idle", "note": "2019年清产核资登记"})
    past.add_asset("sun", "demo-001", {
        "entity": "committee", "category": "non_operating", "code": "FJ-003", "name": "村文化礼堂",
        "location": "村委会东侧", "quantity": "350.5", "unit": "平方米", "original_value": "48万",
        "book_value": "412,500.50", "acquired_on": "2019-06-01"})
    past.add_asset("sun", "demo-001", {
        "entity": "cooperative", "category": "operating", "code": "JY-007", "name": "村集体仓库",
        "location": "村委会西侧", "quantity": "600", "unit": "平方米", "original_value": "30万",
        "book_value": "254,000.50", "acquired_on": "2015-10-01", "status": "idle"})
    starts = (now - timedelta(days=190)).astimezone(LOCAL_TZ).date()
    contract = past.add_contract("sun", "demo-001", {
        "entity": "cooperative", "kind": "contracting", "subject": "村东鱼塘20亩", "counterparty": "张三",
        "starts_on": starts.isoformat(), "ends_on": starts.replace(year=starts.year + 5).isoformat(),
        "amount": "3000.00", "every_months": 6, "asset": pond["id"]})
    clock.value = now - timedelta(days=185)
    past.add_receipt("sun", "demo-001", {
        "received_on": (today - timedelta(days=185)).isoformat(), "entity": "cooperative", "amount": "3000.00",
        "account": "经营收入/承包收入", "summary": "村东鱼塘上半年承包费", "counterparty": "张三",
        "contract": contract["id"]})


def workday_after(now, days: int):
    """The ``days``-th working day after ``now`` (a 完成时限 must be a working day)."""
    from engine.domain.clock import LOCAL_TZ
    from engine.process.workdays import Calendar

    return Calendar().add(now.astimezone(LOCAL_TZ).date(), days)[0]

"""Complaint leads (问题线索, 速查快办): CONTRACT "Complaint leads", DOMAIN.md §5 (R56–R60).

The reporter has no account: a lead is filed with ``POST /api/v1/leads`` and followed by its query
code. The township 纪委 (吴纪委, ``wu``) handles it, the county 纪委 (徐纪委, ``xu``) reviews an
objection; village roles never see it. Deadlines count Chinese working days.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlalchemy import func, select

from engine.domain.clock import LOCAL_TZ
from engine.process.workdays import Calendar, parse_schedule
from engine.store.models import AuditEvent, Case, Lead, RoleAssignment, User, Village

LEAD = {"village": "demo-001", "text": "村里的集体鱼塘承包费去向不明，请核查。", "category": "sanzi",
        "name": "刘反映", "contact": "13800138000"}
ACCEPT = {"decision": "accept", "disposition": "preliminary_verification", "responsible_unit": "示范镇纪委",
          "handler": "吴经办", "complete_by": "2026-04-30", "standard": "查清承包费收支并公开"}
RESULT_OK = {"finding": "substantiated", "summary": "承包费未入账", "rectification": "已追缴入账并公开",
             "cause_found": True, "people_dealt_with": True, "rectified": True, "educated": True}


def _due_day(answer: dict) -> date:
    due = datetime.fromisoformat(answer["accept_due"]).astimezone(LOCAL_TZ)
    assert (due.hour, due.minute, due.second) == (23, 59, 59), "the end of the day, Beijing time"
    return due.date()


class Lead_:
    """One lead through the API: the reporter (no account), 吴纪委 and 徐纪委."""

    def __init__(self, app, api, **changes):
        self.app, self.api = app, api
        self.public = api(None)
        self.wu, self.xu = api("wu"), api("xu")
        r = self.public.post("/leads", json={**LEAD, **changes})
        assert r.status_code == 201, r.get_json()
        self.filed = r.get_json()
        self.code = self.filed["code"]
        with app.app_context():
            with app.extensions["cunwu"].sessions() as s:
                self.case_id = s.scalar(select(Lead.case_id).where(Lead.code == self.code))

    def status(self) -> dict:
        r = self.public.get(f"/leads/{self.code}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def case(self, who=None) -> dict:
        return (who or self.wu).get(f"/instances/{self.case_id}").get_json()

    def task(self, name: str, who=None) -> dict:
        tasks = [t for t in self.case(who)["tasks"] if t["name"] == name and t["state"] == "ready"]
        assert tasks, f"{name} is not ready: {[t['name'] for t in self.case(who)['tasks']]}"
        return tasks[0]

    def do(self, name: str, data: dict, who=None, status: int = 200):
        who = who or self.wu
        r = who.post(f"/tasks/{self.task(name, who)['id']}/complete", json={"data": data})
        assert r.status_code == status, r.get_json()
        return r.get_json()


@pytest.fixture
def lead(app, api):
    return lambda **changes: Lead_(app, api, **changes)


# ---------------------------------------------------------------------------- working days


@pytest.mark.parametrize(("received", "due"), [
    # An ordinary Monday (16:00 Beijing): 15 working days later, Monday 23 March.
    (datetime(2026, 3, 2, 8, 0, tzinfo=UTC), date(2026, 3, 23)),
    # Received the day before 国庆: 10-01…10-07 do not count, the 调休 Saturday 10-10 does.
    (datetime(2026, 9, 30, 8, 0, tzinfo=UTC), date(2026, 10, 27)),
    # 23:30 Beijing on 09-29 is still 09-29; 00:30 Beijing on 09-30 is 09-30 (UTC is a day behind).
    (datetime(2026, 9, 29, 15, 30, tzinfo=UTC), date(2026, 10, 26)),
    (datetime(2026, 9, 29, 16, 30, tzinfo=UTC), date(2026, 10, 27)),
    # Received the Friday before 春节: the 调休 Saturdays 02-14 and 02-28 count, 02-15…02-23 do not.
    (datetime(2026, 2, 13, 2, 0, tzinfo=UTC), date(2026, 3, 12)),
    # Received on the 调休 Saturday 02-14 itself: the day of receipt never counts.
    (datetime(2026, 2, 14, 2, 0, tzinfo=UTC), date(2026, 3, 13)),
])
def test_accept_due_is_the_end_of_the_15th_working_day(app, api, clock, received, due):
    """R57: the acceptance notice within 15 working days, by the State Council's schedule."""
    clock.value = received
    r = api(None).post("/leads", json=LEAD)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert _due_day(body) == due
    assert body["accept_due_estimated"] is False and "accept_due_note" not in body
    assert datetime.fromisoformat(body["received_at"]) == received


def test_a_year_without_a_schedule_counts_weekdays_and_says_so(app, api, clock):
    """A lead in late December 2026 runs into 2027, which chinesecalendar 1.11 does not know: the
    engine counts Monday to Friday, says so, and uses the schedule once an admin loads it."""
    clock.value = datetime(2026, 12, 20, 2, 0, tzinfo=UTC)  # a Sunday
    first = api(None).post("/leads", json=LEAD).get_json()
    assert _due_day(first) == date(2027, 1, 8)  # 2027-01-01 counted as a plain Friday
    assert first["accept_due_estimated"] is True
    assert "2027年节假日安排尚未载入" in first["accept_due_note"]
    desk = api("wu").get("/leads").get_json()
    assert any("2027年" in note for note in desk["calendar_notes"])

    schedule = {"year": 2027, "holidays": [{"from": "2027-01-01", "to": "2027-01-03", "name": "元旦"}],
                "workdays": []}
    path = app.instance_path + "/holidays-2027.yaml"
    import os

    os.makedirs(app.instance_path, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(schedule, f, allow_unicode=True)
    result = app.test_cli_runner().invoke(args=["holidays", "load", path])
    assert result.exit_code == 0, result.output
    second = api(None).post("/leads", json={**LEAD, "text": "另一条线索"}).get_json()
    assert _due_day(second) == date(2027, 1, 11) and second["accept_due_estimated"] is False
    assert _due_day(api(None).get(f"/leads/{first['code']}").get_json()) == date(2027, 1, 8)  # never moved


def test_calendar_and_schedule_files():
    cal = Calendar()
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 10, 10))  # 调休 Saturdays
    assert not cal.is_workday(date(2026, 10, 5)) and not cal.is_workday(date(2026, 2, 16))
    assert cal.add(date(2026, 9, 30), 5) == (date(2026, 10, 13), False)  # R56: forwarding within 5
    with pytest.raises(ValueError, match="不在2027年"):
        parse_schedule({"year": 2027, "holidays": [{"from": "2026-12-31", "to": "2027-01-01"}]})
    with pytest.raises(ValueError, match="同时列为放假和上班"):
        parse_schedule({"year": 2027, "holidays": [{"from": "2027-01-01"}], "workdays": ["2027-01-01"]})
    with pytest.raises(ValueError, match="holidays 不能为空"):
        parse_schedule({"year": 2027, "holidays": []})


def test_a_bad_schedule_file_is_refused_naming_the_entry(app, tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("year: 2027\nholidays:\n  - {from: 2026-12-31}\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["holidays", "load", str(path)])
    assert result.exit_code == 1 and "holidays 第1项" in result.output


# ---------------------------------------------------------------------------- the reporter


def test_file_a_lead_and_follow_it_by_code(app, api, clock):
    r = api(None).post("/leads", json=LEAD)
    assert r.status_code == 201
    body = r.get_json()
    assert {"code", "status", "received_at", "accept_due"} <= set(body)
    assert body["status"] == "received" and len(body["code"]) >= 10 and body["real_name"] is True
    status = api(None).get(f"/leads/{body['code']}").get_json()
    assert status["status"] == "received" and status["accept_due"] == body["accept_due"]
    # the code is typed as printed (groups, any case)
    assert api(None).get(f"/leads/{body['code_display'].lower()}").status_code == 200
    assert api(None).get("/leads/AAAAAAAAAAAA").status_code == 404
    assert api(None).get("/leads/x").status_code == 404


def test_codes_are_unguessable(app, api):
    codes = {api(None).post("/leads", json={**LEAD, "text": f"线索{i}"},
                            environ_base={"REMOTE_ADDR": f"10.0.0.{i}"}).get_json()["code"] for i in range(5)}
    assert len(codes) == 5 and all(len(c) >= 10 for c in codes)


def test_anonymous_unless_both_name_and_contact(app, api):
    assert api(None).post("/leads", json={**LEAD, "contact": ""}).get_json()["real_name"] is False
    anonymous = {"village": "demo-001", "text": "匿名反映"}
    body = api(None).post("/leads", json=anonymous, environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_json()
    assert body["real_name"] is False and body["category"] == "other"
    chinese = api(None).post("/leads", json={**anonymous, "category": "低保"},
                             environ_base={"REMOTE_ADDR": "10.0.0.9"}).get_json()
    assert chinese["category"] == "dibao"


def test_bad_leads_answer_422_on_every_field_and_change_nothing(app, api):
    def counts():
        with app.app_context():
            with app.extensions["cunwu"].sessions() as s:
                return (s.scalar(select(func.count()).select_from(Lead)),
                        s.scalar(select(func.count()).select_from(Case)),
                        s.scalar(select(func.count()).select_from(AuditEvent)))

    before = counts()
    client = api(None)
    bad = {"village": "nowhere", "text": "", "category": "赌博", "case": "6", "channel": "phone",
           "colour": "red", "township_official": "yes"}
    r = client.post("/leads", json=bad, environ_base={"REMOTE_ADDR": "10.9.0.1"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert set(error["fields"]) == {"village", "text", "category", "case", "channel", "colour", "township_official"}
    assert "反映内容" in error["message"] and "village" not in error["message"].split("：", 1)[1]
    for body in ({"text": "没写村"}, {"village": "demo-001", "text": "x" * 5001},
                 {"village": "demo-001", "text": "有", "name": 5}, {"village": "demo-001", "text": "有", "case": 6.5},
                 {"village": "demo-001", "text": "有", "case": 99999}, {"village": "demo-001", "text": "有", "entry": 1},
                 {"village": "demo-001", "text": "有", "case": True}):
        r = client.post("/leads", json=body, environ_base={"REMOTE_ADDR": "10.9.0.2"})
        assert r.status_code == 422, body
        app.extensions["cunwu_lead_limiter"]._hits.clear()
    assert counts() == before


def test_leads_are_rate_limited_per_client(app, api):
    client = app.test_client()
    statuses = [client.post("/api/v1/leads", json=LEAD, environ_base={"REMOTE_ADDR": "10.2.2.2"}).status_code
                for _ in range(7)]
    limit = app.extensions["cunwu_lead_limiter"].limit
    assert statuses[:limit] == [201] * limit and set(statuses[limit:]) == {429}
    r = client.post("/api/v1/leads", json=LEAD, environ_base={"REMOTE_ADDR": "10.2.2.3"})
    assert r.status_code == 201


def test_a_lead_is_not_started_as_a_case(app, api):
    r = api("wu").post("/instances", json={"process": "complaint-lead", "village": "demo-001", "title": "线索",
                                           "data": {}})
    assert r.status_code == 422 and "leads" in r.get_json()["error"]["message"]


def test_a_cadre_enters_a_phone_call(app, api):
    r = api("wu").post("/leads", json={**LEAD, "channel": "phone"})
    assert r.status_code == 201 and r.get_json()["channel_name"] == "来电"
    r = api("zhang").post("/leads", json={**LEAD, "channel": "letter"})
    assert r.status_code == 422 and "channel" in r.get_json()["error"]["fields"]


# ---------------------------------------------------------------------------- the process


def test_accept_verify_feedback_rate(lead, clock):
    """R57/R58/R59 end to end: accepted with a disposition, 四个不放过 before closing, feedback, rating."""
    one = lead()
    intake = one.task("lead_intake")
    assert intake["due_at"] == one.filed["accept_due"] and intake["form"] == "lead_intake"
    assert one.public.post(f"/leads/{one.code}/rating", json={"score": 5}).status_code == 409  # no feedback yet
    clock.advance(days=2)
    one.do("lead_intake", ACCEPT)
    status = one.status()
    assert status["status"] == "accepted" and status["disposition"] == "preliminary_verification"
    assert status["accepted_at"]

    # R59: substantiated without the four checks and the rectification: 422 on each, nothing changes
    body = one.do("lead_result", {"finding": "substantiated", "summary": "属实", "cause_found": True},
                  status=422)
    assert set(body["error"]["fields"]) == {"rectification", "people_dealt_with", "rectified", "educated"}
    assert body["error"]["message"].startswith("表单填写有误：整改情况：")  # labels, never keys
    assert all("四个不放过" in body["error"]["fields"][k][0] for k in ("people_dealt_with", "rectified", "educated"))
    assert one.status()["status"] == "accepted"
    one.do("lead_result", RESULT_OK)
    status = one.status()
    assert status["status"] == "closed" and status["finding"] == "substantiated"
    # R59 一案双查: the record links the 主体责任 (村党组织书记) and the 监督责任 (监委会, 乡镇纪委)
    links = {x["role"]: x["people"] for x in one.case()["lead"]["dual_inquiry"]}
    assert links == {"party_secretary": ["张书记"], "supervisor": ["赵监委", "钱监委"], "discipline_inspector": ["吴纪委"]}
    assert any("一案双查" in h["summary"] and "张书记" in h["summary"] for h in one.case()["history"])
    assert "张书记" not in json.dumps(status, ensure_ascii=False)  # not on the reporter's page
    feedback = one.task("lead_feedback")
    due = datetime.fromisoformat(feedback["due_at"]).astimezone(LOCAL_TZ).date()
    assert due == date(2026, 3, 25)  # R57: 15 working days after closing on 2026-03-04

    one.do("lead_feedback", {"feedback": "经核查，反映的问题属实，承包费已追缴入账。"})
    status = one.status()
    assert status["feedback"].startswith("经核查") and status["can_rate"] and status["can_object"]
    for bad in ({"score": 6}, {"score": "5"}, {"score": 4.5}, {"score": True}, {}):
        assert one.public.post(f"/leads/{one.code}/rating", json=bad).status_code == 422, bad
        one.app.extensions["cunwu_lead_limiter"]._hits.clear()
    r = one.public.post(f"/leads/{one.code}/rating", json={"score": 4, "comment": "处理及时"})
    assert r.status_code == 201 and r.get_json()["rating"]["score"] == 4
    assert one.public.post(f"/leads/{one.code}/rating", json={"score": 5}).status_code == 409
    one.app.extensions["cunwu_lead_limiter"]._hits.clear()

    # the objection period runs out: the case ends
    clock.advance(days=31)
    assert one.app.test_cli_runner().invoke(args=["timers", "run"]).exit_code == 0
    assert one.case()["status"] == "completed"
    assert one.public.post(f"/leads/{one.code}/objection", json={"text": "不服"}).status_code == 409


def test_not_accepted_needs_a_reason(lead):
    one = lead()
    body = one.do("lead_intake", {"decision": "not_accepted"}, status=422)
    assert set(body["error"]["fields"]) == {"reason"}
    body = one.do("lead_intake", {"decision": "accept"}, status=422)
    assert set(body["error"]["fields"]) == {"disposition"}
    one.do("lead_intake", {"decision": "not_accepted", "reason": "属于诉讼事项，请向人民法院起诉"})
    status = one.status()
    assert status["status"] == "not_accepted" and status["reason"].startswith("属于诉讼")
    assert one.case()["status"] == "completed"


def test_forwarding_after_five_working_days_is_on_the_record(lead, clock):
    """R56: forwarding happens within 5 working days; a late one says so in the history."""
    one = lead()
    clock.advance(days=8)
    one.do("lead_intake", {"decision": "forward", "reason": "属县级管辖，移送县纪委"})
    assert one.status()["status"] == "forwarded"
    summaries = [h["summary"] for h in one.case()["history"]]
    assert any("超过5个工作日转办期限" in s for s in summaries)


def test_a_shelved_lead_reopens_on_new_evidence(lead):
    """R58: 暂存待查 re-opens on new evidence."""
    one = lead()
    one.do("lead_intake", {"decision": "accept", "disposition": "shelve"})
    assert one.status()["disposition"] == "shelve"
    one.do("lead_shelved", {"decision": "reopen", "reason": "反映人补充了收据照片"})
    one.do("lead_result", {"finding": "unsubstantiated", "summary": "经核实不属实"})
    assert one.status()["finding"] == "unsubstantiated"
    assert one.task("lead_feedback")


def test_an_objection_reopens_the_lead_for_the_county(lead, clock):
    """R57: the reporter's objection is recorded and answered: the county reviews the lead."""
    one = lead()
    one.do("lead_intake", {"decision": "accept", "disposition": "close"})
    assert one.status()["status"] == "closed"
    one.do("lead_feedback", {"feedback": "经了解，问题已解决，予以了结。"})
    r = one.public.post(f"/leads/{one.code}/objection", json={"text": "问题没有解决"})
    assert r.status_code == 201
    assert [t["name"] for t in one.wu.get("/tasks").get_json() if t["case"] == one.case_id] == []
    review = [t for t in one.xu.get("/tasks").get_json() if t["case"] == one.case_id]
    assert [t["name"] for t in review] == ["lead_review"]
    assert one.public.post(f"/leads/{one.code}/objection", json={"text": "再次异议"}).status_code == 409
    one.do("lead_review", {"decision": "reinvestigate", "opinion": "责成乡镇纪委重新核查"}, who=one.xu)
    assert one.status()["status"] == "accepted" and one.status()["review"].startswith("责成")
    one.do("lead_result", RESULT_OK)
    one.do("lead_feedback", {"feedback": "重新核查后问题属实，已整改。"})
    clock.advance(minutes=1)
    one.app.test_cli_runner().invoke(args=["timers", "run"])
    assert one.case()["status"] == "completed"


# ---------------------------------------------------------------------------- confidentiality (R60)


def _lead_json(value) -> str:
    return json.dumps(value, ensure_ascii=False)


def test_village_roles_never_see_a_lead(lead, api):
    one = lead()
    for who in ("zhang", "wang", "li", "zhao", "qian", "sun", "chen", "zhou", "he"):
        client = api(who)
        assert client.get(f"/instances/{one.case_id}").status_code in (403, 404), who
        assert all(t["case"] != one.case_id for t in client.get("/tasks").get_json()), who
        task_id = one.task("lead_intake")["id"]
        assert client.get(f"/tasks/{task_id}").status_code in (403, 404), who
        assert client.post(f"/tasks/{task_id}/complete", json={"data": ACCEPT}).status_code in (403, 404), who
        assert client.get(f"/instances/{one.case_id}/diagram").status_code in (403, 404), who
        assert client.get("/leads").status_code == 403, who


def test_identity_only_for_the_inspectors_and_every_view_is_audited(lead, api, app):
    one = lead()
    one.do("lead_intake", ACCEPT)
    for who in ("wu", "xu"):
        case = api(who).get(f"/instances/{one.case_id}").get_json()
        assert case["lead"]["name"] == "刘反映" and case["lead"]["contact"] == "13800138000"
        assert case["lead"]["text"] == LEAD["text"] and "code" not in case["lead"]
        assert case["lead"]["assignment"]["handler"] == "吴经办"
    admin = api("admin").get(f"/instances/{one.case_id}").get_json()
    assert "name" not in admin["lead"] and "contact" not in admin["lead"]
    assert "刘反映" not in _lead_json(admin)
    history = one.case()["history"]
    reads = [h for h in history if h["action"] == "read_personal"]
    assert {h["actor"] for h in reads} >= {"吴纪委", "徐纪委"}
    assert any(h["action"] == "read_lead" and h["actor"] == "管理员" for h in history)
    # the reporter's page never shows the name, the contact or who handles it
    public = _lead_json(one.status())
    for secret in ("刘反映", "13800138000", "吴经办", "吴纪委", "示范镇纪委"):
        assert secret not in public
    # nor does the case's history carry them
    assert "刘反映" not in _lead_json(history) and "13800138000" not in _lead_json(history)


def test_a_lead_about_a_township_official_goes_to_the_county(lead, api):
    one = lead(township_official=True)
    assert api("wu").get(f"/instances/{one.case_id}").status_code == 404
    assert all(t["case"] != one.case_id for t in api("wu").get("/tasks").get_json())
    assert one.case_id not in [x["case"] for x in api("wu").get("/leads").get_json()["leads"]]
    one.do("lead_intake", ACCEPT, who=one.xu)
    assert one.status()["status"] == "accepted"


def test_another_townships_inspector_sees_nothing(lead, api, app):
    one = lead()
    with app.app_context():
        engine = app.extensions["cunwu"]
        with engine.transaction() as s:
            from werkzeug.security import generate_password_hash

            s.add(Village(code="far-001", name="远村", township="远镇", county="远县", adults=10, households=5,
                          party_members=3, representatives=5, two_committees=3))
            user = User(username="far", name="远纪委", password_hash=generate_password_hash("demo123"))
            user.roles.append(RoleAssignment(role="discipline_inspector", township="远镇"))
            s.add(user)
    far = api("far")
    assert far.get(f"/instances/{one.case_id}").status_code == 403
    assert far.get("/leads").get_json()["leads"] == []


def test_desk_flags_overdue_leads_with_statistics(lead, api, clock):
    one = lead()
    two = lead(category="dibao", text="低保评议不公开", name=None, contact=None)
    two.do("lead_intake", ACCEPT)
    clock.value = datetime.fromisoformat(one.filed["accept_due"]) + timedelta(minutes=1)
    desk = api("wu").get("/leads").get_json()
    by_case = {x["case"]: x for x in desk["leads"]}
    assert by_case[one.case_id]["overdue"] is True and by_case[one.case_id]["accept_late"] is True
    assert by_case[two.case_id]["accept_late"] is False
    stats = desk["stats"]
    assert stats["total"] == 2 and {"name": "低保", "count": 1} in stats["by_category"]
    assert stats["on_time_rate"] == 0.5
    assert api("xu").get("/leads").get_json()["stats"]["total"] == 2
    assert api("wu").get("/leads?status=accepted").get_json()["stats"]["total"] == 1


def test_lead_forms_are_documented():
    from pathlib import Path

    from engine.forms.leads import LEAD_FORMS

    docs = (Path(__file__).resolve().parent.parent / "docs" / "forms.md").read_text(encoding="utf-8")
    contract = Path(__file__).resolve().parent.parent.parent / "shared" / "CONTRACT.md"
    if contract.exists():  # the contract's three rows, exactly as they are (extended after them)
        for row in contract.read_text(encoding="utf-8").splitlines():
            if row.startswith(("| `lead_intake` |", "| `lead_result` |", "| `lead_feedback` |")):
                documented = next(r for r in docs.splitlines() if r.startswith(f"|{row.split('|')[1]}|"))
                assert documented.rstrip(" |").startswith(row.rstrip(" |").rstrip("|").rstrip())
    for key, schema in LEAD_FORMS.items():
        row = next((r for r in docs.splitlines() if r.startswith(f"| `{key}` |")), None)
        assert row, f"{key} is not in docs/forms.md"
        for name in schema().fields:
            assert f"`{name}`" in row, f"{key}.{name} is not documented"


# ---------------------------------------------------------------------------- the pages


def _web(app, username=None):
    client = app.test_client()
    if username:
        r = client.post("/login", data={"username": username, "password": "demo123"})
        assert r.status_code in (302, 303)
    return client


def test_public_form_receipt_and_lookup_pages(app):
    client = _web(app)
    board = client.get("/villages/demo-001/board").get_data(as_text=True)
    assert "/villages/demo-001/leads/new" in board and "/leads/lookup" in board
    page = client.get("/villages/demo-001/leads/new?via=qr")
    assert page.status_code == 200 and "反映问题" in page.get_data(as_text=True)
    bad = client.post("/villages/demo-001/leads/new", data={"text": "", "via": "qr"})
    assert bad.status_code == 422 and "请填写反映内容" in bad.get_data(as_text=True)
    r = client.post("/villages/demo-001/leads/new", data={"text": "村道工程偷工减料", "category": "project",
                                                          "name": "王村民", "contact": "13700000000", "via": "qr"})
    assert r.status_code == 201
    html = r.get_data(as_text=True)
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            lead = s.scalar(select(Lead).order_by(Lead.id.desc()))
            code, channel = lead.code, lead.channel
    assert channel == "qr" and code[:4] in html and "查询码" in html and "受理期限" in html
    status = client.post("/leads/lookup", data={"code": code.lower()})
    text = status.get_data(as_text=True)
    assert status.status_code == 200 and "已收到，待受理" in text and "王村民" not in text
    assert client.post("/leads/lookup", data={"code": "NOPE-NOPE-NOPE"}).status_code == 404


def test_inspector_pages_show_the_lead_and_village_pages_do_not(app, lead):
    one = lead()
    wu = _web(app, "wu")
    desk = wu.get("/township/leads")
    assert desk.status_code == 200 and f"/cases/{one.case_id}" in desk.get_data(as_text=True)
    page = wu.get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert "刘反映" in page and LEAD["text"] in page
    task = wu.get(f"/tasks/{one.task('lead_intake')['id']}")
    assert task.status_code == 200 and "刘反映" in task.get_data(as_text=True)
    r = wu.post(f"/tasks/{one.task('lead_intake')['id']}", data={"decision": "accept", "disposition": "close"})
    assert r.status_code in (302, 303)
    assert one.status()["status"] == "closed"
    admin = _web(app, "admin").get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert LEAD["text"] in admin and "刘反映" not in admin
    for who in ("zhang", "zhao", "zhou"):
        client = _web(app, who)
        assert client.get(f"/cases/{one.case_id}").status_code in (403, 404), who
        assert client.get("/township/leads").status_code == 403, who
        assert f"/cases/{one.case_id}" not in client.get("/cases").get_data(as_text=True), who
        assert "问题线索" not in client.get("/").get_data(as_text=True), who


def test_reporter_rates_and_objects_on_the_lookup_page(app, lead):
    one = lead()
    one.do("lead_intake", {"decision": "accept", "disposition": "close"})
    one.do("lead_feedback", {"feedback": "已核实处理。"})
    client = _web(app)
    r = client.post("/leads/lookup", data={"code": one.code, "action": "rate", "score": "3", "comment": "一般"})
    assert r.status_code == 200 and "感谢您的评价" in r.get_data(as_text=True)
    assert one.status()["rating"]["score"] == 3
    r = client.post("/leads/lookup", data={"code": one.code, "action": "object", "objection": ""})
    assert r.status_code == 422
    r = client.post("/leads/lookup", data={"code": one.code, "action": "object", "objection": "没有处理"})
    assert r.status_code == 200 and "县纪委复查" in r.get_data(as_text=True)
    assert one.status()["objection"]["text"] == "没有处理"


def test_lead_desk_exports_without_the_reporter(app, lead):
    one = lead(text="=HYPERLINK(\"x\")")
    one.do("lead_intake", {**ACCEPT, "handler": "=1+1"})
    r = _web(app, "wu").get("/township/leads/export.csv")
    text = r.get_data(as_text=True)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "刘反映" not in text and "13800138000" not in text and "HYPERLINK" not in text
    assert "'=1+1" in text and "三资" in text and "合计" in text
    assert _web(app, "zhang").get("/township/leads/export.csv").status_code == 403


def test_a_cadre_enters_a_letter_on_the_page(app, api):
    wu = _web(app, "wu")
    assert wu.get("/township/leads/new").status_code == 200
    bad = wu.post("/township/leads/new", data={"village": "demo-001", "channel": "fax", "text": ""})
    assert bad.status_code == 422 and "来源渠道只能是" in bad.get_data(as_text=True)
    r = wu.post("/township/leads/new", data={"village": "demo-001", "channel": "letter", "text": "来信反映低保优亲厚友",
                                             "category": "dibao"})
    assert r.status_code == 201 and "请把查询码告诉反映人" in r.get_data(as_text=True)
    desk = api("wu").get("/leads").get_json()
    assert desk["leads"][0]["channel_name"] == "来信"
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            lead = s.scalar(select(Lead).order_by(Lead.id.desc()))
            assert lead.entered_by is not None and lead.channel == "letter"
    assert _web(app, "zhang").get("/township/leads/new").status_code == 403


def test_the_demo_has_two_leads_one_overdue(app):
    from web.demo_seed import seed

    engine = app.extensions["cunwu"]
    seed(engine)
    desk = engine.leads_desk("wu")
    assert [x["status"] for x in desk["leads"]] == ["accepted", "received"]
    assert desk["leads"][1]["overdue"] is True and desk["leads"][0]["assignment"]["responsible_unit"] == "示范镇纪委"
    assert desk["leads"][1]["supervised"] is True and desk["stats"]["supervised"] == 1  # 县纪委督办 (issue 12)
    assert all(c["process"] != "complaint-lead" for c in engine.list_cases("zhang"))

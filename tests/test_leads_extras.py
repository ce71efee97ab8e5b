"""Complaint leads, the rest of issue 12: the reporter's photos, the 速查快办 assignment's fields,
the county's 督办 and the 一案双查 accountability records (DOMAIN.md §5, R56–R60).

吴纪委 (``wu``) is the township's discipline inspector, 徐纪委 (``xu``) the county inspector; the
village roles (``zhang`` … ``he``) never see a lead; the admin sees the lead but not the reporter.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine.domain.clock import LOCAL_TZ
from engine.store.models import Attachment, AuditEvent, Case, Lead, LeadAccountability, Notification, User
from tests.test_evidence import corrupt_jpeg, jpeg, pdf, png
from tests.test_leads import ACCEPT, RESULT_OK, Lead_, _web

VILLAGE_ROLES = ("zhang", "wang", "li", "zhao", "qian", "sun", "chen", "zhou", "he")


@pytest.fixture
def lead(app, api):
    return lambda **changes: Lead_(app, api, **changes)


def _counts(app) -> tuple[int, ...]:
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            return tuple(s.scalar(select(func.count()).select_from(m)) for m in (Lead, Case, Attachment, AuditEvent))


def _photo(client, code: str, data: bytes, name: str = "照片.jpg", ip: str = "10.7.0.1"):
    return client.post(f"/api/v1/leads/{code}/attachments", data={"file": (io.BytesIO(data), name)},
                       content_type="multipart/form-data", environ_base={"REMOTE_ADDR": ip})


def _reads(app, case_id: int, action: str = "read_personal") -> list[AuditEvent]:
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            return list(s.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == action)))


# ---------------------------------------------------------------------------- photos


def test_the_public_form_takes_photos_and_a_bad_one_changes_nothing(app):
    """The lead form on a phone: camera or files; a lead with one bad photo is refused whole (422,
    naming the file) and nothing is written, not the lead, not the good photo."""
    client = _web(app)
    page = client.get("/villages/demo-001/leads/new?via=qr").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'capture="environment"' in page and 'name="photos"' in page
    before = _counts(app)
    r = client.post("/villages/demo-001/leads/new", content_type="multipart/form-data", data={
        "text": "村道工程偷工减料", "via": "qr",
        "photos": [(io.BytesIO(png()), "路面.png"), (io.BytesIO(b"MZ\x90\x00not a photo"), "病毒.exe.jpg")]})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "第2个文件" in html and "只接受 JPEG、PNG 图片或 PDF 文件" in html
    assert _counts(app) == before
    r = client.post("/villages/demo-001/leads/new", content_type="multipart/form-data", data={
        "text": "村道工程偷工减料", "via": "qr", "photos": [(io.BytesIO(corrupt_jpeg()), "坏.jpg")]})
    assert r.status_code == 422 and _counts(app) == before

    r = client.post("/villages/demo-001/leads/new", content_type="multipart/form-data", data={
        "text": "村道工程偷工减料", "via": "qr", "name": "王村民", "contact": "13700000000",
        "photos": [(io.BytesIO(jpeg(gps=True)), "王村民举报.jpg"), (io.BytesIO(pdf()), "收据.pdf")]})
    assert r.status_code == 201 and "已收到2件" in r.get_data(as_text=True)
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            lead = s.scalar(select(Lead).order_by(Lead.id.desc()))
            atts = list(s.scalars(select(Attachment).where(Attachment.case_id == lead.case_id).order_by(Attachment.id)))
    # named neutrally (a file name may give the reporter away), bound at once, never public
    assert [a.name for a in atts] == ["线索材料1.jpg", "线索材料2.pdf"]
    assert all(a.bound_at is not None and a.uploaded_by is None and a.public_sha256 is None for a in atts)
    assert [a.content_type for a in atts] == ["image/jpeg", "application/pdf"]


def test_photos_by_code_within_the_window(app, api, lead, clock):
    """POST /leads/{code}/attachments: within 24 hours of filing and before the intake; type by
    content (422), size (413), at most 9 (409), unknown code 404; nothing stored on refusal."""
    one = lead()
    client = app.test_client()
    before = _counts(app)
    for data, name in ((b"GIF89a\x01\x00\x01\x00", "a.gif"), (b"hello", "a.jpg"), (corrupt_jpeg(), "b.jpg"), (b"", "c.png")):
        r = _photo(client, one.code, data, name)
        assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"], name
        app.extensions["cunwu_lead_limiter"]._hits.clear()
    r = client.post(f"/api/v1/leads/{one.code}/attachments", data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]
    assert _counts(app) == before
    assert _photo(client, "AAAA-AAAA-AAAA", png()).status_code == 404
    app.config["CUNWU_MAX_UPLOAD"] = 200
    assert _photo(client, one.code, png(size=(300, 300))).status_code == 413
    app.config["CUNWU_MAX_UPLOAD"] = None
    assert _counts(app) == before
    app.extensions["cunwu_lead_limiter"]._hits.clear()

    r = _photo(client, one.code, png(), "x.png")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["name"] == "线索材料1.png" and body["content_type"] == "image/png" and len(body["sha256"]) == 64
    assert set(body) == {"id", "sha256", "name", "size", "content_type"}
    for i in range(8):
        assert _photo(client, one.code, jpeg(color=(i, 2, 3)), ip=f"10.7.1.{i}").status_code == 201
    r = _photo(client, one.code, png(), ip="10.7.2.1")
    assert r.status_code == 409 and "最多" in r.get_json()["error"]["message"]
    assert "photos" not in one.status() and "sha256" not in str(one.status())  # never on the reporter's page

    two = lead(text="另一条线索")
    clock.advance(hours=25)
    r = _photo(client, two.code, png(), ip="10.7.2.2")
    assert r.status_code == 409 and "24小时" in r.get_json()["error"]["message"]
    three = lead(text="第三条线索")
    three.do("lead_intake", {"decision": "accept", "disposition": "close"})
    assert _photo(client, three.code, png(), ip="10.7.2.3").status_code == 409


def test_photos_only_for_the_inspectors_role_by_role_and_every_view_is_audited(app, api, lead):
    one = lead()
    r = _photo(app.test_client(), one.code, jpeg())
    att = r.get_json()["id"]
    for who in ("wu", "xu"):
        case = api(who).get(f"/instances/{one.case_id}").get_json()
        assert [p["id"] for p in case["lead"]["photos"]] == [att], who
        got = api(who).get(f"/attachments/{att}")
        assert got.status_code == 200 and got.data[:3] == b"\xff\xd8\xff", who
    views = [e for e in _reads(app, one.case_id) if "查看问题线索材料" in e.summary]
    assert {e.actor_name for e in views} == {"吴纪委", "徐纪委"} and len(views) == 2
    # the admin sees the lead, not the reporter nor the photos
    admin = api("admin")
    assert "photos" not in admin.get(f"/instances/{one.case_id}").get_json()["lead"]
    assert admin.get(f"/attachments/{att}").status_code == 403
    assert admin.get(f"/instances/{one.case_id}/dossier?format=zip").status_code == 403
    assert _web(app, "admin").get(f"/attachments/{att}/thumb").status_code == 403
    one.do("lead_intake", {"decision": "accept", "disposition": "shelve"})  # the history now lists the photo
    admin_page = _web(app, "admin").get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert f"/attachments/{att}/thumb" not in admin_page  # no image on the page the admin may not open
    for who in VILLAGE_ROLES:
        assert api(who).get(f"/attachments/{att}").status_code in (403, 404), who
    assert _web(app, "zhang").get(f"/attachments/{att}/thumb").status_code in (403, 404)
    assert app.test_client().get(f"/api/v1/attachments/{att}").status_code == 401
    # the handlers' page shows a thumbnail, and viewing it is on the record too
    wu = _web(app, "wu")
    page = wu.get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert f"/attachments/{att}/thumb" in page and "线索材料1.jpg" in page
    assert wu.get(f"/attachments/{att}/thumb").status_code == 200
    assert len([e for e in _reads(app, one.case_id) if "查看问题线索材料" in e.summary]) == 3
    # the zip dossier of the handlers carries the photo
    assert api("wu").get(f"/instances/{one.case_id}/dossier?format=zip").status_code == 200
    # nothing of it is public: the board and the reporter's page
    board = app.test_client().get("/villages/demo-001/board").get_data(as_text=True)
    assert "线索材料" not in board


def test_photos_of_a_lead_about_a_township_official_are_the_countys(app, api, lead):
    one = lead(township_official=True)
    att = _photo(app.test_client(), one.code, png()).get_json()["id"]
    assert api("wu").get(f"/attachments/{att}").status_code == 404
    assert api("xu").get(f"/attachments/{att}").status_code == 200


# ---------------------------------------------------------------------------- the assignment (速查快办)


def test_the_assignment_deadline_is_a_working_day_not_in_the_past(app, api, lead):
    """完成时限: a working day by the State Council's schedule (2026-10-05 is 国庆, 2026-03-07 a
    Saturday; the 调休 Saturday 2026-10-10 is a working day), not before today (2026-03-02)."""
    one = lead()
    for bad, words in (("2026-03-01", "不能早于今天"), ("2026-03-07", "不是工作日"), ("2026-10-05", "不是工作日"),
                       ("3月9日", "须为日期")):
        body = one.do("lead_intake", {**ACCEPT, "complete_by": bad}, status=422)
        assert set(body["error"]["fields"]) == {"complete_by"}, bad
        assert words in body["error"]["fields"]["complete_by"][0] and "完成时限" in body["error"]["message"], bad
    body = one.do("lead_intake", {"decision": "not_accepted", "reason": "不属受理范围", "handler": "吴经办"}, status=422)
    assert set(body["error"]["fields"]) == {"handler"}
    body = one.do("lead_intake", {"decision": "accept", "disposition": "close", "responsible_unit": "示范镇纪委"},
                  status=422)
    assert set(body["error"]["fields"]) == {"responsible_unit"}
    assert one.status()["status"] == "received"
    one.do("lead_intake", {**ACCEPT, "complete_by": "2026-10-10"})
    result = one.task("lead_result")
    due = datetime.fromisoformat(result["due_at"]).astimezone(LOCAL_TZ)
    assert due.date() == date(2026, 10, 10) and (due.hour, due.minute) == (23, 59)  # the 完成时限 is the deadline

    # shown on the lead page and both desks
    lead_box = one.case()["lead"]["assignment"]
    assert lead_box == {"responsible_unit": "示范镇纪委", "handler": "吴经办", "complete_by": "2026-10-10",
                        "standard": "查清承包费收支并公开"}
    for who, path in (("wu", f"/cases/{one.case_id}"), ("wu", "/township/leads"), ("xu", "/county")):
        html = _web(app, who).get(path).get_data(as_text=True)
        for text in ("示范镇纪委", "吴经办", "2026-10-10", "查清承包费收支并公开"):
            assert text in html, (who, path, text)
    county = api("xu").get("/county").get_json()
    assert county["leads"][0]["assignment"]["complete_by"] == "2026-10-10"
    assert "吴经办" not in str(one.status())  # never for the reporter


def test_the_intake_page_refuses_a_holiday_in_chinese(app, lead):
    one = lead()
    wu = _web(app, "wu")
    task = one.task("lead_intake")
    page = wu.get(f"/tasks/{task['id']}").get_data(as_text=True)
    for label in ("责任单位", "经办人", "完成时限", "完成标准"):
        assert label in page
    r = wu.post(f"/tasks/{task['id']}", data={**{k: v for k, v in ACCEPT.items()}, "complete_by": "2026-10-05"})
    assert r.status_code == 422 and "不是工作日" in r.get_data(as_text=True)


# ---------------------------------------------------------------------------- 督办


def test_the_county_supervises_a_lead_once(app, api, lead, clock):
    """督办: only the county inspector of the lead's county (403 for the township, 404 for the
    village); reason and a working-day deadline; audited; the township is told; twice is 409."""
    one = lead()
    path = f"/instances/{one.case_id}/lead/supervision"
    good = {"reason": "群众反映强烈，县纪委挂牌督办", "due": "2026-03-20"}
    assert api("wu").post(path, json=good).status_code == 403
    assert api("admin").post(path, json=good).status_code == 403
    for who in VILLAGE_ROLES:
        assert api(who).post(path, json=good).status_code in (403, 404), who
    assert app.test_client().post(f"/api/v1{path}", json=good).status_code == 401
    before = _counts(app)
    for bad, field in (({"due": "2026-03-20"}, "reason"), ({**good, "due": "2026-03-21"}, "due"),
                       ({**good, "due": "2026-02-27"}, "due"), ({**good, "due": None}, "due"),
                       ({**good, "colour": "red"}, "colour")):
        r = api("xu").post(path, json=bad)
        assert r.status_code == 422 and field in r.get_json()["error"]["fields"], bad
    assert _counts(app) == before
    r = api("xu").post(path, json=good)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["due_day"] == "2026-03-20" and r.get_json()["by"] == "徐纪委"
    assert api("xu").post(path, json=good).status_code == 409
    # the lead shows it; the intake is due by the deadline at the latest; the township heard of it
    lead_box = one.case()["lead"]
    assert lead_box["supervision"]["reason"].startswith("群众反映强烈") and lead_box["may_supervise"] is False
    due = datetime.fromisoformat(one.task("lead_intake")["due_at"]).astimezone(LOCAL_TZ).date()
    assert due == date(2026, 3, 20)
    assert any(h["action"] == "lead_supervise" and h["actor"] == "徐纪委" for h in one.case()["history"])
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            told = {s.get(User, n.user_id).username for n in s.scalars(select(Notification).where(
                Notification.case_id == one.case_id, Notification.title.contains("督办")))}
    assert told == {"wu"}
    desk = api("wu").get("/leads").get_json()
    assert desk["leads"][0]["supervised"] is True and desk["stats"]["supervised"] == 1
    assert "县纪委督办" in _web(app, "wu").get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert "县纪委督办" in _web(app, "xu").get("/county").get_data(as_text=True)
    assert "督办" not in str(one.status())  # not the reporter's business
    # the township goes on handling it; the result is due by the deadline too
    one.do("lead_intake", {"decision": "accept", "disposition": "preliminary_verification"})
    due = datetime.fromisoformat(one.task("lead_result")["due_at"]).astimezone(LOCAL_TZ).date()
    assert due == date(2026, 3, 20)
    # past the deadline the lead is overdue on the desks
    clock.value = datetime(2026, 3, 20, 16, 1, tzinfo=UTC)
    assert api("xu").get("/county").get_json()["totals"]["leads_overdue"] == 1


def test_supervise_refuses_a_closed_lead_and_a_county_lead(app, api, lead):
    done = lead()
    done.do("lead_intake", {"decision": "not_accepted", "reason": "不属受理范围"})
    good = {"reason": "督办", "due": "2026-03-20"}
    assert api("xu").post(f"/instances/{done.case_id}/lead/supervision", json=good).status_code == 409
    county = lead(township_official=True, text="乡镇干部吃拿卡要")
    assert api("xu").post(f"/instances/{county.case_id}/lead/supervision", json=good).status_code == 409
    assert api("wu").post(f"/instances/{county.case_id}/lead/supervision", json=good).status_code == 404


def test_the_supervise_button_on_the_lead_page(app, lead):
    one = lead()
    xu = _web(app, "xu")
    page = xu.get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert f"/cases/{one.case_id}/lead/supervise" in page
    assert f"/cases/{one.case_id}/lead/supervise" not in _web(app, "wu").get(f"/cases/{one.case_id}").get_data(as_text=True)
    r = xu.post(f"/cases/{one.case_id}/lead/supervise", data={"reason": "", "due": "2026-03-20"})
    assert r.status_code in (302, 303) and "督办理由" in xu.get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert one.case()["lead"].get("supervision") is None
    r = xu.post(f"/cases/{one.case_id}/lead/supervise", data={"reason": "挂牌督办", "due": "2026-03-20"})
    assert r.status_code in (302, 303)
    assert one.case()["lead"]["supervision"]["reason"] == "挂牌督办"
    assert _web(app, "wu").post(f"/cases/{one.case_id}/lead/supervise",
                                data={"reason": "x", "due": "2026-03-20"}).status_code == 403
    assert _web(app, "zhang").post(f"/cases/{one.case_id}/lead/supervise",
                                   data={"reason": "x", "due": "2026-03-20"}).status_code in (403, 404)


# ---------------------------------------------------------------------------- 一案双查


HOLD = {"person": "张书记", "position": "村党支部书记", "duty": "primary", "measure": "admonishment",
        "decided_on": "2026-03-02", "decided_by": "示范镇纪委"}


def test_accountability_records_for_a_substantiated_lead(app, api, lead):
    """R59 一案双查: per person the position, 主体责任 or 监督责任, the measure (问责条例 第八条 and the
    first form of 监督执纪), when and by whom; for the handlers only; counted per village on both desks."""
    one = lead()
    path = f"/instances/{one.case_id}/lead/accountability"
    one.do("lead_intake", ACCEPT)
    assert api("wu").post(path, json=HOLD).status_code == 409  # no finding yet
    one.do("lead_result", RESULT_OK)
    before = _counts(app)
    for bad, fields in (({**HOLD, "duty": "领导责任"}, {"duty"}), ({**HOLD, "measure": "罚款"}, {"measure"}),
                        ({**HOLD, "decided_on": "2026-03-03"}, {"decided_on"}),
                        ({**HOLD, "decided_on": "2026-02-27"}, {"decided_on"}),
                        ({"duty": "primary"}, {"person", "position", "measure", "decided_on", "decided_by"}),
                        ({**HOLD, "person": 5}, {"person"})):
        r = api("wu").post(path, json=bad)
        assert r.status_code == 422 and set(r.get_json()["error"]["fields"]) == fields, bad
        assert "问责记录填写有误" in r.get_json()["error"]["message"]
    assert _counts(app) == before
    r = api("wu").post(path, json=HOLD)
    assert r.status_code == 201 and r.get_json()["measure_name"] == "诫勉" and r.get_json()["duty_name"] == "主体责任"
    r = api("xu").post(path, json={"person": "赵监委", "position": "村务监督委员会主任", "duty": "监督责任",
                                    "measure": "谈话提醒", "decided_on": "2026-03-02", "decided_by": "示范镇纪委"})
    assert r.status_code == 201 and r.get_json()["duty"] == "supervisory" and r.get_json()["measure"] == "talk_reminder"
    records = api("wu").get(path).get_json()
    assert [(x["person"], x["duty_name"], x["measure_name"]) for x in records] == [
        ("张书记", "主体责任", "诫勉"), ("赵监委", "监督责任", "谈话提醒")]
    assert [x["person"] for x in one.case()["lead"]["accountability"]] == ["张书记", "赵监委"]
    # handlers only: the admin sees the lead without them; village roles never
    assert "accountability" not in api("admin").get(f"/instances/{one.case_id}").get_json()["lead"]
    assert api("admin").get(path).status_code == 403 and api("admin").post(path, json=HOLD).status_code == 403
    for who in VILLAGE_ROLES:
        assert api(who).get(path).status_code in (403, 404), who
        assert api(who).post(path, json=HOLD).status_code in (403, 404), who
    assert "张书记" not in str(one.status())
    # counted per village on the township's lead desk and on the county desk
    stats = api("wu").get("/leads").get_json()["stats"]
    assert stats["accountability"] == [{"village_name": "示范村", "primary": 1, "supervisory": 1, "total": 2}]
    county = api("xu").get("/county").get_json()
    assert county["totals"]["accountability"] == 2
    assert next(c for c in county["counts"] if c["code"] == "demo-001")["accountability"] == 2
    assert "主体责任1" in _web(app, "wu").get("/township/leads").get_data(as_text=True)
    page = _web(app, "wu").get(f"/cases/{one.case_id}").get_data(as_text=True)
    assert "村党支部书记 张书记" in page and "诫勉" in page


def test_no_accountability_for_an_unsubstantiated_lead_and_the_page_form(app, api, lead):
    one = lead()
    one.do("lead_intake", ACCEPT)
    one.do("lead_result", {"finding": "unsubstantiated", "summary": "经核实不属实"})
    assert api("wu").post(f"/instances/{one.case_id}/lead/accountability", json=HOLD).status_code == 409
    assert "登记一案双查问责记录" not in _web(app, "wu").get(f"/cases/{one.case_id}").get_data(as_text=True)

    two = lead(text="第二条")
    two.do("lead_intake", ACCEPT)
    two.do("lead_result", {**RESULT_OK, "finding": "partly"})
    wu = _web(app, "wu")
    page = wu.get(f"/cases/{two.case_id}").get_data(as_text=True)
    assert "登记一案双查问责记录" in page and "组织调整或者组织处理" in page and "张书记" in page
    r = wu.post(f"/cases/{two.case_id}/lead/accountability", data={**HOLD, "measure": ""})
    assert r.status_code in (302, 303)
    assert "请选择问责方式" in wu.get(f"/cases/{two.case_id}").get_data(as_text=True)
    r = wu.post(f"/cases/{two.case_id}/lead/accountability", data={**HOLD, "measure": "criticism"})
    assert r.status_code in (302, 303)
    assert [x["measure_name"] for x in two.case()["lead"]["accountability"]] == ["批评教育"]
    with app.app_context():
        with app.extensions["cunwu"].sessions() as s:
            assert s.scalar(select(func.count()).select_from(LeadAccountability)) == 1
    assert _web(app, "zhang").post(f"/cases/{two.case_id}/lead/accountability", data=HOLD).status_code in (403, 404)


def test_the_demo_assignment_date_is_a_working_day(app):
    from engine.process.workdays import Calendar
    from web.demo_seed import workday_after

    for start in (datetime(2026, 9, 24, 2, tzinfo=UTC), datetime(2026, 2, 10, 2, tzinfo=UTC)):
        day = workday_after(start, 14)
        assert Calendar().is_workday(day) and day > start.date() + timedelta(days=14)


def test_the_lookup_page_takes_more_photos_all_or_none(app, lead, clock):
    one = lead()
    client = _web(app)
    page = client.post("/leads/lookup", data={"code": one.code}).get_data(as_text=True)
    assert "补充照片或材料" in page and 'capture="environment"' in page
    assert one.status()["can_add_photos"] is True
    before = _counts(app)
    r = client.post("/leads/lookup", content_type="multipart/form-data", data={
        "code": one.code, "action": "photo", "photos": [(io.BytesIO(png()), "a.png"), (io.BytesIO(b"%PDF-1.4 x"), "b.pdf")]})
    assert r.status_code == 422 and "第2个文件" in r.get_data(as_text=True) and "都未保存" in r.get_data(as_text=True)
    assert _counts(app) == before
    app.extensions["cunwu_lead_limiter"]._hits.clear()
    r = client.post("/leads/lookup", content_type="multipart/form-data", data={
        "code": one.code, "action": "photo", "photos": [(io.BytesIO(png()), "a.png"), (io.BytesIO(pdf()), "b.pdf")]})
    assert r.status_code == 200 and "已补充2件" in r.get_data(as_text=True)
    assert [p["name"] for p in one.case()["lead"]["photos"]] == ["线索材料1.png", "线索材料2.pdf"]
    app.extensions["cunwu_lead_limiter"]._hits.clear()
    r = client.post("/leads/lookup", content_type="multipart/form-data", data={
        "code": "AAAA-AAAA-AAAA", "action": "photo", "photos": [(io.BytesIO(png()), "a.png")]})
    assert r.status_code == 404
    clock.advance(hours=25)
    assert one.status()["can_add_photos"] is False
    assert "补充照片或材料" not in client.post("/leads/lookup", data={"code": one.code}).get_data(as_text=True)


def test_the_lead_desk_export_carries_supervision_and_accountability(app, api, lead):
    import csv

    one = lead()
    assert api("xu").post(f"/instances/{one.case_id}/lead/supervision",
                          json={"reason": "督办", "due": "2026-03-20"}).status_code == 201
    one.do("lead_intake", ACCEPT)
    one.do("lead_result", RESULT_OK)
    assert api("wu").post(f"/instances/{one.case_id}/lead/accountability", json=HOLD).status_code == 201
    text = _web(app, "wu").get("/township/leads/export.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][-2:] == ["县纪委督办（办结时限）", "一案双查问责（人次）"]
    assert rows[1][-2:] == ["2026-03-20", "1"]
    assert "张书记" not in text  # counts only
    detail = _web(app, "xu").get("/county/export.csv?table=detail").get_data(as_text=True)
    assert "县纪委督办，限2026-03-20前办结" in detail and "完成时限：2026-04-30" in detail


def test_doctor_watches_the_reporters_photos(app, api, lead):
    """The reporter's photos are evidence like any other (engine/records/evidence.py): content-addressed, and
    bytes changed in storage are found by ``cunwu doctor`` and never handed out."""
    one = lead()
    att = _photo(app.test_client(), one.code, jpeg()).get_json()
    assert app.test_cli_runner().invoke(args=["doctor"]).exit_code == 0
    path = app.extensions["cunwu"].files.path(att["sha256"])
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1 and f"附件{att['id']}“线索材料1.jpg”的原件" in result.output
    assert api("wu").get(f"/attachments/{att['id']}").status_code == 409

"""张贴照片 (issue 14; 一码一工程, R44): after a notice is posted, whoever posted it (may draft or
approve it) adds the photo of the notice on the board. The photo becomes a new chained board entry
(kind ``photo``) that refers to the notice: the notice's own entry never changes, the chain stays
valid and covers the photo's hashes. Where the item's catalogue asks for it (``notice_photo``), a
notice without a photo by the end of the second day after posting shows as 缺张贴照片 on the
township and county desks."""

from __future__ import annotations

import hashlib
import io

from PIL import ExifTags, Image
from sqlalchemy import select

from engine.records import publicity
from engine.services import reports
from engine.store.models import Attachment, BoardEntry, Village
from tests.conftest import ApiClient
from tests.test_evidence import doctor, jpeg, pdf, store, walk_on


def photo(client: ApiClient, entry_id: int, data: bytes, name: str = "张贴照片.jpg"):
    return client.client.post(f"/api/v1/board/{entry_id}/photos", headers=client.headers,
                              data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def posted(app):
    """A 四议两公开 case whose resolution notice was just posted (the test clock: 2026-03-02 16:00 Beijing)."""
    walk = walk_on(app)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution")
    notice = next(e for e in walk.board() if e["case"] == walk.case["id"] and e["kind"] == "resolution")
    return walk, notice


def verify(app) -> dict:
    with app.extensions["cunwu"].sessions() as s:
        return publicity.verify(s, s.scalar(select(Village).where(Village.code == "demo-001")))


def test_the_poster_adds_the_photo_as_a_new_chained_entry(any_app):
    app = any_app
    walk, notice = posted(app)
    original = jpeg(size=(320, 240), gps=True)
    r = photo(walk.director, notice["id"], original)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["sha256"] == hashlib.sha256(original).hexdigest() and body["entry"] == notice["id"]
    assert body["late"] is False and body["due_at"].startswith("2026-03-04T15:59:59")  # 03-04 23:59:59 Beijing
    board = walk.board()
    entry = next(e for e in board if e["id"] == body["photo_entry"])
    assert entry["kind"] == "photo" and entry["kind_name"] == "张贴照片" and entry["refers_to"] == notice["id"]
    assert entry["seq"] == notice["seq"] + 1 and entry["notice_until"] is None and not entry["in_notice"]
    assert entry["posted_by"] == "王主任" and f"第{notice['seq']}号公示" in entry["content"]
    [item] = entry["evidence"]
    assert item["original"] == body["sha256"] and item["sha256"] == body["public_sha256"] != body["sha256"]
    # The board's copy carries no location; the original is kept byte for byte.
    copy = walk.public.client.get(f"/villages/demo-001/board/photos/{item['sha256']}").data
    assert hashlib.sha256(copy).hexdigest() == item["sha256"] and b"GPS" not in copy and b"VillageCam" not in copy
    with Image.open(io.BytesIO(copy)) as img:
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert walk.secretary.get(f"/attachments/{body['id']}").data == original
    # The notice itself is untouched; the chain holds and covers the photo.
    assert next(e for e in board if e["id"] == notice["id"])["hash"] == notice["hash"]
    assert walk.public.get("/villages/demo-001/board/verify").get_json()["ok"]
    engine = app.extensions["cunwu"]
    with engine.transaction() as s:
        row = s.get(BoardEntry, body["photo_entry"])
        row.evidence = [{**row.evidence[0], "original": "0" * 64}]
    result = verify(app)
    assert not result["ok"] and result["broken"]["id"] == body["photo_entry"]
    with engine.transaction() as s:  # put it back: the chain holds again
        row = s.get(BoardEntry, body["photo_entry"])
        row.evidence = [{**row.evidence[0], "original": body["sha256"]}]
    assert verify(app)["ok"]
    # The photo is the notice's, not a step's: the history lists no new file under any step, the
    # audit names it, and doctor re-hashes it with the rest.
    case = walk.refresh()
    assert all(body["sha256"] not in str(h.get("attachments", "")) for h in case["history"])
    event = [h for h in case["history"] if "张贴照片" in h["summary"]]
    assert len(event) == 1 and event[0]["action"] == "post" and event[0]["actor"] == "王主任"
    assert doctor(app).exit_code == 0
    store(app).path(body["sha256"]).write_bytes(original + b"x")
    result = doctor(app)
    assert result.exit_code == 1 and f"附件{body['id']}" in result.output


def test_who_may_add_the_photo_and_what_is_refused(app):
    walk, notice = posted(app)
    # The poster: the drafter's role (村委会主任) or the approving 监委会; no one else.
    for who, status in (("zhang", 403), ("li", 403), ("zhou", 403), ("chen", 403), ("admin", 403)):
        assert photo(ApiClient(app, who), notice["id"], jpeg()).status_code == status, who
    assert photo(walk.public, notice["id"], jpeg()).status_code == 401
    assert photo(walk.supervisor2, notice["id"], jpeg()).status_code == 201
    # A photo, not a scan; a notice, not a reply or another photo; a real entry.
    r = photo(walk.director, notice["id"], pdf(), "张贴.pdf")
    assert r.status_code == 422 and "张贴照片须是照片" in r.get_json()["error"]["fields"]["file"][0]
    r = photo(walk.director, notice["id"], b"#!/bin/sh\n", "x.jpg")
    assert r.status_code == 422
    photo_entry = next(e for e in walk.board() if e["kind"] == "photo")
    assert photo(walk.director, photo_entry["id"], jpeg()).status_code == 409
    assert photo(walk.director, 999999, jpeg()).status_code == 404
    r = walk.director.client.post(f"/api/v1/board/{notice['id']}/photos", headers=walk.director.headers, data={},
                                  content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]
    with app.extensions["cunwu"].sessions() as s:
        assert [a.entry_id for a in s.scalars(select(Attachment))] == [notice["id"]]  # only the one taken


def test_a_missing_photo_is_overdue_on_the_desks_from_the_third_day(any_app, clock):
    """Posted 2026-03-02 16:00 (Beijing): day 2 (03-04) until 23:59:59 is in time; from 03-05 the
    notice shows as 缺张贴照片 on the township and county desks, until a photo comes."""
    from tests.test_web import Browser

    app = any_app
    engine = app.extensions["cunwu"]
    late_walk, late = posted(app)
    timely_walk, timely = posted(app)
    clock.advance(days=2, hours=7, minutes=59)  # 2026-03-04 23:59 Beijing: day 2
    assert reports.township(engine, "zhou")["photos_missing"] == []
    r = photo(timely_walk.director, timely["id"], jpeg())
    assert r.status_code == 201 and r.get_json()["late"] is False
    case_html = Browser(app, "wang").html(f"/cases/{late_walk.case['id']}")
    assert "需上传：公示张贴照片" in case_html and "缺张贴照片" not in case_html
    clock.advance(minutes=2)  # 2026-03-05 00:01: day 3
    desk = reports.township(engine, "zhou")
    assert [(m["case"], m["entry"], m["overdue_days"]) for m in desk["photos_missing"]] == [
        (late_walk.case["id"], late["id"], 1)]
    assert desk["totals"]["photos_missing"] == 1
    assert next(c for c in desk["counts"] if c["code"] == "demo-001")["photos_missing"] == 1
    html = Browser(app, "zhou").html("/township")
    assert "1条公示缺张贴照片" in html and "缺张贴照片 · 逾期1天" in html and late["title"] in html
    county = ApiClient(app, "xu").get("/county").get_json()
    assert [m["entry"] for m in county["photos_missing"]] == [late["id"]] and county["totals"]["photos_missing"] == 1
    assert "缺张贴照片 · 逾期1天" in Browser(app, "xu").html("/county")
    # The exports carry them: a detail row and a sheet of their own.
    from openpyxl import load_workbook

    detail = Browser(app, "zhou").get("/township/export.csv?table=detail").data.decode("utf-8-sig")
    assert f"缺张贴照片,示范村,{late_walk.case['title']},{late['title']},逾期1天,2026-03-04 23:59" in detail
    for who, path in (("zhou", "/township/export.xlsx"), ("xu", "/county/export.xlsx")):
        sheet = load_workbook(io.BytesIO(Browser(app, who).get(path).data))["缺张贴照片"]
        assert sheet.max_row == 2 and sheet["D2"].value == late["title"], who
    assert "缺张贴照片" in Browser(app, "xu").get("/county/export.csv?table=detail").data.decode("utf-8-sig")
    case_html = Browser(app, "wang").html(f"/cases/{late_walk.case['id']}")
    assert "缺张贴照片：公示张贴照片应于2026-03-04 23:59前上传，已逾期1天" in case_html
    assert 'capture="environment"' in case_html  # the poster can still add it, from the phone
    # Late is better than never: the photo clears the desk and says it came late.
    r = photo(late_walk.director, late["id"], jpeg())
    assert r.status_code == 201 and r.get_json()["late"] is True
    assert reports.township(engine, "zhou")["photos_missing"] == []
    assert "超过张榜后2日的期限" in next(e for e in late_walk.board() if e["id"] == r.get_json()["photo_entry"])["content"]


def test_a_renotice_replaces_the_old_notice_and_items_without_the_requirement_never_show(app, clock):
    from engine.records.evidence import notice_photo_wanted
    from engine.store.models import Case

    assert notice_photo_wanted({"notice_photo": "公示张贴照片"}) == "公示张贴照片"
    assert notice_photo_wanted({}) is None and notice_photo_wanted({"notice_photo": " "}) is None
    engine = app.extensions["cunwu"]
    walk, first = posted(app)
    # An objection upheld: the notice is corrected and posted again; only the new one needs its photo.
    assert walk.public.post(f"/board/{first['id']}/objections", json={"text": "金额写错了"}).status_code == 201
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "uphold", "reply": "金额有误，更正后重新公示"})
    walk.disclose("resolution", "更正后的公示内容")
    second = next(e for e in walk.board() if e["kind"] == "resolution" and e["refers_to"] == first["id"])
    clock.advance(days=3)
    assert [m["entry"] for m in reports.township(engine, "zhou")["photos_missing"]] == [second["id"]]
    # An item whose catalogue entry (as deployed for the case) asks for no photo never shows.
    with engine.transaction() as s:
        definition = s.get(Case, walk.case["id"]).definition
        definition.meta = {k: v for k, v in definition.meta.items() if k != "notice_photo"}
    assert reports.township(engine, "zhou")["photos_missing"] == []
    assert verify(app)["ok"]


def test_the_page_uploads_the_photo_from_the_case_page(app):
    from tests.test_web import Browser

    walk, notice = posted(app)
    page = Browser(app, "wang")
    html = page.html(f"/cases/{walk.case['id']}")
    assert f'action="/board/{notice["id"]}/photos"' in html and 'accept="image/*" capture="environment"' in html
    assert "需上传：公示张贴照片（张榜后2日内，2026-03-04 23:59前）" in html
    assert f'action="/board/{notice["id"]}/photos"' not in Browser(app, "zhang").html(f"/cases/{walk.case['id']}")
    r = page.post(f"/board/{notice['id']}/photos", content_type="multipart/form-data",
                  data={"case": str(walk.case["id"]), "file": [(io.BytesIO(jpeg(gps=True)), "公开栏.jpg"),
                                                               (io.BytesIO(pdf()), "扫描.pdf")]})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{walk.case['id']}#entry-{notice['id']}")
    html = page.html(f"/cases/{walk.case['id']}")
    assert "已上传张贴照片“公开栏.jpg”" in html and "“扫描.pdf”未上传：" in html
    assert "张贴照片：已上传1张" in html and "/villages/demo-001/board/photos/" in html
    assert Browser(app, "zhang").post(f"/board/{notice['id']}/photos", content_type="multipart/form-data",
                                      data={"file": (io.BytesIO(jpeg()), "x.jpg")}).status_code == 403
    board = Browser(app).html("/villages/demo-001/board")
    assert "张贴照片" in board and "✔ 公开记录完整" in board


def test_the_dossier_carries_the_notice_photos(app):
    import json
    import zipfile

    walk, notice = posted(app)
    body = photo(walk.director, notice["id"], jpeg(size=(400, 300)), "公开栏张贴.jpg").get_json()
    r = walk.secretary.get(f"/instances/{walk.case['id']}/dossier?format=zip")
    assert r.status_code == 200
    bundle = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(bundle.read("manifest.json"))
    name = f"files/{body['id']}-公开栏张贴.jpg"
    assert {"name": name, "sha256": body["sha256"], "size": body["size"]} in manifest["files"]
    assert hashlib.sha256(bundle.read(name)).hexdigest() == body["sha256"]
    assert manifest["notice_photos"] == [{"entry": body["photo_entry"], "notice": notice["id"],
                                          "hash": manifest["notice_photos"][0]["hash"],
                                          "attachments": [{"id": body["id"], "name": "公开栏张贴.jpg",
                                                           "sha256": body["sha256"]}]}]
    import subprocess

    text = subprocess.run(["pdftotext", "-", "-"], input=bundle.read("dossier.pdf"), capture_output=True,
                          check=True).stdout.decode()
    assert "张贴照片" in text and body["sha256"] in text.replace("\n", "")

"""Evidence on the record (issue 14): uploads judged by content, stored by SHA-256, bound to the
step when it completes, listed in the history, re-hashed by ``cunwu doctor``; 便民服务 materials
only for the handlers; the board's copy of a photo carries no location."""

from __future__ import annotations

import functools
import hashlib
import io

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from engine.records import evidence, publicity
from engine.store.models import Attachment, AuditEvent, BoardEntry, Village
from tests.conftest import ApiClient
from tests.flows import Walk
from tests.test_items_services import INVESTIGATION, SUBSISTENCE, Item


# -- real files, made here ------------------------------------------------------------------------
def jpeg(color=(200, 40, 40), size=(64, 48), gps: bool = False) -> bytes:
    img = Image.new("RGB", size, color)
    out = io.BytesIO()
    if gps:
        exif = Image.Exif()
        exif[ExifTags.Base.Make] = "VillageCam"
        exif[ExifTags.Base.Orientation] = 1
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (116.0, 23.0, 50.0)})
        img.save(out, "JPEG", exif=exif)
    else:
        img.save(out, "JPEG")
    return out.getvalue()


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, (10, 120, 200, 255)).save(out, "PNG")
    return out.getvalue()


@functools.cache
def pdf() -> bytes:
    """A real one-page PDF (Pillow's); made once, since it carries its creation time."""
    out = io.BytesIO()
    Image.new("RGB", (200, 280), "white").save(out, "PDF")
    return out.getvalue()


MINIMAL_PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
               b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
               b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
               b"trailer<</Root 1 0 R>>\n%%EOF\n")


def corrupt_jpeg() -> bytes:
    good = jpeg(size=(200, 150))
    return good[:200] + b"\x00garbage" * 40  # the header is right, the picture is gone


def upload(client: ApiClient, task_id: str, data: bytes, name: str = "签到表.jpg"):
    return client.client.post(f"/api/v1/tasks/{task_id}/attachments", headers=client.headers,
                              data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")


def walk_on(app) -> Walk:
    return Walk(lambda u: ApiClient(app, u))


def store(app):
    return app.extensions["cunwu"].files


def doctor(app):
    return app.test_cli_runner().invoke(args=["doctor"])


# -- upload, bind, history, download ----------------------------------------------------------------
def test_upload_bind_and_download_on_both_databases(any_app):
    walk = walk_on(any_app)
    walk.start()
    task = walk.task("two_committees")
    files = {"签到表.jpg": jpeg(), "会议记录.png": png(), "会议纪要扫描.pdf": pdf()}
    uploaded = []
    for name, data in files.items():
        r = upload(walk.secretary, task["id"], data, name)
        assert r.status_code == 201, r.get_json()
        body = r.get_json()
        assert {"id", "sha256", "name", "size", "content_type"} <= set(body)
        assert body["sha256"] == hashlib.sha256(data).hexdigest()
        assert body["name"] == name and body["size"] == len(data)
        uploaded.append(body)
    assert [u["content_type"] for u in uploaded] == ["image/jpeg", "image/png", "application/pdf"]
    # Stored by hash, byte for byte.
    for u, data in zip(uploaded, files.values(), strict=True):
        assert store(any_app).path(u["sha256"]).read_bytes() == data

    walk.meeting("two_committees", "two_committees")
    step = [h for h in walk.case["history"] if h["action"] == "complete" and h["task"] == task["id"]]
    assert step[0]["attachments"] == [{"id": u["id"], "sha256": u["sha256"], "name": u["name"]} for u in uploaded]
    # The hashes are in the step's audit event.
    engine = any_app.extensions["cunwu"]
    with engine.sessions() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.task_id == task["id"], AuditEvent.action == "complete"))
        assert [a["sha256"] for a in event.data["attachments"]] == [u["sha256"] for u in uploaded]
        assert all(a.bound_at is not None for a in s.scalars(select(Attachment)))

    # Whoever may view the case gets the bytes with their type.
    for viewer in (walk.supervisor, ApiClient(any_app, "zhou")):
        for u, data in zip(uploaded, files.values(), strict=True):
            r = viewer.get(f"/attachments/{u['id']}")
            assert r.status_code == 200
            assert r.data == data and r.mimetype == u["content_type"]
            assert "filename*=UTF-8''" in r.headers["Content-Disposition"]
    assert ApiClient(any_app, "chen").get(f"/attachments/{uploaded[0]['id']}").status_code == 403
    assert walk.public.get(f"/attachments/{uploaded[0]['id']}").status_code == 401
    assert walk.secretary.get("/attachments/999999").status_code == 404
    # The step is done: nothing more can be added to it.
    r = upload(walk.secretary, task["id"], jpeg())
    assert r.status_code == 409 and r.get_json()["error"]["message"]


def test_only_who_may_complete_the_task_uploads(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    assert upload(walk.supervisor, task["id"], jpeg()).status_code == 403
    r = upload(ApiClient(app, "chen"), task["id"], jpeg())
    assert r.status_code == 403 and "其他村" in r.get_json()["error"]["message"]
    assert upload(walk.public, task["id"], jpeg()).status_code == 401
    assert upload(walk.secretary, "no-such-task", jpeg()).status_code == 404
    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0


@pytest.mark.parametrize("name,data,words", [
    ("脚本.png", b"#!/bin/sh\nrm -rf /\n", "只接受"),
    ("程序.pdf", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 200, "只接受"),
    ("网页.jpg", b"<html><script>alert(1)</script></html>", "只接受"),
    ("坏照片.jpg", None, "损坏"),
    ("半个.pdf", b"%PDF-1.7\n1 0 obj<<>>endobj\n", "PDF"),
    ("空.png", b"", "空"),
])
def test_type_is_judged_by_content_and_bad_files_are_not_stored(app, name, data, words):
    data = corrupt_jpeg() if data is None else data
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    r = upload(walk.secretary, task["id"], data, name)
    assert r.status_code == 422, r.get_json()
    error = r.get_json()["error"]
    assert "file" in error["fields"] and words in error["message"]
    assert list(store(app).digests()) == []
    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0


def test_a_real_file_with_a_wrong_name_is_taken_by_its_content(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    r = upload(walk.secretary, task["id"], png(), "照片.pdf")
    assert r.status_code == 201
    assert r.get_json()["content_type"] == "image/png" and r.get_json()["name"] == "照片.pdf.png"
    r = upload(walk.secretary, task["id"], MINIMAL_PDF, "../../etc/扫描件")
    assert r.status_code == 201 and r.get_json()["name"] == "扫描件.pdf"


def test_missing_file_field_is_a_clear_422(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    r = walk.secretary.client.post(f"/api/v1/tasks/{task['id']}/attachments", headers=walk.secretary.headers,
                                   data={"other": "x"}, content_type="multipart/form-data")
    assert r.status_code == 422 and "file" in r.get_json()["error"]["fields"]


def test_the_size_limit_is_20_mb_by_default_and_configurable(app, monkeypatch):
    monkeypatch.delenv("CUNWU_MAX_UPLOAD", raising=False)
    assert evidence.max_upload() == 20 * 1024 * 1024
    assert evidence.max_upload("5M") == 5 * 1024 * 1024
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    big = b"\xff\xd8\xff" + b"\x00" * (20 * 1024 * 1024)  # just over 20 MB
    r = upload(walk.secretary, task["id"], big)
    assert r.status_code == 413, r.get_json()
    assert "20 MB" in r.get_json()["error"]["message"] and "file" in r.get_json()["error"]["fields"]
    app.config["CUNWU_MAX_UPLOAD"] = 1000
    r = upload(walk.secretary, task["id"], jpeg(size=(400, 300)))
    assert r.status_code == 413
    assert upload(walk.secretary, task["id"], MINIMAL_PDF).status_code == 201
    assert len(list(store(app).digests())) == 1


def test_the_same_bytes_are_stored_once(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    data = jpeg()
    a = upload(walk.secretary, task["id"], data, "一.jpg").get_json()
    b = upload(walk.secretary, task["id"], data, "二.jpg").get_json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert list(store(app).digests()) == [a["sha256"]]


# -- doctor ---------------------------------------------------------------------------------------------
def test_doctor_finds_a_changed_and_a_missing_file(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    a = upload(walk.secretary, task["id"], jpeg(), "签到表.jpg").get_json()
    b = upload(walk.secretary, task["id"], pdf(), "会议记录.pdf").get_json()
    walk.meeting("two_committees", "two_committees")
    result = doctor(app)
    assert result.exit_code == 0, result.output
    assert "2个附件文件" in result.output

    path = store(app).path(a["sha256"])
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF
    path.write_bytes(bytes(data))
    store(app).path(b["sha256"]).unlink()
    result = doctor(app)
    assert result.exit_code == 1
    assert f"附件{a['id']}“签到表.jpg”的原件" in result.output and "已被改动" in result.output
    assert f"附件{b['id']}“会议记录.pdf”的原件" in result.output and "已缺失" in result.output
    # Nor are they handed out as evidence any more.
    assert walk.secretary.get(f"/attachments/{a['id']}").status_code == 409
    assert walk.secretary.get(f"/attachments/{b['id']}").status_code == 404


def test_doctor_finds_a_hash_changed_in_the_database(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    a = upload(walk.secretary, task["id"], jpeg()).get_json()
    other = upload(walk.secretary, task["id"], png()).get_json()
    walk.meeting("two_committees", "two_committees")
    with app.extensions["cunwu"].transaction() as s:  # someone points the row at other bytes
        s.get(Attachment, a["id"]).sha256 = other["sha256"]
    result = doctor(app)
    assert result.exit_code == 1 and "与办理时记录的哈希或步骤不一致" in result.output


# -- 便民服务: the applicant's papers -------------------------------------------------------------------
def test_service_materials_only_for_handlers_and_every_view_is_audited(app, api):
    item = Item(app, api, {})
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    task = item.task("investigate")
    r = upload(item.who("zhou"), task["id"], jpeg(), "户口本.jpg")  # the 乡镇 investigates (民发〔2021〕57号)
    assert r.status_code == 201
    att = r.get_json()
    item.do("zhou", "investigate", INVESTIGATION)
    for handler in ("li", "wang", "zhao", "zhou"):
        r = item.who(handler).get(f"/attachments/{att['id']}")
        assert r.status_code == 200, (handler, r.get_json())
    for outsider in ("sun", "xu"):
        r = item.who(outsider).get(f"/attachments/{att['id']}")
        assert r.status_code == 403, outsider
        assert "经办人员" in r.get_json()["error"]["message"]
    with app.extensions["cunwu"].sessions() as s:
        views = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "read_personal")))
    assert sorted(v.actor_name for v in views) == sorted(["李委员", "王主任", "赵监委", "周镇长"])
    assert all("户口本.jpg" in v.summary for v in views)


def test_a_major_decision_attachment_is_open_to_every_viewer_without_audit(app):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    att = upload(walk.secretary, task["id"], jpeg()).get_json()
    assert ApiClient(app, "sun").get(f"/attachments/{att['id']}").status_code == 200
    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "read_personal")) == 0


# -- the board's copy --------------------------------------------------------------------------------
def test_disclosure_photos_go_on_the_board_without_location_and_into_the_chain(app):
    walk = walk_on(app)
    walk.start()
    walk.to_resolution()
    task = walk.task("draft_resolution_disclosure")
    original = jpeg(size=(300, 200), gps=True)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)
    att = upload(walk.director, task["id"], original, "公示栏照片.jpg").get_json()
    walk.disclose("resolution")
    entry = walk.board()[0]
    assert entry["evidence"] == [{"name": "公示栏照片.jpg", "sha256": entry["evidence"][0]["sha256"],
                                  "original": att["sha256"]}]
    copy = store(app).get(entry["evidence"][0]["sha256"])
    assert hashlib.sha256(copy).hexdigest() == entry["evidence"][0]["sha256"]
    with Image.open(io.BytesIO(copy)) as img:
        assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo) and not img.getexif()
        assert img.size == (300, 200)
    assert b"Exif" not in copy and b"VillageCam" not in copy
    # The original is kept byte for byte.
    assert walk.secretary.get(f"/attachments/{att['id']}").data == original
    # The photo's hash is in the chain: changing it breaks verify.
    assert walk.public.get("/villages/demo-001/board/verify").get_json()["ok"]
    engine = app.extensions["cunwu"]
    with engine.transaction() as s:
        row = s.get(BoardEntry, entry["id"])
        row.evidence = [{**row.evidence[0], "sha256": "0" * 64}]
    with engine.sessions() as s:
        result = publicity.verify(s, s.scalar(select(Village).where(Village.code == "demo-001")))
    assert not result["ok"] and result["broken"]["id"] == entry["id"]


# -- the pages ----------------------------------------------------------------------------------------
def test_the_task_page_uploads_from_camera_or_files_and_shows_thumbnails(app):
    from tests.test_web import Browser

    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    page = Browser(app, "zhang")
    html = page.html(f"/tasks/{task['id']}")
    assert 'enctype="multipart/form-data"' in html
    assert 'accept="image/*,application/pdf" capture="environment"' in html and "multiple" in html
    r = page.post(f"/tasks/{task['id']}/attachments", content_type="multipart/form-data",
                  data={"file": [(io.BytesIO(jpeg()), "签到表.jpg"), (io.BytesIO(pdf()), "会议记录.pdf"),
                                 (io.BytesIO(b"MZ\x90\x00"), "病毒.jpg")]})
    assert r.status_code == 302 and r.headers["Location"].endswith("#evidence")
    html = page.html(f"/tasks/{task['id']}")
    assert "已上传“签到表.jpg”" in html and "已上传“会议记录.pdf”" in html
    assert "“病毒.jpg”未上传：" in html and "只接受" in html
    attachments = walk.secretary.get(f"/tasks/{task['id']}/attachments").get_json()
    assert [a["name"] for a in attachments] == ["签到表.jpg", "会议记录.pdf"]
    image, scan = attachments
    assert f"/attachments/{image['id']}/thumb" in html and f"/api/v1/attachments/{scan['id']}" in html
    thumb = page.get(f"/attachments/{image['id']}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(thumb.data)).size[0] <= 240
    # The page session reads the original through the API (a GET).
    assert page.get(f"/api/v1/attachments/{scan['id']}").data == pdf()
    # Completing the task from the page binds them; the case page lists them under the step.
    walk.meeting("two_committees", "two_committees")
    html = page.html(f"/cases/{walk.case['id']}")
    assert "签到表.jpg" in html and f"/attachments/{image['id']}/thumb" in html and image["sha256"][:12] in html
    # Others may look, not upload.
    html = Browser(app, "zhao").html(f"/tasks/{walk.task('review_two_committees')['id']}")
    assert 'enctype="multipart/form-data"' in html  # the reviewer may add evidence to the review
    r = Browser(app, "zhao").post(f"/tasks/{task['id']}/attachments", content_type="multipart/form-data",
                                  data={"file": (io.BytesIO(jpeg()), "x.jpg")})
    assert r.status_code == 403


def test_the_page_upload_keeps_csrf(app, sqlite_template, tmp_path, clock):
    from tests.conftest import _sqlite_app
    from tests.test_web import Browser

    strict = _sqlite_app(tmp_path / "strict", sqlite_template, clock, WTF_CSRF_ENABLED=True) \
        if (tmp_path / "strict").mkdir() is None else None
    walk = walk_on(strict)
    walk.start()
    task = walk.task("two_committees")
    page = Browser.__new__(Browser)
    page.client = strict.test_client()
    html = page.client.get("/login").data.decode()
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    assert page.client.post("/login", data={"username": "zhang", "password": "demo123",
                                            "csrf_token": token}).status_code == 302
    html = page.client.get(f"/tasks/{task['id']}").data.decode()
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    r = page.client.post(f"/tasks/{task['id']}/attachments", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(jpeg()), "a.jpg")})
    assert r.status_code == 400
    r = page.client.post(f"/tasks/{task['id']}/attachments", content_type="multipart/form-data",
                         data={"file": (io.BytesIO(jpeg()), "a.jpg"), "csrf_token": token})
    assert r.status_code == 302
    strict.extensions["cunwu_db"].dispose()


def test_service_cases_show_no_thumbnails_on_the_pages(app, api):
    from tests.test_web import Browser

    item = Item(app, api, {})
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    task = item.task("investigate")
    att = upload(item.who("zhou"), task["id"], jpeg(), "身份证.jpg").get_json()
    item.do("zhou", "investigate", INVESTIGATION)
    html = Browser(app, "wang").html(f"/cases/{item.case['id']}")
    assert "身份证.jpg" in html and f"/attachments/{att['id']}/thumb" not in html
    assert "每次查看都会记录在案" in html


def test_the_board_shows_the_copy_and_never_an_original(app):
    from tests.test_web import Browser

    walk = walk_on(app)
    walk.start()
    walk.to_resolution()
    task = walk.task("draft_resolution_disclosure")
    original = jpeg(size=(120, 90), gps=True)
    att = upload(walk.director, task["id"], original, "张贴照片.jpg").get_json()
    walk.disclose("resolution")
    entry = walk.board()[0]
    digest = entry["evidence"][0]["sha256"]
    anyone = Browser(app)
    html = anyone.html("/villages/demo-001/board")
    assert f"/villages/demo-001/board/photos/{digest}" in html
    r = anyone.get(f"/villages/demo-001/board/photos/{digest}")
    assert r.status_code == 200 and b"GPS" not in r.data and hashlib.sha256(r.data).hexdigest() == digest
    assert anyone.get(f"/villages/demo-001/board/photos/{att['sha256']}").status_code == 404
    assert anyone.get(f"/villages/demo-002/board/photos/{digest}").status_code == 404


# -- the dossier -------------------------------------------------------------------------------------
def finished_case(app, clock) -> tuple[Walk, dict]:
    """A 四议两公开 case walked to the end with evidence on several steps and one objection."""
    walk = walk_on(app)
    walk.start()
    uploads = {}
    task = walk.task("two_committees")
    uploads["签到表.jpg"] = upload(walk.secretary, task["id"], jpeg(size=(800, 600)), "签到表.jpg").get_json()
    uploads["两委会议记录.pdf"] = upload(walk.secretary, task["id"], pdf(), "两委会议记录.pdf").get_json()
    walk.meeting("two_committees", "two_committees")
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    task = walk.task("representatives")
    uploads["表决票.png"] = upload(walk.director, task["id"], png(size=(600, 400)), "表决票.png").get_json()
    walk.meeting("representatives", "representatives")
    walk.review("review_resolution")
    task = walk.task("draft_resolution_disclosure")
    uploads["公示照片.jpg"] = upload(walk.director, task["id"], jpeg(gps=True), "公示照片.jpg").get_json()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路。")
    entry = walk.board()[0]
    assert walk.public.post(f"/board/{entry['id']}/objections", json={"name": "村民甲", "text": "造价偏高"}).status_code == 201
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "造价经三家比价，属实合理"})
    clock.advance(days=7, seconds=1)
    assert app.test_cli_runner().invoke(args=["timers", "run"]).exit_code == 0
    task = walk.task("implement")
    uploads["发票.pdf"] = upload(walk.director, task["id"], MINIMAL_PDF, "发票.pdf").get_json()
    walk.do(walk.director, "implement", {"summary": "道路已硬化完成", "amount_spent": "176500.50"})
    walk.review("review_implementation")
    walk.disclose("result", "道路硬化完成，实际支出176500.50元。")
    clock.advance(days=7, seconds=1)
    assert app.test_cli_runner().invoke(args=["timers", "run"]).exit_code == 0
    assert walk.refresh()["status"] == "completed"
    return walk, uploads


def test_the_zip_dossier_holds_a_manifest_whose_hashes_match_its_files(app, clock):
    import json
    import zipfile

    walk, uploads = finished_case(app, clock)
    r = walk.supervisor.get(f"/instances/{walk.case['id']}/dossier?format=zip")
    assert r.status_code == 200 and r.mimetype == "application/zip", r.data[:300]
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(archive.read("manifest.json"))
    names = {f["name"] for f in manifest["files"]}
    assert set(archive.namelist()) == names | {"manifest.json"}
    for f in manifest["files"]:
        assert hashlib.sha256(archive.read(f["name"])).hexdigest() == f["sha256"], f["name"]
    assert "dossier.pdf" in names and archive.read("dossier.pdf").startswith(b"%PDF-")
    stored = {f["sha256"] for f in manifest["files"]}
    assert {u["sha256"] for u in uploads.values()} <= stored  # the originals, byte for byte
    assert f"files/{uploads['签到表.jpg']['id']}-签到表.jpg" in names
    assert manifest["board_head"] == walk.public.get("/villages/demo-001/board/verify").get_json()["head"]


def test_the_pdf_dossier_is_the_printable_record_of_every_step(app, clock, tmp_path):
    import subprocess

    walk, uploads = finished_case(app, clock)
    r = walk.secretary.get(f"/instances/{walk.case['id']}/dossier?format=pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    path = tmp_path / "dossier.pdf"
    path.write_bytes(r.data)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "595.276 x 841.89 pts (A4)" in info or "A4" in info
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = "".join(text.split())
    for words in ("四议两公开登记表", "村两委会议商议", "党员大会审议", "村民代表会议", "审核同意", "张书记", "赵监委",
                  "造价偏高", "造价经三家比价", "第1页", "176500.50", "实施结果公开"):
        assert words in flat, words
    for u in uploads.values():
        assert u["sha256"] in flat or u["sha256"][:40] in flat, u["name"]
    # The images are inside (at least the three photos).
    images = subprocess.run(["pdfimages", "-list", str(path)], capture_output=True, text=True, check=True).stdout
    assert sum(1 for line in images.splitlines()[2:] if " image " in line) >= 3


def test_the_dossier_is_for_viewers_of_the_case(app, api):
    walk = walk_on(app)
    walk.start()
    assert ApiClient(app, "chen").get(f"/instances/{walk.case['id']}/dossier?format=zip").status_code == 403
    assert walk.public.get(f"/instances/{walk.case['id']}/dossier").status_code == 401
    r = walk.secretary.get(f"/instances/{walk.case['id']}/dossier?format=doc")
    assert r.status_code == 400 and "format" in r.get_json()["error"]["fields"]
    assert walk.secretary.get("/instances/999999/dossier").status_code == 404
    item = Item(app, api, {})
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    assert item.who("sun").get(f"/instances/{item.case['id']}/dossier?format=zip").status_code == 403
    assert item.who("li").get(f"/instances/{item.case['id']}/dossier?format=zip").status_code == 200
    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "read_personal", AuditEvent.case_id == item.case["id"])) == 1


# -- backup and restore carry the files --------------------------------------------------------------
def _cli(app, *args, code: int = 0) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def _case_with_files(app) -> tuple[Walk, dict]:
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    files = {"签到表.jpg": jpeg(), "会议记录.pdf": pdf()}
    ids = {name: upload(walk.secretary, task["id"], data, name).get_json()["id"] for name, data in files.items()}
    walk.meeting("two_committees", "two_committees")
    return walk, {ids[name]: data for name, data in files.items()}


@pytest.mark.parametrize("fmt", ["auto", "json"])
def test_backup_and_restore_carry_the_attachments(app, clock, tmp_path, sqlite_template, fmt):
    from engine.services.backup import detect_format
    from tests.conftest import _sqlite_app

    walk, files = _case_with_files(app)
    backup = tmp_path / "backup" / "cunwu.bak"
    out = _cli(app, "backup", str(backup), "--format", fmt)
    assert "附件文件2个" in out and detect_format(backup) == "bundle"
    (tmp_path / "fresh").mkdir()
    fresh = _sqlite_app(tmp_path / "fresh", sqlite_template, clock)
    try:
        assert list(fresh.extensions["cunwu"].files.digests()) == []
        out = _cli(fresh, "restore", str(backup), "--yes")
        assert "附件文件2个" in out
        client = ApiClient(fresh, "zhao")
        for attachment_id, data in files.items():
            assert client.get(f"/attachments/{attachment_id}").data == data
        history = client.get(f"/instances/{walk.case['id']}").get_json()["history"]
        assert sum(len(h.get("attachments", [])) for h in history) == 2
        assert "2个附件文件" in _cli(fresh, "doctor")
    finally:
        fresh.extensions["cunwu_db"].dispose()


def test_a_bundle_with_a_damaged_file_is_refused_and_nothing_changes(app, tmp_path):
    import tarfile

    walk, files = _case_with_files(app)
    backup = tmp_path / "cunwu.bak"
    _cli(app, "backup", str(backup))
    damaged = tmp_path / "damaged.bak"
    with tarfile.open(backup) as src, tarfile.open(damaged, "w", format=tarfile.USTAR_FORMAT) as out:
        for member in src:
            data = src.extractfile(member).read()
            if member.name.startswith("files/") and data.startswith(b"%PDF"):
                data = data.replace(b"%%EOF", b"%%EOX")
            member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    walk.review("review_two_committees")  # a change after the backup
    out = _cli(app, "restore", str(damaged), "--yes", code=1)
    assert "已损坏" in out and "原数据未变" in out
    assert "review_two_committees" not in walk.ready()
    assert walk.ready() == ["party_members"]


@pytest.mark.pg
def test_backup_and_restore_with_attachments_on_postgresql(pg_app, clock, tmp_path):
    walk, files = _case_with_files(pg_app)
    backup = tmp_path / "cunwu.bak"
    assert "附件文件2个" in _cli(pg_app, "backup", str(backup))
    for digest in list(store(pg_app).digests()):
        store(pg_app).path(digest).unlink()  # the disk is lost too
    walk.review("review_two_committees")
    _cli(pg_app, "restore", str(backup), "--yes")
    client = ApiClient(pg_app, "zhao")
    for attachment_id, data in files.items():
        assert client.get(f"/attachments/{attachment_id}").data == data
    assert walk.ready() == ["review_two_committees"]
    assert "2个附件文件" in _cli(pg_app, "doctor")


def test_a_wrong_photo_can_be_taken_back_until_the_step_is_submitted(app):
    from tests.test_web import Browser

    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    wrong = upload(walk.secretary, task["id"], jpeg(color=(0, 0, 0)), "错拍.jpg").get_json()
    kept = upload(walk.secretary, task["id"], jpeg(), "签到表.jpg").get_json()
    headers = walk.secretary.headers
    assert walk.supervisor.client.delete(f"/api/v1/attachments/{wrong['id']}",
                                         headers=walk.supervisor.headers).status_code == 403
    r = walk.secretary.client.delete(f"/api/v1/attachments/{wrong['id']}", headers=headers)
    assert r.status_code == 200 and r.get_json()["name"] == "错拍.jpg"
    page = Browser(app, "zhang")
    third = upload(walk.secretary, task["id"], png(), "多余.png").get_json()
    assert f"/attachments/{third['id']}/remove" in page.html(f"/tasks/{task['id']}")
    r = page.post(f"/attachments/{third['id']}/remove")
    assert r.status_code == 302 and "已移除“多余.png”" in page.html(f"/tasks/{task['id']}")
    walk.meeting("two_committees", "two_committees")
    step = [h for h in walk.case["history"] if h["action"] == "complete" and h["task"] == task["id"]][0]
    assert [a["id"] for a in step["attachments"]] == [kept["id"]]
    assert any(h["action"] == "detach" and "错拍.jpg" in h["summary"] for h in walk.case["history"])
    r = walk.secretary.client.delete(f"/api/v1/attachments/{kept['id']}", headers=headers)
    assert r.status_code == 409
    assert "0处" not in _cli(app, "doctor")  # and doctor is content


def test_service_disclosures_put_no_photo_on_the_board(app, api):
    item = Item(app, api, {})
    item.start("subsistence-allowance", SUBSISTENCE, title="刘大娘申请低保")
    item.do("zhou", "investigate", INVESTIGATION)
    from tests.test_items_services import PRELIM

    item.do("zhou", "preliminary", PRELIM)
    task = item.task("draft_notice")
    assert upload(item.who("wang"), task["id"], jpeg(), "张贴照片.jpg").status_code == 201
    entry = item.notice()
    assert entry["evidence"] == []


def test_closed_cases_get_archive_numbers_and_an_archive_list(app, clock):
    import json
    import subprocess
    import zipfile

    walk, _ = finished_case(app, clock)
    running = walk_on(app)
    running.start()
    rejected = walk_on(app)
    rejected.start()
    rejected.meeting("two_committees", "two_committees")
    rejected.review("review_two_committees")
    rejected.meeting("party_members", "party_members")
    rejected.review("review_party_members")
    rejected.meeting("representatives", "representatives", attended=24, approve=5, oppose=19, abstain=0)
    assert rejected.refresh()["status"] == "rejected"
    r = walk.secretary.get("/villages/demo-001/archive?year=2026")
    assert r.status_code == 200
    archive = r.get_json()
    assert [(a["case"], a["archive_no"], a["retention_name"]) for a in archive] == [
        (walk.case["id"], "demo-001-2026-0001", "永久"), (rejected.case["id"], "demo-001-2026-0002", "永久")]
    assert archive[0]["status"] == "completed" and archive[1]["status"] == "rejected"
    assert walk.secretary.get("/villages/demo-001/archive?year=2025").get_json() == []
    assert walk.secretary.get("/villages/demo-001/archive?year=twenty").status_code == 400
    assert ApiClient(app, "chen").get("/villages/demo-001/archive").status_code == 403
    # The number is in the dossier, both the zip's manifest and the PDF.
    r = walk.secretary.get(f"/instances/{walk.case['id']}/dossier?format=zip")
    archive_zip = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(archive_zip.read("manifest.json"))
    assert manifest["archive_no"] == "demo-001-2026-0001" and manifest["retention"] == "permanent"
    text = subprocess.run(["pdftotext", "-", "-"], input=archive_zip.read("dossier.pdf"), capture_output=True,
                          check=True).stdout.decode()
    assert "demo-001-2026-0001" in text and "永久" in text


def test_the_archive_page_and_the_dossier_links(app, clock):
    from tests.test_web import Browser

    walk, _ = finished_case(app, clock)
    page = Browser(app, "zhang")
    html = page.html(f"/cases/{walk.case['id']}")
    assert f"/api/v1/instances/{walk.case['id']}/dossier?format=pdf" in html and "/villages/demo-001/archive" in html
    html = page.html("/villages/demo-001/archive?year=2026")
    assert "demo-001-2026-0001" in html and "硬化村东道路" in html and "永久" in html
    assert page.get(f"/api/v1/instances/{walk.case['id']}/dossier?format=zip").status_code == 200
    assert Browser(app, "chen").get("/villages/demo-001/archive").status_code == 403


def test_required_evidence_is_catalogue_data_and_a_village_may_make_it_a_condition(app):
    from tests.test_items_services import set_village_settings
    from tests.test_web import Browser

    walk = walk_on(app)
    walk.start()
    task = walk.secretary.get(f"/tasks/{walk.task('two_committees')['id']}").get_json()
    assert task["evidence"] == {"what": "签到表照片", "required": False}
    assert "需上传：签到表照片" in Browser(app, "zhang").html(f"/tasks/{task['id']}")
    walk.meeting("two_committees", "two_committees")  # a request only, by default
    walk.review("review_two_committees")
    set_village_settings(app, evidence="required")
    task = walk.task("party_members")
    assert walk.secretary.get(f"/tasks/{task['id']}").get_json()["evidence"]["required"] is True
    r = walk.meeting("party_members", "party_members", status=422)
    assert r.get_json()["error"]["fields"]["file"] == ["需上传：签到表照片（本村规定，提交前须上传）"]
    assert walk.task("party_members")["id"] == task["id"]  # nothing moved
    upload(walk.secretary, task["id"], jpeg(), "签到表.jpg")
    walk.meeting("party_members", "party_members")
    assert "review_party_members" in walk.ready()
    from engine.catalogue.village_settings import check_settings

    assert check_settings({"evidence": "required"}) == {}
    assert "办理记录的证据材料只能是" in check_settings({"evidence": "sometimes"})["evidence"][0]


def test_a_file_of_exactly_the_limit_is_taken(tmp_path, sqlite_template, clock):
    """The multipart envelope does not count against CUNWU_MAX_UPLOAD: the file itself is what is limited."""
    from tests.conftest import _sqlite_app

    app = _sqlite_app(tmp_path, sqlite_template, clock, CUNWU_MAX_UPLOAD=4096)
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    pdf = MINIMAL_PDF.replace(b"%%EOF", b"%" + b" " * (4096 - len(MINIMAL_PDF) - 2) + b"\n%%EOF", 1)  # a comment
    assert len(pdf) == 4096 and pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    assert upload(walk.secretary, task["id"], pdf, "会议记录.pdf").status_code == 201
    assert upload(walk.secretary, task["id"], pdf + b"\n", "会议记录.pdf").status_code == 413
    app.extensions["cunwu_db"].dispose()


# -- retention (保管期限) ------------------------------------------------------------------------------
def test_every_item_states_its_retention_per_the_archive_rules():
    """《村级档案管理办法》第七条 and its annex (永久, 定期 30年/10年); 组织法第三十四条's 村务档案 (会议记录,
    基本建设资料, 宅基地使用方案, 征地补偿费分配方案 …) permanent; payments as 会计凭证 30年 and the quarterly
    财务公开 as a 季度财务报告 10年 (《会计档案管理办法》附件)."""
    from engine.catalogue.catalog import RETENTION, load_catalogue

    items = {i.key: i.extra.get("retention") for i in load_catalogue()}
    assert all(value in RETENTION for value in items.values()), items
    assert items["major-decision"] == items["homestead"] == items["requisition-distribution"] == "permanent"
    assert items["construction-project"] == items["asset-disposal"] == "permanent"
    assert items["spending-approval"] == items["subsistence-allowance"] == "30y"
    assert items["finance-disclosure"] == items["certificate"] == "10y"
    assert set(items.values()) == set(RETENTION)


def test_an_unknown_retention_is_refused_by_the_catalogue(tmp_path):
    import shutil

    from engine.catalogue.catalog import load_catalogue, processes_dir
    from engine.domain.errors import DefinitionError

    shutil.copytree(processes_dir(), tmp_path / "p")
    path = tmp_path / "p" / "catalogue.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("retention: permanent", "retention: 5y", 1),
                    encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_catalogue(tmp_path / "p")
    assert "retention 只能是 permanent、30y、10y" in str(exc.value)


def test_a_closed_certificate_is_kept_ten_years_in_the_archive_and_the_dossier(app, api, clock):
    import json
    import subprocess
    import zipfile

    from tests.test_items_services import CERT, DAY, SEAL
    from tests.test_web import Browser

    item = Item(app, api, {})
    item.start("certificate", CERT, by="li", title="孙大伯申请开具成员身份证明")
    item.do("wang", "approve", {"decision": "approve", "verified": True, "opinion": "经核实属实"})
    item.do("li", "seal_log", SEAL)
    item.do("li", "register", {"issued_on": DAY, "received_by": "孙大伯", "stub_kept": True})
    assert item.refresh()["status"] == "completed"
    archive = item.who("wang").get("/villages/demo-001/archive").get_json()
    assert [(a["case"], a["retention"], a["retention_name"]) for a in archive] == [(item.case["id"], "10y", "10年")]
    assert "10年" in Browser(app, "wang").html("/villages/demo-001/archive")
    r = item.who("wang").get(f"/instances/{item.case['id']}/dossier?format=zip")
    assert r.status_code == 200, r.get_json()
    bundle = zipfile.ZipFile(io.BytesIO(r.data))
    assert json.loads(bundle.read("manifest.json"))["retention"] == "10y"
    text = subprocess.run(["pdftotext", "-", "-"], input=bundle.read("dossier.pdf"), capture_output=True,
                          check=True).stdout.decode()
    assert "10年" in text


# -- HEIC from phones ---------------------------------------------------------------------------------
def heic(size=(320, 240), gps: bool = True) -> bytes:
    """A real HEIC photo (pillow-heif encodes it here), with the camera's make and GPS position."""
    evidence.heif_available()
    img = Image.new("RGB", size, (30, 160, 90))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "VillageCam"
    if gps:
        exif.get_ifd(ExifTags.IFD.GPSInfo).update({
            ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (39.0, 54.0, 27.0),
            ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (116.0, 23.0, 50.0)})
    out = io.BytesIO()
    img.save(out, "HEIF", quality=80, exif=exif.tobytes())
    return out.getvalue()


def test_a_phone_heic_photo_is_kept_as_it_is_and_shown_as_jpeg(any_app, clock):
    import json
    import subprocess
    import zipfile

    from tests.test_web import Browser

    app = any_app
    original = heic()
    assert original[4:12] == b"ftypheic" and b"VillageCam" in original
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    r = upload(walk.secretary, task["id"], original, "IMG_0001.HEIC")
    assert r.status_code == 201, r.get_json()
    att = r.get_json()
    assert att["content_type"] == "image/heic" and att["name"] == "IMG_0001.HEIC"
    assert att["sha256"] == hashlib.sha256(original).hexdigest()
    # The original is the evidence, byte for byte; what browsers are shown is a JPEG made from it.
    r = walk.secretary.get(f"/attachments/{att['id']}")
    assert r.data == original and r.mimetype == "image/heic"
    page = Browser(app, "zhang")
    thumb = page.get(f"/attachments/{att['id']}/thumb")
    assert thumb.status_code == 200 and thumb.data.startswith(b"\xff\xd8\xff")
    view = page.get(f"/attachments/{att['id']}/jpeg")
    assert view.status_code == 200 and view.mimetype == "image/jpeg" and b"VillageCam" not in view.data
    with Image.open(io.BytesIO(view.data)) as img:
        assert img.format == "JPEG" and img.size == (320, 240)
    assert f"/attachments/{att['id']}/jpeg" in page.html(f"/tasks/{task['id']}")
    assert Browser(app, "chen").get(f"/attachments/{att['id']}/jpeg").status_code == 403
    walk.meeting("two_committees", "two_committees")
    # On the board: the copy is a JPEG without the position.
    walk.review("review_two_committees")
    walk.meeting("party_members", "party_members")
    walk.review("review_party_members")
    walk.meeting("representatives", "representatives")
    walk.review("review_resolution")
    draft = walk.task("draft_resolution_disclosure")
    upload(walk.director, draft["id"], heic(size=(200, 150)), "公示栏.heic")
    walk.disclose("resolution")
    [item] = walk.board()[0]["evidence"]
    r = walk.public.client.get(f"/villages/demo-001/board/photos/{item['sha256']}")
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data.startswith(b"\xff\xd8\xff")
    assert b"VillageCam" not in r.data and b"GPS" not in r.data
    # The dossier: the PDF prints the photo (as JPEG), the zip carries the HEIC original.
    r = walk.secretary.get(f"/instances/{walk.case['id']}/dossier?format=zip")
    bundle = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(bundle.read("manifest.json"))
    name = f"files/{att['id']}-IMG_0001.HEIC"
    assert {"name": name, "sha256": att["sha256"], "size": att["size"]} in manifest["files"]
    assert bundle.read(name) == original
    images = subprocess.run(["pdfimages", "-list", "-", ], input=bundle.read("dossier.pdf"), capture_output=True)
    if images.returncode != 0:  # pdfimages reads a file, not stdin, on some builds
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".pdf") as fh:
            fh.write(bundle.read("dossier.pdf"))
            fh.flush()
            images = subprocess.run(["pdfimages", "-list", fh.name], capture_output=True, check=True)
    rows = [line.split() for line in images.stdout.decode().splitlines()[2:]]
    assert sum(1 for row in rows if row[3:5] in (["320", "240"], ["200", "150"])) >= 2, images.stdout.decode()


def test_a_broken_heic_is_refused_and_without_the_library_heic_is_refused_clearly(app, monkeypatch):
    walk = walk_on(app)
    walk.start()
    task = walk.task("two_committees")
    good = heic()
    r = upload(walk.secretary, task["id"], good[: len(good) // 2], "IMG_0002.HEIC")
    assert r.status_code == 422 and "HEIC 照片已损坏或不完整" in r.get_json()["error"]["fields"]["file"][0]
    monkeypatch.setattr(evidence, "_HEIF", False)
    r = upload(walk.secretary, task["id"], good, "IMG_0003.HEIC")
    assert r.status_code == 422 and "暂不能读取 HEIC" in r.get_json()["error"]["fields"]["file"][0]
    with app.extensions["cunwu"].sessions() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0

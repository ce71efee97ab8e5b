"""Evidence in an S3-compatible object store (issue 14), against a real S3 server process that
the test starts: moto's standalone server (``moto_server``, the S3 REST API over HTTP, spoken to
by boto3 with signed requests), on a free local port. Upload, dedupe, download, doctor finding
a changed and a missing object, the zip dossier, backup and restore, the board's copy."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

import boto3  # a test dependency: missing, the run fails (pip install -e .[test])
import pytest

from tests.conftest import ApiClient, _sqlite_app  # noqa: E402
from tests.test_evidence import _cli, jpeg, pdf, png, upload, walk_on  # noqa: E402

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "cunwu-test", "AWS_SECRET_ACCESS_KEY": "cunwu-test-secret"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_server():
    """An S3-compatible server in its own process for this module."""
    program = Path(sys.executable).with_name("moto_server")
    assert program.exists(), "moto_server is not installed (pip install -e .[test])"
    port = _free_port()
    server = subprocess.Popen([str(program), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the S3 server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3(s3_server, monkeypatch):
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"cunwu-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    return {"endpoint": s3_server, "bucket": bucket, "client": client,
            "config": {"CUNWU_ATTACHMENTS_URL": f"s3://{bucket}/evidence", "CUNWU_S3_ENDPOINT": s3_server}}


@pytest.fixture
def s3_app(tmp_path, clock, sqlite_template, s3):
    app = _sqlite_app(tmp_path, sqlite_template, clock, **s3["config"])
    yield app
    app.extensions["cunwu_db"].dispose()


def _keys(s3) -> list[str]:
    found = s3["client"].list_objects_v2(Bucket=s3["bucket"]).get("Contents", [])
    return sorted(o["Key"] for o in found if "/derived/" not in o["Key"])


def test_evidence_lives_in_the_object_store(s3_app, s3):
    store = s3_app.extensions["cunwu"].files
    assert store.kind == "s3"
    walk = walk_on(s3_app)
    walk.start()
    task = walk.task("two_committees")
    files = {"签到表.jpg": jpeg(), "会议记录.pdf": pdf(), "表决票.png": png()}
    made = {name: upload(walk.secretary, task["id"], data, name).get_json() for name, data in files.items()}
    again = upload(walk.secretary, task["id"], files["签到表.jpg"], "签到表（重拍）.jpg").get_json()
    assert again["sha256"] == made["签到表.jpg"]["sha256"]
    digests = sorted(hashlib.sha256(d).hexdigest() for d in files.values())
    assert _keys(s3) == sorted(f"evidence/{d[:2]}/{d}" for d in digests)  # stored once each, by hash
    for name, data in files.items():
        assert s3["client"].get_object(Bucket=s3["bucket"], Key=store.key(made[name]["sha256"]))["Body"].read() == data
    walk.meeting("two_committees", "two_committees")
    step = [h for h in walk.case["history"] if h["action"] == "complete" and h["task"] == task["id"]][0]
    assert len(step["attachments"]) == 4
    for name, data in files.items():
        assert walk.supervisor.get(f"/attachments/{made[name]['id']}").data == data
    thumb = ApiClient(s3_app, "zhang").client  # the page thumbnail is made from the object
    r = thumb.post("/login", data={"username": "zhang", "password": "demo123"})
    assert r.status_code == 302
    assert thumb.get(f"/attachments/{made['签到表.jpg']['id']}/thumb").mimetype == "image/jpeg"

    r = walk.supervisor.get(f"/instances/{walk.case['id']}/dossier?format=zip")
    archive = zipfile.ZipFile(io.BytesIO(r.data))
    manifest = json.loads(archive.read("manifest.json"))
    for f in manifest["files"]:
        assert hashlib.sha256(archive.read(f["name"])).hexdigest() == f["sha256"]
    assert set(digests) <= {f["sha256"] for f in manifest["files"]}

    assert _cli(s3_app, "doctor").count("4个附件文件") == 1
    changed = made["会议记录.pdf"]
    s3["client"].put_object(Bucket=s3["bucket"], Key=store.key(changed["sha256"]), Body=pdf() + b"\n% edited")
    s3["client"].delete_object(Bucket=s3["bucket"], Key=store.key(made["表决票.png"]["sha256"]))
    out = _cli(s3_app, "doctor", code=1)
    assert f"附件{changed['id']}“会议记录.pdf”的原件（s3://{s3['bucket']}/evidence/" in out and "已被改动" in out
    assert f"附件{made['表决票.png']['id']}“表决票.png”的原件" in out and "已缺失" in out
    assert walk.supervisor.get(f"/attachments/{changed['id']}").status_code == 409
    assert walk.supervisor.get(f"/attachments/{made['表决票.png']['id']}").status_code == 404


def test_backup_and_restore_with_the_object_store(s3_app, s3, tmp_path):
    walk = walk_on(s3_app)
    walk.start()
    task = walk.task("two_committees")
    files = {"签到表.jpg": jpeg(), "会议记录.pdf": pdf()}
    ids = {upload(walk.secretary, task["id"], data, name).get_json()["id"]: data for name, data in files.items()}
    walk.meeting("two_committees", "two_committees")
    backup = tmp_path / "cunwu.bak"
    assert "附件文件2个" in _cli(s3_app, "backup", str(backup))
    for key in _keys(s3):  # the bucket is lost
        s3["client"].delete_object(Bucket=s3["bucket"], Key=key)
    walk.review("review_two_committees")
    assert "附件文件2个" in _cli(s3_app, "restore", str(backup), "--yes")
    assert len(_keys(s3)) == 2
    walk.supervisor = ApiClient(s3_app, "zhao")  # tokens issued after the backup are gone with it
    for attachment_id, data in ids.items():
        r = walk.supervisor.get(f"/attachments/{attachment_id}")
        assert r.status_code == 200 and r.data == data, r.data[:200]
    assert walk.ready() == ["review_two_committees"]
    assert "2个附件文件" in _cli(s3_app, "doctor")


def test_the_board_copy_is_in_the_object_store_too(s3_app, s3):
    walk = walk_on(s3_app)
    walk.start()
    walk.to_resolution()
    task = walk.task("draft_resolution_disclosure")
    upload(walk.director, task["id"], jpeg(gps=True), "张贴照片.jpg")
    walk.disclose("resolution")
    digest = walk.board()[0]["evidence"][0]["sha256"]
    assert f"evidence/{digest[:2]}/{digest}" in _keys(s3)
    r = walk.public.client.get(f"/villages/demo-001/board/photos/{digest}")
    assert r.status_code == 200 and hashlib.sha256(r.data).hexdigest() == digest and b"GPS" not in r.data


@pytest.mark.pg
def test_postgresql_with_the_object_store(pg_app, s3):
    from engine.records.evidence import make_store

    pg_app.extensions["cunwu"].files = make_store(s3["config"], "/nonexistent")
    walk = walk_on(pg_app)
    walk.start()
    task = walk.task("two_committees")
    made = upload(walk.secretary, task["id"], jpeg(), "签到表.jpg").get_json()
    walk.meeting("two_committees", "two_committees")
    assert walk.supervisor.get(f"/attachments/{made['id']}").data == jpeg()
    assert "1个附件文件" in _cli(pg_app, "doctor")

"""``cunwu backup`` / ``cunwu restore``: run a case to its resolution notice, back up, lose or
replace the database, restore into a fresh one; then ``cunwu doctor`` and ``board verify`` pass
and the case goes on where it stopped."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import PG_URL, ApiClient, _drop_pg_schema, _fresh_pg_schema
from tests.flows import Walk
from web import create_app


def _walk_to_notice(app) -> Walk:
    walk = Walk(lambda u: ApiClient(app, u))
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "经村民代表会议表决通过：硬化村东道路。")
    assert [e["kind"] for e in walk.board()] == ["resolution"]
    return walk


def _cli(app, *args, code: int = 0) -> str:
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def _goes_on(app, case_id: int, clock) -> None:
    """doctor and board verify pass, and the case continues after its notice period."""
    assert "一致" in _cli(app, "doctor")
    assert "完好" in _cli(app, "board", "verify")
    walk = Walk(lambda u: ApiClient(app, u))
    walk.case = {"id": case_id}
    assert walk.ready() == []
    clock.advance(days=7, seconds=1)
    _cli(app, "timers", "run")
    assert walk.ready() == ["implement"]
    walk.do(walk.director, "implement", {"summary": "道路已硬化完成", "amount_spent": "176500.50"})
    assert walk.ready() == ["review_implementation"]
    assert "一致" in _cli(app, "doctor")


def _app(url: str, clock):
    return create_app({"TESTING": True, "SECRET_KEY": "test", "DATABASE_URL": url, "CUNWU_CLOCK": clock})


def test_sqlite_round_trip_into_a_fresh_database(app, clock, tmp_path):
    walk = _walk_to_notice(app)
    backup = tmp_path / "backup" / "cunwu.bak"
    out = _cli(app, "backup", str(backup))
    assert "sqlite" in out and backup.read_bytes().startswith(b"SQLite format 3\x00")
    fresh = _app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", clock)
    try:
        _cli(fresh, "restore", str(backup), "--yes")
        _goes_on(fresh, walk.case["id"], clock)
    finally:
        fresh.extensions["cunwu_db"].dispose()


def test_sqlite_restore_replaces_later_changes(app, clock, tmp_path):
    walk = _walk_to_notice(app)
    backup = tmp_path / "cunwu.bak"
    _cli(app, "backup", str(backup))
    later = Walk(lambda u: ApiClient(app, u)).start()  # made after the backup: the restore drops it
    _cli(app, "restore", str(backup), "--yes")
    r = ApiClient(app, "zhang").get(f"/instances/{later['id']}")
    assert r.status_code == 404
    _goes_on(app, walk.case["id"], clock)


def test_restore_asks_before_replacing(app, tmp_path):
    backup = tmp_path / "cunwu.bak"
    _cli(app, "backup", str(backup))
    result = app.test_cli_runner().invoke(args=["restore", str(backup)], input="n\n")
    assert result.exit_code == 1 and "确定吗" in result.output


def test_restore_refuses_what_is_not_a_backup(app, tmp_path):
    junk = tmp_path / "junk.bak"
    junk.write_text("hello", encoding="utf-8")
    out = app.test_cli_runner().invoke(args=["restore", str(junk), "--yes"])
    assert out.exit_code == 1 and "不是 cunwu 的备份文件" in out.output
    assert "一致" in _cli(app, "doctor")  # and nothing was touched


@pytest.mark.pg
def test_postgresql_pg_dump_round_trip_after_losing_the_schema(pg_app, clock, tmp_path):
    from engine.services.backup import pg_tool

    assert pg_tool("pg_dump") is not None, "pg_dump is not installed (bin/test installs postgresql)"
    walk = _walk_to_notice(pg_app)
    backup = tmp_path / "cunwu.pgdump"
    assert "（pg，" in _cli(pg_app, "backup", str(backup))
    assert backup.read_bytes().startswith(b"PGDMP")
    db = pg_app.extensions["cunwu_db"]
    schema = db.url.query["options"].split("=")[-1]
    db.dispose()
    with db.begin() as conn:  # the disaster
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    _cli(pg_app, "restore", str(backup), "--yes")
    _goes_on(pg_app, walk.case["id"], clock)
    with db.connect() as conn:  # nothing left aside
        assert conn.scalar(text("select count(*) from pg_namespace where nspname like :n"),
                           {"n": f"{schema}_before%"}) == 0


@pytest.mark.pg
def test_postgresql_restore_into_a_fresh_database(pg_app, clock, tmp_path):
    from engine.services.backup import pg_tool

    assert pg_tool("pg_dump") is not None, "pg_dump is not installed (bin/test installs postgresql)"
    walk = _walk_to_notice(pg_app)
    backup = tmp_path / "cunwu.pgdump"
    _cli(pg_app, "backup", str(backup))
    name = f"cunwu_restore_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_app.config["DATABASE_URL"].replace("/test?", f"/{name}?")
    fresh = _app(url, clock)
    try:
        _cli(fresh, "restore", str(backup), "--yes")
        _goes_on(fresh, walk.case["id"], clock)
    finally:
        fresh.extensions["cunwu_db"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.pg
def test_json_dump_moves_a_village_from_sqlite_to_postgresql(app, clock, tmp_path):
    walk = _walk_to_notice(app)
    backup = tmp_path / "cunwu.json"
    assert "（json，" in _cli(app, "backup", str(backup), "--format", "json")
    url, schema = _fresh_pg_schema()
    target = _app(url, clock)
    try:
        out = _cli(target, "restore", str(backup), "--yes")
        assert "json" in out
        _goes_on(target, walk.case["id"], clock)
        r = ApiClient(target, "zhang").post("/instances", json={  # ids go on after the restored ones
            "process": "major-decision", "village": "demo-001", "title": "新事项",
            "data": {"title": "新事项", "summary": "恢复后新发起"}})
        assert r.status_code == 201 and r.get_json()["id"] > walk.case["id"]
    finally:
        target.extensions["cunwu_db"].dispose()
        _drop_pg_schema(schema)


def test_json_round_trip_on_sqlite_keeps_every_row(app, clock, tmp_path):
    _walk_to_notice(app)
    backup = tmp_path / "cunwu.json"
    _cli(app, "backup", str(backup), "--format", "json")
    fresh = _app(f"sqlite:///{tmp_path / 'fresh.sqlite3'}", clock)
    try:
        _cli(fresh, "restore", str(backup), "--yes")
        tables = ["village", "person", "role_assignment", "process_definition", "case_instance", "task",
                  "audit_event", "board_entry", "objection"]
        for table in tables:
            with app.extensions["cunwu_db"].connect() as a, fresh.extensions["cunwu_db"].connect() as b:
                rows_a = a.execute(text(f"select * from {table} order by 1")).all()
                rows_b = b.execute(text(f"select * from {table} order by 1")).all()
            assert rows_a == rows_b, table
    finally:
        fresh.extensions["cunwu_db"].dispose()


def test_backup_format_must_fit_the_database(app, tmp_path):
    out = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "x.bak"), "--format", "pg"])
    assert out.exit_code == 1 and "只适用于 PostgreSQL" in out.output
    assert not Path(tmp_path / "x.bak").exists()


@pytest.mark.pg
def test_postgresql_round_trip_in_the_public_schema(clock, tmp_path):
    """The usual production set-up: a database of its own, tables in ``public``."""
    from engine.services.backup import pg_tool
    from tests.conftest import _make_app

    assert pg_tool("pg_dump") is not None, "pg_dump is not installed (bin/test installs postgresql)"
    name = f"cunwu_public_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = PG_URL.split("?")[0].rsplit("/", 1)[0]
    app = _make_app(f"{base}/{name}", clock)
    try:
        walk = _walk_to_notice(app)
        backup = tmp_path / "cunwu.pgdump"
        _cli(app, "backup", str(backup))
        Walk(lambda u: ApiClient(app, u)).start()  # after the backup: gone after the restore
        _cli(app, "restore", str(backup), "--yes")
        with app.extensions["cunwu_db"].connect() as conn:
            assert conn.scalar(text("select count(*) from case_instance")) == 1
            assert conn.scalar(text("select current_schema()")) == "public"
        _goes_on(app, walk.case["id"], clock)
    finally:
        app.extensions["cunwu_db"].dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

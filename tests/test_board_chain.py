"""The publicity log is tamper-evident: edits and deletions are found by verify and the CLI."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from engine.store.models import BoardEntry
from tests.flows import Walk


def three_entries(app, api, clock):
    walk = Walk(api)
    walk.start()
    walk.to_resolution()
    walk.disclose("resolution", "决议：硬化村东道路")
    entry = walk.board()[0]
    walk.public.post(f"/board/{entry['id']}/objections", json={"name": "刘", "text": "有异议"})
    walk.do(walk.supervisor, "reply_resolution_objection", {"decision": "dismiss", "reply": "不成立"})
    clock.advance(days=8)
    app.test_cli_runner().invoke(args=["timers", "run"])
    walk.do(walk.director, "implement", {"summary": "完成", "amount_spent": "1000"})
    walk.review("review_implementation")
    walk.disclose("result", "结果：已完成")
    assert len(walk.board()) == 3
    return walk


def verify_cli(app):
    return app.test_cli_runner().invoke(args=["board", "verify", "--village", "demo-001"])


def test_intact_chain_verifies(app, api, clock):
    three_entries(app, api, clock)
    result = verify_cli(app)
    assert result.exit_code == 0, result.output
    assert "完好" in result.output and "3条" in result.output


def tamper(app, stmt):
    engine = app.extensions["cunwu"]
    with engine.sessions() as s, s.begin():
        s.execute(stmt)


def test_an_edited_entry_is_detected(app, api, clock):
    walk = three_entries(app, api, clock)
    first = walk.board()[-1]
    tamper(app, update(BoardEntry).where(BoardEntry.id == first["id"]).values(content="决议：硬化村西道路"))
    result = verify_cli(app)
    assert result.exit_code == 1
    assert "第1条" in result.output and "改动" in result.output
    verify = walk.public.get("/villages/demo-001/board/verify").get_json()
    assert verify["ok"] is False and verify["broken"]["id"] == first["id"]


def test_an_edited_date_is_detected(app, api, clock):
    walk = three_entries(app, api, clock)
    entry = walk.board()[0]
    engine = app.extensions["cunwu"]
    with engine.sessions() as s:
        row = s.get(BoardEntry, entry["id"])
        earlier = row.notice_until.replace(year=row.notice_until.year - 1)
    tamper(app, update(BoardEntry).where(BoardEntry.id == entry["id"]).values(notice_until=earlier))
    assert verify_cli(app).exit_code == 1


def test_a_deleted_middle_entry_is_detected(app, api, clock):
    walk = three_entries(app, api, clock)
    middle = walk.board()[1]
    tamper(app, delete(BoardEntry).where(BoardEntry.id == middle["id"]))
    result = verify_cli(app)
    assert result.exit_code == 1 and "第3条" in result.output


def test_a_deleted_newest_entry_is_detected(app, api, clock):
    walk = three_entries(app, api, clock)
    newest = walk.board()[0]
    tamper(app, delete(BoardEntry).where(BoardEntry.id == newest["id"]))
    result = verify_cli(app)
    assert result.exit_code == 1 and "应有3条" in result.output


def test_a_rehashed_forgery_is_still_detected_by_the_anchor(app, api, clock):
    """Editing an entry and recomputing its hash breaks the next entry's link."""
    from engine.records import publicity

    walk = three_entries(app, api, clock)
    first = walk.board()[-1]
    engine = app.extensions["cunwu"]
    with engine.sessions() as s, s.begin():
        row = s.get(BoardEntry, first["id"])
        row.content = "伪造"
        row.hash = publicity.entry_hash(row, "demo-001")
    result = verify_cli(app)
    assert result.exit_code == 1 and "第2条" in result.output


def test_verify_all_villages_and_unknown_village(app, api, clock):
    three_entries(app, api, clock)
    result = app.test_cli_runner().invoke(args=["board", "verify"])
    assert result.exit_code == 0 and "demo-001" in result.output and "demo-002" in result.output
    result = app.test_cli_runner().invoke(args=["board", "verify", "--village", "nowhere"])
    assert result.exit_code == 1 and "nowhere" in result.output


def test_entries_are_chained_in_order(app, api, clock):
    three_entries(app, api, clock)
    engine = app.extensions["cunwu"]
    with engine.sessions() as s:
        rows = list(s.scalars(select(BoardEntry).order_by(BoardEntry.seq)))
    assert [r.seq for r in rows] == [1, 2, 3]
    assert rows[0].prev_hash == "0" * 64
    assert rows[1].prev_hash == rows[0].hash and rows[2].prev_hash == rows[1].hash

"""Hostile input: broken BPMN files, quorum rules against a Fraction reference, and tampering
with the public board chain (property-based, hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from engine.catalogue.catalog import validate_files
from engine.domain import rules
from engine.records import publicity
from engine.store.models import Base, BoardEntry, Village

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
BROKEN = sorted(p for p in HOSTILE.glob("*.bpmn") if p.name != "valid-minimal.bpmn")
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.+)$")


# -- broken BPMN files ------------------------------------------------------------------------------
def _validate(app, *paths):
    return app.test_cli_runner().invoke(args=["processes", "validate", *map(str, paths)])


def _problems(output: str, path: Path) -> list[re.Match]:
    found = [LINE.match(line) for line in output.splitlines()]
    return [m for m in found if m and m["file"] == str(path)]


def test_the_corpus_is_there():
    names = {p.stem for p in BROKEN}
    assert {"malformed-xml", "dangling-reference", "unknown-element", "bare-task", "endless-loop",
            "escape-condition", "external-entity", "billion-laughs"} <= names


@pytest.mark.parametrize("path", BROKEN, ids=[p.stem for p in BROKEN])
def test_each_broken_file_is_reported_with_a_line(app, path):
    result = _validate(app, path)
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    problems = _problems(result.output, path)
    assert problems, result.output
    for m in problems:
        assert int(m["line"]) >= 1 and m["message"].strip()


EXPECTED = {
    "bare-task": (5, "bpmn:task"),
    "dangling-reference": (8, "nowhere"),
    "endless-loop": (5, "到不了结束事件"),
    "escape-condition": (10, "__subclasses__"),
    "bad-timer": (7, "定时表达式"),
    "malformed-xml": (5, "XML 格式错误"),
    "external-entity": (5, "external entity"),
    "billion-laughs": (16, "XML 格式错误"),
    "unknown-element": (5, "teleportTask"),
    "not-bpmn": (2, "bpmn:definitions"),
}


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_the_message_points_at_the_culprit(app, stem):
    path = HOSTILE / f"{stem}.bpmn"
    line, words = EXPECTED[stem]
    problems = _problems(_validate(app, path).output, path)
    assert any(int(m["line"]) == line and words in m["message"] for m in problems), problems


def test_a_valid_file_among_broken_ones(app):
    good = HOSTILE / "valid-minimal.bpmn"
    result = _validate(app, good, HOSTILE / "bare-task.bpmn")
    assert result.exit_code == 1
    assert not _problems(result.output, good)
    assert _validate(app, good).exit_code == 0


def test_a_five_megabyte_file_is_refused(app, tmp_path):
    big = tmp_path / "huge.bpmn"
    body = (HOSTILE / "valid-minimal.bpmn").read_text(encoding="utf-8")
    padding = "<!-- " + "填充" * 1000 + " -->\n"
    big.write_text(body.replace("<bpmn:process", padding * (5 * 1024 * 1024 // len(padding.encode()) + 1)
                                + "<bpmn:process", 1), encoding="utf-8")
    assert big.stat().st_size > 5 * 1024 * 1024
    result = _validate(app, big)
    assert result.exit_code == 1
    (problem,) = _problems(result.output, big)
    assert "文件过大" in problem["message"]


def test_deep_nesting_and_many_elements_do_not_crash(app, tmp_path):
    deep = tmp_path / "deep.bpmn"
    deep.write_text('<?xml version="1.0"?>\n' + "<a>" * 100_000 + "</a>" * 100_000, encoding="utf-8")
    wide = tmp_path / "wide.bpmn"
    body = (HOSTILE / "valid-minimal.bpmn").read_text(encoding="utf-8")
    tasks = "".join(f'<bpmn:userTask id="t{i}" name="任务{i}" />\n' for i in range(5000))
    wide.write_text(body.replace('<bpmn:endEvent id="end_completed" />', tasks + '<bpmn:endEvent id="end_completed" />'),
                    encoding="utf-8")
    result = _validate(app, deep, wide)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _problems(result.output, deep)
    wide_problems = _problems(result.output, wide)
    assert wide_problems and all("无法从开始事件到达" in m["message"] for m in wide_problems)


def test_unreadable_and_missing_files(app, tmp_path):
    missing = tmp_path / "nope.bpmn"
    folder = tmp_path / "folder.bpmn"
    folder.mkdir()
    result = _validate(app, missing, folder)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert _problems(result.output, missing) and _problems(result.output, folder)


def test_validate_files_never_raises_on_the_corpus():
    problems = validate_files(BROKEN)
    files = {LINE.match(p)["file"] for p in problems}
    assert files == {str(p) for p in BROKEN}


# -- quorum rules against a Fraction reference -------------------------------------------------------
def _ref_meeting(body, n, attended, approve, households, attended_households, settings):
    half, two_thirds = Fraction(n, 2), Fraction(2 * n, 3)
    if body == "two_committees":
        quorum, passed = attended > half, approve > half
    elif body == "party_members":
        quorum = attended >= (two_thirds if settings.get("party_members_quorum") == "two_thirds" else half)
        passed = approve > half
    elif body == "representatives":
        quorum = attended >= two_thirds
        passed = approve > (half if settings.get("representatives_pass") == "all_members" else Fraction(attended, 2))
    else:
        quorum = attended > half or (households > 0 and attended_households >= Fraction(2 * households, 3))
        passed = approve > Fraction(attended, 2)
    return "lapsed" if not quorum else ("passed" if passed else "failed")


@given(part=st.integers(0, 10**6), whole=st.integers(0, 10**6))
def test_counting_words_match_exact_fractions(part, whole):
    assert rules.more_than_half(part, whole) == (Fraction(part) > Fraction(whole, 2))
    assert rules.at_least_half(part, whole) == (Fraction(part) >= Fraction(whole, 2))
    assert rules.at_least_two_thirds(part, whole) == (Fraction(part) >= Fraction(2 * whole, 3))


@st.composite
def meetings(draw):
    body = draw(st.sampled_from(sorted(rules.BODIES)))
    n = draw(st.integers(1, 3000))
    attended = draw(st.integers(0, n))
    approve = draw(st.integers(0, attended))
    households = draw(st.integers(0, 1500))
    attended_households = draw(st.integers(0, households))
    cfg = {
        "party_members_quorum": draw(st.sampled_from(["half", "two_thirds"])),
        "representatives_pass": draw(st.sampled_from(["present", "all_members"])),
    }
    on = draw(st.dates(date(2019, 1, 1), date(2030, 12, 31)))
    return body, n, attended, approve, households, attended_households, cfg, on


@settings(max_examples=400)
@given(meetings())
def test_meeting_outcomes_match_the_reference(meeting):
    body, n, attended, approve, households, attended_households, cfg, on = meeting
    result = rules.evaluate_meeting(body, should_attend=n, attended=attended, approve=approve, on=on,
                                    households=households, attended_households=attended_households, settings=cfg)
    assert result.outcome == _ref_meeting(body, n, attended, approve, households, attended_households, cfg)
    assert result.quorum_met == (result.outcome != "lapsed")


@given(st.sampled_from(sorted(rules.BODIES)), st.integers(1, 3000), st.data())
def test_boundaries_one_below_is_different(body, n, data):
    """At exactly the threshold the rule holds; one below it does not (for the count that decides)."""
    cfg = {"party_members_quorum": "half", "representatives_pass": "present"}
    for attended in range(n + 1):
        here = _ref_meeting(body, n, attended, 0, 0, 0, cfg) != "lapsed"
        if here:  # the smallest quorum: one person less lapses
            assert _ref_meeting(body, n, attended - 1, 0, 0, 0, cfg) == "lapsed" if attended else True
            got = rules.evaluate_meeting(body, should_attend=n, attended=attended, approve=0, on=date(2026, 3, 1),
                                         settings=cfg)
            assert got.quorum_met
            if attended:
                below = rules.evaluate_meeting(body, should_attend=n, attended=attended - 1, approve=0,
                                               on=date(2026, 3, 1), settings=cfg)
                assert not below.quorum_met
            break


@given(attended=st.integers(0, 100), approve=st.integers(0, 100), oppose=st.integers(0, 100),
       abstain=st.integers(0, 100), should=st.integers(1, 100))
def test_tally_errors_reject_impossible_counts(attended, approve, oppose, abstain, should):
    errors = rules.tally_errors("representatives", should_attend=should, attended=attended, approve=approve,
                                oppose=oppose, abstain=abstain)
    assert ("attended" in errors) == (attended > should)
    assert ("approve" in errors) == (approve + oppose + abstain > attended)


# -- the board chain: any single tampering is detected ---------------------------------------------
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _chain(n: int) -> tuple[Session, Village]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    session = Session(engine)
    village = Village(code="v-1", name="测试村", township="测试镇", adults=900, households=300, party_members=30,
                      representatives=30, two_committees=7, settings={}, board_count=0, board_head="")
    session.add(village)
    session.flush()
    for i in range(n):
        publicity.post(session, village, kind="resolution" if i % 2 == 0 else "result", title=f"公示{i + 1}",
                       content=f"第{i + 1}条公开内容", posted_at=START + timedelta(days=i),
                       notice_until=START + timedelta(days=i + 7), posted_by="王主任", reviewed_by="赵监委")
    session.commit()
    return session, village


FIELDS = ["title", "content", "kind", "posted_by", "reviewed_by", "posted_at", "notice_until", "seq",
          "prev_hash", "hash", "case_id", "refers_to_id", "village_id"]


def _changed(value, data):
    if isinstance(value, datetime):
        return value + timedelta(microseconds=data.draw(st.integers(1, 10**9)))
    if isinstance(value, int):
        return value + data.draw(st.integers(1, 50))
    if value is None:
        return data.draw(st.integers(1, 999))
    new = data.draw(st.text(min_size=1, max_size=20))
    assume(new != value)
    return new


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 6), how=st.sampled_from(["edit", "edit_and_rehash", "insert", "append_unanchored",
                                                   "delete", "swap", "swap_contents", "truncate_anchor"]),
       data=st.data())
def test_any_single_tampering_breaks_verify(n, how, data):
    session, village = _chain(n)
    assert publicity.verify(session, village)["ok"]
    entries = list(session.scalars(select(BoardEntry).order_by(BoardEntry.seq)))
    i = data.draw(st.integers(0, n - 1))
    target = entries[i]
    if how == "edit":
        field = data.draw(st.sampled_from(FIELDS))
        new = _changed(getattr(target, field), data)
        if field == "village_id":
            other = Village(code="v-2", name="邻村", township="测试镇", adults=1, households=1, party_members=1,
                            representatives=1, two_committees=1, settings={}, board_count=0, board_head="")
            session.add(other)
            session.flush()
            new = other.id
        if field == "seq":
            assume(new not in {e.seq for e in entries})
        setattr(target, field, new)
    elif how == "edit_and_rehash":  # a cleverer forger recomputes the entry's own hash
        target.content = target.content + data.draw(st.text(min_size=1, max_size=10))
        target.hash = publicity.entry_hash(target, village.code)
    elif how == "insert":  # a forged entry in the middle, chained to its predecessor
        for later in reversed(entries[i:]):
            later.seq += 1
            session.flush()
        forged = BoardEntry(village_id=village.id, seq=target.seq - 1, kind="resolution", title="伪造",
                            content="伪造的公示", posted_at=target.posted_at, posted_by="某人", reviewed_by="",
                            prev_hash=target.prev_hash)
        forged.hash = publicity.entry_hash(forged, village.code)
        session.add(forged)
    elif how == "append_unanchored":  # a well-formed entry at the end, without the village anchor
        last = entries[-1]
        forged = BoardEntry(village_id=village.id, seq=last.seq + 1, kind="result", title="补录", content="事后补录",
                            posted_at=last.posted_at, posted_by="某人", reviewed_by="", prev_hash=last.hash)
        forged.hash = publicity.entry_hash(forged, village.code)
        session.add(forged)
    elif how == "delete":
        session.delete(target)
    elif how == "truncate_anchor":  # the anchor rolled back to hide the newest entries
        village.board_count -= 1
        village.board_head = entries[-2].hash if n > 1 else publicity.GENESIS
    elif how in ("swap", "swap_contents"):
        assume(n >= 2)
        j = data.draw(st.integers(0, n - 1).filter(lambda k: k != i))
        a, b = entries[i], entries[j]
        if how == "swap":  # reorder: exchange their places in the sequence
            a_seq, b_seq = a.seq, b.seq
            a.seq = -1
            session.flush()
            b.seq = a_seq
            session.flush()
            a.seq = b_seq
        else:  # exchange what they say
            a.content, b.content = b.content, a.content
            assume(a.content != b.content)
    session.flush()
    result = publicity.verify(session, session.get(Village, village.id))
    assert not result["ok"], (how, i)
    assert result["broken"]["reason"]
    session.rollback()
    session.close()


def test_the_known_limit_a_full_rewrite_with_the_anchor(tmp_path):
    """Documented limit: someone with write access to the whole database can rewrite every entry
    after the edit and the village anchor. Publishing the head (verify endpoint, printed notices)
    is what catches that: the head changes."""
    session, village = _chain(3)
    head = publicity.verify(session, village)["head"]
    entries = list(session.scalars(select(BoardEntry).order_by(BoardEntry.seq)))
    entries[1].content = "改写后的内容"
    prev = entries[0].hash
    for e in entries[1:]:
        e.prev_hash = prev
        e.hash = publicity.entry_hash(e, village.code)
        prev = e.hash
    village.board_head = prev
    session.flush()
    result = publicity.verify(session, village)
    assert result["ok"] and result["head"] != head

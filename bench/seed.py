"""Fast bulk data for the benchmarks and the scale tests.

- :func:`clone_cases`: copies of one real case (its workflow state with fresh task ids, and its
  open task rows), e.g. 10 000 cases waiting for the same notice timer, in seconds;
- :func:`fill_tasks`, :func:`fill_board`, :func:`fill_waiting`: rows written directly with SQL
  ``generate_series`` on PostgreSQL (filler villages, completed tasks, board entries, cases
  waiting for a timer), to measure queries at 10³–10⁶ rows.
"""

from __future__ import annotations

import base64
import re
import uuid
import zlib
from datetime import datetime

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Engine

from engine.process import runtime
from engine.store.models import Case, TaskRow

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _remap(state: str) -> tuple[str, dict[str, str]]:
    """The state with every task id replaced by a fresh one (stored compressed or plain)."""
    compressed = state.startswith(getattr(runtime, "COMPRESSED", "\x00"))
    raw = runtime.state_json(state) if compressed else state
    mapping: dict[str, str] = {}

    def fresh(match: re.Match) -> str:
        old = match.group(0)
        if old not in mapping:
            mapping[old] = str(uuid.uuid4())
        return mapping[old]

    raw = UUID_RE.sub(fresh, raw)
    if compressed:
        raw = runtime.COMPRESSED + base64.b64encode(zlib.compress(raw.encode("utf-8"), 6)).decode("ascii")
    return raw, mapping


def clone_cases(db: Engine, source_id: int, count: int, *, next_timer_at: datetime | None = None,
                chunk: int = 1000) -> list[int]:
    """Insert ``count`` copies of case ``source_id`` (state with fresh task ids, open task rows);
    return the new case ids."""
    cases, tasks = Case.__table__, TaskRow.__table__
    with db.connect() as conn:
        source = conn.execute(select(cases).where(cases.c.id == source_id)).mappings().one()
        open_rows = [dict(r) for r in conn.execute(select(tasks).where(
            tasks.c.case_id == source_id, tasks.c.state.in_(("ready", "waiting")))).mappings()]
    base = {k: v for k, v in source.items() if k != "id"}
    if next_timer_at is not None:
        base["next_timer_at"] = next_timer_at
    ids: list[int] = []
    for start in range(0, count, chunk):
        n = min(chunk, count - start)
        case_rows, mappings = [], []
        for i in range(n):
            state, mapping = _remap(source["state"])
            case_rows.append({**base, "state": state, "title": f"{source['title']}（{start + i + 1}）"})
            mappings.append(mapping)
        with db.begin() as conn:
            new_ids = list(conn.scalars(insert(cases).returning(cases.c.id, sort_by_parameter_order=True),
                                        case_rows))
            task_rows = []
            for case_id, mapping in zip(new_ids, mappings, strict=True):
                for row in open_rows:
                    task_rows.append({**row, "id": mapping.get(row["id"], str(uuid.uuid4())), "case_id": case_id})
            if task_rows:
                conn.execute(insert(tasks), task_rows)
        ids.extend(new_ids)
    return ids


# -- PostgreSQL filler (generate_series) ------------------------------------------------------------
def filler_villages(db: Engine, count: int) -> None:
    """``count`` extra villages ``fill-N`` in township 填充镇 (idempotent)."""
    with db.begin() as conn:
        conn.execute(text("""
            insert into village (code, name, township, adults, households, party_members, representatives,
                                 two_committees, settings, board_count, board_head)
            select 'fill-' || g, '填充村' || g, '填充镇', 900, 320, 30, 30, 7, '{}', 0, ''
            from generate_series(1, :n) g
            on conflict (code) do nothing"""), {"n": count})


def filler_cases(db: Engine, count: int, *, status: str = "completed") -> tuple[int, int]:
    """``count`` placeholder cases in the filler villages (tiny state); returns ``(first, last)`` id."""
    with db.begin() as conn:
        definition = conn.scalar(text("select id from process_definition order by id limit 1"))
        nv = conn.scalar(text("select count(*) from village where code like 'fill-%'"))
        first_v = conn.scalar(text("select min(id) from village where code like 'fill-%'"))
        row = conn.execute(text("""
            with ins as (
              insert into case_instance (definition_id, village_id, title, status, state, lock_version,
                                         next_timer_at, created_at, updated_at, excluded_users)
              select :d, :fv + (g % :nv), '填充事项' || g, :status, '{}', 1, null, now(), now(), '[]'
              from generate_series(1, :n) g
              returning id)
            select min(id), max(id) from ins"""), {"d": definition, "fv": first_v, "nv": nv, "n": count,
                                                    "status": status}).one()
    return row[0], row[1]


def fill_tasks(db: Engine, count: int, *, home_village_id: int) -> None:
    """``count`` more task rows: half of them completed history of the home village, the rest in
    the filler villages (every tenth one ready), spread over the placeholder cases."""
    with db.begin() as conn:
        lo, hi = conn.execute(text("select min(id), max(id) from case_instance where title like '填充事项%'")).one()
        first_v = conn.scalar(text("select min(id) from village where code like 'fill-%'"))
        nv = conn.scalar(text("select count(*) from village where code like 'fill-%'"))
        conn.execute(text("""
            insert into task (id, case_id, village_id, name, title, role, extra_roles, form, body, state,
                              created_at, due_at, completed_at, data)
            select gen_random_uuid()::text,
                   :lo + (g % (:hi - :lo + 1)),
                   case when g % 2 = 0 then :home else :fv + (g % :nv) end,
                   'two_committees', '召开两委会议', 'party_secretary', '', 'meeting', 'two_committees',
                   case when g % 2 = 1 and g % 10 = 1 then 'ready' else 'completed' end,
                   now() - (g || ' seconds')::interval, null,
                   case when g % 2 = 1 and g % 10 = 1 then null else now() end, null
            from generate_series(1, :n) g"""), {"lo": lo, "hi": hi, "home": home_village_id, "fv": first_v,
                                                 "nv": nv, "n": count})
        conn.execute(text("analyze task"))


def fill_board(db: Engine, village_id: int, count: int) -> None:
    """``count`` more entries on the village's board (continuing its sequence; hashes are filler,
    so ``verify`` will not hold for this village), with an objection on every hundredth."""
    with db.begin() as conn:
        start = conn.scalar(text("select coalesce(max(seq), 0) from board_entry where village_id = :v"),
                            {"v": village_id})
        conn.execute(text("""
            insert into board_entry (village_id, seq, case_id, kind, title, content, posted_at, notice_until,
                                     posted_by, reviewed_by, refers_to_id, prev_hash, hash)
            select :v, :s + g, null, 'notice', '公示第' || (:s + g) || '号', '填充公示内容：' || repeat('村务', 40),
                   now() - ((:n - g) || ' minutes')::interval, null, '王主任', '赵监委', null,
                   md5(g::text) || md5((g + 1)::text), md5((g + 2)::text) || md5((g + 3)::text)
            from generate_series(1, :n) g"""), {"v": village_id, "s": start, "n": count})
        conn.execute(text("""
            insert into objection (entry_id, name, contact, text, filed_at)
            select id, '村民', '', '填充异议', now() from board_entry
            where village_id = :v and seq > :s and seq % 100 = 0"""), {"v": village_id, "s": start})
        conn.execute(text("update village set board_count = :c where id = :v"), {"c": start + count, "v": village_id})
        conn.execute(text("analyze board_entry"))
        conn.execute(text("analyze objection"))


def fill_waiting(db: Engine, count: int, *, base: datetime) -> None:
    """``count`` running placeholder cases whose timer is due after ``base`` (not yet due)."""
    with db.begin() as conn:
        definition = conn.scalar(text("select id from process_definition order by id limit 1"))
        first_v = conn.scalar(text("select min(id) from village where code like 'fill-%'"))
        nv = conn.scalar(text("select count(*) from village where code like 'fill-%'"))
        conn.execute(text("""
            insert into case_instance (definition_id, village_id, title, status, state, lock_version,
                                       next_timer_at, created_at, updated_at, excluded_users)
            select :d, :fv + (g % :nv), '等待中的事项' || g, 'running', '{}', 1,
                   :base + ((g % 86400) || ' seconds')::interval, :base, :base, '[]'
            from generate_series(1, :n) g"""), {"d": definition, "fv": first_v, "nv": nv, "n": count,
                                                 "base": base})
        conn.execute(text("analyze case_instance"))

"""The figures of ``bench/run``. Each function returns a list of :class:`Figure`."""

from __future__ import annotations

import logging
import os
import random
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, timedelta
from pathlib import Path

from sqlalchemy import event, select, text

from .common import (
    ROOT,
    Clock,
    GunicornServer,
    HttpTransport,
    drop_schema,
    fresh_schema,
    make_app,
    median,
    percentile,
    pg_url,
)
from .walk import Tokens, advance, complete, ready_tasks, start_case

PROCESS_FILE = ROOT / "processes" / "major-decision.bpmn"
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log from the in-process server


@dataclass
class Figure:
    name: str
    value: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    detail: dict = field(default_factory=dict)
    note: str = ""

    def line(self) -> str:
        value = "—" if self.value is None else (f"{self.value:.3g}" if abs(self.value) < 1000 else f"{self.value:.0f}")
        mark = {True: "✓", False: "✗", None: ""}[self.met]
        parts = [f"{self.name:<44} {value:>9} {self.unit:<8}"]
        if self.target:
            parts.append(f"target {self.target} {mark}".rstrip())
        extra = ", ".join(f"{k} {_fmt(v)}" for k, v in self.detail.items() if not isinstance(v, list | dict))
        if extra:
            parts.append(f"({extra})")
        if self.note:
            parts.append(f"— {self.note}")
        return "  ".join(parts)

    def as_dict(self) -> dict:
        return asdict(self)


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _ms(seconds: float) -> float:
    return seconds * 1000.0


class InProcessServer:
    """The app behind werkzeug's threaded server on a loopback port (real HTTP, movable clock)."""

    def __init__(self, app):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base(self) -> tuple[str, int]:
        return "127.0.0.1", self.server.server_port

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(10)


# -- 1. task completion through the whole stack, against bare SpiffWorkflow -------------------------
def _recorded_steps(app, case_id: int) -> list[tuple[str, dict]]:
    """(task name, the data the engine stored) of every completed user task, in order."""
    with app.extensions["cunwu_db"].connect() as conn:
        rows = conn.execute(text(
            "select t.name, t.data from task t join audit_event a on a.task_id = t.id and a.action = 'complete' "
            "where t.case_id = :c and t.state = 'completed' order by a.id"), {"c": case_id}).all()
    import json

    return [(name, data if isinstance(data, dict) else json.loads(data)) for name, data in rows]


def bare_spiff(steps: list[tuple[str, dict]], repeat: int) -> list[float]:
    """SpiffWorkflow alone: the same process and data; per step deserialize (full spec embedded,
    JSON string) → complete → run → serialize. Returns the seconds of every step."""
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    parser = SpiffBpmnParser()
    parser.add_bpmn_file(str(PROCESS_FILE))
    spec = parser.get_spec("major-decision")
    subs = parser.get_subprocess_specs("major-decision")
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    times: list[float] = []
    for _ in range(repeat):
        wf = BpmnWorkflow(spec, subs)
        wf.task_tree.data.update({"case_title": "硬化村东道路", "village": "demo-001"})
        wf.do_engine_steps()
        state = serializer.serialize_json(wf)
        for name, data in steps:
            t0 = time.perf_counter()
            wf = serializer.deserialize_json(state)
            task = next(t for t in wf.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == name)
            task.data.update(data)
            task.run()
            wf.refresh_timers()
            wf.do_engine_steps()
            wf.refresh_timers()
            wf.do_engine_steps()
            state = serializer.serialize_json(wf)
            times.append(time.perf_counter() - t0)
    return times


def _walk_cases(app, clock, transport, cases: int) -> tuple[list[float], list[int]]:
    """Run ``cases`` 四议两公开 cases to the end through ``transport``; the seconds of every
    task completion request and the case ids."""
    tokens = Tokens(transport)
    timings: list[float] = []
    ids: list[int] = []
    for i in range(cases):
        case = advance(transport, tokens, start_case(transport, tokens, title=f"硬化村东道路{i + 1}"), timings)
        ids.append(case["id"])
    for _ in range(2):  # resolution notice, then result notice
        clock.advance(days=7, seconds=1)
        app.extensions["cunwu"].run_timers()
        for case_id in ids:
            r = transport.request("GET", f"/api/v1/instances/{case_id}", None, tokens["zhang"])
            advance(transport, tokens, r.body, timings)
    return timings, ids


def _completion_statements(app, clock) -> list[list[tuple[str, object, bool]]]:
    """The SQL of every task completion of one 四议两公开 case, as the driver received it
    (statement, parameters, executemany), one list per completion."""
    from .common import TestClientTransport

    db = app.extensions["cunwu_db"]
    captured: list[list[tuple[str, object, bool]]] = []
    recording = [False]

    def record(conn, cursor, statement, parameters, context, executemany):
        if recording[0]:
            captured[-1].append((statement, parameters, executemany))

    class Recording(TestClientTransport):
        def request(self, method, path, body=None, token=None):
            recording[0] = path.endswith("/complete")
            if recording[0]:
                captured.append([])
            try:
                return super().request(method, path, body, token)
            finally:
                recording[0] = False

    event.listen(db, "before_cursor_execute", record)
    try:
        _walk_cases(app, clock, Recording(app), 1)
    finally:
        event.remove(db, "before_cursor_execute", record)
    return captured


def pg_statement_floor(app, clock, repeat: int) -> Figure:
    """What PostgreSQL alone adds to a completion: the completion's own statements (same SQL, same
    parameters, same order) sent with the bare driver (psycopg, no SQLAlchemy, no Flask), each
    completion one transaction ending in COMMIT. Completions that post on the board are left out
    (their entry numbers cannot be posted twice); new task rows get fresh ids."""
    import uuid

    import psycopg

    def fresh(params: dict) -> dict:
        return {**params, "id": str(uuid.uuid4())}

    db = app.extensions["cunwu_db"]
    plain = [c for c in _completion_statements(app, clock) if not any(s.startswith("INSERT INTO board_entry") for s, _, _ in c)]
    conn = psycopg.connect(db.url.set(drivername="postgresql").render_as_string(hide_password=False))
    times: list[float] = []
    try:
        cur = conn.cursor()
        for _ in range(repeat):
            for statements in plain:
                t0 = time.perf_counter()
                for statement, params, many in statements:
                    if statement.startswith("INSERT INTO task "):
                        params = [fresh(p) for p in params] if many else fresh(params)
                    if many:
                        cur.executemany(statement, params)
                    else:
                        cur.execute(statement, params)
                        if cur.description is not None:
                            cur.fetchall()
                conn.commit()
                times.append(time.perf_counter() - t0)
    finally:
        conn.close()
    counts = sorted(len(c) for c in plain)
    return Figure("stack.postgresql.statements_alone_median", _ms(median(times)), "ms",
                  detail={"p95_ms": _ms(percentile(times, 0.95)), "n": len(times),
                          "statements": counts[len(counts) // 2]},
                  note="a completion's own SQL with the bare driver (psycopg), no SQLAlchemy/Flask: what PostgreSQL adds")


def stack(quick: bool) -> list[Figure]:
    """The median completion through the whole stack on each backend, and its ratio to bare
    SpiffWorkflow doing the same steps. The three are measured in alternating rounds (a share of the
    cases on SQLite, on PostgreSQL, then a share of the bare repeats), so that a host whose speed
    drifts by a third within minutes (seen on the 2-vCPU machines) weighs on all three alike."""
    rounds, cases, repeat = (1, 3, 20) if quick else (4, 20, 100)
    from .common import pg_available

    backends = [("sqlite", None)] + ([("postgresql", "pg")] if pg_available() else [])
    stacks = []
    try:
        for label, kind in backends:
            schema = None
            if kind == "pg":
                url, schema = fresh_schema()
            else:
                url = f"sqlite:///{tempfile.mkdtemp(prefix='cunwu-bench-')}/bench.sqlite3"
            stacks.append({"label": label, "schema": schema, "clock": Clock(), "timings": [], "ids": []})
            stacks[-1]["app"] = make_app(url, stacks[-1]["clock"])
        bare: list[float] = []
        steps = None
        for r in range(rounds):
            for st in stacks:
                with InProcessServer(st["app"]) as server:
                    transport = HttpTransport(*server.base)
                    share = cases // rounds + (1 if r < cases % rounds else 0)
                    timings, ids = _walk_cases(st["app"], st["clock"], transport, share)
                    transport.close()
                st["timings"] += timings
                st["ids"] += ids
                if steps is None:
                    steps = _recorded_steps(st["app"], ids[0])
            bare += bare_spiff(steps, repeat // rounds)
        out: list[Figure] = []
        state_bytes = None
        floor = None
        for st in stacks:
            if st["label"] == "postgresql":
                floor = pg_statement_floor(st["app"], st["clock"], 3 if quick else 20)
            with st["app"].extensions["cunwu_db"].connect() as conn:
                status, state = conn.execute(text("select status, state from case_instance where id = :i"),
                                             {"i": st["ids"][0]}).one()
            assert status == "completed", status
            if state_bytes is None:
                from engine.process import runtime

                state_bytes = (len(state.encode("utf-8")), len(runtime.state_json(state).encode("utf-8")))
            timings = st["timings"]
            out.append(Figure(f"stack.{st['label']}.complete_median", _ms(median(timings)), "ms",
                              detail={"p95_ms": _ms(percentile(timings, 0.95)), "n": len(timings), "rounds": rounds}))
    finally:
        for st in stacks:
            st["app"].extensions["cunwu_db"].dispose()
            if st["schema"]:
                drop_schema(st["schema"])
    bare_median = _ms(median(bare))
    out.insert(0, Figure("stack.bare_spiff.complete_median", bare_median, "ms",
                         detail={"p95_ms": _ms(percentile(bare, 0.95)), "n": len(bare), "rounds": rounds},
                         note="SpiffWorkflow alone: load (full spec) → complete → save, JSON string"))
    for fig in [f for f in out if f.name.startswith("stack.") and "bare" not in f.name]:
        ratio = fig.value / bare_median
        out.append(Figure(fig.name.replace("complete_median", "ratio_to_bare"), ratio, "×", "≤ 2", ratio <= 2.0,
                          detail={"p95_ratio": fig.detail["p95_ms"] / _ms(percentile(bare, 0.95))}))
    if floor is not None:
        out.append(floor)
    stored, raw = state_bytes
    out.append(Figure("state.bytes_at_end", stored / 1024, "KB", "≤ 12", stored <= 12 * 1024,
                      detail={"uncompressed_kb": raw / 1024},
                      note="case_instance.state of a finished 四议两公开 case"))
    return out


# -- 2. worklist and board with 10^3 .. 10^6 rows (PostgreSQL) ---------------------------------------
class StatementLog:
    def __init__(self, db):
        self.db = db
        self.statements: list[tuple[str, object]] = []

    def __enter__(self):
        event.listen(self.db, "before_cursor_execute", self._record)
        return self

    def __exit__(self, *exc):
        event.remove(self.db, "before_cursor_execute", self._record)

    def _record(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((statement, parameters))


def _plans(db, statements, tables: tuple[str, ...]) -> dict[str, str]:
    """EXPLAIN every SELECT on ``tables``; returns {first line of the statement: plan}."""
    plans = {}
    with db.connect() as conn:
        for statement, params in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            if not any(f"FROM {t}" in statement or f"JOIN {t}" in statement for t in tables):
                continue
            rows = conn.exec_driver_sql("EXPLAIN " + statement, params).all()
            plans[" ".join(statement.split())[:160]] = "\n".join(r[0] for r in rows)
    return plans


def _seq_scans(plans: dict[str, str], tables: tuple[str, ...]) -> list[str]:
    return [t for plan in plans.values() for t in tables if f"Seq Scan on {t} " in plan + " "]


def queries(quick: bool) -> list[Figure]:
    from .common import pg_available
    from .seed import fill_board, fill_tasks, filler_cases, filler_villages

    if not pg_available():
        return [Figure("queries", None, "", note="PostgreSQL not reachable: skipped")]
    sizes = [10**3, 10**5] if quick else [10**3, 10**5, 10**6]
    url, schema = fresh_schema()
    out: list[Figure] = []
    try:
        clock = Clock()
        app = make_app(url, clock)
        engine = app.extensions["cunwu"]
        db = app.extensions["cunwu_db"]
        for i in range(20):  # the secretary's real worklist: 20 cases waiting for a 两委 meeting
            engine.start_case("zhang", "major-decision", "demo-001", f"事项{i + 1}",
                              {"title": f"事项{i + 1}", "summary": "基准测试"})
        with db.connect() as conn:
            home = conn.scalar(text("select id from village where code = 'demo-001'"))
        filler_villages(db, 1000)
        filler_cases(db, 10_000)
        tasks_now = entries_now = 0
        results: dict[int, dict] = {}
        for size in sizes:
            fill_tasks(db, size - tasks_now, home_village_id=home)
            fill_board(db, home, size - entries_now)
            tasks_now = entries_now = size
            with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("vacuum analyze task"))
                conn.execute(text("vacuum analyze board_entry"))
            worklist = engine.list_tasks("zhang")
            assert len(worklist) == 20, len(worklist)
            assert len(engine.board("demo-001")) == 200
            repeat = 30
            t_work = [_timed(lambda: engine.list_tasks("zhang")) for _ in range(repeat)]
            t_board = [_timed(lambda: engine.board("demo-001")) for _ in range(repeat)]
            with StatementLog(db) as log:
                engine.list_tasks("zhang")
                engine.board("demo-001")
            plans = _plans(db, log.statements, ("task", "board_entry", "objection"))
            results[size] = {"worklist": median(t_work), "board": median(t_board), "plans": plans,
                             "seq_scans": _seq_scans(plans, ("task", "board_entry"))}
        first = sizes[0]
        for size in sizes:
            r = results[size]
            label = f"10^{len(str(size)) - 1}"
            for what in ("worklist", "board"):
                value = _ms(r[what])
                ratio = r[what] / results[first][what]
                is_last = size == sizes[-1] and size != first
                fig = Figure(f"queries.{what}.{label}", value, "ms",
                             "≤ 1.5× the 10^3 figure" if is_last else "", (ratio <= 1.5) if is_last else None,
                             detail={"ratio_to_10^3": ratio, "seq_scans": ",".join(r["seq_scans"]) or "none"})
                if what == "worklist":
                    fig.detail["plans"] = r["plans"]
                out.append(fig)
    finally:
        drop_schema(schema)
    return out


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# -- 3. the timer sweep: 1 000 due among 100 000 waiting ---------------------------------------------
def timers(quick: bool) -> list[Figure]:
    from .common import TestClientTransport, pg_available
    from .seed import clone_cases, fill_waiting, filler_villages

    if not pg_available():
        return [Figure("timers", None, "", note="PostgreSQL not reachable: skipped")]
    waiting, due = 100_000, 1_000
    url, schema = fresh_schema()
    out: list[Figure] = []
    try:
        clock = Clock()
        app = make_app(url, clock)
        engine = app.extensions["cunwu"]
        db = app.extensions["cunwu_db"]
        transport = TestClientTransport(app)
        tokens = Tokens(transport)
        source = advance(transport, tokens, start_case(transport, tokens))  # waits for its resolution notice
        clone_cases(db, source["id"], due - 1)
        filler_villages(db, 100)
        with db.connect() as conn:
            notice = conn.scalar(text("select next_timer_at from case_instance where id = :i"), {"i": source["id"]})
        clock.value = notice + timedelta(hours=1)  # the 1 000 are due; the 100 000 wait 30+ days more
        fill_waiting(db, waiting - due, base=clock.value + timedelta(days=30))
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze case_instance"))
        times = []
        for _ in range(20):
            with engine.sessions() as session:
                t0 = time.perf_counter()
                ids = engine.due_case_ids(session, due)
                times.append(time.perf_counter() - t0)
        assert len(ids) == due, len(ids)
        with StatementLog(db) as log, engine.sessions() as session:
            engine.due_case_ids(session, 50, lock=True)
        plans = _plans(db, log.statements, ("case_instance",))
        out.append(Figure("timers.find_1000_due_of_100000", _ms(median(times)), "ms", "< 1000",
                          median(times) < 1.0,
                          detail={"max_ms": _ms(max(times)), "seq_scans": ",".join(_seq_scans(plans, ("case_instance",)))
                                  or "none", "plans": plans}))
        fire = 100 if quick else due
        if fire < due:  # the quick setting fires a sample: the others wait a day more
            with db.begin() as conn:
                conn.execute(text("update case_instance set next_timer_at = next_timer_at + interval '1 day' "
                                  "where id in (select id from case_instance where next_timer_at < :now "
                                  "order by id offset :n)"), {"now": clock.value, "n": fire})
        t0 = time.perf_counter()
        fired = engine.run_timers()
        elapsed = time.perf_counter() - t0
        assert fired == fire, fired
        out.append(Figure(f"timers.fire_{fire}_one_worker", elapsed, "s",
                          detail={"per_case_ms": _ms(elapsed / fire)},
                          note="load, run, save, task rows and audit per case"))
    finally:
        drop_schema(schema)
    return out


# -- 4. posters -------------------------------------------------------------------------------------
POSTER_FORMATS = (("posters.svg_per_item", "svg", "A3"), ("posters.a3_pdf_per_item", "pdf", "A3"),
                  ("posters.a4_pdf_per_item", "pdf", "A4"), ("posters.a3_png_per_item", "png", "A3"))


def posters(quick: bool) -> list[Figure]:
    """Every catalogue item drawn from nothing cached (a fresh service each time), one figure per
    format: the median per item, and the slowest (the target: every A3 PDF under 1 s)."""
    try:
        from diagrams.service import Diagrams
    except ImportError:
        return [Figure("posters.a3_pdf_per_item", None, "s", "< 1", None,
                       note="diagrams does not provide posters in this tree: skipped")]
    import weasyprint  # noqa: F401 - as in a server: web/wsgi.py imports it when a worker starts

    folder = tempfile.mkdtemp(prefix="cunwu-bench-")
    app = make_app(f"sqlite:///{folder}/bench.sqlite3", Clock(), demo=False)
    engine = app.extensions["cunwu"]
    keys = [p["key"] for p in engine.processes()]
    formats = POSTER_FORMATS[1:2] if quick else POSTER_FORMATS
    if quick:
        keys = keys[:4]
    out = []
    for name, fmt, paper in formats:
        times = {}
        failures = {}
        for key in keys:
            service = Diagrams(engine)  # a fresh service: nothing cached
            t0 = time.perf_counter()
            try:
                data = service.render_process(key, fmt, paper).data
                assert data[:4] in (b"%PDF", b"\x89PNG", b"<?xm", b"<svg"), data[:20]
                times[key] = time.perf_counter() - t0
            except Exception as exc:  # noqa: BLE001 - reported, not fatal for the other figures
                failures[key] = f"{type(exc).__name__}: {exc}"[:200]
        if not times:
            out.append(Figure(name, None, "s", "< 1" if name == "posters.a3_pdf_per_item" else "", None,
                              detail={"failures": failures}, note="rendering failed: " + "; ".join(failures.values())[:200]))
            continue
        worst = max(times.values())
        target = name == "posters.a3_pdf_per_item"
        out.append(Figure(name, median(list(times.values())), "s", "< 1" if target else "",
                          (worst < 1.0 and not failures) if target else None,
                          detail={"max_s": worst, "slowest": max(times, key=times.get), "items": len(times),
                                  "total_s": sum(times.values()), "per_item": times, "failures": failures}))
    app.extensions["cunwu_db"].dispose()
    return out


# -- 4b. evidence: a 5 MB photo upload, a 20-page dossier ----------------------------------------
def _photo(width: int, height: int, tag: str, quality: int = 92) -> bytes:
    """A camera-like JPEG: a gradient with noise (noise is what makes phone photos big)."""
    import io

    from PIL import Image

    noise = Image.frombytes("L", (width, height), os.urandom(width * height))
    base = Image.linear_gradient("L").resize((width, height))
    img = Image.merge("RGB", (base, noise, Image.blend(base, noise, 0.5)))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, comment=tag.encode())
    return out.getvalue()


def evidence(quick: bool) -> list[Figure]:
    import io
    import subprocess

    from tests.flows import MEETING_OK, PROPOSAL

    folder = tempfile.mkdtemp(prefix="cunwu-bench-")
    clock = Clock()
    app = make_app(f"sqlite:///{folder}/bench.sqlite3", clock, CUNWU_ATTACHMENTS_DIR=f"{folder}/files")
    client = app.test_client()
    tokens = {u: client.post("/api/v1/auth/token", json={"username": u, "password": "demo123"}).get_json()["token"]
              for u in ("zhang", "wang", "zhao")}

    def call(method, path, user, **kw):
        r = client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kw)
        assert r.status_code in (200, 201), (path, r.status_code, r.get_data(as_text=True)[:300])
        return r.get_json()

    def upload(task_id, user, data, name):
        return call("POST", f"/api/v1/tasks/{task_id}/attachments", user,
                    data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data")

    case = call("POST", "/api/v1/instances", "zhang", json={"process": "major-decision", "village": "demo-001",
                                                            "title": "硬化村东道路", "data": PROPOSAL})

    def task(name):
        case_now = call("GET", f"/api/v1/instances/{case['id']}", "zhang")
        return next(t for t in case_now["tasks"] if t["name"] == name and t["state"] == "ready")

    # 1. a 5 MB photo, several times (each a new file: content-addressed storage skips known bytes)
    size = (2300, 1725)
    sample = _photo(*size, "0")
    scale = (5 * 1024 * 1024 / len(sample)) ** 0.5
    size = (int(size[0] * scale), int(size[1] * scale))
    meeting = task("two_committees")
    times, sizes = [], []
    for i in range(3 if quick else 8):
        photo = _photo(*size, f"bench-{i}")
        sizes.append(len(photo))
        t0 = time.perf_counter()
        upload(meeting["id"], "zhang", photo, f"现场照片{i + 1}.jpg")
        times.append(time.perf_counter() - t0)

    # 2. a dossier of about 20 pages: the case to its resolution, photos on every step
    per_task = 2 if quick else 14
    steps = [("two_committees", "zhang", MEETING_OK["two_committees"]), ("review_two_committees", "zhao", None),
             ("party_members", "zhang", MEETING_OK["party_members"]), ("review_party_members", "zhao", None),
             ("representatives", "wang", MEETING_OK["representatives"]), ("review_resolution", "zhao", None)]
    for name, user, data in steps:
        t = task(name)
        for i in range(per_task):  # the meetings' photos and scans the reviewers add
            upload(t["id"], user, _photo(1600, 1200, f"{name}-{i}", quality=85), f"{name}-{i + 1}.jpg")
        call("POST", f"/api/v1/tasks/{t['id']}/complete", user, json={"data": data or {"decision": "approve"}})
    renders = []
    for _ in range(1 if quick else 3):
        t0 = time.perf_counter()
        r = client.get(f"/api/v1/instances/{case['id']}/dossier?format=pdf",
                       headers={"Authorization": f"Bearer {tokens['zhang']}"})
        renders.append(time.perf_counter() - t0)
        assert r.status_code == 200
    pdf = Path(folder) / "dossier.pdf"
    pdf.write_bytes(r.data)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(next((line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")), "0"))
    photos = per_task * len(steps) + len(times)
    app.extensions["cunwu_db"].dispose()
    return [
        Figure("evidence.upload_5mb_photo", median(times), "s", "", None,
               detail={"mb": median(sizes) / 1024 / 1024, "max_s": max(times), "runs": len(times)}),
        Figure("evidence.dossier_pdf", median(renders), "s", "", None,
               detail={"pages": pages, "photos": photos, "mb": len(r.data) / 1024 / 1024, "runs": len(renders)}),
    ]


# -- 5. throughput with N gunicorn workers (PostgreSQL) ---------------------------------------------
def bench_villages(db, count: int) -> list[dict[str, str]]:
    """``count`` villages ``load-NN`` (township 负载镇), each with its own secretary, director and
    supervisor; returns the role → username maps."""
    from engine.services.importer import import_data, parse_yaml

    lines = ["villages:"]
    people = ["people:"]
    maps = []
    for i in range(1, count + 1):
        code = f"load-{i:02d}"
        lines.append(f"  - {{code: {code}, name: 负载村{i}, township: 负载镇, adults: 900, households: 320, "
                     "party_members: 30, representatives: 30, two_committees: 7}")
        users = {"party_secretary": f"ps{i:02d}", "village_director": f"vd{i:02d}", "supervisor": f"sv{i:02d}",
                 "committee_member": f"ps{i:02d}"}
        for role, username in list(users.items())[:3]:
            people.append(f"  - {{username: {username}, name: {username}, password: demo123, "
                          f"roles: [{{village: {code}, role: {role}}}]}}")
        maps.append({"village": code, **users})
    from sqlalchemy.orm import Session

    with Session(db) as session, session.begin():
        import_data(session, parse_yaml("\n".join(lines + people), "load.yaml"))
    return maps


def _load(server: GunicornServer, requests: int, seconds: float, villages: list[dict[str, str]]) -> dict:
    """One client thread per village, each starting cases and completing their tasks until the
    request budget or the time is used up; returns counts and latencies."""
    lock = threading.Lock()
    budget = [requests]
    latencies: list[float] = []
    errors: list[str] = []
    conflicts: list[str] = []
    deadline = time.monotonic() + seconds
    tokens_shared: dict = {}

    def take() -> bool:
        with lock:
            if budget[0] <= 0 or time.monotonic() > deadline:
                return False
            budget[0] -= 1
            return True

    def client(seed: int, users: dict[str, str]):
        transport = HttpTransport(*server.base)
        tokens = Tokens(transport)
        tokens.tokens.update(tokens_shared)
        case = None
        try:
            while take():
                if case is None or not ready_tasks(case):
                    r_start = time.perf_counter()
                    case = start_case(transport, tokens, title=f"负载{seed}-{random.randint(1, 10**9)}",
                                      village=users["village"], users=users)
                    with lock:
                        latencies.append(time.perf_counter() - r_start)
                    continue
                r = complete(transport, tokens, ready_tasks(case)[0], users)
                with lock:
                    latencies.append(r.elapsed)
                if r.status == 409:  # as a person would: look again, then go on
                    conflicts.append(str(r.body)[:200])
                    case = transport.request("GET", f"/api/v1/instances/{case['id']}", None,
                                             tokens[users["party_secretary"]]).body
                    continue
                if r.status != 200:
                    errors.append(f"{r.status} {str(r.body)[:200]}")
                    case = None
                    continue
                case = r.body
        except Exception as exc:  # noqa: BLE001 - counted
            errors.append(repr(exc)[:200])
        finally:
            transport.close()

    login = Tokens(HttpTransport(*server.base))
    tokens_shared.update({u: login[u] for v in villages for k, u in v.items() if k != "village"})
    threads = [threading.Thread(target=client, args=(i, v)) for i, v in enumerate(villages)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    elapsed = time.perf_counter() - t0
    return {"requests": len(latencies), "seconds": elapsed, "rps": len(latencies) / elapsed,
            "p50_ms": _ms(median(latencies)), "p95_ms": _ms(percentile(latencies, 0.95)), "errors": errors[:5],
            "error_count": len(errors), "conflicts": len(conflicts), "conflict_samples": conflicts[:3]}


def throughput(quick: bool) -> list[Figure]:
    from .common import pg_available

    if not pg_available():
        return [Figure("throughput", None, "", note="PostgreSQL not reachable: skipped")]
    requests, seconds, clients = (150, 15.0, 8) if quick else (1500, 60.0, 8)
    out: list[Figure] = []
    base_rps = None
    for workers in (1, 2, 4):
        url, schema = fresh_schema()
        try:
            app = make_app(url, demo=False)  # schema and processes; the server runs on the real clock
            villages = bench_villages(app.extensions["cunwu_db"], clients)
            app.extensions["cunwu_db"].dispose()
            log = Path(tempfile.mkdtemp(prefix="cunwu-bench-")) / "gunicorn.log"
            with GunicornServer(url, workers=workers, log=log) as server:
                cpu0, client0 = server.cpu_seconds(), time.process_time()
                result = _load(server, requests, seconds, villages)
                result["server_cpu_ms"] = _ms((server.cpu_seconds() - cpu0) / max(1, result["requests"]))
                result["client_cpu_ms"] = _ms((time.process_time() - client0) / max(1, result["requests"]))
        finally:
            drop_schema(schema)
        base_rps = base_rps or result["rps"]
        out.append(Figure(f"throughput.gunicorn_w{workers}", result["rps"], "req/s",
                          detail={"speedup_vs_w1": result["rps"] / base_rps, "p50_ms": result["p50_ms"],
                                  "p95_ms": result["p95_ms"], "requests": result["requests"],
                                  "server_cpu_ms_per_req": result["server_cpu_ms"],
                                  "client_cpu_ms_per_req": result["client_cpu_ms"],
                                  "errors": result["error_count"], "conflicts_409": result["conflicts"],
                                  "error_samples": result["errors"], "conflict_samples": result["conflict_samples"]},
                          note=f"{clients} villages, one client thread each, on the same 2 cores"))
    return out


def notices(quick: bool) -> list[Figure]:
    """10⁴ notices (quick: 500) drained from the outbox by one worker, timed in tenths: the last
    tenth may not cost much more per message than the first (claiming stays an indexed query)."""
    from engine.records.delivery import Channels
    from engine.store.models import OutboxMessage

    from .common import pg_available

    if not pg_available():
        return [Figure("notices", None, "", note="PostgreSQL not reachable: skipped")]
    total = 500 if quick else 10_000
    url, schema = fresh_schema()
    try:
        clock = Clock()
        app = make_app(url, clock)
        engine = app.extensions["cunwu"]
        db = app.extensions["cunwu_db"]
        now = clock()
        with db.begin() as conn:
            conn.execute(OutboxMessage.__table__.insert(), [
                {"notification_id": None, "channel": ("email", "sms", "webhook")[i % 3], "address": "x",
                 "kind": "hold", "village": "示范村", "subject": f"示范村“事项{i}”已暂停办理", "path": f"/cases/{i}",
                 "status": "pending", "attempts": 0, "created_at": now, "next_at": now} for i in range(total)])
        with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("vacuum analyze outbox"))
        sent = []
        channels = Channels(senders={c: sent.append for c in ("email", "sms", "webhook")})
        tenths = []
        t0 = time.perf_counter()
        for _ in range(10):
            t = time.perf_counter()
            engine.deliver_notices(channels, limit=total // 10)
            tenths.append(time.perf_counter() - t)
        elapsed = time.perf_counter() - t0
        assert len(sent) == total, len(sent)
        ratio = tenths[-1] / tenths[0]
        return [Figure(f"notices.drain_{total}_one_worker", elapsed, "s", "last/first tenth < 2", ratio < 2,
                       detail={"per_message_ms": _ms(elapsed / total), "first_tenth_ms": _ms(tenths[0]),
                               "last_tenth_ms": _ms(tenths[-1]), "ratio_last_first": round(ratio, 2)},
                       note="claim with SKIP LOCKED, send (in-process channel), record the attempt")]
    finally:
        drop_schema(schema)


# -- 7. the ledger view and the quarterly statement with 10^3 .. 10^5 entries --------------------------
LEDGER_ACCOUNTS_IN = ("经营收入", "投资收益", "补助收入", "其他收入", "一事一议资金")
LEDGER_ACCOUNTS_OUT = ("经营支出", "管理费用", "公益支出", "在建工程", "应付工资", "其他支出")
QUARTER_ENTRIES = 500  # the disclosed quarter's own entries, the same at every size


def fill_ledger(db, village_id: int, count: int, *, quarter_start, quarter_end, in_quarter: int, seed: int = 7) -> None:
    """``count`` entries of one village: ``in_quarter`` of them in the disclosed quarter, the rest
    spread over the ten years before it (the history that grows), both entities, in and out."""
    from datetime import date, datetime, timedelta
    from decimal import Decimal

    from engine.store.models import LedgerEntry

    rng = random.Random(seed)
    history_start = date(quarter_start.year - 10, quarter_start.month, 1)
    span = (quarter_start - history_start).days
    now = datetime(2026, 3, 1, tzinfo=UTC)
    rows = []
    for i in range(count):
        if i < in_quarter:
            day = quarter_start + timedelta(days=rng.randrange((quarter_end - quarter_start).days + 1))
        else:
            day = history_start + timedelta(days=rng.randrange(span))
        direction = "in" if rng.random() < 0.45 else "out"
        accounts = LEDGER_ACCOUNTS_IN if direction == "in" else LEDGER_ACCOUNTS_OUT
        cents = rng.choice((rng.randrange(1000, 500000), rng.randrange(100000, 2000000)))
        rows.append({"village_id": village_id, "entity": ("committee", "cooperative")[i % 2], "direction": direction,
                     "amount": Decimal(cents) / 100, "entry_date": day, "account": rng.choice(accounts),
                     "summary": f"基准分录{i}", "counterparty": "", "voucher": "", "created_at": now,
                     "created_by_name": "基准"})
    from engine.records.ledger_months import rebuild_months

    table = LedgerEntry.__table__
    with db.begin() as conn:  # written in bulk, so the monthly sums are rebuilt (the app keeps them per entry)
        for start in range(0, len(rows), 5000):
            conn.execute(table.insert(), rows[start:start + 5000])
        rebuild_months(conn)


def ledger(quick: bool) -> list[Figure]:
    """The ledger view (first page of 500, totals of the whole books) and the quarterly statement of
    one village with 10^3 and 10^5 entries (quick: 10^4), on SQLite and (if reachable) PostgreSQL:
    the 10^5 figure may be at most 1.5× the 10^3 one, as for the worklist."""
    from engine.records import ledger_statement

    from .common import pg_available

    sizes = [10**3, 10**4] if quick else [10**3, 10**5]
    quarter = ledger_statement.quarter(2025, 4)  # the newest quarter closed on the bench clock (2026-03-02)
    backends = ["sqlite"] + (["postgresql"] if pg_available() else [])
    out: list[Figure] = []
    for backend in backends:
        tmp = None
        schema = None
        if backend == "sqlite":
            tmp = tempfile.mkdtemp(prefix="cunwu-bench-ledger-")
            url = f"sqlite:///{tmp}/ledger.sqlite3"
        else:
            url, schema = fresh_schema()
        try:
            clock = Clock()
            app = make_app(url, clock)
            engine = app.extensions["cunwu"]
            db = app.extensions["cunwu_db"]
            with db.connect() as conn:
                home = conn.scalar(text("select id from village where code = 'demo-001'"))
            have = 0
            results: dict[int, dict] = {}
            for size in sizes:
                fill_ledger(db, home, size - have, quarter_start=quarter.start, quarter_end=quarter.end,
                            in_quarter=QUARTER_ENTRIES if have == 0 else 0, seed=size)
                have = size
                with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("analyze" if backend == "sqlite" else "vacuum analyze ledger_entry"))
                view = engine.ledger("sun", "demo-001", limit=500)
                assert view["count"] == size and len(view["entries"]) == 500, view["count"]
                st = engine.finance_statement("sun", "demo-001", quarter.key)
                assert sum(len(e["income"]) + len(e["spending"]) for e in st.entities) > 0
                repeat = 15
                t_view = [_timed(lambda e=engine: e.ledger("sun", "demo-001", limit=500)) for _ in range(repeat)]
                t_statement = [_timed(lambda e=engine: e.finance_statement("sun", "demo-001", quarter.key))
                               for _ in range(repeat)]
                results[size] = {"view": median(t_view), "statement": median(t_statement)}
            first, last = sizes[0], sizes[-1]
            for size in sizes:
                label = f"10^{len(str(size)) - 1}"
                for what in ("view", "statement"):
                    ratio = results[size][what] / results[first][what]
                    is_last = size == last
                    out.append(Figure(f"ledger.{backend}.{what}.{label}", _ms(results[size][what]), "ms",
                                      "≤ 1.5× the 10^3 figure" if is_last else "", (ratio <= 1.5) if is_last else None,
                                      detail={"ratio_to_10^3": ratio, "quarter_entries": QUARTER_ENTRIES},
                                      note="first page of 500 with the totals of the whole books" if what == "view"
                                      else f"{quarter.title} statement: opening balances, accounts, large items"))
        finally:
            if schema:
                drop_schema(schema)
    return out


ALL = {"stack": stack, "queries": queries, "timers": timers, "posters": posters, "evidence": evidence, "notices": notices,
       "ledger": ledger,
       "throughput": throughput}


def machine() -> dict:
    import platform
    import subprocess

    info = {"python": platform.python_version(), "cores": os.cpu_count(), "platform": platform.platform(),
            "loadavg_start": os.getloadavg()}
    try:
        model = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        info["cpu"] = model[0] if model else ""
        info["memory_gb"] = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (OSError, ValueError):
        pass
    try:
        from sqlalchemy import create_engine

        eng = create_engine(pg_url())
        with eng.connect() as conn:
            info["postgresql"] = conn.scalar(select(text("version()")))
        eng.dispose()
    except Exception:  # noqa: BLE001
        info["postgresql"] = None
    try:
        info["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                        text=True).stdout.strip()
    except OSError:
        pass
    return info


__all__ = ["ALL", "Figure", "machine"]

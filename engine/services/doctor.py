"""``cunwu doctor``: does everything stored agree with itself?

A village's decisions are legal records, so after a crash, a restore or a bulk repair we want
proof that every step landed whole or not at all. For every case the stored workflow state is
loaded and compared with what was projected from it in the same transaction:

- the ready (waiting) task rows are exactly the workflow's READY user tasks (WAITING timers);
- every completed user-task row has exactly one ``complete`` audit event and is a COMPLETED
  task in the workflow, and every ``complete`` event names a completed row;
- the case's board entries are exactly those its ``post`` audit events name (objection
  replies: one per completed ``objection_reply`` task), with the same hashes;
- the status agrees with the end event reached (and there is one ``end`` event iff it ended);
- ``next_timer_at`` is the workflow's earliest waiting timer.

Then every stored attachment is hashed again: a file that changed or went missing is named
(with its case and step), and the hashes the ``complete`` events recorded must still be those of
the attachment rows. Then the books (``engine.records.ledger_entries.doctor``): every paid payment has exactly
one entry of the same amount and entity, receipts are as recorded; the assets register
(``engine.records.assets.doctor``): every status as its history says, one contract per asset-disposal
case. Then every village's
publicity chain is verified. Problems are reported in
Chinese.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from SpiffWorkflow import TaskState
from sqlalchemy import select

from ..process import runtime
from ..records import assets, ledger_entries
from ..store.models import Attachment, AuditEvent, BoardEntry, Case, TaskRow

OPEN_STATUSES = ("running", "on_hold")


@dataclass
class Report:
    cases: int = 0
    villages: int = 0
    files: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def check(engine, batch: int = 200) -> Report:
    """Check every case and every village board of ``engine`` (an ``engine.services.Engine``)."""
    report = Report()
    with engine.sessions() as session:
        ids = list(session.scalars(select(Case.id).order_by(Case.id)))
    for chunk in _chunks(ids, batch):
        with engine.sessions() as session:
            rows: dict[int, list[TaskRow]] = defaultdict(list)
            for row in session.scalars(select(TaskRow).where(TaskRow.case_id.in_(chunk))):
                rows[row.case_id].append(row)
            events: dict[int, list[AuditEvent]] = defaultdict(list)
            for event in session.scalars(select(AuditEvent).where(AuditEvent.case_id.in_(chunk))
                                         .order_by(AuditEvent.id)):
                events[event.case_id].append(event)
            files: dict[int, list[Attachment]] = defaultdict(list)
            for att in session.scalars(select(Attachment).where(Attachment.case_id.in_(chunk))):
                files[att.case_id].append(att)
            entries: dict[int, list[BoardEntry]] = defaultdict(list)
            for entry in session.scalars(select(BoardEntry).where(BoardEntry.case_id.in_(chunk))):
                entries[entry.case_id].append(entry)
            for case in session.scalars(select(Case).where(Case.id.in_(chunk)).order_by(Case.id)):
                report.cases += 1
                report.problems.extend(check_case(engine, case, rows[case.id], events[case.id], entries[case.id]))
                report.problems.extend(check_evidence(engine, case, files[case.id], events[case.id], report))
    with engine.sessions() as session:  # the books (三资): payments booked once, entries as recorded
        report.problems.extend(ledger_entries.doctor(session))
        report.problems.extend(assets.doctor(session))  # the assets register and disposal contracts
    for code, result in engine.verify_all_boards():
        report.villages += 1
        if not result["ok"]:
            broken = result["broken"]
            report.problems.append(f"村“{code}”的公开栏哈希链已断：第{broken['seq']}条（编号{broken['id']}）："
                                   f"{broken['reason']}")
    return report


def check_evidence(engine, case: Case, files: list[Attachment], events: list[AuditEvent],
                   report: Report | None = None) -> list[str]:
    """Re-hash the stored files of a case's attachments and compare the hashes the steps recorded."""
    label = f"事项{case.id}“{case.title}”"
    problems: list[str] = []
    store = getattr(engine, "files", None)
    by_id = {a.id: a for a in files}
    for att in sorted(files, key=lambda a: a.id):
        for digest, what in ((att.sha256, "原件"), (att.public_sha256, "公开栏副本")):
            if not digest or store is None:
                continue
            if report is not None:
                report.files += 1
            actual = store.hash_of(digest)
            where = f"{label}：附件{att.id}“{att.name}”的{what}（{store.location(digest)}）"
            if actual is None:
                problems.append(f"{where}已缺失")
            elif actual != digest:
                problems.append(f"{where}已被改动：登记的 SHA-256 为 {digest}，现在为 {actual}")
    for event in events:
        if event.action != "complete":
            continue
        for item in (event.data or {}).get("attachments") or []:
            att = by_id.get(item.get("id"))
            if att is None:
                problems.append(f"{label}：办理记录（审计{event.id}）中的附件{item.get('id')}在附件表中不存在")
            elif att.sha256 != item.get("sha256") or att.task_id != event.task_id:
                problems.append(f"{label}：附件{att.id}“{att.name}”与办理时记录的哈希或步骤不一致")
    return problems


def check_case(engine, case: Case, rows: list[TaskRow], events: list[AuditEvent],
               entries: list[BoardEntry]) -> list[str]:
    label = f"事项{case.id}“{case.title}”"
    problems: list[str] = []

    def say(message: str) -> None:
        problems.append(f"{label}：{message}")

    if not case.state:
        say("没有保存流程状态")
        return problems
    try:
        deployed = engine.catalog.deployed(case.definition)
        wf = runtime.loads(case.state, deployed.spec, deployed.subprocess_specs)
        open_tasks = runtime.open_tasks(wf)
    except Exception as exc:  # noqa: BLE001 - whatever is wrong with the state is the finding
        say(f"流程状态无法读取（{type(exc).__name__}：{exc}）")
        return problems
    if case.lock_version is None or case.lock_version < 1:
        say(f"版本号异常（{case.lock_version}）")

    titles = {t.id: t.title for t in open_tasks}
    titles.update({r.id: r.title for r in rows})
    # -- open tasks ⇔ task rows ---------------------------------------------------------------
    for state, zh in (("ready", "待办"), ("waiting", "等待中的定时")):
        in_flow = {t.id for t in open_tasks if t.state == state}
        in_rows = {r.id for r in rows if r.state == state}
        for task_id in sorted(in_flow - in_rows):
            say(f"流程中{zh}任务“{titles.get(task_id, task_id)}”（{task_id}）在任务表中没有记为{zh}")
        for task_id in sorted(in_rows - in_flow):
            say(f"任务表中的{zh}任务“{titles.get(task_id, task_id)}”（{task_id}）在流程中并非{zh}")

    # -- completed user tasks ⇔ audit "complete" events ⇔ the workflow ----------------------------
    completed_rows = {r.id: r for r in rows if r.state == "completed" and r.role}
    completions = Counter(e.task_id for e in events if e.action == "complete")
    for task_id, row in completed_rows.items():
        if completions[task_id] == 0:
            say(f"已办任务“{row.title}”（{task_id}）在审计记录中没有办理记录")
        elif completions[task_id] > 1:
            say(f"已办任务“{row.title}”（{task_id}）在审计记录中被记录了{completions[task_id]}次")
    for task_id in sorted(t for t in completions if t not in completed_rows):
        say(f"审计记录中办理了任务“{titles.get(task_id, task_id)}”（{task_id}），任务表中它却不是已办")
    done_in_flow = {str(t.id) for t in wf.get_tasks(state=TaskState.COMPLETED) if t.task_spec.manual}
    for task_id in sorted(set(completed_rows) - done_in_flow):
        say(f"已办任务“{titles.get(task_id, task_id)}”（{task_id}）在流程状态中没有完成")
    for task_id in sorted(done_in_flow - set(completed_rows)):
        say(f"流程中已完成的任务（{task_id}）在任务表中没有记为已办")

    # -- board entries ⇔ audit "post" events ------------------------------------------------------
    posted = {}
    for event in events:
        if event.action == "post":
            data = event.data or {}
            if "entry" not in data:
                say(f"张榜审计记录（{event.id}）没有注明公开栏条目")
                continue
            if data["entry"] in posted:
                say(f"公开栏条目{data['entry']}被记录张榜了不止一次")
            posted[data["entry"]] = data.get("hash")
    case_entries = {e.id: e for e in entries if e.kind != "objection_reply"}
    for entry_id, entry in sorted(case_entries.items()):
        if entry_id not in posted:
            say(f"公开栏条目{entry_id}“{entry.title}”在审计记录中没有张榜记录")
        elif posted[entry_id] and posted[entry_id] != entry.hash:
            say(f"公开栏条目{entry_id}“{entry.title}”的哈希与张榜时记录的不一致")
    for entry_id in sorted(set(posted) - set(case_entries)):
        say(f"审计记录中张榜的条目{entry_id}在公开栏中不存在")
    replies = sum(1 for e in entries if e.kind == "objection_reply")
    replied = sum(1 for r in rows if r.state == "completed" and r.form == "objection_reply")
    if replies != replied:
        say(f"公开栏上有{replies}条异议答复，但已办的异议答复任务有{replied}个")

    # -- status ⇔ end event -----------------------------------------------------------------------
    ended = runtime.end_status(wf)
    ends = sum(1 for e in events if e.action == "end")
    if ended is None and case.status not in OPEN_STATUSES:
        say(f"状态为“{case.status}”，但流程并未到达结束事件")
    elif ended is not None and case.status != ended:
        say(f"流程已到达结束事件（{ended}），状态却是“{case.status}”")
    if ended is not None and ends != 1:
        say(f"流程已结束，审计记录中的结束记录却有{ends}条")
    elif ended is None and ends:
        say("流程未结束，审计记录中却有结束记录")
    # A complaint lead starts with the reporter's ``lead`` record (engine/records/leads.py), not ``start``.
    starts = sum(1 for e in events if e.action in ("start", "lead"))
    if starts != 1:
        say(f"审计记录中的发起记录有{starts}条（应为1条）")

    # -- next_timer_at ⇔ the waiting timer ---------------------------------------------------------
    expected = runtime.next_timer(wf)
    if expected != case.next_timer_at:
        shown = expected.isoformat() if expected else "无"
        stored = case.next_timer_at.isoformat() if case.next_timer_at else "无"
        say(f"下次定时（{stored}）与流程中等待的定时（{shown}）不一致")
    return problems

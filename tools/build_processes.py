"""Regenerate the bundled BPMN files in ``processes/`` from their builder definitions.

    python -m tools.build_processes              # rebuild every registered item
    python -m tools.build_processes --only KEY   # rebuild one item (repeatable)
    python -m tools.build_processes --check      # exit 1 if a committed file is out of date

To add an item, write a function returning a :class:`tools.bpmnkit.Process` whose ``key`` is
the catalogue key, and add it to ``BUILDERS``.  The file is ``processes/<key>.bpmn``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from tools.bpmnkit import Process

PROCESSES_DIR = Path(__file__).resolve().parent.parent / "processes"

# Lane (role) names, see docs/bpmn-conventions.md.
PARTY_SECRETARY = "村党组织书记"
VILLAGE_DIRECTOR = "村委会主任"
COMMITTEE_MEMBER = "两委成员"
SUPERVISOR = "村务监督委员会"
ACCOUNTANT = "报账员"
TOWNSHIP_OFFICIAL = "乡镇干部"
DISCIPLINE_INSPECTOR = "乡镇纪委"
TOWNSHIP_PARTY = "乡镇党委"  # the 乡镇党委's tasks (发展党员); held by township_official (engine/domain/roles.py)

# Gateway conditions shared by the power-list items (data written by the engine, see the conventions).
LAPSED = 'outcome == "lapsed"'
FAILED = 'outcome == "failed"'
RETURNED = 'decision == "return"'
UPHELD = 'decision == "uphold"'
OBJECTED = 'decision == "object"'
ESCALATED = 'decision == "escalate"'
REDO = 'finding == "redo"'
OBJECTIONS_OPEN = "open_objections > 0"


def _meeting(p: Process, task: str, name: str, *, lane: str, body: str, on_failed: str, after: str, **props) -> None:
    """A meeting task and its gateway: lapsed → meet again, failed → ``on_failed``, passed → ``after``."""
    gw = f"gw_{task}"
    p.user_task(task, name, lane=lane, form="meeting", body=body, due_days=30, **props)
    p.exclusive(gw, lane=lane)
    p.flow(task, gw)
    p.flow(gw, task, "流会", condition=LAPSED)
    p.flow(gw, on_failed, "未通过", condition=FAILED)
    p.flow(gw, after, "通过", default=True)


def _inspection(p: Process, task: str, *, redo: str, after: str) -> str:
    """A township 纪委 inspection of a supervisor's objection (D9): ``redo`` → the stage again,
    ``dismiss`` (default) → ``after``. The engine holds the case until it is done."""
    inspect, gw = f"inspect_{task}", f"gw_inspect_{task}"
    if DISCIPLINE_INSPECTOR not in p.lanes:
        p.lanes.append(DISCIPLINE_INSPECTOR)
    p.user_task(inspect, "乡镇纪委核查", lane=DISCIPLINE_INSPECTOR, form="inspection", due_days=15)
    p.exclusive(gw, lane=DISCIPLINE_INSPECTOR)
    p.flow(inspect, gw)
    p.flow(gw, redo, "责令重做", condition=REDO)
    p.flow(gw, after, "核查无问题", default=True)
    return inspect


def _review(p: Process, task: str, name: str, *, back: str, after: str, approve_label: str | None = "同意",
            publishes: str | None = None, notice_label: str | None = None) -> None:
    """A supervisor review and its gateway (D9: the 监委会 supervises, never decides):
    return → ``back`` (whoever recorded it corrects the record; the engine never lets a returned
    meeting be held again), object → township inspection (the case is on hold; ``redo`` → ``back``),
    approve (default) → ``after``. ``notice_label`` names the posted notice on the board."""
    gw = f"gw_{task}"
    extra = {"notice_label": notice_label} if notice_label else {}
    p.user_task(task, name, lane=SUPERVISOR, form="review", publishes=publishes, due_days=5, **extra)
    p.exclusive(gw, lane=SUPERVISOR)
    p.flow(task, gw)
    p.flow(gw, back, "退回更正", condition=RETURNED)
    p.flow(gw, _inspection(p, task, redo=back, after=after), "提出异议", condition=OBJECTED)
    p.flow(gw, after, approve_label, default=True)


def _disclosure(p: Process, *, kind: str, draft: str, draft_name: str, review: str, review_name: str,
                wait_name: str, notice_name: str, reply: str, reply_gw: str, revise: str, after: str, redo: str | None = None,
                notice_label: str | None = None) -> None:
    """Draft → supervisor review (publishes ``kind``) → notice period or objection → reply."""
    wait, notice, objection = f"wait_{kind}", f"notice_{kind}", f"objection_{kind}"
    p.user_task(draft, draft_name, lane=VILLAGE_DIRECTOR, form="disclosure", due_days=3)
    p.flow(draft, review)
    _review(p, review, review_name, back=draft, after=wait, approve_label="同意并张榜", publishes=kind,
            notice_label=notice_label)
    p.event_gateway(wait, wait_name, lane=VILLAGE_DIRECTOR)
    p.timer_catch(notice, notice_name, lane=VILLAGE_DIRECTOR, time_date="notice_until")
    p.signal_catch(objection, "收到异议", lane=SUPERVISOR, signal="objection")
    p.flow(wait, notice)
    p.flow(wait, objection)
    p.flow(notice, after)
    p.user_task(reply, "答复决议异议" if kind == "resolution" else "答复结果异议", lane=SUPERVISOR,
                form="objection_reply", due_days=10)
    p.exclusive(reply_gw, lane=SUPERVISOR)
    p.flow(objection, reply)
    p.flow(reply, reply_gw)
    p.flow(reply_gw, revise, "异议成立", condition=UPHELD)
    p.flow(reply_gw, _inspection(p, reply, redo=redo or revise, after=wait), "报乡镇核查", condition=ESCALATED)
    p.flow(reply_gw, reply, "尚有异议", condition=OBJECTIONS_OPEN)
    p.flow(reply_gw, wait, "异议不成立", default=True)


def major_decision() -> Process:
    """村级重大事项决策（四议两公开）: 提议、商议、审议、决议，决议公开、实施结果公开."""
    p = Process(
        key="major-decision",
        name="村级重大事项决策（四议两公开）",
        lanes=[PARTY_SECRETARY, VILLAGE_DIRECTOR, SUPERVISOR],
    )
    # 四议: 村党组织提议 → 村两委会议商议 → 党员大会审议 → 村民（代表）会议决议
    p.start("start", "提出动议", lane=PARTY_SECRETARY)
    p.user_task("propose", "村党组织提议", lane=PARTY_SECRETARY, form="proposal")
    p.exclusive("gw_withdraw", "是否撤回", lane=PARTY_SECRETARY)
    p.end("end_withdrawn", "事项撤回", lane=PARTY_SECRETARY)
    p.flow("start", "propose")
    p.flow("propose", "gw_withdraw")
    p.flow("gw_withdraw", "end_withdrawn", "撤回", condition="withdraw == True")
    p.flow("gw_withdraw", "two_committees", "提交商议", default=True)

    _meeting(p, "two_committees", "村两委会议商议", lane=PARTY_SECRETARY, body="two_committees",
             extra_roles="committee_member", on_failed="propose", after="review_two_committees")
    _review(p, "review_two_committees", "监委会审核商议记录", back="two_committees", after="party_members")
    _meeting(p, "party_members", "党员大会审议", lane=PARTY_SECRETARY, body="party_members",
             on_failed="propose", after="review_party_members")
    _review(p, "review_party_members", "监委会审核审议记录", back="party_members", after="gw_assembly")

    p.exclusive("gw_assembly", "决议机构", lane=VILLAGE_DIRECTOR)
    p.flow("gw_assembly", "villager_assembly", "村民会议", condition='assembly == "villager_assembly"')
    p.flow("gw_assembly", "representatives", "村民代表会议", default=True)
    p.end("end_rejected", "决议未通过", lane=VILLAGE_DIRECTOR)
    _meeting(p, "representatives", "村民代表会议决议", lane=VILLAGE_DIRECTOR, body="representatives",
             on_failed="end_rejected", after="review_resolution")
    _meeting(p, "villager_assembly", "村民会议决议", lane=VILLAGE_DIRECTOR, body="villager_assembly",
             on_failed="end_rejected", after="review_resolution")
    _review(p, "review_resolution", "监委会审核决议记录", back="gw_assembly", after="draft_resolution_disclosure")

    # 两公开: 决议公开 → 组织实施 → 实施结果公开
    _disclosure(p, kind="resolution",
                draft="draft_resolution_disclosure", draft_name="拟定决议公开内容",
                review="review_resolution_disclosure", review_name="监委会审核决议公开",
                wait_name="决议公示中", notice_name="决议公示期满",
                reply="reply_resolution_objection", reply_gw="gw_reply_resolution",
                revise="draft_resolution_disclosure", redo="propose", after="implement")
    p.user_task("implement", "组织实施", lane=VILLAGE_DIRECTOR, form="implementation")
    p.flow("implement", "review_implementation")
    _review(p, "review_implementation", "监委会审核实施情况", back="implement", after="draft_result_disclosure")
    _disclosure(p, kind="result",
                draft="draft_result_disclosure", draft_name="拟定实施结果公开内容",
                review="review_result_disclosure", review_name="监委会审核结果公开",
                wait_name="结果公示中", notice_name="结果公示期满",
                reply="reply_result_objection", reply_gw="gw_reply_result",
                revise="draft_result_disclosure", redo="implement", after="end_completed")
    p.end("end_completed", "办结", lane=VILLAGE_DIRECTOR)
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "major-decision": major_decision,
}


def _collect_item_modules() -> None:
    """Items live in ``tools/items_*.py`` modules, each with its own ``BUILDERS`` dict."""
    import importlib
    import pkgutil

    import tools

    for info in sorted(pkgutil.iter_modules(tools.__path__), key=lambda m: m.name):
        if info.name.startswith("items_"):
            module = importlib.import_module(f"tools.{info.name}")
            for key, fn in getattr(module, "BUILDERS", {}).items():
                if key in BUILDERS:
                    raise ValueError(f"item {key!r} is built twice")
                BUILDERS[key] = fn


_collect_item_modules()


def build(key: str) -> bytes:
    """The BPMN bytes for one registered item."""
    fn = BUILDERS[key]
    process = fn()
    if process.key != key:
        raise ValueError(f"builder for {key!r} produced process {process.key!r}")
    declaration, _, body = process.to_xml().partition(b"\n")
    return declaration + b"\n" + generated_note(fn).encode("utf-8") + b"\n" + body


def generated_note(fn: Callable[[], Process]) -> str:
    """The XML comment at the top of every generated file: where it comes from and where to edit."""
    import inspect

    source = Path(inspect.getsourcefile(fn)).resolve().relative_to(PROCESSES_DIR.parent).as_posix()
    return (f"<!-- Generated by tools/build_processes.py from {source} ({fn.__name__}). Do not edit this file:\n"
            f"     edit {source}, then run: python -m tools.build_processes\n"
            "     A county's own definition (drawn in bpmn.io or Camunda Modeler) is not generated: see\n"
            "     README.md, section \"Deploying a definition of your own\". -->")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.build_processes", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", metavar="KEY", choices=sorted(BUILDERS),
                        help="build only this item (repeatable)")
    parser.add_argument("--out-dir", type=Path, default=PROCESSES_DIR, help="default: %(default)s")
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a file differs")
    args = parser.parse_args(argv)

    stale = []
    for key in args.only or list(BUILDERS):
        data = build(key)
        path = args.out_dir / f"{key}.bpmn"
        if args.check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(path)
                print(f"out of date: {path}")
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.read_bytes() == data:
            print(f"unchanged: {path}")
        else:
            path.write_bytes(data)
            print(f"wrote: {path}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

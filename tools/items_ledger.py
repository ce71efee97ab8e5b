"""The books' own process: the periodic 财务公开 (issue 13; DOMAIN §4.1, R26, R27).

``finance-disclosure`` is opened by ``cunwu timers run`` once per village when a quarter (or,
where the village's setting says so, a month) has ended. The engine generates the statement
from the ledger (``engine.records.ledger_statement.statement``); the 村务监督委员会 reviews it as 民主理财 (R27:
nothing is posted before it is reviewed): approve → posted on the board with the period in its
title (``2026年第一季度财务公开``) and a notice period with objections (D7, D8); return → the
报账员 answers the questions (and corrects the books with reversing entries), the statement is
generated again and reviewed again; object → the township 纪委 inspects (D9).
"""

from __future__ import annotations

from collections.abc import Callable

from tools.bpmnkit import Process
from tools.build_processes import (
    ACCOUNTANT,
    DISCIPLINE_INSPECTOR,
    ESCALATED,
    OBJECTED,
    OBJECTIONS_OPEN,
    REDO,
    RETURNED,
    SUPERVISOR,
    UPHELD,
)


def _inspect(p: Process, task: str, *, redo: str, after: str) -> str:
    inspect, gw = f"inspect_{task}", f"gw_inspect_{task}"
    p.user_task(inspect, "乡镇纪委核查", lane=DISCIPLINE_INSPECTOR, form="inspection", due_days=15)
    p.exclusive(gw, lane=DISCIPLINE_INSPECTOR)
    p.flow(inspect, gw)
    p.flow(gw, redo, "责令重做", condition=REDO)
    p.flow(gw, after, "核查无问题", default=True)
    return inspect


def finance_disclosure() -> Process:
    """村级财务公开: 系统按期生成财务公开表 → 监委会（民主理财小组）审核 → 张榜公布 → 公示期满或答复异议."""
    p = Process(key="finance-disclosure", name="村级财务公开", lanes=[SUPERVISOR, ACCOUNTANT, DISCIPLINE_INSPECTOR])
    p.start("start", "期末生成财务公开表", lane=SUPERVISOR)
    p.user_task("review_statement", "监委会（民主理财小组）审核财务公开表", lane=SUPERVISOR, form="review",
                publishes="finance", due_days=10)
    p.flow("start", "review_statement")
    p.exclusive("gw_review_statement", lane=SUPERVISOR)
    p.flow("review_statement", "gw_review_statement")
    p.user_task("answer_statement", "报账员答复质询、更正账目", lane=ACCOUNTANT, form="statement_reply", due_days=5)
    p.flow("answer_statement", "review_statement")
    p.flow("gw_review_statement", "answer_statement", "质询退回", condition=RETURNED)
    p.flow("gw_review_statement", _inspect(p, "review_statement", redo="answer_statement", after="review_statement"),
           "提出异议", condition=OBJECTED)
    p.flow("gw_review_statement", "wait_finance", "同意并张榜", default=True)

    p.event_gateway("wait_finance", "财务公开公示中", lane=SUPERVISOR)
    p.timer_catch("notice_finance", "公示期满", lane=SUPERVISOR, time_date="notice_until")
    p.signal_catch("objection_finance", "收到异议", lane=SUPERVISOR, signal="objection")
    p.flow("wait_finance", "notice_finance")
    p.flow("wait_finance", "objection_finance")
    p.end("end_completed", "公开完毕", lane=SUPERVISOR)
    p.flow("notice_finance", "end_completed")
    p.user_task("reply_finance_objection", "答复财务公开异议", lane=SUPERVISOR, form="objection_reply", due_days=10)
    p.exclusive("gw_reply_finance", lane=SUPERVISOR)
    p.flow("objection_finance", "reply_finance_objection")
    p.flow("reply_finance_objection", "gw_reply_finance")
    p.flow("gw_reply_finance", "answer_statement", "异议成立", condition=UPHELD)
    p.flow("gw_reply_finance", _inspect(p, "reply_finance_objection", redo="answer_statement", after="wait_finance"),
           "报乡镇核查", condition=ESCALATED)
    p.flow("gw_reply_finance", "reply_finance_objection", "尚有异议", condition=OBJECTIONS_OPEN)
    p.flow("gw_reply_finance", "wait_finance", "异议不成立", default=True)
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "finance-disclosure": finance_disclosure,
}

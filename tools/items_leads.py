"""The complaint-lead process (问题线索, 速查快办) as BPMN: ``processes/complaint-lead.bpmn``.

A lead is filed by a villager without an account (``POST /api/v1/leads``) or entered by a 纪委
cadre; the engine then runs it like every item, and the flow hangs on the wall as a poster. The
forms are in ``engine/forms/leads.py``, the deadlines and the confidentiality rules in
``engine/records/leads.py`` (DOMAIN.md §5, R56–R60). Every step sits in the 乡镇纪委 lane and may also be
done by the county inspector (督办; a lead naming a township official goes to the county alone).
"""

from __future__ import annotations

from collections.abc import Callable

from tools.bpmnkit import Process
from tools.build_processes import DISCIPLINE_INSPECTOR

COUNTY_INSPECTOR = "县纪委"
COUNTY = "county_inspector"


def complaint_lead() -> Process:
    """受理审查（15个工作日，R57；转办5个工作日，R56）→ 四种处置（R58）→ 核查（四个不放过，R59）→ 反馈 → 异议复查."""
    p = Process(key="complaint-lead", name="问题线索办理（速查快办）", lanes=[DISCIPLINE_INSPECTOR, COUNTY_INSPECTOR])
    p.start("start", "收到问题线索", lane=DISCIPLINE_INSPECTOR)
    p.user_task("lead_intake", "受理审查", lane=DISCIPLINE_INSPECTOR, form="lead_intake", extra_roles=COUNTY)
    p.flow("start", "lead_intake")
    p.exclusive("gw_intake", "受理意见", lane=DISCIPLINE_INSPECTOR)
    p.flow("lead_intake", "gw_intake")
    p.end("end_completed_not_accepted", "不予受理", lane=DISCIPLINE_INSPECTOR)
    p.end("end_completed_forwarded", "转办", lane=DISCIPLINE_INSPECTOR)
    p.flow("gw_intake", "end_completed_not_accepted", "不予受理", condition='decision == "not_accepted"')
    p.flow("gw_intake", "end_completed_forwarded", "转办", condition='decision == "forward"')
    p.exclusive("gw_disposition", "处置方式", lane=DISCIPLINE_INSPECTOR)
    p.flow("gw_intake", "gw_disposition", "受理", default=True)

    p.user_task("lead_shelved", "暂存待查", lane=DISCIPLINE_INSPECTOR, form="lead_reopen", extra_roles=COUNTY)
    p.user_task("lead_result", "核查处理（四个不放过）", lane=DISCIPLINE_INSPECTOR, form="lead_result",
                extra_roles=COUNTY)
    p.user_task("lead_feedback", "反馈反映人", lane=DISCIPLINE_INSPECTOR, form="lead_feedback", extra_roles=COUNTY)
    p.flow("gw_disposition", "lead_shelved", "暂存待查", condition='disposition == "shelve"')
    p.flow("gw_disposition", "lead_feedback", "予以了结", condition='disposition == "close"')
    p.flow("gw_disposition", "lead_result", "谈话函询、初步核实", default=True)
    p.exclusive("gw_shelved", "是否启用", lane=DISCIPLINE_INSPECTOR)
    p.flow("lead_shelved", "gw_shelved")
    p.flow("gw_shelved", "lead_result", "有新情况", condition='decision == "reopen"')
    p.flow("gw_shelved", "lead_feedback", "予以了结", default=True)
    p.flow("lead_result", "lead_feedback")

    # After the feedback the reporter may object once (R57): the county reviews it.
    p.event_gateway("wait_objection", "异议期", lane=DISCIPLINE_INSPECTOR)
    p.flow("lead_feedback", "wait_objection")
    p.timer_catch("objection_period", "异议期满", lane=DISCIPLINE_INSPECTOR, time_date="objection_until")
    p.signal_catch("lead_objection", "反映人提出异议", lane=COUNTY_INSPECTOR, signal="lead_objection")
    p.flow("wait_objection", "objection_period")
    p.flow("wait_objection", "lead_objection")
    p.end("end_completed", "办结", lane=DISCIPLINE_INSPECTOR)
    p.flow("objection_period", "end_completed")
    p.user_task("lead_review", "县纪委复查", lane=COUNTY_INSPECTOR, form="lead_review")
    p.flow("lead_objection", "lead_review")
    p.exclusive("gw_review", "复查结论", lane=COUNTY_INSPECTOR)
    p.flow("lead_review", "gw_review")
    p.end("end_completed_reviewed", "维持原处理", lane=COUNTY_INSPECTOR)
    p.flow("gw_review", "lead_result", "重新核查", condition='decision == "reinvestigate"')
    p.flow("gw_review", "end_completed_reviewed", "维持原处理", default=True)
    return p


BUILDERS: dict[str, Callable[[], Process]] = {
    "complaint-lead": complaint_lead,
}

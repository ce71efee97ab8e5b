"""Drive 四议两公开 cases through the JSON API the way the village cadres would (demo village)."""

from __future__ import annotations

from datetime import UTC

from .common import login

VILLAGE = "demo-001"
#: who does each role's tasks in the demo village
USERS = {"party_secretary": "zhang", "village_director": "wang", "supervisor": "zhao", "committee_member": "li"}

MEETING = {
    "two_committees": {"held_on": "2026-03-03", "attended": 7, "approve": 6, "oppose": 1, "abstain": 0,
                       "minutes": "两委会议商议修路方案"},
    "party_members": {"held_on": "2026-03-05", "attended": 25, "approve": 20, "oppose": 3, "abstain": 2,
                      "minutes": "党员大会审议修路方案"},
    "representatives": {"held_on": "2026-03-08", "attended": 24, "approve": 20, "oppose": 2, "abstain": 2,
                        "minutes": "村民代表会议表决修路方案"},
    "villager_assembly": {"held_on": "2026-03-08", "attended": 500, "approve": 400, "oppose": 50, "abstain": 50,
                          "minutes": "村民会议表决修路方案", "attended_households": 250},
}
PROPOSAL = {"title": "硬化村东道路", "summary": "村东道路长1.2公里，拟硬化为水泥路面。", "amount": "180000",
            "matter": "major_spending"}


def task_data(task: dict) -> dict:
    """Valid data for a ready task of the major-decision process (the happy path)."""
    form = task["form"]
    if form == "meeting":
        # Recorded on the day the case began (Beijing time): never in the future of the server's clock,
        # never before the case, never before an earlier meeting of it.
        from datetime import datetime, timedelta, timezone

        began = task.get("case_created_at")
        day = (datetime.fromisoformat(began) if began else datetime.now(UTC))
        held_on = day.astimezone(timezone(timedelta(hours=8))).date()
        data = {**MEETING[task["body"]], "held_on": held_on.isoformat()}
        if task["body"] == "villager_assembly":
            data["announced_on"] = (held_on - timedelta(days=10)).isoformat()  # 组织法第二十一条
        return data
    if form == "review":
        return {"decision": "approve"}
    if form == "disclosure":
        return {"content": "经村民代表会议表决通过：硬化村东道路，预算18万元。", "notice_days": 7}
    if form == "implementation":
        return {"summary": "道路已硬化完成", "amount_spent": "176500.50"}
    if form == "proposal":
        return dict(PROPOSAL)
    if form == "objection_reply":
        return {"decision": "dismiss", "reply": "经核实，方案符合规定。"}
    raise ValueError(f"no data for form {form}")


class Tokens:
    """One API token per demo user, logged in on first use."""

    def __init__(self, transport):
        self.transport = transport
        self.tokens: dict[str, str] = {}

    def __getitem__(self, username: str) -> str:
        if username not in self.tokens:
            self.tokens[username] = login(self.transport, username)
        return self.tokens[username]


def start_case(transport, tokens: Tokens, title: str = "硬化村东道路", village: str = VILLAGE,
               users: dict[str, str] | None = None) -> dict:
    starter = (users or USERS)["party_secretary"]
    r = transport.request("POST", "/api/v1/instances", {"process": "major-decision", "village": village,
                                                        "title": title, "data": PROPOSAL}, tokens[starter])
    if r.status != 201:
        raise RuntimeError(f"start: {r.status} {r.body}")
    return r.body


def ready_tasks(case: dict) -> list[dict]:
    return [{**t, "case_created_at": case.get("created_at")} for t in case["tasks"] if t["state"] == "ready"]


def complete(transport, tokens: Tokens, task: dict, users: dict[str, str] | None = None):
    """POST the task's completion as the user of its role; returns the Response."""
    user = (users or USERS)[task["role"]]
    return transport.request("POST", f"/api/v1/tasks/{task['id']}/complete", {"data": task_data(task)},
                             tokens[user])


def advance(transport, tokens: Tokens, case: dict, timings: list[float] | None = None,
            limit: int = 100) -> dict:
    """Complete ready tasks until the case waits (for a timer) or ends; returns the case."""
    for _ in range(limit):
        tasks = ready_tasks(case)
        if not tasks:
            return case
        r = complete(transport, tokens, tasks[0])
        if r.status != 200:
            raise RuntimeError(f"complete {tasks[0]['name']}: {r.status} {r.body}")
        if timings is not None:
            timings.append(r.elapsed)
        case = r.body
    raise RuntimeError("too many steps")

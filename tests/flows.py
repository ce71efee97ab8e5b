"""Helpers that drive a 四议两公开 case through the API the way the people would."""

from __future__ import annotations

MEETING_OK = {
    "two_committees": {"held_on": "2026-03-02", "attended": 7, "approve": 6, "oppose": 1, "abstain": 0,
                       "minutes": "两委会议商议修路方案"},
    "party_members": {"held_on": "2026-03-02", "attended": 25, "approve": 20, "oppose": 3, "abstain": 2,
                      "minutes": "党员大会审议修路方案"},
    "representatives": {"held_on": "2026-03-02", "attended": 24, "approve": 20, "oppose": 2, "abstain": 2,
                        "minutes": "村民代表会议表决修路方案"},
    "villager_assembly": {"held_on": "2026-03-02", "announced_on": "2026-02-20", "attended": 500, "approve": 400, "oppose": 50, "abstain": 50,
                          "minutes": "村民会议表决修路方案"},
}
PROPOSAL = {"title": "硬化村东道路", "summary": "村东道路长1.2公里，拟硬化为水泥路面。", "amount": "180000",
            "matter": "major_spending"}


class Walk:
    """Who does what in the demo village: 张书记, 王主任, 赵监委 (supervisor)."""

    def __init__(self, api):
        self.secretary = api("zhang")
        self.director = api("wang")
        self.supervisor = api("zhao")
        self.supervisor2 = api("qian")
        self.member = api("li")
        self.public = api(None)
        self.case = None

    def start(self, **proposal) -> dict:
        r = self.secretary.post("/instances", json={"process": "major-decision", "village": "demo-001",
                                                     "title": "硬化村东道路", "data": {**PROPOSAL, **proposal}})
        assert r.status_code == 201, r.get_json()
        self.case = r.get_json()
        return self.case

    def refresh(self) -> dict:
        self.case = self.secretary.get(f"/instances/{self.case['id']}").get_json()
        return self.case

    def ready(self) -> list[str]:
        return [t["name"] for t in self.refresh()["tasks"] if t["state"] == "ready"]

    def task(self, name: str) -> dict:
        tasks = [t for t in self.refresh()["tasks"] if t["name"] == name and t["state"] == "ready"]
        assert tasks, f"{name} not ready; open: {[t['name'] for t in self.case['tasks']]}"
        return tasks[0]

    def do(self, client, name: str, data: dict, status: int = 200):
        task = self.task(name)
        r = client.post(f"/tasks/{task['id']}/complete", json={"data": data})
        assert r.status_code == status, r.get_json()
        if status == 200:
            self.case = r.get_json()
        return r

    def today(self) -> str:
        """The engine's today in Beijing time: meetings are recorded on the day they are held."""
        from engine.domain.clock import LOCAL_TZ

        return self.secretary.client.application.extensions["cunwu"].now().astimezone(LOCAL_TZ).date().isoformat()

    def meeting(self, name: str, body: str, status: int = 200, **changes):
        from datetime import date, timedelta

        client = self.secretary if body in ("two_committees", "party_members") else self.director
        data = {**MEETING_OK[body], "held_on": self.today(), **changes}
        if body == "villager_assembly" and "announced_on" not in changes:  # 十天前通知 (组织法第二十一条)
            data["announced_on"] = (date.fromisoformat(data["held_on"]) - timedelta(days=10)).isoformat()
        return self.do(client, name, data, status)

    def review(self, name: str, decision: str = "approve", opinion: str = "", client=None):
        data = {"decision": decision}
        if opinion:
            data["opinion"] = opinion
        return self.do(client or self.supervisor, name, data)

    def to_resolution(self, assembly: str = "representatives"):
        self.meeting("two_committees", "two_committees")
        self.review("review_two_committees")
        self.meeting("party_members", "party_members")
        self.review("review_party_members")
        self.meeting(assembly, assembly)
        self.review("review_resolution")

    def disclose(self, which: str, content: str = "公示内容", notice_days: int = 7):
        self.do(self.director, f"draft_{which}_disclosure", {"content": content, "notice_days": notice_days})
        self.review(f"review_{which}_disclosure")

    def board(self) -> list[dict]:
        return self.public.get("/villages/demo-001/board").get_json()

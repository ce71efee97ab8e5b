"""Role keys, their Chinese names, and the BPMN lane names that stand for them."""

ROLES: dict[str, str] = {
    "party_secretary": "村党组织书记",
    "village_director": "村委会主任",
    "committee_member": "两委成员",
    "supervisor": "村务监督委员会",
    "accountant": "报账员",
    "township_official": "乡镇干部",
    "discipline_inspector": "乡镇纪委",
    "agency_accountant": "乡镇三资委托代理服务中心",
    "county_inspector": "县纪委",
    "admin": "系统管理员",
}

#: Roles held for one village (``village:``) and roles held for a whole township (``township:``).
VILLAGE_ROLES = {"party_secretary", "village_director", "committee_member", "supervisor", "accountant"}
TOWNSHIP_ROLES = {"township_official", "discipline_inspector", "agency_accountant"}
#: Roles held for a whole county (``county:``): every village of that county.
COUNTY_ROLES = {"county_inspector"}
#: Roles that may read every case of their scope without acting on it.
READ_ALL_ROLES = {"supervisor", "township_official", "discipline_inspector", "county_inspector", "admin"}

#: Who may put a case on hold (and release a hold placed at their level or a lower one).
HOLD_ROLES = {"supervisor", "township_official", "discipline_inspector", "county_inspector"}

LANE_ROLES: dict[str, str] = {name: key for key, name in ROLES.items() if key != "admin"}
LANE_ROLES["乡镇三资代理服务中心"] = "agency_accountant"  # the short name used in many county documents
# The 乡镇党委 (upper-level Party committee in 发展党员) has no role of its own: its cadres hold township_official.
LANE_ROLES["乡镇党委"] = "township_official"


def role_for_lane(lane: str | None) -> str | None:
    if lane is None:
        return None
    return LANE_ROLES.get(lane.strip())


#: Supervision levels: village (1) < township (2) < county (3); the system administrator above all.
LEVEL_NAMES: dict[int, str] = {1: "村级", 2: "乡镇级", 3: "县级", 4: "系统管理员"}


def level_of(role: str) -> int:
    """The supervision level of a role key: village roles 1, township roles 2, county roles 3."""
    if role == "admin":
        return 4
    if role in COUNTY_ROLES:
        return 3
    if role in TOWNSHIP_ROLES:
        return 2
    return 1

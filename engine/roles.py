"""Role keys, their Chinese names, and the BPMN lane names that stand for them."""

ROLES: dict[str, str] = {
    "party_secretary": "村党组织书记",
    "village_director": "村委会主任",
    "committee_member": "两委成员",
    "supervisor": "村务监督委员会",
    "accountant": "报账员",
    "township_official": "乡镇干部",
    "discipline_inspector": "乡镇纪委",
    "admin": "系统管理员",
}

#: Roles held for one village (``village:``) and roles held for a whole township (``township:``).
VILLAGE_ROLES = {"party_secretary", "village_director", "committee_member", "supervisor", "accountant"}
TOWNSHIP_ROLES = {"township_official", "discipline_inspector"}
#: Roles that may read every case of their scope without acting on it.
READ_ALL_ROLES = {"supervisor", "township_official", "discipline_inspector", "admin"}

LANE_ROLES: dict[str, str] = {name: key for key, name in ROLES.items() if key != "admin"}


def role_for_lane(lane: str | None) -> str | None:
    if lane is None:
        return None
    return LANE_ROLES.get(lane.strip())

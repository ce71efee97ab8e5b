"""Issue 10, three levels of supervision: county scope, the new roles, holds by level.

Levels (CONTRACT.md, "Levels and roles"): village roles < township roles (township_official,
discipline_inspector, agency_accountant) < county_inspector (scope: every village of its county)."""

from __future__ import annotations

import pytest

from engine.domain.errors import Invalid
from engine.domain.roles import LANE_ROLES, level_of, role_for_lane
from engine.services.importer import import_data, parse_yaml
from tests.conftest import ApiClient
from tests.flows import PROPOSAL

FAR = """
villages:
  - {code: far-001, name: 远山村, township: 远山镇, county: 远山县, adults: 500, households: 150,
     party_members: 20, representatives: 25, two_committees: 5}
people:
  - username: ye
    name: 叶纪委
    password: "demo123"
    roles: [{county: 远山县, role: county_inspector}]
  - username: ma
    name: 马书记
    password: "demo123"
    roles: [{village: far-001, role: party_secretary}]
"""


def _import(app, text: str) -> dict:
    with app.extensions["cunwu"].transaction() as session:
        return import_data(session, parse_yaml(text, "t.yaml"))


def test_levels_and_lanes():
    assert level_of("supervisor") == 1
    assert {level_of(r) for r in ("township_official", "discipline_inspector", "agency_accountant")} == {2}
    assert level_of("county_inspector") == 3
    assert role_for_lane("县纪委") == "county_inspector"
    assert role_for_lane("乡镇三资委托代理服务中心") == LANE_ROLES["乡镇三资代理服务中心"] == "agency_accountant"


@pytest.mark.parametrize("role,message", [
    ("{county: 远山县, role: township_official}", "乡镇干部不是县级角色"),
    ("{role: county_inspector}", "县纪委是县级角色，请写 county"),
    ("{county: '', role: county_inspector}", "县纪委是县级角色，请写 county"),
    ("{township: 远山镇, role: county_inspector}", "县纪委是县级角色，请写 county"),
    ("{village: demo-001, role: agency_accountant}", "乡镇三资委托代理服务中心是乡镇角色"),
])
def test_import_refuses_a_wrong_scope_naming_the_entry(app, role, message):
    doc = f"people:\n  - {{username: bad, name: 坏, password: x, roles: [{role}]}}\n"
    with pytest.raises(Invalid) as err:
        _import(app, doc)
    assert "people 第1项（bad）" in str(err.value) and message in str(err.value)


def test_import_refuses_an_empty_county(app):
    doc = ("villages:\n  - {code: x-1, name: 某村, township: 某镇, county: '  ', adults: 9, households: 3,"
           " party_members: 1, representatives: 1, two_committees: 1}\n")
    with pytest.raises(Invalid) as err:
        _import(app, doc)
    assert "villages 第1项（x-1）" in str(err.value) and "county" in str(err.value)


def test_county_inspector_sees_every_village_of_the_county_and_nothing_else(any_app):
    app = any_app
    _import(app, FAR)
    xu, ye = ApiClient(app, "xu"), ApiClient(app, "ye")
    ids = {}
    for village, starter in (("demo-001", "zhang"), ("demo-002", "chen"), ("far-001", "ma")):
        r = ApiClient(app, starter).post("/instances", json={"process": "major-decision", "village": village,
                                                              "title": f"{village}修路", "data": PROPOSAL})
        assert r.status_code == 201, r.get_json()
        ids[village] = r.get_json()["id"]
    engine = app.extensions["cunwu"]
    assert {c["village"] for c in engine.list_cases("xu")} == {"demo-001", "demo-002"}
    assert {c["village"] for c in engine.list_cases("ye")} == {"far-001"}
    assert xu.get(f"/instances/{ids['demo-002']}").status_code == 200
    assert xu.get(f"/instances/{ids['far-001']}").status_code in (403, 404)
    assert ye.get(f"/instances/{ids['demo-001']}").status_code in (403, 404)
    # the county inspector holds; the township cannot release it, the county can
    url = f"/instances/{ids['demo-002']}"
    assert xu.post(f"{url}/hold", json={"reason": "县纪委核查"}).status_code == 200
    r = ApiClient(app, "wu").post(f"{url}/release", json={"note": "x"})
    assert r.status_code == 403 and "县级" in r.get_json()["error"]["message"]
    assert ye.post(f"{url}/release", json={"note": "x"}).status_code in (403, 404)
    assert xu.post(f"{url}/release", json={"note": "核查完毕"}).status_code == 200

"""The township desk of what was sent (issue 17): a township's officials and 纪委 see the notices
about their villages (kind, the cadre's role and name, channel, state, time), never another
township's, never an objector or a reporter; a lead's notices only for the 纪委."""

from __future__ import annotations

import pytest

from engine.services.importer import import_data, parse_yaml
from tests import test_notices
from tests.flows import PROPOSAL, Walk
from tests.test_notices import configure, contacts, worker_once

http_server = test_notices.http_server  # the HTTP stand-ins of the SMS gateway and the chat robot (fixture)

FAR = """
villages:
  - {code: far-001, name: 远山村, township: 远山镇, county: 远山县, adults: 500, households: 150, party_members: 20,
     representatives: 25, two_committees: 5}
people:
  - {username: liu, name: 刘镇长, password: "demo123", roles: [{township: 远山镇, role: township_official}]}
  - {username: ma, name: 马书记, password: "demo123", phone: "13900000009",
     roles: [{village: far-001, role: party_secretary}]}
  - {username: tang, name: 唐纪委, password: "demo123", roles: [{township: 远山镇, role: discipline_inspector}]}
"""


@pytest.fixture
def walk(api):
    return Walk(api)


def _web(app, username):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code in (302, 303)
    return client


def _items(html: str) -> list[str]:
    return html.split('<li class="notice')[1:]


@pytest.fixture
def world(app, api, walk, http_server):
    contacts(app)
    with app.extensions["cunwu"].transaction() as session:
        import_data(session, parse_yaml(FAR))
    configure(app, None, http_server)
    walk.start()
    assert walk.supervisor.post(f"/instances/{walk.case['id']}/hold", json={"reason": "核查"}).status_code == 200
    ma = api("ma")
    r = ma.post("/instances", json={"process": "major-decision", "village": "far-001", "title": "远山修桥",
                                    "data": PROPOSAL})
    assert r.status_code == 201, r.get_json()
    assert api("liu").post(f"/instances/{r.get_json()['id']}/hold", json={"reason": "核查"}).status_code == 200
    r = api(None).post("/leads", json={"village": "demo-001", "text": "鱼塘承包费去向不明", "category": "sanzi",
                                       "name": "刘反映", "contact": "13800138000"})
    assert r.status_code == 201, r.get_json()
    worker_once(app)
    return walk


def test_each_township_sees_its_own_villages_notices(app, world):
    wu = _web(app, "wu").get("/township/notices").get_data(as_text=True)
    assert "硬化村东道路" in wu and "远山修桥" not in wu
    assert "短信 → 村党组织书记 张书记" in wu and "短信 → 村务监督委员会 赵监委" in wu
    assert "邮件 → 乡镇纪委 吴纪委" in wu and "工作群 → 乡镇工作群" in wu
    assert 'badge-ok">已发出' in wu
    assert "未发：渠道未配置" in wu  # wu's email: no SMTP here
    liu = _web(app, "liu").get("/township/notices").get_data(as_text=True)
    assert "远山修桥" in liu and "短信 → 村党组织书记 马书记" in liu
    assert "硬化村东道路" not in liu and "张书记" not in liu
    # the village filter cannot reach another township's village
    assert "远山修桥" not in _web(app, "wu").get("/township/notices?village=far-001").get_data(as_text=True)


def test_a_lead_is_for_the_inspectors_and_never_names_the_reporter(app, world):
    wu = _web(app, "wu").get("/township/notices").get_data(as_text=True)
    assert "请及时受理" in wu and "问题线索" in wu
    zhou = _web(app, "zhou").get("/township/notices").get_data(as_text=True)
    assert "硬化村东道路" in zhou and "请及时受理" not in zhou and "线索</span>" not in zhou
    tang = _web(app, "tang").get("/township/notices").get_data(as_text=True)
    assert "请及时受理" not in tang  # another township's inspector
    for html in (wu, zhou):
        assert "刘反映" not in html and "13800138000" not in html and "鱼塘" not in html


def test_an_objector_is_never_named(app, world):
    walk = world
    walk.supervisor.post(f"/instances/{walk.case['id']}/release", json={"reason": "好"})
    walk.to_resolution()
    walk.disclose("resolution")
    entry = walk.board()[0]
    r = walk.public.post(f"/board/{entry['id']}/objections", json={"name": "刘秘密", "contact": "13912345678",
                                                                   "text": "金额不对"})
    assert r.status_code == 201
    worker_once(app)
    html = _web(app, "wu").get("/township/notices?kind=objection").get_data(as_text=True)
    assert "收到村民异议" in html and len(_items(html)) >= 3
    assert "刘秘密" not in html and "13912345678" not in html and "金额不对" not in html
    assert "已暂停办理" not in html  # the kind filter


def test_filters_by_channel_and_state(app, world, http_server):
    wu = _web(app, "wu")
    sms = _items(wu.get("/township/notices?channel=sms").get_data(as_text=True))
    assert sms and all("短信 →" in item for item in sms)
    skipped = _items(wu.get("/township/notices?status=skipped").get_data(as_text=True))
    assert skipped and all("未发：渠道未配置" in item for item in skipped)
    assert _items(wu.get("/township/notices?status=dead").get_data(as_text=True)) == []
    sent = _items(wu.get("/township/notices?status=sent").get_data(as_text=True))
    assert sent and all("已发出" in item for item in sent)
    # a failing gateway: 失败待重试
    http_server["status"] = 503
    world.supervisor.post(f"/instances/{world.case['id']}/release", json={"reason": "好"})
    worker_once(app)
    failed = _items(wu.get("/township/notices?status=failed").get_data(as_text=True))
    assert failed and all("失败待重试（已试1次）" in item and "已恢复办理" in item for item in failed)


def test_only_township_officials_and_inspectors(app, world):
    for who in ("zhang", "zhao", "xu", "he", "admin"):
        assert _web(app, who).get("/township/notices").status_code == 403, who
    assert app.test_client().get("/township/notices").status_code == 302
    assert 'href="/township/notices"' in _web(app, "zhou").get("/township").get_data(as_text=True)

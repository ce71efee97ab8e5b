"""The admin's people pages and API (issue 15): create, change roles, phone and email, disable
and enable, reset a password; one check with the import file; every change audited; a new
password or a disabled account ends the person's sessions and tokens (CONTRACT "Secrets,
sessions and hostile input")."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.store.models import AuditEvent, AuthSession, RoleAssignment, User


def _web(app, username="admin", password="demo123"):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code in (302, 303), r.get_data(as_text=True)[:300]
    return client


def _can_log_in(app, username, password) -> bool:
    r = app.test_client().post("/login", data={"username": username, "password": password})
    return r.status_code in (302, 303)


def _token(app, username, password="demo123"):
    r = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def _user(app, username) -> User | None:
    with app.extensions["cunwu"].sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is not None:
            user.roles  # noqa: B018 - load them before the session closes
        return user


def _audit(app, action) -> list[AuditEvent]:
    with app.extensions["cunwu"].sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def _count(app, model) -> int:
    with app.extensions["cunwu"].sessions() as session:
        return session.scalar(select(func.count()).select_from(model))


NEW = {"username": "liu", "name": "刘委员", "phone": "139 0000 0001", "email": "liu@example.cn",
       "password": "liu-secret-1", "role_0": "committee_member", "scope_0": "village:demo-001",
       "role_1": "township_official", "scope_1": "township:示范镇"}


def test_an_admin_creates_a_person_who_can_log_in_and_it_is_audited(app):
    admin = _web(app)
    page = admin.get("/admin/people/new").get_data(as_text=True)
    assert 'name="role_0"' in page and "示范村" in page and "示范镇" in page
    r = admin.post("/admin/people", data=NEW)
    assert r.status_code == 302 and r.headers["Location"].endswith("/admin/people/liu")
    user = _user(app, "liu")
    assert (user.name, user.phone, user.email, user.active) == ("刘委员", "13900000001", "liu@example.cn", True)
    assert sorted((a.role, a.township) for a in user.roles) == [("committee_member", None),
                                                                 ("township_official", "示范镇")]
    assert _can_log_in(app, "liu", "liu-secret-1")
    [event] = _audit(app, "person_create")
    assert event.actor_name == "管理员" and event.at is not None
    assert "新建人员 liu（刘委员）" in event.summary and "示范镇" in event.summary
    assert "liu-secret-1" not in str(event.data) and "liu-secret-1" not in event.summary
    # the list, its filters and the log of changes
    listing = admin.get("/admin/people").get_data(as_text=True)
    assert 'id="person-liu"' in listing and 'id="person-zhang"' in listing and "新建人员 liu（刘委员）" in listing
    by_role = admin.get("/admin/people?role=township_official").get_data(as_text=True)
    assert 'id="person-liu"' in by_role and 'id="person-zhou"' in by_role and 'id="person-zhang"' not in by_role
    by_village = admin.get("/admin/people?village=demo-002").get_data(as_text=True)
    # demo-002's own people and the township's, not demo-001's
    assert 'id="person-chen"' in by_village and 'id="person-wu"' in by_village
    assert 'id="person-zhang"' not in by_village
    assert 'id="person-xu"' not in admin.get("/admin/people?township=示范镇").get_data(as_text=True)


def test_without_a_password_a_one_time_password_is_shown_once(app):
    admin = _web(app)
    r = admin.post("/admin/people", data={**NEW, "password": ""})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    html = r.get_data(as_text=True)
    password = re.search(r'id="one-time-password">\s*<p><strong>一次性密码：<code class="mono">([a-z0-9]+)</code>',
                         html).group(1)
    assert len(password) == 10
    assert _can_log_in(app, "liu", password)
    assert password not in admin.get("/admin/people/liu").get_data(as_text=True)  # not shown again


@pytest.mark.parametrize("field, value, words", [
    ("phone", "12345", ["手机号（phone）", "12345", "11位大陆手机号码"]),
    ("email", "liu@", ["电子邮箱（email）", "liu@", "格式不正确"]),
    ("role_0", "mayor", ["第1个角色", "未知角色“mayor”"]),
    ("scope_0", "township:示范镇", ["第1个角色", "两委成员是村级角色，请写 village"]),
    ("scope_0", "village:nowhere", ["没有编码为“nowhere”的村"]),
    ("name", "", ["缺少姓名（name）"]),
    ("username", "has space", ["用户名（username）"]),
    ("username", "zhang", ["用户名（username）“zhang”已被使用"]),
    ("password", "short", ["密码（password）至少8个字符"]),
])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(app, field, value, words):
    admin = _web(app)
    before = _count(app, User), _count(app, RoleAssignment), _count(app, AuditEvent)
    r = admin.post("/admin/people", data={**NEW, field: value})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    for word in words:
        assert word in html, (word, html[:2000])
    key = {"role_0": "roles", "scope_0": "roles"}.get(field, field)
    assert f'id="error-{key}"' in html  # next to its field
    assert (_count(app, User), _count(app, RoleAssignment), _count(app, AuditEvent)) == before
    assert 'value="刘委员"' in html or field == "name"  # what was typed stays on the page


def test_the_same_check_as_the_import_file(app):
    """The page and the import file say the same sentence about the same mistake."""
    from engine.domain.errors import Invalid
    from engine.services.importer import import_data, parse_yaml

    text = "people:\n  - {username: x1, name: 某人, password: p, phone: '12345', roles: [{village: nowhere, role: supervisor}]}\n"
    with pytest.raises(Invalid) as err, app.extensions["cunwu"].transaction() as session:
        import_data(session, parse_yaml(text))
    assert "people 第1项（x1）（第2行）：手机号（phone）“12345”不是11位大陆手机号码" in err.value.message
    assert "people 第1项（x1）（第2行） 的第1个角色：没有编码为“nowhere”的村" in err.value.message
    html = _web(app).post("/admin/people", data={**NEW, "phone": "12345", "scope_0": "village:nowhere"}
                          ).get_data(as_text=True)
    assert "手机号（phone）“12345”不是11位大陆手机号码" in html and "第1个角色：没有编码为“nowhere”的村" in html


def test_changing_roles_phone_and_email_is_audited_and_bad_changes_change_nothing(app):
    admin = _web(app)
    r = admin.post("/admin/people/zhao", data={"name": "赵监委", "phone": "13800000002", "email": "",
                                               "role_0": "supervisor", "scope_0": "village:demo-002"})
    assert r.status_code == 302
    user = _user(app, "zhao")
    assert user.phone == "13800000002" and [(a.role, a.village_id is not None) for a in user.roles] == [
        ("supervisor", True)]
    [event] = _audit(app, "person_update")
    assert "手机号 （无） → 13800000002" in event.summary and "角色 → 村务监督委员会·东山村" in event.summary
    # zhao now supervises demo-002, not demo-001
    token = _token(app, "zhao")
    assert app.test_client().get("/api/v1/villages/demo-001/ledger", headers=token).status_code == 403
    assert app.test_client().get("/api/v1/villages/demo-002/ledger", headers=token).status_code == 200
    # a bad phone: nothing changes, not even the good fields posted with it
    r = admin.post("/admin/people/zhao", data={"name": "改名", "phone": "1380000", "email": "zhao@example.cn",
                                               "role_0": "supervisor", "scope_0": "village:demo-001"})
    assert r.status_code == 422 and "手机号（phone）“1380000”" in r.get_data(as_text=True)
    user = _user(app, "zhao")
    assert (user.name, user.phone, user.email) == ("赵监委", "13800000002", None)
    assert len(user.roles) == 1 and len(_audit(app, "person_update")) == 1
    # clearing every role is allowed (the person keeps an account with nothing to do)
    assert admin.post("/admin/people/zhao", data={"name": "赵监委"}).status_code == 302
    assert _user(app, "zhao").roles == []
    # an admin cannot take away their own admin role
    r = admin.post("/admin/people/admin", data={"name": "管理员", "role_0": "supervisor", "scope_0": "village:demo-001"})
    assert r.status_code == 422 and "不能取消自己的系统管理员角色" in r.get_data(as_text=True)
    assert admin.get("/admin/people/nobody").status_code == 404


def test_a_reset_password_ends_every_session_and_token_of_the_person(app):
    zhang_web = _web(app, "zhang")
    zhang_api = _token(app, "zhang")
    assert zhang_web.get("/tasks").status_code == 200
    admin = _web(app)
    r = admin.post("/admin/people/zhang/password", data={"password": ""})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="mono">([a-z0-9]+)</code>', r.get_data(as_text=True)).group(1)
    assert app.test_client().get("/api/v1/tasks", headers=zhang_api).status_code == 401
    assert zhang_web.get("/tasks").status_code == 302  # back to the login page
    assert not _can_log_in(app, "zhang", "demo123") and _can_log_in(app, "zhang", password)
    [event] = _audit(app, "person_password")
    assert "zhang" in event.summary and password not in event.summary and password not in str(event.data)
    # a password the admin types: at least 8 characters, else nothing changes
    r = admin.post("/admin/people/zhang/password", data={"password": "short"})
    assert r.status_code == 422 and "至少8个字符" in r.get_data(as_text=True)
    assert _can_log_in(app, "zhang", password)
    r = admin.post("/admin/people/zhang/password", data={"password": "zhang-new-pass"})
    assert r.status_code == 200 and 'id="one-time-password"' not in r.get_data(as_text=True)
    assert _can_log_in(app, "zhang", "zhang-new-pass") and not _can_log_in(app, "zhang", password)
    with app.extensions["cunwu"].sessions() as session:  # every earlier session revoked on the server
        zhang_id = session.scalar(select(User.id).where(User.username == "zhang"))
        live = session.scalars(select(AuthSession).where(AuthSession.user_id == zhang_id,
                                                         AuthSession.revoked_at.is_(None))).all()
        assert len(live) == 1  # the login just above


def test_a_disabled_person_cannot_log_in_and_their_token_dies(app):
    wang_api = _token(app, "wang")
    wang_web = _web(app, "wang")
    admin = _web(app)
    r = admin.post("/admin/people/wang/active", data={"active": "0"}, follow_redirects=True)
    assert "已停用" in r.get_data(as_text=True)
    assert app.test_client().get("/api/v1/tasks", headers=wang_api).status_code == 401
    assert wang_web.get("/tasks").status_code == 302
    assert not _can_log_in(app, "wang", "demo123")
    r = app.test_client().post("/api/v1/auth/token", json={"username": "wang", "password": "demo123"})
    assert r.status_code == 401
    assert 'class="badge badge-muted">已停用' in admin.get("/admin/people?active=0").get_data(as_text=True)
    assert 'id="person-wang"' not in admin.get("/admin/people?active=1").get_data(as_text=True)
    # enabled again: the old password works, the old token stays dead
    assert admin.post("/admin/people/wang/active", data={"active": "1"}).status_code == 302
    assert _can_log_in(app, "wang", "demo123")
    assert app.test_client().get("/api/v1/tasks", headers=wang_api).status_code == 401
    assert [e.action for e in _audit(app, "person_disable") + _audit(app, "person_enable")] == [
        "person_disable", "person_enable"]
    # an admin cannot disable themselves
    r = admin.post("/admin/people/admin/active", data={"active": "0"}, follow_redirects=True)
    assert "不能停用自己的账号" in r.get_data(as_text=True) and _user(app, "admin").active


def test_a_one_time_password_is_changed_before_anything_else(app):
    admin = _web(app)
    html = admin.post("/admin/people", data={**NEW, "password": ""}).get_data(as_text=True)
    otp = re.search(r'<code class="mono">([a-z0-9]+)</code>', html).group(1)
    liu = _web(app, "liu", otp)
    for path in ("/", "/tasks", "/notifications", "/cases", "/notifications/settings"):
        r = liu.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/password"), (path, r.status_code)
    for path in ("/api/v1/tasks", "/api/v1/notifications", "/api/v1/instances/1"):  # the API through the cookie
        r = liu.get(path)
        assert r.status_code == 403 and "一次性密码" in r.get_json()["error"]["message"], (path, r.status_code)
    page = liu.get("/password").get_data(as_text=True)
    assert 'id="must-change"' in page and "一次性密码" in page
    for data, field, words in (
            ({"current_password": "wrong", "new_password": "liu-own-pass", "repeat": "liu-own-pass"},
             "current_password", "原密码不对"),
            ({"current_password": otp, "new_password": "short", "repeat": "short"}, "new_password",
             "新密码至少8个字符"),
            ({"current_password": otp, "new_password": "liu-own-pass", "repeat": "liu-own-pas"}, "repeat",
             "两次输入的新密码不一致"),
            ({"current_password": otp, "new_password": otp, "repeat": otp}, "new_password", "不能与原密码相同")):
        r = liu.post("/password", data=data)
        assert r.status_code == 422 and words in r.get_data(as_text=True) and f'id="error-{field}"' in r.get_data(
            as_text=True), (field, r.status_code)
    assert _user(app, "liu").must_change_password
    r = liu.post("/password", data={"current_password": otp, "new_password": "liu-own-pass",
                                    "repeat": "liu-own-pass"}, follow_redirects=True)
    assert r.status_code == 200 and "密码已修改" in r.get_data(as_text=True)
    assert liu.get("/tasks").status_code == 200  # the same browser goes on, with a fresh session
    assert liu.get("/api/v1/tasks").status_code == 200
    assert not _user(app, "liu").must_change_password
    assert not _can_log_in(app, "liu", otp) and _can_log_in(app, "liu", "liu-own-pass")
    assert [e.summary for e in _audit(app, "own_password")] == ["刘委员修改了自己的密码"]
    # a password the admin typed is the person's to keep: no forced change
    admin.post("/admin/people/liu/password", data={"password": "typed-by-admin"})
    assert _web(app, "liu", "typed-by-admin").get("/tasks").status_code == 200


def test_anyone_changes_their_own_password_and_their_other_sessions_end(app):
    phone = _token(app, "zhang")
    zhang = _web(app, "zhang")
    assert zhang.get("/password").status_code == 200 and 'id="must-change"' not in zhang.get("/password").get_data(
        as_text=True)
    r = zhang.post("/password", data={"current_password": "demo123", "new_password": "zhang-own-pass",
                                      "repeat": "zhang-own-pass"})
    assert r.status_code == 302
    assert app.test_client().get("/api/v1/tasks", headers=phone).status_code == 401
    assert zhang.get("/tasks").status_code == 200
    assert _can_log_in(app, "zhang", "zhang-own-pass")
    assert app.test_client().get("/password").status_code == 302  # to the login page


def test_nobody_but_the_admin_manages_people(app):
    before = _count(app, AuditEvent), _count(app, User)
    pages = [("get", "/admin/people"), ("get", "/admin/people/new"), ("get", "/admin/people/zhang"),
             ("post", "/admin/people"), ("post", "/admin/people/zhang"), ("post", "/admin/people/zhang/active"),
             ("post", "/admin/people/zhang/password")]
    for who in ("zhang", "zhao", "wu", "xu", "zhou"):
        client = _web(app, who)
        for method, path in pages:
            r = getattr(client, method)(path, data={**NEW, "active": "0", "password": "x" * 10})
            assert r.status_code == 403, (who, method, path, r.status_code)
    anon = app.test_client()
    for method, path in pages:
        r = getattr(anon, method)(path, data=NEW)
        assert r.status_code in (302, 401), (method, path, r.status_code)
    assert (_count(app, AuditEvent), _count(app, User)) == before
    assert _can_log_in(app, "zhang", "demo123")


def test_the_json_api(app):
    admin = _token(app, "admin")
    c = app.test_client()
    r = c.post("/api/v1/people", headers=admin, json={"username": "liu", "name": "刘委员", "phone": "13900000001",
                                                       "roles": [{"village": "demo-001", "role": "supervisor"}]})
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["username"] == "liu" and body["roles"][0]["village"] == "demo-001" and len(body["password"]) == 10
    assert body["must_change_password"] is True
    r = c.post("/api/v1/auth/token", json={"username": "liu", "password": body["password"]})
    assert r.status_code == 403 and "一次性密码" in r.get_json()["error"]["message"]  # not before their own
    web = _web(app, "liu", body["password"])
    assert web.post("/password", data={"current_password": body["password"], "new_password": "liu-own-pass",
                                       "repeat": "liu-own-pass"}).status_code == 302
    liu = _token(app, "liu", "liu-own-pass")
    r = c.post("/api/v1/people", headers=admin, json={"username": "ma", "name": "马", "email": "nope",
                                                       "roles": [{"township": "示范镇", "role": "supervisor"}]})
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert set(err["fields"]) == {"email", "roles"} and "电子邮箱（email）" in err["message"]
    assert _user(app, "ma") is None
    people = c.get("/api/v1/people?role=supervisor", headers=admin).get_json()
    assert {p["username"] for p in people} == {"zhao", "qian", "liu"}
    r = c.patch("/api/v1/people/liu", headers=admin, json={"email": "liu@example.cn", "active": False})
    assert r.status_code == 200 and r.get_json()["email"] == "liu@example.cn" and r.get_json()["active"] is False
    assert c.get("/api/v1/tasks", headers=liu).status_code == 401
    assert c.patch("/api/v1/people/liu", headers=admin, json={"active": "no"}).status_code == 422
    r = c.post("/api/v1/people/zhang/password", headers=admin, json={"password": "zhang-password"})
    assert r.status_code == 200 and r.get_json() == {}
    assert _can_log_in(app, "zhang", "zhang-password")
    r = c.post("/api/v1/people/zhang/password", headers=admin, json={})
    assert r.status_code == 200 and len(r.get_json()["password"]) == 10
    assert c.get("/api/v1/people/nobody", headers=admin).status_code == 404
    zhao = _token(app, "zhao")
    for method, path in (("get", "/api/v1/people"), ("post", "/api/v1/people"), ("get", "/api/v1/people/zhang"),
                         ("patch", "/api/v1/people/zhang"), ("post", "/api/v1/people/zhang/password")):
        r = getattr(c, method)(path, headers=zhao, json={"active": False, "name": "x", "username": "y"})
        assert r.status_code == 403 and r.get_json()["error"]["message"] == "人员管理仅供系统管理员使用"
        assert getattr(c, method)(path, json={}).status_code == 401
    assert _user(app, "zhang").active and _user(app, "y") is None


def test_the_people_forms_carry_the_csrf_token(tmp_path, clock, sqlite_template):
    from tests.conftest import _sqlite_app

    strict = _sqlite_app(tmp_path, sqlite_template, clock, WTF_CSRF_ENABLED=True)
    try:
        client = strict.test_client()

        def token(html: str) -> str:
            return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

        r = client.post("/login", data={"username": "admin", "password": "demo123",
                                        "csrf_token": token(client.get("/login").get_data(as_text=True))})
        assert r.status_code == 302
        page = client.get("/admin/people/wang").get_data(as_text=True)
        for path, data in (("/admin/people/wang/active", {"active": "0"}),
                           ("/admin/people/wang/password", {"password": ""}),
                           ("/admin/people/wang", {"name": "改名"}), ("/admin/people", NEW)):
            r = client.post(path, data=data)
            assert r.status_code == 400 and "安全校验未通过" in r.get_data(as_text=True), path
        assert _user(strict, "wang").active and _user(strict, "liu") is None
        r = client.post("/admin/people/wang/active", data={"active": "0", "csrf_token": token(page)})
        assert r.status_code == 302 and not _user(strict, "wang").active
        zhang = strict.test_client()
        zhang.post("/login", data={"username": "zhang", "password": "demo123",
                                   "csrf_token": token(zhang.get("/login").get_data(as_text=True))})
        r = zhang.post("/notifications/settings", data={"mode": "digest", "digest_hour": "8"})
        assert r.status_code == 400
        assert strict.extensions["cunwu"].notice_preferences("zhang")["digest_hour"] is None
    finally:
        strict.extensions["cunwu_db"].dispose()

"""The admin's people (issue 15): create a person, change roles, phone and email, disable or
enable, reset a password. One check with the import file (engine.services.importer.check_person: the same
Chinese messages naming the field); every change is audited (who, what, when); a new password or a
disabled account ends every session and token of that person at once (CONTRACT "Secrets, sessions
and hostile input")."""

from __future__ import annotations

import re
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from ..domain.authz import Actor
from ..domain.errors import Conflict, Forbidden, Invalid, NotFound
from ..domain.roles import ROLES
from ..store.models import AuditEvent, AuthSession, RoleAssignment, User, Village
from .importer import apply_person, check_person

ADMIN_ONLY = "人员管理仅供系统管理员使用"
#: A username: 1–100 characters, no spaces or slashes (it is part of the page's address).
USERNAME = re.compile(r"[^\s/\\?#%]{1,100}")
#: Passwords typed by an admin on the pages or the API (the import file keeps its own rule).
MIN_PASSWORD = 8
#: One-time passwords: no 0/O, 1/l/I, easy to read out on the phone.
OTP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
OTP_LENGTH = 10
PEOPLE_ACTIONS = ("person_create", "person_update", "person_disable", "person_enable", "person_password",
                  "own_password")


def one_time_password() -> str:
    return "".join(secrets.choice(OTP_ALPHABET) for _ in range(OTP_LENGTH))


def role_text(r: RoleAssignment) -> str:
    name = ROLES.get(r.role, r.role)
    where = r.village.name if r.village else (r.township or r.county or "")
    return f"{name}·{where}" if where else name


def person_json(user: User) -> dict:
    from ..records.notices import preferences_json

    return {"username": user.username, "name": user.name, "active": user.active,
            "must_change_password": bool(user.must_change_password), "phone": user.phone,
            "email": user.email,
            "roles": [{"role": r.role, "role_name": ROLES.get(r.role, r.role),
                       **({"village": r.village.code, "village_name": r.village.name} if r.village else {}),
                       **({"township": r.township} if r.township else {}),
                       **({"county": r.county} if r.county else {})}
                      for r in sorted(user.roles, key=lambda a: (a.role, a.id or 0))],
            "notices": preferences_json(user)}


def _fields(problems: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, message in problems:
        out.setdefault(field, []).append(message)
    return out


def _refuse(problems: list[tuple[str, str]]) -> Invalid:
    return Invalid("人员信息有误：" + "；".join(m for _f, m in problems[:10]), _fields(problems))


def _password_problem(password) -> tuple[str, str] | None:
    if not isinstance(password, str):
        return ("password", "密码（password）必须是文字")
    if len(password) < MIN_PASSWORD:
        return ("password", f"密码（password）至少{MIN_PASSWORD}个字符")
    if len(password) > 200:
        return ("password", "密码（password）不能超过200个字符")
    return None


class PeopleMixin:
    """Engine methods of the admin's people pages and API (mixed into engine.services.Engine)."""

    def _admin_actor(self, session: Session, username: str) -> Actor:
        actor = self.actor(session, username)
        if not actor.is_admin():
            raise Forbidden(ADMIN_ONLY)
        return actor

    def _target(self, session: Session, target: str) -> User:
        user = session.scalar(select(User).where(User.username == target)) if isinstance(target, str) else None
        if user is None:
            raise NotFound(f"没有用户“{str(target)[:100]}”")
        return user

    def _end_sessions(self, session: Session, user: User) -> None:
        """Revoke every session and token of ``user`` (a new password would stop them matching
        anyway; revoking also keeps them dead if the account is enabled again)."""
        session.execute(update(AuthSession).where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
                        .values(revoked_at=self.accounts.now()))

    def change_own_password(self, username: str, current: str, new: str, repeat: str | None = None) -> None:
        """A person sets their own password (``current`` already checked by the caller under the
        login throttle): at least 8 characters, not the old one; every session and token of the
        person ends (the caller opens a fresh one)."""
        problems = []
        if (bad := _password_problem(new)) is not None:
            problems.append(("new_password", bad[1].replace("密码（password）", "新密码")))
        elif repeat is not None and repeat != new:
            problems.append(("repeat", "两次输入的新密码不一致"))
        elif new == current:
            problems.append(("new_password", "新密码不能与原密码相同"))
        if problems:
            raise _refuse(problems)
        with self.transaction() as session:
            actor = self.actor(session, username)
            user = session.get(User, actor.id)
            user.password_hash = generate_password_hash(new)
            user.must_change_password = False
            self._end_sessions(session, user)
            self.audit(session, action="own_password", actor=actor, summary=f"{user.name}修改了自己的密码",
                        data={"username": user.username})

    # -- reading ---------------------------------------------------------------------------------
    def people(self, username: str, *, village: str | None = None, township: str | None = None,
               role: str | None = None, active: bool | None = None) -> list[dict]:
        with self.sessions() as session:
            self._admin_actor(session, username)
            stmt = select(User).order_by(User.username)
            if active is not None:
                stmt = stmt.where(User.active.is_(active))
            if role:
                stmt = stmt.where(User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.role == role)))
            if village:
                ids = select(Village.id).where(Village.code == village)
                towns = select(Village.township).where(Village.code == village)
                stmt = stmt.where(User.id.in_(select(RoleAssignment.user_id).where(
                    RoleAssignment.village_id.in_(ids) | RoleAssignment.township.in_(towns))))
            if township:
                ids = select(Village.id).where(Village.township == township)
                stmt = stmt.where(User.id.in_(select(RoleAssignment.user_id).where(
                    RoleAssignment.village_id.in_(ids) | (RoleAssignment.township == township))))
            return [person_json(u) for u in session.scalars(stmt)]

    def person(self, username: str, target: str) -> dict:
        with self.sessions() as session:
            self._admin_actor(session, username)
            return person_json(self._target(session, target))

    def people_log(self, username: str, limit: int = 50) -> list[dict]:
        """The latest changes to people (who, what, when), newest first."""
        with self.sessions() as session:
            self._admin_actor(session, username)
            rows = session.scalars(select(AuditEvent).where(AuditEvent.action.in_(PEOPLE_ACTIONS))
                                   .order_by(AuditEvent.id.desc()).limit(limit))
            return [{"at": r.at, "by": r.actor_name, "action": r.action, "summary": r.summary} for r in rows]

    # -- changing ----------------------------------------------------------------------------------
    def create_person(self, username: str, entry: dict) -> tuple[dict, str | None]:
        """A new person from ``{username, name, phone?, email?, roles, password?}``. Without a
        password a one-time password is made and returned (shown once, never stored in clear)."""
        if not isinstance(entry, dict):
            raise Invalid("请提交人员信息（JSON 对象）")
        with self.transaction() as session:
            actor = self._admin_actor(session, username)
            problems: list[tuple[str, str]] = []
            login = entry.get("username")
            login = login.strip() if isinstance(login, str) else login
            if not isinstance(login, str) or not login:
                problems.append(("username", "缺少用户名（username）"))
            elif not USERNAME.fullmatch(login):
                problems.append(("username", "用户名（username）最长100个字符，不能含空格和 / \\ ? # %"))
            elif session.scalar(select(User.id).where(User.username == login)) is not None:
                problems.append(("username", f"用户名（username）“{login}”已被使用"))
            given = entry.get("password")
            generated = None
            if given in (None, ""):
                generated = given = one_time_password()
            elif (bad := _password_problem(given)) is not None:
                problems.append(bad)
            more, contact, grants = check_person(session, {k: v for k, v in entry.items() if k != "password"})
            problems += more
            if problems:
                raise _refuse(problems)
            user = User(username=login, name=entry["name"].strip(), active=True,
                        password_hash=generate_password_hash(given), must_change_password=generated is not None)
            session.add(user)
            apply_person(session, user, entry, contact, grants)
            session.flush()
            out = person_json(user)
            self.audit(session, action="person_create", actor=actor,
                        summary=f"新建人员 {login}（{user.name}）：" + ("、".join(role_text(r) for r in user.roles)
                                                                    or "无角色"),
                        data={"username": login, "roles": out["roles"], "phone": user.phone, "email": user.email})
            return out, generated

    def update_person(self, username: str, target: str, changes: dict) -> dict:
        """Change any of ``name``, ``phone``, ``email``, ``roles`` (the whole list) of a person."""
        if not isinstance(changes, dict):
            raise Invalid("请提交要修改的人员信息（JSON 对象）")
        with self.transaction() as session:
            actor = self._admin_actor(session, username)
            user = self._target(session, target)
            before = person_json(user)
            entry = {"name": user.name,
                     "roles": [{"role": r["role"], **{k: r[k] for k in ("village", "township", "county") if k in r}}
                               for r in before["roles"]]}
            entry.update({k: changes[k] for k in ("name", "phone", "email", "roles") if k in changes})
            problems, contact, grants = check_person(session, entry)
            if user.username == actor.username and ("admin", None, None, None) not in set(grants):
                problems.append(("roles", "不能取消自己的系统管理员角色（请由另一位管理员操作）"))
            if problems:
                raise _refuse(problems)
            apply_person(session, user, entry, contact, grants)
            session.flush()
            after = person_json(user)
            what = []
            if after["name"] != before["name"]:
                what.append(f"姓名 {before['name']} → {after['name']}")
            for key, label in (("phone", "手机号"), ("email", "邮箱")):
                if after[key] != before[key]:
                    what.append(f"{label} {before[key] or '（无）'} → {after[key] or '（无）'}")
            if after["roles"] != before["roles"]:
                what.append("角色 → " + ("、".join(role_text(r) for r in user.roles) or "无角色"))
            if what:
                self.audit(session, action="person_update", actor=actor,
                            summary=f"修改人员 {user.username}（{user.name}）：" + "；".join(what),
                            data={"username": user.username, "before": before, "after": after})
            return after

    def set_person_active(self, username: str, target: str, active: bool) -> dict:
        """Disable (every session and token ends at once) or enable a person."""
        if not isinstance(active, bool):
            raise Invalid("active 必须是 true 或 false", {"active": ["必须是 true 或 false"]})
        with self.transaction() as session:
            actor = self._admin_actor(session, username)
            user = self._target(session, target)
            if user.id == actor.id and not active:
                raise Conflict("不能停用自己的账号（请由另一位管理员操作）")
            if user.active != active:
                user.active = active
                if not active:
                    self._end_sessions(session, user)
                self.audit(session, action="person_enable" if active else "person_disable", actor=actor,
                            summary=f"{'启用' if active else '停用'}人员 {user.username}（{user.name}）"
                                    + ("" if active else "，其登录和令牌全部失效"),
                            data={"username": user.username})
            return person_json(user)

    def reset_password(self, username: str, target: str, password: str | None = None) -> str:
        """Set a new password (the one given, else a one-time password, returned to show once)
        and end every session and token of the person."""
        with self.transaction() as session:
            actor = self._admin_actor(session, username)
            user = self._target(session, target)
            generated = password in (None, "")
            if generated:
                password = one_time_password()
            elif (bad := _password_problem(password)) is not None:
                raise _refuse([bad])
            user.password_hash = generate_password_hash(password)
            user.must_change_password = generated  # a one-time password: the person sets their own first
            self._end_sessions(session, user)
            self.audit(session, action="person_password", actor=actor,
                        summary=f"重置人员 {user.username}（{user.name}）的密码，其登录和令牌全部失效",
                        data={"username": user.username})  # never the password
            return password

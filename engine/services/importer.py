"""Import villages and people from the YAML format of CONTRACT.md (idempotent)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..catalogue.village_settings import check_settings
from ..domain.errors import Invalid
from ..domain.roles import COUNTY_ROLES, ROLES, TOWNSHIP_ROLES, VILLAGE_ROLES
from ..store.models import RoleAssignment, User, Village

COUNTS = {
    "adults": "18周岁以上村民人数",
    "households": "户数",
    "party_members": "有表决权的正式党员人数",
    "representatives": "村民代表会议组成人员数",
    "two_committees": "两委成员数",
}


VILLAGE_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
#: An 11-digit mainland mobile number (13x–19x) and a plain email address (notices, issue 17).
PHONE = re.compile(r"1[3-9][0-9]{9}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]+")


def _at(where: str, message: str) -> str:
    return f"{where}：{message}" if where else message


def _contact(entry: dict, where: str, problems: list[tuple[str, str]]) -> dict:
    """``phone`` and ``email`` of a person entry, checked; only the keys the entry has."""
    out: dict = {}
    if "phone" in entry:
        phone = entry["phone"]
        if isinstance(phone, int) and not isinstance(phone, bool):
            phone = str(phone)
        if phone in (None, ""):
            out["phone"] = None
        elif not isinstance(phone, str) or not PHONE.fullmatch(phone.strip().replace(" ", "").replace("-", "")):
            problems.append(("phone", _at(where, f"手机号（phone）“{str(phone)[:20]}”不是11位大陆手机号码")))
        else:
            out["phone"] = phone.strip().replace(" ", "").replace("-", "")
    if "email" in entry:
        email = entry["email"]
        if email in (None, ""):
            out["email"] = None
        elif not isinstance(email, str) or len(email.strip()) > 254 or not EMAIL.fullmatch(email.strip()):
            problems.append(("email", _at(where, f"电子邮箱（email）“{str(email)[:60]}”格式不正确")))
        else:
            out["email"] = email.strip()
    return out


Grant = tuple[str, int | None, str | None, str | None]  # role, village id, township, county


def check_person(session: Session, entry: dict, where: str = "") -> tuple[list[tuple[str, str]], dict, list[Grant]]:
    """Check one person entry of the import file (``name``, ``phone``, ``email``, ``password``,
    ``roles``): the one check of ``cunwu import``, the admin's import and the admin's people pages.
    Returns ``(problems, contact, grants)``; ``problems`` pairs each bad field with its Chinese
    message (prefixed with ``where`` when given); nothing is written."""
    problems: list[tuple[str, str]] = []
    if not isinstance(entry.get("name"), str) or not entry["name"].strip():
        problems.append(("name", _at(where, "缺少姓名（name）")))
    elif len(entry["name"].strip()) > 200:
        problems.append(("name", _at(where, "姓名（name）不能超过200个字")))
    contact = _contact(entry, where, problems)
    password = entry.get("password")
    if password is not None and not isinstance(password, str | int):
        problems.append(("password", _at(where, "密码（password）必须是文字")))
    grants: list[Grant] = []
    roles = entry.get("roles") or []
    if not isinstance(roles, list):
        problems.append(("roles", _at(where, "角色（roles）必须是列表")))
        roles = []
    for r_index, role in enumerate(roles, start=1):
        rwhere = f"{where} 的第{r_index}个角色" if where else f"第{r_index}个角色"
        if getattr(role, "line", None) != getattr(entry, "line", None):
            rwhere += _line_of(role)
        if not isinstance(role, dict) or not isinstance(role.get("role"), str):
            problems.append(("roles", f"{rwhere}：须写成 {{village: 村编码, role: 角色}}"))
            continue
        key = role["role"]
        if key not in ROLES:
            problems.append(("roles", f"{rwhere}：未知角色“{key[:40]}”，可用：{', '.join(ROLES)}"))
            continue
        if key in COUNTY_ROLES or "county" in role:
            if key not in COUNTY_ROLES:
                problems.append(("roles", f"{rwhere}：{ROLES[key]}不是县级角色，不能写 county"))
                continue
            county = role.get("county")
            if not isinstance(county, str) or not county.strip():
                problems.append(("roles", f"{rwhere}：{ROLES[key]}是县级角色，请写 county（县名）"))
                continue
            grants.append((key, None, None, county.strip()))
        elif "village" in role:
            if key in TOWNSHIP_ROLES:
                problems.append(("roles", f"{rwhere}：{ROLES[key]}是乡镇角色，请写 township"))
                continue
            village = session.scalar(select(Village).where(Village.code == str(role["village"])))
            if village is None:
                problems.append(("roles", f"{rwhere}：没有编码为“{str(role['village'])[:64]}”的村"))
                continue
            grants.append((key, village.id, None, None))
        elif "township" in role:
            if key in VILLAGE_ROLES:
                problems.append(("roles", f"{rwhere}：{ROLES[key]}是村级角色，请写 village"))
                continue
            township = str(role["township"]).strip()
            if not township:
                problems.append(("roles", f"{rwhere}：{ROLES[key]}是乡镇角色，请写 township（乡镇名）"))
                continue
            grants.append((key, None, township, None))
        elif key == "admin":
            grants.append((key, None, None, None))
        else:
            problems.append(("roles", f"{rwhere}：须指明 village 或 township"))
    return problems, contact, grants


def apply_person(session: Session, user: User, entry: dict, contact: dict, grants: list[Grant]) -> None:
    """Write a checked entry's name, contact and roles to ``user`` (roles not listed are removed)."""
    user.name = entry["name"].strip()
    for key, value in contact.items():
        setattr(user, key, value)
    session.flush()
    wanted = set(grants)
    for assignment in list(user.roles):
        if (assignment.role, assignment.village_id, assignment.township, assignment.county) not in wanted:
            user.roles.remove(assignment)
    have = {(a.role, a.village_id, a.township, a.county) for a in user.roles}
    for role, village_id, township, county in sorted(wanted - have, key=str):
        user.roles.append(RoleAssignment(role=role, village_id=village_id, township=township, county=county))


class Entry(dict):
    """A mapping read from YAML that remembers its line, so an error can name it (issue 15)."""

    line: int | None = None


class _LineLoader(yaml.SafeLoader):
    def construct_mapping(self, node, deep=False):
        mapping = Entry(super().construct_mapping(node, deep=deep))
        mapping.line = node.start_mark.line + 1
        return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _LineLoader.construct_mapping)


def _line_of(entry: Any) -> str:
    line = getattr(entry, "line", None)
    return f"（第{line}行）" if line else ""


def parse_yaml(text: str, source: str = "导入文件") -> dict:
    try:
        doc = yaml.load(text, Loader=_LineLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第{mark.line + 1}行" if mark else ""
        raise Invalid(f"{source}{where}不是合法的 YAML：{getattr(exc, 'problem', exc)}") from exc
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise Invalid(f"{source}的顶层必须是包含 villages 和 people 的键值对")
    return doc


def _int(entry: dict, key: str, label: str, where: str, errors: list[str]) -> int | None:
    value = entry.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{where}：{label}（{key}）必须是整数")
        return None
    if value < 0:
        errors.append(f"{where}：{label}（{key}）不能为负数")
        return None
    return value


def import_data(session: Session, doc: dict[str, Any]) -> dict[str, int]:
    """Import villages and people; village settings are checked against the catalogue this
    database has deployed (not whatever folder the environment points at)."""
    from ..catalogue import village_settings as item_settings
    from ..store.models import ProcessDefinition

    deployed: dict[str, dict] = {}
    for row in session.scalars(select(ProcessDefinition).order_by(ProcessDefinition.version)):
        deployed[row.key] = {"name": row.name, **(row.meta or {})}  # the newest version wins
    token = item_settings.DEPLOYED.set(deployed or None)
    try:
        return _import_data(session, doc)
    finally:
        item_settings.DEPLOYED.reset(token)


def _import_data(session: Session, doc: dict[str, Any]) -> dict[str, int]:
    """Create or update villages and people. Raises ``Invalid`` naming the first bad entries;
    nothing is written then (the caller's transaction rolls back)."""
    errors: list[str] = []
    villages = doc.get("villages") or []
    people = doc.get("people") or []
    if not isinstance(villages, list):
        raise Invalid("villages 必须是列表")
    if not isinstance(people, list):
        raise Invalid("people 必须是列表")
    stats = {"villages_created": 0, "villages_updated": 0, "people_created": 0, "people_updated": 0}

    seen_codes: set[str] = set()
    for index, entry in enumerate(villages, start=1):
        where = f"villages 第{index}项{_line_of(entry)}"
        if not isinstance(entry, dict):
            errors.append(f"{where}：必须是键值对")
            continue
        code = entry.get("code")
        if not isinstance(code, str) or not code.strip():
            errors.append(f"{where}：缺少村编码（code）")
            continue
        if not VILLAGE_CODE.fullmatch(code):
            # The code names files (poster cache) and headers (downloads): letters, digits, - and _ only.
            errors.append(f"{where}：村编码“{code[:40]}”不合规：只能用英文字母、数字、“-”和“_”，以字母或数字开头，"
                          "最长64个字符")
            continue
        where = f"villages 第{index}项（{code}）{_line_of(entry)}"
        if code in seen_codes:
            errors.append(f"{where}：村编码重复")
            continue
        seen_codes.add(code)
        for key, label in (("name", "村名"), ("township", "所属乡镇")):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                errors.append(f"{where}：缺少{label}（{key}）")
        if entry.get("county") is not None and (not isinstance(entry["county"], str) or not entry["county"].strip()):
            errors.append(f"{where}：所属县（county）必须是县名")
        counts = {k: _int(entry, k, label, where, errors) for k, label in COUNTS.items()}
        if any(v is None for v in counts.values()):
            continue
        for k in ("party_members", "representatives", "two_committees", "adults", "households"):
            if counts[k] == 0:
                errors.append(f"{where}：{COUNTS[k]}（{k}）必须大于0")
        if counts["representatives"] > counts["adults"]:
            errors.append(f"{where}：村民代表会议组成人员数不能多于本村十八周岁以上村民人数")
        settings = entry.get("settings") or {}
        if not isinstance(settings, dict):
            errors.append(f"{where}：settings 必须是键值对")
            settings = {}
        for key, msgs in check_settings(settings).items():
            errors.append(f"{where}：设置 {key}：{msgs[0]}")
        if errors:
            continue
        village = session.scalar(select(Village).where(Village.code == code))
        if village is None:
            village = Village(code=code, board_count=0, board_head="")
            session.add(village)
            stats["villages_created"] += 1
        else:
            stats["villages_updated"] += 1
        village.name = entry["name"].strip()
        village.township = entry["township"].strip()
        village.county = entry["county"].strip() if entry.get("county") else None
        village.settings = settings
        for k, v in counts.items():
            setattr(village, k, v)
    if errors:
        raise Invalid("导入失败：" + "；".join(errors[:20]), {"villages": errors})
    session.flush()

    seen_users: set[str] = set()
    for index, entry in enumerate(people, start=1):
        where = f"people 第{index}项{_line_of(entry)}"
        if not isinstance(entry, dict):
            errors.append(f"{where}：必须是键值对")
            continue
        username = entry.get("username")
        if not isinstance(username, str) or not username.strip():
            errors.append(f"{where}：缺少用户名（username）")
            continue
        where = f"people 第{index}项（{username}）{_line_of(entry)}"
        if username in seen_users:
            errors.append(f"{where}：用户名重复")
            continue
        seen_users.add(username)
        problems, contact, grants = check_person(session, entry, where)
        errors.extend(message for _field, message in problems)
        password = entry.get("password")
        if errors:
            continue
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            if password in (None, ""):
                errors.append(f"{where}：新用户必须设置密码（password）")
                continue
            user = User(username=username, name=entry["name"].strip(), active=True,
                        password_hash=generate_password_hash(str(password)))
            session.add(user)
            stats["people_created"] += 1
        else:
            stats["people_updated"] += 1
            if password not in (None, "") and not check_password_hash(user.password_hash, str(password)):
                user.password_hash = generate_password_hash(str(password))
        apply_person(session, user, entry, contact, grants)
    if errors:
        raise Invalid("导入失败：" + "；".join(errors[:20]), {"people": errors})
    session.flush()
    return stats

"""Import villages and people from the YAML format of CONTRACT.md (idempotent).

Each entry is checked by a marshmallow schema (``VillageSchema``, ``ImportPersonSchema`` with its
``RoleSchema``s); the messages are Chinese and name the entry, and the line it starts on (a role on
a line of its own, its line too)."""

from __future__ import annotations

import re
from typing import Any

import yaml
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    missing,
    post_load,
    validate,
    validates_schema,
)
from marshmallow.experimental.context import Context
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..catalogue.village_settings import check_settings
from ..domain.errors import Invalid
from ..domain.roles import COUNTY_ROLES, ROLES, TOWNSHIP_ROLES, VILLAGE_ROLES
from ..forms.base import StrictInteger, StrictString
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


def _said(message: str) -> dict[str, str]:
    """``message`` for a value that is missing, null or of the wrong type (braces kept: marshmallow
    formats a field's messages)."""
    message = message.replace("{", "{{").replace("}", "}}")
    return {"required": message, "null": message, "invalid": message}


def _filled(message: str):
    """A validator: the text is not blank."""
    def check(value: str) -> None:
        if not value.strip():
            raise ValidationError(message)
    return check


def _text(message: str, **kw) -> StrictString:
    """Required text that is not blank; otherwise ``message``."""
    return StrictString(required=True, validate=_filled(message), error_messages=_said(message), **kw)


class _EntrySchema(Schema):
    """An entry of the import file: keys it does not know are ignored."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "必须是键值对"}


# -- people ---------------------------------------------------------------------------------------
class Phone(fields.Field):
    """An 11-digit mainland mobile number, written with spaces or dashes or as a number; empty is none."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if value == "":
            return None
        number = value.strip().replace(" ", "").replace("-", "") if isinstance(value, str) else None
        if number is None or not PHONE.fullmatch(number):
            raise ValidationError(f"手机号（phone）“{str(value)[:20]}”不是11位大陆手机号码")
        return number


class Email(fields.Field):
    """A plain email address; empty is none."""

    def _deserialize(self, value, attr, data, **kwargs):
        if value == "":
            return None
        if not isinstance(value, str) or len(value.strip()) > 254 or not EMAIL.fullmatch(value.strip()):
            raise ValidationError(f"电子邮箱（email）“{str(value)[:60]}”格式不正确")
        return value.strip()


def _password(value: Any) -> None:
    if not isinstance(value, str | int):
        raise ValidationError("密码（password）必须是文字")


def _name(value: str) -> None:
    if not value.strip():
        raise ValidationError("缺少姓名（name）")
    if len(value.strip()) > 200:
        raise ValidationError("姓名（name）不能超过200个字")


Grant = tuple[str, int | None, str | None, str | None]  # role, village id, township, county
ROLE_SHAPE = "须写成 {village: 村编码, role: 角色}"


def _known_role(key: str) -> None:
    if key not in ROLES:
        raise ValidationError(f"未知角色“{key[:40]}”，可用：{', '.join(ROLES)}")


class RoleSchema(_EntrySchema):
    """One role of a person: ``role`` and its scope (``village``, ``township`` or ``county``); loads
    as a ``Grant``. The village is looked up in the session of ``Context`` (``{"session": …}``)."""

    error_messages = {"type": ROLE_SHAPE}
    role = StrictString(required=True, validate=_known_role, error_messages=_said(ROLE_SHAPE))
    village = fields.Raw(allow_none=True)
    township = fields.Raw(allow_none=True)
    county = fields.Raw(allow_none=True)

    @post_load
    def grant(self, role: dict, **kwargs) -> Grant:
        key = role["role"]
        if key in COUNTY_ROLES or "county" in role:
            if key not in COUNTY_ROLES:
                raise ValidationError(f"{ROLES[key]}不是县级角色，不能写 county")
            county = role.get("county")
            if not isinstance(county, str) or not county.strip():
                raise ValidationError(f"{ROLES[key]}是县级角色，请写 county（县名）")
            return key, None, None, county.strip()
        if "village" in role:
            if key in TOWNSHIP_ROLES:
                raise ValidationError(f"{ROLES[key]}是乡镇角色，请写 township")
            session = Context.get()["session"]
            village = session.scalar(select(Village).where(Village.code == str(role["village"])))
            if village is None:
                raise ValidationError(f"没有编码为“{str(role['village'])[:64]}”的村")
            return key, village.id, None, None
        if "township" in role:
            if key in VILLAGE_ROLES:
                raise ValidationError(f"{ROLES[key]}是村级角色，请写 village")
            township = str(role["township"]).strip()
            if not township:
                raise ValidationError(f"{ROLES[key]}是乡镇角色，请写 township（乡镇名）")
            return key, None, township, None
        if key == "admin":
            return key, None, None, None
        raise ValidationError("须指明 village 或 township")


class Roles(fields.List):
    """A list of roles; nothing (absent, null, empty) is none."""

    def deserialize(self, value, attr=None, data=None, **kwargs):
        if value is missing or not value:
            return []
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return super().deserialize(value, attr, data, **kwargs)


class PersonSchema(_EntrySchema):
    """A person entry: ``name``, ``phone``, ``email``, ``password``, ``roles`` (the admin's pages
    check the same; ``username`` is the import file's, see ``ImportPersonSchema``)."""

    name = StrictString(required=True, validate=_name, error_messages=_said("缺少姓名（name）"))
    phone = Phone(allow_none=True)
    email = Email(allow_none=True)
    password = fields.Raw(allow_none=True, validate=_password)
    roles = Roles(fields.Nested(RoleSchema, error_messages=_said(ROLE_SHAPE)),
                  error_messages={"invalid": "角色（roles）必须是列表"})


class ImportPersonSchema(PersonSchema):
    username = _text("缺少用户名（username）")


#: Built once (building a schema deep-copies its fields); a schema keeps no state between loads.
PERSON, IMPORT_PERSON = PersonSchema(), ImportPersonSchema()


def _load(schema: Schema, session: Session, entry: Any) -> tuple[dict, dict]:
    """``(values, messages)``: what loaded (all of it, or the valid part) and marshmallow's messages."""
    with Context({"session": session}):
        try:
            return schema.load(entry), {}
        except ValidationError as exc:
            return (exc.valid_data if isinstance(exc.valid_data, dict) else {}), exc.normalized_messages()


def _flat(messages: Any) -> list[str]:
    if isinstance(messages, dict):
        return [m for value in messages.values() for m in _flat(value)]
    return list(messages)


def _person_problems(messages: dict, entry: dict, where: str) -> list[tuple[str, str]]:
    """Each message with its field, prefixed with ``where``; a role's with its number and, when it is
    on a line of its own, that line."""
    problems: list[tuple[str, str]] = []
    for name, said in messages.items():
        if name != "roles" or not isinstance(said, dict):
            problems += [(name, _at(where, m)) for m in _flat(said)]
            continue
        for index, role_said in said.items():
            role = entry["roles"][index]
            rwhere = f"{where} 的第{index + 1}个角色" if where else f"第{index + 1}个角色"
            if getattr(role, "line", None) != getattr(entry, "line", None):
                rwhere += _line_of(role)
            problems += [("roles", f"{rwhere}：{m}") for m in _flat(role_said)]
    return problems


def _person(values: dict) -> tuple[dict, list[Grant]]:
    contact = {k: values[k] for k in ("phone", "email") if k in values}
    return contact, [g for g in values.get("roles", []) if isinstance(g, tuple)]


def check_person(session: Session, entry: dict, where: str = "") -> tuple[list[tuple[str, str]], dict, list[Grant]]:
    """Check one person entry of the import file (``PersonSchema``): the one check of ``cunwu import``,
    the admin's import and the admin's people pages. Returns ``(problems, contact, grants)``;
    ``problems`` pairs each bad field with its Chinese message (prefixed with ``where`` when given),
    ``contact`` holds the valid ``phone`` and ``email`` the entry has, ``grants`` its valid roles;
    nothing is written."""
    values, messages = _load(PERSON, session, entry)
    return _person_problems(messages, entry, where), *_person(values)


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


def _village_code(code: str) -> None:
    if not code.strip():
        raise ValidationError("缺少村编码（code）")
    if not VILLAGE_CODE.fullmatch(code):
        # The code names files (poster cache) and headers (downloads): letters, digits, - and _ only.
        raise ValidationError(f"村编码“{code[:40]}”不合规：只能用英文字母、数字、“-”和“_”，以字母或数字开头，"
                              "最长64个字符")


def _count(key: str, label: str) -> StrictInteger:
    return StrictInteger(required=True, validate=validate.Range(min=0, error=f"{label}（{key}）不能为负数"),
                         error_messages=_said(f"{label}（{key}）必须是整数"))


class VillageSchema(_EntrySchema):
    """A village entry: code, name, township, county, its counts and its settings (checked against
    the catalogue in use, ``engine.catalogue.village_settings``)."""

    code = StrictString(required=True, validate=_village_code, error_messages=_said("缺少村编码（code）"))
    name = _text("缺少村名（name）")
    township = _text("缺少所属乡镇（township）")
    county = StrictString(allow_none=True, validate=_filled("所属县（county）必须是县名"),
                          error_messages={"invalid": "所属县（county）必须是县名"})
    adults = _count("adults", COUNTS["adults"])
    households = _count("households", COUNTS["households"])
    party_members = _count("party_members", COUNTS["party_members"])
    representatives = _count("representatives", COUNTS["representatives"])
    two_committees = _count("two_committees", COUNTS["two_committees"])
    settings = fields.Raw(allow_none=True)

    @validates_schema(skip_on_field_errors=False)
    def counts_and_settings(self, values: dict, **kwargs) -> None:
        """Once every count is a number: none is zero, the representatives are not more than the
        adults, and the settings are within the law and the catalogue."""
        if any(k not in values for k in COUNTS):
            return
        problems = [f"{COUNTS[k]}（{k}）必须大于0" for k in
                    ("party_members", "representatives", "two_committees", "adults", "households") if values[k] == 0]
        if values["representatives"] > values["adults"]:
            problems.append("村民代表会议组成人员数不能多于本村十八周岁以上村民人数")
        settings = values.get("settings") or {}
        if not isinstance(settings, dict):
            problems.append("settings 必须是键值对")
        else:
            problems += [f"设置 {key}：{msgs[0]}" for key, msgs in check_settings(settings).items()]
        if problems:
            raise ValidationError(problems)

    @post_load
    def tidy(self, values: dict, **kwargs) -> dict:
        county = values.get("county")
        return {**values, "name": values["name"].strip(), "township": values["township"].strip(),
                "county": county.strip() if county else None, "settings": values.get("settings") or {}}


VILLAGE = VillageSchema()


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
        values, messages = _load(VILLAGE, session, entry)
        where = f"villages 第{index}项{_line_of(entry)}"
        if "_schema" in messages and not isinstance(entry, dict) or "code" in messages:
            errors += [f"{where}：{m}" for m in messages.get("code") or messages["_schema"]]
            continue
        code = entry["code"]
        where = f"villages 第{index}项（{code}）{_line_of(entry)}"
        if code in seen_codes:
            errors.append(f"{where}：村编码重复")
            continue
        seen_codes.add(code)
        errors += [f"{where}：{m}" for m in _flat(messages)]
        if errors:
            continue
        village = session.scalar(select(Village).where(Village.code == code))
        if village is None:
            village = Village(code=code, board_count=0, board_head="")
            session.add(village)
            stats["villages_created"] += 1
        else:
            stats["villages_updated"] += 1
        for key in ("name", "township", "county", "settings", *COUNTS):
            setattr(village, key, values[key])
    if errors:
        raise Invalid("导入失败：" + "；".join(errors[:20]), {"villages": errors})
    session.flush()

    seen_users: set[str] = set()
    for index, entry in enumerate(people, start=1):
        values, messages = _load(IMPORT_PERSON, session, entry)
        where = f"people 第{index}项{_line_of(entry)}"
        if "_schema" in messages and not isinstance(entry, dict) or "username" in messages:
            errors += [f"{where}：{m}" for m in messages.get("username") or messages["_schema"]]
            continue
        username = entry["username"]
        where = f"people 第{index}项（{username}）{_line_of(entry)}"
        if username in seen_users:
            errors.append(f"{where}：用户名重复")
            continue
        seen_users.add(username)
        errors += [message for _field, message in _person_problems(messages, entry, where)]
        if errors:
            continue
        contact, grants = _person(values)
        password = values.get("password")
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            if password in (None, ""):
                errors.append(f"{where}：新用户必须设置密码（password）")
                continue
            user = User(username=username, name=values["name"].strip(), active=True,
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

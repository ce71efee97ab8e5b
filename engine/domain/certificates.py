"""Certificates a village may and may not issue (DOMAIN.md §3.3.15, R51).

* ``NEGATIVE_LIST``: the 20 certificate types that 民政部等六部门 (民发〔2020〕20号, 2020-04)
  say a 村民委员会 must not issue [C, S30]. National and fixed; a province may add more
  (Hubei adds 缴费票据遗失 and 转学) through the ``extra_negative_list`` setting.
  The ``where`` column ("请到……办理") is guidance for the villager, compiled from general
  knowledge of which office handles each matter [G]; a county may reword it.
* ``DEFAULT_POSITIVE_LIST``: an *example* local list of certificates the village may issue,
  each with its legal basis and template [L]. 厅字〔2022〕28号 asks each locality to publish
  its own list; the catalogue setting ``positive_list`` (``processes/catalogue.d/b-services.yaml``)
  or a village setting of the same name replaces it.

Pure data and lookups: nothing here touches the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

RULE = "民政部等六部门2020年规定"
RULE_REF = "《关于改进和规范基层群众性自治组织出具证明工作的指导意见》（民发〔2020〕20号）"


@dataclass(frozen=True)
class Banned:
    """A certificate type the village must not issue, and where the villager can go instead."""

    key: str
    name: str
    where: str


@dataclass(frozen=True)
class Allowed:
    """A certificate type on the local positive list."""

    key: str
    name: str
    legal_basis: str
    template: str


NEGATIVE_LIST: tuple[Banned, ...] = (
    Banned("kinship", "亲属关系", "户籍所在地公安派出所查询户籍信息，或到公证机构办理亲属关系公证"),
    Banned("identity_info", "居民身份信息", "公安机关户籍窗口，凭居民身份证、户口簿"),
    Banned("hukou_change", "户口登记项目内容变更申请", "户籍所在地公安派出所，按户口登记规定提交材料"),
    Banned("dog_keeping", "居民养犬", "当地养犬登记管理部门"),
    Banned("no_criminal_record", "无犯罪记录", "公安机关申请开具无犯罪记录证明"),
    Banned("drug_rehab", "社区戒毒社区康复人员情况", "乡镇（街道）禁毒工作机构"),
    Banned("missing_person", "人员失踪", "公安机关报案，或向人民法院申请宣告失踪"),
    Banned("marital_status", "婚姻状况", "婚姻登记机关查询婚姻登记档案，或由本人书面承诺"),
    Banned("birth", "出生", "助产医疗机构（《出生医学证明》）"),
    Banned("alive", "健在", "社会保险经办机构等待遇发放部门，通过资格认证办理"),
    Banned("death", "死亡", "医疗卫生机构或公安机关（居民死亡医学证明）"),
    Banned("illness", "疾病状况", "医疗机构（诊断证明）"),
    Banned("disability", "残疾状况", "残疾人联合会（《残疾人证》）或医疗机构"),
    Banned("childbearing", "婚育状况", "卫生健康部门（生育登记），或由本人书面承诺"),
    Banned("employment", "居民就业状况", "人力资源社会保障部门（就业、失业登记）"),
    Banned("personal_file", "居民个人档案", "人事档案保管单位"),
    Banned("property", "居民财产", "不动产登记机构、车辆管理所、金融机构等财产登记或管理部门"),
    Banned("inheritance", "遗产继承权", "公证机构（继承权公证）或人民法院"),
    Banned("business_address", "市场主体住所", "市场监督管理部门（住所登记）"),
    Banned("lost_documents", "证件遗失", "证件签发机关挂失补办，或由本人书面声明"),
)
assert len(NEGATIVE_LIST) == 20  # the national list has exactly 20 types

DEFAULT_POSITIVE_LIST: tuple[Allowed, ...] = (
    Allowed(
        "collective_member", "集体经济组织成员身份证明", "《中华人民共和国农村集体经济组织法》",
        "兹证明{applicant_name}（身份证号{applicant_id_number}）为本村集体经济组织成员。特此证明。",
    ),
    Allowed(
        "land_contract", "土地承包经营情况证明", "《中华人民共和国农村土地承包法》",
        "兹证明{applicant_name}（身份证号{applicant_id_number}）家庭承包本村集体土地，情况如下：{content}。特此证明。",
    ),
    Allowed(
        "guardian", "指定监护人证明", "《中华人民共和国民法典》第三十一条",
        "经本村民委员会指定，{content}。特此证明。",
    ),
)


def _norm(value: str) -> str:
    value = value.strip().strip("“”‘’\"'")
    return value[:-2] if value.endswith("证明") and len(value) > 2 else value


def _as_banned(entry: object) -> Banned:
    if isinstance(entry, Banned):
        return entry
    if isinstance(entry, Mapping) and entry.get("key") and entry.get("name"):
        return Banned(str(entry["key"]), _norm(str(entry["name"])), str(entry.get("where") or "有关部门"))
    raise ValueError(f"negative-list entry needs key and name: {entry!r}")


def _as_allowed(entry: object) -> Allowed:
    if isinstance(entry, Allowed):
        return entry
    if isinstance(entry, Mapping) and entry.get("key") and entry.get("name"):
        return Allowed(str(entry["key"]), str(entry["name"]), str(entry.get("legal_basis") or ""),
                       str(entry.get("template") or ""))
    raise ValueError(f"positive-list entry needs key and name: {entry!r}")


def negative_list(extra: Iterable[object] | None = None) -> list[Banned]:
    """The national list plus any provincial additions (``extra_negative_list`` setting)."""
    return [*NEGATIVE_LIST, *(_as_banned(e) for e in (extra or []))]


def positive_list(configured: Iterable[object] | None = None) -> list[Allowed]:
    """The local positive list: the configured one if given, else the example default."""
    if configured is None:
        return list(DEFAULT_POSITIVE_LIST)
    return [_as_allowed(e) for e in configured]


def banned(value: str, extra: Iterable[object] | None = None) -> Banned | None:
    """The negative-list entry ``value`` names (by key or Chinese name, with or without “证明”)."""
    if not isinstance(value, str) or not value.strip():
        return None
    wanted = _norm(value)
    for entry in negative_list(extra):
        if value.strip() == entry.key or wanted == entry.name:
            return entry
    return None


def allowed(value: str, configured: Iterable[object] | None = None) -> Allowed | None:
    """The positive-list entry ``value`` names (by key or Chinese name), or None."""
    if not isinstance(value, str) or not value.strip():
        return None
    wanted = _norm(value)
    for entry in positive_list(configured):
        if value.strip() == entry.key or wanted == _norm(entry.name):
            return entry
    return None


def refusal(entry: Banned) -> str:
    """The Chinese reason shown to the villager when a banned type is requested."""
    return f"根据{RULE}，村级组织不得出具“{entry.name}”证明，请到{entry.where}办理（依据：{RULE_REF}）"

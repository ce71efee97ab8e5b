"""The import file and the catalogue checked by marshmallow schemas (issue 16): a wrong type anywhere,
nested ones included, is named by entry, field and line, never read as something else or a crash."""

from __future__ import annotations

import shutil

import pytest

from engine.catalogue.catalog import load_catalogue, processes_dir
from engine.domain.errors import DefinitionError, Invalid
from engine.services.importer import check_person

VILLAGE = ("villages:\n  - code: v-1\n    name: 新村\n    township: 新镇\n    adults: 100\n    households: 40\n"
           "    party_members: 10\n    representatives: 12\n    two_committees: 5\n")


def refused(app, text: str) -> str:
    with pytest.raises(Invalid) as err:
        app.extensions["cunwu"].import_directory(None, text)
    return err.value.message


@pytest.mark.parametrize("value,message", [
    ("'100'", "villages 第1项（v-1）（第2行）：18周岁以上村民人数（adults）必须是整数"),
    ("true", "villages 第1项（v-1）（第2行）：18周岁以上村民人数（adults）必须是整数"),
    ("100.5", "villages 第1项（v-1）（第2行）：18周岁以上村民人数（adults）必须是整数"),
    ("-1", "villages 第1项（v-1）（第2行）：18周岁以上村民人数（adults）不能为负数"),
    ("", "villages 第1项（v-1）（第2行）：18周岁以上村民人数（adults）必须是整数"),
])
def test_a_count_of_the_wrong_type_names_the_village_and_field(app, value, message):
    assert message in refused(app, VILLAGE.replace("adults: 100", f"adults: {value}"))


def test_village_fields_of_the_wrong_type(app):
    said = refused(app, VILLAGE.replace("name: 新村", "name: [新村]").replace("township: 新镇", "township: {a: 1}")
                   + "    county: 7\n    settings: [1]\n")
    assert said == ("导入失败：villages 第1项（v-1）（第2行）：缺少村名（name）；villages 第1项（v-1）（第2行）：缺少所属乡镇"
                    "（township）；villages 第1项（v-1）（第2行）：所属县（county）必须是县名；villages 第1项（v-1）（第2行）："
                    "settings 必须是键值对")
    # a code written as binary (YAML !!binary) is not text: never decoded into one
    assert "villages 第1项（第2行）：缺少村编码（code）" in refused(app, VILLAGE.replace("code: v-1", "code: !!binary di0x"))
    assert refused(app, "villages:\n  - 5\n") == "导入失败：villages 第1项：必须是键值对"


def test_unknown_keys_are_ignored(app):
    stats = app.extensions["cunwu"].import_directory(None, VILLAGE + "    mayor: 某人\n")
    assert stats["villages_created"] == 1


PERSON = "people:\n  - username: x\n    name: X\n    password: p\n    roles:\n"


@pytest.mark.parametrize("roles,message", [
    ("      - {village: demo-001, role: 5}\n", "people 第1项（x）（第2行） 的第1个角色（第6行）：须写成 {village: 村编码, role: 角色}"),
    ("      - supervisor\n", "people 第1项（x）（第2行） 的第1个角色：须写成 {village: 村编码, role: 角色}"),
    ("      - null\n", "people 第1项（x）（第2行） 的第1个角色：须写成 {village: 村编码, role: 角色}"),
    ("      - {village: demo-001}\n", "people 第1项（x）（第2行） 的第1个角色（第6行）：须写成 {village: 村编码, role: 角色}"),
    ("      - {village: demo-001, role: supervisor}\n      - {county: 某县, role: supervisor}\n",
     "people 第1项（x）（第2行） 的第2个角色（第7行）：村务监督委员会不是县级角色，不能写 county"),
    ("        role: supervisor\n", "people 第1项（x）（第2行）：角色（roles）必须是列表"),
])
def test_a_role_of_the_wrong_shape_names_the_person_the_role_and_its_line(app, roles, message):
    assert message in refused(app, PERSON + roles)


def test_person_fields_of_the_wrong_type(app):
    said = refused(app, "people:\n  - username: x\n    name: {a: 1}\n    phone: [1]\n    email: 5\n    password: [p]\n")
    where = "people 第1项（x）（第2行）："
    assert said == ("导入失败：" + where + "缺少姓名（name）；" + where + "手机号（phone）“[1]”不是11位大陆手机号码；" + where
                    + "电子邮箱（email）“5”格式不正确；" + where + "密码（password）必须是文字")
    assert refused(app, "people:\n  - {name: X}\n") == "导入失败：people 第1项（第2行）：缺少用户名（username）"


def test_check_person_keeps_the_valid_roles_beside_a_bad_one(app):
    engine = app.extensions["cunwu"]
    with engine.transaction() as session:
        problems, contact, grants = check_person(session, {
            "name": " 甲 ", "phone": "138 0013 8000", "email": None,
            "roles": [{"role": "admin"}, {"role": "supervisor", "village": "nowhere"}]})
    assert problems == [("roles", "第2个角色：没有编码为“nowhere”的村")]
    assert contact == {"phone": "13800138000", "email": None}
    assert grants == [("admin", None, None, None)]


# ---------------------------------------------------------------------------- the catalogue
@pytest.fixture
def catalogue(tmp_path):
    shutil.copytree(processes_dir(), tmp_path / "p")
    return tmp_path / "p"


def problems_of(directory, old: str, new: str) -> list[str]:
    path = directory / "catalogue.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_catalogue(directory)
    return exc.value.problems


@pytest.mark.parametrize("old,new,message", [
    ("notice_days: 7", "notice_days: 七天", "第1项（major-decision）: notice_days 必须是整数"),
    ("starters: [party_secretary]", "starters: party_secretary", "第1项（major-decision）: starters 必须是角色列表"),
    ("starters: [party_secretary]", "starters: [party_secretary, 5]", "第1项（major-decision）: 未知角色 5"),
    ("category: A", "category: [A]", "第1项（major-decision）: category 只能是 A、B 或 C"),
    ("category: A", "category: D", "第1项（major-decision）: category 只能是 A、B 或 C"),
    ("retention: permanent", "retention: [permanent]", "第1项（major-decision）: retention 只能是 permanent、30y、10y"),
    ("key: major-decision", "key: 5", "第1项: key 必须是文字"),
    ("name: 村级重大事项决策（四议两公开）", "name: ''", "第1项: 缺少字段 name"),
    ("legal_basis: 《", "legal_basis: 5\n    x: 《", "第1项（major-decision）: legal_basis 必须是文字"),
])
def test_a_catalogue_entry_of_the_wrong_type_names_the_item_and_field(catalogue, old, new, message):
    found = problems_of(catalogue, old, new)
    assert any(p.endswith(message) or message in p for p in found), found


def test_catalogue_items_must_be_a_list(catalogue):
    (catalogue / "catalogue.d" / "z.yaml").write_text("items: {key: x}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as exc:
        load_catalogue(catalogue)
    assert exc.value.problems == [f"{catalogue / 'catalogue.d' / 'z.yaml'}:1: 目录文件顶层须为 items 列表"]


def test_catalogue_keeps_an_items_own_keys_as_written():
    item = next(i for i in load_catalogue() if i.key == "major-decision")
    assert list(item.extra)[:2] == ["retention", "notice_photo"] and item.notice_days == 7
    assert item.starters == ["party_secretary"]

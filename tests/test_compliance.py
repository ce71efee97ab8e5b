"""The compliance checker: green on the bundled processes, red on each broken fixture."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from lxml import etree

from engine.catalogue import compliance, village_settings
from engine.catalogue.catalog import load_catalogue
from engine.domain import settings as item_settings
from web import create_app
from web.cli import init_db

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = ROOT / "processes"
BROKEN = Path(__file__).resolve().parent / "fixtures" / "broken"
CASES = yaml.safe_load((BROKEN / "cases.yaml").read_text(encoding="utf-8"))["cases"]


def _line(path: Path, element_id: str) -> int:
    found = etree.parse(str(path)).getroot().xpath("//*[@id=$id]", id=element_id)
    assert found, f"{element_id} not in {path.name}"
    return found[0].sourceline


@pytest.mark.parametrize("case", CASES, ids=[c["file"] for c in CASES])
def test_each_broken_fixture_is_reported_with_rule_and_line(case):
    path = BROKEN / case["file"]
    findings = compliance.check_definition(path.read_bytes(), case["file"], case["meta"])
    expected_rules = {e["rule"] for e in case["expect"]}
    for expect in case["expect"]:
        prefix = f"{case['file']}:{_line(path, expect['element'])}: {expect['rule']}: "
        assert any(f.startswith(prefix) for f in findings), f"expected {prefix!r} in {findings}"
    others = [f for f in findings if f.split(": ")[1] not in expected_rules | {"parse"}]
    assert not others, f"unexpected findings: {others}"
    for finding in findings:  # FILE:LINE: rule-id: 中文说明
        file, line, rule, message = finding.split(":", 3)
        assert file == case["file"] and line.isdigit() and rule.strip() in compliance.RULES
        assert any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_every_rule_has_a_fixture():
    covered = {e["rule"] for c in CASES for e in c["expect"]}
    assert covered == set(compliance.RULES) - {"parse"}


@pytest.mark.parametrize("item", load_catalogue(PROCESSES), ids=lambda i: i.key)
def test_bundled_definitions_are_compliant(item):
    path = PROCESSES / item.file
    assert compliance.check_definition(path.read_bytes(), item.file, {**item.meta(), "key": item.key}) == []


def test_cli_check_passes_on_the_bundled_processes(app):
    result = app.test_cli_runner().invoke(args=["processes", "check"])
    assert result.exit_code == 0, result.output
    assert "全部流程通过合规检查" in result.output


def test_cli_check_fails_on_a_deployed_broken_definition(tmp_path):
    processes = tmp_path / "processes"
    processes.mkdir()
    shutil.copy(BROKEN / "no-party-members.bpmn", processes / "major-decision.bpmn")
    (processes / "catalogue.yaml").write_text(
        "items:\n  - {key: major-decision, file: major-decision.bpmn, name: 村级重大事项决策（四议两公开）, category: A,\n"
        "     legal_basis: 组织法, starters: [party_secretary], notice_days: 7, description: 缺党员大会}\n",
        encoding="utf-8")
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{tmp_path / 'c.sqlite3'}",
                      "CUNWU_PROCESSES_DIR": str(processes)})
    with app.app_context():
        init_db()
    result = app.test_cli_runner().invoke(args=["processes", "check"])
    app.extensions["cunwu_db"].dispose()
    assert result.exit_code == 1
    line = _line(processes / "major-decision.bpmn", "implement")
    assert f"major-decision.bpmn:{line}: deliberation: " in result.output
    assert "党员大会" in result.output


def test_notice_floor_comes_from_the_catalogue_or_the_table():
    assert compliance.legal_notice_floor("homestead", {"legal_floor_notice_days": 5}) == 5
    assert compliance.legal_notice_floor("x", {"legal_notice_floor": 10}) == 10
    assert compliance.legal_notice_floor("subsistence-allowance", {}) == 7
    assert compliance.legal_notice_floor("unknown", {}) == compliance.DEFAULT_NOTICE_FLOOR


# ---------------------------------------------------------------------------- thresholds (engine/domain/settings.py, engine/catalogue/village_settings.py)

META = {"thresholds": {"tender_from_construction": 500000, "resolution_above": 20000}}


def _village(**settings):
    return SimpleNamespace(settings=settings)


def test_village_threshold_may_be_stricter_never_looser():
    # a legal bound (R42): anything up to the law is allowed, past it never applies
    assert village_settings.check_item_setting("construction-project.tender_from_construction", 4_000_000) == []
    assert village_settings.check_item_setting("construction-project.tender_from_construction", 4_000_001)
    key = "construction-project.tender_from_construction"
    assert item_settings.threshold(META, _village(**{key: 300000}), "construction-project",
                                   "tender_from_construction") == Decimal(300000)
    assert item_settings.threshold(META, _village(**{key: 9_000_000}), "construction-project",
                                   "tender_from_construction") == Decimal(500000)
    # local rules only: the catalogue value is the bound
    assert village_settings.check_item_setting("spending-approval.resolution_above", 10000) == []
    assert village_settings.check_item_setting("spending-approval.resolution_above", 20001)
    assert item_settings.threshold(META, _village(**{"spending-approval.resolution_above": 30000}),
                                   "spending-approval", "resolution_above") == Decimal(20000)
    # people: higher is stricter
    assert village_settings.check_item_setting("construction-project.acceptance_panel_min", 7) == []
    assert village_settings.check_item_setting("construction-project.acceptance_panel_min", 3)
    assert village_settings.check_item_setting("construction-project.acceptance_panel_min", 5.5)
    # not a setting of ours / not a number
    assert village_settings.check_item_setting("nobody.knows", 1) is None
    assert village_settings.check_item_setting("procurement.platform_above", "很多")
    assert village_settings.check_item_setting("assembly_authorisation", "") != []
    assert village_settings.check_item_setting("assembly_authorisation", "2025年第1次村民会议决定") == []


def test_catalogue_thresholds_are_within_the_law():
    for item in load_catalogue(PROCESSES):
        assert item_settings.legal_problems(item.key, item.extra.get("thresholds") or {}) == [], item.key
    assert item_settings.legal_problems("construction-project", {"tender_from_goods": 2_000_001})

"""Village settings in the import file: item settings may only be stricter than the catalogue."""

from __future__ import annotations

import pytest

from engine.rules import check_settings


@pytest.mark.parametrize("key,value,ok", [
    ("subsistence-allowance.appraisal_quorum", "2/3", True),
    ("subsistence-allowance.appraisal_quorum", "3/4", True),
    ("subsistence-allowance.appraisal_quorum", "1/2", False),
    ("subsistence-allowance.min_investigators", 2, True),
    ("subsistence-allowance.min_investigators", 1, False),
    ("subsistence-allowance.decision_days", 10, True),
    ("subsistence-allowance.decision_days", 11, False),
    ("temporary-assistance.once_per_year_same_cause", False, False),
    ("homestead.homestead_max_area_m2", 160, True),
    ("homestead.homestead_max_area_m2", "big", False),
    ("spending-approval.township_above", 30000, True),
    ("construction-project.tender_from_construction", 4_000_001, False),
    ("nonsense.key", 1, False),
])
def test_item_settings(key, value, ok):
    assert (check_settings({key: value}) == {}) is ok


def test_import_accepts_a_stricter_service_setting(app, tmp_path):
    doc = tmp_path / "s.yaml"
    doc.write_text("villages:\n  - {code: demo-001, name: 示范村, township: 示范镇, adults: 900, households: 320,"
                   " party_members: 30, representatives: 30, two_committees: 7,"
                   " settings: {subsistence-allowance.appraisal_quorum: '3/4'}}\n", encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import", str(doc)])
    assert result.exit_code == 0, result.output
    doc.write_text(doc.read_text(encoding="utf-8").replace("3/4", "1/2"), encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["import", str(doc)])
    assert result.exit_code == 1 and "appraisal_quorum" in result.output

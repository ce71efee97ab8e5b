"""Village settings in the import file: item settings may only be stricter than the catalogue."""

from __future__ import annotations

import pytest

from engine.catalogue.village_settings import check_settings


@pytest.mark.parametrize("key,value,ok", [
    ("subsistence-allowance.appraisal_quorum", "2/3", True),
    ("subsistence-allowance.appraisal_quorum", "3/4", True),
    ("subsistence-allowance.appraisal_quorum", "1/2", False),
    ("subsistence-allowance.min_investigators", 2, True),
    ("subsistence-allowance.min_investigators", 1, False),
    ("subsistence-allowance.decision_days", 10, True),
    ("subsistence-allowance.decision_days", 11, False),
    ("temporary-assistance.once_per_year_same_cause", False, False),
    # 民主评议 is not compulsory (民发〔2021〕57号): a village may hold one; the setting is a flag
    ("subsistence-allowance.democratic_appraisal", True, True),
    ("subsistence-allowance.democratic_appraisal", False, True),
    ("temporary-assistance.democratic_appraisal", "yes", False),
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


def test_village_settings_are_checked_against_the_apps_own_catalogue(tmp_path, clock, sqlite_template):
    """Issue 16: the catalogue the app deployed (its CUNWU_PROCESSES_DIR), not the environment's folder."""
    import shutil
    from pathlib import Path

    from web import create_app
    from web.cli import import_file

    procs = tmp_path / "processes"
    shutil.copytree(Path(__file__).resolve().parent.parent / "processes", procs)
    catalogue = procs / "catalogue.d" / "a-public.yaml"
    catalogue.write_text(catalogue.read_text(encoding="utf-8").replace(
        "selection_from: 100000", "selection_from: 50000", 1), encoding="utf-8")
    db = tmp_path / "db.sqlite3"
    shutil.copyfile(sqlite_template, db)
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "DATABASE_URL": f"sqlite:///{db}", "CUNWU_CLOCK": clock,
                      "CUNWU_PROCESSES_DIR": str(procs)})
    assert app.test_cli_runner().invoke(args=["init-db"]).exit_code == 0
    doc = tmp_path / "v.yaml"
    for value, ok in ((80000, False), (40000, True)):  # 80000 is stricter than 100000, looser than 50000
        doc.write_text("villages:\n  - {code: demo-001, name: 示范村, township: 示范镇, county: 示范县, adults: 900,"
                       " households: 320, party_members: 30, representatives: 30, two_committees: 7,"
                       f" settings: {{construction-project.selection_from: {value}}}}}\n", encoding="utf-8")
        with app.app_context():
            if ok:
                import_file(doc)
            else:
                from engine.domain.errors import Invalid

                with pytest.raises(Invalid) as info:
                    import_file(doc)
                assert "construction-project.selection_from" in info.value.message
    app.extensions["cunwu_db"].dispose()

"""D1–D5 at their edges: exactly half, exactly two thirds, one below, one above."""

from __future__ import annotations

from datetime import date

import pytest

from engine.catalogue import village_settings as item_settings
from engine.domain import rules

DAY = date(2026, 3, 1)


def meeting(body, n, attended, approve, **kw):
    return rules.evaluate_meeting(body, should_attend=n, attended=attended, approve=approve, on=DAY, **kw)


@pytest.mark.parametrize("attended,outcome", [(3, "lapsed"), (4, "passed")])
def test_two_committees_quorum_is_more_than_half(attended, outcome):
    # 7 members: 3.5 is half; 3 is below, 4 is more than half.
    assert meeting("two_committees", 7, attended, attended).outcome == outcome


@pytest.mark.parametrize("n,attended,outcome", [(8, 4, "lapsed"), (8, 5, "passed")])
def test_two_committees_exactly_half_attending_is_not_enough(n, attended, outcome):
    assert meeting("two_committees", n, attended, attended).outcome == outcome


@pytest.mark.parametrize("approve,outcome", [(3, "failed"), (4, "failed"), (5, "passed")])
def test_two_committees_approval_counts_all_members(approve, outcome):
    # 8 members, all present: 4 is exactly half (not more), 5 is more than half.
    assert meeting("two_committees", 8, 8, approve).outcome == outcome


@pytest.mark.parametrize("attended,outcome", [(14, "lapsed"), (15, "passed"), (16, "passed")])
def test_party_members_quorum_is_half_or_more(attended, outcome):
    # 30 voting members: exactly half (15) present is enough under the national rule.
    assert meeting("party_members", 30, attended, 16).outcome == outcome


@pytest.mark.parametrize("approve,outcome", [(15, "failed"), (16, "passed")])
def test_party_members_pass_needs_more_than_half_of_those_who_should_attend(approve, outcome):
    # 30 should attend, 20 present: 15 approvals is more than half of those present but
    # not more than half of the 30 who should attend.
    assert meeting("party_members", 30, 20, approve).outcome == outcome


@pytest.mark.parametrize("attended,outcome", [(19, "lapsed"), (20, "passed"), (21, "passed")])
def test_party_members_local_two_thirds_setting(attended, outcome):
    result = meeting("party_members", 30, attended, 16, settings={"party_members_quorum": "two_thirds"})
    assert result.outcome == outcome


@pytest.mark.parametrize("attended,outcome", [(19, "lapsed"), (20, "passed"), (21, "passed")])
def test_representatives_quorum_is_two_thirds_or_more(attended, outcome):
    # 30 members: exactly 2/3 is 20.
    assert meeting("representatives", 30, attended, attended).outcome == outcome


@pytest.mark.parametrize("approve,outcome", [(10, "failed"), (11, "passed")])
def test_representatives_pass_is_more_than_half_of_those_present(approve, outcome):
    # 20 present: 10 is exactly half (not enough), 11 is more than half.
    assert meeting("representatives", 30, 20, approve).outcome == outcome


def test_representatives_local_all_members_setting():
    assert meeting("representatives", 30, 20, 15, settings={"representatives_pass": "all_members"}).outcome == "failed"
    assert meeting("representatives", 30, 20, 16, settings={"representatives_pass": "all_members"}).outcome == "passed"


@pytest.mark.parametrize("attended,households_present,outcome", [
    (450, 0, "lapsed"),      # exactly half of 900 adults: not more than half
    (451, 0, "passed"),      # one above half
    (450, 213, "lapsed"),    # 213 of 320 households is one below two thirds (213.33)
    (450, 214, "passed"),    # 214 of 320 is at least two thirds
])
def test_villager_assembly_quorum(attended, households_present, outcome):
    r = meeting("villager_assembly", 900, attended, attended, households=320, attended_households=households_present)
    assert r.outcome == outcome


def test_villager_assembly_exact_two_thirds_of_households():
    # 300 households: exactly 200 is two thirds.
    assert meeting("villager_assembly", 900, 100, 100, households=300, attended_households=200).outcome == "passed"
    assert meeting("villager_assembly", 900, 100, 100, households=300, attended_households=199).outcome == "lapsed"


@pytest.mark.parametrize("approve,outcome", [(250, "failed"), (251, "passed")])
def test_villager_assembly_pass_is_more_than_half_present(approve, outcome):
    assert meeting("villager_assembly", 900, 500, approve, households=320).outcome == outcome


def test_tally_errors_name_the_fields():
    errors = rules.tally_errors("representatives", should_attend=30, attended=31, approve=20, oppose=10, abstain=2)
    assert "attended" in errors and "approve" in errors
    assert rules.tally_errors("representatives", should_attend=30, attended=30, approve=20, oppose=10,
                              abstain=0) == {}


def test_rule_set_changes_on_2026_01_01():
    assert rules.rule_set_on(date(2025, 12, 31)).version == "organic-law-2018"
    assert rules.rule_set_on(date(2026, 1, 1)).version == "organic-law-2025"
    assert rules.rule_set_on(date(2026, 1, 1)).party_study_required is True


def test_settings_cannot_be_looser_than_the_law():
    assert item_settings.check_settings({"party_members_quorum": "two_thirds"}) == {}
    assert "party_members_quorum" in item_settings.check_settings({"party_members_quorum": "third"})
    assert "unknown" in item_settings.check_settings({"unknown": 1})


def test_integer_comparison_never_rounds():
    # 2/3 of 31 is 20.67: 20 is below, 21 is enough.
    assert not rules.at_least_two_thirds(20, 31)
    assert rules.at_least_two_thirds(21, 31)
    assert rules.more_than_half(16, 31) and not rules.more_than_half(15, 31)

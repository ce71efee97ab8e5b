"""《中国共产党发展党员工作细则》第二十条: the 支部大会 that admits a probationary member is valid only
when the voting members present are MORE than half of those who should attend (15 of 30 is not
enough, 16 is); 第二十一条: approvals above half of those who should attend; 第三十三条: the same for
转正. The general 党员大会 floor (支部工作条例第十一条: at least half present) stays for other matters."""

from __future__ import annotations

from datetime import date

from engine.domain import rules
from tests.conftest import ApiClient  # noqa: F401  (fixtures module)


def _outcome(attended: int, approve: int, rule: str | None) -> str:
    return rules.evaluate_meeting("party_members", should_attend=30, attended=attended, approve=approve,
                                  on=date(2026, 3, 5), vote_rule=rule).outcome


def test_admission_meeting_needs_more_than_half_present():
    assert _outcome(15, 15, "party_admission") == "lapsed"
    assert _outcome(16, 16, "party_admission") == "passed"
    # the general 党员大会 floor: at least half present
    assert _outcome(15, 16, None) == "passed"


def test_admission_needs_approvals_above_half_of_those_who_should_attend():
    assert _outcome(20, 15, "party_admission") == "failed"
    assert _outcome(20, 16, "party_admission") == "passed"


def test_a_stricter_village_setting_still_applies():
    result = rules.evaluate_meeting("party_members", should_attend=30, attended=19, approve=19,
                                    on=date(2026, 3, 5), vote_rule="party_admission",
                                    settings={"party_members_quorum": "two_thirds"})
    assert result.outcome == "lapsed"


def test_the_party_admission_item_uses_the_rule_for_both_branch_meetings(app):
    engine = app.extensions["cunwu"]
    deployed = engine.deployed("party-admission")
    props = {s.bpmn_id: (s.extensions or {}).get("properties", {}) for s in deployed.spec.task_specs.values()
             if getattr(s, "bpmn_id", None)}
    assert props["branch_meeting"]["vote_rule"] == "party_admission"
    assert props["full_member"]["vote_rule"] == "party_admission"


def test_written_approvals_count_towards_passing_not_the_quorum():
    """细则第二十一条: written opinions of absent voting members are counted in the vote."""
    def outcome(attended, approve, written):
        return rules.evaluate_meeting("party_members", should_attend=30, attended=attended, approve=approve,
                                      on=date(2026, 3, 5), vote_rule="party_admission",
                                      written_approve=written).outcome
    assert outcome(16, 14, 1) == "failed"
    assert outcome(16, 14, 2) == "passed"
    assert outcome(15, 15, 10) == "lapsed"


def test_written_votes_only_at_the_admission_meeting():
    import pytest

    with pytest.raises(ValueError):
        rules.evaluate_meeting("party_members", should_attend=30, attended=20, approve=10,
                               on=date(2026, 3, 5), written_approve=2)

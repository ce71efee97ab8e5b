"""What users read is written as the law writes it (issue 10, item 8)."""

from __future__ import annotations

from datetime import date

from engine.catalogue import village_settings as item_settings
from engine.catalogue.village_settings import check_item_setting
from engine.domain import rules
from engine.forms.services import ratio_zh


def test_ratios_in_chinese_numerals():
    assert ratio_zh((2, 3)) == "三分之二以上"
    assert ratio_zh((1, 2)) == "二分之一以上"
    assert ratio_zh((1, 1)) == "全体"


def test_setting_messages_name_the_setting_in_chinese():
    message = item_settings.check_settings({"party_members_quorum": "third"})["party_members_quorum"][0]
    assert message.startswith("党员大会到会要求只能是应到党员半数以上到会")
    assert "三分之二以上" in message
    problem = check_item_setting("assembly_authorisation", "")[0]
    assert problem.count("文号或会议记录") == 1 and problem.startswith("村民会议授权村民代表会议决定第二十四条事项：")


def test_villager_assembly_quorum_names_the_adults():
    result = rules.evaluate_meeting("villager_assembly", should_attend=900, attended=450, approve=400,
                                    on=date(2026, 3, 8), households=320, attended_households=0)
    assert result.outcome == "lapsed"
    assert "超过本村十八周岁以上村民（共900人）的半数" in result.reason

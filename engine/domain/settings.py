"""Per-village settings of the power-list items: money thresholds and the assembly's authorisation.

A village record may carry ``settings`` (see the import file). Besides the meeting variants of
``engine.domain.rules``, every money threshold of an item can be set per village under the key
``"<item key>.<threshold name>"``, e.g. ``"spending-approval.township_above": 30000``. The
default is the item's catalogue entry (``thresholds:`` in ``processes/catalogue.d/*.yaml``).

A village may be stricter, never looser than the law:

* where a statute fixes the number (R42, the national must-tender floors of 发改委第16号令), a
  village threshold may not go past it;
* where the number is local practice only (R35 spending tiers, R40 trading, R43 acceptance),
  the catalogue value is the county's filed rule (DOMAIN §1.3: "四重" thresholds are set by the
  township and filed with the county), and a village may only make it stricter.

Counting words (D1): a threshold named ``*_from`` applies at and above the amount (以上), one
named ``*_above`` only above it (超过); ``*_min`` is a least number of people.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from .money import fmt_amount

__all__ = ["Threshold", "THRESHOLDS", "TEXT_SETTINGS", "threshold", "legal_problems", "authorised_representatives",
           "as_number", "threshold_bound", "looser_message", "fmt_amount"]


@dataclass(frozen=True)
class Threshold:
    item: str
    name: str
    label: str
    unit: str = "元"
    stricter: str = "lower"  # "lower": a smaller number means more oversight; "higher": a larger one
    legal: Decimal | None = None  # the statutory bound, where the law gives one
    basis: str = ""

    @property
    def key(self) -> str:
        return f"{self.item}.{self.name}"

    def looser(self, value: Decimal, bound: Decimal) -> bool:
        return value > bound if self.stricter == "lower" else value < bound


_R42 = "《必须招标的工程项目规定》（国家发展改革委令第16号）"

THRESHOLDS: dict[str, Threshold] = {t.key: t for t in (
    # A2 村级工程项目建设与招投标
    Threshold("construction-project", "resolution_from", "须经村民（代表）会议决议的工程预算（以上）"),
    Threshold("construction-project", "selection_from", "须比选发包的工程预算（以上）"),
    Threshold("construction-project", "tender_from_construction", "施工须公开招标的预算（以上）",
              legal=Decimal(4_000_000), basis=f"{_R42}：施工单项合同估算价400万元以上必须招标"),
    Threshold("construction-project", "tender_from_goods", "重要设备、材料须公开招标的预算（以上）",
              legal=Decimal(2_000_000), basis=f"{_R42}：重要设备、材料采购200万元以上必须招标"),
    Threshold("construction-project", "tender_from_services", "勘察设计监理等服务须公开招标的预算（以上）",
              legal=Decimal(1_000_000), basis=f"{_R42}：勘察、设计、监理等服务100万元以上必须招标"),
    Threshold("construction-project", "acceptance_panel_from", "须组成验收小组的工程金额（以上）"),
    Threshold("construction-project", "acceptance_panel_min", "验收小组最少人数", unit="人", stricter="higher"),
    Threshold("construction-project", "audit_from", "须经审计的工程金额（以上）"),
    # A3 村级物资与服务采购
    Threshold("procurement", "joint_meeting_above", "须经村务联席会议审议的采购金额（超过）"),
    Threshold("procurement", "resolution_above", "须经村民（代表）会议决议的采购金额（超过）"),
    Threshold("procurement", "platform_above", "须进入乡镇公共资源交易平台的采购金额（超过）"),
    Threshold("procurement", "quotes_above", "须三家比价的采购金额（超过）"),
    Threshold("procurement", "acceptance_panel_min", "验收最少人数", unit="人", stricter="higher"),
    Threshold("procurement", "cash_limit", "可用现金支付的最高金额"),
    # A4 集体资产资源处置与发包租赁
    Threshold("asset-disposal", "trading_above", "须进入产权交易平台公开交易的标的金额（超过）"),
    # A5 村级财务收支审批
    Threshold("spending-approval", "joint_meeting_above", "须经村务联席会议审议的支出金额（超过）"),
    Threshold("spending-approval", "resolution_above", "须经村民（代表）会议决议的支出金额（超过）"),
    Threshold("spending-approval", "township_above", "须经乡镇审核签字的支出金额（超过）"),
    Threshold("spending-approval", "cash_limit", "可用现金支付的最高金额"),
)}

#: Settings that are a fact on file rather than a number.
TEXT_SETTINGS: dict[str, str] = {
    # R2: a 村民代表会议 may decide an Art. 24 matter only under the 村民会议's authorisation.
    "assembly_authorisation": "村民会议授权村民代表会议决定第二十四条事项",
}


def as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or number < 0:
        return None
    return number


def threshold_bound(t: Threshold, default: Decimal | None) -> tuple[Decimal | None, str]:
    if t.legal is not None:
        return t.legal, t.basis
    return default, "本县（乡镇）备案的标准"


def looser_message(t: Threshold, bound: Decimal, basis: str) -> str:
    word = "高于" if t.stricter == "lower" else "低于"
    return f"{t.label}不得{word}{fmt_amount(bound)}{t.unit}（{basis}），只能从严设置"


def legal_problems(item: str, thresholds: dict) -> list[str]:
    """Catalogue thresholds of ``item`` that are looser than the law (for the compliance check)."""
    problems = []
    for name, raw in (thresholds or {}).items():
        t = THRESHOLDS.get(f"{item}.{name}")
        number = as_number(raw)
        if number is None:
            problems.append(f"门槛 {name} 须为不小于0的数字")
            continue
        if t is not None and t.legal is not None and t.looser(number, t.legal):
            problems.append(looser_message(t, t.legal, t.basis))
    return problems


def threshold(meta: dict, village: Any, item: str, name: str) -> Decimal:
    """The threshold in force for ``village``: its own setting when valid, else the catalogue's.

    A village value looser than the bound is never used (import refuses it; this guards
    records written before a catalogue change)."""
    raw_default = (meta.get("thresholds") or {}).get(name)
    default = as_number(raw_default)
    if default is None:
        raise KeyError(f"catalogue entry {item!r} has no threshold {name!r}")
    t = THRESHOLDS.get(f"{item}.{name}")
    if t is not None and t.legal is not None and t.looser(default, t.legal):
        default = t.legal  # a catalogue value past the law never applies
    raw = ((getattr(village, "settings", None) or {}) if village is not None else {}).get(f"{item}.{name}")
    if raw is None:
        return default
    value = as_number(raw)
    if value is None:
        return default
    if t is not None:
        bound, _ = threshold_bound(t, default)
        if bound is not None and t.looser(value, bound):
            return default
    elif value > default:  # unknown direction: amounts, lower is stricter
        return default
    return value


def authorised_representatives(village: Any) -> bool:
    """R2: is the 村民会议's authorisation of the 村民代表会议 on file for this village?"""
    value = ((getattr(village, "settings", None) or {}) if village is not None else {}).get("assembly_authorisation")
    return isinstance(value, str) and bool(value.strip())

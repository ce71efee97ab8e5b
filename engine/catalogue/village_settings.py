"""Village settings checked against the catalogue in use (the import file and the admin pages).

The thresholds and their legal bounds are in ``engine/domain/settings.py``; this module checks a
village's ``settings`` against them, against the meeting rules of ``engine.domain.rules``, against
the ``settings:`` entries of the deployed catalogue items and against the books' own settings.
"""

from __future__ import annotations

from contextvars import ContextVar
from decimal import Decimal
from fractions import Fraction
from typing import Any

from ..domain import rules
from ..domain.errors import DefinitionError
from ..domain.settings import TEXT_SETTINGS, THRESHOLDS, Threshold, as_number, looser_message, threshold_bound

__all__ = ["DEPLOYED", "check_item_setting", "check_settings"]


#: The catalogue in use while a village's settings are checked: ``{key: meta}`` of the deployed
#: definitions (the app's own catalogue, from its database). Unset, the checks read the catalogue
#: folder of the environment (``cunwu processes check`` before anything is deployed).
DEPLOYED: ContextVar[dict[str, dict] | None] = ContextVar("cunwu_deployed_catalogue", default=None)


def _catalogue() -> dict[str, dict]:
    deployed = DEPLOYED.get()
    if deployed is not None:
        return deployed
    try:
        from .catalog import load_catalogue

        return {i.key: {"name": i.name, **i.extra} for i in load_catalogue()}
    except (DefinitionError, OSError):  # a broken catalogue is reported by `cunwu processes check`
        return {}


def _catalogue_default(t: Threshold) -> Decimal | None:
    """The item's catalogue value (the filed local rule), or None when it cannot be read."""
    item = _catalogue().get(t.item)
    return as_number((item.get("thresholds") or {}).get(t.name)) if item else None


def check_item_setting(key: str, value: Any) -> list[str] | None:
    """Chinese problems with one village setting; ``None`` when ``key`` is not an item setting."""
    if key == "ledger.receivable_grace_days":  # the receivable reminders (engine/records/receivables.py)
        from ..records.receivables import check_setting as grace

        return grace(value)
    if key.startswith("ledger."):  # the village's books (engine/records/ledger_chart.py)
        from ..records.ledger_chart import check_setting

        return check_setting(key, value)
    if key in TEXT_SETTINGS:
        if not isinstance(value, str) or not value.strip() or len(value) > 500:
            return [f"{TEXT_SETTINGS[key]}：须填写授权决定的文号或会议记录（500字以内）"]
        return []
    t = THRESHOLDS.get(key)
    if t is None:
        return _check_catalogue_setting(key, value)
    number = as_number(value)
    if number is None:
        return [f"{t.label}须为不小于0的数字（单位：{t.unit}）"]
    if t.unit == "人" and number != number.to_integral_value():
        return [f"{t.label}须为整数"]
    bound, basis = threshold_bound(t, _catalogue_default(t))
    if bound is not None and t.looser(number, bound):
        return [looser_message(t, bound, basis)]
    return []


def _fraction(value: Any) -> Fraction | None:
    if isinstance(value, str) and "/" in value:
        try:
            p, q = (int(x) for x in value.split("/", 1))
            return Fraction(p, q) if q > 0 else None
        except ValueError:
            return None
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(x, int) for x in value) and value[1]:
        return Fraction(value[0], value[1])
    return None


def _direction(name: str) -> str | None:
    """Which way is stricter for a catalogue setting, read from its name: more people or a larger
    ratio is stricter for ``min_*``/``*_quorum``/``*_pass``; a shorter time limit or a smaller cap
    for ``*_days``/``*max*``/``*_limit``. ``None``: no order (a list, a flag, a text)."""
    if name.startswith("min_") or name.endswith(("_quorum", "_pass")):
        return "higher"
    if name.endswith(("_days", "_limit")) or "max" in name:
        return "lower"
    return None


def _check_catalogue_setting(key: str, value: Any) -> list[str] | None:
    """A village override of an item's catalogue ``settings:`` entry (``"<item>.<name>"``): the
    same kind of value as the default, and never looser than it."""
    if "." not in key:
        return None
    item_key, name = key.split(".", 1)
    item = _catalogue().get(item_key)
    if item is None or name not in (item.get("settings") or {}):
        return None
    default = item["settings"][name]
    label = f"{item.get('name', item_key)}的设置“{name}”"
    if default is None:  # not set in the catalogue: any non-negative number
        return [] if as_number(value) is not None else [f"{label}须为不小于0的数字"]
    if isinstance(default, bool):
        if not isinstance(value, bool):
            return [f"{label}须为 true 或 false"]
        return [] if value or not default else [f"{label}不得关闭（本县规定须执行）"]
    base = _fraction(default)
    if base is not None:
        got = _fraction(value)
        if got is None or not 0 < got <= 1:
            return [f"{label}须写成“分子/分母”（如 2/3）"]
        return [] if got >= base else [f"{label}不得低于{default}，只能从严设置"]
    if isinstance(default, int | float):
        number = as_number(value)
        if number is None:
            return [f"{label}须为不小于0的数字"]
        direction = _direction(name)
        if direction == "higher" and number < Decimal(str(default)):
            return [f"{label}不得低于{default}，只能从严设置"]
        if direction == "lower" and number > Decimal(str(default)):
            return [f"{label}不得高于{default}，只能从严设置"]
        return []
    if isinstance(default, list):
        return [] if isinstance(value, list) else [f"{label}须为列表"]
    return [] if isinstance(value, str) else [f"{label}须为文字"]


def check_settings(settings: dict | None) -> dict[str, list[str]]:
    """Errors (Chinese) for village settings that are unknown or looser than the law: the meeting
    rules of ``engine.domain.rules`` and the item settings of this module (thresholds, texts, the books)."""
    errors: dict[str, list[str]] = {}
    for key, value in (settings or {}).items():
        if key not in rules.ALLOWED_SETTINGS:
            problems = check_item_setting(key, value)
            if problems is None:
                errors[key] = [f"未知的设置项“{key}”"]
            elif problems:
                errors[key] = problems
        elif value not in rules.ALLOWED_SETTINGS[key]:
            allowed = "或".join(rules.SETTING_VALUE_NAMES[v] for v in rules.ALLOWED_SETTINGS[key])
            errors[key] = [f"{rules.SETTING_LABELS[key]}只能是{allowed}，不得低于法定标准"]
    return errors

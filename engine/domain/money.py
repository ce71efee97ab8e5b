"""Money as people write it (CONTRACT "What people see: … amounts"): one parser for every money
field of every item, in the API and the pages alike, and the two ways of writing an amount back
(figures with thousands separators, and 大写 as on a voucher).

Accepted: a number, or a string of digits with optional thousands commas and up to two decimals,
then optionally ``元``, ``万`` or ``万元``: ``"25万"`` is 250000, ``"2.5万元"`` 25000, ``"250,000"``
250000. Anything else (``"约25万"``, ``"25万万"``, a negative, three decimals) is refused, never read
as a different number.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_PATTERN = re.compile(r"(?P<num>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<frac>\d{1,2}))?(?P<unit>元|万元|万)?")
CENT = Decimal("0.01")


class AmountError(ValueError):
    """Not an amount as people write it; the message says what is accepted."""


def parse_amount(value: object) -> Decimal:
    """The exact amount in 元, two places; AmountError for anything that is not an amount."""
    if isinstance(value, bool) or value is None:
        raise AmountError("不是金额")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, float):
        amount = Decimal(repr(value))
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip().replace("，", ",").replace("．", ".")
        text = text.translate(str.maketrans("０１２３４５６７８９", "0123456789"))
        match = _PATTERN.fullmatch(text)
        if not match:
            raise AmountError("写法不对")
        amount = Decimal(match["num"].replace(",", "") + ("." + match["frac"] if match["frac"] else ""))
        if match["unit"] in ("万", "万元"):
            amount *= 10000
    else:
        raise AmountError("不是金额")
    try:
        if not amount.is_finite() or amount < 0:
            raise AmountError("不能为负数")
        if amount != amount.quantize(CENT):
            raise AmountError("最多两位小数（分）")
    except InvalidOperation as exc:  # pragma: no cover - guarded by is_finite
        raise AmountError("不是金额") from exc
    return amount.quantize(CENT)


def figures(amount: Decimal | str | int) -> str:
    """``250,000.00``"""
    return f"{Decimal(str(amount)):,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL = ["", "拾", "佰", "仟"]
_BIG = ["", "万", "亿", "万亿"]


def _group(value: int) -> str:
    """One four-digit group (1..9999) in 大写, zeros inside said once."""
    out, zero = "", False
    for pos in range(3, -1, -1):
        digit = value // 10 ** pos % 10
        if digit == 0:
            zero = zero or bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[digit] + _SMALL[pos]
    return out


def capital(amount: Decimal | str | int) -> str:
    """The amount in 大写 as on a voucher: ``贰拾伍万元整``, ``壹仟零伍元伍角``, ``零元整``."""
    value = Decimal(str(amount)).quantize(CENT)
    if value < 0:
        raise ValueError("negative amount")
    yuan = int(value)
    cents = int((value - yuan) * 100)
    jiao, fen = divmod(cents, 10)
    groups: list[int] = []
    rest = yuan
    while rest:
        rest, group = divmod(rest, 10000)
        groups.append(group)
    text = ""
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            continue
        if text and (group < 1000 or groups[index + 1] == 0):
            text += "零"
        text += _group(group) + _BIG[index]
    if yuan == 0 and cents:
        head = ""
    else:
        head = (text or "零") + "元"
    if not cents:
        return head + "整"
    tail = ""
    if jiao:
        tail += _DIGITS[jiao] + "角"
    elif head:
        tail += "零"
    if fen:
        tail += _DIGITS[fen] + "分"
    return head + tail


def spoken(amount: Decimal | str | int) -> str:
    """``贰拾伍万元整（250,000.00 元）``: what the pages echo before a cadre confirms an amount."""
    return f"{capital(amount)}（{figures(amount)} 元）"


def fmt_amount(value: Decimal | int | float | str) -> str:
    """A number the way people write it: ``50000`` → ``50,000``; cents only when there are any."""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return f"{number:,.2f}"


def stored_amount(value: object) -> Decimal | None:
    """An amount read back from stored task data (already checked when it was written): ``None``
    for nothing or for something that is not a number, never an exception."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return None
    return number if number.is_finite() else None

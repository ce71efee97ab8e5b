"""One injectable clock for everything the engine does with time.

SpiffWorkflow's timer events read ``datetime.now(timezone.utc)`` from their own module; we
replace that module-level name with a subclass whose ``now()`` asks the clock of the
current context, so notice periods are computed and fired by the engine's clock
(``CUNWU_CLOCK``), never by the wall clock behind its back.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import SpiffWorkflow.bpmn.specs.event_definitions.timer as _spiff_timer

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("cunwu_clock", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # noqa: D401 - mirrors datetime.now
        clock = _current.get()
        if clock is None:
            return datetime.now(tz)
        value = aware(clock())
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime


#: Villages keep Beijing time; messages people read show it (storage and the API stay in UTC).
LOCAL_TZ = timezone(timedelta(hours=8), "北京时间")


def iso(value: datetime | None) -> str | None:
    """A moment as the engine's data and answers keep it: UTC, ISO 8601 (None stays None)."""
    return value.astimezone(UTC).isoformat() if value else None


def local_text(value: datetime) -> str:
    """``2026-03-09 16:00`` in Beijing time, for messages people read."""
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("CUNWU_CLOCK must return a timezone-aware datetime")
    return value


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Make SpiffWorkflow's timers follow ``clock`` inside the block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)


def add_months(d: date, months: int) -> date:
    """The same day ``months`` later (the last day of a shorter month)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    for dd in range(d.day, 27, -1):
        try:
            return date(year, month, dd)
        except ValueError:
            continue
    return date(year, month, min(d.day, 28))


def add_years(d: date, years: int) -> date:
    return add_months(d, 12 * years)

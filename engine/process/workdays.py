"""Chinese working days (工作日) for statutory deadlines.

The 纪检监察机关处理检举控告工作规则 counts in working days (DOMAIN.md R56: routing within 5
working days; R57: acceptance notice within 15 working days, feedback within 15 working days
of closing). A working day follows the State Council's holiday schedule (国务院办公厅关于
部分节假日安排的通知): statutory holidays do not count, 调休 working weekends do.

Sources, in order:

1. a schedule an admin loaded for the year (``cunwu holidays load FILE.yaml``, table
   ``holiday_day``): the schedule is published each November, often before the library knows it;
2. the ``chinesecalendar`` package (maintained, 2004 to its last release's year);
3. neither: Monday to Friday count, and the answer says so (``estimated``), never silently.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from ..domain.clock import LOCAL_TZ

try:  # pragma: no cover - the dependency is declared in setup.cfg
    import chinese_calendar as _cc
except ImportError:  # pragma: no cover
    _cc = None


def library_years() -> range:
    """The years the installed ``chinesecalendar`` has a schedule for."""
    if _cc is None:
        return range(0)
    years = {d.year for d in _cc.holidays} | {d.year for d in _cc.workdays}
    return range(min(years), max(years) + 1)


@dataclass
class Calendar:
    """Working days by the loaded schedules, then the library, then weekdays (``estimated``)."""

    #: ISO date -> workday?, for the loaded years.
    loaded: dict[date, bool] = field(default_factory=dict)
    loaded_years: set[int] = field(default_factory=set)
    #: Years counted without any schedule while answering (for the 'estimated' flag).
    unknown_years: set[int] = field(default_factory=set)

    @classmethod
    def from_rows(cls, rows: Iterable) -> Calendar:
        cal = cls()
        for row in rows:
            day = date.fromisoformat(row.day)
            cal.loaded[day] = bool(row.workday)
            cal.loaded_years.add(row.year)
        return cal

    @classmethod
    def load(cls, session) -> Calendar:
        from sqlalchemy import select

        from ..store.models import HolidayDay

        return cls.from_rows(session.scalars(select(HolidayDay)))

    def knows(self, year: int) -> bool:
        return year in self.loaded_years or year in library_years()

    def is_workday(self, day: date) -> bool:
        if day.year in self.loaded_years:
            if day in self.loaded:
                return self.loaded[day]
            return day.weekday() < 5
        if day.year in library_years():
            return bool(_cc.is_workday(day))
        self.unknown_years.add(day.year)
        return day.weekday() < 5

    def add(self, start: date, days: int) -> tuple[date, bool]:
        """The ``days``-th working day after ``start`` (``start`` itself does not count), and
        whether a year without a schedule was counted as Monday to Friday."""
        before = set(self.unknown_years)
        self.unknown_years = set()
        day, left = start, days
        while left > 0:
            day += timedelta(days=1)
            if self.is_workday(day):
                left -= 1
        estimated = bool(self.unknown_years)
        self.unknown_years |= before
        return day, estimated

    def due(self, received: datetime, days: int) -> tuple[datetime, bool]:
        """The end (Beijing time) of the ``days``-th working day after the day of ``received``."""
        day, estimated = self.add(received.astimezone(LOCAL_TZ).date(), days)
        return end_of_day(day), estimated


def end_of_day(day: date) -> datetime:
    """23:59:59 Beijing time of ``day``, in UTC."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=LOCAL_TZ).astimezone(UTC)


def estimate_note(year: int | None = None) -> str:
    which = f"{year}年" if year else "该年度"
    return f"{which}节假日安排尚未载入，期限暂按周一至周五计算，载入国务院节假日安排后以其为准"


# -- loading a schedule ---------------------------------------------------------------------
def parse_schedule(raw: object) -> tuple[int, dict[date, tuple[bool, str]]]:
    """A year's schedule from YAML data::

        year: 2027
        holidays:                      # 放假（含周末）
          - {from: 2027-01-01, to: 2027-01-03, name: 元旦}
        workdays:                      # 调休上班的周末
          - {date: 2027-02-07, name: 春节调休}

    Raises ValueError with a Chinese sentence naming the bad entry."""
    if not isinstance(raw, dict):
        raise ValueError("节假日安排文件须包含 year、holidays、workdays")
    year = raw.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
        raise ValueError("year 须为2000到2100之间的年份")
    days: dict[date, tuple[bool, str]] = {}

    def as_date(value: object, where: str) -> date:
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                raise ValueError(f"{where}：日期格式不正确（应如 {year}-01-01）") from None
        if not isinstance(value, date):
            raise ValueError(f"{where}：缺少日期")
        if value.year != year:
            raise ValueError(f"{where}：{value.isoformat()} 不在{year}年")
        return value

    for i, item in enumerate(raw.get("holidays") or [], start=1):
        where = f"holidays 第{i}项"
        if not isinstance(item, dict):
            raise ValueError(f"{where}：须为 {{from, to, name}}")
        first = as_date(item.get("from") or item.get("date"), where)
        last = as_date(item.get("to") or item.get("from") or item.get("date"), where)
        if last < first:
            raise ValueError(f"{where}：结束日期早于开始日期")
        name = str(item.get("name") or "法定节假日")[:100]
        day = first
        while day <= last:
            days[day] = (False, name)
            day += timedelta(days=1)
    for i, item in enumerate(raw.get("workdays") or [], start=1):
        where = f"workdays 第{i}项"
        value = item.get("date") if isinstance(item, dict) else item
        day = as_date(value, where)
        if day in days:
            raise ValueError(f"{where}：{day.isoformat()} 同时列为放假和上班")
        name = str(item.get("name") or "调休上班") if isinstance(item, dict) else "调休上班"
        days[day] = (True, name[:100])
    if not any(not w for w, _ in days.values()):
        raise ValueError("holidays 不能为空：请按国务院办公厅通知列出放假日期")
    return year, days

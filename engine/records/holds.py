"""Holding and releasing a case (D9): who placed a hold, at which level, and why.

A hold is placed by a person (``Engine.hold_case``) or by a decision of a form that declares
``holds_on`` (a review's ``object``, an objection reply's ``escalate``); a form that declares
``releases_hold`` (the township 纪委's ``inspection``) lifts it."""

from __future__ import annotations

from ..store.models import Case


def place(case: Case, *, by: str, level: int, reason: str) -> None:
    case.status = "on_hold"
    case.hold_reason = reason
    case.hold_by = by
    case.hold_level = level


def lift(case: Case) -> None:
    case.status = "running"
    case.hold_reason = case.hold_by = case.hold_level = None

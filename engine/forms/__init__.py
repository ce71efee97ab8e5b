"""Task forms: one mechanism (``engine/forms/base.py``) and one module per item family.

``FORMS`` maps a form key (the ``form`` property of a BPMN user task) to its schema; each family
module registers its forms when imported. They are imported here, in this order, so ``FORMS`` is
complete (and in the order ``docs/forms.md`` lists them) wherever ``engine.forms`` is used:

- ``decisions``: 四议两公开 (the contract's forms);
- ``projects``, ``office``, ``party``, ``members``: the public-power items A2–A10 and the annual
  appraisal, on the helpers of ``shared``;
- ``assets`` (the contracts register), ``leads`` (问题线索), ``ledger`` (财务公开);
- ``services``, ``services_welfare``: the 便民服务 items (category B);
- ``yishi``: 一事一议.
"""

from __future__ import annotations

from .base import (
    EARLIEST_DAY,
    FORMS,
    OLDEST_AGE,
    CheckContext,
    FormSchema,
    Money,
    StrictInteger,
    check_dates,
    choice,
    completed_rows,
    count,
    day,
    describe,
    field_messages,
    first_message,
    first_round,
    flag,
    line,
    load,
    local_today,
    money,
    register,
    schema,
    text,
    to_task_data,
)

# The family modules, in registration order (each registers its forms on import).
from . import decisions, projects, office, party, members  # noqa: E402, I001  isort: skip
from . import assets, leads, ledger, services, services_welfare, yishi  # noqa: E402, I001  isort: skip

__all__ = [
    "EARLIEST_DAY", "FORMS", "OLDEST_AGE", "CheckContext", "FormSchema", "Money", "StrictInteger", "check_dates",
    "choice", "completed_rows", "count", "day", "describe", "field_messages", "first_message", "first_round", "flag", "line", "load", "local_today", "money",
    "register", "schema", "text", "to_task_data",
    "assets", "decisions", "leads", "ledger", "members", "office", "party", "projects", "services",
    "services_welfare", "yishi",
]

"""The engine facade, split by concern: :class:`Engine` (services/engine.py) composes the mixins
of cases, tasks, checks, board, timers, notifications, ledger and assets (and evidence, leads and
people, which live beside their domain modules)."""

from .engine import Engine

__all__ = ["Engine"]

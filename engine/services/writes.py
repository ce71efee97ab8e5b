"""A task completion's rows written by Core statements instead of the unit of work (issue 16).

A plain completion writes the task row it completed, the task rows the workflow opened, its audit
event and the case. The unit of work writes them with the same statements, but spends more time on
its bookkeeping (dependency sort, per-object history, fetching the audit events' keys back, and a
second pass at commit) than the database spends on the statements. :func:`store` writes a changed
row (a task row; the case, with its lock version) at once, :func:`flush` the new task rows and audit events; anything else pending (a board
entry, a ledger entry, a deleted row) or a savepoint (whose rollback must expire what it wrote) goes
to ``session.flush()`` unchanged.
"""

from __future__ import annotations

from functools import cache, lru_cache

from sqlalchemy import Table, bindparam, insert, inspect, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import NO_VALUE, set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..store.models import AuditEvent, TaskRow

_NEW = (TaskRow, AuditEvent)


def _columns(model) -> dict[str, tuple[str, object]]:
    """attribute key → (column name, its scalar default or None)."""
    out = {}
    for prop in model.__mapper__.column_attrs:
        column = prop.columns[0]
        default = column.default.arg if column.default is not None and column.default.is_scalar else None
        out[prop.key] = (column.name, default)
    return out


_TASK_COLUMNS = _columns(TaskRow)
_AUDIT_COLUMNS = {k: v for k, v in _columns(AuditEvent).items() if k != "id"}
_INSERT_TASKS = insert(TaskRow.__table__)
_INSERT_EVENTS = insert(AuditEvent.__table__)


@lru_cache(maxsize=64)
def update_statement(table: Table, columns: tuple[str, ...], locked: bool = False):
    """``UPDATE table SET <columns> WHERE id = :key [AND lock_version = :version]``, built once per
    set of columns: a statement built on every call costs its construction and cache-key walk each
    time. Parameters: ``key``, ``version`` and ``set_<column>``; when ``locked`` the statement also
    sets ``lock_version`` to ``version`` + 1 (``set_lock_version``)."""
    stmt = update(table).where(table.c.id == bindparam("key"))
    values = {name: bindparam(f"set_{name}") for name in columns}
    if locked:
        stmt = stmt.where(table.c.lock_version == bindparam("version"))
        values["lock_version"] = bindparam("set_lock_version")
    return stmt.values(values)


@cache
def _column_names(model) -> dict[str, str]:
    """attribute key → column name of the columns ``store`` may set (not the key, not the lock)."""
    return {prop.key: prop.columns[0].name for prop in model.__mapper__.column_attrs
            if prop.key not in ("id", "lock_version")}


def store(session: Session, obj, *, locked: bool = False, **values) -> None:
    """Write ``values`` and the row's other changed columns to the stored row ``obj`` with one Core
    UPDATE by its key, now, and set them on the object as loaded values: the session does not hold
    it as changed, so the commit has nothing to flush for it. With ``locked`` (a case) the UPDATE
    is conditional on the lock version as loaded and raises StaleDataError (a 409) when someone
    else saved first; the version goes up by one. A row not yet inserted, or one changed inside a
    savepoint (whose rollback must expire it), is set the ordinary way and left to the unit of work."""
    state = inspect(obj)
    if session.in_nested_transaction() or not state.persistent:
        for key, value in values.items():
            setattr(obj, key, value)
        return
    names = _column_names(type(obj))
    current = state.dict
    changed = {key: current[key] for key, before in state.committed_state.items()
               if key in names and key in current and (before is NO_VALUE or before != current[key])}
    changed.update(values)
    if not changed:
        return
    columns = {names[k]: v for k, v in changed.items()}
    params = {"key": obj.id, **{f"set_{name}": v for name, v in columns.items()}}
    if locked:
        params.update(version=obj.lock_version, set_lock_version=obj.lock_version + 1)
    done = session.connection().execute(update_statement(type(obj).__table__, tuple(sorted(columns)), locked), params)
    if locked and done.rowcount != 1:
        raise StaleDataError(f"{type(obj).__tablename__} {obj.id}: lock version {obj.lock_version} is not the stored one")
    for key, value in changed.items():
        set_committed_value(obj, key, value)
    if locked:
        set_committed_value(obj, "lock_version", params["set_lock_version"])


def flush(session: Session) -> None:
    """``session.flush()``, with new task rows and audit events (all a plain completion leaves
    pending once its changed rows are stored) written by two Core statements."""
    if not _written_directly(session):
        session.flush()


def _written_directly(session: Session) -> bool:
    if session.in_nested_transaction() or session.deleted:
        return False
    new = list(session.new)
    if any(type(obj) not in _NEW for obj in new) or any(session.is_modified(obj) for obj in session.dirty):
        return False
    if not new:
        return True
    connection = session.connection()
    new.sort(key=lambda obj: inspect(obj).insert_order)
    tasks = [obj for obj in new if type(obj) is TaskRow]
    events = [obj for obj in new if type(obj) is AuditEvent]
    if tasks:
        _insert(connection, _INSERT_TASKS, tasks, _TASK_COLUMNS)
        for row in tasks:  # stored: the session holds them as loaded rows from now on
            session.expunge(row)
            make_transient_to_detached(row)
            session.add(row)
    if events:
        _insert(connection, _INSERT_EVENTS, events, _AUDIT_COLUMNS)
        for event in events:  # nothing reads an audit event object back: the log is read by query
            session.expunge(event)
    return True


def _insert(connection, statement, objects: list, columns: dict[str, tuple[str, object]]) -> None:
    """INSERT ``objects`` with the columns set on each, as the unit of work would: a column never
    set is left out (its default applies: SQL NULL, not the JSON ``null`` a None would be stored
    as), and set on the object to what the row now holds. One executemany per set of columns."""
    groups: dict[tuple[str, ...], list[dict]] = {}
    for obj in objects:
        present = obj.__dict__
        values = {name: present[key] for key, (name, _) in columns.items() if key in present}
        groups.setdefault(tuple(values), []).append(values)
        for key, (_, default) in columns.items():
            if key not in present:
                setattr(obj, key, default)
    for rows in groups.values():
        connection.execute(statement, rows)

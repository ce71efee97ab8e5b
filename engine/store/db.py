"""Database engine and sessions. SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

import select
import time
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str, **kw) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **kw)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # Let SQLAlchemy, not pysqlite, open transactions, so BEGIN IMMEDIATE works.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # Take the write lock at the start: one user action = one serialised transaction. Said to
            # the driver directly: a statement through SQLAlchemy costs its execution context on
            # every request (issue 16).
            conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, **kw)
    ping_when_needed(engine)
    return engine


#: A pooled connection idle longer than this is pinged before it is handed out.
PING_AFTER_IDLE = 10.0


def ping_when_needed(engine: Engine, idle: float = PING_AFTER_IDLE) -> None:
    """Hand out only live connections without a round trip on every checkout (which is what
    ``pool_pre_ping`` costs: one more round trip per request, issue 16).

    A connection is pinged at checkout only when it has been idle longer than ``idle`` seconds, or
    when its socket has something to read although nothing was asked: a restarted or terminated
    server says so (an error message, then end of file) and that is seen without asking. A dead
    connection raises ``DisconnectionError`` here, so the pool replaces it with a fresh one and
    the request goes on. What remains uncovered is a server gone since less than ``idle`` seconds
    without closing its sockets (a network cut): that request fails once, SQLAlchemy invalidates
    the pool, and the next request connects afresh.
    """

    @event.listens_for(engine, "checkin")
    def _idle_since(dbapi_conn, record):  # pragma: no cover - trivial
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _live(dbapi_conn, record, proxy):
        since = record.info.pop("idle_since", None)
        if since is not None and time.monotonic() - since < idle and not _has_unread(dbapi_conn):
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure: the pool takes a fresh connection
            raise DisconnectionError(f"pooled connection is dead: {exc}") from exc


def _has_unread(dbapi_conn) -> bool:
    """Whether the server sent something on an idle connection (a restart or termination notice)."""
    try:
        fd = dbapi_conn.fileno()
    except Exception:  # noqa: BLE001 - a closed connection has no socket
        return True
    try:
        readable, _, _ = select.select([fd], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Create or upgrade the schema to the newest migration."""
    from alembic import command

    cfg = alembic_config(str(engine.url.render_as_string(hide_password=False)))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

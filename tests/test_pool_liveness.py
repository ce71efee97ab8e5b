"""Pooled PostgreSQL connections (issue 16): no ping round trip on every checkout, yet a connection the
server has dropped (restart, ``pg_terminate_backend``) is never handed to a request."""

from __future__ import annotations

import time

from sqlalchemy import create_engine, text

from engine.store import db
from tests.conftest import PG_URL


def _pings(engine) -> list[int]:
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counted(conn):
        seen.append(1)
        return ping(conn)

    engine.dialect.do_ping = counted
    return seen


def test_a_busy_connection_is_not_pinged_a_dropped_one_is_replaced():
    engine = db.make_engine(PG_URL, pool_size=1, max_overflow=0)
    admin = create_engine(PG_URL)
    try:
        pings = _pings(engine)
        with engine.connect() as conn:
            first = conn.scalar(text("select pg_backend_pid()"))
        assert len(pings) == 1  # a new connection is checked once
        for _ in range(3):
            with engine.connect() as conn:
                assert conn.scalar(text("select pg_backend_pid()")) == first
        assert len(pings) == 1  # reused within the idle window: no round trip spent on a ping
        with admin.begin() as conn:  # what a server restart does to every pooled connection
            assert conn.scalar(text("select pg_terminate_backend(:p)"), {"p": first})
        time.sleep(0.2)  # the termination notice reaches the client's socket
        with engine.connect() as conn:  # handed out: a fresh, live connection, the request goes on
            second = conn.scalar(text("select pg_backend_pid()"))
        assert second != first
        assert len(pings) >= 2
    finally:
        engine.dispose()
        admin.dispose()


def test_a_long_idle_connection_is_pinged():
    engine = db.make_engine(PG_URL, pool_size=1, max_overflow=0)
    try:
        pings = _pings(engine)
        with engine.connect() as conn:
            conn.scalar(text("select 1"))
        for record in list(engine.pool._pool.queue):  # idle since long ago
            record.info["idle_since"] -= db.PING_AFTER_IDLE + 1
        with engine.connect() as conn:
            conn.scalar(text("select 1"))
        assert len(pings) == 2
    finally:
        engine.dispose()

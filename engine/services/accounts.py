"""Logins, sessions and tokens, kept in the database so every worker sees the same state.

- Passwords are checked against scrypt hashes; an unknown name costs the same hash, so the
  answer's timing does not tell which names exist.
- Password checks are counted per key (an account, an address) with one atomic upsert *before*
  the password is checked: parallel attempts cannot all slip through between "check" and "fail".
- A browser session or an API token is an opaque random string; the database keeps only its
  SHA-256 with an expiry. Logout and ``DELETE /auth/token`` revoke it; a new password or a
  deactivated account ends every session and token of that person at once.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, case, delete, literal, select, update
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.authz import Actor, Grant
from ..store.models import AuthSession, LoginCounter, RoleAssignment, User, UTCDateTime


@dataclass(frozen=True)
class Bearer:
    """A token (``kind`` "api") or a pages' session id ("web") that is not checked yet: the engine
    resolves it to its person in the request's own transaction, with the person and the roles, in
    one query (:meth:`Accounts.actor`)."""

    token: str = field(repr=False)
    kind: str = "api"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def password_tag(password_hash: str) -> str:
    """A fingerprint of the password hash: sessions opened under an older password stop matching."""
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def _actor_statements():
    """The two statements of :meth:`Accounts.actor` (by token, by username), built once: building a
    select costs more Python than running this one."""
    cols = (User.id, User.username, User.name, RoleAssignment.role, RoleAssignment.village_id,
            RoleAssignment.township, RoleAssignment.county)
    by_token = (select(*cols, User.password_hash, AuthSession.password_tag)
                .join(AuthSession, AuthSession.user_id == User.id)
                .where(AuthSession.id == bindparam("digest"), AuthSession.kind == bindparam("kind"),
                       AuthSession.revoked_at.is_(None),
                       AuthSession.expires_at > bindparam("now", type_=UTCDateTime())))
    by_name = select(*cols).where(User.username == bindparam("username"))
    return tuple(stmt.outerjoin(RoleAssignment, RoleAssignment.user_id == User.id)
                 .where(User.active.is_(True)).order_by(RoleAssignment.id) for stmt in (by_token, by_name))


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("cunwu-no-such-user")


class Accounts:
    def __init__(self, sessions: sessionmaker[Session], now: Callable[[], datetime] | None = None):
        self.sessions = sessions
        self.now = now or (lambda: datetime.now(UTC))

    # -- passwords ----------------------------------------------------------------------
    def check_credentials(self, username: object, password: object) -> User | None:
        if not isinstance(username, str) or not isinstance(password, str):
            return None
        with self.sessions() as s:
            user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
            ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
            return user if ok and user is not None else None

    # -- throttling ---------------------------------------------------------------------
    def count_attempt(self, key: str, limit: int, window: float) -> float:
        """Count one attempt for ``key``; answer 0 if it may go ahead, else the seconds to wait.

        One statement (INSERT … ON CONFLICT DO UPDATE … RETURNING) counts and reads, so the row
        lock serialises parallel attempts on PostgreSQL as on SQLite."""
        now = self.now()
        cutoff = now - timedelta(seconds=window)
        with self.sessions() as s, s.begin():
            dialect = s.get_bind().dialect.name
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stale = LoginCounter.window_start <= cutoff
            stmt = insert(LoginCounter).values(key=key, window_start=now, count=1)
            stmt = stmt.on_conflict_do_update(index_elements=[LoginCounter.key], set_={
                "count": case((stale, 1), else_=LoginCounter.count + 1),
                "window_start": case((stale, literal(now, UTCDateTime())), else_=LoginCounter.window_start),
            }).returning(LoginCounter.count, LoginCounter.window_start)
            count, started = s.execute(stmt).one()
        if count <= limit:
            return 0.0
        return max(1.0, (started + timedelta(seconds=window) - now).total_seconds())

    def uncount_attempt(self, key: str) -> None:
        """Take back one counted attempt (it turned out not to be a failed login)."""
        with self.sessions() as s, s.begin():
            s.execute(update(LoginCounter).where(LoginCounter.key == key, LoginCounter.count > 0)
                      .values(count=LoginCounter.count - 1))

    def forget_attempts(self, key: str) -> None:
        with self.sessions() as s, s.begin():
            s.execute(delete(LoginCounter).where(LoginCounter.key == key))

    # -- sessions and tokens ------------------------------------------------------------
    def open(self, user: User, kind: str, max_age: float) -> str:
        """A new opaque token for ``user`` (``kind`` "web" or "api") valid ``max_age`` seconds."""
        token = secrets.token_urlsafe(32)
        now = self.now()
        with self.sessions() as s, s.begin():
            s.execute(delete(AuthSession).where(AuthSession.user_id == user.id, AuthSession.expires_at <= now))
            s.add(AuthSession(id=_digest(token), user_id=user.id, kind=kind,
                              password_tag=password_tag(user.password_hash), created_at=now,
                              expires_at=now + timedelta(seconds=max_age)))
        return token

    def username_of(self, token: object, kind: str) -> str | None:
        """The active person a live, unrevoked token of ``kind`` belongs to, else None."""
        if not isinstance(token, str) or not token or len(token) > 200:
            return None
        with self.sessions() as s:
            row = s.execute(
                select(User.username, User.password_hash, AuthSession.password_tag)
                .join(AuthSession, AuthSession.user_id == User.id)
                .where(AuthSession.id == _digest(token), AuthSession.kind == kind,
                       AuthSession.revoked_at.is_(None), AuthSession.expires_at > self.now(),
                       User.active.is_(True))
            ).first()
        if row is None or password_tag(row.password_hash) != row.password_tag:
            return None
        return row.username

    def actor(self, session: Session, who: str | Bearer) -> Actor | None:
        """The active person ``who`` names (a username or an unchecked :class:`Bearer` token) with
        their roles, in one statement inside ``session``; None when there is no such active person
        or the token is not live (expired, revoked, of an older password, of another kind)."""
        if isinstance(who, Bearer):
            token = who.token
            if not isinstance(token, str) or not token or len(token) > 200:
                return None
            stmt, params = _actor_statements()[0], {"digest": _digest(token), "kind": who.kind, "now": self.now()}
        elif isinstance(who, str) and who:
            stmt, params = _actor_statements()[1], {"username": who}
        else:
            return None
        rows = session.connection().execute(stmt, params).all()  # plain rows: no ORM layer on every request
        if not rows:
            return None
        first = rows[0]
        if isinstance(who, Bearer) and password_tag(first.password_hash) != first.password_tag:
            return None
        return Actor(first.id, first.username, first.name,
                     tuple(Grant(r.role, r.village_id, r.township, r.county) for r in rows if r.role is not None))

    def revoke(self, token: object) -> bool:
        if not isinstance(token, str) or not token:
            return False
        with self.sessions() as s, s.begin():
            done = s.execute(update(AuthSession).where(AuthSession.id == _digest(token),
                                                       AuthSession.revoked_at.is_(None))
                             .values(revoked_at=self.now()))
        return bool(done.rowcount)

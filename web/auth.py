"""Who is asking: API bearer tokens, the pages' login session, and the login itself.

Tokens and sessions are opaque random strings whose SHA-256 the database keeps
(engine/services/accounts.py): a logout, a ``DELETE /auth/token`` or a new password ends them at once,
in every worker. The signed Flask cookie only carries the session's id.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from flask import current_app, g, request, session

from engine.domain.errors import Forbidden, NotAuthenticated, TooManyRequests
from engine.services.accounts import Bearer

if TYPE_CHECKING:  # the accounts service hands these out; the web layer never loads them itself
    from engine.store.models import User

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
WEB_SESSION_KEY = "sid"


def engine():
    return current_app.extensions["cunwu"]


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def login(username: object, password: object) -> User | None:
    """Check a password under the shared throttle (``app.extensions["cunwu_login_throttle"]``).

    Raises TooManyRequests (429, with ``Retry-After``) when the address or the account is over its
    limit; answers None for a wrong name or password. Both counts are taken *before* the
    password is checked, atomically, so parallel guesses are counted too."""
    throttle = current_app.extensions["cunwu_login_throttle"]
    accounts = engine().accounts
    address_key = f"addr:{request.remote_addr or ''}"
    name = username.strip().lower() if isinstance(username, str) else ""
    account_key = f"user:{name[:150]}"
    wait = accounts.count_attempt(address_key, throttle.address_limit, throttle.window)
    if wait:
        g.retry_after = math.ceil(wait)
        raise TooManyRequests(f"登录失败次数过多：同一网络{_minutes(throttle.window)}分钟内最多可输错"
                              f"{throttle.address_limit}次，请约{_minutes(wait)}分钟后再试")
    wait = accounts.count_attempt(account_key, throttle.limit, throttle.window)
    if wait:
        accounts.uncount_attempt(address_key)  # no password was checked for it
        g.retry_after = math.ceil(wait)
        raise TooManyRequests(f"登录失败次数过多：{_minutes(throttle.window)}分钟内最多可输错{throttle.limit}次，"
                              f"请约{_minutes(wait)}分钟后再试")
    user = accounts.check_credentials(username, password)
    if user is not None:  # only failed logins count
        accounts.forget_attempts(account_key)
        accounts.uncount_attempt(address_key)
    return user


def issue_token(user: User) -> str:
    return engine().accounts.open(user, "api", current_app.config["API_TOKEN_MAX_AGE"])


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def open_web_session(user: User) -> None:
    session.clear()  # a fresh session (and CSRF token) for the logged-in person
    session[WEB_SESSION_KEY] = engine().accounts.open(user, "web", current_app.config["WEB_SESSION_MAX_AGE"])
    session["username"] = user.username
    if user.must_change_password:  # signed cookie: cleared by the fresh session after the change
        session["must_change"] = True


def web_session_user() -> str | None:
    """The person of the pages' login session, if the server still holds it open."""
    if "web_user" not in g:
        sid = session.get(WEB_SESSION_KEY)
        name = engine().accounts.username_of(sid, "web") if sid else None
        if sid and (name is None or name != session.get("username")):
            session.clear()  # logged out elsewhere, expired, new password or deactivated
            name = None
        g.web_user = name
    return g.web_user


def end_web_session() -> None:
    sid = session.get(WEB_SESSION_KEY)
    if sid:
        engine().accounts.revoke(sid)
    session.clear()


def current_username(required: bool = True) -> str | None:
    if "username" in g:
        return g.username
    token = bearer_token()
    username = None
    if token is not None:
        username = engine().accounts.username_of(token, "api")
    elif not (request.path.startswith("/api/") and request.method not in SAFE_METHODS):
        # The pages' login session may read the API; changing anything through the API takes a
        # bearer token, so a cross-site request riding on the cookie cannot act (CSRF).
        username = web_session_user()
        if username is not None and session.get("must_change") and request.path.startswith("/api/"):
            raise Forbidden("这是管理员给的一次性密码：请先在网页上改成自己的密码")
    if username is None and required:
        raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
    g.username = username
    return username


def current_identity() -> str | Bearer:
    """Who is asking, for an engine call that checks it itself: an API token goes to the engine
    unchecked (:class:`engine.services.accounts.Bearer`), which reads token, person and roles in one
    statement of the request's own transaction (401 there if the token is not live); the pages'
    login session is resolved here as before."""
    if "username" in g:
        if g.username is None:
            raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
        return g.username
    token = bearer_token()
    if token is not None:
        return Bearer(token)
    return current_username()

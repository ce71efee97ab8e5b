"""API tokens (signed, expiring) and the current user of a request."""

from __future__ import annotations

import functools
import time

from flask import current_app, g, request, session
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from engine.errors import NotAuthenticated
from engine.models import User

SALT = "cunwu-api-token"
TOKEN_CHECK_SECONDS = 30.0
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def engine():
    return current_app.extensions["cunwu"]


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash("cunwu-no-such-user")


def check_credentials(username, password) -> User | None:
    if not isinstance(username, str) or not isinstance(password, str):
        return None
    with engine().sessions() as s:
        user = s.scalar(select(User).where(User.username == username, User.active.is_(True)))
        # Hash even for an unknown name, so the answer's timing does not tell which names exist.
        if not check_password_hash(user.password_hash if user else _dummy_hash(), password) or user is None:
            return None
        return user


def issue_token(user: User) -> str:
    return _serializer().dumps({"u": user.username, "p": user.password_hash[-12:]})


def token_user(token: str) -> str | None:
    try:
        data = _serializer().loads(token, max_age=current_app.config["API_TOKEN_MAX_AGE"])
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or "u" not in data:
        return None
    # A changed password or a deactivated account revokes the tokens issued before it. The check
    # is remembered for a short while per token, so a burst of requests costs one lookup.
    cache = current_app.extensions.setdefault("cunwu_token_checks", {})
    now = time.monotonic()
    hit = cache.get(token)
    if hit is not None and now - hit[1] < TOKEN_CHECK_SECONDS:
        return hit[0]
    with engine().sessions() as s:
        user = s.scalar(select(User).where(User.username == data["u"], User.active.is_(True)))
        valid = user is not None and user.password_hash[-12:] == data.get("p")
    if len(cache) > 10_000:
        cache.clear()
    if valid:
        cache[token] = (user.username, now)
        return user.username
    cache.pop(token, None)
    return None


def current_username(required: bool = True) -> str | None:
    if "username" in g:
        return g.username
    header = request.headers.get("Authorization", "")
    username = None
    if header.lower().startswith("bearer "):
        username = token_user(header[7:].strip())
    elif session.get("username") and not (request.path.startswith("/api/") and request.method not in SAFE_METHODS):
        # The pages' login session may read the API; changing anything through the API takes a
        # bearer token, so a cross-site request riding on the cookie cannot act (CSRF).
        username = session["username"]
    if username is None and required:
        raise NotAuthenticated("请先登录（Authorization: Bearer <token>）")
    g.username = username
    return username

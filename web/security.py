"""Security of the web front: login throttling, rate limits, session cookies and HTTP headers.

``init_app`` registers:

- ``app.extensions["cunwu_login_throttle"]``: a :class:`LoginThrottle` (``check``/``fail``/``reset``
  per key, e.g. ``"username|ip"``), used by ``POST /api/v1/auth/token`` and available to the
  HTML login;
- ``app.extensions["cunwu_objection_limiter"]`` if the pages did not register one;
- session cookie flags (HttpOnly, SameSite=Lax, Secure with ``CUNWU_SECURE_COOKIES=1``);
- security headers on every response (CSP without inline scripts, no framing, nosniff, ...).

Counters live in memory, per process: behind N gunicorn workers an address gets at most N
times the limit. That bounds password guessing to a few dozen tries per hour, which the
scrypt hashes make useless; a shared store is not needed at village scale.
"""

from __future__ import annotations

import base64
import hashlib
import math
import os
import re
import threading
import time
from collections import deque
from collections.abc import Callable

from flask import Flask, g, has_app_context, request

from engine.errors import CunwuError

try:  # the shared error class, when engine/errors.py has it
    from engine.errors import TooManyRequests
except ImportError:  # pragma: no cover - older tree

    class TooManyRequests(CunwuError):  # type: ignore[no-redef]
        code, status = "too_many_requests", 429


DEV_SECRET = "dev-only-change-me"


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


class LoginThrottle:
    """At most ``limit`` failed logins per key within ``window`` seconds.

    ``check(key)`` raises :class:`TooManyRequests` (429) while the key is locked out and does
    not count anything; ``fail(key)`` records a failure; ``reset(key)`` forgets the key (after
    a successful login)."""

    def __init__(self, limit: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._failures: dict[str, deque] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque:
        hits = self._failures.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self.window:
            hits.popleft()
        if not hits:
            del self._failures[key]
        return hits

    def retry_after(self, key: str) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        now = self.clock()
        with self._lock:
            hits = self._recent(key, now)
            if len(hits) < self.limit:
                return 0.0
            return max(1.0, hits[-self.limit] + self.window - now)

    def check(self, key: str) -> None:
        wait = self.retry_after(key)
        if wait:
            g.retry_after = math.ceil(wait)
            raise TooManyRequests(f"登录失败次数过多：{_minutes(self.window)}分钟内最多可输错{self.limit}次，"
                                  f"请约{_minutes(wait)}分钟后再试")

    def fail(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            self._failures.setdefault(key, deque()).append(now)
            if len(self._failures) > 10000:  # forget idle keys so memory stays bounded
                for k in [k for k, v in self._failures.items() if not v or v[-1] <= now - self.window]:
                    del self._failures[k]

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


class RateLimiter:
    """At most ``limit`` hits per ``window`` seconds per key (e.g. an IP address), in memory;
    ``check(key)`` counts one hit and raises :class:`TooManyRequests` (429) once the key is over.
    One process only: behind several gunicorn workers each keeps its own count."""

    def __init__(self, limit: int = 5, window: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.limit = limit
        self.window = window
        self.clock = clock
        self._hits: dict[str, deque] = {}
        self._lock = threading.Lock()

    def check(self, key: str) -> None:
        now = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key or "?", deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                wait = hits[0] + self.window - now
                if has_app_context():
                    g.retry_after = math.ceil(max(1.0, wait))  # a Retry-After header
                raise TooManyRequests(f"提交过于频繁：同一网络{_minutes(self.window)}分钟内最多提交{self.limit}次，"
                                      f"请约{_minutes(wait)}分钟后再试")
            hits.append(now)
            if len(self._hits) > 10000:
                for k in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[k]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


def login_key(username: object) -> str:
    """The throttle key of a login attempt: the account and the address it comes from."""
    name = username.strip().lower() if isinstance(username, str) else ""
    return f"{name}|{request.remote_addr or ''}"


# -- headers --------------------------------------------------------------------------------
_HANDLER = re.compile(r"""\son[a-z]+\s*=\s*"([^"]*)\"""")


def inline_handlers(app: Flask) -> list[str]:
    """Inline event handlers (``onclick="..."``) in the app's templates: static strings only."""
    found: set[str] = set()
    loader = app.jinja_loader
    if loader is None:
        return []
    try:
        names = loader.list_templates()
    except TypeError:  # pragma: no cover - loaders that cannot list
        return []
    for name in names:
        try:
            source = loader.get_source(app.jinja_env, name)[0]
        except Exception:  # noqa: BLE001 - a broken template is the pages' business
            continue
        for handler in _HANDLER.findall(source):
            if "{{" not in handler and "{%" not in handler:
                found.add(handler)
    return sorted(found)


def content_security_policy(handlers: list[str]) -> str:
    """No inline ``<script>``, no ``eval``, no plugins, no framing. Static inline event handlers
    found in the templates are allowed by their exact hash ('unsafe-hashes'), nothing else."""
    script = ["'self'"]
    if handlers:
        script.append("'unsafe-hashes'")
        for handler in handlers:
            digest = base64.b64encode(hashlib.sha256(handler.encode("utf-8")).digest()).decode()
            script.append(f"'sha256-{digest}'")
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(script),
        "style-src 'self' 'unsafe-inline'",  # graphviz SVG and small style attributes; no script
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ])


def _secure_cookies(app: Flask) -> bool:
    value = app.config.get("CUNWU_SECURE_COOKIES", os.environ.get("CUNWU_SECURE_COOKIES", ""))
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def init_app(app: Flask) -> None:
    config = app.config
    app.extensions["cunwu_login_throttle"] = LoginThrottle(
        int(config.get("CUNWU_LOGIN_LIMIT", 5)), float(config.get("CUNWU_LOGIN_WINDOW", 900)))
    app.extensions.setdefault("cunwu_objection_limiter", RateLimiter(
        int(config.get("CUNWU_OBJECTION_LIMIT", 5)), float(config.get("CUNWU_OBJECTION_WINDOW", 600))))

    secure = _secure_cookies(app)
    config["SESSION_COOKIE_HTTPONLY"] = True
    if not config.get("SESSION_COOKIE_SAMESITE"):
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if secure:
        config["SESSION_COOKIE_SECURE"] = True
    warn_secret = [config.get("SECRET_KEY") == DEV_SECRET and not app.testing and not app.debug]

    csp = content_security_policy(inline_handlers(app))
    headers = {
        "Content-Security-Policy": csp,
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
        "Cross-Origin-Opener-Policy": "same-origin",
    }
    if secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"

    @app.after_request
    def _security_headers(response):
        if warn_secret[0]:  # once per process, when it actually serves
            warn_secret[0] = False
            app.logger.warning("CUNWU_SECRET_KEY 未设置：正在使用开发用密钥，令牌和登录会话可被伪造。生产环境必须设置。")
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        retry = g.get("retry_after")
        if response.status_code == 429 and retry:
            response.headers.setdefault("Retry-After", str(retry))
        # Answers that depend on who asks (tokens, tasks, cases, personal data) are never cached.
        if request.path.startswith("/api/") and (request.headers.get("Authorization") or request.cookies):
            response.headers.setdefault("Cache-Control", "no-store")
        elif request.path.startswith("/api/v1/auth/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

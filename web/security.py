"""Security of the web front: the secret key, login limits, rate limits, cookies, headers, and
hostile request bodies.

``init_app`` registers:

- the session interface that signs cookies with the installation's own key: ``SECRET_KEY`` /
  ``CUNWU_SECRET_KEY`` if given, else a random key created once in the instance folder
  (``secret_key``, mode 600) and reused;
- ``app.extensions["cunwu_login_throttle"]``: the login limits (``limit`` password checks per
  account, ``address_limit`` failed logins per address, per ``window`` seconds), counted in the
  database by ``web.auth.login`` so every worker shares them;
- ``app.extensions["cunwu_objection_limiter"]`` if the pages did not register one;
- a request-body guard: over ``CUNWU_MAX_BODY`` (default 1 MB) answers 413; JSON that is not
  UTF-8, holds a lone surrogate or nests deeper than 64 levels answers 400;
- session cookie flags (HttpOnly, SameSite=Lax, Secure with ``CUNWU_SECURE_COOKIES=1``);
- security headers on every response (CSP without inline scripts, no framing, nosniff, ...).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, g, has_app_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.exceptions import RequestEntityTooLarge

from engine.domain.errors import BadRequest, TooManyRequests

SECRET_FILE = "secret_key"
MAX_JSON_DEPTH = 64


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


# -- the secret key -------------------------------------------------------------------------
def instance_secret_key(instance_path: str | Path) -> tuple[str, Path]:
    """The installation's own session key, created at random on first use (at least 32
    characters) in the instance folder and reused afterwards. Two workers starting at once
    agree on one key: the file appears complete or not at all (written aside, then linked)."""
    folder = Path(instance_path)
    path = folder / SECRET_FILE
    for _ in range(50):
        try:
            key = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            key = ""
        if len(key) >= 32:
            return key, path
        if key:  # too short to be ours: never sign with it
            raise RuntimeError(f"{path} 中的密钥太短（至少32个字符），请删除该文件后重新启动")
        folder.mkdir(parents=True, exist_ok=True)
        aside = folder / f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
        finally:
            aside.unlink(missing_ok=True)
    raise RuntimeError(f"无法读取或创建密钥文件 {path}")  # pragma: no cover


def ensure_secret_key(app: Flask) -> Path | None:
    """Give the app its key now; answer the key file's path (None when the key is configured)."""
    if app.secret_key:
        return None
    key, path = instance_secret_key(app.instance_path)
    app.secret_key = key
    return path


class InstanceKeySessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, with the key loaded (or created) when a cookie is first signed or
    read, so a command such as ``cunwu --help`` leaves no folder behind."""

    def get_signing_serializer(self, app: Flask):
        if not app.secret_key:
            ensure_secret_key(app)
        return super().get_signing_serializer(app)


# -- login limits ---------------------------------------------------------------------------
@dataclass
class LoginThrottle:
    """At most ``limit`` password checks per account and ``address_limit`` failed logins per
    address within ``window`` seconds (the counting is in ``web.auth.login``)."""

    limit: int = 5
    address_limit: int = 20
    window: float = 900.0


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


def _depth_and_text_ok(value) -> str | None:
    """None if a parsed JSON value nests at most MAX_JSON_DEPTH levels and holds no lone
    surrogate (which cannot be stored or sent back as UTF-8); else the reason."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                return f"JSON 嵌套超过{MAX_JSON_DEPTH}层"
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None and _SURROGATE.search(key):
                    return "JSON 中含有无法识别的字符（孤立代理项）"
                stack.append((child, depth + 1))
        elif isinstance(item, str) and _SURROGATE.search(item):
            return "JSON 中含有无法识别的字符（孤立代理项）"
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def check_json_body() -> None:
    """Refuse a JSON body that is not UTF-8, not JSON, nests too deep or holds a lone surrogate:
    400 with the error object, before any view or schema reads it."""
    raw = request.get_data(cache=True)
    if not raw:
        return
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("请求正文不是 UTF-8 编码的 JSON") from None
    try:
        data = json.loads(text)
    except RecursionError:
        raise BadRequest(f"JSON 嵌套超过{MAX_JSON_DEPTH}层") from None
    except ValueError:
        raise BadRequest("请求正文不是合法的 JSON") from None
    problem = _depth_and_text_ok(data)
    if problem:
        raise BadRequest(problem)
    # The body is parsed once (issue 16): Flask's get_json and the API's argument parser
    # (web/api/common.py ``BodyOnceParser``) answer from this.
    request._cached_json = (data, data)


def _limit(app: Flask, name: str, default: int) -> int:
    """A size in bytes from the config or the environment: ``1048576``, ``512K``, ``20M``."""
    from engine.records.evidence import max_upload

    raw = app.config.get(name) or os.environ.get(name)
    return max_upload(raw) if raw not in (None, "") else default


def init_app(app: Flask) -> None:
    config = app.config
    app.session_interface = InstanceKeySessionInterface()
    app.extensions["cunwu_login_throttle"] = LoginThrottle(
        int(config.get("CUNWU_LOGIN_LIMIT", 5)), int(config.get("CUNWU_LOGIN_ADDRESS_LIMIT", 20)),
        float(config.get("CUNWU_LOGIN_WINDOW", 900)))
    app.extensions.setdefault("cunwu_objection_limiter", RateLimiter(
        int(config.get("CUNWU_OBJECTION_LIMIT", 5)), float(config.get("CUNWU_OBJECTION_WINDOW", 600))))
    max_body = _limit(app, "CUNWU_MAX_BODY", 1 << 20)
    max_upload = _limit(app, "CUNWU_MAX_UPLOAD", 20 << 20)

    def _guard_body():
        # A multipart body carries its file plus the envelope (boundaries, headers, the CSRF field): the
        # file itself is held to CUNWU_MAX_UPLOAD by web/evidence.py, with its own message.
        from .evidence import OVERHEAD

        limit = max_upload + OVERHEAD if request.mimetype == "multipart/form-data" else max_body
        request.max_content_length = limit
        if request.content_length is not None and request.content_length > limit:
            raise RequestEntityTooLarge()
        if request.is_json and request.method not in ("GET", "HEAD", "OPTIONS"):
            check_json_body()

    # First of all hooks: nothing else reads a body before it is checked.
    app.before_request_funcs.setdefault(None, []).insert(0, _guard_body)

    secure = _secure_cookies(app)
    config["SESSION_COOKIE_HTTPONLY"] = True
    if not config.get("SESSION_COOKIE_SAMESITE"):
        config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if secure:
        config["SESSION_COOKIE_SECURE"] = True

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

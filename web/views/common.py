"""Shared pieces of the pages: the blueprint, login and role guards, CSRF, time display,
turning a posted HTML form into the data a task form expects, the objection rate limiter."""

from __future__ import annotations

import hmac
import math
import re
import secrets
from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, g, redirect, request, session, url_for
from markupsafe import Markup

from engine.domain.errors import BadRequest, Forbidden
from engine.domain.roles import ROLES
from engine.services import reports

from ..auth import web_session_user
from ..security import RateLimiter  # one limiter for the pages and the JSON API

bp = Blueprint("web", __name__)

DEFAULT_TZ = "Asia/Shanghai"


def engine():
    return current_app.extensions["cunwu"]


# -- who is logged in -----------------------------------------------------------------------
def me() -> dict | None:
    """The logged-in person's profile (name, grants, villages in scope), once per request."""
    if "me" not in g:
        username = web_session_user()  # None once logged out, expired or the password changed
        g.me = reports.profile(engine(), username) if username else None
        if username and g.me is None:  # deleted or deactivated since login
            session.clear()
    return g.me


def unread_notices() -> int:
    """The logged-in person's unread notices (the count in the header)."""
    if "unread_notices" not in g:
        g.unread_notices = engine().unread_notifications(username()) if me() else 0
    return g.unread_notices


def username() -> str:
    return me()["username"]


def has_role(*roles: str) -> bool:
    profile = me()
    return bool(profile and set(profile["roles"]) & set(roles))


def login_required(view: Callable) -> Callable:
    @wraps(view)
    def wrapped(*args, **kwargs):
        if me() is None:
            return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


def roles_required(*roles: str, message: str) -> Callable:
    """Pages of one kind of person (监督台, 乡镇视图, 管理): others get 403 in Chinese."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not has_role(*roles):
                raise Forbidden(message)
            return view(*args, **kwargs)

        return wrapped

    return decorate


def acting_village() -> str | None:
    """The village the person acts for now (None: every village in their scope)."""
    code = session.get("village")
    profile = me()
    if not profile or not code:
        return None
    if code not in {v["code"] for v in profile["villages"]}:
        return None
    return code


def safe_next(target: str | None) -> str:
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


#: What a person given a one-time password may open before choosing their own.
PASSWORD_FIRST = {"web.own_password", "web.own_password_save", "web.logout", "web.login"}


@bp.before_request
def _own_password_first():
    """A one-time password (the admin's new person or reset) is changed before anything else."""
    if request.endpoint in PASSWORD_FIRST or "sid" not in session:
        return None
    profile = me()
    if profile and profile.get("must_change_password"):
        return redirect(url_for("web.own_password"))
    return None


# -- CSRF ---------------------------------------------------------------------------------
def csrf_token() -> str:
    token = session.get("_csrf")
    if not token:
        token = session["_csrf"] = secrets.token_urlsafe(32)
    return token


def csrf_field() -> Markup:
    return Markup('<input type="hidden" name="csrf_token" value="%s">') % csrf_token()


def csrf_enabled() -> bool:
    config = current_app.config
    return bool(config.get("CUNWU_CSRF_ENABLED", config.get("WTF_CSRF_ENABLED", True)))


@bp.before_request
def _check_csrf():
    if request.method in ("GET", "HEAD", "OPTIONS") or not csrf_enabled():
        return None
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("_csrf") or ""
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise BadRequest("页面已过期或来源不明（安全校验未通过），请返回刷新页面后重新提交")
    return None


# -- time ---------------------------------------------------------------------------------
def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config.get("CUNWU_TIMEZONE") or DEFAULT_TZ)


def to_local(value) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day, tzinfo=_tz())
    return value.astimezone(_tz())


def fmt_time(value, fmt: str = "%Y-%m-%d %H:%M") -> str:
    local = to_local(value)
    return local.strftime(fmt) if local else ""


def fmt_date(value) -> str:
    return fmt_time(value, "%Y-%m-%d")


def now_local() -> datetime:
    return engine().now().astimezone(_tz())


def remaining(until) -> str:
    """Time left in a notice period, the way a board says it: 还剩3天 / 还剩5小时 / 已期满."""
    end = to_local(until)
    if end is None:
        return ""
    seconds = (end - now_local()).total_seconds()
    if seconds <= 0:
        return "公示期满"
    if seconds < 86400:
        return f"还剩{max(1, math.ceil(seconds / 3600))}小时"
    return f"还剩{math.ceil(seconds / 86400)}天"


def overdue_text(due) -> str:
    end = to_local(due)
    if end is None:
        return ""
    seconds = (now_local() - end).total_seconds()
    if seconds <= 0:
        return ""
    days = int(seconds // 86400)
    return f"已逾期{days}天" if days else "已逾期"


# -- forms --------------------------------------------------------------------------------
def form_data(fields: list[dict], form, *, skip: set[str] = frozenset()) -> dict:
    """The posted HTML form as the data of an engine form. Values stay text: the engine's
    marshmallow schema converts and checks them (and answers in Chinese). Empty inputs are
    left out so that required fields say 请填写… and optional ones take their default."""
    data: dict = {}
    for f in fields:
        name = f["name"]
        if name in skip:
            continue
        if f["type"] == "boolean":
            data[name] = form.get(name) in ("on", "true", "1", "yes")
            continue
        raw = form.get(name)
        if raw is None:
            continue
        raw = raw.strip()
        if raw == "":
            continue
        if f["type"] == "integer" and re.fullmatch(r"[+-]?[0-9]{1,12}", raw):
            data[name] = int(raw)  # the engine takes integers only; anything else stays text and is refused
            continue
        data[name] = raw
    return data


def split_errors(fields: list[dict], errors: dict) -> tuple[dict, list[str]]:
    """Engine error fields → (messages per form field, messages with no field of their own)."""
    names = {f["name"] for f in fields}
    labels = {f["name"]: f["label"] for f in fields}
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for key, messages in (errors or {}).items():
        if isinstance(messages, dict):
            messages = [f"{k}：{v[0] if isinstance(v, list) and v else v}" for k, v in messages.items()]
        elif not isinstance(messages, list):
            messages = [str(messages)]
        messages = [str(m) for m in messages]
        if key in names:
            by_field[key] = messages
        else:
            other.extend(f"{labels.get(key, key)}：{m}" if key not in ("_schema", "data") else m for m in messages)
    return by_field, other


# -- the objection limiter ----------------------------------------------------------------
# -- diagrams (another package; optional until it lands) -------------------------------------
def case_chart(case_id: int) -> dict:
    """The case's flowchart with the current step marked, as inline SVG, and its steps as a list
    (what a phone shows, the chart behind a tap: issue 15): ``{"chart", "steps"}``."""
    try:
        from diagrams.steps import case_chart as drawn
    except ImportError:
        return {"chart": None, "steps": []}
    try:
        svg, steps = drawn(engine(), username(), case_id)
    except Exception:  # noqa: BLE001 - a chart must never break the page
        current_app.logger.exception("case chart failed")
        return {"chart": None, "steps": []}
    return {"chart": Markup(_strip_xml_prolog(svg)) if svg else None, "steps": steps}


def process_chart(key: str) -> Markup | None:
    """An item's flowchart as inline SVG, when the diagrams package offers one."""
    try:
        from diagrams import render
    except ImportError:
        return None
    for name in ("svg_for_process", "process_svg", "svg_for_key"):
        fn = getattr(render, name, None)
        if fn is None:
            continue
        try:
            svg = fn(engine(), key)
        except Exception:  # noqa: BLE001
            current_app.logger.exception("process chart failed")
            return None
        if isinstance(svg, bytes):
            svg = svg.decode("utf-8")
        return Markup(_strip_xml_prolog(svg)) if svg else None
    return None


def diagrams_available() -> bool:
    if current_app.extensions.get("cunwu_diagrams") is not None:
        return True
    try:
        import diagrams.render  # noqa: F401
    except ImportError:
        return False
    return True


def _strip_xml_prolog(svg: str) -> str:
    start = svg.find("<svg")
    return svg[start:] if start > 0 else svg


# -- wiring -------------------------------------------------------------------------------
STATUS_CLASS = {"running": "info", "completed": "ok", "rejected": "bad", "withdrawn": "muted", "on_hold": "warn"}
OUTCOME_ZH = {"passed": "通过", "failed": "未通过", "lapsed": "流会"}


# -- records people judge (CONTRACT "What people see": subject, history data) ---------------------
RECORD_LABELS = {  # keys the engine adds to a record, in words
    "outcome": "表决结果", "outcome_reason": "判定依据", "should_attend": "应到人数", "rules_version": "依据的法律版本",
    "notice_until": "公示截止", "posted_at": "张榜时间", "content": "公开内容", "objection": "村民异议",
    "corrects": None, "evidence": None,
}
RULE_SET_NAMES = {"organic-law-2018": "村民委员会组织法（2018年修正）",
                  "organic-law-2025": "村民委员会组织法（2025年修订）"}


def record_rows(record: dict | None) -> list[tuple[str, str]]:
    """A stored record as (label, text) rows in the order of its form: labels in Chinese, choices by
    their names, amounts in figures and 大写, dates as written; internal keys never shown."""
    from decimal import Decimal

    from engine import forms
    from engine.domain.money import AmountError, parse_amount, spoken

    if not record:
        return []
    data = dict(record.get("data") or {})
    described = {f["name"]: f for f in forms.describe(record["form"])} if record.get("form") in forms.FORMS else {}
    rows: list[tuple[str, str]] = []

    def text(name: str, value) -> str:
        f = described.get(name, {})
        if isinstance(value, bool):
            return "是" if value else "否"
        if f.get("choices"):
            return next((c["label"] for c in f["choices"] if c["value"] == value), str(value))
        if f.get("type") == "money" and value not in (None, ""):
            try:
                return spoken(parse_amount(Decimal(str(value))))
            except (AmountError, ArithmeticError, ValueError):
                return str(value)
        if name == "outcome":
            return OUTCOME_ZH.get(value, str(value))
        if name == "rules_version":
            return RULE_SET_NAMES.get(value, str(value))
        if name in ("notice_until", "posted_at") and value:
            return fmt_time(value)
        unit = f.get("unit")
        return f"{value}{unit if unit and f.get('type') == 'integer' else ''}"

    for name, f in described.items():
        if name in data and data[name] not in (None, ""):
            rows.append((f["label"], text(name, data.pop(name))))
    for name, value in data.items():
        label = RECORD_LABELS.get(name, "")
        if label and value not in (None, ""):
            rows.append((label, text(name, value)))
    return rows


def may_start() -> bool:
    """Whether the logged-in person can start any item somewhere (the 发起事项 menu entry)."""
    if "may_start" not in g:
        profile = me()
        roles = {r for v in (profile or {}).get("villages", []) for r in v.get("roles", [])}
        g.may_start = bool(roles) and any(roles & set(p.get("starters") or []) for p in engine().processes())
    return g.may_start


def money_echo(value) -> str:
    """What an amount field reads back, ``贰拾伍万元整（250,000.00 元）``, or nothing."""
    from engine.domain.money import AmountError, parse_amount, spoken

    if value in (None, ""):
        return ""
    try:
        return "即 " + spoken(parse_amount(value))
    except AmountError:
        return ""


def init_common(app: Flask) -> None:
    config = app.config
    limit = int(config.get("CUNWU_OBJECTION_LIMIT", 5))
    window = float(config.get("CUNWU_OBJECTION_WINDOW", 600))
    app.extensions.setdefault("cunwu_objection_limiter", RateLimiter(limit, window))
    # Complaint leads, their ratings and objections: per client, like board objections.
    app.extensions.setdefault("cunwu_lead_limiter", RateLimiter(int(config.get("CUNWU_LEAD_LIMIT", 5)),
                                                                float(config.get("CUNWU_LEAD_WINDOW", 600))))
    from engine.records.notices import KIND_NAMES

    app.jinja_env.globals.update(unread_notices=unread_notices, KIND_NAMES=KIND_NAMES)
    app.jinja_env.globals.update(csrf_token=csrf_token, csrf_field=csrf_field, me=me, has_role=has_role,
                                 acting_village=acting_village, ROLES=ROLES, STATUS_CLASS=STATUS_CLASS,
                                 OUTCOME_ZH=OUTCOME_ZH, now_local=now_local, record_rows=record_rows,
                                 money_echo=money_echo, may_start=may_start)
    app.jinja_env.filters.update(localtime=fmt_time, localdate=fmt_date, remaining=remaining,
                                 overdue_text=overdue_text)

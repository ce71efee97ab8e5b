"""The demo's clock: real time plus an offset that the demo can move forward, so a visitor can
walk a decision past its 7-day notice period in minutes. Only ``cunwu demo`` installs it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import Blueprint, Flask, current_app, jsonify, request

from engine.domain.errors import Forbidden, Invalid

from .auth import current_username


class DemoClock:
    def __init__(self, path: Path):
        self.path = Path(path)

    def offset(self) -> timedelta:
        try:
            return timedelta(seconds=float(json.loads(self.path.read_text())["offset_seconds"]))
        except (OSError, ValueError, KeyError):
            return timedelta(0)

    def advance(self, delta: timedelta) -> None:
        self.path.write_text(json.dumps({"offset_seconds": (self.offset() + delta).total_seconds()}))

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset()


bp = Blueprint("demo", __name__, url_prefix="/api/v1/demo")


@bp.post("/clock")
def advance_clock():
    """演示专用：把时钟向前拨（管理员），并立即触发到期的定时事件。"""
    engine = current_app.extensions["cunwu"]
    username = current_username()
    actor = None
    with engine.sessions() as s:
        actor = engine.actor(s, username)
    if not actor.is_admin():
        raise Forbidden("只有系统管理员可以拨动演示时钟")
    body = request.get_json(silent=True) or {}
    days = body.get("advance_days")
    if isinstance(days, bool) or not isinstance(days, int | float) or not 0 < days <= 366:
        raise Invalid("advance_days 须为1到366之间的天数", {"advance_days": ["须为1到366之间的天数"]})
    clock: DemoClock = current_app.extensions["cunwu_demo_clock"]
    clock.advance(timedelta(days=days))
    fired = engine.run_timers()
    return jsonify({"now": engine.now().isoformat(), "fired": fired})


def install(app: Flask) -> DemoClock:
    clock = DemoClock(Path(app.instance_path) / "demo-clock.json")
    app.extensions["cunwu_demo_clock"] = clock
    app.extensions["cunwu"]._clock = clock
    app.config["CUNWU_CLOCK"] = clock

    def demo_today() -> str:
        """The demo's own date, shown in a banner: the clock may have been moved forward."""
        from engine.domain.clock import LOCAL_TZ

        days = clock.offset().days
        moved = f"（演示时钟已拨快{days}天）" if days > 0 else ""
        return f"{clock().astimezone(LOCAL_TZ).strftime('%Y-%m-%d')}{moved}"

    app.jinja_env.globals["demo_today"] = demo_today
    if "demo" not in app.blueprints:
        app.register_blueprint(bp)
    return clock

"""The inbox page (issue 17): a person's notices, newest first; opening one marks it read."""

from __future__ import annotations

from flask import redirect, render_template, session, url_for

from .common import bp, engine, login_required, username


@bp.route("/notifications")
@login_required
def notifications():
    return render_template("notifications.html", items=engine().notifications(username()))


@bp.route("/notifications/<int:notice_id>/open", methods=["POST"])
@login_required
def notification_open(notice_id: int):
    """Mark one's own notice read and go to its case (someone else's notice: 404)."""
    notice, path = engine().open_notification(username(), notice_id)
    if notice.get("kind") == "receivable" and (path or "").startswith("/contracts?"):
        return redirect(path)  # a contract's amount due: its row in the contracts register
    if notice.get("case"):
        return redirect(url_for("web.case", case_id=notice["case"]))
    return redirect(url_for("web.notifications"))


def _configured() -> dict[str, bool]:
    """Which channels the worker is configured with (the same settings ``cunwu worker`` reads)."""
    from ..cli import notice_channels

    channels = notice_channels()
    return {"sms": bool(channels.sms_url), "email": bool(channels.smtp_url), "webhook": bool(channels.webhook_url)}


HOURS = list(range(24))


@bp.route("/notifications/settings")
@login_required
def notification_settings():
    return _settings_page(engine().notice_preferences(username()))


def _settings_page(prefs: dict, *, status: int = 200, errors: dict | None = None):
    return render_template("notification_settings.html", prefs=prefs, configured=_configured(), hours=HOURS,
                           errors=errors or {}), status


@bp.route("/notifications/settings", methods=["POST"])
@login_required
def notification_settings_save():
    from flask import flash, request

    from engine.domain.errors import CunwuError

    form = request.form
    raw: dict = {"sms": form.get("sms") == "1", "email": form.get("email") == "1"}
    digest = form.get("mode") == "digest"
    for key in ("digest_hour", "quiet_from", "quiet_to"):
        value = (form.get(key) or "").strip()
        raw[key] = int(value) if value.isdigit() else value
    if not digest:
        raw["digest_hour"] = None
    if form.get("quiet") != "1":
        raw["quiet_from"] = raw["quiet_to"] = 0
    try:
        engine().set_notice_preferences(username(), raw)
    except CunwuError as exc:
        if exc.status != 422:
            raise
        return _settings_page({**engine().notice_preferences(username())}, status=422,
                              errors={k: v if isinstance(v, list) else [v] for k, v in exc.fields.items()})
    flash("通知设置已保存。")
    return redirect(url_for("web.notification_settings"))


# -- one's own password ---------------------------------------------------------------------------
@bp.route("/password")
@login_required
def own_password():
    return render_template("own_password.html", errors={}), 200


@bp.route("/password", methods=["POST"])
@login_required
def own_password_save():
    from flask import flash, request

    from engine.domain.errors import CunwuError

    from ..auth import login as check_login
    from ..auth import open_web_session

    form = request.form
    current = form.get("current_password") or ""
    errors: dict[str, list[str]] = {}
    try:
        user = check_login(username(), current)  # under the login throttle
    except CunwuError as exc:  # too many tries
        return render_template("own_password.html", errors={"current_password": [exc.message]}), exc.status
    if user is None:
        errors["current_password"] = ["原密码不对"]
        return render_template("own_password.html", errors=errors), 422
    new = form.get("new_password") or ""
    try:
        engine().change_own_password(user.username, current, new, form.get("repeat") or "")
    except CunwuError as exc:
        if exc.status != 422:
            raise
        return render_template("own_password.html", errors=exc.fields), 422
    fresh = engine().accounts.check_credentials(user.username, new)
    village = session.get("village")
    open_web_session(fresh)  # every earlier session ended with the old password; this one is new
    if village:
        session["village"] = village
    flash("密码已修改，其他地方的登录和令牌已全部失效。")
    return redirect(url_for("web.home"))

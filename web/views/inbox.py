"""The inbox page (issue 17): a person's notices, newest first; opening one marks it read."""

from __future__ import annotations

from flask import redirect, render_template, url_for

from .common import bp, engine, login_required, username


@bp.route("/notifications")
@login_required
def notifications():
    return render_template("notifications.html", items=engine().notifications(username()))


@bp.route("/notifications/<int:notice_id>/open", methods=["POST"])
@login_required
def notification_open(notice_id: int):
    """Mark one's own notice read and go to its case (someone else's notice: 404)."""
    notice = engine().read_notification(username(), notice_id)
    if notice.get("case"):
        return redirect(url_for("web.case", case_id=notice["case"]))
    return redirect(url_for("web.notifications"))

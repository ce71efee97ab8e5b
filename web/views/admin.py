"""管理 (admin role): villages with the counts that set quorums, people and their roles, and
import from the YAML format of CONTRACT.md."""

from __future__ import annotations

from flask import render_template, request

from engine.domain.errors import CunwuError
from engine.domain.roles import ROLES
from engine.services import reports
from engine.services.importer import COUNTS

from .common import bp, engine, roles_required, username

ADMIN_MESSAGE = "管理页面仅供系统管理员使用"
MAX_IMPORT_BYTES = 2 * 1024 * 1024


def _page(**extra):
    return render_template("admin.html", villages=reports.villages(engine()), people=reports.people(engine()),
                           counts=COUNTS, roles=ROLES, **extra)


@bp.route("/admin")
@roles_required("admin", message=ADMIN_MESSAGE)
def admin():
    return _page()


@bp.route("/admin/import", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_import():
    upload = request.files.get("file")
    text = request.form.get("text") or ""
    source = "粘贴的内容"
    problems: list[str] = []
    if upload is not None and upload.filename:
        raw = upload.read(MAX_IMPORT_BYTES + 1)
        source = f"文件“{upload.filename}”"
        if len(raw) > MAX_IMPORT_BYTES:
            problems.append(f"{source}超过2MB，请分批导入")
        else:
            try:
                text = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                problems.append(f"{source}不是 UTF-8 编码的文本文件")
    if not problems and not text.strip():
        problems.append("请上传 YAML 文件或粘贴导入内容")
    stats = None
    if not problems:
        try:
            stats = engine().import_directory(username(), text, source)
        except CunwuError as exc:
            items = [m for v in (exc.fields or {}).values() for m in (v if isinstance(v, list) else [v])]
            problems = items or [exc.message]
    status = 422 if problems else 200
    return _page(problems=problems, stats=stats, text=text if problems else ""), status


@bp.route("/admin/notices")
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_notices():
    return render_template("admin_notices.html", desk=engine().notice_desk(username()))


@bp.route("/admin/notices/<int:message_id>/resend", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_notice_resend(message_id: int):
    from flask import flash, redirect, url_for

    try:
        engine().resend_notice(username(), message_id)
    except CunwuError as exc:
        if exc.status == 404:
            raise
        flash(exc.message, "error")
    else:
        flash("已放回发送队列，下一轮 cunwu worker 会重新发送。")
    return redirect(url_for("web.admin_notices"))

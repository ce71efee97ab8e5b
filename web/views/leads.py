"""问题线索 (速查快办) pages: the public lead form of a village (no account; reached from the
village's board and from the QR code on its posters), the receipt with the query code, the page
that looks a lead up by its code (with rating and objection), and the lead desk of the 纪检
roles. The code never travels in a URL: it is posted, so it stays out of logs and histories."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from engine.domain.errors import Conflict, CunwuError, Forbidden, Invalid, NotFound
from engine.records.leads import CATEGORIES, DUTIES, MAX_LEAD_PHOTOS, MEASURES
from engine.services import reports

from .common import bp, engine, login_required, roles_required, username


def _limit() -> None:
    current_app.extensions["cunwu_lead_limiter"].check(request.remote_addr or "")


def _village(code: str) -> dict:
    village = reports.village(engine(), code)
    if village is None:
        raise NotFound(f"没有编码为“{code}”的村")
    return village


@bp.route("/villages/<code>/leads/new", methods=["GET", "POST"])
def lead_new(code: str):
    village = _village(code)
    values = {k: request.form.get(k, "") for k in ("text", "category", "name", "contact")}
    channel = "qr" if (request.values.get("via") == "qr") else "web"
    errors: dict = {}
    message = None
    status = 200
    if request.method == "POST":
        body = {"village": code, "text": values["text"], "category": values["category"] or None,
                "name": values["name"] or None, "contact": values["contact"] or None, "channel": channel,
                "township_official": request.form.get("township_official") == "on"}
        try:
            _limit()
            lead = engine().file_lead(body, files=_photos())
        except Invalid as exc:
            errors, message, status = exc.fields, exc.message, 422
        except CunwuError as exc:
            message, status = exc.message, exc.status
        else:  # the receipt is the answer to the POST: the code never appears in a URL
            return render_template("lead_receipt.html", village=village, lead=lead), 201
    return render_template("lead_new.html", village=village, values=values, errors=errors, message=message,
                           categories=CATEGORIES, channel=channel, max_photos=MAX_LEAD_PHOTOS,
                           max_upload_text=_upload_text()), status


def _add_photos(code: str) -> str:
    """Photos sent later with the code from the lookup page: all checked first (a bad one stores
    none of them), then stored one by one (each may still meet the 9-file limit: 409)."""
    from engine.records.evidence import sniff, too_large_error

    from ..evidence import upload_limit

    limit = upload_limit()
    files = _photos()
    if not files:
        message = "请先拍照或选择要补充的照片"
        raise Invalid(message, {"file": [message]})
    for number, (_name, data) in enumerate(files, start=1):
        if len(data) > limit:
            raise too_large_error(limit)
        try:
            sniff(data)
        except Invalid as exc:
            raise Invalid(f"第{number}个文件：{exc.fields['file'][0]}，都未保存", exc.fields) from exc
    engine().lead_status(code)  # an unknown code is a 404 before anything is stored
    for name, data in files:
        engine().add_lead_photo(code, name, data, limit)
    return f"已补充{len(files)}件照片或材料，只有纪委工作人员能看到。"


def _upload_text() -> str:
    from engine.records.evidence import size_text

    from ..evidence import upload_limit

    return size_text(upload_limit())


def _photos() -> list[tuple[str, bytes]]:
    """The photos and scans sent with the form (camera or files): ``(name, bytes)``, each read up
    to one byte past the limit (the engine refuses what is over it, naming the file)."""
    from werkzeug.exceptions import RequestEntityTooLarge

    from ..evidence import upload_limit

    limit = upload_limit()
    try:
        uploads = [f for f in request.files.getlist("photos") if f and f.filename]
        return [(f.filename, f.stream.read(limit + 1)) for f in uploads]
    except RequestEntityTooLarge as exc:
        message = f"照片或材料合计超过大小上限（{_upload_text()}），请少选几张或压缩后再提交"
        raise Invalid(message, {"file": [message]}) from exc


@bp.route("/cases/<int:case_id>/lead/supervise", methods=["POST"])
@login_required
def lead_supervise(case_id: int):
    """县纪委督办 from the lead's page: reason and deadline; back to the lead."""
    try:
        engine().supervise_lead(username(), case_id, {"reason": request.form.get("reason") or "",
                                                      "due": request.form.get("due") or ""})
    except (Forbidden, NotFound):
        raise
    except CunwuError as exc:
        flash(exc.message, "error")
    else:
        flash("已督办，乡镇纪委已收到通知。")
    return redirect(url_for("web.case", case_id=case_id) + "#lead")


@bp.route("/cases/<int:case_id>/lead/accountability", methods=["POST"])
@login_required
def lead_accountability(case_id: int):
    """一案双查: one accountability record from the lead's page."""
    body = {k: request.form.get(k) or None for k in ("person", "position", "duty", "measure", "decided_on",
                                                      "decided_by", "note")}
    try:
        saved = engine().add_accountability(username(), case_id, body)
    except (Forbidden, NotFound):
        raise
    except CunwuError as exc:
        flash(exc.message, "error")
    else:
        flash(f"已登记问责记录：{saved['position']}{saved['person']}，{saved['measure_name']}。")
    return redirect(url_for("web.case", case_id=case_id) + "#lead")


@bp.route("/leads/lookup", methods=["GET", "POST"])
def lead_lookup():
    """Look a lead up by its code; rate it or object to it from the same page."""
    code = (request.form.get("code") or "").strip()
    lead = None
    message = None
    ok = None
    status = 200
    if request.method == "POST" and code:
        action = request.form.get("action") or "show"
        try:
            if action == "rate":
                _limit()
                score = request.form.get("score") or ""
                engine().rate_lead(code, {"score": int(score) if score.isdigit() else score,
                                          "comment": request.form.get("comment") or None})
                ok = "感谢您的评价。"
            elif action == "object":
                _limit()
                engine().object_lead(code, {"text": request.form.get("objection") or ""})
                ok = "您的异议已收到，将由县纪委复查，复查意见会在本页显示。"
            elif action == "photo":
                _limit()
                ok = _add_photos(code)
            lead = engine().lead_status(code)
        except NotFound as exc:
            message, status = exc.message, 404
        except (Invalid, Conflict) as exc:
            message, status = exc.message, exc.status
            lead = engine().lead_status(code)
        except CunwuError as exc:  # 413: a file over the limit
            message, status = exc.message, exc.status
            lead = engine().lead_status(code)
    elif request.method == "POST":
        message, status = "请输入查询码", 422
    return render_template("lead_lookup.html", lead=lead, code=code, message=message, ok=ok), status


@bp.route("/township/leads/new", methods=["GET", "POST"])
@roles_required("discipline_inspector", "county_inspector", message="来电、来信、来访由乡镇纪委、县纪委工作人员登记")
def lead_enter():
    """A 纪委 cadre enters a lead received by phone, letter or visit; the receipt's code goes to the reporter."""
    from .common import me

    villages = [v for v in me()["villages"] if {"discipline_inspector", "county_inspector"} & set(v["roles"])]
    values = {k: request.form.get(k, "") for k in ("village", "channel", "text", "category", "name", "contact")}
    errors: dict = {}
    message = None
    status = 200
    if request.method == "POST":
        body = {"village": values["village"], "text": values["text"], "category": values["category"] or None,
                "name": values["name"] or None, "contact": values["contact"] or None,
                "channel": values["channel"] or "phone",
                "township_official": request.form.get("township_official") == "on"}
        try:
            lead = engine().file_lead(body, username=username(), files=_photos())
        except Invalid as exc:
            errors, message, status = exc.fields, exc.message, 422
        except CunwuError as exc:
            message, status = exc.message, exc.status
        else:
            village = reports.village(engine(), lead["village"])
            return render_template("lead_receipt.html", village=village, lead=lead, entered=True), 201
    return render_template("lead_enter.html", villages=villages, values=values, errors=errors, message=message,
                           categories=CATEGORIES), status


@bp.route("/township/leads")
@roles_required("discipline_inspector", "county_inspector", "admin", message="问题线索仅供乡镇纪委、县纪委查看")
def leads_desk():
    village = request.args.get("village") or None
    status = request.args.get("status") or None
    data = engine().leads_desk(username(), village, status)
    return render_template("leads_desk.html", village=village, status=status,
                           villages=reports.villages(engine()), **data)


LEAD_HEAD = ["线索", "村", "类别", "渠道", "实名", "收到时间", "受理期限", "状态", "当前环节", "期限", "逾期",
             "责任单位", "经办人", "完成时限", "完成标准", "评价（分）", "县纪委督办（办结时限）", "一案双查问责（人次）"]


@bp.route("/township/leads/export.csv")
@roles_required("discipline_inspector", "county_inspector", "admin", message="问题线索仅供乡镇纪委、县纪委查看")
def leads_csv():
    """The lead desk as CSV (never the reporter's name or contact); formula-like cells as text."""
    from .common import fmt_time
    from .exports import csv_response

    data = engine().leads_desk(username(), request.args.get("village") or None, request.args.get("status") or None)
    rows = []
    for lead in data["leads"]:
        a = lead["assignment"]
        rows.append([
            lead["title"], lead["village_name"], lead["category_name"], lead["channel_name"],
            "是" if lead["real_name"] else "否", fmt_time(lead["received_at"]), fmt_time(lead["accept_due"]),
            lead["status_name"], lead["stage"], fmt_time(lead["due_at"]), "是" if lead["overdue"] else "",
            a.get("responsible_unit", ""), a.get("handler", ""), a.get("complete_by", ""), a.get("standard", ""),
            lead["rating"] if lead["rating"] is not None else "",
            fmt_time(lead["supervision_due"], "%Y-%m-%d") if lead["supervised"] else "", lead["accountability"] or ""])
    stats = data["stats"]
    summary = ["合计", stats["total"], "逾期", stats["overdue"], "按期受理率",
               "" if stats["on_time_rate"] is None else f"{stats['on_time_rate']:.0%}",
               "满意度", "" if stats["satisfaction"] is None else stats["satisfaction"],
               "县纪委督办", stats["supervised"], "一案双查问责（人次）", stats["accountability_total"]]
    return csv_response(LEAD_HEAD, [rows, [[], summary]], "attachment; filename=leads.csv")


@bp.app_context_processor
def _lead_choices() -> dict:
    """The choices of the 一案双查 form on the lead's page."""
    return {"lead_duties": DUTIES, "lead_measures": MEASURES}

"""Pages of the village cadres: login, 我的待办, 发起事项, the task form, the case page."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for

from engine.domain.errors import CunwuError, Forbidden, Invalid, NotFound, TooManyRequests
from engine.domain.roles import VILLAGE_ROLES
from engine.services import reports

from ..auth import end_web_session, open_web_session
from ..auth import login as check_login
from .common import (
    acting_village,
    bp,
    case_chart,
    engine,
    form_data,
    login_required,
    me,
    now_local,
    safe_next,
    split_errors,
    username,
)

#: Roles that may put a case on hold (shown as a hint; the engine decides).
HOLD_HINT_ROLES = {"supervisor", "township_official", "discipline_inspector", "county_inspector"}


# -- home, login --------------------------------------------------------------------------
@bp.route("/")
def home():
    if me() is None:
        return render_template("home_public.html", villages=reports.villages(engine()))
    return worklist()


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    next_url = request.values.get("next")
    status = 200
    if request.method == "POST":
        name = (request.form.get("username") or "").strip()
        try:
            user = check_login(name, request.form.get("password") or "")
        except TooManyRequests as exc:
            return render_template("login.html", error=exc.message, next=next_url or "", username=name), 429
        if user is None:
            error = "用户名或密码错误"
            status = 401
        else:
            open_web_session(user)
            profile = reports.profile(engine(), user.username)
            if profile and len(profile["villages"]) == 1:
                session["village"] = profile["villages"][0]["code"]
            elif profile and len(profile["villages"]) > 1 and not (
                    profile["township_roles"] or profile["county_roles"] or profile["is_admin"]):
                return redirect(url_for("web.choose_village", next=safe_next(next_url)))
            return redirect(safe_next(next_url) if next_url else _landing(profile))
    return render_template("login.html", error=error, next=next_url or "",
                           username=request.form.get("username", "")), status


def _landing(profile: dict | None) -> str:
    """Each role lands on its own desk (issue 15): the county inspector on the county desk, a township
    official or discipline inspector without village roles on the township desk; everyone else on
    their worklist (the desks link back to it in the menu)."""
    roles = set((profile or {}).get("roles") or [])
    if roles & VILLAGE_ROLES or not roles:
        return url_for("web.home")
    if "county_inspector" in roles:
        return url_for("web.county")
    if roles & {"township_official", "discipline_inspector"}:
        return url_for("web.township")
    return url_for("web.home")


@bp.route("/logout", methods=["POST"])
def logout():
    end_web_session()  # the server forgets the session: a replayed cookie is logged out too
    flash("您已退出登录。")
    return redirect(url_for("web.home"))


@bp.route("/village", methods=["GET", "POST"])
@login_required
def choose_village():
    profile = me()
    may_pick_all = profile["township_roles"] or profile["county_roles"] or profile["is_admin"]
    if request.method == "POST":
        code = request.form.get("village") or ""
        if code and code not in {v["code"] for v in profile["villages"]}:
            raise Forbidden("您在该村没有职务")
        if not code and not may_pick_all and len(profile["villages"]) > 1:
            flash("请选择您要办理事务的村。", "error")
            return redirect(url_for("web.choose_village"))
        session["village"] = code
        return redirect(safe_next(request.form.get("next")))
    return render_template("choose_village.html", villages=profile["villages"], may_pick_all=may_pick_all,
                           current=acting_village(), next=request.args.get("next", ""))


# -- worklist and starting ------------------------------------------------------------------
def _startable(village_code: str | None) -> list[dict]:
    """Catalogue items this person may start, each with the villages they may start it in
    (the ``starters`` roles of the catalogue entry against the person's roles there)."""
    profile = me()
    out = []
    for p in engine().processes():
        starters = set(p.get("starters") or [])
        where = [v for v in profile["villages"] if set(v["roles"]) & starters
                 and (village_code is None or v["code"] == village_code)]
        if where:
            out.append({**p, "villages": where})
    return out


@bp.route("/tasks")
@login_required
def worklist():
    village = acting_village()
    tasks = engine().list_tasks(username(), village)
    cases = engine().list_cases(username(), village_code=village, limit=10)
    return render_template("worklist.html", tasks=tasks, startable=_startable(village), cases=cases,
                           village=village)


@bp.route("/start")
@login_required
def start_list():
    return render_template("start_list.html", items=_startable(acting_village()))


def _start_fields(key: str) -> tuple[dict, list[dict]]:
    process = engine().process(key)
    steps = process.get("steps") or []
    form = steps[0].get("form") if steps else None
    fields = []
    if form:
        from engine.forms import FORMS, describe

        if form in FORMS:
            # A new case cannot be withdrawn: the flag belongs to revised proposals only.
            fields = [f for f in describe(form) if f["name"] != "withdraw"]
    return process, fields


@bp.route("/start/<key>", methods=["GET", "POST"])
@login_required
def start(key: str):
    process, fields = _start_fields(key)
    items = {p["key"]: p for p in _startable(acting_village())}
    villages = items.get(key, {}).get("villages", [])
    if not villages:
        raise Forbidden(f"您不能发起“{process['name']}”（须由{_starter_names(process)}发起）")
    has_title = any(f["name"] == "title" for f in fields)
    errors: dict = {}
    other: list[str] = []
    values = dict(request.form) if request.method == "POST" else {}
    status = 200
    if request.method == "POST":
        data = form_data(fields, request.form)
        village = request.form.get("village") or (villages[0]["code"] if len(villages) == 1 else "")
        title = data.get("title") if has_title else (request.form.get("case_title") or "").strip()
        try:
            case = engine().start_case(username(), key, village, title or "", data)
        except Invalid as exc:
            fld = list(fields) + [{"name": "village", "label": "村"}, {"name": "case_title", "label": "事项标题"}]
            mapped = dict(exc.fields or {})
            if "title" in mapped and not has_title:
                mapped["case_title"] = mapped.pop("title")
            errors, other = split_errors(fld, mapped)
            if not exc.fields:
                other.append(exc.message)
            status = 422
        except CunwuError as exc:
            other = [exc.message]
            status = exc.status
        else:
            flash(f"已发起“{case['title']}”。")
            return redirect(url_for("web.case", case_id=case["id"]))
    return render_template("start.html", process=process, fields=fields, villages=villages, has_title=has_title,
                           values=values, errors=errors, other=other, today=now_local().date().isoformat()), status


def _starter_names(process: dict) -> str:
    from engine.domain.roles import ROLES

    return "、".join(ROLES.get(r, r) for r in process.get("starters") or []) or "指定人员"


# -- a task ---------------------------------------------------------------------------------
def _may_do(task_id: str) -> bool:
    return any(t["id"] == task_id for t in engine().list_tasks(username()))


MEETING_FIELDS_BY_BODY = {  # meeting fields that only some bodies use (the engine checks them too)
    "attended_households": {"villager_assembly"},
    "announced_on": {"villager_assembly"},
    "supervisors_present": {"two_committees", "representatives"},
    "supervisor_opinion": {"two_committees", "representatives"},
    "written_approve": {"party_members"},
    "written_oppose": {"party_members"},
}


WRITTEN_VOTES_ITEMS = {"party-admission"}  # 书面意见 count only at the 发展党员 支部大会 (细则第二十条)


def _visible_fields(task: dict, process: str | None = None) -> list[dict]:
    fields = task.get("fields") or []
    if task.get("form") == "meeting":
        body = task.get("body")
        fields = [f for f in fields if body in MEETING_FIELDS_BY_BODY.get(f["name"], {body})
                  and (not f["name"].startswith("written_") or process in WRITTEN_VOTES_ITEMS)]
    return fields


@bp.route("/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(task_id: str):
    task = engine().get_task(username(), task_id)
    case = engine().get_case(username(), task["case"])
    may_do = task["state"] == "ready" and _may_do(task_id)
    fields = _visible_fields(task, case.get("process"))
    errors: dict = {}
    other: list[str] = []
    values = dict(request.form) if request.method == "POST" else dict(task.get("prefill") or {})
    status = 200
    if request.method == "POST":
        data = form_data(fields, request.form)
        try:
            engine().complete_task(username(), task_id, data)
        except Invalid as exc:
            errors, other = split_errors(fields, exc.fields)
            if not exc.fields or not errors:
                other.insert(0, exc.message)
            status = 422
        except CunwuError as exc:
            other = [exc.message]
            status = exc.status
        else:
            flash(f"“{task['title']}”已办理。")
            return redirect(url_for("web.case", case_id=case["id"]))
    from engine.records.evidence import size_text

    from ..evidence import upload_limit

    return render_template("task.html", task=task, case=case, fields=fields, may_do=may_do, values=values,
                           errors=errors, other=other, **case_chart(case["id"]),
                           today=now_local().date().isoformat(),
                           attachments=engine().task_attachments(username(), task_id),
                           max_upload_text=size_text(upload_limit())), status


def save_uploads(save, missing: str, saved_note) -> list[dict]:
    """Each file chosen in the form field ``file`` (the camera or files), stored one by one with
    ``save(name, data, limit)``; a note for each (``saved_note(saved)``, or why it was refused),
    ``missing`` when none was chosen. 403 and 404 are raised; the stored files are returned."""
    from werkzeug.exceptions import RequestEntityTooLarge

    from engine.records.evidence import too_large_error

    from ..evidence import upload_limit

    limit = upload_limit()
    try:
        files = [f for f in request.files.getlist("file") if f and f.filename]
    except RequestEntityTooLarge:
        files = None
        flash(too_large_error(limit).message, "error")
    if files == []:
        flash(missing, "error")
    stored = []
    for upload in files or []:
        data = upload.stream.read(limit + 1)
        try:
            if len(data) > limit:
                raise too_large_error(limit)
            saved = save(upload.filename, data, limit)
        except (Forbidden, NotFound):
            raise
        except CunwuError as exc:
            flash(f"“{upload.filename}”未上传：{exc.message}", "error")
        else:
            flash(saved_note(saved))
            stored.append(saved)
    return stored


@bp.route("/tasks/<task_id>/attachments", methods=["POST"])
@login_required
def task_upload(task_id: str):
    """Upload evidence from the task page (the camera or files); back to the task with a note."""
    save_uploads(lambda name, data, limit: engine().upload_attachment(username(), task_id, name, data, limit),
                 "请先拍照或选择要上传的文件。", lambda saved: f"已上传“{saved['name']}”，提交本步骤时记入记录。")
    return redirect(url_for("web.task", task_id=task_id) + "#evidence")


@bp.route("/board/<int:entry_id>/photos", methods=["POST"])
@login_required
def notice_photo_upload(entry_id: int):
    """The photo of a posted notice (张贴照片, R44) from the case page: the phone's camera or files."""
    case_id = request.form.get("case", type=int)
    stored = save_uploads(
        lambda name, data, limit: engine().add_notice_photo(username(), entry_id, name, data, limit),
        "请先拍照或选择张贴照片。",
        lambda saved: f"已上传张贴照片“{saved['name']}”，已记入公开栏存证"
                      + ("（已超过张榜后2日的期限）。" if saved["late"] else "。"))
    if stored:
        case_id = stored[-1]["case"]
    if case_id:
        return redirect(url_for("web.case", case_id=case_id) + f"#entry-{entry_id}")
    return redirect(url_for("web.home"))


@bp.route("/attachments/<int:attachment_id>/remove", methods=["POST"])
@login_required
def attachment_remove(attachment_id: int):
    """Take back a photo uploaded by mistake, before the step is submitted."""
    try:
        removed = engine().remove_attachment(username(), attachment_id)
    except (Forbidden, NotFound):
        raise
    except CunwuError as exc:
        flash(exc.message, "error")
        return redirect(url_for("web.home"))
    flash(f"已移除“{removed['name']}”。")
    return redirect(url_for("web.task", task_id=removed["task"]) + "#evidence")


@bp.route("/attachments/<int:attachment_id>/jpeg")
@login_required
def attachment_jpeg(attachment_id: int):
    """An image attachment as a JPEG the browser shows: a phone's HEIC photo converted (the original
    stays the evidence, at /api/v1/attachments/{id})."""
    from flask import Response

    from ..evidence import content_disposition

    meta, data = engine().attachment_jpeg(username(), attachment_id)
    response = Response(data, mimetype="image/jpeg")
    stem = meta["name"].rsplit(".", 1)[0]
    response.headers["Content-Disposition"] = content_disposition(f"{stem}.jpg")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/attachments/<int:attachment_id>/thumb")
@login_required
def attachment_thumb(attachment_id: int):
    """A small JPEG of an image attachment (no metadata), for the task and case pages."""
    from flask import Response

    data = engine().attachment_thumbnail(username(), attachment_id)
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


# -- a case ---------------------------------------------------------------------------------
def _case_context(case_id: int) -> dict:
    case = engine().get_case(username(), case_id)
    entries = []
    for item in case.get("board") or []:
        try:
            entries.append(engine().board_entry(item["id"]))
        except NotFound:
            continue
    mine = {t["id"] for t in engine().list_tasks(username()) if t["case"] == case_id}
    village = reports.village(engine(), case["village"])
    roles = set(next((v["roles"] for v in me()["villages"] if v["code"] == case["village"]), []))
    photos = engine().case_notice_photos(username(), case_id)
    return {"case": case, "entries": entries, "mine": mine, "village": village, "photos": photos,
            "may_hold": bool(roles & HOLD_HINT_ROLES)}


@bp.route("/cases")
@login_required
def cases():
    status = request.args.get("status") or None
    village = request.args.get("village") or acting_village()
    items = engine().list_cases(username(), status=status, village_code=village)
    return render_template("cases.html", cases=items, status=status, village=village)


@bp.route("/cases/<int:case_id>")
@login_required
def case(case_id: int):
    ctx = _case_context(case_id)
    return render_template("case.html", **case_chart(case_id), **ctx)


@bp.route("/villages/<code>/archive")
@login_required
def archive(code: str):
    """村务档案目录: the village's closed cases with archive numbers, by year."""
    from engine.services.dossier import archive_list

    year = request.args.get("year", "")
    items = archive_list(engine(), username(), code, int(year) if year.isdigit() else None)
    years = sorted({a["year"] for a in archive_list(engine(), username(), code)}, reverse=True)
    return render_template("archive.html", items=items, years=years, year=year, code=code,
                           village=reports.village(engine(), code))


@bp.route("/cases/<int:case_id>/print")
@login_required
def case_print(case_id: int):
    ctx = _case_context(case_id)
    return render_template("case_print.html", **case_chart(case_id), printed_at=now_local(), print_mode=True,
                           **ctx)


@bp.route("/cases/<int:case_id>/hold", methods=["POST"])
@login_required
def case_hold(case_id: int):
    try:
        engine().hold_case(username(), case_id, request.form.get("reason") or "")
    except (Invalid, CunwuError) as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        flash(exc.message, "error")
    else:
        flash("事项已暂停，暂停期间任何人不能办理。")
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("web.case", case_id=case_id))


@bp.route("/cases/<int:case_id>/release", methods=["POST"])
@login_required
def case_release(case_id: int):
    try:
        engine().release_case(username(), case_id, request.form.get("note") or "")
    except CunwuError as exc:
        if isinstance(exc, Forbidden | NotFound):
            raise
        flash(exc.message, "error")
    else:
        flash("事项已恢复办理。")
    return redirect(safe_next(request.form.get("next")) if request.form.get("next")
                    else url_for("web.case", case_id=case_id))


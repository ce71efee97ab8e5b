"""管理 › 人员 (issue 15): the admin's pages for people: a list with filters, a new person, a
person's page (name, phone, email, roles; disable or enable; a new password). Every rule is the
engine's (engine.services.people); the pages draw its answers and its Chinese messages next to the fields."""

from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for

from engine.domain.errors import CunwuError
from engine.domain.roles import COUNTY_ROLES, ROLES, TOWNSHIP_ROLES, VILLAGE_ROLES
from engine.services import reports

from .common import bp, engine, roles_required, username

ADMIN_MESSAGE = "管理页面仅供系统管理员使用"
#: Role rows on a person's form (the person's own plus blank ones to add).
BLANK_ROLE_ROWS = 2
MAX_ROLE_ROWS = 40


def _scopes() -> dict:
    villages = reports.villages(engine())
    townships = sorted({v["township"] for v in villages})
    counties = sorted({v["county"] for v in villages if v.get("county")})
    return {"villages": villages, "townships": townships, "counties": counties}


def _role_rows(person: dict | None, posted: list[dict] | None = None) -> list[dict]:
    rows = []
    if posted is not None:
        rows = [{"role": r.get("role", ""), "scope": r.get("_scope", "")} for r in posted]
    elif person:
        for r in person["roles"]:
            scope = (f"village:{r['village']}" if r.get("village") else f"township:{r['township']}"
                     if r.get("township") else f"county:{r['county']}" if r.get("county") else "")
            rows.append({"role": r["role"], "scope": scope})
    return rows + [{"role": "", "scope": ""} for _ in range(BLANK_ROLE_ROWS)]


def _posted_roles() -> list[dict]:
    """The role rows of the form as entries of the import file: ``{role, village|township|county}``.
    The scope select's value is ``village:CODE``, ``township:NAME``, ``county:NAME`` or empty."""
    roles = []
    for i in range(MAX_ROLE_ROWS):
        role = (request.form.get(f"role_{i}") or "").strip()
        scope = (request.form.get(f"scope_{i}") or "").strip()
        if not role:
            continue
        entry = {"role": role, "_scope": scope}
        kind, _, value = scope.partition(":")
        if kind in ("village", "township", "county") and value:
            entry[kind] = value
        roles.append(entry)
    return roles


def _clean(roles: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in roles]


def _field_errors(exc: CunwuError) -> dict[str, list[str]]:
    fields = exc.fields or {}
    return {k: (v if isinstance(v, list) else [v]) for k, v in fields.items()} or {"_": [exc.message]}


def _form(person: dict | None, *, status: int = 200, errors: dict | None = None, values: dict | None = None,
          roles: list[dict] | None = None, password: str | None = None):
    html = render_template("admin_person.html", person=person, errors=errors or {}, values=values or {},
                           role_rows=_role_rows(person, roles), roles=ROLES, village_roles=VILLAGE_ROLES,
                           township_roles=TOWNSHIP_ROLES, county_roles=COUNTY_ROLES, password=password,
                           **_scopes())
    response = make_response(html, status)
    if password:  # a one-time password is shown once: never cached
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/admin/people")
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_people():
    args = request.args
    active = {"1": True, "0": False}.get(args.get("active", ""))
    filters = {"village": args.get("village") or None, "township": args.get("township") or None,
               "role": args.get("role") if args.get("role") in ROLES else None, "active": active}
    people = engine().people(username(), **filters)
    return render_template("admin_people.html", people=people, filters=filters, roles=ROLES,
                           log=engine().people_log(username(), limit=20), **_scopes())


@bp.route("/admin/people/new")
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person_new():
    return _form(None)


@bp.route("/admin/people", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person_create():
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in ("username", "name", "phone", "email")}
    roles = _posted_roles()
    entry = {**values, "password": form.get("password") or "", "roles": _clean(roles)}
    try:
        person, generated = engine().create_person(username(), entry)
    except CunwuError as exc:
        if exc.status != 422:
            raise
        return _form(None, status=422, errors=_field_errors(exc), values=values, roles=roles)
    flash(f"已新建人员“{person['name']}”（{person['username']}）。")
    if generated:  # shown once: it is never stored in clear
        return _form(engine().person(username(), person["username"]), password=generated)
    return redirect(url_for("web.admin_person", target=person["username"]))


@bp.route("/admin/people/<target>")
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person(target: str):
    return _form(engine().person(username(), target))


@bp.route("/admin/people/<target>", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person_update(target: str):
    form = request.form
    values = {k: (form.get(k) or "").strip() for k in ("name", "phone", "email")}
    roles = _posted_roles()
    try:
        engine().update_person(username(), target, {**values, "roles": _clean(roles)})
    except CunwuError as exc:
        if exc.status != 422:
            raise
        return _form(engine().person(username(), target), status=422, errors=_field_errors(exc), values=values,
                     roles=roles)
    flash("已保存。")
    return redirect(url_for("web.admin_person", target=target))


@bp.route("/admin/people/<target>/active", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person_active(target: str):
    active = request.form.get("active") == "1"
    try:
        engine().set_person_active(username(), target, active)
    except CunwuError as exc:
        if exc.status not in (409, 422):
            raise
        flash(exc.message, "error")
    else:
        flash("已启用。" if active else "已停用：此人已无法登录，原有的登录和令牌全部失效。")
    return redirect(url_for("web.admin_person", target=target))


@bp.route("/admin/people/<target>/password", methods=["POST"])
@roles_required("admin", message=ADMIN_MESSAGE)
def admin_person_password(target: str):
    given = request.form.get("password") or ""
    try:
        password = engine().reset_password(username(), target, given or None)
    except CunwuError as exc:
        if exc.status != 422:
            raise
        return _form(engine().person(username(), target), status=422, errors=_field_errors(exc))
    flash("已重置密码：此人原有的登录和令牌全部失效。")
    return _form(engine().person(username(), target), password=None if given else password)

"""Pages without login: the village public board (公开栏) with objections, the catalogue of
items with their posters (看图做事), and the readable API documentation."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for

from engine.domain.errors import CunwuError, Invalid, NotFound
from engine.services import reports

from .common import bp, diagrams_available, engine, process_chart


def _client_key() -> str:
    return request.remote_addr or ""


def _render_board(code: str, *, entry_id: int | None = None, errors: dict | None = None,
                  message: str | None = None, values: dict | None = None, status: int = 200):
    village = reports.village(engine(), code)
    if village is None:
        raise NotFound(f"没有编码为“{code}”的村")
    entries = engine().board(code)
    verify = engine().verify_board(code)
    return render_template("board.html", village=village, entries=entries, verify=verify,
                           failed_entry=entry_id, errors=errors or {}, message=message,
                           values=values or {}), status


@bp.route("/villages/<code>/board")
def board(code: str):
    return _render_board(code)


@bp.route("/villages/<code>/board/photos/<digest>")
def board_photo(code: str, digest: str):
    """A disclosure's photo as the board shows it: the copy without location data, by its hash."""
    from flask import Response

    data = engine().public_photo(code, digest)
    mimetype = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    response = Response(data, mimetype=mimetype)
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"  # named by its hash
    return response


@bp.route("/villages/<code>/board/<int:entry_id>/objections", methods=["POST"])
def board_objection(code: str, entry_id: int):
    values = {k: request.form.get(k, "") for k in ("name", "contact", "text")}
    entry = engine().board_entry(entry_id)
    if entry["village"] != code:
        raise NotFound(f"本村公开栏没有编号为{entry_id}的条目")
    try:
        current_app.extensions["cunwu_objection_limiter"].check(_client_key())
        engine().file_objection(entry_id, values["name"], values["contact"], values["text"])
    except Invalid as exc:
        return _render_board(code, entry_id=entry_id, errors=exc.fields, message=exc.message, values=values,
                             status=422)
    except CunwuError as exc:
        if isinstance(exc, NotFound):
            raise
        return _render_board(code, entry_id=entry_id, message=exc.message, values=values, status=exc.status)
    flash("您的异议已收到。村务监督委员会将调查核实并在公开栏公布答复；答复之前，该事项不能进入下一步。")
    return redirect(url_for("web.board", code=code) + f"#entry-{entry_id}")


@bp.route("/board")
def catalogue():
    """看图做事: every catalogue item with its poster. With the diagrams service the charts are
    lazy-loaded images of the public diagram endpoint (cached there); without it, inline SVG
    from ``diagrams.render`` when that exists, else the list of steps alone."""
    service = current_app.extensions.get("cunwu_diagrams") is not None
    village = request.args.get("village") or None
    if village and reports.village(engine(), village) is None:
        village = None
    items = []
    for p in engine().processes():
        detail = engine().process(p["key"])
        items.append({**detail, "chart": None if service else process_chart(p["key"])})
    categories: dict[str, list[dict]] = {}
    for item in items:
        group = categories.setdefault(f"{item['category']}类 · {item['category_name']}", [])
        group.append(item)
        item["number"] = f"{item['category']}{len(group)}"  # 清单编号 as villagers read it: A1, A2 …
    return render_template("catalogue.html", items=items, categories=categories, service=service,
                           diagrams=service or diagrams_available(), village=village,
                           villages=reports.villages(engine()))


# -- API docs -------------------------------------------------------------------------------
METHODS = ("get", "post", "put", "patch", "delete")


def _spec() -> dict:
    api = current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"]
    return api.spec.to_dict()


def _ref_name(schema: dict | None) -> str | None:
    if not schema:
        return None
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array" and schema.get("items"):
        inner = _ref_name(schema["items"])
        return f"{inner}[]" if inner else "array"
    return schema.get("type")


def _type_text(prop: dict) -> str:
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    kind = prop.get("type", "")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"{_type_text(prop.get('items') or {})}[]"
    if prop.get("format"):
        kind = f"{kind} ({prop['format']})"
    if prop.get("nullable"):
        kind += "，可为空"
    return kind or "any"


def _operations(spec: dict) -> list[dict]:
    out = []
    for path, item in spec.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if not op:
                continue
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            responses = []
            for code, resp in op.get("responses", {}).items():
                if "$ref" in resp:
                    name = resp["$ref"].rsplit("/", 1)[-1]
                    resp = spec.get("components", {}).get("responses", {}).get(name, {})
                schema = (resp.get("content") or {}).get("application/json", {}).get("schema")
                responses.append({"code": code, "description": resp.get("description", ""),
                                  "schema": _ref_name(schema)})
            out.append({"path": path, "method": method.upper(), "summary": op.get("summary", ""),
                        "description": op.get("description", ""), "auth": bool(op.get("security")),
                        "parameters": [{"name": p["name"], "in": p["in"], "required": p.get("required", False),
                                        "type": _type_text(p.get("schema") or {}),
                                        "description": p.get("description", "")}
                                       for p in list(shared) + list(op.get("parameters", []))],
                        "body": _ref_name(body), "responses": responses,
                        "anchor": f"{method}-{path}".replace("/", "-").replace("{", "").replace("}", "")})
    return out


def _schemas(spec: dict) -> list[dict]:
    out = []
    for name, schema in spec.get("components", {}).get("schemas", {}).items():
        required = set(schema.get("required", []))
        props = [{"name": k, "type": _type_text(v), "required": k in required,
                  "description": v.get("description", ""), "enum": v.get("enum")}
                 for k, v in (schema.get("properties") or {}).items()]
        out.append({"name": name, "properties": props, "description": schema.get("description", "")})
    return out


@bp.route("/api/v1/docs")
@bp.route("/docs/api")
def api_docs():
    spec = _spec()
    return render_template("api_docs.html", info=spec.get("info", {}), version=spec.get("openapi"),
                           operations=_operations(spec), schemas=_schemas(spec))

"""What the API's resource modules share: the one blueprint (/api/v1), the request-body base
schema, the OpenAPI fragments and the small request helpers."""

from __future__ import annotations

from flask import current_app, jsonify, request
from flask_smorest import Blueprint
from marshmallow import EXCLUDE, Schema
from webargs.flaskparser import FlaskParser, is_json_request

from engine.domain.errors import Invalid

from ..auth import current_username


class BodyOnceParser(FlaskParser):
    """webargs' parser, reading the JSON body that web/security.py already parsed and checked
    (one parse per request) instead of parsing the bytes again."""

    def _raw_load_json(self, req):
        cached = req._cached_json[False] if is_json_request(req) else Ellipsis
        return super()._raw_load_json(req) if cached is Ellipsis else cached


blp = Blueprint("api", "web.api", url_prefix="/api/v1", description="阳光村务 JSON API")
blp.ARGUMENTS_PARSER = BodyOnceParser()

BEARER = [{"bearerAuth": []}]

UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "JPEG、PNG 或 PDF（按内容判断），不超过 CUNWU_MAX_UPLOAD（默认 20 MB）"}}}}}}}


class In(Schema):
    """A request body: unknown keys are dropped, not refused."""

    class Meta:
        unknown = EXCLUDE


def raw_body() -> dict:
    """The request's JSON object as sent (web/api/__init__.py refuses a body that is not one)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def created(payload) -> tuple:
    """A JSON answer with status 201, for routes whose output has no declared schema."""
    return jsonify(payload), 201


def rate_limit(name: str) -> None:
    """Count this request against the limiter ``app.extensions[name]`` (by client address), if set."""
    limiter = current_app.extensions.get(name)
    if limiter is not None:
        limiter.check(request.remote_addr or "")


def optional_username() -> str | None:
    """The cadre entering a phone call or letter is logged in; a reporter is not."""
    if not request.headers.get("Authorization"):
        return None
    return current_username()


def int_arg(name: str, default: int, maximum: int) -> int:
    """A non-negative integer query argument up to ``maximum`` (422 otherwise)."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise Invalid(f"{name} 须为0到{maximum}之间的整数", {name: [f"须为0到{maximum}之间的整数"]})
    return int(raw)


def query_doc(*names: tuple[str, str]) -> list[dict]:
    """OpenAPI parameters for string query arguments given as ``(name, description)`` pairs."""
    return [{"in": "query", "name": n, "schema": {"type": "string"}, "description": d} for n, d in names]

"""Errors in the contract's shape: ``{"error": {"code", "message", "fields"}}``, never a 500
for bad input."""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from engine.domain.errors import CunwuError

HTTP_MESSAGES = {
    400: ("bad_request", "请求格式不正确"),
    401: ("not_authenticated", "请先登录"),
    403: ("forbidden", "您无权进行此操作"),
    404: ("not_found", "找不到请求的内容"),
    405: ("method_not_allowed", "不支持此请求方法"),
    409: ("conflict", "与当前状态冲突"),
    413: ("too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "请以 JSON 格式提交（Content-Type: application/json）"),
    422: ("invalid", "提交的数据有误"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("server_error", "服务器内部错误，请稍后再试"),
    501: ("not_implemented", "该功能尚未提供"),
}


def error_response(status: int, message: str | None = None, code: str | None = None, fields: dict | None = None):
    default_code, default_message = HTTP_MESSAGES.get(status, ("error", "请求失败"))
    body = {"error": {"code": code or default_code, "message": message or default_message, "fields": fields or {}}}
    return jsonify(body), status


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _flatten_webargs(messages) -> dict:
    """webargs/smorest nest errors by location ({"json": {...}}): lift them to field level."""
    if not isinstance(messages, dict):
        return {"data": messages if isinstance(messages, list) else [str(messages)]}
    out: dict = {}
    for location, fields in messages.items():
        if isinstance(fields, dict) and location in ("json", "query", "form", "files", "headers", "view_args"):
            out.update(fields)
        else:
            out[location] = fields
    return out


def init_app(app: Flask) -> None:
    @app.errorhandler(CunwuError)
    def _domain_error(exc: CunwuError):
        if wants_json():
            return error_response(exc.status, exc.message, exc.code, exc.fields)
        from flask import render_template

        try:
            return render_template("error.html", status=exc.status, message=exc.message, fields=exc.fields), exc.status
        except Exception:  # noqa: BLE001 - templates may not exist yet
            return error_response(exc.status, exc.message, exc.code, exc.fields)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        fields = _flatten_webargs(data.get("messages")) if data.get("messages") else {}
        message = None
        if status == 422 and fields:
            first = next(iter(fields.items()))
            msg = first[1][0] if isinstance(first[1], list) and first[1] else first[1]
            message = f"提交的数据有误：{first[0]}：{msg}"
        elif status == 400 and "JSON" in str(exc.description or "").upper():
            message = "请求正文不是合法的 JSON"
        elif status == 400 and data.get("messages"):
            message = "请求格式不正确"
        if wants_json():
            return error_response(status, message, None, fields)
        from flask import render_template

        msg = message or HTTP_MESSAGES.get(status, ("", "请求失败"))[1]
        try:
            return render_template("error.html", status=status, message=msg, fields=fields), status
        except Exception:  # noqa: BLE001
            return error_response(status, message, None, fields)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # pragma: no cover - last resort, logged
        app.logger.exception("unexpected error")
        return error_response(500)

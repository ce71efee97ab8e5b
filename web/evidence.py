"""Uploads and downloads of evidence (attachments) for the JSON API and the pages.

The body limit of uploads is their own (``CUNWU_MAX_UPLOAD``, default 20 MB): a hook that runs
before every other one sets it on the request for the upload paths, so the other requests keep
the app's general limit.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Flask, Response, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

from engine.domain.errors import Invalid
from engine.records.evidence import max_upload, too_large_error

#: Room for the multipart envelope (boundaries, headers, a CSRF field) around the file itself.
OVERHEAD = 64 * 1024
UPLOAD_PATH = re.compile(r"^(/api/v1)?(/tasks/[^/]+/attachments|/board/\d+/photos)/?$")


def upload_limit() -> int:
    return max_upload(current_app.config.get("CUNWU_MAX_UPLOAD"))


def _upload_body_limit():
    if request.method != "POST" or not UPLOAD_PATH.match(request.path):
        return None
    limit = upload_limit()
    request.max_content_length = limit + OVERHEAD
    # A body larger than the file limit plus its envelope cannot hold an allowed file: say so in the
    # words of the upload before anything is read. The file itself is measured in read_upload.
    if request.content_length is not None and request.content_length > limit + OVERHEAD:
        raise too_large_error(limit)
    return None


def read_upload() -> tuple[str, bytes, int]:
    """``(file name, bytes, limit)`` of the multipart field ``file``; 413 over the limit, 422
    without a file."""
    limit = upload_limit()
    try:
        upload = request.files.get("file")
    except RequestEntityTooLarge as exc:
        raise too_large_error(limit) from exc
    if upload is None:
        message = "请选择要上传的文件（表单字段 file）"
        raise Invalid(message, {"file": [message]})
    try:
        data = upload.stream.read(limit + 1)
    except RequestEntityTooLarge as exc:
        raise too_large_error(limit) from exc
    if len(data) > limit:
        raise too_large_error(limit)
    return upload.filename or "", data, limit


def content_disposition(name: str, inline: bool = True) -> str:
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "file"
    return f"{'inline' if inline else 'attachment'}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def file_response(meta: dict, data: bytes, *, download: bool = False) -> Response:
    response = Response(data, mimetype=meta["content_type"])
    response.headers["Content-Disposition"] = content_disposition(meta["name"], inline=not download)
    response.headers["ETag"] = f'"{meta["sha256"]}"'
    response.headers["Cache-Control"] = "private, no-store"
    if meta["content_type"] == "application/pdf":
        # The browser's PDF viewer must be allowed; nothing of the document may run script.
        response.headers["Content-Security-Policy"] = "default-src 'self'; script-src 'none'; object-src 'self'"
    return response


def init_app(app: Flask) -> None:
    # First of all hooks: the CSRF check and the JSON check read the body.
    app.before_request_funcs.setdefault(None, []).insert(0, _upload_body_limit)

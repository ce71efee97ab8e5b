"""The JSON API (/api/v1), documented as OpenAPI by flask-smorest. Routes are thin: the engine
service owns every rule. One blueprint (``common.blp``); one module per resource registers its
routes on it when imported here."""

from __future__ import annotations

from flask import Flask, request
from flask_smorest import Api

from engine.domain.errors import BadRequest

from . import (  # noqa: F401  (importing a resource module registers its routes)
    assets,
    board,
    county,
    diagrams,
    instances,
    leads,
    ledger,
    notifications,
    people,
    processes,
    tasks,
    tokens,
)
from .common import blp


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "阳光村务 API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = Api(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"}}}})
    api.register_blueprint(blp)
    # smorest installs its own HTTP error handler; put the contract's shape back on top.
    from .. import errors

    errors.init_app(app)

    @app.before_request
    def _json_body_is_object():
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH") and request.data:
            body = request.get_json(silent=True)
            if body is None:
                raise BadRequest("请求正文不是合法的 JSON")
            if not isinstance(body, dict):
                raise BadRequest("请求正文必须是 JSON 对象")

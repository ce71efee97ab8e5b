"""The HTML pages of cunwu: server-rendered Jinja over the same engine service as the JSON API.

Routes are thin: every rule (who may see or do what, quorum, forms) lives in the engine; a
page only asks it and draws the answer. ``init_app`` registers the pages, the CSRF check,
the Jinja helpers and the objection rate limiter (shared with the JSON API).
"""

from __future__ import annotations

from flask import Flask

from . import admin, assets, desk, inbox, leads, ledger, pages, people, public  # noqa: F401 - they register their routes on ``bp``
from .common import bp, init_common


def init_app(app: Flask) -> None:
    init_common(app)
    app.register_blueprint(bp)

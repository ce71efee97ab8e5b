"""The Flask front of cunwu: ``create_app()`` builds the app (HTML pages, JSON API, CLI)."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask
from sqlalchemy import event

from engine.catalogue.catalog import Catalog
from engine.domain.clock import system_clock
from engine.records.evidence import make_store
from engine.services import Engine
from engine.store.db import make_engine, make_sessionmaker


def create_app(config: dict | None = None) -> Flask:
    instance = os.environ.get("CUNWU_INSTANCE_PATH")
    app = Flask(__name__, instance_relative_config=True, instance_path=instance or None)
    app.config.from_mapping(
        SECRET_KEY=os.environ.get("CUNWU_SECRET_KEY") or None,  # else web/security.py: instance folder
        DATABASE_URL=os.environ.get("CUNWU_DATABASE_URL"),
        CUNWU_CLOCK=system_clock,
        CUNWU_PROCESSES_DIR=os.environ.get("CUNWU_PROCESSES_DIR"),
        API_TOKEN_MAX_AGE=12 * 3600,
        WEB_SESSION_MAX_AGE=7 * 24 * 3600,
        JSON_SORT_KEYS=False,
    )
    if config:
        app.config.update(config)
    default_db = not app.config.get("DATABASE_URL")
    if default_db:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'cunwu.sqlite3'}"
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    db_engine = make_engine(app.config["DATABASE_URL"])
    if default_db:  # the instance folder is made when the database is first opened, not before
        @event.listens_for(db_engine, "do_connect")
        def _make_instance_folder(*_args):
            Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    processes = app.config.get("CUNWU_PROCESSES_DIR")
    catalog = Catalog(Path(processes) if processes else None)
    clock = app.config["CUNWU_CLOCK"]
    app.extensions["cunwu"] = Engine(make_sessionmaker(db_engine), lambda: clock(), catalog,
                                     files=make_store(app.config, app.instance_path))
    app.extensions["cunwu_db"] = db_engine

    from diagrams.service import Diagrams  # flowcharts and posters (GET …/diagram, cunwu render)

    from . import api, cli, errors, evidence, security, views

    # Posters are kept under <instance>/diagram-cache (in tests only when CUNWU_DIAGRAM_CACHE_DIR is given).
    cache = app.config.get("CUNWU_DIAGRAM_CACHE_DIR")
    if cache is None and not app.testing:
        cache = Path(app.instance_path) / "diagram-cache"
    app.extensions["cunwu_diagrams"] = Diagrams(
        app.extensions["cunwu"], cache_dir=Path(cache) if cache else None,
        public_url=app.config.get("CUNWU_PUBLIC_URL") or os.environ.get("CUNWU_PUBLIC_URL"),
        timezone=app.config.get("CUNWU_TIMEZONE") or "Asia/Shanghai")
    errors.init_app(app)
    api.init_app(app)
    cli.init_app(app)
    views.init_app(app)
    security.init_app(app)
    evidence.init_app(app)
    return app

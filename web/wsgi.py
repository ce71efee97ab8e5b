"""WSGI entry point for gunicorn: ``gunicorn web.wsgi:app``."""

import threading

from . import create_app

app = create_app()


def _warm_poster_renderer() -> None:
    """Import WeasyPrint (about a second of CPU) while the worker waits for its first requests, so
    the first poster it draws does not pay for it (issue 16: every poster under 1 s cold)."""
    try:
        import weasyprint  # noqa: F401
    except Exception:  # noqa: BLE001 - the poster route reports a missing renderer itself
        pass


threading.Thread(target=_warm_poster_renderer, name="cunwu-warm-posters", daemon=True).start()

"""CONTRACT "Secrets, sessions and hostile input": the installation's own key, sessions and
tokens the server can end (issue 11: A2-a, A2-c, A2-d, A2-e, A2-f, A1-c)."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from web import create_app
from web.cli import import_file

ROOT = Path(__file__).resolve().parent.parent


def _token(app, username="zhang", password="demo123"):
    r = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.get_json()
    return r.get_json()["token"]


def _bearer(token):
    return {"Authorization": f"Bearer {token}"}


def _web_login(app, username="zhao"):
    client = app.test_client()
    r = client.post("/login", data={"username": username, "password": "demo123"})
    assert r.status_code == 302, r.data[:300]
    return client, client.get_cookie("session").value


# -- tokens ---------------------------------------------------------------------------------------
def test_a_token_is_opaque(app):
    token = _token(app)
    assert len(token) >= 40 and "." not in token
    for piece in (token, token + "=="):  # not a readable payload (A2-e)
        try:
            raw = base64.urlsafe_b64decode(piece.encode())
        except ValueError:
            continue
        assert b"zhang" not in raw and b"scrypt" not in raw


def test_delete_revokes_the_token_and_only_it(app):
    client = app.test_client()
    first, second = _token(app), _token(app)
    assert client.get("/api/v1/tasks", headers=_bearer(first)).status_code == 200
    r = client.delete("/api/v1/auth/token", headers=_bearer(first))
    assert r.status_code == 204 and r.data == b""
    r = client.get("/api/v1/tasks", headers=_bearer(first))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "not_authenticated"
    assert client.delete("/api/v1/auth/token", headers=_bearer(first)).status_code == 401
    assert client.get("/api/v1/tasks", headers=_bearer(second)).status_code == 200


def test_delete_without_a_token_is_401(app):
    assert app.test_client().delete("/api/v1/auth/token").status_code == 401


def test_tokens_from_another_app_or_garbage_are_401(app):
    client = app.test_client()
    for junk in ("x", "a" * 5000, '["zhang"]', "eyJ1IjpbInpoYW5nIl19.abc.def", "\u00e9\u4e2d"):
        r = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {junk}".encode().decode("latin-1")})
        assert r.status_code == 401, junk


def test_a_token_expires(app):
    token = _token(app)
    from datetime import UTC, datetime, timedelta

    accounts = app.extensions["cunwu"].accounts
    later = datetime.now(UTC) + timedelta(seconds=app.config["API_TOKEN_MAX_AGE"] + 1)
    accounts.now = lambda: later
    assert app.test_client().get("/api/v1/tasks", headers=_bearer(token)).status_code == 401


def test_the_database_does_not_hold_the_token(app):
    token = _token(app)
    from sqlalchemy import select

    from engine.store.models import AuthSession

    with app.extensions["cunwu"].sessions() as s:
        ids = list(s.scalars(select(AuthSession.id)))
    assert ids and token not in ids


# -- browser sessions -----------------------------------------------------------------------------
def test_logout_ends_the_session_on_the_server(app):
    client, cookie = _web_login(app)
    assert client.get("/supervision").status_code == 200
    assert client.post("/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", cookie)  # the cookie as it was before logout (A2-c)
    r = replay.get("/supervision")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert replay.get("/api/v1/tasks").status_code == 401


def test_a_new_password_ends_sessions_and_tokens(app, tmp_path):
    client, _ = _web_login(app, "zhang")
    token = _token(app, "zhang")
    other = _token(app, "wang")
    assert client.get("/").status_code == 200 and "张书记" in client.get("/").get_data(as_text=True)
    changed = tmp_path / "people.yaml"
    changed.write_text("people:\n  - username: zhang\n    name: 张书记\n    password: \"n3w-secret\"\n"
                       "    roles:\n      - {village: demo-001, role: party_secretary}\n", encoding="utf-8")
    with app.app_context():
        import_file(changed)
    assert app.test_client().get("/api/v1/tasks", headers=_bearer(token)).status_code == 401  # A2-d
    page = client.get("/")
    assert "张书记" not in page.get_data(as_text=True)
    assert client.get("/api/v1/tasks").status_code == 401
    assert app.test_client().get("/api/v1/tasks", headers=_bearer(other)).status_code == 200
    assert _token(app, "zhang", "n3w-secret")


# -- the secret key -------------------------------------------------------------------------------
def _bare_app(instance: Path, db: Path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{db}", "WTF_CSRF_ENABLED": False})
    app.instance_path = str(instance)
    return app


def test_without_a_configured_key_each_installation_makes_its_own(tmp_path, sqlite_template, monkeypatch):
    monkeypatch.delenv("CUNWU_SECRET_KEY", raising=False)
    import shutil

    db = tmp_path / "c.sqlite3"
    shutil.copyfile(sqlite_template, db)
    one, two = tmp_path / "one", tmp_path / "two"
    app = _bare_app(one, db)
    assert not app.secret_key
    client, cookie = _web_login(app, "zhao")
    key_file = one / "secret_key"
    key = key_file.read_text().strip()
    assert len(key) >= 32 and app.secret_key == key
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Reused by the next start of the same installation: the old cookie still signs in.
    again = _bare_app(one, db)
    replay = again.test_client()
    replay.set_cookie("session", cookie)
    assert replay.get("/supervision").status_code == 200
    # Another installation has another key.
    other = _bare_app(two, db)
    other.test_client().get("/login")
    other.session_interface.get_signing_serializer(other)
    assert (two / "secret_key").read_text().strip() != key


def test_a_cookie_signed_with_the_old_constant_opens_nothing(app):
    """A2-a: the key that used to be written in the code forges no admin."""
    for secret in ("dev-only-change-me", "test-but-wrong"):
        signer = URLSafeTimedSerializer(secret, salt="cookie-session",
                                        serializer=SecureCookieSessionInterface.serializer,
                                        signer_kwargs={"key_derivation": "hmac", "digest_method": "sha1"})
        forged = signer.dumps({"username": "admin", "_csrf": "x", "sid": "x"})
        client = app.test_client()
        client.set_cookie("session", forged)
        r = client.get("/admin")
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    # Even a cookie signed with the real key needs a live server-side session.
    signer = SecureCookieSessionInterface().get_signing_serializer(app)
    client = app.test_client()
    client.set_cookie("session", signer.dumps({"username": "admin", "sid": "guess"}))
    assert client.get("/admin").status_code == 302


def test_two_workers_starting_at_once_agree_on_one_key(tmp_path):
    from web.security import instance_secret_key

    keys: list[str] = []
    barrier = threading.Barrier(8)

    def start():
        barrier.wait()
        keys.append(instance_secret_key(tmp_path / "inst")[0])

    threads = [threading.Thread(target=start) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1 and len(keys[0]) >= 32
    assert [p.name for p in (tmp_path / "inst").iterdir()] == ["secret_key"]


def test_cunwu_help_creates_no_instance_folder(tmp_path):
    """A1-c: a command that touches nothing leaves nothing behind."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUNWU_")}
    env.update(PYTHONPATH=str(ROOT), CUNWU_INSTANCE_PATH=str(tmp_path / "inst"))
    for args in (["--help"], ["render", "--help"], ["serve", "--help"]):
        r = subprocess.run([sys.executable, "-c", "from web.cli import main; main()", *args], cwd=tmp_path,
                           env=env, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-500:]
    assert not (tmp_path / "inst").exists()


def test_serve_says_where_the_key_is(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("CUNWU_")}
    env.update(PYTHONPATH=str(ROOT), CUNWU_INSTANCE_PATH=str(tmp_path / "inst"),
               CUNWU_DATABASE_URL=f"sqlite:///{tmp_path}/s.sqlite3")
    r = subprocess.run([sys.executable, "-c", "from web.cli import main; main()", "serve", "--dry-run"],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-800:]
    assert str(tmp_path / "inst" / "secret_key") in r.stdout
    assert len((tmp_path / "inst" / "secret_key").read_text().strip()) >= 32

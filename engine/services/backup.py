"""``cunwu backup FILE`` / ``cunwu restore FILE``: the whole database, consistent, in one file.

Formats (``restore`` recognises them by their first bytes):

- ``sqlite``: SQLite's online backup API, a consistent copy while the app keeps running;
- ``pg``: ``pg_dump --format=custom`` of the schema in use (PostgreSQL, when the client tools
  are installed, e.g. ``/usr/lib/postgresql/15/bin``); restored with ``pg_restore`` in one
  transaction, the old schema kept aside until the restore has succeeded;
- ``json``: a logical dump, table by table in dependency order (JSON lines). Works on both
  backends and across them (SQLite → PostgreSQL and back), and whatever the schema name.

When the attachment store holds files (evidence, issue 14), the backup is one tar file instead
(``bundle``): ``cunwu-bundle.json``, the database in one of the formats above
(``database.<format>``) and every stored file as ``files/<sha256>``. ``restore`` checks each
file against its name (its SHA-256) and puts it back into the store before it replaces the
database; a backup without files restores as before.

A restore replaces everything in the target database and then upgrades the schema to the
newest migration, so an older backup can be restored into a newer release.
"""

from __future__ import annotations

import base64
import glob
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import MetaData, text
from sqlalchemy.engine import Engine
from sqlalchemy.types import JSON, Date, DateTime, Integer

JSON_MAGIC = "cunwu-backup"
BUNDLE_MAGIC = "cunwu-bundle"
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is Chinese."""


# -- helpers -----------------------------------------------------------------------------------
def pg_tool(name: str) -> str | None:
    """Path of a PostgreSQL client program (``pg_dump``, ``pg_restore``), newest version first."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"),
                        key=lambda p: [int(x) for x in re.findall(r"\d+", p)] or [0])
    return candidates[-1] if candidates else None


def _libpq_uri(db: Engine) -> str:
    url = db.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _pg_schema(db: Engine) -> str:
    """The schema the app's tables live in: the first entry of its search_path."""
    with db.connect() as conn:
        current = conn.scalar(text("select current_schema()"))
        if current:
            return current
        path = conn.scalar(text("show search_path")) or "public"
    first = path.split(",")[0].strip().strip('"')
    return "public" if first in ("", "$user") else first


def _atomic_target(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def detect_format(path: Path) -> str:
    with open(path, "rb") as fh:
        head = fh.read(512)
    if head[257:262] == b"ustar" and BUNDLE_MAGIC.encode() in head[:100]:
        return "bundle"
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_MAGIC):
        return "pg"
    if head.lstrip().startswith(b"{") and JSON_MAGIC.encode() in head:
        return "json"
    raise BackupError(f"{path} 不是 cunwu 的备份文件（无法识别格式）")


# -- backup ------------------------------------------------------------------------------------
def backup(db: Engine, path: Path | str, fmt: str = "auto", store=None) -> dict:
    """Write a consistent copy of the whole database to ``path``, with the attachment files of
    ``store`` when it holds any (a bundle); return ``{format, bytes, files}``."""
    path = Path(path)
    digests = list(store.digests()) if store is not None else []
    if digests:
        return _backup_bundle(db, path, fmt, store)
    dialect = db.dialect.name
    if fmt == "auto":
        fmt = "sqlite" if dialect == "sqlite" else ("pg" if pg_tool("pg_dump") else "json")
    if fmt == "sqlite" and dialect != "sqlite":
        raise BackupError("sqlite 格式只适用于 SQLite 数据库")
    if fmt == "pg" and dialect != "postgresql":
        raise BackupError("pg 格式只适用于 PostgreSQL 数据库")
    tmp = _atomic_target(path)
    try:
        {"sqlite": _backup_sqlite, "pg": _backup_pg, "json": _backup_json}[fmt](db, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"format": fmt, "bytes": path.stat().st_size, "files": 0}


def _backup_bundle(db: Engine, path: Path, fmt: str, store) -> dict:
    """The database first, then the files: files are content-addressed and never removed, so
    every file the dumped database names is in the store when the files are copied."""
    from ..records.evidence import StoreError

    with tempfile.TemporaryDirectory(prefix="cunwu-backup-", dir=path.parent if path.parent.exists() else None) as tmp:
        inner = Path(tmp) / "database"
        info = backup(db, inner, fmt)
        digests = list(store.digests())
        header = json.dumps({BUNDLE_MAGIC: 1, "format": info["format"], "files": len(digests),
                             "at": datetime.now(UTC).isoformat()}, ensure_ascii=False).encode()
        target = _atomic_target(path)
        try:
            with tarfile.open(target, "w", format=tarfile.USTAR_FORMAT) as tar:
                member = tarfile.TarInfo(f"{BUNDLE_MAGIC}.json")
                member.size = len(header)
                tar.addfile(member, io.BytesIO(header))
                tar.add(inner, arcname=f"database.{info['format']}")
                for digest in digests:  # from the local folder or the object store alike
                    try:
                        data = store.get(digest)
                    except StoreError as exc:
                        raise BackupError(f"附件文件 {digest} 读取失败（{exc}），请先运行 cunwu doctor") from exc
                    member = tarfile.TarInfo(f"files/{digest}")
                    member.size = len(data)
                    member.mtime = int(datetime.now(UTC).timestamp())
                    tar.addfile(member, io.BytesIO(data))
            os.replace(target, path)
        finally:
            if target.exists():
                target.unlink()
    return {"format": info["format"], "bytes": path.stat().st_size, "files": len(digests)}


def _backup_sqlite(db: Engine, target: Path) -> None:
    raw = db.raw_connection()
    try:
        dest = sqlite3.connect(str(target))
        try:
            raw.driver_connection.backup(dest)
            dest.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            if dest.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise BackupError("备份文件完整性检查未通过")
        finally:
            dest.close()
    finally:
        raw.close()


def _backup_pg(db: Engine, target: Path) -> None:
    tool = pg_tool("pg_dump")
    if tool is None:
        raise BackupError("找不到 pg_dump，请安装 PostgreSQL 客户端，或改用 --format json")
    schema = _pg_schema(db)
    cmd = [tool, "--format=custom", "--no-owner", "--no-privileges", f"--schema={schema}",
           f"--file={target}", f"--dbname={_libpq_uri(db)}"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise BackupError(f"pg_dump 失败：{done.stderr.strip()[-500:]}")


def _encode(value):
    if isinstance(value, datetime):
        if value.tzinfo is None:  # SQLite keeps UTC without a zone
            value = value.replace(tzinfo=UTC)
        return {"$dt": value.astimezone(UTC).isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    return value


#: Money columns (``engine.store.models.Money``): fen (an integer) on SQLite, NUMERIC elsewhere. The JSON
#: dump always writes yuan as a decimal, so a backup restores into either backend unchanged.
MONEY_COLUMNS = {("ledger_entry", "amount"), ("ledger_contract", "amount"), ("ledger_asset", "original_value"),
                 ("ledger_asset", "book_value"), ("ledger_month", "amount")}


def _money_out(value, sqlite: bool):
    if value is None:
        return None
    return {"$dec": str((Decimal(int(value)) / 100).quantize(Decimal("0.01")))} if sqlite else _encode(value)


def _money_in(value, sqlite: bool):
    if value is None:
        return None
    number = Decimal(value["$dec"]) if isinstance(value, dict) and "$dec" in value else Decimal(str(value))
    return int(number * 100) if sqlite else number


def _tables(conn) -> list:
    meta = MetaData()
    meta.reflect(bind=conn)
    return list(meta.sorted_tables)


def _backup_json(db: Engine, target: Path) -> None:
    options = {"isolation_level": "REPEATABLE READ"} if db.dialect.name == "postgresql" else {}
    with db.connect().execution_options(**options) as conn, open(target, "w", encoding="utf-8") as out:
        # One snapshot for every table: REPEATABLE READ on PostgreSQL; on SQLite the engine's
        # begin event takes the write lock (BEGIN IMMEDIATE) for the whole dump.
        tables = _tables(conn)
        revision = None
        if any(t.name == "alembic_version" for t in tables):
            revision = conn.scalar(text("select version_num from alembic_version"))
        header = {JSON_MAGIC: 1, "dialect": db.dialect.name, "revision": revision,
                  "tables": [t.name for t in tables], "at": datetime.now(UTC).isoformat()}
        out.write(json.dumps(header, ensure_ascii=False) + "\n")
        for table in tables:
            columns = [c.name for c in table.columns]
            out.write(json.dumps({"table": table.name, "columns": columns}, ensure_ascii=False) + "\n")
            order = list(table.primary_key.columns) or list(table.columns)
            money = [(table.name, c) in MONEY_COLUMNS for c in columns]
            sqlite_source = db.dialect.name == "sqlite"
            for row in conn.execute(table.select().order_by(*order)).yield_per(1000):
                out.write(json.dumps([_money_out(v, sqlite_source) if m else _encode(v) for v, m in zip(row, money, strict=True)],
                                     ensure_ascii=False, separators=(",", ":")) + "\n")
        conn.rollback()


# -- restore -----------------------------------------------------------------------------------
def restore(db: Engine, path: Path | str, store=None) -> dict:
    """Replace the whole database with the backup in ``path`` (and put its attachment files
    back into ``store``); return ``{format, files}``."""
    from ..store.db import upgrade

    path = Path(path)
    fmt = detect_format(path)
    if fmt == "bundle":
        return _restore_bundle(db, path, store)
    if fmt == "sqlite" and db.dialect.name != "sqlite":
        raise BackupError("这是 SQLite 备份，不能恢复到 PostgreSQL；请在原库上用 --format json 重新备份")
    if fmt == "pg" and db.dialect.name != "postgresql":
        raise BackupError("这是 PostgreSQL 备份，不能恢复到 SQLite；请在原库上用 --format json 重新备份")
    db.dispose()
    try:
        {"sqlite": _restore_sqlite, "pg": _restore_pg, "json": _restore_json}[fmt](db, path)
    finally:
        db.dispose()  # no pooled connection keeps plans or pages of the old tables
    upgrade(db)
    return {"format": fmt, "files": 0}


def _restore_bundle(db: Engine, path: Path, store) -> dict:
    from ..records.evidence import SHA256

    if store is None:
        raise BackupError("这个备份含附件文件，但没有配置附件存储，无法恢复")
    with tempfile.TemporaryDirectory(prefix="cunwu-restore-") as tmp, tarfile.open(path, "r") as tar:
        database = None
        files = 0
        for member in tar:  # files first: putting them is harmless, the database is replaced last
            if member.name.startswith("files/"):
                digest = member.name[len("files/"):]
                source = tar.extractfile(member) if member.isfile() else None
                if not SHA256.match(digest) or source is None:
                    raise BackupError(f"备份中的文件“{member.name}”名称不对，原数据未变")
                data = source.read()
                if hashlib.sha256(data).hexdigest() != digest:
                    raise BackupError(f"备份中的附件文件 {digest} 已损坏（哈希不符），原数据未变")
                store.put(digest, data)
                files += 1
            elif member.name.startswith("database.") and member.isfile():
                database = Path(tmp) / "database"
                with tar.extractfile(member) as source, open(database, "wb") as out:
                    shutil.copyfileobj(source, out)
        if database is None:
            raise BackupError(f"{path} 中没有数据库，原数据未变")
        info = restore(db, database)
    return {"format": info["format"], "files": files}


def _restore_sqlite(db: Engine, path: Path) -> None:
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = {r[0] for r in src.execute("select name from sqlite_master where type='table'")}
        if not {"alembic_version", "case_instance", "board_entry"} <= names:
            raise BackupError(f"{path} 不是 cunwu 的数据库备份")
        if src.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise BackupError(f"{path} 已损坏（完整性检查未通过）")
        raw = db.raw_connection()
        try:
            src.backup(raw.driver_connection)
        finally:
            raw.close()
    finally:
        src.close()


def _dump_schema(tool: str, path: Path) -> tuple[str, bool]:
    """The schema the dump holds, and whether the dump creates it itself."""
    listing = subprocess.run([tool, "--list", str(path)], capture_output=True, text=True, timeout=600)
    if listing.returncode != 0:
        raise BackupError(f"pg_restore 无法读取备份：{listing.stderr.strip()[-500:]}")
    found = re.findall(r"^\d+; \d+ \d+ SCHEMA - (\S+) ", listing.stdout, flags=re.M)
    if found:
        return found[0], True
    tables = re.findall(r"^\d+; \d+ \d+ TABLE (\S+) ", listing.stdout, flags=re.M)
    return (tables[0] if tables else "public"), False


def _restore_pg(db: Engine, path: Path) -> None:
    tool = pg_tool("pg_restore")
    if tool is None:
        raise BackupError("找不到 pg_restore，请安装 PostgreSQL 客户端")
    schema = _pg_schema(db)
    dumped, creates_schema = _dump_schema(tool, path)
    if dumped != schema:
        raise BackupError(f"备份中的数据在模式“{dumped}”，当前数据库使用模式“{schema}”；"
                          "跨模式恢复请在原库上用 --format json 备份")
    aside = f"{schema}_before_restore"[:63]
    quoted, quoted_aside = f'"{schema}"', f'"{aside}"'
    with db.begin() as conn:  # keep the current data aside until the restore has succeeded
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted_aside} CASCADE"))
        if conn.scalar(text("select 1 from pg_namespace where nspname = :n"), {"n": schema}):
            conn.execute(text(f"ALTER SCHEMA {quoted} RENAME TO {quoted_aside}"))
        if not creates_schema:  # a dump of the whole database leaves "public" to exist already
            conn.execute(text(f"CREATE SCHEMA {quoted}"))
    cmd = [tool, "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error",
           f"--dbname={_libpq_uri(db)}", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    with db.begin() as conn:
        if done.returncode != 0:  # put the old data back
            conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))
            if conn.scalar(text("select 1 from pg_namespace where nspname = :n"), {"n": aside}):
                conn.execute(text(f"ALTER SCHEMA {quoted_aside} RENAME TO {quoted}"))
            raise BackupError(f"pg_restore 失败，原数据未变：{done.stderr.strip()[-500:]}")
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quoted_aside} CASCADE"))


def _decode(value, column_type, sqlite: bool):
    if isinstance(value, dict) and len(value) == 1:
        (key, raw), = value.items()
        if key == "$dt":
            parsed = datetime.fromisoformat(raw)
            if isinstance(column_type, DateTime) and sqlite:
                return parsed.astimezone(UTC).replace(tzinfo=None)
            return parsed
        if key == "$date":
            return date.fromisoformat(raw)
        if key == "$dec":
            return Decimal(raw)
        if key == "$b64":
            return base64.b64decode(raw)
    if isinstance(column_type, Date | DateTime) and isinstance(value, str):
        return datetime.fromisoformat(value)
    return value


def _restore_json(db: Engine, path: Path) -> None:
    from alembic import command

    from ..store.db import alembic_config

    with open(path, encoding="utf-8") as fh:
        header = json.loads(fh.readline())
        if header.get(JSON_MAGIC) != 1:
            raise BackupError(f"{path} 不是 cunwu 的 JSON 备份")
        sqlite = db.dialect.name == "sqlite"
        with db.begin() as conn:
            if sqlite:
                conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for table in reversed(_tables(conn)):
                table.drop(conn)
            if header.get("revision"):
                cfg = alembic_config(db.url.render_as_string(hide_password=False))
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, header["revision"])
            targets = {t.name: t for t in _tables(conn)}
            for tbl in targets.values():  # a dumped None is SQL NULL, not the JSON text 'null'
                for column in tbl.columns:
                    if isinstance(column.type, JSON):
                        column.type.none_as_null = True
            table = None
            columns: list[str] = []
            batch: list[dict] = []

            def flush():
                if table is not None and batch:
                    conn.execute(table.insert(), batch)
                batch.clear()

            for line in fh:
                item = json.loads(line)
                if isinstance(item, dict):
                    flush()
                    name = item["table"]
                    if name not in targets:
                        raise BackupError(f"备份中的表“{name}”在目标数据库中不存在")
                    if name == "alembic_version":
                        conn.execute(targets[name].delete())
                    table, columns = targets[name], item["columns"]
                    continue
                types = [table.columns[c].type if c in table.columns else None for c in columns]
                batch.append({c: _money_in(v, sqlite) if (table.name, c) in MONEY_COLUMNS else _decode(v, t, sqlite)
                              for c, v, t in zip(columns, item, types, strict=True) if c in table.columns})
                if len(batch) >= 1000:
                    flush()
            flush()
            if not sqlite:  # serial columns continue after the restored ids
                for name, tbl in targets.items():
                    pk = list(tbl.primary_key.columns)
                    if len(pk) != 1 or not isinstance(pk[0].type, Integer):
                        continue
                    seq = conn.scalar(text("select pg_get_serial_sequence(:t, :c)"),
                                      {"t": f'"{name}"', "c": pk[0].name})
                    if seq:
                        conn.execute(text(f'select setval(:s, coalesce((select max("{pk[0].name}") from "{name}"), 0) + 1, '
                                          "false)"), {"s": seq})

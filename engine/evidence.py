"""Evidence on the record: photos and scans uploaded to a task, kept byte for byte.

- The type is judged by the content, never by the name: JPEG and PNG (which Pillow must be able
  to decode completely: a corrupt or truncated image is refused, not stored) and PDF (a ``%PDF-``
  header and an ``%%EOF`` trailer). Anything else is a 422 naming the field ``file``.
- Files are stored content-addressed by their SHA-256 (:class:`LocalStore`: ``<root>/ab/abcd…``
  in the instance folder by default; :class:`S3Store`: the same keys in a bucket of an
  S3-compatible object store, for several app servers), so a file is stored once however often
  it is attached, and the hash in the database is the name of the bytes.
- An attachment uploaded to a ready task is *bound* to the record when the task completes; the
  ``complete`` audit event of the step carries ``[{id, sha256, name}]`` of what was bound.
- ``public_copy`` makes the copy the public board shows: re-encoded pixels only, so no EXIF,
  GPS, XMP or text chunks survive; the original stays as it was uploaded (it is evidence).
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import bindparam, func, select

from .errors import Conflict, CunwuError, Forbidden, Invalid, NotFound

DEFAULT_MAX_UPLOAD = 20 * 1024 * 1024
MAX_PER_TASK = 30
#: Photos of one posted notice (张贴照片), and the days after the posting day they are due in (R44).
MAX_NOTICE_PHOTOS = 10
NOTICE_PHOTO_DAYS = 2
#: Images (thumbnails, the board's copy, inline in the dossier); HEIC is shown through a JPEG made from it.
IMAGE_TYPES = ("image/jpeg", "image/png", "image/heic")


def heif_available() -> bool:
    """Whether HEIC photos can be read here (``pillow-heif``, registered with Pillow once)."""
    global _HEIF
    if _HEIF is None:
        try:
            import pillow_heif

            pillow_heif.register_heif_opener()
            _HEIF = True
        except Exception:  # noqa: BLE001 - not installed or its library will not load: HEIC is refused
            _HEIF = False
    return _HEIF


_HEIF: bool | None = None
#: Pixels Pillow may decode for one upload (a 100-megapixel photo is plenty; bombs are refused).
MAX_PIXELS = 100_000_000
TYPES = {"image/jpeg": "JPEG 图片", "image/png": "PNG 图片", "image/heic": "HEIC 照片", "application/pdf": "PDF 文件"}
EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png", "image/heic": ".heic", "application/pdf": ".pdf"}
#: The ISO-BMFF brands of a phone's HEIF/HEIC photo (iPhones: heic; others: heix, mif1, hevc …).
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1")
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class TooLarge(CunwuError):
    code, status = "too_large", 413


def max_upload(value=None) -> int:
    """The size limit in bytes: ``CUNWU_MAX_UPLOAD`` (bytes, or with a K/M/G suffix)."""
    raw = value if value not in (None, "") else os.environ.get("CUNWU_MAX_UPLOAD")
    if raw in (None, ""):
        return DEFAULT_MAX_UPLOAD
    if isinstance(raw, int | float):
        return int(raw)
    match = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", str(raw))
    if not match:
        raise ValueError(f"CUNWU_MAX_UPLOAD 不是字节数：{raw!r}")
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2).lower()]


def size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / 1024 / 1024:.1f} MB".replace(".0 MB", " MB")
    if size >= 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size} 字节"


def too_large_error(limit: int) -> TooLarge:
    message = f"文件超过大小上限（{size_text(limit)}），请压缩或分页扫描后再上传"
    return TooLarge(message, {"file": [message]})


# -- type by content -------------------------------------------------------------------------------
def _refuse(message: str) -> Invalid:
    return Invalid(f"上传的文件：{message}", {"file": [message]})


def sniff(data: bytes) -> str:
    """The content type of ``data`` judged by its bytes; raises :class:`Invalid` (422) for anything
    that is not a complete JPEG, PNG or PDF."""
    if not data:
        raise _refuse("文件是空的")
    if data.startswith(b"\xff\xd8\xff"):
        _check_image(data, "JPEG")
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_image(data, "PNG")
        return "image/png"
    if data.startswith(b"%PDF-"):
        if not re.match(rb"%PDF-[12]\.\d", data[:8]) or b"%%EOF" not in data[-2048:]:
            raise _refuse("PDF 文件不完整或已损坏（缺少文件头或结尾标记），未保存")
        return "application/pdf"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        # A phone's HEIC photo: kept as it is (the evidence); a JPEG made from it is what is shown.
        if not heif_available():
            raise _refuse("本系统暂不能读取 HEIC 格式的照片，请在手机相机设置中选择“兼容性最佳”（JPEG），或截图后上传")
        _check_image(data, "HEIF")
        return "image/heic"
    raise _refuse("只接受 JPEG、PNG 图片或 PDF 文件（按文件内容判断，与文件名无关）")


def _check_image(data: bytes, fmt: str) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            if img.width * img.height > MAX_PIXELS:
                raise _refuse(f"图片像素过多（{img.width}×{img.height}），请缩小后再上传")
            img.verify()  # structure and checksums (PNG CRCs)
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            img.load()  # every pixel decodes: a truncated or corrupt image fails here
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse("图片像素过多，请缩小后再上传") from exc
    except Exception as exc:  # noqa: BLE001 - whatever Pillow finds wrong, the image is unusable
        name = "HEIC 照片" if fmt == "HEIF" else f"{fmt} 图片"
        raise _refuse(f"{name}已损坏或不完整，无法打开，未保存") from exc


def clean_name(name: str | None, content_type: str) -> str:
    """A file name fit to show and to put in a download header: no path, no control characters,
    at most 120 characters; the extension follows the content."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if unicodedata.category(ch)[0] != "C")
    base = base.strip().strip(".") or "附件"
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    wanted = EXTENSIONS[content_type]
    if ("." + ext.lower()) not in (wanted, ".jpeg" if wanted == ".jpg" else wanted):
        stem = base  # keep what was typed, add the real extension
        ext = wanted[1:]
    return f"{stem[:110]}.{ext}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- the public copy ------------------------------------------------------------------------------
def _open(data: bytes, content_type: str):
    from PIL import Image

    if content_type == "image/heic":
        heif_available()
    return Image.open(io.BytesIO(data), formats=[{"image/jpeg": "JPEG", "image/png": "PNG",
                                                 "image/heic": "HEIF"}[content_type]])


def public_copy(data: bytes, content_type: str, max_side: int = 2000) -> bytes | None:
    """The copy of an image the public board shows: turned upright, at most ``max_side`` pixels,
    re-encoded from the pixels alone (no EXIF, GPS, XMP, ICC text or PNG text chunks); a JPEG for
    a JPEG or a HEIC photo, a PNG for a PNG. ``None`` for PDFs (they are listed by hash, never shown)."""
    if content_type not in IMAGE_TYPES:
        return None
    from PIL import Image, ImageOps

    if content_type == "image/heic":
        content_type = "image/jpeg"  # what the board shows of a HEIC photo
        opened = _open(data, "image/heic")
    else:
        opened = _open(data, content_type)
    with opened as img:
        img = ImageOps.exif_transpose(img)
        img.thumbnail((max_side, max_side))
        if img.mode not in ("RGB", "RGBA", "L", "LA"):
            img = img.convert("RGBA" if content_type == "image/png" else "RGB")
        if content_type == "image/jpeg" and img.mode != "RGB":
            img = img.convert("RGB")
        # A new image from the pixels alone: nothing of the original's metadata can ride along.
        clean = Image.frombytes(img.mode, img.size, img.tobytes())
        out = io.BytesIO()
        if content_type == "image/jpeg":
            clean.save(out, "JPEG", quality=85, optimize=True)
        else:
            clean.save(out, "PNG", optimize=True)
        return out.getvalue()


def as_jpeg(data: bytes, content_type: str, quality: int = 90) -> bytes:
    """A HEIC photo (or any image) as a full-size JPEG for browsers and print: turned upright, the
    pixels only (the original, with its metadata, stays the evidence)."""
    from PIL import ImageOps

    with _open(data, content_type) as img:
        img = ImageOps.exif_transpose(img)
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=quality)
        return out.getvalue()


def thumbnail(data: bytes, content_type: str, side: int = 240) -> bytes | None:
    """A small JPEG of an image for lists (no metadata); ``None`` for PDFs."""
    if content_type not in IMAGE_TYPES:
        return None
    from PIL import ImageOps

    with _open(data, content_type) as img:
        img.draft("RGB", (side * 2, side * 2))  # JPEG: decode at a reduced scale
        img = ImageOps.exif_transpose(img)
        img.thumbnail((side, side))
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=80)
        return out.getvalue()


# -- storage ----------------------------------------------------------------------------------------
class StoreError(Exception):
    """The file store cannot be read or written (disk full, missing folder); Chinese message."""


class LocalStore:
    """Content-addressed files on the local disk: ``<root>/<sha[:2]>/<sha>``. Writes go to a
    temporary file in the same folder and are renamed into place, so a reader never sees half a
    file and two writers of the same bytes agree."""

    kind = "local"

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def path(self, digest: str) -> Path:
        if not SHA256.match(digest or ""):
            raise ValueError(f"not a SHA-256: {digest!r}")
        return self.root / digest[:2] / digest

    def location(self, digest: str) -> str:
        return str(self.path(digest))

    def put(self, digest: str, data: bytes) -> None:
        target = self.path(digest)
        if target.exists() and target.stat().st_size == len(data):
            return
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".up-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, target)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        except OSError as exc:
            raise StoreError(f"附件无法保存到 {self.root}：{exc.strerror or exc}") from exc

    def get(self, digest: str) -> bytes:
        try:
            return self.path(digest).read_bytes()
        except FileNotFoundError as exc:
            raise StoreError(f"附件文件 {digest} 不存在") from exc

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def hash_of(self, digest: str) -> str | None:
        """The SHA-256 of the stored bytes now (``None``: missing)."""
        h = hashlib.sha256()
        try:
            with open(self.path(digest), "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
        except FileNotFoundError:
            return None
        return h.hexdigest()

    def get_derived(self, key: str) -> bytes | None:
        """A file made from stored ones (thumbnails), kept beside them; ``None`` if not made yet."""
        try:
            return (self.root / "derived" / key).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None

    def put_derived(self, key: str, data: bytes) -> None:
        target = self.root / "derived" / key
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".d-", dir=target.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except OSError:  # a cache: failing to keep it costs only time
            pass

    def digests(self) -> Iterator[str]:
        if not self.root.is_dir():
            return
        for sub in sorted(self.root.iterdir()):
            if sub.is_dir() and len(sub.name) == 2:
                for item in sorted(sub.iterdir()):
                    if SHA256.match(item.name):
                        yield item.name


class S3Store:
    """The same content-addressed keys (``<prefix>/ab/abcd…``) in a bucket of an S3-compatible
    object store, so several app servers share the files. Credentials come the usual way of
    boto3 (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, a profile, an instance role)."""

    kind = "s3"

    def __init__(self, url: str, endpoint: str | None = None, region: str | None = None):
        from urllib.parse import urlsplit

        import boto3
        from botocore.config import Config

        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"附件存储地址应为 s3://桶名/前缀：{url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        self.client = boto3.client("s3", endpoint_url=endpoint or None, region_name=region or "us-east-1",
                                   config=Config(retries={"max_attempts": 3, "mode": "standard"},
                                                 s3={"addressing_style": "path"}))

    def __repr__(self) -> str:
        return f"S3Store('s3://{self.bucket}/{self.prefix}')"

    def _key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def key(self, digest: str) -> str:
        if not SHA256.match(digest or ""):
            raise ValueError(f"not a SHA-256: {digest!r}")
        return self._key(f"{digest[:2]}/{digest}")

    def location(self, digest: str) -> str:
        return f"s3://{self.bucket}/{self.key(digest)}"

    @staticmethod
    def _missing(exc) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def _size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            return int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise StoreError(f"对象存储无法访问：{exc}") from exc

    def put(self, digest: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self.key(digest)
        try:
            if self._size(key) == len(data):
                return
            self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(f"附件无法保存到对象存储 s3://{self.bucket}：{exc}") from exc

    def get(self, digest: str) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.key(digest))["Body"].read()
        except ClientError as exc:
            raise StoreError(f"附件文件 {digest} 不存在" if self._missing(exc) else f"对象存储无法访问：{exc}") from exc
        except BotoCoreError as exc:
            raise StoreError(f"对象存储无法访问：{exc}") from exc

    def exists(self, digest: str) -> bool:
        return self._size(self.key(digest)) is not None

    def hash_of(self, digest: str) -> str | None:
        from botocore.exceptions import ClientError

        h = hashlib.sha256()
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(digest))["Body"]
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise StoreError(f"对象存储无法访问：{exc}") from exc
        for block in body.iter_chunks(1 << 20):
            h.update(block)
        return h.hexdigest()

    def get_derived(self, key: str) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(f"derived/{key}"))["Body"].read()
        except (BotoCoreError, ClientError):
            return None

    def put_derived(self, key: str, data: bytes) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self._key(f"derived/{key}"), Body=data)
        except (BotoCoreError, ClientError):  # a cache: failing to keep it costs only time
            pass

    def digests(self) -> Iterator[str]:
        start = self._key("")
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=start)
        for page in pages:
            for item in page.get("Contents", []):
                rest = item["Key"][len(start):].split("/")
                if len(rest) == 2 and len(rest[0]) == 2 and SHA256.match(rest[1]):
                    yield rest[1]


def make_store(config: dict, instance_path: str | Path):
    """The store the app is configured with: ``CUNWU_ATTACHMENTS_URL`` ``s3://bucket/prefix`` (with
    ``CUNWU_S3_ENDPOINT`` for a store other than AWS, ``CUNWU_S3_REGION``), else the local folder
    ``CUNWU_ATTACHMENTS_DIR`` (default ``<instance>/attachments``)."""
    def setting(name):
        return config.get(name) or os.environ.get(name)

    url = setting("CUNWU_ATTACHMENTS_URL")
    if url and str(url).startswith("s3://"):
        return S3Store(str(url), setting("CUNWU_S3_ENDPOINT"), setting("CUNWU_S3_REGION"))
    root = setting("CUNWU_ATTACHMENTS_DIR") or (str(url)[len("file://"):] if url else None) \
        or Path(instance_path) / "attachments"
    return LocalStore(root)


# -- the engine's side: upload, read, bind ------------------------------------------------------------
#: session.info key: a case's attachments read by ``_bind_attachments`` for the rest of the transaction
#: (forgotten when it ends: see engine/services/common.py ``forget_case_tasks``).
CASE_ATTACHMENTS_KEY = "cunwu.case_attachments"


@functools.lru_cache(maxsize=1)
def _case_attachments_statement():
    """Every attachment of one case (``case_id``), oldest first: built once, executed with a bound
    parameter on every completion (no statement construction or cache-key walk per request)."""
    from .models import Attachment

    return select(Attachment).where(Attachment.case_id == bindparam("case_id")).order_by(Attachment.id)


class EvidenceMixin:
    """Methods of :class:`engine.services.Engine` for attachments (one call = one transaction)."""

    #: The file store (``LocalStore``); set by the app (``create_app``).
    files = None

    def _store(self):
        if self.files is None:
            raise StoreError("没有配置附件存储")
        return self.files

    def _upload_target(self, session, actor, task_id: str, removing: bool = False):
        from .models import Attachment, TaskRow
        from .roles import ROLES

        row = session.get(TaskRow, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
        if row is None:
            raise NotFound(f"没有编号为{task_id}的任务")
        case = self.case_for(session, actor, row.case_id)
        if not actor.may_complete(row.role, row.extra_roles, case.village):
            raise Forbidden(f"“{row.title}”的附件须由{ROLES.get(row.role, row.role)}上传")
        if actor.username in (case.excluded_users or []):
            raise Forbidden("您与本事项有利害关系，依规回避，不能上传附件")
        if row.state != "ready":
            raise Conflict("该任务已经办理，不能再上传附件")
        if case.status == "on_hold" and not getattr(_forms().FORMS.get(row.form), "releases_hold", False):
            raise Conflict(f"事项已被暂停：{case.hold_reason or ''}".rstrip("："))
        count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.task_id == row.id)) or 0
        if count >= MAX_PER_TASK and not removing:
            message = f"每个任务最多上传{MAX_PER_TASK}个附件"
            raise Invalid(message, {"file": [message]})
        return row, case

    def upload_attachment(self, username: str, task_id: str, name: str | None, data: bytes,
                          limit: int | None = None) -> dict:
        """Store ``data`` as evidence of the ready task ``task_id``: ``{id, sha256, name, size,
        content_type}``. 403 unless the person may complete the task, 409 once it is done, 413
        over the limit, 422 for anything that is not a whole JPEG, PNG or PDF."""
        from .models import Attachment

        limit = max_upload() if limit is None else limit
        if len(data) > limit:
            raise too_large_error(limit)
        with self.sessions() as session:  # who may, before any work on the bytes
            self._upload_target(session, self.actor(session, username), task_id)
        content_type = sniff(data)
        digest = sha256(data)
        filename = clean_name(name, content_type)
        self._store().put(digest, data)  # outside the write lock; the same bytes are stored once
        with self.transaction() as session:
            actor = self.actor(session, username)
            row, case = self._upload_target(session, actor, task_id)
            att = Attachment(case_id=case.id, task_id=row.id, village_id=case.village_id, sha256=digest,
                             name=filename, size=len(data), content_type=content_type, uploaded_by=actor.id,
                             uploaded_at=self.now())
            session.add(att)
            session.flush()
            self.audit(session, action="attach", actor=actor, case=case, task_id=row.id,
                        summary=f"{row.title}：上传附件“{filename}”（{size_text(len(data))}）",
                        data={"attachment": att.id, "sha256": digest, "name": filename, "size": len(data)})
            return attachment_json(att)

    def task_attachments(self, username: str, task_id: str) -> list[dict]:
        """The attachments of one task (bound or still open), for whoever may view its case."""
        from .models import Attachment, TaskRow

        with self.sessions() as session:
            actor = self.actor(session, username)
            row = session.get(TaskRow, task_id) if isinstance(task_id, str) and len(task_id) <= 36 else None
            if row is None:
                raise NotFound(f"没有编号为{task_id}的任务")
            self.case_for(session, actor, row.case_id)
            rows = session.scalars(select(Attachment).where(Attachment.task_id == row.id, Attachment.entry_id.is_(None))
                                   .order_by(Attachment.id))
            return [attachment_json(a) for a in rows]

    def case_attachments(self, session, case_id: int, bound_only: bool = True) -> dict[str, list]:
        """``{task_id: [Attachment, …]}`` of a case, oldest first."""
        from .models import Attachment

        read = session.info.get(CASE_ATTACHMENTS_KEY, {}).get(case_id)
        if read is None:
            stmt = select(Attachment).where(Attachment.case_id == case_id, Attachment.entry_id.is_(None))
            if bound_only:
                stmt = stmt.where(Attachment.bound_at.is_not(None))
            read = session.scalars(stmt.order_by(Attachment.id))
        found: dict[str, list] = {}
        for att in read:
            if att.entry_id is None and (not bound_only or att.bound_at is not None):
                found.setdefault(att.task_id, []).append(att)
        return found

    def _handles(self, session, actor, case) -> bool:
        """Whether ``actor`` handles ``case``: holds, in its village, the role of one of the steps
        of its definition (and is not kept off it)."""
        from . import runtime
        from .roles import role_for_lane

        if actor.username in (case.excluded_users or []):
            return False
        if self.is_lead_case(case):  # R60: the 纪检 roles of the jurisdiction only (engine/leads.py)
            return self.lead_handler(session, actor, case)
        roles: set[str] = set()
        deployed = self.catalog.deployed(case.definition)
        for spec in [deployed.spec, *deployed.subprocess_specs.values()]:
            for task_spec in spec.task_specs.values():
                if getattr(task_spec, "manual", False):
                    roles.add(role_for_lane(task_spec.lane) or "")
                    extra = runtime.task_properties(task_spec).get("extra_roles") or ""
                    roles.update(r.strip() for r in extra.split(",") if r.strip())
        return bool(actor.roles_in(case.village) & (roles - {""}))

    def _private_evidence(self, case) -> bool:
        """便民服务 (category B): applicants' ID cards and household books; a complaint lead's
        photos and papers (R60: only its handlers, every view audited)."""
        return case.definition.category == "B" or self.is_lead_case(case)

    def attachment(self, username: str, attachment_id: int, *, public_copy_only: bool = False) -> tuple[dict, bytes]:
        """The bytes of an attachment, checked against their hash, for whoever may view the case;
        those of a 便民服务 case only for its handlers, and every such view is audited."""
        from .models import Attachment

        with self.sessions() as session:
            actor = self.actor(session, username)
            att = _by_id(session, Attachment, attachment_id)
            if att is None:
                raise NotFound(f"没有编号为{attachment_id}的附件")
            case = self.case_for(session, actor, att.case_id)
            private = self._private_evidence(case)
            lead_case = self.is_lead_case(case)
            if private and not self._handles(session, actor, case):
                raise Forbidden("问题线索的照片和材料只有办理线索的纪委工作人员可以查看" if lead_case
                                else "便民服务事项的申请材料只有经办人员可以查看")
            meta = attachment_json(att)
        data = self.read_file(meta["sha256"])
        if private:
            with self.transaction() as session:
                self.audit(session, action="read_personal", actor=actor, case=case, task_id=meta["task"],
                            summary=f"{'查看问题线索材料' if lead_case else '查看申请材料'}（附件{meta['id']}“{meta['name']}”）",
                            data={"attachment": meta["id"], "sha256": meta["sha256"]})
        return meta, data

    def attachment_thumbnail(self, username: str, attachment_id: int) -> bytes:
        """A small JPEG of an image attachment (same permissions and audit as the original)."""
        meta, data = self.attachment(username, attachment_id)
        if meta["content_type"] not in IMAGE_TYPES:
            raise NotFound("PDF 文件没有缩略图")
        key = f"thumb-240-{meta['sha256']}.jpg"
        cached = self._store().get_derived(key)
        if cached is None:
            cached = thumbnail(data, meta["content_type"])
            self._store().put_derived(key, cached)
        return cached

    def attachment_jpeg(self, username: str, attachment_id: int) -> tuple[dict, bytes]:
        """An image attachment as a JPEG a browser shows (a HEIC photo converted; a JPEG as it is),
        with the same permissions and audit as the original."""
        meta, data = self.attachment(username, attachment_id)
        if meta["content_type"] not in IMAGE_TYPES:
            raise NotFound("PDF 文件没有图片视图")
        if meta["content_type"] == "image/jpeg":
            return meta, data
        key = f"jpeg-{meta['sha256']}.jpg"
        cached = self._store().get_derived(key)
        if cached is None:
            cached = as_jpeg(data, meta["content_type"])
            self._store().put_derived(key, cached)
        return meta, cached

    def public_photo(self, village_code: str, digest: str) -> bytes:
        """The board's copy of a disclosure's photo: only hashes some board entry of the village
        names as its public photos (never an original)."""
        from .models import BoardEntry, Village

        if not SHA256.match(digest or ""):
            raise NotFound("没有这张照片")
        with self.sessions() as session:
            village = session.scalar(select(Village).where(Village.code == village_code))
            if village is None:
                raise NotFound(f"没有编码为“{village_code}”的村")
            named = any(item.get("sha256") == digest for evidence in session.scalars(
                select(BoardEntry.evidence).where(BoardEntry.village_id == village.id,
                                                  BoardEntry.evidence.is_not(None))) for item in evidence or [])
        if not named:
            raise NotFound("没有这张照片")
        return self.read_file(digest)

    def read_file(self, digest: str) -> bytes:
        try:
            data = self._store().get(digest)
        except StoreError as exc:
            raise NotFound("附件文件已缺失，请联系管理员运行 cunwu doctor 检查") from exc
        if sha256(data) != digest:
            raise Conflict("附件文件已被改动（与登记的 SHA-256 不符），不能提供；请联系管理员运行 cunwu doctor 检查")
        return data

    def remove_attachment(self, username: str, attachment_id: int) -> dict:
        """Take back an attachment before its step is completed (a wrong photo): whoever may
        complete the task. The removal is audited; the bytes stay in the store (they are named by
        their hash and may be attached elsewhere). Bound evidence cannot be removed (409)."""
        from .models import Attachment

        with self.transaction() as session:
            actor = self.actor(session, username)
            att = _by_id(session, Attachment, attachment_id)
            if att is None:
                raise NotFound(f"没有编号为{attachment_id}的附件")
            self.case_for(session, actor, att.case_id)
            if att.bound_at is not None:
                raise Conflict("附件已随办理记入记录，不能删除")
            row, case = self._upload_target(session, actor, att.task_id, removing=True)
            out = attachment_json(att)
            session.delete(att)
            self.audit(session, action="detach", actor=actor, case=case, task_id=row.id,
                        summary=f"{row.title}：撤回未提交的附件“{att.name}”",
                        data={"attachment": out["id"], "sha256": out["sha256"], "name": out["name"]})
            return out

    @staticmethod
    def required_evidence(meta: dict | None, task_name: str) -> str | None:
        """What the item's catalogue entry asks to be uploaded at this step (``evidence:``)."""
        wanted = (meta or {}).get("evidence") or {}
        return wanted.get(task_name) if isinstance(wanted, dict) else None

    def _bind_attachments(self, session, row, now, meta: dict | None = None, village=None) -> list[dict]:
        """Bind the open attachments of ``row`` to its record (inside the completing transaction).
        Where the catalogue asks for evidence at this step and the village's settings make it a
        condition (``evidence: required``), a step without any is refused (422 on ``file``)."""

        bound = []
        # Every attachment of the case, in one statement: this step's are bound now, and the answer's
        # history lists the bound ones from the same rows (case_attachments, same transaction).
        # Nothing pending in the session changes which attachments the case has: no autoflush here, so
        # the step's row is written with the rest of the completion in one flush, not in two.
        with session.no_autoflush:
            every = list(session.scalars(_case_attachments_statement(), {"case_id": row.case_id}))
        session.info.setdefault(CASE_ATTACHMENTS_KEY, {})[row.case_id] = every
        mine = [att for att in every if att.task_id == row.id]
        wanted = self.required_evidence(meta, row.name)
        if wanted and village is not None and (village.settings or {}).get("evidence") == "required" and not mine:
            message = f"需上传：{wanted}（本村规定，提交前须上传）"
            raise Invalid(message, {"file": [message]})
        for att in mine:
            if att.bound_at is None:
                att.bound_at = now
                bound.append({"id": att.id, "sha256": att.sha256, "name": att.name})
        return bound

    def _public_evidence(self, session, task_id: str, case=None) -> list[dict]:
        """The board's copies of the images bound to ``task_id`` (the drafted disclosure): stored,
        remembered on the attachment, and named with both hashes for the board entry. A 便民服务
        case puts no photo on the board: its papers are the applicant's."""
        from .models import Attachment

        if case is not None and self._private_evidence(case):
            return []
        out = []
        for att in session.scalars(select(Attachment).where(Attachment.task_id == task_id, Attachment.entry_id.is_(None),
                                                            Attachment.bound_at.is_not(None)).order_by(Attachment.id)):
            if att.content_type not in IMAGE_TYPES:
                continue
            if att.public_sha256 is None:
                copy = public_copy(self.read_file(att.sha256), att.content_type)
                att.public_sha256 = sha256(copy)
                self._store().put(att.public_sha256, copy)
            out.append({"name": att.name, "sha256": att.public_sha256, "original": att.sha256})
        return out


    # -- 张贴照片: the photo of a posted notice (R44 一码一工程) ---------------------------------------
    def _posting_steps(self, session, entry) -> list:
        """The completed steps that put ``entry`` on the board: the one whose completion posted it
        (the 监委会's approval, or a disclosure that posts itself) and the newest drafted
        disclosure before it. Whoever may do either is "the poster" of the notice. Found through
        the audit: the entry's ``post`` event follows, in the same transaction, the ``complete``
        event of the step that posted it (times alone cannot tell steps done in the same second)."""
        from .models import AuditEvent, TaskRow

        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.case_id == entry.case_id, AuditEvent.action.in_(("complete", "post"))).order_by(AuditEvent.id)))
        post = next((e for e in events if e.action == "post" and (e.data or {}).get("entry") == entry.id), None)
        before = [e for e in events if e.action == "complete" and e.task_id and (post is None or e.id < post.id)]
        rows = {r.id: r for r in session.scalars(select(TaskRow).where(
            TaskRow.id.in_({e.task_id for e in before} or {""}), TaskRow.role != ""))}
        posted = rows.get(before[-1].task_id) if before else None
        drafted = next((rows[e.task_id] for e in reversed(before)
                        if e.task_id in rows and rows[e.task_id].form == "disclosure"), None)
        return [r for r in dict.fromkeys((posted, drafted)) if r is not None]

    def _notice_target(self, session, actor, entry_id):
        from .models import Attachment, BoardEntry

        entry = _by_id(session, BoardEntry, entry_id)
        if entry is None:
            raise NotFound(f"公开栏没有编号为{entry_id}的条目")
        if not is_notice(entry) or entry.case_id is None:
            raise Conflict("只有事项张榜公布的公示才补传张贴照片")
        case = self.case_for(session, actor, entry.case_id)
        steps = self._posting_steps(session, entry)
        if actor.username in (case.excluded_users or []):
            raise Forbidden("您与本事项有利害关系，依规回避，不能上传张贴照片")
        if not any(actor.may_complete(r.role, r.extra_roles, case.village) for r in steps):
            raise Forbidden("张贴照片须由张榜公布该公示的人员（拟定公开内容或审核张榜的人员）上传")
        count = session.scalar(select(func.count()).select_from(Attachment).where(Attachment.entry_id == entry.id)) or 0
        if count >= MAX_NOTICE_PHOTOS:
            message = f"每条公示最多上传{MAX_NOTICE_PHOTOS}张张贴照片"
            raise Invalid(message, {"file": [message]})
        return entry, case, steps[0]

    def add_notice_photo(self, username: str, entry_id: int, name: str | None, data: bytes,
                         limit: int | None = None) -> dict:
        """The photo of a posted notice on the board (张贴照片, R44): by whoever posted it (may draft
        or approve it), any time after posting (due within :data:`NOTICE_PHOTO_DAYS` days). The
        original is kept as evidence; its copy without location data (none for a 便民服务 case) and
        both hashes go on the board as a new chained entry (kind ``photo``) that refers to the
        notice, so the notice's own entry and hash never change and the chain stays valid."""
        from . import publicity
        from .clock import local_text
        from .models import Attachment

        limit = max_upload() if limit is None else limit
        if len(data) > limit:
            raise too_large_error(limit)
        with self.sessions() as session:  # who may, before any work on the bytes
            _entry, case, _step = self._notice_target(session, self.actor(session, username), entry_id)
            private = self._private_evidence(case)
        content_type = sniff(data)
        if content_type not in IMAGE_TYPES:
            raise _refuse("张贴照片须是照片（JPEG、PNG 或手机的 HEIC），不能是 PDF")
        digest = sha256(data)
        filename = clean_name(name, content_type)
        self._store().put(digest, data)
        copy_digest = None
        if not private:  # a 便民服务 notice's photo stays off the public board (the applicant's matter)
            copy = public_copy(data, content_type)
            copy_digest = sha256(copy)
            self._store().put(copy_digest, copy)
        with self.transaction() as session:
            actor = self.actor(session, username)
            entry, case, step = self._notice_target(session, actor, entry_id)
            now = self.now()
            due = notice_photo_due(entry.posted_at)
            att = Attachment(case_id=case.id, task_id=step.id, village_id=case.village_id, sha256=digest,
                             name=filename, size=len(data), content_type=content_type, public_sha256=copy_digest,
                             uploaded_by=actor.id, uploaded_at=now, bound_at=now, entry_id=entry.id)
            session.add(att)
            session.flush()
            late = now > due
            photo = publicity.post(
                session, case.village, kind="photo", title=f"{entry.title}·张贴照片"[:300],
                content=f"第{entry.seq}号公示“{entry.title}”（{local_text(entry.posted_at)}张榜）的张贴照片，"
                        f"{actor.name}于{local_text(now)}上传" + ("（超过张榜后2日的期限）" if late else "")
                        + ("。便民服务事项的照片不在公开栏展示，原件存档备查。" if private else "。"),
                posted_at=now, posted_by=actor.name, case_id=case.id, refers_to_id=entry.id,
                evidence=[{"name": filename, **({"sha256": copy_digest} if copy_digest else {}), "original": digest}])
            # A "post" event like every board entry's (doctor matches entries to them by id and hash).
            self.audit(session, action="post", actor=actor, case=case,
                        summary=f"上传公示“{entry.title}”的张贴照片“{filename}”" + ("（逾期）" if late else ""),
                        data={"entry": photo.id, "hash": photo.hash, "notice": entry.id, "attachment": att.id,
                              "sha256": digest, "public_sha256": copy_digest})
            return {**attachment_json(att), "entry": entry.id, "photo_entry": photo.id,
                    "public_sha256": copy_digest, "due_at": due.isoformat(), "late": late}

    def notice_photos(self, session, case, actor=None) -> dict[int, dict]:
        """``{entry id: status}`` of the case's notices: what the item asks (``wanted``), when it
        is due, the photos so far, whether it is overdue and whether ``actor`` may add one."""
        from .models import BoardEntry

        entries = list(session.scalars(select(BoardEntry).where(BoardEntry.case_id == case.id).order_by(BoardEntry.seq)))
        wanted = notice_photo_wanted(case.definition.meta)
        now = self.now()
        out = {}
        for entry in entries:
            if not is_notice(entry):
                continue
            photos = [e for e in entries if e.kind == "photo" and e.refers_to_id == entry.id]
            superseded = any(e.kind == entry.kind and e.refers_to_id == entry.id for e in entries)
            due = notice_photo_due(entry.posted_at)
            may = False
            if actor is not None and actor.username not in (case.excluded_users or []):
                may = any(actor.may_complete(r.role, r.extra_roles, case.village)
                          for r in self._posting_steps(session, entry))
            out[entry.id] = {
                "wanted": wanted if not superseded else None, "due_at": due,
                "photos": [{"entry": p.id, "seq": p.seq, "posted_at": p.posted_at, "posted_by": p.posted_by,
                            "evidence": p.evidence or []} for p in photos],
                "overdue": bool(wanted and not superseded and not photos and now > due),
                "overdue_days": (now.astimezone(_local_tz()).date() - due.astimezone(_local_tz()).date()).days
                if now > due else 0,
                "may_upload": may and len(photos) < MAX_NOTICE_PHOTOS,
            }
        return out

    def case_notice_photos(self, username: str, case_id: int) -> dict[int, dict]:
        with self.sessions() as session:
            actor = self.actor(session, username)
            case = self.case_for(session, actor, case_id)
            return self.notice_photos(session, case, actor)


def attachment_json(att) -> dict:
    return {"id": att.id, "sha256": att.sha256, "name": att.name, "size": att.size,
            "content_type": att.content_type, "task": att.task_id, "case": att.case_id,
            "bound": att.bound_at is not None}


def is_notice(entry) -> bool:
    """A posted notice (with a notice period), not a reply, a correction's photo or a photo itself."""
    return entry.notice_until is not None and entry.kind not in ("photo", "objection_reply")


def notice_photo_wanted(meta: dict | None) -> str | None:
    """What the item asks to be photographed once its notices are posted (catalogue ``notice_photo``)."""
    value = (meta or {}).get("notice_photo")
    return value.strip() if isinstance(value, str) and value.strip() else None


def notice_photo_due(posted_at):
    """The end (Beijing time) of the second day after the day the notice was posted: a notice posted
    on Monday has its photo by Wednesday 23:59:59. Calendar days, not working days: the 2 days of
    issue 14 (一码一工程, R44) are days, and a notice on the board is photographed when it is posted."""
    from datetime import timedelta

    from .clock import LOCAL_TZ
    from .workdays import end_of_day

    return end_of_day(posted_at.astimezone(LOCAL_TZ).date() + timedelta(days=NOTICE_PHOTO_DAYS))


def _local_tz():
    from .clock import LOCAL_TZ

    return LOCAL_TZ


def history_item(att) -> dict:
    return {"id": att.id, "sha256": att.sha256, "name": att.name}


def _forms():
    # The registry only (engine/forms/base.py; importing it loads every family module first): the
    # forms package imports engine.leads, which imports this module.
    from .forms import base

    return base


def _by_id(session, model, ident):
    if isinstance(ident, bool) or not isinstance(ident, int) or not 0 < ident < 2**63:
        return None
    return session.get(model, ident)

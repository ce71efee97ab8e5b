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

import hashlib
import io
import os
import re
import tempfile
import unicodedata
from collections.abc import Iterator
from pathlib import Path

from ..domain.errors import CunwuError, Invalid

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
def refuse(message: str) -> Invalid:
    return Invalid(f"上传的文件：{message}", {"file": [message]})


def sniff(data: bytes) -> str:
    """The content type of ``data`` judged by its bytes; raises :class:`Invalid` (422) for anything
    that is not a complete JPEG, PNG or PDF."""
    if not data:
        raise refuse("文件是空的")
    if data.startswith(b"\xff\xd8\xff"):
        _check_image(data, "JPEG")
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        _check_image(data, "PNG")
        return "image/png"
    if data.startswith(b"%PDF-"):
        if not re.match(rb"%PDF-[12]\.\d", data[:8]) or b"%%EOF" not in data[-2048:]:
            raise refuse("PDF 文件不完整或已损坏（缺少文件头或结尾标记），未保存")
        return "application/pdf"
    if data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        # A phone's HEIC photo: kept as it is (the evidence); a JPEG made from it is what is shown.
        if not heif_available():
            raise refuse("本系统暂不能读取 HEIC 格式的照片，请在手机相机设置中选择“兼容性最佳”（JPEG），或截图后上传")
        _check_image(data, "HEIF")
        return "image/heic"
    raise refuse("只接受 JPEG、PNG 图片或 PDF 文件（按文件内容判断，与文件名无关）")


def _check_image(data: bytes, fmt: str) -> None:
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            if img.width * img.height > MAX_PIXELS:
                raise refuse(f"图片像素过多（{img.width}×{img.height}），请缩小后再上传")
            img.verify()  # structure and checksums (PNG CRCs)
        with Image.open(io.BytesIO(data), formats=[fmt]) as img:
            img.load()  # every pixel decodes: a truncated or corrupt image fails here
    except Invalid:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise refuse("图片像素过多，请缩小后再上传") from exc
    except Exception as exc:  # noqa: BLE001 - whatever Pillow finds wrong, the image is unusable
        name = "HEIC 照片" if fmt == "HEIF" else f"{fmt} 图片"
        raise refuse(f"{name}已损坏或不完整，无法打开，未保存") from exc


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

    from ..domain.clock import LOCAL_TZ
    from ..process.workdays import end_of_day

    return end_of_day(posted_at.astimezone(LOCAL_TZ).date() + timedelta(days=NOTICE_PHOTO_DAYS))


def history_item(att) -> dict:
    return {"id": att.id, "sha256": att.sha256, "name": att.name}

"""The case dossier (档案): ``GET /api/v1/instances/{id}/dossier?format=pdf|zip``.

``pdf``: the printable case record (WeasyPrint, A4, CJK fonts): the 登记表 (for 四议两公开 the
one-page 四议两公开登记表), every step with who, when, the record, votes against who should
attend, reviews, the notices with their periods, objections and replies, every attachment (images
inline, PDFs listed with their hashes), the audit history, the board chain head at printing time,
page numbers and a QR code to the case.

``zip``: ``manifest.json`` (``files``: ``[{name, sha256}]`` of every other file in the archive),
the attachments as stored (``files/<id>-<name>``) and ``dossier.pdf``.
"""

from __future__ import annotations

import base64
import io
import json
import zipfile

from flask import current_app, render_template, request

from engine.domain.errors import BadRequest
from engine.records.evidence import IMAGE_TYPES, heif_available, size_text
from engine.services import dossier

FORMATS = ("pdf", "zip")
DECISIONS = {"approve": "审核同意", "return": "退回更正记录", "object": "提出异议，报乡镇纪委核查"}
OUTCOMES = {"passed": "通过", "failed": "未通过", "lapsed": "流会"}
OBJECTION_DECISIONS = {"dismiss": "异议不成立", "uphold": "异议成立", "escalate": "报乡镇纪委核查"}
FORM_TITLES = {"major-decision": "四议两公开登记表"}


def case_url(case_id: int) -> str:
    base = current_app.config.get("CUNWU_PUBLIC_URL") or request.url_root
    return f"{base.rstrip('/')}/cases/{case_id}"


def _qr(url: str) -> str:
    import segno

    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, border=1, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _print_image(data: bytes) -> bytes:
    """An image fit for print (at most 1000 px: 80 mm wide at 300 dpi, JPEG): the dossier stays
    small and quick to make; the originals are in the zip."""
    from PIL import Image, ImageOps

    heif_available()  # a HEIC photo prints as the JPEG made from it
    with Image.open(io.BytesIO(data)) as img:
        ratio = 700 / max(img.size)  # JPEG: decode at the smallest scale still >= 700 px on the long side
        img.draft("RGB", (max(1, int(img.width * ratio)), max(1, int(img.height * ratio))))
        img = ImageOps.exif_transpose(img)
        img.thumbnail((1000, 1000), reducing_gap=2.0)
        out = io.BytesIO()
        img.convert("RGB").save(out, "JPEG", quality=78)
    return out.getvalue()


def all_files(data: dict) -> list[dict]:
    """Every file of the dossier: the steps' evidence, then the photos of the posted notices."""
    return [*(a for step in data["steps"] for a in step["attachments"]), *(a for e in data["board"] for a in e["photos"])]


def render_pdf(engine, data: dict, url: str) -> bytes:
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    images: dict[str, bytes] = {}
    files = 0
    for att in all_files(data):
        files += 1
        att["size_text"] = size_text(att["size"])
        if att["content_type"] in IMAGE_TYPES:
            key = f"cunwu-file:{att['sha256']}"
            if key not in images:
                images[key] = _print_image(engine.read_file(att["sha256"]))
            att["image"] = key

    class Fetcher(URLFetcher):
        """The photos come from memory; nothing is fetched from anywhere else but data: URIs."""

        def fetch(self, url, headers=None):
            if url in images:
                return URLFetcherResponse(url, body=images[url], headers={"Content-Type": "image/jpeg"})
            return super().fetch(url, headers)

    html = render_template("dossier.html", **data, qr=_qr(url), case_url=url, file_count=files,
                           form_title=FORM_TITLES.get(data["case"]["process"], "事项登记表"),
                           decisions=DECISIONS, outcomes=OUTCOMES, objection_decisions=OBJECTION_DECISIONS)
    return HTML(string=html, base_url=request.url_root,
                url_fetcher=Fetcher(allowed_protocols={"data", "cunwu-file"})).write_pdf()


def build_zip(engine, data: dict, pdf: bytes) -> bytes:
    import hashlib

    entries: list[tuple[str, bytes]] = []
    for att in all_files(data):
        entries.append((f"files/{att['id']}-{att['name']}", engine.read_file(att["sha256"])))
    entries.append(("dossier.pdf", pdf))
    manifest = {
        "case": data["case"]["id"], "title": data["case"]["title"], "process": data["case"]["process"],
        "village": data["village"]["code"], "status": data["case"]["status"],
        "printed_at": data["printed_at"].isoformat(), "board_head": data["chain"].get("head"),
        "archive_no": (data.get("archive") or {}).get("archive_no"),
        "retention": (data.get("archive") or {}).get("retention"),
        "files": [{"name": name, "sha256": hashlib.sha256(blob).hexdigest(), "size": len(blob)}
                  for name, blob in entries],
        "steps": [{"number": s["number"], "task": s["task"], "title": s["title"], "by": s["by"],
                   "at": s["at"].isoformat() if s["at"] else None,
                   "attachments": [{"id": a["id"], "name": a["name"], "sha256": a["sha256"]} for a in s["attachments"]]}
                  for s in data["steps"]],
        "notice_photos": [{"entry": e["id"], "notice": e["refers_to"], "hash": e["hash"],
                           "attachments": [{"id": a["id"], "name": a["name"], "sha256": a["sha256"]} for a in e["photos"]]}
                          for e in data["board"] if e["photos"]],
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        for name, blob in entries:
            # Photos and PDFs are compressed already: store them as they are.
            archive.writestr(zipfile.ZipInfo(name, date_time=data["printed_at"].timetuple()[:6]), blob,
                             compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


def dossier_response(engine, username: str, case_id: int, fmt: str):
    from flask import Response

    from .evidence import content_disposition

    if fmt not in FORMATS:
        raise BadRequest("format 只能是 pdf 或 zip", {"format": ["只能是 pdf 或 zip"]})
    data = dossier.gather(engine, username, case_id)
    url = case_url(case_id)
    pdf = render_pdf(engine, data, url)
    name = f"事项{case_id}-{data['case']['title'][:40]}-档案"
    if fmt == "pdf":
        response = Response(pdf, mimetype="application/pdf")
        response.headers["Content-Disposition"] = content_disposition(f"{name}.pdf")
    else:
        response = Response(build_zip(engine, data, pdf), mimetype="application/zip")
        response.headers["Content-Disposition"] = content_disposition(f"{name}.zip", inline=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response

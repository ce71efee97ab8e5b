"""The public board (公开栏): its entries, villagers' objections, posting photos, the hash-chain check."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from ..auth import current_username, engine
from ..evidence import read_upload
from .common import BEARER, UPLOAD_DOC, In, blp, rate_limit
from .schemas import AttachmentOut


class EntryOut(Schema):
    id = fields.Integer()
    seq = fields.Integer()
    village = fields.String()
    case = fields.Integer(allow_none=True)
    kind = fields.String()
    kind_name = fields.String()
    title = fields.String()
    content = fields.String()
    posted_at = fields.String()
    notice_until = fields.String(allow_none=True)
    in_notice = fields.Boolean()
    posted_by = fields.String()
    reviewed_by = fields.String()
    refers_to = fields.Integer(allow_none=True)
    hash = fields.String()
    evidence = fields.List(fields.Dict())
    objections = fields.List(fields.Dict())


class NoticePhotoOut(AttachmentOut):
    entry = fields.Integer()
    photo_entry = fields.Integer()
    public_sha256 = fields.String(allow_none=True)
    due_at = fields.String()
    late = fields.Boolean()


class VerifyOut(Schema):
    ok = fields.Boolean()
    entries = fields.Integer()
    head = fields.String()
    broken = fields.Dict()


class ObjectionIn(In):
    name = fields.String(load_default="", allow_none=True)  # optional: shown only to whoever answers
    contact = fields.String(load_default="", allow_none=True)
    text = fields.String(required=True, error_messages={"required": "请填写异议内容"})


class ObjectionOut(Schema):
    id = fields.Integer()
    entry = fields.Integer()
    filed_at = fields.String()
    status = fields.String()


@blp.route("/board/<int:entry_id>/photos")
class NoticePhotos(MethodView):
    @blp.response(201, NoticePhotoOut)
    @blp.doc(security=BEARER, **UPLOAD_DOC)
    def post(self, entry_id):
        """张贴照片：张榜人上传公示在公开栏上的照片（张榜后2日内），作为新的公开栏条目链入哈希链"""
        user = current_username()
        return engine().add_notice_photo(user, entry_id, *read_upload())


@blp.route("/villages/<string:code>/board")
class Board(MethodView):
    @blp.response(200, EntryOut(many=True))
    def get(self, code):
        """村务公开栏（无需登录），新的在前"""
        return engine().board(code)


@blp.route("/board/<int:entry_id>/objections")
class Objections(MethodView):
    @blp.arguments(ObjectionIn)
    @blp.response(201, ObjectionOut)
    def post(self, body, entry_id):
        """村民对公示提出异议（无需登录）"""
        rate_limit("cunwu_objection_limiter")
        return engine().file_objection(entry_id, body["name"], body.get("contact") or "", body["text"])


@blp.route("/villages/<string:code>/board/verify")
class BoardVerify(MethodView):
    @blp.response(200, VerifyOut)
    def get(self, code):
        """校验公开栏哈希链（无需登录）"""
        return engine().verify_board(code)

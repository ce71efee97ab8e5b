"""Cases (instances): start one, read one, hold and release it, its dossier, the village's archive."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import fields

from engine.domain.errors import BadRequest
from engine.services.dossier import archive_list

from ..auth import current_identity, current_username, engine
from ..dossier import dossier_response
from .common import BEARER, In, blp
from .schemas import CaseOut, HoldIn


class InstanceIn(In):
    process = fields.String(required=True, error_messages={"required": "请指定事项（process）"})
    village = fields.String(required=True, error_messages={"required": "请指定村（village）"})
    title = fields.String(required=True, error_messages={"required": "请填写事项标题（title）"})
    data = fields.Dict(load_default=dict, error_messages={"invalid": "data 必须是对象（JSON object）"})


@blp.route("/instances")
class Instances(MethodView):
    @blp.arguments(InstanceIn)
    @blp.response(201, CaseOut)
    @blp.doc(security=BEARER)
    def post(self, body):
        """发起一个事项（data 为提议表单）"""
        user = current_username()
        return engine().start_case(user, body["process"], body["village"], body["title"], body["data"])


@blp.route("/instances/<int:case_id>")
class Instance(MethodView):
    @blp.response(200, CaseOut)
    @blp.doc(security=BEARER)
    def get(self, case_id):
        """一个事项的状态、待办和经过"""
        return engine().get_case(current_identity(), case_id)


@blp.route("/instances/<int:case_id>/hold")
class Hold(MethodView):
    @blp.arguments(HoldIn)
    @blp.response(200, CaseOut)
    @blp.doc(security=BEARER)
    def post(self, body, case_id):
        """暂停事项（村务监督委员会、乡镇干部）"""
        return engine().hold_case(current_username(), case_id, body["reason"])


@blp.route("/instances/<int:case_id>/release")
class Release(MethodView):
    @blp.arguments(HoldIn)
    @blp.response(200, CaseOut)
    @blp.doc(security=BEARER)
    def post(self, body, case_id):
        """恢复办理被暂停的事项"""
        return engine().release_case(current_username(), case_id, body["reason"])


@blp.route("/instances/<int:case_id>/dossier")
class Dossier(MethodView):
    @blp.doc(security=BEARER, parameters=[{"in": "query", "name": "format", "required": False,
                                           "schema": {"type": "string", "enum": ["pdf", "zip"], "default": "pdf"}}])
    def get(self, case_id):
        """事项档案：pdf 为可打印的登记表和全部环节，zip 含 manifest.json、附件原件和 PDF"""
        user = current_username()
        return dossier_response(engine(), user, case_id, request.args.get("format", "pdf"))


@blp.route("/villages/<string:code>/archive")
class Archive(MethodView):
    @blp.doc(security=BEARER, parameters=[{"in": "query", "name": "year", "required": False,
                                           "schema": {"type": "integer"}}])
    def get(self, code):
        """村务档案目录：已办结（含未通过、撤回）的事项，档案号、保管期限，可按年份"""
        user = current_username()
        raw = request.args.get("year")
        if raw is not None and not (raw.isdigit() and 1900 < int(raw) < 3000):
            raise BadRequest("year 应为四位年份", {"year": ["应为四位年份，如 2026"]})
        return jsonify(archive_list(engine(), user, code, int(raw) if raw else None))

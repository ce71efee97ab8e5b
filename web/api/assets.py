"""The assets and resources register (资产资源台账)."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView

from ..auth import current_username, engine
from .common import BEARER, blp, created, query_doc, raw_body

ASSET_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["entity", "category", "name", "quantity", "unit"],
    "properties": {
        "entity": {"type": "string", "enum": ["committee", "cooperative"], "description": "核算主体"},
        "category": {"type": "string", "enum": ["resource", "operating", "non_operating"],
                     "description": "资源性资产、经营性资产、非经营性资产"},
        "code": {"type": "string", "description": "本村登记编号（可选，村内唯一）"},
        "name": {"type": "string"}, "location": {"type": "string", "description": "坐落位置"},
        "quantity": {"type": "string", "example": "20", "description": "面积或数量，最多四位小数"},
        "unit": {"type": "string", "example": "亩"},
        "original_value": {"type": "string", "example": "120000", "description": "原值（元）：如 120000、12万"},
        "book_value": {"type": "string", "example": "96000", "description": "账面价值（元）"},
        "acquired_on": {"type": "string", "format": "date"},
        "status": {"type": "string", "enum": ["in_use", "leased", "contracted", "idle"], "description": "默认在用"},
        "note": {"type": "string"}}}}}}}

FILTERS = (("entity", "committee 或 cooperative"), ("category", "resource、operating 或 non_operating"),
           ("status", "in_use、leased、contracted、idle 或 disposed"), ("q", "名称、编号或位置中的文字"))


@blp.route("/villages/<string:code>/assets")
class Assets(MethodView):
    @blp.doc(security=BEARER, parameters=query_doc(*FILTERS))
    def get(self, code):
        """资产资源台账：资产资源及其关联合同，原值、账面价值合计"""
        filters = {name: request.args.get(name) for name, _ in FILTERS}
        return jsonify(engine().assets(current_username(), code, **filters))

    @blp.doc(security=BEARER, **ASSET_DOC)
    def post(self, code):
        """登记资产资源（报账员、乡镇三资委托代理服务中心）"""
        user = current_username()
        return created(engine().add_asset(user, code, raw_body()))


@blp.route("/villages/<string:code>/assets/<int:asset_id>")
class AssetDetail(MethodView):
    @blp.doc(security=BEARER)
    def get(self, code, asset_id):
        """一项资产资源：状态变更记录和关联合同"""
        return jsonify(engine().asset(current_username(), code, asset_id))


@blp.route("/villages/<string:code>/assets/<int:asset_id>/status")
class AssetStatus(MethodView):
    @blp.doc(security=BEARER)
    def post(self, code, asset_id):
        """变更资产资源状态（在用、出租、承包、闲置、处置）：{status, reason}；记入变更记录，不改原登记"""
        user = current_username()
        return created(engine().change_asset_status(user, code, asset_id, raw_body()))

"""The catalogue of matters (小微权力清单) and one matter's lanes and steps."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from ..auth import current_username, engine
from .common import BEARER, blp


class ProcessOut(Schema):
    key = fields.String()
    name = fields.String()
    category = fields.String()
    version = fields.Integer()
    category_name = fields.String()
    legal_basis = fields.String()
    description = fields.String()
    starters = fields.List(fields.String())


class ProcessDetailOut(ProcessOut):
    lanes = fields.List(fields.Dict())
    steps = fields.List(fields.Dict())


@blp.route("/processes")
class Processes(MethodView):
    @blp.response(200, ProcessOut(many=True))
    @blp.doc(security=BEARER)
    def get(self):
        """事项清单（小微权力清单）"""
        current_username()
        return engine().processes()


@blp.route("/processes/<string:key>")
class ProcessDetail(MethodView):
    @blp.response(200, ProcessDetailOut)
    @blp.doc(security=BEARER)
    def get(self, key):
        """一个事项的泳道和步骤"""
        current_username()
        return engine().process(key)

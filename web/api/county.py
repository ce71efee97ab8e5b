"""The county view (县级视图) for the county discipline commission and the administrator."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields

from engine.services import reports

from ..auth import current_username, engine
from .common import BEARER, In, blp


class CountyQuery(In):
    township = fields.String(load_default=None, metadata={"description": "只看一个乡镇（名称）"})
    village = fields.String(load_default=None, metadata={"description": "只看一个村（村编码）"})


class CountyOut(Schema):
    counties = fields.List(fields.String())
    townships = fields.List(fields.Dict(), metadata={"description": "各乡镇及其各村的计数"})
    counts = fields.List(fields.Dict())
    totals = fields.Dict()
    holds = fields.List(fields.Dict(), metadata={"description": "暂停的事项：理由、暂停人、级别、起始时间"})
    inspections = fields.List(fields.Dict(), metadata={"description": "待乡镇纪委核查的任务及起因"})
    overdue = fields.List(fields.Dict())
    disclosures_overdue = fields.List(fields.Dict())
    photos_missing = fields.List(fields.Dict(), metadata={
        "description": "缺张贴照片：事项清单要求拍照存证的公示，张榜后第2日24时前未上传照片的（R44）"})
    meetings = fields.List(fields.Dict())
    objections = fields.List(fields.Dict(), metadata={"description": "村民异议（不含异议人姓名和联系方式）"})
    leads = fields.List(fields.Dict(), metadata={"description": "问题线索：状态、当前环节、期限、是否逾期（不含反映人）"})
    lead_status = fields.List(fields.Dict(), metadata={"description": "问题线索按状态计数"})
    cases = fields.List(fields.Dict())
    generated_at = fields.String()


@blp.route("/county")
class County(MethodView):
    @blp.arguments(CountyQuery, location="query")
    @blp.response(200, CountyOut)
    @blp.doc(security=BEARER)
    def get(self, query):
        """县级视图（县纪委、管理员）：本县各乡镇、各村的办理中和暂停事项（理由、暂停人、级别）、待核查、
        逾期环节、公开逾期、缺张贴照片、流会和未通过的会议、村民异议（不含异议人）、问题线索（按状态和期限）"""
        return reports.county(engine(), current_username(), query["village"], query["township"])

"""Complaint leads (问题线索): filing one and following it by its code (no login), the discipline
inspectors' desk, supervision and accountability records."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields

from ..auth import current_username, engine
from ..evidence import read_upload
from .common import BEARER, UPLOAD_DOC, In, blp, optional_username, rate_limit, raw_body
from .schemas import FileOut

LEAD_LIMITER = "cunwu_lead_limiter"


class LeadIn(In):
    village = fields.Raw(allow_none=True, metadata={"description": "村的编码"})
    text = fields.Raw(allow_none=True, metadata={"description": "反映内容（不超过5000字）"})
    category = fields.Raw(allow_none=True, metadata={"description": "问题类别：sanzi 三资、land 征地、dibao 低保、huinong 惠农、"
                                                   "project 工程、style 作风、other 其他（也可写中文名）"})
    name = fields.Raw(allow_none=True, metadata={"description": "姓名（与联系方式都填为实名反映，否则为匿名）"})
    contact = fields.Raw(allow_none=True, metadata={"description": "联系方式"})
    case = fields.Raw(allow_none=True, metadata={"description": "涉及的本村事项编号（可选）"})
    entry = fields.Raw(allow_none=True, metadata={"description": "涉及的本村公开栏条目编号（可选）"})
    channel = fields.Raw(allow_none=True, metadata={"description": "web 网页、qr 扫码；phone 来电、letter 来信、visit 来访须由纪委工作人员登录登记"})
    township_official = fields.Raw(allow_none=True, metadata={"description": "反映乡镇干部的问题：由县纪委办理"})


class LeadOut(Schema):
    code = fields.String()
    code_display = fields.String()
    status = fields.String()
    status_name = fields.String()
    village = fields.String()
    village_name = fields.String()
    category = fields.String()
    category_name = fields.String()
    channel = fields.String()
    channel_name = fields.String()
    real_name = fields.Boolean()
    received_at = fields.String()
    accept_due = fields.String()
    accept_due_estimated = fields.Boolean()
    accept_due_note = fields.String()
    accepted_at = fields.String()
    disposition = fields.String()
    disposition_name = fields.String()
    reason = fields.String()
    finding = fields.String()
    finding_name = fields.String()
    closed_at = fields.String()
    feedback = fields.String()
    feedback_at = fields.String()
    objection = fields.Dict()
    objection_until = fields.String()
    review = fields.String()
    rating = fields.Dict()
    can_rate = fields.Boolean()
    can_object = fields.Boolean()
    can_add_photos = fields.Boolean(metadata={"description": "还可以凭查询码补充照片（反映后24小时内、受理之前）"})


class RatingIn(In):
    score = fields.Raw(allow_none=True, metadata={"description": "满意度 1–5（整数）"})
    comment = fields.Raw(allow_none=True, metadata={"description": "评价意见（可选）"})


class LeadObjectionIn(In):
    text = fields.Raw(allow_none=True, metadata={"description": "对处理结果的异议（只能提一次）"})


class LeadPhotoOut(FileOut):
    pass


class SupervisionIn(In):
    reason = fields.Raw(allow_none=True, metadata={"description": "督办理由"})
    due = fields.Raw(allow_none=True, metadata={"description": "办结时限（工作日，YYYY-MM-DD，不早于今天）"})


class AccountabilityIn(In):
    person = fields.Raw(allow_none=True, metadata={"description": "被问责人姓名"})
    position = fields.Raw(allow_none=True, metadata={"description": "职务，如 村党支部书记"})
    duty = fields.Raw(allow_none=True, metadata={"description": "primary（主体责任）或 supervisory（监督责任）"})
    measure = fields.Raw(allow_none=True, metadata={"description": "talk_reminder 谈话提醒、criticism 批评教育、"
                                                                   "self_examination 责令检查、circulated 通报、admonishment 诫勉、"
                                                                   "organisational 组织调整或者组织处理、party_discipline 党纪处分、"
                                                                   "government_sanction 政务处分、judicial 移送司法机关"})
    decided_on = fields.Raw(allow_none=True, metadata={"description": "决定日期 YYYY-MM-DD"})
    decided_by = fields.Raw(allow_none=True, metadata={"description": "决定机关，如 示范镇纪委"})
    note = fields.Raw(allow_none=True, metadata={"description": "说明（可选）"})


@blp.route("/leads")
class Leads(MethodView):
    @blp.arguments(LeadIn)
    @blp.response(201, LeadOut)
    def post(self, _body):
        """反映问题线索（无需登录，可匿名）；返回查询码和受理期限"""
        rate_limit(LEAD_LIMITER)
        return engine().file_lead(raw_body(), username=optional_username())

    @blp.doc(security=BEARER)
    def get(self):
        """问题线索台账和统计（乡镇纪委、县纪委）：?village=&status="""
        return engine().leads_desk(current_username(), request.args.get("village") or None,
                                   request.args.get("status") or None)


@blp.route("/leads/<string:code>")
class LeadStatus(MethodView):
    @blp.response(200, LeadOut)
    def get(self, code):
        """凭查询码查看线索办理进度（不显示反映人和经办人）"""
        return engine().lead_status(code)


@blp.route("/leads/<string:code>/rating")
class LeadRating(MethodView):
    @blp.arguments(RatingIn)
    @blp.response(201, LeadOut)
    def post(self, _body, code):
        """反馈之后评价办理结果（1–5分）"""
        rate_limit(LEAD_LIMITER)
        return engine().rate_lead(code, raw_body())


@blp.route("/leads/<string:code>/objection")
class LeadObjection(MethodView):
    @blp.arguments(LeadObjectionIn)
    @blp.response(201, LeadOut)
    def post(self, _body, code):
        """对处理结果提出异议（反馈后30日内，只能一次），由县纪委复查"""
        rate_limit(LEAD_LIMITER)
        return engine().object_lead(code, raw_body())


@blp.route("/leads/<string:code>/attachments")
class LeadPhotos(MethodView):
    @blp.response(201, LeadPhotoOut)
    @blp.doc(**UPLOAD_DOC)
    def post(self, code):
        """反映人凭查询码补充照片或扫描件（反映后24小时内、受理之前；每条线索最多9件；只有办理线索的纪委可以查看）"""
        rate_limit(LEAD_LIMITER)
        return engine().add_lead_photo(code, *read_upload())


@blp.route("/instances/<int:case_id>/lead/supervision")
class LeadSupervision(MethodView):
    @blp.arguments(SupervisionIn)
    @blp.response(201)
    @blp.doc(security=BEARER)
    def post(self, _body, case_id):
        """县纪委督办问题线索：理由和办结时限；乡镇纪委收到通知，线索各环节须在时限前办结（只能督办一次）"""
        return engine().supervise_lead(current_username(), case_id, raw_body())


@blp.route("/instances/<int:case_id>/lead/accountability")
class LeadAccountabilityRecords(MethodView):
    @blp.doc(security=BEARER)
    def get(self, case_id):
        """一案双查问责记录（仅办理线索的乡镇纪委、县纪委）"""
        return engine().accountability_of(current_username(), case_id)

    @blp.arguments(AccountabilityIn)
    @blp.response(201)
    @blp.doc(security=BEARER)
    def post(self, _body, case_id):
        """登记一案双查问责记录：被问责人、职务、主体责任或监督责任、问责方式、决定日期、决定机关（线索属实或部分属实后）"""
        return engine().add_accountability(current_username(), case_id, raw_body())

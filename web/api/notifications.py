"""My notifications (站内通知) and my notice preferences."""

from __future__ import annotations

from flask import jsonify
from flask.views import MethodView
from marshmallow import Schema, fields

from ..auth import current_username, engine
from .common import BEARER, In, blp, raw_body


class NotificationOut(Schema):
    id = fields.Integer()
    at = fields.String()
    kind = fields.String()
    title = fields.String()
    case = fields.Integer()
    lead = fields.Integer()
    read = fields.Boolean()


class PreferencesIn(In):
    sms = fields.Raw(metadata={"description": "短信 true/false"})
    email = fields.Raw(metadata={"description": "邮件 true/false"})
    digest_hour = fields.Raw(allow_none=True, metadata={"description": "每日汇总的整点（北京时间 0–23），null 逐条发送"})
    quiet_from = fields.Raw(metadata={"description": "免打扰开始整点（0–23）"})
    quiet_to = fields.Raw(metadata={"description": "免打扰结束整点（0–23）；与开始相同则不设免打扰"})


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.response(200, NotificationOut(many=True))
    @blp.doc(security=BEARER)
    def get(self):
        """我的通知，新的在前（异议、暂停、超期、线索）"""
        return engine().notifications(current_username())


@blp.route("/notifications/preferences")
class NotificationPreferences(MethodView):
    @blp.doc(security=BEARER)
    def get(self):
        """我的通知设置：短信、邮件、每日汇总时间、免打扰时段（站内通知始终开启）"""
        return jsonify(engine().notice_preferences(current_username()))

    @blp.arguments(PreferencesIn)
    @blp.doc(security=BEARER)
    def put(self, _body):
        """修改我的通知设置（未给的项不变）；暂停（hold）总是立即发送"""
        return jsonify(engine().set_notice_preferences(current_username(), raw_body()))


@blp.route("/notifications/<int:notice_id>/read")
class NotificationRead(MethodView):
    @blp.response(204)
    @blp.doc(security=BEARER)
    def post(self, notice_id):
        """标为已读（只能标自己的通知，别人的一律404）"""
        engine().read_notification(current_username(), notice_id)
        return None

"""The JSON API (/api/v1), documented as OpenAPI by flask-smorest. Routes are thin: the
engine service owns every rule."""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from flask.views import MethodView
from flask_smorest import Api, Blueprint
from marshmallow import EXCLUDE, Schema, fields
from webargs.flaskparser import FlaskParser, is_json_request

from engine.domain.errors import BadRequest, NotAuthenticated

from .auth import bearer_token, current_identity, current_username, engine, issue_token, login


class BodyOnceParser(FlaskParser):
    """webargs' parser, reading the JSON body that web/security.py already parsed and checked
    (one parse per request) instead of parsing the bytes again."""

    def _raw_load_json(self, req):
        cached = req._cached_json[False] if is_json_request(req) else Ellipsis
        return super()._raw_load_json(req) if cached is Ellipsis else cached


blp = Blueprint("api", __name__, url_prefix="/api/v1", description="阳光村务 JSON API")
blp.ARGUMENTS_PARSER = BodyOnceParser()


class _In(Schema):
    class Meta:
        unknown = EXCLUDE


class TokenIn(_In):
    username = fields.String(required=True, metadata={"description": "用户名"},
                             error_messages={"required": "请填写用户名"})
    password = fields.String(required=True, metadata={"description": "密码"},
                             error_messages={"required": "请填写密码"})


class TokenOut(Schema):
    token = fields.String()


class InstanceIn(_In):
    process = fields.String(required=True, error_messages={"required": "请指定事项（process）"})
    village = fields.String(required=True, error_messages={"required": "请指定村（village）"})
    title = fields.String(required=True, error_messages={"required": "请填写事项标题（title）"})
    data = fields.Dict(load_default=dict, error_messages={"invalid": "data 必须是对象（JSON object）"})


class CompleteIn(_In):
    data = fields.Dict(required=True, error_messages={"required": "请提交表单数据（data）",
                                                      "invalid": "data 必须是对象（JSON object）"})


class ObjectionIn(_In):
    name = fields.String(load_default="", allow_none=True)  # optional: shown only to whoever answers
    contact = fields.String(load_default="", allow_none=True)
    text = fields.String(required=True, error_messages={"required": "请填写异议内容"})


class HoldIn(_In):
    reason = fields.String(load_default="")


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


class TaskOut(Schema):
    id = fields.String()
    case = fields.Integer()
    name = fields.String()
    title = fields.String()
    role = fields.String()
    role_name = fields.String()
    form = fields.String()
    state = fields.String()
    body = fields.String()
    body_name = fields.String()
    should_attend = fields.Integer()
    households = fields.Integer()
    due_at = fields.String()
    overdue = fields.Boolean()
    case_title = fields.String()
    village = fields.String()
    village_name = fields.String()
    fields_ = fields.List(fields.Dict(), data_key="fields", attribute="fields")
    data = fields.Dict(allow_none=True)
    objection = fields.Dict()
    lead = fields.Dict()
    statement = fields.Dict(metadata={"description": "财务公开事项：从账目生成的财务公开表"})
    subject = fields.Dict()  # the record a review, objection reply or inspection decides about
    prefill = fields.Dict()  # a disclosure drafted from the record, for the cadre to edit
    evidence = fields.Dict()


class CaseOut(Schema):
    id = fields.Integer()
    process = fields.String()
    process_name = fields.String()
    version = fields.Integer()
    village = fields.String()
    village_name = fields.String()
    title = fields.String()
    status = fields.String()
    status_name = fields.String()
    created_at = fields.String()
    updated_at = fields.String()
    hold_reason = fields.String(allow_none=True)
    tasks = fields.List(fields.Nested(TaskOut))
    history = fields.List(fields.Dict())
    board = fields.List(fields.Dict())
    lead = fields.Dict()


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


class AttachmentOut(Schema):
    id = fields.Integer()
    sha256 = fields.String()
    name = fields.String()
    size = fields.Integer()
    content_type = fields.String()
    task = fields.String()
    case = fields.Integer()
    bound = fields.Boolean()


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


class ObjectionOut(Schema):
    id = fields.Integer()
    entry = fields.Integer()
    filed_at = fields.String()
    status = fields.String()


BEARER = [{"bearerAuth": []}]


@blp.route("/auth/token")
class Token(MethodView):
    @blp.arguments(TokenIn)
    @blp.response(200, TokenOut)
    def post(self, body):
        """登录，换取 API 令牌（同一账号15分钟内最多输错5次，同一地址最多20次）"""
        user = login(body["username"], body["password"])
        if user is None:
            raise NotAuthenticated("用户名或密码错误")
        if user.must_change_password:
            from engine.domain.errors import Forbidden

            raise Forbidden("这是管理员给的一次性密码：请先在网页上登录，改成自己的密码")
        return {"token": issue_token(user)}

    @blp.response(204)
    @blp.doc(security=BEARER)
    def delete(self):
        """注销当前 API 令牌（此后该令牌一律401）"""
        current_username()
        engine().accounts.revoke(bearer_token())
        return None


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


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.response(200, TaskOut(many=True))
    @blp.doc(security=BEARER)
    def get(self):
        """我可以办理的待办任务"""
        return engine().list_tasks(current_identity())


@blp.route("/tasks/<string:task_id>")
class TaskDetail(MethodView):
    @blp.response(200, TaskOut)
    @blp.doc(security=BEARER)
    def get(self, task_id):
        """一个任务及其表单字段"""
        return engine().get_task(current_identity(), task_id)


@blp.route("/tasks/<string:task_id>/complete")
class Complete(MethodView):
    @blp.arguments(CompleteIn)
    @blp.response(200, CaseOut)
    @blp.doc(security=BEARER)
    def post(self, body, task_id):
        """办理任务，返回事项"""
        return engine().complete_task(current_identity(), task_id, body["data"])


UPLOAD_DOC = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary",
                            "description": "JPEG、PNG 或 PDF（按内容判断），不超过 CUNWU_MAX_UPLOAD（默认 20 MB）"}}}}}}}


@blp.route("/tasks/<string:task_id>/attachments")
class TaskAttachments(MethodView):
    @blp.response(201, AttachmentOut)
    @blp.doc(security=BEARER, **UPLOAD_DOC)
    def post(self, task_id):
        """上传附件（照片、扫描件），办结任务时记入该步骤的记录"""
        from .evidence import read_upload

        user = current_username()
        name, data, limit = read_upload()
        return engine().upload_attachment(user, task_id, name, data, limit)

    @blp.response(200, AttachmentOut(many=True))
    @blp.doc(security=BEARER)
    def get(self, task_id):
        """一个任务的附件"""
        return engine().task_attachments(current_username(), task_id)


@blp.route("/attachments/<int:attachment_id>")
class AttachmentFile(MethodView):
    @blp.doc(security=BEARER)
    def get(self, attachment_id):
        """附件原件（按登记的 SHA-256 核对后提供）"""
        from .evidence import file_response

        meta, data = engine().attachment(current_username(), attachment_id)
        return file_response(meta, data)

    @blp.response(200, AttachmentOut)
    @blp.doc(security=BEARER)
    def delete(self, attachment_id):
        """撤回尚未随办理记入记录的附件（已记入的不能删除：409）"""
        return engine().remove_attachment(current_username(), attachment_id)


@blp.route("/board/<int:entry_id>/photos")
class NoticePhotos(MethodView):
    @blp.response(201, NoticePhotoOut)
    @blp.doc(security=BEARER, **UPLOAD_DOC)
    def post(self, entry_id):
        """张贴照片：张榜人上传公示在公开栏上的照片（张榜后2日内），作为新的公开栏条目链入哈希链"""
        from .evidence import read_upload

        user = current_username()
        name, data, limit = read_upload()
        return engine().add_notice_photo(user, entry_id, name, data, limit)


@blp.route("/instances/<int:case_id>/dossier")
class Dossier(MethodView):
    @blp.doc(security=BEARER, parameters=[{"in": "query", "name": "format", "required": False,
                                           "schema": {"type": "string", "enum": ["pdf", "zip"], "default": "pdf"}}])
    def get(self, case_id):
        """事项档案：pdf 为可打印的登记表和全部环节，zip 含 manifest.json、附件原件和 PDF"""
        from .dossier import dossier_response

        user = current_username()
        return dossier_response(engine(), user, case_id, request.args.get("format", "pdf"))


@blp.route("/villages/<string:code>/archive")
class Archive(MethodView):
    @blp.doc(security=BEARER, parameters=[{"in": "query", "name": "year", "required": False,
                                           "schema": {"type": "integer"}}])
    def get(self, code):
        """村务档案目录：已办结（含未通过、撤回）的事项，档案号、保管期限，可按年份"""
        from flask import jsonify

        from engine.services.dossier import archive_list

        user = current_username()
        raw = request.args.get("year")
        if raw is not None and not (raw.isdigit() and 1900 < int(raw) < 3000):
            raise BadRequest("year 应为四位年份", {"year": ["应为四位年份，如 2026"]})
        return jsonify(archive_list(engine(), user, code, int(raw) if raw else None))


class NotificationOut(Schema):
    id = fields.Integer()
    at = fields.String()
    kind = fields.String()
    title = fields.String()
    case = fields.Integer()
    lead = fields.Integer()
    read = fields.Boolean()


@blp.route("/notifications")
class Notifications(MethodView):
    @blp.response(200, NotificationOut(many=True))
    @blp.doc(security=BEARER)
    def get(self):
        """我的通知，新的在前（异议、暂停、超期、线索）"""
        return engine().notifications(current_username())


class PreferencesIn(_In):
    sms = fields.Raw(metadata={"description": "短信 true/false"})
    email = fields.Raw(metadata={"description": "邮件 true/false"})
    digest_hour = fields.Raw(allow_none=True, metadata={"description": "每日汇总的整点（北京时间 0–23），null 逐条发送"})
    quiet_from = fields.Raw(metadata={"description": "免打扰开始整点（0–23）"})
    quiet_to = fields.Raw(metadata={"description": "免打扰结束整点（0–23）；与开始相同则不设免打扰"})


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
        return jsonify(engine().set_notice_preferences(current_username(), _raw_body()))


@blp.route("/notifications/<int:notice_id>/read")
class NotificationRead(MethodView):
    @blp.response(204)
    @blp.doc(security=BEARER)
    def post(self, notice_id):
        """标为已读（只能标自己的通知，别人的一律404）"""
        engine().read_notification(current_username(), notice_id)
        return None


class PersonIn(_In):
    username = fields.Raw(metadata={"description": "用户名（新建时）"})
    name = fields.Raw(metadata={"description": "姓名"})
    phone = fields.Raw(allow_none=True, metadata={"description": "11位手机号"})
    email = fields.Raw(allow_none=True, metadata={"description": "电子邮箱"})
    password = fields.Raw(allow_none=True, metadata={"description": "密码（新建、重置时；不填则生成一次性密码）"})
    roles = fields.Raw(metadata={"description": "角色：[{role, village|township|county}]，同导入文件"})
    active = fields.Raw(metadata={"description": "true 启用，false 停用"})


@blp.route("/people")
class People(MethodView):
    @blp.doc(security=BEARER)
    def get(self):
        """人员列表（系统管理员）：?village=&township=&role=&active=1|0"""
        args = request.args
        return jsonify(engine().people(current_username(), village=args.get("village") or None,
                                       township=args.get("township") or None, role=args.get("role") or None,
                                       active={"1": True, "0": False, "true": True, "false": False}.get(
                                           args.get("active", ""))))

    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def post(self, _body):
        """新建人员（系统管理员）；不给密码时返回一次性密码 password（只此一次）"""
        person, generated = engine().create_person(current_username(), _raw_body())
        return jsonify({**person, **({"password": generated} if generated else {})}), 201


@blp.route("/people/<string:target>")
class Person(MethodView):
    @blp.doc(security=BEARER)
    def get(self, target):
        """一个人员（系统管理员）"""
        return jsonify(engine().person(current_username(), target))

    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def patch(self, _body, target):
        """修改姓名、手机号、邮箱、角色（整组替换），active 停用或启用（系统管理员）"""
        body = _raw_body()
        user = current_username()
        engine().person(user, target)  # the admin only (403), an existing person (404)
        if "active" in body and not isinstance(body["active"], bool):
            from engine.domain.errors import Invalid

            raise Invalid("active 必须是 true 或 false", {"active": ["必须是 true 或 false"]})
        changes = {k: body[k] for k in ("name", "phone", "email", "roles") if k in body}
        if changes or "active" not in body:
            engine().update_person(user, target, changes)
        if "active" in body:
            engine().set_person_active(user, target, body["active"])
        return jsonify(engine().person(user, target))


@blp.route("/people/<string:target>/password")
class PersonPassword(MethodView):
    @blp.arguments(PersonIn)
    @blp.doc(security=BEARER)
    def post(self, _body, target):
        """重置密码（系统管理员）：给 password 则用之，否则生成一次性密码；此人的登录和令牌全部失效"""
        given = _raw_body().get("password")
        password = engine().reset_password(current_username(), target, given if given not in (None, "") else None)
        return jsonify({"password": password} if given in (None, "") else {}), 200


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
        limiter = current_app.extensions.get("cunwu_objection_limiter")
        if limiter is not None:
            limiter.check(request.remote_addr or "")
        return engine().file_objection(entry_id, body["name"], body.get("contact") or "", body["text"])


class LeadIn(_In):
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


class RatingIn(_In):
    score = fields.Raw(allow_none=True, metadata={"description": "满意度 1–5（整数）"})
    comment = fields.Raw(allow_none=True, metadata={"description": "评价意见（可选）"})


class LeadObjectionIn(_In):
    text = fields.Raw(allow_none=True, metadata={"description": "对处理结果的异议（只能提一次）"})


def _lead_limit() -> None:
    limiter = current_app.extensions.get("cunwu_lead_limiter")
    if limiter is not None:
        limiter.check(request.remote_addr or "")


def _raw_body() -> dict:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def _optional_username() -> str | None:
    """The cadre entering a phone call or letter is logged in; a reporter is not."""
    if not request.headers.get("Authorization"):
        return None
    return current_username()


@blp.route("/leads")
class Leads(MethodView):
    @blp.arguments(LeadIn)
    @blp.response(201, LeadOut)
    def post(self, _body):
        """反映问题线索（无需登录，可匿名）；返回查询码和受理期限"""
        _lead_limit()
        return engine().file_lead(_raw_body(), username=_optional_username())

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
        _lead_limit()
        return engine().rate_lead(code, _raw_body())


@blp.route("/leads/<string:code>/objection")
class LeadObjection(MethodView):
    @blp.arguments(LeadObjectionIn)
    @blp.response(201, LeadOut)
    def post(self, _body, code):
        """对处理结果提出异议（反馈后30日内，只能一次），由县纪委复查"""
        _lead_limit()
        return engine().object_lead(code, _raw_body())


class LeadPhotoOut(Schema):
    id = fields.Integer()
    sha256 = fields.String()
    name = fields.String()
    size = fields.Integer()
    content_type = fields.String()


@blp.route("/leads/<string:code>/attachments")
class LeadPhotos(MethodView):
    @blp.response(201, LeadPhotoOut)
    @blp.doc(**UPLOAD_DOC)
    def post(self, code):
        """反映人凭查询码补充照片或扫描件（反映后24小时内、受理之前；每条线索最多9件；只有办理线索的纪委可以查看）"""
        from .evidence import read_upload

        _lead_limit()
        name, data, limit = read_upload()
        return engine().add_lead_photo(code, name, data, limit)


class SupervisionIn(_In):
    reason = fields.Raw(allow_none=True, metadata={"description": "督办理由"})
    due = fields.Raw(allow_none=True, metadata={"description": "办结时限（工作日，YYYY-MM-DD，不早于今天）"})


class AccountabilityIn(_In):
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


@blp.route("/instances/<int:case_id>/lead/supervision")
class LeadSupervision(MethodView):
    @blp.arguments(SupervisionIn)
    @blp.response(201)
    @blp.doc(security=BEARER)
    def post(self, _body, case_id):
        """县纪委督办问题线索：理由和办结时限；乡镇纪委收到通知，线索各环节须在时限前办结（只能督办一次）"""
        return engine().supervise_lead(current_username(), case_id, _raw_body())


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
        return engine().add_accountability(current_username(), case_id, _raw_body())


@blp.route("/villages/<string:code>/board/verify")
class BoardVerify(MethodView):
    @blp.response(200, VerifyOut)
    def get(self, code):
        """校验公开栏哈希链（无需登录）"""
        return engine().verify_board(code)


class LedgerEntryOut(Schema):
    id = fields.Integer()
    date = fields.String()
    entity = fields.String()
    entity_name = fields.String()
    direction = fields.String()
    amount = fields.String(metadata={"description": "两位小数的字符串，如 \"1234.56\"；冲销分录为负数"})
    account = fields.String()
    account_class = fields.String()
    summary = fields.String()
    counterparty = fields.String()
    case = fields.Integer(allow_none=True)
    voucher = fields.String()
    reverses = fields.Integer(allow_none=True)
    reversed_by = fields.Integer(allow_none=True)
    contract = fields.Integer(allow_none=True)
    recorded_by = fields.String()
    recorded_at = fields.String()


class LedgerOut(Schema):
    village = fields.String()
    village_name = fields.String()
    entity = fields.String(allow_none=True)
    from_ = fields.String(data_key="from", attribute="from", allow_none=True)
    to = fields.String(allow_none=True)
    entries = fields.List(fields.Nested(LedgerEntryOut))
    count = fields.Integer()
    limit = fields.Integer()
    offset = fields.Integer()
    totals = fields.Dict()


RECEIPT_DOC = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["entity", "amount", "account", "summary"],
    "properties": {
        "received_on": {"type": "string", "format": "date", "description": "收款日期（默认今天，不能晚于今天）"},
        "entity": {"type": "string", "enum": ["committee", "cooperative"], "description": "核算主体"},
        "amount": {"type": "string", "example": "1234.56", "description": "大于0、最多两位小数的字符串；不接受浮点数"},
        "account": {"type": "string", "example": "经营收入", "description": "会计科目"},
        "summary": {"type": "string", "description": "摘要"},
        "counterparty": {"type": "string", "description": "付款单位（人）"},
        "voucher": {"type": "string", "description": "凭证号（可选）"}}}}}}}


def _int_arg(name: str, default: int, maximum: int) -> int:
    from engine.domain.errors import Invalid

    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) > maximum:
        raise Invalid(f"{name} 须为0到{maximum}之间的整数", {name: [f"须为0到{maximum}之间的整数"]})
    return int(raw)


@blp.route("/villages/<string:code>/ledger")
class Ledger(MethodView):
    @blp.response(200, LedgerOut)
    @blp.doc(security=BEARER, parameters=[
        {"in": "query", "name": n, "schema": {"type": "string"}, "description": d}
        for n, d in (("entity", "committee 或 cooperative"), ("from", "起始日期（含）"), ("to", "截止日期（含）"),
                     ("limit", "每页条数（默认1000，最多5000）"), ("offset", "跳过条数"))])
    def get(self, code):
        """本村账目（三资台账）：分录和收支合计"""
        user = current_username()
        return engine().ledger(user, code, entity=request.args.get("entity"), start=request.args.get("from"),
                               end=request.args.get("to"), limit=_int_arg("limit", 1000, 5000),
                               offset=_int_arg("offset", 0, 10**9))


@blp.route("/villages/<string:code>/ledger/receipts")
class LedgerReceipts(MethodView):
    @blp.response(201, LedgerEntryOut)
    @blp.doc(security=BEARER, **RECEIPT_DOC)
    def post(self, code):
        """登记收入（报账员、乡镇三资委托代理服务中心）"""
        user = current_username()
        return engine().add_receipt(user, code, request.get_json(silent=True) or {})


@blp.route("/villages/<string:code>/contracts")
class Contracts(MethodView):
    @blp.doc(security=BEARER)
    def get(self, code):
        """合同台账（发包、租赁、承包）及应收、已收、应收未收"""
        from flask import jsonify

        return jsonify(engine().contracts(current_username(), code))

    @blp.doc(security=BEARER)
    def post(self, code):
        """登记合同（报账员、乡镇三资委托代理服务中心）：{entity, kind, subject, counterparty, starts_on, ends_on,
        amount（每期，两位小数的字符串）, every_months, account?, case?}"""
        from flask import jsonify

        user = current_username()
        out = jsonify(engine().add_contract(user, code, request.get_json(silent=True) or {}))
        out.status_code = 201
        return out


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


def _asset_args() -> dict:
    return {k: request.args.get(k) for k in ("entity", "category", "status", "q")}


@blp.route("/villages/<string:code>/assets")
class Assets(MethodView):
    @blp.doc(security=BEARER, parameters=[
        {"in": "query", "name": n, "schema": {"type": "string"}, "description": d}
        for n, d in (("entity", "committee 或 cooperative"), ("category", "resource、operating 或 non_operating"),
                     ("status", "in_use、leased、contracted、idle 或 disposed"), ("q", "名称、编号或位置中的文字"))])
    def get(self, code):
        """资产资源台账：资产资源及其关联合同，原值、账面价值合计"""
        from flask import jsonify

        return jsonify(engine().assets(current_username(), code, **_asset_args()))

    @blp.doc(security=BEARER, **ASSET_DOC)
    def post(self, code):
        """登记资产资源（报账员、乡镇三资委托代理服务中心）"""
        from flask import jsonify

        user = current_username()
        out = jsonify(engine().add_asset(user, code, request.get_json(silent=True) or {}))
        out.status_code = 201
        return out


@blp.route("/villages/<string:code>/assets/<int:asset_id>")
class AssetDetail(MethodView):
    @blp.doc(security=BEARER)
    def get(self, code, asset_id):
        """一项资产资源：状态变更记录和关联合同"""
        from flask import jsonify

        return jsonify(engine().asset(current_username(), code, asset_id))


@blp.route("/villages/<string:code>/assets/<int:asset_id>/status")
class AssetStatus(MethodView):
    @blp.doc(security=BEARER)
    def post(self, code, asset_id):
        """变更资产资源状态（在用、出租、承包、闲置、处置）：{status, reason}；记入变更记录，不改原登记"""
        from flask import jsonify

        user = current_username()
        out = jsonify(engine().change_asset_status(user, code, asset_id, request.get_json(silent=True) or {}))
        out.status_code = 201
        return out


@blp.route("/villages/<string:code>/ledger/entries/<int:entry_id>")
class LedgerEntryDetail(MethodView):
    @blp.response(200, LedgerEntryOut)
    @blp.doc(security=BEARER)
    def get(self, code, entry_id):
        """一笔分录"""
        return engine().ledger_entry(current_username(), code, entry_id)


@blp.route("/villages/<string:code>/ledger/entries/<int:entry_id>/reversal")
class LedgerReversal(MethodView):
    @blp.arguments(HoldIn)
    @blp.response(201, LedgerEntryOut)
    @blp.doc(security=BEARER)
    def post(self, body, code, entry_id):
        """冲销一笔登记错误的收入（红字冲销，原分录不改）；正文 {reason}"""
        return engine().reverse_entry(current_username(), code, entry_id, body["reason"])


def _diagram_response(rendered, *, public: bool) -> Response:
    """A rendered chart or poster as an HTTP answer (diagrams/ renders; it knows no Flask)."""
    response = Response(rendered.data, mimetype=rendered.mimetype.split(";")[0])
    if rendered.mimetype.startswith("image/svg"):
        response.headers["Content-Type"] = rendered.mimetype
    response.headers["Content-Disposition"] = f'inline; filename="{rendered.filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.set_etag(rendered.etag)
    response.cache_control.max_age = 300 if public else 0
    if public:
        response.cache_control.public = True
    else:
        response.cache_control.private = True
        response.cache_control.no_cache = True
    return response.make_conditional(request)


@blp.route("/processes/<string:key>/diagram")
class ProcessDiagram(MethodView):
    def get(self, key):
        """事项流程图（svg/png/pdf）；pdf/png 加 variant=villager 为村民版海报（大字，公示、异议、反映问题）"""
        renderer = current_app.extensions.get("cunwu_diagrams")
        if renderer is None:
            return _not_implemented()
        args = request.args
        rendered = renderer.render_process(key, args.get("format"), args.get("paper"), args.get("village"),
                                           base_url=request.url_root, variant=args.get("variant"))
        return _diagram_response(rendered, public=True)


@blp.route("/instances/<int:case_id>/diagram")
class InstanceDiagram(MethodView):
    @blp.doc(security=BEARER)
    def get(self, case_id):
        """事项流程图，标出当前步骤"""
        renderer = current_app.extensions.get("cunwu_diagrams")
        user = current_username()
        if renderer is None:
            return _not_implemented()
        args = request.args
        rendered = renderer.render_case(user, case_id, args.get("format"), args.get("paper"),
                                        base_url=request.url_root)
        return _diagram_response(rendered, public=False)


class CountyQuery(_In):
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
        from engine.services import reports

        return reports.county(engine(), current_username(), query["village"], query["township"])


def _not_implemented() -> Response:
    from .errors import error_response

    return error_response(501, "流程图功能尚未提供")


class CunwuApi(Api):
    def _register_responses(self):  # keep the contract's error shape in the docs too
        return super()._register_responses()


def init_app(app: Flask) -> None:
    app.config.setdefault("API_TITLE", "阳光村务 API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", "/api/v1")
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    api = CunwuApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer"}}}})
    api.register_blueprint(blp)
    # smorest installs its own HTTP error handler; put the contract's shape back on top.
    from . import errors

    errors.init_app(app)

    @app.before_request
    def _json_body_is_object():
        if request.path.startswith("/api/") and request.method in ("POST", "PUT", "PATCH") and request.data:
            body = request.get_json(silent=True)
            if body is None:
                raise BadRequest("请求正文不是合法的 JSON")
            if not isinstance(body, dict):
                raise BadRequest("请求正文必须是 JSON 对象")

"""Tasks: my to-do list, one task with its form, completing it, and its attachments."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import fields

from ..auth import current_identity, current_username, engine
from ..evidence import file_response, read_upload
from .common import BEARER, UPLOAD_DOC, In, blp
from .schemas import AttachmentOut, CaseOut, TaskOut


class CompleteIn(In):
    data = fields.Dict(required=True, error_messages={"required": "请提交表单数据（data）",
                                                      "invalid": "data 必须是对象（JSON object）"})


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


@blp.route("/tasks/<string:task_id>/attachments")
class TaskAttachments(MethodView):
    @blp.response(201, AttachmentOut)
    @blp.doc(security=BEARER, **UPLOAD_DOC)
    def post(self, task_id):
        """上传附件（照片、扫描件），办结任务时记入该步骤的记录"""
        user = current_username()
        return engine().upload_attachment(user, task_id, *read_upload())

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
        meta, data = engine().attachment(current_username(), attachment_id)
        return file_response(meta, data)

    @blp.response(200, AttachmentOut)
    @blp.doc(security=BEARER)
    def delete(self, attachment_id):
        """撤回尚未随办理记入记录的附件（已记入的不能删除：409）"""
        return engine().remove_attachment(current_username(), attachment_id)

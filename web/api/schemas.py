"""Schemas that more than one resource module answers with: a task, a case, a stored file, an
attachment, and the one-field reason body."""

from __future__ import annotations

from marshmallow import Schema, fields

from .common import In


class HoldIn(In):
    reason = fields.String(load_default="")


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


class FileOut(Schema):
    """A stored file as the API describes it (never its bytes)."""

    id = fields.Integer()
    sha256 = fields.String()
    name = fields.String()
    size = fields.Integer()
    content_type = fields.String()


class AttachmentOut(FileOut):
    task = fields.String()
    case = fields.Integer()
    bound = fields.Boolean()

"""The village's books (三资台账): entries, receipts and their reversal, the contracts register."""

from __future__ import annotations

from flask import jsonify, request
from flask.views import MethodView
from marshmallow import Schema, fields

from ..auth import current_username, engine
from .common import BEARER, blp, created, int_arg, query_doc, raw_body
from .schemas import HoldIn


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


@blp.route("/villages/<string:code>/ledger")
class Ledger(MethodView):
    @blp.response(200, LedgerOut)
    @blp.doc(security=BEARER, parameters=query_doc(
        ("entity", "committee 或 cooperative"), ("from", "起始日期（含）"), ("to", "截止日期（含）"),
        ("limit", "每页条数（默认1000，最多5000）"), ("offset", "跳过条数")))
    def get(self, code):
        """本村账目（三资台账）：分录和收支合计"""
        user = current_username()
        return engine().ledger(user, code, entity=request.args.get("entity"), start=request.args.get("from"),
                               end=request.args.get("to"), limit=int_arg("limit", 1000, 5000),
                               offset=int_arg("offset", 0, 10**9))


@blp.route("/villages/<string:code>/ledger/receipts")
class LedgerReceipts(MethodView):
    @blp.response(201, LedgerEntryOut)
    @blp.doc(security=BEARER, **RECEIPT_DOC)
    def post(self, code):
        """登记收入（报账员、乡镇三资委托代理服务中心）"""
        user = current_username()
        return engine().add_receipt(user, code, raw_body())


@blp.route("/villages/<string:code>/contracts")
class Contracts(MethodView):
    @blp.doc(security=BEARER)
    def get(self, code):
        """合同台账（发包、租赁、承包）及应收、已收、应收未收"""
        return jsonify(engine().contracts(current_username(), code))

    @blp.doc(security=BEARER)
    def post(self, code):
        """登记合同（报账员、乡镇三资委托代理服务中心）：{entity, kind, subject, counterparty, starts_on, ends_on,
        amount（每期，两位小数的字符串）, every_months, account?, case?}"""
        user = current_username()
        return created(engine().add_contract(user, code, raw_body()))


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

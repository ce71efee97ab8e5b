"""The assets and resources register (资产/资源台账; issue 13, DOMAIN §3.3.4 and §4.1, R40).

A village registers what its two accounting entities (R41) hold: land and other natural
resources, buildings, equipment, facilities. The categories are those of the national
清产核资 (asset verification) and of 《中共中央 国务院关于稳步推进农村集体产权制度改革的意见》
(中发〔2016〕37号, 2016-12-26), which divides collective assets into three kinds:

* 资源性资产 (``resource``): land, forests, mountains, grassland, wasteland, beaches and other
  natural resources owned by the collective (民法典 第二百六十条(一));
* 经营性资产 (``operating``): buildings, structures, machinery and equipment, tools, farm
  infrastructure used to earn income, enterprises and shares the collective holds, intangibles;
* 非经营性资产 (``non_operating``): assets serving the public: education, science, culture,
  health, sports facilities (民法典 第二百六十条(三)).

(The 2017-2019 清产核资 reported the collective book assets split into exactly 经营性 and 非经营性
assets, with the land counted as resources: bjnews.com.cn/detail/159444644315404.html; a
provincial rule defining 农村集体资产 as 资源性资产、经营性资产和非经营性资产 is quoted at
glnlw.com/mingrenmingyan/d0ngc7ul4g.html.)

Values are money as people write it (``engine.domain.money.parse_amount``: ``"25万"``, ``"250,000"``),
kept as Decimal with two places; a resource may have no book value (land is not on the books).
The status (在用, 出租, 承包, 闲置, 处置) changes only by an event with its reason, by hand or by
the contract an asset-disposal case records (``record_disposal_contract``): never a silent edit.
A disposed asset stays in the register with its history, and changes no more.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ..domain.errors import Conflict, Invalid
from ..domain.money import AmountError, parse_amount
from ..store.models import Case, LedgerAsset, LedgerAssetEvent, LedgerContract, TaskRow, Village
from . import contract_register, ledger_chart

CATEGORIES: dict[str, str] = {"resource": "资源性资产", "operating": "经营性资产", "non_operating": "非经营性资产"}
STATUSES: dict[str, str] = {"in_use": "在用", "leased": "出租", "contracted": "承包", "idle": "闲置",
                            "disposed": "处置"}
#: The status a contract puts its asset in: let (租赁) → 出租, contracted out (发包/承包) → 承包,
#: sold or transferred (转让) → 处置.
STATUS_OF_KIND: dict[str, str] = {"lease": "leased", "contracting": "contracted", "outsourcing": "contracted",
                                  "transfer": "disposed"}
LABELS: dict[str, str] = {
    "entity": "核算主体", "category": "资产类别", "code": "登记编号", "name": "名称", "location": "坐落位置",
    "quantity": "面积（数量）", "unit": "计量单位", "original_value": "原值", "book_value": "账面价值",
    "acquired_on": "取得日期", "status": "状态", "note": "备注", "reason": "变更原因", "asset": "资产资源",
}
_QUANTITY = re.compile(r"\d{1,12}(\.\d{1,4})?")


def _text(data: dict, key: str, errors: dict, *, required: bool, max_len: int) -> str:
    value = data.get(key)
    label = LABELS[key]
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[key] = [f"请填写{label}"]
        return ""
    if not isinstance(value, str):
        errors[key] = [f"{label}须为文字"]
        return ""
    if len(value.strip()) > max_len:
        errors[key] = [f"{label}不能超过{max_len}字"]
    return value.strip()


def _money(data: dict, key: str, errors: dict) -> Decimal | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float):  # never a float for money (CONTRACT "The ledger")
        errors[key] = [f"{LABELS[key]}请写成文字金额，如 \"120000\" 或 \"12万\""]
        return None
    try:
        amount = parse_amount(value)
    except AmountError as exc:
        errors[key] = [f"{LABELS[key]}写法不对（{exc}）：请填写金额，如 120000、120,000.50 或 12万"]
        return None
    if amount > ledger_chart.MAX_AMOUNT:
        errors[key] = [f"{LABELS[key]}过大"]
        return None
    return amount


def _raise(errors: dict, what: str) -> None:
    if errors:
        names = "、".join(LABELS.get(k, k) for k in errors)
        raise Invalid(f"{what}有误（{names}）：{next(iter(errors.values()))[0]}", errors)


def validate_asset(data: dict, today: date) -> dict:
    """Every bad field at once (422), named in Chinese."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {}
    entity = data.get("entity")
    if not isinstance(entity, str) or entity not in ledger_chart.ENTITIES:
        errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
    values["entity"] = entity
    category = data.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        errors["category"] = ["资产类别只能是 resource（资源性资产）、operating（经营性资产）或 non_operating（非经营性资产）"]
    values["category"] = category
    values["code"] = _text(data, "code", errors, required=False, max_len=50)
    values["name"] = _text(data, "name", errors, required=True, max_len=200)
    values["location"] = _text(data, "location", errors, required=False, max_len=300)
    quantity = data.get("quantity")
    if isinstance(quantity, int) and not isinstance(quantity, bool):
        quantity = str(quantity)
    if not isinstance(quantity, str) or not _QUANTITY.fullmatch(quantity.strip()) or Decimal(quantity) <= 0:
        errors["quantity"] = ["面积（数量）须为大于0的数字，最多四位小数，如 20 或 3.5（单位另填）"]
        values["quantity"] = ""
    else:
        values["quantity"] = quantity.strip()
    values["unit"] = _text(data, "unit", errors, required=True, max_len=20)
    values["original_value"] = _money(data, "original_value", errors)
    values["book_value"] = _money(data, "book_value", errors)
    if category in ("operating", "non_operating"):
        for key in ("original_value", "book_value"):
            if values[key] is None and key not in errors:
                errors[key] = [f"{CATEGORIES[category]}须填写{LABELS[key]}（元）"]
    raw = data.get("acquired_on")
    values["acquired_on"] = None
    if raw not in (None, ""):
        try:
            values["acquired_on"] = ledger_chart.parse_date(raw, "acquired_on", "取得日期")
            if values["acquired_on"] > today:
                errors["acquired_on"] = [f"取得日期不能晚于今天（{today.isoformat()}）"]
        except Invalid as exc:
            errors.update(exc.fields)
    status = data.get("status", "in_use")
    if not isinstance(status, str) or status not in STATUSES or status == "disposed":
        errors["status"] = ["登记时的状态只能是 in_use（在用）、leased（出租）、contracted（承包）或 idle（闲置）"]
    values["status"] = status
    values["note"] = _text(data, "note", errors, required=False, max_len=2000)
    _raise(errors, "资产登记")
    return values


def validate_status(data: dict) -> dict:
    errors: dict[str, list[str]] = {}
    status = data.get("status")
    if not isinstance(status, str) or status not in STATUSES:
        errors["status"] = ["状态只能是 " + "、".join(f"{k}（{v}）" for k, v in STATUSES.items())]
    reason = _text(data, "reason", errors, required=True, max_len=500)
    _raise(errors, "状态变更")
    return {"status": status, "reason": reason}


# ------------------------------------------------------------------------------ JSON


def _value(amount: Decimal | None) -> str | None:
    return None if amount is None else ledger_chart.money(amount)


def asset_json(a: LedgerAsset, contracts: list[int] | None = None) -> dict:
    return {"id": a.id, "entity": a.entity, "entity_name": ledger_chart.ENTITIES.get(a.entity, a.entity),
            "category": a.category, "category_name": CATEGORIES.get(a.category, a.category), "code": a.code,
            "name": a.name, "location": a.location, "quantity": a.quantity, "unit": a.unit,
            "original_value": _value(a.original_value), "book_value": _value(a.book_value),
            "acquired_on": a.acquired_on.isoformat() if a.acquired_on else None, "status": a.status,
            "status_name": STATUSES.get(a.status, a.status), "note": a.note, "contracts": contracts or [],
            "registered_by": a.created_by_name, "registered_at": a.created_at.astimezone(UTC).isoformat()}


def event_json(e: LedgerAssetEvent) -> dict:
    return {"at": e.at.astimezone(UTC).isoformat(), "from": e.status_from, "to": e.status_to,
            "from_name": STATUSES.get(e.status_from or "", ""), "to_name": STATUSES.get(e.status_to, e.status_to),
            "reason": e.reason, "case": e.case_id, "contract": e.contract_id, "by": e.by_name}


def contracts_of(session: Session, asset_ids: list[int]) -> dict[int, list[int]]:
    if not asset_ids:
        return {}
    out: dict[int, list[int]] = {}
    for cid, aid in session.execute(select(LedgerContract.id, LedgerContract.asset_id).where(
            LedgerContract.asset_id.in_(asset_ids)).order_by(LedgerContract.id)):
        out.setdefault(aid, []).append(cid)
    return out


def query(village: Village, *, entity: str | None, category: str | None, status: str | None, q: str | None,
          base=None):
    stmt = (base if base is not None else select(LedgerAsset)).where(LedgerAsset.village_id == village.id)
    if entity:
        stmt = stmt.where(LedgerAsset.entity == entity)
    if category:
        stmt = stmt.where(LedgerAsset.category == category)
    if status:
        stmt = stmt.where(LedgerAsset.status == status)
    if q:
        like = f"%{q.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(or_(LedgerAsset.name.like(like), LedgerAsset.code.like(like), LedgerAsset.location.like(like)))
    return stmt


def check_filters(entity, category, status) -> None:
    errors: dict[str, list[str]] = {}
    if entity not in (None, "") and entity not in ledger_chart.ENTITIES:
        errors["entity"] = ["核算主体只能是 committee（村民委员会）或 cooperative（村集体经济组织）"]
    if category not in (None, "") and category not in CATEGORIES:
        errors["category"] = ["资产类别只能是 " + "、".join(f"{k}（{v}）" for k, v in CATEGORIES.items())]
    if status not in (None, "") and status not in STATUSES:
        errors["status"] = ["状态只能是 " + "、".join(f"{k}（{v}）" for k, v in STATUSES.items())]
    if errors:
        raise Invalid("查询条件有误：" + next(iter(errors.values()))[0], errors)


# ------------------------------------------------------------------------------ status changes


def change_status(session: Session, asset: LedgerAsset, status: str, *, reason: str, by: str, now: datetime,
                  case_id: int | None = None, contract_id: int | None = None) -> LedgerAssetEvent:
    """The only way an asset's status changes: an event row with the reason, in this transaction."""
    if asset.status == "disposed":
        raise Conflict(f"资产资源“{asset.name}”已处置，状态不能再变更")
    if status == asset.status and contract_id is None:
        message = f"资产资源“{asset.name}”的状态已是{STATUSES[status]}"
        raise Invalid(message, {"status": [message]})
    event = LedgerAssetEvent(asset_id=asset.id, at=now, status_from=asset.status, status_to=status, reason=reason,
                             case_id=case_id, contract_id=contract_id, by_name=by)
    asset.status = status
    session.add(event)
    session.flush()
    return event


def locked_asset(session: Session, village: Village, asset_id: Any, field_name: str = "asset") -> LedgerAsset:
    """The village's asset ``asset_id``, locked for this transaction on PostgreSQL (two cases
    disposing of one asset at once take turns); 422 on ``field_name`` if there is none."""
    asset = None
    if isinstance(asset_id, int) and not isinstance(asset_id, bool) and 0 < asset_id < 2**31:
        stmt = select(LedgerAsset).where(LedgerAsset.id == asset_id)
        if session.bind.dialect.name == "postgresql":
            stmt = stmt.with_for_update()
        asset = session.scalar(stmt)
    if asset is None or asset.village_id != village.id:
        message = f"本村资产资源台账中没有编号为{asset_id}的资产资源"
        raise Invalid(message, {field_name: [message]})
    return asset


# ------------------------------------------------------------------------------ asset-disposal contracts (R40)


def record_disposal_contract(session: Session, case: Case, row: TaskRow, values: dict, *, by: str,
                             now: datetime) -> LedgerContract:
    """R40 (DOMAIN §3.3.4 "Contract & filing"): the contract an asset-disposal case signs enters
    the contracts register in the transaction of the step that records it, linked to the case
    and to the asset, whose status follows (出租, 承包 or 处置). The step done again (the
    supervisors returned the contract) corrects the same register row, so a case has exactly
    one contract; the correction is in the audit trail with the earlier terms."""
    earlier = session.scalar(select(LedgerContract).where(
        LedgerContract.case_id == case.id, LedgerContract.task_id.in_(
            select(TaskRow.id).where(TaskRow.case_id == case.id, TaskRow.name == row.name))))
    kind = values["kind"]
    terms = {"village_id": case.village_id, "entity": values["entity"], "kind": kind,
             "subject": values["subject"][:300], "counterparty": values["counterparty"][:200],
             "starts_on": values["starts_on"], "ends_on": values["ends_on"], "amount": values["period_amount"],
             "every_months": values["every_months"], "account": values.get("account") or "经营收入",
             "case_id": case.id, "asset_id": values.get("asset_id")}
    if earlier is not None:
        previous_asset = earlier.asset_id
        for key, value in terms.items():
            setattr(earlier, key, value)
        earlier.task_id = row.id
        contract = earlier
        if previous_asset is not None and previous_asset != contract.asset_id:
            _undo_contract_status(session, previous_asset, contract, by=by, now=now)
    else:
        contract = LedgerContract(**terms, task_id=row.id, created_at=now, created_by_name=by)
        session.add(contract)
    session.flush()
    if contract.asset_id is not None:
        village = session.get(Village, case.village_id)
        asset = locked_asset(session, village, contract.asset_id, "asset_no")
        target = STATUS_OF_KIND[kind]
        already = session.scalar(select(LedgerAssetEvent.id).where(
            LedgerAssetEvent.asset_id == asset.id, LedgerAssetEvent.contract_id == contract.id,
            LedgerAssetEvent.status_to == target))
        if already is None or asset.status != target:
            if asset.status == "disposed":
                message = f"资产资源“{asset.name}”已处置，不能再签订合同"
                raise Invalid(message, {"asset_no": [message]})
            change_status(session, asset, target, reason=f"事项{case.id}“{case.title}”签订{contract_kind_name(kind)}"
                                                         f"合同（合同{contract.id}，{contract.counterparty}）",
                          by=by, now=now, case_id=case.id, contract_id=contract.id)
    return contract


def _undo_contract_status(session: Session, asset_id: int, contract: LedgerContract, *, by: str,
                          now: datetime) -> None:
    """The corrected contract names another asset: the first one goes back to the status it had."""
    event = session.scalar(select(LedgerAssetEvent).where(
        LedgerAssetEvent.asset_id == asset_id, LedgerAssetEvent.contract_id == contract.id)
        .order_by(LedgerAssetEvent.id.desc()).limit(1))
    asset = session.get(LedgerAsset, asset_id)
    if event is not None and asset is not None and event.status_from and asset.status == event.status_to:
        session.add(LedgerAssetEvent(asset_id=asset.id, at=now, status_from=event.status_to,
                                     status_to=event.status_from, reason=f"合同{contract.id}更正为其他资产资源，恢复原状态",
                                     case_id=contract.case_id, contract_id=contract.id, by_name=by))
        asset.status = event.status_from


def contract_kind_name(kind: str) -> str:
    return {**contract_register.CONTRACT_KINDS, "transfer": "转让"}.get(kind, kind)


def totals(session: Session, village: Village, **filters) -> dict:
    """Count and value sums of the filtered register, in SQL, exact (NUMERIC / fen)."""
    row = session.execute(query(village, **filters, base=select(
        func.count(LedgerAsset.id), func.sum(LedgerAsset.original_value), func.sum(LedgerAsset.book_value)))).one()
    return {"count": row[0] or 0, "original_value": ledger_chart.money(row[1]), "book_value": ledger_chart.money(row[2])}


# ------------------------------------------------------------------------------ cunwu doctor


def doctor(session: Session) -> list[str]:
    """The register agrees with its history and with the cases (``cunwu doctor``): every asset's
    status is the one its newest event recorded (a status changed without an event is a silent
    edit), and every asset-disposal case whose contract step was completed has exactly one
    register contract, written by its newest contract step, with that step's amount per period."""
    problems: list[str] = []
    newest: dict[int, LedgerAssetEvent] = {}
    for event in session.scalars(select(LedgerAssetEvent).order_by(LedgerAssetEvent.id)):
        newest[event.asset_id] = event
    for asset in session.scalars(select(LedgerAsset).order_by(LedgerAsset.id)):
        event = newest.get(asset.id)
        if event is None:
            problems.append(f"资产资源{asset.id}“{asset.name}”没有登记记录")
        elif event.status_to != asset.status:
            problems.append(f"资产资源{asset.id}“{asset.name}”的状态为{STATUSES.get(asset.status, asset.status)}，"
                            f"但变更记录的最后一次是{STATUSES.get(event.status_to, event.status_to)}（状态被直接改动）")
    steps: dict[int, TaskRow] = {}
    for row in session.scalars(select(TaskRow).where(TaskRow.form == "disposal_contract", TaskRow.state == "completed")
                               .order_by(TaskRow.completed_at)):
        steps[row.case_id] = row  # the newest completed contract step of each case
    written: dict[int, list[LedgerContract]] = {}
    for contract in session.scalars(select(LedgerContract).where(LedgerContract.task_id.is_not(None))):
        written.setdefault(contract.case_id, []).append(contract)
    for case_id, row in steps.items():
        rows = written.pop(case_id, [])
        if len(rows) != 1:
            problems.append(f"事项{case_id}“{row.title}”应有且只有一份合同台账记录，现有{len(rows)}份")
            continue
        contract, data = rows[0], row.data or {}
        if contract.task_id != row.id or ledger_chart.money(contract.amount) != ledger_chart.money(
                Decimal(str(data.get("period_amount", "0")))):
            problems.append(f"事项{case_id}的合同台账记录{contract.id}与“{row.title}”的记录不一致")
    for case_id, rows in written.items():
        problems.append(f"合同台账记录{rows[0].id}记为事项{case_id}签订，但该事项没有办结的签订合同环节")
    return problems

"""资产资源台账 and 合同台账 (三资; issue 13): the register of a village's assets and resources
with filters, registration and status changes for the 报账员 and the township agency (on a
phone too), its Excel and CSV export, and the contracts register with what is due and unpaid.
The engine owns every rule (engine/records/assets.py, engine/services/assets.py)."""

from __future__ import annotations

from decimal import Decimal

from flask import flash, redirect, render_template, request, url_for

from engine.domain.errors import Invalid
from engine.records import assets as register
from engine.records import contract_register, ledger_chart

from .common import bp, engine, login_required, me, username
from .exports import Sheet, csv_response, xlsx_response
from .ledger import BOOKKEEPERS, submit, village_code

FIELDS = ("entity", "category", "code", "name", "location", "quantity", "unit", "original_value", "book_value",
          "acquired_on", "status", "note")
FILTERS = ("entity", "category", "status", "q")
MONEY_COLUMNS = (8, 9)  # 原值, 账面价值 in the export (the quantity, column 6, is a number but not money)


@bp.app_template_filter("figures")
def figures(value) -> str:
    """``"412500.50"`` → ``412,500.50`` (exact: from the Decimal string, never a float)."""
    from engine.domain.money import figures as fmt

    return fmt(value) if value not in (None, "") else "—"


def _context(code: str) -> dict:
    profile = me() or {}
    village = next((v for v in profile.get("villages") or [] if v["code"] == code), {"code": code, "name": code})
    return {"village": village, "villages": profile.get("villages") or [],
            "may_write": bool(set(profile.get("roles") or []) & set(BOOKKEEPERS)),
            "entities": ledger_chart.ENTITIES, "categories": register.CATEGORIES, "statuses": register.STATUSES}


def _filters() -> dict:
    return {k: (request.args.get(k) or "").strip() or None for k in FILTERS}


@bp.route("/assets", methods=["GET", "POST"])
@login_required
def assets_page():
    code = village_code("您没有可查看资产资源台账的村")
    form, errors, asset = submit(FIELDS, lambda data: engine().add_asset(username(), code, data))
    if asset is not None:
        flash(f"已登记资产资源“{asset['name']}”（编号{asset['id']}）。")
        return redirect(url_for("web.assets_page", village=code))
    filters = _filters()
    try:
        data = engine().assets(username(), code, **filters)
    except Invalid as exc:
        flash(exc.message, "error")
        filters = {}
        data = engine().assets(username(), code)
    return render_template("assets.html", data=data, form=form, errors=errors, args=filters,
                           **_context(code)), (422 if errors else 200)


@bp.route("/assets/<int:asset_id>", methods=["GET", "POST"])
@login_required
def asset_page(asset_id: int):
    code = village_code("您没有可查看资产资源台账的村")
    form, errors, changed = submit(("status", "reason"),
                                   lambda data: engine().change_asset_status(username(), code, asset_id, data))
    if changed is not None:
        flash("状态已变更，已记入变更记录。")
        return redirect(url_for("web.asset_page", asset_id=asset_id, village=code))
    asset = engine().asset(username(), code, asset_id)
    return render_template("asset.html", asset=asset, form=form, errors=errors, kinds=contract_register.CONTRACT_KINDS,
                           **_context(code)), (422 if errors else 200)


def _export_rows(code: str) -> tuple[dict, list[str], list[list]]:
    data = engine().assets(username(), code, **_filters())
    head = ["编号", "登记编号", "核算主体", "资产类别", "名称", "坐落位置", "面积（数量）", "计量单位", "原值（元）",
            "账面价值（元）", "取得日期", "状态", "关联合同", "备注"]
    rows = [[a["id"], a["code"], a["entity_name"], a["category_name"], a["name"], a["location"],
             Decimal(a["quantity"]), a["unit"],
             Decimal(a["original_value"]) if a["original_value"] is not None else None,
             Decimal(a["book_value"]) if a["book_value"] is not None else None,
             a["acquired_on"] or "", a["status_name"], "、".join(f"合同{c}" for c in a["contracts"]), a["note"]]
            for a in data["assets"]]
    return data, head, rows


def _disposition(data: dict, ext: str) -> str:
    from urllib.parse import quote

    stamp = ledger_chart.local_today(engine().now()).strftime("%Y%m%d")
    name = f"{data['village_name']}资产资源台账-{stamp}.{ext}"
    return f"attachment; filename=assets-{data['village']}-{stamp}.{ext}; filename*=UTF-8''{quote(name)}"


@bp.route("/assets/export.csv")
@login_required
def assets_csv():
    """资产资源台账 as CSV (UTF-8 with a BOM for Excel; formula-like text written as text)."""
    code = village_code("您没有可查看资产资源台账的村")
    data, head, rows = _export_rows(code)
    rows = [[("" if v is None else (f"{v:.2f}" if i in MONEY_COLUMNS else str(v))) for i, v in enumerate(r)]
            for r in rows]
    rows.append(["", "", "", "", "合计", "", "", "", data["totals"]["original_value"], data["totals"]["book_value"],
                 "", "", "", ""])
    return csv_response(head, [rows], _disposition(data, "csv"))


@bp.route("/assets/export.xlsx")
@login_required
def assets_xlsx():
    """资产资源台账 as Excel: values are number cells with two places, never floats written as text."""
    code = village_code("您没有可查看资产资源台账的村")
    data, head, rows = _export_rows(code)
    rows.append(["", "", "", "", "合计", "", None, "", Decimal(data["totals"]["original_value"]),
                 Decimal(data["totals"]["book_value"]), "", "", "", ""])
    sheet = Sheet("资产资源台账", head, rows, caption=([f"{data['village_name']}资产资源台账"],),
                  money_columns=MONEY_COLUMNS, widths=(6, 12, 14, 12, 24, 24, 12, 10, 16, 16, 12, 8, 14, 30))
    return xlsx_response([sheet], _disposition(data, "xlsx"))


@bp.route("/contracts")
@login_required
def contracts_page():
    """合同台账: each contract with what is due, received and 应收未收 today."""
    code = village_code("您没有可查看合同台账的村")
    rows = engine().contracts(username(), code)
    outstanding = sum((Decimal(c["receivable"]["outstanding"]) for c in rows), Decimal("0.00"))
    return render_template("contracts.html", rows=rows, outstanding=ledger_chart.money(outstanding), **_context(code))

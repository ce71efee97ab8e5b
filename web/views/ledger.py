"""账目 (三资, 村财乡管; issue 13): a village's ledger with filters and totals, and the receipt
form for the 报账员 and the township agency (on a phone too). The engine owns every rule; the
page only asks it (engine/services/ledger.py)."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for

from engine.domain.errors import Conflict, Forbidden, Invalid
from engine.records import ledger_chart

from .common import acting_village, bp, engine, login_required, me, username
from .exports import Sheet, xlsx_response

BOOKKEEPERS = ("accountant", "agency_accountant")


def village_code(refusal: str) -> str:
    """The village whose books are asked for (``?village=``, the acting one, or the first of mine);
    403 with ``refusal`` when I have none."""
    code = request.values.get("village") or acting_village()
    villages = (me() or {}).get("villages") or []
    if not code and villages:
        code = villages[0]["code"]
    if code is None:
        raise Forbidden(refusal)
    return code


def submit(names: tuple[str, ...], call: Callable[[dict], dict]) -> tuple[dict, dict, dict | None]:
    """A register's form: on POST its fields (stripped), the filled ones given to ``call``; a refusal
    (422 with the fields' errors, or 409) is flashed. Returns ``(form, errors, what call returned)``,
    the last None unless it was posted and taken."""
    if request.method != "POST":
        return {}, {}, None
    form = {k: request.form.get(k, "").strip() for k in names}
    try:
        return form, {}, call({k: v for k, v in form.items() if v != ""})
    except Invalid as exc:
        flash(exc.message, "error")
        return form, exc.fields, None
    except Conflict as exc:
        flash(exc.message, "error")
        return form, {}, None


RECEIPT_FIELDS = ("received_on", "entity", "amount", "account", "summary", "counterparty", "voucher")


@bp.route("/ledger", methods=["GET", "POST"])
@login_required
def ledger_page():
    code = village_code("您没有可查看账目的村")
    form, errors, entry = submit(RECEIPT_FIELDS, lambda data: engine().add_receipt(username(), code, data))
    if entry is not None:
        flash(f"已登记收入 {entry['amount']} 元（分录{entry['id']}）。")
        return redirect(url_for("web.ledger_page", village=code))
    args = request.args
    try:
        data = engine().ledger(username(), code, entity=args.get("entity") or None, start=args.get("from") or None,
                               end=args.get("to") or None, limit=500,
                               offset=max(0, int(args.get("offset") or 0)) if (args.get("offset") or "0").isdigit() else 0)
    except Invalid as exc:
        flash(exc.message, "error")
        data = engine().ledger(username(), code)
    profile = me() or {}
    village = next((v for v in profile.get("villages") or [] if v["code"] == code), {"code": code, "name": code})
    may_write = bool(set(profile.get("roles") or []) & set(BOOKKEEPERS))
    shown = data["offset"] + len(data["entries"])
    next_url = url_for("web.ledger_page", village=code, **{k: args[k] for k in ("entity", "from", "to") if args.get(k)},
                       offset=shown) if data["count"] > shown else None
    return render_template("ledger.html", data=data, village=village, villages=profile.get("villages") or [],
                           entities=ledger_chart.ENTITIES, accounts=[a for a, (kind, _) in ledger_chart.CHART.items() if kind != "out"],
                           may_write=may_write, form=form, errors=errors, args=args, next_url=next_url), \
        (422 if errors else 200)


DESK_ROLES = ("township_official", "discipline_inspector", "agency_accountant", "county_inspector", "admin")


@bp.route("/ledger/overview")
@login_required
def ledger_overview():
    """乡镇、县的账目汇总: per village income, spending, balance, payments waiting for the agency,
    财务公开 not yet posted."""
    profile = me() or {}
    if not set(profile.get("roles") or []) & set(DESK_ROLES):
        raise Forbidden("账目汇总仅供乡镇、县级人员使用")
    rows = engine().ledger_overview(username())
    return render_template("ledger_overview.html", rows=rows)


@bp.route("/ledger/statement.xlsx")
@login_required
def ledger_statement_xlsx():
    """村级财务公开表 as Excel: one sheet per accounting entity, amounts as number cells."""
    from urllib.parse import quote

    code = village_code("您没有可查看账目的村")
    st = engine().finance_statement(username(), code, request.args.get("period") or None)
    sheets = []
    for e in st.entities:
        rows = [["期初余额", e["opening"]]]
        rows += [[f"收入：{a}", t] for a, t in e["income"]] + [["本期收入合计", e["in"]]]
        rows += [[f"支出：{a}", t] for a, t in e["spending"]] + [["本期支出合计", e["out"]]]
        rows += [["期末余额", e["closing"]]]
        if e["large"]:
            rows += [[], ["大额收支明细（日期、收支、摘要、对方）", "金额"]]
            rows += [[f"{x['date']} {'收入' if x['direction'] == 'in' else '支出'} {x['summary']}"
                      + (f"（{x['counterparty']}）" if x["counterparty"] else ""), x["amount"]] for x in e["large"]]
        caption = ([f"{st.village}{st.period.title}财务公开表（{e['name']}）"],
                   [f"期间：{st.period.start.isoformat()}至{st.period.end.isoformat()}", "单位：元"])
        sheets.append(Sheet(e["name"], ["项目", "金额"], rows, caption=caption, widths=(60, 18), freeze=False))
    name = f"{st.village}{st.period.title}财务公开表.xlsx"
    return xlsx_response(sheets, f"attachment; filename=statement-{code}-{st.period.key}.xlsx; "
                                 f"filename*=UTF-8''{quote(name)}")
